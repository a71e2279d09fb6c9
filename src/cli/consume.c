/*
 * consume: `strata consume`, a console consumer without a group. Finds the topic's
 * partitions and leaders, resolves start offsets with ListOffsets (earliest for
 * --from-beginning, latest by default, or --partition/--offset), then loops on Fetch to
 * each leader and prints one record per line (value, optionally key, partition, offset,
 * timestamp like kafka-console-consumer's print.* properties). Stops after
 * --max-messages, after --timeout-ms without a record, or on SIGINT/SIGTERM, and then
 * prints "Processed a total of N messages" to stderr as Kafka does. With --group it is a
 * consumer-group member (group.c): positions start at the committed offsets.
 * Batches are parsed by batch.c; compressed batches are reported, not decoded.
 */
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define ERR_LEN 1024

static const cli_opt_t opts[] = {
    {"bootstrap-server", CLI_OPT_VALUE, "host:port", "REQUIRED: The Kafka server to connect to."},
    {"topic", CLI_OPT_VALUE, "topic", "REQUIRED: The topic to consume from."},
    {"from-beginning", CLI_OPT_FLAG, NULL, "Start with the earliest record instead of the latest."},
    {"partition", CLI_OPT_VALUE, "partition", "Consume only this partition."},
    {"offset", CLI_OPT_VALUE, "offset|earliest|latest",
     "The offset to start from (needs --partition; default latest)."},
    {"max-messages", CLI_OPT_VALUE, "n", "Exit after printing this many records."},
    {"timeout-ms", CLI_OPT_VALUE, "ms", "Exit when no record arrived for this long."},
    {"property", CLI_OPT_MULTI, "name=value",
     "print.key, print.value, print.partition, print.offset, print.timestamp (true|false), "
     "key.separator, line.separator (kafka-console-consumer)."},
    {"group", CLI_OPT_VALUE, "group",
     "Consume as a member of this consumer group (range assignor; offsets committed every 5 s "
     "and at exit)."},
    {"help", CLI_OPT_FLAG, NULL, "Print usage information."},
};
#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

static const char *const USAGE_LINE =
    "strata consume --bootstrap-server H:P --topic T [--from-beginning | --partition P "
    "--offset O] [--max-messages N] [--timeout-ms N]";
static const char *const SUMMARY = "Print the records of a topic, one value per line.";

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

typedef struct fmt {
    bool key, value, partition, offset, timestamp;
    const char *key_sep;
    const char *line_sep;
} fmt_t;

typedef struct cpart {
    int32_t id;
    int32_t leader;
    int64_t offset; /* next offset to fetch; -1/-2 = resolve latest/earliest */
} cpart_t;

typedef struct consumer {
    cli_client_t client;
    const char *topic;
    cpart_t *parts;
    int32_t n_parts;
    fmt_t fmt;
    int64_t max_messages; /* -1 = unlimited */
    int64_t printed;
    int32_t current_partition;
    bool have_parts; /* parts set (group members may have none) */
    buf_t out;
} consumer_t;

static int usage_error(const char *msg) {
    fprintf(stderr, "strata consume: %s\nTry 'strata consume --help' for more information.\n", msg);
    return CLI_EXIT_USAGE;
}

static void sleep_ms(int ms) {
    poll(NULL, 0, ms); /* retry backoff of a client, not a test wait */
}

static bool retriable(int code) {
    return code == KP_ERR_NOT_LEADER_OR_FOLLOWER || code == KP_ERR_LEADER_NOT_AVAILABLE ||
           code == KP_ERR_UNKNOWN_TOPIC_OR_PARTITION || code == KP_ERR_REQUEST_TIMED_OUT ||
           code == KP_ERR_FENCED_LEADER_EPOCH || code == KP_ERR_UNKNOWN_LEADER_EPOCH ||
           code == KP_ERR_KAFKA_STORAGE_ERROR || code == KP_ERR_NOT_ENOUGH_REPLICAS;
}

/* Refreshes leaders (creating cparts the first time). @returns 0 or -1 with err. */
static int refresh(consumer_t *c, int32_t only_partition, char *err, size_t err_len) {
    /* A topic that does not exist (auto-creation off) fails after 5 s, not the full timeout. */
    int64_t unknown_deadline = clock_mono_ms() + 5000;
    int64_t deadline = clock_mono_ms() + c->client.timeout_ms;
    for (int attempt = 0;; attempt++) {
        cli_resp_t resp;
        cli_resp_init(&resp);
        const char *names[1] = {c->topic};
        if (cli_client_metadata(&c->client, names, 1, true, &resp, err, err_len) != 0) {
            cli_resp_destroy(&resp);
            return -1;
        }
        kp_MetadataResponse_t *md = resp.msg;
        const kp_MetadataResponse_MetadataResponseTopic_t *t =
            md->n_topics > 0 ? &md->topics[0] : NULL;
        int code = t ? t->error_code : KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        if (code == 0 && t->n_partitions > 0) {
            if (!c->have_parts) {
                c->have_parts = true;
                if (only_partition >= t->n_partitions) {
                    snprintf(err, err_len,
                             "topic %s has %d partitions; partition %d does not exist", c->topic,
                             t->n_partitions, only_partition);
                    cli_resp_destroy(&resp);
                    return -1;
                }
                c->n_parts = only_partition >= 0 ? 1 : t->n_partitions;
                c->parts = xcalloc((size_t)c->n_parts, sizeof(cpart_t));
                for (int32_t i = 0; i < c->n_parts; i++) {
                    c->parts[i].id = only_partition >= 0 ? only_partition : i;
                    c->parts[i].leader = -1;
                    c->parts[i].offset = -1;
                }
            }
            bool all_led = true;
            for (int32_t i = 0; i < c->n_parts; i++) {
                for (int32_t k = 0; k < t->n_partitions; k++) {
                    if (t->partitions[k].partition_index == c->parts[i].id) {
                        c->parts[i].leader = t->partitions[k].leader_id;
                    }
                }
                all_led = all_led && c->parts[i].leader >= 0;
            }
            if (all_led) {
                cli_resp_destroy(&resp);
                return 0;
            }
            code = KP_ERR_LEADER_NOT_AVAILABLE;
        }
        if ((code != 0 && !retriable(code)) || clock_mono_ms() >= deadline ||
            (code == KP_ERR_UNKNOWN_TOPIC_OR_PARTITION && clock_mono_ms() >= unknown_deadline) ||
            stop_requested) {
            char kerr[512];
            cli_kafka_error(kerr, sizeof(kerr), code, NULL);
            snprintf(err, err_len, "topic %s: %s", c->topic, kerr);
            cli_resp_destroy(&resp);
            return -1;
        }
        cli_resp_destroy(&resp);
        sleep_ms(attempt < 5 ? 100 : 500);
    }
}

/* Resolves offsets -1 (latest) and -2 (earliest) with ListOffsets to each leader. */
static int resolve_offsets(consumer_t *c, char *err, size_t err_len) {
    for (int32_t i = 0; i < c->n_parts; i++) {
        cpart_t *p = &c->parts[i];
        if (p->offset >= 0) {
            continue;
        }
        cli_conn_t *conn = cli_client_node(&c->client, p->leader, err, err_len);
        int16_t v = conn ? cli_conn_version(conn, KP_API_ListOffsets, 1, 7, err, err_len) : -1;
        if (v < 0) {
            return -1;
        }
        kp_ListOffsetsRequest_ListOffsetsPartition_t lp;
        kp_init_ListOffsetsRequest_ListOffsetsPartition(&lp);
        lp.partition_index = p->id;
        lp.timestamp = p->offset; /* -1 latest, -2 earliest */
        kp_ListOffsetsRequest_ListOffsetsTopic_t lt;
        kp_init_ListOffsetsRequest_ListOffsetsTopic(&lt);
        lt.name = (char *)c->topic;
        lt.n_partitions = 1;
        lt.partitions = &lp;
        kp_ListOffsetsRequest_t req;
        kp_init_ListOffsetsRequest(&req);
        req.replica_id = -1;
        req.isolation_level = 0;
        req.n_topics = 1;
        req.topics = &lt;
        cli_resp_t resp;
        cli_resp_init(&resp);
        if (cli_conn_request(conn, KP_API_ListOffsets, v, &req, true, c->client.timeout_ms, &resp,
                             err, err_len) != 0) {
            cli_resp_destroy(&resp);
            return -1;
        }
        kp_ListOffsetsResponse_t *r = resp.msg;
        int code = KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        int64_t off = -1;
        if (r->n_topics > 0 && r->topics[0].n_partitions > 0) {
            code = r->topics[0].partitions[0].error_code;
            off = r->topics[0].partitions[0].offset;
        }
        cli_resp_destroy(&resp);
        if (code != 0) {
            char kerr[512];
            cli_kafka_error(kerr, sizeof(kerr), code, NULL);
            snprintf(err, err_len, "ListOffsets %s-%d: %s", c->topic, p->id, kerr);
            return retriable(code) ? 1 : -1;
        }
        p->offset = off;
    }
    return 0;
}

static void append_str(buf_t *b, const char *s) {
    buf_append(b, s, strlen(s));
}

static bool print_record(const cli_record_t *r, void *ctx) {
    consumer_t *c = ctx;
    buf_t *b = &c->out;
    const fmt_t *f = &c->fmt;
    char tmp[64];
    if (f->timestamp) {
        snprintf(tmp, sizeof(tmp), "%s:%lld", r->log_append_time ? "LogAppendTime" : "CreateTime",
                 (long long)r->timestamp);
        append_str(b, tmp);
        append_str(b, f->key_sep);
    }
    if (f->partition) {
        snprintf(tmp, sizeof(tmp), "Partition:%d", c->current_partition);
        append_str(b, tmp);
        append_str(b, f->key_sep);
    }
    if (f->offset) {
        snprintf(tmp, sizeof(tmp), "Offset:%lld", (long long)r->offset);
        append_str(b, tmp);
        append_str(b, f->key_sep);
    }
    if (f->key) {
        if (r->key_len < 0) {
            append_str(b, "null");
        } else {
            buf_append(b, r->key, (size_t)r->key_len);
        }
        if (f->value) {
            append_str(b, f->key_sep);
        }
    }
    if (f->value) {
        if (r->value_len < 0) {
            append_str(b, "null");
        } else {
            buf_append(b, r->value, (size_t)r->value_len);
        }
    }
    append_str(b, f->line_sep);
    c->printed++;
    return c->max_messages < 0 || c->printed < c->max_messages;
}

/* One Fetch to one leader for all its partitions. @returns 0, 1 (refresh needed), -1. */
static int fetch_from(consumer_t *c, int32_t leader, int max_wait_ms, char *err, size_t err_len) {
    cli_conn_t *conn = cli_client_node(&c->client, leader, err, err_len);
    if (conn == NULL) {
        return 1;
    }
    int16_t v = cli_conn_version(conn, KP_API_Fetch, 4, 12, err, err_len);
    if (v < 0) {
        return -1;
    }
    kp_FetchRequest_FetchPartition_t *fp = xcalloc((size_t)c->n_parts, sizeof(*fp));
    int32_t n = 0;
    for (int32_t i = 0; i < c->n_parts; i++) {
        if (c->parts[i].leader != leader) {
            continue;
        }
        kp_init_FetchRequest_FetchPartition(&fp[n]);
        fp[n].partition = c->parts[i].id;
        fp[n].fetch_offset = c->parts[i].offset;
        fp[n].partition_max_bytes = 1024 * 1024;
        n++;
    }
    kp_FetchRequest_FetchTopic_t ft;
    kp_init_FetchRequest_FetchTopic(&ft);
    ft.topic = (char *)c->topic;
    ft.n_partitions = n;
    ft.partitions = fp;
    kp_FetchRequest_t req;
    kp_init_FetchRequest(&req);
    req.replica_id = -1;
    req.max_wait_ms = max_wait_ms;
    req.min_bytes = 1;
    req.max_bytes = 50 * 1024 * 1024;
    req.isolation_level = 0;
    req.session_id = 0;
    req.session_epoch = -1;
    req.n_topics = 1;
    req.topics = &ft;
    req.n_forgotten_topics_data = 0;
    req.rack_id = "";
    cli_resp_t resp;
    cli_resp_init(&resp);
    int rc = 0;
    if (cli_conn_request(conn, KP_API_Fetch, v, &req, true, c->client.timeout_ms + max_wait_ms,
                         &resp, err, err_len) != 0) {
        rc = 1;
        goto done;
    }
    kp_FetchResponse_t *r = resp.msg;
    if (r->error_code != 0) {
        char kerr[512];
        cli_kafka_error(kerr, sizeof(kerr), r->error_code, NULL);
        snprintf(err, err_len, "Fetch from broker %d: %s", leader, kerr);
        rc = retriable(r->error_code) ? 1 : -1;
        goto done;
    }
    for (int32_t t = 0; t < r->n_responses; t++) {
        for (int32_t k = 0; k < r->responses[t].n_partitions; k++) {
            const kp_FetchResponse_PartitionData_t *pd = &r->responses[t].partitions[k];
            cpart_t *p = NULL;
            for (int32_t i = 0; i < c->n_parts; i++) {
                if (c->parts[i].id == pd->partition_index) {
                    p = &c->parts[i];
                }
            }
            if (p == NULL) {
                continue;
            }
            if (pd->error_code == KP_ERR_OFFSET_OUT_OF_RANGE) {
                fprintf(stderr,
                        "WARNING: offset %lld is out of range for %s-%d; resetting to the "
                        "earliest offset\n",
                        (long long)p->offset, c->topic, p->id);
                p->offset = -2;
                rc = rc ? rc : 1;
                continue;
            }
            if (pd->error_code != 0) {
                char kerr[512];
                cli_kafka_error(kerr, sizeof(kerr), pd->error_code, NULL);
                snprintf(err, err_len, "Fetch %s-%d: %s", c->topic, p->id, kerr);
                if (!retriable(pd->error_code)) {
                    rc = -1;
                    goto done;
                }
                rc = 1;
                continue;
            }
            if (pd->records.len <= 0 || pd->records.data == NULL) {
                continue;
            }
            int64_t next = p->offset;
            c->current_partition = p->id;
            int brc = cli_batch_parse(pd->records.data, (size_t)pd->records.len, p->offset,
                                      print_record, c, &next);
            if (next > p->offset) {
                p->offset = next;
            }
            if (brc != CLI_BATCH_OK) {
                snprintf(err, err_len, "%s-%d at offset %lld: %s", c->topic, p->id,
                         (long long)p->offset,
                         brc == CLI_BATCH_COMPRESSED
                             ? "compressed record batches are not supported by strata consume"
                         : brc == CLI_BATCH_OLD_MAGIC
                             ? "old message format (magic 0/1) is not supported"
                             : "corrupt record batch (CRC mismatch or garbled record)");
                rc = -1;
                goto done;
            }
            if (c->max_messages >= 0 && c->printed >= c->max_messages) {
                goto done;
            }
        }
    }
done:
    if (c->out.len > 0) {
        if (fwrite(c->out.data, 1, c->out.len, stdout) != c->out.len || fflush(stdout) != 0) {
            stop_requested = 1; /* stdout closed (e.g. piped into head): stop quietly */
        }
        buf_reset(&c->out);
    }
    cli_resp_destroy(&resp);
    free(fp);
    return rc;
}

static int parse_bool_prop(const char *v, bool *out) {
    if (strcmp(v, "true") == 0) {
        *out = true;
        return 0;
    }
    if (strcmp(v, "false") == 0) {
        *out = false;
        return 0;
    }
    return -1;
}

static char *unescape_sep(const char *s) {
    /* "\t" and "\n" typed literally on a shell line mean tab and newline. */
    buf_t b = BUF_INIT;
    for (; *s; s++) {
        char ch = *s;
        if (ch == '\\' && (s[1] == 't' || s[1] == 'n')) {
            ch = s[1] == 't' ? '\t' : '\n';
            s++;
        }
        buf_append(&b, &ch, 1);
    }
    buf_append(&b, "", 1);
    return (char *)b.data;
}

/* Replaces the partitions consumed by the group assignment and sets their positions from
 * the committed offsets (else earliest/latest by reset). @returns 0 or -1 with err. */
static int apply_assignment(consumer_t *c, cli_group_t *g, int64_t reset, char *err,
                            size_t err_len) {
    int32_t *ids = NULL;
    int32_t n = 0;
    if (cli_group_join(g, &ids, &n, err, err_len) != 0) {
        return -1;
    }
    free(c->parts);
    c->parts = xcalloc((size_t)n + 1, sizeof(cpart_t));
    c->n_parts = n;
    int64_t *committed = xcalloc((size_t)n + 1, sizeof(int64_t));
    int rc = cli_group_fetch_offsets(g, ids, n, committed, err, err_len);
    for (int32_t i = 0; i < n; i++) {
        c->parts[i].id = ids[i];
        c->parts[i].leader = -1;
        c->parts[i].offset = committed[i] >= 0 ? committed[i] : reset;
    }
    free(committed);
    free(ids);
    if (rc == 0 && n > 0) {
        rc = refresh(c, -1, err, err_len);
    }
    return rc;
}

/* Commits the current positions (offsets already resolved only). */
static int commit_positions(consumer_t *c, cli_group_t *g, char *err, size_t err_len) {
    int32_t *ids = xcalloc((size_t)c->n_parts + 1, sizeof(int32_t));
    int64_t *offs = xcalloc((size_t)c->n_parts + 1, sizeof(int64_t));
    for (int32_t i = 0; i < c->n_parts; i++) {
        ids[i] = c->parts[i].id;
        offs[i] = c->parts[i].offset; /* -1/-2 (unresolved) are skipped by the commit */
    }
    int rc = cli_group_commit(g, ids, offs, c->n_parts, err, err_len);
    free(ids);
    free(offs);
    return rc;
}

int cli_cmd_consume(int argc, char **argv) {
    cli_args_t a;
    char err[ERR_LEN];
    if (cli_args_parse(&a, opts, N_OPTS, argc, argv, err, sizeof(err)) != 0) {
        cli_args_free(&a);
        return usage_error(err);
    }
    consumer_t c;
    memset(&c, 0, sizeof(c));
    c.fmt = (fmt_t){false, true, false, false, false, "\t", "\n"};
    c.max_messages = -1;
    char *key_sep = NULL, *line_sep = NULL;
    int rc = CLI_EXIT_USAGE;
    int64_t partition = -1, offset = -1, timeout = -1;
    bool ran = false;
    cli_group_t *group = NULL;
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
    if (cli_args_has(&a, "offset") && !cli_args_has(&a, "partition")) {
        rc = usage_error("option '--offset' needs '--partition'");
        goto done;
    }
    if (cli_args_has(&a, "offset") && cli_args_has(&a, "from-beginning")) {
        rc = usage_error("options '--from-beginning' and '--offset' cannot be used together");
        goto done;
    }
    if (cli_args_has(&a, "partition") &&
        cli_parse_int("partition", cli_args_get(&a, "partition"), 0, INT32_MAX, &partition, err,
                      sizeof(err)) != 0) {
        rc = usage_error(err);
        goto done;
    }
    if (cli_args_has(&a, "from-beginning")) {
        offset = -2;
    }
    const char *off_s = cli_args_get(&a, "offset");
    if (off_s != NULL) {
        if (strcmp(off_s, "earliest") == 0) {
            offset = -2;
        } else if (strcmp(off_s, "latest") == 0) {
            offset = -1;
        } else if (cli_parse_int("offset", off_s, 0, INT64_MAX, &offset, err, sizeof(err)) != 0) {
            rc = usage_error(err);
            goto done;
        }
    }
    if ((cli_args_has(&a, "max-messages") &&
         cli_parse_int("max-messages", cli_args_get(&a, "max-messages"), 0, INT64_MAX,
                       &c.max_messages, err, sizeof(err)) != 0) ||
        (cli_args_has(&a, "timeout-ms") &&
         cli_parse_int("timeout-ms", cli_args_get(&a, "timeout-ms"), 0, INT32_MAX, &timeout, err,
                       sizeof(err)) != 0)) {
        rc = usage_error(err);
        goto done;
    }
    size_t n_props;
    const char **props = cli_args_multi(&a, "property", &n_props);
    for (size_t i = 0; i < n_props; i++) {
        const char *eq = strchr(props[i], '=');
        const char *v = eq ? eq + 1 : "";
        size_t kl = eq ? (size_t)(eq - props[i]) : strlen(props[i]);
        int bad = eq == NULL;
#define IS(name) (kl == strlen(name) && strncmp(props[i], name, kl) == 0)
        if (bad) {
            ;
        } else if (IS("print.key")) {
            bad = parse_bool_prop(v, &c.fmt.key);
        } else if (IS("print.value")) {
            bad = parse_bool_prop(v, &c.fmt.value);
        } else if (IS("print.partition")) {
            bad = parse_bool_prop(v, &c.fmt.partition);
        } else if (IS("print.offset")) {
            bad = parse_bool_prop(v, &c.fmt.offset);
        } else if (IS("print.timestamp")) {
            bad = parse_bool_prop(v, &c.fmt.timestamp);
        } else if (IS("key.separator")) {
            free(key_sep);
            key_sep = unescape_sep(v);
            c.fmt.key_sep = key_sep;
        } else if (IS("line.separator")) {
            free(line_sep);
            line_sep = unescape_sep(v);
            c.fmt.line_sep = line_sep;
        } else {
            bad = 1;
        }
#undef IS
        if (bad) {
            snprintf(err, sizeof(err), "--property: unsupported or malformed property '%s'",
                     props[i]);
            rc = usage_error(err);
            goto done;
        }
    }
    if (cli_args_has(&a, "group") && cli_args_has(&a, "partition")) {
        rc = usage_error("options '--group' and '--partition' cannot be used together");
        goto done;
    }
    rc = CLI_EXIT_ERROR;
    c.topic = cli_args_get(&a, "topic");
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (cli_client_open(&c.client, cli_args_get(&a, "bootstrap-server"), err, sizeof(err)) != 0 ||
        refresh(&c, (int32_t)partition, err, sizeof(err)) != 0) {
        fprintf(stderr, "Error: %s\n", err);
        goto done;
    }
    for (int32_t i = 0; i < c.n_parts; i++) {
        c.parts[i].offset = offset;
    }
    if (cli_args_has(&a, "group")) {
        group = cli_group_new(&c.client, cli_args_get(&a, "group"), c.topic);
        if (apply_assignment(&c, group, offset == -2 ? -2 : -1, err, sizeof(err)) != 0) {
            fprintf(stderr, "Error: %s\n", err);
            goto done;
        }
    }
    ran = true;
    int64_t last_heartbeat = clock_mono_ms(), last_commit = clock_mono_ms();
    int64_t last_activity = clock_mono_ms();
    int failures = 0;
    int32_t *leaders = NULL;
    rc = CLI_EXIT_OK;
    while (!stop_requested && (c.max_messages < 0 || c.printed < c.max_messages)) {
        int64_t before = c.printed;
        if (group != NULL) {
            int64_t now = clock_mono_ms();
            int g = 0;
            if (now - last_commit >= 5000) {
                g = commit_positions(&c, group, err, sizeof(err));
                last_commit = now;
            }
            if (g == 0 && now - last_heartbeat >= 3000) {
                g = cli_group_heartbeat(group, err, sizeof(err));
                last_heartbeat = now;
            }
            if (g > 0) {
                commit_positions(&c, group, err, sizeof(err)); /* best effort before rejoin */
                g = apply_assignment(&c, group, offset == -2 ? -2 : -1, err, sizeof(err));
                last_heartbeat = clock_mono_ms();
            }
            if (g < 0) {
                fprintf(stderr, "Error: %s\n", err);
                rc = CLI_EXIT_ERROR;
                break;
            }
            if (c.n_parts == 0) {
                sleep_ms(500); /* nothing assigned: just stay in the group */
                if (timeout >= 0 && clock_mono_ms() - last_activity >= timeout) {
                    break;
                }
                continue;
            }
        }
        free(leaders);
        leaders = xcalloc((size_t)c.n_parts + 1, sizeof(int32_t));
        int step = resolve_offsets(&c, err, sizeof(err));
        if (step == 0) {
            int32_t n_leaders = 0;
            for (int32_t i = 0; i < c.n_parts; i++) {
                bool seen = false;
                for (int32_t j = 0; j < n_leaders; j++) {
                    seen = seen || leaders[j] == c.parts[i].leader;
                }
                if (!seen) {
                    leaders[n_leaders++] = c.parts[i].leader;
                }
            }
            int wait = 500;
            if (timeout >= 0) {
                int64_t left = timeout - (clock_mono_ms() - last_activity);
                wait = left < 0 ? 0 : left < wait ? (int)left : wait;
            }
            for (int32_t j = 0; j < n_leaders && step >= 0; j++) {
                int r = fetch_from(&c, leaders[j], n_leaders > 1 ? wait / n_leaders : wait, err,
                                   sizeof(err));
                step = r < 0 ? -1 : (r > 0 ? 1 : step);
                if (c.max_messages >= 0 && c.printed >= c.max_messages) {
                    break;
                }
            }
        }
        if (step < 0) {
            fprintf(stderr, "Error: %s\n", err);
            rc = CLI_EXIT_ERROR;
            break;
        }
        if (c.printed > before) {
            last_activity = clock_mono_ms();
        }
        if (timeout >= 0 && clock_mono_ms() - last_activity >= timeout) {
            break;
        }
        if (step > 0) {
            if (++failures > 20) {
                fprintf(stderr, "Error: %s\n", err);
                rc = CLI_EXIT_ERROR;
                break;
            }
            sleep_ms(failures < 5 ? 100 : 500);
            if (refresh(&c, (int32_t)partition, err, sizeof(err)) != 0) {
                fprintf(stderr, "Error: %s\n", err);
                rc = CLI_EXIT_ERROR;
                break;
            }
        } else {
            failures = 0;
        }
    }
    free(leaders);
    if (group != NULL) {
        char cerr[ERR_LEN];
        if (commit_positions(&c, group, cerr, sizeof(cerr)) != 0) {
            fprintf(stderr, "WARNING: final offset commit failed: %s\n", cerr);
        }
        cli_group_leave(group);
    }
done:
    cli_group_free(group);
    if (ran) {
        fprintf(stderr, "Processed a total of %lld messages\n", (long long)c.printed);
    }
    buf_destroy(&c.out);
    free(c.parts);
    free(key_sep);
    free(line_sep);
    cli_client_close(&c.client);
    cli_args_free(&a);
    return rc;
}
