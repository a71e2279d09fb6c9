/*
 * The controller, registration and metadata cache over a real ZooKeeper (Debian's package,
 * started by scripts/zk.sh on a free loopback port with a temporary data dir): three brokers
 * on two racks in one process, each with its own ZooKeeper session, under a fresh chroot per
 * test. Checks what lands in ZooKeeper (Kafka's paths and JSON) and what every broker's cache
 * shows; failover when the controller's session closes; a duplicate broker id; delete and
 * re-create. Skipped (with the reason) only when java or the zookeeper package is absent.
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
#include <uv.h>

#include <zookeeper/zookeeper.h>

#include "cluster/cluster_int.h"
#include "cluster/coord_zk.h"
#include "strata/cluster.h"
#include "tmpdir.h"
#include "zk_server.h"

#define SESSION_MS 6000
#define WAIT_MS    20000

static zk_server_t g_zk;
static char g_hosts[128];
static const char *g_skip;
static int g_seq;

static int zk_script(const char *verb, char *out, size_t out_len) {
    return zk_server_script(&g_zk, verb, out, out_len);
}

static int group_setup(void **state) {
    (void)state;
    int rc = zk_server_start(&g_zk, __FILE__);
    g_skip = g_zk.skip;
    snprintf(g_hosts, sizeof(g_hosts), "%s", g_zk.hosts);
    return rc;
}

static int group_teardown(void **state) {
    (void)state;
    zk_server_stop(&g_zk);
    return 0;
}

#define SKIP_IF_NO_ZK()                                                                            \
    do {                                                                                           \
        if (g_skip) {                                                                              \
            fprintf(stderr, "SKIP: %s\n", g_skip);                                                 \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* ---------------------------------------------------------------- loop helpers */

static void on_deadline(uv_timer_t *t) {
    *(bool *)t->data = true;
}

/* A condition that never holds: run_until(loop, never, NULL, ms) runs the loop for ms. */
static bool never(void *arg) {
    (void)arg;
    return false;
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
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return cond(arg);
}

/* ---------------------------------------------------------------- brokers */

typedef struct broker {
    coord_t *coord;
    ctl_t *ctl;
    mdc_t *mdc;
    int start_rc;
    bool started;
} broker_t;

typedef struct cluster {
    uv_loop_t loop;
    char connect[256];
    coord_t *raw; /* a plain session for checking what is in ZooKeeper */
    broker_t b[4];
} cluster_t;

static void on_started(void *arg, int rc) {
    broker_t *b = arg;
    b->start_rc = rc;
    b->started = true;
}

static bool started(void *arg) {
    return ((broker_t *)arg)->started;
}

static void broker_start(cluster_t *c, int i, int32_t id, const char *rack) {
    broker_t *b = &c->b[i];
    memset(b, 0, sizeof(*b));
    assert_int_equal(coord_zk_open(&c->loop, c->connect, SESSION_MS, &b->coord), 0);
    ctl_config_t cfg = {.broker_id = id,
                        .host = "127.0.0.1",
                        .port = 19092 + id + (i == 3 ? 100 : 0), /* b[3]: another process */
                        .rack = rack,
                        .num_partitions = 1,
                        .default_replication = 1,
                        .delete_topic_enable = true};
    assert_int_equal(ctl_start(&c->loop, b->coord, &cfg, on_started, b, &b->ctl, &b->mdc), 0);
}

static void broker_kill(broker_t *b) {
    ctl_free(b->ctl);
    coord_close(b->coord);
    memset(b, 0, sizeof(*b));
}

/* Every broker's metadata cache shows the three registrations. */
static bool caches_see_all(void *arg) {
    cluster_t *c = arg;
    for (int i = 0; i < 3; i++) {
        if (mdc_broker_count(c->b[i].mdc) != 3) {
            return false;
        }
    }
    return true;
}

static void cluster_start(cluster_t *c) {
    memset(c, 0, sizeof(*c));
    uv_loop_init(&c->loop);
    snprintf(c->connect, sizeof(c->connect), "%s/ctlzk-%d-%d", g_hosts, (int)getpid(), ++g_seq);
    assert_int_equal(coord_zk_open(&c->loop, c->connect, SESSION_MS, &c->raw), 0);
    static const char *racks[3] = {"rack-a", "rack-b", "rack-a"};
    for (int i = 0; i < 3; i++) {
        broker_start(c, i, i + 1, racks[i]);
    }
    for (int i = 0; i < 3; i++) {
        assert_true(run_until(&c->loop, started, &c->b[i], WAIT_MS));
        assert_int_equal(c->b[i].start_rc, 0);
    }
    /* A broker started when its own registration is written; it learns of the others from
     * its /brokers/ids watch later. Admin checks the replication factor against that cache
     * (38, INVALID_REPLICATION_FACTOR, while it shows fewer than rf brokers), so wait for it. */
    assert_true(run_until(&c->loop, caches_see_all, c, WAIT_MS));
}

static void cluster_stop(cluster_t *c) {
    for (int i = 0; i < 4; i++) {
        if (c->b[i].ctl) {
            broker_kill(&c->b[i]);
        }
    }
    coord_close(c->raw);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&c->loop), 0);
}

typedef struct ctl_cond {
    cluster_t *c;
    int32_t not_id;
    int32_t above_epoch;
} ctl_cond_t;

static bool one_controller(void *arg) {
    ctl_cond_t *cc = arg;
    int n = 0;
    for (int i = 0; i < 4; i++) {
        ctl_t *ctl = cc->c->b[i].ctl;
        if (ctl && ctl_is_controller(ctl)) {
            if (i + 1 == cc->not_id || ctl->epoch <= cc->above_epoch) {
                return false;
            }
            n++;
        }
    }
    return n == 1;
}

static int controller_index(cluster_t *c) {
    for (int i = 0; i < 4; i++) {
        if (c->b[i].ctl && ctl_is_controller(c->b[i].ctl)) {
            return i;
        }
    }
    return -1;
}

/* ---------------------------------------------------------------- raw reads */

typedef struct raw {
    bool done;
    int rc;
    char data[1024];
    int32_t version;
    size_t count;
} raw_t;

static void on_raw_data(void *arg, int rc, const char *data, size_t len, int32_t version) {
    raw_t *r = arg;
    r->rc = rc;
    r->version = version;
    len = len < sizeof(r->data) - 1 ? len : sizeof(r->data) - 1;
    if (data) {
        memcpy(r->data, data, len);
    }
    r->data[data ? len : 0] = '\0';
    r->done = true;
}

static void on_raw_children(void *arg, int rc, const char *const *names, size_t count) {
    raw_t *r = arg;
    (void)names;
    r->rc = rc;
    r->count = count;
    r->done = true;
}

static bool raw_done(void *arg) {
    return ((raw_t *)arg)->done;
}

static raw_t raw_get(cluster_t *c, const char *path) {
    raw_t r = {0};
    assert_int_equal(coord_get(c->raw, path, NULL, NULL, on_raw_data, &r), 0);
    assert_true(run_until(&c->loop, raw_done, &r, WAIT_MS));
    return r;
}

static raw_t raw_children(cluster_t *c, const char *path) {
    raw_t r = {0};
    assert_int_equal(coord_children(c->raw, path, NULL, NULL, on_raw_children, &r), 0);
    assert_true(run_until(&c->loop, raw_done, &r, WAIT_MS));
    return r;
}

/* The number of children of path once it is want, re-reading until then or WAIT_MS (SIZE_MAX
 * when the last read failed): after a ZooKeeper restart the raw session may still be
 * reconnecting (a read then fails with connection loss) and a broker whose session was
 * renewed registers again. */
static size_t raw_children_until(cluster_t *c, const char *path, size_t want) {
    uint64_t deadline = uv_now(&c->loop) + WAIT_MS;
    raw_t r;
    do {
        r = raw_children(c, path);
        if (r.rc == 0 && r.count == want) {
            break;
        }
        run_until(&c->loop, never, NULL, 50); /* the loop keeps serving the brokers */
    } while (uv_now(&c->loop) < deadline);
    return r.rc == 0 ? r.count : SIZE_MAX; /* a failed read never passes for "none" */
}

/* ---------------------------------------------------------------- admin */

typedef struct result {
    bool done;
    int16_t err;
} result_t;

static void on_admin(void *arg, int16_t err, const char *msg) {
    (void)msg;
    result_t *r = arg;
    r->err = err;
    r->done = true;
}

static bool result_done(void *arg) {
    return ((result_t *)arg)->done;
}

static int16_t create_topic(cluster_t *c, int i, const char *name, int32_t parts, int16_t rf) {
    result_t r = {0};
    ctl_topic_spec_t spec = {.name = name, .num_partitions = parts, .replication_factor = rf};
    assert_int_equal(ctl_create_topic(c->b[i].ctl, &spec, on_admin, &r), 0);
    assert_true(run_until(&c->loop, result_done, &r, WAIT_MS));
    return r.err;
}

typedef struct leaders_cond {
    mdc_t *mdc;
    const char *topic;
    int32_t n;
    int32_t avoid; /* no partition led by this broker, and it in no ISR (-1: none) */
} leaders_cond_t;

static bool leaders_ready(void *arg) {
    leaders_cond_t *lc = arg;
    const mdc_topic_t *t = mdc_topic(lc->mdc, lc->topic);
    if (!t || t->npartitions != lc->n) {
        return false;
    }
    for (int32_t p = 0; p < t->npartitions; p++) {
        const mdc_partition_t *mp = &t->partitions[p];
        if (mp->leader < 0 || mp->leader == lc->avoid) {
            return false;
        }
        for (int32_t k = 0; k < mp->nisr; k++) {
            if (mp->isr[k] == lc->avoid) {
                return false;
            }
        }
    }
    return true;
}

static bool topic_gone(void *arg) {
    leaders_cond_t *lc = arg;
    return mdc_topic(lc->mdc, lc->topic) == NULL;
}

/* ---------------------------------------------------------------- tests */

static void test_zk_register_elect_create_topic(void **state) {
    (void)state;
    SKIP_IF_NO_ZK();
    cluster_t c;
    cluster_start(&c);
    ctl_cond_t cc = {&c, -1, 0};
    assert_true(run_until(&c.loop, one_controller, &cc, WAIT_MS));
    /* In ZooKeeper: three registrations, the controller, the epoch, Kafka's paths. */
    assert_int_equal(raw_children(&c, "/brokers/ids").count, 3);
    raw_t reg = raw_get(&c, "/brokers/ids/2");
    assert_int_equal(reg.rc, 0);
    assert_non_null(strstr(reg.data, "\"rack\":\"rack-b\""));
    assert_non_null(strstr(reg.data, "PLAINTEXT://127.0.0.1:19094"));
    raw_t ctlnode = raw_get(&c, "/controller");
    assert_int_equal(ctlnode.rc, 0);
    char want[64];
    snprintf(want, sizeof(want), "\"brokerid\":%d", controller_index(&c) + 1);
    assert_non_null(strstr(ctlnode.data, want));
    raw_t epoch = raw_get(&c, "/controller_epoch");
    assert_int_equal(epoch.rc, 0);
    assert_true(atoi(epoch.data) >= 1);
    assert_int_equal(raw_get(&c, "/admin/delete_topics").rc, 0);
    assert_int_equal(raw_get(&c, "/config/topics").rc, 0);
    assert_int_equal(raw_get(&c, "/cluster/id").rc, 0);

    /* A topic created on a broker that is not the controller. */
    int other = (controller_index(&c) + 1) % 3;
    assert_int_equal(create_topic(&c, other, "six", 6, 3), 0);
    for (int i = 0; i < 3; i++) {
        leaders_cond_t lc = {c.b[i].mdc, "six", 6, -1};
        assert_true(run_until(&c.loop, leaders_ready, &lc, WAIT_MS));
    }
    raw_t assignment = raw_get(&c, "/brokers/topics/six");
    assert_int_equal(assignment.rc, 0);
    assert_non_null(strstr(assignment.data, "\"version\":3"));
    assert_non_null(strstr(assignment.data, "\"topic_id\""));
    const mdc_topic_t *t = mdc_topic(c.b[0].mdc, "six");
    for (int32_t p = 0; p < 6; p++) {
        const mdc_partition_t *mp = &t->partitions[p];
        char path[128];
        snprintf(path, sizeof(path), "/brokers/topics/six/partitions/%d/state", (int)p);
        raw_t st = raw_get(&c, path);
        assert_int_equal(st.rc, 0);
        zkpath_state_t zs;
        assert_int_equal(zkpath_state_parse(st.data, strlen(st.data), &zs), 0);
        assert_int_equal(zs.leader, mp->replicas[0]);
        assert_int_equal(zs.nisr, 3);
        assert_int_equal(zs.leader_epoch, 0);
        free(zs.isr);
        /* both racks in every replica set (brokers 1,3 on rack-a, 2 on rack-b) */
        bool has_b = false;
        for (int32_t k = 0; k < mp->nreplicas; k++) {
            has_b = has_b || mp->replicas[k] == 2;
        }
        assert_true(has_b);
    }
    assert_int_equal(create_topic(&c, other, "toowide", 1, 4), 38);
    cluster_stop(&c);
}

static void test_zk_controller_failover(void **state) {
    (void)state;
    SKIP_IF_NO_ZK();
    cluster_t c;
    cluster_start(&c);
    ctl_cond_t cc = {&c, -1, 0};
    assert_true(run_until(&c.loop, one_controller, &cc, WAIT_MS));
    int ci = controller_index(&c);
    assert_int_equal(create_topic(&c, ci, "fo", 6, 3), 0);
    for (int i = 0; i < 3; i++) {
        leaders_cond_t lc = {c.b[i].mdc, "fo", 6, -1};
        assert_true(run_until(&c.loop, leaders_ready, &lc, WAIT_MS));
    }
    int32_t old_epoch = c.b[ci].ctl->epoch;
    broker_kill(&c.b[ci]); /* its session closes: /controller and /brokers/ids/<id> go */
    ctl_cond_t cc2 = {&c, ci + 1, old_epoch};
    assert_true(run_until(&c.loop, one_controller, &cc2, WAIT_MS));
    int nci = controller_index(&c);
    for (int i = 0; i < 3; i++) {
        if (c.b[i].ctl) {
            leaders_cond_t lc = {c.b[i].mdc, "fo", 6, ci + 1};
            assert_true(run_until(&c.loop, leaders_ready, &lc, WAIT_MS));
        }
    }
    raw_t epoch = raw_get(&c, "/controller_epoch");
    assert_int_equal(atoi(epoch.data), c.b[nci].ctl->epoch);
    assert_true(c.b[nci].ctl->epoch > old_epoch);

    /* The same broker id again while the survivors hold theirs: rejected. */
    int32_t taken = nci + 1;
    broker_start(&c, 3, taken, NULL);
    assert_true(run_until(&c.loop, started, &c.b[3], WAIT_MS));
    assert_int_equal(c.b[3].start_rc, STRATA_EEXISTS);
    broker_kill(&c.b[3]);
    char taken_path[64];
    snprintf(taken_path, sizeof(taken_path), "/brokers/ids/%d", (int)taken);
    assert_int_equal(raw_get(&c, taken_path).rc, 0); /* the holder keeps its registration */
    cluster_stop(&c);
}

static void test_zk_delete_and_recreate(void **state) {
    (void)state;
    SKIP_IF_NO_ZK();
    cluster_t c;
    cluster_start(&c);
    ctl_cond_t cc = {&c, -1, 0};
    assert_true(run_until(&c.loop, one_controller, &cc, WAIT_MS));
    int other = (controller_index(&c) + 2) % 3;
    assert_int_equal(create_topic(&c, other, "dr", 3, 2), 0);
    leaders_cond_t lc = {c.b[other].mdc, "dr", 3, -1};
    assert_true(run_until(&c.loop, leaders_ready, &lc, WAIT_MS));
    result_t r = {0};
    assert_int_equal(ctl_delete_topic(c.b[other].ctl, "dr", on_admin, &r), 0);
    assert_true(run_until(&c.loop, result_done, &r, WAIT_MS));
    assert_int_equal(r.err, 0);
    for (int i = 0; i < 3; i++) {
        leaders_cond_t g = {c.b[i].mdc, "dr", 3, -1};
        assert_true(run_until(&c.loop, topic_gone, &g, WAIT_MS));
    }
    assert_int_equal(raw_get(&c, "/brokers/topics/dr").rc, STRATA_ENOTFOUND);
    assert_int_equal(raw_get(&c, "/config/topics/dr").rc, STRATA_ENOTFOUND);
    /* the admin node goes last: poll with the deadline, not a number of reads */
    assert_int_equal(raw_children_until(&c, "/admin/delete_topics", 0), 0);
    assert_int_equal(create_topic(&c, other, "dr", 2, 3), 0);
    leaders_cond_t lc2 = {c.b[other].mdc, "dr", 2, -1};
    assert_true(run_until(&c.loop, leaders_ready, &lc2, WAIT_MS));
    cluster_stop(&c);
}

/* ZooKeeper stopped and restarted (same data): the sessions ride it out or are renewed, and
 * the cluster keeps working. */
static void test_zk_restart_mid_run(void **state) {
    (void)state;
    SKIP_IF_NO_ZK();
    cluster_t c;
    cluster_start(&c);
    ctl_cond_t cc = {&c, -1, 0};
    assert_true(run_until(&c.loop, one_controller, &cc, WAIT_MS));
    assert_int_equal(create_topic(&c, 0, "before", 2, 3), 0);
    leaders_cond_t lc = {c.b[0].mdc, "before", 2, -1};
    assert_true(run_until(&c.loop, leaders_ready, &lc, WAIT_MS));
    assert_int_equal(zk_script("stop", NULL, 0), 0);
    char port[16];
    assert_int_equal(zk_script("start", port, sizeof(port)), 0);
    /* Admin works again (it waits for the session), and the new topic gets leaders. */
    assert_int_equal(create_topic(&c, 1, "after", 3, 2), 0);
    for (int i = 0; i < 3; i++) {
        leaders_cond_t la = {c.b[i].mdc, "after", 3, -1};
        assert_true(run_until(&c.loop, leaders_ready, &la, WAIT_MS));
        leaders_cond_t lb = {c.b[i].mdc, "before", 2, -1};
        assert_true(run_until(&c.loop, leaders_ready, &lb, WAIT_MS));
    }
    ctl_cond_t cc2 = {&c, -1, 0};
    assert_true(run_until(&c.loop, one_controller, &cc2, WAIT_MS));
    assert_int_equal(raw_children_until(&c, "/brokers/ids", 3), 3);
    cluster_stop(&c);
}

static void noop_watcher(zhandle_t *zh, int type, int st, const char *path, void *ctx) {
    (void)zh;
    (void)type;
    (void)st;
    (void)path;
    (void)ctx;
}

/* Ends the session of c from a second handle on it (the ZooKeeper FAQ trick). Runs on the
 * test thread while the loop is idle. */
static void expire_session(coord_t *c) {
    clientid_t id;
    memset(&id, 0, sizeof(id));
    assert_int_equal(coord_zk_session(c, &id.client_id, id.passwd), 0);
    zhandle_t *zh = zookeeper_init(g_hosts, noop_watcher, SESSION_MS, &id, NULL, 0);
    assert_non_null(zh);
    for (int i = 0; i < 1000; i++) {
        int st = zoo_state(zh);
        if (st == ZOO_CONNECTED_STATE || st == ZOO_EXPIRED_SESSION_STATE) {
            break;
        }
        usleep(10 * 1000); /* polling a condition with a deadline, off the loop */
    }
    zookeeper_close(zh);
}

typedef struct rejoin_cond {
    cluster_t *c;
    int victim;
    int32_t old_epoch;
} rejoin_cond_t;

/* A controller with a newer epoch, the victim registered again, every cache sees 3. */
static bool rejoined(void *arg) {
    rejoin_cond_t *rc = arg;
    ctl_cond_t cc = {rc->c, -1, rc->old_epoch};
    if (!one_controller(&cc) || !rc->c->b[rc->victim].ctl->registered) {
        return false;
    }
    for (int i = 0; i < 3; i++) {
        if (mdc_broker_count(rc->c->b[i].mdc) != 3) {
            return false;
        }
    }
    return true;
}

static void test_zk_session_expiry_reregisters(void **state) {
    (void)state;
    SKIP_IF_NO_ZK();
    cluster_t c;
    cluster_start(&c);
    ctl_cond_t cc = {&c, -1, 0};
    assert_true(run_until(&c.loop, one_controller, &cc, WAIT_MS));
    int ci = controller_index(&c);
    int32_t old_epoch = c.b[ci].ctl->epoch;
    assert_int_equal(create_topic(&c, ci, "exp", 3, 3), 0);
    leaders_cond_t lc = {c.b[ci].mdc, "exp", 3, -1};
    assert_true(run_until(&c.loop, leaders_ready, &lc, WAIT_MS));
    rejoin_cond_t rc = {&c, ci, old_epoch};
    bool ok = false;
    for (int attempt = 0; attempt < 5 && !ok; attempt++) {
        expire_session(c.b[ci].coord);
        ok = run_until(&c.loop, rejoined, &rc, 10000);
    }
    assert_true(ok);
    /* The re-armed watches work: a topic created now reaches the expired broker's cache. */
    assert_int_equal(create_topic(&c, (ci + 1) % 3, "later", 2, 3), 0);
    leaders_cond_t l2 = {c.b[ci].mdc, "later", 2, -1};
    assert_true(run_until(&c.loop, leaders_ready, &l2, WAIT_MS));
    cluster_stop(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zk_register_elect_create_topic),
        cmocka_unit_test(test_zk_controller_failover),
        cmocka_unit_test(test_zk_delete_and_recreate),
        cmocka_unit_test(test_zk_restart_mid_run),
        cmocka_unit_test(test_zk_session_expiry_reregisters),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
