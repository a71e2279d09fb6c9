/*
 * api_OffsetCommit: OffsetCommit v2-7 through gc_commit. A partition that does not exist
 * gets UNKNOWN_TOPIC_OR_PARTITION and the others are still committed; retention_time_ms
 * (v2-4) is ignored, as Kafka does since 2.1 (offsets.retention.minutes rules).
 * The answer is sent from gc_commit's callback: the commit's __consumer_offsets append is
 * acks=-1 and the coordinator keeps the offsets pending until the ISR has it (at most
 * offsets.commit.timeout.ms, 5 s), as Kafka's GroupMetadataManager.storeOffsets; only
 * then do they enter the cache. On failure the cache is unchanged and the partitions get
 * NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE / REQUEST_TIMED_OUT. A closed connection
 * leaves the request orphaned until that callback (bounded by the timeout).
 */
#include "api/api_group_int.h"

static void respond(void *arg, gc_commit_partition_t *parts, size_t n) {
    (void)n;
    api_call_t *call = arg;
    const kp_OffsetCommitRequest_t *rq = call->body;
    kp_OffsetCommitResponse_t resp;
    kp_init_OffsetCommitResponse(&resp);
    int32_t nt = rq->n_topics > 0 ? rq->n_topics : 0;
    resp.n_topics = nt;
    resp.topics = api_alloc(call, (size_t)nt * sizeof(*resp.topics));
    size_t k = 0;
    for (int32_t i = 0; i < nt; i++) {
        const kp_OffsetCommitRequest_OffsetCommitRequestTopic_t *t = &rq->topics[i];
        kp_OffsetCommitResponse_OffsetCommitResponseTopic_t *rt = &resp.topics[i];
        kp_init_OffsetCommitResponse_OffsetCommitResponseTopic(rt);
        rt->name = t->name ? t->name : (char *)"";
        int32_t np = t->n_partitions > 0 ? t->n_partitions : 0;
        rt->n_partitions = np;
        rt->partitions = api_alloc(call, (size_t)np * sizeof(*rt->partitions));
        for (int32_t j = 0; j < np; j++) {
            kp_init_OffsetCommitResponse_OffsetCommitResponsePartition(&rt->partitions[j]);
            rt->partitions[j].partition_index = t->partitions[j].partition_index;
            rt->partitions[j].error_code = (int16_t)parts[k++].error;
        }
    }
    api_respond(call, &resp);
}

static bool partition_exists(api_call_t *call, const char *topic, int32_t partition) {
    const mdc_topic_t *t = topic ? mdc_topic(call->ctx->mdc, topic) : NULL;
    return t && partition >= 0 && partition < t->npartitions;
}

void api_handle_OffsetCommit(api_call_t *call) {
    const kp_OffsetCommitRequest_t *rq = call->body;
    gcb_t *g = call->ctx->groups;
    int32_t nt = rq->n_topics > 0 ? rq->n_topics : 0;
    size_t total = 0;
    for (int32_t i = 0; i < nt; i++) {
        total += rq->topics[i].n_partitions > 0 ? (size_t)rq->topics[i].n_partitions : 0;
    }
    gc_commit_partition_t *parts = api_alloc(call, total * sizeof(*parts));
    size_t k = 0;
    for (int32_t i = 0; i < nt; i++) {
        const kp_OffsetCommitRequest_OffsetCommitRequestTopic_t *t = &rq->topics[i];
        for (int32_t j = 0; j < t->n_partitions; j++) {
            const kp_OffsetCommitRequest_OffsetCommitRequestPartition_t *p = &t->partitions[j];
            parts[k].topic = t->name ? t->name : "";
            parts[k].partition = p->partition_index;
            parts[k].offset = p->committed_offset;
            parts[k].leader_epoch = call->version >= 6 ? p->committed_leader_epoch : -1;
            parts[k].metadata = p->committed_metadata;
            parts[k].error = partition_exists(call, t->name, p->partition_index)
                                 ? KP_ERR_NONE
                                 : KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            k++;
        }
    }
    kp_err_t err = gcb_prepare(g, rq->group_id);
    if (err != KP_ERR_NONE) {
        for (size_t i = 0; i < total; i++) {
            parts[i].error = err;
        }
        respond(call, parts, total);
        return;
    }
    gc_commit(gcb_gc(g), rq->group_id, rq->generation_id_or_member_epoch,
              rq->member_id ? rq->member_id : "", call->version >= 7 ? rq->group_instance_id : NULL,
              parts, total, respond, call);
}
