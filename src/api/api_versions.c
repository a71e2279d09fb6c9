/*
 * api_versions: ApiVersions v0-3. Advertises exactly the APIs that have a handler in
 * the dispatch table, with proto's implemented version ranges. v3 has a flexible body
 * but (like every ApiVersions response) response header v0; proto's header helper
 * knows that. An unsupported version is answered by api.c with error 35 and a v0 body.
 */
#include "api/api_int.h"

void api_versions_fill(api_call_t *call, kp_ApiVersionsResponse_t *resp) {
    size_t n = 0;
    const kp_supported_api_t *apis = kp_supported_apis(&n);
    resp->api_keys = api_alloc(call, n * sizeof(*resp->api_keys));
    resp->n_api_keys = 0;
    for (size_t i = 0; i < n; i++) {
        if (!api_has_handler(apis[i].api_key) || (apis[i].flags & KP_SUPPORT_INTERNAL)) {
            continue; /* issue 6: broker-to-broker APIs are answered, not advertised */
        }
        kp_ApiVersionsResponse_ApiVersion_t *v = &resp->api_keys[resp->n_api_keys++];
        v->api_key = apis[i].api_key;
        v->min_version = apis[i].min_version;
        v->max_version = apis[i].max_version;
    }
}

void api_handle_ApiVersions(api_call_t *call) {
    kp_ApiVersionsResponse_t resp;
    kp_init_ApiVersionsResponse(&resp);
    api_versions_fill(call, &resp);
    resp.error_code = KP_ERR_NONE;
    resp.throttle_time_ms = 0;
    api_respond(call, &resp);
}
