/*
 * group: the consumer-group coordinator (prefix gc_) and committed offsets.
 *
 * One gc_t per broker. It runs Kafka's classic group protocol (GroupCoordinator.scala):
 * states Empty, PreparingRebalance, CompletingRebalance, Stable, Dead; member ids,
 * generations, leader choice, protocol vote, session and rebalance timeouts,
 * group.initial.rebalance.delay.ms, static membership (group.instance.id). The
 * assignment itself comes from the client leader in SyncGroup.
 *
 * Committed offsets and group metadata are records of the internal __consumer_offsets
 * topic in Kafka's key/value format (GroupMetadataManager): offset commit key v1 /
 * value v3, group metadata key v2 / value v3. A group lives in partition
 * abs(javaStringHashCode(group)) % offsets.topic.num.partitions; the broker coordinates
 * the groups of the partitions it leads, after loading them (gc_load_*).
 *
 * The core has no sockets and no libuv: time comes from gc_clock_t, persistence goes
 * through gc_store_t (an append of a ready record batch to a __consumer_offsets partition),
 * and requests that must wait (JoinGroup until the rebalance completes, SyncGroup until
 * the leader's assignment) complete through callbacks. The owner calls gc_tick() when
 * the deadline passed to clock.wake_at arrives. Everything runs on the loop thread.
 *
 * Invariants:
 *  1. A member is in at most one group; a group.instance.id maps to at most one member.
 *  2. Every pending join/sync callback is called exactly once, or dropped by gc_cancel.
 *  3. In CompletingRebalance and Stable, generation_id and leader describe the members.
 */
#ifndef STRATA_GROUP_H
#define STRATA_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/proto.h"
#include "strata/replica.h"
#include "strata/util.h"

#define GC_OFFSETS_TOPIC "__consumer_offsets"

/* ---------------------------------------------------------------- config */

typedef struct gc_config {
    int32_t offsets_topic_num_partitions;        /* offsets.topic.num.partitions, 50 */
    int16_t offsets_topic_replication_factor;    /* offsets.topic.replication.factor, 3 */
    int32_t offsets_topic_segment_bytes;         /* offsets.topic.segment.bytes, 100 MiB */
    int32_t group_min_session_timeout_ms;        /* group.min.session.timeout.ms, 6000 */
    int32_t group_max_session_timeout_ms;        /* group.max.session.timeout.ms, 1800000 */
    int32_t group_initial_rebalance_delay_ms;    /* group.initial.rebalance.delay.ms, 3000 */
    int32_t group_max_size;                      /* group.max.size, INT32_MAX */
    int32_t offset_metadata_max_bytes;           /* offset.metadata.max.bytes, 4096 */
    int64_t offsets_retention_ms;                /* offsets.retention.minutes (10080) in ms */
    int64_t offsets_retention_check_interval_ms; /* offsets.retention.check.interval.ms */
    int32_t max_member_metadata_bytes;           /* JoinGroup protocol metadata cap (sum), 1 MiB */
    int32_t offsets_commit_timeout_ms;           /* offsets.commit.timeout.ms, 5000 (gcb_) */
} gc_config_t;

void gc_config_default(gc_config_t *cfg);

/* ---------------------------------------------------------------- environment */

typedef struct gc_clock {
    int64_t (*now_ms)(void *ctx);  /* monotonic-ish ms; also used as commit timestamps */
    int64_t (*wall_ms)(void *ctx); /* timestamps stored in records */
    /* The earliest pending deadline changed: call gc_tick at (or after) deadline_ms.
     * INT64_MAX = nothing pending. May be NULL (the owner polls gc_next_deadline). */
    void (*wake_at)(void *ctx, int64_t deadline_ms);
    void *ctx;
} gc_clock_t;

/* The completion of an append: NONE once the ISR has it, else the log append error
 * (NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS[_AFTER_APPEND], REQUEST_TIMED_OUT, ...). */
typedef void (*gc_store_cb)(void *arg, kp_err_t err);

typedef struct gc_store {
    /* Appends one record batch (magic 2, uncompressed, offsets from 0, which the log
     * reassigns) to __consumer_offsets partition `partition` with acks=-1.
     * @returns 0 when appended locally: done(done_arg, err) then runs exactly once, when
     * the append is replicated or failed (it may run before append returns); or a Kafka
     * error code (kp_err_t) at once, and done never runs. done NULL = nobody waits
     * (tombstones, the record of a group gone empty). Completions must not arrive after
     * gc_free (the owner completes or fails them first). */
    int (*append)(void *ctx, int32_t partition, uint8_t *batch, size_t len, gc_store_cb done,
                  void *done_arg);
    void *ctx;
} gc_store_t;

typedef struct gc gc_t;

/** @returns a coordinator owning no partition yet. cfg, clock and store are copied. */
gc_t *gc_new(const gc_config_t *cfg, const gc_clock_t *clock, const gc_store_t *store);
/** Frees everything; pending callbacks are dropped (not called). NULL is a no-op.
 * No store completion may arrive afterwards. */
void gc_free(gc_t *gc);

/** Kafka's String.hashCode over the UTF-16 code units of a UTF-8 string. */
int32_t gc_java_string_hash(const char *s);
/** abs(hash(group)) % offsets.topic.num.partitions (Kafka's Utils.abs: MIN_VALUE -> 0). */
int32_t gc_partition_for(const gc_t *gc, const char *group_id);
const gc_config_t *gc_config(const gc_t *gc);

/* ---------------------------------------------------------------- ownership and loading */

/** NONE when this broker coordinates group_id now, else NOT_COORDINATOR or
 * COORDINATOR_LOAD_IN_PROGRESS. */
kp_err_t gc_check_coordinator(const gc_t *gc, const char *group_id);
/** This broker became leader of the partition: answer LOAD_IN_PROGRESS until load_done. */
void gc_load_begin(gc_t *gc, int32_t partition);
/**
 * Replays record batches read from the partition (any number, back to back; truncated
 * tail ignored). Offsets and group metadata records update the in-memory state.
 * @returns 0 or STRATA_ECORRUPT (the rest of the data is skipped).
 */
int gc_load_batches(gc_t *gc, int32_t partition, const uint8_t *data, size_t len);
/** Loading done: groups are served; loaded members must heartbeat within their session. */
void gc_load_done(gc_t *gc, int32_t partition);
/** Leadership lost: groups of the partition are dropped, waiting requests get NOT_COORDINATOR. */
void gc_unload(gc_t *gc, int32_t partition);
bool gc_owns(const gc_t *gc, int32_t partition);

/* ---------------------------------------------------------------- timers */

/** Expires sessions, pending members, rebalance and initial-delay timers, old offsets. */
void gc_tick(gc_t *gc);
/** The earliest deadline (ms on the gc clock), INT64_MAX when none. */
int64_t gc_next_deadline(const gc_t *gc);

/** Drops every pending callback whose arg is `arg` (its connection closed). */
void gc_cancel(gc_t *gc, void *arg);

/* ---------------------------------------------------------------- group protocol */

typedef struct gc_protocol {
    const char *name;
    const uint8_t *metadata;
    size_t len;
} gc_protocol_t;

typedef struct gc_join_req {
    const char *group_id;
    const char *member_id;         /* "" = unknown */
    const char *group_instance_id; /* NULL = dynamic member */
    const char *protocol_type;
    const gc_protocol_t *protocols;
    size_t nprotocols;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms; /* v0: -1 = session timeout */
    const char *client_id;
    const char *client_host;
    int16_t version; /* MEMBER_ID_REQUIRED from v4 */
} gc_join_req_t;

typedef struct gc_join_member {
    const char *member_id;
    const char *group_instance_id; /* NULL when dynamic */
    const uint8_t *metadata;
    size_t len;
} gc_join_member_t;

/* Valid during the callback only. */
typedef struct gc_join_result {
    kp_err_t error;
    int32_t generation_id;
    const char *protocol_type; /* NULL when unknown */
    const char *protocol_name; /* NULL when unknown */
    const char *leader;        /* "" when unknown */
    const char *member_id;
    const gc_join_member_t *members; /* the leader only */
    size_t nmembers;
} gc_join_result_t;

typedef void (*gc_join_cb)(void *arg, const gc_join_result_t *res);

/** JoinGroup: cb runs now (errors, MEMBER_ID_REQUIRED, current generation) or when the
 * rebalance completes. A static member rejoining a Stable group under a new member id
 * without a rebalance is answered once the group record naming it is stored (on failure:
 * the old member id is restored and the error returned), as Kafka's
 * updateStaticMemberAndRebalance. */
void gc_join(gc_t *gc, const gc_join_req_t *req, gc_join_cb cb, void *arg);

typedef struct gc_assignment {
    const char *member_id;
    const uint8_t *data;
    size_t len;
} gc_assignment_t;

typedef struct gc_sync_req {
    const char *group_id;
    int32_t generation_id;
    const char *member_id;
    const char *group_instance_id;      /* NULL */
    const char *protocol_type;          /* NULL (before v5) */
    const char *protocol_name;          /* NULL (before v5) */
    const gc_assignment_t *assignments; /* the leader's; empty from followers */
    size_t nassignments;
} gc_sync_req_t;

typedef struct gc_sync_result {
    kp_err_t error;
    const char *protocol_type;
    const char *protocol_name;
    const uint8_t *assignment;
    size_t len;
} gc_sync_result_t;

typedef void (*gc_sync_cb)(void *arg, const gc_sync_result_t *res);

/** SyncGroup: cb runs now, or once the leader's assignment is stored: the group (with
 * the assignment) is appended to __consumer_offsets and every waiting member is answered
 * when that append completes; on failure they get the error mapped as Kafka's storeGroup
 * (REQUEST_TIMED_OUT -> REBALANCE_IN_PROGRESS, NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE)
 * and the group rebalances again. */
void gc_sync(gc_t *gc, const gc_sync_req_t *req, gc_sync_cb cb, void *arg);

kp_err_t gc_heartbeat(gc_t *gc, const char *group_id, int32_t generation_id, const char *member_id,
                      const char *group_instance_id);

typedef struct gc_leave_member {
    const char *member_id;         /* may be "" for a static member (v3+) */
    const char *group_instance_id; /* NULL */
    kp_err_t error;                /* out */
} gc_leave_member_t;

/** LeaveGroup: @returns the top-level error; per-member errors in members[i].error. */
kp_err_t gc_leave(gc_t *gc, const char *group_id, gc_leave_member_t *members, size_t n);

/* ---------------------------------------------------------------- offsets */

typedef struct gc_commit_partition {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch; /* -1 */
    const char *metadata; /* NULL = "" */
    kp_err_t error;       /* in: a pre-set error (e.g. UNKNOWN_TOPIC_OR_PARTITION) skips it; out */
} gc_commit_partition_t;

typedef void (*gc_commit_cb)(void *arg, gc_commit_partition_t *parts, size_t n);

/**
 * OffsetCommit: generation -1 with an empty member id is an admin commit (Empty groups
 * only). Appends one batch to __consumer_offsets; the offsets stay pending (OffsetFetch
 * still answers the previous ones) until the store completes: on success they enter the
 * cache, on failure the cache is unchanged and the partitions get the error mapped as
 * Kafka's GroupMetadataManager.storeOffsets (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE,
 * REQUEST_TIMED_OUT, INVALID_COMMIT_OFFSET_SIZE). cb(arg, parts, n) runs exactly once
 * with every partition's error filled in, now (nothing to append, an error) or at the
 * completion, unless gc_cancel(arg) dropped it; parts must stay valid until then.
 */
void gc_commit(gc_t *gc, const char *group_id, int32_t generation_id, const char *member_id,
               const char *group_instance_id, gc_commit_partition_t *parts, size_t n,
               gc_commit_cb cb, void *arg);

typedef struct gc_offset {
    int64_t offset; /* -1 = none */
    int32_t leader_epoch;
    const char *metadata; /* borrowed until the next change of the group */
    int64_t commit_timestamp;
} gc_offset_t;

/** OffsetFetch of one partition: offset -1 and metadata "" when nothing is committed. */
kp_err_t gc_fetch_offset(const gc_t *gc, const char *group_id, const char *topic, int32_t partition,
                         gc_offset_t *out);
/** Every committed offset of the group, sorted by topic then partition. */
typedef void (*gc_offset_fn)(void *arg, const char *topic, int32_t partition,
                             const gc_offset_t *off);
kp_err_t gc_fetch_all_offsets(const gc_t *gc, const char *group_id, gc_offset_fn fn, void *arg);
/** A commit of the partition is appended but not yet complete (Kafka's
 * hasPendingOffsetCommitsForTopicPartition: OffsetFetch v7+ require_stable answers
 * UNSTABLE_OFFSET_COMMIT for it). */
bool gc_offset_pending(const gc_t *gc, const char *group_id, const char *topic, int32_t partition);

/* ---------------------------------------------------------------- admin */

typedef enum {
    GC_EMPTY = 0,
    GC_PREPARING_REBALANCE,
    GC_COMPLETING_REBALANCE,
    GC_STABLE,
    GC_DEAD
} gc_state_t;

/** Kafka's names: "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead". */
const char *gc_state_name(gc_state_t s);

typedef struct gc_member_desc {
    const char *member_id;
    const char *group_instance_id; /* NULL */
    const char *client_id;
    const char *client_host;
    const uint8_t *metadata; /* chosen protocol's metadata; NULL unless Stable */
    size_t metadata_len;
    const uint8_t *assignment; /* NULL unless Stable */
    size_t assignment_len;
} gc_member_desc_t;

typedef struct gc_group_desc {
    kp_err_t error;
    const char *group_id;
    gc_state_t state;
    const char *protocol_type; /* "" when none */
    const char *protocol_name; /* "" unless Stable */
    int32_t generation_id;
    const gc_member_desc_t *members;
    size_t nmembers;
} gc_group_desc_t;

/** DescribeGroups of one group (unknown: state Dead, error NONE, as Kafka); valid in fn. */
void gc_describe(const gc_t *gc, const char *group_id,
                 void (*fn)(void *arg, const gc_group_desc_t *d), void *arg);
/** ListGroups: every group of the partitions this broker coordinates (loaded). */
void gc_list(const gc_t *gc,
             void (*fn)(void *arg, const char *group_id, const char *protocol_type,
                        gc_state_t state),
             void *arg);
/** DeleteGroups of one group: GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, NOT_COORDINATOR, NONE. */
kp_err_t gc_delete_group(gc_t *gc, const char *group_id);

/* ---------------------------------------------------------------- records (exposed for
 * tests/tools) */

/* Kafka __consumer_offsets keys and values (big-endian, int16-length strings). */
void gc_encode_offset_key(buf_t *out, const char *group, const char *topic, int32_t partition);
void gc_encode_offset_value(buf_t *out, int64_t offset, int32_t leader_epoch, const char *metadata,
                            int64_t commit_timestamp);
void gc_encode_group_key(buf_t *out, const char *group);

/* A record batch under construction (uncompressed magic 2). */
typedef struct gc_batch {
    buf_t buf;
    int32_t count;
    int64_t base_timestamp;
} gc_batch_t;
void gc_batch_init(gc_batch_t *b, int64_t timestamp);
/** value NULL = tombstone. */
void gc_batch_add(gc_batch_t *b, const uint8_t *key, size_t klen, const uint8_t *value,
                  size_t vlen);
/** Fills the header and CRC; the batch is b->buf.data[0..b->buf.len). */
void gc_batch_finish(gc_batch_t *b);
void gc_batch_destroy(gc_batch_t *b);

/**
 * Calls fn for every record of every uncompressed magic-2 batch in data (value NULL for
 * a tombstone). Compressed or control batches are skipped. @returns 0 or STRATA_ECORRUPT.
 */
int gc_batch_foreach(const uint8_t *data, size_t len,
                     void (*fn)(void *arg, const uint8_t *key, size_t klen, const uint8_t *value,
                                size_t vlen),
                     void *arg);

/* ---------------------------------------------------------------- broker glue (gcb_) */

/*
 * gcb_ binds the pure coordinator to a running broker (src/group/broker.c): the clock is
 * a uv_timer, the store appends to the local leader of __consumer_offsets-<p> with acks=-1
 * (refused with NOT_ENOUGH_REPLICAS below min.insync.replicas) and completes the append
 * when the ISR has it (a conditional operation on the partition's produce purgatory key,
 * offsets.commit.timeout.ms, then REQUEST_TIMED_OUT),
 * a partition is loaded from its log (reads on the thread pool) when the metadata cache
 * shows this broker became its leader or when a request needs it (and unloaded when
 * leadership moves), __consumer_offsets is created
 * through the controller on first use (offsets.topic.num.partitions, replication
 * factor capped by live brokers, cleanup.policy=compact). It also hands out producer
 * ids from blocks claimed in coord at /latest_producer_id_block (Kafka's JSON).
 * Loop thread only.
 */
typedef struct gcb gcb_t;

typedef struct gcb_config {
    int32_t broker_id;
    gc_config_t gc;
} gcb_config_t;

/** All borrowed pointers must outlive the gcb (free it before them). */
gcb_t *gcb_new(uv_loop_t *loop, rm_t *rm, ctl_t *ctl, mdc_t *mdc, coord_t *coord,
               const gcb_config_t *cfg);
/** Answers every waiting group request (NOT_COORDINATOR), fails the appends still
 * waiting for replication, and stops the timer. */
void gcb_shutdown(gcb_t *g);
/** Closes the timer handle; the memory goes in its close callback. NULL is a no-op. */
void gcb_free(gcb_t *g);
gc_t *gcb_gc(gcb_t *g);
/**
 * Makes sure this broker may serve group_id now: starts loading its partition if this
 * broker leads it (the reads run on the libuv thread pool, chunk by chunk; the loop never
 * waits), unloads it if not. @returns NONE, COORDINATOR_LOAD_IN_PROGRESS (loading: the
 * client retries), NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE (topic being created, no
 * leader) or INVALID_GROUP_ID.
 */
kp_err_t gcb_prepare(gcb_t *g, const char *group_id);
/** gcb_prepare for every __consumer_offsets partition (ListGroups): NONE, or
 * COORDINATOR_LOAD_IN_PROGRESS while any partition this broker leads is loading. */
kp_err_t gcb_prepare_all(gcb_t *g);
/** FindCoordinator: the leader of the group's partition (host borrowed from the cache). */
kp_err_t gcb_find_coordinator(gcb_t *g, const char *group_id, int32_t *node_id, const char **host,
                              int32_t *port);

typedef void (*gcb_pid_cb)(void *arg, kp_err_t err, int64_t producer_id, int16_t epoch);
/** InitProducerId (idempotent, no transactional id): cb now or once a block is claimed. */
void gcb_init_producer_id(gcb_t *g, gcb_pid_cb cb, void *arg);

#endif /* STRATA_GROUP_H */
