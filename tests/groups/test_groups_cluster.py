"""Issue 7 on a three-broker cluster (real ZooKeeper, tests/cluster/cluster_harness.py):
- the idempotent librdkafka producer (acks=all) writes numbered records to a replicated topic
  while the leader of its partitions is killed -9: no duplicate and no gap after failover;
- a consumer group's committed offsets survive a kill -9 of its coordinator: the new leader of
  the group's __consumer_offsets partition loads them and serves them."""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))

import cluster_harness as ch  # noqa: E402
from groups_util import check, describe, h, poll  # noqa: E402

RECORDS = 20000
RATE = 2000


def case_idempotent_producer_leader_kill():
    with ch.Cluster("gidem") as c:
        ch.poll("a controller", lambda: c.controller()[0] is not None, 20.0)
        c.create_topic(c.brokers[1], "ci", 1, 3)
        leaders = c.wait_all_leaders("ci", 1)
        victim = leaders[0]
        err_path = os.path.join(c.brokers[1].tmp, "idemprod.err")
        with open(err_path, "wb") as err:
            proc = subprocess.Popen([h.env_path("STRATA_IDEMPROD"), c.bootstrap(), "ci",
                                     str(RECORDS), "--rate", str(RATE)],
                                    stdout=subprocess.PIPE, stderr=err)
            def written():
                try:
                    return c.brokers[victim].latest_offset("ci", 0) >= RECORDS // 4
                except (h.TestFailure, OSError, ValueError):
                    return False
            poll("the producer writes a quarter of the records before the kill", written, 60)
            c.brokers[victim].kill()
            survivors = [b for bid, b in c.brokers.items() if bid != victim]
            c.wait_all_leaders("ci", 1, brokers=survivors, exclude=(victim,), deadline_s=10.0)
            out, _ = proc.communicate(timeout=300)
        with open(err_path, "rb") as f:
            errs = f.read().decode(errors="replace")
        check(proc.returncode == 0, "the idempotent producer delivers everything across the "
              "leader kill", 0, "rc %d: %s %s" % (proc.returncode, out, errs[-1500:]))
        lines = h.kcat_consume(survivors[0], "ci", fmt="%s\\n")
        nums = [int(l) for l in lines]
        dups = len(nums) - len(set(nums))
        gaps = [n for n in range(RECORDS) if n not in set(nums)]
        check(dups == 0 and not gaps, "every record once after the leader kill -9",
              RECORDS, "%d records, %d duplicates, %d missing (%r)" % (len(nums), dups,
                                                                        len(gaps), gaps[:10]))


def case_commits_survive_coordinator_kill():
    with ch.Cluster("gcoord", overrides={"group.initial.rebalance.delay.ms": 0}) as c:
        ch.poll("a controller", lambda: c.controller()[0] is not None, 20.0)
        c.create_topic(c.brokers[1], "cc", 3, 3)
        c.wait_all_leaders("cc", 3)
        b1 = c.brokers[1]
        h.kcat_produce(b1, "cc", [b"%d:v%d" % (i, i) for i in range(300)], key_delim=":")
        rc, out, err = h.run(["kcat", "-b", c.bootstrap(), "-G", "cgrp", "cc", "-c", "300", "-q",
                              "-X", "auto.offset.reset=earliest"], timeout=120)
        check(rc == 0, "kcat -G consumes 300 records", 0, "rc %d: %s" % (rc, err[-800:]))
        rows = poll("commits visible", lambda: (lambda r: r if r and sum(
            int(x["CURRENT-OFFSET"]) for x in r if x["CURRENT-OFFSET"] != "-") == 300 else None)(
            describe(b1, "cgrp")), 60)
        before = {(r["TOPIC"], r["PARTITION"]): r["CURRENT-OFFSET"] for r in rows}
        # the coordinator: leader of __consumer_offsets-<abs(hash("cgrp")) % 50>
        h_ = 0
        for ch_ in "cgrp":
            h_ = (h_ * 31 + ord(ch_)) & 0xFFFFFFFF
        if h_ >= 1 << 31:
            h_ -= 1 << 32
        part = abs(h_) % 50
        z = c.zk_partitions("__consumer_offsets")
        coord = z[part]["state"]["leader"]
        poll("__consumer_offsets-%d fully in sync" % part, lambda: len(
            c.zk_partitions("__consumer_offsets")[part]["state"]["isr"]) == 3, 30)
        c.brokers[coord].kill()
        other = [b for bid, b in c.brokers.items() if bid != coord][0]
        try:
            rows = poll("a new coordinator serves the commits", lambda: describe(other, "cgrp"),
                        60)
        except h.TestFailure:
            rc, out, err = h.run([h.env_path("STRATA_CLI"), "consumer-groups",
                                  "--bootstrap-server", other.bootstrap, "--describe", "--group",
                                  "cgrp"])
            print("     describe: rc %d %s %s" % (rc, out[-500:], err[-500:]), flush=True)
            raise
        after = {(r["TOPIC"], r["PARTITION"]): r["CURRENT-OFFSET"] for r in rows}
        check(after == before, "committed offsets survive the coordinator's kill -9", before,
              after)


if __name__ == "__main__":
    ch.skip_unless_zookeeper()
    h.run_cases([("idempotent_producer_leader_kill", case_idempotent_producer_leader_kill),
                 ("commits_survive_coordinator_kill", case_commits_survive_coordinator_kill)])
