/*
 * admin: topic administration usable on any broker, the way Kafka's ZooKeeper mode does it
 * (AdminZkClient): CreateTopics writes /config/topics/<t> then /brokers/topics/<t>;
 * CreatePartitions rewrites /brokers/topics/<t> (version-checked); DeleteTopics creates
 * /admin/delete_topics/<t>. The controller does the rest (partition states, deletion).
 *
 * Invariants:
 *  1. Callbacks always run later from the loop, never inside the ctl_* call (errors found
 *     up front are delivered after a coord round trip, ctl_defer).
 *  2. An operation that arrives before the cache has loaded (start-up) waits for it, so
 *     "rf larger than available brokers" is never answered from an empty cache.
 *  3. Create/alter callbacks fire when the assignment is written; the partition states
 *     follow from the controller moments later. Delete callbacks fire when the deletion is
 *     queued (/admin/delete_topics/<t> written); the topic leaves the metadata cache once
 *     the controller has deleted it (the API handler waits for that, as Kafka's does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_int.h"

enum {
    KE_NONE = 0,
    KE_UNKNOWN_SERVER_ERROR = -1,
    KE_UNKNOWN_TOPIC_OR_PARTITION = 3,
    KE_INVALID_TOPIC_EXCEPTION = 17,
    KE_TOPIC_ALREADY_EXISTS = 36,
    KE_INVALID_PARTITIONS = 37,
    KE_INVALID_REPLICATION_FACTOR = 38,
    KE_INVALID_REPLICA_ASSIGNMENT = 39,
    KE_INVALID_REQUEST = 42,
    KE_TOPIC_DELETION_DISABLED = 73
};

typedef enum { OP_CREATE, OP_DELETE, OP_PARTITIONS } admin_kind_t;

typedef struct admin_op {
    struct admin_op *next;
    ctl_t *ctl;
    admin_kind_t kind;
    ctl_admin_cb cb;
    void *arg;
    /* request (copied) */
    char *name;
    int32_t num_partitions;
    int32_t rf;
    int32_t *assignment;
    int32_t assignment_rows;
    int32_t assignment_rf;
    bool assignment_explicit_rows;
    char **config_keys;
    char **config_values;
    size_t nconfigs;
    bool validate_only;
    /* result / progress */
    int16_t err;
    char *msg;
    char *assignment_json;
    int32_t assignment_version;
    int step;
    bool retried; /* the current step was re-sent after a connection loss */
} admin_op_t;

bool ctl_valid_topic_name(const char *name) {
    if (!name) {
        return false;
    }
    size_t len = strlen(name);
    if (len == 0 || len > 249 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

static void op_free(admin_op_t *op) {
    free(op->name);
    free(op->assignment);
    for (size_t i = 0; i < op->nconfigs; i++) {
        free(op->config_keys[i]);
        free(op->config_values[i]);
    }
    free(op->config_keys);
    free(op->config_values);
    free(op->msg);
    free(op->assignment_json);
    free(op);
}

/* Final delivery: runs the callback unless the ctl went away. Drops the op's reference. */
static void op_complete(admin_op_t *op) {
    ctl_t *ctl = op->ctl;
    if (ctl_unref(ctl)) {
        op->cb(op->arg, op->err, op->msg);
    }
    op_free(op);
}

static void on_deferred_error(void *arg, int rc) {
    (void)rc;
    op_complete(arg);
}

__attribute__((format(printf, 3, 4))) static void op_fail(admin_op_t *op, int16_t err,
                                                          const char *fmt, ...) {
    op->err = err;
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    free(op->msg);
    op->msg = xstrdup(tmp);
    ctl_defer(op->ctl, on_deferred_error, op);
}

static void op_succeed_later(admin_op_t *op) {
    op->err = KE_NONE;
    ctl_defer(op->ctl, on_deferred_error, op);
}

static bool cache_ready(const ctl_t *ctl) {
    return mdc_synced(ctl->mdc) && ctl->registered &&
           mdc_broker(ctl->mdc, ctl->cfg.broker_id) != NULL;
}

/* Live brokers for assignment; *mixed when some have racks and some not. */
static assign_broker_t *live_brokers(ctl_t *ctl, size_t *n) {
    size_t cnt = mdc_broker_count(ctl->mdc);
    assign_broker_t *b = xcalloc(cnt ? cnt : 1, sizeof(*b));
    for (size_t i = 0; i < cnt; i++) {
        const mdc_broker_t *mb = mdc_broker_at(ctl->mdc, i);
        b[i].id = mb->id;
        b[i].rack = mb->rack;
    }
    *n = cnt;
    return b;
}

/* Checks an explicit assignment: rows of rf distinct live brokers. */
static bool check_assignment(admin_op_t *op, const int32_t *a, int32_t rows, int32_t rf) {
    if (rf <= 0 || rows <= 0) {
        op_fail(op, KE_INVALID_REPLICA_ASSIGNMENT, "Replica assignment is empty.");
        return false;
    }
    for (int32_t p = 0; p < rows; p++) {
        const int32_t *row = a + (size_t)p * (size_t)rf;
        for (int32_t j = 0; j < rf; j++) {
            for (int32_t k = 0; k < j; k++) {
                if (row[k] == row[j]) {
                    op_fail(op, KE_INVALID_REPLICA_ASSIGNMENT,
                            "Duplicate replica assignment found: partition %d has broker %d "
                            "twice.",
                            (int)p, (int)row[j]);
                    return false;
                }
            }
            if (!mdc_broker(op->ctl->mdc, row[j])) {
                op_fail(op, KE_INVALID_REPLICA_ASSIGNMENT,
                        "Unknown broker %d in replica assignment.", (int)row[j]);
                return false;
            }
        }
    }
    return true;
}

/* ---------------------------------------------------------------- create topic */

static void create_step(admin_op_t *op, int rc);
static void on_create_cb(void *arg, int rc, const char *path);
static void on_config_set(void *arg, int rc, const char *data, size_t len, int32_t version);

static void on_create_cb(void *arg, int rc, const char *path) {
    (void)path;
    admin_op_t *op = arg;
    create_step(op, rc);
}

static void on_config_set(void *arg, int rc, const char *data, size_t len, int32_t version) {
    (void)data;
    (void)len;
    (void)version;
    admin_op_t *op = arg;
    create_step(op, rc);
}

/*
 * step 0: the create of /config/topics/<t> finished (exists: overwrite it, step 1);
 * step 1: the config is written: create /brokers/topics/<t>;
 * step 2: the assignment write finished.
 * Each coord request holds a reference that is dropped on entry; the op's own reference
 * keeps the memory until op_complete.
 */
static void issue_config_create(admin_op_t *op) {
    ctl_t *ctl = op->ctl;
    char *path = zkpath_topic_config(op->name);
    char *json = zkpath_topic_config_json((const char *const *)op->config_keys,
                                          (const char *const *)op->config_values, op->nconfigs);
    ctl_ref(ctl);
    int rc = op->step == 0 ? coord_create(ctl->coord, path, json, strlen(json), COORD_PERSISTENT,
                                          on_create_cb, op)
                           : coord_set(ctl->coord, path, json, strlen(json), -1, on_config_set, op);
    free(path);
    free(json);
    if (rc != 0) {
        create_step(op, rc);
    }
}

static void issue_topic_create(admin_op_t *op) {
    ctl_t *ctl = op->ctl;
    char *path = zkpath_topic(op->name);
    ctl_ref(ctl);
    int rc = coord_create(ctl->coord, path, op->assignment_json, strlen(op->assignment_json),
                          COORD_PERSISTENT, on_create_cb, op);
    free(path);
    if (rc != 0) {
        create_step(op, rc);
    }
}

static void create_step(admin_op_t *op, int rc) {
    ctl_t *ctl = op->ctl;
    if (!ctl_unref(ctl)) {
        op_complete(op);
        return;
    }
    if (rc == STRATA_ECONNLOSS) {
        /* Lost with the connection: send the same step again (it waits for the session). */
        op->retried = true;
        if (op->step <= 1) {
            issue_config_create(op);
        } else {
            issue_topic_create(op);
        }
        return;
    }
    if (op->step == 0 && rc == STRATA_EEXISTS) {
        /* A stale config of a deleted topic (or ours, sent twice): replace it. */
        op->step = 1;
        issue_config_create(op);
        return;
    }
    if (op->step <= 1) {
        if (rc != 0) {
            op->err = KE_UNKNOWN_SERVER_ERROR;
            op->msg = xasprintf("writing /config/topics/%s: %s", op->name, strata_strerror(rc));
            op_complete(op);
            return;
        }
        op->step = 2;
        op->retried = false;
        issue_topic_create(op);
        return;
    }
    if (rc == STRATA_EEXISTS && !op->retried) {
        op->err = KE_TOPIC_ALREADY_EXISTS;
        op->msg = xasprintf("Topic '%s' already exists.", op->name);
    } else if (rc != 0 && rc != STRATA_EEXISTS) {
        op->err = KE_UNKNOWN_SERVER_ERROR;
        op->msg = xasprintf("writing /brokers/topics/%s: %s", op->name, strata_strerror(rc));
    } else {
        /* NODEEXISTS after a re-send: our first create went through before the loss. */
        slog_info("[Admin] created topic %s with %d partitions", op->name, (int)op->num_partitions);
    }
    op_complete(op);
}

static void run_create(admin_op_t *op) {
    ctl_t *ctl = op->ctl;
    mdc_t *m = ctl->mdc;
    if (!ctl_valid_topic_name(op->name)) {
        op_fail(op, KE_INVALID_TOPIC_EXCEPTION,
                "Topic name \"%s\" is illegal, it contains a character other than ASCII "
                "alphanumerics, '.', '_' and '-', or is empty, too long, '.' or '..'.",
                op->name ? op->name : "");
        return;
    }
    const mdc_topic_t *existing = mdc_topic(m, op->name);
    if (existing) {
        op_fail(op, KE_TOPIC_ALREADY_EXISTS, "Topic '%s' %s.", op->name,
                existing->deleting ? "is marked for deletion" : "already exists");
        return;
    }
    if (op->assignment) {
        if (op->assignment_explicit_rows && (op->num_partitions != -1 || op->rf != -1)) {
            op_fail(op, KE_INVALID_REQUEST,
                    "Both numPartitions or replicationFactor and replicasAssignments were set. "
                    "Both cannot be used at the same time.");
            return;
        }
        if (!check_assignment(op, op->assignment, op->assignment_rows, op->assignment_rf)) {
            return;
        }
        op->num_partitions = op->assignment_rows;
        op->rf = op->assignment_rf;
    } else {
        if (op->num_partitions == -1) {
            op->num_partitions = ctl->cfg.num_partitions;
        }
        if (op->rf == -1) {
            op->rf = ctl->cfg.default_replication;
        }
        if (op->num_partitions <= 0) {
            op_fail(op, KE_INVALID_PARTITIONS, "Number of partitions must be larger than 0.");
            return;
        }
        if (op->rf <= 0) {
            op_fail(op, KE_INVALID_REPLICATION_FACTOR, "Replication factor must be larger than 0.");
            return;
        }
        size_t nb;
        assign_broker_t *brokers = live_brokers(ctl, &nb);
        if ((size_t)op->rf > nb) {
            free(brokers);
            op_fail(op, KE_INVALID_REPLICATION_FACTOR,
                    "Replication factor: %d larger than available brokers: %d.", (int)op->rf,
                    (int)nb);
            return;
        }
        op->assignment = xmalloc((size_t)op->num_partitions * (size_t)op->rf * sizeof(int32_t));
        int arc = assign_replicas(brokers, nb, op->num_partitions, op->rf, -1, 0, op->assignment);
        free(brokers);
        if (arc != 0) {
            op_fail(op, (int16_t)arc,
                    arc == KE_INVALID_REPLICA_ASSIGNMENT
                        ? "Not all brokers have rack information for replica rack aware "
                          "assignment."
                        : "Replica assignment failed.");
            return;
        }
    }
    if (op->validate_only) {
        op_succeed_later(op);
        return;
    }
    uint8_t id[16];
    zkpath_uuid_random(id);
    op->assignment_json = zkpath_assignment_json(id, op->assignment, op->num_partitions, op->rf);
    op->step = 0;
    issue_config_create(op);
}

/* ---------------------------------------------------------------- delete topic */

static void run_delete_write(admin_op_t *op);

static void on_delete_marked(void *arg, int rc, const char *path) {
    (void)path;
    admin_op_t *op = arg;
    ctl_t *ctl = op->ctl;
    if (!ctl_unref(ctl)) {
        op_complete(op);
        return;
    }
    if (rc == STRATA_ECONNLOSS) {
        run_delete_write(op);
        return;
    }
    if (rc != 0 && rc != STRATA_EEXISTS) {
        op->err = KE_UNKNOWN_SERVER_ERROR;
        op->msg = xasprintf("writing /admin/delete_topics/%s: %s", op->name, strata_strerror(rc));
        op_complete(op);
        return;
    }
    slog_info("[Admin] topic %s marked for deletion", op->name);
    op_complete(op);
}

static void run_delete(admin_op_t *op) {
    ctl_t *ctl = op->ctl;
    if (!ctl->cfg.delete_topic_enable) {
        op_fail(op, KE_TOPIC_DELETION_DISABLED, "Topic deletion is disabled.");
        return;
    }
    if (!op->name || !mdc_topic(ctl->mdc, op->name)) {
        op_fail(op, KE_UNKNOWN_TOPIC_OR_PARTITION,
                "This server does not host this topic-partition.");
        return;
    }
    run_delete_write(op);
}

static void run_delete_write(admin_op_t *op) {
    ctl_t *ctl = op->ctl;
    char *path = zkpath_delete_topic(op->name);
    ctl_ref(ctl);
    int rc = coord_create(ctl->coord, path, NULL, 0, COORD_PERSISTENT, on_delete_marked, op);
    free(path);
    if (rc != 0) {
        on_delete_marked(op, rc, NULL);
    }
}

/* ---------------------------------------------------------------- create partitions */

static void on_assignment_set(void *arg, int rc, const char *data, size_t len, int32_t version) {
    (void)data;
    (void)len;
    (void)version;
    admin_op_t *op = arg;
    ctl_unref(op->ctl); /* the request's; the op's own is dropped by op_complete */
    if (rc == STRATA_EBADVERSION) {
        op->err = KE_INVALID_REQUEST;
        op->msg = xasprintf("Topic %s was modified concurrently; retry.", op->name);
    } else if (rc != 0) {
        op->err = KE_UNKNOWN_SERVER_ERROR;
        op->msg = xasprintf("writing /brokers/topics/%s: %s", op->name, strata_strerror(rc));
    } else {
        slog_info("[Admin] topic %s now has %d partitions", op->name, (int)op->num_partitions);
    }
    op_complete(op);
}

static void run_partitions(admin_op_t *op) {
    ctl_t *ctl = op->ctl;
    const mdc_topic_t *t = mdc_topic(ctl->mdc, op->name);
    if (!t) {
        op_fail(op, KE_UNKNOWN_TOPIC_OR_PARTITION, "The topic '%s' does not exist.",
                op->name ? op->name : "");
        return;
    }
    if (t->deleting) {
        op_fail(op, KE_INVALID_TOPIC_EXCEPTION, "The topic '%s' is queued for deletion.", op->name);
        return;
    }
    int32_t cur = t->npartitions, total = op->num_partitions;
    if (total < cur) {
        op_fail(op, KE_INVALID_PARTITIONS,
                "Topic currently has %d partitions, which is higher than the requested %d.",
                (int)cur, (int)total);
        return;
    }
    if (total == cur) {
        op_fail(op, KE_INVALID_PARTITIONS, "Topic already has %d partitions.", (int)cur);
        return;
    }
    int32_t add = total - cur;
    int32_t *fresh = NULL;
    int32_t rf;
    if (op->assignment) {
        if (op->assignment_rows != add) {
            op_fail(op, KE_INVALID_REPLICA_ASSIGNMENT,
                    "Increasing the number of partitions by %d but %d assignments provided.",
                    (int)add, (int)op->assignment_rows);
            return;
        }
        if (!check_assignment(op, op->assignment, op->assignment_rows, op->assignment_rf)) {
            return;
        }
        rf = op->assignment_rf;
        fresh = op->assignment;
        op->assignment = NULL;
    } else {
        rf = cur > 0 ? t->partitions[0].nreplicas : 1;
        size_t nb;
        assign_broker_t *brokers = live_brokers(ctl, &nb);
        if (rf <= 0 || (size_t)rf > nb) {
            free(brokers);
            op_fail(op, KE_INVALID_REPLICATION_FACTOR,
                    "Replication factor: %d larger than available brokers: %d.", (int)rf, (int)nb);
            return;
        }
        /* Fixed start: position (id order) of the first broker with id >= p0's leader. */
        int32_t start = 0;
        if (cur > 0 && t->partitions[0].nreplicas > 0) {
            int32_t lead = t->partitions[0].replicas[0];
            int32_t *ids = xmalloc(nb * sizeof(int32_t));
            for (size_t i = 0; i < nb; i++) {
                ids[i] = brokers[i].id; /* mdc order is by id */
            }
            start = -1;
            for (size_t i = 0; i < nb && start < 0; i++) {
                if (ids[i] >= lead) {
                    start = (int32_t)i;
                }
            }
            if (start < 0) {
                start = 0;
            }
            free(ids);
        }
        fresh = xmalloc((size_t)add * (size_t)rf * sizeof(int32_t));
        int arc = assign_replicas(brokers, nb, add, rf, start, cur, fresh);
        free(brokers);
        if (arc != 0) {
            free(fresh);
            op_fail(op, (int16_t)arc, "Replica assignment failed.");
            return;
        }
    }
    if (op->validate_only) {
        free(fresh);
        op_succeed_later(op);
        return;
    }
    const int32_t **rows = xmalloc((size_t)total * sizeof(int32_t *));
    int32_t *counts = xmalloc((size_t)total * sizeof(int32_t));
    for (int32_t p = 0; p < cur; p++) {
        rows[p] = t->partitions[p].replicas;
        counts[p] = t->partitions[p].nreplicas;
    }
    for (int32_t p = 0; p < add; p++) {
        rows[cur + p] = fresh + (size_t)p * (size_t)rf;
        counts[cur + p] = rf;
    }
    char *json = zkpath_assignment_json_lists(t->id, total, rows, counts);
    free(rows);
    free(counts);
    free(fresh);
    char *path = zkpath_topic(op->name);
    ctl_ref(ctl);
    int rc = coord_set(ctl->coord, path, json, strlen(json), t->assignment_version,
                       on_assignment_set, op);
    free(path);
    free(json);
    if (rc != 0) {
        on_assignment_set(op, rc, NULL, 0, -1);
    }
}

/* ---------------------------------------------------------------- dispatch */

static void run_op(admin_op_t *op) {
    switch (op->kind) {
    case OP_CREATE:
        run_create(op);
        break;
    case OP_DELETE:
        run_delete(op);
        break;
    case OP_PARTITIONS:
        run_partitions(op);
        break;
    }
}

static void submit(admin_op_t *op) {
    ctl_t *ctl = op->ctl;
    ctl_ref(ctl); /* the op's own reference, dropped by op_complete */
    if (!cache_ready(ctl)) {
        /* Keep order: append. */
        admin_op_t **pp = &ctl->deferred;
        while (*pp) {
            pp = &(*pp)->next;
        }
        *pp = op;
        return;
    }
    run_op(op);
}

void ctl_run_deferred(ctl_t *ctl);
void ctl_run_deferred(ctl_t *ctl) {
    if (!ctl->deferred || !cache_ready(ctl)) {
        return;
    }
    admin_op_t *list = ctl->deferred;
    ctl->deferred = NULL;
    while (list) {
        admin_op_t *op = list;
        list = op->next;
        op->next = NULL;
        run_op(op);
    }
}

void ctl_admin_drop_deferred(ctl_t *ctl);
void ctl_admin_drop_deferred(ctl_t *ctl) {
    while (ctl->deferred) {
        admin_op_t *op = ctl->deferred;
        ctl->deferred = op->next;
        ctl->refs--; /* never reaches 0 here: the owner's reference is still held */
        op_free(op);
    }
}

static admin_op_t *op_new(ctl_t *ctl, admin_kind_t kind, const char *name, ctl_admin_cb cb,
                          void *arg) {
    admin_op_t *op = xcalloc(1, sizeof(*op));
    op->ctl = ctl;
    op->kind = kind;
    op->cb = cb;
    op->arg = arg;
    op->name = name ? xstrdup(name) : NULL;
    return op;
}

int ctl_create_topic(ctl_t *ctl, const ctl_topic_spec_t *spec, ctl_admin_cb cb, void *arg) {
    if (!ctl || ctl->dead || !spec || !cb) {
        return STRATA_EINVAL;
    }
    admin_op_t *op = op_new(ctl, OP_CREATE, spec->name, cb, arg);
    op->num_partitions = spec->num_partitions;
    op->rf = spec->replication_factor;
    op->validate_only = spec->validate_only;
    if (spec->assignment && spec->assignment_rf > 0) {
        int32_t rows = spec->assignment_rows > 0 ? spec->assignment_rows : spec->num_partitions;
        if (spec->assignment_rows > 0) {
            op->assignment_explicit_rows = true;
        }
        op->assignment_rf = spec->assignment_rf;
        op->assignment_rows = rows > 0 ? rows : 0;
        size_t cells = (size_t)op->assignment_rows * (size_t)spec->assignment_rf;
        op->assignment = xmalloc((cells ? cells : 1) * sizeof(int32_t));
        if (cells) {
            memcpy(op->assignment, spec->assignment, cells * sizeof(int32_t));
        }
    }
    if (spec->nconfigs) {
        op->config_keys = xcalloc(spec->nconfigs, sizeof(char *));
        op->config_values = xcalloc(spec->nconfigs, sizeof(char *));
        for (size_t i = 0; i < spec->nconfigs; i++) {
            op->config_keys[i] = xstrdup(spec->config_keys[i] ? spec->config_keys[i] : "");
            op->config_values[i] = xstrdup(spec->config_values[i] ? spec->config_values[i] : "");
        }
        op->nconfigs = spec->nconfigs;
    }
    submit(op);
    return 0;
}

int ctl_delete_topic(ctl_t *ctl, const char *name, ctl_admin_cb cb, void *arg) {
    if (!ctl || ctl->dead || !cb) {
        return STRATA_EINVAL;
    }
    submit(op_new(ctl, OP_DELETE, name, cb, arg));
    return 0;
}

int ctl_create_partitions_rows(ctl_t *ctl, const char *name, int32_t new_total,
                               const int32_t *assignment, int32_t assignment_rows,
                               int32_t assignment_rf, bool validate_only, ctl_admin_cb cb,
                               void *arg) {
    if (!ctl || ctl->dead || !cb) {
        return STRATA_EINVAL;
    }
    admin_op_t *op = op_new(ctl, OP_PARTITIONS, name, cb, arg);
    op->num_partitions = new_total;
    op->validate_only = validate_only;
    if (assignment && assignment_rf > 0) {
        int32_t rows = assignment_rows;
        if (rows < 0) {
            /* Kafka's CreatePartitions assignment covers only the new partitions: without a
             * row count, assume new_total minus the current count, known from the cache. */
            const mdc_topic_t *t = mdc_topic(ctl->mdc, name);
            rows = t ? new_total - t->npartitions : 0;
        }
        op->assignment_rf = assignment_rf;
        op->assignment_rows = rows > 0 ? rows : 0;
        size_t cells = (size_t)op->assignment_rows * (size_t)assignment_rf;
        op->assignment = xmalloc((cells ? cells : 1) * sizeof(int32_t));
        if (cells) {
            memcpy(op->assignment, assignment, cells * sizeof(int32_t));
        }
    }
    submit(op);
    return 0;
}

int ctl_create_partitions(ctl_t *ctl, const char *name, int32_t new_total,
                          const int32_t *assignment, int32_t assignment_rf, bool validate_only,
                          ctl_admin_cb cb, void *arg) {
    return ctl_create_partitions_rows(ctl, name, new_total, assignment, -1, assignment_rf,
                                      validate_only, cb, arg);
}
