/*
 * Tests of the controller, registration, election, metadata cache and admin operations over
 * coord_local: standalone (one broker), and several brokers in one process sharing one
 * coord_local tree with a session each (failover without ZooKeeper). A real uv loop runs
 * until a condition holds, with a deadline; no sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "cluster/cluster_int.h"
#include "strata/cluster.h"
#include "tmpdir.h"

/* ---------------------------------------------------------------- loop helpers */

static void on_deadline(uv_timer_t *t) {
    *(bool *)t->data = true;
}

static void close_cb(uv_handle_t *h) {
    (void)h;
}

/* Runs the loop until cond(arg) or timeout_ms; @returns cond's final value. */
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

/* Runs until nothing is left (handles closed, callbacks delivered). */
static void drain(uv_loop_t *loop) {
    for (int i = 0; i < 1000 && uv_run(loop, UV_RUN_NOWAIT) != 0; i++) {
        uv_run(loop, UV_RUN_ONCE);
    }
}

/* ---------------------------------------------------------------- brokers */

typedef struct broker {
    coord_t *coord;
    ctl_t *ctl;
    mdc_t *mdc;
    int start_rc;
    bool started;
    int events;
    bool shutdown_done;
} broker_t;

static void on_started(void *arg, int rc) {
    broker_t *b = arg;
    b->start_rc = rc;
    b->started = true;
}

static void on_mdc_event(void *arg, mdc_event_t ev, const char *topic, int32_t partition) {
    broker_t *b = arg;
    (void)ev;
    (void)topic;
    (void)partition;
    b->events++;
}

static int32_t g_port_offset; /* another endpoint for the same id (a different process) */

static void broker_start(uv_loop_t *loop, coord_t *coord, broker_t *b, int32_t id,
                         const char *rack) {
    memset(b, 0, sizeof(*b));
    b->coord = coord;
    ctl_config_t cfg = {.broker_id = id,
                        .host = "127.0.0.1",
                        .port = 9092 + id + g_port_offset,
                        .rack = rack,
                        .num_partitions = 1,
                        .default_replication = 1,
                        .unclean_leader_election = false,
                        .delete_topic_enable = true};
    assert_int_equal(ctl_start(loop, coord, &cfg, on_started, b, &b->ctl, &b->mdc), 0);
    mdc_add_listener(b->mdc, on_mdc_event, b);
}

/* Kills a broker: its session closes (ephemerals go) and its ctl is freed. */
static void broker_kill(broker_t *b) {
    ctl_free(b->ctl);
    coord_close(b->coord);
    b->ctl = NULL;
    b->mdc = NULL;
    b->coord = NULL;
}

static bool started(void *arg) {
    return ((broker_t *)arg)->started;
}

static bool is_controller(void *arg) {
    return ctl_is_controller(((broker_t *)arg)->ctl);
}

/* ---------------------------------------------------------------- admin results */

typedef struct result {
    bool done;
    int16_t err;
    char msg[256];
} result_t;

static void on_admin(void *arg, int16_t err, const char *msg) {
    result_t *r = arg;
    r->done = true;
    r->err = err;
    snprintf(r->msg, sizeof(r->msg), "%s", msg ? msg : "");
}

static bool result_done(void *arg) {
    return ((result_t *)arg)->done;
}

typedef struct leaders_cond_s leaders_cond_t;
static bool topic_gone(void *arg);

typedef struct leaders_cond_s {
    mdc_t *mdc;
    const char *topic;
    int32_t npartitions;
} leaders_cond_t;

/* Every partition of the topic has a leader in the cache. */
static bool leaders_ready(void *arg) {
    leaders_cond_t *c = arg;
    const mdc_topic_t *t = mdc_topic(c->mdc, c->topic);
    if (!t || t->npartitions != c->npartitions) {
        return false;
    }
    for (int32_t p = 0; p < t->npartitions; p++) {
        if (t->partitions[p].leader < 0) {
            return false;
        }
    }
    return true;
}

static bool topic_gone(void *arg) {
    leaders_cond_t *c = arg;
    return mdc_topic(c->mdc, c->topic) == NULL;
}

static result_t create_topic(uv_loop_t *loop, broker_t *b, const char *name, int32_t parts,
                             int16_t rf) {
    result_t r = {0};
    ctl_topic_spec_t spec = {.name = name, .num_partitions = parts, .replication_factor = rf};
    assert_int_equal(ctl_create_topic(b->ctl, &spec, on_admin, &r), 0);
    assert_false(r.done); /* never re-entrant */
    assert_true(run_until(loop, result_done, &r, 5000));
    return r;
}

/* ---------------------------------------------------------------- standalone */

static void test_standalone_register_elect_create(void **state) {
    (void)state;
    char *dir = tmpdir_new();
    char *file = xasprintf("%s/coord.dat", dir);
    uv_loop_t loop;
    uv_loop_init(&loop);
    coord_t *coord;
    assert_int_equal(coord_local_open(&loop, file, &coord), 0);
    broker_t b;
    broker_start(&loop, coord, &b, 1, NULL);
    assert_true(run_until(&loop, started, &b, 5000));
    assert_int_equal(b.start_rc, 0);
    assert_true(run_until(&loop, is_controller, &b, 5000));

    result_t r = create_topic(&loop, &b, "orders", 3, 1);
    assert_int_equal(r.err, 0);
    leaders_cond_t lc = {b.mdc, "orders", 3};
    assert_true(run_until(&loop, leaders_ready, &lc, 5000));
    const mdc_topic_t *t = mdc_topic(b.mdc, "orders");
    for (int32_t p = 0; p < 3; p++) {
        assert_int_equal(t->partitions[p].leader, 1);
        assert_int_equal(t->partitions[p].nisr, 1);
        assert_int_equal(t->partitions[p].isr[0], 1);
        assert_int_equal(t->partitions[p].leader_epoch, 0);
        assert_int_equal(t->partitions[p].nreplicas, 1);
    }
    assert_int_equal(mdc_controller_id(b.mdc), 1);
    assert_non_null(mdc_broker(b.mdc, 1));
    assert_string_equal(mdc_broker(b.mdc, 1)->host, "127.0.0.1");
    assert_int_equal(mdc_broker(b.mdc, 1)->port, 9093);
    assert_non_null(mdc_cluster_id(b.mdc));

    /* Errors. */
    r = create_topic(&loop, &b, "orders", 3, 1);
    assert_int_equal(r.err, 36);
    r = create_topic(&loop, &b, "bad/name", 1, 1);
    assert_int_equal(r.err, 17);
    r = create_topic(&loop, &b, "..", 1, 1);
    assert_int_equal(r.err, 17);
    r = create_topic(&loop, &b, "wide", 1, 3);
    assert_int_equal(r.err, 38);
    r = create_topic(&loop, &b, "zero", 0, 1);
    assert_int_equal(r.err, 37);
    /* Defaults for -1. */
    r = create_topic(&loop, &b, "auto", -1, -1);
    assert_int_equal(r.err, 0);
    leaders_cond_t la = {b.mdc, "auto", 1};
    assert_true(run_until(&loop, leaders_ready, &la, 5000));

    /* Config overrides land in the cache. */
    const char *keys[] = {"cleanup.policy", "retention.ms"};
    const char *vals[] = {"compact", "1000"};
    ctl_topic_spec_t spec = {.name = "cfg",
                             .num_partitions = 1,
                             .replication_factor = 1,
                             .config_keys = keys,
                             .config_values = vals,
                             .nconfigs = 2};
    r = (result_t){0};
    assert_int_equal(ctl_create_topic(b.ctl, &spec, on_admin, &r), 0);
    assert_true(run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.err, 0);
    leaders_cond_t lcfg = {b.mdc, "cfg", 1};
    assert_true(run_until(&loop, leaders_ready, &lcfg, 5000));
    assert_string_equal(props_get(mdc_topic(b.mdc, "cfg")->config, "cleanup.policy"), "compact");

    /* validate_only writes nothing. */
    ctl_topic_spec_t vspec = {
        .name = "dry", .num_partitions = 2, .replication_factor = 1, .validate_only = true};
    r = (result_t){0};
    assert_int_equal(ctl_create_topic(b.ctl, &vspec, on_admin, &r), 0);
    assert_true(run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.err, 0);
    assert_null(mdc_topic(b.mdc, "dry"));

    /* Explicit assignments. */
    int32_t one[2] = {1, 1};
    ctl_topic_spec_t aspec = {.name = "manual",
                              .num_partitions = -1,
                              .replication_factor = -1,
                              .assignment = one,
                              .assignment_rf = 1,
                              .assignment_rows = 2};
    r = (result_t){0};
    assert_int_equal(ctl_create_topic(b.ctl, &aspec, on_admin, &r), 0);
    assert_true(run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.err, 0);
    leaders_cond_t lm2 = {b.mdc, "manual", 2};
    assert_true(run_until(&loop, leaders_ready, &lm2, 5000));
    aspec.name = "manual2";
    aspec.assignment_rf = 2; /* one row [1,1]: a duplicate */
    aspec.assignment_rows = 1;
    r = (result_t){0};
    assert_int_equal(ctl_create_topic(b.ctl, &aspec, on_admin, &r), 0);
    assert_true(run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.err, 39);
    int32_t nine[1] = {9};
    ctl_topic_spec_t uspec = {.name = "manual3",
                              .num_partitions = -1,
                              .replication_factor = -1,
                              .assignment = nine,
                              .assignment_rf = 1,
                              .assignment_rows = 1};
    r = (result_t){0};
    assert_int_equal(ctl_create_topic(b.ctl, &uspec, on_admin, &r), 0);
    assert_true(run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.err, 39);
    uspec.assignment = one;
    uspec.num_partitions = 1; /* both set */
    r = (result_t){0};
    assert_int_equal(ctl_create_topic(b.ctl, &uspec, on_admin, &r), 0);
    assert_true(run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.err, 42);

    /* Add partitions. */
    r = (result_t){0};
    assert_int_equal(ctl_create_partitions(b.ctl, "orders", 5, NULL, 0, false, on_admin, &r), 0);
    assert_true(run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.err, 0);
    leaders_cond_t l5 = {b.mdc, "orders", 5};
    assert_true(run_until(&loop, leaders_ready, &l5, 5000));
    r = (result_t){0};
    assert_int_equal(ctl_create_partitions(b.ctl, "orders", 2, NULL, 0, false, on_admin, &r), 0);
    assert_true(run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.err, 37);
    /* explicit assignment: too few rows refused; the right count honoured */
    int32_t rows[2] = {1, 1};
    r = (result_t){0};
    assert_int_equal(
        ctl_create_partitions_rows(b.ctl, "orders", 8, rows, 2, 1, false, on_admin, &r), 0);
    assert_true(run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.err, 39);
    int32_t bad[1] = {5};
    r = (result_t){0};
    assert_int_equal(ctl_create_partitions_rows(b.ctl, "orders", 6, bad, 1, 1, false, on_admin, &r),
                     0);
    assert_true(run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.err, 39); /* unknown broker */
    r = (result_t){0};
    assert_int_equal(
        ctl_create_partitions_rows(b.ctl, "orders", 7, rows, 2, 1, false, on_admin, &r), 0);
    assert_true(run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.err, 0);
    leaders_cond_t l7 = {b.mdc, "orders", 7};
    assert_true(run_until(&loop, leaders_ready, &l7, 5000));

    /* Delete. */
    r = (result_t){0};
    assert_int_equal(ctl_delete_topic(b.ctl, "orders", on_admin, &r), 0);
    assert_true(run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.err, 0);
    leaders_cond_t lgone = {b.mdc, "orders", 0};
    assert_true(run_until(&loop, topic_gone, &lgone, 5000));
    r = (result_t){0};
    assert_int_equal(ctl_delete_topic(b.ctl, "orders", on_admin, &r), 0);
    assert_true(run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.err, 3);
    /* Re-create after delete. */
    r = create_topic(&loop, &b, "orders", 2, 1);
    assert_int_equal(r.err, 0);
    leaders_cond_t l2 = {b.mdc, "orders", 2};
    assert_true(run_until(&loop, leaders_ready, &l2, 5000));

    /* Controlled shutdown, then close. */
    ctl_shutdown(b.ctl, on_started, &b);
    b.started = false;
    assert_true(run_until(&loop, started, &b, 5000));
    assert_int_equal(b.start_rc, 0);
    broker_kill(&b);
    drain(&loop);

    /* Restart: topics survive. */
    assert_int_equal(coord_local_open(&loop, file, &coord), 0);
    broker_start(&loop, coord, &b, 1, NULL);
    assert_true(run_until(&loop, started, &b, 5000));
    assert_int_equal(b.start_rc, 0);
    leaders_cond_t l2b = {b.mdc, "orders", 2};
    assert_true(run_until(&loop, leaders_ready, &l2b, 5000));
    assert_non_null(mdc_topic(b.mdc, "cfg"));
    assert_non_null(mdc_topic(b.mdc, "auto"));
    assert_true(run_until(&loop, is_controller, &b, 5000));
    broker_kill(&b);
    drain(&loop);

    assert_int_equal(uv_loop_close(&loop), 0);
    free(file);
    tmpdir_remove(dir);
}

static void test_create_before_cache_loaded_waits(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    coord_t *coord;
    assert_int_equal(coord_local_open(&loop, NULL, &coord), 0);
    broker_t b;
    broker_start(&loop, coord, &b, 0, NULL);
    /* Immediately, before anything loaded (the broker's auto-create path). */
    result_t r = {0};
    ctl_topic_spec_t spec = {.name = "early", .num_partitions = -1, .replication_factor = -1};
    assert_int_equal(ctl_create_topic(b.ctl, &spec, on_admin, &r), 0);
    assert_true(run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.err, 0);
    leaders_cond_t lc = {b.mdc, "early", 1};
    assert_true(run_until(&loop, leaders_ready, &lc, 5000));
    broker_kill(&b);
    drain(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_duplicate_broker_id_rejected(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    coord_t *c1, *c2;
    assert_int_equal(coord_local_open(&loop, NULL, &c1), 0);
    assert_int_equal(coord_local_open_session(c1, &c2), 0);
    broker_t a, b;
    broker_start(&loop, c1, &a, 7, NULL);
    assert_true(run_until(&loop, started, &a, 5000));
    assert_int_equal(a.start_rc, 0);
    g_port_offset = 100;
    broker_start(&loop, c2, &b, 7, NULL);
    g_port_offset = 0;
    assert_true(run_until(&loop, started, &b, 5000));
    assert_int_equal(b.start_rc, STRATA_EEXISTS);
    /* The loser's shutdown must not delete the winner's registration. */
    b.started = false;
    ctl_shutdown(b.ctl, on_started, &b);
    assert_true(run_until(&loop, started, &b, 5000));
    broker_kill(&b);
    drain(&loop);
    assert_non_null(mdc_broker(a.mdc, 7));
    broker_kill(&a);
    drain(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---------------------------------------------------------------- cluster over one tree */

typedef struct cluster {
    uv_loop_t loop;
    coord_t *root; /* a session kept open so the tree outlives broker kills */
    broker_t b[3];
} cluster_t;

static void cluster_start(cluster_t *c, bool racks) {
    uv_loop_init(&c->loop);
    assert_int_equal(coord_local_open(&c->loop, NULL, &c->root), 0);
    static const char *rack[3] = {"a", "b", "a"};
    for (int i = 0; i < 3; i++) {
        coord_t *s;
        assert_int_equal(coord_local_open_session(c->root, &s), 0);
        broker_start(&c->loop, s, &c->b[i], i + 1, racks ? rack[i] : NULL);
    }
    for (int i = 0; i < 3; i++) {
        assert_true(run_until(&c->loop, started, &c->b[i], 5000));
        assert_int_equal(c->b[i].start_rc, 0);
    }
}

static void cluster_stop(cluster_t *c) {
    for (int i = 0; i < 3; i++) {
        if (c->b[i].ctl) {
            broker_kill(&c->b[i]);
        }
    }
    coord_close(c->root);
    drain(&c->loop);
    assert_int_equal(uv_loop_close(&c->loop), 0);
}

typedef struct one_controller {
    cluster_t *c;
    int32_t not_id;
    int32_t above_epoch; /* the controller's epoch must be higher than this */
} one_controller_t;

static bool exactly_one_controller(void *arg) {
    one_controller_t *oc = arg;
    int n = 0;
    for (int i = 0; i < 3; i++) {
        if (oc->c->b[i].ctl && ctl_is_controller(oc->c->b[i].ctl)) {
            n++;
            if (i + 1 == oc->not_id || oc->c->b[i].ctl->epoch <= oc->above_epoch) {
                return false;
            }
        }
    }
    return n == 1;
}

static int controller_index(cluster_t *c) {
    for (int i = 0; i < 3; i++) {
        if (c->b[i].ctl && ctl_is_controller(c->b[i].ctl)) {
            return i;
        }
    }
    return -1;
}

typedef struct brokers_seen {
    mdc_t *mdc;
    size_t n;
} brokers_seen_t;

static bool brokers_seen(void *arg) {
    brokers_seen_t *s = arg;
    return mdc_broker_count(s->mdc) == s->n;
}

static void test_cluster_elects_one_controller_and_assigns(void **state) {
    (void)state;
    cluster_t c;
    cluster_start(&c, true);
    one_controller_t oc = {&c, -1, 0};
    assert_true(run_until(&c.loop, exactly_one_controller, &oc, 5000));
    for (int i = 0; i < 3; i++) {
        brokers_seen_t bs = {c.b[i].mdc, 3};
        assert_true(run_until(&c.loop, brokers_seen, &bs, 5000));
    }
    /* Create on a broker that is not the controller. */
    int ci = controller_index(&c);
    int other = (ci + 1) % 3;
    result_t r = create_topic(&c.loop, &c.b[other], "t6", 6, 3);
    assert_int_equal(r.err, 0);
    for (int i = 0; i < 3; i++) {
        leaders_cond_t lc = {c.b[i].mdc, "t6", 6};
        assert_true(run_until(&c.loop, leaders_ready, &lc, 5000));
    }
    const mdc_topic_t *t = mdc_topic(c.b[0].mdc, "t6");
    int leaders[4] = {0};
    for (int32_t p = 0; p < 6; p++) {
        const mdc_partition_t *mp = &t->partitions[p];
        assert_int_equal(mp->nreplicas, 3);
        assert_int_equal(mp->leader, mp->replicas[0]);
        assert_int_equal(mp->nisr, 3);
        leaders[mp->leader]++;
    }
    assert_int_equal(leaders[1], 2);
    assert_int_equal(leaders[2], 2);
    assert_int_equal(leaders[3], 2);
    r = create_topic(&c.loop, &c.b[other], "t4", 1, 4);
    assert_int_equal(r.err, 38);
    cluster_stop(&c);
}

typedef struct leader_moved {
    mdc_t *mdc;
    const char *topic;
    int32_t dead;
} leader_moved_t;

/* No partition led by `dead`, none leaderless, and `dead` out of every ISR. */
static bool leader_moved(void *arg) {
    leader_moved_t *lm = arg;
    const mdc_topic_t *t = mdc_topic(lm->mdc, lm->topic);
    if (!t) {
        return false;
    }
    for (int32_t p = 0; p < t->npartitions; p++) {
        const mdc_partition_t *mp = &t->partitions[p];
        if (mp->leader == lm->dead || mp->leader < 0) {
            return false;
        }
        for (int32_t i = 0; i < mp->nisr; i++) {
            if (mp->isr[i] == lm->dead) {
                return false;
            }
        }
    }
    return true;
}

typedef struct survivor_cond {
    mdc_t *mdc;
    const char *topic;
    int32_t survivor;
} survivor_cond_t;

/* Partitions with the survivor among their replicas are led by it; the others have none. */
static bool survivor_leads(void *arg) {
    survivor_cond_t *sc = arg;
    const mdc_topic_t *t = mdc_topic(sc->mdc, sc->topic);
    if (!t) {
        return false;
    }
    for (int32_t p = 0; p < t->npartitions; p++) {
        const mdc_partition_t *mp = &t->partitions[p];
        bool has = false;
        for (int32_t i = 0; i < mp->nreplicas; i++) {
            has = has || mp->replicas[i] == sc->survivor;
        }
        if (mp->leader != (has ? sc->survivor : -1)) {
            return false;
        }
    }
    return true;
}

static void test_failover_on_broker_loss(void **state) {
    (void)state;
    cluster_t c;
    cluster_start(&c, false);
    one_controller_t oc = {&c, -1, 0};
    assert_true(run_until(&c.loop, exactly_one_controller, &oc, 5000));
    int ci = controller_index(&c);
    result_t r = create_topic(&c.loop, &c.b[ci], "fo", 6, 2);
    assert_int_equal(r.err, 0);
    leaders_cond_t lc = {c.b[ci].mdc, "fo", 6};
    assert_true(run_until(&c.loop, leaders_ready, &lc, 5000));

    /* Kill a broker that is not the controller: its leaderships move. */
    int victim = (ci + 1) % 3;
    int32_t victim_id = victim + 1;
    broker_kill(&c.b[victim]);
    leader_moved_t lm = {c.b[ci].mdc, "fo", victim_id};
    assert_true(run_until(&c.loop, leader_moved, &lm, 5000));

    /* Kill the controller: another takes over with a higher epoch, and moves leaders. */
    int32_t old_epoch = c.b[ci].ctl->epoch;
    int32_t ctl_id = ci + 1;
    broker_kill(&c.b[ci]);
    one_controller_t oc2 = {&c, ctl_id, old_epoch};
    assert_true(run_until(&c.loop, exactly_one_controller, &oc2, 5000));
    int nci = controller_index(&c);
    assert_true(nci >= 0 && nci != ci && nci != victim);
    assert_true(c.b[nci].ctl->epoch > old_epoch);
    /* With rf 2 some partitions had both replicas on dead brokers: those go leaderless;
     * the rest are led by the survivor. */
    survivor_cond_t sc = {c.b[nci].mdc, "fo", nci + 1};
    assert_true(run_until(&c.loop, survivor_leads, &sc, 5000));
    cluster_stop(&c);
}

static void test_controlled_shutdown_moves_leaders(void **state) {
    (void)state;
    cluster_t c;
    cluster_start(&c, false);
    one_controller_t oc = {&c, -1, 0};
    assert_true(run_until(&c.loop, exactly_one_controller, &oc, 5000));
    int ci = controller_index(&c);
    result_t r = create_topic(&c.loop, &c.b[ci], "cs", 6, 3);
    assert_int_equal(r.err, 0);
    for (int i = 0; i < 3; i++) {
        leaders_cond_t lc = {c.b[i].mdc, "cs", 6};
        assert_true(run_until(&c.loop, leaders_ready, &lc, 5000));
    }
    /* Shut down the controller itself: leaders move before it deregisters. */
    broker_t *b = &c.b[ci];
    b->started = false;
    ctl_shutdown(b->ctl, on_started, b);
    assert_true(run_until(&c.loop, started, b, 5000));
    assert_int_equal(b->start_rc, 0);
    int watcher = (ci + 1) % 3;
    leader_moved_t lm = {c.b[watcher].mdc, "cs", ci + 1};
    assert_true(run_until(&c.loop, leader_moved, &lm, 5000));
    broker_kill(b);
    one_controller_t oc2 = {&c, ci + 1, 1};
    assert_true(run_until(&c.loop, exactly_one_controller, &oc2, 5000));
    cluster_stop(&c);
}

static void test_session_expiry_reregisters(void **state) {
    (void)state;
    cluster_t c;
    cluster_start(&c, false);
    one_controller_t oc = {&c, -1, 0};
    assert_true(run_until(&c.loop, exactly_one_controller, &oc, 5000));
    int ci = controller_index(&c);
    int32_t epoch = c.b[ci].ctl->epoch;
    coord_local_expire(c.b[ci].coord);
    /* Someone is controller again, with a higher epoch, and all three are registered. */
    one_controller_t oc2 = {&c, -1, epoch};
    assert_true(run_until(&c.loop, exactly_one_controller, &oc2, 5000));
    int nci = controller_index(&c);
    assert_true(c.b[nci].ctl->epoch > epoch);
    for (int i = 0; i < 3; i++) {
        brokers_seen_t bs = {c.b[i].mdc, 3};
        assert_true(run_until(&c.loop, brokers_seen, &bs, 5000));
    }
    cluster_stop(&c);
}

typedef struct isr_cond {
    mdc_t *mdc;
    const char *topic;
    int32_t partition;
    int32_t nisr;
} isr_cond_t;

static bool isr_is(void *arg) {
    isr_cond_t *ic = arg;
    const mdc_partition_t *p = mdc_partition(ic->mdc, ic->topic, ic->partition);
    return p && p->nisr == ic->nisr;
}

static void test_leader_updates_isr(void **state) {
    (void)state;
    cluster_t c;
    cluster_start(&c, false);
    one_controller_t oc = {&c, -1, 0};
    assert_true(run_until(&c.loop, exactly_one_controller, &oc, 5000));
    result_t r = create_topic(&c.loop, &c.b[0], "isr", 1, 3);
    assert_int_equal(r.err, 0);
    for (int i = 0; i < 3; i++) {
        leaders_cond_t lc = {c.b[i].mdc, "isr", 1};
        assert_true(run_until(&c.loop, leaders_ready, &lc, 5000));
    }
    const mdc_partition_t *p = mdc_partition(c.b[0].mdc, "isr", 0);
    int li = p->leader - 1;
    int32_t epoch = p->leader_epoch;
    int32_t shrunk[1] = {p->leader};
    /* not the leader, a stale epoch, or an ISR without the leader: refused */
    int other = (li + 1) % 3;
    assert_int_equal(
        ctl_update_isr(c.b[other].ctl, "isr", 0, epoch, shrunk, 1, on_started, &c.b[other]),
        STRATA_EINVAL);
    assert_int_equal(
        ctl_update_isr(c.b[li].ctl, "isr", 0, epoch + 1, shrunk, 1, on_started, &c.b[li]),
        STRATA_EINVAL);
    int32_t without[1] = {other + 1};
    assert_int_equal(ctl_update_isr(c.b[li].ctl, "isr", 0, epoch, without, 1, on_started, &c.b[li]),
                     STRATA_EINVAL);
    /* shrink, then expand back: every cache follows, the controller leaves it alone */
    c.b[li].started = false;
    assert_int_equal(ctl_update_isr(c.b[li].ctl, "isr", 0, epoch, shrunk, 1, on_started, &c.b[li]),
                     0);
    assert_true(run_until(&c.loop, started, &c.b[li], 5000));
    assert_int_equal(c.b[li].start_rc, 0);
    for (int i = 0; i < 3; i++) {
        isr_cond_t ic = {c.b[i].mdc, "isr", 0, 1};
        assert_true(run_until(&c.loop, isr_is, &ic, 5000));
    }
    p = mdc_partition(c.b[li].mdc, "isr", 0);
    assert_int_equal(p->leader_epoch, epoch);
    int32_t full[3] = {li + 1, (li + 1) % 3 + 1, (li + 2) % 3 + 1};
    c.b[li].started = false;
    assert_int_equal(ctl_update_isr(c.b[li].ctl, "isr", 0, epoch, full, 3, on_started, &c.b[li]),
                     0);
    assert_true(run_until(&c.loop, started, &c.b[li], 5000));
    assert_int_equal(c.b[li].start_rc, 0);
    for (int i = 0; i < 3; i++) {
        isr_cond_t ic = {c.b[i].mdc, "isr", 0, 3};
        assert_true(run_until(&c.loop, isr_is, &ic, 5000));
    }
    cluster_stop(&c);
}

static void on_raw_created(void *arg, int rc, const char *path) {
    (void)path;
    result_t *r = arg;
    r->err = (int16_t)(rc == 0 ? 0 : 1);
    r->done = true;
}

typedef struct children_cond {
    coord_t *coord;
    const char *path;
    bool asked;
    bool answered;
    size_t count;
} children_cond_t;

static void on_raw_children(void *arg, int rc, const char *const *names, size_t count) {
    (void)names;
    children_cond_t *cc = arg;
    cc->count = rc == 0 ? count : 99;
    cc->answered = true;
}

/* Re-lists until the node has no children (each poll is one store round trip). */
static bool no_children(void *arg) {
    children_cond_t *cc = arg;
    if (cc->answered && cc->count == 0) {
        return true;
    }
    if (!cc->asked || cc->answered) {
        cc->asked = true;
        cc->answered = false;
        coord_children(cc->coord, cc->path, NULL, NULL, on_raw_children, cc);
    }
    return false;
}

static void test_delete_disabled(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    coord_t *coord, *raw;
    assert_int_equal(coord_local_open(&loop, NULL, &coord), 0);
    assert_int_equal(coord_local_open_session(coord, &raw), 0);
    broker_t b;
    memset(&b, 0, sizeof(b));
    ctl_config_t cfg = {.broker_id = 1, .host = "h", .port = 1, .delete_topic_enable = false};
    assert_int_equal(ctl_start(&loop, coord, &cfg, on_started, &b, &b.ctl, &b.mdc), 0);
    b.coord = coord;
    assert_true(run_until(&loop, started, &b, 5000));
    result_t r = create_topic(&loop, &b, "keep", 1, 1);
    assert_int_equal(r.err, 0);
    r = (result_t){0};
    assert_int_equal(ctl_delete_topic(b.ctl, "keep", on_admin, &r), 0);
    assert_true(run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.err, 73);
    /* A request written straight into the store is dropped, the topic kept. */
    r = (result_t){0};
    assert_int_equal(coord_create(raw, "/admin/delete_topics/keep", NULL, 0, 0, on_raw_created, &r),
                     0);
    assert_true(run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.err, 0);
    children_cond_t cc = {.coord = raw, .path = "/admin/delete_topics"};
    assert_true(run_until(&loop, no_children, &cc, 5000));
    assert_non_null(mdc_topic(b.mdc, "keep"));
    coord_close(raw);
    broker_kill(&b);
    drain(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void on_raw_set(void *arg, int rc, const char *data, size_t len, int32_t version) {
    (void)data;
    (void)len;
    (void)version;
    result_t *r = arg;
    r->err = (int16_t)(rc == 0 ? 0 : 1);
    r->done = true;
}

typedef struct epoch_cond {
    ctl_t *ctl;
    int32_t epoch;
} epoch_cond_t;

static bool controller_at_epoch(void *arg) {
    epoch_cond_t *ec = arg;
    return ctl_is_controller(ec->ctl) && ec->ctl->epoch == ec->epoch;
}

/* Another writer bumps /controller_epoch: the controller's next writes fail the epoch check,
 * it steps down, finds /controller still naming it, takes the new epoch, and carries on. */
static void test_controller_fenced_by_epoch(void **state) {
    (void)state;
    cluster_t c;
    cluster_start(&c, false);
    one_controller_t oc = {&c, -1, 0};
    assert_true(run_until(&c.loop, exactly_one_controller, &oc, 5000));
    int ci = controller_index(&c);
    result_t r = create_topic(&c.loop, &c.b[ci], "fence", 3, 3);
    assert_int_equal(r.err, 0);
    leaders_cond_t lc = {c.b[ci].mdc, "fence", 3};
    assert_true(run_until(&c.loop, leaders_ready, &lc, 5000));
    r = (result_t){0};
    assert_int_equal(coord_set(c.root, "/controller_epoch", "7", 1, -1, on_raw_set, &r), 0);
    assert_true(run_until(&c.loop, result_done, &r, 5000));
    int victim = (ci + 1) % 3;
    broker_kill(&c.b[victim]);
    leader_moved_t lm = {c.b[ci].mdc, "fence", victim + 1};
    assert_true(run_until(&c.loop, leader_moved, &lm, 5000));
    epoch_cond_t ec = {c.b[ci].ctl, 7};
    assert_true(run_until(&c.loop, controller_at_epoch, &ec, 5000));
    const mdc_partition_t *p = mdc_partition(c.b[ci].mdc, "fence", 0);
    assert_int_equal(p->controller_epoch, 7); /* written under the adopted epoch */
    cluster_stop(&c);
}

static bool reg_waiting(void *arg) {
    return ((broker_t *)arg)->ctl->reg_waiting;
}

/* A restarted broker finds its own registration from the earlier session (same endpoint):
 * it waits for that session to go, then registers. */
static void test_stale_own_registration_waits(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    coord_t *c1, *c2;
    assert_int_equal(coord_local_open(&loop, NULL, &c1), 0);
    assert_int_equal(coord_local_open_session(c1, &c2), 0);
    broker_t old, fresh;
    broker_start(&loop, c1, &old, 5, NULL);
    assert_true(run_until(&loop, started, &old, 5000));
    assert_int_equal(old.start_rc, 0);
    broker_start(&loop, c2, &fresh, 5, NULL);
    /* It is waiting, not failing: nothing reported while the old session lives. */
    assert_true(run_until(&loop, reg_waiting, &fresh, 5000));
    assert_false(fresh.started);
    ctl_free(old.ctl); /* the old process dies: its session goes */
    coord_close(c1);
    assert_true(run_until(&loop, started, &fresh, 5000));
    assert_int_equal(fresh.start_rc, 0);
    assert_true(run_until(&loop, is_controller, &fresh, 5000));
    broker_kill(&fresh);
    drain(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standalone_register_elect_create),
        cmocka_unit_test(test_create_before_cache_loaded_waits),
        cmocka_unit_test(test_duplicate_broker_id_rejected),
        cmocka_unit_test(test_stale_own_registration_waits),
        cmocka_unit_test(test_cluster_elects_one_controller_and_assigns),
        cmocka_unit_test(test_failover_on_broker_loss),
        cmocka_unit_test(test_controlled_shutdown_moves_leaders),
        cmocka_unit_test(test_session_expiry_reregisters),
        cmocka_unit_test(test_leader_updates_isr),
        cmocka_unit_test(test_delete_disabled),
        cmocka_unit_test(test_controller_fenced_by_epoch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
