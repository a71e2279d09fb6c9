/*
 * replica: the partitions this broker hosts and its role for each (leader or
 * follower), appends as leader, the high watermark, and the purgatory of delayed
 * operations (a fetch waiting for min_bytes is woken by appends, or by a uv_timer at
 * max_wait_ms; nothing polls).
 *
 * The replica manager (rm_) follows the metadata cache (mdc_ listener events): every
 * partition whose replica set names this broker gets a local log; the partition's
 * leader field decides the role. In standalone mode this broker leads everything and
 * the high watermark equals the log end offset. The high watermark is kept separate
 * from the log end so issue 6 (followers, ISR) only changes how it advances.
 *
 * Everything here runs on the loop thread.
 */
#ifndef STRATA_REPLICA_H
#define STRATA_REPLICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "strata/cluster.h"
#include "strata/storage.h"
#include "strata/util.h"

/* Result codes of the replica layer beyond STRATA_E* (outside its reserved range). */
enum {
    RM_ENOT_LEADER = -29800,           /* hosted here, but this broker is not the leader */
    RM_ENOT_ENOUGH_REPLICAS = -29799,  /* acks=-1 and ISR smaller than min.insync.replicas */
    RM_ELEADER_NOT_AVAILABLE = -29798, /* partition exists, no leader elected yet */
    RM_EREQUIRED_ACKS = -29797,        /* acks not in {-1, 0, 1} */
    /* issue 7, idempotent producers (producer_state.h) */
    RM_EOUT_OF_ORDER_SEQUENCE = -29796,  /* sequence gap, or a new epoch not starting at 0 */
    RM_EINVALID_PRODUCER_EPOCH = -29795, /* epoch older than the partition has seen */
    /* issue 6, replication */
    RM_ENOT_ENOUGH_REPLICAS_AFTER_APPEND = -29794, /* ISR fell below min.insync.replicas */
    RM_ETIMED_OUT = -29793,                        /* acks=-1 not replicated in time */
    RM_EPENDING = 1                                /* rm_produce_status: still waiting */
};

/* ---------------------------------------------------------------- purgatory */

/*
 * A delayed operation watches one or more keys (purg_list_t, one per partition).
 * purg_notify(list, bytes) adds bytes to every watching operation; an operation
 * whose accumulated bytes reach its min_bytes completes (PURG_SATISFIED). The timer
 * completes it with PURG_TIMEOUT; purg_cancel and purg_list_wake_all (partition gone,
 * role changed) with PURG_CANCELLED / PURG_WOKEN. The callback runs exactly once;
 * the operation is freed by the purgatory afterwards (do not touch it after the cb).
 */
typedef struct purg_op purg_op_t;
typedef struct purg_node purg_node_t;
typedef struct purg_list {
    purg_node_t *head;
} purg_list_t;

typedef enum {
    PURG_SATISFIED = 0,
    PURG_TIMEOUT = 1,
    PURG_WOKEN = 2,
    PURG_CANCELLED = 3
} purg_reason_t;
typedef void (*purg_cb)(void *arg, purg_reason_t reason);

/**
 * Creates a delayed operation watching nlists keys, completing after timeout_ms at
 * the latest. accumulated starts at `have` bytes. @returns the operation (owned by
 * the purgatory until the callback has run).
 */
purg_op_t *purg_add(uv_loop_t *loop, purg_list_t *const *lists, size_t nlists, int64_t have,
                    int64_t min_bytes, uint64_t timeout_ms, purg_cb cb, void *arg);
/** Adds bytes to every operation watching list; completes the satisfied ones. */
void purg_notify(purg_list_t *list, int64_t bytes);
/** Completes every operation watching list with PURG_WOKEN (partition deleted or moved). */
void purg_list_wake_all(purg_list_t *list);
/** Completes op with PURG_CANCELLED now. Only before its callback ran: the op is freed after. */
void purg_cancel(purg_op_t *op);
/**
 * issue 6: a delayed operation completed by a condition rather than bytes (delayed
 * produce). ready(arg) is asked on every purg_check of a watched list; when it returns
 * true the operation completes with PURG_SATISFIED. Timer, wake and cancel as above.
 */
purg_op_t *purg_add_cond(uv_loop_t *loop, purg_list_t *const *lists, size_t nlists,
                         uint64_t timeout_ms, bool (*ready)(void *arg), purg_cb cb, void *arg);
/** Completes the conditional operations of list whose ready() now holds. */
void purg_check(purg_list_t *list);

/* ---------------------------------------------------------------- replica manager */

typedef struct rm rm_t;
typedef struct part part_t;

typedef struct rm_config {
    int32_t broker_id;
    int32_t min_insync_replicas;
    log_config_t log_defaults; /* broker-level log.* settings; topic overrides applied on top */
    /* issue 6, replication (0 = Kafka's default) */
    coord_t *coord;                    /* /isr_change_notification; NULL = none */
    ctl_t *ctl;                        /* ISR writes (ctl_update_isr); NULL = no ISR changes */
    int64_t replica_lag_time_max_ms;   /* replica.lag.time.max.ms, 30000 */
    int32_t replica_fetch_wait_max_ms; /* replica.fetch.wait.max.ms, 500 */
    int32_t replica_fetch_max_bytes;   /* replica.fetch.max.bytes, 1048576 */
    int32_t replica_fetch_response_max_bytes; /* replica.fetch.response.max.bytes, 10485760 */
    int32_t replica_fetch_min_bytes;          /* replica.fetch.min.bytes, 1 */
    int32_t replica_fetch_backoff_ms;         /* replica.fetch.backoff.ms, 1000 */
    int64_t hw_checkpoint_interval_ms; /* replica.high.watermark.checkpoint.interval.ms, 5000 */
} rm_config_t;

/** @returns a replica manager over logmgr (borrowed; must outlive it). */
rm_t *rm_new(uv_loop_t *loop, logmgr_t *logmgr, const rm_config_t *cfg);
/**
 * Subscribes to mdc (borrowed) and takes up every partition it already lists.
 * Call once, right after ctl_start.
 */
void rm_attach(rm_t *rm, mdc_t *mdc);
/** Wakes every delayed operation (they complete with PURG_WOKEN) and frees. NULL ok. */
void rm_free(rm_t *rm);

/**
 * The local partition. @returns 0 with *out set; STRATA_ENOTFOUND when the
 * topic/partition does not exist in the cluster; RM_ELEADER_NOT_AVAILABLE when it
 * exists without a leader; RM_ENOT_LEADER when another broker leads it or the local
 * log is not open here. With must_lead false a follower's partition is returned too.
 */
int rm_partition(rm_t *rm, const char *topic, int32_t partition, bool must_lead, part_t **out);

/**
 * Appends data (record batches, rewritten in place) as leader. acks is checked
 * (RM_EREQUIRED_ACKS); standalone completes at once; the high watermark advances and
 * delayed fetches on the partition are notified.
 * @returns 0 or a storage code (STRATA_ECORRUPT, STRATA_ETOO_LARGE, STRATA_EOFFLINE).
 */
int rm_append(rm_t *rm, part_t *p, uint8_t *data, size_t len, int16_t acks,
              log_append_info_t *info);

/** Reads from offset up to the high watermark (log_read semantics). */
int rm_read(part_t *p, int64_t offset, int64_t max_bytes, log_slice_t *out);

log_t *part_log(part_t *p);
int64_t part_high_watermark(const part_t *p);
int64_t part_log_start_offset(const part_t *p);
int64_t part_log_end_offset(const part_t *p);
int32_t part_leader_epoch(const part_t *p);
/** The purgatory key of delayed fetches on this partition. */
purg_list_t *part_fetch_waiters(part_t *p);

/* ---------------------------------------------------------------- replication (issue 6) */

/**
 * Leader side of a follower's Fetch (replica_id >= 0): records fetch_offset as the
 * follower's log end offset, re-admits it to the ISR once caught up, advances the high
 * watermark to the smallest log end offset in the ISR and wakes delayed produces.
 * @returns 0, or RM_ENOT_LEADER when replica_id is not an assigned replica.
 */
int rm_follower_fetch(rm_t *rm, part_t *p, int32_t replica_id, int64_t fetch_offset);
/** Reads for a follower: up to the log end offset (not bounded by the high watermark). */
int rm_read_replica(part_t *p, int64_t offset, int64_t max_bytes, log_slice_t *out);
/**
 * The state of an acks=-1 append waiting for replication, looked up by name (the
 * partition may have gone or moved meanwhile). @returns 0 (every ISR member has
 * required_offset - 1), RM_EPENDING (still waiting), RM_ENOT_LEADER,
 * RM_ENOT_ENOUGH_REPLICAS_AFTER_APPEND (replicated, but the ISR is below
 * min.insync.replicas), STRATA_ENOTFOUND.
 */
int rm_produce_status(rm_t *rm, const char *topic, int32_t partition, int64_t required_offset);
/** The purgatory key of followers' delayed fetches (appends wake them, HW advances do not). */
purg_list_t *part_replica_waiters(part_t *p);
/** The purgatory key of delayed produces on this partition (purg_check on HW advance). */
purg_list_t *part_produce_waiters(part_t *p);
/**
 * OffsetForLeaderEpoch, leader side: the end offset of `epoch` (the start offset of the
 * next larger epoch, or the log end for the current one) and the largest epoch <= it.
 * Both -1 when the epoch is older than anything known.
 */
void rm_epoch_end_offset(part_t *p, int32_t epoch, int32_t *epoch_out, int64_t *offset_out);
/** Follower fetchers, ISR timer and checkpoint timer stop; call before rm_free. */
void rm_stop(rm_t *rm);

/* Leader-epoch cache (leader_epoch.c): (epoch, start offset) pairs of one partition,
 * persisted in <partition dir>/leader-epoch-checkpoint (Kafka's format). */
typedef struct lec lec_t;
/** Loads the file of the log's partition directory (missing = empty). */
lec_t *lec_open(const char *partition_dir);
void lec_free(lec_t *c);
/** Records that `epoch` starts at start_offset (ignored unless newer than the last). */
bool lec_assign(lec_t *c, int32_t epoch, int64_t start_offset);
/** Drops entries starting at or after offset (follower truncation). */
bool lec_truncate_from_end(lec_t *c, int64_t offset);
/** Drops entries before offset, keeping one starting at offset (log start moved). */
bool lec_truncate_from_start(lec_t *c, int64_t offset);
int32_t lec_latest_epoch(const lec_t *c); /* -1 when empty */
/** See rm_epoch_end_offset; leo is the log end offset. */
void lec_end_offset_for(const lec_t *c, int32_t epoch, int64_t leo, int32_t *epoch_out,
                        int64_t *offset_out);
/** Kafka's checkpoint text of the cache into out (appended). */
void lec_format(const lec_t *c, buf_t *out);
/** Writes the file off the loop (uv_queue_work), latest content wins. */
void lec_save(lec_t *c, uv_loop_t *loop);

/** The log config of a topic: broker defaults with the topic's overrides (config props). */
void rm_topic_log_config(const rm_t *rm, const props_t *topic_config, log_config_t *out);

#endif /* STRATA_REPLICA_H */
