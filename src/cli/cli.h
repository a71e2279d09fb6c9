/*
 * cli.h: internals of the `strata` command-line tool (src/cli/), shared by its files.
 * The tool is a plain blocking Kafka client: it uses proto/ and util/ and talks the
 * Kafka protocol over TCP, so it works against Apache Kafka too. Only `topics
 * --zookeeper` also uses cluster/ (coord_zk, Kafka's znode JSON, replica assignment) to
 * write ZooKeeper directly, as kafka-topics.sh --zookeeper did.
 *
 * Pure parts (tested in tests/cli/): args.c (option parsing), topics_fmt.c (kafka-topics
 * parsing and output formatting), batch.c (murmur2, record batch v2 build/parse),
 * errors.c (Kafka error descriptions), group_proto.c (consumer protocol, range assignor).
 * Network parts: client.c, group.c (consumer-group member), zk.c (blocking ZooKeeper).
 * Commands: topics.c (topics_zk.c for --zookeeper), produce.c, consume.c. Entry point
 * and subcommand table: strata.c.
 *
 * Exit codes: 0 success, 1 a runtime or Kafka error, 2 a usage error.
 */
#ifndef STRATA_CLI_H
#define STRATA_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "strata/proto.h"
#include "strata/util.h"

enum { CLI_EXIT_OK = 0, CLI_EXIT_ERROR = 1, CLI_EXIT_USAGE = 2 };

/* ---------------------------------------------------------------- args.c */

typedef enum {
    CLI_OPT_FLAG,  /* --name */
    CLI_OPT_VALUE, /* --name VALUE or --name=VALUE; the last one wins */
    CLI_OPT_MULTI  /* --name VALUE, repeatable: every value kept in order */
} cli_opt_kind_t;

typedef struct cli_opt {
    const char *name; /* without the leading "--" */
    cli_opt_kind_t kind;
    const char *arg_name; /* for usage: "H:P", NULL for flags */
    const char *help;
} cli_opt_t;

typedef struct cli_args {
    const cli_opt_t *opts;
    size_t n_opts;
    int *count;          /* per option: times given */
    const char **value;  /* per option: last value (borrowed from argv) */
    const char ***multi; /* per option: every value (array owned, strings borrowed) */
} cli_args_t;

/**
 * Parses argv[0..argc) (argv[0] is the first option, not the program). Unknown options
 * and positional arguments are errors naming the offending word.
 * @returns 0 or -1 with err filled. cli_args_free() in both cases.
 */
int cli_args_parse(cli_args_t *a, const cli_opt_t *opts, size_t n_opts, int argc, char **argv,
                   char *err, size_t err_len);
void cli_args_free(cli_args_t *a);
bool cli_args_has(const cli_args_t *a, const char *name);
const char *cli_args_get(const cli_args_t *a, const char *name);
/** Every value of a CLI_OPT_MULTI option; *n receives the count. */
const char **cli_args_multi(const cli_args_t *a, const char *name, size_t *n);
/**
 * Parses an integer option value in [min, max]; on failure err says
 * "--partitions: 'x' is not an integer" or "... must be between".
 */
int cli_parse_int(const char *opt, const char *s, int64_t min, int64_t max, int64_t *out, char *err,
                  size_t err_len);
void cli_print_usage(FILE *f, const char *usage_line, const char *summary, const cli_opt_t *opts,
                     size_t n_opts);

/* ---------------------------------------------------------------- errors.c */

/** "TOPIC_ALREADY_EXISTS: Topic 't' already exists." from a Kafka error code and the
 *  broker's message (may be NULL: Kafka's default description is used). */
void cli_kafka_error(char *out, size_t out_len, int code, const char *broker_message);
/** Kafka's default one-line description of an error code. */
const char *cli_kafka_error_text(int code);

/* ---------------------------------------------------------------- topics_fmt.c */

/** Kafka's Uuid.toString(): URL-safe base64 without padding (22 chars + NUL). */
void cli_uuid_base64(const uint8_t uuid[16], char out[23]);
bool cli_uuid_is_zero(const uint8_t uuid[16]);

/* A replica assignment "1:2,2:3": partition i gets brokers[i][0..rf). */
typedef struct cli_assignment {
    int32_t n_partitions;
    int32_t rf;
    int32_t *brokers; /* n_partitions * rf, row-major; owned */
} cli_assignment_t;
/** @returns 0, or -1 with Kafka's message in err (duplicates, differing replication factor). */
int cli_parse_replica_assignment(const char *s, cli_assignment_t *out, char *err, size_t err_len);
void cli_assignment_free(cli_assignment_t *a);

/** Splits "key=value" (spaces around '=' trimmed) like kafka-topics; exactly one '='
 *  with non-empty sides. @returns 0 or -1. *key, *value owned by the caller. */
int cli_parse_topic_config(const char *s, char **key, char **value);

/** A compiled kafka-topics --topic include list ("a,b.*": comma = alternation, full match). */
typedef struct cli_topic_filter cli_topic_filter_t;
/** @returns NULL with err filled when the expression does not compile. */
cli_topic_filter_t *cli_topic_filter_new(const char *include, char *err, size_t err_len);
bool cli_topic_filter_match(const cli_topic_filter_t *f, const char *topic);
void cli_topic_filter_free(cli_topic_filter_t *f);

/** Kafka's Topic.hasCollisionChars: the name has '.' or '_'. */
bool cli_topic_has_collision_chars(const char *topic);
/** Kafka's internal topics (__consumer_offsets, __transaction_state). */
bool cli_topic_is_internal_name(const char *topic);

/** Appends "Topic: t\tTopicId: id\tPartitionCount: n\tReplicationFactor: r\tConfigs: c\n"
 *  (TopicId omitted for the zero uuid, like kafka-topics). */
void cli_format_topic_line(buf_t *out, const char *topic, const uint8_t topic_id[16],
                           int32_t partition_count, int32_t replication_factor,
                           const char *configs);
/** Appends "\tTopic: t\tPartition: p\tLeader: l|none\tReplicas: a,b\tIsr: a,b\n". */
void cli_format_partition_line(buf_t *out, const char *topic, int32_t partition, int32_t leader,
                               const int32_t *replicas, int32_t n_replicas, const int32_t *isr,
                               int32_t n_isr);

/* ---------------------------------------------------------------- batch.c */

/** Kafka's murmur2 (Utils.murmur2) as a signed int, e.g. murmur2("21") == -973932308. */
int32_t cli_murmur2(const void *data, size_t len);
/** Kafka's default partitioner for a keyed record: toPositive(murmur2(key)) % n. */
int32_t cli_partition_for_key(const void *key, size_t len, int32_t n_partitions);

/* Builds one uncompressed magic-v2 record batch (producer id -1, CreateTime). */
typedef struct cli_batch {
    kp_wr_t wr;
    int32_t count;
    int64_t base_timestamp;
    int64_t max_timestamp;
} cli_batch_t;
void cli_batch_init(cli_batch_t *b);
void cli_batch_destroy(cli_batch_t *b);
/** Starts a fresh batch (drops any previous content). */
void cli_batch_reset(cli_batch_t *b);
/** key_len / value_len -1 = null. */
void cli_batch_add(cli_batch_t *b, const void *key, int32_t key_len, const void *value,
                   int32_t value_len, int64_t timestamp_ms);
/** Bytes of the batch so far (approximately what finish will produce). */
size_t cli_batch_size(const cli_batch_t *b);
/** Fills the header (lengths, CRC-32C). @returns the batch bytes (owned by b). */
const uint8_t *cli_batch_finish(cli_batch_t *b, size_t *len);

/* One record of a fetched batch; key/value point into the fetched bytes. */
typedef struct cli_record {
    int64_t offset;
    int64_t timestamp;
    bool log_append_time;
    const uint8_t *key;
    int32_t key_len; /* -1 = null */
    const uint8_t *value;
    int32_t value_len; /* -1 = null */
} cli_record_t;

enum {
    CLI_BATCH_OK = 0,
    CLI_BATCH_CORRUPT = -1,    /* bad CRC or garbled record */
    CLI_BATCH_COMPRESSED = -2, /* compressed batch: this tool cannot decompress it */
    CLI_BATCH_OLD_MAGIC = -3   /* magic 0/1 message set */
};

/**
 * Walks the record batches in data[0..len): calls cb for every record with offset >=
 * min_offset. A partial batch at the end (Kafka may cut one) is ignored. *next_offset
 * receives the offset after the last whole batch seen (unchanged if none).
 * cb returns false to stop early. @returns CLI_BATCH_OK or a CLI_BATCH_* error
 * (*next_offset then points past the batches before the bad one).
 */
int cli_batch_parse(const uint8_t *data, size_t len, int64_t min_offset,
                    bool (*cb)(const cli_record_t *r, void *ctx), void *ctx, int64_t *next_offset);

/* ---------------------------------------------------------------- client.c */

typedef struct cli_conn {
    int fd;
    char *host;
    int port;
    int32_t node_id;    /* -1 for a bootstrap connection */
    int16_t max_v[128]; /* per api key: broker's max version, -1 = unsupported */
    int16_t min_v[128];
    int32_t next_correlation_id;
} cli_conn_t;

typedef struct cli_broker {
    int32_t node_id;
    char *host;
    int port;
    char *rack;
    cli_conn_t *conn; /* lazily opened */
} cli_broker_t;

typedef struct cli_client {
    char *bootstrap;
    cli_conn_t *boot;
    cli_broker_t *brokers;
    size_t n_brokers;
    int32_t controller_id;
    int timeout_ms;
} cli_client_t;

/** A decoded response: msg points into arena and raw (both owned). */
typedef struct cli_resp {
    arena_t *arena;
    buf_t raw;
    void *msg;
} cli_resp_t;
void cli_resp_init(cli_resp_t *r);
void cli_resp_destroy(cli_resp_t *r);

/** Splits "host:port" / "[v6]:port". @returns 0 or -1. *host owned. */
int cli_parse_host_port(const char *s, char **host, int *port);

/** Connects to the first reachable server of a "H:P[,H:P]" list. @returns 0 or -1 (err). */
int cli_client_open(cli_client_t *cl, const char *bootstrap, char *err, size_t err_len);
void cli_client_close(cli_client_t *cl);
/** The connection to a broker by node id (opened on first use), or the bootstrap one
 *  for -1. NULL with err when unknown or unreachable. */
cli_conn_t *cli_client_node(cli_client_t *cl, int32_t node_id, char *err, size_t err_len);
/**
 * Metadata for topics (NULL/-1 = all topics); refreshes the broker list and controller.
 * @returns 0 or -1 (err). resp->msg is a kp_MetadataResponse_t.
 */
int cli_client_metadata(cli_client_t *cl, const char *const *topics, int n_topics,
                        bool allow_auto_create, cli_resp_t *resp, char *err, size_t err_len);

/**
 * The version to use for api_key on conn: the highest in [lo, hi] the broker supports,
 * or -1 (err says which API and which versions).
 */
int16_t cli_conn_version(const cli_conn_t *c, int16_t api_key, int16_t lo, int16_t hi, char *err,
                         size_t err_len);
/**
 * Sends one request and, when expect_response, waits for and decodes its response into
 * resp. @returns 0 or -1 (err names the broker and the failure).
 */
int cli_conn_request(cli_conn_t *c, int16_t api_key, int16_t version, const void *request,
                     bool expect_response, int timeout_ms, cli_resp_t *resp, char *err,
                     size_t err_len);

/* ---------------------------------------------------------------- group_proto.c */

/*
 * The "consumer" embedded protocol of consumer groups (ConsumerProtocolSubscription /
 * ConsumerProtocolAssignment v0) and the range assignor, as Kafka's clients use them.
 */
/** Appends a v0 subscription to topics[0..n) (no user data) to out. */
void cli_group_encode_subscription(buf_t *out, const char *const *topics, size_t n);
/** Parses a subscription. @returns the topic count (names in arena) or -1 when garbled. */
int cli_group_decode_subscription(const uint8_t *data, size_t len, arena_t *arena, char ***topics);

typedef struct cli_topic_parts {
    const char *topic;
    int32_t n_partitions;
    int32_t *partitions;
} cli_topic_parts_t;
/** Appends a v0 assignment to out. */
void cli_group_encode_assignment(buf_t *out, const cli_topic_parts_t *tp, size_t n);
/** Parses an assignment; arrays in arena. @returns the topic count or -1 when garbled. */
int cli_group_decode_assignment(const uint8_t *data, size_t len, arena_t *arena,
                                cli_topic_parts_t **out);
/**
 * Kafka's RangeAssignor for one topic: members (sorted by member id by the caller)
 * numbered 0..n_members); member i gets partitions [first[i], first[i] + count[i]).
 */
void cli_group_range_assign(int32_t n_partitions, int32_t n_members, int32_t *first,
                            int32_t *count);

/* ---------------------------------------------------------------- group.c */

typedef struct cli_group cli_group_t;
cli_group_t *cli_group_new(cli_client_t *cl, const char *group_id, const char *topic);
void cli_group_free(cli_group_t *g);
/**
 * Joins (or rejoins) the group and syncs: *parts receives the partitions of the topic
 * assigned to this member (owned, may be empty). @returns 0 or -1 with err.
 */
int cli_group_join(cli_group_t *g, int32_t **parts, int32_t *n_parts, char *err, size_t err_len);
/** Committed offsets (-1 = none) for parts. @returns 0 or -1 with err. */
int cli_group_fetch_offsets(cli_group_t *g, const int32_t *parts, int32_t n, int64_t *offsets,
                            char *err, size_t err_len);
/** Commits offsets (next offset to read) for parts. @returns 0, 1 (rejoin needed), -1. */
int cli_group_commit(cli_group_t *g, const int32_t *parts, const int64_t *offsets, int32_t n,
                     char *err, size_t err_len);
/** @returns 0, 1 when the group is rebalancing (rejoin), -1 with err. */
int cli_group_heartbeat(cli_group_t *g, char *err, size_t err_len);
/** Leaves the group (best effort). */
void cli_group_leave(cli_group_t *g);

/* ---------------------------------------------------------------- zk.c */

/*
 * A blocking ZooKeeper session for `--zookeeper` (coord_zk on a private libuv loop).
 * Every call waits at most the timeout given to cli_zk_open; after one missed deadline
 * the later calls fail at once. Calls return 0 or the coord code (STRATA_ENOTFOUND,
 * STRATA_EEXISTS, STRATA_EBADVERSION, STRATA_ECONNLOSS, ...) with err filled.
 */
typedef struct cli_zk cli_zk_t;
/** "H:P[,H:P][/chroot]". @returns NULL with err filled when the string is malformed. */
cli_zk_t *cli_zk_open(const char *connect, int timeout_ms, char *err, size_t err_len);
void cli_zk_close(cli_zk_t *z);
/** *data: NUL-terminated copy (owned; NULL for a node without data). version may be NULL. */
int cli_zk_get(cli_zk_t *z, const char *path, char **data, size_t *len, int32_t *version, char *err,
               size_t err_len);
/** *names: sorted child names (owned, cli_zk_free_names). */
int cli_zk_children(cli_zk_t *z, const char *path, char ***names, size_t *n, char *err,
                    size_t err_len);
/** A persistent node. */
int cli_zk_create(cli_zk_t *z, const char *path, const char *data, size_t len, char *err,
                  size_t err_len);
/** setData expecting version (-1 = any). */
int cli_zk_set(cli_zk_t *z, const char *path, const char *data, size_t len, int32_t version,
               char *err, size_t err_len);
void cli_zk_free_names(char **names, size_t n);

/* ---------------------------------------------------------------- topics_zk.c */

/**
 * `strata topics --zookeeper ...` once topics.c has parsed and checked the options:
 * reads and writes Kafka's znodes directly, like kafka-topics.sh --zookeeper.
 * filter is the compiled --topic (NULL with --create or without --topic).
 * @returns the exit code.
 */
int cli_topics_zk(const cli_args_t *a, const cli_topic_filter_t *filter);

/* ---------------------------------------------------------------- commands */

int cli_cmd_topics(int argc, char **argv);
int cli_cmd_produce(int argc, char **argv);
int cli_cmd_consume(int argc, char **argv);
int cli_cmd_consumer_groups(int argc, char **argv); /* consumer_groups.c (issue 7) */

#endif /* STRATA_CLI_H */
