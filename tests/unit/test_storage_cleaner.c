/* Tests for cleaner.c (log compaction): the latest record per key survives at its
 * offset, tombstones go only after delete.retention.ms (injected clock), the active
 * segment is never touched, min.cleanable.dirty.ratio and min.compaction.lag.ms are
 * respected, small segments are grouped, reads across gaps, idempotent-producer batch
 * headers kept, a pass racing a truncation is discarded, and a crash (failed rename
 * or fsync) at every step of the swap reopens to a consistent log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch_builder.h"
#include "fault_fs.h"
#include "storage/storage_int.h"
#include "strata/storage.h"
#include "tmpdir.h"

typedef struct job {
    void (*work)(void *);
    void (*after)(void *);
    void *arg;
} job_t;

typedef struct fixture {
    char *dir;
    log_config_t cfg;
    log_t *log;
    int64_t now;
    job_t q[256];
    int nq;
    int cb_calls;
    int cb_status;
    log_clean_stats_t stats;
} fixture_t;

static void q_submit(void *ctx, void (*work)(void *), void (*after)(void *), void *arg) {
    fixture_t *f = ctx;
    assert_true(f->nq < 256);
    f->q[f->nq++] = (job_t){work, after, arg};
}

static void run_all(fixture_t *f) {
    while (f->nq > 0) {
        job_t j = f->q[0];
        memmove(f->q, f->q + 1, (size_t)(f->nq - 1) * sizeof(job_t));
        f->nq--;
        j.work(j.arg);
        j.after(j.arg);
    }
}

static int64_t fake_now(void *arg) {
    return ((fixture_t *)arg)->now;
}

static int setup(void **state) {
    fixture_t *f = xcalloc(1, sizeof(*f));
    f->dir = tmpdir_new();
    log_config_default(&f->cfg);
    f->cfg.segment_bytes = 400;
    f->cfg.index_size_max_bytes = 1024;
    f->cfg.index_interval_bytes = 1; /* an index entry per batch: lookups use them */
    f->cfg.now_ms = fake_now;
    f->cfg.now_arg = f;
    f->cfg.file_delete_delay_ms = 0;
    f->cfg.cleanup_compact = true;
    f->cfg.cleanup_delete = false;
    f->now = 1700000000000LL;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture_t *f = *state;
    fault_fs_reset();
    run_all(f);
    log_close(f->log);
    run_all(f);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void open_log(fixture_t *f) {
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, NULL, 0, false, &f->log), 0);
}

static void reopen(fixture_t *f) {
    log_close(f->log);
    f->log = NULL;
    open_log(f);
}

/* ---------------------------------------------------------------- batches */

static void put_varlong(buf_t *b, int64_t v) {
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (z >= 0x80) {
        uint8_t c = (uint8_t)(z | 0x80);
        buf_append(b, &c, 1);
        z >>= 7;
    }
    uint8_t c = (uint8_t)z;
    buf_append(b, &c, 1);
}

/* One record: key NULL = null key, value NULL = tombstone. */
static void put_record(buf_t *out, int32_t delta, const char *key, const char *value) {
    buf_t r = BUF_INIT;
    uint8_t attrs = 0;
    buf_append(&r, &attrs, 1);
    put_varlong(&r, delta); /* timestamp delta */
    put_varlong(&r, delta); /* offset delta */
    put_varlong(&r, key ? (int64_t)strlen(key) : -1);
    if (key) {
        buf_append(&r, key, strlen(key));
    }
    put_varlong(&r, value ? (int64_t)strlen(value) : -1);
    if (value) {
        buf_append(&r, value, strlen(value));
    }
    put_varlong(&r, 0); /* headers */
    put_varlong(out, (int64_t)r.len);
    buf_append(out, r.data, r.len);
    buf_destroy(&r);
}

/* Appends one batch of n records keys[i] = values[i] with producer pid (-1 = none),
 * its records compressed with codec (RBC_*; an unknown codec stores them plain). */
static void append_batch_codec(fixture_t *f, int n, const char *const *keys,
                               const char *const *values, int64_t pid, int32_t seq, int codec) {
    buf_t b = BUF_INIT;
    uint8_t *h = buf_extend(&b, RB_HEADER_SIZE);
    memset(h, 0, RB_HEADER_SIZE);
    buf_t recs = BUF_INIT;
    for (int i = 0; i < n; i++) {
        put_record(&recs, i, keys[i], values[i]);
    }
    if (codec >= RBC_GZIP && codec <= RBC_ZSTD) {
        assert_int_equal(rbc_compress(codec, recs.data, recs.len, &b), 0);
    } else {
        buf_append(&b, recs.data, recs.len);
    }
    buf_destroy(&recs);
    h = b.data;
    be16_put(h + RB_OFF_ATTRIBUTES, (uint16_t)codec);
    be32_put(h + RB_OFF_LENGTH, (uint32_t)(b.len - 12));
    h[RB_OFF_MAGIC] = 2;
    be32_put(h + RB_OFF_LAST_DELTA, (uint32_t)(n - 1));
    be64_put(h + RB_OFF_BASE_TIMESTAMP, (uint64_t)f->now);
    be64_put(h + RB_OFF_MAX_TIMESTAMP, (uint64_t)(f->now + n - 1));
    be64_put(h + RB_OFF_PRODUCER_ID, (uint64_t)pid);
    be16_put(h + RB_OFF_PRODUCER_EPOCH, (uint16_t)(pid >= 0 ? 3 : -1));
    be32_put(h + RB_OFF_BASE_SEQUENCE, (uint32_t)(pid >= 0 ? seq : -1));
    be32_put(h + RB_OFF_RECORD_COUNT, (uint32_t)n);
    if (codec > RBC_ZSTD) {
        /* refused on produce to a compacted log (log_check_keys cannot decompress it);
         * a follower copies it from a leader that stored one before */
        be64_put(h + RB_OFF_BASE_OFFSET, (uint64_t)log_end_offset(f->log));
    }
    be32_put(h + RB_OFF_CRC, crc32c(0, h + RB_OFF_ATTRIBUTES, b.len - RB_OFF_ATTRIBUTES));
    if (codec > RBC_ZSTD) {
        assert_int_equal(log_append(f->log, b.data, b.len, 0, NULL), STRATA_ECORRUPT);
        assert_int_equal(log_append_replica(f->log, b.data, b.len, NULL), 0);
    } else {
        assert_int_equal(log_append(f->log, b.data, b.len, 0, NULL), 0);
    }
    buf_destroy(&b);
}

static void append_batch(fixture_t *f, int n, const char *const *keys, const char *const *values,
                         int64_t pid, int32_t seq) {
    append_batch_codec(f, n, keys, values, pid, seq, 0);
}

static void put1(fixture_t *f, const char *key, const char *value) {
    append_batch(f, 1, &key, &value, -1, 0);
}

/* ---------------------------------------------------------------- reading back */

typedef struct rec_out {
    int64_t offset;
    char key[32]; /* "" = null key */
    char value[32];
    bool tombstone;
} rec_out_t;

typedef struct batch_out {
    int64_t base, last, pid;
    int32_t seq, count;
    int16_t epoch;
} batch_out_t;

typedef struct dump {
    rec_out_t recs[512];
    int n;
    batch_out_t batches[512];
    int nb;
} dump_t;

static void parse_batch(const uint8_t *b, dump_t *d) {
    rb_header_t h;
    assert_true(rb_parse(b, (size_t)be32_get(b + RB_OFF_LENGTH) + 12, &h) > 0);
    d->batches[d->nb++] = (batch_out_t){h.base_offset,  h.base_offset + h.last_offset_delta,
                                        h.producer_id,  h.base_sequence,
                                        h.record_count, h.producer_epoch};
    buf_t plain = BUF_INIT;
    const uint8_t *p;
    size_t plen;
    if ((h.attributes & RB_ATTR_COMPRESSION) > RBC_ZSTD) {
        buf_destroy(&plain);
        return; /* an unknown codec: its records are opaque here too */
    }
    assert_int_equal(rbc_batch_records(b, (size_t)h.length + 12, 1 << 20, &plain, &p, &plen), 0);
    for (int32_t i = 0; i < h.record_count; i++) {
        int64_t len = bb_get_varlong(&p);
        const uint8_t *next = p + len;
        p++;
        bb_get_varlong(&p);
        int64_t od = bb_get_varlong(&p);
        int64_t kl = bb_get_varlong(&p);
        rec_out_t *r = &d->recs[d->n++];
        memset(r, 0, sizeof(*r));
        r->offset = h.base_offset + od;
        if (kl >= 0) {
            memcpy(r->key, p, (size_t)kl);
            p += kl;
        }
        int64_t vl = bb_get_varlong(&p);
        r->tombstone = vl < 0;
        if (vl >= 0) {
            memcpy(r->value, p, (size_t)vl);
        }
        p = next;
    }
    buf_destroy(&plain);
}

/* Every record of the log, by fetching from the start as a consumer does. */
static void dump_log(fixture_t *f, dump_t *d) {
    memset(d, 0, sizeof(*d));
    int64_t off = log_start_offset(f->log);
    while (off < log_end_offset(f->log)) {
        log_slice_t s;
        assert_int_equal(log_read(f->log, off, 100000, INT64_MAX, &s), 0);
        assert_true(s.len > 0);
        uint8_t *buf = xmalloc((size_t)s.len);
        assert_int_equal(pread(s.fd, buf, (size_t)s.len, s.pos), s.len);
        size_t pos = 0;
        while (pos < (size_t)s.len) {
            int nb = d->nb;
            parse_batch(buf + pos, d);
            assert_true(d->batches[nb].last >= off); /* never a batch before the offset */
            off = d->batches[nb].last + 1;
            pos += (size_t)be32_get(buf + pos + RB_OFF_LENGTH) + 12;
        }
        free(buf);
        log_slice_release(&s);
    }
    for (int i = 1; i < d->n; i++) {
        assert_true(d->recs[i].offset > d->recs[i - 1].offset);
    }
}

static const rec_out_t *find_offset(const dump_t *d, int64_t offset) {
    for (int i = 0; i < d->n; i++) {
        if (d->recs[i].offset == offset) {
            return &d->recs[i];
        }
    }
    return NULL;
}

static void on_clean(void *arg, int status, const log_clean_stats_t *stats) {
    fixture_t *f = arg;
    f->cb_calls++;
    f->cb_status = status;
    f->stats = *stats;
}

/* A pass with the inline executor; @returns the callback's status. */
static int clean(fixture_t *f, int64_t first_dirty, bool force) {
    f->cb_calls = 0;
    int rc = log_clean(f->log, first_dirty, force, on_clean, f);
    assert_int_equal(rc, 0);
    assert_int_equal(f->cb_calls, 1);
    return f->cb_status;
}

static int count_files(fixture_t *f, const char *suffix) {
    char *p = xasprintf("%s/t-0", f->dir);
    DIR *d = opendir(p);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    size_t m = strlen(suffix);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        n += l >= m && strcmp(e->d_name + l - m, suffix) == 0;
    }
    closedir(d);
    free(p);
    return n;
}

/* 40 updates of k0..k3: value "v<offset>"; then rolls so all are inactive, then 2
 * more updates of k0 in the active segment. */
static void fill_updates(fixture_t *f, int n) {
    for (int i = 0; i < n; i++) {
        char key[8], val[16];
        snprintf(key, sizeof(key), "k%d", i % 4);
        snprintf(val, sizeof(val), "v%d", i);
        put1(f, key, val);
    }
}

/* ---------------------------------------------------------------- tests */

static void test_clean_keeps_latest_per_key(void **state) {
    fixture_t *f = *state;
    open_log(f);
    fill_updates(f, 40);
    assert_int_equal(log_roll(f->log), 0);
    put1(f, "k0", "v40");
    put1(f, "k0", "v41");
    int64_t segs_before = log_segment_count(f->log);
    int64_t bytes_before = log_size_bytes(f->log);
    assert_true(segs_before > 4);
    int64_t end;
    double ratio = log_cleanable_ratio(f->log, 0, &end);
    assert_true(ratio > 0.99);
    assert_int_equal(end, 40);
    assert_int_equal(clean(f, 0, false), 0);
    assert_int_equal(f->stats.end_offset, 40);
    assert_int_equal(f->stats.records_kept, 4);
    assert_true(log_size_bytes(f->log) < bytes_before);
    /* Groups are planned from the sizes before cleaning (as Kafka): the next pass
     * merges the shrunken segments into one. */
    assert_int_equal(log_segment_count(f->log), segs_before);
    assert_int_equal(clean(f, 40, true), 0);
    assert_int_equal(log_segment_count(f->log), 2);
    assert_int_equal(count_files(f, ".cleaned"), 0);
    assert_int_equal(count_files(f, ".swap"), 0);
    dump_t d;
    dump_log(f, &d);
    /* Latest of k0..k3 in the cleaned part (offsets 36..39), plus the active segment. */
    assert_int_equal(d.n, 6);
    for (int i = 0; i < 4; i++) {
        const rec_out_t *r = find_offset(&d, 36 + i);
        assert_non_null(r);
        char val[16];
        snprintf(val, sizeof(val), "v%d", 36 + i);
        assert_string_equal(r->value, val); /* offsets never change */
    }
    assert_non_null(find_offset(&d, 40));
    assert_non_null(find_offset(&d, 41));
    assert_int_equal(log_start_offset(f->log), 0);
    assert_int_equal(log_end_offset(f->log), 42);
    /* Reads at removed offsets return the next batch. */
    log_slice_t s;
    assert_int_equal(log_read(f->log, 0, 1, INT64_MAX, &s), 0);
    assert_true(s.len > 0);
    uint8_t hdr[RB_HEADER_SIZE];
    assert_int_equal(pread(s.fd, hdr, sizeof(hdr), s.pos), (ssize_t)sizeof(hdr));
    assert_int_equal((int64_t)be64_get(hdr), 36);
    log_slice_release(&s);
    assert_int_equal(log_read(f->log, 17, 1, INT64_MAX, &s), 0);
    assert_int_equal(pread(s.fd, hdr, sizeof(hdr), s.pos), (ssize_t)sizeof(hdr));
    assert_int_equal((int64_t)be64_get(hdr), 36);
    log_slice_release(&s);
    /* The time index still answers. */
    int64_t o, ts;
    assert_int_equal(log_offset_for_time(f->log, 0, &o, &ts), 0);
    assert_int_equal(o, 36);
    /* A restart (full recovery walk over the gaps) sees the same log. */
    reopen(f);
    dump_t d2;
    dump_log(f, &d2);
    assert_int_equal(d2.n, d.n);
    assert_int_equal(log_end_offset(f->log), 42);
    assert_int_equal(log_start_offset(f->log), 0);
    /* And appends continue. */
    put1(f, "k9", "x");
    assert_int_equal(log_end_offset(f->log), 43);
}

static void test_clean_null_keys_dropped(void **state) {
    fixture_t *f = *state;
    /* A compacted log refuses keyless records (Kafka's INVALID_RECORD)... */
    open_log(f);
    const char *nk = NULL, *nv = "nokey";
    buf_t b = BUF_INIT;
    uint8_t *h = buf_extend(&b, RB_HEADER_SIZE);
    memset(h, 0, RB_HEADER_SIZE);
    put_record(&b, 0, nk, nv);
    h = b.data;
    be32_put(h + RB_OFF_LENGTH, (uint32_t)(b.len - 12));
    h[RB_OFF_MAGIC] = 2;
    be64_put(h + RB_OFF_PRODUCER_ID, (uint64_t)-1);
    be32_put(h + RB_OFF_RECORD_COUNT, 1);
    be32_put(h + RB_OFF_CRC, crc32c(0, h + RB_OFF_ATTRIBUTES, b.len - RB_OFF_ATTRIBUTES));
    assert_int_equal(log_append(f->log, b.data, b.len, 0, NULL), LOG_ENO_KEY);
    assert_int_equal(log_end_offset(f->log), 0);
    buf_destroy(&b);
    /* ... but one that became compacted may hold some: the cleaner drops them. */
    f->cfg.cleanup_compact = false;
    assert_int_equal(log_set_config(f->log, &f->cfg), 0);
    put1(f, NULL, "nokey");
    f->cfg.cleanup_compact = true;
    assert_int_equal(log_set_config(f->log, &f->cfg), 0);
    put1(f, "a", "1");
    assert_int_equal(log_roll(f->log), 0);
    put1(f, "b", "2");
    assert_int_equal(clean(f, 0, true), 0);
    dump_t d;
    dump_log(f, &d);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.recs[0].offset, 1);
    assert_string_equal(d.recs[0].key, "a");
}

static void test_clean_active_segment_untouched(void **state) {
    fixture_t *f = *state;
    f->cfg.segment_bytes = 100000;
    open_log(f);
    fill_updates(f, 8);
    assert_int_equal(log_roll(f->log), 0);
    fill_updates(f, 8); /* older duplicates of the same keys sit in the active segment */
    int64_t active_size = log_size_bytes(f->log);
    assert_int_equal(clean(f, 0, true), 0);
    /* The active segment keeps all 8; the cleaned one only what is not overwritten
     * there either: the map covers only the dirty section below the active segment. */
    dump_t d;
    dump_log(f, &d);
    assert_int_equal(d.n, 4 + 8);
    for (int i = 8; i < 16; i++) {
        assert_non_null(find_offset(&d, i));
    }
    assert_true(log_size_bytes(f->log) < active_size);
    /* Nothing cleanable in a log with only an active segment. */
    log_close(f->log);
    f->log = NULL;
    tmpdir_remove(f->dir);
    f->dir = tmpdir_new();
    open_log(f);
    fill_updates(f, 8);
    assert_int_equal(log_segment_count(f->log), 1);
    assert_int_equal(log_clean(f->log, 0, true, on_clean, f), 1);
}

static void test_clean_min_ratio_respected(void **state) {
    fixture_t *f = *state;
    f->cfg.segment_bytes = 100000;
    open_log(f);
    fill_updates(f, 40);
    assert_int_equal(log_roll(f->log), 0);
    assert_int_equal(clean(f, 0, false), 0);
    int64_t ckpt = f->stats.end_offset;
    assert_int_equal(ckpt, 40);
    int64_t clean_bytes = log_size_bytes(f->log);
    /* A little dirt: below 0.5. */
    put1(f, "k1", "a");
    assert_int_equal(log_roll(f->log), 0);
    int64_t end;
    double r = log_cleanable_ratio(f->log, ckpt, &end);
    assert_true(r > 0 && r < 0.5);
    assert_int_equal(end, 41);
    f->cb_calls = 0;
    assert_int_equal(log_clean(f->log, ckpt, false, on_clean, f), 1);
    assert_int_equal(f->cb_calls, 0);
    assert_int_equal(log_size_bytes(f->log), clean_bytes + (log_size_bytes(f->log) - clean_bytes));
    /* A lower threshold lets it run; the overwritten k1 goes. */
    f->cfg.min_cleanable_ratio = 0.1;
    assert_int_equal(log_set_config(f->log, &f->cfg), 0);
    assert_int_equal(clean(f, ckpt, false), 0);
    dump_t d;
    dump_log(f, &d);
    assert_int_equal(d.n, 4);
    assert_non_null(find_offset(&d, 40));
    assert_null(find_offset(&d, 37)); /* the old k1 */
}

static void test_clean_min_compaction_lag(void **state) {
    fixture_t *f = *state;
    f->cfg.segment_bytes = 100000;
    f->cfg.min_compaction_lag_ms = 60000;
    open_log(f);
    fill_updates(f, 8);
    assert_int_equal(log_roll(f->log), 0);
    /* The segment's records are younger than the lag: nothing cleanable. */
    int64_t end;
    assert_true(log_cleanable_ratio(f->log, 0, &end) == 0);
    assert_int_equal(end, 0);
    assert_int_equal(log_clean(f->log, 0, true, on_clean, f), 1);
    f->now += 60001;
    assert_true(log_cleanable_ratio(f->log, 0, &end) > 0.99);
    assert_int_equal(end, 8);
    assert_int_equal(clean(f, 0, false), 0);
}

static void test_clean_tombstones_after_delete_retention(void **state) {
    fixture_t *f = *state;
    f->cfg.segment_bytes = 100000;
    f->cfg.delete_retention_ms = 3600000;
    open_log(f);
    put1(f, "a", "1");
    put1(f, "b", "1");
    put1(f, "a", NULL); /* tombstone at 2 */
    assert_int_equal(log_roll(f->log), 0);
    put1(f, "c", "1");
    /* First pass: the tombstone's segment is dirty: kept, the old "a" goes. */
    assert_int_equal(clean(f, 0, false), 0);
    int64_t ckpt = f->stats.end_offset;
    dump_t d;
    dump_log(f, &d);
    assert_int_equal(d.n, 3); /* b, tombstone a, c */
    assert_true(find_offset(&d, 2)->tombstone);
    /* More dirt; a pass before delete.retention.ms keeps the tombstone. */
    assert_int_equal(log_roll(f->log), 0);
    put1(f, "d", "1");
    f->now += 3600000 - 1000;
    assert_int_equal(clean(f, ckpt, true), 0);
    ckpt = f->stats.end_offset;
    dump_log(f, &d);
    assert_non_null(find_offset(&d, 2));
    assert_int_equal(f->stats.tombstones_dropped, 0);
    /* After delete.retention.ms since the first cleaning, it goes. */
    assert_int_equal(log_roll(f->log), 0);
    f->now += 2000;
    assert_int_equal(clean(f, ckpt, true), 0);
    assert_int_equal(f->stats.tombstones_dropped, 1);
    dump_log(f, &d);
    assert_null(find_offset(&d, 2));
    assert_non_null(find_offset(&d, 1));
    assert_non_null(find_offset(&d, 3));
    assert_non_null(find_offset(&d, 4));
}

static void test_clean_groups_small_segments(void **state) {
    fixture_t *f = *state;
    f->cfg.segment_bytes = 200; /* about two batches per segment */
    open_log(f);
    for (int i = 0; i < 30; i++) {
        char key[8];
        snprintf(key, sizeof(key), "k%d", i);
        put1(f, key, "value-value-value");
    }
    assert_int_equal(log_roll(f->log), 0);
    int segs = log_segment_count(f->log);
    assert_true(segs >= 15);
    assert_int_equal(clean(f, 0, false), 0);
    /* Nothing removed (distinct keys), but no group crosses segment.bytes. */
    assert_int_equal(f->stats.records_kept, 30);
    assert_int_equal(f->stats.segments_in, segs - 1);
    assert_int_equal(f->stats.segments_out, segs - 1);
    /* Now overwrite all but few: the next pass merges the emptied segments. */
    for (int i = 0; i < 28; i++) {
        char key[8];
        snprintf(key, sizeof(key), "k%d", i);
        put1(f, key, "v2");
    }
    assert_int_equal(log_roll(f->log), 0);
    int64_t ckpt = f->stats.end_offset;
    segs = log_segment_count(f->log);
    assert_int_equal(clean(f, ckpt, true), 0);
    ckpt = f->stats.end_offset;
    assert_int_equal(log_segment_count(f->log), segs);
    /* The pass after merges the emptied segments (sizes known before it). */
    assert_int_equal(clean(f, ckpt, true), 0);
    assert_true(f->stats.segments_out < f->stats.segments_in);
    assert_true(log_segment_count(f->log) < segs);
    dump_t d;
    dump_log(f, &d);
    assert_int_equal(d.n, 30);
    assert_non_null(find_offset(&d, 28));
    assert_non_null(find_offset(&d, 29));
    for (int i = 30; i < 58; i++) {
        assert_non_null(find_offset(&d, i));
    }
    /* Every index entry of the grouped segments points at the batch it names. */
    for (int i = 0; i < log_segment_count(f->log); i++) {
        seg_t *s = f->log->segs[i];
        for (uint32_t j = 0; j < s->oidx.entries; j++) {
            int64_t off, pos;
            rb_header_t h;
            oidx_entry(&s->oidx, j, &off, &pos);
            assert_int_equal(seg_read_header(s, pos, &h), 0);
            assert_int_equal(h.base_offset + h.last_offset_delta, off);
        }
    }
    reopen(f);
    dump_t d2;
    dump_log(f, &d2);
    assert_int_equal(d2.n, 30);
}

static void test_clean_keeps_producer_headers(void **state) {
    fixture_t *f = *state;
    f->cfg.segment_bytes = 100000;
    open_log(f);
    const char *ka[2] = {"a", "b"}, *va[2] = {"1", "1"};
    append_batch(f, 2, ka, va, 7, 0); /* 0-1: producer 7's only batch */
    append_batch(f, 2, ka, va, 8, 0); /* 2-3: producer 8, overwritten below */
    append_batch(f, 2, ka, va, 8, 2); /* 4-5: producer 8's last batch */
    put1(f, "a", "2");                /* 6 */
    put1(f, "b", "2");                /* 7 */
    assert_int_equal(log_roll(f->log), 0);
    put1(f, "z", "z");
    assert_int_equal(clean(f, 0, false), 0);
    dump_t d;
    dump_log(f, &d);
    assert_int_equal(d.n, 3); /* a@6, b@7, z@8 */
    /* Empty batches of the producers' last batches remain with their headers. */
    bool saw7 = false, saw8 = false;
    for (int i = 0; i < d.nb; i++) {
        batch_out_t *b = &d.batches[i];
        if (b->pid == 7) {
            saw7 = true;
            assert_int_equal(b->base, 0);
            assert_int_equal(b->last, 1);
            assert_int_equal(b->count, 0);
            assert_int_equal(b->seq, 0);
            assert_int_equal(b->epoch, 3);
        }
        if (b->pid == 8) {
            assert_false(saw8); /* only the last one */
            saw8 = true;
            assert_int_equal(b->base, 4);
            assert_int_equal(b->last, 5);
            assert_int_equal(b->seq, 2);
            assert_int_equal(b->count, 0);
        }
    }
    assert_true(saw7 && saw8);
    /* A batch with records left keeps base offset, last delta and sequence. */
    put1(f, "q", "1");
    log_close(f->log);
    f->log = NULL;
    tmpdir_remove(f->dir);
    f->dir = tmpdir_new();
    open_log(f);
    const char *kb[3] = {"a", "b", "c"}, *vb[3] = {"1", "1", "1"};
    append_batch(f, 3, kb, vb, 9, 10);
    put1(f, "b", "2");
    assert_int_equal(log_roll(f->log), 0);
    put1(f, "z", "z");
    assert_int_equal(clean(f, 0, true), 0);
    dump_log(f, &d);
    assert_int_equal(d.batches[0].base, 0);
    assert_int_equal(d.batches[0].last, 2);
    assert_int_equal(d.batches[0].count, 2);
    assert_int_equal(d.batches[0].seq, 10);
    assert_int_equal(d.batches[0].pid, 9);
    assert_int_equal(d.recs[0].offset, 0);
    assert_int_equal(d.recs[1].offset, 2);
}

static void test_clean_discarded_when_log_changed(void **state) {
    fixture_t *f = *state;
    f->cfg.segment_bytes = 100000;
    strata_executor_t ex = {q_submit, f};
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, &ex, 0, false, &f->log), 0);
    fill_updates(f, 8);
    assert_int_equal(log_roll(f->log), 0);
    fill_updates(f, 4);
    f->cb_calls = 0;
    assert_int_equal(log_clean(f->log, 0, false, on_clean, f), 0);
    assert_true(log_cleaning(f->log));
    assert_int_equal(log_clean(f->log, 0, false, on_clean, f), STRATA_EINVAL);
    /* A follower truncation while the worker runs. */
    assert_int_equal(log_truncate_to(f->log, 6), 0);
    run_all(f);
    assert_int_equal(f->cb_calls, 1);
    assert_int_equal(f->cb_status, -ECANCELED);
    assert_false(log_cleaning(f->log));
    assert_int_equal(count_files(f, ".cleaned"), 0);
    dump_t d;
    dump_log(f, &d);
    assert_int_equal(d.n, 6);
    /* A read slice taken before a pass keeps reading the old file after the swap. */
    fill_updates(f, 8);
    assert_int_equal(log_roll(f->log), 0);
    log_slice_t s;
    assert_int_equal(log_read(f->log, 0, 100000, INT64_MAX, &s), 0);
    int64_t len = s.len;
    assert_int_equal(log_clean(f->log, 0, true, on_clean, f), 0);
    run_all(f);
    assert_int_equal(f->cb_status, 0);
    uint8_t *buf = xmalloc((size_t)len);
    assert_int_equal(pread(s.fd, buf, (size_t)len, s.pos), len);
    assert_int_equal((int64_t)be64_get(buf), 0);
    free(buf);
    log_slice_release(&s);
    /* The log being closed while a pass runs: the result is thrown away. */
    put1(f, "k0", "x");
    assert_int_equal(log_roll(f->log), 0);
    f->cb_calls = 0;
    assert_int_equal(log_clean(f->log, 0, true, on_clean, f), 0);
    log_close(f->log);
    f->log = NULL;
    run_all(f);
    assert_int_equal(f->cb_status, -ECANCELED);
    assert_int_equal(count_files(f, ".cleaned"), 0);
}

/* A pass in flight when the log is closed while a flush is also in flight (the log is
 * freed only by the flush completion): the pass is detached at close and its result
 * discarded, not swapped into the closing log. */
static void test_clean_detached_by_close_during_flush(void **state) {
    fixture_t *f = *state;
    f->cfg.segment_bytes = 100000;
    strata_executor_t ex = {q_submit, f};
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, &ex, 0, false, &f->log), 0);
    fill_updates(f, 8);
    assert_int_equal(log_roll(f->log), 0);
    put1(f, "k0", "x");
    run_all(f);
    f->cb_calls = 0;
    assert_int_equal(log_clean(f->log, 0, true, on_clean, f), 0); /* queued first */
    assert_int_equal(log_flush(f->log, NULL, NULL), 0);           /* then the flush */
    log_close(f->log); /* freed by the flush completion */
    f->log = NULL;
    run_all(f); /* the pass completes before the flush */
    assert_int_equal(f->cb_calls, 1);
    assert_int_equal(f->cb_status, -ECANCELED);
    assert_int_equal(count_files(f, ".cleaned"), 0);
    assert_int_equal(count_files(f, ".swap"), 0);
    assert_int_equal(count_files(f, ".deleted"), 0);
    open_log(f);
    dump_t d;
    dump_log(f, &d);
    assert_int_equal(d.n, 9); /* nothing was cleaned */
}

/* The manager's pass completion applies the cleaner checkpoint only to the log it
 * started on: a log deleted while its pass runs and re-created under the same name
 * keeps its own checkpoint (0). */
static void test_logmgr_clean_result_not_applied_to_recreated_log(void **state) {
    fixture_t *f = *state;
    const char *dirs[1] = {f->dir};
    strata_executor_t ex = {q_submit, f};
    logmgr_t *m;
    assert_int_equal(logmgr_open(dirs, 1, &f->cfg, &ex, &m), 0);
    run_all(f);
    logmgr_cleaner_config_t cc = {.enable = true, .backoff_ms = 1000};
    logmgr_set_cleaner(m, &cc);
    assert_int_equal(logmgr_create(m, "t", 0, &f->cfg, &f->log), 0);
    fill_updates(f, 40);
    assert_int_equal(log_roll(f->log), 0);
    run_all(f);
    f->now += 1000;
    logmgr_tick(m); /* the pass is queued */
    assert_true(log_cleaning(f->log));
    assert_int_equal(log_flush(f->log, NULL, NULL), 0); /* after it: frees the old log */
    assert_int_equal(logmgr_delete(m, "t", 0), 0);
    f->log = NULL;
    log_t *fresh;
    assert_int_equal(logmgr_create(m, "t", 0, &f->cfg, &fresh), 0);
    run_all(f);
    assert_int_equal(logmgr_cleaner_passes(m), 0);
    assert_int_equal(logmgr_cleaner_checkpoint(m, "t", 0), 0);
    assert_int_equal(log_end_offset(fresh), 0);
    logmgr_free(m);
    run_all(f);
}

/* Checks the reopened log: every key's latest value present at its offset. */
static void check_latest(fixture_t *f, int n) {
    dump_t d;
    dump_log(f, &d);
    for (int k = 0; k < 4; k++) {
        int64_t latest = n - 4 + k;
        const rec_out_t *r = find_offset(&d, latest);
        assert_non_null(r);
        char val[16];
        snprintf(val, sizeof(val), "v%d", (int)latest);
        assert_string_equal(r->value, val);
    }
    assert_int_equal(log_end_offset(f->log), n + 1);
    assert_int_equal(count_files(f, ".swap"), 0);
    assert_int_equal(count_files(f, ".cleaned"), 0);
}

static void test_clean_crash_at_each_swap_step(void **state) {
    fixture_t *f = *state;
    const int n = 40;
    bool done = false;
    for (int nth = 1; nth < 100 && !done; nth++) {
        if (f->log) {
            log_close(f->log);
            f->log = NULL;
        }
        tmpdir_remove(f->dir);
        f->dir = tmpdir_new();
        open_log(f);
        fill_updates(f, n);
        assert_int_equal(log_roll(f->log), 0);
        put1(f, "x", "y");
        fault_fs_fail_rename(nth, EIO); /* the crash: nothing after the nth rename happens */
        int st = clean(f, 0, false);
        fault_fs_reset();
        if (st == 0) {
            done = true; /* every rename done: the normal path */
        } else {
            assert_true(log_is_offline(f->log));
        }
        reopen(f); /* recovery: a full walk, as after a crash */
        check_latest(f, n);
        /* And a clean-shutdown reopen (index-trusting load) agrees. */
        assert_int_equal(log_flush_sync(f->log), 0);
        int64_t rp = log_end_offset(f->log);
        assert_int_equal(log_close_clean(f->log), 0);
        assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, NULL, rp, true, &f->log), 0);
        check_latest(f, n);
    }
    assert_true(done);
}

static void test_clean_fsync_failure_takes_log_offline(void **state) {
    fixture_t *f = *state;
    open_log(f);
    fill_updates(f, 40);
    assert_int_equal(log_roll(f->log), 0);
    put1(f, "x", "y");
    fault_fs_fail_fsync(1, EIO);
    int st = clean(f, 0, false);
    fault_fs_reset();
    assert_int_equal(st, -EIO);
    assert_true(log_is_offline(f->log));
    reopen(f);
    dump_t d;
    dump_log(f, &d);
    assert_int_equal(d.n, 41); /* nothing swapped in: the original log */
    assert_int_equal(count_files(f, ".cleaned"), 0);
}

static void test_logmgr_cleans_compacted_logs(void **state) {
    fixture_t *f = *state;
    const char *dirs[1] = {f->dir};
    logmgr_t *m;
    log_config_t plain = f->cfg;
    plain.cleanup_compact = false;
    plain.cleanup_delete = true;
    assert_int_equal(logmgr_open(dirs, 1, &plain, NULL, &m), 0);
    logmgr_cleaner_config_t cc = {.enable = true, .backoff_ms = 1000};
    logmgr_set_cleaner(m, &cc);
    assert_int_equal(logmgr_create(m, "t", 0, &f->cfg, &f->log), 0);
    log_t *other;
    assert_int_equal(logmgr_create(m, "d", 0, &plain, &other), 0);
    fill_updates(f, 40);
    assert_int_equal(log_roll(f->log), 0);
    log_t *keep = f->log;
    f->log = other;
    fill_updates(f, 40);
    assert_int_equal(log_roll(other), 0);
    f->log = keep;
    int64_t other_size = log_size_bytes(other);
    /* Within log.cleaner.backoff.ms nothing happens. */
    logmgr_tick(m);
    assert_int_equal(logmgr_cleaner_passes(m), 0);
    f->now += 1000;
    logmgr_tick(m);
    assert_int_equal(logmgr_cleaner_passes(m), 1);
    assert_int_equal(logmgr_cleaner_checkpoint(m, "t", 0), 40);
    assert_int_equal(log_size_bytes(other), other_size); /* delete policy: never cleaned */
    /* Nothing dirty: the next look does not clean again. */
    f->now += 1000;
    logmgr_tick(m);
    assert_int_equal(logmgr_cleaner_passes(m), 1);
    /* The checkpoint survives a restart (cleaner-offset-checkpoint). */
    assert_int_equal(logmgr_shutdown(m), 0);
    logmgr_free(m);
    f->log = NULL;
    char *path = xasprintf("%s/cleaner-offset-checkpoint", f->dir);
    ckpt_entry_t *e;
    size_t n;
    assert_int_equal(ckpt_read(path, &e, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].topic, "t");
    assert_int_equal(e[0].offset, 40);
    ckpt_free(e, n);
    free(path);
    assert_int_equal(logmgr_open(dirs, 1, &f->cfg, NULL, &m), 0);
    assert_int_equal(logmgr_cleaner_checkpoint(m, "t", 0), 40);
    /* log.cleaner.enable=false: no pass however dirty. */
    cc.enable = false;
    logmgr_set_cleaner(m, &cc);
    f->log = logmgr_get(m, "t", 0);
    fill_updates(f, 40);
    assert_int_equal(log_roll(f->log), 0);
    f->now += 100000;
    logmgr_tick(m);
    assert_int_equal(logmgr_cleaner_passes(m), 0);
    f->log = NULL;
    logmgr_free(m);
}

static void test_clean_compressed_batches(void **state) {
    fixture_t *f = *state;
    f->cfg.segment_bytes = 100000;
    open_log(f);
    const char *kx[3] = {"x", "b", "c"}, *k[3] = {"a", "b", "c"}, *v[3] = {"1", "1", "1"};
    append_batch_codec(f, 3, kx, v, -1, 0, RBC_GZIP); /* 0-2 */
    append_batch_codec(f, 3, k, v, -1, 0, 6);         /* 3-5: a codec nobody knows */
    append_batch_codec(f, 3, k, v, -1, 0, RBC_ZSTD);  /* 6-8 */
    put1(f, "b", "2");                                /* 9 */
    put1(f, "c", "2");                                /* 10 */
    assert_int_equal(log_roll(f->log), 0);
    put1(f, "z", "z");
    assert_int_equal(clean(f, 0, false), 0);
    dump_t d;
    dump_log(f, &d);
    /* gzip: only x stays, still gzip; the unknown codec: kept whole (keys unknown, not in
     * the map); zstd: only a (the latest a); then b, c and the active z. */
    assert_int_equal(d.nb, 6);
    assert_int_equal(d.batches[0].base, 0);
    assert_int_equal(d.batches[0].last, 2);
    assert_int_equal(d.batches[0].count, 1);
    assert_int_equal(d.batches[1].base, 3);
    assert_int_equal(d.batches[1].count, 3);
    assert_int_equal(d.batches[2].base, 6);
    assert_int_equal(d.batches[2].count, 1);
    assert_string_equal(find_offset(&d, 0)->key, "x");
    assert_string_equal(find_offset(&d, 6)->key, "a");
    assert_null(find_offset(&d, 1));
    assert_null(find_offset(&d, 7));
    assert_null(find_offset(&d, 8));
    assert_non_null(find_offset(&d, 9));
    assert_non_null(find_offset(&d, 10));
    /* The rebuilt batches keep their codecs. */
    int64_t offs[2] = {0, 6};
    int codecs[2] = {RBC_GZIP, RBC_ZSTD};
    for (int i = 0; i < 2; i++) {
        log_slice_t s;
        assert_int_equal(log_read(f->log, offs[i], 1, INT64_MAX, &s), 0);
        uint8_t hdr[RB_HEADER_SIZE];
        assert_int_equal(pread(s.fd, hdr, sizeof(hdr), s.pos), (ssize_t)sizeof(hdr));
        assert_int_equal(be16_get(hdr + RB_OFF_ATTRIBUTES) & RB_ATTR_COMPRESSION, codecs[i]);
        log_slice_release(&s);
    }
}

static void test_clean_stops_at_high_watermark(void **state) {
    fixture_t *f = *state;
    f->cfg.segment_bytes = 100000;
    open_log(f);
    fill_updates(f, 8); /* segment 0-7 */
    assert_int_equal(log_roll(f->log), 0);
    fill_updates(f, 8); /* segment 8-15 */
    assert_int_equal(log_roll(f->log), 0);
    put1(f, "z", "z");
    /* Offsets from 12 are not committed: the second segment stays as it is. */
    log_set_clean_limit(f->log, 12);
    int64_t end;
    assert_true(log_cleanable_ratio(f->log, 0, &end) > 0.99);
    assert_int_equal(end, 8);
    assert_int_equal(clean(f, 0, false), 0);
    assert_int_equal(f->stats.end_offset, 8);
    dump_t d;
    dump_log(f, &d);
    assert_int_equal(d.n, 4 + 8 + 1);
    /* Nothing committed at all: nothing to clean. */
    log_set_clean_limit(f->log, 0);
    assert_int_equal(log_clean(f->log, 0, true, on_clean, f), 1);
    log_set_clean_limit(f->log, INT64_MAX);
    assert_int_equal(clean(f, 8, false), 0);
    assert_int_equal(f->stats.end_offset, 16);
}

static void write_file(fixture_t *f, const char *name, const char *text) {
    char *p = xasprintf("%s/t-0/%s", f->dir, name);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    free(p);
}

static void test_recovery_removes_unfinished_cleaning(void **state) {
    fixture_t *f = *state;
    open_log(f);
    fill_updates(f, 40);
    assert_int_equal(log_roll(f->log), 0);
    put1(f, "x", "y");
    log_close(f->log);
    f->log = NULL;
    /* A crash while the worker wrote, and one between the index and log renames. */
    write_file(f, "00000000000000000000.log.cleaned", "garbage");
    write_file(f, "00000000000000000000.index.cleaned", "garbage");
    write_file(f, "00000000000000000005.index.swap", "garbage");
    write_file(f, "00000000000000000005.timeindex.swap", "garbage");
    open_log(f);
    assert_int_equal(count_files(f, ".cleaned"), 0);
    assert_int_equal(count_files(f, ".swap"), 0);
    dump_t d;
    dump_log(f, &d);
    assert_int_equal(d.n, 41);
    /* An empty .log.swap (all records removed) still replaces the segments it covers
     * only: nothing past its own base, so the log is whole. */
    log_close(f->log);
    f->log = NULL;
    write_file(f, "00000000000000000005.log.swap", "");
    open_log(f);
    assert_int_equal(count_files(f, ".swap"), 0);
    dump_log(f, &d);
    assert_null(find_offset(&d, 5)); /* segment 5's content was replaced by the empty swap */
    assert_non_null(find_offset(&d, 4));
    assert_non_null(find_offset(&d, 10));
    assert_int_equal(log_end_offset(f->log), 41);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clean_keeps_latest_per_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_null_keys_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_active_segment_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_min_ratio_respected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_min_compaction_lag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_tombstones_after_delete_retention, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_clean_groups_small_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_keeps_producer_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_discarded_when_log_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_detached_by_close_during_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logmgr_clean_result_not_applied_to_recreated_log,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_crash_at_each_swap_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_fsync_failure_takes_log_offline, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_logmgr_cleans_compacted_logs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_compressed_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_stops_at_high_watermark, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_removes_unfinished_cleaning, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
