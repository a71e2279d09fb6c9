#!/usr/bin/env python3
"""Produce v0-2 (legacy MessageSets, magic 0 and 1) end to end.

- librdkafka 2.0.2 (kcat) compresses with gzip, snappy or lz4 only when the broker advertises
  Produce v0: kcat -z gzip|snappy|lz4 batches are stored compressed with that codec (attributes
  read from the segment file) and kcat -C reads every message back.
- librdkafka made to believe the broker is 0.10.0 (api.version.request=false) sends Produce v2
  with its own magic-1 gzip, snappy and lz4 wrappers: stored as v2 batches of that codec, read
  back intact.
- Hand-built requests over a raw socket: Produce v0 with a magic-0 set, v1 with a magic-1 set and
  v2 with a gzip wrapper of magic-1 messages are up-converted to v2 batches (gzip stays gzip) at
  the next offsets; kcat reads keys, values and magic-1 timestamps back.
- Refusals per partition: a bad CRC is CORRUPT_MESSAGE and nothing is written, zstd in a legacy
  wrapper or a zstd v2 batch below Produce v7 UNSUPPORTED_COMPRESSION_TYPE, a legacy set in
  Produce v7 INVALID_RECORD (as Kafka's ProduceRequest.validateRecords); the broker still serves
  kcat afterwards.
"""

import glob
import os
import struct
import zlib

import harness as h
import kafka_wire as kw
from harness import check

CORRUPT_MESSAGE, UNSUPPORTED_COMPRESSION_TYPE, INVALID_RECORD = 2, 76, 87
CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def batches(data_dir, topic):
    """(base offset, record count, magic, codec) of every batch in partition 0's segments."""
    out = []
    for path in sorted(glob.glob(os.path.join(data_dir, "%s-0" % topic, "*.log"))):
        with open(path, "rb") as f:
            data = f.read()
        pos = 0
        while pos + 61 <= len(data):
            base, length = struct.unpack_from(">qi", data, pos)
            magic = data[pos + 16]
            attrs = struct.unpack_from(">h", data, pos + 21)[0]
            count = struct.unpack_from(">i", data, pos + 57)[0]
            out.append((base, count, magic, attrs & 7))
            pos += 12 + length
    return out


def message(offset, magic, key, value, attributes=0, timestamp=None):
    """One legacy message: offset, size, CRC-32 (IEEE) over magic..end, magic, attributes,
    [timestamp], key, value."""
    body = kw.i8(magic) + kw.i8(attributes)
    if magic == 1:
        body += kw.i64(timestamp)
    body += kw.nbytes(key) + kw.nbytes(value)
    msg = struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF) + body
    return kw.i64(offset) + kw.i32(len(msg)) + msg


def gzip_wrapper(magic, inner, timestamp=None):
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    return message(0, magic, None, z.compress(inner) + z.flush(), attributes=CODECS["gzip"],
                   timestamp=timestamp)


def produce_legacy(version, topic_data, acks=-1, timeout_ms=10000):
    """Produce v0-2 body: acks, timeout, [topic, [partition, records]]."""
    def part(p):
        return kw.i32(p[0]) + kw.nbytes(p[1])

    def topic(t):
        return kw.string(t[0]) + kw.array(t[1], part)
    return kw.i16(acks) + kw.i32(timeout_ms) + kw.array(topic_data, topic)


def parse_produce_legacy(version, body):
    """{(topic, partition): (error, base_offset)}; v1+ end with throttle_time_ms, v2 adds
    log_append_time_ms per partition."""
    r = kw.Reader(body)
    out = {}

    def part(r):
        idx, err, base = r.i32(), r.i16(), r.i64()
        if version >= 2:
            r.i64()
        return idx, err, base

    def topic(r):
        name = r.string()
        for idx, err, base in r.array(part):
            out[(name, idx)] = (err, base)
    r.array(topic)
    if version >= 1:
        r.i32()
    check(r.remaining() == 0, "Produce v%d response fully parsed" % version, 0, r.remaining())
    return out


def call_legacy(b, version, topic, records):
    with b.conn() as c:
        res = parse_produce_legacy(version, c.call(kw.API_PRODUCE, version, produce_legacy(
            version, [(topic, [(0, records)])])))
    return res[(topic, 0)]


def produce_compressed_and_read_back(b, topic, codec, sent, extra, stored_as, read_back):
    """kcat -z codec produces sent (with the extra librdkafka settings) to partition 0 of
    topic; the segment files must hold v2 batches of that codec, some with several records,
    and kcat -C must read every message back in order."""
    b.create_topic(topic, 1)
    h.kcat_produce(b, topic, sent, partition=0,
                   extra=("-z", codec) + extra + ("-X", "linger.ms=100",
                                                  "-X", "batch.num.messages=100000"))
    bs = batches(b.data_dir, topic)
    check(bs and all(m == 2 and c == CODECS[codec] for _o, _n, m, c in bs), stored_as,
          CODECS[codec], bs)
    check(any(n > 1 for _o, n, _m, _c in bs), "a %s batch holds several records" % codec,
          "> 1", bs)
    got = h.kcat_consume(b, topic, partition=0, fmt="%o %s\\n")
    want = [b"%d %s" % (i, v) for i, v in enumerate(sent)]
    check(got == want, read_back, "%d messages" % len(want), got[:3] + [b"..."] + got[-2:])


def case_kcat_gzip_snappy_lz4_stored_compressed():
    with h.Broker(name="kcatcodecs") as b:
        for codec in ("gzip", "snappy", "lz4"):
            sent = [b"%s-%03d-%s" % (codec.encode(), i, b"abcdef" * (i % 11)) for i in range(300)]
            produce_compressed_and_read_back(
                b, "kc-" + codec, codec, sent, (),
                "kcat -z %s batches are stored as %s v2 batches" % (codec, codec),
                "kcat -C reads every %s message back" % codec)


def case_librdkafka_legacy_producer_wrappers():
    """librdkafka told the broker is 0.10.0 (no ApiVersions request) produces with Produce v2 and
    magic-1 compressed wrappers: its own gzip, snappy and lz4 framing goes through the
    up-conversion and is stored as v2 batches of the same codec."""
    with h.Broker(name="rdklegacy") as b:
        for codec in ("gzip", "snappy", "lz4"):
            sent = [b"legacy-%s-%03d-%s" % (codec.encode(), i, b"q" * (i % 23)) for i in range(150)]
            produce_compressed_and_read_back(
                b, "rl-" + codec, codec, sent,
                ("-X", "api.version.request=false", "-X", "broker.version.fallback=0.10.0"),
                "librdkafka's magic-1 %s wrappers stored as %s v2 batches" % (codec, codec),
                "kcat -C reads every legacy %s message back" % codec)


def case_raw_produce_v0_v1_v2_read_back():
    with h.Broker(name="legacyraw") as b:
        b.create_topic("leg", 1)
        # v0: magic 0, uncompressed, a null key and two keyed messages.
        v0 = (message(0, 0, None, b"zero-a") + message(1, 0, b"k1", b"zero-b") +
              message(2, 0, b"k2", b"zero-c"))
        err, base = call_legacy(b, 0, "leg", v0)
        check((err, base) == (0, 0), "Produce v0 (magic 0) accepted at offset 0", (0, 0),
              (kw.err_name(err), base))
        # v1: magic 1, uncompressed, CreateTime timestamps.
        v1 = message(0, 1, b"t", b"one-a", timestamp=1700000000100) + \
            message(1, 1, None, b"one-b", timestamp=1700000000200)
        err, base = call_legacy(b, 1, "leg", v1)
        check((err, base) == (0, 3), "Produce v1 (magic 1) accepted at offset 3", (0, 3),
              (kw.err_name(err), base))
        # v2: a gzip wrapper of four magic-1 messages (relative inner offsets).
        inner = b"".join(message(i, 1, b"g%d" % i, b"gzip-%d-%s" % (i, b"x" * 40),
                                 timestamp=1700000001000 + i) for i in range(4))
        err, base = call_legacy(b, 2, "leg", gzip_wrapper(1, inner, timestamp=1700000001003))
        check((err, base) == (0, 5), "Produce v2 (gzip wrapper) accepted at offset 5", (0, 5),
              (kw.err_name(err), base))

        bs = batches(b.data_dir, "leg")
        want_bs = [(0, 3, 2, 0), (3, 2, 2, 0), (5, 4, 2, 1)]
        check(bs == want_bs, "stored as v2 batches, the gzip one still gzip", want_bs, bs)
        got = h.kcat_consume(b, "leg", partition=0, fmt="%o|%k|%s|%T\\n")
        want = [b"0||zero-a|-1", b"1|k1|zero-b|-1", b"2|k2|zero-c|-1",
                b"3|t|one-a|1700000000100", b"4||one-b|1700000000200"] + \
               [b"%d|g%d|gzip-%d-%s|%d" % (5 + i, i, i, b"x" * 40, 1700000001000 + i)
                for i in range(4)]
        check(got == want, "kcat reads the up-converted messages back", want, got)


def case_legacy_refusals():
    with h.Broker(name="legacybad") as b:
        b.create_topic("bad", 1)
        good = message(0, 1, b"k", b"fine", timestamp=1700000000000)
        err, _ = call_legacy(b, 2, "bad", good)
        check(err == 0, "a good v2 legacy produce first", 0, kw.err_name(err))
        flipped = bytearray(message(0, 1, b"k", b"bad crc", timestamp=1700000000000))
        flipped[-1] ^= 1
        for version in (0, 1, 2):
            err, base = call_legacy(b, version, "bad", good + bytes(flipped))
            check((err, base) == (CORRUPT_MESSAGE, -1),
                  "Produce v%d with a bad CRC: CORRUPT_MESSAGE" % version,
                  (CORRUPT_MESSAGE, -1), (kw.err_name(err), base))
        zstd = message(0, 1, None, b"\x28\xb5\x2f\xfd whatever", attributes=CODECS["zstd"],
                       timestamp=1700000000000)
        err, _ = call_legacy(b, 2, "bad", zstd)
        check(err == UNSUPPORTED_COMPRESSION_TYPE, "zstd in a legacy wrapper",
              "UNSUPPORTED_COMPRESSION_TYPE(76)", kw.err_name(err))
        with b.conn() as c:
            res, _ = kw.parse_produce_v7(c.call(kw.API_PRODUCE, 7, kw.produce_v7(
                -1, 10000, [("bad", [(0, good)])])))
        check(res[("bad", 0)][0] == INVALID_RECORD, "a legacy set in Produce v7: INVALID_RECORD",
              "INVALID_RECORD(87)", kw.err_name(res[("bad", 0)][0]))
        # A v2 batch flagged zstd needs Produce v7 (Kafka's validateRecords).
        zb = bytearray(kw.record_batch([(None, b"zstd?")]))
        zb[22] = (zb[22] & ~7) | CODECS["zstd"]
        zb[17:21] = struct.pack(">I", kw.crc32c(bytes(zb[21:])))
        for version in (2, 5, 6):  # (parse_produce_v7 reads v5+ responses)
            with b.conn() as c:
                body = produce_legacy(version, [("bad", [(0, bytes(zb))])]) if version < 3 else \
                    kw.produce_v7(-1, 10000, [("bad", [(0, bytes(zb))])])
                raw = c.call(kw.API_PRODUCE, version, body)
            err = (parse_produce_legacy(version, raw) if version < 3
                   else kw.parse_produce_v7(raw)[0])[("bad", 0)][0]
            check(err == UNSUPPORTED_COMPRESSION_TYPE, "a zstd v2 batch in Produce v%d" % version,
                  "UNSUPPORTED_COMPRESSION_TYPE(76)", kw.err_name(err))
        check(b.latest_offset("bad", 0) == 1, "nothing written by the refused requests", 1,
              b.latest_offset("bad", 0))
        got = h.kcat_consume(b, "bad", partition=0, fmt="%o|%k|%s\\n")
        check(got == [b"0|k|fine"], "kcat reads only the good message", [b"0|k|fine"], got)
        h.assert_served(b, "after the refused legacy requests")


CASES = [
    ("kcat_gzip_snappy_lz4_stored_compressed", case_kcat_gzip_snappy_lz4_stored_compressed),
    ("librdkafka_legacy_producer_wrappers", case_librdkafka_legacy_producer_wrappers),
    ("raw_produce_v0_v1_v2_read_back", case_raw_produce_v0_v1_v2_read_back),
    ("legacy_refusals", case_legacy_refusals),
]

if __name__ == "__main__":
    h.run_cases(CASES)
