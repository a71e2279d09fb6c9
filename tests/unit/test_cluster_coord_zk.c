/*
 * Tests of coord_zk against a real ZooKeeper (Debian's package) started by scripts/zk.sh on a
 * free loopback port with a temporary data dir: CRUD and version checks, watches that fire
 * once on the loop thread, ephemeral and sequential nodes, atomic multi, session expiry
 * (a second handle on the same session closes it), ZooKeeper stopped and restarted mid-run,
 * and close. Each test works under its own chroot. Skipped (with the reason) only when java
 * or the zookeeper package is absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>
#include <uv.h>
#include <zookeeper/zookeeper.h>

#include "cluster/coord_zk.h"
#include "strata/cluster.h"
#include "tmpdir.h"
#include "zk_server.h"

#define SESSION_MS 6000
#define WAIT_MS    30000

static zk_server_t g_zk;   /* the ZooKeeper these tests run against */
static char g_hosts[128];  /* "127.0.0.1:port" */
static const char *g_skip; /* reason to skip, or NULL */
static pthread_t g_loop_thread;
static int g_wrong_thread; /* callbacks seen off the loop thread */
static int g_chroot_seq;

/* ---------------------------------------------------------------- ZooKeeper process */

static int zk_script(const char *verb, char *out, size_t out_len) {
    return zk_server_script(&g_zk, verb, out, out_len);
}

static int group_setup(void **state) {
    (void)state;
    int rc = zk_server_start(&g_zk, __FILE__);
    g_skip = g_zk.skip;
    snprintf(g_hosts, sizeof(g_hosts), "%s", g_zk.hosts);
    g_loop_thread = pthread_self();
    return rc;
}

static int group_teardown(void **state) {
    (void)state;
    zk_server_stop(&g_zk);
    return 0;
}

/* ---------------------------------------------------------------- loop helpers */

static void check_thread(void) {
    if (!pthread_equal(pthread_self(), g_loop_thread)) {
        g_wrong_thread++;
    }
}

static void deadline_cb(uv_timer_t *t) {
    *(bool *)t->data = true;
}

/* Runs the loop until *flag or the deadline. @returns whether flag became true. */
static bool run_until(uv_loop_t *loop, const bool *flag, int ms) {
    bool expired = false;
    uv_timer_t t;
    uv_timer_init(loop, &t);
    t.data = &expired;
    uv_timer_start(&t, deadline_cb, (uint64_t)ms, 0);
    while (!*flag && !expired) {
        uv_run(loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *flag;
}

typedef struct res {
    bool done;
    int calls;
    int rc;
    char data[512];
    size_t len;
    int32_t version;
    char path[256];
    char names[16][64];
    size_t count;
} res_t;

static void on_create(void *arg, int rc, const char *path) {
    res_t *r = arg;
    check_thread();
    r->calls++;
    r->rc = rc;
    snprintf(r->path, sizeof(r->path), "%s", path ? path : "");
    r->done = true;
}

static void on_data(void *arg, int rc, const char *data, size_t len, int32_t version) {
    res_t *r = arg;
    check_thread();
    r->calls++;
    r->rc = rc;
    r->len = len;
    if (data && len < sizeof(r->data)) {
        memcpy(r->data, data, len);
        r->data[len] = '\0';
    } else {
        r->data[0] = '\0';
    }
    r->version = version;
    r->done = true;
}

static void on_done(void *arg, int rc) {
    res_t *r = arg;
    check_thread();
    r->calls++;
    r->rc = rc;
    r->done = true;
}

static void on_children(void *arg, int rc, const char *const *names, size_t count) {
    res_t *r = arg;
    check_thread();
    r->calls++;
    r->rc = rc;
    r->count = count;
    for (size_t i = 0; i < count && i < 16; i++) {
        snprintf(r->names[i], sizeof(r->names[i]), "%s", names[i]);
    }
    r->done = true;
}

typedef struct wrec {
    bool fired;
    int count;
    coord_event_t ev;
    char path[256];
    int expired;
    int connected;
    bool session_flag;
    bool expired_flag;
} wrec_t;

static void on_watch(void *arg, coord_event_t ev, const char *path) {
    wrec_t *w = arg;
    check_thread();
    w->count++;
    w->ev = ev;
    snprintf(w->path, sizeof(w->path), "%s", path ? path : "");
    w->fired = true;
}

static void on_session(void *arg, coord_event_t ev, const char *path) {
    wrec_t *w = arg;
    check_thread();
    assert_null(path);
    if (ev == COORD_EV_SESSION_EXPIRED) {
        w->expired++;
        w->expired_flag = true;
    } else if (ev == COORD_EV_CONNECTED) {
        w->connected++;
    }
    w->session_flag = true;
}

/* Synchronous wrappers for the tests (they run the loop; nothing blocks inside it). */
static int t_create(uv_loop_t *l, coord_t *c, const char *path, const char *data, int flags,
                    char *created) {
    res_t r = {0};
    assert_int_equal(coord_create(c, path, data, data ? strlen(data) : 0, flags, on_create, &r), 0);
    assert_true(run_until(l, &r.done, WAIT_MS));
    assert_int_equal(r.calls, 1);
    if (created) {
        strcpy(created, r.path);
    }
    return r.rc;
}

static int t_get(uv_loop_t *l, coord_t *c, const char *path, wrec_t *w, res_t *out) {
    res_t r = {0};
    assert_int_equal(coord_get(c, path, w ? on_watch : NULL, w, on_data, &r), 0);
    assert_true(run_until(l, &r.done, WAIT_MS));
    assert_int_equal(r.calls, 1);
    if (out) {
        *out = r;
    }
    return r.rc;
}

static int t_set(uv_loop_t *l, coord_t *c, const char *path, const char *data, int32_t version,
                 int32_t *newver) {
    res_t r = {0};
    assert_int_equal(coord_set(c, path, data, strlen(data), version, on_data, &r), 0);
    assert_true(run_until(l, &r.done, WAIT_MS));
    if (newver) {
        *newver = r.version;
    }
    return r.rc;
}

static int t_remove(uv_loop_t *l, coord_t *c, const char *path, int32_t version) {
    res_t r = {0};
    assert_int_equal(coord_remove(c, path, version, on_done, &r), 0);
    assert_true(run_until(l, &r.done, WAIT_MS));
    return r.rc;
}

static int t_children(uv_loop_t *l, coord_t *c, const char *path, wrec_t *w, res_t *out) {
    res_t r = {0};
    assert_int_equal(coord_children(c, path, w ? on_watch : NULL, w, on_children, &r), 0);
    assert_true(run_until(l, &r.done, WAIT_MS));
    if (out) {
        *out = r;
    }
    return r.rc;
}

static int t_multi(uv_loop_t *l, coord_t *c, const coord_op_t *ops, size_t n) {
    res_t r = {0};
    assert_int_equal(coord_multi(c, ops, n, on_done, &r), 0);
    assert_true(run_until(l, &r.done, WAIT_MS));
    assert_int_equal(r.calls, 1);
    return r.rc;
}

/* Opens a coord on a fresh chroot; chroot_out receives it ("/coordzk-<pid>-<n>"). */
static coord_t *open_fresh(uv_loop_t *l, char *chroot_out) {
    char connect[256];
    char chroot[64];
    snprintf(chroot, sizeof(chroot), "/coordzk-%d-%d", (int)getpid(), ++g_chroot_seq);
    snprintf(connect, sizeof(connect), "%s%s", g_hosts, chroot);
    coord_t *c = NULL;
    assert_int_equal(coord_zk_open(l, connect, SESSION_MS, &c), 0);
    assert_non_null(c);
    if (chroot_out) {
        strcpy(chroot_out, chroot);
    }
    return c;
}

static coord_t *open_root(uv_loop_t *l) {
    coord_t *c = NULL;
    assert_int_equal(coord_zk_open(l, g_hosts, SESSION_MS, &c), 0);
    return c;
}

/* Closes c and runs the loop until every handle is gone (so: one coord per loop). */
static void close_and_finish(uv_loop_t *l, coord_t *c) {
    coord_close(c);
    uv_run(l, UV_RUN_DEFAULT);
}

#define SKIP_IF_NO_ZK()                                                                            \
    do {                                                                                           \
        if (g_skip) {                                                                              \
            fprintf(stderr, "SKIP: %s\n", g_skip);                                                 \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* ---------------------------------------------------------------- tests */

static void test_coord_zk_open_rejects_bad_connect(void **state) {
    (void)state;
    uv_loop_t l;
    uv_loop_init(&l);
    coord_t *c = NULL;
    assert_int_equal(coord_zk_open(&l, "", 6000, &c), STRATA_EINVAL);
    assert_int_equal(coord_zk_open(&l, "localhost", 6000, &c), STRATA_EINVAL);
    assert_int_equal(coord_zk_open(&l, "h:99999", 6000, &c), STRATA_EINVAL);
    assert_int_equal(coord_zk_open(&l, "h:2181//x", 6000, &c), STRATA_EINVAL);
    assert_int_equal(coord_zk_open(&l, "/chroot", 6000, &c), STRATA_EINVAL);
    assert_int_equal(coord_zk_open(&l, "h:2181", 0, &c), STRATA_EINVAL);
    assert_null(c);
    assert_int_equal(uv_loop_close(&l), 0);
}

static void test_coord_zk_crud_and_versions(void **state) {
    (void)state;
    SKIP_IF_NO_ZK();
    uv_loop_t l;
    uv_loop_init(&l);
    g_wrong_thread = 0;
    char chroot[64];
    coord_t *c = open_fresh(&l, chroot);
    res_t r;

    assert_int_equal(t_create(&l, c, "/a", "one", COORD_PERSISTENT, NULL), 0);
    assert_int_equal(t_create(&l, c, "/a", "dup", COORD_PERSISTENT, NULL), STRATA_EEXISTS);
    assert_int_equal(t_get(&l, c, "/a", NULL, &r), 0);
    assert_string_equal(r.data, "one");
    assert_int_equal(r.len, 3);
    assert_int_equal(r.version, 0);

    int32_t v = -1;
    assert_int_equal(t_set(&l, c, "/a", "two", 0, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(t_set(&l, c, "/a", "stale", 0, NULL), STRATA_EBADVERSION);
    assert_int_equal(t_set(&l, c, "/a", "any", -1, &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(t_get(&l, c, "/a", NULL, &r), 0);
    assert_string_equal(r.data, "any");

    assert_int_equal(t_create(&l, c, "/a/c", "", COORD_PERSISTENT, NULL), 0);
    assert_int_equal(t_create(&l, c, "/a/b", NULL, COORD_PERSISTENT, NULL), 0);
    assert_int_equal(t_children(&l, c, "/a", NULL, &r), 0);
    assert_int_equal(r.count, 2);
    assert_string_equal(r.names[0], "b"); /* sorted */
    assert_string_equal(r.names[1], "c");
    assert_int_equal(t_get(&l, c, "/a/b", NULL, &r), 0);
    assert_int_equal(r.len, 0);

    assert_int_equal(t_remove(&l, c, "/a", -1), STRATA_ENOTEMPTY);
    assert_int_equal(t_remove(&l, c, "/a/b", 7), STRATA_EBADVERSION);
    assert_int_equal(t_remove(&l, c, "/a/b", 0), 0);
    assert_int_equal(t_remove(&l, c, "/a/c", -1), 0);
    assert_int_equal(t_children(&l, c, "/a", NULL, &r), 0);
    assert_int_equal(r.count, 0);

    assert_int_equal(t_get(&l, c, "/nope", NULL, NULL), STRATA_ENOTFOUND);
    assert_int_equal(t_set(&l, c, "/nope", "x", -1, NULL), STRATA_ENOTFOUND);
    assert_int_equal(t_remove(&l, c, "/nope", -1), STRATA_ENOTFOUND);
    assert_int_equal(t_children(&l, c, "/nope", NULL, NULL), STRATA_ENOTFOUND);
    assert_int_equal(t_create(&l, c, "/x/y", "", COORD_PERSISTENT, NULL), STRATA_ENOTFOUND);
    assert_int_equal(coord_get(c, "relative", NULL, NULL, on_data, NULL), STRATA_EINVAL);
    assert_int_equal(coord_create(c, "/trailing/", "", 0, 0, on_create, NULL), STRATA_EINVAL);

    /* the chroot is real: seen from the root, the node lives under it */
    uv_loop_t l2;
    uv_loop_init(&l2);
    coord_t *root = open_root(&l2);
    char full[128];
    snprintf(full, sizeof(full), "%s/a", chroot);
    assert_int_equal(t_get(&l2, root, full, NULL, &r), 0);
    assert_string_equal(r.data, "any");
    close_and_finish(&l2, root);
    assert_int_equal(uv_loop_close(&l2), 0);

    assert_int_equal(g_wrong_thread, 0);
    close_and_finish(&l, c);
    assert_int_equal(uv_loop_close(&l), 0);
}

static void test_coord_zk_watches_fire_once_on_loop(void **state) {
    (void)state;
    SKIP_IF_NO_ZK();
    uv_loop_t l;
    uv_loop_init(&l);
    g_wrong_thread = 0;
    coord_t *c = open_fresh(&l, NULL);
    uv_loop_t l2;
    uv_loop_init(&l2);
    coord_t *other = open_fresh(&l2, NULL); /* a different chroot: never fires c's watches */
    res_t r;

    /* data watch on an absent node fires on create; armed twice, it fires once */
    wrec_t w = {0};
    assert_int_equal(t_get(&l, c, "/w", &w, NULL), STRATA_ENOTFOUND);
    assert_int_equal(t_get(&l, c, "/w", &w, NULL), STRATA_ENOTFOUND);
    assert_int_equal(t_create(&l, c, "/w", "v0", COORD_PERSISTENT, NULL), 0);
    assert_true(run_until(&l, &w.fired, WAIT_MS));
    assert_int_equal(w.ev, COORD_EV_CREATED);
    assert_string_equal(w.path, "/w");
    /* a later change does not fire it again: an event would come before this get's result */
    assert_int_equal(t_set(&l, c, "/w", "v1", -1, NULL), 0);
    assert_int_equal(t_get(&l, c, "/w", NULL, NULL), 0);
    assert_int_equal(w.count, 1);

    /* data watch on an existing node: CHANGED once */
    wrec_t w2 = {0};
    assert_int_equal(t_get(&l, c, "/w", &w2, &r), 0);
    assert_string_equal(r.data, "v1");
    assert_int_equal(t_set(&l, c, "/w", "v2", r.version, NULL), 0);
    assert_int_equal(t_set(&l, c, "/w", "v3", -1, NULL), 0);
    assert_true(run_until(&l, &w2.fired, WAIT_MS));
    assert_int_equal(t_get(&l, c, "/w", NULL, NULL), 0);
    assert_int_equal(w2.count, 1);
    assert_int_equal(w2.ev, COORD_EV_CHANGED);

    /* child watch: CHILDREN once, path is the parent's */
    wrec_t wc = {0};
    assert_int_equal(t_children(&l, c, "/w", &wc, &r), 0);
    assert_int_equal(r.count, 0);
    assert_int_equal(t_create(&l, c, "/w/k1", "", COORD_PERSISTENT, NULL), 0);
    assert_int_equal(t_create(&l, c, "/w/k2", "", COORD_PERSISTENT, NULL), 0);
    assert_true(run_until(&l, &wc.fired, WAIT_MS));
    assert_int_equal(t_get(&l, c, "/w", NULL, NULL), 0);
    assert_int_equal(wc.count, 1);
    assert_int_equal(wc.ev, COORD_EV_CHILDREN);
    assert_string_equal(wc.path, "/w");

    /* changes made by another client fire too; a different chroot's nodes do not */
    wrec_t wd = {0};
    assert_int_equal(t_get(&l, c, "/w", &wd, NULL), 0);
    assert_int_equal(t_create(&l2, other, "/w", "elsewhere", COORD_PERSISTENT, NULL), 0);
    assert_int_equal(t_set(&l2, other, "/w", "elsewhere2", -1, NULL), 0);
    assert_int_equal(t_get(&l, c, "/w", NULL, NULL), 0);
    assert_int_equal(wd.count, 0);
    assert_int_equal(t_remove(&l, c, "/w/k1", -1), 0);
    assert_int_equal(t_remove(&l, c, "/w/k2", -1), 0);
    assert_int_equal(t_remove(&l, c, "/w", -1), 0);
    assert_true(run_until(&l, &wd.fired, WAIT_MS));
    assert_int_equal(wd.ev, COORD_EV_DELETED);
    assert_int_equal(wd.count, 1);

    assert_int_equal(g_wrong_thread, 0);
    close_and_finish(&l2, other);
    assert_int_equal(uv_loop_close(&l2), 0);
    close_and_finish(&l, c);
    assert_int_equal(uv_loop_close(&l), 0);
}

static void test_coord_zk_ephemeral_gone_after_close(void **state) {
    (void)state;
    SKIP_IF_NO_ZK();
    uv_loop_t l;
    uv_loop_init(&l);
    g_wrong_thread = 0;
    char chroot[64];
    coord_t *c1 = open_fresh(&l, chroot);
    char connect[256];
    snprintf(connect, sizeof(connect), "%s%s", g_hosts, chroot);
    uv_loop_t l2;
    uv_loop_init(&l2);
    coord_t *c2 = NULL;
    assert_int_equal(coord_zk_open(&l2, connect, SESSION_MS, &c2), 0);

    assert_int_equal(t_create(&l, c1, "/e", "me", COORD_EPHEMERAL, NULL), 0);
    assert_int_equal(t_create(&l, c1, "/e/child", "", COORD_PERSISTENT, NULL), STRATA_EINVAL);
    char p1[256], p2[256];
    assert_int_equal(t_create(&l, c1, "/s-", "", COORD_EPHEMERAL | COORD_SEQUENTIAL, p1), 0);
    assert_int_equal(t_create(&l, c1, "/s-", "", COORD_EPHEMERAL | COORD_SEQUENTIAL, p2), 0);
    assert_int_equal(strlen(p1), strlen("/s-0000000000"));
    assert_int_equal(strncmp(p1, "/s-", 3), 0); /* chroot stripped */
    assert_true(strcmp(p1, p2) < 0);

    wrec_t w = {0};
    res_t r;
    assert_int_equal(t_get(&l2, c2, "/e", &w, &r), 0);
    assert_string_equal(r.data, "me");
    close_and_finish(&l, c1);
    assert_int_equal(uv_loop_close(&l), 0);
    assert_true(run_until(&l2, &w.fired, WAIT_MS));
    assert_int_equal(w.ev, COORD_EV_DELETED);
    assert_int_equal(t_get(&l2, c2, "/e", NULL, NULL), STRATA_ENOTFOUND);
    assert_int_equal(t_children(&l2, c2, "/", NULL, &r), 0);
    assert_int_equal(r.count, 0);

    assert_int_equal(g_wrong_thread, 0);
    close_and_finish(&l2, c2);
    assert_int_equal(uv_loop_close(&l2), 0);
}

static void test_coord_zk_multi_is_atomic(void **state) {
    (void)state;
    SKIP_IF_NO_ZK();
    uv_loop_t l;
    uv_loop_init(&l);
    coord_t *c = open_fresh(&l, NULL);
    res_t r;

    assert_int_equal(t_create(&l, c, "/controller_epoch", "1", COORD_PERSISTENT, NULL), 0);
    const char *ctl = "{\"version\":1,\"brokerid\":1,\"timestamp\":\"1\"}";
    coord_op_t ops[2] = {
        {.type = COORD_OP_CREATE,
         .path = "/controller",
         .data = ctl,
         .len = strlen(ctl),
         .flags = COORD_EPHEMERAL},
        {.type = COORD_OP_SET, .path = "/controller_epoch", .data = "2", .len = 1, .version = 0},
    };
    assert_int_equal(t_multi(&l, c, ops, 2), 0);
    assert_int_equal(t_get(&l, c, "/controller", NULL, &r), 0);
    assert_string_equal(r.data, ctl);
    assert_int_equal(t_get(&l, c, "/controller_epoch", NULL, &r), 0);
    assert_string_equal(r.data, "2");
    assert_int_equal(r.version, 1);

    /* a stale epoch version fails the whole transaction */
    coord_op_t stale[2] = {
        {.type = COORD_OP_CREATE, .path = "/controller2", .data = "x", .len = 1},
        {.type = COORD_OP_SET, .path = "/controller_epoch", .data = "3", .len = 1, .version = 0},
    };
    assert_int_equal(t_multi(&l, c, stale, 2), STRATA_EBADVERSION);
    assert_int_equal(t_get(&l, c, "/controller2", NULL, NULL), STRATA_ENOTFOUND);
    assert_int_equal(t_get(&l, c, "/controller_epoch", NULL, &r), 0);
    assert_string_equal(r.data, "2");

    /* an existing /controller fails it too; check and delete ops work */
    assert_int_equal(t_multi(&l, c, ops, 2), STRATA_EEXISTS);
    coord_op_t del[2] = {
        {.type = COORD_OP_CHECK, .path = "/controller_epoch", .version = 1},
        {.type = COORD_OP_DELETE, .path = "/controller", .version = -1},
    };
    assert_int_equal(t_multi(&l, c, del, 2), 0);
    assert_int_equal(t_get(&l, c, "/controller", NULL, NULL), STRATA_ENOTFOUND);
    del[0].version = 0;
    assert_int_equal(t_multi(&l, c, del, 2), STRATA_EBADVERSION);

    close_and_finish(&l, c);
    assert_int_equal(uv_loop_close(&l), 0);
}

static void noop_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx) {
    (void)zh;
    (void)type;
    (void)state;
    (void)path;
    (void)ctx;
}

/* The ZooKeeper FAQ trick: a second handle on the same session id and password, then closed,
 * ends the session; the first handle sees it expired when it reconnects. Runs on the test
 * thread while the loop is idle (blocking calls are fine here, not in the loop). */
static void expire_session(coord_t *c) {
    clientid_t id;
    memset(&id, 0, sizeof(id));
    assert_int_equal(coord_zk_session(c, &id.client_id, id.passwd), 0);
    zhandle_t *zh = zookeeper_init(g_hosts, noop_watcher, SESSION_MS, &id, NULL, 0);
    assert_non_null(zh);
    /* connected, or already expired (an earlier attempt ended the session) */
    for (int i = 0; i < 1000; i++) {
        int st = zoo_state(zh);
        if (st == ZOO_CONNECTED_STATE || st == ZOO_EXPIRED_SESSION_STATE) {
            break;
        }
        usleep(10 * 1000); /* polling a condition with a deadline, off the loop */
    }
    zookeeper_close(zh);
}

static void test_coord_zk_session_expiry_reopens(void **state) {
    (void)state;
    SKIP_IF_NO_ZK();
    uv_loop_t l;
    uv_loop_init(&l);
    g_wrong_thread = 0;
    coord_t *c = open_fresh(&l, NULL);
    wrec_t s = {0};
    c->vt->set_session_watch(c, on_session, &s);

    assert_int_equal(t_create(&l, c, "/reg", "1", COORD_EPHEMERAL, NULL), 0);
    wrec_t w = {0};
    assert_int_equal(t_get(&l, c, "/reg", &w, NULL), 0);
    int64_t before = 0;
    char pw[16];
    assert_int_equal(coord_zk_session(c, &before, pw), 0);

    bool expired = false;
    for (int attempt = 0; attempt < 5 && !expired; attempt++) {
        expire_session(c);
        expired = run_until(&l, &s.expired_flag, 5000);
    }
    assert_int_equal(s.expired, 1);
    /* The old connection may still see its ephemeral go before it learns of the expiry
     * (ZooKeeper keeps a moved session's watches on the old connection): at most that. */
    int fired_before = w.count;
    assert_true(fired_before <= 1);
    if (fired_before) {
        assert_int_equal(w.ev, COORD_EV_DELETED);
    }

    /* a new session: the ephemeral went with the old one and can be registered again */
    assert_int_equal(t_create(&l, c, "/reg", "2", COORD_EPHEMERAL, NULL), 0);
    res_t r;
    assert_int_equal(t_get(&l, c, "/reg", NULL, &r), 0);
    assert_string_equal(r.data, "2");
    int64_t after = 0;
    assert_int_equal(coord_zk_session(c, &after, pw), 0);
    assert_true(after != before);
    /* watches of the dead session never fire again */
    assert_int_equal(t_set(&l, c, "/reg", "3", -1, NULL), 0);
    assert_int_equal(t_remove(&l, c, "/reg", -1), 0);
    assert_int_equal(t_get(&l, c, "/reg", NULL, NULL), STRATA_ENOTFOUND);
    assert_int_equal(w.count, fired_before);

    assert_int_equal(g_wrong_thread, 0);
    close_and_finish(&l, c);
    assert_int_equal(uv_loop_close(&l), 0);
}

static void test_coord_zk_close_delivers_shutdown(void **state) {
    (void)state;
    SKIP_IF_NO_ZK();
    uv_loop_t l;
    uv_loop_init(&l);
    coord_t *c = open_fresh(&l, NULL);
    assert_int_equal(t_create(&l, c, "/n", "1", COORD_PERSISTENT, NULL), 0);
    res_t r1 = {0}, r2 = {0}, r3 = {0};
    wrec_t w = {0};
    assert_int_equal(coord_get(c, "/n", on_watch, &w, on_data, &r1), 0);
    assert_int_equal(coord_create(c, "/m", "", 0, 0, on_create, &r2), 0);
    assert_int_equal(coord_children(c, "/", on_watch, &w, on_children, &r3), 0);
    coord_close(c);
    assert_int_equal(r1.calls, 1);
    assert_int_equal(r1.rc, STRATA_ESHUTDOWN);
    assert_int_equal(r2.calls, 1);
    assert_int_equal(r2.rc, STRATA_ESHUTDOWN);
    assert_int_equal(r3.calls, 1);
    assert_int_equal(r3.rc, STRATA_ESHUTDOWN);
    uv_run(&l, UV_RUN_DEFAULT);
    assert_int_equal(r1.calls, 1); /* nothing after close */
    assert_int_equal(r2.calls, 1);
    assert_int_equal(r3.calls, 1);
    assert_int_equal(w.count, 0);
    assert_int_equal(uv_loop_close(&l), 0);

    /* a coord closed before its handle even exists */
    uv_loop_init(&l);
    c = open_fresh(&l, NULL);
    res_t r4 = {0};
    assert_int_equal(coord_get(c, "/n", NULL, NULL, on_data, &r4), 0);
    close_and_finish(&l, c);
    assert_int_equal(r4.calls, 1);
    assert_int_equal(r4.rc, STRATA_ESHUTDOWN);
    assert_int_equal(uv_loop_close(&l), 0);
}

static void test_coord_zk_nested_chroot_created(void **state) {
    (void)state;
    SKIP_IF_NO_ZK();
    uv_loop_t l;
    uv_loop_init(&l);
    char connect[256];
    snprintf(connect, sizeof(connect), "%s/nested-%d/a/b/", g_hosts, (int)getpid());
    coord_t *c = NULL;
    assert_int_equal(coord_zk_open(&l, connect, SESSION_MS, &c), 0);
    res_t r;
    assert_int_equal(t_create(&l, c, "/n", "x", COORD_PERSISTENT, NULL), 0);
    assert_int_equal(t_children(&l, c, "/", NULL, &r), 0);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.names[0], "n");
    close_and_finish(&l, c);
    assert_int_equal(uv_loop_close(&l), 0);

    uv_loop_init(&l);
    coord_t *root = open_root(&l);
    char full[128];
    snprintf(full, sizeof(full), "/nested-%d/a/b/n", (int)getpid());
    assert_int_equal(t_get(&l, root, full, NULL, &r), 0);
    assert_string_equal(r.data, "x");
    close_and_finish(&l, root);
    assert_int_equal(uv_loop_close(&l), 0);
}

static void test_coord_zk_unreachable_server_fails_with_connloss(void **state) {
    (void)state;
    uv_loop_t l;
    uv_loop_init(&l);
    /* a loopback port nobody listens on: bind one, note it, close it */
    uv_tcp_t probe;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(&l, &probe);
    assert_int_equal(uv_tcp_bind(&probe, (const struct sockaddr *)&addr, 0), 0);
    struct sockaddr_in bound;
    int len = sizeof(bound);
    assert_int_equal(uv_tcp_getsockname(&probe, (struct sockaddr *)&bound, &len), 0);
    uv_close((uv_handle_t *)&probe, NULL);
    uv_run(&l, UV_RUN_NOWAIT);
    char connect[64];
    snprintf(connect, sizeof(connect), "127.0.0.1:%d", ntohs(bound.sin_port));

    coord_t *c = NULL;
    assert_int_equal(coord_zk_open(&l, connect, SESSION_MS, &c), 0);
    res_t r = {0};
    assert_int_equal(coord_get(c, "/x", NULL, NULL, on_data, &r), 0);
    assert_true(run_until(&l, &r.done, WAIT_MS));
    assert_int_equal(r.rc, STRATA_ECONNLOSS); /* the caller retries */
    close_and_finish(&l, c);                  /* and closing without ever connecting is clean */
    assert_int_equal(uv_loop_close(&l), 0);
}

/* Last: it stops the shared ZooKeeper. */
static void test_coord_zk_survives_zookeeper_restart(void **state) {
    (void)state;
    SKIP_IF_NO_ZK();
    uv_loop_t l;
    uv_loop_init(&l);
    g_wrong_thread = 0;
    coord_t *c = open_fresh(&l, NULL);
    wrec_t s = {0};
    c->vt->set_session_watch(c, on_session, &s);
    assert_int_equal(t_create(&l, c, "/eph", "alive", COORD_EPHEMERAL, NULL), 0);

    assert_int_equal(zk_script("stop", NULL, 0), 0);
    /* in flight while the server is down: fails with ECONNLOSS (the caller retries) */
    res_t r = {0};
    assert_int_equal(t_get(&l, c, "/eph", NULL, &r), STRATA_ECONNLOSS);

    char port[64];
    assert_int_equal(zk_script("start", port, sizeof(port)), 0);
    s.session_flag = false;
    assert_true(run_until(&l, &s.session_flag, WAIT_MS));
    assert_int_equal(s.connected, 1);
    assert_int_equal(s.expired, 0);

    /* the same session resumed: operations work and the ephemeral survived */
    int rc = STRATA_ECONNLOSS;
    for (int i = 0; i < 50 && rc == STRATA_ECONNLOSS; i++) {
        rc = t_get(&l, c, "/eph", NULL, &r);
    }
    assert_int_equal(rc, 0);
    assert_string_equal(r.data, "alive");
    assert_int_equal(t_create(&l, c, "/after", "", COORD_PERSISTENT, NULL), 0);

    assert_int_equal(g_wrong_thread, 0);
    close_and_finish(&l, c);
    assert_int_equal(uv_loop_close(&l), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coord_zk_open_rejects_bad_connect),
        cmocka_unit_test(test_coord_zk_crud_and_versions),
        cmocka_unit_test(test_coord_zk_watches_fire_once_on_loop),
        cmocka_unit_test(test_coord_zk_ephemeral_gone_after_close),
        cmocka_unit_test(test_coord_zk_multi_is_atomic),
        cmocka_unit_test(test_coord_zk_session_expiry_reopens),
        cmocka_unit_test(test_coord_zk_close_delivers_shutdown),
        cmocka_unit_test(test_coord_zk_nested_chroot_created),
        cmocka_unit_test(test_coord_zk_unreachable_server_fails_with_connloss),
        cmocka_unit_test(test_coord_zk_survives_zookeeper_restart),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
