/* Tests for checkpoint.c: Kafka's checkpoint text format round trip, strict parsing
 * of malformed files, and a crash mid-write (failed write, fsync or rename, or a torn
 * temp file left behind) leaving the previous checkpoint intact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault_fs.h"
#include "strata/storage.h"
#include "tmpdir.h"

static void write_raw(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void test_ckpt_round_trip_kafka_format(void **state) {
    (void)state;
    char *dir = tmpdir_new();
    char *path = xasprintf("%s/recovery-point-offset-checkpoint", dir);
    ckpt_entry_t in[3] = {
        {"orders", 0, 42}, {"my-topic.v2_x", 17, 9000000000LL}, {"__consumer_offsets", 3, 0}};
    assert_int_equal(ckpt_write(path, in, 3), 0);
    buf_t b = BUF_INIT;
    assert_int_equal(fs_read_file(path, &b), 0);
    const char *want = "0\n3\norders 0 42\nmy-topic.v2_x 17 9000000000\n__consumer_offsets 3 0\n";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    ckpt_entry_t *out;
    size_t n;
    assert_int_equal(ckpt_read(path, &out, &n), 0);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(out[i].topic, in[i].topic);
        assert_int_equal(out[i].partition, in[i].partition);
        assert_int_equal(out[i].offset, in[i].offset);
    }
    ckpt_free(out, n);
    /* Empty and missing files. */
    assert_int_equal(ckpt_write(path, NULL, 0), 0);
    assert_int_equal(ckpt_read(path, &out, &n), 0);
    assert_int_equal(n, 0);
    ckpt_free(out, n);
    unlink(path);
    assert_int_equal(ckpt_read(path, &out, &n), 0);
    assert_int_equal(n, 0);
    assert_null(out);
    buf_destroy(&b);
    free(path);
    tmpdir_remove(dir);
}

static void test_ckpt_read_rejects_malformed(void **state) {
    (void)state;
    char *dir = tmpdir_new();
    char *path = xasprintf("%s/ckpt", dir);
    const char *bad[] = {
        "",                                 /* empty */
        "1\n0\n",                           /* unknown version */
        "0\n2\na 0 1\n",                    /* fewer entries than the count */
        "0\n1\na 0 1\nb 0 2\n",             /* more */
        "0\n1\na 0 1",                      /* torn: no final newline */
        "0\n1\na x 1\n",                    /* partition not a number */
        "0\n1\na 0 1z\n",                   /* offset not a number */
        "0\n1\na -1 1\n",                   /* negative partition */
        "0\n1\n 0 1\n",                     /* no topic */
        "0\n-1\n",                          /* negative count */
        "0\nabc\n",                         /* count not a number */
        "0\n1\na 0 99999999999999999999\n", /* overflow */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_raw(path, bad[i]);
        ckpt_entry_t *out = (ckpt_entry_t *)1;
        size_t n = 7;
        assert_int_equal(ckpt_read(path, &out, &n), STRATA_ECORRUPT);
        assert_null(out);
        assert_int_equal(n, 0);
    }
    free(path);
    tmpdir_remove(dir);
}

/* The checkpoint still holds the old entry (offset 1) after a failed replace. */
static void assert_old_content(const char *path) {
    ckpt_entry_t *out;
    size_t n;
    assert_int_equal(ckpt_read(path, &out, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].topic, "t");
    assert_int_equal(out[0].offset, 1);
    ckpt_free(out, n);
}

static void test_ckpt_survives_crash_mid_write(void **state) {
    (void)state;
    char *dir = tmpdir_new();
    char *path = xasprintf("%s/log-start-offset-checkpoint", dir);
    ckpt_entry_t old = {"t", 0, 1};
    ckpt_entry_t big[200];
    for (int i = 0; i < 200; i++) {
        big[i] = (ckpt_entry_t){"t", i, 1000 + i};
    }
    assert_int_equal(ckpt_write(path, &old, 1), 0);

    fault_fs_fail_write(1, EIO);
    assert_int_not_equal(ckpt_write(path, big, 200), 0);
    fault_fs_reset();
    assert_old_content(path);

    fault_fs_fail_fsync(1, EIO);
    assert_int_not_equal(ckpt_write(path, big, 200), 0);
    fault_fs_reset();
    assert_old_content(path);

    fault_fs_fail_rename(1, EIO);
    assert_int_not_equal(ckpt_write(path, big, 200), 0);
    fault_fs_reset();
    assert_old_content(path);

    /* A crash left a torn temp file: the real file is untouched and the next write
     * replaces both. */
    char *tmp = xasprintf("%s.tmp", path);
    write_raw(tmp, "0\n200\nt 0 10");
    assert_old_content(path);
    assert_int_equal(ckpt_write(path, big, 200), 0);
    ckpt_entry_t *out;
    size_t n;
    assert_int_equal(ckpt_read(path, &out, &n), 0);
    assert_int_equal(n, 200);
    assert_int_equal(out[199].offset, 1199);
    ckpt_free(out, n);
    free(tmp);
    free(path);
    tmpdir_remove(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ckpt_round_trip_kafka_format),
        cmocka_unit_test(test_ckpt_read_rejects_malformed),
        cmocka_unit_test(test_ckpt_survives_crash_mid_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
