/*
 * apis: the API versions Strata implements (what ApiVersions may advertise), and
 * Kafka's error-code names. Hand-written on purpose: the schema says what Kafka 3.8
 * understands, this table says what our handlers implement. The ranges follow
 * ../shared/kafka-protocol/README.md (client table): every range contains the exact
 * versions librdkafka 2.0.2 needs for its features and stays below the flexible
 * versions clients would otherwise pick (except ApiVersions v3, which librdkafka sends,
 * and Metadata 9-12, above what librdkafka 2.0.2 (4) and kafkajs (6) send; the strata
 * CLI uses v12 for topic ids).
 */
#include "strata/proto.h"

static const kp_supported_api_t supported[] = {
    {KP_API_Produce, 0, 7, KP_SUPPORT_BASE},          /* 0 (rdk codecs), 3 (MsgVer2), 7 (ZSTD) */
    {KP_API_Fetch, 4, 11, KP_SUPPORT_BASE},           /* must contain 4 and 10 */
    {KP_API_ListOffsets, 1, 3, KP_SUPPORT_BASE},      /* rdk 2, kjs 3 */
    {KP_API_Metadata, 1, 12, KP_SUPPORT_BASE},        /* rdk 4, kjs 6, strata cli 12 */
    {KP_API_OffsetCommit, 2, 7, KP_SUPPORT_GROUP},    /* rdk 7, kjs 5 */
    {KP_API_OffsetFetch, 1, 5, KP_SUPPORT_GROUP},     /* rdk 5 (6+ flexible), kjs 4 */
    {KP_API_FindCoordinator, 0, 2, KP_SUPPORT_GROUP}, /* must contain 0 */
    {KP_API_JoinGroup, 0, 5, KP_SUPPORT_GROUP},
    {KP_API_Heartbeat, 0, 3, KP_SUPPORT_GROUP},
    {KP_API_LeaveGroup, 0, 3, KP_SUPPORT_GROUP}, /* rdk 1 (single member), kjs 3 (batch) */
    {KP_API_SyncGroup, 0, 3, KP_SUPPORT_GROUP},
    {KP_API_DescribeGroups, 0, 4, KP_SUPPORT_GROUP},
    {KP_API_ListGroups, 0, 2, KP_SUPPORT_GROUP},
    {KP_API_ApiVersions, 0, 3, KP_SUPPORT_BASE}, /* v3 flexible, response header v0 */
    {KP_API_CreateTopics, 0, 4, KP_SUPPORT_BASE},
    {KP_API_DeleteTopics, 0, 3, KP_SUPPORT_BASE},
    {KP_API_InitProducerId, 0, 1, KP_SUPPORT_GROUP},          /* must contain 0; 2+ flexible */
    {KP_API_OffsetForLeaderEpoch, 0, 3, KP_SUPPORT_INTERNAL}, /* follower truncation (issue 6) */
    {KP_API_DescribeConfigs, 0, 2, KP_SUPPORT_BASE},
    {KP_API_CreatePartitions, 0, 1, KP_SUPPORT_BASE},
    {KP_API_DeleteGroups, 0, 1, KP_SUPPORT_GROUP}, /* rdk Admin API 0-1, kjs 0-1; 2+ flexible */
};

const kp_supported_api_t *kp_supported_apis(size_t *n) {
    *n = sizeof(supported) / sizeof(supported[0]);
    return supported;
}

const kp_supported_api_t *kp_supported(int16_t api_key) {
    for (size_t i = 0; i < sizeof(supported) / sizeof(supported[0]); i++) {
        if (supported[i].api_key == api_key) {
            return &supported[i];
        }
    }
    return NULL;
}

int16_t kp_supported_min(int16_t api_key) {
    const kp_supported_api_t *s = kp_supported(api_key);
    return s ? s->min_version : -1;
}

int16_t kp_supported_max(int16_t api_key) {
    const kp_supported_api_t *s = kp_supported(api_key);
    return s ? s->max_version : -1;
}

typedef struct err_name {
    int code;
    const char *name;
    bool retriable;
} err_name_t;

static const err_name_t err_names[] = {
    {KP_ERR_UNKNOWN_SERVER_ERROR, "UNKNOWN_SERVER_ERROR", false},
    {KP_ERR_NONE, "NONE", false},
    {KP_ERR_OFFSET_OUT_OF_RANGE, "OFFSET_OUT_OF_RANGE", false},
    {KP_ERR_CORRUPT_MESSAGE, "CORRUPT_MESSAGE", true},
    {KP_ERR_UNKNOWN_TOPIC_OR_PARTITION, "UNKNOWN_TOPIC_OR_PARTITION", true},
    {KP_ERR_INVALID_FETCH_SIZE, "INVALID_FETCH_SIZE", false},
    {KP_ERR_LEADER_NOT_AVAILABLE, "LEADER_NOT_AVAILABLE", true},
    {KP_ERR_NOT_LEADER_OR_FOLLOWER, "NOT_LEADER_OR_FOLLOWER", true},
    {KP_ERR_REQUEST_TIMED_OUT, "REQUEST_TIMED_OUT", true},
    {KP_ERR_BROKER_NOT_AVAILABLE, "BROKER_NOT_AVAILABLE", false},
    {KP_ERR_REPLICA_NOT_AVAILABLE, "REPLICA_NOT_AVAILABLE", true},
    {KP_ERR_MESSAGE_TOO_LARGE, "MESSAGE_TOO_LARGE", false},
    {KP_ERR_STALE_CONTROLLER_EPOCH, "STALE_CONTROLLER_EPOCH", false},
    {KP_ERR_OFFSET_METADATA_TOO_LARGE, "OFFSET_METADATA_TOO_LARGE", false},
    {KP_ERR_NETWORK_EXCEPTION, "NETWORK_EXCEPTION", true},
    {KP_ERR_COORDINATOR_LOAD_IN_PROGRESS, "COORDINATOR_LOAD_IN_PROGRESS", true},
    {KP_ERR_COORDINATOR_NOT_AVAILABLE, "COORDINATOR_NOT_AVAILABLE", true},
    {KP_ERR_NOT_COORDINATOR, "NOT_COORDINATOR", true},
    {KP_ERR_INVALID_TOPIC_EXCEPTION, "INVALID_TOPIC_EXCEPTION", false},
    {KP_ERR_RECORD_LIST_TOO_LARGE, "RECORD_LIST_TOO_LARGE", false},
    {KP_ERR_NOT_ENOUGH_REPLICAS, "NOT_ENOUGH_REPLICAS", true},
    {KP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true},
    {KP_ERR_INVALID_REQUIRED_ACKS, "INVALID_REQUIRED_ACKS", false},
    {KP_ERR_ILLEGAL_GENERATION, "ILLEGAL_GENERATION", false},
    {KP_ERR_INCONSISTENT_GROUP_PROTOCOL, "INCONSISTENT_GROUP_PROTOCOL", false},
    {KP_ERR_INVALID_GROUP_ID, "INVALID_GROUP_ID", false},
    {KP_ERR_UNKNOWN_MEMBER_ID, "UNKNOWN_MEMBER_ID", false},
    {KP_ERR_INVALID_SESSION_TIMEOUT, "INVALID_SESSION_TIMEOUT", false},
    {KP_ERR_REBALANCE_IN_PROGRESS, "REBALANCE_IN_PROGRESS", false},
    {KP_ERR_INVALID_COMMIT_OFFSET_SIZE, "INVALID_COMMIT_OFFSET_SIZE", false},
    {KP_ERR_TOPIC_AUTHORIZATION_FAILED, "TOPIC_AUTHORIZATION_FAILED", false},
    {KP_ERR_GROUP_AUTHORIZATION_FAILED, "GROUP_AUTHORIZATION_FAILED", false},
    {KP_ERR_CLUSTER_AUTHORIZATION_FAILED, "CLUSTER_AUTHORIZATION_FAILED", false},
    {KP_ERR_INVALID_TIMESTAMP, "INVALID_TIMESTAMP", false},
    {KP_ERR_UNSUPPORTED_SASL_MECHANISM, "UNSUPPORTED_SASL_MECHANISM", false},
    {KP_ERR_ILLEGAL_SASL_STATE, "ILLEGAL_SASL_STATE", false},
    {KP_ERR_UNSUPPORTED_VERSION, "UNSUPPORTED_VERSION", false},
    {KP_ERR_TOPIC_ALREADY_EXISTS, "TOPIC_ALREADY_EXISTS", false},
    {KP_ERR_INVALID_PARTITIONS, "INVALID_PARTITIONS", false},
    {KP_ERR_INVALID_REPLICATION_FACTOR, "INVALID_REPLICATION_FACTOR", false},
    {KP_ERR_INVALID_REPLICA_ASSIGNMENT, "INVALID_REPLICA_ASSIGNMENT", false},
    {KP_ERR_INVALID_CONFIG, "INVALID_CONFIG", false},
    {KP_ERR_NOT_CONTROLLER, "NOT_CONTROLLER", true},
    {KP_ERR_INVALID_REQUEST, "INVALID_REQUEST", false},
    {KP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false},
    {KP_ERR_POLICY_VIOLATION, "POLICY_VIOLATION", false},
    {KP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "OUT_OF_ORDER_SEQUENCE_NUMBER", false},
    {KP_ERR_DUPLICATE_SEQUENCE_NUMBER, "DUPLICATE_SEQUENCE_NUMBER", false},
    {KP_ERR_INVALID_PRODUCER_EPOCH, "INVALID_PRODUCER_EPOCH", false},
    {KP_ERR_INVALID_TXN_STATE, "INVALID_TXN_STATE", false},
    {KP_ERR_INVALID_PRODUCER_ID_MAPPING, "INVALID_PRODUCER_ID_MAPPING", false},
    {KP_ERR_INVALID_TRANSACTION_TIMEOUT, "INVALID_TRANSACTION_TIMEOUT", false},
    {KP_ERR_CONCURRENT_TRANSACTIONS, "CONCURRENT_TRANSACTIONS", true},
    {KP_ERR_KAFKA_STORAGE_ERROR, "KAFKA_STORAGE_ERROR", true},
    {KP_ERR_LOG_DIR_NOT_FOUND, "LOG_DIR_NOT_FOUND", false},
    {KP_ERR_SASL_AUTHENTICATION_FAILED, "SASL_AUTHENTICATION_FAILED", false},
    {KP_ERR_UNKNOWN_PRODUCER_ID, "UNKNOWN_PRODUCER_ID", false},
    {KP_ERR_REASSIGNMENT_IN_PROGRESS, "REASSIGNMENT_IN_PROGRESS", false},
    {KP_ERR_NON_EMPTY_GROUP, "NON_EMPTY_GROUP", false},
    {KP_ERR_GROUP_ID_NOT_FOUND, "GROUP_ID_NOT_FOUND", false},
    {KP_ERR_FETCH_SESSION_ID_NOT_FOUND, "FETCH_SESSION_ID_NOT_FOUND", true},
    {KP_ERR_INVALID_FETCH_SESSION_EPOCH, "INVALID_FETCH_SESSION_EPOCH", true},
    {KP_ERR_LISTENER_NOT_FOUND, "LISTENER_NOT_FOUND", true},
    {KP_ERR_TOPIC_DELETION_DISABLED, "TOPIC_DELETION_DISABLED", false},
    {KP_ERR_FENCED_LEADER_EPOCH, "FENCED_LEADER_EPOCH", true},
    {KP_ERR_UNKNOWN_LEADER_EPOCH, "UNKNOWN_LEADER_EPOCH", true},
    {KP_ERR_UNSUPPORTED_COMPRESSION_TYPE, "UNSUPPORTED_COMPRESSION_TYPE", false},
    {KP_ERR_STALE_BROKER_EPOCH, "STALE_BROKER_EPOCH", false},
    {KP_ERR_OFFSET_NOT_AVAILABLE, "OFFSET_NOT_AVAILABLE", true},
    {KP_ERR_MEMBER_ID_REQUIRED, "MEMBER_ID_REQUIRED", false},
    {KP_ERR_PREFERRED_LEADER_NOT_AVAILABLE, "PREFERRED_LEADER_NOT_AVAILABLE", true},
    {KP_ERR_GROUP_MAX_SIZE_REACHED, "GROUP_MAX_SIZE_REACHED", false},
    {KP_ERR_FENCED_INSTANCE_ID, "FENCED_INSTANCE_ID", false},
    {KP_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE, "ELIGIBLE_LEADERS_NOT_AVAILABLE", true},
    {KP_ERR_ELECTION_NOT_NEEDED, "ELECTION_NOT_NEEDED", true},
    {KP_ERR_NO_REASSIGNMENT_IN_PROGRESS, "NO_REASSIGNMENT_IN_PROGRESS", false},
    {KP_ERR_GROUP_SUBSCRIBED_TO_TOPIC, "GROUP_SUBSCRIBED_TO_TOPIC", false},
    {KP_ERR_INVALID_RECORD, "INVALID_RECORD", false},
    {KP_ERR_UNSTABLE_OFFSET_COMMIT, "UNSTABLE_OFFSET_COMMIT", true},
    {KP_ERR_THROTTLING_QUOTA_EXCEEDED, "THROTTLING_QUOTA_EXCEEDED", true},
    {KP_ERR_PRODUCER_FENCED, "PRODUCER_FENCED", false},
    {KP_ERR_UNKNOWN_TOPIC_ID, "UNKNOWN_TOPIC_ID", true},
};

static const err_name_t *find_err(int code) {
    for (size_t i = 0; i < sizeof(err_names) / sizeof(err_names[0]); i++) {
        if (err_names[i].code == code) {
            return &err_names[i];
        }
    }
    return NULL;
}

const char *kp_err_name(int code) {
    const err_name_t *e = find_err(code);
    return e ? e->name : "UNKNOWN_ERROR_CODE";
}

bool kp_err_retriable(int code) {
    const err_name_t *e = find_err(code);
    return e ? e->retriable : false;
}
