/* batch_builder: valid magic-2 record batches for tests (see batch_builder.h). */
#include "batch_builder.h"

#include <string.h>

#include "strata/storage.h"

void bb_opts_default(bb_opts_t *o) {
    memset(o, 0, sizeof(*o));
    o->records = 1;
    o->value_size = 16;
    o->base_timestamp = 1000;
    o->ts_step = 1;
    o->producer_id = -1;
    o->producer_epoch = -1;
    o->base_sequence = -1;
    o->leader_epoch = -1;
}

static void put_varint(buf_t *b, int64_t v) {
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    do {
        uint8_t c = (uint8_t)(z & 0x7f);
        z >>= 7;
        if (z) {
            c |= 0x80;
        }
        buf_append(b, &c, 1);
    } while (z);
}

static size_t varint_len(int64_t v) {
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 1;
    while (z >= 0x80) {
        z >>= 7;
        n++;
    }
    return n;
}

size_t bb_size(const uint8_t *b) {
    return (size_t)be32_get(b + RB_OFF_LENGTH) + 12;
}

void bb_fix_crc(uint8_t *b) {
    size_t total = bb_size(b);
    be32_put(b + RB_OFF_CRC, crc32c(0, b + RB_OFF_ATTRIBUTES, total - RB_OFF_ATTRIBUTES));
}

size_t bb_append(buf_t *out, const bb_opts_t *o) {
    size_t start = out->len;
    uint8_t *h = buf_extend(out, RB_HEADER_SIZE);
    memset(h, 0, RB_HEADER_SIZE);
    size_t klen = o->key ? strlen(o->key) : 0;
    for (int32_t i = 0; i < o->records; i++) {
        int64_t ts_delta = (int64_t)i * o->ts_step;
        size_t body = 1 + varint_len(ts_delta) + varint_len(i) +
                      (o->key ? varint_len((int64_t)klen) + klen : varint_len(-1)) +
                      varint_len((int64_t)o->value_size) + o->value_size + varint_len(0);
        put_varint(out, (int64_t)body);
        uint8_t attr = 0;
        buf_append(out, &attr, 1);
        put_varint(out, ts_delta);
        put_varint(out, i);
        if (o->key) {
            put_varint(out, (int64_t)klen);
            buf_append(out, o->key, klen);
        } else {
            put_varint(out, -1);
        }
        put_varint(out, (int64_t)o->value_size);
        uint8_t *v = buf_extend(out, o->value_size);
        for (size_t j = 0; j < o->value_size; j++) {
            v[j] = (uint8_t)('a' + (j + (size_t)i) % 26);
        }
        put_varint(out, 0); /* no headers */
    }
    uint8_t *b = out->data + start;
    size_t total = out->len - start;
    int64_t max_ts = o->base_timestamp + (int64_t)(o->records - 1) * o->ts_step;
    if (o->ts_step < 0) {
        max_ts = o->base_timestamp;
    }
    be64_put(b + RB_OFF_BASE_OFFSET, (uint64_t)o->base_offset);
    be32_put(b + RB_OFF_LENGTH, (uint32_t)(total - 12));
    be32_put(b + RB_OFF_LEADER_EPOCH, (uint32_t)o->leader_epoch);
    b[RB_OFF_MAGIC] = 2;
    be16_put(b + RB_OFF_ATTRIBUTES, (uint16_t)o->attributes);
    be32_put(b + RB_OFF_LAST_DELTA, (uint32_t)(o->records - 1));
    be64_put(b + RB_OFF_BASE_TIMESTAMP, (uint64_t)o->base_timestamp);
    be64_put(b + RB_OFF_MAX_TIMESTAMP, (uint64_t)max_ts);
    be64_put(b + RB_OFF_PRODUCER_ID, (uint64_t)o->producer_id);
    be16_put(b + RB_OFF_PRODUCER_EPOCH, (uint16_t)o->producer_epoch);
    be32_put(b + RB_OFF_BASE_SEQUENCE, (uint32_t)o->base_sequence);
    be32_put(b + RB_OFF_RECORD_COUNT, (uint32_t)o->records);
    bb_fix_crc(b);
    return total;
}

size_t bb_simple(buf_t *out, int32_t n, size_t value_size, int64_t ts) {
    bb_opts_t o;
    bb_opts_default(&o);
    o.records = n;
    o.value_size = value_size;
    o.base_timestamp = ts;
    return bb_append(out, &o);
}

int64_t bb_get_varlong(const uint8_t **p) {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
        uint8_t c = *(*p)++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            break;
        }
    }
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}
