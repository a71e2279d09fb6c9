#!/usr/bin/env python3
"""kcat (librdkafka 2.0.2) against a standalone broker: 100,000 keyed messages produced to a
3-partition topic, then consumed back per partition from offset 0 and compared with what was sent
(every message once, offsets 0..n-1 contiguous, each key in one partition, per-partition order).
Also: auto-created topic via kcat and kcat -L metadata.
"""

import json

import harness as h
from harness import check

N = 100000


def case_keyed_100k_three_partitions():
    with h.Broker(name="kcat") as b:
        b.create_topic("keyed", 3)
        sent = [(b"key-%05d" % (i % 997), b"value-%06d-%s" % (i, b"x" * (i % 50)))
                for i in range(N)]
        h.kcat_produce(b, "keyed", [k + b"\t" + v for k, v in sent], key_delim="\t")
        got = {}
        for p in range(3):
            lines = h.kcat_consume(b, "keyed", partition=p, offset=0)
            got[p] = [tuple(l.split(b"\t")) for l in lines]
            offsets = [int(x[2]) for x in got[p]]
            check(offsets == list(range(len(offsets))), "partition %d offsets contiguous from 0"
                  % p, "0..%d" % (len(offsets) - 1), offsets[:5] + ["..."] + offsets[-5:])
        total = sum(len(v) for v in got.values())
        check(total == N, "messages read back from all partitions", N, total)
        check(all(len(v) > 0 for v in got.values()), "every partition got messages", "> 0 each",
              {p: len(v) for p, v in got.items()})
        key_part = {}
        for p, msgs in got.items():
            for k, _v, _o in msgs:
                check(key_part.setdefault(k, p) == p, "key %r in a single partition" % k, p,
                      key_part[k])
        # Contents: per partition, the sent messages of that partition's keys, in send order.
        for p, msgs in got.items():
            expected = [(k, v) for k, v in sent if key_part.get(k) == p]
            check([(k, v) for k, v, _o in msgs] == expected,
                  "partition %d contents and order equal what was sent" % p,
                  "%d messages" % len(expected), "%d messages, first difference at %s" %
                  (len(msgs), next((i for i, (a, e) in enumerate(zip(msgs, expected))
                                    if a[:2] != e), None)))


def case_auto_create_and_metadata():
    with h.Broker(name="kcat-auto") as b:
        h.kcat_produce(b, "auto", [b"one", b"two", b"three"])
        got = h.kcat_consume(b, "auto", fmt="%s\\n")
        check(got == [b"one", b"two", b"three"], "auto-created topic read back",
              [b"one", b"two", b"three"], got)
        rc, out, err = h.run(["kcat", "-L", "-J", "-b", b.bootstrap])
        check(rc == 0, "kcat -L exits 0", 0, "%d %s" % (rc, err[-500:]))
        md = json.loads(out)
        names = {t["topic"]: t for t in md["topics"]}
        check("auto" in names, "kcat -L lists the topic", "auto", sorted(names))
        check([b_["id"] for b_ in md["brokers"]] == [0], "kcat -L lists broker 0", [0],
              md["brokers"])


def case_offsets_beginning_end_and_middle():
    with h.Broker(name="kcat-offs") as b:
        b.create_topic("offs", 1)
        h.kcat_produce(b, "offs", [b"m%d" % i for i in range(1000)])
        got = h.kcat_consume(b, "offs", partition=0, offset=500, fmt="%o %s\\n")
        check(got[0] == b"500 m500" and len(got) == 500, "kcat -o 500", "500 m500 .. (500)",
              got[:2])
        got = h.kcat_consume(b, "offs", partition=0, offset=-10, fmt="%o %s\\n")
        check(got == [b"%d m%d" % (i, i) for i in range(990, 1000)], "kcat -o -10 (last 10)",
              "990..999", got)


def case_acks_0_1_all():
    with h.Broker(name="kcat-acks") as b:
        b.create_topic("acks", 1)
        sent = []
        for acks in ("0", "1", "-1"):
            msgs = [b"acks%s-%d" % (acks.encode(), i) for i in range(2000)]
            h.kcat_produce(b, "acks", msgs, extra=("-X", "request.required.acks=" + acks))
            sent += msgs
        # acks=0 gets no response at all; anything else would desynchronise the client.
        got = h.kcat_consume(b, "acks", partition=0, fmt="%s\\n")
        check(got == sent, "messages produced with acks 0, 1 and all, read back in order",
              "%d messages" % len(sent), "%d messages" % len(got))


def case_tailing_consumer_woken_by_appends():
    """A consumer waiting at the log end gets new records as they are appended (delayed fetch
    woken by the append), without being restarted."""
    with h.Broker(name="kcat-tail") as b:
        b.create_topic("tail", 1)
        h.kcat_produce(b, "tail", [b"old"])
        cmd = ["kcat", "-C", "-b", b.bootstrap, "-t", "tail", "-p", "0", "-o", "1", "-c", "3",
               "-q", "-f", "%s\\n", "-X", "fetch.wait.max.ms=5000"]
        p = h.subprocess.Popen(cmd, stdout=h.subprocess.PIPE, stderr=h.subprocess.PIPE)
        try:
            # Wait until the consumer is connected and fetching at the end (a fetch session
            # shows as an open connection from kcat), then append.
            deadline = h.time.monotonic() + 20
            while h.time.monotonic() < deadline and p.poll() is None:
                try:
                    out = h.subprocess.run(["ss", "-Htn", "state", "established", "dport", "=",
                                            ":%d" % b.port], stdout=h.subprocess.PIPE).stdout
                except OSError:  # no iproute2: append right away (the test still holds)
                    break
                if out.strip():
                    break
                h.time.sleep(0.05)  # poll interval, bounded by the deadline
            h.kcat_produce(b, "tail", [b"new-1", b"new-2", b"new-3"])
            out, err = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        check(out.split(b"\n")[:-1] == [b"new-1", b"new-2", b"new-3"],
              "tailing kcat receives the appended records", [b"new-1", b"new-2", b"new-3"],
              (out, err[-500:]))


CASES = [(name[5:], fn) for name, fn in list(globals().items()) if name.startswith("case_")]

if __name__ == "__main__":
    h.run_cases(CASES)
