/* Review regression tests for replica/producer_state.c's periodic snapshot on the
 * thread pool: a state freed (truncation, partition removed) while its write waits or
 * runs must not leave a snapshot of that state behind. The thread pool is one thread,
 * held by a blocker job, so the order is deterministic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "strata/producer_state.h"
#include "tmpdir.h"

#define PID 4242

static uv_sem_t gate;

static void blocker_work(uv_work_t *w) {
    (void)w;
    uv_sem_wait(&gate);
}

static void blocker_after(uv_work_t *w, int status) {
    (void)w;
    (void)status;
}

/* pst_drop on truncation frees the state while its periodic snapshot is queued: the
 * snapshot (of offsets the truncation removed) must not appear afterwards, or a later
 * pst_load past that offset would restore sequence numbers of batches no longer in the
 * log (a retry of a truncated batch answered DUPLICATE_SEQUENCE: lost). */
static void test_snapshot_of_freed_state_not_written(void **state) {
    (void)state;
    char *dir = tmpdir_new();
    log_config_t cfg;
    log_config_default(&cfg);
    log_t *log = NULL;
    assert_int_equal(log_open(dir, "t", 0, &cfg, &strata_inline_executor, 0, false, &log), 0);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(uv_sem_init(&gate, 0), 0);
    uv_work_t blocker;
    assert_int_equal(uv_queue_work(&loop, &blocker, blocker_work, blocker_after), 0);

    pst_t *s = pst_new("t-0");
    pst_set_loop(s, &loop);
    pst_update(s, PID, 0, 0, 9, PST_SNAPSHOT_INTERVAL - 10, PST_SNAPSHOT_INTERVAL - 1, 1000);
    pst_maybe_snapshot(s, log); /* queued behind the blocker */
    pst_free(s);                /* rm_replica_truncate -> pst_drop */

    uv_sem_post(&gate);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    char *p = xasprintf("%s/t-0/%020d.snapshot", dir, PST_SNAPSHOT_INTERVAL);
    assert_int_not_equal(access(p, F_OK), 0);
    char *tmp = xasprintf("%s.tmp", p);
    assert_int_not_equal(access(tmp, F_OK), 0);
    pst_t *r = pst_new("t-0");
    assert_int_equal(pst_load(r, log_dir_path(log), INT64_MAX), 0);
    assert_int_equal(pst_check(r, PID, 0, 0, 9, NULL), PST_OK); /* nothing restored */
    pst_free(r);

    uv_sem_destroy(&gate);
    assert_int_equal(uv_loop_close(&loop), 0);
    free(p);
    free(tmp);
    log_close(log);
    tmpdir_remove(dir);
}

int main(void) {
    setenv("UV_THREADPOOL_SIZE", "1", 1); /* before the first uv_queue_work */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_of_freed_state_not_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
