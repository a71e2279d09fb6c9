/* api_ListGroups: ListGroups v0-2: the groups of every partition this broker coordinates. */
#include "api/api_group_int.h"

typedef struct lg_ctx {
    api_call_t *call;
    kp_ListGroupsResponse_t *resp;
    int32_t cap;
} lg_ctx_t;

static void on_group(void *arg, const char *id, const char *type, gc_state_t state) {
    lg_ctx_t *c = arg;
    kp_ListGroupsResponse_t *r = c->resp;
    if (r->n_groups == c->cap) {
        int32_t ncap = c->cap ? c->cap * 2 : 16;
        kp_ListGroupsResponse_ListedGroup_t *ng = api_alloc(c->call, (size_t)ncap * sizeof(*ng));
        if (r->n_groups) {
            memcpy(ng, r->groups, (size_t)r->n_groups * sizeof(*ng));
        }
        r->groups = ng;
        c->cap = ncap;
    }
    kp_ListGroupsResponse_ListedGroup_t *o = &r->groups[r->n_groups++];
    kp_init_ListGroupsResponse_ListedGroup(o);
    o->group_id = api_strdup(c->call, id);
    o->protocol_type = api_strdup(c->call, type);
    o->group_state = (char *)gc_state_name(state);
}

void api_handle_ListGroups(api_call_t *call) {
    gcb_t *g = call->ctx->groups;
    kp_ListGroupsResponse_t resp;
    kp_init_ListGroupsResponse(&resp);
    resp.n_groups = 0;
    resp.groups = NULL;
    /* Kafka answers the groups it has with COORDINATOR_LOAD_IN_PROGRESS while any of its
     * partitions is loading (the client retries for a complete list). */
    kp_err_t err = gcb_prepare_all(g);
    lg_ctx_t c = {call, &resp, 0};
    gc_list(gcb_gc(g), on_group, &c);
    resp.error_code = (int16_t)err;
    api_respond(call, &resp);
}
