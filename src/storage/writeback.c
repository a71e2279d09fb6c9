/*
 * writeback: starts the kernel's writeback of the active segment's completed pages
 * early, in small steps, on the executor's worker (log.writeback.bytes), so the
 * periodic flusher never finds a large dirty range of the segment and block
 * allocation happens in short holds off the loop: the loop's append pwrite then
 * rarely waits on the inode's allocation lock or on a page under writeback.
 *
 * Invariants:
 *  1. At most one job per log; ranges are page-aligned, never overlap, and stop
 *     strictly below the page holding the segment's end (the tail page is still
 *     being appended to).
 *  2. Not a flush: the recovery point and every durability promise are untouched;
 *     errors are logged at debug and ignored (the fsync path reports I/O errors).
 *  3. The job holds a reference on its segment; a log freed with a job in flight
 *     detaches it (job->log = NULL) and the completion only releases and frees.
 */
#include "storage/storage_int.h"

#include <inttypes.h>
#include <unistd.h>

typedef struct wb_job {
    log_t *log; /* NULL once the log was freed */
    seg_t *seg;
    int64_t from;
    int64_t len;
    int status;
} wb_job_t;

static int64_t page_size(void) {
    static int64_t cached;
    if (cached == 0) {
        long p = sysconf(_SC_PAGESIZE);
        cached = p > 0 ? p : 4096;
    }
    return cached;
}

static void wb_work(void *arg) {
    wb_job_t *job = arg;
    job->status = fs_start_writeback(job->seg->fd, (off_t)job->from, (off_t)job->len);
}

static void wb_after(void *arg) {
    wb_job_t *job = arg;
    log_t *log = job->log;
    if (log) {
        log->wb_job = NULL;
        if (job->status != 0) {
            slog_debug("[Log partition=%s-%d] writeback of %s [%" PRId64 ", +%" PRId64 "): %s",
                       log->topic, log->partition, job->seg->log_path, job->from, job->len,
                       strata_strerror(job->status));
        }
    }
    seg_release(job->seg);
    free(job);
}

void log_writeback_reset(log_t *log, int64_t from) {
    int64_t page = page_size();
    log->wb_base = log_active(log)->base_offset;
    log->wb_end = from / page * page;
}

void log_writeback_detach(log_t *log) {
    if (log->wb_job) {
        log->wb_job->log = NULL;
        log->wb_job = NULL;
    }
}

void log_maybe_writeback(log_t *log) {
    int64_t w = log->cfg.writeback_bytes;
    if (w <= 0 || log->wb_job || log->offline || log->closing) {
        return;
    }
    seg_t *s = log_active(log);
    if (log->wb_base != s->base_offset) {
        log_writeback_reset(log, 0); /* a segment this file was not told about: new */
    } else if (log->wb_end > s->size) {
        log_writeback_reset(log, s->size);
    }
    int64_t end = s->size / page_size() * page_size(); /* pages strictly below the tail's */
    if (end - log->wb_end < w) {
        return;
    }
    wb_job_t *job = xcalloc(1, sizeof(*job));
    job->log = log;
    job->seg = s;
    job->from = log->wb_end;
    job->len = end - log->wb_end;
    seg_keep(s);
    log->wb_end = end;
    log->wb_job = job;
    log->exec.submit(log->exec.ctx, wb_work, wb_after, job);
}
