/* api_present.h — a session as JSON for its caller: what each role sees of
 * it (the owner, for admins) and the session tokens its urls carry.
 * Internal to the api modules. */
#ifndef BH_API_PRESENT_H
#define BH_API_PRESENT_H

#include "api/api_int.h"

/* The API's JSON object of a session: from its row r, and its live state
 * when s (the live session of r, or NULL) is given; the kind adds its own
 * fields (kinds/kind.h). Caller owns the result. */
json_t *bh_api_session_json(struct bh_api *a, const struct bh_session_row *r, bh_session_t *s);
/* A session's JSON as who may see it: the owner for admins, and urls that
 * carry a session token while the session is live — for an API token fresh
 * ones, a "control" token in urls.view and urls.live and a "cdp" token in
 * urls.cdp; a session-token caller gets its own token back (so a link
 * cannot extend itself) in the urls its scope opens, and null for the
 * others. Takes o. */
json_t *bh_api_present(struct bh_api *a, const struct bh_identity *who,
                       const struct bh_session_row *r, json_t *o);
/* bh_api_present of live session s's JSON. */
json_t *bh_api_live_json(struct bh_api *a, const struct bh_identity *who, bh_session_t *s);

#endif
