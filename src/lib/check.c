/* check.c — see check.h. */
#include "lib/check.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int bh_invalid(struct bh_invalid *why, const char *code, const char *fmt, ...)
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
        return bh_invalid(why, "invalid_url", "url must not be empty");
    size_t n = strlen(url);
    if (n > BH_URL_MAX)
        return bh_invalid(why, "invalid_url", "url is longer than %d characters", BH_URL_MAX);
    if (!strcmp(url, "about:blank"))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c == 0x7f)
            return bh_invalid(why, "invalid_url", "url contains whitespace or control characters");
    }
    size_t scheme_len;
    if (!strncasecmp(url, "http://", 7))
        scheme_len = 7;
    else if (!strncasecmp(url, "https://", 8))
        scheme_len = 8;
    else
        return bh_invalid(why, "invalid_url",
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
        return bh_invalid(why, "invalid_url", "url has no host");
    if (*host == '[') { /* IPv6 literal */
        const char *close = memchr(host, ']', (size_t)(end - host));
        if (!close || close == host + 1)
            return bh_invalid(why, "invalid_url", "url has a malformed IPv6 host");
    } else {
        for (const char *p = host; p < end && *p != ':'; p++)
            if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_' &&
                !((unsigned char)*p & 0x80) && *p != '%')
                return bh_invalid(why, "invalid_url", "url host contains '%c'", *p);
    }
    const char *colon = NULL;
    if (*host != '[')
        colon = memchr(host, ':', (size_t)(end - host));
    else {
        const char *close = memchr(host, ']', (size_t)(end - host));
        if (close + 1 < end && close[1] == ':')
            colon = close + 1;
        else if (close + 1 != end)
            return bh_invalid(why, "invalid_url", "url has a malformed IPv6 host");
    }
    if (colon) {
        if (colon + 1 == end)
            return bh_invalid(why, "invalid_url", "url has an empty port");
        long port = 0;
        for (const char *p = colon + 1; p < end; p++) {
            if (!isdigit((unsigned char)*p))
                return bh_invalid(why, "invalid_url", "url port is not a number");
            port = port * 10 + (*p - '0');
            if (port > 65535)
                return bh_invalid(why, "invalid_url", "url port is out of range");
        }
        if (port == 0)
            return bh_invalid(why, "invalid_url", "url port is out of range");
    }
    return 0;
}

int bh_check_int(json_t *obj, const char *key, const char *name, long lo, long hi, int *out,
                 struct bh_invalid *why)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return bh_invalid(why, "invalid_field", "%s must be an integer", name);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return bh_invalid(why, "invalid_field", "%s must be between %ld and %ld", name, lo, hi);
    *out = (int)x;
    return 0;
}

int bh_check_keys(json_t *obj, const char *where, const char *const *allowed,
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
            return bh_invalid(why, "unknown_field", "unknown field %s%.64s", where, key);
    }
    return 0;
}
