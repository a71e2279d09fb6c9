/*
 * test_proto_reader: the primitive codec (reader.c, writer.c): varints against the
 * README's examples, classic and compact lengths, nulls, the sticky error, array length
 * checks before allocation, tagged-field skipping, file-range chunks and patching.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "strata/proto.h"

#include "proto_test_util.h"

static arena_t *arena;

static int setup(void **state) {
    (void)state;
    arena = arena_new(0);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    arena_free(arena);
    return 0;
}

static void rd_hex(kp_rd_t *rd, vec_t *v, const char *hex) {
    *v = vec_hex(hex);
    kp_rd_init(rd, v->data, v->len, arena);
}

static void test_uvarint_examples(void **state) {
    (void)state;
    static const struct {
        uint32_t v;
        const char *hex;
    } cases[] = {
        {0, "00"},      {1, "01"},        {127, "7f"},         {128, "80 01"},
        {300, "ac 02"}, {16383, "ff 7f"}, {16384, "80 80 01"}, {0xffffffffu, "ff ff ff ff 0f"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kp_wr_t wr;
        kp_wr_init(&wr);
        kp_wr_uvarint(&wr, cases[i].v);
        assert_wr_hex(&wr, cases[i].hex);
        kp_rd_t rd;
        vec_t v;
        rd_hex(&rd, &v, cases[i].hex);
        assert_int_equal(kp_rd_uvarint(&rd), cases[i].v);
        assert_int_equal(kp_rd_err(&rd), 0);
        assert_int_equal(kp_rd_remaining(&rd), 0);
        free(v.data);
        kp_wr_destroy(&wr);
    }
}

static void test_uvarint_too_long_fails(void **state) {
    (void)state;
    const char *bad[] = {"ff ff ff ff ff 01", "ff ff ff ff 1f", "80", "ff ff"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kp_rd_t rd;
        vec_t v;
        rd_hex(&rd, &v, bad[i]);
        assert_int_equal(kp_rd_uvarint(&rd), 0);
        assert_int_equal(kp_rd_err(&rd), STRATA_ECORRUPT);
        free(v.data);
    }
}

static void test_varint_zigzag_examples(void **state) {
    (void)state;
    static const struct {
        int32_t v;
        const char *hex;
    } cases[] = {{0, "00"},
                 {-1, "01"},
                 {1, "02"},
                 {-2, "03"},
                 {2, "04"},
                 {63, "7e"},
                 {-64, "7f"},
                 {64, "80 01"},
                 {300, "d8 04"},
                 {INT32_MAX, "fe ff ff ff 0f"},
                 {INT32_MIN, "ff ff ff ff 0f"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kp_wr_t wr;
        kp_wr_init(&wr);
        kp_wr_varint(&wr, cases[i].v);
        assert_wr_hex(&wr, cases[i].hex);
        kp_rd_t rd;
        vec_t v;
        rd_hex(&rd, &v, cases[i].hex);
        assert_int_equal(kp_rd_varint(&rd), cases[i].v);
        assert_int_equal(kp_rd_err(&rd), 0);
        free(v.data);
        kp_wr_destroy(&wr);
    }
}

static void test_varlong_extremes_roundtrip(void **state) {
    (void)state;
    const int64_t vals[] = {0, -1, 1, 1700000000000LL, -1700000000000LL, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        kp_wr_t wr;
        kp_wr_init(&wr);
        kp_wr_varlong(&wr, vals[i]);
        assert_true(wr.buf.len <= 10);
        kp_rd_t rd;
        kp_rd_init(&rd, wr.buf.data, wr.buf.len, arena);
        assert_true(kp_rd_varlong(&rd) == vals[i]);
        assert_int_equal(kp_rd_err(&rd), 0);
        assert_int_equal(kp_rd_remaining(&rd), 0);
        kp_wr_destroy(&wr);
    }
    kp_wr_t wr;
    kp_wr_init(&wr);
    kp_wr_varlong(&wr, INT64_MIN);
    assert_wr_hex(&wr, "ff ff ff ff ff ff ff ff ff 01");
    kp_wr_destroy(&wr);
}

static void test_fixed_width_big_endian(void **state) {
    (void)state;
    kp_wr_t wr;
    kp_wr_init(&wr);
    kp_wr_i8(&wr, -2);
    kp_wr_i16(&wr, 0x0102);
    kp_wr_u16(&wr, 0xfffe);
    kp_wr_i32(&wr, -3);
    kp_wr_u32(&wr, 0x80000000u);
    kp_wr_i64(&wr, 0x0102030405060708LL);
    kp_wr_bool(&wr, true);
    kp_wr_f64(&wr, 1.5);
    assert_wr_hex(&wr, "fe 0102 fffe fffffffd 80000000 0102030405060708 01 3ff8000000000000");
    kp_rd_t rd;
    kp_rd_init(&rd, wr.buf.data, wr.buf.len, arena);
    assert_int_equal(kp_rd_i8(&rd), -2);
    assert_int_equal(kp_rd_i16(&rd), 0x0102);
    assert_int_equal(kp_rd_u16(&rd), 0xfffe);
    assert_int_equal(kp_rd_i32(&rd), -3);
    assert_int_equal(kp_rd_u32(&rd), 0x80000000u);
    assert_true(kp_rd_i64(&rd) == 0x0102030405060708LL);
    assert_true(kp_rd_bool(&rd));
    assert_true(kp_rd_f64(&rd) == 1.5);
    assert_int_equal(kp_rd_err(&rd), 0);
    assert_int_equal(kp_rd_remaining(&rd), 0);
    kp_wr_destroy(&wr);
}

static void test_rd_string_classic_and_compact(void **state) {
    (void)state;
    kp_rd_t rd;
    vec_t v;
    rd_hex(&rd, &v, "0002 6869  ffff  03 6869  00  0000  01");
    char *s = kp_rd_string(&rd, false, false);
    assert_string_equal(s, "hi");
    assert_null(kp_rd_string(&rd, false, true));
    assert_string_equal(kp_rd_string(&rd, true, false), "hi");
    assert_null(kp_rd_string(&rd, true, true));
    assert_string_equal(kp_rd_string(&rd, false, false), "");
    assert_string_equal(kp_rd_string(&rd, true, false), "");
    assert_int_equal(kp_rd_err(&rd), 0);
    assert_int_equal(kp_rd_remaining(&rd), 0);
    free(v.data);
}

static void test_rd_string_null_when_not_nullable_fails(void **state) {
    (void)state;
    const char *cases[][2] = {
        {"ffff", "c"}, {"00", "x"}, {"fffe", "c"}, {"0005 6869", "c"}, {"06 6869", "x"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kp_rd_t rd;
        vec_t v;
        rd_hex(&rd, &v, cases[i][0]);
        assert_null(kp_rd_string(&rd, cases[i][1][0] == 'x', false));
        assert_int_equal(kp_rd_err(&rd), STRATA_ECORRUPT);
        free(v.data);
    }
}

static void test_rd_bytes_and_records_point_into_input(void **state) {
    (void)state;
    kp_rd_t rd;
    vec_t v;
    rd_hex(&rd, &v, "00000002 aabb  ffffffff  03 ccdd  00  00000001 ee");
    kp_bytes_t b = kp_rd_bytes(&rd, false, false);
    assert_int_equal(b.len, 2);
    assert_ptr_equal(b.data, v.data + 4);
    b = kp_rd_bytes(&rd, false, true);
    assert_int_equal(b.len, -1);
    assert_null(b.data);
    kp_records_t r = kp_rd_records(&rd, true, true);
    assert_int_equal(r.len, 2);
    assert_int_equal(r.fd, -1);
    assert_ptr_equal(r.data, v.data + 11);
    r = kp_rd_records(&rd, true, true);
    assert_int_equal(r.len, -1);
    r = kp_rd_records(&rd, false, false);
    assert_int_equal(r.len, 1);
    assert_int_equal(r.data[0], 0xee);
    assert_int_equal(kp_rd_err(&rd), 0);
    free(v.data);
}

static void test_rd_error_is_sticky(void **state) {
    (void)state;
    kp_rd_t rd;
    vec_t v;
    rd_hex(&rd, &v, "0001 02");
    assert_int_equal(kp_rd_i16(&rd), 1);
    assert_int_equal(kp_rd_i32(&rd), 0); /* only 1 byte left */
    assert_int_equal(kp_rd_err(&rd), STRATA_ECORRUPT);
    assert_int_equal(kp_rd_remaining(&rd), 0);
    assert_int_equal(kp_rd_i8(&rd), 0); /* would fit before the failure; still fails */
    assert_null(kp_rd_string(&rd, true, true));
    assert_int_equal(kp_rd_err(&rd), STRATA_ECORRUPT);
    free(v.data);
}

static void test_rd_array_len_checked_before_allocation(void **state) {
    (void)state;
    kp_rd_t rd;
    vec_t v;
    /* 3 elements of at least 4 bytes need 12 bytes; only 8 follow */
    rd_hex(&rd, &v, "00000003 0000000100000002");
    assert_int_equal(kp_rd_array_len(&rd, false, false, 4), 0);
    assert_int_equal(kp_rd_err(&rd), STRATA_ECORRUPT);
    free(v.data);
    /* a huge count must fail without allocating */
    rd_hex(&rd, &v, "7fffffff 00");
    assert_int_equal(kp_rd_array_len(&rd, false, false, 1), 0);
    assert_int_equal(kp_rd_err(&rd), STRATA_ECORRUPT);
    free(v.data);
    rd_hex(&rd, &v, "ff ff ff ff 0f");
    assert_int_equal(kp_rd_array_len(&rd, true, false, 1), 0);
    assert_int_equal(kp_rd_err(&rd), STRATA_ECORRUPT);
    free(v.data);
    /* null: allowed only when nullable */
    rd_hex(&rd, &v, "ffffffff 00 ffffffff");
    assert_int_equal(kp_rd_array_len(&rd, false, true, 4), -1);
    assert_int_equal(kp_rd_array_len(&rd, true, true, 4), -1);
    assert_int_equal(kp_rd_err(&rd), 0);
    assert_int_equal(kp_rd_array_len(&rd, false, false, 4), 0);
    assert_int_equal(kp_rd_err(&rd), STRATA_ECORRUPT);
    free(v.data);
    /* exact fit is fine */
    rd_hex(&rd, &v, "03 01 02 03");
    assert_int_equal(kp_rd_array_len(&rd, true, false, 1), 2);
    assert_int_equal(kp_rd_err(&rd), 0);
    free(v.data);
}

static void test_rd_skip_tags(void **state) {
    (void)state;
    kp_rd_t rd;
    vec_t v;
    /* 2 tags: tag 0 size 1 [aa], tag 5 size 2 [bbcc]; then an int8 */
    rd_hex(&rd, &v, "02 00 01 aa 05 02 bb cc 7f");
    kp_rd_skip_tags(&rd);
    assert_int_equal(kp_rd_i8(&rd), 0x7f);
    assert_int_equal(kp_rd_err(&rd), 0);
    free(v.data);
    rd_hex(&rd, &v, "01 00 05 aa");
    kp_rd_skip_tags(&rd);
    assert_int_equal(kp_rd_err(&rd), STRATA_ECORRUPT);
    free(v.data);
}

static void test_wr_lengths_and_nulls(void **state) {
    (void)state;
    kp_wr_t wr;
    kp_wr_init(&wr);
    kp_wr_string(&wr, "hi", false, false);
    kp_wr_string(&wr, NULL, false, true);
    kp_wr_string(&wr, NULL, false, false); /* lenient: empty */
    kp_wr_string(&wr, "hi", true, false);
    kp_wr_string(&wr, NULL, true, true);
    kp_bytes_t b = {(const uint8_t *)"\xaa", 1};
    kp_wr_bytes(&wr, b, false, false);
    kp_wr_bytes(&wr, (kp_bytes_t){NULL, -1}, true, true);
    kp_wr_array_len(&wr, -1, false, true);
    kp_wr_array_len(&wr, 2, true, false);
    kp_wr_empty_tags(&wr);
    assert_wr_hex(&wr, "0002 6869 ffff 0000 03 6869 00 00000001 aa 00 ffffffff 03 00");
    kp_wr_destroy(&wr);
}

static void test_wr_string_too_long_sets_error(void **state) {
    (void)state;
    char *s = malloc(40000);
    memset(s, 'a', 39999);
    s[39999] = '\0';
    kp_wr_t wr;
    kp_wr_init(&wr);
    kp_wr_string(&wr, s, false, false);
    assert_int_equal(kp_wr_err(&wr), STRATA_EINVAL);
    kp_wr_reset(&wr);
    kp_wr_string(&wr, s, true, false); /* compact: fine */
    assert_int_equal(kp_wr_err(&wr), 0);
    assert_int_equal(wr.buf.len, 3 + 39999);
    kp_wr_destroy(&wr);
    free(s);
}

static void test_wr_records_file_range_makes_chunk(void **state) {
    (void)state;
    kp_wr_t wr;
    kp_wr_init(&wr);
    size_t size_off = kp_wr_reserve_i32(&wr);
    kp_wr_i32(&wr, 7);
    kp_records_t r1 = kp_records_file(5, 1000, 300);
    kp_wr_records(&wr, &r1, false, true);
    kp_wr_i16(&wr, 1);
    kp_records_t r2 = kp_records_file(6, 0, 200);
    kp_wr_records(&wr, &r2, true, true);
    kp_records_t r3 = kp_records_mem((const uint8_t *)"\x01\x02", 2);
    kp_wr_records(&wr, &r3, false, true);
    kp_wr_patch_i32(&wr, size_off, (int32_t)kp_wr_len_since(&wr, size_off + 4));
    /* 4 size + 4 + 4 len + [300 file] + 2 + 2 uvarint(201) + [200 file] + 4 + 2 */
    assert_int_equal(wr.buf.len, 4 + 4 + 4 + 2 + 2 + 4 + 2);
    assert_int_equal(kp_wr_total_len(&wr), 22 + 500);
    assert_int_equal(kp_wr_n_chunks(&wr), 2);
    const kp_wr_chunk_t *c0 = kp_wr_chunk(&wr, 0);
    const kp_wr_chunk_t *c1 = kp_wr_chunk(&wr, 1);
    assert_int_equal(c0->buf_offset, 12);
    assert_int_equal(c0->fd, 5);
    assert_int_equal(c0->pos, 1000);
    assert_int_equal(c0->len, 300);
    assert_int_equal(c1->buf_offset, 16);
    assert_int_equal(c1->fd, 6);
    assert_int_equal(c1->len, 200);
    assert_wr_hex(&wr, "00000206 00000007 0000012c 0001 c901 00000002 0102");
    assert_int_equal(kp_wr_len_since(&wr, 0), 522);
    assert_int_equal(kp_wr_len_since(&wr, 14), 8 + 200);

    /* appending into another writer shifts the chunk offsets */
    kp_wr_t outer;
    kp_wr_init(&outer);
    kp_wr_i8(&outer, 9);
    kp_wr_append(&outer, &wr);
    assert_int_equal(kp_wr_n_chunks(&outer), 2);
    assert_int_equal(kp_wr_chunk(&outer, 0)->buf_offset, 13);
    assert_int_equal(kp_wr_chunk(&outer, 1)->buf_offset, 17);
    assert_int_equal(kp_wr_total_len(&outer), 523);
    kp_wr_destroy(&outer);
    kp_wr_destroy(&wr);
}

static void test_wr_patch_out_of_range_sets_error(void **state) {
    (void)state;
    kp_wr_t wr;
    kp_wr_init(&wr);
    kp_wr_i16(&wr, 0);
    kp_wr_patch_i32(&wr, 0, 1);
    assert_int_equal(kp_wr_err(&wr), STRATA_EINVAL);
    kp_wr_destroy(&wr);
}

static void test_uuid_roundtrip(void **state) {
    (void)state;
    uint8_t u[16], back[16];
    for (int i = 0; i < 16; i++) {
        u[i] = (uint8_t)(i * 17);
    }
    kp_wr_t wr;
    kp_wr_init(&wr);
    kp_wr_uuid(&wr, u);
    kp_rd_t rd;
    kp_rd_init(&rd, wr.buf.data, wr.buf.len, arena);
    kp_rd_uuid(&rd, back);
    assert_memory_equal(u, back, 16);
    kp_rd_uuid(&rd, back); /* past the end: zeroed, error */
    assert_int_equal(kp_rd_err(&rd), STRATA_ECORRUPT);
    kp_wr_destroy(&wr);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uvarint_examples),
        cmocka_unit_test(test_uvarint_too_long_fails),
        cmocka_unit_test(test_varint_zigzag_examples),
        cmocka_unit_test(test_varlong_extremes_roundtrip),
        cmocka_unit_test(test_fixed_width_big_endian),
        cmocka_unit_test(test_rd_string_classic_and_compact),
        cmocka_unit_test(test_rd_string_null_when_not_nullable_fails),
        cmocka_unit_test(test_rd_bytes_and_records_point_into_input),
        cmocka_unit_test(test_rd_error_is_sticky),
        cmocka_unit_test(test_rd_array_len_checked_before_allocation),
        cmocka_unit_test(test_rd_skip_tags),
        cmocka_unit_test(test_wr_lengths_and_nulls),
        cmocka_unit_test(test_wr_string_too_long_sets_error),
        cmocka_unit_test(test_wr_records_file_range_makes_chunk),
        cmocka_unit_test(test_wr_patch_out_of_range_sets_error),
        cmocka_unit_test(test_uuid_roundtrip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
