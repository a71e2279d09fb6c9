/*
 * isr: the leader's writes of a changed ISR (shrink of a lagging follower, expansion once
 * it caught up) to the partition's state znode, as Kafka's ZooKeeper-mode leader does:
 * ctl_update_isr (cluster) sets /brokers/topics/<t>/partitions/<p>/state conditional on the
 * version the cache last saw (a controller write in between wins, and the leader decides
 * again from the cache's re-read), then a sequential /isr_change_notification/isr_change_
 * node tells the controller (src/cluster/repl_ctl.c) to refresh.
 *
 * Every broker's metadata cache watches the state znodes, so the new ISR reaches them by
 * the watch; the notification is kept for Kafka tools and the controller.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replica/replica_int.h"

typedef struct isr_job {
    rm_t *rm;
    char *topic;
    int32_t partition;
    int32_t *isr;
    int32_t nisr;
} isr_job_t;

static void job_free(isr_job_t *j) {
    free(j->topic);
    free(j->isr);
    free(j);
}

static void on_notified(void *arg, int rc, const char *path) {
    char *what = arg;
    if (rc != 0 && rc != STRATA_ESHUTDOWN) {
        slog_warn("[ReplicaManager] isr change notification for %s: %s", what, strata_strerror(rc));
    }
    (void)path;
    free(what);
}

static void on_written(void *arg, int rc) {
    isr_job_t *j = arg;
    /* rm stays allocated until rm_isr_written (the job holds it). */
    if (rc == 0 && !rm_closing(j->rm) && rm_cfg(j->rm)->coord) {
        coord_t *c = rm_cfg(j->rm)->coord;
        char body[600];
        snprintf(body, sizeof(body),
                 "{\"version\":1,\"partitions\":[{\"topic\":\"%s\",\"partition\":%d}]}", j->topic,
                 (int)j->partition);
        char *what = xasprintf("%s-%d", j->topic, (int)j->partition);
        if (coord_create(c, "/isr_change_notification/isr_change_", body, strlen(body),
                         COORD_SEQUENTIAL, on_notified, what) != 0) {
            free(what);
        }
    }
    rm_isr_written(j->rm, j->topic, j->partition, j->isr, j->nisr, rc);
    job_free(j);
}

void isr_write(rm_t *rm, part_t *p, const int32_t *isr, int32_t nisr) {
    const char *topic;
    int32_t partition, leader_epoch;
    bool *inflight;
    part_state_for_write(p, &topic, &partition, &leader_epoch, &inflight);
    ctl_t *ctl = rm_cfg(rm)->ctl;
    if (ctl == NULL || *inflight || nisr <= 0) {
        return;
    }
    isr_job_t *j = xcalloc(1, sizeof(*j));
    j->rm = rm;
    j->topic = xstrdup(topic);
    j->partition = partition;
    j->nisr = nisr;
    j->isr = xmalloc((size_t)nisr * sizeof(int32_t));
    memcpy(j->isr, isr, (size_t)nisr * sizeof(int32_t));
    buf_t b = BUF_INIT;
    for (int32_t i = 0; i < nisr; i++) {
        char tmp[16];
        int k = snprintf(tmp, sizeof(tmp), "%s%d", i ? "," : "", (int)isr[i]);
        buf_append(&b, tmp, (size_t)k);
    }
    slog_info("[Partition %s-%d broker=%d] writing ISR [%.*s] (leader epoch %d)", topic,
              (int)partition, (int)rm_cfg(rm)->broker_id, (int)b.len, (const char *)b.data,
              (int)leader_epoch);
    buf_destroy(&b);
    if (ctl_update_isr(ctl, topic, partition, leader_epoch, isr, nisr, on_written, j) != 0) {
        /* Not the leader at this epoch per the cache (it is catching up): decide again later. */
        job_free(j);
        return;
    }
    *inflight = true;
    rm_io_hold(rm);
}
