/*
 * replica_manager: the partitions hosted by this broker (part_t), kept in step with
 * the metadata cache. A partition whose replica list names this broker gets a local
 * log (logmgr_create with the topic's config); its role follows the partition's
 * leader field. Appends go through rm_append, which advances the high watermark and
 * wakes delayed fetches.
 *
 * Invariants:
 *  1. hw <= log end offset. Standalone (ISR = {this broker}): hw == log end after
 *     every append. Issue 6 replaces the ISR rule, not the shape.
 *  2. A part is removed (delayed operations woken first) when its topic is deleted or
 *     its replica list drops this broker; a deleted topic's logs are deleted here.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "strata/producer_state.h"
#include "strata/replica.h"

#define KEY_MAX 300

struct part {
    char *topic;
    int32_t partition;
    log_t *log;
    bool leader;
    int32_t leader_epoch;
    int32_t isr_size;
    int32_t min_isr; /* min.insync.replicas of the topic */
    int64_t hw;
    purg_list_t fetch_waiters;
    pst_t *pst; /* issue 7: idempotent-producer state, opened at the first idempotent append */
};

struct rm {
    uv_loop_t *loop;
    logmgr_t *logmgr;
    mdc_t *mdc;
    rm_config_t cfg;
    map_t *parts; /* key(topic, partition) -> part_t* */
    bool closing;
};

static size_t make_key(uint8_t *key, const char *topic, int32_t partition) {
    size_t n = strlen(topic);
    if (n > KEY_MAX - 5) {
        n = KEY_MAX - 5;
    }
    memcpy(key, topic, n);
    key[n] = 0;
    be32_put(key + n + 1, (uint32_t)partition);
    return n + 5;
}

static part_t *lookup(const rm_t *rm, const char *topic, int32_t partition) {
    uint8_t key[KEY_MAX];
    size_t n = make_key(key, topic, partition);
    return map_get(rm->parts, key, n);
}

rm_t *rm_new(uv_loop_t *loop, logmgr_t *logmgr, const rm_config_t *cfg) {
    rm_t *rm = xcalloc(1, sizeof(*rm));
    rm->loop = loop;
    rm->logmgr = logmgr;
    rm->cfg = *cfg;
    rm->parts = map_new();
    return rm;
}

static void part_free(part_t *p) {
    purg_list_wake_all(&p->fetch_waiters);
    pst_free(p->pst);
    free(p->topic);
    free(p);
}

static void part_free_cb(void *v) {
    part_free(v);
}

void rm_free(rm_t *rm) {
    if (rm == NULL) {
        return;
    }
    /* Wake waiters while the map is intact: their callbacks may look partitions up
     * (and get STRATA_ESHUTDOWN). */
    rm->closing = true;
    map_iter_t it = MAP_ITER_INIT;
    const void *k;
    size_t kl;
    void *v;
    while (map_next(rm->parts, &it, &k, &kl, &v)) {
        purg_list_wake_all(&((part_t *)v)->fetch_waiters);
        part_t *p = v;
        if (p->pst && !log_is_offline(p->log)) {
            (void)pst_snapshot_log(p->pst, p->log); /* issue 7: <offset>.snapshot at shutdown */
        }
    }
    map_free(rm->parts, part_free_cb);
    free(rm);
}

/* ---------------------------------------------------------------- topic config */

static void override_i64(const props_t *pr, const char *key, int64_t *field) {
    const char *v = props_get(pr, key);
    int64_t x;
    if (v && parse_int64(v, &x) == 0) {
        *field = x;
    }
}

void rm_topic_log_config(const rm_t *rm, const props_t *topic_config, log_config_t *out) {
    *out = rm->cfg.log_defaults;
    if (topic_config == NULL) {
        return;
    }
    override_i64(topic_config, "segment.bytes", &out->segment_bytes);
    override_i64(topic_config, "segment.ms", &out->roll_ms);
    override_i64(topic_config, "retention.ms", &out->retention_ms);
    override_i64(topic_config, "retention.bytes", &out->retention_bytes);
    override_i64(topic_config, "flush.messages", &out->flush_interval_messages);
    override_i64(topic_config, "flush.ms", &out->flush_interval_ms);
    override_i64(topic_config, "file.delete.delay.ms", &out->file_delete_delay_ms);
    int64_t v = out->max_message_bytes;
    override_i64(topic_config, "max.message.bytes", &v);
    if (v >= 0 && v <= INT32_MAX) {
        out->max_message_bytes = (int32_t)v;
    }
    v = out->index_interval_bytes;
    override_i64(topic_config, "index.interval.bytes", &v);
    if (v >= 0 && v <= INT32_MAX) {
        out->index_interval_bytes = (int32_t)v;
    }
    v = out->index_size_max_bytes;
    override_i64(topic_config, "segment.index.bytes", &v);
    if (v >= 4 && v <= INT32_MAX) {
        out->index_size_max_bytes = (int32_t)v;
    }
    const char *tt = props_get(topic_config, "message.timestamp.type");
    if (tt) {
        out->log_append_time = strcmp(tt, "LogAppendTime") == 0;
    }
}

/* ---------------------------------------------------------------- following mdc */

static bool names_me(const rm_t *rm, const mdc_partition_t *mp) {
    for (int32_t i = 0; i < mp->nreplicas; i++) {
        if (mp->replicas[i] == rm->cfg.broker_id) {
            return true;
        }
    }
    return false;
}

static void remove_part(rm_t *rm, const char *topic, int32_t partition, bool delete_log) {
    uint8_t key[KEY_MAX];
    size_t n = make_key(key, topic, partition);
    part_t *p = map_remove(rm->parts, key, n);
    if (p == NULL) {
        return;
    }
    slog_info("[Partition %s-%d broker=%d] no longer hosted here%s", p->topic, (int)partition,
              (int)rm->cfg.broker_id, delete_log ? "; deleting its log" : "");
    char *t = xstrdup(p->topic);
    part_free(p);
    if (delete_log) {
        int rc = logmgr_delete(rm->logmgr, t, partition);
        if (rc != 0 && rc != STRATA_ENOTFOUND) {
            slog_error("[Partition %s-%d] deleting log: %s", t, (int)partition,
                       strata_strerror(rc));
        }
    }
    free(t);
}

/* Brings one partition in line with the cache. @returns the part or NULL. */
static part_t *sync_partition(rm_t *rm, const mdc_topic_t *t, int32_t partition) {
    const mdc_partition_t *mp = partition < t->npartitions ? &t->partitions[partition] : NULL;
    part_t *p = lookup(rm, t->name, partition);
    if (mp == NULL || !names_me(rm, mp)) {
        if (p) {
            remove_part(rm, t->name, partition, false);
        }
        return NULL;
    }
    if (p == NULL) {
        log_t *log = logmgr_get(rm->logmgr, t->name, partition);
        if (log == NULL) {
            log_config_t lc;
            rm_topic_log_config(rm, t->config, &lc);
            int rc = logmgr_create(rm->logmgr, t->name, partition, &lc, &log);
            if (rc != 0) {
                slog_error("[Partition %s-%d] cannot open log: %s", t->name, (int)partition,
                           strata_strerror(rc));
                return NULL;
            }
        }
        p = xcalloc(1, sizeof(*p));
        p->topic = xstrdup(t->name);
        p->partition = partition;
        p->log = log;
        p->hw = log_end_offset(log);
        uint8_t key[KEY_MAX];
        size_t n = make_key(key, t->name, partition);
        map_put(rm->parts, key, n, p);
    }
    bool lead = mp->leader == rm->cfg.broker_id;
    if (lead != p->leader || mp->leader_epoch != p->leader_epoch) {
        slog_info("[Partition %s-%d broker=%d] %s (leader %d, leader epoch %d)", p->topic,
                  (int)partition, (int)rm->cfg.broker_id,
                  lead             ? "leader"
                  : mp->leader < 0 ? "no leader"
                                   : "follower",
                  (int)mp->leader, (int)mp->leader_epoch);
        /* A role change wakes waiting fetches: they answer with the new state. */
        purg_list_wake_all(&p->fetch_waiters);
    }
    p->leader = lead;
    p->leader_epoch = mp->leader_epoch;
    p->isr_size = mp->nisr;
    p->min_isr = rm->cfg.min_insync_replicas;
    const char *mi = t->config ? props_get(t->config, "min.insync.replicas") : NULL;
    int64_t v;
    if (mi && parse_int64(mi, &v) == 0 && v >= 1 && v <= INT32_MAX) {
        p->min_isr = (int32_t)v;
    }
    if (lead && mp->nisr <= 1) {
        p->hw = log_end_offset(p->log); /* sole in-sync replica */
    }
    return p;
}

static void sync_topic(rm_t *rm, const char *name) {
    const mdc_topic_t *t = mdc_topic(rm->mdc, name);
    if (t == NULL) {
        /* Deleted: drop every local partition of it, logs included. */
        int32_t maxp = -1;
        map_iter_t it = MAP_ITER_INIT;
        const void *k;
        size_t kl;
        void *v;
        while (map_next(rm->parts, &it, &k, &kl, &v)) {
            part_t *p = v;
            if (strcmp(p->topic, name) == 0 && p->partition > maxp) {
                maxp = p->partition;
            }
        }
        for (int32_t i = 0; i <= maxp; i++) {
            remove_part(rm, name, i, true);
        }
        return;
    }
    for (int32_t i = 0; i < t->npartitions; i++) {
        sync_partition(rm, t, i);
    }
}

static void sync_all(rm_t *rm) {
    for (size_t i = 0; i < mdc_topic_count(rm->mdc); i++) {
        sync_topic(rm, mdc_topic_at(rm->mdc, i)->name);
    }
    /* Parts of topics the cache no longer has. */
    char **gone = NULL;
    size_t ngone = 0;
    map_iter_t it = MAP_ITER_INIT;
    const void *k;
    size_t kl;
    void *v;
    while (map_next(rm->parts, &it, &k, &kl, &v)) {
        part_t *p = v;
        if (mdc_topic(rm->mdc, p->topic) == NULL) {
            gone = xrealloc(gone, (ngone + 1) * sizeof(*gone));
            gone[ngone++] = xstrdup(p->topic);
        }
    }
    for (size_t i = 0; i < ngone; i++) {
        sync_topic(rm, gone[i]);
        free(gone[i]);
    }
    free(gone);
}

static void on_mdc_event(void *arg, mdc_event_t ev, const char *topic, int32_t partition) {
    rm_t *rm = arg;
    switch (ev) {
    case MDC_EV_TOPIC:
    case MDC_EV_TOPIC_DELETED:
        if (topic) {
            sync_topic(rm, topic);
        } else {
            sync_all(rm);
        }
        break;
    case MDC_EV_PARTITION: {
        const mdc_topic_t *t = topic ? mdc_topic(rm->mdc, topic) : NULL;
        if (t && partition >= 0) {
            sync_partition(rm, t, partition);
        } else if (topic) {
            sync_topic(rm, topic);
        } else {
            sync_all(rm);
        }
        break;
    }
    case MDC_EV_BROKERS:
    case MDC_EV_CONTROLLER:
        break;
    }
}

void rm_attach(rm_t *rm, mdc_t *mdc) {
    rm->mdc = mdc;
    mdc_add_listener(mdc, on_mdc_event, rm);
    sync_all(rm);
}

/* ---------------------------------------------------------------- access */

int rm_partition(rm_t *rm, const char *topic, int32_t partition, bool must_lead, part_t **out) {
    *out = NULL;
    if (rm->closing) {
        return STRATA_ESHUTDOWN;
    }
    if (rm->mdc == NULL) {
        return RM_ELEADER_NOT_AVAILABLE;
    }
    const mdc_topic_t *t = mdc_topic(rm->mdc, topic);
    if (t == NULL || partition < 0 || partition >= t->npartitions) {
        return STRATA_ENOTFOUND;
    }
    const mdc_partition_t *mp = &t->partitions[partition];
    if (mp->leader < 0) {
        return RM_ELEADER_NOT_AVAILABLE;
    }
    part_t *p = lookup(rm, topic, partition);
    if (p == NULL && names_me(rm, mp)) {
        p = sync_partition(rm, t, partition); /* the cache event may still be queued */
    }
    if (p == NULL) {
        return RM_ENOT_LEADER;
    }
    if (log_is_offline(p->log)) {
        return STRATA_EOFFLINE;
    }
    if (must_lead && !p->leader) {
        return RM_ENOT_LEADER;
    }
    *out = p;
    return 0;
}

int rm_append(rm_t *rm, part_t *p, uint8_t *data, size_t len, int16_t acks,
              log_append_info_t *info) {
    if (acks != 0 && acks != 1 && acks != -1) {
        return RM_EREQUIRED_ACKS;
    }
    if (!p->leader) {
        return RM_ENOT_LEADER;
    }
    if (acks == -1 && p->isr_size < p->min_isr) {
        return RM_ENOT_ENOUGH_REPLICAS; /* Kafka checks before writing anything */
    }
    (void)rm;
    /* issue 7 hook: idempotent producers (producer_state.h). A retried batch already in
     * the log is answered with its original offsets and not appended again. */
    if (!p->pst && pst_records_idempotent(data, len)) {
        p->pst = pst_open_log(p->log);
    }
    if (p->pst) {
        pst_batch_t dup;
        switch (pst_check_records(p->pst, data, len, &dup)) {
        case PST_DUPLICATE:
            memset(info, 0, sizeof(*info));
            info->first_offset = dup.first_offset;
            info->last_offset = dup.last_offset;
            info->log_append_time = -1;
            return 0;
        case PST_OUT_OF_ORDER:
            return RM_EOUT_OF_ORDER_SEQUENCE;
        case PST_INVALID_EPOCH:
            return RM_EINVALID_PRODUCER_EPOCH;
        default:
            break;
        }
    }
    int rc = log_append(p->log, data, len, p->leader_epoch, info);
    if (rc != 0) {
        return rc;
    }
    if (p->pst) {
        pst_update_records(p->pst, data, len);
    }
    /* Standalone: this broker is the whole ISR, so everything appended is committed. */
    p->hw = log_end_offset(p->log);
    log_maybe_flush(p->log);
    purg_notify(&p->fetch_waiters, (int64_t)len);
    return 0;
}

int rm_read(part_t *p, int64_t offset, int64_t max_bytes, log_slice_t *out) {
    return log_read(p->log, offset, max_bytes, p->hw, out);
}

log_t *part_log(part_t *p) {
    return p->log;
}
int64_t part_high_watermark(const part_t *p) {
    return p->hw;
}
int64_t part_log_start_offset(const part_t *p) {
    return log_start_offset(p->log);
}
int64_t part_log_end_offset(const part_t *p) {
    return log_end_offset(p->log);
}
int32_t part_leader_epoch(const part_t *p) {
    return p->leader_epoch;
}
purg_list_t *part_fetch_waiters(part_t *p) {
    return &p->fetch_waiters;
}
