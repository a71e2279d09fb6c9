"""The idempotent producer (librdkafka, enable.idempotence=true; build/strata-idemprod, since
kcat gives up when all brokers are down) writes numbered records while the standalone broker
is killed -9 and restarted repeatedly: the log must hold every number exactly once (no
duplicate, no gap), in send order within each partition."""

import os
import struct
import subprocess

from groups_util import check, h, poll

import kafka_wire as kw

API_INIT_PRODUCER_ID = 22

RECORDS = 30000
RATE = 3000  # records per second: the run spans the kills
KILLS = 3


def log_end(b, topic, partitions):
    """Sum of the partitions' log end offsets, or None while the broker is not serving them."""
    try:
        return sum(b.latest_offset(topic, p) for p in range(partitions))
    except (h.TestFailure, OSError, ValueError):
        return None


def case_kill9_no_duplicate_no_gap():
    b = h.Broker(name="groups-idem").start()
    keep = os.environ.get("KEEP")
    proc = None
    try:
        b.create_topic("idem", 3)
        out_path = os.path.join(b.tmp, "producer.out")
        err_path = os.path.join(b.tmp, "producer.err")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen([h.env_path("STRATA_IDEMPROD"), b.bootstrap, "idem",
                                     str(RECORDS), "--rate", str(RATE)],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=err)
            kills = 0
            mark = 0
            while proc.poll() is None and kills < KILLS:
                # kill once the producer has written another RECORDS / (KILLS + 2) records
                step = RECORDS // (KILLS + 2)
                poll("the producer writes %d more records" % step,
                     lambda: proc.poll() is not None or (log_end(b, "idem", 3) or 0) >= mark + step,
                     60)
                mark = log_end(b, "idem", 3) or mark
                if proc.poll() is not None:
                    break
                b.kill()
                b.start(keep_port=True)
                kills += 1
            rc = proc.wait(timeout=h.CLIENT_DEADLINE_S * 3)
        with open(out_path, "rb") as f:
            summary = f.read().decode(errors="replace")
        with open(err_path, "rb") as f:
            errs = f.read().decode(errors="replace")
        check(rc == 0, "the idempotent producer delivers every record", "rc 0",
              "rc %d: %s %s" % (rc, summary, errs[-1500:]))
        check(kills == KILLS, "the broker was killed -9 while the producer was writing", KILLS,
              kills)
        lines = h.kcat_consume(b, "idem", fmt="%p %s\\n")
        nums = [int(l.split(b" ")[1]) for l in lines]
        seen = {}
        for n in nums:
            seen[n] = seen.get(n, 0) + 1
        dups = sorted(n for n, c in seen.items() if c > 1)
        gaps = [n for n in range(RECORDS) if n not in seen]
        check(not dups and not gaps, "every record exactly once after %d kill -9" % kills,
              "%d records" % RECORDS, "%d records, %d duplicated (%r), %d missing (%r)" %
              (len(nums), len(dups), dups[:10], len(gaps), gaps[:10]))
        per = {}
        for l in lines:
            p, v = l.split(b" ")
            per.setdefault(p, []).append(int(v))
        for p, vs in per.items():
            check(vs == sorted(vs), "partition %s in send order" % p.decode(), "sorted", vs[:20])
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        if keep:
            print("kept", b.tmp)
        else:
            b.cleanup()


def idem_batch(pid, epoch, seq, values):
    """A magic-2 batch of an idempotent producer (kafka_wire's, with producer fields set)."""
    recs = b"".join(kw.record(i, None, v) for i, v in enumerate(values))
    ts = 1700000000000
    after_crc = (kw.i16(0) + kw.i32(len(values) - 1) + kw.i64(ts) + kw.i64(ts) + kw.i64(pid) +
                 kw.i16(epoch) + kw.i32(seq) + kw.i32(len(values)) + recs)
    rest = kw.i32(0) + kw.i8(2) + struct.pack(">I", kw.crc32c(after_crc)) + after_crc
    return kw.i64(0) + kw.i32(len(rest)) + rest


def init_producer_id(b):
    with b.conn() as c:
        body = c.call(API_INIT_PRODUCER_ID, 1, kw.string(None) + kw.i32(60000))
    r = kw.Reader(body)
    r.i32()
    err, pid, epoch = r.i16(), r.i64(), r.i16()
    check(err == 0 and pid >= 0 and epoch == 0, "InitProducerId v1", "NONE, pid >= 0, epoch 0",
          (kw.err_name(err), pid, epoch))
    return pid


def produce(b, batch):
    with b.conn() as c:
        body = c.call(kw.API_PRODUCE, 7, kw.produce_v7(-1, 10000, [("seq", [(0, batch)])]))
    res, _ = kw.parse_produce_v7(body)
    return res[("seq", 0)]


def case_sequence_rules_on_the_wire():
    b = h.Broker(name="groups-seq").start()
    try:
        b.create_topic("seq", 1)
        pid = init_producer_id(b)
        first = idem_batch(pid, 0, 0, [b"a", b"b", b"c"])
        err, off = produce(b, first)
        check(err == 0, "first idempotent batch accepted", "NONE", kw.err_name(err))
        produce(b, idem_batch(pid, 0, 3, [b"d"]))
        end = b.latest_offset("seq", 0)
        err, dup_off = produce(b, first)
        check(err == 0 and dup_off == off, "a retried batch gets NONE and its original offset",
              (0, off), (kw.err_name(err), dup_off))
        check(b.latest_offset("seq", 0) == end, "the retry is not appended again", end,
              b.latest_offset("seq", 0))
        err, _ = produce(b, idem_batch(pid, 0, 9, [b"gap"]))
        check(err == 45, "a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER", 45, kw.err_name(err))
        err, _ = produce(b, idem_batch(pid, 1, 3, [b"x"]))
        check(err == 45, "a new epoch must start at sequence 0", 45, kw.err_name(err))
        bumped = idem_batch(pid, 1, 0, [b"e1"])
        err, bumped_off = produce(b, bumped)
        check(err == 0, "a new epoch starting at 0 is accepted", "NONE", kw.err_name(err))
        err, _ = produce(b, idem_batch(pid, 0, 4, [b"old"]))
        check(err == 47, "an old epoch is INVALID_PRODUCER_EPOCH", 47, kw.err_name(err))
        # after kill -9 the state is rebuilt from the log; a clean stop writes a snapshot
        for how in ("kill", "stop"):
            getattr(b, how)()
            b.start(keep_port=True)
            b.wait_leaders("seq", 1)
            end = b.latest_offset("seq", 0)
            err, again = produce(b, bumped)
            check(err == 0 and again == bumped_off,
                  "after a broker %s a retried batch is still a duplicate" % how,
                  (0, bumped_off), (kw.err_name(err), again))
            check(b.latest_offset("seq", 0) == end, "and is not appended (%s)" % how, end,
                  b.latest_offset("seq", 0))
        snaps = [f for f in os.listdir(os.path.join(b.data_dir, "seq-0"))
                 if f.endswith(".snapshot")]
        check(snaps, "a clean stop leaves a <offset>.snapshot in the partition dir", "a file",
              os.listdir(os.path.join(b.data_dir, "seq-0")))
        pid2 = init_producer_id(b)
        check(pid2 != pid, "producer ids stay unique across restarts", "!= %d" % pid, pid2)
    finally:
        b.cleanup()


if __name__ == "__main__":
    h.run_cases([("sequence_rules_on_the_wire", case_sequence_rules_on_the_wire),
                 ("kill9_no_duplicate_no_gap", case_kill9_no_duplicate_no_gap)])
