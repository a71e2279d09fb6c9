/*
 * delete_topics: DeleteTopics v0-3 (advertised range from proto) through the
 * controller (ctl_delete_topic); answered when every topic has a result. The replica
 * manager deletes the local logs when the topic leaves the metadata cache.
 */
#include <string.h>

#include "api/api_int.h"

typedef struct dt_state {
    api_call_t *call;
    kp_DeleteTopicsResponse_t resp;
    int pending;
} dt_state_t;

typedef struct dt_item {
    dt_state_t *st;
    int32_t idx;
    const char *name;
    int32_t timeout_ms;
} dt_item_t;

static void finish_one(dt_state_t *st) {
    if (--st->pending == 0) {
        api_respond(st->call, &st->resp);
    }
}

static void on_gone(void *arg, bool ok) {
    dt_item_t *it = arg;
    if (!ok) {
        it->st->resp.responses[it->idx].error_code = KP_ERR_REQUEST_TIMED_OUT;
    }
    finish_one(it->st);
}

static void on_deleted(void *arg, int16_t err, const char *message) {
    dt_item_t *it = arg;
    kp_DeleteTopicsResponse_DeletableTopicResult_t *r = &it->st->resp.responses[it->idx];
    r->error_code = err;
    r->error_message = err != KP_ERR_NONE && message ? api_strdup(it->st->call, message) : NULL;
    if (err == KP_ERR_NONE) {
        api_admin_wait(it->st->call->ctx, it->name, API_WAIT_GONE, 0, it->timeout_ms, on_gone, it);
        return;
    }
    finish_one(it->st);
}

void api_handle_DeleteTopics(api_call_t *call) {
    const kp_DeleteTopicsRequest_t *rq = call->body;
    dt_state_t *st = api_alloc(call, sizeof(*st));
    st->call = call;
    kp_init_DeleteTopicsResponse(&st->resp);
    int32_t nt = rq->n_topic_names > 0 ? rq->n_topic_names : 0;
    st->resp.n_responses = nt;
    st->resp.responses = api_alloc(call, (size_t)nt * sizeof(*st->resp.responses));
    st->pending = 1;
    for (int32_t i = 0; i < nt; i++) {
        const char *name = rq->topic_names[i];
        kp_DeleteTopicsResponse_DeletableTopicResult_t *r = &st->resp.responses[i];
        kp_init_DeleteTopicsResponse_DeletableTopicResult(r);
        r->name = (char *)(name ? name : "");
        if (!call->ctx->cfg->delete_topic_enable) {
            r->error_code = KP_ERR_TOPIC_DELETION_DISABLED;
            continue;
        }
        if (name == NULL || !ctl_valid_topic_name(name)) {
            r->error_code = KP_ERR_INVALID_TOPIC_EXCEPTION;
            continue;
        }
        dt_item_t *it = api_alloc(call, sizeof(*it));
        it->st = st;
        it->idx = i;
        it->name = name;
        it->timeout_ms = rq->timeout_ms;
        st->pending++;
        int rc = ctl_delete_topic(call->ctx->ctl, name, on_deleted, it);
        if (rc != 0) {
            st->pending--;
            r->error_code = api_kafka_error(rc);
        }
    }
    finish_one(st);
}
