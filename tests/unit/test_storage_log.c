/* Tests for log.c: append and read across many segment rolls, index lookup at every
 * offset, read limits (max_bytes, high watermark, range errors), LogAppendTime, time
 * lookup, replica appends, truncation and rolls on size, index capacity and time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch_builder.h"
#include "strata/storage.h"
#include "tmpdir.h"

typedef struct batch_rec {
    int64_t base, last, max_ts;
    size_t off, size; /* in the all-data buffer */
} batch_rec_t;

typedef struct fixture {
    char *dir;
    log_config_t cfg;
    log_t *log;
    buf_t all; /* every appended batch, as stored (offsets stamped) */
    batch_rec_t *recs;
    int nrecs;
    int64_t now;
} fixture_t;

static int64_t fake_now(void *arg) {
    return ((fixture_t *)arg)->now;
}

static int setup(void **state) {
    fixture_t *f = xcalloc(1, sizeof(*f));
    f->dir = tmpdir_new();
    log_config_default(&f->cfg);
    f->cfg.segment_bytes = 1000;
    f->cfg.index_interval_bytes = 100;
    f->cfg.index_size_max_bytes = 4096;
    f->cfg.now_ms = fake_now;
    f->cfg.now_arg = f;
    f->now = 1000000;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture_t *f = *state;
    log_close(f->log);
    buf_destroy(&f->all);
    free(f->recs);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void open_log(fixture_t *f) {
    assert_int_equal(log_open(f->dir, "topic-with-dash", 3, &f->cfg, NULL, 0, false, &f->log), 0);
}

/* Appends one batch of n records with the given max timestamp and remembers it. */
static void append_batch(fixture_t *f, int32_t n, size_t vsize, int64_t ts) {
    buf_t b = BUF_INIT;
    bb_opts_t o;
    bb_opts_default(&o);
    o.records = n;
    o.value_size = vsize;
    o.base_timestamp = ts - (n - 1);
    bb_append(&b, &o);
    log_append_info_t info;
    int64_t leo = log_end_offset(f->log);
    assert_int_equal(log_append(f->log, b.data, b.len, 7, &info), 0);
    assert_int_equal(info.first_offset, leo);
    assert_int_equal(info.last_offset, leo + n - 1);
    assert_int_equal(info.max_timestamp, ts);
    f->recs = xrealloc(f->recs, (size_t)(f->nrecs + 1) * sizeof(*f->recs));
    f->recs[f->nrecs++] = (batch_rec_t){leo, leo + n - 1, ts, f->all.len, b.len};
    buf_append(&f->all, b.data, b.len);
    buf_destroy(&b);
}

static void read_slice(const log_slice_t *s, buf_t *out) {
    uint8_t *p = buf_extend(out, (size_t)s->len);
    assert_int_equal(pread(s->fd, p, (size_t)s->len, s->pos), s->len);
}

static const batch_rec_t *rec_for(fixture_t *f, int64_t offset) {
    for (int i = 0; i < f->nrecs; i++) {
        if (f->recs[i].base <= offset && offset <= f->recs[i].last) {
            return &f->recs[i];
        }
    }
    return NULL;
}

/* Every offset reads back the batch holding it, whole, byte for byte. */
static void check_every_offset(fixture_t *f) {
    for (int64_t o = log_start_offset(f->log); o < log_end_offset(f->log); o++) {
        log_slice_t s;
        assert_int_equal(log_read(f->log, o, 1, INT64_MAX, &s), 0);
        const batch_rec_t *r = rec_for(f, o);
        assert_non_null(r);
        assert_int_equal(s.len, (int64_t)r->size);
        buf_t got = BUF_INIT;
        read_slice(&s, &got);
        assert_memory_equal(got.data, f->all.data + r->off, r->size);
        buf_destroy(&got);
        log_slice_release(&s);
    }
}

static void test_append_read_across_rolls(void **state) {
    fixture_t *f = *state;
    open_log(f);
    for (int i = 0; i < 300; i++) {
        append_batch(f, 1 + i % 4, 20 + (size_t)(i * 7) % 60, 5000 + i);
    }
    assert_true(log_segment_count(f->log) > 20);
    assert_int_equal(log_size_bytes(f->log), (int64_t)f->all.len);
    check_every_offset(f);
    /* Segment files carry Kafka's 20-digit names; offsets continue across them. */
    char path[512];
    snprintf(path, sizeof(path), "%s/topic-with-dash-3/%020d.log", f->dir, 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    /* Reading sequentially with a small max_bytes returns everything exactly once. */
    buf_t got = BUF_INIT;
    int64_t next = 0;
    while (next < log_end_offset(f->log)) {
        log_slice_t s;
        assert_int_equal(log_read(f->log, next, 300, INT64_MAX, &s), 0);
        assert_true(s.len > 0);
        /* Whole batches only, and at most max_bytes unless one batch is larger. */
        const batch_rec_t *r = rec_for(f, next);
        assert_true(s.len <= 300 || s.len == (int64_t)r->size);
        size_t at = got.len;
        read_slice(&s, &got);
        size_t p = at;
        while (p < got.len) {
            assert_true(p + 12 <= got.len);
            next = (int64_t)be64_get(got.data + p) +
                   (int32_t)be32_get(got.data + p + RB_OFF_LAST_DELTA) + 1;
            p += bb_size(got.data + p);
        }
        assert_int_equal(p, got.len);
        log_slice_release(&s);
    }
    assert_int_equal(got.len, f->all.len);
    assert_memory_equal(got.data, f->all.data, got.len);
    buf_destroy(&got);
    /* Reopen (unclean): the same content. */
    log_close(f->log);
    assert_int_equal(log_open(f->dir, "topic-with-dash", 3, &f->cfg, NULL, 0, false, &f->log), 0);
    assert_int_equal(log_end_offset(f->log), f->recs[f->nrecs - 1].last + 1);
    check_every_offset(f);
}

static void test_read_limits(void **state) {
    fixture_t *f = *state;
    f->cfg.segment_bytes = 100000;
    open_log(f);
    for (int i = 0; i < 20; i++) {
        append_batch(f, 2, 30, 100 + i);
    }
    int64_t leo = log_end_offset(f->log);
    log_slice_t s;
    assert_int_equal(log_read(f->log, leo + 1, 1000, INT64_MAX, &s), STRATA_EOFFSET_RANGE);
    assert_int_equal(log_read(f->log, -1, 1000, INT64_MAX, &s), STRATA_EOFFSET_RANGE);
    assert_int_equal(log_read(f->log, leo, 1000, INT64_MAX, &s), 0);
    assert_int_equal(s.len, 0);
    log_slice_release(&s);
    /* High watermark: batches whose last offset >= max_offset are not returned. */
    assert_int_equal(log_read(f->log, 0, 1 << 20, 10, &s), 0);
    assert_int_equal(s.pos, 0);
    assert_int_equal(s.len, (int64_t)(f->recs[5].off));
    log_slice_release(&s);
    assert_int_equal(log_read(f->log, 0, 1 << 20, 11, &s), 0);
    assert_int_equal(s.len, (int64_t)(f->recs[5].off));
    log_slice_release(&s);
    assert_int_equal(log_read(f->log, 0, 1 << 20, 12, &s), 0);
    assert_int_equal(s.len, (int64_t)(f->recs[6].off));
    log_slice_release(&s);
    /* Offset in the batch at the high watermark: nothing yet. */
    assert_int_equal(log_read(f->log, 10, 1 << 20, 11, &s), 0);
    assert_int_equal(s.len, 0);
    log_slice_release(&s);
    /* KIP-74: the first batch comes whole even when larger than max_bytes. */
    assert_int_equal(log_read(f->log, 3, 10, INT64_MAX, &s), 0);
    assert_int_equal(s.pos, (int64_t)f->recs[1].off);
    assert_int_equal(s.len, (int64_t)f->recs[1].size);
    log_slice_release(&s);
    /* max_bytes between batch boundaries rounds down to whole batches. */
    int64_t two = (int64_t)(f->recs[2].size + f->recs[3].size);
    assert_int_equal(log_read(f->log, 4, two + 5, INT64_MAX, &s), 0);
    assert_int_equal(s.len, two);
    log_slice_release(&s);
}

static void test_log_append_time(void **state) {
    fixture_t *f = *state;
    f->cfg.log_append_time = true;
    open_log(f);
    buf_t b = BUF_INIT;
    bb_simple(&b, 3, 10, 42);
    log_append_info_t info;
    f->now = 1700000000123;
    assert_int_equal(log_append(f->log, b.data, b.len, 5, &info), 0);
    assert_int_equal(info.log_append_time, 1700000000123);
    log_slice_t s;
    assert_int_equal(log_read(f->log, 0, 1 << 20, INT64_MAX, &s), 0);
    buf_t got = BUF_INIT;
    read_slice(&s, &got);
    rb_header_t h;
    assert_int_equal(rb_parse(got.data, got.len, &h), (long)got.len); /* CRC recomputed */
    assert_int_equal(h.max_timestamp, 1700000000123);
    assert_true(h.attributes & RB_ATTR_LOG_APPEND);
    assert_int_equal(h.base_timestamp, 42);
    assert_int_equal(h.leader_epoch, 5);
    log_slice_release(&s);
    buf_destroy(&got);
    buf_destroy(&b);
}

static void test_offset_for_time(void **state) {
    fixture_t *f = *state;
    open_log(f);
    /* Timestamps that go up and down (CreateTime from many producers). */
    uint32_t x = 12345;
    for (int i = 0; i < 200; i++) {
        x = x * 1103515245u + 12345u;
        append_batch(f, 1 + i % 3, 30, 10000 + i * 10 + (int64_t)(x >> 16) % 300);
    }
    assert_true(log_segment_count(f->log) > 5);
    for (int64_t t = 9000; t < 12500; t += 7) {
        /* The first record (not batch) at or after t; record j of a batch of n has
         * timestamp max_ts - (n - 1) + j. */
        int64_t want = -1, want_ts = -1;
        for (int i = 0; i < f->nrecs && want < 0; i++) {
            int64_t n = f->recs[i].last - f->recs[i].base + 1;
            for (int64_t j = 0; j < n; j++) {
                int64_t rts = f->recs[i].max_ts - (n - 1) + j;
                if (rts >= t) {
                    want = f->recs[i].base + j;
                    want_ts = rts;
                    break;
                }
            }
        }
        int64_t off, ts;
        int rc = log_offset_for_time(f->log, t, &off, &ts);
        if (want < 0) {
            assert_int_equal(rc, STRATA_ENOTFOUND);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(off, want);
            assert_int_equal(ts, want_ts);
        }
    }
}

static void test_offset_for_time_compressed_is_record_exact(void **state) {
    fixture_t *f = *state;
    static const int codecs[] = {RBC_GZIP, RBC_SNAPPY, RBC_LZ4, RBC_ZSTD};
    f->cfg.segment_bytes = 1 << 20;
    open_log(f);
    /* One batch of 10 records (timestamps T..T+9) per codec, then a plain one. */
    for (int c = 0; c < 4; c++) {
        buf_t plain = BUF_INIT, z = BUF_INIT;
        bb_opts_t o;
        bb_opts_default(&o);
        o.records = 10;
        o.base_timestamp = 100 * (c + 1);
        bb_append(&plain, &o);
        assert_int_equal(rbc_batch_recode(plain.data, plain.len, codecs[c], 1 << 20, &z), 0);
        assert_int_equal(log_append(f->log, z.data, z.len, 0, NULL), 0);
        buf_destroy(&plain);
        buf_destroy(&z);
    }
    for (int c = 0; c < 4; c++) {
        int64_t off, ts;
        assert_int_equal(log_offset_for_time(f->log, 100 * (c + 1) + 5, &off, &ts), 0);
        assert_int_equal(off, 10 * c + 5);
        assert_int_equal(ts, 100 * (c + 1) + 5);
        assert_int_equal(log_offset_for_time(f->log, 100 * (c + 1) - 50, &off, &ts), 0);
        assert_int_equal(off, 10 * c);
        assert_int_equal(ts, 100 * (c + 1));
    }
    int64_t off, ts;
    assert_int_equal(log_offset_for_time(f->log, 410, &off, &ts), STRATA_ENOTFOUND);
    /* A batch whose codec bits lie (plain records marked gzip) cannot be decompressed:
     * the answer falls back to the batch (base offset, max timestamp). */
    buf_t b = BUF_INIT;
    bb_opts_t o;
    bb_opts_default(&o);
    o.records = 10;
    o.base_timestamp = 1000;
    o.attributes = RBC_GZIP;
    bb_append(&b, &o);
    assert_int_equal(log_append(f->log, b.data, b.len, 0, NULL), 0);
    assert_int_equal(log_offset_for_time(f->log, 1005, &off, &ts), 0);
    assert_int_equal(off, 40);
    assert_int_equal(ts, 1009);
    buf_destroy(&b);
}

static void test_append_replica(void **state) {
    fixture_t *f = *state;
    open_log(f);
    buf_t b = BUF_INIT;
    bb_opts_t o;
    bb_opts_default(&o);
    o.records = 4;
    o.base_offset = 0;
    o.leader_epoch = 3;
    bb_append(&b, &o);
    o.base_offset = 4;
    o.records = 2;
    bb_append(&b, &o);
    log_append_info_t info;
    assert_int_equal(log_append_replica(f->log, b.data, b.len, &info), 0);
    assert_int_equal(log_end_offset(f->log), 6);
    assert_int_equal(info.first_offset, 0);
    assert_int_equal(info.last_offset, 5);
    /* Not continuing the log end offset: refused. */
    assert_int_equal(log_append_replica(f->log, b.data, b.len, &info), STRATA_EOFFSET_RANGE);
    log_slice_t s;
    assert_int_equal(log_read(f->log, 4, 1 << 20, INT64_MAX, &s), 0);
    buf_t got = BUF_INIT;
    read_slice(&s, &got);
    rb_header_t h;
    assert_true(rb_parse(got.data, got.len, &h) > 0);
    assert_int_equal(h.base_offset, 4);
    assert_int_equal(h.leader_epoch, 3);
    log_slice_release(&s);
    buf_destroy(&got);
    buf_destroy(&b);
}

static void test_truncate_to(void **state) {
    fixture_t *f = *state;
    open_log(f);
    for (int i = 0; i < 100; i++) {
        append_batch(f, 2, 40, 100 + i);
    }
    int segs = log_segment_count(f->log);
    assert_true(segs > 5);
    /* Truncate mid-log at a batch boundary: later segments go, offsets continue. */
    assert_int_equal(log_truncate_to(f->log, 100), 0);
    assert_int_equal(log_end_offset(f->log), 100);
    assert_true(log_segment_count(f->log) < segs);
    assert_int_equal(log_recovery_point(f->log), 0);
    f->nrecs = 50;
    f->all.len = f->recs[49].off + f->recs[49].size;
    check_every_offset(f);
    /* Inside a batch: cut to its start (offset 51 is in batch 50..51). */
    assert_int_equal(log_truncate_to(f->log, 51), 0);
    assert_int_equal(log_end_offset(f->log), 50);
    f->nrecs = 25;
    f->all.len = f->recs[24].off + f->recs[24].size;
    log_slice_t s;
    assert_int_equal(log_read(f->log, 50, 100, INT64_MAX, &s), 0);
    assert_int_equal(s.len, 0);
    log_slice_release(&s);
    for (int i = 0; i < 30; i++) {
        append_batch(f, 2, 40, 500 + i);
    }
    assert_int_equal(log_end_offset(f->log), 110);
    check_every_offset(f);
    int64_t off, ts;
    assert_int_equal(log_offset_for_time(f->log, 499, &off, &ts), 0);
    assert_int_equal(off, 50);
    /* Survives a reopen. */
    log_close(f->log);
    open_log(f);
    check_every_offset(f);
    /* Truncate to 0, and fully to a new start. */
    assert_int_equal(log_truncate_to(f->log, 0), 0);
    assert_int_equal(log_end_offset(f->log), 0);
    assert_int_equal(log_segment_count(f->log), 1);
    assert_int_equal(log_truncate_fully_and_start_at(f->log, 1000), 0);
    assert_int_equal(log_start_offset(f->log), 1000);
    assert_int_equal(log_end_offset(f->log), 1000);
    assert_int_equal(log_read(f->log, 0, 100, INT64_MAX, &s), STRATA_EOFFSET_RANGE);
    f->nrecs = 0;
    f->all.len = 0;
    append_batch(f, 3, 10, 1);
    assert_int_equal(f->recs[0].base, 1000);
    log_close(f->log);
    open_log(f);
    assert_int_equal(log_start_offset(f->log), 1000);
    assert_int_equal(log_end_offset(f->log), 1003);
    check_every_offset(f);
}

static void test_roll_on_index_full_and_time(void **state) {
    fixture_t *f = *state;
    f->cfg.segment_bytes = 1 << 20;
    f->cfg.index_interval_bytes = 0;
    f->cfg.index_size_max_bytes = 64; /* 8 offset entries, 5 time entries */
    f->cfg.roll_ms = 1000;
    open_log(f);
    for (int i = 0; i < 40; i++) {
        append_batch(f, 1, 10, 100 + i);
    }
    assert_true(log_segment_count(f->log) >= 8);
    check_every_offset(f);
    /* Time: a batch more than log.roll.ms younger than the segment's first one rolls. */
    assert_int_equal(log_truncate_to(f->log, 0), 0);
    f->nrecs = 0;
    f->all.len = 0;
    f->cfg.index_size_max_bytes = 4096;
    assert_int_equal(log_set_config(f->log, &f->cfg), 0);
    append_batch(f, 1, 10, 1);
    append_batch(f, 1, 10, 2);
    assert_int_equal(log_segment_count(f->log), 1);
    append_batch(f, 1, 10, 1001); /* waited exactly log.roll.ms: not yet (Kafka's >) */
    assert_int_equal(log_segment_count(f->log), 1);
    append_batch(f, 1, 10, 1002);
    assert_int_equal(log_segment_count(f->log), 2);
    /* An explicit roll of an empty active segment does nothing. */
    assert_int_equal(log_roll(f->log), 0);
    assert_int_equal(log_roll(f->log), 0);
    assert_int_equal(log_segment_count(f->log), 3);
    check_every_offset(f);
}

/* Kafka's LogSegment.shouldRoll on time: the incoming batch's max timestamp minus the
 * first batch's, not the broker clock of the first append. */
static void test_roll_by_first_batch_timestamp(void **state) {
    fixture_t *f = *state;
    f->cfg.segment_bytes = 1 << 20;
    f->cfg.roll_ms = 1000;
    open_log(f);
    append_batch(f, 1, 10, 5000);
    f->now += 1000000000; /* the clock does not matter while batches have timestamps */
    append_batch(f, 1, 10, 5500);
    append_batch(f, 1, 10, 6000);
    assert_int_equal(log_segment_count(f->log), 1);
    append_batch(f, 1, 10, 6001);
    assert_int_equal(log_segment_count(f->log), 2);
    /* The new segment counts from 6001; an older timestamp does not roll it. */
    append_batch(f, 1, 10, 100);
    append_batch(f, 1, 10, 7001);
    assert_int_equal(log_segment_count(f->log), 2);
    append_batch(f, 1, 10, 7002);
    assert_int_equal(log_segment_count(f->log), 3);
    check_every_offset(f);
}

/* Batches without timestamps (-1): the segment's creation time on the log's clock. */
static void test_roll_without_timestamps_uses_creation_time(void **state) {
    fixture_t *f = *state;
    f->cfg.segment_bytes = 1 << 20;
    f->cfg.roll_ms = 1000;
    open_log(f);
    f->now += 600; /* created at open: this counts too */
    append_batch(f, 1, 10, -1);
    f->now += 400;
    append_batch(f, 1, 10, -1);
    assert_int_equal(log_segment_count(f->log), 1);
    f->now += 1;
    append_batch(f, 1, 10, -1);
    assert_int_equal(log_segment_count(f->log), 2);
    check_every_offset(f);
}

/* A reopened segment still rolls on time: its first timestamp is read back. */
static void test_roll_after_reopen(void **state) {
    fixture_t *f = *state;
    f->cfg.segment_bytes = 1 << 20;
    f->cfg.roll_ms = 1000;
    for (int clean = 0; clean < 2; clean++) {
        open_log(f);
        assert_int_equal(log_roll(f->log), 0); /* a fresh active segment */
        int segs = log_segment_count(f->log);
        append_batch(f, 1, 10, 10000 * (clean + 1));
        append_batch(f, 1, 10, 10000 * (clean + 1) + 500);
        assert_int_equal(log_segment_count(f->log), segs);
        if (clean) {
            assert_int_equal(log_flush_sync(f->log), 0);
        }
        log_close(f->log);
        f->log = NULL;
        f->now += 5; /* a quick restart */
        assert_int_equal(
            log_open(f->dir, "topic-with-dash", 3, &f->cfg, NULL, 0, clean == 1, &f->log), 0);
        append_batch(f, 1, 10, 10000 * (clean + 1) + 1000);
        assert_int_equal(log_segment_count(f->log), segs);
        append_batch(f, 1, 10, 10000 * (clean + 1) + 1001);
        assert_int_equal(log_segment_count(f->log), segs + 1);
        log_close(f->log);
        f->log = NULL;
    }
    open_log(f);
    check_every_offset(f);
}

/* log.roll.jitter.ms: each segment rolls up to a random amount earlier, never later. */
static void test_roll_jitter(void **state) {
    fixture_t *f = *state;
    f->cfg.segment_bytes = 1 << 20;
    f->cfg.roll_ms = 1000;
    f->cfg.roll_jitter_ms = 5000; /* bounded by roll_ms: jitter in [0, 1000) */
    int early = 0;
    for (int p = 0; p < 10; p++) {
        log_t *log;
        assert_int_equal(log_open(f->dir, "jitter", p, &f->cfg, NULL, 0, false, &log), 0);
        buf_t b = BUF_INIT;
        bb_simple(&b, 1, 10, 50000);
        assert_int_equal(log_append(log, b.data, b.len, 0, NULL), 0);
        /* The same timestamp again: waited 0, never > roll.ms - jitter. */
        buf_reset(&b);
        bb_simple(&b, 1, 10, 50000);
        assert_int_equal(log_append(log, b.data, b.len, 0, NULL), 0);
        assert_int_equal(log_segment_count(log), 1);
        /* 999 ms later: rolls unless this segment's jitter is 0 or 1. */
        buf_reset(&b);
        bb_simple(&b, 1, 10, 50999);
        assert_int_equal(log_append(log, b.data, b.len, 0, NULL), 0);
        early += log_segment_count(log) == 2;
        /* Past roll.ms: always. */
        buf_reset(&b);
        bb_simple(&b, 1, 10, 60000);
        assert_int_equal(log_append(log, b.data, b.len, 0, NULL), 0);
        assert_true(log_segment_count(log) >= 2);
        buf_destroy(&b);
        log_close(log);
    }
    assert_true(early > 0);
    /* Without jitter, 999 ms never rolls. */
    f->cfg.roll_jitter_ms = 0;
    open_log(f);
    append_batch(f, 1, 10, 50000);
    append_batch(f, 1, 10, 50999);
    append_batch(f, 1, 10, 51000);
    assert_int_equal(log_segment_count(f->log), 1);
}

static void test_open_rejects_bad_args(void **state) {
    fixture_t *f = *state;
    log_t *log;
    assert_int_equal(log_open(f->dir, "", 0, &f->cfg, NULL, 0, false, &log), STRATA_EINVAL);
    assert_int_equal(log_open(f->dir, "a/b", 0, &f->cfg, NULL, 0, false, &log), STRATA_EINVAL);
    f->cfg.segment_bytes = 1;
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, NULL, 0, false, &log), STRATA_ECONFIG);
    /* A path that cannot be a directory gives an error, not a crash. */
    assert_int_equal(log_open("/proc/version", "t", 0, NULL, NULL, 0, false, &log) < 0, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_read_across_rolls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_append_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_for_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_for_time_compressed_is_record_exact, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_append_replica, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate_to, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roll_on_index_full_and_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roll_by_first_batch_timestamp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roll_without_timestamps_uses_creation_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_roll_after_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roll_jitter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_rejects_bad_args, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
