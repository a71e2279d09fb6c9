/*
 * errors: Kafka's one-line descriptions of its error codes (the default messages of
 * org.apache.kafka.common.protocol.Errors, paraphrased), for CLI error output of the
 * form "TOPIC_ALREADY_EXISTS: Topic 't' already exists.".
 */
#include <stdio.h>

#include "cli/cli.h"

const char *cli_kafka_error_text(int code) {
    switch (code) {
    case KP_ERR_UNKNOWN_SERVER_ERROR:
        return "The server experienced an unexpected error when processing the request.";
    case KP_ERR_OFFSET_OUT_OF_RANGE:
        return "The requested offset is not within the range of offsets maintained by the "
               "server.";
    case KP_ERR_CORRUPT_MESSAGE:
        return "The message contents does not match the message CRC or the message is "
               "otherwise corrupt.";
    case KP_ERR_UNKNOWN_TOPIC_OR_PARTITION:
        return "This server does not host this topic-partition.";
    case KP_ERR_LEADER_NOT_AVAILABLE:
        return "There is no leader for this topic-partition as we are in the middle of a "
               "leadership election.";
    case KP_ERR_NOT_LEADER_OR_FOLLOWER:
        return "For requests intended only for the leader, this error indicates that the broker "
               "is not the current leader.";
    case KP_ERR_REQUEST_TIMED_OUT:
        return "The request timed out.";
    case KP_ERR_BROKER_NOT_AVAILABLE:
        return "The broker is not available.";
    case KP_ERR_MESSAGE_TOO_LARGE:
        return "The request included a message larger than the max message size the server "
               "will accept.";
    case KP_ERR_INVALID_TOPIC_EXCEPTION:
        return "The request attempted to perform an operation on an invalid topic.";
    case KP_ERR_RECORD_LIST_TOO_LARGE:
        return "The request included message batch larger than the configured segment size on "
               "the server.";
    case KP_ERR_NOT_ENOUGH_REPLICAS:
        return "Messages are rejected since there are fewer in-sync replicas than required.";
    case KP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
        return "Messages are written to the log, but to fewer in-sync replicas than required.";
    case KP_ERR_INVALID_REQUIRED_ACKS:
        return "Produce request specified an invalid value for required acks.";
    case KP_ERR_CLUSTER_AUTHORIZATION_FAILED:
        return "Cluster authorization failed.";
    case KP_ERR_TOPIC_AUTHORIZATION_FAILED:
        return "Topic authorization failed.";
    case KP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
        return "The coordinator is loading and hence can't process requests.";
    case KP_ERR_COORDINATOR_NOT_AVAILABLE:
        return "The coordinator is not available.";
    case KP_ERR_NOT_COORDINATOR:
        return "This is not the correct coordinator.";
    case KP_ERR_ILLEGAL_GENERATION:
        return "Specified group generation id is not valid.";
    case KP_ERR_INCONSISTENT_GROUP_PROTOCOL:
        return "The group member's supported protocols are incompatible with those of existing "
               "members or first group member tried to join with empty protocol type or empty "
               "protocol list.";
    case KP_ERR_INVALID_GROUP_ID:
        return "The configured groupId is invalid.";
    case KP_ERR_UNKNOWN_MEMBER_ID:
        return "The coordinator is not aware of this member.";
    case KP_ERR_INVALID_SESSION_TIMEOUT:
        return "The session timeout is not within the range allowed by the broker (as configured "
               "by group.min.session.timeout.ms and group.max.session.timeout.ms).";
    case KP_ERR_REBALANCE_IN_PROGRESS:
        return "The group is rebalancing, so a rejoin is needed.";
    case KP_ERR_GROUP_AUTHORIZATION_FAILED:
        return "Group authorization failed.";
    case KP_ERR_GROUP_ID_NOT_FOUND:
        return "The group id does not exist.";
    case KP_ERR_NON_EMPTY_GROUP:
        return "The group is not empty.";
    case KP_ERR_UNSUPPORTED_VERSION:
        return "The version of API is not supported.";
    case KP_ERR_TOPIC_ALREADY_EXISTS:
        return "Topic with this name already exists.";
    case KP_ERR_INVALID_PARTITIONS:
        return "Number of partitions is below 1.";
    case KP_ERR_INVALID_REPLICATION_FACTOR:
        return "Replication factor is below 1 or larger than the number of available brokers.";
    case KP_ERR_INVALID_REPLICA_ASSIGNMENT:
        return "Replica assignment is invalid.";
    case KP_ERR_INVALID_CONFIG:
        return "Configuration is invalid.";
    case KP_ERR_NOT_CONTROLLER:
        return "This is not the correct controller for this cluster.";
    case KP_ERR_INVALID_REQUEST:
        return "This most likely occurs because of a request being malformed by the client "
               "library or the message was sent to an incompatible broker.";
    case KP_ERR_POLICY_VIOLATION:
        return "Request parameters do not satisfy the configured policy.";
    case KP_ERR_KAFKA_STORAGE_ERROR:
        return "Disk error when trying to access log file on the disk.";
    case KP_ERR_TOPIC_DELETION_DISABLED:
        return "Topic deletion is disabled.";
    case KP_ERR_UNSUPPORTED_COMPRESSION_TYPE:
        return "The requesting client does not support the compression type of given partition.";
    case KP_ERR_UNKNOWN_TOPIC_ID:
        return "This server does not host this topic ID.";
    case KP_ERR_INVALID_RECORD:
        return "This record has failed the validation on broker and hence will be rejected.";
    case KP_ERR_THROTTLING_QUOTA_EXCEEDED:
        return "The throttling quota has been exceeded.";
    default:
        return "The server returned an error.";
    }
}

void cli_kafka_error(char *out, size_t out_len, int code, const char *broker_message) {
    const char *msg = broker_message != NULL && broker_message[0] != '\0'
                          ? broker_message
                          : cli_kafka_error_text(code);
    snprintf(out, out_len, "%s: %s", kp_err_name(code), msg);
}
