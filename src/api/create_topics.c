/*
 * create_topics: CreateTopics v0-4 (advertised range from proto), through the
 * controller (ctl_create_topic), one topic at a time, answered when every topic has
 * a result. num_partitions / replication_factor -1 mean the broker defaults at every
 * version (kafkajs sends -1 even at v3, as Kafka's ZooKeeper-mode broker accepts).
 * Counts together with an explicit assignment, or a topic named twice, is
 * INVALID_REQUEST; an illegal name is INVALID_TOPIC_EXCEPTION.
 */
#include <string.h>

#include "api/api_int.h"

typedef struct ct_state {
    api_call_t *call;
    kp_CreateTopicsResponse_t resp;
    int pending;
} ct_state_t;

typedef struct ct_item {
    ct_state_t *st;
    int32_t idx;
    const char *name;
    int32_t npartitions; /* resolved count, to wait for its leaders */
    bool validate_only;
    int32_t timeout_ms;
} ct_item_t;

static void finish_one(ct_state_t *st) {
    if (--st->pending == 0) {
        api_respond(st->call, &st->resp);
    }
}

static void set_result(ct_state_t *st, int32_t idx, int16_t err, const char *msg) {
    kp_CreateTopicsResponse_CreatableTopicResult_t *r = &st->resp.topics[idx];
    r->error_code = err;
    r->error_message = err != KP_ERR_NONE && msg ? api_strdup(st->call, msg) : NULL;
}

static void on_leaders(void *arg, bool ok) {
    ct_item_t *it = arg;
    if (!ok) {
        set_result(it->st, it->idx, KP_ERR_REQUEST_TIMED_OUT,
                   "Timed out waiting for the new topic's partition leaders");
    }
    finish_one(it->st);
}

static void on_created(void *arg, int16_t err, const char *message) {
    ct_item_t *it = arg;
    set_result(it->st, it->idx, err, message);
    if (err == KP_ERR_NONE && !it->validate_only) {
        api_admin_wait(it->st->call->ctx, it->name, API_WAIT_LEADERS, it->npartitions,
                       it->timeout_ms, on_leaders, it);
        return;
    }
    finish_one(it->st);
}

/* Builds the row-major assignment. @returns 0 or a Kafka error with *msg. */
static int16_t build_assignment(api_call_t *call, const kp_CreateTopicsRequest_CreatableTopic_t *t,
                                int32_t **out, int32_t *rf_out, const char **msg) {
    int32_t n = t->n_assignments;
    int32_t rf = t->assignments[0].n_broker_ids;
    if (rf <= 0) {
        *msg = "Replica assignment with no replicas";
        return KP_ERR_INVALID_REPLICA_ASSIGNMENT;
    }
    int32_t *a = api_alloc(call, (size_t)n * (size_t)rf * sizeof(int32_t));
    bool *seen = api_alloc(call, (size_t)n);
    for (int32_t i = 0; i < n; i++) {
        const kp_CreateTopicsRequest_CreatableReplicaAssignment_t *ra = &t->assignments[i];
        if (ra->partition_index < 0 || ra->partition_index >= n || seen[ra->partition_index]) {
            *msg = "Partitions of the replica assignment must be 0..n-1, each once";
            return KP_ERR_INVALID_REPLICA_ASSIGNMENT;
        }
        if (ra->n_broker_ids != rf) {
            *msg = "All partitions must have the same number of replicas";
            return KP_ERR_INVALID_REPLICA_ASSIGNMENT;
        }
        seen[ra->partition_index] = true;
        memcpy(&a[(size_t)ra->partition_index * (size_t)rf], ra->broker_ids,
               (size_t)rf * sizeof(int32_t));
    }
    *out = a;
    *rf_out = rf;
    return KP_ERR_NONE;
}

void api_handle_CreateTopics(api_call_t *call) {
    const kp_CreateTopicsRequest_t *rq = call->body;
    ct_state_t *st = api_alloc(call, sizeof(*st));
    st->call = call;
    kp_init_CreateTopicsResponse(&st->resp);
    int32_t nt = rq->n_topics > 0 ? rq->n_topics : 0;
    st->resp.n_topics = nt;
    st->resp.topics = api_alloc(call, (size_t)nt * sizeof(*st->resp.topics));
    st->pending = 1; /* held until every topic was started */

    for (int32_t i = 0; i < nt; i++) {
        const kp_CreateTopicsRequest_CreatableTopic_t *t = &rq->topics[i];
        kp_CreateTopicsResponse_CreatableTopicResult_t *r = &st->resp.topics[i];
        kp_init_CreateTopicsResponse_CreatableTopicResult(r);
        r->name = t->name ? t->name : (char *)"";
        bool dup = false;
        for (int32_t j = 0; j < nt; j++) {
            if (j != i && t->name && rq->topics[j].name &&
                strcmp(t->name, rq->topics[j].name) == 0) {
                dup = true;
            }
        }
        if (dup) {
            set_result(st, i, KP_ERR_INVALID_REQUEST,
                       "Create topics request from client contains duplicate topics");
            continue;
        }
        if (t->name == NULL || !ctl_valid_topic_name(t->name)) {
            set_result(st, i, KP_ERR_INVALID_TOPIC_EXCEPTION,
                       "Topic name is illegal: it may contain [a-zA-Z0-9._-], 1-249 characters, "
                       "and not be '.' or '..'");
            continue;
        }
        ctl_topic_spec_t spec;
        memset(&spec, 0, sizeof(spec));
        spec.name = t->name;
        spec.num_partitions = t->num_partitions;
        spec.replication_factor = t->replication_factor;
        spec.validate_only = rq->validate_only;
        if (t->n_assignments > 0) {
            if (t->num_partitions != -1 || t->replication_factor != -1) {
                set_result(st, i, KP_ERR_INVALID_REQUEST,
                           "Both numPartitions or replicationFactor and replicasAssignments were "
                           "set. Both cannot be used at the same time.");
                continue;
            }
            const char *msg = NULL;
            int32_t *a = NULL, rf = 0;
            int16_t err = build_assignment(call, t, &a, &rf, &msg);
            if (err != KP_ERR_NONE) {
                set_result(st, i, err, msg);
                continue;
            }
            spec.num_partitions = t->n_assignments;
            spec.replication_factor = (int16_t)rf;
            spec.assignment = a;
            spec.assignment_rf = rf;
        }
        int32_t nc = t->n_configs > 0 ? t->n_configs : 0;
        const char **keys = api_alloc(call, (size_t)nc * sizeof(char *));
        const char **vals = api_alloc(call, (size_t)nc * sizeof(char *));
        size_t ncfg = 0;
        for (int32_t c = 0; c < nc; c++) {
            if (t->configs[c].name && t->configs[c].value) {
                keys[ncfg] = t->configs[c].name;
                vals[ncfg] = t->configs[c].value;
                ncfg++;
            }
        }
        spec.config_keys = keys;
        spec.config_values = vals;
        spec.nconfigs = ncfg;

        ct_item_t *it = api_alloc(call, sizeof(*it));
        it->st = st;
        it->idx = i;
        it->name = t->name;
        it->npartitions =
            spec.num_partitions > 0 ? spec.num_partitions : call->ctx->cfg->num_partitions;
        it->validate_only = rq->validate_only;
        it->timeout_ms = rq->timeout_ms;
        st->pending++;
        int rc = ctl_create_topic(call->ctx->ctl, &spec, on_created, it);
        if (rc != 0) {
            st->pending--;
            set_result(st, i, api_kafka_error(rc), strata_strerror(rc));
        }
    }
    finish_one(st);
}
