/* api_who.h — who a request's caller is and what it may reach: the
 * credential's source (the Authorization header, or a session token in
 * ?token=), the roles' and session tokens' scopes' access to a session and
 * the refusals that follow (401/403/404), and the minting of session tokens
 * for a session's urls and links. Internal to the api modules. */
#ifndef BH_API_WHO_H
#define BH_API_WHO_H

#include "api/api_int.h"

/* Reply 401: missing or wrong token (or an API token in ?token=, which
 * takes session tokens only). */
void bh_api_unauthorized(bh_req_t *req);

/* Where a request's credential may come from. */
enum cred_from {
    CRED_HEADER,       /* Authorization: Bearer */
    CRED_QUERY,        /* a session token in ?token=, else the header (WebSockets, discovery) */
    CRED_QUERY_SCOPED, /* the header, or a scoped ?token= (GET of one session) */
};

/* Who sent req. With --no-auth, everyone is the admin. */
enum bh_role bh_api_identify(struct bh_api *a, bh_req_t *req, enum cred_from from,
                             struct bh_identity *who);
/* May who reach session id on a route that the session-token scopes in
 * scopes open? 1, or 0 after replying: 401 for a scoped token that is not
 * valid for the session, 403 for a valid one of another scope, 404 for a
 * user token's foreign (or unknown) session — a user cannot tell another's
 * session from none. An admin always may (the handler then says 404 for
 * unknown ids). */
int bh_api_may_access(struct bh_api *a, bh_req_t *req, const struct bh_identity *who,
                      const char *id, unsigned scopes);
/* Refuse what a scoped token may not do (everything but one session's
 * GET, cdp, live and discovery): 1 after replying 401. */
int bh_api_scoped_refused(bh_req_t *req, const struct bh_identity *who);
/* 1 after replying 401/403 unless who is an admin. */
int bh_api_admin_refused(bh_req_t *req, const struct bh_identity *who);

/* A fresh session token of scope for session r: it lives --url-token-ttl
 * seconds, or ttl_s if > 0, and never past the session's own deadline.
 * NULL if that deadline has passed. Caller frees. */
char *bh_api_mint_for(struct bh_api *a, const struct bh_session_row *r, enum bh_scope scope,
                      int ttl_s, int64_t *expiry);

#endif
