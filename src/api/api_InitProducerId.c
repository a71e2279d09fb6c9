/*
 * api_InitProducerId: InitProducerId v0-1 for idempotent producers: a new producer id
 * from this broker's block (claimed in coord, unique across brokers and restarts) with
 * epoch 0. Transactions are not implemented: a transactional id is INVALID_REQUEST.
 */
#include "api/api_group_int.h"

static void on_pid(void *arg, kp_err_t err, int64_t pid, int16_t epoch) {
    api_call_t *call = arg;
    kp_InitProducerIdResponse_t resp;
    kp_init_InitProducerIdResponse(&resp);
    resp.error_code = (int16_t)err;
    resp.producer_id = err == KP_ERR_NONE ? pid : -1;
    resp.producer_epoch = err == KP_ERR_NONE ? epoch : -1;
    api_respond(call, &resp);
}

void api_handle_InitProducerId(api_call_t *call) {
    const kp_InitProducerIdRequest_t *rq = call->body;
    if (rq->transactional_id != NULL) {
        on_pid(call, KP_ERR_INVALID_REQUEST, -1, -1);
        return;
    }
    gcb_init_producer_id(call->ctx->groups, on_pid, call);
}
