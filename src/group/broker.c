/*
 * broker: the gcb_ glue between the pure group coordinator (coordinator.c) and a running
 * broker — uv_timer clock, __consumer_offsets appends and loads through the replica
 * manager, topic creation through the controller, FindCoordinator from the metadata
 * cache — and the producer-id block allocator for InitProducerId.
 *
 * Invariants:
 *  1. gc owns (PART_ACTIVE) or loads (loading[]) only partitions this broker led at the
 *     leader epoch recorded in loaded_epoch[]; a different epoch or role reloads or
 *     unloads it. A chunk read completing for an older load_gen[] is discarded.
 *  4. The loop never reads __consumer_offsets data itself: chunk reads run on the libuv
 *     thread pool; g is freed only when gcb_free ran, the timer closed and jobs == 0.
 *  2. At most one __consumer_offsets creation and one producer-id block claim in flight.
 *  3. Producer ids handed out lie in a block this broker wrote to coord: unique across
 *     brokers and restarts (Kafka's ZkProducerIdManager, blocks of 1000).
 *  5. Every store append the coordinator waits for is an append_wait_t in g->waits until
 *     its completion ran, exactly once: at once when the ISR already has it, else from its
 *     conditional purgatory operation (HW advance, timeout, wake, or cancel at shutdown,
 *     which runs before gc_free).
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strata/group.h"

#define PID_BLOCK_SIZE 1000
#define PID_BLOCK_PATH "/latest_producer_id_block"

typedef struct pid_waiter {
    struct pid_waiter *next;
    gcb_pid_cb cb;
    void *arg;
} pid_waiter_t;

struct gcb {
    uv_loop_t *loop;
    rm_t *rm;
    ctl_t *ctl;
    mdc_t *mdc;
    coord_t *coord;
    gcb_config_t cfg;
    gc_t *gc;
    uv_timer_t timer;
    bool closing;
    bool creating_topic;
    int32_t *loaded_epoch; /* per partition: leader epoch it was loaded at, -1 = none */
    uint32_t *load_gen;    /* per partition: bumped when a load starts or is cancelled */
    bool *loading;         /* per partition: a load (chunk reads off the loop) in flight */
    int jobs;              /* chunk reads queued on the thread pool (each holds g) */
    bool freed;            /* gcb_free ran: the last of timer close / jobs frees g */
    bool timer_closed;
    struct append_wait *waits; /* store appends waiting for the ISR (invariant 5) */
    /* producer ids */
    int64_t pid_next;
    int64_t pid_end; /* inclusive; pid_next > pid_end = exhausted */
    bool claiming;
    pid_waiter_t *waiters, *waiters_tail;
};

/* Frees g once gcb_free ran, its timer closed and no chunk read is in flight. */
static void gcb_release(gcb_t *g) {
    if (g->freed && g->timer_closed && g->jobs == 0) {
        free(g);
    }
}

static void load_start(gcb_t *g, int32_t partition, part_t *p, int32_t epoch);

/* ---------------------------------------------------------------- clock and store */

static int64_t g_now(void *ctx) {
    (void)ctx;
    return clock_mono_ms();
}

static int64_t g_wall(void *ctx) {
    (void)ctx;
    return clock_wall_ms();
}

static void on_timer(uv_timer_t *t) {
    gcb_t *g = t->data;
    if (!g->closing) {
        gc_tick(g->gc); /* re-arms through wake_at */
    }
}

static void g_wake(void *ctx, int64_t deadline) {
    gcb_t *g = ctx;
    if (g->closing || !g->gc) {
        return;
    }
    if (deadline == INT64_MAX) {
        uv_timer_stop(&g->timer);
        return;
    }
    int64_t delay = deadline - clock_mono_ms();
    uv_timer_start(&g->timer, on_timer, delay > 0 ? (uint64_t)delay : 0, 0);
}

/* An acks=-1 __consumer_offsets append waiting until the ISR has it. */
typedef struct append_wait {
    struct append_wait *prev, *next;
    gcb_t *g;
    int32_t partition;
    int64_t required; /* last offset + 1 */
    gc_store_cb done;
    void *done_arg;
    purg_op_t *op;
} append_wait_t;

static int wait_status(const append_wait_t *w) {
    return rm_produce_status(w->g->rm, GC_OFFSETS_TOPIC, w->partition, w->required);
}

static bool wait_ready(void *arg) {
    return wait_status(arg) != RM_EPENDING;
}

/* The append's outcome as Kafka's ReplicaManager reports it to the coordinator. */
static kp_err_t wait_error(int rc) {
    switch (rc) {
    case 0:
        return KP_ERR_NONE;
    case RM_EPENDING:
        return KP_ERR_REQUEST_TIMED_OUT;
    case RM_ENOT_LEADER:
        return KP_ERR_NOT_LEADER_OR_FOLLOWER;
    case RM_ENOT_ENOUGH_REPLICAS_AFTER_APPEND:
        return KP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
    case STRATA_ENOTFOUND:
        return KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    default:
        return KP_ERR_COORDINATOR_NOT_AVAILABLE;
    }
}

static void wait_done(void *arg, purg_reason_t reason) {
    append_wait_t *w = arg;
    gcb_t *g = w->g;
    if (w->prev) {
        w->prev->next = w->next;
    } else {
        g->waits = w->next;
    }
    if (w->next) {
        w->next->prev = w->prev;
    }
    int rc = wait_status(w);
    if (rc == RM_EPENDING && reason != PURG_TIMEOUT) {
        rc = RM_ENOT_LEADER; /* cancelled (shutdown) or woken (partition moved) */
    }
    gc_store_cb done = w->done;
    void *done_arg = w->done_arg;
    free(w);
    done(done_arg, wait_error(rc));
}

static int g_append(void *ctx, int32_t partition, uint8_t *batch, size_t len, gc_store_cb done,
                    void *done_arg) {
    gcb_t *g = ctx;
    if (g->closing) {
        return KP_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    part_t *p = NULL;
    log_append_info_t info;
    int rc = rm_partition(g->rm, GC_OFFSETS_TOPIC, partition, true, &p);
    if (rc == 0) {
        rc = rm_append(g->rm, p, batch, len, -1, &info); /* Kafka: acks=-1 */
    }
    switch (rc) {
    case 0:
        break;
    case RM_ENOT_LEADER:
        return KP_ERR_NOT_LEADER_OR_FOLLOWER;
    case RM_ENOT_ENOUGH_REPLICAS:
        return KP_ERR_NOT_ENOUGH_REPLICAS;
    case STRATA_ETOO_LARGE:
        return KP_ERR_MESSAGE_TOO_LARGE;
    default:
        return KP_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    if (!done) {
        return KP_ERR_NONE; /* nobody waits */
    }
    append_wait_t *w = xcalloc(1, sizeof(*w));
    w->g = g;
    w->partition = partition;
    w->required = info.last_offset + 1;
    w->done = done;
    w->done_arg = done_arg;
    int st = wait_status(w);
    if (st != RM_EPENDING) {
        free(w); /* standalone or a one-member ISR: complete at once */
        done(done_arg, wait_error(st));
        return KP_ERR_NONE;
    }
    w->next = g->waits;
    if (g->waits) {
        g->waits->prev = w;
    }
    g->waits = w;
    purg_list_t *lists[1] = {part_produce_waiters(p)};
    int32_t timeout = gc_config(g->gc)->offsets_commit_timeout_ms;
    w->op = purg_add_cond(g->loop, lists, 1, (uint64_t)(timeout > 0 ? timeout : 5000), wait_ready,
                          wait_done, w);
    return KP_ERR_NONE;
}

/* Leadership of a __consumer_offsets partition moved away: unload at once, so requests
 * waiting on its groups (JoinGroup, SyncGroup) get NOT_COORDINATOR and the clients look the
 * coordinator up again. A partition this broker now leads starts loading at once (below). */
static void on_mdc_event(void *arg, mdc_event_t ev, const char *topic, int32_t partition) {
    gcb_t *g = arg;
    if (g->closing || !g->gc || !topic || strcmp(topic, GC_OFFSETS_TOPIC) != 0) {
        return;
    }
    if (ev != MDC_EV_PARTITION && ev != MDC_EV_TOPIC && ev != MDC_EV_TOPIC_DELETED) {
        return;
    }
    int32_t n = gc_config(g->gc)->offsets_topic_num_partitions;
    for (int32_t p = 0; p < n; p++) {
        if ((partition >= 0 && p != partition) || (!gc_owns(g->gc, p) && !g->loading[p])) {
            continue;
        }
        const mdc_partition_t *mp = mdc_partition(g->mdc, GC_OFFSETS_TOPIC, p);
        if (ev == MDC_EV_TOPIC_DELETED || !mp || mp->leader != g->cfg.broker_id ||
            mp->leader_epoch != g->loaded_epoch[p]) {
            slog_info("[GroupCoordinator] leadership of %s-%d moved: unloading its groups",
                      GC_OFFSETS_TOPIC, (int)p);
            gc_unload(g->gc, p);
            g->loaded_epoch[p] = -1;
            if (g->loading[p]) {
                g->loading[p] = false; /* its chunk in flight is dropped (generation) */
                g->load_gen[p]++;
            }
        }
    }
    /* Kafka loads a partition as soon as this broker becomes its leader (onElection), so
     * the first group request rarely sees COORDINATOR_LOAD_IN_PROGRESS. Requests still
     * load lazily (gcb_prepare) when the replica manager learns of the leadership later. */
    if (ev == MDC_EV_TOPIC_DELETED) {
        return;
    }
    for (int32_t p = 0; p < n; p++) {
        if ((partition >= 0 && p != partition) || gc_owns(g->gc, p) || g->loading[p]) {
            continue;
        }
        const mdc_partition_t *mp = mdc_partition(g->mdc, GC_OFFSETS_TOPIC, p);
        part_t *pp = NULL;
        if (mp && mp->leader == g->cfg.broker_id &&
            rm_partition(g->rm, GC_OFFSETS_TOPIC, p, true, &pp) == 0 &&
            part_leader_epoch(pp) == mp->leader_epoch) {
            load_start(g, p, pp, mp->leader_epoch);
        }
    }
}

/* ---------------------------------------------------------------- lifecycle */

gcb_t *gcb_new(uv_loop_t *loop, rm_t *rm, ctl_t *ctl, mdc_t *mdc, coord_t *coord,
               const gcb_config_t *cfg) {
    gcb_t *g = xcalloc(1, sizeof(*g));
    g->loop = loop;
    g->rm = rm;
    g->ctl = ctl;
    g->mdc = mdc;
    g->coord = coord;
    g->cfg = *cfg;
    uv_timer_init(loop, &g->timer);
    g->timer.data = g;
    gc_clock_t clk = {g_now, g_wall, g_wake, g};
    gc_store_t st = {g_append, g};
    g->gc = gc_new(&cfg->gc, &clk, &st);
    int32_t n = gc_config(g->gc)->offsets_topic_num_partitions;
    g->loaded_epoch = xmalloc(sizeof(int32_t) * (size_t)n);
    g->load_gen = xcalloc((size_t)n, sizeof(uint32_t));
    g->loading = xcalloc((size_t)n, sizeof(bool));
    for (int32_t i = 0; i < n; i++) {
        g->loaded_epoch[i] = -1;
    }
    g->pid_next = 1;
    g->pid_end = 0;
    if (mdc) {
        mdc_add_listener(mdc, on_mdc_event, g); /* mdc outlives g (freed after it) */
    }
    return g;
}

static void fail_pid_waiters(gcb_t *g, kp_err_t err) {
    pid_waiter_t *w = g->waiters;
    g->waiters = g->waiters_tail = NULL;
    while (w) {
        pid_waiter_t *next = w->next;
        w->cb(w->arg, err, -1, -1);
        free(w);
        w = next;
    }
}

void gcb_shutdown(gcb_t *g) {
    if (!g || g->closing) {
        return;
    }
    int32_t n = gc_config(g->gc)->offsets_topic_num_partitions;
    for (int32_t p = 0; p < n; p++) {
        if (gc_owns(g->gc, p) || g->loading[p]) {
            gc_unload(g->gc, p);
        }
        g->loaded_epoch[p] = -1;
        g->loading[p] = false;
        g->load_gen[p]++;
    }
    g->closing = true;
    while (g->waits) {
        purg_cancel(g->waits->op); /* wait_done unlinks it and fails the append */
    }
    uv_timer_stop(&g->timer);
    fail_pid_waiters(g, KP_ERR_COORDINATOR_NOT_AVAILABLE);
}

static void on_timer_closed(uv_handle_t *h) {
    gcb_t *g = h->data;
    g->timer_closed = true;
    gcb_release(g); /* or the last chunk read in flight frees it */
}

void gcb_free(gcb_t *g) {
    if (!g) {
        return;
    }
    gcb_shutdown(g);
    gc_free(g->gc);
    g->gc = NULL;
    free(g->loaded_epoch);
    g->loaded_epoch = NULL;
    free(g->load_gen);
    g->load_gen = NULL;
    free(g->loading);
    g->loading = NULL;
    g->freed = true;
    uv_close((uv_handle_t *)&g->timer, on_timer_closed);
}

gc_t *gcb_gc(gcb_t *g) {
    return g->gc;
}

/* ---------------------------------------------------------------- __consumer_offsets */

static void on_topic_created(void *arg, int16_t err, const char *message) {
    gcb_t *g = arg;
    g->creating_topic = false;
    if (err != 0 && err != KP_ERR_TOPIC_ALREADY_EXISTS) {
        slog_warn("[GroupCoordinator] creating %s failed: %s (%s)", GC_OFFSETS_TOPIC,
                  kp_err_name(err), message ? message : "");
    } else {
        slog_info("[GroupCoordinator] created %s", GC_OFFSETS_TOPIC);
    }
}

static void maybe_create_topic(gcb_t *g) {
    if (g->creating_topic || g->closing || !g->ctl) {
        return;
    }
    const gc_config_t *c = gc_config(g->gc);
    int32_t live = (int32_t)mdc_broker_count(g->mdc);
    int16_t rf = c->offsets_topic_replication_factor;
    if (live > 0 && rf > live) {
        rf = (int16_t)live;
    }
    if (rf < 1) {
        rf = 1;
    }
    static const char *const keys[] = {"cleanup.policy", "compression.type", "segment.bytes"};
    char seg[32];
    snprintf(seg, sizeof(seg), "%d", (int)c->offsets_topic_segment_bytes);
    const char *vals[] = {"compact", "producer", seg};
    ctl_topic_spec_t spec;
    memset(&spec, 0, sizeof(spec));
    spec.name = GC_OFFSETS_TOPIC;
    spec.num_partitions = c->offsets_topic_num_partitions;
    spec.replication_factor = rf;
    spec.config_keys = keys;
    spec.config_values = vals;
    spec.nconfigs = 3;
    if (ctl_create_topic(g->ctl, &spec, on_topic_created, g) == 0) {
        g->creating_topic = true;
        slog_info("[GroupCoordinator] creating %s (%d partitions, replication factor %d)",
                  GC_OFFSETS_TOPIC, (int)spec.num_partitions, (int)rf);
    }
}

/*
 * Loading a partition never blocks the loop: gc_load_begin makes its groups answer
 * COORDINATOR_LOAD_IN_PROGRESS, then chunks of at most LOAD_CHUNK bytes are located on the
 * loop (log_read: an index lookup), read with pread on the thread pool, and replayed on
 * the loop (gc_load_batches) one chunk per completion, up to the log end as Kafka's
 * loadGroupsAndOffsets (a new leader's high watermark may still trail the commits it
 * holds). A cancelled load (unload, new epoch, shutdown) is recognised by its generation.
 */
#define LOAD_CHUNK (1 << 20)

typedef struct load_job {
    gcb_t *g;
    int32_t partition;
    uint32_t gen;
    int64_t offset; /* first offset of the chunk */
    log_slice_t sl;
    uint8_t *data;
    ssize_t got;
    uv_work_t req;
} load_job_t;

static void load_next_chunk(gcb_t *g, int32_t partition, int64_t offset);

static void load_finish(gcb_t *g, int32_t partition, int64_t offset, int rc) {
    g->loading[partition] = false;
    if (rc < 0) {
        slog_warn("[GroupCoordinator] loading %s-%d stopped at offset %" PRId64 ": %s",
                  GC_OFFSETS_TOPIC, (int)partition, offset, strata_strerror(rc));
    }
    gc_load_done(g->gc, partition);
    slog_info("[GroupCoordinator] loaded %s-%d up to offset %" PRId64, GC_OFFSETS_TOPIC,
              (int)partition, offset);
}

static void load_work(uv_work_t *req) {
    load_job_t *j = req->data;
    j->data = malloc((size_t)j->sl.len);
    j->got = j->data ? pread(j->sl.fd, j->data, (size_t)j->sl.len, (off_t)j->sl.pos) : -1;
}

static void load_after(uv_work_t *req, int status) {
    load_job_t *j = req->data;
    gcb_t *g = j->g;
    g->jobs--;
    int64_t want = j->sl.len;
    log_slice_release(&j->sl); /* clears j->sl */
    bool current = !g->freed && !g->closing && status == 0 && g->loading[j->partition] &&
                   g->load_gen[j->partition] == j->gen;
    if (!current) {
        free(j->data);
        free(j);
        gcb_release(g);
        return;
    }
    int32_t partition = j->partition;
    int64_t offset = j->offset;
    if (j->got != (ssize_t)want) {
        free(j->data);
        free(j);
        load_finish(g, partition, offset, STRATA_ECORRUPT);
        return;
    }
    /* where the whole batches end: the next chunk starts after the last one */
    size_t len = (size_t)j->got, pos = 0;
    int64_t next = offset;
    while (len - pos >= RB_HEADER_SIZE) {
        rb_header_t h;
        long sz = rb_parse(j->data + pos, len - pos, &h);
        if (sz <= 0) {
            break;
        }
        next = h.base_offset + h.last_offset_delta + 1;
        pos += (size_t)sz;
    }
    if (pos > 0) {
        (void)gc_load_batches(g->gc, partition, j->data, pos);
    }
    free(j->data);
    free(j);
    if (pos == 0 || next <= offset) {
        load_finish(g, partition, offset, STRATA_ECORRUPT);
        return;
    }
    load_next_chunk(g, partition, next);
}

/* Locates the chunk at offset and queues its read; finishes the load at the log end. */
static void load_next_chunk(gcb_t *g, int32_t partition, int64_t offset) {
    part_t *p = NULL;
    if (rm_partition(g->rm, GC_OFFSETS_TOPIC, partition, true, &p) != 0) {
        /* leadership went away mid-load: serve nothing from this partition */
        g->loading[partition] = false;
        g->loaded_epoch[partition] = -1;
        g->load_gen[partition]++;
        gc_unload(g->gc, partition);
        return;
    }
    log_t *log = part_log(p);
    if (offset < log_start_offset(log)) {
        offset = log_start_offset(log); /* retention or compaction moved the start */
    }
    if (offset >= log_end_offset(log)) {
        load_finish(g, partition, offset, 0);
        return;
    }
    load_job_t *j = xcalloc(1, sizeof(*j));
    int rc = log_read(log, offset, LOAD_CHUNK, INT64_MAX, &j->sl);
    if (rc < 0 || j->sl.len <= 0) {
        if (rc == 0) {
            log_slice_release(&j->sl);
        }
        free(j);
        load_finish(g, partition, offset, rc < 0 ? rc : 0);
        return;
    }
    j->g = g;
    j->partition = partition;
    j->gen = g->load_gen[partition];
    j->offset = offset;
    j->req.data = j;
    rc = uv_queue_work(g->loop, &j->req, load_work, load_after);
    if (rc != 0) {
        log_slice_release(&j->sl);
        free(j);
        load_finish(g, partition, offset, STRATA_EOFFLINE);
        return;
    }
    g->jobs++;
}

/* Starts loading the partition (this broker leads it at epoch). */
static void load_start(gcb_t *g, int32_t partition, part_t *p, int32_t epoch) {
    gc_load_begin(g->gc, partition);
    g->loaded_epoch[partition] = epoch;
    g->loading[partition] = true;
    g->load_gen[partition]++;
    slog_info("[GroupCoordinator] loading %s-%d (leader epoch %d)", GC_OFFSETS_TOPIC,
              (int)partition, (int)epoch);
    load_next_chunk(g, partition, log_start_offset(part_log(p)));
}

static kp_err_t prepare_partition(gcb_t *g, int32_t partition) {
    if (g->closing) {
        return KP_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    part_t *p = NULL;
    int rc = rm_partition(g->rm, GC_OFFSETS_TOPIC, partition, true, &p);
    if (rc != 0) {
        if (gc_owns(g->gc, partition) || g->loading[partition]) {
            slog_info("[GroupCoordinator] no longer leader of %s-%d: unloading", GC_OFFSETS_TOPIC,
                      (int)partition);
            gc_unload(g->gc, partition);
        }
        g->loaded_epoch[partition] = -1;
        if (g->loading[partition]) {
            g->loading[partition] = false;
            g->load_gen[partition]++;
        }
        if (rc == STRATA_ENOTFOUND) {
            maybe_create_topic(g);
            return KP_ERR_COORDINATOR_NOT_AVAILABLE;
        }
        return rc == RM_ENOT_LEADER ? KP_ERR_NOT_COORDINATOR : KP_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    int32_t epoch = part_leader_epoch(p);
    if (g->loaded_epoch[partition] != epoch ||
        (!gc_owns(g->gc, partition) && !g->loading[partition])) {
        load_start(g, partition, p, epoch);
    }
    if (g->loading[partition]) {
        return KP_ERR_COORDINATOR_LOAD_IN_PROGRESS;
    }
    return KP_ERR_NONE;
}

kp_err_t gcb_prepare(gcb_t *g, const char *group_id) {
    if (!group_id) {
        return KP_ERR_INVALID_GROUP_ID;
    }
    return prepare_partition(g, gc_partition_for(g->gc, group_id));
}

kp_err_t gcb_prepare_all(gcb_t *g) {
    if (!mdc_topic(g->mdc, GC_OFFSETS_TOPIC)) {
        return KP_ERR_NONE;
    }
    kp_err_t err = KP_ERR_NONE;
    int32_t n = gc_config(g->gc)->offsets_topic_num_partitions;
    for (int32_t p = 0; p < n; p++) {
        if (prepare_partition(g, p) == KP_ERR_COORDINATOR_LOAD_IN_PROGRESS) {
            err = KP_ERR_COORDINATOR_LOAD_IN_PROGRESS;
        }
    }
    return err;
}

kp_err_t gcb_find_coordinator(gcb_t *g, const char *group_id, int32_t *node_id, const char **host,
                              int32_t *port) {
    *node_id = -1;
    *host = "";
    *port = -1;
    if (!group_id) {
        return KP_ERR_INVALID_REQUEST;
    }
    int32_t partition = gc_partition_for(g->gc, group_id);
    const mdc_topic_t *t = mdc_topic(g->mdc, GC_OFFSETS_TOPIC);
    if (!t) {
        maybe_create_topic(g);
        return KP_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    const mdc_partition_t *mp = mdc_partition(g->mdc, GC_OFFSETS_TOPIC, partition);
    if (!mp || mp->leader < 0) {
        return KP_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    const mdc_broker_t *b = mdc_broker(g->mdc, mp->leader);
    if (!b) {
        return KP_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    *node_id = b->id;
    *host = b->host;
    *port = b->port;
    return KP_ERR_NONE;
}

/* ---------------------------------------------------------------- producer ids */

static void claim_block(gcb_t *g);

static void serve_pid_waiters(gcb_t *g) {
    while (g->waiters && g->pid_next <= g->pid_end) {
        pid_waiter_t *w = g->waiters;
        g->waiters = w->next;
        if (!g->waiters) {
            g->waiters_tail = NULL;
        }
        int64_t pid = g->pid_next++;
        w->cb(w->arg, KP_ERR_NONE, pid, 0);
        free(w);
    }
    if (g->waiters) {
        claim_block(g);
    }
}

static char *block_json(int32_t broker, int64_t start, int64_t end) {
    return xasprintf("{\"version\":1,\"broker\":%d,\"block_start\":\"%" PRId64
                     "\",\"block_end\":\"%" PRId64 "\"}",
                     (int)broker, start, end);
}

typedef struct claim_ctx {
    gcb_t *g;
    int64_t start, end;
} claim_ctx_t;

static void claim_done(gcb_t *g, int rc, int64_t start, int64_t end) {
    g->claiming = false;
    if (g->closing) {
        return;
    }
    if (rc == 0) {
        g->pid_next = start;
        g->pid_end = end;
        slog_info("[ProducerIdManager] claimed producer id block %" PRId64 "-%" PRId64, start, end);
        serve_pid_waiters(g);
        return;
    }
    if (rc == STRATA_EBADVERSION || rc == STRATA_EEXISTS) {
        claim_block(g); /* another broker won the race: read again */
        return;
    }
    slog_warn("[ProducerIdManager] claiming a producer id block failed: %s", strata_strerror(rc));
    fail_pid_waiters(g, KP_ERR_COORDINATOR_NOT_AVAILABLE);
}

static void on_block_set(void *arg, int rc, const char *data, size_t len, int32_t version) {
    (void)data;
    (void)len;
    (void)version;
    claim_ctx_t *c = arg;
    claim_done(c->g, rc, c->start, c->end);
    free(c);
}

static void on_block_created(void *arg, int rc, const char *path) {
    (void)path;
    claim_ctx_t *c = arg;
    claim_done(c->g, rc, c->start, c->end);
    free(c);
}

static int64_t json_i64(json_t *v) {
    if (json_is_integer(v)) {
        return (int64_t)json_integer_value(v);
    }
    if (json_is_string(v)) {
        int64_t x;
        if (parse_int64(json_string_value(v), &x) == 0) {
            return x;
        }
    }
    return -2;
}

static void on_block_get(void *arg, int rc, const char *data, size_t len, int32_t version) {
    claim_ctx_t *c = arg;
    gcb_t *g = c->g;
    if (g->closing) {
        g->claiming = false;
        free(c);
        return;
    }
    int64_t last = -1; /* block_end of the latest block; -1 when none yet */
    if (rc == 0 && len > 0) {
        json_error_t jerr;
        json_t *root = json_loadb(data, len, 0, &jerr);
        int64_t e = root ? json_i64(json_object_get(root, "block_end")) : -2;
        json_decref(root);
        if (e < -1) {
            slog_error("[ProducerIdManager] unreadable %s: %.*s", PID_BLOCK_PATH, (int)len, data);
            free(c);
            claim_done(g, STRATA_ECORRUPT, 0, 0);
            return;
        }
        last = e;
    } else if (rc != 0 && rc != STRATA_ENOTFOUND) {
        free(c);
        claim_done(g, rc, 0, 0);
        return;
    }
    c->start = last + 1;
    c->end = last + PID_BLOCK_SIZE;
    char *json = block_json(g->cfg.broker_id, c->start, c->end);
    int src;
    if (rc == STRATA_ENOTFOUND) {
        src = coord_create(g->coord, PID_BLOCK_PATH, json, strlen(json), COORD_PERSISTENT,
                           on_block_created, c);
    } else {
        src = coord_set(g->coord, PID_BLOCK_PATH, json, strlen(json), version, on_block_set, c);
    }
    free(json);
    if (src != 0) {
        free(c);
        claim_done(g, src, 0, 0);
    }
}

static void claim_block(gcb_t *g) {
    if (g->claiming || g->closing) {
        return;
    }
    if (!g->coord) {
        fail_pid_waiters(g, KP_ERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    claim_ctx_t *c = xcalloc(1, sizeof(*c));
    c->g = g;
    g->claiming = true;
    int rc = coord_get(g->coord, PID_BLOCK_PATH, NULL, NULL, on_block_get, c);
    if (rc != 0) {
        g->claiming = false;
        free(c);
        fail_pid_waiters(g, KP_ERR_COORDINATOR_NOT_AVAILABLE);
    }
}

void gcb_init_producer_id(gcb_t *g, gcb_pid_cb cb, void *arg) {
    if (g->closing) {
        cb(arg, KP_ERR_COORDINATOR_NOT_AVAILABLE, -1, -1);
        return;
    }
    if (!g->waiters && g->pid_next <= g->pid_end) {
        int64_t pid = g->pid_next++;
        cb(arg, KP_ERR_NONE, pid, 0);
        return;
    }
    pid_waiter_t *w = xcalloc(1, sizeof(*w));
    w->cb = cb;
    w->arg = arg;
    if (g->waiters_tail) {
        g->waiters_tail->next = w;
    } else {
        g->waiters = w;
    }
    g->waiters_tail = w;
    claim_block(g);
}
