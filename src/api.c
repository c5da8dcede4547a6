/* api.c — see api.h. */
#include "api.h"

#include "assets.h"

#include <ctype.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cdp_proxy.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "validate.h"

struct bh_api {
    const struct bh_config *cfg;
    bh_sessions_t *sessions;
    bh_store_t *store;
    bh_keyring_t *keys; /* the tokens in force, as hashes */
};

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
    if (bh_keyring_put(a->keys, BH_ADMIN_ID, BH_ADMIN_ID, BH_ROLE_ADMIN, cfg->admin_hash, 0) <
        0) {
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

static int valid_id(const char *id, size_t n);

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
    else if ((status == 429 && strcmp(code, "quota_exceeded")) || status == 503)
        bh_req_reply(req, status, "application/json", s, strlen(s),
                     (const char *const[]){"retry-after", "5", NULL});
    else
        bh_req_reply(req, status, "application/json", s, strlen(s), NULL);
    free(s);
}

static void unauthorized(bh_req_t *req)
{
    const char *q = bh_req_query(req, "token");
    reply_error(req, 401, "unauthorized",
                q && *q && !bh_scoped_like(q)
                    ? "?token= takes only a session token (st2.…); an API token goes in the "
                      "Authorization header, never in a URL"
                    : "missing or wrong token");
}

/* ---------------------------------------------------------------- who */

/* Where a request's credential may come from. */
enum cred_from {
    CRED_HEADER,       /* Authorization: Bearer */
    CRED_QUERY,        /* a session token in ?token=, else the header (WebSockets, discovery) */
    CRED_QUERY_SCOPED, /* the header, or a scoped ?token= (GET of one session) */
};

static int64_t now_s(void) { return bh_now_ms() / 1000; }

/* Who sent req. With --no-auth, everyone is the admin. */
static enum bh_role identify(struct bh_api *a, bh_req_t *req, enum cred_from from,
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
    if (bh_store_session_get(a->store, id, &row, NULL) <= 0)
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

/* May who reach session id on a route that the session-token scopes in
 * scopes open? 1, or 0 after replying: 401 for a scoped token that is not
 * valid for the session, 403 for a valid one of another scope, 404 for a
 * user token's foreign (or unknown) session — a user cannot tell another's
 * session from none. An admin always may (the handler then says 404 for
 * unknown ids). */
static int may_access(struct bh_api *a, bh_req_t *req, const struct bh_identity *who,
                      const char *id, unsigned scopes)
{
    char owner[40] = "";
    if (who->role == BH_ROLE_USER && !owner_of(a, id, owner)) {
        reply_error(req, 404, "not_found", "no such session");
        return 0;
    }
    if (bh_may_access(who, a->cfg->secret, id, owner, scopes, now_s()))
        return 1;
    if (who->role == BH_ROLE_SCOPED) {
        enum bh_scope sc = bh_scoped_verify(a->cfg->secret, who->scoped, id, now_s());
        if (sc == BH_SCOPE_NONE) {
            reply_error(req, 401, "unauthorized",
                        "this session token is expired, altered or for another session");
        } else {
            char *msg = bh_xasprintf("a '%s' session token does not open this; it opens %s",
                                     bh_scope_name(sc), scope_opens(sc));
            reply_error(req, 403, "forbidden_scope", msg);
            free(msg);
        }
    } else {
        reply_error(req, 404, "not_found", "no such session");
    }
    return 0;
}

/* Refuse what a scoped token may not do (everything but one session's
 * GET, cdp, live and discovery): 1 after replying 401. */
static int scoped_refused(bh_req_t *req, const struct bh_identity *who)
{
    if (who->role != BH_ROLE_SCOPED)
        return 0;
    reply_error(req, 401, "unauthorized",
                "a session token only opens its session (GET, and cdp or live as its scope "
                "allows); use an API token");
    return 1;
}

/* 1 after replying 401/403 unless who is an admin. */
static int admin_refused(bh_req_t *req, const struct bh_identity *who)
{
    if (who->role == BH_ROLE_ADMIN)
        return 0;
    if (who->role == BH_ROLE_USER)
        reply_error(req, 403, "forbidden", "this needs an admin token");
    else
        unauthorized(req);
    return 1;
}

/* ---------------------------------------------------------------- sessions */

/* The scopes that open the url named k of a session's urls. */
static unsigned url_scopes(const char *k)
{
    return !strcmp(k, "cdp") ? BH_SCOPE_CDP : BH_SCOPE_VIEW | BH_SCOPE_CONTROL;
}

/* A fresh session token of scope for session r: it lives --url-token-ttl
 * seconds, or ttl_s if > 0, and never past the session's own deadline.
 * NULL if that deadline has passed. Caller frees. */
static char *mint_for(struct bh_api *a, const struct bh_session_row *r, enum bh_scope scope,
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

/* A session's JSON as who may see it: the owner for admins, and urls that
 * carry a session token while the session is live — for an API token fresh
 * ones, a "control" token in urls.view and urls.live and a "cdp" token in
 * urls.cdp; a session-token caller gets its own token back (so a link
 * cannot extend itself) in the urls its scope opens, and null for the
 * others. Takes o. */
static json_t *present(struct bh_api *a, const struct bh_identity *who,
                       const struct bh_session_row *r, json_t *o)
{
    if (who->role == BH_ROLE_ADMIN) {
        const char *owner = r->owner[0] ? r->owner : BH_ADMIN_ID;
        struct bh_token_row t;
        memset(&t, 0, sizeof t);
        if (strcmp(owner, BH_ADMIN_ID) && bh_store_token_get(a->store, owner, &t, NULL) <= 0)
            t.name[0] = 0;
        else if (!strcmp(owner, BH_ADMIN_ID))
            snprintf(t.name, sizeof t.name, BH_ADMIN_ID);
        json_object_set_new(o, "owner",
                            json_pack("{s:s, s:o}", "id", owner, "name",
                                      t.name[0] ? json_string(t.name) : json_null()));
    }
    if (a->cfg->no_auth || !strcmp(r->status, "ended"))
        return o;
    enum bh_scope own = BH_SCOPE_NONE;
    if (who->role == BH_ROLE_SCOPED)
        own = bh_scoped_verify(a->cfg->secret, who->scoped, r->id, now_s());
    cleanup_free char *control = NULL, *cdp = NULL;
    if (who->role != BH_ROLE_SCOPED) {
        control = mint_for(a, r, BH_SCOPE_CONTROL, 0, NULL);
        cdp = mint_for(a, r, BH_SCOPE_CDP, 0, NULL);
    }
    json_t *urls = json_object_get(o, "urls");
    const char *k;
    json_t *v;
    json_object_foreach(urls, k, v)
    {
        if (!json_is_string(v))
            continue;
        const char *tok = who->role == BH_ROLE_SCOPED ? (own & url_scopes(k) ? who->scoped : NULL)
                          : !strcmp(k, "cdp")         ? cdp
                                                      : control;
        if (who->role == BH_ROLE_SCOPED && !tok) {
            json_object_set_new(urls, k, json_null()); /* (replaces the value: foreach-safe) */
        } else if (tok) {
            char *u = bh_xasprintf("%s?token=%s", json_string_value(v), tok);
            json_string_set(v, u);
            free(u);
        }
    }
    return o;
}

static json_t *live_json(struct bh_api *a, const struct bh_identity *who, bh_session_t *s)
{
    return present(a, who, bh_session_info(s), bh_session_live_json(s));
}

/* A request waiting for the sessions module. */
struct pending {
    struct bh_api *a;
    bh_req_t *req;
    struct bh_identity who;
};

static struct pending *pending_new(struct bh_api *a, bh_req_t *req,
                                   const struct bh_identity *who)
{
    struct pending *p = bh_xcalloc(1, sizeof *p);
    p->a = a;
    p->req = req;
    p->who = *who;
    return p;
}

static void created(void *arg, bh_session_t *s, const bh_err_t *err)
{
    struct pending *p = arg;
    if (!s) {
        int st = err->status ? err->status : 500;
        reply_error(p->req, st,
                    st == 429   ? "too_many_sessions"
                    : st == 503 ? "unavailable"
                                : "create_failed",
                    bh_err_msg(err));
    } else {
        reply_json(p->req, 201, live_json(p->a, &p->who, s));
    }
    free(p);
}

/* The client of a create left before its answer: nobody will learn the
 * session's id, so it ends (or, waiting for a slot, is never made). */
static void create_abandoned(void *arg)
{
    struct pending *p = arg;
    bh_session_create_abandon(p->a->sessions, p);
}

static void create_session(struct bh_api *a, bh_req_t *req, const struct bh_identity *who)
{
    size_t len;
    const char *body = bh_req_body(req, &len);
    struct bh_create_opts opts;
    struct bh_invalid why;
    if (bh_validate_create(body, len, a->cfg, &opts, &why) < 0) {
        reply_error(req, 400, why.code, why.msg);
        return;
    }
    /* only the admin may open non-public ranges (beyond the operator's
     * --egress-allow): refused before anything is made */
    if (who->role != BH_ROLE_ADMIN && bh_validate_network_public(&opts, a->cfg, &why) < 0) {
        bh_create_opts_clear(&opts);
        reply_error(req, 403, why.code, why.msg);
        return;
    }
    /* the quota: refused at once, never queued */
    int max = who->max_sessions;
    if (!max && who->role == BH_ROLE_USER)
        max = a->cfg->user_max_sessions;
    if (max > 0) {
        int have = bh_sessions_owned(a->sessions, who->id);
        if (have >= max) {
            bh_create_opts_clear(&opts);
            char *msg = bh_xasprintf("token '%s' may have at most %d live session%s and has %d; "
                                     "end one first",
                                     who->name, max, max == 1 ? "" : "s", have);
            reply_error(req, 429, "quota_exceeded", msg);
            free(msg);
            return;
        }
    }
    snprintf(opts.owner, sizeof opts.owner, "%s", who->id);
    struct pending *p = pending_new(a, req, who);
    if (!a->cfg->keep_if_client_gone)
        bh_req_on_gone(req, create_abandoned, p);
    bh_session_create(a->sessions, &opts, created, p);
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

static void list_sessions(struct bh_api *a, bh_req_t *req, const struct bh_identity *who)
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
        if (who->role != BH_ROLE_ADMIN && strcmp(rows[i].owner, who->id))
            continue;
        bh_session_t *s = bh_session_find(a->sessions, rows[i].id);
        json_array_append_new(arr, s ? live_json(a, who, s)
                                     : present(a, who, &rows[i],
                                               bh_session_json(a->sessions, &rows[i])));
    }
    bh_store_rows_free(rows, n);
    reply_json(req, 200, json_pack("{s:o}", "sessions", arr));
}

static void refreshed(void *arg, bh_session_t *s)
{
    struct pending *p = arg;
    reply_json(p->req, 200, live_json(p->a, &p->who, s));
    free(p);
}

/* Reply with the session's JSON; 404 if unknown. */
static void get_session(struct bh_api *a, bh_req_t *req, const char *id,
                        const struct bh_identity *who)
{
    bh_session_t *s = bh_session_find(a->sessions, id);
    if (s) {
        bh_session_refresh(s, refreshed, pending_new(a, req, who));
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
    reply_json(req, 200, present(a, who, &row, bh_session_json(a->sessions, &row)));
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

/* PUT /api/v1/sessions/{id}/files/{name}: the body becomes
 * /tmp/uploads/{name} inside the session (docs/api.md#uploads). */
static void put_file(struct bh_api *a, bh_req_t *req, const char *id, const char *name)
{
    bh_session_t *s = bh_session_find(a->sessions, id);
    if (!s) {
        not_live(a, req, id);
        return;
    }
    int ok = *name && *name != '.' && strlen(name) <= 255;
    for (const char *p = name; *p; p++)
        ok &= isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-';
    if (!ok) {
        reply_error(req, 400, "invalid_name",
                    "a file name is 1-255 of A-Z a-z 0-9 . _ - and does not start with '.'");
        return;
    }
    size_t len = 0;
    const char *body = bh_req_body(req, &len);
    bh_err_t err = BH_ERR_INIT;
    if (bh_session_put_file(s, name, body ? body : "", body ? len : 0, &err) < 0) {
        int e = err.status;
        reply_error(req, e == EAGAIN ? 409 : e == ENOSPC || e == EDQUOT ? 507
                         : e == ELOOP || e == ENOTDIR || e == EISDIR || e == EEXIST ? 409
                                                                                   : 500,
                    e == EAGAIN ? "not_ready" : e == ENOSPC || e == EDQUOT ? "no_space"
                                                                          : "upload_failed",
                    bh_err_msg(&err));
        bh_err_clear(&err);
        return;
    }
    cleanup_free char *path = bh_xasprintf("%s/%s", BH_UPLOAD_DIR, name);
    reply_json(req, 201, json_pack("{s:s, s:I}", "path", path, "size", (json_int_t)len));
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

/* POST /api/v1/sessions/{id}/links {"scope":"view|control|cdp","ttl":S}:
 * a fresh session token of that scope for a live session, and the urls it
 * opens (docs/api.md#links). API tokens only (the route refuses session
 * tokens before this). */
static void create_link(struct bh_api *a, bh_req_t *req, const char *id)
{
    size_t len;
    const char *body = bh_req_body(req, &len);
    json_error_t je;
    json_auto_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j)) {
        reply_error(req, 400, "invalid_json", "the body must be a JSON object");
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        if (strcmp(k, "scope") && strcmp(k, "ttl")) {
            char *msg = bh_xasprintf("unknown field '%.64s' (scope, ttl)", k);
            reply_error(req, 400, "unknown_field", msg);
            free(msg);
            return;
        }
    }
    json_t *js = json_object_get(j, "scope"), *jt = json_object_get(j, "ttl");
    enum bh_scope scope = bh_scope_parse(json_string_value(js));
    if (scope == BH_SCOPE_NONE) {
        reply_error(req, 400, "invalid_field",
                    "scope must be \"view\", \"control\" or \"cdp\"");
        return;
    }
    int ttl = 0;
    if (jt && !json_is_null(jt)) {
        if (!json_is_integer(jt) || json_integer_value(jt) < 1 ||
            json_integer_value(jt) > 86400) {
            reply_error(req, 400, "invalid_field", "ttl must be an integer, 1 to 86400 seconds");
            return;
        }
        ttl = (int)json_integer_value(jt);
    }
    bh_session_t *s = bh_session_find(a->sessions, id);
    if (!s) {
        not_live(a, req, id);
        return;
    }
    const struct bh_session_row *r = bh_session_info(s);
    int64_t exp = 0;
    cleanup_free char *tok = mint_for(a, r, scope, ttl, &exp);
    if (!tok) {
        reply_error(req, 409, "not_running", "the session has reached its ttl");
        return;
    }
    json_auto_t *sj = bh_session_json(a->sessions, r);
    json_t *all = json_object_get(sj, "urls");
    json_t *urls = json_object();
    json_object_foreach(all, k, v)
    {
        if (json_is_string(v) && (url_scopes(k) & scope)) {
            char *u = bh_xasprintf("%s?token=%s", json_string_value(v), tok);
            json_object_set_new(urls, k, json_string(u));
            free(u);
        }
    }
    char *at = bh_time_iso(exp * 1000);
    json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "scope", bh_scope_name(scope), "token", tok,
                          "expiresAt", at, "urls", urls);
    free(at);
    reply_json(req, 201, o);
}

/* ---------------------------------------------------------------- tokens */

static json_t *token_json(const struct bh_token_row *t)
{
    char *created = t->created_at ? bh_time_iso(t->created_at) : NULL;
    json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o}", "id", t->id, "name", t->name, "role",
                          t->role, "maxSessions",
                          t->max_sessions ? json_integer(t->max_sessions) : json_null(),
                          "createdAt", created ? json_string(created) : json_null());
    free(created);
    return o;
}

static void create_token(struct bh_api *a, bh_req_t *req)
{
    size_t len;
    const char *body = bh_req_body(req, &len);
    struct bh_token_opts opts;
    struct bh_invalid why;
    if (bh_validate_token(body, len, &opts, &why) < 0) {
        reply_error(req, 400, why.code, why.msg);
        return;
    }
    enum bh_role role = opts.role;
    json_int_t max = opts.max_sessions;
    const char *name = opts.name;
    if (!strcmp(name, BH_ADMIN_ID)) {
        reply_error(req, 409, "name_taken", "the name 'admin' is the operator's token");
        return;
    }
    struct bh_token_row t;
    memset(&t, 0, sizeof t);
    bh_err_t err = BH_ERR_INIT;
    char *secret = NULL;
    if (bh_random_hex(t.id, 8, &err) < 0 || !(secret = bh_token_generate(&err))) {
        reply_error(req, 500, "internal", bh_err_msg(&err));
        bh_err_clear(&err);
        return;
    }
    snprintf(t.name, sizeof t.name, "%s", name);
    snprintf(t.role, sizeof t.role, "%s", bh_role_name(role));
    bh_sha256_hex(secret, strlen(secret), t.hash);
    t.max_sessions = (int)max;
    t.created_at = bh_now_ms();
    if (bh_store_token_insert(a->store, &t, &err) < 0) {
        int dup = err.status == EEXIST;
        if (dup) {
            char *msg = bh_xasprintf("a token named '%s' exists; revoke it or pick another name",
                                     name);
            reply_error(req, 409, "name_taken", msg);
            free(msg);
        } else {
            reply_error(req, 500, "internal", bh_err_msg(&err));
        }
        bh_err_clear(&err);
        bh_secret_free(secret);
        return;
    }
    bh_keyring_put(a->keys, t.id, t.name, role, t.hash, t.max_sessions);
    bh_log(BH_LOG_INFO, NULL, "token %s (%s, %s) created", t.id, t.name, t.role);
    json_t *o = token_json(&t);
    json_object_set_new(o, "token", json_string(secret));
    bh_secret_free(secret);
    char *s = bh_json_dump(o);
    json_decref(o);
    bh_req_reply(req, 201, "application/json", s, strlen(s), NULL);
    bh_secret_free(s);
}

static void list_tokens(struct bh_api *a, bh_req_t *req)
{
    struct bh_token_row *rows = NULL;
    bh_err_t err = BH_ERR_INIT;
    int n = bh_store_token_list(a->store, &rows, &err);
    if (n < 0) {
        reply_error(req, 500, "internal", bh_err_msg(&err));
        bh_err_clear(&err);
        return;
    }
    json_t *arr = json_array();
    json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:n, s:n, s:b}", "id", BH_ADMIN_ID,
                                         "name", BH_ADMIN_ID, "role", "admin", "maxSessions",
                                         "createdAt", "builtin", 1));
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, token_json(&rows[i]));
    free(rows);
    reply_json(req, 200, json_pack("{s:o}", "tokens", arr));
}

static void revoke_token(struct bh_api *a, bh_req_t *req, const char *id)
{
    if (!strcmp(id, BH_ADMIN_ID)) {
        reply_error(req, 409, "not_revocable",
                    "the operator's admin token cannot be revoked; change it with --token, "
                    "$BULKHEAD_TOKEN or the state dir's token file and restart");
        return;
    }
    bh_err_t err = BH_ERR_INIT;
    int r = bh_store_token_revoke(a->store, id, bh_now_ms(), &err);
    if (r < 0) {
        reply_error(req, 500, "internal", bh_err_msg(&err));
        bh_err_clear(&err);
        return;
    }
    if (!r) {
        reply_error(req, 404, "not_found", "no such token");
        return;
    }
    bh_keyring_remove(a->keys, id);
    bh_log(BH_LOG_INFO, NULL, "token %s revoked", id);
    bh_req_reply(req, 204, "application/json", "", 0, NULL);
}

static void tokens_route(struct bh_api *a, bh_req_t *req, const char *rest)
{
    const char *m = bh_req_method(req);
    int get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
    if (!*rest || !strcmp(rest, "/")) {
        if (!strcmp(m, "POST"))
            create_token(a, req);
        else if (get)
            list_tokens(a, req);
        else
            reply_error(req, 405, "method_not_allowed", "use GET or POST");
        return;
    }
    const char *id = rest + 1;
    size_t n = strlen(id);
    if (*rest != '/' || n < 1 || n > 32 ||
        (strcmp(id, BH_ADMIN_ID) && strspn(id, "0123456789abcdef") != n)) {
        reply_error(req, 404, "not_found", "no such token");
        return;
    }
    if (!strcmp(m, "DELETE"))
        revoke_token(a, req, id);
    else
        reply_error(req, 405, "method_not_allowed", "use DELETE");
}

/* ---------------------------------------------------------------- routing */

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

int bh_api_origin_allowed(const struct bh_config *cfg, const char *origin)
{
    if (!origin)
        return 1;
    const char *base = cfg->public_url;
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    if (strlen(origin) == n && !strncasecmp(origin, base, n))
        return 1;
    char buf[128];
    snprintf(buf, sizeof buf, "http://localhost:%d", cfg->port);
    if (!strcasecmp(origin, buf) && !strcmp(cfg->listen_host, "127.0.0.1"))
        return 1;
    snprintf(buf, sizeof buf, "http://127.0.0.1:%d", cfg->port);
    if (!strcasecmp(origin, buf) && !strcmp(cfg->listen_host, "127.0.0.1"))
        return 1;
    for (int i = 0; i < cfg->nallowed_origins; i++)
        if (!strcasecmp(origin, cfg->allowed_origins[i]))
            return 1;
    return 0;
}

/* Against DNS rebinding: a page of the attacker's name, once that name
 * resolves to this daemon, is same-origin with it and could read every
 * answer. So a request must name the daemon in its Host: an IP address
 * (v4 or [v6], which no DNS answer rebinds), "localhost", --public-url's
 * host, or an --allow-host name; any port. No Host (HTTP/1.0): allowed; a
 * browser always sends one. */
static int host_allowed(struct bh_api *a, const char *host)
{
    if (!host)
        return 1;
    char name[256];
    size_t n;
    if (host[0] == '[') { /* [v6]:port */
        const char *end = strchr(host, ']');
        if (!end || (end[1] && end[1] != ':') || (size_t)(end - host - 1) >= sizeof name)
            return 0;
        n = (size_t)(end - host - 1);
        memcpy(name, host + 1, n);
        name[n] = 0;
        unsigned char a6[16];
        return inet_pton(AF_INET6, name, a6) == 1;
    }
    n = strcspn(host, ":");
    if (n == 0 || n >= sizeof name || (host[n] && strspn(host + n + 1, "0123456789") !=
                                                        strlen(host + n + 1)))
        return 0;
    memcpy(name, host, n);
    name[n] = 0;
    if (n > 1 && name[n - 1] == '.') /* "localhost." is "localhost" */
        name[--n] = 0;
    unsigned char a4[4];
    if (inet_pton(AF_INET, name, a4) == 1 || !strcasecmp(name, "localhost"))
        return 1;
    const char *base = a->cfg->public_url;
    const char *ph = strstr(base, "://") ? strstr(base, "://") + 3 : base;
    size_t pn = strcspn(ph, ":/");
    if (pn == n && !strncasecmp(ph, name, n))
        return 1;
    for (int i = 0; i < a->cfg->nallowed_hosts; i++)
        if (!strcasecmp(name, a->cfg->allowed_hosts[i]))
            return 1;
    return 0;
}

/* 1 after replying 403 if req's Host is not one of the daemon's names. */
static int host_refused(struct bh_api *a, bh_req_t *req)
{
    if (host_allowed(a, bh_req_header(req, "host")))
        return 0;
    reply_error(req, 403, "host_not_allowed",
                "this Host is not a name of this server (DNS rebinding?); the operator can allow "
                "it with --allow-host");
    return 1;
}

/* 1 if the media type ct is application/json (any parameters). */
static int json_media_type(const char *ct)
{
    static const char t[] = "application/json";
    if (!ct || strncasecmp(ct, t, sizeof t - 1))
        return 0;
    ct += sizeof t - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return !*ct || *ct == ';';
}

/* Cross-site request forgery: a page elsewhere may send a POST (as a form
 * or text/plain, which needs no CORS preflight) and the browser adds no
 * token but the request still acts with --no-auth. So a state-changing
 * /api/ request with a body must be JSON (which a page can only send to
 * another origin after a preflight that we never answer), and one that
 * carries an Origin must come from an allowed one. 1 after replying. */
static int forgery_refused(struct bh_api *a, bh_req_t *req)
{
    const char *m = bh_req_method(req);
    if (!strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS"))
        return 0;
    if (!bh_api_origin_allowed(a->cfg, bh_req_header(req, "origin"))) {
        reply_error(req, 403, "origin_not_allowed",
                    "requests from this Origin are not allowed (see --allow-origin)");
        return 1;
    }
    size_t len;
    bh_req_body(req, &len);
    const char *ct = bh_req_header(req, "content-type");
    /* PUT (uploads, any type) is not a method a page may send across
     * origins without a preflight, so its body may be anything */
    if (strcmp(m, "PUT") && (len > 0 || ct) && !json_media_type(ct)) {
        reply_error(req, 415, "unsupported_media_type",
                    "the body must be JSON, sent with Content-Type: application/json");
        return 1;
    }
    return 0;
}

void bh_api_upgrade(void *ctx, bh_req_t *req)
{
    struct bh_api *a = ctx;
    if (host_refused(a, req))
        return;
    if (!bh_api_origin_allowed(a->cfg, bh_req_header(req, "origin"))) {
        reply_error(req, 403, "origin_not_allowed",
                    "WebSocket connections from this Origin are not allowed (see --allow-origin)");
        return;
    }
    char id[33];
    const char *sub = bh_api_session_path(bh_req_path(req), id);
    if (!sub || (strcmp(sub, "/cdp") != 0 && strcmp(sub, "/live") != 0)) {
        reply_error(req, 404, "not_found", "no such WebSocket endpoint");
        return;
    }
    struct bh_identity who;
    if (identify(a, req, CRED_QUERY, &who) == BH_ROLE_NONE) {
        unauthorized(req);
        return;
    }
    int live = !strcmp(sub, "/live");
    if (!may_access(a, req, &who, id, live ? BH_SCOPE_VIEW | BH_SCOPE_CONTROL : BH_SCOPE_CDP))
        return;
    bh_session_t *s = bh_session_find(a->sessions, id);
    if (!s) {
        not_live(a, req, id);
        return;
    }
    /* a "view" session token watches: its viewer's input is refused */
    int input = who.role != BH_ROLE_SCOPED ||
                bh_scoped_verify(a->cfg->secret, who.scoped, id, now_s()) != BH_SCOPE_VIEW;
    if (live)
        bh_session_live_accept(s, req, input);
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
    struct bh_identity who;

    if (host_refused(a, req))
        return;
    if (!strcmp(path, "/healthz") && get) {
        reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
        return;
    }
    if (!strcmp(path, "/metrics") && get) {
        identify(a, req, CRED_HEADER, &who);
        if (admin_refused(req, &who))
            return;
        size_t n;
        char *text = bh_sessions_metrics(a->sessions, &n);
        bh_req_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, n, NULL);
        free(text);
        return;
    }
    if (!strcmp(path, "/readyz") && get) {
        int ready;
        json_t *checks = bh_sessions_readiness(a->sessions, &ready);
        reply_json(req, ready ? 200 : 503,
                   json_pack("{s:s, s:o}", "status", ready ? "ready" : "not_ready", "checks", checks));
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
    if (forgery_refused(a, req))
        return;
    char id[33];
    const char *sub = bh_api_session_path(path, id);
    if (sub && get && (!strcmp(sub, "/json/version") || !strcmp(sub, "/json/version/"))) {
        if (identify(a, req, CRED_QUERY, &who) == BH_ROLE_NONE) {
            unauthorized(req);
            return;
        }
        if (may_access(a, req, &who, id, BH_SCOPE_CDP))
            discovery(a, req, id);
        return;
    }
    if (sub && !*sub && get) {
        /* one session: a session token may read it, also as ?token= */
        if (identify(a, req, CRED_QUERY_SCOPED, &who) == BH_ROLE_NONE) {
            unauthorized(req);
            return;
        }
        if (may_access(a, req, &who, id, BH_SCOPE_VIEW | BH_SCOPE_CONTROL | BH_SCOPE_CDP))
            get_session(a, req, id, &who);
        return;
    }
    if (identify(a, req, CRED_HEADER, &who) == BH_ROLE_NONE) {
        reply_error(req, 401, "unauthorized", "missing or wrong bearer token");
        return;
    }
    if (scoped_refused(req, &who))
        return;
    static const char tprefix[] = "/api/v1/tokens";
    if (!strncmp(path, tprefix, sizeof tprefix - 1) &&
        (!path[sizeof tprefix - 1] || path[sizeof tprefix - 1] == '/')) {
        if (!admin_refused(req, &who))
            tokens_route(a, req, path + sizeof tprefix - 1);
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
            create_session(a, req, &who);
        else if (get)
            list_sessions(a, req, &who);
        else
            reply_error(req, 405, "method_not_allowed", "use GET or POST");
        return;
    }
    if (!sub) {
        reply_error(req, 404, "not_found", *rest == '/' ? "no such session" : "no such path");
        return;
    }
    if (!may_access(a, req, &who, id, BH_SCOPE_NONE))
        return;
    if (!*sub) {
        if (!strcmp(m, "DELETE"))
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
    if (!strncmp(sub, "/files/", 7)) {
        if (!strcmp(m, "PUT"))
            put_file(a, req, id, sub + 7);
        else
            reply_error(req, 405, "method_not_allowed", "use PUT");
        return;
    }
    if (!strcmp(sub, "/links")) {
        if (!strcmp(m, "POST"))
            create_link(a, req, id);
        else
            reply_error(req, 405, "method_not_allowed", "use POST");
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
