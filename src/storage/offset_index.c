/*
 * offset_index: the sparse offset index of a segment, Kafka's format: entries of
 * (offset - base offset) u32 BE and file position u32 BE. An entry names the last
 * offset of a batch and where that batch starts; one is added every
 * log.index.interval.bytes of log.
 */
#include "storage/storage_int.h"

static inline const uint8_t *entry_at(const oidx_t *ix, uint32_t i) {
    return ix->map + (size_t)i * OIDX_ENTRY_SIZE;
}

bool oidx_full(const oidx_t *ix) {
    return ix->entries >= ix->max_entries;
}

void oidx_entry(const oidx_t *ix, uint32_t i, int64_t *offset, int64_t *pos) {
    const uint8_t *e = entry_at(ix, i);
    *offset = ix->base_offset + be32_get(e);
    *pos = be32_get(e + 4);
}

void oidx_append(oidx_t *ix, int64_t offset, int64_t pos) {
    if (ix->entries >= ix->max_entries) {
        return;
    }
    uint8_t *e = ix->map + (size_t)ix->entries * OIDX_ENTRY_SIZE;
    be32_put(e, (uint32_t)(offset - ix->base_offset));
    be32_put(e + 4, (uint32_t)pos);
    ix->entries++;
}

int64_t oidx_lookup(const oidx_t *ix, int64_t target, int64_t *entry_offset) {
    uint32_t lo = 0, hi = ix->entries; /* first entry with offset > target */
    int64_t rel = target - ix->base_offset;
    if (rel < 0 || ix->entries == 0) {
        if (entry_offset) {
            *entry_offset = -1;
        }
        return 0;
    }
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if ((int64_t)be32_get(entry_at(ix, mid)) <= rel) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == 0) {
        if (entry_offset) {
            *entry_offset = -1;
        }
        return 0;
    }
    int64_t off, pos;
    oidx_entry(ix, lo - 1, &off, &pos);
    if (entry_offset) {
        *entry_offset = off;
    }
    return pos;
}

int64_t oidx_floor_pos(const oidx_t *ix, int64_t pos) {
    uint32_t lo = 0, hi = ix->entries;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if ((int64_t)be32_get(entry_at(ix, mid) + 4) <= pos) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo == 0 ? 0 : (int64_t)be32_get(entry_at(ix, lo - 1) + 4);
}

uint32_t oidx_valid_prefix(const oidx_t *ix, uint32_t slots, int64_t seg_size) {
    int64_t prev_rel = -1, prev_pos = 0;
    for (uint32_t i = 0; i < slots; i++) {
        const uint8_t *e = entry_at(ix, i);
        int64_t rel = be32_get(e), pos = be32_get(e + 4);
        /* Positions start above 0: the first batch never gets an entry. */
        if (rel <= prev_rel || pos <= prev_pos || pos >= seg_size || rel > INT32_MAX) {
            return i;
        }
        prev_rel = rel;
        prev_pos = pos;
    }
    return slots;
}

void oidx_truncate_to(oidx_t *ix, int64_t offset) {
    uint32_t n = ix->entries;
    while (n > 0) {
        int64_t off, pos;
        oidx_entry(ix, n - 1, &off, &pos);
        if (off < offset) {
            break;
        }
        n--;
    }
    idx_truncate_entries(ix, n);
}
