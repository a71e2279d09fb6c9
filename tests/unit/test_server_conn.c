/*
 * test_server_conn: the listener and connections with a fake request handler over
 * real loopback sockets: framing (coalesced and split frames), strict response order,
 * no-response requests, bad sizes and handler-requested closes, max.connections,
 * idle close, orphaned requests, sendfile chunks and the graceful drain.
 *
 * The fake handler picks its behaviour from the api key of the frame:
 *   1 = respond now, 2 = hold (the test completes it later), 3 = no response,
 *   4 = close the connection, 5 = respond with a file chunk.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "strata/proto.h"
#include "strata/server.h"
#include "tmpdir.h"

#define MAX_HELD 16

typedef struct fake {
    api_req_t *held[MAX_HELD];
    int nheld;
    int requests;
    int file_fd;
} fake_t;

typedef struct env {
    uv_loop_t loop;
    srv_t *srv;
    fake_t fake;
    bool drained;
    char *dir;
} env_t;

static void respond(api_req_t *r) {
    kp_wr_reserve_i32(&r->out);
    kp_wr_i32(&r->out, r->correlation_id);
    r->status = API_RESPOND;
    r->done(r);
}

static void fake_handler(void *arg, api_req_t *r) {
    fake_t *f = arg;
    f->requests++;
    switch (r->api_key) {
    case 1:
        respond(r);
        break;
    case 2:
        assert_true(f->nheld < MAX_HELD);
        f->held[f->nheld++] = r;
        break;
    case 3:
        r->status = API_NO_RESPONSE;
        r->done(r);
        break;
    case 4:
        snprintf(r->close_reason, sizeof(r->close_reason), "test asked to close");
        r->status = API_CLOSE;
        r->done(r);
        break;
    case 5: {
        kp_wr_reserve_i32(&r->out);
        kp_wr_i32(&r->out, r->correlation_id);
        kp_records_t rec = kp_records_file(f->file_fd, 2, 5); /* "23456" */
        kp_wr_records(&r->out, &rec, false, true);
        kp_wr_i16(&r->out, 0x7777);
        r->status = API_RESPOND;
        r->done(r);
        break;
    }
    default:
        respond(r);
    }
}

static env_t *env_new_max(int32_t max_conns, int64_t idle_ms, int32_t max_request) {
    env_t *e = xcalloc(1, sizeof(*e));
    assert_int_equal(uv_loop_init(&e->loop), 0);
    e->dir = tmpdir_new();
    char *path = xasprintf("%s/data", e->dir);
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "0123456789", 10), 10);
    e->fake.file_fd = fd;
    free(path);
    srv_config_t sc = {
        .host = "127.0.0.1",
        .port = 0,
        .socket_request_max_bytes = max_request,
        .max_connections = max_conns,
        .connections_max_idle_ms = idle_ms,
        .socket_send_buffer_bytes = -1,
        .socket_receive_buffer_bytes = -1,
        .max_inflight = 8,
        .max_pending_bytes = 1 << 20,
    };
    assert_int_equal(srv_listen(&e->loop, &sc, fake_handler, &e->fake, &e->srv), 0);
    assert_true(srv_port(e->srv) > 0);
    return e;
}

static env_t *env_new(int32_t max_conns, int64_t idle_ms) {
    return env_new_max(max_conns, idle_ms, 1000);
}

static void on_drained(void *arg) {
    ((env_t *)arg)->drained = true;
}

static void pump_until(env_t *e, bool (*cond)(env_t *e, void *arg), void *arg) {
    int64_t deadline = clock_mono_ms() + 5000;
    while (!cond(e, arg)) {
        assert_true(clock_mono_ms() < deadline);
        uv_run(&e->loop, UV_RUN_NOWAIT);
        usleep(500);
    }
}

static bool is_drained(env_t *e, void *arg) {
    (void)arg;
    return e->drained;
}

static void env_free(env_t *e) {
    srv_drain(e->srv, 0, on_drained, e);
    pump_until(e, is_drained, NULL);
    srv_free(e->srv);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    close(e->fake.file_fd);
    tmpdir_remove(e->dir);
    free(e);
}

static int client(env_t *e) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)srv_port(e->srv));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static size_t frame(uint8_t *out, int16_t key, int32_t corr) {
    be32_put(out, 10);
    be16_put(out + 4, (uint16_t)key);
    be16_put(out + 6, 0);
    be32_put(out + 8, (uint32_t)corr);
    be16_put(out + 12, 0xffff); /* null client id */
    return 14;
}

static void send_all(int fd, const void *p, size_t n) {
    assert_int_equal(write(fd, p, n), (ssize_t)n);
}

typedef struct rx {
    int fd;
    uint8_t buf[4096];
    size_t len;
    size_t want;
    bool eof;
} rx_t;

static bool rx_ready(env_t *e, void *arg) {
    (void)e;
    rx_t *rx = arg;
    while (rx->len < sizeof(rx->buf)) {
        ssize_t n = read(rx->fd, rx->buf + rx->len, sizeof(rx->buf) - rx->len);
        if (n > 0) {
            rx->len += (size_t)n;
            continue;
        }
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            rx->eof = true;
        }
        break;
    }
    return rx->eof || (rx->want && rx->len >= rx->want);
}

/* Receives exactly want bytes (or EOF). */
static void recv_n(env_t *e, rx_t *rx, int fd, size_t want) {
    memset(rx, 0, sizeof(*rx));
    rx->fd = fd;
    rx->want = want;
    pump_until(e, rx_ready, rx);
}

static void expect_eof(env_t *e, int fd) {
    rx_t rx;
    recv_n(e, &rx, fd, 0);
    assert_true(rx.eof);
}

/* Response i of the fake: int32 size (4) + int32 correlation id. */
static int32_t corr_at(const rx_t *rx, size_t i) {
    assert_int_equal(be32_get(rx->buf + i * 8), 4);
    return (int32_t)be32_get(rx->buf + i * 8 + 4);
}

static void test_conn_frames_coalesced_and_split(void **state) {
    (void)state;
    env_t *e = env_new(100, 600000);
    int fd = client(e);
    uint8_t b[64];
    size_t n = frame(b, 1, 1);
    n += frame(b + n, 1, 2);
    size_t third = frame(b + n, 1, 3);
    send_all(fd, b, n + 5); /* two whole frames and the start of the third */
    rx_t rx;
    recv_n(e, &rx, fd, 16);
    assert_int_equal(corr_at(&rx, 0), 1);
    assert_int_equal(corr_at(&rx, 1), 2);
    send_all(fd, b + n + 5, third - 5);
    recv_n(e, &rx, fd, 8);
    assert_int_equal(corr_at(&rx, 0), 3);
    close(fd);
    env_free(e);
}

static void test_conn_responses_in_request_order(void **state) {
    (void)state;
    env_t *e = env_new(100, 600000);
    int fd = client(e);
    uint8_t b[64];
    size_t n = frame(b, 2, 10); /* held */
    n += frame(b + n, 1, 11);   /* answered at once, must wait for 10 */
    n += frame(b + n, 3, 12);   /* no response */
    n += frame(b + n, 1, 13);
    send_all(fd, b, n);
    rx_t rx;
    memset(&rx, 0, sizeof(rx));
    rx.fd = fd;
    for (int i = 0; i < 50; i++) {
        uv_run(&e->loop, UV_RUN_NOWAIT);
        rx_ready(e, &rx);
        usleep(200);
    }
    assert_int_equal(rx.len, 0);
    assert_int_equal(e->fake.requests, 4);
    assert_int_equal(e->fake.nheld, 1);
    respond(e->fake.held[0]);
    recv_n(e, &rx, fd, 24);
    assert_int_equal(rx.len, 24);
    assert_int_equal(corr_at(&rx, 0), 10);
    assert_int_equal(corr_at(&rx, 1), 11);
    assert_int_equal(corr_at(&rx, 2), 13);
    close(fd);
    env_free(e);
}

static void test_conn_bad_size_closes_only_that_connection(void **state) {
    (void)state;
    env_t *e = env_new(100, 600000);
    int good = client(e);
    int neg = client(e);
    int big = client(e);
    int tiny = client(e);
    uint8_t b[16];
    be32_put(b, 0xfffffffb); /* -5 */
    send_all(neg, b, 4);
    be32_put(b, 1001); /* over socket.request.max.bytes = 1000 */
    send_all(big, b, 4);
    be32_put(b, 3);
    memcpy(b + 4, "abc", 3); /* shorter than a request header */
    send_all(tiny, b, 7);
    expect_eof(e, neg);
    expect_eof(e, big);
    expect_eof(e, tiny);
    size_t n = frame(b, 1, 7);
    send_all(good, b, n);
    rx_t rx;
    recv_n(e, &rx, good, 8);
    assert_int_equal(corr_at(&rx, 0), 7);
    close(good);
    close(neg);
    close(big);
    close(tiny);
    env_free(e);
}

static void test_conn_handler_close(void **state) {
    (void)state;
    env_t *e = env_new(100, 600000);
    int fd = client(e);
    uint8_t b[16];
    size_t n = frame(b, 4, 1);
    send_all(fd, b, n);
    expect_eof(e, fd);
    close(fd);
    env_free(e);
}

static bool conns_at_most(env_t *e, void *arg) {
    return srv_connection_count(e->srv) <= *(size_t *)arg;
}

static void test_conn_orphaned_request_completes_safely(void **state) {
    (void)state;
    env_t *e = env_new(100, 600000);
    int fd = client(e);
    uint8_t b[16];
    size_t n = frame(b, 2, 1);
    send_all(fd, b, n);
    int64_t deadline = clock_mono_ms() + 5000;
    while (e->fake.nheld == 0) {
        assert_true(clock_mono_ms() < deadline);
        uv_run(&e->loop, UV_RUN_NOWAIT);
    }
    close(fd);
    size_t zero = 0;
    pump_until(e, conns_at_most, &zero);
    respond(e->fake.held[0]); /* the connection is gone: freed, never written */
    env_free(e);
}

static void test_conn_max_connections_refuses(void **state) {
    (void)state;
    env_t *e = env_new(1, 600000);
    int first = client(e);
    size_t one = 1;
    int64_t deadline = clock_mono_ms() + 5000;
    while (srv_connection_count(e->srv) < 1) {
        assert_true(clock_mono_ms() < deadline);
        uv_run(&e->loop, UV_RUN_NOWAIT);
    }
    int second = client(e);
    expect_eof(e, second);
    pump_until(e, conns_at_most, &one);
    uint8_t b[16];
    size_t n = frame(b, 1, 5);
    send_all(first, b, n);
    rx_t rx;
    recv_n(e, &rx, first, 8);
    assert_int_equal(corr_at(&rx, 0), 5);
    close(first);
    close(second);
    env_free(e);
}

static void test_conn_idle_connection_closed(void **state) {
    (void)state;
    env_t *e = env_new(100, 20);
    int fd = client(e);
    expect_eof(e, fd);
    close(fd);
    env_free(e);
}

static void test_conn_file_chunk_sent(void **state) {
    (void)state;
    env_t *e = env_new(100, 600000);
    int fd = client(e);
    uint8_t b[16];
    size_t n = frame(b, 5, 9);
    send_all(fd, b, n);
    rx_t rx;
    /* size 4 + corr 4 + records length 4 + 5 file bytes + int16 = 19 */
    recv_n(e, &rx, fd, 19);
    assert_int_equal(be32_get(rx.buf), 15);
    assert_int_equal(be32_get(rx.buf + 4), 9);
    assert_int_equal(be32_get(rx.buf + 8), 5);
    assert_memory_equal(rx.buf + 12, "23456", 5);
    assert_int_equal(be16_get(rx.buf + 17), 0x7777);
    close(fd);
    env_free(e);
}

static void test_conn_drain_waits_for_in_flight(void **state) {
    (void)state;
    env_t *e = env_new(100, 600000);
    int fd = client(e);
    uint8_t b[16];
    size_t n = frame(b, 2, 4);
    send_all(fd, b, n);
    int64_t deadline = clock_mono_ms() + 5000;
    while (e->fake.nheld == 0) {
        assert_true(clock_mono_ms() < deadline);
        uv_run(&e->loop, UV_RUN_NOWAIT);
    }
    srv_drain(e->srv, 60000, on_drained, e);
    for (int i = 0; i < 20; i++) {
        uv_run(&e->loop, UV_RUN_NOWAIT);
    }
    assert_false(e->drained);
    respond(e->fake.held[0]);
    rx_t rx;
    recv_n(e, &rx, fd, 8);
    assert_int_equal(corr_at(&rx, 0), 4);
    pump_until(e, is_drained, NULL);
    close(fd);
    env_free(e); /* drain again is a no-op */
}

static bool held_at_least(env_t *e, void *arg) {
    return e->fake.nheld >= *(int *)arg;
}

/* max_inflight is 8: the ninth request is not even cut from the buffer until a slot
 * frees up; the buffered frames are then dispatched without new socket input. */
static void test_conn_backpressure_limits_in_flight(void **state) {
    (void)state;
    env_t *e = env_new(100, 600000);
    int fd = client(e);
    uint8_t b[14 * 12];
    size_t n = 0;
    for (int i = 0; i < 12; i++) {
        n += frame(b + n, 2, 100 + i);
    }
    send_all(fd, b, n);
    int eight = 8;
    pump_until(e, held_at_least, &eight);
    for (int i = 0; i < 50; i++) {
        uv_run(&e->loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(e->fake.nheld, 8);
    for (int i = 0; i < 4; i++) {
        respond(e->fake.held[i]);
    }
    int twelve = 12;
    pump_until(e, held_at_least, &twelve);
    for (int i = 4; i < 12; i++) {
        respond(e->fake.held[i]);
    }
    rx_t rx;
    recv_n(e, &rx, fd, 12 * 8);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(corr_at(&rx, (size_t)i), 100 + i);
    }
    close(fd);
    env_free(e);
}

/* A frame above the direct-read threshold, arriving in pieces, followed by a small one
 * in the same write as its tail. */
static void test_conn_large_frame_in_pieces(void **state) {
    (void)state;
    env_t *e = env_new_max(100, 600000, 4 << 20);
    int fd = client(e);
    size_t size = 1 << 20;
    uint8_t *big = xcalloc(1, size + 4 + 14);
    be32_put(big, (uint32_t)size);
    be16_put(big + 4, 1);
    be32_put(big + 8, 41);
    frame(big + 4 + size, 1, 42);
    size_t total = size + 4 + 14;
    size_t sent = 0;
    rx_t rx;
    memset(&rx, 0, sizeof(rx));
    rx.fd = fd;
    while (sent < total) {
        size_t chunk = total - sent < 100000 ? total - sent : 100000;
        ssize_t n = write(fd, big + sent, chunk);
        if (n > 0) {
            sent += (size_t)n;
        }
        uv_run(&e->loop, UV_RUN_NOWAIT);
    }
    recv_n(e, &rx, fd, 16);
    assert_int_equal(corr_at(&rx, 0), 41);
    assert_int_equal(corr_at(&rx, 1), 42);
    free(big);
    close(fd);
    env_free(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conn_frames_coalesced_and_split),
        cmocka_unit_test(test_conn_responses_in_request_order),
        cmocka_unit_test(test_conn_bad_size_closes_only_that_connection),
        cmocka_unit_test(test_conn_handler_close),
        cmocka_unit_test(test_conn_orphaned_request_completes_safely),
        cmocka_unit_test(test_conn_max_connections_refuses),
        cmocka_unit_test(test_conn_idle_connection_closed),
        cmocka_unit_test(test_conn_file_chunk_sent),
        cmocka_unit_test(test_conn_drain_waits_for_in_flight),
        cmocka_unit_test(test_conn_backpressure_limits_in_flight),
        cmocka_unit_test(test_conn_large_frame_in_pieces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
