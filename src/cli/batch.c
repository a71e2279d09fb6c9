/*
 * batch: the producer and consumer side of record batch v2 for the CLI: Kafka's murmur2
 * partitioner, building an uncompressed batch (CRC-32C from util), and walking the
 * batches of a fetch response. Layout: ../shared/kafka-protocol/README.md.
 * Invariant: cli_batch_t's writer holds a 61-byte header placeholder followed by the
 * records; cli_batch_finish() patches the header in place.
 */
#include <string.h>

#include "cli/cli.h"

enum { HEADER_SIZE = 61, CRC_OFFSET = 17, ATTR_OFFSET = 21 };

int32_t cli_murmur2(const void *data, size_t len) {
    const uint8_t *d = data;
    const uint32_t seed = 0x9747b28c;
    const uint32_t m = 0x5bd1e995;
    const int r = 24;
    uint32_t h = seed ^ (uint32_t)len;
    size_t n4 = len / 4;
    for (size_t i = 0; i < n4; i++) {
        const uint8_t *p = d + i * 4;
        uint32_t k =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    size_t tail = len & ~(size_t)3;
    switch (len % 4) {
    case 3:
        h ^= (uint32_t)d[tail + 2] << 16;
        __attribute__((fallthrough));
    case 2:
        h ^= (uint32_t)d[tail + 1] << 8;
        __attribute__((fallthrough));
    case 1:
        h ^= d[tail];
        h *= m;
        break;
    default:
        break;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return (int32_t)h;
}

int32_t cli_partition_for_key(const void *key, size_t len, int32_t n_partitions) {
    uint32_t positive = (uint32_t)cli_murmur2(key, len) & 0x7fffffffu;
    return (int32_t)(positive % (uint32_t)n_partitions);
}

void cli_batch_init(cli_batch_t *b) {
    kp_wr_init(&b->wr);
    cli_batch_reset(b);
}

void cli_batch_destroy(cli_batch_t *b) {
    kp_wr_destroy(&b->wr);
}

void cli_batch_reset(cli_batch_t *b) {
    kp_wr_reset(&b->wr);
    memset(buf_extend(&b->wr.buf, HEADER_SIZE), 0, HEADER_SIZE);
    b->count = 0;
    b->base_timestamp = -1;
    b->max_timestamp = -1;
}

static size_t uvarint_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t varint_size(int32_t v) {
    return uvarint_size((uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)));
}

static size_t varlong_size(int64_t v) {
    return uvarint_size(((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void cli_batch_add(cli_batch_t *b, const void *key, int32_t key_len, const void *value,
                   int32_t value_len, int64_t timestamp_ms) {
    if (b->count == 0) {
        b->base_timestamp = timestamp_ms;
    }
    if (timestamp_ms > b->max_timestamp) {
        b->max_timestamp = timestamp_ms;
    }
    int64_t ts_delta = timestamp_ms - b->base_timestamp;
    int32_t offset_delta = b->count;
    size_t body = 1 + varlong_size(ts_delta) + varint_size(offset_delta) + varint_size(key_len) +
                  (key_len > 0 ? (size_t)key_len : 0) + varint_size(value_len) +
                  (value_len > 0 ? (size_t)value_len : 0) + varint_size(0);
    kp_wr_t *w = &b->wr;
    kp_wr_varint(w, (int32_t)body);
    kp_wr_i8(w, 0);
    kp_wr_varlong(w, ts_delta);
    kp_wr_varint(w, offset_delta);
    kp_wr_varint(w, key_len);
    if (key_len > 0) {
        kp_wr_raw(w, key, (size_t)key_len);
    }
    kp_wr_varint(w, value_len);
    if (value_len > 0) {
        kp_wr_raw(w, value, (size_t)value_len);
    }
    kp_wr_varint(w, 0); /* no headers */
    b->count++;
}

size_t cli_batch_size(const cli_batch_t *b) {
    return b->wr.buf.len;
}

const uint8_t *cli_batch_finish(cli_batch_t *b, size_t *len) {
    uint8_t *h = b->wr.buf.data;
    size_t total = b->wr.buf.len;
    be64_put(h + 0, 0);                      /* base offset: assigned by the broker */
    be32_put(h + 8, (uint32_t)(total - 12)); /* batch length */
    be32_put(h + 12, (uint32_t)-1);          /* partition leader epoch */
    h[16] = 2;                               /* magic */
    be16_put(h + 21, 0);                     /* attributes: none, CreateTime */
    be32_put(h + 23, (uint32_t)(b->count ? b->count - 1 : 0)); /* last offset delta */
    be64_put(h + 27, (uint64_t)b->base_timestamp);
    be64_put(h + 35, (uint64_t)b->max_timestamp);
    be64_put(h + 43, (uint64_t)-1); /* producer id */
    be16_put(h + 51, (uint16_t)-1); /* producer epoch */
    be32_put(h + 53, (uint32_t)-1); /* base sequence */
    be32_put(h + 57, (uint32_t)b->count);
    be32_put(h + CRC_OFFSET, crc32c(0, h + ATTR_OFFSET, total - ATTR_OFFSET));
    *len = total;
    return h;
}

/* Reads one record of a batch. @returns false on garbled bytes. */
static bool read_record(kp_rd_t *rd, int64_t base_offset, int64_t base_ts, bool log_append,
                        int64_t max_ts, cli_record_t *r) {
    int32_t len = kp_rd_varint(rd);
    if (kp_rd_err(rd) || len < 0 || (size_t)len > kp_rd_remaining(rd)) {
        return false;
    }
    kp_rd_t body;
    kp_rd_init(&body, rd->p, (size_t)len, NULL);
    kp_rd_raw(rd, (size_t)len);
    kp_rd_i8(&body); /* attributes */
    int64_t ts_delta = kp_rd_varlong(&body);
    int32_t off_delta = kp_rd_varint(&body);
    int32_t klen = kp_rd_varint(&body);
    if (kp_rd_err(&body) || klen < -1 || (klen > 0 && (size_t)klen > kp_rd_remaining(&body))) {
        return false;
    }
    r->key = klen > 0 ? kp_rd_raw(&body, (size_t)klen) : (const uint8_t *)"";
    r->key_len = klen;
    int32_t vlen = kp_rd_varint(&body);
    if (kp_rd_err(&body) || vlen < -1 || (vlen > 0 && (size_t)vlen > kp_rd_remaining(&body))) {
        return false;
    }
    r->value = vlen > 0 ? kp_rd_raw(&body, (size_t)vlen) : (const uint8_t *)"";
    r->value_len = vlen;
    int32_t n_headers = kp_rd_varint(&body);
    if (kp_rd_err(&body) || n_headers < 0) {
        return false;
    }
    for (int32_t i = 0; i < n_headers; i++) {
        int32_t hk = kp_rd_varint(&body);
        if (hk < 0 || (size_t)hk > kp_rd_remaining(&body)) {
            return false;
        }
        kp_rd_raw(&body, (size_t)hk);
        int32_t hv = kp_rd_varint(&body);
        if (hv < -1 || (hv > 0 && (size_t)hv > kp_rd_remaining(&body))) {
            return false;
        }
        if (hv > 0) {
            kp_rd_raw(&body, (size_t)hv);
        }
        if (kp_rd_err(&body)) {
            return false;
        }
    }
    r->offset = base_offset + off_delta;
    r->log_append_time = log_append;
    r->timestamp = log_append ? max_ts : base_ts + ts_delta;
    return true;
}

int cli_batch_parse(const uint8_t *data, size_t len, int64_t min_offset,
                    bool (*cb)(const cli_record_t *r, void *ctx), void *ctx, int64_t *next_offset) {
    size_t pos = 0;
    while (len - pos >= 17) {
        const uint8_t *b = data + pos;
        int64_t base_offset = (int64_t)be64_get(b);
        int32_t batch_len = (int32_t)be32_get(b + 8);
        if (batch_len < 0) {
            return CLI_BATCH_CORRUPT;
        }
        if ((size_t)batch_len > len - pos - 12) {
            break; /* partial batch at the end of the response */
        }
        size_t total = (size_t)batch_len + 12;
        if (b[16] != 2) {
            return CLI_BATCH_OLD_MAGIC;
        }
        if (total < HEADER_SIZE) {
            return CLI_BATCH_CORRUPT;
        }
        uint32_t crc = be32_get(b + CRC_OFFSET);
        if (crc32c(0, b + ATTR_OFFSET, total - ATTR_OFFSET) != crc) {
            return CLI_BATCH_CORRUPT;
        }
        int16_t attrs = (int16_t)be16_get(b + 21);
        int32_t last_delta = (int32_t)be32_get(b + 23);
        int64_t base_ts = (int64_t)be64_get(b + 27);
        int64_t max_ts = (int64_t)be64_get(b + 35);
        int32_t count = (int32_t)be32_get(b + 57);
        bool control = (attrs & 0x20) != 0;
        if (!control && (attrs & 0x07) != 0) {
            return CLI_BATCH_COMPRESSED;
        }
        if (!control) {
            kp_rd_t rd;
            kp_rd_init(&rd, b + HEADER_SIZE, total - HEADER_SIZE, NULL);
            for (int32_t i = 0; i < count; i++) {
                cli_record_t r;
                if (!read_record(&rd, base_offset, base_ts, (attrs & 0x08) != 0, max_ts, &r)) {
                    return CLI_BATCH_CORRUPT;
                }
                if (r.offset >= min_offset && !cb(&r, ctx)) {
                    *next_offset = r.offset + 1;
                    return CLI_BATCH_OK;
                }
            }
        }
        *next_offset = base_offset + last_delta + 1;
        pos += total;
    }
    return CLI_BATCH_OK;
}
