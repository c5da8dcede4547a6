/* chan.c — the shell kind's channel to the agent: frames out (each whole
 * frame one write(), see wire.h), frames in, handed to the terminal or to
 * the op of their stream; after an adoption, nothing is taken until the
 * agent's answer to our HELLO (what a previous daemon left half-read is
 * skipped). */
#include "kinds/shell/shell_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

#define DRAIN_LOW (256u << 10) /* a paused upload goes on below this */

void shell_buf_add(struct shell_buf *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        b->p = bh_xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

void shell_buf_drop(struct shell_buf *b, size_t n)
{
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

void shell_buf_free(struct shell_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

void shell_rec_add(struct shell_buf *b, const char *key, const char *val)
{
    shell_buf_add(b, key, strlen(key));
    shell_buf_add(b, "=", 1);
    shell_buf_add(b, val, strlen(val) + 1);
}

const char *shell_rec_get(const char *rec, size_t len, const char *key)
{
    return bh_wire_rec_get(rec, len, key, 0);
}

long long shell_rec_num(const char *rec, size_t len, const char *key, long long def)
{
    const char *v = shell_rec_get(rec, len, key);
    return v ? strtoll(v, NULL, 10) : def;
}

/* Write whole frames while the pipe takes them. What is written is only
 * skipped (out_off), and moved out of the way now and then: a big upload
 * queued at once is not copied again for every pipe's worth. */
static void flush(struct shell *sh)
{
    size_t off = sh->out_off;
    while (sh->wr && off + BH_WIRE_HDR <= sh->out.len) {
        size_t n = BH_WIRE_HDR + bh_wire_get_u32((unsigned char *)sh->out.p + off + 5);
        ssize_t w = write(bh_watch_fd(sh->wr), sh->out.p + off, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            if (errno == EAGAIN)
                bh_watch_want_write(sh->wr);
            break; /* a broken channel shows as the process's end */
        }
        off += n; /* n <= PIPE_BUF: all or nothing */
    }
    sh->out_off = off;
    if (sh->out.len - off < DRAIN_LOW)
        for (struct shell_op *op = sh->ops; op; op = op->next)
            if (op->wants_drain) {
                op->wants_drain = 0;
                op->drained(op); /* resumes a body: its data comes later */
            }
    if (sh->out_off == sh->out.len) {
        sh->out.len = sh->out_off = 0;
    } else if (sh->out_off > (1u << 20) && sh->out_off > sh->out.len / 2) {
        shell_buf_drop(&sh->out, sh->out_off);
        sh->out_off = 0;
    }
}

void shell_send(struct shell *sh, int type, uint32_t id, const void *data, size_t len)
{
    const char *d = data;
    do {
        size_t n = len > BH_WIRE_DATA ? BH_WIRE_DATA : len;
        unsigned char h[BH_WIRE_HDR];
        h[0] = (unsigned char)type;
        bh_wire_put_u32(h + 1, id);
        bh_wire_put_u32(h + 5, (uint32_t)n);
        shell_buf_add(&sh->out, h, sizeof h);
        if (n)
            shell_buf_add(&sh->out, d, n);
        d += n;
        len -= n;
    } while (len > 0);
    flush(sh);
}

size_t shell_send_queued(const struct shell *sh) { return sh->out.len - sh->out_off; }

struct shell_op *shell_op_new(struct shell *sh, shell_op_frame_cb frame,
                              void (*abort)(struct shell_op *), void *arg)
{
    struct shell_op *op = bh_xcalloc(1, sizeof *op);
    op->id = ++sh->next_id ? sh->next_id : ++sh->next_id;
    op->sh = sh;
    op->frame = frame;
    op->abort = abort;
    op->arg = arg;
    op->next = sh->ops;
    sh->ops = op;
    return op;
}

void shell_op_end(struct shell_op *op)
{
    for (struct shell_op **p = &op->sh->ops; *p; p = &(*p)->next)
        if (*p == op) {
            *p = op->next;
            break;
        }
    free(op);
}

void shell_ops_abort(struct shell *sh)
{
    while (sh->ops) {
        struct shell_op *op = sh->ops;
        sh->ops = op->next;
        op->next = NULL;
        if (op->abort)
            op->abort(op);
        free(op);
    }
}

static void on_frame(struct shell *sh, int type, uint32_t id, const char *p, size_t n)
{
    if (!sh->synced) { /* only our HELLO's answer counts */
        if (type == A_HELLO && n == strlen(sh->nonce) && !memcmp(p, sh->nonce, n)) {
            sh->synced = 1;
            if (!sh->up) {
                sh->up = 1;
                sh->so->kind_ready(sh->s);
            }
        }
        return;
    }
    switch (type) {
    case A_READY:
        if (!sh->up) {
            sh->up = 1;
            sh->so->phase(sh->s, "agent");
            if (sh->setup)
                shell_run_setup(sh);
            else
                sh->so->kind_ready(sh->s);
        }
        return;
    case A_TTY_OUT:
        shell_term_output(sh, p, n);
        return;
    case A_TTY_EXIT:
        shell_term_exit(sh, p, n);
        return;
    case A_HELLO:
        return;
    default:
        break;
    }
    for (struct shell_op *op = sh->ops; op; op = op->next)
        if (op->id == id) {
            op->frame(op, type, p, n); /* may end op */
            return;
        }
}

/* The bytes of the channel: whole frames, or (not yet synced) a scan for
 * our HELLO's answer anywhere in what came. */
static void take(struct shell *sh)
{
    size_t off = 0;
    if (!sh->synced) {
        size_t nl = strlen(sh->nonce);
        for (; off + BH_WIRE_HDR + nl <= sh->in.len; off++) {
            const unsigned char *h = (unsigned char *)sh->in.p + off;
            if (h[0] == A_HELLO && bh_wire_get_u32(h + 5) == nl &&
                !memcmp(h + BH_WIRE_HDR, sh->nonce, nl))
                break;
        }
        if (off + BH_WIRE_HDR + nl > sh->in.len) { /* keep a possible start */
            size_t keep = BH_WIRE_HDR + nl;
            if (sh->in.len > keep)
                shell_buf_drop(&sh->in, sh->in.len - keep);
            return;
        }
    }
    while (off + BH_WIRE_HDR <= sh->in.len) {
        const unsigned char *h = (unsigned char *)sh->in.p + off;
        uint32_t n = bh_wire_get_u32(h + 5);
        if (n > BH_WIRE_DATA) {
            bh_log(BH_LOG_WARN, sh->so->info(sh->s)->id,
                   "agent: a frame of %u bytes; channel closed", n);
            shell_chan_close(sh);
            sh->so->channel_closed(sh->s);
            return;
        }
        if (off + BH_WIRE_HDR + n > sh->in.len)
            break;
        on_frame(sh, h[0], bh_wire_get_u32(h + 1), (const char *)h + BH_WIRE_HDR, n);
        if (!sh->rd)
            return; /* closed meanwhile */
        off += BH_WIRE_HDR + n;
    }
    shell_buf_drop(&sh->in, off);
}

static void on_read(void *arg, bh_watch_t *w, int events)
{
    struct shell *sh = arg;
    if (events & BH_WATCH_HUP) {
        sh->rd = NULL;
        sh->so->channel_closed(sh->s);
        return;
    }
    for (int i = 0; i < 16 && sh->rd; i++) {
        char tmp[65536];
        ssize_t r = read(bh_watch_fd(w), tmp, sizeof tmp);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0 || errno != EAGAIN) {
                shell_chan_close(sh);
                sh->so->channel_closed(sh->s);
            }
            return;
        }
        shell_buf_add(&sh->in, tmp, (size_t)r);
        take(sh);
    }
}

static void on_write(void *arg, bh_watch_t *w, int events)
{
    struct shell *sh = arg;
    (void)w;
    if (events & BH_WATCH_HUP) {
        sh->wr = NULL;
        return;
    }
    if (events & BH_WATCH_WRITE)
        flush(sh);
}

int shell_chan_open(struct shell *sh, int fd_in, int fd_out)
{
    bh_loop_t *loop = sh->so->loop(sh->s);
    sh->wr = bh_watch_add(loop, fd_in, on_write, sh);
    sh->rd = bh_watch_add(loop, fd_out, on_read, sh);
    if (!sh->wr || !sh->rd) {
        shell_chan_close(sh);
        return -1;
    }
    return 0;
}

void shell_chan_close(struct shell *sh)
{
    if (sh->wr)
        bh_watch_remove(sh->wr);
    if (sh->rd)
        bh_watch_remove(sh->rd);
    sh->wr = sh->rd = NULL;
    shell_buf_free(&sh->out);
    shell_buf_free(&sh->in);
    sh->out_off = 0;
}
