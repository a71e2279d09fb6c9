/*
 * group: a minimal consumer-group member for `strata consume --group`: find the
 * coordinator, JoinGroup/SyncGroup with the "consumer" protocol and the range assignor
 * (this member computes the assignment when it is the leader), OffsetFetch for the
 * starting positions, OffsetCommit, Heartbeat and LeaveGroup. Single-threaded and
 * blocking: the consume loop calls heartbeat and commit between fetches.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define SESSION_TIMEOUT_MS   45000
#define REBALANCE_TIMEOUT_MS 60000
#define JOIN_ATTEMPTS        20

struct cli_group {
    cli_client_t *cl;
    char *group_id;
    char *topic;
    char *member_id;
    int32_t generation;
    int32_t coordinator; /* node id, -2 = unknown */
};

cli_group_t *cli_group_new(cli_client_t *cl, const char *group_id, const char *topic) {
    cli_group_t *g = xcalloc(1, sizeof(*g));
    g->cl = cl;
    g->group_id = xstrdup(group_id);
    g->topic = xstrdup(topic);
    g->member_id = xstrdup("");
    g->generation = -1;
    g->coordinator = -2;
    return g;
}

void cli_group_free(cli_group_t *g) {
    if (g == NULL) {
        return;
    }
    free(g->group_id);
    free(g->topic);
    free(g->member_id);
    free(g);
}

static void backoff(int attempt) {
    poll(NULL, 0, attempt < 3 ? 100 : 500); /* client retry backoff */
}

static bool coordinator_error(int code) {
    return code == KP_ERR_NOT_COORDINATOR || code == KP_ERR_COORDINATOR_NOT_AVAILABLE ||
           code == KP_ERR_COORDINATOR_LOAD_IN_PROGRESS;
}

static void set_member(cli_group_t *g, const char *id) {
    free(g->member_id);
    g->member_id = xstrdup(id ? id : "");
}

/* The coordinator's connection, looked up with FindCoordinator when unknown. */
static cli_conn_t *coordinator(cli_group_t *g, char *err, size_t err_len) {
    for (int attempt = 0; g->coordinator == -2; attempt++) {
        int16_t v = cli_conn_version(g->cl->boot, KP_API_FindCoordinator, 0, 3, err, err_len);
        if (v < 0) {
            return NULL;
        }
        kp_FindCoordinatorRequest_t req;
        kp_init_FindCoordinatorRequest(&req);
        req.key = g->group_id;
        req.key_type = 0;
        cli_resp_t resp;
        cli_resp_init(&resp);
        if (cli_conn_request(g->cl->boot, KP_API_FindCoordinator, v, &req, true, g->cl->timeout_ms,
                             &resp, err, err_len) != 0) {
            cli_resp_destroy(&resp);
            return NULL;
        }
        kp_FindCoordinatorResponse_t *r = resp.msg;
        int code = r->error_code;
        if (code == 0) {
            g->coordinator = r->node_id;
        }
        const char *msg = r->error_message;
        if (code != 0) {
            cli_kafka_error(err, err_len, code, msg);
        }
        cli_resp_destroy(&resp);
        if (code != 0 && (!coordinator_error(code) || attempt >= JOIN_ATTEMPTS)) {
            return NULL;
        }
        if (code != 0) {
            backoff(attempt);
        }
    }
    cli_conn_t *c = cli_client_node(g->cl, g->coordinator, err, err_len);
    if (c == NULL) {
        /* Not in our metadata yet: refresh once and retry. */
        cli_resp_t md;
        cli_resp_init(&md);
        if (cli_client_metadata(g->cl, NULL, 0, false, &md, err, err_len) == 0) {
            c = cli_client_node(g->cl, g->coordinator, err, err_len);
        }
        cli_resp_destroy(&md);
    }
    return c;
}

static int cmp_member(const void *a, const void *b) {
    const kp_JoinGroupResponse_JoinGroupResponseMember_t *x = a, *y = b;
    return strcmp(x->member_id, y->member_id);
}

/*
 * The leader's job: range-assign every subscribed topic among its subscribers.
 * Fills sync assignments (bytes in arena). @returns 0 or -1 with err.
 */
static int compute_assignments(cli_group_t *g, kp_JoinGroupResponse_t *jr, arena_t *arena,
                               kp_SyncGroupRequest_SyncGroupRequestAssignment_t **out, char *err,
                               size_t err_len) {
    int32_t nm = jr->n_members > 0 ? jr->n_members : 0;
    kp_JoinGroupResponse_JoinGroupResponseMember_t *members =
        arena_alloc(arena, ((size_t)nm + 1) * sizeof(*members));
    memcpy(members, jr->members, (size_t)nm * sizeof(*members));
    qsort(members, (size_t)nm, sizeof(*members), cmp_member);
    char ***subs = arena_alloc(arena, ((size_t)nm + 1) * sizeof(char **));
    int *n_subs = arena_alloc(arena, ((size_t)nm + 1) * sizeof(int));
    /* Union of subscribed topics. */
    const char **topics = NULL;
    int n_topics = 0;
    for (int32_t m = 0; m < nm; m++) {
        n_subs[m] = cli_group_decode_subscription(
            members[m].metadata.data,
            members[m].metadata.len > 0 ? (size_t)members[m].metadata.len : 0, arena, &subs[m]);
        for (int k = 0; k < n_subs[m]; k++) {
            bool seen = false;
            for (int t = 0; t < n_topics; t++) {
                seen = seen || strcmp(topics[t], subs[m][k]) == 0;
            }
            if (!seen) {
                const char **grown = arena_alloc(arena, ((size_t)n_topics + 1) * sizeof(char *));
                if (n_topics > 0) {
                    memcpy(grown, topics, (size_t)n_topics * sizeof(char *));
                }
                grown[n_topics++] = subs[m][k];
                topics = grown;
            }
        }
    }
    int32_t *n_parts = arena_alloc(arena, ((size_t)n_topics + 1) * sizeof(int32_t));
    if (n_topics > 0) {
        cli_resp_t md;
        cli_resp_init(&md);
        if (cli_client_metadata(g->cl, topics, n_topics, false, &md, err, err_len) != 0) {
            cli_resp_destroy(&md);
            return -1;
        }
        kp_MetadataResponse_t *r = md.msg;
        for (int t = 0; t < n_topics; t++) {
            for (int32_t k = 0; k < r->n_topics; k++) {
                if (r->topics[k].name && strcmp(r->topics[k].name, topics[t]) == 0 &&
                    r->topics[k].error_code == 0) {
                    n_parts[t] = r->topics[k].n_partitions;
                }
            }
        }
        cli_resp_destroy(&md);
    }
    /* per member: one cli_topic_parts_t per topic it subscribes to */
    cli_topic_parts_t **mine = arena_alloc(arena, ((size_t)nm + 1) * sizeof(*mine));
    int *n_mine = arena_alloc(arena, ((size_t)nm + 1) * sizeof(int));
    for (int32_t m = 0; m < nm; m++) {
        mine[m] = arena_alloc(arena, ((size_t)n_topics + 1) * sizeof(cli_topic_parts_t));
    }
    int32_t *idx = arena_alloc(arena, ((size_t)nm + 1) * sizeof(int32_t));
    int32_t *first = arena_alloc(arena, ((size_t)nm + 1) * sizeof(int32_t));
    int32_t *count = arena_alloc(arena, ((size_t)nm + 1) * sizeof(int32_t));
    for (int t = 0; t < n_topics; t++) {
        int32_t ns = 0;
        for (int32_t m = 0; m < nm; m++) {
            for (int k = 0; k < n_subs[m]; k++) {
                if (strcmp(subs[m][k], topics[t]) == 0) {
                    idx[ns++] = m;
                    break;
                }
            }
        }
        cli_group_range_assign(n_parts[t], ns, first, count);
        for (int32_t s = 0; s < ns; s++) {
            int32_t m = idx[s];
            cli_topic_parts_t *tp = &mine[m][n_mine[m]++];
            tp->topic = topics[t];
            tp->n_partitions = count[s];
            tp->partitions = arena_alloc(arena, ((size_t)count[s] + 1) * sizeof(int32_t));
            for (int32_t p = 0; p < count[s]; p++) {
                tp->partitions[p] = first[s] + p;
            }
        }
    }
    kp_SyncGroupRequest_SyncGroupRequestAssignment_t *as =
        arena_alloc(arena, ((size_t)nm + 1) * sizeof(*as));
    for (int32_t m = 0; m < nm; m++) {
        buf_t b = BUF_INIT;
        cli_group_encode_assignment(&b, mine[m], (size_t)n_mine[m]);
        uint8_t *copy = arena_alloc(arena, b.len);
        memcpy(copy, b.data, b.len);
        kp_init_SyncGroupRequest_SyncGroupRequestAssignment(&as[m]);
        as[m].member_id = members[m].member_id;
        as[m].assignment.data = copy;
        as[m].assignment.len = (int32_t)b.len;
        buf_destroy(&b);
    }
    *out = as;
    return nm;
}

int cli_group_join(cli_group_t *g, int32_t **parts, int32_t *n_parts, char *err, size_t err_len) {
    *parts = NULL;
    *n_parts = 0;
    for (int attempt = 0; attempt < JOIN_ATTEMPTS; attempt++) {
        cli_conn_t *conn = coordinator(g, err, err_len);
        if (conn == NULL) {
            return -1;
        }
        int16_t jv = cli_conn_version(conn, KP_API_JoinGroup, 0, 5, err, err_len);
        int16_t sv = cli_conn_version(conn, KP_API_SyncGroup, 0, 3, err, err_len);
        if (jv < 0 || sv < 0) {
            return -1;
        }
        buf_t sub = BUF_INIT;
        const char *topics[1] = {g->topic};
        cli_group_encode_subscription(&sub, topics, 1);
        kp_JoinGroupRequest_JoinGroupRequestProtocol_t proto;
        kp_init_JoinGroupRequest_JoinGroupRequestProtocol(&proto);
        proto.name = "range";
        proto.metadata.data = sub.data;
        proto.metadata.len = (int32_t)sub.len;
        kp_JoinGroupRequest_t jreq;
        kp_init_JoinGroupRequest(&jreq);
        jreq.group_id = g->group_id;
        jreq.session_timeout_ms = SESSION_TIMEOUT_MS;
        jreq.rebalance_timeout_ms = REBALANCE_TIMEOUT_MS;
        jreq.member_id = g->member_id;
        jreq.protocol_type = "consumer";
        jreq.n_protocols = 1;
        jreq.protocols = &proto;
        cli_resp_t jresp;
        cli_resp_init(&jresp);
        int rc = cli_conn_request(conn, KP_API_JoinGroup, jv, &jreq, true,
                                  REBALANCE_TIMEOUT_MS + 5000, &jresp, err, err_len);
        buf_destroy(&sub);
        if (rc != 0) {
            cli_resp_destroy(&jresp);
            g->coordinator = -2;
            backoff(attempt);
            continue;
        }
        kp_JoinGroupResponse_t *jr = jresp.msg;
        int code = jr->error_code;
        if (code == KP_ERR_MEMBER_ID_REQUIRED) {
            set_member(g, jr->member_id);
            cli_resp_destroy(&jresp);
            continue;
        }
        if (code == KP_ERR_UNKNOWN_MEMBER_ID || code == KP_ERR_ILLEGAL_GENERATION ||
            code == KP_ERR_REBALANCE_IN_PROGRESS || coordinator_error(code)) {
            if (code == KP_ERR_UNKNOWN_MEMBER_ID) {
                set_member(g, "");
            }
            if (coordinator_error(code)) {
                g->coordinator = -2;
            }
            cli_kafka_error(err, err_len, code, NULL);
            cli_resp_destroy(&jresp);
            backoff(attempt);
            continue;
        }
        if (code != 0) {
            char kerr[512];
            cli_kafka_error(kerr, sizeof(kerr), code, NULL);
            snprintf(err, err_len, "JoinGroup %s: %s", g->group_id, kerr);
            cli_resp_destroy(&jresp);
            return -1;
        }
        set_member(g, jr->member_id);
        g->generation = jr->generation_id;
        kp_SyncGroupRequest_t sreq;
        kp_init_SyncGroupRequest(&sreq);
        sreq.group_id = g->group_id;
        sreq.generation_id = g->generation;
        sreq.member_id = g->member_id;
        sreq.protocol_type = "consumer";
        sreq.protocol_name = jr->protocol_name;
        sreq.n_assignments = 0;
        sreq.assignments = NULL;
        if (jr->leader != NULL && strcmp(jr->leader, g->member_id) == 0) {
            int n = compute_assignments(g, jr, jresp.arena, &sreq.assignments, err, err_len);
            if (n < 0) {
                cli_resp_destroy(&jresp);
                return -1;
            }
            sreq.n_assignments = n;
        }
        cli_resp_t sresp;
        cli_resp_init(&sresp);
        rc = cli_conn_request(conn, KP_API_SyncGroup, sv, &sreq, true, REBALANCE_TIMEOUT_MS + 5000,
                              &sresp, err, err_len);
        cli_resp_destroy(&jresp);
        if (rc != 0) {
            cli_resp_destroy(&sresp);
            g->coordinator = -2;
            backoff(attempt);
            continue;
        }
        kp_SyncGroupResponse_t *sr = sresp.msg;
        code = sr->error_code;
        if (code != 0) {
            bool again = code == KP_ERR_REBALANCE_IN_PROGRESS ||
                         code == KP_ERR_ILLEGAL_GENERATION || code == KP_ERR_UNKNOWN_MEMBER_ID ||
                         coordinator_error(code);
            if (code == KP_ERR_UNKNOWN_MEMBER_ID) {
                set_member(g, "");
            }
            if (coordinator_error(code)) {
                g->coordinator = -2;
            }
            char kerr[512];
            cli_kafka_error(kerr, sizeof(kerr), code, NULL);
            snprintf(err, err_len, "SyncGroup %s: %s", g->group_id, kerr);
            cli_resp_destroy(&sresp);
            if (!again) {
                return -1;
            }
            backoff(attempt);
            continue;
        }
        cli_topic_parts_t *tp = NULL;
        int n = cli_group_decode_assignment(sr->assignment.data,
                                            sr->assignment.len > 0 ? (size_t)sr->assignment.len : 0,
                                            sresp.arena, &tp);
        if (n < 0) {
            snprintf(err, err_len, "SyncGroup %s: garbled assignment", g->group_id);
            cli_resp_destroy(&sresp);
            return -1;
        }
        for (int t = 0; t < n; t++) {
            if (tp[t].topic != NULL && strcmp(tp[t].topic, g->topic) == 0 &&
                tp[t].n_partitions > 0) {
                *parts = xcalloc((size_t)tp[t].n_partitions, sizeof(int32_t));
                memcpy(*parts, tp[t].partitions, (size_t)tp[t].n_partitions * sizeof(int32_t));
                *n_parts = tp[t].n_partitions;
            }
        }
        cli_resp_destroy(&sresp);
        return 0;
    }
    return -1;
}

int cli_group_fetch_offsets(cli_group_t *g, const int32_t *parts, int32_t n, int64_t *offsets,
                            char *err, size_t err_len) {
    for (int32_t i = 0; i < n; i++) {
        offsets[i] = -1;
    }
    if (n == 0) {
        return 0;
    }
    for (int attempt = 0; attempt < JOIN_ATTEMPTS; attempt++) {
        cli_conn_t *conn = coordinator(g, err, err_len);
        int16_t v = conn ? cli_conn_version(conn, KP_API_OffsetFetch, 1, 7, err, err_len) : -1;
        if (v < 0) {
            return -1;
        }
        kp_OffsetFetchRequest_OffsetFetchRequestTopic_t t;
        kp_init_OffsetFetchRequest_OffsetFetchRequestTopic(&t);
        t.name = g->topic;
        t.n_partition_indexes = n;
        t.partition_indexes = (int32_t *)parts;
        kp_OffsetFetchRequest_t req;
        kp_init_OffsetFetchRequest(&req);
        req.group_id = g->group_id;
        req.n_topics = 1;
        req.topics = &t;
        cli_resp_t resp;
        cli_resp_init(&resp);
        if (cli_conn_request(conn, KP_API_OffsetFetch, v, &req, true, g->cl->timeout_ms, &resp, err,
                             err_len) != 0) {
            cli_resp_destroy(&resp);
            g->coordinator = -2;
            backoff(attempt);
            continue;
        }
        kp_OffsetFetchResponse_t *r = resp.msg;
        int code = r->error_code;
        for (int32_t k = 0; k < r->n_topics && code == 0; k++) {
            for (int32_t p = 0; p < r->topics[k].n_partitions; p++) {
                const kp_OffsetFetchResponse_OffsetFetchResponsePartition_t *pp =
                    &r->topics[k].partitions[p];
                if (pp->error_code != 0) {
                    code = pp->error_code;
                    break;
                }
                for (int32_t i = 0; i < n; i++) {
                    if (parts[i] == pp->partition_index) {
                        offsets[i] = pp->committed_offset;
                    }
                }
            }
        }
        cli_resp_destroy(&resp);
        if (code == 0) {
            return 0;
        }
        cli_kafka_error(err, err_len, code, NULL);
        if (!coordinator_error(code)) {
            return -1;
        }
        g->coordinator = -2;
        backoff(attempt);
    }
    return -1;
}

int cli_group_commit(cli_group_t *g, const int32_t *parts, const int64_t *offsets, int32_t n,
                     char *err, size_t err_len) {
    if (n == 0) {
        return 0;
    }
    cli_conn_t *conn = coordinator(g, err, err_len);
    int16_t v = conn ? cli_conn_version(conn, KP_API_OffsetCommit, 2, 7, err, err_len) : -1;
    if (v < 0) {
        return -1;
    }
    kp_OffsetCommitRequest_OffsetCommitRequestPartition_t *pp = xcalloc((size_t)n, sizeof(*pp));
    int32_t k = 0;
    for (int32_t i = 0; i < n; i++) {
        if (offsets[i] < 0) {
            continue;
        }
        kp_init_OffsetCommitRequest_OffsetCommitRequestPartition(&pp[k]);
        pp[k].partition_index = parts[i];
        pp[k].committed_offset = offsets[i];
        pp[k].committed_metadata = "";
        k++;
    }
    kp_OffsetCommitRequest_OffsetCommitRequestTopic_t t;
    kp_init_OffsetCommitRequest_OffsetCommitRequestTopic(&t);
    t.name = g->topic;
    t.n_partitions = k;
    t.partitions = pp;
    kp_OffsetCommitRequest_t req;
    kp_init_OffsetCommitRequest(&req);
    req.group_id = g->group_id;
    req.generation_id_or_member_epoch = g->generation;
    req.member_id = g->member_id;
    req.retention_time_ms = -1;
    req.n_topics = 1;
    req.topics = &t;
    cli_resp_t resp;
    cli_resp_init(&resp);
    int rc = 0;
    if (k == 0) {
        goto done;
    }
    if (cli_conn_request(conn, KP_API_OffsetCommit, v, &req, true, g->cl->timeout_ms, &resp, err,
                         err_len) != 0) {
        g->coordinator = -2;
        rc = 1;
        goto done;
    }
    kp_OffsetCommitResponse_t *r = resp.msg;
    for (int32_t i = 0; i < r->n_topics && rc == 0; i++) {
        for (int32_t p = 0; p < r->topics[i].n_partitions; p++) {
            int code = r->topics[i].partitions[p].error_code;
            if (code == 0) {
                continue;
            }
            char kerr[512];
            cli_kafka_error(kerr, sizeof(kerr), code, NULL);
            snprintf(err, err_len, "OffsetCommit %s: %s", g->group_id, kerr);
            if (coordinator_error(code)) {
                g->coordinator = -2;
            }
            rc = code == KP_ERR_REBALANCE_IN_PROGRESS || code == KP_ERR_ILLEGAL_GENERATION ||
                         code == KP_ERR_UNKNOWN_MEMBER_ID || coordinator_error(code)
                     ? 1
                     : -1;
            break;
        }
    }
done:
    cli_resp_destroy(&resp);
    free(pp);
    return rc;
}

int cli_group_heartbeat(cli_group_t *g, char *err, size_t err_len) {
    cli_conn_t *conn = coordinator(g, err, err_len);
    int16_t v = conn ? cli_conn_version(conn, KP_API_Heartbeat, 0, 3, err, err_len) : -1;
    if (v < 0) {
        return -1;
    }
    kp_HeartbeatRequest_t req;
    kp_init_HeartbeatRequest(&req);
    req.group_id = g->group_id;
    req.generation_id = g->generation;
    req.member_id = g->member_id;
    cli_resp_t resp;
    cli_resp_init(&resp);
    int rc = 0;
    if (cli_conn_request(conn, KP_API_Heartbeat, v, &req, true, g->cl->timeout_ms, &resp, err,
                         err_len) != 0) {
        g->coordinator = -2;
        rc = 1;
    } else {
        int code = ((kp_HeartbeatResponse_t *)resp.msg)->error_code;
        if (code == KP_ERR_UNKNOWN_MEMBER_ID) {
            set_member(g, "");
        }
        if (coordinator_error(code)) {
            g->coordinator = -2;
        }
        if (code != 0) {
            cli_kafka_error(err, err_len, code, NULL);
            rc = code == KP_ERR_REBALANCE_IN_PROGRESS || code == KP_ERR_ILLEGAL_GENERATION ||
                         code == KP_ERR_UNKNOWN_MEMBER_ID || coordinator_error(code)
                     ? 1
                     : -1;
        }
    }
    cli_resp_destroy(&resp);
    return rc;
}

void cli_group_leave(cli_group_t *g) {
    char err[256];
    if (g->member_id[0] == '\0') {
        return;
    }
    cli_conn_t *conn = coordinator(g, err, sizeof(err));
    int16_t v = conn ? cli_conn_version(conn, KP_API_LeaveGroup, 0, 3, err, sizeof(err)) : -1;
    if (v < 0) {
        return;
    }
    kp_LeaveGroupRequest_MemberIdentity_t m;
    kp_init_LeaveGroupRequest_MemberIdentity(&m);
    m.member_id = g->member_id;
    kp_LeaveGroupRequest_t req;
    kp_init_LeaveGroupRequest(&req);
    req.group_id = g->group_id;
    if (v >= 3) {
        req.n_members = 1;
        req.members = &m;
    } else {
        req.member_id = g->member_id;
        req.n_members = 0;
    }
    cli_resp_t resp;
    cli_resp_init(&resp);
    cli_conn_request(conn, KP_API_LeaveGroup, v, &req, true, g->cl->timeout_ms, &resp, err,
                     sizeof(err));
    cli_resp_destroy(&resp);
    set_member(g, "");
}
