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

int bh_validate_token(const char *body, size_t len, struct bh_token_opts *out,
                      struct bh_invalid *why)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_auto_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j))
        return bh_invalid(why, "invalid_json", "the body must be a JSON object");
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        if (strcmp(k, "name") && strcmp(k, "role") && strcmp(k, "maxSessions"))
            return bh_invalid(why, "unknown_field",
                              "unknown field '%.64s' (name, role, maxSessions)", k);
    }
    json_t *jn = json_object_get(j, "name"), *jr = json_object_get(j, "role"),
           *jm = json_object_get(j, "maxSessions");
    const char *name = json_string_value(jn);
    size_t n = name ? strlen(name) : 0;
    if (!name || n < 1 || n > BH_TOKEN_NAME_MAX ||
        strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != n)
        return bh_invalid(why, "invalid_field",
                          "name must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
    enum bh_role role = jr ? bh_role_parse(json_string_value(jr)) : BH_ROLE_USER;
    if (role != BH_ROLE_USER && role != BH_ROLE_ADMIN)
        return bh_invalid(why, "invalid_field", "role must be \"user\" or \"admin\"");
    if (jm && !json_is_null(jm)) {
        if (!json_is_integer(jm) || json_integer_value(jm) < 1 || json_integer_value(jm) > 10000)
            return bh_invalid(why, "invalid_field", "maxSessions must be an integer, 1 to 10000");
        out->max_sessions = (int)json_integer_value(jm);
    }
    snprintf(out->name, sizeof out->name, "%s", name);
    out->role = role;
    return 0;
}

int bh_validate_link(const char *body, size_t len, struct bh_link_opts *out, struct bh_invalid *why)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_auto_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j))
        return bh_invalid(why, "invalid_json", "the body must be a JSON object");
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        if (strcmp(k, "scope") && strcmp(k, "ttl"))
            return bh_invalid(why, "unknown_field", "unknown field '%.64s' (scope, ttl)", k);
    }
    json_t *js = json_object_get(j, "scope"), *jt = json_object_get(j, "ttl");
    out->scope = bh_scope_parse(json_string_value(js));
    if (out->scope == BH_SCOPE_NONE)
        return bh_invalid(why, "invalid_field", "scope must be \"view\", \"control\" or \"cdp\"");
    if (jt && !json_is_null(jt)) {
        if (!json_is_integer(jt) || json_integer_value(jt) < 1 || json_integer_value(jt) > 86400)
            return bh_invalid(why, "invalid_field", "ttl must be an integer, 1 to 86400 seconds");
        out->ttl = (int)json_integer_value(jt);
    }
    return 0;
}
