"""Integration-test harness: starts a Strata broker on a free loopback port with a fresh mkdtemp
data directory, waits for it to answer ApiVersions (polling, with a deadline), and always stops it
(SIGTERM, then SIGKILL; the broker also dies with the test through PR_SET_PDEATHSIG). Also: raw
socket helpers, kcat helpers and a tiny case runner that prints one line per case and a closing
"N passed, N failed" line.

Paths come from the environment set by tests/integration/tests.cmake: STRATA_BROKER, STRATA_CLI,
STRATA_CONFIG, STRATA_SOURCE_DIR.
"""

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

import kafka_wire as kw

HOST = "127.0.0.1"
START_DEADLINE_S = 30
STOP_DEADLINE_S = 30
CLIENT_DEADLINE_S = 120


def env_path(name):
    value = os.environ.get(name)
    if not value:
        sys.exit("%s is not set (run through ctest, see tests/integration/tests.cmake)" % name)
    return value


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _die_with_parent():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


class TestFailure(AssertionError):
    pass


def check(cond, what, expected=None, got=None):
    if not cond:
        msg = what
        if expected is not None or got is not None:
            msg += "\n      expected: %s\n      got:      %s" % (expected, got)
        raise TestFailure(msg)


def poll(what, fn, deadline_s, interval_s=0.05, describe=None):
    """Calls fn until it returns a truthy value or the deadline passes; returns that value.
    A TestFailure raised by fn counts as "not yet". On the deadline, raises TestFailure with
    the last value seen (or what describe() returns). The one poll of every test driver."""
    deadline = time.monotonic() + deadline_s
    last = None
    while True:
        try:
            last = fn()
        except TestFailure as e:
            last = "TestFailure: %s" % e
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            if describe is not None:
                try:
                    last = describe()
                except Exception as e:  # noqa: BLE001 - diagnostics only
                    last = "(describe failed: %s)" % e
            raise TestFailure("%s within %.1f s; last seen: %s" % (what, deadline_s,
                                                                    str(last)[:3000]))
        time.sleep(interval_s)  # poll interval, bounded by the deadline


# ---------------------------------------------------------------- raw connections

class Conn:
    """A raw Kafka connection to the broker."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _recv_exact(self, n, deadline):
        buf = bytearray()
        while len(buf) < n:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(n - len(buf))
            except socket.timeout:
                raise TestFailure("no complete response within %.0f s (%d of %d bytes)" %
                                  (self.timeout, len(buf), n))
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def recv_frame(self):
        """Returns (correlation_id, body) or None when the broker closed the connection."""
        deadline = time.monotonic() + self.timeout
        head = self._recv_exact(4, deadline)
        if head is None:
            return None
        size = int.from_bytes(head, "big", signed=True)
        check(4 <= size <= 256 << 20, "response frame size sane", "4..256MiB", size)
        payload = self._recv_exact(size, deadline)
        if payload is None:
            return None
        return int.from_bytes(payload[:4], "big", signed=True), payload[4:]

    def call(self, api_key, version, body, correlation_id=7):
        self.send(kw.request(api_key, version, correlation_id, body))
        resp = self.recv_frame()
        check(resp is not None, "broker answered api_key=%d v%d" % (api_key, version),
              "a response", "connection closed")
        check(resp[0] == correlation_id, "correlation id echoed", correlation_id, resp[0])
        return resp[1]

    def wait_closed(self, deadline_s=10.0):
        """True when the peer closes (EOF or RST) before the deadline; any data read is dropped.
        False when the connection is still open at the deadline."""
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                if not self.sock.recv(65536):
                    return True
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
        return False


# ---------------------------------------------------------------- the broker

_brokers = []  # every broker of this test process, for the failure report


class Broker:
    """One strata-broker process with its own port and data directory."""

    def __init__(self, overrides=None, name="broker"):
        self.bin = env_path("STRATA_BROKER")
        self.config = env_path("STRATA_CONFIG")
        self.overrides = dict(overrides or {})
        self.tmp = tempfile.mkdtemp(prefix="strata-it-%s-" % name)
        self.data_dir = os.path.join(self.tmp, "data")
        os.mkdir(self.data_dir)
        self.log_path = os.path.join(self.tmp, "broker.log")
        self.proc = None
        self.port = None
        self.starts = 0
        _brokers.append(self)

    @property
    def bootstrap(self):
        return "%s:%d" % (HOST, self.port)

    def command(self):
        listener = "PLAINTEXT://%s:%d" % (HOST, self.port)
        args = [self.bin, self.config,
                "--override", "broker.id=0",
                "--override", "listeners=" + listener,
                "--override", "advertised.listeners=" + listener,
                "--override", "log.dirs=" + self.data_dir]
        for k, v in self.overrides.items():
            args += ["--override", "%s=%s" % (k, v)]
        return args

    def start(self, keep_port=False):
        for attempt in range(5):
            if not (keep_port and self.port and attempt == 0):
                self.port = free_port()
            self.starts += 1
            log = open(self.log_path, "ab")
            log.write(("\n=== start %d: %s\n" % (self.starts, " ".join(self.command()))).encode())
            log.flush()
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
            log.close()
            if self._wait_ready():
                return self
            if self.proc.poll() is None:
                break
            if "in use" not in self.log_tail(5):
                break
        self.kill()
        raise TestFailure("broker did not become ready within %d s; log tail:\n%s" %
                          (START_DEADLINE_S, self.log_tail()))

    def _wait_ready(self):
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with Conn(self.port, timeout=2.0) as c:
                    c.send(kw.request(kw.API_API_VERSIONS, 0, 1, kw.api_versions_v0()))
                    if c.recv_frame() is not None:
                        return True
            except (OSError, TestFailure):
                pass
            time.sleep(0.05)  # poll interval while waiting for readiness, bounded by deadline
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM and wait; returns the exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.proc = None
                return None
        rc = self.proc.returncode
        self.proc = None
        return rc

    def kill(self):
        """SIGKILL (kill -9) and reap."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
        self.proc = None

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self in _brokers:
            _brokers.remove(self)

    def __enter__(self):
        return self.start()

    def stop_clean(self):
        """SIGTERM; the broker must exit 0 and its log hold no sanitizer report (ASan builds)."""
        if self.proc is None:
            return
        rc = self.stop()
        log = self.log_tail(100000)
        bad = [l for l in log.splitlines() if "Sanitizer" in l or "runtime error:" in l]
        check(rc == 0 and not bad, "broker exits 0 on SIGTERM with no sanitizer report",
              "exit 0", "exit %s; %s" % (rc, "\n".join(bad[:5]) or self.log_tail(10)))

    def __exit__(self, exc_type, *exc):
        if exc_type is not None:
            print("     --- broker log tail (%s):\n%s" % (self.tmp, self.log_tail(20)), flush=True)
            self.cleanup()
            return
        try:
            self.stop_clean()
        finally:
            self.cleanup()

    # -------- protocol conveniences
    def conn(self, timeout=10.0):
        return Conn(self.port, timeout)

    def metadata(self, topics=None, auto_create=False):
        with self.conn() as c:
            return kw.parse_metadata_v4(c.call(kw.API_METADATA, 4,
                                               kw.metadata_v4(topics, auto_create)))

    def create_topic(self, name, partitions, rf=1):
        with self.conn() as c:
            res = kw.parse_create_topics_v3(c.call(kw.API_CREATE_TOPICS, 3,
                                                   kw.create_topics_v3([(name, partitions, rf)])))
        check(name in res and res[name][0] == kw.NONE, "CreateTopics v3 %s" % name,
              "NONE", res.get(name) and (kw.err_name(res[name][0]), res[name][1]))
        self.wait_leaders(name, partitions)

    def wait_leaders(self, name, partitions, deadline_s=20.0):
        deadline = time.monotonic() + deadline_s
        md = None
        while time.monotonic() < deadline:
            md = self.metadata([name])
            t = md["topics"][0] if md["topics"] else None
            if (t and t["error"] == 0 and len(t["partitions"]) == partitions and
                    all(p["error"] == 0 and p["leader"] >= 0 for p in t["partitions"])):
                return
            time.sleep(0.05)  # poll interval, bounded by the deadline
        raise TestFailure("topic %s: %d partitions with leaders within %.0f s; last Metadata v4: %r"
                          % (name, partitions, deadline_s, md and md["topics"]))

    def latest_offset(self, topic, partition):
        with self.conn() as c:
            res = kw.parse_list_offsets_v2(c.call(kw.API_LIST_OFFSETS, 2, kw.list_offsets_v2(
                [(topic, [(partition, -1)])])))
        err, off = res[(topic, partition)]
        check(err == 0, "ListOffsets v2 latest %s-%d" % (topic, partition), "NONE",
              kw.err_name(err))
        return off


# ---------------------------------------------------------------- external clients

def run(cmd, input_bytes=None, timeout=CLIENT_DEADLINE_S, env=None, cwd=None):
    """Runs a client to completion; returns (rc, stdout bytes, stderr text)."""
    try:
        p = subprocess.run(cmd, input=input_bytes, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, env=env, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        raise TestFailure("%s did not finish within %d s; stderr tail: %s" %
                          (" ".join(cmd[:4]), timeout,
                           (e.stderr or b"").decode(errors="replace")[-2000:]))
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def kcat_produce(broker, topic, lines, key_delim=None, partition=None, extra=()):
    """Produces newline-separated messages with kcat -P (acks=all, kcat's default)."""
    cmd = ["kcat", "-P", "-b", broker.bootstrap, "-t", topic, "-X", "request.required.acks=-1"]
    if key_delim is not None:
        cmd += ["-K", key_delim]
    if partition is not None:
        cmd += ["-p", str(partition)]
    cmd += list(extra)
    data = b"".join(l + b"\n" for l in lines)
    rc, _out, err = run(cmd, data)
    # Transient connection errors are logged and retried by librdkafka; only a failed delivery
    # counts (what was delivered is checked by reading it back).
    check(rc == 0 and "delivery failed" not in err.lower(),
          "kcat -P to %s exits 0 without delivery errors" % topic, "rc 0", "rc %d: %s" %
          (rc, err[-1500:]))


def kcat_consume(broker, topic, partition=None, fmt="%k\\t%s\\t%o\\n", offset="beginning",
                 count=None):
    """Reads a topic (or one partition) from `offset` to its end with kcat -C -e; returns lines."""
    cmd = ["kcat", "-C", "-b", broker.bootstrap, "-t", topic, "-o", str(offset), "-e", "-q",
           "-f", fmt]
    if partition is not None:
        cmd += ["-p", str(partition)]
    if count is not None:
        cmd += ["-c", str(count)]
    rc, out, err = run(cmd)
    check(rc == 0, "kcat -C %s exits 0" % topic, "rc 0", "rc %d: %s" % (rc, err[-1500:]))
    return out.split(b"\n")[:-1] if out else []


_probe_seq = [0]


def assert_served(broker, what="after the bad input"):
    """A real client is served correctly: kcat produces a unique message and reads it back."""
    check(broker.alive(), "broker still running %s" % what, "alive",
          "exited with %s; log tail:\n%s" % (broker.proc and broker.proc.returncode,
                                             broker.log_tail()))
    _probe_seq[0] += 1
    msg = b"probe-%d-%d" % (os.getpid(), _probe_seq[0])
    kcat_produce(broker, "probe", [msg])
    got = kcat_consume(broker, "probe", fmt="%s\\n")
    check(msg in got, "kcat reads back its probe message %s" % what, msg, got[-3:])


# ---------------------------------------------------------------- case runner

def run_cases(cases, argv=None):
    """cases: list of (name, fn). Runs all (or those named on the command line), prints one line
    per case and a closing 'N passed, N failed' line; exits 1 on any failure."""
    argv = sys.argv[1:] if argv is None else argv
    selected = [c for c in cases if not argv or c[0] in argv]
    passed = failed = 0
    for name, fn in selected:
        start = time.monotonic()
        try:
            fn()
            passed += 1
            print("ok   %s (%.1f s)" % (name, time.monotonic() - start), flush=True)
        except Exception as e:  # noqa: BLE001 - report every failure and go on
            failed += 1
            detail = str(e) if isinstance(e, TestFailure) else traceback.format_exc()
            print("FAIL %s: %s" % (name, detail), flush=True)
            for b in _brokers:
                if os.path.exists(b.log_path):
                    print("     --- %s log tail:\n%s" % (b.tmp, b.log_tail(15)), flush=True)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    sys.exit(1 if failed or not selected else 0)
