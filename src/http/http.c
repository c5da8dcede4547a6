/* http.c — the HTTP front (see http.h) on the event loop's library context
 * (loop.c owns it): the listening vhost (bh_http_new) and its callback,
 * which hands each event to the module that owns it (requests: http_req.c,
 * WebSockets: http_ws.c, the front door's caps and timeouts: http_front.c).
 * These four files and loop.c are the only ones that include
 * libwebsockets.h (through http_int.h and loop_lws.h).
 *
 * Lifetimes: struct bh_http lives as long as its vhost and the caller's
 * hold on it: freed by bh_http_free once the library has destroyed the
 * vhost (with the last of its connections), which for this library
 * version is in bh_loop_free at the latest. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http_int.h"
#include "lib/util.h"

/* ---------------------------------------------------------------- callbacks */

static int cb_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    struct pss *pss = user;
    struct lws_vhost *vh = lws_get_vhost(wsi);
    struct bh_http *http = vh ? lws_get_vhost_user(vh) : NULL;

    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        if (http->closing) /* bh_http_free: no handler any more */
            return -1;
        if (pss->req) { /* a pipelined request before our reply: not supported */
            struct bh_req *old = pss->req;
            int streams = old->streaming || old->streamed;
            pss->req = NULL;
            http_req_lost(old);
            if (streams) /* not behind a stream: the connection closes */
                return -1;
        }
        long long kept;
        if (http_conn_take_kept(http, wsi, &kept)) {
            /* The library keeps input it read before a keep-alive in a
             * buffer of its own, and its parsing of a body from there reads
             * freed memory (fuzz_http_front): a request that came from there
             * (the connection was not read since) was pipelined behind the
             * streamed reply, and is not served. */
            long long now = http_conn_bytes_read(wsi);
            if (now < 0 || now <= kept)
                return -1;
        }
        struct bh_req *r = http_req_new(http, wsi, in ? (const char *)in : "/");
        pss->req = r;
        pss->body_done = 0;
        if (r->body_expected > 0 && (!strcmp(r->method, "POST") || !strcmp(r->method, "PUT")) &&
            http->h.streams && http->h.streams(http->hctx, r) == 1) {
            /* the handler reads the body as it comes (http_req.c) */
            http_req_dispatch_streamed(r);
            return 0;
        }
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
        if (pss->req && pss->req->streamed)
            http_req_body_complete(pss->req);
        else if (pss->req && !pss->req->dispatched)
            http_req_dispatch(pss->req);
        return 0;

    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (pss->answered && !pss->req)
            return http_req_close_when_sent(wsi);
        if (pss->req && pss->req->streaming) {
            long long kept = -1;
            int n = http_req_stream_writable(pss->req, pss, &kept);
            if (kept >= 0) /* the connection goes on to its next request */
                http_conn_kept(http, wsi, kept);
            return n;
        }
        if (!pss->req || !pss->req->replied)
            return 0;
        return http_req_write(pss->req, pss);

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        /* a WebSocket upgrade: the handler accepts or answers */
        char uri[1024];
        if (http->closing || lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0)
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
        if (http && http->closing)
            return 1;
        return http ? http_conn_filter(http, wsi, user, (int)(intptr_t)in) : 0;

    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
        /* an accepted connection (descriptors the loop watches live on
         * the loop's own vhost and never reach this callback) */
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

/* tx_packet_size: the library writes at most this much per send() (else
 * its receive buffer size, 4 KiB: a 64 KiB piece of a reply took 16 calls,
 * and streamed replies ran at half the speed) */
static const struct lws_protocols protocols[] = {
    {"http", cb_http, sizeof(struct pss), 0, 0, NULL, 65536},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void http_release(struct bh_http *http)
{
    http_front_free(http);
    free(http);
}

/* The library destroyed the vhost (its connections are gone). */
static void vhost_gone(struct lws_vhost *vh, void *arg)
{
    struct bh_http *http = arg;
    http->vh = NULL;
    if (http->closing)
        http_release(http);
}

bh_http_t *bh_http_new(bh_loop_t *loop, const struct bh_http_config *cfg,
                       const struct bh_http_handlers *h, void *hctx, bh_err_t *err)
{
    lws_set_log_level(LLL_ERR, http_log_cb);
    struct bh_http *http = bh_xcalloc(1, sizeof *http);
    http->loop = loop;
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
     * at most timeout_secs_ah_idle; its body timeout, which restarts with
     * each piece, is the loop's io_timeout (context-wide; our own deadline
     * bounds the whole body) */
    info.timeout_secs_ah_idle = (unsigned)(cfg->header_timeout > 0 ? cfg->header_timeout : 10);
    info.keepalive_timeout = 30;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6;
    if (cfg->host && strchr(cfg->host, ':'))
        info.options &= ~(uint64_t)LWS_SERVER_OPTION_DISABLE_IPV6;
    info.vhost_name = "bulkhead";
    info.finalize = vhost_gone;
    info.finalize_arg = http;
    http->vh = lws_create_vhost(bh_loop_lws_context(loop), &info);
    http->port = http->vh ? lws_get_vhost_listen_port(http->vh) : cfg->port;
    if (!http->vh || http->port <= 0) {
        if (http->vh) {
            http->closing = 1; /* freed when the library lets the vhost go */
            lws_vhost_destroy(http->vh);
        } else {
            http_release(http);
        }
        bh_err_set(err, 0, "cannot listen on %s:%d (address in use or not available)",
                   cfg->host ? cfg->host : "*", cfg->port);
        return NULL;
    }
    http_front_start(http);
    return http;
}

bh_loop_t *bh_http_loop(bh_http_t *http) { return http->loop; }
void bh_http_set_context(bh_http_t *http, void *ctx) { http->hctx = ctx; }
int bh_http_port(const bh_http_t *http) { return http->port; }

void bh_http_free(bh_http_t *http)
{
    if (!http)
        return;
    if (!http->vh) { /* the loop was freed first */
        http_release(http);
        return;
    }
    /* the handlers are gone: new requests and connections are refused;
     * http is released with the vhost (which may be right now) */
    http->closing = 1;
    lws_vhost_destroy(http->vh);
}
