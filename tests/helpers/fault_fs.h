/*
 * fault_fs: a fault-injecting fs_ops table for tests (SQLite test6.c). Arming a
 * fault installs the table; counts start at the arming call and are 1-based:
 * fault_fs_fail_fsync(2, EIO) makes the second fsync/fdatasync from now fail.
 * Thread-safe (the counters are atomic), so faults also reach worker threads.
 */
#ifndef STRATA_TEST_FAULT_FS_H
#define STRATA_TEST_FAULT_FS_H

#include <sys/types.h>

/** The nth fsync or fdatasync fails with err (e.g. EIO). */
void fault_fs_fail_fsync(int nth, int err);
/** The nth write or pwrite fails with err (e.g. ENOSPC). */
void fault_fs_fail_write(int nth, int err);
/** The nth write or pwrite writes only half of its bytes (at least 1 when n > 1). */
void fault_fs_short_write(int nth);
/** The nth rename fails with err. */
void fault_fs_fail_rename(int nth, int err);
/** The nth ftruncate fails with err. */
void fault_fs_fail_truncate(int nth, int err);
/** Calls seen since the table was installed (by fault_fs_reset or the first arm). */
int fault_fs_fsync_count(void);
int fault_fs_write_count(void);
/** Truncates path to size bytes, simulating a torn write at a crash. @returns 0 or -errno. */
int fault_fs_cut_file(const char *path, off_t size);
/** Disarms every fault, zeroes the counters and restores the real fs_ops. */
void fault_fs_reset(void);

#endif
