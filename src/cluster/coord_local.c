/*
 * coord_local: the embedded coordination store of a standalone broker (ZooKeeper's data
 * model, in process).
 *
 * One tree (cl_tree_t) is shared by any number of sessions (cl_session_t, each a coord_t):
 * coord_local_open() makes the tree and its first session, coord_local_open_session() adds
 * more, so several brokers in one process can share the tree and fail over (tests).
 *
 * Invariants:
 *  1. Operations are applied to the tree synchronously when called, in call order; their
 *     results and the watch events they trigger go onto one FIFO queue and are delivered
 *     from the loop (a uv_idle handle), never re-entrantly from inside the call. So, as in
 *     ZooKeeper, a client sees completions in request order and a watch event before the
 *     result of any later operation.
 *  2. Persistence: every change that touches a persistent node bumps t->gen. Once per loop
 *     turn (the idle callback), if gen > persisted_gen and no write is in flight, the
 *     persistent nodes are serialised on the loop (bounded by the tree size) and written by
 *     fs_atomic_replace() on the libuv thread pool (uv_queue_work): all changes of a turn
 *     coalesce into one write, and the loop never blocks on the disk. A queued item records
 *     the generation current when it was queued and is delivered only once that generation
 *     is durable, so a client never learns of a change (e.g. "topic created") that a crash
 *     could still lose. Memory-only trees (path NULL) are always "durable".
 *  3. Ephemeral nodes belong to a session; they are never persisted, vanish when their
 *     session closes or expires, and cannot have children.
 *  4. Watches fire once (ZooKeeper semantics): data/exists watches on create, set and delete;
 *     child watches on child create/delete and on the node's own delete. A watch registered
 *     twice with the same (session, cb, arg) fires once.
 *  5. Sequential nodes get a 10-digit suffix from the parent's cversion (ZooKeeper's rule).
 *  6. Multi is atomic: the ops are applied in order with an undo log; on the first failure
 *     everything is undone and no watch fires.
 *
 * File format (<data dir>/...): "SCL1", u32 node count, then per node u32 path length,
 * path, u32 data length, data, i32 data version, i32 cversion; then a CRC-32C (big-endian)
 * of everything before it. The file is read once at open (start-up, before serving).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cluster/cluster_int.h"
#include "strata/cluster.h"

typedef struct cl_tree cl_tree_t;
typedef struct cl_session cl_session_t;

typedef struct cl_node {
    char *path;
    char *data;
    size_t len;
    int32_t version;
    int32_t cversion;
    uint64_t owner;  /* session id of an ephemeral; 0 = persistent */
    char **children; /* names, sorted */
    size_t nchildren;
    size_t cap;
} cl_node_t;

typedef struct cl_watch {
    struct cl_watch *next;
    cl_session_t *s;
    coord_watch_cb cb;
    void *arg;
} cl_watch_t;

typedef enum { IT_CREATE, IT_DATA, IT_DONE, IT_CHILDREN, IT_WATCH } cl_item_kind_t;

typedef struct cl_item {
    struct cl_item *next;
    cl_session_t *s;
    cl_item_kind_t kind;
    int rc;
    union {
        coord_create_cb create;
        coord_data_cb data;
        coord_done_cb done;
        coord_children_cb children;
        coord_watch_cb watch;
    } cb;
    void *arg;
    char *path; /* created path or watch path */
    char *data;
    size_t len;
    int32_t version;
    char **names;
    size_t count;
    coord_event_t ev;
    uint64_t need_gen;
} cl_item_t;

struct cl_tree {
    uv_loop_t *loop;
    char *file;    /* NULL = memory only */
    map_t *nodes;  /* path -> cl_node_t */
    map_t *dwatch; /* path -> cl_watch_t list (data and exists watches) */
    map_t *cwatch; /* path -> cl_watch_t list (child watches) */
    cl_item_t *qhead;
    cl_item_t **qtail;
    size_t qlen;
    uv_idle_t idle;
    bool idle_on;
    uint64_t next_session;
    int nsessions;
    uint64_t gen;
    uint64_t persisted_gen;
    bool writing;
    uv_work_t work;
    buf_t wbuf;
    uint64_t wgen;
    int wrc;
    bool closing;
};

struct cl_session {
    coord_t base; /* first: a coord_t * is a cl_session_t * */
    cl_tree_t *t;
    uint64_t id;
    bool closed;
    size_t queued; /* items on the queue that point here */
    coord_watch_cb swatch;
    void *swarg;
};

/* A recorded change, for watches (fired after success) and for undo (multi). */
typedef enum { TR_CREATED, TR_DELETED, TR_CHANGED, TR_CHILD } cl_trig_kind_t;
typedef struct cl_trig {
    cl_trig_kind_t kind;
    char *path;
} cl_trig_t;

typedef enum { UN_CREATE, UN_SET, UN_DELETE } cl_undo_kind_t;
typedef struct cl_undo {
    cl_undo_kind_t kind;
    cl_node_t *node;     /* UN_DELETE: the removed node (kept); UN_SET: the node */
    char *path;          /* UN_CREATE: the created path */
    char *old_data;      /* UN_SET */
    size_t old_len;      /* UN_SET */
    int32_t old_version; /* UN_SET */
    int32_t parent_cversion;
} cl_undo_t;

typedef struct cl_txn {
    cl_trig_t *trigs;
    size_t ntrigs, trig_cap;
    cl_undo_t *undo; /* NULL unless in a multi */
    size_t nundo, undo_cap;
    bool record_undo;
    bool persistent_change;
} cl_txn_t;

static const coord_vtable_t cl_vtable;
static void wlist_free(void *p);

/* ---------------------------------------------------------------- nodes */

static cl_node_t *node_new(const char *path, const char *data, size_t len, uint64_t owner) {
    cl_node_t *n = xcalloc(1, sizeof(*n));
    n->path = xstrdup(path);
    if (len > 0) {
        n->data = xmalloc(len);
        memcpy(n->data, data, len);
    }
    n->len = len;
    n->owner = owner;
    return n;
}

static void node_free(void *p) {
    cl_node_t *n = p;
    if (!n) {
        return;
    }
    for (size_t i = 0; i < n->nchildren; i++) {
        free(n->children[i]);
    }
    free(n->children);
    free(n->data);
    free(n->path);
    free(n);
}

/* Position of name in the sorted children, or where it would go; *found tells. */
static size_t child_pos(const cl_node_t *n, const char *name, bool *found) {
    size_t lo = 0, hi = n->nchildren;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(n->children[mid], name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = false;
    return lo;
}

static void child_add(cl_node_t *n, const char *name) {
    bool found;
    size_t pos = child_pos(n, name, &found);
    if (found) {
        return;
    }
    if (n->nchildren == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 4;
        n->children = xrealloc(n->children, n->cap * sizeof(char *));
    }
    memmove(n->children + pos + 1, n->children + pos, (n->nchildren - pos) * sizeof(char *));
    n->children[pos] = xstrdup(name);
    n->nchildren++;
}

static void child_remove(cl_node_t *n, const char *name) {
    bool found;
    size_t pos = child_pos(n, name, &found);
    if (!found) {
        return;
    }
    free(n->children[pos]);
    memmove(n->children + pos, n->children + pos + 1, (n->nchildren - pos - 1) * sizeof(char *));
    n->nchildren--;
}

/* "/a/b" -> parent "/a", name "b". parent must hold strlen(path)+1 bytes. */
static void split_path(const char *path, char *parent, const char **name) {
    const char *slash = strrchr(path, '/');
    size_t plen = (size_t)(slash - path);
    if (plen == 0) {
        strcpy(parent, "/");
    } else {
        memcpy(parent, path, plen);
        parent[plen] = '\0';
    }
    *name = slash + 1;
}

static bool valid_path(const char *path) {
    if (!path || path[0] != '/') {
        return false;
    }
    if (strcmp(path, "/") == 0) {
        return true;
    }
    size_t len = strlen(path);
    if (path[len - 1] == '/' || len > 4096) {
        return false;
    }
    for (const char *p = path; *p; p++) {
        if (*p == '/' && p[1] == '/') {
            return false;
        }
        if (*p == '/' && p[1] == '.' && (p[2] == '/' || p[2] == '\0')) {
            return false;
        }
        if (*p == '/' && p[1] == '.' && p[2] == '.' && (p[3] == '/' || p[3] == '\0')) {
            return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------------- queue */

static void kick(cl_tree_t *t);

static cl_item_t *item_new(cl_session_t *s, cl_item_kind_t kind, int rc, void *arg) {
    cl_item_t *it = xcalloc(1, sizeof(*it));
    it->s = s;
    it->kind = kind;
    it->rc = rc;
    it->arg = arg;
    return it;
}

static void enqueue(cl_tree_t *t, cl_item_t *it) {
    it->need_gen = t->gen;
    it->s->queued++;
    *t->qtail = it;
    t->qtail = &it->next;
    t->qlen++;
    kick(t);
}

static void item_free(cl_item_t *it) {
    free(it->path);
    free(it->data);
    for (size_t i = 0; i < it->count; i++) {
        free(it->names[i]);
    }
    free(it->names);
    free(it);
}

static void session_maybe_free(cl_session_t *s) {
    if (s->closed && s->queued == 0) {
        free(s);
    }
}

/* Delivers one item; the item and possibly its (closed) session are freed. */
static void deliver(cl_item_t *it) {
    cl_session_t *s = it->s;
    bool closed = s->closed;
    int rc = closed ? STRATA_ESHUTDOWN : it->rc;
    switch (it->kind) {
    case IT_CREATE:
        it->cb.create(it->arg, rc, rc == 0 ? it->path : NULL);
        break;
    case IT_DATA:
        it->cb.data(it->arg, rc, rc == 0 ? it->data : NULL, rc == 0 ? it->len : 0,
                    rc == 0 ? it->version : -1);
        break;
    case IT_DONE:
        it->cb.done(it->arg, rc);
        break;
    case IT_CHILDREN:
        it->cb.children(it->arg, rc, rc == 0 ? (const char *const *)it->names : NULL,
                        rc == 0 ? it->count : 0);
        break;
    case IT_WATCH:
        if (!closed) {
            it->cb.watch(it->arg, it->ev, it->path);
        }
        break;
    }
    s->queued--;
    item_free(it);
    session_maybe_free(s);
}

/* ---------------------------------------------------------------- persistence */

static void put_u32(buf_t *b, uint32_t v) {
    be32_put(buf_extend(b, 4), v);
}

static void serialize(cl_tree_t *t, buf_t *b) {
    buf_reset(b);
    buf_append(b, "SCL1", 4);
    size_t count_at = b->len;
    put_u32(b, 0);
    uint32_t count = 0;
    map_iter_t it = MAP_ITER_INIT;
    const void *key;
    size_t klen;
    void *val;
    while (map_next(t->nodes, &it, &key, &klen, &val)) {
        cl_node_t *n = val;
        if (n->owner != 0) {
            continue;
        }
        size_t plen = strlen(n->path);
        put_u32(b, (uint32_t)plen);
        buf_append(b, n->path, plen);
        put_u32(b, (uint32_t)n->len);
        if (n->len) {
            buf_append(b, n->data, n->len);
        }
        put_u32(b, (uint32_t)n->version);
        put_u32(b, (uint32_t)n->cversion);
        count++;
    }
    be32_put(b->data + count_at, count);
    put_u32(b, crc32c(0, b->data, b->len));
}

static int load(cl_tree_t *t, const char *file) {
    buf_t b = BUF_INIT;
    int rc = fs_read_file(file, &b);
    if (rc == -ENOENT) {
        buf_destroy(&b);
        return 0;
    }
    if (rc != 0) {
        slog_error("[CoordLocal file=%s] read: %s", file, strata_strerror(rc));
        buf_destroy(&b);
        return rc;
    }
    rc = STRATA_ECORRUPT;
    if (b.len < 12 || memcmp(b.data, "SCL1", 4) != 0 ||
        crc32c(0, b.data, b.len - 4) != be32_get(b.data + b.len - 4)) {
        goto fail;
    }
    size_t end = b.len - 4, off = 8;
    uint32_t count = be32_get(b.data + 4);
    for (uint32_t i = 0; i < count; i++) {
        if (end - off < 4) {
            goto fail;
        }
        uint32_t plen = be32_get(b.data + off);
        off += 4;
        if (end - off < (size_t)plen + 4) {
            goto fail;
        }
        char *path = xstrndup((const char *)b.data + off, plen);
        off += plen;
        uint32_t dlen = be32_get(b.data + off);
        off += 4;
        if (end - off < (size_t)dlen + 8 || !valid_path(path)) {
            free(path);
            goto fail;
        }
        cl_node_t *n = node_new(path, (const char *)b.data + off, dlen, 0);
        free(path);
        off += dlen;
        n->version = (int32_t)be32_get(b.data + off);
        n->cversion = (int32_t)be32_get(b.data + off + 4);
        off += 8;
        node_free(map_put_str(t->nodes, n->path, n));
    }
    /* Rebuild the children lists; every parent must exist. */
    map_iter_t it = MAP_ITER_INIT;
    const void *key;
    size_t klen;
    void *val;
    while (map_next(t->nodes, &it, &key, &klen, &val)) {
        cl_node_t *n = val;
        if (strcmp(n->path, "/") == 0) {
            continue;
        }
        char *parent = xmalloc(strlen(n->path) + 1);
        const char *name;
        split_path(n->path, parent, &name);
        cl_node_t *p = map_get_str(t->nodes, parent);
        free(parent);
        if (!p) {
            goto fail;
        }
        child_add(p, name);
    }
    buf_destroy(&b);
    return 0;
fail:
    slog_error("[CoordLocal file=%s] corrupt store file", file);
    buf_destroy(&b);
    return STRATA_ECORRUPT;
}

static void write_work(uv_work_t *req) {
    cl_tree_t *t = req->data;
    t->wrc = fs_atomic_replace(t->file, t->wbuf.data, t->wbuf.len);
}

static void write_after(uv_work_t *req, int status) {
    cl_tree_t *t = req->data;
    (void)status;
    if (t->wrc != 0) {
        /* Durability of these changes is lost; keep serving (the next change retries). */
        slog_error("[CoordLocal file=%s] write: %s", t->file, strata_strerror(t->wrc));
    }
    t->writing = false;
    t->persisted_gen = t->wgen;
    kick(t);
}

static void maybe_write(cl_tree_t *t) {
    if (t->writing || t->gen == t->persisted_gen) {
        return;
    }
    serialize(t, &t->wbuf);
    t->wgen = t->gen;
    t->writing = true;
    t->work.data = t;
    int rc = uv_queue_work(t->loop, &t->work, write_work, write_after);
    if (rc != 0) {
        slog_error("[CoordLocal file=%s] queue write: %s", t->file, uv_strerror(rc));
        t->writing = false;
        t->persisted_gen = t->wgen;
    }
}

/* ---------------------------------------------------------------- loop driving */

static void tree_closed(uv_handle_t *h) {
    cl_tree_t *t = h->data;
    map_free(t->nodes, node_free);
    map_free(t->dwatch, wlist_free);
    map_free(t->cwatch, wlist_free);
    buf_destroy(&t->wbuf);
    free(t->file);
    free(t);
}

static bool deliverable(const cl_tree_t *t) {
    return t->qhead && t->qhead->need_gen <= t->persisted_gen;
}

static void on_idle(uv_idle_t *h) {
    cl_tree_t *t = h->data;
    maybe_write(t);
    /* Only what was queued before this turn: callbacks that queue more wait a turn. */
    size_t n = t->qlen;
    while (n-- > 0 && deliverable(t)) {
        cl_item_t *it = t->qhead;
        t->qhead = it->next;
        if (!t->qhead) {
            t->qtail = &t->qhead;
        }
        t->qlen--;
        deliver(it);
    }
    maybe_write(t);
    if (!deliverable(t) && !(t->gen != t->persisted_gen && !t->writing)) {
        uv_idle_stop(&t->idle);
        t->idle_on = false;
        if (t->closing && !t->qhead && !t->writing && t->gen == t->persisted_gen) {
            uv_close((uv_handle_t *)&t->idle, tree_closed);
        }
    }
}

static void kick(cl_tree_t *t) {
    if (!t->idle_on && !uv_is_closing((uv_handle_t *)&t->idle)) {
        t->idle_on = true;
        uv_idle_start(&t->idle, on_idle);
    }
}

/* ---------------------------------------------------------------- watches */

/* Map values are cl_wlist_t so a list can change without touching the map. */
typedef struct cl_wlist {
    cl_watch_t *head;
} cl_wlist_t;

static void wlist_free(void *p) {
    cl_wlist_t *l = p;
    if (!l) {
        return;
    }
    while (l->head) {
        cl_watch_t *next = l->head->next;
        free(l->head);
        l->head = next;
    }
    free(l);
}

static void watch_add(map_t *m, const char *path, cl_session_t *s, coord_watch_cb cb, void *arg) {
    cl_wlist_t *l = map_get_str(m, path);
    if (!l) {
        l = xcalloc(1, sizeof(*l));
        map_put_str(m, path, l);
    }
    cl_watch_t **pp = &l->head;
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->s == s && (*pp)->cb == cb && (*pp)->arg == arg) {
            return;
        }
    }
    cl_watch_t *w = xcalloc(1, sizeof(*w));
    w->s = s;
    w->cb = cb;
    w->arg = arg;
    *pp = w; /* appended: fires in registration order */
}

static void watch_fire(cl_tree_t *t, map_t *m, const char *path, coord_event_t ev) {
    cl_wlist_t *l = map_remove_str(m, path);
    if (!l) {
        return;
    }
    for (cl_watch_t *w = l->head; w; w = w->next) {
        cl_item_t *it = item_new(w->s, IT_WATCH, 0, w->arg);
        it->cb.watch = w->cb;
        it->ev = ev;
        it->path = xstrdup(path);
        enqueue(t, it);
    }
    wlist_free(l);
}

static void watches_drop_session(map_t *m, cl_session_t *s) {
    map_iter_t it = MAP_ITER_INIT;
    const void *key;
    size_t klen;
    void *val;
    while (map_next(m, &it, &key, &klen, &val)) {
        cl_wlist_t *l = val;
        cl_watch_t **pp = &l->head;
        while (*pp) {
            if ((*pp)->s == s) {
                cl_watch_t *dead = *pp;
                *pp = dead->next;
                free(dead);
            } else {
                pp = &(*pp)->next;
            }
        }
        if (!l->head) {
            map_remove(m, key, klen);
            free(l);
        }
    }
}

/* ---------------------------------------------------------------- core operations */

static void txn_trig(cl_txn_t *x, cl_trig_kind_t kind, const char *path) {
    if (x->ntrigs == x->trig_cap) {
        x->trig_cap = x->trig_cap ? x->trig_cap * 2 : 8;
        x->trigs = xrealloc(x->trigs, x->trig_cap * sizeof(cl_trig_t));
    }
    x->trigs[x->ntrigs].kind = kind;
    x->trigs[x->ntrigs].path = xstrdup(path);
    x->ntrigs++;
}

static cl_undo_t *txn_undo(cl_txn_t *x, cl_undo_kind_t kind) {
    if (!x->record_undo) {
        return NULL;
    }
    if (x->nundo == x->undo_cap) {
        x->undo_cap = x->undo_cap ? x->undo_cap * 2 : 8;
        x->undo = xrealloc(x->undo, x->undo_cap * sizeof(cl_undo_t));
    }
    cl_undo_t *u = &x->undo[x->nundo++];
    memset(u, 0, sizeof(*u));
    u->kind = kind;
    return u;
}

static int op_create(cl_tree_t *t, cl_session_t *s, const char *path, const char *data, size_t len,
                     int flags, cl_txn_t *x, char **created) {
    if (!valid_path(path) || strcmp(path, "/") == 0) {
        return STRATA_EINVAL;
    }
    size_t plen = strlen(path);
    char *parent = xmalloc(plen + 1);
    const char *name;
    split_path(path, parent, &name);
    int rc = 0;
    char *full = NULL;
    cl_node_t *p = map_get_str(t->nodes, parent);
    if (!p) {
        rc = STRATA_ENOTFOUND;
        goto done;
    }
    if (p->owner != 0) {
        rc = STRATA_EINVAL; /* no children for ephemerals */
        goto done;
    }
    if (flags & COORD_SEQUENTIAL) {
        full = xasprintf("%s%010d", path, p->cversion);
    } else {
        full = xstrdup(path);
    }
    if (map_get_str(t->nodes, full)) {
        rc = STRATA_EEXISTS;
        goto done;
    }
    const char *cname = strrchr(full, '/') + 1;
    cl_node_t *n = node_new(full, data, len, (flags & COORD_EPHEMERAL) ? s->id : 0);
    map_put_str(t->nodes, n->path, n);
    cl_undo_t *u = txn_undo(x, UN_CREATE);
    if (u) {
        u->path = xstrdup(full);
        u->parent_cversion = p->cversion;
    }
    child_add(p, cname);
    p->cversion++;
    if (n->owner == 0 || p->owner == 0) {
        x->persistent_change = true;
    }
    txn_trig(x, TR_CREATED, full);
    txn_trig(x, TR_CHILD, parent);
    if (created) {
        *created = full;
        full = NULL;
    }
done:
    free(full);
    free(parent);
    return rc;
}

static int op_set(cl_tree_t *t, const char *path, const char *data, size_t len, int32_t version,
                  cl_txn_t *x, int32_t *newver) {
    if (!valid_path(path)) {
        return STRATA_EINVAL;
    }
    cl_node_t *n = map_get_str(t->nodes, path);
    if (!n) {
        return STRATA_ENOTFOUND;
    }
    if (version != -1 && version != n->version) {
        return STRATA_EBADVERSION;
    }
    cl_undo_t *u = txn_undo(x, UN_SET);
    if (u) {
        u->node = n;
        u->old_data = n->data;
        u->old_len = n->len;
        u->old_version = n->version;
    } else {
        free(n->data);
    }
    n->data = NULL;
    if (len > 0) {
        n->data = xmalloc(len);
        memcpy(n->data, data, len);
    }
    n->len = len;
    n->version++;
    if (n->owner == 0) {
        x->persistent_change = true;
    }
    txn_trig(x, TR_CHANGED, path);
    if (newver) {
        *newver = n->version;
    }
    return 0;
}

/* Unlinks node n (no children) from the tree; keeps or frees it per the txn. */
static void unlink_node(cl_tree_t *t, cl_node_t *n, cl_txn_t *x) {
    char *parent = xmalloc(strlen(n->path) + 1);
    const char *name;
    split_path(n->path, parent, &name);
    cl_node_t *p = map_get_str(t->nodes, parent);
    cl_undo_t *u = txn_undo(x, UN_DELETE);
    if (u) {
        u->node = n;
        u->parent_cversion = p ? p->cversion : 0;
    }
    if (p) {
        child_remove(p, name);
        p->cversion++;
        if (p->owner == 0) {
            x->persistent_change = true;
        }
    }
    if (n->owner == 0) {
        x->persistent_change = true;
    }
    map_remove_str(t->nodes, n->path);
    txn_trig(x, TR_DELETED, n->path);
    txn_trig(x, TR_CHILD, parent);
    free(parent);
    if (!u) {
        node_free(n);
    }
}

static int op_delete(cl_tree_t *t, const char *path, int32_t version, cl_txn_t *x) {
    if (!valid_path(path) || strcmp(path, "/") == 0) {
        return STRATA_EINVAL;
    }
    cl_node_t *n = map_get_str(t->nodes, path);
    if (!n) {
        return STRATA_ENOTFOUND;
    }
    if (version != -1 && version != n->version) {
        return STRATA_EBADVERSION;
    }
    if (n->nchildren > 0) {
        return STRATA_ENOTEMPTY;
    }
    unlink_node(t, n, x);
    return 0;
}

static int op_check(cl_tree_t *t, const char *path, int32_t version) {
    if (!valid_path(path)) {
        return STRATA_EINVAL;
    }
    cl_node_t *n = map_get_str(t->nodes, path);
    if (!n) {
        return STRATA_ENOTFOUND;
    }
    if (version != -1 && version != n->version) {
        return STRATA_EBADVERSION;
    }
    return 0;
}

static void parent_of(const char *path, char **out) {
    *out = xmalloc(strlen(path) + 1);
    const char *name;
    split_path(path, *out, &name);
}

static void txn_rollback(cl_tree_t *t, cl_txn_t *x) {
    while (x->nundo > 0) {
        cl_undo_t *u = &x->undo[--x->nundo];
        switch (u->kind) {
        case UN_CREATE: {
            cl_node_t *n = map_remove_str(t->nodes, u->path);
            char *parent;
            parent_of(u->path, &parent);
            cl_node_t *p = map_get_str(t->nodes, parent);
            if (p) {
                child_remove(p, strrchr(u->path, '/') + 1);
                p->cversion = u->parent_cversion;
            }
            free(parent);
            node_free(n);
            free(u->path);
            break;
        }
        case UN_SET:
            free(u->node->data);
            u->node->data = u->old_data;
            u->node->len = u->old_len;
            u->node->version = u->old_version;
            break;
        case UN_DELETE: {
            cl_node_t *n = u->node;
            map_put_str(t->nodes, n->path, n);
            char *parent;
            parent_of(n->path, &parent);
            cl_node_t *p = map_get_str(t->nodes, parent);
            if (p) {
                child_add(p, strrchr(n->path, '/') + 1);
                p->cversion = u->parent_cversion;
            }
            free(parent);
            break;
        }
        }
    }
}

/* Commits: frees undo records, fires the watches, bumps the persistence generation. */
static void txn_commit(cl_tree_t *t, cl_txn_t *x) {
    for (size_t i = 0; i < x->nundo; i++) {
        cl_undo_t *u = &x->undo[i];
        if (u->kind == UN_SET) {
            free(u->old_data);
        } else if (u->kind == UN_DELETE) {
            node_free(u->node);
        } else {
            free(u->path);
        }
    }
    x->nundo = 0;
    if (x->persistent_change) {
        t->gen++;
        if (!t->file) {
            t->persisted_gen = t->gen;
        }
    }
    for (size_t i = 0; i < x->ntrigs; i++) {
        const char *p = x->trigs[i].path;
        switch (x->trigs[i].kind) {
        case TR_CREATED:
            watch_fire(t, t->dwatch, p, COORD_EV_CREATED);
            break;
        case TR_CHANGED:
            watch_fire(t, t->dwatch, p, COORD_EV_CHANGED);
            break;
        case TR_DELETED:
            watch_fire(t, t->dwatch, p, COORD_EV_DELETED);
            watch_fire(t, t->cwatch, p, COORD_EV_DELETED);
            break;
        case TR_CHILD:
            watch_fire(t, t->cwatch, p, COORD_EV_CHILDREN);
            break;
        }
    }
}

static void txn_destroy(cl_txn_t *x) {
    for (size_t i = 0; i < x->ntrigs; i++) {
        free(x->trigs[i].path);
    }
    free(x->trigs);
    free(x->undo);
}

/* ---------------------------------------------------------------- vtable */

static cl_session_t *sess(coord_t *c) {
    return (cl_session_t *)c;
}

static int cl_create(coord_t *c, const char *path, const char *data, size_t len, int flags,
                     coord_create_cb cb, void *arg) {
    cl_session_t *s = sess(c);
    if (s->closed) {
        return STRATA_ESHUTDOWN;
    }
    if (!valid_path(path)) {
        return STRATA_EINVAL;
    }
    cl_tree_t *t = s->t;
    cl_txn_t x = {0};
    char *created = NULL;
    int rc = op_create(t, s, path, data, len, flags, &x, &created);
    if (rc == 0) {
        txn_commit(t, &x);
    }
    txn_destroy(&x);
    if (cb) {
        cl_item_t *it = item_new(s, IT_CREATE, rc, arg);
        it->cb.create = cb;
        it->path = created;
        enqueue(t, it);
    } else {
        free(created);
    }
    return 0;
}

static int cl_get(coord_t *c, const char *path, coord_watch_cb wcb, void *warg, coord_data_cb cb,
                  void *arg) {
    cl_session_t *s = sess(c);
    if (s->closed) {
        return STRATA_ESHUTDOWN;
    }
    if (!valid_path(path)) {
        return STRATA_EINVAL;
    }
    cl_tree_t *t = s->t;
    cl_node_t *n = map_get_str(t->nodes, path);
    if (wcb) {
        watch_add(t->dwatch, path, s, wcb, warg);
    }
    if (cb) {
        cl_item_t *it = item_new(s, IT_DATA, n ? 0 : STRATA_ENOTFOUND, arg);
        it->cb.data = cb;
        if (n) {
            it->data = xmalloc(n->len + 1); /* NUL-terminated for convenience */
            if (n->len) {
                memcpy(it->data, n->data, n->len);
            }
            it->data[n->len] = '\0';
            it->len = n->len;
            it->version = n->version;
        }
        enqueue(t, it);
    }
    return 0;
}

static int cl_set(coord_t *c, const char *path, const char *data, size_t len, int32_t version,
                  coord_data_cb cb, void *arg) {
    cl_session_t *s = sess(c);
    if (s->closed) {
        return STRATA_ESHUTDOWN;
    }
    if (!valid_path(path)) {
        return STRATA_EINVAL;
    }
    cl_tree_t *t = s->t;
    cl_txn_t x = {0};
    int32_t newver = -1;
    int rc = op_set(t, path, data, len, version, &x, &newver);
    if (rc == 0) {
        txn_commit(t, &x);
    }
    txn_destroy(&x);
    if (cb) {
        cl_item_t *it = item_new(s, IT_DATA, rc, arg);
        it->cb.data = cb;
        it->version = newver;
        enqueue(t, it);
    }
    return 0;
}

static int cl_remove(coord_t *c, const char *path, int32_t version, coord_done_cb cb, void *arg) {
    cl_session_t *s = sess(c);
    if (s->closed) {
        return STRATA_ESHUTDOWN;
    }
    if (!valid_path(path)) {
        return STRATA_EINVAL;
    }
    cl_tree_t *t = s->t;
    cl_txn_t x = {0};
    int rc = op_delete(t, path, version, &x);
    if (rc == 0) {
        txn_commit(t, &x);
    }
    txn_destroy(&x);
    if (cb) {
        cl_item_t *it = item_new(s, IT_DONE, rc, arg);
        it->cb.done = cb;
        enqueue(t, it);
    }
    return 0;
}

static int cl_children(coord_t *c, const char *path, coord_watch_cb wcb, void *warg,
                       coord_children_cb cb, void *arg) {
    cl_session_t *s = sess(c);
    if (s->closed) {
        return STRATA_ESHUTDOWN;
    }
    if (!valid_path(path)) {
        return STRATA_EINVAL;
    }
    cl_tree_t *t = s->t;
    cl_node_t *n = map_get_str(t->nodes, path);
    if (wcb && n) { /* like ZooKeeper: no child watch on a missing node */
        watch_add(t->cwatch, path, s, wcb, warg);
    }
    if (cb) {
        cl_item_t *it = item_new(s, IT_CHILDREN, n ? 0 : STRATA_ENOTFOUND, arg);
        it->cb.children = cb;
        if (n && n->nchildren) {
            it->names = xmalloc(n->nchildren * sizeof(char *));
            for (size_t i = 0; i < n->nchildren; i++) {
                it->names[i] = xstrdup(n->children[i]);
            }
            it->count = n->nchildren;
        }
        enqueue(t, it);
    }
    return 0;
}

static int cl_multi(coord_t *c, const coord_op_t *ops, size_t n, coord_done_cb cb, void *arg) {
    cl_session_t *s = sess(c);
    if (s->closed) {
        return STRATA_ESHUTDOWN;
    }
    for (size_t i = 0; i < n; i++) {
        if (!valid_path(ops[i].path)) {
            return STRATA_EINVAL;
        }
    }
    cl_tree_t *t = s->t;
    cl_txn_t x = {0};
    x.record_undo = true;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const coord_op_t *op = &ops[i];
        switch (op->type) {
        case COORD_OP_CREATE:
            rc = op_create(t, s, op->path, op->data, op->len, op->flags, &x, NULL);
            break;
        case COORD_OP_SET:
            rc = op_set(t, op->path, op->data, op->len, op->version, &x, NULL);
            break;
        case COORD_OP_DELETE:
            rc = op_delete(t, op->path, op->version, &x);
            break;
        case COORD_OP_CHECK:
            rc = op_check(t, op->path, op->version);
            break;
        default:
            rc = STRATA_EINVAL;
            break;
        }
    }
    if (rc == 0) {
        txn_commit(t, &x);
    } else {
        txn_rollback(t, &x);
    }
    txn_destroy(&x);
    if (cb) {
        cl_item_t *it = item_new(s, IT_DONE, rc, arg);
        it->cb.done = cb;
        enqueue(t, it);
    }
    return 0;
}

static void cl_set_session_watch(coord_t *c, coord_watch_cb cb, void *arg) {
    cl_session_t *s = sess(c);
    s->swatch = cb;
    s->swarg = arg;
}

/* Removes the session's ephemerals (firing other sessions' watches). */
static void drop_ephemerals(cl_tree_t *t, cl_session_t *s) {
    /* Collect first: unlinking while iterating is not allowed for other entries. */
    size_t cap = 8, nd = 0;
    char **dead = xmalloc(cap * sizeof(char *));
    map_iter_t it = MAP_ITER_INIT;
    const void *key;
    size_t klen;
    void *val;
    while (map_next(t->nodes, &it, &key, &klen, &val)) {
        cl_node_t *n = val;
        if (n->owner == s->id) {
            if (nd == cap) {
                cap *= 2;
                dead = xrealloc(dead, cap * sizeof(char *));
            }
            dead[nd++] = xstrdup(n->path);
        }
    }
    for (size_t i = 0; i < nd; i++) {
        cl_txn_t x = {0};
        cl_node_t *n = map_get_str(t->nodes, dead[i]);
        if (n) {
            unlink_node(t, n, &x);
            txn_commit(t, &x);
        }
        txn_destroy(&x);
        free(dead[i]);
    }
    free(dead);
}

static void cl_close(coord_t *c) {
    cl_session_t *s = sess(c);
    if (s->closed) {
        return;
    }
    cl_tree_t *t = s->t;
    watches_drop_session(t->dwatch, s);
    watches_drop_session(t->cwatch, s);
    s->closed = true;
    drop_ephemerals(t, s);
    t->nsessions--;
    if (t->nsessions == 0) {
        t->closing = true;
    }
    kick(t);
    session_maybe_free(s);
}

static const coord_vtable_t cl_vtable = {
    .create = cl_create,
    .get = cl_get,
    .set = cl_set,
    .remove = cl_remove,
    .children = cl_children,
    .multi = cl_multi,
    .set_session_watch = cl_set_session_watch,
    .close = cl_close,
};

/* ---------------------------------------------------------------- public */

static cl_session_t *session_new(cl_tree_t *t) {
    cl_session_t *s = xcalloc(1, sizeof(*s));
    s->base.vt = &cl_vtable;
    s->t = t;
    s->id = ++t->next_session;
    t->nsessions++;
    return s;
}

int coord_local_open(uv_loop_t *loop, const char *path, coord_t **out) {
    *out = NULL;
    cl_tree_t *t = xcalloc(1, sizeof(*t));
    t->loop = loop;
    t->nodes = map_new();
    t->dwatch = map_new();
    t->cwatch = map_new();
    t->qtail = &t->qhead;
    buf_init(&t->wbuf);
    if (path) {
        t->file = xstrdup(path);
        int rc = load(t, path);
        if (rc != 0) {
            map_free(t->nodes, node_free);
            map_free(t->dwatch, NULL);
            map_free(t->cwatch, NULL);
            free(t->file);
            free(t);
            return rc;
        }
    }
    if (!map_get_str(t->nodes, "/")) {
        cl_node_t *root = node_new("/", NULL, 0, 0);
        map_put_str(t->nodes, root->path, root);
    }
    int rc = uv_idle_init(loop, &t->idle);
    if (rc != 0) {
        map_free(t->nodes, node_free);
        map_free(t->dwatch, NULL);
        map_free(t->cwatch, NULL);
        free(t->file);
        free(t);
        return rc;
    }
    t->idle.data = t;
    *out = &session_new(t)->base;
    return 0;
}

int coord_local_open_session(coord_t *c, coord_t **out) {
    *out = NULL;
    if (!c || c->vt != &cl_vtable) {
        return STRATA_EINVAL;
    }
    cl_session_t *s = sess(c);
    if (s->closed) {
        return STRATA_ESHUTDOWN;
    }
    *out = &session_new(s->t)->base;
    return 0;
}

void coord_local_expire(coord_t *c) {
    if (!c || c->vt != &cl_vtable) {
        return;
    }
    cl_session_t *s = sess(c);
    if (s->closed) {
        return;
    }
    cl_tree_t *t = s->t;
    watches_drop_session(t->dwatch, s);
    watches_drop_session(t->cwatch, s);
    drop_ephemerals(t, s);
    s->id = ++t->next_session; /* the handle continues as a new session */
    if (s->swatch) {
        cl_item_t *it = item_new(s, IT_WATCH, 0, s->swarg);
        it->cb.watch = s->swatch;
        it->ev = COORD_EV_SESSION_EXPIRED;
        enqueue(t, it);
    }
}
