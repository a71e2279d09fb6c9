/*
 * Table-driven tests of assign_replicas (Kafka's AdminUtils.assignReplicasToBrokers): the
 * worked examples of kafka-protocol/README.md, the Javadoc example, the 6-broker/2-rack
 * properties, uneven racks, adding partitions, and the rejection cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strata/cluster.h"

typedef struct example {
    const char *name;
    assign_broker_t brokers[8];
    size_t nbrokers;
    int32_t npartitions;
    int32_t rf;
    int32_t start_index;
    int32_t shift;
    int32_t start_partition;
    int32_t expect[16][3];
} example_t;

static const example_t examples[] = {
    {"README rack-unaware, brokers 0-4",
     {{0, NULL}, {1, NULL}, {2, NULL}, {3, NULL}, {4, NULL}},
     5,
     10,
     3,
     0,
     0,
     0,
     {{0, 1, 2},
      {1, 2, 3},
      {2, 3, 4},
      {3, 4, 0},
      {4, 0, 1},
      {0, 2, 3},
      {1, 3, 4},
      {2, 4, 0},
      {3, 0, 1},
      {4, 1, 2}}},
    {"README rack-unaware, brokers given out of order",
     {{3, NULL}, {0, NULL}, {4, NULL}, {2, NULL}, {1, NULL}},
     5,
     10,
     3,
     0,
     0,
     0,
     {{0, 1, 2},
      {1, 2, 3},
      {2, 3, 4},
      {3, 4, 0},
      {4, 0, 1},
      {0, 2, 3},
      {1, 3, 4},
      {2, 4, 0},
      {3, 0, 1},
      {4, 1, 2}}},
    {"README adding partitions 5..9 continues the same pattern",
     {{0, NULL}, {1, NULL}, {2, NULL}, {3, NULL}, {4, NULL}},
     5,
     5,
     3,
     0,
     0,
     5,
     {{0, 2, 3}, {1, 3, 4}, {2, 4, 0}, {3, 0, 1}, {4, 1, 2}}},
    {"README rack-aware, 5 brokers 3 racks, start 1 shift 2",
     {{101, "a"}, {102, "a"}, {103, "b"}, {104, "b"}, {105, "c"}},
     5,
     6,
     3,
     1,
     2,
     0,
     {{103, 101, 105},
      {105, 101, 103},
      {102, 103, 105},
      {104, 105, 102},
      {101, 104, 105},
      {103, 102, 105}}},
    {"Kafka Javadoc rack-aware example",
     {{0, "rack1"}, {1, "rack3"}, {2, "rack3"}, {3, "rack2"}, {4, "rack2"}, {5, "rack1"}},
     6,
     7,
     3,
     0,
     0,
     0,
     {{0, 3, 1}, {3, 1, 5}, {1, 5, 4}, {5, 4, 2}, {4, 2, 0}, {2, 0, 3}, {0, 4, 2}}},
    {"rf 1 single broker", {{9, NULL}}, 1, 3, 1, 0, 0, 0, {{9}, {9}, {9}}},
};

static void test_assign_replicas_examples(void **state) {
    (void)state;
    for (size_t e = 0; e < sizeof(examples) / sizeof(examples[0]); e++) {
        const example_t *ex = &examples[e];
        int32_t out[64];
        int rc = assign_replicas_fixed(ex->brokers, ex->nbrokers, ex->npartitions, ex->rf,
                                       ex->start_index, ex->shift, ex->start_partition, out);
        assert_int_equal(rc, 0);
        for (int32_t p = 0; p < ex->npartitions; p++) {
            for (int32_t j = 0; j < ex->rf; j++) {
                if (out[p * ex->rf + j] != ex->expect[p][j]) {
                    fail_msg("%s: partition %d replica %d is %d, expected %d", ex->name, (int)p,
                             (int)j, (int)out[p * ex->rf + j], (int)ex->expect[p][j]);
                }
            }
        }
    }
}

static void test_assign_replicas_fixed_start_equals_both(void **state) {
    (void)state;
    assign_broker_t b[5] = {{0, NULL}, {1, NULL}, {2, NULL}, {3, NULL}, {4, NULL}};
    int32_t a[30], c[30];
    assert_int_equal(assign_replicas(b, 5, 10, 3, 2, 0, a), 0);
    assert_int_equal(assign_replicas_fixed(b, 5, 10, 3, 2, 2, 0, c), 0);
    assert_memory_equal(a, c, sizeof(a));
}

static const char *rack_of(const assign_broker_t *b, size_t n, int32_t id) {
    for (size_t i = 0; i < n; i++) {
        if (b[i].id == id) {
            return b[i].rack;
        }
    }
    return NULL;
}

/* Checks the invariants for any start: distinct replicas; rack coverage; leader spread. */
static void check_properties(const assign_broker_t *b, size_t n, int32_t nparts, int32_t rf,
                             size_t nracks, const int32_t *out) {
    int leaders[64] = {0};
    for (int32_t p = 0; p < nparts; p++) {
        const int32_t *row = out + p * rf;
        for (int32_t j = 0; j < rf; j++) {
            for (int32_t k = 0; k < j; k++) {
                assert_int_not_equal(row[j], row[k]);
            }
            assert_non_null(rack_of(b, n, row[j]) ? "ok" : NULL);
        }
        /* distinct racks in the row */
        const char *seen[8];
        size_t nseen = 0;
        for (int32_t j = 0; j < rf; j++) {
            const char *r = rack_of(b, n, row[j]);
            bool dup = false;
            for (size_t k = 0; k < nseen; k++) {
                dup = dup || strcmp(seen[k], r) == 0;
            }
            if (!dup) {
                seen[nseen++] = r;
            }
        }
        size_t want = (size_t)rf < nracks ? (size_t)rf : nracks;
        assert_int_equal(nseen, want);
        leaders[row[0]]++;
    }
    /* leaders spread evenly: counts differ by at most one */
    int lo = 1 << 30, hi = 0;
    for (size_t i = 0; i < n; i++) {
        int c = leaders[b[i].id];
        lo = c < lo ? c : lo;
        hi = c > hi ? c : hi;
    }
    assert_true(hi - lo <= 1);
}

static void test_assign_replicas_six_brokers_two_racks(void **state) {
    (void)state;
    assign_broker_t b[6] = {{0, "r1"}, {1, "r1"}, {2, "r1"}, {3, "r2"}, {4, "r2"}, {5, "r2"}};
    int32_t out[12 * 3];
    for (int32_t start = 0; start < 6; start++) {
        assert_int_equal(assign_replicas(b, 6, 12, 3, start, 0, out), 0);
        check_properties(b, 6, 12, 3, 2, out);
        /* followers on other brokers than the leader, and both racks in every set */
    }
    for (int i = 0; i < 20; i++) { /* random starts */
        assert_int_equal(assign_replicas(b, 6, 6, 2, -1, 0, out), 0);
        check_properties(b, 6, 6, 2, 2, out);
    }
}

static void test_assign_replicas_uneven_racks(void **state) {
    (void)state;
    assign_broker_t b[5] = {{0, "a"}, {1, "a"}, {2, "a"}, {3, "a"}, {4, "b"}};
    int32_t out[10 * 3];
    for (int32_t start = 0; start < 5; start++) {
        assert_int_equal(assign_replicas(b, 5, 10, 2, start, 0, out), 0);
        for (int32_t p = 0; p < 10; p++) {
            /* rf 2 >= 2 racks: every partition has broker 4 (the only one in rack b) */
            assert_true(out[p * 2] == 4 || out[p * 2 + 1] == 4);
            assert_int_not_equal(out[p * 2], out[p * 2 + 1]);
        }
        assert_int_equal(assign_replicas(b, 5, 10, 3, start, 0, out), 0);
        for (int32_t p = 0; p < 10; p++) {
            int has4 = 0;
            for (int j = 0; j < 3; j++) {
                has4 += out[p * 3 + j] == 4;
                for (int k = 0; k < j; k++) {
                    assert_int_not_equal(out[p * 3 + j], out[p * 3 + k]);
                }
            }
            assert_int_equal(has4, 1);
        }
    }
}

static void test_assign_replicas_rejects(void **state) {
    (void)state;
    assign_broker_t b[3] = {{0, NULL}, {1, NULL}, {2, NULL}};
    assign_broker_t mixed[3] = {{0, "a"}, {1, NULL}, {2, "b"}};
    assign_broker_t dup[2] = {{0, NULL}, {0, NULL}};
    int32_t out[64];
    assert_int_equal(assign_replicas(b, 3, 0, 1, 0, 0, out), 37);
    assert_int_equal(assign_replicas(b, 3, -1, 1, 0, 0, out), 37);
    assert_int_equal(assign_replicas(b, 3, 3, 0, 0, 0, out), 38);
    assert_int_equal(assign_replicas(b, 3, 3, 4, 0, 0, out), 38);
    assert_int_equal(assign_replicas(b, 0, 3, 1, 0, 0, out), 38);
    assert_int_equal(assign_replicas(mixed, 3, 3, 2, 0, 0, out), 39);
    assert_int_equal(assign_replicas(dup, 2, 1, 1, 0, 0, out), 39);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assign_replicas_examples),
        cmocka_unit_test(test_assign_replicas_fixed_start_equals_both),
        cmocka_unit_test(test_assign_replicas_six_brokers_two_racks),
        cmocka_unit_test(test_assign_replicas_uneven_racks),
        cmocka_unit_test(test_assign_replicas_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
