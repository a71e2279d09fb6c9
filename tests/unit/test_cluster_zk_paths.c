/*
 * Tests of zk_paths: Kafka's ZooKeeper-mode JSON shapes built and parsed (round trips,
 * documents as Kafka writes them, older versions, and hostile input that must fail cleanly),
 * and the topic id encoding, and the elect_* decisions of partition_state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "cluster/cluster_int.h"

static void test_uuid_round_trip(void **state) {
    (void)state;
    uint8_t id[16], back[16];
    char txt[23];
    for (int i = 0; i < 100; i++) {
        zkpath_uuid_random(id);
        zkpath_uuid_encode(id, txt);
        assert_int_equal(strlen(txt), 22);
        assert_null(strpbrk(txt, "+/="));
        assert_int_equal(zkpath_uuid_decode(txt, back), 0);
        assert_memory_equal(id, back, 16);
    }
    uint8_t zero[16] = {0};
    zkpath_uuid_encode(zero, txt);
    assert_string_equal(txt, "AAAAAAAAAAAAAAAAAAAAAA");
    assert_int_equal(zkpath_uuid_decode("nM4HKwJnQk2hXwOa1mYxZQ", back), 0);
    zkpath_uuid_encode(back, txt);
    assert_string_equal(txt, "nM4HKwJnQk2hXwOa1mYxZQ");
    assert_int_equal(zkpath_uuid_decode("short", back), STRATA_EINVAL);
    assert_int_equal(zkpath_uuid_decode("nM4HKwJnQk2hXwOa1mYx+Q", back), STRATA_EINVAL);
}

static void test_broker_json_shape_and_parse(void **state) {
    (void)state;
    char *s = zkpath_broker_json(3, "10.0.0.1", 9092, "rack-a", 1700000000000LL);
    json_error_t err;
    json_t *o = json_loads(s, 0, &err);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "version")), 5);
    assert_int_equal(json_integer_value(json_object_get(o, "jmx_port")), -1);
    assert_string_equal(json_string_value(json_object_get(o, "timestamp")), "1700000000000");
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "endpoints"), 0)),
                        "PLAINTEXT://10.0.0.1:9092");
    assert_true(json_is_object(json_object_get(o, "features")));
    assert_string_equal(json_string_value(json_object_get(o, "rack")), "rack-a");
    json_decref(o);
    mdc_broker_t b;
    assert_int_equal(zkpath_broker_parse(s, strlen(s), 3, &b), 0);
    assert_string_equal(b.host, "10.0.0.1");
    assert_int_equal(b.port, 9092);
    assert_string_equal(b.rack, "rack-a");
    free(b.host);
    free(b.rack);
    free(s);
    s = zkpath_broker_json(1, "h", 1, NULL, 0);
    assert_null(strstr(s, "rack"));
    free(s);

    /* As Kafka writes it: a named listener mapped to PLAINTEXT, plus an SSL one. */
    const char *kafka = "{\"listener_security_protocol_map\":{\"INTERNAL\":\"PLAINTEXT\","
                        "\"EXTERNAL\":\"SSL\"},\"endpoints\":[\"EXTERNAL://e.example:9093\","
                        "\"INTERNAL://[::1]:9092\"],\"jmx_port\":-1,\"features\":{},"
                        "\"host\":null,\"timestamp\":\"1\",\"port\":-1,\"version\":5}";
    assert_int_equal(zkpath_broker_parse(kafka, strlen(kafka), 2, &b), 0);
    assert_string_equal(b.host, "::1");
    assert_int_equal(b.port, 9092);
    assert_null(b.rack);
    free(b.host);
    /* Version 1: host and port only. */
    const char *v1 = "{\"version\":1,\"host\":\"old\",\"port\":9999,\"jmx_port\":-1}";
    assert_int_equal(zkpath_broker_parse(v1, strlen(v1), 2, &b), 0);
    assert_string_equal(b.host, "old");
    free(b.host);
    const char *bad[] = {"",
                         "{",
                         "[]",
                         "{\"version\":5}",
                         "{\"endpoints\":[1,2]}",
                         "{\"endpoints\":[\"PLAINTEXT://h:99999\"]}",
                         "null"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(zkpath_broker_parse(bad[i], strlen(bad[i]), 1, &b), STRATA_ECORRUPT);
    }
}

static void test_assignment_round_trip_and_versions(void **state) {
    (void)state;
    uint8_t id[16];
    zkpath_uuid_random(id);
    int32_t rows[] = {1, 2, 3, 2, 3, 1};
    char *s = zkpath_assignment_json(id, rows, 2, 3);
    json_error_t err;
    json_t *o = json_loads(s, 0, &err);
    assert_int_equal(json_integer_value(json_object_get(o, "version")), 3);
    assert_true(json_is_object(json_object_get(o, "adding_replicas")));
    assert_true(json_is_object(json_object_get(o, "removing_replicas")));
    assert_int_equal(strlen(json_string_value(json_object_get(o, "topic_id"))), 22);
    json_decref(o);
    zkpath_assignment_t a;
    assert_int_equal(zkpath_assignment_parse(s, strlen(s), &a), 0);
    assert_true(a.has_id);
    assert_memory_equal(a.topic_id, id, 16);
    assert_int_equal(a.npartitions, 2);
    assert_int_equal(a.nreplicas[1], 3);
    assert_int_equal(a.replicas[1][0], 2);
    zkpath_assignment_destroy(&a);
    free(s);
    const char *v1 = "{\"version\":1,\"partitions\":{\"1\":[5],\"0\":[4,5]}}";
    assert_int_equal(zkpath_assignment_parse(v1, strlen(v1), &a), 0);
    assert_false(a.has_id);
    assert_int_equal(a.nreplicas[0], 2);
    assert_int_equal(a.replicas[1][0], 5);
    zkpath_assignment_destroy(&a);
    const char *bad[] = {"{\"partitions\":{\"0\":[1],\"2\":[1]}}",
                         "{\"partitions\":{\"x\":[1]}}",
                         "{\"partitions\":{\"0\":[\"a\"]}}",
                         "{\"partitions\":{\"-1\":[1]}}",
                         "{\"partitions\":[]}",
                         "{\"partitions\":{\"0\":[1],\"0\":[2]}}",
                         "{\"partitions\":{\"0\":[99999999999]}}",
                         "garbage"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(zkpath_assignment_parse(bad[i], strlen(bad[i]), &a), STRATA_ECORRUPT);
    }
}

static void test_state_controller_config_cluster_id(void **state) {
    (void)state;
    int32_t isr[] = {1, 2, 3};
    zkpath_state_t st = {
        .leader = 1, .leader_epoch = 3, .controller_epoch = 5, .nisr = 3, .isr = isr};
    char *s = zkpath_state_json(&st);
    zkpath_state_t back;
    assert_int_equal(zkpath_state_parse(s, strlen(s), &back), 0);
    assert_int_equal(back.leader, 1);
    assert_int_equal(back.leader_epoch, 3);
    assert_int_equal(back.controller_epoch, 5);
    assert_int_equal(back.nisr, 3);
    assert_int_equal(back.isr[2], 3);
    free(back.isr);
    free(s);
    const char *kafka = "{\"controller_epoch\":5,\"leader\":-1,\"version\":1,\"leader_epoch\":3,"
                        "\"isr\":[2],\"leader_recovery_state\":1}";
    assert_int_equal(zkpath_state_parse(kafka, strlen(kafka), &back), 0);
    assert_int_equal(back.leader, -1);
    free(back.isr);
    assert_int_equal(zkpath_state_parse("{\"leader\":1}", 12, &back), STRATA_ECORRUPT);

    int32_t id;
    s = zkpath_controller_json(4, 1);
    assert_int_equal(zkpath_controller_parse(s, strlen(s), &id), 0);
    assert_int_equal(id, 4);
    free(s);
    const char *v2 =
        "{\"version\":2,\"brokerid\":7,\"timestamp\":\"1\",\"kraftControllerEpoch\":-1}";
    assert_int_equal(zkpath_controller_parse(v2, strlen(v2), &id), 0);
    assert_int_equal(id, 7);

    int32_t epoch;
    assert_int_equal(zkpath_epoch_parse("12", 2, &epoch), 0);
    assert_int_equal(epoch, 12);
    assert_int_equal(zkpath_epoch_parse("x", 1, &epoch), STRATA_ECORRUPT);
    assert_int_equal(zkpath_epoch_parse("", 0, &epoch), STRATA_ECORRUPT);

    const char *keys[] = {"cleanup.policy", "retention.ms"};
    const char *vals[] = {"compact", "604800000"};
    s = zkpath_topic_config_json(keys, vals, 2);
    props_t *p = props_new();
    assert_int_equal(zkpath_topic_config_parse(s, strlen(s), p), 0);
    assert_string_equal(props_get(p, "retention.ms"), "604800000");
    assert_int_equal(props_count(p), 2);
    props_free(p);
    free(s);

    char cid[23];
    s = zkpath_cluster_id_json("nM4HKwJnQk2hXwOa1mYxZQ");
    assert_non_null(strstr(s, "\"version\":\"1\""));
    assert_int_equal(zkpath_cluster_id_parse(s, strlen(s), cid), 0);
    assert_string_equal(cid, "nM4HKwJnQk2hXwOa1mYxZQ");
    free(s);

    char *path = zkpath_partition_state("t", 2);
    assert_string_equal(path, "/brokers/topics/t/partitions/2/state");
    free(path);
}

/* ---------------------------------------------------------------- elect_* */

static mdc_partition_t part(int32_t leader, int32_t *replicas, int32_t nr, int32_t *isr,
                            int32_t nisr) {
    mdc_partition_t p = {.leader = leader,
                         .replicas = replicas,
                         .nreplicas = nr,
                         .isr = isr,
                         .nisr = nisr,
                         .state_version = 0,
                         .state_known = true};
    return p;
}

static void test_elect_partition_rules(void **state) {
    (void)state;
    int32_t reps[] = {1, 2, 3};
    int32_t isr_all[] = {1, 2, 3};
    int32_t out[8], leader, n;
    /* nothing changes when all are live */
    int32_t live_all[] = {1, 2, 3};
    mdc_partition_t p = part(1, reps, 3, isr_all, 3);
    assert_false(elect_partition(&p, live_all, 3, false, &leader, out, &n));
    /* leader lost: preferred order among live ISR (2 before 3), ISR shrunk */
    int32_t live23[] = {3, 2};
    assert_true(elect_partition(&p, live23, 2, false, &leader, out, &n));
    assert_int_equal(leader, 2);
    assert_int_equal(n, 2);
    /* follower lost: leader stays, ISR shrinks */
    int32_t live12[] = {1, 2};
    assert_true(elect_partition(&p, live12, 2, false, &leader, out, &n));
    assert_int_equal(leader, 1);
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[1], 2);
    /* no live ISR: leaderless, ISR kept; unclean picks the first live replica */
    int32_t isr1[] = {1};
    int32_t live3[] = {3};
    p = part(1, reps, 3, isr1, 1);
    assert_true(elect_partition(&p, live3, 1, false, &leader, out, &n));
    assert_int_equal(leader, -1);
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 1);
    assert_true(elect_partition(&p, live3, 1, true, &leader, out, &n));
    assert_int_equal(leader, 3);
    assert_int_equal(n, 1);
    /* already leaderless and still nobody: no write */
    p = part(-1, reps, 3, isr1, 1);
    assert_false(elect_partition(&p, live3, 1, false, &leader, out, &n));
    /* the ISR member returns: it leads again */
    int32_t live13[] = {1, 3};
    assert_true(elect_partition(&p, live13, 2, false, &leader, out, &n));
    assert_int_equal(leader, 1);
    /* initial: first live replica in assignment order */
    assert_true(elect_initial(reps, 3, live23, 2, &leader, out, &n));
    assert_int_equal(leader, 2);
    assert_int_equal(n, 2);
    assert_false(elect_initial(reps, 3, NULL, 0, &leader, out, &n));
}

static void test_elect_shutdown_rules(void **state) {
    (void)state;
    int32_t reps[] = {1, 2, 3};
    int32_t isr_all[] = {1, 2, 3};
    int32_t others[] = {2, 3};
    int32_t out[8], leader, n;
    mdc_partition_t p = part(1, reps, 3, isr_all, 3);
    /* leader hands over to the next in preferred order, leaves the ISR */
    assert_true(elect_shutdown(&p, 1, others, 2, &leader, out, &n));
    assert_int_equal(leader, 2);
    assert_int_equal(n, 2);
    /* a follower leaves the ISR */
    assert_true(elect_shutdown(&p, 3, others, 2, &leader, out, &n));
    assert_int_equal(leader, 1);
    assert_int_equal(n, 2);
    /* sole ISR member: nothing to do */
    int32_t isr1[] = {1};
    p = part(1, reps, 3, isr1, 1);
    assert_false(elect_shutdown(&p, 1, others, 2, &leader, out, &n));
    /* not involved */
    int32_t isr23[] = {2, 3};
    p = part(2, reps, 3, isr23, 2);
    assert_false(elect_shutdown(&p, 1, others, 2, &leader, out, &n));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid_round_trip),
        cmocka_unit_test(test_broker_json_shape_and_parse),
        cmocka_unit_test(test_assignment_round_trip_and_versions),
        cmocka_unit_test(test_state_controller_config_cluster_id),
        cmocka_unit_test(test_elect_partition_rules),
        cmocka_unit_test(test_elect_shutdown_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
