/* session.h — the life of a session: create (network, sandbox, browser, first
 * page), watch (browser exit, page title), screenshot, end (everything it made
 * removed), and recovery of what a previous run left. The manager owns every
 * live session; ended sessions live on only as store rows. All functions run
 * on the loop thread; blocking steps go to the worker pool. Implemented by
 * session.c (the manager) and the session_*.c modules listed in
 * session_int.h. */
#ifndef BH_SESSION_H
#define BH_SESSION_H

#include "lib/config.h"
#include "http/http.h"
#include "lib/err.h"
#include "lib/json.h"
#include "lib/loop.h"
#include "store/store.h"
#include "api/validate.h"

typedef struct bh_sessions bh_sessions_t;
typedef struct bh_session bh_session_t;

bh_sessions_t *bh_sessions_new(const struct bh_config *cfg, bh_loop_t *loop, bh_store_t *store,
                               bh_err_t *err);
/* Reconcile what a previous run left (rows still live, containers,
 * namespaces) before serving: with cfg->adopt_on_restart, sessions whose
 * browser still runs are re-attached (they become ready again shortly);
 * everything else is removed and its row ended (reason "shutdown", or
 * "crashed"/"ttl" when the browser died or the ttl ran out meanwhile).
 * Blocking, except the adopted sessions' CDP handshake on the loop. */
int bh_sessions_recover(bh_sessions_t *m, bh_err_t *err);
/* End every live session (reason "shutdown"), or with cfg->leave_on_shutdown
 * leave the ready ones running for the next start to adopt; done() runs
 * when the daemon holds no session any more. */
void bh_sessions_shutdown(bh_sessions_t *m, void (*done)(void *), void *arg);
/* How many sessions the shutdown left running. */
int bh_sessions_left(const bh_sessions_t *m);
void bh_sessions_free(bh_sessions_t *m);
int bh_sessions_live(const bh_sessions_t *m);
/* /readyz: {"store","runtime","network","accepting"} each "ok" or the
 * problem; *ready is 1 when all are ok. Cheap (no process is started).
 * Caller owns the result. */
json_t *bh_sessions_readiness(bh_sessions_t *m, int *ready);
/* The Prometheus text exposition of the daemon's metrics. Caller frees. */
char *bh_sessions_metrics(bh_sessions_t *m, size_t *len);

/* Result of create: s is the ready session, or NULL and err says why
 * (err->status is an HTTP status suggestion: 500, 503). */
typedef void (*bh_session_created_cb)(void *arg, bh_session_t *s, const bh_err_t *err);
/* Start a session; opts->url is taken over. cb is called exactly once. */
void bh_session_create(bh_sessions_t *m, struct bh_create_opts *opts, bh_session_created_cb cb,
                       void *arg);
/* The client of the create whose cb argument is arg went away before the
 * session was ready: a create still waiting for a slot is dropped (cb runs
 * now), a starting session ends (reason "error", detail "client gone"; cb
 * runs when it has ended). Nothing happens if cb already ran. */
void bh_session_create_abandon(bh_sessions_t *m, void *arg);

/* A live (starting or ready) session, or NULL. */
bh_session_t *bh_session_find(bh_sessions_t *m, const char *id);
const char *bh_session_id(const bh_session_t *s);
int bh_session_ready(const bh_session_t *s);
/* The session's row as kept in the store (borrowed; live while s is). */
const struct bh_session_row *bh_session_info(const bh_session_t *s);
/* Sessions owned by token id owner that count against its quota: starting
 * or ready ones, and creates waiting for a slot. */
int bh_sessions_owned(const bh_sessions_t *m, const char *owner);

/* End a session; cb (may be NULL) runs once its resources are gone. */
void bh_session_end(bh_session_t *s, const char *reason, const char *detail, void (*cb)(void *),
                    void *arg);

/* Bring the page's title and URL up to date (one CDP round trip, at most
 * 1 s), then call cb — at once if the session is not ready. */
void bh_session_refresh(bh_session_t *s, void (*cb)(void *arg, bh_session_t *s), void *arg);

/* Put a file into the session's upload area (BH_UPLOAD_DIR of
 * cdp_proxy.h, where DOM.setFileInputFiles may name files): name is one
 * path component. 0, or -1 and err (err->status an errno; EAGAIN: the
 * session is not ready). */
int bh_session_put_file(bh_session_t *s, const char *name, const void *data, size_t len,
                        bh_err_t *err);

/* PNG of the page: cb gets the bytes (borrowed) or NULL and an error. */
typedef void (*bh_session_png_cb)(void *arg, const char *png, size_t len, const bh_err_t *err);
void bh_session_screenshot(bh_session_t *s, bh_session_png_cb cb, void *arg);

/* Accept a CDP client: the WebSocket upgrade in req (inside the http
 * upgrade handler). Refuses with 409 if the session is not ready. */
void bh_session_cdp_accept(bh_session_t *s, bh_req_t *req);
/* Accept a live-view viewer (docs/live.md), like bh_session_cdp_accept;
 * input 0: the viewer only watches (a "view" session token). */
void bh_session_live_accept(bh_session_t *s, bh_req_t *req, int input);
/* The browser's version object for /json/version discovery (new reference),
 * with webSocketDebuggerUrl = ws_url. NULL if not ready. */
json_t *bh_session_version_json(bh_session_t *s, const char *ws_url);

/* The API's JSON object of a session: from the row, plus live state when the
 * session is live. Caller owns the result. */
json_t *bh_session_json(bh_sessions_t *m, const struct bh_session_row *row);
json_t *bh_session_live_json(bh_session_t *s);

#endif
