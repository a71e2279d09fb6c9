/*
 * partition_state: leader and ISR decisions (pure elect_* functions, table-testable) and the
 * version-checked write of a partition state znode (pstate_write).
 *
 * Rules (Kafka's ZooKeeper-mode controller):
 *  1. A new partition: leader = first live replica in assignment order, ISR = live replicas.
 *  2. A partition whose leader is gone (or none): leader = the first replica in assignment
 *     order (preferred first) that is live and in the ISR; the ISR shrinks to its live
 *     members. None left: leader -1 and the ISR is kept as it was (so a returning member can
 *     take over cleanly) unless unclean election is on, then the first live replica leads
 *     alone.
 *  3. A live leader with dead ISR members: the ISR shrinks.
 *  4. Every write sets leader_epoch + 1 and is conditional on the znode's data version; the
 *     controller's writes are also conditional on its /controller_epoch version (fencing a
 *     deposed controller), through one multi.
 */
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_int.h"

static bool is_live(int32_t id, const int32_t *live, size_t nlive) {
    for (size_t i = 0; i < nlive; i++) {
        if (live[i] == id) {
            return true;
        }
    }
    return false;
}

static bool contains(const int32_t *v, int32_t n, int32_t id) {
    for (int32_t i = 0; i < n; i++) {
        if (v[i] == id) {
            return true;
        }
    }
    return false;
}

bool elect_initial(const int32_t *replicas, int32_t nreplicas, const int32_t *live, size_t nlive,
                   int32_t *leader_out, int32_t *isr_out, int32_t *nisr_out) {
    int32_t n = 0;
    for (int32_t i = 0; i < nreplicas; i++) {
        if (is_live(replicas[i], live, nlive) && !contains(isr_out, n, replicas[i])) {
            isr_out[n++] = replicas[i];
        }
    }
    *nisr_out = n;
    *leader_out = n > 0 ? isr_out[0] : -1;
    return n > 0;
}

bool elect_partition(const mdc_partition_t *p, const int32_t *live, size_t nlive, bool unclean,
                     int32_t *leader_out, int32_t *isr_out, int32_t *nisr_out) {
    int32_t n = 0;
    for (int32_t i = 0; i < p->nisr; i++) {
        if (is_live(p->isr[i], live, nlive) && !contains(isr_out, n, p->isr[i])) {
            isr_out[n++] = p->isr[i];
        }
    }
    if (p->leader >= 0 && is_live(p->leader, live, nlive)) {
        /* Rule 3: keep the leader, shrink the ISR if needed. */
        if (!contains(isr_out, n, p->leader)) {
            memmove(isr_out + 1, isr_out, (size_t)n * sizeof(int32_t));
            isr_out[0] = p->leader;
            n++;
        }
        *leader_out = p->leader;
        *nisr_out = n;
        return n != p->nisr;
    }
    /* Rule 2: preferred order among live ISR members. */
    for (int32_t i = 0; i < p->nreplicas; i++) {
        if (contains(isr_out, n, p->replicas[i])) {
            *leader_out = p->replicas[i];
            *nisr_out = n;
            return true;
        }
    }
    /* An ISR member outside the assignment (reassignment in flight) still qualifies. */
    if (n > 0) {
        *leader_out = isr_out[0];
        *nisr_out = n;
        return true;
    }
    if (unclean) {
        for (int32_t i = 0; i < p->nreplicas; i++) {
            if (is_live(p->replicas[i], live, nlive)) {
                *leader_out = p->replicas[i];
                isr_out[0] = p->replicas[i];
                *nisr_out = 1;
                return true;
            }
        }
    }
    /* Leaderless: keep the last ISR. */
    memcpy(isr_out, p->isr, (size_t)p->nisr * sizeof(int32_t));
    *nisr_out = p->nisr;
    *leader_out = -1;
    return p->leader != -1;
}

bool elect_shutdown(const mdc_partition_t *p, int32_t broker, const int32_t *live, size_t nlive,
                    int32_t *leader_out, int32_t *isr_out, int32_t *nisr_out) {
    if (p->leader != broker && !contains(p->isr, p->nisr, broker)) {
        return false;
    }
    int32_t n = 0;
    for (int32_t i = 0; i < p->nisr; i++) {
        if (p->isr[i] != broker && !contains(isr_out, n, p->isr[i])) {
            isr_out[n++] = p->isr[i];
        }
    }
    if (p->leader != broker) {
        /* A follower leaves the ISR, unless it would empty it. */
        if (n == 0 || n == p->nisr) {
            return false;
        }
        *leader_out = p->leader;
        *nisr_out = n;
        return true;
    }
    /* Leader: hand over to a live ISR member, preferred order first. */
    int32_t next = -1;
    for (int32_t i = 0; i < p->nreplicas && next < 0; i++) {
        if (p->replicas[i] != broker && contains(isr_out, n, p->replicas[i]) &&
            is_live(p->replicas[i], live, nlive)) {
            next = p->replicas[i];
        }
    }
    for (int32_t i = 0; i < n && next < 0; i++) {
        if (is_live(isr_out[i], live, nlive)) {
            next = isr_out[i];
        }
    }
    if (next < 0) {
        return false; /* sole in-sync replica: it keeps leading until it goes */
    }
    *leader_out = next;
    *nisr_out = n;
    return true;
}

static void noop_create(void *arg, int rc, const char *path) {
    (void)arg;
    (void)rc;
    (void)path;
}

void pstate_write(ctl_t *ctl, const char *topic, int32_t partition, const zkpath_state_t *st,
                  int32_t expected_version, bool fenced, coord_done_cb done, void *arg) {
    char *json = zkpath_state_json(st);
    char *path = zkpath_partition_state(topic, partition);
    coord_op_t ops[2];
    size_t n = 0;
    if (fenced) {
        ops[n++] = (coord_op_t){
            .type = COORD_OP_CHECK, .path = "/controller_epoch", .version = ctl->epoch_zkversion};
    }
    if (expected_version < 0) {
        /* Parents first; they may exist already (NODEEXISTS is fine). */
        char *parts = zkpath_topic_partitions(topic);
        char *pp = zkpath_partition(topic, partition);
        coord_create(ctl->coord, parts, NULL, 0, COORD_PERSISTENT, noop_create, NULL);
        coord_create(ctl->coord, pp, NULL, 0, COORD_PERSISTENT, noop_create, NULL);
        free(parts);
        free(pp);
        ops[n++] = (coord_op_t){.type = COORD_OP_CREATE,
                                .path = path,
                                .data = json,
                                .len = strlen(json),
                                .flags = COORD_PERSISTENT};
    } else {
        ops[n++] = (coord_op_t){.type = COORD_OP_SET,
                                .path = path,
                                .data = json,
                                .len = strlen(json),
                                .version = expected_version};
    }
    int rc = coord_multi(ctl->coord, ops, n, done, arg);
    free(json);
    free(path);
    if (rc != 0) {
        done(arg, rc); /* the callers treat it like a failed completion */
    }
}

/* ---------------------------------------------------------------- leader-side ISR change */

typedef struct isr_op {
    ctl_t *ctl;
    coord_done_cb done;
    void *arg;
} isr_op_t;

static void on_isr_written(void *arg, int rc) {
    isr_op_t *op = arg;
    coord_done_cb done = op->done;
    void *done_arg = op->arg;
    bool alive = ctl_unref(op->ctl);
    free(op);
    if (alive) {
        done(done_arg, rc);
    }
}

int ctl_update_isr(ctl_t *ctl, const char *topic, int32_t partition, int32_t leader_epoch,
                   const int32_t *isr, int32_t nisr, coord_done_cb done, void *arg) {
    if (!ctl || ctl->dead || !topic || !isr || nisr <= 0 || !done) {
        return STRATA_EINVAL;
    }
    const mdc_partition_t *p = mdc_partition(ctl->mdc, topic, partition);
    int32_t me = ctl->cfg.broker_id;
    if (!p || p->state_version < 0 || p->leader != me || p->leader_epoch != leader_epoch) {
        return STRATA_EINVAL; /* not (or no longer) the leader at this epoch */
    }
    bool has_me = false;
    for (int32_t i = 0; i < nisr; i++) {
        bool replica = false;
        for (int32_t j = 0; j < p->nreplicas; j++) {
            replica = replica || p->replicas[j] == isr[i];
        }
        for (int32_t j = 0; j < i; j++) {
            if (isr[j] == isr[i]) {
                return STRATA_EINVAL;
            }
        }
        if (!replica) {
            return STRATA_EINVAL;
        }
        has_me = has_me || isr[i] == me;
    }
    if (!has_me) {
        return STRATA_EINVAL;
    }
    zkpath_state_t st = {.leader = me,
                         .leader_epoch = leader_epoch,
                         .controller_epoch = p->controller_epoch,
                         .nisr = nisr,
                         .isr = (int32_t *)isr};
    isr_op_t *op = xcalloc(1, sizeof(*op));
    op->ctl = ctl;
    op->done = done;
    op->arg = arg;
    ctl_ref(ctl);
    /* A closed session makes pstate_write report STRATA_ESHUTDOWN at once. */
    pstate_write(ctl, topic, partition, &st, p->state_version, false, on_isr_written, op);
    return 0;
}
