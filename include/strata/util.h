/*
 * util: the bottom layer every module uses. Errors, diagnostics logging (slog_),
 * allocation that aborts on OOM, growable byte buffers, big-endian helpers,
 * CRC-32C, a hash map keyed by bytes (xxhash), clocks, the .properties reader
 * with a typed config table, and file-system helpers with a fault seam for tests.
 *
 * Depends on libc, xxhash and pthreads only. Nothing here knows about libuv.
 */
#ifndef STRATA_UTIL_H
#define STRATA_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---------------------------------------------------------------- errors */

/*
 * Functions return 0 on success, a negative errno (-ENOENT, ...) passed through
 * from the OS or libuv, or one of these (LMDB-style reserved range).
 */
enum {
    STRATA_EBASE = -30000,
    STRATA_ECORRUPT = -30000,      /* bad CRC, bad sizes, torn or garbled bytes */
    STRATA_EOFFSET_RANGE = -29999, /* offset outside [log start, log end] */
    STRATA_ETOO_LARGE = -29998,    /* batch over message.max.bytes */
    STRATA_EOFFLINE = -29997,      /* log or log dir went offline after an I/O error */
    STRATA_ENOTFOUND = -29996,     /* no such topic, partition, node, key */
    STRATA_EEXISTS = -29995,       /* already exists */
    STRATA_ECONFIG = -29994,       /* malformed or out-of-range configuration */
    STRATA_EFULL = -29993,         /* index or buffer full */
    STRATA_EBADVERSION = -29992,   /* version-checked write lost the race */
    STRATA_ECONNLOSS = -29991,     /* coordination service unreachable (retry) */
    STRATA_ESESSION = -29990,      /* coordination session expired */
    STRATA_EINVAL = -29989,        /* invalid argument or request */
    STRATA_ENOTEMPTY = -29988,     /* node has children */
    STRATA_ESHUTDOWN = -29987,     /* object is closing */
    STRATA_ELAST = -29987
};

/** @returns a static message for a STRATA_E* code or a negative errno. */
const char *strata_strerror(int err);

/* Invariant checks that stay on in release builds. Never for bad input. */
#define STRATA_ASSERT(cond)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            strata_assert_fail(#cond, __FILE__, __LINE__);                                         \
        }                                                                                          \
    } while (0)
_Noreturn void strata_assert_fail(const char *expr, const char *file, int line);

/* ---------------------------------------------------------------- allocation */

/* These abort with a message when memory runs out. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/** printf into a new string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---------------------------------------------------------------- arena */

/*
 * A bump allocator (nginx pool): a decoded request lives in one arena that is freed
 * after its response is written. Allocations are 8-byte aligned and zeroed.
 */
typedef struct arena arena_t;
arena_t *arena_new(size_t chunk_size); /* 0 = 16 KiB chunks */
void arena_free(arena_t *a);           /* NULL is a no-op */
void arena_reset(arena_t *a);          /* frees all allocations, keeps the first chunk */
void *arena_alloc(arena_t *a, size_t n);
char *arena_strndup(arena_t *a, const char *s, size_t n);

/* ---------------------------------------------------------------- diagnostics (slog_) */

typedef enum { SLOG_DEBUG = 0, SLOG_INFO = 1, SLOG_WARN = 2, SLOG_ERROR = 3 } slog_level_t;

/** Lines below this level are dropped. Default SLOG_INFO; env STRATA_LOG_LEVEL overrides. */
void slog_set_level(slog_level_t level);
slog_level_t slog_get_level(void);
/** Parses "debug", "info", "warn", "error" (case-insensitive). @returns 0 or STRATA_EINVAL. */
int slog_parse_level(const char *name, slog_level_t *out);
/**
 * Writes "[2026-11-25 11:39:23,123] INFO message\n" to stderr in one write(2).
 * @locality any
 */
void slog(slog_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void slog_v(slog_level_t level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
#define slog_debug(...) slog(SLOG_DEBUG, __VA_ARGS__)
#define slog_info(...)  slog(SLOG_INFO, __VA_ARGS__)
#define slog_warn(...)  slog(SLOG_WARN, __VA_ARGS__)
#define slog_error(...) slog(SLOG_ERROR, __VA_ARGS__)

/* ---------------------------------------------------------------- buffers */

/* A growable byte buffer. Zero-initialised (BUF_INIT) is an empty buffer. */
typedef struct buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} buf_t;
#define BUF_INIT                                                                                   \
    { NULL, 0, 0 }

void buf_init(buf_t *b);
void buf_destroy(buf_t *b);               /* frees the storage; b is empty afterwards */
void buf_reset(buf_t *b);                 /* len = 0, keeps the storage */
void buf_reserve(buf_t *b, size_t extra); /* room for extra more bytes */
void buf_append(buf_t *b, const void *data, size_t n);
/** Appends n bytes of uninitialised space and returns a pointer to them. */
uint8_t *buf_extend(buf_t *b, size_t n);

/* ---------------------------------------------------------------- big-endian */

static inline uint16_t be16_get(const uint8_t *p) {
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t be32_get(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t be64_get(const uint8_t *p) {
    return (uint64_t)be32_get(p) << 32 | be32_get(p + 4);
}
static inline void be16_put(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void be32_put(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void be64_put(uint8_t *p, uint64_t v) {
    be32_put(p, (uint32_t)(v >> 32));
    be32_put(p + 4, (uint32_t)v);
}

/* ---------------------------------------------------------------- CRC-32C */

/**
 * CRC-32C (Castagnoli), continuing from crc (0 to start): crc32c(0, "123456789", 9)
 * == 0xE3069283. Uses the fastest implementation the CPU has (AVX-512 VPCLMULQDQ
 * folding, three-stream SSE4.2 crc32 + PCLMULQDQ, one-stream SSE4.2), a slicing table
 * otherwise.
 */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);
/** The table implementation, exposed so tests can compare both paths. */
uint32_t crc32c_sw(uint32_t crc, const void *data, size_t len);
typedef uint32_t (*crc32c_fn)(uint32_t crc, const void *data, size_t len);
/**
 * The implementations this CPU can run, for tests and benchmarks: i = 0 is crc32c_sw,
 * higher i faster ones; NULL past the last (which is the one crc32c() uses). *name (if
 * not NULL) gets a short label.
 */
crc32c_fn crc32c_variant(int i, const char **name);

/* ---------------------------------------------------------------- hash map */

/*
 * An open-addressing hash map from byte-string keys (copied in) to void *
 * values (borrowed). xxhash (XXH3) hashes the keys. Not thread-safe.
 */
typedef struct map map_t;
typedef struct map_iter {
    size_t slot;
} map_iter_t;
#define MAP_ITER_INIT                                                                              \
    { 0 }

map_t *map_new(void);
/** Frees the map; calls free_value on every value when not NULL. NULL is a no-op. */
void map_free(map_t *m, void (*free_value)(void *));
void *map_get(const map_t *m, const void *key, size_t key_len);
/** Inserts or replaces. @returns the replaced value or NULL. */
void *map_put(map_t *m, const void *key, size_t key_len, void *value);
/** @returns the removed value or NULL when absent. */
void *map_remove(map_t *m, const void *key, size_t key_len);
size_t map_count(const map_t *m);
/**
 * Iterates: while (map_next(m, &it, &k, &klen, &v)) {...}. Removing the entry just
 * returned is allowed during iteration; inserting is not.
 */
bool map_next(const map_t *m, map_iter_t *it, const void **key, size_t *key_len, void **value);
/* NUL-terminated string key conveniences. */
void *map_get_str(const map_t *m, const char *key);
void *map_put_str(map_t *m, const char *key, void *value);
void *map_remove_str(map_t *m, const char *key);
/** xxhash of bytes, for other users (e.g. partition keys). */
uint64_t strata_hash64(const void *data, size_t len);

/* ---------------------------------------------------------------- clocks */

int64_t clock_wall_ms(void); /* CLOCK_REALTIME in ms: timestamps */
int64_t clock_mono_ms(void); /* CLOCK_MONOTONIC in ms: timeouts */
int64_t clock_mono_ns(void); /* CLOCK_MONOTONIC in ns: latency measurement */

/* ---------------------------------------------------------------- .properties */

/*
 * Kafka-style .properties: "key=value" or "key: value", '#' and '!' comments,
 * surrounding whitespace trimmed, backslash line continuation and \t \n \\ \uXXXX
 * escapes. Each entry remembers its source ("server.properties:12" or
 * "--override") for error messages. Later sets of a key replace earlier ones.
 */
typedef struct props props_t;
props_t *props_new(void);
void props_free(props_t *p);
/** @returns 0, -errno when the file cannot be read, STRATA_ECONFIG (err filled) on bad syntax. */
int props_load_file(props_t *p, const char *path, char *err, size_t err_len);
/** Parses "key=value" (an --override argument). @returns 0 or STRATA_ECONFIG. */
int props_set_kv(props_t *p, const char *kv, const char *source, char *err, size_t err_len);
void props_set(props_t *p, const char *key, const char *value, const char *source);
const char *props_get(const props_t *p, const char *key);
const char *props_source(const props_t *p, const char *key); /* "file:line" or NULL */
size_t props_count(const props_t *p);
/** The i-th entry in insertion order (0 <= i < props_count). */
void props_entry(const props_t *p, size_t i, const char **key, const char **value);

/*
 * A typed configuration table (Redis static_configs[]): each entry binds a Kafka
 * key to a field of a struct at `offset`. cfg_apply() sets every field to its
 * default, then to the value in props, validating type and range; unknown keys in
 * props produce a warning (not an error) unless listed in `ignored_prefixes`.
 */
typedef enum {
    CFG_INT32,  /* int32_t */
    CFG_INT64,  /* int64_t */
    CFG_BOOL,   /* bool: true/false */
    CFG_STRING, /* char * (owned by the struct; freed by cfg_free_strings) */
    CFG_DOUBLE  /* double */
} cfg_type_t;

typedef struct cfg_def {
    const char *key; /* Kafka's name, e.g. "log.segment.bytes" */
    cfg_type_t type;
    size_t offset;    /* offsetof(struct, field) */
    const char *def;  /* default as text, NULL = empty string / 0 */
    int64_t min, max; /* inclusive range for integers (ignored when min > max) */
    const char *doc;  /* one line for docs/CONFIG.md and --help */
} cfg_def_t;

/**
 * Fills target from defs/props. On a malformed or out-of-range value: STRATA_ECONFIG
 * with err = "log.segment.bytes (server.properties:12): 'abc' is not an integer".
 * When warn_unknown is true, keys in props that no table in `defs` knows are logged.
 */
int cfg_apply(const cfg_def_t *defs, size_t ndefs, void *target, const props_t *props,
              bool warn_unknown, char *err, size_t err_len);
void cfg_free_strings(const cfg_def_t *defs, size_t ndefs, void *target);
/** Parses an integer with optional sign; rejects junk and overflow. @returns 0 or STRATA_EINVAL. */
int parse_int64(const char *s, int64_t *out);

/* ---------------------------------------------------------------- file system */

/*
 * Every write, fsync, truncate and rename of the storage engine goes through
 * this table so tests can inject faults (SQLite test6.c). fs_ops is the current
 * table; fs_set_ops(NULL) restores the real one. @locality any (blocking!)
 */
typedef struct fs_ops {
    ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
    ssize_t (*write)(int fd, const void *buf, size_t n);
    int (*fsync)(int fd);
    int (*fdatasync)(int fd);
    int (*ftruncate)(int fd, off_t len);
    int (*rename)(const char *from, const char *to);
    int (*unlink)(const char *path);
    /* sync_file_range(2); only fs_start_writeback calls it. */
    int (*sync_file_range)(int fd, off_t off, off_t len, unsigned int flags);
} fs_ops_t;

extern const fs_ops_t *fs_ops;
void fs_set_ops(const fs_ops_t *ops);
const fs_ops_t *fs_real_ops(void);

/** Writes all n bytes (retrying short writes and EINTR). @returns 0 or -errno. */
int fs_write_all(int fd, const void *buf, size_t n);
int fs_pwrite_all(int fd, const void *buf, size_t n, off_t off);
int fs_fsync(int fd);     /* -errno on failure */
int fs_fdatasync(int fd); /* -errno on failure */
int fs_truncate(int fd, off_t len);
/**
 * Starts writeback of [off, off+len) of fd's dirty pages (sync_file_range with
 * SYNC_FILE_RANGE_WRITE) without waiting for it: a hint, not a flush — nothing is
 * durable afterwards. @returns 0 or -errno.
 */
int fs_start_writeback(int fd, off_t off, off_t len);
/**
 * Whether every page of [off, off+len) of fd is in the page cache (cachestat(2), Linux
 * 6.5+), so reading it will not wait on the disk. true when the kernel cannot tell
 * (no cachestat): callers then behave as before it existed. @locality any (one syscall)
 */
bool fs_range_cached(int fd, off_t off, off_t len);
/** Whether fs_range_cached can tell on this kernel (cachestat works); fd: any open file. */
bool fs_can_tell_cached(int fd);
/**
 * Reads [off, off+len) of fd and discards it, so its pages are in the page cache
 * afterwards. @returns 0 or -errno. @locality worker (blocks on the disk)
 */
int fs_read_into_cache(int fd, off_t off, off_t len);
/** fsync of a directory, so renames and creates inside it are durable. */
int fs_fsync_dir(const char *dir);
/**
 * Atomically replaces path with data: write path.tmp, fsync, rename, fsync dir.
 * A crash at any point leaves either the old or the new content. @returns 0 or -errno.
 */
int fs_atomic_replace(const char *path, const void *data, size_t n);
/** Reads a whole file into out (appended). @returns 0 or -errno. */
int fs_read_file(const char *path, buf_t *out);
/** mkdir -p. @returns 0 or -errno. */
int fs_mkdirs(const char *path, mode_t mode);
/** rm -rf. @returns 0 or -errno. */
int fs_remove_tree(const char *path);
int fs_rename(const char *from, const char *to);
int fs_unlink(const char *path);

#endif /* STRATA_UTIL_H */
