/*
 * test_proto_produce_legacy: byte-exact vectors for Produce v0-2 (the versions carrying
 * legacy MessageSets, magic 0 and 1): requests have no transactional_id, responses
 * grow throttle_time_ms (v1) and log_append_time_ms (v2). Written by hand from
 * ProduceRequest.json / ProduceResponse.json; the record bytes pass through untouched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "strata/proto.h"

#include "proto_test_util.h"

/* A magic-0 message: null key, value "hi" (CRC-32 IEEE over magic..end). */
#define MSG_V0                                                                                     \
    "0000000000000000" /* offset */                                                                \
    "00000010"         /* message_size 16 */                                                       \
    "fd6ebddb"         /* crc */                                                                   \
    "00"               /* magic 0 */                                                               \
    "00"               /* attributes */                                                            \
    "ffffffff"         /* key null */                                                              \
    "00000002 6869"    /* value "hi" */

/* A magic-1 message: key "k", value "hi", CreateTime 1700000000000. */
#define MSG_V1                                                                                     \
    "0000000000000000" /* offset */                                                                \
    "00000019"         /* message_size 25 */                                                       \
    "8f82f06d"         /* crc */                                                                   \
    "01"               /* magic 1 */                                                               \
    "00"               /* attributes */                                                            \
    "0000018bcfe56800" /* timestamp */                                                             \
    "00000001 6b"      /* key "k" */                                                               \
    "00000002 6869"    /* value "hi" */

static const char PRODUCE_REQ_V0[] = "0001"         /* acks 1 (no transactional_id before v3) */
                                     "000003e8"     /* timeout_ms 1000 */
                                     "00000001"     /* topic_data: 1 */
                                     "  0001 74"    /* name "t" */
                                     "  00000001"   /* partition_data: 1 */
                                     "    00000003" /* index 3 */
                                     "    0000001c" /* records: 28 bytes */
                                     "    " MSG_V0;

static const char PRODUCE_REQ_V2[] = "ffff 00007530 00000001 0001 74 00000001 00000000"
                                     "0000004a" /* records: two magic-1 messages, 74 bytes */
    MSG_V1 MSG_V1;

static void test_ProduceRequest_v0_v1_legacy_set(void **state) {
    (void)state;
    for (int16_t version = 0; version <= 1; version++) {
        arena_t *a = arena_new(0);
        vec_t v = vec_hex(PRODUCE_REQ_V0);
        kp_ProduceRequest_t *m = decode_ok(a, true, KP_API_Produce, version, &v);
        assert_null(m->transactional_id);
        assert_int_equal(m->acks, 1);
        assert_int_equal(m->timeout_ms, 1000);
        assert_int_equal(m->n_topic_data, 1);
        assert_string_equal(m->topic_data[0].name, "t");
        assert_int_equal(m->topic_data[0].partition_data[0].index, 3);
        const kp_records_t *r = &m->topic_data[0].partition_data[0].records;
        assert_int_equal(r->len, 28);
        assert_ptr_equal(r->data, v.data + v.len - 28); /* zero copy, untouched */
        assert_int_equal(r->data[16], 0);               /* magic 0 */
        free(v.data);
        arena_free(a);
        check_body(true, KP_API_Produce, version, PRODUCE_REQ_V0);
    }
}

static void test_ProduceRequest_v2_encode(void **state) {
    (void)state;
    vec_t set = vec_hex(MSG_V1 MSG_V1);
    assert_int_equal(set.len, 74);
    kp_ProduceRequest_t m;
    kp_ProduceRequest_TopicProduceData_t t;
    kp_ProduceRequest_PartitionProduceData_t p;
    kp_init_ProduceRequest(&m);
    kp_init_ProduceRequest_TopicProduceData(&t);
    kp_init_ProduceRequest_PartitionProduceData(&p);
    m.acks = -1;
    m.timeout_ms = 30000;
    m.transactional_id = "ignored before v3";
    t.name = "t";
    p.index = 0;
    p.records = kp_records_mem(set.data, (int64_t)set.len);
    t.n_partition_data = 1;
    t.partition_data = &p;
    m.n_topic_data = 1;
    m.topic_data = &t;
    check_encode(true, KP_API_Produce, 2, &m, PRODUCE_REQ_V2);
    check_body(true, KP_API_Produce, 2, PRODUCE_REQ_V2);
    free(set.data);
}

static void test_ProduceRequest_v0_truncated(void **state) {
    (void)state;
    /* records claim 28 bytes, 27 follow */
    arena_t *a = arena_new(0);
    vec_t v = vec_hex(PRODUCE_REQ_V0);
    kp_rd_t rd;
    kp_rd_init(&rd, v.data, v.len - 1, a);
    kp_ProduceRequest_t m;
    assert_int_equal(kp_decode_ProduceRequest(&rd, 0, &m), STRATA_ECORRUPT);
    free(v.data);
    arena_free(a);
}

/* One partition: index 3, error 2 (CORRUPT_MESSAGE) or none, base offset 5. */
static void fill_resp(kp_ProduceResponse_t *m, kp_ProduceResponse_TopicProduceResponse_t *t,
                      kp_ProduceResponse_PartitionProduceResponse_t *p) {
    kp_init_ProduceResponse(m);
    kp_init_ProduceResponse_TopicProduceResponse(t);
    kp_init_ProduceResponse_PartitionProduceResponse(p);
    p->index = 3;
    p->base_offset = 5;
    p->log_append_time_ms = 1700000000000;
    p->log_start_offset = 0;
    t->name = "t";
    t->n_partition_responses = 1;
    t->partition_responses = p;
    m->n_responses = 1;
    m->responses = t;
    m->throttle_time_ms = 0x10;
}

static void test_ProduceResponse_v0_v1_v2(void **state) {
    (void)state;
    kp_ProduceResponse_t m;
    kp_ProduceResponse_TopicProduceResponse_t t;
    kp_ProduceResponse_PartitionProduceResponse_t p;
    fill_resp(&m, &t, &p);
    static const char V0[] = "00000001"             /* responses: 1 */
                             "  0001 74"            /* name */
                             "  00000001"           /* partition_responses */
                             "    00000003"         /* index */
                             "    0000"             /* error_code */
                             "    0000000000000005" /* base_offset */
                             "";                    /* v0: no throttle_time_ms */
    static const char V1[] = "00000001 0001 74 00000001 00000003 0000 0000000000000005"
                             "00000010"; /* throttle_time_ms (v1+) */
    static const char V2[] = "00000001 0001 74 00000001 00000003 0000 0000000000000005"
                             "0000018bcfe56800" /* log_append_time_ms (v2+) */
                             "00000010";
    check_encode(false, KP_API_Produce, 0, &m, V0);
    check_encode(false, KP_API_Produce, 1, &m, V1);
    check_encode(false, KP_API_Produce, 2, &m, V2);
    check_body(false, KP_API_Produce, 0, V0);
    check_body(false, KP_API_Produce, 1, V1);
    check_body(false, KP_API_Produce, 2, V2);
}

static void test_Produce_v0_2_advertised(void **state) {
    (void)state;
    /* librdkafka 2.0.2 compresses with gzip/snappy/lz4 only when Produce v0 is advertised. */
    assert_int_equal(kp_supported_min(KP_API_Produce), 0);
    assert_true(kp_supported_max(KP_API_Produce) >= 7);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ProduceRequest_v0_v1_legacy_set),
        cmocka_unit_test(test_ProduceRequest_v2_encode),
        cmocka_unit_test(test_ProduceRequest_v0_truncated),
        cmocka_unit_test(test_ProduceResponse_v0_v1_v2),
        cmocka_unit_test(test_Produce_v0_2_advertised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
