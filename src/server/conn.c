/*
 * conn: one client connection. A raw non-blocking socket driven by uv_poll: reads
 * into a per-connection buffer, cuts 4-byte size-prefixed frames, gives each request
 * a slot in a FIFO and hands it to the handler (api_dispatch); writes responses with
 * writev (memory) and sendfile(2) (segment file ranges of Fetch responses).
 *
 * Invariants:
 *  1. Responses leave strictly in request order: only the head slot is written, even
 *     when later slots completed first (a delayed fetch holds its slot).
 *  2. Backpressure: no frame is cut and the socket is not read while the connection
 *     has max_inflight slots or max_pending_bytes of unsent response memory.
 *  3. A connection is freed only from its handles' close callbacks (never inside its
 *     own callback chain). Closing orphans the slots still with the handler: they are
 *     freed when the handler completes them, never written.
 *  4. A frame with a size < 0 or > socket.request.max.bytes, or a request the handler
 *     cannot decode, closes the connection with one log line naming the peer.
 *  5. UV_WRITABLE is polled only while output is pending.
 *  6. A short read means the socket is drained and a short write that it is full: no
 *     further syscall just to see EAGAIN (the poll is level-triggered).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "server/server_int.h"

#define READ_CHUNK   (64 * 1024)
#define MAX_IOV      64
#define MIN_FRAME    8            /* api_key, api_version, correlation_id */
#define BIG_FRAME    (256 * 1024) /* frames above this skip the input buffer */
#define SENDFILE_MAX (1 << 30)

typedef struct slot {
    struct slot *next;
    conn_t *conn; /* NULL once orphaned */
    api_req_t req;
    bool complete;
    size_t seg; /* send progress: segment index and offset inside it */
    int64_t off;
} slot_t;

struct conn {
    srv_t *srv;
    conn_t *prev, *next;
    uint64_t id;
    int fd;
    uv_poll_t poll;
    uv_timer_t idle;
    int handles; /* open handles; freed when 0 after closing */
    char peer[80];

    buf_t in;
    size_t in_off;
    /* A frame larger than BIG_FRAME being read directly into its own buffer. */
    uint8_t *big;
    size_t big_size, big_have;

    slot_t *head, *tail;
    size_t nslots;
    size_t out_bytes; /* unsent memory bytes of completed responses */

    bool closing;
    bool in_kick, kick_again;
    int events;
    bool want_write;
    int64_t last_active_ms;
};

conn_t *conn_next(conn_t *c) {
    return c->next;
}

bool conn_is_closing(const conn_t *c) {
    return c->closing;
}

/* ---------------------------------------------------------------- slots */

static size_t nsegs(const slot_t *s) {
    return 2 * s->req.out.n_chunks + 1;
}

/* Segment i: even = memory range of out, odd = file chunk. */
static int64_t seg_len(const slot_t *s, size_t i, bool *is_file, size_t *mem_start) {
    const api_req_t *r = &s->req;
    if (i % 2 == 1) {
        *is_file = true;
        return r->out.chunks[i / 2].len;
    }
    size_t k = i / 2;
    size_t start = k == 0 ? 0 : r->out.chunks[k - 1].buf_offset;
    size_t end = k < r->out.n_chunks ? r->out.chunks[k].buf_offset : r->out.buf.len;
    *is_file = false;
    *mem_start = start;
    return end > start ? (int64_t)(end - start) : 0;
}

static void slot_free(slot_t *s) {
    api_req_release(&s->req);
    arena_free(s->req.arena);
    free(s->req.frame);
    free(s);
}

/* ---------------------------------------------------------------- events */

static void on_poll(uv_poll_t *h, int status, int events);

static bool can_read(const conn_t *c) {
    return !c->closing && !c->srv->draining && c->nslots < c->srv->cfg.max_inflight &&
           c->out_bytes < c->srv->cfg.max_pending_bytes;
}

static void update_events(conn_t *c) {
    if (c->closing) {
        return;
    }
    int want = (can_read(c) ? UV_READABLE : 0) | (c->want_write ? UV_WRITABLE : 0);
    if (want == c->events) {
        return;
    }
    c->events = want;
    if (want == 0) {
        uv_poll_stop(&c->poll);
    } else {
        uv_poll_start(&c->poll, want, on_poll);
    }
}

/* ---------------------------------------------------------------- close */

static void on_handle_closed(uv_handle_t *h) {
    conn_t *c = h->data;
    if (--c->handles > 0) {
        return;
    }
    srv_t *s = c->srv;
    close(c->fd);
    buf_destroy(&c->in);
    free(c->big);
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        s->conns = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    s->nconns--;
    free(c);
    srv_conn_freed(s);
}

void conn_close(conn_t *c) {
    if (c->closing) {
        return;
    }
    c->closing = true;
    slot_t *next;
    for (slot_t *s = c->head; s; s = next) {
        next = s->next;
        if (s->complete) {
            slot_free(s);
        } else {
            s->conn = NULL; /* orphan: freed when the handler completes it */
            s->next = NULL;
            if (s->req.cancel) {
                s->req.cancel(&s->req); /* may complete (and free) it right here */
            }
        }
    }
    c->head = c->tail = NULL;
    c->nslots = 0;
    c->out_bytes = 0;
    uv_poll_stop(&c->poll);
    uv_close((uv_handle_t *)&c->poll, on_handle_closed);
    uv_timer_stop(&c->idle);
    uv_close((uv_handle_t *)&c->idle, on_handle_closed);
}

/* Closes after a protocol error, with one (rate-limited) line naming the peer. */
static void close_with(conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void close_with(conn_t *c, const char *fmt, ...) {
    if (srv_log_allowed(c->srv)) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        slog_warn("closing connection from %s: %s", c->peer, msg);
    }
    conn_close(c);
}

/* ---------------------------------------------------------------- writing */

static void pop_head(conn_t *c) {
    slot_t *s = c->head;
    c->head = s->next;
    if (c->head == NULL) {
        c->tail = NULL;
    }
    c->nslots--;
    slot_free(s);
}

/* Skips empty segments; @returns true when the slot has nothing left to send. */
static bool slot_finished(slot_t *s) {
    if (s->req.status != API_RESPOND) {
        return true;
    }
    bool is_file;
    size_t start;
    while (s->seg < nsegs(s) && s->off >= seg_len(s, s->seg, &is_file, &start)) {
        s->seg++;
        s->off = 0;
    }
    return s->seg >= nsegs(s);
}

/* Consumes n written bytes from the head of the queue. */
static void advance(conn_t *c, int64_t n) {
    while (n > 0 && c->head) {
        slot_t *s = c->head;
        if (slot_finished(s)) {
            pop_head(c);
            continue;
        }
        bool is_file;
        size_t start;
        int64_t left = seg_len(s, s->seg, &is_file, &start) - s->off;
        int64_t take = n < left ? n : left;
        s->off += take;
        n -= take;
        if (!is_file) {
            c->out_bytes -= (size_t)take;
        }
    }
}

/* Writes as much of the completed head responses as the socket takes. */
static void flush(conn_t *c) {
    c->want_write = false;
    while (!c->closing) {
        slot_t *s = c->head;
        if (s == NULL || !s->complete) {
            return;
        }
        if (slot_finished(s)) {
            pop_head(c);
            continue;
        }
        bool is_file;
        size_t start;
        int64_t len = seg_len(s, s->seg, &is_file, &start);
        ssize_t n;
        size_t asked; /* a shorter write means the socket buffer is full */
        if (is_file) {
            const kp_wr_chunk_t *f = &s->req.out.chunks[s->seg / 2];
            off_t off = (off_t)(f->pos + s->off);
            int64_t cnt = len - s->off;
            asked = (size_t)(cnt < SENDFILE_MAX ? cnt : SENDFILE_MAX);
            n = sendfile(c->fd, f->fd, &off, asked);
            if (n == 0) {
                /* The file is shorter than the slice said: the response cannot be framed. */
                close_with(c, "sendfile: segment file ended early (fd %d pos %lld)", f->fd,
                           (long long)off);
                return;
            }
        } else {
            /* Gather memory ranges of this and following completed responses up to the
             * next file chunk. */
            struct iovec iov[MAX_IOV];
            int cnt = 0;
            bool stop = false;
            asked = 0;
            for (slot_t *t = s; t && t->complete && !stop && cnt < MAX_IOV; t = t->next) {
                if (t->req.status != API_RESPOND) {
                    continue;
                }
                size_t seg = t == s ? t->seg : 0;
                int64_t off = t == s ? t->off : 0;
                for (; seg < nsegs(t) && cnt < MAX_IOV; seg++, off = 0) {
                    bool f;
                    size_t st = 0;
                    int64_t l = seg_len(t, seg, &f, &st);
                    if (l - off <= 0) {
                        continue;
                    }
                    if (f) {
                        stop = true;
                        break;
                    }
                    iov[cnt].iov_base = t->req.out.buf.data + st + off;
                    iov[cnt].iov_len = (size_t)(l - off);
                    asked += iov[cnt].iov_len;
                    cnt++;
                }
            }
            if (stop) {
                /* File data follows at once (sendfile below): MSG_MORE lets the kernel put
                 * these bytes into the same TCP segment as the file's, so a small Fetch
                 * response (a follower's, per produce) is one packet and one wake-up of
                 * the peer instead of two. */
                struct msghdr msg;
                memset(&msg, 0, sizeof(msg));
                msg.msg_iov = iov;
                msg.msg_iovlen = (size_t)cnt;
                n = sendmsg(c->fd, &msg, MSG_MORE | MSG_NOSIGNAL);
            } else {
                n = writev(c->fd, iov, cnt);
            }
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->want_write = true;
                return;
            }
            if (errno == EPIPE || errno == ECONNRESET) {
                slog_debug("connection from %s: peer went away while writing", c->peer);
                conn_close(c);
            } else {
                close_with(c, "write: %s", strerror(errno));
            }
            return;
        }
        c->last_active_ms = clock_mono_ms();
        advance(c, n);
        if ((size_t)n < asked) {
            /* Socket buffer full: wait for POLLOUT, not another write failing EAGAIN. */
            c->want_write = true;
            return;
        }
    }
}

/* ---------------------------------------------------------------- requests */

static void on_req_done(api_req_t *req) {
    slot_t *s = req->done_arg;
    conn_t *c = s->conn;
    STRATA_ASSERT(!s->complete);
    if (c == NULL) {
        slot_free(s); /* the connection closed meanwhile */
        return;
    }
    s->complete = true;
    if (req->status == API_CLOSE) {
        close_with(c, "%s (api_key=%d api_version=%d correlation_id=%d)",
                   req->close_reason[0] ? req->close_reason : "bad request", req->api_key,
                   req->api_version, req->correlation_id);
        return;
    }
    if (req->status == API_RESPOND) {
        if (req->out.buf.len < 4) {
            close_with(c, "internal error: empty response (api_key=%d)", req->api_key);
            return;
        }
        int64_t total = kp_wr_total_len(&req->out) - 4;
        be32_put(req->out.buf.data, (uint32_t)total);
        c->out_bytes += req->out.buf.len;
    }
    conn_kick(c);
}

/* Hands a whole frame (malloc'd, taken over by the request) to the handler. The frame is
 * not in the arena because arena memory is zeroed first: a waste for megabytes of
 * records that are overwritten at once. */
static void dispatch(conn_t *c, uint8_t *frame, size_t size) {
    slot_t *s = xcalloc(1, sizeof(*s));
    s->conn = c;
    api_req_t *r = &s->req;
    r->arena = arena_new(0);
    r->frame = frame;
    r->frame_len = size;
    r->api_key = (int16_t)be16_get(frame);
    r->api_version = (int16_t)be16_get(frame + 2);
    r->correlation_id = (int32_t)be32_get(frame + 4);
    r->peer = arena_strndup(r->arena, c->peer, strlen(c->peer));
    r->done = on_req_done;
    r->done_arg = s;
    kp_wr_init(&r->out);
    if (c->tail) {
        c->tail->next = s;
    } else {
        c->head = s;
    }
    c->tail = s;
    c->nslots++;
    c->srv->handler(c->srv->handler_arg, r);
}

/* Cuts and dispatches the complete frames in the input buffer while allowed. */
static void process_frames(conn_t *c) {
    int32_t max = c->srv->cfg.socket_request_max_bytes;
    while (can_read(c)) {
        size_t avail = c->in.len - c->in_off;
        if (avail < 4) {
            break;
        }
        const uint8_t *p = c->in.data + c->in_off;
        int32_t size = (int32_t)be32_get(p);
        if (size < 0 || size > max) {
            char key[32] = "unknown";
            if (avail >= 6) {
                snprintf(key, sizeof(key), "%d", (int16_t)be16_get(p + 4));
            }
            close_with(c,
                       "request size %d is outside [0, socket.request.max.bytes=%d] (api_key=%s)",
                       size, max, key);
            return;
        }
        if (size < MIN_FRAME) {
            if (avail >= 4 + (size_t)size) {
                close_with(c, "truncated request header (%d bytes)", size);
                return;
            }
            break;
        }
        if (avail < 4 + (size_t)size) {
            if ((size_t)size > BIG_FRAME) {
                /* Read the rest straight into the frame buffer (no second copy, and
                 * the input buffer stays small). */
                size_t part = avail - 4;
                c->big = xmalloc((size_t)size);
                memcpy(c->big, p + 4, part);
                c->big_size = (size_t)size;
                c->big_have = part;
                c->in_off = c->in.len;
            }
            break;
        }
        c->in_off += 4 + (size_t)size;
        uint8_t *frame = xmalloc((size_t)size);
        memcpy(frame, p + 4, (size_t)size);
        dispatch(c, frame, (size_t)size);
        if (c->closing) {
            return;
        }
    }
    if (c->in_off == c->in.len) {
        c->in_off = 0;
        c->in.len = 0;
    }
}

static void do_read(conn_t *c) {
    for (int i = 0; i < 8 && can_read(c); i++) {
        if (c->big) {
            /* The rest of a large frame, straight into its arena. */
            size_t space = c->big_size - c->big_have;
            ssize_t n = read(c->fd, c->big + c->big_have, space);
            if (n > 0) {
                c->big_have += (size_t)n;
                c->last_active_ms = clock_mono_ms();
                if (c->big_have == c->big_size) {
                    uint8_t *frame = c->big;
                    c->big = NULL;
                    dispatch(c, frame, c->big_size);
                    if (c->closing) {
                        return;
                    }
                }
                if ((size_t)n < space) {
                    return; /* drained: no second read just to see EAGAIN */
                }
                continue;
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                return;
            }
            if (n == 0 || errno == ECONNRESET) {
                slog_debug("connection from %s closed by peer mid-request", c->peer);
                conn_close(c);
            } else {
                close_with(c, "read: %s", strerror(errno));
            }
            return;
        }
        /* Room for the rest of the current (small) frame, at least READ_CHUNK. */
        if (c->in_off > 0) {
            memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
            c->in.len -= c->in_off;
            c->in_off = 0;
        }
        size_t want = READ_CHUNK;
        if (c->in.len >= 4) {
            int32_t size = (int32_t)be32_get(c->in.data);
            if (size > 0 && (size_t)size <= BIG_FRAME && (size_t)size + 4 > c->in.len + want) {
                want = (size_t)size + 4 - c->in.len;
            }
        }
        buf_reserve(&c->in, want);
        size_t space = c->in.cap - c->in.len;
        ssize_t n = read(c->fd, c->in.data + c->in.len, space);
        if (n > 0) {
            c->in.len += (size_t)n;
            c->last_active_ms = clock_mono_ms();
            process_frames(c);
            if (c->closing || (size_t)n < space) {
                return; /* drained (level-triggered poll: more data wakes us again) */
            }
            continue;
        }
        if (n == 0) {
            slog_debug("connection from %s closed by peer", c->peer);
            conn_close(c);
            return;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        }
        if (errno == ECONNRESET) {
            slog_debug("connection from %s reset by peer", c->peer);
            conn_close(c);
        } else {
            close_with(c, "read: %s", strerror(errno));
        }
        return;
    }
}

/* Writes what can be written, then cuts buffered frames if allowed; re-entrant calls
 * (a handler completing synchronously) just ask the outer call to go round again. */
void conn_kick(conn_t *c) {
    if (c->in_kick) {
        c->kick_again = true;
        return;
    }
    c->in_kick = true;
    do {
        c->kick_again = false;
        if (c->closing) {
            break;
        }
        flush(c);
        if (!c->closing && can_read(c)) {
            process_frames(c);
        }
    } while (c->kick_again && !c->closing);
    c->in_kick = false;
    if (c->closing) {
        return;
    }
    if (c->srv->draining && c->nslots == 0) {
        conn_close(c);
        return;
    }
    update_events(c);
}

static void on_poll(uv_poll_t *h, int status, int events) {
    conn_t *c = h->data;
    if (c->closing) {
        return;
    }
    if (status < 0) {
        slog_debug("connection from %s: poll error %s", c->peer, uv_strerror(status));
        conn_close(c);
        return;
    }
    if (events & UV_READABLE) {
        c->in_kick = true; /* dispatching below may complete requests synchronously */
        do_read(c);
        c->in_kick = false;
    }
    conn_kick(c);
}

static void on_idle(uv_timer_t *t) {
    conn_t *c = t->data;
    uint64_t idle_ms = (uint64_t)c->srv->cfg.connections_max_idle_ms;
    int64_t quiet = clock_mono_ms() - c->last_active_ms;
    /* Idle: nothing in flight, or a response the peer has not read for the whole period. */
    if (quiet >= (int64_t)idle_ms && (c->nslots == 0 || c->want_write)) {
        slog_info("closing connection from %s: idle for %lld ms (connections.max.idle.ms)", c->peer,
                  (long long)quiet);
        conn_close(c);
        return;
    }
    uint64_t next = quiet >= (int64_t)idle_ms ? idle_ms : idle_ms - (uint64_t)quiet;
    uv_timer_start(&c->idle, on_idle, next, 0);
}

void conn_new(srv_t *s, int fd, const char *peer) {
    conn_t *c = xcalloc(1, sizeof(*c));
    c->srv = s;
    c->id = ++s->next_id;
    c->fd = fd;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    buf_init(&c->in);
    c->last_active_ms = clock_mono_ms();
    int rc = uv_poll_init(s->loop, &c->poll, fd);
    if (rc != 0) {
        slog_error("connection from %s: uv_poll_init: %s", peer, uv_strerror(rc));
        close(fd);
        free(c);
        return;
    }
    c->poll.data = c;
    uv_timer_init(s->loop, &c->idle);
    c->idle.data = c;
    c->handles = 2;
    c->next = s->conns;
    if (s->conns) {
        s->conns->prev = c;
    }
    s->conns = c;
    s->nconns++;
    slog_debug("accepted connection from %s", peer);
    uv_timer_start(&c->idle, on_idle, (uint64_t)s->cfg.connections_max_idle_ms, 0);
    update_events(c);
}
