/*
 * server: the daemon around the APIs. The broker key table and config loading
 * (cfg_broker_), the listener and connections (srv_, conn_: framing, per-connection
 * response order, backpressure, idle close, max.connections, sendfile) and the
 * executor that runs blocking work on the libuv thread pool (bg_).
 */
#ifndef STRATA_SERVER_H
#define STRATA_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "strata/api.h"
#include "strata/storage.h"
#include "strata/util.h"

/* ---------------------------------------------------------------- config */

extern const cfg_def_t cfg_broker_defs[];
extern const size_t cfg_broker_ndefs;

/**
 * Loads path (NULL = defaults only), applies the "key=value" overrides, validates
 * everything and derives listen/advertised endpoints, the data dirs and the log
 * config. props_out (optional) receives what was set explicitly.
 * @returns 0, or STRATA_ECONFIG / -errno with one line in err naming the key.
 */
int cfg_broker_load(broker_cfg_t *cfg, const char *path, const char *const *overrides,
                    size_t noverrides, props_t **props_out, char *err, size_t err_len);
void cfg_broker_free(broker_cfg_t *cfg);
/** Writes the key table as Markdown (docs/CONFIG.md). */
void cfg_broker_write_doc(FILE *f);
/** Parses "PLAINTEXT://host:port[,...]": the first PLAINTEXT endpoint. @returns 0 or STRATA_EINVAL.
 */
int cfg_parse_listener(const char *list, char **host, int32_t *port);

/* ---------------------------------------------------------------- executor */

/** A strata_executor_t on uv_queue_work of loop (the storage layer's thread pool). */
void bg_executor_init(strata_executor_t *ex, uv_loop_t *loop);

/* ---------------------------------------------------------------- listener + connections */

typedef struct srv srv_t;

typedef struct srv_config {
    const char *host; /* bind address; "" or NULL = all (IPv4 0.0.0.0) */
    int32_t port;     /* 0 = ephemeral */
    int32_t socket_request_max_bytes;
    int32_t max_connections;
    int64_t connections_max_idle_ms;
    int32_t socket_send_buffer_bytes; /* -1 = OS default */
    int32_t socket_receive_buffer_bytes;
    size_t max_inflight;      /* requests queued per connection before it stops reading */
    size_t max_pending_bytes; /* unsent response bytes per connection before it stops reading */
    bool defer_accept;        /* bind and listen, but accept only after srv_start_accepting */
} srv_config_t;

/* The request handler: a function of api_dispatch's shape (tests plug in fakes). */
typedef void (*srv_handler_fn)(void *arg, api_req_t *req);

/** Binds and listens. @returns 0 or -errno; *out owned by the caller (srv_close). */
int srv_listen(uv_loop_t *loop, const srv_config_t *cfg, srv_handler_fn handler, void *handler_arg,
               srv_t **out);
/**
 * Starts accepting connections on a listener opened with defer_accept (Kafka opens its
 * listener only at the end of start-up; until then clients wait in the kernel's backlog).
 * A no-op when already accepting or draining.
 */
void srv_start_accepting(srv_t *s);
/** The port actually bound (useful with port 0). */
int32_t srv_port(const srv_t *s);
size_t srv_connection_count(const srv_t *s);
/**
 * Graceful stop: stops accepting, stops reading, lets in-flight requests finish and
 * their responses go out, closes every connection, then calls done(arg). Connections
 * still busy after grace_ms are closed anyway.
 */
void srv_drain(srv_t *s, uint64_t grace_ms, void (*done)(void *arg), void *arg);
/** Frees the server; all handles must be closed (after srv_drain's done). */
void srv_free(srv_t *s);

#endif /* STRATA_SERVER_H */
