/*
 * reader: the bounds-checked primitive decoder (kp_rd_t). Invariants:
 *   1. rd->p never moves past rd->end; a read that would is an error, never a crash;
 *   2. the error is sticky: after the first failure every read returns a zero value and
 *      the reader sits at the end, so callers check kp_rd_err() once;
 *   3. every length is checked against the bytes remaining before anything is allocated.
 */
#include <string.h>

#include "strata/proto.h"

void kp_rd_init(kp_rd_t *rd, const void *data, size_t len, arena_t *arena) {
    static const uint8_t empty[1];
    if (data == NULL) { /* keep p non-NULL so zero-length reads succeed */
        data = empty;
        len = 0;
    }
    rd->start = data;
    rd->p = data;
    rd->end = rd->start + len;
    rd->arena = arena;
    rd->err = 0;
}

void kp_rd_fail(kp_rd_t *rd) {
    rd->err = STRATA_ECORRUPT;
    rd->p = rd->end;
}

/* @returns a pointer to the next n bytes and consumes them, or NULL (and fails). */
static const uint8_t *take(kp_rd_t *rd, size_t n) {
    if (rd->err || (size_t)(rd->end - rd->p) < n) {
        kp_rd_fail(rd);
        return NULL;
    }
    const uint8_t *q = rd->p;
    rd->p += n;
    return q;
}

const uint8_t *kp_rd_raw(kp_rd_t *rd, size_t n) {
    return take(rd, n);
}

int8_t kp_rd_i8(kp_rd_t *rd) {
    const uint8_t *q = take(rd, 1);
    return q ? (int8_t)q[0] : 0;
}

int16_t kp_rd_i16(kp_rd_t *rd) {
    const uint8_t *q = take(rd, 2);
    return q ? (int16_t)be16_get(q) : 0;
}

int32_t kp_rd_i32(kp_rd_t *rd) {
    const uint8_t *q = take(rd, 4);
    return q ? (int32_t)be32_get(q) : 0;
}

int64_t kp_rd_i64(kp_rd_t *rd) {
    const uint8_t *q = take(rd, 8);
    return q ? (int64_t)be64_get(q) : 0;
}

uint16_t kp_rd_u16(kp_rd_t *rd) {
    const uint8_t *q = take(rd, 2);
    return q ? be16_get(q) : 0;
}

uint32_t kp_rd_u32(kp_rd_t *rd) {
    const uint8_t *q = take(rd, 4);
    return q ? be32_get(q) : 0;
}

double kp_rd_f64(kp_rd_t *rd) {
    const uint8_t *q = take(rd, 8);
    if (q == NULL) {
        return 0;
    }
    uint64_t bits = be64_get(q);
    double d;
    memcpy(&d, &bits, sizeof(d));
    return d;
}

bool kp_rd_bool(kp_rd_t *rd) {
    const uint8_t *q = take(rd, 1);
    return q ? q[0] != 0 : false;
}

void kp_rd_uuid(kp_rd_t *rd, uint8_t out[16]) {
    const uint8_t *q = take(rd, 16);
    if (q) {
        memcpy(out, q, 16);
    } else {
        memset(out, 0, 16);
    }
}

/* Up to max_bytes groups of 7 bits, least significant first. */
static uint64_t read_var(kp_rd_t *rd, int max_bytes) {
    uint64_t v = 0;
    for (int i = 0; i < max_bytes; i++) {
        const uint8_t *q = take(rd, 1);
        if (q == NULL) {
            return 0;
        }
        v |= (uint64_t)(q[0] & 0x7f) << (7 * i);
        if (!(q[0] & 0x80)) {
            return v;
        }
    }
    kp_rd_fail(rd); /* too long */
    return 0;
}

uint32_t kp_rd_uvarint(kp_rd_t *rd) {
    uint64_t v = read_var(rd, 5);
    if (v > UINT32_MAX) {
        kp_rd_fail(rd);
        return 0;
    }
    return (uint32_t)v;
}

int32_t kp_rd_varint(kp_rd_t *rd) {
    uint64_t v = read_var(rd, 5);
    if (v > UINT32_MAX) {
        kp_rd_fail(rd);
        return 0;
    }
    uint32_t u = (uint32_t)v;
    return (int32_t)((u >> 1) ^ (~(u & 1) + 1));
}

int64_t kp_rd_varlong(kp_rd_t *rd) {
    uint64_t u = read_var(rd, 10);
    return (int64_t)((u >> 1) ^ (~(u & 1) + 1));
}

/*
 * A length prefix: compact = uvarint(len + 1) with 0 = null; classic = int16 or int32
 * with -1 = null. @returns the length, -1 for null, or -2 after failing the reader.
 */
static int64_t read_len(kp_rd_t *rd, bool compact, bool wide, bool nullable) {
    int64_t n;
    if (compact) {
        n = (int64_t)kp_rd_uvarint(rd) - 1;
    } else {
        n = wide ? kp_rd_i32(rd) : kp_rd_i16(rd);
    }
    if (rd->err) {
        return -2;
    }
    if (n < -1 || (n == -1 && !nullable)) {
        kp_rd_fail(rd);
        return -2;
    }
    return n;
}

char *kp_rd_string(kp_rd_t *rd, bool compact, bool nullable) {
    int64_t n = read_len(rd, compact, false, nullable);
    if (n < 0) {
        return NULL;
    }
    const uint8_t *q = take(rd, (size_t)n);
    if (q == NULL) {
        return NULL;
    }
    return arena_strndup(rd->arena, (const char *)q, (size_t)n);
}

kp_bytes_t kp_rd_bytes(kp_rd_t *rd, bool compact, bool nullable) {
    kp_bytes_t b = {NULL, -1};
    int64_t n = read_len(rd, compact, true, nullable);
    if (n < 0 || n > INT32_MAX) {
        if (n > INT32_MAX) {
            kp_rd_fail(rd);
        }
        return b;
    }
    const uint8_t *q = take(rd, (size_t)n);
    if (q != NULL) {
        b.data = q;
        b.len = (int32_t)n;
    }
    return b;
}

kp_records_t kp_rd_records(kp_rd_t *rd, bool compact, bool nullable) {
    kp_bytes_t b = kp_rd_bytes(rd, compact, nullable);
    return kp_records_mem(b.data, b.len);
}

int32_t kp_rd_array_len(kp_rd_t *rd, bool compact, bool nullable, size_t min_elem_size) {
    int64_t n = read_len(rd, compact, true, nullable);
    if (n < 0) {
        return n == -1 ? -1 : 0;
    }
    if (min_elem_size == 0) {
        min_elem_size = 1;
    }
    if (n > INT32_MAX || (uint64_t)n > kp_rd_remaining(rd) / min_elem_size) {
        kp_rd_fail(rd);
        return 0;
    }
    return (int32_t)n;
}

void kp_rd_skip_tags(kp_rd_t *rd) {
    uint32_t n = kp_rd_uvarint(rd);
    for (uint32_t i = 0; i < n && !rd->err; i++) {
        (void)kp_rd_uvarint(rd); /* tag */
        uint32_t size = kp_rd_uvarint(rd);
        (void)take(rd, size);
    }
}
