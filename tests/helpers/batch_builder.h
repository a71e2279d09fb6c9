/*
 * batch_builder: valid magic-2 record batches for tests (storage, proto, replica).
 * Records are encoded for real (zigzag varints, keys, values, no headers); a
 * "compressed" batch just sets the codec bits over the plain records, which is
 * enough for code that must never decompress.
 */
#ifndef STRATA_TEST_BATCH_BUILDER_H
#define STRATA_TEST_BATCH_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "strata/util.h"

typedef struct bb_opts {
    int32_t records;        /* >= 1 */
    size_t value_size;      /* bytes of each value (filled with a pattern) */
    const char *key;        /* NULL = null key */
    int64_t base_offset;    /* written into the header (0 as a producer sends) */
    int64_t base_timestamp; /* first record's timestamp */
    int64_t ts_step;        /* timestamp delta between consecutive records */
    int16_t attributes;     /* e.g. 1 = "gzip" */
    int64_t producer_id;    /* -1 */
    int16_t producer_epoch; /* -1 */
    int32_t base_sequence;  /* -1 */
    int32_t leader_epoch;
} bb_opts_t;

/** Defaults: 1 record of 16 bytes, base_timestamp 1000, ts_step 1, no producer id. */
void bb_opts_default(bb_opts_t *o);
/** Appends one batch to out. @returns its size in bytes. */
size_t bb_append(buf_t *out, const bb_opts_t *o);
/** Shorthand: one batch of n records with values of value_size bytes, timestamps from ts. */
size_t bb_simple(buf_t *out, int32_t n, size_t value_size, int64_t ts);
/** Recomputes the CRC of the batch at b (after a test edited fields past it). */
void bb_fix_crc(uint8_t *b);
/** Total size of the batch at b, from its length field. */
size_t bb_size(const uint8_t *b);
/** The zigzag varint at *p (a record field written by this helper or by the code under
 * test; no bounds: the test knows the bytes are there), advancing *p. */
int64_t bb_get_varlong(const uint8_t **p);

#endif
