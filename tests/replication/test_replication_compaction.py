"""Compaction under replication (ZooKeeper + two brokers, tests/cluster/cluster_harness.py): a
compacted topic (replicas 1:2) is written while its follower is down; the leader's cleaner
removes overwritten records; the follower comes back with an empty log, fetches the compacted
log with its offset gaps, rejoins the ISR, and after the leader is killed serves exactly the
latest value of every key at the offsets the leader had. Also checks ZooKeeper holds the
topic's cleanup.policy in /config/topics (as Kafka) and that __consumer_offsets is created
with cleanup.policy=compact.

Environment (tests/replication/tests.cmake). Exits 77 when ZooKeeper or kcat is absent."""

import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))

import cluster_harness as ch  # noqa: E402
from cluster_harness import poll  # noqa: E402

h = ch.h
check = h.check

OVERRIDES = {"log.cleaner.backoff.ms": 200, "replica.lag.time.max.ms": 3000,
             "replica.fetch.backoff.ms": 200, "min.insync.replicas": 1,
             "default.replication.factor": 2, "offsets.topic.replication.factor": 2,
             "offsets.topic.num.partitions": 1, "group.initial.rebalance.delay.ms": 0}


def state(c, topic, p):
    parts = c.zk_partitions(topic)
    return parts[p]["state"] if parts and p in parts else None


def cleaner_checkpoint(b, topic, partition):
    try:
        with open(os.path.join(b.data_dir, "cleaner-offset-checkpoint")) as f:
            lines = f.read().split("\n")
    except OSError:
        return 0
    for line in lines[2:]:
        parts = line.split()
        if len(parts) == 3 and parts[0] == topic and parts[1] == str(partition):
            return int(parts[2])
    return 0


def case_follower_fetches_compacted_log():
    with ch.Cluster("repl-compact", n=2, overrides=OVERRIDES) as c:
        rc, out, err = h.run([h.env_path("STRATA_CLI"), "topics", "--bootstrap-server",
                              c.brokers[1].bootstrap, "--create", "--topic", "ckv",
                              "--replica-assignment", "1:2", "--config", "cleanup.policy=compact",
                              "--config", "segment.bytes=2048"], timeout=60)
        check(rc == 0, "create ckv", 0, "%d %s %s" % (rc, out, err))
        cfg = c.zk.get_json("/config/topics/ckv")
        check(cfg and cfg.get("config", {}).get("cleanup.policy") == "compact",
              "/config/topics/ckv holds cleanup.policy=compact", "compact", cfg)
        poll("ckv: ISR [1, 2]", lambda: (state(c, "ckv", 0) or {}).get("isr") == [1, 2], 30,
             interval_s=0.2, describe=lambda: state(c, "ckv", 0))
        c.brokers[2].kill()
        poll("ckv: ISR [1]", lambda: (state(c, "ckv", 0) or {}).get("isr") == [1], 30,
             interval_s=0.2, describe=lambda: state(c, "ckv", 0))
        keys = ["k%d" % i for i in range(5)]
        n = 0
        latest = {}
        for _run in range(8):
            lines = []
            for _ in range(60):
                k = keys[n % len(keys)]
                lines.append(("%s:v%d" % (k, n)).encode())
                latest[k] = "v%d" % n
                n += 1
            h.kcat_produce(c.brokers[1], "ckv", lines, key_delim=":")
        ckpt = poll("the leader's cleaner checkpoint of ckv-0 advances",
                    lambda: cleaner_checkpoint(c.brokers[1], "ckv", 0), 60, interval_s=0.2)
        before = [l.decode() for l in h.kcat_consume(c.brokers[1], "ckv", partition=0,
                                                     fmt="%k\\t%s\\t%o\\n")]
        check(len(before) < n, "the leader's log was compacted", "< %d" % n, len(before))
        # The follower returns with nothing: it fetches the compacted log from offset 0.
        shutil.rmtree(os.path.join(c.brokers[2].data_dir, "ckv-0"))
        c.brokers[2].start(keep_port=True)
        poll("ckv: the follower catches up across the gaps (ISR [1, 2])",
             lambda: sorted((state(c, "ckv", 0) or {}).get("isr") or []) == [1, 2], 60,
             interval_s=0.2, describe=lambda: state(c, "ckv", 0))
        c.brokers[1].kill()
        poll("ckv: broker 2 leads", lambda: (state(c, "ckv", 0) or {}).get("leader") == 2, 30,
             interval_s=0.2, describe=lambda: state(c, "ckv", 0))
        after = [l.decode() for l in h.kcat_consume(c.brokers[2], "ckv", partition=0,
                                                    fmt="%k\\t%s\\t%o\\n")]
        # Cleaning only ever removes records (the leader's later passes, the new leader's
        # own): what broker 2 serves is a subset of what the leader served, offsets unchanged.
        recs = [tuple(l.split("\t")) for l in after]
        check(set(recs) <= set(tuple(l.split("\t")) for l in before),
              "broker 2 serves only records the leader had, at the same offsets", "subset",
              sorted(set(recs) - set(tuple(l.split("\t")) for l in before))[:3])
        head = [r[0] for r in recs if int(r[2]) < ckpt]
        check(len(head) == len(set(head)), "one record per key below the cleaned offset",
              "unique keys", head)
        last = {}
        for k, v, _o in recs:
            last[k] = v
        check(last == latest, "the latest value of every key survives", latest, last)
        offs = [int(r[2]) for r in recs]
        check(offs == sorted(offs) and offs[-1] == n - 1, "offsets kept, log end %d" % n,
              n - 1, offs[-3:])


def case_consumer_offsets_created_compacted():
    with ch.Cluster("repl-compact-co", n=2, overrides=OVERRIDES) as c:
        c.create_topic(c.brokers[1], "g", 1, 2)
        c.wait_all_leaders("g", 1)
        h.kcat_produce(c.brokers[1], "g", [b"a", b"b", b"c"])
        rc, out, err = h.run(["kcat", "-b", c.bootstrap(), "-G", "cg", "g", "-c", "3", "-q",
                              "-f", "%s\\n", "-X", "auto.offset.reset=earliest",
                              "-X", "session.timeout.ms=6000"], timeout=90)
        check(rc == 0, "kcat -G consumes (and so creates __consumer_offsets)", 0,
              "%d %s" % (rc, err[-500:]))
        cfg = poll("/config/topics/__consumer_offsets",
                   lambda: c.zk.get_json("/config/topics/__consumer_offsets"), 30)
        check(cfg.get("config", {}).get("cleanup.policy") == "compact",
              "__consumer_offsets is created with cleanup.policy=compact", "compact",
              json.dumps(cfg))


CASES = [("follower_fetches_compacted_log", case_follower_fetches_compacted_log),
         ("consumer_offsets_created_compacted", case_consumer_offsets_created_compacted)]

if __name__ == "__main__":
    ch.skip_unless_zookeeper()
    h.run_cases(CASES)
