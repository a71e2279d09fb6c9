/* Tests for util/crc32c.c: known vectors, hardware == table on random data, every
 * length and alignment, large buffers (the three-stream path's long and short rounds and
 * their tails), and chaining. */
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

/* Every implementation this CPU runs (the last is what crc32c() uses). */
static int nvariants(void) {
    int n = 0;
    while (crc32c_variant(n, NULL)) {
        n++;
    }
    assert_true(n >= 1);
    assert_ptr_equal(crc32c_variant(0, NULL), crc32c_sw);
    return n;
}

static uint8_t *random_bytes(size_t n, unsigned seed) {
    uint8_t *d = malloc(n);
    assert_non_null(d);
    uint32_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        d[i] = (uint8_t)(x >> 16);
    }
    return d;
}

/* Every length 0..4096 at a random alignment and a random starting crc, each variant. */
static void test_crc32c_every_length_random_alignment(void **state) {
    (void)state;
    enum { MAXLEN = 4096, PAD = 64 };
    uint8_t *data = random_bytes(MAXLEN + PAD, 777);
    int nv = nvariants();
    srand(4242);
    for (size_t len = 0; len <= MAXLEN; len++) {
        size_t align = (size_t)rand() % PAD;
        uint32_t seed = (uint32_t)rand() * 2654435761u;
        uint32_t want0 = crc32c_sw(0, data + align, len);
        uint32_t want = crc32c_sw(seed, data + align, len);
        assert_int_equal(crc32c(0, data + align, len), want0);
        for (int v = 1; v < nv; v++) {
            crc32c_fn f = crc32c_variant(v, NULL);
            assert_int_equal(f(0, data + align, len), want0);
            assert_int_equal(f(seed, data + align, len), want);
        }
    }
    free(data);
}

/* 1 MiB and larger, at lengths around the round and fold sizes and at odd alignments. */
static void test_crc32c_large_buffers(void **state) {
    (void)state;
    const size_t big = 5u << 20;
    uint8_t *data = random_bytes(big + 64, 99);
    const size_t lens[] = {1u << 20,
                           (1u << 20) + 1,
                           (1u << 20) - 7,
                           (1u << 20) + 12287,
                           3 * 4096,
                           3 * 4096 - 1,
                           3 * 4096 + 1,
                           3 * 4096 + 3 * 256,
                           3 * 4096 + 767,
                           3 * 256,
                           3 * 256 - 1,
                           256,
                           255,
                           257,
                           511,
                           512,
                           16363,
                           (3u << 20) + 12345,
                           big};
    int nv = nvariants();
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        for (size_t align = 0; align < 9; align += 3) {
            uint32_t want = crc32c_sw(0, data + align, lens[i]);
            for (int v = 1; v < nv; v++) {
                const char *name;
                crc32c_fn f = crc32c_variant(v, &name);
                if (f(0, data + align, lens[i]) != want) {
                    fail_msg("%s: length %zu align %zu", name, lens[i], align);
                }
            }
        }
    }
    /* All zeros and all ones: structured input. */
    for (int v = 1; v < nv; v++) {
        crc32c_fn f = crc32c_variant(v, NULL);
        memset(data, 0, big);
        assert_int_equal(f(0, data, big), crc32c_sw(0, data, big));
        memset(data, 0xff, big);
        assert_int_equal(f(0xdeadbeef, data + 1, big - 1),
                         crc32c_sw(0xdeadbeef, data + 1, big - 1));
    }
    free(data);
}

/* crc of a||b == crc(crc(a), b) at random split points of large buffers, across variants. */
static void test_crc32c_continuation_large(void **state) {
    (void)state;
    const size_t n = (2u << 20) + 333;
    uint8_t *data = random_bytes(n, 31337);
    uint32_t whole = crc32c_sw(0, data, n);
    assert_int_equal(crc32c(0, data, n), whole);
    int nv = nvariants();
    srand(77);
    for (int i = 0; i < 40; i++) {
        size_t split = i == 0 ? 0 : i == 1 ? n : (size_t)rand() % (n + 1);
        assert_int_equal(crc32c_sw(crc32c_sw(0, data, split), data + split, n - split), whole);
        for (int v = 1; v < nv; v++) {
            crc32c_fn f = crc32c_variant(v, NULL);
            uint32_t a = f(0, data, split);
            assert_int_equal(f(a, data + split, n - split), whole);
            assert_int_equal(crc32c_sw(a, data + split, n - split), whole);
        }
    }
    /* Many small pieces. */
    for (int v = 0; v < nv; v++) {
        crc32c_fn f = crc32c_variant(v, NULL);
        uint32_t c = 0;
        size_t pos = 0;
        while (pos < n) {
            size_t piece = 1 + (size_t)rand() % 20000;
            if (piece > n - pos) {
                piece = n - pos;
            }
            c = f(c, data + pos, piece);
            pos += piece;
        }
        assert_int_equal(c, whole);
    }
    free(data);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_check_value),
        cmocka_unit_test(test_crc32c_kcat_batch),
        cmocka_unit_test(test_crc32c_known_vectors),
        cmocka_unit_test(test_crc32c_hw_matches_sw_random),
        cmocka_unit_test(test_crc32c_chains),
        cmocka_unit_test(test_crc32c_every_length_random_alignment),
        cmocka_unit_test(test_crc32c_large_buffers),
        cmocka_unit_test(test_crc32c_continuation_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
