/* Tests for src/cli/topics_fmt.c: kafka-topics argument formats and --describe lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli.h"

static void test_cli_uuid_base64(void **state) {
    (void)state;
    uint8_t id[16] = {0};
    char out[23];
    cli_uuid_base64(id, out);
    assert_string_equal(out, "AAAAAAAAAAAAAAAAAAAAAA");
    assert_true(cli_uuid_is_zero(id));
    id[15] = 1; /* Kafka's Uuid.ONE_UUID */
    cli_uuid_base64(id, out);
    assert_string_equal(out, "AAAAAAAAAAAAAAAAAAAAAQ");
    for (int i = 0; i < 16; i++) {
        id[i] = (uint8_t)(0xf0 + i);
    }
    cli_uuid_base64(id, out); /* URL-safe alphabet, no padding */
    assert_string_equal(out, "8PHy8_T19vf4-fr7_P3-_w");
}

static void test_cli_parse_replica_assignment_ok(void **state) {
    (void)state;
    cli_assignment_t a;
    char err[256];
    assert_int_equal(cli_parse_replica_assignment("1:2, 2 :3,3:1", &a, err, sizeof(err)), 0);
    assert_int_equal(a.n_partitions, 3);
    assert_int_equal(a.rf, 2);
    const int32_t want[] = {1, 2, 2, 3, 3, 1};
    assert_memory_equal(a.brokers, want, sizeof(want));
    cli_assignment_free(&a);
    assert_int_equal(cli_parse_replica_assignment("5", &a, err, sizeof(err)), 0);
    assert_int_equal(a.n_partitions, 1);
    assert_int_equal(a.rf, 1);
    cli_assignment_free(&a);
}

static void test_cli_parse_replica_assignment_errors(void **state) {
    (void)state;
    cli_assignment_t a;
    char err[256];
    assert_int_equal(cli_parse_replica_assignment("1:1:2", &a, err, sizeof(err)), -1);
    assert_string_equal(err, "Partition replica lists may not contain duplicate entries: 1");
    assert_int_equal(cli_parse_replica_assignment("1:2,1:2:3", &a, err, sizeof(err)), -1);
    assert_string_equal(err, "Partition 1 has different replication factor: [1, 2, 3]");
    assert_int_equal(cli_parse_replica_assignment("1:x", &a, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'x'"));
    assert_int_equal(cli_parse_replica_assignment("1,,2", &a, err, sizeof(err)), -1);
    assert_null(a.brokers);
}

static void test_cli_parse_topic_config(void **state) {
    (void)state;
    char *k, *v;
    assert_int_equal(cli_parse_topic_config("cleanup.policy = compact", &k, &v), 0);
    assert_string_equal(k, "cleanup.policy");
    assert_string_equal(v, "compact");
    free(k);
    free(v);
    assert_int_equal(cli_parse_topic_config("a=b=c", &k, &v), -1);
    assert_int_equal(cli_parse_topic_config("novalue", &k, &v), -1);
    assert_int_equal(cli_parse_topic_config("k=", &k, &v), -1);
    assert_int_equal(cli_parse_topic_config("=v", &k, &v), -1);
}

static void test_cli_topic_filter(void **state) {
    (void)state;
    char err[256];
    cli_topic_filter_t *f = cli_topic_filter_new("orders", err, sizeof(err));
    assert_non_null(f);
    assert_true(cli_topic_filter_match(f, "orders"));
    assert_false(cli_topic_filter_match(f, "orders2")); /* whole-name match */
    assert_false(cli_topic_filter_match(f, "my-orders"));
    cli_topic_filter_free(f);
    f = cli_topic_filter_new("'a.*,b'", err, sizeof(err));
    assert_true(cli_topic_filter_match(f, "abc"));
    assert_true(cli_topic_filter_match(f, "b"));
    assert_false(cli_topic_filter_match(f, "bb"));
    cli_topic_filter_free(f);
    assert_null(cli_topic_filter_new("(", err, sizeof(err)));
    assert_non_null(strstr(err, "invalid --topic expression"));
    cli_topic_filter_free(NULL);
}

static void test_cli_topic_names(void **state) {
    (void)state;
    assert_true(cli_topic_has_collision_chars("a.b"));
    assert_true(cli_topic_has_collision_chars("a_b"));
    assert_false(cli_topic_has_collision_chars("a-b"));
    assert_true(cli_topic_is_internal_name("__consumer_offsets"));
    assert_false(cli_topic_is_internal_name("__other"));
}

static void assert_buf(buf_t *b, const char *want) {
    buf_append(b, "", 1);
    assert_string_equal((char *)b->data, want);
    buf_reset(b);
}

static void test_cli_format_describe_lines(void **state) {
    (void)state;
    buf_t b = BUF_INIT;
    uint8_t zero[16] = {0};
    cli_format_topic_line(&b, "t", zero, 3, 1, "");
    assert_buf(&b, "Topic: t\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: \n");
    uint8_t id[16] = {0};
    id[15] = 1;
    cli_format_topic_line(&b, "t", id, 1, 3, "cleanup.policy=compact,retention.ms=1000");
    assert_buf(&b, "Topic: t\tTopicId: AAAAAAAAAAAAAAAAAAAAAQ\tPartitionCount: 1\t"
                   "ReplicationFactor: 3\tConfigs: cleanup.policy=compact,retention.ms=1000\n");
    const int32_t replicas[] = {1, 2, 3};
    const int32_t isr[] = {1, 3};
    cli_format_partition_line(&b, "t", 0, 1, replicas, 3, isr, 2);
    assert_buf(&b, "\tTopic: t\tPartition: 0\tLeader: 1\tReplicas: 1,2,3\tIsr: 1,3\n");
    cli_format_partition_line(&b, "t", 7, -1, replicas, 1, isr, 0);
    assert_buf(&b, "\tTopic: t\tPartition: 7\tLeader: none\tReplicas: 1\tIsr: \n");
    buf_destroy(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_uuid_base64),
        cmocka_unit_test(test_cli_parse_replica_assignment_ok),
        cmocka_unit_test(test_cli_parse_replica_assignment_errors),
        cmocka_unit_test(test_cli_parse_topic_config),
        cmocka_unit_test(test_cli_topic_filter),
        cmocka_unit_test(test_cli_topic_names),
        cmocka_unit_test(test_cli_format_describe_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
