/*
 * idemprod (build/strata-idemprod): a librdkafka producer for the issue-7 tests and
 * benchmarks. Produces COUNT records "0".."COUNT-1" (keys "k<i % 17>") to TOPIC, with
 * enable.idempotence on or off, and waits for every delivery report. Unlike kcat it rides
 * out "all brokers down" (a broker being killed and restarted): only a fatal idempotence
 * error or a failed delivery fails the run.
 *
 *   strata-idemprod BOOTSTRAP TOPIC COUNT [--no-idempotence] [--rate N] [--size BYTES]
 *   strata-idemprod BOOTSTRAP TOPIC COUNT --consume group|assign [--group G]
 *
 * Prints one line: "delivered=N failed=M fatal=0|1 elapsed_ms=T records_per_s=R".
 * The consume mode (benchmark of a consumer-group member against a plain assign() consumer)
 * reads COUNT records from the beginning of every partition and prints
 * "consumed=N elapsed_ms=T records_per_s=R", timed from the first record to the last.
 * Exit status: 0 when every record was delivered (read), 1 otherwise, 2 on usage errors.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

static int64_t delivered, failed;
static int fatal;
static char first_error[512];

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    if (m->err) {
        if (failed++ == 0) {
            snprintf(first_error, sizeof(first_error), "%s", rd_kafka_err2str(m->err));
        }
    } else {
        delivered++;
    }
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512];
        rd_kafka_fatal_error(rk, buf, sizeof(buf));
        fprintf(stderr, "idemprod: FATAL: %s\n", buf);
        fatal = 1;
        return;
    }
    fprintf(stderr, "idemprod: %s: %s\n", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* Reads count records from the beginning of topic as a group member (subscribe) or with
 * assign(); the clock starts at the first record. */
static int consume(const char *bootstrap, const char *topic, long long count, bool group_mode,
                   const char *group) {
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *kv[][2] = {
        {"bootstrap.servers", bootstrap},  {"group.id", group},
        {"auto.offset.reset", "earliest"}, {"enable.auto.commit", group_mode ? "true" : "false"},
        {"enable.partition.eof", "false"},
    };
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
            fprintf(stderr, "idemprod: %s\n", errstr);
            return 2;
        }
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "idemprod: %s\n", errstr);
        return 1;
    }
    rd_kafka_poll_set_consumer(rk);
    if (group_mode) {
        rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_subscribe(rk, sub);
        rd_kafka_topic_partition_list_destroy(sub);
    } else {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
            md->topic_cnt < 1) {
            fprintf(stderr, "idemprod: no metadata for %s\n", topic);
            return 1;
        }
        rd_kafka_topic_partition_list_t *as = rd_kafka_topic_partition_list_new(1);
        for (int i = 0; i < md->topics[0].partition_cnt; i++) {
            rd_kafka_topic_partition_list_add(as, topic, md->topics[0].partitions[i].id)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        }
        rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        rd_kafka_assign(rk, as);
        rd_kafka_topic_partition_list_destroy(as);
    }
    long long got = 0;
    int64_t first = 0, last = 0, give_up = now_ms() + 120000;
    while (got < count && now_ms() < give_up) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            continue;
        }
        if (!m->err) {
            if (got++ == 0) {
                first = now_ms();
            }
            last = now_ms();
        }
        rd_kafka_message_destroy(m);
    }
    int64_t elapsed = last - first;
    printf("consumed=%lld elapsed_ms=%" PRId64 " records_per_s=%.0f\n", got, elapsed,
           elapsed > 0 ? (double)got * 1000.0 / (double)elapsed : 0.0);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return got == count ? 0 : 1;
}

static int usage(void) {
    fprintf(stderr, "usage: strata-idemprod BOOTSTRAP TOPIC COUNT [--no-idempotence] "
                    "[--rate RECORDS_PER_S] [--size VALUE_BYTES]\n"
                    "       strata-idemprod BOOTSTRAP TOPIC COUNT --consume group|assign "
                    "[--group G]\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        return usage();
    }
    const char *bootstrap = argv[1], *topic = argv[2];
    char *end;
    long long count = strtoll(argv[3], &end, 10);
    if (*end || count < 0) {
        return usage();
    }
    int idempotence = 1;
    long long rate = 0, size = 0;
    const char *consume_mode = NULL, *group = "strata-bench";
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--consume") == 0 && i + 1 < argc) {
            consume_mode = argv[++i];
        } else if (strcmp(argv[i], "--group") == 0 && i + 1 < argc) {
            group = argv[++i];
        } else if (strcmp(argv[i], "--no-idempotence") == 0) {
            idempotence = 0;
        } else if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc) {
            rate = strtoll(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
            size = strtoll(argv[++i], NULL, 10);
        } else {
            return usage();
        }
    }
    if (consume_mode) {
        if (strcmp(consume_mode, "group") != 0 && strcmp(consume_mode, "assign") != 0) {
            return usage();
        }
        return consume(bootstrap, topic, count, strcmp(consume_mode, "group") == 0, group);
    }
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *kv[][2] = {
        {"bootstrap.servers", bootstrap},
        {"enable.idempotence", idempotence ? "true" : "false"},
        {"acks", "all"},
        {"message.timeout.ms", "300000"},
        {"retry.backoff.ms", "100"},
        {"reconnect.backoff.max.ms", "500"},
        {"linger.ms", "5"},
    };
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
            fprintf(stderr, "idemprod: %s\n", errstr);
            return 2;
        }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "idemprod: %s\n", errstr);
        return 1;
    }
    char *pad = NULL;
    if (size > 0) {
        pad = malloc((size_t)size + 1);
        memset(pad, 'x', (size_t)size);
        pad[size] = 0;
    }
    int64_t start = now_ms();
    for (long long i = 0; i < count && !fatal; i++) {
        char key[32], val[64];
        int kl = snprintf(key, sizeof(key), "k%lld", i % 17);
        int vl = snprintf(val, sizeof(val), "%lld", i);
        const char *value = val;
        size_t value_len = (size_t)vl;
        char *big = NULL;
        if (pad) {
            big = malloc((size_t)vl + (size_t)size + 2);
            value_len = (size_t)sprintf(big, "%s %s", val, pad);
            value = big;
        }
        for (;;) {
            rd_kafka_resp_err_t err =
                rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, (size_t)kl),
                                  RD_KAFKA_V_VALUE((void *)value, value_len),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 50);
                continue;
            }
            if (err) {
                fprintf(stderr, "idemprod: produce: %s\n", rd_kafka_err2str(err));
                failed++;
            }
            break;
        }
        free(big);
        rd_kafka_poll(rk, 0);
        if (rate > 0) {
            int64_t due = start + (int64_t)(i + 1) * 1000 / rate;
            while (now_ms() < due && !fatal) {
                rd_kafka_poll(rk, (int)(due - now_ms()));
            }
        }
    }
    while (rd_kafka_outq_len(rk) > 0 && !fatal) {
        rd_kafka_poll(rk, 100);
    }
    int64_t elapsed = now_ms() - start;
    printf("delivered=%" PRId64 " failed=%" PRId64 " fatal=%d elapsed_ms=%" PRId64
           " records_per_s=%.0f\n",
           delivered, failed, fatal, elapsed,
           elapsed > 0 ? (double)delivered * 1000.0 / (double)elapsed : 0.0);
    if (failed) {
        fprintf(stderr, "idemprod: first delivery error: %s\n", first_error);
    }
    rd_kafka_destroy(rk);
    free(pad);
    return (failed == 0 && !fatal && delivered == count) ? 0 : 1;
}
