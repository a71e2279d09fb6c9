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

static void ignore_create(void *arg, int rc, const char *path) {
    (void)path;
    (void)arg;
    if (rc != 0 && rc != STRATA_EEXISTS && rc != STRATA_ESHUTDOWN) {
        slog_warn("[Registration] creating a start-up path: %s", strata_strerror(rc));
    }
}

static void on_registered(void *arg, int rc, const char *path) {
    ctl_t *ctl = arg;
    (void)path;
    if (!ctl_unref(ctl)) {
        return;
    }
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

void ctl_register(ctl_t *ctl) {
    for (size_t i = 0; zkpath_startup_paths[i]; i++) {
        coord_create(ctl->coord, zkpath_startup_paths[i], NULL, 0, COORD_PERSISTENT, ignore_create,
                     NULL);
    }
    uint8_t id[16];
    char idtxt[23];
    zkpath_uuid_random(id);
    zkpath_uuid_encode(id, idtxt);
    char *cid = zkpath_cluster_id_json(idtxt);
    coord_create(ctl->coord, "/cluster", NULL, 0, COORD_PERSISTENT, ignore_create, NULL);
    coord_create(ctl->coord, "/cluster/id", cid, strlen(cid), COORD_PERSISTENT, ignore_create,
                 NULL);
    free(cid);
    coord_create(ctl->coord, "/controller_epoch", "0", 1, COORD_PERSISTENT, ignore_create, NULL);

    char *path = zkpath_broker(ctl->cfg.broker_id);
    char *json = zkpath_broker_json(ctl->cfg.broker_id, ctl->cfg.host, ctl->cfg.port, ctl->cfg.rack,
                                    clock_wall_ms());
    ctl_ref(ctl);
    int rc =
        coord_create(ctl->coord, path, json, strlen(json), COORD_EPHEMERAL, on_registered, ctl);
    free(path);
    free(json);
    if (rc != 0) {
        on_registered(ctl, rc, NULL);
    }
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
