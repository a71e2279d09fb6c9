/*
 * strata-zkdump: prints a ZooKeeper subtree as one JSON object, read through coord_zk (so the
 * asynchronous client is exercised too). For tests and operators:
 *
 *   strata-zkdump HOST:PORT[/chroot] [PATH]     (PATH defaults to /)
 *
 * Output: {"<path>": {"data": "<text>", "version": N}, ...} sorted by path, on stdout.
 * Exit codes: 0 done, 1 usage or PATH missing, 2 ZooKeeper unreachable within the deadline.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <uv.h>

#include "strata/cluster.h"
#include "strata/util.h"

#define DEADLINE_MS 15000

typedef struct dump {
    uv_loop_t *loop;
    coord_t *coord;
    json_t *out;
    int outstanding;
    int rc;
    bool finished;
    uv_timer_t timer;
} dump_t;

typedef struct node_req {
    dump_t *d;
    char *path;
} node_req_t;

static void visit(dump_t *d, const char *path);

static void finish(dump_t *d) {
    if (d->finished) {
        return;
    }
    d->finished = true;
    uv_timer_stop(&d->timer);
    uv_close((uv_handle_t *)&d->timer, NULL);
    coord_close(d->coord);
}

static void step_done(dump_t *d) {
    if (--d->outstanding == 0) {
        finish(d);
    }
}

static void fail(dump_t *d, int rc, const char *what, const char *path) {
    if (d->rc == 0) {
        fprintf(stderr, "strata-zkdump: %s %s: %s\n", what, path, strata_strerror(rc));
        d->rc = rc == STRATA_ENOTFOUND ? 1 : 2;
    }
}

static void on_data(void *arg, int rc, const char *data, size_t len, int32_t version) {
    node_req_t *n = arg;
    dump_t *d = n->d;
    if (rc == 0) {
        json_t *o = json_object();
        json_object_set_new(o, "data", json_stringn(data ? data : "", len));
        json_object_set_new(o, "version", json_integer(version));
        json_object_set_new(d->out, n->path, o);
    } else if (rc != STRATA_ENOTFOUND && rc != STRATA_ESHUTDOWN) {
        fail(d, rc, "get", n->path);
    }
    free(n->path);
    free(n);
    step_done(d);
}

static void on_children(void *arg, int rc, const char *const *names, size_t count) {
    node_req_t *n = arg;
    dump_t *d = n->d;
    if (rc == 0 && !d->rc) {
        for (size_t i = 0; i < count; i++) {
            char *child = strcmp(n->path, "/") == 0 ? xasprintf("/%s", names[i])
                                                    : xasprintf("%s/%s", n->path, names[i]);
            visit(d, child);
            free(child);
        }
    } else if (rc != 0 && rc != STRATA_ENOTFOUND && rc != STRATA_ESHUTDOWN) {
        fail(d, rc, "children", n->path);
    }
    free(n->path);
    free(n);
    step_done(d);
}

static void visit(dump_t *d, const char *path) {
    node_req_t *a = xcalloc(1, sizeof(*a));
    a->d = d;
    a->path = xstrdup(path);
    node_req_t *b = xcalloc(1, sizeof(*b));
    b->d = d;
    b->path = xstrdup(path);
    d->outstanding += 2;
    if (coord_get(d->coord, path, NULL, NULL, on_data, a) != 0) {
        free(a->path);
        free(a);
        d->outstanding--;
    }
    if (coord_children(d->coord, path, NULL, NULL, on_children, b) != 0) {
        free(b->path);
        free(b);
        d->outstanding--;
    }
}

static void on_deadline(uv_timer_t *t) {
    dump_t *d = t->data;
    fprintf(stderr, "strata-zkdump: no answer from ZooKeeper within %d ms\n", DEADLINE_MS);
    d->rc = 2;
    finish(d);
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: strata-zkdump HOST:PORT[/chroot] [PATH]\n");
        return 1;
    }
    const char *path = argc == 3 ? argv[2] : "/";
    if (path[0] != '/') {
        fprintf(stderr, "strata-zkdump: PATH must be absolute\n");
        return 1;
    }
    slog_set_level(SLOG_ERROR);
    uv_loop_t loop;
    uv_loop_init(&loop);
    dump_t d = {.loop = &loop, .out = json_object()};
    int rc = coord_zk_open(&loop, argv[1], 10000, &d.coord);
    if (rc != 0) {
        fprintf(stderr, "strata-zkdump: %s: %s\n", argv[1], strata_strerror(rc));
        return 1;
    }
    uv_timer_init(&loop, &d.timer);
    d.timer.data = &d;
    uv_timer_start(&d.timer, on_deadline, DEADLINE_MS, 0);
    visit(&d, path);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (d.rc == 0 && !json_object_get(d.out, path)) {
        fprintf(stderr, "strata-zkdump: %s: no such node\n", path);
        d.rc = 1;
    }
    if (d.rc == 0) {
        char *s = json_dumps(d.out, JSON_SORT_KEYS | JSON_INDENT(1));
        puts(s);
        free(s);
    }
    json_decref(d.out);
    return d.rc;
}
