/*
 * fetch: Fetch v4-11 (advertised range from proto). Log data is never copied: each
 * partition's records value is a file range (log_slice_t) that the server sends with
 * sendfile after the bytes before it.
 *
 * Kafka's rules (kafka-protocol/README.md, problem 5): preferred_read_replica -1;
 * last_stable_offset = high watermark (no transactions); log_start_offset filled;
 * aborted_transactions empty; session_id 0 (no incremental sessions); the response
 * max_bytes and partition_max_bytes bound the data, except that the first batch is
 * always whole (KIP-74); OFFSET_OUT_OF_RANGE outside [log start, log end].
 *
 * Long poll: when less than min_bytes is available and max_wait_ms > 0 and no
 * partition failed, the request waits in the purgatory, watching every partition it
 * reads; appends wake it (min_bytes reached) or its timer ends the wait. It then reads
 * again and answers. The request keeps its slot in the connection's response order.
 *
 * Issue 6: a Fetch with replica_id >= 0 comes from a follower: its fetch offset is
 * recorded as its log end offset (rm_follower_fetch: ISR, high watermark, delayed
 * produces) and it may read up to the log end; consumers read up to the high watermark.
 *
 * Cold data: sendfile of bytes that are not in the page cache would wait on the disk,
 * on the loop, stalling every other client. So before answering, each slice is checked
 * (log_slice_cached, one cachestat call); when one is not all cached, a job on the log
 * manager's executor reads the slices into the page cache first, and the answer is sent
 * when it completes, still in its slot of the connection's response order.
 */
#include <string.h>

#include "api/api_int.h"

/* Reads every partition into resp. @returns the bytes found; *failed when a partition
 * has an error; parts (optional, room for every partition) receives the readable ones. */
static int64_t read_all(api_call_t *call, kp_FetchResponse_t *resp, bool *failed,
                        purg_list_t **lists, size_t *nlists) {
    const kp_FetchRequest_t *rq = call->body;
    api_ctx_t *ctx = call->ctx;
    int64_t budget = rq->max_bytes > 0 ? rq->max_bytes : INT32_MAX;
    int64_t total = 0;
    *failed = false;
    if (nlists) {
        *nlists = 0;
    }
    kp_init_FetchResponse(resp);
    resp->throttle_time_ms = 0;
    resp->error_code = KP_ERR_NONE;
    resp->session_id = 0;
    int32_t nt = rq->n_topics > 0 ? rq->n_topics : 0;
    resp->n_responses = nt;
    resp->responses = api_alloc(call, (size_t)nt * sizeof(*resp->responses));
    for (int32_t i = 0; i < nt; i++) {
        const kp_FetchRequest_FetchTopic_t *ft = &rq->topics[i];
        kp_FetchResponse_FetchableTopicResponse_t *tr = &resp->responses[i];
        kp_init_FetchResponse_FetchableTopicResponse(tr);
        tr->topic = ft->topic ? ft->topic : (char *)"";
        memcpy(tr->topic_id, ft->topic_id, 16);
        int32_t np = ft->n_partitions > 0 ? ft->n_partitions : 0;
        tr->n_partitions = np;
        tr->partitions = api_alloc(call, (size_t)np * sizeof(*tr->partitions));
        for (int32_t j = 0; j < np; j++) {
            const kp_FetchRequest_FetchPartition_t *fp = &ft->partitions[j];
            kp_FetchResponse_PartitionData_t *pd = &tr->partitions[j];
            kp_init_FetchResponse_PartitionData(pd);
            pd->partition_index = fp->partition;
            pd->high_watermark = -1;
            pd->last_stable_offset = -1;
            pd->log_start_offset = -1;
            pd->n_aborted_transactions = 0;
            pd->preferred_read_replica = -1;
            pd->records = kp_records_mem(NULL, 0);
            part_t *p = NULL;
            int rc = ft->topic ? rm_partition(ctx->rm, ft->topic, fp->partition, true, &p)
                               : STRATA_ENOTFOUND;
            if (rc == RM_ELEADER_NOT_AVAILABLE) {
                rc = RM_ENOT_LEADER;
            }
            if (rc != 0) {
                pd->error_code = api_kafka_error(rc);
                *failed = true;
                continue;
            }
            /* issue 6: a follower's fetch offset is its log end offset (ISR, HW). */
            bool replica = rq->replica_id >= 0;
            if (replica && rm_follower_fetch(ctx->rm, p, rq->replica_id, fp->fetch_offset) != 0) {
                pd->error_code = KP_ERR_NOT_LEADER_OR_FOLLOWER;
                *failed = true;
                continue;
            }
            pd->high_watermark = part_high_watermark(p);
            pd->last_stable_offset = pd->high_watermark;
            pd->log_start_offset = part_log_start_offset(p);
            if (lists) {
                lists[(*nlists)++] = replica ? part_replica_waiters(p) : part_fetch_waiters(p);
            }
            int64_t max = fp->partition_max_bytes < budget ? fp->partition_max_bytes : budget;
            if (max <= 0 && total > 0) {
                continue; /* response full; the first batch was already given */
            }
            if (max < 0) {
                max = 0;
            }
            log_slice_t slice;
            memset(&slice, 0, sizeof(slice));
            rc = replica ? rm_read_replica(p, fp->fetch_offset, max, &slice)
                         : rm_read(p, fp->fetch_offset, max, &slice);
            if (rc != 0) {
                pd->error_code = api_kafka_error(rc);
                *failed = true;
                continue;
            }
            pd->error_code = KP_ERR_NONE;
            if (slice.len > max && total > 0) {
                /* Only the first partition with data may exceed the limits (KIP-74). */
                log_slice_release(&slice); /* zeroes it: len 0 below */
            }
            if (slice.len > 0) {
                pd->records = kp_records_file(slice.fd, slice.pos, slice.len);
                api_keep_slice(call, &slice);
                total += slice.len;
                budget -= slice.len;
            } else {
                log_slice_release(&slice);
            }
        }
    }
    return total;
}

/* A response whose slices are being read into the page cache off the loop. */
typedef struct fetch_load {
    api_call_t *call;
    kp_FetchResponse_t resp; /* its arrays live in the request's arena */
    bool cancelled;          /* the connection closed meanwhile: no answer */
} fetch_load_t;

static void load_work(void *arg) {
    fetch_load_t *ld = arg;
    const api_req_t *req = ld->call->req;
    for (size_t i = 0; i < req->nslices; i++) {
        (void)log_slice_load(&req->slices[i]); /* errors surface in sendfile */
    }
}

static void load_after(void *arg) {
    fetch_load_t *ld = arg;
    ld->call->req->cancel = NULL;
    if (ld->cancelled) {
        api_no_response(ld->call);
    } else {
        api_respond(ld->call, &ld->resp);
    }
}

/* The slot is orphaned; it is completed (and freed) when the job is done with the
 * slices' file descriptors. */
static void on_load_cancel(api_req_t *req) {
    fetch_load_t *ld = req->cancel_arg;
    ld->cancelled = true;
}

/* Answers now when every slice is in the page cache; otherwise loads them first. */
static void respond_when_cached(api_call_t *call, const kp_FetchResponse_t *resp) {
    api_req_t *req = call->req;
    bool cached = true;
    for (size_t i = 0; i < req->nslices && cached; i++) {
        cached = log_slice_cached(&req->slices[i]);
    }
    if (cached || call->ctx->logmgr == NULL) {
        api_respond(call, resp);
        return;
    }
    slog_debug("Fetch from %s: log data not in the page cache; reading it off the loop first",
               req->peer ? req->peer : "?");
    fetch_load_t *ld = api_alloc(call, sizeof(*ld));
    ld->call = call;
    ld->resp = *resp;
    ld->cancelled = false;
    req->cancel_arg = ld;
    req->cancel = on_load_cancel;
    const strata_executor_t *ex = logmgr_executor(call->ctx->logmgr);
    ex->submit(ex->ctx, load_work, load_after, ld);
}

static void respond_now(api_call_t *call) {
    kp_FetchResponse_t resp;
    bool failed;
    read_all(call, &resp, &failed, NULL, NULL);
    respond_when_cached(call, &resp);
}

typedef struct fetch_wait {
    api_call_t *call;
    purg_op_t *op;
} fetch_wait_t;

static void on_wait_done(void *arg, purg_reason_t reason) {
    fetch_wait_t *w = arg;
    w->call->req->cancel = NULL;
    if (reason == PURG_CANCELLED) {
        api_no_response(w->call); /* the connection is gone */
        return;
    }
    respond_now(w->call);
}

static void on_cancel(api_req_t *req) {
    fetch_wait_t *w = req->cancel_arg;
    purg_cancel(w->op);
}

static void release_slices(api_req_t *req) {
    for (size_t i = 0; i < req->nslices; i++) {
        log_slice_release(&req->slices[i]);
    }
    req->nslices = 0;
    req->slices = NULL;
}

void api_handle_Fetch(api_call_t *call) {
    const kp_FetchRequest_t *rq = call->body;
    size_t nparts = 0;
    for (int32_t i = 0; i < (rq->n_topics > 0 ? rq->n_topics : 0); i++) {
        nparts += rq->topics[i].n_partitions > 0 ? (size_t)rq->topics[i].n_partitions : 0;
    }
    purg_list_t **lists = api_alloc(call, (nparts ? nparts : 1) * sizeof(*lists));
    size_t nlists = 0;
    kp_FetchResponse_t resp;
    bool failed = false;
    int64_t have = read_all(call, &resp, &failed, lists, &nlists);
    if (failed || rq->max_wait_ms <= 0 || have >= rq->min_bytes || nlists == 0) {
        respond_when_cached(call, &resp);
        return;
    }
    /* Wait for more data; the answer is built again when the wait ends. */
    release_slices(call->req);
    fetch_wait_t *w = api_alloc(call, sizeof(*w));
    w->call = call;
    w->op = purg_add(call->ctx->loop, lists, nlists, have, rq->min_bytes, (uint64_t)rq->max_wait_ms,
                     on_wait_done, w);
    call->req->cancel_arg = w;
    call->req->cancel = on_cancel;
}
