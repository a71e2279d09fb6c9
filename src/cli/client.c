/*
 * client: a small blocking Kafka client for the CLI. One TCP connection per broker,
 * requests sent one at a time (send, then wait for the matching response), each with a
 * deadline enforced by poll(2). Every connection starts with ApiVersions v0 so the
 * commands can pick versions both sides implement. Blocking is fine here: this is a
 * command-line tool, not the broker.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/cli.h"

#define CLIENT_ID         "strata-cli"
#define MAX_RESPONSE_SIZE (512 * 1024 * 1024)

void cli_resp_init(cli_resp_t *r) {
    r->arena = NULL;
    buf_init(&r->raw);
    r->msg = NULL;
}

void cli_resp_destroy(cli_resp_t *r) {
    arena_free(r->arena);
    r->arena = NULL;
    buf_destroy(&r->raw);
    r->msg = NULL;
}

int cli_parse_host_port(const char *s, char **host, int *port) {
    const char *colon;
    const char *h = s;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':') {
            return -1;
        }
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL) {
            return -1;
        }
        hlen = (size_t)(colon - s);
    }
    int64_t p;
    if (hlen == 0 || parse_int64(colon + 1, &p) != 0 || p < 1 || p > 65535) {
        return -1;
    }
    *host = xstrndup(h, hlen);
    *port = (int)p;
    return 0;
}

/* Waits for fd to become ready for events before the deadline. @returns 0 or -errno. */
static int wait_fd(int fd, short events, int64_t deadline_ms) {
    for (;;) {
        int64_t left = deadline_ms - clock_mono_ms();
        if (left <= 0) {
            return -ETIMEDOUT;
        }
        struct pollfd p = {fd, events, 0};
        int r = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
        if (r > 0) {
            return 0;
        }
        if (r < 0 && errno != EINTR) {
            return -errno;
        }
    }
}

static int send_all(int fd, const uint8_t *p, size_t n, int64_t deadline_ms) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(fd, POLLOUT, deadline_ms);
            if (rc != 0) {
                return rc;
            }
            continue;
        }
        return w < 0 ? -errno : -EIO;
    }
    return 0;
}

static int recv_all(int fd, uint8_t *p, size_t n, int64_t deadline_ms) {
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
            continue;
        }
        if (r == 0) {
            return -ECONNRESET;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = wait_fd(fd, POLLIN, deadline_ms);
            if (rc != 0) {
                return rc;
            }
            continue;
        }
        return -errno;
    }
    return 0;
}

static int tcp_connect(const char *host, int port, int timeout_ms, char *err, size_t err_len) {
    char port_s[16];
    snprintf(port_s, sizeof(port_s), "%d", port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(host, port_s, &hints, &res);
    if (gai != 0) {
        snprintf(err, err_len, "cannot resolve %s: %s", host, gai_strerror(gai));
        return -1;
    }
    int64_t deadline = clock_mono_ms() + timeout_ms;
    int last = ECONNREFUSED;
    int fd = -1;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            rc = wait_fd(fd, POLLOUT, deadline);
            if (rc == 0) {
                int soerr = 0;
                socklen_t sl = sizeof(soerr);
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
                rc = soerr ? -soerr : 0;
            }
            if (rc != 0) {
                errno = -rc;
            }
        }
        if (rc == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            break;
        }
        last = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, err_len, "connection to %s:%d failed: %s", host, port, strerror(last));
    }
    return fd;
}

/* A connection whose stream state is unknown after an error is closed for good. */
static void drop(cli_conn_t *c) {
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}

static void conn_free(cli_conn_t *c) {
    if (c == NULL) {
        return;
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c->host);
    free(c);
}

/* Opens a connection and learns the broker's API versions. */
static cli_conn_t *conn_open(const char *host, int port, int32_t node_id, int timeout_ms, char *err,
                             size_t err_len) {
    int fd = tcp_connect(host, port, timeout_ms, err, err_len);
    if (fd < 0) {
        return NULL;
    }
    cli_conn_t *c = xcalloc(1, sizeof(*c));
    c->fd = fd;
    c->host = xstrdup(host);
    c->port = port;
    c->node_id = node_id;
    c->next_correlation_id = 1;
    for (size_t i = 0; i < sizeof(c->max_v) / sizeof(c->max_v[0]); i++) {
        c->max_v[i] = -1;
        c->min_v[i] = -1;
    }
    /* ApiVersions v0 is answered by every broker version. */
    kp_ApiVersionsRequest_t req;
    kp_init_ApiVersionsRequest(&req);
    cli_resp_t resp;
    cli_resp_init(&resp);
    if (cli_conn_request(c, KP_API_ApiVersions, 0, &req, true, timeout_ms, &resp, err, err_len) !=
        0) {
        cli_resp_destroy(&resp);
        conn_free(c);
        return NULL;
    }
    kp_ApiVersionsResponse_t *av = resp.msg;
    if (av->error_code != 0) {
        char kerr[256];
        cli_kafka_error(kerr, sizeof(kerr), av->error_code, NULL);
        snprintf(err, err_len, "ApiVersions to %s:%d failed: %s", host, port, kerr);
        cli_resp_destroy(&resp);
        conn_free(c);
        return NULL;
    }
    for (int32_t i = 0; i < av->n_api_keys; i++) {
        int16_t k = av->api_keys[i].api_key;
        if (k >= 0 && (size_t)k < sizeof(c->max_v) / sizeof(c->max_v[0])) {
            c->min_v[k] = av->api_keys[i].min_version;
            c->max_v[k] = av->api_keys[i].max_version;
        }
    }
    cli_resp_destroy(&resp);
    return c;
}

int16_t cli_conn_version(const cli_conn_t *c, int16_t api_key, int16_t lo, int16_t hi, char *err,
                         size_t err_len) {
    const kp_api_info_t *info = kp_api_info(api_key);
    const char *name = info ? info->name : "?";
    if (api_key < 0 || (size_t)api_key >= sizeof(c->max_v) / sizeof(c->max_v[0]) ||
        c->max_v[api_key] < 0) {
        snprintf(err, err_len, "broker %s:%d does not support the %s API", c->host, c->port, name);
        return -1;
    }
    int16_t v = c->max_v[api_key] < hi ? c->max_v[api_key] : hi;
    if (v < lo || v < c->min_v[api_key]) {
        snprintf(err, err_len,
                 "broker %s:%d supports %s versions %d-%d; this tool needs one of %d-%d", c->host,
                 c->port, name, c->min_v[api_key], c->max_v[api_key], lo, hi);
        return -1;
    }
    return v;
}

int cli_conn_request(cli_conn_t *c, int16_t api_key, int16_t version, const void *request,
                     bool expect_response, int timeout_ms, cli_resp_t *resp, char *err,
                     size_t err_len) {
    const kp_api_info_t *info = kp_api_info(api_key);
    const char *name = info ? info->name : "?";
    int64_t deadline = clock_mono_ms() + timeout_ms;
    kp_wr_t w;
    kp_wr_init(&w);
    size_t size_at = kp_wr_reserve_i32(&w);
    kp_RequestHeader_t hdr;
    kp_init_RequestHeader(&hdr);
    hdr.request_api_key = api_key;
    hdr.request_api_version = version;
    hdr.correlation_id = c->next_correlation_id++;
    hdr.client_id = CLIENT_ID;
    kp_encode_request_header(&w, &hdr);
    int rc = kp_encode_request_body(&w, api_key, version, request);
    if (rc != 0 || kp_wr_err(&w) != 0) {
        snprintf(err, err_len, "cannot encode %s v%d request", name, version);
        kp_wr_destroy(&w);
        return -1;
    }
    kp_wr_patch_i32(&w, size_at, (int32_t)(kp_wr_offset(&w) - 4));
    rc = c->fd >= 0 ? send_all(c->fd, w.buf.data, w.buf.len, deadline) : -ENOTCONN;
    kp_wr_destroy(&w);
    if (rc != 0) {
        drop(c);
        snprintf(err, err_len, "sending %s to %s:%d failed: %s", name, c->host, c->port,
                 strata_strerror(rc));
        return -1;
    }
    if (!expect_response) {
        return 0;
    }
    uint8_t size_b[4];
    rc = recv_all(c->fd, size_b, 4, deadline);
    if (rc == 0) {
        int32_t size = (int32_t)be32_get(size_b);
        if (size < 4 || size > MAX_RESPONSE_SIZE) {
            snprintf(err, err_len, "bad %s response size %d from %s:%d", name, size, c->host,
                     c->port);
            drop(c);
            return -1;
        }
        buf_reset(&resp->raw);
        rc = recv_all(c->fd, buf_extend(&resp->raw, (size_t)size), (size_t)size, deadline);
    }
    if (rc != 0) {
        drop(c);
        snprintf(err, err_len, "%s response from %s:%d: %s", name, c->host, c->port,
                 rc == -ETIMEDOUT ? "timed out" : strata_strerror(rc));
        return -1;
    }
    if (resp->arena == NULL) {
        resp->arena = arena_new(0);
    }
    kp_rd_t rd;
    kp_rd_init(&rd, resp->raw.data, resp->raw.len, resp->arena);
    int32_t corr = 0;
    if (kp_decode_response_header(&rd, api_key, version, &corr) != 0 ||
        corr != hdr.correlation_id) {
        snprintf(err, err_len, "%s response from %s:%d has correlation id %d, expected %d", name,
                 c->host, c->port, corr, hdr.correlation_id);
        drop(c);
        return -1;
    }
    if (kp_decode_response_body(&rd, api_key, version, &resp->msg) != 0) {
        snprintf(err, err_len, "cannot decode %s v%d response from %s:%d", name, version, c->host,
                 c->port);
        return -1;
    }
    return 0;
}

int cli_client_open(cli_client_t *cl, const char *bootstrap, char *err, size_t err_len) {
    memset(cl, 0, sizeof(*cl));
    cl->bootstrap = xstrdup(bootstrap);
    cl->controller_id = -1;
    if (cl->timeout_ms == 0) {
        cl->timeout_ms = 30000;
    }
    char *list = xstrdup(bootstrap);
    char *save = NULL;
    err[0] = '\0';
    for (char *tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') {
            tok++;
        }
        char *host;
        int port;
        if (cli_parse_host_port(tok, &host, &port) != 0) {
            snprintf(err, err_len, "invalid bootstrap server '%s' (expected host:port)", tok);
            free(list);
            return -1;
        }
        cl->boot = conn_open(host, port, -1, cl->timeout_ms, err, err_len);
        free(host);
        if (cl->boot != NULL) {
            break;
        }
    }
    free(list);
    if (cl->boot == NULL) {
        if (err[0] == '\0') {
            snprintf(err, err_len, "no bootstrap server in '%s'", bootstrap);
        }
        return -1;
    }
    return 0;
}

void cli_client_close(cli_client_t *cl) {
    for (size_t i = 0; i < cl->n_brokers; i++) {
        conn_free(cl->brokers[i].conn);
        free(cl->brokers[i].host);
        free(cl->brokers[i].rack);
    }
    free(cl->brokers);
    conn_free(cl->boot);
    free(cl->bootstrap);
    memset(cl, 0, sizeof(*cl));
}

cli_conn_t *cli_client_node(cli_client_t *cl, int32_t node_id, char *err, size_t err_len) {
    if (node_id == -1) {
        return cl->boot;
    }
    for (size_t i = 0; i < cl->n_brokers; i++) {
        cli_broker_t *b = &cl->brokers[i];
        if (b->node_id != node_id) {
            continue;
        }
        if (b->conn != NULL && b->conn->fd < 0) {
            conn_free(b->conn); /* broken earlier: reconnect */
            b->conn = NULL;
        }
        if (b->conn == NULL) {
            b->conn = conn_open(b->host, b->port, node_id, cl->timeout_ms, err, err_len);
        }
        return b->conn;
    }
    snprintf(err, err_len, "broker %d is not in the cluster metadata", node_id);
    return NULL;
}

int cli_client_metadata(cli_client_t *cl, const char *const *topics, int n_topics,
                        bool allow_auto_create, cli_resp_t *resp, char *err, size_t err_len) {
    if (cl->boot->fd < 0) {
        cli_conn_t *again =
            conn_open(cl->boot->host, cl->boot->port, -1, cl->timeout_ms, err, err_len);
        if (again == NULL) {
            return -1;
        }
        conn_free(cl->boot);
        cl->boot = again;
    }
    int16_t v = cli_conn_version(cl->boot, KP_API_Metadata, 1, 12, err, err_len);
    if (v < 0) {
        return -1;
    }
    kp_MetadataRequest_t req;
    kp_init_MetadataRequest(&req);
    kp_MetadataRequest_MetadataRequestTopic_t *rt = NULL;
    if (topics == NULL || n_topics < 0) {
        req.n_topics = -1;
        req.topics = NULL;
    } else {
        rt = xcalloc((size_t)n_topics + 1, sizeof(*rt));
        for (int i = 0; i < n_topics; i++) {
            kp_init_MetadataRequest_MetadataRequestTopic(&rt[i]);
            rt[i].name = (char *)topics[i];
        }
        req.n_topics = n_topics;
        req.topics = rt;
    }
    req.allow_auto_topic_creation = allow_auto_create;
    int rc = cli_conn_request(cl->boot, KP_API_Metadata, v, &req, true, cl->timeout_ms, resp, err,
                              err_len);
    free(rt);
    if (rc != 0) {
        return -1;
    }
    kp_MetadataResponse_t *md = resp->msg;
    cl->controller_id = md->controller_id;
    for (int32_t i = 0; i < md->n_brokers; i++) {
        const kp_MetadataResponse_MetadataResponseBroker_t *mb = &md->brokers[i];
        cli_broker_t *b = NULL;
        for (size_t j = 0; j < cl->n_brokers; j++) {
            if (cl->brokers[j].node_id == mb->node_id) {
                b = &cl->brokers[j];
            }
        }
        if (b == NULL) {
            cl->brokers = xrealloc(cl->brokers, (cl->n_brokers + 1) * sizeof(cli_broker_t));
            b = &cl->brokers[cl->n_brokers++];
            memset(b, 0, sizeof(*b));
            b->node_id = mb->node_id;
        } else if (b->port != mb->port || strcmp(b->host, mb->host ? mb->host : "") != 0) {
            conn_free(b->conn);
            b->conn = NULL;
        }
        free(b->host);
        free(b->rack);
        b->host = xstrdup(mb->host ? mb->host : "");
        b->port = mb->port;
        b->rack = mb->rack ? xstrdup(mb->rack) : NULL;
    }
    return 0;
}
