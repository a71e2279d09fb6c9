#!/usr/bin/env python3
"""Fetches of log data that is not in the page cache (issue 4, "the loop never blocks"): the
broker reads such ranges into the page cache on its executor before it answers, instead of letting
sendfile wait on the disk on the event loop. The test writes a topic, pushes its segment files out
of the page cache (fsync + POSIX_FADV_DONTNEED, checked with cachestat(2)), and then:

  cold_read       kcat reads everything back, contents and offsets intact, and the broker says
                  (debug log) that it loaded cold data off the loop;
  client_leaves   a raw Fetch of cold data whose connection closes at once: the broker completes
                  the orphaned request when the load ends, keeps serving, and the data is intact.

Skipped (exit 77) on a kernel without cachestat(2) (Linux < 6.5), where the broker cannot tell
cold data from cached and serves everything as before, and where the temporary directory is on
tmpfs (its pages cannot be dropped).
"""

import ctypes
import glob
import os
import sys
import tempfile

os.environ["STRATA_LOG_LEVEL"] = "debug"  # the broker inherits it: the cold-fetch log line

import harness as h  # noqa: E402
import kafka_wire as kw  # noqa: E402
from harness import check  # noqa: E402

TOPIC = "cold"
PARTITIONS = 2
MESSAGES = 20000
LOADED_LINE = "not in the page cache; reading it off the loop first"
SYS_CACHESTAT = 451

_libc = ctypes.CDLL(None, use_errno=True)


class _Range(ctypes.Structure):
    _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]


class _CacheStat(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in
                ("nr_cache", "nr_dirty", "nr_writeback", "nr_evicted", "nr_recently_evicted")]


def cached_pages(path):
    """Pages of the file in the page cache, or None when the kernel has no cachestat(2)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        rng = _Range(0, os.fstat(fd).st_size)
        cs = _CacheStat()
        rc = _libc.syscall(ctypes.c_long(SYS_CACHESTAT), ctypes.c_int(fd), ctypes.byref(rng),
                           ctypes.byref(cs), ctypes.c_uint(0))
        return None if rc != 0 else cs.nr_cache
    finally:
        os.close(fd)


def segment_files(b):
    return sorted(glob.glob(os.path.join(b.data_dir, "%s-*" % TOPIC, "*.log")))


def evict(b):
    """Writes the topic's segments to disk and drops them from the page cache, until cachestat
    shows none of their pages cached (a load the broker started for an earlier fetch may still
    be bringing some back in)."""
    files = segment_files(b)
    check(len(files) >= PARTITIONS, "the topic has a segment file per partition", PARTITIONS,
          files)

    def attempt():
        for path in files:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)  # dirty pages cannot be dropped
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
        cached = {os.path.basename(os.path.dirname(p)): cached_pages(p) for p in files}
        return all(n == 0 for n in cached.values()) or None

    h.poll("the segment files out of the page cache", attempt, 10.0,
           describe=lambda: {p: cached_pages(p) for p in files})


def fetch_v4(topic, partition, offset, max_bytes=1 << 20):
    body = (kw.i32(-1) + kw.i32(0) + kw.i32(1) + kw.i32(max_bytes) + kw.i8(0) +
            kw.array([topic], lambda t: kw.string(t) + kw.array(
                [partition], lambda p: kw.i32(p) + kw.i64(offset) + kw.i32(max_bytes))))
    return kw.request(1, 4, 11, body)


def write_topic(b):
    b.create_topic(TOPIC, PARTITIONS)
    lines = [b"k%d\tcold-%05d-%s" % (i % 5, i, b"x" * 80) for i in range(MESSAGES)]
    h.kcat_produce(b, TOPIC, lines, key_delim="\t")
    return sorted(l.split(b"\t", 1)[1] for l in lines)


def read_back(b):
    values, offsets_ok = [], True
    for p in range(PARTITIONS):
        rows = h.kcat_consume(b, TOPIC, partition=p, fmt="%o\\t%s\\n")
        offs = [int(r.split(b"\t", 1)[0]) for r in rows]
        offsets_ok &= offs == list(range(len(offs)))
        values += [r.split(b"\t", 1)[1] for r in rows]
    return sorted(values), offsets_ok


def log_count(b):
    return b.log_tail(1000000).count(LOADED_LINE)


def case_cold_read():
    with h.Broker(name="cold-read") as b:
        sent = write_topic(b)
        before = log_count(b)
        evict(b)
        got, offsets_ok = read_back(b)
        check(got == sent, "every message is read back from the cold segments",
              "%d messages" % len(sent), "%d messages" % len(got))
        check(offsets_ok, "offsets are contiguous from 0 in each partition", True, offsets_ok)
        check(log_count(b) > before, "the broker loaded the cold data off the loop (debug log)",
              LOADED_LINE, b.log_tail(10))


def case_client_leaves():
    with h.Broker(name="cold-leave") as b:
        sent = write_topic(b)
        for _ in range(3):
            evict(b)
            with b.conn() as c:
                for p in range(PARTITIONS):
                    c.send(fetch_v4(TOPIC, p, 0))
            # closed at once, while the broker may still be loading the range
        h.assert_served(b, "after clients left during cold fetches")
        got, offsets_ok = read_back(b)
        check(got == sent and offsets_ok, "the topic reads back intact afterwards",
              "%d messages" % len(sent), "%d messages" % len(got))


CASES = [(name[5:], fn) for name, fn in list(globals().items()) if name.startswith("case_")]

def page_cache_droppable():
    """Whether this kernel has cachestat(2) and files in the temporary directory (where the
    brokers' data directories go) can be pushed out of the page cache (not so on tmpfs)."""
    with tempfile.NamedTemporaryFile(prefix="strata-it-cachestat-") as probe:
        probe.write(b"x" * 8192)
        probe.flush()
        os.fsync(probe.fileno())
        os.posix_fadvise(probe.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        return cached_pages(probe.name) == 0


if __name__ == "__main__":
    if not page_cache_droppable():
        print("skip: no cachestat(2) (Linux >= 6.5), or the temporary directory's page cache "
              "cannot be dropped (tmpfs)", flush=True)
        sys.exit(77)
    h.run_cases(CASES)
