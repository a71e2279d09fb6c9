/*
 * replay_main: the main() of the fuzz targets' replay executables (ordinary builds, no
 * libFuzzer): runs each file named on the command line once through the target's
 * LLVMFuzzerTestOneInput, as a regression test of the corpus.
 */
#include <stdint.h>
#include <stdio.h>

#include "strata/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        buf_t b = BUF_INIT;
        int rc = fs_read_file(argv[i], &b);
        if (rc != 0) {
            fprintf(stderr, "%s: %s\n", argv[i], strata_strerror(rc));
            return 1;
        }
        LLVMFuzzerTestOneInput(b.data, b.len);
        buf_destroy(&b);
    }
    printf("replayed %d inputs\n", argc - 1);
    return 0;
}
