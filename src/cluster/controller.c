/*
 * controller: the ctl_t lifecycle (ctl_start, ctl_free, session events, controlled shutdown)
 * and the controller's work, written once against coord (standalone and ZooKeeper alike).
 *
 * The controller does not keep its own copy of the cluster: it reads the metadata cache,
 * which already watches everything, and reconciles when the cache is quiescent (every read
 * answered), so it never decides from a half-loaded cache:
 *   - /admin/delete_topics/<t>: delete the topic's subtree (states first), its config, then
 *     the admin node;
 *   - a partition without a state znode: create it (leader = first live replica, ISR = live
 *     replicas, leader_epoch 0, our controller epoch);
 *   - a partition whose leader is gone or whose ISR holds dead brokers: elect per
 *     partition_state.c, leader_epoch + 1.
 * Every write is conditional on the state's data version and on our /controller_epoch
 * version (one multi), so a deposed controller cannot overwrite its successor. A partition
 * has at most one write in flight (inflight_parts).
 *
 * Controlled shutdown (ctl_shutdown), the simplest correct version: the broker itself moves
 * leadership of the partitions it leads to another live in-sync replica (preferred order)
 * and takes itself out of the ISR of partitions it follows, by version-checked writes of the
 * state znodes (fenced by the controller epoch when it is the controller); lost races are
 * re-read and retried (up to 5 rounds). A partition where it is the only in-sync replica is
 * left alone (it stays leader until it goes, as in Kafka). Then, if it is the controller, it
 * resigns (deletes /controller, so another broker takes over at once), and finally it
 * deletes its /brokers/ids/<id>. The running controller sees these changes through its
 * watches. Kafka routes this through a ControlledShutdown request to the controller; here
 * the state znodes are the only channel, which keeps every broker on the same code path.
 *
 * Lifetime: a ctl holds one reference for its owner and one per outstanding coord
 * completion; ctl_free marks it dead and it is freed with the last completion. Watches carry
 * the ctl without a reference, so the coord session must be closed in the same loop turn as
 * ctl_free (or before it).
 */
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_int.h"

void ctl_ref(ctl_t *ctl) {
    ctl->refs++;
}

static void ctl_destroy(ctl_t *ctl) {
    map_free(ctl->inflight_parts, NULL);
    map_free(ctl->inflight_deletes, NULL);
    free(ctl->host_copy);
    free(ctl->rack_copy);
    free(ctl->reg_json);
    free(ctl);
}

bool ctl_unref(ctl_t *ctl) {
    ctl->refs--;
    if (ctl->refs == 0) {
        ctl_destroy(ctl);
        return false;
    }
    return !ctl->dead;
}

bool ctl_is_controller(const ctl_t *ctl) {
    return ctl && ctl->is_controller;
}

typedef struct defer_op {
    void (*fn)(void *arg, int rc);
    void *arg;
} defer_op_t;

static void on_defer(void *arg, int rc, const char *data, size_t len, int32_t version) {
    defer_op_t *d = arg;
    (void)data;
    (void)len;
    (void)version;
    (void)rc;
    void (*fn)(void *, int) = d->fn;
    void *fn_arg = d->arg;
    free(d);
    fn(fn_arg, 0);
}

void ctl_defer(ctl_t *ctl, void (*fn)(void *arg, int rc), void *arg) {
    defer_op_t *d = xcalloc(1, sizeof(*d));
    d->fn = fn;
    d->arg = arg;
    /* A read of the root always completes (ESHUTDOWN when the session is closed). */
    if (coord_get(ctl->coord, "/", NULL, NULL, on_defer, d) != 0) {
        /* Closed session: no loop round trip is available; run now. */
        on_defer(d, STRATA_ESHUTDOWN, NULL, 0, -1);
    }
}

/* ---------------------------------------------------------------- live brokers */

static int32_t *live_ids(ctl_t *ctl, int32_t exclude, size_t *n) {
    size_t cnt = mdc_broker_count(ctl->mdc), k = 0;
    int32_t *ids = xmalloc((cnt ? cnt : 1) * sizeof(int32_t));
    for (size_t i = 0; i < cnt; i++) {
        int32_t id = mdc_broker_at(ctl->mdc, i)->id;
        if (id != exclude) {
            ids[k++] = id;
        }
    }
    *n = k;
    return ids;
}

/* ---------------------------------------------------------------- partition state writes */

typedef struct part_write {
    ctl_t *ctl;
    char *key;
    char *topic;
    int32_t partition;
} part_write_t;

/* A lost version check may mean another controller bumped /controller_epoch: if its
 * version is no longer ours, stop acting as controller and look at /controller again. */
static void on_epoch_checked(void *arg, int rc, const char *data, size_t len, int32_t version) {
    ctl_t *ctl = arg;
    (void)data;
    (void)len;
    if (!ctl_unref(ctl)) {
        return;
    }
    if (rc == 0 && ctl->is_controller && version != ctl->epoch_zkversion) {
        slog_warn("[Controller id=%d] /controller_epoch moved on (fenced): stepping down",
                  (int)ctl->cfg.broker_id);
        ctl->is_controller = false;
        elect_watch(ctl);
    }
}

static void check_fenced(ctl_t *ctl) {
    ctl_ref(ctl);
    if (coord_get(ctl->coord, "/controller_epoch", NULL, NULL, on_epoch_checked, ctl) != 0) {
        ctl_unref(ctl);
    }
}

static void on_part_written(void *arg, int rc) {
    part_write_t *w = arg;
    ctl_t *ctl = w->ctl;
    if (ctl_unref(ctl)) {
        map_remove_str(ctl->inflight_parts, w->key);
        if (rc != 0 && rc != STRATA_ESHUTDOWN) {
            if (rc != STRATA_EBADVERSION && rc != STRATA_EEXISTS) {
                slog_warn("[Controller id=%d] writing state of %s-%d: %s", (int)ctl->cfg.broker_id,
                          w->topic, (int)w->partition, strata_strerror(rc));
            }
            mdc_refresh_partition(ctl->mdc, w->topic, w->partition);
            if (rc == STRATA_ECONNLOSS) {
                ctl_kick_reconcile(ctl);
            } else if (rc == STRATA_EBADVERSION) {
                check_fenced(ctl); /* the state moved on, or we were deposed */
            }
        }
    }
    free(w->key);
    free(w->topic);
    free(w);
}

static void write_state(ctl_t *ctl, const char *topic, int32_t partition, int32_t leader,
                        int32_t leader_epoch, const int32_t *isr, int32_t nisr,
                        int32_t expected_version) {
    part_write_t *w = xcalloc(1, sizeof(*w));
    w->ctl = ctl;
    w->key = xasprintf("%s\n%d", topic, (int)partition);
    w->topic = xstrdup(topic);
    w->partition = partition;
    map_put_str(ctl->inflight_parts, w->key, (void *)1);
    zkpath_state_t st = {.leader = leader,
                         .leader_epoch = leader_epoch,
                         .controller_epoch = ctl->epoch,
                         .nisr = nisr,
                         .isr = (int32_t *)isr};
    ctl_ref(ctl);
    pstate_write(ctl, topic, partition, &st, expected_version, true, on_part_written, w);
}

/* ---------------------------------------------------------------- topic deletion */

typedef struct tree_del {
    ctl_t *ctl;
    char *path;
    int pending; /* children still being deleted */
    int rc;
    void (*done)(void *arg, int rc);
    void *arg;
} tree_del_t;

static void delete_tree(ctl_t *ctl, const char *path, void (*done)(void *, int), void *arg);

static void tree_del_finish(tree_del_t *d, int rc) {
    void (*done)(void *, int) = d->done;
    void *arg = d->arg;
    free(d->path);
    free(d);
    done(arg, rc);
}

static void on_node_removed(void *arg, int rc) {
    tree_del_t *d = arg;
    ctl_unref(d->ctl);
    tree_del_finish(d, rc == STRATA_ENOTFOUND ? 0 : rc);
}

static void tree_del_remove_self(tree_del_t *d) {
    if (d->rc != 0 || d->ctl->dead) {
        tree_del_finish(d, d->rc ? d->rc : STRATA_ESHUTDOWN);
        return;
    }
    ctl_ref(d->ctl);
    int rc = coord_remove(d->ctl->coord, d->path, -1, on_node_removed, d);
    if (rc != 0) {
        on_node_removed(d, rc);
    }
}

static void on_child_deleted(void *arg, int rc) {
    tree_del_t *d = arg;
    if (rc != 0 && d->rc == 0) {
        d->rc = rc;
    }
    if (--d->pending == 0) {
        tree_del_remove_self(d);
    }
}

static void on_tree_children(void *arg, int rc, const char *const *names, size_t count) {
    tree_del_t *d = arg;
    bool alive = ctl_unref(d->ctl);
    if (!alive) {
        tree_del_finish(d, STRATA_ESHUTDOWN);
        return;
    }
    if (rc == STRATA_ENOTFOUND) {
        tree_del_finish(d, 0);
        return;
    }
    if (rc != 0) {
        tree_del_finish(d, rc);
        return;
    }
    if (count == 0) {
        tree_del_remove_self(d);
        return;
    }
    d->pending = (int)count + 1;
    for (size_t i = 0; i < count; i++) {
        char *child = xasprintf("%s/%s", d->path, names[i]);
        delete_tree(d->ctl, child, on_child_deleted, d);
        free(child);
    }
    on_child_deleted(d, 0);
}

/* Deletes path and everything under it (children first); ENOTFOUND counts as done. */
static void delete_tree(ctl_t *ctl, const char *path, void (*done)(void *, int), void *arg) {
    tree_del_t *d = xcalloc(1, sizeof(*d));
    d->ctl = ctl;
    d->path = xstrdup(path);
    d->done = done;
    d->arg = arg;
    ctl_ref(ctl);
    int rc = coord_children(ctl->coord, path, NULL, NULL, on_tree_children, d);
    if (rc != 0) {
        on_tree_children(d, rc, NULL, 0);
    }
}

typedef struct topic_del {
    ctl_t *ctl;
    char *topic;
    int step;
} topic_del_t;

static void topic_del_step(void *arg, int rc);

static void topic_del_removed(void *arg, int rc) {
    topic_del_t *t = arg;
    ctl_unref(t->ctl);
    topic_del_step(t, rc == STRATA_ENOTFOUND ? 0 : rc);
}

static void topic_del_remove(topic_del_t *t, char *path) {
    ctl_ref(t->ctl);
    int rc = coord_remove(t->ctl->coord, path, -1, topic_del_removed, t);
    free(path);
    if (rc != 0) {
        topic_del_removed(t, rc);
    }
}

static void topic_del_step(void *arg, int rc) {
    topic_del_t *t = arg;
    ctl_t *ctl = t->ctl;
    if (ctl->dead || rc != 0) {
        if (!ctl->dead) {
            slog_warn("[Controller id=%d] deleting topic %s: %s", (int)ctl->cfg.broker_id, t->topic,
                      strata_strerror(rc));
            map_remove_str(ctl->inflight_deletes, t->topic);
        }
        goto finish;
    }
    switch (t->step++) {
    case 0:
        if (!ctl->cfg.delete_topic_enable) {
            slog_warn("[Controller id=%d] delete.topic.enable is false: ignoring the deletion "
                      "request for %s",
                      (int)ctl->cfg.broker_id, t->topic);
            t->step = 3; /* after this remove: done */
            topic_del_remove(t, zkpath_delete_topic(t->topic));
            return;
        }
        {
            char *path = zkpath_topic(t->topic);
            delete_tree(ctl, path, topic_del_step, t);
            free(path);
        }
        return;
    case 1:
        topic_del_remove(t, zkpath_topic_config(t->topic));
        return;
    case 2:
        topic_del_remove(t, zkpath_delete_topic(t->topic));
        return;
    default:
        if (ctl->cfg.delete_topic_enable) {
            slog_info("[Controller id=%d] deleted topic %s", (int)ctl->cfg.broker_id, t->topic);
        }
        map_remove_str(ctl->inflight_deletes, t->topic);
        goto finish;
    }
finish:
    ctl_unref(ctl);
    free(t->topic);
    free(t);
}

static void start_topic_delete(ctl_t *ctl, const char *topic) {
    topic_del_t *t = xcalloc(1, sizeof(*t));
    t->ctl = ctl;
    t->topic = xstrdup(topic);
    map_put_str(ctl->inflight_deletes, topic, (void *)1);
    ctl_ref(ctl); /* held for the whole deletion */
    topic_del_step(t, 0);
}

/* ---------------------------------------------------------------- reconcile */

/* issue 6: the topic's unclean.leader.election.enable overrides the broker's. */
static bool topic_unclean(const ctl_t *ctl, const mdc_topic_t *t) {
    const char *v = t->config ? props_get(t->config, "unclean.leader.election.enable") : NULL;
    if (v) {
        return strcmp(v, "true") == 0;
    }
    return ctl->cfg.unclean_leader_election;
}

static bool in_isr(const mdc_partition_t *p, int32_t id) {
    for (int32_t i = 0; i < p->nisr; i++) {
        if (p->isr[i] == id) {
            return true;
        }
    }
    return false;
}

void ctl_reconcile(ctl_t *ctl) {
    if (ctl->dead || !ctl->is_controller || !mdc_synced(ctl->mdc)) {
        return;
    }
    mdc_t *m = ctl->mdc;
    for (size_t i = 0; i < mdc_delete_queue_count(m); i++) {
        const char *name = mdc_delete_queue_at(m, i);
        if (!map_get_str(ctl->inflight_deletes, name)) {
            start_topic_delete(ctl, name);
        }
    }
    size_t nlive;
    int32_t *live = live_ids(ctl, -1, &nlive);
    for (size_t i = 0; i < mdc_topic_count(m); i++) {
        const mdc_topic_t *t = mdc_topic_at(m, i);
        if (t->deleting || map_get_str(ctl->inflight_deletes, t->name)) {
            continue;
        }
        for (int32_t pi = 0; pi < t->npartitions; pi++) {
            const mdc_partition_t *p = &t->partitions[pi];
            if (!p->state_known) {
                continue;
            }
            char *key = xasprintf("%s\n%d", t->name, (int)pi);
            bool busy = map_get_str(ctl->inflight_parts, key) != NULL;
            free(key);
            if (busy) {
                continue;
            }
            int32_t *isr = xmalloc((size_t)(p->nreplicas + p->nisr + 1) * sizeof(int32_t));
            int32_t leader, nisr;
            if (p->state_version < 0) {
                if (elect_initial(p->replicas, p->nreplicas, live, nlive, &leader, isr, &nisr)) {
                    write_state(ctl, t->name, pi, leader, 0, isr, nisr, -1);
                }
            } else if (elect_partition(p, live, nlive, topic_unclean(ctl, t), &leader, isr,
                                       &nisr)) {
                if (leader >= 0 && !in_isr(p, leader)) {
                    /* issue 6: unclean.leader.election.enable (broker or topic) */
                    slog_warn("[Controller id=%d] %s-%d: unclean leader election of %d (no ISR "
                              "member alive): records acknowledged by the old ISR may be lost",
                              (int)ctl->cfg.broker_id, t->name, (int)pi, (int)leader);
                }
                if (leader != p->leader) {
                    slog_info("[Controller id=%d] %s-%d: leader %d -> %d, isr of %d",
                              (int)ctl->cfg.broker_id, t->name, (int)pi, (int)p->leader,
                              (int)leader, (int)nisr);
                }
                write_state(ctl, t->name, pi, leader, p->leader_epoch + 1, isr, nisr,
                            p->state_version);
            }
            free(isr);
        }
    }
    free(live);
}

static void on_kick(void *arg, int rc) {
    ctl_t *ctl = arg;
    (void)rc;
    if (ctl_unref(ctl)) {
        ctl->reconcile_scheduled = false;
        ctl_reconcile(ctl);
    }
}

void ctl_kick_reconcile(ctl_t *ctl) {
    if (ctl->reconcile_scheduled || ctl->dead) {
        return;
    }
    ctl->reconcile_scheduled = true;
    ctl_ref(ctl);
    ctl_defer(ctl, on_kick, ctl);
}

void ctl_repl_became_controller(ctl_t *ctl); /* issue 6: repl_ctl.c */
void ctl_repl_free(ctl_t *ctl);

void ctl_became_controller(ctl_t *ctl) {
    map_free(ctl->inflight_parts, NULL);
    ctl->inflight_parts = map_new();
    ctl_reconcile(ctl);
    ctl_repl_became_controller(ctl); /* issue 6: ISR notifications, preferred leaders */
}

/* ---------------------------------------------------------------- events */

void ctl_run_deferred(ctl_t *ctl); /* admin.c */
static void shutdown_moves(ctl_t *ctl);

void ctl_mdc_event(void *arg, mdc_event_t ev, const char *topic, int32_t partition) {
    (void)arg;
    (void)ev;
    (void)partition;
    (void)topic;
    /* Decisions wait for the quiescent hook (a cache that has caught up). */
}

static void on_quiescent(void *arg) {
    ctl_t *ctl = arg;
    if (ctl->dead) {
        return;
    }
    ctl_run_deferred(ctl);
    if (ctl->shutdown_retry) {
        ctl->shutdown_retry = false;
        shutdown_moves(ctl);
    }
    ctl_reconcile(ctl);
}

static void on_session(void *arg, coord_event_t ev, const char *path) {
    ctl_t *ctl = arg;
    (void)path;
    if (ctl->dead) {
        return;
    }
    if (ev == COORD_EV_SESSION_EXPIRED) {
        slog_warn("[Controller id=%d] coordination session expired: re-registering and "
                  "re-reading",
                  (int)ctl->cfg.broker_id);
        ctl->is_controller = false;
        ctl->electing = false;
        ctl->registered = false;
        if (!ctl->shutting_down) {
            ctl_register(ctl);
        }
        mdc_resync(ctl->mdc);
    } else if (ev == COORD_EV_CONNECTED) {
        slog_info("[Controller id=%d] coordination service connected", (int)ctl->cfg.broker_id);
    }
}

/* ---------------------------------------------------------------- lifecycle */

int ctl_start(uv_loop_t *loop, coord_t *coord, const ctl_config_t *cfg, coord_done_cb done,
              void *arg, ctl_t **out, mdc_t **mdc_out) {
    *out = NULL;
    if (mdc_out) {
        *mdc_out = NULL;
    }
    if (!loop || !coord || !cfg || cfg->broker_id < 0 || !cfg->host) {
        return STRATA_EINVAL;
    }
    ctl_t *ctl = xcalloc(1, sizeof(*ctl));
    ctl->loop = loop;
    ctl->coord = coord;
    ctl->cfg = *cfg;
    ctl->host_copy = xstrdup(cfg->host);
    ctl->cfg.host = ctl->host_copy;
    if (cfg->rack && cfg->rack[0]) {
        ctl->rack_copy = xstrdup(cfg->rack);
        ctl->cfg.rack = ctl->rack_copy;
    } else {
        ctl->cfg.rack = NULL;
    }
    if (ctl->cfg.num_partitions <= 0) {
        ctl->cfg.num_partitions = 1;
    }
    if (ctl->cfg.default_replication <= 0) {
        ctl->cfg.default_replication = 1;
    }
    ctl->refs = 1;
    ctl->epoch = -1;
    ctl->epoch_zkversion = -1;
    ctl->inflight_parts = map_new();
    ctl->inflight_deletes = map_new();
    ctl->start_done = done;
    ctl->start_arg = arg;
    coord->vt->set_session_watch(coord, on_session, ctl);
    ctl_register(ctl); /* first on the session: the paths exist before the cache reads */
    ctl->mdc = mdc_new(loop, coord);
    mdc_set_quiescent_cb(ctl->mdc, on_quiescent, ctl);
    mdc_add_listener(ctl->mdc, ctl_mdc_event, ctl);
    *out = ctl;
    if (mdc_out) {
        *mdc_out = ctl->mdc;
    }
    return 0;
}

void ctl_admin_drop_deferred(ctl_t *ctl); /* admin.c */

void ctl_free(ctl_t *ctl) {
    if (!ctl || ctl->dead) {
        return;
    }
    ctl->dead = true;
    ctl_repl_free(ctl); /* issue 6 */
    ctl_admin_drop_deferred(ctl);
    mdc_release(ctl->mdc);
    ctl->mdc = NULL;
    ctl_unref(ctl);
}

/* ---------------------------------------------------------------- controlled shutdown */

typedef struct move_op {
    ctl_t *ctl;
    char *topic;
    int32_t partition;
} move_op_t;

static void shutdown_finish(ctl_t *ctl, int rc);
static void shutdown_after_moves(ctl_t *ctl);

static void on_move_written(void *arg, int rc) {
    move_op_t *op = arg;
    ctl_t *ctl = op->ctl;
    if (ctl_unref(ctl)) {
        if (rc == STRATA_EBADVERSION || rc == STRATA_ENOTFOUND) {
            ctl->shutdown_lost_race = true;
            mdc_refresh_partition(ctl->mdc, op->topic, op->partition);
        } else if (rc != 0) {
            slog_warn("[ControlledShutdown id=%d] %s-%d: %s", (int)ctl->cfg.broker_id, op->topic,
                      (int)op->partition, strata_strerror(rc));
        }
        if (--ctl->shutdown_pending == 0) {
            shutdown_after_moves(ctl);
        }
    }
    free(op->topic);
    free(op);
}

static void shutdown_moves(ctl_t *ctl) {
    mdc_t *m = ctl->mdc;
    size_t nlive;
    int32_t *live = live_ids(ctl, ctl->cfg.broker_id, &nlive);
    ctl->shutdown_pending = 1;
    ctl->shutdown_lost_race = false;
    for (size_t i = 0; i < mdc_topic_count(m); i++) {
        const mdc_topic_t *t = mdc_topic_at(m, i);
        for (int32_t pi = 0; pi < t->npartitions; pi++) {
            const mdc_partition_t *p = &t->partitions[pi];
            if (p->state_version < 0) {
                continue;
            }
            int32_t *isr = xmalloc((size_t)(p->nisr + 1) * sizeof(int32_t));
            int32_t leader, nisr;
            if (elect_shutdown(p, ctl->cfg.broker_id, live, nlive, &leader, isr, &nisr)) {
                zkpath_state_t st = {.leader = leader,
                                     .leader_epoch = p->leader_epoch + 1,
                                     .controller_epoch =
                                         ctl->is_controller ? ctl->epoch : p->controller_epoch,
                                     .nisr = nisr,
                                     .isr = isr};
                if (leader != p->leader) {
                    slog_info("[ControlledShutdown id=%d] %s-%d: leader %d -> %d",
                              (int)ctl->cfg.broker_id, t->name, (int)pi, (int)p->leader,
                              (int)leader);
                }
                move_op_t *op = xcalloc(1, sizeof(*op));
                op->ctl = ctl;
                op->topic = xstrdup(t->name);
                op->partition = pi;
                ctl->shutdown_pending++;
                ctl_ref(ctl);
                pstate_write(ctl, t->name, pi, &st, p->state_version, ctl->is_controller,
                             on_move_written, op);
            }
            free(isr);
        }
    }
    free(live);
    if (--ctl->shutdown_pending == 0) {
        shutdown_after_moves(ctl);
    }
}

static void on_shutdown_deregistered(void *arg, int rc) {
    ctl_t *ctl = arg;
    if (!ctl_unref(ctl)) {
        return;
    }
    shutdown_finish(ctl, rc);
}

static void on_shutdown_resigned(void *arg, int rc) {
    ctl_t *ctl = arg;
    if (!ctl_unref(ctl)) {
        return;
    }
    if (rc != 0) {
        slog_warn("[ControlledShutdown id=%d] resigning: %s", (int)ctl->cfg.broker_id,
                  strata_strerror(rc));
    }
    if (!ctl->registered) {
        /* Never registered (e.g. the id was taken): the node is not ours to delete. */
        ctl_ref(ctl);
        ctl_defer(ctl, on_shutdown_deregistered, ctl);
        return;
    }
    ctl_ref(ctl);
    ctl_deregister(ctl, on_shutdown_deregistered, ctl);
}

static void shutdown_after_moves(ctl_t *ctl) {
    if (ctl->shutdown_lost_race && ctl->shutdown_rounds < 5) {
        ctl->shutdown_rounds++;
        ctl->shutdown_retry = true; /* shutdown_moves again once the cache re-read */
        return;
    }
    ctl_ref(ctl);
    elect_resign(ctl, on_shutdown_resigned, ctl);
}

static void shutdown_finish(ctl_t *ctl, int rc) {
    slog_info("[ControlledShutdown id=%d] done", (int)ctl->cfg.broker_id);
    coord_done_cb done = ctl->shutdown_done;
    void *arg = ctl->shutdown_arg;
    ctl->shutdown_done = NULL;
    if (done) {
        done(arg, rc);
    }
}

void ctl_shutdown(ctl_t *ctl, coord_done_cb done, void *arg) {
    if (!ctl || ctl->dead || ctl->shutting_down) {
        return;
    }
    ctl->shutting_down = true;
    ctl->shutdown_done = done;
    ctl->shutdown_arg = arg;
    ctl->shutdown_rounds = 0;
    if (!ctl->registered) {
        /* Never registered (or lost the session): nothing to hand over. */
        ctl_ref(ctl);
        elect_resign(ctl, on_shutdown_resigned, ctl);
        return;
    }
    shutdown_moves(ctl);
}
