/*
 * admin_wait: CreateTopics, CreatePartitions and DeleteTopics answer only when the
 * metadata cache shows the result (every partition has a leader / the topic is gone),
 * as Kafka's delayed admin operations do, so a client's next Metadata request sees
 * it. Woken by mdc listener events; a uv_timer bounds the wait (the request's
 * timeout_ms). Nothing polls.
 *
 * Invariant: each waiter's callback runs exactly once; the waiter is freed in its
 * timer's close callback.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"

typedef struct waiter {
    struct waiter *prev, *next;
    struct api_admin *admin;
    char *topic;
    api_wait_kind_t kind;
    int32_t npartitions;
    uv_timer_t timer;
    void (*cb)(void *arg, bool ok);
    void *arg;
    bool done;
} waiter_t;

struct api_admin {
    api_ctx_t *ctx;
    waiter_t *head;
    bool stopped;
};

static bool satisfied(const api_ctx_t *ctx, const waiter_t *w) {
    const mdc_topic_t *t = mdc_topic(ctx->mdc, w->topic);
    if (w->kind == API_WAIT_GONE) {
        return t == NULL;
    }
    if (t == NULL || t->npartitions < w->npartitions) {
        return false;
    }
    for (int32_t i = 0; i < t->npartitions; i++) {
        if (t->partitions[i].leader < 0) {
            return false;
        }
    }
    return true;
}

static void on_closed(uv_handle_t *h) {
    waiter_t *w = h->data;
    free(w->topic);
    free(w);
}

static void complete(waiter_t *w, bool ok) {
    if (w->done) {
        return;
    }
    w->done = true;
    struct api_admin *a = w->admin;
    if (w->prev) {
        w->prev->next = w->next;
    } else {
        a->head = w->next;
    }
    if (w->next) {
        w->next->prev = w->prev;
    }
    uv_timer_stop(&w->timer);
    w->cb(w->arg, ok);
    uv_close((uv_handle_t *)&w->timer, on_closed);
}

static void on_timeout(uv_timer_t *t) {
    complete(t->data, false);
}

static void on_mdc(void *arg, mdc_event_t ev, const char *topic, int32_t partition) {
    (void)ev;
    (void)partition;
    struct api_admin *a = arg;
    waiter_t *next;
    for (waiter_t *w = a->head; w; w = next) {
        next = w->next;
        if ((topic == NULL || strcmp(topic, w->topic) == 0) && satisfied(a->ctx, w)) {
            complete(w, true);
        }
    }
}

void api_start(api_ctx_t *ctx) {
    struct api_admin *a = xcalloc(1, sizeof(*a));
    a->ctx = ctx;
    ctx->admin = a;
    if (ctx->mdc) {
        mdc_add_listener(ctx->mdc, on_mdc, a);
    }
}

void api_stop(api_ctx_t *ctx) {
    struct api_admin *a = ctx->admin;
    if (a == NULL) {
        return;
    }
    while (a->head) {
        complete(a->head, false);
    }
    /* The mdc keeps the listener pointer until it is freed: keep `a` alive but inert. */
    a->stopped = true;
}

void api_admin_wait(api_ctx_t *ctx, const char *topic, api_wait_kind_t kind, int32_t npartitions,
                    int64_t timeout_ms, void (*cb)(void *arg, bool ok), void *arg) {
    struct api_admin *a = ctx->admin;
    if (timeout_ms <= 0) {
        cb(arg, true); /* Kafka: a zero timeout answers at once, the change goes on */
        return;
    }
    waiter_t probe = {.topic = (char *)topic, .kind = kind, .npartitions = npartitions};
    if (a == NULL || a->stopped || ctx->mdc == NULL || satisfied(ctx, &probe)) {
        cb(arg, a == NULL || ctx->mdc == NULL || satisfied(ctx, &probe));
        return;
    }
    waiter_t *w = xcalloc(1, sizeof(*w));
    w->admin = a;
    w->topic = xstrdup(topic);
    w->kind = kind;
    w->npartitions = npartitions;
    w->cb = cb;
    w->arg = arg;
    uv_timer_init(ctx->loop, &w->timer);
    w->timer.data = w;
    uv_timer_start(&w->timer, on_timeout, timeout_ms > 0 ? (uint64_t)timeout_ms : 0, 0);
    w->next = a->head;
    if (a->head) {
        a->head->prev = w;
    }
    a->head = w;
}

void api_free(api_ctx_t *ctx) {
    free(ctx->admin);
    ctx->admin = NULL;
}
