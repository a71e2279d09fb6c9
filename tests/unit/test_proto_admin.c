/*
 * test_proto_admin: byte-exact vectors for the admin APIs Strata implements:
 * CreateTopics v0/v3/v4 (kafkajs sends -1 counts even at v3), DeleteTopics v0/v1,
 * CreatePartitions v0/v1, DescribeConfigs v0/v2. Written by hand from the schemas.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "strata/proto.h"

#include "proto_test_util.h"

#define CREATE_TOPICS_REQ_V0                                                                       \
    "00000001"                              /* topics: 1 */                                        \
    "  0001 74"                             /* name "t" */                                         \
    "  ffffffff"                            /* num_partitions -1 (broker default) */               \
    "  ffff"                                /* replication_factor -1 */                            \
    "  00000000"                            /* assignments [] */                                   \
    "  00000001"                            /* configs: 1 */                                       \
    "    000e 636c65616e75702e706f6c696379" /* "cleanup.policy" */                                 \
    "    0007 636f6d70616374"               /* "compact" */                                        \
    "00007530"                              /* timeout_ms 30000 */

static void test_CreateTopicsRequest_v3_v4_kafkajs(void **state) {
    (void)state;
    const char *v3 = CREATE_TOPICS_REQ_V0 "00"; /* validate_only (v1+) */
    arena_t *a = arena_new(0);
    vec_t v = vec_hex(v3);
    kp_CreateTopicsRequest_t *m = decode_ok(a, true, KP_API_CreateTopics, 3, &v);
    assert_int_equal(m->n_topics, 1);
    kp_CreateTopicsRequest_CreatableTopic_t *t = &m->topics[0];
    assert_string_equal(t->name, "t");
    assert_int_equal(t->num_partitions, -1);
    assert_int_equal(t->replication_factor, -1);
    assert_int_equal(t->n_assignments, 0);
    assert_int_equal(t->n_configs, 1);
    assert_string_equal(t->configs[0].name, "cleanup.policy");
    assert_string_equal(t->configs[0].value, "compact");
    assert_int_equal(m->timeout_ms, 30000);
    assert_false(m->validate_only);
    free(v.data);
    arena_free(a);
    check_body(true, KP_API_CreateTopics, 3, v3);
    check_body(true, KP_API_CreateTopics, 4, v3);
    check_body(true, KP_API_CreateTopics, 0, CREATE_TOPICS_REQ_V0);
}

static void test_CreateTopicsRequest_assignment_and_null_config(void **state) {
    (void)state;
    check_body(true, KP_API_CreateTopics, 4,
               "00000001 0001 74 ffffffff ffff"
               "00000002"                                     /* assignments: 2 */
               "  00000000 00000002 00000001 00000002"        /* p0 -> [1,2] */
               "  00000001 00000002 00000002 00000001"        /* p1 -> [2,1] */
               "00000001 000c 72657465 6e74696f6e2e6d73 ffff" /* retention.ms = null */
               "00001388 01");
}

static void test_CreateTopicsResponse_v0_v3_v4(void **state) {
    (void)state;
    kp_CreateTopicsResponse_t m;
    kp_CreateTopicsResponse_CreatableTopicResult_t r[2];
    kp_init_CreateTopicsResponse(&m);
    kp_init_CreateTopicsResponse_CreatableTopicResult(&r[0]);
    kp_init_CreateTopicsResponse_CreatableTopicResult(&r[1]);
    r[0].name = "t";
    r[0].error_message = NULL;
    r[1].name = "u";
    r[1].error_code = KP_ERR_TOPIC_ALREADY_EXISTS;
    r[1].error_message = "exists";
    m.n_topics = 2;
    m.topics = r;
    const char *v3 = "00000000"                          /* throttle_time_ms (v2+) */
                     "00000002"                          /* topics: 2 */
                     "  0001 74 0000 ffff"               /* "t", NONE, message null (v1+) */
                     "  0001 75 0024 0006 657869737473"; /* "u", 36, "exists" */
    check_encode(false, KP_API_CreateTopics, 3, &m, v3);
    check_encode(false, KP_API_CreateTopics, 4, &m, v3);
    check_body(false, KP_API_CreateTopics, 4, v3);
    check_encode(false, KP_API_CreateTopics, 0, &m, "00000002 0001 74 0000 0001 75 0024");
    check_body(false, KP_API_CreateTopics, 0, "00000002 0001 74 0000 0001 75 0024");
}

static void test_CreateTopicsResponse_v5_flexible_tagged(void **state) {
    (void)state;
    /* v5: compact types, num_partitions/replication_factor/configs, tag 0 config error */
    kp_CreateTopicsResponse_t m;
    kp_CreateTopicsResponse_CreatableTopicResult_t r;
    kp_init_CreateTopicsResponse(&m);
    kp_init_CreateTopicsResponse_CreatableTopicResult(&r);
    r.name = "t";
    r.error_message = NULL;
    r.num_partitions = 3;
    r.replication_factor = 1;
    r.n_configs = -1;
    r.topic_config_error_code = 29;
    m.n_topics = 1;
    m.topics = &r;
    const char *v5 = "00000000"        /* throttle */
                     "02"              /* topics: 1 */
                     "  02 74"         /* name */
                     "  0000"          /* error_code */
                     "  00"            /* error_message null */
                     "  00000003 0001" /* num_partitions, replication_factor */
                     "  00"            /* configs null */
                     "  01 00 02 001d" /* tags: topic_config_error_code = 29 */
                     "00";             /* tags */
    check_encode(false, KP_API_CreateTopics, 5, &m, v5);
    check_body(false, KP_API_CreateTopics, 5, v5);
}

static void test_DeleteTopics_v0_v1(void **state) {
    (void)state;
    const char *req = "00000002 0001 74 0001 75" /* topic_names ["t","u"] (v0-5) */
                      "00007530";                /* timeout_ms */
    check_body(true, KP_API_DeleteTopics, 0, req);
    check_body(true, KP_API_DeleteTopics, 1, req);
    arena_t *a = arena_new(0);
    vec_t v = vec_hex(req);
    kp_DeleteTopicsRequest_t *m = decode_ok(a, true, KP_API_DeleteTopics, 1, &v);
    assert_int_equal(m->n_topic_names, 2);
    assert_string_equal(m->topic_names[1], "u");
    assert_int_equal(m->n_topics, 0);
    assert_int_equal(m->timeout_ms, 30000);
    free(v.data);
    arena_free(a);

    kp_DeleteTopicsResponse_t r;
    kp_DeleteTopicsResponse_DeletableTopicResult_t d;
    kp_init_DeleteTopicsResponse(&r);
    kp_init_DeleteTopicsResponse_DeletableTopicResult(&d);
    d.name = "t";
    d.error_code = KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    r.n_responses = 1;
    r.responses = &d;
    check_encode(false, KP_API_DeleteTopics, 1, &r, "00000000 00000001 0001 74 0003");
    check_encode(false, KP_API_DeleteTopics, 0, &r, "00000001 0001 74 0003");
    check_body(false, KP_API_DeleteTopics, 1, "00000000 00000001 0001 74 0003");
    check_body(false, KP_API_DeleteTopics, 3, "00000000 00000001 0001 74 0003");
}

static void test_CreatePartitions_v0_v1(void **state) {
    (void)state;
    const char *req = "00000002"                              /* topics: 2 */
                      "  0001 74 00000004 ffffffff"           /* "t" -> 4, assignments null */
                      "  0001 75 00000002"                    /* "u" -> 2 */
                      "  00000001 00000002 00000001 00000002" /* [[1,2]] */
                      "00007530"                              /* timeout_ms */
                      "00";                                   /* validate_only */
    check_body(true, KP_API_CreatePartitions, 0, req);
    check_body(true, KP_API_CreatePartitions, 1, req);
    arena_t *a = arena_new(0);
    vec_t v = vec_hex(req);
    kp_CreatePartitionsRequest_t *m = decode_ok(a, true, KP_API_CreatePartitions, 1, &v);
    assert_int_equal(m->topics[0].count, 4);
    assert_int_equal(m->topics[0].n_assignments, -1);
    assert_int_equal(m->topics[1].n_assignments, 1);
    assert_int_equal(m->topics[1].assignments[0].n_broker_ids, 2);
    assert_int_equal(m->topics[1].assignments[0].broker_ids[1], 2);
    free(v.data);
    arena_free(a);

    kp_CreatePartitionsResponse_t r;
    kp_CreatePartitionsResponse_CreatePartitionsTopicResult_t t;
    kp_init_CreatePartitionsResponse(&r);
    kp_init_CreatePartitionsResponse_CreatePartitionsTopicResult(&t);
    assert_null(t.error_message);
    t.name = "t";
    t.error_code = KP_ERR_INVALID_PARTITIONS;
    t.error_message = "no";
    r.n_results = 1;
    r.results = &t;
    const char *resp = "00000000 00000001 0001 74 0025 0002 6e6f";
    check_encode(false, KP_API_CreatePartitions, 1, &r, resp);
    check_body(false, KP_API_CreatePartitions, 1, resp);
    check_body(false, KP_API_CreatePartitions, 0, "00000000 00000001 0001 74 0000 ffff");
}

static void test_DescribeConfigs_v0_v2(void **state) {
    (void)state;
    const char *req_v2 = "00000001"   /* resources: 1 */
                         "  02"       /* resource_type TOPIC */
                         "  0001 74"  /* resource_name */
                         "  ffffffff" /* configuration_keys null = all */
                         "00";        /* include_synonyms (v1+) */
    check_body(true, KP_API_DescribeConfigs, 2, req_v2);
    check_body(true, KP_API_DescribeConfigs, 0,
               "00000001 02 0001 74 00000001 000c 726574656e74696f6e2e6d73");
    arena_t *a = arena_new(0);
    vec_t v = vec_hex(req_v2);
    kp_DescribeConfigsRequest_t *m = decode_ok(a, true, KP_API_DescribeConfigs, 2, &v);
    assert_int_equal(m->resources[0].resource_type, 2);
    assert_int_equal(m->resources[0].n_configuration_keys, -1);
    free(v.data);
    arena_free(a);

    kp_DescribeConfigsResponse_t r;
    kp_DescribeConfigsResponse_DescribeConfigsResult_t res;
    kp_DescribeConfigsResponse_DescribeConfigsResourceResult_t c;
    kp_init_DescribeConfigsResponse(&r);
    kp_init_DescribeConfigsResponse_DescribeConfigsResult(&res);
    kp_init_DescribeConfigsResponse_DescribeConfigsResourceResult(&c);
    assert_int_equal(c.config_source, -1);
    c.name = "cleanup.policy";
    c.value = "delete";
    c.config_source = 5; /* DEFAULT_CONFIG */
    c.is_default = true;
    res.error_message = NULL;
    res.resource_type = 2;
    res.resource_name = "t";
    res.n_configs = 1;
    res.configs = &c;
    r.n_results = 1;
    r.results = &res;
    const char *v2 = "00000000"                              /* throttle_time_ms */
                     "00000001"                              /* results: 1 */
                     "  0000 ffff"                           /* error_code, error_message null */
                     "  02 0001 74"                          /* resource type, name */
                     "  00000001"                            /* configs: 1 */
                     "    000e 636c65616e75702e706f6c696379" /* name */
                     "    0006 64656c657465"                 /* value "delete" */
                     "    00"                                /* read_only */
                     "    05"                                /* config_source (v1+) */
                     "    00"                                /* is_sensitive */
                     "    00000000";                         /* synonyms [] (v1+) */
    check_encode(false, KP_API_DescribeConfigs, 2, &r, v2);
    check_body(false, KP_API_DescribeConfigs, 2, v2);
    const char *v0 = "00000000 00000001 0000 ffff 02 0001 74 00000001"
                     "000e 636c65616e75702e706f6c696379 0006 64656c657465"
                     "00"  /* read_only */
                     "01"  /* is_default (v0 only) */
                     "00"; /* is_sensitive */
    check_encode(false, KP_API_DescribeConfigs, 0, &r, v0);
    check_body(false, KP_API_DescribeConfigs, 0, v0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_CreateTopicsRequest_v3_v4_kafkajs),
        cmocka_unit_test(test_CreateTopicsRequest_assignment_and_null_config),
        cmocka_unit_test(test_CreateTopicsResponse_v0_v3_v4),
        cmocka_unit_test(test_CreateTopicsResponse_v5_flexible_tagged),
        cmocka_unit_test(test_DeleteTopics_v0_v1),
        cmocka_unit_test(test_CreatePartitions_v0_v1),
        cmocka_unit_test(test_DescribeConfigs_v0_v2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
