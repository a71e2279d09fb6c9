/*
 * cluster: coordination and cluster metadata.
 *
 *  - coord_: a small asynchronous tree store (ZooKeeper's model). coord_zk runs on a
 *    real ZooKeeper through libzookeeper_mt; coord_local is the embedded store of a
 *    standalone broker, persisted to a file in the data dir. Every callback and watch
 *    runs on the loop thread.
 *  - mdc_: the metadata cache every broker keeps (brokers, topics, partitions, leaders,
 *    ISRs, controller), fed from coord by watches.
 *  - ctl_: registration, controller election and the controller (topic creation and
 *    deletion, partition states, leader election on broker loss), written once against
 *    coord so standalone and ZooKeeper modes share it.
 *  - assign_: Kafka's (rack-aware) replica assignment, pure functions.
 *
 * Paths and JSON shapes are Kafka's ZooKeeper-mode ones (kafka-protocol/README.md).
 */
#ifndef STRATA_CLUSTER_H
#define STRATA_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "strata/util.h"

/* ---------------------------------------------------------------- coord */

typedef struct coord coord_t;

enum {
    COORD_PERSISTENT = 0,
    COORD_EPHEMERAL = 1,
    COORD_SEQUENTIAL = 2 /* may be or-ed with COORD_EPHEMERAL */
};

/* Watch events, delivered once per arming (ZooKeeper semantics). */
typedef enum {
    COORD_EV_CREATED = 1,
    COORD_EV_DELETED = 2,
    COORD_EV_CHANGED = 3,
    COORD_EV_CHILDREN = 4,
    COORD_EV_SESSION_EXPIRED = -112, /* path is NULL: re-register, re-read, re-arm */
    COORD_EV_CONNECTED = 3000        /* (re)connected after a loss, path is NULL */
} coord_event_t;

/* rc is 0, STRATA_ENOTFOUND (no node), STRATA_EEXISTS (node exists), STRATA_EBADVERSION,
 * STRATA_ENOTEMPTY, STRATA_ECONNLOSS, STRATA_ESESSION or another negative code. */
typedef void (*coord_done_cb)(void *arg, int rc);
typedef void (*coord_create_cb)(void *arg, int rc, const char *created_path);
typedef void (*coord_data_cb)(void *arg, int rc, const char *data, size_t len, int32_t version);
typedef void (*coord_children_cb)(void *arg, int rc, const char *const *names, size_t count);
typedef void (*coord_watch_cb)(void *arg, coord_event_t event, const char *path);

/* One operation of an atomic coord_multi. */
typedef struct coord_op {
    enum { COORD_OP_CREATE, COORD_OP_SET, COORD_OP_DELETE, COORD_OP_CHECK } type;
    const char *path;
    const char *data; /* create, set */
    size_t len;
    int flags;       /* create */
    int32_t version; /* set, delete, check: -1 = any */
} coord_op_t;

/* The interface both implementations fill in. Data is copied; paths are absolute.
 * A nonzero return (bad path, closed handle) means the callback will not run. */
typedef struct coord_vtable {
    int (*create)(coord_t *c, const char *path, const char *data, size_t len, int flags,
                  coord_create_cb cb, void *arg);
    /* watch_cb non-NULL arms a data watch (also fires on create when the node is absent). */
    int (*get)(coord_t *c, const char *path, coord_watch_cb watch_cb, void *watch_arg,
               coord_data_cb cb, void *arg);
    int (*set)(coord_t *c, const char *path, const char *data, size_t len, int32_t version,
               coord_data_cb cb, void *arg); /* cb gets the new version */
    int (*remove)(coord_t *c, const char *path, int32_t version, coord_done_cb cb, void *arg);
    int (*children)(coord_t *c, const char *path, coord_watch_cb watch_cb, void *watch_arg,
                    coord_children_cb cb, void *arg);
    int (*multi)(coord_t *c, const coord_op_t *ops, size_t n, coord_done_cb cb, void *arg);
    /* session-level events (connected, expired) */
    void (*set_session_watch)(coord_t *c, coord_watch_cb cb, void *arg);
    void (*close)(coord_t *c); /* ephemeral nodes go away; pending callbacks get ESHUTDOWN */
} coord_vtable_t;

struct coord {
    const coord_vtable_t *vt;
};

/**
 * The embedded store: a tree kept in memory and persisted (persistent nodes only) to
 * `path` atomically after each change; callbacks are delivered from the loop.
 */
int coord_local_open(uv_loop_t *loop, const char *path, coord_t **out);
/**
 * Another session on the same tree as `c` (a coord_local handle): several brokers in one
 * process can share one store, each with its own ephemerals and watches (failover tests).
 * The tree goes when its last session is closed. @returns 0 or STRATA_EINVAL.
 */
int coord_local_open_session(coord_t *c, coord_t **out);
/**
 * Test hook: expires the session of `c` as ZooKeeper would. Its ephemerals go, its watches
 * are dropped, its session watch gets COORD_EV_SESSION_EXPIRED, and the handle carries on
 * as a new session.
 */
void coord_local_expire(coord_t *c);
/**
 * ZooKeeper: connect string "h1:2181,h2:2181[/chroot]". Returns at once; operations
 * issued before the session is up wait for it. @returns 0 or a negative code.
 */
int coord_zk_open(uv_loop_t *loop, const char *connect, int session_timeout_ms, coord_t **out);

static inline int coord_create(coord_t *c, const char *path, const char *data, size_t len,
                               int flags, coord_create_cb cb, void *arg) {
    return c->vt->create(c, path, data, len, flags, cb, arg);
}
static inline int coord_get(coord_t *c, const char *path, coord_watch_cb wcb, void *warg,
                            coord_data_cb cb, void *arg) {
    return c->vt->get(c, path, wcb, warg, cb, arg);
}
static inline int coord_set(coord_t *c, const char *path, const char *data, size_t len,
                            int32_t version, coord_data_cb cb, void *arg) {
    return c->vt->set(c, path, data, len, version, cb, arg);
}
static inline int coord_remove(coord_t *c, const char *path, int32_t version, coord_done_cb cb,
                               void *arg) {
    return c->vt->remove(c, path, version, cb, arg);
}
static inline int coord_children(coord_t *c, const char *path, coord_watch_cb wcb, void *warg,
                                 coord_children_cb cb, void *arg) {
    return c->vt->children(c, path, wcb, warg, cb, arg);
}
static inline int coord_multi(coord_t *c, const coord_op_t *ops, size_t n, coord_done_cb cb,
                              void *arg) {
    return c->vt->multi(c, ops, n, cb, arg);
}
static inline void coord_close(coord_t *c) {
    if (c) {
        c->vt->close(c);
    }
}

/* ---------------------------------------------------------------- metadata cache */

typedef struct mdc_broker {
    int32_t id;
    char *host;
    int32_t port;
    char *rack; /* NULL when none */
} mdc_broker_t;

typedef struct mdc_partition {
    int32_t partition;
    int32_t leader; /* -1 = none */
    int32_t leader_epoch;
    int32_t controller_epoch;
    int32_t *replicas; /* assignment order; replicas[0] is the preferred leader */
    int32_t nreplicas;
    int32_t *isr;
    int32_t nisr;
    int32_t state_version; /* data version of the state znode; -1 when not yet created */
    bool state_known;      /* the state znode has been read (or found absent) */
} mdc_partition_t;

typedef struct mdc_topic {
    char *name;
    uint8_t id[16]; /* topic id (UUID) */
    bool internal;  /* __consumer_offsets */
    bool deleting;  /* queued in /admin/delete_topics */
    int32_t npartitions;
    mdc_partition_t *partitions; /* index = partition id */
    props_t *config;             /* /config/topics/<t> overrides, never NULL */
    int32_t assignment_version;  /* data version of /brokers/topics/<t> */
} mdc_topic_t;

typedef struct mdc mdc_t;

/* What changed, for subscribers (the replica manager takes up roles from these). */
typedef enum {
    MDC_EV_BROKERS = 1, /* live broker set changed */
    MDC_EV_TOPIC = 2,   /* topic created, partitions added or assignment changed */
    MDC_EV_TOPIC_DELETED = 3,
    MDC_EV_PARTITION = 4, /* leader / ISR / epoch of one partition changed */
    MDC_EV_CONTROLLER = 5
} mdc_event_t;
typedef void (*mdc_listener_cb)(void *arg, mdc_event_t ev, const char *topic, int32_t partition);

/* Lookups return borrowed pointers valid until the next loop turn that changes the cache. */
const mdc_broker_t *mdc_broker(const mdc_t *m, int32_t id);
size_t mdc_broker_count(const mdc_t *m);
const mdc_broker_t *mdc_broker_at(const mdc_t *m, size_t i); /* sorted by id */
const mdc_topic_t *mdc_topic(const mdc_t *m, const char *name);
size_t mdc_topic_count(const mdc_t *m);
const mdc_topic_t *mdc_topic_at(const mdc_t *m, size_t i); /* sorted by name */
const mdc_partition_t *mdc_partition(const mdc_t *m, const char *topic, int32_t partition);
int32_t mdc_controller_id(const mdc_t *m); /* -1 when unknown */
const char *mdc_cluster_id(const mdc_t *m);
void mdc_add_listener(mdc_t *m, mdc_listener_cb cb, void *arg);

/* ---------------------------------------------------------------- assignment */

typedef struct assign_broker {
    int32_t id;
    const char *rack; /* NULL = no rack */
} assign_broker_t;

/**
 * Kafka's AdminUtils.assignReplicasToBrokers. start_index < 0 picks startIndex and
 * nextReplicaShift at random (independently); >= 0 fixes both to it.
 * out receives npartitions * rf broker ids, row-major (partition p at out[p*rf]).
 * @returns 0, or the Kafka error: 37 INVALID_PARTITIONS, 38 INVALID_REPLICATION_FACTOR,
 * 39 INVALID_REPLICA_ASSIGNMENT (some brokers with racks, some without).
 */
int assign_replicas(const assign_broker_t *brokers, size_t nbrokers, int32_t npartitions,
                    int32_t rf, int32_t start_index, int32_t start_partition, int32_t *out);
/** The same with startIndex and nextReplicaShift given separately (each < 0 = random). */
int assign_replicas_fixed(const assign_broker_t *brokers, size_t nbrokers, int32_t npartitions,
                          int32_t rf, int32_t start_index, int32_t replica_shift,
                          int32_t start_partition, int32_t *out);

/* ---------------------------------------------------------------- controller & admin */

typedef struct ctl ctl_t;

typedef struct ctl_config {
    int32_t broker_id;
    const char *host; /* advertised listener */
    int32_t port;
    const char *rack;             /* NULL = none */
    int32_t num_partitions;       /* num.partitions */
    int32_t default_replication;  /* default.replication.factor */
    bool unclean_leader_election; /* unclean.leader.election.enable */
    bool delete_topic_enable;     /* delete.topic.enable */
    /* issue 6 (src/cluster/repl_ctl.c): preferred-leader rebalancing; zero = off */
    bool auto_leader_rebalance;                     /* auto.leader.rebalance.enable */
    int64_t leader_imbalance_check_interval_ms;     /* leader.imbalance.check.interval.seconds */
    int32_t leader_imbalance_per_broker_percentage; /* leader.imbalance.per.broker.percentage */
} ctl_config_t;

/**
 * Registers this broker (/brokers/ids/<id>), stands for controller, and keeps the
 * metadata cache *mdc_out up to date. Standalone: coord is coord_local and this broker
 * always wins. done(arg, rc) reports registration (STRATA_EEXISTS = broker id taken).
 * The ctl takes the coord's session watch (set_session_watch) for itself: on
 * COORD_EV_SESSION_EXPIRED it re-registers, re-reads and re-arms. Connection loss and
 * session expiry are ridden out (reads and writes are re-sent).
 */
int ctl_start(uv_loop_t *loop, coord_t *coord, const ctl_config_t *cfg, coord_done_cb done,
              void *arg, ctl_t **out, mdc_t **mdc_out);
/**
 * Controlled shutdown: this broker hands leadership of the partitions it leads to another
 * live in-sync replica (preferred order) and leaves the ISR of those it follows, through
 * version-checked writes of the state znodes (fenced by the controller epoch when it is the
 * controller); a partition where it is the only in-sync replica stays with it. Then it
 * resigns as controller (if it is) and deletes /brokers/ids/<id>. done(arg, rc) runs when
 * finished (later, from the loop).
 */
void ctl_shutdown(ctl_t *ctl, coord_done_cb done, void *arg);
/**
 * No callback of this ctl (admin, shutdown, listeners) runs after this. Close the coord in
 * the same loop turn (or before): watches armed on it carry the ctl. The memory goes with the
 * last outstanding coord completion (coord_close delivers them as STRATA_ESHUTDOWN).
 */
void ctl_free(ctl_t *ctl);
bool ctl_is_controller(const ctl_t *ctl);

/* Admin operations, usable on any broker (they write coord, as Kafka's ZK mode does).
 * Result codes are Kafka error codes (0 = NONE) with a message for the response. */
typedef void (*ctl_admin_cb)(void *arg, int16_t kafka_error, const char *message);

typedef struct ctl_topic_spec {
    const char *name;
    int32_t num_partitions;         /* -1 = num.partitions */
    int16_t replication_factor;     /* -1 = default.replication.factor */
    const int32_t *assignment;      /* optional explicit assignment, row-major, or NULL */
    int32_t assignment_rf;          /* replicas per row */
    int32_t assignment_rows;        /* rows (partitions); 0 = use num_partitions as the count.
                                       When > 0, num_partitions and replication_factor must be
                                       -1 (else INVALID_REQUEST, as Kafka) */
    const char *const *config_keys; /* topic config overrides */
    const char *const *config_values;
    size_t nconfigs;
    bool validate_only;
} ctl_topic_spec_t;

int ctl_create_topic(ctl_t *ctl, const ctl_topic_spec_t *spec, ctl_admin_cb cb, void *arg);
int ctl_delete_topic(ctl_t *ctl, const char *name, ctl_admin_cb cb, void *arg);
/* Callbacks run later from the loop, never inside the call; a nonzero return (bad
 * arguments, freed ctl) means no callback. Create/alter answer once the assignment is
 * written (partition states follow from the controller); delete answers once the deletion
 * is queued in /admin/delete_topics (the topic leaves the cache when the controller is
 * done). Operations issued before the cache has loaded wait for it.
 * ctl_create_partitions: `assignment` covers only the new partitions and must hold
 * new_total - current rows of assignment_rf (the current count read from the cache at the
 * call). Prefer ctl_create_partitions_rows, which is told how many rows the caller has, so a
 * request with too few rows is refused (INVALID_REPLICA_ASSIGNMENT) instead of over-read. */
int ctl_create_partitions(ctl_t *ctl, const char *name, int32_t new_total,
                          const int32_t *assignment, int32_t assignment_rf, bool validate_only,
                          ctl_admin_cb cb, void *arg);
/** The same with the number of rows in `assignment` (assignment_rows < 0: as above). */
int ctl_create_partitions_rows(ctl_t *ctl, const char *name, int32_t new_total,
                               const int32_t *assignment, int32_t assignment_rows,
                               int32_t assignment_rf, bool validate_only, ctl_admin_cb cb,
                               void *arg);
/**
 * Leader-side ISR change (Kafka's ZooKeeper mode before 2.7: the leader writes the state
 * znode itself). For a partition this broker leads at leader_epoch (per the cache), writes
 * the state with the same leader and leader epoch and the given ISR (which must contain
 * this broker, replicas only, no duplicates), conditional on the cached state version; the
 * controller and every cache see it through their watches. done(arg, rc) runs later: 0,
 * STRATA_EBADVERSION (the state moved on: wait for the cache's MDC_EV_PARTITION and decide
 * again) or a coord error. @returns 0, or STRATA_EINVAL (no callback) when this broker is
 * not the leader at that epoch or the ISR is malformed.
 */
int ctl_update_isr(ctl_t *ctl, const char *topic, int32_t partition, int32_t leader_epoch,
                   const int32_t *isr, int32_t nisr, coord_done_cb done, void *arg);
/** Kafka's topic-name rule: [a-zA-Z0-9._-], 1..249 chars, not "." or "..". */
bool ctl_valid_topic_name(const char *name);

#endif /* STRATA_CLUSTER_H */
