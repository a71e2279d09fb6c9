/*
 * server_int: structures shared by listener.c and conn.c (private to src/server/).
 */
#ifndef STRATA_SERVER_INT_H
#define STRATA_SERVER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "strata/server.h"

typedef struct conn conn_t;

struct srv {
    uv_loop_t *loop;
    srv_config_t cfg;
    srv_handler_fn handler;
    void *handler_arg;

    int lfd;
    uv_poll_t lpoll;
    bool listening; /* lpoll open */
    bool accepting; /* lpoll started (srv_start_accepting) */
    int32_t port;

    conn_t *conns; /* doubly linked, every connection not yet freed */
    size_t nconns;
    uint64_t next_id;

    /* Drain (graceful stop). */
    bool draining;
    bool drain_done_called;
    uv_timer_t grace;
    bool grace_open;
    void (*drain_done)(void *arg);
    void *drain_arg;

    /* Rate limit of protocol-error and refusal log lines. */
    int64_t log_window_ms;
    int log_lines;
    uint64_t log_suppressed;
};

/** Takes ownership of fd (non-blocking, connected). */
void conn_new(srv_t *s, int fd, const char *peer);
/** Closes (asynchronously); in-flight requests are orphaned and freed when they complete. */
void conn_close(conn_t *c);
/** Re-evaluates a connection after a server state change (drain started). */
void conn_kick(conn_t *c);
conn_t *conn_next(conn_t *c);
bool conn_is_closing(const conn_t *c);
/** Called by conn.c when a connection is freed; the server may finish draining. */
void srv_conn_freed(srv_t *s);
/** @returns true when a protocol-error line may be logged now (rate limit). */
bool srv_log_allowed(srv_t *s);

#endif /* STRATA_SERVER_INT_H */
