/* ws_client.c — see ws_client.h. One libwebsockets context per client, with
 * no listener: the connection (protocol "bh-ws") and the watched local
 * descriptors (raw file adoption, protocol "bh-raw") share its poll loop.
 * Outgoing messages wait in a FIFO and leave one per writable callback. */
#include "cli/ws_client.h"

#include <errno.h>
#include <libwebsockets.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"

#define MAX_MESSAGE ((size_t)64 << 20) /* a server message larger than this: dropped link */
#define HOLD_BACK ((size_t)1 << 20)    /* queued bytes above which watches pause */

struct out_msg {
    struct out_msg *next;
    size_t len;
    int binary;
    unsigned char buf[]; /* LWS_PRE + len */
};

struct watch {
    struct watch *next;
    struct bh_ws_client *ws;
    struct lws *wsi; /* NULL once closed */
    int fd;
    bh_ws_fd_cb cb;
    void *arg;
};

struct bh_ws_client {
    struct lws_context *ctx;
    struct lws *wsi; /* the connection; NULL once closed */
    bh_ws_msg_cb cb;
    void *arg;
    char *auth; /* "Bearer …" or NULL */

    int established, failed, done;
    char *fail_msg;
    unsigned http_status;

    unsigned char *in; /* the message being received */
    size_t in_len, in_cap;
    int too_big;

    struct out_msg *head, *tail;
    size_t queued;
    int paused;

    int closing; /* close once the queue is sent */
    int close_code;
    char close_reason[124];
    int peer_code; /* the server's close code; 0: none seen yet */
    char peer_reason[124];

    struct watch *watches;
    int freeing; /* inside bh_ws_client_free */
};

/* ------------------------------------------------------------------ watches */

static void set_paused(struct bh_ws_client *ws, int paused)
{
    if (ws->paused == paused)
        return;
    ws->paused = paused;
    for (struct watch *w = ws->watches; w; w = w->next)
        if (w->wsi)
            lws_rx_flow_control(w->wsi, !paused);
}

static int cb_raw(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    (void)user;
    (void)in;
    (void)len;
    struct watch *w = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (!w || !w->wsi)
            return 0;
        if (w->cb(w->arg, w->fd) < 0) {
            w->wsi = NULL; /* ended by the callback */
            return -1;
        }
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        /* a hang-up (a pipe's writer closed) comes here without a read:
         * let the callback read what is left and the end, while the fd
         * has something to read, unless it stopped the watch itself or
         * the client is being freed */
        if (w && w->wsi) {
            w->wsi = NULL;
            while (!w->ws->freeing) {
                struct pollfd pfd = {.fd = w->fd, .events = POLLIN};
                if (poll(&pfd, 1, 0) != 1 || w->cb(w->arg, w->fd) < 0)
                    break;
            }
        }
        return 0;
    default:
        return 0;
    }
}

int bh_ws_client_watch(bh_ws_client_t *ws, int fd, bh_ws_fd_cb cb, void *arg)
{
    struct lws_vhost *vh = lws_get_vhost_by_name(ws->ctx, "default");
    lws_sock_file_fd_type u;
    u.filefd = fd;
    struct lws *wsi = vh ? lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, u, "bh-raw",
                                                      NULL)
                         : NULL;
    if (!wsi) {
        close(fd);
        return -1;
    }
    struct watch *w = bh_xcalloc(1, sizeof *w);
    w->ws = ws;
    w->wsi = wsi;
    w->fd = fd;
    w->cb = cb;
    w->arg = arg;
    w->next = ws->watches;
    ws->watches = w;
    lws_set_opaque_user_data(wsi, w);
    if (ws->paused)
        lws_rx_flow_control(wsi, 0);
    return 0;
}

/* --------------------------------------------------------------- connection */

static void reason_copy(char *dst, size_t size, const unsigned char *src, size_t len)
{
    if (len >= size)
        len = size - 1;
    for (size_t i = 0; i < len; i++)
        dst[i] = src[i] < 0x20 || src[i] == 0x7f ? '?' : (char)src[i];
    dst[len] = 0;
}

static void receive(struct bh_ws_client *ws, struct lws *wsi, const void *in, size_t len)
{
    if (lws_is_first_fragment(wsi)) {
        ws->in_len = 0;
        ws->too_big = 0;
    }
    if (!ws->too_big && ws->in_len + len > MAX_MESSAGE)
        ws->too_big = 1;
    if (!ws->too_big && len) {
        if (ws->in_len + len > ws->in_cap) {
            size_t cap = ws->in_cap ? ws->in_cap : 65536;
            while (cap < ws->in_len + len)
                cap *= 2;
            unsigned char *n = realloc(ws->in, cap);
            if (!n)
                abort();
            ws->in = n;
            ws->in_cap = cap;
        }
        memcpy(ws->in + ws->in_len, in, len);
        ws->in_len += len;
    }
    if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi) && !ws->too_big)
        ws->cb(ws->arg, ws->in, ws->in_len, lws_frame_is_binary(wsi));
}

static int write_next(struct bh_ws_client *ws, struct lws *wsi)
{
    struct out_msg *m = ws->head;
    if (m) {
        ws->head = m->next;
        if (!ws->head)
            ws->tail = NULL;
        ws->queued -= m->len;
        int n = lws_write(wsi, m->buf + LWS_PRE, m->len,
                          m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
        size_t len = m->len;
        free(m);
        if (n < (int)len)
            return -1;
        if (ws->queued < HOLD_BACK / 2)
            set_paused(ws, 0);
        if (ws->head || ws->closing)
            lws_callback_on_writable(wsi);
        return 0;
    }
    if (ws->closing) {
        lws_close_reason(wsi, (enum lws_close_status)ws->close_code,
                         (unsigned char *)ws->close_reason, strlen(ws->close_reason));
        return -1;
    }
    return 0;
}

static int cb_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len)
{
    (void)user;
    struct bh_ws_client *ws = lws_context_user(lws_get_context(wsi));
    if (!ws)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        if (ws->auth) {
            unsigned char **p = (unsigned char **)in, *end = *p + len;
            if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
                                             (unsigned char *)ws->auth, (int)strlen(ws->auth), p,
                                             end))
                return -1;
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        ws->failed = 1;
        ws->http_status = lws_http_client_http_response(wsi);
        free(ws->fail_msg);
        ws->fail_msg = bh_xstrdup(in && len ? (const char *)in : "connection failed");
        ws->wsi = NULL;
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        ws->established = 1;
        if (ws->head || ws->closing)
            lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        receive(ws, wsi, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return write_next(ws, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2) {
            const unsigned char *b = in;
            ws->peer_code = b[0] << 8 | b[1];
            reason_copy(ws->peer_reason, sizeof ws->peer_reason, b + 2, len - 2);
        } else {
            ws->peer_code = 1005;
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (!ws->peer_code)
            ws->peer_code = ws->closing ? ws->close_code : 1006;
        ws->done = 1;
        ws->wsi = NULL;
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {"bh-ws", cb_ws, 0, 65536, 0, NULL, 0},
    {"bh-raw", cb_raw, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

bh_ws_client_t *bh_ws_client_open(const struct bh_client *c, const char *path, bh_ws_msg_cb cb,
                                  void *arg, bh_err_t *err)
{
    int tls = !strncmp(c->url, "https://", 8);
    if (!tls && strncmp(c->url, "http://", 7)) {
        bh_err_set(err, 0, "bad server URL %s", c->url);
        err->errnum = EINVAL;
        return NULL;
    }
    if (c->token && strpbrk(c->token, "\r\n")) {
        bh_err_set(err, 0, "the API token contains control characters");
        err->errnum = EINVAL;
        return NULL;
    }
    /* split "http[s]://host[:port][/prefix]" */
    cleanup_free char *url = bh_xstrdup(c->url);
    const char *prot, *host, *prefix;
    int port;
    if (lws_parse_uri(url, &prot, &host, &port, &prefix) || !*host) {
        bh_err_set(err, 0, "bad server URL %s", c->url);
        err->errnum = EINVAL;
        return NULL;
    }
    size_t plen = strlen(prefix);
    while (plen && prefix[plen - 1] == '/')
        plen--;
    cleanup_free char *full = bh_xasprintf("%s%.*s%s", plen ? "/" : "", (int)plen, prefix, path);

    lws_set_log_level(0, NULL);
    struct bh_ws_client *ws = bh_xcalloc(1, sizeof *ws);
    ws->cb = cb;
    ws->arg = arg;
    if (c->token)
        ws->auth = bh_xasprintf("Bearer %s", c->token);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.user = ws;
    info.timeout_secs = 30;
    info.connect_timeout_secs = 10;
    if (tls)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    ws->ctx = lws_create_context(&info);
    if (!ws->ctx) {
        bh_ws_client_free(ws);
        bh_err_set(err, 0, "cannot create the WebSocket client");
        err->errnum = EIO;
        return NULL;
    }

    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = ws->ctx;
    ci.address = host;
    ci.port = port;
    ci.path = full;
    /* Host as curl sends it; no Origin: this is no browser, and a foreign
     * Origin is what the daemon refuses */
    cleanup_free char *host_hdr = (port == (tls ? 443 : 80)) ? bh_xstrdup(host)
                                  : strchr(host, ':')        ? bh_xasprintf("[%s]:%d", host, port)
                                                             : bh_xasprintf("%s:%d", host, port);
    ci.host = host_hdr;
    ci.ssl_connection = LCCSCF_HTTP_NO_FOLLOW_REDIRECT | (tls ? LCCSCF_USE_SSL : 0);
    ci.local_protocol_name = "bh-ws";
    ci.pwsi = &ws->wsi;
    if (!lws_client_connect_via_info(&ci) && !ws->failed) {
        bh_ws_client_free(ws);
        bh_err_set(err, 0, "cannot reach bulkhead at %s", c->url);
        err->errnum = ECONNREFUSED;
        return NULL;
    }
    while (!ws->established && !ws->failed)
        if (lws_service(ws->ctx, 0) < 0)
            break;
    if (!ws->established) {
        const char *why = ws->fail_msg ? ws->fail_msg : "connection failed";
        if (ws->http_status && ws->http_status != 101) {
            bh_err_set(err, 0, "%s: the server refused the WebSocket (HTTP %u)", full,
                       ws->http_status);
            err->errnum = EPROTO;
        } else if (strstr(why, "onnect") || strstr(why, "refused") || strstr(why, "resolve")) {
            bh_err_set(err, 0, "cannot reach bulkhead at %s: %s", c->url, why);
            err->errnum = ECONNREFUSED;
        } else {
            bh_err_set(err, 0, "%s: %s", full, why);
            err->errnum = EIO;
        }
        bh_ws_client_free(ws);
        return NULL;
    }
    return ws;
}

int bh_ws_client_send(bh_ws_client_t *ws, const void *data, size_t len, int binary)
{
    if (ws->closing || ws->done || !ws->wsi)
        return -1;
    struct out_msg *m = bh_xmalloc(sizeof *m + LWS_PRE + len);
    m->next = NULL;
    m->len = len;
    m->binary = binary;
    if (len)
        memcpy(m->buf + LWS_PRE, data, len);
    if (ws->tail)
        ws->tail->next = m;
    else
        ws->head = m;
    ws->tail = m;
    ws->queued += len;
    if (ws->queued > HOLD_BACK)
        set_paused(ws, 1);
    lws_callback_on_writable(ws->wsi);
    return 0;
}

void bh_ws_client_close(bh_ws_client_t *ws, int code, const char *reason)
{
    if (ws->closing || ws->done || !ws->wsi)
        return;
    ws->closing = 1;
    ws->close_code = code;
    reason_copy(ws->close_reason, sizeof ws->close_reason, (const unsigned char *)reason,
                strlen(reason));
    lws_callback_on_writable(ws->wsi);
}

int bh_ws_client_run(bh_ws_client_t *ws)
{
    while (!ws->done)
        if (lws_service(ws->ctx, 0) < 0)
            return -1;
    return ws->peer_code;
}

const char *bh_ws_client_close_reason(const bh_ws_client_t *ws) { return ws->peer_reason; }

void bh_ws_client_free(bh_ws_client_t *ws)
{
    if (!ws)
        return;
    ws->freeing = 1;
    if (ws->ctx)
        lws_context_destroy(ws->ctx); /* closes the connection and the watched fds */
    while (ws->head) {
        struct out_msg *m = ws->head;
        ws->head = m->next;
        free(m);
    }
    while (ws->watches) {
        struct watch *w = ws->watches;
        ws->watches = w->next;
        free(w);
    }
    free(ws->in);
    free(ws->auth);
    free(ws->fail_msg);
    free(ws);
}
