/*
 * Unit tests for group/coordinator.c: the group state machine on a fake clock and store.
 * The fake store completes appends at once (inside append) unless e->defer is set; then
 * each completion waits in e->waits until the test calls complete() (replication done,
 * failed or timed out).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strata/group.h"

/* ---------------------------------------------------------------- fixtures */

typedef struct fake_wait {
    gc_store_cb done;
    void *arg;
} fake_wait_t;

typedef struct env {
    int64_t now;
    int64_t wake;
    buf_t log[50]; /* every batch appended, per __consumer_offsets partition */
    int fail_store;
    bool defer;            /* completions wait for complete() */
    fake_wait_t waits[16]; /* deferred completions, in append order */
    int nwaits;
    int appends; /* appends someone waits for */
    gc_t *gc;
} env_t;

static int64_t fake_now(void *ctx) {
    return ((env_t *)ctx)->now;
}

static void fake_wake(void *ctx, int64_t d) {
    ((env_t *)ctx)->wake = d;
}

static int fake_append(void *ctx, int32_t partition, uint8_t *batch, size_t len, gc_store_cb done,
                       void *arg) {
    env_t *e = ctx;
    if (e->fail_store) {
        return e->fail_store;
    }
    buf_append(&e->log[partition], batch, len);
    if (!done) {
        return 0;
    }
    e->appends++;
    if (!e->defer) {
        done(arg, KP_ERR_NONE); /* a one-replica ISR: complete inside append */
        return 0;
    }
    assert_true(e->nwaits < 16);
    e->waits[e->nwaits].done = done;
    e->waits[e->nwaits].arg = arg;
    e->nwaits++;
    return 0;
}

/* Completes the i-th deferred append with err. */
static void complete(env_t *e, int i, kp_err_t err) {
    assert_true(i < e->nwaits);
    fake_wait_t w = e->waits[i];
    memmove(&e->waits[i], &e->waits[i + 1], sizeof(w) * (size_t)(e->nwaits - i - 1));
    e->nwaits--;
    w.done(w.arg, err);
}

typedef struct commit_out {
    int called;
    kp_err_t error; /* of the first partition */
} commit_out_t;

static void on_commit(void *arg, gc_commit_partition_t *parts, size_t n) {
    commit_out_t *o = arg;
    o->called++;
    o->error = n > 0 ? parts[0].error : KP_ERR_NONE;
}

/* A commit answered before gc_commit returns (immediate store or an error). */
static void commit_now(gc_t *gc, const char *group, int32_t gen, const char *member,
                       const char *instance, gc_commit_partition_t *parts, size_t n) {
    commit_out_t o;
    memset(&o, 0, sizeof(o));
    gc_commit(gc, group, gen, member, instance, parts, n, on_commit, &o);
    assert_int_equal(o.called, 1);
}

static gc_t *make_gc(env_t *e, int32_t delay_ms) {
    gc_config_t cfg;
    gc_config_default(&cfg);
    cfg.group_initial_rebalance_delay_ms = delay_ms;
    gc_clock_t clk = {fake_now, fake_now, fake_wake, e};
    gc_store_t st = {fake_append, e};
    gc_t *gc = gc_new(&cfg, &clk, &st);
    for (int p = 0; p < 50; p++) {
        gc_load_begin(gc, p);
        gc_load_done(gc, p);
    }
    return gc;
}

static int setup(void **state) {
    env_t *e = calloc(1, sizeof(*e));
    e->now = 1000000;
    e->gc = make_gc(e, 0);
    *state = e;
    return 0;
}

static int teardown(void **state) {
    env_t *e = *state;
    gc_free(e->gc);
    for (int i = 0; i < 50; i++) {
        buf_destroy(&e->log[i]);
    }
    free(e);
    return 0;
}

static void advance(env_t *e, int64_t ms) {
    e->now += ms;
    if (gc_next_deadline(e->gc) <= e->now) {
        gc_tick(e->gc);
    }
}

/* A captured JoinGroup answer. */
typedef struct join_out {
    int called;
    kp_err_t error;
    int32_t generation;
    char member_id[256];
    char leader[256];
    char protocol[64];
    size_t nmembers;
} join_out_t;

static void on_join(void *arg, const gc_join_result_t *r) {
    join_out_t *o = arg;
    o->called++;
    o->error = r->error;
    o->generation = r->generation_id;
    snprintf(o->member_id, sizeof(o->member_id), "%s", r->member_id);
    snprintf(o->leader, sizeof(o->leader), "%s", r->leader);
    snprintf(o->protocol, sizeof(o->protocol), "%s", r->protocol_name ? r->protocol_name : "");
    o->nmembers = r->nmembers;
}

typedef struct sync_out {
    int called;
    kp_err_t error;
    char assignment[64];
} sync_out_t;

static void on_sync(void *arg, const gc_sync_result_t *r) {
    sync_out_t *o = arg;
    o->called++;
    o->error = r->error;
    snprintf(o->assignment, sizeof(o->assignment), "%.*s", (int)r->len,
             r->assignment ? (const char *)r->assignment : "");
}

static const gc_protocol_t RANGE[] = {{"range", (const uint8_t *)"meta-a", 6},
                                      {"roundrobin", (const uint8_t *)"meta-b", 6}};

static void join(env_t *e, const char *group, const char *member, const char *instance,
                 int16_t version, join_out_t *out) {
    memset(out, 0, sizeof(*out));
    gc_join_req_t r = {.group_id = group,
                       .member_id = member,
                       .group_instance_id = instance,
                       .protocol_type = "consumer",
                       .protocols = RANGE,
                       .nprotocols = 2,
                       .session_timeout_ms = 10000,
                       .rebalance_timeout_ms = 30000,
                       .client_id = "rdkafka",
                       .client_host = "/127.0.0.1",
                       .version = version};
    gc_join(e->gc, &r, on_join, out);
}

static void sync_(env_t *e, const char *group, int32_t gen, const char *member,
                  const gc_assignment_t *a, size_t n, sync_out_t *out) {
    memset(out, 0, sizeof(*out));
    gc_sync_req_t r = {.group_id = group,
                       .generation_id = gen,
                       .member_id = member,
                       .assignments = a,
                       .nassignments = n};
    gc_sync(e->gc, &r, on_sync, out);
}

/* Joins a new member through MEMBER_ID_REQUIRED; returns its id in out->member_id. */
static void join_new(env_t *e, const char *group, join_out_t *out) {
    join(e, group, "", NULL, 5, out);
    assert_int_equal(out->called, 1);
    assert_int_equal(out->error, KP_ERR_MEMBER_ID_REQUIRED);
    assert_true(strlen(out->member_id) > 8);
    char id[256];
    snprintf(id, sizeof(id), "%s", out->member_id);
    join(e, group, id, NULL, 5, out);
    snprintf(out->member_id, sizeof(out->member_id), "%s", id);
}

typedef struct desc_out {
    gc_state_t state;
    size_t nmembers;
    char protocol[64];
    kp_err_t error;
} desc_out_t;

static void on_desc(void *arg, const gc_group_desc_t *d) {
    desc_out_t *o = arg;
    o->state = d->state;
    o->nmembers = d->nmembers;
    o->error = d->error;
    snprintf(o->protocol, sizeof(o->protocol), "%s", d->protocol_name);
}

static gc_state_t state_of(env_t *e, const char *group) {
    desc_out_t d;
    gc_describe(e->gc, group, on_desc, &d);
    return d.state;
}

/* Builds a stable 1-member group "g"; a is the member. */
static void stable_one(env_t *e, join_out_t *a) {
    join_new(e, "g", a);
    assert_int_equal(a->called, 1); /* no initial delay in these fixtures */
    assert_int_equal(a->error, KP_ERR_NONE);
    assert_int_equal(a->generation, 1);
    assert_string_equal(a->leader, a->member_id);
    assert_int_equal(a->nmembers, 1);
    assert_string_equal(a->protocol, "range");
    gc_assignment_t asg = {a->member_id, (const uint8_t *)"A0", 2};
    sync_out_t s;
    sync_(e, "g", 1, a->member_id, &asg, 1, &s);
    assert_int_equal(s.called, 1);
    assert_int_equal(s.error, KP_ERR_NONE);
    assert_string_equal(s.assignment, "A0");
    assert_int_equal(state_of(e, "g"), GC_STABLE);
}

/* ---------------------------------------------------------------- tests */

static void test_gc_java_string_hash_matches_java(void **state) {
    env_t *e = *state;
    assert_int_equal(gc_java_string_hash(""), 0);
    assert_int_equal(gc_java_string_hash("abc"), 96354);
    assert_int_equal(gc_java_string_hash("hello"), 99162322);
    assert_int_equal(gc_java_string_hash("Aa"), gc_java_string_hash("BB"));
    assert_int_equal(gc_java_string_hash("polygenelubricants"), INT32_MIN);
    /* U+1F600 is the surrogate pair D83D DE00 in UTF-16 */
    assert_int_equal(gc_java_string_hash("\xf0\x9f\x98\x80"), 0xD83D * 31 + 0xDE00);
    /* U+00E9 is one UTF-16 unit */
    assert_int_equal(gc_java_string_hash("\xc3\xa9"), 0xE9);
    assert_int_equal(gc_partition_for(e->gc, "polygenelubricants"), 0); /* Utils.abs(MIN) = 0 */
    assert_int_equal(gc_partition_for(e->gc, "hello"), 99162322 % 50);
    assert_int_equal(gc_partition_for(e->gc, "abc"), 96354 % 50);
}

static void test_gc_join_member_id_required_then_stable(void **state) {
    env_t *e = *state;
    join_out_t a;
    stable_one(e, &a);
    assert_int_equal(gc_heartbeat(e->gc, "g", 1, a.member_id, NULL), KP_ERR_NONE);
    /* the group metadata record was written to the group's partition */
    assert_true(e->log[gc_partition_for(e->gc, "g")].len > 0);
}

static void test_gc_join_v3_gets_member_id_directly(void **state) {
    env_t *e = *state;
    join_out_t a;
    join(e, "g", "", NULL, 3, &a);
    assert_int_equal(a.called, 1);
    assert_int_equal(a.error, KP_ERR_NONE);
    assert_int_equal(a.generation, 1);
    assert_true(strncmp(a.member_id, "rdkafka-", 8) == 0);
}

static void test_gc_second_member_triggers_rebalance(void **state) {
    env_t *e = *state;
    join_out_t a, b;
    stable_one(e, &a);
    join_new(e, "g", &b);
    assert_int_equal(b.called, 0); /* waiting for a to rejoin */
    assert_int_equal(state_of(e, "g"), GC_PREPARING_REBALANCE);
    assert_int_equal(gc_heartbeat(e->gc, "g", 1, a.member_id, NULL), KP_ERR_REBALANCE_IN_PROGRESS);
    char aid[256];
    snprintf(aid, sizeof(aid), "%s", a.member_id);
    join(e, "g", aid, NULL, 5, &a);
    assert_int_equal(a.called, 1);
    assert_int_equal(b.called, 1);
    assert_int_equal(a.generation, 2);
    assert_int_equal(b.generation, 2);
    assert_string_equal(a.leader, aid);
    assert_string_equal(b.leader, aid);
    assert_int_equal(a.nmembers, 2); /* only the leader sees the members */
    assert_int_equal(b.nmembers, 0);
    /* follower syncs first and waits for the leader's assignment */
    sync_out_t sa, sb;
    sync_(e, "g", 2, b.member_id, NULL, 0, &sb);
    assert_int_equal(sb.called, 0);
    assert_int_equal(gc_heartbeat(e->gc, "g", 2, b.member_id, NULL), KP_ERR_NONE);
    gc_assignment_t asg[] = {{aid, (const uint8_t *)"PA", 2},
                             {b.member_id, (const uint8_t *)"PB", 2}};
    sync_(e, "g", 2, aid, asg, 2, &sa);
    assert_int_equal(sa.called, 1);
    assert_int_equal(sb.called, 1);
    assert_string_equal(sa.assignment, "PA");
    assert_string_equal(sb.assignment, "PB");
    assert_int_equal(state_of(e, "g"), GC_STABLE);
    /* a stable follower rejoining with the same metadata gets the current generation */
    join_out_t b2;
    join(e, "g", b.member_id, NULL, 5, &b2);
    assert_int_equal(b2.called, 1);
    assert_int_equal(b2.generation, 2);
    assert_int_equal(state_of(e, "g"), GC_STABLE);
}

static void test_gc_heartbeat_errors(void **state) {
    env_t *e = *state;
    join_out_t a;
    stable_one(e, &a);
    assert_int_equal(gc_heartbeat(e->gc, "g", 1, "nobody", NULL), KP_ERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(gc_heartbeat(e->gc, "g", 7, a.member_id, NULL), KP_ERR_ILLEGAL_GENERATION);
    assert_int_equal(gc_heartbeat(e->gc, "other", 1, a.member_id, NULL), KP_ERR_UNKNOWN_MEMBER_ID);
    sync_out_t s;
    sync_(e, "g", 5, a.member_id, NULL, 0, &s);
    assert_int_equal(s.error, KP_ERR_ILLEGAL_GENERATION);
    sync_(e, "g", 1, "nobody", NULL, 0, &s);
    assert_int_equal(s.error, KP_ERR_UNKNOWN_MEMBER_ID);
    join_out_t x;
    join(e, "g", "nobody", NULL, 5, &x);
    assert_int_equal(x.error, KP_ERR_UNKNOWN_MEMBER_ID);
    join(e, "fresh", "made-up", NULL, 5, &x);
    assert_int_equal(x.error, KP_ERR_UNKNOWN_MEMBER_ID);
    /* the group keeps serving its member */
    assert_int_equal(gc_heartbeat(e->gc, "g", 1, a.member_id, NULL), KP_ERR_NONE);
}

static void test_gc_session_timeout_removes_member(void **state) {
    env_t *e = *state;
    join_out_t a, b;
    stable_one(e, &a);
    join_new(e, "g", &b);
    char aid[256];
    snprintf(aid, sizeof(aid), "%s", a.member_id);
    join(e, "g", aid, NULL, 5, &a);
    gc_assignment_t asg[] = {{aid, (const uint8_t *)"PA", 2},
                             {b.member_id, (const uint8_t *)"PB", 2}};
    sync_out_t sa, sb;
    sync_(e, "g", 2, b.member_id, NULL, 0, &sb);
    sync_(e, "g", 2, aid, asg, 2, &sa);
    assert_int_equal(state_of(e, "g"), GC_STABLE);
    /* a keeps heartbeating, b goes silent */
    for (int i = 0; i < 4; i++) {
        advance(e, 3000);
        kp_err_t err = gc_heartbeat(e->gc, "g", 2, aid, NULL);
        if (i < 3) {
            assert_int_equal(err, KP_ERR_NONE);
        } else {
            assert_int_equal(err, KP_ERR_REBALANCE_IN_PROGRESS); /* b expired at 10 s */
        }
    }
    assert_int_equal(gc_heartbeat(e->gc, "g", 2, b.member_id, NULL), KP_ERR_UNKNOWN_MEMBER_ID);
    join(e, "g", aid, NULL, 5, &a);
    assert_int_equal(a.called, 1);
    assert_int_equal(a.generation, 3);
    assert_int_equal(a.nmembers, 1);
}

static void test_gc_rebalance_timeout_drops_members_not_rejoined(void **state) {
    env_t *e = *state;
    join_out_t a, b;
    stable_one(e, &a);
    join_new(e, "g", &b); /* rebalance starts; a never rejoins but keeps heartbeating */
    for (int i = 0; i < 9; i++) {
        advance(e, 3000);
        assert_int_equal(gc_heartbeat(e->gc, "g", 1, a.member_id, NULL),
                         KP_ERR_REBALANCE_IN_PROGRESS);
    }
    assert_int_equal(b.called, 0);
    advance(e, 3000); /* 30 s rebalance timeout */
    assert_int_equal(b.called, 1);
    assert_int_equal(b.error, KP_ERR_NONE);
    assert_int_equal(b.generation, 2);
    assert_string_equal(b.leader, b.member_id);
    assert_int_equal(gc_heartbeat(e->gc, "g", 2, a.member_id, NULL), KP_ERR_UNKNOWN_MEMBER_ID);
}

static void test_gc_initial_rebalance_delay_collects_members(void **state) {
    env_t *e = *state;
    gc_free(e->gc);
    e->gc = make_gc(e, 3000);
    join_out_t a, b, c;
    join_new(e, "g", &a);
    assert_int_equal(a.called, 0);
    advance(e, 2000);
    join_new(e, "g", &b); /* a new member during the delay extends it */
    advance(e, 1000);
    assert_int_equal(a.called, 0);
    join_new(e, "g", &c);
    advance(e, 2999);
    assert_int_equal(a.called, 0);
    advance(e, 1);
    advance(e, 3000); /* no new member in the last window: complete */
    assert_int_equal(a.called, 1);
    assert_int_equal(b.called, 1);
    assert_int_equal(c.called, 1);
    assert_int_equal(a.generation, 1);
    assert_int_equal(a.nmembers, 3);
}

static void test_gc_static_member_rejoin_without_rebalance(void **state) {
    env_t *e = *state;
    join_out_t a, s1;
    stable_one(e, &a);
    /* a static member joins directly (no MEMBER_ID_REQUIRED for static members) */
    join(e, "g", "", "inst-1", 5, &s1);
    assert_int_equal(s1.called, 0);
    char aid[256];
    snprintf(aid, sizeof(aid), "%s", a.member_id);
    join(e, "g", aid, NULL, 5, &a);
    assert_int_equal(s1.called, 1);
    assert_int_equal(s1.generation, 2);
    assert_true(strncmp(s1.member_id, "inst-1-", 7) == 0);
    gc_assignment_t asg[] = {{aid, (const uint8_t *)"PA", 2},
                             {s1.member_id, (const uint8_t *)"PS", 2}};
    sync_out_t sa, ss;
    sync_(e, "g", 2, s1.member_id, NULL, 0, &ss);
    sync_(e, "g", 2, aid, asg, 2, &sa);
    assert_string_equal(ss.assignment, "PS");
    /* the static member restarts: new member id, same generation, no rebalance */
    char old[256];
    snprintf(old, sizeof(old), "%s", s1.member_id);
    join_out_t s2;
    join(e, "g", "", "inst-1", 5, &s2);
    assert_int_equal(s2.called, 1);
    assert_int_equal(s2.error, KP_ERR_NONE);
    assert_int_equal(s2.generation, 2);
    assert_string_not_equal(s2.member_id, old);
    assert_int_equal(state_of(e, "g"), GC_STABLE);
    sync_(e, "g", 2, s2.member_id, NULL, 0, &ss);
    assert_string_equal(ss.assignment, "PS");
    /* the old incarnation is fenced */
    assert_int_equal(gc_heartbeat(e->gc, "g", 2, old, "inst-1"), KP_ERR_FENCED_INSTANCE_ID);
    assert_int_equal(gc_heartbeat(e->gc, "g", 2, s2.member_id, "inst-1"), KP_ERR_NONE);
    /* static leave by instance id */
    gc_leave_member_t lm = {"", "inst-1", 0};
    assert_int_equal(gc_leave(e->gc, "g", &lm, 1), KP_ERR_NONE);
    assert_int_equal(lm.error, KP_ERR_NONE);
    assert_int_equal(state_of(e, "g"), GC_PREPARING_REBALANCE);
}

static void test_gc_inconsistent_protocol_and_bad_joins(void **state) {
    env_t *e = *state;
    join_out_t a;
    stable_one(e, &a);
    gc_protocol_t rr = {"RoundRobinAssigner", (const uint8_t *)"x", 1};
    join_out_t o;
    gc_join_req_t r = {.group_id = "g",
                       .member_id = "",
                       .protocol_type = "consumer",
                       .protocols = &rr,
                       .nprotocols = 1,
                       .session_timeout_ms = 10000,
                       .rebalance_timeout_ms = 10000,
                       .client_id = "kafkajs",
                       .version = 5};
    memset(&o, 0, sizeof(o));
    gc_join(e->gc, &r, on_join, &o);
    assert_int_equal(o.error, KP_ERR_INCONSISTENT_GROUP_PROTOCOL);
    r.protocols = RANGE;
    r.nprotocols = 2;
    r.protocol_type = "connect";
    gc_join(e->gc, &r, on_join, &o);
    assert_int_equal(o.error, KP_ERR_INCONSISTENT_GROUP_PROTOCOL);
    r.protocol_type = "consumer";
    r.nprotocols = 0; /* no protocols at all, even for a fresh group */
    r.group_id = "fresh";
    gc_join(e->gc, &r, on_join, &o);
    assert_int_equal(o.error, KP_ERR_INCONSISTENT_GROUP_PROTOCOL);
    r.nprotocols = 2;
    r.session_timeout_ms = 10;
    gc_join(e->gc, &r, on_join, &o);
    assert_int_equal(o.error, KP_ERR_INVALID_SESSION_TIMEOUT);
    r.session_timeout_ms = 10000;
    r.group_id = "";
    gc_join(e->gc, &r, on_join, &o);
    assert_int_equal(o.error, KP_ERR_INVALID_GROUP_ID);
    /* oversized metadata */
    size_t big = (1 << 20) + 1;
    uint8_t *blob = calloc(1, big);
    gc_protocol_t huge = {"range", blob, big};
    r.group_id = "g";
    r.protocols = &huge;
    r.nprotocols = 1;
    gc_join(e->gc, &r, on_join, &o);
    assert_int_equal(o.error, KP_ERR_INVALID_REQUEST);
    free(blob);
    /* the group still serves its member, untouched */
    assert_int_equal(state_of(e, "g"), GC_STABLE);
    assert_int_equal(gc_heartbeat(e->gc, "g", 1, a.member_id, NULL), KP_ERR_NONE);
}

static void test_gc_leave_triggers_rebalance_and_empty(void **state) {
    env_t *e = *state;
    join_out_t a;
    stable_one(e, &a);
    gc_leave_member_t lm[] = {{"ghost", NULL, 0}, {a.member_id, NULL, 0}};
    assert_int_equal(gc_leave(e->gc, "g", lm, 2), KP_ERR_NONE);
    assert_int_equal(lm[0].error, KP_ERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(lm[1].error, KP_ERR_NONE);
    assert_int_equal(state_of(e, "g"), GC_EMPTY);
    gc_leave_member_t none = {"x", NULL, 0};
    assert_int_equal(gc_leave(e->gc, "missing", &none, 1), KP_ERR_NONE);
    assert_int_equal(none.error, KP_ERR_UNKNOWN_MEMBER_ID);
}

static void test_gc_leader_leaves_new_leader_chosen(void **state) {
    env_t *e = *state;
    join_out_t a, b;
    stable_one(e, &a);
    join_new(e, "g", &b);
    char aid[256];
    snprintf(aid, sizeof(aid), "%s", a.member_id);
    join(e, "g", aid, NULL, 5, &a);
    sync_out_t sa, sb;
    gc_assignment_t asg[] = {{aid, (const uint8_t *)"PA", 2},
                             {b.member_id, (const uint8_t *)"PB", 2}};
    sync_(e, "g", 2, b.member_id, NULL, 0, &sb);
    sync_(e, "g", 2, aid, asg, 2, &sa);
    gc_leave_member_t lm = {aid, NULL, 0};
    gc_leave(e->gc, "g", &lm, 1);
    char bid[256];
    snprintf(bid, sizeof(bid), "%s", b.member_id);
    join(e, "g", bid, NULL, 5, &b);
    assert_int_equal(b.called, 1);
    assert_int_equal(b.generation, 3);
    assert_string_equal(b.leader, bid);
    assert_int_equal(b.nmembers, 1);
}

static void test_gc_commit_and_fetch(void **state) {
    env_t *e = *state;
    join_out_t a;
    stable_one(e, &a);
    gc_commit_partition_t parts[] = {{"t", 0, 42, 3, "m", 0},
                                     {"t", 1, 7, -1, NULL, 0},
                                     {"gone", 0, 1, -1, NULL, KP_ERR_UNKNOWN_TOPIC_OR_PARTITION}};
    commit_now(e->gc, "g", 1, a.member_id, NULL, parts, 3);
    assert_int_equal(parts[0].error, KP_ERR_NONE);
    assert_int_equal(parts[1].error, KP_ERR_NONE);
    assert_int_equal(parts[2].error, KP_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    gc_offset_t o;
    assert_int_equal(gc_fetch_offset(e->gc, "g", "t", 0, &o), KP_ERR_NONE);
    assert_int_equal(o.offset, 42);
    assert_int_equal(o.leader_epoch, 3);
    assert_string_equal(o.metadata, "m");
    assert_int_equal(gc_fetch_offset(e->gc, "g", "t", 2, &o), KP_ERR_NONE);
    assert_int_equal(o.offset, -1);
    assert_int_equal(gc_fetch_offset(e->gc, "nogroup", "t", 0, &o), KP_ERR_NONE);
    assert_int_equal(o.offset, -1);

    gc_commit_partition_t p1 = {"t", 0, 50, -1, NULL, 0};
    commit_now(e->gc, "g", 9, a.member_id, NULL, &p1, 1);
    assert_int_equal(p1.error, KP_ERR_ILLEGAL_GENERATION);
    p1.error = 0;
    commit_now(e->gc, "g", 1, "stranger", NULL, &p1, 1);
    assert_int_equal(p1.error, KP_ERR_UNKNOWN_MEMBER_ID);
    p1.error = 0;
    commit_now(e->gc, "g", -1, "", NULL, &p1, 1); /* admin commit into an active group */
    assert_int_equal(p1.error, KP_ERR_UNKNOWN_MEMBER_ID);
    p1.error = 0;
    commit_now(e->gc, "new-group", 3, "m", NULL, &p1, 1);
    assert_int_equal(p1.error, KP_ERR_ILLEGAL_GENERATION);
    p1.error = 0;
    commit_now(e->gc, "simple", -1, "", NULL, &p1, 1); /* simple consumer group */
    assert_int_equal(p1.error, KP_ERR_NONE);
    assert_int_equal(gc_fetch_offset(e->gc, "simple", "t", 0, &o), KP_ERR_NONE);
    assert_int_equal(o.offset, 50);
    char meta[5000];
    memset(meta, 'x', sizeof(meta) - 1);
    meta[sizeof(meta) - 1] = 0;
    gc_commit_partition_t big = {"t", 0, 1, -1, meta, 0};
    commit_now(e->gc, "g", 1, a.member_id, NULL, &big, 1);
    assert_int_equal(big.error, KP_ERR_OFFSET_METADATA_TOO_LARGE);
    /* a failing store surfaces as a coordinator error and nothing changes */
    e->fail_store = KP_ERR_NOT_ENOUGH_REPLICAS;
    p1.error = 0;
    p1.offset = 99;
    commit_now(e->gc, "g", 1, a.member_id, NULL, &p1, 1);
    assert_int_equal(p1.error, KP_ERR_COORDINATOR_NOT_AVAILABLE);
    e->fail_store = 0;
    assert_int_equal(gc_fetch_offset(e->gc, "g", "t", 0, &o), KP_ERR_NONE);
    assert_int_equal(o.offset, 42);
}

static void test_gc_commit_during_completing_rebalance(void **state) {
    env_t *e = *state;
    join_out_t a, b;
    stable_one(e, &a);
    join_new(e, "g", &b);
    char aid[256];
    snprintf(aid, sizeof(aid), "%s", a.member_id);
    join(e, "g", aid, NULL, 5, &a);
    assert_int_equal(state_of(e, "g"), GC_COMPLETING_REBALANCE);
    gc_commit_partition_t p = {"t", 0, 1, -1, NULL, 0};
    commit_now(e->gc, "g", 2, aid, NULL, &p, 1);
    assert_int_equal(p.error, KP_ERR_REBALANCE_IN_PROGRESS);
}

typedef struct offsets_seen {
    int n;
    char line[8][64];
} offsets_seen_t;

static void on_offset(void *arg, const char *topic, int32_t partition, const gc_offset_t *o) {
    offsets_seen_t *s = arg;
    if (s->n < 8) {
        snprintf(s->line[s->n], sizeof(s->line[0]), "%s-%d=%lld", topic, (int)partition,
                 (long long)o->offset);
    }
    s->n++;
}

static void test_gc_reload_from_records(void **state) {
    env_t *e = *state;
    join_out_t a;
    stable_one(e, &a);
    gc_commit_partition_t parts[] = {{"t", 1, 11, -1, NULL, 0}, {"t", 0, 10, -1, NULL, 0}};
    commit_now(e->gc, "g", 1, a.member_id, NULL, parts, 2);
    parts[0].offset = 12;
    parts[0].error = 0;
    commit_now(e->gc, "g", 1, a.member_id, NULL, parts, 1);
    gc_commit_partition_t sp = {"s", 0, 5, -1, NULL, 0};
    commit_now(e->gc, "simple", -1, "", NULL, &sp, 1);
    assert_int_equal(gc_delete_group(e->gc, "simple"), KP_ERR_NONE);

    /* a new coordinator (a restarted broker) loads the partition */
    gc_config_t cfg;
    gc_config_default(&cfg);
    gc_clock_t clk = {fake_now, fake_now, fake_wake, e};
    gc_store_t st = {fake_append, e};
    gc_t *gc2 = gc_new(&cfg, &clk, &st);
    int32_t p = gc_partition_for(gc2, "g");
    int32_t ps = gc_partition_for(gc2, "simple");
    assert_int_equal(gc_check_coordinator(gc2, "g"), KP_ERR_NOT_COORDINATOR);
    gc_load_begin(gc2, p);
    gc_load_begin(gc2, ps);
    assert_int_equal(gc_check_coordinator(gc2, "g"), KP_ERR_COORDINATOR_LOAD_IN_PROGRESS);
    assert_int_equal(gc_load_batches(gc2, p, e->log[p].data, e->log[p].len), 0);
    assert_int_equal(gc_load_batches(gc2, ps, e->log[ps].data, e->log[ps].len), 0);
    gc_load_done(gc2, p);
    gc_load_done(gc2, ps);
    offsets_seen_t seen;
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(gc_fetch_all_offsets(gc2, "g", on_offset, &seen), KP_ERR_NONE);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.line[0], "t-0=10");
    assert_string_equal(seen.line[1], "t-1=12");
    gc_offset_t o;
    gc_fetch_offset(gc2, "simple", "s", 0, &o);
    assert_int_equal(o.offset, -1); /* deleted group stays deleted */
    desc_out_t d;
    gc_describe(gc2, "g", on_desc, &d);
    assert_int_equal(d.state, GC_STABLE);
    assert_int_equal(d.nmembers, 1);
    assert_string_equal(d.protocol, "range");
    /* the loaded member keeps its generation, and must heartbeat within its session */
    assert_int_equal(gc_heartbeat(gc2, "g", 1, a.member_id, NULL), KP_ERR_NONE);
    sync_out_t s;
    memset(&s, 0, sizeof(s));
    gc_sync_req_t sr = {.group_id = "g", .generation_id = 1, .member_id = a.member_id};
    gc_sync(gc2, &sr, on_sync, &s);
    assert_string_equal(s.assignment, "A0");
    e->now += 10001;
    gc_tick(gc2);
    gc_describe(gc2, "g", on_desc, &d);
    assert_int_equal(d.state, GC_EMPTY);
    /* losing the partition: NOT_COORDINATOR */
    gc_unload(gc2, p);
    assert_int_equal(gc_heartbeat(gc2, "g", 1, a.member_id, NULL), KP_ERR_NOT_COORDINATOR);
    gc_free(gc2);
}

static void test_gc_unload_fails_waiting_joins(void **state) {
    env_t *e = *state;
    join_out_t a, b;
    stable_one(e, &a);
    join_new(e, "g", &b);
    assert_int_equal(b.called, 0);
    gc_unload(e->gc, gc_partition_for(e->gc, "g"));
    assert_int_equal(b.called, 1);
    assert_int_equal(b.error, KP_ERR_NOT_COORDINATOR);
}

static void test_gc_cancel_drops_callback(void **state) {
    env_t *e = *state;
    join_out_t a, b;
    stable_one(e, &a);
    join_new(e, "g", &b);
    gc_cancel(e->gc, &b); /* b's connection closed */
    char aid[256];
    snprintf(aid, sizeof(aid), "%s", a.member_id);
    join(e, "g", aid, NULL, 5, &a);
    assert_int_equal(a.called, 0); /* b is a member that has not rejoined */
    advance(e, 30000);
    assert_int_equal(a.called, 1);
    assert_int_equal(a.nmembers, 1);
    assert_int_equal(b.called, 0);
}

typedef struct list_out {
    int n;
    char names[8][32];
} list_out_t;

static void on_list(void *arg, const char *id, const char *type, gc_state_t st) {
    (void)type;
    (void)st;
    list_out_t *l = arg;
    if (l->n < 8) {
        snprintf(l->names[l->n], sizeof(l->names[0]), "%s", id);
    }
    l->n++;
}

static void test_gc_delete_and_list_groups(void **state) {
    env_t *e = *state;
    join_out_t a;
    stable_one(e, &a);
    gc_commit_partition_t p = {"t", 0, 5, -1, NULL, 0};
    commit_now(e->gc, "simple", -1, "", NULL, &p, 1);
    list_out_t l;
    memset(&l, 0, sizeof(l));
    gc_list(e->gc, on_list, &l);
    assert_int_equal(l.n, 2);
    assert_int_equal(gc_delete_group(e->gc, "g"), KP_ERR_NON_EMPTY_GROUP);
    assert_int_equal(gc_delete_group(e->gc, "nope"), KP_ERR_GROUP_ID_NOT_FOUND);
    assert_int_equal(gc_delete_group(e->gc, "simple"), KP_ERR_NONE);
    assert_int_equal(gc_delete_group(e->gc, "simple"), KP_ERR_GROUP_ID_NOT_FOUND);
    gc_leave_member_t lm = {a.member_id, NULL, 0};
    gc_leave(e->gc, "g", &lm, 1);
    assert_int_equal(gc_delete_group(e->gc, "g"), KP_ERR_NONE);
    memset(&l, 0, sizeof(l));
    gc_list(e->gc, on_list, &l);
    assert_int_equal(l.n, 0);
    desc_out_t d;
    gc_describe(e->gc, "g", on_desc, &d);
    assert_int_equal(d.state, GC_DEAD);
    assert_int_equal(d.error, KP_ERR_NONE);
}

static void test_gc_offsets_expire_for_empty_group(void **state) {
    env_t *e = *state;
    join_out_t a;
    stable_one(e, &a);
    gc_commit_partition_t p = {"t", 0, 5, -1, NULL, 0};
    commit_now(e->gc, "g", 1, a.member_id, NULL, &p, 1);
    gc_leave_member_t lm = {a.member_id, NULL, 0};
    gc_leave(e->gc, "g", &lm, 1);
    gc_offset_t o;
    advance(e, 6LL * 24 * 3600 * 1000);
    gc_fetch_offset(e->gc, "g", "t", 0, &o);
    assert_int_equal(o.offset, 5);
    advance(e, 1LL * 24 * 3600 * 1000 + 600000);
    gc_fetch_offset(e->gc, "g", "t", 0, &o);
    assert_int_equal(o.offset, -1);
}

static void test_gc_sync_timeout_removes_silent_leader(void **state) {
    env_t *e = *state;
    join_out_t a, b;
    stable_one(e, &a);
    join_new(e, "g", &b);
    char aid[256];
    snprintf(aid, sizeof(aid), "%s", a.member_id);
    join(e, "g", aid, NULL, 5, &a);
    sync_out_t sb;
    sync_(e, "g", 2, b.member_id, NULL, 0, &sb); /* the leader a never syncs */
    for (int i = 0; i < 10 && sb.called == 0; i++) {
        assert_int_equal(gc_heartbeat(e->gc, "g", 2, aid, NULL), KP_ERR_NONE);
        assert_int_equal(gc_heartbeat(e->gc, "g", 2, b.member_id, NULL), KP_ERR_NONE);
        advance(e, 3000);
    }
    assert_int_equal(sb.called, 1);
    assert_int_equal(sb.error, KP_ERR_REBALANCE_IN_PROGRESS);
    char bid[256];
    snprintf(bid, sizeof(bid), "%s", b.member_id);
    join(e, "g", bid, NULL, 5, &b);
    assert_int_equal(b.called, 1);
    assert_int_equal(b.error, KP_ERR_NONE);
    assert_string_equal(b.leader, bid);
}

/* ---------------------------------------------------------------- store completions */

static void fetch_expect(env_t *e, const char *group, int32_t partition, int64_t offset) {
    gc_offset_t o;
    assert_int_equal(gc_fetch_offset(e->gc, group, "t", partition, &o), KP_ERR_NONE);
    assert_int_equal(o.offset, offset);
}

static void test_gc_commit_applied_only_when_replicated(void **state) {
    env_t *e = *state;
    join_out_t a;
    stable_one(e, &a);
    e->defer = true;
    gc_commit_partition_t p = {"t", 0, 42, -1, "m", 0};
    commit_out_t c;
    memset(&c, 0, sizeof(c));
    gc_commit(e->gc, "g", 1, a.member_id, NULL, &p, 1, on_commit, &c);
    assert_int_equal(c.called, 0); /* the ISR does not have it yet */
    assert_int_equal(e->nwaits, 1);
    fetch_expect(e, "g", 0, -1); /* OffsetFetch answers the previous commit */
    assert_true(gc_offset_pending(e->gc, "g", "t", 0));
    assert_false(gc_offset_pending(e->gc, "g", "t", 1));
    complete(e, 0, KP_ERR_NONE);
    assert_int_equal(c.called, 1);
    assert_int_equal(c.error, KP_ERR_NONE);
    fetch_expect(e, "g", 0, 42);
    assert_false(gc_offset_pending(e->gc, "g", "t", 0));

    /* failures leave the cache as it was and answer Kafka's storeOffsets mapping */
    static const struct {
        kp_err_t store, answer;
    } cases[] = {
        {KP_ERR_REQUEST_TIMED_OUT, KP_ERR_REQUEST_TIMED_OUT},
        {KP_ERR_NOT_LEADER_OR_FOLLOWER, KP_ERR_NOT_COORDINATOR},
        {KP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND, KP_ERR_COORDINATOR_NOT_AVAILABLE},
        {KP_ERR_UNKNOWN_TOPIC_OR_PARTITION, KP_ERR_COORDINATOR_NOT_AVAILABLE},
        {KP_ERR_KAFKA_STORAGE_ERROR, KP_ERR_NOT_COORDINATOR},
        {KP_ERR_MESSAGE_TOO_LARGE, KP_ERR_INVALID_COMMIT_OFFSET_SIZE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gc_commit_partition_t q = {"t", 0, 100 + (int64_t)i, -1, NULL, 0};
        memset(&c, 0, sizeof(c));
        gc_commit(e->gc, "g", 1, a.member_id, NULL, &q, 1, on_commit, &c);
        assert_int_equal(c.called, 0);
        fetch_expect(e, "g", 0, 42);
        complete(e, 0, cases[i].store);
        assert_int_equal(c.called, 1);
        assert_int_equal(q.error, cases[i].answer);
        fetch_expect(e, "g", 0, 42);
        assert_false(gc_offset_pending(e->gc, "g", "t", 0));
    }
    /* a pre-set partition error is kept; the others get the store's answer */
    gc_commit_partition_t two[] = {{"t", 0, 7, -1, NULL, 0},
                                   {"gone", 0, 1, -1, NULL, KP_ERR_UNKNOWN_TOPIC_OR_PARTITION}};
    memset(&c, 0, sizeof(c));
    gc_commit(e->gc, "g", 1, a.member_id, NULL, two, 2, on_commit, &c);
    complete(e, 0, KP_ERR_NOT_LEADER_OR_FOLLOWER);
    assert_int_equal(two[0].error, KP_ERR_NOT_COORDINATOR);
    assert_int_equal(two[1].error, KP_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    fetch_expect(e, "g", 0, 42);
}

static void test_gc_commit_later_append_wins(void **state) {
    env_t *e = *state;
    join_out_t a;
    stable_one(e, &a);
    e->defer = true;
    gc_commit_partition_t p1 = {"t", 0, 10, -1, NULL, 0};
    gc_commit_partition_t p2 = {"t", 0, 20, -1, NULL, 0};
    commit_out_t c1, c2;
    memset(&c1, 0, sizeof(c1));
    memset(&c2, 0, sizeof(c2));
    gc_commit(e->gc, "g", 1, a.member_id, NULL, &p1, 1, on_commit, &c1);
    gc_commit(e->gc, "g", 1, a.member_id, NULL, &p2, 1, on_commit, &c2);
    complete(e, 1, KP_ERR_NONE); /* the later append completes first */
    fetch_expect(e, "g", 0, 20);
    assert_true(gc_offset_pending(e->gc, "g", "t", 0)); /* the first is still in flight */
    complete(e, 0, KP_ERR_NONE);
    fetch_expect(e, "g", 0, 20); /* not overwritten by the older append */
    assert_int_equal(c1.called + c2.called, 2);
    assert_false(gc_offset_pending(e->gc, "g", "t", 0));
}

static void test_gc_commit_failed_simple_group_leaves_nothing(void **state) {
    env_t *e = *state;
    e->defer = true;
    gc_commit_partition_t p = {"t", 0, 5, -1, NULL, 0};
    commit_out_t c;
    memset(&c, 0, sizeof(c));
    gc_commit(e->gc, "simple", -1, "", NULL, &p, 1, on_commit, &c);
    fetch_expect(e, "simple", 0, -1);
    complete(e, 0, KP_ERR_NOT_ENOUGH_REPLICAS);
    assert_int_equal(p.error, KP_ERR_COORDINATOR_NOT_AVAILABLE);
    assert_int_equal(state_of(e, "simple"), GC_DEAD); /* no such group */
    assert_int_equal(gc_delete_group(e->gc, "simple"), KP_ERR_GROUP_ID_NOT_FOUND);
}

static void test_gc_commit_completing_after_unload_not_applied(void **state) {
    env_t *e = *state;
    join_out_t a;
    stable_one(e, &a);
    e->defer = true;
    gc_commit_partition_t p = {"t", 0, 9, -1, NULL, 0};
    commit_out_t c;
    memset(&c, 0, sizeof(c));
    gc_commit(e->gc, "g", 1, a.member_id, NULL, &p, 1, on_commit, &c);
    int32_t part = gc_partition_for(e->gc, "g");
    gc_unload(e->gc, part);
    gc_load_begin(e->gc, part);
    gc_load_done(e->gc, part); /* reloaded without the record (not replicated) */
    complete(e, 0, KP_ERR_NOT_LEADER_OR_FOLLOWER);
    assert_int_equal(c.called, 1);
    assert_int_equal(p.error, KP_ERR_NOT_COORDINATOR);
    fetch_expect(e, "g", 0, -1);
    /* a cancelled caller is not answered, but a successful append still applies */
    gc_commit_partition_t q = {"t", 1, 3, -1, NULL, 0};
    memset(&c, 0, sizeof(c));
    gc_commit(e->gc, "s2", -1, "", NULL, &q, 1, on_commit, &c);
    gc_cancel(e->gc, &c);
    complete(e, 0, KP_ERR_NONE);
    assert_int_equal(c.called, 0);
    gc_offset_t o;
    gc_fetch_offset(e->gc, "s2", "t", 1, &o);
    assert_int_equal(o.offset, 3);
}

/* A 2-member group in CompletingRebalance generation 2; a is the leader. */
static void completing_two(env_t *e, char *aid, char *bid) {
    join_out_t a, b;
    stable_one(e, &a);
    join_new(e, "g", &b);
    snprintf(aid, 256, "%s", a.member_id);
    snprintf(bid, 256, "%s", b.member_id);
    join(e, "g", aid, NULL, 5, &a);
    assert_int_equal(a.called, 1);
    assert_int_equal(b.called, 1);
    assert_int_equal(state_of(e, "g"), GC_COMPLETING_REBALANCE);
}

static void test_gc_sync_answers_once_group_stored(void **state) {
    env_t *e = *state;
    char aid[256], bid[256];
    completing_two(e, aid, bid);
    e->defer = true;
    sync_out_t sa, sb;
    sync_(e, "g", 2, bid, NULL, 0, &sb);
    gc_assignment_t asg[] = {{aid, (const uint8_t *)"PA", 2}, {bid, (const uint8_t *)"PB", 2}};
    sync_(e, "g", 2, aid, asg, 2, &sa);
    assert_int_equal(e->nwaits, 1); /* the group record with the assignment */
    assert_int_equal(sa.called, 0);
    assert_int_equal(sb.called, 0);
    assert_int_equal(state_of(e, "g"), GC_COMPLETING_REBALANCE);
    assert_int_equal(gc_heartbeat(e->gc, "g", 2, bid, NULL), KP_ERR_NONE);
    complete(e, 0, KP_ERR_NONE);
    assert_int_equal(sa.called, 1);
    assert_int_equal(sb.called, 1);
    assert_int_equal(sa.error, KP_ERR_NONE);
    assert_string_equal(sa.assignment, "PA");
    assert_string_equal(sb.assignment, "PB");
    assert_int_equal(state_of(e, "g"), GC_STABLE);
}

static void test_gc_sync_store_failure_rebalances(void **state) {
    env_t *e = *state;
    char aid[256], bid[256];
    completing_two(e, aid, bid);
    e->defer = true;
    sync_out_t sa, sb;
    sync_(e, "g", 2, bid, NULL, 0, &sb);
    gc_assignment_t asg[] = {{aid, (const uint8_t *)"PA", 2}, {bid, (const uint8_t *)"PB", 2}};
    sync_(e, "g", 2, aid, asg, 2, &sa);
    complete(e, 0, KP_ERR_REQUEST_TIMED_OUT); /* Kafka's storeGroup: REBALANCE_IN_PROGRESS */
    assert_int_equal(sa.called, 1);
    assert_int_equal(sb.called, 1);
    assert_int_equal(sa.error, KP_ERR_REBALANCE_IN_PROGRESS);
    assert_int_equal(sb.error, KP_ERR_REBALANCE_IN_PROGRESS);
    assert_string_equal(sb.assignment, "");
    assert_int_equal(state_of(e, "g"), GC_PREPARING_REBALANCE);
    /* both rejoin; this time the store refuses: NOT_COORDINATOR */
    e->defer = false;
    join_out_t ja, jb;
    join(e, "g", aid, NULL, 5, &ja);
    join(e, "g", bid, NULL, 5, &jb);
    assert_int_equal(ja.generation, 3);
    e->defer = true;
    sync_(e, "g", 3, bid, NULL, 0, &sb);
    sync_(e, "g", 3, aid, asg, 2, &sa);
    complete(e, 0, KP_ERR_NOT_LEADER_OR_FOLLOWER);
    assert_int_equal(sa.error, KP_ERR_NOT_COORDINATOR);
    assert_int_equal(sb.error, KP_ERR_NOT_COORDINATOR);
    assert_int_equal(state_of(e, "g"), GC_PREPARING_REBALANCE);
    /* an immediate refusal (below min.insync.replicas) is answered at once */
    e->defer = false;
    join(e, "g", aid, NULL, 5, &ja);
    join(e, "g", bid, NULL, 5, &jb);
    assert_int_equal(ja.generation, 4);
    sync_(e, "g", 4, bid, NULL, 0, &sb);
    e->fail_store = KP_ERR_NOT_ENOUGH_REPLICAS;
    sync_(e, "g", 4, aid, asg, 2, &sa);
    e->fail_store = 0;
    assert_int_equal(sa.error, KP_ERR_COORDINATOR_NOT_AVAILABLE);
    assert_int_equal(sb.error, KP_ERR_COORDINATOR_NOT_AVAILABLE);
    assert_int_equal(state_of(e, "g"), GC_PREPARING_REBALANCE);
}

static void test_gc_sync_store_completing_after_rebalance_ignored(void **state) {
    env_t *e = *state;
    char aid[256], bid[256];
    completing_two(e, aid, bid);
    e->defer = true;
    sync_out_t sa;
    gc_assignment_t asg[] = {{aid, (const uint8_t *)"PA", 2}, {bid, (const uint8_t *)"PB", 2}};
    sync_(e, "g", 2, aid, asg, 2, &sa);
    gc_leave_member_t lm = {bid, NULL, 0};
    assert_int_equal(gc_leave(e->gc, "g", &lm, 1), KP_ERR_NONE); /* rebalance meanwhile */
    assert_int_equal(sa.called, 1);
    assert_int_equal(sa.error, KP_ERR_REBALANCE_IN_PROGRESS);
    complete(e, 0, KP_ERR_NONE); /* stored for generation 2: too late, nothing happens */
    assert_int_equal(sa.called, 1);
    assert_int_equal(state_of(e, "g"), GC_PREPARING_REBALANCE);
}

/* Kafka's doSyncGroup: a store completion hands out the assignment it stored, so the
 * leader resending SyncGroup (another assignment) while the first record is pending
 * does not make the first completion answer with the second, unstored assignment. */
static void test_gc_sync_resent_while_storing_hands_out_stored(void **state) {
    env_t *e = *state;
    char aid[256], bid[256];
    completing_two(e, aid, bid);
    e->defer = true;
    sync_out_t sa1, sa2, sb;
    sync_(e, "g", 2, bid, NULL, 0, &sb);
    gc_assignment_t first[] = {{aid, (const uint8_t *)"PA", 2}, {bid, (const uint8_t *)"PB", 2}};
    gc_assignment_t second[] = {{aid, (const uint8_t *)"QA", 2}, {bid, (const uint8_t *)"QB", 2}};
    sync_(e, "g", 2, aid, first, 2, &sa1);
    sync_(e, "g", 2, aid, second, 2, &sa2); /* resent before the first record is stored */
    assert_int_equal(e->nwaits, 2);
    assert_int_equal(sa1.called, 1); /* superseded */
    assert_int_equal(sa1.error, KP_ERR_REBALANCE_IN_PROGRESS);
    assert_int_equal(sa2.called, 0);
    assert_int_equal(sb.called, 0);
    complete(e, 0, KP_ERR_NONE); /* the record with PA/PB */
    assert_int_equal(sa2.called, 1);
    assert_int_equal(sb.called, 1);
    assert_int_equal(sa2.error, KP_ERR_NONE);
    assert_string_equal(sa2.assignment, "PA");
    assert_string_equal(sb.assignment, "PB");
    assert_int_equal(state_of(e, "g"), GC_STABLE);
    complete(e, 0, KP_ERR_NONE); /* the second record: the group is Stable, nothing changes */
    assert_int_equal(sa2.called, 1);
    assert_int_equal(sb.called, 1);
    sync_(e, "g", 2, bid, NULL, 0, &sb);
    assert_int_equal(sb.called, 1);
    assert_string_equal(sb.assignment, "PB");
    assert_int_equal(state_of(e, "g"), GC_STABLE);
}

static void test_gc_static_rejoin_waits_for_store(void **state) {
    env_t *e = *state;
    join_out_t a, s1;
    stable_one(e, &a);
    join(e, "g", "", "inst-1", 5, &s1);
    char aid[256];
    snprintf(aid, sizeof(aid), "%s", a.member_id);
    join(e, "g", aid, NULL, 5, &a);
    gc_assignment_t asg[] = {{aid, (const uint8_t *)"PA", 2},
                             {s1.member_id, (const uint8_t *)"PS", 2}};
    sync_out_t sa, ss;
    sync_(e, "g", 2, s1.member_id, NULL, 0, &ss);
    sync_(e, "g", 2, aid, asg, 2, &sa);
    assert_int_equal(state_of(e, "g"), GC_STABLE);
    char old[256];
    snprintf(old, sizeof(old), "%s", s1.member_id);
    /* restart of the static member: answered only once its new id is stored */
    e->defer = true;
    join_out_t s2;
    join(e, "g", "", "inst-1", 5, &s2);
    assert_int_equal(s2.called, 0);
    assert_int_equal(e->nwaits, 1);
    complete(e, 0, KP_ERR_NONE);
    assert_int_equal(s2.called, 1);
    assert_int_equal(s2.error, KP_ERR_NONE);
    assert_int_equal(s2.generation, 2);
    assert_string_not_equal(s2.member_id, old);
    assert_int_equal(state_of(e, "g"), GC_STABLE);
    char cur[256];
    snprintf(cur, sizeof(cur), "%s", s2.member_id);
    /* another restart whose store fails: the error, and the previous id is kept */
    join_out_t s3;
    join(e, "g", "", "inst-1", 5, &s3);
    assert_int_equal(s3.called, 0);
    complete(e, 0, KP_ERR_NOT_ENOUGH_REPLICAS);
    assert_int_equal(s3.called, 1);
    assert_int_equal(s3.error, KP_ERR_COORDINATOR_NOT_AVAILABLE);
    assert_string_equal(s3.member_id, "");
    assert_int_equal(gc_heartbeat(e->gc, "g", 2, cur, "inst-1"), KP_ERR_NONE);
    assert_int_equal(state_of(e, "g"), GC_STABLE);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_gc_java_string_hash_matches_java),
        T(test_gc_join_member_id_required_then_stable),
        T(test_gc_join_v3_gets_member_id_directly),
        T(test_gc_second_member_triggers_rebalance),
        T(test_gc_heartbeat_errors),
        T(test_gc_session_timeout_removes_member),
        T(test_gc_rebalance_timeout_drops_members_not_rejoined),
        T(test_gc_initial_rebalance_delay_collects_members),
        T(test_gc_static_member_rejoin_without_rebalance),
        T(test_gc_inconsistent_protocol_and_bad_joins),
        T(test_gc_leave_triggers_rebalance_and_empty),
        T(test_gc_leader_leaves_new_leader_chosen),
        T(test_gc_commit_and_fetch),
        T(test_gc_commit_during_completing_rebalance),
        T(test_gc_reload_from_records),
        T(test_gc_unload_fails_waiting_joins),
        T(test_gc_cancel_drops_callback),
        T(test_gc_delete_and_list_groups),
        T(test_gc_offsets_expire_for_empty_group),
        T(test_gc_sync_timeout_removes_silent_leader),
        T(test_gc_commit_applied_only_when_replicated),
        T(test_gc_commit_later_append_wins),
        T(test_gc_commit_failed_simple_group_leaves_nothing),
        T(test_gc_commit_completing_after_unload_not_applied),
        T(test_gc_sync_answers_once_group_stored),
        T(test_gc_sync_store_failure_rebalances),
        T(test_gc_sync_store_completing_after_rebalance_ignored),
        T(test_gc_sync_resent_while_storing_hands_out_stored),
        T(test_gc_static_rejoin_waits_for_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
