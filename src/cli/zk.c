/*
 * zk: a small blocking ZooKeeper client for `strata topics --zookeeper`, built on the
 * cluster module's coord_zk (so chroot handling and the C client's diagnostics are the
 * broker's) driven on a private libuv loop. The CLI is not an event loop: each call runs
 * that loop until its completion arrives or the deadline passes.
 *
 * Invariants:
 *  1. A call's state (zk_call_t) is heap-allocated and freed exactly once: by the waiter
 *     when the completion arrived in time, or by the completion itself when the waiter gave
 *     up (abandoned). coord_close delivers every pending completion (STRATA_ESHUTDOWN)
 *     before it returns, so nothing is left behind after cli_zk_close.
 *  2. After one deadline is missed the session is treated as broken: later calls fail at
 *     once, so an unreachable ZooKeeper costs one deadline, not one per call.
 */
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cli/cli.h"
#include "strata/cluster.h"

struct cli_zk {
    uv_loop_t loop;
    coord_t *coord;
    uv_timer_t timer;
    bool timer_fired;
    bool broken;
    int timeout_ms;
    char *connect;
};

typedef struct zk_call {
    bool done;
    bool abandoned;
    int rc;
    char *data; /* get: NUL-terminated copy, NULL for a node without data */
    size_t len;
    int32_t version;
    char **names; /* children */
    size_t n_names;
} zk_call_t;

static void call_free(zk_call_t *c) {
    free(c->data);
    cli_zk_free_names(c->names, c->n_names);
    free(c);
}

void cli_zk_free_names(char **names, size_t n) {
    if (names == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
}

static void on_timer(uv_timer_t *t) {
    cli_zk_t *z = t->data;
    z->timer_fired = true;
}

cli_zk_t *cli_zk_open(const char *connect, int timeout_ms, char *err, size_t err_len) {
    cli_zk_t *z = xcalloc(1, sizeof(*z));
    z->timeout_ms = timeout_ms;
    z->connect = xstrdup(connect);
    uv_loop_init(&z->loop);
    uv_timer_init(&z->loop, &z->timer);
    z->timer.data = z;
    /* The C client's connection warnings would repeat on stderr while it retries; the
     * CLI reports its own error when a call misses its deadline. */
    slog_set_level(SLOG_ERROR);
    /* A shorter session than the call deadline: the C client gives up connecting to a
     * silent server after 2/3 of it, so a retry still fits in the deadline. */
    int rc = coord_zk_open(&z->loop, connect, timeout_ms / 2, &z->coord);
    if (rc != 0) {
        snprintf(err, err_len, "ZooKeeper '%s': %s (expected HOST:PORT[,HOST:PORT][/chroot])",
                 connect, strata_strerror(rc));
        z->coord = NULL;
        cli_zk_close(z);
        return NULL;
    }
    return z;
}

void cli_zk_close(cli_zk_t *z) {
    if (z == NULL) {
        return;
    }
    coord_close(z->coord);
    uv_close((uv_handle_t *)&z->timer, NULL);
    /* coord_zk finishes zookeeper_close on the thread pool: let it. */
    uv_run(&z->loop, UV_RUN_DEFAULT);
    uv_loop_close(&z->loop);
    free(z->connect);
    free(z);
}

/* Runs the loop until c completes or the deadline passes. @returns c->rc, or
 * STRATA_ECONNLOSS with err filled (c is then abandoned to its completion). */
static int wait_call(cli_zk_t *z, zk_call_t *c, const char *what, const char *path, char *err,
                     size_t err_len) {
    z->timer_fired = false;
    uv_timer_start(&z->timer, on_timer, (uint64_t)z->timeout_ms, 0);
    while (!c->done && !z->timer_fired) {
        uv_run(&z->loop, UV_RUN_ONCE);
    }
    uv_timer_stop(&z->timer);
    if (!c->done) {
        c->abandoned = true;
        z->broken = true;
        snprintf(err, err_len, "ZooKeeper %s: no answer to %s %s within %d ms", z->connect, what,
                 path, z->timeout_ms);
        return STRATA_ECONNLOSS;
    }
    if (c->rc == STRATA_ECONNLOSS) {
        snprintf(err, err_len, "ZooKeeper %s is not reachable (%s %s: connection lost)", z->connect,
                 what, path);
    } else if (c->rc != 0) {
        snprintf(err, err_len, "ZooKeeper %s: %s %s: %s", z->connect, what, path,
                 strata_strerror(c->rc));
    }
    return c->rc;
}

static int broken(const cli_zk_t *z, char *err, size_t err_len) {
    snprintf(err, err_len, "ZooKeeper %s: not reachable", z->connect);
    return STRATA_ECONNLOSS;
}

/* The call completed: keep the result for the waiter, or drop it when abandoned. */
static bool finish(zk_call_t *c, int rc) {
    if (c->abandoned) {
        call_free(c);
        return false;
    }
    c->rc = rc;
    c->done = true;
    return true;
}

static void on_data(void *arg, int rc, const char *data, size_t len, int32_t version) {
    zk_call_t *c = arg;
    if (finish(c, rc) && rc == 0) {
        c->data = data != NULL ? xstrndup(data, len) : NULL;
        c->len = data != NULL ? len : 0;
        c->version = version;
    }
}

static void on_created(void *arg, int rc, const char *path) {
    (void)path;
    finish(arg, rc);
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void on_children(void *arg, int rc, const char *const *names, size_t count) {
    zk_call_t *c = arg;
    if (finish(c, rc) && rc == 0) {
        c->names = xcalloc(count + 1, sizeof(char *));
        for (size_t i = 0; i < count; i++) {
            c->names[i] = xstrdup(names[i]);
        }
        c->n_names = count;
        qsort(c->names, count, sizeof(char *), cmp_name);
    }
}

/* Reads are re-sent after a connection loss (the client reconnects) while the call's
 * deadline allows; writes are not (the caller decides). */
enum { READ_ATTEMPTS = 3 };

static bool may_retry(const cli_zk_t *z, int rc, int64_t start_ms) {
    return rc == STRATA_ECONNLOSS && clock_mono_ms() - start_ms < z->timeout_ms;
}

int cli_zk_get(cli_zk_t *z, const char *path, char **data, size_t *len, int32_t *version, char *err,
               size_t err_len) {
    *data = NULL;
    *len = 0;
    int rc = STRATA_ECONNLOSS;
    int64_t start = clock_mono_ms();
    for (int attempt = 0; attempt < READ_ATTEMPTS && may_retry(z, rc, start); attempt++) {
        if (z->broken) {
            return broken(z, err, err_len);
        }
        zk_call_t *c = xcalloc(1, sizeof(*c));
        rc = coord_get(z->coord, path, NULL, NULL, on_data, c);
        if (rc != 0) {
            free(c);
            snprintf(err, err_len, "ZooKeeper %s: get %s: %s", z->connect, path,
                     strata_strerror(rc));
            return rc;
        }
        rc = wait_call(z, c, "get", path, err, err_len);
        if (c->abandoned) {
            return rc;
        }
        if (rc == 0) {
            *data = c->data;
            *len = c->len;
            c->data = NULL;
            if (version != NULL) {
                *version = c->version;
            }
        }
        call_free(c);
    }
    return rc;
}

int cli_zk_children(cli_zk_t *z, const char *path, char ***names, size_t *n, char *err,
                    size_t err_len) {
    *names = NULL;
    *n = 0;
    int rc = STRATA_ECONNLOSS;
    int64_t start = clock_mono_ms();
    for (int attempt = 0; attempt < READ_ATTEMPTS && may_retry(z, rc, start); attempt++) {
        if (z->broken) {
            return broken(z, err, err_len);
        }
        zk_call_t *c = xcalloc(1, sizeof(*c));
        rc = coord_children(z->coord, path, NULL, NULL, on_children, c);
        if (rc != 0) {
            free(c);
            snprintf(err, err_len, "ZooKeeper %s: children %s: %s", z->connect, path,
                     strata_strerror(rc));
            return rc;
        }
        rc = wait_call(z, c, "children of", path, err, err_len);
        if (c->abandoned) {
            return rc;
        }
        if (rc == 0) {
            *names = c->names;
            *n = c->n_names;
            c->names = NULL;
            c->n_names = 0;
        }
        call_free(c);
    }
    return rc;
}

int cli_zk_create(cli_zk_t *z, const char *path, const char *data, size_t len, char *err,
                  size_t err_len) {
    if (z->broken) {
        return broken(z, err, err_len);
    }
    zk_call_t *c = xcalloc(1, sizeof(*c));
    int rc = coord_create(z->coord, path, data, len, COORD_PERSISTENT, on_created, c);
    if (rc != 0) {
        free(c);
        snprintf(err, err_len, "ZooKeeper %s: create %s: %s", z->connect, path,
                 strata_strerror(rc));
        return rc;
    }
    rc = wait_call(z, c, "create", path, err, err_len);
    if (!c->abandoned) {
        call_free(c);
    }
    return rc;
}

int cli_zk_set(cli_zk_t *z, const char *path, const char *data, size_t len, int32_t version,
               char *err, size_t err_len) {
    if (z->broken) {
        return broken(z, err, err_len);
    }
    zk_call_t *c = xcalloc(1, sizeof(*c));
    int rc = coord_set(z->coord, path, data, len, version, on_data, c);
    if (rc != 0) {
        free(c);
        snprintf(err, err_len, "ZooKeeper %s: set %s: %s", z->connect, path, strata_strerror(rc));
        return rc;
    }
    rc = wait_call(z, c, "set", path, err, err_len);
    if (!c->abandoned) {
        call_free(c);
    }
    return rc;
}
