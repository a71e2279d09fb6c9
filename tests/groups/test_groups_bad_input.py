"""Bad group requests on the wire get Kafka's error codes and the group keeps serving its
other members: a JoinGroup with no protocols or an oversized metadata blob, mixed
protocols, unknown member ids, a stale generation, an OffsetCommit for a partition that does
not exist or from a member that is not in the group, and a garbled request (connection
closed, broker still serving)."""

from groups_util import check, h, poll

import kafka_wire as kw

JOIN, SYNC, HEARTBEAT, OFFSET_COMMIT, OFFSET_FETCH = 11, 14, 12, 8, 9
NONE, UNKNOWN_TOPIC_OR_PARTITION, ILLEGAL_GENERATION = 0, 3, 22
INCONSISTENT_GROUP_PROTOCOL, UNKNOWN_MEMBER_ID, INVALID_REQUEST = 23, 25, 42
MEMBER_ID_REQUIRED = 79


def join_v5(c, group, member, protocols, ptype="consumer"):
    body = (kw.string(group) + kw.i32(10000) + kw.i32(10000) + kw.string(member) +
            kw.string(None) + kw.string(ptype) +
            kw.array(protocols, lambda p: kw.string(p[0]) + kw.nbytes(p[1])))
    r = kw.Reader(c.call(JOIN, 5, body))
    r.i32()
    err, gen, proto, leader, mid = r.i16(), r.i32(), r.string(), r.string(), r.string()
    members = r.array(lambda r: (r.string(), r.string(), r.take(r.i32())))
    return err, gen, mid, leader, members


def sync_v3(c, group, gen, member, assignments):
    body = (kw.string(group) + kw.i32(gen) + kw.string(member) + kw.string(None) +
            kw.array(assignments, lambda a: kw.string(a[0]) + kw.nbytes(a[1])))
    r = kw.Reader(c.call(SYNC, 3, body))
    r.i32()
    return r.i16()


def heartbeat_v3(c, group, gen, member):
    r = kw.Reader(c.call(HEARTBEAT, 3, kw.string(group) + kw.i32(gen) + kw.string(member) +
                         kw.string(None)))
    r.i32()
    return r.i16()


def commit_v7(c, group, gen, member, parts):
    """parts: [(topic, partition, offset)] -> {(topic, partition): error}"""
    topics = {}
    for t, p, o in parts:
        topics.setdefault(t, []).append((p, o))
    body = (kw.string(group) + kw.i32(gen) + kw.string(member) + kw.string(None) +
            kw.array(list(topics.items()), lambda t: kw.string(t[0]) + kw.array(
                t[1], lambda p: kw.i32(p[0]) + kw.i64(p[1]) + kw.i32(-1) + kw.string(""))))
    r = kw.Reader(c.call(OFFSET_COMMIT, 7, body))
    r.i32()
    out = {}
    for name, ps in r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16())))):
        for p, e in ps:
            out[(name, p)] = e
    return out


def coordinator_ready(b, group):
    """FindCoordinator v0 until NONE (the first one creates __consumer_offsets)."""
    def ask():
        with b.conn() as c:
            r = kw.Reader(c.call(10, 0, kw.string(group)))
            return r.i16() == NONE
    poll("FindCoordinator answers NONE", ask, 30)


def stable_member(c, group):
    err, _, mid, _, _ = join_v5(c, group, "", [("range", b"\x00\x00")])
    check(err == MEMBER_ID_REQUIRED and mid, "JoinGroup v5 without id: MEMBER_ID_REQUIRED",
          MEMBER_ID_REQUIRED, kw.err_name(err))
    err, gen, mid2, leader, members = join_v5(c, group, mid, [("range", b"\x00\x00")])
    check(err == NONE and gen >= 1 and leader == mid and mid2 == mid,
          "JoinGroup with the given id makes the member leader", "NONE",
          (kw.err_name(err), gen, leader))
    check(sync_v3(c, group, gen, mid, [(mid, b"\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff")]) ==
          NONE, "SyncGroup by the leader", "NONE", "an error")
    return mid, gen


def case_bad_group_requests():
    b = h.Broker({"group.initial.rebalance.delay.ms": "0"}, name="groups-bad").start()
    try:
        b.create_topic("bt", 2)
        coordinator_ready(b, "bg")
        with b.conn(timeout=30) as c:
            mid, gen = stable_member(c, "bg")
            err = join_v5(c, "bg", "", [])[0]
            check(err == INCONSISTENT_GROUP_PROTOCOL, "JoinGroup with no protocols",
                  "INCONSISTENT_GROUP_PROTOCOL", kw.err_name(err))
            err = join_v5(c, "bg", "", [("RoundRobinAssigner", b"x")])[0]
            check(err == INCONSISTENT_GROUP_PROTOCOL, "JoinGroup with a protocol nobody shares",
                  "INCONSISTENT_GROUP_PROTOCOL", kw.err_name(err))
            err = join_v5(c, "bg", "", [("range", b"\x00" * (1 << 20 + 1))])[0]
            check(err == INVALID_REQUEST, "JoinGroup with an oversized metadata blob",
                  "INVALID_REQUEST", kw.err_name(err))
            err = join_v5(c, "bg", "not-a-member", [("range", b"")])[0]
            check(err == UNKNOWN_MEMBER_ID, "JoinGroup with an unknown member id",
                  "UNKNOWN_MEMBER_ID", kw.err_name(err))
            check(heartbeat_v3(c, "bg", gen + 5, mid) == ILLEGAL_GENERATION,
                  "Heartbeat with a stale generation", "ILLEGAL_GENERATION", "other")
            check(heartbeat_v3(c, "nosuchgroup", 1, mid) == UNKNOWN_MEMBER_ID,
                  "Heartbeat to an unknown group", "UNKNOWN_MEMBER_ID", "other")
            check(sync_v3(c, "bg", gen + 1, mid, []) == ILLEGAL_GENERATION,
                  "SyncGroup with a stale generation", "ILLEGAL_GENERATION", "other")
            res = commit_v7(c, "bg", gen, mid, [("bt", 0, 5), ("bt", 9, 5), ("nosuch", 0, 1)])
            check(res == {("bt", 0): NONE, ("bt", 9): UNKNOWN_TOPIC_OR_PARTITION,
                          ("nosuch", 0): UNKNOWN_TOPIC_OR_PARTITION},
                  "OffsetCommit: unknown partitions fail alone", "NONE, 3, 3", res)
            res = commit_v7(c, "bg", gen, "intruder", [("bt", 1, 5)])
            check(res == {("bt", 1): UNKNOWN_MEMBER_ID}, "OffsetCommit from a non-member",
                  "UNKNOWN_MEMBER_ID", res)
            res = commit_v7(c, "other", 3, "x", [("bt", 1, 5)])
            check(res == {("bt", 1): ILLEGAL_GENERATION},
                  "OffsetCommit with a generation for an unknown group", "ILLEGAL_GENERATION",
                  res)
            # the group still serves its member
            check(heartbeat_v3(c, "bg", gen, mid) == NONE, "the member still heartbeats",
                  "NONE", "an error")
        # garbled: a JoinGroup cut in the middle of its protocol array
        with b.conn() as c:
            body = kw.string("bg") + kw.i32(10000) + kw.i32(10000) + kw.string("") + \
                kw.string(None) + kw.string("consumer") + kw.i32(3) + kw.string("range")
            c.send(kw.request(JOIN, 5, 1, body))
            check(c.wait_closed(), "a garbled JoinGroup closes the connection", "closed", "open")
        h.assert_served(b, "after the bad group requests")
        with b.conn() as c:
            check(heartbeat_v3(c, "bg", gen, mid) == NONE, "the group survived the bad requests",
                  "NONE", "an error")
    finally:
        b.cleanup()


if __name__ == "__main__":
    h.run_cases([("bad_group_requests", case_bad_group_requests)])
