#!/usr/bin/env python3
"""Bad input over raw sockets (issue 4, "Bad input"): every case gets a clear error (a Kafka error
code, or the connection closed), nothing is lost, and afterwards a real client (kcat) is served
correctly by the same broker. Requests are built by hand in kafka_wire.py from Kafka's schemas.

Usage: test_bad_input.py [case...]   (all cases by default)
"""

import random
import socket
import threading

import harness as h
import kafka_wire as kw
from harness import check

BROKER = None


def broker():
    global BROKER
    if BROKER is None:
        BROKER = h.Broker(name="badinput").start()
    return BROKER


def expect_closed(conn, what, logged=True):
    peer = "%s:%d" % conn.sock.getsockname()
    check(conn.wait_closed(), "broker closes the connection after %s" % what,
          "EOF or RST", "connection still open, no close within 10 s")
    if not logged:
        return
    # Issue 4: "closed with one log line naming peer and API key".
    deadline = h.time.monotonic() + 5
    lines = []
    while h.time.monotonic() < deadline:
        lines = [l for l in broker().log_tail(200).splitlines() if peer + " " in l + " " or
                 peer + ":" in l]
        if lines:
            break
        h.time.sleep(0.05)  # poll interval for the log line, bounded by the deadline
    check(len(lines) == 1, "one broker log line names the peer %s after %s" % (peer, what),
          "1 line", lines or "none")


def expect_closed_or_error(conn, correlation_id, what, codes=(kw.UNSUPPORTED_VERSION,)):
    """Either the connection is closed, or the answer carries one of `codes` right after the
    response header. Returns a short description of what happened."""
    resp = conn.recv_frame()
    if resp is None:
        return "closed"
    cid, body = resp
    check(cid == correlation_id, "correlation id of the answer to %s" % what, correlation_id, cid)
    code = int.from_bytes(body[:2], "big", signed=True) if len(body) >= 2 else None
    # Responses with a throttle time first (most v1+ bodies) carry the error after it.
    code2 = int.from_bytes(body[4:6], "big", signed=True) if len(body) >= 6 else None
    check(code in codes or code2 in codes, "error code answering %s" % what,
          " or ".join(kw.err_name(c) for c in codes) + " (or connection closed)",
          "body %s" % body[:16].hex())
    return "error %s" % kw.err_name(code if code in codes else code2)


# ---------------------------------------------------------------- framing

def case_frame_over_socket_request_max_bytes():
    b = broker()
    with b.conn() as c:
        # Default socket.request.max.bytes is 104857600; announce one byte more, send a little.
        c.send(kw.i32(104857600 + 1) + kw.i16(kw.API_PRODUCE) + kw.i16(7) + b"\0" * 64)
        expect_closed(c, "a frame size over socket.request.max.bytes")
    h.assert_served(b)


def case_negative_frame_size():
    b = broker()
    for size in (-1, -2147483648):
        with b.conn() as c:
            c.send(kw.i32(size) + b"\0" * 16)
            expect_closed(c, "a negative frame size (%d)" % size)
    h.assert_served(b)


def case_frame_shorter_than_header():
    b = broker()
    for size in (0, 1, 3, 7):
        with b.conn() as c:
            c.send(kw.i32(size) + b"\x00\x03\x00\x04\x00\x00\x00"[:size])
            expect_closed(c, "a %d-byte frame (shorter than a request header)" % size)
    h.assert_served(b)


def case_truncated_request_body():
    b = broker()
    with b.conn() as c:
        # Metadata v4 saying 5 topics but carrying one.
        body = kw.i32(5) + kw.string("t") + kw.i8(1)
        c.send(kw.request(kw.API_METADATA, 4, 11, body))
        expect_closed(c, "a Metadata v4 request whose topic array is cut short")
    with b.conn() as c:
        # Produce v7 cut in the middle of the records bytes.
        batch = kw.record_batch([(b"k", b"v")])
        body = kw.produce_v7(-1, 1000, [("probe", [(0, batch)])])[:-20]
        c.send(kw.request(kw.API_PRODUCE, 7, 12, body))
        expect_closed(c, "a Produce v7 request cut inside its records")
    h.assert_served(b)


def case_truncated_frame_then_eof():
    b = broker()
    with b.conn() as c:
        frame = kw.request(kw.API_METADATA, 4, 13, kw.metadata_v4(None))
        c.send(frame[:len(frame) - 3])
        c.sock.shutdown(socket.SHUT_WR)
        # The peer went away mid-frame: closing quietly is fine (Kafka logs nothing either).
        expect_closed(c, "half a frame followed by EOF", logged=False)
    h.assert_served(b)


def case_garbled_requests():
    b = broker()
    # Huge array count: must not allocate from the network length.
    with b.conn() as c:
        c.send(kw.request(kw.API_METADATA, 4, 21, kw.i32(0x7FFFFFFF) + kw.i8(0)))
        expect_closed(c, "Metadata v4 with a topic count of 2^31-1")
    # Negative string length for the client id (only -1 means null).
    with b.conn() as c:
        payload = kw.i16(kw.API_METADATA) + kw.i16(4) + kw.i32(22) + kw.i16(-7) + b"abcdefgh"
        c.send(kw.i32(len(payload)) + payload)
        expect_closed(c, "a request header with client_id length -7")
    # String length past the end of the frame.
    with b.conn() as c:
        c.send(kw.request(kw.API_METADATA, 4, 23, kw.i32(1) + kw.i16(30000) + b"abc"))
        expect_closed(c, "Metadata v4 with a topic name length past the frame")
    # Random garbage after valid headers, for every API the clients use (seeded, bounded).
    rng = random.Random(4)
    outcomes = {}
    for i in range(150):
        api, ver = rng.choice([(0, 7), (1, 11), (2, 2), (3, 4), (3, 6), (18, 0), (18, 3),
                               (19, 3), (20, 1), (32, 2), (37, 1)])
        body = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 200)))
        with b.conn(timeout=10) as c:
            c.send(kw.request(api, ver, 1000 + i, body))
            resp = c.recv_frame()
            if resp is not None:
                check(resp[0] == 1000 + i, "correlation id of the answer to garbage #%d" % i,
                      1000 + i, resp[0])
            outcomes["answered" if resp else "closed"] = outcomes.get(
                "answered" if resp else "closed", 0) + 1
        check(b.alive(), "broker alive after garbage #%d (api %d v%d, body %s)" %
              (i, api, ver, body.hex()), "alive", "dead")
    print("     150 garbage requests: %s" % outcomes)
    h.assert_served(b)


# ---------------------------------------------------------------- versions

def case_unknown_api_key():
    b = broker()
    with b.conn() as c:
        c.send(kw.request(9999, 0, 31, b""))
        print("     api key 9999: %s" % expect_closed_or_error(c, 31, "unknown api key 9999"))
    with b.conn() as c:
        c.send(kw.request(-1, 0, 32, b""))
        print("     api key -1: %s" % expect_closed_or_error(c, 32, "api key -1"))
    h.assert_served(b)


def case_unsupported_version():
    b = broker()
    with b.conn() as c:
        c.send(kw.request(kw.API_METADATA, 99, 41, kw.metadata_v4(None)))
        print("     Metadata v99: %s" % expect_closed_or_error(c, 41, "Metadata v99"))
    with b.conn() as c:
        c.send(kw.request(kw.API_PRODUCE, 1000, 42, b""))
        print("     Produce v1000: %s" % expect_closed_or_error(c, 42, "Produce v1000"))
    h.assert_served(b)


def case_api_versions_v0_fallback():
    """ApiVersions with a version the broker does not know: UNSUPPORTED_VERSION with a v0-shaped
    body listing what the broker supports (Kafka's answer), connection kept open."""
    b = broker()
    with b.conn() as c:
        c.send(kw.request_v2_header(kw.API_API_VERSIONS, 99, 51, kw.api_versions_v3_body()))
        resp = c.recv_frame()
        check(resp is not None, "answer to ApiVersions v99", "v0-shaped response",
              "connection closed")
        check(resp[0] == 51, "correlation id", 51, resp[0])
        err, apis = kw.parse_api_versions_v0(resp[1])
        check(err == kw.UNSUPPORTED_VERSION, "ApiVersions v99 error code",
              kw.err_name(kw.UNSUPPORTED_VERSION), kw.err_name(err))
        keys = {a[0]: a for a in apis or []}
        check(18 in keys, "ApiVersions key 18 listed in the fallback answer", "present",
              sorted(keys))
        # The same connection then serves a v0 request.
        err, apis = kw.parse_api_versions_v0(c.call(kw.API_API_VERSIONS, 0, kw.api_versions_v0(),
                                                     52))
        check(err == 0 and any(a[0] == kw.API_PRODUCE for a in apis),
              "ApiVersions v0 on the same connection", "NONE with Produce listed",
              (kw.err_name(err), apis))
    h.assert_served(b)


# ---------------------------------------------------------------- record batches

def produce(b, topic_data, acks=-1):
    with b.conn() as c:
        res, _ = kw.parse_produce_v7(c.call(kw.API_PRODUCE, 7, kw.produce_v7(acks, 10000,
                                                                           topic_data)))
    return res


def expect_partition(res, tp, code, what):
    got = res.get(tp)
    check(got is not None and got[0] == code, "%s: Produce v7 error for %s-%d" % (what, *tp),
          kw.err_name(code), got and kw.err_name(got[0]) or "partition missing from response")


def case_bad_crc_batch():
    b = broker()
    b.create_topic("crc", 2)
    good = kw.record_batch([(b"k1", b"good-1"), (b"k2", b"good-2")])
    bad = kw.record_batch([(b"k1", b"bad")], corrupt_crc=True)
    res = produce(b, [("crc", [(0, bad), (1, good)])])
    expect_partition(res, ("crc", 0), kw.CORRUPT_MESSAGE, "bad CRC on partition 0")
    expect_partition(res, ("crc", 1), kw.NONE, "good batch on partition 1 of the same request")
    check(b.latest_offset("crc", 0) == 0, "nothing written to crc-0", 0, b.latest_offset("crc", 0))
    check(b.latest_offset("crc", 1) == 2, "two records in crc-1", 2, b.latest_offset("crc", 1))
    got = h.kcat_consume(b, "crc", partition=1)
    check(got == [b"k1\tgood-1\t0", b"k2\tgood-2\t1"], "kcat reads crc-1", "k1/good-1, k2/good-2",
          got)
    h.assert_served(b)


def case_oversize_batch():
    b = broker()
    b.create_topic("big", 2)
    # message.max.bytes defaults to 1048588; this batch is ~1.2 MB.
    huge = kw.record_batch([(b"k", b"x" * 1200000)])
    small = kw.record_batch([(b"k", b"small")])
    res = produce(b, [("big", [(0, huge), (1, small)])])
    expect_partition(res, ("big", 0), kw.MESSAGE_TOO_LARGE, "1.2 MB batch on partition 0")
    expect_partition(res, ("big", 1), kw.NONE, "small batch on partition 1 of the same request")
    check(b.latest_offset("big", 0) == 0, "nothing written to big-0", 0, b.latest_offset("big", 0))
    got = h.kcat_consume(b, "big", partition=1)
    check(got == [b"k\tsmall\t0"], "kcat reads big-1", [b"k\tsmall\t0"], got)
    h.assert_served(b)


BAD_NAMES = ["bad name", ".", "..", "a" * 250, "x/y", "t\u00e9", "semi;colon", ""]


def case_bad_topic_names():
    b = broker()
    b.create_topic("good", 1)
    batch = kw.record_batch([(b"k", b"v")])
    res = produce(b, [(n, [(0, batch)]) for n in BAD_NAMES] + [("good", [(0, batch)])])
    for n in BAD_NAMES:
        expect_partition(res, (n, 0), kw.INVALID_TOPIC_EXCEPTION, "Produce to topic %r" % n)
    expect_partition(res, ("good", 0), kw.NONE, "Produce to 'good' in the same request")
    # CreateTopics with bad names: INVALID_TOPIC_EXCEPTION per topic; a good one in the same
    # request is created.
    with b.conn() as c:
        res = kw.parse_create_topics_v3(c.call(kw.API_CREATE_TOPICS, 3, kw.create_topics_v3(
            [(n, 1, 1) for n in BAD_NAMES] + [("good2", 1, 1)])))
    for n in BAD_NAMES:
        got = res.get(n)
        check(got is not None and got[0] == kw.INVALID_TOPIC_EXCEPTION,
              "CreateTopics v3 %r" % n, kw.err_name(kw.INVALID_TOPIC_EXCEPTION),
              got and kw.err_name(got[0]))
    check(res.get("good2", (None,))[0] == kw.NONE, "CreateTopics v3 good2 in the same request",
          "NONE", res.get("good2"))
    # Metadata with auto-creation for bad names: INVALID_TOPIC_EXCEPTION, nothing created.
    md = b.metadata(BAD_NAMES[:5], auto_create=True)
    errs = {t["name"]: t["error"] for t in md["topics"]}
    for n in BAD_NAMES[:5]:
        check(errs.get(n) == kw.INVALID_TOPIC_EXCEPTION, "Metadata v4 (auto-create) for %r" % n,
              kw.err_name(kw.INVALID_TOPIC_EXCEPTION),
              kw.err_name(errs[n]) if n in errs else "topic missing from response")
    all_topics = {t["name"] for t in b.metadata(None)["topics"]}
    check(not (all_topics & set(BAD_NAMES)), "no bad-named topic exists", "none",
          all_topics & set(BAD_NAMES))
    h.assert_served(b)


def case_bad_input_while_a_client_streams():
    """Bad input on other connections while kcat streams 200,000 records: kcat's produce is
    unaffected and every record is read back."""
    b = broker()
    b.create_topic("stream", 1)
    n = 200000
    data = b"".join(b"s-%06d\n" % i for i in range(n))
    p = h.subprocess.Popen(["kcat", "-P", "-b", b.bootstrap, "-t", "stream", "-p", "0"],
                           stdin=h.subprocess.PIPE, stdout=h.subprocess.PIPE,
                           stderr=h.subprocess.PIPE)
    writer = threading.Thread(target=p.communicate, args=(data,), kwargs={"timeout": 120})
    writer.start()
    try:
        rng = random.Random(9)
        # (frame, answered): the bad-CRC produce is answered, the rest close the connection.
        bad_frames = [(kw.i32(-1), False), (kw.i32(104857600 + 1), False),
                      (kw.request(kw.API_METADATA, 4, 1, kw.i32(0x7FFFFFFF)), False),
                      (kw.request(9999, 0, 2, b""), False),
                      (kw.request(kw.API_PRODUCE, 7, 3, kw.produce_v7(-1, 1000, [(
                          "stream", [(0, kw.record_batch([(b"k", b"bad")], corrupt_crc=True))])])),
                       True)]
        for _ in range(60):
            frame, answered = rng.choice(bad_frames)
            with b.conn() as c:
                c.send(frame)
                if answered:
                    check(c.recv_frame() is not None, "bad-CRC produce answered", "a response",
                          "connection closed")
                else:
                    expect_closed(c, "bad input beside a streaming client", logged=False)
    finally:
        writer.join()
    check(p.returncode == 0, "kcat -P streaming beside the bad input exits 0", 0, p.returncode)
    got = h.kcat_consume(b, "stream", partition=0, fmt="%s\\n")
    check(got == [b"s-%06d" % i for i in range(n)], "all streamed records read back in order",
          "%d records" % n, "%d records" % len(got))
    h.assert_served(b)


# ---------------------------------------------------------------- connections

def case_max_connections():
    limit = 4
    with h.Broker({"max.connections": limit}, name="maxconn") as b:
        conns = []
        try:
            # Fill every slot. A slot may still be held by the harness's readiness probe until
            # the broker sees its close, so a refused connection is retried until the deadline.
            deadline = h.time.monotonic() + 10
            while len(conns) < limit:
                c = b.conn()
                try:
                    c.call(kw.API_API_VERSIONS, 0, b"", 60 + len(conns))
                    conns.append(c)
                except (h.TestFailure, OSError):
                    c.close()
                    check(h.time.monotonic() < deadline, "connection %d of %d accepted" %
                          (len(conns) + 1, limit), "accepted", "refused")
            extra = b.conn()
            try:
                try:
                    extra.send(kw.request(kw.API_API_VERSIONS, 0, 70, b""))
                except OSError:
                    pass
                check(extra.wait_closed(), "connection %d refused with max.connections=%d" %
                      (limit + 1, limit), "closed", "still open after 10 s")
            finally:
                extra.close()
            for i, c in enumerate(conns):
                err, _ = kw.parse_api_versions_v0(c.call(kw.API_API_VERSIONS, 0, b"", 80 + i))
                check(err == 0, "existing connection %d still served" % i, "NONE",
                      kw.err_name(err))
        finally:
            for c in conns:
                c.close()
        h.assert_served(b, "after max.connections refusal")


def case_idle_connection_closed():
    """connections.max.idle.ms: a silent connection is closed; a busy one is not."""
    with h.Broker({"connections.max.idle.ms": 1000}, name="idle") as b:
        with b.conn() as idle, b.conn() as busy:
            idle.call(kw.API_API_VERSIONS, 0, b"", 90)
            closed = False
            deadline = h.time.monotonic() + 20
            i = 0
            while h.time.monotonic() < deadline and not closed:
                i += 1
                busy.call(kw.API_API_VERSIONS, 0, b"", 100 + i)  # keeps `busy` active
                closed = idle.wait_closed(deadline_s=0.2)
            check(closed, "idle connection closed (connections.max.idle.ms=1000)", "closed",
                  "still open after 20 s")
            err, _ = kw.parse_api_versions_v0(busy.call(kw.API_API_VERSIONS, 0, b"", 99))
            check(err == 0, "the busy connection is still served", "NONE", kw.err_name(err))


def case_clean_shutdown_after_all_of_it():
    """Last: the broker that took every bad input above exits 0 on SIGTERM, and (in a sanitizer
    build) reported nothing."""
    global BROKER
    b = broker()
    try:
        b.stop_clean()
    finally:
        b.cleanup()
        BROKER = None


CASES = [(name[5:], fn) for name, fn in list(globals().items()) if name.startswith("case_")]

if __name__ == "__main__":
    try:
        h.run_cases(CASES)
    finally:
        if BROKER is not None:
            BROKER.cleanup()
