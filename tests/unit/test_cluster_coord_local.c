/*
 * Tests of coord_local, the embedded coordination store: versions, version-checked set and
 * delete, one-shot watches (data, exists, children, on delete), ephemerals per session,
 * sequential names, multi atomicity, asynchronous delivery, persistence across reopen and
 * a corrupt file. A real uv loop, run until a condition holds with a deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "fault_fs.h"
#include "strata/cluster.h"
#include "tmpdir.h"

static void on_deadline(uv_timer_t *t) {
    *(bool *)t->data = true;
}

static void close_cb(uv_handle_t *h) {
    (void)h;
}

static bool run_until(uv_loop_t *loop, bool (*cond)(void *), void *arg, int64_t timeout_ms) {
    bool expired = false;
    uv_timer_t timer;
    uv_timer_init(loop, &timer);
    timer.data = &expired;
    uv_timer_start(&timer, on_deadline, (uint64_t)timeout_ms, 0);
    while (!cond(arg) && !expired) {
        uv_run(loop, UV_RUN_ONCE);
    }
    uv_timer_stop(&timer);
    uv_close((uv_handle_t *)&timer, close_cb);
    uv_run(loop, UV_RUN_NOWAIT);
    return cond(arg);
}

static void drain(uv_loop_t *loop) {
    for (int i = 0; i < 1000 && uv_run(loop, UV_RUN_NOWAIT) != 0; i++) {
        uv_run(loop, UV_RUN_ONCE);
    }
}

/* One completion record. */
typedef struct res {
    bool done;
    int rc;
    char data[256];
    size_t len;
    int32_t version;
    char path[256];
    char names[16][64];
    size_t count;
} res_t;

static bool res_done(void *arg) {
    return ((res_t *)arg)->done;
}

static void on_create(void *arg, int rc, const char *path) {
    res_t *r = arg;
    r->done = true;
    r->rc = rc;
    snprintf(r->path, sizeof(r->path), "%s", path ? path : "");
}

static void on_data(void *arg, int rc, const char *data, size_t len, int32_t version) {
    res_t *r = arg;
    r->done = true;
    r->rc = rc;
    r->len = len < sizeof(r->data) ? len : sizeof(r->data) - 1;
    if (data) {
        memcpy(r->data, data, r->len);
    }
    r->data[r->len] = '\0';
    r->version = version;
}

static void on_done(void *arg, int rc) {
    res_t *r = arg;
    r->done = true;
    r->rc = rc;
}

static void on_children(void *arg, int rc, const char *const *names, size_t count) {
    res_t *r = arg;
    r->done = true;
    r->rc = rc;
    r->count = count;
    for (size_t i = 0; i < count && i < 16; i++) {
        snprintf(r->names[i], sizeof(r->names[i]), "%s", names[i]);
    }
}

typedef struct watch_log {
    int fired;
    coord_event_t ev[8];
    char path[8][128];
} watch_log_t;

static void on_watch(void *arg, coord_event_t ev, const char *path) {
    watch_log_t *w = arg;
    if (w->fired < 8) {
        w->ev[w->fired] = ev;
        snprintf(w->path[w->fired], sizeof(w->path[0]), "%s", path ? path : "");
    }
    w->fired++;
}

static bool watch_fired(void *arg) {
    return ((watch_log_t *)arg)->fired > 0;
}

/* Synchronous-looking helpers for the tests (each runs the loop to the completion). */
static uv_loop_t *g_loop;

static res_t do_create(coord_t *c, const char *path, const char *data, int flags) {
    res_t r = {0};
    assert_int_equal(coord_create(c, path, data, data ? strlen(data) : 0, flags, on_create, &r), 0);
    assert_false(r.done); /* delivered from the loop, not re-entrantly */
    assert_true(run_until(g_loop, res_done, &r, 5000));
    return r;
}

static res_t do_get(coord_t *c, const char *path, watch_log_t *w) {
    res_t r = {0};
    assert_int_equal(coord_get(c, path, w ? on_watch : NULL, w, on_data, &r), 0);
    assert_true(run_until(g_loop, res_done, &r, 5000));
    return r;
}

static res_t do_set(coord_t *c, const char *path, const char *data, int32_t version) {
    res_t r = {0};
    assert_int_equal(coord_set(c, path, data, strlen(data), version, on_data, &r), 0);
    assert_true(run_until(g_loop, res_done, &r, 5000));
    return r;
}

static res_t do_remove(coord_t *c, const char *path, int32_t version) {
    res_t r = {0};
    assert_int_equal(coord_remove(c, path, version, on_done, &r), 0);
    assert_true(run_until(g_loop, res_done, &r, 5000));
    return r;
}

static res_t do_children(coord_t *c, const char *path, watch_log_t *w) {
    res_t r = {0};
    assert_int_equal(coord_children(c, path, w ? on_watch : NULL, w, on_children, &r), 0);
    assert_true(run_until(g_loop, res_done, &r, 5000));
    return r;
}

static res_t do_multi(coord_t *c, const coord_op_t *ops, size_t n) {
    res_t r = {0};
    assert_int_equal(coord_multi(c, ops, n, on_done, &r), 0);
    assert_true(run_until(g_loop, res_done, &r, 5000));
    return r;
}

static void test_coord_local_versions_and_checks(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    g_loop = &loop;
    coord_t *c;
    assert_int_equal(coord_local_open(&loop, NULL, &c), 0);
    assert_int_equal(do_create(c, "/a", "one", COORD_PERSISTENT).rc, 0);
    assert_int_equal(do_create(c, "/a", "x", COORD_PERSISTENT).rc, STRATA_EEXISTS);
    assert_int_equal(do_create(c, "/missing/child", "x", COORD_PERSISTENT).rc, STRATA_ENOTFOUND);
    res_t g = do_get(c, "/a", NULL);
    assert_int_equal(g.rc, 0);
    assert_string_equal(g.data, "one");
    assert_int_equal(g.version, 0);
    res_t s = do_set(c, "/a", "two", 0);
    assert_int_equal(s.rc, 0);
    assert_int_equal(s.version, 1);
    assert_int_equal(do_set(c, "/a", "three", 0).rc, STRATA_EBADVERSION);
    assert_int_equal(do_set(c, "/a", "three", -1).version, 2);
    assert_int_equal(do_set(c, "/nope", "x", -1).rc, STRATA_ENOTFOUND);
    assert_int_equal(do_create(c, "/a/b", NULL, COORD_PERSISTENT).rc, 0);
    assert_int_equal(do_remove(c, "/a", -1).rc, STRATA_ENOTEMPTY);
    assert_int_equal(do_remove(c, "/a/b", 5).rc, STRATA_EBADVERSION);
    assert_int_equal(do_remove(c, "/a/b", 0).rc, 0);
    assert_int_equal(do_remove(c, "/a", 2).rc, 0);
    assert_int_equal(do_get(c, "/a", NULL).rc, STRATA_ENOTFOUND);
    /* Bad paths are refused synchronously. */
    assert_int_equal(coord_create(c, "relative", NULL, 0, 0, on_create, NULL), STRATA_EINVAL);
    assert_int_equal(coord_create(c, "/x/", NULL, 0, 0, on_create, NULL), STRATA_EINVAL);
    assert_int_equal(coord_get(c, "/x//y", NULL, NULL, on_data, NULL), STRATA_EINVAL);
    coord_close(c);
    drain(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_coord_local_watches_fire_once(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    g_loop = &loop;
    coord_t *c;
    assert_int_equal(coord_local_open(&loop, NULL, &c), 0);
    /* exists watch on a missing node fires CREATED */
    watch_log_t w1 = {0};
    assert_int_equal(do_get(c, "/n", &w1).rc, STRATA_ENOTFOUND);
    assert_int_equal(do_create(c, "/n", "v", COORD_PERSISTENT).rc, 0);
    assert_true(run_until(&loop, watch_fired, &w1, 5000));
    assert_int_equal(w1.ev[0], COORD_EV_CREATED);
    assert_string_equal(w1.path[0], "/n");
    /* data watch fires CHANGED once, not again for a second set */
    watch_log_t w2 = {0};
    do_get(c, "/n", &w2);
    do_get(c, "/n", &w2); /* the same watcher registered twice fires once */
    do_set(c, "/n", "v2", -1);
    do_set(c, "/n", "v3", -1);
    assert_true(run_until(&loop, watch_fired, &w2, 5000));
    do_get(c, "/n", NULL); /* a round trip: anything pending has arrived */
    assert_int_equal(w2.fired, 1);
    assert_int_equal(w2.ev[0], COORD_EV_CHANGED);
    /* child watch fires CHILDREN on create; data watch fires DELETED on delete */
    watch_log_t w3 = {0}, w4 = {0};
    res_t ch = do_children(c, "/n", &w3);
    assert_int_equal(ch.count, 0);
    assert_int_equal(do_create(c, "/n/k", NULL, COORD_PERSISTENT).rc, 0);
    assert_true(run_until(&loop, watch_fired, &w3, 5000));
    assert_int_equal(w3.ev[0], COORD_EV_CHILDREN);
    assert_string_equal(w3.path[0], "/n");
    do_get(c, "/n/k", &w4);
    watch_log_t w5 = {0};
    do_children(c, "/n", &w5);
    assert_int_equal(do_remove(c, "/n/k", -1).rc, 0);
    assert_true(run_until(&loop, watch_fired, &w4, 5000));
    assert_int_equal(w4.ev[0], COORD_EV_DELETED);
    assert_true(run_until(&loop, watch_fired, &w5, 5000));
    assert_int_equal(w5.ev[0], COORD_EV_CHILDREN);
    /* children are sorted */
    do_create(c, "/n/b", NULL, 0);
    do_create(c, "/n/a", NULL, 0);
    do_create(c, "/n/c", NULL, 0);
    ch = do_children(c, "/n", NULL);
    assert_int_equal(ch.count, 3);
    assert_string_equal(ch.names[0], "a");
    assert_string_equal(ch.names[2], "c");
    coord_close(c);
    drain(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_coord_local_ephemerals_and_sessions(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    g_loop = &loop;
    coord_t *a, *b;
    assert_int_equal(coord_local_open(&loop, NULL, &a), 0);
    assert_int_equal(coord_local_open_session(a, &b), 0);
    assert_int_equal(do_create(a, "/ids", NULL, COORD_PERSISTENT).rc, 0);
    assert_int_equal(do_create(b, "/ids/1", "b", COORD_EPHEMERAL).rc, 0);
    assert_int_equal(do_create(b, "/ids/1/x", NULL, 0).rc, STRATA_EINVAL); /* no children */
    watch_log_t w = {0}, wc = {0};
    assert_int_equal(do_get(a, "/ids/1", &w).rc, 0);
    do_children(a, "/ids", &wc);
    coord_close(b); /* b's ephemerals vanish; a's watches fire */
    assert_true(run_until(&loop, watch_fired, &w, 5000));
    assert_int_equal(w.ev[0], COORD_EV_DELETED);
    assert_true(run_until(&loop, watch_fired, &wc, 5000));
    assert_int_equal(do_get(a, "/ids/1", NULL).rc, STRATA_ENOTFOUND);
    /* expiry: the ephemeral goes, the session watch hears it, the handle carries on */
    assert_int_equal(do_create(a, "/ids/2", "a", COORD_EPHEMERAL).rc, 0);
    watch_log_t sw = {0};
    a->vt->set_session_watch(a, on_watch, &sw);
    coord_local_expire(a);
    assert_true(run_until(&loop, watch_fired, &sw, 5000));
    assert_int_equal(sw.ev[0], COORD_EV_SESSION_EXPIRED);
    assert_int_equal(do_get(a, "/ids/2", NULL).rc, STRATA_ENOTFOUND);
    assert_int_equal(do_create(a, "/ids/2", "a", COORD_EPHEMERAL).rc, 0);
    /* pending completions of a closed session get ESHUTDOWN */
    res_t r = {0};
    assert_int_equal(coord_get(a, "/ids/2", NULL, NULL, on_data, &r), 0);
    coord_close(a);
    assert_true(run_until(&loop, res_done, &r, 5000));
    assert_int_equal(r.rc, STRATA_ESHUTDOWN);
    drain(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_coord_local_sequential(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    g_loop = &loop;
    coord_t *c;
    assert_int_equal(coord_local_open(&loop, NULL, &c), 0);
    do_create(c, "/q", NULL, 0);
    res_t r1 = do_create(c, "/q/item_", "1", COORD_SEQUENTIAL);
    res_t r2 = do_create(c, "/q/item_", "2", COORD_SEQUENTIAL | COORD_EPHEMERAL);
    assert_int_equal(r1.rc, 0);
    assert_string_equal(r1.path, "/q/item_0000000000");
    assert_string_equal(r2.path, "/q/item_0000000001");
    coord_close(c);
    drain(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_coord_local_multi_is_atomic(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    g_loop = &loop;
    coord_t *c;
    assert_int_equal(coord_local_open(&loop, NULL, &c), 0);
    do_create(c, "/epoch", "0", 0);
    watch_log_t w = {0};
    do_get(c, "/epoch", &w);
    /* second op fails: nothing from the first stays, and no watch fires */
    coord_op_t bad[] = {
        {.type = COORD_OP_CREATE,
         .path = "/controller",
         .data = "1",
         .len = 1,
         .flags = COORD_EPHEMERAL},
        {.type = COORD_OP_SET, .path = "/epoch", .data = "1", .len = 1, .version = 0},
        {.type = COORD_OP_DELETE, .path = "/nothing", .version = -1},
    };
    assert_int_equal(do_multi(c, bad, 3).rc, STRATA_ENOTFOUND);
    assert_int_equal(do_get(c, "/controller", NULL).rc, STRATA_ENOTFOUND);
    res_t g = do_get(c, "/epoch", NULL);
    assert_string_equal(g.data, "0");
    assert_int_equal(g.version, 0);
    assert_int_equal(w.fired, 0);
    /* a create inside a multi followed by a child of it, then success */
    coord_op_t good[] = {
        {.type = COORD_OP_CHECK, .path = "/epoch", .version = 0},
        {.type = COORD_OP_CREATE, .path = "/t", .flags = COORD_PERSISTENT},
        {.type = COORD_OP_CREATE, .path = "/t/p", .data = "x", .len = 1},
        {.type = COORD_OP_SET, .path = "/epoch", .data = "1", .len = 1, .version = 0},
    };
    assert_int_equal(do_multi(c, good, 4).rc, 0);
    assert_true(run_until(&loop, watch_fired, &w, 5000));
    assert_int_equal(do_get(c, "/t/p", NULL).rc, 0);
    assert_int_equal(do_get(c, "/epoch", NULL).version, 1);
    /* deleting in a multi then failing restores the node */
    coord_op_t undo[] = {
        {.type = COORD_OP_DELETE, .path = "/t/p", .version = -1},
        {.type = COORD_OP_CHECK, .path = "/epoch", .version = 0},
    };
    assert_int_equal(do_multi(c, undo, 2).rc, STRATA_EBADVERSION);
    assert_string_equal(do_get(c, "/t/p", NULL).data, "x");
    assert_int_equal(do_children(c, "/t", NULL).count, 1);
    coord_close(c);
    drain(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_coord_local_persists_across_reopen(void **state) {
    (void)state;
    char *dir = tmpdir_new();
    char *file = xasprintf("%s/coord.dat", dir);
    uv_loop_t loop;
    uv_loop_init(&loop);
    g_loop = &loop;
    coord_t *c;
    assert_int_equal(coord_local_open(&loop, file, &c), 0);
    do_create(c, "/brokers", NULL, 0);
    do_create(c, "/brokers/topics", NULL, 0);
    do_create(c, "/brokers/topics/t", "{\"v\":1}", 0);
    do_set(c, "/brokers/topics/t", "{\"v\":2}", -1);
    do_create(c, "/brokers/ids", NULL, 0);
    do_create(c, "/brokers/ids/1", "eph", COORD_EPHEMERAL);
    do_create(c, "/brokers/seq_", NULL, COORD_SEQUENTIAL);
    /* Many changes in one turn coalesce; the completion comes once they are durable. */
    res_t last = {0};
    for (int i = 0; i < 50; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/k%d", i);
        coord_create(c, p, "v", 1, 0, i == 49 ? on_create : NULL, i == 49 ? &last : NULL);
    }
    assert_true(run_until(&loop, res_done, &last, 5000));
    assert_int_equal(last.rc, 0);
    coord_close(c);
    drain(&loop);

    assert_int_equal(coord_local_open(&loop, file, &c), 0);
    res_t g = do_get(c, "/brokers/topics/t", NULL);
    assert_int_equal(g.rc, 0);
    assert_string_equal(g.data, "{\"v\":2}");
    assert_int_equal(g.version, 1);
    assert_int_equal(do_get(c, "/brokers/ids/1", NULL).rc, STRATA_ENOTFOUND); /* ephemeral */
    assert_int_equal(do_get(c, "/k49", NULL).rc, 0);
    res_t ch = do_children(c, "/brokers", NULL);
    assert_int_equal(ch.count, 3); /* ids, seq_0000000000, topics */
    /* the sequence counter survives: no reuse of a name */
    res_t s = do_create(c, "/brokers/seq_", NULL, COORD_SEQUENTIAL);
    assert_string_not_equal(s.path, "/brokers/seq_0000000000");
    coord_close(c);
    drain(&loop);

    /* A corrupt file is refused with a clear error, not a crash. */
    FILE *f = fopen(file, "r+b");
    assert_non_null(f);
    fseek(f, 10, SEEK_SET);
    fputc('X', f);
    fclose(f);
    assert_int_equal(coord_local_open(&loop, file, &c), STRATA_ECORRUPT);
    assert_int_equal(uv_loop_close(&loop), 0);
    free(file);
    tmpdir_remove(dir);
}

/* Changes made in one loop turn share one file write (and its fsyncs). */
static void test_coord_local_coalesces_writes(void **state) {
    (void)state;
    char *dir = tmpdir_new();
    char *file = xasprintf("%s/coord.dat", dir);
    uv_loop_t loop;
    uv_loop_init(&loop);
    g_loop = &loop;
    coord_t *c;
    assert_int_equal(coord_local_open(&loop, file, &c), 0);
    fault_fs_reset();
    fault_fs_fail_rename(1000000, EIO); /* installs the counting table, never fires */
    res_t last = {0};
    for (int i = 0; i < 100; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/n%d", i);
        assert_int_equal(
            coord_create(c, p, "v", 1, 0, i == 99 ? on_create : NULL, i == 99 ? &last : NULL), 0);
    }
    assert_true(run_until(&loop, res_done, &last, 5000));
    /* one fs_atomic_replace: an fsync of the file and one of the directory */
    assert_int_equal(fault_fs_fsync_count(), 2);
    fault_fs_reset();
    coord_close(c);
    drain(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
    free(file);
    tmpdir_remove(dir);
}

/* A failed write is logged and retried with the next change; nothing stalls. */
static void test_coord_local_write_failure_recovers(void **state) {
    (void)state;
    char *dir = tmpdir_new();
    char *file = xasprintf("%s/coord.dat", dir);
    uv_loop_t loop;
    uv_loop_init(&loop);
    g_loop = &loop;
    coord_t *c;
    assert_int_equal(coord_local_open(&loop, file, &c), 0);
    fault_fs_reset();
    fault_fs_fail_write(1, ENOSPC);
    assert_int_equal(do_create(c, "/a", "1", 0).rc, 0); /* answered; the write failed */
    fault_fs_reset();
    assert_int_equal(do_create(c, "/b", "2", 0).rc, 0);
    coord_close(c);
    drain(&loop);
    assert_int_equal(coord_local_open(&loop, file, &c), 0);
    assert_int_equal(do_get(c, "/a", NULL).rc, 0); /* the next write carried both */
    assert_int_equal(do_get(c, "/b", NULL).rc, 0);
    coord_close(c);
    drain(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
    free(file);
    tmpdir_remove(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coord_local_versions_and_checks),
        cmocka_unit_test(test_coord_local_watches_fire_once),
        cmocka_unit_test(test_coord_local_ephemerals_and_sessions),
        cmocka_unit_test(test_coord_local_sequential),
        cmocka_unit_test(test_coord_local_multi_is_atomic),
        cmocka_unit_test(test_coord_local_persists_across_reopen),
        cmocka_unit_test(test_coord_local_coalesces_writes),
        cmocka_unit_test(test_coord_local_write_failure_recovers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
