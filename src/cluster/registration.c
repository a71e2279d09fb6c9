/*
 * registration: what a broker writes at start-up (Kafka's KafkaZkClient.registerBroker and
 * the persistent paths it makes), and deregistration for a controlled shutdown.
 *
 *  - the persistent paths of zkpath_startup_paths (NODEEXISTS is fine), /cluster/id with a
 *    new random id if absent, /controller_epoch = "0" if absent;
 *  - then the ephemeral /brokers/ids/<id> (version 5 JSON). NODEEXISTS means the broker id
 *    is taken: the start callback gets STRATA_EEXISTS and this broker never stands for
 *    controller.
 * All requests go out back to back on one session, so ZooKeeper's per-session ordering
 * guarantees the parents exist before the registration is processed.
 */
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_int.h"

/* A persistent node that must exist (NODEEXISTS is fine); re-sent after a connection loss. */
typedef struct ensure {
    ctl_t *ctl;
    char *path;
    char *data;
    size_t len;
} ensure_t;

static void on_ensured(void *arg, int rc, const char *path) {
    ensure_t *e = arg;
    (void)path;
    if (ctl_unref(e->ctl) && rc == STRATA_ECONNLOSS) {
        ctl_ref(e->ctl);
        if (coord_create(e->ctl->coord, e->path, e->data, e->len, COORD_PERSISTENT, on_ensured,
                         e) == 0) {
            return;
        }
        ctl_unref(e->ctl);
    } else if (rc != 0 && rc != STRATA_EEXISTS && rc != STRATA_ESHUTDOWN) {
        slog_warn("[Registration] creating %s: %s", e->path, strata_strerror(rc));
    }
    free(e->path);
    free(e->data);
    free(e);
}

static void ensure_path(ctl_t *ctl, const char *path, const char *data) {
    ensure_t *e = xcalloc(1, sizeof(*e));
    e->ctl = ctl;
    e->path = xstrdup(path);
    e->len = data ? strlen(data) : 0;
    e->data = data ? xstrdup(data) : NULL;
    ctl_ref(ctl);
    if (coord_create(ctl->coord, path, e->data, e->len, COORD_PERSISTENT, on_ensured, e) != 0) {
        on_ensured(e, STRATA_ESHUTDOWN, NULL);
    }
}

static void send_registration(ctl_t *ctl);
static void on_registered(void *arg, int rc, const char *path);
static void on_stale_watch(void *arg, coord_event_t ev, const char *path);

static void registration_result(ctl_t *ctl, int rc) {
    bool first = ctl->start_done != NULL;
    coord_done_cb done = ctl->start_done;
    void *done_arg = ctl->start_arg;
    ctl->start_done = NULL;
    if (rc == 0) {
        ctl->registered = true;
        slog_info("[Registration] registered broker %d at %s:%d%s%s", (int)ctl->cfg.broker_id,
                  ctl->cfg.host, (int)ctl->cfg.port, ctl->cfg.rack ? " rack " : "",
                  ctl->cfg.rack ? ctl->cfg.rack : "");
        if (first && done) {
            done(done_arg, 0);
        }
        if (!ctl->dead) {
            elect_watch(ctl);
        }
        return;
    }
    if (rc == STRATA_EEXISTS) {
        slog_error("[Registration] broker.id %d is already registered at /brokers/ids/%d "
                   "by another broker",
                   (int)ctl->cfg.broker_id, (int)ctl->cfg.broker_id);
    } else {
        slog_error("[Registration] registering broker %d: %s", (int)ctl->cfg.broker_id,
                   strata_strerror(rc));
    }
    if (first && done) {
        done(done_arg, rc);
    }
}

/* NODEEXISTS after a lost reply: the node may be our own. It is when it holds exactly the
 * registration we wrote (its timestamp makes it unique to this attempt). */
static void on_existing(void *arg, int rc, const char *data, size_t len, int32_t version) {
    ctl_t *ctl = arg;
    (void)version;
    if (!ctl_unref(ctl)) {
        return;
    }
    if (rc == STRATA_ECONNLOSS) {
        send_registration(ctl);
        return;
    }
    if (rc == STRATA_ESESSION) {
        return;
    }
    if (rc == STRATA_ENOTFOUND) {
        send_registration(ctl); /* it went away meanwhile (an old session expired) */
        return;
    }
    bool ours = ctl->reg_retried && rc == 0 && ctl->reg_json && len == strlen(ctl->reg_json) &&
                memcmp(data, ctl->reg_json, len) == 0;
    if (ours) {
        registration_result(ctl, 0);
        return;
    }
    /* Our own previous incarnation (killed, restarted before its session expired) left a
     * registration with our very endpoint: wait for ZooKeeper to expire it, as a restarted
     * Kafka broker does. Another live broker with this id has another endpoint (two
     * processes cannot listen on one host:port): that is the duplicate-id error. */
    mdc_broker_t old;
    bool same_endpoint = false;
    if (rc == 0 && zkpath_broker_parse(data, len, ctl->cfg.broker_id, &old) == 0) {
        same_endpoint = strcmp(old.host, ctl->cfg.host) == 0 && old.port == ctl->cfg.port;
        free(old.host);
        free(old.rack);
    }
    if (!same_endpoint || ctl->shutting_down) {
        registration_result(ctl, STRATA_EEXISTS);
        return;
    }
    if (!ctl->reg_waiting) {
        slog_warn("[Registration] /brokers/ids/%d holds this broker's endpoint from an earlier "
                  "session: waiting for ZooKeeper to expire it",
                  (int)ctl->cfg.broker_id);
    }
    ctl->reg_waiting = true;
    /* The data watch armed by the read above fires when the node goes: register then. */
}

/* Fires when the stale registration changes or goes. */
static void on_stale_watch(void *arg, coord_event_t ev, const char *path) {
    ctl_t *ctl = arg;
    (void)ev;
    (void)path;
    if (ctl->dead || !ctl->reg_waiting || ctl->shutting_down) {
        return;
    }
    ctl->reg_waiting = false;
    ctl->reg_retried = true; /* a NODEEXISTS now is examined again */
    send_registration(ctl);
}

static void on_registered(void *arg, int rc, const char *path) {
    ctl_t *ctl = arg;
    (void)path;
    if (!ctl_unref(ctl)) {
        return;
    }
    if (rc == STRATA_ECONNLOSS) {
        ctl->reg_retried = true;
        send_registration(ctl);
        return;
    }
    if (rc == STRATA_ESESSION) {
        return; /* the session expired: on_session (controller.c) registers again */
    }
    if (rc == STRATA_EEXISTS) {
        char *p = zkpath_broker(ctl->cfg.broker_id);
        ctl_ref(ctl);
        if (coord_get(ctl->coord, p, on_stale_watch, ctl, on_existing, ctl) != 0) {
            ctl_unref(ctl);
            registration_result(ctl, rc);
        }
        free(p);
        return;
    }
    registration_result(ctl, rc);
}

static void send_registration(ctl_t *ctl) {
    char *path = zkpath_broker(ctl->cfg.broker_id);
    ctl_ref(ctl);
    int rc = coord_create(ctl->coord, path, ctl->reg_json, strlen(ctl->reg_json), COORD_EPHEMERAL,
                          on_registered, ctl);
    free(path);
    if (rc != 0) {
        on_registered(ctl, rc, NULL);
    }
}

void ctl_register(ctl_t *ctl) {
    for (size_t i = 0; zkpath_startup_paths[i]; i++) {
        ensure_path(ctl, zkpath_startup_paths[i], NULL);
    }
    uint8_t id[16];
    char idtxt[23];
    zkpath_uuid_random(id);
    zkpath_uuid_encode(id, idtxt);
    char *cid = zkpath_cluster_id_json(idtxt);
    ensure_path(ctl, "/cluster", NULL);
    ensure_path(ctl, "/cluster/id", cid);
    free(cid);
    ensure_path(ctl, "/controller_epoch", "0");

    free(ctl->reg_json);
    ctl->reg_json = zkpath_broker_json(ctl->cfg.broker_id, ctl->cfg.host, ctl->cfg.port,
                                       ctl->cfg.rack, clock_wall_ms());
    ctl->reg_retried = false;
    send_registration(ctl);
}

typedef struct dereg {
    ctl_t *ctl;
    coord_done_cb done;
    void *arg;
} dereg_t;

static void on_deregistered(void *arg, int rc) {
    dereg_t *d = arg;
    ctl_t *ctl = d->ctl;
    coord_done_cb done = d->done;
    void *done_arg = d->arg;
    free(d);
    if (rc == STRATA_ENOTFOUND) {
        rc = 0;
    }
    bool alive = ctl_unref(ctl);
    if (alive) {
        ctl->registered = false;
    }
    done(done_arg, rc);
}

void ctl_deregister(ctl_t *ctl, coord_done_cb done, void *arg) {
    dereg_t *d = xcalloc(1, sizeof(*d));
    d->ctl = ctl;
    d->done = done;
    d->arg = arg;
    ctl_ref(ctl);
    char *path = zkpath_broker(ctl->cfg.broker_id);
    int rc = coord_remove(ctl->coord, path, -1, on_deregistered, d);
    free(path);
    if (rc != 0) {
        on_deregistered(d, rc);
    }
}
