#!/usr/bin/env python3
"""Issue 5, topics: a real ZooKeeper and three brokers on two racks.

- a topic with 6 partitions and RF 3 created through one broker: the assignment in
  /brokers/topics/<t> (three distinct replicas each, preferred leaders spread evenly), every
  /brokers/topics/<t>/partitions/<p>/state (leader = preferred replica, ISR = replicas, the current
  controller epoch), and Metadata from every broker agreeing with ZooKeeper; RF 4 with three
  brokers is INVALID_REPLICATION_FACTOR; records go through.
- delete and re-create: the topic leaves ZooKeeper, Metadata and every replica's log dir; the
  re-created topic has a new id and none of the old records.
"""

import os

import cluster_harness as ch
import harness as h
from harness import check


def kcat_ids(lst):
    return [x["id"] if isinstance(x, dict) else x for x in lst]


def metadata_view(c, broker, topic):
    _md, t = c.topic_metadata(broker, topic)
    if not t:
        return None
    return {p["partition"]: {"leader": p["leader"], "replicas": kcat_ids(p.get("replicas", [])),
                             "isr": sorted(kcat_ids(p.get("isrs", [])))}
            for p in t["partitions"]}


def case_six_partitions_rf3():
    with ch.Cluster("t6") as c:
        ch.poll("a controller", lambda: c.controller()[0] is not None, 20.0)
        c.create_topic(c.brokers[2], "six", 6, 3)
        parts = ch.poll("/brokers/topics/six with 6 partition states",
                        lambda: (lambda z: z and len(z) == 6 and
                                 all(v["state"] for v in z.values()) and z)(
                                     c.zk_partitions("six")), 20.0)
        _cid, epoch = c.controller()
        preferred = {}
        for p, v in sorted(parts.items()):
            reps = v["replicas"]
            check(len(reps) == 3 and sorted(reps) == [1, 2, 3],
                  "partition %d: three distinct replicas" % p, [1, 2, 3], reps)
            racks = {ch.RACKS[b] for b in reps}
            check(racks == {"rack-a", "rack-b"}, "partition %d spans both racks" % p,
                  {"rack-a", "rack-b"}, racks)
            st = v["state"]
            check(st["leader"] == reps[0], "partition %d leader is the preferred replica" % p,
                  reps[0], st["leader"])
            check(sorted(st["isr"]) == sorted(reps), "partition %d ISR = replicas" % p,
                  sorted(reps), st["isr"])
            check(st["controller_epoch"] == epoch, "partition %d state controller_epoch" % p,
                  epoch, st["controller_epoch"])
            check(st["leader_epoch"] >= 0, "partition %d leader_epoch >= 0" % p, ">= 0",
                  st["leader_epoch"])
            preferred[reps[0]] = preferred.get(reps[0], 0) + 1
        check(preferred == {1: 2, 2: 2, 3: 2}, "preferred leaders spread evenly",
              {1: 2, 2: 2, 3: 2}, preferred)
        # followers are shifted: not every partition has the same replica order
        check(len({tuple(v["replicas"]) for v in parts.values()}) > 1,
              "replica lists differ between partitions", "> 1 distinct", parts)

        # Metadata from every broker agrees with ZooKeeper
        expected = {p: {"leader": v["state"]["leader"], "replicas": v["replicas"],
                        "isr": sorted(v["state"]["isr"])} for p, v in parts.items()}
        for bid, b in c.brokers.items():
            ch.poll("Metadata of broker %d matches ZooKeeper for 'six'" % bid,
                    lambda b=b: metadata_view(c, b, "six") == expected, 10.0)

        # records go through, to every partition, from a bootstrap on any broker
        msgs = [b"six-%04d" % i for i in range(600)]
        h.kcat_produce(c.brokers[3], "six", msgs)
        got = []
        for p in range(6):
            got += h.kcat_consume(c.brokers[1], "six", partition=p, fmt="%s\\n")
        check(sorted(got) == sorted(msgs), "all 600 records read back", 600, len(got))

        # more replicas than live brokers
        rc, out, err = h.run([h.env_path("STRATA_CLI"), "topics", "--bootstrap-server",
                              c.brokers[1].bootstrap, "--create", "--topic", "too-many",
                              "--partitions", "1", "--replication-factor", "4"])
        check(rc != 0 and "INVALID_REPLICATION_FACTOR" in (out.decode() + err),
              "RF 4 on 3 brokers is INVALID_REPLICATION_FACTOR", "rc 1 + error name",
              "rc %d: %s %s" % (rc, out.decode(errors="replace"), err))
        check(c.zk.get("/brokers/topics/too-many") is None, "no znode for the rejected topic",
              None, c.zk.get("/brokers/topics/too-many"))


def log_dirs(c, topic):
    found = []
    for bid, b in c.brokers.items():
        try:
            names = os.listdir(b.data_dir)
        except OSError:
            continue
        for n in names:
            if n.startswith(topic + "-") and n[len(topic) + 1:].isdigit():
                found.append("broker %d: %s" % (bid, n))
    return found


def case_delete_and_recreate():
    with ch.Cluster("del") as c:
        ch.poll("a controller", lambda: c.controller()[0] is not None, 20.0)
        c.create_topic(c.brokers[1], "gone", 3, 3)
        c.wait_all_leaders("gone", 3)
        old_id = c.zk.get_json("/brokers/topics/gone")["topic_id"]
        h.kcat_produce(c.brokers[1], "gone", [b"old-%d" % i for i in range(30)])
        ch.poll("every replica has its log dirs", lambda: len(log_dirs(c, "gone")) == 9, 20.0)

        c.delete_topic(c.brokers[2], "gone")
        ch.poll("/brokers/topics/gone removed", lambda: c.zk.get("/brokers/topics/gone") is None,
                30.0)
        ch.poll("/admin/delete_topics/gone removed",
                lambda: c.zk.get("/admin/delete_topics/gone") is None, 30.0)
        for bid, b in c.brokers.items():
            ch.poll("Metadata of broker %d no longer lists 'gone'" % bid,
                    lambda b=b: c.topic_metadata(b, "gone")[1] is None, 15.0)
        ch.poll("the logs of 'gone' removed on every replica",
                lambda: not log_dirs(c, "gone"), 30.0)

        c.create_topic(c.brokers[3], "gone", 2, 3)
        c.wait_all_leaders("gone", 2)
        new_id = c.zk.get_json("/brokers/topics/gone")["topic_id"]
        check(new_id != old_id, "re-created topic has a new topic id", "!= " + old_id, new_id)
        h.kcat_produce(c.brokers[2], "gone", [b"new-%d" % i for i in range(10)])
        got = []
        for p in range(2):
            got += h.kcat_consume(c.brokers[1], "gone", partition=p, fmt="%s\\n")
        check(sorted(got) == sorted(b"new-%d" % i for i in range(10)),
              "only the new records are in the re-created topic", 10, got[:12])


if __name__ == "__main__":
    ch.skip_unless_zookeeper()
    h.run_cases([
        ("six_partitions_rf3", case_six_partitions_rf3),
        ("delete_and_recreate", case_delete_and_recreate),
    ])
