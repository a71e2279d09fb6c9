/*
 * slog: diagnostic log lines in Kafka's log4j layout,
 * "[2026-11-25 11:39:23,123] INFO message", each written to stderr with a single
 * write(2) so lines from different threads never interleave.
 * The level comes from slog_set_level() or, at first use, STRATA_LOG_LEVEL.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "strata/util.h"

/* -1 = not yet initialised from the environment. */
static _Atomic int current_level = -1;

int slog_parse_level(const char *name, slog_level_t *out) {
    static const struct {
        const char *name;
        slog_level_t level;
    } names[] = {{"debug", SLOG_DEBUG}, {"trace", SLOG_DEBUG},  {"info", SLOG_INFO},
                 {"warn", SLOG_WARN},   {"warning", SLOG_WARN}, {"error", SLOG_ERROR}};
    if (name == NULL) {
        return STRATA_EINVAL;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(name, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    }
    return STRATA_EINVAL;
}

void slog_set_level(slog_level_t level) {
    atomic_store(&current_level, (int)level);
}

slog_level_t slog_get_level(void) {
    int lv = atomic_load(&current_level);
    if (lv < 0) {
        slog_level_t parsed = SLOG_INFO;
        const char *env = getenv("STRATA_LOG_LEVEL");
        if (env != NULL && slog_parse_level(env, &parsed) != 0) {
            parsed = SLOG_INFO;
        }
        int expected = -1;
        /* Only the first caller initialises; a concurrent slog_set_level wins. */
        atomic_compare_exchange_strong(&current_level, &expected, (int)parsed);
        lv = atomic_load(&current_level);
    }
    return (slog_level_t)lv;
}

static const char *level_name(slog_level_t level) {
    switch (level) {
    case SLOG_DEBUG:
        return "DEBUG";
    case SLOG_INFO:
        return "INFO";
    case SLOG_WARN:
        return "WARN";
    case SLOG_ERROR:
        return "ERROR";
    }
    return "INFO";
}

void slog_v(slog_level_t level, const char *fmt, va_list ap) {
    if ((int)level < (int)slog_get_level()) {
        return;
    }
    char line[4096];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof(line), "[%Y-%m-%d %H:%M:%S", &tm);
    int r = snprintf(line + n, sizeof(line) - n, ",%03ld] %s ", ts.tv_nsec / 1000000L,
                     level_name(level));
    if (r > 0) {
        n += (size_t)r;
    }
    r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if (r > 0) {
        n += (size_t)r;
    }
    if (n > sizeof(line) - 2) {
        /* Truncated: mark it and keep the newline. */
        n = sizeof(line) - 2;
        memcpy(line + n - 3, "...", 3);
    }
    while (n > 0 && line[n - 1] == '\n') {
        n--;
    }
    line[n++] = '\n';
    ssize_t w = write(2, line, n);
    (void)w;
}

void slog(slog_level_t level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    slog_v(level, fmt, ap);
    va_end(ap);
}
