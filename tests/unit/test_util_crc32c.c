/* Tests for util/crc32c.c: known vectors, hardware == table on random data, every
 * length and alignment, and chaining. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strata/util.h"

/* The kcat batch from kafka-protocol/README.md (78 bytes). */
static const uint8_t kcat_batch[78] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x42, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x33, 0xd1, 0x14, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xa2, 0x0e,
    0xac, 0x36, 0x60, 0x00, 0x00, 0x01, 0xa2, 0x0e, 0xac, 0x36, 0x60, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x20, 0x00, 0x00,
    0x00, 0x04, 0x6b, 0x6b, 0x04, 0x68, 0x69, 0x02, 0x04, 0x68, 0x6b, 0x04, 0x68, 0x76};

static void test_crc32c_check_value(void **state) {
    (void)state;
    assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c_sw(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c(0, "", 0), 0);
}

static void test_crc32c_kcat_batch(void **state) {
    (void)state;
    assert_int_equal(be32_get(kcat_batch + 17), 0x33d1140fu);
    assert_int_equal(crc32c(0, kcat_batch + 21, sizeof(kcat_batch) - 21), 0x33d1140fu);
    assert_int_equal(crc32c_sw(0, kcat_batch + 21, sizeof(kcat_batch) - 21), 0x33d1140fu);
}

static void test_crc32c_known_vectors(void **state) {
    (void)state;
    /* RFC 3720 B.4: 32 bytes of zeros, of 0xff, ascending. */
    uint8_t b[32];
    memset(b, 0, sizeof(b));
    assert_int_equal(crc32c(0, b, 32), 0x8A9136AAu);
    memset(b, 0xff, sizeof(b));
    assert_int_equal(crc32c(0, b, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++) {
        b[i] = (uint8_t)i;
    }
    assert_int_equal(crc32c(0, b, 32), 0x46DD794Eu);
    assert_int_equal(crc32c_sw(0, b, 32), 0x46DD794Eu);
}

static void test_crc32c_hw_matches_sw_random(void **state) {
    (void)state;
    enum { N = 1 << 16 };
    uint8_t *data = malloc(N + 16);
    srand(12345);
    for (size_t i = 0; i < N + 16; i++) {
        data[i] = (uint8_t)rand();
    }
    for (size_t align = 0; align < 16; align++) {
        for (size_t len = 0; len <= 300; len++) {
            assert_int_equal(crc32c(0, data + align, len), crc32c_sw(0, data + align, len));
        }
        assert_int_equal(crc32c(0, data + align, N), crc32c_sw(0, data + align, N));
    }
    free(data);
}

static void test_crc32c_chains(void **state) {
    (void)state;
    const char *s = "123456789";
    for (size_t split = 0; split <= 9; split++) {
        uint32_t c = crc32c(0, s, split);
        assert_int_equal(crc32c(c, s + split, 9 - split), 0xE3069283u);
        uint32_t d = crc32c_sw(0, s, split);
        assert_int_equal(crc32c_sw(d, s + split, 9 - split), 0xE3069283u);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_check_value),
        cmocka_unit_test(test_crc32c_kcat_batch),
        cmocka_unit_test(test_crc32c_known_vectors),
        cmocka_unit_test(test_crc32c_hw_matches_sw_random),
        cmocka_unit_test(test_crc32c_chains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
