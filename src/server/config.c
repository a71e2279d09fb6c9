/*
 * config: the broker's key table (Kafka's names and defaults, Redis static_configs[]
 * style), loading server.properties plus --override, validation, and the values
 * derived from the keys (listen/advertised endpoints, data dirs, log config).
 * docs/CONFIG.md is generated from this table (strata-broker --config-doc).
 *
 * Precedence rules copied from Kafka: log.dirs over log.dir; log.retention.ms over
 * .minutes over .hours; log.roll.ms over log.roll.hours; log.flush.interval.ms falls
 * back to log.flush.scheduler.interval.ms; advertised.listeners defaults to listeners.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "strata/server.h"

#define F(field) offsetof(broker_cfg_t, field)
#define NORANGE  1, 0
#define I32MAX   2147483647
#define I64MAX   INT64_MAX

const cfg_def_t cfg_broker_defs[] = {
    {"broker.id", CFG_INT32, F(broker_id), "-1", -1, I32MAX,
     "This broker's id; -1 = 0 in standalone mode"},
    {"listeners", CFG_STRING, F(listeners), "PLAINTEXT://:9092", NORANGE,
     "Listener to bind, PLAINTEXT://host:port (empty host = all interfaces, port 0 = any)"},
    {"advertised.listeners", CFG_STRING, F(advertised_listeners), "", NORANGE,
     "Listener given to clients in Metadata; empty = listeners"},
    {"log.dirs", CFG_STRING, F(log_dirs), "", NORANGE,
     "Comma-separated data directories; empty = log.dir"},
    {"log.dir", CFG_STRING, F(log_dir), "/tmp/kafka-logs", NORANGE,
     "Data directory used when log.dirs is empty"},
    {"zookeeper.connect", CFG_STRING, F(zookeeper_connect), "", NORANGE,
     "ZooKeeper connect string host:port[,host:port][/chroot]; empty = standalone with the "
     "embedded store"},
    {"zookeeper.session.timeout.ms", CFG_INT32, F(zookeeper_session_timeout_ms), "18000", 1, I32MAX,
     "ZooKeeper session timeout"},
    {"zookeeper.connection.timeout.ms", CFG_INT32, F(zookeeper_connection_timeout_ms), "18000", 1,
     I32MAX, "Accepted for compatibility (the session timeout governs)"},
    {"broker.rack", CFG_STRING, F(broker_rack), "", NORANGE,
     "Rack of this broker for rack-aware replica assignment; empty = none"},
    {"num.partitions", CFG_INT32, F(num_partitions), "1", 1, I32MAX,
     "Default partition count of new topics"},
    {"default.replication.factor", CFG_INT32, F(default_replication_factor), "1", 1, 32767,
     "Default replication factor of new topics"},
    {"auto.create.topics.enable", CFG_BOOL, F(auto_create_topics_enable), "true", NORANGE,
     "Create a topic when Metadata asks for an unknown one (and allows it)"},
    {"delete.topic.enable", CFG_BOOL, F(delete_topic_enable), "true", NORANGE,
     "Allow DeleteTopics"},
    {"unclean.leader.election.enable", CFG_BOOL, F(unclean_leader_election_enable), "false",
     NORANGE, "Elect an out-of-sync replica as leader when no ISR member is alive"},
    {"min.insync.replicas", CFG_INT32, F(min_insync_replicas), "1", 1, I32MAX,
     "Minimum ISR size for acks=-1 produce"},
    {"message.max.bytes", CFG_INT32, F(message_max_bytes), "1048588", 0, I32MAX,
     "Largest record batch accepted"},
    {"socket.request.max.bytes", CFG_INT32, F(socket_request_max_bytes), "104857600", 1, I32MAX,
     "Largest request frame; larger ones close the connection"},
    {"socket.send.buffer.bytes", CFG_INT32, F(socket_send_buffer_bytes), "102400", -1, I32MAX,
     "SO_SNDBUF of client sockets; -1 = OS default"},
    {"socket.receive.buffer.bytes", CFG_INT32, F(socket_receive_buffer_bytes), "102400", -1, I32MAX,
     "SO_RCVBUF of client sockets; -1 = OS default"},
    {"max.connections", CFG_INT32, F(max_connections), "2147483647", 0, I32MAX,
     "Connections accepted at once; beyond it new ones are closed and logged"},
    {"connections.max.idle.ms", CFG_INT64, F(connections_max_idle_ms), "600000", 1, I64MAX,
     "Close connections idle this long"},
    {"num.network.threads", CFG_INT32, F(num_network_threads), "3", 1, I32MAX,
     "Accepted for compatibility; Strata runs one event loop"},
    {"num.io.threads", CFG_INT32, F(num_io_threads), "8", 1, I32MAX,
     "Size of the libuv thread pool for fsync and other blocking work (max 1024)"},
    {"queued.max.requests", CFG_INT32, F(queued_max_requests), "500", 1, I32MAX,
     "Requests in flight per connection before it stops reading (backpressure)"},
    {"log.segment.bytes", CFG_INT64, F(log_segment_bytes), "1073741824", 14, I32MAX,
     "Segment file size before a new segment is rolled"},
    {"log.roll.ms", CFG_INT64, F(log_roll_ms), "604800000", 1, I64MAX,
     "Segment age before a roll; unset = log.roll.hours"},
    {"log.roll.hours", CFG_INT32, F(log_roll_hours), "168", 1, I32MAX,
     "Segment age before a roll, in hours"},
    {"log.roll.jitter.ms", CFG_INT64, F(log_roll_jitter_ms), "0", 0, I64MAX,
     "Largest random amount subtracted from log.roll.ms per segment (spreads rolls); unset = "
     "log.roll.jitter.hours"},
    {"log.roll.jitter.hours", CFG_INT32, F(log_roll_jitter_hours), "0", 0, I32MAX,
     "log.roll.jitter.ms in hours"},
    {"log.retention.ms", CFG_INT64, F(log_retention_ms), "604800000", -1, I64MAX,
     "Delete segments older than this; -1 = forever; unset = .minutes / .hours"},
    {"log.retention.minutes", CFG_INT32, F(log_retention_minutes), "10080", -1, I32MAX,
     "Retention in minutes; unset = log.retention.hours"},
    {"log.retention.hours", CFG_INT32, F(log_retention_hours), "168", -1, I32MAX,
     "Retention in hours"},
    {"log.retention.bytes", CFG_INT64, F(log_retention_bytes), "-1", -1, I64MAX,
     "Delete old segments beyond this partition size; -1 = unlimited"},
    {"log.retention.check.interval.ms", CFG_INT64, F(log_retention_check_interval_ms), "300000", 1,
     I64MAX, "How often retention runs"},
    {"log.index.interval.bytes", CFG_INT32, F(log_index_interval_bytes), "4096", 0, I32MAX,
     "Bytes between offset-index entries"},
    {"log.index.size.max.bytes", CFG_INT32, F(log_index_size_max_bytes), "10485760", 4, I32MAX,
     "Maximum size of an offset index file"},
    {"log.flush.interval.messages", CFG_INT64, F(log_flush_interval_messages),
     "9223372036854775807", 1, I64MAX, "Messages appended before a flush (fsync)"},
    {"log.flush.interval.ms", CFG_INT64, F(log_flush_interval_ms), "9223372036854775807", 0, I64MAX,
     "Time before a flush; unset = log.flush.scheduler.interval.ms"},
    {"log.flush.scheduler.interval.ms", CFG_INT64, F(log_flush_scheduler_interval_ms),
     "9223372036854775807", 0, I64MAX, "Default of log.flush.interval.ms"},
    {"log.flush.offset.checkpoint.interval.ms", CFG_INT64,
     F(log_flush_offset_checkpoint_interval_ms), "60000", 0, I32MAX,
     "How often the recovery-point checkpoint is written"},
    {"log.message.timestamp.type", CFG_STRING, F(log_message_timestamp_type), "CreateTime", NORANGE,
     "CreateTime or LogAppendTime"},
    {"log.segment.delete.delay.ms", CFG_INT64, F(log_segment_delete_delay_ms), "60000", 0, I64MAX,
     "Delay before a deleted segment's files are unlinked"},
    {"log.writeback.bytes", CFG_INT64, F(log_writeback_bytes), "0", 0, I64MAX,
     "Strata only (no Kafka key): once the active segment has this many bytes of whole pages "
     "not yet handed to writeback, a worker starts their writeback (sync_file_range, not an "
     "fsync: no durability), so the kernel's periodic writeback never stalls an append for "
     "long; costs append throughput while the disk is busy. 0 = off: the kernel decides, as "
     "for Kafka. 1048576 is a good value when produce latency matters more than throughput"},
    {"log.cleanup.policy", CFG_STRING, F(log_cleanup_policy), "delete", NORANGE,
     "delete, compact or compact,delete: compact keeps the latest record per key (the log "
     "cleaner); compact alone turns off time/size retention"},
    {"log.cleaner.enable", CFG_BOOL, F(log_cleaner_enable), "true", NORANGE,
     "Run the log cleaner for logs with cleanup.policy compact"},
    {"log.cleaner.backoff.ms", CFG_INT64, F(log_cleaner_backoff_ms), "15000", 0, I64MAX,
     "Pause between the log cleaner's looks for a log to clean"},
    {"log.cleaner.min.cleanable.ratio", CFG_DOUBLE, F(log_cleaner_min_cleanable_ratio), "0.5",
     NORANGE, "Dirty bytes / all bytes a log needs before it is cleaned (0 to 1)"},
    {"log.cleaner.delete.retention.ms", CFG_INT64, F(log_cleaner_delete_retention_ms), "86400000",
     0, I64MAX, "How long tombstones stay after their segment was first cleaned"},
    {"log.cleaner.min.compaction.lag.ms", CFG_INT64, F(log_cleaner_min_compaction_lag_ms), "0", 0,
     I64MAX, "Records younger than this are never compacted"},
    {"compression.type", CFG_STRING, F(compression_type), "producer", NORANGE,
     "Only producer (batches are stored as they arrive)"},
    {"offsets.topic.num.partitions", CFG_INT32, F(offsets_topic_num_partitions), "50", 1, I32MAX,
     "Partitions of __consumer_offsets"},
    {"offsets.topic.replication.factor", CFG_INT32, F(offsets_topic_replication_factor), "3", 1,
     32767, "Replication factor of __consumer_offsets (capped at the live broker count)"},
    {"offsets.topic.segment.bytes", CFG_INT32, F(offsets_topic_segment_bytes), "104857600", 1,
     I32MAX, "segment.bytes of __consumer_offsets (set when the topic is created)"},
    {"offsets.retention.minutes", CFG_INT32, F(offsets_retention_minutes), "10080", 1, I32MAX,
     "Committed offsets of empty groups are kept this long"},
    {"offsets.commit.timeout.ms", CFG_INT32, F(offsets_commit_timeout_ms), "5000", 1, I32MAX,
     "An offset commit or group record waits this long for every in-sync replica"},
    {"group.initial.rebalance.delay.ms", CFG_INT32, F(group_initial_rebalance_delay_ms), "3000", 0,
     I32MAX, "Delay of the first rebalance of a new group"},
    {"group.min.session.timeout.ms", CFG_INT32, F(group_min_session_timeout_ms), "6000", 0, I32MAX,
     "Smallest session timeout a consumer may ask for"},
    {"group.max.session.timeout.ms", CFG_INT32, F(group_max_session_timeout_ms), "1800000", 0,
     I32MAX, "Largest session timeout a consumer may ask for"},
    {"request.timeout.ms", CFG_INT32, F(request_timeout_ms), "30000", 1, I32MAX,
     "Upper bound for admin operations waiting on the controller"},
    /* issue 6: replication */
    {"replica.lag.time.max.ms", CFG_INT64, F(replica_lag_time_max_ms), "30000", 1, I64MAX,
     "A follower not caught up with the leader for this long leaves the ISR"},
    {"replica.fetch.wait.max.ms", CFG_INT32, F(replica_fetch_wait_max_ms), "500", 1, I32MAX,
     "Long-poll wait of a follower's Fetch"},
    {"replica.fetch.max.bytes", CFG_INT32, F(replica_fetch_max_bytes), "1048576", 0, I32MAX,
     "Bytes a follower fetches per partition (the first batch is always whole)"},
    {"replica.fetch.response.max.bytes", CFG_INT32, F(replica_fetch_response_max_bytes), "10485760",
     0, I32MAX, "Bytes a follower fetches per request"},
    {"replica.fetch.min.bytes", CFG_INT32, F(replica_fetch_min_bytes), "1", 1, I32MAX,
     "Bytes a follower's Fetch waits for (up to replica.fetch.wait.max.ms)"},
    {"replica.fetch.backoff.ms", CFG_INT32, F(replica_fetch_backoff_ms), "1000", 0, I32MAX,
     "Pause of a follower fetcher after an error"},
    {"replica.high.watermark.checkpoint.interval.ms", CFG_INT64,
     F(replica_high_watermark_checkpoint_interval_ms), "5000", 1, I64MAX,
     "How often replication-offset-checkpoint is written"},
    {"auto.leader.rebalance.enable", CFG_BOOL, F(auto_leader_rebalance_enable), "true", NORANGE,
     "The controller moves leadership back to preferred replicas that are in sync"},
    {"leader.imbalance.check.interval.seconds", CFG_INT64,
     F(leader_imbalance_check_interval_seconds), "300", 1, I64MAX,
     "How often the controller checks for preferred-leader imbalance"},
    {"leader.imbalance.per.broker.percentage", CFG_INT32, F(leader_imbalance_per_broker_percentage),
     "10", 0, 100, "Imbalance (percent of a broker's partitions) tolerated before a rebalance"},
};
const size_t cfg_broker_ndefs = sizeof(cfg_broker_defs) / sizeof(cfg_broker_defs[0]);

int cfg_parse_listener(const char *list, char **host, int32_t *port) {
    if (list == NULL) {
        return STRATA_EINVAL;
    }
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            n--;
        }
        const char *sep = NULL;
        for (size_t i = 0; i + 2 < n; i++) {
            if (p[i] == ':' && p[i + 1] == '/' && p[i + 2] == '/') {
                sep = p + i;
                break;
            }
        }
        if (sep && (size_t)(sep - p) == 9 && strncasecmp(p, "PLAINTEXT", 9) == 0) {
            const char *hp = sep + 3;
            size_t hn = n - (size_t)(hp - p);
            while (hn > 0 && (hp[hn - 1] == ' ' || hp[hn - 1] == '\t')) {
                hn--;
            }
            /* host:port; [v6]:port */
            const char *colon = NULL;
            for (size_t i = hn; i > 0; i--) {
                if (hp[i - 1] == ':') {
                    colon = hp + i - 1;
                    break;
                }
            }
            if (colon == NULL) {
                return STRATA_EINVAL;
            }
            char portbuf[16];
            size_t pn = hn - (size_t)(colon + 1 - hp);
            if (pn == 0 || pn >= sizeof(portbuf)) {
                return STRATA_EINVAL;
            }
            memcpy(portbuf, colon + 1, pn);
            portbuf[pn] = '\0';
            int64_t v;
            if (parse_int64(portbuf, &v) != 0 || v < 0 || v > 65535) {
                return STRATA_EINVAL;
            }
            const char *h = hp;
            size_t hl = (size_t)(colon - hp);
            if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
                h++;
                hl -= 2;
            }
            *host = xstrndup(h, hl);
            *port = (int32_t)v;
            return 0;
        }
        if (!end) {
            break;
        }
        p = end + 1;
    }
    return STRATA_EINVAL;
}

static void split_dirs(broker_cfg_t *cfg, const char *list) {
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            n--;
        }
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
            n--;
        }
        if (n > 0) {
            cfg->dirs = xrealloc(cfg->dirs, (cfg->ndirs + 1) * sizeof(char *));
            cfg->dirs[cfg->ndirs++] = xstrndup(p, n);
        }
        if (!end) {
            break;
        }
        p = end + 1;
    }
}

static bool is_set(const props_t *props, const char *key) {
    return props && props_get(props, key) != NULL;
}

/* Validation beyond types and ranges, then the derived fields. */
static int derive(broker_cfg_t *cfg, const props_t *props, char *err, size_t err_len) {
    if (cfg_parse_listener(cfg->listeners, &cfg->listen_host, &cfg->listen_port) != 0) {
        snprintf(err, err_len,
                 "listeners: '%s' has no PLAINTEXT://host:port endpoint (only PLAINTEXT is "
                 "supported)",
                 cfg->listeners);
        return STRATA_ECONFIG;
    }
    const char *adv = cfg->advertised_listeners && cfg->advertised_listeners[0]
                          ? cfg->advertised_listeners
                          : NULL;
    if (adv) {
        if (cfg_parse_listener(adv, &cfg->adv_host, &cfg->adv_port) != 0) {
            snprintf(err, err_len, "advertised.listeners: '%s' has no PLAINTEXT://host:port", adv);
            return STRATA_ECONFIG;
        }
    } else {
        /* Kafka advertises the canonical host name for an empty host; loopback when even
         * that is unknown. The port may still be 0 here: the server fills it after bind. */
        if (cfg->listen_host[0] && strcmp(cfg->listen_host, "0.0.0.0") != 0) {
            cfg->adv_host = xstrdup(cfg->listen_host);
        } else {
            char name[256];
            if (gethostname(name, sizeof(name)) == 0 && name[0]) {
                name[sizeof(name) - 1] = '\0';
                cfg->adv_host = xstrdup(name);
            } else {
                cfg->adv_host = xstrdup("127.0.0.1");
            }
        }
        cfg->adv_port = cfg->listen_port;
    }
    if (cfg->adv_port == 0 && adv) {
        snprintf(err, err_len, "advertised.listeners: port 0 cannot be advertised");
        return STRATA_ECONFIG;
    }

    split_dirs(cfg, cfg->log_dirs && cfg->log_dirs[0] ? cfg->log_dirs : cfg->log_dir);
    if (cfg->ndirs == 0) {
        snprintf(err, err_len, "log.dirs: no data directory given");
        return STRATA_ECONFIG;
    }

    bool log_append;
    if (strcmp(cfg->log_message_timestamp_type, "CreateTime") == 0) {
        log_append = false;
    } else if (strcmp(cfg->log_message_timestamp_type, "LogAppendTime") == 0) {
        log_append = true;
    } else {
        snprintf(err, err_len,
                 "log.message.timestamp.type: '%s' is not CreateTime or LogAppendTime",
                 cfg->log_message_timestamp_type);
        return STRATA_ECONFIG;
    }
    bool compact, del;
    if (log_parse_cleanup_policy(cfg->log_cleanup_policy, &compact, &del) != 0) {
        snprintf(err, err_len, "log.cleanup.policy: '%s' is not delete, compact or compact,delete",
                 cfg->log_cleanup_policy);
        return STRATA_ECONFIG;
    }
    if (!(cfg->log_cleaner_min_cleanable_ratio >= 0 && cfg->log_cleaner_min_cleanable_ratio <= 1)) {
        snprintf(err, err_len, "log.cleaner.min.cleanable.ratio: %g is not between 0 and 1",
                 cfg->log_cleaner_min_cleanable_ratio);
        return STRATA_ECONFIG;
    }
    if (strcmp(cfg->compression_type, "producer") != 0) {
        snprintf(err, err_len, "compression.type: '%s' is not supported (only producer)",
                 cfg->compression_type);
        return STRATA_ECONFIG;
    }
    if (cfg->zookeeper_connect[0] == '\0' && cfg->default_replication_factor > 1) {
        /* Standalone has one broker: Kafka would fail every topic creation. Say so now. */
        snprintf(err, err_len,
                 "default.replication.factor: %d needs zookeeper.connect (standalone has one "
                 "broker)",
                 (int)cfg->default_replication_factor);
        return STRATA_ECONFIG;
    }
    if (cfg->zookeeper_connect[0] != '\0' && cfg->broker_id < 0) {
        snprintf(err, err_len, "broker.id: set a broker id >= 0 when zookeeper.connect is set");
        return STRATA_ECONFIG;
    }
    if (cfg->broker_id < 0) {
        cfg->broker_id = 0;
    }

    log_config_t *lc = &cfg->log;
    log_config_default(lc);
    lc->segment_bytes = cfg->log_segment_bytes;
    lc->roll_ms =
        is_set(props, "log.roll.ms") ? cfg->log_roll_ms : (int64_t)cfg->log_roll_hours * 3600000;
    lc->roll_jitter_ms = is_set(props, "log.roll.jitter.ms")
                             ? cfg->log_roll_jitter_ms
                             : (int64_t)cfg->log_roll_jitter_hours * 3600000;
    lc->index_interval_bytes = cfg->log_index_interval_bytes;
    lc->index_size_max_bytes = cfg->log_index_size_max_bytes;
    if (is_set(props, "log.retention.ms")) {
        lc->retention_ms = cfg->log_retention_ms;
    } else if (is_set(props, "log.retention.minutes")) {
        lc->retention_ms =
            cfg->log_retention_minutes < 0 ? -1 : (int64_t)cfg->log_retention_minutes * 60000;
    } else {
        lc->retention_ms =
            cfg->log_retention_hours < 0 ? -1 : (int64_t)cfg->log_retention_hours * 3600000;
    }
    lc->retention_bytes = cfg->log_retention_bytes;
    lc->flush_interval_messages = cfg->log_flush_interval_messages;
    lc->flush_interval_ms = is_set(props, "log.flush.interval.ms")
                                ? cfg->log_flush_interval_ms
                                : cfg->log_flush_scheduler_interval_ms;
    lc->max_message_bytes = cfg->message_max_bytes;
    lc->log_append_time = log_append;
    lc->file_delete_delay_ms = cfg->log_segment_delete_delay_ms;
    lc->writeback_bytes = cfg->log_writeback_bytes;
    lc->cleanup_compact = compact;
    lc->cleanup_delete = del;
    lc->min_cleanable_ratio = cfg->log_cleaner_min_cleanable_ratio;
    lc->delete_retention_ms = cfg->log_cleaner_delete_retention_ms;
    lc->min_compaction_lag_ms = cfg->log_cleaner_min_compaction_lag_ms;
    return 0;
}

int cfg_broker_load(broker_cfg_t *cfg, const char *path, const char *const *overrides,
                    size_t noverrides, props_t **props_out, char *err, size_t err_len) {
    memset(cfg, 0, sizeof(*cfg));
    props_t *props = props_new();
    int rc = 0;
    if (path) {
        rc = props_load_file(props, path, err, err_len);
        if (rc != 0) {
            if (rc != STRATA_ECONFIG) {
                snprintf(err, err_len, "%s: %s", path, strata_strerror(rc));
            }
            goto fail;
        }
    }
    for (size_t i = 0; i < noverrides; i++) {
        rc = props_set_kv(props, overrides[i], "--override", err, err_len);
        if (rc != 0) {
            goto fail;
        }
    }
    rc = cfg_apply(cfg_broker_defs, cfg_broker_ndefs, cfg, props, true, err, err_len);
    if (rc != 0) {
        goto fail;
    }
    rc = derive(cfg, props, err, err_len);
    if (rc != 0) {
        goto fail;
    }
    if (props_out) {
        *props_out = props;
    } else {
        props_free(props);
    }
    return 0;
fail:
    props_free(props);
    cfg_broker_free(cfg); /* whatever cfg_apply and derive filled in */
    return rc;
}

void cfg_broker_free(broker_cfg_t *cfg) {
    if (cfg == NULL) {
        return;
    }
    cfg_free_strings(cfg_broker_defs, cfg_broker_ndefs, cfg);
    free(cfg->listen_host);
    free(cfg->adv_host);
    for (size_t i = 0; i < cfg->ndirs; i++) {
        free(cfg->dirs[i]);
    }
    free(cfg->dirs);
    memset(cfg, 0, sizeof(*cfg));
}

static const char *type_label(cfg_type_t t) {
    switch (t) {
    case CFG_INT32:
        return "int";
    case CFG_INT64:
        return "long";
    case CFG_BOOL:
        return "boolean";
    case CFG_STRING:
        return "string";
    case CFG_DOUBLE:
        return "double";
    }
    return "?";
}

void cfg_broker_write_doc(FILE *f) {
    fprintf(f, "# Broker configuration\n\n"
               "Generated from the key table in `src/server/config.c` by "
               "`build/strata-broker --config-doc`; do not edit by hand.\n\n"
               "Keys and defaults are Apache Kafka's. Set them in `config/server.properties` "
               "or with `--override key=value`. Unknown keys are logged and ignored; a bad "
               "value stops the broker with one error line and exit code 2.\n\n"
               "| Key | Type | Default | Valid | Description |\n"
               "| --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < cfg_broker_ndefs; i++) {
        const cfg_def_t *d = &cfg_broker_defs[i];
        char range[64] = "";
        if (d->min <= d->max && (d->type == CFG_INT32 || d->type == CFG_INT64)) {
            snprintf(range, sizeof(range), "[%" PRId64 ", %" PRId64 "]", d->min, d->max);
        }
        if (d->def && d->def[0]) {
            fprintf(f, "| `%s` | %s | `%s` | %s | %s |\n", d->key, type_label(d->type), d->def,
                    range, d->doc);
        } else {
            fprintf(f, "| `%s` | %s | *(empty)* | %s | %s |\n", d->key, type_label(d->type), range,
                    d->doc);
        }
    }
}
