/* live.h — the live view of one session (docs/live.md): Chromium's
 * screencast of the session's page, fanned out to WebSocket viewers as JPEG
 * frames with per-viewer flow control, and the viewers' input translated to
 * CDP input, navigation and resize commands on that page. */
#ifndef BH_LIVE_H
#define BH_LIVE_H

#include <stddef.h>

#include "kinds/browser/cdp.h"
#include "http/http.h"
#include "lib/json.h"
#include "kinds/browser/live_input.h"
#include "lib/check.h"

typedef struct bh_live bh_live_t;

struct bh_live_hooks {
    void (*activity)(void *arg); /* a viewer sent input */
    void (*viewers_changed)(void *arg, int connected, int total);
    /* the page's URL or title changed (as the live view saw it) */
    void (*page_changed)(void *arg, const char *url, const char *title);
    /* the hello message's extra fields (session id, expiresAt…); new ref */
    json_t *(*hello)(void *arg);
};

bh_live_t *bh_live_new(bh_cdp_t *cdp, const struct bh_live_policy *pol, int width, int height,
                       const struct bh_live_hooks *hooks, void *arg);
/* The page's CDP session (once attached); viewers wait until it is set.
 * Another session id moves the live view to a new page (the old one is
 * gone); "" pauses it until the next call. */
void bh_live_set_page(bh_live_t *lv, const char *cdp_session);
/* Close every viewer (code, reason) and free. */
void bh_live_free(bh_live_t *lv, int code, const char *reason);

/* Accept the upgrade in req as a viewer (inside the http upgrade handler);
 * reads ?quality= and ?maxFps=. input 0 makes a viewer that only watches:
 * every message but "settings" is refused with an error and reaches nothing.
 * 0, or -1 after refusing (400). */
int bh_live_accept(bh_live_t *lv, bh_req_t *req, int input);
/* Offer a browser event: 1 if the live view consumed it. */
int bh_live_event(bh_live_t *lv, json_t *msg);
int bh_live_viewers(const bh_live_t *lv);
/* Set the viewers' page size again (a screenshot restores the size it
 * started with when it ends). */
void bh_live_reapply_viewport(bh_live_t *lv);
/* Frames and bytes sent to viewers so far (for metrics and benchmarks). */
void bh_live_stats(const bh_live_t *lv, unsigned long long *frames, unsigned long long *bytes);

#endif
