/*
 * producer_state_log: rebuilds pst_ state from the tail of a storage log (recovery).
 * Kept apart from producer_state.c so the pure sequence rules link without storage.
 */
#include <errno.h>
#include <stdio.h>
#include <inttypes.h>
#include <unistd.h>

#include "strata/producer_state.h"
#include "strata/util.h"

int pst_rebuild_from_log(pst_t *s, log_t *log) {
    int64_t offset = pst_map_end_offset(s);
    int64_t start = log_start_offset(log);
    if (offset < start) {
        offset = start;
        pst_clear(s); /* state from before the log start no longer matches the log */
    }
    int64_t end = log_end_offset(log);
    buf_t b = BUF_INIT;
    int rc = 0;
    while (offset < end) {
        log_slice_t sl;
        rc = log_read(log, offset, 1 << 20, INT64_MAX, &sl);
        if (rc < 0) {
            break;
        }
        if (sl.len <= 0) {
            log_slice_release(&sl);
            break;
        }
        buf_reset(&b);
        int64_t want = sl.len;
        uint8_t *p = buf_extend(&b, (size_t)want);
        ssize_t got = pread(sl.fd, p, (size_t)want, (off_t)sl.pos);
        log_slice_release(&sl);
        if (got != (ssize_t)want) {
            rc = got < 0 ? -errno : STRATA_ECORRUPT;
            break;
        }
        size_t pos = 0;
        int64_t next = offset;
        while (pos < (size_t)got) {
            rb_header_t h;
            long sz = rb_parse(p + pos, (size_t)got - pos, &h);
            if (sz <= 0) {
                break;
            }
            if (h.base_offset + h.last_offset_delta >= offset) {
                pst_update_from_header(s, &h);
            }
            next = h.base_offset + h.last_offset_delta + 1;
            pos += (size_t)sz;
        }
        if (next <= offset) {
            rc = STRATA_ECORRUPT;
            break;
        }
        offset = next;
    }
    buf_destroy(&b);
    if (rc < 0) {
        slog_error("[ProducerState partition=%s-%d] rebuild from log at offset %" PRId64 ": %s",
                   log_topic(log), (int)log_partition(log), offset, strata_strerror(rc));
        return rc;
    }
    pst_set_map_end_offset(s, end);
    return 0;
}

pst_t *pst_open_log(log_t *log) {
    char name[300];
    snprintf(name, sizeof(name), "%s-%d", log_topic(log), (int)log_partition(log));
    pst_t *s = pst_new(name);
    int rc = pst_load(s, log_dir_path(log), log_end_offset(log));
    if (rc == 0) {
        rc = pst_rebuild_from_log(s, log);
    }
    if (rc != 0) {
        slog_warn("[ProducerState partition=%s] starting empty: %s", name, strata_strerror(rc));
        pst_clear(s);
        pst_set_map_end_offset(s, log_end_offset(log));
    }
    return s;
}

int pst_snapshot_log(const pst_t *s, log_t *log) {
    return pst_snapshot_write(s, log_dir_path(log), pst_map_end_offset(s), 2);
}
