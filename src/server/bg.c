/*
 * bg: the broker's strata_executor_t on the libuv thread pool: fsyncs, segment unlinks
 * and checkpoints submitted by the storage layer run on a worker thread, and their
 * completion (`after`) runs back on the loop thread. (The modules that own a uv loop
 * themselves -- coord_local/coord_zk persistence and handles, the group coordinator's
 * partition load, leader-epoch and producer-state files -- call uv_queue_work directly.)
 *
 * Invariant: submit() is called on the loop thread only (uv_queue_work is not
 * thread-safe); work() must not touch loop state.
 */
#include <stdlib.h>

#include "strata/server.h"

typedef struct bg_job {
    uv_work_t req;
    void (*work)(void *arg);
    void (*after)(void *arg);
    void *arg;
} bg_job_t;

/* @locality worker @blocking */
static void on_work(uv_work_t *req) {
    bg_job_t *job = req->data;
    job->work(job->arg);
}

/* @locality loop. status is UV_ECANCELED only if the job was cancelled, which we never
 * do: `after` runs either way so the submitter always hears back. */
static void on_after(uv_work_t *req, int status) {
    (void)status;
    bg_job_t *job = req->data;
    if (job->after) {
        job->after(job->arg);
    }
    free(job);
}

/* @locality loop */
static void bg_submit(void *ctx, void (*work)(void *arg), void (*after)(void *arg), void *arg) {
    uv_loop_t *loop = ctx;
    bg_job_t *job = xcalloc(1, sizeof(*job));
    job->req.data = job;
    job->work = work;
    job->after = after;
    job->arg = arg;
    int rc = uv_queue_work(loop, &job->req, on_work, on_after);
    if (rc != 0) {
        /* uv_queue_work only fails on a NULL work_cb; run inline rather than lose the job. */
        slog_error("bg: uv_queue_work: %s; running inline", uv_strerror(rc));
        work(arg);
        if (after) {
            after(arg);
        }
        free(job);
    }
}

void bg_executor_init(strata_executor_t *ex, uv_loop_t *loop) {
    ex->submit = bg_submit;
    ex->ctx = loop;
}
