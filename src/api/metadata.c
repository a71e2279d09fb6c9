/*
 * metadata: Metadata v0-12 shapes (advertised range from proto). Brokers, controller
 * and cluster id from the metadata cache, topics with partition leaders, replicas,
 * ISR and offline replicas.
 *
 * Kafka's rules: v0 empty topic list or v1+ null list = all topics; an unknown topic
 * is auto-created (ctl_create_topic with the broker defaults) when
 * auto.create.topics.enable and the request allows it (v4+ flag, always before v4),
 * answered LEADER_NOT_AVAILABLE meanwhile; otherwise UNKNOWN_TOPIC_OR_PARTITION.
 * An illegal name is INVALID_TOPIC_EXCEPTION and never created.
 *
 * v7+ carries each partition's leader epoch, v10+ the topic id; from v10 a request may
 * name a topic by id only (null name): resolved through the cache, else UNKNOWN_TOPIC_ID
 * with the id echoed and a null name (empty before v12, where the name is not
 * nullable). Authorized operations (v8+) stay INT32_MIN ("not provided"): Strata has
 * no authorizer.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "strata/cluster.h"

static void on_auto_created(void *arg, int16_t err, const char *message) {
    char *name = arg;
    if (err == KP_ERR_NONE) {
        slog_info("auto-created topic %s", name);
    } else if (err != KP_ERR_TOPIC_ALREADY_EXISTS) {
        slog_warn("auto-creating topic %s: %s%s%s", name, kp_err_name(err), message ? ": " : "",
                  message ? message : "");
    }
    free(name);
}

static bool broker_live(const mdc_t *m, int32_t id) {
    return mdc_broker(m, id) != NULL;
}

static void fill_topic(api_call_t *call, const mdc_topic_t *t,
                       kp_MetadataResponse_MetadataResponseTopic_t *out) {
    const mdc_t *m = call->ctx->mdc;
    out->error_code = KP_ERR_NONE;
    out->name = t->name;
    memcpy(out->topic_id, t->id, 16);
    out->is_internal = t->internal;
    out->n_partitions = t->npartitions;
    out->partitions = api_alloc(call, (size_t)t->npartitions * sizeof(*out->partitions));
    for (int32_t i = 0; i < t->npartitions; i++) {
        const mdc_partition_t *mp = &t->partitions[i];
        kp_MetadataResponse_MetadataResponsePartition_t *p = &out->partitions[i];
        kp_init_MetadataResponse_MetadataResponsePartition(p);
        p->partition_index = mp->partition;
        p->leader_id = mp->leader;
        p->leader_epoch = mp->leader_epoch;
        p->error_code = mp->leader < 0 || !broker_live(m, mp->leader) ? KP_ERR_LEADER_NOT_AVAILABLE
                                                                      : KP_ERR_NONE;
        if (p->error_code != KP_ERR_NONE) {
            p->leader_id = -1;
        }
        p->n_replica_nodes = mp->nreplicas;
        p->replica_nodes = mp->replicas;
        p->n_isr_nodes = mp->nisr;
        p->isr_nodes = mp->isr;
        int32_t *off = api_alloc(call, (size_t)mp->nreplicas * sizeof(int32_t));
        int32_t noff = 0;
        for (int32_t r = 0; r < mp->nreplicas; r++) {
            if (!broker_live(m, mp->replicas[r])) {
                off[noff++] = mp->replicas[r];
            }
        }
        p->n_offline_replicas = noff;
        p->offline_replicas = off;
    }
}

static bool uuid_is_zero(const uint8_t id[16]) {
    for (int i = 0; i < 16; i++) {
        if (id[i] != 0) {
            return false;
        }
    }
    return true;
}

static const mdc_topic_t *topic_by_id(const mdc_t *m, const uint8_t id[16]) {
    size_t nt = mdc_topic_count(m);
    for (size_t i = 0; i < nt; i++) {
        const mdc_topic_t *t = mdc_topic_at(m, i);
        if (memcmp(t->id, id, 16) == 0) {
            return t;
        }
    }
    return NULL;
}

static void auto_create(api_call_t *call, const char *name) {
    ctl_topic_spec_t spec;
    memset(&spec, 0, sizeof(spec));
    spec.name = name;
    spec.num_partitions = -1;
    spec.replication_factor = -1;
    char *arg = xstrdup(name);
    int rc = ctl_create_topic(call->ctx->ctl, &spec, on_auto_created, arg);
    if (rc != 0) {
        slog_warn("auto-creating topic %s: %s", name, strata_strerror(rc));
        free(arg);
    }
}

void api_handle_Metadata(api_call_t *call) {
    const kp_MetadataRequest_t *rq = call->body;
    api_ctx_t *ctx = call->ctx;
    const broker_cfg_t *cfg = ctx->cfg;
    const mdc_t *m = ctx->mdc;
    kp_MetadataResponse_t resp;
    kp_init_MetadataResponse(&resp);

    /* Brokers: the live set; before registration shows up, at least this broker. */
    size_t nb = m ? mdc_broker_count(m) : 0;
    resp.brokers = api_alloc(call, (nb + 1) * sizeof(*resp.brokers));
    resp.n_brokers = 0;
    for (size_t i = 0; i < nb; i++) {
        const mdc_broker_t *b = mdc_broker_at(m, i);
        kp_MetadataResponse_MetadataResponseBroker_t *o = &resp.brokers[resp.n_brokers++];
        o->node_id = b->id;
        o->host = b->host;
        o->port = b->port;
        o->rack = b->rack;
    }
    if (resp.n_brokers == 0) {
        kp_MetadataResponse_MetadataResponseBroker_t *o = &resp.brokers[resp.n_brokers++];
        o->node_id = cfg->broker_id;
        o->host = cfg->adv_host;
        o->port = cfg->adv_port;
        o->rack = cfg->broker_rack && cfg->broker_rack[0] ? cfg->broker_rack : NULL;
    }
    resp.cluster_id = m ? (char *)mdc_cluster_id(m) : NULL;
    resp.controller_id = m ? mdc_controller_id(m) : -1;

    bool all = rq->n_topics < 0 || (call->version == 0 && rq->n_topics == 0);
    if (m == NULL) {
        resp.n_topics = 0;
        api_respond(call, &resp);
        return;
    }
    if (all) {
        size_t nt = mdc_topic_count(m);
        resp.topics = api_alloc(call, nt * sizeof(*resp.topics));
        resp.n_topics = 0;
        for (size_t i = 0; i < nt; i++) {
            const mdc_topic_t *t = mdc_topic_at(m, i);
            kp_MetadataResponse_MetadataResponseTopic_t *o = &resp.topics[resp.n_topics++];
            kp_init_MetadataResponse_MetadataResponseTopic(o);
            fill_topic(call, t, o);
        }
        api_respond(call, &resp);
        return;
    }

    bool allow_create =
        cfg->auto_create_topics_enable && (call->version < 4 || rq->allow_auto_topic_creation);
    resp.topics = api_alloc(call, (size_t)rq->n_topics * sizeof(*resp.topics));
    resp.n_topics = rq->n_topics;
    for (int32_t i = 0; i < rq->n_topics; i++) {
        const char *name = rq->topics[i].name;
        kp_MetadataResponse_MetadataResponseTopic_t *o = &resp.topics[i];
        kp_init_MetadataResponse_MetadataResponseTopic(o);
        if (name == NULL && call->version >= 10 && !uuid_is_zero(rq->topics[i].topic_id)) {
            const mdc_topic_t *t = topic_by_id(m, rq->topics[i].topic_id);
            if (t) {
                fill_topic(call, t, o);
            } else {
                o->error_code = KP_ERR_UNKNOWN_TOPIC_ID;
                o->name = call->version >= 12 ? NULL : (char *)""; /* nullable 12+ */
                memcpy(o->topic_id, rq->topics[i].topic_id, 16);
                o->n_partitions = 0;
            }
            continue;
        }
        o->name = (char *)(name ? name : "");
        o->n_partitions = 0;
        const mdc_topic_t *t = name ? mdc_topic(m, name) : NULL;
        if (t) {
            fill_topic(call, t, o);
        } else if (name == NULL || !ctl_valid_topic_name(name)) {
            o->error_code = KP_ERR_INVALID_TOPIC_EXCEPTION;
        } else if (allow_create) {
            /* Do not create twice when a request names a topic twice. */
            bool dup = false;
            for (int32_t j = 0; j < i; j++) {
                if (rq->topics[j].name && strcmp(rq->topics[j].name, name) == 0) {
                    dup = true;
                }
            }
            if (!dup) {
                auto_create(call, name);
            }
            o->error_code = KP_ERR_LEADER_NOT_AVAILABLE;
        } else {
            o->error_code = KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
    }
    api_respond(call, &resp);
}
