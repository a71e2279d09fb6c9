/* Tests for log_manager.c: discovery of <topic>-<partition> dirs (topics with '-'),
 * checkpoints and the clean-shutdown marker, recovery from checkpoints after a crash,
 * placement over several log.dirs, delete, retention from tick, and a log dir going
 * offline after an fsync failure. */
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

typedef struct fixture {
    char *dirs[2];
    log_config_t cfg;
    logmgr_t *mgr;
    int64_t now;
} fixture_t;

static int64_t fake_now(void *arg) {
    return ((fixture_t *)arg)->now;
}

static int setup(void **state) {
    fixture_t *f = xcalloc(1, sizeof(*f));
    f->dirs[0] = tmpdir_new();
    f->dirs[1] = tmpdir_new();
    log_config_default(&f->cfg);
    f->cfg.segment_bytes = 400;
    f->cfg.index_size_max_bytes = 1024;
    f->cfg.now_ms = fake_now;
    f->cfg.now_arg = f;
    f->now = 5000000;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture_t *f = *state;
    logmgr_free(f->mgr);
    fault_fs_reset();
    tmpdir_remove(f->dirs[0]);
    tmpdir_remove(f->dirs[1]);
    free(f);
    return 0;
}

static void open_mgr(fixture_t *f, size_t ndirs) {
    assert_int_equal(logmgr_open((const char *const *)f->dirs, ndirs, &f->cfg, NULL, &f->mgr), 0);
}

static void append(log_t *log, int n, int64_t ts) {
    buf_t b = BUF_INIT;
    bb_simple(&b, n, 100, ts);
    assert_int_equal(log_append(log, b.data, b.len, 0, NULL), 0);
    buf_destroy(&b);
}

static bool exists(const char *dir, const char *name) {
    char *p = xasprintf("%s/%s", dir, name);
    struct stat st;
    bool ok = stat(p, &st) == 0;
    free(p);
    return ok;
}

static int64_t ckpt_value(const char *dir, const char *file, const char *topic, int32_t part) {
    char *p = xasprintf("%s/%s", dir, file);
    ckpt_entry_t *e;
    size_t n;
    assert_int_equal(ckpt_read(p, &e, &n), 0);
    free(p);
    int64_t v = -1;
    for (size_t i = 0; i < n; i++) {
        if (e[i].partition == part && strcmp(e[i].topic, topic) == 0) {
            v = e[i].offset;
        }
    }
    ckpt_free(e, n);
    return v;
}

static void count_log(log_t *log, void *arg) {
    (void)log;
    (*(int *)arg)++;
}

static void test_logmgr_discovers_logs_after_clean_shutdown(void **state) {
    fixture_t *f = *state;
    open_mgr(f, 1);
    log_t *a, *b, *c;
    assert_int_equal(logmgr_create(f->mgr, "my-topic", 0, NULL, &a), 0);
    assert_int_equal(logmgr_create(f->mgr, "my-topic", 12, NULL, &b), 0);
    assert_int_equal(logmgr_create(f->mgr, "a.b_c-1", 3, NULL, &c), 0);
    assert_ptr_equal(logmgr_get(f->mgr, "my-topic", 12), b);
    assert_null(logmgr_get(f->mgr, "my-topic", 1));
    log_t *again;
    assert_int_equal(logmgr_create(f->mgr, "my-topic", 0, NULL, &again), 0);
    assert_ptr_equal(again, a);
    assert_int_equal(logmgr_create(f->mgr, "bad/topic", 0, NULL, &again), STRATA_EINVAL);
    assert_int_equal(logmgr_create(f->mgr, "..", 0, NULL, &again), STRATA_EINVAL);
    for (int i = 0; i < 10; i++) {
        append(a, 2, 100 + i);
        append(c, 1, 100 + i);
    }
    append(b, 5, 1);
    /* Directories that are not logs are left alone. */
    char *junk = xasprintf("%s/not_a_log", f->dirs[0]);
    char *junk2 = xasprintf("%s/topic-x", f->dirs[0]);
    char *deleting = xasprintf("%s/old-0.abcdef-delete", f->dirs[0]);
    assert_int_equal(fs_mkdirs(junk, 0755), 0);
    assert_int_equal(fs_mkdirs(junk2, 0755), 0);
    assert_int_equal(fs_mkdirs(deleting, 0755), 0);
    assert_int_equal(logmgr_shutdown(f->mgr), 0);
    assert_true(exists(f->dirs[0], ".kafka_cleanshutdown"));
    assert_int_equal(ckpt_value(f->dirs[0], "recovery-point-offset-checkpoint", "my-topic", 0), 20);
    assert_int_equal(ckpt_value(f->dirs[0], "recovery-point-offset-checkpoint", "a.b_c-1", 3), 10);
    assert_int_equal(ckpt_value(f->dirs[0], "log-start-offset-checkpoint", "my-topic", 12), 0);
    logmgr_free(f->mgr);
    f->mgr = NULL;

    open_mgr(f, 1);
    assert_false(exists(f->dirs[0], ".kafka_cleanshutdown")); /* consumed at start */
    assert_false(exists(f->dirs[0], "old-0.abcdef-delete"));
    assert_true(exists(f->dirs[0], "not_a_log"));
    a = logmgr_get(f->mgr, "my-topic", 0);
    b = logmgr_get(f->mgr, "my-topic", 12);
    c = logmgr_get(f->mgr, "a.b_c-1", 3);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal(log_end_offset(a), 20);
    assert_int_equal(log_end_offset(b), 5);
    assert_int_equal(log_end_offset(c), 10);
    assert_int_equal(log_recovery_point(a), 20);
    assert_string_equal(log_topic(c), "a.b_c-1");
    assert_int_equal(log_partition(c), 3);
    int count = 0;
    logmgr_foreach(f->mgr, count_log, &count);
    assert_int_equal(count, 3);
    free(junk);
    free(junk2);
    free(deleting);
}

static void test_logmgr_recovers_after_crash(void **state) {
    fixture_t *f = *state;
    open_mgr(f, 1);
    log_t *a;
    assert_int_equal(logmgr_create(f->mgr, "t", 0, NULL, &a), 0);
    for (int i = 0; i < 10; i++) {
        append(a, 1, 100 + i);
    }
    assert_int_equal(log_flush(a, NULL, NULL), 0);
    logmgr_tick(f->mgr); /* writes checkpoints */
    assert_int_equal(ckpt_value(f->dirs[0], "recovery-point-offset-checkpoint", "t", 0), 10);
    /* The recovery point checkpoint follows flushes at the checkpoint interval. */
    logmgr_set_checkpoint_interval(f->mgr, 1000);
    append(a, 1, 150);
    assert_int_equal(log_flush(a, NULL, NULL), 0);
    f->now += 999;
    logmgr_tick(f->mgr);
    assert_int_equal(ckpt_value(f->dirs[0], "recovery-point-offset-checkpoint", "t", 0), 10);
    f->now += 1;
    logmgr_tick(f->mgr);
    assert_int_equal(ckpt_value(f->dirs[0], "recovery-point-offset-checkpoint", "t", 0), 11);
    for (int i = 0; i < 5; i++) {
        append(a, 1, 200 + i);
    }
    logmgr_free(f->mgr); /* crash: no flush, no marker */
    f->mgr = NULL;
    assert_false(exists(f->dirs[0], ".kafka_cleanshutdown"));
    open_mgr(f, 1);
    a = logmgr_get(f->mgr, "t", 0);
    assert_non_null(a);
    assert_int_equal(log_end_offset(a), 16);
    assert_int_equal(log_recovery_point(a), 11);
}

/* What a client sees of log "s"-0 whose start offset is 7, inside the batch 6..8. */
static void check_start_7(log_t *a) {
    log_slice_t sl;
    int64_t off, ts;
    assert_int_equal(log_start_offset(a), 7);
    assert_int_equal(log_end_offset(a), 15);
    assert_int_equal(log_read(a, 6, 1 << 20, INT64_MAX, &sl), STRATA_EOFFSET_RANGE);
    assert_int_equal(log_read(a, 0, 1 << 20, INT64_MAX, &sl), STRATA_EOFFSET_RANGE);
    assert_int_equal(log_read(a, 7, 1 << 20, INT64_MAX, &sl), 0);
    assert_true(sl.len > 0); /* the whole batch holding 7, as Kafka serves it */
    log_slice_release(&sl);
    /* Record k has timestamp 100 + k: record 6 is gone, so 7 answers. */
    assert_int_equal(log_offset_for_time(a, 106, &off, &ts), 0);
    assert_int_equal(off, 7);
    assert_int_equal(ts, 107);
    assert_int_equal(log_offset_for_time(a, 0, &off, &ts), 0);
    assert_int_equal(off, 7);
    assert_int_equal(log_offset_for_time(a, 110, &off, &ts), 0);
    assert_int_equal(off, 10);
}

static void write_start_ckpt(fixture_t *f, int64_t v) {
    char *p = xasprintf("%s/log-start-offset-checkpoint", f->dirs[0]);
    ckpt_entry_t e = {"s", 0, v};
    assert_int_equal(ckpt_write(p, &e, 1), 0);
    free(p);
}

static void test_logmgr_start_offset_survives_restart(void **state) {
    fixture_t *f = *state;
    open_mgr(f, 1);
    log_t *a;
    assert_int_equal(logmgr_create(f->mgr, "s", 0, NULL, &a), 0);
    for (int i = 0; i < 5; i++) {
        append(a, 3, 100 + 3 * i); /* one batch per segment: offsets 3i..3i+2 */
    }
    assert_int_equal(log_segment_count(a), 5);
    logmgr_set_checkpoint_interval(f->mgr, 3600000);
    logmgr_tick(f->mgr);
    assert_int_equal(ckpt_value(f->dirs[0], "log-start-offset-checkpoint", "s", 0), 0);
    assert_int_equal(log_advance_start_offset(a, 16), STRATA_EOFFSET_RANGE);
    assert_int_equal(log_advance_start_offset(a, 7), 0);
    assert_int_equal(log_advance_start_offset(a, 5), 0); /* never backwards */
    check_start_7(a);
    /* The next tick writes the checkpoint (not only at the interval) and retention drops
     * the segments wholly below the start, not the one holding it. */
    logmgr_tick(f->mgr);
    assert_int_equal(log_segment_count(a), 3);
    assert_int_equal(ckpt_value(f->dirs[0], "log-start-offset-checkpoint", "s", 0), 7);
    check_start_7(a);

    /* A crash: the checkpoint written by the tick is read back. */
    logmgr_free(f->mgr);
    f->mgr = NULL;
    open_mgr(f, 1);
    a = logmgr_get(f->mgr, "s", 0);
    assert_non_null(a);
    check_start_7(a);
    /* A clean shutdown. */
    assert_int_equal(logmgr_shutdown(f->mgr), 0);
    logmgr_free(f->mgr);
    f->mgr = NULL;
    open_mgr(f, 1);
    a = logmgr_get(f->mgr, "s", 0);
    check_start_7(a);
    logmgr_free(f->mgr);
    f->mgr = NULL;

    /* Never above the log end, never below the first segment. */
    write_start_ckpt(f, 1000);
    open_mgr(f, 1);
    a = logmgr_get(f->mgr, "s", 0);
    assert_int_equal(log_start_offset(a), 15);
    logmgr_free(f->mgr);
    f->mgr = NULL;
    write_start_ckpt(f, 1);
    open_mgr(f, 1);
    a = logmgr_get(f->mgr, "s", 0);
    assert_int_equal(log_start_offset(a), 6);
    logmgr_free(f->mgr);
    f->mgr = NULL;
    /* An unreadable checkpoint: each log starts at its first segment. */
    char *p = xasprintf("%s/log-start-offset-checkpoint", f->dirs[0]);
    assert_int_equal(fs_atomic_replace(p, "garbage\n", 8), 0);
    free(p);
    open_mgr(f, 1);
    a = logmgr_get(f->mgr, "s", 0);
    assert_int_equal(log_start_offset(a), 6);
    assert_int_equal(log_end_offset(a), 15);
}

static void test_logmgr_spreads_over_dirs_and_deletes(void **state) {
    fixture_t *f = *state;
    open_mgr(f, 2);
    assert_int_equal(logmgr_dir_count(f->mgr), 2);
    assert_string_equal(logmgr_dir(f->mgr, 1), f->dirs[1]);
    log_t *l[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(logmgr_create(f->mgr, "spread", i, NULL, &l[i]), 0);
    }
    int in0 = 0, in1 = 0;
    for (int i = 0; i < 4; i++) {
        char *name = xasprintf("spread-%d", i);
        in0 += exists(f->dirs[0], name);
        in1 += exists(f->dirs[1], name);
        free(name);
    }
    assert_int_equal(in0, 2);
    assert_int_equal(in1, 2);
    append(l[1], 1, 1);
    char *dir = xstrdup(log_dir_path(l[1]));
    assert_int_equal(logmgr_delete(f->mgr, "spread", 1), 0);
    struct stat st;
    assert_int_not_equal(stat(dir, &st), 0);
    assert_null(logmgr_get(f->mgr, "spread", 1));
    assert_int_equal(logmgr_delete(f->mgr, "spread", 1), STRATA_ENOTFOUND);
    free(dir);
}

static void test_logmgr_tick_runs_retention_and_checkpoints(void **state) {
    fixture_t *f = *state;
    f->cfg.retention_ms = 1000;
    open_mgr(f, 1);
    log_t *a;
    assert_int_equal(logmgr_create(f->mgr, "r", 0, NULL, &a), 0);
    for (int i = 0; i < 12; i++) {
        append(a, 1, f->now + i);
    }
    assert_true(log_segment_count(a) > 2);
    f->now += 100000;
    logmgr_tick(f->mgr);
    assert_int_equal(log_segment_count(a), 1);
    assert_int_equal(ckpt_value(f->dirs[0], "log-start-offset-checkpoint", "r", 0),
                     log_start_offset(a));
    assert_true(log_start_offset(a) > 0);
}

static void test_logmgr_dir_offline_after_fsync_failure(void **state) {
    fixture_t *f = *state;
    open_mgr(f, 2);
    log_t *a, *b;
    assert_int_equal(logmgr_create(f->mgr, "x", 0, NULL, &a), 0);
    assert_int_equal(logmgr_create(f->mgr, "x", 1, NULL, &b), 0);
    append(a, 1, 1);
    fault_fs_fail_fsync(1, EIO);
    assert_int_equal(log_flush(a, NULL, NULL), 0);
    fault_fs_reset();
    assert_true(log_is_offline(a));
    logmgr_tick(f->mgr);
    size_t bad = strncmp(log_dir_path(a), f->dirs[0], strlen(f->dirs[0])) == 0 ? 0 : 1;
    assert_true(logmgr_dir_offline(f->mgr, bad));
    assert_false(logmgr_dir_offline(f->mgr, 1 - bad));
    assert_false(log_is_offline(b));
    /* New logs go to the healthy dir; the shutdown marks only the healthy dir clean. */
    log_t *c;
    assert_int_equal(logmgr_create(f->mgr, "y", 0, NULL, &c), 0);
    assert_int_equal(strncmp(log_dir_path(c), f->dirs[1 - bad], strlen(f->dirs[1 - bad])), 0);
    assert_int_not_equal(logmgr_shutdown(f->mgr), 0);
    assert_false(exists(f->dirs[bad], ".kafka_cleanshutdown"));
    assert_true(exists(f->dirs[1 - bad], ".kafka_cleanshutdown"));
}

static void test_logmgr_meta_properties(void **state) {
    fixture_t *f = *state;
    open_mgr(f, 2);
    assert_int_equal(logmgr_check_meta(f->mgr, 7, "abc"), 0);
    assert_true(exists(f->dirs[0], "meta.properties"));
    assert_true(exists(f->dirs[1], "meta.properties"));
    char *p = xasprintf("%s/meta.properties", f->dirs[1]);
    buf_t b = BUF_INIT;
    assert_int_equal(fs_read_file(p, &b), 0);
    buf_append(&b, "", 1);
    assert_non_null(strstr((char *)b.data, "version=0\n"));
    assert_non_null(strstr((char *)b.data, "broker.id=7\n"));
    assert_non_null(strstr((char *)b.data, "cluster.id=abc\n"));
    /* Same identity again: fine. Another broker id or cluster: refused. */
    assert_int_equal(logmgr_check_meta(f->mgr, 7, "abc"), 0);
    assert_int_equal(logmgr_check_meta(f->mgr, 7, NULL), 0);
    assert_int_equal(logmgr_check_meta(f->mgr, 8, "abc"), STRATA_ECONFIG);
    assert_int_equal(logmgr_check_meta(f->mgr, 7, "other"), STRATA_ECONFIG);
    buf_destroy(&b);
    free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_logmgr_discovers_logs_after_clean_shutdown, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_logmgr_recovers_after_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logmgr_start_offset_survives_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logmgr_spreads_over_dirs_and_deletes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logmgr_tick_runs_retention_and_checkpoints, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_logmgr_dir_offline_after_fsync_failure, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_logmgr_meta_properties, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
