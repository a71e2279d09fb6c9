/* Tests for index.c, offset_index.c and time_index.c: lookups at every boundary
 * (before the first entry, on an entry, between entries, after the last), Kafka's
 * big-endian entry layout, capacity, trim and regrow, valid-prefix detection of
 * garbage and zero tails, and truncation zeroing dropped entries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "storage/storage_int.h"
#include "tmpdir.h"

static void test_oidx_lookup_every_boundary(void **state) {
    (void)state;
    char *dir = tmpdir_new();
    char *path = xasprintf("%s/00000000000000001000.index", dir);
    oidx_t ix;
    assert_int_equal(idx_open(&ix, path, OIDX_ENTRY_SIZE, 1000), 0);
    assert_int_equal(idx_resize(&ix, 8 * 100), 0);
    assert_int_equal(ix.max_entries, 100);
    /* Entries every 10 offsets: offset 1000+10k+9 at position 100k+100. */
    for (int k = 0; k < 50; k++) {
        oidx_append(&ix, 1000 + 10 * k + 9, 100 * k + 100);
    }
    /* Kafka's layout: relative offset u32 BE, position u32 BE. */
    assert_int_equal(be32_get(ix.map), 9);
    assert_int_equal(be32_get(ix.map + 4), 100);
    for (int64_t t = 990; t < 1600; t++) {
        int64_t eoff;
        int64_t pos = oidx_lookup(&ix, t, &eoff);
        /* The largest entry with offset <= t, or the segment start. */
        int64_t k = (t - 1000 - 9) / 10;
        if (t < 1009) {
            assert_int_equal(pos, 0);
            assert_int_equal(eoff, -1);
        } else {
            if (k > 49) {
                k = 49;
            }
            assert_int_equal(eoff, 1000 + 10 * k + 9);
            assert_int_equal(pos, 100 * k + 100);
        }
    }
    /* By position. */
    assert_int_equal(oidx_floor_pos(&ix, 99), 0);
    assert_int_equal(oidx_floor_pos(&ix, 100), 100);
    assert_int_equal(oidx_floor_pos(&ix, 250), 200);
    assert_int_equal(oidx_floor_pos(&ix, 1 << 20), 5000);
    /* Truncation drops entries at or past an offset and zeroes them. */
    oidx_truncate_to(&ix, 1029);
    assert_int_equal(ix.entries, 2);
    assert_int_equal(be32_get(ix.map + 2 * 8), 0);
    assert_int_equal(oidx_valid_prefix(&ix, idx_file_slots(&ix), 1 << 20), 2);
    /* Trim to the valid entries, then regrow: the entries survive. */
    assert_int_equal(idx_trim(&ix), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 16);
    assert_true(oidx_full(&ix));
    oidx_append(&ix, 2000, 9999); /* full: dropped, the index is sparse */
    assert_int_equal(ix.entries, 2);
    assert_int_equal(idx_resize(&ix, 4096), 0);
    int64_t eoff;
    assert_int_equal(oidx_lookup(&ix, 1019, &eoff), 200);
    idx_close(&ix);
    free(path);
    tmpdir_remove(dir);
}

static void test_oidx_valid_prefix_rejects_garbage(void **state) {
    (void)state;
    char *dir = tmpdir_new();
    char *path = xasprintf("%s/00000000000000000000.index", dir);
    oidx_t ix;
    assert_int_equal(idx_open(&ix, path, OIDX_ENTRY_SIZE, 0), 0);
    assert_int_equal(idx_resize(&ix, 8 * 10), 0);
    oidx_append(&ix, 5, 100);
    oidx_append(&ix, 9, 300);
    oidx_append(&ix, 12, 500);
    uint32_t slots = idx_file_slots(&ix);
    assert_int_equal(oidx_valid_prefix(&ix, slots, 1000), 3); /* zero tail stops it */
    assert_int_equal(oidx_valid_prefix(&ix, 3, 1000), 3);
    assert_int_equal(oidx_valid_prefix(&ix, 3, 400), 2); /* position past the log */
    be32_put(ix.map + 8, 5);                             /* offset not increasing */
    assert_int_equal(oidx_valid_prefix(&ix, 3, 1000), 1);
    idx_close(&ix);
    free(path);
    tmpdir_remove(dir);
}

static void test_tidx_lookup_and_append_rules(void **state) {
    (void)state;
    char *dir = tmpdir_new();
    char *path = xasprintf("%s/00000000000000000100.timeindex", dir);
    tidx_t ix;
    assert_int_equal(idx_open(&ix, path, TIDX_ENTRY_SIZE, 100), 0);
    assert_int_equal(idx_resize(&ix, 12 * 10), 0);
    tidx_maybe_append(&ix, 1000, 105);
    tidx_maybe_append(&ix, 1000, 107); /* same timestamp: skipped */
    tidx_maybe_append(&ix, 999, 108);  /* lower: skipped */
    tidx_maybe_append(&ix, 2000, 110);
    tidx_maybe_append(&ix, 3000, 120);
    assert_int_equal(ix.entries, 3);
    /* Kafka's layout: timestamp i64 BE, relative offset u32 BE. */
    assert_int_equal((int64_t)be64_get(ix.map), 1000);
    assert_int_equal(be32_get(ix.map + 8), 5);
    assert_int_equal(tidx_last_ts(&ix), 3000);
    /* Largest entry with timestamp < ts. */
    assert_int_equal(tidx_lookup_before(&ix, 1000), -1);
    assert_int_equal(tidx_lookup_before(&ix, 1001), 105);
    assert_int_equal(tidx_lookup_before(&ix, 2000), 105);
    assert_int_equal(tidx_lookup_before(&ix, 2001), 110);
    assert_int_equal(tidx_lookup_before(&ix, 1 << 30), 120);
    assert_int_equal(tidx_valid_prefix(&ix, idx_file_slots(&ix), 1000), 3);
    assert_int_equal(tidx_valid_prefix(&ix, idx_file_slots(&ix), 115), 2);
    tidx_truncate_to(&ix, 110);
    assert_int_equal(ix.entries, 1);
    assert_int_equal(tidx_last_ts(&ix), 1000);
    idx_close(&ix);
    free(path);
    tmpdir_remove(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oidx_lookup_every_boundary),
        cmocka_unit_test(test_oidx_valid_prefix_rejects_garbage),
        cmocka_unit_test(test_tidx_lookup_and_append_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
