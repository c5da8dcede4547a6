/* api.h — the REST API v1 (DESIGN.md): routing, authentication and roles
 * (auth.h), the token endpoints, JSON errors. Translates requests into
 * session calls; owns the keyring of tokens in force and nothing else but
 * the references it is given. Its code: api.c (these entry points and the
 * routing), and behind it the internal modules api_front (Host, Origin,
 * content type), api_who (the caller and its access), api_sessions and
 * api_tokens (the routes), api_present (a session's JSON), api_reply. */
#ifndef BH_API_H
#define BH_API_H

#include "api/auth.h"
#include "config/config.h"
#include "http/http.h"
#include "session/session.h"
#include "store/store.h"

typedef struct bh_api bh_api_t;

/* Loads the tokens in force from store (the admin token's hash from cfg). */
bh_api_t *bh_api_new(const struct bh_config *cfg, bh_sessions_t *sessions, bh_store_t *store,
                     bh_err_t *err);
void bh_api_free(bh_api_t *api);
/* The handler to give bh_http_new (ctx = the api). */
void bh_api_request(void *api, bh_req_t *req);
/* The WebSocket upgrade handler (ctx = the api). */
void bh_api_upgrade(void *api, bh_req_t *req);
/* The HTTP front's streams hook: 1 for a request whose body the route of
 * a live session reads itself (a shell session's uploads). */
int bh_api_streams(void *api, bh_req_t *req);
/* The routing of a path /api/v1/sessions/<id><sub> (pure; fuzzed): copies
 * the id (32 lowercase hex) into id and returns sub ("", "/cdp", ...), or
 * NULL if the path is not of that shape. */
const char *bh_api_session_path(const char *path, char id[33]);
/* Whether a request or WebSocket upgrade with this Origin header (NULL:
 * none) may act (pure; fuzzed). Browsers send an Origin: only the daemon's
 * own (its public URL, or loopback names of its port) and the operator's
 * --allow-origin list may — a page elsewhere, or a DNS-rebound name
 * pointing here, may not. Programs send no Origin. (api_front.c) */
int bh_api_origin_allowed(const struct bh_config *cfg, const char *origin);

#endif
