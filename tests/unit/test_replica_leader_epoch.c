/*
 * test_replica_leader_epoch: the leader-epoch cache (lec_) answers OffsetForLeaderEpoch as
 * Kafka's LeaderEpochFileCache does, truncates from either end, survives a reload from
 * leader-epoch-checkpoint (and a corrupt file), and conditional purgatory operations
 * (delayed produce) complete on purg_check only when ready, on timeout otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "strata/replica.h"

static char *tmpdir(void) {
    char *d = strdup("/tmp/strata-lec-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void end_for(lec_t *c, int32_t epoch, int64_t leo, int32_t want_epoch, int64_t want_off) {
    int32_t e;
    int64_t o;
    lec_end_offset_for(c, epoch, leo, &e, &o);
    assert_int_equal(e, want_epoch);
    assert_int_equal(o, want_off);
}

static void test_lec_end_offsets(void **state) {
    (void)state;
    char *d = tmpdir();
    lec_t *c = lec_open(d);
    assert_int_equal(lec_latest_epoch(c), -1);
    end_for(c, 0, 10, -1, -1); /* empty: undefined */
    assert_true(lec_assign(c, 0, 0));
    assert_true(lec_assign(c, 2, 100));
    assert_true(lec_assign(c, 5, 130));
    assert_false(lec_assign(c, 5, 140)); /* not newer */
    assert_false(lec_assign(c, 3, 150)); /* older */
    assert_int_equal(lec_latest_epoch(c), 5);
    end_for(c, 5, 160, 5, 160); /* current epoch: the log end */
    end_for(c, 7, 160, 5, 160); /* newer than known: the log end */
    end_for(c, 0, 160, 0, 100);
    end_for(c, 1, 160, 0, 100); /* epoch 1 never led: the largest below it */
    end_for(c, 2, 160, 2, 130);
    end_for(c, 4, 160, 2, 130);
    lec_free(c);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", d);
    assert_int_equal(system(cmd), 0);
    free(d);
}

static void test_lec_truncation_and_reload(void **state) {
    (void)state;
    char *d = tmpdir();
    lec_t *c = lec_open(d);
    lec_assign(c, 1, 0);
    lec_assign(c, 3, 50);
    lec_assign(c, 4, 80);
    assert_true(lec_truncate_from_end(c, 60)); /* epoch 4 started past 60: gone */
    assert_int_equal(lec_latest_epoch(c), 3);
    assert_false(lec_truncate_from_end(c, 60));
    assert_true(lec_truncate_from_start(c, 55)); /* epoch 3 now starts at 55 */
    end_for(c, 1, 70, -1, -1);
    end_for(c, 3, 70, 3, 70);
    /* A newer epoch starting where the last did replaces it. */
    assert_true(lec_assign(c, 6, 55));
    end_for(c, 3, 70, -1, -1);
    end_for(c, 6, 70, 6, 70);
    buf_t b = BUF_INIT;
    lec_format(c, &b);
    assert_int_equal(b.len, strlen("0\n1\n6 55\n"));
    assert_memory_equal(b.data, "0\n1\n6 55\n", b.len);
    /* Written as Kafka's file, read back. */
    char path[300];
    snprintf(path, sizeof(path), "%s/leader-epoch-checkpoint", d);
    assert_int_equal(fs_atomic_replace(path, "0\n3\n0 0\n2 10\n7 20\n", 19), 0);
    lec_t *r = lec_open(d);
    assert_int_equal(lec_latest_epoch(r), 7);
    end_for(r, 2, 30, 2, 20);
    lec_free(r);
    /* Garbage: an empty cache and a warning, never a crash. */
    assert_int_equal(fs_atomic_replace(path, "zz\n\x01", 4), 0);
    r = lec_open(d);
    assert_int_equal(lec_latest_epoch(r), -1);
    lec_free(r);
    assert_int_equal(fs_atomic_replace(path, "0\n5\n1 0\n", 8), 0); /* short count */
    r = lec_open(d);
    assert_int_equal(lec_latest_epoch(r), 1);
    lec_free(r);
    buf_destroy(&b);
    lec_free(c);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", d);
    assert_int_equal(system(cmd), 0);
    free(d);
}

static void test_lec_save_off_loop(void **state) {
    (void)state;
    char *d = tmpdir();
    uv_loop_t loop;
    uv_loop_init(&loop);
    lec_t *c = lec_open(d);
    lec_assign(c, 0, 0);
    lec_save(c, &loop);
    lec_assign(c, 1, 42);
    lec_save(c, &loop); /* while the first is in flight: written again after it */
    uv_run(&loop, UV_RUN_DEFAULT);
    lec_t *r = lec_open(d);
    end_for(r, 0, 50, 0, 42);
    end_for(r, 1, 50, 1, 50);
    lec_free(r);
    lec_assign(c, 2, 45);
    lec_save(c, &loop);
    lec_free(c); /* freed while saving: the completion frees it */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", d);
    assert_int_equal(system(cmd), 0);
    free(d);
}

typedef struct cond {
    bool ready;
    int asked;
    int calls;
    purg_reason_t reason;
} cond_t;

static bool is_ready(void *arg) {
    cond_t *c = arg;
    c->asked++;
    return c->ready;
}

static void on_done(void *arg, purg_reason_t reason) {
    cond_t *c = arg;
    c->calls++;
    c->reason = reason;
}

static void test_purg_cond(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    purg_list_t a = {NULL};
    purg_list_t *lists[] = {&a};
    cond_t c = {false, 0, 0, PURG_TIMEOUT};
    purg_add_cond(&loop, lists, 1, 60000, is_ready, on_done, &c);
    purg_notify(&a, 1 << 20); /* bytes never complete a conditional operation */
    assert_int_equal(c.calls, 0);
    purg_check(&a);
    assert_int_equal(c.calls, 0);
    assert_int_equal(c.asked, 1);
    c.ready = true;
    purg_check(&a);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.reason, PURG_SATISFIED);
    assert_null(a.head);
    /* Not ready: the timer ends it. */
    cond_t t = {false, 0, 0, PURG_SATISFIED};
    purg_add_cond(&loop, lists, 1, 5, is_ready, on_done, &t);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(t.calls, 1);
    assert_int_equal(t.reason, PURG_TIMEOUT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lec_end_offsets),
        cmocka_unit_test(test_lec_truncation_and_reload),
        cmocka_unit_test(test_lec_save_off_loop),
        cmocka_unit_test(test_purg_cond),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
