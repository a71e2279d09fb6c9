/*
 * group_proto: the "consumer" protocol embedded in JoinGroup/SyncGroup (subscription and
 * assignment, version 0, classic encodings) and Kafka's range assignor. Pure functions.
 */
#include <string.h>

#include "cli/cli.h"

void cli_group_encode_subscription(buf_t *out, const char *const *topics, size_t n) {
    kp_wr_t w;
    kp_wr_init(&w);
    kp_wr_i16(&w, 0);
    kp_wr_array_len(&w, (int32_t)n, false, false);
    for (size_t i = 0; i < n; i++) {
        kp_wr_string(&w, topics[i], false, false);
    }
    kp_wr_i32(&w, -1); /* user data: null */
    buf_append(out, w.buf.data, w.buf.len);
    kp_wr_destroy(&w);
}

int cli_group_decode_subscription(const uint8_t *data, size_t len, arena_t *arena, char ***topics) {
    kp_rd_t rd;
    kp_rd_init(&rd, data, len, arena);
    int16_t version = kp_rd_i16(&rd);
    int32_t n = kp_rd_array_len(&rd, false, false, 2);
    if (kp_rd_err(&rd) || version < 0 || n < 0) {
        return -1;
    }
    char **names = arena_alloc(arena, ((size_t)n + 1) * sizeof(char *));
    for (int32_t i = 0; i < n; i++) {
        names[i] = kp_rd_string(&rd, false, false);
    }
    /* user data and later-version fields are ignored */
    if (kp_rd_err(&rd)) {
        return -1;
    }
    *topics = names;
    return n;
}

void cli_group_encode_assignment(buf_t *out, const cli_topic_parts_t *tp, size_t n) {
    kp_wr_t w;
    kp_wr_init(&w);
    kp_wr_i16(&w, 0);
    kp_wr_array_len(&w, (int32_t)n, false, false);
    for (size_t i = 0; i < n; i++) {
        kp_wr_string(&w, tp[i].topic, false, false);
        kp_wr_array_len(&w, tp[i].n_partitions, false, false);
        for (int32_t k = 0; k < tp[i].n_partitions; k++) {
            kp_wr_i32(&w, tp[i].partitions[k]);
        }
    }
    kp_wr_i32(&w, -1); /* user data: null */
    buf_append(out, w.buf.data, w.buf.len);
    kp_wr_destroy(&w);
}

int cli_group_decode_assignment(const uint8_t *data, size_t len, arena_t *arena,
                                cli_topic_parts_t **out) {
    if (len == 0) {
        *out = NULL; /* an empty assignment: nothing for this member */
        return 0;
    }
    kp_rd_t rd;
    kp_rd_init(&rd, data, len, arena);
    int16_t version = kp_rd_i16(&rd);
    int32_t n = kp_rd_array_len(&rd, false, false, 6);
    if (kp_rd_err(&rd) || version < 0 || n < 0) {
        return -1;
    }
    cli_topic_parts_t *tp = arena_alloc(arena, ((size_t)n + 1) * sizeof(*tp));
    for (int32_t i = 0; i < n; i++) {
        tp[i].topic = kp_rd_string(&rd, false, false);
        int32_t np = kp_rd_array_len(&rd, false, false, 4);
        if (kp_rd_err(&rd) || np < 0) {
            return -1;
        }
        tp[i].n_partitions = np;
        tp[i].partitions = arena_alloc(arena, ((size_t)np + 1) * sizeof(int32_t));
        for (int32_t k = 0; k < np; k++) {
            tp[i].partitions[k] = kp_rd_i32(&rd);
        }
    }
    if (kp_rd_err(&rd)) {
        return -1;
    }
    *out = tp;
    return n;
}

void cli_group_range_assign(int32_t n_partitions, int32_t n_members, int32_t *first,
                            int32_t *count) {
    int32_t per = n_members > 0 ? n_partitions / n_members : 0;
    int32_t extra = n_members > 0 ? n_partitions % n_members : 0;
    for (int32_t i = 0; i < n_members; i++) {
        first[i] = per * i + (i < extra ? i : extra);
        count[i] = per + (i < extra ? 1 : 0);
    }
}
