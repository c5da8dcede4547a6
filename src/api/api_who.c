/* api_who.c — see api_who.h. */
#include "api/api_who.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_reply.h"
#include "api/api_sessions.h"

void bh_api_unauthorized(bh_req_t *req)
{
    const char *q = bh_req_query(req, "token");
    bh_api_reply_error(req, 401, "unauthorized",
                       q && *q && !bh_scoped_like(q)
                           ? "?token= takes only a session token (st2.…); an API token goes in the "
                             "Authorization header, never in a URL"
                           : "missing or wrong token");
}

enum bh_role bh_api_identify(struct bh_api *a, bh_req_t *req, enum cred_from from,
                             struct bh_identity *who)
{
    if (a->cfg->no_auth) {
        memset(who, 0, sizeof *who);
        who->role = BH_ROLE_ADMIN;
        snprintf(who->id, sizeof who->id, BH_ADMIN_ID);
        snprintf(who->name, sizeof who->name, BH_ADMIN_ID);
        return who->role;
    }
    const char *q = from != CRED_HEADER ? bh_req_query(req, "token") : NULL;
    if (q && bh_scoped_like(q))
        return bh_keyring_identify(a->keys, q, who);
    if (q && from == CRED_QUERY) {
        /* a long-lived token never travels in a URL (access logs, history,
         * Referer): ?token= takes session tokens only */
        memset(who, 0, sizeof *who);
        return who->role = BH_ROLE_NONE;
    }
    const char *h = bh_req_header(req, "authorization");
    return bh_keyring_identify(a->keys, h && !strncasecmp(h, "Bearer ", 7) ? h + 7 : NULL, who);
}

/* The owner (token id) of session id, live or ended: 1, or 0 if unknown. */
static int owner_of(struct bh_api *a, const char *id, char owner[40])
{
    bh_session_t *s = bh_session_find(a->sessions, id);
    if (s) {
        snprintf(owner, 40, "%s", bh_session_info(s)->owner);
        return 1;
    }
    struct bh_session_row row;
    memset(&row, 0, sizeof row);
    if (bh_api_row_get(a, id, &row, NULL) <= 0)
        return 0;
    snprintf(owner, 40, "%s", row.owner);
    bh_session_row_clear(&row);
    return 1;
}

/* What each scope of session token opens, for the refusal's message. */
static const char *scope_opens(enum bh_scope sc)
{
    switch (sc) {
    case BH_SCOPE_VIEW:
        return "the session's GET and its live view, without input";
    case BH_SCOPE_CONTROL:
        return "the session's GET and its live view";
    case BH_SCOPE_CDP:
        return "the session's GET, its CDP endpoint and /json/version";
    default:
        return "nothing";
    }
}

int bh_api_may_access(struct bh_api *a, bh_req_t *req, const struct bh_identity *who,
                      const char *id, unsigned scopes)
{
    char owner[40] = "";
    if (who->role == BH_ROLE_USER && !owner_of(a, id, owner)) {
        bh_api_reply_error(req, 404, "not_found", "no such session");
        return 0;
    }
    if (bh_may_access(who, a->cfg->secret, id, owner, scopes, now_s()))
        return 1;
    if (who->role == BH_ROLE_SCOPED) {
        enum bh_scope sc = bh_scoped_verify(a->cfg->secret, who->scoped, id, now_s());
        if (sc == BH_SCOPE_NONE) {
            bh_api_reply_error(req, 401, "unauthorized",
                               "this session token is expired, altered or for another session");
        } else {
            char *msg = bh_xasprintf("a '%s' session token does not open this; it opens %s",
                                     bh_scope_name(sc), scope_opens(sc));
            bh_api_reply_error(req, 403, "forbidden_scope", msg);
            free(msg);
        }
    } else {
        bh_api_reply_error(req, 404, "not_found", "no such session");
    }
    return 0;
}

int bh_api_scoped_refused(bh_req_t *req, const struct bh_identity *who)
{
    if (who->role != BH_ROLE_SCOPED)
        return 0;
    bh_api_reply_error(req, 401, "unauthorized",
                       "a session token only opens its session (GET, and cdp or live as its scope "
                       "allows); use an API token");
    return 1;
}

int bh_api_admin_refused(bh_req_t *req, const struct bh_identity *who)
{
    if (who->role == BH_ROLE_ADMIN)
        return 0;
    if (who->role == BH_ROLE_USER)
        bh_api_reply_error(req, 403, "forbidden", "this needs an admin token");
    else
        bh_api_unauthorized(req);
    return 1;
}

char *bh_api_mint_for(struct bh_api *a, const struct bh_session_row *r, enum bh_scope scope,
                      int ttl_s, int64_t *expiry)
{
    int64_t now = now_s(), exp = now + (ttl_s > 0 ? ttl_s : a->cfg->url_token_ttl);
    int64_t end = (r->expires_at + 999) / 1000; /* the session's own deadline */
    if (r->expires_at && end < exp)
        exp = end;
    if (expiry)
        *expiry = exp;
    return exp > now ? bh_scoped_mint(a->cfg->secret, r->id, scope, exp) : NULL;
}
