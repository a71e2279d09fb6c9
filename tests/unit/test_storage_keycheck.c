/* Tests for the compacted-log key check on produce (cleaner.c log_check_keys via
 * log_append): a compressed batch that cannot be decompressed is refused (corrupt:
 * CORRUPT_MESSAGE, over the cap: MESSAGE_TOO_LARGE) instead of being stored unchecked,
 * and the decompressed bytes one append may make the loop produce are bounded in total
 * (rbc_limit(max.message.bytes) summed over the append's batches), not per batch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "storage/storage_int.h"
#include "strata/storage.h"
#include "tmpdir.h"

static void put_varlong(buf_t *b, int64_t v) {
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (z >= 0x80) {
        uint8_t c = (uint8_t)(z | 0x80);
        buf_append(b, &c, 1);
        z >>= 7;
    }
    uint8_t c = (uint8_t)z;
    buf_append(b, &c, 1);
}

/* Appends to out one batch of one record key -> value_size zero bytes, compressed with
 * codec (0 = none); garbage: the records section replaced by junk (CRC still right). */
static void add_batch(buf_t *out, const char *key, size_t value_size, int codec, bool garbage) {
    buf_t r = BUF_INIT, recs = BUF_INIT;
    uint8_t attrs = 0;
    buf_append(&r, &attrs, 1);
    put_varlong(&r, 0);
    put_varlong(&r, 0);
    if (key) {
        put_varlong(&r, (int64_t)strlen(key));
        buf_append(&r, key, strlen(key));
    } else {
        put_varlong(&r, -1);
    }
    put_varlong(&r, (int64_t)value_size);
    memset(buf_extend(&r, value_size), 0, value_size);
    put_varlong(&r, 0);
    put_varlong(&recs, (int64_t)r.len);
    buf_append(&recs, r.data, r.len);
    size_t start = out->len;
    memset(buf_extend(out, RB_HEADER_SIZE), 0, RB_HEADER_SIZE);
    if (garbage) {
        static const uint8_t junk[] = "this is not a compressed stream at all....";
        buf_append(out, junk, sizeof(junk));
    } else if (codec) {
        assert_int_equal(rbc_compress(codec, recs.data, recs.len, out), 0);
    } else {
        buf_append(out, recs.data, recs.len);
    }
    uint8_t *h = out->data + start;
    size_t len = out->len - start;
    be64_put(h + RB_OFF_BASE_OFFSET, 0);
    be16_put(h + RB_OFF_ATTRIBUTES, (uint16_t)codec);
    be32_put(h + RB_OFF_LENGTH, (uint32_t)(len - 12));
    h[RB_OFF_MAGIC] = 2;
    be32_put(h + RB_OFF_LAST_DELTA, 0);
    be64_put(h + RB_OFF_BASE_TIMESTAMP, 1000);
    be64_put(h + RB_OFF_MAX_TIMESTAMP, 1000);
    be64_put(h + RB_OFF_PRODUCER_ID, (uint64_t)-1);
    be16_put(h + RB_OFF_PRODUCER_EPOCH, (uint16_t)-1);
    be32_put(h + RB_OFF_BASE_SEQUENCE, (uint32_t)-1);
    be32_put(h + RB_OFF_RECORD_COUNT, 1);
    be32_put(h + RB_OFF_CRC, crc32c(0, h + RB_OFF_ATTRIBUTES, len - RB_OFF_ATTRIBUTES));
    buf_destroy(&r);
    buf_destroy(&recs);
}

typedef struct fixture {
    char *dir;
    log_t *log;
} fixture_t;

/* max.message.bytes 16 KiB: the decompression cap is rbc_limit's floor, 1 MiB. */
static void open_log(fixture_t *f, bool compact) {
    log_config_t cfg;
    log_config_default(&cfg);
    cfg.max_message_bytes = 16 * 1024;
    cfg.cleanup_compact = compact;
    cfg.cleanup_delete = !compact;
    assert_int_equal(rbc_limit(cfg.max_message_bytes), 1024 * 1024);
    assert_int_equal(log_open(f->dir, compact ? "c" : "d", 0, &cfg, NULL, 0, false, &f->log), 0);
}

static int setup(void **state) {
    fixture_t *f = calloc(1, sizeof(*f));
    f->dir = tmpdir_new();
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture_t *f = *state;
    log_close(f->log);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static int append(fixture_t *f, buf_t *b) {
    return log_append(f->log, b->data, b->len, 0, NULL);
}

static const int CODECS[] = {RBC_GZIP, RBC_SNAPPY, RBC_LZ4, RBC_ZSTD};

/* Garbage in a compressed batch: Kafka cannot decompress it either (CORRUPT_MESSAGE). */
static void test_keycheck_refuses_undecompressable_batch(void **state) {
    fixture_t *f = *state;
    open_log(f, true);
    buf_t b = BUF_INIT;
    for (size_t i = 0; i < sizeof(CODECS) / sizeof(CODECS[0]); i++) {
        buf_reset(&b);
        add_batch(&b, "k", 8, CODECS[i], true);
        assert_int_equal(append(f, &b), STRATA_ECORRUPT);
        /* also after a good batch of the same append */
        buf_reset(&b);
        add_batch(&b, "k", 8, CODECS[i], false);
        add_batch(&b, "k", 8, CODECS[i], true);
        assert_int_equal(append(f, &b), STRATA_ECORRUPT);
    }
    assert_int_equal(log_end_offset(f->log), 0);
    buf_destroy(&b);
}

/* One batch inflating past the cap is refused, not stored unchecked. */
static void test_keycheck_refuses_batch_over_cap(void **state) {
    fixture_t *f = *state;
    open_log(f, true);
    buf_t b = BUF_INIT;
    /* not snappy: at most ~21:1, it cannot pass 32 x max.message.bytes in one batch */
    static const int deflating[] = {RBC_GZIP, RBC_LZ4, RBC_ZSTD};
    for (size_t i = 0; i < sizeof(deflating) / sizeof(deflating[0]); i++) {
        buf_reset(&b);
        add_batch(&b, "k", 1536 * 1024, deflating[i], false);
        assert_true(b.len <= 16 * 1024);
        assert_int_equal(append(f, &b), STRATA_ETOO_LARGE);
    }
    assert_int_equal(log_end_offset(f->log), 0);
    /* a keyless record past the cap is not let through either */
    buf_reset(&b);
    add_batch(&b, NULL, 1536 * 1024, RBC_GZIP, false);
    assert_int_not_equal(append(f, &b), 0);
    assert_int_equal(log_end_offset(f->log), 0);
    buf_destroy(&b);
}

/* The cap bounds the whole append: batches each under it, together over it, are refused
 * (before, every batch of a request could inflate to the cap on the loop). */
static void test_keycheck_bounds_total_per_append(void **state) {
    fixture_t *f = *state;
    open_log(f, true);
    buf_t b = BUF_INIT;
    add_batch(&b, "a", 600 * 1024, RBC_GZIP, false);
    assert_int_equal(append(f, &b), 0); /* alone: fine */
    buf_reset(&b);
    add_batch(&b, "a", 600 * 1024, RBC_GZIP, false);
    add_batch(&b, "b", 600 * 1024, RBC_ZSTD, false);
    assert_int_equal(append(f, &b), STRATA_ETOO_LARGE);
    assert_int_equal(log_end_offset(f->log), 1);
    /* uncompressed batches cost nothing against the cap: their bytes are the request's */
    buf_reset(&b);
    for (int i = 0; i < 3; i++) {
        add_batch(&b, "p", 4096, 0, false);
    }
    add_batch(&b, "a", 600 * 1024, RBC_LZ4, false);
    assert_int_equal(append(f, &b), 0);
    assert_int_equal(log_end_offset(f->log), 5);
    /* a keyless record is still found under the cap */
    buf_reset(&b);
    add_batch(&b, "a", 16, RBC_GZIP, false);
    add_batch(&b, NULL, 16, RBC_GZIP, false);
    assert_int_equal(append(f, &b), LOG_ENO_KEY);
    buf_destroy(&b);
}

/* A topic that is not compacted never decompresses on produce: stored as it came. */
static void test_keycheck_not_for_delete_policy(void **state) {
    fixture_t *f = *state;
    open_log(f, false);
    buf_t b = BUF_INIT;
    add_batch(&b, "k", 1536 * 1024, RBC_GZIP, false);
    add_batch(&b, "k", 1536 * 1024, RBC_ZSTD, false);
    assert_int_equal(append(f, &b), 0);
    assert_int_equal(log_end_offset(f->log), 2);
    buf_destroy(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keycheck_refuses_undecompressable_batch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_keycheck_refuses_batch_over_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keycheck_bounds_total_per_append, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keycheck_not_for_delete_policy, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
