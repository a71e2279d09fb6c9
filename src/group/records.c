/*
 * records: the __consumer_offsets record formats (Kafka's GroupMetadataManager) and a
 * minimal builder/iterator for the uncompressed magic-2 batches the coordinator writes.
 *
 *   offset commit key v1:   int16 1, string group, string topic, int32 partition
 *   offset commit value v3: int16 3, int64 offset, int32 leader_epoch, string metadata,
 *                           int64 commit_timestamp
 *   group metadata key v2:  int16 2, string group
 *   (group metadata value v3 is written by coordinator.c, which knows the members)
 *
 * Reading never trusts the bytes: every length is checked against what remains.
 */
#include <stdlib.h>
#include <string.h>

#include "group/group_int.h"
#include "strata/storage.h"

/* ---------------------------------------------------------------- primitives */

void gc_rd_init(gc_rd_t *r, const uint8_t *p, size_t len) {
    r->p = p;
    r->len = len;
    r->pos = 0;
    r->err = false;
}

static bool need(gc_rd_t *r, size_t n) {
    if (r->err || r->len - r->pos < n) {
        r->err = true;
        return false;
    }
    return true;
}

int16_t gc_rd_i16(gc_rd_t *r) {
    if (!need(r, 2)) {
        return 0;
    }
    int16_t v = (int16_t)be16_get(r->p + r->pos);
    r->pos += 2;
    return v;
}

int32_t gc_rd_i32(gc_rd_t *r) {
    if (!need(r, 4)) {
        return 0;
    }
    int32_t v = (int32_t)be32_get(r->p + r->pos);
    r->pos += 4;
    return v;
}

int64_t gc_rd_i64(gc_rd_t *r) {
    if (!need(r, 8)) {
        return 0;
    }
    int64_t v = (int64_t)be64_get(r->p + r->pos);
    r->pos += 8;
    return v;
}

char *gc_rd_str(gc_rd_t *r, bool *is_null) {
    int16_t n = gc_rd_i16(r);
    if (is_null) {
        *is_null = false;
    }
    if (r->err) {
        return NULL;
    }
    if (n < 0) {
        if (n != -1) {
            r->err = true;
        } else if (is_null) {
            *is_null = true;
        }
        return NULL;
    }
    if (!need(r, (size_t)n)) {
        return NULL;
    }
    char *s = xstrndup((const char *)r->p + r->pos, (size_t)n);
    r->pos += (size_t)n;
    return s;
}

const uint8_t *gc_rd_bytes(gc_rd_t *r, int32_t *len) {
    int32_t n = gc_rd_i32(r);
    *len = -1;
    if (r->err) {
        return NULL;
    }
    if (n < 0) {
        if (n != -1) {
            r->err = true;
        }
        return NULL;
    }
    if (!need(r, (size_t)n)) {
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += (size_t)n;
    *len = n;
    return p;
}

void gc_wr_i16(buf_t *b, int16_t v) {
    be16_put(buf_extend(b, 2), (uint16_t)v);
}

void gc_wr_i32(buf_t *b, int32_t v) {
    be32_put(buf_extend(b, 4), (uint32_t)v);
}

void gc_wr_i64(buf_t *b, int64_t v) {
    be64_put(buf_extend(b, 8), (uint64_t)v);
}

void gc_wr_str(buf_t *b, const char *s) {
    if (!s) {
        gc_wr_i16(b, -1);
        return;
    }
    size_t n = strlen(s);
    if (n > INT16_MAX) {
        n = INT16_MAX; /* callers bound their strings; never write a bad length */
    }
    gc_wr_i16(b, (int16_t)n);
    buf_append(b, s, n);
}

void gc_wr_bytes(buf_t *b, const uint8_t *p, size_t len) {
    gc_wr_i32(b, (int32_t)len);
    if (len) {
        buf_append(b, p, len);
    }
}

/* ---------------------------------------------------------------- keys and values */

void gc_encode_offset_key(buf_t *out, const char *group, const char *topic, int32_t partition) {
    gc_wr_i16(out, 1);
    gc_wr_str(out, group);
    gc_wr_str(out, topic);
    gc_wr_i32(out, partition);
}

void gc_encode_offset_value(buf_t *out, int64_t offset, int32_t leader_epoch, const char *metadata,
                            int64_t commit_timestamp) {
    gc_wr_i16(out, 3);
    gc_wr_i64(out, offset);
    gc_wr_i32(out, leader_epoch);
    gc_wr_str(out, metadata ? metadata : "");
    gc_wr_i64(out, commit_timestamp);
}

void gc_encode_group_key(buf_t *out, const char *group) {
    gc_wr_i16(out, 2);
    gc_wr_str(out, group);
}

/* ---------------------------------------------------------------- batches */

static void put_uvarint(buf_t *b, uint64_t v) {
    while (v >= 0x80) {
        uint8_t c = (uint8_t)(v | 0x80);
        buf_append(b, &c, 1);
        v >>= 7;
    }
    uint8_t c = (uint8_t)v;
    buf_append(b, &c, 1);
}

static void put_varlong(buf_t *b, int64_t v) {
    put_uvarint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static size_t uvarint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t varlong_len(int64_t v) {
    return uvarint_len(((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void gc_batch_init(gc_batch_t *b, int64_t timestamp) {
    buf_init(&b->buf);
    memset(buf_extend(&b->buf, RB_HEADER_SIZE), 0, RB_HEADER_SIZE);
    b->count = 0;
    b->base_timestamp = timestamp;
}

void gc_batch_add(gc_batch_t *b, const uint8_t *key, size_t klen, const uint8_t *value,
                  size_t vlen) {
    int64_t delta = b->count;
    size_t body = 1 /* attributes */ + 1 /* timestamp delta 0 */ + varlong_len(delta) +
                  varlong_len((int64_t)klen) + klen +
                  (value ? varlong_len((int64_t)vlen) + vlen : 1) + 1 /* headers */;
    put_varlong(&b->buf, (int64_t)body);
    uint8_t zero = 0;
    buf_append(&b->buf, &zero, 1); /* attributes */
    put_varlong(&b->buf, 0);       /* timestamp delta */
    put_varlong(&b->buf, delta);   /* offset delta */
    put_varlong(&b->buf, (int64_t)klen);
    buf_append(&b->buf, key, klen);
    if (value) {
        put_varlong(&b->buf, (int64_t)vlen);
        if (vlen) {
            buf_append(&b->buf, value, vlen);
        }
    } else {
        put_varlong(&b->buf, -1);
    }
    put_varlong(&b->buf, 0); /* headers */
    b->count++;
}

void gc_batch_finish(gc_batch_t *b) {
    uint8_t *h = b->buf.data;
    be64_put(h + 0, 0);
    be32_put(h + 8, (uint32_t)(b->buf.len - 12));
    be32_put(h + 12, (uint32_t)-1);
    h[16] = 2;
    be16_put(h + 21, 0);
    be32_put(h + 23, (uint32_t)(b->count > 0 ? b->count - 1 : 0));
    be64_put(h + 27, (uint64_t)b->base_timestamp);
    be64_put(h + 35, (uint64_t)b->base_timestamp);
    be64_put(h + 43, (uint64_t)-1);
    be16_put(h + 51, (uint16_t)-1);
    be32_put(h + 53, (uint32_t)-1);
    be32_put(h + 57, (uint32_t)b->count);
    be32_put(h + 17, crc32c(0, h + 21, b->buf.len - 21));
}

void gc_batch_destroy(gc_batch_t *b) {
    buf_destroy(&b->buf);
}

static bool get_varlong(const uint8_t *p, size_t len, size_t *pos, int64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pos >= len) {
            return false;
        }
        uint8_t c = p[(*pos)++];
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return true;
        }
    }
    return false;
}

int gc_batch_foreach(const uint8_t *data, size_t len,
                     void (*fn)(void *arg, const uint8_t *key, size_t klen, const uint8_t *value,
                                size_t vlen),
                     void *arg) {
    size_t pos = 0;
    while (len - pos >= RB_HEADER_SIZE) {
        const uint8_t *h = data + pos;
        int32_t blen = (int32_t)be32_get(h + 8);
        if (blen < RB_HEADER_SIZE - 12) {
            return STRATA_ECORRUPT;
        }
        if ((size_t)blen + 12 > len - pos) {
            return 0; /* truncated tail */
        }
        size_t total = (size_t)blen + 12;
        if (h[16] != 2) {
            return STRATA_ECORRUPT;
        }
        if (crc32c(0, h + 21, total - 21) != be32_get(h + 17)) {
            return STRATA_ECORRUPT;
        }
        uint16_t attrs = be16_get(h + 21);
        int32_t count = (int32_t)be32_get(h + 57);
        if ((attrs & 0x07) == 0 && !(attrs & 0x20)) {
            size_t rp = RB_HEADER_SIZE;
            for (int32_t i = 0; i < count; i++) {
                int64_t rlen, ts, od, kl, vl;
                if (!get_varlong(h, total, &rp, &rlen) || rlen < 0 || (uint64_t)rlen > total - rp) {
                    return STRATA_ECORRUPT;
                }
                size_t end = rp + (size_t)rlen;
                rp++; /* attributes */
                if (rp > end || !get_varlong(h, end, &rp, &ts) || !get_varlong(h, end, &rp, &od) ||
                    !get_varlong(h, end, &rp, &kl) || kl < 0 || (uint64_t)kl > end - rp) {
                    return STRATA_ECORRUPT;
                }
                const uint8_t *key = h + rp;
                rp += (size_t)kl;
                if (!get_varlong(h, end, &rp, &vl) || vl < -1 ||
                    (vl > 0 && (uint64_t)vl > end - rp)) {
                    return STRATA_ECORRUPT;
                }
                const uint8_t *val = vl >= 0 ? h + rp : NULL;
                if (vl > 0) {
                    rp += (size_t)vl;
                }
                fn(arg, key, (size_t)kl, val, vl > 0 ? (size_t)vl : 0);
                rp = end;
            }
        }
        pos += total;
    }
    return 0;
}
