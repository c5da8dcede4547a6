/* ops.c — the shell kind's requests that become streams of the agent:
 * exec (JSON and WebSocket), files (get, put, delete, tar), the lab's
 * check and setup (docs/terminal.md). */
#include "kinds/shell/shell_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/util.h"

#define EXEC_MAX_OUT (16u << 20)
#define EXEC_DEF_OUT (1u << 20)
#define CHECK_OUT (64u << 10)
#define PATH_MAX_LEN 4096

void shell_reply_err(bh_req_t *req, const struct bh_route_call *c, enum bh_err_kind kind,
                     const char *code, const char *fmt, ...)
{
    bh_err_t err = BH_ERR_INIT;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    bh_err_kind_set(&err, kind, "%s", msg);
    c->error(req, &err, code);
    bh_err_clear(&err);
}

/* An agent's A_ERROR as the API's error. */
void shell_reply_agent_err(bh_req_t *req, const struct bh_route_call *c, const char *rec,
                           size_t len, int exec)
{
    int e = (int)shell_rec_num(rec, len, "errno", EIO);
    const char *msg = shell_rec_get(rec, len, "msg");
    msg = msg ? msg : strerror(e);
    switch (e) {
    case ENOENT:
        shell_reply_err(req, c, BH_E_NOT_FOUND, "not_found", "%s", msg);
        break;
    case EXDEV:
    case ELOOP:
        shell_reply_err(req, c, BH_E_FORBIDDEN, "path_escapes",
                        "the path leads out of the workspace (%s)", msg);
        break;
    case EPERM:
        shell_reply_err(req, c, BH_E_FORBIDDEN, exec ? "permission_denied" : "not_a_regular_file",
                        "%s", msg);
        break;
    case EACCES:
        shell_reply_err(req, c, BH_E_FORBIDDEN, "permission_denied", "%s", msg);
        break;
    case ENOTDIR:
        shell_reply_err(req, c, BH_E_CONFLICT, "not_a_directory", "%s", msg);
        break;
    case EISDIR:
        shell_reply_err(req, c, BH_E_CONFLICT, "is_a_directory", "%s", msg);
        break;
    case ENOTEMPTY:
    case EEXIST:
        shell_reply_err(req, c, BH_E_CONFLICT, "directory_not_empty", "%s", msg);
        break;
    case ENOSPC:
    case EDQUOT:
        shell_reply_err(req, c, BH_E_NO_SPACE, "no_space",
                        "the workspace is full; nothing of the upload was kept");
        break;
    case EINVAL:
    case ENAMETOOLONG:
        shell_reply_err(req, c, BH_E_INVALID, "invalid_path", "%s", msg);
        break;
    default:
        shell_reply_err(req, c, BH_E_INTERNAL, "internal", "%s", msg);
    }
}

/* Text with every byte that is not UTF-8 as U+FFFD. */
char *shell_utf8_clean(const char *s, size_t n, size_t *out_len)
{
    struct shell_buf b = {0};
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80             ? 1
                   : (c & 0xE0) == 0xC0 ? 2
                   : (c & 0xF0) == 0xE0 ? 3
                   : (c & 0xF8) == 0xF0 ? 4
                                        : 0;
        int ok = k > 0 && i + k <= n && !(k == 2 && c < 0xC2);
        for (size_t j = 1; ok && j < k; j++)
            ok = ((unsigned char)s[i + j] & 0xC0) == 0x80;
        if (ok && k == 3) {
            unsigned cp = (c & 0x0Fu) << 12 | ((unsigned char)s[i + 1] & 0x3Fu) << 6;
            ok = cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF);
        }
        if (ok && k == 4) {
            unsigned cp = (c & 0x07u) << 18 | ((unsigned char)s[i + 1] & 0x3Fu) << 12;
            ok = cp >= 0x10000 && cp <= 0x10FFFF;
        }
        if (!ok) {
            shell_buf_add(&b, "\xEF\xBF\xBD", 3);
            i++;
            continue;
        }
        shell_buf_add(&b, s + i, k);
        i += k;
    }
    shell_buf_add(&b, "", 1);
    *out_len = b.len - 1;
    return b.p;
}

static json_t *text(const struct shell_buf *b)
{
    size_t n;
    char *t = shell_utf8_clean(b->p ? b->p : "", b->len, &n);
    json_t *j = json_stringn(t, n);
    free(t);
    return j ? j : json_string("");
}

/* ------------------------------------------------------------------ exec */

struct exec_req {
    bh_req_t *req;
    struct bh_route_call call; /* a copy (its error()): the API's is gone after serve() */
    struct shell_buf out, err;
    size_t max; /* of stdout and of stderr each */
    int check;  /* a lab check: answer {"passed", "output", "checkedAt"} */
    int setup;  /* the lab's setup */
    struct shell_op *op;
};

static void exec_req_free(struct exec_req *x)
{
    shell_buf_free(&x->out);
    shell_buf_free(&x->err);
    free(x);
}

/* The client left: the command is killed; its end still answers the
 * request (the reply is dropped). */
static void exec_gone(void *arg)
{
    struct exec_req *x = arg;
    if (x->op)
        shell_send(x->op->sh, W_KILL, x->op->id, NULL, 0);
}

static void setup_done(struct shell *sh, int ok, const char *why)
{
    if (ok)
        sh->so->kind_ready(sh->s);
    else
        sh->so->kind_failed(sh->s, "error", why);
}

static void exec_frame(struct shell_op *op, int type, const char *p, size_t n)
{
    struct exec_req *x = op->arg;
    struct shell *sh = op->sh;
    /* the agent caps output; what comes beyond (a process of the session
     * writing to the channel itself) is dropped here too */
    if (type == A_OUT || type == A_ERR) {
        struct shell_buf *b = type == A_OUT ? &x->out : &x->err;
        size_t room = b->len < x->max ? x->max - b->len : 0;
        shell_buf_add(b, p, n < room ? n : room);
    }
    if (type != A_EXIT && type != A_ERROR)
        return;
    x->op = NULL;
    shell_op_end(op);
    if (x->setup) {
        long long code = type == A_EXIT ? shell_rec_num(p, n, "code", -1) : -1;
        size_t len;
        char *out = shell_utf8_clean(x->out.p ? x->out.p : "", x->out.len, &len);
        char *why = bh_xasprintf("the lab's setup %s%lld: %.400s",
                                 type == A_ERROR ? "could not run, errno " : "exited with status ",
                                 type == A_ERROR ? shell_rec_num(p, n, "errno", 0) : code, out);
        free(out);
        setup_done(sh, code == 0, why);
        free(why);
        exec_req_free(x);
        return;
    }
    if (!x->req) {
        exec_req_free(x);
        return;
    }
    bh_req_on_gone(x->req, NULL, NULL);
    if (type == A_ERROR) {
        shell_reply_agent_err(x->req, &x->call, p, n, 1);
        exec_req_free(x);
        return;
    }
    long long code = shell_rec_num(p, n, "code", -1);
    long long sig = shell_rec_num(p, n, "signal", 0);
    json_t *o;
    if (x->check) {
        char when[32];
        time_t t = time(NULL);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
        o = json_pack("{s:b, s:o, s:s}", "passed", code == 0, "output", text(&x->out), "checkedAt",
                      when);
        sh->checks++;
        sh->so->event(sh->s, "checked",
                      json_pack("{s:b, s:I}", "passed", code == 0, "exitCode", (json_int_t)code));
    } else {
        const char *signame = sig == 9 ? "KILL" : sig ? sigabbrev_np((int)sig) : NULL;
        o = json_pack("{s:o, s:o, s:o, s:o, s:b, s:b, s:b, s:I}", "exitCode",
                      code >= 0 ? json_integer(code) : json_null(), "signal",
                      signame ? json_string(signame) : json_null(), "stdout", text(&x->out),
                      "stderr", text(&x->err), "stdoutTruncated",
                      (int)shell_rec_num(p, n, "truncout", 0), "stderrTruncated",
                      (int)shell_rec_num(p, n, "truncerr", 0), "timedOut",
                      (int)shell_rec_num(p, n, "timedout", 0), "durationMs",
                      (json_int_t)shell_rec_num(p, n, "ms", 0));
    }
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    bh_req_reply(x->req, 200, "application/json", body, strlen(body), NULL);
    free(body);
    exec_req_free(x);
}

static void exec_abort(struct shell_op *op)
{
    struct exec_req *x = op->arg;
    if (x->req) {
        bh_req_on_gone(x->req, NULL, NULL);
        shell_reply_err(x->req, &x->call, BH_E_NOT_READY, "not_running", "the session ended");
    }
    exec_req_free(x);
}

static int bad(struct bh_invalid *why, const char *fmt, const char *what)
{
    bh_invalid(why, "invalid_field", fmt, what);
    return -1;
}

/* The exec body (docs/terminal.md) as a record; stdin into *in. */
static int exec_parse(json_t *o, int def_max, struct shell_buf *rec, struct shell_buf *in,
                      int *has_stdin, struct bh_invalid *why)
{
    static const char *const keys[] = {"argv", "stdin", "stdinBase64",    "timeoutSeconds",
                                       "env",  "cwd",   "maxOutputBytes", NULL};
    if (!json_is_object(o))
        return bad(why, "%s", "the body must be a JSON object");
    if (bh_check_keys(o, "", keys, why) < 0)
        return -1;
    json_t *argv = json_object_get(o, "argv");
    if (!json_is_array(argv) || json_array_size(argv) < 1 || json_array_size(argv) > 256)
        return bad(why, "%s", "argv must be an array of 1 to 256 strings");
    size_t i;
    json_t *a;
    json_array_foreach(argv, i, a)
    {
        if (!json_is_string(a) || strlen(json_string_value(a)) != json_string_length(a) ||
            json_string_length(a) > 65536 || (i == 0 && !json_string_length(a)))
            return bad(why, "%s", "argv must be an array of 1 to 256 strings (no NUL)");
        shell_rec_add(rec, "arg", json_string_value(a));
    }
    int timeout = 60;
    if (bh_check_int(o, "timeoutSeconds", "timeoutSeconds", 1, 3600, &timeout, why) < 0)
        return -1;
    int max = def_max;
    if (bh_check_int(o, "maxOutputBytes", "maxOutputBytes", 1, EXEC_MAX_OUT, &max, why) < 0)
        return -1;
    char num[32];
    snprintf(num, sizeof num, "%d", timeout * 1000);
    shell_rec_add(rec, "timeout_ms", num);
    snprintf(num, sizeof num, "%d", max);
    shell_rec_add(rec, "max", num);
    json_t *env = json_object_get(o, "env");
    if (env) {
        if (!json_is_object(env) || json_object_size(env) > 64)
            return bad(why, "%s", "env must be an object of at most 64 strings");
        const char *k;
        json_t *v;
        json_object_foreach(env, k, v)
        {
            size_t kl = strlen(k);
            int ok = kl > 0 && kl < 256 && json_is_string(v) &&
                     strlen(json_string_value(v)) == json_string_length(v) &&
                     json_string_length(v) < 65536 && !(k[0] >= '0' && k[0] <= '9');
            for (size_t j = 0; ok && j < kl; j++)
                ok = k[j] == '_' || (k[j] >= 'A' && k[j] <= 'Z') || (k[j] >= 'a' && k[j] <= 'z') ||
                     (k[j] >= '0' && k[j] <= '9');
            if (!ok)
                return bad(why, "%s", "env: names [A-Za-z_][A-Za-z0-9_]*, values strings (no NUL)");
            char *kv = bh_xasprintf("%s=%s", k, json_string_value(v));
            shell_rec_add(rec, "env", kv);
            free(kv);
        }
    }
    json_t *cwd = json_object_get(o, "cwd");
    if (cwd) {
        if (!json_is_string(cwd) || json_string_value(cwd)[0] != '/' ||
            strlen(json_string_value(cwd)) != json_string_length(cwd) ||
            json_string_length(cwd) > PATH_MAX_LEN)
            return bad(why, "%s", "cwd must be an absolute path");
        shell_rec_add(rec, "cwd", json_string_value(cwd));
    }
    json_t *si = json_object_get(o, "stdin"), *sb = json_object_get(o, "stdinBase64");
    if (si && sb)
        return bad(why, "%s", "stdin and stdinBase64: one or the other");
    if (si) {
        if (!json_is_string(si))
            return bad(why, "%s", "stdin must be a string");
        shell_buf_add(in, json_string_value(si), json_string_length(si));
    } else if (sb) {
        if (!json_is_string(sb))
            return bad(why, "%s", "stdinBase64 must be a string");
        size_t n = json_string_length(sb);
        char *d = bh_xmalloc(n * 3 / 4 + 4);
        int dl = bh_b64_decode(json_string_value(sb), (int)n, d, (int)(n * 3 / 4 + 4));
        if (dl < 0) {
            free(d);
            return bad(why, "%s", "stdinBase64 is not base64");
        }
        shell_buf_add(in, d, (size_t)dl);
        free(d);
    }
    *has_stdin = si || sb;
    if (*has_stdin)
        shell_rec_add(rec, "stdin", "1");
    return 0;
}

int shell_not_ready(struct shell *sh, bh_req_t *req, const struct bh_route_call *c)
{
    if (sh->so->state(sh->s) == BH_STATE_READY && sh->wr)
        return 0;
    shell_reply_err(req, c, BH_E_NOT_READY, "not_ready", "the session is not ready");
    return 1;
}

/* Start an exec of rec with stdin (sent whole, then EOF). */
static struct exec_req *exec_start(struct shell *sh, bh_req_t *req, const struct bh_route_call *c,
                                   const struct shell_buf *rec, const void *in, size_t in_len,
                                   int has_stdin)
{
    struct exec_req *x = bh_xcalloc(1, sizeof *x);
    x->req = req;
    if (c) {
        x->call = *c;
        x->call.rest = x->call.token = x->call.public_url = NULL;
    }
    x->max = (size_t)shell_rec_num(rec->p, rec->len, "max", EXEC_DEF_OUT);
    x->op = shell_op_new(sh, exec_frame, exec_abort, x);
    shell_send(sh, W_EXEC, x->op->id, rec->p, rec->len);
    if (has_stdin) {
        if (in_len)
            shell_send(sh, W_STDIN, x->op->id, in, in_len);
        shell_send(sh, W_STDIN_EOF, x->op->id, NULL, 0);
    }
    if (req)
        bh_req_on_gone(req, exec_gone, x);
    sh->execs++;
    sh->so->touch(sh->s);
    return x;
}

void shell_serve_exec(void *k, bh_req_t *req, const struct bh_route_call *c)
{
    struct shell *sh = k;
    if (shell_not_ready(sh, req, c))
        return;
    size_t len;
    const char *body = bh_req_body(req, &len);
    json_error_t je;
    json_t *o = json_loadb(body ? body : "", len, 0, &je);
    struct shell_buf rec = {0}, in = {0};
    struct bh_invalid why;
    memset(&why, 0, sizeof why);
    int has_stdin = 0;
    if (!o) {
        shell_reply_err(req, c, BH_E_INVALID, "invalid_json", "the body is not JSON: %s", je.text);
    } else if (exec_parse(o, EXEC_DEF_OUT, &rec, &in, &has_stdin, &why) < 0) {
        shell_reply_err(req, c, BH_E_INVALID, why.code, "%s", why.msg);
    } else {
        exec_start(sh, req, c, &rec, in.p, in.len, has_stdin);
    }
    json_decref(o);
    shell_buf_free(&rec);
    shell_buf_free(&in);
}

/* A lab's script, run by `bash -s` with its output (both streams) kept to
 * max bytes: the judge or the setup. */
static struct exec_req *run_script(struct shell *sh, bh_req_t *req, const struct bh_route_call *c,
                                   const char *script, const char *max)
{
    struct shell_buf rec = {0};
    shell_rec_add(&rec, "arg", "bash");
    shell_rec_add(&rec, "arg", "-s");
    shell_rec_add(&rec, "timeout_ms", "60000");
    shell_rec_add(&rec, "max", max);
    shell_rec_add(&rec, "stdin", "1");
    char *in = bh_xasprintf("exec 2>&1\n%s", script);
    struct exec_req *x = exec_start(sh, req, c, &rec, in, strlen(in), 1);
    free(in);
    shell_buf_free(&rec);
    return x;
}

void shell_serve_check(void *k, bh_req_t *req, const struct bh_route_call *c)
{
    struct shell *sh = k;
    if (shell_not_ready(sh, req, c))
        return;
    cleanup_free char *script = shell_check_script(sh);
    if (!script) {
        shell_reply_err(req, c, BH_E_CONFLICT, "not_a_lab", "the session is not a lab's");
        return;
    }
    run_script(sh, req, c, script, "65536")->check = 1;
}

void shell_run_setup(struct shell *sh)
{
    run_script(sh, NULL, NULL, sh->setup, "4096")->setup = 1;
    sh->execs--; /* not a client's */
}

/* ------------------------------------------------------- exec, streamed */

struct exec_ws {
    struct shell *sh;
    bh_ws_t *ws;
    struct shell_op *op;
    int started; /* the command came (its first message) */
    int paused;
};

static void xws_send(bh_ws_t *ws, int ch, const char *d, size_t n)
{
    char *m = bh_xmalloc(n + 1);
    m[0] = (char)ch;
    memcpy(m + 1, d, n);
    bh_ws_send(ws, m, n + 1, 1);
    free(m);
}

static void xws_frame(struct shell_op *op, int type, const char *p, size_t n)
{
    struct exec_ws *x = op->arg;
    if (type == A_OUT || type == A_ERR) {
        xws_send(x->ws, type == A_OUT ? 1 : 2, p, n);
        if (!x->paused && bh_ws_queued(x->ws) > (1u << 20)) {
            x->paused = 1;
            shell_send(x->sh, W_PAUSE, op->id, NULL, 0);
        }
        return;
    }
    if (type != A_EXIT && type != A_ERROR)
        return;
    json_t *st;
    if (type == A_ERROR) {
        const char *msg = shell_rec_get(p, n, "msg");
        st = json_pack("{s:s}", "error", msg ? msg : "the command could not run");
    } else {
        long long code = shell_rec_num(p, n, "code", -1);
        long long sig = shell_rec_num(p, n, "signal", 0);
        const char *signame = sig == 9 ? "KILL" : sig ? sigabbrev_np((int)sig) : NULL;
        st = json_pack("{s:o, s:o, s:b, s:b, s:b, s:I}", "exitCode",
                       code >= 0 ? json_integer(code) : json_null(), "signal",
                       signame ? json_string(signame) : json_null(), "timedOut",
                       (int)shell_rec_num(p, n, "timedout", 0), "stdoutTruncated",
                       (int)shell_rec_num(p, n, "truncout", 0), "stderrTruncated",
                       (int)shell_rec_num(p, n, "truncerr", 0), "durationMs",
                       (json_int_t)shell_rec_num(p, n, "ms", 0));
    }
    char *t = json_dumps(st, JSON_COMPACT);
    json_decref(st);
    xws_send(x->ws, 3, t, strlen(t));
    free(t);
    x->op = NULL;
    shell_op_end(op);
    bh_ws_close(x->ws, 1000, "done", 0);
}

static void xws_abort(struct shell_op *op)
{
    struct exec_ws *x = op->arg;
    x->op = NULL;
    bh_ws_close(x->ws, 1001, "the session ended", 0);
}

static int xws_message(void *arg, bh_ws_t *ws, const char *d, size_t n, int binary)
{
    struct exec_ws *x = arg;
    if (x->started && !x->op)
        return 0;      /* the command ended: the close follows */
    if (!x->started) { /* the first message: the command */
        if (binary) {
            bh_ws_close(ws, 1003, "the first message is the command's JSON (text)", 0);
            return 0;
        }
        if (x->sh->so->state(x->sh->s) != BH_STATE_READY || !x->sh->wr) {
            bh_ws_close(ws, 1011, "the session is not ready", 0);
            return 0;
        }
        json_error_t je;
        json_t *o = json_loadb(d, n, 0, &je);
        struct shell_buf rec = {0}, in = {0};
        struct bh_invalid why;
        memset(&why, 0, sizeof why);
        int has_stdin = 0;
        if (!o || json_object_get(o, "stdin") || json_object_get(o, "stdinBase64") ||
            exec_parse(o, 0, &rec, &in, &has_stdin, &why) < 0) {
            char reason[120];
            snprintf(reason, sizeof reason, "%.110s",
                     !o           ? "the command is not JSON"
                     : why.msg[0] ? why.msg
                                  : "stdin goes in channel 0 messages");
            bh_ws_close(ws, 1007, reason, 0);
        } else {
            shell_rec_add(&rec, "stdin", "1");
            x->started = 1;
            x->op = shell_op_new(x->sh, xws_frame, xws_abort, x);
            shell_send(x->sh, W_EXEC, x->op->id, rec.p, rec.len);
            x->sh->execs++;
            x->sh->so->touch(x->sh->s);
        }
        json_decref(o);
        shell_buf_free(&rec);
        shell_buf_free(&in);
        return 0;
    }
    if (!binary || n < 1) {
        bh_ws_close(ws, 1003, "binary messages only after the command", 0);
        return 0;
    }
    unsigned char ch = (unsigned char)d[0];
    if (ch == 0 && n > 1)
        shell_send(x->sh, W_STDIN, x->op->id, d + 1, n - 1);
    else if (ch == 255)
        shell_send(x->sh, W_STDIN_EOF, x->op->id, NULL, 0);
    else if (ch != 0)
        bh_ws_close(ws, 1003, "unknown channel (0: stdin, 255: close)", 0);
    x->sh->so->touch(x->sh->s);
    return 0;
}

static void xws_closed(void *arg, bh_ws_t *ws)
{
    struct exec_ws *x = arg;
    (void)ws;
    if (x->op) {
        shell_send(x->sh, W_KILL, x->op->id, NULL, 0);
        x->op->frame = NULL;
        shell_op_end(x->op);
    }
    free(x);
}

static void xws_drained(void *arg, bh_ws_t *ws)
{
    struct exec_ws *x = arg;
    (void)ws;
    if (x->paused && x->op) {
        x->paused = 0;
        shell_send(x->sh, W_RESUME, x->op->id, NULL, 0);
    }
}

static const struct bh_ws_handlers xws_handlers = {xws_message, xws_closed, xws_drained};

void shell_serve_exec_ws(void *k, bh_req_t *req, const struct bh_route_call *c)
{
    struct shell *sh = k;
    if (shell_not_ready(sh, req, c))
        return;
    struct exec_ws *x = bh_xcalloc(1, sizeof *x);
    x->sh = sh;
    x->ws = bh_ws_accept(req, &xws_handlers, x);
    if (!x->ws)
        free(x);
}
