/*
 * main: the strata-broker daemon. `strata-broker CONFIG [--override key=value]...`
 * (Kafka's kafka-server-start convention).
 *
 * Start: config (a bad one is one error line and exit code 2) -> log manager (recovery)
 * -> coordination (embedded coord_local in the first data dir, or ZooKeeper when
 * zookeeper.connect is set) -> controller + metadata cache -> replica manager ->
 * listener. Then the loop runs: connections, a 1 s timer for logmgr_tick (retention,
 * time-based flush, checkpoints), SIGTERM/SIGINT.
 *
 * Stop (SIGTERM/SIGINT): stop accepting, let in-flight requests finish, close
 * connections, leave the cluster, close every handle; after the loop ends, flush and
 * checkpoint every log (logmgr_shutdown) and exit 0. A second signal skips the grace.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strata/api.h"
#include "strata/cluster.h"
#include "strata/replica.h"
#include "strata/server.h"
#include "strata/storage.h"

#define EXIT_CONFIG     2
#define TICK_MS         1000
#define GRACE_MS        10000
#define COORD_FILE_NAME "strata-coord.dat"
#define READY_MAX_MS    30000 /* accept anyway after this long without every leader */

typedef struct broker {
    uv_loop_t loop;
    broker_cfg_t cfg;
    props_t *props;
    strata_executor_t executor;
    logmgr_t *logmgr;
    coord_t *coord;
    ctl_t *ctl;
    mdc_t *mdc;
    rm_t *rm;
    api_ctx_t api;
    srv_t *srv;
    uv_timer_t tick;
    uv_signal_t sigterm, sigint;
    uv_prepare_t watchdog; /* debug builds: warns about loop iterations over 50 ms */
    uint64_t wd_last_ns, wd_last_idle_ns;
    bool wd_skip;         /* a signal interrupted poll: libuv did not count that wait as idle */
    uv_timer_t straggler; /* unref'd: closes handles still open long after the stop */
    bool straggler_init;
    bool handles_init;         /* tick and signal handles initialised */
    uv_timer_t ready_deadline; /* start-up: accept even if some partition has no leader */
    bool registered;           /* /brokers/ids/<id> written */
    bool accepting;            /* the listener accepts connections */
    bool stopping;
    int exit_code;
} broker_t;

static void usage(FILE *f) {
    fprintf(f, "Usage: strata-broker CONFIG [--override key=value]...\n"
               "       strata-broker --config-doc   (prints docs/CONFIG.md)\n"
               "Starts a Kafka-compatible broker configured by CONFIG (a server.properties file\n"
               "with Kafka's keys). --override sets a key after the file is read.\n");
}

static void handler(void *arg, api_req_t *req) {
    api_dispatch(arg, req);
}

/* Runs before every poll: the time since the previous one, minus the time the loop
 * spent waiting in poll, is what callbacks took. */
static void on_watchdog(uv_prepare_t *h) {
    broker_t *b = h->data;
    uint64_t now = uv_hrtime();
    uint64_t idle = uv_metrics_idle_time(&b->loop);
    if (b->wd_last_ns != 0 && !b->wd_skip) {
        uint64_t busy = (now - b->wd_last_ns) - (idle - b->wd_last_idle_ns);
        if (busy > 50 * 1000000ull) {
            slog_warn("event loop: one iteration ran %llu ms of callbacks (over 50 ms)",
                      (unsigned long long)(busy / 1000000));
        }
    }
    b->wd_last_ns = now;
    b->wd_last_idle_ns = idle;
    b->wd_skip = false;
}

/* The cleaner stops at the partition's high watermark (-1: not hosted here now). */
static int64_t clean_limit(void *arg, const char *topic, int32_t partition) {
    broker_t *b = arg;
    part_t *p;
    if (!b->rm || rm_partition(b->rm, topic, partition, false, &p) != 0) {
        return -1;
    }
    return part_high_watermark(p);
}

static void on_tick(uv_timer_t *t) {
    broker_t *b = t->data;
    logmgr_tick(b->logmgr);
}

static void close_walk_cb(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h)) {
        slog_warn("shutdown: closing a %s handle nobody closed", uv_handle_type_name(h->type));
        uv_close(h, NULL);
    }
}

static void on_straggler(uv_timer_t *t) {
    broker_t *b = t->data;
    uv_walk(&b->loop, close_walk_cb, NULL);
}

/* Last step of the stop: every handle of ours is closed; close strays too. */
static void close_everything(broker_t *b) {
    api_stop(&b->api);
    gcb_free(b->api.groups); /* issue 7: before rm (it appends through it) */
    b->api.groups = NULL;
    rm_free(b->rm);
    b->rm = NULL;
    if (b->ctl) {
        ctl_free(b->ctl);
        b->ctl = NULL;
    }
    api_free(&b->api);
    coord_close(b->coord);
    b->coord = NULL;
    if (b->handles_init) {
        uv_close((uv_handle_t *)&b->tick, NULL);
        uv_close((uv_handle_t *)&b->ready_deadline, NULL);
        uv_close((uv_handle_t *)&b->sigterm, NULL);
        uv_close((uv_handle_t *)&b->sigint, NULL);
        uv_close((uv_handle_t *)&b->watchdog, NULL);
    }
    /* Owners close their handles asynchronously (coord_local flushes first); if one
     * never does, close it after a while rather than hang. Unref'd: it does not keep
     * the loop alive by itself. */
    uv_timer_init(&b->loop, &b->straggler);
    b->straggler.data = b;
    b->straggler_init = true;
    uv_timer_start(&b->straggler, on_straggler, 5000, 0);
    uv_unref((uv_handle_t *)&b->straggler);
}

static void on_ctl_shutdown(void *arg, int rc) {
    broker_t *b = arg;
    if (rc != 0) {
        slog_warn("shutdown: leaving the cluster: %s", strata_strerror(rc));
    }
    close_everything(b);
}

static void on_drained(void *arg) {
    broker_t *b = arg;
    srv_free(b->srv);
    b->srv = NULL;
    slog_info("shutdown: connections closed");
    if (b->ctl) {
        ctl_shutdown(b->ctl, on_ctl_shutdown, b);
    } else {
        close_everything(b);
    }
}

static void begin_stop(broker_t *b, const char *why) {
    if (b->stopping) {
        return;
    }
    b->stopping = true;
    slog_info("shutting down (%s)", why);
    if (b->handles_init) {
        uv_timer_stop(&b->tick);
    }
    gcb_shutdown(b->api.groups); /* issue 7: answer waiting JoinGroup/SyncGroup now */
    if (b->srv) {
        srv_drain(b->srv, GRACE_MS, on_drained, b);
    } else {
        on_drained(b);
    }
}

static void on_signal(uv_signal_t *s, int signum) {
    broker_t *b = s->data;
    b->wd_skip = true;
    if (b->stopping) {
        slog_warn("second %s: closing connections now", strsignal(signum));
        if (b->srv) {
            srv_drain(b->srv, 0, on_drained, b); /* no-op when already draining */
        }
        return;
    }
    begin_stop(b, strsignal(signum));
}

/*
 * Start-up ends, and the listener starts accepting, once the broker is registered and —
 * standalone, where this broker leads everything — every partition has its leader again,
 * so the first client after a restart is not told UNKNOWN_TOPIC_OR_PARTITION or
 * LEADER_NOT_AVAILABLE for topics that exist (Kafka opens its listener last, too). In a
 * cluster a partition may stay leaderless while its replicas are down, so registration is
 * enough there. Driven by registration and metadata events; READY_MAX_MS bounds the wait.
 */
static bool every_partition_led(const mdc_t *m) {
    for (size_t i = 0; i < mdc_topic_count(m); i++) {
        const mdc_topic_t *t = mdc_topic_at(m, i);
        for (int32_t p = 0; p < t->npartitions; p++) {
            if (t->partitions[p].leader < 0) {
                return false;
            }
        }
    }
    return true;
}

static void open_listener(broker_t *b, bool forced) {
    if (b->accepting || b->stopping) {
        return;
    }
    b->accepting = true;
    uv_timer_stop(&b->ready_deadline);
    if (forced) {
        slog_warn("start-up: some partitions still have no leader after %d ms; serving anyway",
                  READY_MAX_MS);
    }
    srv_start_accepting(b->srv);
    slog_info("broker %d listening on PLAINTEXT://%s:%d, advertised as %s:%d",
              (int)b->cfg.broker_id, b->cfg.listen_host[0] ? b->cfg.listen_host : "0.0.0.0",
              (int)srv_port(b->srv), b->cfg.adv_host, (int)b->cfg.adv_port);
}

static void maybe_open_listener(broker_t *b) {
    if (b->accepting || !b->registered || b->mdc == NULL) {
        return;
    }
    if (b->cfg.zookeeper_connect[0] || every_partition_led(b->mdc)) {
        open_listener(b, false);
    }
}

static void on_metadata_event(void *arg, mdc_event_t ev, const char *topic, int32_t partition) {
    (void)ev;
    (void)topic;
    (void)partition;
    maybe_open_listener(arg);
}

static void on_ready_deadline(uv_timer_t *t) {
    open_listener(t->data, true);
}

static void on_registered(void *arg, int rc) {
    broker_t *b = arg;
    if (rc == 0) {
        slog_info("broker %d registered%s", (int)b->cfg.broker_id,
                  b->cfg.zookeeper_connect[0] ? " in ZooKeeper" : " (standalone controller)");
        b->registered = true;
        maybe_open_listener(b);
        return;
    }
    if (rc == STRATA_EEXISTS) {
        slog_error("broker.id %d is already registered by another live broker",
                   (int)b->cfg.broker_id);
    } else {
        slog_error("cannot register broker %d: %s", (int)b->cfg.broker_id, strata_strerror(rc));
    }
    b->exit_code = 1;
    begin_stop(b, "registration failed");
}

static int start(broker_t *b) {
    int rc;
    const char *const *dirs = (const char *const *)b->cfg.dirs;
    for (size_t i = 0; i < b->cfg.ndirs; i++) {
        rc = fs_mkdirs(dirs[i], 0755);
        if (rc != 0) {
            slog_error("log.dirs: cannot create %s: %s", dirs[i], strata_strerror(rc));
            return rc;
        }
        slog_info("data directory: %s", dirs[i]);
    }
    rc = logmgr_open(dirs, b->cfg.ndirs, &b->cfg.log, &b->executor, &b->logmgr);
    if (rc != 0) {
        slog_error("cannot open the logs in %s: %s", dirs[0], strata_strerror(rc));
        return rc;
    }
    logmgr_cleaner_config_t lcc = {.enable = b->cfg.log_cleaner_enable,
                                   .backoff_ms = b->cfg.log_cleaner_backoff_ms};
    logmgr_set_cleaner(b->logmgr, &lcc);
    logmgr_set_clean_limit(b->logmgr, clean_limit, b);

    /* Bind first: the advertised port of a port-0 listener is known only afterwards. */
    srv_config_t sc = {
        .host = b->cfg.listen_host,
        .port = b->cfg.listen_port,
        .socket_request_max_bytes = b->cfg.socket_request_max_bytes,
        .max_connections = b->cfg.max_connections,
        .connections_max_idle_ms = b->cfg.connections_max_idle_ms,
        .socket_send_buffer_bytes = b->cfg.socket_send_buffer_bytes,
        .socket_receive_buffer_bytes = b->cfg.socket_receive_buffer_bytes,
        .max_inflight = (size_t)b->cfg.queued_max_requests,
        .max_pending_bytes = 0,
        .defer_accept = true, /* open_listener, once start-up is done */
    };
    rc = srv_listen(&b->loop, &sc, handler, &b->api, &b->srv);
    if (rc != 0) {
        return rc;
    }
    if (b->cfg.adv_port == 0) {
        b->cfg.adv_port = srv_port(b->srv);
    }

    if (b->cfg.zookeeper_connect[0]) {
        rc = coord_zk_open(&b->loop, b->cfg.zookeeper_connect, b->cfg.zookeeper_session_timeout_ms,
                           &b->coord);
        if (rc != 0) {
            slog_error("zookeeper.connect %s: %s", b->cfg.zookeeper_connect, strata_strerror(rc));
            return rc;
        }
        slog_info("coordination: ZooKeeper at %s", b->cfg.zookeeper_connect);
    } else {
        char *path = xasprintf("%s/%s", dirs[0], COORD_FILE_NAME);
        rc = coord_local_open(&b->loop, path, &b->coord);
        if (rc != 0) {
            slog_error("cannot open the embedded metadata store %s: %s", path, strata_strerror(rc));
            free(path);
            return rc;
        }
        slog_info("coordination: standalone, embedded store %s", path);
        free(path);
    }

    ctl_config_t cc = {
        .broker_id = b->cfg.broker_id,
        .host = b->cfg.adv_host,
        .port = b->cfg.adv_port,
        .rack = b->cfg.broker_rack[0] ? b->cfg.broker_rack : NULL,
        .num_partitions = b->cfg.num_partitions,
        .default_replication = b->cfg.default_replication_factor,
        .unclean_leader_election = b->cfg.unclean_leader_election_enable,
        .delete_topic_enable = b->cfg.delete_topic_enable,
        /* issue 6 */
        .auto_leader_rebalance = b->cfg.auto_leader_rebalance_enable,
        .leader_imbalance_check_interval_ms = b->cfg.leader_imbalance_check_interval_seconds * 1000,
        .leader_imbalance_per_broker_percentage = b->cfg.leader_imbalance_per_broker_percentage,
    };
    rc = ctl_start(&b->loop, b->coord, &cc, on_registered, b, &b->ctl, &b->mdc);
    if (rc != 0) {
        slog_error("cannot start the controller: %s", strata_strerror(rc));
        return rc;
    }

    rm_config_t rc_cfg = {
        .broker_id = b->cfg.broker_id,
        .min_insync_replicas = b->cfg.min_insync_replicas,
        .log_defaults = b->cfg.log,
        /* issue 6: replication */
        .coord = b->coord,
        .ctl = b->ctl,
        .replica_lag_time_max_ms = b->cfg.replica_lag_time_max_ms,
        .replica_fetch_wait_max_ms = b->cfg.replica_fetch_wait_max_ms,
        .replica_fetch_max_bytes = b->cfg.replica_fetch_max_bytes,
        .replica_fetch_response_max_bytes = b->cfg.replica_fetch_response_max_bytes,
        .replica_fetch_min_bytes = b->cfg.replica_fetch_min_bytes,
        .replica_fetch_backoff_ms = b->cfg.replica_fetch_backoff_ms,
        .hw_checkpoint_interval_ms = b->cfg.replica_high_watermark_checkpoint_interval_ms,
    };
    b->rm = rm_new(&b->loop, b->logmgr, &rc_cfg);
    rm_attach(b->rm, b->mdc);

    b->api.loop = &b->loop;
    b->api.cfg = &b->cfg;
    b->api.cfg_defs = cfg_broker_defs;
    b->api.cfg_ndefs = cfg_broker_ndefs;
    b->api.cfg_props = b->props;
    b->api.rm = b->rm;
    b->api.ctl = b->ctl;
    b->api.mdc = b->mdc;
    b->api.logmgr = b->logmgr;
    /* issue 7: group coordinator and producer ids (group.h) */
    gcb_config_t gcfg;
    memset(&gcfg, 0, sizeof(gcfg));
    gcfg.broker_id = b->cfg.broker_id;
    gc_config_default(&gcfg.gc);
    gcfg.gc.offsets_topic_num_partitions = b->cfg.offsets_topic_num_partitions;
    gcfg.gc.offsets_topic_replication_factor = (int16_t)b->cfg.offsets_topic_replication_factor;
    gcfg.gc.offsets_retention_ms = (int64_t)b->cfg.offsets_retention_minutes * 60000;
    gcfg.gc.offsets_topic_segment_bytes = b->cfg.offsets_topic_segment_bytes;
    gcfg.gc.offsets_commit_timeout_ms = b->cfg.offsets_commit_timeout_ms;
    gcfg.gc.group_initial_rebalance_delay_ms = b->cfg.group_initial_rebalance_delay_ms;
    gcfg.gc.group_min_session_timeout_ms = b->cfg.group_min_session_timeout_ms;
    gcfg.gc.group_max_session_timeout_ms = b->cfg.group_max_session_timeout_ms;
    b->api.groups = gcb_new(&b->loop, b->rm, b->ctl, b->mdc, b->coord, &gcfg);
    api_start(&b->api);

    uv_timer_init(&b->loop, &b->tick);
    b->tick.data = b;
    uv_timer_start(&b->tick, on_tick, TICK_MS, TICK_MS);
    uv_timer_init(&b->loop, &b->ready_deadline);
    b->ready_deadline.data = b;
    uv_timer_start(&b->ready_deadline, on_ready_deadline, READY_MAX_MS, 0);
    mdc_add_listener(b->mdc, on_metadata_event, b);
    uv_signal_init(&b->loop, &b->sigterm);
    uv_signal_init(&b->loop, &b->sigint);
    b->sigterm.data = b;
    b->sigint.data = b;
    uv_signal_start(&b->sigterm, on_signal, SIGTERM);
    uv_signal_start(&b->sigint, on_signal, SIGINT);
    uv_prepare_init(&b->loop, &b->watchdog);
    b->watchdog.data = b;
#ifndef NDEBUG
    uv_prepare_start(&b->watchdog, on_watchdog);
    uv_unref((uv_handle_t *)&b->watchdog);
#else
    (void)on_watchdog; /* debug-only; NDEBUG builds (RelWithDebInfo) must not warn */
#endif
    b->handles_init = true;
    maybe_open_listener(b); /* registration may already have been answered */
    return 0;
}

int main(int argc, char **argv) {
    /* Request frames (a produce batch is up to ~1 MB) are malloc'd per request. glibc's
     * dynamic mmap/trim thresholds gave such blocks back to the kernel on free, so each
     * request faulted in and zeroed fresh pages (about 10 % of the broker's CPU producing
     * 1 KiB records). Keep them in the heap for reuse. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 128 << 20);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--config-doc") == 0) {
        cfg_broker_write_doc(stdout);
        return 0;
    }
    if (argc < 2 || argv[1][0] == '-') {
        usage(stderr);
        return EXIT_CONFIG;
    }
    const char *path = argv[1];
    const char **overrides = xcalloc((size_t)argc, sizeof(char *));
    size_t noverrides = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--override") == 0 && i + 1 < argc) {
            overrides[noverrides++] = argv[++i];
        } else if (strncmp(argv[i], "--override=", 11) == 0) {
            overrides[noverrides++] = argv[i] + 11;
        } else {
            fprintf(stderr, "strata-broker: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            free(overrides);
            return EXIT_CONFIG;
        }
    }

    broker_t *b = xcalloc(1, sizeof(*b));
    char err[512];
    int rc = cfg_broker_load(&b->cfg, path, overrides, noverrides, &b->props, err, sizeof(err));
    free(overrides);
    if (rc != 0) {
        fprintf(stderr, "strata-broker: invalid configuration: %s\n", err);
        free(b);
        return EXIT_CONFIG;
    }

    /* The thread pool runs fsyncs and checkpoints; size it before its first use. */
    if (getenv("UV_THREADPOOL_SIZE") == NULL) {
        char n[16];
        int io = b->cfg.num_io_threads < 1 ? 1 : b->cfg.num_io_threads;
        snprintf(n, sizeof(n), "%d", io > 1024 ? 1024 : io);
        setenv("UV_THREADPOOL_SIZE", n, 1);
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&b->loop);
    uv_loop_configure(&b->loop, UV_METRICS_IDLE_TIME); /* for the debug watchdog */
    bg_executor_init(&b->executor, &b->loop);

    rc = start(b);
    if (rc != 0) {
        /* Startup failed: nothing was served; close what opened and leave. */
        if (b->srv) {
            srv_drain(b->srv, 0, on_drained, b);
        } else {
            on_drained(b);
        }
        b->exit_code = 1;
    }
    uv_run(&b->loop, UV_RUN_DEFAULT);
    if (b->straggler_init) {
        uv_close((uv_handle_t *)&b->straggler, NULL);
        uv_run(&b->loop, UV_RUN_DEFAULT);
    }

    if (b->logmgr) {
        rc = logmgr_shutdown(b->logmgr);
        if (rc != 0) {
            slog_error("shutdown: flushing logs: %s", strata_strerror(rc));
            b->exit_code = 1;
        }
        logmgr_free(b->logmgr);
    }
    int loop_rc = uv_loop_close(&b->loop);
    if (loop_rc != 0) {
        slog_debug("shutdown: loop still had handles (%s)", uv_strerror(loop_rc));
    }
    props_free(b->props);
    cfg_broker_free(&b->cfg);
    int code = b->exit_code;
    free(b);
    if (code == 0) {
        slog_info("shut down cleanly");
    }
    return code;
}
