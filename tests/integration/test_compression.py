#!/usr/bin/env python3
"""Compressed record batches end to end.

- A gzip batch built here (20 records, timestamps 10 ms apart) is produced over the wire; kcat
  (librdkafka) reads it back intact, and ListOffsets by timestamp through kcat -Q answers the exact
  record inside the batch, not the batch's first offset.
- kcat -z zstd produces a zstd batch: it is stored compressed (checked in the segment file), read
  back intact, and kcat -Q finds its records.

kcat -z gzip|snappy|lz4 are in test_legacy_produce.py: librdkafka 2.0.2 compresses with them only
when the broker advertises Produce v0, which Strata does since it implements v0-2; the storage
unit tests cover every codec (tests/unit/test_storage_compression.c).
"""

import glob
import os
import struct
import zlib

import harness as h
import kafka_wire as kw
from harness import check

BASE_TS = 1700000000000


def batches(data_dir, topic):
    """(base offset, record count, codec) of every batch in partition 0's segment files."""
    out = []
    for path in sorted(glob.glob(os.path.join(data_dir, "%s-0" % topic, "*.log"))):
        with open(path, "rb") as f:
            data = f.read()
        pos = 0
        while pos + 61 <= len(data):
            base, length = struct.unpack_from(">qi", data, pos)
            attrs = struct.unpack_from(">h", data, pos + 21)[0]
            count = struct.unpack_from(">i", data, pos + 57)[0]
            out.append((base, count, attrs & 7))
            pos += 12 + length
    return out


def gzip_batch(values, base_ts, step):
    """A magic-2 batch whose records (timestamps base_ts + i*step) are gzip-compressed."""
    recs = b"".join(kw.record(i, b"k%d" % i, v, timestamp_delta=i * step)
                    for i, v in enumerate(values))
    z = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip framing, as the Java client writes
    body = z.compress(recs) + z.flush()
    n = len(values)
    after_crc = (kw.i16(1) + kw.i32(n - 1) + kw.i64(base_ts) + kw.i64(base_ts + (n - 1) * step) +
                 kw.i64(-1) + kw.i16(-1) + kw.i32(-1) + kw.i32(n) + body)
    rest = kw.i32(0) + kw.i8(2) + struct.pack(">I", kw.crc32c(after_crc)) + after_crc
    return kw.i64(0) + kw.i32(len(rest)) + rest


def query(b, topic, ts):
    """kcat -Q: the offset ListOffsets answers for ts (-1 when none)."""
    rc, out, err = h.run(["kcat", "-Q", "-b", b.bootstrap, "-t", "%s:0:%d" % (topic, ts)])
    check(rc == 0, "kcat -Q %s:0:%d exits 0" % (topic, ts), "rc 0", "rc %d: %s" % (rc, err[-800:]))
    words = out.decode().split()  # "<topic> [0]  offset <n>"
    check("offset" in words, "kcat -Q prints an offset", "... offset N", out)
    return int(words[words.index("offset") + 1])


def case_gzip_time_lookup_is_record_exact():
    with h.Broker(name="gzip") as b:
        b.create_topic("gz", 1)
        # A plain batch first, so the gzip batch does not start at offset 0.
        plain = kw.record_batch([(None, b"plain-%d" % i) for i in range(5)],
                                base_timestamp=BASE_TS - 1000)
        values = [b"gzip-value-%02d-%s" % (i, b"x" * i) for i in range(20)]
        with b.conn() as c:
            for batch in (plain, gzip_batch(values, BASE_TS, 10)):
                res, _ = kw.parse_produce_v7(c.call(kw.API_PRODUCE, 7, kw.produce_v7(
                    -1, 10000, [("gz", [(0, batch)])])))
                check(res[("gz", 0)][0] == 0, "produce accepted", 0, res)
        bs = batches(b.data_dir, "gz")
        check([(o, n, c) for o, n, c in bs] == [(0, 5, 0), (5, 20, 1)],
              "stored as sent: a plain batch, then a gzip one", [(0, 5, 0), (5, 20, 1)], bs)
        got = h.kcat_consume(b, "gz", partition=0, fmt="%o %T %s\\n")
        want = [b"%d %d plain-%d" % (i, BASE_TS - 1000, i) for i in range(5)] + \
               [b"%d %d %s" % (5 + i, BASE_TS + 10 * i, v) for i, v in enumerate(values)]
        check(got == want, "kcat reads the gzip batch back (offsets, timestamps, values)",
              want[4:7], got[4:7])
        for ts, off in [(BASE_TS - 2000, 0), (BASE_TS, 5), (BASE_TS + 1, 6), (BASE_TS + 10, 6),
                        (BASE_TS + 95, 15), (BASE_TS + 190, 24), (BASE_TS + 191, -1)]:
            got_off = query(b, "gz", ts)
            check(got_off == off, "ListOffsets(ts=BASE%+d) inside the gzip batch" % (ts - BASE_TS),
                  off, got_off)


def case_kcat_zstd_stored_compressed_and_found():
    with h.Broker(name="zstd") as b:
        b.create_topic("zs", 1)
        sent = [b"zstd-%03d-%s" % (i, b"abc" * (i % 17)) for i in range(200)]
        h.kcat_produce(b, "zs", sent, partition=0,
                       extra=("-z", "zstd", "-X", "linger.ms=100",
                              "-X", "batch.num.messages=100000"))
        bs = batches(b.data_dir, "zs")
        check(bs and all(c == 4 for _o, _n, c in bs), "kcat's batches are stored zstd", 4, bs)
        check(any(n > 1 for _o, n, _c in bs), "a zstd batch holds several records", "> 1", bs)
        got = h.kcat_consume(b, "zs", partition=0, fmt="%o %T %s\\n")
        rows = [l.split(b" ", 2) for l in got]
        check([r[2] for r in rows] == sent, "zstd records read back intact", len(sent), len(rows))
        stamps = [int(r[1]) for r in rows]
        # The first record with each new timestamp is the answer for it.
        firsts = [0] + [i for i in range(1, len(stamps)) if stamps[i] > max(stamps[:i])]
        for i in firsts[:: max(1, len(firsts) // 4)][:5]:
            off = query(b, "zs", stamps[i])
            check(off == i, "ListOffsets(ts=%d) in zstd batches" % stamps[i], i, off)
        check(query(b, "zs", max(stamps) + 1) == -1, "a timestamp past every record finds none",
              -1, "an offset")


CASES = [
    ("gzip_time_lookup_is_record_exact", case_gzip_time_lookup_is_record_exact),
    ("kcat_zstd_stored_compressed_and_found", case_kcat_zstd_stored_compressed_and_found),
]

if __name__ == "__main__":
    h.run_cases(CASES)
