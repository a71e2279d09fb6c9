/*
 * list_offsets: ListOffsets v1-3 (advertised range from proto). Timestamp -2 = the
 * log start offset, -1 = the high watermark (= last stable offset: no transactions),
 * any other = the first offset whose batch timestamp is >= it (log_offset_for_time),
 * or offset -1 when none is. Only the leader answers.
 */
#include <string.h>

#include "api/api_int.h"

#define EARLIEST (-2)
#define LATEST   (-1)

void api_handle_ListOffsets(api_call_t *call) {
    const kp_ListOffsetsRequest_t *rq = call->body;
    api_ctx_t *ctx = call->ctx;
    kp_ListOffsetsResponse_t resp;
    kp_init_ListOffsetsResponse(&resp);
    int32_t nt = rq->n_topics > 0 ? rq->n_topics : 0;
    resp.n_topics = nt;
    resp.topics = api_alloc(call, (size_t)nt * sizeof(*resp.topics));
    for (int32_t i = 0; i < nt; i++) {
        const kp_ListOffsetsRequest_ListOffsetsTopic_t *t = &rq->topics[i];
        kp_ListOffsetsResponse_ListOffsetsTopicResponse_t *tr = &resp.topics[i];
        kp_init_ListOffsetsResponse_ListOffsetsTopicResponse(tr);
        tr->name = t->name ? t->name : (char *)"";
        int32_t np = t->n_partitions > 0 ? t->n_partitions : 0;
        tr->n_partitions = np;
        tr->partitions = api_alloc(call, (size_t)np * sizeof(*tr->partitions));
        for (int32_t j = 0; j < np; j++) {
            const kp_ListOffsetsRequest_ListOffsetsPartition_t *lp = &t->partitions[j];
            kp_ListOffsetsResponse_ListOffsetsPartitionResponse_t *pr = &tr->partitions[j];
            kp_init_ListOffsetsResponse_ListOffsetsPartitionResponse(pr);
            pr->partition_index = lp->partition_index;
            pr->timestamp = -1;
            pr->offset = -1;
            pr->leader_epoch = -1;
            part_t *p = NULL;
            int rc = t->name ? rm_partition(ctx->rm, t->name, lp->partition_index, true, &p)
                             : STRATA_ENOTFOUND;
            if (rc == RM_ELEADER_NOT_AVAILABLE) {
                rc = RM_ENOT_LEADER;
            }
            if (rc != 0) {
                pr->error_code = api_kafka_error(rc);
                continue;
            }
            pr->error_code = KP_ERR_NONE;
            pr->leader_epoch = part_leader_epoch(p);
            if (lp->timestamp == EARLIEST) {
                pr->offset = part_log_start_offset(p);
            } else if (lp->timestamp == LATEST) {
                pr->offset = part_high_watermark(p);
            } else {
                int64_t off = -1, ts = -1;
                rc = log_offset_for_time(part_log(p), lp->timestamp, &off, &ts);
                if (rc == 0 && off < part_high_watermark(p)) {
                    pr->offset = off;
                    pr->timestamp = ts;
                } else if (rc != 0 && rc != STRATA_ENOTFOUND) {
                    pr->error_code = api_kafka_error(rc);
                }
            }
        }
    }
    api_respond(call, &resp);
}
