/* api_sessions.h — the session routes of the REST API, once the caller
 * may reach them (api.c routes, api_who.h checks): create, list, get,
 * delete, screenshot, events, uploads (files), links, and the CDP discovery
 * document (/json/version). Each replies to req, at once or when the
 * sessions module answers. Internal to the api modules. */
#ifndef BH_API_SESSIONS_H
#define BH_API_SESSIONS_H

#include "api/api_int.h"

/* POST /api/v1/sessions: validate, check the network policy (admins only
 * open non-public ranges) and the quota, then create; 201 once ready. */
void bh_api_create_session(struct bh_api *a, bh_req_t *req, const struct bh_identity *who);
/* GET /api/v1/sessions[?status=]: the sessions who may see. */
void bh_api_list_sessions(struct bh_api *a, bh_req_t *req, const struct bh_identity *who);
/* Reply with the session's JSON; 404 if unknown. */
void bh_api_get_session(struct bh_api *a, bh_req_t *req, const char *id,
                        const struct bh_identity *who);
/* 409 if the id names an ended session, 404 if it names none. */
void bh_api_not_live(struct bh_api *a, bh_req_t *req, const char *id);
/* DELETE /api/v1/sessions/{id}: end a ready session; 204 once it ended. */
void bh_api_delete_session(struct bh_api *a, bh_req_t *req, const char *id);
/* GET /api/v1/sessions/{id}/screenshot: a PNG of the page. */
void bh_api_screenshot(struct bh_api *a, bh_req_t *req, const char *id);
/* PUT /api/v1/sessions/{id}/files/{name}: the body becomes
 * /tmp/uploads/{name} inside the session (docs/api.md#uploads). */
void bh_api_put_file(struct bh_api *a, bh_req_t *req, const char *id, const char *name);
/* GET /api/v1/sessions/{id}/events: the session's event log. */
void bh_api_events(struct bh_api *a, bh_req_t *req, const char *id);
/* POST /api/v1/sessions/{id}/links {"scope":"view|control|cdp","ttl":S}:
 * a fresh session token of that scope for a live session, and the urls it
 * opens (docs/api.md#links). API tokens only (the route refuses session
 * tokens before this). */
void bh_api_create_link(struct bh_api *a, bh_req_t *req, const char *id);
/* GET /api/v1/sessions/{id}/json/version: the browser's discovery document
 * with the daemon's CDP endpoint for the session. */
void bh_api_discovery(struct bh_api *a, bh_req_t *req, const char *id);

#endif
