/* cmd_stream.h — what the commands of shell sessions share (cmd_shell.c,
 * cmd_exec.c, cmd_cp.c, cmd_check.c): checking that an ID names a shell
 * session, and the channel protocol of docs/terminal.md as the terminal
 * and the streaming exec speak it (a binary message's first byte is its
 * channel): output to standard output and error, the status message, and
 * the exit status it means. Only the cmd_*.c files include this. */
#ifndef BH_CMD_STREAM_H
#define BH_CMD_STREAM_H

#include <stddef.h>

#include "cli/cmd_common.h"

enum {
    CH_STDIN = 0,   /* client → server: input */
    CH_STDOUT = 1,  /* server → client: output (a terminal's, or stdout) */
    CH_STDERR = 2,  /* server → client: exec's stderr */
    CH_STATUS = 3,  /* server → client: status JSON, last */
    CH_RESIZE = 4,  /* client → server: {"Width":c,"Height":r} */
    CH_CLOSE = 255, /* client → server: one byte 0, stdin ended (exec) */
};

/* Exit statuses of exec and shell besides the command's own. */
#define EXIT_TIMEDOUT 124   /* the command ran out of its time (as timeout(1)) */
#define EXIT_CANNOT_RUN 127 /* no such command or directory (as a shell) */

/* GET the session and check that it is a shell session: -1 with err (not
 * found, another type, no reply) otherwise. */
int cmd_shell_session(struct conn *cn, const char *id, bh_err_t *err);

/* Write all of buf to fd, waiting when fd is non-blocking. -1 with errno. */
int cmd_write_all(int fd, const void *buf, size_t len);

struct cmd_stream {
    const char *what; /* "shell" or "exec": for messages */
    int have_status;
    int status;        /* the exit status the status message means */
    int output_failed; /* writing standard output or error failed */
};

void cmd_stream_init(struct cmd_stream *st, const char *what);
/* One message from the server: channel 1 to standard output, 2 to
 * standard error, 3 the status (terminal: {"status":"Success"|"Failure",
 * "exitCode"}; exec: {"exitCode","signal","timedOut"} or {"error"}).
 * -1 for what the protocol does not have (text, unknown channel). */
int cmd_stream_message(struct cmd_stream *st, const unsigned char *data, size_t len, int binary);
/* The exit status once the connection closed with code and reason: the
 * status message's, or BH_EXIT_FAIL (saying why) when none came. */
int cmd_stream_finish(struct cmd_stream *st, int code, const char *reason);
/* The exit status for an exec result (POST reply or status message):
 * exitCode, 124 on timeout (with a note on stderr), 128+N for signal N. */
int cmd_exec_status(json_t *res);

#endif
