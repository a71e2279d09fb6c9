/*
 * segment: one <base>.log file with its .index and .timeindex. Appends go to the
 * .log by the log (pwrite at size) and are recorded here (seg_note_batch); this file
 * owns the batch walks: recovery with CRC checks past the recovery point, loading a
 * trusted segment and checking its indexes, offset lookups and truncation.
 *
 * Invariants: see storage_int.h. A segment is refcounted (seg_keep/seg_release) so
 * a sendfile in progress or a flush on a worker keeps its fd open after retention
 * renamed and unlinked its files.
 */
#include "storage/storage_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_AHEAD (4 * 1024)
#define BATCH_AHEAD  (1024 * 1024)

char *seg_file_path(const char *dir, int64_t base_offset, const char *suffix) {
    return xasprintf("%s/%020" PRId64 "%s", dir, base_offset, suffix);
}

/* No kernel readahead on segment files: the loop reads batch headers (log_read) with
 * small preads, and a cold one would otherwise start a read of read_ahead_kb (MBs) and
 * wait for all of it on the loop. Bulk reads size their own requests: the fetch path
 * loads cold slices on the executor in 1 MiB preads (fs_read_into_cache), the segment
 * reader reads ahead itself. Only where the fetch path can tell cold from cached
 * (cachestat, Linux 6.5+): elsewhere sendfile still reads cold bytes itself and needs the
 * kernel's readahead. A hint: errors are ignored. */
static void seg_no_readahead(int fd) {
    if (fs_can_tell_cached(fd)) {
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
    }
}

static seg_t *seg_alloc(const char *dir, int64_t base_offset) {
    seg_t *s = xcalloc(1, sizeof(*s));
    s->base_offset = base_offset;
    s->next_offset = base_offset;
    s->fd = -1;
    s->oidx.fd = -1;
    s->tidx.fd = -1;
    s->max_ts = -1;
    s->offset_of_max_ts = -1;
    s->first_batch_ts = SEG_TS_UNKNOWN;
    s->refs = 1;
    s->log_path = seg_file_path(dir, base_offset, ".log");
    s->oidx_path = seg_file_path(dir, base_offset, ".index");
    s->tidx_path = seg_file_path(dir, base_offset, ".timeindex");
    return s;
}

static void seg_free(seg_t *s) {
    idx_close(&s->oidx);
    idx_close(&s->tidx);
    if (s->fd >= 0) {
        close(s->fd);
    }
    free(s->log_path);
    free(s->oidx_path);
    free(s->tidx_path);
    free(s);
}

void seg_keep(seg_t *s) {
    __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
}

void seg_release(seg_t *s) {
    if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        seg_free(s);
    }
}

int seg_create_suffixed(const char *dir, int64_t base_offset, const char *suffix,
                        int64_t index_max_bytes, seg_t **out) {
    seg_t *s = seg_alloc(dir, base_offset);
    char **paths[3] = {&s->log_path, &s->oidx_path, &s->tidx_path};
    for (int i = 0; i < 3; i++) {
        char *p = xasprintf("%s%s", *paths[i], suffix);
        free(*paths[i]);
        *paths[i] = p;
    }
    int rc;
    s->fd = open(s->log_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s->fd < 0) {
        rc = -errno;
        goto fail;
    }
    seg_no_readahead(s->fd);
    if ((rc = idx_open(&s->oidx, s->oidx_path, OIDX_ENTRY_SIZE, base_offset)) != 0 ||
        (rc = idx_resize(&s->oidx, 0)) != 0 || (rc = idx_resize(&s->oidx, index_max_bytes)) != 0) {
        goto fail;
    }
    if ((rc = idx_open(&s->tidx, s->tidx_path, TIDX_ENTRY_SIZE, base_offset)) != 0 ||
        (rc = idx_resize(&s->tidx, 0)) != 0 || (rc = idx_resize(&s->tidx, index_max_bytes)) != 0) {
        goto fail;
    }
    *out = s;
    return 0;
fail:
    seg_free(s);
    return rc;
}

int seg_create(const char *dir, int64_t base_offset, int64_t index_max_bytes, seg_t **out) {
    return seg_create_suffixed(dir, base_offset, "", index_max_bytes, out);
}

int seg_rename_files(seg_t *s, const char *dir, const char *suffix) {
    char **paths[3] = {&s->oidx_path, &s->tidx_path, &s->log_path};
    const char *names[3] = {".index", ".timeindex", ".log"};
    for (int i = 0; i < 3; i++) {
        char *base = seg_file_path(dir, s->base_offset, names[i]);
        char *to = xasprintf("%s%s", base, suffix);
        free(base);
        int rc = fs_rename(*paths[i], to);
        if (rc != 0) {
            free(to);
            return rc;
        }
        free(*paths[i]);
        *paths[i] = to;
        idx_file_t *ix = i == 0 ? &s->oidx : i == 1 ? &s->tidx : NULL;
        if (ix && ix->path) {
            free(ix->path);
            ix->path = xstrdup(to);
        }
    }
    return 0;
}

int seg_open_files(const char *dir, int64_t base_offset, seg_t **out) {
    seg_t *s = seg_alloc(dir, base_offset);
    int rc;
    struct stat st;
    s->fd = open(s->log_path, O_RDWR | O_CLOEXEC);
    if (s->fd < 0 || fstat(s->fd, &st) != 0) {
        rc = -errno;
        goto fail;
    }
    seg_no_readahead(s->fd);
    s->size = st.st_size;
    if ((rc = idx_open(&s->oidx, s->oidx_path, OIDX_ENTRY_SIZE, base_offset)) != 0 ||
        (rc = idx_open(&s->tidx, s->tidx_path, TIDX_ENTRY_SIZE, base_offset)) != 0) {
        goto fail;
    }
    *out = s;
    return 0;
fail:
    seg_free(s);
    return rc;
}

/* ---------------------------------------------------------------- reader */

void seg_reader_init(seg_reader_t *r, int fd, const char *path, int64_t fsize) {
    memset(r, 0, sizeof(*r));
    r->fd = fd;
    r->path = path;
    r->fsize = fsize;
}

void seg_reader_destroy(seg_reader_t *r) {
    free(r->buf);
    r->buf = NULL;
}

int seg_reader_get(seg_reader_t *r, int64_t pos, size_t n, size_t ahead, const uint8_t **p) {
    if (pos + (int64_t)n > r->fsize) {
        return 1;
    }
    if (pos >= r->bpos && pos + (int64_t)n <= r->bpos + (int64_t)r->blen) {
        *p = r->buf + (pos - r->bpos);
        return 0;
    }
    size_t want = n > ahead ? n : ahead;
    if ((int64_t)want > r->fsize - pos) {
        want = (size_t)(r->fsize - pos);
    }
    if (want > r->cap) {
        r->buf = xrealloc(r->buf, want);
        r->cap = want;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t k = pread(r->fd, r->buf + got, want - got, (off_t)(pos + (int64_t)got));
        if (k < 0) {
            if (errno == EINTR) {
                continue;
            }
            r->blen = 0;
            return -errno;
        }
        if (k == 0) {
            break; /* shorter than fstat said: someone cut it */
        }
        got += (size_t)k;
    }
    r->bpos = pos;
    r->blen = got;
    if (got < n) {
        return 1;
    }
    *p = r->buf;
    return 0;
}

/* ---------------------------------------------------------------- batches */

int seg_read_header(seg_t *s, int64_t pos, rb_header_t *h) {
    uint8_t b[RB_HEADER_SIZE];
    if (pos + RB_HEADER_SIZE > s->size) {
        return 1;
    }
    size_t got = 0;
    while (got < sizeof(b)) {
        ssize_t k = pread(s->fd, b + got, sizeof(b) - got, (off_t)(pos + (int64_t)got));
        if (k < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (k == 0) {
            return STRATA_ECORRUPT;
        }
        got += (size_t)k;
    }
    rb_read_header(b, h);
    if (h->length < RB_HEADER_SIZE - 12 || h->magic != 2 || h->last_offset_delta < 0 ||
        pos + 12 + (int64_t)h->length > s->size) {
        return STRATA_ECORRUPT;
    }
    return 0;
}

int64_t seg_first_batch_ts(seg_t *s) {
    if (s->first_batch_ts == SEG_TS_UNKNOWN && s->size > 0) {
        rb_header_t h;
        if (seg_read_header(s, 0, &h) != 0) {
            return -1; /* fall back to the creation time; do not cache */
        }
        s->first_batch_ts = h.max_timestamp;
    }
    return s->first_batch_ts == SEG_TS_UNKNOWN || s->first_batch_ts < 0 ? -1 : s->first_batch_ts;
}

void seg_note_batch(seg_t *s, const rb_header_t *h, int64_t pos, int64_t total,
                    int32_t index_interval) {
    int64_t last = h->base_offset + h->last_offset_delta;
    if (pos == 0) {
        s->first_batch_ts = h->max_timestamp;
    }
    if (h->max_timestamp > s->max_ts) {
        s->max_ts = h->max_timestamp;
        s->offset_of_max_ts = last;
    }
    if (s->bytes_since_index > index_interval) {
        oidx_append(&s->oidx, last, pos);
        tidx_maybe_append(&s->tidx, s->max_ts, s->offset_of_max_ts);
        s->bytes_since_index = 0;
    }
    s->bytes_since_index += total;
    s->size = pos + total;
    s->next_offset = last + 1;
}

static void reset_state(seg_t *s) {
    s->size = 0;
    s->next_offset = s->base_offset;
    s->bytes_since_index = 0;
    s->max_ts = -1;
    s->offset_of_max_ts = -1;
}

/*
 * Where the walk of a segment may start when every offset below trust_below is
 * durable: just past the last offset index entry below it whose batch checks out.
 * Index entries are written through the map and are either right or still zero
 * (lost with the page cache), so a valid prefix plus a check of the chosen batch is
 * enough. Keeps the index entries up to there and sets the segment's totals.
 * @returns the position to walk from (0 when the index does not help).
 */
static int64_t trusted_start(seg_t *s, int64_t trust_below, int64_t fsize) {
    uint32_t n = oidx_valid_prefix(&s->oidx, idx_file_slots(&s->oidx), fsize);
    while (n > 0) {
        int64_t off, pos;
        oidx_entry(&s->oidx, n - 1, &off, &pos);
        if (off < trust_below) {
            break;
        }
        n--;
    }
    s->oidx.entries = 0;
    s->tidx.entries = 0;
    if (n == 0) {
        return 0;
    }
    int64_t off, pos;
    rb_header_t h;
    oidx_entry(&s->oidx, n - 1, &off, &pos);
    int64_t saved = s->size;
    s->size = fsize;
    int rc = seg_read_header(s, pos, &h);
    s->size = saved;
    if (rc != 0 || h.base_offset + h.last_offset_delta != off || h.base_offset < s->base_offset) {
        return 0;
    }
    int64_t total = (int64_t)h.length + 12;
    s->oidx.entries = n;
    s->tidx.entries = tidx_valid_prefix(&s->tidx, idx_file_slots(&s->tidx), off + 1);
    if (s->tidx.entries > 0) {
        tidx_entry(&s->tidx, s->tidx.entries - 1, &s->max_ts, &s->offset_of_max_ts);
    }
    if (h.max_timestamp > s->max_ts) {
        s->max_ts = h.max_timestamp;
        s->offset_of_max_ts = off;
    }
    s->size = pos + total;
    s->next_offset = off + 1;
    s->bytes_since_index = total;
    return pos + total;
}

int seg_recover(seg_t *s, int64_t trust_below, int32_t index_interval, int64_t index_max_bytes,
                int64_t *truncated_bytes) {
    struct stat st;
    int rc = 0;
    if (fstat(s->fd, &st) != 0) {
        return -errno;
    }
    reset_state(s);
    int64_t pos = 0;
    if (trust_below > s->base_offset && trust_below != INT64_MAX) {
        pos = trusted_start(s, trust_below, st.st_size);
    }
    /* Cut the index files to the kept entries and regrow them: the kernel zero-fills
     * (holes), far cheaper than writing zeros over 10 MiB maps. */
    if ((rc = idx_resize(&s->oidx, 0)) != 0 || (rc = idx_resize(&s->oidx, index_max_bytes)) != 0 ||
        (rc = idx_resize(&s->tidx, 0)) != 0 || (rc = idx_resize(&s->tidx, index_max_bytes)) != 0) {
        return rc;
    }

    seg_reader_t r;
    seg_reader_init(&r, s->fd, s->log_path, st.st_size);
    size_t ahead = HEADER_AHEAD; /* big batches: read just the next header */
    for (;;) {
        const uint8_t *p;
        rb_header_t h;
        rc = seg_reader_get(&r, pos, RB_HEADER_SIZE, ahead, &p);
        if (rc != 0) {
            break; /* end of file, a torn header, or an I/O error */
        }
        rb_read_header(p, &h);
        /* Offsets only increase: the cleaner leaves gaps. */
        if (h.length < RB_HEADER_SIZE - 12 || h.magic != 2 || h.base_offset < s->next_offset ||
            h.last_offset_delta < 0 || h.record_count < 0 ||
            (int64_t)h.record_count > (int64_t)h.last_offset_delta + 1) {
            break;
        }
        int64_t total = (int64_t)h.length + 12;
        if (pos + total > st.st_size) {
            break; /* torn tail */
        }
        if (h.base_offset + h.last_offset_delta >= trust_below) {
            rc = seg_reader_get(&r, pos, (size_t)total, BATCH_AHEAD, &p);
            if (rc != 0) {
                break;
            }
            if (rb_parse(p, (size_t)total, NULL) != total) {
                break;
            }
        }
        seg_note_batch(s, &h, pos, total, index_interval);
        pos += total;
        ahead = total >= HEADER_AHEAD ? RB_HEADER_SIZE : HEADER_AHEAD;
    }
    seg_reader_destroy(&r);
    if (rc < 0) {
        return rc;
    }
    *truncated_bytes = st.st_size - pos;
    if (pos < st.st_size) {
        rc = fs_truncate(s->fd, (off_t)pos);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/*
 * Walks from the last offset index entry to the end of the file: sets next_offset
 * and max_ts, and checks the index is complete (no batch in the tail should have had
 * an entry). @returns 0, 1 when the tail is inconsistent (rebuild), or -errno.
 */
static int scan_tail(seg_t *s, int32_t index_interval) {
    int64_t pos = 0, entry_off = -1;
    if (s->oidx.entries > 0) {
        oidx_entry(&s->oidx, s->oidx.entries - 1, &entry_off, &pos);
    }
    s->max_ts = -1;
    s->offset_of_max_ts = -1;
    if (s->tidx.entries > 0) {
        tidx_entry(&s->tidx, s->tidx.entries - 1, &s->max_ts, &s->offset_of_max_ts);
    }
    seg_reader_t r;
    seg_reader_init(&r, s->fd, s->log_path, s->size);
    int64_t bytes_since = 0, next = s->oidx.entries > 0 ? -1 : s->base_offset;
    int rc = 0;
    bool first = true;
    while (pos < s->size) {
        const uint8_t *p;
        rb_header_t h;
        rc = seg_reader_get(&r, pos, RB_HEADER_SIZE, HEADER_AHEAD, &p);
        if (rc != 0) {
            rc = rc < 0 ? rc : 1;
            break;
        }
        rb_read_header(p, &h);
        int64_t total = (int64_t)h.length + 12;
        int64_t last = h.base_offset + h.last_offset_delta;
        if (h.length < RB_HEADER_SIZE - 12 || h.magic != 2 || h.last_offset_delta < 0 ||
            pos + total > s->size || (next >= 0 && h.base_offset < next) ||
            (first && entry_off >= 0 && last != entry_off)) {
            rc = 1;
            break;
        }
        if (!first && bytes_since > index_interval && !oidx_full(&s->oidx)) {
            rc = 1; /* this batch would have an entry: the index lost some */
            break;
        }
        if (first && s->oidx.entries == 0 && h.base_offset < s->base_offset) {
            rc = 1;
            break;
        }
        if (h.max_timestamp > s->max_ts) {
            s->max_ts = h.max_timestamp;
            s->offset_of_max_ts = last;
        }
        bytes_since += total;
        next = last + 1;
        pos += total;
        first = false;
    }
    seg_reader_destroy(&r);
    if (rc != 0) {
        return rc;
    }
    s->next_offset = next < 0 ? s->base_offset : next;
    s->bytes_since_index = bytes_since;
    return 0;
}

static bool zero_tail(const idx_file_t *ix, uint32_t n) {
    for (size_t i = (size_t)n * ix->entry_size; i < ix->map_len; i++) {
        if (ix->map[i] != 0) {
            return false;
        }
    }
    return true;
}

int seg_load(seg_t *s, int64_t next_hint, bool index_missing, int32_t index_interval,
             int64_t index_max_bytes) {
    bool last = next_hint < 0;
    bool ok = !index_missing;
    int rc;
    if (ok) {
        uint32_t slots = idx_file_slots(&s->oidx);
        uint32_t n = oidx_valid_prefix(&s->oidx, slots, s->size);
        /* The active segment's index may be untrimmed: valid entries, then zeros. */
        ok = n == slots || (last && zero_tail(&s->oidx, n));
        s->oidx.entries = n;
    }
    if (ok) {
        uint32_t tslots = idx_file_slots(&s->tidx);
        uint32_t tn = tidx_valid_prefix(&s->tidx, tslots, last ? INT64_MAX : next_hint);
        ok = tn == tslots || (last && zero_tail(&s->tidx, tn));
        s->tidx.entries = tn;
    }
    if (ok && last) {
        if ((rc = seg_unseal(s, index_max_bytes)) != 0) {
            return rc;
        }
        rc = scan_tail(s, index_interval);
        if (rc < 0) {
            return rc;
        }
        ok = rc == 0;
        if (ok && s->tidx.entries > 0) {
            int64_t ts, off;
            tidx_entry(&s->tidx, s->tidx.entries - 1, &ts, &off);
            ok = off < s->next_offset;
        }
    } else if (ok) {
        s->next_offset = next_hint;
        if (s->oidx.entries > 0) {
            /* The last entry must name a real batch: a cheap check against garbage. */
            int64_t off, pos;
            rb_header_t h;
            oidx_entry(&s->oidx, s->oidx.entries - 1, &off, &pos);
            ok = seg_read_header(s, pos, &h) == 0 && h.base_offset + h.last_offset_delta == off;
        }
        if (ok) {
            s->max_ts = -1;
            s->offset_of_max_ts = -1;
            if (s->tidx.entries > 0) {
                tidx_entry(&s->tidx, s->tidx.entries - 1, &s->max_ts, &s->offset_of_max_ts);
            }
            s->bytes_since_index = 0;
            s->index_synced = true;
        }
    }
    if (ok) {
        return 0;
    }
    /* Missing or corrupt index: rebuild from the log, whose bytes are trusted here. */
    int64_t trunc = 0;
    rc = seg_recover(s, INT64_MAX, index_interval, index_max_bytes, &trunc);
    if (rc != 0) {
        return rc;
    }
    if (trunc > 0) {
        slog_warn("segment %s: %" PRId64 " bytes of garbage cut while rebuilding its index",
                  s->log_path, trunc);
    }
    if (!last && s->next_offset < next_hint) {
        s->next_offset = next_hint; /* records at the end removed by the cleaner */
    }
    if (!last && (rc = seg_seal(s)) != 0) {
        return rc;
    }
    return 1;
}

int seg_seal(seg_t *s) {
    int rc;
    if (s->max_ts >= 0 && s->tidx.entries < s->tidx.max_entries) {
        tidx_maybe_append(&s->tidx, s->max_ts, s->offset_of_max_ts);
    }
    if ((rc = idx_trim(&s->oidx)) != 0 || (rc = idx_trim(&s->tidx)) != 0) {
        return rc;
    }
    return 0;
}

int seg_unseal(seg_t *s, int64_t index_max_bytes) {
    int rc;
    if ((rc = idx_resize(&s->oidx, index_max_bytes)) != 0 ||
        (rc = idx_resize(&s->tidx, index_max_bytes)) != 0) {
        return rc;
    }
    s->index_synced = false;
    return 0;
}

int seg_find_offset(seg_t *s, int64_t offset, int64_t *pos_out, rb_header_t *hdr, bool *found) {
    int64_t pos = oidx_lookup(&s->oidx, offset, NULL);
    *found = false;
    while (pos < s->size) {
        int rc = seg_read_header(s, pos, hdr);
        if (rc != 0) {
            return rc < 0 ? rc : STRATA_ECORRUPT;
        }
        if (hdr->base_offset + hdr->last_offset_delta >= offset) {
            *found = true;
            break;
        }
        pos += (int64_t)hdr->length + 12;
    }
    *pos_out = pos;
    return 0;
}

int seg_truncate_to(seg_t *s, int64_t offset, int32_t index_interval) {
    int64_t pos;
    rb_header_t h;
    bool found;
    int rc = seg_find_offset(s, offset, &pos, &h, &found);
    if (rc != 0) {
        return rc;
    }
    if (!found) {
        return 0;
    }
    rc = fs_truncate(s->fd, (off_t)pos);
    if (rc != 0) {
        return rc;
    }
    s->size = pos;
    s->next_offset = h.base_offset;
    oidx_truncate_to(&s->oidx, s->next_offset);
    tidx_truncate_to(&s->tidx, s->next_offset);
    rc = scan_tail(s, index_interval);
    if (rc > 0) {
        int64_t trunc;
        rc = seg_recover(s, INT64_MAX, index_interval, (int64_t)s->oidx.map_len, &trunc);
    }
    if (s->size == 0) {
        s->first_batch_ts = SEG_TS_UNKNOWN;
    }
    return rc;
}

int seg_mark_deleted(seg_t *s) {
    char **paths[3] = {&s->log_path, &s->oidx_path, &s->tidx_path};
    int err = 0;
    for (int i = 0; i < 3; i++) {
        char *to = xasprintf("%s.deleted", *paths[i]);
        int rc = fs_rename(*paths[i], to);
        if (rc != 0 && rc != -ENOENT && err == 0) {
            err = rc;
        }
        free(*paths[i]);
        *paths[i] = to;
    }
    s->deleted = true;
    return err;
}
