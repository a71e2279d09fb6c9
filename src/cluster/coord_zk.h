/*
 * cluster/coord_zk.h: internals of the ZooKeeper coord that tests need (not part of the
 * public cluster.h contract).
 */
#ifndef STRATA_CLUSTER_COORD_ZK_H
#define STRATA_CLUSTER_COORD_ZK_H

#include <stdint.h>

#include "strata/cluster.h"

/**
 * The current ZooKeeper session of a coord_zk: id and 16-byte password, for tests that
 * expire a session with a second handle (the ZooKeeper FAQ trick). @locality loop
 * @returns 0, or STRATA_ENOTFOUND while no session is established.
 */
int coord_zk_session(coord_t *c, int64_t *session_id, char passwd[16]);

#endif /* STRATA_CLUSTER_COORD_ZK_H */
