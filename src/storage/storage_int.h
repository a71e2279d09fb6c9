/*
 * storage internals: the objects behind log_t (segments, offset and time indexes,
 * a buffered segment reader) shared by the files of src/storage/. Not a public API.
 *
 * Invariants:
 *  1. A segment's .log holds whole batches in [0, size); offsets in it run
 *     contiguously from base_offset to next_offset - 1.
 *  2. Index entries are strictly increasing in offset and position (offset index) and
 *     in timestamp (time index); they only ever point at batch starts below size.
 *  3. A seg_t lives while anyone holds a reference (the log's array, a read slice, a
 *     flush job): its fd and maps stay valid even after retention renamed its files.
 */
#ifndef STRATA_STORAGE_INT_H
#define STRATA_STORAGE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "strata/storage.h"
#include "strata/util.h"

#include <stdlib.h>

#define OIDX_ENTRY_SIZE 8  /* relative offset u32 BE + position u32 BE */
#define TIDX_ENTRY_SIZE 12 /* timestamp i64 BE + relative offset u32 BE */

/* ---------------------------------------------------------------- rb helpers */

/** Header fields only, no CRC (trusted bytes below the recovery point). */
void rb_read_header(const uint8_t *p, rb_header_t *h);
/** A zigzag varint of a record (Kafka's signed varlong) at *p, advancing *p.
 * @returns false past end or over 10 bytes. */
bool rb_read_varlong(const uint8_t **p, const uint8_t *end, int64_t *out);
/**
 * The first record whose timestamp >= ts and offset >= min_offset in the (uncompressed)
 * records section of the batch whose header is h.
 * @returns 0, STRATA_ENOTFOUND or STRATA_ECORRUPT.
 */
int rb_find_in_records(const rb_header_t *h, const uint8_t *records, size_t len, int64_t ts,
                       int64_t min_offset, int64_t *offset_out, int64_t *ts_out);

/* ---------------------------------------------------------------- indexes */

/* A memory-mapped index file: fixed-size entries, preallocated while active. */
typedef struct idx_file {
    char *path;
    int fd;
    uint8_t *map;      /* NULL when map_len == 0 */
    size_t map_len;    /* bytes mapped == file length */
    size_t entry_size; /* OIDX_ENTRY_SIZE or TIDX_ENTRY_SIZE */
    uint32_t entries;  /* valid entries */
    uint32_t max_entries;
    int64_t base_offset;
} idx_file_t;

typedef idx_file_t oidx_t;
typedef idx_file_t tidx_t;

/** Opens or creates path, maps it, and counts the valid entry prefix (no resize). */
int idx_open(idx_file_t *ix, const char *path, size_t entry_size, int64_t base_offset);
/** Grows or shrinks the file (and map) to hold max_bytes / entry_size entries. */
int idx_resize(idx_file_t *ix, int64_t max_bytes);
/** Shrinks the file to exactly the valid entries (segment roll, clean close). */
int idx_trim(idx_file_t *ix);
/** Forgets entries from n on and zeroes them in the map. */
void idx_truncate_entries(idx_file_t *ix, uint32_t n);
void idx_close(idx_file_t *ix);
int idx_fsync(idx_file_t *ix);
/** Number of entries the file length holds (an untrimmed file counts its zero tail). */
uint32_t idx_file_slots(const idx_file_t *ix);

/* Offset index: entry = (last offset of a batch, file position of that batch). */
bool oidx_full(const oidx_t *ix);
/** Appends; entries past the preallocated size are dropped (the index is sparse). */
void oidx_append(oidx_t *ix, int64_t offset, int64_t pos);
void oidx_entry(const oidx_t *ix, uint32_t i, int64_t *offset, int64_t *pos);
/** Largest entry with offset <= target: its position (0 = segment start), its offset. */
int64_t oidx_lookup(const oidx_t *ix, int64_t target, int64_t *entry_offset);
/** Largest entry with position <= pos, returns its position (0 when none). */
int64_t oidx_floor_pos(const oidx_t *ix, int64_t pos);
/** Validates the first `slots` entries; @returns how many form a valid prefix. */
uint32_t oidx_valid_prefix(const oidx_t *ix, uint32_t slots, int64_t seg_size);
/** Drops entries with offset >= offset. */
void oidx_truncate_to(oidx_t *ix, int64_t offset);

/* Time index: entry = (max timestamp so far, offset of the batch that reached it). */
bool tidx_full(const tidx_t *ix);
/** Appends when ts is above the last entry's timestamp. */
void tidx_maybe_append(tidx_t *ix, int64_t ts, int64_t offset);
void tidx_entry(const tidx_t *ix, uint32_t i, int64_t *ts, int64_t *offset);
/** Largest entry with timestamp < ts: its offset, or -1 when none. */
int64_t tidx_lookup_before(const tidx_t *ix, int64_t ts);
uint32_t tidx_valid_prefix(const tidx_t *ix, uint32_t slots, int64_t next_offset);
void tidx_truncate_to(tidx_t *ix, int64_t offset);
int64_t tidx_last_ts(const tidx_t *ix); /* -1 when empty */

/* ---------------------------------------------------------------- segment reader */

/* Reads batch headers and batches of a segment file through one buffer. */
typedef struct seg_reader {
    int fd;
    const char *path;
    uint8_t *buf;
    size_t cap;
    int64_t bpos;  /* file position of buf[0] */
    size_t blen;   /* valid bytes in buf */
    int64_t fsize; /* file size: reads never go past it */
} seg_reader_t;

void seg_reader_init(seg_reader_t *r, int fd, const char *path, int64_t fsize);
void seg_reader_destroy(seg_reader_t *r);
/**
 * Makes [pos, pos+n) available, reading ahead `ahead` bytes when it has to read.
 * @returns 0 with *p set, 1 when the file ends first, or -errno.
 */
int seg_reader_get(seg_reader_t *r, int64_t pos, size_t n, size_t ahead, const uint8_t **p);

/* ---------------------------------------------------------------- segment */

struct seg {
    int64_t base_offset;
    int64_t next_offset; /* last offset + 1; base_offset when empty */
    int64_t size;        /* bytes of whole batches in .log */
    int fd;              /* .log, read-write */
    char *log_path;
    char *oidx_path;
    char *tidx_path;
    oidx_t oidx;
    tidx_t tidx;
    int64_t bytes_since_index;
    int64_t max_ts;           /* largest batch max_timestamp, -1 = none */
    int64_t offset_of_max_ts; /* last offset of the batch that first reached it */
    int64_t created_ms;       /* clock time the segment was created or loaded */
    int64_t first_batch_ts;   /* max timestamp of its first batch, SEG_TS_UNKNOWN = not read */
    int64_t roll_jitter_ms;   /* drawn at creation from log.roll.jitter.ms */
    int refs;                 /* atomic */
    bool index_synced;        /* indexes fsynced after the roll */
    bool deleted;             /* files renamed to .deleted */
};

#define SEG_TS_UNKNOWN INT64_MIN

/**
 * The max timestamp of the segment's first batch (Kafka's rollingBasedTimestamp),
 * read from the file once when unknown. @returns it, or -1 (none, empty, unreadable).
 */
int64_t seg_first_batch_ts(seg_t *s);
/** Creates a fresh segment (truncating leftovers) with preallocated indexes. */
int seg_create(const char *dir, int64_t base_offset, int64_t index_max_bytes, seg_t **out);
/** Opens an existing segment's files; nothing is read or validated yet. */
int seg_open_files(const char *dir, int64_t base_offset, seg_t **out);
void seg_keep(seg_t *s);
void seg_release(seg_t *s);

/**
 * Recovers the segment: walks the batches, CRC-checking those whose last offset >=
 * trust_below (header checks only for the others), rebuilds both indexes and truncates
 * the file at the first torn or corrupt batch. With 0 < trust_below < INT64_MAX the
 * walk starts at the last checked offset index entry below trust_below (the
 * unflushed tail only); INT64_MAX means "the index is bad: walk it all".
 * @returns 0 (with *truncated_bytes) or -errno.
 */
int seg_recover(seg_t *s, int64_t trust_below, int32_t index_interval, int64_t index_max_bytes,
                int64_t *truncated_bytes);
/**
 * Loads a segment trusted as whole (below the recovery point or after a clean stop):
 * validates its indexes (rebuilding them by a header walk when missing or corrupt).
 * next_hint < 0 marks the last (active) segment: its indexes are resized for appends
 * and next_offset is found by walking from the last index entry; otherwise next_hint
 * is the next segment's base offset and the indexes stay trimmed.
 * @returns 0, 1 when a rebuild happened, or -errno.
 */
int seg_load(seg_t *s, int64_t next_hint, bool index_missing, int32_t index_interval,
             int64_t index_max_bytes);
/** Records a batch appended at pos in the indexes and the segment's totals. */
void seg_note_batch(seg_t *s, const rb_header_t *h, int64_t pos, int64_t total,
                    int32_t index_interval);
/** Final time index entry, trims both indexes (roll, clean close). */
int seg_seal(seg_t *s);
/** Makes the segment writable again: indexes back to their preallocated size. */
int seg_unseal(seg_t *s, int64_t index_max_bytes);
/**
 * Finds the position of the first batch whose last offset >= offset, walking from the
 * offset index entry. @returns 0 with *pos (size when none), *hdr filled when found.
 */
int seg_find_offset(seg_t *s, int64_t offset, int64_t *pos, rb_header_t *hdr, bool *found);
/** Drops batches from the one holding offset on. @returns 0 or -errno. */
int seg_truncate_to(seg_t *s, int64_t offset, int32_t index_interval);
/** Renames the three files to *.deleted. @returns 0 or -errno. */
int seg_mark_deleted(seg_t *s);
/** Reads the 61-byte header at pos. @returns 0, 1 at end of file, -errno or STRATA_ECORRUPT. */
int seg_read_header(seg_t *s, int64_t pos, rb_header_t *h);
/** The segment file name for base offset with suffix (".log", ".index", ".timeindex"). */
char *seg_file_path(const char *dir, int64_t base_offset, const char *suffix);

/* ---------------------------------------------------------------- log */

/* Files renamed to *.deleted, unlinked once log.segment.delete.delay.ms has passed. */
typedef struct pending_delete {
    char *paths[3];
    int64_t due_ms;
} pending_delete_t;

typedef struct flush_waiter {
    log_flush_cb cb;
    void *arg;
    int64_t target;
    struct flush_waiter *next;
} flush_waiter_t;

struct log {
    char *dir; /* <log.dirs>/<topic>-<partition> */
    char *topic;
    int32_t partition;
    log_config_t cfg;
    strata_executor_t exec;
    seg_t **segs;
    int nsegs;
    int cap;
    int64_t start_offset;
    int64_t recovery_point;
    bool offline;
    bool closing;   /* log_close ran while a flush was in flight */
    bool dir_dirty; /* a file was created/renamed since the last flush */
    bool flush_inflight;
    bool in_callbacks;       /* running flush callbacks: log_close defers the free */
    uint64_t trunc_gen;      /* bumped by truncation: an in-flight flush must not trust */
    flush_waiter_t *waiters; /* FIFO */
    flush_waiter_t *waiters_tail;
    int64_t last_flush_ms;
    buf_t scratch; /* reused by time lookups */
    pending_delete_t *dels;
    int ndels;
    int capdels;
    struct clean_job *cleaning; /* the cleaning pass in flight (cleaner.c), or NULL */
    int64_t clean_limit;        /* log_set_clean_limit (the high watermark) */
    bool clean_limit_set;       /* false: no limit */
    struct wb_job *wb_job;      /* the writeback job in flight (writeback.c), or NULL */
    int64_t wb_base;            /* base offset of the segment wb_end is a position in */
    int64_t wb_end;             /* writeback was started for [0, wb_end) of that segment */
};

static inline seg_t *log_active(const log_t *log) {
    return log->segs[log->nsegs - 1];
}
int64_t log_now_ms(const log_t *log);
/** Takes the log offline after an I/O error, logging what and where. */
void log_fail(log_t *log, int err, const char *what, const char *path);
int log_push_segment(log_t *log, seg_t *s);
/** Removes segments [0, n) from the array (retention) and renames their files. */
int log_drop_front(log_t *log, int n);
/** Recovery and loading of the directory, called by log_open. */
int log_load_segments(log_t *log, int64_t recovery_point, bool clean_shutdown);
/** Unlinks the files of a deleted segment on the executor, after the delete delay. */
void log_schedule_unlink(log_t *log, seg_t *s);
/** Submits the unlinks whose delay has passed (retention and logmgr_tick call it). */
void log_reap_deleted(log_t *log);
/** Trims and syncs indexes, closes: for logmgr_shutdown after log_flush_sync. */
int log_close_clean(log_t *log);
void log_destroy(log_t *log);
/** Compacted logs take keyed records only (Kafka's LogValidator): @returns 0,
 * LOG_ENO_KEY when a record of the validated batches data[0..len) has a null key,
 * STRATA_ECORRUPT when the records of a batch do not parse or do not decompress, or
 * STRATA_ETOO_LARGE when the batches decompress past rbc_limit(max.message.bytes) in
 * total (the bound on the loop's work per append). */
int log_check_keys(const log_t *log, const uint8_t *data, size_t len);
/** After an append: starts writeback of the active segment's whole pages past wb_end
 * on the executor when log.writeback.bytes of them are waiting (writeback.c). */
void log_maybe_writeback(log_t *log);
/** Writeback restarts at position `from` of the active segment (open, roll, truncation). */
void log_writeback_reset(log_t *log, int64_t from);
/** Detaches a writeback job in flight from a log being freed (writeback.c). */
void log_writeback_detach(log_t *log);
/** Detaches a cleaning pass in flight from a log being freed (cleaner.c). */
void log_cleaner_detach(log_t *log);
/** seg_create with every file name suffixed (".cleaned"): the cleaner's output. */
int seg_create_suffixed(const char *dir, int64_t base_offset, const char *suffix,
                        int64_t index_max_bytes, seg_t **out);
/** Renames the segment's three files to the segment names + suffix ("" = the plain
 * names), index files first. @returns 0 or the first -errno (the rest not attempted). */
int seg_rename_files(seg_t *s, const char *dir, const char *suffix);

#endif /* STRATA_STORAGE_INT_H */
