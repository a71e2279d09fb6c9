/*
 * api_int: what the per-API files share (private to src/api/): the call object, the
 * response helper and the mapping of internal codes to Kafka error codes.
 */
#ifndef STRATA_API_INT_H
#define STRATA_API_INT_H

#include "strata/api.h"
#include "strata/proto.h"

/* One request being handled. Lives in the request's arena. */
typedef struct api_call {
    api_ctx_t *ctx;
    api_req_t *req;
    kp_RequestHeader_t hdr;
    int16_t version;
    void *body; /* the decoded request struct (kp_<Api>Request_t) */
} api_call_t;

typedef void (*api_handler_fn)(api_call_t *call);

/** Encodes header + body of the response (a kp_<Api>Response_t) and completes the call. */
void api_respond(api_call_t *call, const void *response);
/** Completes the call without a response (Produce acks=0). */
void api_no_response(api_call_t *call);
/** Completes the call by closing the connection, with a reason for the log line. */
void api_fail(api_call_t *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Keeps a log slice alive until the response is sent (copied into the arena list). */
void api_keep_slice(api_call_t *call, const log_slice_t *slice);

/** Maps STRATA_E* / RM_E* codes to Kafka error codes. */
int16_t api_kafka_error(int rc);

/** Arena helpers. */
void *api_alloc(api_call_t *call, size_t n);
char *api_strdup(api_call_t *call, const char *s);

void api_handle_ApiVersions(api_call_t *call);
void api_handle_Metadata(api_call_t *call);
void api_handle_Produce(api_call_t *call);
void api_handle_Fetch(api_call_t *call);
void api_handle_ListOffsets(api_call_t *call);
void api_handle_CreateTopics(api_call_t *call);
void api_handle_DeleteTopics(api_call_t *call);
void api_handle_CreatePartitions(api_call_t *call);
void api_handle_DescribeConfigs(api_call_t *call);
/* issue 7 (api_<Api>.c) */
void api_handle_FindCoordinator(api_call_t *call);
void api_handle_JoinGroup(api_call_t *call);
void api_handle_SyncGroup(api_call_t *call);
void api_handle_Heartbeat(api_call_t *call);
void api_handle_LeaveGroup(api_call_t *call);
void api_handle_OffsetCommit(api_call_t *call);
void api_handle_OffsetFetch(api_call_t *call);
void api_handle_DescribeGroups(api_call_t *call);
void api_handle_ListGroups(api_call_t *call);
void api_handle_DeleteGroups(api_call_t *call);
void api_handle_InitProducerId(api_call_t *call);
void api_handle_OffsetForLeaderEpoch(api_call_t *call); /* issue 6 */

/*
 * Admin operations answer once the metadata cache shows their effect (Kafka's
 * DelayedCreateTopics / DelayedCreatePartitions / DelayedDeleteTopics): a topic with
 * at least npartitions partitions, all with a leader; or the topic gone. cb(arg, true)
 * then, or cb(arg, false) after timeout_ms (REQUEST_TIMED_OUT).
 */
typedef enum { API_WAIT_LEADERS = 0, API_WAIT_GONE = 1 } api_wait_kind_t;
void api_admin_wait(api_ctx_t *ctx, const char *topic, api_wait_kind_t kind, int32_t npartitions,
                    int64_t timeout_ms, void (*cb)(void *arg, bool ok), void *arg);

/** Fills an ApiVersions response with every API this broker handles. */
void api_versions_fill(api_call_t *call, kp_ApiVersionsResponse_t *resp);
/** true when the dispatch table has a handler for api_key. */
bool api_has_handler(int16_t api_key);

#endif /* STRATA_API_INT_H */
