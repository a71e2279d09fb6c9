/*
 * test_replica_purgatory: delayed operations complete exactly once — when notified
 * bytes reach min_bytes, when their timer fires, when their key is woken, or when
 * cancelled — and leave no handle behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strata/replica.h"

typedef struct result {
    int calls;
    purg_reason_t reason;
} result_t;

static void on_done(void *arg, purg_reason_t reason) {
    result_t *r = arg;
    r->calls++;
    r->reason = reason;
}

static void finish(uv_loop_t *loop) {
    uv_run(loop, UV_RUN_DEFAULT); /* runs pending close callbacks */
    assert_int_equal(uv_loop_close(loop), 0);
}

static void test_purg_notify_completes_when_min_bytes_reached(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    purg_list_t a = {NULL}, b = {NULL};
    purg_list_t *lists[] = {&a, &b};
    result_t r = {0, PURG_TIMEOUT};
    purg_add(&loop, lists, 2, 10, 100, 60000, on_done, &r);
    purg_notify(&a, 50);
    assert_int_equal(r.calls, 0);
    purg_notify(&b, 40);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.reason, PURG_SATISFIED);
    assert_null(a.head);
    assert_null(b.head);
    purg_notify(&a, 1000); /* nothing watches any more */
    assert_int_equal(r.calls, 1);
    finish(&loop);
}

static void test_purg_timeout_completes(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    purg_list_t a = {NULL};
    purg_list_t *lists[] = {&a};
    result_t r = {0, PURG_SATISFIED};
    purg_add(&loop, lists, 1, 0, 1, 1, on_done, &r);
    uv_run(&loop, UV_RUN_DEFAULT); /* only the timer keeps the loop alive */
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.reason, PURG_TIMEOUT);
    assert_null(a.head);
    finish(&loop);
}

static void test_purg_wake_all_and_cancel(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    purg_list_t a = {NULL};
    purg_list_t *lists[] = {&a};
    result_t r1 = {0, PURG_SATISFIED}, r2 = {0, PURG_SATISFIED}, r3 = {0, PURG_SATISFIED};
    purg_add(&loop, lists, 1, 0, 100, 60000, on_done, &r1);
    purg_add(&loop, lists, 1, 0, 100, 60000, on_done, &r2);
    purg_op_t *op3 = purg_add(&loop, lists, 1, 0, 100, 60000, on_done, &r3);
    purg_cancel(op3);
    assert_int_equal(r3.calls, 1);
    assert_int_equal(r3.reason, PURG_CANCELLED);
    purg_list_wake_all(&a);
    assert_int_equal(r1.calls, 1);
    assert_int_equal(r1.reason, PURG_WOKEN);
    assert_int_equal(r2.calls, 1);
    assert_int_equal(r2.reason, PURG_WOKEN);
    assert_null(a.head);
    finish(&loop);
}

static void test_purg_same_list_twice_completes_once(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    purg_list_t a = {NULL};
    purg_list_t *lists[] = {&a, &a};
    result_t r = {0, PURG_TIMEOUT};
    purg_add(&loop, lists, 2, 0, 10, 60000, on_done, &r);
    purg_notify(&a, 20);
    assert_int_equal(r.calls, 1);
    assert_null(a.head);
    finish(&loop);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_purg_notify_completes_when_min_bytes_reached),
        cmocka_unit_test(test_purg_timeout_completes),
        cmocka_unit_test(test_purg_wake_all_and_cancel),
        cmocka_unit_test(test_purg_same_list_twice_completes_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
