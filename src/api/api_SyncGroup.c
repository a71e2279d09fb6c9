/*
 * api_SyncGroup: SyncGroup v0-3 through gc_sync. The response is sent from the
 * coordinator's callback: followers wait for the leader's assignment, and everyone
 * (leader included) until the group record holding it is stored in __consumer_offsets
 * (acks=-1), or gets the mapped store error, as Kafka's doSyncGroup.
 */
#include "api/api_group_int.h"

static void on_sync(void *arg, const gc_sync_result_t *r) {
    api_call_t *call = arg;
    kp_SyncGroupResponse_t resp;
    kp_init_SyncGroupResponse(&resp);
    resp.error_code = (int16_t)r->error;
    resp.protocol_type = api_strdup(call, r->protocol_type);
    resp.protocol_name = api_strdup(call, r->protocol_name);
    resp.assignment = api_bytes_copy(call, r->assignment, r->assignment ? r->len : 0);
    api_respond(call, &resp);
}

void api_handle_SyncGroup(api_call_t *call) {
    const kp_SyncGroupRequest_t *rq = call->body;
    gcb_t *g = call->ctx->groups;
    kp_err_t err = gcb_prepare(g, rq->group_id);
    if (err != KP_ERR_NONE) {
        gc_sync_result_t res;
        memset(&res, 0, sizeof(res));
        res.error = err;
        on_sync(call, &res);
        return;
    }
    size_t n = rq->n_assignments > 0 ? (size_t)rq->n_assignments : 0;
    gc_assignment_t *a = api_alloc(call, n * sizeof(*a));
    for (size_t i = 0; i < n; i++) {
        a[i].member_id = rq->assignments[i].member_id ? rq->assignments[i].member_id : "";
        a[i].data = rq->assignments[i].assignment.data;
        a[i].len =
            rq->assignments[i].assignment.len > 0 ? (size_t)rq->assignments[i].assignment.len : 0;
    }
    gc_sync_req_t r;
    memset(&r, 0, sizeof(r));
    r.group_id = rq->group_id;
    r.generation_id = rq->generation_id;
    r.member_id = rq->member_id ? rq->member_id : "";
    r.group_instance_id = call->version >= 3 ? rq->group_instance_id : NULL;
    r.assignments = a;
    r.nassignments = n;
    gc_sync(gcb_gc(g), &r, on_sync, call);
}
