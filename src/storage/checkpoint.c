/*
 * checkpoint: Kafka's offset checkpoint files (recovery-point-offset-checkpoint,
 * log-start-offset-checkpoint, replication-offset-checkpoint):
 *   0\n<count>\n<topic> <partition> <offset>\n...
 * Written atomically (temp file, fsync, rename, fsync dir), so a crash leaves the old
 * or the new file, never a mix. Reading is strict: a malformed file is STRATA_ECORRUPT.
 */
#include "storage/storage_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ckpt_write(const char *path, const ckpt_entry_t *entries, size_t n) {
    buf_t b = BUF_INIT;
    char line[64];
    int k = snprintf(line, sizeof(line), "0\n%zu\n", n);
    buf_append(&b, line, (size_t)k);
    for (size_t i = 0; i < n; i++) {
        buf_append(&b, entries[i].topic, strlen(entries[i].topic));
        k = snprintf(line, sizeof(line), " %" PRId32 " %" PRId64 "\n", entries[i].partition,
                     entries[i].offset);
        buf_append(&b, line, (size_t)k);
    }
    int rc = fs_atomic_replace(path, b.data, b.len);
    if (rc != 0) {
        slog_error("write checkpoint %s: %s", path, strata_strerror(rc));
    }
    buf_destroy(&b);
    return rc;
}

void ckpt_free(ckpt_entry_t *entries, size_t n) {
    for (size_t i = 0; entries && i < n; i++) {
        free(entries[i].topic);
    }
    free(entries);
}

/* Next '\n'-terminated line of [*p, end), without the newline. */
static bool next_line(const char **p, const char *end, const char **line, size_t *len) {
    if (*p >= end) {
        return false;
    }
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl) {
        return false; /* every line ends in '\n': a missing one means a torn file */
    }
    *line = *p;
    *len = (size_t)(nl - *p);
    *p = nl + 1;
    return true;
}

static bool parse_num(const char *s, size_t n, int64_t *out) {
    char tmp[32];
    if (n == 0 || n >= sizeof(tmp)) {
        return false;
    }
    memcpy(tmp, s, n);
    tmp[n] = 0;
    return parse_int64(tmp, out) == 0;
}

int ckpt_read(const char *path, ckpt_entry_t **entries_out, size_t *n_out) {
    buf_t b = BUF_INIT;
    *entries_out = NULL;
    *n_out = 0;
    int rc = fs_read_file(path, &b);
    if (rc == -ENOENT) {
        return 0;
    }
    if (rc != 0) {
        slog_error("read checkpoint %s: %s", path, strata_strerror(rc));
        return rc;
    }
    const char *p = (const char *)b.data, *end = p + b.len, *line;
    size_t len;
    int64_t version, count;
    ckpt_entry_t *entries = NULL;
    size_t n = 0;
    if (!next_line(&p, end, &line, &len) || !parse_num(line, len, &version) || version != 0 ||
        !next_line(&p, end, &line, &len) || !parse_num(line, len, &count) || count < 0 ||
        count > (int64_t)b.len) {
        goto corrupt;
    }
    entries = xcalloc((size_t)count + 1, sizeof(*entries));
    for (n = 0; n < (size_t)count;) {
        if (!next_line(&p, end, &line, &len)) {
            goto corrupt;
        }
        /* "<topic> <partition> <offset>": topics have no spaces. */
        const char *sp1 = memchr(line, ' ', len);
        if (!sp1 || sp1 == line) {
            goto corrupt;
        }
        const char *rest = sp1 + 1;
        size_t rest_len = len - (size_t)(rest - line);
        const char *sp2 = memchr(rest, ' ', rest_len);
        int64_t part, off;
        if (!sp2 || !parse_num(rest, (size_t)(sp2 - rest), &part) || part < 0 || part > INT32_MAX ||
            !parse_num(sp2 + 1, rest_len - (size_t)(sp2 + 1 - rest), &off)) {
            goto corrupt;
        }
        entries[n].topic = xstrndup(line, (size_t)(sp1 - line));
        entries[n].partition = (int32_t)part;
        entries[n].offset = off;
        n++;
    }
    if (p != end) {
        goto corrupt;
    }
    buf_destroy(&b);
    *entries_out = entries;
    *n_out = n;
    return 0;
corrupt:
    slog_error("checkpoint %s is malformed", path);
    ckpt_free(entries, n);
    buf_destroy(&b);
    return STRATA_ECORRUPT;
}
