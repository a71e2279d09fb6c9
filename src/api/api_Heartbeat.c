/* api_Heartbeat: Heartbeat v0-3 through gc_heartbeat. */
#include "api/api_group_int.h"

void api_handle_Heartbeat(api_call_t *call) {
    const kp_HeartbeatRequest_t *rq = call->body;
    gcb_t *g = call->ctx->groups;
    kp_HeartbeatResponse_t resp;
    kp_init_HeartbeatResponse(&resp);
    kp_err_t err = gcb_prepare(g, rq->group_id);
    if (err == KP_ERR_NONE) {
        err = gc_heartbeat(gcb_gc(g), rq->group_id, rq->generation_id,
                           rq->member_id ? rq->member_id : "",
                           call->version >= 3 ? rq->group_instance_id : NULL);
    }
    resp.error_code = (int16_t)err;
    api_respond(call, &resp);
}
