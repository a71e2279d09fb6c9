/* Review regression tests for this session's storage changes: hostile record fields
 * (offset and timestamp deltas) in batches read by the compacted-log key check, the
 * time lookup and the cleaner never overflow (UBSan aborts on signed overflow) and are
 * answered with a clear result; a compacted log refuses records that do not parse; and a
 * randomized model check of the cleaner (passes, reopen, a failed rename in the swap). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
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

/* One batch of one record key=value with the given header base offset / timestamp and
 * record deltas, compressed with codec (0 = none). */
static void make_batch(buf_t *b, int64_t base_offset, int64_t base_ts, int64_t tdelta,
                       int64_t odelta, const char *key, int codec) {
    buf_t r = BUF_INIT, recs = BUF_INIT;
    uint8_t attrs = 0;
    buf_append(&r, &attrs, 1);
    put_varlong(&r, tdelta);
    put_varlong(&r, odelta);
    put_varlong(&r, (int64_t)strlen(key));
    buf_append(&r, key, strlen(key));
    put_varlong(&r, 1);
    buf_append(&r, "v", 1);
    put_varlong(&r, 0);
    put_varlong(&recs, (int64_t)r.len);
    buf_append(&recs, r.data, r.len);
    buf_reset(b);
    uint8_t *h = buf_extend(b, RB_HEADER_SIZE);
    memset(h, 0, RB_HEADER_SIZE);
    if (codec) {
        assert_int_equal(rbc_compress(codec, recs.data, recs.len, b), 0);
    } else {
        buf_append(b, recs.data, recs.len);
    }
    h = b->data;
    be64_put(h + RB_OFF_BASE_OFFSET, (uint64_t)base_offset);
    be16_put(h + RB_OFF_ATTRIBUTES, (uint16_t)codec);
    be32_put(h + RB_OFF_LENGTH, (uint32_t)(b->len - 12));
    h[RB_OFF_MAGIC] = 2;
    be32_put(h + RB_OFF_LAST_DELTA, 0);
    be64_put(h + RB_OFF_BASE_TIMESTAMP, (uint64_t)base_ts);
    be64_put(h + RB_OFF_MAX_TIMESTAMP, (uint64_t)base_ts);
    be64_put(h + RB_OFF_PRODUCER_ID, (uint64_t)-1);
    be16_put(h + RB_OFF_PRODUCER_EPOCH, (uint16_t)-1);
    be32_put(h + RB_OFF_BASE_SEQUENCE, (uint32_t)-1);
    be32_put(h + RB_OFF_RECORD_COUNT, 1);
    be32_put(h + RB_OFF_CRC, crc32c(0, h + RB_OFF_ATTRIBUTES, b->len - RB_OFF_ATTRIBUTES));
    buf_destroy(&r);
    buf_destroy(&recs);
}

static log_t *open_compacted(const char *dir) {
    log_config_t cfg;
    log_config_default(&cfg);
    cfg.cleanup_compact = true;
    cfg.cleanup_delete = false;
    log_t *log = NULL;
    assert_int_equal(log_open(dir, "t", 0, &cfg, NULL, 0, false, &log), 0);
    return log;
}

/* The client's base offset is still in the batch when the key check reads it. */
static void test_key_check_hostile_offset_delta(void **state) {
    (void)state;
    char *dir = tmpdir_new();
    log_t *log = open_compacted(dir);
    buf_t b = BUF_INIT;
    make_batch(&b, INT64_MAX - 1, 1000, 0, 5, "k", 0);
    int rc = log_append(log, b.data, b.len, 0, NULL);
    assert_int_equal(rc, STRATA_ECORRUPT);
    make_batch(&b, INT64_MAX - 1, 1000, 0, INT64_MAX, "k", RBC_GZIP);
    rc = log_append(log, b.data, b.len, 0, NULL);
    assert_int_equal(rc, STRATA_ECORRUPT);
    buf_destroy(&b);
    log_close(log);
    tmpdir_remove(dir);
}

/* ListOffsets by time reads the record timestamps: base + delta past INT64_MAX. */
static void test_time_lookup_hostile_timestamp_delta(void **state) {
    (void)state;
    char *dir = tmpdir_new();
    log_t *log = open_compacted(dir);
    buf_t b = BUF_INIT;
    make_batch(&b, 0, INT64_MAX - 10, INT64_MAX, 0, "k", 0);
    assert_int_equal(log_append(log, b.data, b.len, 0, NULL), 0);
    make_batch(&b, 0, INT64_MAX - 10, INT64_MAX, 0, "k", RBC_GZIP);
    assert_int_equal(log_append(log, b.data, b.len, 0, NULL), 0);
    int64_t off = -1, ts = -1;
    int rc = log_offset_for_time(log, INT64_MAX - 20, &off, &ts);
    assert_true(rc == 0 || rc == STRATA_ENOTFOUND);
    if (rc == 0) {
        assert_true(off >= 0 && off < log_end_offset(log));
    }
    buf_destroy(&b);
    log_close(log);
    tmpdir_remove(dir);
}

/* The cleaner reads stored records: an offset delta past INT64_MAX - base. */
static void clean_cb(void *arg, int status, const log_clean_stats_t *stats) {
    (void)stats;
    *(int *)arg = status;
}

static void test_cleaner_hostile_offset_delta(void **state) {
    (void)state;
    char *dir = tmpdir_new();
    log_t *log = open_compacted(dir);
    buf_t b = BUF_INIT;
    make_batch(&b, 0, 1000, 0, 0, "a", 0);
    assert_int_equal(log_append(log, b.data, b.len, 0, NULL), 0);
    /* refused on produce (test_key_check_refuses_unparsable_records); a follower's
     * append does not parse records */
    make_batch(&b, 1, 1000, 0, INT64_MAX, "k", 0);
    assert_int_equal(log_append_replica(log, b.data, b.len, NULL), 0);
    make_batch(&b, 0, 1000, 0, 0, "a", 0); /* the latest "a" */
    assert_int_equal(log_append(log, b.data, b.len, 0, NULL), 0);
    assert_int_equal(log_roll(log), 0);
    make_batch(&b, 0, 1000, 0, 0, "z", 0);
    assert_int_equal(log_append(log, b.data, b.len, 0, NULL), 0);
    int status = 1;
    assert_int_equal(log_clean(log, 0, true, clean_cb, &status), 0);
    assert_true(status == 0 || status == STRATA_ECORRUPT);
    /* the latest "a" (offset 2) is still readable */
    log_slice_t s;
    assert_int_equal(log_read(log, 2, 100000, INT64_MAX, &s), 0);
    assert_true(s.len > 0);
    uint8_t hdr[RB_HEADER_SIZE];
    assert_int_equal(pread(s.fd, hdr, sizeof(hdr), s.pos), (ssize_t)sizeof(hdr));
    rb_header_t h;
    rb_read_header(hdr, &h);
    assert_true(h.base_offset <= 2 && h.base_offset + h.last_offset_delta >= 2);
    log_slice_release(&s);
    buf_destroy(&b);
    log_close(log);
    tmpdir_remove(dir);
}

/* A batch whose CRC holds but whose records do not parse, stored in a compacted log,
 * made every later cleaning pass of the log fail (map_batch: STRATA_ECORRUPT): one
 * produce stopped compaction of the partition for good. Kafka's LogValidator parses
 * every record and answers CORRUPT_MESSAGE. */
static void test_key_check_refuses_unparsable_records(void **state) {
    (void)state;
    char *dir = tmpdir_new();
    log_t *log = open_compacted(dir);
    buf_t b = BUF_INIT;
    for (int codec = 0; codec <= RBC_GZIP; codec += RBC_GZIP) {
        make_batch(&b, 0, 1000, 0, 0, "k", 0);
        /* the record's length varint claims more bytes than the batch holds */
        buf_t recs = BUF_INIT;
        uint8_t junk[8] = {0x7e, 0, 0, 2, 'k', 'k', 0, 0};
        buf_append(&recs, junk, sizeof(junk));
        b.len = RB_HEADER_SIZE;
        if (codec) {
            assert_int_equal(rbc_compress(codec, recs.data, recs.len, &b), 0);
        } else {
            buf_append(&b, recs.data, recs.len);
        }
        buf_destroy(&recs);
        be16_put(b.data + RB_OFF_ATTRIBUTES, (uint16_t)codec);
        be32_put(b.data + RB_OFF_LENGTH, (uint32_t)(b.len - 12));
        be32_put(b.data + RB_OFF_CRC,
                 crc32c(0, b.data + RB_OFF_ATTRIBUTES, b.len - RB_OFF_ATTRIBUTES));
        assert_int_equal(log_append(log, b.data, b.len, 0, NULL), STRATA_ECORRUPT);
    }
    /* and the log still compacts */
    for (int i = 0; i < 3; i++) {
        make_batch(&b, 0, 1000, 0, 0, "k", 0);
        assert_int_equal(log_append(log, b.data, b.len, 0, NULL), 0);
    }
    assert_int_equal(log_roll(log), 0);
    make_batch(&b, 0, 1000, 0, 0, "z", 0);
    assert_int_equal(log_append(log, b.data, b.len, 0, NULL), 0);
    int status = 1;
    assert_int_equal(log_clean(log, 0, true, clean_cb, &status), 0);
    assert_int_equal(status, 0);
    buf_destroy(&b);
    log_close(log);
    tmpdir_remove(dir);
}

/* ---------------------------------------------------------------- model check */

/* Random histories of keyed updates and tombstones (plain and compressed batches, some
 * with producer ids), cleaned pass after pass with the checkpoint carried over, the clock
 * moving, and reopened (recovery walk or clean load) now and then. After each step: every
 * record read back is the one written at that offset; the latest record of every key is
 * there (a tombstone may go once delete.retention.ms passed, then with all its key's
 * older records); offsets increase; the log end never moves. */
#define MC_MAX 600

typedef struct mc_rec {
    char key[8];
    bool tomb;
} mc_rec_t;

typedef struct mc {
    char *dir;
    log_config_t cfg;
    log_t *log;
    int64_t now;
    mc_rec_t recs[MC_MAX];
    int n;
    int64_t ckpt;
    bool faulty; /* a rename of this pass fails (a crash in the swap) */
} mc_t;

static int64_t mc_now(void *arg) {
    return ((mc_t *)arg)->now;
}

static void mc_append(mc_t *m, unsigned *seed, int nkeys) {
    int n = 1 + (int)(rand_r(seed) % 4);
    if (m->n + n > MC_MAX) {
        return;
    }
    int codec = (int)(rand_r(seed) % 6);
    codec = codec > RBC_ZSTD ? 0 : codec;
    int64_t pid = rand_r(seed) % 3 == 0 ? (int64_t)(rand_r(seed) % 3) : -1;
    buf_t recs = BUF_INIT, b = BUF_INIT;
    int64_t base = log_end_offset(m->log);
    for (int i = 0; i < n; i++) {
        mc_rec_t *r = &m->recs[base + i];
        snprintf(r->key, sizeof(r->key), "k%d", (int)(rand_r(seed) % (unsigned)nkeys));
        r->tomb = rand_r(seed) % 8 == 0;
        char val[24];
        snprintf(val, sizeof(val), "v%d", (int)(base + i));
        buf_t one = BUF_INIT;
        uint8_t attrs = 0;
        buf_append(&one, &attrs, 1);
        put_varlong(&one, i);
        put_varlong(&one, i);
        put_varlong(&one, (int64_t)strlen(r->key));
        buf_append(&one, r->key, strlen(r->key));
        put_varlong(&one, r->tomb ? -1 : (int64_t)strlen(val));
        if (!r->tomb) {
            buf_append(&one, val, strlen(val));
        }
        put_varlong(&one, 0);
        put_varlong(&recs, (int64_t)one.len);
        buf_append(&recs, one.data, one.len);
        buf_destroy(&one);
    }
    uint8_t *h = buf_extend(&b, RB_HEADER_SIZE);
    memset(h, 0, RB_HEADER_SIZE);
    if (codec) {
        assert_int_equal(rbc_compress(codec, recs.data, recs.len, &b), 0);
    } else {
        buf_append(&b, recs.data, recs.len);
    }
    h = b.data;
    be16_put(h + RB_OFF_ATTRIBUTES, (uint16_t)codec);
    be32_put(h + RB_OFF_LENGTH, (uint32_t)(b.len - 12));
    h[RB_OFF_MAGIC] = 2;
    be32_put(h + RB_OFF_LAST_DELTA, (uint32_t)(n - 1));
    be64_put(h + RB_OFF_BASE_TIMESTAMP, (uint64_t)m->now);
    be64_put(h + RB_OFF_MAX_TIMESTAMP, (uint64_t)(m->now + n - 1));
    be64_put(h + RB_OFF_PRODUCER_ID, (uint64_t)pid);
    be16_put(h + RB_OFF_PRODUCER_EPOCH, (uint16_t)(pid >= 0 ? 1 : -1));
    be32_put(h + RB_OFF_BASE_SEQUENCE, (uint32_t)(pid >= 0 ? base : -1));
    be32_put(h + RB_OFF_RECORD_COUNT, (uint32_t)n);
    be32_put(h + RB_OFF_CRC, crc32c(0, h + RB_OFF_ATTRIBUTES, b.len - RB_OFF_ATTRIBUTES));
    assert_int_equal(log_append(m->log, b.data, b.len, 0, NULL), 0);
    m->n = (int)(base + n);
    buf_destroy(&recs);
    buf_destroy(&b);
}

/* Reads the whole log as a consumer and checks it against the model. */
static void mc_check(mc_t *m) {
    assert_int_equal(log_end_offset(m->log), m->n);
    static bool present[MC_MAX];
    memset(present, 0, sizeof(present));
    int64_t off = log_start_offset(m->log), prev = -1;
    while (off < log_end_offset(m->log)) {
        log_slice_t sl;
        assert_int_equal(log_read(m->log, off, 1 << 20, INT64_MAX, &sl), 0);
        if (sl.len == 0) {
            break; /* the rest is a gap up to the log end */
        }
        uint8_t *buf = xmalloc((size_t)sl.len);
        assert_int_equal(pread(sl.fd, buf, (size_t)sl.len, sl.pos), sl.len);
        size_t pos = 0;
        while (pos < (size_t)sl.len) {
            rb_header_t h;
            long bl = rb_parse(buf + pos, (size_t)sl.len - pos, &h);
            assert_true(bl > 0);
            assert_true(h.base_offset + h.last_offset_delta >= off);
            buf_t plain = BUF_INIT;
            const uint8_t *p;
            size_t plen;
            assert_int_equal(rbc_batch_records(buf + pos, (size_t)bl, 1 << 20, &plain, &p, &plen),
                             0);
            for (int32_t i = 0; i < h.record_count; i++) {
                int64_t len = bb_get_varlong(&p);
                const uint8_t *next = p + len;
                p++;
                bb_get_varlong(&p);
                int64_t o = h.base_offset + bb_get_varlong(&p);
                assert_true(o > prev && o < m->n);
                prev = o;
                int64_t kl = bb_get_varlong(&p);
                assert_true(kl > 0 && (size_t)kl < sizeof(m->recs[0].key));
                assert_memory_equal(p, m->recs[o].key, (size_t)kl);
                assert_int_equal(m->recs[o].key[kl], 0);
                p += kl;
                int64_t vl = bb_get_varlong(&p);
                assert_int_equal(vl < 0, m->recs[o].tomb);
                if (vl >= 0) {
                    char val[24];
                    snprintf(val, sizeof(val), "v%d", (int)o);
                    assert_int_equal(vl, (int64_t)strlen(val));
                    assert_memory_equal(p, val, (size_t)vl);
                }
                present[o] = true;
                p = next;
            }
            buf_destroy(&plain);
            off = h.base_offset + h.last_offset_delta + 1;
            pos += (size_t)bl;
        }
        free(buf);
        log_slice_release(&sl);
    }
    /* the latest record of each key */
    for (int o = m->n - 1; o >= 0; o--) {
        bool later = false;
        for (int j = o + 1; j < m->n && !later; j++) {
            later = strcmp(m->recs[j].key, m->recs[o].key) == 0;
        }
        if (later) {
            continue;
        }
        if (!m->recs[o].tomb) {
            if (!present[o]) {
                fail_msg("the latest record of %s (offset %d) is gone", m->recs[o].key, o);
            }
        } else if (!present[o]) {
            for (int j = 0; j < o; j++) {
                if (present[j] && strcmp(m->recs[j].key, m->recs[o].key) == 0) {
                    fail_msg("tombstone %d of %s gone but offset %d of it is back", o,
                             m->recs[o].key, j);
                }
            }
        }
    }
}

static void mc_clean_cb(void *arg, int status, const log_clean_stats_t *stats) {
    mc_t *m = arg;
    if (status != 0) {
        assert_true(m->faulty);
        return;
    }
    m->ckpt = stats->end_offset;
}

static void mc_reopen(mc_t *m, bool clean) {
    if (clean) {
        assert_int_equal(log_flush_sync(m->log), 0);
        int64_t rp = log_end_offset(m->log);
        assert_int_equal(log_close_clean(m->log), 0);
        assert_int_equal(log_open(m->dir, "t", 0, &m->cfg, NULL, rp, true, &m->log), 0);
    } else {
        log_close(m->log);
        assert_int_equal(log_open(m->dir, "t", 0, &m->cfg, NULL, 0, false, &m->log), 0);
    }
}

static void test_cleaner_model_check(void **state) {
    (void)state;
    for (unsigned seed0 = 1; seed0 <= 16; seed0++) {
        unsigned seed = seed0;
        mc_t *m = xcalloc(1, sizeof(*m));
        m->dir = tmpdir_new();
        m->now = 1700000000000LL;
        log_config_default(&m->cfg);
        m->cfg.segment_bytes = 150 + (int64_t)(rand_r(&seed) % 800);
        m->cfg.index_size_max_bytes = 4096;
        m->cfg.index_interval_bytes = (int32_t)(rand_r(&seed) % 200);
        m->cfg.now_ms = mc_now;
        m->cfg.now_arg = m;
        m->cfg.file_delete_delay_ms = 0;
        m->cfg.cleanup_compact = true;
        m->cfg.cleanup_delete = false;
        m->cfg.delete_retention_ms = 1000 * (int64_t)(rand_r(&seed) % 4);
        assert_int_equal(log_open(m->dir, "t", 0, &m->cfg, NULL, 0, false, &m->log), 0);
        int nkeys = 1 + (int)(rand_r(&seed) % 12);
        for (int step = 0; step < 120 && m->n < MC_MAX - 8; step++) {
            unsigned r = rand_r(&seed) % 20;
            if (r < 14) {
                mc_append(m, &seed, nkeys);
            } else if (r < 15) {
                assert_int_equal(log_roll(m->log), 0);
            } else if (r < 18) {
                m->now += 700;
                m->faulty = rand_r(&seed) % 4 == 0;
                if (m->faulty) {
                    fault_fs_fail_rename(1 + (int)(rand_r(&seed) % 12), EIO);
                }
                int rc = log_clean(m->log, m->ckpt, rand_r(&seed) % 2, mc_clean_cb, m);
                assert_true(rc == 0 || rc == 1);
                fault_fs_reset();
                if (log_is_offline(m->log)) {
                    assert_true(m->faulty);
                    mc_reopen(m, false); /* the crash: recovery finishes or undoes the swap */
                }
            } else {
                mc_reopen(m, rand_r(&seed) % 2);
            }
            mc_check(m);
        }
        mc_reopen(m, false);
        mc_check(m);
        log_close(m->log);
        tmpdir_remove(m->dir);
        free(m);
    }
}

int main(void) {
    if (getenv("REVIEW_TEST_FILTER")) {
        cmocka_set_test_filter(getenv("REVIEW_TEST_FILTER")); /* one test at a time */
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_check_hostile_offset_delta),
        cmocka_unit_test(test_time_lookup_hostile_timestamp_delta),
        cmocka_unit_test(test_cleaner_hostile_offset_delta),
        cmocka_unit_test(test_key_check_refuses_unparsable_records),
        cmocka_unit_test(test_cleaner_model_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
