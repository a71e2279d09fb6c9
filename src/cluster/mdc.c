/*
 * mdc: the metadata cache every broker keeps, fed from coord by watches (Kafka's
 * MetadataCache, filled the ZooKeeper way). Works the same over coord_local and coord_zk.
 *
 * What is read and watched:
 *   /brokers/ids (children) and /brokers/ids/<id> (data)  -> brokers
 *   /brokers/topics (children), /brokers/topics/<t> (assignment),
 *   /brokers/topics/<t>/partitions/<p>/state, /config/topics/<t>  -> topics
 *   /controller, /cluster/id, /admin/delete_topics (children)
 *
 * Invariants:
 *  1. Watches carry the mdc itself as their argument and say what changed by their path, so
 *     no per-watch memory exists; a watch event just re-reads (and re-arms) that path.
 *  2. Every read holds a reference (refs) until its completion runs; mdc_release() drops the
 *     owner's reference and marks the cache dead, so late completions are ignored and the
 *     memory goes with the last one. The coord session must be closed in the same loop turn
 *     as (or before) the release, because watches are not counted.
 *  3. Runs on the loop thread only. Listeners run synchronously on each change; the
 *     quiescent hook (the controller's reconcile) runs when no read is outstanding, so the
 *     controller decides on a cache that has caught up with what it was told.
 */
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_int.h"

typedef struct mdc_listener {
    mdc_listener_cb cb;
    void *arg;
} mdc_listener_t;

struct mdc {
    uv_loop_t *loop;
    coord_t *coord;
    int refs;
    bool dead;
    mdc_broker_t *brokers; /* sorted by id */
    size_t nbrokers, bcap;
    mdc_topic_t **topics; /* sorted by name */
    size_t ntopics, tcap;
    int32_t controller;
    char cluster_id[23];
    char **delq;
    size_t ndelq;
    mdc_listener_t *listeners;
    size_t nlisteners;
    int pending;
    bool changed;
    bool synced;
    mdc_quiescent_cb qcb;
    void *qarg;
};

typedef enum {
    RQ_BROKER_IDS,
    RQ_BROKER,
    RQ_TOPICS,
    RQ_TOPIC,
    RQ_STATE,
    RQ_CONFIG,
    RQ_CONTROLLER,
    RQ_CLUSTER_ID,
    RQ_DELQ,
    RQ_EXISTS
} rq_kind_t;

typedef struct mdc_req {
    mdc_t *m;
    rq_kind_t kind;
    char *path; /* for the retry after a connection loss */
    bool children;
    char *topic;
    int32_t id; /* broker id or partition */
} mdc_req_t;

static void on_watch(void *arg, coord_event_t ev, const char *path);

/* ---------------------------------------------------------------- helpers */

static void broker_destroy(mdc_broker_t *b) {
    free(b->host);
    free(b->rack);
    b->host = b->rack = NULL;
}

static void partition_destroy(mdc_partition_t *p) {
    free(p->replicas);
    free(p->isr);
}

static void topic_free(mdc_topic_t *t) {
    if (!t) {
        return;
    }
    for (int32_t i = 0; i < t->npartitions; i++) {
        partition_destroy(&t->partitions[i]);
    }
    free(t->partitions);
    props_free(t->config);
    free(t->name);
    free(t);
}

static void mdc_destroy(mdc_t *m) {
    for (size_t i = 0; i < m->nbrokers; i++) {
        broker_destroy(&m->brokers[i]);
    }
    free(m->brokers);
    for (size_t i = 0; i < m->ntopics; i++) {
        topic_free(m->topics[i]);
    }
    free(m->topics);
    for (size_t i = 0; i < m->ndelq; i++) {
        free(m->delq[i]);
    }
    free(m->delq);
    free(m->listeners);
    free(m);
}

static void notify(mdc_t *m, mdc_event_t ev, const char *topic, int32_t partition) {
    m->changed = true;
    for (size_t i = 0; i < m->nlisteners && !m->dead; i++) {
        m->listeners[i].cb(m->listeners[i].arg, ev, topic, partition);
    }
}

static size_t broker_pos(const mdc_t *m, int32_t id, bool *found) {
    size_t lo = 0, hi = m->nbrokers;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->brokers[mid].id == id) {
            *found = true;
            return mid;
        }
        if (m->brokers[mid].id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = false;
    return lo;
}

static size_t topic_pos(const mdc_t *m, const char *name, bool *found) {
    size_t lo = 0, hi = m->ntopics;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(m->topics[mid]->name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = false;
    return lo;
}

static mdc_topic_t *topic_get(const mdc_t *m, const char *name) {
    bool found;
    size_t pos = topic_pos(m, name, &found);
    return found ? m->topics[pos] : NULL;
}

static bool in_delq(const mdc_t *m, const char *name) {
    for (size_t i = 0; i < m->ndelq; i++) {
        if (strcmp(m->delq[i], name) == 0) {
            return true;
        }
    }
    return false;
}

/* ---------------------------------------------------------------- reads */

static mdc_req_t *req_new(mdc_t *m, rq_kind_t kind, const char *topic, int32_t id) {
    mdc_req_t *r = xcalloc(1, sizeof(*r));
    r->m = m;
    r->kind = kind;
    r->topic = topic ? xstrdup(topic) : NULL;
    r->id = id;
    m->refs++;
    m->pending++;
    return r;
}

static void req_failed_to_issue(mdc_req_t *r, int rc, const char *path) {
    slog_warn("[MetadataCache] read %s: %s", path, strata_strerror(rc));
    r->m->refs--;
    r->m->pending--;
    free(r->topic);
    free(r->path);
    free(r);
}

static void on_data(void *arg, int rc, const char *data, size_t len, int32_t version);
static void on_children(void *arg, int rc, const char *const *names, size_t count);

static void read_data(mdc_t *m, rq_kind_t kind, const char *path, const char *topic, int32_t id) {
    mdc_req_t *r = req_new(m, kind, topic, id);
    r->path = xstrdup(path);
    int rc = coord_get(m->coord, path, on_watch, m, on_data, r);
    if (rc != 0) {
        req_failed_to_issue(r, rc, path);
    }
}

static void read_children(mdc_t *m, rq_kind_t kind, const char *path) {
    mdc_req_t *r = req_new(m, kind, NULL, -1);
    r->path = xstrdup(path);
    r->children = true;
    int rc = coord_children(m->coord, path, on_watch, m, on_children, r);
    if (rc != 0) {
        req_failed_to_issue(r, rc, path);
    }
}

static void read_broker(mdc_t *m, int32_t id) {
    char *path = zkpath_broker(id);
    read_data(m, RQ_BROKER, path, NULL, id);
    free(path);
}

static void read_topic(mdc_t *m, const char *t) {
    char *path = zkpath_topic(t);
    read_data(m, RQ_TOPIC, path, t, -1);
    free(path);
}

static void read_state(mdc_t *m, const char *t, int32_t p) {
    char *path = zkpath_partition_state(t, p);
    read_data(m, RQ_STATE, path, t, p);
    free(path);
}

static void read_config(mdc_t *m, const char *t) {
    char *path = zkpath_topic_config(t);
    read_data(m, RQ_CONFIG, path, t, -1);
    free(path);
}

static void read_all(mdc_t *m) {
    read_children(m, RQ_BROKER_IDS, "/brokers/ids");
    read_children(m, RQ_TOPICS, "/brokers/topics");
    read_children(m, RQ_DELQ, "/admin/delete_topics");
    read_data(m, RQ_CONTROLLER, "/controller", NULL, -1);
    read_data(m, RQ_CLUSTER_ID, "/cluster/id", NULL, -1);
}

/* ---------------------------------------------------------------- results */

static void got_broker_ids(mdc_t *m, const char *const *names, size_t count) {
    /* Drop brokers that are gone. */
    bool removed = false;
    for (size_t i = 0; i < m->nbrokers;) {
        bool present = false;
        for (size_t j = 0; j < count; j++) {
            int64_t id;
            if (parse_int64(names[j], &id) == 0 && id == m->brokers[i].id) {
                present = true;
                break;
            }
        }
        if (present) {
            i++;
            continue;
        }
        broker_destroy(&m->brokers[i]);
        memmove(&m->brokers[i], &m->brokers[i + 1], (m->nbrokers - i - 1) * sizeof(mdc_broker_t));
        m->nbrokers--;
        removed = true;
    }
    for (size_t j = 0; j < count; j++) {
        int64_t id;
        bool found;
        if (parse_int64(names[j], &id) != 0 || id < 0 || id > INT32_MAX) {
            continue;
        }
        broker_pos(m, (int32_t)id, &found);
        if (!found) {
            read_broker(m, (int32_t)id);
        }
    }
    if (removed) {
        notify(m, MDC_EV_BROKERS, NULL, -1);
    }
}

static void got_broker(mdc_t *m, int32_t id, int rc, const char *data, size_t len) {
    bool found;
    size_t pos = broker_pos(m, id, &found);
    if (rc != 0) {
        if (found) {
            broker_destroy(&m->brokers[pos]);
            memmove(&m->brokers[pos], &m->brokers[pos + 1],
                    (m->nbrokers - pos - 1) * sizeof(mdc_broker_t));
            m->nbrokers--;
            notify(m, MDC_EV_BROKERS, NULL, -1);
        }
        return;
    }
    mdc_broker_t b;
    if (zkpath_broker_parse(data, len, id, &b) != 0) {
        slog_warn("[MetadataCache] /brokers/ids/%d: unreadable registration", (int)id);
        return;
    }
    if (found) {
        mdc_broker_t *o = &m->brokers[pos];
        bool same = strcmp(o->host, b.host) == 0 && o->port == b.port &&
                    ((!o->rack && !b.rack) || (o->rack && b.rack && strcmp(o->rack, b.rack) == 0));
        broker_destroy(o);
        *o = b;
        if (same) {
            return;
        }
    } else {
        if (m->nbrokers == m->bcap) {
            m->bcap = m->bcap ? m->bcap * 2 : 8;
            m->brokers = xrealloc(m->brokers, m->bcap * sizeof(mdc_broker_t));
        }
        memmove(&m->brokers[pos + 1], &m->brokers[pos], (m->nbrokers - pos) * sizeof(mdc_broker_t));
        m->brokers[pos] = b;
        m->nbrokers++;
    }
    notify(m, MDC_EV_BROKERS, NULL, -1);
}

static void topic_remove(mdc_t *m, const char *name) {
    bool found;
    size_t pos = topic_pos(m, name, &found);
    if (!found) {
        return;
    }
    mdc_topic_t *t = m->topics[pos];
    memmove(&m->topics[pos], &m->topics[pos + 1], (m->ntopics - pos - 1) * sizeof(mdc_topic_t *));
    m->ntopics--;
    char *copy = xstrdup(t->name);
    topic_free(t);
    notify(m, MDC_EV_TOPIC_DELETED, copy, -1);
    free(copy);
}

static void got_topics(mdc_t *m, const char *const *names, size_t count) {
    for (size_t i = 0; i < m->ntopics;) {
        bool present = false;
        for (size_t j = 0; j < count; j++) {
            if (strcmp(names[j], m->topics[i]->name) == 0) {
                present = true;
                break;
            }
        }
        if (present) {
            i++;
        } else {
            topic_remove(m, m->topics[i]->name);
        }
    }
    for (size_t j = 0; j < count; j++) {
        if (!topic_get(m, names[j]) && ctl_valid_topic_name(names[j])) {
            read_topic(m, names[j]);
        }
    }
}

static void got_topic(mdc_t *m, const char *name, int rc, const char *data, size_t len,
                      int32_t version) {
    if (rc != 0) {
        topic_remove(m, name);
        return;
    }
    zkpath_assignment_t a;
    if (zkpath_assignment_parse(data, len, &a) != 0) {
        slog_warn("[MetadataCache] /brokers/topics/%s: unreadable assignment", name);
        return;
    }
    mdc_topic_t *t = topic_get(m, name);
    bool created = false;
    if (!t) {
        bool found;
        size_t pos = topic_pos(m, name, &found);
        t = xcalloc(1, sizeof(*t));
        t->name = xstrdup(name);
        t->internal = strcmp(name, "__consumer_offsets") == 0;
        t->config = props_new();
        if (m->ntopics == m->tcap) {
            m->tcap = m->tcap ? m->tcap * 2 : 8;
            m->topics = xrealloc(m->topics, m->tcap * sizeof(mdc_topic_t *));
        }
        memmove(&m->topics[pos + 1], &m->topics[pos], (m->ntopics - pos) * sizeof(mdc_topic_t *));
        m->topics[pos] = t;
        m->ntopics++;
        created = true;
        read_config(m, name);
    }
    t->deleting = in_delq(m, name);
    t->assignment_version = version;
    if (a.has_id) {
        memcpy(t->id, a.topic_id, 16);
    }
    int32_t old = t->npartitions;
    if (a.npartitions != old) {
        for (int32_t i = a.npartitions; i < old; i++) {
            partition_destroy(&t->partitions[i]);
        }
        t->partitions = xrealloc(t->partitions, (size_t)(a.npartitions ? a.npartitions : 1) *
                                                    sizeof(mdc_partition_t));
        for (int32_t i = old; i < a.npartitions; i++) {
            mdc_partition_t *p = &t->partitions[i];
            memset(p, 0, sizeof(*p));
            p->partition = i;
            p->leader = -1;
            p->state_version = -1;
        }
        t->npartitions = a.npartitions;
    }
    for (int32_t i = 0; i < a.npartitions; i++) {
        mdc_partition_t *p = &t->partitions[i];
        free(p->replicas);
        p->replicas = a.replicas[i];
        p->nreplicas = a.nreplicas[i];
        a.replicas[i] = NULL;
    }
    for (int32_t i = old; i < a.npartitions; i++) {
        read_state(m, name, i);
    }
    zkpath_assignment_destroy(&a);
    (void)created;
    notify(m, MDC_EV_TOPIC, name, -1);
}

static void got_state(mdc_t *m, const char *name, int32_t pid, int rc, const char *data, size_t len,
                      int32_t version) {
    mdc_topic_t *t = topic_get(m, name);
    if (!t || pid < 0 || pid >= t->npartitions) {
        return;
    }
    mdc_partition_t *p = &t->partitions[pid];
    if (rc != 0) {
        bool changed = !p->state_known || p->state_version != -1;
        p->state_known = true;
        p->state_version = -1;
        p->leader = -1;
        p->nisr = 0;
        if (changed) {
            notify(m, MDC_EV_PARTITION, name, pid);
        }
        return;
    }
    zkpath_state_t st;
    if (zkpath_state_parse(data, len, &st) != 0) {
        slog_warn("[MetadataCache] %s-%d: unreadable partition state", name, (int)pid);
        return;
    }
    bool changed = !p->state_known || p->state_version != version || p->leader != st.leader ||
                   p->leader_epoch != st.leader_epoch;
    p->state_known = true;
    p->leader = st.leader;
    p->leader_epoch = st.leader_epoch;
    p->controller_epoch = st.controller_epoch;
    p->state_version = version;
    free(p->isr);
    p->isr = st.isr;
    p->nisr = st.nisr;
    if (changed) {
        notify(m, MDC_EV_PARTITION, name, pid);
    }
}

static void got_config(mdc_t *m, const char *name, int rc, const char *data, size_t len) {
    mdc_topic_t *t = topic_get(m, name);
    if (!t) {
        return;
    }
    props_t *cfg = props_new();
    if (rc == 0 && zkpath_topic_config_parse(data, len, cfg) != 0) {
        slog_warn("[MetadataCache] /config/topics/%s: unreadable config", name);
    }
    props_free(t->config);
    t->config = cfg;
    notify(m, MDC_EV_TOPIC, name, -1);
}

static void got_delq(mdc_t *m, const char *const *names, size_t count) {
    for (size_t i = 0; i < m->ndelq; i++) {
        free(m->delq[i]);
    }
    free(m->delq);
    m->delq = xcalloc(count ? count : 1, sizeof(char *));
    for (size_t i = 0; i < count; i++) {
        m->delq[i] = xstrdup(names[i]);
    }
    m->ndelq = count;
    for (size_t i = 0; i < m->ntopics; i++) {
        mdc_topic_t *t = m->topics[i];
        bool d = in_delq(m, t->name);
        if (d != t->deleting) {
            t->deleting = d;
            notify(m, MDC_EV_TOPIC, t->name, -1);
        }
    }
    m->changed = true;
}

static void req_done(mdc_req_t *r) {
    mdc_t *m = r->m;
    free(r->topic);
    free(r->path);
    free(r);
    m->pending--;
    m->refs--;
    if (m->dead) {
        if (m->refs == 0) {
            mdc_destroy(m);
        }
        return;
    }
    if (m->pending == 0) {
        bool first = !m->synced;
        m->synced = true;
        if ((m->changed || first) && m->qcb) {
            m->changed = false;
            m->qcb(m->qarg);
        }
    }
}

/* A read lost with the connection is sent again (coord holds it until the session is back;
 * watches of the same session survive a connection loss). @returns true when re-sent. */
static bool retry(mdc_req_t *r, int rc) {
    if (rc != STRATA_ECONNLOSS || r->m->dead) {
        return false;
    }
    int src = r->children ? coord_children(r->m->coord, r->path, on_watch, r->m, on_children, r)
                          : coord_get(r->m->coord, r->path, on_watch, r->m, on_data, r);
    return src == 0;
}

static void on_data(void *arg, int rc, const char *data, size_t len, int32_t version) {
    mdc_req_t *r = arg;
    mdc_t *m = r->m;
    if (m->dead || rc == STRATA_ESHUTDOWN) {
        req_done(r);
        return;
    }
    if (retry(r, rc)) {
        return;
    }
    if (rc != 0 && rc != STRATA_ENOTFOUND) {
        slog_warn("[MetadataCache] read failed: %s", strata_strerror(rc));
        req_done(r);
        return;
    }
    switch (r->kind) {
    case RQ_BROKER:
        got_broker(m, r->id, rc, data, len);
        break;
    case RQ_TOPIC:
        got_topic(m, r->topic, rc, data, len, version);
        break;
    case RQ_STATE:
        got_state(m, r->topic, r->id, rc, data, len, version);
        break;
    case RQ_CONFIG:
        got_config(m, r->topic, rc, data, len);
        break;
    case RQ_CONTROLLER: {
        int32_t id = -1;
        if (rc == 0 && zkpath_controller_parse(data, len, &id) != 0) {
            id = -1;
        }
        if (id != m->controller) {
            m->controller = id;
            notify(m, MDC_EV_CONTROLLER, NULL, -1);
        }
        break;
    }
    case RQ_CLUSTER_ID:
        if (rc == 0) {
            zkpath_cluster_id_parse(data, len, m->cluster_id);
        }
        break;
    case RQ_EXISTS:
    default:
        break;
    }
    req_done(r);
}

static void on_children(void *arg, int rc, const char *const *names, size_t count) {
    mdc_req_t *r = arg;
    mdc_t *m = r->m;
    if (m->dead || rc == STRATA_ESHUTDOWN) {
        req_done(r);
        return;
    }
    if (retry(r, rc)) {
        return;
    }
    if (rc == STRATA_ENOTFOUND) {
        /* The parent is not there yet: wait for its creation (an exists watch). */
        const char *path = r->kind == RQ_BROKER_IDS ? "/brokers/ids"
                           : r->kind == RQ_TOPICS   ? "/brokers/topics"
                                                    : "/admin/delete_topics";
        read_data(m, RQ_EXISTS, path, NULL, -1);
        req_done(r);
        return;
    }
    if (rc != 0) {
        slog_warn("[MetadataCache] list failed: %s", strata_strerror(rc));
        req_done(r);
        return;
    }
    switch (r->kind) {
    case RQ_BROKER_IDS:
        got_broker_ids(m, names, count);
        break;
    case RQ_TOPICS:
        got_topics(m, names, count);
        break;
    case RQ_DELQ:
        got_delq(m, names, count);
        break;
    default:
        break;
    }
    req_done(r);
}

/* ---------------------------------------------------------------- watches */

static void on_watch(void *arg, coord_event_t ev, const char *path) {
    mdc_t *m = arg;
    if (m->dead || !path) {
        return;
    }
    static const char ids[] = "/brokers/ids", topics[] = "/brokers/topics",
                      cfg[] = "/config/topics/";
    if (strcmp(path, ids) == 0) {
        read_children(m, RQ_BROKER_IDS, ids);
    } else if (strncmp(path, ids, sizeof(ids) - 1) == 0 && path[sizeof(ids) - 1] == '/') {
        int64_t id;
        if (parse_int64(path + sizeof(ids), &id) == 0 && id >= 0 && id <= INT32_MAX) {
            read_broker(m, (int32_t)id);
        }
    } else if (strcmp(path, topics) == 0) {
        read_children(m, RQ_TOPICS, topics);
    } else if (strncmp(path, topics, sizeof(topics) - 1) == 0 && path[sizeof(topics) - 1] == '/') {
        const char *rest = path + sizeof(topics);
        const char *slash = strchr(rest, '/');
        if (!slash) {
            if (ev != COORD_EV_DELETED) {
                read_topic(m, rest);
            }
            return;
        }
        char *name = xstrndup(rest, (size_t)(slash - rest));
        int p = -1;
        char tail[16];
        if (sscanf(slash, "/partitions/%d/%15s", &p, tail) == 2 && strcmp(tail, "state") == 0 &&
            topic_get(m, name)) {
            read_state(m, name, p);
        }
        free(name);
    } else if (strncmp(path, cfg, sizeof(cfg) - 1) == 0) {
        if (topic_get(m, path + sizeof(cfg) - 1)) {
            read_config(m, path + sizeof(cfg) - 1);
        }
    } else if (strcmp(path, "/controller") == 0) {
        read_data(m, RQ_CONTROLLER, path, NULL, -1);
    } else if (strcmp(path, "/admin/delete_topics") == 0) {
        read_children(m, RQ_DELQ, path);
    } else if (strcmp(path, "/cluster/id") == 0) {
        read_data(m, RQ_CLUSTER_ID, path, NULL, -1);
    }
}

/* ---------------------------------------------------------------- API */

mdc_t *mdc_new(uv_loop_t *loop, coord_t *coord) {
    mdc_t *m = xcalloc(1, sizeof(*m));
    m->loop = loop;
    m->coord = coord;
    m->refs = 1;
    m->controller = -1;
    read_all(m);
    return m;
}

void mdc_release(mdc_t *m) {
    if (!m) {
        return;
    }
    m->dead = true;
    m->refs--;
    if (m->refs == 0) {
        mdc_destroy(m);
    }
}

void mdc_resync(mdc_t *m) {
    m->changed = true;
    read_all(m);
    for (size_t i = 0; i < m->nbrokers; i++) {
        read_broker(m, m->brokers[i].id);
    }
    for (size_t i = 0; i < m->ntopics; i++) {
        mdc_topic_t *t = m->topics[i];
        read_topic(m, t->name);
        read_config(m, t->name);
        for (int32_t p = 0; p < t->npartitions; p++) {
            read_state(m, t->name, p);
        }
    }
}

void mdc_set_quiescent_cb(mdc_t *m, mdc_quiescent_cb cb, void *arg) {
    m->qcb = cb;
    m->qarg = arg;
}

bool mdc_synced(const mdc_t *m) {
    return m->synced && m->pending == 0;
}

size_t mdc_delete_queue_count(const mdc_t *m) {
    return m->ndelq;
}

const char *mdc_delete_queue_at(const mdc_t *m, size_t i) {
    return i < m->ndelq ? m->delq[i] : NULL;
}

void mdc_refresh_partition(mdc_t *m, const char *topic, int32_t partition) {
    if (!m->dead) {
        m->changed = true; /* the quiescent hook runs even when nothing differs */
        read_state(m, topic, partition);
    }
}

const mdc_broker_t *mdc_broker(const mdc_t *m, int32_t id) {
    bool found;
    size_t pos = broker_pos(m, id, &found);
    return found ? &m->brokers[pos] : NULL;
}

size_t mdc_broker_count(const mdc_t *m) {
    return m->nbrokers;
}

const mdc_broker_t *mdc_broker_at(const mdc_t *m, size_t i) {
    return i < m->nbrokers ? &m->brokers[i] : NULL;
}

const mdc_topic_t *mdc_topic(const mdc_t *m, const char *name) {
    return name ? topic_get(m, name) : NULL;
}

size_t mdc_topic_count(const mdc_t *m) {
    return m->ntopics;
}

const mdc_topic_t *mdc_topic_at(const mdc_t *m, size_t i) {
    return i < m->ntopics ? m->topics[i] : NULL;
}

const mdc_partition_t *mdc_partition(const mdc_t *m, const char *topic, int32_t partition) {
    const mdc_topic_t *t = mdc_topic(m, topic);
    if (!t || partition < 0 || partition >= t->npartitions) {
        return NULL;
    }
    return &t->partitions[partition];
}

int32_t mdc_controller_id(const mdc_t *m) {
    return m->controller;
}

const char *mdc_cluster_id(const mdc_t *m) {
    return m->cluster_id[0] ? m->cluster_id : NULL;
}

void mdc_add_listener(mdc_t *m, mdc_listener_cb cb, void *arg) {
    m->listeners = xrealloc(m->listeners, (m->nlisteners + 1) * sizeof(mdc_listener_t));
    m->listeners[m->nlisteners].cb = cb;
    m->listeners[m->nlisteners].arg = arg;
    m->nlisteners++;
}
