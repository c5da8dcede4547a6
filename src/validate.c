/* validate.c — see validate.h. */
#include "validate.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "util.h"

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

int bh_validate_create(const char *body, size_t len, const struct bh_config *cfg,
                       struct bh_create_opts *out, struct bh_invalid *why)
{
    memset(out, 0, sizeof *out);
    snprintf(out->type, sizeof out->type, "browser");
    out->viewport_w = cfg->viewport_w;
    out->viewport_h = cfg->viewport_h;
    out->idle_timeout = cfg->idle_timeout;
    out->ttl = cfg->ttl;

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
    static const char *const top[] = {"type", "url", "viewport", "idleTimeout", "ttl", NULL};
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
    out->url = bh_xstrdup(url);
    rc = 0;
out:
    json_decref(root);
    return rc;
}
