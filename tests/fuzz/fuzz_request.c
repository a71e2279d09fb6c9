/*
 * fuzz_request: libFuzzer target over the request decoder, the code that reads bytes
 * straight off client sockets. Parses the request header, then the body for its api key
 * and version, in an arena. Properties checked beyond "no crash, no sanitizer report":
 *   1. a decoded body re-encodes without error;
 *   2. that encoding decodes again and re-encodes to identical bytes (codec is stable);
 *   3. the body bytes are also decoded as the RESPONSE of the same api key/version,
 *      covering the decoders the CLI and the follower fetcher run on broker replies.
 * Built with -fsanitize=fuzzer by tests/fuzz/tests.cmake (clang, STRATA_FUZZ=ON); with
 * tests/fuzz/replay_main.c linked in it is a plain program that replays files (any compiler).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int encode(bool request, kp_wr_t *wr, int16_t key, int16_t ver, const void *msg) {
    return request ? kp_encode_request_body(wr, key, ver, msg)
                   : kp_encode_response_body(wr, key, ver, msg);
}

static int decode(bool request, kp_rd_t *rd, int16_t key, int16_t ver, void **msg) {
    return request ? kp_decode_request_body(rd, key, ver, msg)
                   : kp_decode_response_body(rd, key, ver, msg);
}

static void check_stable(arena_t *a, bool request, int16_t key, int16_t ver, const void *msg) {
    const char *what = request ? "request" : "response";
    kp_wr_t w1, w2;
    kp_wr_init(&w1);
    kp_wr_init(&w2);
    if (encode(request, &w1, key, ver, msg) != 0) {
        fprintf(stderr, "api %d v%d: decoded %s does not re-encode\n", key, ver, what);
        abort();
    }
    kp_rd_t rd;
    void *again = NULL;
    kp_rd_init(&rd, w1.buf.data, w1.buf.len, a);
    if (decode(request, &rd, key, ver, &again) != 0 || kp_rd_remaining(&rd) != 0) {
        fprintf(stderr, "api %d v%d: re-encoded %s does not decode\n", key, ver, what);
        abort();
    }
    if (encode(request, &w2, key, ver, again) != 0 || w1.buf.len != w2.buf.len ||
        (w1.buf.len > 0 && memcmp(w1.buf.data, w2.buf.data, w1.buf.len) != 0)) {
        fprintf(stderr, "api %d v%d: %s encoding not stable\n", key, ver, what);
        abort();
    }
    kp_wr_destroy(&w1);
    kp_wr_destroy(&w2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    arena_t *a = arena_new(0);
    kp_rd_t rd;
    kp_rd_init(&rd, data, size, a);
    kp_RequestHeader_t hdr;
    int16_t hv;
    if (kp_decode_request_header(&rd, &hdr, &hv) == 0) {
        int16_t key = hdr.request_api_key, ver = hdr.request_api_version;
        kp_rd_t body_rd = rd;
        void *body = NULL;
        if (kp_decode_request_body(&rd, key, ver, &body) == 0) {
            check_stable(a, true, key, ver, body);
        }
        /* the same bytes as the response body (what the CLI and follower fetchers read) */
        if (kp_decode_response_body(&body_rd, key, ver, &body) == 0) {
            check_stable(a, false, key, ver, body);
        }
    }
    arena_free(a);
    return 0;
}
