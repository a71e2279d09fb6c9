"""Cluster-test harness (issue 5): a real ZooKeeper from Debian's package (scripts/zk.sh, free
loopback port, mkdtemp data dir, stopped by PID and also when this process dies) and three
strata-broker processes with broker.rack on two racks (1: rack-a, 2: rack-b, 3: rack-a), each on
its own free port and data dir, coordinated under a chroot. ZooKeeper is read back with
strata-zkdump (coord_zk), Metadata with kcat -L -J. Builds on tests/integration/harness.py
(Broker, kcat helpers, case runner).

Environment (set by tests/cluster/tests.cmake): STRATA_BROKER, STRATA_CLI, STRATA_CONFIG,
STRATA_ZKDUMP, STRATA_SOURCE_DIR. Exits 77 (ctest skip) when java/zookeeper are absent.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness as h  # noqa: E402
from harness import TestFailure, check, poll  # noqa: E402

SESSION_MS = 1000  # ZooKeeper notices a dead broker after ~1 s (tickTime 500: the minimum)
RACKS = {1: "rack-a", 2: "rack-b", 3: "rack-a"}
CHROOT = "/strata"


class ZooKeeper:
    def __init__(self):
        self.script = os.path.join(h.env_path("STRATA_SOURCE_DIR"), "scripts", "zk.sh")
        self.dir = tempfile.mkdtemp(prefix="strata-ct-zk-")
        self.port = None
        self.zkdump = h.env_path("STRATA_ZKDUMP")

    def _zk(self, *args):
        env = dict(os.environ, ZK_OWNER_PID=str(os.getpid()))
        p = subprocess.run([self.script] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, timeout=120)
        if p.returncode != 0:
            raise TestFailure("zk.sh %s failed (%d): %s" % (args[0], p.returncode,
                                                            p.stderr.decode(errors="replace")))
        return p.stdout.decode().strip()

    def start(self):
        out = self._zk("start", self.dir, *( [str(self.port)] if self.port else []))
        self.port = int(out.splitlines()[-1])
        return self

    def stop(self):
        self._zk("stop", self.dir)

    def cleanup(self):
        try:
            self.stop()
        except Exception:  # noqa: BLE001 - best effort at teardown
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def connect(self):
        return "127.0.0.1:%d%s" % (self.port, CHROOT)

    def dump(self, path="/"):
        """{path: (data str, version)} of the subtree, or None when path is absent."""
        p = subprocess.run([self.zkdump, self.connect, path], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        if p.returncode == 1 and b"no such node" in p.stderr:
            return None
        if p.returncode != 0:
            raise TestFailure("strata-zkdump %s %s: rc %d %s" % (self.connect, path, p.returncode,
                                                                p.stderr.decode(errors="replace")))
        raw = json.loads(p.stdout)
        return {k: (v["data"], v["version"]) for k, v in raw.items()}

    def get(self, path):
        d = self.dump(path)
        return d[path] if d and path in d else None

    def get_json(self, path):
        v = self.get(path)
        return json.loads(v[0]) if v and v[0] else None

    def children(self, path):
        d = self.dump(path)
        if d is None:
            return None
        prefix = path.rstrip("/") + "/"
        return sorted(k[len(prefix):] for k in d if k.startswith(prefix) and
                      "/" not in k[len(prefix):])


def skip_unless_zookeeper():
    script = os.path.join(h.env_path("STRATA_SOURCE_DIR"), "scripts", "zk.sh")
    p = subprocess.run([script, "check"], stderr=subprocess.PIPE)
    if p.returncode != 0:
        print("SKIP: %s" % p.stderr.decode(errors="replace").strip(), flush=True)
        sys.exit(77)
    if not shutil.which("kcat"):
        print("SKIP: kcat is not installed", flush=True)
        sys.exit(77)


class Cluster:
    """ZooKeeper + brokers 1..n (racks from RACKS)."""

    def __init__(self, name, n=3, overrides=None):
        self.name = name
        self.zk = ZooKeeper()
        self.n = n
        self.overrides = dict(overrides or {})
        self.brokers = {}

    def broker_overrides(self, bid):
        o = {
            "broker.id": bid,
            "broker.rack": RACKS.get(bid, "rack-a"),
            "zookeeper.connect": self.zk.connect,
            "zookeeper.session.timeout.ms": SESSION_MS,
            "default.replication.factor": 3,
            "offsets.topic.replication.factor": 3,
            "num.partitions": 3,
        }
        o.update(self.overrides)
        return o

    def start(self):
        self.zk.start()
        for bid in range(1, self.n + 1):
            b = h.Broker(overrides=self.broker_overrides(bid), name="%s-b%d" % (self.name, bid))
            self.brokers[bid] = b
            b.start()
        self.wait_registered(sorted(self.brokers))
        return self

    def cleanup(self):
        for b in self.brokers.values():
            b.cleanup()
        self.zk.cleanup()

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.report()
            self.cleanup()
            raise

    def __exit__(self, exc_type, *exc):
        if exc_type is not None:
            self.report()
        self.cleanup()

    def report(self):
        for bid, b in sorted(self.brokers.items()):
            print("     --- broker %d log tail (%s):\n%s" % (bid, b.tmp, b.log_tail(25)),
                  flush=True)

    # -------- views
    def live(self):
        return {bid: b for bid, b in self.brokers.items() if b.alive()}

    def bootstrap(self):
        return ",".join(b.bootstrap for b in self.live().values())

    def registered(self):
        ids = self.zk.children("/brokers/ids")
        return sorted(int(i) for i in ids) if ids else []

    def wait_registered(self, ids, deadline_s=20.0):
        return poll("/brokers/ids == %s" % ids, lambda: self.registered() == sorted(ids) and ids,
                    deadline_s)

    def controller(self):
        """(broker id, epoch) from /controller and /controller_epoch, or (None, epoch)."""
        c = self.zk.get_json("/controller")
        e = self.zk.get("/controller_epoch")
        return (c["brokerid"] if c else None), (int(e[0]) if e else None)

    def kcat_metadata(self, broker):
        rc, out, err = h.run(["kcat", "-L", "-J", "-b", broker.bootstrap, "-m", "10"], timeout=30)
        check(rc == 0, "kcat -L -J -b %s exits 0" % broker.bootstrap, 0, "%d %s" % (rc, err[-800:]))
        return json.loads(out)

    def topic_metadata(self, broker, topic):
        md = self.kcat_metadata(broker)
        for t in md["topics"]:
            if t["topic"] == topic:
                return md, t
        return md, None

    def zk_partitions(self, topic):
        """{partition: {"replicas": [...], "state": {...} or None}} from ZooKeeper."""
        d = self.zk.dump("/brokers/topics/" + topic)
        if not d:
            return None
        assignment = json.loads(d["/brokers/topics/" + topic][0])
        out = {}
        for p, replicas in assignment["partitions"].items():
            st = d.get("/brokers/topics/%s/partitions/%s/state" % (topic, p))
            out[int(p)] = {"replicas": replicas, "state": json.loads(st[0]) if st else None}
        return out

    def create_topic(self, broker, topic, partitions, rf):
        rc, out, err = h.run([h.env_path("STRATA_CLI"), "topics", "--bootstrap-server",
                              broker.bootstrap, "--create", "--topic", topic, "--partitions",
                              str(partitions), "--replication-factor", str(rf)], timeout=60)
        check(rc == 0, "strata topics --create %s" % topic, "rc 0",
              "rc %d: %s %s" % (rc, out.decode(errors="replace"), err))

    def delete_topic(self, broker, topic):
        rc, out, err = h.run([h.env_path("STRATA_CLI"), "topics", "--bootstrap-server",
                              broker.bootstrap, "--delete", "--topic", topic], timeout=60)
        check(rc == 0, "strata topics --delete %s" % topic, "rc 0",
              "rc %d: %s %s" % (rc, out.decode(errors="replace"), err))

    def wait_all_leaders(self, topic, partitions, brokers=None, deadline_s=20.0, exclude=()):
        """Every live broker's Metadata shows the topic with a live leader for every partition."""
        brokers = brokers or list(self.live().values())

        def ok():
            seen = {}
            for b in brokers:
                _md, t = self.topic_metadata(b, topic)
                if not t or len(t["partitions"]) != partitions:
                    return False
                leaders = {p["partition"]: p["leader"] for p in t["partitions"]}
                if any(l < 0 or l in exclude for l in leaders.values()):
                    return False
                seen[b.bootstrap] = leaders
            first = next(iter(seen.values()))
            return first if all(v == first for v in seen.values()) else False
        return poll("topic %s: all %d partitions led (not by %s) and the same in every broker's "
                    "Metadata" % (topic, partitions, list(exclude)), ok, deadline_s)
