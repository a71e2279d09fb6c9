/* Tests for util/fs.c: atomic replace, write helpers, mkdirs/remove_tree and the
 * fault seam (through tests/helpers/fault_fs.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "fault_fs.h"
#include "strata/util.h"
#include "tmpdir.h"

static int setup(void **state) {
    *state = tmpdir_new();
    return 0;
}

static int teardown(void **state) {
    fault_fs_reset();
    tmpdir_remove(*state);
    return 0;
}

static void assert_file_is(const char *path, const char *text) {
    buf_t b = BUF_INIT;
    assert_int_equal(fs_read_file(path, &b), 0);
    assert_int_equal(b.len, strlen(text));
    if (b.len > 0) {
        assert_memory_equal(b.data, text, b.len);
    }
    buf_destroy(&b);
}

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static void test_fs_atomic_replace_creates_and_replaces(void **state) {
    char *path = xasprintf("%s/meta.properties", (char *)*state);
    assert_int_equal(fs_atomic_replace(path, "v1\n", 3), 0);
    assert_file_is(path, "v1\n");
    assert_int_equal(fs_atomic_replace(path, "version 2\n", 10), 0);
    assert_file_is(path, "version 2\n");
    char *tmp = xasprintf("%s.tmp", path);
    assert_false(exists(tmp));
    free(tmp);
    free(path);
}

static void test_fs_atomic_replace_fsync_fails_keeps_old(void **state) {
    char *path = xasprintf("%s/ckpt", (char *)*state);
    assert_int_equal(fs_atomic_replace(path, "old", 3), 0);
    fault_fs_fail_fsync(1, EIO);
    assert_int_equal(fs_atomic_replace(path, "new", 3), -EIO);
    assert_file_is(path, "old");
    char *tmp = xasprintf("%s.tmp", path);
    assert_false(exists(tmp));
    free(tmp);
    free(path);
}

static void test_fs_atomic_replace_dir_fsync_fails(void **state) {
    char *path = xasprintf("%s/ckpt", (char *)*state);
    /* The second fsync is the directory's: the rename happened but is not durable. */
    fault_fs_fail_fsync(2, EIO);
    assert_int_equal(fs_atomic_replace(path, "new", 3), -EIO);
    assert_int_equal(fault_fs_fsync_count(), 2);
    free(path);
}

static void test_fs_atomic_replace_write_and_rename_fail(void **state) {
    char *path = xasprintf("%s/ckpt", (char *)*state);
    assert_int_equal(fs_atomic_replace(path, "old", 3), 0);
    fault_fs_fail_write(1, ENOSPC);
    assert_int_equal(fs_atomic_replace(path, "new", 3), -ENOSPC);
    assert_file_is(path, "old");
    fault_fs_fail_rename(1, EXDEV);
    assert_int_equal(fs_atomic_replace(path, "new", 3), -EXDEV);
    assert_file_is(path, "old");
    char *tmp = xasprintf("%s.tmp", path);
    assert_false(exists(tmp));
    free(tmp);
    free(path);
}

static void test_fs_write_all_retries_short_writes(void **state) {
    char *path = xasprintf("%s/f", (char *)*state);
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    assert_true(fd >= 0);
    fault_fs_short_write(1);
    assert_int_equal(fs_write_all(fd, "0123456789", 10), 0);
    assert_int_equal(fault_fs_write_count(), 2); /* 5 bytes, then the other 5 */
    fault_fs_short_write(1);
    assert_int_equal(fs_pwrite_all(fd, "abcd", 4, 2), 0);
    close(fd);
    assert_file_is(path, "01abcd6789");
    free(path);
}

static void test_fs_fault_nth_counts_from_arming(void **state) {
    char *path = xasprintf("%s/f", (char *)*state);
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    assert_true(fd >= 0);
    fault_fs_fail_fsync(3, EIO);
    assert_int_equal(fs_fsync(fd), 0);
    assert_int_equal(fs_fdatasync(fd), 0);
    assert_int_equal(fs_fdatasync(fd), -EIO);
    assert_int_equal(fs_fsync(fd), 0); /* fires once */
    fault_fs_fail_write(2, EIO);
    assert_int_equal(fs_write_all(fd, "a", 1), 0);
    assert_int_equal(fs_pwrite_all(fd, "b", 1, 5), -EIO);
    fault_fs_fail_truncate(1, EROFS);
    assert_int_equal(fs_truncate(fd, 0), -EROFS);
    fault_fs_reset();
    assert_ptr_equal(fs_ops, fs_real_ops());
    assert_int_equal(fs_truncate(fd, 0), 0);
    close(fd);
    free(path);
}

static void test_fs_cut_file(void **state) {
    char *path = xasprintf("%s/seg.log", (char *)*state);
    assert_int_equal(fs_atomic_replace(path, "0123456789", 10), 0);
    assert_int_equal(fault_fs_cut_file(path, 4), 0);
    assert_file_is(path, "0123");
    free(path);
}

static void test_fs_mkdirs_and_remove_tree(void **state) {
    char *deep = xasprintf("%s/a/b/c/", (char *)*state);
    assert_int_equal(fs_mkdirs(deep, 0755), 0);
    assert_int_equal(fs_mkdirs(deep, 0755), 0);
    char *file = xasprintf("%s/a/b/c/x", (char *)*state);
    assert_int_equal(fs_atomic_replace(file, "x", 1), 0);
    assert_int_equal(fs_mkdirs(file, 0755), -ENOTDIR);
    char *top = xasprintf("%s/a", (char *)*state);
    assert_int_equal(fs_remove_tree(top), 0);
    assert_false(exists(top));
    assert_int_equal(fs_remove_tree(top), 0); /* rm -rf of nothing */
    assert_int_equal(fs_fsync_dir(*state), 0);
    assert_int_equal(fs_fsync_dir(top), -ENOENT);
    free(top);
    free(file);
    free(deep);
}

static void test_fs_read_file_missing(void **state) {
    char *path = xasprintf("%s/none", (char *)*state);
    buf_t b = BUF_INIT;
    assert_int_equal(fs_read_file(path, &b), -ENOENT);
    buf_destroy(&b);
    assert_int_equal(fs_unlink(path), -ENOENT);
    free(path);
}

/* Whether this kernel has cachestat(2) (451), asked directly rather than through the code under
 * test, which answers "cached" when it cannot tell. */
static bool kernel_has_cachestat(int fd) {
    uint64_t range[2] = {0, 4096}, stat[5];
    return syscall(451, fd, range, stat, 0) == 0;
}

/* tmpfs keeps its pages in memory whatever posix_fadvise says: nothing can be made cold there. */
static bool on_tmpfs(const char *path) {
    struct statfs fs;
    return statfs(path, &fs) == 0 && fs.f_type == 0x01021994; /* TMPFS_MAGIC */
}

static void test_fs_range_cached_and_read_into_cache(void **state) {
    char *path = xasprintf("%s/cold", (char *)*state);
    size_t n = 1 << 20;
    char *data = xmalloc(n);
    memset(data, 'c', n);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(fs_pwrite_all(fd, data, n, 0), 0);
    assert_true(fs_range_cached(fd, 0, 0)); /* an empty range is always "cached" */
    assert_int_equal(fs_can_tell_cached(fd), kernel_has_cachestat(fd));
    if (!kernel_has_cachestat(fd) || on_tmpfs(path)) {
        assert_true(fs_range_cached(fd, 0, (off_t)n)); /* cannot tell: as before */
    } else {
        assert_true(fs_range_cached(fd, 0, (off_t)n)); /* just written */
        assert_int_equal(fs_fsync(fd), 0);
        assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
        assert_false(fs_range_cached(fd, 0, (off_t)n));
        assert_false(fs_range_cached(fd, 100, 10)); /* part of one page */
        assert_int_equal(fs_read_into_cache(fd, 4096, 8192), 0);
        assert_true(fs_range_cached(fd, 4096, 8192));
        assert_true(fs_range_cached(fd, 5000, 100));
        assert_false(fs_range_cached(fd, 0, (off_t)n)); /* the rest is still cold */
        assert_int_equal(fs_read_into_cache(fd, 0, (off_t)n), 0);
        assert_true(fs_range_cached(fd, 0, (off_t)n));
    }
    /* Reading past the end stops at the end without an error (sendfile reports it). */
    assert_int_equal(fs_read_into_cache(fd, (off_t)n - 10, 100), 0);
    close(fd);
    free(data);
    free(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fs_atomic_replace_creates_and_replaces, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fs_atomic_replace_fsync_fails_keeps_old, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fs_atomic_replace_dir_fsync_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fs_atomic_replace_write_and_rename_fail, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fs_write_all_retries_short_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fs_fault_nth_counts_from_arming, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fs_cut_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fs_mkdirs_and_remove_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fs_read_file_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fs_range_cached_and_read_into_cache, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
