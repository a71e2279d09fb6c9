/*
 * election: controller election through the ephemeral /controller (Kafka's ZooKeeper mode).
 *
 *  1. Read /controller with a watch. Present: that broker is the controller (if it is not us,
 *     we are not). Absent: stand.
 *  2. Standing: read /controller_epoch and its data version, then one multi = { create
 *     ephemeral /controller, set /controller_epoch = epoch + 1 expecting that version }.
 *     Success: we are controller with the new epoch, and the new data version of
 *     /controller_epoch fences every later controller write (partition_state.c). NODEEXISTS or
 *     BADVERSION: another broker won; the watch of step 1 tells us when to stand again.
 *  3. Any event on /controller re-runs step 1. A broker that is shutting down or not
 *     registered does not stand.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_int.h"

static void on_controller_watch(void *arg, coord_event_t ev, const char *path);
static void stand(ctl_t *ctl);

typedef struct stand_op {
    ctl_t *ctl;
    int32_t new_epoch;
    int32_t new_version;
} stand_op_t;

static void on_multi(void *arg, int rc) {
    stand_op_t *op = arg;
    ctl_t *ctl = op->ctl;
    int32_t epoch = op->new_epoch, version = op->new_version;
    free(op);
    if (!ctl_unref(ctl)) {
        return;
    }
    ctl->electing = false;
    if (rc == 0) {
        if (ctl->shutting_down) {
            return; /* the resign in ctl_shutdown removes /controller */
        }
        ctl->is_controller = true;
        ctl->epoch = epoch;
        ctl->epoch_zkversion = version;
        slog_info("[Controller id=%d] became the controller, epoch %d", (int)ctl->cfg.broker_id,
                  (int)epoch);
        ctl_became_controller(ctl);
        return;
    }
    if (rc != STRATA_EEXISTS && rc != STRATA_EBADVERSION && rc != STRATA_ESHUTDOWN) {
        slog_warn("[Controller id=%d] election attempt failed: %s", (int)ctl->cfg.broker_id,
                  strata_strerror(rc));
    }
    /* Lost, or failed: look again (the node may be gone already). */
    elect_watch(ctl);
}

static void on_epoch_created(void *arg, int rc, const char *path) {
    ctl_t *ctl = arg;
    (void)path;
    (void)rc;
    if (!ctl_unref(ctl)) {
        return;
    }
    ctl->electing = false;
    stand(ctl);
}

static void on_epoch(void *arg, int rc, const char *data, size_t len, int32_t version) {
    ctl_t *ctl = arg;
    if (!ctl_unref(ctl)) {
        return;
    }
    if (rc == STRATA_ENOTFOUND) {
        ctl_ref(ctl);
        if (coord_create(ctl->coord, "/controller_epoch", "0", 1, COORD_PERSISTENT,
                         on_epoch_created, ctl) != 0) {
            ctl_unref(ctl);
            ctl->electing = false;
        }
        return;
    }
    int32_t epoch = 0;
    if (rc == STRATA_ECONNLOSS) {
        ctl->electing = false;
        elect_watch(ctl); /* look again once the connection is back */
        return;
    }
    if (rc != 0 || zkpath_epoch_parse(data, len, &epoch) != 0) {
        if (rc == 0) {
            slog_error("[Controller id=%d] /controller_epoch is not a number",
                       (int)ctl->cfg.broker_id);
        }
        ctl->electing = false;
        return;
    }
    stand_op_t *op = xcalloc(1, sizeof(*op));
    op->ctl = ctl;
    op->new_epoch = epoch + 1;
    op->new_version = version + 1;
    char *json = zkpath_controller_json(ctl->cfg.broker_id, clock_wall_ms());
    char etxt[16];
    snprintf(etxt, sizeof(etxt), "%d", (int)(epoch + 1));
    coord_op_t ops[2] = {
        {.type = COORD_OP_CREATE,
         .path = "/controller",
         .data = json,
         .len = strlen(json),
         .flags = COORD_EPHEMERAL},
        {.type = COORD_OP_SET,
         .path = "/controller_epoch",
         .data = etxt,
         .len = strlen(etxt),
         .version = version},
    };
    ctl_ref(ctl);
    int mrc = coord_multi(ctl->coord, ops, 2, on_multi, op);
    free(json);
    if (mrc != 0) {
        on_multi(op, mrc);
    }
}

static void stand(ctl_t *ctl) {
    if (ctl->electing || ctl->is_controller || ctl->shutting_down || !ctl->registered ||
        ctl->dead) {
        return;
    }
    ctl->electing = true;
    ctl_ref(ctl);
    if (coord_get(ctl->coord, "/controller_epoch", NULL, NULL, on_epoch, ctl) != 0) {
        ctl_unref(ctl);
        ctl->electing = false;
    }
}

/* /controller names us but we did not see our election succeed (the multi's reply was lost
 * with the connection): take the epoch and its version as ours. */
static void on_adopt_epoch(void *arg, int rc, const char *data, size_t len, int32_t version) {
    ctl_t *ctl = arg;
    if (!ctl_unref(ctl)) {
        return;
    }
    ctl->electing = false;
    int32_t epoch;
    if (rc == STRATA_ECONNLOSS) {
        elect_watch(ctl);
        return;
    }
    if (rc != 0 || zkpath_epoch_parse(data, len, &epoch) != 0 || ctl->is_controller ||
        ctl->shutting_down) {
        return;
    }
    ctl->is_controller = true;
    ctl->epoch = epoch;
    ctl->epoch_zkversion = version;
    slog_info("[Controller id=%d] /controller names this broker: controller, epoch %d",
              (int)ctl->cfg.broker_id, (int)epoch);
    ctl_became_controller(ctl);
}

static void on_controller(void *arg, int rc, const char *data, size_t len, int32_t version) {
    ctl_t *ctl = arg;
    (void)version;
    if (!ctl_unref(ctl)) {
        return;
    }
    if (rc == 0) {
        int32_t id = -1;
        zkpath_controller_parse(data, len, &id);
        if (id == ctl->cfg.broker_id && !ctl->is_controller && !ctl->electing &&
            !ctl->shutting_down && ctl->registered) {
            ctl->electing = true;
            ctl_ref(ctl);
            if (coord_get(ctl->coord, "/controller_epoch", NULL, NULL, on_adopt_epoch, ctl) != 0) {
                ctl_unref(ctl);
                ctl->electing = false;
            }
            return;
        }
        if (id != ctl->cfg.broker_id && ctl->is_controller) {
            slog_warn("[Controller id=%d] deposed: broker %d is the controller now",
                      (int)ctl->cfg.broker_id, (int)id);
            ctl->is_controller = false;
        }
        return;
    }
    if (rc == STRATA_ENOTFOUND) {
        if (ctl->is_controller) {
            /* Our node vanished (session trouble): we no longer lead. */
            ctl->is_controller = false;
        }
        stand(ctl);
    } else if (rc == STRATA_ECONNLOSS) {
        elect_watch(ctl);
    }
}

void elect_watch(ctl_t *ctl) {
    if (ctl->dead || ctl->shutting_down) {
        return;
    }
    ctl_ref(ctl);
    if (coord_get(ctl->coord, "/controller", on_controller_watch, ctl, on_controller, ctl) != 0) {
        ctl_unref(ctl);
    }
}

static void on_controller_watch(void *arg, coord_event_t ev, const char *path) {
    ctl_t *ctl = arg;
    (void)ev;
    (void)path;
    if (ctl->dead) {
        return;
    }
    elect_watch(ctl);
}

typedef struct resign_op {
    ctl_t *ctl;
    coord_done_cb done;
    void *arg;
} resign_op_t;

static void on_resigned(void *arg, int rc) {
    resign_op_t *op = arg;
    coord_done_cb done = op->done;
    void *done_arg = op->arg;
    ctl_unref(op->ctl);
    free(op);
    done(done_arg, rc == STRATA_ENOTFOUND ? 0 : rc);
}

void elect_resign(ctl_t *ctl, coord_done_cb done, void *arg) {
    resign_op_t *op = xcalloc(1, sizeof(*op));
    op->ctl = ctl;
    op->done = done;
    op->arg = arg;
    bool was = ctl->is_controller;
    ctl->is_controller = false;
    ctl_ref(ctl);
    if (!was) {
        on_resigned(op, 0);
        return;
    }
    slog_info("[Controller id=%d] resigning", (int)ctl->cfg.broker_id);
    if (coord_remove(ctl->coord, "/controller", -1, on_resigned, op) != 0) {
        on_resigned(op, 0);
    }
}
