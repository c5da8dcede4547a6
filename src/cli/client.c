/* client.c — see client.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cli/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/json.h"
#include "lib/util.h"

/* Screenshots are the largest replies; anything past this is not ours. */
#define MAX_BODY ((size_t)64 << 20)
#define CONNECT_TIMEOUT_MS 10000L

struct body_buf {
    char *data;
    size_t len, cap;
    int too_big;
};

static void curl_cleanupp(CURL **h)
{
    if (*h)
        curl_easy_cleanup(*h);
}
static void slist_freep(struct curl_slist **l) { curl_slist_free_all(*l); }
#define cleanup_curl __attribute__((cleanup(curl_cleanupp)))
#define cleanup_slist __attribute__((cleanup(slist_freep)))

/* bh_err_set with an errno status but without strerror text appended. */
__attribute__((format(printf, 3, 4))) static int client_err(bh_err_t *err, int status,
                                                            const char *fmt, ...)
{
    if (!err)
        return -1;
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    bh_err_set(err, 0, "%s", msg ? msg : "out of memory");
    err->errnum = status;
    free(msg);
    return -1;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct body_buf *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n > MAX_BODY) {
        b->too_big = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *nd = realloc(b->data, cap);
        if (!nd)
            abort();
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = 0;
    return n;
}

/* curl only reads the environment's no_proxy when CURLOPT_NOPROXY is unset;
 * keep the user's list and add loopback, so a proxy configured for the
 * outside world never sits between the CLI and a local daemon. */
static char *noproxy_list(void)
{
    const char *env = getenv("no_proxy");
    if (!env || !*env)
        env = getenv("NO_PROXY");
    if (env && !strcmp(env, "*"))
        return bh_xstrdup("*");
    if (env && *env)
        return bh_xasprintf("%s,localhost,127.0.0.1,::1", env);
    return bh_xstrdup("localhost,127.0.0.1,::1");
}

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static int global_init(bh_err_t *err)
{
    /* The CLI is single-threaded; the daemon does not use this module. */
    static int done;
    if (done)
        return 0;
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK)
        return client_err(err, EIO, "curl init: %s", curl_easy_strerror(rc));
    done = 1;
    return 0;
}

void bh_client_resp_clear(struct bh_client_resp *resp)
{
    if (!resp)
        return;
    free(resp->body);
    free(resp->content_type);
    memset(resp, 0, sizeof *resp);
}

/* Where a request's body comes from: a JSON text, or size bytes of fd. */
struct body_src {
    const char *json;
    int fd; /* -1: none */
    curl_off_t size;
    const char *content_type;
};

/* Where a reply's body goes: resp (buffered), or for a 2xx reply that is not
 * JSON, the sink. */
struct body_dst {
    struct body_buf b;
    CURL *h;
    int decided, to_sink;
    bh_client_sink sink;
    void *arg;
    int sink_failed;
};

static size_t dst_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct body_dst *d = userdata;
    size_t n = size * nmemb;
    if (!d->decided) {
        long status = 0;
        char *ct = NULL;
        curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(d->h, CURLINFO_CONTENT_TYPE, &ct);
        d->to_sink = d->sink && status / 100 == 2 && !(ct && !strncmp(ct, "application/json", 16));
        d->decided = 1;
    }
    if (!d->to_sink)
        return write_cb(ptr, size, nmemb, &d->b);
    if (d->sink(d->arg, ptr, n) < 0) {
        d->sink_failed = 1;
        return 0;
    }
    return n;
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct body_src *src = userdata;
    for (;;) {
        ssize_t n = read(src->fd, buf, size * nitems);
        if (n >= 0)
            return (size_t)n;
        if (errno != EINTR)
            return CURL_READFUNC_ABORT;
    }
}

static int do_request(const struct bh_client *c, const char *method, const char *path,
                      struct body_src *src, struct body_dst *dst, struct bh_client_resp *resp,
                      bh_err_t *err)
{
    memset(resp, 0, sizeof *resp);
    if (global_init(err) < 0)
        return -1;
    if (c->token && has_ctl(c->token))
        return client_err(err, EINVAL, "the API token contains control characters");

    cleanup_curl CURL *h = curl_easy_init();
    if (!h)
        return client_err(err, ENOMEM, "curl_easy_init failed");
    dst->h = h;
    cleanup_free char *url = bh_xasprintf("%s%s", c->url, path);
    cleanup_free char *noproxy = noproxy_list();
    cleanup_free char *auth = c->token ? bh_xasprintf("Authorization: Bearer %s", c->token) : NULL;
    cleanup_free char *ctype = src->content_type
                                   ? bh_xasprintf("Content-Type: %s", src->content_type)
                                   : NULL;
    cleanup_slist struct curl_slist *hdrs = NULL;
    struct curl_slist *nh;
#define ADD_HEADER(s)                                                   \
    do {                                                                \
        if (!(nh = curl_slist_append(hdrs, (s))))                       \
            return client_err(err, ENOMEM, "curl_slist_append failed"); \
        hdrs = nh;                                                      \
    } while (0)
    if (auth)
        ADD_HEADER(auth);
    ADD_HEADER("Expect:");
    if (ctype)
        ADD_HEADER(ctype);
#undef ADD_HEADER

    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L); /* the path is ours: no dot-segment folding */
    curl_easy_setopt(h, CURLOPT_NOPROXY, noproxy);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    if (c->timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    if (c->user_agent)
        curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, dst_write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, dst);
    const char *plain = "GET";
    if (src->json) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, src->json);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(src->json));
        plain = "POST";
    } else if (src->fd >= 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(h, CURLOPT_READDATA, src);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, src->size);
        plain = "PUT";
    }
    if (strcmp(method, plain))
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);

    CURLcode rc = curl_easy_perform(h);
    struct body_buf *b = &dst->b;
    if (rc != CURLE_OK) {
        free(b->data);
        b->data = NULL;
        const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
        switch (rc) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
            return client_err(err, ECONNREFUSED, "cannot reach bulkhead at %s: %s", c->url, why);
        case CURLE_OPERATION_TIMEDOUT:
            return client_err(err, ETIMEDOUT, "%s %s: %s", method, url, why);
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
            return client_err(err, EINVAL, "bad server URL %s: %s", c->url, why);
        case CURLE_WRITE_ERROR:
            if (b->too_big)
                return client_err(err, EFBIG, "%s %s: reply larger than %zu MiB", method, url,
                                  MAX_BODY >> 20);
            if (dst->sink_failed)
                return client_err(err, EPIPE, "%s %s: the reply could not be stored", method, url);
            /* fall through */
        case CURLE_ABORTED_BY_CALLBACK:
        case CURLE_READ_ERROR:
            if (rc == CURLE_READ_ERROR || rc == CURLE_ABORTED_BY_CALLBACK)
                return client_err(err, EIO, "%s %s: reading what to send failed", method, url);
            /* fall through */
        default:
            return client_err(err, EIO, "%s %s: %s", method, url, why);
        }
    }

    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    char *ct = NULL;
    if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        resp->content_type = bh_xstrdup(ct);
    resp->body = b->data ? b->data : bh_xstrdup("");
    resp->len = b->len;
    resp->streamed = dst->to_sink;
    return 0;
}

int bh_client_request(const struct bh_client *c, const char *method, const char *path,
                      const char *body_json, struct bh_client_resp *resp, bh_err_t *err)
{
    struct body_src src = {body_json, -1, 0, body_json ? "application/json" : NULL};
    struct body_dst dst = {0};
    return do_request(c, method, path, &src, &dst, resp, err);
}

int bh_client_upload(const struct bh_client *c, const char *method, const char *path,
                     const char *content_type, int fd, long long size, struct bh_client_resp *resp,
                     bh_err_t *err)
{
    struct body_src src = {NULL, fd, (curl_off_t)size, content_type};
    struct body_dst dst = {0};
    return do_request(c, method, path, &src, &dst, resp, err);
}

int bh_client_download(const struct bh_client *c, const char *path, bh_client_sink sink, void *arg,
                       struct bh_client_resp *resp, bh_err_t *err)
{
    struct body_src src = {NULL, -1, 0, NULL};
    struct body_dst dst = {.sink = sink, .arg = arg};
    return do_request(c, "GET", path, &src, &dst, resp, err);
}

int bh_client_resp_error(const struct bh_client_resp *resp, bh_err_t *err)
{
    json_auto_t *j = resp->body ? json_loadb(resp->body, resp->len, 0, NULL) : NULL;
    json_t *e = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (msg && code)
        return client_err(err, 0, "%s (%s, HTTP %ld)", msg, code, resp->status);
    if (msg || code)
        return client_err(err, 0, "%s (HTTP %ld)", msg ? msg : code, resp->status);

    /* Not an API error body (a proxy, another server): show its first line
     * when it is short text. */
    const char *b = resp->body ? resp->body : "";
    size_t n = strcspn(b, "\r\n");
    int text = n > 0 && n <= 200;
    for (size_t i = 0; text && i < n; i++)
        if ((unsigned char)b[i] < 0x20)
            text = 0;
    if (text)
        return client_err(err, 0, "unexpected reply from server: HTTP %ld: %.*s", resp->status,
                          (int)n, b);
    return client_err(err, 0, "unexpected reply from server: HTTP %ld", resp->status);
}

char *bh_client_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    if (!e)
        abort();
    char *out = bh_xstrdup(e);
    curl_free(e);
    return out;
}
