/*
 * producer_state: per-partition idempotent-producer state (pst_), its sequence rules,
 * Kafka-layout <offset>.snapshot files and the rebuild from the log tail.
 * See include/strata/producer_state.h for the rules and invariants.
 *
 * Invariants:
 *  1. Every entry in the map has nbatches >= 1, batches ordered oldest first, all
 *     with the entry's epoch.
 *  2. map_end_offset is one past the last offset recorded (or the snapshot offset).
 *  3. hot is NULL or the map's entry of hot->producer_id: every path that frees
 *     entries (expire, truncate, clear, decode, free) resets it first. It saves the
 *     hash lookups of the usual request (one producer writing): check + update.
 *  4. At most one periodic snapshot write in flight on the thread pool (snap); the
 *     job owns its bytes and path and touches the pst only through snap->owner, which
 *     pst_free clears; pst_free also cancels the job's rename (under its lock), so no
 *     snapshot of a freed state (truncated, removed) appears after the free.
 */
#include "strata/producer_state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "strata/util.h"

#define SNAP_VERSION    1
#define SNAP_HEADER     10 /* int16 version, uint32 crc, int32 count */
#define SNAP_ENTRY_SIZE 46
#define SNAP_SUFFIX     ".snapshot"
#define NO_TXN_OFFSET   (-1LL)

#define EXPIRE_CHECK_INTERVAL_MS 600000 /* producer.id.expiration.check.interval.ms */

typedef struct snap_job snap_job_t;

struct pst {
    char *name;
    int64_t next_expire_check;
    int64_t last_snapshot; /* map end offset of the last periodic snapshot */
    map_t *producers;      /* int64 pid (8 raw bytes) -> pst_entry_t* */
    int64_t map_end_offset;
    pst_entry_t *hot; /* the entry used last (invariant 3) */
    uv_loop_t *loop;  /* periodic snapshots on its thread pool; NULL = inline */
    snap_job_t *snap; /* the periodic snapshot write in flight (invariant 4) */
};

pst_t *pst_new(const char *name) {
    pst_t *s = xcalloc(1, sizeof(*s));
    s->name = xstrdup(name ? name : "?");
    s->producers = map_new();
    return s;
}

static void snap_detach(pst_t *s);

void pst_free(pst_t *s) {
    if (!s) {
        return;
    }
    snap_detach(s);
    s->hot = NULL;
    map_free(s->producers, free);
    free(s->name);
    free(s);
}

void pst_clear(pst_t *s) {
    s->hot = NULL;
    map_free(s->producers, free);
    s->producers = map_new();
    s->map_end_offset = 0;
    s->last_snapshot = 0;
}

int32_t pst_last_seq(int32_t base_seq, int32_t last_offset_delta) {
    /* Kafka's DefaultRecordBatch.incrementSequence */
    if (base_seq > INT32_MAX - last_offset_delta) {
        return last_offset_delta - (INT32_MAX - base_seq) - 1;
    }
    return base_seq + last_offset_delta;
}

static bool in_sequence(int32_t last_seq, int32_t next_seq) {
    return (int64_t)next_seq == (int64_t)last_seq + 1 || (next_seq == 0 && last_seq == INT32_MAX);
}

static pst_entry_t *get_entry(const pst_t *s, int64_t pid) {
    if (s->hot && s->hot->producer_id == pid) {
        return s->hot;
    }
    return map_get(s->producers, &pid, sizeof(pid));
}

const pst_entry_t *pst_get(const pst_t *s, int64_t producer_id) {
    return get_entry(s, producer_id);
}

size_t pst_count(const pst_t *s) {
    return map_count(s->producers);
}

pst_result_t pst_check(const pst_t *s, int64_t producer_id, int16_t epoch, int32_t first_seq,
                       int32_t last_seq, pst_batch_t *dup) {
    if (producer_id < 0) {
        return PST_OK;
    }
    const pst_entry_t *e = get_entry(s, producer_id);
    if (!e) {
        return PST_OK; /* rule 5: no state, any sequence */
    }
    if (epoch < e->epoch) {
        return PST_INVALID_EPOCH;
    }
    if (epoch == e->epoch) {
        for (int i = 0; i < e->nbatches; i++) {
            const pst_batch_t *b = &e->batches[i];
            if (b->first_seq == first_seq && b->last_seq == last_seq) {
                if (dup) {
                    *dup = *b;
                }
                return PST_DUPLICATE;
            }
        }
        if (!in_sequence(e->batches[e->nbatches - 1].last_seq, first_seq)) {
            return PST_OUT_OF_ORDER;
        }
        return PST_OK;
    }
    /* a newer epoch starts over at 0 */
    return first_seq == 0 ? PST_OK : PST_OUT_OF_ORDER;
}

void pst_update(pst_t *s, int64_t producer_id, int16_t epoch, int32_t first_seq, int32_t last_seq,
                int64_t first_offset, int64_t last_offset, int64_t timestamp) {
    if (producer_id < 0) {
        return;
    }
    pst_entry_t *e = get_entry(s, producer_id);
    if (!e) {
        e = xcalloc(1, sizeof(*e));
        e->producer_id = producer_id;
        e->epoch = epoch;
        e->coordinator_epoch = -1;
        map_put(s->producers, &producer_id, sizeof(producer_id), e);
    }
    s->hot = e;
    if (epoch != e->epoch) {
        /* a new epoch (or, from replication, whatever the leader accepted) */
        e->epoch = epoch;
        e->nbatches = 0;
    }
    if (e->nbatches == PST_MAX_BATCHES) {
        memmove(&e->batches[0], &e->batches[1], sizeof(e->batches[0]) * (PST_MAX_BATCHES - 1));
        e->nbatches--;
    }
    pst_batch_t *b = &e->batches[e->nbatches++];
    b->first_seq = first_seq;
    b->last_seq = last_seq;
    b->first_offset = first_offset;
    b->last_offset = last_offset;
    b->timestamp = timestamp;
    e->last_timestamp = timestamp;
    if (last_offset + 1 > s->map_end_offset) {
        s->map_end_offset = last_offset + 1;
    }
}

void pst_update_from_header(pst_t *s, const rb_header_t *h) {
    if (h->producer_id < 0 || (h->attributes & RB_ATTR_CONTROL)) {
        if (h->base_offset + h->last_offset_delta + 1 > s->map_end_offset) {
            s->map_end_offset = h->base_offset + h->last_offset_delta + 1;
        }
        return;
    }
    pst_update(s, h->producer_id, h->producer_epoch, h->base_sequence,
               pst_last_seq(h->base_sequence, h->last_offset_delta), h->base_offset,
               h->base_offset + h->last_offset_delta, h->max_timestamp);
}

/*
 * The header fields of the batch at data[0..avail) without the CRC pass: log_append
 * validates every batch anyway (before pst_update_records, and all-or-nothing after
 * pst_check_records), so checking the CRC here too would only triple the work on the
 * produce path. @returns the batch size, or 0 when the bytes do not hold a whole batch.
 */
static long peek_header(const uint8_t *data, size_t avail, rb_header_t *h) {
    if (avail < RB_HEADER_SIZE) {
        return 0;
    }
    int32_t blen = (int32_t)be32_get(data + RB_OFF_LENGTH);
    if (blen < RB_HEADER_SIZE - 12 || (size_t)blen + 12 > avail || data[RB_OFF_MAGIC] != 2) {
        return 0;
    }
    memset(h, 0, sizeof(*h));
    h->base_offset = (int64_t)be64_get(data + RB_OFF_BASE_OFFSET);
    h->length = blen;
    h->attributes = (int16_t)be16_get(data + RB_OFF_ATTRIBUTES);
    h->last_offset_delta = (int32_t)be32_get(data + RB_OFF_LAST_DELTA);
    h->max_timestamp = (int64_t)be64_get(data + RB_OFF_MAX_TIMESTAMP);
    h->producer_id = (int64_t)be64_get(data + RB_OFF_PRODUCER_ID);
    h->producer_epoch = (int16_t)be16_get(data + RB_OFF_PRODUCER_EPOCH);
    h->base_sequence = (int32_t)be32_get(data + RB_OFF_BASE_SEQUENCE);
    h->record_count = (int32_t)be32_get(data + RB_OFF_RECORD_COUNT);
    if (h->last_offset_delta < 0) {
        return 0;
    }
    return (long)blen + 12;
}

pst_result_t pst_check_records(const pst_t *s, const uint8_t *data, size_t len, pst_batch_t *dup) {
    size_t pos = 0;
    bool first = true;
    rb_header_t prev = {0}; /* gcc -O2 -Wmaybe-uninitialized cannot see have_prev */
    bool have_prev = false;
    while (pos < len) {
        rb_header_t h;
        long sz = peek_header(data + pos, len - pos, &h);
        if (sz <= 0) {
            return PST_OK; /* log_append reports the bad bytes */
        }
        pos += (size_t)sz;
        if (h.producer_id < 0 || (h.attributes & RB_ATTR_CONTROL)) {
            continue;
        }
        int32_t last = pst_last_seq(h.base_sequence, h.last_offset_delta);
        pst_result_t r;
        if (have_prev && prev.producer_id == h.producer_id) {
            /* the batch before it in this request is its predecessor */
            int32_t plast = pst_last_seq(prev.base_sequence, prev.last_offset_delta);
            if (h.producer_epoch < prev.producer_epoch) {
                r = PST_INVALID_EPOCH;
            } else if (h.producer_epoch > prev.producer_epoch) {
                r = h.base_sequence == 0 ? PST_OK : PST_OUT_OF_ORDER;
            } else {
                r = in_sequence(plast, h.base_sequence) ? PST_OK : PST_OUT_OF_ORDER;
            }
        } else {
            r = pst_check(s, h.producer_id, h.producer_epoch, h.base_sequence, last, dup);
            if (r == PST_DUPLICATE && !first) {
                r = PST_OUT_OF_ORDER; /* a duplicate after new batches: cannot answer both */
            }
            if (r != PST_OK) {
                slog_debug(
                    "[ProducerState partition=%s] producer %" PRId64 " epoch %d seq %d-%d: %s",
                    s->name, h.producer_id, (int)h.producer_epoch, (int)h.base_sequence, (int)last,
                    r == PST_DUPLICATE      ? "duplicate, answered with the original offset"
                    : r == PST_OUT_OF_ORDER ? "out of order"
                                            : "old epoch");
            }
        }
        if (r != PST_OK) {
            return r;
        }
        first = false;
        prev = h;
        have_prev = true;
    }
    return PST_OK;
}

bool pst_records_idempotent(const uint8_t *data, size_t len) {
    size_t pos = 0;
    while (pos < len) {
        rb_header_t h;
        long sz = peek_header(data + pos, len - pos, &h);
        if (sz <= 0) {
            return false;
        }
        if (h.producer_id >= 0 && !(h.attributes & RB_ATTR_CONTROL)) {
            return true;
        }
        pos += (size_t)sz;
    }
    return false;
}

void pst_update_records(pst_t *s, const uint8_t *data, size_t len) {
    size_t pos = 0;
    while (pos < len) {
        rb_header_t h;
        long sz = peek_header(data + pos, len - pos, &h);
        if (sz <= 0) {
            return;
        }
        pst_update_from_header(s, &h);
        pos += (size_t)sz;
    }
}

size_t pst_expire(pst_t *s, int64_t now_ms, int64_t expiration_ms) {
    size_t removed = 0;
    s->hot = NULL;
    map_iter_t it = MAP_ITER_INIT;
    const void *k;
    size_t klen;
    void *v;
    while (map_next(s->producers, &it, &k, &klen, &v)) {
        pst_entry_t *e = v;
        if (now_ms - e->last_timestamp >= expiration_ms) {
            int64_t pid = e->producer_id;
            map_remove(s->producers, &pid, sizeof(pid));
            free(e);
            removed++;
        }
    }
    return removed;
}

void pst_maybe_expire(pst_t *s, int64_t now_ms) {
    if (now_ms < s->next_expire_check) {
        return;
    }
    bool first = s->next_expire_check == 0;
    s->next_expire_check = now_ms + EXPIRE_CHECK_INTERVAL_MS;
    if (first) {
        return; /* the first call only arms the interval */
    }
    size_t n = pst_expire(s, now_ms, PST_DEFAULT_EXPIRATION_MS);
    if (n > 0) {
        slog_info("[ProducerState partition=%s] expired %zu producer ids", s->name, n);
    }
}

void pst_truncate_to(pst_t *s, int64_t offset) {
    s->hot = NULL;
    map_iter_t it = MAP_ITER_INIT;
    const void *k;
    size_t klen;
    void *v;
    while (map_next(s->producers, &it, &k, &klen, &v)) {
        pst_entry_t *e = v;
        while (e->nbatches > 0 && e->batches[e->nbatches - 1].last_offset >= offset) {
            e->nbatches--;
        }
        if (e->nbatches == 0) {
            int64_t pid = e->producer_id;
            map_remove(s->producers, &pid, sizeof(pid));
            free(e);
        }
    }
    if (s->map_end_offset > offset) {
        s->map_end_offset = offset;
    }
}

int64_t pst_map_end_offset(const pst_t *s) {
    return s->map_end_offset;
}

void pst_set_map_end_offset(pst_t *s, int64_t offset) {
    s->map_end_offset = offset;
}

/* ---------------------------------------------------------------- snapshots */

void pst_snapshot_encode(const pst_t *s, buf_t *out) {
    size_t start = out->len;
    size_t count = 0;
    map_iter_t it = MAP_ITER_INIT;
    const void *k;
    size_t klen;
    void *v;
    while (map_next(s->producers, &it, &k, &klen, &v)) {
        count += (size_t)((pst_entry_t *)v)->nbatches;
    }
    uint8_t *h = buf_extend(out, SNAP_HEADER);
    be16_put(h, SNAP_VERSION);
    be32_put(h + 2, 0);
    be32_put(h + 6, (uint32_t)count);
    it = (map_iter_t)MAP_ITER_INIT;
    while (map_next(s->producers, &it, &k, &klen, &v)) {
        const pst_entry_t *e = v;
        for (int i = 0; i < e->nbatches; i++) {
            const pst_batch_t *b = &e->batches[i];
            uint8_t *p = buf_extend(out, SNAP_ENTRY_SIZE);
            be64_put(p, (uint64_t)e->producer_id);
            be16_put(p + 8, (uint16_t)e->epoch);
            be32_put(p + 10, (uint32_t)b->last_seq);
            be64_put(p + 14, (uint64_t)b->last_offset);
            be32_put(p + 22, (uint32_t)(b->last_offset - b->first_offset));
            be64_put(p + 26, (uint64_t)b->timestamp);
            be32_put(p + 34, (uint32_t)e->coordinator_epoch);
            be64_put(p + 38, (uint64_t)NO_TXN_OFFSET);
        }
    }
    /* CRC-32C over everything after the crc field (Kafka's PRODUCER_ENTRIES_OFFSET) */
    uint32_t crc = crc32c(0, out->data + start + 6, out->len - start - 6);
    be32_put(out->data + start + 2, crc);
}

int pst_snapshot_decode(pst_t *s, const uint8_t *data, size_t len) {
    if (len < SNAP_HEADER || be16_get(data) != SNAP_VERSION) {
        return STRATA_ECORRUPT;
    }
    if (crc32c(0, data + 6, len - 6) != be32_get(data + 2)) {
        return STRATA_ECORRUPT;
    }
    uint32_t count = be32_get(data + 6);
    if ((len - SNAP_HEADER) / SNAP_ENTRY_SIZE < count ||
        (len - SNAP_HEADER) != (size_t)count * SNAP_ENTRY_SIZE) {
        return STRATA_ECORRUPT;
    }
    int64_t end = s->map_end_offset;
    s->hot = NULL;
    map_free(s->producers, free);
    s->producers = map_new();
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *p = data + SNAP_HEADER + (size_t)i * SNAP_ENTRY_SIZE;
        int64_t pid = (int64_t)be64_get(p);
        int16_t epoch = (int16_t)be16_get(p + 8);
        int32_t last_seq = (int32_t)be32_get(p + 10);
        int64_t last_offset = (int64_t)be64_get(p + 14);
        int32_t delta = (int32_t)be32_get(p + 22);
        int64_t ts = (int64_t)be64_get(p + 26);
        int32_t coord_epoch = (int32_t)be32_get(p + 34);
        if (pid < 0 || delta < 0 || last_offset < delta) {
            pst_clear(s);
            return STRATA_ECORRUPT;
        }
        /* first sequence: Kafka's decrementSequence(last, delta) */
        int32_t first_seq =
            last_seq - delta < 0 ? INT32_MAX - (delta - last_seq) + 1 : last_seq - delta;
        pst_update(s, pid, epoch, first_seq, last_seq, last_offset - delta, last_offset, ts);
        pst_entry_t *e = get_entry(s, pid);
        e->coordinator_epoch = coord_epoch;
    }
    s->map_end_offset = end;
    return 0;
}

/* Parses "<20 digits>.snapshot". */
static bool snapshot_offset(const char *name, int64_t *offset) {
    size_t n = strlen(name);
    size_t sl = strlen(SNAP_SUFFIX);
    if (n != 20 + sl || strcmp(name + 20, SNAP_SUFFIX) != 0) {
        return false;
    }
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9') {
            return false;
        }
        if (v > (INT64_MAX - 9) / 10) {
            return false;
        }
        v = v * 10 + (name[i] - '0');
    }
    *offset = v;
    return true;
}

static int cmp_i64_desc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Lists snapshot offsets in dir, newest first. *out owned by the caller. */
static int list_snapshots(const char *dir, int64_t **out, size_t *n) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        return errno == ENOENT ? 0 : -errno;
    }
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int64_t off;
        if (!snapshot_offset(de->d_name, &off)) {
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = xrealloc(*out, cap * sizeof(**out));
        }
        (*out)[(*n)++] = off;
    }
    closedir(d);
    if (*n > 1) {
        qsort(*out, *n, sizeof(**out), cmp_i64_desc);
    }
    return 0;
}

static char *snapshot_path(const char *dir, int64_t offset) {
    return xasprintf("%s/%020" PRId64 SNAP_SUFFIX, dir, offset);
}

int pst_snapshot_write(const pst_t *s, const char *dir, int64_t offset, int keep) {
    buf_t b = BUF_INIT;
    pst_snapshot_encode(s, &b);
    char *path = snapshot_path(dir, offset);
    int rc = fs_atomic_replace(path, b.data, b.len);
    if (rc < 0) {
        slog_error("[ProducerState partition=%s] write %s: %s", s->name, path, strata_strerror(rc));
    }
    free(path);
    buf_destroy(&b);
    if (rc < 0) {
        return rc;
    }
    int64_t *offs;
    size_t n;
    if (list_snapshots(dir, &offs, &n) == 0) {
        for (size_t i = keep > 0 ? (size_t)keep : 1; i < n; i++) {
            char *old = snapshot_path(dir, offs[i]);
            (void)fs_unlink(old);
            free(old);
        }
        free(offs);
    }
    return 0;
}

/* tmp file + rename, no fsync (see pst_maybe_snapshot). */
static int write_nosync(const char *path, const void *data, size_t n) {
    char *tmp = xasprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 ? -errno : fs_write_all(fd, data, n);
    if (fd >= 0) {
        close(fd);
    }
    if (rc == 0) {
        rc = fs_rename(tmp, path);
    }
    if (rc != 0) {
        (void)fs_unlink(tmp);
    }
    free(tmp);
    return rc;
}

static int snapshot_write_nosync(const pst_t *s, const char *dir, int64_t offset, int keep) {
    buf_t b = BUF_INIT;
    pst_snapshot_encode(s, &b);
    char *path = snapshot_path(dir, offset);
    int rc = write_nosync(path, b.data, b.len);
    if (rc < 0) {
        slog_warn("[ProducerState partition=%s] write %s: %s", s->name, path, strata_strerror(rc));
    }
    free(path);
    buf_destroy(&b);
    if (rc < 0) {
        return rc;
    }
    int64_t *offs;
    size_t n;
    if (list_snapshots(dir, &offs, &n) == 0) {
        for (size_t i = keep > 0 ? (size_t)keep : 1; i < n; i++) {
            char *old = snapshot_path(dir, offs[i]);
            (void)fs_unlink(old);
            free(old);
        }
        free(offs);
    }
    return 0;
}

/* A periodic snapshot written on the thread pool: encoded on the loop (a few bytes per
 * producer), written, renamed and the old ones deleted by the worker. */
struct snap_job {
    uv_work_t work;
    pst_t *owner; /* NULL once the pst is freed */
    char *name;
    char *dir;
    int64_t offset;
    buf_t bytes;
    int rc;
    uv_mutex_t lock; /* orders the worker's rename against snap_detach */
    bool cancelled;  /* under lock: the state was freed, its snapshot must not appear */
};

static void snap_work(uv_work_t *w) {
    snap_job_t *j = w->data;
    char *path = snapshot_path(j->dir, j->offset);
    char *tmp = xasprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    j->rc = fd < 0 ? -errno : fs_write_all(fd, j->bytes.data, j->bytes.len);
    if (fd >= 0) {
        close(fd);
    }
    if (j->rc == 0) {
        uv_mutex_lock(&j->lock);
        j->rc = j->cancelled ? -ECANCELED : fs_rename(tmp, path);
        uv_mutex_unlock(&j->lock);
    }
    if (j->rc != 0) {
        (void)fs_unlink(tmp);
    }
    free(tmp);
    free(path);
    if (j->rc < 0) {
        return;
    }
    int64_t *offs;
    size_t n;
    if (list_snapshots(j->dir, &offs, &n) == 0) {
        for (size_t i = 2; i < n; i++) {
            char *old = snapshot_path(j->dir, offs[i]);
            (void)fs_unlink(old);
            free(old);
        }
        free(offs);
    }
}

static void snap_after(uv_work_t *w, int status) {
    snap_job_t *j = w->data;
    if (j->owner) {
        j->owner->snap = NULL;
    }
    if (status == 0 && j->rc < 0 && j->rc != -ECANCELED) {
        slog_warn("[ProducerState partition=%s] write %s/%020" PRId64 SNAP_SUFFIX ": %s", j->name,
                  j->dir, j->offset, strata_strerror(j->rc));
    }
    uv_mutex_destroy(&j->lock);
    buf_destroy(&j->bytes);
    free(j->name);
    free(j->dir);
    free(j);
}

static void snap_detach(pst_t *s) {
    if (s->snap) {
        /* The state goes (truncation, partition removed): a snapshot of it written
         * after this would be loaded past the truncation point. */
        uv_mutex_lock(&s->snap->lock);
        s->snap->cancelled = true;
        uv_mutex_unlock(&s->snap->lock);
        s->snap->owner = NULL;
        s->snap = NULL;
    }
}

void pst_set_loop(pst_t *s, struct uv_loop_s *loop) {
    s->loop = loop;
}

void pst_maybe_snapshot(pst_t *s, log_t *log) {
    if (s->map_end_offset - s->last_snapshot < PST_SNAPSHOT_INTERVAL) {
        return;
    }
    if (s->loop == NULL) {
        s->last_snapshot = s->map_end_offset;
        (void)snapshot_write_nosync(s, log_dir_path(log), s->map_end_offset, 2);
        return;
    }
    if (s->snap) {
        return; /* the previous one is still being written: try again on the next append */
    }
    s->last_snapshot = s->map_end_offset;
    snap_job_t *j = xcalloc(1, sizeof(*j)); /* bytes all-zero = BUF_INIT */
    j->work.data = j;
    j->owner = s;
    j->name = xstrdup(s->name);
    j->dir = xstrdup(log_dir_path(log));
    j->offset = s->map_end_offset;
    (void)uv_mutex_init(&j->lock);
    pst_snapshot_encode(s, &j->bytes);
    if (uv_queue_work(s->loop, &j->work, snap_work, snap_after) != 0) {
        j->owner = NULL;
        snap_after(&j->work, UV_ECANCELED);
        return;
    }
    s->snap = j;
}

int pst_delete_snapshots_after(const char *dir, int64_t offset) {
    int64_t *offs;
    size_t n;
    int rc = list_snapshots(dir, &offs, &n);
    if (rc < 0) {
        return rc;
    }
    for (size_t i = 0; i < n && offs[i] > offset; i++) {
        char *path = snapshot_path(dir, offs[i]);
        int urc = fs_unlink(path);
        if (urc != 0 && urc != -ENOENT && rc == 0) {
            rc = urc;
        }
        free(path);
    }
    free(offs);
    return rc;
}

int pst_load(pst_t *s, const char *dir, int64_t max_offset) {
    int64_t *offs;
    size_t n;
    int rc = list_snapshots(dir, &offs, &n);
    if (rc < 0) {
        return rc;
    }
    pst_clear(s);
    for (size_t i = 0; i < n; i++) {
        char *path = snapshot_path(dir, offs[i]);
        if (offs[i] > max_offset) {
            slog_warn("[ProducerState partition=%s] deleting snapshot %s past log end %" PRId64,
                      s->name, path, max_offset);
            (void)fs_unlink(path);
            free(path);
            continue;
        }
        buf_t b = BUF_INIT;
        rc = fs_read_file(path, &b);
        if (rc == 0) {
            rc = pst_snapshot_decode(s, b.data, b.len);
        }
        buf_destroy(&b);
        if (rc == 0) {
            s->map_end_offset = offs[i];
            s->last_snapshot = offs[i];
            free(path);
            break;
        }
        slog_warn("[ProducerState partition=%s] deleting unreadable snapshot %s: %s", s->name, path,
                  strata_strerror(rc));
        (void)fs_unlink(path);
        free(path);
        pst_clear(s);
    }
    free(offs);
    return 0;
}
