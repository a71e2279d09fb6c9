"""Issue 7 on a three-broker cluster (real ZooKeeper, tests/cluster/cluster_harness.py):
- the idempotent librdkafka producer (acks=all) writes numbered records to a replicated topic
  while the leader of its partitions is killed -9: no duplicate and no gap after failover;
- a consumer group's committed offsets survive a kill -9 of its coordinator: the new leader of
  the group's __consumer_offsets partition loads them and serves them;
- an offset commit enters the coordinator's cache only once the ISR has its record: with the
  followers of the group's __consumer_offsets partition stopped, OffsetFetch keeps answering
  the previous commit, the commit gets REQUEST_TIMED_OUT (offsets.commit.timeout.ms) and
  the offset stays the previous one (Kafka's GroupMetadataManager.storeOffsets); likewise the
  leader's SyncGroup is answered only when the group record is stored: REBALANCE_IN_PROGRESS
  after the timeout, then NONE once the followers are back (GroupCoordinator.doSyncGroup)."""

import os
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))

import cluster_harness as ch  # noqa: E402
from groups_util import check, describe, h, poll  # noqa: E402

import kafka_wire as kw  # noqa: E402

RECORDS = 20000
RATE = 2000
OFFSET_COMMIT, OFFSET_FETCH, FIND_COORDINATOR, JOIN, SYNC = 8, 9, 10, 11, 14
NONE, REQUEST_TIMED_OUT, REBALANCE_IN_PROGRESS, MEMBER_ID_REQUIRED = 0, 7, 27, 79


def group_partition(group, n=50):
    """abs(Java String.hashCode(group)) % n (ASCII group ids)."""
    h_ = 0
    for ch_ in group:
        h_ = (h_ * 31 + ord(ch_)) & 0xFFFFFFFF
    if h_ >= 1 << 31:
        h_ -= 1 << 32
    return 0 if h_ == -(1 << 31) else abs(h_) % n


def commit_v7_body(group, topic, partition, offset):
    """An admin/simple-consumer commit (generation -1, no member) of one partition."""
    return (kw.string(group) + kw.i32(-1) + kw.string("") + kw.string(None) +
            kw.array([topic], lambda t: kw.string(t) + kw.array(
                [partition], lambda p: kw.i32(p) + kw.i64(offset) + kw.i32(-1) + kw.string(""))))


def parse_commit_v7(body):
    r = kw.Reader(body)
    r.i32()
    return [e for _, ps in r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16()))))
            for _, e in ps][0]


def join_v5(c, group, member):
    body = (kw.string(group) + kw.i32(10000) + kw.i32(10000) + kw.string(member) +
            kw.string(None) + kw.string("consumer") +
            kw.array([("range", b"\x00\x00")], lambda p: kw.string(p[0]) + kw.nbytes(p[1])))
    r = kw.Reader(c.call(JOIN, 5, body))
    r.i32()
    err, gen, _, _, mid = r.i16(), r.i32(), r.string(), r.string(), r.string()
    return err, gen, mid


def sync_v3_body(group, gen, member):
    return (kw.string(group) + kw.i32(gen) + kw.string(member) + kw.string(None) +
            kw.array([member], lambda m: kw.string(m) + kw.nbytes(b"\x00\x00\x00\x00")))


def sync_v3(c, group, gen, member):
    r = kw.Reader(c.call(SYNC, 3, sync_v3_body(group, gen, member)))
    r.i32()
    return r.i16()


def fetch_v5(c, group, topic, partition):
    """OffsetFetch v5 of one partition: (committed offset, partition error, top-level error)."""
    body = kw.string(group) + kw.array([topic], lambda t: kw.string(t) + kw.array(
        [partition], kw.i32))
    r = kw.Reader(c.call(OFFSET_FETCH, 5, body))
    r.i32()
    parts = [p for _, ps in r.array(lambda r: (r.string(), r.array(
        lambda r: (r.i32(), r.i64(), r.i32(), r.string(), r.i16())))) for p in ps]
    top = r.i16()
    return parts[0][1], parts[0][4], top


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


def case_commit_cached_only_once_replicated():
    # ZooKeeper sessions (asked 30 s, granted at most 10 s by the test server) and
    # replica.lag.time.max.ms (30 s) outlive the followers' ~5 s stop, so the ISR stays
    # {coordinator, followers} and the coordinator's appends cannot be replicated meanwhile
    with ch.Cluster("gisr", overrides={"zookeeper.session.timeout.ms": 30000}) as c:
        ch.poll("a controller", lambda: c.controller()[0] is not None, 20.0)
        c.create_topic(c.brokers[1], "cw", 1, 3)
        c.wait_all_leaders("cw", 1)
        group = "gwait"

        def coordinator():
            with c.brokers[1].conn() as conn:
                r = kw.Reader(conn.call(FIND_COORDINATOR, 0, kw.string(group)))
                err, node = r.i16(), r.i32()
                return node if err == NONE and node in c.brokers else None
        coord = poll("FindCoordinator names the coordinator", coordinator, 30)
        part = group_partition(group)
        poll("__consumer_offsets-%d led by %d with all 3 in sync" % (part, coord), lambda: (
            lambda z: z and z[part]["state"] and z[part]["state"]["leader"] == coord and
            len(z[part]["state"]["isr"]) == 3)(c.zk_partitions("__consumer_offsets")), 30)
        b = c.brokers[coord]

        def commit(offset):
            with b.conn() as conn:
                return parse_commit_v7(conn.call(OFFSET_COMMIT, 7,
                                                 commit_v7_body(group, "cw", 0, offset)))
        poll("a first commit (offset 5) answers NONE", lambda: commit(5) == NONE, 30)
        with b.conn() as conn:
            check(fetch_v5(conn, group, "cw", 0) == (5, NONE, NONE), "OffsetFetch serves 5",
                  (5, NONE, NONE), fetch_v5(conn, group, "cw", 0))
        # a consumer group in the same __consumer_offsets partition, Stable before the stop
        group2 = next(g for g in ("gsync%d" % i for i in range(100000))
                      if group_partition(g) == part)
        member = h.Conn(b.port, timeout=30.0)
        err, _, mid = join_v5(member, group2, "")
        check(err == MEMBER_ID_REQUIRED, "JoinGroup v5: MEMBER_ID_REQUIRED",
              kw.err_name(MEMBER_ID_REQUIRED), kw.err_name(err))
        err, gen, _ = join_v5(member, group2, mid)
        check(err == NONE and sync_v3(member, group2, gen, mid) == NONE,
              "a one-member group is Stable", "NONE", kw.err_name(err))
        followers = [c.brokers[r] for r in
                     c.zk_partitions("__consumer_offsets")[part]["replicas"] if r != coord]
        for f in followers:
            os.kill(f.proc.pid, signal.SIGSTOP)
        # both waits run at once: the stop must stay shorter than the ZooKeeper session
        # (the server caps it at 20 ticks = 10 s) and replica.lag.time.max.ms (30 s)
        try:
            pending = h.Conn(b.port, timeout=30.0)
            try:
                pending.send(kw.request(OFFSET_COMMIT, 7, 11, commit_v7_body(group, "cw", 0, 9)))
                with b.conn() as conn:
                    # answered while the commit of 9 waits for the stopped followers
                    got = fetch_v5(conn, group, "cw", 0)
                check(got == (5, NONE, NONE), "OffsetFetch answers the previous commit while "
                      "the new one is not replicated", (5, NONE, NONE), got)
                # the leader rejoins (new generation at once: JoinGroup stores nothing), then
                # its SyncGroup waits for the group record the ISR does not get
                err, gen, _ = join_v5(member, group2, mid)
                check(err == NONE, "the rejoin completes the rebalance", "NONE",
                      kw.err_name(err))
                member.send(kw.request(SYNC, 3, 12, sync_v3_body(group2, gen, mid)))
                resp = pending.recv_frame()
                check(resp is not None and resp[0] == 11, "the pending commit is answered",
                      11, resp)
                err = parse_commit_v7(resp[1])
                check(err == REQUEST_TIMED_OUT, "a commit the ISR never got: REQUEST_TIMED_OUT",
                      kw.err_name(REQUEST_TIMED_OUT), kw.err_name(err))
                resp = member.recv_frame()
                check(resp is not None and resp[0] == 12, "the pending SyncGroup is answered",
                      12, resp)
                r = kw.Reader(resp[1])
                r.i32()
                err = r.i16()
                check(err == REBALANCE_IN_PROGRESS, "SyncGroup whose group record is not "
                      "replicated in time: REBALANCE_IN_PROGRESS (storeGroup's REQUEST_TIMED_OUT)",
                      kw.err_name(REBALANCE_IN_PROGRESS), kw.err_name(err))
            finally:
                pending.close()
            with b.conn() as conn:
                got = fetch_v5(conn, group, "cw", 0)
            check(got == (5, NONE, NONE), "the failed commit left the cached offset alone",
                  (5, NONE, NONE), got)
        finally:
            for f in followers:
                os.kill(f.proc.pid, signal.SIGCONT)

        def rejoin_and_sync():
            e, g, _ = join_v5(member, group2, mid)
            return e == NONE and sync_v3(member, group2, g, mid) == NONE
        poll("the group is Stable again once the followers are back", rejoin_and_sync, 30)
        member.close()
        poll("a commit once the followers are back (offset 11) answers NONE",
             lambda: commit(11) == NONE, 30)
        with b.conn() as conn:
            got = fetch_v5(conn, group, "cw", 0)
        check(got == (11, NONE, NONE), "OffsetFetch serves the replicated commit",
              (11, NONE, NONE), got)


if __name__ == "__main__":
    ch.skip_unless_zookeeper()
    h.run_cases([("idempotent_producer_leader_kill", case_idempotent_producer_leader_kill),
                 ("commits_survive_coordinator_kill", case_commits_survive_coordinator_kill),
                 ("commit_cached_only_once_replicated", case_commit_cached_only_once_replicated)])
