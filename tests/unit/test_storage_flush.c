/* Tests for flush.c: fsync runs on the executor and group-commits (one flush in flight,
 * later appends join the next), the recovery point advances only in the completion,
 * interval flushes, and a failed fsync or write takes the log offline for good. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "batch_builder.h"
#include "fault_fs.h"
#include "strata/storage.h"
#include "tmpdir.h"

/* An executor that queues work until the test runs it: a worker we control. */
typedef struct job {
    void (*work)(void *);
    void (*after)(void *);
    void *arg;
} job_t;

typedef struct fixture {
    char *dir;
    log_config_t cfg;
    log_t *log;
    job_t q[64];
    int nq;
    int submitted;
    int64_t now;
    int calls;
    int last_status;
    int64_t last_rp;
} fixture_t;

static void q_submit(void *ctx, void (*work)(void *), void (*after)(void *), void *arg) {
    fixture_t *f = ctx;
    assert_true(f->nq < 64);
    f->q[f->nq++] = (job_t){work, after, arg};
    f->submitted++;
}

static void run_one(fixture_t *f) {
    assert_true(f->nq > 0);
    job_t j = f->q[0];
    memmove(f->q, f->q + 1, (size_t)(--f->nq) * sizeof(job_t));
    j.work(j.arg);
    j.after(j.arg);
}

static int64_t fake_now(void *arg) {
    return ((fixture_t *)arg)->now;
}

static void on_flush(void *arg, int status, int64_t rp) {
    fixture_t *f = arg;
    f->calls++;
    f->last_status = status;
    f->last_rp = rp;
}

static int setup(void **state) {
    fixture_t *f = xcalloc(1, sizeof(*f));
    f->dir = tmpdir_new();
    log_config_default(&f->cfg);
    f->cfg.segment_bytes = 500;
    f->cfg.index_size_max_bytes = 1024;
    f->cfg.now_ms = fake_now;
    f->cfg.now_arg = f;
    f->now = 1000;
    fault_fs_reset();
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture_t *f = *state;
    while (f->nq > 0) {
        run_one(f);
    }
    log_close(f->log);
    while (f->nq > 0) {
        run_one(f);
    }
    fault_fs_reset();
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void append(fixture_t *f, int n) {
    buf_t b = BUF_INIT;
    bb_simple(&b, n, 50, 1000);
    assert_int_equal(log_append(f->log, b.data, b.len, 0, NULL), 0);
    buf_destroy(&b);
}

static void test_flush_group_commit(void **state) {
    fixture_t *f = *state;
    strata_executor_t ex = {q_submit, f};
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, &ex, 0, false, &f->log), 0);
    fault_fs_fail_fsync(1000000, EIO); /* installs the counting table */
    append(f, 2);
    assert_int_equal(log_flush(f->log, on_flush, f), 0);
    assert_int_equal(f->nq, 1);
    /* While the fsync runs, more appends and flush requests arrive. */
    for (int i = 0; i < 10; i++) {
        append(f, 1);
        assert_int_equal(log_flush(f->log, on_flush, f), 0);
    }
    assert_int_equal(f->nq, 1); /* still one flush in flight */
    assert_int_equal(log_recovery_point(f->log), 0);
    assert_int_equal(f->calls, 0);
    assert_int_equal(fault_fs_fsync_count(), 0); /* none on the caller's thread */
    run_one(f);
    assert_int_equal(f->calls, 1);
    assert_int_equal(f->last_status, 0);
    assert_int_equal(f->last_rp, 2);
    assert_int_equal(log_recovery_point(f->log), 2);
    /* The ten later requests share the next flush. */
    assert_int_equal(f->nq, 1);
    run_one(f);
    assert_int_equal(f->calls, 11);
    assert_int_equal(f->last_rp, 12);
    assert_int_equal(log_recovery_point(f->log), 12);
    assert_int_equal(f->submitted, 2);
    assert_int_equal(f->nq, 0);
    /* Nothing new: completes at once without a job. */
    assert_int_equal(log_flush(f->log, on_flush, f), 0);
    assert_int_equal(f->calls, 12);
    assert_int_equal(f->nq, 0);
    /* The fsyncs happened on the "worker", i.e. inside run_one. */
    assert_true(fault_fs_fsync_count() >= 2);
}

static void test_flush_failure_takes_log_offline(void **state) {
    fixture_t *f = *state;
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, NULL, 0, false, &f->log), 0);
    append(f, 3);
    fault_fs_fail_fsync(1, EIO);
    assert_int_equal(log_flush(f->log, on_flush, f), 0);
    assert_int_equal(f->calls, 1);
    assert_int_not_equal(f->last_status, 0);
    assert_true(log_is_offline(f->log));
    assert_int_equal(log_recovery_point(f->log), 0);
    /* Never retried and trusted: every later call is refused. */
    fault_fs_reset();
    buf_t b = BUF_INIT;
    bb_simple(&b, 1, 10, 1);
    assert_int_equal(log_append(f->log, b.data, b.len, 0, NULL), STRATA_EOFFLINE);
    log_slice_t s;
    assert_int_equal(log_read(f->log, 0, 100, INT64_MAX, &s), STRATA_EOFFLINE);
    assert_int_equal(log_flush(f->log, on_flush, f), STRATA_EOFFLINE);
    assert_int_equal(log_flush_sync(f->log), STRATA_EOFFLINE);
    assert_int_equal(log_roll(f->log), STRATA_EOFFLINE);
    assert_int_equal(log_apply_retention(f->log), STRATA_EOFFLINE);
    assert_int_equal(log_truncate_to(f->log, 0), STRATA_EOFFLINE);
    int64_t off, ts;
    assert_int_equal(log_offset_for_time(f->log, 0, &off, &ts), STRATA_EOFFLINE);
    buf_destroy(&b);
}

static void test_flush_sync_failure_takes_log_offline(void **state) {
    fixture_t *f = *state;
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, NULL, 0, false, &f->log), 0);
    append(f, 1);
    fault_fs_fail_fsync(1, EIO);
    assert_int_equal(log_flush_sync(f->log), -EIO);
    assert_true(log_is_offline(f->log));
}

static void test_write_failure_takes_log_offline(void **state) {
    fixture_t *f = *state;
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, NULL, 0, false, &f->log), 0);
    append(f, 1);
    int64_t size = log_size_bytes(f->log);
    fault_fs_fail_write(1, ENOSPC);
    buf_t b = BUF_INIT;
    bb_simple(&b, 1, 10, 1);
    assert_int_equal(log_append(f->log, b.data, b.len, 0, NULL), -ENOSPC);
    assert_true(log_is_offline(f->log));
    assert_int_equal(log_size_bytes(f->log), size);
    fault_fs_reset();
    /* Nothing torn on disk: a reopen sees the first batch only. */
    log_close(f->log);
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, NULL, 0, false, &f->log), 0);
    assert_int_equal(log_end_offset(f->log), 1);
    buf_destroy(&b);
}

static void test_short_write_is_completed(void **state) {
    fixture_t *f = *state;
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, NULL, 0, false, &f->log), 0);
    fault_fs_short_write(1);
    append(f, 3);
    assert_false(log_is_offline(f->log));
    log_close(f->log);
    fault_fs_reset();
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, NULL, 0, false, &f->log), 0);
    assert_int_equal(log_end_offset(f->log), 3);
}

static void test_flush_intervals(void **state) {
    fixture_t *f = *state;
    f->cfg.flush_interval_messages = 5;
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, NULL, 0, false, &f->log), 0);
    append(f, 2);
    append(f, 2);
    assert_int_equal(log_recovery_point(f->log), 0);
    append(f, 1);
    assert_int_equal(log_recovery_point(f->log), 5);
    /* By time: log_maybe_flush from a timer. */
    f->cfg.flush_interval_messages = INT64_MAX;
    f->cfg.flush_interval_ms = 100;
    assert_int_equal(log_set_config(f->log, &f->cfg), 0);
    append(f, 1);
    log_maybe_flush(f->log);
    assert_int_equal(log_recovery_point(f->log), 5);
    f->now += 100;
    log_maybe_flush(f->log);
    assert_int_equal(log_recovery_point(f->log), 6);
}

static void test_flush_covers_rolled_segments(void **state) {
    fixture_t *f = *state;
    strata_executor_t ex = {q_submit, f};
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, &ex, 0, false, &f->log), 0);
    for (int i = 0; i < 20; i++) {
        append(f, 1);
    }
    assert_true(log_segment_count(f->log) > 3);
    assert_int_equal(log_flush(f->log, on_flush, f), 0);
    /* A truncation while the flush runs: the old target is not trusted. */
    assert_int_equal(log_truncate_to(f->log, 10), 0);
    append(f, 1);
    run_one(f);
    assert_true(log_recovery_point(f->log) <= 11);
    while (f->nq > 0) {
        run_one(f);
    }
    assert_int_equal(f->calls, 1);
    assert_int_equal(f->last_status, 0);
    assert_int_equal(log_recovery_point(f->log), 11);
}

static void test_close_while_flush_in_flight(void **state) {
    fixture_t *f = *state;
    strata_executor_t ex = {q_submit, f};
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, &ex, 0, false, &f->log), 0);
    append(f, 1);
    assert_int_equal(log_flush(f->log, on_flush, f), 0);
    append(f, 1);
    assert_int_equal(log_flush(f->log, on_flush, f), 0);
    log_close(f->log); /* freed by the completion */
    f->log = NULL;
    run_one(f);
    assert_int_equal(f->calls, 2);
    assert_int_equal(f->last_status, STRATA_ESHUTDOWN);
    assert_int_equal(f->nq, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flush_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_failure_takes_log_offline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_sync_failure_takes_log_offline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure_takes_log_offline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_write_is_completed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_intervals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_covers_rolled_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_while_flush_in_flight, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
