/*
 * log_manager: every partition log under log.dirs. At open it discovers
 * <topic>-<partition> directories (topics may contain '-': the partition follows the
 * last one), reads recovery-point-offset-checkpoint and log-start-offset-checkpoint,
 * opens each log (recovery runs there, skipped after a clean shutdown, which the
 * .kafka_cleanshutdown marker records) and removes the marker. logmgr_tick runs
 * retention and interval flushes and writes the checkpoints on the executor;
 * logmgr_shutdown flushes everything, writes the checkpoints and the marker.
 *
 * A log dir whose log hit an I/O error goes offline with every log in it (Kafka's
 * logDirFailureChannel).
 */
#include "storage/storage_int.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CLEAN_SHUTDOWN_FILE ".kafka_cleanshutdown"
#define RECOVERY_CKPT_FILE  "recovery-point-offset-checkpoint"
#define START_CKPT_FILE     "log-start-offset-checkpoint"
#define CLEANER_CKPT_FILE   "cleaner-offset-checkpoint"
#define CKPT_INTERVAL_MS    60000

typedef struct mgr_dir {
    char *path;
    bool offline;
    size_t nlogs;
} mgr_dir_t;

typedef struct mgr_entry {
    log_t *log;
    size_t dir;
    int64_t clean_ckpt;   /* cleaner-offset-checkpoint: the first dirty offset */
    int64_t ckpt_start;   /* the log start offset the last checkpoint snapshot holds */
    uint64_t incarnation; /* unique per add_log: a pass recognises its log by it */
} mgr_entry_t;

/* The cleaning pass in flight (at most one, as one Kafka cleaner thread). */
typedef struct mgr_clean {
    logmgr_t *mgr; /* NULL once the manager was freed */
    char *key;
    uint64_t incarnation; /* of the entry the pass started on */
} mgr_clean_t;

struct logmgr {
    mgr_dir_t *dirs;
    size_t ndirs;
    log_config_t defaults;
    strata_executor_t exec;
    map_t *logs; /* "<topic>-<partition>" -> mgr_entry_t */
    int64_t last_ckpt_ms;
    int64_t ckpt_interval_ms;
    int ckpt_inflight; /* atomic: a checkpoint job is running */
    bool ckpt_dirty;
    logmgr_cleaner_config_t cleaner;
    int64_t cleaner_last_ms;
    mgr_clean_t *cleaning;
    int64_t cleaner_passes;
    uint64_t next_incarnation;
    ckpt_entry_t *clean_ckpts; /* read at open, taken by add_log */
    logmgr_clean_limit_fn clean_limit;
    void *clean_limit_arg;
    size_t nclean_ckpts;
};

static char *log_key(const char *topic, int32_t partition) {
    return xasprintf("%s-%" PRId32, topic, partition);
}

static int64_t mgr_now(const logmgr_t *m) {
    return m->defaults.now_ms ? m->defaults.now_ms(m->defaults.now_arg) : clock_wall_ms();
}

static bool valid_topic(const char *t) {
    size_t n = strlen(t);
    if (n == 0 || n > 249 || strcmp(t, ".") == 0 || strcmp(t, "..") == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

/* "<topic>-<partition>" -> topic (owned) and partition. @returns false when not a log dir. */
static bool parse_log_dir(const char *name, char **topic, int32_t *partition) {
    const char *dash = strrchr(name, '-');
    if (!dash || dash == name || dash[1] == 0) {
        return false;
    }
    int64_t p = 0;
    for (const char *c = dash + 1; *c; c++) {
        if (*c < '0' || *c > '9' || p > INT32_MAX / 10) {
            return false;
        }
        p = p * 10 + (*c - '0');
    }
    if (p > INT32_MAX) {
        return false;
    }
    char *t = xstrndup(name, (size_t)(dash - name));
    if (!valid_topic(t)) {
        free(t);
        return false;
    }
    *topic = t;
    *partition = (int32_t)p;
    return true;
}

static int64_t ckpt_lookup(const ckpt_entry_t *e, size_t n, const char *topic, int32_t part,
                           int64_t def) {
    for (size_t i = 0; i < n; i++) {
        if (e[i].partition == part && strcmp(e[i].topic, topic) == 0) {
            return e[i].offset;
        }
    }
    return def;
}

/* A checkpointed start offset inside the log (never below its first segment, which
 * log_open already starts at, never above its end, e.g. after recovery cut the tail). */
static void restore_start_offset(log_t *log, int64_t ckpt) {
    if (ckpt <= log_start_offset(log)) {
        return;
    }
    if (ckpt > log_end_offset(log)) {
        slog_warn("[Log partition=%s-%d] checkpointed log start offset %" PRId64
                  " is past the log end %" PRId64 "; starting at the log end",
                  log_topic(log), log_partition(log), ckpt, log_end_offset(log));
        ckpt = log_end_offset(log);
    }
    log_advance_start_offset(log, ckpt);
}

static void add_log(logmgr_t *m, log_t *log, size_t dir) {
    mgr_entry_t *e = xcalloc(1, sizeof(*e));
    e->log = log;
    e->dir = dir;
    e->incarnation = ++m->next_incarnation;
    e->clean_ckpt =
        ckpt_lookup(m->clean_ckpts, m->nclean_ckpts, log_topic(log), log_partition(log), 0);
    char *key = log_key(log_topic(log), log_partition(log));
    map_put_str(m->logs, key, e);
    free(key);
    m->dirs[dir].nlogs++;
    m->ckpt_dirty = true;
}

static int open_dir(logmgr_t *m, size_t di) {
    mgr_dir_t *d = &m->dirs[di];
    int rc = fs_mkdirs(d->path, 0755);
    if (rc != 0) {
        slog_error("log dir %s: %s", d->path, strata_strerror(rc));
        return rc;
    }
    char *rp_path = xasprintf("%s/%s", d->path, RECOVERY_CKPT_FILE);
    char *so_path = xasprintf("%s/%s", d->path, START_CKPT_FILE);
    char *cc_path = xasprintf("%s/%s", d->path, CLEANER_CKPT_FILE);
    if (ckpt_read(cc_path, &m->clean_ckpts, &m->nclean_ckpts) != 0) {
        /* Kafka too: the cleaner starts over from each log's start (safe, slower). */
        slog_warn("log dir %s: ignoring unreadable %s", d->path, cc_path);
    }
    free(cc_path);
    ckpt_entry_t *sos = NULL;
    size_t nsos = 0;
    char *marker = xasprintf("%s/%s", d->path, CLEAN_SHUTDOWN_FILE);
    ckpt_entry_t *rps = NULL;
    size_t nrps = 0;
    struct stat st;
    bool clean = stat(marker, &st) == 0;
    DIR *dh = NULL;
    rc = ckpt_read(rp_path, &rps, &nrps);
    if (rc != 0) {
        /* Without recovery points every log is scanned in full: slow but safe. */
        slog_warn("log dir %s: ignoring unreadable %s", d->path, rp_path);
        clean = false;
    }
    if (ckpt_read(so_path, &sos, &nsos) != 0) {
        /* Start offsets fall back to each log's first segment: offsets below a start
         * inside a segment become readable again, nothing is lost. */
        slog_warn("log dir %s: ignoring unreadable %s", d->path, so_path);
    }
    dh = opendir(d->path);
    if (!dh) {
        rc = -errno;
        slog_error("log dir %s: %s", d->path, strata_strerror(rc));
        goto done;
    }
    rc = 0;
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        char *topic;
        int32_t part;
        if (de->d_name[0] == '.') {
            continue;
        }
        char *sub = xasprintf("%s/%s", d->path, de->d_name);
        if (stat(sub, &st) != 0 || !S_ISDIR(st.st_mode)) {
            free(sub);
            continue;
        }
        size_t nl = strlen(de->d_name);
        if (nl > 7 && strcmp(de->d_name + nl - 7, "-delete") == 0) {
            fs_remove_tree(sub); /* a deletion interrupted by a crash */
            free(sub);
            continue;
        }
        free(sub);
        if (!parse_log_dir(de->d_name, &topic, &part)) {
            continue;
        }
        if (logmgr_get(m, topic, part)) {
            slog_error("log dir %s: %s-%d exists in two log dirs; ignoring this copy", d->path,
                       topic, part);
            free(topic);
            continue;
        }
        log_t *log;
        int64_t rp = ckpt_lookup(rps, nrps, topic, part, 0);
        int lrc = log_open(d->path, topic, part, &m->defaults, &m->exec, rp, clean, &log);
        if (lrc != 0) {
            slog_error("log dir %s: cannot open %s-%d: %s; the dir goes offline", d->path, topic,
                       part, strata_strerror(lrc));
            d->offline = true;
            free(topic);
            rc = lrc;
            continue;
        }
        restore_start_offset(log, ckpt_lookup(sos, nsos, topic, part, -1));
        add_log(m, log, di);
        free(topic);
    }
    if (clean) {
        int urc = fs_unlink(marker);
        if (urc == 0) {
            urc = fs_fsync_dir(d->path);
        }
        if (urc != 0) {
            slog_error("log dir %s: remove %s: %s", d->path, marker, strata_strerror(urc));
            rc = urc;
        }
    }
done:
    ckpt_free(m->clean_ckpts, m->nclean_ckpts);
    m->clean_ckpts = NULL;
    m->nclean_ckpts = 0;
    if (dh) {
        closedir(dh);
    }
    ckpt_free(rps, nrps);
    ckpt_free(sos, nsos);
    free(so_path);
    free(rp_path);
    free(marker);
    return rc;
}

int logmgr_open(const char *const *dirs, size_t ndirs, const log_config_t *defaults,
                const strata_executor_t *executor, logmgr_t **out) {
    *out = NULL;
    if (ndirs == 0) {
        return STRATA_EINVAL;
    }
    logmgr_t *m = xcalloc(1, sizeof(*m));
    m->dirs = xcalloc(ndirs, sizeof(*m->dirs));
    m->ndirs = ndirs;
    if (defaults) {
        m->defaults = *defaults;
    } else {
        log_config_default(&m->defaults);
    }
    m->exec = executor ? *executor : strata_inline_executor;
    m->logs = map_new();
    size_t usable = 0;
    int first_err = 0;
    for (size_t i = 0; i < ndirs; i++) {
        m->dirs[i].path = xstrdup(dirs[i]);
        int rc = open_dir(m, i);
        if (rc != 0) {
            m->dirs[i].offline = true;
            if (first_err == 0) {
                first_err = rc;
            }
        } else {
            usable++;
        }
    }
    if (usable == 0) {
        logmgr_free(m);
        return first_err ? first_err : STRATA_EOFFLINE;
    }
    m->last_ckpt_ms = mgr_now(m);
    m->ckpt_interval_ms = CKPT_INTERVAL_MS;
    m->cleaner.enable = true;
    m->cleaner.backoff_ms = 15000;
    m->cleaner_last_ms = mgr_now(m);
    *out = m;
    return 0;
}

log_t *logmgr_get(logmgr_t *m, const char *topic, int32_t partition) {
    char *key = log_key(topic, partition);
    mgr_entry_t *e = map_get_str(m->logs, key);
    free(key);
    return e ? e->log : NULL;
}

int logmgr_create(logmgr_t *m, const char *topic, int32_t partition, const log_config_t *cfg,
                  log_t **out) {
    *out = NULL;
    if (!valid_topic(topic) || partition < 0) {
        return STRATA_EINVAL;
    }
    log_t *log = logmgr_get(m, topic, partition);
    if (log) {
        if (cfg) {
            int rc = log_set_config(log, cfg);
            if (rc != 0) {
                return rc;
            }
        }
        *out = log;
        return 0;
    }
    size_t best = m->ndirs;
    for (size_t i = 0; i < m->ndirs; i++) {
        if (!m->dirs[i].offline && (best == m->ndirs || m->dirs[i].nlogs < m->dirs[best].nlogs)) {
            best = i;
        }
    }
    if (best == m->ndirs) {
        return STRATA_EOFFLINE;
    }
    int rc = log_open(m->dirs[best].path, topic, partition, cfg ? cfg : &m->defaults, &m->exec, 0,
                      false, &log);
    if (rc != 0) {
        return rc;
    }
    add_log(m, log, best);
    *out = log;
    return 0;
}

int logmgr_delete(logmgr_t *m, const char *topic, int32_t partition) {
    char *key = log_key(topic, partition);
    mgr_entry_t *e = map_remove_str(m->logs, key);
    free(key);
    if (!e) {
        return STRATA_ENOTFOUND;
    }
    m->dirs[e->dir].nlogs--;
    int rc = log_delete(e->log);
    free(e);
    m->ckpt_dirty = true;
    return rc;
}

void logmgr_foreach(logmgr_t *m, void (*fn)(log_t *log, void *arg), void *arg) {
    map_iter_t it = MAP_ITER_INIT;
    const void *k;
    size_t kl;
    void *v;
    while (map_next(m->logs, &it, &k, &kl, &v)) {
        fn(((mgr_entry_t *)v)->log, arg);
    }
}

const char *logmgr_dir(const logmgr_t *m, size_t i) {
    return i < m->ndirs ? m->dirs[i].path : NULL;
}

size_t logmgr_dir_count(const logmgr_t *m) {
    return m->ndirs;
}

const strata_executor_t *logmgr_executor(const logmgr_t *mgr) {
    return &mgr->exec;
}

void logmgr_set_checkpoint_interval(logmgr_t *m, int64_t ms) {
    m->ckpt_interval_ms = ms > 0 ? ms : CKPT_INTERVAL_MS;
}

bool logmgr_dir_offline(const logmgr_t *m, size_t i) {
    return i < m->ndirs && m->dirs[i].offline;
}

/* ---------------------------------------------------------------- checkpoints */

typedef struct ckpt_file {
    char *path;
    ckpt_entry_t *entries;
    size_t n;
} ckpt_file_t;

typedef struct ckpt_job {
    logmgr_t *mgr;
    ckpt_file_t *files;
    size_t nfiles;
} ckpt_job_t;

/* Snapshot of both checkpoint files of every online dir, taken on the loop thread. */
static ckpt_job_t *snapshot(logmgr_t *m) {
    ckpt_job_t *job = xcalloc(1, sizeof(*job));
    job->mgr = m;
    job->files = xcalloc(m->ndirs * 3, sizeof(*job->files));
    for (size_t d = 0; d < m->ndirs; d++) {
        if (m->dirs[d].offline) {
            continue;
        }
        ckpt_file_t *rp = &job->files[job->nfiles++];
        ckpt_file_t *so = &job->files[job->nfiles++];
        rp->path = xasprintf("%s/%s", m->dirs[d].path, RECOVERY_CKPT_FILE);
        so->path = xasprintf("%s/%s", m->dirs[d].path, START_CKPT_FILE);
        ckpt_file_t *cc = &job->files[job->nfiles++];
        cc->path = xasprintf("%s/%s", m->dirs[d].path, CLEANER_CKPT_FILE);
        rp->entries = xcalloc(m->dirs[d].nlogs + 1, sizeof(ckpt_entry_t));
        so->entries = xcalloc(m->dirs[d].nlogs + 1, sizeof(ckpt_entry_t));
        cc->entries = xcalloc(m->dirs[d].nlogs + 1, sizeof(ckpt_entry_t));
        map_iter_t it = MAP_ITER_INIT;
        const void *k;
        size_t kl;
        void *v;
        while (map_next(m->logs, &it, &k, &kl, &v)) {
            mgr_entry_t *e = v;
            if (e->dir != d || log_is_offline(e->log)) {
                continue;
            }
            rp->entries[rp->n].topic = xstrdup(log_topic(e->log));
            rp->entries[rp->n].partition = log_partition(e->log);
            rp->entries[rp->n++].offset = log_recovery_point(e->log);
            so->entries[so->n].topic = xstrdup(log_topic(e->log));
            so->entries[so->n].partition = log_partition(e->log);
            so->entries[so->n++].offset = log_start_offset(e->log);
            e->ckpt_start = log_start_offset(e->log);
            if (log_config(e->log)->cleanup_compact && e->clean_ckpt > 0) {
                cc->entries[cc->n].topic = xstrdup(log_topic(e->log));
                cc->entries[cc->n].partition = log_partition(e->log);
                cc->entries[cc->n++].offset = e->clean_ckpt;
            }
        }
    }
    return job;
}

static void ckpt_work(void *arg) {
    ckpt_job_t *job = arg;
    for (size_t i = 0; i < job->nfiles; i++) {
        ckpt_write(job->files[i].path, job->files[i].entries, job->files[i].n);
    }
    __atomic_store_n(&job->mgr->ckpt_inflight, 0, __ATOMIC_RELEASE);
}

static void ckpt_job_free(ckpt_job_t *job) {
    for (size_t i = 0; i < job->nfiles; i++) {
        free(job->files[i].path);
        ckpt_free(job->files[i].entries, job->files[i].n);
    }
    free(job->files);
    free(job);
}

static void ckpt_after(void *arg) {
    ckpt_job_free(arg);
}

static void write_checkpoints_async(logmgr_t *m) {
    if (__atomic_load_n(&m->ckpt_inflight, __ATOMIC_ACQUIRE)) {
        return;
    }
    ckpt_job_t *job = snapshot(m);
    m->ckpt_dirty = false;
    m->last_ckpt_ms = mgr_now(m);
    __atomic_store_n(&m->ckpt_inflight, 1, __ATOMIC_RELEASE);
    m->exec.submit(m->exec.ctx, ckpt_work, ckpt_after, job);
}

/* Waits (bounded) for a checkpoint job running on a worker: shutdown only. */
static void wait_ckpt_job(logmgr_t *m) {
    for (int i = 0; i < 10000 && __atomic_load_n(&m->ckpt_inflight, __ATOMIC_ACQUIRE); i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

/* ---------------------------------------------------------------- cleaner */

void logmgr_set_cleaner(logmgr_t *m, const logmgr_cleaner_config_t *cfg) {
    m->cleaner = *cfg;
    if (m->cleaner.backoff_ms < 0) {
        m->cleaner.backoff_ms = 0;
    }
}

int64_t logmgr_cleaner_checkpoint(logmgr_t *m, const char *topic, int32_t partition) {
    char *key = log_key(topic, partition);
    mgr_entry_t *e = map_get_str(m->logs, key);
    free(key);
    return e ? e->clean_ckpt : 0;
}

void logmgr_set_clean_limit(logmgr_t *m, logmgr_clean_limit_fn fn, void *arg) {
    m->clean_limit = fn;
    m->clean_limit_arg = arg;
}

int64_t logmgr_cleaner_passes(const logmgr_t *m) {
    return m->cleaner_passes;
}

static void on_cleaned(void *arg, int status, const log_clean_stats_t *stats) {
    mgr_clean_t *c = arg;
    logmgr_t *m = c->mgr;
    if (m) {
        m->cleaning = NULL;
        m->cleaner_last_ms = mgr_now(m);
        mgr_entry_t *e = map_get_str(m->logs, c->key);
        /* not a log of the same name re-created while the pass ran */
        if (e && e->incarnation == c->incarnation && status == 0) {
            e->clean_ckpt = stats->end_offset;
            m->cleaner_passes++;
            m->ckpt_dirty = true;
        }
    }
    free(c->key);
    free(c);
}

/*
 * Kafka's LogCleanerManager.grabFilthiestCompactedLog: among the online logs with
 * cleanup.policy compact, the one with the highest dirty ratio at or above its
 * min.cleanable.dirty.ratio; one pass at a time, log.cleaner.backoff.ms between looks.
 */
static void maybe_clean(logmgr_t *m) {
    if (!m->cleaner.enable || m->cleaning ||
        mgr_now(m) - m->cleaner_last_ms < m->cleaner.backoff_ms) {
        return;
    }
    m->cleaner_last_ms = mgr_now(m);
    mgr_entry_t *best = NULL;
    double best_ratio = 0;
    map_iter_t it = MAP_ITER_INIT;
    const void *k;
    size_t kl;
    void *v;
    while (map_next(m->logs, &it, &k, &kl, &v)) {
        mgr_entry_t *e = v;
        const log_config_t *c = log_config(e->log);
        if (!c->cleanup_compact || log_is_offline(e->log) || log_cleaning(e->log)) {
            continue;
        }
        if (m->clean_limit) {
            int64_t lim =
                m->clean_limit(m->clean_limit_arg, log_topic(e->log), log_partition(e->log));
            log_set_clean_limit(e->log, lim < 0 ? 0 : lim);
        }
        int64_t end;
        double r = log_cleanable_ratio(e->log, e->clean_ckpt, &end);
        if (r > 0 && r >= c->min_cleanable_ratio && r > best_ratio) {
            best = e;
            best_ratio = r;
        }
    }
    if (!best) {
        return;
    }
    mgr_clean_t *c = xcalloc(1, sizeof(*c));
    c->mgr = m;
    c->key = log_key(log_topic(best->log), log_partition(best->log));
    c->incarnation = best->incarnation;
    m->cleaning = c;
    int rc = log_clean(best->log, best->clean_ckpt, false, on_cleaned, c);
    if (rc != 0) {
        if (m->cleaning == c) {
            m->cleaning = NULL;
            free(c->key);
            free(c);
        }
    }
}

static void tick_log(log_t *log, void *arg) {
    logmgr_t *m = arg;
    int64_t start = log_start_offset(log);
    if (!log_is_offline(log)) {
        log_apply_retention(log); /* also unlinks *.deleted files that are due */
        log_maybe_flush(log);
    }
    if (log_start_offset(log) != start) {
        m->ckpt_dirty = true;
    }
}

void logmgr_tick(logmgr_t *m) {
    /* A log that failed takes its whole dir offline. */
    map_iter_t it = MAP_ITER_INIT;
    const void *k;
    size_t kl;
    void *v;
    while (map_next(m->logs, &it, &k, &kl, &v)) {
        mgr_entry_t *e = v;
        if (log_is_offline(e->log) && !m->dirs[e->dir].offline) {
            slog_error("log dir %s goes offline after an I/O error in %s-%d", m->dirs[e->dir].path,
                       log_topic(e->log), log_partition(e->log));
            m->dirs[e->dir].offline = true;
        }
    }
    it = (map_iter_t)MAP_ITER_INIT;
    while (map_next(m->logs, &it, &k, &kl, &v)) {
        mgr_entry_t *e = v;
        if (m->dirs[e->dir].offline && !log_is_offline(e->log)) {
            e->log->offline = true;
        }
        if (log_start_offset(e->log) != e->ckpt_start) {
            m->ckpt_dirty = true; /* log_advance_start_offset, truncation: checkpoint it now */
        }
    }
    logmgr_foreach(m, tick_log, m);
    maybe_clean(m);
    if (m->ckpt_dirty || mgr_now(m) - m->last_ckpt_ms >= m->ckpt_interval_ms) {
        write_checkpoints_async(m);
    }
}

int logmgr_shutdown(logmgr_t *m) {
    int err = 0;
    wait_ckpt_job(m);
    /* 1. Everything to disk; a dir with a failure gets no clean marker. */
    map_iter_t it = MAP_ITER_INIT;
    const void *k;
    size_t kl;
    void *v;
    while (map_next(m->logs, &it, &k, &kl, &v)) {
        mgr_entry_t *e = v;
        if (m->dirs[e->dir].offline) {
            continue;
        }
        int rc = log_flush_sync(e->log);
        if (rc != 0) {
            m->dirs[e->dir].offline = true;
            err = err ? err : rc;
        }
    }
    /* 2. Checkpoints, with every recovery point at its log end. */
    ckpt_job_t *job = snapshot(m);
    for (size_t i = 0; i < job->nfiles; i++) {
        int rc = ckpt_write(job->files[i].path, job->files[i].entries, job->files[i].n);
        if (rc != 0) {
            err = err ? err : rc;
            for (size_t d = 0; d < m->ndirs; d++) {
                if (strncmp(job->files[i].path, m->dirs[d].path, strlen(m->dirs[d].path)) == 0) {
                    m->dirs[d].offline = true;
                }
            }
        }
    }
    ckpt_job_free(job);
    /* 3. Close every log cleanly (indexes trimmed and synced). */
    it = (map_iter_t)MAP_ITER_INIT;
    while (map_next(m->logs, &it, &k, &kl, &v)) {
        mgr_entry_t *e = v;
        map_remove(m->logs, k, kl);
        int rc = m->dirs[e->dir].offline ? STRATA_EOFFLINE : log_close_clean(e->log);
        if (m->dirs[e->dir].offline) {
            log_close(e->log);
        }
        if (rc != 0) {
            m->dirs[e->dir].offline = true;
            err = err ? err : rc;
        }
        m->dirs[e->dir].nlogs--;
        free(e);
    }
    /* 4. The marker that lets the next start skip recovery. */
    for (size_t d = 0; d < m->ndirs; d++) {
        if (m->dirs[d].offline) {
            continue;
        }
        char *marker = xasprintf("%s/%s", m->dirs[d].path, CLEAN_SHUTDOWN_FILE);
        int rc = fs_atomic_replace(marker, "", 0);
        if (rc != 0) {
            slog_error("write %s: %s", marker, strata_strerror(rc));
            err = err ? err : rc;
        }
        free(marker);
    }
    return err;
}

static void free_entry(void *v) {
    mgr_entry_t *e = v;
    log_close(e->log);
    free(e);
}

void logmgr_free(logmgr_t *m) {
    if (!m) {
        return;
    }
    wait_ckpt_job(m);
    if (m->cleaning) {
        m->cleaning->mgr = NULL; /* its callback comes after the logs are gone */
    }
    map_free(m->logs, free_entry);
    for (size_t i = 0; i < m->ndirs; i++) {
        free(m->dirs[i].path);
    }
    free(m->dirs);
    free(m);
}

/* ---------------------------------------------------------------- meta.properties */

int logmgr_check_meta(logmgr_t *m, int32_t broker_id, const char *cluster_id) {
    int err = 0;
    for (size_t d = 0; d < m->ndirs; d++) {
        if (m->dirs[d].offline) {
            continue;
        }
        char *path = xasprintf("%s/meta.properties", m->dirs[d].path);
        props_t *p = props_new();
        char msg[256];
        int rc = props_load_file(p, path, msg, sizeof(msg));
        if (rc == -ENOENT) {
            char *text = cluster_id ? xasprintf("version=0\nbroker.id=%" PRId32 "\ncluster.id=%s\n",
                                                broker_id, cluster_id)
                                    : xasprintf("version=0\nbroker.id=%" PRId32 "\n", broker_id);
            rc = fs_atomic_replace(path, text, strlen(text));
            free(text);
            if (rc != 0) {
                slog_error("write %s: %s", path, strata_strerror(rc));
            }
        } else if (rc != 0) {
            slog_error("read %s: %s", path, rc == STRATA_ECONFIG ? msg : strata_strerror(rc));
        } else {
            const char *bid = props_get(p, "broker.id");
            const char *cid = props_get(p, "cluster.id");
            int64_t v;
            if (!bid || parse_int64(bid, &v) != 0 || v != broker_id) {
                slog_error("%s has broker.id=%s but this broker is %" PRId32
                           "; was the log dir copied from another broker?",
                           path, bid ? bid : "(none)", broker_id);
                rc = STRATA_ECONFIG;
            } else if (cid && cluster_id && strcmp(cid, cluster_id) != 0) {
                slog_error("%s has cluster.id=%s but the cluster is %s", path, cid, cluster_id);
                rc = STRATA_ECONFIG;
            }
        }
        props_free(p);
        free(path);
        if (rc != 0 && err == 0) {
            err = rc;
        }
    }
    return err;
}
