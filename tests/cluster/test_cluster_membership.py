#!/usr/bin/env python3
"""Issue 5, membership: a real ZooKeeper and three brokers on two racks.

- registration: each broker's ephemeral /brokers/ids/<id> carries Kafka's JSON (host, port, rack,
  endpoints); a kill -9'd broker's node goes away with its session and comes back on restart;
  Metadata from every broker lists the three brokers.
- controller failover: kill -9 of the controller -> another broker is controller within 2 s with
  a higher /controller_epoch.
- session expiry: a broker frozen past its session timeout re-registers when it resumes.
- duplicate broker.id: a second broker with a taken id exits with a clear error and leaves the
  first one's registration alone.
"""

import signal
import subprocess
import time

import cluster_harness as ch
import harness as h
from harness import check


def case_registration():
    with ch.Cluster("reg") as c:
        for bid, b in c.brokers.items():
            reg = c.zk.get_json("/brokers/ids/%d" % bid)
            check(reg is not None, "/brokers/ids/%d exists" % bid, "JSON", reg)
            check(reg.get("host") == "127.0.0.1" and reg.get("port") == b.port,
                  "broker %d host/port" % bid, ("127.0.0.1", b.port),
                  (reg.get("host"), reg.get("port")))
            check(reg.get("rack") == ch.RACKS[bid], "broker %d rack" % bid, ch.RACKS[bid],
                  reg.get("rack"))
            ep = "PLAINTEXT://127.0.0.1:%d" % b.port
            check(ep in reg.get("endpoints", []), "broker %d endpoints" % bid, ep,
                  reg.get("endpoints"))
            check(reg.get("version", 0) >= 4, "registration JSON version >= 4", ">= 4",
                  reg.get("version"))
        # Each broker learns the others through its /brokers/ids watch: poll until it has.
        for bid, b in c.brokers.items():
            ch.poll("Metadata from broker %d lists brokers 1..3" % bid,
                    lambda b=b: sorted(x["id"] for x in c.kcat_metadata(b)["brokers"]) ==
                    [1, 2, 3], 10.0, describe=lambda b=b: c.kcat_metadata(b)["brokers"])

        # kill -9: the ephemeral node goes with the session; a restart registers again
        port3 = c.brokers[3].port
        c.brokers[3].kill()
        c.wait_registered([1, 2])
        for bid in (1, 2):
            ch.poll("Metadata of broker %d drops broker 3" % bid,
                    lambda bid=bid: sorted(x["id"] for x in
                                           c.kcat_metadata(c.brokers[bid])["brokers"]) == [1, 2],
                    10.0)
        c.brokers[3].start(keep_port=True)
        check(c.brokers[3].port == port3, "broker 3 restarted on its port", port3,
              c.brokers[3].port)
        c.wait_registered([1, 2, 3])
        reg = c.zk.get_json("/brokers/ids/3")
        check(reg["port"] == port3, "re-registration carries the port", port3, reg["port"])


def case_controller_failover_within_2s():
    with ch.Cluster("ctl") as c:
        first, epoch = ch.poll("a controller is elected",
                               lambda: c.controller()[0] is not None and c.controller(), 20.0)
        check(first in c.brokers, "controller is one of the brokers", list(c.brokers), first)
        check(epoch is not None and epoch >= 1, "/controller_epoch >= 1", ">= 1", epoch)
        c.brokers[first].kill()
        t0 = time.monotonic()

        def moved():
            cid, e = c.controller()
            return cid is not None and cid != first and e is not None and e > epoch and (cid, e)
        new, new_epoch = ch.poll("a new controller with a higher epoch after kill -9 of "
                                 "controller %d" % first, moved, 2.0, interval_s=0.02)
        print("     controller %d (epoch %d) -> %d (epoch %d) in %.2f s" %
              (first, epoch, new, new_epoch, time.monotonic() - t0), flush=True)
        check(new in c.live(), "the new controller is alive", list(c.live()), new)

        # exactly one controller: every live broker's Metadata names the same one
        for bid, b in c.live().items():
            ch.poll("broker %d reports controller %d" % (bid, new),
                    lambda b=b: c.kcat_metadata(b).get("controllerid") == new, 10.0)

        # the old controller comes back as a plain broker; the epoch does not go backwards
        c.brokers[first].start(keep_port=True)
        c.wait_registered([1, 2, 3])
        cid, e = c.controller()
        check(cid == new and e == new_epoch, "controller unchanged after the old one rejoins",
              (new, new_epoch), (cid, e))


def case_paused_broker_session_expires_and_reregisters():
    """A broker frozen (SIGSTOP, like a long GC pause) past its session timeout loses its
    session; resumed, it learns of the expiry, opens a new session and registers again."""
    with ch.Cluster("exp") as c:
        cid = ch.poll("a controller", lambda: c.controller()[0], 20.0)
        victim = next(b for b in sorted(c.brokers) if b != cid)
        proc = c.brokers[victim].proc
        proc.send_signal(signal.SIGSTOP)
        try:
            c.wait_registered([b for b in c.brokers if b != victim])
        finally:
            proc.send_signal(signal.SIGCONT)
        c.wait_registered([1, 2, 3])
        reg = c.zk.get_json("/brokers/ids/%d" % victim)
        check(reg["port"] == c.brokers[victim].port, "re-registered with its port",
              c.brokers[victim].port, reg["port"])
        ch.poll("broker %d serves Metadata listing brokers 1..3 again" % victim,
                lambda: sorted(x["id"] for x in c.kcat_metadata(c.brokers[victim])["brokers"])
                == [1, 2, 3], 15.0)
        check(c.brokers[victim].alive(), "broker %d still running" % victim, "alive", "exited")


def case_duplicate_broker_id_rejected():
    with ch.Cluster("dup") as c:
        original = c.zk.get("/brokers/ids/2")
        dup = h.Broker(overrides=c.broker_overrides(2), name="dup-b2")
        try:
            dup.port = h.free_port()
            log = open(dup.log_path, "ab")
            proc = subprocess.Popen(dup.command(), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, preexec_fn=h._die_with_parent)
            log.close()
            try:
                rc = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                rc = None
            tail = dup.log_tail(10)
            check(rc is not None and rc != 0, "a second broker.id=2 exits with an error",
                  "non-zero exit", "rc %s; log:\n%s" % (rc, tail))
            low = tail.lower()
            check("2" in tail and ("registered" in low or "in use" in low or "taken" in low or
                                   "exists" in low),
                  "the error names the taken broker id", "broker id 2 ... registered/in use",
                  tail)
        finally:
            dup.cleanup()
        check(c.zk.get("/brokers/ids/2") == original, "/brokers/ids/2 untouched", original,
              c.zk.get("/brokers/ids/2"))
        check(c.brokers[2].alive(), "the first broker 2 keeps running", "alive", "exited")


if __name__ == "__main__":
    ch.skip_unless_zookeeper()
    h.run_cases([
        ("registration", case_registration),
        ("controller_failover_within_2s", case_controller_failover_within_2s),
        ("paused_broker_session_expires_and_reregisters",
         case_paused_broker_session_expires_and_reregisters),
        ("duplicate_broker_id_rejected", case_duplicate_broker_id_rejected),
    ])
