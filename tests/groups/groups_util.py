"""Helpers shared by the issue-7 drivers (tests/groups): the integration harness from
tests/integration, `strata consumer-groups` output parsing, polling with a deadline and
background kcat -G members."""

import os
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness as h  # noqa: E402

check = h.check
TestFailure = h.TestFailure


poll = h.poll


def cli(broker, *args, expect_rc=0):
    rc, out, err = h.run([h.env_path("STRATA_CLI"), "consumer-groups", "--bootstrap-server",
                          broker.bootstrap] + list(args))
    if expect_rc is not None:
        check(rc == expect_rc, "strata consumer-groups %s exits %d" % (" ".join(args), expect_rc),
              expect_rc, "rc %d, stdout %r, stderr %r" % (rc, out[-600:], err[-600:]))
    return rc, out.decode(), err


def describe(broker, group):
    """Rows of --describe: list of dicts keyed by the kafka-consumer-groups columns."""
    rc, out, err = cli(broker, "--describe", "--group", group, expect_rc=None)
    if rc != 0:
        return None
    rows = []
    header = None
    for line in out.splitlines():
        cols = line.split()
        if not cols:
            continue
        if cols[0] == "GROUP":
            header = cols
            continue
        if header and len(cols) == len(header):
            rows.append(dict(zip(header, cols)))
    return rows


class Member:
    """A `kcat -G` consumer in the background, printing 'partition:offset:value' lines."""

    def __init__(self, broker, group, topic, name, extra=()):
        self.path = os.path.join(broker.tmp, "member-%s.out" % name)
        self.err_path = os.path.join(broker.tmp, "member-%s.err" % name)
        cmd = ["kcat", "-u", "-b", broker.bootstrap, "-G", group, topic, "-f", "%p:%o:%s\\n",
               "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500",
               "-X", "auto.commit.interval.ms=200", "-X", "auto.offset.reset=earliest",
               "-X", "topic.metadata.refresh.interval.ms=1000"] + list(extra)
        self.out = open(self.path, "wb")
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=self.err)

    def values(self):
        with open(self.path, "rb") as f:
            return [l.split(b":", 2)[2] for l in f.read().split(b"\n") if l.count(b":") >= 2]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def stop(self):
        """SIGTERM: kcat commits and leaves the group."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def close(self):
        self.kill()
        self.out.close()
        self.err.close()

    def stderr_tail(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")[-1500:]
