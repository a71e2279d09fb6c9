/*
 * coord_zk: the coord interface on a real Apache ZooKeeper through libzookeeper_mt's
 * asynchronous API (zoo_acreate, zoo_awexists, zoo_aget, zoo_aset, zoo_adelete,
 * zoo_awget_children, zoo_amulti). The libuv loop never waits on ZooKeeper.
 *
 * Invariants:
 *  1. ZooKeeper's threads (its I/O and completion threads, and the pool thread running
 *     zookeeper_init/zookeeper_close) only fill in the request or event they were handed
 *     and push it onto the MPSC queue `q` under `mu`, then uv_async_send. Everything else
 *     (lists, user callbacks, handles) is touched on the loop thread only.
 *  2. The loop drains the whole queue each time (sends coalesce) and runs user callbacks
 *     there. No user callback ever runs inside the call that issued the operation.
 *  3. A request is freed exactly once: by the loop when its result is delivered, or after
 *     its handle's zookeeper_close returned (ZooKeeper will not call back any more).
 *  4. A watch context handed to ZooKeeper stays allocated until ZooKeeper can no longer
 *     call it: after its node event was delivered, after its arming failed, or after its
 *     handle was closed. Session events reaching node watchers are ignored.
 *  5. zookeeper_init (it resolves host names) and zookeeper_close (it waits for the server
 *     and joins threads) run on the libuv thread pool, one such job at a time. Operations
 *     issued while no handle exists wait in `waiting` and are sent when one does.
 *  6. Chroot ("h:p/chroot") is applied here, not by the C client: paths are prefixed on the
 *     way in and stripped from created paths and watch paths; the chroot node is created on
 *     every new handle before any queued operation (a session's requests are ordered).
 *  7. On session expiry the session watch gets COORD_EV_SESSION_EXPIRED (operations in
 *     flight fail with STRATA_ESESSION) and a new handle is opened; the upper layer
 *     re-registers, re-reads and re-arms. Connection loss is ridden out by the client:
 *     operations in flight fail with STRATA_ECONNLOSS, and COORD_EV_CONNECTED is delivered
 *     when the same session reconnects.
 *  8. After coord_close returns, the only callbacks ever made are the STRATA_ESHUTDOWN
 *     completions it delivers itself, before returning.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <zookeeper/zookeeper.h>

#include "cluster/coord_zk.h"
#include "strata/cluster.h"
#include "strata/util.h"

typedef struct zk zk_t;
typedef struct zk_conn zk_conn_t;

/* One zhandle_t and the session it carries. */
struct zk_conn {
    zk_t *z;
    zhandle_t *zh; /* NULL until zookeeper_init returned (set on the loop) */
    bool lost;     /* connection lost, same session may come back */
    bool expired;
    zk_conn_t *next; /* z->conns */
};

typedef enum { REQ_CREATE, REQ_GET, REQ_SET, REQ_REMOVE, REQ_CHILDREN, REQ_MULTI } req_kind_t;

/* One watch context handed to ZooKeeper: one per (handle, kind, path, cb, arg), so that
 * arming the same watch twice registers it once and it fires once (ZooKeeper dedupes a
 * watcher by function and context). Loop-side bookkeeping mirrors ZooKeeper's tables, in
 * the order its I/O thread saw responses and notifications. */
typedef struct zk_watch {
    zk_t *z;
    zk_conn_t *conn;
    bool child;
    coord_watch_cb cb;
    void *arg;
    bool registered; /* in ZooKeeper's watch tables */
    int arming;      /* armings in flight */
    char *key;
    size_t key_len;
    struct zk_watch *prev, *next; /* z->watches (loop) */
} zk_watch_t;

typedef struct zk_req {
    zk_t *z;
    req_kind_t kind;
    zk_conn_t *conn; /* handle it was sent on; NULL while waiting */
    union {
        coord_create_cb create;
        coord_data_cb data;
        coord_done_cb done;
        coord_children_cb children;
    } cb;
    void *arg;
    bool cancelled; /* ESHUTDOWN already delivered by coord_close */
    /* the operation (copied) */
    char *path; /* full path, chroot included */
    char *data;
    size_t len;
    int flags;
    int32_t version;
    coord_watch_cb wcb; /* watch to arm (resolved to `watch` when sent) */
    void *warg;
    zk_watch_t *watch;
    coord_op_t *ops; /* multi: paths full, data copied */
    size_t nops;
    zoo_op_t *zops;
    zoo_op_result_t *zres;
    char **mpaths; /* multi create path buffers */
    struct Stat *mstats;
    /* results (written by ZooKeeper's thread, read by the loop after the queue handoff) */
    int outstanding; /* completions still expected; guarded by z->mu */
    int zrc;
    int watch_zrc; /* get with watch: result of the arming exists */
    char *rpath;   /* created path */
    char *rdata;
    size_t rlen;
    int32_t rversion;
    char **names;
    size_t nnames;
    struct zk_req *prev, *next; /* z->inflight or z->waiting (loop) */
} zk_req_t;

typedef enum { EV_REQ, EV_WATCH, EV_SESSION } ev_kind_t;

typedef struct zk_ev {
    ev_kind_t kind;
    zk_req_t *req;
    zk_watch_t *watch;
    zk_conn_t *conn;
    int type, state;
    char *path;
    struct zk_ev *next;
} zk_ev_t;

typedef struct zk_job {
    uv_work_t work;
    zk_t *z;
    zk_conn_t **close; /* zookeeper_close these */
    size_t nclose;
    zk_conn_t *open_conn; /* zookeeper_init into this one (may be NULL) */
    zhandle_t *opened;
    int open_errno;
} zk_job_t;

struct zk {
    coord_t base;
    uv_loop_t *loop;
    uv_async_t async;
    uv_timer_t retry;
    int handles_open; /* async + timer, for the final free */
    char *hosts;
    char *chroot; /* "" or "/a/b" */
    int session_timeout_ms;
    coord_watch_cb session_cb;
    void *session_arg;

    pthread_mutex_t mu; /* guards q and req->outstanding */
    zk_ev_t *q_head, *q_tail;

    zk_conn_t *cur;   /* current handle (NULL while none) */
    zk_conn_t *conns; /* all conns not yet closed and freed */
    zk_req_t *inflight, *waiting;
    zk_watch_t *watches;
    map_t *watch_map; /* key -> zk_watch_t */
    bool job_busy;
    bool retry_armed;
    bool closing;
    bool draining;
    bool final_pending; /* closing finished inside drain(): clean up when it returns */
    bool finalized;
};

static const coord_vtable_t zk_vtable;

/* ---------------------------------------------------------------- helpers */

static int map_zrc(int zrc) {
    switch (zrc) {
    case ZOK:
        return 0;
    case ZNONODE:
        return STRATA_ENOTFOUND;
    case ZNODEEXISTS:
        return STRATA_EEXISTS;
    case ZBADVERSION:
        return STRATA_EBADVERSION;
    case ZNOTEMPTY:
        return STRATA_ENOTEMPTY;
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT:
    case ZSESSIONMOVED:
        return STRATA_ECONNLOSS;
    case ZSESSIONEXPIRED:
    case ZINVALIDSTATE:
        return STRATA_ESESSION;
    case ZCLOSING:
        return STRATA_ESHUTDOWN;
    case ZBADARGUMENTS:
    case ZNOCHILDRENFOREPHEMERALS:
    case ZINVALIDACL:
    case ZMARSHALLINGERROR:
        return STRATA_EINVAL;
    default:
        return -EIO;
    }
}

static bool valid_path(const char *path) {
    if (!path || path[0] != '/') {
        return false;
    }
    size_t n = strlen(path);
    return n == 1 || path[n - 1] != '/';
}

/* chroot + path; "/" maps to the chroot itself. */
static char *full_path(const zk_t *z, const char *path) {
    if (!z->chroot[0]) {
        return xstrdup(path);
    }
    if (strcmp(path, "/") == 0) {
        return xstrdup(z->chroot);
    }
    return xasprintf("%s%s", z->chroot, path);
}

/* The client's view of a server path (chroot stripped). Returns a pointer into path. */
static const char *client_path(const zk_t *z, const char *path) {
    size_t n = strlen(z->chroot);
    if (n == 0 || !path) {
        return path;
    }
    if (strncmp(path, z->chroot, n) == 0) {
        if (path[n] == '\0') {
            return "/";
        }
        if (path[n] == '/') {
            return path + n;
        }
    }
    return path;
}

/* Pushes ev and wakes the loop. @locality any */
static void push_locked(zk_t *z, zk_ev_t *ev) {
    ev->next = NULL;
    if (z->q_tail) {
        z->q_tail->next = ev;
    } else {
        z->q_head = ev;
    }
    z->q_tail = ev;
}

static void push(zk_t *z, zk_ev_t *ev) {
    pthread_mutex_lock(&z->mu);
    push_locked(z, ev);
    pthread_mutex_unlock(&z->mu);
    uv_async_send(&z->async);
}

/* One completion of req arrived (or a synchronous failure stands for it): when none are
 * left, hand the request to the loop. @locality any */
static void req_part_done(zk_req_t *req) {
    zk_t *z = req->z;
    zk_ev_t *ev = NULL;
    pthread_mutex_lock(&z->mu);
    if (--req->outstanding == 0) {
        ev = xcalloc(1, sizeof(*ev));
        ev->kind = EV_REQ;
        ev->req = req;
        push_locked(z, ev);
    }
    pthread_mutex_unlock(&z->mu);
    if (ev) {
        uv_async_send(&z->async);
    }
}

static void list_remove_req(zk_req_t **head, zk_req_t *r) {
    if (r->prev) {
        r->prev->next = r->next;
    } else {
        *head = r->next;
    }
    if (r->next) {
        r->next->prev = r->prev;
    }
    r->prev = r->next = NULL;
}

static void list_push_req(zk_req_t **head, zk_req_t *r) {
    r->prev = NULL;
    r->next = *head;
    if (*head) {
        (*head)->prev = r;
    }
    *head = r;
}

static void watch_free(zk_t *z, zk_watch_t *w) {
    map_remove(z->watch_map, w->key, w->key_len);
    free(w->key);
    if (w->prev) {
        w->prev->next = w->next;
    } else {
        z->watches = w->next;
    }
    if (w->next) {
        w->next->prev = w->prev;
    }
    free(w);
}

static void req_free(zk_req_t *r) {
    if (!r) {
        return;
    }
    free(r->path);
    free(r->data);
    free(r->rpath);
    free(r->rdata);
    for (size_t i = 0; i < r->nnames; i++) {
        free(r->names[i]);
    }
    free(r->names);
    for (size_t i = 0; i < r->nops; i++) {
        free((char *)r->ops[i].path);
        free((char *)r->ops[i].data);
        if (r->mpaths) {
            free(r->mpaths[i]);
        }
    }
    free(r->ops);
    free(r->zops);
    free(r->zres);
    free(r->mpaths);
    free(r->mstats);
    free(r);
}

/* ---------------------------------------------------------------- ZooKeeper threads */

/* Global watcher of a handle: session state changes. @locality zookeeper */
static void on_session(zhandle_t *zh, int type, int state, const char *path, void *ctx) {
    (void)zh;
    (void)path;
    zk_conn_t *conn = ctx;
    if (type != ZOO_SESSION_EVENT || !conn) {
        return;
    }
    zk_ev_t *ev = xcalloc(1, sizeof(*ev));
    ev->kind = EV_SESSION;
    ev->conn = conn;
    ev->state = state;
    push(conn->z, ev);
}

/* Watcher of one arming. Session events are ignored (invariant 4). @locality zookeeper */
static void on_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx) {
    (void)zh;
    zk_watch_t *w = ctx;
    if (type == ZOO_SESSION_EVENT) {
        return;
    }
    zk_ev_t *ev = xcalloc(1, sizeof(*ev));
    ev->kind = EV_WATCH;
    ev->watch = w;
    ev->type = type;
    ev->state = state;
    ev->path = path ? xstrdup(path) : NULL;
    push(w->z, ev);
}

static void on_create(int rc, const char *value, const void *data) {
    zk_req_t *r = (zk_req_t *)data;
    r->zrc = rc;
    if (rc == ZOK && value) {
        r->rpath = xstrdup(value);
    }
    req_part_done(r);
}

static void copy_data(zk_req_t *r, const char *value, int value_len) {
    size_t n = value && value_len > 0 ? (size_t)value_len : 0;
    r->rdata = xmalloc(n + 1);
    if (n) {
        memcpy(r->rdata, value, n);
    }
    r->rdata[n] = '\0';
    r->rlen = n;
}

static void on_get(int rc, const char *value, int value_len, const struct Stat *stat,
                   const void *data) {
    zk_req_t *r = (zk_req_t *)data;
    r->zrc = rc;
    if (rc == ZOK) {
        copy_data(r, value, value_len);
        r->rversion = stat ? stat->version : -1;
    }
    req_part_done(r);
}

/* The exists that arms a get's watch; the get itself follows it. */
static void on_arm_exists(int rc, const struct Stat *stat, const void *data) {
    (void)stat;
    zk_req_t *r = (zk_req_t *)data;
    r->watch_zrc = rc;
    req_part_done(r);
}

static void on_set(int rc, const struct Stat *stat, const void *data) {
    zk_req_t *r = (zk_req_t *)data;
    r->zrc = rc;
    if (rc == ZOK && stat) {
        r->rversion = stat->version;
    }
    req_part_done(r);
}

static void on_void(int rc, const void *data) {
    zk_req_t *r = (zk_req_t *)data;
    r->zrc = rc;
    req_part_done(r);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void on_children(int rc, const struct String_vector *strings, const void *data) {
    zk_req_t *r = (zk_req_t *)data;
    r->zrc = rc;
    if (rc == ZOK && strings && strings->count > 0) {
        r->nnames = (size_t)strings->count;
        r->names = xcalloc(r->nnames, sizeof(char *));
        for (size_t i = 0; i < r->nnames; i++) {
            r->names[i] = xstrdup(strings->data[i]);
        }
        qsort(r->names, r->nnames, sizeof(char *), cmp_str);
    }
    req_part_done(r);
}

static void on_multi(int rc, const void *data) {
    zk_req_t *r = (zk_req_t *)data;
    int first = rc;
    /* The overall code may be the generic one; the first failed op says what went wrong. */
    if (rc != ZOK) {
        for (size_t i = 0; i < r->nops; i++) {
            int e = r->zres[i].err;
            if (e != ZOK && e != ZRUNTIMEINCONSISTENCY) {
                first = e;
                break;
            }
        }
    }
    r->zrc = first;
    req_part_done(r);
}

/* The chroot's own creation: nothing to report (a failure shows in the next operation). */
static void on_chroot_create(int rc, const char *value, const void *data) {
    (void)rc;
    (void)value;
    (void)data;
}

/* The C client's own diagnostics (WARN and up), in our log format, as warnings: the
 * connection-level trouble it reports is ridden out, and session-level outcomes are logged
 * by deliver_session. The message starts with its own timestamp, thread and level: keep
 * what follows "ZOO_<LEVEL>@". @locality zookeeper */
static void on_client_log(const char *message) {
    const char *m = message ? message : "";
    const char *zoo = strstr(m, "ZOO_");
    if (zoo) {
        const char *at = strchr(zoo, '@');
        m = at ? at + 1 : zoo;
    }
    size_t n = strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == '\r')) {
        n--;
    }
    slog_warn("[ZooKeeper client] %.*s", (int)n, m);
}

/* ---------------------------------------------------------------- thread-pool jobs */

static void job_work(uv_work_t *w) {
    zk_job_t *job = w->data;
    for (size_t i = 0; i < job->nclose; i++) {
        zookeeper_close(job->close[i]->zh); /* blocks: that is why it is here */
    }
    if (job->open_conn) {
        errno = 0;
        job->opened = zookeeper_init2(job->z->hosts, on_session, job->z->session_timeout_ms, NULL,
                                      job->open_conn, 0, on_client_log);
        job->open_errno = job->opened ? 0 : errno;
    }
}

static void drain(zk_t *z);
static void submit(zk_t *z, zk_req_t *r);
static void kick(zk_t *z);

static void conn_unlink(zk_t *z, zk_conn_t *conn) {
    for (zk_conn_t **pp = &z->conns; *pp; pp = &(*pp)->next) {
        if (*pp == conn) {
            *pp = conn->next;
            break;
        }
    }
}

/* Frees what still refers to a closed handle: requests ZooKeeper never completed and
 * watches it can no longer call. Runs after the queue was drained. */
static void conn_release(zk_t *z, zk_conn_t *conn) {
    for (zk_req_t *r = z->inflight, *nx; r; r = nx) {
        nx = r->next;
        if (r->conn == conn) {
            list_remove_req(&z->inflight, r);
            req_free(r); /* its watch, if any, belongs to conn: freed below */
        }
    }
    for (zk_watch_t *w = z->watches, *nx; w; w = nx) {
        nx = w->next;
        if (w->conn == conn) {
            watch_free(z, w);
        }
    }
    free(conn);
}

static void handle_closed(uv_handle_t *h) {
    zk_t *z = h->data;
    if (--z->handles_open == 0) {
        pthread_mutex_destroy(&z->mu);
        free(z->hosts);
        free(z->chroot);
        free(z);
    }
}

/* Closing and every zhandle is closed: drop what is left, release the loop handles.
 * Never runs inside drain(). */
static void final_cleanup(zk_t *z) {
    if (z->finalized) {
        return;
    }
    z->finalized = true;
    drain(z); /* closing: frees only, no user callbacks */
    while (z->conns) {
        zk_conn_t *conn = z->conns;
        z->conns = conn->next;
        conn_release(z, conn);
    }
    while (z->waiting) {
        zk_req_t *r = z->waiting;
        list_remove_req(&z->waiting, r);
        req_free(r);
    }
    while (z->inflight) {
        zk_req_t *r = z->inflight;
        list_remove_req(&z->inflight, r);
        req_free(r);
    }
    while (z->watches) {
        watch_free(z, z->watches);
    }
    map_free(z->watch_map, NULL);
    z->watch_map = NULL;
    uv_close((uv_handle_t *)&z->async, handle_closed);
    uv_close((uv_handle_t *)&z->retry, handle_closed);
}

static void retry_cb(uv_timer_t *t) {
    zk_t *z = t->data;
    z->retry_armed = false;
    kick(z);
}

/* The handle exists: create the chroot, then send what waited for it (in order). */
static void conn_ready(zk_t *z, zk_conn_t *conn) {
    if (z->chroot[0]) {
        char *p = xstrdup(z->chroot);
        for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
            if (s) {
                *s = '\0';
            }
            zoo_acreate(conn->zh, p, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, on_chroot_create, NULL);
            if (!s) {
                break;
            }
            *s = '/';
        }
        free(p);
    }
    /* waiting is a stack: send the oldest first */
    zk_req_t *list = NULL;
    while (z->waiting) {
        zk_req_t *r = z->waiting;
        list_remove_req(&z->waiting, r);
        list_push_req(&list, r);
    }
    while (list) {
        zk_req_t *r = list;
        list_remove_req(&list, r);
        submit(z, r);
    }
}

static void job_done(uv_work_t *w, int status) {
    (void)status;
    zk_job_t *job = w->data;
    zk_t *z = job->z;
    /* job_busy stays set until the end: callbacks run below may call coord_close */
    for (size_t i = 0; i < job->nclose; i++) {
        job->close[i]->zh = NULL;
        if (!z->closing) {
            conn_unlink(z, job->close[i]);
        }
    }
    if (job->open_conn) {
        zk_conn_t *conn = job->open_conn;
        if (job->opened) {
            conn->zh = job->opened;
            if (!z->closing && z->cur == conn) {
                conn_ready(z, conn);
            }
        } else if (!z->closing) {
            slog_error("[ZooKeeper %s%s] zookeeper_init failed: %s; retrying in 1 s", z->hosts,
                       z->chroot, strerror(job->open_errno ? job->open_errno : EINVAL));
            z->retry_armed = true;
            uv_timer_start(&z->retry, retry_cb, 1000, 0);
        }
    }
    if (!z->closing) {
        drain(z); /* the closed handles' last events, before their memory goes */
        for (size_t i = 0; i < job->nclose; i++) {
            conn_release(z, job->close[i]);
        }
    }
    free(job->close);
    free(job);
    z->job_busy = false;
    kick(z);
}

/* Starts the next thread-pool job if one is due: close handles that are no longer current
 * (all of them when closing) and open the current one when it has none yet. */
static void kick(zk_t *z) {
    if (z->job_busy || z->finalized) {
        return;
    }
    size_t n = 0;
    for (zk_conn_t *c = z->conns; c; c = c->next) {
        if (c->zh && (z->closing || c != z->cur)) {
            n++;
        }
    }
    zk_conn_t *open = NULL;
    if (!z->closing && z->cur && !z->cur->zh && !z->retry_armed) {
        open = z->cur;
    }
    if (n == 0 && !open) {
        if (z->closing) {
            if (z->draining) {
                z->final_pending = true;
            } else {
                final_cleanup(z);
            }
        }
        return;
    }
    zk_job_t *job = xcalloc(1, sizeof(*job));
    job->z = z;
    job->close = n ? xcalloc(n, sizeof(zk_conn_t *)) : NULL;
    for (zk_conn_t *c = z->conns; c; c = c->next) {
        if (c->zh && (z->closing || c != z->cur)) {
            job->close[job->nclose++] = c;
        }
    }
    job->open_conn = open;
    job->work.data = job;
    z->job_busy = true;
    int rc = uv_queue_work(z->loop, &job->work, job_work, job_done);
    STRATA_ASSERT(rc == 0);
}

/* ---------------------------------------------------------------- loop side */

static void deliver_req(zk_t *z, zk_req_t *r) {
    list_remove_req(&z->inflight, r);
    int rc = map_zrc(r->zrc);
    if (r->watch) {
        /* Registered when the exists (get) or the children call succeeded. */
        zk_watch_t *w = r->watch;
        bool armed =
            r->kind == REQ_GET ? (r->watch_zrc == ZOK || r->watch_zrc == ZNONODE) : r->zrc == ZOK;
        w->arming--;
        if (armed) {
            w->registered = true;
        } else if (!w->registered && w->arming == 0) {
            watch_free(z, w);
        }
        r->watch = NULL;
    }
    if (r->cancelled || z->closing) {
        req_free(r);
        return;
    }
    switch (r->kind) {
    case REQ_CREATE:
        if (r->cb.create) {
            r->cb.create(r->arg, rc, rc == 0 && r->rpath ? client_path(z, r->rpath) : NULL);
        }
        break;
    case REQ_GET:
        if (r->cb.data) {
            r->cb.data(r->arg, rc, rc == 0 ? r->rdata : NULL, rc == 0 ? r->rlen : 0,
                       rc == 0 ? r->rversion : -1);
        }
        break;
    case REQ_SET:
        if (r->cb.data) {
            r->cb.data(r->arg, rc, NULL, 0, rc == 0 ? r->rversion : -1);
        }
        break;
    case REQ_REMOVE:
    case REQ_MULTI:
        if (r->cb.done) {
            r->cb.done(r->arg, rc);
        }
        break;
    case REQ_CHILDREN:
        if (r->cb.children) {
            r->cb.children(r->arg, rc, (const char *const *)r->names, rc == 0 ? r->nnames : 0);
        }
        break;
    }
    req_free(r);
}

static coord_event_t map_event(int type) {
    if (type == ZOO_CREATED_EVENT) {
        return COORD_EV_CREATED;
    }
    if (type == ZOO_DELETED_EVENT) {
        return COORD_EV_DELETED;
    }
    if (type == ZOO_CHILD_EVENT) {
        return COORD_EV_CHILDREN;
    }
    return COORD_EV_CHANGED;
}

static void deliver_watch(zk_t *z, zk_ev_t *ev) {
    zk_watch_t *w = ev->watch;
    coord_watch_cb cb = w->cb;
    void *arg = w->arg;
    /* ZooKeeper moved it out of its tables before calling; an arming still in flight may
     * put it back, so it lives on until that one reports. */
    w->registered = false;
    if (w->arming == 0) {
        watch_free(z, w);
    }
    if (ev->type == ZOO_NOTWATCHING_EVENT || z->closing) {
        return;
    }
    const char *path = client_path(z, ev->path);
    cb(arg, map_event(ev->type), path);
}

static void deliver_session(zk_t *z, zk_ev_t *ev) {
    zk_conn_t *conn = ev->conn;
    if (z->closing || conn != z->cur) {
        return; /* an old handle's last words */
    }
    if (ev->state == ZOO_CONNECTING_STATE) {
        if (!conn->lost) {
            slog_warn("[ZooKeeper %s%s] connection lost; reconnecting", z->hosts, z->chroot);
        }
        conn->lost = true;
    } else if (ev->state == ZOO_CONNECTED_STATE || ev->state == ZOO_READONLY_STATE) {
        if (conn->lost) {
            conn->lost = false;
            slog_info("[ZooKeeper %s%s] reconnected, session intact", z->hosts, z->chroot);
            if (z->session_cb) {
                z->session_cb(z->session_arg, COORD_EV_CONNECTED, NULL);
            }
        }
    } else if (ev->state == ZOO_EXPIRED_SESSION_STATE || ev->state == ZOO_AUTH_FAILED_STATE) {
        if (conn->expired) {
            return;
        }
        conn->expired = true;
        slog_warn("[ZooKeeper %s%s] session %s; opening a new session", z->hosts, z->chroot,
                  ev->state == ZOO_EXPIRED_SESSION_STATE ? "expired" : "authentication failed");
        /* New handle first, so that what the session watch issues waits for it. */
        zk_conn_t *fresh = xcalloc(1, sizeof(*fresh));
        fresh->z = z;
        fresh->next = z->conns;
        z->conns = fresh;
        z->cur = fresh;
        if (z->session_cb) {
            z->session_cb(z->session_arg, COORD_EV_SESSION_EXPIRED, NULL);
        }
        kick(z); /* closes the expired handle and opens the fresh one */
    }
}

/* Runs every queued event. Reentrancy (coord_close from a callback) is allowed. */
static void drain(zk_t *z) {
    if (z->draining) {
        return;
    }
    z->draining = true;
    for (;;) {
        pthread_mutex_lock(&z->mu);
        zk_ev_t *list = z->q_head;
        z->q_head = z->q_tail = NULL;
        pthread_mutex_unlock(&z->mu);
        if (!list) {
            break;
        }
        while (list) {
            zk_ev_t *ev = list;
            list = ev->next;
            switch (ev->kind) {
            case EV_REQ:
                deliver_req(z, ev->req);
                break;
            case EV_WATCH:
                deliver_watch(z, ev);
                break;
            case EV_SESSION:
                deliver_session(z, ev);
                break;
            }
            free(ev->path);
            free(ev);
        }
    }
    z->draining = false;
    if (z->final_pending) {
        z->final_pending = false;
        final_cleanup(z);
    }
}

static void async_cb(uv_async_t *a) {
    drain(a->data);
}

/* The watch context for (conn, kind, path, cb, arg), made on first use. */
static zk_watch_t *watch_get(zk_t *z, zk_conn_t *conn, bool child, const char *path,
                             coord_watch_cb cb, void *arg) {
    buf_t key = BUF_INIT;
    buf_append(&key, &conn, sizeof(conn));
    buf_append(&key, &child, sizeof(child));
    buf_append(&key, &cb, sizeof(cb));
    buf_append(&key, &arg, sizeof(arg));
    buf_append(&key, path, strlen(path));
    zk_watch_t *w = map_get(z->watch_map, key.data, key.len);
    if (w) {
        buf_destroy(&key);
        return w;
    }
    w = xcalloc(1, sizeof(*w));
    w->z = z;
    w->conn = conn;
    w->child = child;
    w->cb = cb;
    w->arg = arg;
    w->key = (char *)key.data; /* takes the buffer */
    w->key_len = key.len;
    map_put(z->watch_map, w->key, w->key_len, w);
    w->next = z->watches;
    if (z->watches) {
        z->watches->prev = w;
    }
    z->watches = w;
    return w;
}

/* Sends r on the current handle, or parks it until one exists. */
static void submit(zk_t *z, zk_req_t *r) {
    zk_conn_t *conn = z->cur;
    if (!conn || !conn->zh) {
        list_push_req(&z->waiting, r);
        return;
    }
    r->conn = conn;
    list_push_req(&z->inflight, r);
    if (r->wcb) {
        r->watch = watch_get(z, conn, r->kind == REQ_CHILDREN, r->path, r->wcb, r->warg);
        r->watch->arming++;
    }
    zhandle_t *zh = conn->zh;
    int zrc = ZOK;
    switch (r->kind) {
    case REQ_CREATE: {
        int zflags = 0;
        if (r->flags & COORD_EPHEMERAL) {
            zflags |= ZOO_EPHEMERAL;
        }
        if (r->flags & COORD_SEQUENTIAL) {
            zflags |= ZOO_SEQUENCE;
        }
        r->outstanding = 1;
        zrc = zoo_acreate(zh, r->path, r->data, (int)r->len, &ZOO_OPEN_ACL_UNSAFE, zflags,
                          on_create, r);
        break;
    }
    case REQ_GET:
        if (r->watch) {
            /* exists arms a watch whether or not the node exists (fires on create too);
             * the plain get right behind it reads the data, in the same session order. */
            r->outstanding = 2;
            zrc = zoo_awexists(zh, r->path, on_watch, r->watch, on_arm_exists, r);
            if (zrc != ZOK) {
                r->outstanding = 1;
                r->watch_zrc = zrc;
                break;
            }
            zrc = zoo_aget(zh, r->path, 0, on_get, r);
        } else {
            r->outstanding = 1;
            zrc = zoo_aget(zh, r->path, 0, on_get, r);
        }
        break;
    case REQ_SET:
        r->outstanding = 1;
        zrc = zoo_aset(zh, r->path, r->data, (int)r->len, r->version, on_set, r);
        break;
    case REQ_REMOVE:
        r->outstanding = 1;
        zrc = zoo_adelete(zh, r->path, r->version, on_void, r);
        break;
    case REQ_CHILDREN:
        r->outstanding = 1;
        if (r->watch) {
            zrc = zoo_awget_children(zh, r->path, on_watch, r->watch, on_children, r);
        } else {
            zrc = zoo_aget_children(zh, r->path, 0, on_children, r);
        }
        break;
    case REQ_MULTI:
        r->outstanding = 1;
        zrc = zoo_amulti(zh, (int)r->nops, r->zops, r->zres, on_multi, r);
        break;
    }
    if (zrc != ZOK) {
        /* Not sent: report it through the queue so the callback still runs later. */
        r->zrc = zrc;
        req_part_done(r);
    }
}

static zk_req_t *req_new(zk_t *z, req_kind_t kind, const char *path, void *arg) {
    zk_req_t *r = xcalloc(1, sizeof(*r));
    r->z = z;
    r->kind = kind;
    r->arg = arg;
    r->version = -1;
    r->rversion = -1;
    r->watch_zrc = ZOK;
    if (path) {
        r->path = full_path(z, path);
    }
    return r;
}

/* ---------------------------------------------------------------- vtable */

static int zk_create(coord_t *c, const char *path, const char *data, size_t len, int flags,
                     coord_create_cb cb, void *arg) {
    zk_t *z = (zk_t *)c;
    if (z->closing) {
        return STRATA_ESHUTDOWN;
    }
    if (!valid_path(path) || (len && !data) || len > INT32_MAX) {
        return STRATA_EINVAL;
    }
    zk_req_t *r = req_new(z, REQ_CREATE, path, arg);
    r->cb.create = cb;
    r->data = xmalloc(len + 1);
    if (len) {
        memcpy(r->data, data, len);
    }
    r->len = len;
    r->flags = flags;
    submit(z, r);
    return 0;
}

static int zk_get(coord_t *c, const char *path, coord_watch_cb wcb, void *warg, coord_data_cb cb,
                  void *arg) {
    zk_t *z = (zk_t *)c;
    if (z->closing) {
        return STRATA_ESHUTDOWN;
    }
    if (!valid_path(path)) {
        return STRATA_EINVAL;
    }
    zk_req_t *r = req_new(z, REQ_GET, path, arg);
    r->cb.data = cb;
    r->wcb = wcb;
    r->warg = warg;
    submit(z, r);
    return 0;
}

static int zk_set(coord_t *c, const char *path, const char *data, size_t len, int32_t version,
                  coord_data_cb cb, void *arg) {
    zk_t *z = (zk_t *)c;
    if (z->closing) {
        return STRATA_ESHUTDOWN;
    }
    if (!valid_path(path) || (len && !data) || len > INT32_MAX) {
        return STRATA_EINVAL;
    }
    zk_req_t *r = req_new(z, REQ_SET, path, arg);
    r->cb.data = cb;
    r->data = xmalloc(len + 1);
    if (len) {
        memcpy(r->data, data, len);
    }
    r->len = len;
    r->version = version;
    submit(z, r);
    return 0;
}

static int zk_remove(coord_t *c, const char *path, int32_t version, coord_done_cb cb, void *arg) {
    zk_t *z = (zk_t *)c;
    if (z->closing) {
        return STRATA_ESHUTDOWN;
    }
    if (!valid_path(path) || strcmp(path, "/") == 0) {
        return STRATA_EINVAL;
    }
    zk_req_t *r = req_new(z, REQ_REMOVE, path, arg);
    r->cb.done = cb;
    r->version = version;
    submit(z, r);
    return 0;
}

static int zk_children(coord_t *c, const char *path, coord_watch_cb wcb, void *warg,
                       coord_children_cb cb, void *arg) {
    zk_t *z = (zk_t *)c;
    if (z->closing) {
        return STRATA_ESHUTDOWN;
    }
    if (!valid_path(path)) {
        return STRATA_EINVAL;
    }
    zk_req_t *r = req_new(z, REQ_CHILDREN, path, arg);
    r->cb.children = cb;
    r->wcb = wcb;
    r->warg = warg;
    submit(z, r);
    return 0;
}

static int zk_multi(coord_t *c, const coord_op_t *ops, size_t n, coord_done_cb cb, void *arg) {
    zk_t *z = (zk_t *)c;
    if (z->closing) {
        return STRATA_ESHUTDOWN;
    }
    if (n == 0 || n > 1000 || !ops) {
        return STRATA_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!valid_path(ops[i].path) || (ops[i].len && !ops[i].data) || ops[i].len > INT32_MAX) {
            return STRATA_EINVAL;
        }
        if (ops[i].type != COORD_OP_CREATE && ops[i].type != COORD_OP_SET &&
            ops[i].type != COORD_OP_DELETE && ops[i].type != COORD_OP_CHECK) {
            return STRATA_EINVAL;
        }
    }
    zk_req_t *r = req_new(z, REQ_MULTI, NULL, arg);
    r->cb.done = cb;
    r->nops = n;
    r->ops = xcalloc(n, sizeof(coord_op_t));
    r->zops = xcalloc(n, sizeof(zoo_op_t));
    r->zres = xcalloc(n, sizeof(zoo_op_result_t));
    r->mpaths = xcalloc(n, sizeof(char *));
    r->mstats = xcalloc(n, sizeof(struct Stat));
    for (size_t i = 0; i < n; i++) {
        coord_op_t *o = &r->ops[i];
        *o = ops[i];
        o->path = full_path(z, ops[i].path);
        char *d = xmalloc(ops[i].len + 1);
        if (ops[i].len) {
            memcpy(d, ops[i].data, ops[i].len);
        }
        o->data = d;
        switch (o->type) {
        case COORD_OP_CREATE: {
            int zflags = 0;
            if (o->flags & COORD_EPHEMERAL) {
                zflags |= ZOO_EPHEMERAL;
            }
            if (o->flags & COORD_SEQUENTIAL) {
                zflags |= ZOO_SEQUENCE;
            }
            size_t cap = strlen(o->path) + 16;
            r->mpaths[i] = xcalloc(1, cap);
            zoo_create_op_init(&r->zops[i], o->path, o->data, (int)o->len, &ZOO_OPEN_ACL_UNSAFE,
                               zflags, r->mpaths[i], (int)cap);
            break;
        }
        case COORD_OP_SET:
            zoo_set_op_init(&r->zops[i], o->path, o->data, (int)o->len, o->version, &r->mstats[i]);
            break;
        case COORD_OP_DELETE:
            zoo_delete_op_init(&r->zops[i], o->path, o->version);
            break;
        case COORD_OP_CHECK:
            zoo_check_op_init(&r->zops[i], o->path, o->version);
            break;
        }
    }
    submit(z, r);
    return 0;
}

static void zk_set_session_watch(coord_t *c, coord_watch_cb cb, void *arg) {
    zk_t *z = (zk_t *)c;
    z->session_cb = cb;
    z->session_arg = arg;
}

static void cancel_list(zk_req_t *list) {
    for (zk_req_t *r = list; r; r = r->next) {
        if (r->cancelled) {
            continue;
        }
        r->cancelled = true;
        switch (r->kind) {
        case REQ_CREATE:
            if (r->cb.create) {
                r->cb.create(r->arg, STRATA_ESHUTDOWN, NULL);
            }
            break;
        case REQ_GET:
        case REQ_SET:
            if (r->cb.data) {
                r->cb.data(r->arg, STRATA_ESHUTDOWN, NULL, 0, -1);
            }
            break;
        case REQ_REMOVE:
        case REQ_MULTI:
            if (r->cb.done) {
                r->cb.done(r->arg, STRATA_ESHUTDOWN);
            }
            break;
        case REQ_CHILDREN:
            if (r->cb.children) {
                r->cb.children(r->arg, STRATA_ESHUTDOWN, NULL, 0);
            }
            break;
        }
    }
}

static void zk_close(coord_t *c) {
    zk_t *z = (zk_t *)c;
    if (z->closing) {
        return;
    }
    z->closing = true;
    z->session_cb = NULL;
    uv_timer_stop(&z->retry);
    z->cur = NULL;
    /* Callbacks may issue new operations: they get ESHUTDOWN synchronously (closing). */
    cancel_list(z->inflight);
    cancel_list(z->waiting);
    kick(z);
}

static const coord_vtable_t zk_vtable = {
    .create = zk_create,
    .get = zk_get,
    .set = zk_set,
    .remove = zk_remove,
    .children = zk_children,
    .multi = zk_multi,
    .set_session_watch = zk_set_session_watch,
    .close = zk_close,
};

/* ---------------------------------------------------------------- open */

static pthread_once_t zk_once = PTHREAD_ONCE_INIT;

static void zk_global_init(void) {
    zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
}

/* Splits "h1:p1,h2:p2/chroot" into hosts and chroot ("" when none). */
static int parse_connect(const char *connect, char **hosts, char **chroot) {
    if (!connect || !connect[0]) {
        return STRATA_EINVAL;
    }
    const char *slash = strchr(connect, '/');
    size_t hl = slash ? (size_t)(slash - connect) : strlen(connect);
    if (hl == 0) {
        return STRATA_EINVAL;
    }
    /* every host:port entry needs a host and a numeric port */
    char *h = xstrndup(connect, hl);
    char *save = NULL;
    char *copy = xstrdup(h);
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(tok, ':');
        int64_t port = 0;
        if (!colon || colon == tok || parse_int64(colon + 1, &port) != 0 || port < 1 ||
            port > 65535) {
            free(copy);
            free(h);
            return STRATA_EINVAL;
        }
    }
    free(copy);
    char *ch = xstrdup(slash ? slash : "");
    size_t cl = strlen(ch);
    while (cl > 0 && ch[cl - 1] == '/') {
        ch[--cl] = '\0'; /* "/" and "/a/" mean no chroot and "/a" */
    }
    if (cl && (strstr(ch, "//") || !valid_path(ch))) {
        free(ch);
        free(h);
        return STRATA_EINVAL;
    }
    *hosts = h;
    *chroot = ch;
    return 0;
}

int coord_zk_open(uv_loop_t *loop, const char *connect, int session_timeout_ms, coord_t **out) {
    char *hosts = NULL, *chroot = NULL;
    int rc = parse_connect(connect, &hosts, &chroot);
    if (rc != 0) {
        slog_error("[ZooKeeper] invalid zookeeper.connect '%s': expected host:port[,host:port]"
                   "[/chroot]",
                   connect ? connect : "");
        return rc;
    }
    if (session_timeout_ms <= 0) {
        free(hosts);
        free(chroot);
        return STRATA_EINVAL;
    }
    pthread_once(&zk_once, zk_global_init);
    zk_t *z = xcalloc(1, sizeof(*z));
    z->base.vt = &zk_vtable;
    z->loop = loop;
    z->hosts = hosts;
    z->chroot = chroot;
    z->session_timeout_ms = session_timeout_ms;
    z->watch_map = map_new();
    pthread_mutex_init(&z->mu, NULL);
    rc = uv_async_init(loop, &z->async, async_cb);
    if (rc != 0) {
        pthread_mutex_destroy(&z->mu);
        map_free(z->watch_map, NULL);
        free(hosts);
        free(chroot);
        free(z);
        return rc;
    }
    z->async.data = z;
    uv_timer_init(loop, &z->retry);
    z->retry.data = z;
    z->handles_open = 2;
    zk_conn_t *conn = xcalloc(1, sizeof(*conn));
    conn->z = z;
    z->conns = conn;
    z->cur = conn;
    kick(z);
    *out = &z->base;
    return 0;
}

int coord_zk_session(coord_t *c, int64_t *session_id, char passwd[16]) {
    zk_t *z = (zk_t *)c;
    if (!z->cur || !z->cur->zh) {
        return STRATA_ENOTFOUND;
    }
    const clientid_t *id = zoo_client_id(z->cur->zh);
    if (!id || id->client_id == 0) {
        return STRATA_ENOTFOUND;
    }
    *session_id = id->client_id;
    memcpy(passwd, id->passwd, 16);
    return 0;
}
