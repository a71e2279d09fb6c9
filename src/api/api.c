/*
 * api: the dispatch table (api key -> handler), request header and body decoding into
 * the request's arena, and the response helpers every handler uses.
 *
 * Rules (kafka-protocol/README.md "Problems to avoid"):
 *  1. An API is advertised in ApiVersions iff it has a handler here AND proto
 *     implements it (kp_supported); the versions are proto's.
 *  2. ApiVersions with an unsupported version is answered (error 35, v0 body), never
 *     closed. Any other unknown key or version, and any request that does not decode,
 *     closes the connection with one log line (Kafka's behaviour).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"

typedef struct api_entry {
    int16_t api_key;
    api_handler_fn handler;
} api_entry_t;

/* Issue 7 adds the group APIs and InitProducerId here. */
static const api_entry_t handlers[] = {
    {KP_API_Produce, api_handle_Produce},
    {KP_API_Fetch, api_handle_Fetch},
    {KP_API_ListOffsets, api_handle_ListOffsets},
    {KP_API_Metadata, api_handle_Metadata},
    {KP_API_ApiVersions, api_handle_ApiVersions},
    {KP_API_CreateTopics, api_handle_CreateTopics},
    {KP_API_DeleteTopics, api_handle_DeleteTopics},
    {KP_API_DescribeConfigs, api_handle_DescribeConfigs},
    {KP_API_CreatePartitions, api_handle_CreatePartitions},
    /* issue 7 */
    {KP_API_FindCoordinator, api_handle_FindCoordinator},
    {KP_API_JoinGroup, api_handle_JoinGroup},
    {KP_API_SyncGroup, api_handle_SyncGroup},
    {KP_API_Heartbeat, api_handle_Heartbeat},
    {KP_API_LeaveGroup, api_handle_LeaveGroup},
    {KP_API_OffsetCommit, api_handle_OffsetCommit},
    {KP_API_OffsetFetch, api_handle_OffsetFetch},
    {KP_API_DescribeGroups, api_handle_DescribeGroups},
    {KP_API_ListGroups, api_handle_ListGroups},
    {KP_API_DeleteGroups, api_handle_DeleteGroups},
    {KP_API_InitProducerId, api_handle_InitProducerId},
    /* issue 6: follower truncation (internal: not advertised in ApiVersions) */
    {KP_API_OffsetForLeaderEpoch, api_handle_OffsetForLeaderEpoch},
};

static api_handler_fn find_handler(int16_t api_key) {
    for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
        if (handlers[i].api_key == api_key) {
            return handlers[i].handler;
        }
    }
    return NULL;
}

bool api_has_handler(int16_t api_key) {
    return find_handler(api_key) != NULL && kp_supported(api_key) != NULL;
}

void *api_alloc(api_call_t *call, size_t n) {
    return arena_alloc(call->req->arena, n ? n : 1);
}

char *api_strdup(api_call_t *call, const char *s) {
    return s ? arena_strndup(call->req->arena, s, strlen(s)) : NULL;
}

int16_t api_kafka_error(int rc) {
    switch (rc) {
    case 0:
        return KP_ERR_NONE;
    case STRATA_ENOTFOUND:
        return KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    case RM_ENOT_LEADER:
    case STRATA_ESHUTDOWN:
        return KP_ERR_NOT_LEADER_OR_FOLLOWER;
    case RM_ELEADER_NOT_AVAILABLE:
        return KP_ERR_LEADER_NOT_AVAILABLE;
    case RM_ENOT_ENOUGH_REPLICAS:
        return KP_ERR_NOT_ENOUGH_REPLICAS;
    case RM_ENOT_ENOUGH_REPLICAS_AFTER_APPEND: /* issue 6 */
        return KP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
    case RM_ETIMED_OUT:
        return KP_ERR_REQUEST_TIMED_OUT;
    case RM_EREQUIRED_ACKS:
        return KP_ERR_INVALID_REQUIRED_ACKS;
    case RM_EOUT_OF_ORDER_SEQUENCE: /* issue 7: producer_state.h */
        return KP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    case RM_EINVALID_PRODUCER_EPOCH:
        return KP_ERR_INVALID_PRODUCER_EPOCH;
    case STRATA_ECORRUPT:
        return KP_ERR_CORRUPT_MESSAGE;
    case STRATA_ETOO_LARGE:
        return KP_ERR_MESSAGE_TOO_LARGE;
    case STRATA_EOFFSET_RANGE:
        return KP_ERR_OFFSET_OUT_OF_RANGE;
    case STRATA_EOFFLINE:
        return KP_ERR_KAFKA_STORAGE_ERROR;
    case STRATA_EINVAL:
        return KP_ERR_INVALID_REQUEST;
    case LOG_ENO_KEY: /* a keyless record for a compacted topic */
        return KP_ERR_INVALID_RECORD;
    default:
        return KP_ERR_UNKNOWN_SERVER_ERROR;
    }
}

static void complete(api_call_t *call, api_status_t status) {
    api_req_t *req = call->req;
    req->status = status;
    req->done(req);
}

void api_respond(api_call_t *call, const void *response) {
    api_req_t *req = call->req;
    kp_wr_reset(&req->out);
    kp_wr_reserve_i32(&req->out);
    kp_encode_response_header(&req->out, req->api_key, call->version, req->correlation_id);
    int rc = kp_encode_response_body(&req->out, req->api_key, call->version, response);
    if (rc == 0) {
        rc = kp_wr_err(&req->out);
    }
    if (rc != 0) {
        slog_error("api: cannot encode %s v%d response for %s: %s",
                   kp_api_info(req->api_key) ? kp_api_info(req->api_key)->name : "?", call->version,
                   req->peer, strata_strerror(rc));
        snprintf(req->close_reason, sizeof(req->close_reason), "internal error encoding response");
        complete(call, API_CLOSE);
        return;
    }
    complete(call, API_RESPOND);
}

void api_no_response(api_call_t *call) {
    complete(call, API_NO_RESPONSE);
}

void api_fail(api_call_t *call, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call->req->close_reason, sizeof(call->req->close_reason), fmt, ap);
    va_end(ap);
    complete(call, API_CLOSE);
}

void api_keep_slice(api_call_t *call, const log_slice_t *slice) {
    api_req_t *req = call->req;
    log_slice_t *n = arena_alloc(req->arena, (req->nslices + 1) * sizeof(*n));
    if (req->nslices) {
        memcpy(n, req->slices, req->nslices * sizeof(*n));
    }
    n[req->nslices++] = *slice;
    req->slices = n;
}

void api_req_release(api_req_t *req) {
    for (size_t i = 0; i < req->nslices; i++) {
        log_slice_release(&req->slices[i]);
    }
    req->nslices = 0;
    req->slices = NULL;
    kp_wr_destroy(&req->out);
}

/* ApiVersions in a version we do not implement: error 35 with a v0-shaped body. */
static void unsupported_api_versions(api_call_t *call) {
    kp_ApiVersionsResponse_t resp;
    kp_init_ApiVersionsResponse(&resp);
    api_versions_fill(call, &resp);
    resp.error_code = KP_ERR_UNSUPPORTED_VERSION;
    call->version = 0;
    api_respond(call, &resp);
}

void api_dispatch(api_ctx_t *ctx, api_req_t *req) {
    api_call_t *call = arena_alloc(req->arena, sizeof(*call));
    call->ctx = ctx;
    call->req = req;
    call->version = req->api_version;
    const kp_api_info_t *info = kp_api_info(req->api_key);
    const char *name = info ? info->name : "unknown";

    kp_rd_t rd;
    kp_rd_init(&rd, req->frame, req->frame_len, req->arena);
    int16_t hv = 0;
    if (kp_decode_request_header(&rd, &call->hdr, &hv) != 0) {
        api_fail(call, "truncated request header");
        return;
    }
    if (req->api_key == KP_API_ApiVersions &&
        (req->api_version < kp_supported_min(KP_API_ApiVersions) ||
         req->api_version > kp_supported_max(KP_API_ApiVersions))) {
        unsupported_api_versions(call);
        return;
    }
    api_handler_fn h = find_handler(req->api_key);
    const kp_supported_api_t *sup = kp_supported(req->api_key);
    if (h == NULL || sup == NULL) {
        api_fail(call, "unsupported API %s", name);
        return;
    }
    if (req->api_version < sup->min_version || req->api_version > sup->max_version) {
        api_fail(call, "unsupported %s version %d (supported %d-%d)", name, req->api_version,
                 sup->min_version, sup->max_version);
        return;
    }
    int rc = kp_decode_request_body(&rd, req->api_key, req->api_version, &call->body);
    if (rc == 0) {
        rc = kp_rd_err(&rd);
    }
    if (rc != 0 || call->body == NULL) {
        api_fail(call, "garbled %s v%d request (%s)", name, req->api_version,
                 strata_strerror(rc ? rc : STRATA_ECORRUPT));
        return;
    }
    h(call);
}
