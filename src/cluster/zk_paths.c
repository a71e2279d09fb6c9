/*
 * zk_paths: Kafka's ZooKeeper-mode paths and JSON shapes (kafka-protocol/README.md "ZooKeeper
 * znode layout"), built and parsed with jansson. Parsers never trust their input: anything
 * malformed is STRATA_ECORRUPT, never a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <jansson.h>

#include "cluster/cluster_int.h"

const char *const zkpath_startup_paths[] = {"/consumers",
                                            "/brokers",
                                            "/brokers/ids",
                                            "/brokers/topics",
                                            "/brokers/seqid",
                                            "/config",
                                            "/config/changes",
                                            "/config/topics",
                                            "/config/clients",
                                            "/config/users",
                                            "/config/brokers",
                                            "/config/ips",
                                            "/admin",
                                            "/admin/delete_topics",
                                            "/isr_change_notification",
                                            "/latest_producer_id_block",
                                            "/log_dir_event_notification",
                                            NULL};

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void zkpath_uuid_encode(const uint8_t id[16], char out[23]) {
    size_t o = 0;
    for (size_t i = 0; i < 16; i += 3) {
        uint32_t v = (uint32_t)id[i] << 16;
        size_t left = 16 - i;
        if (left > 1) {
            v |= (uint32_t)id[i + 1] << 8;
        }
        if (left > 2) {
            v |= id[i + 2];
        }
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (left > 1) {
            out[o++] = b64url[(v >> 6) & 63];
        }
        if (left > 2) {
            out[o++] = b64url[v & 63];
        }
    }
    out[o] = '\0';
}

static int b64val(char c) {
    const char *p = c ? strchr(b64url, c) : NULL;
    return p ? (int)(p - b64url) : -1;
}

int zkpath_uuid_decode(const char *s, uint8_t id[16]) {
    if (!s || strlen(s) != 22) {
        return STRATA_EINVAL;
    }
    uint8_t tmp[18];
    size_t o = 0;
    for (size_t i = 0; i < 22; i += 4) {
        uint32_t v = 0;
        size_t take = 22 - i < 4 ? 22 - i : 4;
        for (size_t j = 0; j < 4; j++) {
            int x = j < take ? b64val(s[i + j]) : 0;
            if (x < 0) {
                return STRATA_EINVAL;
            }
            v = v << 6 | (uint32_t)x;
        }
        tmp[o++] = (uint8_t)(v >> 16);
        tmp[o++] = (uint8_t)(v >> 8);
        tmp[o++] = (uint8_t)v;
    }
    memcpy(id, tmp, 16);
    return 0;
}

void zkpath_uuid_random(uint8_t id[16]) {
    if (getrandom(id, 16, 0) != 16) {
        uint64_t a = (uint64_t)clock_mono_ns();
        uint64_t b = (uint64_t)clock_wall_ms() * 6364136223846793005ull;
        memcpy(id, &a, 8);
        memcpy(id + 8, &b, 8);
    }
    /* Version 4 bits: never the all-zero id nor Kafka's reserved metadata-topic id. */
    id[6] = (uint8_t)((id[6] & 0x0f) | 0x40);
    id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
}

static char *dump(json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    STRATA_ASSERT(s != NULL);
    char *r = xstrdup(s);
    free(s);
    return r;
}

static json_t *load(const char *data, size_t len) {
    if (!data || len == 0) {
        return NULL;
    }
    json_error_t err;
    return json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
}

static bool get_i32(json_t *o, const char *key, int32_t *out) {
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v)) {
        return false;
    }
    json_int_t x = json_integer_value(v);
    if (x < INT32_MIN || x > INT32_MAX) {
        return false;
    }
    *out = (int32_t)x;
    return true;
}

static json_t *int_array(const int32_t *v, int32_t n) {
    json_t *a = json_array();
    for (int32_t i = 0; i < n; i++) {
        json_array_append_new(a, json_integer(v[i]));
    }
    return a;
}

/* Parses a JSON array of int32 into a new array. */
static bool parse_int_array(json_t *a, int32_t **out, int32_t *n) {
    if (!json_is_array(a) || json_array_size(a) > 100000) {
        return false;
    }
    size_t cnt = json_array_size(a);
    int32_t *v = xmalloc((cnt ? cnt : 1) * sizeof(int32_t));
    for (size_t i = 0; i < cnt; i++) {
        json_t *x = json_array_get(a, i);
        if (!json_is_integer(x) || json_integer_value(x) < INT32_MIN ||
            json_integer_value(x) > INT32_MAX) {
            free(v);
            return false;
        }
        v[i] = (int32_t)json_integer_value(x);
    }
    *out = v;
    *n = (int32_t)cnt;
    return true;
}

char *zkpath_broker_json(int32_t id, const char *host, int32_t port, const char *rack,
                         int64_t timestamp_ms) {
    (void)id;
    json_t *o = json_object();
    json_object_set_new(o, "features", json_object());
    json_t *secmap = json_object();
    json_object_set_new(secmap, "PLAINTEXT", json_string("PLAINTEXT"));
    json_object_set_new(o, "listener_security_protocol_map", secmap);
    json_t *eps = json_array();
    char *ep = xasprintf("PLAINTEXT://%s:%d", host, (int)port);
    json_array_append_new(eps, json_string(ep));
    free(ep);
    json_object_set_new(o, "endpoints", eps);
    json_object_set_new(o, "jmx_port", json_integer(-1));
    json_object_set_new(o, "port", json_integer(port));
    json_object_set_new(o, "host", json_string(host));
    json_object_set_new(o, "version", json_integer(5));
    char ts[32];
    snprintf(ts, sizeof(ts), "%lld", (long long)timestamp_ms);
    json_object_set_new(o, "timestamp", json_string(ts));
    if (rack) {
        json_object_set_new(o, "rack", json_string(rack));
    }
    return dump(o);
}

/* "LISTENER://host:port" -> host, port. IPv6 hosts come as [::1]. */
static bool parse_endpoint(const char *ep, char **host, int32_t *port) {
    const char *p = strstr(ep, "://");
    if (!p) {
        return false;
    }
    p += 3;
    const char *colon = strrchr(p, ':');
    if (!colon || colon == p) {
        return false;
    }
    int64_t v;
    if (parse_int64(colon + 1, &v) != 0 || v < 0 || v > 65535) {
        return false;
    }
    const char *hs = p, *he = colon;
    if (*hs == '[' && he > hs + 1 && he[-1] == ']') {
        hs++;
        he--;
    }
    *host = xstrndup(hs, (size_t)(he - hs));
    *port = (int32_t)v;
    return true;
}

int zkpath_broker_parse(const char *data, size_t len, int32_t id, mdc_broker_t *out) {
    memset(out, 0, sizeof(*out));
    out->id = id;
    json_t *o = load(data, len);
    if (!json_is_object(o)) {
        json_decref(o);
        return STRATA_ECORRUPT;
    }
    int32_t version = 0;
    get_i32(o, "version", &version);
    /* Prefer a PLAINTEXT endpoint, then the first one, then host/port. */
    json_t *eps = json_object_get(o, "endpoints");
    if (json_is_array(eps)) {
        json_t *secmap = json_object_get(o, "listener_security_protocol_map");
        for (int pass = 0; pass < 2 && !out->host; pass++) {
            for (size_t i = 0; i < json_array_size(eps) && !out->host; i++) {
                const char *ep = json_string_value(json_array_get(eps, i));
                if (!ep) {
                    continue;
                }
                if (pass == 0) {
                    const char *sep = strstr(ep, "://");
                    if (!sep) {
                        continue;
                    }
                    char *listener = xstrndup(ep, (size_t)(sep - ep));
                    const char *proto = json_string_value(json_object_get(secmap, listener));
                    bool plain = strcmp(proto ? proto : listener, "PLAINTEXT") == 0;
                    free(listener);
                    if (!plain) {
                        continue;
                    }
                }
                parse_endpoint(ep, &out->host, &out->port);
            }
        }
    }
    if (!out->host) {
        const char *h = json_string_value(json_object_get(o, "host"));
        int32_t port = -1;
        if (h && get_i32(o, "port", &port)) {
            out->host = xstrdup(h);
            out->port = port;
        }
    }
    const char *rack = json_string_value(json_object_get(o, "rack"));
    if (rack) {
        out->rack = xstrdup(rack);
    }
    json_decref(o);
    if (!out->host) {
        free(out->rack);
        out->rack = NULL;
        return STRATA_ECORRUPT;
    }
    return 0;
}

char *zkpath_controller_json(int32_t broker_id, int64_t timestamp_ms) {
    json_t *o = json_object();
    json_object_set_new(o, "version", json_integer(1));
    json_object_set_new(o, "brokerid", json_integer(broker_id));
    char ts[32];
    snprintf(ts, sizeof(ts), "%lld", (long long)timestamp_ms);
    json_object_set_new(o, "timestamp", json_string(ts));
    return dump(o);
}

int zkpath_controller_parse(const char *data, size_t len, int32_t *broker_id) {
    json_t *o = load(data, len);
    int rc = STRATA_ECORRUPT;
    if (json_is_object(o) && get_i32(o, "brokerid", broker_id)) {
        rc = 0;
    } else if (json_is_integer(o)) { /* very old format: a bare id */
        *broker_id = (int32_t)json_integer_value(o);
        rc = 0;
    }
    json_decref(o);
    return rc;
}

int zkpath_epoch_parse(const char *data, size_t len, int32_t *epoch) {
    if (!data || len == 0 || len > 20) {
        return STRATA_ECORRUPT;
    }
    char tmp[24];
    memcpy(tmp, data, len);
    tmp[len] = '\0';
    int64_t v;
    if (parse_int64(tmp, &v) != 0 || v < 0 || v > INT32_MAX) {
        return STRATA_ECORRUPT;
    }
    *epoch = (int32_t)v;
    return 0;
}

void zkpath_assignment_destroy(zkpath_assignment_t *a) {
    if (!a) {
        return;
    }
    for (int32_t i = 0; i < a->npartitions; i++) {
        free(a->replicas[i]);
    }
    free(a->replicas);
    free(a->nreplicas);
    memset(a, 0, sizeof(*a));
}

char *zkpath_assignment_json_lists(const uint8_t topic_id[16], int32_t npartitions,
                                   const int32_t *const *replicas, const int32_t *nreplicas) {
    json_t *o = json_object();
    json_object_set_new(o, "version", json_integer(3));
    char id[23];
    zkpath_uuid_encode(topic_id, id);
    json_object_set_new(o, "topic_id", json_string(id));
    json_t *parts = json_object();
    for (int32_t p = 0; p < npartitions; p++) {
        char key[16];
        snprintf(key, sizeof(key), "%d", (int)p);
        json_object_set_new(parts, key, int_array(replicas[p], nreplicas[p]));
    }
    json_object_set_new(o, "partitions", parts);
    json_object_set_new(o, "adding_replicas", json_object());
    json_object_set_new(o, "removing_replicas", json_object());
    return dump(o);
}

char *zkpath_assignment_json(const uint8_t topic_id[16], const int32_t *replicas,
                             int32_t npartitions, int32_t rf) {
    const int32_t **rows = xmalloc((size_t)(npartitions ? npartitions : 1) * sizeof(int32_t *));
    int32_t *counts = xmalloc((size_t)(npartitions ? npartitions : 1) * sizeof(int32_t));
    for (int32_t p = 0; p < npartitions; p++) {
        rows[p] = replicas + (size_t)p * (size_t)rf;
        counts[p] = rf;
    }
    char *s = zkpath_assignment_json_lists(topic_id, npartitions, rows, counts);
    free(rows);
    free(counts);
    return s;
}

int zkpath_assignment_parse(const char *data, size_t len, zkpath_assignment_t *out) {
    memset(out, 0, sizeof(*out));
    json_t *o = load(data, len);
    json_t *parts = json_object_get(o, "partitions");
    if (!json_is_object(o) || !json_is_object(parts) || json_object_size(parts) > 100000) {
        json_decref(o);
        return STRATA_ECORRUPT;
    }
    const char *tid = json_string_value(json_object_get(o, "topic_id"));
    if (tid && zkpath_uuid_decode(tid, out->topic_id) == 0) {
        out->has_id = true;
    }
    int32_t n = (int32_t)json_object_size(parts);
    out->npartitions = n;
    out->replicas = xcalloc((size_t)(n ? n : 1), sizeof(int32_t *));
    out->nreplicas = xcalloc((size_t)(n ? n : 1), sizeof(int32_t));
    const char *key;
    json_t *val;
    json_object_foreach(parts, key, val) {
        int64_t p;
        if (parse_int64(key, &p) != 0 || p < 0 || p >= n || out->replicas[p]) {
            goto fail;
        }
        if (!parse_int_array(val, &out->replicas[p], &out->nreplicas[p])) {
            goto fail;
        }
    }
    json_decref(o);
    return 0;
fail:
    json_decref(o);
    zkpath_assignment_destroy(out);
    return STRATA_ECORRUPT;
}

char *zkpath_state_json(const zkpath_state_t *st) {
    json_t *o = json_object();
    json_object_set_new(o, "controller_epoch", json_integer(st->controller_epoch));
    json_object_set_new(o, "leader", json_integer(st->leader));
    json_object_set_new(o, "version", json_integer(1));
    json_object_set_new(o, "leader_epoch", json_integer(st->leader_epoch));
    json_object_set_new(o, "isr", int_array(st->isr, st->nisr));
    return dump(o);
}

int zkpath_state_parse(const char *data, size_t len, zkpath_state_t *out) {
    memset(out, 0, sizeof(*out));
    json_t *o = load(data, len);
    if (!json_is_object(o) || !get_i32(o, "leader", &out->leader) ||
        !get_i32(o, "leader_epoch", &out->leader_epoch) ||
        !get_i32(o, "controller_epoch", &out->controller_epoch) ||
        !parse_int_array(json_object_get(o, "isr"), &out->isr, &out->nisr)) {
        json_decref(o);
        return STRATA_ECORRUPT;
    }
    json_decref(o);
    return 0;
}

char *zkpath_topic_config_json(const char *const *keys, const char *const *values, size_t n) {
    json_t *o = json_object();
    json_object_set_new(o, "version", json_integer(1));
    json_t *cfg = json_object();
    for (size_t i = 0; i < n; i++) {
        json_object_set_new(cfg, keys[i], json_string(values[i] ? values[i] : ""));
    }
    json_object_set_new(o, "config", cfg);
    return dump(o);
}

int zkpath_topic_config_parse(const char *data, size_t len, props_t *out) {
    json_t *o = load(data, len);
    json_t *cfg = json_object_get(o, "config");
    if (!json_is_object(o) || !json_is_object(cfg)) {
        json_decref(o);
        return STRATA_ECORRUPT;
    }
    const char *key;
    json_t *val;
    json_object_foreach(cfg, key, val) {
        if (json_is_string(val)) {
            props_set(out, key, json_string_value(val), "zookeeper");
        }
    }
    json_decref(o);
    return 0;
}

char *zkpath_cluster_id_json(const char *id) {
    json_t *o = json_object();
    json_object_set_new(o, "version", json_string("1"));
    json_object_set_new(o, "id", json_string(id));
    return dump(o);
}

int zkpath_cluster_id_parse(const char *data, size_t len, char out[23]) {
    json_t *o = load(data, len);
    const char *id = json_string_value(json_object_get(o, "id"));
    int rc = STRATA_ECORRUPT;
    if (id && strlen(id) > 0 && strlen(id) <= 22) {
        strcpy(out, id);
        rc = 0;
    }
    json_decref(o);
    return rc;
}

char *zkpath_topic(const char *topic) {
    return xasprintf("/brokers/topics/%s", topic);
}
char *zkpath_topic_partitions(const char *topic) {
    return xasprintf("/brokers/topics/%s/partitions", topic);
}
char *zkpath_partition(const char *topic, int32_t partition) {
    return xasprintf("/brokers/topics/%s/partitions/%d", topic, (int)partition);
}
char *zkpath_partition_state(const char *topic, int32_t partition) {
    return xasprintf("/brokers/topics/%s/partitions/%d/state", topic, (int)partition);
}
char *zkpath_topic_config(const char *topic) {
    return xasprintf("/config/topics/%s", topic);
}
char *zkpath_delete_topic(const char *topic) {
    return xasprintf("/admin/delete_topics/%s", topic);
}
char *zkpath_broker(int32_t id) {
    return xasprintf("/brokers/ids/%d", (int)id);
}
