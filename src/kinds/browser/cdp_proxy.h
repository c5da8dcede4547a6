/* cdp_proxy.h — external CDP clients (Playwright, Puppeteer, ...) of one
 * session's browser, multiplexed over the daemon's single pipe.
 *
 * Each client gets a browser-level CDP session of its own
 * (Target.attachToBrowserTarget), so Chromium keeps per-client state apart
 * (discovery, auto-attach); the client never sees that session id — its
 * browser-level commands are sent on it and its events come back without it.
 * Every CDP session the client then attaches to is recorded as its own:
 * replies and events go only to their owner, and a command naming a session
 * the client does not own is refused. Command ids are rewritten to the
 * pipe's id space and restored on the way back. A policy refuses methods
 * that would reach outside the session or break the daemon's control. */
#ifndef BH_CDP_PROXY_H
#define BH_CDP_PROXY_H

#include <stddef.h>

#include "kinds/browser/cdp.h"
#include "http/http.h"
#include "lib/json.h"

typedef struct bh_cdp_proxy bh_cdp_proxy_t;

struct bh_cdp_proxy_hooks {
    void (*activity)(void *arg);      /* a client sent something */
    void (*browser_close)(void *arg); /* a client sent Browser.close */
    void (*clients_changed)(void *arg, int connected, int total);
};

struct bh_cdp_proxy_limits {
    size_t max_queued; /* bytes queued toward one client before it is dropped */
    int max_inflight;  /* commands of one client awaiting replies */
};

bh_cdp_proxy_t *bh_cdp_proxy_new(bh_cdp_t *cdp, const struct bh_cdp_proxy_limits *lim,
                                 const struct bh_cdp_proxy_hooks *hooks, void *arg);
/* Close every client (code, reason) and free. */
void bh_cdp_proxy_free(bh_cdp_proxy_t *p, int code, const char *reason);

/* Accept the WebSocket upgrade in req as a new client (inside the http
 * upgrade handler). Returns 0, or -1 after refusing it. */
int bh_cdp_proxy_accept(bh_cdp_proxy_t *p, bh_req_t *req);

/* Offer a message from the browser that carries no daemon id (an event):
 * 1 if it belonged to a client (and was sent to it), 0 if it is the
 * daemon's. */
int bh_cdp_proxy_event(bh_cdp_proxy_t *p, json_t *msg);

int bh_cdp_proxy_clients(const bh_cdp_proxy_t *p);

/* The policy, an allow-list of domains and methods: NULL if a client may
 * send `msg`, else why not. Checks URLs (web schemes only) and file paths
 * (BH_UPLOAD_DIR only) in parameters. May rewrite msg's params to keep them
 * inside the session (download paths, new windows). */
const char *bh_cdp_policy_check(json_t *msg);

/* 1 if a client may open `url`: http:, https:, about:blank, data: where
 * data_ok, "" where empty_ok; never file:, chrome:, devtools:, … */
int bh_cdp_url_allowed(const char *url, int empty_ok, int data_ok);

/* A client's message parsed and checked, before anything per client
 * (pure; fuzzed): 0 and *out (new reference; params may be rewritten by the
 * policy) if it may go on toward the browser; else the JSON-RPC error code
 * to answer (-32700 not a JSON object, -32600 malformed, -32000 refused by
 * the policy) with why filled, and *out the parsed object (for the reply's
 * id and sessionId) or NULL. Session ownership is checked by the caller. */
int bh_cdp_proxy_filter(const char *data, size_t len, json_t **out, char why[512]);

#define BH_DOWNLOAD_DIR "/tmp/downloads"
/* Files a client may hand to file inputs (DOM.setFileInputFiles). */
#define BH_UPLOAD_DIR "/tmp/uploads"
/* The largest file a client may PUT there (the sandbox's /tmp limits the
 * total). */
#define BH_UPLOAD_MAX (32u << 20)

#endif
