/*
 * produce: `strata produce`, a console producer. Reads lines from stdin, turns each into
 * a record (key split off with --key-separator), builds uncompressed magic-v2 batches
 * per partition itself and sends them with Produce to each partition's leader.
 * Partitioning follows Kafka's default partitioner for keyed records
 * (murmur2(key) & 0x7fffffff % partitions); records without a key go round-robin.
 * Pending batches are sent when they are full, when stdin has nothing more to read right
 * now (so interactive use sends each line), and at end of input. Retriable errors
 * refresh metadata and retry (no idempotence: a retry may duplicate, as in Kafka).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#define ERR_LEN          1024
#define MAX_BATCH_BYTES  (900 * 1024)
#define MAX_SEND_RETRIES 5

static const cli_opt_t opts[] = {
    {"bootstrap-server", CLI_OPT_VALUE, "host:port", "REQUIRED: The Kafka server to connect to."},
    {"topic", CLI_OPT_VALUE, "topic", "REQUIRED: The topic to produce to."},
    {"key-separator", CLI_OPT_VALUE, "separator",
     "Split each line at the first separator into key and value (like --property "
     "parse.key=true --property key.separator=S)."},
    {"partition", CLI_OPT_VALUE, "partition", "Send every record to this partition."},
    {"acks", CLI_OPT_VALUE, "-1|0|1|all", "Acknowledgements the leader waits for (default -1)."},
    {"batch-size", CLI_OPT_VALUE, "lines", "Records per batch at most (default 500)."},
    {"timeout-ms", CLI_OPT_VALUE, "ms", "Request timeout (default 30000)."},
    {"property", CLI_OPT_MULTI, "name=value",
     "parse.key=true|false, key.separator=S, ignore.error=true|false (kafka-console-producer)."},
    {"help", CLI_OPT_FLAG, NULL, "Print usage information."},
};
#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

static const char *const USAGE_LINE =
    "strata produce --bootstrap-server H:P --topic T [--key-separator C] [--partition P] "
    "[--acks N] < lines";
static const char *const SUMMARY = "Read lines from stdin and send each as a record to a topic.";

typedef struct part_state {
    int32_t id;
    int32_t leader;
    cli_batch_t batch;
} part_state_t;

typedef struct producer {
    cli_client_t client;
    const char *topic;
    int16_t acks;
    int32_t n_parts;
    part_state_t *parts;
    int failed; /* records that could not be delivered */
} producer_t;

static int usage_error(const char *msg) {
    fprintf(stderr, "strata produce: %s\nTry 'strata produce --help' for more information.\n", msg);
    return CLI_EXIT_USAGE;
}

static bool retriable(int code) {
    return code == KP_ERR_NOT_LEADER_OR_FOLLOWER || code == KP_ERR_LEADER_NOT_AVAILABLE ||
           code == KP_ERR_UNKNOWN_TOPIC_OR_PARTITION || code == KP_ERR_REQUEST_TIMED_OUT ||
           code == KP_ERR_NOT_ENOUGH_REPLICAS || code == KP_ERR_NETWORK_EXCEPTION ||
           code == KP_ERR_KAFKA_STORAGE_ERROR;
}

static void sleep_ms(int ms) {
    /* Retry backoff of a command-line client (Kafka's retry.backoff.ms), not a test wait. */
    poll(NULL, 0, ms);
}

/*
 * Refreshes the topic's partitions and leaders; waits (bounded) while the topic is being
 * created or has no leader. @returns 0 or -1 with err.
 */
static int refresh(producer_t *p, char *err, size_t err_len) {
    /* A topic that does not exist (auto-creation off) fails after 5 s, not the full timeout. */
    int64_t unknown_deadline = clock_mono_ms() + 5000;
    int64_t deadline = clock_mono_ms() + p->client.timeout_ms;
    for (int attempt = 0;; attempt++) {
        cli_resp_t resp;
        cli_resp_init(&resp);
        const char *names[1] = {p->topic};
        if (cli_client_metadata(&p->client, names, 1, true, &resp, err, err_len) != 0) {
            cli_resp_destroy(&resp);
            return -1;
        }
        kp_MetadataResponse_t *md = resp.msg;
        const kp_MetadataResponse_MetadataResponseTopic_t *t =
            md->n_topics > 0 ? &md->topics[0] : NULL;
        int code = t ? t->error_code : KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        bool ready = code == 0 && t->n_partitions > 0;
        for (int32_t i = 0; ready && i < t->n_partitions; i++) {
            ready = t->partitions[i].leader_id >= 0;
        }
        if (ready) {
            if (p->parts == NULL) {
                p->n_parts = t->n_partitions;
                p->parts = xcalloc((size_t)p->n_parts, sizeof(part_state_t));
                for (int32_t i = 0; i < p->n_parts; i++) {
                    p->parts[i].id = i;
                    p->parts[i].leader = -1;
                    cli_batch_init(&p->parts[i].batch);
                }
            }
            for (int32_t i = 0; i < t->n_partitions; i++) {
                int32_t idx = t->partitions[i].partition_index;
                if (idx >= 0 && idx < p->n_parts) {
                    p->parts[idx].leader = t->partitions[i].leader_id;
                }
            }
            cli_resp_destroy(&resp);
            return 0;
        }
        if ((code != 0 && !retriable(code)) || clock_mono_ms() >= deadline ||
            (code == KP_ERR_UNKNOWN_TOPIC_OR_PARTITION && clock_mono_ms() >= unknown_deadline)) {
            char kerr[512];
            cli_kafka_error(kerr, sizeof(kerr), code ? code : KP_ERR_LEADER_NOT_AVAILABLE, NULL);
            snprintf(err, err_len, "topic %s: %s", p->topic, kerr);
            cli_resp_destroy(&resp);
            return -1;
        }
        cli_resp_destroy(&resp);
        sleep_ms(attempt < 5 ? 100 : 500);
    }
}

/* Sends every non-empty batch led by `leader` in one Produce request. */
static int send_to_leader(producer_t *p, int32_t leader, bool *retry, char *err, size_t err_len) {
    cli_conn_t *conn = cli_client_node(&p->client, leader, err, err_len);
    if (conn == NULL) {
        *retry = true;
        return -1;
    }
    int16_t v = cli_conn_version(conn, KP_API_Produce, 3, 9, err, err_len);
    if (v < 0) {
        return -1;
    }
    kp_ProduceRequest_PartitionProduceData_t *pd = xcalloc((size_t)p->n_parts, sizeof(*pd));
    int32_t n = 0;
    for (int32_t i = 0; i < p->n_parts; i++) {
        part_state_t *ps = &p->parts[i];
        if (ps->leader != leader || ps->batch.count == 0) {
            continue;
        }
        size_t len;
        const uint8_t *data = cli_batch_finish(&ps->batch, &len);
        kp_init_ProduceRequest_PartitionProduceData(&pd[n]);
        pd[n].index = ps->id;
        pd[n].records = kp_records_mem(data, (int64_t)len);
        n++;
    }
    kp_ProduceRequest_TopicProduceData_t td;
    kp_init_ProduceRequest_TopicProduceData(&td);
    td.name = (char *)p->topic;
    td.n_partition_data = n;
    td.partition_data = pd;
    kp_ProduceRequest_t req;
    kp_init_ProduceRequest(&req);
    req.transactional_id = NULL;
    req.acks = p->acks;
    req.timeout_ms = p->client.timeout_ms;
    req.n_topic_data = 1;
    req.topic_data = &td;
    cli_resp_t resp;
    cli_resp_init(&resp);
    int rc = cli_conn_request(conn, KP_API_Produce, v, &req, p->acks != 0,
                              p->client.timeout_ms + 5000, &resp, err, err_len);
    if (rc != 0) {
        *retry = true;
        goto done;
    }
    if (p->acks == 0) {
        for (int32_t i = 0; i < n; i++) {
            cli_batch_reset(&p->parts[pd[i].index].batch);
        }
        goto done;
    }
    kp_ProduceResponse_t *r = resp.msg;
    for (int32_t t = 0; t < r->n_responses; t++) {
        for (int32_t k = 0; k < r->responses[t].n_partition_responses; k++) {
            const kp_ProduceResponse_PartitionProduceResponse_t *pr =
                &r->responses[t].partition_responses[k];
            if (pr->index < 0 || pr->index >= p->n_parts) {
                continue;
            }
            part_state_t *ps = &p->parts[pr->index];
            if (pr->error_code == 0) {
                cli_batch_reset(&ps->batch);
            } else if (retriable(pr->error_code)) {
                *retry = true;
            } else {
                char kerr[512];
                cli_kafka_error(kerr, sizeof(kerr), pr->error_code, pr->error_message);
                fprintf(stderr, "Error when sending %d message(s) to topic %s partition %d: %s\n",
                        ps->batch.count, p->topic, ps->id, kerr);
                p->failed += ps->batch.count;
                cli_batch_reset(&ps->batch);
            }
        }
    }
done:
    cli_resp_destroy(&resp);
    free(pd);
    return rc;
}

static bool any_pending(const producer_t *p) {
    for (int32_t i = 0; i < p->n_parts; i++) {
        if (p->parts[i].batch.count > 0) {
            return true;
        }
    }
    return false;
}

/* Sends every pending batch, retrying retriable failures. @returns 0 or -1 (fatal). */
static int flush_all(producer_t *p) {
    char err[ERR_LEN];
    err[0] = '\0';
    int32_t *leaders = xcalloc((size_t)p->n_parts + 1, sizeof(int32_t));
    int rc = 0;
    for (int attempt = 0; any_pending(p); attempt++) {
        if (attempt > 0) {
            /* What is still pending failed retriably: back off, refresh leaders, retry. */
            if (attempt > MAX_SEND_RETRIES) {
                fprintf(stderr, "Error: giving up after %d retries%s%s\n", MAX_SEND_RETRIES,
                        err[0] ? ": " : "", err);
                rc = -1;
                break;
            }
            sleep_ms(100 << (attempt - 1));
            if (refresh(p, err, sizeof(err)) != 0) {
                fprintf(stderr, "Error: %s\n", err);
                rc = -1;
                break;
            }
        }
        int32_t n_leaders = 0;
        for (int32_t i = 0; i < p->n_parts; i++) {
            if (p->parts[i].batch.count == 0) {
                continue;
            }
            bool seen = false;
            for (int32_t j = 0; j < n_leaders; j++) {
                seen = seen || leaders[j] == p->parts[i].leader;
            }
            if (!seen) {
                leaders[n_leaders++] = p->parts[i].leader;
            }
        }
        for (int32_t j = 0; j < n_leaders; j++) {
            bool again = false;
            if (send_to_leader(p, leaders[j], &again, err, sizeof(err)) != 0 && !again) {
                fprintf(stderr, "Error: %s\n", err);
                rc = -1;
                goto done;
            }
        }
    }
done:
    free(leaders);
    return rc;
}

static bool stdin_ready(void) {
    struct pollfd pfd = {0, POLLIN, 0};
    return poll(&pfd, 1, 0) > 0;
}

int cli_cmd_produce(int argc, char **argv) {
    cli_args_t a;
    char err[ERR_LEN];
    if (cli_args_parse(&a, opts, N_OPTS, argc, argv, err, sizeof(err)) != 0) {
        cli_args_free(&a);
        return usage_error(err);
    }
    producer_t p;
    memset(&p, 0, sizeof(p));
    int rc = CLI_EXIT_USAGE;
    const char *sep = cli_args_get(&a, "key-separator");
    bool parse_key = sep != NULL;
    bool ignore_error = false;
    int64_t partition = -1, batch_size = 500, timeout = 30000;
    p.acks = -1;
    if (cli_args_has(&a, "help")) {
        cli_print_usage(stdout, USAGE_LINE, SUMMARY, opts, N_OPTS);
        rc = CLI_EXIT_OK;
        goto done;
    }
    if (!cli_args_has(&a, "bootstrap-server") || !cli_args_has(&a, "topic")) {
        rc = usage_error(!cli_args_has(&a, "bootstrap-server")
                             ? "option '--bootstrap-server' is required"
                             : "option '--topic' is required");
        goto done;
    }
    size_t n_props;
    const char **props = cli_args_multi(&a, "property", &n_props);
    for (size_t i = 0; i < n_props; i++) {
        if (strcmp(props[i], "parse.key=true") == 0) {
            parse_key = true;
        } else if (strcmp(props[i], "parse.key=false") == 0) {
            parse_key = false;
        } else if (strncmp(props[i], "key.separator=", 14) == 0) {
            sep = props[i] + 14;
        } else if (strcmp(props[i], "ignore.error=true") == 0) {
            ignore_error = true;
        } else if (strcmp(props[i], "ignore.error=false") == 0) {
            ignore_error = false;
        } else {
            snprintf(err, sizeof(err), "--property: unsupported property '%s'", props[i]);
            rc = usage_error(err);
            goto done;
        }
    }
    if (parse_key && sep == NULL) {
        sep = "\t"; /* kafka-console-producer's default key.separator */
    }
    if (parse_key && sep[0] == '\0') {
        rc = usage_error("--key-separator: the separator must not be empty");
        goto done;
    }
    const char *acks = cli_args_get(&a, "acks");
    if (acks != NULL) {
        int64_t v;
        if (strcmp(acks, "all") == 0) {
            v = -1;
        } else if (cli_parse_int("acks", acks, -1, 1, &v, err, sizeof(err)) != 0) {
            rc = usage_error(err);
            goto done;
        }
        p.acks = (int16_t)v;
    }
    if ((cli_args_has(&a, "partition") &&
         cli_parse_int("partition", cli_args_get(&a, "partition"), 0, INT32_MAX, &partition, err,
                       sizeof(err)) != 0) ||
        (cli_args_has(&a, "batch-size") &&
         cli_parse_int("batch-size", cli_args_get(&a, "batch-size"), 1, 1000000, &batch_size, err,
                       sizeof(err)) != 0) ||
        (cli_args_has(&a, "timeout-ms") &&
         cli_parse_int("timeout-ms", cli_args_get(&a, "timeout-ms"), 1, INT32_MAX / 2, &timeout,
                       err, sizeof(err)) != 0)) {
        rc = usage_error(err);
        goto done;
    }
    p.topic = cli_args_get(&a, "topic");
    rc = CLI_EXIT_ERROR;
    p.client.timeout_ms = (int)timeout;
    if (cli_client_open(&p.client, cli_args_get(&a, "bootstrap-server"), err, sizeof(err)) != 0 ||
        refresh(&p, err, sizeof(err)) != 0) {
        fprintf(stderr, "Error: %s\n", err);
        goto done;
    }
    if (partition >= p.n_parts) {
        fprintf(stderr, "Error: topic %s has %d partitions; partition %lld does not exist\n",
                p.topic, p.n_parts, (long long)partition);
        goto done;
    }
    /* Line reader over read(2), so we know when no more input is waiting. */
    buf_t in = BUF_INIT;
    size_t start = 0;
    bool eof = false;
    int64_t line_no = 0;
    uint32_t rr = 0;
    bool fatal = false;
    while (!fatal) {
        uint8_t *nl = in.len > start ? memchr(in.data + start, '\n', in.len - start) : NULL;
        if (nl == NULL && !eof) {
            if (start > 0) {
                memmove(in.data, in.data + start, in.len - start);
                in.len -= start;
                start = 0;
            }
            if (!stdin_ready() && flush_all(&p) != 0) {
                fatal = true;
                break;
            }
            buf_reserve(&in, 64 * 1024);
            ssize_t r = read(0, in.data + in.len, in.cap - in.len);
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r <= 0) {
                eof = true;
            } else {
                in.len += (size_t)r;
            }
            continue;
        }
        if (nl == NULL && start >= in.len) {
            break; /* end of input */
        }
        size_t end = nl ? (size_t)(nl - in.data) : in.len;
        char *line = (char *)in.data + start;
        size_t len = end - start;
        start = nl ? end + 1 : in.len;
        line_no++;
        if (len > 0 && line[len - 1] == '\r') {
            len--;
        }
        const char *key = NULL;
        int32_t key_len = -1;
        const char *value = line;
        int32_t value_len = (int32_t)len;
        if (parse_key) {
            size_t sl = strlen(sep);
            char *hit = NULL;
            for (size_t i = 0; i + sl <= len && hit == NULL; i++) {
                if (memcmp(line + i, sep, sl) == 0) {
                    hit = line + i;
                }
            }
            if (hit != NULL) {
                key = line;
                key_len = (int32_t)(hit - line);
                value = hit + sl;
                value_len = (int32_t)(len - (size_t)(hit - line) - sl);
            } else if (!ignore_error) {
                fprintf(stderr, "Error: No key separator found on line number %lld: '%.*s'\n",
                        (long long)line_no, (int)len, line);
                fatal = true;
                break;
            }
        }
        int32_t part;
        if (partition >= 0) {
            part = (int32_t)partition;
        } else if (key != NULL) {
            part = cli_partition_for_key(key, (size_t)key_len, p.n_parts);
        } else {
            part = (int32_t)(rr++ % (uint32_t)p.n_parts);
        }
        cli_batch_t *b = &p.parts[part].batch;
        cli_batch_add(b, key, key_len, value, value_len, clock_wall_ms());
        if (b->count >= batch_size || cli_batch_size(b) >= MAX_BATCH_BYTES) {
            if (flush_all(&p) != 0) {
                fatal = true;
            }
        }
    }
    buf_destroy(&in);
    if (flush_all(&p) != 0) {
        fatal = true;
    }
    rc = fatal || p.failed > 0 ? CLI_EXIT_ERROR : CLI_EXIT_OK;
done:
    for (int32_t i = 0; i < p.n_parts; i++) {
        cli_batch_destroy(&p.parts[i].batch);
    }
    free(p.parts);
    cli_client_close(&p.client);
    cli_args_free(&a);
    return rc;
}
