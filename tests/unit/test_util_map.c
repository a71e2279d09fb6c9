/* Tests for util/map.c: insert, replace, remove, iterate (with removal), growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strata/util.h"

static void test_map_put_get_replace_remove(void **state) {
    (void)state;
    map_t *m = map_new();
    int a = 1, b = 2;
    assert_null(map_get_str(m, "x"));
    assert_null(map_put_str(m, "x", &a));
    assert_ptr_equal(map_get_str(m, "x"), &a);
    assert_ptr_equal(map_put_str(m, "x", &b), &a);
    assert_ptr_equal(map_get_str(m, "x"), &b);
    assert_int_equal(map_count(m), 1);
    assert_null(map_remove_str(m, "y"));
    assert_ptr_equal(map_remove_str(m, "x"), &b);
    assert_int_equal(map_count(m), 0);
    assert_null(map_get_str(m, "x"));
    map_free(m, NULL);
    map_free(NULL, NULL);
}

static void test_map_binary_and_empty_keys(void **state) {
    (void)state;
    map_t *m = map_new();
    int a, b, c;
    const uint8_t k1[] = {0, 1, 2};
    const uint8_t k2[] = {0, 1, 3};
    map_put(m, k1, 3, &a);
    map_put(m, k2, 3, &b);
    map_put(m, "", 0, &c);
    assert_ptr_equal(map_get(m, k1, 3), &a);
    assert_ptr_equal(map_get(m, k2, 3), &b);
    assert_ptr_equal(map_get(m, "", 0), &c);
    assert_null(map_get(m, k1, 2));
    map_free(m, NULL);
}

static void test_map_keys_are_copied(void **state) {
    (void)state;
    map_t *m = map_new();
    char key[8] = "abc";
    int a;
    map_put_str(m, key, &a);
    strcpy(key, "zzz");
    assert_ptr_equal(map_get_str(m, "abc"), &a);
    assert_null(map_get_str(m, "zzz"));
    map_free(m, NULL);
}

static void test_map_100k_grow_and_remove(void **state) {
    (void)state;
    enum { N = 100000 };
    map_t *m = map_new();
    char key[32];
    for (uintptr_t i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "topic-%lu", (unsigned long)i);
        assert_null(map_put_str(m, key, (void *)(i + 1)));
    }
    assert_int_equal(map_count(m), N);
    for (uintptr_t i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "topic-%lu", (unsigned long)i);
        assert_int_equal((uintptr_t)map_get_str(m, key), i + 1);
    }
    /* Remove the even ones, then re-add half of them: tombstones must not break lookups. */
    for (uintptr_t i = 0; i < N; i += 2) {
        snprintf(key, sizeof(key), "topic-%lu", (unsigned long)i);
        assert_int_equal((uintptr_t)map_remove_str(m, key), i + 1);
    }
    assert_int_equal(map_count(m), N / 2);
    for (uintptr_t i = 0; i < N; i += 4) {
        snprintf(key, sizeof(key), "topic-%lu", (unsigned long)i);
        assert_null(map_put_str(m, key, (void *)(i + 7)));
    }
    for (uintptr_t i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "topic-%lu", (unsigned long)i);
        uintptr_t v = (uintptr_t)map_get_str(m, key);
        if (i % 4 == 0) {
            assert_int_equal(v, i + 7);
        } else if (i % 2 == 0) {
            assert_int_equal(v, 0);
        } else {
            assert_int_equal(v, i + 1);
        }
    }
    assert_int_equal(map_count(m), N / 2 + N / 4);
    map_free(m, NULL);
}

static void test_map_churn_keeps_working(void **state) {
    (void)state;
    /* Insert/remove many distinct keys with a small live set: tombstones get recycled. */
    map_t *m = map_new();
    char key[32];
    for (int i = 0; i < 50000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        map_put_str(m, key, (void *)(uintptr_t)1);
        if (i >= 5) {
            snprintf(key, sizeof(key), "k%d", i - 5);
            assert_non_null(map_remove_str(m, key));
        }
    }
    assert_int_equal(map_count(m), 5);
    map_free(m, NULL);
}

static void test_map_iterate_and_remove_during(void **state) {
    (void)state;
    map_t *m = map_new();
    char key[32];
    for (uintptr_t i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "%lu", (unsigned long)i);
        map_put_str(m, key, (void *)(i + 1));
    }
    uint8_t *seen = calloc(1000, 1);
    map_iter_t it = MAP_ITER_INIT;
    const void *k;
    size_t kl;
    void *v;
    size_t n = 0;
    while (map_next(m, &it, &k, &kl, &v)) {
        uintptr_t i = (uintptr_t)v - 1;
        assert_true(i < 1000);
        assert_int_equal(seen[i], 0);
        seen[i] = 1;
        snprintf(key, sizeof(key), "%lu", (unsigned long)i);
        assert_int_equal(kl, strlen(key));
        assert_memory_equal(k, key, kl);
        if (i % 3 == 0) {
            assert_ptr_equal(map_remove(m, k, kl), v);
        }
        n++;
    }
    assert_int_equal(n, 1000);
    assert_int_equal(map_count(m), 1000 - 334);
    free(seen);
    map_free(m, NULL);
}

static void test_map_free_calls_free_value(void **state) {
    (void)state;
    map_t *m = map_new();
    map_put_str(m, "a", xstrdup("1"));
    map_put_str(m, "b", xstrdup("2"));
    map_free(m, free); /* leak checkers would flag a miss */
}

static void test_strata_hash64_is_stable(void **state) {
    (void)state;
    assert_int_equal(strata_hash64("abc", 3), strata_hash64("abc", 3));
    assert_int_not_equal(strata_hash64("abc", 3), strata_hash64("abd", 3));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_put_get_replace_remove),
        cmocka_unit_test(test_map_binary_and_empty_keys),
        cmocka_unit_test(test_map_keys_are_copied),
        cmocka_unit_test(test_map_100k_grow_and_remove),
        cmocka_unit_test(test_map_churn_keeps_working),
        cmocka_unit_test(test_map_iterate_and_remove_during),
        cmocka_unit_test(test_map_free_calls_free_value),
        cmocka_unit_test(test_strata_hash64_is_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
