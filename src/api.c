/* api.c — see api.h. */
#include "api.h"

#include "assets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "log.h"
#include "util.h"
#include "validate.h"

struct bh_api {
    const struct bh_config *cfg;
    bh_sessions_t *sessions;
    bh_store_t *store;
};

bh_api_t *bh_api_new(const struct bh_config *cfg, bh_sessions_t *sessions, bh_store_t *store)
{
    struct bh_api *a = bh_xcalloc(1, sizeof *a);
    a->cfg = cfg;
    a->sessions = sessions;
    a->store = store;
    return a;
}

void bh_api_free(bh_api_t *api) { free(api); }

int bh_token_equal(const char *presented, const char *expected)
{
    if (!presented || !expected)
        return 0;
    size_t lp = strlen(presented), le = strlen(expected);
    /* run over the expected length whatever was presented */
    unsigned char diff = (unsigned char)(lp != le);
    for (size_t i = 0; i < le; i++) {
        unsigned char c = i < lp ? (unsigned char)presented[i] : 0;
        diff |= c ^ (unsigned char)expected[i];
    }
    return diff == 0;
}

static int valid_id(const char *id, size_t n);
static void not_live(struct bh_api *a, bh_req_t *req, const char *id);

/* ---------------------------------------------------------------- replies */

static void reply_json(bh_req_t *req, int status, json_t *body)
{
    char *s = bh_json_dump(body);
    bh_req_reply(req, status, "application/json", s, strlen(s), NULL);
    free(s);
    json_decref(body);
}

static void reply_error(bh_req_t *req, int status, const char *code, const char *msg)
{
    json_t *e = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
    char *s = bh_json_dump(e);
    json_decref(e);
    if (status == 401)
        bh_req_reply(req, status, "application/json", s, strlen(s),
                     (const char *const[]){"www-authenticate", "Bearer realm=\"bulkhead\"", NULL});
    else if (status == 429 || status == 503)
        bh_req_reply(req, status, "application/json", s, strlen(s),
                     (const char *const[]){"retry-after", "5", NULL});
    else
        bh_req_reply(req, status, "application/json", s, strlen(s), NULL);
    free(s);
}

/* ---------------------------------------------------------------- sessions */

static void created(void *arg, bh_session_t *s, const bh_err_t *err)
{
    bh_req_t *req = arg;
    if (!s) {
        int st = err->status ? err->status : 500;
        reply_error(req, st,
                    st == 429   ? "too_many_sessions"
                    : st == 503 ? "unavailable"
                                : "create_failed",
                    bh_err_msg(err));
        return;
    }
    reply_json(req, 201, bh_session_live_json(s));
}

static void create_session(struct bh_api *a, bh_req_t *req)
{
    size_t len;
    const char *body = bh_req_body(req, &len);
    struct bh_create_opts opts;
    struct bh_invalid why;
    if (bh_validate_create(body, len, a->cfg, &opts, &why) < 0) {
        reply_error(req, 400, why.code, why.msg);
        return;
    }
    bh_session_create(a->sessions, &opts, created, req);
}

static int valid_id(const char *id, size_t n)
{
    if (n != 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return 0;
    return 1;
}

static void list_sessions(struct bh_api *a, bh_req_t *req)
{
    const char *status = bh_req_query(req, "status");
    if (status && strcmp(status, "starting") && strcmp(status, "ready") &&
        strcmp(status, "ended")) {
        reply_error(req, 400, "invalid_field", "status must be starting, ready or ended");
        return;
    }
    struct bh_session_row *rows = NULL;
    bh_err_t err = BH_ERR_INIT;
    int n = bh_store_session_list(a->store, status, &rows, &err);
    if (n < 0) {
        reply_error(req, 500, "internal", bh_err_msg(&err));
        bh_err_clear(&err);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        bh_session_t *s = bh_session_find(a->sessions, rows[i].id);
        json_array_append_new(arr, s ? bh_session_live_json(s)
                                     : bh_session_json(a->sessions, &rows[i]));
    }
    bh_store_rows_free(rows, n);
    reply_json(req, 200, json_pack("{s:o}", "sessions", arr));
}

static void refreshed(void *arg, bh_session_t *s)
{
    reply_json(arg, 200, bh_session_live_json(s));
}

/* Reply with the session's JSON; 404 if unknown. */
static void get_session(struct bh_api *a, bh_req_t *req, const char *id)
{
    bh_session_t *s = bh_session_find(a->sessions, id);
    if (s) {
        bh_session_refresh(s, refreshed, req);
        return;
    }
    struct bh_session_row row;
    memset(&row, 0, sizeof row);
    bh_err_t err = BH_ERR_INIT;
    int found = bh_store_session_get(a->store, id, &row, &err);
    if (found < 0) {
        reply_error(req, 500, "internal", bh_err_msg(&err));
        bh_err_clear(&err);
        return;
    }
    if (!found) {
        reply_error(req, 404, "not_found", "no such session");
        return;
    }
    reply_json(req, 200, bh_session_json(a->sessions, &row));
    bh_session_row_clear(&row);
}

/* 409 if the id names an ended session, 404 if it names none. */
static void not_live(struct bh_api *a, bh_req_t *req, const char *id)
{
    struct bh_session_row row;
    memset(&row, 0, sizeof row);
    int found = bh_store_session_get(a->store, id, &row, NULL);
    if (found > 0)
        reply_error(req, 409, "not_running", "the session has ended");
    else
        reply_error(req, 404, "not_found", "no such session");
    if (found > 0)
        bh_session_row_clear(&row);
}

static void deleted(void *arg)
{
    bh_req_reply(arg, 204, "application/json", "", 0, NULL);
}

static void delete_session(struct bh_api *a, bh_req_t *req, const char *id)
{
    bh_session_t *s = bh_session_find(a->sessions, id);
    if (!s) {
        not_live(a, req, id);
        return;
    }
    if (!bh_session_ready(s)) {
        reply_error(req, 409, "not_ready", "the session is still starting or already ending");
        return;
    }
    bh_session_end(s, "deleted", NULL, deleted, req);
}

static void screenshot_done(void *arg, const char *png, size_t len, const bh_err_t *err)
{
    bh_req_t *req = arg;
    if (!png) {
        reply_error(req, err->status ? err->status : 500,
                    err->status == 409   ? "not_ready"
                    : err->status == 504 ? "timeout"
                                         : "screenshot_failed",
                    bh_err_msg(err));
        return;
    }
    bh_req_reply(req, 200, "image/png", png, len, NULL);
}

static void screenshot(struct bh_api *a, bh_req_t *req, const char *id)
{
    bh_session_t *s = bh_session_find(a->sessions, id);
    if (!s) {
        not_live(a, req, id);
        return;
    }
    bh_session_screenshot(s, screenshot_done, req);
}

static void events(struct bh_api *a, bh_req_t *req, const char *id)
{
    struct bh_session_row row;
    memset(&row, 0, sizeof row);
    int found = bh_store_session_get(a->store, id, &row, NULL);
    if (found <= 0) {
        reply_error(req, 404, "not_found", "no such session");
        return;
    }
    bh_session_row_clear(&row);
    char *list = NULL;
    bh_err_t err = BH_ERR_INIT;
    if (bh_store_event_list(a->store, id, &list, &err) < 0) {
        reply_error(req, 500, "internal", bh_err_msg(&err));
        bh_err_clear(&err);
        return;
    }
    char *body = bh_xasprintf("{\"events\":%s}", list);
    bh_req_reply(req, 200, "application/json", body, strlen(body), NULL);
    free(body);
    free(list);
}

/* ---------------------------------------------------------------- routing */

static int authorized(struct bh_api *a, bh_req_t *req)
{
    const char *h = bh_req_header(req, "authorization");
    if (h && !strncasecmp(h, "Bearer ", 7))
        return bh_token_equal(h + 7, a->cfg->token);
    return 0;
}

/* WebSocket clients and discovery may carry the token in the query, as
 * browsers cannot set headers on WebSockets. */
static int authorized_ws(struct bh_api *a, bh_req_t *req)
{
    const char *t = bh_req_query(req, "token");
    if (t)
        return bh_token_equal(t, a->cfg->token);
    return authorized(a, req);
}

/* Path /api/v1/sessions/<id><sub>: copies the id, returns sub (NULL if the
 * path is not of that shape). */
static const char *session_path(const char *path, char id[33])
{
    static const char prefix[] = "/api/v1/sessions/";
    if (strncmp(path, prefix, sizeof prefix - 1) != 0)
        return NULL;
    const char *rest = path + sizeof prefix - 1;
    size_t idlen = strcspn(rest, "/");
    if (!valid_id(rest, idlen))
        return NULL;
    memcpy(id, rest, 32);
    id[32] = 0;
    return rest + idlen;
}

static void discovery(struct bh_api *a, bh_req_t *req, const char *id)
{
    bh_session_t *s = bh_session_find(a->sessions, id);
    if (!s) {
        not_live(a, req, id);
        return;
    }
    const char *base = a->cfg->public_url;
    const char *host = strstr(base, "://") ? strstr(base, "://") + 3 : base;
    const char *t = bh_req_query(req, "token");
    char *ws = bh_xasprintf("%s%s/api/v1/sessions/%s/cdp%s%s",
                            !strncmp(base, "https://", 8) ? "wss://" : "ws://", host, id,
                            t ? "?token=" : "", t ? t : "");
    json_t *v = bh_session_version_json(s, ws);
    free(ws);
    if (!v) {
        reply_error(req, 409, "not_ready", "the session is not ready");
        return;
    }
    reply_json(req, 200, v);
}

/* WebSocket upgrades from browsers carry an Origin: only the daemon's own
 * (its public URL, or loopback names of its port) and the operator's
 * --allow-origin list may open one — a page elsewhere, or a DNS-rebound
 * name pointing here, may not. Programs send no Origin. */
static int origin_allowed(struct bh_api *a, const char *origin)
{
    if (!origin)
        return 1;
    const char *base = a->cfg->public_url;
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    if (strlen(origin) == n && !strncasecmp(origin, base, n))
        return 1;
    char buf[128];
    snprintf(buf, sizeof buf, "http://localhost:%d", a->cfg->port);
    if (!strcasecmp(origin, buf) && !strcmp(a->cfg->listen_host, "127.0.0.1"))
        return 1;
    snprintf(buf, sizeof buf, "http://127.0.0.1:%d", a->cfg->port);
    if (!strcasecmp(origin, buf) && !strcmp(a->cfg->listen_host, "127.0.0.1"))
        return 1;
    for (int i = 0; i < a->cfg->nallowed_origins; i++)
        if (!strcasecmp(origin, a->cfg->allowed_origins[i]))
            return 1;
    return 0;
}

void bh_api_upgrade(void *ctx, bh_req_t *req)
{
    struct bh_api *a = ctx;
    if (!origin_allowed(a, bh_req_header(req, "origin"))) {
        reply_error(req, 403, "origin_not_allowed",
                    "WebSocket connections from this Origin are not allowed (see --allow-origin)");
        return;
    }
    char id[33];
    const char *sub = session_path(bh_req_path(req), id);
    if (!sub || (strcmp(sub, "/cdp") != 0 && strcmp(sub, "/live") != 0)) {
        reply_error(req, 404, "not_found", "no such WebSocket endpoint");
        return;
    }
    if (!authorized_ws(a, req)) {
        reply_error(req, 401, "unauthorized", "missing or wrong token");
        return;
    }
    bh_session_t *s = bh_session_find(a->sessions, id);
    if (!s) {
        not_live(a, req, id);
        return;
    }
    if (!strcmp(sub, "/live"))
        bh_session_live_accept(s, req);
    else
        bh_session_cdp_accept(s, req);
}

/* The embedded web UI file at path, or NULL. */
static const struct bh_asset *asset(const char *path)
{
    for (const struct bh_asset *a = bh_assets; a->path; a++)
        if (!strcmp(a->path, path))
            return a;
    return NULL;
}

static void serve_asset(bh_req_t *req, const struct bh_asset *a)
{
    static const char *const hdrs[] = {
        "content-security-policy",
        "default-src 'self'; img-src 'self' blob: data:; connect-src 'self' ws: wss:; "
        "frame-ancestors 'none'",
        "x-frame-options", "DENY", "referrer-policy", "no-referrer", NULL};
    bh_req_reply(req, 200, a->content_type, a->data, a->len, hdrs);
}

void bh_api_request(void *ctx, bh_req_t *req)
{
    struct bh_api *a = ctx;
    const char *m = bh_req_method(req);
    const char *path = bh_req_path(req);
    int get = !strcmp(m, "GET") || !strcmp(m, "HEAD");

    if (!strcmp(path, "/healthz") && get) {
        reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
        return;
    }
    if (!strcmp(path, "/metrics") && get) {
        if (!authorized(a, req)) {
            reply_error(req, 401, "unauthorized", "missing or wrong bearer token");
            return;
        }
        size_t n;
        char *text = bh_sessions_metrics(a->sessions, &n);
        bh_req_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, n, NULL);
        free(text);
        return;
    }
    if (!strcmp(path, "/readyz") && get) {
        reply_json(req, 200, json_pack("{s:s}", "status", "ready"));
        return;
    }
    if (get && strncmp(path, "/api/", 5) != 0) {
        /* the web UI: "/" and "/view/<id>" are the app, the rest its files */
        const struct bh_asset *as =
            (!strcmp(path, "/") || !strncmp(path, "/view/", 6)) ? asset("/index.html") : asset(path);
        if (as) {
            serve_asset(req, as);
            return;
        }
    }
    if (strncmp(path, "/api/", 5) != 0) {
        reply_error(req, 404, "not_found", "no such path");
        return;
    }
    char sid[33];
    const char *dsub = session_path(path, sid);
    if (dsub && get && (!strcmp(dsub, "/json/version") || !strcmp(dsub, "/json/version/"))) {
        if (!authorized_ws(a, req)) {
            reply_error(req, 401, "unauthorized", "missing or wrong token");
            return;
        }
        discovery(a, req, sid);
        return;
    }
    if (!authorized(a, req)) {
        reply_error(req, 401, "unauthorized", "missing or wrong bearer token");
        return;
    }
    static const char prefix[] = "/api/v1/sessions";
    if (strncmp(path, prefix, sizeof prefix - 1) != 0) {
        reply_error(req, 404, "not_found", "no such path");
        return;
    }
    const char *rest = path + sizeof prefix - 1;
    if (!*rest || !strcmp(rest, "/")) {
        if (!strcmp(m, "POST"))
            create_session(a, req);
        else if (get)
            list_sessions(a, req);
        else
            reply_error(req, 405, "method_not_allowed", "use GET or POST");
        return;
    }
    char id[33];
    const char *sub = session_path(path, id);
    if (!sub) {
        reply_error(req, 404, "not_found", *rest == '/' ? "no such session" : "no such path");
        return;
    }
    if (!*sub) {
        if (get)
            get_session(a, req, id);
        else if (!strcmp(m, "DELETE"))
            delete_session(a, req, id);
        else
            reply_error(req, 405, "method_not_allowed", "use GET or DELETE");
        return;
    }
    if (!strcmp(sub, "/screenshot")) {
        if (get)
            screenshot(a, req, id);
        else
            reply_error(req, 405, "method_not_allowed", "use GET");
        return;
    }
    if (!strcmp(sub, "/events")) {
        if (get)
            events(a, req, id);
        else
            reply_error(req, 405, "method_not_allowed", "use GET");
        return;
    }
    reply_error(req, 404, "not_found", "no such path");
}
