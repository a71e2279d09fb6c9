/*
 * cleaner: log compaction (Kafka's LogCleaner / Cleaner) of one log with
 * cleanup.policy compact. A pass takes the log from the cleaner checkpoint
 * (first_dirty) to the first uncleanable offset (dirty_end: the active segment's base,
 * or the first segment younger than min.compaction.lag.ms), builds key -> latest
 * offset over [first_dirty, dirty_end) and rewrites every inactive segment below
 * dirty_end, grouped up to segment.bytes, keeping a record iff it is the latest of
 * its key.
 *
 * Choices (matching Kafka where it has one):
 *  - records with a null key are dropped (Kafka counts them as invalid and drops them);
 *  - a tombstone (null value) stays while its segment is dirty and until
 *    delete.retention.ms has passed since the segment holding it was first cleaned;
 *    that time is the cleaned file's mtime, set from the log's clock (Kafka's legacy
 *    lastModified rule, per source segment). Unlike Kafka, a group never mixes
 *    already-cleaned and dirty segments, so merging cannot restart a tombstone's clock;
 *  - a rewritten batch keeps base offset, last offset delta, producer id/epoch, base
 *    sequence, timestamps and leader epoch; only length, record count and CRC change;
 *  - a batch left empty is dropped, except the last batch of each producer id in the
 *    log, whose header is kept (record count 0) so producer state survives (Kafka's
 *    BatchRetention.RETAIN_EMPTY);
 *  - control and transactional batches are kept whole (no transaction index here);
 *  - a compressed batch is decompressed (compression.c, bounded by rbc_limit) and, when
 *    records go, recompressed with its own codec; one that cannot be decompressed or
 *    recompressed is kept whole and its keys stay out of the map;
 *  - the key map holds whole keys, not hashes: exact, bounded by CLEAN_MAP_MAX_BYTES
 *    (past it the pass stops mapping at a segment boundary, as Kafka's full offset
 *    map does, and the checkpoint advances only that far).
 *
 * Threads and crash safety:
 *  1. log_clean (loop) snapshots the segments (references held) and posts the work.
 *  2. The worker reads them, writes <base>.{log,index,timeindex}.cleaned for each
 *     group, fsyncs the files and the directory. Nothing of the log is touched.
 *  3. Back on the loop, if the log still has exactly those segments in front
 *     (no retention, truncation or deletion meanwhile), the files are renamed
 *     .cleaned -> .swap (index files first), the old segments -> .deleted (unlinked
 *     later on the executor; readers holding a slice keep their fd), then .swap ->
 *     the segment names, and the segment array is swapped. Otherwise the .cleaned
 *     files are unlinked and the pass reports -ECANCELED.
 *  Recovery (recovery.c) deletes *.cleaned, and completes a <base>.log.swap: the
 *  segments it replaces are deleted and the swap files renamed.
 */
#include "storage/storage_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLEAN_MAP_MAX_BYTES (128LL * 1024 * 1024)

_Static_assert(sizeof(uintptr_t) >= sizeof(int64_t), "offsets are stored in map values");

typedef struct clean_src {
    seg_t *seg;     /* reference held by the job */
    int64_t size;   /* bytes to read (snapshot) */
    int64_t next;   /* the next segment's base offset */
    bool was_clean; /* entirely below first_dirty: cleaned by an earlier pass */
    int64_t mtime;  /* file mtime in ms (worker): when an earlier pass cleaned it */
} clean_src_t;

typedef struct clean_group {
    int first;
    int n;
    seg_t *out; /* <base>.*.cleaned, then the new segment */
    int64_t cleaned_ms;
} clean_group_t;

struct clean_job {
    log_t *log; /* NULL once the log was freed */
    char *dir;
    char *topic;
    int32_t partition;
    log_config_t cfg;
    strata_executor_t exec;
    clean_src_t *segs; /* every segment of the log; the first nsrcs are cleaned */
    int nsegs;
    int nsrcs;
    clean_group_t *groups;
    int ngroups;
    uint64_t trunc_gen;
    int64_t now;
    int64_t dirty_end;
    int status;
    const char *fail_path;
    log_clean_stats_t stats;
    log_clean_cb cb;
    void *arg;
};

typedef struct clean_job clean_job_t;

/* ---------------------------------------------------------------- planning (loop) */

/* Where first_dirty really starts: Kafka resets a checkpoint outside the log. */
static int64_t effective_first_dirty(const log_t *log, int64_t first_dirty) {
    if (first_dirty < log->start_offset || first_dirty > log_end_offset(log)) {
        return log->start_offset;
    }
    return first_dirty;
}

void log_set_clean_limit(log_t *log, int64_t limit) {
    log->clean_limit = limit;
    log->clean_limit_set = true;
}

/* Index of the first segment at or past the first uncleanable offset. */
static int uncleanable_index(const log_t *log, int64_t first_dirty) {
    int end = log->nsegs - 1; /* never the active segment */
    if (log->clean_limit_set) {
        for (int i = 0; i < end; i++) {
            if (log->segs[i]->next_offset > log->clean_limit) {
                end = i; /* holds offsets at or past the high watermark */
                break;
            }
        }
    }
    if (log->cfg.min_compaction_lag_ms > 0) {
        int64_t now = log_now_ms(log);
        for (int i = 0; i < end; i++) {
            seg_t *s = log->segs[i];
            if (s->next_offset <= first_dirty) {
                continue;
            }
            if (s->max_ts > now - log->cfg.min_compaction_lag_ms) {
                return i;
            }
        }
    }
    return end;
}

double log_cleanable_ratio(log_t *log, int64_t first_dirty, int64_t *dirty_end) {
    first_dirty = effective_first_dirty(log, first_dirty);
    int end = uncleanable_index(log, first_dirty);
    *dirty_end = log->segs[end]->base_offset;
    int64_t clean = 0, dirty = 0;
    for (int i = 0; i < end; i++) {
        seg_t *s = log->segs[i];
        if (s->next_offset <= first_dirty) {
            clean += s->size;
        } else {
            dirty += s->size;
        }
    }
    if (dirty == 0) {
        return 0;
    }
    return (double)dirty / (double)(clean + dirty);
}

/* Kafka's groupSegmentsBySize: consecutive segments while their bytes fit in
 * segment.bytes, their offset index entries in log.index.size.max.bytes, and their
 * offsets in a 32-bit relative offset. */
static void plan_groups(clean_job_t *job, const log_t *log) {
    job->groups = xcalloc((size_t)job->nsrcs, sizeof(*job->groups));
    int i = 0;
    while (i < job->nsrcs) {
        clean_group_t *g = &job->groups[job->ngroups++];
        seg_t *first = log->segs[i];
        int64_t bytes = first->size;
        int64_t idx_bytes = (int64_t)first->oidx.entries * OIDX_ENTRY_SIZE;
        g->first = i;
        g->n = 1;
        while (i + g->n < job->nsrcs) {
            seg_t *s = log->segs[i + g->n];
            if (job->segs[i + g->n].was_clean != job->segs[i].was_clean) {
                break; /* see clean_group: a group's clean time must mean one thing */
            }
            int64_t ib = (int64_t)s->oidx.entries * OIDX_ENTRY_SIZE;
            if (bytes + s->size > log->cfg.segment_bytes ||
                idx_bytes + ib > log->cfg.index_size_max_bytes ||
                s->next_offset - 1 - first->base_offset > INT32_MAX) {
                break;
            }
            bytes += s->size;
            idx_bytes += ib;
            g->n++;
        }
        i += g->n;
    }
}

static void job_free(clean_job_t *job) {
    for (int i = 0; i < job->nsegs; i++) {
        seg_release(job->segs[i].seg);
    }
    for (int i = 0; i < job->ngroups; i++) {
        seg_release(job->groups[i].out);
    }
    free(job->segs);
    free(job->groups);
    free(job->dir);
    free(job->topic);
    free(job);
}

static void clean_work(void *arg);
static void clean_after(void *arg);

int log_parse_cleanup_policy(const char *s, bool *compact, bool *del) {
    bool c = false, d = false;
    const char *p = s;
    for (;;) {
        while (*p == ' ') {
            p++;
        }
        const char *e = p;
        while (*e && *e != ',' && *e != ' ') {
            e++;
        }
        size_t n = (size_t)(e - p);
        if (n == 7 && strncmp(p, "compact", 7) == 0) {
            c = true;
        } else if (n == 6 && strncmp(p, "delete", 6) == 0) {
            d = true;
        } else {
            return STRATA_ECONFIG;
        }
        while (*e == ' ') {
            e++;
        }
        if (*e == 0) {
            break;
        }
        if (*e != ',') {
            return STRATA_ECONFIG;
        }
        p = e + 1;
    }
    *compact = c;
    *del = d;
    return 0;
}

bool log_cleaning(const log_t *log) {
    return log->cleaning != NULL;
}

void log_cleaner_detach(log_t *log) {
    if (log->cleaning) {
        log->cleaning->log = NULL;
        log->cleaning = NULL;
    }
}

int log_clean(log_t *log, int64_t first_dirty, bool force, log_clean_cb cb, void *arg) {
    if (log->offline) {
        return STRATA_EOFFLINE;
    }
    if (log->cleaning) {
        return STRATA_EINVAL;
    }
    int64_t dirty_end;
    first_dirty = effective_first_dirty(log, first_dirty);
    double ratio = log_cleanable_ratio(log, first_dirty, &dirty_end);
    int nsrcs = uncleanable_index(log, first_dirty);
    if (nsrcs == 0 || (!force && (ratio <= 0 || ratio < log->cfg.min_cleanable_ratio))) {
        return 1;
    }
    clean_job_t *job = xcalloc(1, sizeof(*job));
    job->log = log;
    job->dir = xstrdup(log->dir);
    job->topic = xstrdup(log->topic);
    job->partition = log->partition;
    job->cfg = log->cfg;
    job->exec = log->exec;
    job->nsegs = log->nsegs;
    job->nsrcs = nsrcs;
    job->segs = xcalloc((size_t)log->nsegs, sizeof(*job->segs));
    for (int i = 0; i < log->nsegs; i++) {
        seg_t *s = log->segs[i];
        seg_keep(s);
        job->segs[i].seg = s;
        job->segs[i].size = s->size;
        job->segs[i].next = i + 1 < log->nsegs ? log->segs[i + 1]->base_offset : s->next_offset;
        job->segs[i].was_clean = s->next_offset <= first_dirty;
    }
    plan_groups(job, log);
    job->trunc_gen = log->trunc_gen;
    job->now = log_now_ms(log);
    job->dirty_end = dirty_end;
    job->stats.first_dirty = first_dirty;
    /* A checkpoint past what is cleanable now (the high watermark went back) stays. */
    job->stats.end_offset = dirty_end > first_dirty ? dirty_end : first_dirty;
    job->cb = cb;
    job->arg = arg;
    log->cleaning = job;
    slog_debug("[Log partition=%s-%d, dir=%s] cleaning %d segment(s) in %d group(s), dirty "
               "[%" PRId64 ", %" PRId64 "), ratio %.3f",
               log->topic, log->partition, log->dir, nsrcs, job->ngroups, first_dirty, dirty_end,
               ratio);
    log->exec.submit(log->exec.ctx, clean_work, clean_after, job);
    return 0;
}

/* ---------------------------------------------------------------- records */

/* One record of an uncompressed batch. */
typedef struct rec {
    const uint8_t *start; /* the length varint */
    size_t size;          /* bytes including the length varint */
    int64_t offset;
    const uint8_t *key; /* NULL = null key */
    size_t key_len;
    bool null_value;
} rec_t;

/* Parses the record at *p. @returns false when it does not parse. */
static bool next_record(const uint8_t **p, const uint8_t *end, int64_t base_offset, rec_t *r) {
    int64_t len, tdelta, odelta, klen, vlen;
    r->start = *p;
    if (!rb_read_varlong(p, end, &len) || len < 1 || len > end - *p) {
        return false;
    }
    const uint8_t *q = *p + 1, *rend = *p + len; /* skip the attributes byte */
    /* The offset delta is a 32-bit varint in Kafka's format: larger is garbage (and
     * base + delta could overflow). */
    if (!rb_read_varlong(&q, rend, &tdelta) || !rb_read_varlong(&q, rend, &odelta) || odelta < 0 ||
        odelta > INT32_MAX || base_offset > INT64_MAX - odelta ||
        !rb_read_varlong(&q, rend, &klen) || klen < -1 || klen > rend - q) {
        return false;
    }
    r->key = klen < 0 ? NULL : q;
    r->key_len = klen < 0 ? 0 : (size_t)klen;
    q += klen < 0 ? 0 : klen;
    if (!rb_read_varlong(&q, rend, &vlen) || vlen < -1 || vlen > rend - q) {
        return false;
    }
    r->null_value = vlen < 0;
    r->offset = base_offset + odelta;
    *p = rend;
    r->size = (size_t)(rend - r->start);
    return true;
}

static bool whole_batch(const rb_header_t *h) {
    return (h->attributes & (RB_ATTR_CONTROL | RB_ATTR_TRANSACTIONAL)) != 0;
}

/* The records section of a CRC-checked batch, decompressed into scratch when needed.
 * @returns 0, or a code when the batch is bad or cannot be decompressed. */
static int batch_records(const clean_job_t *job, const uint8_t *b, const rb_header_t *h,
                         buf_t *scratch, const uint8_t **rec, size_t *rec_len) {
    size_t total = (size_t)h->length + 12;
    if (rb_parse(b, total, NULL) <= 0) {
        return STRATA_ECORRUPT;
    }
    return rbc_batch_records(b, total, rbc_limit(job->cfg.max_message_bytes), scratch, rec,
                             rec_len);
}

/*
 * Kafka's LogValidator for a compacted topic: every record of every batch must parse and
 * carry a key, so compressed batches are decompressed here, on the loop. The work is
 * bounded per append (one partition of a produce request): the decompressed bytes of all
 * its batches together stay within rbc_limit(max.message.bytes) (32 MiB at the default),
 * the cap one batch had before; past it the append answers STRATA_ETOO_LARGE
 * (MESSAGE_TOO_LARGE). A batch that cannot be decompressed is refused (STRATA_ECORRUPT:
 * CORRUPT_MESSAGE), never stored unchecked: the cleaner could not read it either.
 */
int log_check_keys(const log_t *log, const uint8_t *data, size_t len) {
    size_t pos = 0;
    buf_t plain = BUF_INIT;
    size_t budget = rbc_limit(log->cfg.max_message_bytes);
    int rc = 0;
    while (pos < len && rc == 0) {
        rb_header_t h;
        rb_read_header(data + pos, &h);
        size_t total = (size_t)h.length + 12;
        const uint8_t *p;
        size_t n;
        if ((h.attributes & RB_ATTR_CONTROL) != 0) {
            pos += total;
            continue;
        }
        rc = rbc_batch_records(data + pos, total, budget, &plain, &p, &n);
        if (rc != 0) {
            rc = rc == STRATA_ETOO_LARGE ? STRATA_ETOO_LARGE : STRATA_ECORRUPT;
            break;
        }
        if ((h.attributes & RB_ATTR_COMPRESSION) != RBC_NONE) {
            budget -= n; /* n <= budget: the decompression stopped at it */
        }
        const uint8_t *end = p + n;
        for (int32_t i = 0; i < h.record_count && rc == 0; i++) {
            rec_t r;
            if (!next_record(&p, end, h.base_offset, &r)) {
                /* Kafka's LogValidator refuses them too; stored, they would stop
                 * every cleaning pass of this log (map_batch: corrupt). */
                rc = STRATA_ECORRUPT;
                break;
            }
            if (!r.key) {
                rc = LOG_ENO_KEY;
            }
        }
        pos += total;
    }
    buf_destroy(&plain);
    if (rc == LOG_ENO_KEY) {
        slog_debug("[Log partition=%s-%d] rejected a record without a key: the log is compacted",
                   log->topic, log->partition);
    } else if (rc == STRATA_ETOO_LARGE) {
        slog_debug("[Log partition=%s-%d] rejected batches decompressing past %zu bytes in one "
                   "append: the log is compacted and every record's key is checked",
                   log->topic, log->partition, rbc_limit(log->cfg.max_message_bytes));
    } else if (rc != 0) {
        slog_debug("[Log partition=%s-%d] rejected a batch whose records do not parse or do not "
                   "decompress",
                   log->topic, log->partition);
    }
    return rc;
}

/* ---------------------------------------------------------------- work (worker) */

/* Calls fn for every batch of src (whole batch bytes), stopping at the first error. */
typedef int (*batch_fn)(clean_job_t *job, const clean_src_t *src, const uint8_t *b,
                        const rb_header_t *h, void *arg);

static int walk_batches(clean_job_t *job, const clean_src_t *src, bool headers_only, batch_fn fn,
                        void *arg) {
    seg_reader_t r;
    seg_reader_init(&r, src->seg->fd, NULL, src->size); /* the path may be renamed */
    int64_t pos = 0;
    int rc = 0;
    while (pos < src->size) {
        const uint8_t *p;
        rb_header_t h;
        rc = seg_reader_get(&r, pos, RB_HEADER_SIZE, 64 * 1024, &p);
        if (rc != 0) {
            rc = rc < 0 ? rc : STRATA_ECORRUPT;
            break;
        }
        rb_read_header(p, &h);
        int64_t total = (int64_t)h.length + 12;
        if (h.length < RB_HEADER_SIZE - 12 || h.magic != 2 || pos + total > src->size) {
            rc = STRATA_ECORRUPT;
            break;
        }
        if (!headers_only) {
            rc = seg_reader_get(&r, pos, (size_t)total, 1024 * 1024, &p);
            if (rc != 0) {
                rc = rc < 0 ? rc : STRATA_ECORRUPT;
                break;
            }
        }
        rc = fn(job, src, p, &h, arg);
        if (rc != 0) {
            break;
        }
        pos += total;
    }
    seg_reader_destroy(&r);
    return rc;
}

typedef struct map_ctx {
    buf_t plain;      /* decompressed records */
    map_t *keys;      /* key -> latest offset + 1 */
    map_t *producers; /* producer id (8 bytes) -> last offset of its last batch + 1 */
    int64_t key_bytes;
    int64_t from, to;
} map_ctx_t;

static int note_producer(clean_job_t *job, const clean_src_t *src, const uint8_t *b,
                         const rb_header_t *h, void *arg) {
    (void)job;
    (void)src;
    (void)b;
    map_ctx_t *m = arg;
    if (h->producer_id >= 0) {
        int64_t last = h->base_offset + h->last_offset_delta;
        map_put(m->producers, &h->producer_id, sizeof(h->producer_id),
                (void *)(uintptr_t)(last + 1));
    }
    return 0;
}

static int map_batch(clean_job_t *job, const clean_src_t *src, const uint8_t *b,
                     const rb_header_t *h, void *arg) {
    (void)src;
    map_ctx_t *m = arg;
    if (whole_batch(h)) {
        return 0;
    }
    const uint8_t *p;
    size_t len;
    int rc = batch_records(job, b, h, &m->plain, &p, &len);
    if (rc == STRATA_ECORRUPT && (h->attributes & RB_ATTR_COMPRESSION) == 0) {
        return rc;
    }
    if (rc != 0) {
        return 0; /* cannot decompress: its keys are unknown, the batch is kept whole */
    }
    const uint8_t *end = p + len;
    for (int32_t i = 0; i < h->record_count; i++) {
        rec_t r;
        if (!next_record(&p, end, h->base_offset, &r)) {
            return STRATA_ECORRUPT;
        }
        if (r.key && r.offset >= m->from && r.offset < m->to) {
            if (!map_put(m->keys, r.key, r.key_len, (void *)(uintptr_t)(r.offset + 1))) {
                m->key_bytes += (int64_t)r.key_len + 32;
            }
        }
    }
    return 0;
}

typedef struct write_ctx {
    map_ctx_t *map;
    clean_group_t *g;
    bool retain_deletes;
    buf_t out;   /* the rebuilt batch */
    buf_t kept;  /* kept records of a compressed batch, before compression */
    buf_t plain; /* decompressed records */
} write_ctx_t;

static int write_batch(clean_job_t *job, const uint8_t *b, const rb_header_t *h, size_t total,
                       clean_group_t *g) {
    seg_t *o = g->out;
    int64_t pos = o->size;
    int rc = fs_pwrite_all(o->fd, b, total, (off_t)pos);
    if (rc != 0) {
        job->fail_path = o->log_path;
        return rc;
    }
    seg_note_batch(o, h, pos, (int64_t)total, job->cfg.index_interval_bytes);
    job->stats.bytes_written += (int64_t)total;
    return 0;
}

static int clean_batch(clean_job_t *job, const clean_src_t *src, const uint8_t *b,
                       const rb_header_t *h, void *arg) {
    (void)src;
    write_ctx_t *w = arg;
    size_t total = (size_t)h->length + 12;
    if (whole_batch(h)) {
        return write_batch(job, b, h, total, w->g);
    }
    int codec = h->attributes & RB_ATTR_COMPRESSION;
    const uint8_t *p;
    size_t len;
    int rc = batch_records(job, b, h, &w->plain, &p, &len);
    if (rc == STRATA_ECORRUPT && codec == 0) {
        return rc;
    }
    if (rc != 0) {
        slog_warn(
            "[Log partition=%s-%d] cleaner: keeping the %s batch at offset %" PRId64 " whole: %s",
            job->topic, job->partition, rbc_codec_name(codec), h->base_offset, strata_strerror(rc));
        return write_batch(job, b, h, total, w->g);
    }
    const uint8_t *end = p + len;
    buf_reset(&w->out);
    buf_append(&w->out, b, RB_HEADER_SIZE);
    buf_t *dst = codec ? &w->kept : &w->out;
    buf_reset(&w->kept);
    int32_t kept = 0;
    for (int32_t i = 0; i < h->record_count; i++) {
        rec_t r;
        if (!next_record(&p, end, h->base_offset, &r)) {
            return STRATA_ECORRUPT;
        }
        job->stats.records_read++;
        if (!r.key) {
            continue; /* Kafka drops records without a key from compacted logs */
        }
        uintptr_t latest = (uintptr_t)map_get(w->map->keys, r.key, r.key_len);
        if (latest != 0 && r.offset < (int64_t)latest - 1) {
            continue; /* a later record has this key */
        }
        if (r.null_value && !w->retain_deletes) {
            job->stats.tombstones_dropped++;
            continue;
        }
        buf_append(dst, r.start, r.size);
        kept++;
    }
    job->stats.records_kept += kept;
    if (kept == h->record_count) {
        return write_batch(job, b, h, total, w->g); /* unchanged: bytes as they were */
    }
    if (kept == 0) {
        int64_t last = h->base_offset + h->last_offset_delta;
        uintptr_t plast =
            h->producer_id >= 0
                ? (uintptr_t)map_get(w->map->producers, &h->producer_id, sizeof(h->producer_id))
                : 0;
        if (plast == 0 || (int64_t)plast - 1 != last) {
            return 0; /* the batch goes */
        }
        /* The last batch of a producer: its header keeps the producer's state. */
    }
    if (codec && kept > 0 && rbc_compress(codec, w->kept.data, w->kept.len, &w->out) != 0) {
        slog_warn("[Log partition=%s-%d] cleaner: cannot recompress the %s batch at offset "
                  "%" PRId64 "; keeping it whole",
                  job->topic, job->partition, rbc_codec_name(codec), h->base_offset);
        return write_batch(job, b, h, total, w->g);
    }
    uint8_t *nb = w->out.data;
    rb_header_t nh = *h;
    nh.length = (int32_t)(w->out.len - 12);
    nh.record_count = kept;
    if (kept == 0) {
        nh.attributes = (int16_t)(nh.attributes & ~RB_ATTR_COMPRESSION); /* nothing to inflate */
        be16_put(nb + RB_OFF_ATTRIBUTES, (uint16_t)nh.attributes);
    }
    be32_put(nb + RB_OFF_LENGTH, (uint32_t)nh.length);
    be32_put(nb + RB_OFF_RECORD_COUNT, (uint32_t)kept);
    nh.crc = crc32c(0, nb + RB_OFF_ATTRIBUTES, w->out.len - RB_OFF_ATTRIBUTES);
    be32_put(nb + RB_OFF_CRC, nh.crc);
    return write_batch(job, nb, &nh, w->out.len, w->g);
}

static int64_t file_mtime_ms(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return INT64_MAX; /* unknown: tombstones stay */
    }
    return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

static int set_mtime_ms(int fd, int64_t ms) {
    struct timespec ts[2];
    ts[0].tv_sec = ms / 1000;
    ts[0].tv_nsec = (ms % 1000) * 1000000;
    ts[1] = ts[0];
    return futimens(fd, ts) == 0 ? 0 : -errno;
}

static int clean_group(clean_job_t *job, clean_group_t *g, map_ctx_t *map) {
    const clean_src_t *first = &job->segs[g->first];
    int rc = seg_create_suffixed(job->dir, first->seg->base_offset, ".cleaned",
                                 job->cfg.index_size_max_bytes, &g->out);
    if (rc != 0) {
        job->fail_path = job->dir;
        return rc;
    }
    write_ctx_t w = {.map = map, .g = g};
    buf_init(&w.out);
    buf_init(&w.kept);
    buf_init(&w.plain);
    bool any_dirty = false;
    int64_t cleaned_ms = 0;
    for (int i = g->first; i < g->first + g->n && rc == 0; i++) {
        clean_src_t *src = &job->segs[i];
        /* Tombstones stay through the first pass and then delete.retention.ms. */
        w.retain_deletes = !src->was_clean || src->mtime > job->now - job->cfg.delete_retention_ms;
        if (!src->was_clean) {
            any_dirty = true;
        } else if (src->mtime > cleaned_ms) {
            cleaned_ms = src->mtime;
        }
        job->stats.bytes_read += src->size;
        rc = walk_batches(job, src, false, clean_batch, &w);
    }
    buf_destroy(&w.out);
    buf_destroy(&w.kept);
    buf_destroy(&w.plain);
    if (rc != 0) {
        return rc;
    }
    g->cleaned_ms = any_dirty || cleaned_ms == INT64_MAX ? job->now : cleaned_ms;
    seg_t *o = g->out;
    const clean_src_t *last = &job->segs[g->first + g->n - 1];
    job->fail_path = o->log_path;
    if ((rc = seg_seal(o)) != 0) {
        return rc;
    }
    o->next_offset = last->next; /* the offsets the group covered, gaps included */
    if ((rc = set_mtime_ms(o->fd, g->cleaned_ms)) != 0 || (rc = fs_fsync(o->fd)) != 0 ||
        (rc = idx_fsync(&o->oidx)) != 0 || (rc = idx_fsync(&o->tidx)) != 0) {
        return rc;
    }
    o->index_synced = true;
    job->fail_path = NULL;
    return 0;
}

static void clean_work(void *arg) {
    clean_job_t *job = arg;
    map_ctx_t map = {.keys = map_new(), .producers = map_new()};
    buf_init(&map.plain);
    int rc = 0;
    for (int i = 0; i < job->nsrcs; i++) {
        job->segs[i].mtime = file_mtime_ms(job->segs[i].seg->fd);
    }
    /* 1. The last batch of every producer id (headers of the whole log). */
    for (int i = 0; i < job->nsegs && rc == 0; i++) {
        rc = walk_batches(job, &job->segs[i], true, note_producer, &map);
    }
    if (rc != 0 && rc != STRATA_ECORRUPT) {
        goto done;
    }
    rc = 0; /* the active tail may have been truncated meanwhile: the after checks */
    /* 2. key -> latest offset over the dirty section, a segment at a time. */
    map.from = job->stats.first_dirty;
    map.to = job->dirty_end;
    for (int i = 0; i < job->nsrcs && rc == 0; i++) {
        clean_src_t *src = &job->segs[i];
        if (src->was_clean) {
            continue;
        }
        if (map.key_bytes > CLEAN_MAP_MAX_BYTES) {
            map.to = src->seg->base_offset; /* full: clean up to here this pass */
            job->stats.end_offset = map.to;
            break;
        }
        rc = walk_batches(job, src, false, map_batch, &map);
    }
    if (rc != 0) {
        job->fail_path = NULL;
        goto done;
    }
    /* 3. The cleaned segments. */
    for (int i = 0; i < job->ngroups && rc == 0; i++) {
        rc = clean_group(job, &job->groups[i], &map);
    }
    if (rc == 0) {
        rc = fs_fsync_dir(job->dir);
        if (rc != 0) {
            job->fail_path = job->dir;
        }
    }
done:
    job->status = rc;
    map_free(map.keys, NULL);
    map_free(map.producers, NULL);
    buf_destroy(&map.plain);
}

/* ---------------------------------------------------------------- swap (loop) */

typedef struct unlink_job {
    char **paths;
    int n;
} unlink_job_t;

static void unlink_work(void *arg) {
    unlink_job_t *u = arg;
    for (int i = 0; i < u->n; i++) {
        fs_unlink(u->paths[i]);
    }
}

static void unlink_after(void *arg) {
    unlink_job_t *u = arg;
    for (int i = 0; i < u->n; i++) {
        free(u->paths[i]);
    }
    free(u->paths);
    free(u);
}

/* Throws the .cleaned files away (before any rename: recovery would delete them too). */
static void discard_outputs(clean_job_t *job) {
    unlink_job_t *u = xcalloc(1, sizeof(*u));
    u->paths = xcalloc((size_t)job->ngroups * 3 + 1, sizeof(char *));
    for (int i = 0; i < job->ngroups; i++) {
        seg_t *o = job->groups[i].out;
        if (o) {
            u->paths[u->n++] = xstrdup(o->log_path);
            u->paths[u->n++] = xstrdup(o->oidx_path);
            u->paths[u->n++] = xstrdup(o->tidx_path);
        }
    }
    job->exec.submit(job->exec.ctx, unlink_work, unlink_after, u);
}

static bool log_unchanged(const clean_job_t *job, const log_t *log) {
    if (log->offline || log->trunc_gen != job->trunc_gen || log->nsegs <= job->nsrcs) {
        return false;
    }
    for (int i = 0; i < job->nsrcs; i++) {
        if (log->segs[i] != job->segs[i].seg || log->segs[i]->deleted) {
            return false;
        }
    }
    return true;
}

/* The renames of step 3; on failure the log goes offline and recovery finishes or
 * undoes the swap at the next open. */
static int swap_in(clean_job_t *job, log_t *log) {
    int rc;
    for (int i = 0; i < job->ngroups; i++) {
        seg_t *o = job->groups[i].out;
        if ((rc = seg_rename_files(o, log->dir, ".swap")) != 0) {
            log_fail(log, rc, "rename cleaned segment", o->log_path);
            return rc;
        }
    }
    for (int i = 0; i < job->nsrcs; i++) {
        seg_t *s = job->segs[i].seg;
        if ((rc = seg_mark_deleted(s)) != 0) {
            log_fail(log, rc, "rename replaced segment", s->log_path);
            return rc;
        }
    }
    for (int i = 0; i < job->ngroups; i++) {
        seg_t *o = job->groups[i].out;
        if ((rc = seg_rename_files(o, log->dir, "")) != 0) {
            log_fail(log, rc, "rename swap segment", o->log_path);
            return rc;
        }
    }
    /* The segment array: the cleaned groups replace the first nsrcs segments. */
    for (int i = 0; i < job->nsrcs; i++) {
        log_schedule_unlink(log, job->segs[i].seg);
        seg_release(log->segs[i]); /* the log's reference; the job still holds one */
    }
    int shift = job->nsrcs - job->ngroups;
    for (int i = 0; i < job->ngroups; i++) {
        seg_keep(job->groups[i].out);
        log->segs[i] = job->groups[i].out;
    }
    for (int i = job->nsrcs; i < log->nsegs; i++) {
        log->segs[i - shift] = log->segs[i];
    }
    log->nsegs -= shift;
    log->dir_dirty = true;
    return 0;
}

static void clean_after(void *arg) {
    clean_job_t *job = arg;
    log_t *log = job->log;
    int status = job->status;
    if (log) {
        log->cleaning = NULL;
    }
    bool changed = !log || !log_unchanged(job, log);
    if (changed && (status == 0 || status == STRATA_ECORRUPT || !log)) {
        /* A truncated source reads as corrupt: the change is the real story. */
        slog_info("[Log partition=%s-%d, dir=%s] the log changed while it was cleaned; "
                  "discarding the result",
                  job->topic, job->partition, job->dir);
        discard_outputs(job);
        status = -ECANCELED;
    } else if (status != 0) {
        if (status == STRATA_ECORRUPT) {
            slog_warn("[Log partition=%s-%d, dir=%s] cleaning failed: %s", job->topic,
                      job->partition, job->dir, strata_strerror(status));
        } else {
            log_fail(log, status, "clean", job->fail_path ? job->fail_path : job->dir);
        }
        discard_outputs(job);
    } else {
        status = swap_in(job, log);
        if (status == 0) {
            job->stats.segments_in = job->nsrcs;
            job->stats.segments_out = job->ngroups;
            slog_info("[Log partition=%s-%d, dir=%s] cleaned %d segment(s) into %d up to offset "
                      "%" PRId64 ": %" PRId64 " -> %" PRId64 " bytes, %" PRId64 " of %" PRId64
                      " records kept, %" PRId64 " tombstones removed",
                      job->topic, job->partition, job->dir, job->nsrcs, job->ngroups,
                      job->stats.end_offset, job->stats.bytes_read, job->stats.bytes_written,
                      job->stats.records_kept, job->stats.records_read,
                      job->stats.tombstones_dropped);
        }
    }
    if (job->cb) {
        job->cb(job->arg, status, &job->stats);
    }
    job_free(job);
}
