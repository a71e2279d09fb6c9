/*
 * executor: the inline strata_executor_t, which runs work and its completion at once
 * on the caller's thread (tests and tools; the server supplies a uv_queue_work one).
 */
#include "strata/storage.h"

static void inline_submit(void *ctx, void (*work)(void *arg), void (*after)(void *arg), void *arg) {
    (void)ctx;
    work(arg);
    after(arg);
}

const strata_executor_t strata_inline_executor = {inline_submit, NULL};
