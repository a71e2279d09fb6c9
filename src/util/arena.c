/*
 * arena: a bump allocator (nginx pool). Memory comes from a list of chunks;
 * oversized allocations get a chunk of their own. Invariants:
 *   1. every returned pointer is 8-byte aligned and zeroed;
 *   2. arena_reset keeps only the first chunk, so a reused arena allocates nothing
 *      for requests that fit in it.
 */
#include <stdlib.h>
#include <string.h>

#include "strata/util.h"

typedef struct chunk {
    struct chunk *next;
    size_t size; /* usable bytes in data */
    size_t used;
    max_align_t data[];
} chunk_t;

struct arena {
    chunk_t *head; /* current chunk (the one allocations come from) */
    chunk_t *first;
    size_t chunk_size;
};

static chunk_t *chunk_new(size_t size) {
    chunk_t *c = xmalloc(sizeof(chunk_t) + size);
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

arena_t *arena_new(size_t chunk_size) {
    arena_t *a = xmalloc(sizeof(*a));
    a->chunk_size = chunk_size ? chunk_size : 16 * 1024;
    a->first = chunk_new(a->chunk_size);
    a->head = a->first;
    return a;
}

static void free_chain(chunk_t *c) {
    while (c != NULL) {
        chunk_t *next = c->next;
        free(c);
        c = next;
    }
}

void arena_free(arena_t *a) {
    if (a == NULL) {
        return;
    }
    free_chain(a->first);
    free(a);
}

void arena_reset(arena_t *a) {
    free_chain(a->first->next);
    a->first->next = NULL;
    a->first->used = 0;
    a->head = a->first;
}

void *arena_alloc(arena_t *a, size_t n) {
    size_t need = (n + 7) & ~(size_t)7;
    if (need < n) {
        need = n; /* overflow: let xmalloc fail loudly below */
    }
    chunk_t *c = a->head;
    if (c->size - c->used < need) {
        if (need > a->chunk_size / 4) {
            /* Big allocation: its own chunk, linked after the head so the head stays current. */
            chunk_t *big = chunk_new(need);
            big->used = need;
            big->next = c->next;
            c->next = big;
            memset(big->data, 0, need);
            return big->data;
        }
        chunk_t *fresh = chunk_new(a->chunk_size);
        fresh->next = c->next;
        c->next = fresh;
        a->head = fresh;
        c = fresh;
    }
    void *p = (char *)c->data + c->used;
    c->used += need;
    memset(p, 0, n);
    return p;
}

char *arena_strndup(arena_t *a, const char *s, size_t n) {
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
