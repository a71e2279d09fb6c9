/*
 * flush: durability. fsyncs run on the executor's worker, never on the caller's
 * (loop) thread, one flush in flight per log; appends and log_flush calls that arrive
 * meanwhile wait for the next one, which covers all of them (group commit). The
 * recovery point advances in the completion, on the loop thread. A failed fsync takes
 * the log offline for good: its data may be lost in the page cache, so it is never
 * retried and then trusted.
 */
#include "storage/storage_int.h"

#include <string.h>

typedef struct flush_job {
    log_t *log;
    seg_t **segs;
    bool *sync_index; /* rolled segments whose indexes are not yet durable */
    int nsegs;
    int64_t target;
    uint64_t gen;
    bool sync_dir;
    int status;
    int failed; /* index into segs of the failed fsync, -1 = the directory */
} flush_job_t;

static void start_flush(log_t *log);

static void flush_work(void *arg) {
    flush_job_t *job = arg;
    for (int i = 0; i < job->nsegs && job->status == 0; i++) {
        seg_t *s = job->segs[i];
        int rc = fs_fdatasync(s->fd);
        if (rc == 0 && job->sync_index[i]) {
            rc = idx_fsync(&s->oidx);
            if (rc == 0) {
                rc = idx_fsync(&s->tidx);
            }
        }
        if (rc != 0) {
            job->status = rc;
            job->failed = i; /* the path is read on the loop: retention may rename it */
        }
    }
    if (job->status == 0 && job->sync_dir) {
        int rc = fs_fsync_dir(job->log->dir);
        if (rc != 0) {
            job->status = rc;
            job->failed = -1;
        }
    }
}

/* Calls and frees the waiters whose target is covered (all of them on error). */
static void complete_waiters(log_t *log, int status) {
    flush_waiter_t **pp = &log->waiters, *done = NULL, **done_tail = &done;
    log->waiters_tail = NULL;
    while (*pp) {
        flush_waiter_t *w = *pp;
        if (status != 0 || w->target <= log->recovery_point) {
            *pp = w->next;
            w->next = NULL;
            *done_tail = w;
            done_tail = &w->next;
        } else {
            log->waiters_tail = w;
            pp = &w->next;
        }
    }
    log->in_callbacks = true;
    while (done) {
        flush_waiter_t *w = done;
        done = w->next;
        if (w->cb) {
            w->cb(w->arg, status, log->recovery_point);
        }
        free(w);
    }
    log->in_callbacks = false;
}

static void flush_after(void *arg) {
    flush_job_t *job = arg;
    log_t *log = job->log;
    log->flush_inflight = false;
    if (job->status != 0) {
        log_fail(log, job->status, "fsync",
                 job->failed >= 0 ? job->segs[job->failed]->log_path : log->dir);
    } else {
        for (int i = 0; i < job->nsegs; i++) {
            if (job->sync_index[i]) {
                job->segs[i]->index_synced = true;
            }
        }
        if (job->gen == log->trunc_gen) {
            int64_t leo = log_end_offset(log);
            int64_t rp = job->target < leo ? job->target : leo;
            if (rp > log->recovery_point) {
                log->recovery_point = rp;
            }
        } else {
            log->dir_dirty = true; /* truncation raced: let the next flush redo it */
        }
        log->last_flush_ms = log_now_ms(log);
    }
    for (int i = 0; i < job->nsegs; i++) {
        seg_release(job->segs[i]);
    }
    free(job->segs);
    free(job->sync_index);
    free(job);

    complete_waiters(log, log->offline ? STRATA_EOFFLINE : 0);
    if (log->closing) {
        complete_waiters(log, STRATA_ESHUTDOWN);
        log_destroy(log);
        return;
    }
    if (log->waiters && !log->flush_inflight) {
        start_flush(log);
    }
}

static void start_flush(log_t *log) {
    flush_job_t *job = xcalloc(1, sizeof(*job));
    job->log = log;
    job->target = log_end_offset(log);
    job->gen = log->trunc_gen;
    job->sync_dir = log->dir_dirty;
    log->dir_dirty = false;
    /* Segments holding offsets from the recovery point up to the target. */
    int first = 0;
    while (first < log->nsegs - 1 && log->segs[first]->next_offset <= log->recovery_point) {
        first++;
    }
    job->nsegs = log->nsegs - first;
    job->segs = xcalloc((size_t)job->nsegs, sizeof(*job->segs));
    job->sync_index = xcalloc((size_t)job->nsegs, sizeof(*job->sync_index));
    for (int i = 0; i < job->nsegs; i++) {
        seg_t *s = log->segs[first + i];
        seg_keep(s);
        job->segs[i] = s;
        job->sync_index[i] = first + i < log->nsegs - 1 && !s->index_synced;
    }
    log->flush_inflight = true;
    log->exec.submit(log->exec.ctx, flush_work, flush_after, job);
}

int log_flush(log_t *log, log_flush_cb cb, void *arg) {
    if (log->offline) {
        return STRATA_EOFFLINE;
    }
    if (log->closing) {
        return STRATA_ESHUTDOWN;
    }
    int64_t target = log_end_offset(log);
    if (target <= log->recovery_point && !log->flush_inflight && !log->dir_dirty) {
        if (cb) {
            cb(arg, 0, log->recovery_point);
        }
        return 0;
    }
    /* A flush nobody waits for merges into the last such request. */
    if (!cb && log->waiters_tail && !log->waiters_tail->cb) {
        log->waiters_tail->target = target;
    } else {
        flush_waiter_t *w = xcalloc(1, sizeof(*w));
        w->cb = cb;
        w->arg = arg;
        w->target = target;
        if (log->waiters_tail) {
            log->waiters_tail->next = w;
        } else {
            log->waiters = w;
        }
        log->waiters_tail = w;
    }
    if (!log->flush_inflight && !log->in_callbacks) {
        start_flush(log);
    }
    return 0;
}

void log_maybe_flush(log_t *log) {
    if (log->offline || log->closing) {
        return;
    }
    int64_t unflushed = log_end_offset(log) - log->recovery_point;
    if (unflushed <= 0) {
        return;
    }
    const log_config_t *c = &log->cfg;
    bool due = unflushed >= c->flush_interval_messages;
    if (!due && c->flush_interval_ms != INT64_MAX) {
        due = log_now_ms(log) - log->last_flush_ms >= c->flush_interval_ms;
    }
    if (due && !log->flush_inflight) {
        log_flush(log, NULL, NULL);
    }
}

int log_flush_sync(log_t *log) {
    if (log->offline) {
        return STRATA_EOFFLINE;
    }
    int64_t target = log_end_offset(log);
    for (int i = 0; i < log->nsegs; i++) {
        seg_t *s = log->segs[i];
        bool active = i == log->nsegs - 1;
        if (s->next_offset <= log->recovery_point && !active) {
            continue;
        }
        int rc = fs_fdatasync(s->fd);
        if (rc == 0 && !active && !s->index_synced) {
            rc = idx_fsync(&s->oidx);
            if (rc == 0) {
                rc = idx_fsync(&s->tidx);
            }
            s->index_synced = rc == 0;
        }
        if (rc != 0) {
            log_fail(log, rc, "fsync", s->log_path);
            return rc;
        }
    }
    if (log->dir_dirty) {
        int rc = fs_fsync_dir(log->dir);
        if (rc != 0) {
            log_fail(log, rc, "fsync", log->dir);
            return rc;
        }
        log->dir_dirty = false;
    }
    if (target > log->recovery_point) {
        log->recovery_point = target;
    }
    log->last_flush_ms = log_now_ms(log);
    complete_waiters(log, 0);
    if (log->waiters && !log->flush_inflight) {
        start_flush(log);
    }
    return 0;
}

int log_close_clean(log_t *log) {
    int rc = log_flush_sync(log);
    if (rc == 0) {
        seg_t *s = log_active(log);
        rc = seg_seal(s);
        if (rc == 0) {
            rc = idx_fsync(&s->oidx);
        }
        if (rc == 0) {
            rc = idx_fsync(&s->tidx);
        }
        if (rc != 0) {
            log_fail(log, rc, "trim index of", s->oidx_path);
        }
    }
    log_close(log);
    return rc;
}
