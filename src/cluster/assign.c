/*
 * assign: Kafka's replica assignment (AdminUtils.assignReplicasToBrokers), rack-unaware and
 * rack-aware, as kafka-protocol/README.md "Replica assignment" describes it. Pure functions:
 * the only state is the random start, and a fixed start index makes the result deterministic.
 *
 * Invariants of the result (for valid input): every partition gets rf distinct brokers;
 * rack-aware: when rf >= number of racks every rack holds a replica, otherwise no rack holds
 * two.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "strata/cluster.h"

enum {
    KERR_INVALID_PARTITIONS = 37,
    KERR_INVALID_REPLICATION_FACTOR = 38,
    KERR_INVALID_REPLICA_ASSIGNMENT = 39
};

static int32_t random_below(int32_t n) {
    uint32_t r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
        r = (uint32_t)clock_mono_ns() ^ (uint32_t)(clock_wall_ms() * 2654435761u);
    }
    return (int32_t)(r % (uint32_t)n);
}

static int32_t replica_index(int32_t first, int64_t shift, int32_t j, int32_t n) {
    int32_t step = 1 + (int32_t)((shift + j) % (n - 1));
    return (first + step) % n;
}

static int cmp_broker_id(const void *a, const void *b) {
    const assign_broker_t *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static int cmp_rack_then_id(const void *a, const void *b) {
    const assign_broker_t *x = a, *y = b;
    int c = strcmp(x->rack, y->rack);
    if (c != 0) {
        return c;
    }
    return (x->id > y->id) - (x->id < y->id);
}

/* Brokers ordered by alternating racks: first of each rack (racks sorted), then seconds... */
static void rack_alternated(const assign_broker_t *sorted_by_rack, int32_t n, int32_t *list,
                            int32_t *rack_of, int32_t *nracks_out) {
    /* Rack groups are contiguous in sorted_by_rack. */
    int32_t *start = xmalloc((size_t)n * sizeof(int32_t));
    int32_t *size = xmalloc((size_t)n * sizeof(int32_t));
    int32_t nracks = 0;
    for (int32_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(sorted_by_rack[i].rack, sorted_by_rack[i - 1].rack) != 0) {
            start[nracks] = i;
            size[nracks] = 0;
            nracks++;
        }
        size[nracks - 1]++;
    }
    int32_t k = 0;
    for (int32_t round = 0; k < n; round++) {
        for (int32_t r = 0; r < nracks; r++) {
            if (round < size[r]) {
                list[k] = sorted_by_rack[start[r] + round].id;
                rack_of[k] = r;
                k++;
            }
        }
    }
    *nracks_out = nracks;
    free(start);
    free(size);
}

int assign_replicas(const assign_broker_t *brokers, size_t nbrokers, int32_t npartitions,
                    int32_t rf, int32_t start_index, int32_t start_partition, int32_t *out) {
    return assign_replicas_fixed(brokers, nbrokers, npartitions, rf, start_index, start_index,
                                 start_partition, out);
}

int assign_replicas_fixed(const assign_broker_t *brokers, size_t nbrokers, int32_t npartitions,
                          int32_t rf, int32_t start_index, int32_t replica_shift,
                          int32_t start_partition, int32_t *out) {
    if (npartitions <= 0) {
        return KERR_INVALID_PARTITIONS;
    }
    if (rf <= 0 || (size_t)rf > nbrokers) {
        return KERR_INVALID_REPLICATION_FACTOR;
    }
    if (start_partition < 0) {
        start_partition = 0;
    }
    size_t nracked = 0;
    for (size_t i = 0; i < nbrokers; i++) {
        if (brokers[i].rack) {
            nracked++;
        }
    }
    if (nracked != 0 && nracked != nbrokers) {
        return KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    for (size_t i = 1; i < nbrokers; i++) {
        for (size_t j = 0; j < i; j++) {
            if (brokers[i].id == brokers[j].id) {
                return KERR_INVALID_REPLICA_ASSIGNMENT;
            }
        }
    }
    int32_t n = (int32_t)nbrokers;
    assign_broker_t *sorted = xmalloc(nbrokers * sizeof(*sorted));
    memcpy(sorted, brokers, nbrokers * sizeof(*sorted));
    int32_t *list = xmalloc(nbrokers * sizeof(int32_t));
    int32_t *rack_of = xmalloc(nbrokers * sizeof(int32_t));
    int32_t nracks = 0;
    bool rack_aware = nracked == nbrokers;
    if (rack_aware) {
        qsort(sorted, nbrokers, sizeof(*sorted), cmp_rack_then_id);
        rack_alternated(sorted, n, list, rack_of, &nracks);
    } else {
        qsort(sorted, nbrokers, sizeof(*sorted), cmp_broker_id);
        for (int32_t i = 0; i < n; i++) {
            list[i] = sorted[i].id;
            rack_of[i] = 0;
        }
    }
    int32_t start = start_index >= 0 ? start_index % n : random_below(n);
    int32_t shift = replica_shift >= 0 ? replica_shift : random_below(n);
    bool *rack_used = xcalloc((size_t)nracks + 1, sizeof(bool));
    bool *broker_used = xcalloc(nbrokers, sizeof(bool));
    for (int32_t i = 0; i < npartitions; i++) {
        int32_t p = start_partition + i;
        if (p > 0 && p % n == 0) {
            shift++;
        }
        int32_t first = (int32_t)(((int64_t)p + start) % n);
        int32_t *row = out + (size_t)i * (size_t)rf;
        row[0] = list[first];
        if (!rack_aware) {
            for (int32_t j = 0; j < rf - 1; j++) {
                row[j + 1] = list[replica_index(first, shift, j, n)];
            }
            continue;
        }
        memset(rack_used, 0, (size_t)nracks * sizeof(bool));
        memset(broker_used, 0, nbrokers * sizeof(bool));
        rack_used[rack_of[first]] = true;
        broker_used[first] = true;
        int32_t racks_used = 1, brokers_used = 1, k = 0;
        for (int32_t j = 1; j < rf; j++) {
            /* Terminates: an unused broker always exists (rf <= n), and one in an unused rack
             * whenever a rack is unused. The bound is a guard only. */
            for (int32_t guard = 0; guard < 4 * n; guard++) {
                int32_t idx = replica_index(first, (int64_t)shift * nracks, k, n);
                k++;
                int32_t r = rack_of[idx];
                if ((!rack_used[r] || racks_used == nracks) &&
                    (!broker_used[idx] || brokers_used == n)) {
                    row[j] = list[idx];
                    if (!rack_used[r]) {
                        rack_used[r] = true;
                        racks_used++;
                    }
                    if (!broker_used[idx]) {
                        broker_used[idx] = true;
                        brokers_used++;
                    }
                    break;
                }
            }
        }
    }
    free(rack_used);
    free(broker_used);
    free(sorted);
    free(list);
    free(rack_of);
    return 0;
}
