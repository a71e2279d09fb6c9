/*
 * fuzz_records: libFuzzer target over the storage code that parses client-controlled
 * record bytes: magic-2 batch validation and record iteration (record_batch.c), the
 * codecs and batch helpers of compression.c (rbc_*), the legacy MessageSet
 * up-conversion (legacy_records.c: lr_convert) and the compacted-topic key check of
 * produce (log_check_keys), and the log cleaner's record filter. The cleaner has no pure
 * entry point (its batch filter runs inside a cleaning job over segment files), so path 7
 * drives a real compacted log in a temporary directory (/dev/shm when there is one).
 *
 * The first input byte chooses the path (bits 0-2), a codec (bits 3-5, mod 5) and
 * whether CRCs are fixed up first (bit 7), so mutations get past the checksums:
 *   0 a chain of v2 batches: rb_validate each, then the checks of one valid batch
 *   1 a v2 header + uncompressed records, compressed with the codec into a valid batch
 *   2 rbc_decompress of the bytes with the codec
 *   3 lr_convert of a legacy message set
 *   4 a legacy inner message set, compressed with the codec into a (CRC-valid) wrapper
 *   5 time lookups: an 8-byte timestamp, then a batch (no CRC needed)
 *   6 rbc_batch_recode of a batch to the codec (no CRC needed; checked when valid)
 *   7 a chain of batches (CRCs fixed, offsets made contiguous) appended as a follower
 *     would to a compacted log with small segments, cleaned twice (log_clean, inline
 *     executor), and read back: every batch left must validate
 * Properties beyond "no crash, no leak, no sanitizer report": nothing is appended on
 * failure; output stays under the cap; a decoded stream re-compresses and decodes to the
 * same bytes; a converted or recoded batch validates and keeps its records; two record
 * parsers (rb_find_in_records and a strict one here) and log_check_keys agree.
 * Built with -fsanitize=fuzzer by tests/fuzz/tests.cmake (clang, STRATA_FUZZ=ON); with
 * tests/fuzz/replay_main.c linked in it is a plain program that replays files (any compiler).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "storage/storage_int.h"
#include "strata/storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP (64 * 1024) /* decompression / conversion cap: keeps runs fast */

static void fail(const char *what) {
    fprintf(stderr, "fuzz_records: %s\n", what);
    abort();
}

/* ---------------------------------------------------------------- strict record parser */

static bool varlong(const uint8_t **p, const uint8_t *end, int64_t *out) {
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

static bool bytes_field(const uint8_t **p, const uint8_t *end, bool nullable, bool *is_null) {
    int64_t n;
    if (!varlong(p, end, &n) || n < (nullable ? -1 : 0) || n > end - *p) {
        return false;
    }
    if (is_null) {
        *is_null = n < 0;
    }
    *p += n > 0 ? n : 0;
    return true;
}

typedef struct strict {
    bool ok;              /* every record_count record parsed (offset deltas 32-bit, >= 0,
                           * base + delta fits), section used exactly */
    bool null_key;        /* some record has a null key */
    int64_t first_odelta; /* of record 0 */
} strict_t;

/* Kafka's record format with headers, every length within the record. */
static strict_t parse_strict(const uint8_t *p, size_t len, int32_t count, int64_t base) {
    strict_t s = {false, false, 0};
    const uint8_t *end = p + len;
    for (int32_t i = 0; i < count; i++) {
        int64_t rlen, td, od, nh;
        bool null_key;
        if (!varlong(&p, end, &rlen) || rlen < 1 || rlen > end - p) {
            return s;
        }
        const uint8_t *q = p + 1, *rend = p + rlen;
        if (!varlong(&q, rend, &td) || !varlong(&q, rend, &od) || od < 0 || od > INT32_MAX ||
            base > INT64_MAX - od || !bytes_field(&q, rend, true, &null_key) ||
            !bytes_field(&q, rend, true, NULL) || !varlong(&q, rend, &nh) || nh < 0) {
            return s;
        }
        for (int64_t h = 0; h < nh; h++) {
            if (!bytes_field(&q, rend, false, NULL) || !bytes_field(&q, rend, true, NULL)) {
                return s;
            }
        }
        if (q != rend) {
            return s;
        }
        if (i == 0) {
            s.first_odelta = od;
        }
        s.null_key |= null_key;
        p = rend;
    }
    s.ok = p == end;
    return s;
}

/* ---------------------------------------------------------------- helpers */

/* Recomputes the CRC-32C of every batch of a chain whose length fits. */
static void fix_batch_crcs(uint8_t *d, size_t len) {
    size_t pos = 0;
    while (len - pos >= RB_HEADER_SIZE) {
        int32_t l = (int32_t)be32_get(d + pos + RB_OFF_LENGTH);
        if (l < RB_HEADER_SIZE - 12 || (size_t)l + 12 > len - pos) {
            return;
        }
        size_t total = (size_t)l + 12;
        be32_put(d + pos + RB_OFF_CRC,
                 crc32c(0, d + pos + RB_OFF_ATTRIBUTES, total - RB_OFF_ATTRIBUTES));
        pos += total;
    }
}

/* Recomputes the CRC-32 of every message of a legacy set whose size fits. */
static void fix_legacy_crcs(uint8_t *d, size_t len) {
    size_t pos = 0;
    while (len - pos >= 12 + 5) {
        int32_t s = (int32_t)be32_get(d + pos + 8);
        if (s < 5 || (size_t)s > len - pos - 12) {
            return;
        }
        uint8_t *m = d + pos + 12;
        be32_put(m, (uint32_t)crc32(0L, m + 4, (uInt)(s - 4)));
        pos += 12 + (size_t)s;
    }
}

static log_t *fake_log(log_t *fake) {
    memset(fake, 0, sizeof(*fake));
    log_config_default(&fake->cfg);
    fake->topic = (char *)"fuzz";
    return fake;
}

/* rbc_decompress that must leave out's earlier bytes alone and append nothing on failure. */
static int decompress_checked(int codec, const uint8_t *in, size_t len, size_t cap, buf_t *out) {
    static const uint8_t mark[3] = {0xde, 0xad, 0x01};
    buf_reset(out);
    buf_append(out, mark, sizeof(mark));
    int rc = rbc_decompress(codec, in, len, cap, out);
    if (memcmp(out->data, mark, sizeof(mark)) != 0) {
        fail("rbc_decompress changed bytes before its output");
    }
    if (rc != 0 && out->len != sizeof(mark)) {
        fail("rbc_decompress left output after a failure");
    }
    if (rc == 0 && out->len - sizeof(mark) > cap) {
        fail("rbc_decompress went past its cap");
    }
    return rc;
}

/* The checks of one CRC-valid batch b[0..total). */
static void check_valid_batch(const uint8_t *b, size_t total, const rb_header_t *h, int codec) {
    buf_t scratch = BUF_INIT, out = BUF_INIT, scratch2 = BUF_INIT;
    const uint8_t *rec, *rec2;
    size_t rec_len, rec2_len;
    int rc = rbc_batch_records(b, total, CAP, &scratch, &rec, &rec_len);
    if (rc == 0) {
        if ((h->attributes & RB_ATTR_COMPRESSION) == 0 &&
            (rec != b + RB_HEADER_SIZE || rec_len != total - RB_HEADER_SIZE)) {
            fail("rbc_batch_records: uncompressed records not in place");
        }
        strict_t s = parse_strict(rec, rec_len, h->record_count, h->base_offset);
        int64_t off = 0, ts = 0;
        int frc = rb_find_in_records(h, rec, rec_len, INT64_MIN, INT64_MIN, &off, &ts);
        if (s.ok && h->record_count > 0 && (frc != 0 || off != h->base_offset + s.first_odelta)) {
            fail("rb_find_in_records disagrees with the strict parser");
        }
        if (s.ok && h->record_count == 0 && frc != STRATA_ENOTFOUND) {
            fail("rb_find_in_records found a record in an empty batch");
        }
        /* The compacted-topic key check of produce (log_check_keys) on the same batch. */
        log_t fake;
        int krc = log_check_keys(fake_log(&fake), b, total);
        if (krc != 0 && krc != LOG_ENO_KEY && krc != STRATA_ECORRUPT && krc != STRATA_ETOO_LARGE) {
            fail("log_check_keys: unexpected code");
        }
        if (s.ok && (h->attributes & RB_ATTR_CONTROL) == 0 &&
            krc != (s.null_key ? LOG_ENO_KEY : 0)) {
            fail("log_check_keys disagrees with the strict parser");
        }
        /* Recoded with another codec, the batch validates and keeps its records. */
        rc = rbc_batch_recode(b, total, codec, CAP, &out);
        if (rc == 0) {
            rb_header_t nh;
            if (rb_validate(out.data, out.len, &nh, NULL) != (long)out.len) {
                fail("rbc_batch_recode: output does not validate");
            }
            if ((nh.attributes & RB_ATTR_COMPRESSION) != codec ||
                nh.record_count != h->record_count || nh.base_offset != h->base_offset) {
                fail("rbc_batch_recode: header changed");
            }
            if (rbc_batch_records(out.data, out.len, CAP, &scratch2, &rec2, &rec2_len) != 0 ||
                rec2_len != rec_len || (rec_len > 0 && memcmp(rec, rec2, rec_len) != 0)) {
                fail("rbc_batch_recode: records changed");
            }
        } else if (out.len != 0) {
            fail("rbc_batch_recode left output after a failure");
        }
    }
    int64_t off = 0, ts = 0;
    (void)rbc_find_record_by_time(b, total, h->base_timestamp, CAP, &scratch, &off, &ts);
    buf_destroy(&scratch);
    buf_destroy(&scratch2);
    buf_destroy(&out);
}

/* A chain of batches: validate each; the valid ones get the full checks. */
static void run_chain(uint8_t *d, size_t len, bool fix, int codec) {
    if (fix) {
        fix_batch_crcs(d, len);
    }
    size_t pos = 0;
    bool all = true;
    while (pos < len) {
        rb_header_t h;
        rb_status_t why = RB_OK;
        long n = rb_validate(d + pos, len - pos, &h, &why);
        if (n < 0 && why == RB_OK) {
            fail("rb_validate: failure without a reason");
        }
        if (n == 0 && why != RB_TRUNCATED) {
            fail("rb_validate: 0 but not truncated");
        }
        if (n <= 0) {
            all = false;
            break;
        }
        if ((size_t)n > len - pos || n < RB_HEADER_SIZE ||
            rb_parse(d + pos, len - pos, NULL) != n) {
            fail("rb_validate: bad size");
        }
        check_valid_batch(d + pos, (size_t)n, &h, codec);
        pos += (size_t)n;
    }
    if (all && len > 0) { /* what produce does on a compacted topic after validation */
        log_t fake;
        (void)log_check_keys(fake_log(&fake), d, len);
    }
}

/* A header plus plain records, compressed with codec into a CRC-valid batch. */
static void run_built_batch(const uint8_t *d, size_t len, int codec) {
    if (len < RB_HEADER_SIZE) {
        return;
    }
    buf_t b = BUF_INIT;
    buf_append(&b, d, RB_HEADER_SIZE);
    if (rbc_compress(codec, d + RB_HEADER_SIZE, len - RB_HEADER_SIZE, &b) != 0) {
        fail("rbc_compress failed");
    }
    uint8_t *p = b.data;
    p[RB_OFF_MAGIC] = 2;
    be32_put(p + RB_OFF_LENGTH, (uint32_t)(b.len - 12));
    uint16_t attrs = (uint16_t)((be16_get(p + RB_OFF_ATTRIBUTES) & ~RB_ATTR_COMPRESSION) | codec);
    be16_put(p + RB_OFF_ATTRIBUTES, attrs);
    int32_t count = (int32_t)be32_get(p + RB_OFF_RECORD_COUNT);
    count = count < 0 ? 0 : count % 64;
    be32_put(p + RB_OFF_RECORD_COUNT, (uint32_t)count);
    int32_t delta = (int32_t)be32_get(p + RB_OFF_LAST_DELTA);
    if (delta < 0 || delta < count - 1) {
        be32_put(p + RB_OFF_LAST_DELTA, (uint32_t)(count > 0 ? count - 1 : 0));
    }
    fix_batch_crcs(b.data, b.len);
    rb_header_t h;
    if (rb_validate(b.data, b.len, &h, NULL) != (long)b.len) {
        fail("built batch does not validate");
    }
    check_valid_batch(b.data, b.len, &h, (codec + 1) % 5);
    buf_destroy(&b);
}

static void run_decompress(const uint8_t *d, size_t len, int codec) {
    buf_t out = BUF_INIT, again = BUF_INIT, back = BUF_INIT;
    if (decompress_checked(codec, d, len, CAP, &out) == 0) {
        const uint8_t *plain = out.data + 3;
        size_t n = out.len - 3;
        if (rbc_compress(codec, plain, n, &again) != 0) {
            fail("rbc_compress of decompressed bytes failed");
        }
        if (decompress_checked(codec, again.data, again.len, CAP, &back) != 0 ||
            back.len - 3 != n || (n > 0 && memcmp(back.data + 3, plain, n) != 0)) {
            fail("codec round trip changed the bytes");
        }
    }
    buf_destroy(&out);
    buf_destroy(&again);
    buf_destroy(&back);
}

/* lr_convert, with the checks on its result. */
static void convert_checked(const uint8_t *set, size_t len) {
    static const uint8_t mark[2] = {0xbe, 0xef};
    buf_t out = BUF_INIT;
    buf_append(&out, mark, sizeof(mark));
    lr_status_t why = LR_OK;
    int rc = lr_convert(set, len, CAP, &out, &why);
    if (memcmp(out.data, mark, sizeof(mark)) != 0) {
        fail("lr_convert changed bytes before its output");
    }
    if (rc != 0) {
        if (out.len != sizeof(mark) || why == LR_OK) {
            fail("lr_convert: failure left output or gave no reason");
        }
        if (rc != STRATA_ECORRUPT && rc != STRATA_ETOO_LARGE && rc != STRATA_EINVAL) {
            fail("lr_convert: unexpected code");
        }
    } else {
        const uint8_t *b = out.data + sizeof(mark);
        size_t n = out.len - sizeof(mark);
        rb_header_t h;
        if (why != LR_OK || rb_validate(b, n, &h, NULL) != (long)n || h.record_count < 1) {
            fail("lr_convert: output is not one valid batch");
        }
        buf_t scratch = BUF_INIT;
        const uint8_t *rec;
        size_t rec_len;
        if (rbc_batch_records(b, n, CAP * 4, &scratch, &rec, &rec_len) != 0 ||
            !parse_strict(rec, rec_len, h.record_count, h.base_offset).ok) {
            fail("lr_convert: output records do not parse");
        }
        buf_destroy(&scratch);
        check_valid_batch(b, n, &h, RBC_NONE);
    }
    buf_destroy(&out);
}

/* An inner legacy set (CRCs fixed) compressed into one wrapper message. d[0]: magic and
 * the timestamp-type bit; codec 0 is taken as zstd (refused for legacy). */
static void run_legacy_wrapper(uint8_t *d, size_t len, int codec) {
    if (len < 1) {
        return;
    }
    int magic = d[0] & 1;
    int attr = (codec == 0 ? RBC_ZSTD : codec) | ((d[0] & 2) ? 0x08 : 0);
    uint8_t *inner = d + 1;
    size_t ilen = len - 1;
    fix_legacy_crcs(inner, ilen);
    buf_t v = BUF_INIT, msg = BUF_INIT;
    if (rbc_compress(attr & RB_ATTR_COMPRESSION, inner, ilen, &v) != 0) {
        fail("rbc_compress failed");
    }
    size_t size = 4 + 1 + 1 + (magic ? 8 : 0) + 4 + 4 + v.len;
    uint8_t *m = buf_extend(&msg, 12 + size);
    be64_put(m, 0);
    be32_put(m + 8, (uint32_t)size);
    uint8_t *q = m + 12 + 4;
    *q++ = (uint8_t)magic;
    *q++ = (uint8_t)attr;
    if (magic) {
        be64_put(q, 1700000000000ull);
        q += 8;
    }
    be32_put(q, (uint32_t)-1); /* null key */
    q += 4;
    be32_put(q, (uint32_t)v.len);
    q += 4;
    memcpy(q, v.data, v.len);
    be32_put(m + 12, (uint32_t)crc32(0L, m + 16, (uInt)(size - 4)));
    convert_checked(msg.data, msg.len);
    buf_destroy(&v);
    buf_destroy(&msg);
}

static void run_time_lookup(const uint8_t *d, size_t len) {
    if (len < 8) {
        return;
    }
    int64_t ts = (int64_t)be64_get(d), off = 0, t = 0;
    buf_t scratch = BUF_INIT;
    (void)rb_find_record_by_time(d + 8, len - 8, ts, &off, &t);
    (void)rbc_find_record_by_time(d + 8, len - 8, ts, CAP, &scratch, &off, &t);
    buf_destroy(&scratch);
}

/* Any bytes (no CRC needed); a batch that validates must recode into one that does. */
static void run_recode(uint8_t *d, size_t len, bool fix, int codec) {
    if (fix) {
        fix_batch_crcs(d, len);
    }
    bool valid = rb_validate(d, len, NULL, NULL) == (long)len;
    buf_t out = BUF_INIT;
    int rc = rbc_batch_recode(d, len, codec, CAP, &out);
    if (rc == 0 && valid && rb_validate(out.data, out.len, NULL, NULL) != (long)out.len) {
        fail("rbc_batch_recode: output does not validate");
    }
    if (rc != 0 && out.len != 0) {
        fail("rbc_batch_recode left output after a failure");
    }
    buf_destroy(&out);
}

/* ---------------------------------------------------------------- cleaner (path 7) */

static char *clean_root; /* mkdtemp directory for the logs, removed at exit */

static void remove_clean_root(void) {
    (void)fs_remove_tree(clean_root);
    free(clean_root);
    clean_root = NULL;
}

static const char *clean_dir(void) {
    if (!clean_root) {
        char tmpl[64];
        snprintf(tmpl, sizeof(tmpl), "%s/fuzz_records.XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(tmpl)) {
            return NULL;
        }
        clean_root = xstrdup(tmpl);
        atexit(remove_clean_root);
    }
    return clean_root;
}

typedef struct clean_res {
    int calls;
    int status;
} clean_res_t;

static void clean_cb(void *arg, int status, const log_clean_stats_t *stats) {
    (void)stats;
    clean_res_t *r = arg;
    r->calls++;
    r->status = status;
}

/* Every batch the log holds validates (CRC included); @returns the batches read. */
static int read_back(log_t *log) {
    int64_t off = log_start_offset(log), end = log_end_offset(log);
    buf_t b = BUF_INIT;
    int n = 0;
    for (int guard = 0; off < end && guard < 100000; guard++) {
        log_slice_t sl;
        if (log_read(log, off, 1 << 20, INT64_MAX, &sl) != 0) {
            fail("cleaned log: log_read failed");
        }
        if (sl.len == 0) {
            log_slice_release(&sl);
            break;
        }
        buf_reset(&b);
        uint8_t *p = buf_extend(&b, (size_t)sl.len);
        if (pread(sl.fd, p, (size_t)sl.len, (off_t)sl.pos) != (ssize_t)sl.len) {
            fail("cleaned log: short read");
        }
        log_slice_release(&sl);
        for (size_t pos = 0; pos < b.len;) {
            rb_header_t h;
            long t = rb_validate(b.data + pos, b.len - pos, &h, NULL);
            if (t <= 0) {
                fail("cleaned log holds a batch that does not validate");
            }
            if (h.base_offset + h.last_offset_delta < off) {
                fail("cleaned log: log_read went backwards");
            }
            off = h.base_offset + h.last_offset_delta + 1;
            pos += (size_t)t;
            n++;
        }
    }
    buf_destroy(&b);
    return n;
}

static void run_cleaner(uint8_t *d, size_t len) {
    const char *dir = clean_dir();
    if (!dir) {
        return;
    }
    fix_batch_crcs(d, len);
    log_config_t cfg;
    log_config_default(&cfg);
    cfg.segment_bytes = 1024; /* a few segments, grouped by the cleaner */
    cfg.index_size_max_bytes = 4096;
    cfg.index_interval_bytes = 128;
    cfg.cleanup_compact = true;
    cfg.cleanup_delete = false;
    cfg.min_cleanable_ratio = 0;
    cfg.file_delete_delay_ms = 0;
    log_t *log = NULL;
    if (log_open(dir, "t", 0, &cfg, &strata_inline_executor, 0, false, &log) != 0) {
        fail("log_open failed");
    }
    int64_t expect = 0;
    for (size_t pos = 0; pos < len;) {
        rb_header_t h;
        long n = rb_validate(d + pos, len - pos, &h, NULL);
        if (n <= 0 || h.last_offset_delta > 1000000) {
            break;
        }
        be64_put(d + pos + RB_OFF_BASE_OFFSET, (uint64_t)expect); /* not under the CRC */
        if (log_append_replica(log, d + pos, (size_t)n, NULL) == 0) {
            expect = log_end_offset(log);
        }
        pos += (size_t)n;
    }
    if (log_end_offset(log) > 0) {
        if (log_roll(log) != 0) {
            fail("log_roll failed");
        }
        for (int pass = 0; pass < 2; pass++) {
            clean_res_t res = {0, 0};
            int rc = log_clean(log, 0, true, clean_cb, &res);
            if ((rc == 0 && res.calls != 1) || (rc != 0 && res.calls != 0) || rc < 0) {
                fail("log_clean: unexpected result or callback count");
            }
            if (res.calls && res.status != 0 && res.status != STRATA_ECORRUPT) {
                fail("log_clean: a cleaning pass failed on record bytes with an I/O error");
            }
            if (log_is_offline(log)) {
                fail("log_clean took the log offline");
            }
            (void)read_back(log);
        }
    }
    (void)log_delete(log);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static bool quiet;
    if (!quiet) {
        slog_set_level(SLOG_ERROR); /* the log's info lines are noise here */
        quiet = true;
    }
    if (size < 1) {
        return 0;
    }
    int mode = data[0] & 7;
    int codec = ((data[0] >> 3) & 7) % 5;
    bool fix = (data[0] & 0x80) != 0;
    size_t len = size - 1;
    /* a private, exactly sized copy: the fix-ups write to it */
    uint8_t *d = malloc(len ? len : 1);
    if (!d) {
        return 0;
    }
    if (len) {
        memcpy(d, data + 1, len);
    }
    switch (mode) {
    case 0:
        run_chain(d, len, fix, codec);
        break;
    case 1:
        run_built_batch(d, len, codec);
        break;
    case 2:
        run_decompress(d, len, codec);
        break;
    case 3:
        if (fix) {
            fix_legacy_crcs(d, len);
        }
        convert_checked(d, len);
        break;
    case 4:
        run_legacy_wrapper(d, len, codec);
        break;
    case 5:
        run_time_lookup(d, len);
        break;
    case 6:
        run_recode(d, len, fix, codec);
        break;
    default:
        run_cleaner(d, len);
        break;
    }
    free(d);
    return 0;
}
