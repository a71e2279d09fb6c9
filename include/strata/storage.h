/*
 * storage: the partition log. Kafka's on-disk layout (<log.dirs>/<topic>-<p>/,
 * 20-digit segment files with .log/.index/.timeindex), record batches (magic v2)
 * stored as they arrive, reads handed out as (fd, position, length) so the network
 * layer can sendfile(2) them, crash recovery, retention, flush and checkpoints.
 *
 * Synchronous and single-threaded: every function runs on the caller's thread
 * (the event loop) except the fsync work the log hands to a strata_executor_t.
 * Nothing here includes uv.h.
 *
 * Invariants:
 *  1. Offsets increase from log_start_offset to log_end_offset across segments; they are
 *     contiguous except where the cleaner (compaction) removed records: a read at a
 *     removed offset returns the next batch.
 *  2. Every byte at a file position below a segment's size is a whole, CRC-valid
 *     batch once recovery has run; nothing else is ever served.
 *  3. A log that hit an I/O error is offline: every call returns STRATA_EOFFLINE.
 */
#ifndef STRATA_STORAGE_H
#define STRATA_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/util.h"

/* ---------------------------------------------------------------- executor */

/*
 * Runs blocking work off the loop. submit() runs work(arg) on a worker thread,
 * then after(arg) back on the submitting (loop) thread. The server implements it
 * with uv_queue_work; tests may run both inline.
 */
typedef struct strata_executor {
    void (*submit)(void *ctx, void (*work)(void *arg), void (*after)(void *arg), void *arg);
    void *ctx;
} strata_executor_t;

/** An executor that runs work and after immediately on the caller's thread (tests, tools). */
extern const strata_executor_t strata_inline_executor;

/* ---------------------------------------------------------------- config */

typedef struct log_config {
    int64_t segment_bytes;           /* log.segment.bytes, 1 GiB */
    int64_t roll_ms;                 /* log.roll.ms, 7 days */
    int64_t roll_jitter_ms;          /* log.roll.jitter.ms, 0: roll up to this much earlier */
    int32_t index_interval_bytes;    /* log.index.interval.bytes, 4096 */
    int32_t index_size_max_bytes;    /* log.index.size.max.bytes, 10 MiB */
    int64_t retention_ms;            /* log.retention.ms, 7 days; -1 = forever */
    int64_t retention_bytes;         /* log.retention.bytes, -1 = unlimited */
    int64_t flush_interval_messages; /* log.flush.interval.messages, INT64_MAX = never */
    int64_t flush_interval_ms;       /* log.flush.interval.ms, INT64_MAX = never */
    int32_t max_message_bytes;       /* message.max.bytes, 1048588 */
    bool log_append_time;            /* log.message.timestamp.type=LogAppendTime */
    int64_t file_delete_delay_ms;    /* log.segment.delete.delay.ms, 60000 */
    /* cleanup.policy: compact and/or delete (default delete only). compact alone turns
     * off time/size retention; the cleaner (log_clean) keeps the latest record per key. */
    bool cleanup_compact;
    bool cleanup_delete;
    double min_cleanable_ratio;    /* min.cleanable.dirty.ratio, 0.5 */
    int64_t delete_retention_ms;   /* delete.retention.ms, 86400000 (tombstones) */
    int64_t min_compaction_lag_ms; /* min.compaction.lag.ms, 0 */
    /* log.writeback.bytes (Strata's, no Kafka key), 1 MiB; 0 = off. Once the active
     * segment has this many bytes of whole pages past the last range handed to writeback,
     * a job on the executor starts writeback of them (sync_file_range WRITE, never the
     * tail page) so the kernel flusher never meets a large dirty range under an append.
     * A hint only: no durability, the recovery point does not move. */
    int64_t writeback_bytes;
    /* Clock for retention and roll decisions; NULL = clock_wall_ms. Tests inject one. */
    int64_t (*now_ms)(void *arg);
    void *now_arg;
} log_config_t;

/** Kafka's defaults. */
void log_config_default(log_config_t *cfg);

/* ---------------------------------------------------------------- record batches */

/* The fixed 61-byte header of a magic-2 record batch (README "Record batch v2"). */
#define RB_HEADER_SIZE        61
#define RB_OFF_BASE_OFFSET    0
#define RB_OFF_LENGTH         8
#define RB_OFF_LEADER_EPOCH   12
#define RB_OFF_MAGIC          16
#define RB_OFF_CRC            17
#define RB_OFF_ATTRIBUTES     21
#define RB_OFF_LAST_DELTA     23
#define RB_OFF_BASE_TIMESTAMP 27
#define RB_OFF_MAX_TIMESTAMP  35
#define RB_OFF_PRODUCER_ID    43
#define RB_OFF_PRODUCER_EPOCH 51
#define RB_OFF_BASE_SEQUENCE  53
#define RB_OFF_RECORD_COUNT   57
#define RB_ATTR_COMPRESSION   0x07
#define RB_ATTR_LOG_APPEND    0x08
#define RB_ATTR_TRANSACTIONAL 0x10
#define RB_ATTR_CONTROL       0x20

typedef struct rb_header {
    int64_t base_offset;
    int32_t length; /* batch_length: bytes after the length field */
    int32_t leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t record_count;
} rb_header_t;

/**
 * Parses and validates the batch at data[0..avail): size fields, magic 2, CRC-32C
 * over attributes..end, record count consistent with last_offset_delta.
 * @returns the batch's total size (> 0), 0 when avail holds only part of a batch
 * (truncated), or STRATA_ECORRUPT.
 */
long rb_parse(const uint8_t *data, size_t avail, rb_header_t *out);

/* Why rb_validate rejected a batch (tests and debug logs want the reason). */
typedef enum rb_status {
    RB_OK = 0,
    RB_TRUNCATED,  /* fewer bytes than the batch claims */
    RB_BAD_LENGTH, /* batch_length below the fixed header */
    RB_BAD_MAGIC,  /* magic != 2 */
    RB_BAD_CRC,    /* CRC-32C mismatch */
    RB_BAD_COUNT   /* record count inconsistent with last_offset_delta */
} rb_status_t;

/** rb_parse that also says why a batch was rejected (why may be NULL). */
long rb_validate(const uint8_t *data, size_t avail, rb_header_t *out, rb_status_t *why);
const char *rb_status_str(rb_status_t st);
/**
 * The first record of an uncompressed batch whose timestamp >= ts (ListOffsets).
 * @returns 0, STRATA_ENOTFOUND, STRATA_EINVAL for a compressed batch (use
 * rbc_find_record_by_time), or STRATA_ECORRUPT when the records do not parse.
 */
int rb_find_record_by_time(const uint8_t *batch, size_t len, int64_t ts, int64_t *offset_out,
                           int64_t *ts_out);

/* ---------------------------------------------------------------- compression */

/*
 * The codecs of a batch's records section (attributes & RB_ATTR_COMPRESSION), Kafka's
 * ids. Decompression is bounded: max_out caps the output, and a stream that would
 * exceed it fails with STRATA_ETOO_LARGE before allocating more; garbage or a
 * truncated stream fails with STRATA_ECORRUPT; an unknown codec with STRATA_EINVAL.
 * On failure nothing is left appended to out. Never used on the produce path.
 */
enum { RBC_NONE = 0, RBC_GZIP = 1, RBC_SNAPPY = 2, RBC_LZ4 = 3, RBC_ZSTD = 4 };

/* rbc_limit: max_message_bytes * RBC_LIMIT_FACTOR within [RBC_LIMIT_MIN, RBC_LIMIT_MAX]. */
#define RBC_LIMIT_FACTOR 32
#define RBC_LIMIT_MIN    (1024 * 1024)
#define RBC_LIMIT_MAX    (256 * 1024 * 1024)

/** The decompressed-size cap used by the log for a batch under message.max.bytes. */
size_t rbc_limit(int32_t max_message_bytes);
/** "gzip", "snappy", "lz4", "zstd", "none" or "unknown". */
const char *rbc_codec_name(int codec);
/**
 * Appends in[0..len) decompressed to out, at most max_out bytes. gzip (also zlib,
 * multi-member), snappy (xerial-framed as Java writes it, or one raw block as
 * librdkafka may send), lz4 (LZ4 frame), zstd (one or more frames, window <= 16 MiB).
 * @returns 0, STRATA_ECORRUPT, STRATA_ETOO_LARGE or STRATA_EINVAL.
 */
int rbc_decompress(int codec, const uint8_t *in, size_t len, size_t max_out, buf_t *out);
/**
 * Appends in[0..len) compressed with codec to out: gzip, xerial-framed snappy, an lz4
 * frame with independent 64 KiB blocks, zstd level 3. @returns 0 or STRATA_EINVAL.
 */
int rbc_compress(int codec, const uint8_t *in, size_t len, buf_t *out);
/**
 * The records section of the batch at batch[0..len): a pointer into the batch when
 * it is uncompressed, else into scratch (reset, then filled; borrowed until scratch
 * changes). @returns 0 or an rbc_decompress code (STRATA_ECORRUPT for a bad header).
 */
int rbc_batch_records(const uint8_t *batch, size_t len, size_t max_out, buf_t *scratch,
                      const uint8_t **records, size_t *records_len);
/**
 * Appends to out the batch re-encoded with codec (RBC_NONE decompresses): same header
 * fields, new length, compression bits and CRC. The log cleaner rewrites batches with
 * it. @returns 0 or an rbc_decompress/rbc_compress code.
 */
int rbc_batch_recode(const uint8_t *batch, size_t len, int codec, size_t max_out, buf_t *out);
/**
 * rb_find_record_by_time for any batch: a compressed one is decompressed into scratch
 * (at most max_out bytes). @returns 0, STRATA_ENOTFOUND, STRATA_ECORRUPT or
 * STRATA_ETOO_LARGE.
 */
int rbc_find_record_by_time(const uint8_t *batch, size_t len, int64_t ts, size_t max_out,
                            buf_t *scratch, int64_t *offset_out, int64_t *ts_out);

/* ---------------------------------------------------------------- legacy message sets */

/*
 * Produce v0-2 carry legacy MessageSets (magic 0 and 1). Like Kafka's LogValidator, the
 * broker up-converts them to one magic-2 batch before the normal append
 * (legacy_records.c, pure).
 */

/* Why lr_convert refused a message set (tests and debug logs want the reason). */
typedef enum lr_status {
    LR_OK = 0,
    LR_TRUNCATED,     /* a message (or the set's tail) shorter than it claims */
    LR_EMPTY,         /* no message at all, or a compressed wrapper with none inside */
    LR_BAD_SIZE,      /* message_size / key / value lengths inconsistent */
    LR_BAD_MAGIC,     /* magic not 0/1, or an inner magic != its wrapper's */
    LR_BAD_CRC,       /* CRC-32 (IEEE) mismatch */
    LR_NESTED,        /* a compressed message inside a compressed wrapper, or a null wrapper */
    LR_BAD_CODEC,     /* codec 5-7 */
    LR_ZSTD,          /* zstd with magic < 2 (Kafka: UNSUPPORTED_COMPRESSION_TYPE) */
    LR_TOO_LARGE,     /* decompressed or converted size over max_out */
    LR_BAD_COMPRESSED /* the wrapper's value does not decompress */
} lr_status_t;

/** true when data starts with a legacy message (magic byte 0 or 1 at offset 16). */
bool lr_is_legacy(const uint8_t *data, size_t len);
/**
 * Appends to out one magic-2 batch holding every message of the legacy set at
 * set[0..len) (wrappers flattened): base offset 0, leader epoch -1, producer id -1,
 * CreateTime, keys and values as sent, timestamps as sent (magic 0: -1; a magic-1 inner
 * message under a LogAppendTime wrapper: the wrapper's). Compressed with the codec of the
 * last compressed wrapper (Kafka's compression.type=producer), else uncompressed. Every
 * message's CRC is checked; decompression and output are bounded by max_out. Nothing is
 * appended on failure. @returns 0, STRATA_ECORRUPT, STRATA_ETOO_LARGE or STRATA_EINVAL
 * (codec: LR_BAD_CODEC / LR_ZSTD); *why (may be NULL) says which.
 */
int lr_convert(const uint8_t *set, size_t len, size_t max_out, buf_t *out, lr_status_t *why);
const char *lr_status_str(lr_status_t st);

/* ---------------------------------------------------------------- the log */

typedef struct log log_t;
typedef struct seg seg_t;

/* What an append did. */
typedef struct log_append_info {
    int64_t first_offset;    /* offset assigned to the first record */
    int64_t last_offset;     /* offset of the last record */
    int64_t log_append_time; /* broker time stamped in, or -1 (CreateTime) */
    int64_t max_timestamp;
    int32_t batch_count;
    int64_t record_count;
} log_append_info_t;

/* A byte range of one segment file, for sendfile. Holds a reference to the segment
 * (seg_keep) so retention cannot unlink it mid-send; release with log_slice_release. */
typedef struct log_slice {
    seg_t *seg;
    int fd;
    int64_t pos;
    int64_t len; /* 0 = nothing to read (caught up) */
} log_slice_t;

typedef void (*log_flush_cb)(void *arg, int status, int64_t flushed_offset);

/**
 * Opens (creating if needed) the partition directory <dir>/<topic>-<partition>.
 * Segments past recovery_point are scanned and truncated at the first bad batch,
 * unless clean_shutdown says the last stop was clean. Missing or corrupt indexes
 * are rebuilt. @returns 0 or a negative code; *out owned by the caller (log_close).
 */
int log_open(const char *dir, const char *topic, int32_t partition, const log_config_t *cfg,
             const strata_executor_t *executor, int64_t recovery_point, bool clean_shutdown,
             log_t **out);
/** Closes files (no flush). NULL is a no-op. Outstanding slices keep their segments alive. */
void log_close(log_t *log);

/**
 * Validates every batch in data[0..len) and appends them as the leader: assigns
 * offsets from log_end_offset (rewriting base_offset in place), stamps leader_epoch,
 * and with LogAppendTime sets max_timestamp and the attribute bit and recomputes the
 * CRC. All-or-nothing: on any bad batch nothing is written.
 * @returns 0, STRATA_ECORRUPT, STRATA_ETOO_LARGE, STRATA_EOFFLINE or -errno.
 */
int log_append(log_t *log, uint8_t *data, size_t len, int32_t leader_epoch,
               log_append_info_t *info);
/**
 * Appends batches as a follower: offsets, epochs and timestamps are kept as they are;
 * the first base offset must equal log_end_offset. Same validation as log_append.
 */
int log_append_replica(log_t *log, const uint8_t *data, size_t len, log_append_info_t *info);

/**
 * Finds the batches holding offsets from `offset` on, at most max_bytes (but always
 * the whole first batch, KIP-74), not past batches whose last offset >= max_offset
 * (the high watermark; INT64_MAX for no limit). The range lies in one segment.
 * @returns 0 (out->len may be 0 when offset == the end), STRATA_EOFFSET_RANGE when
 * offset is outside [log_start_offset, log_end_offset], STRATA_EOFFLINE.
 */
int log_read(log_t *log, int64_t offset, int64_t max_bytes, int64_t max_offset, log_slice_t *out);
void log_slice_release(log_slice_t *slice);
/** Whether the slice's bytes are all in the page cache (sendfile will not wait on the
 * disk); true when the kernel cannot tell. @locality loop */
bool log_slice_cached(const log_slice_t *slice);
/** Reads the slice's bytes into the page cache. @returns 0 or -errno. @locality worker:
 * blocks on the disk; the slice (and its segment reference) must outlive the call */
int log_slice_load(const log_slice_t *slice);

int64_t log_start_offset(const log_t *log);
int64_t log_end_offset(const log_t *log); /* next offset to be assigned */
int64_t log_size_bytes(const log_t *log);
int64_t log_recovery_point(const log_t *log); /* everything below is on disk (fsynced) */
int log_segment_count(const log_t *log);
bool log_is_offline(const log_t *log);
const char *log_dir_path(const log_t *log); /* the partition directory */
const char *log_topic(const log_t *log);
int32_t log_partition(const log_t *log);
const log_config_t *log_config(const log_t *log);
/** Replaces the configuration (topic config change); applies from the next append. */
int log_set_config(log_t *log, const log_config_t *cfg);

/**
 * ListOffsets by time: the first record whose timestamp >= ts (compressed batches are
 * decompressed, at most rbc_limit(message.max.bytes) bytes; a batch that cannot be
 * gives its base offset and max timestamp). Runs on the caller's thread.
 * @returns 0 with *offset_out and *ts_out set, or STRATA_ENOTFOUND when no batch is late enough.
 */
int log_offset_for_time(log_t *log, int64_t ts, int64_t *offset_out, int64_t *ts_out);

/** Starts a new segment at log_end_offset (trims the old segment's indexes). */
int log_roll(log_t *log);
/**
 * Raises the log start offset to offset (DeleteRecords, a follower following its
 * leader): offsets below it are no longer served (STRATA_EOFFSET_RANGE) and retention
 * deletes the segments wholly below it, whatever the cleanup policy. A lower offset
 * is a no-op. The log manager keeps it in log-start-offset-checkpoint, so it survives
 * a restart. @returns 0, STRATA_EOFFSET_RANGE when offset > log end, STRATA_EOFFLINE.
 */
int log_advance_start_offset(log_t *log, int64_t offset);
/** Drops every offset >= offset (followers). */
int log_truncate_to(log_t *log, int64_t offset);
/** Deletes everything and restarts the log at new_start (follower far behind). */
int log_truncate_fully_and_start_at(log_t *log, int64_t new_start);
/** Closes the log and removes its directory. */
int log_delete(log_t *log);

/**
 * Deletes whole segments older than retention_ms or beyond retention_bytes, never
 * the active one: renamed to .deleted at once, unlinked on the executor.
 * @returns the number of segments deleted, or a negative code.
 */
int log_apply_retention(log_t *log);
/**
 * Flushes everything appended so far: the fsyncs run on the executor, appends that
 * arrive meanwhile join the next flush (group commit, one flush in flight). cb runs on
 * the loop thread with the new recovery point. A failed fsync takes the log offline.
 */
int log_flush(log_t *log, log_flush_cb cb, void *arg);
/** Flushes if log.flush.interval.messages/ms say so. Called after appends and by a timer. */
void log_maybe_flush(log_t *log);
/** Synchronous flush for shutdown (blocking; not on a live loop). */
int log_flush_sync(log_t *log);

/* ---------------------------------------------------------------- cleaner (compaction) */

/* Result codes of the log beyond STRATA_E* (outside its reserved range). */
enum {
    LOG_ENO_KEY = -29900 /* a record without a key for a compacted log (Kafka INVALID_RECORD) */
};

/* What one cleaning pass did (src/storage/cleaner.c). */
typedef struct log_clean_stats {
    int64_t first_dirty;   /* the cleaner checkpoint the pass started from */
    int64_t end_offset;    /* first offset not cleaned: the new cleaner checkpoint */
    int64_t bytes_read;    /* bytes of the segments rewritten */
    int64_t bytes_written; /* bytes of the cleaned segments */
    int64_t records_read;  /* records looked at (uncompressed batches) */
    int64_t records_kept;  /* records written back */
    int32_t segments_in;   /* segments replaced */
    int32_t segments_out;  /* cleaned segments swapped in */
    int64_t tombstones_dropped;
} log_clean_stats_t;

/* status: 0 = swapped in; -ECANCELED = the log changed meanwhile (retention, truncation,
 * deletion) and the result was thrown away; other negative = I/O error (log offline). */
typedef void (*log_clean_cb)(void *arg, int status, const log_clean_stats_t *stats);

/**
 * What the cleaner would clean from the checkpoint first_dirty on: *dirty_end is the
 * first uncleanable offset (the active segment's base, or earlier when
 * min.compaction.lag.ms holds segments back), the return value the dirty ratio
 * cleanable / (clean + cleanable) bytes (0 when nothing is cleanable). @locality loop
 */
double log_cleanable_ratio(log_t *log, int64_t first_dirty, int64_t *dirty_end);
/**
 * Compacts the log (Kafka's LogCleaner): on the executor, builds key -> latest offset
 * over [first_dirty, dirty_end), rewrites every inactive segment below dirty_end
 * (grouped up to segment.bytes) into <base>.log.cleaned keeping the latest record
 * per key, fsyncs them; back on the loop renames .cleaned -> .swap, the old segments
 * -> .deleted, .swap -> the segment names, and swaps the segment array. Unless force,
 * does nothing below min_cleanable_ratio. One pass at a time per log.
 * @returns 0 when a pass started (cb follows, possibly before the return with the
 * inline executor), 1 when there is nothing to clean (cb not called), or a negative
 * code (STRATA_EOFFLINE, STRATA_EINVAL when a pass is already running).
 */
int log_clean(log_t *log, int64_t first_dirty, bool force, log_clean_cb cb, void *arg);
/** True while a cleaning pass of this log is in flight. */
bool log_cleaning(const log_t *log);
/**
 * The cleaner never rewrites a segment holding offsets at or past limit (Kafka cleans
 * only below the high watermark: a record a new leader would truncate must not have
 * displaced an older committed value). INT64_MAX (the default) = no limit.
 */
void log_set_clean_limit(log_t *log, int64_t limit);
/**
 * Parses cleanup.policy: "delete", "compact", or both comma-separated ("compact,delete",
 * spaces allowed), as Kafka's list. @returns 0 or STRATA_ECONFIG.
 */
int log_parse_cleanup_policy(const char *s, bool *compact, bool *del);

/* ---------------------------------------------------------------- checkpoints */

/*
 * Kafka's checkpoint text format:
 *   0\n<count>\n<topic> <partition> <offset>\n...
 * written atomically (fs_atomic_replace).
 */
typedef struct ckpt_entry {
    char *topic;
    int32_t partition;
    int64_t offset;
} ckpt_entry_t;

int ckpt_write(const char *path, const ckpt_entry_t *entries, size_t n);
/** @returns 0 (a missing file gives n = 0), or STRATA_ECORRUPT. Free with ckpt_free. */
int ckpt_read(const char *path, ckpt_entry_t **entries, size_t *n);
void ckpt_free(ckpt_entry_t *entries, size_t n);

/* ---------------------------------------------------------------- log manager */

/*
 * Owns every log under log.dirs: discovers and opens partitions at start (recovery
 * runs there), creates and deletes them, runs retention and flush from logmgr_tick,
 * and keeps recovery-point-offset-checkpoint and log-start-offset-checkpoint.
 */
typedef struct logmgr logmgr_t;

int logmgr_open(const char *const *dirs, size_t ndirs, const log_config_t *defaults,
                const strata_executor_t *executor, logmgr_t **out);
/** Writes checkpoints and the clean-shutdown marker after flushing every log. Blocking. */
int logmgr_shutdown(logmgr_t *mgr);
void logmgr_free(logmgr_t *mgr); /* closes logs without flushing (crash-like) */

log_t *logmgr_get(logmgr_t *mgr, const char *topic, int32_t partition);
/** Creates (or opens an existing) log. cfg NULL = the defaults. */
int logmgr_create(logmgr_t *mgr, const char *topic, int32_t partition, const log_config_t *cfg,
                  log_t **out);
int logmgr_delete(logmgr_t *mgr, const char *topic, int32_t partition);
/** Retention, time-based flush, checkpoint writing; call periodically from the loop. */
void logmgr_tick(logmgr_t *mgr);
/** Calls fn for every open log. */
void logmgr_foreach(logmgr_t *mgr, void (*fn)(log_t *log, void *arg), void *arg);
const char *logmgr_dir(const logmgr_t *mgr, size_t i);
size_t logmgr_dir_count(const logmgr_t *mgr);
/** The executor the manager's logs run their blocking work on. */
const strata_executor_t *logmgr_executor(const logmgr_t *mgr);
/**
 * meta.properties in every online log dir (Kafka's ZooKeeper-mode "version=0" file):
 * written when missing; an existing one must name the same broker.id (and the same
 * cluster.id when both are known), else STRATA_ECONFIG with the file named in the log.
 * cluster_id may be NULL. @returns 0 or a negative code.
 */
int logmgr_check_meta(logmgr_t *mgr, int32_t broker_id, const char *cluster_id);
/** log.flush.offset.checkpoint.interval.ms for logmgr_tick (default 60000). */
void logmgr_set_checkpoint_interval(logmgr_t *mgr, int64_t ms);
/** True once the i-th log dir went offline after an I/O error. */
bool logmgr_dir_offline(const logmgr_t *mgr, size_t i);

/* The log cleaner run by logmgr_tick for logs with cleanup.policy compact. */
typedef struct logmgr_cleaner_config {
    bool enable;        /* log.cleaner.enable, true */
    int64_t backoff_ms; /* log.cleaner.backoff.ms, 15000 */
} logmgr_cleaner_config_t;
void logmgr_set_cleaner(logmgr_t *mgr, const logmgr_cleaner_config_t *cfg);
/** The cleaner checkpoint (cleaner-offset-checkpoint) of a log, 0 when none. */
int64_t logmgr_cleaner_checkpoint(logmgr_t *mgr, const char *topic, int32_t partition);
/** Cleaning passes completed (swapped in) since open: tests poll it. */
int64_t logmgr_cleaner_passes(const logmgr_t *mgr);
/**
 * Where the cleaner must stop for a log (the partition's high watermark; -1 = do not
 * clean it now). Called before each look; without it logs are cleaned up to their
 * active segment.
 */
typedef int64_t (*logmgr_clean_limit_fn)(void *arg, const char *topic, int32_t partition);
void logmgr_set_clean_limit(logmgr_t *mgr, logmgr_clean_limit_fn fn, void *arg);

#endif /* STRATA_STORAGE_H */
