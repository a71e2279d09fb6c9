/*
 * api_DeleteGroups: DeleteGroups v0-1: each group is deleted by gc_delete_group on the
 * coordinator that owns it (Kafka's GroupCoordinator.handleDeleteGroups): one error per
 * group (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, GROUP_ID_NOT_FOUND,
 * NON_EMPTY_GROUP, INVALID_GROUP_ID or NONE); an empty group's offsets and metadata get
 * tombstones in __consumer_offsets.
 */
#include "api/api_group_int.h"

void api_handle_DeleteGroups(api_call_t *call) {
    const kp_DeleteGroupsRequest_t *rq = call->body;
    gcb_t *g = call->ctx->groups;
    kp_DeleteGroupsResponse_t resp;
    kp_init_DeleteGroupsResponse(&resp);
    resp.throttle_time_ms = 0;
    size_t n = rq->n_groups_names > 0 ? (size_t)rq->n_groups_names : 0;
    resp.n_results = (int32_t)n;
    resp.results = api_alloc(call, n * sizeof(*resp.results));
    for (size_t i = 0; i < n; i++) {
        const char *id = rq->groups_names[i];
        kp_DeleteGroupsResponse_DeletableGroupResult_t *r = &resp.results[i];
        kp_init_DeleteGroupsResponse_DeletableGroupResult(r);
        r->group_id = (char *)(id ? id : "");
        kp_err_t err = (id && *id) ? gcb_prepare(g, id) : KP_ERR_INVALID_GROUP_ID;
        if (err == KP_ERR_NONE) {
            err = gc_delete_group(gcb_gc(g), id);
        }
        r->error_code = (int16_t)err;
    }
    api_respond(call, &resp);
}
