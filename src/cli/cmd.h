/* cmd.h — the CLI's subcommands, dispatched by main.c through its command
 * table. Each takes the arguments from its own name on (argv[0] is the
 * command name, so getopt_long works as in a main()) and returns the
 * process's exit status. Only main.c and the cmd_*.c files include this. */
#ifndef BH_CMD_H
#define BH_CMD_H

#define BH_VERSION "0.1.0"

#ifndef BH_DEFAULT_STATE_DIR
#define BH_DEFAULT_STATE_DIR "/var/lib/bulkhead"
#endif
#define BH_DEFAULT_URL "http://127.0.0.1:8420"

/* Exit statuses of every command. */
#define BH_EXIT_OK 0
#define BH_EXIT_FAIL 1  /* the command ran and failed */
#define BH_EXIT_USAGE 2 /* bad or missing arguments */

/* cmd_serve.c: run the daemon. */
int bh_cmd_serve(int argc, char **argv);

/* The REST API clients, one file each (cmd_create.c, cmd_ls.c, cmd_get.c,
 * cmd_rm.c, cmd_screenshot.c, cmd_token.c), sharing cmd_common.h. */
int bh_cmd_create(int argc, char **argv);
int bh_cmd_ls(int argc, char **argv);
int bh_cmd_get(int argc, char **argv);
int bh_cmd_rm(int argc, char **argv);
int bh_cmd_screenshot(int argc, char **argv);
int bh_cmd_token(int argc, char **argv);

/* Shell sessions (docs/terminal.md), one file each (cmd_shell.c,
 * cmd_exec.c, cmd_cp.c, cmd_labs.c, cmd_check.c), sharing cmd_stream.h. */
int bh_cmd_shell(int argc, char **argv);
int bh_cmd_exec(int argc, char **argv);
int bh_cmd_cp(int argc, char **argv);
int bh_cmd_labs(int argc, char **argv);
int bh_cmd_check(int argc, char **argv);

#endif
