/*
 * coordinator: the consumer-group state machine (gc_), Kafka's classic protocol as in
 * GroupCoordinator/GroupMetadata, plus committed offsets and their __consumer_offsets
 * records. Pure: time from gc_clock_t, persistence through gc_store_t, waiting requests
 * complete through callbacks. See include/strata/group.h for the contract.
 *
 * Invariants (beyond group.h):
 *  1. A member with join_cb set is "awaiting join"; with sync_cb set, "awaiting sync".
 *     Awaiting members are not expired by their session timeout (Kafka's
 *     hasSatisfiedHeartbeat); the rebalance / sync deadlines bound the wait instead.
 *  2. join_deadline != INT64_MAX only in PreparingRebalance; sync_deadline only in
 *     CompletingRebalance.
 *  3. Callbacks are cleared from the member before they are called, so a callback may
 *     call back into gc_ (e.g. a connection closing) without seeing itself pending.
 *  4. Every store append someone waits for is a gc_op_t in gc->ops until its completion
 *     (op_done) ran. An op names its group by id and incarnation, never by pointer: a
 *     group unloaded, deleted or re-created meanwhile is not touched by the completion.
 *  5. Committed offsets enter g->offsets only when their append completed successfully
 *     (Kafka's prepareOffsetCommit / onOffsetCommitAppend); until then they are counted
 *     in g->pending_offsets. An entry is replaced only by a later append (seq).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "group/group_int.h"
#include "strata/group.h"

enum { PART_NONE = 0, PART_LOADING = 1, PART_ACTIVE = 2 };

typedef struct proto_own {
    char *name;
    uint8_t *metadata;
    size_t len;
} proto_own_t;

typedef struct member {
    char *id;
    char *instance_id; /* NULL = dynamic */
    char *client_id;
    char *client_host;
    int32_t session_ms;
    int32_t rebalance_ms;
    proto_own_t *protocols;
    size_t nprotocols;
    uint8_t *assignment;
    size_t assignment_len;
    gc_join_cb join_cb;
    void *join_arg;
    gc_sync_cb sync_cb;
    void *sync_arg;
    int64_t hb_deadline;
} member_t;

typedef struct pending {
    char *id;
    int64_t deadline;
} pending_t;

typedef struct offset_ent {
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;
    int64_t commit_ts;
    uint64_t seq; /* the append it came from (gc->next_seq order); 0 = loaded */
} offset_ent_t;

typedef struct group {
    char *id;
    int32_t partition;
    gc_state_t state;
    int64_t state_ts; /* wall ms of the last state change */
    int32_t generation;
    char *protocol_type; /* NULL when none */
    char *protocol_name; /* NULL when none */
    char *leader;        /* NULL when none */
    member_t **members;  /* join order */
    size_t nmembers;
    pending_t *pending;
    size_t npending;
    int64_t join_deadline;
    int64_t sync_deadline;
    bool initial_delay;
    int64_t initial_remaining;
    bool new_member_added;
    map_t *offsets;         /* topic '\0' be32 partition -> offset_ent_t */
    map_t *pending_offsets; /* same key -> number of commits in flight (uintptr_t) */
    uint64_t incarnation;   /* unique per group_new: ops recognise their group by it */
} group_t;

enum { OP_COMMIT = 0, OP_SYNC = 1, OP_STATIC_JOIN = 2 };

/* A store append waiting for its completion (invariant 4). */
typedef struct gc_op {
    struct gc_op *prev, *next;
    gc_t *gc;
    int kind;
    char *group_id;
    uint64_t incarnation;
    uint64_t seq;
    int32_t generation;
    /* OP_COMMIT: the offsets to apply on success, and the caller's answer */
    offset_ent_t *ents;
    size_t nents;
    gc_commit_partition_t *parts;
    size_t nparts;
    gc_commit_cb cb;
    void *arg;
    /* OP_STATIC_JOIN: the static member's replacement to confirm or revert */
    char *instance_id;
    char *old_id;
    char *new_id;
    /* OP_SYNC: the assignment this record stores (member id, bytes), handed out on
     * success even if the leader resent another one meanwhile (Kafka's doSyncGroup) */
    char **asg_ids;
    uint8_t **asg_data;
    size_t *asg_len;
    size_t nasg;
} gc_op_t;

struct gc {
    gc_config_t cfg;
    gc_clock_t clock;
    gc_store_t store;
    map_t *groups; /* group id -> group_t */
    uint8_t *pstate;
    int64_t next_retention_check;
    gc_op_t *ops; /* appends waiting for their completion */
    uint64_t next_seq;
    uint64_t next_incarnation;
};

/* ---------------------------------------------------------------- helpers */

void gc_config_default(gc_config_t *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->offsets_topic_num_partitions = 50;
    cfg->offsets_topic_replication_factor = 3;
    cfg->offsets_topic_segment_bytes = 104857600;
    cfg->group_min_session_timeout_ms = 6000;
    cfg->group_max_session_timeout_ms = 1800000;
    cfg->group_initial_rebalance_delay_ms = 3000;
    cfg->group_max_size = INT32_MAX;
    cfg->offset_metadata_max_bytes = 4096;
    cfg->offsets_retention_ms = 10080LL * 60 * 1000;
    cfg->offsets_retention_check_interval_ms = 600000;
    cfg->max_member_metadata_bytes = 1 << 20;
    cfg->offsets_commit_timeout_ms = 5000;
}

static int64_t now_ms(const gc_t *gc) {
    return gc->clock.now_ms(gc->clock.ctx);
}

static int64_t wall_ms(const gc_t *gc) {
    return gc->clock.wall_ms ? gc->clock.wall_ms(gc->clock.ctx) : clock_wall_ms();
}

static void wake(gc_t *gc) {
    if (gc->clock.wake_at) {
        gc->clock.wake_at(gc->clock.ctx, gc_next_deadline(gc));
    }
}

static bool streq(const char *a, const char *b) {
    if (!a || !b) {
        return a == b;
    }
    return strcmp(a, b) == 0;
}

static char *dup_or_null(const char *s) {
    return s ? xstrdup(s) : NULL;
}

const char *gc_state_name(gc_state_t s) {
    switch (s) {
    case GC_EMPTY:
        return "Empty";
    case GC_PREPARING_REBALANCE:
        return "PreparingRebalance";
    case GC_COMPLETING_REBALANCE:
        return "CompletingRebalance";
    case GC_STABLE:
        return "Stable";
    case GC_DEAD:
        return "Dead";
    }
    return "Unknown";
}

int32_t gc_java_string_hash(const char *s) {
    uint32_t h = 0;
    const uint8_t *p = (const uint8_t *)s;
    while (*p) {
        uint32_t cp;
        int n;
        if (p[0] < 0x80) {
            cp = p[0];
            n = 1;
        } else if ((p[0] & 0xe0) == 0xc0 && (p[1] & 0xc0) == 0x80) {
            cp = (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
            n = 2;
        } else if ((p[0] & 0xf0) == 0xe0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80) {
            cp = (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
            n = 3;
        } else if ((p[0] & 0xf8) == 0xf0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
                   (p[3] & 0xc0) == 0x80) {
            cp = (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
                 (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
            n = 4;
        } else {
            cp = 0xfffd; /* malformed: Java's decoder substitutes U+FFFD */
            n = 1;
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = h * 31 + (0xd800 + (cp >> 10));
            h = h * 31 + (0xdc00 + (cp & 0x3ff));
        } else {
            h = h * 31 + cp;
        }
        p += n;
    }
    return (int32_t)h;
}

int32_t gc_partition_for(const gc_t *gc, const char *group_id) {
    int32_t h = gc_java_string_hash(group_id);
    int32_t a = h == INT32_MIN ? 0 : (h < 0 ? -h : h);
    return a % gc->cfg.offsets_topic_num_partitions;
}

const gc_config_t *gc_config(const gc_t *gc) {
    return &gc->cfg;
}

static char *new_member_id(const char *prefix) {
    uint8_t r[16];
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        uint64_t t = (uint64_t)clock_mono_ns();
        static uint64_t ctr;
        ctr++;
        memcpy(r, &t, 8);
        memcpy(r + 8, &ctr, 8);
    }
    r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);
    r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
    return xasprintf("%s-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                     prefix, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
                     r[11], r[12], r[13], r[14], r[15]);
}

/* ---------------------------------------------------------------- objects */

static void free_protocols(member_t *m) {
    for (size_t i = 0; i < m->nprotocols; i++) {
        free(m->protocols[i].name);
        free(m->protocols[i].metadata);
    }
    free(m->protocols);
    m->protocols = NULL;
    m->nprotocols = 0;
}

static void set_protocols(member_t *m, const gc_protocol_t *p, size_t n) {
    free_protocols(m);
    m->protocols = xcalloc(n ? n : 1, sizeof(*m->protocols));
    for (size_t i = 0; i < n; i++) {
        m->protocols[i].name = xstrdup(p[i].name ? p[i].name : "");
        m->protocols[i].len = p[i].len;
        m->protocols[i].metadata = xmalloc(p[i].len ? p[i].len : 1);
        if (p[i].len) {
            memcpy(m->protocols[i].metadata, p[i].metadata, p[i].len);
        }
    }
    m->nprotocols = n;
}

static void member_free(member_t *m) {
    if (!m) {
        return;
    }
    free(m->id);
    free(m->instance_id);
    free(m->client_id);
    free(m->client_host);
    free_protocols(m);
    free(m->assignment);
    free(m);
}

static void offset_free(void *p) {
    offset_ent_t *o = p;
    free(o->topic);
    free(o->metadata);
    free(o);
}

static group_t *group_new(gc_t *gc, const char *id) {
    group_t *g = xcalloc(1, sizeof(*g));
    g->id = xstrdup(id);
    g->partition = gc_partition_for(gc, id);
    g->state = GC_EMPTY;
    g->state_ts = wall_ms(gc);
    g->join_deadline = INT64_MAX;
    g->sync_deadline = INT64_MAX;
    g->offsets = map_new();
    g->pending_offsets = map_new();
    g->incarnation = ++gc->next_incarnation;
    map_put_str(gc->groups, id, g);
    return g;
}

/* Frees a group that is no longer in gc->groups. Pending callbacks must be gone. */
static void group_free(group_t *g) {
    for (size_t i = 0; i < g->nmembers; i++) {
        member_free(g->members[i]);
    }
    free(g->members);
    for (size_t i = 0; i < g->npending; i++) {
        free(g->pending[i].id);
    }
    free(g->pending);
    map_free(g->offsets, offset_free);
    map_free(g->pending_offsets, NULL);
    free(g->id);
    free(g->protocol_type);
    free(g->protocol_name);
    free(g->leader);
    free(g);
}

static group_t *get_group(const gc_t *gc, const char *id) {
    return id ? map_get_str(gc->groups, id) : NULL;
}

static member_t *find_member(const group_t *g, const char *id) {
    for (size_t i = 0; i < g->nmembers; i++) {
        if (strcmp(g->members[i]->id, id) == 0) {
            return g->members[i];
        }
    }
    return NULL;
}

static member_t *find_instance(const group_t *g, const char *instance_id) {
    if (!instance_id) {
        return NULL;
    }
    for (size_t i = 0; i < g->nmembers; i++) {
        if (streq(g->members[i]->instance_id, instance_id)) {
            return g->members[i];
        }
    }
    return NULL;
}

/* Kafka's isStaticMemberFenced: the instance id belongs to a different member id. */
static bool static_fenced(const group_t *g, const char *member_id, const char *instance_id) {
    const member_t *m = find_instance(g, instance_id);
    return m && member_id && strcmp(m->id, member_id) != 0;
}

static ssize_t find_pending(const group_t *g, const char *id) {
    for (size_t i = 0; i < g->npending; i++) {
        if (strcmp(g->pending[i].id, id) == 0) {
            return (ssize_t)i;
        }
    }
    return -1;
}

static void remove_pending_at(group_t *g, size_t i) {
    free(g->pending[i].id);
    g->pending[i] = g->pending[--g->npending];
}

static void set_state(gc_t *gc, group_t *g, gc_state_t s) {
    g->state = s;
    g->state_ts = wall_ms(gc);
    if (s != GC_PREPARING_REBALANCE) {
        g->join_deadline = INT64_MAX;
        g->initial_delay = false;
    }
    if (s != GC_COMPLETING_REBALANCE) {
        g->sync_deadline = INT64_MAX;
    }
}

static int32_t max_rebalance_ms(const group_t *g) {
    int32_t mx = 0;
    for (size_t i = 0; i < g->nmembers; i++) {
        if (g->members[i]->rebalance_ms > mx) {
            mx = g->members[i]->rebalance_ms;
        }
    }
    return mx;
}

static const proto_own_t *member_protocol(const member_t *m, const char *name) {
    for (size_t i = 0; i < m->nprotocols; i++) {
        if (name && strcmp(m->protocols[i].name, name) == 0) {
            return &m->protocols[i];
        }
    }
    return NULL;
}

/* Is `name` supported by every member (except `skip`)? */
static bool all_support(const group_t *g, const char *name, const member_t *skip) {
    for (size_t i = 0; i < g->nmembers; i++) {
        if (g->members[i] != skip && !member_protocol(g->members[i], name)) {
            return false;
        }
    }
    return true;
}

static bool supports_protocols(const group_t *g, const char *type, const gc_protocol_t *p, size_t n,
                               const member_t *self) {
    size_t others = g->nmembers - (self ? 1 : 0);
    if (others == 0) {
        return type && *type && n > 0;
    }
    if (!streq(g->protocol_type, type)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i].name && all_support(g, p[i].name, self)) {
            return true;
        }
    }
    return false;
}

/* Kafka's vote: candidates are supported by all; each member votes for its first candidate. */
static char *select_protocol(const group_t *g) {
    const member_t *first = g->members[0];
    const char *best = NULL;
    size_t best_votes = 0;
    for (size_t c = 0; c < first->nprotocols; c++) {
        const char *cand = first->protocols[c].name;
        if (!all_support(g, cand, NULL)) {
            continue;
        }
        size_t votes = 0;
        for (size_t i = 0; i < g->nmembers; i++) {
            const member_t *m = g->members[i];
            for (size_t k = 0; k < m->nprotocols; k++) {
                if (all_support(g, m->protocols[k].name, NULL)) {
                    if (strcmp(m->protocols[k].name, cand) == 0) {
                        votes++;
                    }
                    break;
                }
            }
        }
        if (!best || votes > best_votes) {
            best = cand;
            best_votes = votes;
        }
    }
    return best ? xstrdup(best) : NULL;
}

static bool same_protocols(const member_t *m, const gc_protocol_t *p, size_t n) {
    if (m->nprotocols != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const proto_own_t *q = &m->protocols[i];
        if (!streq(q->name, p[i].name) || q->len != p[i].len ||
            (q->len && memcmp(q->metadata, p[i].metadata, q->len) != 0)) {
            return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------------- callbacks */

static void join_error(gc_join_cb cb, void *arg, kp_err_t err, const char *member_id) {
    gc_join_result_t r;
    memset(&r, 0, sizeof(r));
    r.error = err;
    r.generation_id = -1;
    r.leader = "";
    r.member_id = member_id ? member_id : "";
    cb(arg, &r);
}

static void sync_error(gc_sync_cb cb, void *arg, kp_err_t err) {
    gc_sync_result_t r;
    memset(&r, 0, sizeof(r));
    r.error = err;
    cb(arg, &r);
}

static void fail_join(member_t *m, kp_err_t err, const char *member_id) {
    if (m->join_cb) {
        gc_join_cb cb = m->join_cb;
        void *arg = m->join_arg;
        m->join_cb = NULL;
        m->join_arg = NULL;
        join_error(cb, arg, err, member_id);
    }
}

static void fail_sync(member_t *m, kp_err_t err) {
    if (m->sync_cb) {
        gc_sync_cb cb = m->sync_cb;
        void *arg = m->sync_arg;
        m->sync_cb = NULL;
        m->sync_arg = NULL;
        sync_error(cb, arg, err);
    }
}

/* The JoinGroup answer for m in the current generation (leader gets the members). */
static void send_join_result(group_t *g, member_t *m, gc_join_cb cb, void *arg) {
    gc_join_result_t r;
    memset(&r, 0, sizeof(r));
    r.error = KP_ERR_NONE;
    r.generation_id = g->generation;
    r.protocol_type = g->protocol_type;
    r.protocol_name = g->protocol_name;
    r.leader = g->leader ? g->leader : "";
    r.member_id = m->id;
    gc_join_member_t *list = NULL;
    if (g->leader && strcmp(g->leader, m->id) == 0) {
        list = xcalloc(g->nmembers ? g->nmembers : 1, sizeof(*list));
        for (size_t i = 0; i < g->nmembers; i++) {
            const member_t *o = g->members[i];
            const proto_own_t *p = member_protocol(o, g->protocol_name);
            list[i].member_id = o->id;
            list[i].group_instance_id = o->instance_id;
            list[i].metadata = p ? p->metadata : NULL;
            list[i].len = p ? p->len : 0;
        }
        r.members = list;
        r.nmembers = g->nmembers;
    }
    cb(arg, &r);
    free(list);
}

/* ---------------------------------------------------------------- persistence */

/* Immediate store errors of appends nobody waits for (tombstones, deletes). */
static kp_err_t map_store_error(int rc) {
    switch (rc) {
    case KP_ERR_NONE:
        return KP_ERR_NONE;
    case KP_ERR_NOT_LEADER_OR_FOLLOWER:
        return KP_ERR_NOT_COORDINATOR;
    case KP_ERR_MESSAGE_TOO_LARGE:
    case KP_ERR_RECORD_LIST_TOO_LARGE:
    case KP_ERR_INVALID_FETCH_SIZE:
        return KP_ERR_INVALID_COMMIT_OFFSET_SIZE;
    default:
        return KP_ERR_COORDINATOR_NOT_AVAILABLE;
    }
}

/* Kafka's GroupMetadataManager.storeOffsets: append error -> OffsetCommit error. */
static kp_err_t map_offset_error(kp_err_t err) {
    switch (err) {
    case KP_ERR_UNKNOWN_TOPIC_OR_PARTITION:
    case KP_ERR_NOT_ENOUGH_REPLICAS:
    case KP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
        return KP_ERR_COORDINATOR_NOT_AVAILABLE;
    case KP_ERR_NOT_LEADER_OR_FOLLOWER:
    case KP_ERR_KAFKA_STORAGE_ERROR:
        return KP_ERR_NOT_COORDINATOR;
    case KP_ERR_MESSAGE_TOO_LARGE:
    case KP_ERR_RECORD_LIST_TOO_LARGE:
    case KP_ERR_INVALID_FETCH_SIZE:
        return KP_ERR_INVALID_COMMIT_OFFSET_SIZE;
    default:
        return err; /* NONE, REQUEST_TIMED_OUT, COORDINATOR_NOT_AVAILABLE, ... */
    }
}

/* Kafka's GroupMetadataManager.storeGroup: append error -> JoinGroup/SyncGroup error. */
static kp_err_t map_group_error(kp_err_t err) {
    switch (err) {
    case KP_ERR_UNKNOWN_TOPIC_OR_PARTITION:
    case KP_ERR_NOT_ENOUGH_REPLICAS:
    case KP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
        return KP_ERR_COORDINATOR_NOT_AVAILABLE;
    case KP_ERR_NOT_LEADER_OR_FOLLOWER:
    case KP_ERR_KAFKA_STORAGE_ERROR:
        return KP_ERR_NOT_COORDINATOR;
    case KP_ERR_REQUEST_TIMED_OUT:
        return KP_ERR_REBALANCE_IN_PROGRESS;
    case KP_ERR_MESSAGE_TOO_LARGE:
    case KP_ERR_RECORD_LIST_TOO_LARGE:
    case KP_ERR_INVALID_FETCH_SIZE:
        return KP_ERR_UNKNOWN_SERVER_ERROR;
    default:
        return err;
    }
}

static gc_op_t *op_new(gc_t *gc, int kind, const group_t *g) {
    gc_op_t *op = xcalloc(1, sizeof(*op));
    op->gc = gc;
    op->kind = kind;
    op->group_id = xstrdup(g->id);
    op->incarnation = g->incarnation;
    op->seq = ++gc->next_seq;
    op->generation = g->generation;
    op->next = gc->ops;
    if (gc->ops) {
        gc->ops->prev = op;
    }
    gc->ops = op;
    return op;
}

static void op_free(gc_op_t *op) {
    for (size_t i = 0; i < op->nents; i++) {
        free(op->ents[i].topic);
        free(op->ents[i].metadata);
    }
    free(op->ents);
    free(op->group_id);
    free(op->instance_id);
    free(op->old_id);
    free(op->new_id);
    for (size_t i = 0; i < op->nasg; i++) {
        free(op->asg_ids[i]);
        free(op->asg_data[i]);
    }
    free(op->asg_ids);
    free(op->asg_data);
    free(op->asg_len);
    free(op);
}

static void op_done(void *arg, kp_err_t err);

/*
 * Appends the finished batch b to the partition. With op, op_done completes it with the
 * result (maybe before this returns, and also for an immediate failure): the caller must
 * not touch op afterwards. @returns the store's immediate error (0 when appended).
 */
static int store_append(gc_t *gc, int32_t partition, gc_batch_t *b, gc_op_t *op) {
    gc_batch_finish(b);
    int rc = 0;
    if (gc->store.append) {
        rc = gc->store.append(gc->store.ctx, partition, b->buf.data, b->buf.len,
                              op ? op_done : NULL, op);
    } else if (op) {
        op_done(op, KP_ERR_NONE); /* no persistence configured */
        return 0;
    }
    if (rc != 0) {
        slog_warn("[GroupCoordinator] append to %s-%d failed: %s", GC_OFFSETS_TOPIC, (int)partition,
                  kp_err_name(rc));
        if (op) {
            op_done(op, (kp_err_t)rc);
        }
    }
    return rc;
}

static void encode_group_value(const group_t *g, buf_t *out) {
    gc_wr_i16(out, 3);
    gc_wr_str(out, g->protocol_type ? g->protocol_type : "");
    gc_wr_i32(out, g->generation);
    gc_wr_str(out, g->protocol_name);
    gc_wr_str(out, g->leader);
    gc_wr_i64(out, g->state_ts);
    gc_wr_i32(out, (int32_t)g->nmembers);
    for (size_t i = 0; i < g->nmembers; i++) {
        const member_t *m = g->members[i];
        const proto_own_t *p = member_protocol(m, g->protocol_name);
        gc_wr_str(out, m->id);
        gc_wr_str(out, m->instance_id);
        gc_wr_str(out, m->client_id);
        gc_wr_str(out, m->client_host);
        gc_wr_i32(out, m->rebalance_ms);
        gc_wr_i32(out, m->session_ms);
        gc_wr_bytes(out, p ? p->metadata : NULL, p ? p->len : 0);
        gc_wr_bytes(out, m->assignment, m->assignment ? m->assignment_len : 0);
    }
}

/* Appends the group's metadata record; op as store_append (NULL: nobody waits). */
static int store_group(gc_t *gc, group_t *g, gc_op_t *op) {
    buf_t k = BUF_INIT, v = BUF_INIT;
    gc_encode_group_key(&k, g->id);
    encode_group_value(g, &v);
    gc_batch_t b;
    gc_batch_init(&b, wall_ms(gc));
    gc_batch_add(&b, k.data, k.len, v.data, v.len);
    int32_t partition = g->partition;
    buf_destroy(&k);
    buf_destroy(&v);
    int rc = store_append(gc, partition, &b, op);
    gc_batch_destroy(&b);
    return rc;
}

/* ---------------------------------------------------------------- rebalance */

static void complete_join(gc_t *gc, group_t *g);

static void maybe_complete_join(gc_t *gc, group_t *g) {
    if (g->state != GC_PREPARING_REBALANCE || g->initial_delay || g->npending > 0) {
        return;
    }
    for (size_t i = 0; i < g->nmembers; i++) {
        if (!g->members[i]->join_cb) {
            return;
        }
    }
    complete_join(gc, g);
}

static void prepare_rebalance(gc_t *gc, group_t *g) {
    if (g->state == GC_COMPLETING_REBALANCE) {
        for (size_t i = 0; i < g->nmembers; i++) {
            member_t *m = g->members[i];
            free(m->assignment);
            m->assignment = NULL;
            m->assignment_len = 0;
            fail_sync(m, KP_ERR_REBALANCE_IN_PROGRESS);
        }
    }
    bool initial = g->state == GC_EMPTY && gc->cfg.group_initial_rebalance_delay_ms > 0;
    set_state(gc, g, GC_PREPARING_REBALANCE);
    int64_t now = now_ms(gc);
    if (initial) {
        int32_t delay = gc->cfg.group_initial_rebalance_delay_ms;
        int32_t rb = max_rebalance_ms(g);
        g->initial_delay = true;
        g->new_member_added = false;
        g->initial_remaining = rb > delay ? rb - delay : 0;
        g->join_deadline = now + delay;
    } else {
        g->initial_delay = false;
        g->join_deadline = now + max_rebalance_ms(g);
        maybe_complete_join(gc, g);
    }
}

static void maybe_prepare_rebalance(gc_t *gc, group_t *g) {
    if (g->state == GC_EMPTY || g->state == GC_STABLE || g->state == GC_COMPLETING_REBALANCE) {
        prepare_rebalance(gc, g);
    }
}

static void remove_member_at(group_t *g, size_t i) {
    member_t *m = g->members[i];
    memmove(&g->members[i], &g->members[i + 1], sizeof(g->members[0]) * (g->nmembers - i - 1));
    g->nmembers--;
    if (g->leader && strcmp(g->leader, m->id) == 0) {
        free(g->leader);
        g->leader = g->nmembers ? xstrdup(g->members[0]->id) : NULL;
    }
    member_free(m);
}

static void remove_member(group_t *g, member_t *m) {
    for (size_t i = 0; i < g->nmembers; i++) {
        if (g->members[i] == m) {
            remove_member_at(g, i);
            return;
        }
    }
}

/* Kafka's removeMemberAndUpdateGroup. */
static void remove_member_and_update(gc_t *gc, group_t *g, member_t *m) {
    fail_join(m, KP_ERR_UNKNOWN_MEMBER_ID, "");
    fail_sync(m, KP_ERR_UNKNOWN_MEMBER_ID);
    remove_member(g, m);
    switch (g->state) {
    case GC_STABLE:
    case GC_COMPLETING_REBALANCE:
        prepare_rebalance(gc, g);
        break;
    case GC_PREPARING_REBALANCE:
        maybe_complete_join(gc, g);
        break;
    default:
        break;
    }
}

/* Kafka's onCompleteJoin + initNextGeneration. */
static void complete_join(gc_t *gc, group_t *g) {
    for (size_t i = 0; i < g->nmembers;) {
        if (!g->members[i]->join_cb) {
            slog_info("[GroupCoordinator] group %s: member %s did not rejoin, removed", g->id,
                      g->members[i]->id);
            fail_sync(g->members[i], KP_ERR_UNKNOWN_MEMBER_ID);
            remove_member_at(g, i);
        } else {
            i++;
        }
    }
    g->generation++;
    free(g->protocol_name);
    g->protocol_name = NULL;
    if (g->nmembers == 0) {
        free(g->protocol_type);
        g->protocol_type = NULL;
        set_state(gc, g, GC_EMPTY);
        (void)store_group(gc, g, NULL); /* as Kafka: nobody waits for it */
        slog_info("[GroupCoordinator] group %s with generation %d is now empty", g->id,
                  (int)g->generation);
        return;
    }
    g->protocol_name = select_protocol(g);
    if (!g->leader || !find_member(g, g->leader)) {
        free(g->leader);
        g->leader = xstrdup(g->members[0]->id);
    }
    set_state(gc, g, GC_COMPLETING_REBALANCE);
    int64_t now = now_ms(gc);
    g->sync_deadline = now + max_rebalance_ms(g);
    slog_info("[GroupCoordinator] stabilized group %s generation %d (%zu members, protocol %s)",
              g->id, (int)g->generation, g->nmembers, g->protocol_name ? g->protocol_name : "-");
    /* answer every waiting join; copy the list since callbacks may cancel others */
    size_t n = g->nmembers;
    member_t **list = xmalloc(sizeof(*list) * n);
    memcpy(list, g->members, sizeof(*list) * n);
    int32_t gen = g->generation;
    for (size_t i = 0; i < n; i++) {
        member_t *m = list[i];
        if (g->generation != gen || !find_member(g, m->id) || !m->join_cb) {
            continue;
        }
        m->hb_deadline = now + m->session_ms;
        gc_join_cb cb = m->join_cb;
        void *arg = m->join_arg;
        m->join_cb = NULL;
        m->join_arg = NULL;
        send_join_result(g, m, cb, arg);
    }
    free(list);
}

/* ---------------------------------------------------------------- lifecycle */

gc_t *gc_new(const gc_config_t *cfg, const gc_clock_t *clock, const gc_store_t *store) {
    gc_t *gc = xcalloc(1, sizeof(*gc));
    gc->cfg = *cfg;
    if (gc->cfg.offsets_topic_num_partitions <= 0) {
        gc->cfg.offsets_topic_num_partitions = 50;
    }
    gc->clock = *clock;
    if (store) {
        gc->store = *store;
    }
    gc->groups = map_new();
    gc->pstate = xcalloc((size_t)gc->cfg.offsets_topic_num_partitions, 1);
    gc->next_retention_check = INT64_MAX;
    return gc;
}

static void group_free_void(void *p) {
    group_free(p);
}

void gc_free(gc_t *gc) {
    if (!gc) {
        return;
    }
    map_free(gc->groups, group_free_void);
    while (gc->ops) {
        gc_op_t *op = gc->ops;
        gc->ops = op->next;
        op_free(op); /* dropped: its callback is not called */
    }
    free(gc->pstate);
    free(gc);
}

bool gc_owns(const gc_t *gc, int32_t partition) {
    return partition >= 0 && partition < gc->cfg.offsets_topic_num_partitions &&
           gc->pstate[partition] == PART_ACTIVE;
}

kp_err_t gc_check_coordinator(const gc_t *gc, const char *group_id) {
    int32_t p = gc_partition_for(gc, group_id ? group_id : "");
    switch (gc->pstate[p]) {
    case PART_ACTIVE:
        return KP_ERR_NONE;
    case PART_LOADING:
        return KP_ERR_COORDINATOR_LOAD_IN_PROGRESS;
    default:
        return KP_ERR_NOT_COORDINATOR;
    }
}

/* Drops the groups of a partition; waiting requests get err. */
static void drop_partition_groups(gc_t *gc, int32_t partition, kp_err_t err) {
    map_iter_t it = MAP_ITER_INIT;
    const void *k;
    size_t kl;
    void *v;
    while (map_next(gc->groups, &it, &k, &kl, &v)) {
        group_t *g = v;
        if (g->partition != partition) {
            continue;
        }
        map_remove(gc->groups, k, kl);
        for (size_t i = 0; i < g->nmembers; i++) {
            fail_join(g->members[i], err, g->members[i]->id);
            fail_sync(g->members[i], err);
        }
        group_free(g);
    }
}

void gc_load_begin(gc_t *gc, int32_t partition) {
    if (partition < 0 || partition >= gc->cfg.offsets_topic_num_partitions) {
        return;
    }
    drop_partition_groups(gc, partition, KP_ERR_NOT_COORDINATOR);
    gc->pstate[partition] = PART_LOADING;
}

void gc_unload(gc_t *gc, int32_t partition) {
    if (partition < 0 || partition >= gc->cfg.offsets_topic_num_partitions) {
        return;
    }
    drop_partition_groups(gc, partition, KP_ERR_NOT_COORDINATOR);
    gc->pstate[partition] = PART_NONE;
    wake(gc);
}

typedef struct load_ctx {
    gc_t *gc;
    int32_t partition;
} load_ctx_t;

static void load_offset(load_ctx_t *lc, gc_rd_t *kr, const uint8_t *value, size_t vlen) {
    char *group = gc_rd_str(kr, NULL);
    char *topic = gc_rd_str(kr, NULL);
    int32_t partition = gc_rd_i32(kr);
    if (kr->err || !group || !topic) {
        goto done;
    }
    group_t *g = get_group(lc->gc, group);
    size_t tl = strlen(topic);
    size_t keylen = tl + 1 + 4;
    uint8_t *key = xmalloc(keylen);
    memcpy(key, topic, tl + 1);
    be32_put(key + tl + 1, (uint32_t)partition);
    if (!value) {
        if (g) {
            offset_ent_t *o = map_remove(g->offsets, key, keylen);
            if (o) {
                offset_free(o);
            }
        }
        free(key);
        goto done;
    }
    gc_rd_t vr;
    gc_rd_init(&vr, value, vlen);
    int16_t ver = gc_rd_i16(&vr);
    offset_ent_t o;
    memset(&o, 0, sizeof(o));
    o.leader_epoch = -1;
    o.offset = gc_rd_i64(&vr);
    if (ver >= 3) {
        o.leader_epoch = gc_rd_i32(&vr);
    }
    o.metadata = gc_rd_str(&vr, NULL);
    o.commit_ts = gc_rd_i64(&vr);
    if (vr.err || ver < 0 || ver > 4) {
        free(o.metadata);
        free(key);
        goto done;
    }
    if (!g) {
        g = group_new(lc->gc, group);
    }
    offset_ent_t *e = xmalloc(sizeof(*e));
    *e = o;
    e->topic = xstrdup(topic);
    e->partition = partition;
    if (!e->metadata) {
        e->metadata = xstrdup("");
    }
    offset_ent_t *old = map_put(g->offsets, key, keylen, e);
    if (old) {
        offset_free(old);
    }
    free(key);
done:
    free(group);
    free(topic);
}

static void load_group(load_ctx_t *lc, gc_rd_t *kr, const uint8_t *value, size_t vlen) {
    gc_t *gc = lc->gc;
    char *id = gc_rd_str(kr, NULL);
    if (kr->err || !id) {
        free(id);
        return;
    }
    group_t *g = get_group(gc, id);
    if (!value) {
        if (g) {
            map_remove_str(gc->groups, id);
            group_free(g);
        }
        free(id);
        return;
    }
    gc_rd_t r;
    gc_rd_init(&r, value, vlen);
    int16_t ver = gc_rd_i16(&r);
    char *ptype = gc_rd_str(&r, NULL);
    int32_t gen = gc_rd_i32(&r);
    char *pname = gc_rd_str(&r, NULL);
    char *leader = gc_rd_str(&r, NULL);
    int64_t ts = ver >= 2 ? gc_rd_i64(&r) : -1;
    int32_t n = gc_rd_i32(&r);
    if (r.err || ver < 0 || ver > 3 || n < 0 || (size_t)n > vlen) {
        free(ptype);
        free(pname);
        free(leader);
        free(id);
        return;
    }
    member_t **members = xcalloc((size_t)n + 1, sizeof(*members));
    int32_t got = 0;
    for (; got < n; got++) {
        member_t *m = xcalloc(1, sizeof(*m));
        m->id = gc_rd_str(&r, NULL);
        m->instance_id = ver >= 3 ? gc_rd_str(&r, NULL) : NULL;
        m->client_id = gc_rd_str(&r, NULL);
        m->client_host = gc_rd_str(&r, NULL);
        m->rebalance_ms = ver >= 1 ? gc_rd_i32(&r) : 0;
        m->session_ms = gc_rd_i32(&r);
        if (ver < 1) {
            m->rebalance_ms = m->session_ms;
        }
        int32_t sl, al;
        const uint8_t *sub = gc_rd_bytes(&r, &sl);
        const uint8_t *asg = gc_rd_bytes(&r, &al);
        if (r.err || !m->id) {
            member_free(m);
            break;
        }
        if (!m->client_id) {
            m->client_id = xstrdup("");
        }
        if (!m->client_host) {
            m->client_host = xstrdup("");
        }
        gc_protocol_t p = {pname ? pname : "", sub, sl > 0 ? (size_t)sl : 0};
        set_protocols(m, &p, 1);
        if (al > 0) {
            m->assignment = xmalloc((size_t)al);
            memcpy(m->assignment, asg, (size_t)al);
            m->assignment_len = (size_t)al;
        }
        members[got] = m;
    }
    if (got != n) {
        for (int32_t i = 0; i < got; i++) {
            member_free(members[i]);
        }
        free(members);
        free(ptype);
        free(pname);
        free(leader);
        free(id);
        return;
    }
    if (!g) {
        g = group_new(gc, id);
    }
    for (size_t i = 0; i < g->nmembers; i++) {
        member_free(g->members[i]);
    }
    free(g->members);
    g->members = members;
    g->nmembers = (size_t)n;
    free(g->protocol_type);
    g->protocol_type = ptype && *ptype ? ptype : NULL;
    if (!g->protocol_type) {
        free(ptype);
    }
    free(g->protocol_name);
    g->protocol_name = pname;
    free(g->leader);
    g->leader = leader;
    g->generation = gen;
    g->state = n > 0 ? GC_STABLE : GC_EMPTY;
    g->state_ts = ts >= 0 ? ts : wall_ms(gc);
    free(id);
}

static void load_record(void *arg, const uint8_t *key, size_t klen, const uint8_t *value,
                        size_t vlen) {
    load_ctx_t *lc = arg;
    gc_rd_t kr;
    gc_rd_init(&kr, key, klen);
    int16_t ver = gc_rd_i16(&kr);
    if (kr.err) {
        return;
    }
    if (ver == 0 || ver == 1) {
        load_offset(lc, &kr, value, vlen);
    } else if (ver == 2) {
        load_group(lc, &kr, value, vlen);
    }
}

int gc_load_batches(gc_t *gc, int32_t partition, const uint8_t *data, size_t len) {
    load_ctx_t lc = {gc, partition};
    int rc = gc_batch_foreach(data, len, load_record, &lc);
    if (rc < 0) {
        slog_warn("[GroupCoordinator] corrupt batch while loading %s-%d; rest skipped",
                  GC_OFFSETS_TOPIC, (int)partition);
    }
    return rc;
}

void gc_load_done(gc_t *gc, int32_t partition) {
    if (partition < 0 || partition >= gc->cfg.offsets_topic_num_partitions) {
        return;
    }
    int64_t now = now_ms(gc);
    size_t n = 0;
    map_iter_t it = MAP_ITER_INIT;
    const void *k;
    size_t kl;
    void *v;
    while (map_next(gc->groups, &it, &k, &kl, &v)) {
        group_t *g = v;
        if (g->partition != partition) {
            continue;
        }
        n++;
        for (size_t i = 0; i < g->nmembers; i++) {
            g->members[i]->hb_deadline = now + g->members[i]->session_ms;
        }
    }
    gc->pstate[partition] = PART_ACTIVE;
    if (gc->next_retention_check == INT64_MAX) {
        gc->next_retention_check = now + gc->cfg.offsets_retention_check_interval_ms;
    }
    slog_info("[GroupCoordinator] loaded %s-%d: %zu groups", GC_OFFSETS_TOPIC, (int)partition, n);
    wake(gc);
}

/* ---------------------------------------------------------------- join */

static member_t *add_member(gc_t *gc, group_t *g, char *id_owned, const gc_join_req_t *req,
                            gc_join_cb cb, void *arg) {
    member_t *m = xcalloc(1, sizeof(*m));
    m->id = id_owned;
    m->instance_id = dup_or_null(req->group_instance_id);
    m->client_id = xstrdup(req->client_id ? req->client_id : "");
    m->client_host = xstrdup(req->client_host ? req->client_host : "");
    m->session_ms = req->session_timeout_ms;
    m->rebalance_ms = req->rebalance_timeout_ms;
    set_protocols(m, req->protocols, req->nprotocols);
    m->join_cb = cb;
    m->join_arg = arg;
    m->hb_deadline = now_ms(gc) + m->session_ms;
    g->members = xrealloc(g->members, sizeof(*g->members) * (g->nmembers + 1));
    g->members[g->nmembers++] = m;
    if (g->nmembers == 1) {
        free(g->protocol_type);
        g->protocol_type = xstrdup(req->protocol_type);
    }
    if (!g->leader) {
        g->leader = xstrdup(m->id);
    }
    g->new_member_added = true;
    return m;
}

static void add_member_and_rebalance(gc_t *gc, group_t *g, char *id_owned, const gc_join_req_t *req,
                                     gc_join_cb cb, void *arg) {
    add_member(gc, g, id_owned, req, cb, arg);
    if (g->state == GC_PREPARING_REBALANCE) {
        maybe_complete_join(gc, g);
    } else {
        maybe_prepare_rebalance(gc, g);
    }
}

static void update_member(gc_t *gc, member_t *m, const gc_join_req_t *req, gc_join_cb cb,
                          void *arg) {
    set_protocols(m, req->protocols, req->nprotocols);
    m->session_ms = req->session_timeout_ms;
    m->rebalance_ms = req->rebalance_timeout_ms;
    free(m->client_id);
    m->client_id = xstrdup(req->client_id ? req->client_id : "");
    free(m->client_host);
    m->client_host = xstrdup(req->client_host ? req->client_host : "");
    fail_join(m, KP_ERR_REBALANCE_IN_PROGRESS, m->id); /* superseded request */
    m->join_cb = cb;
    m->join_arg = arg;
    m->hb_deadline = now_ms(gc) + m->session_ms;
}

static void update_member_and_rebalance(gc_t *gc, group_t *g, member_t *m, const gc_join_req_t *req,
                                        gc_join_cb cb, void *arg) {
    update_member(gc, m, req, cb, arg);
    if (g->state == GC_PREPARING_REBALANCE) {
        maybe_complete_join(gc, g);
    } else {
        prepare_rebalance(gc, g);
    }
}

static void join_unknown(gc_t *gc, group_t *g, const gc_join_req_t *req, gc_join_cb cb, void *arg) {
    const char *prefix = req->group_instance_id
                             ? req->group_instance_id
                             : (req->client_id && *req->client_id ? req->client_id : "consumer");
    char *id = new_member_id(prefix);
    member_t *old = find_instance(g, req->group_instance_id);
    if (old) {
        /* a static member came back under a new member id: replace the old id */
        fail_join(old, KP_ERR_FENCED_INSTANCE_ID, old->id);
        fail_sync(old, KP_ERR_FENCED_INSTANCE_ID);
        bool was_leader = g->leader && strcmp(g->leader, old->id) == 0;
        char *prev_id = old->id;
        old->id = id;
        if (was_leader) {
            free(g->leader);
            g->leader = xstrdup(id);
        }
        if (g->state == GC_STABLE && !was_leader &&
            same_protocols(old, req->protocols, req->nprotocols)) {
            /* Kafka persists the new member id before answering; the member awaits
             * its join answer until then (op_static_join_done) */
            old->hb_deadline = now_ms(gc) + old->session_ms;
            old->join_cb = cb;
            old->join_arg = arg;
            gc_op_t *op = op_new(gc, OP_STATIC_JOIN, g);
            op->instance_id = xstrdup(req->group_instance_id);
            op->old_id = prev_id;
            op->new_id = xstrdup(id);
            (void)store_group(gc, g, op);
            return;
        }
        free(prev_id);
        update_member_and_rebalance(gc, g, old, req, cb, arg);
        return;
    }
    if (g->nmembers >= (size_t)gc->cfg.group_max_size) {
        free(id);
        join_error(cb, arg, KP_ERR_GROUP_MAX_SIZE_REACHED, "");
        return;
    }
    if (!req->group_instance_id && req->version >= 4) {
        g->pending = xrealloc(g->pending, sizeof(*g->pending) * (g->npending + 1));
        g->pending[g->npending].id = xstrdup(id);
        g->pending[g->npending].deadline = now_ms(gc) + req->session_timeout_ms;
        g->npending++;
        join_error(cb, arg, KP_ERR_MEMBER_ID_REQUIRED, id);
        free(id);
        return;
    }
    add_member_and_rebalance(gc, g, id, req, cb, arg);
}

static void join_known(gc_t *gc, group_t *g, const gc_join_req_t *req, gc_join_cb cb, void *arg) {
    ssize_t pi = find_pending(g, req->member_id);
    if (pi >= 0) {
        remove_pending_at(g, (size_t)pi);
        if (g->nmembers >= (size_t)gc->cfg.group_max_size) {
            join_error(cb, arg, KP_ERR_GROUP_MAX_SIZE_REACHED, req->member_id);
            maybe_complete_join(gc, g);
            return;
        }
        add_member_and_rebalance(gc, g, xstrdup(req->member_id), req, cb, arg);
        return;
    }
    member_t *m = find_member(g, req->member_id);
    if (static_fenced(g, req->member_id, req->group_instance_id)) {
        join_error(cb, arg, KP_ERR_FENCED_INSTANCE_ID, req->member_id);
        return;
    }
    if (!m) {
        join_error(cb, arg, KP_ERR_UNKNOWN_MEMBER_ID, req->member_id);
        return;
    }
    switch (g->state) {
    case GC_PREPARING_REBALANCE:
        update_member_and_rebalance(gc, g, m, req, cb, arg);
        break;
    case GC_COMPLETING_REBALANCE:
        if (same_protocols(m, req->protocols, req->nprotocols)) {
            m->hb_deadline = now_ms(gc) + m->session_ms;
            send_join_result(g, m, cb, arg);
        } else {
            update_member_and_rebalance(gc, g, m, req, cb, arg);
        }
        break;
    case GC_STABLE:
        if ((g->leader && strcmp(g->leader, m->id) == 0) ||
            !same_protocols(m, req->protocols, req->nprotocols)) {
            update_member_and_rebalance(gc, g, m, req, cb, arg);
        } else {
            m->hb_deadline = now_ms(gc) + m->session_ms;
            send_join_result(g, m, cb, arg);
        }
        break;
    default:
        join_error(cb, arg, KP_ERR_UNKNOWN_MEMBER_ID, req->member_id);
        break;
    }
}

void gc_join(gc_t *gc, const gc_join_req_t *req, gc_join_cb cb, void *arg) {
    const char *mid = req->member_id ? req->member_id : "";
    if (!req->group_id || !*req->group_id) {
        join_error(cb, arg, KP_ERR_INVALID_GROUP_ID, mid);
        return;
    }
    kp_err_t err = gc_check_coordinator(gc, req->group_id);
    if (err != KP_ERR_NONE) {
        join_error(cb, arg, err, mid);
        return;
    }
    if (req->session_timeout_ms < gc->cfg.group_min_session_timeout_ms ||
        req->session_timeout_ms > gc->cfg.group_max_session_timeout_ms) {
        join_error(cb, arg, KP_ERR_INVALID_SESSION_TIMEOUT, mid);
        return;
    }
    if (!req->protocol_type || !*req->protocol_type || req->nprotocols == 0) {
        join_error(cb, arg, KP_ERR_INCONSISTENT_GROUP_PROTOCOL, mid);
        return;
    }
    size_t total = 0;
    for (size_t i = 0; i < req->nprotocols; i++) {
        total +=
            req->protocols[i].len + (req->protocols[i].name ? strlen(req->protocols[i].name) : 0);
    }
    if (total > (size_t)gc->cfg.max_member_metadata_bytes) {
        slog_warn("[GroupCoordinator] group %s: JoinGroup protocol metadata of %zu bytes "
                  "exceeds %d, rejected",
                  req->group_id, total, (int)gc->cfg.max_member_metadata_bytes);
        join_error(cb, arg, KP_ERR_INVALID_REQUEST, mid);
        return;
    }
    gc_join_req_t r = *req;
    r.member_id = mid;
    if (r.rebalance_timeout_ms <= 0) {
        r.rebalance_timeout_ms = r.session_timeout_ms;
    }
    group_t *g = get_group(gc, req->group_id);
    if (!g) {
        if (*mid) {
            join_error(cb, arg, KP_ERR_UNKNOWN_MEMBER_ID, mid);
            return;
        }
        g = group_new(gc, req->group_id);
    }
    if (g->state == GC_DEAD) {
        join_error(cb, arg, KP_ERR_COORDINATOR_NOT_AVAILABLE, mid);
        return;
    }
    const member_t *self = *mid ? find_member(g, mid) : find_instance(g, req->group_instance_id);
    if (!supports_protocols(g, r.protocol_type, r.protocols, r.nprotocols, self)) {
        join_error(cb, arg, KP_ERR_INCONSISTENT_GROUP_PROTOCOL, mid);
        return;
    }
    if (*mid) {
        join_known(gc, g, &r, cb, arg);
    } else {
        join_unknown(gc, g, &r, cb, arg);
    }
    wake(gc);
}

/* ---------------------------------------------------------------- sync */

static void send_sync(group_t *g, member_t *m, gc_sync_cb cb, void *arg) {
    gc_sync_result_t r;
    memset(&r, 0, sizeof(r));
    r.error = KP_ERR_NONE;
    r.protocol_type = g->protocol_type;
    r.protocol_name = g->protocol_name;
    r.assignment = m->assignment;
    r.len = m->assignment ? m->assignment_len : 0;
    cb(arg, &r);
}

void gc_sync(gc_t *gc, const gc_sync_req_t *req, gc_sync_cb cb, void *arg) {
    kp_err_t err = gc_check_coordinator(gc, req->group_id);
    if (err != KP_ERR_NONE) {
        sync_error(cb, arg, err);
        return;
    }
    group_t *g = get_group(gc, req->group_id);
    member_t *m = g && req->member_id ? find_member(g, req->member_id) : NULL;
    if (!g || g->state == GC_DEAD) {
        sync_error(cb, arg, g ? KP_ERR_COORDINATOR_NOT_AVAILABLE : KP_ERR_UNKNOWN_MEMBER_ID);
        return;
    }
    if (static_fenced(g, req->member_id, req->group_instance_id)) {
        sync_error(cb, arg, KP_ERR_FENCED_INSTANCE_ID);
        return;
    }
    if (!m) {
        sync_error(cb, arg, KP_ERR_UNKNOWN_MEMBER_ID);
        return;
    }
    if (req->generation_id != g->generation) {
        sync_error(cb, arg, KP_ERR_ILLEGAL_GENERATION);
        return;
    }
    if ((req->protocol_type && !streq(req->protocol_type, g->protocol_type)) ||
        (req->protocol_name && !streq(req->protocol_name, g->protocol_name))) {
        sync_error(cb, arg, KP_ERR_INCONSISTENT_GROUP_PROTOCOL);
        return;
    }
    int64_t now = now_ms(gc);
    switch (g->state) {
    case GC_EMPTY:
        sync_error(cb, arg, KP_ERR_UNKNOWN_MEMBER_ID);
        return;
    case GC_PREPARING_REBALANCE:
        sync_error(cb, arg, KP_ERR_REBALANCE_IN_PROGRESS);
        return;
    case GC_STABLE:
        m->hb_deadline = now + m->session_ms;
        send_sync(g, m, cb, arg);
        return;
    default:
        break;
    }
    /* CompletingRebalance */
    fail_sync(m, KP_ERR_REBALANCE_IN_PROGRESS); /* superseded request */
    m->sync_cb = cb;
    m->sync_arg = arg;
    m->hb_deadline = now + m->session_ms;
    if (!g->leader || strcmp(g->leader, m->id) != 0) {
        wake(gc);
        return;
    }
    for (size_t i = 0; i < g->nmembers; i++) {
        member_t *o = g->members[i];
        free(o->assignment);
        o->assignment = NULL;
        o->assignment_len = 0;
        for (size_t k = 0; k < req->nassignments; k++) {
            const gc_assignment_t *a = &req->assignments[k];
            if (a->member_id && strcmp(a->member_id, o->id) == 0) {
                o->assignment = xmalloc(a->len ? a->len : 1);
                if (a->len) {
                    memcpy(o->assignment, a->data, a->len);
                }
                o->assignment_len = a->len;
            }
        }
    }
    /* Kafka's doSyncGroup: the group stays CompletingRebalance until the record with
     * the assignment is stored; op_sync_done then answers every waiting member */
    gc_op_t *op = op_new(gc, OP_SYNC, g);
    size_t n = g->nmembers;
    op->asg_ids = xcalloc(n ? n : 1, sizeof(*op->asg_ids));
    op->asg_data = xcalloc(n ? n : 1, sizeof(*op->asg_data));
    op->asg_len = xcalloc(n ? n : 1, sizeof(*op->asg_len));
    op->nasg = n;
    for (size_t i = 0; i < n; i++) {
        const member_t *o = g->members[i];
        op->asg_ids[i] = xstrdup(o->id);
        if (o->assignment) {
            op->asg_data[i] = xmalloc(o->assignment_len ? o->assignment_len : 1);
            memcpy(op->asg_data[i], o->assignment, o->assignment_len);
            op->asg_len[i] = o->assignment_len;
        }
    }
    (void)store_group(gc, g, op);
    wake(gc);
}

/* The leader's assignment is stored: Stable, and every waiting member gets its part. */
static void propagate_assignment(gc_t *gc, group_t *g) {
    set_state(gc, g, GC_STABLE);
    size_t n = g->nmembers;
    member_t **list = xmalloc(sizeof(*list) * (n ? n : 1));
    memcpy(list, g->members, sizeof(*list) * n);
    for (size_t i = 0; i < n; i++) {
        member_t *o = list[i];
        if (g->state != GC_STABLE || !find_member(g, o->id) || !o->sync_cb) {
            continue;
        }
        gc_sync_cb scb = o->sync_cb;
        void *sarg = o->sync_arg;
        o->sync_cb = NULL;
        o->sync_arg = NULL;
        send_sync(g, o, scb, sarg);
    }
    free(list);
}

/* ---------------------------------------------------------------- heartbeat, leave */

kp_err_t gc_heartbeat(gc_t *gc, const char *group_id, int32_t generation_id, const char *member_id,
                      const char *group_instance_id) {
    kp_err_t err = gc_check_coordinator(gc, group_id);
    if (err != KP_ERR_NONE) {
        return err;
    }
    group_t *g = get_group(gc, group_id);
    if (!g) {
        return KP_ERR_UNKNOWN_MEMBER_ID;
    }
    if (g->state == GC_DEAD) {
        return KP_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    member_t *m = member_id ? find_member(g, member_id) : NULL;
    if (static_fenced(g, member_id, group_instance_id)) {
        return KP_ERR_FENCED_INSTANCE_ID;
    }
    if (g->state == GC_EMPTY || !m) {
        return KP_ERR_UNKNOWN_MEMBER_ID;
    }
    if (generation_id != g->generation) {
        return KP_ERR_ILLEGAL_GENERATION;
    }
    m->hb_deadline = now_ms(gc) + m->session_ms;
    wake(gc);
    if (g->state == GC_PREPARING_REBALANCE) {
        return KP_ERR_REBALANCE_IN_PROGRESS;
    }
    return KP_ERR_NONE;
}

kp_err_t gc_leave(gc_t *gc, const char *group_id, gc_leave_member_t *members, size_t n) {
    kp_err_t err = gc_check_coordinator(gc, group_id);
    if (err != KP_ERR_NONE) {
        return err;
    }
    group_t *g = get_group(gc, group_id);
    if (g && g->state == GC_DEAD) {
        return KP_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    for (size_t i = 0; i < n; i++) {
        gc_leave_member_t *lm = &members[i];
        const char *mid = lm->member_id ? lm->member_id : "";
        lm->error = KP_ERR_UNKNOWN_MEMBER_ID;
        if (!g) {
            continue;
        }
        if (lm->group_instance_id) {
            member_t *m = find_instance(g, lm->group_instance_id);
            if (!m) {
                continue;
            }
            if (*mid && strcmp(mid, m->id) != 0) {
                lm->error = KP_ERR_FENCED_INSTANCE_ID;
                continue;
            }
            lm->error = KP_ERR_NONE;
            slog_info("[GroupCoordinator] static member %s (%s) left group %s", m->id,
                      lm->group_instance_id, g->id);
            remove_member_and_update(gc, g, m);
            continue;
        }
        ssize_t pi = find_pending(g, mid);
        if (pi >= 0) {
            remove_pending_at(g, (size_t)pi);
            lm->error = KP_ERR_NONE;
            maybe_complete_join(gc, g);
            continue;
        }
        member_t *m = find_member(g, mid);
        if (!m) {
            continue;
        }
        lm->error = KP_ERR_NONE;
        slog_info("[GroupCoordinator] member %s left group %s", m->id, g->id);
        remove_member_and_update(gc, g, m);
    }
    wake(gc);
    return KP_ERR_NONE;
}

/* ---------------------------------------------------------------- offsets */

static uint8_t *offset_key(const char *topic, int32_t partition, size_t *len) {
    size_t tl = strlen(topic);
    uint8_t *k = xmalloc(tl + 5);
    memcpy(k, topic, tl + 1);
    be32_put(k + tl + 1, (uint32_t)partition);
    *len = tl + 5;
    return k;
}

static uintptr_t pending_count(const group_t *g, const uint8_t *key, size_t kl) {
    return (uintptr_t)map_get(g->pending_offsets, key, kl);
}

static void pending_add(group_t *g, const char *topic, int32_t partition, int delta) {
    size_t kl;
    uint8_t *key = offset_key(topic, partition, &kl);
    uintptr_t c = pending_count(g, key, kl);
    c = delta > 0 ? c + 1 : (c > 0 ? c - 1 : 0);
    if (c == 0) {
        (void)map_remove(g->pending_offsets, key, kl);
    } else {
        (void)map_put(g->pending_offsets, key, kl, (void *)c);
    }
    free(key);
}

/* A "simple" group (offsets only) that ends up holding nothing is forgotten. */
static void maybe_drop_simple(gc_t *gc, group_t *g) {
    if (g->nmembers == 0 && g->npending == 0 && map_count(g->offsets) == 0 &&
        map_count(g->pending_offsets) == 0 && g->generation == 0 && g->state == GC_EMPTY) {
        map_remove_str(gc->groups, g->id);
        group_free(g);
    }
}

static void commit_answer(gc_commit_cb cb, void *arg, gc_commit_partition_t *parts, size_t n) {
    if (cb) {
        cb(arg, parts, n);
    }
}

void gc_commit(gc_t *gc, const char *group_id, int32_t generation_id, const char *member_id,
               const char *group_instance_id, gc_commit_partition_t *parts, size_t n,
               gc_commit_cb cb, void *arg) {
    kp_err_t err = KP_ERR_NONE;
    const char *mid = member_id ? member_id : "";
    group_t *g = NULL;
    if (!group_id || !*group_id) {
        err = KP_ERR_INVALID_GROUP_ID;
        goto fail;
    }
    err = gc_check_coordinator(gc, group_id);
    if (err != KP_ERR_NONE) {
        goto fail;
    }
    g = get_group(gc, group_id);
    if (!g) {
        if (generation_id >= 0) {
            err = KP_ERR_ILLEGAL_GENERATION;
            goto fail;
        }
        g = group_new(gc, group_id); /* a "simple" group: offsets only */
    }
    member_t *m = *mid ? find_member(g, mid) : NULL;
    if (g->state == GC_DEAD) {
        err = KP_ERR_COORDINATOR_NOT_AVAILABLE;
    } else if (group_instance_id && (!m || !streq(m->instance_id, group_instance_id))) {
        err = find_instance(g, group_instance_id) ? KP_ERR_FENCED_INSTANCE_ID
                                                  : KP_ERR_UNKNOWN_MEMBER_ID;
    } else if (generation_id < 0 && g->state == GC_EMPTY) {
        err = KP_ERR_NONE; /* admin / simple consumer commit */
    } else if (g->state == GC_COMPLETING_REBALANCE) {
        err = KP_ERR_REBALANCE_IN_PROGRESS;
    } else if (!m) {
        err = KP_ERR_UNKNOWN_MEMBER_ID;
    } else if (generation_id != g->generation) {
        err = KP_ERR_ILLEGAL_GENERATION;
    }
    if (err != KP_ERR_NONE) {
        maybe_drop_simple(gc, g);
        goto fail;
    }
    if (m) {
        m->hb_deadline = now_ms(gc) + m->session_ms;
    }
    int64_t ts = wall_ms(gc);
    gc_batch_t b;
    gc_batch_init(&b, ts);
    buf_t k = BUF_INIT, v = BUF_INIT;
    offset_ent_t *ents = xcalloc(n ? n : 1, sizeof(*ents));
    size_t nrec = 0;
    for (size_t i = 0; i < n; i++) {
        gc_commit_partition_t *p = &parts[i];
        if (p->error != KP_ERR_NONE) {
            continue;
        }
        if (p->metadata && strlen(p->metadata) > (size_t)gc->cfg.offset_metadata_max_bytes) {
            p->error = KP_ERR_OFFSET_METADATA_TOO_LARGE;
            continue;
        }
        if (!p->topic || strlen(p->topic) > 32767) {
            p->error = KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        buf_reset(&k);
        buf_reset(&v);
        gc_encode_offset_key(&k, group_id, p->topic, p->partition);
        gc_encode_offset_value(&v, p->offset, p->leader_epoch, p->metadata, ts);
        gc_batch_add(&b, k.data, k.len, v.data, v.len);
        offset_ent_t *e = &ents[nrec++];
        e->topic = xstrdup(p->topic);
        e->partition = p->partition;
        e->offset = p->offset;
        e->leader_epoch = p->leader_epoch;
        e->metadata = xstrdup(p->metadata ? p->metadata : "");
        e->commit_ts = ts;
    }
    buf_destroy(&k);
    buf_destroy(&v);
    if (nrec == 0) {
        gc_batch_destroy(&b);
        free(ents);
        maybe_drop_simple(gc, g);
        commit_answer(cb, arg, parts, n);
        return;
    }
    /* pending until the append completes (op_commit_done); OffsetFetch meanwhile
     * answers what was committed before */
    gc_op_t *op = op_new(gc, OP_COMMIT, g);
    op->ents = ents;
    op->nents = nrec;
    op->parts = parts;
    op->nparts = n;
    op->cb = cb;
    op->arg = arg;
    for (size_t i = 0; i < nrec; i++) {
        pending_add(g, ents[i].topic, ents[i].partition, +1);
    }
    (void)store_append(gc, g->partition, &b, op); /* g and op may be gone after this */
    gc_batch_destroy(&b);
    wake(gc);
    return;
fail:
    for (size_t i = 0; i < n; i++) {
        if (parts[i].error == KP_ERR_NONE) {
            parts[i].error = err;
        }
    }
    commit_answer(cb, arg, parts, n);
}

kp_err_t gc_fetch_offset(const gc_t *gc, const char *group_id, const char *topic, int32_t partition,
                         gc_offset_t *out) {
    out->offset = -1;
    out->leader_epoch = -1;
    out->metadata = "";
    out->commit_timestamp = -1;
    kp_err_t err = gc_check_coordinator(gc, group_id);
    if (err != KP_ERR_NONE) {
        return err;
    }
    group_t *g = get_group(gc, group_id);
    if (!g || !topic) {
        return KP_ERR_NONE;
    }
    size_t kl;
    uint8_t *key = offset_key(topic, partition, &kl);
    const offset_ent_t *e = map_get(g->offsets, key, kl);
    free(key);
    if (e) {
        out->offset = e->offset;
        out->leader_epoch = e->leader_epoch;
        out->metadata = e->metadata;
        out->commit_timestamp = e->commit_ts;
    }
    return KP_ERR_NONE;
}

static int cmp_offset_ent(const void *a, const void *b) {
    const offset_ent_t *x = *(offset_ent_t *const *)a, *y = *(offset_ent_t *const *)b;
    int c = strcmp(x->topic, y->topic);
    if (c) {
        return c;
    }
    return x->partition < y->partition ? -1 : x->partition > y->partition;
}

static offset_ent_t **sorted_offsets(const group_t *g, size_t *n) {
    *n = map_count(g->offsets);
    offset_ent_t **list = xmalloc(sizeof(*list) * (*n ? *n : 1));
    map_iter_t it = MAP_ITER_INIT;
    const void *k;
    size_t kl;
    void *v;
    size_t i = 0;
    while (map_next(g->offsets, &it, &k, &kl, &v)) {
        list[i++] = v;
    }
    qsort(list, *n, sizeof(*list), cmp_offset_ent);
    return list;
}

bool gc_offset_pending(const gc_t *gc, const char *group_id, const char *topic, int32_t partition) {
    if (gc_check_coordinator(gc, group_id) != KP_ERR_NONE || !topic) {
        return false;
    }
    const group_t *g = get_group(gc, group_id);
    if (!g) {
        return false;
    }
    size_t kl;
    uint8_t *key = offset_key(topic, partition, &kl);
    bool pending = pending_count(g, key, kl) > 0;
    free(key);
    return pending;
}

kp_err_t gc_fetch_all_offsets(const gc_t *gc, const char *group_id, gc_offset_fn fn, void *arg) {
    kp_err_t err = gc_check_coordinator(gc, group_id);
    if (err != KP_ERR_NONE) {
        return err;
    }
    group_t *g = get_group(gc, group_id);
    if (!g) {
        return KP_ERR_NONE;
    }
    size_t n;
    offset_ent_t **list = sorted_offsets(g, &n);
    for (size_t i = 0; i < n; i++) {
        gc_offset_t o = {list[i]->offset, list[i]->leader_epoch, list[i]->metadata,
                         list[i]->commit_ts};
        fn(arg, list[i]->topic, list[i]->partition, &o);
    }
    free(list);
    return KP_ERR_NONE;
}

/* ---------------------------------------------------------------- admin */

void gc_describe(const gc_t *gc, const char *group_id,
                 void (*fn)(void *arg, const gc_group_desc_t *d), void *arg) {
    gc_group_desc_t d;
    memset(&d, 0, sizeof(d));
    d.group_id = group_id ? group_id : "";
    d.state = GC_DEAD;
    d.protocol_type = "";
    d.protocol_name = "";
    d.error = gc_check_coordinator(gc, d.group_id);
    group_t *g = d.error == KP_ERR_NONE ? get_group(gc, group_id) : NULL;
    gc_member_desc_t *list = NULL;
    if (g) {
        d.state = g->state;
        d.protocol_type = g->protocol_type ? g->protocol_type : "";
        d.generation_id = g->generation;
        bool stable = g->state == GC_STABLE;
        d.protocol_name = stable && g->protocol_name ? g->protocol_name : "";
        list = xcalloc(g->nmembers ? g->nmembers : 1, sizeof(*list));
        for (size_t i = 0; i < g->nmembers; i++) {
            const member_t *m = g->members[i];
            list[i].member_id = m->id;
            list[i].group_instance_id = m->instance_id;
            list[i].client_id = m->client_id;
            list[i].client_host = m->client_host;
            if (stable) {
                const proto_own_t *p = member_protocol(m, g->protocol_name);
                list[i].metadata = p ? p->metadata : (const uint8_t *)"";
                list[i].metadata_len = p ? p->len : 0;
                list[i].assignment = m->assignment ? m->assignment : (const uint8_t *)"";
                list[i].assignment_len = m->assignment ? m->assignment_len : 0;
            }
        }
        d.members = list;
        d.nmembers = g->nmembers;
    }
    fn(arg, &d);
    free(list);
}

void gc_list(const gc_t *gc,
             void (*fn)(void *arg, const char *group_id, const char *protocol_type,
                        gc_state_t state),
             void *arg) {
    map_iter_t it = MAP_ITER_INIT;
    const void *k;
    size_t kl;
    void *v;
    while (map_next(gc->groups, &it, &k, &kl, &v)) {
        const group_t *g = v;
        if (gc->pstate[g->partition] != PART_ACTIVE || g->state == GC_DEAD) {
            continue;
        }
        fn(arg, g->id, g->protocol_type ? g->protocol_type : "", g->state);
    }
}

/* Writes tombstones for the group and all its offsets. */
static kp_err_t store_tombstones(gc_t *gc, group_t *g, bool group_too) {
    gc_batch_t b;
    gc_batch_init(&b, wall_ms(gc));
    buf_t k = BUF_INIT;
    size_t n;
    offset_ent_t **list = sorted_offsets(g, &n);
    for (size_t i = 0; i < n; i++) {
        buf_reset(&k);
        gc_encode_offset_key(&k, g->id, list[i]->topic, list[i]->partition);
        gc_batch_add(&b, k.data, k.len, NULL, 0);
    }
    free(list);
    if (group_too) {
        buf_reset(&k);
        gc_encode_group_key(&k, g->id);
        gc_batch_add(&b, k.data, k.len, NULL, 0);
    }
    buf_destroy(&k);
    kp_err_t err =
        b.count > 0 ? map_store_error(store_append(gc, g->partition, &b, NULL)) : KP_ERR_NONE;
    gc_batch_destroy(&b);
    return err;
}

kp_err_t gc_delete_group(gc_t *gc, const char *group_id) {
    if (!group_id || !*group_id) {
        return KP_ERR_INVALID_GROUP_ID;
    }
    kp_err_t err = gc_check_coordinator(gc, group_id);
    if (err != KP_ERR_NONE) {
        return err;
    }
    group_t *g = get_group(gc, group_id);
    if (!g || g->state == GC_DEAD) {
        return KP_ERR_GROUP_ID_NOT_FOUND;
    }
    if (g->state != GC_EMPTY || g->nmembers > 0) {
        return KP_ERR_NON_EMPTY_GROUP;
    }
    /* commits still in flight are not applied to a deleted group (invariant 4) */
    err = store_tombstones(gc, g, true);
    if (err != KP_ERR_NONE) {
        return err;
    }
    for (size_t i = 0; i < g->npending; i++) {
        free(g->pending[i].id);
    }
    g->npending = 0;
    map_remove_str(gc->groups, group_id);
    slog_info("[GroupCoordinator] deleted group %s", group_id);
    group_free(g);
    wake(gc);
    return KP_ERR_NONE;
}

/* ---------------------------------------------------------------- timers */

int64_t gc_next_deadline(const gc_t *gc) {
    int64_t d = INT64_MAX;
    map_iter_t it = MAP_ITER_INIT;
    const void *k;
    size_t kl;
    void *v;
    while (map_next(gc->groups, &it, &k, &kl, &v)) {
        const group_t *g = v;
        if (g->join_deadline < d) {
            d = g->join_deadline;
        }
        if (g->sync_deadline < d) {
            d = g->sync_deadline;
        }
        for (size_t i = 0; i < g->npending; i++) {
            if (g->pending[i].deadline < d) {
                d = g->pending[i].deadline;
            }
        }
        for (size_t i = 0; i < g->nmembers; i++) {
            const member_t *m = g->members[i];
            if (!m->join_cb && !m->sync_cb && m->hb_deadline < d) {
                d = m->hb_deadline;
            }
        }
    }
    if (gc->next_retention_check < d) {
        d = gc->next_retention_check;
    }
    return d;
}

static void expire_offsets(gc_t *gc, int64_t wall) {
    map_iter_t it = MAP_ITER_INIT;
    const void *k;
    size_t kl;
    void *v;
    while (map_next(gc->groups, &it, &k, &kl, &v)) {
        group_t *g = v;
        if (g->state != GC_EMPTY || gc->pstate[g->partition] != PART_ACTIVE ||
            map_count(g->offsets) == 0) {
            continue;
        }
        /* Kafka 2.1+: a group with a protocol type expires all offsets once it has been
         * empty for the retention period; a simple group, offset by offset. */
        size_t n;
        offset_ent_t **list = sorted_offsets(g, &n);
        gc_batch_t b;
        gc_batch_init(&b, wall);
        buf_t key = BUF_INIT;
        for (size_t i = 0; i < n; i++) {
            int64_t base = g->protocol_type || g->generation > 0 ? g->state_ts : list[i]->commit_ts;
            size_t pkl;
            uint8_t *pk = offset_key(list[i]->topic, list[i]->partition, &pkl);
            bool pending = pending_count(g, pk, pkl) > 0;
            free(pk);
            if (pending || wall - base < gc->cfg.offsets_retention_ms) {
                continue; /* Kafka keeps offsets with a commit in flight */
            }
            buf_reset(&key);
            gc_encode_offset_key(&key, g->id, list[i]->topic, list[i]->partition);
            gc_batch_add(&b, key.data, key.len, NULL, 0);
            size_t okl;
            uint8_t *ok = offset_key(list[i]->topic, list[i]->partition, &okl);
            offset_ent_t *o = map_remove(g->offsets, ok, okl);
            free(ok);
            if (o) {
                offset_free(o);
            }
        }
        free(list);
        bool gone =
            map_count(g->offsets) == 0 && map_count(g->pending_offsets) == 0 && g->nmembers == 0;
        if (gone) {
            buf_reset(&key);
            gc_encode_group_key(&key, g->id);
            gc_batch_add(&b, key.data, key.len, NULL, 0);
        }
        if (b.count > 0) {
            slog_info("[GroupCoordinator] group %s: expired %d offset records", g->id,
                      (int)b.count - (gone ? 1 : 0));
            (void)store_append(gc, g->partition, &b, NULL);
        }
        buf_destroy(&key);
        gc_batch_destroy(&b);
        if (gone) {
            map_remove(gc->groups, k, kl);
            group_free(g);
        }
    }
}

void gc_tick(gc_t *gc) {
    int64_t now = now_ms(gc);
    /* collect ids first: expiring changes groups and may free members */
    map_iter_t it = MAP_ITER_INIT;
    const void *k;
    size_t kl;
    void *v;
    size_t cap = map_count(gc->groups);
    char **ids = xmalloc(sizeof(*ids) * (cap ? cap : 1));
    size_t nids = 0;
    while (map_next(gc->groups, &it, &k, &kl, &v)) {
        ids[nids++] = xstrdup(((group_t *)v)->id);
    }
    for (size_t gi = 0; gi < nids; gi++) {
        group_t *g = get_group(gc, ids[gi]);
        if (!g) {
            continue;
        }
        for (size_t i = 0; i < g->npending;) {
            if (g->pending[i].deadline <= now) {
                remove_pending_at(g, i);
                maybe_complete_join(gc, g);
            } else {
                i++;
            }
        }
        for (size_t i = 0; i < g->nmembers;) {
            member_t *m = g->members[i];
            if (!m->join_cb && !m->sync_cb && m->hb_deadline <= now) {
                slog_info("[GroupCoordinator] member %s in group %s has failed (session "
                          "timeout %d ms), removing it",
                          m->id, g->id, (int)m->session_ms);
                remove_member_and_update(gc, g, m);
                i = 0; /* the list changed */
            } else {
                i++;
            }
        }
        if (g->state == GC_PREPARING_REBALANCE && g->join_deadline <= now) {
            if (g->initial_delay && g->new_member_added && g->initial_remaining > 0) {
                int32_t delay = gc->cfg.group_initial_rebalance_delay_ms;
                int64_t step = g->initial_remaining < delay ? g->initial_remaining : delay;
                g->new_member_added = false;
                g->initial_remaining -= step;
                g->join_deadline = now + step;
            } else if (g->initial_delay) {
                /* the initial delay is over: wait for the rest as a normal rebalance */
                g->initial_delay = false;
                g->join_deadline = now;
                complete_join(gc, g);
            } else {
                complete_join(gc, g);
            }
        }
        if (g->state == GC_COMPLETING_REBALANCE && g->sync_deadline <= now) {
            /* KIP-814: members (the leader first of all) that never sent SyncGroup go */
            slog_info("[GroupCoordinator] group %s: SyncGroup not received from all members "
                      "within the rebalance timeout",
                      g->id);
            for (size_t i = 0; i < g->nmembers;) {
                if (!g->members[i]->sync_cb) {
                    remove_member_at(g, i);
                } else {
                    i++;
                }
            }
            prepare_rebalance(gc, g);
        }
    }
    for (size_t i = 0; i < nids; i++) {
        free(ids[i]);
    }
    free(ids);
    if (now >= gc->next_retention_check) {
        expire_offsets(gc, wall_ms(gc));
        gc->next_retention_check = now + gc->cfg.offsets_retention_check_interval_ms;
    }
    wake(gc);
}

void gc_cancel(gc_t *gc, void *arg) {
    map_iter_t it = MAP_ITER_INIT;
    const void *k;
    size_t kl;
    void *v;
    while (map_next(gc->groups, &it, &k, &kl, &v)) {
        group_t *g = v;
        for (size_t i = 0; i < g->nmembers; i++) {
            member_t *m = g->members[i];
            if (m->join_cb && m->join_arg == arg) {
                m->join_cb = NULL;
                m->join_arg = NULL;
            }
            if (m->sync_cb && m->sync_arg == arg) {
                m->sync_cb = NULL;
                m->sync_arg = NULL;
            }
        }
    }
    for (gc_op_t *op = gc->ops; op; op = op->next) {
        if (op->cb && op->arg == arg) {
            op->cb = NULL; /* the commit still applies on success; nobody is answered */
            op->arg = NULL;
        }
    }
    wake(gc);
}

/* ---------------------------------------------------------------- store completions */

/* The op's group, unless it was unloaded, deleted or re-created meanwhile. */
static group_t *op_group(const gc_op_t *op) {
    group_t *g = get_group(op->gc, op->group_id);
    return g && g->incarnation == op->incarnation ? g : NULL;
}

/* Kafka's putCacheCallback: apply on success, drop the pending mark either way. */
static void op_commit_done(gc_op_t *op, kp_err_t err) {
    gc_t *gc = op->gc;
    group_t *g = op_group(op);
    for (size_t i = 0; g && i < op->nents; i++) {
        offset_ent_t *src = &op->ents[i];
        pending_add(g, src->topic, src->partition, -1);
        if (err != KP_ERR_NONE) {
            continue;
        }
        size_t kl;
        uint8_t *key = offset_key(src->topic, src->partition, &kl);
        offset_ent_t *cur = map_get(g->offsets, key, kl);
        if (!cur || cur->seq <= op->seq) { /* a later append may have completed first */
            offset_ent_t *e = xmalloc(sizeof(*e));
            *e = *src;
            e->seq = op->seq;
            src->topic = NULL; /* moved */
            src->metadata = NULL;
            offset_ent_t *old = map_put(g->offsets, key, kl, e);
            if (old) {
                offset_free(old);
            }
        }
        free(key);
    }
    kp_err_t mapped = map_offset_error(err);
    if (err != KP_ERR_NONE) {
        slog_warn("[GroupCoordinator] group %s: offset commit of %zu partitions failed: %s",
                  op->group_id, op->nents, kp_err_name(err));
        if (g) {
            maybe_drop_simple(gc, g);
        }
    }
    if (op->cb) {
        for (size_t i = 0; i < op->nparts; i++) {
            if (op->parts[i].error == KP_ERR_NONE) {
                op->parts[i].error = mapped;
            }
        }
        gc_commit_cb cb = op->cb;
        op->cb = NULL;
        cb(op->arg, op->parts, op->nparts);
    }
}

/* Kafka's doSyncGroup store callback: only for the generation it was stored in. */
static void op_sync_done(gc_op_t *op, kp_err_t err) {
    gc_t *gc = op->gc;
    group_t *g = op_group(op);
    if (!g || g->state != GC_COMPLETING_REBALANCE || g->generation != op->generation) {
        return; /* the group moved on: its members were answered meanwhile */
    }
    if (err == KP_ERR_NONE) {
        /* hand out what this record stored, not a later resend still being stored */
        for (size_t i = 0; i < g->nmembers; i++) {
            member_t *o = g->members[i];
            free(o->assignment);
            o->assignment = NULL;
            o->assignment_len = 0;
            for (size_t k = 0; k < op->nasg; k++) {
                if (op->asg_data[k] && strcmp(op->asg_ids[k], o->id) == 0) {
                    o->assignment = op->asg_data[k];
                    o->assignment_len = op->asg_len[k];
                    op->asg_data[k] = NULL; /* moved */
                    break;
                }
            }
        }
        propagate_assignment(gc, g);
        return;
    }
    kp_err_t mapped = map_group_error(err);
    slog_warn("[GroupCoordinator] group %s generation %d: storing the assignment failed: %s; "
              "rebalancing",
              g->id, (int)g->generation, kp_err_name(err));
    for (size_t i = 0; i < g->nmembers; i++) {
        member_t *o = g->members[i];
        free(o->assignment);
        o->assignment = NULL;
        o->assignment_len = 0;
    }
    for (size_t i = 0; i < g->nmembers; i++) {
        fail_sync(g->members[i], mapped);
    }
    g = op_group(op); /* callbacks may have called back into gc */
    if (g && g->state == GC_COMPLETING_REBALANCE) {
        prepare_rebalance(gc, g);
    }
}

/* Kafka's updateStaticMemberAndRebalance store callback. */
static void op_static_join_done(gc_op_t *op, kp_err_t err) {
    gc_t *gc = op->gc;
    group_t *g = op_group(op);
    member_t *m = g ? find_instance(g, op->instance_id) : NULL;
    if (!m || strcmp(m->id, op->new_id) != 0 || !m->join_cb) {
        return; /* left, replaced again, or answered by a rebalance meanwhile */
    }
    gc_join_cb cb = m->join_cb;
    void *arg = m->join_arg;
    m->join_cb = NULL;
    m->join_arg = NULL;
    m->hb_deadline = now_ms(gc) + m->session_ms;
    if (err == KP_ERR_NONE) {
        send_join_result(g, m, cb, arg);
        return;
    }
    kp_err_t mapped = map_group_error(err);
    slog_warn("[GroupCoordinator] group %s: storing static member %s (%s) failed: %s; "
              "keeping %s",
              g->id, op->new_id, op->instance_id, kp_err_name(err), op->old_id);
    if (!find_member(g, op->old_id)) {
        if (g->leader && strcmp(g->leader, m->id) == 0) {
            free(g->leader);
            g->leader = xstrdup(op->old_id);
        }
        free(m->id);
        m->id = xstrdup(op->old_id);
    }
    join_error(cb, arg, mapped, "");
}

static void op_done(void *arg, kp_err_t err) {
    gc_op_t *op = arg;
    gc_t *gc = op->gc;
    if (op->prev) {
        op->prev->next = op->next;
    } else {
        gc->ops = op->next;
    }
    if (op->next) {
        op->next->prev = op->prev;
    }
    switch (op->kind) {
    case OP_COMMIT:
        op_commit_done(op, err);
        break;
    case OP_SYNC:
        op_sync_done(op, err);
        break;
    default:
        op_static_join_done(op, err);
        break;
    }
    op_free(op);
    wake(gc);
}
