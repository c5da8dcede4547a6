/* http_req.c — HTTP requests and their replies (bh_req_*, see http.h): a
 * request's line, query and headers copied out of the library when its
 * headers arrive, its body gathered (or streamed to the handler, with flow
 * control), its hand-over to the handler, and the reply written in pieces
 * once the handler gave it (or as the handler streams it).
 *
 * Lifetimes: a bh_req is created when a request's headers arrive and freed
 * after its reply was written, or when its connection closes — whichever
 * comes last once the handler has seen it. A streamed reply is the
 * handler's until bh_req_stream_end. */
#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "http/http_int.h"
#include "lib/util.h"

#define CHUNK 65536

/* A piece of a streamed reply, as the handler queued it. */
struct sbuf {
    struct sbuf *next;
    size_t len, off;
    char data[];
};

static void stream_queue_free(struct bh_req *r)
{
    while (r->shead) {
        struct sbuf *b = r->shead;
        r->shead = b->next;
        free(b);
    }
    r->stail = &r->shead;
    r->squeued = 0;
}

void http_req_free(struct bh_req *r)
{
    if (!r)
        return;
    lws_sul_cancel(&r->body_sul);
    lws_sul_cancel(&r->flow_sul);
    lws_sul_cancel(&r->watch_sul);
    free(r->held);
    stream_queue_free(r);
    free(r->path);
    for (int i = 0; i < r->nquery; i++)
        free(r->query[i]);
    free(r->auth);
    free(r->host);
    free(r->origin);
    free(r->ctype);
    free(r->body);
    free(r->rtype);
    free(r->rbody);
    if (r->rhdrs) {
        for (char **p = r->rhdrs; *p; p++)
            free(*p);
        free(r->rhdrs);
    }
    free(r);
}

static char *hdr_dup(struct lws *wsi, enum lws_token_indexes tok)
{
    int n = lws_hdr_total_length(wsi, tok);
    if (n <= 0)
        return NULL;
    char *s = bh_xmalloc((size_t)n + 1);
    if (lws_hdr_copy(wsi, s, n + 1, tok) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

static const struct {
    enum lws_token_indexes tok;
    const char *name;
} methods[] = {
    {WSI_TOKEN_GET_URI, "GET"},       {WSI_TOKEN_POST_URI, "POST"},
    {WSI_TOKEN_PUT_URI, "PUT"},       {WSI_TOKEN_PATCH_URI, "PATCH"},
    {WSI_TOKEN_DELETE_URI, "DELETE"}, {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
    {WSI_TOKEN_HEAD_URI, "HEAD"},
};

struct bh_req *http_req_new(struct bh_http *http, struct lws *wsi, const char *uri)
{
    struct bh_req *r = bh_xcalloc(1, sizeof *r);
    r->http = http;
    r->wsi = wsi;
    snprintf(r->method, sizeof r->method, "GET");
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (lws_hdr_total_length(wsi, methods[i].tok) > 0) {
            snprintf(r->method, sizeof r->method, "%s", methods[i].name);
            break;
        }
    r->path = bh_xstrdup(uri);
    char buf[2048];
    for (int i = 0; r->nquery < MAX_QUERY; i++) {
        int n = lws_hdr_copy_fragment(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            break;
        r->query[r->nquery++] = bh_xstrdup(buf);
    }
    r->auth = hdr_dup(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    r->host = hdr_dup(wsi, WSI_TOKEN_HOST);
    r->origin = hdr_dup(wsi, WSI_TOKEN_ORIGIN);
    r->ctype = hdr_dup(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE);
    char *cl = hdr_dup(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    if (cl) {
        r->body_expected = strtoull(cl, NULL, 10);
        free(cl);
    }
    return r;
}

const char *bh_req_method(const bh_req_t *r) { return r->method; }
const char *bh_req_path(const bh_req_t *r) { return r->path; }
int bh_req_alive(const bh_req_t *r) { return r->wsi != NULL; }

void bh_req_on_gone(bh_req_t *r, void (*cb)(void *arg), void *arg)
{
    r->gone_cb = cb;
    r->gone_arg = arg;
}

/* The connection of r (a handler holds r) is gone: tell the handler. r may
 * be freed by the callback. */
static void req_gone(struct bh_req *r)
{
    void (*cb)(void *) = r->gone_cb;
    r->gone_cb = NULL;
    if (cb)
        cb(r->gone_arg);
}

void http_req_lost(struct bh_req *r)
{
    r->wsi = NULL;
    /* what was read or queued for it goes now; its reader hears no more */
    lws_sul_cancel(&r->flow_sul);
    lws_sul_cancel(&r->watch_sul);
    free(r->held);
    r->held = NULL;
    r->held_len = r->held_cap = 0;
    r->body_told = 1;
    stream_queue_free(r);
    /* a handler still holding it frees it on reply */
    if (!r->dispatched || r->replied)
        http_req_free(r);
    else
        req_gone(r);
}

const char *bh_req_query(bh_req_t *r, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < r->nquery; i++)
        if (!strncmp(r->query[i], name, n) && r->query[i][n] == '=')
            return r->query[i] + n + 1;
    return NULL;
}

const char *bh_req_header(bh_req_t *r, const char *lname)
{
    if (!strcasecmp(lname, "authorization"))
        return r->auth;
    if (!strcasecmp(lname, "host"))
        return r->host;
    if (!strcasecmp(lname, "origin"))
        return r->origin;
    if (!strcasecmp(lname, "content-type"))
        return r->ctype;
    return NULL;
}

int bh_req_streamed(const bh_req_t *r) { return r->streamed; }

const char *bh_req_body(const bh_req_t *r, size_t *len)
{
    if (len)
        *len = r->body_len;
    return r->body ? r->body : "";
}

static void body_release(struct bh_req *r);

/* The reply's content type and extra headers, copied into r. */
static void reply_head(struct bh_req *r, int status, const char *content_type,
                       const char *const *extra)
{
    r->status = status;
    r->rtype = bh_xstrdup(content_type ? content_type : "application/json");
    if (extra) {
        size_t n = 0;
        while (extra[n])
            n++;
        r->rhdrs = bh_xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
            r->rhdrs[i] = bh_xstrdup(extra[i]);
    }
}

void bh_req_reply(bh_req_t *r, int status, const char *content_type, const void *body, size_t len,
                  const char *const *extra)
{
    if (r->streaming) { /* a started stream: its end */
        bh_req_stream_end(r);
        return;
    }
    if (r->replied)
        return;
    r->replied = 1;
    if (!r->wsi) { /* the client left while we worked */
        http_req_free(r);
        return;
    }
    body_release(r);
    reply_head(r, status, content_type, extra);
    r->rbody = bh_xmalloc(len + 1);
    if (len)
        memcpy(r->rbody, body, len);
    r->rlen = len;
    if (!r->upgrading)
        lws_callback_on_writable(r->wsi);
}

/* Write r's status line and headers, for a body of len bytes (-1: chunked),
 * with "connection: close" if close. -1 if the library refused them (the
 * connection is then closed). */
static int write_headers(struct bh_req *r, long long len, int close)
{
    struct lws *wsi = r->wsi;
    unsigned char buf[LWS_PRE + 4096];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    static const char *const fixed[] = {"x-content-type-options",
                                        "nosniff",
                                        "cache-control",
                                        "no-store",
                                        "connection",
                                        "close",
                                        NULL};
    static const char chunked[] = "chunked";
    if (len >= 0) {
        if (lws_add_http_common_headers(wsi, (unsigned)r->status, r->rtype, (lws_filepos_t)len, &p,
                                        end))
            return -1;
    } else if (lws_add_http_header_status(wsi, (unsigned)r->status, &p, end) ||
               lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                            (const unsigned char *)r->rtype, (int)strlen(r->rtype),
                                            &p, end) ||
               lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING,
                                            (const unsigned char *)chunked, (int)sizeof chunked - 1,
                                            &p, end)) {
        return -1;
    }
    for (int pass = 0; pass < 2; pass++) {
        const char *const *h = pass == 0 ? fixed : (const char *const *)r->rhdrs;
        for (; h && h[0] && h[1]; h += 2) {
            char name[128];
            if (pass == 0 && !close && !strcmp(h[0], "connection"))
                continue;
            snprintf(name, sizeof name, "%s:", h[0]);
            if (lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                            (const unsigned char *)h[1], (int)strlen(h[1]), &p,
                                            end))
                return -1;
        }
    }
    return lws_finalize_write_http_header(wsi, start, &p, end) ? -1 : 0;
}

/* Refuse an upgrade: the reply is written at once, then the connection
 * closes (the caller returns -1 to the library). */
void http_req_refuse_upgrade(struct bh_req *r)
{
    size_t n = r->rlen < 2048 ? r->rlen : 2048;
    unsigned char buf[LWS_PRE + 2048];
    if (write_headers(r, (long long)n, 1) < 0 || !n)
        return;
    memcpy(buf + LWS_PRE, r->rbody, n);
    if (lws_write(r->wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP_FINAL) < 0)
        return;
}

/* Write the next piece of r's reply. Returns -1 to close the connection. */
int http_req_write(struct bh_req *r, struct pss *pss)
{
    struct lws *wsi = r->wsi;
    if (!r->headers_sent) {
        if (write_headers(r, (long long)r->rlen, 1) < 0)
            return -1;
        r->headers_sent = 1;
        if (r->rlen == 0 || !strcmp(r->method, "HEAD"))
            goto done;
        lws_callback_on_writable(wsi);
        return 0;
    }
    {
        static unsigned char buf[LWS_PRE + CHUNK];
        size_t n = r->rlen - r->roff;
        if (n > CHUNK)
            n = CHUNK;
        memcpy(buf + LWS_PRE, r->rbody + r->roff, n);
        int final = r->roff + n == r->rlen;
        if (lws_write(wsi, buf + LWS_PRE, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
            (int)n)
            return -1;
        r->roff += n;
        if (!final) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
done:
    pss->req = NULL;
    http_req_free(r);
    /* One request per connection: the library's handling of input that
     * follows a request (pipelined) wedged the loop and read freed memory
     * (fuzz_http_front), so the connection closes once the reply is out
     * and anything the client sent after its request is never parsed. */
    pss->answered = 1;
    return http_req_close_when_sent(wsi);
}

int http_req_close_when_sent(struct lws *wsi)
{
    if (lws_partial_buffered(wsi)) {
        lws_callback_on_writable(wsi); /* the library sends the rest first */
        return 0;
    }
    return -1;
}

/* Its Content-Length is over the limit: 413 once the body is read. */
static int too_large(const struct bh_req *r) { return r->body_expected > r->body_max; }

static int body_piece(struct bh_req *r, const char *in, size_t len);

int http_req_body(struct bh_req *r, const void *in, size_t len)
{
    if (r->streamed)
        return body_piece(r, in, len);
    if (r->dispatched || too_large(r))
        return 0;
    if (r->body_len + len > r->body_max)
        return -1;
    if (r->body_len + len + 1 > r->body_cap) {
        r->body_cap = r->body_len + len + 1 > 2 * r->body_cap ? r->body_len + len + 1
                                                              : 2 * r->body_cap;
        char *nb = realloc(r->body, r->body_cap);
        if (!nb)
            abort();
        r->body = nb;
    }
    memcpy(r->body + r->body_len, in, len);
    r->body_len += len;
    r->body[r->body_len] = 0;
    return 0;
}

static void reply_too_large(struct bh_req *r)
{
    static const char msg[] =
        "{\"error\":{\"code\":\"body_too_large\",\"message\":\"request body too large\"}}";
    bh_req_reply(r, 413, "application/json", msg, sizeof msg - 1, NULL);
}

void http_req_dispatch(struct bh_req *r)
{
    lws_sul_cancel(&r->body_sul);
    r->dispatched = 1;
    if (too_large(r))
        reply_too_large(r);
    else
        r->http->h.request(r->http->hctx, r);
}

/* ---------------------------------------------------------------- streamed bodies */

/* Apply r's body flow state (soon, on the loop, never inside the caller). */
static void flow_soon(struct bh_req *r);
#define WATCH_US (200 * LWS_US_PER_MS)
static void watch_client(struct bh_req *r);

void http_req_dispatch_streamed(struct bh_req *r)
{
    r->streamed = 1;
    r->dispatched = 1;
    /* held like a paused body until the handler reads it */
    flow_soon(r);
    r->http->h.request(r->http->hctx, r);
}

/* The handler answers (bh_req_reply, bh_req_stream_start): a streamed body
 * is not read for it any more — what it did not take is dropped, and if the
 * body was not all in, the connection closes after the reply — and the
 * connection is read again at once: the library writes nothing on an HTTP
 * connection whose reading is paused (and would spin on its write
 * readiness), so a reply never goes out while a body is held. */
static void body_release(struct bh_req *r)
{
    if (!r->streamed)
        return;
    if (!r->body_told) {
        r->body_told = 1;
        free(r->held);
        r->held = NULL;
        r->held_len = r->held_cap = 0;
    }
    if (!r->body_ended)
        r->close_after = 1;
    lws_sul_cancel(&r->body_sul);
    lws_sul_cancel(&r->flow_sul);
    lws_rx_flow_control(r->wsi, 1);
}

/* Reading stops before the body's end (the reader said so, or the handler
 * replied): the rest is read and dropped while the reply goes out, and the
 * connection closes after it. */
static void body_stop(struct bh_req *r)
{
    r->body_told = 1;
    r->close_after = 1;
    free(r->held);
    r->held = NULL;
    r->held_len = r->held_cap = 0;
    lws_sul_cancel(&r->body_sul);
    flow_soon(r);
}

/* Hand a piece to the reader. */
static void body_deliver(struct bh_req *r, const char *data, size_t len)
{
    if (r->reader.data(r->reader_arg, data, len) < 0 && !r->body_told)
        body_stop(r);
}

/* A piece of a streamed body from the library. */
static int body_piece(struct bh_req *r, const char *in, size_t len)
{
    if (r->body_told || r->replied)
        return 0; /* dropped */
    if (r->reading && !r->paused && !r->held_len) {
        body_deliver(r, in, len);
        return 0;
    }
    /* not wanted now: hold it (the library read it already) and read no
     * more until it is wanted; the library delivers one read at a time */
    if (r->held_len + len > r->held_cap) {
        r->held_cap = r->held_len + len;
        char *nb = realloc(r->held, r->held_cap);
        if (!nb)
            abort();
        r->held = nb;
    }
    memcpy(r->held + r->held_len, in, len);
    r->held_len += len;
    lws_rx_flow_control(r->wsi, 0);
    flow_soon(r); /* clears the library's per-piece timeout it sets next */
    return 0;
}

void http_req_body_complete(struct bh_req *r)
{
    r->body_ended = 1;
    lws_sul_cancel(&r->body_sul);
    flow_soon(r);
}

/* The flow state of r's body, applied: read or not, its deadlines, and what
 * is held or due delivered. */
static void body_flow(lws_sorted_usec_list_t *sul)
{
    struct bh_req *r = lws_container_of(sul, struct bh_req, flow_sul);
    struct lws *wsi = r->wsi;
    while (wsi) {
        if (r->body_told) {
            if (!r->body_ended) /* drop the rest as it comes */
                lws_rx_flow_control(wsi, 1);
            return;
        }
        if (!r->reading || r->paused) { /* the handler holds it */
            if (!r->body_ended) {
                lws_rx_flow_control(wsi, 0);
                lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
                watch_client(r);
            }
            lws_sul_cancel(&r->body_sul);
            return;
        }
        if (r->held_len) {
            char *b = r->held;
            size_t n = r->held_len;
            r->held = NULL;
            r->held_len = r->held_cap = 0;
            body_deliver(r, b, n);
            free(b);
            continue; /* the reader may have paused or stopped */
        }
        if (r->body_ended) {
            r->body_told = 1;
            r->reader.end(r->reader_arg);
            return;
        }
        /* reading: the deadline of this stretch runs, the library reads */
        if (lws_dll2_is_detached(&r->body_sul.list)) /* else still running */
            lws_sul_schedule(lws_get_context(wsi), 0, &r->body_sul, http_body_deadline,
                             (lws_usec_t)r->http->body_timeout * LWS_US_PER_SEC);
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, r->http->body_timeout);
        lws_rx_flow_control(wsi, 1);
        return;
    }
}

static void flow_soon(struct bh_req *r)
{
    if (r->wsi)
        lws_sul_schedule(lws_get_context(r->wsi), 0, &r->flow_sul, body_flow, 1);
}

void bh_req_read_body(bh_req_t *r, const struct bh_body_reader *h, void *arg)
{
    if (!r->streamed || r->reading)
        return;
    r->reading = 1;
    r->reader = *h;
    r->reader_arg = arg;
    flow_soon(r);
}

void bh_req_body_pause(bh_req_t *r, int paused)
{
    if (!r->streamed || r->paused == !!paused)
        return;
    r->paused = !!paused;
    if (!r->wsi || r->body_told)
        return;
    if (paused && !r->body_ended)
        lws_rx_flow_control(r->wsi, 0); /* now: no piece is read after this */
    flow_soon(r);
}

/* ---------------------------------------------------------------- streamed replies */

long long http_conn_bytes_read(struct lws *wsi)
{
    /* received first, then what waits unread: data arriving in between
     * makes this smaller, never larger */
    int fd = lws_get_socket_fd(wsi), inq = 0;
    struct tcp_info ti;
    socklen_t tl = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0 ||
        tl < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received ||
        ioctl(fd, FIONREAD, &inq) < 0)
        return -1;
    return (long long)ti.tcpi_bytes_received - inq;
}

/* The client's side of r's connection, looked at every WATCH_US while the
 * library does not read it: during a streamed reply to a request without a
 * body (the library reads nothing during such a transaction: a client that
 * closed, or sent more, would only make the loop spin on the unread input
 * until the stream ends), and while a streamed body is held (it does not
 * see the client's end then). A client that closed, or reset, or that sent
 * more than its request during a stream (pipelining behind a stream is not
 * served), has its connection closed now; the handler hears of it through
 * bh_req_on_gone. */
static void client_watch(lws_sorted_usec_list_t *sul)
{
    struct bh_req *r = lws_container_of(sul, struct bh_req, watch_sul);
    if (!r->wsi)
        return;
    int stream = r->streaming && !r->fin_taken && !r->body_expected;
    int held = r->streamed && !r->body_told && !r->body_ended && (!r->reading || r->paused);
    if (!stream && !held)
        return;
    char c;
    ssize_t n = recv(lws_get_socket_fd(r->wsi), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n > 0 && stream) ||
        (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        lws_set_timeout(r->wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
        return;
    }
    lws_sul_schedule(lws_get_context(r->wsi), 0, &r->watch_sul, client_watch, WATCH_US);
}

static void watch_client(struct bh_req *r)
{
    if (r->wsi && lws_dll2_is_detached(&r->watch_sul.list))
        lws_sul_schedule(lws_get_context(r->wsi), 0, &r->watch_sul, client_watch, WATCH_US);
}

int bh_req_stream_start(bh_req_t *r, int status, const char *content_type, long long length,
                        const char *const *extra, void (*drained)(void *arg), void *arg)
{
    if (!r->wsi || r->replied || r->streaming || r->upgrading)
        return -1;
    r->streaming = 1;
    reply_head(r, status, content_type, extra);
    r->slength = length < 0 ? -1 : length;
    r->chunked = length < 0;
    r->stail = &r->shead;
    r->drained_cb = drained;
    r->drained_arg = arg;
    body_release(r);
    if (!r->body_expected) /* the library is not reading: watch the client */
        watch_client(r);
    lws_callback_on_writable(r->wsi);
    return 0;
}

int bh_req_stream_write(bh_req_t *r, const void *data, size_t len)
{
    if (!r->wsi || !r->streaming || r->replied)
        return -1;
    if (r->slength >= 0 && (unsigned long long)r->swritten + len > (unsigned long long)r->slength)
        return -1;
    r->swritten += (long long)len;
    if (!len || !strcmp(r->method, "HEAD"))
        return 0;
    struct sbuf *b = bh_xmalloc(sizeof *b + len);
    b->next = NULL;
    b->len = len;
    b->off = 0;
    memcpy(b->data, data, len);
    *r->stail = b;
    r->stail = &b->next;
    r->squeued += len;
    lws_callback_on_writable(r->wsi);
    return 0;
}

size_t bh_req_stream_queued(const bh_req_t *r) { return r->squeued; }

void bh_req_stream_end(bh_req_t *r)
{
    if (!r->streaming) { /* never started: an empty answer, so r is let go */
        static const char msg[] = "{\"error\":{\"code\":\"internal\",\"message\":\"no reply\"}}";
        bh_req_reply(r, 500, "application/json", msg, sizeof msg - 1, NULL);
        return;
    }
    if (r->replied)
        return;
    r->replied = 1;
    if (!r->wsi) { /* the client left while we worked */
        http_req_free(r);
        return;
    }
    lws_callback_on_writable(r->wsi);
}

/* The last bytes of r's reply are about to be handed to the library: what
 * the connection looks like now decides its keep-alive. Input already waiting
 * was sent before the client had the whole reply (pipelined): then no
 * keep-alive. From now on input is the next request: no longer watched. */
static void stream_last_bytes(struct bh_req *r)
{
    int inq = 0;
    r->fin_read = http_conn_bytes_read(r->wsi);
    if (r->fin_read >= 0 && (ioctl(lws_get_socket_fd(r->wsi), FIONREAD, &inq) < 0 || inq > 0))
        r->fin_read = -1;
    r->fin_taken = 1;
    lws_sul_cancel(&r->watch_sul);
}

int http_req_stream_writable(struct bh_req *r, struct pss *pss, long long *kept)
{
    struct lws *wsi = r->wsi;
    int head = !strcmp(r->method, "HEAD");
    if (!r->headers_sent) {
        if (head || (!r->chunked && r->slength == 0))
            stream_last_bytes(r);
        if (write_headers(r, r->chunked ? -1 : r->slength, r->close_after) < 0)
            return -1;
        r->headers_sent = 1;
        r->drain_due = 1;
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (r->shead) { /* the next piece: up to CHUNK bytes of the queue */
        static unsigned char buf[LWS_PRE + 16 + CHUNK + 2];
        unsigned char *data = buf + LWS_PRE + 16, *start = data;
        size_t n = 0;
        while (n < CHUNK && r->shead) {
            struct sbuf *b = r->shead;
            size_t k = b->len - b->off < CHUNK - n ? b->len - b->off : CHUNK - n;
            memcpy(data + n, b->data + b->off, k);
            n += k;
            b->off += k;
            if (b->off == b->len) {
                r->shead = b->next;
                if (!r->shead)
                    r->stail = &r->shead;
                free(b);
            }
        }
        r->squeued -= n;
        r->sout += (long long)n;
        size_t total = n;
        if (r->chunked) {
            char hdr[16];
            int hl = snprintf(hdr, sizeof hdr, "%zx\r\n", n);
            start -= hl;
            memcpy(start, hdr, (size_t)hl);
            memcpy(data + n, "\r\n", 2);
            total += (size_t)hl + 2;
        } else if (r->sout == r->slength) {
            stream_last_bytes(r);
        }
        if (lws_write(wsi, start, total, LWS_WRITE_HTTP) != (int)total)
            return -1;
        r->drain_due = 1;
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (!r->replied) { /* all out (the library writes here only then) */
        if (r->drain_due && r->drained_cb) {
            r->drain_due = 0;
            r->drained_cb(r->drained_arg);
        }
        return 0;
    }
    /* the end */
    if (r->chunked && !head) {
        unsigned char last[LWS_PRE + 8];
        memcpy(last + LWS_PRE, "0\r\n\r\n", 5);
        stream_last_bytes(r);
        if (lws_write(wsi, last + LWS_PRE, 5, LWS_WRITE_HTTP) != 5)
            return -1;
    }
    long long read = r->fin_taken ? r->fin_read : -1;
    int keep = !r->close_after && (!r->streamed || r->body_ended) && read >= 0 &&
               (r->slength < 0 || r->swritten == r->slength);
    pss->req = NULL;
    http_req_free(r);
    if (!keep) {
        pss->answered = 1;
        return http_req_close_when_sent(wsi);
    }
    /* the next request on this connection (the library parses it) */
    *kept = read;
    lws_rx_flow_control(wsi, 1);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}
