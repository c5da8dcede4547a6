/* api_present.c — see api_present.h. */
#include "api/api_present.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_who.h"
#include "kinds/kinds.h"

static json_t *time_or_null(int64_t ms)
{
    if (!ms)
        return json_null();
    char *t = bh_time_iso(ms);
    json_t *j = json_string(t);
    free(t);
    return j;
}

static json_t *str_or_null(const char *s) { return s && *s ? json_string(s) : json_null(); }

json_t *bh_api_session_json(struct bh_api *a, const struct bh_session_row *r, bh_session_t *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "type", json_string(r->type));
    json_object_set_new(o, "status", json_string(r->status));
    json_object_set_new(o, "createdAt", time_or_null(r->created_at));
    int64_t exp = r->ended_at ? 0 : r->expires_at;
    int64_t idle_at = s ? bh_session_idle_deadline(s) : 0;
    if (idle_at && idle_at < exp) /* the earlier of the ttl and the idle deadline */
        exp = idle_at;
    json_object_set_new(o, "expiresAt", time_or_null(exp));
    json_object_set_new(o, "endedAt", time_or_null(r->ended_at));
    json_object_set_new(o, "endReason", str_or_null(r->end_reason));
    json_object_set_new(o, "endDetail", str_or_null(r->end_detail));
    json_object_set_new(o, "limits",
                        json_pack("{s:I, s:I, s:f}", "memoryBytes", (json_int_t)r->memory_bytes,
                                  "pids", (json_int_t)r->pids_max, "cpus", r->cpus));
    json_object_set_new(o, "idleTimeout", json_integer(r->idle_timeout));
    json_object_set_new(o, "ttl", json_integer(r->ttl));
    json_object_set_new(o, "sandbox",
                        r->container_id[0] ? json_pack("{s:s, s:s, s:i}", "runtime", r->runtime,
                                                       "id", r->container_id, "pid", r->pid)
                                           : json_null());
    json_t *net = r->network ? json_loads(r->network, 0, NULL) : NULL;
    if (!json_is_object(net)) {
        json_decref(net);
        net = json_pack("{s:s}", "policy", "internet");
    }
    json_object_set_new(net, "address", r->addr[0] ? json_string(r->addr) : json_null());
    json_object_set_new(o, "network", net);
    const struct bh_kind *kind = bh_kind_find(r->type);
    if (kind)
        kind->json(s ? bh_session_kind_state(s) : NULL, r, a->cfg->public_url, o);
    return o;
}

json_t *bh_api_present(struct bh_api *a, const struct bh_identity *who,
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
        control = bh_api_mint_for(a, r, BH_SCOPE_CONTROL, 0, NULL);
        cdp = bh_api_mint_for(a, r, BH_SCOPE_CDP, 0, NULL);
    }
    const struct bh_kind *kind = bh_kind_find(r->type);
    json_t *urls = json_object_get(o, "urls");
    const char *k;
    json_t *v;
    json_object_foreach(urls, k, v)
    {
        if (!json_is_string(v))
            continue;
        unsigned opens = kind ? kind->url_scopes(k) : 0;
        const char *tok = who->role == BH_ROLE_SCOPED ? (own & opens ? who->scoped : NULL)
                          : opens & BH_SCOPE_CDP      ? cdp
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

json_t *bh_api_live_json(struct bh_api *a, const struct bh_identity *who, bh_session_t *s)
{
    return bh_api_present(a, who, bh_session_info(s),
                          bh_api_session_json(a, bh_session_info(s), s));
}
