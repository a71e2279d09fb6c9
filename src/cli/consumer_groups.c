/*
 * consumer_groups: `strata consumer-groups`, kafka-consumer-groups.sh over the Kafka
 * protocol: --list (ListGroups on every broker), --describe --group G (FindCoordinator,
 * DescribeGroups, OffsetFetch, ListOffsets; kafka-consumer-groups' columns GROUP TOPIC
 * PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID), --delete
 * --group G (DeleteGroups on each group's coordinator) and --reset-offsets (only for an
 * inactive group, as Kafka: --to-earliest | --to-latest | --to-offset N | --to-datetime
 * ISO, --dry-run | --execute; the new offsets are committed with generation -1).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

#define ERR_LEN                 1024
#define COORDINATOR_DEADLINE_MS 15000

static const cli_opt_t opts[] = {
    {"bootstrap-server", CLI_OPT_VALUE, "host:port",
     "REQUIRED: The server(s) to connect to (comma-separated list allowed)."},
    {"list", CLI_OPT_FLAG, NULL, "List all consumer groups."},
    {"describe", CLI_OPT_FLAG, NULL, "Describe consumer group(s): offsets, lag and members."},
    {"delete", CLI_OPT_FLAG, NULL, "Delete consumer group(s) (they must be empty)."},
    {"reset-offsets", CLI_OPT_FLAG, NULL,
     "Reset the offsets of an inactive consumer group (one --to-* option)."},
    {"group", CLI_OPT_MULTI, "group", "The consumer group to act on (repeatable)."},
    {"topic", CLI_OPT_VALUE, "topic[:p1,p2]",
     "With --reset-offsets: the topic (and optionally partitions) to reset."},
    {"to-earliest", CLI_OPT_FLAG, NULL, "Reset to the earliest offset."},
    {"to-latest", CLI_OPT_FLAG, NULL, "Reset to the latest offset."},
    {"to-offset", CLI_OPT_VALUE, "offset", "Reset to this offset (clamped to the log)."},
    {"to-datetime", CLI_OPT_VALUE, "YYYY-MM-DDTHH:mm:SS.sss",
     "Reset to the first offset at or after this time (UTC unless a zone is given)."},
    {"dry-run", CLI_OPT_FLAG, NULL, "Only show the result of --reset-offsets."},
    {"execute", CLI_OPT_FLAG, NULL, "Commit the offsets computed by --reset-offsets."},
    {"help", CLI_OPT_FLAG, NULL, "Print usage information."},
};
#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

static const char *const USAGE_LINE =
    "strata consumer-groups --bootstrap-server H:P (--list | --describe | --delete | "
    "--reset-offsets) [--group G] [options]";
static const char *const SUMMARY =
    "List, describe, delete consumer groups, or reset their offsets.";

typedef struct cg_ctx {
    cli_args_t args;
    cli_client_t client;
    cli_resp_t md; /* kp_MetadataResponse_t of every topic */
} cg_ctx_t;

static int usage_error(const char *msg) {
    fprintf(stderr,
            "strata consumer-groups: %s\nTry 'strata consumer-groups --help' for more "
            "information.\n",
            msg);
    return CLI_EXIT_USAGE;
}

static int fail(const char *msg) {
    fprintf(stderr, "Error: %s\n", msg);
    return CLI_EXIT_ERROR;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const kp_MetadataResponse_t *metadata(cg_ctx_t *c) {
    return c->md.msg;
}

/* The coordinator's connection for group (retrying while the coordinator loads). */
static cli_conn_t *coordinator(cg_ctx_t *c, const char *group, char *err, size_t err_len) {
    int waited = 0;
    for (;;) {
        int16_t v = cli_conn_version(c->client.boot, KP_API_FindCoordinator, 0, 2, err, err_len);
        if (v < 0) {
            return NULL;
        }
        kp_FindCoordinatorRequest_t req;
        kp_init_FindCoordinatorRequest(&req);
        req.key = (char *)group;
        req.key_type = 0;
        cli_resp_t r;
        cli_resp_init(&r);
        if (cli_conn_request(c->client.boot, KP_API_FindCoordinator, v, &req, true,
                             c->client.timeout_ms, &r, err, err_len) != 0) {
            cli_resp_destroy(&r);
            return NULL;
        }
        const kp_FindCoordinatorResponse_t *resp = r.msg;
        int16_t code = resp->error_code;
        int32_t node = resp->node_id;
        cli_resp_destroy(&r);
        if (code == KP_ERR_NONE) {
            return cli_client_node(&c->client, node, err, err_len);
        }
        if ((code == KP_ERR_COORDINATOR_NOT_AVAILABLE ||
             code == KP_ERR_COORDINATOR_LOAD_IN_PROGRESS) &&
            waited < COORDINATOR_DEADLINE_MS) {
            sleep_ms(200); /* the broker is creating __consumer_offsets or loading it */
            waited += 200;
            continue;
        }
        cli_kafka_error(err, err_len, code, NULL);
        return NULL;
    }
}

/* A coordinator answers COORDINATOR_LOAD_IN_PROGRESS while it reads __consumer_offsets
 * (after becoming leader or a restart): wait a little and ask again, up to the deadline. */
static bool retry_loading(int16_t code, int *waited) {
    if (code != KP_ERR_COORDINATOR_LOAD_IN_PROGRESS || *waited >= COORDINATOR_DEADLINE_MS) {
        return false;
    }
    sleep_ms(200);
    *waited += 200;
    return true;
}

/* ---------------------------------------------------------------- describe helpers */

typedef struct row {
    char *topic;
    int32_t partition;
    int64_t offset;                             /* -1 = none committed */
    int64_t log_end;                            /* -1 = unknown */
    const char *consumer_id, *host, *client_id; /* NULL = "-" */
} row_t;

typedef struct rows {
    row_t *v;
    size_t n, cap;
} rows_t;

static row_t *row_get(rows_t *rs, const char *topic, int32_t partition) {
    for (size_t i = 0; i < rs->n; i++) {
        if (rs->v[i].partition == partition && strcmp(rs->v[i].topic, topic) == 0) {
            return &rs->v[i];
        }
    }
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 16;
        rs->v = xrealloc(rs->v, rs->cap * sizeof(*rs->v));
    }
    row_t *r = &rs->v[rs->n++];
    memset(r, 0, sizeof(*r));
    r->topic = xstrdup(topic);
    r->partition = partition;
    r->offset = -1;
    r->log_end = -1;
    return r;
}

static void rows_free(rows_t *rs) {
    for (size_t i = 0; i < rs->n; i++) {
        free(rs->v[i].topic);
    }
    free(rs->v);
}

static int cmp_row(const void *a, const void *b) {
    const row_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c) {
        return c;
    }
    return x->partition < y->partition ? -1 : x->partition > y->partition;
}

/* ListOffsets (timestamp: -1 latest, -2 earliest, or ms) for the rows' partitions, asking
 * each partition's leader. Results in row->log_end. */
static int list_offsets(cg_ctx_t *c, rows_t *rs, int64_t timestamp, char *err, size_t err_len) {
    const kp_MetadataResponse_t *md = metadata(c);
    for (size_t i = 0; i < rs->n; i++) {
        row_t *r = &rs->v[i];
        int32_t leader = -1;
        for (int32_t t = 0; t < md->n_topics; t++) {
            if (md->topics[t].name && strcmp(md->topics[t].name, r->topic) == 0) {
                for (int32_t p = 0; p < md->topics[t].n_partitions; p++) {
                    if (md->topics[t].partitions[p].partition_index == r->partition) {
                        leader = md->topics[t].partitions[p].leader_id;
                    }
                }
            }
        }
        if (leader < 0) {
            continue;
        }
        cli_conn_t *conn = cli_client_node(&c->client, leader, err, err_len);
        if (!conn) {
            return -1;
        }
        int16_t v = cli_conn_version(conn, KP_API_ListOffsets, 1, 5, err, err_len);
        if (v < 0) {
            return -1;
        }
        kp_ListOffsetsRequest_ListOffsetsPartition_t lp;
        kp_init_ListOffsetsRequest_ListOffsetsPartition(&lp);
        lp.partition_index = r->partition;
        lp.timestamp = timestamp;
        kp_ListOffsetsRequest_ListOffsetsTopic_t lt;
        kp_init_ListOffsetsRequest_ListOffsetsTopic(&lt);
        lt.name = r->topic;
        lt.n_partitions = 1;
        lt.partitions = &lp;
        kp_ListOffsetsRequest_t req;
        kp_init_ListOffsetsRequest(&req);
        req.replica_id = -1;
        req.n_topics = 1;
        req.topics = &lt;
        cli_resp_t resp;
        cli_resp_init(&resp);
        if (cli_conn_request(conn, KP_API_ListOffsets, v, &req, true, c->client.timeout_ms, &resp,
                             err, err_len) != 0) {
            cli_resp_destroy(&resp);
            return -1;
        }
        const kp_ListOffsetsResponse_t *lr = resp.msg;
        if (lr->n_topics > 0 && lr->topics[0].n_partitions > 0 &&
            lr->topics[0].partitions[0].error_code == 0) {
            r->log_end = lr->topics[0].partitions[0].offset;
        }
        cli_resp_destroy(&resp);
    }
    return 0;
}

/* One topic of a ConsumerProtocolAssignment (v0+: int16 version, [string topic,
 * [int32 partition]], bytes user_data), decoded into the arena. */
typedef struct asg_topic {
    char *topic;
    int32_t n;
    int32_t *parts;
} asg_topic_t;

/* @returns the number of topics, or -1 when garbled. */
static int decode_assignment(const uint8_t *data, size_t len, arena_t *arena, asg_topic_t **out) {
    kp_rd_t rd;
    kp_rd_init(&rd, data, len, arena);
    (void)kp_rd_i16(&rd);
    int32_t nt = kp_rd_array_len(&rd, false, false, 6);
    if (kp_rd_err(&rd) || nt < 0) {
        return -1;
    }
    asg_topic_t *t = arena_alloc(arena, ((size_t)nt + 1) * sizeof(*t));
    for (int32_t i = 0; i < nt; i++) {
        t[i].topic = kp_rd_string(&rd, false, false);
        t[i].n = kp_rd_array_len(&rd, false, false, 4);
        if (kp_rd_err(&rd) || t[i].n < 0 || !t[i].topic) {
            return -1;
        }
        t[i].parts = arena_alloc(arena, ((size_t)t[i].n + 1) * sizeof(int32_t));
        for (int32_t j = 0; j < t[i].n; j++) {
            t[i].parts[j] = kp_rd_i32(&rd);
        }
    }
    if (kp_rd_err(&rd)) {
        return -1;
    }
    *out = t;
    return nt;
}

typedef struct group_info {
    int16_t error;
    char state[32];
    size_t n_members;
} group_info_t;

/* DescribeGroups of one group; fills rows with the members' assigned partitions. */
static int describe_group(cg_ctx_t *c, cli_conn_t *conn, const char *group, rows_t *rs,
                          group_info_t *gi, arena_t *keep, char *err, size_t err_len) {
    int waited = 0;
again:;
    int16_t v = cli_conn_version(conn, KP_API_DescribeGroups, 0, 4, err, err_len);
    if (v < 0) {
        return -1;
    }
    kp_DescribeGroupsRequest_t req;
    kp_init_DescribeGroupsRequest(&req);
    char *groups[1] = {(char *)group};
    req.n_groups = 1;
    req.groups = groups;
    cli_resp_t resp;
    cli_resp_init(&resp);
    if (cli_conn_request(conn, KP_API_DescribeGroups, v, &req, true, c->client.timeout_ms, &resp,
                         err, err_len) != 0) {
        cli_resp_destroy(&resp);
        return -1;
    }
    const kp_DescribeGroupsResponse_t *dr = resp.msg;
    memset(gi, 0, sizeof(*gi));
    if (dr->n_groups < 1) {
        snprintf(err, err_len, "DescribeGroups returned no group");
        cli_resp_destroy(&resp);
        return -1;
    }
    const kp_DescribeGroupsResponse_DescribedGroup_t *g = &dr->groups[0];
    if (retry_loading(g->error_code, &waited)) {
        cli_resp_destroy(&resp);
        goto again;
    }
    gi->error = g->error_code;
    snprintf(gi->state, sizeof(gi->state), "%s", g->group_state ? g->group_state : "");
    gi->n_members = g->n_members > 0 ? (size_t)g->n_members : 0;
    for (int32_t i = 0; rs && i < g->n_members; i++) {
        const kp_DescribeGroupsResponse_DescribedGroupMember_t *m = &g->members[i];
        if (m->member_assignment.len <= 0) {
            continue;
        }
        asg_topic_t *tp = NULL;
        int nt = decode_assignment(m->member_assignment.data, (size_t)m->member_assignment.len,
                                   keep, &tp);
        for (int t = 0; t < nt; t++) {
            for (int32_t p = 0; p < tp[t].n; p++) {
                row_t *r = row_get(rs, tp[t].topic, tp[t].parts[p]);
                r->consumer_id = arena_strndup(keep, m->member_id, strlen(m->member_id));
                r->host = arena_strndup(keep, m->client_host, strlen(m->client_host));
                r->client_id = arena_strndup(keep, m->client_id, strlen(m->client_id));
            }
        }
    }
    cli_resp_destroy(&resp);
    return 0;
}

/* Every committed offset of the group into rows. */
static int fetch_offsets(cg_ctx_t *c, cli_conn_t *conn, const char *group, rows_t *rs, char *err,
                         size_t err_len) {
    int waited = 0;
again:;
    int16_t v = cli_conn_version(conn, KP_API_OffsetFetch, 2, 5, err, err_len);
    if (v < 0) {
        return -1;
    }
    kp_OffsetFetchRequest_t req;
    kp_init_OffsetFetchRequest(&req);
    req.group_id = (char *)group;
    req.n_topics = -1; /* all */
    req.topics = NULL;
    cli_resp_t resp;
    cli_resp_init(&resp);
    if (cli_conn_request(conn, KP_API_OffsetFetch, v, &req, true, c->client.timeout_ms, &resp, err,
                         err_len) != 0) {
        cli_resp_destroy(&resp);
        return -1;
    }
    const kp_OffsetFetchResponse_t *fr = resp.msg;
    if (retry_loading(fr->error_code, &waited)) {
        cli_resp_destroy(&resp);
        goto again;
    }
    if (fr->error_code != 0) {
        cli_kafka_error(err, err_len, fr->error_code, NULL);
        cli_resp_destroy(&resp);
        return -1;
    }
    for (int32_t t = 0; t < fr->n_topics; t++) {
        for (int32_t p = 0; p < fr->topics[t].n_partitions; p++) {
            const kp_OffsetFetchResponse_OffsetFetchResponsePartition_t *pp =
                &fr->topics[t].partitions[p];
            if (pp->committed_offset >= 0) {
                row_get(rs, fr->topics[t].name, pp->partition_index)->offset = pp->committed_offset;
            }
        }
    }
    cli_resp_destroy(&resp);
    return 0;
}

static int width(int w, const char *s) {
    int n = s ? (int)strlen(s) : 1;
    return n > w ? n : w;
}

static int do_describe_one(cg_ctx_t *c, const char *group) {
    char err[ERR_LEN];
    cli_conn_t *conn = coordinator(c, group, err, sizeof(err));
    if (!conn) {
        return fail(err);
    }
    rows_t rs = {NULL, 0, 0};
    arena_t *keep = arena_new(0);
    group_info_t gi;
    int rc = CLI_EXIT_OK;
    if (describe_group(c, conn, group, &rs, &gi, keep, err, sizeof(err)) != 0 ||
        fetch_offsets(c, conn, group, &rs, err, sizeof(err)) != 0) {
        rc = fail(err);
        goto done;
    }
    if (gi.error != 0) {
        cli_kafka_error(err, sizeof(err), gi.error, NULL);
        rc = fail(err);
        goto done;
    }
    if (strcmp(gi.state, "Dead") == 0 && rs.n == 0) {
        fprintf(stderr, "Error: Consumer group '%s' does not exist.\n", group);
        rc = CLI_EXIT_ERROR;
        goto done;
    }
    if (list_offsets(c, &rs, -1, err, sizeof(err)) != 0) {
        rc = fail(err);
        goto done;
    }
    qsort(rs.v, rs.n, sizeof(*rs.v), cmp_row);
    if (gi.n_members == 0) {
        printf("\nConsumer group '%s' has no active members.\n", group);
    } else if (strcmp(gi.state, "Stable") != 0) {
        printf("\nWarning: Consumer group '%s' is rebalancing.\n", group);
    }
    int wg = width(15, group), wt = 15, wc = 15, wh = 15;
    for (size_t i = 0; i < rs.n; i++) {
        wt = width(wt, rs.v[i].topic);
        wc = width(wc, rs.v[i].consumer_id);
        wh = width(wh, rs.v[i].host);
    }
    printf("\n%-*s %-*s %-10s %-15s %-15s %-15s %-*s %-*s %s\n", wg, "GROUP", wt, "TOPIC",
           "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", wc, "CONSUMER-ID", wh, "HOST",
           "CLIENT-ID");
    for (size_t i = 0; i < rs.n; i++) {
        const row_t *r = &rs.v[i];
        char cur[24] = "-", end[24] = "-", lag[24] = "-";
        if (r->offset >= 0) {
            snprintf(cur, sizeof(cur), "%lld", (long long)r->offset);
        }
        if (r->log_end >= 0) {
            snprintf(end, sizeof(end), "%lld", (long long)r->log_end);
        }
        if (r->offset >= 0 && r->log_end >= 0) {
            snprintf(lag, sizeof(lag), "%lld",
                     (long long)(r->log_end > r->offset ? r->log_end - r->offset : 0));
        }
        printf("%-*s %-*s %-10d %-15s %-15s %-15s %-*s %-*s %s\n", wg, group, wt, r->topic,
               (int)r->partition, cur, end, lag, wc, r->consumer_id ? r->consumer_id : "-", wh,
               r->host ? r->host : "-", r->client_id ? r->client_id : "-");
    }
done:
    rows_free(&rs);
    arena_free(keep);
    return rc;
}

/* ---------------------------------------------------------------- list */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int do_list(cg_ctx_t *c) {
    char err[ERR_LEN];
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = CLI_EXIT_OK;
    for (size_t b = 0; b < c->client.n_brokers; b++) {
        int waited = 0;
    again:;
        cli_conn_t *conn =
            cli_client_node(&c->client, c->client.brokers[b].node_id, err, sizeof(err));
        int16_t v = conn ? cli_conn_version(conn, KP_API_ListGroups, 0, 2, err, sizeof(err)) : -1;
        if (v < 0) {
            rc = fail(err);
            continue;
        }
        kp_ListGroupsRequest_t req;
        kp_init_ListGroupsRequest(&req);
        cli_resp_t resp;
        cli_resp_init(&resp);
        if (cli_conn_request(conn, KP_API_ListGroups, v, &req, true, c->client.timeout_ms, &resp,
                             err, sizeof(err)) != 0) {
            cli_resp_destroy(&resp);
            rc = fail(err);
            continue;
        }
        const kp_ListGroupsResponse_t *lr = resp.msg;
        if (retry_loading(lr->error_code, &waited)) {
            cli_resp_destroy(&resp); /* the list is complete once every partition loaded */
            goto again;
        }
        if (lr->error_code != 0) {
            cli_kafka_error(err, sizeof(err), lr->error_code, NULL);
            cli_resp_destroy(&resp);
            rc = fail(err);
            continue;
        }
        for (int32_t i = 0; i < lr->n_groups; i++) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                names = xrealloc(names, cap * sizeof(*names));
            }
            names[n++] = xstrdup(lr->groups[i].group_id ? lr->groups[i].group_id : "");
        }
        cli_resp_destroy(&resp);
    }
    if (n > 1) {
        qsort(names, n, sizeof(*names), cmp_str);
    }
    for (size_t i = 0; i < n; i++) {
        printf("%s\n", names[i]);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* ---------------------------------------------------------------- delete */

/* DeleteGroups of one group on its coordinator: 0 (error code in *code) or -1 (err). */
static int delete_one(cg_ctx_t *c, const char *group, int16_t *code, char *err, size_t err_len) {
    int waited = 0;
again:;
    cli_conn_t *conn = coordinator(c, group, err, err_len);
    if (!conn) {
        return -1;
    }
    int16_t v = cli_conn_version(conn, KP_API_DeleteGroups, 0, 1, err, err_len);
    if (v < 0) {
        return -1;
    }
    kp_DeleteGroupsRequest_t req;
    kp_init_DeleteGroupsRequest(&req);
    char *names[1] = {(char *)group};
    req.n_groups_names = 1;
    req.groups_names = names;
    cli_resp_t resp;
    cli_resp_init(&resp);
    if (cli_conn_request(conn, KP_API_DeleteGroups, v, &req, true, c->client.timeout_ms, &resp, err,
                         err_len) != 0) {
        cli_resp_destroy(&resp);
        return -1;
    }
    const kp_DeleteGroupsResponse_t *dr = resp.msg;
    int rc = -1;
    for (int32_t i = 0; i < dr->n_results; i++) {
        if (dr->results[i].group_id && strcmp(dr->results[i].group_id, group) == 0) {
            *code = dr->results[i].error_code;
            rc = 0;
            break;
        }
    }
    if (rc != 0) {
        snprintf(err, err_len, "DeleteGroups answered without group '%s'", group);
    } else if (retry_loading(*code, &waited)) {
        cli_resp_destroy(&resp);
        goto again;
    }
    cli_resp_destroy(&resp);
    return rc;
}

/* Appends ", 'g'" (or "'g'" first) to a list being built. */
static void quoted_append(buf_t *b, const char *g) {
    if (b->len) {
        buf_append(b, ", ", 2);
    }
    buf_append(b, "'", 1);
    buf_append(b, g, strlen(g));
    buf_append(b, "'", 1);
}

/* kafka-consumer-groups.sh --delete: every group on its coordinator; one line when all
 * succeed, else "Error: Deletion of some consumer groups failed:" and one line per failed
 * group (on stderr), then the ones that were deleted. */
static int do_delete(cg_ctx_t *c, const char *const *groups, size_t n) {
    buf_t ok = BUF_INIT, failed = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        char err[ERR_LEN];
        int16_t code = KP_ERR_NONE;
        if (delete_one(c, groups[i], &code, err, sizeof(err)) == 0 && code == KP_ERR_NONE) {
            quoted_append(&ok, groups[i]);
            continue;
        }
        if (code != KP_ERR_NONE) {
            cli_kafka_error(err, sizeof(err), code, NULL);
        }
        char line[ERR_LEN + 256];
        int len = snprintf(line, sizeof(line), "* Group '%s' could not be deleted due to: %s\n",
                           groups[i], err);
        buf_append(&failed, line, len > 0 && (size_t)len < sizeof(line) ? (size_t)len : 0);
    }
    int rc = CLI_EXIT_OK;
    if (failed.len == 0) {
        printf("Deletion of requested consumer groups (%.*s) was successful.\n", (int)ok.len,
               (const char *)ok.data);
    } else {
        fprintf(stderr, "Error: Deletion of some consumer groups failed:\n%.*s", (int)failed.len,
                (const char *)failed.data);
        if (ok.len) {
            printf("\nThese consumer groups were deleted successfully: %.*s\n", (int)ok.len,
                   (const char *)ok.data);
        }
        rc = CLI_EXIT_ERROR;
    }
    buf_destroy(&ok);
    buf_destroy(&failed);
    return rc;
}

/* ---------------------------------------------------------------- reset offsets */

/* "2026-11-25T12:00:00[.123][Z|+01:00]" -> ms since the epoch (UTC without a zone). */
static int parse_datetime(const char *s, int64_t *out) {
    int y, mo, d, h, mi, se, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6) {
        return -1;
    }
    const char *p = s + n;
    int ms = 0;
    if (*p == '.') {
        int k = 0, digits = 0;
        p++;
        while (*p >= '0' && *p <= '9' && digits < 3) {
            k = k * 10 + (*p - '0');
            p++;
            digits++;
        }
        while (digits < 3) {
            k *= 10;
            digits++;
        }
        ms = k;
    }
    int64_t off_min = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2) {
            return -1;
        }
        off_min = (int64_t)(oh * 60 + om) * (*p == '-' ? -1 : 1);
        p += 6;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) {
        return -1;
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    *out = ((int64_t)t - off_min * 60) * 1000 + ms;
    return 0;
}

static int do_reset(cg_ctx_t *c, const char *group) {
    char err[ERR_LEN];
    const cli_args_t *a = &c->args;
    const char *spec = cli_args_get(a, "topic");
    if (!spec) {
        return usage_error("--reset-offsets needs --topic");
    }
    int modes = cli_args_has(a, "to-earliest") + cli_args_has(a, "to-latest") +
                cli_args_has(a, "to-offset") + cli_args_has(a, "to-datetime");
    if (modes != 1) {
        return usage_error("--reset-offsets needs exactly one of --to-earliest, --to-latest, "
                           "--to-offset, --to-datetime");
    }
    if (cli_args_has(a, "dry-run") && cli_args_has(a, "execute")) {
        return usage_error("--dry-run and --execute cannot be used together");
    }
    int64_t to_offset = 0, ts = 0;
    if (cli_args_has(a, "to-offset") &&
        cli_parse_int("to-offset", cli_args_get(a, "to-offset"), 0, INT64_MAX, &to_offset, err,
                      sizeof(err)) != 0) {
        return usage_error(err);
    }
    if (cli_args_has(a, "to-datetime") && parse_datetime(cli_args_get(a, "to-datetime"), &ts)) {
        return usage_error("--to-datetime: expected YYYY-MM-DDTHH:mm:SS[.sss][Z|+HH:MM]");
    }
    /* topic[:p1,p2] */
    char *topic = xstrdup(spec);
    char *colon = strchr(topic, ':');
    const kp_MetadataResponse_t *md = metadata(c);
    const kp_MetadataResponse_MetadataResponseTopic_t *mt = NULL;
    if (colon) {
        *colon = 0;
    }
    for (int32_t i = 0; i < md->n_topics; i++) {
        if (md->topics[i].name && strcmp(md->topics[i].name, topic) == 0 &&
            md->topics[i].error_code == 0) {
            mt = &md->topics[i];
        }
    }
    rows_t rs = {NULL, 0, 0};
    arena_t *keep = arena_new(0);
    int rc = CLI_EXIT_OK;
    if (!mt) {
        fprintf(stderr, "Error: Topic '%s' does not exist.\n", topic);
        rc = CLI_EXIT_ERROR;
        goto done;
    }
    if (colon) {
        for (char *tok = strtok(colon + 1, ","); tok; tok = strtok(NULL, ",")) {
            int64_t p;
            if (cli_parse_int("topic partition", tok, 0, mt->n_partitions - 1, &p, err,
                              sizeof(err)) != 0) {
                rc = usage_error(err);
                goto done;
            }
            row_get(&rs, topic, (int32_t)p);
        }
    } else {
        for (int32_t p = 0; p < mt->n_partitions; p++) {
            row_get(&rs, topic, mt->partitions[p].partition_index);
        }
    }
    cli_conn_t *conn = coordinator(c, group, err, sizeof(err));
    group_info_t gi;
    if (!conn || describe_group(c, conn, group, NULL, &gi, keep, err, sizeof(err)) != 0) {
        rc = fail(err);
        goto done;
    }
    if (strcmp(gi.state, "Empty") != 0 && strcmp(gi.state, "Dead") != 0) {
        fprintf(stderr,
                "Error: Assignments can only be reset if the group '%s' is inactive, but the "
                "current state is %s.\n",
                group, gi.state);
        rc = CLI_EXIT_ERROR;
        goto done;
    }
    /* earliest and latest bound every mode */
    int64_t *lo = xcalloc(rs.n + 1, sizeof(int64_t)), *hi = xcalloc(rs.n + 1, sizeof(int64_t));
    if (list_offsets(c, &rs, -2, err, sizeof(err)) != 0) {
        free(lo);
        free(hi);
        rc = fail(err);
        goto done;
    }
    for (size_t i = 0; i < rs.n; i++) {
        lo[i] = rs.v[i].log_end;
    }
    if (list_offsets(c, &rs, -1, err, sizeof(err)) != 0) {
        free(lo);
        free(hi);
        rc = fail(err);
        goto done;
    }
    for (size_t i = 0; i < rs.n; i++) {
        hi[i] = rs.v[i].log_end;
    }
    if (cli_args_has(a, "to-datetime")) {
        for (size_t i = 0; i < rs.n; i++) {
            rs.v[i].log_end = -1;
        }
        if (list_offsets(c, &rs, ts, err, sizeof(err)) != 0) {
            free(lo);
            free(hi);
            rc = fail(err);
            goto done;
        }
    }
    for (size_t i = 0; i < rs.n; i++) {
        int64_t target;
        if (cli_args_has(a, "to-earliest")) {
            target = lo[i];
        } else if (cli_args_has(a, "to-latest")) {
            target = hi[i];
        } else if (cli_args_has(a, "to-offset")) {
            target = to_offset < lo[i] ? lo[i] : to_offset > hi[i] ? hi[i] : to_offset;
        } else {
            target = rs.v[i].log_end >= 0 ? rs.v[i].log_end : hi[i]; /* none later: end */
        }
        rs.v[i].offset = target;
    }
    free(lo);
    free(hi);
    qsort(rs.v, rs.n, sizeof(*rs.v), cmp_row);
    bool execute = cli_args_has(a, "execute");
    if (!execute && !cli_args_has(a, "dry-run")) {
        fprintf(stderr, "WARN: No action will be performed as the --execute option is missing. "
                        "In a future major release, the default behavior of this command will "
                        "be to prompt the user before executing the reset rather than doing a "
                        "dry run. You should add the --dry-run option explicitly if you are "
                        "scripting this command and want to keep the current default behavior "
                        "without prompting.\n");
    }
    if (execute) {
        int16_t v = cli_conn_version(conn, KP_API_OffsetCommit, 2, 7, err, sizeof(err));
        if (v < 0) {
            rc = fail(err);
            goto done;
        }
        kp_OffsetCommitRequest_OffsetCommitRequestPartition_t *pp = xcalloc(rs.n + 1, sizeof(*pp));
        for (size_t i = 0; i < rs.n; i++) {
            kp_init_OffsetCommitRequest_OffsetCommitRequestPartition(&pp[i]);
            pp[i].partition_index = rs.v[i].partition;
            pp[i].committed_offset = rs.v[i].offset;
            pp[i].committed_leader_epoch = -1;
            pp[i].committed_metadata = (char *)"";
        }
        kp_OffsetCommitRequest_OffsetCommitRequestTopic_t t;
        kp_init_OffsetCommitRequest_OffsetCommitRequestTopic(&t);
        t.name = topic;
        t.n_partitions = (int32_t)rs.n;
        t.partitions = pp;
        kp_OffsetCommitRequest_t req;
        kp_init_OffsetCommitRequest(&req);
        req.group_id = (char *)group;
        req.generation_id_or_member_epoch = -1;
        req.member_id = (char *)"";
        req.retention_time_ms = -1;
        req.n_topics = 1;
        req.topics = &t;
        cli_resp_t resp;
        cli_resp_init(&resp);
        int crc = cli_conn_request(conn, KP_API_OffsetCommit, v, &req, true, c->client.timeout_ms,
                                   &resp, err, sizeof(err));
        free(pp);
        if (crc != 0) {
            cli_resp_destroy(&resp);
            rc = fail(err);
            goto done;
        }
        const kp_OffsetCommitResponse_t *cr = resp.msg;
        for (int32_t i = 0; i < cr->n_topics; i++) {
            for (int32_t j = 0; j < cr->topics[i].n_partitions; j++) {
                int16_t code = cr->topics[i].partitions[j].error_code;
                if (code != 0 && rc == CLI_EXIT_OK) {
                    cli_kafka_error(err, sizeof(err), code, NULL);
                    rc = fail(err);
                }
            }
        }
        cli_resp_destroy(&resp);
        if (rc != CLI_EXIT_OK) {
            goto done;
        }
    }
    printf("\n%-30s %-30s %-10s %-15s\n", "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET");
    for (size_t i = 0; i < rs.n; i++) {
        printf("%-30s %-30s %-10d %-15lld\n", group, rs.v[i].topic, (int)rs.v[i].partition,
               (long long)rs.v[i].offset);
    }
done:
    rows_free(&rs);
    arena_free(keep);
    free(topic);
    return rc;
}

/* ---------------------------------------------------------------- entry */

int cli_cmd_consumer_groups(int argc, char **argv) {
    cg_ctx_t c;
    memset(&c, 0, sizeof(c));
    char err[ERR_LEN];
    if (argc == 0) {
        cli_print_usage(stderr, USAGE_LINE, SUMMARY, opts, N_OPTS);
        return CLI_EXIT_USAGE;
    }
    if (cli_args_parse(&c.args, opts, N_OPTS, argc, argv, err, sizeof(err)) != 0) {
        cli_args_free(&c.args);
        return usage_error(err);
    }
    int rc;
    if (cli_args_has(&c.args, "help")) {
        cli_print_usage(stdout, USAGE_LINE, SUMMARY, opts, N_OPTS);
        cli_args_free(&c.args);
        return CLI_EXIT_OK;
    }
    int actions = cli_args_has(&c.args, "list") + cli_args_has(&c.args, "describe") +
                  cli_args_has(&c.args, "delete") + cli_args_has(&c.args, "reset-offsets");
    size_t ngroups = 0;
    const char **groups = cli_args_multi(&c.args, "group", &ngroups);
    if (!cli_args_has(&c.args, "bootstrap-server")) {
        rc = usage_error("Missing required argument \"[bootstrap-server]\"");
    } else if (actions != 1) {
        rc = usage_error("Command must include exactly one action: --list, --describe, "
                         "--delete, --reset-offsets");
    } else if (!cli_args_has(&c.args, "list") && ngroups == 0) {
        rc = usage_error("Option [describe|delete|reset-offsets] takes one of these options: "
                         "[group]");
    } else {
        rc = -1;
    }
    if (rc >= 0) {
        cli_args_free(&c.args);
        return rc;
    }
    cli_resp_init(&c.md);
    if (cli_client_open(&c.client, cli_args_get(&c.args, "bootstrap-server"), err, sizeof(err)) !=
            0 ||
        cli_client_metadata(&c.client, NULL, -1, false, &c.md, err, sizeof(err)) != 0) {
        rc = fail(err);
        goto done;
    }
    rc = CLI_EXIT_OK;
    if (cli_args_has(&c.args, "list")) {
        rc = do_list(&c);
    } else if (cli_args_has(&c.args, "describe")) {
        for (size_t i = 0; i < ngroups; i++) {
            int r = do_describe_one(&c, groups[i]);
            rc = r ? r : rc;
        }
    } else if (cli_args_has(&c.args, "delete")) {
        rc = do_delete(&c, groups, ngroups);
    } else {
        for (size_t i = 0; i < ngroups; i++) {
            int r = do_reset(&c, groups[i]);
            rc = r ? r : rc;
        }
    }
done:
    cli_resp_destroy(&c.md);
    cli_client_close(&c.client);
    cli_args_free(&c.args);
    return rc;
}
