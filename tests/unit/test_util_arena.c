/* Tests for util/arena.c: alignment, zeroing, big allocations, reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "strata/util.h"

static void test_arena_alloc_aligned_and_zeroed(void **state) {
    (void)state;
    arena_t *a = arena_new(256);
    for (size_t n = 0; n < 200; n++) {
        uint8_t *p = arena_alloc(a, n % 37 + 1);
        assert_int_equal((uintptr_t)p % 8, 0);
        for (size_t i = 0; i < n % 37 + 1; i++) {
            assert_int_equal(p[i], 0);
        }
        memset(p, 0xEE, n % 37 + 1);
    }
    arena_free(a);
    arena_free(NULL);
}

static void test_arena_big_allocation(void **state) {
    (void)state;
    arena_t *a = arena_new(0);
    char *small = arena_alloc(a, 10);
    uint8_t *big = arena_alloc(a, 1 << 20);
    assert_int_equal((uintptr_t)big % 8, 0);
    assert_int_equal(big[0], 0);
    assert_int_equal(big[(1 << 20) - 1], 0);
    memset(big, 1, 1 << 20);
    char *small2 = arena_alloc(a, 10);
    /* The big one did not consume the current chunk. */
    assert_ptr_equal(small2, small + 16);
    arena_free(a);
}

static void test_arena_reset_reuses_first_chunk(void **state) {
    (void)state;
    arena_t *a = arena_new(128);
    char *first = arena_alloc(a, 8);
    for (int i = 0; i < 100; i++) {
        memset(arena_alloc(a, 24), 0x55, 24);
    }
    arena_reset(a);
    char *again = arena_alloc(a, 8);
    assert_ptr_equal(first, again);
    assert_int_equal(again[0], 0);
    arena_free(a);
}

static void test_arena_strndup(void **state) {
    (void)state;
    arena_t *a = arena_new(0);
    char *s = arena_strndup(a, "hello world", 5);
    assert_string_equal(s, "hello");
    arena_free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_alloc_aligned_and_zeroed),
        cmocka_unit_test(test_arena_big_allocation),
        cmocka_unit_test(test_arena_reset_reuses_first_chunk),
        cmocka_unit_test(test_arena_strndup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
