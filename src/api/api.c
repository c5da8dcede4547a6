/* api.c — see api.h. The REST API's entry points: bh_api_new/free, the
 * routing of requests and WebSocket upgrades to the api modules (front door
 * api_front, caller api_who, then api_sessions or api_tokens), and the
 * embedded web UI's files. */
#include "api/api.h"

#include "api/assets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_front.h"
#include "api/api_int.h"
#include "api/api_reply.h"
#include "api/api_sessions.h"
#include "api/api_tokens.h"
#include "api/api_who.h"
#include "daemon/exposition.h"
#include "daemon/health.h"
#include "kinds/kinds.h"
#include "kinds/shell/shell.h"
#include "lib/log.h"

bh_api_t *bh_api_new(const struct bh_config *cfg, bh_sessions_t *sessions, bh_store_t *store,
                     bh_err_t *err)
{
    struct bh_api *a = bh_xcalloc(1, sizeof *a);
    a->cfg = cfg;
    a->sessions = sessions;
    a->store = store;
    a->keys = bh_keyring_new();
    if (cfg->no_auth)
        return a;
    if (bh_keyring_put(a->keys, BH_ADMIN_ID, BH_ADMIN_ID, BH_ROLE_ADMIN, cfg->admin_hash, 0) < 0) {
        bh_err_set(err, EINVAL, "the admin token's hash is not set");
        bh_api_free(a);
        return NULL;
    }
    struct bh_token_row *rows = NULL;
    int n = bh_store_token_list(store, &rows, err);
    if (n < 0) {
        bh_err_wrap(err, "load tokens");
        bh_api_free(a);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (bh_keyring_put(a->keys, rows[i].id, rows[i].name, bh_role_parse(rows[i].role),
                           rows[i].hash, rows[i].max_sessions) < 0)
            bh_log(BH_LOG_WARN, NULL, "token %s: stored hash is not a SHA-256; ignored",
                   rows[i].id);
    free(rows);
    return a;
}

void bh_api_free(bh_api_t *api)
{
    if (!api)
        return;
    bh_keyring_free(api->keys);
    free(api);
}

/* ---------------------------------------------------------------- routing */

static int valid_id(const char *id, size_t n)
{
    if (n != 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return 0;
    return 1;
}

const char *bh_api_session_path(const char *path, char id[33])
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

void bh_api_upgrade(void *ctx, bh_req_t *req)
{
    struct bh_api *a = ctx;
    if (bh_api_host_refused(a, req))
        return;
    if (!bh_api_origin_allowed(a->cfg, bh_req_header(req, "origin"))) {
        bh_api_reply_error(
            req, 403, "origin_not_allowed",
            "WebSocket connections from this Origin are not allowed (see --allow-origin)");
        return;
    }
    char id[33];
    const char *sub = bh_api_session_path(bh_req_path(req), id);
    const struct bh_kind *kind = NULL;
    const char *rest = NULL;
    const struct bh_kind_route *route = sub ? bh_kind_route_find("WS", sub, &kind, &rest) : NULL;
    if (!route) {
        bh_api_reply_error(req, 404, "not_found", "no such WebSocket endpoint");
        return;
    }
    struct bh_identity who;
    if (bh_api_identify(a, req, route->scopes ? CRED_QUERY : CRED_HEADER, &who) == BH_ROLE_NONE) {
        bh_api_unauthorized(req);
        return;
    }
    if (!route->scopes && bh_api_scoped_refused(req, &who))
        return;
    if (!bh_api_may_access(a, req, &who, id, route->scopes))
        return;
    bh_api_kind_route(a, req, id, &who, route);
}

/* The embedded web UI file at path, or NULL. */
static const struct bh_asset *asset(const char *path)
{
    for (const struct bh_asset *a = bh_assets; a->path; a++)
        if (!strcmp(a->path, path))
            return a;
    return NULL;
}

/* term: the terminal page (/term/{id}), whose xterm.js styles its rows with
 * <style> elements and style attributes: it alone gets inline styles
 * ('unsafe-inline' in style-src); scripts stay 'self' everywhere. */
static void serve_asset(bh_req_t *req, const struct bh_asset *a, int term)
{
    static const char *const hdrs[] = {
        "content-security-policy",
        "default-src 'self'; img-src 'self' blob: data:; connect-src 'self' ws: wss:; "
        "frame-ancestors 'none'",
        "x-frame-options",
        "DENY",
        "referrer-policy",
        "no-referrer",
        NULL};
    static const char *const term_hdrs[] = {
        "content-security-policy",
        "default-src 'self'; img-src 'self' blob: data:; connect-src 'self' ws: wss:; "
        "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        "x-frame-options",
        "DENY",
        "referrer-policy",
        "no-referrer",
        NULL};
    bh_req_reply(req, 200, a->content_type, a->data, a->len, term ? term_hdrs : hdrs);
}

int bh_api_streams(void *ctx, bh_req_t *req)
{
    struct bh_api *a = ctx;
    char id[33];
    const char *sub = bh_api_session_path(bh_req_path(req), id);
    bh_session_t *s = sub && *sub ? bh_session_find(a->sessions, id) : NULL;
    const char *rest;
    const struct bh_kind_route *r = s ? bh_kind_route_of(bh_session_kind(s), bh_req_method(req),
                                                         sub, &rest)
                                      : NULL;
    return r && r->stream_body;
}

void bh_api_request(void *ctx, bh_req_t *req)
{
    struct bh_api *a = ctx;
    const char *m = bh_req_method(req);
    const char *path = bh_req_path(req);
    int get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
    struct bh_identity who;

    if (bh_api_host_refused(a, req))
        return;
    if (!strcmp(path, "/healthz") && get) {
        bh_api_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
        return;
    }
    if (!strcmp(path, "/metrics") && get) {
        bh_api_identify(a, req, CRED_HEADER, &who);
        if (bh_api_admin_refused(req, &who))
            return;
        size_t n;
        char *text = bh_exposition(a->sessions, &n);
        bh_req_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, n, NULL);
        free(text);
        return;
    }
    if (!strcmp(path, "/readyz") && get) {
        int ready;
        json_t *checks = bh_health_readiness(a->store, a->sessions, &ready);
        bh_api_reply_json(
            req, ready ? 200 : 503,
            json_pack("{s:s, s:o}", "status", ready ? "ready" : "not_ready", "checks", checks));
        return;
    }
    if (get && strncmp(path, "/api/", 5) != 0) {
        /* the web UI: "/", "/view/<id>" and "/term/<id>" are the app, the
         * rest its files */
        int term = !strncmp(path, "/term/", 6);
        const struct bh_asset *as = (!strcmp(path, "/") || !strncmp(path, "/view/", 6) || term)
                                        ? asset("/index.html")
                                        : asset(path);
        if (as) {
            serve_asset(req, as, term);
            return;
        }
    }
    if (strncmp(path, "/api/", 5) != 0) {
        bh_api_reply_error(req, 404, "not_found", "no such path");
        return;
    }
    if (bh_api_forgery_refused(a, req))
        return;
    char id[33];
    const char *sub = bh_api_session_path(path, id);
    const struct bh_kind *kind = NULL;
    const char *krest = NULL;
    const struct bh_kind_route *route = sub && *sub ? bh_kind_route_find(get ? "GET" : m, sub,
                                                                         &kind, &krest)
                                                    : NULL;
    if (route && route->scopes) {
        /* a route that links open: a session token may use it, also as ?token= */
        if (bh_api_identify(a, req, CRED_QUERY, &who) == BH_ROLE_NONE) {
            bh_api_unauthorized(req);
            return;
        }
        if (bh_api_may_access(a, req, &who, id, route->scopes))
            bh_api_kind_route(a, req, id, &who, route);
        return;
    }
    if (sub && !*sub && get) {
        /* one session: a session token may read it, also as ?token= */
        if (bh_api_identify(a, req, CRED_QUERY_SCOPED, &who) == BH_ROLE_NONE) {
            bh_api_unauthorized(req);
            return;
        }
        if (bh_api_may_access(a, req, &who, id, BH_SCOPE_VIEW | BH_SCOPE_CONTROL | BH_SCOPE_CDP))
            bh_api_get_session(a, req, id, &who);
        return;
    }
    if (bh_api_identify(a, req, CRED_HEADER, &who) == BH_ROLE_NONE) {
        bh_api_reply_error(req, 401, "unauthorized", "missing or wrong bearer token");
        return;
    }
    if (bh_api_scoped_refused(req, &who))
        return;
    static const char tprefix[] = "/api/v1/tokens";
    if (!strncmp(path, tprefix, sizeof tprefix - 1) &&
        (!path[sizeof tprefix - 1] || path[sizeof tprefix - 1] == '/')) {
        if (!bh_api_admin_refused(req, &who))
            bh_api_tokens_route(a, req, path + sizeof tprefix - 1);
        return;
    }
    if (!strcmp(path, "/api/v1/labs")) {
        if (!get) {
            bh_api_reply_error(req, 405, "method_not_allowed", "GET only");
            return;
        }
        bh_err_t err = BH_ERR_INIT;
        json_t *labs = bh_shell_labs(a->cfg->labs_dir, &err);
        if (!labs) {
            bh_api_reply_error(req, 500, "internal", bh_err_msg(&err));
            bh_err_clear(&err);
            return;
        }
        bh_api_reply_json(req, 200, json_pack("{s:o}", "labs", labs));
        return;
    }
    static const char prefix[] = "/api/v1/sessions";
    if (strncmp(path, prefix, sizeof prefix - 1) != 0) {
        bh_api_reply_error(req, 404, "not_found", "no such path");
        return;
    }
    const char *rest = path + sizeof prefix - 1;
    if (!*rest || !strcmp(rest, "/")) {
        if (!strcmp(m, "POST"))
            bh_api_create_session(a, req, &who);
        else if (get)
            bh_api_list_sessions(a, req, &who);
        else
            bh_api_reply_error(req, 405, "method_not_allowed", "use GET or POST");
        return;
    }
    if (!sub) {
        bh_api_reply_error(req, 404, "not_found",
                           *rest == '/' ? "no such session" : "no such path");
        return;
    }
    if (!bh_api_may_access(a, req, &who, id, BH_SCOPE_NONE))
        return;
    if (!*sub) {
        if (!strcmp(m, "DELETE"))
            bh_api_delete_session(a, req, id);
        else
            bh_api_reply_error(req, 405, "method_not_allowed", "use GET or DELETE");
        return;
    }
    if (route) {
        bh_api_kind_route(a, req, id, &who, route);
        return;
    }
    if (bh_kind_path_method(NULL, sub)) {
        char *msg = bh_xasprintf("use %s", bh_kind_path_method(NULL, sub));
        bh_api_reply_error(req, 405, "method_not_allowed", msg);
        free(msg);
        return;
    }
    if (!strcmp(sub, "/links")) {
        if (!strcmp(m, "POST"))
            bh_api_create_link(a, req, id);
        else
            bh_api_reply_error(req, 405, "method_not_allowed", "use POST");
        return;
    }
    if (!strcmp(sub, "/events")) {
        if (get)
            bh_api_events(a, req, id);
        else
            bh_api_reply_error(req, 405, "method_not_allowed", "use GET");
        return;
    }
    bh_api_reply_error(req, 404, "not_found", "no such path");
}
