"""kafkajs 2.2.4 consumer group (eachMessage, commits) reads what kcat wrote; its committed
offsets are what `strata consumer-groups --describe` shows; a second run of the group
resumes after them."""

import json
import os
import sys

from groups_util import HERE, check, describe, h, poll

NODE_MODULES = os.path.join(HERE, "..", "integration", "node_modules", "kafkajs")


def run_member(b, group, topic, count):
    rc, out, err = h.run(["node", os.path.join(HERE, "kafkajs_group.js"), b.bootstrap, group,
                          topic, str(count)], timeout=h.CLIENT_DEADLINE_S)
    check(rc == 0, "kafkajs consumer group exits 0", 0, "rc %d: %s" % (rc, err[-1500:]))
    return json.loads(out.decode().strip().splitlines()[-1])["values"]


def case_kafkajs_group_reads_kcat_and_commits():
    b = h.Broker({"group.initial.rebalance.delay.ms": "0"}, name="groups-kafkajs").start()
    try:
        b.create_topic("kj", 3)
        first = [b"k%d:v-%d" % (i, i) for i in range(90)]
        h.kcat_produce(b, "kj", first, key_delim=":")
        got = run_member(b, "kjs", "kj", 90)
        check(sorted(got) == sorted("v-%d" % i for i in range(90)),
              "kafkajs reads each kcat record once", 90, "%d values: %r" % (len(got), got[:5]))
        rows = poll("committed offsets visible to strata consumer-groups",
                    lambda: describe(b, "kjs"), 30)
        total = sum(int(r["CURRENT-OFFSET"]) for r in rows if r["CURRENT-OFFSET"] != "-")
        check(total == 90 and all(r["LAG"] in ("0", "-") for r in rows),
              "--describe shows the kafkajs commits with lag 0", "90 committed, lag 0", rows)
        second = [b"k%d:w-%d" % (i, i) for i in range(12)]
        h.kcat_produce(b, "kj", second, key_delim=":")
        got = run_member(b, "kjs", "kj", 12)
        check(sorted(got) == sorted("w-%d" % i for i in range(12)),
              "a second kafkajs run resumes after the commits", 12, got[:20])
    finally:
        b.cleanup()


if __name__ == "__main__":
    if not os.path.isdir(NODE_MODULES):
        print("SKIP: kafkajs not installed under tests/integration/node_modules")
        sys.exit(77)
    h.run_cases([("kafkajs_group_reads_kcat_and_commits",
                  case_kafkajs_group_reads_kcat_and_commits)])
