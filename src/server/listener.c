/*
 * listener: the listening socket (a raw non-blocking fd driven by uv_poll, because
 * connections write with writev and sendfile directly on their fds), accept4 loop,
 * max.connections refusal, and the graceful drain of every connection at shutdown.
 *
 * Invariants:
 *  1. After srv_drain nothing is accepted; drain_done runs once, after the listener,
 *     every connection and the grace timer are closed.
 *  2. Refused connections are closed at once and logged (rate-limited).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/server_int.h"

#define ACCEPT_BATCH 64

bool srv_log_allowed(srv_t *s) {
    int64_t now = clock_mono_ms();
    if (now - s->log_window_ms >= 1000) {
        if (s->log_suppressed > 0) {
            slog_warn("%llu similar log lines suppressed in the last second",
                      (unsigned long long)s->log_suppressed);
        }
        s->log_window_ms = now;
        s->log_lines = 0;
        s->log_suppressed = 0;
    }
    if (s->log_lines < 20) {
        s->log_lines++;
        return true;
    }
    s->log_suppressed++;
    return false;
}

static void format_peer(const struct sockaddr_storage *ss, char *out, size_t n) {
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        port = ntohs(a->sin_port);
        snprintf(out, n, "%s:%d", host, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        port = ntohs(a->sin6_port);
        snprintf(out, n, "[%s]:%d", host, port);
    } else {
        snprintf(out, n, "unknown");
    }
}

static void set_sockopts(srv_t *s, int fd) {
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (s->cfg.socket_send_buffer_bytes > 0) {
        int v = s->cfg.socket_send_buffer_bytes;
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
    }
    if (s->cfg.socket_receive_buffer_bytes > 0) {
        int v = s->cfg.socket_receive_buffer_bytes;
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
    }
}

static void on_accept(uv_poll_t *h, int status, int events) {
    (void)events;
    srv_t *s = h->data;
    if (status < 0) {
        slog_error("listener: poll error: %s", uv_strerror(status));
        return;
    }
    for (int i = 0; i < ACCEPT_BATCH && s->listening; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK && srv_log_allowed(s)) {
                slog_error("listener: accept on port %d: %s", (int)s->port, strerror(errno));
            }
            break;
        }
        char peer[80];
        format_peer(&ss, peer, sizeof(peer));
        if (s->draining) {
            close(fd);
            continue;
        }
        if (s->nconns >= (size_t)s->cfg.max_connections) {
            close(fd);
            if (srv_log_allowed(s)) {
                slog_warn("refused connection from %s: max.connections=%d reached", peer,
                          (int)s->cfg.max_connections);
            }
            continue;
        }
        set_sockopts(s, fd);
        conn_new(s, fd, peer);
    }
}

int srv_listen(uv_loop_t *loop, const srv_config_t *cfg, srv_handler_fn handler, void *handler_arg,
               srv_t **out) {
    srv_t *s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->cfg = *cfg;
    s->cfg.host = NULL;
    if (s->cfg.max_inflight == 0) {
        s->cfg.max_inflight = 500;
    }
    if (s->cfg.max_pending_bytes == 0) {
        s->cfg.max_pending_bytes = 16u << 20;
    }
    s->handler = handler;
    s->handler_arg = handler_arg;
    s->lfd = -1;

    const char *host = cfg->host && cfg->host[0] ? cfg->host : "0.0.0.0";
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", (int)cfg->port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    /* Blocking name resolution is acceptable here: srv_listen runs before the loop. */
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0 || res == NULL) {
        slog_error("listener: cannot resolve '%s': %s", host, gai_strerror(gai));
        free(s);
        return STRATA_EINVAL;
    }
    int rc = 0;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        goto fail;
    }
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        rc = -errno;
        goto fail;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        rc = -errno;
        goto fail;
    }
    s->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                       : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    freeaddrinfo(res);
    res = NULL;
    s->lfd = fd;
    rc = uv_poll_init(loop, &s->lpoll, fd);
    if (rc != 0) {
        goto fail;
    }
    s->lpoll.data = s;
    s->listening = true;
    if (!cfg->defer_accept) {
        srv_start_accepting(s);
    }
    rc = uv_timer_init(loop, &s->grace);
    STRATA_ASSERT(rc == 0);
    s->grace.data = s;
    s->grace_open = true;
    *out = s;
    return 0;
fail:
    slog_error("listener: cannot listen on %s:%d: %s", host, (int)cfg->port, strerror(-rc));
    if (res) {
        freeaddrinfo(res);
    }
    if (fd >= 0) {
        close(fd);
    }
    free(s);
    return rc;
}

int32_t srv_port(const srv_t *s) {
    return s->port;
}

size_t srv_connection_count(const srv_t *s) {
    return s->nconns;
}

static void on_grace_closed(uv_handle_t *h) {
    srv_t *s = h->data;
    if (s->drain_done) {
        s->drain_done(s->drain_arg);
    }
}

static void maybe_drained(srv_t *s) {
    if (!s->draining || s->drain_done_called || s->listening || s->nconns > 0) {
        return;
    }
    s->drain_done_called = true;
    s->grace_open = false;
    uv_close((uv_handle_t *)&s->grace, on_grace_closed);
}

void srv_start_accepting(srv_t *s) {
    if (s->listening && !s->accepting && !s->draining) {
        s->accepting = true;
        uv_poll_start(&s->lpoll, UV_READABLE, on_accept);
    }
}

void srv_conn_freed(srv_t *s) {
    maybe_drained(s);
}

static void on_listener_closed(uv_handle_t *h) {
    srv_t *s = h->data;
    close(s->lfd);
    s->lfd = -1;
    s->listening = false;
    maybe_drained(s);
}

static void on_grace_expired(uv_timer_t *t) {
    srv_t *s = t->data;
    size_t busy = 0;
    for (conn_t *c = s->conns; c; c = conn_next(c)) {
        if (!conn_is_closing(c)) {
            busy++;
            conn_close(c);
        }
    }
    if (busy > 0) {
        slog_warn("shutdown: closed %zu connection(s) still busy after the grace period", busy);
    }
}

void srv_drain(srv_t *s, uint64_t grace_ms, void (*done)(void *arg), void *arg) {
    if (s->draining) {
        return;
    }
    s->draining = true;
    s->drain_done = done;
    s->drain_arg = arg;
    if (!uv_is_closing((uv_handle_t *)&s->lpoll)) {
        uv_close((uv_handle_t *)&s->lpoll, on_listener_closed);
    }
    uv_timer_start(&s->grace, on_grace_expired, grace_ms, 0);
    conn_t *next;
    for (conn_t *c = s->conns; c; c = next) {
        next = conn_next(c);
        conn_kick(c);
    }
    maybe_drained(s);
}

void srv_free(srv_t *s) {
    if (s == NULL) {
        return;
    }
    STRATA_ASSERT(!s->listening && s->nconns == 0 && !s->grace_open);
    free(s);
}
