/*
 * cluster_int.h: declarations shared by the files of src/cluster/ and its unit tests, not
 * part of the public contract (include/strata/cluster.h).
 *
 *  - zkpath_: Kafka's ZooKeeper-mode JSON shapes (build and parse, with jansson).
 *  - mdc internals used by the controller (creation, resync, the quiescent hook).
 *  - ctl internals split over registration.c, election.c, controller.c, partition_state.c.
 */
#ifndef STRATA_CLUSTER_INT_H
#define STRATA_CLUSTER_INT_H

#include "strata/cluster.h"

/* ---------------------------------------------------------------- zk_paths.c */

/* Persistent paths a Kafka broker creates at start-up, parents first; NULL-terminated. */
extern const char *const zkpath_startup_paths[];

/** URL-safe base64 without padding of 16 bytes: 22 chars + NUL into out[23]. */
void zkpath_uuid_encode(const uint8_t id[16], char out[23]);
/** @returns 0 or STRATA_EINVAL. */
int zkpath_uuid_decode(const char *s, uint8_t id[16]);
/** A random version-4 UUID that is not all zeros (Kafka's Uuid.randomUuid). */
void zkpath_uuid_random(uint8_t id[16]);

/** /brokers/ids/<id> version 5. @returns a new string. */
char *zkpath_broker_json(int32_t id, const char *host, int32_t port, const char *rack,
                         int64_t timestamp_ms);
/** Parses a broker registration (version 1..5): fills out (host/rack allocated). */
int zkpath_broker_parse(const char *data, size_t len, int32_t id, mdc_broker_t *out);

char *zkpath_controller_json(int32_t broker_id, int64_t timestamp_ms);
int zkpath_controller_parse(const char *data, size_t len, int32_t *broker_id);

/** /controller_epoch: decimal text. */
int zkpath_epoch_parse(const char *data, size_t len, int32_t *epoch);

/* A topic's replica assignment (/brokers/topics/<t>). */
typedef struct zkpath_assignment {
    uint8_t topic_id[16];
    bool has_id;
    int32_t npartitions;
    int32_t *nreplicas; /* per partition */
    int32_t **replicas; /* per partition */
} zkpath_assignment_t;
void zkpath_assignment_destroy(zkpath_assignment_t *a);
/** Version 3 with topic_id; replicas row-major (npartitions * rf). */
char *zkpath_assignment_json(const uint8_t topic_id[16], const int32_t *replicas,
                             int32_t npartitions, int32_t rf);
/** Version 3 from per-partition lists. */
char *zkpath_assignment_json_lists(const uint8_t topic_id[16], int32_t npartitions,
                                   const int32_t *const *replicas, const int32_t *nreplicas);
/** Parses versions 1..3; partitions must be 0..n-1. */
int zkpath_assignment_parse(const char *data, size_t len, zkpath_assignment_t *out);

/* Partition state (/brokers/topics/<t>/partitions/<p>/state). */
typedef struct zkpath_state {
    int32_t leader;
    int32_t leader_epoch;
    int32_t controller_epoch;
    int32_t nisr;
    int32_t *isr;
} zkpath_state_t;
char *zkpath_state_json(const zkpath_state_t *st);
int zkpath_state_parse(const char *data, size_t len, zkpath_state_t *out); /* isr allocated */

/** /config/topics/<t>: {"version":1,"config":{...}}. */
char *zkpath_topic_config_json(const char *const *keys, const char *const *values, size_t n);
int zkpath_topic_config_parse(const char *data, size_t len, props_t *out);

/** /cluster/id: {"version":"1","id":"<22 chars>"}. */
char *zkpath_cluster_id_json(const char *id);
int zkpath_cluster_id_parse(const char *data, size_t len, char out[23]);

/** /admin/delete_topics/<t> etc.: path builders returning new strings. */
char *zkpath_topic(const char *topic);
char *zkpath_topic_partitions(const char *topic);
char *zkpath_partition(const char *topic, int32_t partition);
char *zkpath_partition_state(const char *topic, int32_t partition);
char *zkpath_topic_config(const char *topic);
char *zkpath_delete_topic(const char *topic);
char *zkpath_broker(int32_t id);

/* ---------------------------------------------------------------- mdc.c */

typedef void (*mdc_quiescent_cb)(void *arg);

/** Creates the cache and starts reading coord (watches armed). */
mdc_t *mdc_new(uv_loop_t *loop, coord_t *coord);
/** Owner drops its reference: no listener runs again; memory goes when the last coord
 * completion returns. */
void mdc_release(mdc_t *m);
/** Re-reads everything and re-arms watches (after session expiry). */
void mdc_resync(mdc_t *m);
/** Called when every outstanding read completed after at least one change. */
void mdc_set_quiescent_cb(mdc_t *m, mdc_quiescent_cb cb, void *arg);
/** True when the initial reads (brokers, topics, states) are all done and nothing is pending. */
bool mdc_synced(const mdc_t *m);
/** Topics named in /admin/delete_topics (may include names with no topic). */
size_t mdc_delete_queue_count(const mdc_t *m);
const char *mdc_delete_queue_at(const mdc_t *m, size_t i);
/** Re-reads one partition state now (after a lost version-checked write). */
void mdc_refresh_partition(mdc_t *m, const char *topic, int32_t partition);

/* ---------------------------------------------------------------- ctl internals */

struct ctl {
    uv_loop_t *loop;
    coord_t *coord;
    mdc_t *mdc;
    ctl_config_t cfg; /* strings copied */
    char *host_copy;
    char *rack_copy;
    int refs; /* 1 for the owner + 1 per outstanding coord completion */
    bool dead;
    bool registered;
    bool reg_retried; /* the registration create was re-sent after a connection loss */
    char *reg_json;   /* what we wrote to /brokers/ids/<id> */
    bool reg_waiting; /* for our stale registration (earlier session) to expire */
    bool shutting_down;
    coord_done_cb start_done;
    void *start_arg;
    int startup_pending;
    int startup_rc;

    /* election */
    bool is_controller;
    bool electing;
    int32_t epoch;           /* our controller epoch when is_controller */
    int32_t epoch_zkversion; /* data version of /controller_epoch we wrote */

    /* controller work in flight */
    map_t *inflight_parts;   /* "topic\np" -> (void*)1 while a state write is pending */
    map_t *inflight_deletes; /* topic -> (void*)1 while a deletion runs */

    /* controlled shutdown */
    coord_done_cb shutdown_done;
    void *shutdown_arg;
    int shutdown_pending;
    int shutdown_rounds;
    bool shutdown_lost_race;
    bool shutdown_retry;

    /* admin operations waiting for the cache to load (admin.c) */
    struct admin_op *deferred;
    bool reconcile_scheduled;
};

/** Runs ctl_reconcile after a coord round trip (after a write lost with the connection). */
void ctl_kick_reconcile(ctl_t *ctl);

void ctl_ref(ctl_t *ctl);
/** @returns true when the ctl is still alive (not freed and not dead) after the unref. */
bool ctl_unref(ctl_t *ctl);

/** Runs fn(arg) from the loop after a coord round trip (never re-entrantly). */
void ctl_defer(ctl_t *ctl, void (*fn)(void *arg, int rc), void *arg);

/* registration.c */
void ctl_register(ctl_t *ctl);
void ctl_deregister(ctl_t *ctl, coord_done_cb done, void *arg);

/* election.c */
void elect_watch(ctl_t *ctl);
void elect_resign(ctl_t *ctl, coord_done_cb done, void *arg);

/* controller.c */
void ctl_became_controller(ctl_t *ctl);
void ctl_reconcile(ctl_t *ctl);
void ctl_mdc_event(void *arg, mdc_event_t ev, const char *topic, int32_t partition);

/* partition_state.c: pure decisions */
/**
 * The new state of a partition given the live brokers, or false when nothing changes.
 * Leader from the ISR in assignment order (preferred first); ISR shrunk to live members;
 * no live ISR member: leader -1 (ISR kept) unless unclean, then the first live replica.
 * isr_out must hold nreplicas + nisr entries.
 */
bool elect_partition(const mdc_partition_t *p, const int32_t *live, size_t nlive, bool unclean,
                     int32_t *leader_out, int32_t *isr_out, int32_t *nisr_out);
/** The state for a partition without one: leader = first live replica, ISR = live replicas.
 * @returns false when no replica is live. */
bool elect_initial(const int32_t *replicas, int32_t nreplicas, const int32_t *live, size_t nlive,
                   int32_t *leader_out, int32_t *isr_out, int32_t *nisr_out);
/** Removes `broker` from leadership/ISR for a controlled shutdown; false when nothing to do. */
bool elect_shutdown(const mdc_partition_t *p, int32_t broker, const int32_t *live, size_t nlive,
                    int32_t *leader_out, int32_t *isr_out, int32_t *nisr_out);

/** Writes a partition state with a version check (and the controller-epoch check when
 * fenced). done(arg, rc). */
void pstate_write(ctl_t *ctl, const char *topic, int32_t partition, const zkpath_state_t *st,
                  int32_t expected_version, bool fenced, coord_done_cb done, void *arg);

#endif /* STRATA_CLUSTER_INT_H */
