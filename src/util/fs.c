/*
 * fs: file-system helpers for the storage engine and config files, with a fault
 * seam: every write, fsync, truncate, rename, unlink and writeback start goes through fs_ops so
 * tests can fail the Nth call (tests/helpers/fault_fs.c); page-cache residency (cachestat)
 * and reading a range into the page cache for the fetch path. Every function here blocks:
 * never call one on the event loop except the bounded writes STYLE.md allows and
 * fs_range_cached (one syscall that never waits on the disk).
 * @locality any @blocking
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "strata/util.h"

static ssize_t real_pwrite(int fd, const void *buf, size_t n, off_t off) {
    return pwrite(fd, buf, n, off);
}
static ssize_t real_write(int fd, const void *buf, size_t n) {
    return write(fd, buf, n);
}
static int real_fsync(int fd) {
    return fsync(fd);
}
static int real_fdatasync(int fd) {
    return fdatasync(fd);
}
static int real_ftruncate(int fd, off_t len) {
    return ftruncate(fd, len);
}
static int real_rename(const char *from, const char *to) {
    return rename(from, to);
}
static int real_unlink(const char *path) {
    return unlink(path);
}

static int real_sync_file_range(int fd, off_t off, off_t len, unsigned int flags) {
    return sync_file_range(fd, off, len, flags);
}

static const fs_ops_t real_ops = {real_pwrite,    real_write,  real_fsync,  real_fdatasync,
                                  real_ftruncate, real_rename, real_unlink, real_sync_file_range};

const fs_ops_t *fs_ops = &real_ops;

void fs_set_ops(const fs_ops_t *ops) {
    fs_ops = ops ? ops : &real_ops;
}

const fs_ops_t *fs_real_ops(void) {
    return &real_ops;
}

int fs_write_all(int fd, const void *buf, size_t n) {
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = fs_ops->write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (w == 0) {
            return -EIO;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int fs_pwrite_all(int fd, const void *buf, size_t n, off_t off) {
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = fs_ops->pwrite(fd, p, n, off);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (w == 0) {
            return -EIO;
        }
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

int fs_fsync(int fd) {
    return fs_ops->fsync(fd) == 0 ? 0 : -errno;
}

int fs_start_writeback(int fd, off_t off, off_t len) {
    return fs_ops->sync_file_range(fd, off, len, SYNC_FILE_RANGE_WRITE) == 0 ? 0 : -errno;
}

/* cachestat(2) (Linux 6.5): the same number on every architecture; Debian 12's headers
 * predate it, so the call and its structs are spelled out here. */
#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif
struct fs_cachestat_range {
    uint64_t off;
    uint64_t len;
};
struct fs_cachestat {
    uint64_t nr_cache;
    uint64_t nr_dirty;
    uint64_t nr_writeback;
    uint64_t nr_evicted;
    uint64_t nr_recently_evicted;
};

/* Whether cachestat works here: -1 not asked yet, 0 refused (ENOSYS, or EPERM from a
 * seccomp filter), 1 works. */
static atomic_int cachestat_state = -1;

static int cachestat_call(int fd, off_t off, off_t len, struct fs_cachestat *cs) {
    struct fs_cachestat_range range = {(uint64_t)off, (uint64_t)len};
    memset(cs, 0, sizeof(*cs));
    if (syscall(SYS_cachestat, fd, &range, cs, 0) != 0) {
        if (errno == ENOSYS || errno == EPERM) {
            atomic_store_explicit(&cachestat_state, 0, memory_order_relaxed);
        }
        return -1;
    }
    atomic_store_explicit(&cachestat_state, 1, memory_order_relaxed);
    return 0;
}

bool fs_can_tell_cached(int fd) {
    int state = atomic_load_explicit(&cachestat_state, memory_order_relaxed);
    if (state < 0) {
        struct fs_cachestat cs;
        (void)cachestat_call(fd, 0, 1, &cs);
        state = atomic_load_explicit(&cachestat_state, memory_order_relaxed);
    }
    return state == 1;
}

bool fs_range_cached(int fd, off_t off, off_t len) {
    if (len <= 0 || atomic_load_explicit(&cachestat_state, memory_order_relaxed) == 0) {
        return true;
    }
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) {
        page = 4096;
    }
    struct fs_cachestat cs;
    if (cachestat_call(fd, off, len, &cs) != 0) {
        return true;
    }
    uint64_t pages = (uint64_t)((off + len - 1) / page - off / page + 1);
    return cs.nr_cache >= pages;
}

int fs_read_into_cache(int fd, off_t off, off_t len) {
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    if (buf == NULL) {
        return -ENOMEM;
    }
    int rc = 0;
    while (len > 0) {
        ssize_t n = pread(fd, buf, (size_t)len < cap ? (size_t)len : cap, off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            rc = n < 0 ? -errno : 0; /* the file ended early: the sender reports that */
            break;
        }
        off += n;
        len -= n;
    }
    free(buf);
    return rc;
}

int fs_fdatasync(int fd) {
    return fs_ops->fdatasync(fd) == 0 ? 0 : -errno;
}

int fs_truncate(int fd, off_t len) {
    return fs_ops->ftruncate(fd, len) == 0 ? 0 : -errno;
}

int fs_rename(const char *from, const char *to) {
    return fs_ops->rename(from, to) == 0 ? 0 : -errno;
}

int fs_unlink(const char *path) {
    return fs_ops->unlink(path) == 0 ? 0 : -errno;
}

int fs_fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    int rc = fs_fsync(fd);
    close(fd);
    return rc;
}

int fs_atomic_replace(const char *path, const void *data, size_t n) {
    char *tmp = xasprintf("%s.tmp", path);
    char *dir_copy = xstrdup(path);
    int rc;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        goto fail;
    }
    rc = fs_write_all(fd, data, n);
    if (rc == 0) {
        rc = fs_fsync(fd);
    }
    if (close(fd) != 0 && rc == 0) {
        rc = -errno;
    }
    if (rc != 0) {
        unlink(tmp);
        goto fail;
    }
    rc = fs_rename(tmp, path);
    if (rc != 0) {
        unlink(tmp);
        goto fail;
    }
    rc = fs_fsync_dir(dirname(dir_copy));
fail:
    free(tmp);
    free(dir_copy);
    return rc;
}

int fs_read_file(const char *path, buf_t *out) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    int rc = 0;
    for (;;) {
        buf_reserve(out, 64 * 1024);
        ssize_t r = read(fd, out->data + out->len, out->cap - out->len);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            rc = -errno;
            break;
        }
        if (r == 0) {
            break;
        }
        out->len += (size_t)r;
    }
    close(fd);
    return rc;
}

int fs_mkdirs(const char *path, mode_t mode) {
    if (path[0] == '\0') {
        return -ENOENT;
    }
    char *p = xstrdup(path);
    int rc = 0;
    size_t len = strlen(p);
    while (len > 1 && p[len - 1] == '/') {
        p[--len] = '\0';
    }
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') {
            continue;
        }
        char saved = *s;
        *s = '\0';
        if (mkdir(p, mode) != 0 && errno != EEXIST) {
            rc = -errno;
            break;
        }
        *s = saved;
        if (saved == '\0') {
            break;
        }
    }
    if (rc == 0) {
        struct stat st;
        if (stat(p, &st) != 0) {
            rc = -errno;
        } else if (!S_ISDIR(st.st_mode)) {
            rc = -ENOTDIR;
        }
    }
    free(p);
    return rc;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)ftw;
    int r = (flag == FTW_DP) ? rmdir(path) : unlink(path);
    if (r != 0 && errno != ENOENT) {
        return errno; /* positive: nftw stops and returns it */
    }
    return 0;
}

int fs_remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) {
        return errno == ENOENT ? 0 : -errno;
    }
    if (!S_ISDIR(st.st_mode)) {
        return unlink(path) == 0 ? 0 : -errno;
    }
    int r = nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (r > 0) {
        return -r;
    }
    if (r < 0) {
        return -errno;
    }
    return 0;
}
