/*
 * strata-bench: librdkafka producer and consumer benchmark (issue 4, "Benchmark").
 *
 * For every record size (default 100 B and 1 KiB) and acks setting (default 1 and all) it
 * produces N records (default 1,000,000) to a fresh one-partition topic, then consumes them from
 * offset 0, against the Strata broker at --bootstrap and, in the same run, against librdkafka's
 * in-memory mock cluster (one broker) as the reference; --reps times, Strata and mock
 * alternating, each repetition on a fresh topic. It prints every run (records/s, MB/s = 10^6
 * bytes of record payload, p50/p99 delivery latency from produce() call to delivery report under
 * full load, and the CPU seconds the client and the server used in each phase), then per row the
 * Strata/mock ratio of every repetition and the median; then loopback TCP bandwidth measured in
 * the same run by a plain sender/receiver thread pair, and Strata's 1 KiB consume rate as a
 * percentage of it.
 *
 * Consume is timed from the first record received to the last. librdkafka 2.0.2's mock keeps
 * only the newest ~5 MB of each partition (older message sets are dropped as new ones arrive,
 * and that limit has no public setting), so against the mock the consumer reads that tail again
 * and again until it has read N records (see run_consume); "log recs" says how many records the
 * log held.
 *
 * CPU accounting (cpu_snapshot): client = this process's threads except the mock's own
 * ("rdk:mock*"), which are the mock server; Strata's server is the process --broker-pid names.
 *
 * Placement (pin_to): on a machine with 2+ CPUs the client's threads are pinned to one CPU and
 * the server to another (the mock's threads here, the broker by broker.sh's taskset), for both
 * targets alike: load generator and system under test do not take each other's core, and
 * librdkafka's fetcher and application threads do not pass every record's refcounts and queue
 * locks between two cores (measured: that alone cut the consume rate of 100-byte records to a
 * third). The loopback pair is placed the same way.
 *
 * Both targets get the same client configuration (librdkafka defaults plus acks) and the same
 * allocator setting: freed heap memory stays in the process (see keep_heap). The tool only talks
 * the Kafka protocol; it links no Strata module.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CLIENT_WAIT_S 120
#define MAX_THREADS   256

/* CPU seconds used in one phase: by the client (this process minus the mock's threads) and by
 * the server (the mock's threads, or the Strata broker process). */
typedef struct {
    double client, server;
} cpu_use_t;

typedef struct {
    const char *target; /* "strata" or "mock" */
    int size;
    int acks;
    int rep;
    double prod_rps, prod_mbps, p50_ms, p99_ms;
    double cons_rps, cons_mbps;
    long cons_window; /* records in the log when consuming (the mock keeps only its newest ~5 MB) */
    cpu_use_t prod_cpu, cons_cpu;
    int ok;
} result_t;

/* Per-thread CPU ticks of this process and the broker's total, at one instant. */
typedef struct {
    int n;
    struct {
        long tid;
        int is_mock;
        unsigned long long ticks;
    } th[MAX_THREADS];
    unsigned long long broker_ticks;
} cpu_snap_t;

static long broker_pid; /* --broker-pid: the Strata broker, for its CPU use; 0 = not measured */

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, const char *detail) {
    fprintf(stderr, "strata-bench: %s: %s\n", what, detail);
    exit(1);
}

/* Core placement (--client-cpu, --server-cpu, --no-pin): the client's threads run on one core,
 * the mock's threads on another (broker.sh starts the Strata broker under taskset on that same
 * core), and the loopback pair likewise. -1 = not pinned. */
static int client_cpu = -1, server_cpu = -1;

/* Pins the calling thread to CPU; threads it creates afterwards inherit that. */
static void pin_to(int cpu) {
    if (cpu < 0) {
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        die("sched_setaffinity", strerror(errno));
    }
}

typedef struct {
    int64_t *enq_ns;   /* enqueue time per record, indexed by the record's opaque */
    int64_t *lat_ns;   /* delivery latency per record */
    int64_t delivered; /* delivery reports seen */
    int64_t failed;
    int64_t last_dr_ns;
    char first_err[256];
} prod_state_t;

static cpu_snap_t *xmalloc_snap(void) {
    cpu_snap_t *snap = malloc(sizeof *snap);
    if (snap == NULL) {
        die("malloc", strerror(errno));
    }
    return snap;
}

static void conf_set(rd_kafka_conf_t *conf, const char *key, const char *value) {
    char err[512];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
        die(key, err);
    }
}

/* utime+stime ticks and the name of the task whose stat file is PATH; -1 if it is gone. */
static int read_stat(const char *path, unsigned long long *ticks, char *comm, size_t comm_cap) {
    char buf[1024];
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[k] = '\0';
    char *open = strchr(buf, '('), *close = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (open == NULL || close == NULL ||
        sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) {
        return -1;
    }
    snprintf(comm, comm_cap, "%.*s", (int)(close - open - 1), open + 1);
    *ticks = (unsigned long long)ut + st;
    return 0;
}

static void cpu_snapshot(cpu_snap_t *snap) {
    char path[300], comm[64];
    snap->n = 0;
    snap->broker_ticks = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL && snap->n < MAX_THREADS) {
        unsigned long long t;
        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        if (read_stat(path, &t, comm, sizeof comm) == 0) {
            snap->th[snap->n].tid = atol(e->d_name);
            snap->th[snap->n].is_mock = strncmp(comm, "rdk:mock", 8) == 0;
            snap->th[snap->n].ticks = t;
            snap->n++;
        }
    }
    if (d) {
        closedir(d);
    }
    if (broker_pid > 0) {
        snprintf(path, sizeof path, "/proc/%ld/stat", broker_pid);
        if (read_stat(path, &snap->broker_ticks, comm, sizeof comm) != 0) {
            snap->broker_ticks = 0;
        }
    }
}

/* CPU used between two snapshots. A thread born in between counts from zero; one that ended in
 * between is lost (the client handles are destroyed only after the second snapshot). */
static cpu_use_t cpu_between(const cpu_snap_t *a, const cpu_snap_t *b, int strata) {
    double tick = (double)sysconf(_SC_CLK_TCK);
    unsigned long long client = 0, mock = 0;
    for (int i = 0; i < b->n; i++) {
        unsigned long long before = 0;
        for (int j = 0; j < a->n; j++) {
            if (a->th[j].tid == b->th[i].tid) {
                before = a->th[j].ticks;
                break;
            }
        }
        unsigned long long used = b->th[i].ticks - before;
        if (b->th[i].is_mock) {
            mock += used;
        } else {
            client += used;
        }
    }
    cpu_use_t u = {.client = (double)client / tick};
    if (strata) {
        u.server = broker_pid > 0 ? (double)(b->broker_ticks - a->broker_ticks) / tick : -1;
    } else {
        u.server = (double)mock / tick;
    }
    return u;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    prod_state_t *st = opaque;
    int64_t t = now_ns();
    size_t idx = (size_t)(uintptr_t)m->_private;
    if (m->err) {
        if (st->failed++ == 0) {
            snprintf(st->first_err, sizeof st->first_err, "%s", rd_kafka_err2str(m->err));
        }
    } else {
        st->lat_ns[idx] = t - st->enq_ns[idx];
    }
    st->delivered++;
    st->last_dr_ns = t;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Creates a one-partition topic through the Admin API; TOPIC_ALREADY_EXISTS is fine. On other
 * errors it warns and leaves creation to the broker's auto-creation. */
static void create_topic(const char *bootstrap, const char *topic) {
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", bootstrap);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk == NULL) {
        die("rd_kafka_new (admin)", err);
    }
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, 1, 1, err, sizeof err);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    const char *problem = NULL;
    char buf[512];
    if (ev == NULL) {
        problem = "no CreateTopics result within 30 s";
    } else if (rd_kafka_event_error(ev)) {
        problem = rd_kafka_event_error_string(ev);
    } else {
        size_t n = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        for (size_t i = 0; i < n; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
            if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                snprintf(buf, sizeof buf, "%s", rd_kafka_err2name(e));
                problem = buf;
            }
        }
    }
    if (problem) {
        fprintf(stderr, "strata-bench: CreateTopics %s: %s (relying on auto-creation)\n", topic,
                problem);
    }
    if (ev) {
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

static int run_produce(const char *bootstrap, const char *topic, int size, int acks, long n,
                       result_t *r) {
    char err[512], acks_s[8];
    prod_state_t st = {0};
    st.enq_ns = calloc((size_t)n, sizeof *st.enq_ns);
    st.lat_ns = calloc((size_t)n, sizeof *st.lat_ns);
    char *payload = malloc((size_t)size);
    if (!st.enq_ns || !st.lat_ns || !payload) {
        die("malloc", strerror(errno));
    }
    for (int i = 0; i < size; i++) {
        payload[i] = (char)('a' + i % 26);
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", bootstrap);
    snprintf(acks_s, sizeof acks_s, "%d", acks);
    conf_set(conf, "acks", acks_s);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, &st);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk == NULL) {
        die("rd_kafka_new (producer)", err);
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);

    int strata = strcmp(r->target, "strata") == 0;
    cpu_snap_t *snap0 = xmalloc_snap(), *snap1 = xmalloc_snap();
    cpu_snapshot(snap0);
    int64_t start = now_ns();
    for (long i = 0; i < n; i++) {
        st.enq_ns[i] = now_ns();
        while (rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, payload, (size_t)size, NULL, 0,
                                (void *)(uintptr_t)i) == -1) {
            rd_kafka_resp_err_t e = rd_kafka_last_error();
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                die("rd_kafka_produce", rd_kafka_err2str(e));
            }
            rd_kafka_poll(rk, 1);
        }
        if ((i & 1023) == 0) {
            rd_kafka_poll(rk, 0);
        }
    }
    rd_kafka_resp_err_t fe = rd_kafka_flush(rk, CLIENT_WAIT_S * 1000);
    double secs = (double)(st.last_dr_ns - start) / 1e9;
    cpu_snapshot(snap1);
    r->prod_cpu = cpu_between(snap0, snap1, strata);
    free(snap0);
    free(snap1);
    int ok = fe == RD_KAFKA_RESP_ERR_NO_ERROR && st.failed == 0 && st.delivered == n;
    if (!ok) {
        fprintf(stderr,
                "strata-bench: %s produce: %" PRId64 "/%ld delivered, %" PRId64 " failed (%s)%s\n",
                r->target, st.delivered, n, st.failed, st.first_err, fe ? ", flush timed out" : "");
    } else {
        qsort(st.lat_ns, (size_t)n, sizeof *st.lat_ns, cmp_i64);
        r->prod_rps = (double)n / secs;
        r->prod_mbps = (double)n * size / secs / 1e6;
        r->p50_ms = (double)st.lat_ns[n / 2] / 1e6;
        r->p99_ms = (double)st.lat_ns[(n * 99) / 100] / 1e6;
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(payload);
    free(st.enq_ns);
    free(st.lat_ns);
    return ok ? 0 : -1;
}

/* What run_consume's callback keeps: the records of one rd_kafka_consume_callback() call are
 * counted together and timed when the call returns, so the client does not read the clock or
 * wait on its queue once per record. */
typedef struct consume_state {
    result_t *r;
    int size;
    int64_t next; /* the offset expected next */
    long total, bad, errors;
    long call_recs;     /* records in the current call */
    int64_t call_bytes; /* and their payload bytes */
} consume_state_t;

static void on_consumed(rd_kafka_message_t *m, void *opaque) {
    consume_state_t *cs = opaque;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        return; /* caught up with the log end early; keep waiting until hi */
    }
    if (m->err) {
        if (cs->errors++ < 5) {
            fprintf(stderr, "strata-bench: %s consume: %s\n", cs->r->target,
                    rd_kafka_message_errstr(m));
        }
        return;
    }
    if (m->len != (size_t)cs->size || m->offset != cs->next) {
        cs->bad++;
    }
    cs->next = m->offset + 1;
    cs->total++;
    cs->call_recs++;
    cs->call_bytes += (int64_t)m->len;
}

/* Reads partition 0 with the simple (legacy) consumer, as kcat -C does: no consumer group, so
 * nothing but Metadata, ListOffsets and Fetch is involved. Reads the whole log, [low, high), in
 * one pass; when the log holds fewer than n records (the mock keeps only its newest ~5 MB) it
 * reads it again from low, pass after pass, until n records were read. Records are taken with
 * rd_kafka_consume_callback(), all that are queued per call. Each pass is timed from the end of
 * the first call that returned records (those records are not counted) to the end of the last,
 * so connection set-up, restarts and the first fetch's round trip are left out for both targets
 * alike. Timing a pass from rd_kafka_consume_start() instead would charge the mock up to
 * fetch.wait.max.ms (500 ms) per pass: the previous pass's last Fetch, at the log end, is held
 * that long by the mock, and the next pass's Fetch waits behind it (measured: the mock's 1 KiB
 * consume fell from ~400k to ~10k records/s). The first-record timing favours the mock a little
 * instead: its fetches return one producer batch each, so each pass (about five fetches) leaves
 * one fetch round trip out, against one in ~1000 fetches for Strata. The CPU figures cover the
 * whole phase, restarts included. */
static int run_consume(const char *bootstrap, const char *topic, int size, long n, result_t *r) {
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", bootstrap);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (rk == NULL) {
        die("rd_kafka_new (consumer)", err);
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t we = rd_kafka_query_watermark_offsets(rk, topic, 0, &lo, &hi, 30000);
    if (we || hi - lo < 2) {
        fprintf(stderr, "strata-bench: %s consume: watermarks %s [%" PRId64 ", %" PRId64 ")\n",
                r->target, rd_kafka_err2str(we), lo, hi);
        rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(rk);
        return -1;
    }
    r->cons_window = (long)(hi - lo);
    cpu_snap_t *snap0 = xmalloc_snap(), *snap1 = xmalloc_snap();
    cpu_snapshot(snap0);
    long total = 0, timed = 0, bad = 0;
    int64_t busy_ns = 0, bytes = 0;
    while (total < n && bad == 0) {
        if (rd_kafka_consume_start(rkt, 0, lo) == -1) {
            die("rd_kafka_consume_start", rd_kafka_err2str(rd_kafka_last_error()));
        }
        consume_state_t cs = {.r = r, .size = size, .next = lo};
        int64_t first_ns = 0, last_ns = 0, last_progress = now_ns();
        while (cs.next < hi && now_ns() - last_progress < (int64_t)CLIENT_WAIT_S * 1000000000) {
            cs.call_recs = cs.call_bytes = 0;
            rd_kafka_consume_callback(rkt, 0, 1000, on_consumed, &cs);
            if (cs.call_recs == 0) {
                continue;
            }
            last_ns = last_progress = now_ns();
            if (first_ns == 0) {
                first_ns = last_ns; /* the clock starts once the first records are in */
            } else {
                timed += cs.call_recs;
                bytes += cs.call_bytes;
            }
        }
        total += cs.total;
        bad += cs.bad;
        rd_kafka_consume_stop(rkt, 0);
        busy_ns += last_ns - first_ns;
        if (cs.next < hi) {
            break;
        }
    }
    cpu_snapshot(snap1);
    r->cons_cpu = cpu_between(snap0, snap1, strcmp(r->target, "strata") == 0);
    free(snap0);
    free(snap1);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    if (total < n || bad || busy_ns <= 0) {
        fprintf(stderr, "strata-bench: %s consume: %ld/%ld records, %ld with wrong size/offset\n",
                r->target, total, n, bad);
        return -1;
    }
    r->cons_rps = (double)timed / ((double)busy_ns / 1e9);
    r->cons_mbps = (double)bytes / ((double)busy_ns / 1e9) / 1e6;
    return 0;
}

typedef struct {
    int lfd;
    int64_t bytes;
    int64_t end_ns;
} tcp_rx_t;

static void *tcp_receiver(void *arg) {
    tcp_rx_t *rx = arg;
    int fd = accept(rx->lfd, NULL, NULL);
    if (fd < 0) {
        return NULL;
    }
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    ssize_t k;
    while (buf && (k = read(fd, buf, cap)) > 0) {
        rx->bytes += k;
    }
    rx->end_ns = now_ns();
    free(buf);
    close(fd);
    return NULL;
}

/* Loopback TCP bandwidth in MB/s: one thread writes `total` bytes in 1 MiB writes, another
 * reads them; timed from connect to the receiver's EOF. */
static double loopback_mbps(int64_t total) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 1) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &len) < 0) {
        die("loopback listen", strerror(errno));
    }
    tcp_rx_t rx = {.lfd = lfd};
    pthread_t th;
    pthread_create(&th, NULL, tcp_receiver, &rx);
    pin_to(server_cpu); /* the receiver thread, created above, stays on the client's core */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int64_t start = now_ns();
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        die("loopback connect", strerror(errno));
    }
    size_t cap = 1 << 20;
    char *buf = calloc(1, cap);
    for (int64_t sent = 0; buf && sent < total;) {
        ssize_t k = write(fd, buf, cap);
        if (k <= 0) {
            die("loopback write", strerror(errno));
        }
        sent += k;
    }
    shutdown(fd, SHUT_WR);
    pthread_join(th, NULL);
    pin_to(client_cpu);
    close(fd);
    close(lfd);
    free(buf);
    return (double)rx.bytes / ((double)(rx.end_ns - start) / 1e9) / 1e6;
}

static void usage(FILE *f) {
    fprintf(f, "usage: strata-bench [--bootstrap HOST:PORT] [--records N] [--sizes 100,1024]\n"
               "                    [--acks 1,all] [--reps R] [--broker-pid PID] [--no-mock]\n"
               "                    [--no-strata] [--glibc-trim] [--client-cpu N]\n"
               "                    [--server-cpu N] [--no-pin]\n"
               "Produces then consumes N records (default 1000000) per size and acks setting, one\n"
               "partition, against Strata (default 127.0.0.1:9092) and librdkafka's mock cluster,\n"
               "R times each (default 3), the two alternating. --broker-pid: the broker process\n"
               "whose CPU use is reported. --glibc-trim: leave glibc's default of returning freed\n"
               "heap memory to the kernel (see keep_heap). On 2+ CPUs the client's threads run\n"
               "on CPU 1 and the mock's on CPU 0 (start the broker on CPU 0: taskset -c 0, as\n"
               "broker.sh does); --no-pin leaves placement to the scheduler.\n");
}

/* Freed heap memory stays in this process instead of going back to the kernel: librdkafka
 * allocates and frees a buffer per ~1 MB request and response, and glibc by default unmaps or
 * trims such memory. On a VM whose guest hands free pages back to the host (free page
 * reporting, as on the machine this was measured on), every re-fault of such a page costs a
 * host fault, measured at about 2 s per GB. That cost depends on how many buffers are live at
 * once, which depends on the server's timing, so it would be charged unevenly to the targets.
 * The broker does the same (src/server/main.c); a JVM client keeps its heap likewise. */
static void keep_heap(void) {
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

static int parse_list(const char *s, int *out, int max, int is_acks) {
    int n = 0;
    char *copy = strdup(s), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok && n < max; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        if (is_acks && strcmp(tok, "all") == 0) {
            out[n++] = -1;
            continue;
        }
        long v = strtol(tok, &end, 10);
        if (*end || v < (is_acks ? -1 : 1) || v > (is_acks ? 1 : 100000000)) {
            free(copy);
            return -1;
        }
        out[n++] = (int)v;
    }
    free(copy);
    return n;
}

static void print_row(const result_t *r) {
    char broker_prod[16] = "-", broker_cons[16] = "-";
    if (r->prod_cpu.server >= 0) {
        snprintf(broker_prod, sizeof broker_prod, "%.2f", r->prod_cpu.server);
    }
    if (r->cons_cpu.server >= 0) {
        snprintf(broker_cons, sizeof broker_cons, "%.2f", r->cons_cpu.server);
    }
    printf("| %-6s | %5d | %4s | %3d | %10.0f | %8.1f | %7.2f | %7.2f | %10.0f | %8.1f | %8ld | "
           "%5.2f / %5s | %5.2f / %5s |\n",
           r->target, r->size, r->acks < 0 ? "all" : "1", r->rep + 1, r->prod_rps, r->prod_mbps,
           r->p50_ms, r->p99_ms, r->cons_rps, r->cons_mbps, r->cons_window, r->prod_cpu.client,
           broker_prod, r->cons_cpu.client, broker_cons);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n), n >= 1; sorts v. */
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One "r1 r2 ... | **median** |" group of Strata/mock ratios (records/s), produce or consume. */
static void print_ratios(const result_t *res, int nres, int size, int acks, int reps, int consume) {
    double v[64];
    int n = 0;
    for (int rep = 0; rep < reps; rep++) {
        const result_t *s = NULL, *m = NULL;
        for (int i = 0; i < nres; i++) {
            const result_t *r = &res[i];
            if (r->ok && r->size == size && r->acks == acks && r->rep == rep) {
                if (strcmp(r->target, "strata") == 0) {
                    s = r;
                } else {
                    m = r;
                }
            }
        }
        if (s && m && n < 64) {
            v[n] = consume ? s->cons_rps / m->cons_rps : s->prod_rps / m->prod_rps;
            printf(" %.2fx", v[n]);
            n++;
        } else {
            printf(" n/a");
        }
    }
    if (n > 0) {
        printf(" | **%.2fx** |", median(v, n));
    } else {
        printf(" | n/a |");
    }
}

int main(int argc, char **argv) {
    const char *bootstrap = "127.0.0.1:9092";
    long n = 1000000;
    int sizes[4] = {100, 1024}, nsizes = 2, acks[3] = {1, -1}, nacks = 2, reps = 3;
    int use_mock = 1, use_strata = 1, glibc_trim = 0, pin = 1;
    static const struct option opts[] = {{"bootstrap", required_argument, NULL, 'b'},
                                         {"records", required_argument, NULL, 'n'},
                                         {"sizes", required_argument, NULL, 's'},
                                         {"acks", required_argument, NULL, 'a'},
                                         {"reps", required_argument, NULL, 'r'},
                                         {"broker-pid", required_argument, NULL, 'p'},
                                         {"no-mock", no_argument, NULL, 'M'},
                                         {"no-strata", no_argument, NULL, 'S'},
                                         {"glibc-trim", no_argument, NULL, 'T'},
                                         {"client-cpu", required_argument, NULL, 'C'},
                                         {"server-cpu", required_argument, NULL, 'P'},
                                         {"no-pin", no_argument, NULL, 'N'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "b:n:s:a:r:p:h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'b':
            bootstrap = optarg;
            break;
        case 'n':
            n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 100000000) {
                die("--records", "expected 1..100000000");
            }
            break;
        case 's':
            if ((nsizes = parse_list(optarg, sizes, 4, 0)) <= 0) {
                die("--sizes", "expected a list of sizes such as 100,1024");
            }
            break;
        case 'a':
            if ((nacks = parse_list(optarg, acks, 3, 1)) <= 0) {
                die("--acks", "expected a list such as 1,all");
            }
            break;
        case 'r':
            reps = (int)strtol(optarg, &end, 10);
            if (*end || reps < 1 || reps > 20) {
                die("--reps", "expected 1..20");
            }
            break;
        case 'p':
            broker_pid = strtol(optarg, &end, 10);
            if (*end || broker_pid < 1) {
                die("--broker-pid", "expected a process id");
            }
            break;
        case 'M':
            use_mock = 0;
            break;
        case 'S':
            use_strata = 0;
            break;
        case 'T':
            glibc_trim = 1;
            break;
        case 'C':
        case 'P': {
            long cpu = strtol(optarg, &end, 10);
            if (*end || cpu < 0 || cpu >= CPU_SETSIZE) {
                die(c == 'C' ? "--client-cpu" : "--server-cpu", "expected a CPU number");
            }
            *(c == 'C' ? &client_cpu : &server_cpu) = (int)cpu;
            break;
        }
        case 'N':
            pin = 0;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!glibc_trim) {
        keep_heap();
    }
    if (!pin) {
        client_cpu = server_cpu = -1;
    } else if (client_cpu < 0 && server_cpu < 0 && sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
        client_cpu = 1;
        server_cpu = 0;
    }
    fprintf(stderr,
            "strata-bench: client threads on CPU %d, mock threads and loopback sender on "
            "CPU %d (-1 = not pinned)\n",
            client_cpu, server_cpu);
    pin_to(server_cpu); /* the mock's threads, created next, inherit this */

    /* The reference: librdkafka's mock cluster, one broker, living in its own client handle. */
    char err[512];
    rd_kafka_t *mock_rk = NULL;
    rd_kafka_mock_cluster_t *mock = NULL;
    const char *mock_bootstrap = NULL;
    if (use_mock) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        conf_set(conf, "log_level", "0");
        mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
        if (mock_rk == NULL || (mock = rd_kafka_mock_cluster_new(mock_rk, 1)) == NULL) {
            die("mock cluster", err);
        }
        mock_bootstrap = rd_kafka_mock_cluster_bootstraps(mock);
    }
    pin_to(client_cpu); /* every client handle's threads from here on */

    /* Loopback TCP at the start and at the end of the run; the mean is the reference. */
    double tcp_start = loopback_mbps((int64_t)4 << 30);
    int max_runs = nsizes * nacks * reps * 2;
    result_t *res = calloc((size_t)max_runs, sizeof *res);
    if (res == NULL) {
        die("malloc", strerror(errno));
    }
    int nres = 0, failures = 0;
    char topic[128];
    for (int si = 0; si < nsizes; si++) {
        for (int ai = 0; ai < nacks; ai++) {
            for (int rep = 0; rep < reps; rep++) {
                for (int t = 0; t < 2; t++) {
                    if ((t == 0 && !use_strata) || (t == 1 && !use_mock)) {
                        continue;
                    }
                    result_t *r = &res[nres++];
                    r->target = t == 0 ? "strata" : "mock";
                    r->size = sizes[si];
                    r->acks = acks[ai];
                    r->rep = rep;
                    snprintf(topic, sizeof topic, "bench-%d-%s-%ld-%d", sizes[si],
                             acks[ai] < 0 ? "all" : "1", (long)getpid(), rep);
                    const char *bs = t == 0 ? bootstrap : mock_bootstrap;
                    if (t == 0) {
                        create_topic(bs, topic);
                    } else {
                        rd_kafka_mock_topic_create(mock, topic, 1, 1);
                    }
                    fprintf(stderr, "strata-bench: %s: %ld x %d B, acks=%s, run %d of %d...\n",
                            r->target, n, r->size, acks[ai] < 0 ? "all" : "1", rep + 1, reps);
                    r->ok = run_produce(bs, topic, sizes[si], acks[ai], n, r) == 0 &&
                            run_consume(bs, topic, sizes[si], n, r) == 0;
                    failures += !r->ok;
                }
            }
        }
    }

    double tcp_end = loopback_mbps((int64_t)4 << 30);
    double tcp = (tcp_start + tcp_end) / 2;

    printf("\n%ld records per run, one partition; MB = 10^6 bytes of record payload; latency = "
           "produce() to delivery report; CPU = CPU-seconds used in the phase by the client and "
           "by the server (the mock's threads, or the broker process; - = not measured)\n\n",
           n);
    printf("| target | bytes | acks | run | produce rec/s | prod MB/s | p50 ms | p99 ms | consume "
           "rec/s | cons MB/s | log recs | produce CPU client / server | consume CPU client / "
           "server |\n");
    printf(
        "|--------|------:|-----:|----:|-----------:|---------:|--------:|--------:|-----------:|"
        "---------:|--------:|------:|------:|\n");
    for (int i = 0; i < nres; i++) {
        if (res[i].ok) {
            print_row(&res[i]);
        } else {
            printf("| %-6s | %5d | %4s | %3d | FAILED (see stderr) |\n", res[i].target, res[i].size,
                   res[i].acks < 0 ? "all" : "1", res[i].rep + 1);
        }
    }
    if (use_strata && use_mock) {
        printf("\nStrata/mock ratio (records/s) per run and the median; target >= 1.0x:\n\n"
               "| bytes | acks | produce per run | **median** | consume per run | **median** |\n"
               "|------:|-----:|------|------:|------|------:|\n");
        for (int si = 0; si < nsizes; si++) {
            for (int ai = 0; ai < nacks; ai++) {
                printf("| %5d | %4s |", sizes[si], acks[ai] < 0 ? "all" : "1");
                print_ratios(res, nres, sizes[si], acks[ai], reps, 0);
                print_ratios(res, nres, sizes[si], acks[ai], reps, 1);
                printf("\n");
            }
        }
    }
    printf("\nLoopback TCP bandwidth (same run, 4 GiB in 1 MiB writes, at start and end): %.0f and "
           "%.0f MB/s, mean %.0f MB/s\n",
           tcp_start, tcp_end, tcp);
    double share[64];
    int nshare = 0;
    for (int i = 0; i < nres; i++) {
        if (strcmp(res[i].target, "strata") == 0 && res[i].size == 1024 && res[i].ok) {
            printf("Strata consume of 1 KiB records (acks=%s, run %d): %.0f MB/s = %.0f %% of "
                   "loopback TCP\n",
                   res[i].acks < 0 ? "all" : "1", res[i].rep + 1, res[i].cons_mbps,
                   100.0 * res[i].cons_mbps / tcp);
            if (nshare < 64) {
                share[nshare++] = 100.0 * res[i].cons_mbps / tcp;
            }
        }
    }
    if (nshare > 0) {
        printf("Median: %.0f %% of loopback TCP (target >= 80 %%)\n", median(share, nshare));
    }
    free(res);
    if (mock) {
        rd_kafka_mock_cluster_destroy(mock);
    }
    if (mock_rk) {
        rd_kafka_destroy(mock_rk);
    }
    return failures ? 1 : 0;
}
