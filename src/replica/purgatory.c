/*
 * purgatory: delayed operations (Kafka's DelayedOperationPurgatory, reduced to what a
 * delayed fetch needs). An operation watches one list per partition; appends notify
 * the list with the bytes they added; a uv_timer bounds the wait.
 *
 * Invariants:
 *  1. The callback runs exactly once per operation, on the loop thread.
 *  2. Before the callback runs the operation is unlinked from every list and its
 *     timer stopped; the memory is freed in the timer's close callback, so pointers
 *     held during one notify pass stay valid.
 */
#include <stdlib.h>

#include "strata/replica.h"

struct purg_node {
    purg_node_t *prev, *next;
    purg_list_t *list;
    purg_op_t *op;
};

struct purg_op {
    uv_timer_t timer;
    purg_cb cb;
    void *arg;
    int64_t have;
    int64_t min_bytes;
    bool (*ready)(void *arg); /* issue 6: conditional operation (delayed produce) */
    bool done;
    bool queued; /* collected for completion in the current pass */
    size_t nnodes;
    purg_node_t nodes[];
};

static void node_unlink(purg_node_t *n) {
    if (n->list == NULL) {
        return;
    }
    if (n->prev) {
        n->prev->next = n->next;
    } else {
        n->list->head = n->next;
    }
    if (n->next) {
        n->next->prev = n->prev;
    }
    n->prev = n->next = NULL;
    n->list = NULL;
}

static void on_op_closed(uv_handle_t *h) {
    free(h->data);
}

static void complete(purg_op_t *op, purg_reason_t reason) {
    if (op->done) {
        return;
    }
    op->done = true;
    for (size_t i = 0; i < op->nnodes; i++) {
        node_unlink(&op->nodes[i]);
    }
    uv_timer_stop(&op->timer);
    op->cb(op->arg, reason);
    uv_close((uv_handle_t *)&op->timer, on_op_closed);
}

static void on_timeout(uv_timer_t *t) {
    complete(t->data, PURG_TIMEOUT);
}

purg_op_t *purg_add(uv_loop_t *loop, purg_list_t *const *lists, size_t nlists, int64_t have,
                    int64_t min_bytes, uint64_t timeout_ms, purg_cb cb, void *arg) {
    purg_op_t *op = xcalloc(1, sizeof(*op) + nlists * sizeof(purg_node_t));
    op->cb = cb;
    op->arg = arg;
    op->have = have;
    op->min_bytes = min_bytes;
    op->nnodes = nlists;
    for (size_t i = 0; i < nlists; i++) {
        purg_node_t *n = &op->nodes[i];
        n->op = op;
        n->list = lists[i];
        n->next = lists[i]->head;
        if (n->next) {
            n->next->prev = n;
        }
        lists[i]->head = n;
    }
    uv_timer_init(loop, &op->timer);
    op->timer.data = op;
    uv_timer_start(&op->timer, on_timeout, timeout_ms, 0);
    return op;
}

/* Completes the operations of list that `pick` selects, in two passes so callbacks
 * never run while the list is being walked. */
static void complete_where(purg_list_t *list, int64_t bytes, bool all, purg_reason_t reason) {
    size_t n = 0, cap = 0;
    purg_op_t **ready = NULL;
    for (purg_node_t *node = list->head; node; node = node->next) {
        purg_op_t *op = node->op;
        if (op->done || op->queued) {
            continue;
        }
        bool fire;
        if (bytes < 0) { /* purg_check: conditional operations only */
            fire = op->ready && op->ready(op->arg);
        } else {
            op->have += bytes;
            fire = all || (op->ready == NULL && op->have >= op->min_bytes);
        }
        if (fire) {
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                ready = xrealloc(ready, cap * sizeof(*ready));
            }
            op->queued = true;
            ready[n++] = op;
        }
    }
    for (size_t i = 0; i < n; i++) {
        complete(ready[i], reason);
    }
    free(ready);
}

void purg_notify(purg_list_t *list, int64_t bytes) {
    if (list->head && bytes >= 0) {
        complete_where(list, bytes, false, PURG_SATISFIED);
    }
}

void purg_list_wake_all(purg_list_t *list) {
    if (list->head) {
        complete_where(list, 0, true, PURG_WOKEN);
    }
}

void purg_cancel(purg_op_t *op) {
    if (op) {
        complete(op, PURG_CANCELLED);
    }
}

/* ---------------------------------------------------------------- issue 6: delayed produce */

purg_op_t *purg_add_cond(uv_loop_t *loop, purg_list_t *const *lists, size_t nlists,
                         uint64_t timeout_ms, bool (*ready)(void *arg), purg_cb cb, void *arg) {
    purg_op_t *op = purg_add(loop, lists, nlists, 0, INT64_MAX, timeout_ms, cb, arg);
    op->ready = ready;
    return op;
}

void purg_check(purg_list_t *list) {
    if (list->head) {
        complete_where(list, -1, false, PURG_SATISFIED);
    }
}
