/*
 * storage-bench (build/strata-storage-bench): the storage engine against the disk.
 *
 *  1. Append N bytes of 1 KiB records in 16 KiB and in 1 MiB batches to a partition
 *     log (flush off) beside a plain sequential write() of the same bytes to a file in
 *     the same directory, interleaved in 64 MiB slices in the same run; prints MB/s of
 *     both and the ratio, per run and the median.
 *  2. A flush after every batch: fsyncs/s and MB/s beside a raw write+fdatasync loop.
 *  3. Recovery time of a log of R bytes after an unclean stop whose recovery point is
 *     recent (only the unflushed tail is CRC-checked), and, for comparison, with no
 *     recovery point at all (every batch CRC-checked).
 *  4. CRC-32C throughput (what log_append spends validating): every implementation
 *     this CPU runs (the last is what crc32c() uses), over 1 MiB and 16 KiB buffers
 *     in cache and taken in turn from a 64 MiB pool (from memory), per CPU-second.
 *
 * Batches are built once (valid CRCs) and reused: appends only rewrite the base offset
 * and leader epoch, which the CRC does not cover. sync(2) runs between phases, outside
 * the timed sections, so one phase's dirty pages do not slow the next.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "strata/server.h"
#include "strata/storage.h"
#include "strata/util.h"

#define KIB 1024LL
#define MIB (1024LL * 1024)
#define GIB (1024LL * 1024 * 1024)

typedef struct pool {
    uint8_t *data;
    size_t len;
    size_t *offs; /* batch starts */
    size_t *sizes;
    size_t n;
} pool_t;

static void put_varint(uint8_t **p, int64_t v) {
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    do {
        uint8_t c = (uint8_t)(z & 0x7f);
        z >>= 7;
        *(*p)++ = z ? (c | 0x80) : c;
    } while (z);
}

/* One batch of 1 KiB records filling about batch_bytes. */
static size_t build_batch(uint8_t *out, int64_t batch_bytes, int64_t ts, uint32_t seed) {
    const size_t value = 1000; /* + ~24 bytes of record framing = 1 KiB records */
    int32_t n = (int32_t)((batch_bytes - RB_HEADER_SIZE) / 1024);
    if (n < 1) {
        n = 1;
    }
    uint8_t *p = out + RB_HEADER_SIZE;
    for (int32_t i = 0; i < n; i++) {
        uint8_t rec[1100];
        uint8_t *r = rec;
        *r++ = 0;          /* attributes */
        put_varint(&r, i); /* timestamp delta */
        put_varint(&r, i); /* offset delta */
        put_varint(&r, -1);
        put_varint(&r, (int64_t)value);
        for (size_t j = 0; j < value; j++) {
            seed = seed * 1103515245u + 12345u;
            *r++ = (uint8_t)(seed >> 16);
        }
        put_varint(&r, 0);
        put_varint(&p, r - rec);
        memcpy(p, rec, (size_t)(r - rec));
        p += r - rec;
    }
    size_t total = (size_t)(p - out);
    memset(out, 0, RB_HEADER_SIZE);
    be32_put(out + RB_OFF_LENGTH, (uint32_t)(total - 12));
    out[RB_OFF_MAGIC] = 2;
    be32_put(out + RB_OFF_LAST_DELTA, (uint32_t)(n - 1));
    be64_put(out + RB_OFF_BASE_TIMESTAMP, (uint64_t)ts);
    be64_put(out + RB_OFF_MAX_TIMESTAMP, (uint64_t)(ts + n - 1));
    be64_put(out + RB_OFF_PRODUCER_ID, (uint64_t)-1);
    be16_put(out + RB_OFF_PRODUCER_EPOCH, 0xffff);
    be32_put(out + RB_OFF_BASE_SEQUENCE, (uint32_t)-1);
    be32_put(out + RB_OFF_RECORD_COUNT, (uint32_t)n);
    be32_put(out + RB_OFF_CRC, crc32c(0, out + RB_OFF_ATTRIBUTES, total - RB_OFF_ATTRIBUTES));
    return total;
}

static void pool_build(pool_t *p, int64_t batch_bytes, int64_t pool_bytes) {
    memset(p, 0, sizeof(*p));
    size_t cap = (size_t)(pool_bytes + batch_bytes + 4096);
    p->data = xmalloc(cap);
    size_t nmax = (size_t)(pool_bytes / batch_bytes) + 2;
    p->offs = xcalloc(nmax, sizeof(size_t));
    p->sizes = xcalloc(nmax, sizeof(size_t));
    int64_t ts = clock_wall_ms();
    while ((int64_t)p->len < pool_bytes && p->n < nmax) {
        size_t sz = build_batch(p->data + p->len, batch_bytes, ts, (uint32_t)p->n * 7919u + 1);
        p->offs[p->n] = p->len;
        p->sizes[p->n] = sz;
        p->len += sz;
        p->n++;
    }
}

static void pool_free(pool_t *p) {
    free(p->data);
    free(p->offs);
    free(p->sizes);
}

static double secs_since(int64_t t0) {
    return (double)(clock_mono_ns() - t0) / 1e9;
}

/* CPU time of this process (user + system): what the machine's other load does not
 * inflate, unlike wall time. */
static int64_t cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double last_cpu_s;

static void die(const char *what, int rc) {
    fprintf(stderr, "storage-bench: %s: %s\n", what, strata_strerror(rc));
    exit(1);
}

/* Plain sequential write() of `total` bytes of the pool; fsync_each adds fdatasync. */
static double raw_write(const char *dir, const pool_t *p, int64_t total, bool fsync_each,
                        int64_t *written, int64_t *batches) {
    char *path = xasprintf("%s/raw.bin", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        die(path, -errno);
    }
    int64_t done = 0, nb = 0;
    int64_t t0 = clock_mono_ns(), c0 = cpu_ns();
    for (size_t i = 0; done < total; i = (i + 1) % p->n) {
        int rc = fs_write_all(fd, p->data + p->offs[i], p->sizes[i]);
        if (rc == 0 && fsync_each) {
            rc = fs_fdatasync(fd);
        }
        if (rc != 0) {
            die(path, rc);
        }
        done += (int64_t)p->sizes[i];
        nb++;
    }
    double s = secs_since(t0);
    last_cpu_s = (double)(cpu_ns() - c0) / 1e9;
    close(fd);
    unlink(path);
    free(path);
    *written = done;
    *batches = nb;
    return s;
}

static int64_t writeback_bytes = -1; /* --writeback-bytes; -1 = the log's default */

/* Applies the command line's log settings over log_config_default. */
static void bench_config(log_config_t *cfg) {
    if (writeback_bytes >= 0) {
        cfg->writeback_bytes = writeback_bytes;
    }
}

/* The same bytes through log_append; flush_each adds log_flush after every batch. */
static double log_write(const char *dir, pool_t *p, int64_t total, bool flush_each,
                        int64_t *written, int64_t *batches) {
    log_config_t cfg;
    log_config_default(&cfg);
    bench_config(&cfg);
    log_t *log;
    int rc = log_open(dir, "bench", 0, &cfg, &strata_inline_executor, 0, false, &log);
    if (rc != 0) {
        die("log_open", rc);
    }
    int64_t done = 0, nb = 0;
    int64_t t0 = clock_mono_ns(), c0 = cpu_ns();
    for (size_t i = 0; done < total; i = (i + 1) % p->n) {
        rc = log_append(log, p->data + p->offs[i], p->sizes[i], 0, NULL);
        if (rc == 0 && flush_each) {
            rc = log_flush(log, NULL, NULL);
        }
        if (rc != 0) {
            die("log_append", rc);
        }
        done += (int64_t)p->sizes[i];
        nb++;
    }
    double s = secs_since(t0);
    last_cpu_s = (double)(cpu_ns() - c0) / 1e9;
    log_close(log);
    char *pdir = xasprintf("%s/bench-0", dir);
    fs_remove_tree(pdir);
    free(pdir);
    *written = done;
    *batches = nb;
    return s;
}

/* Both writers, interleaved in slices of SLICE_BYTES (raw first in even slices, log first in
 * odd ones), each slice timed on its own. On a VM the cost of getting fresh page-cache pages
 * from the host swings by 4x within seconds; two long runs back to back each catch a
 * different state, while slices a few tens of milliseconds apart see the same one. */
#define SLICE_BYTES (64 * MIB)

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

typedef struct writer_time {
    double wall_s, cpu_s;
    int64_t written, batches;
} writer_time_t;

static void raw_slice(int fd, const pool_t *p, size_t *next, int64_t slice, writer_time_t *t) {
    int64_t t0 = clock_mono_ns(), c0 = cpu_ns(), done = 0;
    while (done < slice) {
        int rc = fs_write_all(fd, p->data + p->offs[*next], p->sizes[*next]);
        if (rc != 0) {
            die("raw write", rc);
        }
        done += (int64_t)p->sizes[*next];
        t->batches++;
        *next = (*next + 1) % p->n;
    }
    t->wall_s += secs_since(t0);
    t->cpu_s += (double)(cpu_ns() - c0) / 1e9;
    t->written += done;
}

/* The append phase runs the log as the broker does: background work (writeback starts, the
 * unlink of a rolled index...) on libuv's thread pool through the broker's executor (bg),
 * completions collected by a non-blocking turn of the loop every MiB appended. The pool's CPU
 * time is the process's, so it is in the per-CPU-second figures. */
static uv_loop_t bench_loop;
static strata_executor_t pool_executor;

static void log_slice(log_t *log, pool_t *p, size_t *next, int64_t slice, writer_time_t *t) {
    int64_t t0 = clock_mono_ns(), c0 = cpu_ns(), done = 0;
    while (done < slice) {
        int rc = log_append(log, p->data + p->offs[*next], p->sizes[*next], 0, NULL);
        if (rc != 0) {
            die("log_append", rc);
        }
        if ((done + (int64_t)p->sizes[*next]) / MIB != done / MIB) {
            (void)uv_run(&bench_loop, UV_RUN_NOWAIT); /* a turn per MiB, as a busy broker */
        }
        done += (int64_t)p->sizes[*next];
        t->batches++;
        *next = (*next + 1) % p->n;
    }
    t->wall_s += secs_since(t0);
    t->cpu_s += (double)(cpu_ns() - c0) / 1e9;
    t->written += done;
}

static void phase_throughput(const char *dir, int64_t total, int64_t batch_bytes, int reps) {
    pool_t p;
    int64_t pool_bytes = total < 64 * MIB ? total : 64 * MIB;
    pool_build(&p, batch_bytes, pool_bytes);
    const char *label = batch_bytes >= MIB ? "1 MiB" : "16 KiB";
    double ratios[100], cpu_ratios[100];
    for (int r = 0; r < reps; r++) {
        char *path = xasprintf("%s/raw.bin", dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            die(path, -errno);
        }
        log_config_t cfg;
        log_config_default(&cfg);
        bench_config(&cfg);
        log_t *log;
        int rc = log_open(dir, "bench", 0, &cfg, &pool_executor, 0, false, &log);
        if (rc != 0) {
            die("log_open", rc);
        }
        sync();
        writer_time_t raw = {0}, lg = {0};
        size_t raw_next = 0, log_next = 0;
        for (int64_t done = 0, i = 0; done < total; done += SLICE_BYTES, i++) {
            int64_t slice = total - done < SLICE_BYTES ? total - done : SLICE_BYTES;
            if (i % 2 == 0) {
                raw_slice(fd, &p, &raw_next, slice, &raw);
                log_slice(log, &p, &log_next, slice, &lg);
            } else {
                log_slice(log, &p, &log_next, slice, &lg);
                raw_slice(fd, &p, &raw_next, slice, &raw);
            }
        }
        close(fd);
        unlink(path);
        free(path);
        (void)uv_run(&bench_loop, UV_RUN_DEFAULT); /* the jobs still in flight, untimed */
        log_close(log);
        (void)uv_run(&bench_loop, UV_RUN_DEFAULT);
        char *pdir = xasprintf("%s/bench-0", dir);
        fs_remove_tree(pdir);
        free(pdir);
        double raw_mbs = (double)raw.written / MIB / raw.wall_s;
        double log_mbs = (double)lg.written / MIB / lg.wall_s;
        double ratio = log_mbs / raw_mbs, cpu_ratio = raw.cpu_s / lg.cpu_s;
        printf("append %-7s batches (run %d): %8.1f MiB in %6" PRId64 " batches | raw write() "
               "%8.1f MB/s | log_append %8.1f MB/s | ratio %.2f | per CPU-second: raw %.0f "
               "MB/s, log %.0f MB/s, ratio %.2f\n",
               label, r + 1, (double)lg.written / MIB, lg.batches, raw_mbs, log_mbs, ratio,
               (double)raw.written / MIB / raw.cpu_s, (double)lg.written / MIB / lg.cpu_s,
               cpu_ratio);
        ratios[r] = ratio;
        cpu_ratios[r] = cpu_ratio;
    }
    sync();
    printf("append %-7s batches: median of %d runs: ratio %.2f wall, %.2f per CPU-second\n", label,
           reps, median(ratios, reps), median(cpu_ratios, reps));
    pool_free(&p);
}

static void phase_flush(const char *dir, int64_t batch_bytes, int64_t nbatches) {
    pool_t p;
    pool_build(&p, batch_bytes, batch_bytes * (nbatches < 64 ? nbatches : 64));
    int64_t total = (int64_t)p.sizes[0] * nbatches;
    int64_t w1, w2, b1, b2;
    sync();
    double raw = raw_write(dir, &p, total, true, &w1, &b1);
    sync();
    double lg = log_write(dir, &p, total, true, &w2, &b2);
    printf("flush every %-7s batch: raw write+fdatasync %8.0f fsyncs/s %7.1f MB/s | "
           "log_append+log_flush %8.0f fsyncs/s %7.1f MB/s | ratio %.2f\n",
           batch_bytes >= MIB ? "1 MiB" : "16 KiB", (double)b1 / raw, (double)w1 / MIB / raw,
           (double)b2 / lg, (double)w2 / MIB / lg, raw / lg);
    pool_free(&p);
}

static void phase_recovery(const char *dir, int64_t total, int64_t tail) {
    pool_t p;
    pool_build(&p, 16 * KIB, 64 * MIB);
    log_config_t cfg;
    log_config_default(&cfg);
    bench_config(&cfg);
    log_t *log;
    int rc = log_open(dir, "recover", 0, &cfg, &strata_inline_executor, 0, false, &log);
    if (rc != 0) {
        die("log_open", rc);
    }
    int64_t done = 0;
    bool flushed = false;
    for (size_t i = 0; done < total; i = (i + 1) % p.n) {
        if (!flushed && done >= total - tail) {
            if ((rc = log_flush_sync(log)) != 0) {
                die("log_flush_sync", rc);
            }
            flushed = true;
        }
        if ((rc = log_append(log, p.data + p.offs[i], p.sizes[i], 0, NULL)) != 0) {
            die("log_append", rc);
        }
        done += (int64_t)p.sizes[i];
    }
    int64_t rp = log_recovery_point(log), leo = log_end_offset(log);
    int segs = log_segment_count(log);
    log_close(log); /* unclean: no flush, no clean-shutdown marker, indexes untrimmed */
    sync();
    int64_t t0 = clock_mono_ns();
    rc = log_open(dir, "recover", 0, &cfg, &strata_inline_executor, rp, false, &log);
    double tail_s = secs_since(t0);
    if (rc != 0 || log_end_offset(log) != leo) {
        die("recovery lost data", rc ? rc : STRATA_ECORRUPT);
    }
    log_close(log);
    t0 = clock_mono_ns();
    rc = log_open(dir, "recover", 0, &cfg, &strata_inline_executor, 0, false, &log);
    double full_s = secs_since(t0);
    if (rc != 0 || log_end_offset(log) != leo) {
        die("recovery lost data", rc ? rc : STRATA_ECORRUPT);
    }
    log_close(log);
    printf("recovery of %.0f MiB (%d segment(s), %" PRId64 " records) after an unclean stop: "
           "recovery point %.0f MiB from the end: %.3f s | no recovery point (full CRC scan): "
           "%.3f s\n",
           (double)done / MIB, segs, leo, (double)tail / MIB, tail_s, full_s);
    char *pdir = xasprintf("%s/recover-0", dir);
    fs_remove_tree(pdir);
    free(pdir);
    pool_free(&p);
}

static volatile uint32_t crc_sink;

/* GB (1e9 bytes) per CPU-second of fn over `piece`-byte slices taken in turn from a
 * buf_len buffer (piece == buf_len: always the same, cache-hot one), best of 5 runs of
 * about `total` bytes. */
static double crc_rate(crc32c_fn fn, const uint8_t *buf, size_t buf_len, size_t piece,
                       int64_t total) {
    double best = 0;
    size_t nslices = buf_len / piece;
    for (int r = 0; r < 5; r++) {
        uint32_t c = 0;
        int64_t n = total / (int64_t)piece;
        if (n < 1) {
            n = 1;
        }
        int64_t c0 = cpu_ns();
        for (int64_t i = 0; i < n; i++) {
            c ^= fn(c, buf + (size_t)i % nslices * piece, piece);
        }
        double s = (double)(cpu_ns() - c0) / 1e9;
        crc_sink = c;
        double gbs = s > 0 ? (double)n * (double)piece / 1e9 / s : 0;
        best = gbs > best ? gbs : best;
    }
    return best;
}

/* Hot: one buffer of the batch size, in cache. Cold: slices of a 64 MiB buffer, as the
 * append phase's batch pool, so the data comes from memory as there. */
static void phase_crc(void) {
    const size_t pool = 64 * MIB, sizes[2] = {1 * MIB, 16 * KIB};
    uint8_t *buf = xmalloc(pool);
    uint32_t seed = 1;
    for (size_t i = 0; i < pool; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (uint8_t)(seed >> 16);
    }
    for (int cold = 0; cold < 2; cold++) {
        for (int i = 0; i < 2; i++) {
            printf("crc32c %-6s buffers, %s, GB per CPU-second:",
                   sizes[i] >= MIB ? "1 MiB" : "16 KiB", cold ? "from a 64 MiB pool" : "in cache");
            const char *name;
            crc32c_fn f;
            for (int v = 0; (f = crc32c_variant(v, &name)) != NULL; v++) {
                double gbs = crc_rate(f, buf, cold ? pool : sizes[i], sizes[i],
                                      v == 0 ? 64 * MIB : 512 * MIB);
                printf(" %s %.1f%s", name, gbs, crc32c_variant(v + 1, NULL) ? " |" : " (used)");
            }
            printf("\n");
        }
    }
    free(buf);
}

static int64_t parse_size(const char *s) {
    char *end;
    double v = strtod(s, &end);
    int64_t mult = 1;
    if (*end == 'k' || *end == 'K') {
        mult = KIB;
    } else if (*end == 'm' || *end == 'M') {
        mult = MIB;
    } else if (*end == 'g' || *end == 'G') {
        mult = GIB;
    } else if (*end != 0) {
        fprintf(stderr, "storage-bench: bad size '%s'\n", s);
        exit(2);
    }
    return (int64_t)(v * (double)mult);
}

static void usage(void) {
    fprintf(stderr,
            "usage: strata-storage-bench [--dir DIR] [--bytes SIZE] [--recovery-bytes SIZE]\n"
            "                            [--flush-batches N] [--quick] [--only PHASE]\n"
            "  --bytes           bytes appended per batch size (default 2G)\n"
            "  --recovery-bytes  size of the log recovered after an unclean stop (default 1G)\n"
            "  --flush-batches   batches in the flush-every-batch runs (default 2000)\n"
            "  --quick           --bytes 256M --recovery-bytes 256M --flush-batches 300\n"
            "  --only            append, flush, recovery or crc\n"
            "  --writeback-bytes log.writeback.bytes of the logs (default 0 = off, as in the\n"
            "                    broker; when on, it runs on the thread pool in the append phase)\n"
            "  --reps            interleaved raw/log runs per batch size, median printed (default "
            "5)\n");
    exit(2);
}

int main(int argc, char **argv) {
    uv_loop_init(&bench_loop);
    bg_executor_init(&pool_executor, &bench_loop);
    const char *dir = NULL, *only = NULL;
    int64_t total = 2 * GIB, rec = 1 * GIB, flush_batches = 2000, reps = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--bytes") == 0 && i + 1 < argc) {
            total = parse_size(argv[++i]);
        } else if (strcmp(argv[i], "--recovery-bytes") == 0 && i + 1 < argc) {
            rec = parse_size(argv[++i]);
        } else if (strcmp(argv[i], "--flush-batches") == 0 && i + 1 < argc) {
            flush_batches = parse_size(argv[++i]);
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = parse_size(argv[++i]);
        } else if (strcmp(argv[i], "--writeback-bytes") == 0 && i + 1 < argc) {
            writeback_bytes = parse_size(argv[++i]);
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (strcmp(argv[i], "--quick") == 0) {
            total = 256 * MIB;
            rec = 256 * MIB;
            flush_batches = 300;
        } else {
            usage();
        }
    }
    if (total <= 0 || rec <= 0 || flush_batches <= 0 || reps <= 0 || reps > 100) {
        usage();
    }
    char *work = xasprintf("%s/strata-storage-bench-XXXXXX", dir ? dir : ".");
    if (!mkdtemp(work)) {
        die(work, -errno);
    }
    slog_set_level(SLOG_WARN);
    printf("strata-storage-bench: directory %s, %.0f MiB per append run, 1 KiB records\n", work,
           (double)total / MIB);
    fflush(stdout);
    if (!only || strcmp(only, "crc") == 0) {
        phase_crc();
        fflush(stdout);
    }
    if (!only || strcmp(only, "append") == 0) {
        phase_throughput(work, total, 16 * KIB, (int)reps);
        fflush(stdout);
        phase_throughput(work, total, 1 * MIB, (int)reps);
        fflush(stdout);
    }
    if (!only || strcmp(only, "flush") == 0) {
        phase_flush(work, 16 * KIB, flush_batches);
        fflush(stdout);
        phase_flush(work, 1 * MIB, flush_batches / 10 > 0 ? flush_batches / 10 : 1);
        fflush(stdout);
    }
    if (!only || strcmp(only, "recovery") == 0) {
        int64_t tail = rec / 64 < 16 * MIB ? rec / 64 : 16 * MIB;
        phase_recovery(work, rec, tail);
    }
    fs_remove_tree(work);
    free(work);
    return 0;
}
