/*
 * test_proto_produce: byte-exact vectors for the data path: Produce v3/v7 (carrying the
 * README's 78-byte kcat batch), Fetch v4/v10/v11 (records as an in-memory value and as
 * a file range for sendfile) and ListOffsets v1-v3. Written by hand from the schemas.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "strata/proto.h"

#include "proto_test_util.h"

/* kcat -P -k kk -H hk=hv, value "hi": README "Record batch v2" worked example. */
#define KCAT_BATCH                                                                                 \
    "0000000000000000"                           /* base_offset */                                 \
    "00000042"                                   /* batch_length 66 */                             \
    "00000000"                                   /* partition_leader_epoch */                      \
    "02"                                         /* magic */                                       \
    "33d1140f"                                   /* crc */                                         \
    "0000"                                       /* attributes */                                  \
    "00000000"                                   /* last_offset_delta */                           \
    "000001a20eac3660"                           /* base_timestamp */                              \
    "000001a20eac3660"                           /* max_timestamp */                               \
    "ffffffffffffffff"                           /* producer_id */                                 \
    "ffff"                                       /* producer_epoch */                              \
    "ffffffff"                                   /* base_sequence */                               \
    "00000001"                                   /* records_count */                               \
    "20 00 00 00 046b6b 046869 02 04686b 046876" /* the record */

static const char PRODUCE_REQ_V7[] = "ffff"         /* transactional_id null (v3+) */
                                     "ffff"         /* acks -1 */
                                     "00007530"     /* timeout_ms 30000 */
                                     "00000001"     /* topic_data: 1 */
                                     "  0001 74"    /* name "t" */
                                     "  00000001"   /* partition_data: 1 */
                                     "    00000000" /* index 0 */
                                     "    0000004e" /* records: 78 bytes */
                                     "    " KCAT_BATCH;

static void test_kcat_batch_crc_matches(void **state) {
    (void)state;
    vec_t v = vec_hex(KCAT_BATCH);
    assert_int_equal(v.len, 78);
    assert_int_equal(crc32c(0, v.data + 21, 57), 0x33d1140f);
    free(v.data);
}

static void test_ProduceRequest_v7_kcat_batch(void **state) {
    (void)state;
    arena_t *a = arena_new(0);
    vec_t v = vec_hex(PRODUCE_REQ_V7);
    kp_ProduceRequest_t *m = decode_ok(a, true, KP_API_Produce, 7, &v);
    assert_null(m->transactional_id);
    assert_int_equal(m->acks, -1);
    assert_int_equal(m->timeout_ms, 30000);
    assert_int_equal(m->n_topic_data, 1);
    assert_string_equal(m->topic_data[0].name, "t");
    assert_int_equal(m->topic_data[0].n_partition_data, 1);
    const kp_records_t *r = &m->topic_data[0].partition_data[0].records;
    assert_int_equal(m->topic_data[0].partition_data[0].index, 0);
    assert_int_equal(r->len, 78);
    assert_int_equal(r->fd, -1);
    assert_ptr_equal(r->data, v.data + v.len - 78); /* zero copy */
    assert_int_equal(r->data[16], 2);               /* magic */
    free(v.data);
    arena_free(a);
    check_body(true, KP_API_Produce, 7, PRODUCE_REQ_V7);
    check_body(true, KP_API_Produce, 3, PRODUCE_REQ_V7); /* same shape from v3 on */
}

static void test_ProduceRequest_encode_v7(void **state) {
    (void)state;
    vec_t batch = vec_hex(KCAT_BATCH);
    kp_ProduceRequest_t m;
    kp_ProduceRequest_TopicProduceData_t t;
    kp_ProduceRequest_PartitionProduceData_t p;
    kp_init_ProduceRequest(&m);
    kp_init_ProduceRequest_TopicProduceData(&t);
    kp_init_ProduceRequest_PartitionProduceData(&p);
    m.acks = -1;
    m.timeout_ms = 30000;
    t.name = "t";
    p.index = 0;
    p.records = kp_records_mem(batch.data, (int64_t)batch.len);
    t.n_partition_data = 1;
    t.partition_data = &p;
    m.n_topic_data = 1;
    m.topic_data = &t;
    check_encode(true, KP_API_Produce, 7, &m, PRODUCE_REQ_V7);
    /* v2 has no transactional id */
    check_encode(true, KP_API_Produce, 2, &m,
                 "ffff 00007530 00000001 0001 74 00000001 00000000 0000004e " KCAT_BATCH);
    free(batch.data);
}

static void test_ProduceRequest_null_records(void **state) {
    (void)state;
    check_body(true, KP_API_Produce, 7,
               "0003 747831 0001 000003e8 00000001 0001 74 00000001 00000002 ffffffff");
}

static const char PRODUCE_RESP_V7[] = "00000001"             /* responses: 1 */
                                      "  0001 74"            /* name */
                                      "  00000001"           /* partition_responses */
                                      "    00000000"         /* index */
                                      "    0000"             /* error_code */
                                      "    0000000000000005" /* base_offset */
                                      "    ffffffffffffffff" /* log_append_time_ms -1 */
                                      "    0000000000000000" /* log_start_offset (v5+) */
                                      "00000000";            /* throttle_time_ms */

static void test_ProduceResponse_v7(void **state) {
    (void)state;
    kp_ProduceResponse_t m;
    kp_ProduceResponse_TopicProduceResponse_t t;
    kp_ProduceResponse_PartitionProduceResponse_t p;
    kp_init_ProduceResponse(&m);
    kp_init_ProduceResponse_TopicProduceResponse(&t);
    kp_init_ProduceResponse_PartitionProduceResponse(&p);
    assert_true(p.log_append_time_ms == -1);
    assert_true(p.log_start_offset == -1);
    p.base_offset = 5;
    p.log_start_offset = 0;
    t.name = "t";
    t.n_partition_responses = 1;
    t.partition_responses = &p;
    m.n_responses = 1;
    m.responses = &t;
    check_encode(false, KP_API_Produce, 7, &m, PRODUCE_RESP_V7);
    check_body(false, KP_API_Produce, 7, PRODUCE_RESP_V7);
    /* v3: no log_start_offset */
    check_encode(false, KP_API_Produce, 3, &m,
                 "00000001 0001 74 00000001 00000000 0000 0000000000000005 ffffffffffffffff "
                 "00000000");
}

/* ---------------------------------------------------------------- Fetch */

static const char FETCH_REQ_V11[] = "ffffffff"             /* replica_id -1 */
                                    "000001f4"             /* max_wait_ms 500 */
                                    "00000001"             /* min_bytes 1 */
                                    "03200000"             /* max_bytes 52428800 (v3+) */
                                    "01"                   /* isolation_level read_committed */
                                    "00000000"             /* session_id (v7+) */
                                    "ffffffff"             /* session_epoch -1 */
                                    "00000001"             /* topics: 1 */
                                    "  0001 74"            /* topic "t" (v0-12) */
                                    "  00000001"           /* partitions: 1 */
                                    "    00000000"         /* partition */
                                    "    ffffffff"         /* current_leader_epoch -1 (v9+) */
                                    "    0000000000000000" /* fetch_offset */
                                    "    ffffffffffffffff" /* log_start_offset -1 (v5+) */
                                    "    00100000"         /* partition_max_bytes 1 MiB */
                                    "00000000"             /* forgotten_topics_data (v7+) */
                                    "0000";                /* rack_id "" (v11+) */

static void test_FetchRequest_v11(void **state) {
    (void)state;
    arena_t *a = arena_new(0);
    vec_t v = vec_hex(FETCH_REQ_V11);
    kp_FetchRequest_t *m = decode_ok(a, true, KP_API_Fetch, 11, &v);
    assert_int_equal(m->replica_id, -1);
    assert_int_equal(m->max_wait_ms, 500);
    assert_int_equal(m->min_bytes, 1);
    assert_int_equal(m->max_bytes, 52428800);
    assert_int_equal(m->isolation_level, 1);
    assert_int_equal(m->session_epoch, -1);
    assert_null(m->cluster_id); /* tagged, absent: default null */
    assert_int_equal(m->topics[0].partitions[0].current_leader_epoch, -1);
    assert_int_equal(m->topics[0].partitions[0].partition_max_bytes, 1048576);
    assert_int_equal(m->topics[0].partitions[0].last_fetched_epoch, -1); /* v12+ default */
    assert_string_equal(m->rack_id, "");
    free(v.data);
    arena_free(a);
    check_body(true, KP_API_Fetch, 11, FETCH_REQ_V11);
}

static void test_FetchRequest_v4_v10(void **state) {
    (void)state;
    /* v4: replica, wait, min, max_bytes, isolation, topics(topic, partitions(p, off, max)) */
    check_body(true, KP_API_Fetch, 4,
               "ffffffff 000001f4 00000001 03200000 00 00000001 0001 74 00000001 "
               "00000000 0000000000000003 00100000");
    /* v10: + session id/epoch, current_leader_epoch, log_start_offset, forgotten topics */
    check_body(true, KP_API_Fetch, 10,
               "ffffffff 000001f4 00000001 03200000 01 00000000 ffffffff 00000001 0001 74 "
               "00000001 00000000 ffffffff 0000000000000000 ffffffffffffffff 00100000 "
               "00000001 0001 75 00000002 00000000 00000001");
    arena_t *a = arena_new(0);
    vec_t v = vec_hex("ffffffff 000001f4 00000001 03200000 00 00000000");
    kp_FetchRequest_t *m = decode_ok(a, true, KP_API_Fetch, 4, &v);
    assert_int_equal(m->session_epoch, -1); /* absent in v4: default */
    assert_string_equal(m->rack_id, "");
    free(v.data);
    v = vec_hex("ffffffff 000001f4 00000001 00000000");
    m = decode_ok(a, true, KP_API_Fetch, 2, &v);
    assert_int_equal(m->max_bytes, 0x7fffffff); /* default when absent (v0-2) */
    free(v.data);
    arena_free(a);
}

#define FETCH_RESP_V11_HEAD                                                                        \
    "00000000"             /* throttle_time_ms */                                                  \
    "0000"                 /* error_code (v7+) */                                                  \
    "00000000"             /* session_id */                                                        \
    "00000001"             /* responses: 1 */                                                      \
    "  0001 74"            /* topic */                                                             \
    "  00000001"           /* partitions: 1 */                                                     \
    "    00000000"         /* partition_index */                                                   \
    "    0000"             /* error_code */                                                        \
    "    0000000000000001" /* high_watermark */                                                    \
    "    0000000000000001" /* last_stable_offset */                                                \
    "    0000000000000000" /* log_start_offset */                                                  \
    "    ffffffff"         /* aborted_transactions null */                                         \
    "    ffffffff"         /* preferred_read_replica -1 */                                         \
    "    0000004e"         /* records: 78 bytes */

static void build_fetch_response(kp_FetchResponse_t *m,
                                 kp_FetchResponse_FetchableTopicResponse_t *t,
                                 kp_FetchResponse_PartitionData_t *p, kp_records_t records) {
    kp_init_FetchResponse(m);
    kp_init_FetchResponse_FetchableTopicResponse(t);
    kp_init_FetchResponse_PartitionData(p);
    assert_int_equal(p->preferred_read_replica, -1);
    p->high_watermark = 1;
    p->last_stable_offset = 1;
    p->log_start_offset = 0;
    p->n_aborted_transactions = -1;
    p->records = records;
    t->topic = "t";
    t->n_partitions = 1;
    t->partitions = p;
    m->n_responses = 1;
    m->responses = t;
}

static void test_FetchResponse_v11_records_in_memory(void **state) {
    (void)state;
    vec_t batch = vec_hex(KCAT_BATCH);
    kp_FetchResponse_t m;
    kp_FetchResponse_FetchableTopicResponse_t t;
    kp_FetchResponse_PartitionData_t p;
    build_fetch_response(&m, &t, &p, kp_records_mem(batch.data, 78));
    check_encode(false, KP_API_Fetch, 11, &m, FETCH_RESP_V11_HEAD KCAT_BATCH);
    check_body(false, KP_API_Fetch, 11, FETCH_RESP_V11_HEAD KCAT_BATCH);

    arena_t *a = arena_new(0);
    vec_t v = vec_hex(FETCH_RESP_V11_HEAD KCAT_BATCH);
    kp_FetchResponse_t *d = decode_ok(a, false, KP_API_Fetch, 11, &v);
    assert_int_equal(d->responses[0].partitions[0].n_aborted_transactions, -1);
    assert_int_equal(d->responses[0].partitions[0].records.len, 78);
    assert_memory_equal(d->responses[0].partitions[0].records.data, batch.data, 78);
    free(v.data);
    arena_free(a);
    free(batch.data);
}

static void test_FetchResponse_v11_records_as_file_chunk(void **state) {
    (void)state;
    kp_FetchResponse_t m;
    kp_FetchResponse_FetchableTopicResponse_t t;
    kp_FetchResponse_PartitionData_t p;
    build_fetch_response(&m, &t, &p, kp_records_file(7, 4096, 78));
    kp_wr_t wr;
    kp_wr_init(&wr);
    size_t size_off = kp_wr_reserve_i32(&wr);
    kp_encode_response_header(&wr, KP_API_Fetch, 11, 42);
    kp_encode_FetchResponse(&wr, 11, &m);
    kp_wr_patch_i32(&wr, size_off, (int32_t)kp_wr_len_since(&wr, size_off + 4));
    /* the buffer ends right after the records length; the batch is a file chunk */
    vec_t head = vec_hex(FETCH_RESP_V11_HEAD);
    assert_int_equal(wr.buf.len, 4 + 4 + head.len);
    assert_memory_equal(wr.buf.data + 8, head.data, head.len);
    assert_int_equal(be32_get(wr.buf.data), 4 + head.len + 78);
    assert_int_equal(be32_get(wr.buf.data + 4), 42);
    assert_int_equal(kp_wr_n_chunks(&wr), 1);
    const kp_wr_chunk_t *c = kp_wr_chunk(&wr, 0);
    assert_int_equal(c->buf_offset, wr.buf.len);
    assert_int_equal(c->fd, 7);
    assert_int_equal(c->pos, 4096);
    assert_int_equal(c->len, 78);
    assert_int_equal(kp_wr_total_len(&wr), (int64_t)wr.buf.len + 78);
    kp_wr_destroy(&wr);
    free(head.data);
}

static void test_FetchResponse_v11_two_partitions_chunks_in_order(void **state) {
    (void)state;
    kp_FetchResponse_t m;
    kp_FetchResponse_FetchableTopicResponse_t t;
    kp_FetchResponse_PartitionData_t p[2];
    build_fetch_response(&m, &t, &p[0], kp_records_file(3, 0, 100));
    kp_init_FetchResponse_PartitionData(&p[1]);
    p[1].partition_index = 1;
    p[1].records = kp_records_file(4, 50, 200);
    t.n_partitions = 2;
    t.partitions = p;
    kp_wr_t wr;
    kp_wr_init(&wr);
    kp_encode_FetchResponse(&wr, 11, &m);
    assert_int_equal(kp_wr_n_chunks(&wr), 2);
    const kp_wr_chunk_t *c0 = kp_wr_chunk(&wr, 0);
    const kp_wr_chunk_t *c1 = kp_wr_chunk(&wr, 1);
    /* second partition: index(4) err(2) hw(8) lso(8) lso(8) aborted(4) prr(4) len(4) */
    assert_int_equal(c1->buf_offset - c0->buf_offset, 42);
    assert_int_equal(c1->buf_offset, wr.buf.len);
    assert_int_equal(kp_wr_total_len(&wr), (int64_t)wr.buf.len + 300);
    /* the length prefix before the second chunk says 200 */
    assert_int_equal(be32_get(wr.buf.data + c1->buf_offset - 4), 200);
    kp_wr_destroy(&wr);
}

static void test_FetchResponse_v4_aborted_transactions(void **state) {
    (void)state;
    /* v4: throttle, responses(topic, partitions(idx, err, hw, lso, aborted[], records)) */
    check_body(false, KP_API_Fetch, 4,
               "00000000 00000001 0001 74 00000001 00000000 0001 ffffffffffffffff "
               "ffffffffffffffff 00000001 0000000000000007 0000000000000003 00000000");
}

/* ---------------------------------------------------------------- ListOffsets */

static const char LISTOFFSETS_REQ_V2[] = "ffffffff"              /* replica_id -1 */
                                         "01"                    /* isolation_level (v2+) */
                                         "00000001"              /* topics: 1 */
                                         "  0001 74"             /* name */
                                         "  00000001"            /* partitions: 1 */
                                         "    00000000"          /* partition_index */
                                         "    fffffffffffffffe"; /* timestamp -2 (earliest) */

static void test_ListOffsetsRequest_v1_v2_v3(void **state) {
    (void)state;
    arena_t *a = arena_new(0);
    vec_t v = vec_hex(LISTOFFSETS_REQ_V2);
    kp_ListOffsetsRequest_t *m = decode_ok(a, true, KP_API_ListOffsets, 2, &v);
    assert_int_equal(m->replica_id, -1);
    assert_int_equal(m->isolation_level, 1);
    assert_true(m->topics[0].partitions[0].timestamp == -2);
    assert_int_equal(m->topics[0].partitions[0].current_leader_epoch, -1);
    assert_int_equal(m->topics[0].partitions[0].max_num_offsets, 1); /* v0-only default */
    free(v.data);
    arena_free(a);
    check_body(true, KP_API_ListOffsets, 2, LISTOFFSETS_REQ_V2);
    check_body(true, KP_API_ListOffsets, 3, LISTOFFSETS_REQ_V2);
    check_body(true, KP_API_ListOffsets, 1,
               "ffffffff 00000001 0001 74 00000001 00000000 ffffffffffffffff");
    check_body(true, KP_API_ListOffsets, 0,
               "ffffffff 00000001 0001 74 00000001 00000000 ffffffffffffffff 00000001");
}

static void test_ListOffsetsResponse_v1_v2_v3(void **state) {
    (void)state;
    kp_ListOffsetsResponse_t m;
    kp_ListOffsetsResponse_ListOffsetsTopicResponse_t t;
    kp_ListOffsetsResponse_ListOffsetsPartitionResponse_t p;
    kp_init_ListOffsetsResponse(&m);
    kp_init_ListOffsetsResponse_ListOffsetsTopicResponse(&t);
    kp_init_ListOffsetsResponse_ListOffsetsPartitionResponse(&p);
    assert_true(p.timestamp == -1 && p.offset == -1 && p.leader_epoch == -1);
    p.offset = 42;
    t.name = "t";
    t.n_partitions = 1;
    t.partitions = &p;
    m.n_topics = 1;
    m.topics = &t;
    const char *v2 = "00000000" /* throttle_time_ms (v2+) */
                     "00000001 0001 74 00000001"
                     "00000000"          /* partition_index */
                     "0000"              /* error_code */
                     "ffffffffffffffff"  /* timestamp -1 */
                     "000000000000002a"; /* offset 42 */
    check_encode(false, KP_API_ListOffsets, 2, &m, v2);
    check_encode(false, KP_API_ListOffsets, 3, &m, v2);
    check_body(false, KP_API_ListOffsets, 2, v2);
    check_body(false, KP_API_ListOffsets, 3, v2);
    check_encode(false, KP_API_ListOffsets, 1, &m,
                 "00000001 0001 74 00000001 00000000 0000 ffffffffffffffff 000000000000002a");
    check_body(false, KP_API_ListOffsets, 0,
               "00000001 0001 74 00000001 00000000 0000 00000001 000000000000002a");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kcat_batch_crc_matches),
        cmocka_unit_test(test_ProduceRequest_v7_kcat_batch),
        cmocka_unit_test(test_ProduceRequest_encode_v7),
        cmocka_unit_test(test_ProduceRequest_null_records),
        cmocka_unit_test(test_ProduceResponse_v7),
        cmocka_unit_test(test_FetchRequest_v11),
        cmocka_unit_test(test_FetchRequest_v4_v10),
        cmocka_unit_test(test_FetchResponse_v11_records_in_memory),
        cmocka_unit_test(test_FetchResponse_v11_records_as_file_chunk),
        cmocka_unit_test(test_FetchResponse_v11_two_partitions_chunks_in_order),
        cmocka_unit_test(test_FetchResponse_v4_aborted_transactions),
        cmocka_unit_test(test_ListOffsetsRequest_v1_v2_v3),
        cmocka_unit_test(test_ListOffsetsResponse_v1_v2_v3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
