/*
 * map: open addressing with linear probing, keys hashed with XXH3_64bits and copied
 * in (NUL-terminated, so string keys can be printed), values borrowed.
 * Invariants:
 *   1. capacity is a power of two and (live + tombstones) <= 3/4 of it after a put;
 *   2. removal leaves a tombstone and never moves entries, so removing the entry just
 *      returned by map_next() keeps the iteration valid;
 *   3. only map_put() rehashes (which drops tombstones).
 */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "strata/util.h"

enum { SLOT_EMPTY = 0, SLOT_FULL = 1, SLOT_DELETED = 2 };

typedef struct slot {
    uint64_t hash;
    char *key;
    size_t key_len;
    void *value;
    int state;
} slot_t;

struct map {
    slot_t *slots;
    size_t cap; /* power of two */
    size_t count;
    size_t deleted;
};

uint64_t strata_hash64(const void *data, size_t len) {
    return XXH3_64bits(data, len);
}

map_t *map_new(void) {
    map_t *m = xmalloc(sizeof(*m));
    m->cap = 16;
    m->slots = xcalloc(m->cap, sizeof(slot_t));
    m->count = 0;
    m->deleted = 0;
    return m;
}

void map_free(map_t *m, void (*free_value)(void *)) {
    if (m == NULL) {
        return;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].state == SLOT_FULL) {
            free(m->slots[i].key);
            if (free_value != NULL) {
                free_value(m->slots[i].value);
            }
        }
    }
    free(m->slots);
    free(m);
}

/* @returns the slot holding key, or SIZE_MAX. */
static size_t find(const map_t *m, const void *key, size_t key_len, uint64_t h) {
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)h & mask, n = 0; n < m->cap; i = (i + 1) & mask, n++) {
        const slot_t *s = &m->slots[i];
        if (s->state == SLOT_EMPTY) {
            return SIZE_MAX;
        }
        if (s->state == SLOT_FULL && s->hash == h && s->key_len == key_len &&
            memcmp(s->key, key, key_len) == 0) {
            return i;
        }
    }
    return SIZE_MAX;
}

static void rehash(map_t *m, size_t new_cap) {
    slot_t *old = m->slots;
    size_t old_cap = m->cap;
    m->slots = xcalloc(new_cap, sizeof(slot_t));
    m->cap = new_cap;
    m->deleted = 0;
    size_t mask = new_cap - 1;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].state != SLOT_FULL) {
            continue;
        }
        size_t j = (size_t)old[i].hash & mask;
        while (m->slots[j].state != SLOT_EMPTY) {
            j = (j + 1) & mask;
        }
        m->slots[j] = old[i];
    }
    free(old);
}

void *map_get(const map_t *m, const void *key, size_t key_len) {
    size_t i = find(m, key, key_len, XXH3_64bits(key, key_len));
    return i == SIZE_MAX ? NULL : m->slots[i].value;
}

void *map_put(map_t *m, const void *key, size_t key_len, void *value) {
    uint64_t h = XXH3_64bits(key, key_len);
    size_t i = find(m, key, key_len, h);
    if (i != SIZE_MAX) {
        void *old = m->slots[i].value;
        m->slots[i].value = value;
        return old;
    }
    if ((m->count + m->deleted + 1) * 4 > m->cap * 3) {
        /* Grow when mostly live; otherwise a same-size rehash clears tombstones. */
        size_t new_cap = (m->count + 1) * 2 > m->cap ? m->cap * 2 : m->cap;
        rehash(m, new_cap);
    }
    size_t mask = m->cap - 1;
    size_t j = (size_t)h & mask;
    while (m->slots[j].state == SLOT_FULL) {
        j = (j + 1) & mask;
    }
    slot_t *s = &m->slots[j];
    if (s->state == SLOT_DELETED) {
        m->deleted--;
    }
    s->hash = h;
    s->key = xmalloc(key_len + 1);
    if (key_len > 0) {
        memcpy(s->key, key, key_len);
    }
    s->key[key_len] = '\0';
    s->key_len = key_len;
    s->value = value;
    s->state = SLOT_FULL;
    m->count++;
    return NULL;
}

void *map_remove(map_t *m, const void *key, size_t key_len) {
    size_t i = find(m, key, key_len, XXH3_64bits(key, key_len));
    if (i == SIZE_MAX) {
        return NULL;
    }
    slot_t *s = &m->slots[i];
    void *value = s->value;
    free(s->key);
    s->key = NULL;
    s->value = NULL;
    s->state = SLOT_DELETED;
    m->count--;
    m->deleted++;
    return value;
}

size_t map_count(const map_t *m) {
    return m->count;
}

bool map_next(const map_t *m, map_iter_t *it, const void **key, size_t *key_len, void **value) {
    while (it->slot < m->cap) {
        const slot_t *s = &m->slots[it->slot++];
        if (s->state == SLOT_FULL) {
            if (key != NULL) {
                *key = s->key;
            }
            if (key_len != NULL) {
                *key_len = s->key_len;
            }
            if (value != NULL) {
                *value = s->value;
            }
            return true;
        }
    }
    return false;
}

void *map_get_str(const map_t *m, const char *key) {
    return map_get(m, key, strlen(key));
}

void *map_put_str(map_t *m, const char *key, void *value) {
    return map_put(m, key, strlen(key), value);
}

void *map_remove_str(map_t *m, const char *key) {
    return map_remove(m, key, strlen(key));
}
