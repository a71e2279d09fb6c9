/*
 * fault_fs: fs_ops table that fails or shortens the Nth call of a kind. Each
 * fault fires once. The real table does the work for every call that is not hit.
 */
#include <errno.h>
#include <stdatomic.h>
#include <unistd.h>

#include "fault_fs.h"
#include "strata/util.h"

typedef struct fault {
    _Atomic int count; /* calls of this kind seen since arming */
    _Atomic int nth;   /* 0 = disarmed */
    _Atomic int err;
} fault_t;

static fault_t f_fsync, f_write, f_short, f_rename, f_truncate;
static _Atomic int total_fsync, total_write;

/* @returns true when this call is the armed one (and disarms it). */
static bool hit(fault_t *f) {
    int nth = atomic_load(&f->nth);
    if (nth <= 0) {
        return false;
    }
    int c = atomic_fetch_add(&f->count, 1) + 1;
    if (c == nth) {
        atomic_store(&f->nth, 0);
        return true;
    }
    return false;
}

static ssize_t ff_write_common(int fd, const void *buf, size_t n, off_t off, bool positional) {
    atomic_fetch_add(&total_write, 1);
    bool fail = hit(&f_write);
    bool shorten = hit(&f_short);
    if (fail) {
        errno = atomic_load(&f_write.err);
        return -1;
    }
    if (shorten && n > 1) {
        n /= 2;
    }
    return positional ? fs_real_ops()->pwrite(fd, buf, n, off) : fs_real_ops()->write(fd, buf, n);
}

static ssize_t ff_pwrite(int fd, const void *buf, size_t n, off_t off) {
    return ff_write_common(fd, buf, n, off, true);
}

static ssize_t ff_write(int fd, const void *buf, size_t n) {
    return ff_write_common(fd, buf, n, 0, false);
}

static int ff_fsync(int fd) {
    atomic_fetch_add(&total_fsync, 1);
    if (hit(&f_fsync)) {
        errno = atomic_load(&f_fsync.err);
        return -1;
    }
    return fs_real_ops()->fsync(fd);
}

static int ff_fdatasync(int fd) {
    atomic_fetch_add(&total_fsync, 1);
    if (hit(&f_fsync)) {
        errno = atomic_load(&f_fsync.err);
        return -1;
    }
    return fs_real_ops()->fdatasync(fd);
}

static int ff_ftruncate(int fd, off_t len) {
    if (hit(&f_truncate)) {
        errno = atomic_load(&f_truncate.err);
        return -1;
    }
    return fs_real_ops()->ftruncate(fd, len);
}

static int ff_rename(const char *from, const char *to) {
    if (hit(&f_rename)) {
        errno = atomic_load(&f_rename.err);
        return -1;
    }
    return fs_real_ops()->rename(from, to);
}

static int ff_unlink(const char *path) {
    return fs_real_ops()->unlink(path);
}

static int ff_sync_file_range(int fd, off_t off, off_t len, unsigned int flags) {
    return fs_real_ops()->sync_file_range(fd, off, len, flags);
}

static const fs_ops_t fault_ops = {ff_pwrite,    ff_write,  ff_fsync,  ff_fdatasync,
                                   ff_ftruncate, ff_rename, ff_unlink, ff_sync_file_range};

static void arm(fault_t *f, int nth, int err) {
    atomic_store(&f->count, 0);
    atomic_store(&f->err, err);
    atomic_store(&f->nth, nth);
    if (fs_ops != &fault_ops) {
        atomic_store(&total_fsync, 0);
        atomic_store(&total_write, 0);
        fs_set_ops(&fault_ops);
    }
}

void fault_fs_fail_fsync(int nth, int err) {
    arm(&f_fsync, nth, err);
}

void fault_fs_fail_write(int nth, int err) {
    arm(&f_write, nth, err);
}

void fault_fs_short_write(int nth) {
    arm(&f_short, nth, 0);
}

void fault_fs_fail_rename(int nth, int err) {
    arm(&f_rename, nth, err);
}

void fault_fs_fail_truncate(int nth, int err) {
    arm(&f_truncate, nth, err);
}

int fault_fs_fsync_count(void) {
    return atomic_load(&total_fsync);
}

int fault_fs_write_count(void) {
    return atomic_load(&total_write);
}

int fault_fs_cut_file(const char *path, off_t size) {
    return truncate(path, size) == 0 ? 0 : -errno;
}

void fault_fs_reset(void) {
    fault_t *all[] = {&f_fsync, &f_write, &f_short, &f_rename, &f_truncate};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        atomic_store(&all[i]->nth, 0);
        atomic_store(&all[i]->count, 0);
        atomic_store(&all[i]->err, 0);
    }
    atomic_store(&total_fsync, 0);
    atomic_store(&total_write, 0);
    fs_set_ops(NULL);
}
