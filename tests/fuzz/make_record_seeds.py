#!/usr/bin/env python3
"""make_record_seeds.py: writes the seeds of fuzz_records into tests/fuzz/corpus-records/.
A seed is one selector byte (path in bits 0-2, codec in bits 3-5, fix CRCs in bit 7; see
tests/fuzz/fuzz_records.c) followed by the bytes of that path: the librdkafka-compressed
batches of tests/fixtures, uncompressed v2 batches, plain records to be compressed by the
target, legacy message sets (magic 0/1, gzip wrappers) like test_storage_legacy_records.c
builds, and raw codec streams. Deterministic: rerunning rewrites the same files. Seeds the
fuzzer found (crash reproducers) are named repro-* and are not touched by this script."""
import gzip
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus-records")
FIXTURES = os.path.join(HERE, "..", "fixtures")
CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def varint(v):
    v = (v << 1) ^ (v >> 63)  # zigzag
    v &= (1 << 64) - 1
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def vbytes(b):
    return varint(-1) if b is None else varint(len(b)) + b


def record(odelta, tdelta, key, value, headers=()):
    body = b"\x00" + varint(tdelta) + varint(odelta) + vbytes(key) + vbytes(value)
    body += varint(len(headers))
    for hk, hv in headers:
        body += vbytes(hk) + vbytes(hv)
    return varint(len(body)) + body


def header(base_offset, records_len, count, attrs=0, base_ts=1700000000000, pid=-1):
    """The 61-byte v2 header with the CRC left 0 (batch() fills it in)."""
    length = 61 - 12 + records_len
    return struct.pack(">qiibIhiqqqhii", base_offset, length, -1, 2, 0, attrs,
                       max(count - 1, 0), base_ts, base_ts + count, pid, -1, -1, count)


def batch(base_offset, recs, attrs=0, pid=-1):
    body = b"".join(recs)
    if attrs & 7 == 1:
        body = gzip.compress(body, mtime=0)
    h = bytearray(header(base_offset, len(body), len(recs), attrs, pid=pid) + body)
    struct.pack_into(">I", h, 17, crc32c(bytes(h[21:])))
    return bytes(h)


def legacy_msg(offset, magic, attr, ts, key, value):
    m = bytes([magic, attr])
    if magic == 1:
        m += struct.pack(">q", ts)
    m += struct.pack(">i", -1) if key is None else struct.pack(">i", len(key)) + key
    m += struct.pack(">i", -1) if value is None else struct.pack(">i", len(value)) + value
    m = struct.pack(">I", zlib.crc32(m)) + m
    return struct.pack(">qi", offset, len(m)) + m


def sel(mode, codec=0, fix=False):
    return bytes([mode | (codec << 3) | (0x80 if fix else 0)])


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        if not name.startswith("repro-"):
            os.remove(os.path.join(OUT, name))
    seeds = {}

    fixtures = {}
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        with open(os.path.join(FIXTURES, "librdkafka-%s.batch" % codec), "rb") as f:
            fixtures[codec] = f.read()
    for codec, b in fixtures.items():
        c = CODECS[codec]
        seeds["chain_librdkafka_%s" % codec] = sel(0, (c + 1) % 5) + b
        seeds["time_librdkafka_%s" % codec] = sel(5) + struct.pack(">q", 1700000000010) + b
        seeds["recode_librdkafka_%s_none" % codec] = sel(6, 0) + b
        seeds["decompress_librdkafka_%s" % codec] = sel(2, c) + b[61:]

    recs = [record(i, i * 3, b"k%d" % (i % 3), b"value-%d" % i) for i in range(5)]
    plain = batch(0, recs)
    seeds["chain_plain_5"] = sel(0, 1) + plain
    seeds["chain_plain_two_batches"] = sel(0, 3) + plain + batch(5, recs[:2])
    seeds["chain_null_key_and_tombstone"] = sel(0, 2) + batch(
        0, [record(0, 0, None, b"v"), record(1, 1, b"k", None)])
    seeds["chain_headers"] = sel(0, 4) + batch(
        0, [record(0, 0, b"k", b"v", [(b"h1", b"x"), (b"h2", None)])])
    seeds["chain_control_txn"] = sel(0) + batch(
        0, [record(0, 0, b"\x00\x00\x00\x00", b"\x00\x00\x00\x00\x00\x00")], attrs=0x30, pid=7)
    seeds["chain_empty_batch"] = sel(0) + batch(0, [])
    seeds["chain_bad_crc_fixed"] = sel(0, fix=True) + plain[:17] + b"\0\0\0\0" + plain[21:]
    seeds["time_plain"] = sel(5) + struct.pack(">q", 1700000000006) + plain
    seeds["recode_plain_gzip"] = sel(6, 1) + plain
    seeds["recode_plain_zstd"] = sel(6, 4) + plain
    # the cleaner (path 7): keys repeated across batches and segments, tombstones, a
    # compressed batch, a transactional batch and its commit marker
    def keyed(n, key_mod, tomb=-1):
        return [record(i, i, b"key%d" % (i % key_mod), None if i == tomb else b"v%d" % i)
                for i in range(n)]
    seeds["clean_dups_three_batches"] = sel(7) + b"".join(
        batch(0, keyed(6, 3)) for _ in range(3))
    seeds["clean_tombstone_and_nulls"] = sel(7) + batch(0, keyed(4, 2, tomb=3)) + batch(
        0, [record(0, 0, None, b"x"), record(1, 0, b"key1", b"y")])
    seeds["clean_gzip_batches"] = sel(7) + batch(0, keyed(8, 3), attrs=1) + batch(
        0, keyed(5, 2), attrs=1)
    seeds["clean_txn_and_marker"] = sel(7) + batch(0, keyed(3, 3), attrs=0x10, pid=9) + batch(
        0, [record(0, 0, b"\x00\x00\x00\x01", b"\x00\x00\x00\x00\x00\x00")],
        attrs=0x30, pid=9) + batch(0, keyed(3, 3))
    seeds["clean_librdkafka_gzip_lz4"] = sel(7) + fixtures["gzip"] + fixtures["lz4"]

    body = b"".join(recs)
    for codec, c in CODECS.items():
        seeds["built_%s" % codec] = sel(1, c) + header(0, 0, len(recs)) + body

    text = b"".join(b"record %02d " % i + b"xyz" * i for i in range(20))
    seeds["decompress_gzip"] = sel(2, 1) + gzip.compress(text, mtime=0)
    seeds["decompress_zlib"] = sel(2, 1) + zlib.compress(text)
    seeds["decompress_gzip_two_members"] = sel(2, 1) + gzip.compress(
        b"one", mtime=0) + gzip.compress(b"two", mtime=0)
    seeds["decompress_none"] = sel(2, 0) + text

    v0 = legacy_msg(0, 0, 0, -1, None, b"a") + legacy_msg(1, 0, 0, -1, b"k", b"bb")
    v1 = (legacy_msg(0, 1, 0, 1700000000000, b"k1", b"v1") +
          legacy_msg(1, 1, 0, 1700000000001, None, None) +
          legacy_msg(2, 1, 0, 1700000000002, b"k3", b""))
    seeds["legacy_v0"] = sel(3) + v0
    seeds["legacy_v1"] = sel(3) + v1
    seeds["legacy_v1_crc_fixed"] = sel(3, fix=True) + v1[:12] + b"\0\0\0\0" + v1[16:]
    seeds["legacy_v0_gzip_wrapper"] = sel(3) + legacy_msg(
        0, 0, 1, -1, None, gzip.compress(v0, mtime=0))
    seeds["legacy_v1_gzip_wrapper_logtime"] = sel(3) + legacy_msg(
        2, 1, 1 | 0x08, 1700000009999, None, gzip.compress(v1, mtime=0))
    for codec, c in CODECS.items():  # the target wraps these (codec 0 = zstd, refused)
        seeds["wrap_v0_%s" % codec] = sel(4, c) + b"\x00" + v0
        seeds["wrap_v1_%s" % codec] = sel(4, c) + b"\x01" + v1
    seeds["wrap_v1_logtime_gzip"] = sel(4, 1) + b"\x03" + v1

    total = 0
    for name, data in sorted(seeds.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        total += len(data)
    print("wrote %d seeds, %d bytes, to %s" % (len(seeds), total, OUT))


if __name__ == "__main__":
    main()
