/*
 * replica_manager: the partitions hosted by this broker (part_t), kept in step with
 * the metadata cache. A partition whose replica list names this broker gets a local
 * log (logmgr_create with the topic's config); its role follows the partition's
 * leader field. Appends go through rm_append, which advances the high watermark and
 * wakes delayed fetches.
 *
 * Issue 6 (replication): a leader tracks each follower's log end offset (the offset
 * of its last Fetch), keeps the ISR (shrinks a follower not caught up within
 * replica.lag.time.max.ms, re-admits it once caught up; isr.c writes the state znode),
 * and advances the high watermark to the smallest log end offset in the ISR, waking
 * delayed fetches and delayed produces (acks=-1). A follower is handed to the fetcher of
 * its leader (fetcher.c), which truncates it with OffsetForLeaderEpoch first. The
 * leader-epoch cache (leader_epoch.c) and the high watermark
 * (replication-offset-checkpoint, each log dir) survive restarts.
 *
 * Invariants:
 *  1. hw <= log end offset. A leader's hw never goes back and is the minimum log end
 *     offset over the ISR; ISR = {this broker} gives hw == log end after every append.
 *  2. A part is removed (delayed operations woken first) when its topic is deleted or
 *     its replica list drops this broker; a deleted topic's logs are deleted here.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replica/replica_int.h"
#include "strata/producer_state.h"
#include "strata/replica.h"

#define KEY_MAX 300
#define HW_CKPT "replication-offset-checkpoint"

/* What the leader knows of one follower (Kafka's Replica). */
typedef struct rstate {
    int32_t id;
    int64_t leo;               /* fetch offset of its last Fetch; -1 unknown */
    int64_t last_caught_up_ms; /* last time its LEO reached the leader's */
    int64_t last_fetch_ms;
    int64_t leo_at_last_fetch; /* the leader's LEO when it last fetched */
} rstate_t;

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
    pst_t *pst; /* issue 7: idempotent-producer state; NULL until loaded (pst_loading) */
    pst_loader_t *pst_loading; /* issue 7: its load off the loop, in progress */
    /* issue 6 */
    int32_t leader_id;
    int32_t *isr;
    int32_t nisr;
    int32_t state_version;
    int32_t controller_epoch;
    bool isr_inflight;
    rstate_t *rs; /* followers (replicas other than this broker) */
    int32_t nrs;
    purg_list_t produce_waiters;
    purg_list_t replica_waiters; /* followers' delayed fetches: woken by appends only */
    lec_t *lec;
};

struct rm {
    uv_loop_t *loop;
    logmgr_t *logmgr;
    mdc_t *mdc;
    rm_config_t cfg;
    map_t *parts; /* key(topic, partition) -> part_t* */
    bool closing;
    /* issue 6 */
    rfm_t *fetchers;
    uv_timer_t isr_timer;
    uv_timer_t ckpt_timer;
    bool timers_init;
    int pending_io;     /* ISR writes and checkpoint writes in flight (they hold rm) */
    int ckpt_inflight;  /* checkpoint writes in flight (one round at a time) */
    bool freed;         /* rm_free ran; memory goes with the last pending_io */
    int handles_open;   /* timers not yet closed */
    map_t *hw_restored; /* key -> (int64_t*) from replication-offset-checkpoint */
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

/* ---------------------------------------------------------------- lifetime (issue 6) */

static void maybe_release(rm_t *rm) {
    if (rm->freed && rm->pending_io == 0 && rm->handles_open == 0) {
        free(rm);
    }
}

static void on_timer_closed(uv_handle_t *h) {
    rm_t *rm = h->data;
    rm->handles_open--;
    maybe_release(rm);
}

void rm_stop(rm_t *rm) {
    if (rm->fetchers) {
        rfm_free(rm->fetchers);
        rm->fetchers = NULL;
    }
    if (rm->timers_init) {
        rm->timers_init = false;
        uv_close((uv_handle_t *)&rm->isr_timer, on_timer_closed);
        uv_close((uv_handle_t *)&rm->ckpt_timer, on_timer_closed);
    }
}

/* ---------------------------------------------------------------- HW checkpoint */

static void load_hw_checkpoints(rm_t *rm) {
    rm->hw_restored = map_new();
    for (size_t i = 0; i < logmgr_dir_count(rm->logmgr); i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", logmgr_dir(rm->logmgr, i), HW_CKPT);
        ckpt_entry_t *e = NULL;
        size_t n = 0;
        if (ckpt_read(path, &e, &n) != 0) {
            slog_warn("%s: unreadable; high watermarks start at 0", path);
            continue;
        }
        for (size_t j = 0; j < n; j++) {
            uint8_t key[KEY_MAX];
            size_t kl = make_key(key, e[j].topic, e[j].partition);
            int64_t *v = xmalloc(sizeof(*v));
            *v = e[j].offset;
            free(map_put(rm->hw_restored, key, kl, v));
        }
        ckpt_free(e, n);
    }
}

typedef struct hw_job {
    uv_work_t work;
    rm_t *rm;
    char *path;
    ckpt_entry_t *e;
    size_t n;
    int rc;
} hw_job_t;

static void hw_job_free(hw_job_t *j) {
    for (size_t i = 0; i < j->n; i++) {
        free(j->e[i].topic);
    }
    free(j->e);
    free(j->path);
    free(j);
}

static void hw_work(uv_work_t *w) {
    hw_job_t *j = w->data;
    j->rc = ckpt_write(j->path, j->e, j->n);
}

static void hw_after(uv_work_t *w, int status) {
    (void)status;
    hw_job_t *j = w->data;
    rm_t *rm = j->rm;
    if (j->rc != 0) {
        slog_error("%s: cannot write: %s", j->path, strata_strerror(j->rc));
    }
    hw_job_free(j);
    rm->pending_io--;
    rm->ckpt_inflight--;
    maybe_release(rm);
}

/* One file per log dir: the partitions whose directory lies in it. sync = at shutdown. */
static void write_hw_checkpoints(rm_t *rm, bool sync) {
    if (rm->parts == NULL) {
        return;
    }
    for (size_t d = 0; d < logmgr_dir_count(rm->logmgr); d++) {
        const char *dir = logmgr_dir(rm->logmgr, d);
        size_t dl = strlen(dir);
        if (logmgr_dir_offline(rm->logmgr, d)) {
            continue;
        }
        hw_job_t *j = xcalloc(1, sizeof(*j));
        j->rm = rm;
        size_t cap = 0;
        map_iter_t it = MAP_ITER_INIT;
        const void *k;
        size_t kl;
        void *v;
        while (map_next(rm->parts, &it, &k, &kl, &v)) {
            part_t *p = v;
            const char *pd = log_dir_path(p->log);
            if (strncmp(pd, dir, dl) != 0 || pd[dl] != '/' || strchr(pd + dl + 1, '/')) {
                continue;
            }
            if (j->n == cap) {
                cap = cap ? cap * 2 : 16;
                j->e = xrealloc(j->e, cap * sizeof(*j->e));
            }
            j->e[j->n].topic = xstrdup(p->topic);
            j->e[j->n].partition = p->partition;
            j->e[j->n].offset = p->hw;
            j->n++;
        }
        size_t n = dl + sizeof(HW_CKPT) + 2;
        j->path = xmalloc(n);
        snprintf(j->path, n, "%s/%s", dir, HW_CKPT);
        j->work.data = j;
        if (sync) {
            hw_work(&j->work);
            if (j->rc != 0) {
                slog_error("%s: cannot write: %s", j->path, strata_strerror(j->rc));
            }
            hw_job_free(j);
            continue;
        }
        rm->pending_io++;
        rm->ckpt_inflight++;
        if (uv_queue_work(rm->loop, &j->work, hw_work, hw_after) != 0) {
            rm->pending_io--;
            rm->ckpt_inflight--;
            hw_job_free(j);
        }
    }
}

static void on_ckpt_timer(uv_timer_t *t) {
    rm_t *rm = t->data;
    if (rm->ckpt_inflight == 0) { /* one round in flight at a time */
        write_hw_checkpoints(rm, false);
    }
}

static bool in_list(const int32_t *v, int32_t n, int32_t id) {
    for (int32_t i = 0; i < n; i++) {
        if (v[i] == id) {
            return true;
        }
    }
    return false;
}

static rstate_t *find_rs(part_t *p, int32_t id) {
    for (int32_t i = 0; i < p->nrs; i++) {
        if (p->rs[i].id == id) {
            return &p->rs[i];
        }
    }
    return NULL;
}

/* The high watermark of a leader: the smallest LEO over the ISR (unknown LEOs hold it). */
static void maybe_advance_hw(part_t *p) {
    if (!p->leader) {
        return;
    }
    int64_t hw = log_end_offset(p->log);
    for (int32_t i = 0; i < p->nisr; i++) {
        if (p->isr[i] == p->leader_id) {
            continue;
        }
        rstate_t *r = find_rs(p, p->isr[i]);
        int64_t leo = r ? r->leo : -1;
        if (leo < hw) {
            hw = leo;
        }
    }
    if (hw > p->hw) {
        p->hw = hw;
        purg_notify(&p->fetch_waiters, 1); /* consumers may read further now */
    }
    purg_check(&p->produce_waiters);
}

/* ISR shrink: followers not caught up within replica.lag.time.max.ms leave the ISR. */
static void on_isr_timer(uv_timer_t *t) {
    rm_t *rm = t->data;
    int64_t now = clock_mono_ms();
    map_iter_t it = MAP_ITER_INIT;
    const void *k;
    size_t kl;
    void *v;
    while (map_next(rm->parts, &it, &k, &kl, &v)) {
        part_t *p = v;
        if (!p->leader || p->nisr <= 1 || p->isr_inflight) {
            continue;
        }
        int32_t *nisr = xmalloc((size_t)p->nisr * sizeof(int32_t));
        int32_t n = 0;
        for (int32_t i = 0; i < p->nisr; i++) {
            rstate_t *r = find_rs(p, p->isr[i]);
            if (p->isr[i] != p->leader_id &&
                (r == NULL || now - r->last_caught_up_ms > rm->cfg.replica_lag_time_max_ms)) {
                slog_info("[Partition %s-%d broker=%d] shrinking ISR: replica %d not caught up "
                          "for %" PRId64 " ms (LEO %" PRId64 ", leader LEO %" PRId64 ")",
                          p->topic, (int)p->partition, (int)rm->cfg.broker_id, (int)p->isr[i],
                          r ? now - r->last_caught_up_ms : -1, r ? r->leo : -1,
                          log_end_offset(p->log));
                continue;
            }
            nisr[n++] = p->isr[i];
        }
        if (n < p->nisr) {
            isr_write(rm, p, nisr, n);
        }
        free(nisr);
    }
}

static void start_timers(rm_t *rm) {
    uv_timer_init(rm->loop, &rm->isr_timer);
    uv_timer_init(rm->loop, &rm->ckpt_timer);
    rm->isr_timer.data = rm;
    rm->ckpt_timer.data = rm;
    uint64_t every = (uint64_t)(rm->cfg.replica_lag_time_max_ms / 2);
    uv_timer_start(&rm->isr_timer, on_isr_timer, every ? every : 1, every ? every : 1);
    uv_timer_start(&rm->ckpt_timer, on_ckpt_timer, (uint64_t)rm->cfg.hw_checkpoint_interval_ms,
                   (uint64_t)rm->cfg.hw_checkpoint_interval_ms);
    uv_unref((uv_handle_t *)&rm->isr_timer);
    uv_unref((uv_handle_t *)&rm->ckpt_timer);
    rm->handles_open = 2;
    rm->timers_init = true;
}

rm_t *rm_new(uv_loop_t *loop, logmgr_t *logmgr, const rm_config_t *cfg) {
    rm_t *rm = xcalloc(1, sizeof(*rm));
    rm->loop = loop;
    rm->logmgr = logmgr;
    rm->cfg = *cfg;
    rm->parts = map_new();
    if (rm->cfg.replica_lag_time_max_ms <= 0) {
        rm->cfg.replica_lag_time_max_ms = 30000;
    }
    if (rm->cfg.replica_fetch_wait_max_ms <= 0) {
        rm->cfg.replica_fetch_wait_max_ms = 500;
    }
    if (rm->cfg.replica_fetch_max_bytes <= 0) {
        rm->cfg.replica_fetch_max_bytes = 1048576;
    }
    if (rm->cfg.replica_fetch_response_max_bytes <= 0) {
        rm->cfg.replica_fetch_response_max_bytes = 10485760;
    }
    if (rm->cfg.replica_fetch_backoff_ms <= 0) {
        rm->cfg.replica_fetch_backoff_ms = 1000;
    }
    if (rm->cfg.hw_checkpoint_interval_ms <= 0) {
        rm->cfg.hw_checkpoint_interval_ms = 5000;
    }
    load_hw_checkpoints(rm);
    rm->fetchers = rfm_new(rm);
    start_timers(rm);
    return rm;
}

static void part_free(part_t *p) {
    purg_list_wake_all(&p->fetch_waiters);
    purg_list_wake_all(&p->produce_waiters);
    purg_list_wake_all(&p->replica_waiters);
    lec_free(p->lec);
    free(p->isr);
    free(p->rs);
    pst_loader_cancel(p->pst_loading);
    pst_free(p->pst);
    free(p->topic);
    free(p);
}

/* issue 7: the producer state is rebuilt off the loop (producer_state_load.c). Started
 * when the partition is led (eagerly) or an idempotent batch needs it; until it is
 * ready, idempotent produces are refused with a retriable error (rm_append). */
static void on_pst_loaded(void *arg, pst_t *s) {
    part_t *p = arg;
    p->pst_loading = NULL;
    p->pst = s;
}

static void pst_start_load(rm_t *rm, part_t *p) {
    if (p->pst == NULL && p->pst_loading == NULL && !log_is_offline(p->log)) {
        p->pst_loading = pst_loader_start(rm->loop, p->log, on_pst_loaded, p);
    }
}

/* issue 7: forget the state (log truncated); it is reloaded at the next use. */
static void pst_drop(part_t *p) {
    pst_loader_cancel(p->pst_loading);
    p->pst_loading = NULL;
    pst_free(p->pst);
    p->pst = NULL;
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
    rm_stop(rm);
    write_hw_checkpoints(rm, true);
    map_iter_t it = MAP_ITER_INIT;
    const void *k;
    size_t kl;
    void *v;
    while (map_next(rm->parts, &it, &k, &kl, &v)) {
        purg_list_wake_all(&((part_t *)v)->fetch_waiters);
        purg_list_wake_all(&((part_t *)v)->produce_waiters);
        purg_list_wake_all(&((part_t *)v)->replica_waiters);
        part_t *p = v;
        if (p->pst && !log_is_offline(p->log)) {
            (void)pst_snapshot_log(p->pst, p->log); /* issue 7: <offset>.snapshot at shutdown */
        }
    }
    map_free(rm->parts, part_free_cb);
    rm->parts = NULL;
    map_free(rm->hw_restored, free);
    rm->hw_restored = NULL;
    rm->freed = true;
    maybe_release(rm);
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
    override_i64(topic_config, "segment.jitter.ms", &out->roll_jitter_ms);
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
    override_i64(topic_config, "delete.retention.ms", &out->delete_retention_ms);
    override_i64(topic_config, "min.compaction.lag.ms", &out->min_compaction_lag_ms);
    if (out->delete_retention_ms < 0) {
        out->delete_retention_ms = rm->cfg.log_defaults.delete_retention_ms;
    }
    if (out->min_compaction_lag_ms < 0) {
        out->min_compaction_lag_ms = rm->cfg.log_defaults.min_compaction_lag_ms;
    }
    const char *cp = props_get(topic_config, "cleanup.policy");
    bool compact, del;
    if (cp && log_parse_cleanup_policy(cp, &compact, &del) == 0) {
        out->cleanup_compact = compact;
        out->cleanup_delete = del;
    }
    const char *ratio = props_get(topic_config, "min.cleanable.dirty.ratio");
    if (ratio) {
        char *end;
        double r = strtod(ratio, &end);
        if (end != ratio && *end == 0 && r >= 0 && r <= 1) {
            out->min_cleanable_ratio = r;
        }
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
        p->leader_id = -2; /* no role yet: the first sync takes one up */
        p->state_version = -1;
        p->lec = lec_open(log_dir_path(log));
        /* issue 6: the high watermark survives restarts (replication-offset-checkpoint). */
        uint8_t rk[KEY_MAX];
        size_t rkl = make_key(rk, t->name, partition);
        const int64_t *restored = rm->hw_restored ? map_get(rm->hw_restored, rk, rkl) : NULL;
        p->hw = restored ? *restored : 0;
        if (p->hw > log_end_offset(log) || p->hw < log_start_offset(log)) {
            p->hw = p->hw > log_end_offset(log) ? log_end_offset(log) : log_start_offset(log);
        }
        uint8_t key[KEY_MAX];
        size_t n = make_key(key, t->name, partition);
        map_put(rm->parts, key, n, p);
    }
    bool lead = mp->leader == rm->cfg.broker_id;
    bool role_change =
        lead != p->leader || mp->leader_epoch != p->leader_epoch || mp->leader != p->leader_id;
    /* The topic's config arrives after the topic (read_config) and may change: the log
     * follows it (cleanup.policy of __consumer_offsets, segment.bytes, ...). */
    log_config_t lc;
    rm_topic_log_config(rm, t->config, &lc);
    const log_config_t *cur = log_config(p->log);
    if (lc.segment_bytes != cur->segment_bytes || lc.roll_ms != cur->roll_ms ||
        lc.retention_ms != cur->retention_ms || lc.retention_bytes != cur->retention_bytes ||
        lc.flush_interval_messages != cur->flush_interval_messages ||
        lc.flush_interval_ms != cur->flush_interval_ms ||
        lc.file_delete_delay_ms != cur->file_delete_delay_ms ||
        lc.max_message_bytes != cur->max_message_bytes ||
        lc.index_interval_bytes != cur->index_interval_bytes ||
        lc.index_size_max_bytes != cur->index_size_max_bytes ||
        lc.log_append_time != cur->log_append_time || lc.cleanup_compact != cur->cleanup_compact ||
        lc.cleanup_delete != cur->cleanup_delete ||
        lc.min_cleanable_ratio != cur->min_cleanable_ratio ||
        lc.delete_retention_ms != cur->delete_retention_ms ||
        lc.min_compaction_lag_ms != cur->min_compaction_lag_ms) {
        int rc = log_set_config(p->log, &lc);
        if (rc != 0) {
            slog_warn("[Partition %s-%d] topic config not applied to the log: %s", t->name,
                      (int)partition, strata_strerror(rc));
        }
    }
    p->min_isr = rm->cfg.min_insync_replicas;
    const char *mi = t->config ? props_get(t->config, "min.insync.replicas") : NULL;
    int64_t v;
    if (mi && parse_int64(mi, &v) == 0 && v >= 1 && v <= INT32_MAX) {
        p->min_isr = (int32_t)v;
    }
    /* The ISR and the znode version as the cache has them (ours once our write is read). */
    free(p->isr);
    p->nisr = mp->nisr > 0 ? mp->nisr : 0;
    p->isr = xmalloc((size_t)(p->nisr ? p->nisr : 1) * sizeof(int32_t));
    if (p->nisr) {
        memcpy(p->isr, mp->isr, (size_t)p->nisr * sizeof(int32_t));
    }
    p->isr_size = p->nisr;
    p->state_version = mp->state_version;
    p->controller_epoch = mp->controller_epoch;
    if (role_change) {
        slog_info("[Partition %s-%d broker=%d] %s (leader %d, leader epoch %d, LEO %" PRId64
                  ", HW %" PRId64 ")",
                  p->topic, (int)partition, (int)rm->cfg.broker_id,
                  lead             ? "leader"
                  : mp->leader < 0 ? "no leader"
                                   : "follower",
                  (int)mp->leader, (int)mp->leader_epoch, log_end_offset(p->log), p->hw);
        p->leader = lead;
        p->leader_epoch = mp->leader_epoch;
        p->leader_id = mp->leader;
        /* A role change wakes waiting fetches and produces: they answer with the new state. */
        purg_list_wake_all(&p->fetch_waiters);
        purg_list_wake_all(&p->produce_waiters);
        purg_list_wake_all(&p->replica_waiters);
        if (lead) {
            pst_start_load(rm, p); /* issue 7: eager, so produces normally never wait */
            if (rm->fetchers) {
                rfm_remove(rm->fetchers, p->topic, partition);
            }
            /* Kafka's makeLeader: follower LEOs unknown, all considered caught up now. */
            free(p->rs);
            p->rs = xcalloc((size_t)(mp->nreplicas ? mp->nreplicas : 1), sizeof(rstate_t));
            p->nrs = 0;
            int64_t now = clock_mono_ms();
            for (int32_t i = 0; i < mp->nreplicas; i++) {
                if (mp->replicas[i] == rm->cfg.broker_id) {
                    continue;
                }
                rstate_t *r = &p->rs[p->nrs++];
                r->id = mp->replicas[i];
                r->leo = -1;
                r->last_caught_up_ms = now;
                r->last_fetch_ms = now;
                r->leo_at_last_fetch = -1;
            }
            if (lec_assign(p->lec, mp->leader_epoch, log_end_offset(p->log))) {
                lec_save(p->lec, rm->loop);
            }
        } else if (mp->leader >= 0) {
            if (rm->fetchers) {
                rfm_add(rm->fetchers, p->topic, partition, mp->leader);
            }
        } else if (rm->fetchers) {
            rfm_remove(rm->fetchers, p->topic, partition);
        }
    } else if (lead) {
        /* Assignment may have changed: keep follower states of known ids. */
        for (int32_t i = 0; i < mp->nreplicas; i++) {
            if (mp->replicas[i] != rm->cfg.broker_id && !find_rs(p, mp->replicas[i])) {
                p->rs = xrealloc(p->rs, (size_t)(p->nrs + 1) * sizeof(rstate_t));
                rstate_t *r = &p->rs[p->nrs++];
                memset(r, 0, sizeof(*r));
                r->id = mp->replicas[i];
                r->leo = -1;
                r->last_caught_up_ms = clock_mono_ms();
                r->leo_at_last_fetch = -1;
            }
        }
    }
    if (lead) {
        maybe_advance_hw(p); /* the ISR may have shrunk */
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
    /* issue 7 hook: idempotent producers (producer_state.h). A retried batch already in
     * the log is answered with its original offsets and not appended again.
     * While the state is still loading (after a restart or truncation), an idempotent
     * batch gets NOT_LEADER_OR_FOLLOWER: Kafka is not leader before the log (and its
     * producer state) is loaded, and librdkafka retries it (same sequence, no epoch bump).
     * Batches without a producer id go on (the load replays up to the log end). */
    if (!p->pst && pst_records_idempotent(data, len)) {
        pst_start_load(rm, p);
        return RM_ENOT_LEADER;
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
        pst_maybe_expire(p->pst, clock_wall_ms());
        pst_maybe_snapshot(p->pst, p->log);
    }
    if (lec_assign(p->lec, p->leader_epoch, info->first_offset)) {
        lec_save(p->lec, rm->loop);
    }
    log_maybe_flush(p->log);
    purg_notify(&p->fetch_waiters, (int64_t)len);
    purg_notify(&p->replica_waiters, (int64_t)len); /* followers fetch it at once */
    /* issue 6: committed once every ISR member has it; ISR = {this broker} commits now. */
    maybe_advance_hw(p);
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

/* ---------------------------------------------------------------- replication (issue 6) */

purg_list_t *part_replica_waiters(part_t *p) {
    return &p->replica_waiters;
}

purg_list_t *part_produce_waiters(part_t *p) {
    return &p->produce_waiters;
}

int rm_read_replica(part_t *p, int64_t offset, int64_t max_bytes, log_slice_t *out) {
    return log_read(p->log, offset, max_bytes, INT64_MAX, out);
}

int rm_follower_fetch(rm_t *rm, part_t *p, int32_t replica_id, int64_t fetch_offset) {
    rstate_t *r = find_rs(p, replica_id);
    if (r == NULL || !p->leader) {
        return RM_ENOT_LEADER;
    }
    int64_t now = clock_mono_ms();
    int64_t leo = log_end_offset(p->log);
    r->leo = fetch_offset < leo ? fetch_offset : leo;
    if (fetch_offset >= leo) {
        r->last_caught_up_ms = now;
    } else if (fetch_offset >= r->leo_at_last_fetch && r->last_fetch_ms > r->last_caught_up_ms) {
        r->last_caught_up_ms = r->last_fetch_ms; /* it had what we had at its last fetch */
    }
    r->leo_at_last_fetch = leo;
    r->last_fetch_ms = now;
    /* Re-admit a caught-up follower: LEO at the HW and inside the current leader epoch. */
    if (!in_list(p->isr, p->nisr, replica_id) && !p->isr_inflight && r->leo >= p->hw) {
        int32_t ep;
        int64_t epoch_start = -1;
        lec_end_offset_for(p->lec, p->leader_epoch - 1, leo, &ep, &epoch_start);
        if (r->leo >= epoch_start) {
            int32_t *nisr = xmalloc((size_t)(p->nisr + 1) * sizeof(int32_t));
            if (p->nisr) {
                memcpy(nisr, p->isr, (size_t)p->nisr * sizeof(int32_t));
            }
            nisr[p->nisr] = replica_id;
            slog_info("[Partition %s-%d broker=%d] expanding ISR: replica %d caught up (LEO "
                      "%" PRId64 ", HW %" PRId64 ")",
                      p->topic, (int)p->partition, (int)rm->cfg.broker_id, (int)replica_id, r->leo,
                      p->hw);
            isr_write(rm, p, nisr, p->nisr + 1);
            free(nisr);
        }
    }
    maybe_advance_hw(p);
    return 0;
}

int rm_produce_status(rm_t *rm, const char *topic, int32_t partition, int64_t required_offset) {
    part_t *p = rm->closing ? NULL : lookup(rm, topic, partition);
    if (p == NULL || !p->leader) {
        return RM_ENOT_LEADER;
    }
    if (p->hw < required_offset) {
        return RM_EPENDING;
    }
    if (p->nisr < p->min_isr) {
        return RM_ENOT_ENOUGH_REPLICAS_AFTER_APPEND;
    }
    return 0;
}

void rm_epoch_end_offset(part_t *p, int32_t epoch, int32_t *epoch_out, int64_t *offset_out) {
    lec_end_offset_for(p->lec, epoch, log_end_offset(p->log), epoch_out, offset_out);
}

part_t *rm_lookup(rm_t *rm, const char *topic, int32_t partition) {
    return rm->closing ? NULL : lookup(rm, topic, partition);
}
mdc_t *rm_mdc(rm_t *rm) {
    return rm->mdc;
}
const rm_config_t *rm_cfg(const rm_t *rm) {
    return &rm->cfg;
}
uv_loop_t *rm_loop(rm_t *rm) {
    return rm->loop;
}
bool rm_follows(const part_t *p, int32_t leader) {
    return !p->leader && p->leader_id == leader && !log_is_offline(p->log);
}
int32_t rm_replica_latest_epoch(part_t *p) {
    return lec_latest_epoch(p->lec);
}

int rm_replica_append(rm_t *rm, part_t *p, const uint8_t *data, size_t len, int64_t leader_hw) {
    if (len > 0) {
        /* Leader epochs start where their first batch does (epoch cache of the follower). */
        bool changed = false;
        size_t off = 0;
        while (off < len) {
            rb_header_t h;
            long n = rb_parse(data + off, len - off, &h);
            if (n <= 0) {
                break;
            }
            changed |= lec_assign(p->lec, h.leader_epoch, h.base_offset);
            off += (size_t)n;
        }
        log_append_info_t info;
        int rc = log_append_replica(p->log, data, len, &info);
        if (rc != 0) {
            return rc;
        }
        if (changed) {
            lec_save(p->lec, rm->loop);
        }
        if (!p->pst && pst_records_idempotent(data, len)) {
            pst_start_load(rm, p); /* issue 7: off the loop; it replays these batches too */
        } else if (p->pst) {
            pst_update_records(p->pst, data, len);
            pst_maybe_snapshot(p->pst, p->log); /* issue 7: bounded replay after a crash */
        }
        log_maybe_flush(p->log);
    }
    int64_t leo = log_end_offset(p->log);
    if (leader_hw >= 0) {
        p->hw = leader_hw < leo ? leader_hw : leo;
    }
    return 0;
}

/* After a truncation, producer-state snapshots past the new end describe batches that are
 * gone: delete them (after pst_drop, which cancels a periodic snapshot still in flight), so
 * no later load restores them. A few unlinks on the loop, like the truncation's own file work;
 * truncations are rare (leader changes). */
static void drop_snapshots_after(part_t *p, int64_t offset) {
    int rc = pst_delete_snapshots_after(log_dir_path(p->log), offset);
    if (rc != 0) {
        slog_warn("[Partition %s-%d] deleting producer snapshots past %" PRId64 ": %s", p->topic,
                  (int)p->partition, offset, strata_strerror(rc));
    }
}

int rm_replica_truncate(rm_t *rm, part_t *p, int64_t offset) {
    if (offset >= log_end_offset(p->log)) {
        return 0;
    }
    if (offset < log_start_offset(p->log)) {
        offset = log_start_offset(p->log);
    }
    slog_info("[Partition %s-%d broker=%d] truncating to %" PRId64 " (LEO was %" PRId64 ")",
              p->topic, (int)p->partition, (int)rm->cfg.broker_id, offset, log_end_offset(p->log));
    int rc = log_truncate_to(p->log, offset);
    if (rc != 0) {
        return rc;
    }
    if (lec_truncate_from_end(p->lec, offset)) {
        lec_save(p->lec, rm->loop);
    }
    if (p->hw > offset) {
        p->hw = offset;
    }
    pst_drop(p); /* issue 7: rebuilt from the log at the next use */
    drop_snapshots_after(p, offset);
    return 0;
}

int rm_replica_reset(rm_t *rm, part_t *p, int64_t start) {
    slog_info("[Partition %s-%d broker=%d] restarting the log at %" PRId64
              " (leader's log start is past our LEO %" PRId64 ")",
              p->topic, (int)p->partition, (int)rm->cfg.broker_id, start, log_end_offset(p->log));
    int rc = log_truncate_fully_and_start_at(p->log, start);
    if (rc != 0) {
        return rc;
    }
    if (lec_truncate_from_end(p->lec, 0)) {
        lec_save(p->lec, rm->loop);
    }
    p->hw = start;
    pst_drop(p); /* issue 7 */
    drop_snapshots_after(p, -1);
    return 0;
}

void part_state_for_write(const part_t *p, const char **topic, int32_t *partition,
                          int32_t *leader_epoch, bool **inflight) {
    *topic = p->topic;
    *partition = p->partition;
    *leader_epoch = p->leader_epoch;
    *inflight = (bool *)&p->isr_inflight;
}

void rm_isr_written(rm_t *rm, const char *topic, int32_t partition, const int32_t *isr,
                    int32_t nisr, int rc) {
    rm->pending_io--;
    if (rm->freed) {
        maybe_release(rm);
        return;
    }
    part_t *p = rm->parts ? lookup(rm, topic, partition) : NULL;
    if (p) {
        p->isr_inflight = false;
    }
    if (rc != 0) {
        if (rc != STRATA_ESHUTDOWN) {
            slog_info("[Partition %s-%d broker=%d] ISR update not written: %s (the state moved "
                      "on; deciding again from the cache)",
                      topic, (int)partition, (int)rm->cfg.broker_id, strata_strerror(rc));
        }
        return;
    }
    if (p == NULL || !p->leader) {
        return;
    }
    /* Ours until the cache reads it back (with the new znode version). */
    free(p->isr);
    p->isr = xmalloc((size_t)(nisr ? nisr : 1) * sizeof(int32_t));
    memcpy(p->isr, isr, (size_t)nisr * sizeof(int32_t));
    p->nisr = nisr;
    p->isr_size = nisr;
    maybe_advance_hw(p);
}

void rm_io_hold(rm_t *rm) {
    rm->pending_io++;
}
bool rm_closing(const rm_t *rm) {
    return rm->closing;
}
