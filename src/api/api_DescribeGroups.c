/*
 * api_DescribeGroups: DescribeGroups v0-4 through gc_describe. An unknown group is
 * answered with state "Dead" and no error, as Kafka; member metadata and assignment
 * are only filled for a Stable group.
 */
#include "api/api_group_int.h"

typedef struct dg_ctx {
    api_call_t *call;
    kp_DescribeGroupsResponse_DescribedGroup_t *out;
} dg_ctx_t;

static void on_desc(void *arg, const gc_group_desc_t *d) {
    dg_ctx_t *c = arg;
    api_call_t *call = c->call;
    kp_DescribeGroupsResponse_DescribedGroup_t *o = c->out;
    o->error_code = (int16_t)d->error;
    o->group_state = (char *)gc_state_name(d->state);
    o->protocol_type = api_strdup(call, d->protocol_type);
    o->protocol_data = api_strdup(call, d->protocol_name);
    o->n_members = (int32_t)d->nmembers;
    o->members = api_alloc(call, d->nmembers * sizeof(*o->members));
    for (size_t i = 0; i < d->nmembers; i++) {
        const gc_member_desc_t *m = &d->members[i];
        kp_DescribeGroupsResponse_DescribedGroupMember_t *om = &o->members[i];
        kp_init_DescribeGroupsResponse_DescribedGroupMember(om);
        om->member_id = api_strdup(call, m->member_id);
        om->group_instance_id = api_strdup(call, m->group_instance_id);
        om->client_id = api_strdup(call, m->client_id);
        om->client_host = api_strdup(call, m->client_host);
        om->member_metadata = api_bytes_copy(call, m->metadata, m->metadata ? m->metadata_len : 0);
        om->member_assignment =
            api_bytes_copy(call, m->assignment, m->assignment ? m->assignment_len : 0);
    }
}

void api_handle_DescribeGroups(api_call_t *call) {
    const kp_DescribeGroupsRequest_t *rq = call->body;
    gcb_t *g = call->ctx->groups;
    kp_DescribeGroupsResponse_t resp;
    kp_init_DescribeGroupsResponse(&resp);
    int32_t n = rq->n_groups > 0 ? rq->n_groups : 0;
    resp.n_groups = n;
    resp.groups = api_alloc(call, (size_t)n * sizeof(*resp.groups));
    for (int32_t i = 0; i < n; i++) {
        kp_DescribeGroupsResponse_DescribedGroup_t *o = &resp.groups[i];
        kp_init_DescribeGroupsResponse_DescribedGroup(o);
        const char *id = rq->groups[i] ? rq->groups[i] : "";
        o->group_id = (char *)id;
        o->group_state = (char *)"Dead";
        o->protocol_type = (char *)"";
        o->protocol_data = (char *)"";
        o->n_members = 0;
        kp_err_t err = gcb_prepare(g, id);
        if (err != KP_ERR_NONE) {
            o->error_code = (int16_t)err;
            continue;
        }
        dg_ctx_t c = {call, o};
        gc_describe(gcb_gc(g), id, on_desc, &c);
    }
    api_respond(call, &resp);
}
