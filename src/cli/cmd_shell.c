/* cmd_shell.c — `bulkhead shell`: the session's terminal in the user's own
 * terminal, as `docker exec -it` or `kubectl exec -it` do: the channel
 * protocol of docs/terminal.md over WS /api/v1/sessions/{id}/terminal.
 * With a terminal on standard input it switches that terminal to raw mode
 * (restored on every way out, fatal signals included) and follows its size;
 * otherwise it relays standard input as it is, and its end as the line
 * `exit`. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cmd_common.h"
#include "cli/cmd_stream.h"
#include "cli/ws_client.h"

static const struct cmd_desc d_shell = {
    "shell",
    "shell ID [connection options]",
    "Open the terminal of shell session ID here (as `docker exec -it` does):\n"
    "what you type goes to the session's login shell, its output comes here,\n"
    "and the window's size follows yours. Leaving the shell (exit, Ctrl-D)\n"
    "ends the command with the shell's exit status; the session stays, and the\n"
    "next `bulkhead shell` starts a new login shell in the same workspace.\n"
    "Every terminal of a session shows the same shell; a new one first gets\n"
    "the last 64 KiB of output.\n\n"
    "When standard input is not a terminal, it is sent as typed input and its\n"
    "end as the line `exit`, so `bulkhead shell ID < script` runs the script's\n"
    "lines in the shell and exits with the status of the last one.\n"
    "Exit status: the shell's, or 1 when the connection failed or ended\n"
    "without one.\n",
};

/* The terminal's state before raw mode; restored by restore_tty() from any
 * exit path, the signal handlers included (tcsetattr is async-signal-safe). */
static int tty_fd = -1;
static struct termios tty_saved;
static int tty_flags = -1; /* its file status flags (O_NONBLOCK), shared with the shell we run in */
static volatile sig_atomic_t tty_raw;
static int sig_pipe[2] = {-1, -1};

static void restore_tty(void)
{
    if (tty_raw) {
        tcsetattr(tty_fd, TCSADRAIN, &tty_saved);
        if (tty_flags >= 0)
            fcntl(tty_fd, F_SETFL, tty_flags);
        tty_raw = 0;
    }
}

static void on_fatal_signal(int sig)
{
    restore_tty();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void on_winch(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (write(sig_pipe[1], &b, 1) < 0) {
        /* the pipe is full: a resize is pending already */
    }
    errno = saved;
}

static int make_raw(void)
{
    if (tcgetattr(tty_fd, &tty_saved) < 0)
        return -1;
    tty_flags = fcntl(tty_fd, F_GETFL);
    struct termios raw = tty_saved;
    cfmakeraw(&raw);
    atexit(restore_tty);
    tty_raw = 1;
    if (tcsetattr(tty_fd, TCSADRAIN, &raw) < 0) {
        tty_raw = 0;
        return -1;
    }
    return 0;
}

struct shell {
    bh_ws_client_t *ws;
    struct cmd_stream st;
    int tty;      /* standard input is a terminal */
    int mid_line; /* the input sent so far does not end with a newline */
};

static void send_size(struct shell *sh)
{
    struct winsize wsz;
    if (ioctl(tty_fd, TIOCGWINSZ, &wsz) < 0 || !wsz.ws_col || !wsz.ws_row)
        return;
    char msg[64];
    int n = snprintf(msg + 1, sizeof msg - 1, "{\"Width\":%u,\"Height\":%u}",
                     wsz.ws_col > 1000 ? 1000 : wsz.ws_col, wsz.ws_row > 1000 ? 1000 : wsz.ws_row);
    msg[0] = CH_RESIZE;
    bh_ws_client_send(sh->ws, msg, (size_t)n + 1, 1);
}

static int on_stdin(void *arg, int fd)
{
    struct shell *sh = arg;
    unsigned char buf[1 + 65536];
    ssize_t n = read(fd, buf + 1, sizeof buf - 1);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    buf[0] = CH_STDIN;
    if (n > 0) {
        bh_ws_client_send(sh->ws, buf, (size_t)n + 1, 1);
        sh->mid_line = buf[n] != '\n';
        return 0;
    }
    /* The end of piped input: the line `exit`. (Ctrl-D would do only at an
     * empty prompt: typed ahead while a command runs, the terminal's line
     * discipline drops it when the shell's line editor takes over.) */
    if (!sh->tty) {
        static const char bye[] = "\nexit\n";
        const char *b = sh->mid_line ? bye : bye + 1;
        size_t len = strlen(b);
        memcpy(buf + 1, b, len);
        bh_ws_client_send(sh->ws, buf, len + 1, 1);
    }
    return -1;
}

static int on_signal(void *arg, int fd)
{
    struct shell *sh = arg;
    unsigned char b[64];
    if (read(fd, b, sizeof b) > 0)
        send_size(sh);
    return 0;
}

static void on_message(void *arg, const unsigned char *data, size_t len, int binary)
{
    struct shell *sh = arg;
    if (cmd_stream_message(&sh->st, data, len, binary) < 0)
        bh_ws_client_close(sh->ws, 1003, "unexpected message");
}

int bh_cmd_shell(int argc, char **argv)
{
    static const struct option longopts[] = {
        CONN_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const struct cmd_desc *d = &d_shell;
    struct conn_opts o = {0};
    char prog[64];
    cmd_opts_begin(argv, d, prog, sizeof prog);
    int c, rc;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
        if ((rc = cmd_conn_opt(c, &o, d)) >= 0)
            return rc;
    if (optind >= argc || !*argv[optind])
        return cmd_usage_error(d, "which session? (an ID is needed)");
    if (optind + 1 < argc)
        return cmd_usage_error(d, "unexpected argument '%s'", argv[optind + 1]);
    const char *id = argv[optind];

    bh_err_t err = BH_ERR_INIT;
    cleanup_conn struct conn cn = {0};
    if (cmd_conn_open(&cn, &o, &err) < 0 || cmd_shell_session(&cn, id, &err) < 0)
        return cmd_fail(&err);

    struct shell sh = {0};
    sh.tty = isatty(STDIN_FILENO);
    cmd_stream_init(&sh.st, "shell");
    cleanup_free char *path = cmd_session_path(id, "/terminal");
    sh.ws = bh_ws_client_open(&cn.c, path, on_message, &sh, &err);
    if (!sh.ws)
        return cmd_fail(&err);

    signal(SIGPIPE, SIG_IGN);
    if (sh.tty) {
        tty_fd = dup(STDIN_FILENO);
        if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0 || tty_fd < 0) {
            bh_err_set(&err, errno, "pipe");
            bh_ws_client_free(sh.ws);
            return cmd_fail(&err);
        }
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_fatal_signal;
        sigemptyset(&sa.sa_mask);
        int fatal[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGABRT, SIGSEGV, SIGBUS};
        for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
            sigaction(fatal[i], &sa, NULL);
        sa.sa_handler = on_winch;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGWINCH, &sa, NULL);
        if (make_raw() < 0) {
            bh_err_set(&err, errno, "cannot put the terminal in raw mode");
            bh_ws_client_free(sh.ws);
            return cmd_fail(&err);
        }
        send_size(&sh); /* before any input: the first screen has the right size */
        bh_ws_client_watch(sh.ws, sig_pipe[0], on_signal, &sh);
    }
    bh_ws_client_watch(sh.ws, STDIN_FILENO, on_stdin, &sh);

    int code = bh_ws_client_run(sh.ws);
    restore_tty();
    int status = cmd_stream_finish(&sh.st, code, code < 0 ? "" : bh_ws_client_close_reason(sh.ws));
    bh_ws_client_free(sh.ws);
    return status;
}
