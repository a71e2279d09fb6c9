/*
 * topics_fmt: the pure parts of `strata topics`: kafka-topics.sh's argument formats
 * (--replica-assignment, --config, the --topic include list) and its --describe output
 * lines, byte for byte.
 */
#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

void cli_uuid_base64(const uint8_t uuid[16], char out[23]) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= 15; i += 3) {
        uint32_t v = (uint32_t)uuid[i] << 16 | (uint32_t)uuid[i + 1] << 8 | uuid[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    /* One byte left (16 = 5*3 + 1): two characters, no padding. */
    uint32_t v = (uint32_t)uuid[15] << 16;
    out[o++] = alphabet[(v >> 18) & 63];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o] = '\0';
}

bool cli_uuid_is_zero(const uint8_t uuid[16]) {
    for (int i = 0; i < 16; i++) {
        if (uuid[i] != 0) {
            return false;
        }
    }
    return true;
}

static char *trim_dup(const char *s, size_t n) {
    while (n > 0 && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1])) {
        n--;
    }
    return xstrndup(s, n);
}

int cli_parse_replica_assignment(const char *s, cli_assignment_t *out, char *err, size_t err_len) {
    out->n_partitions = 0;
    out->rf = 0;
    out->brokers = NULL;
    size_t cap = 0;
    size_t used = 0;
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t plen = comma ? (size_t)(comma - p) : strlen(p);
        int32_t row[1024];
        int32_t n = 0;
        const char *q = p;
        const char *end = p + plen;
        for (;;) {
            const char *colon = memchr(q, ':', (size_t)(end - q));
            size_t qlen = colon ? (size_t)(colon - q) : (size_t)(end - q);
            char *word = trim_dup(q, qlen);
            int64_t id;
            if (parse_int64(word, &id) != 0 || id < INT32_MIN || id > INT32_MAX) {
                snprintf(err, err_len, "Invalid replica assignment: '%s' is not a broker id", word);
                free(word);
                goto fail;
            }
            free(word);
            if (n == (int32_t)(sizeof(row) / sizeof(row[0]))) {
                snprintf(err, err_len, "Invalid replica assignment: too many replicas");
                goto fail;
            }
            row[n++] = (int32_t)id;
            if (colon == NULL) {
                break;
            }
            q = colon + 1;
        }
        /* Duplicates, in the order they repeat. */
        char dups[256] = "";
        size_t dl = 0;
        for (int32_t i = 0; i < n; i++) {
            bool seen_before = false, reported = false;
            for (int32_t j = 0; j < i; j++) {
                seen_before = seen_before || row[j] == row[i];
            }
            for (int32_t j = i + 1; j < n && !seen_before; j++) {
                reported = reported || row[j] == row[i];
            }
            if (reported && dl < sizeof(dups) - 16) {
                dl += (size_t)snprintf(dups + dl, sizeof(dups) - dl, "%s%d", dl ? "," : "", row[i]);
            }
        }
        if (dl > 0) {
            snprintf(err, err_len, "Partition replica lists may not contain duplicate entries: %s",
                     dups);
            goto fail;
        }
        if (out->n_partitions == 0) {
            out->rf = n;
        } else if (n != out->rf) {
            char list[512];
            size_t ll = 0;
            list[0] = '\0';
            for (int32_t i = 0; i < n && ll < sizeof(list) - 16; i++) {
                ll += (size_t)snprintf(list + ll, sizeof(list) - ll, "%s%d", i ? ", " : "", row[i]);
            }
            snprintf(err, err_len, "Partition %d has different replication factor: [%s]",
                     out->n_partitions, list);
            goto fail;
        }
        if (used + (size_t)n > cap) {
            cap = (cap + (size_t)n) * 2;
            out->brokers = xrealloc(out->brokers, cap * sizeof(int32_t));
        }
        memcpy(out->brokers + used, row, (size_t)n * sizeof(int32_t));
        used += (size_t)n;
        out->n_partitions++;
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    return 0;
fail:
    cli_assignment_free(out);
    return -1;
}

void cli_assignment_free(cli_assignment_t *a) {
    free(a->brokers);
    a->brokers = NULL;
    a->n_partitions = 0;
    a->rf = 0;
}

int cli_parse_topic_config(const char *s, char **key, char **value) {
    const char *eq = strchr(s, '=');
    if (eq == NULL || strchr(eq + 1, '=') != NULL) {
        return -1;
    }
    char *k = trim_dup(s, (size_t)(eq - s));
    char *v = trim_dup(eq + 1, strlen(eq + 1));
    if (k[0] == '\0' || v[0] == '\0') {
        free(k);
        free(v);
        return -1;
    }
    *key = k;
    *value = v;
    return 0;
}

struct cli_topic_filter {
    regex_t re;
};

cli_topic_filter_t *cli_topic_filter_new(const char *include, char *err, size_t err_len) {
    /* Kafka's IncludeList: trim, ',' means '|', spaces dropped, surrounding quotes dropped. */
    buf_t pat = BUF_INIT;
    buf_append(&pat, "^(", 2);
    const char *s = include;
    size_t n = strlen(s);
    while (n > 0 && (isspace((unsigned char)*s) || *s == '"' || *s == '\'')) {
        s++;
        n--;
    }
    while (n > 0 && (isspace((unsigned char)s[n - 1]) || s[n - 1] == '"' || s[n - 1] == '\'')) {
        n--;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i] == ',' ? '|' : s[i];
        if (c != ' ') {
            buf_append(&pat, &c, 1);
        }
    }
    buf_append(&pat, ")$", 3);
    cli_topic_filter_t *f = xmalloc(sizeof(*f));
    int rc = regcomp(&f->re, (char *)pat.data, REG_EXTENDED | REG_NOSUB);
    buf_destroy(&pat);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &f->re, msg, sizeof(msg));
        snprintf(err, err_len, "invalid --topic expression '%s': %s", include, msg);
        free(f);
        return NULL;
    }
    return f;
}

bool cli_topic_filter_match(const cli_topic_filter_t *f, const char *topic) {
    return regexec(&f->re, topic, 0, NULL, 0) == 0;
}

void cli_topic_filter_free(cli_topic_filter_t *f) {
    if (f == NULL) {
        return;
    }
    regfree(&f->re);
    free(f);
}

bool cli_topic_has_collision_chars(const char *topic) {
    return strchr(topic, '.') != NULL || strchr(topic, '_') != NULL;
}

bool cli_topic_is_internal_name(const char *topic) {
    return strcmp(topic, "__consumer_offsets") == 0 || strcmp(topic, "__transaction_state") == 0;
}

static void append_str(buf_t *out, const char *s) {
    buf_append(out, s, strlen(s));
}

static void append_int(buf_t *out, int64_t v) {
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
    buf_append(out, tmp, (size_t)n);
}

static void append_list(buf_t *out, const int32_t *v, int32_t n) {
    for (int32_t i = 0; i < n; i++) {
        if (i > 0) {
            buf_append(out, ",", 1);
        }
        append_int(out, v[i]);
    }
}

void cli_format_topic_line(buf_t *out, const char *topic, const uint8_t topic_id[16],
                           int32_t partition_count, int32_t replication_factor,
                           const char *configs) {
    append_str(out, "Topic: ");
    append_str(out, topic);
    if (topic_id != NULL && !cli_uuid_is_zero(topic_id)) {
        char id[23];
        cli_uuid_base64(topic_id, id);
        append_str(out, "\tTopicId: ");
        append_str(out, id);
    }
    append_str(out, "\tPartitionCount: ");
    append_int(out, partition_count);
    append_str(out, "\tReplicationFactor: ");
    append_int(out, replication_factor);
    append_str(out, "\tConfigs: ");
    append_str(out, configs ? configs : "");
    append_str(out, "\n");
}

void cli_format_partition_line(buf_t *out, const char *topic, int32_t partition, int32_t leader,
                               const int32_t *replicas, int32_t n_replicas, const int32_t *isr,
                               int32_t n_isr) {
    append_str(out, "\tTopic: ");
    append_str(out, topic);
    append_str(out, "\tPartition: ");
    append_int(out, partition);
    append_str(out, "\tLeader: ");
    if (leader < 0) {
        append_str(out, "none");
    } else {
        append_int(out, leader);
    }
    append_str(out, "\tReplicas: ");
    append_list(out, replicas, n_replicas);
    append_str(out, "\tIsr: ");
    append_list(out, isr, n_isr);
    append_str(out, "\n");
}
