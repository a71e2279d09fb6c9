/*
 * create_partitions: CreatePartitions v0-1 (advertised range from proto) through the
 * controller (ctl_create_partitions), with an optional explicit assignment of the new
 * partitions; answered when every topic has a result.
 */
#include <string.h>

#include "api/api_int.h"

typedef struct cp_state {
    api_call_t *call;
    kp_CreatePartitionsResponse_t resp;
    int pending;
} cp_state_t;

typedef struct cp_item {
    cp_state_t *st;
    int32_t idx;
    const char *name;
    int32_t count;
    bool validate_only;
    int32_t timeout_ms;
} cp_item_t;

static void finish_one(cp_state_t *st) {
    if (--st->pending == 0) {
        api_respond(st->call, &st->resp);
    }
}

static void set_result(cp_state_t *st, int32_t idx, int16_t err, const char *msg) {
    kp_CreatePartitionsResponse_CreatePartitionsTopicResult_t *r = &st->resp.results[idx];
    r->error_code = err;
    r->error_message = err != KP_ERR_NONE && msg ? api_strdup(st->call, msg) : NULL;
}

static void on_leaders(void *arg, bool ok) {
    cp_item_t *it = arg;
    if (!ok) {
        set_result(it->st, it->idx, KP_ERR_REQUEST_TIMED_OUT,
                   "Timed out waiting for the new partitions' leaders");
    }
    finish_one(it->st);
}

static void on_done(void *arg, int16_t err, const char *message) {
    cp_item_t *it = arg;
    set_result(it->st, it->idx, err, message);
    if (err == KP_ERR_NONE && !it->validate_only) {
        api_admin_wait(it->st->call->ctx, it->name, API_WAIT_LEADERS, it->count, it->timeout_ms,
                       on_leaders, it);
        return;
    }
    finish_one(it->st);
}

void api_handle_CreatePartitions(api_call_t *call) {
    const kp_CreatePartitionsRequest_t *rq = call->body;
    cp_state_t *st = api_alloc(call, sizeof(*st));
    st->call = call;
    kp_init_CreatePartitionsResponse(&st->resp);
    int32_t nt = rq->n_topics > 0 ? rq->n_topics : 0;
    st->resp.n_results = nt;
    st->resp.results = api_alloc(call, (size_t)nt * sizeof(*st->resp.results));
    st->pending = 1;
    for (int32_t i = 0; i < nt; i++) {
        const kp_CreatePartitionsRequest_CreatePartitionsTopic_t *t = &rq->topics[i];
        kp_CreatePartitionsResponse_CreatePartitionsTopicResult_t *r = &st->resp.results[i];
        kp_init_CreatePartitionsResponse_CreatePartitionsTopicResult(r);
        r->name = t->name ? t->name : (char *)"";
        bool dup = false;
        for (int32_t j = 0; j < nt; j++) {
            if (j != i && t->name && rq->topics[j].name &&
                strcmp(t->name, rq->topics[j].name) == 0) {
                dup = true;
            }
        }
        if (dup || t->name == NULL) {
            set_result(st, i, KP_ERR_INVALID_REQUEST, "Duplicate topic in request");
            continue;
        }
        int32_t *a = NULL, rf = 0;
        if (t->n_assignments > 0) {
            rf = t->assignments[0].n_broker_ids;
            bool ok = rf > 0;
            for (int32_t k = 0; ok && k < t->n_assignments; k++) {
                ok = t->assignments[k].n_broker_ids == rf;
            }
            if (!ok) {
                set_result(st, i, KP_ERR_INVALID_REPLICA_ASSIGNMENT,
                           "Inconsistent replication factor between partitions");
                continue;
            }
            a = api_alloc(call, (size_t)t->n_assignments * (size_t)rf * sizeof(int32_t));
            for (int32_t k = 0; k < t->n_assignments; k++) {
                memcpy(&a[(size_t)k * (size_t)rf], t->assignments[k].broker_ids,
                       (size_t)rf * sizeof(int32_t));
            }
        }
        cp_item_t *it = api_alloc(call, sizeof(*it));
        it->st = st;
        it->idx = i;
        it->name = t->name;
        it->count = t->count;
        it->validate_only = rq->validate_only;
        it->timeout_ms = rq->timeout_ms;
        st->pending++;
        int rc = ctl_create_partitions_rows(call->ctx->ctl, t->name, t->count, a,
                                            a ? t->n_assignments : -1, rf, rq->validate_only,
                                            on_done, it);
        if (rc != 0) {
            st->pending--;
            set_result(st, i, api_kafka_error(rc), strata_strerror(rc));
        }
    }
    finish_one(st);
}
