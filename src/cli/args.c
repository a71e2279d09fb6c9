/*
 * args: table-driven long-option parsing for the strata subcommands. Options are
 * "--name", "--name VALUE" or "--name=VALUE"; anything else is a usage error that
 * names the offending word. Values are borrowed from argv.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static int find_opt(const cli_args_t *a, const char *name, size_t name_len) {
    for (size_t i = 0; i < a->n_opts; i++) {
        if (strlen(a->opts[i].name) == name_len && memcmp(a->opts[i].name, name, name_len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

int cli_args_parse(cli_args_t *a, const cli_opt_t *opts, size_t n_opts, int argc, char **argv,
                   char *err, size_t err_len) {
    a->opts = opts;
    a->n_opts = n_opts;
    a->count = xcalloc(n_opts, sizeof(int));
    a->value = xcalloc(n_opts, sizeof(char *));
    a->multi = xcalloc(n_opts, sizeof(char **));
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        if (strncmp(w, "--", 2) != 0 || w[2] == '\0') {
            snprintf(err, err_len, "unexpected argument '%s'", w);
            return -1;
        }
        const char *name = w + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        int idx = find_opt(a, name, name_len);
        if (idx < 0) {
            snprintf(err, err_len, "unknown option '--%.*s'", (int)name_len, name);
            return -1;
        }
        const cli_opt_t *o = &opts[idx];
        const char *value = NULL;
        if (o->kind == CLI_OPT_FLAG) {
            if (eq != NULL) {
                snprintf(err, err_len, "option '--%s' takes no value", o->name);
                return -1;
            }
        } else if (eq != NULL) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            snprintf(err, err_len, "option '--%s' requires a value (%s)", o->name,
                     o->arg_name ? o->arg_name : "value");
            return -1;
        }
        a->count[idx]++;
        if (value != NULL) {
            a->value[idx] = value;
            if (o->kind == CLI_OPT_MULTI) {
                size_t n = (size_t)a->count[idx];
                a->multi[idx] = xrealloc(a->multi[idx], (n + 1) * sizeof(char *));
                a->multi[idx][n - 1] = value;
                a->multi[idx][n] = NULL;
            }
        }
    }
    return 0;
}

void cli_args_free(cli_args_t *a) {
    if (a->multi != NULL) {
        for (size_t i = 0; i < a->n_opts; i++) {
            free(a->multi[i]);
        }
    }
    free(a->multi);
    free(a->value);
    free(a->count);
    a->multi = NULL;
    a->value = NULL;
    a->count = NULL;
}

bool cli_args_has(const cli_args_t *a, const char *name) {
    int idx = find_opt(a, name, strlen(name));
    return idx >= 0 && a->count[idx] > 0;
}

const char *cli_args_get(const cli_args_t *a, const char *name) {
    int idx = find_opt(a, name, strlen(name));
    return idx >= 0 ? a->value[idx] : NULL;
}

const char **cli_args_multi(const cli_args_t *a, const char *name, size_t *n) {
    int idx = find_opt(a, name, strlen(name));
    *n = idx >= 0 && a->multi[idx] != NULL ? (size_t)a->count[idx] : 0;
    return idx >= 0 ? a->multi[idx] : NULL;
}

int cli_parse_int(const char *opt, const char *s, int64_t min, int64_t max, int64_t *out, char *err,
                  size_t err_len) {
    int64_t v;
    if (parse_int64(s, &v) != 0) {
        snprintf(err, err_len, "--%s: '%s' is not an integer", opt, s);
        return -1;
    }
    if (v < min || v > max) {
        snprintf(err, err_len, "--%s: %s must be between %lld and %lld", opt, s, (long long)min,
                 (long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

void cli_print_usage(FILE *f, const char *usage_line, const char *summary, const cli_opt_t *opts,
                     size_t n_opts) {
    fprintf(f, "Usage: %s\n%s\n\nOptions:\n", usage_line, summary);
    for (size_t i = 0; i < n_opts; i++) {
        char left[96];
        if (opts[i].kind == CLI_OPT_FLAG) {
            snprintf(left, sizeof(left), "--%s", opts[i].name);
        } else {
            snprintf(left, sizeof(left), "--%s <%s>", opts[i].name,
                     opts[i].arg_name ? opts[i].arg_name : "value");
        }
        fprintf(f, "  %-34s %s%s\n", left, opts[i].help,
                opts[i].kind == CLI_OPT_MULTI ? " (repeatable)" : "");
    }
    fprintf(f, "\nExit status: 0 success, 1 error (Kafka error name and reason on stderr), "
               "2 usage error.\n");
}
