/*
 * producer_state_load (replica/, prefix pst_loader_): rebuilds a partition's pst_ state
 * after a restart without blocking the loop (DESIGN.md "the event loop never blocks").
 *
 * Like the __consumer_offsets load in group/broker.c: the snapshot read (pst_load) and
 * each pread of the log tail run on the libuv thread pool (uv_queue_work); the loop
 * locates the byte ranges (log_read, which holds the segment) and parses and applies the
 * batch headers of each chunk (at most PST_LOADER_CHUNK bytes) in the after-callback.
 * The replay runs up to the log end as it is when the last chunk is applied, so appends
 * made while loading (non-idempotent produces, follower appends) are included.
 * The pst_t belongs to the loader until the callback hands it over.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "strata/producer_state.h"
#include "strata/util.h"

#define PST_LOADER_CHUNK (1 << 20)

struct pst_loader {
    uv_work_t work;
    uv_loop_t *loop;
    log_t *log;
    pst_t *s;
    char *dir;
    pst_loaded_cb cb;
    void *arg;
    bool cancelled;
    bool reading;     /* false: snapshot phase; true: a pread of sl in flight */
    int64_t load_max; /* log end when the load started (pst_load) */
    int64_t offset;   /* next offset to replay */
    log_slice_t sl;
    buf_t b;
    int rc; /* worker result */
};

static void loader_free(pst_loader_t *l) {
    if (l->reading) {
        log_slice_release(&l->sl);
        l->reading = false;
    }
    buf_destroy(&l->b);
    pst_free(l->s);
    free(l->dir);
    free(l);
}

static void loader_work(uv_work_t *w) {
    pst_loader_t *l = w->data;
    if (!l->reading) {
        l->rc = pst_load(l->s, l->dir, l->load_max); /* @blocking: the snapshot file */
        return;
    }
    buf_reset(&l->b);
    uint8_t *p = buf_extend(&l->b, (size_t)l->sl.len);
    ssize_t got = pread(l->sl.fd, p, (size_t)l->sl.len, (off_t)l->sl.pos);
    l->rc = got == (ssize_t)l->sl.len ? 0 : got < 0 ? -errno : STRATA_ECORRUPT;
}

static void loader_done(pst_loader_t *l, int rc) {
    int64_t end = log_end_offset(l->log);
    if (rc != 0) {
        slog_warn("[ProducerState partition=%s-%d] load at offset %" PRId64
                  " failed, starting empty: %s",
                  log_topic(l->log), (int)log_partition(l->log), l->offset, strata_strerror(rc));
        pst_clear(l->s);
    }
    pst_set_map_end_offset(l->s, end);
    pst_t *s = l->s;
    l->s = NULL;
    pst_loaded_cb cb = l->cb;
    void *arg = l->arg;
    loader_free(l);
    cb(arg, s);
}

/* Applies one chunk read by the worker (loop). @returns 0 or a negative code. */
static int apply_chunk(pst_loader_t *l) {
    const uint8_t *p = l->b.data;
    size_t len = l->b.len;
    size_t pos = 0;
    int64_t next = l->offset;
    while (pos < len) {
        rb_header_t h;
        long sz = rb_parse(p + pos, len - pos, &h);
        if (sz <= 0) {
            break;
        }
        if (h.base_offset + h.last_offset_delta >= l->offset) {
            pst_update_from_header(l->s, &h);
        }
        next = h.base_offset + h.last_offset_delta + 1;
        pos += (size_t)sz;
    }
    if (next <= l->offset) {
        return STRATA_ECORRUPT;
    }
    l->offset = next;
    return 0;
}

static void loader_after(uv_work_t *w, int status);

/* Locates the next chunk and queues its read, or finishes (loop). */
static void loader_next(pst_loader_t *l) {
    if (l->offset >= log_end_offset(l->log)) {
        loader_done(l, 0);
        return;
    }
    int rc = log_read(l->log, l->offset, PST_LOADER_CHUNK, INT64_MAX, &l->sl);
    if (rc < 0) {
        loader_done(l, rc);
        return;
    }
    if (l->sl.len <= 0) {
        log_slice_release(&l->sl);
        loader_done(l, 0);
        return;
    }
    l->reading = true;
    rc = uv_queue_work(l->loop, &l->work, loader_work, loader_after);
    if (rc != 0) {
        loader_done(l, rc);
    }
}

static void loader_after(uv_work_t *w, int status) {
    pst_loader_t *l = w->data;
    if (l->cancelled || status != 0) {
        loader_free(l); /* the partition let go of it (pst_loader_cancel) */
        return;
    }
    if (l->rc != 0) {
        loader_done(l, l->rc);
        return;
    }
    if (!l->reading) { /* the snapshot is loaded */
        l->offset = pst_map_end_offset(l->s);
        int64_t start = log_start_offset(l->log);
        if (l->offset < start) {
            l->offset = start;
            pst_clear(l->s); /* state from before the log start no longer matches the log */
        }
    } else {
        log_slice_release(&l->sl);
        l->reading = false;
        int rc = apply_chunk(l);
        if (rc != 0) {
            loader_done(l, rc);
            return;
        }
    }
    loader_next(l);
}

pst_loader_t *pst_loader_start(struct uv_loop_s *loop, log_t *log, pst_loaded_cb cb, void *arg) {
    pst_loader_t *l = xcalloc(1, sizeof(*l));
    char name[300];
    snprintf(name, sizeof(name), "%s-%d", log_topic(log), (int)log_partition(log));
    l->work.data = l;
    l->loop = loop;
    l->log = log;
    l->s = pst_new(name);
    pst_set_loop(l->s, loop); /* periodic snapshots off the loop */
    l->dir = xstrdup(log_dir_path(log));
    l->cb = cb;
    l->arg = arg;
    l->load_max = log_end_offset(log);
    /* buf_t all-zero (xcalloc) is BUF_INIT. uv_queue_work fails only on a NULL work_cb. */
    (void)uv_queue_work(loop, &l->work, loader_work, loader_after);
    return l;
}

void pst_loader_cancel(pst_loader_t *l) {
    if (l == NULL) {
        return;
    }
    l->cancelled = true;
    (void)uv_cancel((uv_req_t *)&l->work); /* loader_after frees it (UV_ECANCELED or not) */
}
