/* cmd_exec.c — `bulkhead exec`: run one command in a shell session, not on
 * its terminal: POST /api/v1/sessions/{id}/exec (the whole output once it
 * ended), or with --stream the WebSocket form (output as it comes, stdin
 * streamed). Exits with the command's exit status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd_common.h"
#include "cli/cmd_stream.h"
#include "cli/ws_client.h"

static const struct cmd_desc d_exec = {
    "exec",
    "exec ID [--timeout S] [--env K=V]... [--cwd DIR] [--stream] [--] CMD [ARG...]\n"
    "                       [connection options]",
    "Run CMD with its ARGs in shell session ID as the session's user (not on\n"
    "its terminal), with what comes on standard input when that is not a\n"
    "terminal. Its output goes to standard output and error.\n\n"
    "  --timeout S         kill it (its whole process group) after S seconds\n"
    "                      (1-3600, default 60)\n"
    "  --env K=V           add K=V to its environment (repeatable)\n"
    "  --cwd DIR           run it in DIR (default /home/user)\n"
    "  --stream            stream standard input and the output as they come\n"
    "                      (WebSocket): input of any size, output up to 16 MiB\n"
    "                      of each; without it, the output comes when the\n"
    "                      command ended, at most 1 MiB of each (a note on\n"
    "                      standard error says when some was cut), and standard\n"
    "                      input at most 16 MiB\n\n"
    "Exit status: the command's; 124 when it timed out, 128+N when a signal N\n"
    "killed it, 127 when it could not start (no such command or directory),\n"
    "1 when the request failed.\n",
};

enum { OPT_EXEC_TIMEOUT = 0x200, OPT_EXEC_ENV, OPT_EXEC_CWD, OPT_EXEC_STREAM };

#define MAX_STDIN ((size_t)16 << 20)
#define DEFAULT_TIMEOUT 60
#define STREAM_MAX_OUTPUT (16 << 20) /* the API's largest maxOutputBytes */

static char *b64(const unsigned char *in, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = bh_xmalloc((len + 2) / 3 * 4 + 1), *o = out;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < len ? in[i + 2] : 0);
        *o++ = tab[v >> 18 & 63];
        *o++ = tab[v >> 12 & 63];
        *o++ = i + 1 < len ? tab[v >> 6 & 63] : '=';
        *o++ = i + 2 < len ? tab[v & 63] : '=';
    }
    *o = 0;
    return out;
}

/* All of standard input, at most MAX_STDIN bytes; NULL with err. */
static char *read_stdin(size_t *len, bh_err_t *err)
{
    size_t cap = 65536, n = 0;
    char *buf = bh_xmalloc(cap);
    for (;;) {
        if (n == cap) {
            if (cap > MAX_STDIN) {
                free(buf);
                bh_err_set(err, 0,
                           "standard input is larger than 16 MiB (--stream takes any size)");
                return NULL;
            }
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb)
                abort();
            buf = nb;
        }
        ssize_t r = read(STDIN_FILENO, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            bh_err_set(err, errno, "read standard input");
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > MAX_STDIN) {
        free(buf);
        bh_err_set(err, 0, "standard input is larger than 16 MiB (--stream takes any size)");
        return NULL;
    }
    *len = n;
    return buf;
}

struct exec_stream {
    bh_ws_client_t *ws;
    struct cmd_stream st;
};

static const unsigned char stdin_eof[2] = {CH_CLOSE, 0};

static int on_stdin(void *arg, int fd)
{
    struct exec_stream *es = arg;
    unsigned char buf[1 + 65536];
    ssize_t n = read(fd, buf + 1, sizeof buf - 1);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n > 0) {
        buf[0] = CH_STDIN;
        bh_ws_client_send(es->ws, buf, (size_t)n + 1, 1);
        return 0;
    }
    bh_ws_client_send(es->ws, stdin_eof, sizeof stdin_eof, 1);
    return -1;
}

static void on_message(void *arg, const unsigned char *data, size_t len, int binary)
{
    struct exec_stream *es = arg;
    if (cmd_stream_message(&es->st, data, len, binary) < 0)
        bh_ws_client_close(es->ws, 1003, "unexpected message");
    else if (es->st.output_failed) /* nobody reads the output: stop the command */
        bh_ws_client_close(es->ws, 1000, "output closed");
}

static int run_stream(struct conn *cn, const char *id, const char *request)
{
    bh_err_t err = BH_ERR_INIT;
    struct exec_stream es = {0};
    cmd_stream_init(&es.st, "exec");
    cleanup_free char *path = cmd_session_path(id, "/exec");
    es.ws = bh_ws_client_open(&cn->c, path, on_message, &es, &err);
    if (!es.ws)
        return cmd_fail(&err);
    bh_ws_client_send(es.ws, request, strlen(request), 0);
    if (isatty(STDIN_FILENO))
        bh_ws_client_send(es.ws, stdin_eof, sizeof stdin_eof, 1);
    else
        bh_ws_client_watch(es.ws, STDIN_FILENO, on_stdin, &es);
    int code = bh_ws_client_run(es.ws);
    int status = cmd_stream_finish(&es.st, code, code < 0 ? "" : bh_ws_client_close_reason(es.ws));
    bh_ws_client_free(es.ws);
    return status;
}

static int write_output(json_t *res, const char *key, int fd)
{
    json_t *s = json_object_get(res, key);
    if (json_is_string(s) && json_string_length(s))
        return cmd_write_all(fd, json_string_value(s), json_string_length(s));
    return 0;
}

int bh_cmd_exec(int argc, char **argv)
{
    static const struct option longopts[] = {
        CONN_LONGOPTS,
        {"timeout", required_argument, NULL, OPT_EXEC_TIMEOUT},
        {"env", required_argument, NULL, OPT_EXEC_ENV},
        {"cwd", required_argument, NULL, OPT_EXEC_CWD},
        {"stream", no_argument, NULL, OPT_EXEC_STREAM},
        {NULL, 0, NULL, 0},
    };
    const struct cmd_desc *d = &d_exec;
    struct conn_opts o = {0};
    const char *cwd = NULL, *id = NULL;
    int timeout = -1, stream = 0;
    json_auto_t *env = json_object();
    char prog[64];
    cmd_opts_begin(argv, d, prog, sizeof prog);
    /* Options stop at the command ("+"): they may come before and after ID,
     * and what follows the command (or "--") is the command's. */
    for (int round = 0; round < 2; round++) {
        int c, rc;
        while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
            switch (c) {
            case OPT_EXEC_TIMEOUT:
                timeout = cmd_parse_uint(optarg);
                if (timeout < 1 || timeout > 3600)
                    return cmd_usage_error(d, "--timeout needs 1 to 3600 seconds, not '%s'",
                                           optarg);
                break;
            case OPT_EXEC_ENV: {
                const char *eq = strchr(optarg, '=');
                if (!eq || eq == optarg)
                    return cmd_usage_error(d, "--env needs NAME=VALUE, not '%s'", optarg);
                cleanup_free char *k = strndup(optarg, (size_t)(eq - optarg));
                if (!k || json_object_set_new(env, k, json_string(eq + 1)) < 0)
                    return cmd_usage_error(d, "--env '%s' is not valid UTF-8", optarg);
                break;
            }
            case OPT_EXEC_CWD:
                cwd = optarg;
                break;
            case OPT_EXEC_STREAM:
                stream = 1;
                break;
            default:
                if ((rc = cmd_conn_opt(c, &o, d)) >= 0)
                    return rc;
            }
        }
        if (round == 0) {
            if (optind >= argc || !*argv[optind])
                return cmd_usage_error(d, "which session? (an ID is needed)");
            id = argv[optind++];
        }
    }
    if (optind >= argc)
        return cmd_usage_error(d, "which command? (CMD after the ID)");
    if (argc - optind > 256)
        return cmd_usage_error(d, "at most 256 words of command line");

    bh_err_t err = BH_ERR_INIT;
    json_auto_t *req = json_object();
    json_t *av = json_array();
    json_object_set_new(req, "argv", av);
    for (int i = optind; i < argc; i++)
        if (json_array_append_new(av, json_string(argv[i])) < 0)
            return cmd_usage_error(d, "the command's words must be UTF-8 text");
    if (timeout > 0)
        json_object_set_new(req, "timeoutSeconds", json_integer(timeout));
    if (json_object_size(env))
        json_object_set(req, "env", env);
    if (cwd && json_object_set_new(req, "cwd", json_string(cwd)) < 0)
        return cmd_usage_error(d, "--cwd is not valid UTF-8");

    cleanup_conn struct conn cn = {0};
    /* the session first: a 404 of /exec then means the command or cwd */
    if (cmd_conn_open(&cn, &o, &err) < 0 || cmd_shell_session(&cn, id, &err) < 0)
        return cmd_fail(&err);
    if (stream) {
        /* the daemon keeps even the streaming form's output to
         * maxOutputBytes (default 1 MiB, and says nothing when it cut):
         * ask for its most */
        json_object_set_new(req, "maxOutputBytes", json_integer(STREAM_MAX_OUTPUT));
        cleanup_free char *text = json_dumps(req, JSON_COMPACT);
        return run_stream(&cn, id, text);
    }

    if (!isatty(STDIN_FILENO)) {
        size_t n = 0;
        cleanup_free char *in = read_stdin(&n, &err);
        if (!in)
            return cmd_fail(&err);
        json_t *s = n ? json_stringn(in, n) : NULL; /* NULL: not UTF-8 text */
        if (s)
            json_object_set_new(req, "stdin", s);
        else if (n) {
            cleanup_free char *enc = b64((unsigned char *)in, n);
            json_object_set_new(req, "stdinBase64", json_string(enc));
        }
    }
    cleanup_free char *text = json_dumps(req, JSON_COMPACT);
    /* the reply comes when the command ended: wait for its timeout */
    cn.c.timeout_ms = ((timeout > 0 ? timeout : DEFAULT_TIMEOUT) + 60) * 1000L;
    cleanup_free char *path = cmd_session_path(id, "/exec");
    struct bh_client_resp resp __attribute__((cleanup(bh_client_resp_clear))) = {0};
    if (cmd_call(&cn, "POST", path, text, &resp, &err) < 0) {
        int not_found = resp.status == 404 && strstr(resp.body ? resp.body : "", "\"not_found\"");
        cmd_fail(&err);
        return not_found ? EXIT_CANNOT_RUN : BH_EXIT_FAIL;
    }
    json_auto_t *res = cmd_parse_body(&resp, &err);
    if (!res)
        return cmd_fail(&err);
    fflush(stdout);
    if (write_output(res, "stdout", STDOUT_FILENO) < 0 && errno != EPIPE)
        fprintf(stderr, "bulkhead: exec: writing standard output: %s\n", strerror(errno));
    write_output(res, "stderr", STDERR_FILENO);
    if (json_is_true(json_object_get(res, "stdoutTruncated")))
        fprintf(stderr, "bulkhead: exec: standard output was cut (more than 1 MiB; --stream "
                        "has no limit)\n");
    if (json_is_true(json_object_get(res, "stderrTruncated")))
        fprintf(stderr, "bulkhead: exec: standard error was cut (more than 1 MiB; --stream "
                        "has no limit)\n");
    return cmd_exec_status(res);
}
