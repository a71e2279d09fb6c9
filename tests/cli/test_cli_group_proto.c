/* Tests for src/cli/group_proto.c: consumer protocol subscription/assignment v0 and the
 * range assignor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli.h"

static void test_cli_group_subscription_round_trip(void **state) {
    (void)state;
    buf_t b = BUF_INIT;
    const char *topics[] = {"orders", "t"};
    cli_group_encode_subscription(&b, topics, 2);
    /* version 0, 2 topics, "orders", "t", null user data */
    const uint8_t want[] = {0,   0,   0,   0, 0, 2,   0,    6,    'o',  'r', 'd',
                            'e', 'r', 's', 0, 1, 't', 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    arena_t *a = arena_new(0);
    char **out;
    assert_int_equal(cli_group_decode_subscription(b.data, b.len, a, &out), 2);
    assert_string_equal(out[0], "orders");
    assert_string_equal(out[1], "t");
    assert_int_equal(cli_group_decode_subscription(b.data, 7, a, &out), -1);
    arena_free(a);
    buf_destroy(&b);
}

static void test_cli_group_assignment_round_trip(void **state) {
    (void)state;
    int32_t p0[] = {0, 1};
    int32_t p1[] = {4};
    cli_topic_parts_t tp[] = {{"a", 2, p0}, {"b", 1, p1}};
    buf_t b = BUF_INIT;
    cli_group_encode_assignment(&b, tp, 2);
    arena_t *a = arena_new(0);
    cli_topic_parts_t *out;
    assert_int_equal(cli_group_decode_assignment(b.data, b.len, a, &out), 2);
    assert_string_equal(out[0].topic, "a");
    assert_int_equal(out[0].n_partitions, 2);
    assert_int_equal(out[0].partitions[1], 1);
    assert_string_equal(out[1].topic, "b");
    assert_int_equal(out[1].partitions[0], 4);
    assert_int_equal(cli_group_decode_assignment(b.data, 0, a, &out), 0); /* empty = none */
    assert_int_equal(cli_group_decode_assignment(b.data, b.len - 9, a, &out), -1);
    arena_free(a);
    buf_destroy(&b);
}

static void test_cli_group_range_assign(void **state) {
    (void)state;
    int32_t first[4], count[4];
    /* Kafka's RangeAssignor: 7 partitions over 3 members -> 3, 2, 2. */
    cli_group_range_assign(7, 3, first, count);
    assert_int_equal(first[0], 0);
    assert_int_equal(count[0], 3);
    assert_int_equal(first[1], 3);
    assert_int_equal(count[1], 2);
    assert_int_equal(first[2], 5);
    assert_int_equal(count[2], 2);
    /* More members than partitions: the last ones get nothing. */
    cli_group_range_assign(2, 4, first, count);
    assert_int_equal(count[0], 1);
    assert_int_equal(count[1], 1);
    assert_int_equal(count[2], 0);
    assert_int_equal(count[3], 0);
    assert_int_equal(first[1], 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_group_subscription_round_trip),
        cmocka_unit_test(test_cli_group_assignment_round_trip),
        cmocka_unit_test(test_cli_group_range_assign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
