"""`strata consumer-groups` against a standalone broker: --list, --describe (the
kafka-consumer-groups columns, lag), --reset-offsets (dry run, execute, only on an inactive
group) and --delete (refused for a non-empty or unknown group; an empty group is deleted and
leaves --list), with their output checked."""

from groups_util import Member, check, cli, describe, h, poll

import os

import kafka_wire as kw

DEADLINE_S = 60


def consume_group(b, group, topic, count):
    """kcat -G reading `count` records then leaving (commits on close)."""
    rc, out, err = h.run(["kcat", "-b", b.bootstrap, "-G", group, topic, "-c", str(count), "-q",
                          "-f", "%s\\n", "-X", "auto.offset.reset=earliest",
                          "-X", "session.timeout.ms=6000"])
    check(rc == 0, "kcat -G %s exits 0" % group, 0, "rc %d: %s" % (rc, err[-800:]))
    return out.split(b"\n")[:-1]


def case_list_describe_reset():
    b = h.Broker({"group.initial.rebalance.delay.ms": "0"}, name="groups-cli").start()
    member = None
    try:
        b.create_topic("c2", 2)
        h.kcat_produce(b, "c2", [b"%d:%d" % (i % 2, i) for i in range(40)], key_delim=":",
                       extra=("-X", "partitioner=murmur2"))
        _, out, _ = cli(b, "--list")
        check(out == "", "--list with no group prints nothing", "", out)
        got = consume_group(b, "cg1", "c2", 40)
        check(len(got) == 40, "kcat -G read 40 records", 40, len(got))
        _, out, _ = cli(b, "--list")
        check(out.splitlines() == ["cg1"], "--list prints the group", ["cg1"], out)

        rows = poll("--describe shows 2 partitions with lag 0",
                    lambda: (lambda r: r if r and len(r) == 2 and all(x["LAG"] == "0" for x in r)
                             else None)(describe(b, "cg1")), DEADLINE_S)
        _, out, _ = cli(b, "--describe", "--group", "cg1")
        lines = out.splitlines()
        check("Consumer group 'cg1' has no active members." in lines,
              "--describe of an empty group says it has no active members", "the line", out)
        header = [l for l in lines if l.startswith("GROUP")][0].split()
        check(header == ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG",
                         "CONSUMER-ID", "HOST", "CLIENT-ID"],
              "--describe columns are kafka-consumer-groups'", "the 9 columns", header)
        check([(r["TOPIC"], r["PARTITION"]) for r in rows] == [("c2", "0"), ("c2", "1")],
              "one row per partition, sorted", "c2 0, c2 1", rows)
        check(sum(int(r["CURRENT-OFFSET"]) for r in rows) == 40 and
              all(r["CURRENT-OFFSET"] == r["LOG-END-OFFSET"] and r["CONSUMER-ID"] == "-"
                  for r in rows), "committed = log end, no consumer", "40 in all", rows)

        # lag appears when records arrive
        h.kcat_produce(b, "c2", [b"0:x%d" % i for i in range(5)], key_delim=":",
                       extra=("-X", "partitioner=murmur2"))
        rows = describe(b, "cg1")
        check(sum(int(r["LAG"]) for r in rows) == 5, "--describe shows a lag of 5", 5, rows)

        # reset: dry run changes nothing, execute commits
        _, out, _ = cli(b, "--reset-offsets", "--group", "cg1", "--topic", "c2", "--to-earliest",
                        "--dry-run")
        lines = [l.split() for l in out.splitlines() if l.strip()]
        check(lines[0] == ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"] and
              lines[1:] == [["cg1", "c2", "0", "0"], ["cg1", "c2", "1", "0"]],
              "--dry-run prints the new offsets", "0 and 0", out)
        rows = describe(b, "cg1")
        check(sum(int(r["CURRENT-OFFSET"]) for r in rows) == 40, "--dry-run commits nothing", 40,
              rows)
        _, out, _ = cli(b, "--reset-offsets", "--group", "cg1", "--topic", "c2:1", "--to-offset",
                        "3", "--execute")
        check([l.split() for l in out.splitlines() if l.strip()][1:] == [["cg1", "c2", "1", "3"]],
              "--to-offset on one partition", "c2 1 -> 3", out)
        rows = {r["PARTITION"]: r for r in describe(b, "cg1")}
        check(rows["1"]["CURRENT-OFFSET"] == "3", "--execute committed offset 3", "3", rows)
        _, out, _ = cli(b, "--reset-offsets", "--group", "cg1", "--topic", "c2", "--to-latest",
                        "--execute")
        rows = describe(b, "cg1")
        check(all(r["LAG"] == "0" for r in rows), "--to-latest leaves no lag", "lag 0", rows)
        _, out, _ = cli(b, "--reset-offsets", "--group", "cg1", "--topic", "c2",
                        "--to-datetime", "2000-01-01T00:00:00.000", "--execute")
        rows = describe(b, "cg1")
        check(all(r["CURRENT-OFFSET"] == "0" for r in rows),
              "--to-datetime before every record resets to the start", "0", rows)
        got = consume_group(b, "cg1", "c2", 45)
        check(len(got) == 45, "the group re-reads everything after the reset", 45, len(got))

        # an active group cannot be reset or deleted
        member = Member(b, "cg1", "c2", "active")
        poll("the member is in the group", lambda: (lambda r: r and any(
            x["CONSUMER-ID"] != "-" for x in r))(describe(b, "cg1")), DEADLINE_S)
        _, out, err = cli(b, "--reset-offsets", "--group", "cg1", "--topic", "c2",
                          "--to-earliest", "--execute", expect_rc=1)
        check("can only be reset if the group 'cg1' is inactive" in err and "Stable" in err,
              "reset of an active group is refused", "Kafka's message", err)
        _, _, err = cli(b, "--delete", "--group", "cg1", expect_rc=1)
        check("Error: Deletion of some consumer groups failed:" in err and
              "* Group 'cg1' could not be deleted due to: NON_EMPTY_GROUP" in err,
              "delete of an active group is refused", "NON_EMPTY_GROUP", err)
        _, _, err = cli(b, "--delete", "--group", "nope", expect_rc=1)
        check("* Group 'nope' could not be deleted due to: GROUP_ID_NOT_FOUND" in err,
              "delete of an unknown group", "GROUP_ID_NOT_FOUND", err)
        _, out, _ = cli(b, "--list")
        check(out.splitlines() == ["cg1"], "a refused delete keeps the group", ["cg1"], out)

        # once the member left, the group is empty and can be deleted (with its offsets)
        member.stop()
        poll("the member left the group", lambda: (lambda r: r is not None and all(
            x["CONSUMER-ID"] == "-" for x in r))(describe(b, "cg1")), DEADLINE_S)
        _, out, err = cli(b, "--delete", "--group", "cg1")
        check(out.strip() == "Deletion of requested consumer groups ('cg1') was successful.",
              "delete of an empty group", "Kafka's success line", (out, err))
        _, out, _ = cli(b, "--list")
        check(out == "", "--list no longer shows the deleted group", "", out)
        _, _, err = cli(b, "--describe", "--group", "cg1", expect_rc=1)
        check("Consumer group 'cg1' does not exist." in err, "the deleted group is gone",
              "does not exist", err)
        # a group made of committed offsets only (no member ever joined) deletes too; one
        # refused group in the same command is reported beside the one deleted
        cli(b, "--reset-offsets", "--group", "cg2", "--topic", "c2", "--to-earliest",
            "--execute")
        _, out, _ = cli(b, "--list")
        check(out.splitlines() == ["cg2"], "--reset-offsets --execute made group cg2", ["cg2"],
              out)
        _, out, err = cli(b, "--delete", "--group", "nope", "--group", "cg2", expect_rc=1)
        check("* Group 'nope' could not be deleted due to: GROUP_ID_NOT_FOUND" in err and
              "These consumer groups were deleted successfully: 'cg2'" in out,
              "a partly failed delete names both", "both lines", (out, err))
        _, out, _ = cli(b, "--list")
        check(out == "", "--list is empty after deleting cg2", "", out)
        _, _, err = cli(b, "--describe", "--group", "nope", expect_rc=1)
        check("Consumer group 'nope' does not exist." in err, "describe of an unknown group",
              "does not exist", err)
        _, _, err = cli(b, "--describe", expect_rc=2)
    finally:
        if member:
            member.close()
        b.cleanup()


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


def case_restart_loads_a_large_offsets_partition():
    """More than 1 MiB of commits in one __consumer_offsets partition: a restarted broker
    reads it in several chunks off its event loop and serves the last commit."""
    b = h.Broker({"group.initial.rebalance.delay.ms": "0"}, name="groups-load").start()
    try:
        b.create_topic("big", 1)
        poll("the coordinator accepts a commit",
             lambda: admin_commit(b, "big-grp", "big", 0, 0, "") == 0, DEADLINE_S)
        meta = "m" * 4000  # under offset.metadata.max.bytes (4096)
        for i in range(1, 400):  # about 1.6 MB of records
            err = admin_commit(b, "big-grp", "big", 0, i, meta)
            check(err == 0, "admin commit %d" % i, 0, kw.err_name(err))
        check(admin_commit(b, "big-grp", "big", 0, 1234, "last") == 0, "the last commit", 0,
              "an error")
        sizes = [sum(os.path.getsize(os.path.join(root, f)) for f in files if f.endswith(".log"))
                 for root, _, files in os.walk(b.data_dir)
                 if os.path.basename(root).startswith("__consumer_offsets-")]
        check(max(sizes) > (1 << 20), "the group's partition holds more than one 1 MiB chunk",
              "> 1 MiB", max(sizes))
        b.stop()
        b.start(keep_port=True)
        rows = poll("--describe after the restart", lambda: describe(b, "big-grp"), DEADLINE_S)
        check([(r["TOPIC"], r["PARTITION"], r["CURRENT-OFFSET"]) for r in rows] ==
              [("big", "0", "1234")], "the restarted broker serves the last commit",
              "big 0 1234", rows)
        log = b.log_tail(100000)
        check("loading __consumer_offsets" in log and "stopped at offset" not in log,
              "the load read the whole partition", "no 'stopped at offset'", log[-800:])
    finally:
        b.cleanup()


if __name__ == "__main__":
    h.run_cases([("list_describe_reset", case_list_describe_reset),
                 ("restart_loads_a_large_offsets_partition",
                  case_restart_loads_a_large_offsets_partition)])
