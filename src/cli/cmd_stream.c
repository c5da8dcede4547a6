/* cmd_stream.c — see cmd_stream.h. */
#include "cli/cmd_stream.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cmd_shell_session(struct conn *cn, const char *id, bh_err_t *err)
{
    cleanup_free char *path = cmd_session_path(id, NULL);
    struct bh_client_resp resp __attribute__((cleanup(bh_client_resp_clear))) = {0};
    if (cmd_call(cn, "GET", path, NULL, &resp, err) < 0)
        return -1;
    json_auto_t *s = cmd_parse_body(&resp, err);
    if (!s)
        return -1;
    const char *type = json_string_value(json_object_get(s, "type"));
    if (!type || strcmp(type, "shell")) {
        cleanup_free char *safe = cmd_printable(id);
        cleanup_free char *t = cmd_printable(type ? type : "browser");
        return bh_err_set(err, 0, "session %s is a %s session, not a shell session", safe, t);
    }
    return 0;
}

int cmd_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) { /* a non-blocking descriptor shared with stdin */
                struct pollfd pfd = {.fd = fd, .events = POLLOUT};
                poll(&pfd, 1, -1);
                continue;
            }
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void cmd_stream_init(struct cmd_stream *st, const char *what)
{
    memset(st, 0, sizeof *st);
    st->what = what;
}

static int signal_number(const char *name)
{
    for (int s = 1; s < NSIG; s++) {
        const char *abbrev = sigabbrev_np(s);
        if (abbrev && !strcmp(abbrev, name))
            return s;
    }
    return 0;
}

int cmd_exec_status(json_t *res)
{
    json_t *code = json_object_get(res, "exitCode");
    const char *sig = json_string_value(json_object_get(res, "signal"));
    if (json_is_true(json_object_get(res, "timedOut"))) {
        fprintf(stderr, "bulkhead: exec: the command timed out and was killed\n");
        return EXIT_TIMEDOUT;
    }
    if (json_is_integer(code))
        return (int)(json_integer_value(code) & 0xff);
    if (sig) {
        cleanup_free char *safe = cmd_printable(sig);
        fprintf(stderr, "bulkhead: exec: the command was killed by SIG%s\n", safe);
        int n = signal_number(sig);
        return n ? 128 + n : BH_EXIT_FAIL;
    }
    return BH_EXIT_FAIL;
}

static void stream_status(struct cmd_stream *st, const unsigned char *data, size_t len)
{
    json_auto_t *j = json_loadb((const char *)data, len, 0, NULL);
    st->have_status = 1;
    st->status = BH_EXIT_FAIL;
    if (!json_is_object(j)) {
        fprintf(stderr, "bulkhead: %s: the server's status is not JSON\n", st->what);
        return;
    }
    const char *error = json_string_value(json_object_get(j, "error"));
    const char *status = json_string_value(json_object_get(j, "status"));
    if (error) { /* exec: the command could not run */
        cleanup_free char *safe = cmd_printable(error);
        fprintf(stderr, "bulkhead: %s: %s\n", st->what, safe);
        st->status = EXIT_CANNOT_RUN;
    } else if (status) { /* terminal */
        json_t *code = json_object_get(j, "exitCode");
        if (!strcmp(status, "Success"))
            st->status = BH_EXIT_OK;
        else if (json_is_integer(code))
            st->status = (int)(json_integer_value(code) & 0xff);
        else {
            cleanup_free char *safe = cmd_printable(cmd_str_or_dash(json_object_get(j, "message")));
            fprintf(stderr, "bulkhead: %s: %s\n", st->what, safe);
        }
    } else {
        st->status = cmd_exec_status(j);
    }
}

int cmd_stream_message(struct cmd_stream *st, const unsigned char *data, size_t len, int binary)
{
    if (!binary || !len)
        return -1;
    switch (data[0]) {
    case CH_STDOUT:
    case CH_STDERR:
        if (!st->output_failed &&
            cmd_write_all(data[0] == CH_STDOUT ? STDOUT_FILENO : STDERR_FILENO, data + 1, len - 1) <
                0)
            st->output_failed = errno ? errno : EIO;
        return 0;
    case CH_STATUS:
        stream_status(st, data + 1, len - 1);
        return 0;
    default:
        return -1;
    }
}

int cmd_stream_finish(struct cmd_stream *st, int code, const char *reason)
{
    if (st->output_failed && st->output_failed != EPIPE)
        fprintf(stderr, "bulkhead: %s: writing the output: %s\n", st->what,
                strerror(st->output_failed));
    if (st->have_status)
        return st->status;
    if (code < 0)
        fprintf(stderr, "bulkhead: %s: the connection failed\n", st->what);
    else
        fprintf(stderr, "bulkhead: %s: the connection closed without a status (%d%s%s)\n", st->what,
                code, reason && *reason ? ": " : "", reason ? reason : "");
    return BH_EXIT_FAIL;
}
