/*
 * api_OffsetFetch: OffsetFetch v1-5 through gc_fetch_offset / gc_fetch_all_offsets.
 * A null topic list (v2+) means every committed offset of the group. Uncommitted
 * partitions answer offset -1 with no error, as Kafka. Coordinator errors go in the
 * top-level error (v2+) and in every partition (v1 has no top-level error).
 */
#include "api/api_group_int.h"

static kp_OffsetFetchResponse_OffsetFetchResponsePartition_t *
add_partition(api_call_t *call, kp_OffsetFetchResponse_OffsetFetchResponseTopic_t *t,
              int32_t *cap) {
    if (t->n_partitions == *cap) {
        int32_t ncap = *cap ? *cap * 2 : 8;
        kp_OffsetFetchResponse_OffsetFetchResponsePartition_t *np =
            api_alloc(call, (size_t)ncap * sizeof(*np));
        if (t->n_partitions) {
            memcpy(np, t->partitions, (size_t)t->n_partitions * sizeof(*np));
        }
        t->partitions = np;
        *cap = ncap;
    }
    kp_OffsetFetchResponse_OffsetFetchResponsePartition_t *p = &t->partitions[t->n_partitions++];
    kp_init_OffsetFetchResponse_OffsetFetchResponsePartition(p);
    return p;
}

typedef struct all_state {
    api_call_t *call;
    kp_OffsetFetchResponse_OffsetFetchResponseTopic_t *topics;
    int32_t ntopics, cap;
    int32_t pcap; /* capacity of the last topic's partitions */
} all_state_t;

static void on_offset(void *arg, const char *topic, int32_t partition, const gc_offset_t *o) {
    all_state_t *st = arg;
    if (st->ntopics == 0 || strcmp(st->topics[st->ntopics - 1].name, topic) != 0) {
        if (st->ntopics == st->cap) {
            int32_t ncap = st->cap ? st->cap * 2 : 8;
            kp_OffsetFetchResponse_OffsetFetchResponseTopic_t *nt =
                api_alloc(st->call, (size_t)ncap * sizeof(*nt));
            if (st->ntopics) {
                memcpy(nt, st->topics, (size_t)st->ntopics * sizeof(*nt));
            }
            st->topics = nt;
            st->cap = ncap;
        }
        kp_OffsetFetchResponse_OffsetFetchResponseTopic_t *t = &st->topics[st->ntopics++];
        kp_init_OffsetFetchResponse_OffsetFetchResponseTopic(t);
        t->name = api_strdup(st->call, topic);
        t->n_partitions = 0;
        t->partitions = NULL;
        st->pcap = 0;
    }
    kp_OffsetFetchResponse_OffsetFetchResponsePartition_t *p =
        add_partition(st->call, &st->topics[st->ntopics - 1], &st->pcap);
    p->partition_index = partition;
    p->committed_offset = o->offset;
    p->committed_leader_epoch = o->leader_epoch;
    p->metadata = api_strdup(st->call, o->metadata ? o->metadata : "");
    p->error_code = KP_ERR_NONE;
}

void api_handle_OffsetFetch(api_call_t *call) {
    const kp_OffsetFetchRequest_t *rq = call->body;
    gcb_t *g = call->ctx->groups;
    kp_OffsetFetchResponse_t resp;
    kp_init_OffsetFetchResponse(&resp);
    kp_err_t err = gcb_prepare(g, rq->group_id);
    if (rq->n_topics < 0) {
        all_state_t st;
        memset(&st, 0, sizeof(st));
        st.call = call;
        if (err == KP_ERR_NONE) {
            err = gc_fetch_all_offsets(gcb_gc(g), rq->group_id, on_offset, &st);
        }
        resp.n_topics = st.ntopics;
        resp.topics = st.topics;
        resp.error_code = (int16_t)err;
        api_respond(call, &resp);
        return;
    }
    int32_t nt = rq->n_topics;
    resp.n_topics = nt;
    resp.topics = api_alloc(call, (size_t)nt * sizeof(*resp.topics));
    for (int32_t i = 0; i < nt; i++) {
        const kp_OffsetFetchRequest_OffsetFetchRequestTopic_t *t = &rq->topics[i];
        kp_OffsetFetchResponse_OffsetFetchResponseTopic_t *rt = &resp.topics[i];
        kp_init_OffsetFetchResponse_OffsetFetchResponseTopic(rt);
        rt->name = t->name ? t->name : (char *)"";
        int32_t np = t->n_partition_indexes > 0 ? t->n_partition_indexes : 0;
        rt->n_partitions = np;
        rt->partitions = api_alloc(call, (size_t)np * sizeof(*rt->partitions));
        for (int32_t j = 0; j < np; j++) {
            kp_OffsetFetchResponse_OffsetFetchResponsePartition_t *p = &rt->partitions[j];
            kp_init_OffsetFetchResponse_OffsetFetchResponsePartition(p);
            p->partition_index = t->partition_indexes[j];
            gc_offset_t o = {-1, -1, "", -1};
            kp_err_t perr = err;
            if (err == KP_ERR_NONE) {
                perr = gc_fetch_offset(gcb_gc(g), rq->group_id, rt->name, p->partition_index, &o);
            }
            p->committed_offset = o.offset;
            p->committed_leader_epoch = o.leader_epoch;
            p->metadata = api_strdup(call, o.metadata ? o.metadata : "");
            p->error_code = (int16_t)(call->version < 2 ? perr : KP_ERR_NONE);
        }
    }
    resp.error_code = (int16_t)err;
    api_respond(call, &resp);
}
