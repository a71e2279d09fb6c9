/* Unit tests for group/records.c: Kafka's __consumer_offsets key/value bytes and batches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strata/group.h"
#include "strata/storage.h"

static void test_gc_encode_offset_key_is_kafka_v1(void **state) {
    (void)state;
    buf_t b = BUF_INIT;
    gc_encode_offset_key(&b, "g", "tp", 7);
    static const uint8_t want[] = {0, 1, 0, 1, 'g', 0, 2, 't', 'p', 0, 0, 0, 7};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    buf_destroy(&b);
}

static void test_gc_encode_offset_value_is_kafka_v3(void **state) {
    (void)state;
    buf_t b = BUF_INIT;
    gc_encode_offset_value(&b, 0x0102030405060708LL, 9, "m", 0x1122334455667788LL);
    static const uint8_t want[] = {0, 3, 1, 2,   3,    4,    5,    6,    7,    8,    0,    0,   0,
                                   9, 0, 1, 'm', 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    buf_destroy(&b);
}

static void test_gc_encode_group_key_is_kafka_v2(void **state) {
    (void)state;
    buf_t b = BUF_INIT;
    gc_encode_group_key(&b, "ab");
    static const uint8_t want[] = {0, 2, 0, 2, 'a', 'b'};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    buf_destroy(&b);
}

typedef struct seen {
    int n;
    size_t klen[4];
    size_t vlen[4];
    bool tomb[4];
    uint8_t key0[16];
} seen_t;

static void on_rec(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
    seen_t *s = arg;
    if (s->n < 4) {
        s->klen[s->n] = kl;
        s->vlen[s->n] = vl;
        s->tomb[s->n] = v == NULL;
        if (s->n == 0 && kl <= sizeof(s->key0)) {
            memcpy(s->key0, k, kl);
        }
    }
    s->n++;
}

static void test_gc_batch_roundtrip_and_storage_validation(void **state) {
    (void)state;
    gc_batch_t b;
    gc_batch_init(&b, 1700000000000LL);
    gc_batch_add(&b, (const uint8_t *)"key1", 4, (const uint8_t *)"value", 5);
    gc_batch_add(&b, (const uint8_t *)"k2", 2, NULL, 0);
    gc_batch_add(&b, (const uint8_t *)"k3", 2, (const uint8_t *)"", 0);
    gc_batch_finish(&b);
    /* the storage layer accepts it as a valid magic-2 batch */
    rb_header_t h;
    assert_int_equal(rb_parse(b.buf.data, b.buf.len, &h), (long)b.buf.len);
    assert_int_equal(h.record_count, 3);
    assert_int_equal(h.last_offset_delta, 2);
    assert_int_equal(h.producer_id, -1);
    /* two batches back to back, then a truncated third */
    buf_t two = BUF_INIT;
    buf_append(&two, b.buf.data, b.buf.len);
    buf_append(&two, b.buf.data, b.buf.len);
    buf_append(&two, b.buf.data, 20);
    seen_t s;
    memset(&s, 0, sizeof(s));
    assert_int_equal(gc_batch_foreach(two.data, two.len, on_rec, &s), 0);
    assert_int_equal(s.n, 6);
    assert_int_equal(s.klen[0], 4);
    assert_memory_equal(s.key0, "key1", 4);
    assert_int_equal(s.vlen[0], 5);
    assert_true(s.tomb[1]);
    assert_false(s.tomb[2]);
    assert_int_equal(s.vlen[2], 0);
    /* a flipped byte fails the CRC */
    two.data[RB_HEADER_SIZE + 3] ^= 0x40;
    memset(&s, 0, sizeof(s));
    assert_int_equal(gc_batch_foreach(two.data, two.len, on_rec, &s), STRATA_ECORRUPT);
    assert_int_equal(s.n, 0);
    buf_destroy(&two);
    gc_batch_destroy(&b);
}

static void test_gc_batch_foreach_rejects_garbage(void **state) {
    (void)state;
    uint8_t junk[200];
    for (size_t i = 0; i < sizeof(junk); i++) {
        junk[i] = (uint8_t)(i * 37 + 11);
    }
    seen_t s;
    memset(&s, 0, sizeof(s));
    int rc = gc_batch_foreach(junk, sizeof(junk), on_rec, &s);
    assert_true(rc == STRATA_ECORRUPT || rc == 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(gc_batch_foreach(junk, 5, on_rec, &s), 0);
    /* a record length pointing past the batch, with a valid CRC */
    gc_batch_t b;
    gc_batch_init(&b, 0);
    gc_batch_add(&b, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1);
    b.buf.data[RB_HEADER_SIZE] = 0x7e; /* record length varint: 63 */
    gc_batch_finish(&b);
    assert_int_equal(gc_batch_foreach(b.buf.data, b.buf.len, on_rec, &s), STRATA_ECORRUPT);
    gc_batch_destroy(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gc_encode_offset_key_is_kafka_v1),
        cmocka_unit_test(test_gc_encode_offset_value_is_kafka_v3),
        cmocka_unit_test(test_gc_encode_group_key_is_kafka_v2),
        cmocka_unit_test(test_gc_batch_roundtrip_and_storage_validation),
        cmocka_unit_test(test_gc_batch_foreach_rejects_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
