/* validate.c — see validate.h. */
#include "api/validate.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/json.h"
#include "lib/util.h"

static int invalid(struct bh_invalid *why, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int invalid(struct bh_invalid *why, const char *code, const char *fmt, ...)
{
    if (why) {
        why->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why->msg, sizeof why->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int bh_validate_url(const char *url, struct bh_invalid *why)
{
    if (!url || !*url)
        return invalid(why, "invalid_url", "url must not be empty");
    size_t n = strlen(url);
    if (n > BH_URL_MAX)
        return invalid(why, "invalid_url", "url is longer than %d characters", BH_URL_MAX);
    if (!strcmp(url, "about:blank"))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c == 0x7f)
            return invalid(why, "invalid_url", "url contains whitespace or control characters");
    }
    size_t scheme_len;
    if (!strncasecmp(url, "http://", 7))
        scheme_len = 7;
    else if (!strncasecmp(url, "https://", 8))
        scheme_len = 8;
    else
        return invalid(why, "invalid_url",
                       "url must be an absolute http:// or https:// URL (or about:blank)");
    const char *host = url + scheme_len;
    const char *end = host + strcspn(host, "/?#");
    const char *at = NULL;
    for (const char *p = host; p < end; p++)
        if (*p == '@')
            at = p;
    if (at)
        host = at + 1;
    if (host == end || *host == ':')
        return invalid(why, "invalid_url", "url has no host");
    if (*host == '[') { /* IPv6 literal */
        const char *close = memchr(host, ']', (size_t)(end - host));
        if (!close || close == host + 1)
            return invalid(why, "invalid_url", "url has a malformed IPv6 host");
    } else {
        for (const char *p = host; p < end && *p != ':'; p++)
            if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_' &&
                !((unsigned char)*p & 0x80) && *p != '%')
                return invalid(why, "invalid_url", "url host contains '%c'", *p);
    }
    const char *colon = NULL;
    if (*host != '[')
        colon = memchr(host, ':', (size_t)(end - host));
    else {
        const char *close = memchr(host, ']', (size_t)(end - host));
        if (close + 1 < end && close[1] == ':')
            colon = close + 1;
        else if (close + 1 != end)
            return invalid(why, "invalid_url", "url has a malformed IPv6 host");
    }
    if (colon) {
        if (colon + 1 == end)
            return invalid(why, "invalid_url", "url has an empty port");
        long port = 0;
        for (const char *p = colon + 1; p < end; p++) {
            if (!isdigit((unsigned char)*p))
                return invalid(why, "invalid_url", "url port is not a number");
            port = port * 10 + (*p - '0');
            if (port > 65535)
                return invalid(why, "invalid_url", "url port is out of range");
        }
        if (port == 0)
            return invalid(why, "invalid_url", "url port is out of range");
    }
    return 0;
}

/* An integer member within [lo, hi]; missing keeps *out. */
static int get_int(json_t *obj, const char *key, const char *name, long lo, long hi, int *out,
                   struct bh_invalid *why)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return invalid(why, "invalid_field", "%s must be an integer", name);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return invalid(why, "invalid_field", "%s must be between %ld and %ld", name, lo, hi);
    *out = (int)x;
    return 0;
}

static int only_keys(json_t *obj, const char *where, const char *const *allowed,
                     struct bh_invalid *why)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (!strcmp(key, *a))
                ok = 1;
        if (!ok)
            return invalid(why, "unknown_field", "unknown field %s%.64s", where, key);
    }
    return 0;
}

void bh_create_opts_clear(struct bh_create_opts *o)
{
    free(o->url);
    free(o->allow);
    free(o->proxy);
    o->url = o->proxy = NULL;
    o->allow = NULL;
    o->nallow = 0;
}

static const char *const mode_names[] = {"internet", "none", "allowlist"};

char *bh_create_opts_network_json(const struct bh_create_opts *o)
{
    json_t *allow = json_array();
    for (int i = 0; i < o->nallow; i++) {
        json_t *ports = json_array();
        for (int k = 0; k < o->allow[i].nports; k++)
            json_array_append_new(ports, json_integer(o->allow[i].ports[k]));
        json_array_append_new(allow, json_pack("{s:s, s:o}", "cidr", o->allow[i].cidr, "ports",
                                               ports));
    }
    json_t *j = json_pack("{s:s, s:o, s:o}", "policy", mode_names[o->net_mode], "allow", allow,
                          "proxy", o->proxy ? json_string(o->proxy) : json_null());
    char *s = bh_json_dump(j);
    json_decref(j);
    return s;
}

/* An upstream proxy: http://, https:// or socks5:// with an IP literal host
 * and a port (the egress policy admits it by address, before any DNS).
 * rule (may be NULL): the proxy's address and port as an allow rule. */
static int check_proxy(const char *p, struct bh_net_rule *rule, struct bh_invalid *why)
{
    const char *rest;
    if (!strncmp(p, "http://", 7))
        rest = p + 7;
    else if (!strncmp(p, "https://", 8))
        rest = p + 8;
    else if (!strncmp(p, "socks5://", 9))
        rest = p + 9;
    else
        return invalid(why, "invalid_field", "network.proxy must be http://, https:// or socks5://");
    char host[64];
    const char *colon;
    if (*rest == '[') {
        const char *close = strchr(rest, ']');
        if (!close || close[1] != ':' || (size_t)(close - rest - 1) >= sizeof host)
            return invalid(why, "invalid_field", "network.proxy must be SCHEME://[IPv6]:PORT");
        snprintf(host, sizeof host, "%.*s", (int)(close - rest - 1), rest + 1);
        colon = close + 1;
    } else {
        colon = strchr(rest, ':');
        if (!colon || (size_t)(colon - rest) >= sizeof host)
            return invalid(why, "invalid_field", "network.proxy must be SCHEME://IP:PORT");
        snprintf(host, sizeof host, "%.*s", (int)(colon - rest), rest);
    }
    unsigned char buf[16];
    if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1)
        return invalid(why, "invalid_field", "network.proxy host must be an IP address");
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || (*end && strcmp(end, "/")) || port < 1 || port > 65535)
        return invalid(why, "invalid_field", "network.proxy needs a port 1-65535");
    uint16_t pv = (uint16_t)port;
    if (bh_net_rule_parse(host, &pv, 1, rule, NULL) < 0)
        return invalid(why, "invalid_field", "network.proxy host must be an IP address");
    return 0;
}

static int parse_network(json_t *net, struct bh_create_opts *out, struct bh_invalid *why)
{
    if (!json_is_object(net))
        return invalid(why, "invalid_field", "network must be an object");
    static const char *const keys[] = {"policy", "allow", "proxy", NULL};
    if (only_keys(net, "network.", keys, why) < 0)
        return -1;
    json_t *pol = json_object_get(net, "policy");
    if (pol) {
        if (!json_is_string(pol))
            return invalid(why, "invalid_field", "network.policy must be a string");
        const char *v = json_string_value(pol);
        int found = 0;
        for (int i = 0; i < 3; i++)
            if (!strcmp(v, mode_names[i])) {
                out->net_mode = (enum bh_net_mode)i;
                found = 1;
            }
        if (!found)
            return invalid(why, "invalid_field",
                           "network.policy must be \"internet\", \"none\" or \"allowlist\"");
    }
    json_t *allow = json_object_get(net, "allow");
    if (allow && out->net_mode != BH_NET_ALLOWLIST)
        return invalid(why, "invalid_field", "network.allow needs policy \"allowlist\"");
    if (out->net_mode == BH_NET_ALLOWLIST) {
        if (!json_is_array(allow) || json_array_size(allow) == 0)
            return invalid(why, "invalid_field",
                           "network.allow must be a non-empty array of {\"cidr\",\"ports\"}");
        if (json_array_size(allow) > BH_ALLOW_MAX)
            return invalid(why, "invalid_field", "network.allow has more than %d entries",
                           BH_ALLOW_MAX);
        out->allow = bh_xcalloc(json_array_size(allow), sizeof *out->allow);
        size_t i;
        json_t *e;
        json_array_foreach(allow, i, e)
        {
            static const char *const ekeys[] = {"cidr", "ports", NULL};
            if (!json_is_object(e))
                return invalid(why, "invalid_field", "network.allow[%zu] must be an object", i);
            if (only_keys(e, "network.allow[].", ekeys, why) < 0)
                return -1;
            const char *cidr = bh_json_str(e, "cidr");
            if (!cidr)
                return invalid(why, "invalid_field", "network.allow[%zu].cidr must be a string",
                               i);
            json_t *ports = json_object_get(e, "ports");
            uint16_t pv[16];
            int np = 0;
            if (ports) {
                if (!json_is_array(ports) || json_array_size(ports) > 16)
                    return invalid(why, "invalid_field",
                                   "network.allow[%zu].ports must be an array of at most 16 ports",
                                   i);
                size_t k;
                json_t *pj;
                json_array_foreach(ports, k, pj)
                {
                    if (!json_is_integer(pj) || json_integer_value(pj) < 1 ||
                        json_integer_value(pj) > 65535)
                        return invalid(why, "invalid_field",
                                       "network.allow[%zu].ports must hold integers 1-65535", i);
                    pv[np++] = (uint16_t)json_integer_value(pj);
                }
            }
            bh_err_t err = BH_ERR_INIT;
            if (bh_net_rule_parse(cidr, pv, np, &out->allow[out->nallow], &err) < 0) {
                invalid(why, "invalid_field", "network.allow[%zu]: %s", i, bh_err_msg(&err));
                bh_err_clear(&err);
                return -1;
            }
            out->nallow++;
        }
    }
    json_t *proxy = json_object_get(net, "proxy");
    if (proxy && !json_is_null(proxy)) {
        if (!json_is_string(proxy))
            return invalid(why, "invalid_field", "network.proxy must be a string");
        if (out->net_mode == BH_NET_NONE)
            return invalid(why, "invalid_field", "network.proxy cannot be used with policy \"none\"");
        if (check_proxy(json_string_value(proxy), &out->proxy_rule, why) < 0)
            return -1;
        out->proxy = bh_xstrdup(json_string_value(proxy));
    }
    return 0;
}

/* 0 if rule r (`what` in the message) is public space or opened by the
 * operator's --egress-allow anyway, else -1 with why "forbidden_network". */
static int check_public(const struct bh_net_rule *r, const struct bh_config *cfg,
                        const char *what, struct bh_invalid *why)
{
    bh_err_t err = BH_ERR_INIT;
    if (bh_net_rule_public(r, cfg->egress_allow, cfg->negress_allow, &err) == 0)
        return 0;
    invalid(why, "forbidden_network",
            "%s: %s; only an admin token or the operator's --egress-allow may open it", what,
            bh_err_msg(&err));
    bh_err_clear(&err);
    return -1;
}

int bh_validate_network_public(const struct bh_create_opts *o, const struct bh_config *cfg,
                               struct bh_invalid *why)
{
    for (int i = 0; i < o->nallow; i++) {
        char what[32];
        snprintf(what, sizeof what, "network.allow[%d]", i);
        if (check_public(&o->allow[i], cfg, what, why) < 0)
            return -1;
    }
    if (o->proxy && check_public(&o->proxy_rule, cfg, "network.proxy", why) < 0)
        return -1;
    return 0;
}

int bh_validate_create(const char *body, size_t len, const struct bh_config *cfg,
                       struct bh_create_opts *out, struct bh_invalid *why)
{
    memset(out, 0, sizeof *out);
    snprintf(out->type, sizeof out->type, "browser");
    out->viewport_w = cfg->viewport_w;
    out->viewport_h = cfg->viewport_h;
    out->idle_timeout = cfg->idle_timeout;
    out->ttl = cfg->ttl;
    out->page_load_ms = cfg->page_load_timeout_ms;
    out->clip_copy = out->clip_paste = 1;

    json_t *root = NULL;
    if (len == 0) {
        root = json_object(); /* an empty body means all defaults */
    } else {
        json_error_t jerr;
        root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
            return invalid(why, "invalid_json", "body is not valid JSON: %s (line %d)",
                           jerr.text, jerr.line);
    }
    int rc = -1;
    if (!json_is_object(root)) {
        invalid(why, "invalid_json", "body must be a JSON object");
        goto out;
    }
    static const char *const top[] = {"type",    "url",       "viewport",        "idleTimeout",
                                      "ttl",     "network",   "clipboard",       "pageLoadTimeout",
                                      NULL};
    if (only_keys(root, "", top, why) < 0)
        goto out;

    json_t *t = json_object_get(root, "type");
    if (t) {
        if (!json_is_string(t)) {
            invalid(why, "invalid_field", "type must be a string");
            goto out;
        }
        if (strcmp(json_string_value(t), "browser") != 0) {
            invalid(why, "invalid_field", "type must be \"browser\"");
            goto out;
        }
    }
    json_t *u = json_object_get(root, "url");
    const char *url = "about:blank";
    if (u) {
        if (!json_is_string(u)) {
            invalid(why, "invalid_field", "url must be a string");
            goto out;
        }
        url = json_string_value(u);
        if (strlen(url) != json_string_length(u)) {
            invalid(why, "invalid_url", "url contains a NUL character");
            goto out;
        }
    }
    if (bh_validate_url(url, why) < 0)
        goto out;

    json_t *vp = json_object_get(root, "viewport");
    if (vp) {
        if (!json_is_object(vp)) {
            invalid(why, "invalid_field", "viewport must be an object");
            goto out;
        }
        static const char *const vkeys[] = {"width", "height", NULL};
        if (only_keys(vp, "viewport.", vkeys, why) < 0)
            goto out;
        if (get_int(vp, "width", "viewport.width", BH_VIEWPORT_MIN, BH_VIEWPORT_MAX_W,
                    &out->viewport_w, why) < 0 ||
            get_int(vp, "height", "viewport.height", BH_VIEWPORT_MIN, BH_VIEWPORT_MAX_H,
                    &out->viewport_h, why) < 0)
            goto out;
    }
    if (get_int(root, "idleTimeout", "idleTimeout", 1, cfg->max_timeout, &out->idle_timeout,
                why) < 0 ||
        get_int(root, "ttl", "ttl", 1, cfg->max_timeout, &out->ttl, why) < 0)
        goto out;
    int load_s = out->page_load_ms / 1000;
    if (get_int(root, "pageLoadTimeout", "pageLoadTimeout", 1, BH_PAGE_LOAD_MAX, &load_s, why) < 0)
        goto out;
    if (json_object_get(root, "pageLoadTimeout"))
        out->page_load_ms = load_s * 1000;
    json_t *net = json_object_get(root, "network");
    if (net && parse_network(net, out, why) < 0)
        goto out;
    json_t *clip = json_object_get(root, "clipboard");
    if (clip) {
        static const char *const ckeys[] = {"copy", "paste", NULL};
        if (!json_is_object(clip)) {
            invalid(why, "invalid_field", "clipboard must be an object");
            goto out;
        }
        if (only_keys(clip, "clipboard.", ckeys, why) < 0)
            goto out;
        json_t *c = json_object_get(clip, "copy"), *p = json_object_get(clip, "paste");
        if ((c && !json_is_boolean(c)) || (p && !json_is_boolean(p))) {
            invalid(why, "invalid_field", "clipboard.copy and clipboard.paste must be booleans");
            goto out;
        }
        if (c)
            out->clip_copy = json_is_true(c);
        if (p)
            out->clip_paste = json_is_true(p);
    }
    out->url = bh_xstrdup(url);
    rc = 0;
out:
    if (rc < 0)
        bh_create_opts_clear(out);
    json_decref(root);
    return rc;
}

int bh_validate_token(const char *body, size_t len, struct bh_token_opts *out,
                      struct bh_invalid *why)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_auto_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j))
        return invalid(why, "invalid_json", "the body must be a JSON object");
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        if (strcmp(k, "name") && strcmp(k, "role") && strcmp(k, "maxSessions"))
            return invalid(why, "unknown_field", "unknown field '%.64s' (name, role, maxSessions)",
                           k);
    }
    json_t *jn = json_object_get(j, "name"), *jr = json_object_get(j, "role"),
           *jm = json_object_get(j, "maxSessions");
    const char *name = json_string_value(jn);
    size_t n = name ? strlen(name) : 0;
    if (!name || n < 1 || n > BH_TOKEN_NAME_MAX ||
        strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != n)
        return invalid(why, "invalid_field",
                       "name must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
    enum bh_role role = jr ? bh_role_parse(json_string_value(jr)) : BH_ROLE_USER;
    if (role != BH_ROLE_USER && role != BH_ROLE_ADMIN)
        return invalid(why, "invalid_field", "role must be \"user\" or \"admin\"");
    if (jm && !json_is_null(jm)) {
        if (!json_is_integer(jm) || json_integer_value(jm) < 1 || json_integer_value(jm) > 10000)
            return invalid(why, "invalid_field", "maxSessions must be an integer, 1 to 10000");
        out->max_sessions = (int)json_integer_value(jm);
    }
    snprintf(out->name, sizeof out->name, "%s", name);
    out->role = role;
    return 0;
}

int bh_validate_link(const char *body, size_t len, struct bh_link_opts *out,
                     struct bh_invalid *why)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_auto_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j))
        return invalid(why, "invalid_json", "the body must be a JSON object");
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        if (strcmp(k, "scope") && strcmp(k, "ttl"))
            return invalid(why, "unknown_field", "unknown field '%.64s' (scope, ttl)", k);
    }
    json_t *js = json_object_get(j, "scope"), *jt = json_object_get(j, "ttl");
    out->scope = bh_scope_parse(json_string_value(js));
    if (out->scope == BH_SCOPE_NONE)
        return invalid(why, "invalid_field", "scope must be \"view\", \"control\" or \"cdp\"");
    if (jt && !json_is_null(jt)) {
        if (!json_is_integer(jt) || json_integer_value(jt) < 1 || json_integer_value(jt) > 86400)
            return invalid(why, "invalid_field", "ttl must be an integer, 1 to 86400 seconds");
        out->ttl = (int)json_integer_value(jt);
    }
    return 0;
}
