/*
 * compression: the codecs of a magic-2 batch's records section (attributes bits 0-2):
 * gzip (zlib), snappy (xerial framing as the Java client writes it, or a raw block as
 * librdkafka may send), lz4 (the LZ4 frame format, independent blocks, as Kafka's
 * KafkaLZ4BlockOutputStream writes for magic 2) and zstd. Plus batch-level helpers:
 * the records section of a batch (decompressed when needed), a batch re-encoded with
 * another codec (the log cleaner), and ListOffsets' record-exact time lookup.
 *
 * Invariants:
 *  1. Decompression never produces (or allocates for) more than max_out bytes: output
 *     grows in bounded steps and every size a stream claims up front (snappy's
 *     uncompressed length, zstd's frame content size) is checked before allocating.
 *     A stream that would exceed it fails with STRATA_ETOO_LARGE, garbage with
 *     STRATA_ECORRUPT; nothing asserts on input bytes.
 *  2. On produce (on the event loop) this file is used only for legacy message sets
 *     being up-converted (lr_convert) and, for a compacted topic, the batches whose keys
 *     log_check_keys (cleaner.c) checks, with one cap for all the batches of an append
 *     (rbc_limit); magic-2 batches of other topics are stored as they arrive.
 */
#include "storage/storage_int.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

/* xerial snappy-java stream: magic, version, min compatible version, then chunks. */
static const uint8_t XERIAL_MAGIC[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
#define XERIAL_HEADER_SIZE 16
#define XERIAL_BLOCK_SIZE  (32 * 1024) /* snappy-java's default block size */
#define GROW_STEP          (64 * 1024)
#define ZSTD_WINDOW_LOG    24 /* largest window a frame may demand (16 MiB) */

/* Room for at least `want` more bytes in out, never beyond max_out in total.
 * @returns the room made (0 when the cap is reached). */
static size_t grow(buf_t *out, size_t start, size_t max_out, size_t want) {
    size_t used = out->len - start;
    if (used >= max_out) {
        return 0;
    }
    size_t room = max_out - used;
    if (want > room) {
        want = room;
    }
    if (out->cap - out->len < want) {
        buf_reserve(out, want);
    }
    size_t avail = out->cap - out->len;
    return avail < room ? avail : room;
}

/* ---------------------------------------------------------------- gzip */

static int gzip_decompress(const uint8_t *in, size_t len, size_t max_out, buf_t *out) {
    size_t start = out->len;
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 15 + 32) != Z_OK) { /* gzip or zlib header, detected */
        return STRATA_ECORRUPT;
    }
    int rc = STRATA_ECORRUPT;
    z.next_in = (Bytef *)(uintptr_t)in;
    size_t in_left = len;
    size_t step = len * 4 > GROW_STEP ? len * 4 : GROW_STEP;
    for (;;) {
        if (z.avail_in == 0) {
            z.avail_in = in_left > UINT32_MAX ? UINT32_MAX : (uInt)in_left;
            in_left -= z.avail_in;
        }
        size_t room = grow(out, start, max_out, step);
        if (room == 0) {
            /* The cap is reached: fine only when the stream ends exactly here. */
            uint8_t probe;
            z.next_out = &probe;
            z.avail_out = 1;
            int zr = inflate(&z, Z_NO_FLUSH);
            rc = (zr == Z_STREAM_END && z.avail_out == 1 && z.avail_in == 0 && in_left == 0)
                     ? 0
                     : (z.avail_out == 0 ? STRATA_ETOO_LARGE : STRATA_ECORRUPT);
            break;
        }
        if (room > UINT32_MAX) {
            room = UINT32_MAX;
        }
        z.next_out = out->data + out->len;
        z.avail_out = (uInt)room;
        int zr = inflate(&z, Z_NO_FLUSH);
        out->len += room - z.avail_out;
        if (zr == Z_STREAM_END) {
            if (z.avail_in == 0 && in_left == 0) {
                rc = 0;
                break;
            }
            if (inflateReset(&z) != Z_OK) { /* another gzip member follows */
                break;
            }
            continue;
        }
        if (zr == Z_BUF_ERROR && z.avail_in == 0 && in_left == 0) {
            break; /* truncated stream */
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            break;
        }
        step *= 2;
    }
    inflateEnd(&z);
    return rc;
}

static int gzip_compress(const uint8_t *in, size_t len, buf_t *out) {
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        return STRATA_EINVAL;
    }
    if (len > UINT32_MAX / 2) {
        deflateEnd(&z);
        return STRATA_ETOO_LARGE;
    }
    size_t bound = deflateBound(&z, (uLong)len) + 32;
    buf_reserve(out, bound);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = out->data + out->len;
    z.avail_out = (uInt)bound;
    int zr = deflate(&z, Z_FINISH);
    if (zr == Z_STREAM_END) {
        out->len += bound - z.avail_out;
    }
    deflateEnd(&z);
    return zr == Z_STREAM_END ? 0 : STRATA_EINVAL;
}

/* ---------------------------------------------------------------- snappy */

/* One raw snappy block, appended after checking its claimed size against the cap. */
static int snappy_block(const uint8_t *in, size_t len, size_t start, size_t max_out, buf_t *out) {
    size_t n;
    if (snappy_uncompressed_length((const char *)in, len, &n) != SNAPPY_OK) {
        return STRATA_ECORRUPT;
    }
    if (n > max_out - (out->len - start)) {
        return STRATA_ETOO_LARGE;
    }
    if (snappy_validate_compressed_buffer((const char *)in, len) != SNAPPY_OK) {
        return STRATA_ECORRUPT;
    }
    if (n == 0) {
        return 0; /* out may have no storage yet: out->data + len would be NULL + 0 */
    }
    buf_reserve(out, n);
    size_t got = n;
    if (snappy_uncompress((const char *)in, len, (char *)out->data + out->len, &got) != SNAPPY_OK ||
        got != n) {
        return STRATA_ECORRUPT;
    }
    out->len += got;
    return 0;
}

static int snappy_decompress(const uint8_t *in, size_t len, size_t max_out, buf_t *out) {
    size_t start = out->len;
    if (len < XERIAL_HEADER_SIZE || memcmp(in, XERIAL_MAGIC, sizeof(XERIAL_MAGIC)) != 0) {
        return snappy_block(in, len, start, max_out, out); /* librdkafka: a raw block */
    }
    size_t pos = XERIAL_HEADER_SIZE; /* version and compatible version are not checked */
    while (pos < len) {
        if (len - pos < 4) {
            return STRATA_ECORRUPT;
        }
        size_t n = be32_get(in + pos);
        pos += 4;
        if (n > len - pos) {
            return STRATA_ECORRUPT;
        }
        int rc = snappy_block(in + pos, n, start, max_out, out);
        if (rc != 0) {
            return rc;
        }
        pos += n;
    }
    return 0;
}

static int snappy_compress_xerial(const uint8_t *in, size_t len, buf_t *out) {
    uint8_t hdr[XERIAL_HEADER_SIZE];
    memcpy(hdr, XERIAL_MAGIC, sizeof(XERIAL_MAGIC));
    be32_put(hdr + 8, 1);  /* version */
    be32_put(hdr + 12, 1); /* minimum compatible version */
    buf_append(out, hdr, sizeof(hdr));
    for (size_t pos = 0; pos < len;) {
        size_t n = len - pos > XERIAL_BLOCK_SIZE ? XERIAL_BLOCK_SIZE : len - pos;
        size_t clen = snappy_max_compressed_length(n);
        size_t at = out->len;
        buf_extend(out, 4);
        buf_reserve(out, clen);
        if (snappy_compress((const char *)in + pos, n, (char *)out->data + out->len, &clen) !=
            SNAPPY_OK) {
            return STRATA_EINVAL;
        }
        be32_put(out->data + at, (uint32_t)clen);
        out->len += clen;
        pos += n;
    }
    return 0;
}

/* ---------------------------------------------------------------- lz4 */

static int lz4_decompress(const uint8_t *in, size_t len, size_t max_out, buf_t *out) {
    size_t start = out->len;
    LZ4F_dctx *dctx;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) {
        return STRATA_ECORRUPT;
    }
    int rc = STRATA_ECORRUPT;
    size_t pos = 0, hint = 1;
    size_t step = len * 4 > GROW_STEP ? len * 4 : GROW_STEP;
    while (pos < len || hint != 0) {
        uint8_t probe; /* at the cap: any further output is one byte too many */
        size_t room = grow(out, start, max_out, step);
        uint8_t *dst_p = room ? out->data + out->len : &probe;
        size_t dst = room ? room : 1, src = len - pos;
        hint = LZ4F_decompress(dctx, dst_p, &dst, in + pos, &src, NULL);
        if (LZ4F_isError(hint)) {
            goto done;
        }
        if (room == 0 && dst > 0) {
            rc = STRATA_ETOO_LARGE;
            goto done;
        }
        out->len += dst;
        pos += src;
        if (src == 0 && dst == 0) {
            goto done; /* no progress: a truncated frame */
        }
        if (room > 0 && dst == room) {
            step *= 2;
        }
    }
    rc = 0;
done:
    LZ4F_freeDecompressionContext(dctx);
    return rc;
}

static int lz4_compress(const uint8_t *in, size_t len, buf_t *out) {
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof(prefs));
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent; /* the Java client reads no other */
    size_t bound = LZ4F_compressFrameBound(len, &prefs);
    buf_reserve(out, bound);
    size_t n = LZ4F_compressFrame(out->data + out->len, bound, in, len, &prefs);
    if (LZ4F_isError(n)) {
        return STRATA_EINVAL;
    }
    out->len += n;
    return 0;
}

/* ---------------------------------------------------------------- zstd */

static int zstd_decompress(const uint8_t *in, size_t len, size_t max_out, buf_t *out) {
    size_t start = out->len;
    unsigned long long claimed = ZSTD_getFrameContentSize(in, len);
    if (claimed == ZSTD_CONTENTSIZE_ERROR) {
        return STRATA_ECORRUPT;
    }
    if (claimed != ZSTD_CONTENTSIZE_UNKNOWN && claimed > max_out) {
        return STRATA_ETOO_LARGE;
    }
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d) {
        return STRATA_ECORRUPT;
    }
    int rc = STRATA_ECORRUPT;
    ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG);
    ZSTD_inBuffer ib = {in, len, 0};
    size_t step = claimed != ZSTD_CONTENTSIZE_UNKNOWN && claimed > 0 ? (size_t)claimed : len * 4;
    if (step < GROW_STEP) {
        step = GROW_STEP;
    }
    size_t hint = 1;
    for (;;) {
        size_t room = grow(out, start, max_out, step);
        if (room == 0) {
            if (hint == 0 && ib.pos == ib.size) {
                rc = 0;
            } else {
                /* Exactly at the cap: done only if nothing more comes out. */
                uint8_t probe;
                ZSTD_outBuffer pb = {&probe, 1, 0};
                size_t r = ZSTD_decompressStream(d, &pb, &ib);
                rc = ZSTD_isError(r)               ? STRATA_ECORRUPT
                     : pb.pos > 0                  ? STRATA_ETOO_LARGE
                     : r == 0 && ib.pos == ib.size ? 0
                                                   : STRATA_ECORRUPT;
            }
            break;
        }
        ZSTD_outBuffer ob = {out->data + out->len, room, 0};
        size_t in_before = ib.pos;
        hint = ZSTD_decompressStream(d, &ob, &ib);
        if (ZSTD_isError(hint)) {
            break;
        }
        out->len += ob.pos;
        if (hint == 0 && ib.pos == ib.size) {
            rc = 0; /* the last frame is complete */
            break;
        }
        if (ob.pos == 0 && ib.pos == in_before) {
            break; /* truncated: no progress without more input */
        }
        if (ob.pos == room) {
            step *= 2;
        }
    }
    ZSTD_freeDCtx(d);
    return rc;
}

static int zstd_compress(const uint8_t *in, size_t len, buf_t *out) {
    size_t bound = ZSTD_compressBound(len);
    buf_reserve(out, bound);
    size_t n = ZSTD_compress(out->data + out->len, bound, in, len, 3);
    if (ZSTD_isError(n)) {
        return STRATA_EINVAL;
    }
    out->len += n;
    return 0;
}

/* ---------------------------------------------------------------- codecs */

const char *rbc_codec_name(int codec) {
    switch (codec) {
    case RBC_NONE:
        return "none";
    case RBC_GZIP:
        return "gzip";
    case RBC_SNAPPY:
        return "snappy";
    case RBC_LZ4:
        return "lz4";
    case RBC_ZSTD:
        return "zstd";
    default:
        return "unknown";
    }
}

int rbc_decompress(int codec, const uint8_t *in, size_t len, size_t max_out, buf_t *out) {
    size_t start = out->len;
    int rc;
    switch (codec) {
    case RBC_NONE:
        if (len > max_out) {
            return STRATA_ETOO_LARGE;
        }
        buf_append(out, in, len);
        return 0;
    case RBC_GZIP:
        rc = gzip_decompress(in, len, max_out, out);
        break;
    case RBC_SNAPPY:
        rc = snappy_decompress(in, len, max_out, out);
        break;
    case RBC_LZ4:
        rc = lz4_decompress(in, len, max_out, out);
        break;
    case RBC_ZSTD:
        rc = zstd_decompress(in, len, max_out, out);
        break;
    default:
        return STRATA_EINVAL;
    }
    if (rc != 0) {
        out->len = start;
    }
    return rc;
}

int rbc_compress(int codec, const uint8_t *in, size_t len, buf_t *out) {
    size_t start = out->len;
    int rc;
    switch (codec) {
    case RBC_NONE:
        buf_append(out, in, len);
        return 0;
    case RBC_GZIP:
        rc = gzip_compress(in, len, out);
        break;
    case RBC_SNAPPY:
        rc = snappy_compress_xerial(in, len, out);
        break;
    case RBC_LZ4:
        rc = lz4_compress(in, len, out);
        break;
    case RBC_ZSTD:
        rc = zstd_compress(in, len, out);
        break;
    default:
        return STRATA_EINVAL;
    }
    if (rc != 0) {
        out->len = start;
    }
    return rc;
}

size_t rbc_limit(int32_t max_message_bytes) {
    size_t cap = max_message_bytes > 0 ? (size_t)max_message_bytes * RBC_LIMIT_FACTOR : 0;
    if (cap < RBC_LIMIT_MIN) {
        cap = RBC_LIMIT_MIN;
    }
    return cap > RBC_LIMIT_MAX ? RBC_LIMIT_MAX : cap;
}

/* ---------------------------------------------------------------- batches */

/* Header checks shared by the batch helpers: whole batch, magic 2. */
static int batch_header(const uint8_t *batch, size_t len, rb_header_t *h) {
    if (len < RB_HEADER_SIZE) {
        return STRATA_ECORRUPT;
    }
    rb_read_header(batch, h);
    if (h->magic != 2 || h->length < RB_HEADER_SIZE - 12 || (size_t)h->length + 12 > len) {
        return STRATA_ECORRUPT;
    }
    return 0;
}

int rbc_batch_records(const uint8_t *batch, size_t len, size_t max_out, buf_t *scratch,
                      const uint8_t **records, size_t *records_len) {
    rb_header_t h;
    int rc = batch_header(batch, len, &h);
    if (rc != 0) {
        return rc;
    }
    const uint8_t *p = batch + RB_HEADER_SIZE;
    size_t n = (size_t)h.length + 12 - RB_HEADER_SIZE;
    int codec = h.attributes & RB_ATTR_COMPRESSION;
    if (codec == RBC_NONE) {
        *records = p;
        *records_len = n;
        return 0;
    }
    buf_reset(scratch);
    rc = rbc_decompress(codec, p, n, max_out, scratch);
    if (rc != 0) {
        return rc;
    }
    static const uint8_t empty[1];
    /* never NULL (an empty buf has no storage): callers compute records + len */
    *records = scratch->len > 0 ? scratch->data : empty;
    *records_len = scratch->len;
    return 0;
}

int rbc_batch_recode(const uint8_t *batch, size_t len, int codec, size_t max_out, buf_t *out) {
    rb_header_t h;
    if (codec < RBC_NONE || codec > RBC_ZSTD) {
        return STRATA_EINVAL;
    }
    int rc = batch_header(batch, len, &h);
    if (rc != 0) {
        return rc;
    }
    buf_t tmp = BUF_INIT;
    const uint8_t *rec;
    size_t rec_len;
    size_t start = out->len;
    rc = rbc_batch_records(batch, len, max_out, &tmp, &rec, &rec_len);
    if (rc != 0) {
        goto done;
    }
    buf_append(out, batch, RB_HEADER_SIZE);
    rc = rbc_compress(codec, rec, rec_len, out);
    if (rc != 0) {
        out->len = start;
        goto done;
    }
    size_t total = out->len - start;
    if (total - 12 > INT32_MAX) {
        out->len = start;
        rc = STRATA_ETOO_LARGE;
        goto done;
    }
    uint8_t *b = out->data + start;
    be32_put(b + RB_OFF_LENGTH, (uint32_t)(total - 12));
    uint16_t attrs = (uint16_t)((be16_get(b + RB_OFF_ATTRIBUTES) & ~RB_ATTR_COMPRESSION) | codec);
    be16_put(b + RB_OFF_ATTRIBUTES, attrs);
    be32_put(b + RB_OFF_CRC, crc32c(0, b + RB_OFF_ATTRIBUTES, total - RB_OFF_ATTRIBUTES));
done:
    buf_destroy(&tmp);
    return rc;
}

int rbc_find_record_by_time(const uint8_t *batch, size_t len, int64_t ts, size_t max_out,
                            buf_t *scratch, int64_t *offset_out, int64_t *ts_out) {
    rb_header_t h;
    int rc = batch_header(batch, len, &h);
    if (rc != 0) {
        return rc;
    }
    const uint8_t *rec;
    size_t rec_len;
    rc = rbc_batch_records(batch, len, max_out, scratch, &rec, &rec_len);
    if (rc != 0) {
        return rc;
    }
    return rb_find_in_records(&h, rec, rec_len, ts, INT64_MIN, offset_out, ts_out);
}
