/*
 * retention: deletes whole old segments, never the active one, past
 * log.retention.ms (by the segment's largest timestamp, or its file time when it has
 * none) or beyond log.retention.bytes, and advances the log start offset. Files are
 * renamed to *.deleted at once (so a restart finishes the job) and unlinked on the
 * executor; a read slice in flight keeps its segment's fd open.
 */
#include "storage/storage_int.h"

#include <errno.h>
#include <inttypes.h>
#include <sys/stat.h>

typedef struct unlink_job {
    char *paths[3];
} unlink_job_t;

static void unlink_work(void *arg) {
    unlink_job_t *job = arg;
    for (int i = 0; i < 3; i++) {
        int rc = fs_unlink(job->paths[i]);
        if (rc != 0 && rc != -ENOENT) {
            slog_warn("delete %s: %s", job->paths[i], strata_strerror(rc));
        }
    }
}

static void unlink_after(void *arg) {
    unlink_job_t *job = arg;
    for (int i = 0; i < 3; i++) {
        free(job->paths[i]);
    }
    free(job);
}

static void submit_unlink(log_t *log, char *paths[3]) {
    unlink_job_t *job = xcalloc(1, sizeof(*job));
    for (int i = 0; i < 3; i++) {
        job->paths[i] = paths[i];
    }
    log->exec.submit(log->exec.ctx, unlink_work, unlink_after, job);
}

void log_schedule_unlink(log_t *log, seg_t *s) {
    char *paths[3] = {xstrdup(s->log_path), xstrdup(s->oidx_path), xstrdup(s->tidx_path)};
    if (log->cfg.file_delete_delay_ms <= 0) {
        submit_unlink(log, paths);
        return;
    }
    /* Kafka waits log.segment.delete.delay.ms; a restart meanwhile removes *.deleted. */
    if (log->ndels == log->capdels) {
        log->capdels = log->capdels ? log->capdels * 2 : 8;
        log->dels = xrealloc(log->dels, (size_t)log->capdels * sizeof(*log->dels));
    }
    pending_delete_t *d = &log->dels[log->ndels++];
    for (int i = 0; i < 3; i++) {
        d->paths[i] = paths[i];
    }
    d->due_ms = log_now_ms(log) + log->cfg.file_delete_delay_ms;
}

void log_reap_deleted(log_t *log) {
    if (log->ndels == 0) {
        return;
    }
    int64_t now = log_now_ms(log);
    int kept = 0;
    for (int i = 0; i < log->ndels; i++) {
        if (log->dels[i].due_ms <= now) {
            submit_unlink(log, log->dels[i].paths);
        } else {
            log->dels[kept++] = log->dels[i];
        }
    }
    log->ndels = kept;
}

int log_drop_front(log_t *log, int n) {
    int err = 0;
    for (int i = 0; i < n; i++) {
        seg_t *s = log->segs[i];
        int rc = seg_mark_deleted(s);
        if (rc != 0 && err == 0) {
            log_fail(log, rc, "rename", s->log_path);
            err = rc;
        }
        log_schedule_unlink(log, s);
        seg_release(s);
    }
    for (int i = n; i < log->nsegs; i++) {
        log->segs[i - n] = log->segs[i];
    }
    log->nsegs -= n;
    if (log->segs[0]->base_offset > log->start_offset) {
        log->start_offset = log->segs[0]->base_offset;
    }
    if (log->recovery_point < log->start_offset) {
        log->recovery_point = log->start_offset;
    }
    log->dir_dirty = true;
    return err;
}

static int64_t segment_time(const seg_t *s) {
    if (s->max_ts >= 0) {
        return s->max_ts;
    }
    struct stat st;
    if (fstat(s->fd, &st) != 0) {
        return INT64_MAX; /* unknown: keep it */
    }
    return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

/* Segments wholly below the log start offset (log_advance_start_offset, a restored
 * checkpoint) go whatever the cleanup policy, as Kafka's start-offset breach. */
static int drop_below_start(log_t *log) {
    int n = 0;
    while (n < log->nsegs - 1 && log->segs[n + 1]->base_offset <= log->start_offset) {
        n++;
    }
    if (n == 0) {
        return 0;
    }
    slog_info("[Log partition=%s-%d, dir=%s] deleting %d segment(s) below the log start offset "
              "%" PRId64,
              log->topic, log->partition, log->dir, n, log->start_offset);
    int rc = log_drop_front(log, n);
    return rc != 0 ? rc : n;
}

int log_apply_retention(log_t *log) {
    if (log->offline) {
        return STRATA_EOFFLINE;
    }
    log_reap_deleted(log);
    int below = drop_below_start(log);
    if (below < 0) {
        return below;
    }
    int n = 0;
    const log_config_t *c = &log->cfg;
    if (!c->cleanup_delete) {
        return 0; /* cleanup.policy=compact: only the cleaner removes records */
    }
    if (c->retention_ms >= 0) {
        int64_t now = log_now_ms(log);
        while (n < log->nsegs - 1 && now - segment_time(log->segs[n]) > c->retention_ms) {
            n++;
        }
    }
    if (c->retention_bytes >= 0) {
        int64_t diff = log_size_bytes(log) - c->retention_bytes;
        for (int i = 0; i < n; i++) {
            diff -= log->segs[i]->size;
        }
        while (n < log->nsegs - 1 && diff - log->segs[n]->size >= 0) {
            diff -= log->segs[n]->size;
            n++;
        }
    }
    if (n == 0) {
        return below;
    }
    slog_info("[Log partition=%s-%d, dir=%s] retention deletes %d segment(s) below offset %" PRId64,
              log->topic, log->partition, log->dir, n, log->segs[n]->base_offset);
    int rc = log_drop_front(log, n);
    return rc != 0 ? rc : n + below;
}
