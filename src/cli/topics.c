/*
 * topics: `strata topics`, kafka-topics.sh over the Kafka protocol: --create, --list,
 * --describe, --alter (partitions) and --delete, with kafka-topics' flags, messages and
 * output format. CreateTopics, DeleteTopics and CreatePartitions go to the controller
 * named in Metadata (retried on NOT_CONTROLLER); Metadata and DescribeConfigs to the
 * bootstrap broker. With --zookeeper the options are checked here and topics_zk.c does
 * the work on ZooKeeper.
 * Differences from kafka-topics.sh: errors go to stderr ("Error while executing topic
 * command : <KAFKA_ERROR_NAME>: <reason>"), and usage errors exit 2 (Kafka exits 1).
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define ERR_LEN 1024
#define PREFIX  "Error while executing topic command : "

static const cli_opt_t opts[] = {
    {"bootstrap-server", CLI_OPT_VALUE, "host:port",
     "The Kafka server to connect to (comma-separated list allowed). This or --zookeeper is "
     "required."},
    {"zookeeper", CLI_OPT_VALUE, "host:port[/chroot]",
     "Read and write the cluster's ZooKeeper directly instead of talking to a broker, like "
     "kafka-topics.sh --zookeeper (comma-separated hosts, optional chroot)."},
    {"create", CLI_OPT_FLAG, NULL, "Create a new topic."},
    {"delete", CLI_OPT_FLAG, NULL, "Delete a topic."},
    {"describe", CLI_OPT_FLAG, NULL, "List details for the given topics."},
    {"list", CLI_OPT_FLAG, NULL, "List all available topics."},
    {"alter", CLI_OPT_FLAG, NULL, "Alter the number of partitions and replica assignment."},
    {"topic", CLI_OPT_VALUE, "topic",
     "The topic to create, alter, describe or delete. Except with --create it is a regular "
     "expression ('a,b' = a or b) that must match the whole name."},
    {"partitions", CLI_OPT_VALUE, "# of partitions",
     "The number of partitions for the topic being created or altered (broker default when "
     "omitted with --create)."},
    {"replication-factor", CLI_OPT_VALUE, "replication factor",
     "The replication factor for each partition of the topic being created (broker default "
     "when omitted)."},
    {"replica-assignment", CLI_OPT_VALUE, "b1:b2,b1:b2",
     "Manual partition-to-broker assignments for the topic being created or altered: "
     "partitions separated by ',', replicas by ':'."},
    {"config", CLI_OPT_MULTI, "name=value",
     "A topic configuration override for the topic being created."},
    {"if-not-exists", CLI_OPT_FLAG, NULL,
     "With --create: do not fail if the topic already exists."},
    {"if-exists", CLI_OPT_FLAG, NULL,
     "With --alter, --delete or --describe: only act if the topic exists."},
    {"exclude-internal", CLI_OPT_FLAG, NULL,
     "Exclude internal topics when listing or describing topics."},
    {"under-replicated-partitions", CLI_OPT_FLAG, NULL,
     "With --describe: only show under-replicated partitions."},
    {"unavailable-partitions", CLI_OPT_FLAG, NULL,
     "With --describe: only show partitions whose leader is not available."},
    {"topics-with-overrides", CLI_OPT_FLAG, NULL,
     "With --describe: only show topics that have overridden configs."},
    {"disable-rack-aware", CLI_OPT_FLAG, NULL,
     "With --zookeeper --create or --alter: assign replicas without regard to broker racks."},
    {"help", CLI_OPT_FLAG, NULL, "Print usage information."},
};
#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

static const char *const USAGE_LINE =
    "strata topics (--bootstrap-server H:P | --zookeeper H:P[/chroot]) (--create | --list | "
    "--describe | --alter | --delete) [options]";
static const char *const SUMMARY = "Create, delete, describe, or change a topic.";

static int usage_error(const char *msg) {
    fprintf(stderr, "strata topics: %s\nTry 'strata topics --help' for more information.\n", msg);
    return CLI_EXIT_USAGE;
}

static int fail(const char *msg) {
    fprintf(stderr, PREFIX "%s\n", msg);
    return CLI_EXIT_ERROR;
}

static int fail_kafka(int code, const char *broker_message) {
    char e[ERR_LEN];
    cli_kafka_error(e, sizeof(e), code, broker_message);
    return fail(e);
}

/* --opt is only valid together with one of the actions in `allowed`. */
static int check_only_with(const cli_args_t *a, const char *opt, const char *const *allowed,
                           char *err, size_t err_len) {
    static const char *const actions[] = {"create", "delete", "describe", "list", "alter"};
    if (!cli_args_has(a, opt)) {
        return 0;
    }
    for (size_t i = 0; i < 5; i++) {
        if (!cli_args_has(a, actions[i])) {
            continue;
        }
        bool ok = false;
        for (const char *const *p = allowed; *p != NULL; p++) {
            ok = ok || strcmp(*p, actions[i]) == 0;
        }
        if (!ok) {
            snprintf(err, err_len, "option '--%s' can't be used with '--%s'", opt, actions[i]);
            return -1;
        }
    }
    return 0;
}

typedef struct topics_ctx {
    cli_args_t args;
    cli_client_t client;
    const char *topic;
    cli_topic_filter_t *filter;
} topics_ctx_t;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool is_internal(const kp_MetadataResponse_MetadataResponseTopic_t *t) {
    return t->is_internal || cli_topic_is_internal_name(t->name);
}

/* Sorted names of the metadata topics matching --topic / --exclude-internal (borrowed). */
static const char **matching_topics(topics_ctx_t *c, const kp_MetadataResponse_t *md, size_t *n) {
    const char **names = xcalloc((size_t)(md->n_topics > 0 ? md->n_topics : 0) + 1, sizeof(char *));
    size_t k = 0;
    bool exclude_internal = cli_args_has(&c->args, "exclude-internal");
    for (int32_t i = 0; i < md->n_topics; i++) {
        const kp_MetadataResponse_MetadataResponseTopic_t *t = &md->topics[i];
        if (t->name == NULL || (exclude_internal && is_internal(t))) {
            continue;
        }
        if (t->error_code == KP_ERR_UNKNOWN_TOPIC_OR_PARTITION ||
            t->error_code == KP_ERR_INVALID_TOPIC_EXCEPTION) {
            continue;
        }
        if (c->filter != NULL && !cli_topic_filter_match(c->filter, t->name)) {
            continue;
        }
        names[k++] = t->name;
    }
    qsort(names, k, sizeof(char *), cmp_str);
    *n = k;
    return names;
}

static const kp_MetadataResponse_MetadataResponseTopic_t *
find_topic(const kp_MetadataResponse_t *md, const char *name) {
    for (int32_t i = 0; i < md->n_topics; i++) {
        if (md->topics[i].name != NULL && strcmp(md->topics[i].name, name) == 0) {
            return &md->topics[i];
        }
    }
    return NULL;
}

/* kafka-topics' ensureTopicExists. @returns 0 or the exit code after printing. */
static int ensure_exists(topics_ctx_t *c, size_t n_found) {
    if (c->topic != NULL && c->topic[0] != '\0' && n_found == 0 &&
        !cli_args_has(&c->args, "if-exists")) {
        fprintf(stderr, "Topic '%s' does not exist as expected\n", c->topic);
        return CLI_EXIT_ERROR;
    }
    return 0;
}

/*
 * The controller's connection; on attempt > 0 the metadata is refreshed first (the
 * controller moved). NULL with err on failure.
 */
static cli_conn_t *controller(topics_ctx_t *c, int attempt, char *err, size_t err_len) {
    if (attempt > 0) {
        cli_resp_t md;
        cli_resp_init(&md);
        int rc = cli_client_metadata(&c->client, NULL, 0, false, &md, err, err_len);
        cli_resp_destroy(&md);
        if (rc != 0) {
            return NULL;
        }
    }
    int32_t id = c->client.controller_id;
    bool known = false;
    for (size_t i = 0; i < c->client.n_brokers; i++) {
        known = known || c->client.brokers[i].node_id == id;
    }
    /* No (known) controller in Metadata: ask the bootstrap broker, which forwards or
     * answers NOT_CONTROLLER. */
    return cli_client_node(&c->client, known ? id : -1, err, err_len);
}

enum { CONTROLLER_ATTEMPTS = 4 };

/* ---------------------------------------------------------------- --create */

static int do_create(topics_ctx_t *c) {
    char err[ERR_LEN];
    const cli_args_t *a = &c->args;
    int64_t partitions = -1, rf = -1;
    if (cli_args_has(a, "partitions") &&
        cli_parse_int("partitions", cli_args_get(a, "partitions"), INT32_MIN, INT32_MAX,
                      &partitions, err, sizeof(err)) != 0) {
        return usage_error(err);
    }
    if (cli_args_has(a, "replication-factor") &&
        cli_parse_int("replication-factor", cli_args_get(a, "replication-factor"), INT32_MIN,
                      INT32_MAX, &rf, err, sizeof(err)) != 0) {
        return usage_error(err);
    }
    if (cli_args_has(a, "replication-factor") && (rf > 32767 || rf < 1)) {
        fprintf(stderr, "The replication factor must be between 1 and 32767 inclusive\n");
        return CLI_EXIT_ERROR;
    }
    if (cli_args_has(a, "partitions") && partitions < 1) {
        fprintf(stderr, "The partitions must be greater than 0\n");
        return CLI_EXIT_ERROR;
    }
    cli_assignment_t assign = {0, 0, NULL};
    if (cli_args_has(a, "replica-assignment") && cli_args_get(a, "replica-assignment")[0] &&
        cli_parse_replica_assignment(cli_args_get(a, "replica-assignment"), &assign, err,
                                     sizeof(err)) != 0) {
        return fail(err);
    }
    size_t n_cfg = 0;
    const char **cfg = cli_args_multi(a, "config", &n_cfg);
    kp_CreateTopicsRequest_CreateableTopicConfig_t *configs = xcalloc(n_cfg + 1, sizeof(*configs));
    kp_CreateTopicsRequest_CreatableReplicaAssignment_t *assignments =
        xcalloc((size_t)assign.n_partitions + 1, sizeof(*assignments));
    int rc = CLI_EXIT_ERROR;
    for (size_t i = 0; i < n_cfg; i++) {
        kp_init_CreateTopicsRequest_CreateableTopicConfig(&configs[i]);
        if (cli_parse_topic_config(cfg[i], &configs[i].name, &configs[i].value) != 0) {
            fprintf(stderr, "requirement failed: Invalid topic config: all configs to be added "
                            "must be in the format \"key=val\".\n");
            n_cfg = i;
            goto done;
        }
    }
    for (int32_t p = 0; p < assign.n_partitions; p++) {
        kp_init_CreateTopicsRequest_CreatableReplicaAssignment(&assignments[p]);
        assignments[p].partition_index = p;
        assignments[p].n_broker_ids = assign.rf;
        assignments[p].broker_ids = assign.brokers + (size_t)p * (size_t)assign.rf;
    }
    if (cli_topic_has_collision_chars(c->topic)) {
        printf("WARNING: Due to limitations in metric names, topics with a period ('.') or "
               "underscore ('_') could collide. To avoid issues it is best to use either, but "
               "not both.\n");
    }
    kp_CreateTopicsRequest_CreatableTopic_t topic;
    kp_init_CreateTopicsRequest_CreatableTopic(&topic);
    topic.name = (char *)c->topic;
    topic.num_partitions = assign.n_partitions > 0 ? -1 : (int32_t)partitions;
    topic.replication_factor = assign.n_partitions > 0 ? -1 : (int16_t)rf;
    topic.n_assignments = assign.n_partitions;
    topic.assignments = assignments;
    topic.n_configs = (int32_t)n_cfg;
    topic.configs = configs;
    kp_CreateTopicsRequest_t req;
    kp_init_CreateTopicsRequest(&req);
    req.n_topics = 1;
    req.topics = &topic;
    req.timeout_ms = c->client.timeout_ms;
    for (int attempt = 0; attempt < CONTROLLER_ATTEMPTS; attempt++) {
        cli_conn_t *conn = controller(c, attempt, err, sizeof(err));
        if (conn == NULL) {
            rc = fail(err);
            goto done;
        }
        int16_t v = cli_conn_version(conn, KP_API_CreateTopics, 0, 7, err, sizeof(err));
        if (v < 0) {
            rc = fail(err);
            goto done;
        }
        if (v < 4 && (topic.num_partitions < 0 || topic.replication_factor < 0) &&
            assign.n_partitions == 0) {
            rc = fail("this broker needs --partitions and --replication-factor (CreateTopics "
                      "below v4 has no broker defaults)");
            goto done;
        }
        cli_resp_t resp;
        cli_resp_init(&resp);
        if (cli_conn_request(conn, KP_API_CreateTopics, v, &req, true, c->client.timeout_ms + 5000,
                             &resp, err, sizeof(err)) != 0) {
            cli_resp_destroy(&resp);
            rc = fail(err);
            goto done;
        }
        kp_CreateTopicsResponse_t *r = resp.msg;
        int16_t code = r->n_topics > 0 ? r->topics[0].error_code : KP_ERR_UNKNOWN_SERVER_ERROR;
        if (code == KP_ERR_NOT_CONTROLLER && attempt + 1 < CONTROLLER_ATTEMPTS) {
            cli_resp_destroy(&resp);
            continue;
        }
        if (code == KP_ERR_NONE) {
            printf("Created topic %s.\n", c->topic);
            rc = CLI_EXIT_OK;
        } else if (code == KP_ERR_TOPIC_ALREADY_EXISTS && cli_args_has(a, "if-not-exists")) {
            rc = CLI_EXIT_OK;
        } else {
            rc = fail_kafka(code, r->n_topics > 0 ? r->topics[0].error_message : NULL);
        }
        cli_resp_destroy(&resp);
        break;
    }
done:
    for (size_t i = 0; i < n_cfg; i++) {
        free(configs[i].name);
        free(configs[i].value);
    }
    free(configs);
    free(assignments);
    cli_assignment_free(&assign);
    return rc;
}

/* ---------------------------------------------------------------- --list */

static int do_list(topics_ctx_t *c, const kp_MetadataResponse_t *md) {
    size_t n;
    const char **names = matching_topics(c, md, &n);
    buf_t out = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        buf_append(&out, names[i], strlen(names[i]));
        buf_append(&out, "\n", 1);
    }
    if (n == 0) {
        buf_append(&out, "\n", 1); /* kafka-topics prints one empty line */
    }
    fwrite(out.data, 1, out.len, stdout);
    buf_destroy(&out);
    free(names);
    return CLI_EXIT_OK;
}

/* ---------------------------------------------------------------- --describe */

/* Non-default configs of each topic as "k=v,k=v" (owned, in names order). */
static char **describe_configs(topics_ctx_t *c, const char **names, size_t n) {
    char **out = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        out[i] = xstrdup("");
    }
    char err[ERR_LEN];
    int16_t v = cli_conn_version(c->client.boot, KP_API_DescribeConfigs, 0, 4, err, sizeof(err));
    if (v < 0 || n == 0) {
        return out; /* no DescribeConfigs: print no configs rather than fail */
    }
    kp_DescribeConfigsRequest_DescribeConfigsResource_t *res = xcalloc(n, sizeof(*res));
    for (size_t i = 0; i < n; i++) {
        kp_init_DescribeConfigsRequest_DescribeConfigsResource(&res[i]);
        res[i].resource_type = 2; /* TOPIC */
        res[i].resource_name = (char *)names[i];
        res[i].n_configuration_keys = -1;
        res[i].configuration_keys = NULL;
    }
    kp_DescribeConfigsRequest_t req;
    kp_init_DescribeConfigsRequest(&req);
    req.n_resources = (int32_t)n;
    req.resources = res;
    cli_resp_t resp;
    cli_resp_init(&resp);
    if (cli_conn_request(c->client.boot, KP_API_DescribeConfigs, v, &req, true,
                         c->client.timeout_ms, &resp, err, sizeof(err)) == 0) {
        kp_DescribeConfigsResponse_t *r = resp.msg;
        for (int32_t k = 0; k < r->n_results; k++) {
            const kp_DescribeConfigsResponse_DescribeConfigsResult_t *t = &r->results[k];
            size_t idx = n;
            for (size_t i = 0; i < n; i++) {
                if (t->resource_name != NULL && strcmp(names[i], t->resource_name) == 0) {
                    idx = i;
                }
            }
            if (idx == n || t->error_code != 0) {
                continue;
            }
            buf_t s = BUF_INIT;
            for (int32_t e = 0; e < t->n_configs; e++) {
                const kp_DescribeConfigsResponse_DescribeConfigsResourceResult_t *ce =
                    &t->configs[e];
                bool is_default = v == 0 ? ce->is_default : ce->config_source == 5;
                if (is_default) {
                    continue;
                }
                if (s.len > 0) {
                    buf_append(&s, ",", 1);
                }
                buf_append(&s, ce->name, strlen(ce->name));
                buf_append(&s, "=", 1);
                const char *val = ce->value ? ce->value : "null";
                buf_append(&s, val, strlen(val));
            }
            buf_append(&s, "", 1);
            free(out[idx]);
            out[idx] = (char *)s.data;
        }
    } else {
        fprintf(stderr, "WARNING: DescribeConfigs failed (%s); configs not shown\n", err);
    }
    cli_resp_destroy(&resp);
    free(res);
    return out;
}

static int cmp_partition(const void *a, const void *b) {
    const kp_MetadataResponse_MetadataResponsePartition_t *x = a, *y = b;
    return (x->partition_index > y->partition_index) - (x->partition_index < y->partition_index);
}

static int do_describe(topics_ctx_t *c, const kp_MetadataResponse_t *md) {
    const cli_args_t *a = &c->args;
    size_t n;
    const char **names = matching_topics(c, md, &n);
    int rc = ensure_exists(c, n);
    if (rc != 0) {
        free(names);
        return rc;
    }
    bool under = cli_args_has(a, "under-replicated-partitions");
    bool unavail = cli_args_has(a, "unavailable-partitions");
    bool overrides = cli_args_has(a, "topics-with-overrides");
    bool describe_cfg = !under && !unavail;
    bool describe_parts = !overrides;
    char **configs = describe_configs(c, names, n);
    buf_t out = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        const kp_MetadataResponse_MetadataResponseTopic_t *t = find_topic(md, names[i]);
        size_t np = t->n_partitions > 0 ? (size_t)t->n_partitions : 0;
        kp_MetadataResponse_MetadataResponsePartition_t *parts = xcalloc(np + 1, sizeof(*parts));
        if (np > 0) {
            memcpy(parts, t->partitions, np * sizeof(*parts));
        }
        qsort(parts, np, sizeof(*parts), cmp_partition);
        if (describe_cfg && (!overrides || configs[i][0] != '\0')) {
            int32_t rf = np > 0 ? parts[0].n_replica_nodes : 0;
            cli_format_topic_line(&out, names[i], t->topic_id, (int32_t)np, rf, configs[i]);
        }
        for (size_t p = 0; p < np && describe_parts; p++) {
            const kp_MetadataResponse_MetadataResponsePartition_t *pp = &parts[p];
            bool leader_live = false;
            for (int32_t b = 0; b < md->n_brokers && pp->leader_id >= 0; b++) {
                leader_live = leader_live || md->brokers[b].node_id == pp->leader_id;
            }
            bool show = describe_cfg || (under && pp->n_isr_nodes < pp->n_replica_nodes) ||
                        (unavail && !leader_live);
            if (show) {
                cli_format_partition_line(&out, names[i], pp->partition_index, pp->leader_id,
                                          pp->replica_nodes, pp->n_replica_nodes, pp->isr_nodes,
                                          pp->n_isr_nodes);
            }
        }
        free(parts);
    }
    if (out.len > 0) {
        fwrite(out.data, 1, out.len, stdout);
    }
    buf_destroy(&out);
    for (size_t i = 0; i < n; i++) {
        free(configs[i]);
    }
    free(configs);
    free(names);
    return CLI_EXIT_OK;
}

/* ---------------------------------------------------------------- --delete */

static int do_delete(topics_ctx_t *c, const kp_MetadataResponse_t *md) {
    size_t n;
    const char **names = matching_topics(c, md, &n);
    int rc = ensure_exists(c, n);
    if (rc != 0 || n == 0) {
        free(names);
        return rc;
    }
    char err[ERR_LEN];
    kp_DeleteTopicsRequest_DeleteTopicState_t *states = xcalloc(n, sizeof(*states));
    for (size_t i = 0; i < n; i++) {
        kp_init_DeleteTopicsRequest_DeleteTopicState(&states[i]);
        states[i].name = (char *)names[i];
    }
    rc = CLI_EXIT_ERROR;
    for (int attempt = 0; attempt < CONTROLLER_ATTEMPTS; attempt++) {
        cli_conn_t *conn = controller(c, attempt, err, sizeof(err));
        int16_t v = conn ? cli_conn_version(conn, KP_API_DeleteTopics, 0, 6, err, sizeof(err)) : -1;
        if (v < 0) {
            rc = fail(err);
            break;
        }
        kp_DeleteTopicsRequest_t req;
        kp_init_DeleteTopicsRequest(&req);
        if (v >= 6) {
            req.n_topics = (int32_t)n;
            req.topics = states;
            req.n_topic_names = 0;
        } else {
            req.n_topic_names = (int32_t)n;
            req.topic_names = (char **)names;
            req.n_topics = 0;
        }
        req.timeout_ms = c->client.timeout_ms;
        cli_resp_t resp;
        cli_resp_init(&resp);
        if (cli_conn_request(conn, KP_API_DeleteTopics, v, &req, true, c->client.timeout_ms + 5000,
                             &resp, err, sizeof(err)) != 0) {
            cli_resp_destroy(&resp);
            rc = fail(err);
            break;
        }
        kp_DeleteTopicsResponse_t *r = resp.msg;
        int16_t code = 0;
        const char *msg = NULL;
        for (int32_t i = 0; i < r->n_responses && code == 0; i++) {
            code = r->responses[i].error_code;
            msg = r->responses[i].error_message;
        }
        if (code == KP_ERR_NOT_CONTROLLER && attempt + 1 < CONTROLLER_ATTEMPTS) {
            cli_resp_destroy(&resp);
            continue;
        }
        rc = code == 0 ? CLI_EXIT_OK : fail_kafka(code, msg);
        cli_resp_destroy(&resp);
        break;
    }
    free(states);
    free(names);
    return rc;
}

/* ---------------------------------------------------------------- --alter */

static int do_alter(topics_ctx_t *c, const kp_MetadataResponse_t *md) {
    const cli_args_t *a = &c->args;
    char err[ERR_LEN];
    int64_t count;
    if (cli_parse_int("partitions", cli_args_get(a, "partitions"), INT32_MIN, INT32_MAX, &count,
                      err, sizeof(err)) != 0) {
        return usage_error(err);
    }
    cli_assignment_t assign = {0, 0, NULL};
    if (cli_args_has(a, "replica-assignment") && cli_args_get(a, "replica-assignment")[0] &&
        cli_parse_replica_assignment(cli_args_get(a, "replica-assignment"), &assign, err,
                                     sizeof(err)) != 0) {
        return fail(err);
    }
    size_t n;
    const char **names = matching_topics(c, md, &n);
    int rc = ensure_exists(c, n);
    if (rc != 0 || n == 0) {
        free(names);
        cli_assignment_free(&assign);
        return rc;
    }
    kp_CreatePartitionsRequest_CreatePartitionsTopic_t *topics = xcalloc(n, sizeof(*topics));
    kp_CreatePartitionsRequest_CreatePartitionsAssignment_t *pa =
        xcalloc(n * ((size_t)assign.n_partitions + 1), sizeof(*pa));
    for (size_t i = 0; i < n; i++) {
        kp_init_CreatePartitionsRequest_CreatePartitionsTopic(&topics[i]);
        topics[i].name = (char *)names[i];
        topics[i].count = (int32_t)count;
        topics[i].n_assignments = -1;
        topics[i].assignments = NULL;
        if (assign.n_partitions > 0) {
            /* Like kafka-topics: the entries past the current partition count are new. */
            const kp_MetadataResponse_MetadataResponseTopic_t *t = find_topic(md, names[i]);
            int32_t start = t->n_partitions > 0 ? t->n_partitions : 0;
            kp_CreatePartitionsRequest_CreatePartitionsAssignment_t *row =
                pa + i * ((size_t)assign.n_partitions + 1);
            int32_t k = 0;
            for (int32_t p = start; p < assign.n_partitions; p++, k++) {
                kp_init_CreatePartitionsRequest_CreatePartitionsAssignment(&row[k]);
                row[k].n_broker_ids = assign.rf;
                row[k].broker_ids = assign.brokers + (size_t)p * (size_t)assign.rf;
            }
            topics[i].n_assignments = k;
            topics[i].assignments = row;
        }
    }
    rc = CLI_EXIT_ERROR;
    for (int attempt = 0; attempt < CONTROLLER_ATTEMPTS; attempt++) {
        cli_conn_t *conn = controller(c, attempt, err, sizeof(err));
        int16_t v =
            conn ? cli_conn_version(conn, KP_API_CreatePartitions, 0, 3, err, sizeof(err)) : -1;
        if (v < 0) {
            rc = fail(err);
            break;
        }
        kp_CreatePartitionsRequest_t req;
        kp_init_CreatePartitionsRequest(&req);
        req.n_topics = (int32_t)n;
        req.topics = topics;
        req.timeout_ms = c->client.timeout_ms;
        req.validate_only = false;
        cli_resp_t resp;
        cli_resp_init(&resp);
        if (cli_conn_request(conn, KP_API_CreatePartitions, v, &req, true,
                             c->client.timeout_ms + 5000, &resp, err, sizeof(err)) != 0) {
            cli_resp_destroy(&resp);
            rc = fail(err);
            break;
        }
        kp_CreatePartitionsResponse_t *r = resp.msg;
        int16_t code = 0;
        const char *msg = NULL;
        for (int32_t i = 0; i < r->n_results && code == 0; i++) {
            code = r->results[i].error_code;
            msg = r->results[i].error_message;
        }
        if (code == KP_ERR_NOT_CONTROLLER && attempt + 1 < CONTROLLER_ATTEMPTS) {
            cli_resp_destroy(&resp);
            continue;
        }
        rc = code == 0 ? CLI_EXIT_OK : fail_kafka(code, msg);
        cli_resp_destroy(&resp);
        break;
    }
    free(pa);
    free(topics);
    free(names);
    cli_assignment_free(&assign);
    return rc;
}

/* ---------------------------------------------------------------- entry */

/* Checks kafka-topics' option rules. @returns 0 or -1 with err. */
static int check_args(const cli_args_t *a, char *err, size_t err_len) {
    static const char *const actions[] = {"create", "delete", "describe", "list", "alter"};
    int n_actions = 0;
    for (size_t i = 0; i < 5; i++) {
        n_actions += cli_args_has(a, actions[i]) ? 1 : 0;
    }
    if (n_actions != 1) {
        snprintf(err, err_len,
                 "Command must include exactly one action: --list, --describe, "
                 "--create, --alter or --delete");
        return -1;
    }
    if (!cli_args_has(a, "bootstrap-server") && !cli_args_has(a, "zookeeper")) {
        snprintf(err, err_len, "--bootstrap-server or --zookeeper must be specified");
        return -1;
    }
    if (cli_args_has(a, "bootstrap-server") && cli_args_has(a, "zookeeper")) {
        snprintf(err, err_len, "option '--zookeeper' can't be used with '--bootstrap-server'");
        return -1;
    }
    if (cli_args_has(a, "disable-rack-aware") && !cli_args_has(a, "zookeeper")) {
        snprintf(err, err_len,
                 "option '--disable-rack-aware' needs '--zookeeper' (with "
                 "--bootstrap-server the broker assigns replicas)");
        return -1;
    }
    if (!cli_args_has(a, "list") && !cli_args_has(a, "describe") && !cli_args_has(a, "topic")) {
        snprintf(err, err_len, "option '--topic' is required with this action");
        return -1;
    }
    if (cli_args_has(a, "alter") && !cli_args_has(a, "partitions")) {
        snprintf(err, err_len, "option '--partitions' is required with --alter");
        return -1;
    }
    static const char *const create_only[] = {"create", NULL};
    static const char *const create_alter[] = {"create", "alter", NULL};
    static const char *const describe_only[] = {"describe", NULL};
    static const char *const alter_delete_describe[] = {"alter", "delete", "describe", NULL};
    static const char *const list_describe[] = {"list", "describe", NULL};
    if (check_only_with(a, "config", create_only, err, err_len) != 0 ||
        check_only_with(a, "partitions", create_alter, err, err_len) != 0 ||
        check_only_with(a, "replication-factor", create_only, err, err_len) != 0 ||
        check_only_with(a, "replica-assignment", create_alter, err, err_len) != 0 ||
        check_only_with(a, "if-not-exists", create_only, err, err_len) != 0 ||
        check_only_with(a, "if-exists", alter_delete_describe, err, err_len) != 0 ||
        check_only_with(a, "exclude-internal", list_describe, err, err_len) != 0 ||
        check_only_with(a, "under-replicated-partitions", describe_only, err, err_len) != 0 ||
        check_only_with(a, "unavailable-partitions", describe_only, err, err_len) != 0 ||
        check_only_with(a, "topics-with-overrides", describe_only, err, err_len) != 0 ||
        check_only_with(a, "disable-rack-aware", create_alter, err, err_len) != 0) {
        return -1;
    }
    if (cli_args_has(a, "create") && cli_args_has(a, "replica-assignment")) {
        if (cli_args_has(a, "partitions") || cli_args_has(a, "replication-factor")) {
            snprintf(err, err_len, "option '--replica-assignment' can't be used with '--%s'",
                     cli_args_has(a, "partitions") ? "partitions" : "replication-factor");
            return -1;
        }
    }
    if (cli_args_has(a, "topics-with-overrides") &&
        (cli_args_has(a, "under-replicated-partitions") ||
         cli_args_has(a, "unavailable-partitions"))) {
        snprintf(err, err_len, "option '--topics-with-overrides' can't be used with '--%s'",
                 cli_args_has(a, "unavailable-partitions") ? "unavailable-partitions"
                                                           : "under-replicated-partitions");
        return -1;
    }
    return 0;
}

int cli_cmd_topics(int argc, char **argv) {
    topics_ctx_t c;
    memset(&c, 0, sizeof(c));
    char err[ERR_LEN];
    int rc;
    if (argc == 0) {
        cli_print_usage(stderr, USAGE_LINE, SUMMARY, opts, N_OPTS);
        return CLI_EXIT_USAGE;
    }
    if (cli_args_parse(&c.args, opts, N_OPTS, argc, argv, err, sizeof(err)) != 0) {
        cli_args_free(&c.args);
        return usage_error(err);
    }
    if (cli_args_has(&c.args, "help")) {
        cli_print_usage(stdout, USAGE_LINE, SUMMARY, opts, N_OPTS);
        cli_args_free(&c.args);
        return CLI_EXIT_OK;
    }
    if (check_args(&c.args, err, sizeof(err)) != 0) {
        cli_args_free(&c.args);
        return usage_error(err);
    }
    c.topic = cli_args_get(&c.args, "topic");
    if (c.topic != NULL && !cli_args_has(&c.args, "create")) {
        c.filter = cli_topic_filter_new(c.topic, err, sizeof(err));
        if (c.filter == NULL) {
            cli_args_free(&c.args);
            return fail(err);
        }
    }
    cli_resp_t md;
    cli_resp_init(&md);
    if (cli_args_has(&c.args, "zookeeper")) {
        rc = cli_topics_zk(&c.args, c.filter);
        goto done;
    }
    if (cli_client_open(&c.client, cli_args_get(&c.args, "bootstrap-server"), err, sizeof(err)) !=
        0) {
        rc = fail(err);
        goto done;
    }
    if (cli_client_metadata(&c.client, NULL, -1, false, &md, err, sizeof(err)) != 0) {
        rc = fail(err);
        goto done;
    }
    if (cli_args_has(&c.args, "create")) {
        rc = do_create(&c);
    } else if (cli_args_has(&c.args, "list")) {
        rc = do_list(&c, md.msg);
    } else if (cli_args_has(&c.args, "describe")) {
        rc = do_describe(&c, md.msg);
    } else if (cli_args_has(&c.args, "delete")) {
        rc = do_delete(&c, md.msg);
    } else {
        rc = do_alter(&c, md.msg);
    }
done:
    cli_resp_destroy(&md);
    cli_client_close(&c.client);
    cli_topic_filter_free(c.filter);
    cli_args_free(&c.args);
    fflush(stdout);
    return rc;
}
