/*
 * produce: Produce v3-7 (advertised range from proto). Each partition is appended on
 * its own: a bad batch (CRC: CORRUPT_MESSAGE, size: MESSAGE_TOO_LARGE), an illegal
 * topic name (INVALID_TOPIC_EXCEPTION), an unknown partition
 * (UNKNOWN_TOPIC_OR_PARTITION; Produce never auto-creates) or another leader
 * (NOT_LEADER_OR_FOLLOWER) fails that partition only. acks=0 sends no response at all.
 *
 * The record bytes are rewritten in place (offsets, leader epoch): they live in the
 * request frame, which the server copied into the request's writable arena.
 */
#include <string.h>

#include "api/api_int.h"

void api_handle_Produce(api_call_t *call) {
    const kp_ProduceRequest_t *rq = call->body;
    api_ctx_t *ctx = call->ctx;
    kp_ProduceResponse_t resp;
    kp_init_ProduceResponse(&resp);
    int32_t nt = rq->n_topic_data > 0 ? rq->n_topic_data : 0;
    resp.n_responses = nt;
    resp.responses = api_alloc(call, (size_t)nt * sizeof(*resp.responses));
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
            log_append_info_t info;
            memset(&info, 0, sizeof(info));
            rc = rm_append(ctx->rm, p, (uint8_t *)pd->records.data, (size_t)pd->records.len,
                           rq->acks, &info);
            if (rc != 0) {
                pr->error_code = api_kafka_error(rc);
                if (rc != STRATA_ECORRUPT && rc != STRATA_ETOO_LARGE) {
                    slog_warn("[Partition %s-%d] produce from %s failed: %s", td->name,
                              (int)pd->index, call->req->peer, strata_strerror(rc));
                }
                continue;
            }
            pr->error_code = KP_ERR_NONE;
            pr->base_offset = info.first_offset;
            pr->log_append_time_ms = info.log_append_time;
            pr->log_start_offset = part_log_start_offset(p);
        }
    }
    if (rq->acks == 0) {
        api_no_response(call);
        return;
    }
    api_respond(call, &resp);
}
