/* validate.h — checks of what clients send, as pure functions: the token
 * and link request bodies (a create body is the sessions' own,
 * session/create_opts.h). Each failure has a stable code and a message
 * that names the field, for the API's 400 replies. */
#ifndef BH_VALIDATE_H
#define BH_VALIDATE_H

#include <stddef.h>

#include "api/auth.h"
#include "lib/check.h"

/* A token create body (POST /api/v1/tokens): {"name","role","maxSessions"}. */
struct bh_token_opts {
    char name[BH_TOKEN_NAME_MAX + 1]; /* 1..64 of [A-Za-z0-9._-] */
    enum bh_role role;                /* BH_ROLE_USER (default) or BH_ROLE_ADMIN */
    int max_sessions;                 /* 1..10000, or 0 when not given (null) */
};

/* Parse and check a token create body: 0 and *out filled, or -1 and *why
 * ("invalid_json", "unknown_field", "invalid_field"). Says nothing of
 * whether the name is free. */
int bh_validate_token(const char *body, size_t len, struct bh_token_opts *out,
                      struct bh_invalid *why);

/* A link body (POST /api/v1/sessions/{id}/links): {"scope","ttl"}. */
struct bh_link_opts {
    enum bh_scope scope; /* BH_SCOPE_VIEW, _CONTROL or _CDP */
    int ttl;             /* 1..86400 seconds, or 0 when not given (null) */
};

/* Parse and check a link body: 0 and *out filled, or -1 and *why
 * ("invalid_json", "unknown_field", "invalid_field"). Says nothing of the
 * session. */
int bh_validate_link(const char *body, size_t len, struct bh_link_opts *out,
                     struct bh_invalid *why);

#endif
