/* tmpdir: fresh mkdtemp directories for tests, removed recursively afterwards. */
#include <stdio.h>
#include <stdlib.h>

#include "strata/util.h"
#include "tmpdir.h"

char *tmpdir_new(void) {
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0') {
        base = "/tmp";
    }
    char *path = xasprintf("%s/strata-test-XXXXXX", base);
    if (mkdtemp(path) == NULL) {
        perror("mkdtemp");
        abort();
    }
    return path;
}

void tmpdir_remove(char *path) {
    if (path == NULL) {
        return;
    }
    fs_remove_tree(path);
    free(path);
}
