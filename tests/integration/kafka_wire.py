"""Minimal Kafka wire codec for the integration tests: just the requests and responses the tests
send by hand over raw sockets, each written in the field order of Kafka's schema files
(clients/src/main/resources/common/message/*.json, Kafka 3.8), plus record batch v2 with CRC-32C.

Only non-flexible versions are encoded here (request header v1, response header v0), except the
ApiVersions v3 request used to check the v0 fallback. Everything is big-endian.
"""

import struct

# Error codes (Kafka's Errors.java).
NONE = 0
CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
LEADER_NOT_AVAILABLE = 5
MESSAGE_TOO_LARGE = 10
INVALID_TOPIC_EXCEPTION = 17
UNSUPPORTED_VERSION = 35
TOPIC_ALREADY_EXISTS = 36
INVALID_REQUEST = 42

ERROR_NAMES = {
    -1: "UNKNOWN_SERVER_ERROR", 0: "NONE", 1: "OFFSET_OUT_OF_RANGE", 2: "CORRUPT_MESSAGE",
    3: "UNKNOWN_TOPIC_OR_PARTITION", 4: "INVALID_FETCH_SIZE", 5: "LEADER_NOT_AVAILABLE",
    6: "NOT_LEADER_OR_FOLLOWER", 7: "REQUEST_TIMED_OUT", 10: "MESSAGE_TOO_LARGE",
    17: "INVALID_TOPIC_EXCEPTION", 18: "RECORD_LIST_TOO_LARGE", 35: "UNSUPPORTED_VERSION",
    36: "TOPIC_ALREADY_EXISTS", 37: "INVALID_PARTITIONS", 38: "INVALID_REPLICATION_FACTOR",
    41: "NOT_CONTROLLER", 42: "INVALID_REQUEST", 87: "INVALID_RECORD",
}


def err_name(code):
    return "%s(%d)" % (ERROR_NAMES.get(code, "?"), code)


API_PRODUCE, API_FETCH, API_LIST_OFFSETS, API_METADATA = 0, 1, 2, 3
API_API_VERSIONS, API_CREATE_TOPICS, API_DELETE_TOPICS = 18, 19, 20

# ---------------------------------------------------------------- CRC-32C (Castagnoli)
_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data):
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283

# ---------------------------------------------------------------- primitives


def i8(v):
    return struct.pack(">b", v)


def i16(v):
    return struct.pack(">h", v)


def i32(v):
    return struct.pack(">i", v)


def i64(v):
    return struct.pack(">q", v)


def string(s):
    """Classic string: int16 length, -1 = null."""
    if s is None:
        return i16(-1)
    b = s.encode() if isinstance(s, str) else s
    return i16(len(b)) + b


def nbytes(b):
    """Classic bytes/records: int32 length, -1 = null."""
    if b is None:
        return i32(-1)
    return i32(len(b)) + b


def array(items, enc):
    if items is None:
        return i32(-1)
    return i32(len(items)) + b"".join(enc(x) for x in items)


def uvarint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def varint(n):
    """Zigzag varint (record fields)."""
    return uvarint((n << 1) ^ (n >> 63))


def compact_string(s):
    b = s.encode()
    return uvarint(len(b) + 1) + b


class Reader:
    """Sequential big-endian reader over a response body; raises ValueError when short."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError("short response: need %d bytes at %d of %d" %
                             (n, self.pos, len(self.data)))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def i8(self):
        return struct.unpack(">b", self.take(1))[0]

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode(errors="replace")

    def array(self, dec):
        n = self.i32()
        return None if n < 0 else [dec(self) for _ in range(n)]

    def remaining(self):
        return len(self.data) - self.pos


# ---------------------------------------------------------------- framing


def request(api_key, api_version, correlation_id, body, client_id="strata-it"):
    """A complete frame: int32 size + request header v1 + body."""
    payload = i16(api_key) + i16(api_version) + i32(correlation_id) + string(client_id) + body
    return i32(len(payload)) + payload


def request_v2_header(api_key, api_version, correlation_id, body, client_id="strata-it"):
    """A complete frame with request header v2 (flexible): header v1 + empty tag section."""
    payload = (i16(api_key) + i16(api_version) + i32(correlation_id) + string(client_id) +
               uvarint(0) + body)
    return i32(len(payload)) + payload


# ---------------------------------------------------------------- requests

def api_versions_v0():
    return b""


def api_versions_v3_body(name="strata-it", version="1.0"):
    return compact_string(name) + compact_string(version) + uvarint(0)


def metadata_v4(topics, allow_auto_create=False):
    """topics: list of names, or None for all topics."""
    body = array(topics, string) if topics is not None else i32(-1)
    return body + i8(1 if allow_auto_create else 0)


def produce_v7(acks, timeout_ms, topic_data, transactional_id=None):
    """topic_data: [(topic, [(partition, records_bytes_or_None), ...]), ...]"""
    def part(p):
        return i32(p[0]) + nbytes(p[1])

    def topic(t):
        return string(t[0]) + array(t[1], part)
    return string(transactional_id) + i16(acks) + i32(timeout_ms) + array(topic_data, topic)


def create_topics_v3(topics, timeout_ms=10000, validate_only=False):
    """topics: [(name, num_partitions, replication_factor), ...]"""
    def topic(t):
        return (string(t[0]) + i32(t[1]) + i16(t[2]) + array([], None) + array([], None))
    return array(topics, topic) + i32(timeout_ms) + i8(1 if validate_only else 0)


def list_offsets_v2(topics, isolation_level=0):
    """topics: [(name, [(partition, timestamp), ...]), ...]; timestamp -1 latest, -2 earliest."""
    def part(p):
        return i32(p[0]) + i64(p[1])

    def topic(t):
        return string(t[0]) + array(t[1], part)
    return i32(-1) + i8(isolation_level) + array(topics, topic)


# ---------------------------------------------------------------- responses (bodies after
# the 4-byte correlation id of response header v0)

def parse_api_versions_v0(body):
    r = Reader(body)
    err = r.i16()
    apis = r.array(lambda r: (r.i16(), r.i16(), r.i16()))
    return err, apis


def parse_metadata_v4(body):
    r = Reader(body)
    throttle = r.i32()
    brokers = r.array(lambda r: (r.i32(), r.string(), r.i32(), r.string()))
    cluster_id = r.string()
    controller = r.i32()

    def part(r):
        return {"error": r.i16(), "partition": r.i32(), "leader": r.i32(),
                "replicas": r.array(lambda r: r.i32()), "isr": r.array(lambda r: r.i32())}

    def topic(r):
        return {"error": r.i16(), "name": r.string(), "internal": r.i8(),
                "partitions": r.array(part)}
    topics = r.array(topic)
    return {"throttle": throttle, "brokers": brokers, "cluster_id": cluster_id,
            "controller": controller, "topics": topics}


def parse_produce_v7(body):
    """Returns {(topic, partition): (error_code, base_offset)} and the throttle time."""
    r = Reader(body)
    out = {}

    def part(r):
        return (r.i32(), r.i16(), r.i64(), r.i64(), r.i64())

    def topic(r):
        name = r.string()
        for idx, err, base, _append_time, _start in r.array(part):
            out[(name, idx)] = (err, base)
    r.array(topic)
    throttle = r.i32()
    return out, throttle


def parse_create_topics_v3(body):
    r = Reader(body)
    r.i32()
    return {name: (err, msg) for name, err, msg in
            r.array(lambda r: (r.string(), r.i16(), r.string()))}


def parse_list_offsets_v2(body):
    r = Reader(body)
    r.i32()
    out = {}

    def topic(r):
        name = r.string()
        for idx, err, _ts, off in r.array(lambda r: (r.i32(), r.i16(), r.i64(), r.i64())):
            out[(name, idx)] = (err, off)
    r.array(topic)
    return out


# ---------------------------------------------------------------- record batch v2

def record(offset_delta, key, value, timestamp_delta=0):
    def vbytes(b):
        return varint(-1) if b is None else varint(len(b)) + b
    body = (i8(0) + varint(timestamp_delta) + varint(offset_delta) + vbytes(key) + vbytes(value) +
            varint(0))
    return varint(len(body)) + body


def record_batch(records, base_timestamp=1700000000000, corrupt_crc=False):
    """records: list of (key, value) bytes. Returns a magic-2 uncompressed batch."""
    recs = b"".join(record(i, k, v) for i, (k, v) in enumerate(records))
    after_crc = (i16(0) + i32(len(records) - 1) + i64(base_timestamp) + i64(base_timestamp) +
                 i64(-1) + i16(-1) + i32(-1) + i32(len(records)) + recs)
    crc = crc32c(after_crc)
    if corrupt_crc:
        crc ^= 0xDEADBEEF
    rest = i32(0) + i8(2) + struct.pack(">I", crc) + after_crc  # leader epoch .. end
    return i64(0) + i32(len(rest)) + rest
