/* api_present.c — see api_present.h. */
#include "api/api_present.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_who.h"

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
    json_t *urls = json_object_get(o, "urls");
    const char *k;
    json_t *v;
    json_object_foreach(urls, k, v)
    {
        if (!json_is_string(v))
            continue;
        const char *tok = who->role == BH_ROLE_SCOPED
                              ? (own & bh_api_url_scopes(k) ? who->scoped : NULL)
                          : !strcmp(k, "cdp") ? cdp
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
    return bh_api_present(a, who, bh_session_info(s), bh_session_live_json(s));
}
