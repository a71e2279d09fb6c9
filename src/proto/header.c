/*
 * header: request and response headers. The request header version follows from the
 * api key and version (kp_request_header_version); client_id stays a classic nullable
 * string even in header v2 so any server can read any request's header prefix.
 */
#include "strata/proto.h"

int kp_decode_request_header(kp_rd_t *rd, kp_RequestHeader_t *out, int16_t *header_version) {
    kp_init_RequestHeader(out);
    if (kp_rd_remaining(rd) < 4) {
        kp_rd_fail(rd);
        return kp_rd_err(rd);
    }
    int16_t key = (int16_t)be16_get(rd->p);
    int16_t ver = (int16_t)be16_get(rd->p + 2);
    int16_t hv = (int16_t)kp_request_header_version(key, ver);
    if (header_version != NULL) {
        *header_version = hv;
    }
    return kp_decode_RequestHeader(rd, hv, out);
}

void kp_encode_request_header(kp_wr_t *wr, const kp_RequestHeader_t *hdr) {
    int hv = kp_request_header_version(hdr->request_api_key, hdr->request_api_version);
    kp_encode_RequestHeader(wr, (int16_t)hv, hdr);
}

void kp_encode_response_header(kp_wr_t *wr, int16_t api_key, int16_t version,
                               int32_t correlation_id) {
    kp_ResponseHeader_t h;
    kp_init_ResponseHeader(&h);
    h.correlation_id = correlation_id;
    kp_encode_ResponseHeader(wr, (int16_t)kp_response_header_version(api_key, version), &h);
}

int kp_decode_response_header(kp_rd_t *rd, int16_t api_key, int16_t version,
                              int32_t *correlation_id) {
    kp_ResponseHeader_t h;
    int rc =
        kp_decode_ResponseHeader(rd, (int16_t)kp_response_header_version(api_key, version), &h);
    *correlation_id = h.correlation_id;
    return rc;
}
