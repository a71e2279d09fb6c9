/*
 * props: a reader for Kafka/Java .properties files and "key=value" overrides.
 * Syntax (java.util.Properties.load): logical lines joined by a trailing odd
 * backslash (leading whitespace of the next line dropped), '#'/'!' comment lines,
 * key ends at the first unescaped '=', ':' or whitespace, escapes \t \n \r \f \\
 * \uXXXX (written out as UTF-8) and \<any> = <any>. Unlike Java, trailing unescaped
 * whitespace of a value is trimmed (Kafka trims values when it parses them).
 * Entries keep insertion order; setting a key again replaces its value and source
 * in place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/util.h"

typedef struct prop {
    char *key;
    char *value;
    char *source;
} prop_t;

struct props {
    prop_t *items;
    size_t count, cap;
    map_t *index; /* key -> index + 1 */
};

props_t *props_new(void) {
    props_t *p = xcalloc(1, sizeof(*p));
    p->index = map_new();
    return p;
}

void props_free(props_t *p) {
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->count; i++) {
        free(p->items[i].key);
        free(p->items[i].value);
        free(p->items[i].source);
    }
    free(p->items);
    map_free(p->index, NULL);
    free(p);
}

void props_set(props_t *p, const char *key, const char *value, const char *source) {
    uintptr_t idx = (uintptr_t)map_get_str(p->index, key);
    if (idx != 0) {
        prop_t *e = &p->items[idx - 1];
        free(e->value);
        free(e->source);
        e->value = xstrdup(value);
        e->source = source ? xstrdup(source) : NULL;
        return;
    }
    if (p->count == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->items = xrealloc(p->items, p->cap * sizeof(prop_t));
    }
    prop_t *e = &p->items[p->count++];
    e->key = xstrdup(key);
    e->value = xstrdup(value);
    e->source = source ? xstrdup(source) : NULL;
    map_put_str(p->index, key, (void *)(uintptr_t)p->count);
}

const char *props_get(const props_t *p, const char *key) {
    uintptr_t idx = (uintptr_t)map_get_str(p->index, key);
    return idx ? p->items[idx - 1].value : NULL;
}

const char *props_source(const props_t *p, const char *key) {
    uintptr_t idx = (uintptr_t)map_get_str(p->index, key);
    return idx ? p->items[idx - 1].source : NULL;
}

size_t props_count(const props_t *p) {
    return p->count;
}

void props_entry(const props_t *p, size_t i, const char **key, const char **value) {
    STRATA_ASSERT(i < p->count);
    *key = p->items[i].key;
    *value = p->items[i].value;
}

static bool is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\f';
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static void put_utf8(buf_t *out, uint32_t cp) {
    uint8_t b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (uint8_t)(0xC0 | cp >> 6);
        b[1] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (uint8_t)(0xE0 | cp >> 12);
        b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (uint8_t)(0xF0 | cp >> 18);
        b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 4;
    }
    buf_append(out, b, n);
}

static int read_u4(const char *s, size_t len, size_t i, uint32_t *out) {
    if (i + 4 > len) {
        return -1;
    }
    uint32_t v = 0;
    for (size_t k = 0; k < 4; k++) {
        int h = hexval(s[i + k]);
        if (h < 0) {
            return -1;
        }
        v = v << 4 | (uint32_t)h;
    }
    *out = v;
    return 0;
}

/*
 * Unescapes s[0..len) into out (NUL-terminated). With key_mode, stops at the first
 * unescaped separator and stores its position in *stop. @returns 0 or -1 on a
 * malformed \uXXXX.
 */
static int unescape(const char *s, size_t len, bool key_mode, buf_t *out, size_t *stop) {
    size_t i = 0;
    while (i < len) {
        char c = s[i];
        if (key_mode && (c == '=' || c == ':' || is_ws(c))) {
            break;
        }
        if (c != '\\') {
            buf_append(out, &c, 1);
            i++;
            continue;
        }
        i++;
        if (i >= len) {
            break; /* lone trailing backslash: dropped, like Java */
        }
        c = s[i++];
        switch (c) {
        case 't':
            buf_append(out, "\t", 1);
            break;
        case 'n':
            buf_append(out, "\n", 1);
            break;
        case 'r':
            buf_append(out, "\r", 1);
            break;
        case 'f':
            buf_append(out, "\f", 1);
            break;
        case 'u': {
            uint32_t cp;
            if (read_u4(s, len, i, &cp) != 0) {
                return -1;
            }
            i += 4;
            if (cp >= 0xD800 && cp < 0xDC00) {
                uint32_t lo;
                if (i + 6 <= len && s[i] == '\\' && s[i + 1] == 'u' &&
                    read_u4(s, len, i + 2, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                } else {
                    return -1;
                }
            } else if (cp >= 0xDC00 && cp < 0xE000) {
                return -1;
            }
            put_utf8(out, cp);
            break;
        }
        default:
            buf_append(out, &c, 1);
            break;
        }
    }
    if (stop != NULL) {
        *stop = i;
    }
    buf_append(out, "", 1);
    return 0;
}

/* Parses one logical line (no continuation markers left). @returns 0, or -1 with err set. */
static int parse_logical(props_t *p, const char *line, size_t len, const char *source, char *err,
                         size_t err_len) {
    size_t i = 0;
    while (i < len && is_ws(line[i])) {
        i++;
    }
    if (i == len || line[i] == '#' || line[i] == '!') {
        return 0;
    }
    /* Trim trailing unescaped whitespace. */
    while (len > i && (is_ws(line[len - 1]) || line[len - 1] == '\r')) {
        size_t bs = 0;
        while (len - 1 - bs > i && line[len - 2 - bs] == '\\') {
            bs++;
        }
        if (bs % 2 == 1) {
            break;
        }
        len--;
    }
    buf_t key = BUF_INIT, value = BUF_INIT;
    size_t stop = 0;
    int rc = -1;
    if (unescape(line + i, len - i, true, &key, &stop) != 0) {
        snprintf(err, err_len, "%s: malformed \\uXXXX escape in key", source);
        goto fail;
    }
    i += stop;
    while (i < len && is_ws(line[i])) {
        i++;
    }
    if (i < len && (line[i] == '=' || line[i] == ':')) {
        i++;
    }
    while (i < len && is_ws(line[i])) {
        i++;
    }
    if (unescape(line + i, len - i, false, &value, NULL) != 0) {
        snprintf(err, err_len, "%s: malformed \\uXXXX escape in the value of '%s'", source,
                 (char *)key.data);
        goto fail;
    }
    if (key.data[0] == '\0') {
        snprintf(err, err_len, "%s: empty key", source);
        goto fail;
    }
    props_set(p, (char *)key.data, (char *)value.data, source);
    rc = 0;
fail:
    buf_destroy(&key);
    buf_destroy(&value);
    return rc;
}

/* True when s[0..len) ends with an odd number of backslashes (a continuation). */
static bool continues(const char *s, size_t len) {
    size_t bs = 0;
    while (bs < len && s[len - 1 - bs] == '\\') {
        bs++;
    }
    return bs % 2 == 1;
}

static int parse_text(props_t *p, const char *text, size_t n, const char *name, char *err,
                      size_t err_len) {
    buf_t logical = BUF_INIT;
    size_t pos = 0;
    int line_no = 0;
    int rc = 0;
    while (pos < n) {
        line_no++;
        int start_line = line_no;
        buf_reset(&logical);
        bool first = true;
        for (;;) {
            const char *nl = memchr(text + pos, '\n', n - pos);
            size_t end = nl ? (size_t)(nl - text) : n;
            size_t l = end - pos;
            const char *s = text + pos;
            pos = nl ? end + 1 : n;
            if (l > 0 && s[l - 1] == '\r') {
                l--;
            }
            if (!first) {
                while (l > 0 && is_ws(*s)) {
                    s++;
                    l--;
                }
            }
            bool is_comment = false;
            if (first) {
                size_t k = 0;
                while (k < l && is_ws(s[k])) {
                    k++;
                }
                is_comment = k < l && (s[k] == '#' || s[k] == '!');
            }
            first = false;
            if (!is_comment && continues(s, l) && pos < n) {
                buf_append(&logical, s, l - 1);
                line_no++;
                continue;
            }
            if (!is_comment && continues(s, l)) {
                l--; /* continuation at end of file: drop the backslash */
            }
            buf_append(&logical, s, l);
            break;
        }
        char source[512];
        snprintf(source, sizeof(source), "%s:%d", name, start_line);
        if (parse_logical(p, logical.len ? (char *)logical.data : "", logical.len, source, err,
                          err_len) != 0) {
            rc = STRATA_ECONFIG;
            break;
        }
    }
    buf_destroy(&logical);
    return rc;
}

int props_load_file(props_t *p, const char *path, char *err, size_t err_len) {
    buf_t b = BUF_INIT;
    int rc = fs_read_file(path, &b);
    if (rc != 0) {
        snprintf(err, err_len, "%s: %s", path, strata_strerror(rc));
        buf_destroy(&b);
        return rc;
    }
    rc = parse_text(p, b.len ? (char *)b.data : "", b.len, path, err, err_len);
    buf_destroy(&b);
    return rc;
}

int props_set_kv(props_t *p, const char *kv, const char *source, char *err, size_t err_len) {
    const char *eq = strchr(kv, '=');
    if (eq == NULL || eq == kv) {
        snprintf(err, err_len, "%s: expected key=value, got '%s'", source ? source : "override",
                 kv);
        return STRATA_ECONFIG;
    }
    char *key = xstrndup(kv, (size_t)(eq - kv));
    /* Trim the key; the value is taken verbatim apart from surrounding whitespace. */
    char *k = key;
    while (is_ws(*k)) {
        k++;
    }
    size_t kl = strlen(k);
    while (kl > 0 && is_ws(k[kl - 1])) {
        k[--kl] = '\0';
    }
    const char *v = eq + 1;
    while (is_ws(*v)) {
        v++;
    }
    size_t vl = strlen(v);
    while (vl > 0 && is_ws(v[vl - 1])) {
        vl--;
    }
    int rc = 0;
    if (kl == 0) {
        snprintf(err, err_len, "%s: expected key=value, got '%s'", source ? source : "override",
                 kv);
        rc = STRATA_ECONFIG;
    } else {
        char *value = xstrndup(v, vl);
        props_set(p, k, value, source);
        free(value);
    }
    free(key);
    return rc;
}
