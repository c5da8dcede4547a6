/* api_front.c — see api_front.h. */
#include "api/api_front.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/api_reply.h"

int bh_api_origin_allowed(const struct bh_config *cfg, const char *origin)
{
    if (!origin)
        return 1;
    const char *base = cfg->public_url;
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    if (strlen(origin) == n && !strncasecmp(origin, base, n))
        return 1;
    char buf[128];
    snprintf(buf, sizeof buf, "http://localhost:%d", cfg->port);
    if (!strcasecmp(origin, buf) && !strcmp(cfg->listen_host, "127.0.0.1"))
        return 1;
    snprintf(buf, sizeof buf, "http://127.0.0.1:%d", cfg->port);
    if (!strcasecmp(origin, buf) && !strcmp(cfg->listen_host, "127.0.0.1"))
        return 1;
    for (int i = 0; i < cfg->nallowed_origins; i++)
        if (!strcasecmp(origin, cfg->allowed_origins[i]))
            return 1;
    return 0;
}

/* Against DNS rebinding: a page of the attacker's name, once that name
 * resolves to this daemon, is same-origin with it and could read every
 * answer. So a request must name the daemon in its Host: an IP address
 * (v4 or [v6], which no DNS answer rebinds), "localhost", --public-url's
 * host, or an --allow-host name; any port. No Host (HTTP/1.0): allowed; a
 * browser always sends one. */
static int host_allowed(struct bh_api *a, const char *host)
{
    if (!host)
        return 1;
    char name[256];
    size_t n;
    if (host[0] == '[') { /* [v6]:port */
        const char *end = strchr(host, ']');
        if (!end || (end[1] && end[1] != ':') || (size_t)(end - host - 1) >= sizeof name)
            return 0;
        n = (size_t)(end - host - 1);
        memcpy(name, host + 1, n);
        name[n] = 0;
        unsigned char a6[16];
        return inet_pton(AF_INET6, name, a6) == 1;
    }
    n = strcspn(host, ":");
    if (n == 0 || n >= sizeof name ||
        (host[n] && strspn(host + n + 1, "0123456789") != strlen(host + n + 1)))
        return 0;
    memcpy(name, host, n);
    name[n] = 0;
    if (n > 1 && name[n - 1] == '.') /* "localhost." is "localhost" */
        name[--n] = 0;
    unsigned char a4[4];
    if (inet_pton(AF_INET, name, a4) == 1 || !strcasecmp(name, "localhost"))
        return 1;
    const char *base = a->cfg->public_url;
    const char *ph = strstr(base, "://") ? strstr(base, "://") + 3 : base;
    size_t pn = strcspn(ph, ":/");
    if (pn == n && !strncasecmp(ph, name, n))
        return 1;
    for (int i = 0; i < a->cfg->nallowed_hosts; i++)
        if (!strcasecmp(name, a->cfg->allowed_hosts[i]))
            return 1;
    return 0;
}

int bh_api_host_refused(struct bh_api *a, bh_req_t *req)
{
    if (host_allowed(a, bh_req_header(req, "host")))
        return 0;
    bh_api_reply_error(
        req, 403, "host_not_allowed",
        "this Host is not a name of this server (DNS rebinding?); the operator can allow "
        "it with --allow-host");
    return 1;
}

/* 1 if the media type ct is application/json (any parameters). */
static int json_media_type(const char *ct)
{
    static const char t[] = "application/json";
    if (!ct || strncasecmp(ct, t, sizeof t - 1))
        return 0;
    ct += sizeof t - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return !*ct || *ct == ';';
}

/* Cross-site request forgery: a page elsewhere may send a POST (as a form
 * or text/plain, which needs no CORS preflight) and the browser adds no
 * token but the request still acts with --no-auth. So a state-changing
 * /api/ request with a body must be JSON (which a page can only send to
 * another origin after a preflight that we never answer), and one that
 * carries an Origin must come from an allowed one. 1 after replying. */
int bh_api_forgery_refused(struct bh_api *a, bh_req_t *req)
{
    const char *m = bh_req_method(req);
    if (!strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS"))
        return 0;
    if (!bh_api_origin_allowed(a->cfg, bh_req_header(req, "origin"))) {
        bh_api_reply_error(req, 403, "origin_not_allowed",
                           "requests from this Origin are not allowed (see --allow-origin)");
        return 1;
    }
    size_t len;
    bh_req_body(req, &len);
    const char *ct = bh_req_header(req, "content-type");
    /* PUT (uploads, any type) is not a method a page may send across
     * origins without a preflight, so its body may be anything */
    if (strcmp(m, "PUT") && (len > 0 || ct) && !json_media_type(ct)) {
        bh_api_reply_error(req, 415, "unsupported_media_type",
                           "the body must be JSON, sent with Content-Type: application/json");
        return 1;
    }
    return 0;
}
