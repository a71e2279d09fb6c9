/* zk_server: start/stop a throw-away ZooKeeper for C tests through scripts/zk.sh. */
#include "zk_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tmpdir.h"

int zk_server_script(zk_server_t *zk, const char *verb, char *out, size_t out_len) {
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "'%s/scripts/zk.sh' %s '%s'", zk->root, verb,
             zk->dir ? zk->dir : "");
    FILE *p = popen(cmd, "r");
    if (!p) {
        return -1;
    }
    char line[256] = "";
    if (!fgets(line, sizeof(line), p)) {
        line[0] = '\0';
    }
    int st = pclose(p);
    if (out) {
        line[strcspn(line, "\n")] = '\0';
        snprintf(out, out_len, "%s", line);
    }
    return st;
}

int zk_server_start(zk_server_t *zk, const char *source_file) {
    memset(zk, 0, sizeof(*zk));
    snprintf(zk->root, sizeof(zk->root), "%s", source_file);
    char *cut = strstr(zk->root, "/tests/");
    if (cut) {
        *cut = '\0';
    }
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "'%s/scripts/zk.sh' check", zk->root);
    if (system(cmd) != 0) {
        zk->skip = "java or Debian's zookeeper package is not installed (scripts/zk.sh check)";
        fprintf(stderr, "SKIP: %s\n", zk->skip);
        return 0;
    }
    const char *ext = getenv("STRATA_TEST_ZK");
    if (ext && ext[0]) {
        snprintf(zk->hosts, sizeof(zk->hosts), "%s", ext);
        return 0;
    }
    char owner[32];
    snprintf(owner, sizeof(owner), "%d", (int)getpid());
    setenv("ZK_OWNER_PID", owner, 1);
    zk->dir = tmpdir_new();
    char port[16];
    if (zk_server_script(zk, "start", port, sizeof(port)) != 0 || !port[0]) {
        fprintf(stderr, "could not start ZooKeeper (see %s/zk.log)\n", zk->dir);
        return -1;
    }
    snprintf(zk->hosts, sizeof(zk->hosts), "127.0.0.1:%s", port);
    return 0;
}

void zk_server_stop(zk_server_t *zk) {
    if (zk->dir) {
        zk_server_script(zk, "stop", NULL, 0);
        tmpdir_remove(zk->dir);
        zk->dir = NULL;
    }
}
