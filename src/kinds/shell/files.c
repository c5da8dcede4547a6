/* files.c — GET, PUT and DELETE /files/{path} of a shell session
 * (docs/terminal.md#files): paths checked here, resolved by the agent
 * beneath the workspace. Files and tars stream both ways: an upload's body
 * is read only as fast as the channel to the agent takes it (the body is
 * paused while more than a little waits), a download goes out only as fast
 * as the client takes it (the agent's stream is paused while more than a
 * little is queued for the client). Listings are small and sent whole. */
#include "kinds/shell/shell_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/util.h"

#define PATH_MAX_LEN 4096
#define LISTING_MAX (16u << 20) /* a listing held whole */
#define UP_HIGH (1u << 20)      /* queued to the agent: an upload pauses */
#define DOWN_HIGH (1u << 20)    /* queued to the client: a download pauses */

/* The route's rest as a workspace path: percent-decoded, checked. 0, or -1
 * after replying. */
static int file_path(bh_req_t *req, const struct bh_route_call *c, char *out, size_t size)
{
    const char *s = c->rest;
    size_t o = 0;
    for (size_t i = 0; s[i]; i++) {
        char ch = s[i];
        if (ch == '%' && s[i + 1] && s[i + 2]) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            char *end;
            long v = strtol(hex, &end, 16);
            if (*end) {
                shell_reply_err(req, c, BH_E_INVALID, "invalid_path", "bad percent-encoding");
                return -1;
            }
            ch = (char)v;
            i += 2;
        }
        if (!ch || o + 1 >= size || o >= PATH_MAX_LEN) {
            shell_reply_err(req, c, BH_E_INVALID, "invalid_path",
                            !ch ? "a NUL in the path" : "the path is longer than 4096 bytes");
            return -1;
        }
        out[o++] = ch;
    }
    while (o > 0 && out[o - 1] == '/') /* "dir/" is "dir" */
        o--;
    out[o] = 0;
    /* no "", "." or ".." component, no leading '/' */
    const char *p = out;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
            shell_reply_err(req, c, BH_E_INVALID, "invalid_path",
                            "paths have no empty, '.' or '..' component");
            return -1;
        }
        p += n + (e ? 1 : 0);
    }
    return 0;
}

struct file_req {
    struct shell *sh;
    bh_req_t *req;
    struct bh_route_call call; /* a copy (its error()): the API's is gone after serve() */
    struct shell_buf data;     /* a listing, or an error's text */
    char path[PATH_MAX_LEN + 1];
    int dir, tar, put;
    int streaming;  /* the reply is a stream (started) */
    int paused;     /* the agent's output of it is paused */
    int reading;    /* an upload's body is being read */
    int body_done;  /* ... and read to its end */
    long long size; /* bytes moved */
    struct shell_op *op;
};

static void file_free(struct file_req *f)
{
    shell_buf_free(&f->data);
    free(f);
}

/* The client left: the agent's stream is cancelled; its end finishes the
 * request (the reply is dropped). */
static void file_gone(void *arg)
{
    struct file_req *f = arg;
    if (f->op)
        shell_send(f->sh, W_KILL, f->op->id, NULL, 0);
}

static json_t *listing(const struct file_req *f)
{
    json_t *entries = json_array();
    char *all = bh_xmalloc(f->data.len + 1);
    memcpy(all, f->data.p ? f->data.p : "", f->data.len);
    all[f->data.len] = 0;
    char *save = NULL;
    for (char *line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *fld[5];
        int nf = 0;
        char *s2 = NULL;
        for (char *t = strtok_r(line, "\t", &s2); t && nf < 5; t = strtok_r(NULL, "\t", &s2))
            fld[nf++] = t;
        if (nf != 5)
            continue;
        const char *type = fld[0][0] == 'f'   ? "file"
                           : fld[0][0] == 'd' ? "dir"
                           : fld[0][0] == 'l' ? "symlink"
                                              : "other";
        char mode[8], when[32];
        snprintf(mode, sizeof mode, "%04o", (unsigned)strtoul(fld[2], NULL, 8) & 07777);
        time_t t = (time_t)strtoll(fld[3], NULL, 10);
        struct tm tm;
        if (!gmtime_r(&t, &tm))
            memset(&tm, 0, sizeof tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        size_t nl;
        char *name = shell_utf8_clean(fld[4], strlen(fld[4]), &nl);
        json_array_append_new(
            entries, json_pack("{s:s%, s:s, s:I, s:s, s:s}", "name", name, nl, "type", type, "size",
                               (json_int_t)strtoll(fld[1], NULL, 10), "mode", mode, "mtime", when));
        free(name);
    }
    free(all);
    /* sorted by name */
    size_t n = json_array_size(entries);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0; j--) {
            json_t *a = json_array_get(entries, j - 1), *b = json_array_get(entries, j);
            if (strcmp(json_string_value(json_object_get(a, "name")),
                       json_string_value(json_object_get(b, "name"))) <= 0)
                break;
            json_incref(a);
            json_array_set(entries, j - 1, b);
            json_array_set_new(entries, j, a);
        }
    return json_pack("{s:s, s:o}", "path", f->path, "entries", entries);
}

/* The client took what was queued: the agent may send more. */
static void down_drained(void *arg)
{
    struct file_req *f = arg;
    if (f->paused && f->op && bh_req_stream_queued(f->req) < DOWN_HIGH / 4) {
        f->paused = 0;
        shell_send(f->sh, W_RESUME, f->op->id, NULL, 0);
    }
}

static void down_start(struct file_req *f, const char *type, long long length)
{
    if (bh_req_stream_start(f->req, 200, type, length, NULL, down_drained, f) == 0)
        f->streaming = 1;
}

static void down_data(struct file_req *f, const char *p, size_t n)
{
    if (!f->streaming)
        return; /* the client is gone: dropped */
    if (bh_req_stream_queued(f->req) > 64 * DOWN_HIGH) {
        /* the agent does not pause (a process of the session writing to
         * the channel itself): the download is cut */
        shell_send(f->sh, W_KILL, f->op->id, NULL, 0);
        return;
    }
    if (bh_req_stream_write(f->req, p, n) < 0)
        return;
    f->size += (long long)n;
    f->sh->bytes_out += n;
    if (!f->paused && bh_req_stream_queued(f->req) > DOWN_HIGH) {
        f->paused = 1;
        shell_send(f->sh, W_PAUSE, f->op->id, NULL, 0);
    }
}

static void file_frame(struct shell_op *op, int type, const char *p, size_t n)
{
    struct file_req *f = op->arg;
    if (type == A_META) {
        const char *t = shell_rec_get(p, n, "type");
        f->dir = t && !strcmp(t, "dir");
        if (!f->dir && !f->put)
            down_start(f, "application/octet-stream", shell_rec_num(p, n, "size", -1));
        return;
    }
    if (type == A_OUT && f->tar && !f->put && !f->streaming && !f->data.len)
        down_start(f, "application/x-tar", -1);
    if (type == A_OUT && f->streaming) {
        down_data(f, p, n);
        return;
    }
    if ((type == A_OUT && (f->dir || f->tar)) || (type == A_ERR && f->tar)) {
        if (f->data.len + n <= LISTING_MAX)
            shell_buf_add(&f->data, p, n); /* a listing; tar's complaints */
        return;
    }
    if (type != A_EXIT && type != A_ERROR)
        return;
    f->op = NULL;
    shell_op_end(op);
    bh_req_t *req = f->req;
    bh_req_on_gone(req, NULL, NULL);
    if (f->streaming) {
        /* a download that failed midway ends short of its length: the
         * client sees it cut */
        bh_req_stream_end(req);
    } else if (type == A_ERROR) {
        shell_reply_agent_err(req, &f->call, p, n, 0);
    } else if (f->tar && shell_rec_num(p, n, "code", -1) != 0) {
        size_t tl;
        char *t = shell_utf8_clean(f->data.p ? f->data.p : "", f->data.len, &tl);
        shell_reply_err(req, &f->call, BH_E_INVALID, "invalid_archive", "tar: %.300s",
                        tl ? t : "failed");
        free(t);
    } else if (f->put && !f->body_done) {
        /* the agent is done before the body (cannot be, but be sure) */
        shell_reply_err(req, &f->call, BH_E_INTERNAL, "internal", "the upload ended early");
    } else if (f->put) {
        json_t *o = json_pack("{s:s, s:I}", "path", f->path, "size",
                              (json_int_t)(f->tar ? f->size : shell_rec_num(p, n, "size", 0)));
        char *body = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        bh_req_reply(req, 201, "application/json", body, strlen(body), NULL);
        free(body);
    } else if (f->tar) { /* an empty tar stream: nothing came */
        bh_req_reply(req, 200, "application/x-tar", "", 0, NULL);
    } else if (f->dir) {
        json_t *o = listing(f);
        char *body = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        bh_req_reply(req, 200, "application/json", body, strlen(body), NULL);
        free(body);
    } else {
        bh_req_reply(req, 204, "application/json", "", 0, NULL);
    }
    file_free(f);
}

static void file_abort(struct shell_op *op)
{
    struct file_req *f = op->arg;
    bh_req_on_gone(f->req, NULL, NULL);
    if (f->streaming)
        bh_req_stream_end(f->req);
    else
        shell_reply_err(f->req, &f->call, BH_E_NOT_READY, "not_running", "the session ended");
    file_free(f);
}

static struct file_req *file_start(struct shell *sh, bh_req_t *req, const struct bh_route_call *c)
{
    if (shell_not_ready(sh, req, c))
        return NULL;
    struct file_req *f = bh_xcalloc(1, sizeof *f);
    if (file_path(req, c, f->path, sizeof f->path) < 0) {
        free(f);
        return NULL;
    }
    f->sh = sh;
    f->req = req;
    f->call = *c;
    f->call.rest = NULL;
    f->call.token = NULL;
    f->call.public_url = NULL;
    return f;
}

static void file_go(struct file_req *f)
{
    f->op = shell_op_new(f->sh, file_frame, file_abort, f);
    bh_req_on_gone(f->req, file_gone, f);
    f->sh->so->touch(f->sh->s);
}

void shell_serve_files_get(void *k, bh_req_t *req, const struct bh_route_call *c)
{
    struct shell *sh = k;
    const char *q = bh_req_query(req, "format");
    if (q && strcmp(q, "tar")) {
        shell_reply_err(req, c, BH_E_INVALID, "invalid_field", "format: only \"tar\"");
        return;
    }
    struct file_req *f = file_start(sh, req, c);
    if (!f)
        return;
    file_go(f);
    struct shell_buf rec = {0};
    if (q) {
        f->tar = 1;
        shell_rec_add(&rec, "arg", "tar");
        shell_rec_add(&rec, "arg", "-cf");
        shell_rec_add(&rec, "arg", "-");
        shell_rec_add(&rec, "arg", ".");
        shell_rec_add(&rec, "dir", f->path);
        shell_rec_add(&rec, "timeout_ms", "3600000");
        shell_rec_add(&rec, "max", "0");
        shell_send(sh, W_EXEC, f->op->id, rec.p, rec.len);
    } else {
        shell_rec_add(&rec, "path", f->path);
        shell_send(sh, W_FILE_GET, f->op->id, rec.p, rec.len);
    }
    shell_buf_free(&rec);
}

/* ------------------------------------------------------------- uploads */

static void up_drained(struct shell_op *op)
{
    struct file_req *f = op->arg;
    bh_req_body_pause(f->req, 0);
}

static int up_data(void *arg, const char *d, size_t n)
{
    struct file_req *f = arg;
    if (!f->op)
        return -1;
    shell_send(f->sh, W_STDIN, f->op->id, d, n);
    f->size += (long long)n;
    f->sh->bytes_in += n;
    if (shell_send_queued(f->sh) > UP_HIGH) {
        bh_req_body_pause(f->req, 1);
        f->op->drained = up_drained;
        f->op->wants_drain = 1;
    }
    return 0;
}

static void up_end(void *arg)
{
    struct file_req *f = arg;
    f->body_done = 1;
    if (f->op)
        shell_send(f->sh, W_STDIN_EOF, f->op->id, NULL, 0);
}

static const struct bh_body_reader up_reader = {up_data, up_end};

void shell_serve_files_put(void *k, bh_req_t *req, const struct bh_route_call *c)
{
    struct shell *sh = k;
    const char *ct = bh_req_header(req, "content-type");
    int tar = ct && !strncmp(ct, "application/x-tar", 17);
    struct file_req *f = file_start(sh, req, c);
    if (!f)
        return;
    if (!f->path[0] && !tar) {
        file_free(f);
        shell_reply_err(req, c, BH_E_CONFLICT, "is_a_directory", "the workspace is a directory");
        return;
    }
    file_go(f);
    f->put = 1;
    f->tar = tar;
    struct shell_buf rec = {0};
    if (tar) {
        shell_rec_add(&rec, "arg", "tar");
        shell_rec_add(&rec, "arg", "-xf");
        shell_rec_add(&rec, "arg", "-");
        shell_rec_add(&rec, "arg", "--no-same-owner");
        shell_rec_add(&rec, "arg", "--no-same-permissions");
        shell_rec_add(&rec, "dir", f->path);
        shell_rec_add(&rec, "mkdir", "1");
        shell_rec_add(&rec, "stdin", "1");
        shell_rec_add(&rec, "timeout_ms", "3600000");
        shell_rec_add(&rec, "max", "65536");
        shell_send(sh, W_EXEC, f->op->id, rec.p, rec.len);
    } else {
        shell_rec_add(&rec, "path", f->path);
        shell_send(sh, W_FILE_PUT, f->op->id, rec.p, rec.len);
    }
    shell_buf_free(&rec);
    /* a body the front gathered (an empty one) is here already; a
     * streamed one is read as it comes */
    if (bh_req_streamed(req)) {
        bh_req_read_body(req, &up_reader, f);
    } else {
        size_t len;
        const char *body = bh_req_body(req, &len);
        if (len)
            up_data(f, body, len);
        up_end(f);
    }
}

void shell_serve_files_del(void *k, bh_req_t *req, const struct bh_route_call *c)
{
    struct shell *sh = k;
    struct file_req *f = file_start(sh, req, c);
    if (!f)
        return;
    if (!f->path[0]) {
        file_free(f);
        shell_reply_err(req, c, BH_E_CONFLICT, "is_a_directory", "the workspace itself stays");
        return;
    }
    file_go(f);
    const char *r = bh_req_query(req, "recursive");
    struct shell_buf rec = {0};
    shell_rec_add(&rec, "path", f->path);
    if (r && (!strcmp(r, "1") || !strcmp(r, "true")))
        shell_rec_add(&rec, "recursive", "1");
    shell_send(sh, W_FILE_DEL, f->op->id, rec.p, rec.len);
    shell_buf_free(&rec);
}
