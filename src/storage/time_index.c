/*
 * time_index: the time index of a segment, Kafka's format: entries of timestamp
 * i64 BE and (offset - base offset) u32 BE. An entry says "the largest batch
 * max_timestamp up to offset O is T"; entries are added with the offset index
 * entries, only when the timestamp grew, so timestamps strictly increase.
 */
#include "storage/storage_int.h"

static inline const uint8_t *entry_at(const tidx_t *ix, uint32_t i) {
    return ix->map + (size_t)i * TIDX_ENTRY_SIZE;
}

bool tidx_full(const tidx_t *ix) {
    return ix->entries >= ix->max_entries;
}

void tidx_entry(const tidx_t *ix, uint32_t i, int64_t *ts, int64_t *offset) {
    const uint8_t *e = entry_at(ix, i);
    *ts = (int64_t)be64_get(e);
    *offset = ix->base_offset + be32_get(e + 8);
}

int64_t tidx_last_ts(const tidx_t *ix) {
    if (ix->entries == 0) {
        return -1;
    }
    return (int64_t)be64_get(entry_at(ix, ix->entries - 1));
}

void tidx_maybe_append(tidx_t *ix, int64_t ts, int64_t offset) {
    if (ix->entries >= ix->max_entries || ts < 0) {
        return;
    }
    if (ix->entries > 0) {
        int64_t last_ts, last_off;
        tidx_entry(ix, ix->entries - 1, &last_ts, &last_off);
        if (ts <= last_ts || offset < last_off) {
            return;
        }
    }
    uint8_t *e = ix->map + (size_t)ix->entries * TIDX_ENTRY_SIZE;
    be64_put(e, (uint64_t)ts);
    be32_put(e + 8, (uint32_t)(offset - ix->base_offset));
    ix->entries++;
}

int64_t tidx_lookup_before(const tidx_t *ix, int64_t ts) {
    uint32_t lo = 0, hi = ix->entries; /* first entry with timestamp >= ts */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if ((int64_t)be64_get(entry_at(ix, mid)) < ts) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == 0) {
        return -1;
    }
    int64_t t, off;
    tidx_entry(ix, lo - 1, &t, &off);
    return off;
}

uint32_t tidx_valid_prefix(const tidx_t *ix, uint32_t slots, int64_t next_offset) {
    int64_t prev_ts = -1, prev_rel = -1;
    for (uint32_t i = 0; i < slots; i++) {
        const uint8_t *e = entry_at(ix, i);
        int64_t ts = (int64_t)be64_get(e), rel = be32_get(e + 8);
        /* An all-zero entry is preallocated space, not a timestamp of 0. */
        if (ts <= prev_ts || rel < prev_rel || ix->base_offset + rel >= next_offset ||
            (ts == 0 && rel == 0)) {
            return i;
        }
        prev_ts = ts;
        prev_rel = rel;
    }
    return slots;
}

void tidx_truncate_to(tidx_t *ix, int64_t offset) {
    uint32_t n = ix->entries;
    while (n > 0) {
        int64_t ts, off;
        tidx_entry(ix, n - 1, &ts, &off);
        if (off < offset) {
            break;
        }
        n--;
    }
    idx_truncate_entries(ix, n);
}
