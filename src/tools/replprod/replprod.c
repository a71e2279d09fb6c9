/*
 * replprod (build/strata-replprod): the librdkafka producer of the replication tests and
 * benchmark (issue 6). Produces numbered records "<seq>" (padded to --size bytes) round-robin
 * over --partitions explicit partitions for --duration seconds (or --count records), at
 * --rate records/s (0 = as fast as possible), with --acks all|1|0, and waits for every
 * delivery report. librdkafka retries through leader changes (message.timeout.ms is long).
 *
 *   strata-replprod BOOTSTRAP TOPIC [--partitions P] [--duration S | --count N] [--rate R]
 *                   [--acks all|1|0] [--size BYTES] [--acked FILE] [--set key=value]...
 *
 * --acked FILE receives one line per acknowledged record: "<partition> <seq> <offset>".
 * The last line of stdout is a summary:
 *   "sent=N acked=A failed=F elapsed_ms=T records_per_s=R mb_per_s=M p50_ms=.. p99_ms=..
 *    p999_ms=.." (latency from produce() to the delivery report of acknowledged records).
 * The clock starts once the topic's partition leaders are known (wait_for_leaders).
 * Exit status 0 when the run completed (failed deliveries are reported, not fatal), 2 on
 * usage errors.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

static int64_t acked, failed;
static double *lat_ms; /* per acknowledged record */
static int64_t *sent_ns;
static FILE *acked_out;
static char first_error[512];
static volatile sig_atomic_t stop;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    int64_t seq = (int64_t)(intptr_t)m->_private;
    if (m->err) {
        if (failed++ == 0) {
            snprintf(first_error, sizeof(first_error), "%s", rd_kafka_err2str(m->err));
        }
        return;
    }
    lat_ms[acked++] = (double)(now_ns() - sent_ns[seq]) / 1e6;
    if (acked_out) {
        fprintf(acked_out, "%d %" PRId64 " %" PRId64 "\n", (int)m->partition, seq, m->offset);
    }
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)rk;
    (void)opaque;
    fprintf(stderr, "replprod: %s: %s\n", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double p) {
    if (acked == 0) {
        return 0;
    }
    int64_t i = (int64_t)(p * (double)(acked - 1) + 0.5);
    return lat_ms[i];
}

static void on_term(int sig) {
    (void)sig;
    stop = 1;
}

/* Learns the topic's partition leaders before the clock starts. librdkafka's first metadata
 * request (brokers only, sent on connect) can race the creation of the topic handle; the
 * topic is then only looked up at the next periodic refresh (topic.metadata.refresh.interval.ms,
 * 1 s here), and every record produced meanwhile waits for it. That start-up wait is the
 * client's, not the broker's: it showed up as ~1 s p99 "stalls" in either acks mode. A
 * metadata request for the topic itself fills librdkafka's cache (bounded: 10 s, then it
 * goes on regardless). The handle returned is kept until the end so the topic's state is
 * not dropped and re-learnt. */
static rd_kafka_topic_t *wait_for_leaders(rd_kafka_t *rk, const char *topic, int32_t partitions) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (rkt == NULL) {
        return NULL;
    }
    int64_t deadline = now_ns() + 10 * 1000000000LL;
    while (!stop && now_ns() < deadline) {
        const struct rd_kafka_metadata *md = NULL;
        bool ready = false;
        if (rd_kafka_metadata(rk, 0, rkt, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            ready = md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                    md->topics[0].partition_cnt >= partitions;
            for (int i = 0; ready && i < md->topics[0].partition_cnt; i++) {
                ready = md->topics[0].partitions[i].leader >= 0;
            }
            rd_kafka_metadata_destroy(md);
        }
        if (ready) {
            break;
        }
        rd_kafka_poll(rk, 200);
    }
    return rkt;
}

static int usage(void) {
    fprintf(stderr, "usage: strata-replprod BOOTSTRAP TOPIC [--partitions P] [--duration S | "
                    "--count N] [--rate R] [--acks all|1|0] [--size BYTES] [--acked FILE] "
                    "[--set key=value]...\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        return usage();
    }
    const char *bootstrap = argv[1], *topic = argv[2];
    long long partitions = 1, count = -1, rate = 0, size = 0;
    double duration = 10;
    const char *acks = "all", *acked_path = NULL;
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *kv[][2] = {
        {"bootstrap.servers", bootstrap},
        {"enable.idempotence", "false"},
        {"max.in.flight.requests.per.connection", "1"}, /* order within a partition */
        {"message.timeout.ms", "120000"},
        {"retry.backoff.ms", "100"},
        {"reconnect.backoff.max.ms", "500"},
        {"topic.metadata.refresh.interval.ms", "1000"},
        {"linger.ms", "1"},
    };
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
            fprintf(stderr, "replprod: %s\n", errstr);
            return 2;
        }
    }
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--partitions") == 0 && i + 1 < argc) {
            partitions = strtoll(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc) {
            duration = strtod(argv[++i], NULL);
        } else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            count = strtoll(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc) {
            rate = strtoll(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--acks") == 0 && i + 1 < argc) {
            acks = argv[++i];
        } else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
            size = strtoll(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--acked") == 0 && i + 1 < argc) {
            acked_path = argv[++i];
        } else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
            char *k = strdup(argv[++i]);
            char *eq = strchr(k, '=');
            if (!eq) {
                free(k);
                return usage();
            }
            *eq = 0;
            if (rd_kafka_conf_set(conf, k, eq + 1, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "replprod: %s\n", errstr);
                free(k);
                return 2;
            }
            free(k);
        } else {
            return usage();
        }
    }
    if (partitions < 1 || size < 0 || rate < 0) {
        return usage();
    }
    if (rd_kafka_conf_set(conf, "acks", acks, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "replprod: %s\n", errstr);
        return 2;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    if (acked_path) {
        acked_out = fopen(acked_path, "w");
        if (!acked_out) {
            perror(acked_path);
            return 2;
        }
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "replprod: %s\n", errstr);
        return 1;
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    rd_kafka_topic_t *rkt = wait_for_leaders(rk, topic, (int32_t)partitions);
    size_t cap = 1 << 16;
    sent_ns = malloc(cap * sizeof(*sent_ns));
    lat_ms = malloc(cap * sizeof(*lat_ms));
    char *val = malloc((size_t)size + 32);
    int64_t start = now_ns();
    int64_t end = start + (int64_t)(duration * 1e9);
    int64_t sent = 0;
    while (!stop && (count >= 0 ? sent < count : now_ns() < end)) {
        if ((size_t)sent == cap) {
            cap *= 2;
            sent_ns = realloc(sent_ns, cap * sizeof(*sent_ns));
            lat_ms = realloc(lat_ms, cap * sizeof(*lat_ms));
        }
        int vl = snprintf(val, 32, "%" PRId64, sent);
        if (size > vl) {
            memset(val + vl, '.', (size_t)(size - vl));
            vl = (int)size;
        }
        int32_t part = (int32_t)(sent % partitions);
        sent_ns[sent] = now_ns();
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
            RD_KAFKA_V_VALUE(val, (size_t)vl), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE((void *)(intptr_t)sent), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 10);
            continue;
        }
        if (err) {
            fprintf(stderr, "replprod: produce: %s\n", rd_kafka_err2str(err));
            failed++;
        }
        sent++;
        rd_kafka_poll(rk, 0);
        if (rate > 0) {
            int64_t due = start + sent * 1000000000LL / rate;
            while (!stop && now_ns() < due) {
                int ms = (int)((due - now_ns()) / 1000000);
                rd_kafka_poll(rk, ms > 0 ? ms : 0);
                if (ms <= 0) {
                    break;
                }
            }
        }
    }
    int64_t produced_ns = now_ns() - start;
    rd_kafka_flush(rk, 180000);
    int64_t elapsed_ns = now_ns() - start;
    int64_t lost_in_queue = (int64_t)rd_kafka_outq_len(rk);
    if (rkt) {
        rd_kafka_topic_destroy(rkt);
    }
    rd_kafka_destroy(rk);
    if (acked_out) {
        fclose(acked_out);
    }
    qsort(lat_ms, (size_t)acked, sizeof(*lat_ms), cmp_double);
    double secs = (double)(rate > 0 ? produced_ns : elapsed_ns) / 1e9;
    double rps = secs > 0 ? (double)acked / secs : 0;
    printf("sent=%" PRId64 " acked=%" PRId64 " failed=%" PRId64 " unflushed=%" PRId64
           " elapsed_ms=%" PRId64 " records_per_s=%.0f mb_per_s=%.2f p50_ms=%.2f p99_ms=%.2f "
           "p999_ms=%.2f\n",
           sent, acked, failed, lost_in_queue, elapsed_ns / 1000000, rps,
           rps * (double)(size > 0 ? size : 8) / 1e6, pct(0.50), pct(0.99), pct(0.999));
    if (failed) {
        fprintf(stderr, "replprod: first delivery error: %s\n", first_error);
    }
    free(val);
    free(sent_ns);
    free(lat_ms);
    return 0;
}
