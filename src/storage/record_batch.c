/*
 * record_batch: parsing and validation of magic-2 record batch headers (the 61-byte
 * fixed header, the CRC-32C over attributes..end, size and count checks). Never looks
 * inside the records, so compressed batches stay compressed.
 */
#include "storage/storage_int.h"

#include <string.h>

void rb_read_header(const uint8_t *p, rb_header_t *h) {
    h->base_offset = (int64_t)be64_get(p + RB_OFF_BASE_OFFSET);
    h->length = (int32_t)be32_get(p + RB_OFF_LENGTH);
    h->leader_epoch = (int32_t)be32_get(p + RB_OFF_LEADER_EPOCH);
    h->magic = (int8_t)p[RB_OFF_MAGIC];
    h->crc = be32_get(p + RB_OFF_CRC);
    h->attributes = (int16_t)be16_get(p + RB_OFF_ATTRIBUTES);
    h->last_offset_delta = (int32_t)be32_get(p + RB_OFF_LAST_DELTA);
    h->base_timestamp = (int64_t)be64_get(p + RB_OFF_BASE_TIMESTAMP);
    h->max_timestamp = (int64_t)be64_get(p + RB_OFF_MAX_TIMESTAMP);
    h->producer_id = (int64_t)be64_get(p + RB_OFF_PRODUCER_ID);
    h->producer_epoch = (int16_t)be16_get(p + RB_OFF_PRODUCER_EPOCH);
    h->base_sequence = (int32_t)be32_get(p + RB_OFF_BASE_SEQUENCE);
    h->record_count = (int32_t)be32_get(p + RB_OFF_RECORD_COUNT);
}

long rb_validate(const uint8_t *data, size_t avail, rb_header_t *out, rb_status_t *why) {
    rb_header_t h;
    rb_status_t st = RB_OK;
    long ret;

    if (avail < RB_HEADER_SIZE) {
        /* The length field alone may already prove the batch is too short. */
        if (avail >= RB_OFF_LENGTH + 4 &&
            (int32_t)be32_get(data + RB_OFF_LENGTH) < RB_HEADER_SIZE - 12) {
            st = RB_BAD_LENGTH;
            ret = STRATA_ECORRUPT;
            goto done;
        }
        st = RB_TRUNCATED;
        ret = 0;
        goto done;
    }
    rb_read_header(data, &h);
    if (h.length < RB_HEADER_SIZE - 12) {
        st = RB_BAD_LENGTH;
        ret = STRATA_ECORRUPT;
        goto done;
    }
    if (h.magic != 2) {
        st = RB_BAD_MAGIC;
        ret = STRATA_ECORRUPT;
        goto done;
    }
    size_t total = (size_t)h.length + 12;
    if (avail < total) {
        st = RB_TRUNCATED;
        ret = 0;
        goto done;
    }
    /* Compaction may remove records (count < delta + 1), never add them. */
    if (h.last_offset_delta < 0 || h.record_count < 0 ||
        (int64_t)h.record_count > (int64_t)h.last_offset_delta + 1) {
        st = RB_BAD_COUNT;
        ret = STRATA_ECORRUPT;
        goto done;
    }
    if (crc32c(0, data + RB_OFF_ATTRIBUTES, total - RB_OFF_ATTRIBUTES) != h.crc) {
        st = RB_BAD_CRC;
        ret = STRATA_ECORRUPT;
        goto done;
    }
    if (out) {
        *out = h;
    }
    ret = (long)total;
done:
    if (why) {
        *why = st;
    }
    return ret;
}

long rb_parse(const uint8_t *data, size_t avail, rb_header_t *out) {
    return rb_validate(data, avail, out, NULL);
}

const char *rb_status_str(rb_status_t st) {
    switch (st) {
    case RB_OK:
        return "ok";
    case RB_TRUNCATED:
        return "truncated batch";
    case RB_BAD_LENGTH:
        return "batch length below the header size";
    case RB_BAD_MAGIC:
        return "unsupported magic (not 2)";
    case RB_BAD_CRC:
        return "CRC-32C mismatch";
    case RB_BAD_COUNT:
        return "record count inconsistent with last offset delta";
    }
    return "unknown";
}

bool rb_read_varlong(const uint8_t **p, const uint8_t *end, int64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) {
            return false;
        }
        uint8_t c = *(*p)++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return true;
        }
    }
    return false;
}

int rb_find_in_records(const rb_header_t *h, const uint8_t *records, size_t len, int64_t ts,
                       int64_t min_offset, int64_t *offset_out, int64_t *ts_out) {
    const uint8_t *p = records, *end = records + len;
    for (int32_t i = 0; i < h->record_count; i++) {
        int64_t rlen, tdelta, odelta;
        if (!rb_read_varlong(&p, end, &rlen) || rlen < 1 || rlen > end - p) {
            return STRATA_ECORRUPT;
        }
        const uint8_t *next = p + rlen, *q = p + 1; /* skip the attributes byte */
        if (!rb_read_varlong(&q, next, &tdelta) || !rb_read_varlong(&q, next, &odelta) ||
            odelta < 0 || odelta > INT32_MAX || h->base_offset > INT64_MAX - odelta) {
            return STRATA_ECORRUPT; /* the offset delta is a 32-bit varint */
        }
        /* base + delta wraps as in Kafka (Java long arithmetic), never overflows in C */
        int64_t rts = (h->attributes & RB_ATTR_LOG_APPEND)
                          ? h->max_timestamp
                          : (int64_t)((uint64_t)h->base_timestamp + (uint64_t)tdelta);
        if (rts >= ts && h->base_offset + odelta >= min_offset) {
            *offset_out = h->base_offset + odelta;
            *ts_out = rts;
            return 0;
        }
        p = next;
    }
    return STRATA_ENOTFOUND;
}

int rb_find_record_by_time(const uint8_t *batch, size_t len, int64_t ts, int64_t *offset_out,
                           int64_t *ts_out) {
    rb_header_t h;
    if (len < RB_HEADER_SIZE) {
        return STRATA_ECORRUPT;
    }
    rb_read_header(batch, &h);
    if (h.length < RB_HEADER_SIZE - 12) {
        return STRATA_ECORRUPT; /* (size_t)length + 12 - 61 would wrap: a read past len */
    }
    if ((h.attributes & RB_ATTR_COMPRESSION) != 0 || (size_t)h.length + 12 > len) {
        return STRATA_EINVAL; /* compressed: rbc_find_record_by_time decompresses */
    }
    return rb_find_in_records(&h, batch + RB_HEADER_SIZE, (size_t)h.length + 12 - RB_HEADER_SIZE,
                              ts, INT64_MIN, offset_out, ts_out);
}
