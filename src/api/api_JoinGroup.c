/*
 * api_JoinGroup: JoinGroup v0-5 through the group coordinator (gc_join). The response
 * is sent when the coordinator calls back: at once for errors and MEMBER_ID_REQUIRED
 * (v4+), when the rebalance completes, or (a static member rejoining a Stable group under
 * a new member id) once the group record naming it is stored. Only the leader gets the
 * member list.
 */
#include "api/api_group_int.h"

static void on_join(void *arg, const gc_join_result_t *r) {
    api_call_t *call = arg;
    kp_JoinGroupResponse_t resp;
    kp_init_JoinGroupResponse(&resp);
    resp.error_code = (int16_t)r->error;
    resp.generation_id = r->generation_id;
    resp.protocol_type = api_strdup(call, r->protocol_type);
    resp.protocol_name = api_strdup(call, r->protocol_name ? r->protocol_name : "");
    resp.leader = api_strdup(call, r->leader ? r->leader : "");
    resp.member_id = api_strdup(call, r->member_id ? r->member_id : "");
    resp.n_members = (int32_t)r->nmembers;
    resp.members = api_alloc(call, r->nmembers * sizeof(*resp.members));
    for (size_t i = 0; i < r->nmembers; i++) {
        kp_JoinGroupResponse_JoinGroupResponseMember_t *m = &resp.members[i];
        kp_init_JoinGroupResponse_JoinGroupResponseMember(m);
        m->member_id = api_strdup(call, r->members[i].member_id);
        m->group_instance_id = api_strdup(call, r->members[i].group_instance_id);
        m->metadata = api_bytes_copy(call, r->members[i].metadata, r->members[i].len);
    }
    api_respond(call, &resp);
}

void api_handle_JoinGroup(api_call_t *call) {
    const kp_JoinGroupRequest_t *rq = call->body;
    gcb_t *g = call->ctx->groups;
    gc_join_req_t r;
    memset(&r, 0, sizeof(r));
    r.group_id = rq->group_id;
    r.member_id = rq->member_id ? rq->member_id : "";
    r.group_instance_id = call->version >= 5 ? rq->group_instance_id : NULL;
    r.protocol_type = rq->protocol_type;
    size_t n = rq->n_protocols > 0 ? (size_t)rq->n_protocols : 0;
    gc_protocol_t *protos = api_alloc(call, n * sizeof(*protos));
    for (size_t i = 0; i < n; i++) {
        protos[i].name = rq->protocols[i].name ? rq->protocols[i].name : "";
        protos[i].metadata = rq->protocols[i].metadata.data;
        protos[i].len =
            rq->protocols[i].metadata.len > 0 ? (size_t)rq->protocols[i].metadata.len : 0;
    }
    r.protocols = protos;
    r.nprotocols = n;
    r.session_timeout_ms = rq->session_timeout_ms;
    r.rebalance_timeout_ms = call->version >= 1 ? rq->rebalance_timeout_ms : -1;
    r.client_id = call->hdr.client_id ? call->hdr.client_id : "";
    r.client_host = api_client_host(call);
    r.version = call->version;
    kp_err_t err = gcb_prepare(g, rq->group_id);
    if (err != KP_ERR_NONE) {
        gc_join_result_t res;
        memset(&res, 0, sizeof(res));
        res.error = err;
        res.generation_id = -1;
        res.member_id = r.member_id;
        on_join(call, &res);
        return;
    }
    gc_join(gcb_gc(g), &r, on_join, call);
}
