/* http.c — HTTP front and the event loop (see http.h and loop.h), on
 * libwebsockets' own poll loop: the library's context and listening vhost
 * (bh_http_new), its callback, which hands each event to the module that
 * owns it (requests: http_req.c, WebSockets: http_ws.c, the front door's
 * caps and timeouts: http_front.c), and the loop's watches and timers.
 * These four files are the only ones that include libwebsockets.h (through
 * http_int.h).
 *
 * Lifetimes: a bh_watch is freed by the loop after its descriptor was
 * closed (bh_watch_remove or hang-up). */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http_int.h"
#include "lib/util.h"

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

/* ---------------------------------------------------------------- callbacks */

static int cb_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    struct pss *pss = user;
    struct lws_context *ctx = lws_get_context(wsi);
    struct bh_http *http = lws_context_user(ctx);

    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (http && http->loop.wake_cb)
            http->loop.wake_cb(http->loop.wake_arg);
        return 0;

    case LWS_CALLBACK_HTTP: {
        if (pss->req) { /* a pipelined request before our reply: not supported */
            struct bh_req *old = pss->req;
            pss->req = NULL;
            http_req_lost(old);
        }
        struct bh_req *r = http_req_new(http, wsi, in ? (const char *)in : "/");
        pss->req = r;
        pss->body_done = 0;
        r->body_max = !strcmp(r->method, "PUT") ? http->max_put_body : http->max_body;
        /* A body over the limit is read and dropped (within the body
         * timeout, like any body) and then answered 413: closing at once
         * would reset the connection under a client still sending, which
         * then never sees the answer. */
        if (r->body_expected > 0 && (!strcmp(r->method, "POST") || !strcmp(r->method, "PUT") ||
                                     !strcmp(r->method, "PATCH"))) {
            /* wait for the body, within the body timeout in all (the
             * library's own timeout, set by now, restarts with each piece) */
            lws_sul_schedule(lws_get_context(wsi), 0, &r->body_sul, http_body_deadline,
                             (lws_usec_t)http->body_timeout * LWS_US_PER_SEC);
            return 0;
        }
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0); /* the handler may park it */
        http_req_dispatch(r); /* (a too large body on another method: 413 at once) */
        return 0;
    }

    case LWS_CALLBACK_HTTP_BODY:
        return pss->req ? http_req_body(pss->req, in, len) : 0;

    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        /* With more input buffered behind a body (a request pipelined
         * after it, or after another), the library calls this again and
         * again without returning to its poll: the reply was never written
         * and the daemon's whole loop spun for ever. The second call closes
         * the connection instead (pipelining behind a body is not
         * supported; what was answered before it was sent). */
        if (pss->body_done++)
            return -1;
        if (pss->req && !pss->req->dispatched)
            http_req_dispatch(pss->req);
        return 0;

    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (pss->answered && !pss->req)
            return http_req_close_when_sent(wsi);
        if (!pss->req || !pss->req->replied)
            return 0;
        return http_req_write(pss->req, pss);

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        /* a WebSocket upgrade: the handler accepts or answers */
        char uri[1024];
        if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0)
            return -1;
        struct bh_req *r = http_req_new(http, wsi, uri);
        r->upgrading = 1;
        r->dispatched = 1;
        if (http->h.upgrade)
            http->h.upgrade(http->hctx, r);
        struct bh_ws *ws = r->ws;
        if (!ws) {
            static const char nf[] =
                "{\"error\":{\"code\":\"not_found\",\"message\":\"no such path\"}}";
            if (!r->replied)
                bh_req_reply(r, 404, "application/json", nf, sizeof nf - 1, NULL);
            http_req_refuse_upgrade(r);
            http_req_free(r);
            return -1;
        }
        http_req_free(r);
        pss->ws = ws;
        return 0;
    }

    case LWS_CALLBACK_ESTABLISHED:
        return 0;

    case LWS_CALLBACK_RECEIVE:
        if (!pss->ws)
            return -1;
        return http_ws_receive(http, pss->ws, wsi, in, len);

    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!pss->ws)
            return 0;
        return http_ws_writable(pss->ws);

    case LWS_CALLBACK_CLOSED:
        if (pss->ws) {
            struct bh_ws *ws = pss->ws;
            pss->ws = NULL;
            http_ws_closed(ws);
        }
        return 0;

    case LWS_CALLBACK_CLOSED_HTTP:
        if (pss && pss->req) {
            struct bh_req *r = pss->req;
            pss->req = NULL;
            http_req_lost(r);
        }
        return 0;

    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        return http ? http_conn_filter(http, wsi, user, (int)(intptr_t)in) : 0;

    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
        /* an accepted connection (a descriptor the loop adopts to watch
         * gets no such call: only its wsi's creation) */
        if (http && http->accepting)
            http_conn_add(http, wsi);
        return 0;

    case LWS_CALLBACK_WSI_DESTROY:
        if (http)
            http_conn_remove(http, wsi);
        return 0;

    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static int cb_raw(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
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

static const struct lws_protocols protocols[] = {
    {"http", cb_http, sizeof(struct pss), 0, 0, NULL, 0},
    {"bh-raw", cb_raw, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};


bh_http_t *bh_http_new(const struct bh_http_config *cfg, const struct bh_http_handlers *h,
                       void *hctx, bh_err_t *err)
{
    lws_set_log_level(LLL_ERR, http_log_cb);
    struct bh_http *http = bh_xcalloc(1, sizeof *http);
    http->h = *h;
    http->hctx = hctx;
    http->max_body = cfg->max_body ? cfg->max_body : 65536;
    http->max_put_body = cfg->max_put_body ? cfg->max_put_body : http->max_body;
    http->max_ws_msg = cfg->max_ws_msg ? cfg->max_ws_msg : 32u << 20;
    http->body_timeout = cfg->body_timeout > 0 ? cfg->body_timeout : 30;
    http->max_conns = cfg->max_conns;
    http->max_conns_per_addr = cfg->max_conns_per_addr;
    http->listen_fd = -1;
    http->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = cfg->port;
    info.iface = cfg->host;
    info.protocols = protocols;
    info.user = http;
    /* the library's timeouts: its header table (so the headers) is held
     * at most timeout_secs_ah_idle; timeout_secs is its body timeout, which
     * restarts with each piece (our own deadline bounds the whole body) */
    info.timeout_secs = (unsigned)http->body_timeout;
    info.timeout_secs_ah_idle = (unsigned)(cfg->header_timeout > 0 ? cfg->header_timeout : 10);
    info.keepalive_timeout = 30;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6;
    if (cfg->host && strchr(cfg->host, ':'))
        info.options &= ~(uint64_t)LWS_SERVER_OPTION_DISABLE_IPV6;
    info.vhost_name = "bulkhead";
    info.server_string = "bulkhead";
    http->loop.ctx = lws_create_context(&info);
    if (!http->loop.ctx) {
        http_front_free(http);
        free(http);
        bh_err_set(err, 0, "cannot listen on %s:%d (address in use or not available)",
                   cfg->host ? cfg->host : "*", cfg->port);
        return NULL;
    }
    http->loop.vh = lws_get_vhost_by_name(http->loop.ctx, "bulkhead");
    http->port = http->loop.vh ? lws_get_vhost_listen_port(http->loop.vh) : cfg->port;
    if (!http->loop.vh || http->port <= 0) {
        lws_context_destroy(http->loop.ctx);
        http_front_free(http);
        free(http);
        bh_err_set(err, 0, "cannot listen on %s:%d", cfg->host ? cfg->host : "*", cfg->port);
        return NULL;
    }
    http_front_start(http);
    return http;
}

bh_loop_t *bh_http_loop(bh_http_t *http) { return &http->loop; }
void bh_http_set_context(bh_http_t *http, void *ctx) { http->hctx = ctx; }
int bh_http_port(const bh_http_t *http) { return http->port; }

int bh_http_run(bh_http_t *http)
{
    while (!http->loop.stop)
        if (lws_service(http->loop.ctx, 0) < 0)
            return -1;
    return 0;
}

void bh_http_free(bh_http_t *http)
{
    if (!http)
        return;
    lws_context_destroy(http->loop.ctx);
    http_front_free(http);
    free(http);
}

/* ---------------------------------------------------------------- loop */

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

void bh_loop_wake(bh_loop_t *loop) { lws_cancel_service(loop->ctx); }

void bh_loop_on_wake(bh_loop_t *loop, void (*cb)(void *), void *arg)
{
    loop->wake_cb = cb;
    loop->wake_arg = arg;
}

int bh_loop_step(bh_loop_t *loop) { return lws_service(loop->ctx, 0) < 0 ? -1 : 0; }

void bh_loop_stop(bh_loop_t *loop)
{
    loop->stop = 1;
    lws_cancel_service(loop->ctx);
}

int bh_b64_decode(const char *in, int in_len, char *out, int out_size)
{
    return lws_b64_decode_string_len(in, in_len, out, out_size);
}
