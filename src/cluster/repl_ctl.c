/*
 * repl_ctl: the controller's share of replication (issue 6), kept apart from controller.c:
 *
 *  - /isr_change_notification: a partition leader that changed an ISR (replica/isr.c) adds
 *    a sequential isr_change_ node naming the partitions. The controller re-reads those
 *    partition states (every broker's cache also watches them) and deletes the node, as
 *    Kafka's controller does.
 *  - Preferred-leader rebalancing (auto.leader.rebalance.enable): every
 *    leader.imbalance.check.interval.seconds the controller counts, per preferred replica
 *    (replicas[0]), the partitions it should lead but does not; above
 *    leader.imbalance.per.broker.percentage it moves leadership back to it for each such
 *    partition where it is live and in the ISR (same ISR, leader epoch + 1, a write fenced by
 *    the controller epoch and conditional on the state version).
 *
 * State lives per ctl in a small list (the ctl struct stays the cluster engineer's). Watches
 * carry the ctl without a reference, like the rest of the controller; completions hold one.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cluster/cluster_int.h"

#define ISR_NOTIFY "/isr_change_notification"

void ctl_repl_became_controller(ctl_t *ctl);
void ctl_repl_free(ctl_t *ctl);

typedef struct rctl {
    ctl_t *ctl;
    uv_timer_t timer;
    bool timer_on;
    struct rctl *next;
} rctl_t;

static rctl_t *rctls;

static rctl_t *find(const ctl_t *ctl) {
    for (rctl_t *r = rctls; r; r = r->next) {
        if (r->ctl == ctl) {
            return r;
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------- isr_change_notification */

typedef struct notif {
    ctl_t *ctl;
    char *path;
} notif_t;

static void list_notifications(ctl_t *ctl);

static void on_notif_removed(void *arg, int rc) {
    ctl_t *ctl = arg;
    (void)rc; /* NONODE: another controller took it */
    ctl_unref(ctl);
}

static void on_notif_data(void *arg, int rc, const char *data, size_t len, int32_t version) {
    notif_t *n = arg;
    ctl_t *ctl = n->ctl;
    (void)version;
    if (ctl_unref(ctl) && rc == 0 && ctl->is_controller) {
        json_error_t err;
        json_t *o = data && len ? json_loadb(data, len, 0, &err) : NULL;
        json_t *parts = o ? json_object_get(o, "partitions") : NULL;
        size_t i;
        json_t *e;
        json_array_foreach(parts, i, e) {
            json_t *t = json_object_get(e, "topic"), *p = json_object_get(e, "partition");
            if (json_is_string(t) && json_is_integer(p) && json_integer_value(p) >= 0 &&
                json_integer_value(p) <= INT32_MAX) {
                mdc_refresh_partition(ctl->mdc, json_string_value(t),
                                      (int32_t)json_integer_value(p));
            }
        }
        json_decref(o);
        slog_info("[Controller id=%d] ISR change notification %s: %.*s", (int)ctl->cfg.broker_id,
                  n->path, (int)len, data ? data : "");
        ctl_ref(ctl);
        if (coord_remove(ctl->coord, n->path, -1, on_notif_removed, ctl) != 0) {
            ctl_unref(ctl);
        }
    }
    free(n->path);
    free(n);
}

static void on_notif_children(void *arg, int rc, const char *const *names, size_t count) {
    ctl_t *ctl = arg;
    if (!ctl_unref(ctl) || rc != 0 || !ctl->is_controller) {
        return;
    }
    for (size_t i = 0; i < count; i++) {
        notif_t *n = xcalloc(1, sizeof(*n));
        n->ctl = ctl;
        n->path = xasprintf("%s/%s", ISR_NOTIFY, names[i]);
        ctl_ref(ctl);
        if (coord_get(ctl->coord, n->path, NULL, NULL, on_notif_data, n) != 0) {
            ctl_unref(ctl);
            free(n->path);
            free(n);
        }
    }
}

static void on_notif_watch(void *arg, coord_event_t ev, const char *path) {
    ctl_t *ctl = arg;
    (void)path;
    if (ev == COORD_EV_CHILDREN && !ctl->dead && ctl->is_controller) {
        list_notifications(ctl);
    }
}

static void list_notifications(ctl_t *ctl) {
    ctl_ref(ctl);
    if (coord_children(ctl->coord, ISR_NOTIFY, on_notif_watch, ctl, on_notif_children, ctl) != 0) {
        ctl_unref(ctl);
    }
}

/* ---------------------------------------------------------------- preferred leaders */

typedef struct pref_write {
    ctl_t *ctl;
    char *key;
    char *topic;
    int32_t partition;
} pref_write_t;

static void on_pref_written(void *arg, int rc) {
    pref_write_t *w = arg;
    ctl_t *ctl = w->ctl;
    if (ctl_unref(ctl)) {
        map_remove_str(ctl->inflight_parts, w->key);
        if (rc != 0 && rc != STRATA_ESHUTDOWN) {
            mdc_refresh_partition(ctl->mdc, w->topic, w->partition);
        }
    }
    free(w->key);
    free(w->topic);
    free(w);
}

static bool contains(const int32_t *v, int32_t n, int32_t id) {
    for (int32_t i = 0; i < n; i++) {
        if (v[i] == id) {
            return true;
        }
    }
    return false;
}

static void rebalance(ctl_t *ctl) {
    mdc_t *m = ctl->mdc;
    if (ctl->dead || !ctl->is_controller || !m || !mdc_synced(m) || ctl->shutting_down) {
        return;
    }
    /* Per preferred broker: partitions it should lead, and those it does not. */
    map_t *total = map_new(), *off = map_new();
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < mdc_topic_count(m); i++) {
            const mdc_topic_t *t = mdc_topic_at(m, i);
            if (t->deleting) {
                continue;
            }
            for (int32_t pi = 0; pi < t->npartitions; pi++) {
                const mdc_partition_t *p = &t->partitions[pi];
                if (!p->state_known || p->state_version < 0 || p->nreplicas == 0) {
                    continue;
                }
                int32_t pref = p->replicas[0];
                char bk[16];
                snprintf(bk, sizeof(bk), "%d", (int)pref);
                intptr_t tot = (intptr_t)map_get_str(total, bk);
                intptr_t bad = (intptr_t)map_get_str(off, bk);
                if (pass == 0) {
                    map_put_str(total, bk, (void *)(tot + 1));
                    if (p->leader != pref) {
                        map_put_str(off, bk, (void *)(bad + 1));
                    }
                    continue;
                }
                if (p->leader == pref || p->leader < 0 || !mdc_broker(m, pref) ||
                    !contains(p->isr, p->nisr, pref)) {
                    continue;
                }
                if (bad * 100 <= tot * ctl->cfg.leader_imbalance_per_broker_percentage) {
                    continue; /* this broker's imbalance is tolerated */
                }
                char *key = xasprintf("%s\n%d", t->name, (int)pi);
                if (map_get_str(ctl->inflight_parts, key)) {
                    free(key);
                    continue;
                }
                slog_info("[Controller id=%d] preferred leader rebalance of %s-%d: %d -> %d",
                          (int)ctl->cfg.broker_id, t->name, (int)pi, (int)p->leader, (int)pref);
                pref_write_t *w = xcalloc(1, sizeof(*w));
                w->ctl = ctl;
                w->key = key;
                w->topic = xstrdup(t->name);
                w->partition = pi;
                map_put_str(ctl->inflight_parts, key, (void *)1);
                zkpath_state_t st = {.leader = pref,
                                     .leader_epoch = p->leader_epoch + 1,
                                     .controller_epoch = ctl->epoch,
                                     .nisr = p->nisr,
                                     .isr = p->isr};
                ctl_ref(ctl);
                pstate_write(ctl, t->name, pi, &st, p->state_version, true, on_pref_written, w);
            }
        }
    }
    map_free(total, NULL);
    map_free(off, NULL);
}

static void on_rebalance_timer(uv_timer_t *t) {
    rctl_t *r = t->data;
    rebalance(r->ctl);
}

/* ---------------------------------------------------------------- lifecycle */

void ctl_repl_became_controller(ctl_t *ctl) {
    list_notifications(ctl);
    if (!ctl->cfg.auto_leader_rebalance || ctl->cfg.leader_imbalance_check_interval_ms <= 0) {
        return;
    }
    rctl_t *r = find(ctl);
    if (r == NULL) {
        r = xcalloc(1, sizeof(*r));
        r->ctl = ctl;
        r->next = rctls;
        rctls = r;
        uv_timer_init(ctl->loop, &r->timer);
        r->timer.data = r;
        uv_unref((uv_handle_t *)&r->timer);
        r->timer_on = true;
    }
    uint64_t every = (uint64_t)ctl->cfg.leader_imbalance_check_interval_ms;
    uv_timer_start(&r->timer, on_rebalance_timer, every, every);
}

static void on_timer_closed(uv_handle_t *h) {
    free(h->data);
}

void ctl_repl_free(ctl_t *ctl) {
    for (rctl_t **pp = &rctls; *pp; pp = &(*pp)->next) {
        if ((*pp)->ctl == ctl) {
            rctl_t *r = *pp;
            *pp = r->next;
            uv_close((uv_handle_t *)&r->timer, on_timer_closed);
            return;
        }
    }
}
