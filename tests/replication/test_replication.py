"""Replication tests (issue 6): a real ZooKeeper (scripts/zk.sh) and three strata-broker
processes on two racks (tests/cluster/cluster_harness.py), RF 3, min.insync.replicas 2.

Cases:
  fault        librdkafka acks=all idempotent producer (strata-replprod, retries; idempotence
               keeps the order across leader changes) writes numbered records
               to 6 partitions while partition leaders are SIGKILLed and restarted, the
               controller is SIGKILLed once and a follower is SIGSTOPped past
               replica.lag.time.max.ms; a consumer then reads everything. Prints
               sent/acked/lost/duplicated; fails on any loss, on disorder within a partition
               or on non-contiguous offsets.
  min_isr      two of three brokers down: acks=all gets NOT_ENOUGH_REPLICAS (nothing
               appended) while acks=1 succeeds; brokers back: the ISR expands to 3 and acks=all
               succeeds again; the controller moves leadership back to the preferred replica.
  lag          a follower SIGSTOPped (ZooKeeper session longer than the stop) past
               replica.lag.time.max.ms leaves the ISR by the leader's version-checked write
               (same leader epoch), acks=all still works with 2 of 3, and it rejoins when resumed;
               every replica checkpoints the high watermark (replication-offset-checkpoint).
  unclean      RF 2, follower then leader killed, only the old follower returns: the topic with
               unclean.leader.election.enable=true elects it (with a warning), the default one
               stays offline until its ISR member returns.
  divergent    followers fetch slowly (replica.fetch.min.bytes/wait), the leader takes acks=1
               records no follower has (consumers do not see them: above the high watermark),
               then is SIGKILLed; a new leader takes more records; the old leader returns,
               truncates its divergent tail (OffsetForLeaderEpoch) and all three replicas'
               segment files end byte-identical.

Environment (tests/replication/tests.cmake): STRATA_BROKER, STRATA_CLI, STRATA_ZKDUMP,
STRATA_REPLPROD, STRATA_CONFIG, STRATA_SOURCE_DIR. Exits 77 when ZooKeeper or kcat is absent.
"""

import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))

import cluster_harness as ch  # noqa: E402
from cluster_harness import poll  # noqa: E402

h = ch.h
check = h.check
TestFailure = h.TestFailure

LAG_MS = 3000
BASE = {"min.insync.replicas": 2, "replica.lag.time.max.ms": LAG_MS,
        "replica.fetch.backoff.ms": 200, "replica.high.watermark.checkpoint.interval.ms": 500,
        "leader.imbalance.check.interval.seconds": 2}


def replprod(bootstrap, topic, *args, timeout=240):
    cmd = [h.env_path("STRATA_REPLPROD"), bootstrap, topic] + [str(a) for a in args]
    rc, out, err = h.run(cmd, timeout=timeout)
    check(rc == 0, "strata-replprod exits 0", 0, "%d: %s" % (rc, err[-1500:]))
    summary = out.decode().strip().splitlines()[-1]
    return dict(kv.split("=", 1) for kv in summary.split()), err


def state(c, topic, p):
    parts = c.zk_partitions(topic)
    return parts[p]["state"] if parts and p in parts else None


def wait_isr(c, topic, partitions, size, deadline_s=40.0):
    def ok():
        parts = c.zk_partitions(topic)
        if not parts:
            return False
        for p in range(partitions):
            st = parts[p]["state"]
            if not st or len(st["isr"]) != size or st["leader"] < 0:
                return False
        return parts
    return poll("%s: every partition has an ISR of %d" % (topic, size), ok, deadline_s,
                interval_s=0.2, describe=lambda: c.zk_partitions(topic))


def consume_partition(c, topic, p):
    """[(offset, value)] of one partition from the beginning to the high watermark."""
    b = next(iter(c.live().values()))
    lines = h.kcat_consume(b, topic, partition=p, fmt="%o %s\\n")
    out = []
    for l in lines:
        o, v = l.split(b" ", 1)
        out.append((int(o), v.rstrip(b".").decode()))
    return out


def restart(b):
    b.start(keep_port=True)


# ---------------------------------------------------------------- fault

def case_fault():
    topic, parts, duration = "fault", 6, 60
    with ch.Cluster("repl-fault", overrides=BASE) as c:
        c.create_topic(c.brokers[1], topic, parts, 3)
        c.wait_all_leaders(topic, parts)
        wait_isr(c, topic, parts, 3)
        acked_path = os.path.join(tempfile.mkdtemp(prefix="strata-repl-"), "acked")
        cmd = [h.env_path("STRATA_REPLPROD"), c.bootstrap(), topic, "--partitions", str(parts),
               "--duration", str(duration), "--rate", "400", "--acks", "all", "--acked",
               acked_path, "--set", "message.timeout.ms=150000", "--set", "enable.idempotence=true",
               "--set", "max.in.flight.requests.per.connection=5"]
        log = open(acked_path + ".log", "wb")
        prod = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log)
        t0 = time.monotonic()
        events = []
        try:
            step = 0
            while time.monotonic() - t0 < duration - 6:
                time.sleep(4)  # pacing of the fault schedule, not a wait for a condition
                step += 1
                if step == 3:
                    ctl, _ = c.controller()
                    if ctl in c.live():
                        events.append("kill -9 controller %d" % ctl)
                        c.brokers[ctl].kill()
                        time.sleep(2)  # pacing: the broker stays down a while
                        restart(c.brokers[ctl])
                    continue
                if step == 5:
                    st = state(c, topic, 0)
                    fol = [r for r in (st["isr"] if st else []) if r != st["leader"]]
                    if fol and fol[0] in c.live():
                        b = c.brokers[fol[0]]
                        events.append("SIGSTOP follower %d for %d ms" % (fol[0], LAG_MS + 2000))
                        os.kill(b.proc.pid, signal.SIGSTOP)
                        time.sleep((LAG_MS + 2000) / 1000.0)  # pacing: past replica.lag.time
                        os.kill(b.proc.pid, signal.SIGCONT)
                    continue
                st = state(c, topic, step % parts)
                if st and st["leader"] in c.live() and len(c.live()) == 3:
                    leader = st["leader"]
                    events.append("kill -9 leader %d of %s-%d" % (leader, topic, step % parts))
                    c.brokers[leader].kill()
                    time.sleep(1.5)  # pacing: the broker stays down a while
                    restart(c.brokers[leader])
            out, _ = prod.communicate(timeout=240)
        finally:
            if prod.poll() is None:
                prod.kill()
            log.close()
        summary = dict(kv.split("=", 1) for kv in out.decode().split())
        print("     events: %s" % "; ".join(events), flush=True)
        check(len(c.live()) == 3, "all brokers alive at the end", 3, len(c.live()))
        wait_isr(c, topic, parts, 3, deadline_s=60)
        acked = {}
        with open(acked_path) as f:
            for line in f:
                p, seq, off = line.split()
                acked[int(seq)] = (int(p), int(off))
        lost = dup = 0
        disorder = []
        for p in range(parts):
            recs = consume_partition(c, topic, p)
            offs = [o for o, _ in recs]
            check(offs == list(range(offs[0], offs[0] + len(offs))) if offs else True,
                  "%s-%d offsets contiguous" % (topic, p), "contiguous", offs[:20])
            seen = {}
            last = -1
            for o, v in recs:
                s = int(v)
                if s in seen:
                    dup += 1
                    continue
                seen[s] = o
                if s < last:
                    disorder.append((p, o, s, last))
                last = max(last, s)
            for s, (ap, _ao) in acked.items():
                if ap == p and s not in seen:
                    lost += 1
        print("     sent=%s acknowledged=%d lost=%d duplicated=%d (producer: %s)" %
              (summary.get("sent"), len(acked), lost, dup, out.decode().strip()), flush=True)
        check(len(acked) > 1000, "the producer got acknowledgements", "> 1000", len(acked))
        check(lost == 0, "no acknowledged record lost", 0, lost)
        check(not disorder, "records in order within each partition", [], disorder[:5])


# ---------------------------------------------------------------- min.insync.replicas

def case_min_isr():
    topic = "minisr"
    with ch.Cluster("repl-minisr", overrides=BASE) as c:
        c.create_topic(c.brokers[1], topic, 1, 3)
        c.wait_all_leaders(topic, 1)
        wait_isr(c, topic, 1, 3)
        s, _ = replprod(c.bootstrap(), topic, "--count", 10, "--acks", "all")
        check(s["acked"] == "10", "acks=all with 3 in sync", "10", s)
        replicas = c.zk_partitions(topic)[0]["replicas"]
        down, up = replicas[:2], replicas[2]  # the preferred replica goes down too
        for bid in down:
            c.brokers[bid].kill()
        poll("ISR shrunk to [%d]" % up, lambda: (state(c, topic, 0) or {}).get("isr") == [up], 30,
             interval_s=0.2, describe=lambda: state(c, topic, 0))
        s, err = replprod(c.bootstrap(), topic, "--count", 5, "--acks", "all", "--set",
                          "message.timeout.ms=5000", "--set", "retries=0")
        check(s["acked"] == "0" and "enough in-sync replicas" in err.lower(),
              "acks=all with 1 of 3 in sync fails with NOT_ENOUGH_REPLICAS", "acked=0",
              "%s %s" % (s, err[-500:]))
        s, _ = replprod(c.bootstrap(), topic, "--count", 5, "--acks", "1")
        check(s["acked"] == "5", "acks=1 still succeeds", "5", s)
        recs = consume_partition(c, topic, 0)
        check(len(recs) == 15, "nothing was appended by the refused acks=all", 15, len(recs))
        for bid in down:
            restart(c.brokers[bid])
        wait_isr(c, topic, 1, 3)
        s, _ = replprod(c.bootstrap(), topic, "--count", 10, "--acks", "all")
        check(s["acked"] == "10", "acks=all resumes once the ISR expanded", "10", s)
        check(len(consume_partition(c, topic, 0)) == 25, "25 records readable", 25, None)
        pref = replicas[0]
        poll("leadership back on the preferred replica %d (auto.leader.rebalance.enable)" % pref,
             lambda: (state(c, topic, 0) or {}).get("leader") == pref, 20, interval_s=0.2,
             describe=lambda: state(c, topic, 0))


# ---------------------------------------------------------------- divergent tail + HW

def segment_digests(b, topic, p):
    d = os.path.join(b.data_dir, "%s-%d" % (topic, p))
    out = {}
    for name in sorted(os.listdir(d)):
        if name.endswith(".log"):
            with open(os.path.join(d, name), "rb") as f:
                out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def case_divergent():
    topic = "div"
    slow = dict(BASE, **{"replica.fetch.min.bytes": 10000000, "replica.fetch.wait.max.ms": 3000,
                         "replica.lag.time.max.ms": 60000})
    with ch.Cluster("repl-div", overrides=slow) as c:
        c.create_topic(c.brokers[1], topic, 1, 3)
        c.wait_all_leaders(topic, 1)
        wait_isr(c, topic, 1, 3)
        s, _ = replprod(c.bootstrap(), topic, "--count", 100, "--acks", "all")
        check(s["acked"] == "100", "100 committed records", "100", s)
        st = state(c, topic, 0)
        old = st["leader"]
        # Uncommitted tail: acks=1 on the leader; followers wait up to 3 s before fetching it.
        s, _ = replprod(c.brokers[old].bootstrap, topic, "--count", 50, "--acks", "1")
        check(s["acked"] == "50", "50 acks=1 records on the leader", "50", s)
        recs = consume_partition(c, topic, 0)
        check(len(recs) == 100, "consumers see only up to the high watermark (followers behind)",
              100, len(recs))
        c.brokers[old].kill()
        poll("a new leader", lambda: (state(c, topic, 0) or {}).get("leader") not in (old, -1,
                                                                                      None),
             30, interval_s=0.2, describe=lambda: state(c, topic, 0))
        s, _ = replprod(c.bootstrap(), topic, "--count", 30, "--acks", "all")
        check(s["acked"] == "30", "30 records under the new leader", "30", s)
        restart(c.brokers[old])
        wait_isr(c, topic, 1, 3, deadline_s=60)

        def same():
            d = [segment_digests(b, topic, 0) for b in c.brokers.values()]
            return d if d[0] and all(x == d[0] for x in d) else False
        poll("all replicas' segment files byte-identical", same, 30, interval_s=0.3,
             describe=lambda: [segment_digests(b, topic, 0) for b in c.brokers.values()])
        recs = consume_partition(c, topic, 0)
        check(len(recs) == 130, "committed 100 + 30 records, divergent 50 gone", 130, len(recs))
        check([int(v) for _, v in recs[:100]] == list(range(100)), "first 100 intact", None, None)
        log = open(c.brokers[old].log_path, "rb").read().decode(errors="replace")
        check("truncating to 100" in log, "old leader truncated its tail at 100", "truncating to 100",
              [l for l in log.splitlines() if "truncat" in l][-3:])


# ---------------------------------------------------------------- lag shrink / expand

def case_lag():
    topic = "lag"
    # A ZooKeeper session longer than the stop: the follower stays registered, so only the
    # leader's lag rule can take it out of the ISR.
    o = dict(BASE, **{"zookeeper.session.timeout.ms": 15000})
    with ch.Cluster("repl-lag", overrides=o) as c:
        c.create_topic(c.brokers[1], topic, 1, 3)
        c.wait_all_leaders(topic, 1)
        wait_isr(c, topic, 1, 3)
        st = state(c, topic, 0)
        leader = st["leader"]
        fol = [r for r in st["isr"] if r != leader][0]
        b = c.brokers[fol]
        os.kill(b.proc.pid, signal.SIGSTOP)
        try:
            # Records keep coming (acks=1), so the stopped follower falls behind.
            replprod(c.brokers[leader].bootstrap, topic, "--count", 20, "--acks", "1")
            poll("leader %d drops stopped follower %d from the ISR" % (leader, fol),
                 lambda: fol not in (state(c, topic, 0) or {"isr": [fol]})["isr"],
                 LAG_MS / 1000.0 + 15, interval_s=0.2, describe=lambda: state(c, topic, 0))
            st2 = state(c, topic, 0)
            check(st2["leader"] == leader and st2["leader_epoch"] == st["leader_epoch"],
                  "same leader and leader epoch after the leader's ISR shrink",
                  (leader, st["leader_epoch"]), (st2["leader"], st2["leader_epoch"]))
            s, _ = replprod(c.bootstrap(), topic, "--count", 10, "--acks", "all")
            check(s["acked"] == "10", "acks=all with 2 of 3 in sync (min.insync.replicas 2)",
                  "10", s)
        finally:
            os.kill(b.proc.pid, signal.SIGCONT)
        wait_isr(c, topic, 1, 3, deadline_s=30)
        log = open(c.brokers[leader].log_path, "rb").read().decode(errors="replace")
        check("shrinking ISR" in log and "expanding ISR" in log,
              "the leader logged the shrink and the expansion", True,
              [l for l in log.splitlines() if "ISR" in l][-5:])
        check(len(consume_partition(c, topic, 0)) == 30, "30 records readable", 30, None)
        poll("the controller consumed /isr_change_notification", lambda: c.zk.children(
            "/isr_change_notification") == [], 15, interval_s=0.2,
            describe=lambda: c.zk.children("/isr_change_notification"))
        def hw_checkpointed():
            for b in c.brokers.values():
                path = os.path.join(b.data_dir, "replication-offset-checkpoint")
                if not os.path.exists(path) or "%s 0 30\n" % topic not in open(path).read():
                    return False
            return True
        poll("every replica checkpointed HW 30 in replication-offset-checkpoint", hw_checkpointed,
             15, interval_s=0.2)
        # Restored at restart: the follower's role line shows the checkpointed HW.
        b.stop()
        restart(b)
        poll("restarted follower %d restored HW 30" % fol, lambda: "leader epoch %d, LEO 30, HW 30)"
             % st["leader_epoch"] in b.log_tail(400).split("=== start 2")[-1], 20, interval_s=0.2,
             describe=lambda: [l for l in b.log_tail(60).splitlines() if "lag-0" in l])
        logs = "".join(open(b.log_path, "rb").read().decode(errors="replace")
                       for b in c.brokers.values())
        check("ISR change notification" in logs, "the controller saw the leader's notification",
              True, False)


# ---------------------------------------------------------------- unclean leader election

def case_unclean():
    with ch.Cluster("repl-unclean", overrides=BASE) as c:
        cli = h.env_path("STRATA_CLI")
        for topic, extra in (("clean", []), ("unclean", ["--config",
                                                          "unclean.leader.election.enable=true"])):
            rc, out, err = h.run([cli, "topics", "--bootstrap-server", c.brokers[1].bootstrap,
                                  "--create", "--topic", topic, "--replica-assignment", "1:2"] +
                                 extra, timeout=60)
            check(rc == 0, "create %s" % topic, 0, "%d %s %s" % (rc, out, err))
            wait_isr(c, topic, 1, 2)
            s, _ = replprod(c.bootstrap(), topic, "--count", 10, "--acks", "1")
            check(s["acked"] == "10", "10 records to %s" % topic, "10", s)
        c.brokers[2].kill()  # the follower: ISR [1]
        for topic in ("clean", "unclean"):
            poll("%s: ISR [1]" % topic, lambda t=topic: (state(c, t, 0) or {}).get("isr") == [1],
                 20, interval_s=0.2)
        c.brokers[1].kill()  # the whole ISR is gone
        restart(c.brokers[2])  # only the out-of-sync replica returns
        poll("unclean: replica 2 elected (unclean.leader.election.enable=true on the topic)",
             lambda: (state(c, "unclean", 0) or {}).get("leader") == 2, 20, interval_s=0.2,
             describe=lambda: state(c, "unclean", 0))
        st = state(c, "clean", 0)
        check(st["leader"] == -1, "clean: stays offline without an ISR member (default false)",
              -1, st)
        log = "".join(open(b.log_path, "rb").read().decode(errors="replace")
                      for b in c.brokers.values())
        check("unclean leader election of 2" in log, "the controller warned of possible loss",
              True, False)
        restart(c.brokers[1])
        poll("clean: leader 1 back", lambda: (state(c, "clean", 0) or {}).get("leader") == 1, 20,
             interval_s=0.2, describe=lambda: state(c, "clean", 0))


CASES = [("lag", case_lag), ("unclean", case_unclean), ("min_isr", case_min_isr), ("divergent", case_divergent), ("fault", case_fault)]

if __name__ == "__main__":
    ch.skip_unless_zookeeper()
    h.run_cases(CASES)
