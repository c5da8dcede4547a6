/* http.c — HTTP front and the event loop (see http.h and loop.h), on
 * libwebsockets' own poll loop. This is the only file that includes
 * libwebsockets.h.
 *
 * Lifetimes: a bh_req is created when a request's headers arrive and freed
 * after its reply was written, or when its connection closes — whichever
 * comes last once the handler has seen it. A bh_watch is freed by the loop
 * after its descriptor was closed (bh_watch_remove or hang-up).
 *
 * Slow and greedy clients: the library's header timeout (the time it holds a
 * header table) bounds the headers; a timer of our own bounds the whole body
 * (the library's body timeout restarts with every piece that arrives). Every
 * accepted connection is counted, in all and per client address, from the
 * library's accept filter to its wsi's destruction; one over a cap gets a
 * canned 503 and is closed before the library adopts it. When accept() itself
 * fails for want of descriptors (EMFILE), the library would log and retry at
 * once, forever: we free a reserve descriptor, accept and refuse what waits,
 * take the reserve back, and log that once per LOG_EVERY_S seconds with a
 * count. */
#include "http.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define MAX_QUERY 16
#define CHUNK 65536
#define CONN_BUCKETS 4096
#define LOG_EVERY_S 10

/* An accepted client connection, known by its wsi. */
struct conn {
    struct conn *next;
    struct lws *wsi;
    struct peer *peer;
};

/* Connections from one client address. */
struct peer {
    struct peer *next;
    unsigned char addr[16]; /* IPv6, or IPv4-mapped */
    int n;
};

/* A refusal kind, counted and logged at most once per LOG_EVERY_S. */
struct ratelog {
    time_t last;
    unsigned long count; /* since the last line */
};

struct bh_loop {
    struct lws_context *ctx;
    struct lws_vhost *vh;
    int stop;
    void (*wake_cb)(void *);
    void *wake_arg;
};

struct bh_http {
    struct bh_loop loop;
    struct bh_http_handlers h;
    void *hctx;
    size_t max_body;
    size_t max_put_body;
    size_t max_ws_msg;
    int port;
    int body_timeout;
    /* connections */
    int max_conns, max_conns_per_addr;
    int nconns;
    struct conn *conns[CONN_BUCKETS];
    struct peer *peers[CONN_BUCKETS];
    struct peer *accepting; /* between the accept filter and the new wsi */
    int listen_fd;
    int reserve_fd;         /* spent to refuse connections at EMFILE */
    struct ratelog log_full, log_addr, log_emfile;
};

struct bh_req {
    struct bh_http *http;
    struct lws *wsi;        /* NULL once the connection is gone */
    char method[8];
    char *path;
    char *query[MAX_QUERY]; /* "name=value", decoded */
    int nquery;
    char *auth, *host, *origin, *ctype;
    char *body;
    size_t body_len, body_cap, body_expected, body_max;
    int dispatched;         /* the handler owns the reply */
    int too_large;          /* Content-Length over the limit: 413 once the body is read */
    int replied;
    /* response */
    int status;
    char *rtype;
    char *rbody;
    size_t rlen, roff;
    char **rhdrs;
    int headers_sent;
    struct bh_ws *ws;       /* set by bh_ws_accept during an upgrade */
    int upgrading;
    lws_sorted_usec_list_t body_sul; /* the body's deadline */
    void (*gone_cb)(void *);
    void *gone_arg;
};

struct pss {
    struct bh_req *req;
    struct bh_ws *ws;
    int body_done; /* the current request's body completed */
    int answered;  /* the reply is written: close once it is sent */
};

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

/* ---------------------------------------------------------------- requests */

static void req_free(struct bh_req *r)
{
    if (!r)
        return;
    lws_sul_cancel(&r->body_sul);
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

static struct bh_req *req_new(struct bh_http *http, struct lws *wsi, const char *uri)
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

const char *bh_req_body(const bh_req_t *r, size_t *len)
{
    if (len)
        *len = r->body_len;
    return r->body ? r->body : "";
}

void bh_req_reply(bh_req_t *r, int status, const char *content_type, const void *body,
                  size_t len, const char *const *extra)
{
    if (r->replied)
        return;
    r->replied = 1;
    if (!r->wsi) { /* the client left while we worked */
        req_free(r);
        return;
    }
    r->status = status;
    r->rtype = bh_xstrdup(content_type ? content_type : "application/json");
    r->rbody = bh_xmalloc(len + 1);
    if (len)
        memcpy(r->rbody, body, len);
    r->rlen = len;
    if (extra) {
        size_t n = 0;
        while (extra[n])
            n++;
        r->rhdrs = bh_xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
            r->rhdrs[i] = bh_xstrdup(extra[i]);
    }
    if (!r->upgrading)
        lws_callback_on_writable(r->wsi);
}

/* Write r's status line and headers, for a body of len bytes. -1 if the
 * library refused them (the connection is then closed). */
static int write_headers(struct bh_req *r, size_t len)
{
    struct lws *wsi = r->wsi;
    unsigned char buf[LWS_PRE + 4096];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    static const char *const fixed[] = {"x-content-type-options", "nosniff", "cache-control",
                                        "no-store", "connection", "close", NULL};
    if (lws_add_http_common_headers(wsi, (unsigned)r->status, r->rtype, len, &p, end))
        return -1;
    for (int pass = 0; pass < 2; pass++) {
        const char *const *h = pass == 0 ? fixed : (const char *const *)r->rhdrs;
        for (; h && h[0] && h[1]; h += 2) {
            char name[128];
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
static void refuse_upgrade(struct bh_req *r)
{
    size_t n = r->rlen < 2048 ? r->rlen : 2048;
    unsigned char buf[LWS_PRE + 2048];
    if (write_headers(r, n) < 0 || !n)
        return;
    memcpy(buf + LWS_PRE, r->rbody, n);
    if (lws_write(r->wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP_FINAL) < 0)
        return;
}

/* Write the next piece of r's reply. Returns -1 to close the connection. */
static int req_write(struct bh_req *r, struct pss *pss)
{
    struct lws *wsi = r->wsi;
    if (!r->headers_sent) {
        if (write_headers(r, r->rlen) < 0)
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
    req_free(r);
    /* One request per connection: the library's handling of input that
     * follows a request (pipelined) wedged the loop and read freed memory
     * (fuzz_http_front), so the connection closes once the reply is out
     * and anything the client sent after its request is never parsed. */
    pss->answered = 1;
    if (lws_partial_buffered(wsi)) {
        lws_callback_on_writable(wsi); /* the library sends the rest first */
        return 0;
    }
    return -1;
}

static void reply_too_large(struct bh_req *r)
{
    static const char msg[] =
        "{\"error\":{\"code\":\"body_too_large\",\"message\":\"request body too large\"}}";
    bh_req_reply(r, 413, "application/json", msg, sizeof msg - 1, NULL);
}

static void dispatch(struct bh_req *r)
{
    lws_sul_cancel(&r->body_sul);
    r->dispatched = 1;
    if (r->too_large)
        reply_too_large(r);
    else
        r->http->h.request(r->http->hctx, r);
}


/* ---------------------------------------------------------------- websockets */

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

static int ws_writable(struct bh_ws *ws)
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

static int ws_receive(struct bh_http *http, struct bh_ws *ws, struct lws *wsi, const void *in,
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

/* ---------------------------------------------------------------- slow and greedy clients */

/* The body did not arrive within the body timeout: close the connection. */
static void body_deadline(lws_sorted_usec_list_t *sul)
{
    struct bh_req *r = lws_container_of(sul, struct bh_req, body_sul);
    if (r->wsi && !r->dispatched) {
        bh_log(BH_LOG_DEBUG, NULL, "%s %s: body not complete within %d s; closing", r->method,
               r->path, r->http->body_timeout);
        lws_set_timeout(r->wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
    }
}

/* Count n more events of rl; 1 if it is time to log (the count is then
 * in rl->count, and reset by the caller). */
static int ratelog_hit(struct ratelog *rl, unsigned long n)
{
    time_t now = time(NULL);
    rl->count += n;
    if (rl->last && now - rl->last < LOG_EVERY_S)
        return 0;
    rl->last = now;
    return 1;
}

static unsigned hash_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    unsigned h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    return h % CONN_BUCKETS;
}

static unsigned hash_ptr(const void *p) { return hash_bytes(&p, sizeof p); }

/* The client address of an accepted connection, as 16 bytes. */
static void peer_key(const struct sockaddr_storage *sa, unsigned char key[16])
{
    memset(key, 0, 16);
    if (sa->ss_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    } else if (sa->ss_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    }
}

static struct peer *peer_get(struct bh_http *http, const unsigned char key[16], int create)
{
    unsigned b = hash_bytes(key, 16);
    for (struct peer *p = http->peers[b]; p; p = p->next)
        if (!memcmp(p->addr, key, 16))
            return p;
    if (!create)
        return NULL;
    struct peer *p = bh_xcalloc(1, sizeof *p);
    memcpy(p->addr, key, 16);
    p->next = http->peers[b];
    http->peers[b] = p;
    return p;
}

static void peer_put(struct bh_http *http, struct peer *p)
{
    if (--p->n > 0)
        return;
    for (struct peer **pp = &http->peers[hash_bytes(p->addr, 16)]; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    free(p);
}

/* Answer a connection we will not serve: a 503 in one write, then the
 * library (or the caller) closes it. What the client sent already is read
 * first, so that the close is a FIN and not a reset that could destroy the
 * answer before the client reads it. */
static void refuse_fd(int fd, const char *why)
{
    char buf[4096], msg[512];
    for (int i = 0; i < 16 && recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0; i++)
        ;
    char body[256];
    int bl = snprintf(body, sizeof body,
                      "{\"error\":{\"code\":\"unavailable\",\"message\":\"%s\"}}", why);
    int n = snprintf(msg, sizeof msg,
                     "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
                     "retry-after: 5\r\ncache-control: no-store\r\nconnection: close\r\n"
                     "content-length: %d\r\n\r\n%s",
                     bl, body);
    if (send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        /* nothing to do: it is closed next */
    }
}

static char *peer_text(const unsigned char key[16], char *out, size_t n)
{
    static const unsigned char v4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!memcmp(key, v4, 12))
        snprintf(out, n, "%u.%u.%u.%u", key[12], key[13], key[14], key[15]);
    else if (!inet_ntop(AF_INET6, key, out, (socklen_t)n))
        snprintf(out, n, "?");
    return out;
}

static void accepting_drop(struct bh_http *http);

/* The library accepted fd from the listening socket lwsi: 0 to serve it,
 * 1 after answering 503 (the library then closes it). */
static int conn_filter(struct bh_http *http, struct lws *lwsi,
                       struct lws_filter_network_conn_args *f, int fd)
{
    if (http->listen_fd < 0)
        http->listen_fd = lws_get_socket_fd(lwsi);
    unsigned char key[16];
    char who[64];
    peer_key(&f->cli_addr, key);
    accepting_drop(http);
    if (http->max_conns > 0 && http->nconns >= http->max_conns) {
        refuse_fd(fd, "too many connections; try again later");
        if (ratelog_hit(&http->log_full, 1)) {
            bh_log(BH_LOG_WARN, NULL,
                   "connection cap (%d) reached: %lu connection(s) refused with 503 (last from "
                   "%s)",
                   http->max_conns, http->log_full.count, peer_text(key, who, sizeof who));
            http->log_full.count = 0;
        }
        return 1;
    }
    struct peer *p = peer_get(http, key, 1);
    if (http->max_conns_per_addr > 0 && p->n >= http->max_conns_per_addr) {
        refuse_fd(fd, "too many connections from this address; try again later");
        if (ratelog_hit(&http->log_addr, 1)) {
            bh_log(BH_LOG_WARN, NULL,
                   "per-address connection cap (%d) reached: %lu connection(s) refused with 503 "
                   "(last from %s)",
                   http->max_conns_per_addr, http->log_addr.count,
                   peer_text(key, who, sizeof who));
            http->log_addr.count = 0;
        }
        return 1;
    }
    http->accepting = p; /* the library creates its wsi next */
    return 0;
}

/* A connection let through by conn_filter got no wsi (the library failed
 * to adopt it): forget its address if nothing else holds it. */
static void accepting_drop(struct bh_http *http)
{
    struct peer *p = http->accepting;
    http->accepting = NULL;
    if (p && !p->n)
        peer_put(http, (p->n = 1, p));
}

/* The wsi of the connection just let through by conn_filter. */
static void conn_add(struct bh_http *http, struct lws *wsi)
{
    struct conn *c = bh_xcalloc(1, sizeof *c);
    c->wsi = wsi;
    c->peer = http->accepting;
    c->peer->n++;
    http->accepting = NULL;
    unsigned b = hash_ptr(wsi);
    c->next = http->conns[b];
    http->conns[b] = c;
    http->nconns++;
}

/* Any wsi is destroyed: if it is a client connection, it counts no more. */
static void conn_remove(struct bh_http *http, struct lws *wsi)
{
    for (struct conn **pp = &http->conns[hash_ptr(wsi)]; *pp; pp = &(*pp)->next) {
        struct conn *c = *pp;
        if (c->wsi != wsi)
            continue;
        *pp = c->next;
        http->nconns--;
        peer_put(http, c->peer);
        free(c);
        return;
    }
}

/* The library failed to accept for want of descriptors (and would try
 * again at once, forever, as the connection still waits): spend the
 * reserve descriptor to accept and refuse what waits, then take it back. */
static void at_fd_limit(struct bh_http *http, int err)
{
    int refused = 0;
    if (http->reserve_fd < 0)
        http->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (http->listen_fd >= 0 && http->reserve_fd >= 0) {
        close(http->reserve_fd);
        http->reserve_fd = -1;
        for (int i = 0; i < 1024; i++) {
            int fd = accept4(http->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0)
                break;
            refuse_fd(fd, "the server is out of file descriptors; try again later");
            close(fd);
            refused++;
        }
        http->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    if (ratelog_hit(&http->log_emfile, (unsigned long)refused)) {
        bh_log(BH_LOG_ERROR, NULL,
               "out of file descriptors (accept: %s; %d connection(s), RLIMIT_NOFILE): %lu "
               "connection(s) refused%s; raise the limit or lower --max-connections",
               strerror(err), http->nconns, http->log_emfile.count,
               http->reserve_fd < 0 ? " (no reserve descriptor left)" : "");
        http->log_emfile.count = 0;
    }
}

/* The http server whose library messages go through lws_log_cb (one per
 * process: the library's log hook takes no context). */
static struct bh_http *log_http;

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
            old->wsi = NULL;
            if (!old->dispatched || old->replied)
                req_free(old);
            else
                req_gone(old);
        }
        struct bh_req *r = req_new(http, wsi, in ? (const char *)in : "/");
        pss->req = r;
        pss->body_done = 0;
        r->body_max = !strcmp(r->method, "PUT") ? http->max_put_body : http->max_body;
        /* A body over the limit is read and dropped (within the body
         * timeout, like any body) and then answered 413: closing at once
         * would reset the connection under a client still sending, which
         * then never sees the answer. */
        r->too_large = r->body_expected > r->body_max;
        if (r->body_expected > 0 && (!strcmp(r->method, "POST") || !strcmp(r->method, "PUT") ||
                                     !strcmp(r->method, "PATCH"))) {
            /* wait for the body, within the body timeout in all (the
             * library's own timeout, set by now, restarts with each piece) */
            lws_sul_schedule(lws_get_context(wsi), 0, &r->body_sul, body_deadline,
                             (lws_usec_t)http->body_timeout * LWS_US_PER_SEC);
            return 0;
        }
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0); /* the handler may park it */
        dispatch(r); /* (a too large body on another method: 413 at once) */
        return 0;
    }

    case LWS_CALLBACK_HTTP_BODY: {
        struct bh_req *r = pss->req;
        if (!r || r->dispatched || r->too_large)
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
            dispatch(pss->req);
        return 0;

    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (pss->answered && !pss->req)
            return lws_partial_buffered(wsi) ? (lws_callback_on_writable(wsi), 0) : -1;
        if (!pss->req || !pss->req->replied)
            return 0;
        return req_write(pss->req, pss);

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        /* a WebSocket upgrade: the handler accepts or answers */
        char uri[1024];
        if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0)
            return -1;
        struct bh_req *r = req_new(http, wsi, uri);
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
            refuse_upgrade(r);
            req_free(r);
            return -1;
        }
        req_free(r);
        pss->ws = ws;
        return 0;
    }

    case LWS_CALLBACK_ESTABLISHED:
        return 0;

    case LWS_CALLBACK_RECEIVE:
        if (!pss->ws)
            return -1;
        return ws_receive(http, pss->ws, wsi, in, len);

    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!pss->ws)
            return 0;
        return ws_writable(pss->ws);

    case LWS_CALLBACK_CLOSED:
        if (pss->ws) {
            struct bh_ws *ws = pss->ws;
            pss->ws = NULL;
            ws->wsi = NULL;
            ws->closing = 1;
            if (ws->h.closed)
                ws->h.closed(ws->arg, ws);
            ws_free(ws);
        }
        return 0;

    case LWS_CALLBACK_CLOSED_HTTP:
        if (pss && pss->req) {
            struct bh_req *r = pss->req;
            pss->req = NULL;
            r->wsi = NULL;
            /* a handler still holding it frees it on reply */
            if (!r->dispatched || r->replied)
                req_free(r);
            else
                req_gone(r);
        }
        return 0;

    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        return http ? conn_filter(http, wsi, user, (int)(intptr_t)in) : 0;

    case LWS_CALLBACK_WSI_CREATE:
        if (http && http->accepting)
            conn_add(http, wsi);
        return 0;

    case LWS_CALLBACK_WSI_DESTROY:
        if (http)
            conn_remove(http, wsi);
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

/* ---------------------------------------------------------------- server */

static void lws_log_cb(int level, const char *line)
{
    /* accept() failed: at the descriptor limit, handled (and logged at a
     * bounded rate) there; other errors are logged once per LOG_EVERY_S */
    const char *acc = strstr(line, "accept: errno ");
    if (acc && log_http) {
        int e = atoi(acc + 14);
        if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
            at_fd_limit(log_http, e);
            return;
        }
        if (!ratelog_hit(&log_http->log_emfile, 0))
            return;
    }
    /* libwebsockets' own warnings and errors; one line, already formatted */
    fprintf(stderr, "{\"level\":\"%s\",\"msg\":\"lws: ", level == LLL_ERR ? "error" : "warn");
    for (const char *p = line; *p; p++) {
        if (*p == '\n')
            continue;
        if (*p == '"' || *p == '\\')
            fputc('\\', stderr);
        fputc((unsigned char)*p < 0x20 ? ' ' : *p, stderr);
    }
    fputs("\"}\n", stderr);
}

/* Our listening socket (the library does not hand it out before its
 * first accept), or -1. */
static int find_listen_fd(int port)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int found = -1;
    struct dirent *e;
    while (found < 0 && (e = readdir(d))) {
        int fd = atoi(e->d_name), on = 0;
        socklen_t ol = sizeof on;
        struct sockaddr_storage sa;
        socklen_t sl = sizeof sa;
        if (e->d_name[0] < '0' || e->d_name[0] > '9' ||
            getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &ol) < 0 || !on ||
            getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
            continue;
        int p = sa.ss_family == AF_INET    ? ntohs(((struct sockaddr_in *)&sa)->sin_port)
                : sa.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&sa)->sin6_port)
                                           : -1;
        if (p == port)
            found = fd;
    }
    closedir(d);
    return found;
}

bh_http_t *bh_http_new(const struct bh_http_config *cfg, const struct bh_http_handlers *h,
                       void *hctx, bh_err_t *err)
{
    lws_set_log_level(LLL_ERR, lws_log_cb);
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
        if (http->reserve_fd >= 0)
            close(http->reserve_fd);
        free(http);
        bh_err_set(err, 0, "cannot listen on %s:%d (address in use or not available)",
                   cfg->host ? cfg->host : "*", cfg->port);
        return NULL;
    }
    http->loop.vh = lws_get_vhost_by_name(http->loop.ctx, "bulkhead");
    http->port = http->loop.vh ? lws_get_vhost_listen_port(http->loop.vh) : cfg->port;
    if (!http->loop.vh || http->port <= 0) {
        lws_context_destroy(http->loop.ctx);
        if (http->reserve_fd >= 0)
            close(http->reserve_fd);
        free(http);
        bh_err_set(err, 0, "cannot listen on %s:%d", cfg->host ? cfg->host : "*", cfg->port);
        return NULL;
    }
    http->listen_fd = find_listen_fd(http->port);
    log_http = http;
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
    if (log_http == http)
        log_http = NULL;
    for (int b = 0; b < CONN_BUCKETS; b++) {
        while (http->conns[b]) {
            struct conn *c = http->conns[b];
            http->conns[b] = c->next;
            free(c);
        }
        while (http->peers[b]) {
            struct peer *p = http->peers[b];
            http->peers[b] = p->next;
            free(p);
        }
    }
    if (http->reserve_fd >= 0)
        close(http->reserve_fd);
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
    accepting_drop((struct bh_http *)loop); /* loop is the first member */
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
