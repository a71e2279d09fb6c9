/*
 * api_group_int: helpers shared by the issue-7 handlers (api_<GroupApi>.c): the group
 * glue of the call's broker and the client's host as Kafka prints it ("/127.0.0.1").
 */
#ifndef STRATA_API_GROUP_INT_H
#define STRATA_API_GROUP_INT_H

#include <string.h>

#include "api/api_int.h"
#include "strata/group.h"

/** "/<ip>" from the request's peer "<ip>:<port>", in the call's arena. */
static inline const char *api_client_host(api_call_t *call) {
    const char *peer = call->req->peer ? call->req->peer : "";
    const char *colon = strrchr(peer, ':');
    size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
    if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']') {
        peer++;
        n -= 2;
    }
    char *s = api_alloc(call, n + 2);
    s[0] = '/';
    memcpy(s + 1, peer, n);
    s[n + 1] = 0;
    return s;
}

/** A copy of len bytes in the call's arena (responses are encoded after callbacks). */
static inline kp_bytes_t api_bytes_copy(api_call_t *call, const uint8_t *p, size_t len) {
    kp_bytes_t b;
    uint8_t *d = api_alloc(call, len);
    if (len) {
        memcpy(d, p, len);
    }
    b.data = d;
    b.len = (int32_t)len;
    return b;
}

#endif
