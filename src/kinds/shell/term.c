/* term.c — the terminal's viewers (WS /terminal, docs/terminal.md): the
 * channel protocol's frames in and out, the scrollback a new viewer starts
 * from, and flow control (pause the terminal while every viewer is behind;
 * cut a viewer far behind the others). */
#include "kinds/shell/shell_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

#define SCROLL_MAX (64u << 10)
#define PAUSE_AT (256u << 10) /* every viewer this far behind: pause */
#define RESUME_AT (64u << 10) /* one viewer back under this: go on */
#define CUT_AT (4u << 20)     /* a viewer this far behind is cut */

struct viewer {
    struct shell *sh;
    bh_ws_t *ws;
    int input;
    struct viewer *next;
};

int shell_term_viewers(const struct shell *sh)
{
    int n = 0;
    for (const struct viewer *v = sh->viewers; v; v = v->next)
        n++;
    return n;
}

static void unlink_viewer(struct viewer *v)
{
    for (struct viewer **p = &v->sh->viewers; *p; p = &(*p)->next)
        if (*p == v) {
            *p = v->next;
            break;
        }
}

/* What the viewer least behind has queued (SIZE_MAX: no viewer). */
static size_t least_queued(const struct shell *sh)
{
    size_t least = (size_t)-1;
    for (const struct viewer *v = sh->viewers; v; v = v->next)
        if (bh_ws_queued(v->ws) < least)
            least = bh_ws_queued(v->ws);
    return least;
}

/* Pause while every viewer is behind, go on once one is not. */
static void flow(struct shell *sh)
{
    size_t least = least_queued(sh);
    int behind = sh->viewers && least > PAUSE_AT;
    int caught_up = !sh->viewers || least < RESUME_AT;
    if (!sh->tty_paused && behind) {
        sh->tty_paused = 1;
        shell_send(sh, W_PAUSE, 0, NULL, 0);
    } else if (sh->tty_paused && caught_up) {
        sh->tty_paused = 0;
        shell_send(sh, W_RESUME, 0, NULL, 0);
    }
}

static void size_msg(struct shell *sh, int type, unsigned rows, unsigned cols)
{
    char rec[64];
    int n = snprintf(rec, sizeof rec, "rows=%u%ccols=%u%c", rows, 0, cols, 0);
    shell_send(sh, type, 0, rec, (size_t)n);
}

static int on_message(void *arg, bh_ws_t *ws, const char *data, size_t len, int binary)
{
    struct viewer *v = arg;
    struct shell *sh = v->sh;
    if (!binary || len < 1) {
        bh_ws_close(ws, 1003, "binary messages only (docs/terminal.md)", 0);
        return 0;
    }
    unsigned char ch = (unsigned char)data[0];
    if ((ch == 0 || ch == 4) && !v->input) {
        bh_ws_close(ws, 1008, "view scope: input refused", 0);
        return 0;
    }
    if (ch == 0) {
        if (len > 1) {
            shell_send(sh, W_TTY_IN, 0, data + 1, len - 1);
            sh->so->touch(sh->s);
            sh->bytes_in += len - 1;
        }
        return 0;
    }
    if (ch == 4) {
        json_error_t je;
        json_t *o = json_loadb(data + 1, len - 1, 0, &je);
        json_int_t w = -1, h = -1;
        if (o && json_is_object(o)) {
            json_t *jw = json_object_get(o, "Width"), *jh = json_object_get(o, "Height");
            w = json_is_integer(jw) ? json_integer_value(jw) : -1;
            h = json_is_integer(jh) ? json_integer_value(jh) : -1;
        }
        json_decref(o);
        if (w < 1 || w > 1000 || h < 1 || h > 1000) {
            bh_ws_close(ws, 1007, "resize: {\"Width\": 1-1000, \"Height\": 1-1000}", 0);
            return 0;
        }
        size_msg(sh, W_TTY_SIZE, (unsigned)h, (unsigned)w);
        return 0;
    }
    bh_ws_close(ws, 1003, "unknown channel (0: input, 4: resize)", 0);
    return 0;
}

static void on_closed(void *arg, bh_ws_t *ws)
{
    struct viewer *v = arg;
    (void)ws;
    unlink_viewer(v);
    flow(v->sh);
    free(v);
}

static void on_drained(void *arg, bh_ws_t *ws)
{
    struct viewer *v = arg;
    (void)ws;
    flow(v->sh);
}

static const struct bh_ws_handlers handlers = {on_message, on_closed, on_drained};

static void send_ch(bh_ws_t *ws, int ch, const char *data, size_t len)
{
    char *m = bh_xmalloc(len + 1);
    m[0] = (char)ch;
    memcpy(m + 1, data, len);
    bh_ws_send(ws, m, len + 1, 1);
    free(m);
}

void shell_term_accept(struct shell *sh, bh_req_t *req, int input)
{
    struct viewer *v = bh_xcalloc(1, sizeof *v);
    v->sh = sh;
    v->input = input;
    v->ws = bh_ws_accept(req, &handlers, v);
    if (!v->ws) {
        free(v);
        return;
    }
    v->next = sh->viewers;
    sh->viewers = v;
    if (sh->scroll.len)
        send_ch(v->ws, 1, sh->scroll.p, sh->scroll.len);
    if (!sh->tty_open) {
        sh->tty_open = 1;
        size_msg(sh, W_TTY_OPEN, 24, 80);
    }
}

void shell_term_output(struct shell *sh, const char *data, size_t len)
{
    sh->bytes_out += len;
    shell_buf_add(&sh->scroll, data, len);
    if (sh->scroll.len > SCROLL_MAX)
        shell_buf_drop(&sh->scroll, sh->scroll.len - SCROLL_MAX);
    size_t least = least_queued(sh);
    for (struct viewer *v = sh->viewers, *next; v; v = next) {
        next = v->next;
        if (bh_ws_queued(v->ws) > CUT_AT && bh_ws_queued(v->ws) > least) {
            unlink_viewer(v);
            bh_ws_close(v->ws, 1008, "too slow", 1);
            bh_ws_detach(v->ws);
            free(v);
            continue;
        }
        send_ch(v->ws, 1, data, len);
    }
    flow(sh);
}

void shell_term_exit(struct shell *sh, const char *rec, size_t len)
{
    long long code = shell_rec_num(rec, len, "code", -1);
    long long sig = shell_rec_num(rec, len, "signal", 0);
    json_t *st;
    if (code == 0)
        st = json_pack("{s:s}", "status", "Success");
    else {
        char msg[96];
        if (sig)
            snprintf(msg, sizeof msg, "killed by signal %lld", sig);
        else
            snprintf(msg, sizeof msg, "exited with status %lld", code);
        st = json_pack("{s:s, s:s, s:I}", "status", "Failure", "message", msg, "exitCode",
                       (json_int_t)code);
    }
    char *text = json_dumps(st, JSON_COMPACT);
    json_decref(st);
    for (struct viewer *v = sh->viewers; v; v = v->next)
        send_ch(v->ws, 3, text, strlen(text));
    free(text);
    sh->tty_open = 0;
    sh->tty_paused = 0;
    shell_buf_free(&sh->scroll);
    shell_term_close_all(sh, 1000, "the shell ended");
}

void shell_term_close_all(struct shell *sh, int code, const char *why)
{
    while (sh->viewers) {
        struct viewer *v = sh->viewers;
        sh->viewers = v->next;
        bh_ws_close(v->ws, code, why, 0);
        bh_ws_detach(v->ws);
        free(v);
    }
}
