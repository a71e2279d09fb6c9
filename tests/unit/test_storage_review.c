/* Review regression tests for this session's storage changes: hostile record fields
 * (offset and timestamp deltas) in batches read by the compacted-log key check, the
 * time lookup and the cleaner never overflow (UBSan aborts on signed overflow) and are
 * answered with a clear result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int main(void) {
    if (getenv("REVIEW_TEST_FILTER")) {
        cmocka_set_test_filter(getenv("REVIEW_TEST_FILTER")); /* one test at a time */
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_check_hostile_offset_delta),
        cmocka_unit_test(test_time_lookup_hostile_timestamp_delta),
        cmocka_unit_test(test_cleaner_hostile_offset_delta),
        cmocka_unit_test(test_key_check_refuses_unparsable_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
