/*
 * log: one partition's log, a sorted array of segments of which the last is active.
 * Appends validate every batch, assign offsets in place and write the batches with
 * one pwrite into the page cache; index entries go to the mmap'd indexes. Reads
 * return (fd, position, length) of whole batches in one segment for sendfile.
 *
 * Invariants (beyond storage.h):
 *  1. segs[i]->next_offset == segs[i+1]->base_offset; the last segment is active.
 *  2. log->recovery_point <= log_end_offset; everything below it has been fsynced.
 *  3. Steady-state appends allocate nothing and make one system call (the pwrite).
 */
#include "storage/storage_int.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

void log_config_default(log_config_t *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->segment_bytes = 1024LL * 1024 * 1024;
    cfg->roll_ms = 7LL * 24 * 3600 * 1000;
    cfg->roll_jitter_ms = 0;
    cfg->index_interval_bytes = 4096;
    cfg->index_size_max_bytes = 10 * 1024 * 1024;
    cfg->retention_ms = 7LL * 24 * 3600 * 1000;
    cfg->retention_bytes = -1;
    cfg->flush_interval_messages = INT64_MAX;
    cfg->flush_interval_ms = INT64_MAX;
    cfg->max_message_bytes = 1048588;
    cfg->log_append_time = false;
    cfg->file_delete_delay_ms = 60000;
    cfg->cleanup_compact = false;
    cfg->cleanup_delete = true;
    cfg->min_cleanable_ratio = 0.5;
    cfg->delete_retention_ms = 86400000;
    cfg->min_compaction_lag_ms = 0;
    cfg->writeback_bytes = 0; /* off: the kernel's writeback, as for Kafka */
    cfg->now_ms = NULL;
    cfg->now_arg = NULL;
}

int64_t log_now_ms(const log_t *log) {
    return log->cfg.now_ms ? log->cfg.now_ms(log->cfg.now_arg) : clock_wall_ms();
}

void log_fail(log_t *log, int err, const char *what, const char *path) {
    if (!log->offline) {
        slog_error("[Log partition=%s-%d, dir=%s] %s %s: %s; the log is now offline", log->topic,
                   log->partition, log->dir, what, path ? path : "", strata_strerror(err));
    }
    log->offline = true;
}

/* Kafka's randomSegmentJitter: uniform in [0, min(jitter, roll.ms)), per segment. */
static int64_t roll_jitter(const log_config_t *c) {
    static uint64_t state;
    int64_t bound = c->roll_jitter_ms < c->roll_ms ? c->roll_jitter_ms : c->roll_ms;
    if (bound <= 0) {
        return 0;
    }
    if (state == 0) {
        state =
            (uint64_t)clock_wall_ms() ^ ((uint64_t)(uintptr_t)&state << 16) ^ 0x9e3779b97f4a7c15u;
    }
    uint64_t z = (state += 0x9e3779b97f4a7c15u); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return (int64_t)(z % (uint64_t)bound);
}

int log_push_segment(log_t *log, seg_t *s) {
    s->created_ms = log_now_ms(log);
    s->roll_jitter_ms = roll_jitter(&log->cfg);
    if (log->nsegs == log->cap) {
        log->cap = log->cap ? log->cap * 2 : 8;
        log->segs = xrealloc(log->segs, (size_t)log->cap * sizeof(*log->segs));
    }
    log->segs[log->nsegs++] = s;
    return 0;
}

static int check_config(const log_config_t *c) {
    if (c->segment_bytes < 14 || c->segment_bytes > INT32_MAX || c->index_interval_bytes < 0 ||
        c->index_size_max_bytes < 4 || c->max_message_bytes < 0 ||
        !(c->min_cleanable_ratio >= 0 && c->min_cleanable_ratio <= 1) ||
        c->delete_retention_ms < 0 || c->min_compaction_lag_ms < 0 || c->writeback_bytes < 0) {
        return STRATA_ECONFIG;
    }
    return 0;
}

void log_destroy(log_t *log) {
    log_cleaner_detach(log);   /* a cleaning pass in flight discards its result */
    log_writeback_detach(log); /* a writeback job in flight only releases its segment */
    for (int i = 0; i < log->nsegs; i++) {
        seg_release(log->segs[i]);
    }
    flush_waiter_t *w = log->waiters;
    while (w) {
        flush_waiter_t *next = w->next;
        free(w);
        w = next;
    }
    for (int i = 0; i < log->ndels; i++) {
        for (int j = 0; j < 3; j++) {
            free(log->dels[i].paths[j]); /* the files stay *.deleted until the next open */
        }
    }
    free(log->dels);
    free(log->segs);
    buf_destroy(&log->scratch);
    free(log->dir);
    free(log->topic);
    free(log);
}

int log_open(const char *dir, const char *topic, int32_t partition, const log_config_t *cfg,
             const strata_executor_t *executor, int64_t recovery_point, bool clean_shutdown,
             log_t **out) {
    log_config_t defaults;
    if (!cfg) {
        log_config_default(&defaults);
        cfg = &defaults;
    }
    *out = NULL;
    if (!topic || !*topic || partition < 0 || strchr(topic, '/')) {
        return STRATA_EINVAL;
    }
    int rc = check_config(cfg);
    if (rc != 0) {
        slog_error("log %s-%d: invalid log configuration", topic, partition);
        return rc;
    }
    log_t *log = xcalloc(1, sizeof(*log));
    log->dir = xasprintf("%s/%s-%d", dir, topic, partition);
    log->topic = xstrdup(topic);
    log->partition = partition;
    log->cfg = *cfg;
    log->exec = executor ? *executor : strata_inline_executor;
    rc = fs_mkdirs(log->dir, 0755);
    if (rc != 0) {
        slog_error("log %s-%d: cannot create %s: %s", topic, partition, log->dir,
                   strata_strerror(rc));
        goto fail;
    }
    rc = log_load_segments(log, recovery_point < 0 ? 0 : recovery_point, clean_shutdown);
    if (rc != 0) {
        goto fail;
    }
    log->last_flush_ms = log_now_ms(log);
    log_writeback_reset(log, log_active(log)->size); /* what is there was written before */
    *out = log;
    return 0;
fail:
    log_destroy(log);
    return rc;
}

void log_close(log_t *log) {
    if (!log) {
        return;
    }
    log_cleaner_detach(log); /* a pass in flight discards its result, never swaps */
    if (log->flush_inflight || log->in_callbacks) {
        log->closing = true; /* the flush completion frees it */
        return;
    }
    log_destroy(log);
}

/* ---------------------------------------------------------------- accessors */

int64_t log_start_offset(const log_t *log) {
    return log->start_offset;
}

int64_t log_end_offset(const log_t *log) {
    return log_active(log)->next_offset;
}

int64_t log_size_bytes(const log_t *log) {
    int64_t n = 0;
    for (int i = 0; i < log->nsegs; i++) {
        n += log->segs[i]->size;
    }
    return n;
}

int64_t log_recovery_point(const log_t *log) {
    return log->recovery_point;
}

int log_segment_count(const log_t *log) {
    return log->nsegs;
}

bool log_is_offline(const log_t *log) {
    return log->offline;
}

const char *log_dir_path(const log_t *log) {
    return log->dir;
}

const char *log_topic(const log_t *log) {
    return log->topic;
}

int32_t log_partition(const log_t *log) {
    return log->partition;
}

const log_config_t *log_config(const log_t *log) {
    return &log->cfg;
}

/* ---------------------------------------------------------------- append */

/* Validates data[0..len) as batches. @returns 0 or a negative code; fills counts. */
static int validate(const log_t *log, const uint8_t *data, size_t len, bool leader, int *nbatches,
                    int64_t *nrecords) {
    size_t pos = 0;
    int nb = 0;
    int64_t nr = 0;
    if (len == 0) {
        return STRATA_ECORRUPT;
    }
    while (pos < len) {
        rb_header_t h;
        rb_status_t why;
        long n = rb_validate(data + pos, len - pos, &h, &why);
        if (n <= 0) {
            slog_debug("[Log partition=%s-%d] rejected batch at byte %zu: %s", log->topic,
                       log->partition, pos, rb_status_str(why));
            return STRATA_ECORRUPT;
        }
        if (leader &&
            (h.record_count == 0 || (int64_t)h.record_count != (int64_t)h.last_offset_delta + 1)) {
            slog_debug("[Log partition=%s-%d] rejected batch at byte %zu: %d records, last "
                       "offset delta %d",
                       log->topic, log->partition, pos, h.record_count, h.last_offset_delta);
            return STRATA_ECORRUPT;
        }
        if (leader && n > log->cfg.max_message_bytes) {
            return STRATA_ETOO_LARGE;
        }
        nr += (int64_t)h.last_offset_delta + 1;
        nb++;
        pos += (size_t)n;
    }
    if (len > (size_t)INT32_MAX - 1) {
        return STRATA_ETOO_LARGE;
    }
    *nbatches = nb;
    *nrecords = nr;
    return 0;
}

/*
 * Kafka's LogSegment.timeWaitedForRoll: with a timestamp on the segment's first batch,
 * the incoming batches' largest timestamp minus it (the broker's clock with
 * LogAppendTime); without one, the clock time since the segment was created or loaded.
 */
static int64_t time_waited_for_roll(const log_t *log, seg_t *s, const uint8_t *data, size_t len,
                                    int64_t now) {
    int64_t first = seg_first_batch_ts(s);
    if (first < 0) {
        return now - s->created_ms;
    }
    int64_t max_ts = -1;
    if (log->cfg.log_append_time) {
        max_ts = now;
    } else {
        for (size_t pos = 0; pos + RB_HEADER_SIZE <= len;) {
            int64_t t = (int64_t)be64_get(data + pos + RB_OFF_MAX_TIMESTAMP);
            max_ts = t > max_ts ? t : max_ts;
            pos += (size_t)(int32_t)be32_get(data + pos + RB_OFF_LENGTH) + 12;
        }
    }
    return max_ts - first;
}

static int maybe_roll(log_t *log, const uint8_t *data, size_t len, int nbatches, int64_t nrecords,
                      int64_t now) {
    seg_t *s = log_active(log);
    if (s->size == 0) {
        return 0;
    }
    bool roll =
        s->size + (int64_t)len > log->cfg.segment_bytes ||
        time_waited_for_roll(log, s, data, len, now) > log->cfg.roll_ms - s->roll_jitter_ms ||
        s->oidx.entries + (uint32_t)nbatches + 1 > s->oidx.max_entries ||
        s->tidx.entries + (uint32_t)nbatches + 1 > s->tidx.max_entries ||
        s->next_offset + nrecords - 1 - s->base_offset > INT32_MAX;
    return roll ? log_roll(log) : 0;
}

/* Writes validated batches at the end of the active segment and indexes them. */
static int append_validated(log_t *log, const uint8_t *data, size_t len, log_append_info_t *info) {
    seg_t *s = log_active(log);
    int64_t at = s->size;
    int rc = fs_pwrite_all(s->fd, data, len, (off_t)at);
    if (rc != 0) {
        log_fail(log, rc, "write", s->log_path);
        fs_truncate(s->fd, (off_t)at); /* best effort: never serve a torn tail */
        return rc;
    }
    size_t pos = 0;
    int64_t max_ts = -1;
    int nb = 0;
    info->first_offset = (int64_t)be64_get(data);
    while (pos < len) {
        rb_header_t h;
        rb_read_header(data + pos, &h);
        int64_t total = (int64_t)h.length + 12;
        seg_note_batch(s, &h, at + (int64_t)pos, total, log->cfg.index_interval_bytes);
        if (h.max_timestamp > max_ts) {
            max_ts = h.max_timestamp;
        }
        info->last_offset = h.base_offset + h.last_offset_delta;
        pos += (size_t)total;
        nb++;
    }
    info->max_timestamp = max_ts;
    info->batch_count = nb;
    info->record_count = info->last_offset - info->first_offset + 1;
    return 0;
}

int log_append(log_t *log, uint8_t *data, size_t len, int32_t leader_epoch,
               log_append_info_t *info) {
    log_append_info_t dummy;
    int nb;
    int64_t nr;
    if (!info) {
        info = &dummy;
    }
    memset(info, 0, sizeof(*info));
    info->log_append_time = -1;
    if (log->offline) {
        return STRATA_EOFFLINE;
    }
    int rc = validate(log, data, len, true, &nb, &nr);
    if (rc != 0) {
        return rc;
    }
    if (log->cfg.cleanup_compact && (rc = log_check_keys(log, data, len)) != 0) {
        return rc;
    }
    int64_t now = log_now_ms(log);
    if ((rc = maybe_roll(log, data, len, nb, nr, now)) != 0) {
        return rc;
    }
    /* Offsets, epoch and (LogAppendTime) timestamps are stamped in place. */
    int64_t offset = log_end_offset(log);
    size_t pos = 0;
    while (pos < len) {
        uint8_t *b = data + pos;
        int32_t length = (int32_t)be32_get(b + RB_OFF_LENGTH);
        int32_t delta = (int32_t)be32_get(b + RB_OFF_LAST_DELTA);
        be64_put(b + RB_OFF_BASE_OFFSET, (uint64_t)offset);
        be32_put(b + RB_OFF_LEADER_EPOCH, (uint32_t)leader_epoch);
        if (log->cfg.log_append_time) {
            uint16_t attrs = be16_get(b + RB_OFF_ATTRIBUTES) | RB_ATTR_LOG_APPEND;
            be16_put(b + RB_OFF_ATTRIBUTES, attrs);
            be64_put(b + RB_OFF_MAX_TIMESTAMP, (uint64_t)now);
            be32_put(b + RB_OFF_CRC,
                     crc32c(0, b + RB_OFF_ATTRIBUTES, (size_t)length + 12 - RB_OFF_ATTRIBUTES));
        }
        offset += (int64_t)delta + 1;
        pos += (size_t)length + 12;
    }
    rc = append_validated(log, data, len, info);
    if (rc != 0) {
        return rc;
    }
    if (log->cfg.log_append_time) {
        info->log_append_time = now;
    }
    log_maybe_flush(log);
    log_maybe_writeback(log);
    return 0;
}

int log_append_replica(log_t *log, const uint8_t *data, size_t len, log_append_info_t *info) {
    log_append_info_t dummy;
    int nb;
    int64_t nr;
    if (!info) {
        info = &dummy;
    }
    memset(info, 0, sizeof(*info));
    info->log_append_time = -1;
    if (log->offline) {
        return STRATA_EOFFLINE;
    }
    int rc = validate(log, data, len, false, &nb, &nr);
    if (rc != 0) {
        return rc;
    }
    /* Offsets are kept, so they must continue the log: exactly, or with a gap where the
     * leader's cleaner removed records (never backwards). */
    int64_t expect = log_end_offset(log);
    size_t pos = 0;
    while (pos < len) {
        const uint8_t *b = data + pos;
        if ((int64_t)be64_get(b + RB_OFF_BASE_OFFSET) < expect) {
            slog_warn("[Log partition=%s-%d] replica batch at offset %" PRId64
                      " does not continue the log end offset %" PRId64,
                      log->topic, log->partition, (int64_t)be64_get(b + RB_OFF_BASE_OFFSET),
                      expect);
            return STRATA_EOFFSET_RANGE;
        }
        expect = (int64_t)be64_get(b + RB_OFF_BASE_OFFSET) +
                 (int64_t)(int32_t)be32_get(b + RB_OFF_LAST_DELTA) + 1;
        pos += (size_t)(int32_t)be32_get(b + RB_OFF_LENGTH) + 12;
    }
    int64_t now = log_now_ms(log);
    if ((rc = maybe_roll(log, data, len, nb, expect - log_end_offset(log), now)) != 0) {
        return rc;
    }
    rc = append_validated(log, data, len, info);
    if (rc != 0) {
        return rc;
    }
    log_maybe_flush(log);
    log_maybe_writeback(log);
    return 0;
}

/* ---------------------------------------------------------------- read */

/* Index of the last segment whose base offset <= offset (0 when none). */
static int find_segment(const log_t *log, int64_t offset) {
    int lo = 0, hi = log->nsegs;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (log->segs[mid]->base_offset <= offset) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo == 0 ? 0 : lo - 1;
}

/* Largest batch boundary <= end, walking from a boundary at or below it. */
static int align_end(seg_t *s, int64_t from, int64_t end, int64_t *out) {
    int64_t b = oidx_floor_pos(&s->oidx, end);
    if (b < from) {
        b = from;
    }
    for (;;) {
        rb_header_t h;
        int rc = seg_read_header(s, b, &h);
        if (rc < 0) {
            return rc;
        }
        if (rc > 0 || b + (int64_t)h.length + 12 > end) {
            break;
        }
        b += (int64_t)h.length + 12;
    }
    *out = b;
    return 0;
}

int log_read(log_t *log, int64_t offset, int64_t max_bytes, int64_t max_offset, log_slice_t *out) {
    memset(out, 0, sizeof(*out));
    out->fd = -1;
    if (log->offline) {
        return STRATA_EOFFLINE;
    }
    if (offset < log->start_offset || offset > log_end_offset(log)) {
        return STRATA_EOFFSET_RANGE;
    }
    if (offset == log_end_offset(log) || offset >= max_offset) {
        return 0;
    }
    for (int i = find_segment(log, offset); i < log->nsegs; i++) {
        seg_t *s = log->segs[i];
        if (offset >= s->next_offset) {
            continue;
        }
        int64_t pos;
        rb_header_t h;
        bool found;
        int rc = seg_find_offset(s, offset, &pos, &h, &found);
        if (rc != 0) {
            log_fail(log, rc, "read", s->log_path);
            return STRATA_EOFFLINE;
        }
        if (!found) {
            continue;
        }
        if (h.base_offset + h.last_offset_delta >= max_offset) {
            return 0; /* the first batch is not visible yet (high watermark) */
        }
        int64_t first = (int64_t)h.length + 12;
        int64_t end = pos + (max_bytes > first ? max_bytes : first);
        if (end > s->size) {
            end = s->size;
        }
        if (max_offset < s->next_offset) {
            int64_t hw_pos;
            rb_header_t hh;
            rc = seg_find_offset(s, max_offset, &hw_pos, &hh, &found);
            if (rc != 0) {
                log_fail(log, rc, "read", s->log_path);
                return STRATA_EOFFLINE;
            }
            if (found && hw_pos < end) {
                end = hw_pos;
            }
        }
        if (end < s->size && end > pos + first) {
            rc = align_end(s, pos + first, end, &end);
            if (rc != 0) {
                log_fail(log, rc, "read", s->log_path);
                return STRATA_EOFFLINE;
            }
        }
        seg_keep(s);
        out->seg = s;
        out->fd = s->fd;
        out->pos = pos;
        out->len = end - pos;
        return 0;
    }
    return 0;
}

void log_slice_release(log_slice_t *slice) {
    if (slice && slice->seg) {
        seg_release(slice->seg);
    }
    if (slice) {
        memset(slice, 0, sizeof(*slice));
        slice->fd = -1;
    }
}

bool log_slice_cached(const log_slice_t *slice) {
    return slice->len <= 0 || fs_range_cached(slice->fd, (off_t)slice->pos, (off_t)slice->len);
}

int log_slice_load(const log_slice_t *slice) {
    return slice->len <= 0 ? 0
                           : fs_read_into_cache(slice->fd, (off_t)slice->pos, (off_t)slice->len);
}

/* ---------------------------------------------------------------- time lookup */

/*
 * The first record of the batch at pos (header h) with timestamp >= ts and offset >=
 * the log start offset. A compressed batch is decompressed (bounded by rbc_limit).
 * @returns 0 with *off and *found_ts, STRATA_ENOTFOUND, or another code when the records
 * cannot be read (the caller answers with the batch).
 */
static int find_in_batch(log_t *log, seg_t *s, int64_t pos, const rb_header_t *h, int64_t ts,
                         int64_t *off, int64_t *found_ts) {
    size_t total = (size_t)h->length + 12;
    if (total > 64 * 1024 * 1024) {
        return STRATA_ETOO_LARGE;
    }
    buf_reset(&log->scratch);
    uint8_t *b = buf_extend(&log->scratch, total);
    int rc = STRATA_ECORRUPT;
    if (pread(s->fd, b, total, (off_t)pos) == (ssize_t)total) {
        buf_t plain = BUF_INIT;
        const uint8_t *rec;
        size_t rec_len;
        rc = rbc_batch_records(b, total, rbc_limit(log->cfg.max_message_bytes), &plain, &rec,
                               &rec_len);
        if (rc == 0) {
            rc = rb_find_in_records(h, rec, rec_len, ts, log->start_offset, off, found_ts);
        }
        if (rc != 0 && rc != STRATA_ENOTFOUND) {
            slog_debug(
                "[Log partition=%s-%d] time lookup in the %s batch at offset %" PRId64 ": %s",
                log->topic, log->partition, rbc_codec_name(h->attributes & RB_ATTR_COMPRESSION),
                h->base_offset, strata_strerror(rc));
        }
        buf_destroy(&plain);
    }
    if (log->scratch.cap > 1024 * 1024) {
        buf_destroy(&log->scratch);
    }
    return rc;
}

int log_offset_for_time(log_t *log, int64_t ts, int64_t *offset_out, int64_t *ts_out) {
    if (log->offline) {
        return STRATA_EOFFLINE;
    }
    for (int i = 0; i < log->nsegs; i++) {
        seg_t *s = log->segs[i];
        if (s->max_ts < ts || s->size == 0 || s->next_offset <= log->start_offset) {
            continue;
        }
        int64_t o = tidx_lookup_before(&s->tidx, ts);
        int64_t pos = o < 0 ? 0 : oidx_lookup(&s->oidx, o, NULL);
        while (pos < s->size) {
            rb_header_t h;
            int rc = seg_read_header(s, pos, &h);
            if (rc != 0) {
                log_fail(log, rc < 0 ? rc : STRATA_ECORRUPT, "read", s->log_path);
                return STRATA_EOFFLINE;
            }
            if (h.max_timestamp >= ts && h.base_offset + h.last_offset_delta >= log->start_offset) {
                /* The exact record, as Kafka answers; the batch when it cannot be read. */
                int64_t off, found_ts;
                rc = find_in_batch(log, s, pos, &h, ts, &off, &found_ts);
                if (rc != STRATA_ENOTFOUND) {
                    if (rc != 0) {
                        off = h.base_offset < log->start_offset ? log->start_offset : h.base_offset;
                        found_ts = h.max_timestamp;
                    }
                    *offset_out = off;
                    *ts_out = found_ts;
                    return 0;
                }
            }
            pos += (int64_t)h.length + 12;
        }
    }
    return STRATA_ENOTFOUND;
}

/* ---------------------------------------------------------------- roll, truncate */

int log_roll(log_t *log) {
    if (log->offline) {
        return STRATA_EOFFLINE;
    }
    seg_t *s = log_active(log);
    if (s->size == 0) {
        return 0;
    }
    int rc = seg_seal(s);
    if (rc != 0) {
        log_fail(log, rc, "trim index of", s->oidx_path);
        return rc;
    }
    seg_t *n;
    rc = seg_create(log->dir, s->next_offset, log->cfg.index_size_max_bytes, &n);
    if (rc != 0) {
        log_fail(log, rc, "create segment", log->dir);
        return rc;
    }
    log_push_segment(log, n);
    log->dir_dirty = true;
    log_writeback_reset(log, 0);
    return 0;
}

/* After a truncation, flush waiters cannot wait for offsets that no longer exist. */
static void clamp_waiters(log_t *log) {
    int64_t leo = log_end_offset(log);
    for (flush_waiter_t *w = log->waiters; w; w = w->next) {
        if (w->target > leo) {
            w->target = leo;
        }
    }
    log->trunc_gen++;
}

/* Removes segments [from, nsegs) from the array, renaming and unlinking their files. */
static int drop_back(log_t *log, int from) {
    int err = 0;
    while (log->nsegs > from) {
        seg_t *s = log->segs[--log->nsegs];
        int rc = seg_mark_deleted(s);
        if (rc != 0 && err == 0) {
            log_fail(log, rc, "rename", s->log_path);
            err = rc;
        }
        log_schedule_unlink(log, s);
        seg_release(s);
    }
    log->dir_dirty = true;
    return err;
}

int log_truncate_fully_and_start_at(log_t *log, int64_t new_start) {
    if (log->offline) {
        return STRATA_EOFFLINE;
    }
    if (new_start < 0) {
        return STRATA_EINVAL;
    }
    int rc = drop_back(log, 0);
    if (rc != 0) {
        return rc;
    }
    seg_t *n;
    rc = seg_create(log->dir, new_start, log->cfg.index_size_max_bytes, &n);
    if (rc != 0) {
        log_fail(log, rc, "create segment", log->dir);
        return rc;
    }
    log_push_segment(log, n);
    log->start_offset = new_start;
    log->recovery_point = new_start;
    log_writeback_reset(log, 0);
    clamp_waiters(log);
    return 0;
}

int log_advance_start_offset(log_t *log, int64_t offset) {
    if (log->offline) {
        return STRATA_EOFFLINE;
    }
    if (offset > log_end_offset(log)) {
        return STRATA_EOFFSET_RANGE;
    }
    if (offset > log->start_offset) {
        log->start_offset = offset; /* retention deletes the segments wholly below it */
    }
    return 0;
}

int log_truncate_to(log_t *log, int64_t offset) {
    if (log->offline) {
        return STRATA_EOFFLINE;
    }
    if (offset >= log_end_offset(log)) {
        return 0;
    }
    if (offset < log->start_offset) {
        return log_truncate_fully_and_start_at(log, offset < 0 ? 0 : offset);
    }
    int keep = find_segment(log, offset) + 1;
    int rc = drop_back(log, keep);
    if (rc != 0) {
        return rc;
    }
    seg_t *s = log_active(log);
    rc = seg_truncate_to(s, offset, log->cfg.index_interval_bytes);
    if (s->size == 0) {
        s->created_ms = log_now_ms(log); /* log.roll.ms counts from here again */
    }
    if (rc == 0) {
        rc = seg_unseal(s, log->cfg.index_size_max_bytes);
    }
    if (rc != 0) {
        log_fail(log, rc, "truncate", s->log_path);
        return rc;
    }
    if (log->recovery_point > s->next_offset) {
        log->recovery_point = s->next_offset;
    }
    if (log->wb_base != s->base_offset || log->wb_end > s->size) {
        log_writeback_reset(log, s->size);
    }
    clamp_waiters(log);
    return 0;
}

int log_delete(log_t *log) {
    if (!log) {
        return 0;
    }
    char *dir = xstrdup(log->dir);
    log_close(log);
    int rc = fs_remove_tree(dir);
    if (rc != 0) {
        slog_error("delete log directory %s: %s", dir, strata_strerror(rc));
    }
    free(dir);
    return rc;
}

int log_set_config(log_t *log, const log_config_t *cfg) {
    int rc = check_config(cfg);
    if (rc != 0) {
        return rc;
    }
    int32_t old_index_max = log->cfg.index_size_max_bytes;
    log->cfg = *cfg;
    if (cfg->index_size_max_bytes != old_index_max && !log->offline) {
        seg_t *s = log_active(log);
        rc = seg_unseal(s, cfg->index_size_max_bytes);
        if (rc != 0) {
            log_fail(log, rc, "resize index of", s->oidx_path);
        }
    }
    return rc;
}
