/*
 * replica_int.h: declarations shared by the files of src/replica/ (issue 6), not part of
 * the public contract (include/strata/replica.h): the follower fetchers (fetcher.c), the
 * ISR writes (isr.c) and the replica manager's follower-side entry points.
 */
#ifndef STRATA_REPLICA_INT_H
#define STRATA_REPLICA_INT_H

#include "strata/replica.h"

/* ---------------------------------------------------------------- replica_manager.c */

/** The local partition by name, whatever its role; NULL when not hosted. */
part_t *rm_lookup(rm_t *rm, const char *topic, int32_t partition);
mdc_t *rm_mdc(rm_t *rm);
const rm_config_t *rm_cfg(const rm_t *rm);
uv_loop_t *rm_loop(rm_t *rm);
/** True while p follows leader `leader` in leader epoch `epoch` (the fetcher's view is current). */
bool rm_follows(const part_t *p, int32_t leader);
/** Follower append of whole batches from the leader; learns leader_hw. */
int rm_replica_append(rm_t *rm, part_t *p, const uint8_t *data, size_t len, int64_t leader_hw);
/** Follower truncation to offset (divergent tail), epoch cache and HW follow. */
int rm_replica_truncate(rm_t *rm, part_t *p, int64_t offset);
/** Follower too far behind the leader's log start: restart the log at start. */
int rm_replica_reset(rm_t *rm, part_t *p, int64_t start);
/** The follower's latest leader epoch and its own end offset for an epoch. */
int32_t rm_replica_latest_epoch(part_t *p);

/* ---------------------------------------------------------------- fetcher.c */

typedef struct rfm rfm_t;
rfm_t *rfm_new(rm_t *rm);
/** p (by name) now follows leader: it is truncated first (OffsetForLeaderEpoch), then fetched. */
void rfm_add(rfm_t *f, const char *topic, int32_t partition, int32_t leader);
void rfm_remove(rfm_t *f, const char *topic, int32_t partition);
/** Closes every connection (handles closed asynchronously) and frees. */
void rfm_free(rfm_t *f);

/* ---------------------------------------------------------------- isr.c */

/** Writes a new ISR for the leader partition p to its state znode (version-checked) and
 * announces it under /isr_change_notification. At most one write per partition in flight. */
void isr_write(rm_t *rm, part_t *p, const int32_t *isr, int32_t nisr);
/** Called by isr.c when a write succeeded: adopt isr at the new znode version. */
void rm_isr_written(rm_t *rm, const char *topic, int32_t partition, const int32_t *isr,
                    int32_t nisr, int rc);
/** An ISR write holds rm until rm_isr_written. */
void rm_io_hold(rm_t *rm);
bool rm_closing(const rm_t *rm);
/** Fields isr.c needs. */
void part_state_for_write(const part_t *p, const char **topic, int32_t *partition,
                          int32_t *leader_epoch, bool **inflight);

#endif /* STRATA_REPLICA_INT_H */
