/* Tests for record_batch.c: rb_parse/rb_validate accept good batches and reject each
 * kind of bad one with its own reason; log_append writes nothing for a bad batch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "batch_builder.h"
#include "strata/storage.h"
#include "tmpdir.h"

static void test_rb_parse_good(void **state) {
    (void)state;
    buf_t b = BUF_INIT;
    bb_opts_t o;
    bb_opts_default(&o);
    o.records = 5;
    o.base_timestamp = 777;
    o.key = "k";
    size_t n = bb_append(&b, &o);
    rb_header_t h;
    rb_status_t why;
    assert_int_equal(rb_validate(b.data, b.len, &h, &why), (long)n);
    assert_int_equal(why, RB_OK);
    assert_int_equal(h.magic, 2);
    assert_int_equal(h.record_count, 5);
    assert_int_equal(h.last_offset_delta, 4);
    assert_int_equal(h.base_timestamp, 777);
    assert_int_equal(h.max_timestamp, 781);
    assert_int_equal(h.length + 12, (int32_t)n);
    assert_int_equal(h.producer_id, -1);
    /* Two batches back to back: the first parse covers only the first. */
    size_t n2 = bb_simple(&b, 3, 100, 5);
    assert_int_equal(rb_parse(b.data, b.len, NULL), (long)n);
    assert_int_equal(rb_parse(b.data + n, b.len - n, NULL), (long)n2);
    buf_destroy(&b);
}

static void test_rb_parse_bad_crc(void **state) {
    (void)state;
    buf_t b = BUF_INIT;
    size_t n = bb_simple(&b, 3, 50, 1000);
    rb_status_t why;
    /* Any flipped byte covered by the CRC is caught. */
    for (size_t i = RB_OFF_ATTRIBUTES; i < n; i++) {
        if (i >= RB_OFF_LAST_DELTA && i < RB_OFF_LAST_DELTA + 4) {
            continue; /* may trip the count check first */
        }
        if (i >= RB_OFF_RECORD_COUNT && i < RB_OFF_RECORD_COUNT + 4) {
            continue;
        }
        b.data[i] ^= 0x40;
        assert_int_equal(rb_validate(b.data, n, NULL, &why), STRATA_ECORRUPT);
        assert_int_equal(why, RB_BAD_CRC);
        b.data[i] ^= 0x40;
    }
    /* The CRC field itself. */
    b.data[RB_OFF_CRC] ^= 1;
    assert_int_equal(rb_validate(b.data, n, NULL, &why), STRATA_ECORRUPT);
    assert_int_equal(why, RB_BAD_CRC);
    b.data[RB_OFF_CRC] ^= 1;
    /* Fields outside the CRC do not matter (the broker stamps them). */
    b.data[RB_OFF_BASE_OFFSET + 7] = 42;
    b.data[RB_OFF_LEADER_EPOCH + 3] = 9;
    assert_int_equal(rb_validate(b.data, n, NULL, &why), (long)n);
    buf_destroy(&b);
}

static void test_rb_parse_truncated(void **state) {
    (void)state;
    buf_t b = BUF_INIT;
    size_t n = bb_simple(&b, 2, 30, 1000);
    rb_status_t why;
    for (size_t avail = 0; avail < n; avail++) {
        assert_int_equal(rb_validate(b.data, avail, NULL, &why), 0);
        assert_int_equal(why, RB_TRUNCATED);
    }
    assert_int_equal(rb_validate(b.data, n, NULL, &why), (long)n);
    buf_destroy(&b);
}

static void test_rb_parse_wrong_magic(void **state) {
    (void)state;
    buf_t b = BUF_INIT;
    size_t n = bb_simple(&b, 1, 10, 1000);
    rb_status_t why;
    for (int m = 0; m < 256; m++) {
        if (m == 2) {
            continue;
        }
        b.data[RB_OFF_MAGIC] = (uint8_t)m;
        assert_int_equal(rb_validate(b.data, n, NULL, &why), STRATA_ECORRUPT);
        assert_int_equal(why, RB_BAD_MAGIC);
    }
    buf_destroy(&b);
}

static void test_rb_parse_count_mismatch(void **state) {
    (void)state;
    buf_t b = BUF_INIT;
    size_t n = bb_simple(&b, 3, 10, 1000);
    rb_status_t why;
    /* More records than the offset delta allows. */
    be32_put(b.data + RB_OFF_RECORD_COUNT, 4);
    bb_fix_crc(b.data);
    assert_int_equal(rb_validate(b.data, n, NULL, &why), STRATA_ECORRUPT);
    assert_int_equal(why, RB_BAD_COUNT);
    /* Negative delta. */
    be32_put(b.data + RB_OFF_RECORD_COUNT, 3);
    be32_put(b.data + RB_OFF_LAST_DELTA, (uint32_t)-1);
    bb_fix_crc(b.data);
    assert_int_equal(rb_validate(b.data, n, NULL, &why), STRATA_ECORRUPT);
    assert_int_equal(why, RB_BAD_COUNT);
    buf_destroy(&b);
}

static void test_rb_parse_bad_length(void **state) {
    (void)state;
    buf_t b = BUF_INIT;
    size_t n = bb_simple(&b, 1, 10, 1000);
    rb_status_t why;
    be32_put(b.data + RB_OFF_LENGTH, 10);
    assert_int_equal(rb_validate(b.data, n, NULL, &why), STRATA_ECORRUPT);
    assert_int_equal(why, RB_BAD_LENGTH);
    be32_put(b.data + RB_OFF_LENGTH, (uint32_t)-5);
    assert_int_equal(rb_validate(b.data, n, NULL, &why), STRATA_ECORRUPT);
    assert_int_equal(why, RB_BAD_LENGTH);
    /* Garbage shorter than a header but with a bad length is rejected, not "truncated". */
    assert_int_equal(rb_validate(b.data, 20, NULL, &why), STRATA_ECORRUPT);
    assert_string_equal(rb_status_str(RB_BAD_LENGTH), "batch length below the header size");
    buf_destroy(&b);
}

/* fuzz_records: a batch_length below the fixed header made the records section's length
 * (length + 12 - 61) wrap, and the lookup read far past the buffer. */
static void test_rb_find_record_by_time_short_length(void **state) {
    (void)state;
    buf_t b = BUF_INIT;
    bb_simple(&b, 3, 100, 5);
    int64_t off = -1, ts = -1;
    assert_int_equal(rb_find_record_by_time(b.data, b.len, 0, &off, &ts), 0);
    int32_t bad[] = {-12, -1, 0, RB_HEADER_SIZE - 13};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        be32_put(b.data + RB_OFF_LENGTH, (uint32_t)bad[i]);
        assert_int_equal(rb_find_record_by_time(b.data, b.len, 0, &off, &ts), STRATA_ECORRUPT);
    }
    buf_destroy(&b);
}

static void test_log_append_rejects_bad_batches(void **state) {
    (void)state;
    char *dir = tmpdir_new();
    log_config_t cfg;
    log_config_default(&cfg);
    cfg.index_size_max_bytes = 4096;
    log_t *log;
    assert_int_equal(log_open(dir, "t", 0, &cfg, NULL, 0, false, &log), 0);
    buf_t b = BUF_INIT;
    size_t n1 = bb_simple(&b, 2, 10, 1000);
    bb_simple(&b, 2, 10, 1000);
    /* Second batch corrupt: nothing at all is written (all-or-nothing). */
    b.data[n1 + RB_HEADER_SIZE + 3] ^= 0xff;
    log_append_info_t info;
    assert_int_equal(log_append(log, b.data, b.len, 0, &info), STRATA_ECORRUPT);
    assert_int_equal(log_end_offset(log), 0);
    assert_int_equal(log_size_bytes(log), 0);
    /* Truncated input. */
    b.data[n1 + RB_HEADER_SIZE + 3] ^= 0xff;
    assert_int_equal(log_append(log, b.data, b.len - 1, 0, &info), STRATA_ECORRUPT);
    assert_int_equal(log_append(log, b.data, 0, 0, &info), STRATA_ECORRUPT);
    /* A producer batch must have count == last_offset_delta + 1. */
    buf_t c = BUF_INIT;
    size_t nc = bb_simple(&c, 3, 10, 1000);
    be32_put(c.data + RB_OFF_RECORD_COUNT, 2);
    bb_fix_crc(c.data);
    assert_int_equal(log_append(log, c.data, nc, 0, &info), STRATA_ECORRUPT);
    /* Too large for message.max.bytes. */
    cfg.max_message_bytes = 50;
    assert_int_equal(log_set_config(log, &cfg), 0);
    assert_int_equal(log_append(log, b.data, b.len, 0, &info), STRATA_ETOO_LARGE);
    assert_int_equal(log_end_offset(log), 0);
    cfg.max_message_bytes = 1048588;
    assert_int_equal(log_set_config(log, &cfg), 0);
    assert_int_equal(log_append(log, b.data, b.len, 0, &info), 0);
    assert_int_equal(info.first_offset, 0);
    assert_int_equal(info.last_offset, 3);
    assert_int_equal(info.batch_count, 2);
    assert_int_equal(info.record_count, 4);
    assert_int_equal(log_end_offset(log), 4);
    log_close(log);
    buf_destroy(&b);
    buf_destroy(&c);
    tmpdir_remove(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rb_parse_good),
        cmocka_unit_test(test_rb_parse_bad_crc),
        cmocka_unit_test(test_rb_parse_truncated),
        cmocka_unit_test(test_rb_parse_wrong_magic),
        cmocka_unit_test(test_rb_parse_count_mismatch),
        cmocka_unit_test(test_rb_parse_bad_length),
        cmocka_unit_test(test_rb_find_record_by_time_short_length),
        cmocka_unit_test(test_log_append_rejects_bad_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
