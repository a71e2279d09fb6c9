/*
 * test_server_config: the broker key table — Kafka defaults, file + --override
 * precedence, errors that name the key, listener parsing and derived values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strata/server.h"
#include "tmpdir.h"

static char *write_file(const char *dir, const char *text) {
    char *path = xasprintf("%s/server.properties", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_cfg_broker_load_defaults_are_kafkas(void **state) {
    (void)state;
    broker_cfg_t cfg;
    char err[256] = "";
    assert_int_equal(cfg_broker_load(&cfg, NULL, NULL, 0, NULL, err, sizeof(err)), 0);
    assert_int_equal(cfg.broker_id, 0); /* -1 becomes 0 in standalone mode */
    assert_int_equal(cfg.listen_port, 9092);
    assert_string_equal(cfg.listen_host, "");
    assert_int_equal(cfg.num_partitions, 1);
    assert_true(cfg.auto_create_topics_enable);
    assert_int_equal(cfg.message_max_bytes, 1048588);
    assert_int_equal(cfg.socket_request_max_bytes, 104857600);
    assert_int_equal(cfg.connections_max_idle_ms, 600000);
    assert_int_equal(cfg.max_connections, 2147483647);
    assert_int_equal(cfg.ndirs, 1);
    assert_string_equal(cfg.dirs[0], "/tmp/kafka-logs");
    assert_int_equal(cfg.log.segment_bytes, 1073741824);
    assert_int_equal(cfg.log.retention_ms, 168LL * 3600000);
    assert_int_equal(cfg.log.roll_ms, 168LL * 3600000);
    assert_int_equal(cfg.log.roll_jitter_ms, 0);
    assert_int_equal(cfg.log.max_message_bytes, 1048588);
    assert_false(cfg.log.log_append_time);
    cfg_broker_free(&cfg);
}

static void test_cfg_broker_load_override_beats_file(void **state) {
    (void)state;
    char *dir = tmpdir_new();
    char *path = write_file(dir, "broker.id=3\n"
                                 "listeners=PLAINTEXT://127.0.0.1:19092\n"
                                 "log.dirs=/a, /b\n"
                                 "num.partitions=4\n"
                                 "log.retention.minutes=5\n"
                                 "log.roll.jitter.hours=2\n");
    const char *ov[] = {"num.partitions=7", "advertised.listeners=PLAINTEXT://example.org:29092"};
    broker_cfg_t cfg;
    props_t *props = NULL;
    char err[256] = "";
    assert_int_equal(cfg_broker_load(&cfg, path, ov, 2, &props, err, sizeof(err)), 0);
    assert_int_equal(cfg.broker_id, 3);
    assert_int_equal(cfg.num_partitions, 7);
    assert_string_equal(cfg.listen_host, "127.0.0.1");
    assert_int_equal(cfg.listen_port, 19092);
    assert_string_equal(cfg.adv_host, "example.org");
    assert_int_equal(cfg.adv_port, 29092);
    assert_int_equal(cfg.ndirs, 2);
    assert_string_equal(cfg.dirs[0], "/a");
    assert_string_equal(cfg.dirs[1], "/b");
    assert_int_equal(cfg.log.retention_ms, 5 * 60000);
    assert_int_equal(cfg.log.roll_jitter_ms, 2 * 3600000);
    assert_string_equal(props_get(props, "num.partitions"), "7");
    props_free(props);
    cfg_broker_free(&cfg);
    free(path);
    tmpdir_remove(dir);
}

static void test_cfg_broker_load_bad_value_names_key(void **state) {
    (void)state;
    const char *ov[] = {"num.partitions=abc"};
    broker_cfg_t cfg;
    char err[256] = "";
    assert_int_equal(cfg_broker_load(&cfg, NULL, ov, 1, NULL, err, sizeof(err)), STRATA_ECONFIG);
    assert_non_null(strstr(err, "num.partitions"));

    const char *ov2[] = {"num.partitions=0"};
    assert_int_equal(cfg_broker_load(&cfg, NULL, ov2, 1, NULL, err, sizeof(err)), STRATA_ECONFIG);
    assert_non_null(strstr(err, "num.partitions"));

    const char *ov3[] = {"listeners=SSL://:9093"};
    assert_int_equal(cfg_broker_load(&cfg, NULL, ov3, 1, NULL, err, sizeof(err)), STRATA_ECONFIG);
    assert_non_null(strstr(err, "listeners"));

    const char *ov4[] = {"log.message.timestamp.type=Sometime"};
    assert_int_equal(cfg_broker_load(&cfg, NULL, ov4, 1, NULL, err, sizeof(err)), STRATA_ECONFIG);
    assert_non_null(strstr(err, "log.message.timestamp.type"));

    const char *ov5[] = {"no-equals-sign"};
    assert_int_not_equal(cfg_broker_load(&cfg, NULL, ov5, 1, NULL, err, sizeof(err)), 0);
}

static void test_cfg_broker_load_missing_file_fails(void **state) {
    (void)state;
    broker_cfg_t cfg;
    char err[256] = "";
    assert_int_not_equal(
        cfg_broker_load(&cfg, "/nonexistent/server.properties", NULL, 0, NULL, err, sizeof(err)),
        0);
    assert_non_null(strstr(err, "/nonexistent/server.properties"));
}

static void test_cfg_parse_listener_forms(void **state) {
    (void)state;
    char *host = NULL;
    int32_t port = -1;
    assert_int_equal(cfg_parse_listener("PLAINTEXT://:9092", &host, &port), 0);
    assert_string_equal(host, "");
    assert_int_equal(port, 9092);
    free(host);
    assert_int_equal(cfg_parse_listener("SSL://x:1,PLAINTEXT://[::1]:0", &host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    free(host);
    assert_int_equal(cfg_parse_listener("PLAINTEXT://h:99999", &host, &port), STRATA_EINVAL);
    assert_int_equal(cfg_parse_listener("PLAINTEXT://h", &host, &port), STRATA_EINVAL);
    assert_int_equal(cfg_parse_listener("", &host, &port), STRATA_EINVAL);
}

static void test_cfg_broker_write_doc_lists_every_key(void **state) {
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cfg_broker_write_doc(f);
    fclose(f);
    for (size_t i = 0; i < cfg_broker_ndefs; i++) {
        char *needle = xasprintf("`%s`", cfg_broker_defs[i].key);
        assert_non_null(strstr(buf, needle));
        free(needle);
    }
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfg_broker_load_defaults_are_kafkas),
        cmocka_unit_test(test_cfg_broker_load_override_beats_file),
        cmocka_unit_test(test_cfg_broker_load_bad_value_names_key),
        cmocka_unit_test(test_cfg_broker_load_missing_file_fails),
        cmocka_unit_test(test_cfg_parse_listener_forms),
        cmocka_unit_test(test_cfg_broker_write_doc_lists_every_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
