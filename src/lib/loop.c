/* loop.c — see loop.h. The loop is libwebsockets' own poll loop: the loop
 * owns the library's context (created with explicit vhosts) and one vhost
 * of its own that listens nowhere and carries the watched descriptors (raw
 * file adoption) and the wake-ups (the library's cancel-service pipe, which
 * it broadcasts to every protocol of every vhost). The HTTP front adds its
 * listening vhost to the same context (loop_lws.h), so HTTP, WebSockets,
 * pipes, signals and timers share one poll().
 *
 * Lifetimes: a bh_watch is freed by the loop after its descriptor was
 * closed (bh_watch_remove or hang-up); a wake subscriber removed while the
 * subscribers run is dropped after the round. */
#include "lib/loop.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/loop_lws.h"
#include "lib/util.h"

struct wake_sub {
    void (*cb)(void *arg); /* NULL: removed during a round */
    void *arg;
};

struct bh_loop {
    struct lws_context *ctx;
    struct lws_vhost *vh; /* ours: watched descriptors and wake-ups */
    int stop;
    struct wake_sub *subs;
    size_t nsubs, subs_cap;
    int waking;    /* inside a round of wake subscribers */
    int sub_holes; /* subscribers removed during the round */
};

struct bh_watch {
    lws_sorted_usec_list_t rearm; /* first: the loop hands us this pointer */
    struct bh_loop *loop;
    struct lws *wsi;
    int fd;
    int removed;
    int in_writable; /* inside the writable callback */
    bh_watch_cb cb;
    void *arg;
};

struct bh_timer {
    lws_sorted_usec_list_t sul; /* first: the loop hands us this pointer */
    struct bh_loop *loop;
    bh_timer_cb cb;
    void *arg;
};

/* ---------------------------------------------------------------- wake-ups */

static void wake_round(struct bh_loop *loop)
{
    /* subscribers added during the round wait for the next wake-up */
    size_t n = loop->nsubs;
    loop->waking++;
    for (size_t i = 0; i < n; i++)
        if (loop->subs[i].cb)
            loop->subs[i].cb(loop->subs[i].arg);
    if (--loop->waking == 0 && loop->sub_holes) {
        size_t k = 0;
        for (size_t i = 0; i < loop->nsubs; i++)
            if (loop->subs[i].cb)
                loop->subs[k++] = loop->subs[i];
        loop->nsubs = k;
        loop->sub_holes = 0;
    }
}

void bh_loop_on_wake(bh_loop_t *loop, void (*cb)(void *), void *arg)
{
    for (size_t i = 0; i < loop->nsubs; i++)
        if (loop->subs[i].cb == cb && loop->subs[i].arg == arg)
            return; /* subscribed already */
    if (loop->nsubs == loop->subs_cap) {
        loop->subs_cap = loop->subs_cap ? 2 * loop->subs_cap : 4;
        struct wake_sub *subs = realloc(loop->subs, loop->subs_cap * sizeof *subs);
        if (!subs)
            abort();
        loop->subs = subs;
    }
    loop->subs[loop->nsubs++] = (struct wake_sub){cb, arg};
}

void bh_loop_off_wake(bh_loop_t *loop, void (*cb)(void *), void *arg)
{
    for (size_t i = 0; i < loop->nsubs; i++) {
        if (loop->subs[i].cb != cb || loop->subs[i].arg != arg)
            continue;
        if (loop->waking) { /* the round is iterating: leave a hole */
            loop->subs[i].cb = NULL;
            loop->sub_holes = 1;
        } else {
            memmove(&loop->subs[i], &loop->subs[i + 1], (loop->nsubs - i - 1) * sizeof *loop->subs);
            loop->nsubs--;
        }
        return;
    }
}

void bh_loop_wake(bh_loop_t *loop) { lws_cancel_service(loop->ctx); }

/* ---------------------------------------------------------------- the library */

static int cb_raw(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    (void)user;
    (void)in;
    (void)len;
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
        /* broadcast with a stand-in wsi of each vhost: only ours answers */
        struct lws_vhost *vh = lws_get_vhost(wsi);
        struct bh_loop *loop = vh ? lws_get_vhost_user(vh) : NULL;
        if (loop && loop->vh == vh)
            wake_round(loop);
        return 0;
    }
    struct bh_watch *w = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (w && !w->removed)
            w->cb(w->arg, w, BH_WATCH_READ);
        return 0;
    case LWS_CALLBACK_RAW_WRITEABLE_FILE:
        if (w && !w->removed) {
            w->in_writable = 1;
            w->cb(w->arg, w, BH_WATCH_WRITE);
            w->in_writable = 0;
        }
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (w) {
            lws_sul_cancel(&w->rearm);
            lws_set_opaque_user_data(wsi, NULL);
            if (!w->removed) {
                w->removed = 1;
                w->cb(w->arg, w, BH_WATCH_HUP);
            }
            free(w);
        }
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols loop_protocols[] = {
    {"bh-raw", cb_raw, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* The library's messages until an owner of a vhost routes them elsewhere
 * (the log hook is process-wide). */
static void loop_log_cb(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    bh_log(level == LLL_ERR ? BH_LOG_ERROR : BH_LOG_WARN, NULL, "lws: %.*s", (int)n, line);
}

bh_loop_t *bh_loop_new(const struct bh_loop_config *cfg, bh_err_t *err)
{
    lws_set_log_level(LLL_ERR, loop_log_cb);
    struct bh_loop *loop = bh_xcalloc(1, sizeof *loop);
    int io_timeout = cfg && cfg->io_timeout > 0 ? cfg->io_timeout : 30;

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.user = loop;
    /* context-wide: the time the library gives a connection's next step
     * (a body's next piece, a closing connection's flush), the Server
     * header, and UTF-8 checks of WebSocket text (read from the context) */
    info.timeout_secs = (unsigned)io_timeout;
    info.server_string = "bulkhead";
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_VALIDATE_UTF8;
    loop->ctx = lws_create_context(&info);
    if (!loop->ctx) {
        free(loop);
        bh_err_set(err, 0, "cannot create the event loop");
        return NULL;
    }
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = loop_protocols;
    info.user = loop;
    info.vhost_name = "bh-loop";
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    loop->vh = lws_create_vhost(loop->ctx, &info);
    if (!loop->vh) {
        lws_context_destroy(loop->ctx);
        free(loop);
        bh_err_set(err, 0, "cannot create the event loop's vhost");
        return NULL;
    }
    return loop;
}

struct lws_context *bh_loop_lws_context(bh_loop_t *loop) { return loop->ctx; }

int bh_loop_run(bh_loop_t *loop)
{
    while (!loop->stop)
        if (lws_service(loop->ctx, 0) < 0)
            return -1;
    return 0;
}

int bh_loop_step(bh_loop_t *loop) { return lws_service(loop->ctx, 0) < 0 ? -1 : 0; }

void bh_loop_stop(bh_loop_t *loop)
{
    loop->stop = 1;
    lws_cancel_service(loop->ctx);
}

void bh_loop_free(bh_loop_t *loop)
{
    if (!loop)
        return;
    /* closes every descriptor still watched (their callbacks see a hang-up)
     * and every other vhost's connections */
    lws_context_destroy(loop->ctx);
    free(loop->subs);
    free(loop);
}

/* ---------------------------------------------------------------- watches */

bh_watch_t *bh_watch_add(bh_loop_t *loop, int fd, bh_watch_cb cb, void *arg)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    struct bh_watch *w = bh_xcalloc(1, sizeof *w);
    w->loop = loop;
    w->fd = fd;
    w->cb = cb;
    w->arg = arg;
    lws_sock_file_fd_type u;
    u.filefd = fd;
    w->wsi = lws_adopt_descriptor_vhost(loop->vh, LWS_ADOPT_RAW_FILE_DESC, u, "bh-raw", NULL);
    if (!w->wsi) {
        free(w);
        close(fd);
        return NULL;
    }
    lws_set_opaque_user_data(w->wsi, w);
    return w;
}

static void watch_rearm(lws_sorted_usec_list_t *sul)
{
    struct bh_watch *w = (struct bh_watch *)sul;
    if (!w->removed)
        lws_callback_on_writable(w->wsi);
}

void bh_watch_want_write(bh_watch_t *w)
{
    if (!w || w->removed)
        return;
    /* The library drops write interest right after the writable callback
     * returns, so interest asked for inside it is re-armed just after. */
    if (w->in_writable)
        lws_sul_schedule(w->loop->ctx, 0, &w->rearm, watch_rearm, 1);
    else
        lws_callback_on_writable(w->wsi);
}

int bh_watch_fd(const bh_watch_t *w) { return w->fd; }

void bh_watch_remove(bh_watch_t *w)
{
    if (!w || w->removed)
        return;
    w->removed = 1;
    /* closed (and w freed) by the loop at a safe point */
    lws_set_timeout(w->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
}

/* ---------------------------------------------------------------- timers */

static void timer_fire(lws_sorted_usec_list_t *sul)
{
    struct bh_timer *t = (struct bh_timer *)sul;
    t->cb(t->arg);
}

bh_timer_t *bh_timer_new(bh_loop_t *loop, bh_timer_cb cb, void *arg)
{
    struct bh_timer *t = bh_xcalloc(1, sizeof *t);
    t->loop = loop;
    t->cb = cb;
    t->arg = arg;
    return t;
}

void bh_timer_set(bh_timer_t *t, int64_t ms)
{
    lws_sul_schedule(t->loop->ctx, 0, &t->sul, timer_fire, (lws_usec_t)ms * LWS_US_PER_MS);
}

void bh_timer_cancel(bh_timer_t *t)
{
    if (t)
        lws_sul_cancel(&t->sul);
}

void bh_timer_free(bh_timer_t *t)
{
    if (!t)
        return;
    lws_sul_cancel(&t->sul);
    free(t);
}

/* ---------------------------------------------------------------- misc */

int bh_b64_decode(const char *in, int in_len, char *out, int out_size)
{
    return lws_b64_decode_string_len(in, in_len, out, out_size);
}
