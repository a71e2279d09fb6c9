"""Log compaction (the log cleaner) end to end: a topic created with cleanup.policy=compact and
small segments is filled by kcat with many updates of a few keys; once the broker's cleaner has
run (polled through cleaner-offset-checkpoint, with a deadline), kcat reads from the beginning
and finds exactly the latest value of each key below the cleaned offset, and everything from
there on untouched. A consumer group's committed offset survives __consumer_offsets being
compacted and a broker restart."""

import os

import harness as h
import kafka_wire as kw

check = h.check
DEADLINE_S = 90


def poll(what, fn, deadline_s=DEADLINE_S):
    return h.poll(what, fn, deadline_s, interval_s=0.1)


def cleaner_checkpoint(b, topic, partition):
    """The topic-partition's offset in cleaner-offset-checkpoint, or 0."""
    path = os.path.join(b.data_dir, "cleaner-offset-checkpoint")
    try:
        with open(path) as f:
            lines = f.read().split("\n")
    except OSError:
        return 0
    for line in lines[2:]:
        parts = line.split()
        if len(parts) == 3 and parts[0] == topic and parts[1] == str(partition):
            return int(parts[2])
    return 0


def cli_topics(b, *args):
    rc, out, err = h.run([h.env_path("STRATA_CLI"), "topics", "--bootstrap-server",
                          b.bootstrap] + [str(a) for a in args])
    check(rc == 0, "strata topics %s exits 0" % " ".join(map(str, args)), 0,
          "rc %d: %s %s" % (rc, out[-400:], err[-400:]))
    return out.decode()


def case_compacted_topic_keeps_latest_per_key():
    with h.Broker({"log.cleaner.backoff.ms": "200"}, name="compact") as b:
        cli_topics(b, "--create", "--topic", "kv", "--partitions", 1, "--replication-factor", 1,
                   "--config", "cleanup.policy=compact", "--config", "segment.bytes=2048")
        b.wait_leaders("kv", 1)
        keys = ["k%d" % i for i in range(5)]
        latest = {}
        n = 0
        for _run in range(10):  # several producers: many batches, many small segments
            lines = []
            for _ in range(60):
                k = keys[n % len(keys)]
                v = "v%d" % n
                lines.append(("%s:%s" % (k, v)).encode())
                latest[k] = v
                n += 1
            h.kcat_produce(b, "kv", lines, key_delim=":")
        ckpt = poll("the cleaner checkpoint of kv-0 advances",
                    lambda: cleaner_checkpoint(b, "kv", 0))
        d = os.path.join(b.data_dir, "kv-0")
        active = max(int(f[:20]) for f in os.listdir(d) if f.endswith(".log"))
        got = h.kcat_consume(b, "kv", partition=0, fmt="%k\\t%s\\t%o\\n")
        recs = [l.decode().split("\t") for l in got]
        recs = [(k, v, int(o)) for k, v, o in recs]
        check(len(recs) < n, "compaction removed records", "< %d" % n, len(recs))
        # Offsets never change: the record at offset o is the o-th one produced.
        check(all(k == keys[o % len(keys)] and v == "v%d" % o for k, v, o in recs),
              "every record read is the one produced at its offset", "k<o%5> v<o>", recs[:5])
        # Below the checkpoint (read before consuming; a later pass may have cleaned further):
        # at most one record per key, and it is that key's latest record below the checkpoint.
        below = [r for r in recs if r[2] < ckpt]
        check(len(set(k for k, _v, _o in below)) == len(below),
              "below offset %d one record per key" % ckpt, "unique keys", below)
        for k, _v, o in below:
            newer = [i for i in range(o + 1, ckpt) if keys[i % len(keys)] == k]
            check(not newer, "below offset %d only the latest value of %s" % (ckpt, k),
                  "no later %s below %d" % (k, ckpt), "offset %d, later %s" % (o, newer[:3]))
        # The active segment is never cleaned: all of it is there.
        check([o for _k, _v, o in recs if o >= active] == list(range(active, n)),
              "the active segment (from offset %d) is untouched" % active,
              "offsets %d..%d" % (active, n - 1), [o for _k, _v, o in recs if o >= active][:5])
        last = {}
        for k, v, _o in recs:
            last[k] = v
        check(last == latest, "the latest value of every key is read", latest, last)
        # A record without a key is refused (INVALID_RECORD), as Kafka does.
        rc, _out, err = h.run(["kcat", "-P", "-b", b.bootstrap, "-t", "kv", "-p", "0",
                               "-X", "message.send.max.retries=0"], b"keyless\n")
        check(rc != 0 or "invalid record" in err.lower(), "kcat -P of a keyless record fails",
              "Broker: Invalid record", "rc %d: %s" % (rc, err[-300:]))
        check(b"keyless" not in b"".join(h.kcat_consume(b, "kv", partition=0, fmt="%s\\n")),
              "the keyless record is not in the log", "absent", "present")
        # A consumer starting at a removed offset gets the next record there is.
        first = min(o for _k, _v, o in recs)
        check(first > 0, "offset 0 was removed", "> 0", first)
        got = h.kcat_consume(b, "kv", partition=0, fmt="%o\\n", offset=first - 1, count=1)
        check(len(got) == 1 and int(got[0]) >= first,
              "a fetch at a removed offset returns the next record", ">= %d" % first, got)


def admin_commit(b, group, topic, partition, offset, metadata):
    """OffsetCommit v7 with generation -1 and no member (an admin commit) -> error code."""
    body = (kw.string(group) + kw.i32(-1) + kw.string("") + kw.string(None) +
            kw.array([topic], lambda t: kw.string(t) + kw.array(
                [partition], lambda p: kw.i32(p) + kw.i64(offset) + kw.i32(-1) +
                kw.string(metadata))))
    with b.conn() as c:
        r = kw.Reader(c.call(8, 7, body))
        r.i32()
        errs = [e for _, ps in r.array(lambda r: (r.string(), r.array(
            lambda r: (r.i32(), r.i16())))) for _, e in ps]
    return errs[0] if errs else -1


def committed(b, group):
    """(topic, partition, current offset) rows of `strata consumer-groups --describe`."""
    rc, out, _err = h.run([h.env_path("STRATA_CLI"), "consumer-groups", "--bootstrap-server",
                           b.bootstrap, "--describe", "--group", group])
    if rc != 0:
        return None
    rows, header = [], None
    for line in out.decode().splitlines():
        cols = line.split()
        if cols and cols[0] == "GROUP":
            header = cols
        elif header and len(cols) == len(header):
            row = dict(zip(header, cols))
            rows.append((row["TOPIC"], row["PARTITION"], row["CURRENT-OFFSET"]))
    return rows


def case_group_offsets_survive_compaction_and_restart():
    b = h.Broker({"log.cleaner.backoff.ms": "200", "offsets.topic.num.partitions": "1",
                  "offsets.topic.segment.bytes": "4096",
                  "group.initial.rebalance.delay.ms": "0"}, name="compact-groups").start()
    try:
        b.create_topic("gt", 1)
        h.kcat_produce(b, "gt", [b"m%d" % i for i in range(20)])
        poll("the coordinator accepts a commit",
             lambda: admin_commit(b, "g1", "gt", 0, 0, "") == 0)
        for i in range(1, 300):
            err = admin_commit(b, "g1", "gt", 0, i, "x" * 100)
            check(err == 0, "admin commit %d" % i, 0, kw.err_name(err))
        check(admin_commit(b, "g1", "gt", 0, 7, "last") == 0, "the last commit", 0, "an error")
        poll("the cleaner checkpoint of __consumer_offsets-0 advances",
             lambda: cleaner_checkpoint(b, "__consumer_offsets", 0))
        recs = h.kcat_consume(b, "__consumer_offsets", partition=0, fmt="%o\\n")
        check(len(recs) < 300, "__consumer_offsets-0 holds fewer records than the 300 commits",
              "< 300", len(recs))
        check(poll("--describe g1", lambda: committed(b, "g1")) == [("gt", "0", "7")],
              "the committed offset before the restart", "gt 0 7", committed(b, "g1"))
        b.stop()
        b.start(keep_port=True)
        rows = poll("--describe g1 after the restart", lambda: committed(b, "g1"))
        check(rows == [("gt", "0", "7")], "the restarted broker serves the last commit from "
              "the compacted __consumer_offsets", "gt 0 7", rows)
        # And a kcat -G consumer resumes from it.
        rc, out, err = h.run(["kcat", "-b", b.bootstrap, "-G", "g1", "gt", "-c", "1", "-q",
                              "-f", "%o\\n", "-X", "session.timeout.ms=6000"])
        check(rc == 0 and out.split(b"\n")[0] == b"7", "kcat -G resumes at offset 7", "7",
              "rc %d %r %s" % (rc, out[:50], err[-300:]))
        b.stop_clean()
    finally:
        b.cleanup()


if __name__ == "__main__":
    h.run_cases([("compacted_topic_keeps_latest_per_key", case_compacted_topic_keeps_latest_per_key),
                 ("group_offsets_survive_compaction_and_restart",
                  case_group_offsets_survive_compaction_and_restart)])
