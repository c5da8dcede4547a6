/* http_ws.c — WebSocket connections (bh_ws_*, see http.h): a message queue
 * per connection written one message at a time as the library allows (so a
 * peer that stops reading makes the queue grow, where the limits see it),
 * messages gathered from their fragments up to max_ws_msg, and closing, at
 * once or after the queue. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http/http_int.h"
#include "lib/util.h"

struct wsmsg {
    struct wsmsg *next;
    size_t len;
    int binary;
    unsigned char data[]; /* LWS_PRE bytes of headroom, then the payload */
};

struct bh_ws {
    struct lws *wsi;
    struct bh_ws_handlers h;
    void *arg;
    struct wsmsg *head, **tail;
    size_t queued;
    char *rx;
    size_t rx_len, rx_cap;
    int rx_binary;
    int closing;
    int close_now;
    int close_code;
    char close_reason[124];
};
bh_ws_t *bh_ws_accept(bh_req_t *r, const struct bh_ws_handlers *h, void *arg)
{
    if (!r->upgrading || r->ws || r->replied)
        return NULL;
    struct bh_ws *ws = bh_xcalloc(1, sizeof *ws);
    ws->wsi = r->wsi;
    ws->h = *h;
    ws->arg = arg;
    ws->tail = &ws->head;
    r->ws = ws;
    return ws;
}

int bh_ws_send(bh_ws_t *ws, const char *data, size_t len, int binary)
{
    if (!ws || ws->closing || !ws->wsi)
        return -1;
    struct wsmsg *m = bh_xmalloc(sizeof *m + LWS_PRE + len);
    m->next = NULL;
    m->len = len;
    m->binary = binary;
    memcpy(m->data + LWS_PRE, data, len);
    *ws->tail = m;
    ws->tail = &m->next;
    ws->queued += len;
    lws_callback_on_writable(ws->wsi);
    return 0;
}

size_t bh_ws_queued(const bh_ws_t *ws) { return ws ? ws->queued : 0; }

void bh_ws_close(bh_ws_t *ws, int code, const char *reason, int now)
{
    if (!ws || ws->closing || !ws->wsi)
        return;
    ws->closing = 1;
    ws->close_now = now;
    ws->close_code = code;
    snprintf(ws->close_reason, sizeof ws->close_reason, "%s", reason ? reason : "");
    if (now) {
        /* drop what is queued: its memory goes now; a peer that is not
         * reading (output still pending) cannot take a close frame either,
         * so its connection is cut at once */
        int stalled = ws->head != NULL || lws_partial_buffered(ws->wsi);
        while (ws->head) {
            struct wsmsg *m = ws->head;
            ws->head = m->next;
            free(m);
        }
        ws->tail = &ws->head;
        ws->queued = 0;
        if (stalled) {
            /* the library would wait to flush its pending output first:
             * end the TCP connection under it, its next write fails */
            int fd = lws_get_socket_fd(ws->wsi);
            if (fd >= 0)
                shutdown(fd, SHUT_RDWR);
            lws_set_timeout(ws->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
            lws_callback_on_writable(ws->wsi);
            return;
        }
    }
    lws_callback_on_writable(ws->wsi);
}

void bh_ws_detach(bh_ws_t *ws)
{
    if (!ws)
        return;
    memset(&ws->h, 0, sizeof ws->h);
    ws->closing = 1;
}

static void ws_free(struct bh_ws *ws)
{
    while (ws->head) {
        struct wsmsg *m = ws->head;
        ws->head = m->next;
        free(m);
    }
    free(ws->rx);
    free(ws);
}

int http_ws_writable(struct bh_ws *ws)
{
    if (ws->closing && (ws->close_now || !ws->head)) {
        lws_close_reason(ws->wsi, (enum lws_close_status)ws->close_code,
                         (unsigned char *)ws->close_reason, strlen(ws->close_reason));
        return -1;
    }
    struct wsmsg *m = ws->head;
    if (!m)
        return 0;
    /* one message at a time: what the library still holds from the last
     * write counts as not written (so a peer that stops reading makes our
     * queue grow, where the limits can see it) */
    if (lws_send_pipe_choked(ws->wsi) || lws_partial_buffered(ws->wsi)) {
        lws_callback_on_writable(ws->wsi);
        return 0;
    }
    int n = lws_write(ws->wsi, m->data + LWS_PRE, m->len,
                      m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    if (n < 0)
        return -1;
    ws->head = m->next;
    if (!ws->head)
        ws->tail = &ws->head;
    ws->queued -= m->len;
    free(m);
    if (ws->head || ws->closing)
        lws_callback_on_writable(ws->wsi);
    else if (ws->h.drained)
        ws->h.drained(ws->arg, ws);
    return 0;
}

int http_ws_receive(struct bh_http *http, struct bh_ws *ws, struct lws *wsi, const void *in,
                    size_t len)
{
    if (ws->closing || !ws->h.message)
        return 0;
    if (lws_is_first_fragment(wsi)) {
        ws->rx_len = 0;
        ws->rx_binary = lws_frame_is_binary(wsi);
    }
    if (ws->rx_len + len > http->max_ws_msg) {
        static const char why[] = "message too large";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)why,
                         sizeof why - 1);
        return -1;
    }
    if (ws->rx_len + len + 1 > ws->rx_cap) {
        size_t cap = ws->rx_cap ? ws->rx_cap : 4096;
        while (cap < ws->rx_len + len + 1)
            cap *= 2;
        char *nb = realloc(ws->rx, cap);
        if (!nb)
            abort();
        ws->rx = nb;
        ws->rx_cap = cap;
    }
    memcpy(ws->rx + ws->rx_len, in, len);
    ws->rx_len += len;
    ws->rx[ws->rx_len] = 0;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return 0;
    size_t n = ws->rx_len;
    ws->rx_len = 0;
    int rc = ws->h.message(ws->arg, ws, ws->rx, n, ws->rx_binary);
    /* keep memory bounded after a large message */
    if (ws->rx_cap > 1u << 20) {
        free(ws->rx);
        ws->rx = NULL;
        ws->rx_cap = 0;
    }
    return rc < 0 ? -1 : 0;
}

void http_ws_closed(struct bh_ws *ws)
{
    ws->wsi = NULL;
    ws->closing = 1;
    if (ws->h.closed)
        ws->h.closed(ws->arg, ws);
    ws_free(ws);
}
