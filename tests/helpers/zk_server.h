/*
 * zk_server: a throw-away ZooKeeper for C tests, started and stopped through
 * scripts/zk.sh (Debian's zookeeper package, a temporary data dir, a free loopback
 * port, stopped by PID; a watchdog stops it if the test process dies).
 */
#ifndef STRATA_TEST_ZK_SERVER_H
#define STRATA_TEST_ZK_SERVER_H

#include <stddef.h>

typedef struct zk_server {
    char root[1024];  /* source tree root */
    char *dir;        /* zk.sh instance directory, NULL when none was started */
    char hosts[128];  /* "127.0.0.1:port" */
    const char *skip; /* why ZooKeeper tests must be skipped, or NULL */
} zk_server_t;

/**
 * Starts a server. source_file is the test's __FILE__ (the tree root is found from it).
 * STRATA_TEST_ZK=host:port uses an already running server instead (debugging).
 * @returns 0 with hosts set; 0 with skip set when java or the zookeeper package is
 * missing; -1 when the server would not start.
 */
int zk_server_start(zk_server_t *zk, const char *source_file);
/** Runs `scripts/zk.sh VERB <dir>`; its first output line goes to out. @returns its exit status. */
int zk_server_script(zk_server_t *zk, const char *verb, char *out, size_t out_len);
/** Stops the server and removes its directory (no-op when none was started). */
void zk_server_stop(zk_server_t *zk);

#endif /* STRATA_TEST_ZK_SERVER_H */
