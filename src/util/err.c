/*
 * err: strata_strerror() for STRATA_E* codes and negative errnos, and the
 * failure path of STRATA_ASSERT (which stays on in release builds).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strata/util.h"

const char *strata_strerror(int err) {
    switch (err) {
    case 0:
        return "Success";
    case STRATA_ECORRUPT:
        return "Corrupt data";
    case STRATA_EOFFSET_RANGE:
        return "Offset out of range";
    case STRATA_ETOO_LARGE:
        return "Too large";
    case STRATA_EOFFLINE:
        return "Offline after an I/O error";
    case STRATA_ENOTFOUND:
        return "Not found";
    case STRATA_EEXISTS:
        return "Already exists";
    case STRATA_ECONFIG:
        return "Invalid configuration";
    case STRATA_EFULL:
        return "Full";
    case STRATA_EBADVERSION:
        return "Version mismatch";
    case STRATA_ECONNLOSS:
        return "Coordination service connection lost";
    case STRATA_ESESSION:
        return "Coordination session expired";
    case STRATA_EINVAL:
        return "Invalid argument";
    case STRATA_ENOTEMPTY:
        return "Not empty";
    case STRATA_ESHUTDOWN:
        return "Shutting down";
    default:
        break;
    }
    if (err < 0 && err > STRATA_EBASE) {
        /* strerror() of glibc returns a static string for known codes. */
        return strerror(-err);
    }
    return "Unknown error";
}

void strata_assert_fail(const char *expr, const char *file, int line) {
    char msg[512];
    int n = snprintf(msg, sizeof(msg), "strata: assertion failed: %s (%s:%d)\n", expr, file, line);
    if (n > 0) {
        size_t len = (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;
        ssize_t r = write(2, msg, len);
        (void)r;
    }
    abort();
}
