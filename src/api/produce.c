/*
 * produce: Produce v0-7 (advertised range from proto; v0-2 legacy MessageSets are
 * up-converted to a v2 batch first, legacy_records). Each partition is appended on
 * its own: a bad batch (CRC: CORRUPT_MESSAGE, size: MESSAGE_TOO_LARGE), an illegal
 * topic name (INVALID_TOPIC_EXCEPTION), an unknown partition
 * (UNKNOWN_TOPIC_OR_PARTITION; Produce never auto-creates) or another leader
 * (NOT_LEADER_OR_FOLLOWER) fails that partition only. acks=0 sends no response at all.
 *
 * The record bytes are rewritten in place (offsets, leader epoch): they live in the
 * request frame, which the server copied into the request's writable arena.
 *
 * Issue 6, acks=-1: a partition appended by the leader is answered once every ISR member
 * has it (the high watermark passed it). The request then waits as a delayed produce in
 * the purgatory of those partitions, woken by follower fetches, bounded by the request's
 * timeout_ms (REQUEST_TIMED_OUT); a lost leadership answers NOT_LEADER_OR_FOLLOWER and an
 * ISR below min.insync.replicas NOT_ENOUGH_REPLICAS_AFTER_APPEND.
 */
#include <string.h>

#include "api/api_int.h"

/* ---------------------------------------------------------------- delayed produce (issue 6) */

typedef struct dp_entry {
    const char *topic;
    int32_t partition;
    int64_t required; /* last offset + 1 */
    kp_ProduceResponse_PartitionProduceResponse_t *pr;
    bool done;
} dp_entry_t;

typedef struct delayed_produce {
    api_call_t *call;
    kp_ProduceResponse_t *resp;
    dp_entry_t *e;
    size_t n;
    purg_op_t *op;
} delayed_produce_t;

/* @returns true when no entry is pending any more (fills in the finished ones). */
static bool dp_settle(delayed_produce_t *d, bool final) {
    bool all = true;
    for (size_t i = 0; i < d->n; i++) {
        dp_entry_t *e = &d->e[i];
        if (e->done) {
            continue;
        }
        int rc = rm_produce_status(d->call->ctx->rm, e->topic, e->partition, e->required);
        if (rc == RM_EPENDING) {
            if (!final) {
                all = false;
                continue;
            }
            rc = RM_ETIMED_OUT;
        }
        e->done = true;
        if (rc != 0) {
            e->pr->error_code = api_kafka_error(rc);
            e->pr->base_offset = -1;
        }
    }
    return all;
}

static bool dp_ready(void *arg) {
    return dp_settle(arg, false);
}

static void dp_done(void *arg, purg_reason_t reason) {
    delayed_produce_t *d = arg;
    d->call->req->cancel = NULL;
    if (reason == PURG_CANCELLED) {
        api_no_response(d->call); /* the connection is gone */
        return;
    }
    dp_settle(d, true);
    api_respond(d->call, d->resp);
}

static void dp_cancel(api_req_t *req) {
    delayed_produce_t *d = req->cancel_arg;
    purg_cancel(d->op);
}

/*
 * Produce v0-2 carry legacy MessageSets (magic 0/1): up-converted to one v2 batch in the
 * call's arena (lr_convert; Kafka's LogValidator), which then takes the normal append
 * path. A v0-2 request holding a v2 batch passes as it is. As Kafka's
 * ProduceRequest.validateRecords: v3+ allow only magic 2 (INVALID_RECORD), zstd needs v7
 * (UNSUPPORTED_COMPRESSION_TYPE). @returns a Kafka error code.
 */
static int16_t legacy_records(api_call_t *call, const char *topic, int32_t partition, part_t *p,
                              uint8_t **data, size_t *len) {
    if (!lr_is_legacy(*data, *len)) {
        /* zstd needs Produce v7 (Kafka's validateRecords), whatever the batch holds */
        if (call->version < 7 && *len >= RB_HEADER_SIZE && (*data)[RB_OFF_MAGIC] == 2 &&
            (be16_get(*data + RB_OFF_ATTRIBUTES) & RB_ATTR_COMPRESSION) == RBC_ZSTD) {
            return KP_ERR_UNSUPPORTED_COMPRESSION_TYPE;
        }
        return KP_ERR_NONE;
    }
    if (call->version >= 3) {
        return KP_ERR_INVALID_RECORD;
    }
    log_t *lg = part_log(p);
    int32_t max_message_bytes = lg ? log_config(lg)->max_message_bytes : 1048588;
    buf_t conv = BUF_INIT;
    lr_status_t why = LR_OK;
    int rc = lr_convert(*data, *len, rbc_limit(max_message_bytes), &conv, &why);
    if (rc != 0) {
        buf_destroy(&conv);
        slog_debug("[Partition %s-%d] legacy message set from %s refused: %s", topic,
                   (int)partition, call->req->peer, lr_status_str(why));
        if (why == LR_ZSTD) {
            return KP_ERR_UNSUPPORTED_COMPRESSION_TYPE;
        }
        return rc == STRATA_ETOO_LARGE ? KP_ERR_MESSAGE_TOO_LARGE : KP_ERR_CORRUPT_MESSAGE;
    }
    *data = api_alloc(call, conv.len);
    memcpy(*data, conv.data, conv.len);
    *len = conv.len;
    buf_destroy(&conv);
    return KP_ERR_NONE;
}

void api_handle_Produce(api_call_t *call) {
    const kp_ProduceRequest_t *rq = call->body;
    api_ctx_t *ctx = call->ctx;
    kp_ProduceResponse_t *respp = api_alloc(call, sizeof(*respp));
    kp_ProduceResponse_t resp;
    kp_init_ProduceResponse(&resp);
    int32_t nt = rq->n_topic_data > 0 ? rq->n_topic_data : 0;
    resp.n_responses = nt;
    resp.responses = api_alloc(call, (size_t)nt * sizeof(*resp.responses));
    delayed_produce_t *dp = NULL; /* issue 6: acks=-1 partitions waiting for the ISR */
    size_t nparts = 0;
    for (int32_t i = 0; i < nt; i++) {
        nparts +=
            rq->topic_data[i].n_partition_data > 0 ? (size_t)rq->topic_data[i].n_partition_data : 0;
    }
    bool acks_ok = rq->acks == 0 || rq->acks == 1 || rq->acks == -1;

    for (int32_t i = 0; i < nt; i++) {
        const kp_ProduceRequest_TopicProduceData_t *td = &rq->topic_data[i];
        kp_ProduceResponse_TopicProduceResponse_t *tr = &resp.responses[i];
        kp_init_ProduceResponse_TopicProduceResponse(tr);
        tr->name = td->name ? td->name : (char *)"";
        int32_t np = td->n_partition_data > 0 ? td->n_partition_data : 0;
        tr->n_partition_responses = np;
        tr->partition_responses = api_alloc(call, (size_t)np * sizeof(*tr->partition_responses));
        bool valid_name = td->name && ctl_valid_topic_name(td->name);
        if (valid_name && ctx->mdc) {
            /* Clients may not write to internal topics (__consumer_offsets). */
            const mdc_topic_t *t = mdc_topic(ctx->mdc, td->name);
            valid_name = t == NULL || !t->internal;
        }
        for (int32_t j = 0; j < np; j++) {
            const kp_ProduceRequest_PartitionProduceData_t *pd = &td->partition_data[j];
            kp_ProduceResponse_PartitionProduceResponse_t *pr = &tr->partition_responses[j];
            kp_init_ProduceResponse_PartitionProduceResponse(pr);
            pr->index = pd->index;
            pr->base_offset = -1;
            pr->log_append_time_ms = -1;
            pr->log_start_offset = -1;
            if (!acks_ok) {
                pr->error_code = KP_ERR_INVALID_REQUIRED_ACKS;
                continue;
            }
            if (!valid_name) {
                pr->error_code = KP_ERR_INVALID_TOPIC_EXCEPTION;
                continue;
            }
            part_t *p = NULL;
            int rc = rm_partition(ctx->rm, td->name, pd->index, true, &p);
            if (rc == RM_ELEADER_NOT_AVAILABLE) {
                rc = RM_ENOT_LEADER; /* what Kafka's produce path answers */
            }
            if (rc != 0) {
                pr->error_code = api_kafka_error(rc);
                continue;
            }
            if (pd->records.len <= 0 || pd->records.data == NULL) {
                pr->error_code = KP_ERR_CORRUPT_MESSAGE;
                continue;
            }
            uint8_t *data = (uint8_t *)pd->records.data;
            size_t len = (size_t)pd->records.len;
            int16_t lerr = legacy_records(call, td->name, pd->index, p, &data, &len);
            if (lerr != KP_ERR_NONE) {
                pr->error_code = lerr;
                continue;
            }
            log_append_info_t info;
            memset(&info, 0, sizeof(info));
            rc = rm_append(ctx->rm, p, data, len, rq->acks, &info);
            if (rc != 0) {
                pr->error_code = api_kafka_error(rc);
                if (rc != STRATA_ECORRUPT && rc != STRATA_ETOO_LARGE && rc != LOG_ENO_KEY &&
                    rc != RM_ENOT_ENOUGH_REPLICAS) { /* issue 6: an answer, not a fault */
                    slog_warn("[Partition %s-%d] produce from %s failed: %s", td->name,
                              (int)pd->index, call->req->peer, strata_strerror(rc));
                }
                continue;
            }
            pr->error_code = KP_ERR_NONE;
            pr->base_offset = info.first_offset;
            pr->log_append_time_ms = info.log_append_time;
            pr->log_start_offset = part_log_start_offset(p);
            if (rq->acks == -1 && part_high_watermark(p) <= info.last_offset) {
                if (dp == NULL) {
                    dp = api_alloc(call, sizeof(*dp));
                    memset(dp, 0, sizeof(*dp));
                    dp->e = api_alloc(call, nparts * sizeof(*dp->e));
                }
                dp_entry_t *e = &dp->e[dp->n++];
                e->topic = td->name;
                e->partition = pd->index;
                e->required = info.last_offset + 1;
                e->pr = pr;
                e->done = false;
            }
        }
    }
    if (rq->acks == 0) {
        /* Kafka closes the connection when an acks=0 produce fails anywhere: the client has
         * no other way to learn it (e.g. to refresh metadata after NOT_LEADER). */
        for (int32_t i = 0; i < nt; i++) {
            const kp_ProduceResponse_TopicProduceResponse_t *tr = &resp.responses[i];
            for (int32_t j = 0; j < tr->n_partition_responses; j++) {
                int16_t err = tr->partition_responses[j].error_code;
                if (err != KP_ERR_NONE) {
                    api_fail(call, "acks=0 produce to %s-%d failed: %s", tr->name,
                             (int)tr->partition_responses[j].index, kp_err_name(err));
                    return;
                }
            }
        }
        api_no_response(call);
        return;
    }
    *respp = resp;
    if (dp) {
        dp->call = call;
        dp->resp = respp;
        if (!dp_settle(dp, false)) {
            purg_list_t **lists = api_alloc(call, dp->n * sizeof(*lists));
            size_t nl = 0;
            for (size_t i = 0; i < dp->n; i++) {
                part_t *p = NULL;
                if (rm_partition(ctx->rm, dp->e[i].topic, dp->e[i].partition, true, &p) == 0) {
                    lists[nl++] = part_produce_waiters(p);
                }
            }
            int32_t timeout = rq->timeout_ms > 0 ? rq->timeout_ms : 0;
            dp->op = purg_add_cond(ctx->loop, lists, nl, (uint64_t)timeout, dp_ready, dp_done, dp);
            call->req->cancel_arg = dp;
            call->req->cancel = dp_cancel;
            return;
        }
    }
    api_respond(call, respp);
}
