/*
 * test_api_api: the dispatch layer without a broker behind it — ApiVersions in every
 * version (v3 flexible body with response header v0, an unsupported version answered
 * with error 35 and a v0 body, never closed), what is advertised, and that unknown
 * keys, unsupported versions and garbled bodies close the connection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strata/api.h"
#include "strata/proto.h"

typedef struct done_rec {
    int calls;
} done_rec_t;

static void on_done(api_req_t *req) {
    ((done_rec_t *)req->done_arg)->calls++;
}

/* Runs one request (header v1/v2 + body bytes) through api_dispatch. */
static void run(api_req_t *req, done_rec_t *d, int16_t key, int16_t ver, const uint8_t *body,
                size_t body_len, bool flexible_header) {
    memset(req, 0, sizeof(*req));
    memset(d, 0, sizeof(*d));
    size_t n = 10 + (flexible_header ? 1 : 0) + body_len;
    uint8_t *f = malloc(n);
    be16_put(f, (uint16_t)key);
    be16_put(f + 2, (uint16_t)ver);
    be32_put(f + 4, 77);
    be16_put(f + 8, 0xffff); /* null client id */
    size_t off = 10;
    if (flexible_header) {
        f[off++] = 0; /* no tagged fields */
    }
    if (body_len) {
        memcpy(f + off, body, body_len);
    }
    req->api_key = key;
    req->api_version = ver;
    req->correlation_id = 77;
    req->frame = f;
    req->frame_len = n;
    req->arena = arena_new(0);
    req->peer = "test";
    req->done = on_done;
    req->done_arg = d;
    kp_wr_init(&req->out);
    api_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    api_dispatch(&ctx, req);
    assert_int_equal(d->calls, 1);
}

static void finish(api_req_t *req) {
    api_req_release(req);
    arena_free(req->arena);
    free(req->frame);
}

/* Decodes the ApiVersions response in req->out (size prefix, header v0, body). */
static kp_ApiVersionsResponse_t *decode_versions(api_req_t *req, int16_t body_version) {
    kp_rd_t rd;
    kp_rd_init(&rd, req->out.buf.data + 4, req->out.buf.len - 4, req->arena);
    int32_t corr = kp_rd_i32(&rd); /* response header v0 even for v3 */
    assert_int_equal(corr, 77);
    kp_ApiVersionsResponse_t *r = arena_alloc(req->arena, sizeof(*r));
    assert_int_equal(kp_decode_ApiVersionsResponse(&rd, body_version, r), 0);
    assert_int_equal(kp_rd_remaining(&rd), 0);
    return r;
}

static const kp_ApiVersionsResponse_ApiVersion_t *find(const kp_ApiVersionsResponse_t *r,
                                                       int16_t key) {
    for (int32_t i = 0; i < r->n_api_keys; i++) {
        if (r->api_keys[i].api_key == key) {
            return &r->api_keys[i];
        }
    }
    return NULL;
}

static void test_api_versions_v0_and_v3(void **state) {
    (void)state;
    api_req_t req;
    done_rec_t d;
    run(&req, &d, KP_API_ApiVersions, 0, NULL, 0, false);
    assert_int_equal(req.status, API_RESPOND);
    kp_ApiVersionsResponse_t *r = decode_versions(&req, 0);
    assert_int_equal(r->error_code, 0);
    const kp_ApiVersionsResponse_ApiVersion_t *p = find(r, KP_API_Produce);
    assert_non_null(p);
    assert_true(p->min_version <= 3 && p->max_version >= 7);
    const kp_ApiVersionsResponse_ApiVersion_t *f = find(r, KP_API_Fetch);
    assert_non_null(f);
    assert_true(f->min_version <= 4 && f->max_version >= 10);
    assert_non_null(find(r, KP_API_Metadata));
    assert_non_null(find(r, KP_API_ApiVersions));
    assert_non_null(find(r, KP_API_CreateTopics));
    /* issue 7: the group APIs, DeleteGroups included (kafka-consumer-groups --delete) */
    const kp_ApiVersionsResponse_ApiVersion_t *dg = find(r, KP_API_DeleteGroups);
    assert_non_null(dg);
    assert_true(dg->min_version == 0 && dg->max_version >= 1);
    /* Never advertised: internal APIs without a client-facing handler. */
    assert_null(find(r, KP_API_LeaderAndIsr));
    finish(&req);

    static const uint8_t v3body[] = {0x05, 'k', 'c', 'a', 't', 0x06, '1', '.', '7', '.', '1', 0};
    run(&req, &d, KP_API_ApiVersions, 3, v3body, sizeof(v3body), true);
    assert_int_equal(req.status, API_RESPOND);
    r = decode_versions(&req, 3);
    assert_int_equal(r->error_code, 0);
    assert_non_null(find(r, KP_API_Produce));
    finish(&req);
}

static void test_api_versions_unsupported_version_answers_35(void **state) {
    (void)state;
    api_req_t req;
    done_rec_t d;
    run(&req, &d, KP_API_ApiVersions, 9, NULL, 0, true);
    assert_int_equal(req.status, API_RESPOND);
    kp_ApiVersionsResponse_t *r = decode_versions(&req, 0);
    assert_int_equal(r->error_code, KP_ERR_UNSUPPORTED_VERSION);
    assert_non_null(find(r, KP_API_ApiVersions));
    finish(&req);
}

static void test_api_unknown_or_garbled_closes(void **state) {
    (void)state;
    api_req_t req;
    done_rec_t d;
    run(&req, &d, 99, 0, NULL, 0, false);
    assert_int_equal(req.status, API_CLOSE);
    assert_non_null(strstr(req.close_reason, "unsupported"));
    finish(&req);

    run(&req, &d, KP_API_Fetch, 3, NULL, 0, false); /* below the advertised range */
    assert_int_equal(req.status, API_CLOSE);
    finish(&req);

    static const uint8_t bad[] = {0x7f, 0xff, 0xff, 0xff}; /* topic count far too large */
    run(&req, &d, KP_API_Metadata, 4, bad, sizeof(bad), false);
    assert_int_equal(req.status, API_CLOSE);
    assert_non_null(strstr(req.close_reason, "garbled Metadata"));
    finish(&req);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_versions_v0_and_v3),
        cmocka_unit_test(test_api_versions_unsupported_version_answers_35),
        cmocka_unit_test(test_api_unknown_or_garbled_closes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
