/* Tests for util/props.c and util/cfg.c: .properties syntax and the typed table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strata/util.h"
#include "tmpdir.h"

typedef struct fixture {
    char *dir;
    char *path;
} fixture_t;

static int setup(void **state) {
    fixture_t *f = calloc(1, sizeof(*f));
    f->dir = tmpdir_new();
    f->path = xasprintf("%s/server.properties", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture_t *f = *state;
    free(f->path);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void write_text(const char *path, const char *text) {
    assert_int_equal(fs_atomic_replace(path, text, strlen(text)), 0);
}

static void test_props_load_file_good(void **state) {
    fixture_t *f = *state;
    write_text(f->path, "# comment\n"
                        "! another comment\n"
                        "\n"
                        "broker.id=1\n"
                        "  listeners = PLAINTEXT://:9092  \n"
                        "log.dirs: /tmp/kafka-logs\n"
                        "zookeeper.connect localhost:2181\n"
                        "empty.value=\n"
                        "crlf=yes\r\n"
                        "broker.id=2\n");
    props_t *p = props_new();
    char err[256] = "";
    assert_int_equal(props_load_file(p, f->path, err, sizeof(err)), 0);
    assert_string_equal(props_get(p, "broker.id"), "2");
    assert_string_equal(props_get(p, "listeners"), "PLAINTEXT://:9092");
    assert_string_equal(props_get(p, "log.dirs"), "/tmp/kafka-logs");
    assert_string_equal(props_get(p, "zookeeper.connect"), "localhost:2181");
    assert_string_equal(props_get(p, "empty.value"), "");
    assert_string_equal(props_get(p, "crlf"), "yes");
    assert_null(props_get(p, "missing"));
    char *src = xasprintf("%s:10", f->path);
    assert_string_equal(props_source(p, "broker.id"), src);
    free(src);
    assert_int_equal(props_count(p), 6);
    const char *k, *v;
    props_entry(p, 0, &k, &v);
    assert_string_equal(k, "broker.id");
    assert_string_equal(v, "2");
    props_free(p);
    props_free(NULL);
}

static void test_props_escapes_and_continuation(void **state) {
    fixture_t *f = *state;
    write_text(f->path, "tab=a\\tb\n"
                        "nl=a\\nb\n"
                        "bs=a\\\\b\n"
                        "uni=caf\\u00e9 \\u20AC\n"
                        "key\\=with\\:seps\\ x=v\n"
                        "long=one,\\\n"
                        "     two,\\\n"
                        "  three\n"
                        "after=1\n"
                        "even=ends\\\\\n"
                        "next=2\n"
                        "# comment ends with backslash \\\n"
                        "not.continued=3\n"
                        "trailing.escaped.space=x\\ \n");
    props_t *p = props_new();
    char err[256] = "";
    assert_int_equal(props_load_file(p, f->path, err, sizeof(err)), 0);
    assert_string_equal(props_get(p, "tab"), "a\tb");
    assert_string_equal(props_get(p, "nl"), "a\nb");
    assert_string_equal(props_get(p, "bs"), "a\\b");
    assert_string_equal(props_get(p, "uni"), "caf\xc3\xa9 \xe2\x82\xac");
    assert_string_equal(props_get(p, "key=with:seps x"), "v");
    assert_string_equal(props_get(p, "long"), "one,two,three");
    assert_string_equal(props_get(p, "after"), "1");
    char *src = xasprintf("%s:9", f->path);
    assert_string_equal(props_source(p, "after"), src);
    free(src);
    assert_string_equal(props_get(p, "even"), "ends\\");
    assert_string_equal(props_get(p, "next"), "2");
    assert_string_equal(props_get(p, "not.continued"), "3");
    assert_string_equal(props_get(p, "trailing.escaped.space"), "x ");
    props_free(p);
}

static void test_props_bad_unicode_escape_names_line(void **state) {
    fixture_t *f = *state;
    write_text(f->path, "a=1\nb=\\u12G4\n");
    props_t *p = props_new();
    char err[256] = "";
    assert_int_equal(props_load_file(p, f->path, err, sizeof(err)), STRATA_ECONFIG);
    assert_non_null(strstr(err, "server.properties:2"));
    props_free(p);
}

static void test_props_missing_file(void **state) {
    fixture_t *f = *state;
    props_t *p = props_new();
    char err[256] = "";
    char *path = xasprintf("%s/nope.properties", f->dir);
    assert_int_equal(props_load_file(p, path, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "nope.properties"));
    free(path);
    props_free(p);
}

static void test_props_set_kv(void **state) {
    (void)state;
    props_t *p = props_new();
    char err[256] = "";
    assert_int_equal(props_set_kv(p, "log.retention.ms=1000", "--override", err, sizeof(err)), 0);
    assert_string_equal(props_get(p, "log.retention.ms"), "1000");
    assert_string_equal(props_source(p, "log.retention.ms"), "--override");
    assert_int_equal(props_set_kv(p, "a=b=c", "--override", err, sizeof(err)), 0);
    assert_string_equal(props_get(p, "a"), "b=c");
    assert_int_equal(props_set_kv(p, "novalue", "--override", err, sizeof(err)), STRATA_ECONFIG);
    assert_non_null(strstr(err, "novalue"));
    assert_int_equal(props_set_kv(p, "=x", "--override", err, sizeof(err)), STRATA_ECONFIG);
    props_free(p);
}

typedef struct conf {
    int32_t broker_id;
    int64_t segment_bytes;
    bool auto_create;
    char *log_dirs;
    double ratio;
} conf_t;

static const cfg_def_t defs[] = {
    {"broker.id", CFG_INT32, offsetof(conf_t, broker_id), "-1", -1, INT32_MAX, "id"},
    {"log.segment.bytes", CFG_INT64, offsetof(conf_t, segment_bytes), "1073741824", 14, INT32_MAX,
     "segment size"},
    {"auto.create.topics.enable", CFG_BOOL, offsetof(conf_t, auto_create), "true", 0, -1, "auto"},
    {"log.dirs", CFG_STRING, offsetof(conf_t, log_dirs), "/tmp/kafka-logs", 0, -1, "dirs"},
    {"log.cleaner.min.cleanable.ratio", CFG_DOUBLE, offsetof(conf_t, ratio), "0.5", 0, 1, "r"},
};
#define NDEFS (sizeof(defs) / sizeof(defs[0]))

static void test_cfg_apply_defaults_and_values(void **state) {
    fixture_t *f = *state;
    write_text(f->path, "broker.id=3\nlog.dirs=/data/a,/data/b\n"
                        "auto.create.topics.enable=FALSE\nlog.cleaner.min.cleanable.ratio=0.25\n"
                        "some.unknown.key=1\n");
    props_t *p = props_new();
    char err[256] = "";
    assert_int_equal(props_load_file(p, f->path, err, sizeof(err)), 0);
    conf_t c;
    memset(&c, 0xAB, sizeof(c));
    assert_int_equal(cfg_apply(defs, NDEFS, &c, p, true, err, sizeof(err)), 0);
    assert_int_equal(c.broker_id, 3);
    assert_int_equal(c.segment_bytes, 1073741824);
    assert_false(c.auto_create);
    assert_string_equal(c.log_dirs, "/data/a,/data/b");
    assert_true(c.ratio == 0.25);
    cfg_free_strings(defs, NDEFS, &c);
    assert_null(c.log_dirs);

    assert_int_equal(cfg_apply(defs, NDEFS, &c, NULL, true, err, sizeof(err)), 0);
    assert_int_equal(c.broker_id, -1);
    assert_true(c.auto_create);
    assert_string_equal(c.log_dirs, "/tmp/kafka-logs");
    cfg_free_strings(defs, NDEFS, &c);
    props_free(p);
}

static void test_cfg_apply_malformed_names_key_and_line(void **state) {
    fixture_t *f = *state;
    write_text(f->path, "broker.id=1\n\nlog.segment.bytes=abc\n");
    props_t *p = props_new();
    char err[256] = "";
    assert_int_equal(props_load_file(p, f->path, err, sizeof(err)), 0);
    conf_t c;
    assert_int_equal(cfg_apply(defs, NDEFS, &c, p, false, err, sizeof(err)), STRATA_ECONFIG);
    assert_non_null(strstr(err, "log.segment.bytes"));
    assert_non_null(strstr(err, "server.properties:3"));
    assert_non_null(strstr(err, "'abc' is not an integer"));
    cfg_free_strings(defs, NDEFS, &c);
    props_free(p);
}

static void test_cfg_apply_out_of_range(void **state) {
    (void)state;
    props_t *p = props_new();
    char err[256] = "";
    conf_t c;
    props_set(p, "log.segment.bytes", "13", "--override");
    assert_int_equal(cfg_apply(defs, NDEFS, &c, p, false, err, sizeof(err)), STRATA_ECONFIG);
    assert_non_null(strstr(err, "log.segment.bytes (--override): 13 is out of range"));
    cfg_free_strings(defs, NDEFS, &c);

    props_set(p, "log.segment.bytes", "100", "--override");
    props_set(p, "broker.id", "99999999999", "x:1");
    assert_int_equal(cfg_apply(defs, NDEFS, &c, p, false, err, sizeof(err)), STRATA_ECONFIG);
    assert_non_null(strstr(err, "broker.id (x:1)"));
    cfg_free_strings(defs, NDEFS, &c);

    props_set(p, "broker.id", "1", "x:1");
    props_set(p, "auto.create.topics.enable", "yes", "x:2");
    assert_int_equal(cfg_apply(defs, NDEFS, &c, p, false, err, sizeof(err)), STRATA_ECONFIG);
    assert_non_null(strstr(err, "auto.create.topics.enable (x:2): 'yes' is not a boolean"));
    cfg_free_strings(defs, NDEFS, &c);

    props_set(p, "auto.create.topics.enable", "true", "x:2");
    props_set(p, "log.cleaner.min.cleanable.ratio", "1.5", "x:3");
    assert_int_equal(cfg_apply(defs, NDEFS, &c, p, false, err, sizeof(err)), STRATA_ECONFIG);
    assert_non_null(strstr(err, "log.cleaner.min.cleanable.ratio (x:3)"));
    cfg_free_strings(defs, NDEFS, &c);
    props_free(p);
}

static void test_cfg_unknown_key_is_not_an_error(void **state) {
    (void)state;
    props_t *p = props_new();
    char err[256] = "";
    conf_t c;
    props_set(p, "no.such.key", "1", "x:7");
    assert_int_equal(cfg_apply(defs, NDEFS, &c, p, true, err, sizeof(err)), 0);
    cfg_free_strings(defs, NDEFS, &c);
    props_free(p);
}

static void test_parse_int64(void **state) {
    (void)state;
    int64_t v;
    assert_int_equal(parse_int64("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(parse_int64("-42", &v), 0);
    assert_int_equal(v, -42);
    assert_int_equal(parse_int64("+7", &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(parse_int64("9223372036854775807", &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(parse_int64("-9223372036854775808", &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(parse_int64("9223372036854775808", &v), STRATA_EINVAL);
    assert_int_equal(parse_int64("", &v), STRATA_EINVAL);
    assert_int_equal(parse_int64("-", &v), STRATA_EINVAL);
    assert_int_equal(parse_int64("12a", &v), STRATA_EINVAL);
    assert_int_equal(parse_int64(" 1", &v), STRATA_EINVAL);
    assert_int_equal(parse_int64("1 ", &v), STRATA_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_props_load_file_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_props_escapes_and_continuation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_props_bad_unicode_escape_names_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_props_missing_file, setup, teardown),
        cmocka_unit_test(test_props_set_kv),
        cmocka_unit_test_setup_teardown(test_cfg_apply_defaults_and_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_apply_malformed_names_key_and_line, setup,
                                        teardown),
        cmocka_unit_test(test_cfg_apply_out_of_range),
        cmocka_unit_test(test_cfg_unknown_key_is_not_an_error),
        cmocka_unit_test(test_parse_int64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
