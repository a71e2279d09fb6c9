#!/usr/bin/env python3
"""The `strata` CLI against a standalone broker (issue 4, "The CLI"): topics --create, --list,
--describe (kafka-topics.sh's output format), --alter, --delete, --if-not-exists, errors naming
the Kafka error; produce (lines from stdin, --key-separator) and consume (--from-beginning,
--partition/--offset, --max-messages); --help and usage errors. Output is checked, and what the
CLI wrote is cross-checked with kcat.
"""

import base64
import re

import harness as h
import kafka_wire as kw
from harness import check

UNKNOWN_TOPIC_ID = 100


def cli(*args, input_bytes=None, expect_rc=0):
    cmd = [h.env_path("STRATA_CLI")] + [str(a) for a in args]
    rc, out, err = h.run(cmd, input_bytes)
    out = out.decode(errors="replace")
    if expect_rc == 0:
        check(rc == 0, "`strata %s` exits 0" % " ".join(cmd[1:]), 0,
              "%d; stdout: %s; stderr: %s" % (rc, out[-800:], err[-800:]))
    elif expect_rc == "nonzero":
        check(rc != 0, "`strata %s` exits non-zero" % " ".join(cmd[1:]), "non-zero",
              "0; stdout: %s" % out[-800:])
    return rc, out, err


# kafka-topics.sh prints "TopicId: <id>" after the name (the Uuid as 22 characters of url-safe
# base64 without padding); the broker answers Metadata v10+ so Strata prints it too. The regex
# keeps it optional so a missing id fails on the explicit check below, naming what is wrong.
TOPIC_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
DESCRIBE_TOPIC = re.compile(r"^Topic:\s*(\S+)\s+(?:TopicId:\s*(\S+)\s+)?PartitionCount:\s*(\d+)\s+"
                            r"ReplicationFactor:\s*(\d+)\s+Configs:\s*(.*)$")
DESCRIBE_PART = re.compile(r"^\s*Topic:\s*(\S+)\s+Partition:\s*(\d+)\s+Leader:\s*(-?\d+)\s+"
                           r"Replicas:\s*([\d,]+)\s+Isr:\s*([\d,]*)\s*$")


def describe(b, topic=None):
    args = ["topics", "--bootstrap-server", b.bootstrap, "--describe"]
    if topic:
        args += ["--topic", topic]
    _rc, out, _err = cli(*args)
    topics = {}
    for line in out.splitlines():
        if not line.strip():
            continue
        m = DESCRIBE_TOPIC.match(line)
        if m:
            topics[m.group(1)] = {"id": m.group(2), "count": int(m.group(3)),
                                  "rf": int(m.group(4)), "configs": m.group(5), "parts": {}}
            continue
        m = DESCRIBE_PART.match(line)
        check(m is not None, "--describe line in kafka-topics.sh format",
              "Topic: T  Partition: p  Leader: l  Replicas: a,b  Isr: a,b", line)
        check(m.group(1) in topics, "partition line follows its topic line", m.group(1), line)
        topics[m.group(1)]["parts"][int(m.group(2))] = (int(m.group(3)), m.group(4), m.group(5))
    return topics, out


def metadata_v12_by_id(b, topic_id):
    """Metadata v12 (flexible) naming one topic by id only; returns (error, name, id,
    partition count, leader epochs) of the one topic in the answer."""
    body = (kw.uvarint(2) + topic_id + kw.uvarint(0) + kw.uvarint(0)  # [ {id, name null} ]
            + kw.i8(0) + kw.i8(0) + kw.uvarint(0))  # no auto-create, no auth ops, no tags
    with b.conn() as c:
        c.send(kw.request_v2_header(kw.API_METADATA, 12, 11, body))
        resp = c.recv_frame()
    check(resp is not None and resp[0] == 11, "Metadata v12 answered", "correlation 11", resp)
    r = kw.Reader(resp[1])

    def uv():
        n = shift = 0
        while True:
            byte = r.take(1)[0]
            n |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return n

    def cstr():
        n = uv()
        return None if n == 0 else r.take(n - 1).decode()

    def tags():
        for _ in range(uv()):
            uv()
            r.take(uv())

    def carray(dec):
        return [dec() for _ in range(uv() - 1)]

    tags()  # response header v1
    r.i32()  # throttle

    def broker():
        r.i32(), cstr(), r.i32(), cstr()
        tags()

    carray(broker)
    cstr()  # cluster id
    r.i32()  # controller

    def partition():
        r.i16(), r.i32(), r.i32()
        epoch = r.i32()
        carray(r.i32), carray(r.i32), carray(r.i32)
        tags()
        return epoch

    def topic():
        err, name, tid, _internal = r.i16(), cstr(), r.take(16), r.i8()
        epochs = carray(partition)
        r.i32()  # topic authorized operations
        tags()
        return err, name, tid, len(epochs), epochs

    topics = carray(topic)
    tags()
    check(r.remaining() == 0 and len(topics) == 1, "Metadata v12 response: one topic, no trailer",
          "1 topic", "%d topics, %d bytes left" % (len(topics), r.remaining()))
    return topics[0]


def id_bytes(b64):
    return base64.urlsafe_b64decode(b64 + "==")


def case_topics_create_describe_list_alter_delete():
    with h.Broker(name="cli") as b:
        bs = ["--bootstrap-server", b.bootstrap]
        cli("topics", *bs, "--create", "--topic", "orders", "--partitions", 3,
            "--replication-factor", 1, "--config", "retention.ms=3600000")
        cli("topics", *bs, "--create", "--topic", "audit", "--partitions", 1,
            "--replication-factor", 1)
        _rc, out, _ = cli("topics", *bs, "--list")
        listed = out.split()
        check("orders" in listed and "audit" in listed, "--list shows both topics",
              ["audit", "orders"], listed)

        topics, out = describe(b, "orders")
        t = topics.get("orders")
        check(t is not None and t["count"] == 3 and t["rf"] == 1,
              "--describe orders: PartitionCount 3, ReplicationFactor 1",
              "Topic: orders ... PartitionCount: 3 ReplicationFactor: 1", out)
        check("retention.ms=3600000" in t["configs"], "--describe shows the topic config",
              "retention.ms=3600000", t["configs"])
        check(sorted(t["parts"]) == [0, 1, 2] and
              all(v == (0, "0", "0") for v in t["parts"].values()),
              "--describe partition lines: leader 0, replicas 0, isr 0", "3 lines", out)
        check(list(topics) == ["orders"], "--describe --topic shows only that topic",
              ["orders"], list(topics))
        all_topics, out = describe(b)
        check({"orders", "audit"} <= set(all_topics), "--describe without --topic shows all",
              "orders, audit", out)
        order_id = t["id"]
        check(order_id is not None and TOPIC_ID.match(order_id) is not None,
              "--describe prints TopicId: 22 chars of url-safe base64 (Metadata v10+)",
              "TopicId: <22 chars>", out)
        check(all_topics["orders"]["id"] == order_id, "TopicId stable across two describes",
              order_id, all_topics["orders"]["id"])
        audit_id = all_topics["audit"]["id"]
        check(audit_id is not None and TOPIC_ID.match(audit_id) is not None and
              audit_id != order_id, "each topic has its own TopicId",
              "a 22-char id other than %s" % order_id, audit_id)
        err, name, tid, count, epochs = metadata_v12_by_id(b, id_bytes(order_id))
        check(err == kw.NONE and name == "orders" and tid == id_bytes(order_id) and count == 3 and
              all(e >= 0 for e in epochs), "Metadata v12 by TopicId resolves the topic",
              "NONE orders 3 partitions with leader epochs", (err, name, count, epochs))
        unknown = bytes(range(1, 17))
        err, name, tid, count, _ = metadata_v12_by_id(b, unknown)
        check(err == UNKNOWN_TOPIC_ID and name is None and tid == unknown and count == 0,
              "Metadata v12 by an unknown TopicId: UNKNOWN_TOPIC_ID, null name, id echoed",
              (UNKNOWN_TOPIC_ID, None, unknown, 0), (err, name, tid, count))

        cli("topics", *bs, "--alter", "--topic", "orders", "--partitions", 5)
        topics, out = describe(b, "orders")
        check(topics["orders"]["count"] == 5 and sorted(topics["orders"]["parts"]) ==
              list(range(5)), "--alter --partitions 5", "PartitionCount: 5, 5 lines", out)
        b.wait_leaders("orders", 5)

        _rc, out, err = cli("topics", *bs, "--create", "--topic", "orders", "--partitions", 1,
                            "--replication-factor", 1, expect_rc="nonzero")
        check("TOPIC_ALREADY_EXISTS" in out + err, "create of an existing topic names the error",
              "TOPIC_ALREADY_EXISTS", out + err)
        cli("topics", *bs, "--create", "--topic", "orders", "--partitions", 1,
            "--replication-factor", 1, "--if-not-exists")
        _rc, out, err = cli("topics", *bs, "--alter", "--topic", "orders", "--partitions", 2,
                            expect_rc="nonzero")
        check("INVALID_PARTITIONS" in out + err, "shrinking partitions names the error",
              "INVALID_PARTITIONS", out + err)
        _rc, out, err = cli("topics", *bs, "--create", "--topic", "bad name", "--partitions", 1,
                            "--replication-factor", 1, expect_rc="nonzero")
        check("INVALID_TOPIC_EXCEPTION" in out + err, "bad topic name names the error",
              "INVALID_TOPIC_EXCEPTION", out + err)
        _rc, out, err = cli("topics", *bs, "--create", "--topic", "rf3", "--partitions", 1,
                            "--replication-factor", 3, expect_rc="nonzero")
        check("INVALID_REPLICATION_FACTOR" in out + err, "rf 3 on one broker names the error",
              "INVALID_REPLICATION_FACTOR", out + err)

        cli("topics", *bs, "--delete", "--topic", "audit")
        _rc, out, _ = cli("topics", *bs, "--list")
        check("audit" not in out.split() and "orders" in out.split(), "--delete removes audit",
              "orders only", out)
        _rc, out, err = cli("topics", *bs, "--describe", "--topic", "audit", expect_rc="nonzero")
        check("UNKNOWN_TOPIC_OR_PARTITION" in out + err or "does not exist" in out + err,
              "describe of a deleted topic says so", "UNKNOWN_TOPIC_OR_PARTITION or kafka-topics's"
              " \"does not exist\"", out + err)


def case_produce_consume():
    with h.Broker(name="cli-pc") as b:
        bs = ["--bootstrap-server", b.bootstrap]
        cli("topics", *bs, "--create", "--topic", "lines", "--partitions", 2,
            "--replication-factor", 1)
        b.wait_leaders("lines", 2)
        values = [b"line %d" % i for i in range(200)]
        cli("produce", *bs, "--topic", "lines", "--key-separator", ":",
            input_bytes=b"".join(b"key%d:%s\n" % (i % 5, v) for i, v in enumerate(values)))
        # Cross-check with kcat: keys split at the separator, values intact.
        got = []
        for p in range(2):
            got += h.kcat_consume(b, "lines", partition=p, fmt="%k|%s\\n")
        check(sorted(got) == sorted(b"key%d|%s" % (i % 5, v) for i, v in enumerate(values)),
              "kcat reads what `strata produce --key-separator :` wrote", "200 key|value",
              sorted(got)[:3])
        _rc, out, _ = cli("consume", *bs, "--topic", "lines", "--from-beginning",
                          "--max-messages", 200)
        lines = out.splitlines()
        check(sorted(lines) == sorted(v.decode() for v in values),
              "`strata consume --from-beginning --max-messages 200` prints every value",
              "200 values", lines[:3] + ["..."] + lines[-3:])
        p0 = h.kcat_consume(b, "lines", partition=0, fmt="%s\\n")
        _rc, out, _ = cli("consume", *bs, "--topic", "lines", "--partition", 0, "--offset", 3,
                          "--max-messages", 2)
        check(out.splitlines() == [v.decode() for v in p0[3:5]],
              "`strata consume --partition 0 --offset 3 --max-messages 2`",
              [v.decode() for v in p0[3:5]], out.splitlines())


def case_help_and_usage_errors():
    for args in (["--help"], ["topics", "--help"], ["produce", "--help"],
                 ["consume", "--help"]):
        rc, out, err = h.run([h.env_path("STRATA_CLI")] + args)
        check(rc == 0 and len(out + err.encode()) > 40, "`strata %s` prints help" % " ".join(args),
              "exit 0 and a usage text", "exit %d: %r" % (rc, (out + err.encode())[:200]))
    rc, out, err = h.run([h.env_path("STRATA_CLI"), "topics", "--bootstrap-server",
                          "127.0.0.1:1", "--list", "--no-such-flag"])
    check(rc != 0 and "--no-such-flag" in out.decode() + err, "a usage error names the flag",
          "non-zero, mentions --no-such-flag", "exit %d: %s" % (rc, (out.decode() + err)[:300]))


CASES = [(name[5:], fn) for name, fn in list(globals().items()) if name.startswith("case_")]

if __name__ == "__main__":
    h.run_cases(CASES)
