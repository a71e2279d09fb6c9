/*
 * cfg: applies a typed configuration table (Redis static_configs[]) to a struct.
 * Every field is first set to its default, then to the value in props; values are
 * checked for type and range, and errors name the key and where it was set
 * ("log.segment.bytes (server.properties:12): 'abc' is not an integer").
 * String fields are owned by the struct and freed with cfg_free_strings().
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strata/util.h"

int parse_int64(const char *s, int64_t *out) {
    if (s == NULL) {
        return STRATA_EINVAL;
    }
    const char *p = s;
    bool neg = false;
    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        p++;
    }
    if (*p < '0' || *p > '9') {
        return STRATA_EINVAL;
    }
    uint64_t v = 0;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') {
            return STRATA_EINVAL;
        }
        unsigned d = (unsigned)(*p - '0');
        if (v > (limit - d) / 10) {
            return STRATA_EINVAL;
        }
        v = v * 10 + d;
    }
    if (neg) {
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        *out = (int64_t)v;
    }
    return 0;
}

static const char *type_name(cfg_type_t t) {
    switch (t) {
    case CFG_INT32:
    case CFG_INT64:
        return "an integer";
    case CFG_BOOL:
        return "a boolean (true or false)";
    case CFG_DOUBLE:
        return "a number";
    case CFG_STRING:
        return "a string";
    }
    return "a value";
}

/* Sets one field from text. @returns 0 or STRATA_ECONFIG with err filled. */
static int set_field(const cfg_def_t *d, void *target, const char *text, const char *where,
                     char *err, size_t err_len) {
    char *field = (char *)target + d->offset;
    bool ranged = d->min <= d->max;
    switch (d->type) {
    case CFG_INT32:
    case CFG_INT64: {
        int64_t v;
        if (parse_int64(text, &v) != 0) {
            snprintf(err, err_len, "%s (%s): '%s' is not %s", d->key, where, text,
                     type_name(d->type));
            return STRATA_ECONFIG;
        }
        int64_t lo = d->type == CFG_INT32 ? INT32_MIN : INT64_MIN;
        int64_t hi = d->type == CFG_INT32 ? INT32_MAX : INT64_MAX;
        if (ranged) {
            lo = d->min > lo ? d->min : lo;
            hi = d->max < hi ? d->max : hi;
        }
        if (v < lo || v > hi) {
            snprintf(err, err_len,
                     "%s (%s): %" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]", d->key,
                     where, v, lo, hi);
            return STRATA_ECONFIG;
        }
        if (d->type == CFG_INT32) {
            int32_t v32 = (int32_t)v;
            memcpy(field, &v32, sizeof(v32));
        } else {
            memcpy(field, &v, sizeof(v));
        }
        return 0;
    }
    case CFG_BOOL: {
        bool b;
        if (strcasecmp(text, "true") == 0) {
            b = true;
        } else if (strcasecmp(text, "false") == 0) {
            b = false;
        } else {
            snprintf(err, err_len, "%s (%s): '%s' is not %s", d->key, where, text,
                     type_name(d->type));
            return STRATA_ECONFIG;
        }
        memcpy(field, &b, sizeof(b));
        return 0;
    }
    case CFG_DOUBLE: {
        char *end = NULL;
        errno = 0;
        double v = strtod(text, &end);
        if (text[0] == '\0' || end == NULL || *end != '\0' || errno == ERANGE || isnan(v) ||
            isinf(v)) {
            snprintf(err, err_len, "%s (%s): '%s' is not %s", d->key, where, text,
                     type_name(d->type));
            return STRATA_ECONFIG;
        }
        if (ranged && (v < (double)d->min || v > (double)d->max)) {
            snprintf(err, err_len, "%s (%s): %s is out of range [%" PRId64 ", %" PRId64 "]", d->key,
                     where, text, d->min, d->max);
            return STRATA_ECONFIG;
        }
        memcpy(field, &v, sizeof(v));
        return 0;
    }
    case CFG_STRING: {
        char *old;
        memcpy(&old, field, sizeof(old));
        free(old);
        char *s = xstrdup(text);
        memcpy(field, &s, sizeof(s));
        return 0;
    }
    }
    snprintf(err, err_len, "%s: unknown type", d->key);
    return STRATA_ECONFIG;
}

int cfg_apply(const cfg_def_t *defs, size_t ndefs, void *target, const props_t *props,
              bool warn_unknown, char *err, size_t err_len) {
    /* 1. String fields start NULL so set_field can free what it replaces. */
    for (size_t i = 0; i < ndefs; i++) {
        if (defs[i].type == CFG_STRING) {
            char *null = NULL;
            memcpy((char *)target + defs[i].offset, &null, sizeof(null));
        }
    }
    /* 2. Defaults. */
    for (size_t i = 0; i < ndefs; i++) {
        const char *def = defs[i].def;
        if (def == NULL) {
            def = defs[i].type == CFG_STRING ? "" : defs[i].type == CFG_BOOL ? "false" : "0";
        }
        int rc = set_field(&defs[i], target, def, "default", err, err_len);
        if (rc != 0) {
            return rc;
        }
    }
    if (props == NULL) {
        return 0;
    }
    /* 3. Values from props. */
    for (size_t i = 0; i < ndefs; i++) {
        const char *v = props_get(props, defs[i].key);
        if (v == NULL) {
            continue;
        }
        const char *where = props_source(props, defs[i].key);
        int rc = set_field(&defs[i], target, v, where ? where : "config", err, err_len);
        if (rc != 0) {
            return rc;
        }
    }
    /* 4. Keys nobody knows: a warning, like Kafka's "supplied but isn't a known config". */
    if (warn_unknown) {
        for (size_t i = 0; i < props_count(props); i++) {
            const char *k, *v;
            props_entry(props, i, &k, &v);
            bool known = false;
            for (size_t j = 0; j < ndefs && !known; j++) {
                known = strcmp(defs[j].key, k) == 0;
            }
            if (!known) {
                const char *where = props_source(props, k);
                slog_warn("The configuration '%s' (%s) was supplied but isn't a known config.", k,
                          where ? where : "config");
            }
        }
    }
    return 0;
}

void cfg_free_strings(const cfg_def_t *defs, size_t ndefs, void *target) {
    for (size_t i = 0; i < ndefs; i++) {
        if (defs[i].type == CFG_STRING) {
            char *s;
            char *field = (char *)target + defs[i].offset;
            memcpy(&s, field, sizeof(s));
            free(s);
            s = NULL;
            memcpy(field, &s, sizeof(s));
        }
    }
}
