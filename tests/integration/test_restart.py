#!/usr/bin/env python3
"""Restarts between produce and consume lose nothing (issue 4): a clean stop (SIGTERM, exit 0)
and a kill -9 after acks=all (standalone: acknowledged = written to the log; the page cache
outlives the process), each followed by a restart on the same data directory and a full read-back
with kcat. Topics and their partition counts survive too.
"""

import signal

import harness as h
from harness import check


def produce_batch(b, tag, n):
    msgs = [b"%s-%05d" % (tag, i) for i in range(n)]
    h.kcat_produce(b, "durable", [b"k%d\t%s" % (i % 7, m) for i, m in enumerate(msgs)],
                   key_delim="\t")
    return msgs


def read_all(b):
    out = []
    for p in range(2):
        out += h.kcat_consume(b, "durable", partition=p, fmt="%s\\n")
    return sorted(out)


def case_sigterm_then_kill9_restart():
    with h.Broker(name="restart") as b:
        b.create_topic("durable", 2)
        sent = produce_batch(b, b"before-term", 20000)
        check(read_all(b) == sorted(sent), "all messages readable before the restart",
              len(sent), len(read_all(b)))

        rc = b.stop()
        check(rc == 0, "broker exits 0 on SIGTERM", 0, rc)
        b.start(keep_port=True)
        # The broker answers as soon as it listens, before its partitions have leaders again
        # (reported: Kafka only opens its listener after start-up); wait for them.
        b.wait_leaders("durable", 2)
        got = read_all(b)
        check(got == sorted(sent), "after SIGTERM + restart, every acknowledged message is read",
              "%d messages" % len(sent), "%d messages" % len(got))
        md = b.metadata(["durable"])
        check(len(md["topics"][0]["partitions"]) == 2, "topic keeps 2 partitions after restart",
              2, md["topics"])

        sent += produce_batch(b, b"before-kill", 20000)
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait()
        b.start(keep_port=True)
        b.wait_leaders("durable", 2)
        got = read_all(b)
        check(got == sorted(sent), "after kill -9 + restart, every acknowledged message is read",
              "%d messages" % len(sent), "%d messages (missing e.g. %s)" %
              (len(got), sorted(set(sent) - set(got))[:3]))

        # The log keeps accepting writes at the right offsets after recovery.
        sent += produce_batch(b, b"after-kill", 1000)
        got = read_all(b)
        check(got == sorted(sent), "writes after recovery are appended and read", len(sent),
              len(got))
        for p in range(2):
            offs = [int(x) for x in h.kcat_consume(b, "durable", partition=p, fmt="%o\\n")]
            check(offs == list(range(len(offs))), "durable-%d offsets contiguous after restarts"
                  % p, "0..n-1", offs[:3] + offs[-3:])
        check(b.stop() == 0, "final SIGTERM exits 0", 0, None)


CASES = [(name[5:], fn) for name, fn in list(globals().items()) if name.startswith("case_")]

if __name__ == "__main__":
    h.run_cases(CASES)
