/*
 * producer_state (replica/, prefix pst_): idempotent-producer state of one partition.
 *
 * For every producer id that wrote to the partition: its epoch and the metadata of its
 * last PST_MAX_BATCHES (5) batches (first/last sequence, first/last offset, max
 * timestamp). The leader checks each client batch against it before appending
 * (Kafka 3.8 ProducerAppendInfo rules, kafka-protocol/README.md "Problems to avoid" 11):
 *
 *  1. epoch older than the stored one            -> PST_INVALID_EPOCH (INVALID_PRODUCER_EPOCH)
 *  2. first/last sequence equal to one of the cached batches of the same epoch
 *                                                -> PST_DUPLICATE with the original offsets
 *  3. newer epoch: base sequence must be 0       -> otherwise PST_OUT_OF_ORDER
 *  4. same epoch: base sequence == last + 1 (2^31-1 wraps to 0) -> otherwise PST_OUT_OF_ORDER
 *  5. no state for the producer (never seen, expired, or log truncated): any sequence
 *     is accepted. Kafka >= 2.5 does this too (no more UNKNOWN_PRODUCER_ID from the log
 *     layer); see ProducerAppendInfo.checkSequence, "accept writes with any sequence".
 *
 * After an append (leader, follower, or recovery replaying the log) pst_update records
 * the batch without validation. The state lives with the log: pst_snapshot_write puts
 * it in <dir>/<20-digit offset>.snapshot (Kafka's snapshot layout, version 1, CRC-32C;
 * one entry per cached batch, oldest first, so Kafka's reader keeps the newest) and
 * pst_load reads the newest snapshot; the caller then replays the log from the offset
 * pst_load reports (pst_rebuild_from_log does it for a storage log).
 *
 * Not thread-safe: one owner (the partition, on the loop thread).
 */
#ifndef STRATA_PRODUCER_STATE_H
#define STRATA_PRODUCER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/storage.h"

#define PST_MAX_BATCHES           5
#define PST_NO_PRODUCER_ID        (-1LL)
#define PST_NO_EPOCH              (-1)
#define PST_DEFAULT_EXPIRATION_MS 86400000LL /* producer.id.expiration.ms */

typedef enum {
    PST_OK = 0,            /* append it */
    PST_DUPLICATE = 1,     /* already in the log: answer success with dup->first_offset */
    PST_OUT_OF_ORDER = 2,  /* OUT_OF_ORDER_SEQUENCE_NUMBER (45) */
    PST_INVALID_EPOCH = 3, /* INVALID_PRODUCER_EPOCH (47) */
} pst_result_t;

typedef struct pst_batch {
    int32_t first_seq;
    int32_t last_seq;
    int64_t first_offset;
    int64_t last_offset;
    int64_t timestamp; /* max timestamp of the batch */
} pst_batch_t;

/* One producer's state (read-only view for callers). */
typedef struct pst_entry {
    int64_t producer_id;
    int16_t epoch;
    int32_t coordinator_epoch;
    int64_t last_timestamp;
    int nbatches; /* cached batches, batches[0] the oldest */
    pst_batch_t batches[PST_MAX_BATCHES];
} pst_entry_t;

typedef struct pst pst_t;

/** A new, empty state. `name` ("topic-0") is copied, for log lines. */
pst_t *pst_new(const char *name);
void pst_free(pst_t *s); /* NULL is a no-op */
/** Forgets every producer (log truncated fully). */
void pst_clear(pst_t *s);

/** Sequence of the last record of a batch: base + delta, wrapping past INT32_MAX to 0. */
int32_t pst_last_seq(int32_t base_seq, int32_t last_offset_delta);

/**
 * Checks a client batch before it is appended (rules 1-5 above). On PST_DUPLICATE,
 * *dup (if not NULL) is the cached batch it repeats. Does not change the state.
 * Batches without a producer id (producer_id < 0) are always PST_OK.
 */
pst_result_t pst_check(const pst_t *s, int64_t producer_id, int16_t epoch, int32_t first_seq,
                       int32_t last_seq, pst_batch_t *dup);

/**
 * Records an appended batch (leader after log_append, follower, recovery). Keeps the
 * newest PST_MAX_BATCHES per producer; a newer epoch drops the older epoch's batches.
 * Ignored when producer_id < 0.
 */
void pst_update(pst_t *s, int64_t producer_id, int16_t epoch, int32_t first_seq, int32_t last_seq,
                int64_t first_offset, int64_t last_offset, int64_t timestamp);

/**
 * Convenience for a parsed magic-2 batch header (after offsets are assigned): control
 * batches and batches without a producer id are skipped.
 */
void pst_update_from_header(pst_t *s, const rb_header_t *h);

/**
 * Checks every batch of a produce request's records (magic 2, offsets not yet assigned)
 * before log_append: each idempotent batch against the state, and against the batch
 * before it in the same request. PST_DUPLICATE only when the first idempotent batch
 * repeats a cached one (*dup filled; the caller answers with dup->first_offset and
 * appends nothing). Unparsable bytes are PST_OK here: log_append rejects them.
 */
pst_result_t pst_check_records(const pst_t *s, const uint8_t *data, size_t len, pst_batch_t *dup);
/** true when data holds a batch with a producer id (worth opening the state for). */
bool pst_records_idempotent(const uint8_t *data, size_t len);
/** Records every batch of data after log_append assigned the offsets (pst_update_from_header). */
void pst_update_records(pst_t *s, const uint8_t *data, size_t len);

/** @returns the entry of producer_id or NULL. Borrowed until the next change. */
const pst_entry_t *pst_get(const pst_t *s, int64_t producer_id);
size_t pst_count(const pst_t *s);

/** Removes producers whose last timestamp is at least expiration_ms before now_ms. */
size_t pst_expire(pst_t *s, int64_t now_ms, int64_t expiration_ms);
/**
 * pst_expire with Kafka's defaults (producer.id.expiration.ms = 1 day), at most once per
 * producer.id.expiration.check.interval.ms (10 min); cheap to call on every append.
 */
void pst_maybe_expire(pst_t *s, int64_t now_ms);

/** Drops batches at or past `offset` (follower truncation); producers left empty go away. */
void pst_truncate_to(pst_t *s, int64_t offset);

/**
 * The offset the state reflects: one past the last batch recorded (pst_update) or the
 * snapshot offset after pst_load. 0 for a fresh state.
 */
int64_t pst_map_end_offset(const pst_t *s);
void pst_set_map_end_offset(pst_t *s, int64_t offset);

/* ---------------------------------------------------------------- snapshots */

/** Serialises the state (Kafka snapshot layout v1) into out (appended). */
void pst_snapshot_encode(const pst_t *s, buf_t *out);
/** Replaces the state with a serialised snapshot. @returns 0 or STRATA_ECORRUPT. */
int pst_snapshot_decode(pst_t *s, const uint8_t *data, size_t len);

/**
 * Writes <dir>/<20-digit offset>.snapshot atomically (fs_atomic_replace; blocking, so a
 * worker thread or shutdown) for the state at `offset` (normally pst_map_end_offset),
 * then deletes older snapshots beyond the newest `keep` (Kafka keeps 2). @returns 0 or -errno.
 * @blocking
 */
int pst_snapshot_write(const pst_t *s, const char *dir, int64_t offset, int keep);

/**
 * Loads the newest valid snapshot in dir whose offset is <= max_offset (the log end;
 * newer snapshots, e.g. after an unclean truncation, are deleted, as are corrupt ones).
 * Sets the map end offset to the snapshot offset (0 when none). @returns 0 or -errno.
 * @blocking
 */
int pst_load(pst_t *s, const char *dir, int64_t max_offset);

/**
 * Deletes <dir>/<offset>.snapshot files past `offset` (all of them for -1): on a log
 * truncation their state includes batches that are gone, and a later load once the log has
 * regrown past them would restore stale sequence numbers (Kafka deletes them on truncate
 * too). @returns 0 or the first -errno. @blocking (a listing and unlinks)
 */
int pst_delete_snapshots_after(const char *dir, int64_t offset);

/**
 * Replays the log's batches from pst_map_end_offset (or the log start, if later) to the
 * log end into the state. Run at recovery after pst_load. @returns 0 or a negative code.
 * @blocking (reads the log)
 */
int pst_rebuild_from_log(pst_t *s, log_t *log);

/**
 * The state of a log's partition: pst_new + pst_load(<log dir>, log end) +
 * pst_rebuild_from_log. Never NULL (a failed load or replay logs and starts empty, which
 * accepts any sequence: rule 5). @blocking (reads the snapshot and the log tail)
 */
pst_t *pst_open_log(log_t *log);

/** Writes <log dir>/<map end offset>.snapshot, keeping 2 (shutdown, segment roll). @blocking */
int pst_snapshot_log(const pst_t *s, log_t *log);

#define PST_SNAPSHOT_INTERVAL 100000 /* offsets between the periodic snapshots */

struct uv_loop_s;

/**
 * Every PST_SNAPSHOT_INTERVAL offsets, a snapshot written WITHOUT fsync (a page-cache write
 * and a rename): it only shortens the replay after a crash. A snapshot lost or torn by a
 * power failure fails its CRC and is ignored (rebuild from an older one or the log start);
 * one past the recovered log end is deleted by pst_load. With a loop (pst_set_loop) the
 * state is encoded here and the file work (create, write, rename, listing, unlink) runs
 * on the loop's thread pool, one write in flight per state; without one, inline.
 * @locality loop
 */
void pst_maybe_snapshot(pst_t *s, log_t *log);
/** Periodic snapshots go to this loop's thread pool (pst_loader_start sets it). */
void pst_set_loop(pst_t *s, struct uv_loop_s *loop);

/* ------------------------------------------------------- loading off the loop */

struct uv_loop_s;
typedef struct pst_loader pst_loader_t;
/** Receives the loaded state (never NULL; owned by the callee from now on). */
typedef void (*pst_loaded_cb)(void *arg, pst_t *s);

/**
 * pst_open_log without blocking the loop (producer_state_load.c): pst_load and the reads
 * of the log tail run on the thread pool, the loop applies the batch headers chunk by
 * chunk, up to the log end at the time the callback runs (appends made meanwhile are
 * included). A failed load logs and hands over an empty state at the log end (rule 5).
 * The log must stay open until the callback or pst_loader_cancel.
 * @locality loop
 */
pst_loader_t *pst_loader_start(struct uv_loop_s *loop, log_t *log, pst_loaded_cb cb, void *arg);
/** The callback will not run; the loader frees itself when its thread-pool job returns. */
void pst_loader_cancel(pst_loader_t *l);

#endif /* STRATA_PRODUCER_STATE_H */
