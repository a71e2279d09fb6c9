#!/usr/bin/env python3
"""kafkajs 2.2.4 (npm, pinned in package.json) against a standalone broker: admin createTopics,
fetchTopicMetadata, listTopics, deleteTopics; the kafkajs producer (acks=-1); and kcat reading
back, per partition, exactly what kafkajs wrote. Exits 77 (ctest skip) when `npm ci` has not been
run in tests/integration (scripts/test.sh always runs it).
"""

import json
import os
import sys

import harness as h
from harness import check

HERE = os.path.dirname(os.path.abspath(__file__))
N = 5000


def kafkajs(b, *args):
    rc, out, err = h.run(["node", os.path.join(HERE, "kafkajs_client.js"), b.bootstrap] +
                         [str(a) for a in args], cwd=HERE)
    check(rc == 0, "kafkajs %s succeeds" % " ".join(map(str, args)), "exit 0",
          "exit %d; stderr: %s" % (rc, err[-2000:]))
    return json.loads(out.decode().strip().splitlines()[-1])


def case_admin_producer_and_kcat_readback():
    with h.Broker(name="kafkajs") as b:
        res = kafkajs(b, "create", "kjs", 3)
        check(res["created"] is True, "admin.createTopics returns true", True, res)
        md = kafkajs(b, "metadata", "kjs")
        topics = md["topics"]
        check(len(topics) == 1 and topics[0]["name"] == "kjs" and
              sorted(p["partitionId"] for p in topics[0]["partitions"]) == [0, 1, 2] and
              all(p["leader"] == 0 and p["replicas"] == [0] and p["isr"] == [0]
                  for p in topics[0]["partitions"]),
              "admin.fetchTopicMetadata: 3 partitions led by broker 0", "kjs p0..2 leader 0",
              topics)
        listed = kafkajs(b, "list")["topics"]
        check("kjs" in listed, "admin.listTopics lists kjs", "kjs", listed)
        again = kafkajs(b, "create", "kjs", 3)
        check(again["created"] is False, "createTopics on an existing topic resolves false",
              False, again)

        res = kafkajs(b, "produce", "kjs", N)
        check(all(r["errorCode"] == 0 for r in res["results"]), "producer.send errorCodes",
              "all 0", [r for r in res["results"] if r["errorCode"] != 0][:3])
        sent = {}
        for i in range(N):
            sent.setdefault(b"kjs-key-%d" % (i % 13), []).append(b"kjs-value-%d" % i)
        total = 0
        for p in range(3):
            lines = h.kcat_consume(b, "kjs", partition=p, fmt="%k\\t%s\\t%o\\n")
            msgs = [l.split(b"\t") for l in lines]
            total += len(msgs)
            check([int(m[2]) for m in msgs] == list(range(len(msgs))),
                  "kjs-%d offsets contiguous from 0" % p, "0..n-1", [m[2] for m in msgs[:5]])
            per_key = {}
            for k, v, _o in msgs:
                per_key.setdefault(k, []).append(v)
            for k, vs in per_key.items():
                check(vs == sent.get(k), "kcat reads key %r's values in kafkajs's order" % k,
                      "%d values" % len(sent.get(k, [])), "%d values" % len(vs))
        check(total == N, "kcat reads every kafkajs message", N, total)

        kafkajs(b, "delete", "kjs")
        listed = kafkajs(b, "list")["topics"]
        check("kjs" not in listed, "admin.deleteTopics removes kjs", "absent", listed)
        md = b.metadata(["kjs"])
        check(md["topics"][0]["error"] == 3, "Metadata v4 for deleted kjs",
              "UNKNOWN_TOPIC_OR_PARTITION(3)", md["topics"][0])


CASES = [(name[5:], fn) for name, fn in list(globals().items()) if name.startswith("case_")]

if __name__ == "__main__":
    if not os.path.isdir(os.path.join(HERE, "node_modules", "kafkajs")):
        print("kafkajs not installed: run `npm ci` in tests/integration (scripts/test.sh does)")
        sys.exit(77)
    h.run_cases(CASES)
