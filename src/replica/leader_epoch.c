/*
 * leader_epoch: the leader-epoch cache of one partition (Kafka's LeaderEpochFileCache):
 * which leader epoch started at which offset, kept in <partition dir>/leader-epoch-checkpoint
 * in Kafka's text format "0\n<count>\n<epoch> <start offset>\n...". The leader answers
 * OffsetForLeaderEpoch from it; a returning follower truncates its divergent tail with it
 * (KIP-101 / KIP-279).
 *
 * Invariants:
 *  1. Entries are strictly increasing in both epoch and start offset.
 *  2. The file is written off the loop (uv_queue_work), one write in flight; a change made
 *     meanwhile is written again when it finishes (latest content wins).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/replica.h"

#define LEC_FILE "leader-epoch-checkpoint"

typedef struct lec_entry {
    int32_t epoch;
    int64_t start;
} lec_entry_t;

struct lec {
    char *path;
    lec_entry_t *e;
    size_t n, cap;
    /* async save */
    bool saving;
    bool dirty;
    bool freed;
    uv_loop_t *loop;
};

typedef struct lec_save_job {
    uv_work_t work;
    lec_t *c;
    buf_t data;
    int rc;
} lec_save_job_t;

static void push(lec_t *c, int32_t epoch, int64_t start) {
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 8;
        c->e = xrealloc(c->e, c->cap * sizeof(*c->e));
    }
    c->e[c->n].epoch = epoch;
    c->e[c->n].start = start;
    c->n++;
}

lec_t *lec_open(const char *partition_dir) {
    lec_t *c = xcalloc(1, sizeof(*c));
    size_t n = strlen(partition_dir) + sizeof(LEC_FILE) + 2;
    c->path = xmalloc(n);
    snprintf(c->path, n, "%s/%s", partition_dir, LEC_FILE);
    buf_t b = BUF_INIT;
    if (fs_read_file(c->path, &b) == 0 && b.len > 0) {
        buf_append(&b, "", 1);
        const char *s = (const char *)b.data;
        int version = -1;
        long count = -1;
        int used = 0;
        if (sscanf(s, "%d %ld%n", &version, &count, &used) == 2 && version == 0 && count >= 0) {
            s += used;
            for (long i = 0; i < count; i++) {
                int32_t ep;
                int64_t off;
                if (sscanf(s, "%" SCNd32 " %" SCNd64 "%n", &ep, &off, &used) != 2) {
                    slog_warn("%s: malformed entry %ld; keeping %zu entries", c->path, i, c->n);
                    break;
                }
                s += used;
                if (ep >= 0 && off >= 0 &&
                    (c->n == 0 || (ep > c->e[c->n - 1].epoch && off >= c->e[c->n - 1].start))) {
                    push(c, ep, off);
                }
            }
        } else {
            slog_warn("%s: unreadable leader-epoch checkpoint; starting empty", c->path);
        }
    }
    buf_destroy(&b);
    return c;
}

void lec_free(lec_t *c) {
    if (c == NULL) {
        return;
    }
    if (c->saving) {
        c->freed = true; /* the save's completion frees */
        return;
    }
    free(c->path);
    free(c->e);
    free(c);
}

bool lec_assign(lec_t *c, int32_t epoch, int64_t start_offset) {
    if (epoch < 0 || start_offset < 0) {
        return false;
    }
    if (c->n > 0) {
        lec_entry_t *last = &c->e[c->n - 1];
        if (epoch <= last->epoch) {
            return false;
        }
        /* A newer epoch that starts where the last did replaces it (no records under it). */
        while (c->n > 0 && c->e[c->n - 1].start >= start_offset) {
            c->n--;
        }
    }
    push(c, epoch, start_offset);
    return true;
}

bool lec_truncate_from_end(lec_t *c, int64_t offset) {
    size_t n = c->n;
    while (c->n > 0 && c->e[c->n - 1].start >= offset) {
        c->n--;
    }
    return n != c->n;
}

bool lec_truncate_from_start(lec_t *c, int64_t offset) {
    size_t keep = 0; /* index of the last entry starting at or before offset */
    bool found = false;
    for (size_t i = 0; i < c->n; i++) {
        if (c->e[i].start <= offset) {
            keep = i;
            found = true;
        }
    }
    if (!found || (keep == 0 && c->e[0].start == offset)) {
        return false;
    }
    memmove(c->e, c->e + keep, (c->n - keep) * sizeof(*c->e));
    c->n -= keep;
    c->e[0].start = offset;
    return true;
}

int32_t lec_latest_epoch(const lec_t *c) {
    return c->n ? c->e[c->n - 1].epoch : -1;
}

void lec_end_offset_for(const lec_t *c, int32_t epoch, int64_t leo, int32_t *epoch_out,
                        int64_t *offset_out) {
    *epoch_out = -1;
    *offset_out = -1;
    if (c->n == 0 || epoch < c->e[0].epoch) {
        return;
    }
    if (epoch >= c->e[c->n - 1].epoch) {
        *epoch_out = c->e[c->n - 1].epoch;
        *offset_out = leo;
        return;
    }
    /* The largest epoch <= requested; it ends where the next one starts. */
    for (size_t i = c->n - 1; i-- > 0;) {
        if (c->e[i].epoch <= epoch) {
            *epoch_out = c->e[i].epoch;
            *offset_out = c->e[i + 1].start;
            return;
        }
    }
}

void lec_format(const lec_t *c, buf_t *out) {
    char line[64];
    int k = snprintf(line, sizeof(line), "0\n%zu\n", c->n);
    buf_append(out, line, (size_t)k);
    for (size_t i = 0; i < c->n; i++) {
        k = snprintf(line, sizeof(line), "%" PRId32 " %" PRId64 "\n", c->e[i].epoch, c->e[i].start);
        buf_append(out, line, (size_t)k);
    }
}

static void save_work(uv_work_t *w) {
    lec_save_job_t *j = w->data;
    j->rc = fs_atomic_replace(j->c->path, j->data.data, j->data.len);
}

static void save_start(lec_t *c);

static void save_after(uv_work_t *w, int status) {
    (void)status;
    lec_save_job_t *j = w->data;
    lec_t *c = j->c;
    if (j->rc != 0 && !c->freed) {
        slog_error("%s: cannot write: %s", c->path, strata_strerror(j->rc));
    }
    buf_destroy(&j->data);
    free(j);
    c->saving = false;
    if (c->freed) {
        lec_free(c);
        return;
    }
    if (c->dirty) {
        save_start(c);
    }
}

static void save_start(lec_t *c) {
    c->dirty = false;
    c->saving = true;
    lec_save_job_t *j = xcalloc(1, sizeof(*j));
    j->c = c;
    lec_format(c, &j->data);
    j->work.data = j;
    if (uv_queue_work(c->loop, &j->work, save_work, save_after) != 0) {
        buf_destroy(&j->data);
        free(j);
        c->saving = false;
    }
}

void lec_save(lec_t *c, uv_loop_t *loop) {
    c->loop = loop;
    if (c->saving) {
        c->dirty = true;
        return;
    }
    save_start(c);
}
