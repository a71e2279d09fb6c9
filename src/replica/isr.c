/*
 * isr: the leader's writes of a changed ISR (shrink of a lagging follower, expansion once
 * it caught up) to the partition's state znode, as Kafka's ZooKeeper-mode leader does:
 * a set of /brokers/topics/<t>/partitions/<p>/state checked against the version the
 * leader last saw (a controller write in between wins, and the leader re-reads through
 * the metadata cache's watch), then a sequential /isr_change_notification/isr_change_
 * node so the controller refreshes every broker's metadata.
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

static void on_set(void *arg, int rc, const char *data, size_t len, int32_t version) {
    (void)data;
    (void)len;
    isr_job_t *j = arg;
    /* rm stays allocated until rm_isr_written (the job holds it). */
    if (rc == 0 && !rm_closing(j->rm) && rm_cfg(j->rm)->coord) {
        coord_t *c = rm_cfg(j->rm)->coord;
        char body[600];
        snprintf(body, sizeof(body),
                 "{\"version\":1,\"partitions\":[{\"topic\":\"%s\",\"partition\":%d}]}", j->topic,
                 (int)j->partition);
        char *what = xmalloc(strlen(j->topic) + 16);
        sprintf(what, "%s-%d", j->topic, (int)j->partition);
        if (coord_create(c, "/isr_change_notification/isr_change_", body, strlen(body),
                         COORD_SEQUENTIAL, on_notified, what) != 0) {
            free(what);
        }
    }
    rm_isr_written(j->rm, j->topic, j->partition, j->isr, j->nisr, version, rc);
    job_free(j);
}

void isr_write(rm_t *rm, part_t *p, const int32_t *isr, int32_t nisr) {
    const char *topic;
    int32_t partition, leader_epoch, controller_epoch, version;
    bool *inflight;
    part_state_for_write(p, &topic, &partition, &leader_epoch, &controller_epoch, &version,
                         &inflight);
    coord_t *c = rm_cfg(rm)->coord;
    if (c == NULL || *inflight || version < 0) {
        return;
    }
    /* {"controller_epoch":c,"leader":l,"version":1,"leader_epoch":e,"isr":[...]} */
    buf_t b = BUF_INIT;
    char tmp[160];
    int k = snprintf(tmp, sizeof(tmp),
                     "{\"controller_epoch\":%d,\"leader\":%d,\"version\":1,\"leader_epoch\":%d,"
                     "\"isr\":[",
                     (int)controller_epoch, (int)rm_cfg(rm)->broker_id, (int)leader_epoch);
    buf_append(&b, tmp, (size_t)k);
    for (int32_t i = 0; i < nisr; i++) {
        k = snprintf(tmp, sizeof(tmp), "%s%d", i ? "," : "", (int)isr[i]);
        buf_append(&b, tmp, (size_t)k);
    }
    buf_append(&b, "]}", 2);
    size_t plen = strlen(topic) + 64;
    char *path = xmalloc(plen);
    snprintf(path, plen, "/brokers/topics/%s/partitions/%d/state", topic, (int)partition);
    isr_job_t *j = xcalloc(1, sizeof(*j));
    j->rm = rm;
    j->topic = xstrdup(topic);
    j->partition = partition;
    j->nisr = nisr;
    j->isr = xmalloc((size_t)(nisr > 0 ? nisr : 1) * sizeof(int32_t));
    memcpy(j->isr, isr, (size_t)nisr * sizeof(int32_t));
    slog_info("[Partition %s-%d broker=%d] ISR -> %.*s (zk version %d)", topic, (int)partition,
              (int)rm_cfg(rm)->broker_id, (int)b.len, (const char *)b.data, (int)version);
    *inflight = true;
    rm_io_hold(rm);
    if (coord_set(c, path, (const char *)b.data, b.len, version, on_set, j) != 0) {
        rm_isr_written(rm, j->topic, j->partition, j->isr, j->nisr, -1, STRATA_ECONNLOSS);
        job_free(j);
    }
    free(path);
    buf_destroy(&b);
}
