/* buf: a growable byte buffer. Capacity doubles; allocation failure aborts (xrealloc). */
#include <stdlib.h>
#include <string.h>

#include "strata/util.h"

void buf_init(buf_t *b) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_destroy(buf_t *b) {
    free(b->data);
    buf_init(b);
}

void buf_reset(buf_t *b) {
    b->len = 0;
}

void buf_reserve(buf_t *b, size_t extra) {
    if (b->cap - b->len >= extra) {
        return;
    }
    size_t need = b->len + extra;
    STRATA_ASSERT(need >= b->len);
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        cap = cap * 2 > cap ? cap * 2 : need;
    }
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void buf_append(buf_t *b, const void *data, size_t n) {
    if (n == 0) {
        return;
    }
    buf_reserve(b, n);
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

uint8_t *buf_extend(buf_t *b, size_t n) {
    buf_reserve(b, n ? n : 1); /* never return NULL + 0 */
    uint8_t *p = b->data + b->len;
    b->len += n;
    return p;
}
