/*
 * api_FindCoordinator: FindCoordinator v0-2. The coordinator of a group is the leader of
 * __consumer_offsets partition abs(hash(group)) % offsets.topic.num.partitions; the
 * first request creates the topic (COORDINATOR_NOT_AVAILABLE until it has leaders).
 * Transaction coordinators (key_type 1) do not exist here: COORDINATOR_NOT_AVAILABLE.
 */
#include "api/api_group_int.h"

void api_handle_FindCoordinator(api_call_t *call) {
    const kp_FindCoordinatorRequest_t *rq = call->body;
    kp_FindCoordinatorResponse_t resp;
    kp_init_FindCoordinatorResponse(&resp);
    int32_t node = -1, port = -1;
    const char *host = "";
    kp_err_t err;
    if (rq->key_type != 0) {
        err = KP_ERR_COORDINATOR_NOT_AVAILABLE;
    } else {
        err = gcb_find_coordinator(call->ctx->groups, rq->key ? rq->key : "", &node, &host, &port);
    }
    resp.error_code = (int16_t)err;
    resp.error_message = err != KP_ERR_NONE ? (char *)kp_err_name(err) : NULL;
    resp.node_id = node;
    resp.host = (char *)host;
    resp.port = port;
    api_respond(call, &resp);
}
