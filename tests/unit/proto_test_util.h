/*
 * proto_test_util.h: shared helpers of the proto codec tests (header-only, static).
 * Vectors are hex strings written by hand from the schema field order; whitespace is
 * ignored so each field can sit on its own line with a comment.
 *
 * Include after <setjmp.h>, <cmocka.h> and "strata/proto.h".
 */
#ifndef PROTO_TEST_UTIL_H
#define PROTO_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct vec {
    uint8_t *data;
    size_t len;
} vec_t;

static int hexval(int c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/** Parses hex (whitespace ignored); the caller frees v.data. */
__attribute__((unused)) static vec_t vec_hex(const char *hex) {
    vec_t v = {malloc(strlen(hex) / 2 + 1), 0};
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        int x = hexval((unsigned char)*p);
        if (x < 0) {
            assert_true(*p == ' ' || *p == '\n' || *p == '\t');
            continue;
        }
        if (hi < 0) {
            hi = x;
        } else {
            v.data[v.len++] = (uint8_t)(hi << 4 | x);
            hi = -1;
        }
    }
    assert_int_equal(hi, -1);
    return v;
}

__attribute__((unused)) static void dump(const char *what, const uint8_t *p, size_t n) {
    fprintf(stderr, "%s (%zu bytes):", what, n);
    for (size_t i = 0; i < n; i++) {
        fprintf(stderr, "%s%02x", i % 16 ? " " : "\n  ", p[i]);
    }
    fprintf(stderr, "\n");
}

/** Asserts that the writer's buffer holds exactly the bytes of hex. */
__attribute__((unused)) static void assert_wr_hex(const kp_wr_t *wr, const char *hex) {
    vec_t v = vec_hex(hex);
    assert_int_equal(kp_wr_err(wr), 0);
    if (v.len != wr->buf.len || (v.len > 0 && memcmp(v.data, wr->buf.data, v.len) != 0)) {
        dump("expected", v.data, v.len);
        dump("encoded", wr->buf.data, wr->buf.len);
        fail_msg("encoding differs");
    }
    free(v.data);
}

/** Decodes a body that must be valid and fully consumed; memory in arena. */
__attribute__((unused)) static void *decode_ok(arena_t *arena, bool request, int16_t key,
                                               int16_t version, const vec_t *v) {
    kp_rd_t rd;
    void *m = NULL;
    kp_rd_init(&rd, v->data, v->len, arena);
    int rc = request ? kp_decode_request_body(&rd, key, version, &m)
                     : kp_decode_response_body(&rd, key, version, &m);
    assert_int_equal(rc, 0);
    assert_int_equal(kp_rd_remaining(&rd), 0);
    assert_non_null(m);
    return m;
}

/**
 * Every strict prefix of a valid body must fail to decode (never crash), the whole
 * body must decode, and re-encoding the decoded struct must give the same bytes.
 */
__attribute__((unused)) static void check_body(bool request, int16_t key, int16_t version,
                                               const char *hex) {
    vec_t v = vec_hex(hex);
    arena_t *arena = arena_new(0);
    for (size_t n = 0; n < v.len; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size so ASan catches overreads */
        if (n > 0) {
            memcpy(copy, v.data, n);
        }
        kp_rd_t rd;
        void *m = NULL;
        kp_rd_init(&rd, copy, n, arena);
        int rc = request ? kp_decode_request_body(&rd, key, version, &m)
                         : kp_decode_response_body(&rd, key, version, &m);
        if (rc == 0) {
            fail_msg("api %d v%d: prefix of %zu/%zu bytes decoded without error", key, version, n,
                     v.len);
        }
        free(copy);
        arena_reset(arena);
    }
    void *m = decode_ok(arena, request, key, version, &v);
    kp_wr_t wr;
    kp_wr_init(&wr);
    int rc = request ? kp_encode_request_body(&wr, key, version, m)
                     : kp_encode_response_body(&wr, key, version, m);
    assert_int_equal(rc, 0);
    assert_wr_hex(&wr, hex);
    kp_wr_destroy(&wr);
    arena_free(arena);
    free(v.data);
}

/** Encodes with the generic entry point and compares with hex. */
__attribute__((unused)) static void check_encode(bool request, int16_t key, int16_t version,
                                                 const void *msg, const char *hex) {
    kp_wr_t wr;
    kp_wr_init(&wr);
    int rc = request ? kp_encode_request_body(&wr, key, version, msg)
                     : kp_encode_response_body(&wr, key, version, msg);
    assert_int_equal(rc, 0);
    assert_wr_hex(&wr, hex);
    kp_wr_destroy(&wr);
}

#endif /* PROTO_TEST_UTIL_H */
