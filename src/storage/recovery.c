/*
 * recovery: loading a partition directory at open. Leftovers of interrupted work
 * (*.deleted, *.cleaned, *.swap, orphan indexes) are removed; segments below the
 * recovery point are trusted and only their indexes are checked (rebuilt when missing
 * or corrupt); the segments holding offsets at or past the recovery point are walked
 * batch by batch with CRC checks past the recovery point, and the log is cut at the
 * first torn or corrupt batch, dropping every later segment. A clean shutdown skips
 * the walk.
 */
#include "storage/storage_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* "<20 digits><suffix>" -> base offset, or -1. */
static int64_t parse_base(const char *name, const char *suffix) {
    size_t n = strlen(name), m = strlen(suffix);
    if (n != 20 + m || strcmp(name + 20, suffix) != 0) {
        return -1;
    }
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9') {
            return -1;
        }
        if (v > (INT64_MAX - (name[i] - '0')) / 10) {
            return -1;
        }
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static bool file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Lists segment base offsets and removes leftovers. */
static int scan_dir(log_t *log, int64_t **bases_out, int *n_out) {
    DIR *d = opendir(log->dir);
    if (!d) {
        int rc = -errno;
        slog_error("[Log partition=%s-%d] open directory %s: %s", log->topic, log->partition,
                   log->dir, strata_strerror(rc));
        return rc;
    }
    int64_t *bases = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        if (ends_with(name, ".deleted") || ends_with(name, ".cleaned") ||
            (ends_with(name, ".swap") && parse_base(name, ".log.swap") < 0)) {
            /* .swap index files were renamed (completed) by complete_swaps if their
             * .log.swap existed: what is left belongs to an unfinished swap. */
            char *p = xasprintf("%s/%s", log->dir, name);
            fs_unlink(p);
            free(p);
            continue;
        }
        int64_t base = parse_base(name, ".log");
        if (base >= 0) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                bases = xrealloc(bases, (size_t)cap * sizeof(*bases));
            }
            bases[n++] = base;
            continue;
        }
        const char *suffix = ends_with(name, ".timeindex") ? ".timeindex" : ".index";
        base = parse_base(name, suffix);
        if (base >= 0) {
            char *lp = seg_file_path(log->dir, base, ".log");
            if (!file_exists(lp)) {
                char *p = xasprintf("%s/%s", log->dir, name);
                fs_unlink(p); /* an index without its log */
                free(p);
            }
            free(lp);
        }
    }
    closedir(d);
    if (n > 1) {
        qsort(bases, (size_t)n, sizeof(*bases), cmp_i64);
    }
    *bases_out = bases;
    *n_out = n;
    return 0;
}

/* Deletes the files of segments that come after a truncation point. */
static void remove_segment_files(log_t *log, int64_t base) {
    const char *suffixes[3] = {".log", ".index", ".timeindex"};
    for (int i = 0; i < 3; i++) {
        char *p = seg_file_path(log->dir, base, suffixes[i]);
        int rc = fs_unlink(p);
        if (rc != 0 && rc != -ENOENT) {
            slog_warn("[Log partition=%s-%d] unlink %s: %s", log->topic, log->partition, p,
                      strata_strerror(rc));
        }
        free(p);
    }
}

/* The last offset + 1 of the batches in a .log.swap file (header walk), or base. */
static int64_t swap_end(const char *path, int64_t base) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return base;
    }
    seg_reader_t r;
    seg_reader_init(&r, fd, path, st.st_size);
    int64_t pos = 0, end = base;
    for (;;) {
        const uint8_t *p;
        rb_header_t h;
        if (seg_reader_get(&r, pos, RB_HEADER_SIZE, 4096, &p) != 0) {
            break;
        }
        rb_read_header(p, &h);
        if (h.length < RB_HEADER_SIZE - 12 || h.magic != 2 || h.last_offset_delta < 0 ||
            h.base_offset < end) {
            break;
        }
        end = h.base_offset + h.last_offset_delta + 1;
        pos += (int64_t)h.length + 12;
    }
    seg_reader_destroy(&r);
    close(fd);
    return end;
}

/*
 * Finishes the log cleaner's swaps (cleaner.c): a <base>.log.swap exists only once
 * the cleaned files were complete and fsynced, so it wins: the segments whose base
 * falls in (base, end of the swap) are deleted, the .swap files take the segment
 * names. A .index.swap without its .log.swap is left for scan_dir to delete.
 */
static int complete_swaps(log_t *log) {
    DIR *d = opendir(log->dir);
    if (!d) {
        return -errno;
    }
    int64_t *swaps = NULL, *segs = NULL;
    int nswaps = 0, capswaps = 0, nsegs = 0, capsegs = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int64_t b = parse_base(e->d_name, ".log.swap");
        if (b >= 0) {
            if (nswaps == capswaps) {
                capswaps = capswaps ? capswaps * 2 : 8;
                swaps = xrealloc(swaps, (size_t)capswaps * sizeof(*swaps));
            }
            swaps[nswaps++] = b;
        } else if ((b = parse_base(e->d_name, ".log")) >= 0) {
            if (nsegs == capsegs) {
                capsegs = capsegs ? capsegs * 2 : 16;
                segs = xrealloc(segs, (size_t)capsegs * sizeof(*segs));
            }
            segs[nsegs++] = b;
        }
    }
    closedir(d);
    int rc = 0;
    for (int i = 0; i < nswaps && rc == 0; i++) {
        char *lp = seg_file_path(log->dir, swaps[i], ".log.swap");
        int64_t end = swap_end(lp, swaps[i]);
        for (int j = 0; j < nsegs; j++) {
            if (segs[j] > swaps[i] && segs[j] < end) {
                slog_info("[Log partition=%s-%d] completing a cleaner swap: removing segment "
                          "%020" PRId64 " replaced by %020" PRId64,
                          log->topic, log->partition, segs[j], swaps[i]);
                remove_segment_files(log, segs[j]);
            }
        }
        const char *names[2] = {".index", ".timeindex"};
        for (int k = 0; k < 2 && rc == 0; k++) {
            char *from = seg_file_path(log->dir, swaps[i], names[k]);
            char *sw = xasprintf("%s.swap", from);
            if (file_exists(sw)) {
                rc = fs_rename(sw, from);
            } else {
                /* Already renamed, or never written: a stale one is rebuilt on load. */
            }
            free(sw);
            free(from);
        }
        if (rc == 0) {
            char *to = seg_file_path(log->dir, swaps[i], ".log");
            rc = fs_rename(lp, to);
            free(to);
        }
        free(lp);
        if (rc != 0) {
            slog_error("[Log partition=%s-%d] complete the swap of segment %020" PRId64 ": %s",
                       log->topic, log->partition, swaps[i], strata_strerror(rc));
        }
    }
    if (rc == 0 && nswaps > 0) {
        rc = fs_fsync_dir(log->dir);
    }
    free(swaps);
    free(segs);
    return rc;
}

int log_load_segments(log_t *log, int64_t recovery_point, bool clean_shutdown) {
    int64_t *bases = NULL;
    int n = 0;
    int rc = complete_swaps(log);
    if (rc != 0) {
        return rc;
    }
    rc = scan_dir(log, &bases, &n);
    if (rc != 0) {
        return rc;
    }
    const log_config_t *cfg = &log->cfg;
    int64_t scanned_from = -1, cut_bytes = 0;
    for (int i = 0; i < n; i++) {
        seg_t *s;
        char *op = seg_file_path(log->dir, bases[i], ".index");
        char *tp = seg_file_path(log->dir, bases[i], ".timeindex");
        bool missing = !file_exists(op) || !file_exists(tp);
        free(op);
        free(tp);
        rc = seg_open_files(log->dir, bases[i], &s);
        if (rc != 0) {
            char *lp = seg_file_path(log->dir, bases[i], ".log");
            slog_error("[Log partition=%s-%d] open %s: %s", log->topic, log->partition, lp,
                       strata_strerror(rc));
            free(lp);
            goto fail;
        }
        log_push_segment(log, s);
        bool last = i == n - 1;
        int64_t next_base = last ? -1 : bases[i + 1];
        if (!clean_shutdown && (last || next_base > recovery_point)) {
            /* Holds offsets at or past the recovery point: walk it. */
            int64_t cut = 0;
            if (scanned_from < 0) {
                scanned_from = bases[i];
            }
            rc = seg_recover(s, recovery_point, cfg->index_interval_bytes,
                             cfg->index_size_max_bytes, &cut);
            if (rc != 0) {
                slog_error("[Log partition=%s-%d] recover %s: %s", log->topic, log->partition,
                           s->log_path, strata_strerror(rc));
                goto fail;
            }
            /* A segment may end before the next one begins (the cleaner removed its
             * last records); running into the next one is corruption. */
            bool gap = !last && s->next_offset > next_base;
            if (!last && cut == 0 && s->next_offset < next_base) {
                s->next_offset = next_base;
            }
            if (cut > 0 || gap) {
                slog_warn("[Log partition=%s-%d] %s: cut %" PRId64
                          " bytes of torn or corrupt data at position %" PRId64
                          "; log end is now %" PRId64,
                          log->topic, log->partition, s->log_path, cut, s->size, s->next_offset);
                cut_bytes += cut;
                for (int j = i + 1; j < n; j++) {
                    slog_warn("[Log partition=%s-%d] removing segment %020" PRId64
                              " after the corruption",
                              log->topic, log->partition, bases[j]);
                    remove_segment_files(log, bases[j]);
                }
                n = i + 1;
                last = true;
            }
            if (!last && (rc = seg_seal(s)) != 0) {
                goto fail;
            }
        } else {
            rc = seg_load(s, next_base, missing, cfg->index_interval_bytes,
                          cfg->index_size_max_bytes);
            if (rc < 0) {
                slog_error("[Log partition=%s-%d] load %s: %s", log->topic, log->partition,
                           s->log_path, strata_strerror(rc));
                goto fail;
            }
            if (rc == 1) {
                slog_warn("[Log partition=%s-%d] rebuilt the indexes of %s", log->topic,
                          log->partition, s->log_path);
            }
        }
    }
    if (log->nsegs == 0) {
        seg_t *s;
        rc = seg_create(log->dir, 0, cfg->index_size_max_bytes, &s);
        if (rc != 0) {
            slog_error("[Log partition=%s-%d] create segment in %s: %s", log->topic, log->partition,
                       log->dir, strata_strerror(rc));
            goto fail;
        }
        log_push_segment(log, s);
        log->dir_dirty = true;
    }
    seg_t *active = log_active(log);
    if ((rc = seg_unseal(active, cfg->index_size_max_bytes)) != 0) {
        slog_error("[Log partition=%s-%d] resize indexes of %s: %s", log->topic, log->partition,
                   active->log_path, strata_strerror(rc));
        goto fail;
    }
    seg_first_batch_ts(active); /* log.roll.ms counts from its first batch's timestamp */
    log->start_offset = log->segs[0]->base_offset;
    int64_t leo = active->next_offset;
    log->recovery_point = clean_shutdown ? leo : (recovery_point < leo ? recovery_point : leo);
    if (log->recovery_point < log->start_offset) {
        log->recovery_point = log->start_offset;
    }
    if (scanned_from >= 0) {
        slog_info("[Log partition=%s-%d, dir=%s] recovered from segment %" PRId64
                  " (recovery point %" PRId64 "): log end %" PRId64 ", %" PRId64 " bytes cut",
                  log->topic, log->partition, log->dir, scanned_from, recovery_point, leo,
                  cut_bytes);
    }
    free(bases);
    return 0;
fail:
    free(bases);
    return rc;
}
