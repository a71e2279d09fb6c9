/*
 * strata: the command-line tool's entry point and subcommand table
 * (`strata topics|produce|consume ...`). Each subcommand parses its own options and
 * returns the process exit code (0 ok, 1 error, 2 usage).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} subcommand_t;

static const subcommand_t commands[] = {
    {"topics", cli_cmd_topics, "Create, delete, describe, list or alter topics (kafka-topics.sh)."},
    {"produce", cli_cmd_produce, "Send lines from stdin as records to a topic."},
    {"consume", cli_cmd_consume, "Print records of a topic, one value per line."},
    {"consumer-groups", cli_cmd_consumer_groups,
     "List, describe or delete consumer groups, reset their offsets."},
};

static void usage(FILE *f) {
    fprintf(f, "Usage: strata <command> [options]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(f, "\nRun 'strata <command> --help' for the options of a command.\n"
               "Exit status: 0 success, 1 error, 2 usage error.\n");
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            return commands[i].run(argc - 2, argv + 2);
        }
    }
    fprintf(stderr, "strata: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
