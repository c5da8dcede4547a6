/* cmd_common.h — what the REST API client commands (cmd_create.c, cmd_ls.c,
 * cmd_get.c, cmd_rm.c, cmd_screenshot.c, cmd_token.c) share: their help and
 * usage errors, the options every one takes, finding the daemon (flags,
 * environment, state dir) and calling it through client.h, and printing
 * for people or (--json) programs. Exit statuses: 0 ok, 1 the request
 * failed, 2 bad arguments. Only the cmd_*.c files include this. */
#ifndef BH_CMD_COMMON_H
#define BH_CMD_COMMON_H

#include <getopt.h>
#include <stddef.h>

#include "cli/client.h"
#include "cli/cmd.h"
#include "lib/err.h"
#include "lib/json.h"
#include "lib/util.h"

#define API "/api/v1/sessions"

/* ------------------------------------------------------------------------ */
/* Usage */

struct cmd_desc {
    const char *name;
    const char *usage; /* after "usage: bulkhead " */
    const char *help;  /* what it does and its own options */
};

/* Print command d's help (its usage, what it does, the connection options)
 * to stdout. */
void cmd_print_help(const struct cmd_desc *d);
/* Print "bulkhead CMD: <msg>" (if fmt) and the usage line to stderr.
 * Returns BH_EXIT_USAGE. */
__attribute__((format(printf, 2, 3))) int cmd_usage_error(const struct cmd_desc *d, const char *fmt,
                                                          ...);
/* Print the error as "bulkhead: <msg>" and return BH_EXIT_FAIL. */
int cmd_fail(bh_err_t *err);

/* ------------------------------------------------------------------------ */
/* Options every client command takes */

/* The long options' values of every command (getopt_long's val). */
enum {
    OPT_SERVER = 0x100,
    OPT_TOKEN,
    OPT_STATE_DIR,
    OPT_JSON,
    OPT_STATUS,
    OPT_URL,
    OPT_TYPE,
    OPT_WIDTH,
    OPT_HEIGHT,
    OPT_IDLE,
    OPT_TTL,
    OPT_NAME,
    OPT_ROLE,
    OPT_MAXS,
    OPT_PAGELOAD,
};

#define CONN_LONGOPTS                                          \
    {"server", required_argument, NULL, OPT_SERVER},           \
        {"token", required_argument, NULL, OPT_TOKEN},         \
        {"state-dir", required_argument, NULL, OPT_STATE_DIR}, \
    {                                                          \
        "help", no_argument, NULL, 'h'                         \
    }

struct conn_opts {
    const char *server, *token, *state_dir;
};

/* Start option parsing for command d: getopt's messages then read
 * "bulkhead CMD: ...". */
void cmd_opts_begin(char **argv, const struct cmd_desc *d, char *prog, size_t size);
/* Handle an option that every client command takes. Returns -1 to go on
 * parsing, or the exit status the command returns now. */
int cmd_conn_opt(int c, struct conn_opts *o, const struct cmd_desc *d);

/* ------------------------------------------------------------------------ */
/* Connection: where the daemon is and how to authenticate */

struct conn {
    struct bh_client c;
    char *url;
    char *token;
    char *token_hint; /* why there is no token, appended to a 401; or NULL */
};

void cmd_conn_clear(struct conn *cn);
#define cleanup_conn __attribute__((cleanup(cmd_conn_clear)))

/* Resolve address and token: flags, then environment, then state dir files. */
int cmd_conn_open(struct conn *cn, const struct conn_opts *o, bh_err_t *err);
/* One API call that must succeed with a 2xx reply: otherwise -1 with err
 * saying why (transport error or the API's error). */
int cmd_call(struct conn *cn, const char *method, const char *path, const char *body,
             struct bh_client_resp *resp, bh_err_t *err);
/* DELETE collection/<id> for each of the n ids (`rm`, `token rm`), printing
 * each id removed and saying why for each that was not; no reply at all
 * stops there (the others would fail too). BH_EXIT_OK, or BH_EXIT_FAIL if
 * any failed. */
int cmd_delete_each(struct conn *cn, const char *collection, char **ids, int n);
/* A command whose arguments are connection options and IDs of collection
 * (what: "sessions", "tokens") to delete, from optind on: checks them,
 * connects, deletes each (cmd_delete_each). The exit status. */
int cmd_delete_args(int argc, char **argv, const struct cmd_desc *d, const char *collection,
                    const char *what);

/* ------------------------------------------------------------------------ */
/* Output helpers */

/* s with control characters (terminal escapes from page titles and URLs)
 * replaced by '?'. Caller frees. */
char *cmd_printable(const char *s);
/* The body as the API sent it, newline-terminated. Returns BH_EXIT_OK. */
int cmd_print_raw(const struct bh_client_resp *resp);
/* The reply's body as JSON; NULL with err if it is not. */
json_t *cmd_parse_body(const struct bh_client_resp *resp, bh_err_t *err);
/* j's string, or "-" if it is none or empty. */
const char *cmd_str_or_dash(json_t *j);
/* A session ID from the command line, escaped for the URL path. */
char *cmd_session_path(const char *id, const char *suffix);
/* Parse a non-negative int option; -1 if it is not one. */
int cmd_parse_uint(const char *s);

#endif
