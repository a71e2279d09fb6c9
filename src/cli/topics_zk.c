/*
 * topics_zk: `strata topics --zookeeper H:P[/chroot]`, kafka-topics.sh's ZooKeeper mode
 * (Kafka < 3.0, AdminZkClient): the tool reads and writes Kafka's znodes itself and the
 * controller does the rest, exactly as for a CreateTopics handled by a broker.
 *
 *  --create    /config/topics/<t> (overrides), then /brokers/topics/<t> (version 3, a new
 *              topic_id) with Kafka's rack-aware assignment over the live brokers of
 *              /brokers/ids (assign_replicas), or the --replica-assignment given.
 *  --list      the children of /brokers/topics ("t - marked for deletion" while queued).
 *  --describe  /brokers/topics/<t>, each partition's state and /config/topics/<t>, printed
 *              like the --bootstrap-server mode (plus Kafka's "MarkedForDeletion: true").
 *  --delete    creates /admin/delete_topics/<t>.
 *  --alter     --partitions N: the new partitions appended to /brokers/topics/<t> with a
 *              version-checked setData (Kafka's "Adding partitions" rule, README).
 *
 * Znode JSON comes from the cluster module's zkpath_ helpers (cluster/cluster_int.h), the
 * same code the brokers read it with, so the two never disagree on a shape.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cluster/cluster_int.h"
#include "strata/cluster.h"

#define ERR_LEN    1024
#define PREFIX     "Error while executing topic command : "
#define ZK_TIMEOUT 15000 /* per ZooKeeper call, ms; also the session timeout */
/* The most partitions a broker accepts in /brokers/topics/<t> (zkpath_assignment_parse). */
#define MAX_PARTITIONS 100000

typedef struct zk_ctx {
    const cli_args_t *args;
    const cli_topic_filter_t *filter;
    const char *topic;
    cli_zk_t *zk;
    char **topics; /* children of /brokers/topics, sorted */
    size_t n_topics;
    char **deleting; /* children of /admin/delete_topics, sorted */
    size_t n_deleting;
} zk_ctx_t;

static int usage_error(const char *msg) {
    fprintf(stderr, "strata topics: %s\nTry 'strata topics --help' for more information.\n", msg);
    return CLI_EXIT_USAGE;
}

static int fail(const char *msg) {
    fprintf(stderr, PREFIX "%s\n", msg);
    return CLI_EXIT_ERROR;
}

/* "Error while executing topic command : NAME: message" for a Kafka error code. */
__attribute__((format(printf, 2, 3))) static int fail_kafka(int code, const char *fmt, ...) {
    char msg[ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char e[ERR_LEN + 64];
    cli_kafka_error(e, sizeof(e), code, msg);
    return fail(e);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static bool in_sorted(char *const *names, size_t n, const char *name) {
    return n > 0 && bsearch(&name, names, n, sizeof(char *), cmp_str) != NULL;
}

static bool topic_exists(const zk_ctx_t *c, const char *name) {
    return in_sorted(c->topics, c->n_topics, name);
}

static bool marked_for_deletion(const zk_ctx_t *c, const char *name) {
    return in_sorted(c->deleting, c->n_deleting, name);
}

/* Children of path into *names (sorted); an absent path is an empty list. */
static int read_children(zk_ctx_t *c, const char *path, char ***names, size_t *n, char *err,
                         size_t err_len) {
    int rc = cli_zk_children(c->zk, path, names, n, err, err_len);
    return rc == STRATA_ENOTFOUND ? 0 : rc;
}

/* /brokers/topics and /admin/delete_topics. @returns 0 or the exit code after printing. */
static int load_topics(zk_ctx_t *c) {
    char err[ERR_LEN];
    if (read_children(c, "/brokers/topics", &c->topics, &c->n_topics, err, sizeof(err)) != 0 ||
        read_children(c, "/admin/delete_topics", &c->deleting, &c->n_deleting, err, sizeof(err)) !=
            0) {
        return fail(err);
    }
    return 0;
}

/* Sorted names of the topics matching --topic / --exclude-internal (borrowed). */
static const char **matching_topics(const zk_ctx_t *c, size_t *n) {
    const char **names = xcalloc(c->n_topics + 1, sizeof(char *));
    bool exclude_internal = cli_args_has(c->args, "exclude-internal");
    size_t k = 0;
    for (size_t i = 0; i < c->n_topics; i++) {
        const char *t = c->topics[i];
        if (exclude_internal && cli_topic_is_internal_name(t)) {
            continue;
        }
        if (c->filter != NULL && !cli_topic_filter_match(c->filter, t)) {
            continue;
        }
        names[k++] = t;
    }
    *n = k;
    return names;
}

/* kafka-topics' ensureTopicExists. @returns 0 or the exit code after printing. */
static int ensure_exists(const zk_ctx_t *c, size_t n_found) {
    if (c->topic != NULL && c->topic[0] != '\0' && n_found == 0 &&
        !cli_args_has(c->args, "if-exists")) {
        fprintf(stderr, "Topic '%s' does not exist as expected\n", c->topic);
        return CLI_EXIT_ERROR;
    }
    return 0;
}

/* The live brokers (/brokers/ids) with their racks; all racks dropped with
 * --disable-rack-aware. *out and its racks are owned (free_brokers). */
static int live_brokers(zk_ctx_t *c, assign_broker_t **out, size_t *n, char *err, size_t err_len) {
    char **ids = NULL;
    size_t n_ids = 0;
    *out = NULL;
    *n = 0;
    int rc = read_children(c, "/brokers/ids", &ids, &n_ids, err, err_len);
    if (rc != 0) {
        return rc;
    }
    assign_broker_t *b = xcalloc(n_ids + 1, sizeof(*b));
    size_t k = 0;
    bool no_racks = cli_args_has(c->args, "disable-rack-aware");
    for (size_t i = 0; i < n_ids; i++) {
        int64_t id;
        if (parse_int64(ids[i], &id) != 0 || id < 0 || id > INT32_MAX) {
            continue; /* not a broker registration */
        }
        char *path = zkpath_broker((int32_t)id);
        char *data = NULL;
        size_t len = 0;
        rc = cli_zk_get(c->zk, path, &data, &len, NULL, err, err_len);
        free(path);
        if (rc == STRATA_ENOTFOUND) {
            continue; /* went away since the listing */
        }
        if (rc != 0) {
            break;
        }
        mdc_broker_t mb;
        memset(&mb, 0, sizeof(mb));
        if (data != NULL && zkpath_broker_parse(data, len, (int32_t)id, &mb) == 0) {
            b[k].id = (int32_t)id;
            b[k].rack = no_racks ? NULL : mb.rack;
            if (no_racks) {
                free(mb.rack);
            }
            free(mb.host);
            k++;
        } else {
            fprintf(stderr, "WARNING: /brokers/ids/%s: unreadable registration, ignored\n", ids[i]);
        }
        free(data);
    }
    cli_zk_free_names(ids, n_ids);
    if (rc != 0 && rc != STRATA_ENOTFOUND) {
        for (size_t i = 0; i < k; i++) {
            free((char *)b[i].rack);
        }
        free(b);
        return rc;
    }
    *out = b;
    *n = k;
    return 0;
}

static void free_brokers(assign_broker_t *b, size_t n) {
    for (size_t i = 0; b != NULL && i < n; i++) {
        free((char *)b[i].rack);
    }
    free(b);
}

static bool broker_known(const assign_broker_t *b, size_t n, int32_t id) {
    for (size_t i = 0; i < n; i++) {
        if (b[i].id == id) {
            return true;
        }
    }
    return false;
}

/* Explicit rows: every broker registered (the brokers' CreateTopics rule). @returns 0 or the
 * exit code after printing. */
static int check_rows(const int32_t *rows, int32_t n_rows, int32_t rf, const assign_broker_t *b,
                      size_t nb) {
    for (int32_t p = 0; p < n_rows; p++) {
        for (int32_t j = 0; j < rf; j++) {
            int32_t id = rows[(size_t)p * (size_t)rf + (size_t)j];
            if (!broker_known(b, nb, id)) {
                return fail_kafka(KP_ERR_INVALID_REPLICA_ASSIGNMENT,
                                  "Unknown broker %d in replica assignment.", (int)id);
            }
        }
    }
    return 0;
}

/* Reads /brokers/topics/<t>. @returns 0, STRATA_ENOTFOUND or another code (err filled). */
static int read_assignment(zk_ctx_t *c, const char *topic, zkpath_assignment_t *a, int32_t *version,
                           char *err, size_t err_len) {
    char *path = zkpath_topic(topic);
    char *data = NULL;
    size_t len = 0;
    int rc = cli_zk_get(c->zk, path, &data, &len, version, err, err_len);
    if (rc == 0 && (data == NULL || zkpath_assignment_parse(data, len, a) != 0)) {
        snprintf(err, err_len, "%s: not a Kafka replica assignment", path);
        rc = STRATA_ECORRUPT;
    }
    free(data);
    free(path);
    return rc;
}

/* ---------------------------------------------------------------- --create */

static int do_create(zk_ctx_t *c) {
    char err[ERR_LEN];
    const cli_args_t *a = c->args;
    const char *topic = c->topic;
    bool explicit_rows = cli_args_has(a, "replica-assignment");
    if (!explicit_rows &&
        (!cli_args_has(a, "partitions") || !cli_args_has(a, "replication-factor"))) {
        /* No broker to fill in num.partitions / default.replication.factor. */
        return usage_error("--create with --zookeeper needs --partitions and --replication-factor "
                           "(or --replica-assignment)");
    }
    int64_t partitions = -1, rf = -1;
    if (!explicit_rows &&
        (cli_parse_int("partitions", cli_args_get(a, "partitions"), INT32_MIN, INT32_MAX,
                       &partitions, err, sizeof(err)) != 0 ||
         cli_parse_int("replication-factor", cli_args_get(a, "replication-factor"), INT32_MIN,
                       INT32_MAX, &rf, err, sizeof(err)) != 0)) {
        return usage_error(err);
    }
    if (!explicit_rows && (rf > 32767 || rf < 1)) {
        fprintf(stderr, "The replication factor must be between 1 and 32767 inclusive\n");
        return CLI_EXIT_ERROR;
    }
    if (!explicit_rows && partitions < 1) {
        fprintf(stderr, "The partitions must be greater than 0\n");
        return CLI_EXIT_ERROR;
    }
    if (!explicit_rows && partitions > MAX_PARTITIONS) {
        return fail_kafka(KP_ERR_INVALID_PARTITIONS,
                          "Number of partitions %lld is more than the %d a broker reads.",
                          (long long)partitions, MAX_PARTITIONS);
    }
    size_t n_cfg = 0;
    const char **cfg = cli_args_multi(a, "config", &n_cfg);
    char **keys = xcalloc(n_cfg + 1, sizeof(char *));
    char **values = xcalloc(n_cfg + 1, sizeof(char *));
    cli_assignment_t assign = {0, 0, NULL};
    assign_broker_t *brokers = NULL;
    size_t nb = 0;
    int32_t *rows = NULL;
    char *json = NULL;
    char *path = NULL;
    int rc = CLI_EXIT_ERROR;
    for (size_t i = 0; i < n_cfg; i++) {
        if (cli_parse_topic_config(cfg[i], &keys[i], &values[i]) != 0) {
            fprintf(stderr, "requirement failed: Invalid topic config: all configs to be added "
                            "must be in the format \"key=val\".\n");
            goto done;
        }
    }
    if (explicit_rows && cli_parse_replica_assignment(cli_args_get(a, "replica-assignment"),
                                                      &assign, err, sizeof(err)) != 0) {
        rc = fail_kafka(KP_ERR_INVALID_REPLICA_ASSIGNMENT, "%s", err);
        goto done;
    }
    if (explicit_rows && assign.n_partitions > MAX_PARTITIONS) {
        rc = fail_kafka(KP_ERR_INVALID_PARTITIONS,
                        "Number of partitions %d is more than the %d a broker reads.",
                        (int)assign.n_partitions, MAX_PARTITIONS);
        goto done;
    }
    if (cli_topic_has_collision_chars(topic)) {
        printf("WARNING: Due to limitations in metric names, topics with a period ('.') or "
               "underscore ('_') could collide. To avoid issues it is best to use either, but "
               "not both.\n");
    }
    if (!ctl_valid_topic_name(topic)) {
        rc = fail_kafka(KP_ERR_INVALID_TOPIC_EXCEPTION,
                        "Topic name \"%s\" is illegal, it contains a character other than ASCII "
                        "alphanumerics, '.', '_' and '-', or is empty, too long, '.' or '..'.",
                        topic);
        goto done;
    }
    if ((rc = load_topics(c)) != 0) {
        goto done;
    }
    rc = CLI_EXIT_ERROR;
    if (topic_exists(c, topic)) {
        if (cli_args_has(a, "if-not-exists")) {
            rc = CLI_EXIT_OK;
        } else {
            rc = fail_kafka(KP_ERR_TOPIC_ALREADY_EXISTS, "Topic '%s' %s.", topic,
                            marked_for_deletion(c, topic) ? "is marked for deletion"
                                                          : "already exists");
        }
        goto done;
    }
    /* Kafka's collision rule: '.' and '_' map to the same metric name. */
    for (size_t i = 0; i < c->n_topics; i++) {
        const char *o = c->topics[i];
        bool same = strlen(o) == strlen(topic);
        for (size_t k = 0; same && o[k] != '\0'; k++) {
            char x = o[k] == '.' ? '_' : o[k];
            char y = topic[k] == '.' ? '_' : topic[k];
            same = x == y;
        }
        if (same) {
            rc = fail_kafka(KP_ERR_INVALID_TOPIC_EXCEPTION,
                            "Topic '%s' collides with existing topics: %s", topic, o);
            goto done;
        }
    }
    if (live_brokers(c, &brokers, &nb, err, sizeof(err)) != 0) {
        rc = fail(err);
        goto done;
    }
    if (explicit_rows) {
        if ((rc = check_rows(assign.brokers, assign.n_partitions, assign.rf, brokers, nb)) != 0) {
            goto done;
        }
        rc = CLI_EXIT_ERROR;
        partitions = assign.n_partitions;
        rf = assign.rf;
        rows = assign.brokers;
        assign.brokers = NULL;
    } else {
        if ((size_t)rf > nb) {
            rc = fail_kafka(KP_ERR_INVALID_REPLICATION_FACTOR,
                            "Replication factor: %d larger than available brokers: %d.", (int)rf,
                            (int)nb);
            goto done;
        }
        rows = xmalloc((size_t)partitions * (size_t)rf * sizeof(int32_t));
        int arc = assign_replicas(brokers, nb, (int32_t)partitions, (int32_t)rf, -1, 0, rows);
        if (arc != 0) {
            rc = fail_kafka(arc, "%s",
                            arc == KP_ERR_INVALID_REPLICA_ASSIGNMENT
                                ? "Not all brokers have rack information for replica rack aware "
                                  "assignment. Use --disable-rack-aware."
                                : "Replica assignment failed.");
            goto done;
        }
    }
    /* Like AdminZkClient: the config first, so the controller finds it with the topic. A
     * stale config of a deleted topic is replaced. */
    path = zkpath_topic_config(topic);
    json = zkpath_topic_config_json((const char *const *)keys, (const char *const *)values, n_cfg);
    int zrc = cli_zk_create(c->zk, path, json, strlen(json), err, sizeof(err));
    if (zrc == STRATA_EEXISTS) {
        zrc = cli_zk_set(c->zk, path, json, strlen(json), -1, err, sizeof(err));
    }
    if (zrc != 0) {
        rc = fail(err);
        goto done;
    }
    free(path);
    free(json);
    uint8_t id[16];
    zkpath_uuid_random(id);
    path = zkpath_topic(topic);
    json = zkpath_assignment_json(id, rows, (int32_t)partitions, (int32_t)rf);
    zrc = cli_zk_create(c->zk, path, json, strlen(json), err, sizeof(err));
    if (zrc == STRATA_EEXISTS) {
        /* Created by someone else since we listed the topics. */
        rc = cli_args_has(a, "if-not-exists")
                 ? CLI_EXIT_OK
                 : fail_kafka(KP_ERR_TOPIC_ALREADY_EXISTS, "Topic '%s' already exists.", topic);
        goto done;
    }
    if (zrc != 0) {
        rc = fail(err);
        goto done;
    }
    printf("Created topic %s.\n", topic);
    rc = CLI_EXIT_OK;
done:
    for (size_t i = 0; i < n_cfg; i++) {
        free(keys[i]);
        free(values[i]);
    }
    free(keys);
    free(values);
    free(path);
    free(json);
    free(rows);
    free_brokers(brokers, nb);
    cli_assignment_free(&assign);
    return rc;
}

/* ---------------------------------------------------------------- --list */

static int do_list(zk_ctx_t *c) {
    int rc = load_topics(c);
    if (rc != 0) {
        return rc;
    }
    size_t n;
    const char **names = matching_topics(c, &n);
    buf_t out = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        buf_append(&out, names[i], strlen(names[i]));
        if (marked_for_deletion(c, names[i])) {
            static const char mark[] = " - marked for deletion";
            buf_append(&out, mark, sizeof(mark) - 1);
        }
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

/* The overrides of /config/topics/<t> as "k=v,k=v" sorted by key (owned; "" when none). */
static char *topic_configs(zk_ctx_t *c, const char *topic, char *err, size_t err_len, int *rc) {
    char *path = zkpath_topic_config(topic);
    char *data = NULL;
    size_t len = 0;
    *rc = cli_zk_get(c->zk, path, &data, &len, NULL, err, err_len);
    free(path);
    if (*rc == STRATA_ENOTFOUND) {
        *rc = 0;
    }
    props_t *p = props_new();
    if (*rc == 0 && data != NULL && zkpath_topic_config_parse(data, len, p) != 0) {
        fprintf(stderr, "WARNING: /config/topics/%s is not Kafka's config JSON; ignored\n", topic);
    }
    free(data);
    size_t n = props_count(p);
    const char **keys = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        const char *v;
        props_entry(p, i, &keys[i], &v);
    }
    qsort(keys, n, sizeof(char *), cmp_str);
    buf_t s = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        const char *v = props_get(p, keys[i]);
        if (s.len > 0) {
            buf_append(&s, ",", 1);
        }
        buf_append(&s, keys[i], strlen(keys[i]));
        buf_append(&s, "=", 1);
        buf_append(&s, v, strlen(v));
    }
    buf_append(&s, "", 1);
    free(keys);
    props_free(p);
    return (char *)s.data;
}

/* Appends "\tMarkedForDeletion: true" before the newline the formatter just wrote. */
static void mark_deleting(buf_t *out) {
    static const char mark[] = "\tMarkedForDeletion: true\n";
    if (out->len > 0 && out->data[out->len - 1] == '\n') {
        out->len--;
    }
    buf_append(out, mark, sizeof(mark) - 1);
}

static int32_t *parse_ids(char *const *names, size_t n, size_t *count) {
    int32_t *ids = xcalloc(n + 1, sizeof(int32_t));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t v;
        if (parse_int64(names[i], &v) == 0 && v >= 0 && v <= INT32_MAX) {
            ids[k++] = (int32_t)v;
        }
    }
    *count = k;
    return ids;
}

/* One topic's lines into out. @returns 0 or a coord code with err filled. */
static int describe_topic(zk_ctx_t *c, const char *topic, const int32_t *live, size_t n_live,
                          buf_t *out, char *err, size_t err_len) {
    const cli_args_t *a = c->args;
    bool under = cli_args_has(a, "under-replicated-partitions");
    bool unavail = cli_args_has(a, "unavailable-partitions");
    bool overrides = cli_args_has(a, "topics-with-overrides");
    bool describe_cfg = !under && !unavail;
    bool deleting = marked_for_deletion(c, topic);
    zkpath_assignment_t asg;
    memset(&asg, 0, sizeof(asg));
    int rc = read_assignment(c, topic, &asg, NULL, err, err_len);
    if (rc == STRATA_ENOTFOUND) {
        return 0; /* deleted since the listing */
    }
    if (rc != 0) {
        return rc;
    }
    char *configs = topic_configs(c, topic, err, err_len, &rc);
    if (rc != 0) {
        free(configs);
        zkpath_assignment_destroy(&asg);
        return rc;
    }
    if (describe_cfg && (!overrides || configs[0] != '\0')) {
        int32_t rf = asg.npartitions > 0 ? asg.nreplicas[0] : 0;
        static const uint8_t zero[16];
        cli_format_topic_line(out, topic, asg.has_id ? asg.topic_id : zero, asg.npartitions, rf,
                              configs);
        if (deleting) {
            mark_deleting(out);
        }
    }
    for (int32_t p = 0; p < asg.npartitions && !overrides; p++) {
        char *path = zkpath_partition_state(topic, p);
        char *data = NULL;
        size_t len = 0;
        rc = cli_zk_get(c->zk, path, &data, &len, NULL, err, err_len);
        free(path);
        zkpath_state_t st;
        memset(&st, 0, sizeof(st));
        st.leader = -1;
        if (rc == STRATA_ENOTFOUND) {
            rc = 0; /* not elected yet: no leader, empty ISR */
        } else if (rc != 0) {
            break;
        } else if (data == NULL || zkpath_state_parse(data, len, &st) != 0) {
            fprintf(stderr,
                    "WARNING: /brokers/topics/%s/partitions/%d/state is not Kafka's "
                    "partition state JSON; shown without a leader\n",
                    topic, (int)p);
            memset(&st, 0, sizeof(st));
            st.leader = -1;
        }
        free(data);
        bool leader_live = false;
        for (size_t i = 0; i < n_live && st.leader >= 0; i++) {
            leader_live = leader_live || live[i] == st.leader;
        }
        bool show =
            describe_cfg || (under && st.nisr < asg.nreplicas[p]) || (unavail && !leader_live);
        if (show) {
            cli_format_partition_line(out, topic, p, st.leader, asg.replicas[p], asg.nreplicas[p],
                                      st.isr, st.nisr);
            if (deleting) {
                mark_deleting(out);
            }
        }
        free(st.isr);
    }
    free(configs);
    zkpath_assignment_destroy(&asg);
    return rc;
}

static int do_describe(zk_ctx_t *c) {
    char err[ERR_LEN];
    int rc = load_topics(c);
    if (rc != 0) {
        return rc;
    }
    size_t n;
    const char **names = matching_topics(c, &n);
    if ((rc = ensure_exists(c, n)) != 0) {
        free(names);
        return rc;
    }
    char **ids = NULL;
    size_t n_ids = 0;
    if (read_children(c, "/brokers/ids", &ids, &n_ids, err, sizeof(err)) != 0) {
        free(names);
        return fail(err);
    }
    size_t n_live;
    int32_t *live = parse_ids(ids, n_ids, &n_live);
    cli_zk_free_names(ids, n_ids);
    buf_t out = BUF_INIT;
    rc = CLI_EXIT_OK;
    for (size_t i = 0; i < n; i++) {
        if (describe_topic(c, names[i], live, n_live, &out, err, sizeof(err)) != 0) {
            rc = fail(err);
            break;
        }
    }
    if (out.len > 0) {
        fwrite(out.data, 1, out.len, stdout);
    }
    buf_destroy(&out);
    free(live);
    free(names);
    return rc;
}

/* ---------------------------------------------------------------- --delete */

static int do_delete(zk_ctx_t *c) {
    char err[ERR_LEN];
    int rc = load_topics(c);
    if (rc != 0) {
        return rc;
    }
    size_t n;
    const char **names = matching_topics(c, &n);
    if ((rc = ensure_exists(c, n)) != 0) {
        free(names);
        return rc;
    }
    for (size_t i = 0; i < n && rc == CLI_EXIT_OK; i++) {
        const char *t = names[i];
        if (cli_topic_is_internal_name(t)) {
            rc = fail_kafka(KP_ERR_INVALID_TOPIC_EXCEPTION,
                            "Topic %s is a kafka internal topic and is not allowed to be marked "
                            "for deletion.",
                            t);
            break;
        }
        char *path = zkpath_delete_topic(t);
        int zrc = marked_for_deletion(c, t) ? STRATA_EEXISTS
                                            : cli_zk_create(c->zk, path, NULL, 0, err, sizeof(err));
        free(path);
        if (zrc == STRATA_EEXISTS) {
            printf("Topic %s is already marked for deletion.\n", t);
        } else if (zrc != 0) {
            rc = fail(err);
        } else {
            printf("Topic %s is marked for deletion.\n"
                   "Note: This will have no impact if delete.topic.enable is not set to true.\n",
                   t);
        }
    }
    free(names);
    return rc;
}

/* ---------------------------------------------------------------- --alter */

/*
 * README "Adding partitions": rf of partition 0, fixed start index = position in the
 * id-sorted live brokers of the first id >= partition 0's first replica (0 if none),
 * start partition = current count. fresh receives add * rf ids. @returns 0 or the exit code
 * after printing.
 */
static int assign_new_partitions(const zk_ctx_t *c, const char *topic,
                                 const zkpath_assignment_t *asg, const assign_broker_t *brokers,
                                 size_t nb, int32_t add, int32_t rf, int32_t *fresh) {
    (void)c;
    if (rf <= 0 || (size_t)rf > nb) {
        return fail_kafka(KP_ERR_INVALID_REPLICATION_FACTOR,
                          "Replication factor: %d larger than available brokers: %d.", (int)rf,
                          (int)nb);
    }
    int32_t *ids = xmalloc(nb * sizeof(int32_t));
    for (size_t i = 0; i < nb; i++) {
        ids[i] = brokers[i].id;
    }
    qsort(ids, nb, sizeof(int32_t), cmp_i32);
    int32_t start = 0;
    if (asg->npartitions > 0 && asg->nreplicas[0] > 0) {
        int32_t lead = asg->replicas[0][0];
        start = -1;
        for (size_t i = 0; i < nb && start < 0; i++) {
            if (ids[i] >= lead) {
                start = (int32_t)i;
            }
        }
        if (start < 0) {
            start = 0;
        }
    }
    free(ids);
    int arc = assign_replicas(brokers, nb, add, rf, start, asg->npartitions, fresh);
    if (arc != 0) {
        return fail_kafka(arc, "Assigning the new partitions of %s failed%s", topic,
                          arc == KP_ERR_INVALID_REPLICA_ASSIGNMENT
                              ? ": not all brokers have rack information. Use "
                                "--disable-rack-aware."
                              : ".");
    }
    return 0;
}

static int alter_topic(zk_ctx_t *c, const char *topic, int32_t total,
                       const cli_assignment_t *assign, const assign_broker_t *brokers, size_t nb) {
    char err[ERR_LEN];
    if (strcmp(topic, "__consumer_offsets") == 0) {
        return fail_kafka(KP_ERR_INVALID_PARTITIONS,
                          "The number of partitions for the offsets topic cannot be changed.");
    }
    if (marked_for_deletion(c, topic)) {
        return fail_kafka(KP_ERR_INVALID_TOPIC_EXCEPTION, "The topic '%s' is queued for deletion.",
                          topic);
    }
    zkpath_assignment_t asg;
    memset(&asg, 0, sizeof(asg));
    int32_t version = -1;
    int zrc = read_assignment(c, topic, &asg, &version, err, sizeof(err));
    if (zrc == STRATA_ENOTFOUND) {
        return fail_kafka(KP_ERR_UNKNOWN_TOPIC_OR_PARTITION, "The topic '%s' does not exist.",
                          topic);
    }
    if (zrc != 0) {
        return fail(err);
    }
    int rc = CLI_EXIT_ERROR;
    int32_t cur = asg.npartitions;
    int32_t add = total - cur;
    int32_t rf = cur > 0 ? asg.nreplicas[0] : 1;
    int32_t *fresh = NULL;
    if (total < cur) {
        rc = fail_kafka(KP_ERR_INVALID_PARTITIONS,
                        "The number of partitions for a topic can only be increased. Topic %s "
                        "currently has %d partitions, %d would not be an increase.",
                        topic, (int)cur, (int)total);
        goto done;
    }
    if (total == cur) {
        rc = fail_kafka(KP_ERR_INVALID_PARTITIONS, "Topic already has %d partitions.", (int)cur);
        goto done;
    }
    if (total > MAX_PARTITIONS) {
        rc = fail_kafka(KP_ERR_INVALID_PARTITIONS,
                        "Number of partitions %d is more than the %d a broker reads.", (int)total,
                        MAX_PARTITIONS);
        goto done;
    }
    if (assign->n_partitions > 0) {
        /* Like kafka-topics: the rows past the current partition count are the new ones. */
        if (assign->n_partitions - cur != add) {
            rc = fail_kafka(KP_ERR_INVALID_REPLICA_ASSIGNMENT,
                            "Increasing the number of partitions by %d but %d assignments "
                            "provided.",
                            (int)add,
                            (int)(assign->n_partitions > cur ? assign->n_partitions - cur : 0));
            goto done;
        }
        if (assign->rf != rf) {
            rc = fail_kafka(KP_ERR_INVALID_REPLICA_ASSIGNMENT,
                            "Inconsistent replication factor between partitions, partition 0 has "
                            "%d while the new partitions have %d.",
                            (int)rf, (int)assign->rf);
            goto done;
        }
        const int32_t *rows = assign->brokers + (size_t)cur * (size_t)rf;
        if ((rc = check_rows(rows, add, rf, brokers, nb)) != 0) {
            goto done;
        }
        rc = CLI_EXIT_ERROR;
        fresh = xmalloc((size_t)add * (size_t)rf * sizeof(int32_t));
        memcpy(fresh, rows, (size_t)add * (size_t)rf * sizeof(int32_t));
    } else {
        fresh = xmalloc((size_t)add * (size_t)rf * sizeof(int32_t));
        if ((rc = assign_new_partitions(c, topic, &asg, brokers, nb, add, rf, fresh)) != 0) {
            goto done;
        }
        rc = CLI_EXIT_ERROR;
    }
    const int32_t **rows = xmalloc((size_t)total * sizeof(int32_t *));
    int32_t *counts = xmalloc((size_t)total * sizeof(int32_t));
    for (int32_t p = 0; p < total; p++) {
        rows[p] = p < cur ? asg.replicas[p] : fresh + (size_t)(p - cur) * (size_t)rf;
        counts[p] = p < cur ? asg.nreplicas[p] : rf;
    }
    if (!asg.has_id) {
        zkpath_uuid_random(asg.topic_id); /* an assignment older than Kafka 2.8 */
    }
    char *json = zkpath_assignment_json_lists(asg.topic_id, total, rows, counts);
    free(rows);
    free(counts);
    char *path = zkpath_topic(topic);
    zrc = cli_zk_set(c->zk, path, json, strlen(json), version, err, sizeof(err));
    free(path);
    free(json);
    if (zrc == STRATA_EBADVERSION) {
        rc =
            fail_kafka(KP_ERR_INVALID_REQUEST, "Topic %s was modified concurrently; retry.", topic);
    } else if (zrc != 0) {
        rc = fail(err);
    } else {
        rc = CLI_EXIT_OK;
    }
done:
    free(fresh);
    zkpath_assignment_destroy(&asg);
    return rc;
}

static int do_alter(zk_ctx_t *c) {
    char err[ERR_LEN];
    const cli_args_t *a = c->args;
    int64_t total;
    if (cli_parse_int("partitions", cli_args_get(a, "partitions"), INT32_MIN, INT32_MAX, &total,
                      err, sizeof(err)) != 0) {
        return usage_error(err);
    }
    cli_assignment_t assign = {0, 0, NULL};
    if (cli_args_has(a, "replica-assignment") && cli_args_get(a, "replica-assignment")[0] &&
        cli_parse_replica_assignment(cli_args_get(a, "replica-assignment"), &assign, err,
                                     sizeof(err)) != 0) {
        return fail_kafka(KP_ERR_INVALID_REPLICA_ASSIGNMENT, "%s", err);
    }
    int rc = load_topics(c);
    if (rc != 0) {
        cli_assignment_free(&assign);
        return rc;
    }
    size_t n;
    const char **names = matching_topics(c, &n);
    if ((rc = ensure_exists(c, n)) != 0 || n == 0) {
        free(names);
        cli_assignment_free(&assign);
        return rc;
    }
    assign_broker_t *brokers = NULL;
    size_t nb = 0;
    if (live_brokers(c, &brokers, &nb, err, sizeof(err)) != 0) {
        free(names);
        cli_assignment_free(&assign);
        return fail(err);
    }
    printf("WARNING: If partitions are increased for a topic that has a key, the partition logic "
           "or ordering of the messages will be affected\n");
    for (size_t i = 0; i < n && rc == CLI_EXIT_OK; i++) {
        rc = alter_topic(c, names[i], (int32_t)total, &assign, brokers, nb);
    }
    if (rc == CLI_EXIT_OK) {
        printf("Adding partitions succeeded!\n");
    }
    free_brokers(brokers, nb);
    free(names);
    cli_assignment_free(&assign);
    return rc;
}

/* ---------------------------------------------------------------- entry */

int cli_topics_zk(const cli_args_t *a, const cli_topic_filter_t *filter) {
    char err[ERR_LEN];
    zk_ctx_t c;
    memset(&c, 0, sizeof(c));
    c.args = a;
    c.filter = filter;
    c.topic = cli_args_get(a, "topic");
    c.zk = cli_zk_open(cli_args_get(a, "zookeeper"), ZK_TIMEOUT, err, sizeof(err));
    if (c.zk == NULL) {
        return fail(err);
    }
    int rc;
    if (cli_args_has(a, "create")) {
        rc = do_create(&c);
    } else if (cli_args_has(a, "list")) {
        rc = do_list(&c);
    } else if (cli_args_has(a, "describe")) {
        rc = do_describe(&c);
    } else if (cli_args_has(a, "delete")) {
        rc = do_delete(&c);
    } else {
        rc = do_alter(&c);
    }
    cli_zk_close(c.zk);
    cli_zk_free_names(c.topics, c.n_topics);
    cli_zk_free_names(c.deleting, c.n_deleting);
    fflush(stdout);
    return rc;
}
