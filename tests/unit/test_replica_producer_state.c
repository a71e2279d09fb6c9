/* Unit tests for replica/producer_state.c: Kafka's idempotent sequence rules and snapshots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "strata/producer_state.h"
#include "tmpdir.h"

#define PID 4242

/* Appends a batch of n records at the next offset, as the leader would after PST_OK. */
static void append(pst_t *s, int64_t pid, int16_t epoch, int32_t first_seq, int32_t n,
                   int64_t *next_offset) {
    int32_t last = pst_last_seq(first_seq, n - 1);
    assert_int_equal(pst_check(s, pid, epoch, first_seq, last, NULL), PST_OK);
    pst_update(s, pid, epoch, first_seq, last, *next_offset, *next_offset + n - 1, 1000);
    *next_offset += n;
}

static void test_pst_check_first_batch_any_sequence(void **state) {
    (void)state;
    pst_t *s = pst_new("t-0");
    /* no state: seq 0 and also a non-zero sequence are accepted (Kafka >= 2.5) */
    assert_int_equal(pst_check(s, PID, 0, 0, 9, NULL), PST_OK);
    assert_int_equal(pst_check(s, PID, 0, 17, 20, NULL), PST_OK);
    int64_t off = 0;
    append(s, PID, 0, 0, 10, &off);
    const pst_entry_t *e = pst_get(s, PID);
    assert_non_null(e);
    assert_int_equal(e->epoch, 0);
    assert_int_equal(e->nbatches, 1);
    assert_int_equal(e->batches[0].last_seq, 9);
    assert_int_equal(pst_map_end_offset(s), 10);
    pst_free(s);
}

static void test_pst_check_next_in_sequence(void **state) {
    (void)state;
    pst_t *s = pst_new("t-0");
    int64_t off = 0;
    append(s, PID, 0, 0, 3, &off);
    append(s, PID, 0, 3, 1, &off);
    append(s, PID, 0, 4, 5, &off);
    assert_int_equal(pst_check(s, PID, 0, 9, 9, NULL), PST_OK);
    pst_free(s);
}

static void test_pst_check_gap_out_of_order(void **state) {
    (void)state;
    pst_t *s = pst_new("t-0");
    int64_t off = 0;
    append(s, PID, 0, 0, 3, &off);
    assert_int_equal(pst_check(s, PID, 0, 4, 4, NULL), PST_OUT_OF_ORDER);
    assert_int_equal(pst_check(s, PID, 0, 100, 101, NULL), PST_OUT_OF_ORDER);
    /* a batch overlapping the last one without matching it exactly is out of order too */
    assert_int_equal(pst_check(s, PID, 0, 1, 3, NULL), PST_OUT_OF_ORDER);
    pst_free(s);
}

static void test_pst_check_duplicate_each_of_last_five(void **state) {
    (void)state;
    pst_t *s = pst_new("t-0");
    int64_t off = 100;
    int32_t seq = 0;
    for (int i = 0; i < 7; i++) {
        append(s, PID, 0, seq, 2, &off);
        seq += 2;
    }
    /* batches 2..6 are cached: seq 4-5 at offset 104 ... seq 12-13 at offset 112 */
    for (int i = 2; i < 7; i++) {
        pst_batch_t dup;
        memset(&dup, 0, sizeof(dup));
        assert_int_equal(pst_check(s, PID, 0, i * 2, i * 2 + 1, &dup), PST_DUPLICATE);
        assert_int_equal(dup.first_offset, 100 + i * 2);
        assert_int_equal(dup.last_offset, 100 + i * 2 + 1);
    }
    /* the 6th-newest batch is no longer cached: out of order, as in Kafka */
    assert_int_equal(pst_check(s, PID, 0, 2, 3, NULL), PST_OUT_OF_ORDER);
    assert_int_equal(pst_get(s, PID)->nbatches, PST_MAX_BATCHES);
    pst_free(s);
}

static void test_pst_check_wrap_at_int32_max(void **state) {
    (void)state;
    assert_int_equal(pst_last_seq(INT32_MAX, 0), INT32_MAX);
    assert_int_equal(pst_last_seq(INT32_MAX, 1), 0);
    assert_int_equal(pst_last_seq(INT32_MAX - 1, 3), 1);
    pst_t *s = pst_new("t-0");
    int64_t off = 0;
    append(s, PID, 0, INT32_MAX - 2, 3, &off); /* ends at INT32_MAX */
    assert_int_equal(pst_get(s, PID)->batches[0].last_seq, INT32_MAX);
    assert_int_equal(pst_check(s, PID, 0, 0, 4, NULL), PST_OK);
    assert_int_equal(pst_check(s, PID, 0, 1, 4, NULL), PST_OUT_OF_ORDER);
    /* a batch that itself wraps */
    append(s, PID, 0, 0, 1, &off);
    append(s, PID, 0, 1, 1, &off);
    pst_t *s2 = pst_new("t-1");
    off = 0;
    append(s2, PID, 0, INT32_MAX - 1, 4, &off); /* seqs MAX-1, MAX, 0, 1 */
    assert_int_equal(pst_get(s2, PID)->batches[0].last_seq, 1);
    assert_int_equal(pst_check(s2, PID, 0, 2, 2, NULL), PST_OK);
    assert_int_equal(pst_check(s2, PID, 0, INT32_MAX - 1, 1, NULL), PST_DUPLICATE);
    pst_free(s2);
    pst_free(s);
}

static void test_pst_check_old_epoch_invalid(void **state) {
    (void)state;
    pst_t *s = pst_new("t-0");
    int64_t off = 0;
    append(s, PID, 3, 0, 2, &off);
    assert_int_equal(pst_check(s, PID, 2, 2, 2, NULL), PST_INVALID_EPOCH);
    /* even an exact repeat of a cached batch under an old epoch is fenced */
    assert_int_equal(pst_check(s, PID, 2, 0, 1, NULL), PST_INVALID_EPOCH);
    pst_free(s);
}

static void test_pst_check_new_epoch_starts_at_zero(void **state) {
    (void)state;
    pst_t *s = pst_new("t-0");
    int64_t off = 0;
    append(s, PID, 0, 0, 5, &off);
    assert_int_equal(pst_check(s, PID, 1, 5, 5, NULL), PST_OUT_OF_ORDER);
    assert_int_equal(pst_check(s, PID, 1, 3, 3, NULL), PST_OUT_OF_ORDER);
    append(s, PID, 1, 0, 1, &off);
    const pst_entry_t *e = pst_get(s, PID);
    assert_int_equal(e->epoch, 1);
    assert_int_equal(e->nbatches, 1); /* the old epoch's batches are gone */
    /* and the old epoch is now fenced */
    assert_int_equal(pst_check(s, PID, 0, 5, 5, NULL), PST_INVALID_EPOCH);
    pst_free(s);
}

static void test_pst_check_no_producer_id_always_ok(void **state) {
    (void)state;
    pst_t *s = pst_new("t-0");
    assert_int_equal(pst_check(s, -1, -1, -1, -1, NULL), PST_OK);
    pst_update(s, -1, -1, -1, -1, 0, 0, 0);
    assert_int_equal(pst_count(s), 0);
    pst_free(s);
}

static void test_pst_producers_are_independent(void **state) {
    (void)state;
    pst_t *s = pst_new("t-0");
    int64_t off = 0;
    append(s, 1, 0, 0, 2, &off);
    append(s, 2, 0, 0, 2, &off);
    append(s, 1, 0, 2, 2, &off);
    assert_int_equal(pst_count(s), 2);
    pst_batch_t dup;
    assert_int_equal(pst_check(s, 2, 0, 0, 1, &dup), PST_DUPLICATE);
    assert_int_equal(dup.first_offset, 2);
    assert_int_equal(pst_check(s, 2, 0, 2, 3, NULL), PST_OK);
    pst_free(s);
}

static void test_pst_expire_removes_idle_producers(void **state) {
    (void)state;
    pst_t *s = pst_new("t-0");
    pst_update(s, 1, 0, 0, 0, 0, 0, 1000);
    pst_update(s, 2, 0, 0, 0, 1, 1, 5000);
    assert_int_equal(pst_expire(s, 1000 + PST_DEFAULT_EXPIRATION_MS, PST_DEFAULT_EXPIRATION_MS), 1);
    assert_null(pst_get(s, 1));
    assert_non_null(pst_get(s, 2));
    pst_free(s);
}

static void test_pst_maybe_expire_runs_on_interval(void **state) {
    (void)state;
    pst_t *s = pst_new("t-0");
    pst_update(s, 1, 0, 0, 0, 0, 0, 0);
    int64_t day = PST_DEFAULT_EXPIRATION_MS;
    pst_maybe_expire(s, day + 1); /* arms the interval only */
    assert_non_null(pst_get(s, 1));
    pst_maybe_expire(s, day + 1000); /* within the 10-minute interval */
    assert_non_null(pst_get(s, 1));
    pst_maybe_expire(s, day + 1 + 600000);
    assert_null(pst_get(s, 1));
    pst_free(s);
}

static void test_pst_truncate_to_drops_batches(void **state) {
    (void)state;
    pst_t *s = pst_new("t-0");
    int64_t off = 0;
    append(s, 1, 0, 0, 2, &off); /* 0-1 */
    append(s, 1, 0, 2, 2, &off); /* 2-3 */
    append(s, 2, 0, 0, 2, &off); /* 4-5 */
    pst_truncate_to(s, 2);
    assert_int_equal(pst_get(s, 1)->nbatches, 1);
    assert_null(pst_get(s, 2));
    assert_int_equal(pst_map_end_offset(s), 2);
    assert_int_equal(pst_check(s, 1, 0, 2, 3, NULL), PST_OK);
    pst_free(s);
}

static void test_pst_snapshot_encode_decode_roundtrip(void **state) {
    (void)state;
    pst_t *s = pst_new("t-0");
    int64_t off = 0;
    int32_t seq = INT32_MAX - 5;
    for (int i = 0; i < 6; i++) {
        append(s, 7, 2, seq, 3, &off);
        seq = pst_last_seq(seq, 3);
    }
    append(s, 8, 0, 0, 1, &off);
    buf_t b = BUF_INIT;
    pst_snapshot_encode(s, &b);
    assert_int_equal(b.len, 10 + 46 * 6);
    pst_t *r = pst_new("t-0");
    assert_int_equal(pst_snapshot_decode(r, b.data, b.len), 0);
    const pst_entry_t *a = pst_get(s, 7), *c = pst_get(r, 7);
    assert_non_null(c);
    assert_int_equal(c->epoch, 2);
    assert_int_equal(c->nbatches, a->nbatches);
    for (int i = 0; i < a->nbatches; i++) {
        assert_int_equal(c->batches[i].first_seq, a->batches[i].first_seq);
        assert_int_equal(c->batches[i].last_seq, a->batches[i].last_seq);
        assert_int_equal(c->batches[i].first_offset, a->batches[i].first_offset);
        assert_int_equal(c->batches[i].last_offset, a->batches[i].last_offset);
    }
    assert_non_null(pst_get(r, 8));
    /* a flipped byte is caught by the CRC */
    b.data[20] ^= 1;
    assert_int_equal(pst_snapshot_decode(r, b.data, b.len), STRATA_ECORRUPT);
    b.data[20] ^= 1;
    assert_int_equal(pst_snapshot_decode(r, b.data, b.len - 1), STRATA_ECORRUPT);
    assert_int_equal(pst_snapshot_decode(r, b.data, 3), STRATA_ECORRUPT);
    buf_destroy(&b);
    pst_free(r);
    pst_free(s);
}

/* A truncation deletes the snapshots past its offset: loaded once the log has regrown past
 * them, they would restore the sequence numbers of batches the truncation removed. */
static void test_pst_delete_snapshots_after_truncation(void **state) {
    (void)state;
    char *dir = tmpdir_new();
    pst_t *s = pst_new("t-0");
    int64_t off = 0;
    for (int i = 0; i < 5; i++) { /* batches of 10 records, sequence = offset */
        append(s, PID, 0, i * 10, 10, &off);
        if (i >= 2) { /* the state at 30, 40 and 50 */
            assert_int_equal(pst_snapshot_write(s, dir, (i + 1) * 10, 3), 0);
        }
    }
    char *p30 = xasprintf("%s/00000000000000000030.snapshot", dir);
    char *p40 = xasprintf("%s/00000000000000000040.snapshot", dir);
    char *p50 = xasprintf("%s/00000000000000000050.snapshot", dir);

    /* truncated to 40: the state at 40 (offsets below it) is still true, 50 is not */
    assert_int_equal(pst_delete_snapshots_after(dir, 40), 0);
    assert_int_equal(access(p30, F_OK), 0);
    assert_int_equal(access(p40, F_OK), 0);
    assert_int_not_equal(access(p50, F_OK), 0);
    /* the log regrows past 50 with other batches: the load no longer finds the stale one */
    pst_t *r = pst_new("t-0");
    assert_int_equal(pst_load(r, dir, 1000), 0);
    assert_int_equal(pst_map_end_offset(r), 40);
    assert_int_equal(pst_check(r, PID, 0, 40, 49, NULL), PST_OK); /* not a "duplicate" */

    /* a log restarted at a new start offset (-1): none is left */
    assert_int_equal(pst_delete_snapshots_after(dir, -1), 0);
    assert_int_not_equal(access(p30, F_OK), 0);
    assert_int_not_equal(access(p40, F_OK), 0);
    /* no directory at all is not an error */
    char *gone = xasprintf("%s/missing", dir);
    assert_int_equal(pst_delete_snapshots_after(gone, 0), 0);
    free(gone);
    free(p30);
    free(p40);
    free(p50);
    pst_free(r);
    pst_free(s);
    tmpdir_remove(dir);
}

static void test_pst_snapshot_write_and_reload(void **state) {
    (void)state;
    char *dir = tmpdir_new();
    pst_t *s = pst_new("t-0");
    int64_t off = 0;
    for (int i = 0; i < 5; i++) {
        append(s, PID, 0, i * 10, 10, &off);
    }
    assert_int_equal(pst_snapshot_write(s, dir, 30, 2), 0);
    assert_int_equal(pst_snapshot_write(s, dir, 40, 2), 0);
    assert_int_equal(pst_snapshot_write(s, dir, pst_map_end_offset(s), 2), 0);
    char *p30 = xasprintf("%s/00000000000000000030.snapshot", dir);
    char *p50 = xasprintf("%s/00000000000000000050.snapshot", dir);
    assert_int_not_equal(access(p30, F_OK), 0); /* only the newest two are kept */
    assert_int_equal(access(p50, F_OK), 0);

    pst_t *r = pst_new("t-0");
    assert_int_equal(pst_load(r, dir, 50), 0);
    assert_int_equal(pst_map_end_offset(r), 50);
    /* every one of the last five batches is still recognised as a duplicate */
    for (int i = 0; i < 5; i++) {
        pst_batch_t dup;
        assert_int_equal(pst_check(r, PID, 0, i * 10, i * 10 + 9, &dup), PST_DUPLICATE);
        assert_int_equal(dup.first_offset, i * 10);
    }
    assert_int_equal(pst_check(r, PID, 0, 50, 59, NULL), PST_OK);
    assert_int_equal(pst_check(r, PID, 0, 51, 59, NULL), PST_OUT_OF_ORDER);

    /* a snapshot past the log end (unclean truncation) is deleted; the older one loads */
    assert_int_equal(pst_load(r, dir, 45), 0);
    assert_int_equal(pst_map_end_offset(r), 40);
    assert_int_not_equal(access(p50, F_OK), 0);

    /* a corrupt snapshot is skipped and removed */
    FILE *f = fopen(p50, "wb");
    assert_non_null(f);
    fputs("garbage", f);
    fclose(f);
    assert_int_equal(pst_load(r, dir, 100), 0);
    assert_int_equal(pst_map_end_offset(r), 40);
    assert_int_not_equal(access(p50, F_OK), 0);

    /* an empty directory is an empty state */
    char *empty = tmpdir_new();
    assert_int_equal(pst_load(r, empty, 100), 0);
    assert_int_equal(pst_count(r), 0);
    assert_int_equal(pst_map_end_offset(r), 0);
    tmpdir_remove(empty);

    free(p30);
    free(p50);
    pst_free(r);
    pst_free(s);
    tmpdir_remove(dir);
}

/* A header-only magic-2 batch (enough for rb_parse): n records of producer pid. */
static void put_batch(buf_t *b, int64_t base_offset, int64_t pid, int16_t epoch, int32_t seq,
                      int32_t n) {
    uint8_t *h = buf_extend(b, RB_HEADER_SIZE);
    memset(h, 0, RB_HEADER_SIZE);
    be64_put(h + RB_OFF_BASE_OFFSET, (uint64_t)base_offset);
    be32_put(h + RB_OFF_LENGTH, RB_HEADER_SIZE - 12);
    be32_put(h + RB_OFF_LEADER_EPOCH, 0);
    h[RB_OFF_MAGIC] = 2;
    be32_put(h + RB_OFF_LAST_DELTA, (uint32_t)(n - 1));
    be64_put(h + RB_OFF_MAX_TIMESTAMP, 5000);
    be64_put(h + RB_OFF_PRODUCER_ID, (uint64_t)pid);
    be16_put(h + RB_OFF_PRODUCER_EPOCH, (uint16_t)epoch);
    be32_put(h + RB_OFF_BASE_SEQUENCE, (uint32_t)seq);
    be32_put(h + RB_OFF_RECORD_COUNT, (uint32_t)n);
    be32_put(h + RB_OFF_CRC, crc32c(0, h + RB_OFF_ATTRIBUTES, RB_HEADER_SIZE - RB_OFF_ATTRIBUTES));
}

static void test_pst_check_records_request_paths(void **state) {
    (void)state;
    pst_t *s = pst_new("t-0");
    buf_t b = BUF_INIT;
    put_batch(&b, 0, PID, 0, 0, 3);
    assert_int_equal(pst_check_records(s, b.data, b.len, NULL), PST_OK);
    pst_update_records(s, b.data, b.len); /* as if appended at offset 0 */
    assert_int_equal(pst_get(s, PID)->batches[0].last_offset, 2);
    /* the same batch again (a retry) is a duplicate answered with offset 0 */
    pst_batch_t dup;
    assert_int_equal(pst_check_records(s, b.data, b.len, &dup), PST_DUPLICATE);
    assert_int_equal(dup.first_offset, 0);
    /* two batches in one request: the second follows the first */
    buf_reset(&b);
    put_batch(&b, 0, PID, 0, 3, 2);
    put_batch(&b, 0, PID, 0, 5, 2);
    assert_int_equal(pst_check_records(s, b.data, b.len, NULL), PST_OK);
    buf_reset(&b);
    put_batch(&b, 0, PID, 0, 3, 2);
    put_batch(&b, 0, PID, 0, 6, 2); /* gap inside the request */
    assert_int_equal(pst_check_records(s, b.data, b.len, NULL), PST_OUT_OF_ORDER);
    buf_reset(&b);
    put_batch(&b, 0, PID, 0, 9, 1);
    assert_int_equal(pst_check_records(s, b.data, b.len, NULL), PST_OUT_OF_ORDER);
    /* batches without producer id are never checked */
    buf_reset(&b);
    put_batch(&b, 0, -1, -1, -1, 1);
    assert_int_equal(pst_check_records(s, b.data, b.len, NULL), PST_OK);
    pst_update_records(s, b.data, b.len);
    assert_int_equal(pst_count(s), 1);
    buf_destroy(&b);
    pst_free(s);
}

static void test_pst_open_log_rebuilds_from_snapshot_and_tail(void **state) {
    (void)state;
    char *dir = tmpdir_new();
    log_config_t cfg;
    log_config_default(&cfg);
    log_t *log = NULL;
    assert_int_equal(log_open(dir, "t", 0, &cfg, &strata_inline_executor, 0, false, &log), 0);
    buf_t b = BUF_INIT;
    log_append_info_t info;
    for (int i = 0; i < 3; i++) {
        buf_reset(&b);
        put_batch(&b, 0, PID, 0, i * 2, 2);
        assert_int_equal(log_append(log, b.data, b.len, 0, &info), 0);
    }
    pst_t *s = pst_open_log(log); /* no snapshot: the whole log is replayed */
    assert_int_equal(pst_map_end_offset(s), 6);
    assert_int_equal(pst_get(s, PID)->nbatches, 3);
    assert_int_equal(pst_snapshot_log(s, log), 0);
    pst_free(s);
    /* two more batches after the snapshot */
    for (int i = 3; i < 5; i++) {
        buf_reset(&b);
        put_batch(&b, 0, PID, 0, i * 2, 2);
        assert_int_equal(log_append(log, b.data, b.len, 0, &info), 0);
    }
    s = pst_open_log(log);
    assert_int_equal(pst_map_end_offset(s), 10);
    for (int i = 0; i < 5; i++) {
        pst_batch_t dup;
        assert_int_equal(pst_check(s, PID, 0, i * 2, i * 2 + 1, &dup), PST_DUPLICATE);
        assert_int_equal(dup.first_offset, i * 2);
    }
    assert_int_equal(pst_check(s, PID, 0, 10, 10, NULL), PST_OK);
    pst_free(s);
    buf_destroy(&b);
    log_close(log);
    tmpdir_remove(dir);
}

static void test_pst_maybe_snapshot_every_interval(void **state) {
    (void)state;
    char *dir = tmpdir_new();
    log_config_t cfg;
    log_config_default(&cfg);
    log_t *log = NULL;
    assert_int_equal(log_open(dir, "t", 0, &cfg, &strata_inline_executor, 0, false, &log), 0);
    pst_t *s = pst_new("t-0");
    pst_update(s, PID, 0, 0, 9, 0, PST_SNAPSHOT_INTERVAL - 2, 1000);
    pst_maybe_snapshot(s, log);
    char *p1 = xasprintf("%s/t-0/%020d.snapshot", dir, PST_SNAPSHOT_INTERVAL);
    assert_int_not_equal(access(p1, F_OK), 0); /* not yet: one offset short */
    pst_update(s, PID, 0, 10, 10, PST_SNAPSHOT_INTERVAL - 1, PST_SNAPSHOT_INTERVAL - 1, 1000);
    pst_maybe_snapshot(s, log);
    assert_int_equal(access(p1, F_OK), 0);
    pst_t *r = pst_new("t-0");
    assert_int_equal(pst_load(r, log_dir_path(log), INT64_MAX), 0);
    assert_int_equal(pst_map_end_offset(r), PST_SNAPSHOT_INTERVAL);
    assert_int_equal(pst_check(r, PID, 0, 10, 10, NULL), PST_DUPLICATE);
    pst_free(r);
    free(p1);
    pst_free(s);
    log_close(log);
    tmpdir_remove(dir);
}

static void test_pst_hot_entry_forgotten_when_entries_go(void **state) {
    (void)state;
    pst_t *s = pst_new("t-0");
    int64_t off = 0;
    append(s, PID, 0, 0, 5, &off); /* PID is the hot entry now */
    append(s, PID + 1, 0, 0, 5, &off);
    append(s, PID, 0, 5, 5, &off);
    assert_int_equal(pst_check(s, PID, 0, 9, 9, NULL), PST_OUT_OF_ORDER);
    /* expiry frees the entries: the cached one must not answer any more */
    assert_int_equal(pst_expire(s, 1000 + PST_DEFAULT_EXPIRATION_MS, PST_DEFAULT_EXPIRATION_MS), 2);
    assert_null(pst_get(s, PID));
    assert_int_equal(pst_check(s, PID, 0, 9, 9, NULL), PST_OK); /* no state: rule 5 */
    append(s, PID, 0, 9, 1, &off);
    pst_truncate_to(s, 0); /* drops it again */
    assert_null(pst_get(s, PID));
    assert_int_equal(pst_check(s, PID, 0, 42, 42, NULL), PST_OK);
    append(s, PID, 3, 0, 1, &off);
    pst_clear(s);
    assert_null(pst_get(s, PID));
    pst_free(s);
}

static void test_pst_maybe_snapshot_on_thread_pool(void **state) {
    (void)state;
    char *dir = tmpdir_new();
    log_config_t cfg;
    log_config_default(&cfg);
    log_t *log = NULL;
    assert_int_equal(log_open(dir, "t", 0, &cfg, &strata_inline_executor, 0, false, &log), 0);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    pst_t *s = pst_new("t-0");
    pst_set_loop(s, &loop);
    pst_update(s, PID, 0, 0, 9, PST_SNAPSHOT_INTERVAL - 10, PST_SNAPSHOT_INTERVAL - 1, 1000);
    pst_maybe_snapshot(s, log);
    pst_update(s, PID, 0, 10, 10, PST_SNAPSHOT_INTERVAL, PST_SNAPSHOT_INTERVAL, 1000);
    pst_maybe_snapshot(s, log);                         /* one write in flight: not a second one */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0); /* the write completes */
    char *p1 = xasprintf("%s/t-0/%020d.snapshot", dir, PST_SNAPSHOT_INTERVAL);
    assert_int_equal(access(p1, F_OK), 0);
    pst_t *r = pst_new("t-0");
    assert_int_equal(pst_load(r, log_dir_path(log), INT64_MAX), 0);
    assert_int_equal(pst_map_end_offset(r), PST_SNAPSHOT_INTERVAL);
    assert_int_equal(pst_check(r, PID, 0, 0, 9, NULL), PST_DUPLICATE);
    pst_free(r);
    /* the state freed while its write runs: nothing touched, the job completes (its
     * rename is cancelled unless it already happened: test_replica_review checks that) */
    pst_update(s, PID, 0, 11, 11, 2 * PST_SNAPSHOT_INTERVAL, 2 * PST_SNAPSHOT_INTERVAL, 1000);
    pst_maybe_snapshot(s, log);
    pst_free(s);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    char *p2 = xasprintf("%s/t-0/%020d.snapshot.tmp", dir, 2 * PST_SNAPSHOT_INTERVAL + 1);
    assert_int_not_equal(access(p2, F_OK), 0); /* no temporary file left either way */
    assert_int_equal(uv_loop_close(&loop), 0);
    free(p1);
    free(p2);
    log_close(log);
    tmpdir_remove(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pst_check_first_batch_any_sequence),
        cmocka_unit_test(test_pst_check_next_in_sequence),
        cmocka_unit_test(test_pst_check_gap_out_of_order),
        cmocka_unit_test(test_pst_check_duplicate_each_of_last_five),
        cmocka_unit_test(test_pst_check_wrap_at_int32_max),
        cmocka_unit_test(test_pst_check_old_epoch_invalid),
        cmocka_unit_test(test_pst_check_new_epoch_starts_at_zero),
        cmocka_unit_test(test_pst_check_no_producer_id_always_ok),
        cmocka_unit_test(test_pst_producers_are_independent),
        cmocka_unit_test(test_pst_expire_removes_idle_producers),
        cmocka_unit_test(test_pst_maybe_expire_runs_on_interval),
        cmocka_unit_test(test_pst_truncate_to_drops_batches),
        cmocka_unit_test(test_pst_snapshot_encode_decode_roundtrip),
        cmocka_unit_test(test_pst_snapshot_write_and_reload),
        cmocka_unit_test(test_pst_check_records_request_paths),
        cmocka_unit_test(test_pst_open_log_rebuilds_from_snapshot_and_tail),
        cmocka_unit_test(test_pst_maybe_snapshot_every_interval),
        cmocka_unit_test(test_pst_hot_entry_forgotten_when_entries_go),
        cmocka_unit_test(test_pst_maybe_snapshot_on_thread_pool),
        cmocka_unit_test(test_pst_delete_snapshots_after_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
