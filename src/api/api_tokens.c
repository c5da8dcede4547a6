/* api_tokens.c — see api_tokens.h. */
#include "api/api_tokens.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_reply.h"
#include "lib/log.h"
#include "api/validate.h"

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
        bh_api_reply_error(req, 400, why.code, why.msg);
        return;
    }
    enum bh_role role = opts.role;
    json_int_t max = opts.max_sessions;
    const char *name = opts.name;
    if (!strcmp(name, BH_ADMIN_ID)) {
        bh_api_reply_error(req, 409, "name_taken", "the name 'admin' is the operator's token");
        return;
    }
    struct bh_token_row t;
    memset(&t, 0, sizeof t);
    bh_err_t err = BH_ERR_INIT;
    char *secret = NULL;
    if (bh_random_hex(t.id, 8, &err) < 0 || !(secret = bh_token_generate(&err))) {
        bh_api_reply_error(req, 500, "internal", bh_err_msg(&err));
        bh_err_clear(&err);
        return;
    }
    snprintf(t.name, sizeof t.name, "%s", name);
    snprintf(t.role, sizeof t.role, "%s", bh_role_name(role));
    bh_sha256_hex(secret, strlen(secret), t.hash);
    t.max_sessions = (int)max;
    t.created_at = bh_now_ms();
    if (bh_store_token_insert(a->store, &t, &err) < 0) {
        int dup = err.errnum == EEXIST;
        if (dup) {
            char *msg = bh_xasprintf("a token named '%s' exists; revoke it or pick another name",
                                     name);
            bh_api_reply_error(req, 409, "name_taken", msg);
            free(msg);
        } else {
            bh_api_reply_error(req, 500, "internal", bh_err_msg(&err));
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
        bh_api_reply_error(req, 500, "internal", bh_err_msg(&err));
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
    bh_api_reply_json(req, 200, json_pack("{s:o}", "tokens", arr));
}

static void revoke_token(struct bh_api *a, bh_req_t *req, const char *id)
{
    if (!strcmp(id, BH_ADMIN_ID)) {
        bh_api_reply_error(req, 409, "not_revocable",
                           "the operator's admin token cannot be revoked; change it with --token, "
                           "$BULKHEAD_TOKEN or the state dir's token file and restart");
        return;
    }
    bh_err_t err = BH_ERR_INIT;
    int r = bh_store_token_revoke(a->store, id, bh_now_ms(), &err);
    if (r < 0) {
        bh_api_reply_error(req, 500, "internal", bh_err_msg(&err));
        bh_err_clear(&err);
        return;
    }
    if (!r) {
        bh_api_reply_error(req, 404, "not_found", "no such token");
        return;
    }
    bh_keyring_remove(a->keys, id);
    bh_log(BH_LOG_INFO, NULL, "token %s revoked", id);
    bh_req_reply(req, 204, "application/json", "", 0, NULL);
}

void bh_api_tokens_route(struct bh_api *a, bh_req_t *req, const char *rest)
{
    const char *m = bh_req_method(req);
    int get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
    if (!*rest || !strcmp(rest, "/")) {
        if (!strcmp(m, "POST"))
            create_token(a, req);
        else if (get)
            list_tokens(a, req);
        else
            bh_api_reply_error(req, 405, "method_not_allowed", "use GET or POST");
        return;
    }
    const char *id = rest + 1;
    size_t n = strlen(id);
    if (*rest != '/' || n < 1 || n > 32 ||
        (strcmp(id, BH_ADMIN_ID) && strspn(id, "0123456789abcdef") != n)) {
        bh_api_reply_error(req, 404, "not_found", "no such token");
        return;
    }
    if (!strcmp(m, "DELETE"))
        revoke_token(a, req, id);
    else
        bh_api_reply_error(req, 405, "method_not_allowed", "use DELETE");
}
