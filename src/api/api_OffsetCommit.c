/*
 * api_OffsetCommit: OffsetCommit v2-7 through gc_commit. A partition that does not exist
 * gets UNKNOWN_TOPIC_OR_PARTITION and the others are still committed; retention_time_ms
 * (v2-4) is ignored, as Kafka does since 2.1 (offsets.retention.minutes rules).
 * The commit's __consumer_offsets append is acks=-1: the answer waits (delayed, on the
 * partition's produce purgatory key) until the ISR has it, at most
 * offsets.commit.timeout.ms (5 s), as Kafka's GroupMetadataManager.storeOffsets. A
 * failure then answers REQUEST_TIMED_OUT / NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE,
 * though (unlike Kafka) the coordinator's cache already holds the offsets.
 */
#include "api/api_group_int.h"

#define OFFSETS_COMMIT_TIMEOUT_MS 5000

typedef struct delayed_commit {
    api_call_t *call;
    gc_commit_partition_t *parts;
    size_t total;
    int32_t partition; /* of __consumer_offsets */
    int64_t required;
    purg_op_t *op;
} delayed_commit_t;

static void respond(api_call_t *call, gc_commit_partition_t *parts) {
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

static int commit_status(delayed_commit_t *d) {
    return rm_produce_status(d->call->ctx->rm, GC_OFFSETS_TOPIC, d->partition, d->required);
}

static bool dc_ready(void *arg) {
    return commit_status(arg) != RM_EPENDING;
}

static void dc_done(void *arg, purg_reason_t reason) {
    delayed_commit_t *d = arg;
    d->call->req->cancel = NULL;
    if (reason == PURG_CANCELLED) {
        api_no_response(d->call); /* the connection is gone */
        return;
    }
    int rc = commit_status(d);
    kp_err_t err = KP_ERR_NONE;
    if (rc == RM_EPENDING) {
        err = KP_ERR_REQUEST_TIMED_OUT;
    } else if (rc == RM_ENOT_LEADER) {
        err = KP_ERR_NOT_COORDINATOR;
    } else if (rc != 0) {
        err = KP_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    for (size_t i = 0; err != KP_ERR_NONE && i < d->total; i++) {
        if (d->parts[i].error == KP_ERR_NONE) {
            d->parts[i].error = err;
        }
    }
    respond(d->call, d->parts);
}

static void dc_cancel(api_req_t *req) {
    delayed_commit_t *d = req->cancel_arg;
    purg_cancel(d->op);
}

/* Answers now, or once the ISR has the commit's append. */
static void respond_when_replicated(api_call_t *call, gc_commit_partition_t *parts, size_t total,
                                    bool appended, int32_t partition, int64_t required) {
    part_t *p = NULL;
    if (!appended || rm_partition(call->ctx->rm, GC_OFFSETS_TOPIC, partition, true, &p) != 0) {
        respond(call, parts); /* nothing appended (every partition failed) */
        return;
    }
    delayed_commit_t *d = api_alloc(call, sizeof(*d));
    d->call = call;
    d->parts = parts;
    d->total = total;
    d->partition = partition;
    d->required = required;
    if (dc_ready(d)) {
        dc_done(d, PURG_SATISFIED); /* standalone or a one-member ISR: at once */
        return;
    }
    purg_list_t *lists[1] = {part_produce_waiters(p)};
    d->op =
        purg_add_cond(call->ctx->loop, lists, 1, OFFSETS_COMMIT_TIMEOUT_MS, dc_ready, dc_done, d);
    call->req->cancel_arg = d;
    call->req->cancel = dc_cancel;
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
    bool appended = false;
    int32_t opart = -1;
    int64_t required = -1;
    if (err == KP_ERR_NONE) {
        (void)gcb_take_append(g, &opart, &required); /* forget earlier appends */
        gc_commit(gcb_gc(g), rq->group_id, rq->generation_id_or_member_epoch,
                  rq->member_id ? rq->member_id : "",
                  call->version >= 7 ? rq->group_instance_id : NULL, parts, total);
        appended = gcb_take_append(g, &opart, &required);
    } else {
        for (size_t i = 0; i < total; i++) {
            parts[i].error = err;
        }
    }
    respond_when_replicated(call, parts, total, appended, opart, required);
}
