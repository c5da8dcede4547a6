/* cdp.c — see cdp.h.
 *
 * Re-entrancy: callbacks may call bh_cdp_free(); the object is then only
 * marked dead and freed when the dispatch that called them returns. */
#include "kinds/browser/cdp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"

#define MAX_MSG (256u << 20) /* screenshots of large pages are big */

/* BH_CDP_TRACE=1 in the environment logs pipe traffic to stderr. */
static int tracing(void)
{
    static int on = -1;
    if (on < 0)
        on = getenv("BH_CDP_TRACE") != NULL;
    return on;
}

struct pending {
    struct pending *next;
    long id;
    bh_cdp_reply_cb cb;
    void *arg;
};

struct bh_cdp {
    bh_loop_t *loop;
    bh_watch_t *wr, *rd;
    bh_cdp_event_cb on_event;
    bh_cdp_closed_cb on_closed;
    void *arg;
    long next_id;
    struct pending *pending;
    char *out;
    size_t out_len, out_off, out_cap;
    char *in;
    size_t in_len, in_cap;
    int closed; /* pipe gone */
    int busy;   /* inside a dispatch */
    int dead;   /* freed while busy */
};

static void fail_pending(struct bh_cdp *c)
{
    while (c->pending) {
        struct pending *p = c->pending;
        c->pending = p->next;
        if (p->cb)
            p->cb(p->arg, NULL);
        free(p);
    }
}

static void destroy(struct bh_cdp *c)
{
    bh_watch_remove(c->wr);
    bh_watch_remove(c->rd);
    c->wr = c->rd = NULL;
    /* the owner freed us: it expects no more callbacks */
    while (c->pending) {
        struct pending *p = c->pending;
        c->pending = p->next;
        free(p);
    }
    free(c->out);
    free(c->in);
    free(c);
}

static void mark_closed(struct bh_cdp *c)
{
    if (c->closed)
        return;
    c->closed = 1;
    bh_watch_remove(c->wr);
    bh_watch_remove(c->rd);
    c->wr = c->rd = NULL;
    fail_pending(c);
    if (c->on_closed)
        c->on_closed(c->arg);
}

static void handle(struct bh_cdp *c, const char *data, size_t len)
{
    json_error_t jerr;
    json_t *msg = json_loadb(data, len, 0, &jerr);
    if (!msg || !json_is_object(msg)) {
        json_decref(msg);
        return;
    }
    json_t *jid = json_object_get(msg, "id");
    if (json_is_integer(jid)) {
        long id = (long)json_integer_value(jid);
        if (tracing())
            fprintf(stderr, "%lld cdp reply %ld %.120s\n", (long long)bh_mono_ms(), id, data);
        for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next) {
            if ((*pp)->id != id)
                continue;
            struct pending *p = *pp;
            *pp = p->next;
            if (p->cb)
                p->cb(p->arg, msg);
            free(p);
            break;
        }
    } else if (c->on_event) {
        if (tracing())
            fprintf(stderr, "%lld cdp event %.160s\n", (long long)bh_mono_ms(), data);
        c->on_event(c->arg, msg);
    }
    json_decref(msg);
}

/* Room for `more` bytes after what c->in holds. */
static void in_reserve(struct bh_cdp *c, size_t more)
{
    if (c->in_cap - c->in_len >= more)
        return;
    size_t cap = c->in_cap ? c->in_cap : 131072;
    while (cap - c->in_len < more)
        cap *= 2;
    char *nb = realloc(c->in, cap);
    if (!nb)
        abort();
    c->in = nb;
    c->in_cap = cap;
}

/* c->in grew past scan_from: dispatch every whole message in it and keep
 * the rest. 0, or -1 when reading must stop (freed, closed, or a message
 * over MAX_MSG). */
static int take_messages(struct bh_cdp *c, size_t scan_from)
{
    char *nul;
    size_t start = 0;
    while (!c->dead && (nul = memchr(c->in + scan_from, 0, c->in_len - scan_from))) {
        size_t end = (size_t)(nul - c->in);
        handle(c, c->in + start, end - start);
        start = end + 1;
        scan_from = start;
    }
    if (c->dead || c->closed)
        return -1;
    memmove(c->in, c->in + start, c->in_len - start);
    c->in_len -= start;
    if (c->in_len > MAX_MSG) {
        mark_closed(c);
        return -1;
    }
    return 0;
}

static void on_read(void *arg, bh_watch_t *w, int events)
{
    struct bh_cdp *c = arg;
    if (events & BH_WATCH_HUP) {
        c->rd = NULL;
        c->busy++;
        mark_closed(c);
        c->busy--;
        if (c->dead && !c->busy)
            destroy(c);
        return;
    }
    c->busy++;
    for (;;) {
        in_reserve(c, 65536);
        ssize_t n = read(bh_watch_fd(w), c->in + c->in_len, c->in_cap - c->in_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
                mark_closed(c);
            break;
        }
        size_t scan_from = c->in_len;
        c->in_len += (size_t)n;
        if (take_messages(c, scan_from) < 0)
            break;
    }
    c->busy--;
    if (c->dead && !c->busy)
        destroy(c);
}

void bh_cdp_input(bh_cdp_t *c, const char *data, size_t len)
{
    if (c->closed || c->dead || !len)
        return;
    c->busy++;
    in_reserve(c, len);
    size_t scan_from = c->in_len;
    memcpy(c->in + c->in_len, data, len);
    c->in_len += len;
    take_messages(c, scan_from);
    c->busy--;
    if (c->dead && !c->busy)
        destroy(c);
}

static void flush(struct bh_cdp *c)
{
    while (c->wr && c->out_off < c->out_len) {
        ssize_t n = write(bh_watch_fd(c->wr), c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (tracing())
                    fprintf(stderr, "cdp pipe full, %zu queued\n", c->out_len - c->out_off);
                bh_watch_want_write(c->wr);
                return;
            }
            mark_closed(c);
            return;
        }
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
}

static void on_write(void *arg, bh_watch_t *w, int events)
{
    struct bh_cdp *c = arg;
    (void)w;
    if (events & BH_WATCH_HUP) {
        c->wr = NULL;
        c->busy++;
        mark_closed(c);
        c->busy--;
        if (c->dead && !c->busy)
            destroy(c);
        return;
    }
    c->busy++;
    if (tracing())
        fprintf(stderr, "cdp pipe writable %d\n", events);
    if (events & BH_WATCH_WRITE)
        flush(c);
    c->busy--;
    if (c->dead && !c->busy)
        destroy(c);
}

bh_cdp_t *bh_cdp_new(bh_loop_t *loop, int to_fd, int from_fd, bh_cdp_event_cb on_event,
                     bh_cdp_closed_cb on_closed, void *arg)
{
    struct bh_cdp *c = bh_xcalloc(1, sizeof *c);
    c->loop = loop;
    c->on_event = on_event;
    c->on_closed = on_closed;
    c->arg = arg;
    c->next_id = 1;
    c->wr = bh_watch_add(loop, to_fd, on_write, c);
    c->rd = bh_watch_add(loop, from_fd, on_read, c);
    if (!c->wr || !c->rd) {
        bh_watch_remove(c->wr);
        bh_watch_remove(c->rd);
        free(c);
        return NULL;
    }
    return c;
}

void bh_cdp_first_id(bh_cdp_t *c, long id) { c->next_id = id; }

long bh_cdp_send(bh_cdp_t *c, json_t *msg, bh_cdp_reply_cb cb, void *arg)
{
    if (c->closed || c->dead) {
        json_decref(msg);
        return -1;
    }
    long id = c->next_id++;
    json_object_set_new(msg, "id", json_integer(id));
    char *s = json_dumps(msg, JSON_COMPACT);
    if (tracing() && s)
        fprintf(stderr, "%lld cdp send %ld len %zu %.100s\n", (long long)bh_mono_ms(), id,
                strlen(s), s);
    json_decref(msg);
    if (!s)
        return -1;
    size_t n = strlen(s) + 1; /* with the NUL separator */
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 65536;
        while (cap < c->out_len + n)
            cap *= 2;
        char *nb = realloc(c->out, cap);
        if (!nb)
            abort();
        c->out = nb;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, s, n);
    c->out_len += n;
    free(s);
    struct pending *p = bh_xcalloc(1, sizeof *p);
    p->id = id;
    p->cb = cb;
    p->arg = arg;
    /* append: replies mostly come in order */
    struct pending **pp = &c->pending;
    while (*pp)
        pp = &(*pp)->next;
    *pp = p;
    flush(c);
    return id;
}

long bh_cdp_call(bh_cdp_t *c, const char *method, json_t *params, const char *session_id,
                 bh_cdp_reply_cb cb, void *arg)
{
    json_t *msg = json_object();
    json_object_set_new(msg, "method", json_string(method));
    json_object_set_new(msg, "params", params ? params : json_object());
    if (session_id)
        json_object_set_new(msg, "sessionId", json_string(session_id));
    return bh_cdp_send(c, msg, cb, arg);
}

void bh_cdp_forget(bh_cdp_t *c, void *arg)
{
    for (struct pending *p = c->pending; p; p = p->next)
        if (p->arg == arg)
            p->cb = NULL;
}

size_t bh_cdp_queued(const bh_cdp_t *c) { return c->out_len - c->out_off; }
bh_loop_t *bh_cdp_loop(const bh_cdp_t *c) { return c->loop; }

void bh_cdp_free(bh_cdp_t *c)
{
    if (!c || c->dead)
        return;
    c->dead = 1;
    c->on_event = NULL;
    c->on_closed = NULL;
    if (!c->busy)
        destroy(c);
}
