#!/usr/bin/env python3
"""Event-loop stall probe for cold reads (used by scripts/bench/cold-read.sh; not a test).

Pushes the data directory's segment files out of the page cache (fsync + POSIX_FADV_DONTNEED),
then, while kcat reads TOPIC from the beginning, sends ApiVersions v0 back-to-back (1 ms apart)
on a second connection and prints the round-trip percentiles: a broker whose event loop waits on
the disk delays that second client too.

    cold_read_probe.py PORT DATA_DIR TOPIC
"""
import glob
import os
import socket
import struct
import subprocess
import sys
import threading
import time


def main():
    port, data_dir, topic = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    files = glob.glob(os.path.join(data_dir, "%s-*" % topic, "*.log"))
    if not files:
        sys.exit("cold_read_probe: no segment files of %s under %s" % (topic, data_dir))
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    body = struct.pack(">hhih", 18, 0, 1, 5) + b"probe"
    frame = struct.pack(">i", len(body)) + body
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rtts, done = [], threading.Event()

    def probe():
        while not done.is_set():
            start = time.monotonic()
            sock.sendall(frame)
            size = struct.unpack(">i", sock.recv(4, socket.MSG_WAITALL))[0]
            sock.recv(size, socket.MSG_WAITALL)
            rtts.append(time.monotonic() - start)
            time.sleep(0.001)

    thread = threading.Thread(target=probe)
    thread.start()
    start = time.monotonic()
    subprocess.run(["kcat", "-C", "-b", "127.0.0.1:%d" % port, "-t", topic, "-o", "beginning",
                    "-e", "-q"], stdout=subprocess.DEVNULL, check=True)
    took = time.monotonic() - start
    done.set()
    thread.join()
    rtts.sort()
    print("kcat read %s in %.2f s; probe: %d round trips, p50 %.2f ms, p99 %.2f ms, max %.2f ms"
          % (topic, took, len(rtts), rtts[len(rtts) // 2] * 1e3,
             rtts[int(len(rtts) * 0.99)] * 1e3, rtts[-1] * 1e3))


if __name__ == "__main__":
    main()
