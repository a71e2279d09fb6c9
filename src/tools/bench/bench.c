/*
 * strata-bench: librdkafka producer and consumer benchmark (issue 4, "Benchmark").
 *
 * For every record size (default 100 B and 1 KiB) and acks setting (default 1 and all) it
 * produces N records (default 1,000,000) to a fresh one-partition topic, then consumes them from
 * offset 0, against the Strata broker at --bootstrap and, in the same run, against librdkafka's
 * in-memory mock cluster (one broker) as the reference. It prints records/s, MB/s (10^6 bytes of
 * record payload), p50/p99 delivery latency (produce() call to delivery report, under full load)
 * and the Strata/mock ratio; then loopback TCP bandwidth measured in the same run by a plain
 * sender/receiver thread pair, and Strata's 1 KiB consume rate as a percentage of it.
 *
 * Consume is timed from the first record received to the last. librdkafka 2.0.2's mock keeps
 * only the newest ~5 MB of each partition (older message sets are dropped as new ones arrive,
 * and that limit has no public setting), so against the mock the consumer reads that tail again
 * and again until it has read N records (see run_consume); "log recs" says how many records the
 * log held.
 *
 * Both targets get the same client configuration (librdkafka defaults plus acks). The tool only
 * talks the Kafka protocol; it links no Strata module.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS      16
#define CLIENT_WAIT_S 120

typedef struct {
    const char *target; /* "strata" or "mock" */
    int size;
    int acks;
    double prod_rps, prod_mbps, p50_ms, p99_ms;
    double cons_rps, cons_mbps;
    long cons_window; /* records in the log when consuming (the mock keeps only its newest ~5 MB) */
    double win_rps;   /* Strata only: consume of the newest cons_window records of the mock */
    int win_ok;
    int ok;
} result_t;

typedef struct {
    int64_t *enq_ns;   /* enqueue time per record, indexed by the record's opaque */
    int64_t *lat_ns;   /* delivery latency per record */
    int64_t delivered; /* delivery reports seen */
    int64_t failed;
    int64_t last_dr_ns;
    char first_err[256];
} prod_state_t;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, const char *detail) {
    fprintf(stderr, "strata-bench: %s: %s\n", what, detail);
    exit(1);
}

static void conf_set(rd_kafka_conf_t *conf, const char *key, const char *value) {
    char err[512];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
        die(key, err);
    }
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
 * alike. Timing a pass from rd_kafka_consume_start() instead would
 * charge the mock up to fetch.wait.max.ms (500 ms) per pass: the previous pass's last Fetch,
 * at the log end, is held that long by the mock, and the next pass's Fetch waits behind it
 * (measured: the mock's 1 KiB consume fell from ~400k to ~10k records/s). The first-record
 * timing favours the mock a little instead: its fetches return one producer batch each, so
 * each pass (about five fetches) leaves one fetch round trip out, against one in ~1000
 * fetches for Strata; and in a pass that short (also Strata's "same window" passes) the first
 * call's records are a large, variable share of the pass. */
static int run_consume(const char *bootstrap, const char *topic, int size, long n, long window,
                       result_t *r) {
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
    if (window > 0 && hi - lo > window) {
        lo = hi - window; /* the same working set as the mock's: its newest records only */
    }
    if (window <= 0) {
        r->cons_window = (long)(hi - lo);
    }
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
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    if (total < n || bad || busy_ns <= 0) {
        fprintf(stderr, "strata-bench: %s consume: %ld/%ld records, %ld with wrong size/offset\n",
                r->target, total, n, bad);
        return -1;
    }
    if (window > 0) {
        r->win_rps = (double)timed / ((double)busy_ns / 1e9);
        return 0;
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
    close(fd);
    close(lfd);
    free(buf);
    return (double)rx.bytes / ((double)(rx.end_ns - start) / 1e9) / 1e6;
}

static void usage(FILE *f) {
    fprintf(f, "usage: strata-bench [--bootstrap HOST:PORT] [--records N] [--sizes 100,1024]\n"
               "                    [--acks 1,all] [--no-mock] [--no-strata]\n"
               "Produces then consumes N records per size and acks setting, one partition,\n"
               "against Strata (default 127.0.0.1:9092) and librdkafka's mock cluster.\n");
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
    const char *acks = r->acks < 0 ? "all" : "1";
    printf("| %-6s | %5d | %4s | %10.0f | %8.1f | %7.2f | %7.2f | %10.0f | %8.1f | %8ld |\n",
           r->target, r->size, acks, r->prod_rps, r->prod_mbps, r->p50_ms, r->p99_ms, r->cons_rps,
           r->cons_mbps, r->cons_window);
}

int main(int argc, char **argv) {
    const char *bootstrap = "127.0.0.1:9092";
    long n = 1000000;
    int sizes[4] = {100, 1024}, nsizes = 2, acks[3] = {1, -1}, nacks = 2;
    int use_mock = 1, use_strata = 1;
    static const struct option opts[] = {{"bootstrap", required_argument, NULL, 'b'},
                                         {"records", required_argument, NULL, 'n'},
                                         {"sizes", required_argument, NULL, 's'},
                                         {"acks", required_argument, NULL, 'a'},
                                         {"no-mock", no_argument, NULL, 'M'},
                                         {"no-strata", no_argument, NULL, 'S'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "b:n:s:a:h", opts, NULL)) != -1) {
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
        case 'M':
            use_mock = 0;
            break;
        case 'S':
            use_strata = 0;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }

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

    /* Loopback TCP at the start and at the end of the run; the mean is the reference. */
    double tcp_start = loopback_mbps((int64_t)4 << 30);
    result_t res[MAX_RUNS];
    int nres = 0, failures = 0;
    char topic[128];
    for (int si = 0; si < nsizes; si++) {
        for (int ai = 0; ai < nacks; ai++) {
            for (int t = 0; t < 2; t++) {
                if ((t == 0 && !use_strata) || (t == 1 && !use_mock) || nres >= MAX_RUNS) {
                    continue;
                }
                result_t *r = &res[nres++];
                memset(r, 0, sizeof *r);
                r->target = t == 0 ? "strata" : "mock";
                r->size = sizes[si];
                r->acks = acks[ai];
                snprintf(topic, sizeof topic, "bench-%d-%s-%ld", sizes[si],
                         acks[ai] < 0 ? "all" : "1", (long)getpid());
                const char *bs = t == 0 ? bootstrap : mock_bootstrap;
                if (t == 0) {
                    create_topic(bs, topic);
                } else {
                    rd_kafka_mock_topic_create(mock, topic, 1, 1);
                }
                fprintf(stderr, "strata-bench: %s: %ld x %d B, acks=%s...\n", r->target, n, r->size,
                        acks[ai] < 0 ? "all" : "1");
                r->ok = run_produce(bs, topic, sizes[si], acks[ai], n, r) == 0 &&
                        run_consume(bs, topic, sizes[si], n, 0, r) == 0;
                failures += !r->ok;
                /* After the mock's run: Strata's topic read again over the mock's window (its
                 * newest records only, pass after pass), the same working set in the caches. */
                result_t *s = nres >= 2 ? &res[nres - 2] : NULL;
                if (t == 1 && r->ok && s && s->ok && strcmp(s->target, "strata") == 0) {
                    snprintf(topic, sizeof topic, "bench-%d-%s-%ld", sizes[si],
                             acks[ai] < 0 ? "all" : "1", (long)getpid());
                    fprintf(stderr, "strata-bench: strata: consume over the mock's window...\n");
                    s->win_ok = run_consume(bootstrap, topic, sizes[si], n, r->cons_window, s) == 0;
                }
            }
        }
    }

    double tcp_end = loopback_mbps((int64_t)4 << 30);
    double tcp = (tcp_start + tcp_end) / 2;

    printf("\n%ld records per run, one partition; MB = 10^6 bytes of record payload; latency = "
           "produce() to delivery report\n\n",
           n);
    printf("| target | bytes | acks | produce rec/s | prod MB/s | p50 ms | p99 ms | consume "
           "rec/s | cons MB/s | log recs |\n");
    printf("|--------|------:|-----:|-----------:|---------:|--------:|--------:|-----------:|----"
           "-----:|--------:|\n");
    for (int i = 0; i < nres; i++) {
        if (res[i].ok) {
            print_row(&res[i]);
        } else {
            printf("| %-6s | %5d | %4s | FAILED (see stderr) |\n", res[i].target, res[i].size,
                   res[i].acks < 0 ? "all" : "1");
        }
    }
    printf("\nStrata/mock ratio (records/s); \"same window\": Strata's consume over the mock's "
           "newest records only (see run_consume):\n\n| bytes | acks | produce | consume | "
           "consume, same window |\n|------:|-----:|--------:|--------:|--------:|\n");
    for (int i = 0; i + 1 < nres; i++) {
        const result_t *s = &res[i], *m = &res[i + 1];
        if (strcmp(s->target, "strata") == 0 && strcmp(m->target, "mock") == 0 && s->ok && m->ok) {
            char win[32] = "n/a";
            if (s->win_ok) {
                snprintf(win, sizeof win, "%6.2fx", s->win_rps / m->cons_rps);
            }
            printf("| %5d | %4s | %6.2fx | %6.2fx | %s |\n", s->size, s->acks < 0 ? "all" : "1",
                   s->prod_rps / m->prod_rps, s->cons_rps / m->cons_rps, win);
        }
    }
    printf("\nLoopback TCP bandwidth (same run, 4 GiB in 1 MiB writes, at start and end): %.0f and "
           "%.0f MB/s, mean %.0f MB/s\n",
           tcp_start, tcp_end, tcp);
    for (int i = 0; i < nres; i++) {
        if (strcmp(res[i].target, "strata") == 0 && res[i].size == 1024 && res[i].ok) {
            printf("Strata consume of 1 KiB records (acks=%s run): %.0f MB/s = %.0f %% of "
                   "loopback TCP\n",
                   res[i].acks < 0 ? "all" : "1", res[i].cons_mbps, 100.0 * res[i].cons_mbps / tcp);
        }
    }
    if (mock) {
        rd_kafka_mock_cluster_destroy(mock);
    }
    if (mock_rk) {
        rd_kafka_destroy(mock_rk);
    }
    return failures ? 1 : 0;
}
