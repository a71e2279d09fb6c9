#!/usr/bin/env python3
"""Issue 5, `strata topics --zookeeper` (kafka-topics.sh's ZooKeeper mode): a real ZooKeeper and
three brokers on two racks (1: rack-a, 2: rack-b, 3: rack-a), the CLI writing the znodes itself.

- create 6 partitions RF 2: /config/topics/<t> and a version-3 /brokers/topics/<t> with a topic
  id; every replica set spans both racks, preferred leaders spread evenly; the controller elects
  leaders and every broker's Metadata (kcat -L -J) agrees with ZooKeeper; --describe and --list
  print what the --bootstrap-server mode prints (the topic line's TopicId and Configs aside); --replica-assignment is honoured;
- errors: TOPIC_ALREADY_EXISTS (exit 0 with --if-not-exists), INVALID_REPLICATION_FACTOR (rf >
  live brokers), illegal and colliding names, unknown brokers in --replica-assignment, missing
  --partitions, --zookeeper with --bootstrap-server, an unreachable ZooKeeper; nothing is
  written for a refused topic;
- --alter --partitions: new partitions appended (old ones untouched), led on every broker;
  shrinking or keeping the count is INVALID_PARTITIONS;
- --delete: /admin/delete_topics/<t>, the controller removes the topic everywhere;
- a broker killed: --under-replicated-partitions and --unavailable-partitions show the affected
  partitions, the same as the --bootstrap-server mode.
"""

import re
import socket

import cluster_harness as ch
import harness as h
from harness import check

CLI = None


def cli(*args, timeout=60):
    rc, out, err = h.run([CLI] + list(args), timeout=timeout)
    return rc, out.decode(errors="replace"), err


def zk_topics(c, *args):
    return cli("topics", "--zookeeper", c.zk.connect, *args)


def bs_topics(broker, *args):
    return cli("topics", "--bootstrap-server", broker.bootstrap, *args)


def expect_ok(what, res):
    rc, out, err = res
    check(rc == 0, what + " exits 0", 0, "rc %d: %s %s" % (rc, out, err))
    return out


def expect_error(what, res, rc_expected, needle):
    rc, out, err = res
    check(rc == rc_expected and needle in err, what, "rc %d and %r on stderr" % (rc_expected, needle),
          "rc %d: stdout %r stderr %r" % (rc, out, err))


def kcat_ids(lst):
    return [x["id"] if isinstance(x, dict) else x for x in lst]


def metadata_view(c, broker, topic):
    _md, t = c.topic_metadata(broker, topic)
    if not t:
        return None
    return {p["partition"]: {"leader": p["leader"], "replicas": kcat_ids(p.get("replicas", []))}
            for p in t["partitions"]}


def zk_view(c, topic):
    parts = c.zk_partitions(topic)
    if not parts or not all(v["state"] for v in parts.values()):
        return None
    return {p: {"leader": v["state"]["leader"], "replicas": v["replicas"]}
            for p, v in parts.items()}


def wait_metadata_matches_zk(c, topic, n):
    """Every partition state written, and every live broker's Metadata equal to ZooKeeper."""
    view = ch.poll("%s: %d partition states in ZooKeeper" % (topic, n),
                   lambda: (lambda v: v if v and len(v) == n else None)(zk_view(c, topic)), 20.0)
    for bid, b in sorted(c.live().items()):
        ch.poll("Metadata of broker %d matches ZooKeeper for %s" % (bid, topic),
                lambda b=b: metadata_view(c, b, topic) == zk_view(c, topic),
                15.0, describe=lambda b=b: (metadata_view(c, b, topic), zk_view(c, topic)))
    return view


def comparable(out):
    """The output with the topic lines' TopicId and Configs dropped: the two modes differ there
    as Kafka's do (ZooKeeper mode: the assignment's topic id and the /config/topics overrides;
    bootstrap mode: Metadata v10+ ids only, and DescribeConfigs' non-default values, broker
    settings included)."""
    lines = []
    for line in out.splitlines(True):
        if line.startswith("Topic: "):
            line = re.sub(r"\tTopicId: [^\t]*", "", line)
            line = re.sub(r"\tConfigs: [^\t\n]*", "\tConfigs: ...", line)
        lines.append(line)
    return "".join(lines)


def same_output(c, what, zk_args, broker, bs_args, deadline_s=15.0):
    """Polls until `--zookeeper zk_args` and `--bootstrap-server bs_args` print the same lines
    (comparable()); returns the --zookeeper output."""
    def both():
        a = zk_topics(c, *zk_args)
        b = bs_topics(broker, *bs_args)
        return (a[0], a[1]), (b[0], b[1])

    def equal():
        a, b = both()
        return a if a[0] == 0 and b[0] == 0 and comparable(a[1]) == comparable(b[1]) else None
    return ch.poll(what, equal, deadline_s, interval_s=0.2, describe=both)[1]


def case_zookeeper_topics():
    with ch.Cluster("tzk") as c:
        ch.poll("a controller", lambda: c.controller()[0] is not None, 20.0)

        # ---- create: ZooKeeper contents
        out = expect_ok("--zookeeper --create zt", zk_topics(
            c, "--create", "--topic", "zt", "--partitions", "6", "--replication-factor", "2",
            "--config", "retention.ms=123456"))
        check(out == "Created topic zt.\n", "create prints kafka-topics' line", "Created topic zt.",
              out)
        cfg = c.zk.get_json("/config/topics/zt")
        check(cfg == {"version": 1, "config": {"retention.ms": "123456"}},
              "/config/topics/zt holds the override", "retention.ms=123456", cfg)
        assignment = c.zk.get_json("/brokers/topics/zt")
        check(assignment["version"] == 3 and len(assignment.get("topic_id", "")) == 22,
              "/brokers/topics/zt is version 3 with a topic id", "version 3 + 22-char id",
              assignment)
        preferred = {}
        for p, reps in sorted(assignment["partitions"].items()):
            check(len(reps) == 2 and len(set(reps)) == 2, "partition %s: 2 distinct replicas" % p,
                  2, reps)
            racks = {ch.RACKS[b] for b in reps}
            check(racks == {"rack-a", "rack-b"}, "partition %s spans both racks" % p,
                  {"rack-a", "rack-b"}, racks)
            preferred[reps[0]] = preferred.get(reps[0], 0) + 1
        check(sorted(assignment["partitions"]) == [str(i) for i in range(6)],
              "partitions 0..5", list(range(6)), sorted(assignment["partitions"]))
        check(preferred == {1: 2, 2: 2, 3: 2}, "preferred leaders spread evenly",
              {1: 2, 2: 2, 3: 2}, preferred)

        # ---- the controller takes over: leaders everywhere, Metadata == ZooKeeper
        view = wait_metadata_matches_zk(c, "zt", 6)
        for p, v in view.items():
            check(v["leader"] == v["replicas"][0], "zt-%d led by its preferred replica" % p,
                  v["replicas"][0], v["leader"])
        c.wait_all_leaders("zt", 6)

        # ---- --describe / --list: the bootstrap-server mode's bytes
        desc = same_output(c, "--describe --topic zt: same output in both modes",
                           ["--describe", "--topic", "zt"], c.brokers[1],
                           ["--describe", "--topic", "zt"])
        first = desc.splitlines()[0]
        check(first.startswith("Topic: zt\tTopicId: %s\tPartitionCount: 6\tReplicationFactor: 2\t"
                               "Configs: " % assignment["topic_id"]) and
              "retention.ms=123456" in first, "describe topic line", "Topic: zt TopicId ...", first)
        check(len(desc.splitlines()) == 7, "describe prints 1 + 6 lines", 7, desc)
        # Metadata v10+: the bootstrap mode prints the same TopicId (Kafka's Uuid base64).
        bs_first = expect_ok("--bootstrap-server --describe --topic zt",
                             bs_topics(c.brokers[1], "--describe", "--topic", "zt")).splitlines()[0]
        check(bs_first.startswith("Topic: zt\tTopicId: %s\t" % assignment["topic_id"]),
              "--bootstrap-server prints ZooKeeper's TopicId", assignment["topic_id"], bs_first)

        # ---- --replica-assignment honoured
        expect_ok("--create za with --replica-assignment", zk_topics(
            c, "--create", "--topic", "za", "--replica-assignment", "3:1,2:3"))
        check(c.zk.get_json("/brokers/topics/za")["partitions"] == {"0": [3, 1], "1": [2, 3]},
              "za assignment as given", {"0": [3, 1], "1": [2, 3]},
              c.zk.get_json("/brokers/topics/za"))
        view = wait_metadata_matches_zk(c, "za", 2)
        check({p: v["leader"] for p, v in view.items()} == {0: 3, 1: 2},
              "za leaders are the first replicas", {0: 3, 1: 2}, view)
        same_output(c, "--list: same output in both modes", ["--list"], c.brokers[2], ["--list"])
        out = expect_ok("--list --topic z.*", zk_topics(c, "--list", "--topic", "z.*"))
        check(out == "za\nzt\n", "--list --topic z.*", "za\\nzt\\n", out)

        # ---- errors, and nothing written for refused topics
        expect_error("existing topic: TOPIC_ALREADY_EXISTS",
                     zk_topics(c, "--create", "--topic", "zt", "--partitions", "1",
                               "--replication-factor", "1"), 1, "TOPIC_ALREADY_EXISTS")
        expect_ok("existing topic with --if-not-exists", zk_topics(
            c, "--create", "--topic", "zt", "--partitions", "1", "--replication-factor", "1",
            "--if-not-exists"))
        expect_error("RF 4 on 3 brokers: INVALID_REPLICATION_FACTOR",
                     zk_topics(c, "--create", "--topic", "rf4", "--partitions", "1",
                               "--replication-factor", "4"), 1, "INVALID_REPLICATION_FACTOR")
        for bad in ["bad/name", "bad name", "..", "x" * 250]:
            expect_error("illegal name %r: INVALID_TOPIC_EXCEPTION" % bad[:20],
                         zk_topics(c, "--create", "--topic", bad, "--partitions", "1",
                                   "--replication-factor", "1"), 1, "INVALID_TOPIC_EXCEPTION")
        expect_ok("--create col.x", zk_topics(c, "--create", "--topic", "col.x",
                                              "--replica-assignment", "1"))
        expect_error("col_x collides with col.x",
                     zk_topics(c, "--create", "--topic", "col_x", "--partitions", "1",
                               "--replication-factor", "1"), 1, "collides with existing topics")
        expect_error("2e9 partitions: INVALID_PARTITIONS, no crash",
                     zk_topics(c, "--create", "--topic", "huge", "--partitions", "2000000000",
                               "--replication-factor", "1"), 1, "INVALID_PARTITIONS")
        expect_error("unknown broker in --replica-assignment",
                     zk_topics(c, "--create", "--topic", "ra9", "--replica-assignment", "1:9"), 1,
                     "INVALID_REPLICA_ASSIGNMENT")
        expect_error("--create without --partitions is a usage error",
                     zk_topics(c, "--create", "--topic", "np", "--replication-factor", "1"), 2,
                     "--partitions")
        with socket.socket() as s:  # a loopback port nothing listens on
            s.bind(("127.0.0.1", 0))
            dead = "127.0.0.1:%d/strata" % s.getsockname()[1]
        expect_error("an unreachable ZooKeeper is an error naming it",
                     cli("topics", "--zookeeper", dead, "--list"), 1,
                     "ZooKeeper %s is not reachable" % dead)
        expect_error("--zookeeper with --bootstrap-server is a usage error",
                     zk_topics(c, "--list", "--bootstrap-server", c.brokers[1].bootstrap), 2,
                     "can't be used with")
        for t in ["rf4", "bad", "ra9", "np", "col_x", "huge"]:
            check(c.zk.get("/brokers/topics/" + t) is None, "no znode for refused %s" % t, None,
                  c.zk.get("/brokers/topics/" + t))

        # ---- --alter --partitions
        expect_ok("--alter zt to 8 partitions",
                  zk_topics(c, "--alter", "--topic", "zt", "--partitions", "8"))
        after = c.zk.get_json("/brokers/topics/zt")
        check(after["topic_id"] == assignment["topic_id"], "alter keeps the topic id",
              assignment["topic_id"], after["topic_id"])
        check(all(after["partitions"][p] == r for p, r in assignment["partitions"].items()),
              "alter keeps the existing partitions", assignment["partitions"], after["partitions"])
        for p in ("6", "7"):
            reps = after["partitions"].get(p, [])
            check(len(set(reps)) == 2 and {ch.RACKS[b] for b in reps} == {"rack-a", "rack-b"},
                  "new partition %s: 2 replicas on both racks" % p, "2 replicas", reps)
        wait_metadata_matches_zk(c, "zt", 8)
        expect_error("alter to fewer partitions: INVALID_PARTITIONS",
                     zk_topics(c, "--alter", "--topic", "zt", "--partitions", "4"), 1,
                     "INVALID_PARTITIONS")
        expect_error("alter to 2e9 partitions: INVALID_PARTITIONS, no crash",
                     zk_topics(c, "--alter", "--topic", "zt", "--partitions", "2000000000"), 1,
                     "INVALID_PARTITIONS")
        expect_error("alter to the same count: INVALID_PARTITIONS",
                     zk_topics(c, "--alter", "--topic", "zt", "--partitions", "8"), 1,
                     "INVALID_PARTITIONS")
        expect_ok("--alter za with --replica-assignment", zk_topics(
            c, "--alter", "--topic", "za", "--partitions", "3", "--replica-assignment",
            "3:1,2:3,1:2"))
        check(c.zk.get_json("/brokers/topics/za")["partitions"]["2"] == [1, 2],
              "za-2 assignment as given", [1, 2], c.zk.get_json("/brokers/topics/za"))
        wait_metadata_matches_zk(c, "za", 3)

        # the "Adding partitions" rule is deterministic: the same as a broker's CreatePartitions
        for t in ("pz", "pb"):
            expect_ok("--create %s" % t, zk_topics(c, "--create", "--topic", t,
                                                   "--replica-assignment", "2:1,3:2"))
        expect_ok("--zookeeper --alter pz to 7",
                  zk_topics(c, "--alter", "--topic", "pz", "--partitions", "7"))
        expect_ok("--bootstrap-server --alter pb to 7",
                  bs_topics(c.brokers[1], "--alter", "--topic", "pb", "--partitions", "7"))
        pz = c.zk.get_json("/brokers/topics/pz")["partitions"]
        pb = c.zk.get_json("/brokers/topics/pb")["partitions"]
        check(len(pz) == 7 and pz == pb, "--zookeeper and a broker add the same partitions", pb,
              pz)

        # ---- --delete
        out = expect_ok("--delete zt", zk_topics(c, "--delete", "--topic", "zt"))
        check(out.startswith("Topic zt is marked for deletion."), "delete prints Kafka's line",
              "Topic zt is marked for deletion.", out)
        ch.poll("/brokers/topics/zt removed by the controller",
                lambda: c.zk.get("/brokers/topics/zt") is None, 30.0)
        for bid, b in sorted(c.brokers.items()):
            ch.poll("Metadata of broker %d no longer lists zt" % bid,
                    lambda b=b: c.topic_metadata(b, "zt")[1] is None, 15.0)
        expect_error("--delete of a missing topic", zk_topics(c, "--delete", "--topic", "zt"),
                     1, "does not exist as expected")
        expect_ok("--delete --if-exists of a missing topic",
                  zk_topics(c, "--delete", "--topic", "zt", "--if-exists"))

        # ---- a broker dies: the filters, in both modes
        expect_ok("--create solo on broker 3 only", zk_topics(
            c, "--create", "--topic", "solo", "--replica-assignment", "3"))
        wait_metadata_matches_zk(c, "solo", 1)
        out = expect_ok("--describe --under-replicated-partitions (none)",
                        zk_topics(c, "--describe", "--under-replicated-partitions"))
        check(out == "", "no under-replicated partitions while all brokers live", "", out)
        c.brokers[3].kill()
        ch.poll("broker 3 deregistered", lambda: 3 not in c.registered(), 15.0)
        under = ch.poll(
            "za-0 and za-1 under-replicated (ISR without broker 3)",
            lambda: (lambda o: o if o[0] == 0 and o[1].count("\n") == 2 else None)(
                zk_topics(c, "--describe", "--under-replicated-partitions", "--topic", "za")),
            15.0)[1]
        isrs = [l.split("\tIsr: ")[1].split(",") for l in under.splitlines()]
        check(["\tPartition: 0\t" in under, "\tPartition: 1\t" in under] == [True, True] and
              all("3" not in isr for isr in isrs), "za-0, za-1 listed, no ISR with broker 3",
              "za-0 and za-1", under)
        same_output(c, "--under-replicated-partitions: same output in both modes",
                    ["--describe", "--under-replicated-partitions"], c.brokers[1],
                    ["--describe", "--under-replicated-partitions"])
        unavail = same_output(c, "--unavailable-partitions: same output in both modes",
                              ["--describe", "--unavailable-partitions"], c.brokers[2],
                              ["--describe", "--unavailable-partitions"])
        check(unavail.startswith("\tTopic: solo\tPartition: 0\tLeader: none\tReplicas: 3\t") and
              unavail.count("\n") == 1, "only solo-0 is unavailable", "solo-0 with Leader: none",
              unavail)


if __name__ == "__main__":
    ch.skip_unless_zookeeper()
    CLI = h.env_path("STRATA_CLI")
    h.run_cases([
        ("zookeeper_topics", case_zookeeper_topics),
    ])
