/*
 * legacy_records: up-conversion of legacy MessageSets (magic 0 and 1, what Produce v0-2
 * carry) into one magic-2 record batch, as Kafka's LogValidator does on append. Each
 * message's CRC-32 (IEEE, over magic..end) is checked, compressed wrappers are
 * decompressed (bounded) and flattened, and the result is recompressed with the
 * wrapper's codec through compression.c. Pure: no I/O, no globals.
 *
 * Legacy message: offset i64, message_size i32, crc u32, magic i8, attributes i8
 * (codec in bits 0-2, timestamp type in bit 3 for magic 1), [timestamp i64 (magic 1)],
 * key bytes (i32 length, -1 = null), value bytes. A compressed message's value is the
 * compressed inner message set.
 */
#include "storage/storage_int.h"

#include <string.h>
#include <xxhash.h>
#include <zlib.h>

#define LR_LOG_OVERHEAD  12 /* offset + message_size */
#define LR_MIN_V0        14 /* crc, magic, attributes, key length, value length */
#define LR_MIN_V1        22 /* ... plus the timestamp */
#define LR_ATTR_LOG_TIME 0x08

typedef struct conv {
    buf_t recs; /* the v2 records section being built */
    int32_t count;
    int64_t base_ts;
    int64_t max_ts;
    size_t max_out;
    size_t inflated; /* decompressed bytes so far (bounded by max_out) */
    int codec;       /* output codec: the last compressed wrapper's */
    lr_status_t st;
} conv_t;

bool lr_is_legacy(const uint8_t *data, size_t len) {
    return len > LR_LOG_OVERHEAD + 4 && (data[16] == 0 || data[16] == 1);
}

const char *lr_status_str(lr_status_t st) {
    switch (st) {
    case LR_OK:
        return "ok";
    case LR_TRUNCATED:
        return "truncated message";
    case LR_EMPTY:
        return "no message in the set";
    case LR_BAD_SIZE:
        return "message size inconsistent with its key and value";
    case LR_BAD_MAGIC:
        return "bad magic (not 0/1, or inner magic differs from its wrapper's)";
    case LR_BAD_CRC:
        return "CRC-32 mismatch";
    case LR_NESTED:
        return "nested compression or null compressed wrapper";
    case LR_BAD_CODEC:
        return "unknown compression codec";
    case LR_ZSTD:
        return "zstd is not allowed with magic < 2";
    case LR_TOO_LARGE:
        return "decompressed or converted size over the limit";
    case LR_BAD_COMPRESSED:
        return "compressed value does not decompress";
    }
    return "unknown";
}

/* ---------------------------------------------------------------- v2 record encoding */

static size_t varlong_size(int64_t v) {
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 1;
    while (z >= 0x80) {
        z >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varlong(uint8_t *p, int64_t v) {
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (z >= 0x80) {
        *p++ = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    *p++ = (uint8_t)z;
    return p;
}

/* Appends one v2 record (no headers). A false return sets c->st. */
static bool emit(conv_t *c, int64_t ts, const uint8_t *key, int32_t klen, const uint8_t *val,
                 int32_t vlen) {
    if (c->count == INT32_MAX) {
        c->st = LR_TOO_LARGE;
        return false;
    }
    if (c->count == 0) {
        c->base_ts = ts;
        c->max_ts = ts;
    } else if (ts > c->max_ts) {
        c->max_ts = ts;
    }
    /* Wrapping difference: client timestamps are arbitrary int64s. */
    int64_t tdelta = (int64_t)((uint64_t)ts - (uint64_t)c->base_ts);
    size_t body = 1 + varlong_size(tdelta) + varlong_size(c->count) + varlong_size(klen) +
                  (klen > 0 ? (size_t)klen : 0) + varlong_size(vlen) +
                  (vlen > 0 ? (size_t)vlen : 0) + 1;
    size_t total = varlong_size((int64_t)body) + body;
    if (c->recs.len + total + RB_HEADER_SIZE > c->max_out) {
        c->st = LR_TOO_LARGE;
        return false;
    }
    uint8_t *p = buf_extend(&c->recs, total);
    p = put_varlong(p, (int64_t)body);
    *p++ = 0; /* record attributes */
    p = put_varlong(p, tdelta);
    p = put_varlong(p, c->count);
    p = put_varlong(p, klen);
    if (klen > 0) {
        memcpy(p, key, (size_t)klen);
        p += klen;
    }
    p = put_varlong(p, vlen);
    if (vlen > 0) {
        memcpy(p, val, (size_t)vlen);
        p += vlen;
    }
    *p = 0; /* no headers */
    c->count++;
    return true;
}

/* ---------------------------------------------------------------- legacy parsing */

/*
 * Kafka 0.8-0.9 computed the lz4 frame's header checksum over the magic number too;
 * magic-0 messages keep that broken byte and readers ignore it. Returns the value with a
 * correct header checksum (in fixed, when it had to change) so LZ4F accepts it.
 */
static const uint8_t *lz4_fix_header(const uint8_t *v, size_t len, buf_t *fixed) {
    if (len < 7 || be32_get(v) != 0x04224D18u) { /* 0x184D2204 little-endian */
        return v;
    }
    uint8_t flg = v[4];
    size_t desc = 2 + ((flg & 0x08) ? 8 : 0) + ((flg & 0x01) ? 4 : 0);
    if (len <= 4 + desc) {
        return v;
    }
    uint8_t hc = (uint8_t)((XXH32(v + 4, desc, 0) >> 8) & 0xff);
    if (v[4 + desc] == hc) {
        return v;
    }
    buf_reset(fixed);
    buf_append(fixed, v, len);
    fixed->data[4 + desc] = hc;
    return fixed->data;
}

static bool parse_set(conv_t *c, const uint8_t *p, size_t len, int depth, int wrapper_magic,
                      bool wrapper_log_time, int64_t wrapper_ts);

/*
 * Parses the message at p[0..avail) (offset and size included), emits its record(s) and
 * sets *used. depth 0: a top-level message (may be a compressed wrapper); depth 1: inside
 * a wrapper of magic wrapper_magic.
 */
static bool parse_message(conv_t *c, const uint8_t *p, size_t avail, int depth, int wrapper_magic,
                          bool wrapper_log_time, int64_t wrapper_ts, size_t *used) {
    if (avail < LR_LOG_OVERHEAD) {
        c->st = LR_TRUNCATED;
        return false;
    }
    int32_t size = (int32_t)be32_get(p + 8);
    if (size < LR_MIN_V0) {
        c->st = LR_BAD_SIZE;
        return false;
    }
    if ((size_t)size > avail - LR_LOG_OVERHEAD) {
        c->st = LR_TRUNCATED;
        return false;
    }
    const uint8_t *m = p + LR_LOG_OVERHEAD, *end = m + size;
    int magic = m[4];
    if (magic > 1 || (depth > 0 && magic != wrapper_magic)) {
        c->st = LR_BAD_MAGIC;
        return false;
    }
    if (magic == 1 && size < LR_MIN_V1) {
        c->st = LR_BAD_SIZE;
        return false;
    }
    if ((uint32_t)crc32(0L, m + 4, (uInt)(size - 4)) != be32_get(m)) {
        c->st = LR_BAD_CRC;
        return false;
    }
    int attr = m[5];
    int codec = attr & RB_ATTR_COMPRESSION;
    int64_t ts = -1;
    const uint8_t *q = m + 6;
    if (magic == 1) {
        ts = (int64_t)be64_get(q);
        q += 8;
    }
    /* key and value: i32 length (-1 = null) and bytes, filling the message exactly */
    int32_t klen = (int32_t)be32_get(q);
    q += 4;
    if (klen < -1 || (klen > 0 && klen > end - q - 4)) {
        c->st = LR_BAD_SIZE;
        return false;
    }
    const uint8_t *key = q;
    q += klen > 0 ? klen : 0;
    int32_t vlen = (int32_t)be32_get(q);
    q += 4;
    if (vlen < -1 || (vlen > 0 ? (end - q != vlen) : (end != q))) {
        c->st = LR_BAD_SIZE;
        return false;
    }
    const uint8_t *val = q;
    *used = LR_LOG_OVERHEAD + (size_t)size;

    if (codec == RBC_NONE) {
        if (depth > 0 && wrapper_log_time) {
            ts = wrapper_ts; /* Kafka: a LogAppendTime wrapper's time overrides */
        }
        return emit(c, ts, key, klen, val, vlen);
    }
    if (depth > 0 || vlen < 0) {
        c->st = LR_NESTED;
        return false;
    }
    if (codec == RBC_ZSTD) {
        c->st = LR_ZSTD;
        return false;
    }
    if (codec > RBC_ZSTD) {
        c->st = LR_BAD_CODEC;
        return false;
    }
    buf_t fixed = BUF_INIT, inner = BUF_INIT;
    const uint8_t *in = val;
    if (codec == RBC_LZ4 && magic == 0) {
        in = lz4_fix_header(val, (size_t)vlen, &fixed);
    }
    bool ok = false;
    int rc = rbc_decompress(codec, in, (size_t)vlen, c->max_out - c->inflated, &inner);
    if (rc != 0) {
        c->st = rc == STRATA_ETOO_LARGE ? LR_TOO_LARGE : LR_BAD_COMPRESSED;
        goto done;
    }
    c->inflated += inner.len;
    c->codec = codec;
    ok = parse_set(c, inner.data, inner.len, depth + 1, magic,
                   magic == 1 && (attr & LR_ATTR_LOG_TIME), ts);
done:
    buf_destroy(&fixed);
    buf_destroy(&inner);
    return ok;
}

static bool parse_set(conv_t *c, const uint8_t *p, size_t len, int depth, int wrapper_magic,
                      bool wrapper_log_time, int64_t wrapper_ts) {
    size_t pos = 0;
    int32_t before = c->count;
    while (pos < len) {
        size_t used = 0;
        if (!parse_message(c, p + pos, len - pos, depth, wrapper_magic, wrapper_log_time,
                           wrapper_ts, &used)) {
            return false;
        }
        pos += used;
    }
    if (c->count == before) {
        c->st = LR_EMPTY; /* an empty set, or a wrapper with no inner message */
        return false;
    }
    return true;
}

int lr_convert(const uint8_t *set, size_t len, size_t max_out, buf_t *out, lr_status_t *why) {
    conv_t c;
    memset(&c, 0, sizeof(c));
    c.max_out = max_out;
    c.codec = RBC_NONE;
    c.st = LR_OK;
    int rc = 0;
    if (!parse_set(&c, set, len, 0, -1, false, -1)) {
        rc = c.st == LR_TOO_LARGE                        ? STRATA_ETOO_LARGE
             : (c.st == LR_BAD_CODEC || c.st == LR_ZSTD) ? STRATA_EINVAL
                                                         : STRATA_ECORRUPT;
        goto done;
    }
    uint8_t h[RB_HEADER_SIZE];
    size_t total = RB_HEADER_SIZE + c.recs.len;
    be64_put(h + RB_OFF_BASE_OFFSET, 0);
    be32_put(h + RB_OFF_LENGTH, (uint32_t)(total - 12));
    be32_put(h + RB_OFF_LEADER_EPOCH, (uint32_t)-1);
    h[RB_OFF_MAGIC] = 2;
    be16_put(h + RB_OFF_ATTRIBUTES, 0); /* CreateTime, uncompressed for now */
    be32_put(h + RB_OFF_LAST_DELTA, (uint32_t)(c.count - 1));
    be64_put(h + RB_OFF_BASE_TIMESTAMP, (uint64_t)c.base_ts);
    be64_put(h + RB_OFF_MAX_TIMESTAMP, (uint64_t)c.max_ts);
    be64_put(h + RB_OFF_PRODUCER_ID, (uint64_t)-1);
    be16_put(h + RB_OFF_PRODUCER_EPOCH, (uint16_t)-1);
    be32_put(h + RB_OFF_BASE_SEQUENCE, (uint32_t)-1);
    be32_put(h + RB_OFF_RECORD_COUNT, (uint32_t)c.count);
    uint32_t crc = crc32c(0, h + RB_OFF_ATTRIBUTES, RB_HEADER_SIZE - RB_OFF_ATTRIBUTES);
    crc = crc32c(crc, c.recs.data, c.recs.len);
    be32_put(h + RB_OFF_CRC, crc);
    if (c.codec == RBC_NONE) {
        buf_append(out, h, sizeof(h));
        buf_append(out, c.recs.data, c.recs.len);
        goto done;
    }
    buf_t plain = BUF_INIT;
    buf_append(&plain, h, sizeof(h));
    buf_append(&plain, c.recs.data, c.recs.len);
    rc = rbc_batch_recode(plain.data, plain.len, c.codec, max_out, out);
    buf_destroy(&plain);
    if (rc != 0) {
        c.st = rc == STRATA_ETOO_LARGE ? LR_TOO_LARGE : LR_BAD_COMPRESSED;
    }
done:
    buf_destroy(&c.recs);
    if (why) {
        *why = c.st;
    }
    return rc;
}
