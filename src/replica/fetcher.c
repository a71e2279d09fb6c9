/*
 * fetcher: the follower side of replication (Kafka's ReplicaFetcherThread, on the loop).
 * One fetcher per source broker: a non-blocking libuv TCP client that speaks the Kafka
 * protocol to the leader's normal listener. Every partition this broker follows from that
 * leader goes into one Fetch v11 (replica_id = our broker id, long poll of
 * replica.fetch.wait.max.ms); the batches that come back are appended verbatim
 * (log_append_replica keeps offsets, epochs and timestamps) and the leader's high
 * watermark is learnt from the response.
 *
 * A partition that just became a follower is truncated first: OffsetForLeaderEpoch v3
 * with its latest leader epoch tells where its log diverges from the leader's (KIP-101,
 * KIP-279); without an epoch it falls back to its high watermark.
 *
 * Invariants:
 *  1. At most one request in flight per fetcher; the next one is sent when its response
 *     has been applied (or after replica.fetch.backoff.ms on errors).
 *  2. Partitions are kept by name and looked up in the replica manager at every use:
 *     a role change between request and response just drops that partition's data.
 *  3. Memory of a fetcher goes when its last handle is closed and no DNS lookup is
 *     pending (closing flag).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replica/replica_int.h"
#include "strata/proto.h"

#define FETCH_VERSION 11
#define OFLE_VERSION  3

typedef struct fpart {
    char *topic;
    int32_t partition;
    bool truncated; /* OffsetForLeaderEpoch done for the current leadership */
    int32_t asked_epoch;
} fpart_t;

typedef struct fetcher fetcher_t;
struct fetcher {
    rfm_t *mgr;
    int32_t leader;
    fpart_t *parts;
    size_t n, cap;
    uv_tcp_t tcp;
    bool tcp_open;
    bool connected;
    bool resolving;
    uv_connect_t creq;
    uv_getaddrinfo_t gai;
    uv_timer_t timer;
    bool timer_open;
    bool backing_off;
    buf_t in;
    arena_t *arena;
    int32_t corr;
    int16_t inflight_api; /* -1 = none */
    bool closing;
    int16_t logged_error; /* the last error logged, and when: errors repeat while retrying */
    int64_t logged_ms;
    fetcher_t *next;
};

struct rfm {
    rm_t *rm;
    fetcher_t *list;
};

typedef struct wreq {
    uv_write_t w;
    buf_t data;
} wreq_t;

static void connect_start(fetcher_t *f);
static void send_next(fetcher_t *f);

/* ---------------------------------------------------------------- lifetime */

static void fetcher_maybe_free(fetcher_t *f) {
    if (!f->closing || f->tcp_open || f->timer_open || f->resolving) {
        return;
    }
    for (size_t i = 0; i < f->n; i++) {
        free(f->parts[i].topic);
    }
    free(f->parts);
    buf_destroy(&f->in);
    arena_free(f->arena);
    free(f);
}

static void on_timer_closed(uv_handle_t *h) {
    fetcher_t *f = h->data;
    f->timer_open = false;
    fetcher_maybe_free(f);
}

static void on_backoff(uv_timer_t *t) {
    fetcher_t *f = t->data;
    f->backing_off = false;
    if (f->closing) {
        return;
    }
    if (!f->tcp_open) {
        connect_start(f);
    } else if (f->connected && f->inflight_api < 0) {
        send_next(f);
    }
}

static void backoff_ms(fetcher_t *f, int64_t ms) {
    if (f->closing || f->backing_off) {
        return;
    }
    f->backing_off = true;
    uv_timer_start(&f->timer, on_backoff, (uint64_t)(ms > 0 ? ms : 0), 0);
}

static void backoff(fetcher_t *f) {
    backoff_ms(f, rm_cfg(f->mgr->rm)->replica_fetch_backoff_ms);
}

/* Errors that only mean the leader's metadata and ours are not in step yet (a role change
 * in flight): retried soon rather than after replica.fetch.backoff.ms. */
static bool soft_error(int16_t e) {
    return e == KP_ERR_NOT_LEADER_OR_FOLLOWER || e == KP_ERR_UNKNOWN_LEADER_EPOCH ||
           e == KP_ERR_FENCED_LEADER_EPOCH || e == KP_ERR_UNKNOWN_TOPIC_OR_PARTITION ||
           e == KP_ERR_LEADER_NOT_AVAILABLE;
}

/* The first failure of a response, for the log line and the retry delay. */
typedef struct fail {
    int16_t error;
    char what[200];
} fail_t;

static void note_fail(fail_t *fl, int16_t error, const char *topic, int32_t partition) {
    if (fl->error == 0 || (soft_error(fl->error) && !soft_error(error))) {
        fl->error = error;
        snprintf(fl->what, sizeof(fl->what), "%s-%d", topic, (int)partition);
    }
}

static void on_tcp_closed(uv_handle_t *h) {
    fetcher_t *f = h->data;
    f->tcp_open = false;
    f->connected = false;
    f->inflight_api = -1;
    buf_reset(&f->in);
    if (f->closing) {
        fetcher_maybe_free(f);
        return;
    }
    backoff(f); /* reconnect later */
}

static void drop_connection(fetcher_t *f, const char *why) {
    if (!f->tcp_open || uv_is_closing((uv_handle_t *)&f->tcp)) {
        return;
    }
    if (!f->closing) {
        slog_info("[ReplicaFetcher broker=%d leader=%d] connection dropped: %s",
                  (int)rm_cfg(f->mgr->rm)->broker_id, (int)f->leader, why);
    }
    uv_close((uv_handle_t *)&f->tcp, on_tcp_closed);
}

static void fetcher_close(fetcher_t *f) {
    f->closing = true;
    if (f->timer_open) {
        uv_timer_stop(&f->timer);
        uv_close((uv_handle_t *)&f->timer, on_timer_closed);
    }
    if (f->tcp_open && !uv_is_closing((uv_handle_t *)&f->tcp)) {
        uv_close((uv_handle_t *)&f->tcp, on_tcp_closed);
    }
    if (f->resolving) {
        uv_cancel((uv_req_t *)&f->gai);
    }
    fetcher_maybe_free(f);
}

/* ---------------------------------------------------------------- requests */

static void on_written(uv_write_t *w, int status) {
    (void)status; /* a failed write shows up as a read error */
    wreq_t *r = (wreq_t *)w;
    buf_destroy(&r->data);
    free(r);
}

static void send_request(fetcher_t *f, int16_t api, int16_t version, const void *body) {
    kp_wr_t wr;
    kp_wr_init(&wr);
    size_t size_off = kp_wr_reserve_i32(&wr);
    kp_RequestHeader_t hdr;
    memset(&hdr, 0, sizeof(hdr));
    char client[48];
    snprintf(client, sizeof(client), "strata-replica-fetcher-%d",
             (int)rm_cfg(f->mgr->rm)->broker_id);
    hdr.request_api_key = api;
    hdr.request_api_version = version;
    hdr.correlation_id = ++f->corr;
    hdr.client_id = client;
    kp_encode_request_header(&wr, &hdr);
    if (api == KP_API_Fetch) {
        kp_encode_FetchRequest(&wr, version, body);
    } else {
        kp_encode_OffsetForLeaderEpochRequest(&wr, version, body);
    }
    if (kp_wr_err(&wr) != 0) {
        slog_error("[ReplicaFetcher] cannot encode api %d v%d", (int)api, (int)version);
        kp_wr_destroy(&wr);
        backoff(f);
        return;
    }
    kp_wr_patch_i32(&wr, size_off, (int32_t)(wr.buf.len - 4));
    f->inflight_api = api;
    /* Straight to the socket when it takes the whole request (the usual case): uv_write
     * would also re-arm the socket's epoll registration (one epoll_ctl per fetch) and defer
     * its callback to the next loop iteration. */
    uv_buf_t b = uv_buf_init((char *)wr.buf.data, (unsigned)wr.buf.len);
    int n = uv_try_write((uv_stream_t *)&f->tcp, &b, 1);
    if (n == (int)wr.buf.len) {
        kp_wr_destroy(&wr);
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        kp_wr_destroy(&wr);
        f->inflight_api = -1;
        drop_connection(f, "write failed");
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0; /* the rest goes through uv_write, in order */
    wreq_t *r = xcalloc(1, sizeof(*r));
    r->data = wr.buf;
    wr.buf = (buf_t)BUF_INIT;
    kp_wr_destroy(&wr);
    b = uv_buf_init((char *)r->data.data + done, (unsigned)(r->data.len - done));
    if (uv_write(&r->w, (uv_stream_t *)&f->tcp, &b, 1, on_written) != 0) {
        buf_destroy(&r->data);
        free(r);
        f->inflight_api = -1;
        drop_connection(f, "write failed");
    }
}

static void send_offsets_for_epoch(fetcher_t *f) {
    rm_t *rm = f->mgr->rm;
    arena_reset(f->arena);
    kp_OffsetForLeaderEpochRequest_t rq;
    kp_init_OffsetForLeaderEpochRequest(&rq);
    rq.replica_id = rm_cfg(rm)->broker_id;
    rq.topics = arena_alloc(f->arena, f->n * sizeof(*rq.topics));
    rq.n_topics = 0;
    for (size_t i = 0; i < f->n; i++) {
        fpart_t *fp = &f->parts[i];
        if (fp->truncated) {
            continue;
        }
        part_t *p = rm_lookup(rm, fp->topic, fp->partition);
        if (p == NULL || !rm_follows(p, f->leader)) {
            continue;
        }
        int32_t epoch = rm_replica_latest_epoch(p);
        if (epoch < 0) {
            /* No epoch known (empty or pre-epoch log): the high watermark is safe. */
            (void)rm_replica_truncate(rm, p, part_high_watermark(p));
            fp->truncated = true;
            continue;
        }
        fp->asked_epoch = epoch;
        kp_OffsetForLeaderEpochRequest_OffsetForLeaderTopic_t *t = &rq.topics[rq.n_topics++];
        kp_init_OffsetForLeaderEpochRequest_OffsetForLeaderTopic(t);
        t->topic = fp->topic;
        t->n_partitions = 1;
        t->partitions = arena_alloc(f->arena, sizeof(*t->partitions));
        kp_init_OffsetForLeaderEpochRequest_OffsetForLeaderPartition(t->partitions);
        t->partitions[0].partition = fp->partition;
        t->partitions[0].current_leader_epoch = part_leader_epoch(p);
        t->partitions[0].leader_epoch = epoch;
    }
    if (rq.n_topics == 0) {
        send_next(f);
        return;
    }
    send_request(f, KP_API_OffsetForLeaderEpoch, OFLE_VERSION, &rq);
}

static void send_fetch(fetcher_t *f) {
    rm_t *rm = f->mgr->rm;
    const rm_config_t *cfg = rm_cfg(rm);
    arena_reset(f->arena);
    kp_FetchRequest_t rq;
    kp_init_FetchRequest(&rq);
    rq.replica_id = cfg->broker_id;
    rq.max_wait_ms = cfg->replica_fetch_wait_max_ms;
    rq.min_bytes = cfg->replica_fetch_min_bytes > 0 ? cfg->replica_fetch_min_bytes : 1;
    rq.max_bytes = cfg->replica_fetch_response_max_bytes;
    rq.isolation_level = 0;
    rq.session_id = 0;
    rq.session_epoch = -1;
    rq.n_forgotten_topics_data = 0;
    rq.topics = arena_alloc(f->arena, f->n * sizeof(*rq.topics));
    rq.n_topics = 0;
    for (size_t i = 0; i < f->n; i++) {
        fpart_t *fp = &f->parts[i];
        part_t *p = rm_lookup(rm, fp->topic, fp->partition);
        if (p == NULL || !rm_follows(p, f->leader)) {
            continue;
        }
        kp_FetchRequest_FetchTopic_t *t = &rq.topics[rq.n_topics++];
        kp_init_FetchRequest_FetchTopic(t);
        t->topic = fp->topic;
        t->n_partitions = 1;
        t->partitions = arena_alloc(f->arena, sizeof(*t->partitions));
        kp_FetchRequest_FetchPartition_t *fpp = t->partitions;
        kp_init_FetchRequest_FetchPartition(fpp);
        fpp->partition = fp->partition;
        fpp->current_leader_epoch = part_leader_epoch(p);
        fpp->fetch_offset = part_log_end_offset(p);
        fpp->log_start_offset = part_log_start_offset(p);
        fpp->partition_max_bytes = cfg->replica_fetch_max_bytes;
    }
    if (rq.n_topics == 0) {
        return; /* idle until a partition is added */
    }
    send_request(f, KP_API_Fetch, FETCH_VERSION, &rq);
}

static void send_next(fetcher_t *f) {
    if (f->closing || !f->connected || f->inflight_api >= 0 || f->backing_off) {
        return;
    }
    for (size_t i = 0; i < f->n; i++) {
        if (!f->parts[i].truncated) {
            send_offsets_for_epoch(f);
            return;
        }
    }
    send_fetch(f);
}

/* ---------------------------------------------------------------- responses */

static fpart_t *find_fpart(fetcher_t *f, const char *topic, int32_t partition) {
    for (size_t i = 0; i < f->n; i++) {
        if (f->parts[i].partition == partition && strcmp(f->parts[i].topic, topic) == 0) {
            return &f->parts[i];
        }
    }
    return NULL;
}

static bool apply_epoch_response(fetcher_t *f, const kp_OffsetForLeaderEpochResponse_t *resp,
                                 fail_t *fl) {
    rm_t *rm = f->mgr->rm;
    bool ok = true;
    for (int32_t i = 0; i < resp->n_topics; i++) {
        const kp_OffsetForLeaderEpochResponse_OffsetForLeaderTopicResult_t *t = &resp->topics[i];
        for (int32_t j = 0; t->topic && j < t->n_partitions; j++) {
            const kp_OffsetForLeaderEpochResponse_EpochEndOffset_t *e = &t->partitions[j];
            fpart_t *fp = find_fpart(f, t->topic, e->partition);
            part_t *p = fp ? rm_lookup(rm, fp->topic, fp->partition) : NULL;
            if (p == NULL || !rm_follows(p, f->leader) || fp->truncated) {
                continue;
            }
            if (e->error_code != KP_ERR_NONE) {
                note_fail(fl, e->error_code, fp->topic, fp->partition);
                ok = false;
                continue;
            }
            int64_t leo = part_log_end_offset(p);
            int64_t to;
            if (e->end_offset < 0 || e->leader_epoch < 0) {
                to = part_high_watermark(p); /* the leader knows no such epoch */
            } else {
                to = e->end_offset;
                if (e->leader_epoch < fp->asked_epoch) {
                    /* The leader's last epoch at or below ours is older: our end for it. */
                    int32_t ep;
                    int64_t mine;
                    rm_epoch_end_offset(p, e->leader_epoch, &ep, &mine);
                    if (ep == e->leader_epoch && mine >= 0 && mine < to) {
                        to = mine;
                    }
                }
            }
            if (to < leo) {
                int rc = rm_replica_truncate(rm, p, to);
                if (rc != 0) {
                    slog_error("[ReplicaFetcher] %s-%d truncation to %lld failed: %s", fp->topic,
                               (int)fp->partition, (long long)to, strata_strerror(rc));
                    note_fail(fl, KP_ERR_KAFKA_STORAGE_ERROR, fp->topic, fp->partition);
                    ok = false;
                    continue;
                }
            }
            fp->truncated = true;
        }
    }
    return ok;
}

static bool apply_fetch_response(fetcher_t *f, const kp_FetchResponse_t *resp, fail_t *fl) {
    rm_t *rm = f->mgr->rm;
    bool ok = true;
    if (resp->error_code != KP_ERR_NONE) {
        note_fail(fl, resp->error_code, "(request)", -1);
        return false;
    }
    for (int32_t i = 0; i < resp->n_responses; i++) {
        const kp_FetchResponse_FetchableTopicResponse_t *t = &resp->responses[i];
        for (int32_t j = 0; t->topic && j < t->n_partitions; j++) {
            const kp_FetchResponse_PartitionData_t *pd = &t->partitions[j];
            fpart_t *fp = find_fpart(f, t->topic, pd->partition_index);
            part_t *p = fp ? rm_lookup(rm, fp->topic, fp->partition) : NULL;
            if (p == NULL || !rm_follows(p, f->leader) || !fp->truncated) {
                continue;
            }
            if (pd->error_code == KP_ERR_OFFSET_OUT_OF_RANGE) {
                int64_t leo = part_log_end_offset(p);
                if (pd->log_start_offset >= 0 && leo < pd->log_start_offset) {
                    (void)rm_replica_reset(rm, p, pd->log_start_offset);
                } else if (pd->high_watermark >= 0 && leo > pd->high_watermark) {
                    (void)rm_replica_truncate(rm, p, pd->high_watermark);
                } else {
                    note_fail(fl, pd->error_code, fp->topic, fp->partition);
                    ok = false;
                }
                continue;
            }
            if (pd->error_code != KP_ERR_NONE) {
                note_fail(fl, pd->error_code, fp->topic, fp->partition);
                ok = false;
                continue;
            }
            /* Whole batches starting at our log end only (a trailing partial batch waits). */
            const uint8_t *data = pd->records.data;
            size_t len = pd->records.len > 0 && data ? (size_t)pd->records.len : 0;
            size_t whole = 0;
            int64_t leo = part_log_end_offset(p);
            while (whole < len) {
                rb_header_t h;
                long n = rb_parse(data + whole, len - whole, &h);
                if (n <= 0) {
                    break;
                }
                if (whole == 0 && h.base_offset != leo) {
                    /* The leader answered from elsewhere (batch straddling): skip to ours. */
                    if (h.base_offset + h.last_offset_delta < leo) {
                        data += n;
                        len -= (size_t)n;
                        continue;
                    }
                    if (h.base_offset < leo) {
                        break;
                    }
                    /* base > leo: the leader's cleaner removed [leo, base); keep the gap. */
                }
                whole += (size_t)n;
            }
            int rc = rm_replica_append(rm, p, data, whole, pd->high_watermark);
            if (rc != 0) {
                slog_error("[ReplicaFetcher broker=%d] %s-%d append at %lld failed: %s",
                           (int)rm_cfg(rm)->broker_id, fp->topic, (int)fp->partition,
                           (long long)leo, strata_strerror(rc));
                note_fail(fl, KP_ERR_KAFKA_STORAGE_ERROR, fp->topic, fp->partition);
                ok = false;
            }
        }
    }
    return ok;
}

static int handle_frame(fetcher_t *f, const uint8_t *data, size_t len) {
    kp_rd_t rd;
    kp_rd_init(&rd, data, len, f->arena);
    int16_t api = f->inflight_api;
    int16_t version = api == KP_API_Fetch ? FETCH_VERSION : OFLE_VERSION;
    int32_t corr = -1;
    if (kp_decode_response_header(&rd, api, version, &corr) != 0 || corr != f->corr) {
        return STRATA_ECORRUPT;
    }
    f->inflight_api = -1;
    bool ok;
    fail_t fl;
    memset(&fl, 0, sizeof(fl));
    if (api == KP_API_Fetch) {
        kp_FetchResponse_t resp;
        kp_init_FetchResponse(&resp);
        if (kp_decode_FetchResponse(&rd, version, &resp) != 0) {
            return STRATA_ECORRUPT;
        }
        ok = apply_fetch_response(f, &resp, &fl);
    } else {
        kp_OffsetForLeaderEpochResponse_t resp;
        kp_init_OffsetForLeaderEpochResponse(&resp);
        if (kp_decode_OffsetForLeaderEpochResponse(&rd, version, &resp) != 0) {
            return STRATA_ECORRUPT;
        }
        ok = apply_epoch_response(f, &resp, &fl);
    }
    if (ok) {
        send_next(f);
        return 0;
    }
    const rm_config_t *cfg = rm_cfg(f->mgr->rm);
    int64_t ms = cfg->replica_fetch_backoff_ms;
    if (soft_error(fl.error) && ms > 50) {
        ms = 50;
    }
    int64_t now = clock_mono_ms();
    if (fl.error != f->logged_error || now - f->logged_ms >= 10000) {
        f->logged_error = fl.error;
        f->logged_ms = now;
        slog_info("[ReplicaFetcher broker=%d leader=%d] %s: %s on %s; retrying in %lld ms",
                  (int)cfg->broker_id, (int)f->leader,
                  api == KP_API_Fetch ? "Fetch" : "OffsetForLeaderEpoch", kp_err_name(fl.error),
                  fl.what, (long long)ms);
    }
    backoff_ms(f, ms);
    return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
    fetcher_t *f = h->data;
    (void)suggested;
    buf_reserve(&f->in, 65536);
    b->base = (char *)f->in.data + f->in.len;
    b->len = f->in.cap - f->in.len;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
    fetcher_t *f = s->data;
    (void)b;
    if (nread < 0) {
        drop_connection(f, nread == UV_EOF ? "closed by the leader" : uv_strerror((int)nread));
        return;
    }
    f->in.len += (size_t)nread;
    size_t off = 0;
    while (f->in.len - off >= 4) {
        int32_t size = (int32_t)be32_get(f->in.data + off);
        if (size < 4 || size > 256 * 1024 * 1024) {
            drop_connection(f, "bad response size");
            return;
        }
        if (f->in.len - off - 4 < (size_t)size) {
            buf_reserve(&f->in, (size_t)size + 4);
            break;
        }
        if (f->inflight_api < 0) {
            drop_connection(f, "unexpected response");
            return;
        }
        if (handle_frame(f, f->in.data + off + 4, (size_t)size) != 0) {
            drop_connection(f, "undecodable response");
            return;
        }
        off += 4 + (size_t)size;
        if (f->closing || !f->tcp_open) {
            return;
        }
    }
    if (off > 0) {
        memmove(f->in.data, f->in.data + off, f->in.len - off);
        f->in.len -= off;
    }
}

/* ---------------------------------------------------------------- connecting */

static void on_connect(uv_connect_t *c, int status) {
    fetcher_t *f = c->data;
    if (f->closing) {
        return;
    }
    if (status != 0) {
        drop_connection(f, uv_strerror(status));
        return;
    }
    f->connected = true;
    uv_tcp_nodelay(&f->tcp, 1);
    uv_read_start((uv_stream_t *)&f->tcp, on_alloc, on_read);
    slog_info("[ReplicaFetcher broker=%d] connected to leader %d (%zu partitions)",
              (int)rm_cfg(f->mgr->rm)->broker_id, (int)f->leader, f->n);
    send_next(f);
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res) {
    fetcher_t *f = g->data;
    f->resolving = false;
    if (f->closing) {
        if (res) {
            uv_freeaddrinfo(res);
        }
        fetcher_maybe_free(f);
        return;
    }
    if (status != 0 || res == NULL) {
        if (res) {
            uv_freeaddrinfo(res);
        }
        backoff(f);
        return;
    }
    uv_tcp_init(rm_loop(f->mgr->rm), &f->tcp);
    f->tcp.data = f;
    f->tcp_open = true;
    f->creq.data = f;
    int rc = uv_tcp_connect(&f->creq, &f->tcp, res->ai_addr, on_connect);
    uv_freeaddrinfo(res);
    if (rc != 0) {
        drop_connection(f, uv_strerror(rc));
    }
}

static void connect_start(fetcher_t *f) {
    if (f->closing || f->tcp_open || f->resolving || f->n == 0) {
        return;
    }
    const mdc_broker_t *b = rm_mdc(f->mgr->rm) ? mdc_broker(rm_mdc(f->mgr->rm), f->leader) : NULL;
    if (b == NULL || b->host == NULL) {
        backoff(f); /* not registered (yet) */
        return;
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", (int)b->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    f->gai.data = f;
    f->resolving = true;
    const char *host = b->host[0] ? b->host : "127.0.0.1";
    if (uv_getaddrinfo(rm_loop(f->mgr->rm), &f->gai, on_resolved, host, port, &hints) != 0) {
        f->resolving = false;
        backoff(f);
    }
}

/* ---------------------------------------------------------------- manager */

rfm_t *rfm_new(rm_t *rm) {
    rfm_t *m = xcalloc(1, sizeof(*m));
    m->rm = rm;
    return m;
}

static fetcher_t *fetcher_for(rfm_t *m, int32_t leader) {
    for (fetcher_t *f = m->list; f; f = f->next) {
        if (f->leader == leader) {
            return f;
        }
    }
    fetcher_t *f = xcalloc(1, sizeof(*f));
    f->mgr = m;
    f->leader = leader;
    f->inflight_api = -1;
    f->arena = arena_new(0);
    uv_timer_init(rm_loop(m->rm), &f->timer);
    f->timer.data = f;
    f->timer_open = true;
    f->next = m->list;
    m->list = f;
    return f;
}

void rfm_remove(rfm_t *m, const char *topic, int32_t partition) {
    for (fetcher_t *f = m->list; f; f = f->next) {
        for (size_t i = 0; i < f->n; i++) {
            if (f->parts[i].partition == partition && strcmp(f->parts[i].topic, topic) == 0) {
                free(f->parts[i].topic);
                f->parts[i] = f->parts[--f->n];
                return;
            }
        }
    }
}

void rfm_add(rfm_t *m, const char *topic, int32_t partition, int32_t leader) {
    rfm_remove(m, topic, partition);
    fetcher_t *f = fetcher_for(m, leader);
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        f->parts = xrealloc(f->parts, f->cap * sizeof(*f->parts));
    }
    fpart_t *fp = &f->parts[f->n++];
    memset(fp, 0, sizeof(*fp));
    fp->topic = xstrdup(topic);
    fp->partition = partition;
    fp->truncated = false;
    if (!f->tcp_open && !f->resolving && !f->backing_off) {
        connect_start(f);
    } else {
        send_next(f); /* no-op while a request is in flight */
    }
}

void rfm_free(rfm_t *m) {
    if (m == NULL) {
        return;
    }
    fetcher_t *f = m->list;
    while (f) {
        fetcher_t *next = f->next;
        fetcher_close(f);
        f = next;
    }
    free(m);
}
