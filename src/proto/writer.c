/*
 * writer: the primitive encoder (kp_wr_t). Appends to an owned growable buffer and
 * records file ranges for `records` values held in segment files (sent with sendfile).
 * Invariants:
 *   1. chunks are in buffer order: chunk i+1's buf_offset >= chunk i's;
 *   2. file_bytes is the sum of chunk lengths, so total = buf.len + file_bytes;
 *   3. a value that cannot be represented sets the sticky wr->err (never an assert).
 */
#include <stdlib.h>
#include <string.h>

#include "strata/proto.h"

void kp_wr_init(kp_wr_t *wr) {
    memset(wr, 0, sizeof(*wr));
    buf_init(&wr->buf);
}

void kp_wr_destroy(kp_wr_t *wr) {
    buf_destroy(&wr->buf);
    free(wr->chunks);
    memset(wr, 0, sizeof(*wr));
}

void kp_wr_reset(kp_wr_t *wr) {
    buf_reset(&wr->buf);
    wr->n_chunks = 0;
    wr->file_bytes = 0;
    wr->err = 0;
}

int64_t kp_wr_total_len(const kp_wr_t *wr) {
    return (int64_t)wr->buf.len + wr->file_bytes;
}

int64_t kp_wr_len_since(const kp_wr_t *wr, size_t off) {
    int64_t n = off <= wr->buf.len ? (int64_t)(wr->buf.len - off) : 0;
    for (size_t i = 0; i < wr->n_chunks; i++) {
        if (wr->chunks[i].buf_offset >= off) {
            n += wr->chunks[i].len;
        }
    }
    return n;
}

void kp_wr_raw(kp_wr_t *wr, const void *data, size_t n) {
    if (n > 0) {
        buf_append(&wr->buf, data, n);
    }
}

void kp_wr_i8(kp_wr_t *wr, int8_t v) {
    uint8_t b = (uint8_t)v;
    buf_append(&wr->buf, &b, 1);
}

void kp_wr_i16(kp_wr_t *wr, int16_t v) {
    be16_put(buf_extend(&wr->buf, 2), (uint16_t)v);
}

void kp_wr_i32(kp_wr_t *wr, int32_t v) {
    be32_put(buf_extend(&wr->buf, 4), (uint32_t)v);
}

void kp_wr_i64(kp_wr_t *wr, int64_t v) {
    be64_put(buf_extend(&wr->buf, 8), (uint64_t)v);
}

void kp_wr_u16(kp_wr_t *wr, uint16_t v) {
    be16_put(buf_extend(&wr->buf, 2), v);
}

void kp_wr_u32(kp_wr_t *wr, uint32_t v) {
    be32_put(buf_extend(&wr->buf, 4), v);
}

void kp_wr_f64(kp_wr_t *wr, double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    be64_put(buf_extend(&wr->buf, 8), bits);
}

void kp_wr_bool(kp_wr_t *wr, bool v) {
    kp_wr_i8(wr, v ? 1 : 0);
}

void kp_wr_uuid(kp_wr_t *wr, const uint8_t v[16]) {
    buf_append(&wr->buf, v, 16);
}

static void write_var(kp_wr_t *wr, uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    buf_append(&wr->buf, tmp, n);
}

void kp_wr_uvarint(kp_wr_t *wr, uint32_t v) {
    write_var(wr, v);
}

void kp_wr_varint(kp_wr_t *wr, int32_t v) {
    write_var(wr, (uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)));
}

void kp_wr_varlong(kp_wr_t *wr, int64_t v) {
    write_var(wr, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

size_t kp_wr_reserve_i32(kp_wr_t *wr) {
    size_t off = wr->buf.len;
    memset(buf_extend(&wr->buf, 4), 0, 4);
    return off;
}

void kp_wr_patch_i32(kp_wr_t *wr, size_t off, int32_t v) {
    if (off + 4 > wr->buf.len) {
        wr->err = STRATA_EINVAL;
        return;
    }
    be32_put(wr->buf.data + off, (uint32_t)v);
}

/* A length prefix; n -1 = null (written as 0/empty when !nullable). */
static void write_len(kp_wr_t *wr, int64_t n, bool compact, bool wide, bool nullable) {
    if (n < 0 && !nullable) {
        n = 0;
    }
    if (n < -1) {
        n = -1;
    }
    if (compact) {
        if (n + 1 > UINT32_MAX) {
            wr->err = STRATA_EINVAL;
            n = -1;
        }
        kp_wr_uvarint(wr, (uint32_t)(n + 1));
    } else if (wide) {
        if (n > INT32_MAX) {
            wr->err = STRATA_EINVAL;
            n = 0;
        }
        kp_wr_i32(wr, (int32_t)n);
    } else {
        if (n > INT16_MAX) {
            wr->err = STRATA_EINVAL;
            n = 0;
        }
        kp_wr_i16(wr, (int16_t)n);
    }
}

void kp_wr_string(kp_wr_t *wr, const char *s, bool compact, bool nullable) {
    if (s == NULL) {
        write_len(wr, -1, compact, false, nullable);
        return;
    }
    size_t n = strlen(s);
    if ((!compact && n > INT16_MAX) || n > INT32_MAX) {
        wr->err = STRATA_EINVAL;
        write_len(wr, 0, compact, false, nullable);
        return;
    }
    write_len(wr, (int64_t)n, compact, false, nullable);
    kp_wr_raw(wr, s, n);
}

void kp_wr_bytes(kp_wr_t *wr, kp_bytes_t b, bool compact, bool nullable) {
    if (b.len < 0 || (b.data == NULL && b.len > 0)) {
        write_len(wr, -1, compact, true, nullable);
        return;
    }
    write_len(wr, b.len, compact, true, nullable);
    kp_wr_raw(wr, b.data, (size_t)b.len);
}

static void add_chunk(kp_wr_t *wr, int fd, int64_t pos, int64_t len) {
    if (wr->n_chunks == wr->cap_chunks) {
        wr->cap_chunks = wr->cap_chunks ? wr->cap_chunks * 2 : 4;
        wr->chunks = xrealloc(wr->chunks, wr->cap_chunks * sizeof(*wr->chunks));
    }
    kp_wr_chunk_t *c = &wr->chunks[wr->n_chunks++];
    c->buf_offset = wr->buf.len;
    c->fd = fd;
    c->pos = pos;
    c->len = len;
    wr->file_bytes += len;
}

void kp_wr_records(kp_wr_t *wr, const kp_records_t *r, bool compact, bool nullable) {
    if (r->len < 0 || r->len > INT32_MAX) {
        if (r->len > INT32_MAX) {
            wr->err = STRATA_EINVAL;
        }
        write_len(wr, -1, compact, true, nullable);
        return;
    }
    if (r->fd >= 0) {
        write_len(wr, r->len, compact, true, nullable);
        if (r->len > 0) {
            add_chunk(wr, r->fd, r->file_pos, r->len);
        }
        return;
    }
    if (r->data == NULL && r->len > 0) {
        wr->err = STRATA_EINVAL;
        write_len(wr, 0, compact, true, nullable);
        return;
    }
    write_len(wr, r->len, compact, true, nullable);
    kp_wr_raw(wr, r->data, (size_t)r->len);
}

void kp_wr_array_len(kp_wr_t *wr, int32_t n, bool compact, bool nullable) {
    write_len(wr, n, compact, true, nullable);
}

void kp_wr_empty_tags(kp_wr_t *wr) {
    kp_wr_uvarint(wr, 0);
}

void kp_wr_append(kp_wr_t *wr, const kp_wr_t *src) {
    size_t base = wr->buf.len;
    for (size_t i = 0; i < src->n_chunks; i++) {
        const kp_wr_chunk_t *c = &src->chunks[i];
        add_chunk(wr, c->fd, c->pos, c->len);
        wr->chunks[wr->n_chunks - 1].buf_offset = base + c->buf_offset;
    }
    kp_wr_raw(wr, src->buf.data, src->buf.len);
    if (src->err && !wr->err) {
        wr->err = src->err;
    }
}
