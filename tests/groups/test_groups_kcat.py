"""Consumer groups with real librdkafka consumers (kcat -G) against a standalone broker:
three members share a 6-partition topic and consume every record exactly once; a killed
member's partitions go to the others within session timeout + rebalance; commits land and a
restarted broker (stopped, or killed -9) serves them."""

import collections
import os

from groups_util import Member, check, cli, describe, h, poll

GROUP_DEADLINE_S = 60  # session.timeout.ms 6 s + a rebalance, with slack for a loaded machine


def assigned(broker, group, members, partitions):
    rows = describe(broker, group)
    if not rows or len(rows) < partitions:
        return False
    ids = {r["CONSUMER-ID"] for r in rows}
    return ("-" not in ids and len(ids) == members) and rows


def lag_zero(broker, group, partitions):
    rows = describe(broker, group)
    return (rows and len(rows) == partitions and
            all(r["LAG"] == "0" or r["LOG-END-OFFSET"] == "0" for r in rows) and rows)


def exactly_once(members, values, what):
    counts = collections.Counter(v for m in members for v in m.values())
    missing = [v for v in values if counts[v] == 0]
    dups = [v for v in values if counts[v] > 1]
    check(not missing and not dups, what, "each once",
          "%d missing (%r...), %d duplicated (%r...)" % (len(missing), missing[:5], len(dups),
                                                        dups[:5]))


def all_seen(members, values):
    seen = set(v for m in members for v in m.values())
    return all(v in seen for v in values)


def produce_keyed(broker, topic, values):
    """Keyed records so the default partitioner spreads them over every partition."""
    h.kcat_produce(broker, topic, [b"k%d:%s" % (i, v) for i, v in enumerate(values)],
                   key_delim=":")


def case_three_members_takeover_restart():
    b = h.Broker({"group.initial.rebalance.delay.ms": "300"}, name="groups-kcat").start()
    members = []
    try:
        b.create_topic("g6", 6)
        members = [Member(b, "grp", "g6", str(i)) for i in range(3)]
        poll("3 kcat -G members share the 6 partitions", lambda: assigned(b, "grp", 3, 6),
             GROUP_DEADLINE_S)
        batch_a = [b"a-%d" % i for i in range(600)]
        produce_keyed(b, "g6", batch_a)
        poll("the 600 records are consumed", lambda: all_seen(members, batch_a), GROUP_DEADLINE_S)
        exactly_once(members, batch_a, "every record consumed exactly once across 3 members")
        poll("commits land (lag 0 on all 6 partitions)", lambda: lag_zero(b, "grp", 6),
             GROUP_DEADLINE_S)

        # kill -9 one member: its partitions go to the other two
        members[0].kill()
        poll("the 2 survivors take all 6 partitions", lambda: assigned(b, "grp", 2, 6),
             GROUP_DEADLINE_S)
        batch_b = [b"b-%d" % i for i in range(600)]
        produce_keyed(b, "g6", batch_b)
        poll("the survivors consume the new records", lambda: all_seen(members[1:], batch_b),
             GROUP_DEADLINE_S)
        exactly_once(members[1:], batch_b, "records after the takeover consumed exactly once")
        poll("commits land after the takeover", lambda: lag_zero(b, "grp", 6), GROUP_DEADLINE_S)
        for m in members:
            m.stop()
        before = {(r["TOPIC"], r["PARTITION"]): r["CURRENT-OFFSET"] for r in describe(b, "grp")}
        total = sum(int(v) for v in before.values() if v != "-")
        check(total == 1200, "committed offsets cover the 1200 records", 1200, before)

        # a stopped and a killed broker both serve the committed offsets again
        for how in ("stop", "kill"):
            getattr(b, how)()
            b.start(keep_port=True)
            rows = poll("committed offsets after broker %s" % how,
                        lambda: describe(b, "grp"), GROUP_DEADLINE_S)
            after = {(r["TOPIC"], r["PARTITION"]): r["CURRENT-OFFSET"] for r in rows}
            check(after == before, "committed offsets survive a broker %s" % how, before, after)

        # a new member resumes from the commits: it reads only what comes next
        batch_c = [b"c-%d" % i for i in range(10)]
        produce_keyed(b, "g6", batch_c)
        late = Member(b, "grp", "g6", "late")
        members.append(late)
        poll("a new member reads the 10 new records", lambda: all_seen([late], batch_c),
             GROUP_DEADLINE_S)
        check(sorted(late.values()) == sorted(batch_c), "the new member reads nothing old",
              sorted(batch_c), sorted(late.values())[:20])
        poll("lag goes to 0", lambda: lag_zero(b, "grp", 6), GROUP_DEADLINE_S)
    finally:
        for m in members:
            m.close()
        if os.environ.get("KEEP"):
            print("kept", b.tmp)
        else:
            b.cleanup()


if __name__ == "__main__":
    h.run_cases([("three_members_takeover_restart", case_three_members_takeover_restart)])
