/*
 * api: the Kafka APIs. api_dispatch() takes one request frame (request header +
 * body, decoded by proto into the request's arena), runs it against the replica
 * manager, the controller and the metadata cache, and completes it — at once or
 * later (a delayed fetch, an admin operation waiting for the controller) — by
 * filling req->out and calling req->done(req) exactly once, on the loop thread.
 *
 * Also the broker configuration struct (broker_cfg_t): the server's key table fills
 * it (src/server/config.c) and the APIs read it (defaults for topics, limits,
 * DescribeConfigs).
 */
#ifndef STRATA_API_H
#define STRATA_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "strata/cluster.h"
#include "strata/group.h"
#include "strata/proto.h"
#include "strata/replica.h"
#include "strata/storage.h"
#include "strata/util.h"

/* ---------------------------------------------------------------- broker config */

typedef struct broker_cfg {
    /* Kafka keys (see src/server/config.c for the table and docs/CONFIG.md). */
    int32_t broker_id;
    char *listeners;
    char *advertised_listeners;
    char *log_dirs;
    char *log_dir;
    char *zookeeper_connect;
    int32_t zookeeper_session_timeout_ms;
    int32_t zookeeper_connection_timeout_ms;
    char *broker_rack;
    int32_t num_partitions;
    int32_t default_replication_factor;
    bool auto_create_topics_enable;
    bool delete_topic_enable;
    bool unclean_leader_election_enable;
    int32_t min_insync_replicas;
    int32_t message_max_bytes;
    int32_t socket_request_max_bytes;
    int32_t socket_send_buffer_bytes;
    int32_t socket_receive_buffer_bytes;
    int32_t max_connections;
    int64_t connections_max_idle_ms;
    int32_t num_network_threads;
    int32_t num_io_threads;
    int32_t queued_max_requests;
    int64_t log_segment_bytes;
    int64_t log_roll_ms;
    int32_t log_roll_hours;
    int64_t log_roll_jitter_ms;
    int32_t log_roll_jitter_hours;
    int64_t log_retention_ms;
    int32_t log_retention_minutes;
    int32_t log_retention_hours;
    int64_t log_retention_bytes;
    int64_t log_retention_check_interval_ms;
    int32_t log_index_interval_bytes;
    int32_t log_index_size_max_bytes;
    int64_t log_flush_interval_messages;
    int64_t log_flush_interval_ms;
    int64_t log_flush_scheduler_interval_ms;
    int64_t log_flush_offset_checkpoint_interval_ms;
    char *log_message_timestamp_type;
    int64_t log_segment_delete_delay_ms;
    int64_t log_writeback_bytes; /* Strata's log.writeback.bytes */
    char *log_cleanup_policy;
    bool log_cleaner_enable;
    int64_t log_cleaner_backoff_ms;
    double log_cleaner_min_cleanable_ratio;
    int64_t log_cleaner_delete_retention_ms;
    int64_t log_cleaner_min_compaction_lag_ms;
    char *compression_type;
    int32_t offsets_topic_num_partitions;
    int32_t offsets_topic_replication_factor;
    int32_t offsets_topic_segment_bytes;
    int32_t offsets_retention_minutes;
    int32_t offsets_commit_timeout_ms;
    int32_t group_initial_rebalance_delay_ms;
    int32_t group_min_session_timeout_ms;
    int32_t group_max_session_timeout_ms;
    int32_t request_timeout_ms;
    /* issue 6: replication */
    int64_t replica_lag_time_max_ms;
    int32_t replica_fetch_wait_max_ms;
    int32_t replica_fetch_max_bytes;
    int32_t replica_fetch_response_max_bytes;
    int32_t replica_fetch_min_bytes;
    int32_t replica_fetch_backoff_ms;
    int64_t replica_high_watermark_checkpoint_interval_ms;
    bool auto_leader_rebalance_enable;
    int64_t leader_imbalance_check_interval_seconds;
    int32_t leader_imbalance_per_broker_percentage;

    /* Derived by cfg_broker_load after validation. */
    char *listen_host; /* "" = all interfaces */
    int32_t listen_port;
    char *adv_host; /* what Metadata advertises */
    int32_t adv_port;
    char **dirs; /* log.dirs split on ',' */
    size_t ndirs;
    log_config_t log; /* broker-level log settings */
} broker_cfg_t;

/* ---------------------------------------------------------------- dispatch */

typedef struct api_ctx {
    uv_loop_t *loop;
    const broker_cfg_t *cfg;   /* borrowed */
    const cfg_def_t *cfg_defs; /* the broker key table, for DescribeConfigs */
    size_t cfg_ndefs;
    const props_t *cfg_props; /* what was set explicitly (file + overrides) */
    rm_t *rm;
    ctl_t *ctl;
    mdc_t *mdc;
    logmgr_t *logmgr;
    struct api_admin *admin; /* admin operations waiting for the metadata cache (api_start) */
    gcb_t *groups;           /* issue 7: group coordinator + producer ids (group.h) */
} api_ctx_t;

typedef enum {
    API_RESPOND = 0,     /* send out (+ file chunks) */
    API_NO_RESPONSE = 1, /* Produce acks=0: nothing goes back */
    API_CLOSE = 2        /* garbled request: close the connection, reason in close_reason */
} api_status_t;

typedef struct api_req api_req_t;
typedef void (*api_done_cb)(api_req_t *req);

struct api_req {
    /* Filled by the server. */
    int16_t api_key; /* from the first bytes of the frame, before any decoding */
    int16_t api_version;
    int32_t correlation_id;
    uint8_t *frame; /* request header + body, owned by the server until the slot is freed;
                     * writable (produce rewrites batches in place) */
    size_t frame_len;
    arena_t *arena; /* freed by the server after the response is sent */
    const char *peer;
    api_done_cb done;
    void *done_arg;

    /* Set by the api while the request waits (delayed fetch); the server calls it when
     * the connection closes first, and the api then completes the request promptly. */
    void (*cancel)(api_req_t *req);
    void *cancel_arg;

    /* Filled by the api before done(). */
    api_status_t status;
    char close_reason[160];
    /* The whole response frame including its 4-byte size prefix (the server patches
     * the size); file chunks (Fetch data) go out with sendfile. */
    kp_wr_t out;
    log_slice_t *slices; /* in arena; released by the server after sending */
    size_t nslices;
};

/** Subscribes to ctx->mdc (call once the context is filled in). */
void api_start(api_ctx_t *ctx);
/** Completes every waiting admin operation (as timed out). Call before ctl_free. */
void api_stop(api_ctx_t *ctx);
/** Frees what api_start allocated. Call after the metadata cache is gone (ctl_free). */
void api_free(api_ctx_t *ctx);

/**
 * Decodes and handles one request; completes it through req->done (maybe before
 * returning). @locality loop
 */
void api_dispatch(api_ctx_t *ctx, api_req_t *req);
/** Releases what a completed request holds (slices, out buffer). The arena stays. */
void api_req_release(api_req_t *req);

#endif /* STRATA_API_H */
