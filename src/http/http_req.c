/* http_req.c — HTTP requests and their replies (bh_req_*, see http.h): a
 * request's line, query and headers copied out of the library when its
 * headers arrive, its body gathered, its hand-over to the handler, and the
 * reply written in pieces once the handler gave it.
 *
 * Lifetimes: a bh_req is created when a request's headers arrive and freed
 * after its reply was written, or when its connection closes — whichever
 * comes last once the handler has seen it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_int.h"
#include "lib/util.h"

#define CHUNK 65536

void http_req_free(struct bh_req *r)
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

const char *bh_req_body(const bh_req_t *r, size_t *len)
{
    if (len)
        *len = r->body_len;
    return r->body ? r->body : "";
}

void bh_req_reply(bh_req_t *r, int status, const char *content_type, const void *body, size_t len,
                  const char *const *extra)
{
    if (r->replied)
        return;
    r->replied = 1;
    if (!r->wsi) { /* the client left while we worked */
        http_req_free(r);
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
    static const char *const fixed[] = {"x-content-type-options",
                                        "nosniff",
                                        "cache-control",
                                        "no-store",
                                        "connection",
                                        "close",
                                        NULL};
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
void http_req_refuse_upgrade(struct bh_req *r)
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
int http_req_write(struct bh_req *r, struct pss *pss)
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

int http_req_body(struct bh_req *r, const void *in, size_t len)
{
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
