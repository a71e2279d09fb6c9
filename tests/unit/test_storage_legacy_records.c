/* Tests for legacy_records.c: legacy MessageSets (magic 0 and 1, plain and compressed
 * wrappers) up-convert to one valid v2 batch with byte-exact records; bad CRCs, truncated
 * messages, inconsistent sizes, nested compression, magic mismatches, zstd/unknown codecs
 * and oversized (decompression bomb) sets are refused with nothing appended; random
 * mutations never crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <lz4frame.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "batch_builder.h"
#include "strata/storage.h"

/* ---------------------------------------------------------------- builders */

/* Appends one legacy message (offset, size, crc, magic, attributes, [ts], key, value). */
static void msg(buf_t *b, int64_t offset, int magic, int attr, int64_t ts, const char *key,
                const uint8_t *val, int32_t vlen) {
    size_t start = b->len;
    uint8_t tmp[8];
    be64_put(tmp, (uint64_t)offset);
    buf_append(b, tmp, 8);
    buf_append(b, "SIZECRC_", 8); /* size and crc, filled in below */
    uint8_t ma[2] = {(uint8_t)magic, (uint8_t)attr};
    buf_append(b, ma, 2);
    if (magic == 1) {
        be64_put(tmp, (uint64_t)ts);
        buf_append(b, tmp, 8);
    }
    int32_t klen = key ? (int32_t)strlen(key) : -1;
    be32_put(tmp, (uint32_t)klen);
    buf_append(b, tmp, 4);
    if (klen > 0) {
        buf_append(b, key, (size_t)klen);
    }
    be32_put(tmp, (uint32_t)vlen);
    buf_append(b, tmp, 4);
    if (vlen > 0) {
        buf_append(b, val, (size_t)vlen);
    }
    uint8_t *m = b->data + start;
    size_t size = b->len - start - 12;
    be32_put(m + 8, (uint32_t)size);
    be32_put(m + 12, (uint32_t)crc32(0L, m + 16, (uInt)(size - 4)));
}

static void msgs(buf_t *b, int64_t offset, int magic, int attr, int64_t ts, const char *key,
                 const char *val) {
    msg(b, offset, magic, attr, ts, key, (const uint8_t *)val, val ? (int32_t)strlen(val) : -1);
}

/* A wrapper message whose value is inner compressed with codec (lz4 via rbc_compress). */
static void wrapper(buf_t *b, int magic, int codec, int attr_extra, int64_t ts,
                    const buf_t *inner) {
    buf_t z = BUF_INIT;
    assert_int_equal(rbc_compress(codec, inner->data, inner->len, &z), 0);
    msg(b, magic == 1 ? 2 : 0, magic, codec | attr_extra, ts, NULL, z.data, (int32_t)z.len);
    buf_destroy(&z);
}

/* What a converted record must hold. */
typedef struct want {
    int64_t ts;
    const char *key; /* NULL = null */
    const char *val; /* NULL = null */
} want_t;

/* The batch in out is a valid v2 batch with codec and exactly these records. */
static void check_batch(const buf_t *out, int codec, const want_t *w, int n) {
    rb_header_t h;
    rb_status_t why;
    assert_int_equal(rb_validate(out->data, out->len, &h, &why), (long)out->len);
    assert_int_equal(h.base_offset, 0);
    assert_int_equal(h.leader_epoch, -1);
    assert_int_equal(h.attributes, codec); /* CreateTime, no transaction */
    assert_int_equal(h.record_count, n);
    assert_int_equal(h.last_offset_delta, n - 1);
    assert_int_equal(h.producer_id, -1);
    assert_int_equal(h.producer_epoch, -1);
    assert_int_equal(h.base_sequence, -1);
    int64_t maxts = w[0].ts;
    for (int i = 1; i < n; i++) {
        maxts = w[i].ts > maxts ? w[i].ts : maxts;
    }
    assert_int_equal(h.base_timestamp, w[0].ts);
    assert_int_equal(h.max_timestamp, maxts);
    buf_t scratch = BUF_INIT;
    const uint8_t *p;
    size_t len;
    assert_int_equal(rbc_batch_records(out->data, out->len, 1 << 20, &scratch, &p, &len), 0);
    const uint8_t *end = p + len;
    for (int i = 0; i < n; i++) {
        int64_t rlen = bb_get_varlong(&p);
        const uint8_t *next = p + rlen;
        assert_true(next <= end);
        assert_int_equal(*p++, 0); /* attributes */
        assert_int_equal(h.base_timestamp + bb_get_varlong(&p), w[i].ts);
        assert_int_equal(bb_get_varlong(&p), i);
        int64_t kl = bb_get_varlong(&p);
        if (w[i].key == NULL) {
            assert_int_equal(kl, -1);
        } else {
            assert_int_equal(kl, (int64_t)strlen(w[i].key));
            assert_memory_equal(p, w[i].key, (size_t)kl);
            p += kl;
        }
        int64_t vl = bb_get_varlong(&p);
        if (w[i].val == NULL) {
            assert_int_equal(vl, -1);
        } else {
            assert_int_equal(vl, (int64_t)strlen(w[i].val));
            assert_memory_equal(p, w[i].val, (size_t)vl);
            p += vl;
        }
        assert_int_equal(bb_get_varlong(&p), 0); /* headers */
        assert_ptr_equal(p, next);
    }
    assert_ptr_equal(p, end);
    buf_destroy(&scratch);
}

/* Conversion fails with rc/st and leaves out as it was. */
static void check_refused(const buf_t *set, size_t max_out, int rc, lr_status_t st) {
    buf_t out = BUF_INIT;
    buf_append(&out, "pre", 3);
    lr_status_t why = LR_OK;
    assert_int_equal(lr_convert(set->data, set->len, max_out, &out, &why), rc);
    assert_int_equal(why, st);
    assert_int_equal(out.len, 3);
    buf_destroy(&out);
}

/* ---------------------------------------------------------------- tests */

static void test_lr_magic0_byte_exact(void **state) {
    (void)state;
    buf_t set = BUF_INIT, out = BUF_INIT;
    msgs(&set, 0, 0, 0, 0, NULL, "a");
    msgs(&set, 1, 0, 0, 0, "k", "bc");
    assert_true(lr_is_legacy(set.data, set.len));
    lr_status_t why = LR_TRUNCATED;
    assert_int_equal(lr_convert(set.data, set.len, 1 << 20, &out, &why), 0);
    assert_int_equal(why, LR_OK);
    /* records: length, attrs, ts delta, offset delta, key, value, headers */
    static const uint8_t recs[] = {0x0e, 0, 0, 0,    0x01, 0x02, 'a',  0, /* null key, "a" */
                                   0x12, 0, 0, 0x02, 0x02, 'k',  0x04, 'b', 'c', 0};
    assert_int_equal(out.len, RB_HEADER_SIZE + sizeof(recs));
    assert_memory_equal(out.data + RB_HEADER_SIZE, recs, sizeof(recs));
    want_t w[] = {{-1, NULL, "a"}, {-1, "k", "bc"}};
    check_batch(&out, RBC_NONE, w, 2);
    assert_false(lr_is_legacy(out.data, out.len)); /* the v2 batch has magic 2 */
    buf_destroy(&set);
    buf_destroy(&out);
}

static void test_lr_magic1_keeps_timestamps_and_nulls(void **state) {
    (void)state;
    buf_t set = BUF_INIT, out = BUF_INIT;
    msgs(&set, 0, 1, 0, 1000, "key", "v1");
    msgs(&set, 1, 1, 0, 1005, NULL, NULL); /* tombstone-like: null value */
    msgs(&set, 2, 1, 0, 990, "", "");      /* empty key and value (not null) */
    assert_int_equal(lr_convert(set.data, set.len, 1 << 20, &out, NULL), 0);
    want_t w[] = {{1000, "key", "v1"}, {1005, NULL, NULL}, {990, "", ""}};
    check_batch(&out, RBC_NONE, w, 3);
    buf_destroy(&set);
    buf_destroy(&out);
}

static void test_lr_gzip_wrapper_magic1(void **state) {
    (void)state;
    buf_t inner = BUF_INIT, set = BUF_INIT, out = BUF_INIT;
    msgs(&inner, 0, 1, 0, 2000, NULL, "first"); /* relative inner offsets, as magic 1 */
    msgs(&inner, 1, 1, 0, 2010, "k2", "second");
    msgs(&inner, 2, 1, 0, 2020, NULL, "third");
    wrapper(&set, 1, RBC_GZIP, 0, 2020, &inner);
    assert_int_equal(lr_convert(set.data, set.len, 1 << 20, &out, NULL), 0);
    want_t w[] = {{2000, NULL, "first"}, {2010, "k2", "second"}, {2020, NULL, "third"}};
    check_batch(&out, RBC_GZIP, w, 3);

    /* A LogAppendTime wrapper's timestamp overrides the inner ones (Kafka). */
    buf_reset(&set);
    buf_reset(&out);
    wrapper(&set, 1, RBC_GZIP, 0x08, 5555, &inner);
    assert_int_equal(lr_convert(set.data, set.len, 1 << 20, &out, NULL), 0);
    want_t w2[] = {{5555, NULL, "first"}, {5555, "k2", "second"}, {5555, NULL, "third"}};
    check_batch(&out, RBC_GZIP, w2, 3);
    buf_destroy(&inner);
    buf_destroy(&set);
    buf_destroy(&out);
}

static void test_lr_snappy_lz4_wrappers_and_mixed_set(void **state) {
    (void)state;
    buf_t inner = BUF_INIT, set = BUF_INIT, out = BUF_INIT;
    msgs(&inner, 0, 0, 0, 0, NULL, "s0");
    msgs(&inner, 1, 0, 0, 0, "k", "s1");
    msgs(&set, 0, 0, 0, 0, NULL, "plain"); /* a plain message, then wrappers */
    wrapper(&set, 0, RBC_SNAPPY, 0, 0, &inner);
    wrapper(&set, 0, RBC_LZ4, 0, 0, &inner);
    assert_int_equal(lr_convert(set.data, set.len, 1 << 20, &out, NULL), 0);
    /* One batch; the codec of the last compressed wrapper. */
    want_t w[] = {
        {-1, NULL, "plain"}, {-1, NULL, "s0"}, {-1, "k", "s1"}, {-1, NULL, "s0"}, {-1, "k", "s1"}};
    check_batch(&out, RBC_LZ4, w, 5);
    buf_destroy(&inner);
    buf_destroy(&set);
    buf_destroy(&out);
}

/* Kafka 0.8/0.9 (and librdkafka for magic 0) write the lz4 frame header checksum over the
 * magic number too; magic-0 readers ignore it. */
static void test_lr_lz4_magic0_broken_header_checksum(void **state) {
    (void)state;
    buf_t inner = BUF_INIT, z = BUF_INIT, set = BUF_INIT, out = BUF_INIT;
    msgs(&inner, 0, 0, 0, 0, "a", "lz4 with the old framing");
    assert_int_equal(rbc_compress(RBC_LZ4, inner.data, inner.len, &z), 0);
    uint8_t flg = z.data[4];
    size_t desc = 2 + ((flg & 0x08) ? 8 : 0) + ((flg & 0x01) ? 4 : 0);
    z.data[4 + desc] ^= 0x5a; /* no longer the correct checksum */
    buf_t probe = BUF_INIT;
    assert_int_equal(rbc_decompress(RBC_LZ4, z.data, z.len, 1 << 20, &probe), STRATA_ECORRUPT);
    msg(&set, 0, 0, RBC_LZ4, 0, NULL, z.data, (int32_t)z.len);
    assert_int_equal(lr_convert(set.data, set.len, 1 << 20, &out, NULL), 0);
    want_t w[] = {{-1, "a", "lz4 with the old framing"}};
    check_batch(&out, RBC_LZ4, w, 1);
    buf_destroy(&probe);
    buf_destroy(&inner);
    buf_destroy(&z);
    buf_destroy(&set);
    buf_destroy(&out);
}

static void test_lr_bad_crc_refused(void **state) {
    (void)state;
    buf_t set = BUF_INIT, inner = BUF_INIT;
    msgs(&set, 0, 1, 0, 1, "k", "good");
    msgs(&set, 1, 1, 0, 2, "k", "flipped");
    set.data[set.len - 1] ^= 1; /* last value byte of the second message */
    check_refused(&set, 1 << 20, STRATA_ECORRUPT, LR_BAD_CRC);

    /* An inner message's CRC is checked too. */
    buf_reset(&set);
    msgs(&inner, 0, 1, 0, 1, NULL, "inner");
    inner.data[inner.len - 1] ^= 1;
    wrapper(&set, 1, RBC_GZIP, 0, 1, &inner);
    check_refused(&set, 1 << 20, STRATA_ECORRUPT, LR_BAD_CRC);
    buf_destroy(&set);
    buf_destroy(&inner);
}

static void test_lr_truncated_and_bad_sizes(void **state) {
    (void)state;
    buf_t set = BUF_INIT, cut = BUF_INIT;
    msgs(&set, 0, 0, 0, 0, "key", "value");
    msgs(&set, 1, 0, 0, 0, "key", "value");
    for (size_t n = set.len / 2 + 1; n < set.len; n++) { /* every cut of the second */
        buf_reset(&cut);
        buf_append(&cut, set.data, n);
        check_refused(&cut, 1 << 20, STRATA_ECORRUPT, LR_TRUNCATED);
    }
    /* message_size claiming far more than there is */
    buf_reset(&cut);
    buf_append(&cut, set.data, set.len);
    be32_put(cut.data + 8, 0x7ffffff0u);
    check_refused(&cut, 1 << 20, STRATA_ECORRUPT, LR_TRUNCATED);
    /* message_size below the smallest message */
    be32_put(cut.data + 8, 13);
    check_refused(&cut, 1 << 20, STRATA_ECORRUPT, LR_BAD_SIZE);
    /* key length past the message (CRC recomputed so only the size is wrong) */
    buf_reset(&cut);
    msgs(&cut, 0, 0, 0, 0, "key", "value");
    be32_put(cut.data + 18, 1000);
    be32_put(cut.data + 12, (uint32_t)crc32(0L, cut.data + 16, (uInt)(cut.len - 16)));
    check_refused(&cut, 1 << 20, STRATA_ECORRUPT, LR_BAD_SIZE);
    /* key length -2 */
    be32_put(cut.data + 18, (uint32_t)-2);
    be32_put(cut.data + 12, (uint32_t)crc32(0L, cut.data + 16, (uInt)(cut.len - 16)));
    check_refused(&cut, 1 << 20, STRATA_ECORRUPT, LR_BAD_SIZE);
    /* value shorter than the message: a trailing byte inside the message */
    buf_reset(&cut);
    msgs(&cut, 0, 0, 0, 0, "key", "value");
    buf_append(&cut, "!", 1);
    be32_put(cut.data + 8, be32_get(cut.data + 8) + 1);
    be32_put(cut.data + 12, (uint32_t)crc32(0L, cut.data + 16, (uInt)(cut.len - 16)));
    check_refused(&cut, 1 << 20, STRATA_ECORRUPT, LR_BAD_SIZE);
    /* magic 1 shorter than its timestamp needs */
    buf_reset(&cut);
    msgs(&cut, 0, 0, 0, 0, NULL, "");
    cut.data[16] = 1;
    be32_put(cut.data + 12, (uint32_t)crc32(0L, cut.data + 16, (uInt)(cut.len - 16)));
    check_refused(&cut, 1 << 20, STRATA_ECORRUPT, LR_BAD_SIZE);
    /* nothing at all, and less than a message header */
    buf_reset(&cut);
    check_refused(&cut, 1 << 20, STRATA_ECORRUPT, LR_EMPTY);
    buf_append(&cut, set.data, 11);
    check_refused(&cut, 1 << 20, STRATA_ECORRUPT, LR_TRUNCATED);
    buf_destroy(&set);
    buf_destroy(&cut);
}

static void test_lr_structure_refused(void **state) {
    (void)state;
    buf_t inner = BUF_INIT, nested = BUF_INIT, set = BUF_INIT;
    /* nested compression */
    msgs(&inner, 0, 1, 0, 1, NULL, "x");
    wrapper(&nested, 1, RBC_GZIP, 0, 1, &inner);
    wrapper(&set, 1, RBC_GZIP, 0, 1, &nested);
    check_refused(&set, 1 << 20, STRATA_ECORRUPT, LR_NESTED);
    /* a compressed wrapper with a null value */
    buf_reset(&set);
    msg(&set, 0, 1, RBC_GZIP, 1, NULL, NULL, -1);
    check_refused(&set, 1 << 20, STRATA_ECORRUPT, LR_NESTED);
    /* inner magic 0 under a magic-1 wrapper */
    buf_reset(&inner);
    buf_reset(&set);
    msgs(&inner, 0, 0, 0, 0, NULL, "x");
    wrapper(&set, 1, RBC_GZIP, 0, 1, &inner);
    check_refused(&set, 1 << 20, STRATA_ECORRUPT, LR_BAD_MAGIC);
    /* magic 2 inside a legacy set */
    buf_reset(&set);
    msgs(&set, 0, 0, 0, 0, NULL, "ok");
    msgs(&set, 1, 0, 0, 0, NULL, "bad magic");
    size_t second = set.len - (12 + 14 + 9);
    set.data[second + 16] = 2;
    be32_put(set.data + second + 12,
             (uint32_t)crc32(0L, set.data + second + 16, (uInt)(set.len - second - 16)));
    check_refused(&set, 1 << 20, STRATA_ECORRUPT, LR_BAD_MAGIC);
    /* a wrapper with no inner message */
    buf_reset(&inner);
    buf_reset(&set);
    wrapper(&set, 0, RBC_GZIP, 0, 0, &inner);
    check_refused(&set, 1 << 20, STRATA_ECORRUPT, LR_EMPTY);
    /* a wrapper whose value is not gzip */
    buf_reset(&set);
    msgs(&set, 0, 0, RBC_GZIP, 0, NULL, "not gzip at all");
    check_refused(&set, 1 << 20, STRATA_ECORRUPT, LR_BAD_COMPRESSED);
    /* zstd is refused with magic < 2, codecs 5-7 are unknown */
    buf_reset(&set);
    msgs(&set, 0, 1, RBC_ZSTD, 1, NULL, "whatever");
    check_refused(&set, 1 << 20, STRATA_EINVAL, LR_ZSTD);
    buf_reset(&set);
    msgs(&set, 0, 1, 6, 1, NULL, "whatever");
    check_refused(&set, 1 << 20, STRATA_EINVAL, LR_BAD_CODEC);
    buf_destroy(&inner);
    buf_destroy(&nested);
    buf_destroy(&set);
}

static void test_lr_oversized_refused(void **state) {
    (void)state;
    /* A small gzip wrapper that inflates to 4 MiB of messages: bounded by max_out. */
    buf_t inner = BUF_INIT, set = BUF_INIT, out = BUF_INIT;
    uint8_t *zeros = calloc(1, 64 * 1024);
    for (int i = 0; i < 64; i++) {
        msg(&inner, i, 0, 0, 0, NULL, zeros, 64 * 1024);
    }
    wrapper(&set, 0, RBC_GZIP, 0, 0, &inner);
    assert_true(set.len < 64 * 1024);
    check_refused(&set, 1 << 20, STRATA_ETOO_LARGE, LR_TOO_LARGE);
    /* the same set passes with room for it */
    assert_int_equal(lr_convert(set.data, set.len, 8u << 20, &out, NULL), 0);
    rb_header_t h;
    assert_int_equal(rb_validate(out.data, out.len, &h, NULL), (long)out.len);
    assert_int_equal(h.record_count, 64);
    /* uncompressed messages whose converted batch is over max_out */
    buf_reset(&set);
    for (int i = 0; i < 20; i++) {
        msg(&set, i, 0, 0, 0, NULL, zeros, 64 * 1024);
    }
    check_refused(&set, 1 << 20, STRATA_ETOO_LARGE, LR_TOO_LARGE);
    free(zeros);
    buf_destroy(&inner);
    buf_destroy(&set);
    buf_destroy(&out);
}

/* Random byte changes never crash; with the outer CRC fixed up they reach the wrapper's
 * compressed value and the inner messages. Whatever converts is a valid v2 batch. */
static void test_lr_mutations_never_crash(void **state) {
    (void)state;
    buf_t inner = BUF_INIT, set = BUF_INIT, mut = BUF_INIT, out = BUF_INIT;
    for (int i = 0; i < 6; i++) {
        msgs(&inner, i, 1, 0, 100 + i, i % 2 ? "key" : NULL, "some value bytes");
    }
    uint32_t x = 12345;
    for (int codec = RBC_NONE; codec <= RBC_LZ4; codec++) {
        buf_reset(&set);
        if (codec == RBC_NONE) {
            buf_append(&set, inner.data, inner.len);
        } else {
            wrapper(&set, 1, codec, 0, 200, &inner);
        }
        for (int it = 0; it < 3000; it++) {
            buf_reset(&mut);
            buf_append(&mut, set.data, set.len);
            int flips = 1 + it % 4;
            for (int f = 0; f < flips; f++) {
                x = x * 1103515245u + 12345u;
                size_t at = (x >> 8) % mut.len;
                x = x * 1103515245u + 12345u;
                mut.data[at] = (uint8_t)(x >> 16);
            }
            if (codec != RBC_NONE && it % 2 == 0) { /* one outer message: fix its CRC */
                uint32_t size = be32_get(mut.data + 8);
                if (size >= 4 && size <= mut.len - 12) {
                    be32_put(mut.data + 12, (uint32_t)crc32(0L, mut.data + 16, (uInt)(size - 4)));
                }
            }
            buf_reset(&out);
            lr_status_t why;
            int rc = lr_convert(mut.data, mut.len, 1 << 20, &out, &why);
            if (rc == 0) {
                assert_int_equal(rb_validate(out.data, out.len, NULL, NULL), (long)out.len);
            } else {
                assert_int_equal(out.len, 0);
                assert_true(why != LR_OK);
            }
        }
    }
    buf_destroy(&inner);
    buf_destroy(&set);
    buf_destroy(&mut);
    buf_destroy(&out);
}

static void test_lr_is_legacy(void **state) {
    (void)state;
    uint8_t b[20];
    memset(b, 0, sizeof(b));
    assert_true(lr_is_legacy(b, sizeof(b)));
    b[16] = 1;
    assert_true(lr_is_legacy(b, sizeof(b)));
    b[16] = 2;
    assert_false(lr_is_legacy(b, sizeof(b)));
    b[16] = 0;
    assert_false(lr_is_legacy(b, 16));
    assert_false(lr_is_legacy(NULL, 0));
    for (int s = LR_OK; s <= LR_BAD_COMPRESSED; s++) {
        assert_non_null(lr_status_str((lr_status_t)s));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lr_magic0_byte_exact),
        cmocka_unit_test(test_lr_magic1_keeps_timestamps_and_nulls),
        cmocka_unit_test(test_lr_gzip_wrapper_magic1),
        cmocka_unit_test(test_lr_snappy_lz4_wrappers_and_mixed_set),
        cmocka_unit_test(test_lr_lz4_magic0_broken_header_checksum),
        cmocka_unit_test(test_lr_bad_crc_refused),
        cmocka_unit_test(test_lr_truncated_and_bad_sizes),
        cmocka_unit_test(test_lr_structure_refused),
        cmocka_unit_test(test_lr_oversized_refused),
        cmocka_unit_test(test_lr_mutations_never_crash),
        cmocka_unit_test(test_lr_is_legacy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
