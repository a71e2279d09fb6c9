/*
 * index: the memory-mapped index file shared by the offset and time indexes. The
 * file of the active segment is preallocated to log.index.size.max.bytes and
 * trimmed to its valid entries when the segment rolls or the log closes cleanly.
 * Entries are written through the map, so an append costs no system call.
 */
#include "storage/storage_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int map_file(idx_file_t *ix, size_t len) {
    ix->map = NULL;
    ix->map_len = len;
    ix->max_entries = (uint32_t)(len / ix->entry_size);
    if (len == 0) {
        return 0;
    }
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, ix->fd, 0);
    if (m == MAP_FAILED) {
        int err = -errno;
        ix->map_len = 0;
        ix->max_entries = 0;
        return err;
    }
    ix->map = m;
    return 0;
}

static void unmap_file(idx_file_t *ix) {
    if (ix->map) {
        munmap(ix->map, ix->map_len);
    }
    ix->map = NULL;
    ix->map_len = 0;
}

int idx_open(idx_file_t *ix, const char *path, size_t entry_size, int64_t base_offset) {
    memset(ix, 0, sizeof(*ix));
    ix->fd = -1;
    ix->entry_size = entry_size;
    ix->base_offset = base_offset;
    ix->path = xstrdup(path);
    ix->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (ix->fd < 0) {
        return -errno;
    }
    struct stat st;
    if (fstat(ix->fd, &st) != 0) {
        return -errno;
    }
    /* A length that is not a multiple of the entry size has a torn last entry. */
    size_t len = (size_t)st.st_size;
    if (len > UINT32_MAX) {
        len = 0; /* absurd: treat as garbage, the caller rebuilds */
    }
    return map_file(ix, len - len % entry_size);
}

uint32_t idx_file_slots(const idx_file_t *ix) {
    return ix->max_entries;
}

int idx_resize(idx_file_t *ix, int64_t max_bytes) {
    size_t want = (size_t)(max_bytes / (int64_t)ix->entry_size) * ix->entry_size;
    size_t need = (size_t)ix->entries * ix->entry_size;
    if (want < need) {
        want = need;
    }
    if (want == ix->map_len) {
        /* The file may still be longer than the map (torn last entry): cut it. */
        return fs_truncate(ix->fd, (off_t)want);
    }
    unmap_file(ix);
    int rc = fs_truncate(ix->fd, (off_t)want);
    if (rc != 0) {
        return rc;
    }
    return map_file(ix, want);
}

int idx_trim(idx_file_t *ix) {
    return idx_resize(ix, (int64_t)ix->entries * (int64_t)ix->entry_size);
}

void idx_truncate_entries(idx_file_t *ix, uint32_t n) {
    if (n >= ix->entries) {
        return;
    }
    /* Zero what is dropped, so a later crash cannot resurrect stale entries. */
    memset(ix->map + (size_t)n * ix->entry_size, 0, (size_t)(ix->entries - n) * ix->entry_size);
    ix->entries = n;
}

void idx_close(idx_file_t *ix) {
    unmap_file(ix);
    if (ix->fd >= 0) {
        close(ix->fd);
    }
    ix->fd = -1;
    free(ix->path);
    ix->path = NULL;
}

/* fsync of the fd is enough: Linux tracks pages dirtied through a MAP_SHARED map and
 * writes them back with the file. No msync, so a worker never touches the map while
 * the loop thread may be remapping it. @locality any (the fd outlives the segment's
 * references). */
int idx_fsync(idx_file_t *ix) {
    return fs_fsync(ix->fd);
}
