/*
 * test_proto_captured: whole requests (header + body, no size prefix) captured from real
 * clients talking to a throw-away listener: kcat 1.7.1 / librdkafka 2.0.2 (ApiVersions
 * v3 with header v2, Metadata v4) and kafkajs 2.2.4 (ApiVersions v2, Metadata v6,
 * CreateTopics v3, InitProducerId v1, idempotent Produce v7, DeleteTopics v1). Each must
 * decode completely, re-encode to the identical bytes, and fail at every truncation.
 * The same files are fuzz seeds in tests/fuzz/corpus/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "strata/proto.h"

#include "proto_test_util.h"

static const char KCAT_APIVERSIONS_V3[] = "0012000300000001000772646b61666b6100"
                                          "0b6c696272646b61666b6106322e302e3200";
static const char KCAT_METADATA_V4[] = "0003000400000002000772646b61666b610000000000";
static const char KCAT_METADATA_V4_TOPIC[] = "0003000400000003000772646b61666b61"
                                             "00000001 0002746b 00"; /* ["tk"], no auto-create */
static const char KCAT_PRODUCE_V7[] =
    "0000000700000003000772646b61666b61" /* kcat -P -K: -H hk=hv, "kk:hi" */
    "ffff ffff 00007530 00000001 0002746b 00000001 00000000 0000004e"
    "0000000000000000 00000042 00000000 02 3c41ec25 0000 00000000"
    "000001a212964e96 000001a212964e96 ffffffffffffffff ffff ffffffff"
    "00000001 20 00 00 00 046b6b 046869 02 04686b 046876";
static const char KCAT_LISTOFFSETS_V2[] = "0002000200000004000772646b61666b61"
                                          "ffffffff 01 00000001 0002746b 00000001"
                                          "00000000 fffffffffffffffe"; /* -o beginning */
static const char KCAT_FETCH_V11[] = "0001000b00000005000772646b61666b61"
                                     "ffffffff 000001f4 00000001 03200000 01 00000000 ffffffff"
                                     "00000001 0002746b 00000001"
                                     "00000000 ffffffff 0000000000000000 ffffffffffffffff 00100000"
                                     "00000000 0000";
static const char KJS_APIVERSIONS_V2[] = "001200020000000000036b6a73";
static const char KJS_METADATA_V6[] = "000300060000000100036b6a73ffffffff00";
static const char KJS_CREATETOPICS_V3[] =
    "001300030000000200036b6a73" /* header v1, client id "kjs" */
    "00000001 0002746a"          /* topics: "tj" */
    "ffffffff ffff"              /* num_partitions -1, replication_factor -1 */
    "00000000"                   /* assignments [] */
    "00000001 000e636c65616e75702e706f6c696379 0007636f6d70616374" /* config */
    "00001388 00"; /* timeout 5000, validate_only false */
static const char KJS_INITPRODUCERID_V1[] = "001600010000000200036b6a73 ffff 0000ea60";
static const char KJS_PRODUCE_V7[] =
    "000000070000000400036b6a73"
    "ffff ffff 00007530"                  /* transactional_id null, acks -1, timeout 30000 */
    "00000001 0002746a 00000001 00000000" /* topic "tj", partition 0 */
    "00000046"                            /* records: 70 bytes */
    "0000000000000000 0000003a 00000000 02 6b160d5b 0000 00000000"
    "000001a212956c5c 000001a212956c5c"
    "0000000000001092 0000 00000000" /* producer id 4242, epoch 0, base sequence 0 */
    "00000001 10 00 00 00 02 6b 02 76 00";
static const char KJS_DELETETOPICS_V1[] = "001400010000000400036b6a73 00000001 0002746a 00001388";

/* Decodes header + body; checks full consumption, identical re-encoding, truncation. */
static void *decode_request(arena_t *a, const char *hex, kp_RequestHeader_t *hdr) {
    vec_t v = vec_hex(hex);
    for (size_t n = 0; n < v.len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        if (n > 0) {
            memcpy(copy, v.data, n);
        }
        kp_rd_t rd;
        kp_rd_init(&rd, copy, n, a);
        kp_RequestHeader_t h;
        void *m;
        int rc = kp_decode_request_header(&rd, &h, NULL);
        if (rc == 0) {
            rc = kp_decode_request_body(&rd, h.request_api_key, h.request_api_version, &m);
        }
        assert_int_not_equal(rc, 0);
        free(copy);
    }
    /* the decoded message points into the input: keep it alive in the arena */
    uint8_t *data = arena_alloc(a, v.len);
    memcpy(data, v.data, v.len);
    kp_rd_t rd;
    kp_rd_init(&rd, data, v.len, a);
    void *m = NULL;
    assert_int_equal(kp_decode_request_header(&rd, hdr, NULL), 0);
    assert_int_equal(
        kp_decode_request_body(&rd, hdr->request_api_key, hdr->request_api_version, &m), 0);
    assert_int_equal(kp_rd_remaining(&rd), 0);
    kp_wr_t wr;
    kp_wr_init(&wr);
    kp_encode_request_header(&wr, hdr);
    assert_int_equal(kp_encode_request_body(&wr, hdr->request_api_key, hdr->request_api_version, m),
                     0);
    assert_wr_hex(&wr, hex);
    kp_wr_destroy(&wr);
    free(v.data);
    return m;
}

static void test_kcat_requests(void **state) {
    (void)state;
    arena_t *a = arena_new(0);
    kp_RequestHeader_t h;
    kp_ApiVersionsRequest_t *av = decode_request(a, KCAT_APIVERSIONS_V3, &h);
    assert_int_equal(h.request_api_version, 3);
    assert_string_equal(h.client_id, "rdkafka");
    assert_string_equal(av->client_software_name, "librdkafka");
    kp_MetadataRequest_t *md = decode_request(a, KCAT_METADATA_V4, &h);
    assert_int_equal(h.correlation_id, 2);
    assert_int_equal(md->n_topics, 0);
    assert_false(md->allow_auto_topic_creation);
    md = decode_request(a, KCAT_METADATA_V4_TOPIC, &h);
    assert_string_equal(md->topics[0].name, "tk");
    kp_ProduceRequest_t *pr = decode_request(a, KCAT_PRODUCE_V7, &h);
    assert_int_equal(pr->acks, -1);
    const kp_records_t *r = &pr->topic_data[0].partition_data[0].records;
    assert_int_equal(r->len, 78);
    assert_int_equal(crc32c(0, r->data + 21, 78 - 21), 0x3c41ec25);
    kp_ListOffsetsRequest_t *lo = decode_request(a, KCAT_LISTOFFSETS_V2, &h);
    assert_true(lo->topics[0].partitions[0].timestamp == -2);
    kp_FetchRequest_t *fr = decode_request(a, KCAT_FETCH_V11, &h);
    assert_int_equal(fr->isolation_level, 1); /* read_committed (README problem 5) */
    assert_int_equal(fr->session_id, 0);
    assert_int_equal(fr->session_epoch, -1);
    assert_int_equal(fr->topics[0].partitions[0].current_leader_epoch, -1);
    assert_string_equal(fr->rack_id, "");
    arena_free(a);
}

static void test_kafkajs_admin_requests(void **state) {
    (void)state;
    arena_t *a = arena_new(0);
    kp_RequestHeader_t h;
    kp_ApiVersionsRequest_t *av = decode_request(a, KJS_APIVERSIONS_V2, &h);
    assert_int_equal(h.request_api_version, 2);
    assert_string_equal(h.client_id, "kjs");
    assert_string_equal(av->client_software_name, ""); /* v3+ field, absent */
    kp_MetadataRequest_t *md = decode_request(a, KJS_METADATA_V6, &h);
    assert_int_equal(md->n_topics, -1); /* all topics */
    kp_CreateTopicsRequest_t *ct = decode_request(a, KJS_CREATETOPICS_V3, &h);
    assert_int_equal(ct->n_topics, 1);
    assert_string_equal(ct->topics[0].name, "tj");
    assert_int_equal(ct->topics[0].num_partitions, -1); /* README problem 7 */
    assert_int_equal(ct->topics[0].replication_factor, -1);
    assert_string_equal(ct->topics[0].configs[0].value, "compact");
    assert_int_equal(ct->timeout_ms, 5000);
    kp_DeleteTopicsRequest_t *dt = decode_request(a, KJS_DELETETOPICS_V1, &h);
    assert_int_equal(dt->n_topic_names, 1);
    assert_string_equal(dt->topic_names[0], "tj");
    arena_free(a);
}

static void test_kafkajs_idempotent_produce(void **state) {
    (void)state;
    arena_t *a = arena_new(0);
    kp_RequestHeader_t h;
    kp_InitProducerIdRequest_t *ip = decode_request(a, KJS_INITPRODUCERID_V1, &h);
    assert_null(ip->transactional_id);
    assert_int_equal(ip->transaction_timeout_ms, 60000);
    kp_ProduceRequest_t *pr = decode_request(a, KJS_PRODUCE_V7, &h);
    assert_int_equal(pr->acks, -1);
    const kp_records_t *r = &pr->topic_data[0].partition_data[0].records;
    assert_int_equal(r->len, 70);
    assert_int_equal(r->data[16], 2);                     /* magic */
    assert_true((int64_t)be64_get(r->data + 43) == 4242); /* producer id */
    assert_int_equal(crc32c(0, r->data + 21, 70 - 21), 0x6b160d5b);
    arena_free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kcat_requests),
        cmocka_unit_test(test_kafkajs_admin_requests),
        cmocka_unit_test(test_kafkajs_idempotent_produce),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
