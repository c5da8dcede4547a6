/* main.c — the `bulkhead` entry point: finds the subcommand in the command
 * table and hands it the rest of the arguments. Each command lives in its
 * own cmd_*.c file and returns the exit status. */
#include <stdio.h>
#include <string.h>

#include "cli/cmd.h"

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"serve", bh_cmd_serve, "run the daemon (REST API, web UI, live view, CDP)"},
    {"create", bh_cmd_create, "start a session and print its id"},
    {"ls", bh_cmd_ls, "list sessions"},
    {"get", bh_cmd_get, "show one session"},
    {"rm", bh_cmd_rm, "end sessions"},
    {"screenshot", bh_cmd_screenshot, "save a PNG of a session's page"},
    {"shell", bh_cmd_shell, "open a shell session's terminal here"},
    {"exec", bh_cmd_exec, "run a command in a shell session"},
    {"cp", bh_cmd_cp, "copy files to and from a shell session"},
    {"labs", bh_cmd_labs, "list the labs"},
    {"check", bh_cmd_check, "run a lab session's check"},
    {"token", bh_cmd_token, "create, list and revoke API tokens (admin)"},
    {"version", cmd_version, "print the version"},
    {"help", cmd_help, "show this help, or a command's help"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bulkhead <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\n"
            "Client commands find the daemon through --server URL and --token TOKEN,\n"
            "else BULKHEAD_URL and BULKHEAD_TOKEN, else the url and token files in the\n"
            "state directory (--state-dir DIR, BULKHEAD_STATE_DIR, default %s);\n"
            "the address defaults to %s.\n"
            "Run 'bulkhead help <command>' or 'bulkhead <command> --help' for its options.\n",
            BH_DEFAULT_STATE_DIR, BH_DEFAULT_URL);
}

static int cmd_version(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: bulkhead version\n");
        return BH_EXIT_USAGE;
    }
    printf("bulkhead %s\n", BH_VERSION);
    return BH_EXIT_OK;
}

/* `bulkhead help CMD` is `bulkhead CMD --help`, so each command's help text
 * lives only with the command. */
static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        usage(stdout);
        return BH_EXIT_OK;
    }
    const struct command *c = find_command(argv[1]);
    if (argc > 2 || !c) {
        if (!c)
            fprintf(stderr, "bulkhead: unknown command '%s'\n", argv[1]);
        fprintf(stderr, "usage: bulkhead help [COMMAND]\n");
        return BH_EXIT_USAGE;
    }
    if (c->run == cmd_help || c->run == cmd_version) {
        printf("usage: bulkhead %s%s\n", c->name, c->run == cmd_help ? " [COMMAND]" : "");
        return BH_EXIT_OK;
    }
    char *sub[] = {argv[1], (char *)"--help", NULL};
    return c->run(2, sub);
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return BH_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version"))
        return cmd_version(1, argv + 1);
    const struct command *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr,
                "bulkhead: unknown command '%s'\n"
                "Run 'bulkhead help' for the list of commands.\n",
                argv[1]);
        return BH_EXIT_USAGE;
    }
    return c->run(argc - 1, argv + 1);
}
