/* Tests for compression.c: every codec round-trips (empty, small, multi-block), snappy
 * reads both xerial-framed and raw blocks, garbage and truncated streams fail cleanly,
 * oversized output or an oversized claim is refused with STRATA_ETOO_LARGE, batches are
 * re-encoded with a valid CRC, the time lookup finds the exact record inside a
 * compressed batch, and batches compressed by librdkafka (fixtures) decode record for record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "../fixtures/librdkafka_batches.h"
#include "batch_builder.h"
#include "strata/storage.h"

static const int CODECS[] = {RBC_GZIP, RBC_SNAPPY, RBC_LZ4, RBC_ZSTD};
#define NCODECS (sizeof(CODECS) / sizeof(CODECS[0]))

/* Compressible but not trivial: words with a counter, plus some noise. */
static void fill(uint8_t *p, size_t n, uint32_t seed) {
    uint32_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (i % 7 == 0) ? (uint8_t)(x >> 24) : (uint8_t)('a' + (i / 13) % 26);
    }
}

static void roundtrip(int codec, const uint8_t *data, size_t n) {
    buf_t c = BUF_INIT, d = BUF_INIT;
    assert_int_equal(rbc_compress(codec, data, n, &c), 0);
    assert_true(c.len > 0);
    /* Appends after what is already in out. */
    buf_append(&d, "xy", 2);
    assert_int_equal(rbc_decompress(codec, c.data, c.len, n, &d), 0);
    assert_int_equal(d.len, n + 2);
    assert_memory_equal(d.data, "xy", 2);
    if (n > 0) {
        assert_memory_equal(d.data + 2, data, n);
    }
    /* One byte less room than needed is refused, and nothing stays appended. */
    if (n > 0) {
        buf_reset(&d);
        assert_int_equal(rbc_decompress(codec, c.data, c.len, n - 1, &d), STRATA_ETOO_LARGE);
        assert_int_equal(d.len, 0);
    }
    buf_destroy(&c);
    buf_destroy(&d);
}

static void test_rbc_roundtrip_every_codec(void **state) {
    (void)state;
    size_t sizes[] = {0, 1, 100, 32 * 1024, 32 * 1024 + 1, 300 * 1024, 2 * 1024 * 1024 + 7};
    uint8_t *data = malloc(sizes[6]);
    fill(data, sizes[6], 7);
    for (size_t c = 0; c < NCODECS; c++) {
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            roundtrip(CODECS[c], data, sizes[i]);
        }
    }
    roundtrip(RBC_NONE, data, 100);
    free(data);
}

static void test_rbc_snappy_raw_and_xerial(void **state) {
    (void)state;
    size_t n = 100000;
    uint8_t *data = malloc(n);
    fill(data, n, 3);
    /* A raw block, as librdkafka may send. */
    size_t clen = snappy_max_compressed_length(n);
    char *raw = malloc(clen);
    assert_int_equal(snappy_compress((const char *)data, n, raw, &clen), SNAPPY_OK);
    buf_t d = BUF_INIT;
    assert_int_equal(rbc_decompress(RBC_SNAPPY, (uint8_t *)raw, clen, n, &d), 0);
    assert_int_equal(d.len, n);
    assert_memory_equal(d.data, data, n);
    /* Ours is xerial-framed (Java's SnappyOutputStream): magic, 2 ints, 32 KiB chunks. */
    buf_t c = BUF_INIT;
    assert_int_equal(rbc_compress(RBC_SNAPPY, data, n, &c), 0);
    static const uint8_t magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
    assert_memory_equal(c.data, magic, 8);
    assert_int_equal(be32_get(c.data + 8), 1);
    assert_int_equal(be32_get(c.data + 12), 1);
    size_t pos = 16, chunks = 0;
    while (pos < c.len) {
        pos += 4 + be32_get(c.data + pos);
        chunks++;
    }
    assert_int_equal(pos, c.len);
    assert_int_equal(chunks, (n + 32767) / 32768);
    /* A chunk length that runs past the end is corrupt. */
    be32_put(c.data + 16, 0x7fffffff);
    buf_reset(&d);
    assert_int_equal(rbc_decompress(RBC_SNAPPY, c.data, c.len, n, &d), STRATA_ECORRUPT);
    assert_int_equal(d.len, 0);
    buf_destroy(&c);
    buf_destroy(&d);
    free(raw);
    free(data);
}

static void test_rbc_garbage_and_truncated_fail_cleanly(void **state) {
    (void)state;
    uint8_t junk[4096];
    uint32_t x = 99;
    for (size_t i = 0; i < sizeof(junk); i++) {
        x = x * 1103515245u + 12345u;
        junk[i] = (uint8_t)(x >> 24);
    }
    size_t n = 50000;
    uint8_t *data = malloc(n);
    fill(data, n, 11);
    buf_t d = BUF_INIT, c = BUF_INIT;
    for (size_t ci = 0; ci < NCODECS; ci++) {
        int codec = CODECS[ci];
        /* Random bytes, and an empty input. */
        for (size_t len = 0; len <= sizeof(junk); len = len ? len * 4 : 1) {
            buf_reset(&d);
            int rc = rbc_decompress(codec, junk, len, 1 << 20, &d);
            assert_true(rc == STRATA_ECORRUPT || rc == STRATA_ETOO_LARGE);
            assert_int_equal(d.len, 0);
        }
        /* A valid stream cut anywhere, or with a flipped byte, never crashes; a cut
         * one always fails. */
        buf_reset(&c);
        assert_int_equal(rbc_compress(codec, data, n, &c), 0);
        for (size_t cut = 0; cut < c.len; cut += 1 + cut / 3) {
            buf_reset(&d);
            int rc = rbc_decompress(codec, c.data, cut, n, &d);
            assert_true(rc == STRATA_ECORRUPT || rc == STRATA_ETOO_LARGE);
            assert_int_equal(d.len, 0);
        }
        for (size_t i = 0; i < c.len; i += 1 + i / 2) {
            c.data[i] ^= 0x5a;
            buf_reset(&d);
            int rc = rbc_decompress(codec, c.data, c.len, n, &d);
            assert_true(rc == 0 || rc == STRATA_ECORRUPT || rc == STRATA_ETOO_LARGE);
            assert_true(d.len <= n);
            c.data[i] ^= 0x5a;
        }
    }
    buf_reset(&d);
    assert_int_equal(rbc_decompress(7, junk, 10, 100, &d), STRATA_EINVAL);
    assert_int_equal(rbc_compress(5, junk, 10, &d), STRATA_EINVAL);
    buf_destroy(&c);
    buf_destroy(&d);
    free(data);
}

static void test_rbc_oversized_claim_refused(void **state) {
    (void)state;
    /* 64 MiB of zeros compresses to a few KiB: a bomb for a 1 MiB cap. */
    size_t n = 64u << 20;
    uint8_t *zeros = calloc(1, n);
    buf_t c = BUF_INIT, d = BUF_INIT;
    for (size_t ci = 0; ci < NCODECS; ci++) {
        buf_reset(&c);
        assert_int_equal(rbc_compress(CODECS[ci], zeros, n, &c), 0);
        assert_true(c.len < n / 16); /* snappy tops out near 21:1 */
        buf_reset(&d);
        assert_int_equal(rbc_decompress(CODECS[ci], c.data, c.len, 1 << 20, &d), STRATA_ETOO_LARGE);
        assert_int_equal(d.len, 0);
        assert_true(d.cap <= (2u << 20)); /* never allocated anywhere near 64 MiB */
        buf_destroy(&d);
    }
    free(zeros);
    /* A raw snappy block whose header claims 4 GiB: refused before allocating. */
    uint8_t claim[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
    assert_int_equal(rbc_decompress(RBC_SNAPPY, claim, sizeof(claim), 1 << 20, &d),
                     STRATA_ETOO_LARGE);
    assert_int_equal(d.cap, 0);
    /* A zstd frame whose header declares 1 GiB of content. */
    uint8_t small[1000];
    memset(small, 'z', sizeof(small));
    buf_reset(&c);
    assert_int_equal(rbc_compress(RBC_ZSTD, small, sizeof(small), &c), 0);
    assert_int_equal(ZSTD_getFrameContentSize(c.data, c.len), sizeof(small));
    assert_int_equal(rbc_decompress(RBC_ZSTD, c.data, c.len, 999, &d), STRATA_ETOO_LARGE);
    assert_int_equal(d.cap, 0);
    assert_int_equal(rbc_decompress(RBC_ZSTD, c.data, c.len, 1000, &d), 0);
    /* The log's cap follows message.max.bytes within bounds. */
    assert_int_equal(rbc_limit(1048588), (size_t)1048588 * RBC_LIMIT_FACTOR);
    assert_int_equal(rbc_limit(10), RBC_LIMIT_MIN);
    assert_int_equal(rbc_limit(INT32_MAX), RBC_LIMIT_MAX);
    buf_destroy(&c);
    buf_destroy(&d);
}

/* fuzz_records: a compressed records section that inflates to nothing (an xerial header
 * alone, an empty raw snappy block) left the records pointer NULL, and every caller
 * computed NULL + 0 (undefined; a UBSan abort in the key check of produce). */
static void test_rbc_batch_records_empty_section(void **state) {
    (void)state;
    buf_t plain = BUF_INIT;
    bb_simple(&plain, 1, 10, 5);
    for (size_t ci = 0; ci < NCODECS; ci++) {
        buf_t b = BUF_INIT, scratch = BUF_INIT;
        buf_append(&b, plain.data, RB_HEADER_SIZE);
        assert_int_equal(rbc_compress(CODECS[ci], NULL, 0, &b), 0);
        be32_put(b.data + RB_OFF_LENGTH, (uint32_t)(b.len - 12));
        be16_put(b.data + RB_OFF_ATTRIBUTES, (uint16_t)CODECS[ci]);
        const uint8_t *rec = NULL;
        size_t rec_len = 1;
        assert_int_equal(rbc_batch_records(b.data, b.len, 1 << 20, &scratch, &rec, &rec_len), 0);
        assert_non_null(rec);
        assert_int_equal(rec_len, 0);
        int64_t off, ts;
        assert_int_equal(rbc_find_record_by_time(b.data, b.len, 0, 1 << 20, &scratch, &off, &ts),
                         STRATA_ECORRUPT); /* one record claimed, none there */
        buf_destroy(&b);
        buf_destroy(&scratch);
    }
    /* a raw snappy block of nothing (librdkafka's framing) */
    buf_t b = BUF_INIT, scratch = BUF_INIT;
    buf_append(&b, plain.data, RB_HEADER_SIZE);
    uint8_t zero = 0; /* varint uncompressed length 0 */
    buf_append(&b, &zero, 1);
    be32_put(b.data + RB_OFF_LENGTH, (uint32_t)(b.len - 12));
    be16_put(b.data + RB_OFF_ATTRIBUTES, RBC_SNAPPY);
    const uint8_t *rec = NULL;
    size_t rec_len = 1;
    assert_int_equal(rbc_batch_records(b.data, b.len, 1 << 20, &scratch, &rec, &rec_len), 0);
    assert_non_null(rec);
    assert_int_equal(rec_len, 0);
    /* decoded into a buf with no storage yet (it wrote at NULL + 0 before) */
    buf_t d = BUF_INIT;
    assert_int_equal(rbc_decompress(RBC_SNAPPY, &zero, 1, 16, &d), 0);
    assert_int_equal(d.len, 0);
    buf_destroy(&d);
    buf_destroy(&b);
    buf_destroy(&scratch);
    buf_destroy(&plain);
}

static void test_rbc_batch_recode(void **state) {
    (void)state;
    buf_t plain = BUF_INIT;
    bb_opts_t o;
    bb_opts_default(&o);
    o.records = 50;
    o.value_size = 200;
    o.key = "key";
    o.base_timestamp = 5000;
    o.ts_step = 10;
    o.producer_id = 42;
    o.producer_epoch = 3;
    o.base_sequence = 7;
    size_t n = bb_append(&plain, &o);
    for (size_t ci = 0; ci < NCODECS; ci++) {
        buf_t z = BUF_INIT, back = BUF_INIT, scratch = BUF_INIT;
        assert_int_equal(rbc_batch_recode(plain.data, n, CODECS[ci], 1 << 20, &z), 0);
        rb_header_t h;
        assert_int_equal(rb_parse(z.data, z.len, &h), (long)z.len);
        assert_true(z.len < n);
        assert_int_equal(h.attributes & RB_ATTR_COMPRESSION, CODECS[ci]);
        assert_int_equal(h.record_count, 50);
        assert_int_equal(h.producer_id, 42);
        assert_int_equal(h.base_sequence, 7);
        assert_int_equal(h.max_timestamp, 5490);
        /* The records section decompresses to the original one. */
        const uint8_t *rec;
        size_t rec_len;
        assert_int_equal(rbc_batch_records(z.data, z.len, 1 << 20, &scratch, &rec, &rec_len), 0);
        assert_int_equal(rec_len, n - RB_HEADER_SIZE);
        assert_memory_equal(rec, plain.data + RB_HEADER_SIZE, rec_len);
        /* Back to uncompressed: byte-identical to the original batch. */
        assert_int_equal(rbc_batch_recode(z.data, z.len, RBC_NONE, 1 << 20, &back), 0);
        assert_int_equal(back.len, n);
        assert_memory_equal(back.data, plain.data, n);
        /* The exact record by time, inside the compressed batch. */
        int64_t off, ts;
        assert_int_equal(rbc_find_record_by_time(z.data, z.len, 5123, 1 << 20, &scratch, &off, &ts),
                         0);
        assert_int_equal(off, 13);
        assert_int_equal(ts, 5130);
        assert_int_equal(rbc_find_record_by_time(z.data, z.len, 4000, 1 << 20, &scratch, &off, &ts),
                         0);
        assert_int_equal(off, 0);
        assert_int_equal(rbc_find_record_by_time(z.data, z.len, 5491, 1 << 20, &scratch, &off, &ts),
                         STRATA_ENOTFOUND);
        /* A cap below the records section is refused. */
        assert_int_equal(rbc_find_record_by_time(z.data, z.len, 5123, 1000, &scratch, &off, &ts),
                         STRATA_ETOO_LARGE);
        /* The plain finder still refuses compressed batches. */
        assert_int_equal(rb_find_record_by_time(z.data, z.len, 5123, &off, &ts), STRATA_EINVAL);
        buf_destroy(&z);
        buf_destroy(&back);
        buf_destroy(&scratch);
    }
    /* A truncated batch header is corrupt, not a crash. */
    buf_t out = BUF_INIT;
    assert_int_equal(rbc_batch_recode(plain.data, 30, RBC_GZIP, 1 << 20, &out), STRATA_ECORRUPT);
    assert_int_equal(rbc_batch_recode(plain.data, n - 1, RBC_GZIP, 1 << 20, &out), STRATA_ECORRUPT);
    assert_int_equal(rbc_batch_recode(plain.data, n, 9, 1 << 20, &out), STRATA_EINVAL);
    assert_int_equal(out.len, 0);
    buf_destroy(&out);
    buf_destroy(&plain);
}

/* Walks a records section: 30 records, record i with a null key and the value kcat sent. */
static void check_fixture_records(const char *codec, const uint8_t *p, size_t len) {
    const uint8_t *end = p + len;
    for (int i = 0; i < 30; i++) {
        assert_true(p < end);
        int64_t rlen = bb_get_varlong(&p);
        const uint8_t *next = p + rlen;
        assert_true(rlen > 0 && next <= end);
        p++;                                      /* attributes */
        bb_get_varlong(&p);                       /* timestamp delta */
        assert_int_equal(bb_get_varlong(&p), i);  /* offset delta */
        assert_int_equal(bb_get_varlong(&p), -1); /* null key */
        int64_t vlen = bb_get_varlong(&p);
        char want[160];
        int n = snprintf(want, sizeof(want), "librdkafka %s record %02d ", codec, i);
        for (int j = 0; j < i; j++) {
            n += snprintf(want + n, sizeof(want) - (size_t)n, "xyz");
        }
        assert_int_equal(vlen, n);
        assert_memory_equal(p, want, (size_t)n);
        p += n;
        assert_int_equal(bb_get_varlong(&p), 0); /* no headers */
        assert_ptr_equal(p, next);
    }
    assert_ptr_equal(p, end);
}

static void test_rbc_librdkafka_batches_decode(void **state) {
    (void)state;
    static const struct {
        const char *name;
        int codec;
        const uint8_t *b;
        size_t len;
    } fx[] = {
        {"gzip", RBC_GZIP, librdkafka_gzip_batch, sizeof(librdkafka_gzip_batch)},
        {"snappy", RBC_SNAPPY, librdkafka_snappy_batch, sizeof(librdkafka_snappy_batch)},
        {"lz4", RBC_LZ4, librdkafka_lz4_batch, sizeof(librdkafka_lz4_batch)},
        {"zstd", RBC_ZSTD, librdkafka_zstd_batch, sizeof(librdkafka_zstd_batch)},
    };
    for (size_t i = 0; i < sizeof(fx) / sizeof(fx[0]); i++) {
        rb_header_t h;
        assert_int_equal(rb_parse(fx[i].b, fx[i].len, &h), (long)fx[i].len);
        assert_int_equal(h.attributes & RB_ATTR_COMPRESSION, fx[i].codec);
        assert_int_equal(h.record_count, 30);
        buf_t scratch = BUF_INIT, plain = BUF_INIT, again = BUF_INIT;
        const uint8_t *rec;
        size_t rec_len;
        assert_int_equal(rbc_batch_records(fx[i].b, fx[i].len, 1 << 20, &scratch, &rec, &rec_len),
                         0);
        check_fixture_records(fx[i].name, rec, rec_len);
        /* The time lookup: every record has the batch's timestamp (kcat stamps them at once). */
        int64_t off, ts;
        assert_int_equal(rbc_find_record_by_time(fx[i].b, fx[i].len, h.base_timestamp, 1 << 20,
                                                 &scratch, &off, &ts),
                         0);
        assert_int_equal(off, 0);
        assert_int_equal(ts, h.base_timestamp);
        /* Our own encoding of the same records decodes to the same bytes. */
        assert_int_equal(rbc_batch_recode(fx[i].b, fx[i].len, RBC_NONE, 1 << 20, &plain), 0);
        assert_int_equal(rbc_batch_recode(plain.data, plain.len, fx[i].codec, 1 << 20, &again), 0);
        buf_reset(&scratch);
        assert_int_equal(
            rbc_batch_records(again.data, again.len, 1 << 20, &scratch, &rec, &rec_len), 0);
        check_fixture_records(fx[i].name, rec, rec_len);
        buf_destroy(&scratch);
        buf_destroy(&plain);
        buf_destroy(&again);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rbc_roundtrip_every_codec),
        cmocka_unit_test(test_rbc_snappy_raw_and_xerial),
        cmocka_unit_test(test_rbc_garbage_and_truncated_fail_cleanly),
        cmocka_unit_test(test_rbc_oversized_claim_refused),
        cmocka_unit_test(test_rbc_batch_records_empty_section),
        cmocka_unit_test(test_rbc_batch_recode),
        cmocka_unit_test(test_rbc_librdkafka_batches_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
