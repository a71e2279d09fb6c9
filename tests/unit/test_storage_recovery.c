/* Tests for recovery.c and segment.c: recovery after the tail is cut at every byte of
 * the last batch, after a flipped byte mid-segment, after a deleted or garbage index,
 * after a crash between creating a segment and writing to it; leftovers of interrupted
 * deletes; a clean shutdown or a recovery point skips the CRC scan of trusted data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch_builder.h"
#include "fault_fs.h"
#include "strata/storage.h"
#include "tmpdir.h"

typedef struct batch_rec {
    int64_t base, last, seg_base, pos, max_ts;
    size_t size;
} batch_rec_t;

typedef struct fixture {
    char *dir;
    log_config_t cfg;
    log_t *log;
    batch_rec_t recs[512];
    int nrecs;
} fixture_t;

static int setup(void **state) {
    fixture_t *f = xcalloc(1, sizeof(*f));
    f->dir = tmpdir_new();
    log_config_default(&f->cfg);
    f->cfg.segment_bytes = 2000;
    f->cfg.index_interval_bytes = 150;
    f->cfg.index_size_max_bytes = 1024;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture_t *f = *state;
    log_close(f->log);
    fault_fs_reset();
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static char *seg_path(fixture_t *f, int64_t base, const char *suffix) {
    return xasprintf("%s/t-0/%020" PRId64 "%s", f->dir, base, suffix);
}

static int open_log(fixture_t *f, int64_t rp, bool clean) {
    return log_open(f->dir, "t", 0, &f->cfg, NULL, rp, clean, &f->log);
}

/* Appends n batches, remembering where each landed (segment and position). */
static void fill(fixture_t *f, int n) {
    for (int i = 0; i < n; i++) {
        buf_t b = BUF_INIT;
        bb_simple(&b, 1 + i % 3, 40 + (size_t)(i * 13) % 50, 1000 + i);
        log_append_info_t info;
        assert_int_equal(log_append(f->log, b.data, b.len, 0, &info), 0);
        log_slice_t s;
        assert_int_equal(log_read(f->log, info.first_offset, 1, INT64_MAX, &s), 0);
        batch_rec_t *r = &f->recs[f->nrecs++];
        r->base = info.first_offset;
        r->last = info.last_offset;
        r->pos = s.pos;
        r->size = b.len;
        r->max_ts = info.max_timestamp;
        r->seg_base = -1;
        log_slice_release(&s);
        buf_destroy(&b);
    }
    /* Which segment each batch is in: the largest segment base <= its offset. */
    for (int i = 0; i < f->nrecs; i++) {
        int64_t base = f->recs[i].base;
        while (base >= 0) {
            char *p = seg_path(f, base, ".log");
            struct stat st;
            int ok = stat(p, &st) == 0;
            free(p);
            if (ok) {
                break;
            }
            base--;
        }
        f->recs[i].seg_base = base;
    }
}

/* Every offset below end reads back its batch; end is the log end offset. */
static void check_log(fixture_t *f, int64_t end) {
    assert_int_equal(log_end_offset(f->log), end);
    for (int i = 0; i < f->nrecs && f->recs[i].last < end; i++) {
        for (int64_t o = f->recs[i].base; o <= f->recs[i].last; o++) {
            log_slice_t s;
            assert_int_equal(log_read(f->log, o, 1, INT64_MAX, &s), 0);
            assert_int_equal(s.pos, f->recs[i].pos);
            assert_int_equal(s.len, (int64_t)f->recs[i].size);
            uint8_t *buf = xmalloc(f->recs[i].size);
            assert_int_equal(pread(s.fd, buf, f->recs[i].size, s.pos), (ssize_t)f->recs[i].size);
            rb_header_t h;
            assert_int_equal(rb_parse(buf, f->recs[i].size, &h), (long)f->recs[i].size);
            assert_int_equal(h.base_offset, f->recs[i].base);
            free(buf);
            log_slice_release(&s);
        }
    }
}

/* The first batch (in offset order) whose max timestamp is >= ts. */
static int64_t offset_for_time(fixture_t *f, int64_t ts) {
    for (int i = 0; i < f->nrecs; i++) {
        int64_t n = f->recs[i].last - f->recs[i].base + 1;
        for (int64_t j = 0; j < n; j++) {
            if (f->recs[i].max_ts - (n - 1) + j >= ts) {
                return f->recs[i].base + j;
            }
        }
    }
    return -1;
}

static void read_file(const char *path, buf_t *out) {
    buf_reset(out);
    assert_int_equal(fs_read_file(path, out), 0);
}

static void write_file(const char *path, const buf_t *b) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(fs_write_all(fd, b->data, b->len), 0);
    close(fd);
}

static void test_recovery_tail_cut_at_every_byte(void **state) {
    fixture_t *f = *state;
    assert_int_equal(open_log(f, 0, false), 0);
    fill(f, 40);
    batch_rec_t *last = &f->recs[f->nrecs - 1];
    log_close(f->log);
    f->log = NULL;
    char *path = seg_path(f, last->seg_base, ".log");
    buf_t orig = BUF_INIT;
    read_file(path, &orig);
    assert_int_equal((int64_t)orig.len, last->pos + (int64_t)last->size);
    for (size_t cut = 0; cut <= last->size; cut++) {
        write_file(path, &orig);
        assert_int_equal(fault_fs_cut_file(path, (off_t)(last->pos + (int64_t)cut)), 0);
        /* The recovery point is the last batch: only the tail is CRC-checked. */
        assert_int_equal(open_log(f, last->base, false), 0);
        int64_t want = cut == last->size ? last->last + 1 : last->base;
        check_log(f, want);
        assert_true(log_recovery_point(f->log) <= want);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_size, cut == last->size ? (off_t)orig.len : (off_t)last->pos);
        /* The log takes appends at the right offset after the cut. */
        buf_t b = BUF_INIT;
        bb_simple(&b, 2, 10, 5);
        log_append_info_t info;
        assert_int_equal(log_append(f->log, b.data, b.len, 0, &info), 0);
        assert_int_equal(info.first_offset, want);
        buf_destroy(&b);
        log_close(f->log);
        f->log = NULL;
    }
    buf_destroy(&orig);
    free(path);
}

static void test_recovery_flipped_byte_mid_segment(void **state) {
    fixture_t *f = *state;
    assert_int_equal(open_log(f, 0, false), 0);
    fill(f, 80);
    int segs = log_segment_count(f->log);
    assert_true(segs >= 5);
    /* A batch in the middle of a middle segment. */
    int victim = -1;
    for (int i = 0; i < f->nrecs; i++) {
        if (f->recs[i].seg_base > 0 && f->recs[i].pos > 0 &&
            f->recs[i].seg_base != f->recs[f->nrecs - 1].seg_base) {
            victim = i;
            break;
        }
    }
    assert_true(victim > 0);
    batch_rec_t *v = &f->recs[victim];
    log_close(f->log);
    f->log = NULL;
    char *path = seg_path(f, v->seg_base, ".log");
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t c;
    off_t at = (off_t)(v->pos + (int64_t)v->size / 2 + 10);
    assert_int_equal(pread(fd, &c, 1, at), 1);
    c ^= 0x01;
    assert_int_equal(pwrite(fd, &c, 1, at), 1);
    close(fd);
    /* Recovery point below the damaged segment: it is scanned and cut there. */
    assert_int_equal(open_log(f, v->seg_base, false), 0);
    check_log(f, v->base);
    int want_segs = 0;
    for (int i = 0; i < f->nrecs; i++) {
        want_segs += (i == 0 || f->recs[i].seg_base != f->recs[i - 1].seg_base) &&
                     f->recs[i].seg_base <= v->seg_base;
    }
    assert_int_equal(log_segment_count(f->log), want_segs);
    char *later = seg_path(f, f->recs[f->nrecs - 1].seg_base, ".log");
    struct stat st;
    assert_int_not_equal(stat(later, &st), 0); /* later segments were removed */
    free(later);
    /* Nothing corrupt is served: reading at the cut is the end of the log. */
    log_slice_t s;
    assert_int_equal(log_read(f->log, v->base, 1 << 20, INT64_MAX, &s), 0);
    assert_int_equal(s.len, 0);
    assert_int_equal(log_read(f->log, v->base + 1, 1 << 20, INT64_MAX, &s), STRATA_EOFFSET_RANGE);
    free(path);
}

static void test_recovery_rebuilds_deleted_or_garbage_index(void **state) {
    fixture_t *f = *state;
    assert_int_equal(open_log(f, 0, false), 0);
    fill(f, 80);
    int64_t leo = log_end_offset(f->log);
    assert_int_equal(log_flush_sync(f->log), 0);
    assert_int_equal(log_recovery_point(f->log), leo);
    log_close(f->log);
    f->log = NULL;
    int64_t seg = f->recs[f->nrecs / 3].seg_base;
    char *ip = seg_path(f, seg, ".index");
    char *tp = seg_path(f, seg, ".timeindex");
    buf_t oidx = BUF_INIT, tidx = BUF_INIT;
    read_file(ip, &oidx);
    read_file(tp, &tidx);
    assert_true(oidx.len > 0);
    assert_true(tidx.len > 0);

    /* 1. Deleted index: rebuilt identical, even on a clean start. */
    assert_int_equal(unlink(ip), 0);
    assert_int_equal(open_log(f, leo, true), 0);
    check_log(f, leo);
    log_close(f->log);
    f->log = NULL;
    buf_t got = BUF_INIT;
    read_file(ip, &got);
    assert_int_equal(got.len, oidx.len);
    assert_memory_equal(got.data, oidx.data, oidx.len);

    /* 2. Garbage offset index. */
    buf_t junk = BUF_INIT;
    uint8_t *j = buf_extend(&junk, oidx.len);
    for (size_t i = 0; i < oidx.len; i++) {
        j[i] = (uint8_t)(i * 37 + 11);
    }
    write_file(ip, &junk);
    assert_int_equal(open_log(f, leo, true), 0);
    check_log(f, leo);
    log_close(f->log);
    f->log = NULL;
    read_file(ip, &got);
    assert_memory_equal(got.data, oidx.data, oidx.len);

    /* 3. Deleted and garbage time index: time lookups stay right. */
    assert_int_equal(unlink(tp), 0);
    assert_int_equal(open_log(f, leo, true), 0);
    int64_t off, ts;
    assert_int_equal(log_offset_for_time(f->log, 1000 + f->nrecs / 3, &off, &ts), 0);
    assert_int_equal(off, offset_for_time(f, 1000 + f->nrecs / 3));
    log_close(f->log);
    f->log = NULL;
    read_file(tp, &got);
    assert_int_equal(got.len, tidx.len);
    assert_memory_equal(got.data, tidx.data, tidx.len);
    buf_reset(&junk);
    j = buf_extend(&junk, tidx.len + 5);
    memset(j, 0xff, tidx.len + 5);
    write_file(tp, &junk);
    assert_int_equal(open_log(f, leo, true), 0);
    check_log(f, leo);
    assert_int_equal(log_offset_for_time(f->log, 1000 + f->nrecs / 3, &off, &ts), 0);
    assert_int_equal(off, offset_for_time(f, 1000 + f->nrecs / 3));

    /* 3b. Garbage in the active segment's offset index after an unclean stop: the
     * recovery walk must not trust it. */
    log_close(f->log);
    f->log = NULL;
    {
        char *aip = seg_path(f, f->recs[f->nrecs - 1].seg_base, ".index");
        buf_t g = BUF_INIT;
        uint8_t *gp = buf_extend(&g, 1024);
        for (size_t i = 0; i < 1024; i++) {
            gp[i] = (uint8_t)(i & 0xff);
        }
        write_file(aip, &g);
        assert_int_equal(open_log(f, leo, false), 0);
        check_log(f, leo);
        log_close(f->log);
        write_file(aip, &g);
        assert_int_equal(open_log(f, f->recs[f->nrecs - 1].base, false), 0);
        check_log(f, leo);
        buf_destroy(&g);
        free(aip);
    }

    /* 4. The active segment's indexes too. */
    log_close(f->log);
    f->log = NULL;
    int64_t active = f->recs[f->nrecs - 1].seg_base;
    char *aip = seg_path(f, active, ".index");
    char *atp = seg_path(f, active, ".timeindex");
    assert_int_equal(unlink(aip), 0);
    write_file(atp, &junk);
    assert_int_equal(open_log(f, leo, true), 0);
    check_log(f, leo);
    free(aip);
    free(atp);
    buf_destroy(&junk);
    buf_destroy(&got);
    buf_destroy(&oidx);
    buf_destroy(&tidx);
    free(ip);
    free(tp);
}

static void test_recovery_crash_after_creating_segment(void **state) {
    fixture_t *f = *state;
    assert_int_equal(open_log(f, 0, false), 0);
    fill(f, 10);
    int64_t leo = log_end_offset(f->log);
    /* Roll created the files; the crash came before any write to them. */
    assert_int_equal(log_roll(f->log), 0);
    int segs = log_segment_count(f->log);
    log_close(f->log);
    f->log = NULL;
    assert_int_equal(open_log(f, 0, false), 0);
    assert_int_equal(log_segment_count(f->log), segs);
    check_log(f, leo);
    log_close(f->log);
    f->log = NULL;
    /* Only the .log made it to disk, no indexes. */
    char *ip = seg_path(f, leo, ".index");
    char *tp = seg_path(f, leo, ".timeindex");
    assert_int_equal(unlink(ip), 0);
    assert_int_equal(unlink(tp), 0);
    assert_int_equal(open_log(f, leo, false), 0);
    check_log(f, leo);
    buf_t b = BUF_INIT;
    bb_simple(&b, 1, 10, 1);
    log_append_info_t info;
    assert_int_equal(log_append(f->log, b.data, b.len, 0, &info), 0);
    assert_int_equal(info.first_offset, leo);
    buf_destroy(&b);
    free(ip);
    free(tp);
}

static void test_recovery_removes_leftovers(void **state) {
    fixture_t *f = *state;
    assert_int_equal(open_log(f, 0, false), 0);
    fill(f, 5);
    log_close(f->log);
    f->log = NULL;
    char *del = xasprintf("%s/t-0/00000000000000000100.log.deleted", f->dir);
    char *orphan = xasprintf("%s/t-0/00000000000000000200.index", f->dir);
    buf_t b = BUF_INIT;
    buf_append(&b, "junk", 4);
    write_file(del, &b);
    write_file(orphan, &b);
    assert_int_equal(open_log(f, 0, false), 0);
    struct stat st;
    assert_int_not_equal(stat(del, &st), 0);
    assert_int_not_equal(stat(orphan, &st), 0);
    check_log(f, f->recs[4].last + 1);
    buf_destroy(&b);
    free(del);
    free(orphan);
}

static void test_recovery_garbage_after_last_batch(void **state) {
    fixture_t *f = *state;
    assert_int_equal(open_log(f, 0, false), 0);
    fill(f, 6);
    int64_t leo = log_end_offset(f->log);
    log_close(f->log);
    f->log = NULL;
    char *path = seg_path(f, 0, ".log");
    int fd = open(path, O_WRONLY | O_APPEND);
    uint8_t zeros[300] = {0};
    assert_int_equal(write(fd, zeros, sizeof(zeros)), (ssize_t)sizeof(zeros));
    close(fd);
    assert_int_equal(open_log(f, 0, false), 0);
    check_log(f, leo);
    assert_int_equal(log_size_bytes(f->log), f->recs[5].pos + (int64_t)f->recs[5].size);
    free(path);
}

static void test_clean_open_trusts_flushed_data(void **state) {
    fixture_t *f = *state;
    assert_int_equal(open_log(f, 0, false), 0);
    fill(f, 60);
    int64_t leo = log_end_offset(f->log);
    assert_int_equal(log_flush_sync(f->log), 0);
    log_close(f->log);
    f->log = NULL;
    /* A clean start does not read the data: opening is index checks only. */
    assert_int_equal(open_log(f, leo, true), 0);
    assert_int_equal(log_recovery_point(f->log), leo);
    check_log(f, leo);
    /* Appends continue at the end with working time lookups. */
    buf_t b = BUF_INIT;
    bb_simple(&b, 1, 10, 99999);
    log_append_info_t info;
    assert_int_equal(log_append(f->log, b.data, b.len, 0, &info), 0);
    assert_int_equal(info.first_offset, leo);
    int64_t off, ts;
    assert_int_equal(log_offset_for_time(f->log, 99999, &off, &ts), 0);
    assert_int_equal(off, leo);
    buf_destroy(&b);
}

/* Every batch the log serves after recovery is whole and CRC-valid, offsets are
 * contiguous, and nothing below the recovery point is lost. */
static void check_served_is_valid(fixture_t *f, int64_t must_keep) {
    int64_t next = log_start_offset(f->log);
    assert_true(log_end_offset(f->log) >= must_keep);
    while (next < log_end_offset(f->log)) {
        log_slice_t s;
        assert_int_equal(log_read(f->log, next, 4096, INT64_MAX, &s), 0);
        assert_true(s.len > 0);
        uint8_t *buf = xmalloc((size_t)s.len);
        assert_int_equal(pread(s.fd, buf, (size_t)s.len, s.pos), (ssize_t)s.len);
        size_t p = 0;
        while (p < (size_t)s.len) {
            rb_header_t h;
            long n = rb_parse(buf + p, (size_t)s.len - p, &h);
            assert_true(n > 0);
            assert_true(h.base_offset <= next);
            assert_int_equal(h.base_offset + h.last_offset_delta + 1 > next, 1);
            next = h.base_offset + h.last_offset_delta + 1;
            p += (size_t)n;
        }
        free(buf);
        log_slice_release(&s);
    }
    assert_int_equal(next, log_end_offset(f->log));
}

static void test_recovery_random_damage_never_serves_corrupt_data(void **state) {
    fixture_t *f = *state;
    assert_int_equal(open_log(f, 0, false), 0);
    fill(f, 60);
    int64_t leo = log_end_offset(f->log);
    log_close(f->log);
    f->log = NULL;
    /* Keep pristine copies of every segment file to restore between rounds. */
    int64_t bases[64];
    buf_t copies[64];
    int nseg = 0;
    for (int i = 0; i < f->nrecs; i++) {
        if (i == 0 || f->recs[i].seg_base != f->recs[i - 1].seg_base) {
            bases[nseg] = f->recs[i].seg_base;
            buf_init(&copies[nseg]);
            char *p = seg_path(f, bases[nseg], ".log");
            read_file(p, &copies[nseg]);
            free(p);
            nseg++;
        }
    }
    uint32_t x = 2026;
    for (int round = 0; round < 200; round++) {
        for (int k = 0; k < nseg; k++) {
            char *p = seg_path(f, bases[k], ".log");
            write_file(p, &copies[k]);
            free(p);
        }
        /* Damage 1 to 3 random bytes somewhere past a random recovery point. */
        x = x * 1103515245u + 12345u;
        /* A recovery point is always a batch boundary (the log end at a flush). */
        int r0 = (int)((x >> 8) % (uint32_t)(f->nrecs + 1));
        int64_t rp = r0 == f->nrecs ? leo : f->recs[r0].base;
        int hits = 1 + (int)((x >> 4) % 3);
        for (int h = 0; h < hits; h++) {
            x = x * 1103515245u + 12345u;
            int r = (int)((x >> 8) % (uint32_t)f->nrecs);
            if (f->recs[r].last < rp) {
                continue; /* flushed data is trusted, as on a real disk */
            }
            char *p = seg_path(f, f->recs[r].seg_base, ".log");
            int fd = open(p, O_RDWR);
            assert_true(fd >= 0);
            off_t at = (off_t)(f->recs[r].pos + (int64_t)((x >> 12) % f->recs[r].size));
            uint8_t c;
            if (pread(fd, &c, 1, at) == 1) {
                c ^= (uint8_t)(1u << ((x >> 20) % 8));
                assert_int_equal(pwrite(fd, &c, 1, at), 1);
            }
            close(fd);
            free(p);
        }
        assert_int_equal(open_log(f, rp, false), 0);
        check_served_is_valid(f, rp);
        log_close(f->log);
        f->log = NULL;
    }
    for (int k = 0; k < nseg; k++) {
        buf_destroy(&copies[k]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_recovery_tail_cut_at_every_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_flipped_byte_mid_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_rebuilds_deleted_or_garbage_index, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_recovery_crash_after_creating_segment, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_recovery_removes_leftovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_garbage_after_last_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_open_trusts_flushed_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_random_damage_never_serves_corrupt_data,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
