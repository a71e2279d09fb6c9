/*
 * test_proto_generated: sweeps every generated codec. For each API key in the table,
 * each direction and each schema version: encoding an all-default message must decode
 * back (fully consumed) to something that re-encodes to the same bytes, and every
 * strict prefix of that encoding must fail to decode. Hand-written vectors live in the
 * other test_proto_* files; this catches gating mistakes in versions nobody wrote by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "strata/proto.h"

#include "proto_test_util.h"

static _Alignas(max_align_t) uint8_t zero_msg[16384]; /* larger than any message struct */

static void sweep(bool request) {
    arena_t *a = arena_new(0);
    int checked = 0;
    for (size_t i = 0; i < KP_API_COUNT; i++) {
        const kp_api_info_t *api = kp_api_info_at(i);
        for (int16_t v = api->min_version; v <= api->max_version; v++) {
            kp_wr_t wr;
            kp_wr_init(&wr);
            int rc = request ? kp_encode_request_body(&wr, api->api_key, v, zero_msg)
                             : kp_encode_response_body(&wr, api->api_key, v, zero_msg);
            assert_int_equal(rc, 0);
            for (size_t n = 0; n <= wr.buf.len; n++) {
                uint8_t *copy = malloc(n ? n : 1);
                if (n > 0) {
                    memcpy(copy, wr.buf.data, n);
                }
                kp_rd_t rd;
                void *m = NULL;
                kp_rd_init(&rd, copy, n, a);
                rc = request ? kp_decode_request_body(&rd, api->api_key, v, &m)
                             : kp_decode_response_body(&rd, api->api_key, v, &m);
                if (n < wr.buf.len && rc == 0) {
                    fail_msg("%s v%d %s: %zu/%zu byte prefix decoded", api->name, v,
                             request ? "request" : "response", n, wr.buf.len);
                }
                if (n == wr.buf.len) {
                    if (rc != 0 || kp_rd_remaining(&rd) != 0) {
                        fail_msg("%s v%d %s: own encoding does not decode", api->name, v,
                                 request ? "request" : "response");
                    }
                    kp_wr_t again;
                    kp_wr_init(&again);
                    rc = request ? kp_encode_request_body(&again, api->api_key, v, m)
                                 : kp_encode_response_body(&again, api->api_key, v, m);
                    assert_int_equal(rc, 0);
                    assert_int_equal(again.buf.len, wr.buf.len);
                    if (wr.buf.len > 0) {
                        assert_memory_equal(again.buf.data, wr.buf.data, wr.buf.len);
                    }
                    kp_wr_destroy(&again);
                }
                free(copy);
                arena_reset(a);
            }
            kp_wr_destroy(&wr);
            checked++;
        }
    }
    assert_int_equal(checked, 171); /* every version of the 24 APIs */
    arena_free(a);
}

static void test_all_requests_roundtrip_and_truncate(void **state) {
    (void)state;
    sweep(true);
}

static void test_all_responses_roundtrip_and_truncate(void **state) {
    (void)state;
    sweep(false);
}

static void test_flexible_versions_end_with_tag_section(void **state) {
    (void)state;
    /* an empty flexible request body is just its tag section(s) */
    kp_wr_t wr;
    kp_wr_init(&wr);
    kp_ListGroupsRequest_t lg;
    kp_init_ListGroupsRequest(&lg);
    kp_encode_ListGroupsRequest(&wr, 3, &lg);
    assert_wr_hex(&wr, "00");
    kp_wr_reset(&wr);
    kp_encode_ListGroupsRequest(&wr, 4, &lg);
    assert_wr_hex(&wr, "01 00"); /* states_filter [] (compact), tags */
    kp_wr_destroy(&wr);
}

static void test_init_applies_schema_defaults(void **state) {
    (void)state;
    kp_FetchRequest_t f;
    kp_init_FetchRequest(&f);
    assert_int_equal(f.replica_id, -1);
    assert_int_equal(f.max_bytes, 0x7fffffff);
    assert_int_equal(f.session_epoch, -1);
    assert_int_equal(f.replica_state.replica_id, -1);
    assert_true(f.replica_state.replica_epoch == -1);
    assert_null(f.cluster_id);
    assert_string_equal(f.rack_id, "");
    kp_CreateTopicsRequest_t c;
    kp_init_CreateTopicsRequest(&c);
    assert_int_equal(c.timeout_ms, 60000);
    kp_FetchResponse_PartitionData_t p;
    kp_init_FetchResponse_PartitionData(&p);
    assert_int_equal(p.records.fd, -1);
    assert_int_equal(p.records.len, 0);
    assert_int_equal(p.current_leader.leader_id, -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_requests_roundtrip_and_truncate),
        cmocka_unit_test(test_all_responses_roundtrip_and_truncate),
        cmocka_unit_test(test_flexible_versions_end_with_tag_section),
        cmocka_unit_test(test_init_applies_schema_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
