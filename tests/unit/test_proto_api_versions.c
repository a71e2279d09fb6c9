/*
 * test_proto_api_versions: byte-exact vectors for request/response headers, ApiVersions
 * v0-v3 (the v3 request captured from kcat 1.7.1 / librdkafka 2.0.2) and Metadata v0-v6 and v12,
 * plus the API tables (schema facts, header versions, advertised ranges, error names).
 * Vectors were written by hand from the schema field order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "strata/proto.h"

#include "proto_test_util.h"

/* The first request kcat -L sends (frame without its size prefix), captured. */
static const char KCAT_APIVERSIONS_V3[] = "0012"                        /* api key 18 */
                                          "0003"                        /* version 3 */
                                          "00000001"                    /* correlation id */
                                          "0007 7264 6b61 666b 61"      /* client id "rdkafka" */
                                          "00"                          /* header tags (v2) */
                                          "0b 6c69 6272 646b 6166 6b61" /* "librdkafka" */
                                          "06 322e 302e 32"             /* "2.0.2" */
                                          "00";                         /* body tags */

static void test_request_header_v2_kcat_apiversions(void **state) {
    (void)state;
    vec_t v = vec_hex(KCAT_APIVERSIONS_V3);
    arena_t *a = arena_new(0);
    kp_rd_t rd;
    kp_rd_init(&rd, v.data, v.len, a);
    kp_RequestHeader_t h;
    int16_t hv = -1;
    assert_int_equal(kp_decode_request_header(&rd, &h, &hv), 0);
    assert_int_equal(hv, 2);
    assert_int_equal(h.request_api_key, KP_API_ApiVersions);
    assert_int_equal(h.request_api_version, 3);
    assert_int_equal(h.correlation_id, 1);
    assert_string_equal(h.client_id, "rdkafka");
    kp_ApiVersionsRequest_t body;
    assert_int_equal(kp_decode_ApiVersionsRequest(&rd, 3, &body), 0);
    assert_string_equal(body.client_software_name, "librdkafka");
    assert_string_equal(body.client_software_version, "2.0.2");
    assert_int_equal(kp_rd_remaining(&rd), 0);

    /* and back */
    kp_wr_t wr;
    kp_wr_init(&wr);
    kp_encode_request_header(&wr, &h);
    kp_encode_ApiVersionsRequest(&wr, 3, &body);
    assert_wr_hex(&wr, KCAT_APIVERSIONS_V3);
    kp_wr_destroy(&wr);

    /* every truncation of the whole request fails */
    for (size_t n = 0; n < v.len; n++) {
        kp_rd_init(&rd, v.data, n, a);
        int rc = kp_decode_request_header(&rd, &h, &hv);
        if (rc == 0) {
            rc = kp_decode_ApiVersionsRequest(&rd, 3, &body);
        }
        assert_int_not_equal(rc, 0);
    }
    arena_free(a);
    free(v.data);
}

static void test_request_header_v1_null_client_id(void **state) {
    (void)state;
    /* Metadata v4, correlation 9, client id null; then an empty topic list, no auto create */
    vec_t v = vec_hex("0003 0004 00000009 ffff  00000000 00");
    arena_t *a = arena_new(0);
    kp_rd_t rd;
    kp_rd_init(&rd, v.data, v.len, a);
    kp_RequestHeader_t h;
    int16_t hv;
    assert_int_equal(kp_decode_request_header(&rd, &h, &hv), 0);
    assert_int_equal(hv, 1);
    assert_null(h.client_id);
    kp_wr_t wr;
    kp_wr_init(&wr);
    kp_encode_request_header(&wr, &h);
    assert_wr_hex(&wr, "0003 0004 00000009 ffff");
    kp_wr_destroy(&wr);
    arena_free(a);
    free(v.data);
}

static void test_request_header_unknown_key_read_as_v1(void **state) {
    (void)state;
    vec_t v = vec_hex("03e7 0005 0000002a 0001 78");
    arena_t *a = arena_new(0);
    kp_rd_t rd;
    kp_rd_init(&rd, v.data, v.len, a);
    kp_RequestHeader_t h;
    int16_t hv;
    assert_int_equal(kp_decode_request_header(&rd, &h, &hv), 0);
    assert_int_equal(hv, 1);
    assert_int_equal(h.request_api_key, 999);
    assert_int_equal(h.correlation_id, 42);
    assert_string_equal(h.client_id, "x");
    arena_free(a);
    free(v.data);
}

static void test_response_header_versions(void **state) {
    (void)state;
    kp_wr_t wr;
    kp_wr_init(&wr);
    kp_encode_response_header(&wr, KP_API_ApiVersions, 3, 7); /* always v0 */
    assert_wr_hex(&wr, "00000007");
    kp_wr_reset(&wr);
    kp_encode_response_header(&wr, KP_API_Metadata, 9, 7); /* flexible: v1 */
    assert_wr_hex(&wr, "00000007 00");
    kp_wr_reset(&wr);
    kp_encode_response_header(&wr, KP_API_Metadata, 6, 7);
    assert_wr_hex(&wr, "00000007");
    kp_wr_destroy(&wr);

    vec_t v = vec_hex("00000007 00");
    kp_rd_t rd;
    arena_t *a = arena_new(0);
    int32_t corr = 0;
    kp_rd_init(&rd, v.data, v.len, a);
    assert_int_equal(kp_decode_response_header(&rd, KP_API_OffsetFetch, 6, &corr), 0);
    assert_int_equal(corr, 7);
    assert_int_equal(kp_rd_remaining(&rd), 0);
    kp_rd_init(&rd, v.data, 4, a);
    assert_int_not_equal(kp_decode_response_header(&rd, KP_API_OffsetFetch, 6, &corr), 0);
    arena_free(a);
    free(v.data);
}

static void test_header_version_table(void **state) {
    (void)state;
    assert_int_equal(kp_request_header_version(KP_API_ApiVersions, 3), 2);
    assert_int_equal(kp_request_header_version(KP_API_ApiVersions, 2), 1);
    assert_int_equal(kp_request_header_version(KP_API_Produce, 7), 1);
    assert_int_equal(kp_request_header_version(KP_API_Produce, 9), 2);
    assert_int_equal(kp_request_header_version(KP_API_Fetch, 11), 1);
    assert_int_equal(kp_request_header_version(KP_API_Fetch, 12), 2);
    assert_int_equal(kp_request_header_version(KP_API_OffsetFetch, 6), 2);
    assert_int_equal(kp_request_header_version(KP_API_SaslHandshake, 1), 1);
    assert_int_equal(kp_request_header_version(7, 0), 0); /* ControlledShutdown v0 */
    assert_int_equal(kp_request_header_version(999, 0), 1);
    assert_int_equal(kp_response_header_version(KP_API_ApiVersions, 3), 0);
    assert_int_equal(kp_response_header_version(KP_API_InitProducerId, 2), 1);
    assert_int_equal(kp_response_header_version(KP_API_InitProducerId, 1), 0);
    assert_int_equal(kp_response_header_version(KP_API_Metadata, 9), 1);
}

static void test_api_info_from_schemas(void **state) {
    (void)state;
    const kp_api_info_t *p = kp_api_info(KP_API_Produce);
    assert_non_null(p);
    assert_string_equal(p->name, "Produce");
    assert_int_equal(p->min_version, 0);
    assert_int_equal(p->max_version, 11);
    assert_int_equal(p->first_flexible, 9);
    const kp_api_info_t *s = kp_api_info(KP_API_SaslHandshake);
    assert_int_equal(s->first_flexible, -1);
    assert_null(kp_api_info(999));
    assert_int_equal(KP_API_COUNT, 24);
    int16_t prev = -1;
    for (size_t i = 0; i < KP_API_COUNT; i++) {
        const kp_api_info_t *e = kp_api_info_at(i);
        assert_true(e->api_key > prev);
        prev = e->api_key;
    }
    assert_null(kp_api_info_at(KP_API_COUNT));
}

static void test_supported_ranges(void **state) {
    (void)state;
    size_t n;
    const kp_supported_api_t *t = kp_supported_apis(&n);
    assert_true(n > 9);
    for (size_t i = 0; i < n; i++) {
        const kp_api_info_t *info = kp_api_info(t[i].api_key);
        assert_non_null(info); /* we implement only what a schema defines */
        assert_true(t[i].min_version >= info->min_version);
        assert_true(t[i].max_version <= info->max_version);
        assert_true(t[i].min_version <= t[i].max_version);
        if (i > 0) {
            assert_true(t[i].api_key > t[i - 1].api_key);
        }
        /* explicit allow-list of APIs advertised up to a flexible version */
        if (t[i].api_key != KP_API_ApiVersions && t[i].api_key != KP_API_Metadata &&
            info->first_flexible >= 0) {
            assert_true(t[i].max_version < info->first_flexible);
        }
    }
    /* librdkafka 2.0.2 feature requirements (README problem 1) */
    assert_true(kp_supported_min(KP_API_Produce) <= 3 && kp_supported_max(KP_API_Produce) >= 7);
    assert_true(kp_supported_min(KP_API_Fetch) <= 4 && kp_supported_max(KP_API_Fetch) >= 11);
    assert_int_equal(kp_supported_min(KP_API_FindCoordinator), 0);
    assert_int_equal(kp_supported_min(KP_API_InitProducerId), 0);
    assert_int_equal(kp_supported_min(KP_API_JoinGroup), 0);
    assert_true(kp_supported_min(KP_API_OffsetFetch) <= 1);
    assert_true(kp_supported_min(KP_API_OffsetCommit) <= 2);
    assert_int_equal(kp_supported_max(KP_API_ApiVersions), 3);
    assert_int_equal(kp_supported_max(KP_API_Metadata), 12);
    assert_int_equal(kp_supported(KP_API_Produce)->flags, KP_SUPPORT_BASE);
    assert_int_equal(kp_supported(KP_API_JoinGroup)->flags, KP_SUPPORT_GROUP);
    assert_null(kp_supported(KP_API_SaslHandshake));
    assert_int_equal(kp_supported_min(999), -1);
    assert_int_equal(kp_supported_max(999), -1);
}

static void test_err_names(void **state) {
    (void)state;
    assert_string_equal(kp_err_name(KP_ERR_NOT_LEADER_OR_FOLLOWER), "NOT_LEADER_OR_FOLLOWER");
    assert_string_equal(kp_err_name(6), "NOT_LEADER_OR_FOLLOWER");
    assert_string_equal(kp_err_name(-1), "UNKNOWN_SERVER_ERROR");
    assert_string_equal(kp_err_name(0), "NONE");
    assert_string_equal(kp_err_name(35), "UNSUPPORTED_VERSION");
    assert_string_equal(kp_err_name(89), "THROTTLING_QUOTA_EXCEEDED");
    assert_string_equal(kp_err_name(12345), "UNKNOWN_ERROR_CODE");
    assert_true(kp_err_retriable(KP_ERR_NOT_CONTROLLER));
    assert_false(kp_err_retriable(KP_ERR_TOPIC_ALREADY_EXISTS));
}

/* ---------------------------------------------------------------- ApiVersions */

static void test_ApiVersionsRequest_v0_to_v3(void **state) {
    (void)state;
    check_body(true, KP_API_ApiVersions, 0, "");
    check_body(true, KP_API_ApiVersions, 2, "");
    check_body(true, KP_API_ApiVersions, 3, "0b 6c69 6272 646b 6166 6b61  06 322e 302e 32  00");
}

static void fill_api_keys(kp_ApiVersionsResponse_t *m, kp_ApiVersionsResponse_ApiVersion_t *k) {
    kp_init_ApiVersionsResponse_ApiVersion(&k[0]);
    k[0].api_key = 0;
    k[0].min_version = 3;
    k[0].max_version = 7;
    kp_init_ApiVersionsResponse_ApiVersion(&k[1]);
    k[1].api_key = 18;
    k[1].min_version = 0;
    k[1].max_version = 3;
    m->n_api_keys = 2;
    m->api_keys = k;
}

static const char APIVERSIONS_RESP_V0[] = "0000"            /* error_code */
                                          "00000002"        /* api_keys: 2 */
                                          "0000 0003 0007"  /* Produce 3-7 */
                                          "0012 0000 0003"; /* ApiVersions 0-3 */
static const char APIVERSIONS_RESP_V2[] = "0000 00000002 0000 0003 0007 0012 0000 0003"
                                          "00000000";         /* throttle_time_ms */
static const char APIVERSIONS_RESP_V3[] = "0000"              /* error_code */
                                          "03"                /* compact array: 2 */
                                          "0000 0003 0007 00" /* + element tags */
                                          "0012 0000 0003 00"
                                          "00000000" /* throttle_time_ms */
                                          "00";      /* tags */

static void test_ApiVersionsResponse_encode_v0_v2_v3(void **state) {
    (void)state;
    kp_ApiVersionsResponse_t m;
    kp_ApiVersionsResponse_ApiVersion_t k[2];
    kp_init_ApiVersionsResponse(&m);
    fill_api_keys(&m, k);
    assert_int_equal(m.finalized_features_epoch, -1); /* schema default */
    check_encode(false, KP_API_ApiVersions, 0, &m, APIVERSIONS_RESP_V0);
    check_encode(false, KP_API_ApiVersions, 2, &m, APIVERSIONS_RESP_V2);
    check_encode(false, KP_API_ApiVersions, 3, &m, APIVERSIONS_RESP_V3);
    check_body(false, KP_API_ApiVersions, 0, APIVERSIONS_RESP_V0);
    check_body(false, KP_API_ApiVersions, 1, APIVERSIONS_RESP_V2);
    check_body(false, KP_API_ApiVersions, 3, APIVERSIONS_RESP_V3);
}

static void test_ApiVersionsResponse_v0_shaped_unsupported_version(void **state) {
    (void)state;
    /* README: answer a too-new ApiVersions with a v0 body, error 35 */
    kp_ApiVersionsResponse_t m;
    kp_ApiVersionsResponse_ApiVersion_t k[2];
    kp_init_ApiVersionsResponse(&m);
    fill_api_keys(&m, k);
    m.error_code = KP_ERR_UNSUPPORTED_VERSION;
    check_encode(false, KP_API_ApiVersions, 0, &m, "0023 00000002 0000 0003 0007 0012 0000 0003");
}

static const char APIVERSIONS_RESP_V3_TAGGED[] =
    "0000 01 00000000"
    "03"                            /* 3 tagged fields, ascending */
    "01 08 0000000000000005"        /* tag 1 finalized_features_epoch = 5 */
    "02 09 02 03 6d76 0001 0000 00" /* tag 2 finalized_features: [{"mv", max 1, min 0, tags}] */
    "03 01 01";                     /* tag 3 zk_migration_ready = true */

static void test_ApiVersionsResponse_v3_tagged_fields(void **state) {
    (void)state;
    kp_ApiVersionsResponse_t m;
    kp_init_ApiVersionsResponse(&m);
    m.n_api_keys = 0;
    m.finalized_features_epoch = 5;
    m.zk_migration_ready = true;
    kp_ApiVersionsResponse_FinalizedFeatureKey_t f;
    kp_init_ApiVersionsResponse_FinalizedFeatureKey(&f);
    f.name = "mv";
    f.max_version_level = 1;
    f.min_version_level = 0;
    m.n_finalized_features = 1;
    m.finalized_features = &f;
    check_encode(false, KP_API_ApiVersions, 3, &m, APIVERSIONS_RESP_V3_TAGGED);
    check_body(false, KP_API_ApiVersions, 3, APIVERSIONS_RESP_V3_TAGGED);

    arena_t *a = arena_new(0);
    vec_t v = vec_hex(APIVERSIONS_RESP_V3_TAGGED);
    kp_ApiVersionsResponse_t *d = decode_ok(a, false, KP_API_ApiVersions, 3, &v);
    assert_true(d->finalized_features_epoch == 5);
    assert_true(d->zk_migration_ready);
    assert_int_equal(d->n_finalized_features, 1);
    assert_string_equal(d->finalized_features[0].name, "mv");
    assert_int_equal(d->n_supported_features, 0);
    arena_free(a);
    free(v.data);
}

static void test_ApiVersionsResponse_v3_unknown_tag_skipped(void **state) {
    (void)state;
    arena_t *a = arena_new(0);
    vec_t v = vec_hex("0000 01 00000000  02  03 01 01  09 02 aabb");
    kp_ApiVersionsResponse_t *d = decode_ok(a, false, KP_API_ApiVersions, 3, &v);
    assert_true(d->zk_migration_ready);
    assert_true(d->finalized_features_epoch == -1);
    free(v.data);
    /* a known tag whose value overruns its declared size is an error */
    v = vec_hex("0000 01 00000000  01  01 04 0000000000000005");
    kp_rd_t rd;
    void *m;
    kp_rd_init(&rd, v.data, v.len, a);
    assert_int_not_equal(kp_decode_response_body(&rd, KP_API_ApiVersions, 3, &m), 0);
    free(v.data);
    arena_free(a);
}

/* ---------------------------------------------------------------- Metadata */

static void test_MetadataRequest_v4_kcat(void **state) {
    (void)state;
    /* captured body of kcat -L's first Metadata request: no topics, no auto-create */
    arena_t *a = arena_new(0);
    vec_t v = vec_hex("00000000 00");
    kp_MetadataRequest_t *m = decode_ok(a, true, KP_API_Metadata, 4, &v);
    assert_int_equal(m->n_topics, 0);
    assert_false(m->allow_auto_topic_creation);
    free(v.data);
    check_body(true, KP_API_Metadata, 4, "00000000 00");
    check_body(true, KP_API_Metadata, 4, "00000001 0002 7431 01"); /* ["t1"], auto-create */
    arena_free(a);
}

static void test_MetadataRequest_null_topics_means_all(void **state) {
    (void)state;
    arena_t *a = arena_new(0);
    vec_t v = vec_hex("ffffffff 01"); /* kafkajs v6: all topics */
    kp_MetadataRequest_t *m = decode_ok(a, true, KP_API_Metadata, 6, &v);
    assert_int_equal(m->n_topics, -1);
    assert_null(m->topics);
    assert_true(m->allow_auto_topic_creation);
    free(v.data);
    check_body(true, KP_API_Metadata, 6, "ffffffff 01");
    /* v1: no auto-create field; the schema default (true) applies */
    v = vec_hex("ffffffff");
    m = decode_ok(a, true, KP_API_Metadata, 1, &v);
    assert_int_equal(m->n_topics, -1);
    assert_true(m->allow_auto_topic_creation);
    free(v.data);
    /* v0: topics is not nullable */
    v = vec_hex("ffffffff");
    kp_rd_t rd;
    void *out;
    kp_rd_init(&rd, v.data, v.len, a);
    assert_int_equal(kp_decode_request_body(&rd, KP_API_Metadata, 0, &out), STRATA_ECORRUPT);
    free(v.data);
    check_body(true, KP_API_Metadata, 0, "00000002 0001 61 0001 62");
    arena_free(a);
}

static const char METADATA_RESP_V4[] = "00000000"                  /* throttle_time_ms (v3+) */
                                       "00000001"                  /* brokers: 1 */
                                       "  00000001"                /*   node_id 1 */
                                       "  0009 6c6f63616c686f7374" /*   host "localhost" */
                                       "  00002384"                /*   port 9092 */
                                       "  ffff"                    /*   rack null (v1+) */
                                       "0007 636c7573746572"       /* cluster_id "cluster" (v2+) */
                                       "00000001"                  /* controller_id 1 (v1+) */
                                       "00000001"                  /* topics: 1 */
                                       "  0000"                    /*   error_code */
                                       "  0001 74"                 /*   name "t" */
                                       "  00"                      /*   is_internal (v1+) */
                                       "  00000001"                /*   partitions: 1 */
                                       "    0000"                  /*     error_code */
                                       "    00000000"              /*     partition_index 0 */
                                       "    00000001"              /*     leader_id 1 */
                                       "    00000001 00000001"     /*     replica_nodes [1] */
                                       "    00000001 00000001";    /*     isr_nodes [1] */
static const char METADATA_RESP_V6_TAIL[] = "    00000000";        /* offline_replicas [] (v5+) */

static void build_metadata(kp_MetadataResponse_t *m,
                           kp_MetadataResponse_MetadataResponseBroker_t *b,
                           kp_MetadataResponse_MetadataResponseTopic_t *t,
                           kp_MetadataResponse_MetadataResponsePartition_t *p, int32_t *one) {
    kp_init_MetadataResponse(m);
    kp_init_MetadataResponse_MetadataResponseBroker(b);
    b->node_id = 1;
    b->host = "localhost";
    b->port = 9092;
    m->n_brokers = 1;
    m->brokers = b;
    m->cluster_id = "cluster";
    m->controller_id = 1;
    kp_init_MetadataResponse_MetadataResponseTopic(t);
    t->name = "t";
    kp_init_MetadataResponse_MetadataResponsePartition(p);
    p->partition_index = 0;
    p->leader_id = 1;
    p->n_replica_nodes = 1;
    p->replica_nodes = one;
    p->n_isr_nodes = 1;
    p->isr_nodes = one;
    t->n_partitions = 1;
    t->partitions = p;
    m->n_topics = 1;
    m->topics = t;
}

static void test_MetadataResponse_v4_v6(void **state) {
    (void)state;
    kp_MetadataResponse_t m;
    kp_MetadataResponse_MetadataResponseBroker_t b;
    kp_MetadataResponse_MetadataResponseTopic_t t;
    kp_MetadataResponse_MetadataResponsePartition_t p;
    int32_t one = 1;
    build_metadata(&m, &b, &t, &p, &one);
    assert_null(b.rack);                  /* default null */
    assert_int_equal(p.leader_epoch, -1); /* default -1 */
    assert_int_equal(t.topic_authorized_operations, INT32_MIN);
    check_encode(false, KP_API_Metadata, 4, &m, METADATA_RESP_V4);
    char v6[sizeof(METADATA_RESP_V4) + sizeof(METADATA_RESP_V6_TAIL)];
    snprintf(v6, sizeof(v6), "%s%s", METADATA_RESP_V4, METADATA_RESP_V6_TAIL);
    check_encode(false, KP_API_Metadata, 6, &m, v6);
    check_body(false, KP_API_Metadata, 4, METADATA_RESP_V4);
    check_body(false, KP_API_Metadata, 6, v6);

    arena_t *a = arena_new(0);
    vec_t v = vec_hex(v6);
    kp_MetadataResponse_t *d = decode_ok(a, false, KP_API_Metadata, 6, &v);
    assert_int_equal(d->n_brokers, 1);
    assert_string_equal(d->brokers[0].host, "localhost");
    assert_int_equal(d->brokers[0].port, 9092);
    assert_null(d->brokers[0].rack);
    assert_string_equal(d->cluster_id, "cluster");
    assert_int_equal(d->controller_id, 1);
    assert_string_equal(d->topics[0].name, "t");
    assert_int_equal(d->topics[0].partitions[0].n_isr_nodes, 1);
    assert_int_equal(d->topics[0].partitions[0].isr_nodes[0], 1);
    assert_int_equal(d->topics[0].partitions[0].n_offline_replicas, 0);
    free(v.data);
    arena_free(a);
}

/* v12 (flexible, compact lengths + tagged fields): the same topic with its id, leader epoch,
 * offline replicas and topic authorized operations; no cluster authorized operations. */
static const char METADATA_RESP_V12[] = "00000000"                /* throttle_time_ms */
                                        "02"                      /* brokers: compact 1 */
                                        "  00000001"              /*   node_id 1 */
                                        "  0a 6c6f63616c686f7374" /*   host "localhost" */
                                        "  00002384"              /*   port 9092 */
                                        "  00"                    /*   rack null */
                                        "  00"                    /*   tagged fields */
                                        "08 636c7573746572"       /* cluster_id "cluster" */
                                        "00000001"                /* controller_id 1 */
                                        "02"                      /* topics: compact 1 */
                                        "  0000"                  /*   error_code */
                                        "  02 74"                 /*   name "t" */
                                        "  00112233445566778899aabbccddeeff" /*   topic_id (v10+) */
                                        "  00"                               /*   is_internal */
                                        "  02"            /*   partitions: compact 1 */
                                        "    0000"        /*     error_code */
                                        "    00000000"    /*     partition_index 0 */
                                        "    00000001"    /*     leader_id 1 */
                                        "    00000005"    /*     leader_epoch 5 (v7+) */
                                        "    02 00000001" /*     replica_nodes [1] */
                                        "    02 00000001" /*     isr_nodes [1] */
                                        "    01"          /*     offline_replicas [] */
                                        "    00"          /*     tagged fields */
                                        "  80000000"      /*   topic_authorized_operations (v8+) */
                                        "  00"            /*   tagged fields */
                                        "00";             /* tagged fields */

static void test_MetadataResponse_v12(void **state) {
    (void)state;
    kp_MetadataResponse_t m;
    kp_MetadataResponse_MetadataResponseBroker_t b;
    kp_MetadataResponse_MetadataResponseTopic_t t;
    kp_MetadataResponse_MetadataResponsePartition_t p;
    int32_t one = 1;
    build_metadata(&m, &b, &t, &p, &one);
    static const uint8_t id[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                   0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    memcpy(t.topic_id, id, 16);
    p.leader_epoch = 5;
    p.n_offline_replicas = 0;
    assert_int_equal(m.cluster_authorized_operations, INT32_MIN);
    check_encode(false, KP_API_Metadata, 12, &m, METADATA_RESP_V12);
    check_body(false, KP_API_Metadata, 12, METADATA_RESP_V12);
    assert_int_equal(kp_response_header_version(KP_API_Metadata, 12), 1);

    arena_t *a = arena_new(0);
    vec_t v = vec_hex(METADATA_RESP_V12);
    kp_MetadataResponse_t *d = decode_ok(a, false, KP_API_Metadata, 12, &v);
    assert_string_equal(d->topics[0].name, "t");
    assert_memory_equal(d->topics[0].topic_id, id, 16);
    assert_int_equal(d->topics[0].partitions[0].leader_epoch, 5);
    assert_int_equal(d->topics[0].topic_authorized_operations, INT32_MIN);
    free(v.data);
    arena_free(a);
}

/* v12 request naming one topic by id only (null name), as the CLI never does but Kafka
 * clients may. */
static void test_MetadataRequest_v12_by_id(void **state) {
    (void)state;
    static const char req[] = "02"                                 /* topics: compact 1 */
                              "  00112233445566778899aabbccddeeff" /*   topic_id */
                              "  00"                               /*   name null */
                              "  00"                               /*   tagged fields */
                              "01"                                 /* allow_auto_topic_creation */
                              "00"  /* include_topic_authorized_operations */
                              "00"; /* tagged fields */
    arena_t *a = arena_new(0);
    vec_t v = vec_hex(req);
    kp_MetadataRequest_t *m = decode_ok(a, true, KP_API_Metadata, 12, &v);
    assert_int_equal(m->n_topics, 1);
    assert_null(m->topics[0].name);
    assert_int_equal(m->topics[0].topic_id[15], 0xff);
    check_body(true, KP_API_Metadata, 12, req);
    free(v.data);
    arena_free(a);
}

static void test_MetadataResponse_v1_rack(void **state) {
    (void)state;
    /* v1: no throttle, no cluster id; rack present and non-null */
    check_body(false, KP_API_Metadata, 1,
               "00000001 00000002 0001 68 00000001 0002 7231"
               "00000002"
               "00000000");
}

static void test_version_outside_schema_rejected(void **state) {
    (void)state;
    arena_t *a = arena_new(0);
    vec_t v = vec_hex("00");
    kp_rd_t rd;
    void *m;
    kp_rd_init(&rd, v.data, v.len, a);
    assert_int_equal(kp_decode_request_body(&rd, KP_API_Metadata, 13, &m), STRATA_EINVAL);
    assert_int_equal(kp_decode_request_body(&rd, 999, 0, &m), STRATA_EINVAL);
    assert_null(m);
    kp_wr_t wr;
    kp_wr_init(&wr);
    kp_MetadataRequest_t req;
    kp_init_MetadataRequest(&req);
    assert_int_equal(kp_encode_request_body(&wr, KP_API_Metadata, -1, &req), STRATA_EINVAL);
    kp_encode_MetadataRequest(&wr, 13, &req);
    assert_int_equal(kp_wr_err(&wr), STRATA_EINVAL);
    assert_int_equal(wr.buf.len, 0);
    kp_wr_destroy(&wr);
    free(v.data);
    arena_free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_header_v2_kcat_apiversions),
        cmocka_unit_test(test_request_header_v1_null_client_id),
        cmocka_unit_test(test_request_header_unknown_key_read_as_v1),
        cmocka_unit_test(test_response_header_versions),
        cmocka_unit_test(test_header_version_table),
        cmocka_unit_test(test_api_info_from_schemas),
        cmocka_unit_test(test_supported_ranges),
        cmocka_unit_test(test_err_names),
        cmocka_unit_test(test_ApiVersionsRequest_v0_to_v3),
        cmocka_unit_test(test_ApiVersionsResponse_encode_v0_v2_v3),
        cmocka_unit_test(test_ApiVersionsResponse_v0_shaped_unsupported_version),
        cmocka_unit_test(test_ApiVersionsResponse_v3_tagged_fields),
        cmocka_unit_test(test_ApiVersionsResponse_v3_unknown_tag_skipped),
        cmocka_unit_test(test_MetadataRequest_v4_kcat),
        cmocka_unit_test(test_MetadataRequest_null_topics_means_all),
        cmocka_unit_test(test_MetadataResponse_v4_v6),
        cmocka_unit_test(test_MetadataResponse_v12),
        cmocka_unit_test(test_MetadataRequest_v12_by_id),
        cmocka_unit_test(test_MetadataResponse_v1_rack),
        cmocka_unit_test(test_version_outside_schema_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
