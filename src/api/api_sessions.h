/* api_sessions.h — the session routes of the REST API, once the caller
 * may reach them (api.c routes, api_who.h checks): create, list, get,
 * delete, events, links, and the routes each session kind serves
 * (kinds/kind.h). Each replies to req, at once or when the
 * sessions module answers. Internal to the api modules. */
#ifndef BH_API_SESSIONS_H
#define BH_API_SESSIONS_H

#include "api/api_int.h"

/* POST /api/v1/sessions: validate, check the network policy (admins only
 * open non-public ranges) and the quota, then create; 201 once ready. */
void bh_api_create_session(struct bh_api *a, bh_req_t *req, const struct bh_identity *who);
/* GET /api/v1/sessions[?status=]: the sessions who may see. */
/* Row id from the store: 1, 0 when unknown or a warm pool's (no one's),
 * -1 and err. */
int bh_api_row_get(struct bh_api *a, const char *id, struct bh_session_row *row, bh_err_t *err);
void bh_api_list_sessions(struct bh_api *a, bh_req_t *req, const struct bh_identity *who);
/* Reply with the session's JSON; 404 if unknown. */
void bh_api_get_session(struct bh_api *a, bh_req_t *req, const char *id,
                        const struct bh_identity *who);
/* 409 if the id names an ended session, 404 if it names none. */
void bh_api_not_live(struct bh_api *a, bh_req_t *req, const char *id);
/* DELETE /api/v1/sessions/{id}: end a ready session; 204 once it ended. */
void bh_api_delete_session(struct bh_api *a, bh_req_t *req, const char *id);
/* GET /api/v1/sessions/{id}/events: the session's event log. */
void bh_api_events(struct bh_api *a, bh_req_t *req, const char *id);
/* POST /api/v1/sessions/{id}/links {"scope":"view|control|cdp","ttl":S}:
 * a fresh session token of that scope for a live session, and the urls it
 * opens (docs/api.md#links). API tokens only (the route refuses session
 * tokens before this). */
void bh_api_create_link(struct bh_api *a, bh_req_t *req, const char *id);
/* A kind's route, once the caller may use it (route: the one whose scopes
 * were checked): 404/409 when the session is not live, else the handler of
 * its own kind's route of that method and path, which the same credentials
 * must open (405 when its kind takes another method there, 404 none). */
void bh_api_kind_route(struct bh_api *a, bh_req_t *req, const char *id,
                       const struct bh_identity *who, const struct bh_kind_route *route);

#endif
