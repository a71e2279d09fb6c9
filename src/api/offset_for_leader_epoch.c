/*
 * offset_for_leader_epoch: OffsetForLeaderEpoch v0-3 (issue 6), asked by a follower that
 * returns after a leader change: for each partition, the end offset of the requested
 * leader epoch in this leader's log (the start of the next larger epoch, or the log end
 * for the current epoch) and the largest epoch at or below it (KIP-101, KIP-279). The
 * follower truncates its divergent tail there. Internal API: answered, not advertised.
 * current_leader_epoch (v2+) older than ours: FENCED_LEADER_EPOCH; newer:
 * UNKNOWN_LEADER_EPOCH (the metadata of this broker lags).
 */
#include "api/api_int.h"

void api_handle_OffsetForLeaderEpoch(api_call_t *call) {
    const kp_OffsetForLeaderEpochRequest_t *rq = call->body;
    api_ctx_t *ctx = call->ctx;
    kp_OffsetForLeaderEpochResponse_t resp;
    kp_init_OffsetForLeaderEpochResponse(&resp);
    resp.throttle_time_ms = 0;
    int32_t nt = rq->n_topics > 0 ? rq->n_topics : 0;
    resp.n_topics = nt;
    resp.topics = api_alloc(call, (size_t)nt * sizeof(*resp.topics));
    for (int32_t i = 0; i < nt; i++) {
        const kp_OffsetForLeaderEpochRequest_OffsetForLeaderTopic_t *t = &rq->topics[i];
        kp_OffsetForLeaderEpochResponse_OffsetForLeaderTopicResult_t *tr = &resp.topics[i];
        kp_init_OffsetForLeaderEpochResponse_OffsetForLeaderTopicResult(tr);
        tr->topic = t->topic ? t->topic : (char *)"";
        int32_t np = t->n_partitions > 0 ? t->n_partitions : 0;
        tr->n_partitions = np;
        tr->partitions = api_alloc(call, (size_t)np * sizeof(*tr->partitions));
        for (int32_t j = 0; j < np; j++) {
            const kp_OffsetForLeaderEpochRequest_OffsetForLeaderPartition_t *rp = &t->partitions[j];
            kp_OffsetForLeaderEpochResponse_EpochEndOffset_t *e = &tr->partitions[j];
            kp_init_OffsetForLeaderEpochResponse_EpochEndOffset(e);
            e->partition = rp->partition;
            e->leader_epoch = -1;
            e->end_offset = -1;
            part_t *p = NULL;
            int rc = t->topic ? rm_partition(ctx->rm, t->topic, rp->partition, true, &p)
                              : STRATA_ENOTFOUND;
            if (rc == RM_ELEADER_NOT_AVAILABLE) {
                rc = RM_ENOT_LEADER;
            }
            if (rc != 0) {
                e->error_code = api_kafka_error(rc);
                continue;
            }
            if (rp->current_leader_epoch >= 0 && rp->current_leader_epoch < part_leader_epoch(p)) {
                e->error_code = KP_ERR_FENCED_LEADER_EPOCH;
                continue;
            }
            if (rp->current_leader_epoch > part_leader_epoch(p)) {
                e->error_code = KP_ERR_UNKNOWN_LEADER_EPOCH;
                continue;
            }
            e->error_code = KP_ERR_NONE;
            rm_epoch_end_offset(p, rp->leader_epoch, &e->leader_epoch, &e->end_offset);
        }
    }
    api_respond(call, &resp);
}
