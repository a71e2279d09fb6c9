/* Tests for src/cli/args.c: option parsing and usage errors that name the bad word. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli.h"

static const cli_opt_t opts[] = {
    {"bootstrap-server", CLI_OPT_VALUE, "host:port", "server"},
    {"create", CLI_OPT_FLAG, NULL, "create"},
    {"topic", CLI_OPT_VALUE, "topic", "topic"},
    {"config", CLI_OPT_MULTI, "k=v", "config"},
};
#define N (sizeof(opts) / sizeof(opts[0]))

static void test_cli_args_parse_values_flags_multi(void **state) {
    (void)state;
    char *argv[] = {"--bootstrap-server", "h:1",     "--create", "--topic=t1", "--config", "a=1",
                    "--config=b=2",       "--topic", "t2"};
    cli_args_t a;
    char err[256];
    assert_int_equal(cli_args_parse(&a, opts, N, 9, argv, err, sizeof(err)), 0);
    assert_true(cli_args_has(&a, "create"));
    assert_string_equal(cli_args_get(&a, "bootstrap-server"), "h:1");
    assert_string_equal(cli_args_get(&a, "topic"), "t2"); /* last wins */
    size_t n;
    const char **v = cli_args_multi(&a, "config", &n);
    assert_int_equal(n, 2);
    assert_string_equal(v[0], "a=1");
    assert_string_equal(v[1], "b=2");
    assert_false(cli_args_has(&a, "nope"));
    assert_null(cli_args_get(&a, "create"));
    cli_args_free(&a);
}

static void test_cli_args_unknown_option_named(void **state) {
    (void)state;
    char *argv[] = {"--create", "--partitons", "3"};
    cli_args_t a;
    char err[256];
    assert_int_equal(cli_args_parse(&a, opts, N, 3, argv, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'--partitons'"));
    cli_args_free(&a);
}

static void test_cli_args_missing_value_and_positional(void **state) {
    (void)state;
    char *argv1[] = {"--topic"};
    cli_args_t a;
    char err[256];
    assert_int_equal(cli_args_parse(&a, opts, N, 1, argv1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'--topic' requires a value"));
    cli_args_free(&a);
    char *argv2[] = {"--create", "extra"};
    assert_int_equal(cli_args_parse(&a, opts, N, 2, argv2, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'extra'"));
    cli_args_free(&a);
    char *argv3[] = {"--create=yes"};
    assert_int_equal(cli_args_parse(&a, opts, N, 1, argv3, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'--create' takes no value"));
    cli_args_free(&a);
}

static void test_cli_parse_int(void **state) {
    (void)state;
    char err[256];
    int64_t v;
    assert_int_equal(cli_parse_int("partitions", "12", 1, 100, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 12);
    assert_int_equal(cli_parse_int("partitions", "x", 1, 100, &v, err, sizeof(err)), -1);
    assert_string_equal(err, "--partitions: 'x' is not an integer");
    assert_int_equal(cli_parse_int("partitions", "0", 1, 100, &v, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "between 1 and 100"));
}

static void test_cli_kafka_error_text(void **state) {
    (void)state;
    char out[256];
    cli_kafka_error(out, sizeof(out), KP_ERR_TOPIC_ALREADY_EXISTS, "Topic 't' already exists.");
    assert_string_equal(out, "TOPIC_ALREADY_EXISTS: Topic 't' already exists.");
    cli_kafka_error(out, sizeof(out), KP_ERR_INVALID_PARTITIONS, NULL);
    assert_string_equal(out, "INVALID_PARTITIONS: Number of partitions is below 1.");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_args_parse_values_flags_multi),
        cmocka_unit_test(test_cli_args_unknown_option_named),
        cmocka_unit_test(test_cli_args_missing_value_and_positional),
        cmocka_unit_test(test_cli_parse_int),
        cmocka_unit_test(test_cli_kafka_error_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
