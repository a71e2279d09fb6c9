/* Tests for util/buf.c and the big-endian helpers, plus small util pieces
 * (strata_strerror, slog level parsing, clocks, x* allocation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strata/util.h"

static void test_buf_append_grow(void **state) {
    (void)state;
    buf_t b = BUF_INIT;
    for (int i = 0; i < 10000; i++) {
        uint8_t c = (uint8_t)i;
        buf_append(&b, &c, 1);
    }
    assert_int_equal(b.len, 10000);
    assert_true(b.cap >= b.len);
    for (int i = 0; i < 10000; i++) {
        assert_int_equal(b.data[i], (uint8_t)i);
    }
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_non_null(b.data);
    buf_destroy(&b);
    assert_null(b.data);
    assert_int_equal(b.cap, 0);
}

static void test_buf_extend_and_reserve(void **state) {
    (void)state;
    buf_t b;
    buf_init(&b);
    buf_append(&b, "ab", 2);
    uint8_t *p = buf_extend(&b, 4);
    be32_put(p, 0x01020304);
    assert_int_equal(b.len, 6);
    assert_int_equal(be32_get(b.data + 2), 0x01020304);
    buf_reserve(&b, 1000);
    assert_true(b.cap - b.len >= 1000);
    assert_non_null(buf_extend(&b, 0));
    buf_append(&b, NULL, 0);
    assert_int_equal(b.len, 6);
    buf_destroy(&b);
}

static void test_be_helpers(void **state) {
    (void)state;
    uint8_t b[8];
    be16_put(b, 0xBEEF);
    assert_int_equal(b[0], 0xBE);
    assert_int_equal(be16_get(b), 0xBEEF);
    be64_put(b, 0x0102030405060708ull);
    assert_int_equal(b[0], 1);
    assert_int_equal(b[7], 8);
    assert_true(be64_get(b) == 0x0102030405060708ull);
}

static void test_strata_strerror(void **state) {
    (void)state;
    assert_string_equal(strata_strerror(-ENOENT), "No such file or directory");
    assert_string_equal(strata_strerror(STRATA_ECORRUPT), "Corrupt data");
    assert_non_null(strata_strerror(STRATA_ESHUTDOWN));
    assert_non_null(strata_strerror(-12345678));
}

static void test_slog_parse_level(void **state) {
    (void)state;
    slog_level_t lv;
    assert_int_equal(slog_parse_level("DEBUG", &lv), 0);
    assert_int_equal(lv, SLOG_DEBUG);
    assert_int_equal(slog_parse_level("warn", &lv), 0);
    assert_int_equal(lv, SLOG_WARN);
    assert_int_equal(slog_parse_level("loud", &lv), STRATA_EINVAL);
    slog_set_level(SLOG_ERROR);
    assert_int_equal(slog_get_level(), SLOG_ERROR);
    slog_info("dropped %d", 1);
    slog_set_level(SLOG_INFO);
}

static void test_clock_monotonic(void **state) {
    (void)state;
    int64_t a = clock_mono_ns();
    int64_t b = clock_mono_ns();
    assert_true(b >= a);
    assert_true(clock_wall_ms() > 1600000000000LL);
    assert_true(clock_mono_ms() >= 0);
}

static void test_xalloc(void **state) {
    (void)state;
    char *s = xasprintf("%s-%d", "t", 7);
    assert_string_equal(s, "t-7");
    free(s);
    s = xstrndup("abcdef", 3);
    assert_string_equal(s, "abc");
    free(s);
    int *z = xcalloc(4, sizeof(int));
    assert_int_equal(z[3], 0);
    z = xrealloc(z, 100 * sizeof(int));
    free(z);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_append_grow),  cmocka_unit_test(test_buf_extend_and_reserve),
        cmocka_unit_test(test_be_helpers),       cmocka_unit_test(test_strata_strerror),
        cmocka_unit_test(test_slog_parse_level), cmocka_unit_test(test_clock_monotonic),
        cmocka_unit_test(test_xalloc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
