/* Unit tests for replica/producer_state_load.c: the producer-state rebuild off the loop. */
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

/* A header-only magic-2 batch (enough for rb_parse): n records of producer pid. */
static void put_batch(buf_t *b, int64_t pid, int16_t epoch, int32_t seq, int32_t n) {
    uint8_t *h = buf_extend(b, RB_HEADER_SIZE);
    memset(h, 0, RB_HEADER_SIZE);
    be32_put(h + RB_OFF_LENGTH, RB_HEADER_SIZE - 12);
    h[RB_OFF_MAGIC] = 2;
    be32_put(h + RB_OFF_LAST_DELTA, (uint32_t)(n - 1));
    be64_put(h + RB_OFF_MAX_TIMESTAMP, 5000);
    be64_put(h + RB_OFF_PRODUCER_ID, (uint64_t)pid);
    be16_put(h + RB_OFF_PRODUCER_EPOCH, (uint16_t)epoch);
    be32_put(h + RB_OFF_BASE_SEQUENCE, (uint32_t)seq);
    be32_put(h + RB_OFF_RECORD_COUNT, (uint32_t)n);
    be32_put(h + RB_OFF_CRC, crc32c(0, h + RB_OFF_ATTRIBUTES, RB_HEADER_SIZE - RB_OFF_ATTRIBUTES));
}

static void append(log_t *log, int64_t pid, int32_t seq, int32_t n) {
    buf_t b = BUF_INIT;
    log_append_info_t info;
    put_batch(&b, pid, 0, seq, n);
    assert_int_equal(log_append(log, b.data, b.len, 0, &info), 0);
    buf_destroy(&b);
}

typedef struct {
    pst_t *s;
    int calls;
} got_t;

static void on_loaded(void *arg, pst_t *s) {
    got_t *g = arg;
    g->s = s;
    g->calls++;
}

typedef struct {
    char *dir;
    log_t *log;
    uv_loop_t loop;
} fx_t;

static void fx_open(fx_t *f) {
    f->dir = tmpdir_new();
    log_config_t cfg;
    log_config_default(&cfg);
    f->log = NULL;
    assert_int_equal(log_open(f->dir, "t", 0, &cfg, &strata_inline_executor, 0, false, &f->log), 0);
    assert_int_equal(uv_loop_init(&f->loop), 0);
}

static void fx_close(fx_t *f) {
    assert_int_equal(uv_loop_close(&f->loop), 0); /* no job left behind */
    log_close(f->log);
    tmpdir_remove(f->dir);
}

/* Snapshot + tail, and appends made while the load runs, end up in the state. */
static void test_pst_loader_snapshot_tail_and_concurrent_appends(void **state) {
    (void)state;
    fx_t f;
    fx_open(&f);
    for (int i = 0; i < 3; i++) {
        append(f.log, PID, i * 2, 2);
    }
    pst_t *s = pst_open_log(f.log);
    assert_int_equal(pst_snapshot_log(s, f.log), 0); /* 6.snapshot */
    pst_free(s);
    append(f.log, PID, 6, 2); /* tail after the snapshot: offsets 6-7 */
    got_t g = {0};
    pst_loader_t *l = pst_loader_start(&f.loop, f.log, on_loaded, &g);
    assert_non_null(l);
    assert_int_equal(g.calls, 0); /* never synchronous: the caller must wait */
    append(f.log, -1, -1, 1);     /* a plain produce while loading: offset 8 */
    append(f.log, PID, 8, 2);     /* a follower append while loading: offsets 9-10 */
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(g.calls, 1);
    assert_non_null(g.s);
    assert_int_equal(pst_map_end_offset(g.s), 11);
    assert_int_equal(pst_get(g.s, PID)->nbatches, 5);
    pst_batch_t dup;
    assert_int_equal(pst_check(g.s, PID, 0, 0, 1, &dup), PST_DUPLICATE);
    assert_int_equal(dup.first_offset, 0);
    assert_int_equal(pst_check(g.s, PID, 0, 8, 9, &dup), PST_DUPLICATE);
    assert_int_equal(dup.first_offset, 9);
    assert_int_equal(pst_check(g.s, PID, 0, 10, 10, NULL), PST_OK);
    pst_free(g.s);
    fx_close(&f);
}

/* What rm_append does: refuse the idempotent batch while loading (the client retries
 * with the same sequence); once loaded, a retry of a batch already in the log is a
 * duplicate (answered with its offsets, not appended twice) and a new one goes on. */
static void test_pst_loader_retry_after_load_no_duplicate(void **state) {
    (void)state;
    fx_t f;
    fx_open(&f);
    append(f.log, PID, 0, 3); /* written before the "restart" */
    got_t g = {0};
    pst_loader_t *l = pst_loader_start(&f.loop, f.log, on_loaded, &g);
    assert_non_null(l);
    assert_null(g.s); /* loading: rm_append answers NOT_LEADER_OR_FOLLOWER, appends nothing */
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_non_null(g.s);
    buf_t b = BUF_INIT;
    put_batch(&b, PID, 0, 0, 3); /* the client's retry of the batch it had not seen acked */
    pst_batch_t dup;
    assert_int_equal(pst_check_records(g.s, b.data, b.len, &dup), PST_DUPLICATE);
    assert_int_equal(dup.first_offset, 0);
    assert_int_equal(dup.last_offset, 2);
    buf_reset(&b);
    put_batch(&b, PID, 0, 3, 1); /* the next batch */
    assert_int_equal(pst_check_records(g.s, b.data, b.len, NULL), PST_OK);
    assert_int_equal(log_end_offset(f.log), 3);
    buf_destroy(&b);
    pst_free(g.s);
    fx_close(&f);
}

/* Cancelled (partition truncated or closed): no callback, nothing leaks. */
static void test_pst_loader_cancel(void **state) {
    (void)state;
    fx_t f;
    fx_open(&f);
    for (int i = 0; i < 4; i++) {
        append(f.log, PID, i, 1);
    }
    got_t g = {0};
    pst_loader_cancel(pst_loader_start(&f.loop, f.log, on_loaded, &g));
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(g.calls, 0);
    pst_loader_cancel(NULL);
    fx_close(&f);
}

/* An empty log loads an empty state at offset 0. */
static void test_pst_loader_empty_log(void **state) {
    (void)state;
    fx_t f;
    fx_open(&f);
    got_t g = {0};
    (void)pst_loader_start(&f.loop, f.log, on_loaded, &g);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(g.calls, 1);
    assert_int_equal(pst_count(g.s), 0);
    assert_int_equal(pst_map_end_offset(g.s), 0);
    pst_free(g.s);
    fx_close(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pst_loader_snapshot_tail_and_concurrent_appends),
        cmocka_unit_test(test_pst_loader_retry_after_load_no_duplicate),
        cmocka_unit_test(test_pst_loader_cancel),
        cmocka_unit_test(test_pst_loader_empty_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
