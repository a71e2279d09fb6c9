/*
 * test_proto_group: byte-exact vectors for the consumer-group and idempotence APIs
 * (issue 7) at the versions librdkafka 2.0.2 and kafkajs 2.2.4 send: FindCoordinator
 * v0/v2, JoinGroup v0/v5, SyncGroup v0/v3, Heartbeat v0/v3, LeaveGroup v1 (single
 * member) and v3 (batch), OffsetCommit v2/v5/v7, OffsetFetch v1/v4/v5 (+ flexible v6),
 * DescribeGroups v0/v4, ListGroups v0/v2, InitProducerId v0/v1 (+ flexible v2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "strata/proto.h"

#include "proto_test_util.h"

#define G1        "0002 6731" /* "g1" */
#define M1        "0002 6d31" /* "m1" */
#define LOCALHOST "0009 6c6f63616c686f7374"

static void test_FindCoordinator_v0_v2(void **state) {
    (void)state;
    check_body(true, KP_API_FindCoordinator, 0, G1);
    check_body(true, KP_API_FindCoordinator, 2, G1 "00"); /* key_type GROUP (v1+) */
    check_body(true, KP_API_FindCoordinator, 1, G1 "01");

    kp_FindCoordinatorResponse_t m;
    kp_init_FindCoordinatorResponse(&m);
    m.error_message = NULL;
    m.node_id = 1;
    m.host = "localhost";
    m.port = 9092;
    const char *v2 = "00000000" /* throttle_time_ms (v1+) */
                     "0000"     /* error_code */
                     "ffff"     /* error_message null (v1+) */
                     "00000001" /* node_id */
        LOCALHOST "00002384";
    check_encode(false, KP_API_FindCoordinator, 2, &m, v2);
    check_body(false, KP_API_FindCoordinator, 2, v2);
    check_encode(false, KP_API_FindCoordinator, 0, &m, "0000 00000001" LOCALHOST "00002384");
    check_body(false, KP_API_FindCoordinator, 0, "000f ffffffff 0000 ffffffff");
}

#define JOIN_REQ_V5                                                                                \
    G1 "00002710"                                      /* session_timeout_ms 10000 */              \
       "0000ea60"                                      /* rebalance_timeout_ms 60000 (v1+) */      \
       "0000"                                          /* member_id "" */                          \
       "ffff"                                          /* group_instance_id null (v5+) */          \
       "0008 636f6e73756d6572"                         /* protocol_type "consumer" */              \
       "00000002"                                      /* protocols: 2 */                          \
       "  0005 72616e6765 00000004 00010000"           /* "range", metadata */                     \
       "  000a 726f756e64726f62696e 00000004 00010000" /* "roundrobin" */

static void test_JoinGroupRequest_v0_v5(void **state) {
    (void)state;
    check_body(true, KP_API_JoinGroup, 5, JOIN_REQ_V5);
    arena_t *a = arena_new(0);
    vec_t v = vec_hex(JOIN_REQ_V5);
    kp_JoinGroupRequest_t *m = decode_ok(a, true, KP_API_JoinGroup, 5, &v);
    assert_string_equal(m->group_id, "g1");
    assert_int_equal(m->session_timeout_ms, 10000);
    assert_int_equal(m->rebalance_timeout_ms, 60000);
    assert_string_equal(m->member_id, "");
    assert_null(m->group_instance_id);
    assert_string_equal(m->protocol_type, "consumer");
    assert_int_equal(m->n_protocols, 2);
    assert_string_equal(m->protocols[1].name, "roundrobin");
    assert_int_equal(m->protocols[1].metadata.len, 4);
    assert_ptr_equal(m->protocols[1].metadata.data, v.data + v.len - 4);
    assert_null(m->reason);
    free(v.data);
    /* v0: no rebalance timeout (default -1), no group instance id */
    v = vec_hex(G1 "00002710 0000 0008 636f6e73756d6572 00000000");
    m = decode_ok(a, true, KP_API_JoinGroup, 0, &v);
    assert_int_equal(m->rebalance_timeout_ms, -1);
    free(v.data);
    arena_free(a);
}

static void test_JoinGroupResponse_v0_v5(void **state) {
    (void)state;
    kp_JoinGroupResponse_t m;
    kp_JoinGroupResponse_JoinGroupResponseMember_t mem;
    kp_init_JoinGroupResponse(&m);
    kp_init_JoinGroupResponse_JoinGroupResponseMember(&mem);
    assert_int_equal(m.generation_id, -1);
    static const uint8_t md[] = {0, 1, 0, 0};
    m.generation_id = 1;
    m.protocol_name = "range";
    m.leader = "m1";
    m.member_id = "m1";
    mem.member_id = "m1";
    mem.metadata = (kp_bytes_t){md, 4};
    m.n_members = 1;
    m.members = &mem;
    const char *v5 = "00000000"        /* throttle_time_ms (v2+) */
                     "0000"            /* error_code */
                     "00000001"        /* generation_id */
                     "0005 72616e6765" /* protocol_name */
        M1                             /* leader */
            M1                         /* member_id */
                     "00000001"        /* members: 1 */
                     "  " M1 "ffff 00000004 00010000";
    check_encode(false, KP_API_JoinGroup, 5, &m, v5);
    check_body(false, KP_API_JoinGroup, 5, v5);
    const char *v0 = "0000 00000001 0005 72616e6765" M1 M1 "00000001" M1 "00000004 00010000";
    check_encode(false, KP_API_JoinGroup, 0, &m, v0);
    check_body(false, KP_API_JoinGroup, 0, v0);
    /* MEMBER_ID_REQUIRED carries the generated member id */
    check_body(false, KP_API_JoinGroup, 5,
               "00000000 004f ffffffff 0000 0000 0004 6d2d3432 00000000");
}

static void test_SyncGroup_v0_v3(void **state) {
    (void)state;
    const char *req_v3 = G1 "00000001" M1 "ffff" /* group_instance_id (v3+) */
                            "00000001" M1 "00000002 aabb";
    check_body(true, KP_API_SyncGroup, 3, req_v3);
    check_body(true, KP_API_SyncGroup, 0, G1 "00000001" M1 "00000000");
    kp_SyncGroupResponse_t r;
    kp_init_SyncGroupResponse(&r);
    static const uint8_t asg[] = {0xaa, 0xbb};
    r.assignment = (kp_bytes_t){asg, 2};
    check_encode(false, KP_API_SyncGroup, 3, &r, "00000000 0000 00000002 aabb");
    check_encode(false, KP_API_SyncGroup, 0, &r, "0000 00000002 aabb");
    check_body(false, KP_API_SyncGroup, 3, "00000000 001b 00000000");
    check_body(false, KP_API_SyncGroup, 0, "0000 00000002 aabb");
}

static void test_Heartbeat_v0_v3(void **state) {
    (void)state;
    check_body(true, KP_API_Heartbeat, 3, G1 "00000001" M1 "ffff");
    check_body(true, KP_API_Heartbeat, 0, G1 "00000001" M1);
    kp_HeartbeatResponse_t r;
    kp_init_HeartbeatResponse(&r);
    r.error_code = KP_ERR_REBALANCE_IN_PROGRESS;
    check_encode(false, KP_API_Heartbeat, 3, &r, "00000000 001b");
    check_encode(false, KP_API_Heartbeat, 0, &r, "001b");
    check_body(false, KP_API_Heartbeat, 3, "00000000 001b");
}

static void test_LeaveGroup_v1_single_v3_batch(void **state) {
    (void)state;
    check_body(true, KP_API_LeaveGroup, 1, G1 M1);
    const char *req_v3 = G1 "00000001" M1 "ffff";
    check_body(true, KP_API_LeaveGroup, 3, req_v3);
    arena_t *a = arena_new(0);
    vec_t v = vec_hex(G1 M1);
    kp_LeaveGroupRequest_t *m = decode_ok(a, true, KP_API_LeaveGroup, 1, &v);
    assert_string_equal(m->member_id, "m1");
    assert_int_equal(m->n_members, 0);
    free(v.data);
    v = vec_hex(req_v3);
    m = decode_ok(a, true, KP_API_LeaveGroup, 3, &v);
    assert_string_equal(m->member_id, ""); /* v0-2 only */
    assert_int_equal(m->n_members, 1);
    assert_string_equal(m->members[0].member_id, "m1");
    free(v.data);
    arena_free(a);

    kp_LeaveGroupResponse_t r;
    kp_LeaveGroupResponse_MemberResponse_t mr;
    kp_init_LeaveGroupResponse(&r);
    kp_init_LeaveGroupResponse_MemberResponse(&mr);
    mr.member_id = "m1";
    mr.group_instance_id = NULL;
    r.n_members = 1;
    r.members = &mr;
    check_encode(false, KP_API_LeaveGroup, 1, &r, "00000000 0000");
    check_encode(false, KP_API_LeaveGroup, 3, &r, "00000000 0000 00000001" M1 "ffff 0000");
    check_body(false, KP_API_LeaveGroup, 3, "00000000 0000 00000001" M1 "ffff 0019");
    check_body(false, KP_API_LeaveGroup, 0, "0000");
}

#define COMMIT_PARTITION_V7                                                                        \
    "00000000"         /* partition_index */                                                       \
    "000000000000000a" /* committed_offset 10 */                                                   \
    "ffffffff"         /* committed_leader_epoch (v6+) */                                          \
    "ffff"             /* committed_metadata null */

static void test_OffsetCommitRequest_v2_v5_v7(void **state) {
    (void)state;
    const char *v7 = G1 "00000001"                  /* generation_id (v1+) */
        M1                                          /* member_id (v1+) */
                        "ffff"                      /* group_instance_id (v7+) */
                        "00000001 0001 74 00000001" /* topics: "t", partitions: 1 */
        COMMIT_PARTITION_V7;
    check_body(true, KP_API_OffsetCommit, 7, v7);
    check_body(true, KP_API_OffsetCommit, 5,
               G1 "00000001" M1 "00000001 0001 74 00000001 00000000 000000000000000a 0000");
    const char *v2 = G1 "00000001" M1 "ffffffffffffffff" /* retention_time_ms (v2-4) */
                        "00000001 0001 74 00000001 00000000 000000000000000a 0000";
    check_body(true, KP_API_OffsetCommit, 2, v2);
    arena_t *a = arena_new(0);
    vec_t v = vec_hex(v7);
    kp_OffsetCommitRequest_t *m = decode_ok(a, true, KP_API_OffsetCommit, 7, &v);
    assert_int_equal(m->generation_id_or_member_epoch, 1);
    assert_true(m->retention_time_ms == -1);
    assert_true(m->topics[0].partitions[0].committed_offset == 10);
    assert_null(m->topics[0].partitions[0].committed_metadata);
    free(v.data);
    arena_free(a);
}

static void test_OffsetCommitResponse_v2_v5_v7(void **state) {
    (void)state;
    kp_OffsetCommitResponse_t r;
    kp_OffsetCommitResponse_OffsetCommitResponseTopic_t t;
    kp_OffsetCommitResponse_OffsetCommitResponsePartition_t p;
    kp_init_OffsetCommitResponse(&r);
    kp_init_OffsetCommitResponse_OffsetCommitResponseTopic(&t);
    kp_init_OffsetCommitResponse_OffsetCommitResponsePartition(&p);
    p.error_code = KP_ERR_ILLEGAL_GENERATION;
    t.name = "t";
    t.n_partitions = 1;
    t.partitions = &p;
    r.n_topics = 1;
    r.topics = &t;
    check_encode(false, KP_API_OffsetCommit, 7, &r,
                 "00000000 00000001 0001 74 00000001 00000000 0016");
    check_encode(false, KP_API_OffsetCommit, 5, &r,
                 "00000000 00000001 0001 74 00000001 00000000 0016");
    check_encode(false, KP_API_OffsetCommit, 2, &r, "00000001 0001 74 00000001 00000000 0016");
    check_body(false, KP_API_OffsetCommit, 7, "00000000 00000001 0001 74 00000001 00000000 0016");
}

static void test_OffsetFetchRequest_v1_v4_v5_v6(void **state) {
    (void)state;
    const char *req = G1 "00000001 0001 74 00000001 00000000";
    check_body(true, KP_API_OffsetFetch, 1, req);
    check_body(true, KP_API_OffsetFetch, 4, req);
    check_body(true, KP_API_OffsetFetch, 5, req);
    check_body(true, KP_API_OffsetFetch, 5, G1 "ffffffff"); /* null topics = all (v2+) */
    /* v6 flexible: compact strings/arrays and tag sections */
    check_body(true, KP_API_OffsetFetch, 6, "03 6731  02  02 74 02 00000000 00  00");
    arena_t *a = arena_new(0);
    vec_t v = vec_hex(G1 "ffffffff");
    kp_rd_t rd;
    void *m;
    kp_rd_init(&rd, v.data, v.len, a);
    assert_int_not_equal(kp_decode_request_body(&rd, KP_API_OffsetFetch, 1, &m), 0);
    free(v.data);
    arena_free(a);
}

static void test_OffsetFetchResponse_v1_v4_v5(void **state) {
    (void)state;
    kp_OffsetFetchResponse_t r;
    kp_OffsetFetchResponse_OffsetFetchResponseTopic_t t;
    kp_OffsetFetchResponse_OffsetFetchResponsePartition_t p;
    kp_init_OffsetFetchResponse(&r);
    kp_init_OffsetFetchResponse_OffsetFetchResponseTopic(&t);
    kp_init_OffsetFetchResponse_OffsetFetchResponsePartition(&p);
    assert_int_equal(p.committed_leader_epoch, -1);
    p.committed_offset = 10;
    t.name = "t";
    t.n_partitions = 1;
    t.partitions = &p;
    r.n_topics = 1;
    r.topics = &t;
    const char *v5 = "00000000" /* throttle_time_ms (v3+) */
                     "00000001 0001 74 00000001"
                     "  00000000"         /* partition_index */
                     "  000000000000000a" /* committed_offset */
                     "  ffffffff"         /* committed_leader_epoch (v5-7) */
                     "  0000"             /* metadata "" */
                     "  0000"             /* error_code */
                     "0000";              /* error_code (v2+) */
    check_encode(false, KP_API_OffsetFetch, 5, &r, v5);
    check_body(false, KP_API_OffsetFetch, 5, v5);
    const char *v4 = "00000000 00000001 0001 74 00000001 00000000 000000000000000a 0000 0000 0000";
    check_encode(false, KP_API_OffsetFetch, 4, &r, v4);
    check_body(false, KP_API_OffsetFetch, 4, v4);
    check_encode(false, KP_API_OffsetFetch, 1, &r,
                 "00000001 0001 74 00000001 00000000 000000000000000a 0000 0000");
}

static void test_DescribeGroups_v0_v4(void **state) {
    (void)state;
    check_body(true, KP_API_DescribeGroups, 0, "00000001" G1);
    check_body(true, KP_API_DescribeGroups, 4, "00000001" G1 "01");
    const char *v4 = "00000000"                      /* throttle_time_ms */
                     "00000001"                      /* groups: 1 */
                     "  0000" G1                     /* error, group_id */
                     "  0006 537461626c65"           /* "Stable" */
                     "  0008 636f6e73756d6572"       /* "consumer" */
                     "  0005 72616e6765"             /* "range" */
                     "  00000001"                    /* members: 1 */
                     "    " M1 "ffff"                /* member_id, group_instance_id (v4+) */
                     "    0007 72646b61666b61"       /* client_id "rdkafka" */
                     "    000a 2f3132372e302e302e31" /* client_host "/127.0.0.1" */
                     "    00000000"                  /* member_metadata empty */
                     "    00000002 aabb"             /* member_assignment */
                     "  80000000";                   /* authorized_operations (v3+) */
    check_body(false, KP_API_DescribeGroups, 4, v4);
    kp_DescribeGroupsResponse_t r;
    kp_DescribeGroupsResponse_DescribedGroup_t g;
    kp_DescribeGroupsResponse_DescribedGroupMember_t mem;
    kp_init_DescribeGroupsResponse(&r);
    kp_init_DescribeGroupsResponse_DescribedGroup(&g);
    kp_init_DescribeGroupsResponse_DescribedGroupMember(&mem);
    static const uint8_t asg[] = {0xaa, 0xbb};
    mem.member_id = "m1";
    mem.client_id = "rdkafka";
    mem.client_host = "/127.0.0.1";
    mem.member_assignment = (kp_bytes_t){asg, 2};
    g.group_id = "g1";
    g.group_state = "Stable";
    g.protocol_type = "consumer";
    g.protocol_data = "range";
    g.n_members = 1;
    g.members = &mem;
    r.n_groups = 1;
    r.groups = &g;
    check_encode(false, KP_API_DescribeGroups, 4, &r, v4);
    check_encode(false, KP_API_DescribeGroups, 0, &r,
                 "00000001 0000" G1 "0006 537461626c65 0008 636f6e73756d6572 0005 72616e6765"
                 "00000001" M1 "0007 72646b61666b61 000a 2f3132372e302e302e31 00000000"
                 "00000002 aabb");
}

static void test_ListGroups_v0_v2(void **state) {
    (void)state;
    check_body(true, KP_API_ListGroups, 0, "");
    check_body(true, KP_API_ListGroups, 2, "");
    kp_ListGroupsResponse_t r;
    kp_ListGroupsResponse_ListedGroup_t g;
    kp_init_ListGroupsResponse(&r);
    kp_init_ListGroupsResponse_ListedGroup(&g);
    g.group_id = "g1";
    g.protocol_type = "consumer";
    r.n_groups = 1;
    r.groups = &g;
    check_encode(false, KP_API_ListGroups, 2, &r,
                 "00000000 0000 00000001" G1 "0008 636f6e73756d6572");
    check_encode(false, KP_API_ListGroups, 0, &r, "0000 00000001" G1 "0008 636f6e73756d6572");
    check_body(false, KP_API_ListGroups, 2, "00000000 0000 00000001" G1 "0008 636f6e73756d6572");
}

static void test_InitProducerId_v0_v1_v2(void **state) {
    (void)state;
    const char *req = "ffff"      /* transactional_id null */
                      "0000ea60"; /* transaction_timeout_ms 60000 */
    check_body(true, KP_API_InitProducerId, 0, req);
    check_body(true, KP_API_InitProducerId, 1, req);
    check_body(true, KP_API_InitProducerId, 2, "00 0000ea60 00"); /* flexible */
    arena_t *a = arena_new(0);
    vec_t v = vec_hex(req);
    kp_InitProducerIdRequest_t *m = decode_ok(a, true, KP_API_InitProducerId, 1, &v);
    assert_null(m->transactional_id);
    assert_int_equal(m->transaction_timeout_ms, 60000);
    assert_true(m->producer_id == -1); /* v3+ field: default */
    assert_int_equal(m->producer_epoch, -1);
    free(v.data);
    arena_free(a);

    kp_InitProducerIdResponse_t r;
    kp_init_InitProducerIdResponse(&r);
    assert_true(r.producer_id == -1);
    r.producer_id = 4242;
    r.producer_epoch = 0;
    const char *resp = "00000000"         /* throttle_time_ms */
                       "0000"             /* error_code */
                       "0000000000001092" /* producer_id 4242 */
                       "0000";            /* producer_epoch */
    check_encode(false, KP_API_InitProducerId, 1, &r, resp);
    check_encode(false, KP_API_InitProducerId, 0, &r, resp);
    check_body(false, KP_API_InitProducerId, 1, resp);
    check_encode(false, KP_API_InitProducerId, 2, &r, "00000000 0000 0000000000001092 0000 00");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_FindCoordinator_v0_v2),
        cmocka_unit_test(test_JoinGroupRequest_v0_v5),
        cmocka_unit_test(test_JoinGroupResponse_v0_v5),
        cmocka_unit_test(test_SyncGroup_v0_v3),
        cmocka_unit_test(test_Heartbeat_v0_v3),
        cmocka_unit_test(test_LeaveGroup_v1_single_v3_batch),
        cmocka_unit_test(test_OffsetCommitRequest_v2_v5_v7),
        cmocka_unit_test(test_OffsetCommitResponse_v2_v5_v7),
        cmocka_unit_test(test_OffsetFetchRequest_v1_v4_v5_v6),
        cmocka_unit_test(test_OffsetFetchResponse_v1_v4_v5),
        cmocka_unit_test(test_DescribeGroups_v0_v4),
        cmocka_unit_test(test_ListGroups_v0_v2),
        cmocka_unit_test(test_InitProducerId_v0_v1_v2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
