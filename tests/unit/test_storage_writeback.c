/* Tests for writeback.c (log.writeback.bytes): the ranges handed to sync_file_range
 * (recorded through the fs_ops seam) are page-aligned, never include the tail page,
 * never overlap, advance with appends, restart in a new segment after a roll and after
 * truncation; one job in flight per log; errors are ignored and never move the
 * recovery point; a log closed or deleted with a job in flight is safe (ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch_builder.h"
#include "strata/storage.h"
#include "tmpdir.h"

#define MAX_RANGES 4096

typedef struct range {
    int fd;
    int64_t from, len;
    int64_t seg_pages_end; /* whole pages of the active segment when it was handed over */
} range_t;

static range_t ranges[MAX_RANGES];
static int nranges;
static int fail_with; /* errno the recorder answers with, 0 = real call */
static unsigned int last_flags;
static fs_ops_t rec_ops;

static int rec_sync_file_range(int fd, off_t off, off_t len, unsigned int flags) {
    assert_true(nranges < MAX_RANGES);
    ranges[nranges++] = (range_t){fd, (int64_t)off, (int64_t)len, -1};
    last_flags = flags;
    if (fail_with) {
        errno = fail_with;
        return -1;
    }
    return fs_real_ops()->sync_file_range(fd, off, len, flags);
}

/* An executor that queues jobs until the test runs them (one slot is enough here). */
typedef struct held {
    void (*work)(void *arg);
    void (*after)(void *arg);
    void *arg;
    int submitted;
    bool pending;
} held_t;

static void held_submit(void *ctx, void (*work)(void *), void (*after)(void *), void *arg) {
    held_t *h = ctx;
    assert_false(h->pending); /* at most one job in flight */
    h->work = work;
    h->after = after;
    h->arg = arg;
    h->pending = true;
    h->submitted++;
}

static void held_run(held_t *h) {
    assert_true(h->pending);
    h->pending = false;
    h->work(h->arg);
    h->after(h->arg);
}

typedef struct fixture {
    char *dir;
    log_config_t cfg;
    log_t *log;
    int64_t page;
} fixture_t;

static int setup(void **state) {
    fixture_t *f = xcalloc(1, sizeof(*f));
    f->dir = tmpdir_new();
    f->page = sysconf(_SC_PAGESIZE);
    log_config_default(&f->cfg);
    f->cfg.segment_bytes = 64 * 1024;
    f->cfg.writeback_bytes = 2 * f->page;
    nranges = 0;
    fail_with = 0;
    last_flags = 0;
    rec_ops = *fs_real_ops();
    rec_ops.sync_file_range = rec_sync_file_range;
    fs_set_ops(&rec_ops);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture_t *f = *state;
    log_close(f->log);
    fs_set_ops(NULL);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

/* Appends one batch of about `bytes` bytes. */
static void append(log_t *log, size_t bytes) {
    buf_t b = BUF_INIT;
    bb_simple(&b, 1, bytes > 100 ? bytes - 80 : 16, 1000);
    assert_int_equal(log_append(log, b.data, b.len, 0, NULL), 0);
    buf_destroy(&b);
}

/* Size of the file behind fd (the active segment's size: no preallocation of .log). */
static int64_t fd_size(int fd) {
    off_t end = lseek(fd, 0, SEEK_END);
    assert_true(end >= 0);
    return (int64_t)end;
}

/* Checks the ranges recorded since `from_idx` and stamps them with the tail bound. */
static void check_new_ranges(const fixture_t *f, int from_idx) {
    for (int i = from_idx; i < nranges; i++) {
        range_t *r = &ranges[i];
        assert_int_equal(r->from % f->page, 0);
        assert_int_equal(r->len % f->page, 0);
        assert_true(r->len >= f->cfg.writeback_bytes);
        r->seg_pages_end = fd_size(r->fd) / f->page * f->page;
        assert_true(r->from + r->len <= r->seg_pages_end); /* never the tail page */
        assert_int_equal(last_flags, SYNC_FILE_RANGE_WRITE);
    }
}

static void test_ranges_aligned_contiguous_and_restart_at_roll(void **state) {
    fixture_t *f = *state;
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, NULL, 0, false, &f->log), 0);
    int segs_seen = 0;
    int last_fd = -1;
    int64_t last_end = 0;
    for (int i = 0; i < 400; i++) {
        int before = nranges;
        append(f->log, 700 + (size_t)(i * 37) % 900);
        check_new_ranges(f, before);
        for (int j = before; j < nranges; j++) {
            if (ranges[j].fd != last_fd) {
                assert_int_equal(ranges[j].from, 0); /* a new segment starts at 0 */
                last_fd = ranges[j].fd;
                segs_seen++;
            } else {
                assert_int_equal(ranges[j].from, last_end); /* no overlap, no gap */
            }
            last_end = ranges[j].from + ranges[j].len;
        }
        /* Advances: never more than W plus a page behind the active segment's end. */
        if (last_fd >= 0 && log_segment_count(f->log) == segs_seen) {
            int64_t pages = fd_size(last_fd) / f->page * f->page;
            assert_true(pages - last_end < f->cfg.writeback_bytes);
        }
    }
    assert_true(log_segment_count(f->log) >= 4);
    assert_true(segs_seen >= 3);
    assert_int_equal(log_recovery_point(f->log), 0); /* not a flush */
}

static void test_off_when_zero(void **state) {
    fixture_t *f = *state;
    f->cfg.writeback_bytes = 0;
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, NULL, 0, false, &f->log), 0);
    for (int i = 0; i < 200; i++) {
        append(f->log, 1000);
    }
    assert_int_equal(nranges, 0);
}

static void test_default_and_bad_config(void **state) {
    fixture_t *f = *state;
    log_config_t c;
    log_config_default(&c);
    assert_int_equal(c.writeback_bytes, 0);
    c.writeback_bytes = -1;
    log_t *log = NULL;
    assert_int_equal(log_open(f->dir, "t", 0, &c, NULL, 0, false, &log), STRATA_ECONFIG);
    assert_null(log);
}

static void test_errors_ignored(void **state) {
    fixture_t *f = *state;
    fail_with = EIO;
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, NULL, 0, false, &f->log), 0);
    for (int i = 0; i < 100; i++) {
        append(f->log, 1000);
    }
    assert_true(nranges > 3);
    assert_false(log_is_offline(f->log));
    assert_int_equal(log_recovery_point(f->log), 0);
    /* Still contiguous after failures: a failed hint is not retried. */
    for (int i = 1; i < nranges; i++) {
        if (ranges[i].fd == ranges[i - 1].fd) {
            assert_int_equal(ranges[i].from, ranges[i - 1].from + ranges[i - 1].len);
        }
    }
}

static void test_one_job_in_flight(void **state) {
    fixture_t *f = *state;
    held_t h = {0};
    strata_executor_t ex = {held_submit, &h};
    f->cfg.segment_bytes = 1024 * 1024;
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, &ex, 0, false, &f->log), 0);
    for (int i = 0; i < 40; i++) {
        append(f->log, 1000); /* held_submit asserts there is never a second job */
    }
    assert_int_equal(h.submitted, 1);
    held_run(&h);
    assert_int_equal(nranges, 1);
    int64_t end1 = ranges[0].from + ranges[0].len;
    append(f->log, 1000); /* the next append hands over everything that piled up */
    assert_int_equal(h.submitted, 2);
    held_run(&h);
    assert_int_equal(nranges, 2);
    assert_int_equal(ranges[1].from, end1);
    check_new_ranges(f, 0);
    assert_true(ranges[1].len >= 4 * f->page);
}

static void test_close_with_job_in_flight(void **state) {
    fixture_t *f = *state;
    held_t h = {0};
    strata_executor_t ex = {held_submit, &h};
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, &ex, 0, false, &f->log), 0);
    for (int i = 0; i < 12 && !h.pending; i++) {
        append(f->log, 1000);
    }
    assert_true(h.pending);
    log_close(f->log); /* freed now: the job keeps only its segment */
    f->log = NULL;
    held_run(&h);
    assert_int_equal(nranges, 1);
}

static void test_delete_with_job_in_flight(void **state) {
    fixture_t *f = *state;
    held_t h = {0};
    strata_executor_t ex = {held_submit, &h};
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, &ex, 0, false, &f->log), 0);
    for (int i = 0; i < 12 && !h.pending; i++) {
        append(f->log, 1000);
    }
    assert_true(h.pending);
    h.work(h.arg); /* the worker ran; the completion is still queued on the loop */
    assert_int_equal(log_delete(f->log), 0);
    f->log = NULL;
    h.pending = false;
    h.after(h.arg);
    assert_int_equal(nranges, 1);
}

static void test_truncate_and_reopen_restart(void **state) {
    fixture_t *f = *state;
    f->cfg.segment_bytes = 1024 * 1024;
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, NULL, 0, false, &f->log), 0);
    for (int i = 0; i < 60; i++) {
        append(f->log, 1000);
    }
    assert_true(nranges >= 2);
    int64_t covered = ranges[nranges - 1].from + ranges[nranges - 1].len;
    assert_int_equal(log_truncate_to(f->log, 3), 0); /* far below what was handed over */
    int before = nranges;
    for (int i = 0; i < 60; i++) {
        append(f->log, 1000);
    }
    check_new_ranges(f, before);
    assert_true(nranges > before);
    assert_true(ranges[before].from < covered); /* restarted at the truncated tail */
    assert_int_equal(ranges[before].from, 0);   /* 3 batches: still inside page 0 */

    /* Reopen: what is in the file was written before; writeback starts at its end. */
    int64_t pages = fd_size(ranges[nranges - 1].fd) / f->page * f->page;
    log_close(f->log);
    f->log = NULL;
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, NULL, 0, false, &f->log), 0);
    before = nranges;
    for (int i = 0; i < 30; i++) {
        append(f->log, 1000);
    }
    check_new_ranges(f, before);
    assert_true(nranges > before);
    assert_int_equal(ranges[before].from, pages);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ranges_aligned_contiguous_and_restart_at_roll, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_off_when_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_and_bad_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_job_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_job_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_with_job_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate_and_reopen_restart, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
