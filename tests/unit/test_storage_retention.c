/* Tests for retention.c: deletion by time (injected clock) and by size, never the
 * active segment, rename to .deleted then unlink on the executor, log start offset
 * advancing, and a read slice keeping a deleted segment readable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch_builder.h"
#include "strata/storage.h"
#include "tmpdir.h"

typedef struct job {
    void (*work)(void *);
    void (*after)(void *);
    void *arg;
} job_t;

typedef struct fixture {
    char *dir;
    log_config_t cfg;
    log_t *log;
    int64_t now;
    job_t q[256];
    int nq;
} fixture_t;

static void q_submit(void *ctx, void (*work)(void *), void (*after)(void *), void *arg) {
    fixture_t *f = ctx;
    assert_true(f->nq < 256);
    f->q[f->nq++] = (job_t){work, after, arg};
}

static void run_all(fixture_t *f) {
    for (int i = 0; i < f->nq; i++) {
        f->q[i].work(f->q[i].arg);
        f->q[i].after(f->q[i].arg);
    }
    f->nq = 0;
}

static int64_t fake_now(void *arg) {
    return ((fixture_t *)arg)->now;
}

static int setup(void **state) {
    fixture_t *f = xcalloc(1, sizeof(*f));
    f->dir = tmpdir_new();
    log_config_default(&f->cfg);
    f->cfg.segment_bytes = 600;
    f->cfg.index_size_max_bytes = 1024;
    f->cfg.now_ms = fake_now;
    f->cfg.now_arg = f;
    f->cfg.file_delete_delay_ms = 0;
    f->now = 1000000;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture_t *f = *state;
    run_all(f);
    log_close(f->log);
    run_all(f);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void open_log(fixture_t *f, const strata_executor_t *ex) {
    assert_int_equal(log_open(f->dir, "t", 0, &f->cfg, ex, 0, false, &f->log), 0);
}

/* Batches of ~200 bytes, three per segment, timestamps ts0, ts0+1, ... */
static void fill(fixture_t *f, int n, int64_t ts0) {
    for (int i = 0; i < n; i++) {
        buf_t b = BUF_INIT;
        bb_simple(&b, 1, 130, ts0 + i);
        assert_int_equal(log_append(f->log, b.data, b.len, 0, NULL), 0);
        buf_destroy(&b);
    }
}

/* Counts files in the partition directory whose names end with suffix. */
static int count_files(fixture_t *f, const char *suffix) {
    char *p = xasprintf("%s/t-0", f->dir);
    DIR *d = opendir(p);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    size_t m = strlen(suffix);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        n += l >= m && strcmp(e->d_name + l - m, suffix) == 0;
    }
    closedir(d);
    free(p);
    return n;
}

static void test_retention_by_time(void **state) {
    fixture_t *f = *state;
    f->cfg.retention_ms = 10000;
    open_log(f, NULL);
    fill(f, 9, 100000); /* segments: ts 100000..100002, ...003-005, ...006-008 (active) */
    fill(f, 3, 500000);
    int segs = log_segment_count(f->log);
    assert_int_equal(segs, 4);
    /* Nothing is old enough yet. */
    f->now = 100002 + 10000;
    assert_int_equal(log_apply_retention(f->log), 0);
    /* First segment's newest record is now older than retention.ms. */
    f->now = 100002 + 10001;
    assert_int_equal(log_apply_retention(f->log), 1);
    assert_int_equal(log_start_offset(f->log), 3);
    assert_int_equal(log_segment_count(f->log), 3);
    log_slice_t s;
    assert_int_equal(log_read(f->log, 2, 100, INT64_MAX, &s), STRATA_EOFFSET_RANGE);
    assert_int_equal(log_read(f->log, 3, 100, INT64_MAX, &s), 0);
    assert_true(s.len > 0);
    log_slice_release(&s);
    /* Far in the future: everything but the active segment goes. */
    f->now = 10000000;
    assert_int_equal(log_apply_retention(f->log), 2);
    assert_int_equal(log_segment_count(f->log), 1);
    assert_int_equal(log_start_offset(f->log), 9);
    assert_int_equal(log_end_offset(f->log), 12);
    assert_int_equal(count_files(f, ".log"), 1);
    assert_int_equal(count_files(f, ".deleted"), 0);
    /* The active segment is never deleted, however old. */
    assert_int_equal(log_apply_retention(f->log), 0);
    /* The start offset survives a restart (segments are gone from disk). */
    log_close(f->log);
    open_log(f, NULL);
    assert_int_equal(log_start_offset(f->log), 9);
    assert_int_equal(log_end_offset(f->log), 12);
}

static void test_retention_by_size(void **state) {
    fixture_t *f = *state;
    f->cfg.retention_ms = -1;
    open_log(f, NULL);
    fill(f, 15, 1);
    assert_int_equal(log_segment_count(f->log), 5);
    int64_t seg = log_size_bytes(f->log) / 5;
    /* Room for 3.5 segments: as in Kafka, a segment goes only while what stays is
     * still at least retention.bytes, so the oldest one goes and four stay. */
    f->cfg.retention_bytes = seg * 3 + seg / 2;
    assert_int_equal(log_set_config(f->log, &f->cfg), 0);
    assert_int_equal(log_apply_retention(f->log), 1);
    assert_int_equal(log_segment_count(f->log), 4);
    assert_int_equal(log_start_offset(f->log), 3);
    assert_true(log_size_bytes(f->log) >= f->cfg.retention_bytes);
    assert_true(log_size_bytes(f->log) - seg < f->cfg.retention_bytes);
    assert_int_equal(log_apply_retention(f->log), 0);
    /* retention.bytes 0 still keeps the active segment. */
    f->cfg.retention_bytes = 0;
    assert_int_equal(log_set_config(f->log, &f->cfg), 0);
    assert_int_equal(log_apply_retention(f->log), 3);
    assert_int_equal(log_segment_count(f->log), 1);
    assert_int_equal(log_start_offset(f->log), 12);
    /* Unlimited: nothing. */
    f->cfg.retention_bytes = -1;
    assert_int_equal(log_set_config(f->log, &f->cfg), 0);
    fill(f, 6, 1);
    assert_int_equal(log_apply_retention(f->log), 0);
}

static void test_retention_renames_then_unlinks_on_executor(void **state) {
    fixture_t *f = *state;
    strata_executor_t ex = {q_submit, f};
    f->cfg.retention_ms = 1000;
    open_log(f, &ex);
    fill(f, 7, 1);
    log_slice_t s;
    assert_int_equal(log_read(f->log, 0, 1 << 20, INT64_MAX, &s), 0);
    uint8_t *want = xmalloc((size_t)s.len);
    assert_int_equal(pread(s.fd, want, (size_t)s.len, s.pos), s.len);
    assert_int_equal(log_apply_retention(f->log), 2);
    /* Renamed at once, not yet unlinked: the executor has not run. */
    assert_int_equal(count_files(f, ".log.deleted"), 2);
    assert_int_equal(count_files(f, ".index.deleted"), 2);
    assert_int_equal(count_files(f, ".timeindex.deleted"), 2);
    assert_int_equal(count_files(f, ".log"), 1);
    run_all(f);
    assert_int_equal(count_files(f, ".deleted"), 0);
    /* A sendfile in progress still reads the deleted segment through its fd. */
    uint8_t *got = xmalloc((size_t)s.len);
    assert_int_equal(pread(s.fd, got, (size_t)s.len, s.pos), s.len);
    assert_memory_equal(got, want, (size_t)s.len);
    log_slice_release(&s);
    free(got);
    free(want);
}

static void test_retention_waits_delete_delay(void **state) {
    fixture_t *f = *state;
    f->cfg.retention_ms = 1000;
    f->cfg.file_delete_delay_ms = 60000;
    open_log(f, NULL);
    fill(f, 7, 1);
    assert_int_equal(log_apply_retention(f->log), 2);
    assert_int_equal(count_files(f, ".deleted"), 6);
    f->now += 59999;
    assert_int_equal(log_apply_retention(f->log), 0);
    assert_int_equal(count_files(f, ".deleted"), 6);
    f->now += 1;
    assert_int_equal(log_apply_retention(f->log), 0);
    assert_int_equal(count_files(f, ".deleted"), 0);
    /* Closed before the delay: the next open removes the leftovers. */
    fill(f, 6, 1);
    f->now += 100000;
    assert_int_equal(log_apply_retention(f->log), 2);
    assert_int_equal(count_files(f, ".deleted"), 6);
    log_close(f->log);
    open_log(f, NULL);
    assert_int_equal(count_files(f, ".deleted"), 0);
    assert_int_equal(log_segment_count(f->log), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retention_by_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_by_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_renames_then_unlinks_on_executor, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_retention_waits_delete_delay, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
