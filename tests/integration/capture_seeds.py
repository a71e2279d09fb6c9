#!/usr/bin/env python3
"""Captures real client requests (kcat / librdkafka 2.0.2 and kafkajs 2.2.4) as fuzzer seeds.

Starts a broker that advertises a recording proxy's port, so every connection of every client
goes through the proxy; each client request frame is stored once per client, API and version as
tests/fuzz/corpus/seed-<client>-<api>_v<version>.bin (request header + body, no size prefix: the
corpus format of tests/fuzz). Not a test; run by hand after protocol changes:

    STRATA_BROKER=build/strata-broker STRATA_CONFIG=config/server.properties \\
        python3 tests/integration/capture_seeds.py
"""

import os
import socket
import struct
import threading

import harness as h

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "fuzz", "corpus")
API_NAMES = {0: "produce", 1: "fetch", 2: "listoffsets", 3: "metadata", 8: "offsetcommit",
             9: "offsetfetch", 10: "findcoordinator", 11: "joingroup", 12: "heartbeat",
             13: "leavegroup", 14: "syncgroup", 15: "describegroups", 16: "listgroups",
             18: "apiversions", 19: "createtopics", 20: "deletetopics", 22: "initproducerid",
             32: "describeconfigs", 37: "createpartitions"}


class Proxy:
    """Forwards loopback connections to the broker and records client->broker frames."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.client = "unknown"
        self.frames = {}  # (client, api, version) -> frame payload
        self.lock = threading.Lock()
        self.lsock = socket.socket()
        self.lsock.bind((h.HOST, 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            b = socket.create_connection((h.HOST, self.target_port))
            client = self.client
            threading.Thread(target=self._pump, args=(c, b, client), daemon=True).start()
            threading.Thread(target=self._pump, args=(b, c, None), daemon=True).start()

    def _pump(self, src, dst, record_as):
        buf = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                if record_as is None:
                    continue
                buf += data
                while len(buf) >= 4:
                    size = struct.unpack(">i", buf[:4])[0]
                    if len(buf) < 4 + size:
                        break
                    frame, buf = buf[4:4 + size], buf[4 + size:]
                    api, ver = struct.unpack(">hh", frame[:4])
                    with self.lock:
                        self.frames.setdefault((record_as, api, ver), frame)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def main():
    proxy = None
    b = h.Broker(name="seeds")
    b.port = h.free_port()
    proxy = Proxy(b.port)
    adv = "PLAINTEXT://%s:%d" % (h.HOST, proxy.port)
    orig = b.command

    def command():
        args = orig()
        return [a if not a.startswith("advertised.listeners=") else "advertised.listeners=" + adv
                for a in args]
    b.command = command
    b.start(keep_port=True)
    try:
        pb = h.Broker.__new__(h.Broker)  # a view of the broker through the proxy
        pb.port = proxy.port

        proxy.client = "kcat"
        h.run(["kcat", "-L", "-b", pb.bootstrap])
        h.kcat_produce(pb, "seeds", [b"k%d\tv%d" % (i, i) for i in range(50)], key_delim="\t")
        h.kcat_consume(pb, "seeds", partition=0)
        h.run(["kcat", "-P", "-b", pb.bootstrap, "-t", "seeds", "-X", "enable.idempotence=true"],
              b"idem-1\nidem-2\n")
        try:
            h.run(["kcat", "-b", pb.bootstrap, "-G", "seedgroup", "-e", "-q", "seeds"],
                  timeout=30)
        except h.TestFailure as e:
            print("kcat -G: %s" % e)

        proxy.client = "kafkajs"
        env = dict(os.environ)
        for args in (["create", "seeds-kjs", 2], ["metadata", "seeds-kjs"],
                     ["produce", "seeds-kjs", 20], ["list"], ["delete", "seeds-kjs"]):
            h.run(["node", os.path.join(HERE, "kafkajs_client.js"), pb.bootstrap] +
                  [str(a) for a in args], cwd=HERE, env=env)
    finally:
        b.cleanup()

    os.makedirs(CORPUS, exist_ok=True)
    for (client, api, ver), frame in sorted(proxy.frames.items()):
        name = "seed-%s-%s_v%d.bin" % (client, API_NAMES.get(api, "api%d" % api), ver)
        with open(os.path.join(CORPUS, name), "wb") as f:
            f.write(frame)
        print("%-45s %6d bytes" % (name, len(frame)))


if __name__ == "__main__":
    main()
