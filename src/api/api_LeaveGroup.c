/*
 * api_LeaveGroup: LeaveGroup v0-3. v0-2 carry one member_id and answer its error at the
 * top level; v3 (KIP-345) carries a batch of members (static ones by instance id) and
 * answers per member.
 */
#include "api/api_group_int.h"

void api_handle_LeaveGroup(api_call_t *call) {
    const kp_LeaveGroupRequest_t *rq = call->body;
    gcb_t *g = call->ctx->groups;
    kp_LeaveGroupResponse_t resp;
    kp_init_LeaveGroupResponse(&resp);
    size_t n;
    gc_leave_member_t *ms;
    if (call->version < 3) {
        n = 1;
        ms = api_alloc(call, sizeof(*ms));
        ms[0].member_id = rq->member_id ? rq->member_id : "";
        ms[0].group_instance_id = NULL;
    } else {
        n = rq->n_members > 0 ? (size_t)rq->n_members : 0;
        ms = api_alloc(call, n * sizeof(*ms));
        for (size_t i = 0; i < n; i++) {
            ms[i].member_id = rq->members[i].member_id ? rq->members[i].member_id : "";
            ms[i].group_instance_id = rq->members[i].group_instance_id;
        }
    }
    kp_err_t err = gcb_prepare(g, rq->group_id);
    if (err == KP_ERR_NONE) {
        err = gc_leave(gcb_gc(g), rq->group_id, ms, n);
    }
    if (call->version < 3) {
        resp.error_code = (int16_t)(err != KP_ERR_NONE ? err : ms[0].error);
    } else {
        resp.error_code = (int16_t)err;
        if (err == KP_ERR_NONE) {
            resp.n_members = (int32_t)n;
            resp.members = api_alloc(call, n * sizeof(*resp.members));
            for (size_t i = 0; i < n; i++) {
                kp_init_LeaveGroupResponse_MemberResponse(&resp.members[i]);
                resp.members[i].member_id = (char *)ms[i].member_id;
                resp.members[i].group_instance_id = (char *)ms[i].group_instance_id;
                resp.members[i].error_code = (int16_t)ms[i].error;
            }
        } else {
            resp.n_members = 0;
            resp.members = NULL;
        }
    }
    api_respond(call, &resp);
}
