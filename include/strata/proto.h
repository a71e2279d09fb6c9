/*
 * proto: the Kafka wire codec. Pure functions over byte buffers: no I/O, no globals,
 * no libuv — everything here can be fuzzed and unit-tested without a loop.
 *
 *  - Primitive reader (kp_rd_t) with a sticky error: every read after the first failure
 *    returns a zero value and the error stays set; callers check kp_rd_err() once at the
 *    end. Lengths are checked against the bytes remaining before anything is allocated.
 *    Decoded strings and arrays live in the reader's arena; bytes and records values point
 *    INTO the input buffer (zero copy), so the input must outlive the decoded message.
 *  - Primitive writer (kp_wr_t) appending to a growable buffer, which can also reference
 *    file ranges for `records` values (sendfile): see kp_wr_chunk_t.
 *  - Generated per-message structs and codecs (strata/proto_gen.h, from Kafka's schema
 *    files by scripts/gen_proto.py), the API table, header versions.
 *  - Hand-written: the versions Strata advertises (kp_supported_*), Kafka error codes.
 */
#ifndef STRATA_PROTO_H
#define STRATA_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/util.h"

/* ---------------------------------------------------------------- value types */

/** A `bytes` value. len -1 = null (data NULL). data is borrowed (input buffer or caller). */
typedef struct kp_bytes {
    const uint8_t *data;
    int32_t len;
} kp_bytes_t;

/**
 * A `records` value (record batches). len -1 = null.
 * fd < 0: the bytes are data[0..len) in memory (decoded: points into the input buffer).
 * fd >= 0 (encode only): the bytes are the file range [file_pos, file_pos + len) of fd,
 * which the writer does not read: it records a chunk for sendfile (see kp_wr_chunk_t).
 * Decoders always produce fd = -1. Zero-initialised means an EMPTY in-memory value with
 * fd 0 — so always set fd explicitly, or use kp_records_mem().
 */
typedef struct kp_records {
    const uint8_t *data;
    int64_t len; /* -1 = null */
    int fd;      /* >= 0: bytes are file range [file_pos, file_pos+len) */
    int64_t file_pos;
} kp_records_t;

static inline kp_records_t kp_records_mem(const uint8_t *data, int64_t len) {
    kp_records_t r = {data, len, -1, 0};
    return r;
}
static inline kp_records_t kp_records_file(int fd, int64_t pos, int64_t len) {
    kp_records_t r = {NULL, len, fd, pos};
    return r;
}

/* ---------------------------------------------------------------- reader */

typedef struct kp_rd {
    const uint8_t *start; /* first byte of the input */
    const uint8_t *p;     /* next byte to read */
    const uint8_t *end;   /* one past the last byte */
    arena_t *arena;       /* strings and arrays are allocated here (borrowed) */
    int err;              /* sticky: 0 or STRATA_ECORRUPT */
} kp_rd_t;

/** Reads data[0..len); allocations go to arena (borrowed, must outlive the results). */
void kp_rd_init(kp_rd_t *rd, const void *data, size_t len, arena_t *arena);
/** @returns 0, or STRATA_ECORRUPT once any read ran past the end or met a bad length. */
static inline int kp_rd_err(const kp_rd_t *rd) {
    return rd->err;
}
static inline size_t kp_rd_remaining(const kp_rd_t *rd) {
    return (size_t)(rd->end - rd->p);
}
/** Bytes consumed so far. */
static inline size_t kp_rd_offset(const kp_rd_t *rd) {
    return (size_t)(rd->p - rd->start);
}
/** Marks the reader failed (STRATA_ECORRUPT) and moves it to the end. */
void kp_rd_fail(kp_rd_t *rd);

int8_t kp_rd_i8(kp_rd_t *rd);
int16_t kp_rd_i16(kp_rd_t *rd);
int32_t kp_rd_i32(kp_rd_t *rd);
int64_t kp_rd_i64(kp_rd_t *rd);
uint16_t kp_rd_u16(kp_rd_t *rd);
uint32_t kp_rd_u32(kp_rd_t *rd);
double kp_rd_f64(kp_rd_t *rd);
bool kp_rd_bool(kp_rd_t *rd); /* any non-zero byte is true */
void kp_rd_uuid(kp_rd_t *rd, uint8_t out[16]);
/** Unsigned varint (flexible versions), at most 5 bytes / 32 bits. */
uint32_t kp_rd_uvarint(kp_rd_t *rd);
/** Zigzag varint (record fields), at most 5 bytes. */
int32_t kp_rd_varint(kp_rd_t *rd);
/** Zigzag varlong, at most 10 bytes. */
int64_t kp_rd_varlong(kp_rd_t *rd);
/** n raw bytes (pointer into the input), or NULL on error. */
const uint8_t *kp_rd_raw(kp_rd_t *rd, size_t n);

/*
 * Length-prefixed values. compact = flexible encoding (uvarint length+1, 0 = null),
 * otherwise classic (int16 for strings, int32 for bytes/records/arrays, -1 = null).
 * A null when !nullable is an error.
 */
/** A NUL-terminated arena copy, NULL for null. */
char *kp_rd_string(kp_rd_t *rd, bool compact, bool nullable);
/** Points into the input; len -1 = null. */
kp_bytes_t kp_rd_bytes(kp_rd_t *rd, bool compact, bool nullable);
/** Points into the input; fd = -1; len -1 = null. */
kp_records_t kp_rd_records(kp_rd_t *rd, bool compact, bool nullable);
/**
 * An array element count, -1 for null. Fails when count * min_elem_size (at least 1)
 * exceeds the bytes remaining, so a caller may then allocate count elements.
 */
int32_t kp_rd_array_len(kp_rd_t *rd, bool compact, bool nullable, size_t min_elem_size);
/** Reads a tagged-field section and skips every field in it. */
void kp_rd_skip_tags(kp_rd_t *rd);

/* ---------------------------------------------------------------- writer */

/**
 * A file range inside the output: the bytes to send are buf[prev.buf_offset ..
 * buf_offset), then the file range [pos, pos+len) of fd (sendfile), and after the last
 * chunk the rest of the buffer.
 */
typedef struct kp_wr_chunk {
    size_t buf_offset;
    int fd;
    int64_t pos;
    int64_t len;
} kp_wr_chunk_t;

typedef struct kp_wr {
    buf_t buf; /* owned; a caller may take it over (then reset wr->buf to BUF_INIT) */
    kp_wr_chunk_t *chunks;
    size_t n_chunks, cap_chunks;
    int64_t file_bytes; /* sum of chunk lengths */
    int err;            /* sticky: STRATA_EINVAL when a value could not be encoded */
} kp_wr_t;

void kp_wr_init(kp_wr_t *wr);
void kp_wr_destroy(kp_wr_t *wr); /* frees buffer and chunk list */
void kp_wr_reset(kp_wr_t *wr);   /* empty again, keeps the storage */
/** @returns 0, or STRATA_EINVAL when a value did not fit its wire type (e.g. string > 32767). */
static inline int kp_wr_err(const kp_wr_t *wr) {
    return wr->err;
}
/** Bytes in the memory buffer (= the offset of the next byte written). */
static inline size_t kp_wr_offset(const kp_wr_t *wr) {
    return wr->buf.len;
}
/** Everything to send: buffer bytes plus file-range bytes. */
int64_t kp_wr_total_len(const kp_wr_t *wr);
/** Bytes to send after buffer offset off (buffer and file chunks at or after off). */
int64_t kp_wr_len_since(const kp_wr_t *wr, size_t off);
static inline size_t kp_wr_n_chunks(const kp_wr_t *wr) {
    return wr->n_chunks;
}
static inline const kp_wr_chunk_t *kp_wr_chunk(const kp_wr_t *wr, size_t i) {
    return &wr->chunks[i];
}

void kp_wr_i8(kp_wr_t *wr, int8_t v);
void kp_wr_i16(kp_wr_t *wr, int16_t v);
void kp_wr_i32(kp_wr_t *wr, int32_t v);
void kp_wr_i64(kp_wr_t *wr, int64_t v);
void kp_wr_u16(kp_wr_t *wr, uint16_t v);
void kp_wr_u32(kp_wr_t *wr, uint32_t v);
void kp_wr_f64(kp_wr_t *wr, double v);
void kp_wr_bool(kp_wr_t *wr, bool v);
void kp_wr_uuid(kp_wr_t *wr, const uint8_t v[16]);
void kp_wr_uvarint(kp_wr_t *wr, uint32_t v);
void kp_wr_varint(kp_wr_t *wr, int32_t v);
void kp_wr_varlong(kp_wr_t *wr, int64_t v);
void kp_wr_raw(kp_wr_t *wr, const void *data, size_t n);
/** Reserves 4 bytes (e.g. a size prefix) and @returns their offset for kp_wr_patch_i32. */
size_t kp_wr_reserve_i32(kp_wr_t *wr);
/** Overwrites the int32 at buffer offset off (previously written or reserved). */
void kp_wr_patch_i32(kp_wr_t *wr, size_t off, int32_t v);

/*
 * Length-prefixed values, see the reader. A NULL string / len -1 value is written as
 * null when nullable, otherwise as empty (and wr->err is not set: lenient by design).
 */
void kp_wr_string(kp_wr_t *wr, const char *s, bool compact, bool nullable);
void kp_wr_bytes(kp_wr_t *wr, kp_bytes_t b, bool compact, bool nullable);
/** fd >= 0: writes the length prefix and records a file chunk instead of the bytes. */
void kp_wr_records(kp_wr_t *wr, const kp_records_t *r, bool compact, bool nullable);
/** n -1 = null (written as empty when !nullable). */
void kp_wr_array_len(kp_wr_t *wr, int32_t n, bool compact, bool nullable);
/** An empty tagged-field section (one 0 byte). */
void kp_wr_empty_tags(kp_wr_t *wr);
/** Appends src (buffer and chunks) to wr. */
void kp_wr_append(kp_wr_t *wr, const kp_wr_t *src);

/* ---------------------------------------------------------------- Kafka error codes */

typedef enum kp_err {
    KP_ERR_UNKNOWN_SERVER_ERROR = -1,
    KP_ERR_NONE = 0,
    KP_ERR_OFFSET_OUT_OF_RANGE = 1,
    KP_ERR_CORRUPT_MESSAGE = 2,
    KP_ERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
    KP_ERR_INVALID_FETCH_SIZE = 4,
    KP_ERR_LEADER_NOT_AVAILABLE = 5,
    KP_ERR_NOT_LEADER_OR_FOLLOWER = 6,
    KP_ERR_REQUEST_TIMED_OUT = 7,
    KP_ERR_BROKER_NOT_AVAILABLE = 8,
    KP_ERR_REPLICA_NOT_AVAILABLE = 9,
    KP_ERR_MESSAGE_TOO_LARGE = 10,
    KP_ERR_STALE_CONTROLLER_EPOCH = 11,
    KP_ERR_OFFSET_METADATA_TOO_LARGE = 12,
    KP_ERR_NETWORK_EXCEPTION = 13,
    KP_ERR_COORDINATOR_LOAD_IN_PROGRESS = 14,
    KP_ERR_COORDINATOR_NOT_AVAILABLE = 15,
    KP_ERR_NOT_COORDINATOR = 16,
    KP_ERR_INVALID_TOPIC_EXCEPTION = 17,
    KP_ERR_RECORD_LIST_TOO_LARGE = 18,
    KP_ERR_NOT_ENOUGH_REPLICAS = 19,
    KP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20,
    KP_ERR_INVALID_REQUIRED_ACKS = 21,
    KP_ERR_ILLEGAL_GENERATION = 22,
    KP_ERR_INCONSISTENT_GROUP_PROTOCOL = 23,
    KP_ERR_INVALID_GROUP_ID = 24,
    KP_ERR_UNKNOWN_MEMBER_ID = 25,
    KP_ERR_INVALID_SESSION_TIMEOUT = 26,
    KP_ERR_REBALANCE_IN_PROGRESS = 27,
    KP_ERR_INVALID_COMMIT_OFFSET_SIZE = 28,
    KP_ERR_TOPIC_AUTHORIZATION_FAILED = 29,
    KP_ERR_GROUP_AUTHORIZATION_FAILED = 30,
    KP_ERR_CLUSTER_AUTHORIZATION_FAILED = 31,
    KP_ERR_INVALID_TIMESTAMP = 32,
    KP_ERR_UNSUPPORTED_SASL_MECHANISM = 33,
    KP_ERR_ILLEGAL_SASL_STATE = 34,
    KP_ERR_UNSUPPORTED_VERSION = 35,
    KP_ERR_TOPIC_ALREADY_EXISTS = 36,
    KP_ERR_INVALID_PARTITIONS = 37,
    KP_ERR_INVALID_REPLICATION_FACTOR = 38,
    KP_ERR_INVALID_REPLICA_ASSIGNMENT = 39,
    KP_ERR_INVALID_CONFIG = 40,
    KP_ERR_NOT_CONTROLLER = 41,
    KP_ERR_INVALID_REQUEST = 42,
    KP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT = 43,
    KP_ERR_POLICY_VIOLATION = 44,
    KP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
    KP_ERR_DUPLICATE_SEQUENCE_NUMBER = 46,
    KP_ERR_INVALID_PRODUCER_EPOCH = 47,
    KP_ERR_INVALID_TXN_STATE = 48,
    KP_ERR_INVALID_PRODUCER_ID_MAPPING = 49,
    KP_ERR_INVALID_TRANSACTION_TIMEOUT = 50,
    KP_ERR_CONCURRENT_TRANSACTIONS = 51,
    KP_ERR_KAFKA_STORAGE_ERROR = 56,
    KP_ERR_LOG_DIR_NOT_FOUND = 57,
    KP_ERR_SASL_AUTHENTICATION_FAILED = 58,
    KP_ERR_UNKNOWN_PRODUCER_ID = 59,
    KP_ERR_REASSIGNMENT_IN_PROGRESS = 60,
    KP_ERR_NON_EMPTY_GROUP = 68,
    KP_ERR_GROUP_ID_NOT_FOUND = 69,
    KP_ERR_FETCH_SESSION_ID_NOT_FOUND = 70,
    KP_ERR_INVALID_FETCH_SESSION_EPOCH = 71,
    KP_ERR_LISTENER_NOT_FOUND = 72,
    KP_ERR_TOPIC_DELETION_DISABLED = 73,
    KP_ERR_FENCED_LEADER_EPOCH = 74,
    KP_ERR_UNKNOWN_LEADER_EPOCH = 75,
    KP_ERR_UNSUPPORTED_COMPRESSION_TYPE = 76,
    KP_ERR_STALE_BROKER_EPOCH = 77,
    KP_ERR_OFFSET_NOT_AVAILABLE = 78,
    KP_ERR_MEMBER_ID_REQUIRED = 79,
    KP_ERR_PREFERRED_LEADER_NOT_AVAILABLE = 80,
    KP_ERR_GROUP_MAX_SIZE_REACHED = 81,
    KP_ERR_FENCED_INSTANCE_ID = 82,
    KP_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE = 83,
    KP_ERR_ELECTION_NOT_NEEDED = 84,
    KP_ERR_NO_REASSIGNMENT_IN_PROGRESS = 85,
    KP_ERR_GROUP_SUBSCRIBED_TO_TOPIC = 86,
    KP_ERR_INVALID_RECORD = 87,
    KP_ERR_UNSTABLE_OFFSET_COMMIT = 88,
    KP_ERR_THROTTLING_QUOTA_EXCEEDED = 89,
    KP_ERR_PRODUCER_FENCED = 90,
    KP_ERR_UNKNOWN_TOPIC_ID = 100
} kp_err_t;

/** Kafka's name ("NOT_LEADER_OR_FOLLOWER"), or "UNKNOWN_ERROR_CODE" for other values. */
const char *kp_err_name(int code);
/** Kafka's retriable classification. */
bool kp_err_retriable(int code);

/* ---------------------------------------------------------------- generated codecs */

/* Structs, kp_decode_<Msg>/kp_encode_<Msg>/kp_init_<Msg>, KP_API_* keys, the API table. */
#include "strata/proto_gen.h"

/* ---------------------------------------------------------------- headers */

/**
 * Reads a request header whose version follows from its api key and version
 * (kp_request_header_version); *header_version (may be NULL) receives it.
 * client_id is a classic nullable string in every header version.
 * @returns 0 or STRATA_ECORRUPT (truncated). An unknown api key is NOT an error here:
 * the header is then read as v1, the prefix every Kafka server can parse.
 */
int kp_decode_request_header(kp_rd_t *rd, kp_RequestHeader_t *out, int16_t *header_version);
/** Writes the request header for hdr->request_api_key/version. */
void kp_encode_request_header(kp_wr_t *wr, const kp_RequestHeader_t *hdr);
/** Writes the response header (correlation id [+ tags]) for a response to api_key/version. */
void kp_encode_response_header(kp_wr_t *wr, int16_t api_key, int16_t version,
                               int32_t correlation_id);
/** Reads the response header for api_key/version. @returns 0 or STRATA_ECORRUPT. */
int kp_decode_response_header(kp_rd_t *rd, int16_t api_key, int16_t version,
                              int32_t *correlation_id);

/* ---------------------------------------------------------------- advertised versions */

/*
 * The versions Strata implements and may advertise in ApiVersions (hand-written, in
 * apis.c). Group and idempotence APIs (issue 7) are marked KP_SUPPORT_GROUP: the api
 * layer decides whether it advertises them (e.g. once handlers exist); proto has no switch.
 */
enum {
    KP_SUPPORT_BASE = 1,    /* issue 4: always advertised */
    KP_SUPPORT_GROUP = 2,   /* issue 7: groups + idempotent producer */
    KP_SUPPORT_INTERNAL = 4 /* broker-to-broker only (never needed by clients) */
};

typedef struct kp_supported_api {
    int16_t api_key;
    int16_t min_version;
    int16_t max_version;
    int flags; /* KP_SUPPORT_* */
} kp_supported_api_t;

/** The static table, sorted by api key; *n receives its length. */
const kp_supported_api_t *kp_supported_apis(size_t *n);
/** The entry for api_key, or NULL when Strata does not implement it. */
const kp_supported_api_t *kp_supported(int16_t api_key);
/** min/max version Strata implements, -1 when not implemented. */
int16_t kp_supported_min(int16_t api_key);
int16_t kp_supported_max(int16_t api_key);

#endif /* STRATA_PROTO_H */
