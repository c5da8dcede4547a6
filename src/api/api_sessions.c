/* api_sessions.c — see api_sessions.h. */
#include "api/api_sessions.h"
#include "api/validate.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_present.h"
#include "api/api_reply.h"
#include "api/api_who.h"
#include "kinds/kinds.h"
#include "kinds/browser/cdp_proxy.h"

/* A request waiting for the sessions module. */
struct pending {
    struct bh_api *a;
    bh_req_t *req;
    struct bh_identity who;
};

static struct pending *pending_new(struct bh_api *a, bh_req_t *req, const struct bh_identity *who)
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
        bh_api_reply_err(p->req, err, "create_failed");
    } else {
        bh_api_reply_json(p->req, 201, bh_api_live_json(p->a, &p->who, s));
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

void bh_api_create_session(struct bh_api *a, bh_req_t *req, const struct bh_identity *who)
{
    size_t len;
    const char *body = bh_req_body(req, &len);
    struct bh_create_opts opts;
    struct bh_invalid why;
    if (bh_validate_create(body, len, a->cfg, &opts, &why) < 0) {
        bh_api_reply_error(req, 400, why.code, why.msg);
        return;
    }
    /* only the admin may open non-public ranges (beyond the operator's
     * --egress-allow): refused before anything is made */
    if (who->role != BH_ROLE_ADMIN && bh_validate_network_public(&opts, a->cfg, &why) < 0) {
        bh_create_opts_clear(&opts);
        bh_api_reply_error(req, 403, why.code, why.msg);
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
            bh_api_reply_error(req, 429, "quota_exceeded", msg);
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

int bh_api_row_get(struct bh_api *a, const char *id, struct bh_session_row *row, bh_err_t *err)
{
    int found = bh_store_session_get(a->store, id, row, err);
    if (found > 0 && !strcmp(row->owner, BH_POOL_OWNER)) {
        bh_session_row_clear(row);
        memset(row, 0, sizeof *row);
        return 0;
    }
    return found;
}

void bh_api_list_sessions(struct bh_api *a, bh_req_t *req, const struct bh_identity *who)
{
    const char *status = bh_req_query(req, "status");
    if (status && strcmp(status, "starting") && strcmp(status, "ready") &&
        strcmp(status, "ended")) {
        bh_api_reply_error(req, 400, "invalid_field", "status must be starting, ready or ended");
        return;
    }
    struct bh_session_row *rows = NULL;
    bh_err_t err = BH_ERR_INIT;
    int n = bh_store_session_list(a->store, status, &rows, &err);
    if (n < 0) {
        bh_api_reply_error(req, 500, "internal", bh_err_msg(&err));
        bh_err_clear(&err);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        if ((who->role != BH_ROLE_ADMIN && strcmp(rows[i].owner, who->id)) ||
            !strcmp(rows[i].owner, BH_POOL_OWNER))
            continue;
        bh_session_t *s = bh_session_find(a->sessions, rows[i].id);
        json_array_append_new(
            arr, s ? bh_api_live_json(a, who, s)
                   : bh_api_present(a, who, &rows[i], bh_api_session_json(a, &rows[i], NULL)));
    }
    bh_store_rows_free(rows, n);
    bh_api_reply_json(req, 200, json_pack("{s:o}", "sessions", arr));
}

static void refreshed(void *arg, bh_session_t *s)
{
    struct pending *p = arg;
    bh_api_reply_json(p->req, 200, bh_api_live_json(p->a, &p->who, s));
    free(p);
}

void bh_api_get_session(struct bh_api *a, bh_req_t *req, const char *id,
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
    int found = bh_api_row_get(a, id, &row, &err);
    if (found < 0) {
        bh_api_reply_error(req, 500, "internal", bh_err_msg(&err));
        bh_err_clear(&err);
        return;
    }
    if (!found) {
        bh_api_reply_error(req, 404, "not_found", "no such session");
        return;
    }
    bh_api_reply_json(req, 200, bh_api_present(a, who, &row, bh_api_session_json(a, &row, NULL)));
    bh_session_row_clear(&row);
}

void bh_api_not_live(struct bh_api *a, bh_req_t *req, const char *id)
{
    struct bh_session_row row;
    memset(&row, 0, sizeof row);
    int found = bh_api_row_get(a, id, &row, NULL);
    if (found > 0)
        bh_api_reply_error(req, 409, "not_running", "the session has ended");
    else
        bh_api_reply_error(req, 404, "not_found", "no such session");
    if (found > 0)
        bh_session_row_clear(&row);
}

static void deleted(void *arg) { bh_req_reply(arg, 204, "application/json", "", 0, NULL); }

void bh_api_delete_session(struct bh_api *a, bh_req_t *req, const char *id)
{
    bh_session_t *s = bh_session_find(a->sessions, id);
    if (!s) {
        bh_api_not_live(a, req, id);
        return;
    }
    /* One already ending (a crash, a timeout, another DELETE) is waited
     * for: the reply still means everything of it is gone. */
    if (!bh_session_ready(s) && !bh_session_ending(s)) {
        bh_api_reply_error(req, 409, "not_ready", "the session is still starting");
        return;
    }
    bh_session_end(s, "deleted", NULL, deleted, req);
}

void bh_api_events(struct bh_api *a, bh_req_t *req, const char *id)
{
    struct bh_session_row row;
    memset(&row, 0, sizeof row);
    int found = bh_api_row_get(a, id, &row, NULL);
    if (found <= 0) {
        bh_api_reply_error(req, 404, "not_found", "no such session");
        return;
    }
    bh_session_row_clear(&row);
    char *list = NULL;
    bh_err_t err = BH_ERR_INIT;
    if (bh_store_event_list(a->store, id, &list, &err) < 0) {
        bh_api_reply_error(req, 500, "internal", bh_err_msg(&err));
        bh_err_clear(&err);
        return;
    }
    char *body = bh_xasprintf("{\"events\":%s}", list);
    bh_req_reply(req, 200, "application/json", body, strlen(body), NULL);
    free(body);
    free(list);
}

void bh_api_create_link(struct bh_api *a, bh_req_t *req, const char *id)
{
    size_t len;
    const char *body = bh_req_body(req, &len);
    struct bh_link_opts opts;
    struct bh_invalid why;
    if (bh_validate_link(body, len, &opts, &why) < 0) {
        bh_api_reply_error(req, 400, why.code, why.msg);
        return;
    }
    bh_session_t *s = bh_session_find(a->sessions, id);
    if (!s) {
        bh_api_not_live(a, req, id);
        return;
    }
    const struct bh_session_row *r = bh_session_info(s);
    int64_t exp = 0;
    cleanup_free char *tok = bh_api_mint_for(a, r, opts.scope, opts.ttl, &exp);
    if (!tok) {
        bh_api_reply_error(req, 409, "not_running", "the session has reached its ttl");
        return;
    }
    json_auto_t *sj = bh_api_session_json(a, r, NULL);
    const struct bh_kind *kind = bh_session_kind(s);
    json_t *all = json_object_get(sj, "urls");
    json_t *urls = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(all, k, v)
    {
        if (json_is_string(v) && (kind->url_scopes(k) & opts.scope)) {
            char *u = bh_xasprintf("%s?token=%s", json_string_value(v), tok);
            json_object_set_new(urls, k, json_string(u));
            free(u);
        }
    }
    char *at = bh_time_iso(exp * 1000);
    json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "scope", bh_scope_name(opts.scope), "token", tok,
                          "expiresAt", at, "urls", urls);
    free(at);
    bh_api_reply_json(req, 201, o);
}

void bh_api_kind_route(struct bh_api *a, bh_req_t *req, const char *id,
                       const struct bh_identity *who, const struct bh_kind_route *route)
{
    bh_session_t *s = bh_session_find(a->sessions, id);
    if (!s) {
        bh_api_not_live(a, req, id);
        return;
    }
    /* the first kind's route of the path told which credentials count;
     * the session's own kind serves it */
    char id2[33];
    const char *rest = NULL;
    const char *sub = bh_api_session_path(bh_req_path(req), id2);
    const struct bh_kind *kind = bh_session_kind(s);
    const struct bh_kind_route *own = sub ? bh_kind_route_of(kind, route->method, sub, &rest)
                                          : NULL;
    if (!own || own->scopes != route->scopes) {
        const char *other = sub ? bh_kind_path_method(kind, sub) : NULL;
        if (other && !own) {
            char *msg = bh_xasprintf("use %s", other);
            bh_api_reply_error(req, 405, "method_not_allowed", msg);
            free(msg);
        } else {
            bh_api_reply_error(req, 404, "not_found", "this session's kind has no such path");
        }
        return;
    }
    /* a "view" session token watches: input is refused */
    int input = who->role != BH_ROLE_SCOPED ||
                bh_scoped_verify(a->cfg->secret, who->scoped, id, now_s()) != BH_SCOPE_VIEW;
    struct bh_route_call call = {
        .rest = rest,
        .input = input,
        .token = bh_req_query(req, "token"),
        .public_url = a->cfg->public_url,
        .error = bh_api_reply_err,
    };
    own->serve(bh_session_kind_state(s), req, &call);
}
