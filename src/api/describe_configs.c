/*
 * describe_configs: DescribeConfigs v0-2 (advertised range from proto) for topics
 * (resource type 2: Kafka's topic configs, each the topic override, else the broker
 * setting it derives from, else Kafka's default) and for this broker (type 4: every
 * key of the broker table, read-only: static configuration).
 *
 * config_source: 1 TOPIC_CONFIG, 4 STATIC_BROKER_CONFIG (set in server.properties or
 * --override), 5 DEFAULT_CONFIG.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"

#define RES_TOPIC  2
#define RES_BROKER 4

#define SRC_TOPIC   1
#define SRC_STATIC  4
#define SRC_DEFAULT 5

static const cfg_def_t *find_def(const api_ctx_t *ctx, const char *key) {
    for (size_t i = 0; i < ctx->cfg_ndefs; i++) {
        if (strcmp(ctx->cfg_defs[i].key, key) == 0) {
            return &ctx->cfg_defs[i];
        }
    }
    return NULL;
}

/* The current value of a broker key, as text. */
static char *broker_value(api_call_t *call, const cfg_def_t *d) {
    const char *field = (const char *)call->ctx->cfg + d->offset;
    char buf[64];
    switch (d->type) {
    case CFG_INT32: {
        int32_t v;
        memcpy(&v, field, sizeof(v));
        snprintf(buf, sizeof(buf), "%" PRId32, v);
        break;
    }
    case CFG_INT64: {
        int64_t v;
        memcpy(&v, field, sizeof(v));
        snprintf(buf, sizeof(buf), "%" PRId64, v);
        break;
    }
    case CFG_BOOL: {
        bool v;
        memcpy(&v, field, sizeof(v));
        snprintf(buf, sizeof(buf), "%s", v ? "true" : "false");
        break;
    }
    case CFG_DOUBLE: {
        double v;
        memcpy(&v, field, sizeof(v));
        snprintf(buf, sizeof(buf), "%g", v);
        break;
    }
    case CFG_STRING: {
        const char *s;
        memcpy(&s, field, sizeof(s));
        return api_strdup(call, s ? s : "");
    }
    }
    return api_strdup(call, buf);
}

static bool broker_key_set(const api_ctx_t *ctx, const char *key) {
    return ctx->cfg_props && props_get(ctx->cfg_props, key) != NULL;
}

static bool wanted(const kp_DescribeConfigsRequest_DescribeConfigsResource_t *r, const char *name) {
    if (r->n_configuration_keys < 0) {
        return true;
    }
    for (int32_t i = 0; i < r->n_configuration_keys; i++) {
        if (r->configuration_keys[i] && strcmp(r->configuration_keys[i], name) == 0) {
            return true;
        }
    }
    return false;
}

typedef struct topic_key {
    const char *name;
    const char *broker_key; /* the broker setting it defaults to, or NULL */
    const char *kafka_default;
} topic_key_t;

static const topic_key_t topic_keys[] = {
    {"cleanup.policy", "log.cleanup.policy", "delete"},
    {"compression.type", "compression.type", "producer"},
    {"delete.retention.ms", "log.cleaner.delete.retention.ms", "86400000"},
    {"file.delete.delay.ms", "log.segment.delete.delay.ms", "60000"},
    {"flush.messages", "log.flush.interval.messages", "9223372036854775807"},
    {"flush.ms", NULL, NULL},
    {"index.interval.bytes", "log.index.interval.bytes", "4096"},
    {"max.compaction.lag.ms", NULL, "9223372036854775807"},
    {"max.message.bytes", "message.max.bytes", "1048588"},
    {"message.downconversion.enable", NULL, "true"},
    {"message.timestamp.type", "log.message.timestamp.type", "CreateTime"},
    {"min.cleanable.dirty.ratio", "log.cleaner.min.cleanable.ratio", "0.5"},
    {"min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms", "0"},
    {"min.insync.replicas", "min.insync.replicas", "1"},
    {"preallocate", NULL, "false"},
    {"retention.bytes", "log.retention.bytes", "-1"},
    {"retention.ms", NULL, NULL},
    {"segment.bytes", "log.segment.bytes", "1073741824"},
    {"segment.index.bytes", "log.index.size.max.bytes", "10485760"},
    {"segment.jitter.ms", NULL, NULL},
    {"segment.ms", NULL, NULL},
    {"unclean.leader.election.enable", "unclean.leader.election.enable", "false"},
};

static void fill_entry(kp_DescribeConfigsResponse_DescribeConfigsResourceResult_t *e,
                       const char *name, char *value, int8_t source, bool read_only) {
    kp_init_DescribeConfigsResponse_DescribeConfigsResourceResult(e);
    e->name = (char *)name;
    e->value = value;
    e->read_only = read_only;
    e->is_default = source == SRC_DEFAULT;
    e->config_source = source;
    e->is_sensitive = false;
    e->n_synonyms = 0;
}

static void describe_topic(api_call_t *call,
                           const kp_DescribeConfigsRequest_DescribeConfigsResource_t *r,
                           kp_DescribeConfigsResponse_DescribeConfigsResult_t *out) {
    const mdc_topic_t *t = call->ctx->mdc ? mdc_topic(call->ctx->mdc, r->resource_name) : NULL;
    if (t == NULL) {
        out->error_code = KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        out->error_message = api_strdup(call, "Topic does not exist");
        return;
    }
    const broker_cfg_t *cfg = call->ctx->cfg;
    size_t n = sizeof(topic_keys) / sizeof(topic_keys[0]);
    out->configs = api_alloc(call, n * sizeof(*out->configs));
    out->n_configs = 0;
    for (size_t i = 0; i < n; i++) {
        const topic_key_t *k = &topic_keys[i];
        if (!wanted(r, k->name)) {
            continue;
        }
        const char *ov = t->config ? props_get(t->config, k->name) : NULL;
        char *value;
        int8_t source;
        if (ov) {
            value = api_strdup(call, ov);
            source = SRC_TOPIC;
        } else if (k->broker_key && find_def(call->ctx, k->broker_key)) {
            value = broker_value(call, find_def(call->ctx, k->broker_key));
            source = broker_key_set(call->ctx, k->broker_key) ? SRC_STATIC : SRC_DEFAULT;
        } else if (k->kafka_default) {
            value = api_strdup(call, k->kafka_default);
            source = SRC_DEFAULT;
        } else {
            /* Derived from several broker keys (hours/minutes/ms). */
            char buf[32];
            int64_t v = strcmp(k->name, "retention.ms") == 0        ? cfg->log.retention_ms
                        : strcmp(k->name, "segment.ms") == 0        ? cfg->log.roll_ms
                        : strcmp(k->name, "segment.jitter.ms") == 0 ? cfg->log.roll_jitter_ms
                                                                    : cfg->log.flush_interval_ms;
            snprintf(buf, sizeof(buf), "%" PRId64, v);
            value = api_strdup(call, buf);
            source = SRC_DEFAULT;
        }
        fill_entry(&out->configs[out->n_configs++], k->name, value, source, false);
    }
}

static void describe_broker(api_call_t *call,
                            const kp_DescribeConfigsRequest_DescribeConfigsResource_t *r,
                            kp_DescribeConfigsResponse_DescribeConfigsResult_t *out) {
    char id[16];
    snprintf(id, sizeof(id), "%d", (int)call->ctx->cfg->broker_id);
    if (r->resource_name[0] != '\0' && strcmp(r->resource_name, id) != 0) {
        out->error_code = KP_ERR_INVALID_REQUEST;
        out->error_message = api_strdup(call, "Unexpected broker id, expected this broker's id");
        return;
    }
    size_t n = call->ctx->cfg_ndefs;
    out->configs = api_alloc(call, n * sizeof(*out->configs));
    out->n_configs = 0;
    for (size_t i = 0; i < n; i++) {
        const cfg_def_t *d = &call->ctx->cfg_defs[i];
        if (!wanted(r, d->key)) {
            continue;
        }
        int8_t source = broker_key_set(call->ctx, d->key) ? SRC_STATIC : SRC_DEFAULT;
        fill_entry(&out->configs[out->n_configs++], d->key, broker_value(call, d), source, true);
    }
}

void api_handle_DescribeConfigs(api_call_t *call) {
    const kp_DescribeConfigsRequest_t *rq = call->body;
    kp_DescribeConfigsResponse_t resp;
    kp_init_DescribeConfigsResponse(&resp);
    int32_t n = rq->n_resources > 0 ? rq->n_resources : 0;
    resp.n_results = n;
    resp.results = api_alloc(call, (size_t)n * sizeof(*resp.results));
    for (int32_t i = 0; i < n; i++) {
        const kp_DescribeConfigsRequest_DescribeConfigsResource_t *r = &rq->resources[i];
        kp_DescribeConfigsResponse_DescribeConfigsResult_t *o = &resp.results[i];
        kp_init_DescribeConfigsResponse_DescribeConfigsResult(o);
        o->resource_type = r->resource_type;
        o->resource_name = r->resource_name ? r->resource_name : (char *)"";
        o->n_configs = 0;
        if (r->resource_name == NULL) {
            o->error_code = KP_ERR_INVALID_REQUEST;
        } else if (r->resource_type == RES_TOPIC) {
            describe_topic(call, r, o);
        } else if (r->resource_type == RES_BROKER) {
            describe_broker(call, r, o);
        } else {
            o->error_code = KP_ERR_INVALID_REQUEST;
            o->error_message = api_strdup(call, "Unsupported resource type");
        }
    }
    api_respond(call, &resp);
}
