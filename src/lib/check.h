/* check.h — checking what clients send, as pure functions: the shape of a
 * failure (a stable code and a message naming the field, for the API's 400
 * replies), the small JSON checks every body parser uses, and page URLs.
 * api/validate.c checks the request bodies; each session kind checks its
 * own part of a create body with these (kinds/kind.h). */
#ifndef BH_CHECK_H
#define BH_CHECK_H

#include "lib/json.h"

struct bh_invalid {
    const char *code; /* "invalid_json", "unknown_field", "invalid_field", "invalid_url",
                       * "forbidden_network" */
    char msg[256];
};

/* Fill why (if not NULL) with code and a formatted message. Returns -1. */
int bh_invalid(struct bh_invalid *why, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The integer member key of obj within [lo, hi] into *out (a missing key
 * keeps *out); name is the field's name in messages. 0, or -1 and why. */
int bh_check_int(json_t *obj, const char *key, const char *name, long lo, long hi, int *out,
                 struct bh_invalid *why);

/* Every key of obj is one of allowed (NULL-terminated); where prefixes the
 * field's name in the message ("viewport."). 0, or -1 and why
 * ("unknown_field"). */
int bh_check_keys(json_t *obj, const char *where, const char *const *allowed,
                  struct bh_invalid *why);

#define BH_URL_MAX 2048
#define BH_VIEWPORT_MIN 200
#define BH_VIEWPORT_MAX_W 3840
#define BH_VIEWPORT_MAX_H 2160

/* 0 if url may be opened in a session: absolute http(s) with a host, or
 * exactly "about:blank"; else -1 and why. */
int bh_validate_url(const char *url, struct bh_invalid *why);

#endif
