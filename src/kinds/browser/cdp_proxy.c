/* cdp_proxy.c — see cdp_proxy.h.
 *
 * Lifetimes: a client lives from its accepted upgrade until its WebSocket
 * closes (ws_closed) or the proxy is freed. Replies in flight hold a `preq`
 * on the client's list; when the client goes, those are forgotten in the cdp
 * layer and freed, so a late reply finds nobody and is dropped. */
#include "kinds/browser/cdp_proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/util.h"

struct owned {
    struct owned *next;
    char id[72];
};

struct preq;

struct client {
    struct client *next;
    struct bh_cdp_proxy *p;
    bh_ws_t *ws;
    char root[72];         /* the client's browser-level CDP session */
    int attached;          /* root is known */
    json_t *backlog;       /* messages sent before root was known */
    struct owned *owned;   /* CDP sessions the client attached to */
    struct owned *refused; /* sessions on targets no client may attach to */
    struct preq *pending;
    int inflight;
    int closing;
};

struct preq {
    struct preq *next;
    struct client *c;
    json_t *orig_id;
    int attach; /* a Target.attachTo* command: its result names an owned session */
};

struct bh_cdp_proxy {
    bh_cdp_t *cdp;
    struct bh_cdp_proxy_limits lim;
    struct bh_cdp_proxy_hooks hooks;
    void *arg;
    struct client *clients;
    int nclients;
};

/* ---------------------------------------------------------------- policy */

/* An allow-list (docs/security.md lists it, with the reason for each thing
 * left out). A client may call:
 *  - any method of the domains below: they act on the session's own pages
 *    and their data, and Playwright or Puppeteer use them (or they inspect
 *    a page the way those do);
 *  - the methods of Browser and Target named below;
 * and nothing else (unknown and future domains included). Some allowed
 * methods have their parameters checked: URLs must be web URLs, file paths
 * must lie in the session's upload area, CDP sessions must be flat. */
static const char *const open_domains[] = {
    "Accessibility",
    "Animation",
    "Audits",
    "Autofill",
    "BackgroundService",
    "BluetoothEmulation",
    "CacheStorage",
    "Console",
    "CSS",
    "Debugger",
    "DeviceAccess",
    "DeviceOrientation",
    "DOM",
    "DOMDebugger",
    "DOMSnapshot",
    "DOMStorage",
    "Emulation",
    "EventBreakpoints",
    "Fetch",
    "HeapProfiler",
    "IndexedDB",
    "Input",
    "Inspector",
    "IO",
    "LayerTree",
    "Log",
    "Media",
    "Network",
    "Overlay",
    "Page",
    "Performance",
    "PerformanceTimeline",
    "Preload",
    "Profiler",
    "Runtime",
    "Schema",
    "Security",
    "ServiceWorker",
    "Storage",
    "Tracing",
    "WebAudio",
    "WebAuthn",
    "WebMCP",
    NULL,
};

static const char *const open_methods[] = {
    "Browser.getVersion",          "Browser.close",
    "Browser.getWindowForTarget",  "Browser.getWindowBounds",
    "Browser.setWindowBounds",     "Browser.setContentsSize",
    "Browser.setDockTile",         "Browser.setDownloadBehavior",
    "Browser.cancelDownload",      "Browser.grantPermissions",
    "Browser.resetPermissions",    "Browser.setPermission",
    "Target.activateTarget",       "Target.attachToBrowserTarget",
    "Target.attachToTarget",       "Target.closeTarget",
    "Target.createBrowserContext", "Target.createTarget",
    "Target.detachFromTarget",     "Target.disposeBrowserContext",
    "Target.getBrowserContexts",   "Target.getTargetInfo",
    "Target.getTargets",           "Target.setAutoAttach",
    "Target.setDiscoverTargets",   NULL,
};

/* Methods of open domains that stay refused. */
static const char *const refused_methods[] = {
    "Page.crash",                /* kills a renderer, the daemon's page's too */
    "Page.setWebLifecycleState", /* freezes a page: the daemon's would stall */
    NULL,
};

static int listed(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (!strcmp(*list, s))
            return 1;
    return 0;
}

static int domain_open(const char *method)
{
    const char *dot = strchr(method, '.');
    if (!dot)
        return 0;
    size_t n = (size_t)(dot - method);
    for (const char *const *d = open_domains; *d; d++)
        if (strlen(*d) == n && !strncmp(method, *d, n))
            return 1;
    return 0;
}

static int path_inside(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (strncmp(path, dir, n) != 0 || (path[n] != 0 && path[n] != '/'))
        return 0;
    return strstr(path, "/..") == NULL && strstr(path, "//") == NULL;
}

/* 1 if url is one a client may open: http(s), data:, exactly about:blank
 * (with a query or fragment at most), or "" where empty_ok (about:blank).
 * Every other scheme is refused: file:, chrome:, devtools:, view-source:,
 * chrome-extension:, filesystem:, blob:, javascript:… The URL must begin
 * with the scheme itself (case-insensitive): whitespace or control
 * characters before or inside it, which Chromium's URL parser would strip,
 * fail the match, so they cannot hide another scheme. data_ok: data: too. */
int bh_cdp_url_allowed(const char *url, int empty_ok, int data_ok)
{
    if (!url)
        return 0;
    if (!*url)
        return empty_ok;
    if (!strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8))
        return 1;
    if (data_ok && !strncasecmp(url, "data:", 5))
        return 1;
    if (!strncasecmp(url, "about:blank", 11) && (url[11] == 0 || url[11] == '#' || url[11] == '?'))
        return 1;
    return 0;
}

/* Why a URL parameter is refused, or NULL. */
static const char *check_url(json_t *params, const char *key, int empty_ok, int data_ok,
                             int optional)
{
    json_t *v = json_object_get(params, key);
    if (!v)
        return optional ? NULL : "a URL is required";
    if (!json_is_string(v) || !bh_cdp_url_allowed(json_string_value(v), empty_ok, data_ok))
        return data_ok ? "only http:, https:, data: and about:blank URLs may be opened in a "
                         "bulkhead session"
                       : "only http: and https: URLs are allowed here in a bulkhead session";
    return NULL;
}

/* Why a list of file paths is refused, or NULL: each must be a file in the
 * session's upload area. */
static const char *check_files(json_t *files)
{
    if (!files)
        return NULL;
    if (!json_is_array(files))
        return "files must be a list of paths";
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f)
    {
        const char *p = json_string_value(f);
        if (!p || !path_inside(p, BH_UPLOAD_DIR) || !strcmp(p, BH_UPLOAD_DIR))
            return "files must be inside the session's upload area " BH_UPLOAD_DIR
                   " (see docs/api.md#uploads)";
    }
    return NULL;
}

const char *bh_cdp_policy_check(json_t *msg)
{
    const char *method = bh_json_str(msg, "method");
    if (!method)
        return NULL;
    if (listed(refused_methods, method) || (!domain_open(method) && !listed(open_methods, method)))
        return "this method is not allowed in a bulkhead session";
    json_t *params = json_object_get(msg, "params");
    const char *why = NULL;
    if (!strcmp(method, "Target.attachToTarget") || !strcmp(method, "Target.setAutoAttach")) {
        /* only flat sessions: their messages pass through this policy */
        json_t *flat = json_object_get(params, "flatten");
        int attaching = strcmp(method, "Target.setAutoAttach") != 0 ||
                        json_is_true(json_object_get(params, "autoAttach"));
        if (attaching && !json_is_true(flat))
            return "only flat sessions (\"flatten\": true) are allowed in a bulkhead session";
    }
    if (!strcmp(method, "Page.navigate"))
        why = check_url(params, "url", 0, 1, 0);
    else if (!strcmp(method, "Target.createTarget")) {
        why = check_url(params, "url", 1, 1, 0);
        /* Every page in a window of its own: a tab opened over another
         * hides it, and hidden pages stop rendering (screenshots and the
         * live view of the session's page would stall). */
        if (!why && json_is_object(params))
            json_object_set_new(params, "newWindow", json_true());
    } else if (!strcmp(method, "Network.loadNetworkResource"))
        why = check_url(params, "url", 0, 0, 0);
    else if (!strcmp(method, "Fetch.continueRequest") ||
             !strcmp(method, "Network.continueInterceptedRequest"))
        why = check_url(params, "url", 0, 0, 1);
    else if (!strcmp(method, "DOM.setFileInputFiles"))
        why = check_files(json_object_get(params, "files"));
    else if (!strcmp(method, "Input.dispatchDragEvent"))
        why = check_files(json_object_get(json_object_get(params, "data"), "files"));
    if (why)
        return why;
    if (!strcmp(method, "Browser.setDownloadBehavior") ||
        !strcmp(method, "Page.setDownloadBehavior")) {
        const char *path = bh_json_str(params, "downloadPath");
        /* Clients name paths of their own machine (Playwright's artifacts
         * dir); downloads stay inside the session, in its download dir. */
        if (path && !path_inside(path, BH_DOWNLOAD_DIR))
            json_object_set_new(params, "downloadPath", json_string(BH_DOWNLOAD_DIR));
    }
    return NULL;
}

/* ---------------------------------------------------------------- helpers */

static int trace = -1;
static void tr(const char *dir, struct client *c, const char *s)
{
    if (trace < 0)
        trace = getenv("BH_CDP_TRACE") != NULL;
    if (trace)
        fprintf(stderr, "cdp %s %p %.200s\n", dir, (void *)c, s);
}

static void send_json(struct client *c, json_t *msg)
{
    if (c->closing)
        return;
    char *s = json_dumps(msg, JSON_COMPACT);
    if (!s)
        return;
    tr("<<", c, s);
    bh_ws_send(c->ws, s, strlen(s), 0);
    free(s);
    if (bh_ws_queued(c->ws) > c->p->lim.max_queued) {
        c->closing = 1;
        bh_ws_close(c->ws, 1008, "client is not reading its messages", 1);
    }
}

static void send_error(struct client *c, json_t *id, int code, const char *message,
                       const char *session)
{
    json_t *e = json_pack("{s:{s:i, s:s}}", "error", "code", code, "message", message);
    if (id)
        json_object_set(e, "id", id);
    if (session)
        json_object_set_new(e, "sessionId", json_string(session));
    send_json(c, e);
    json_decref(e);
}

static struct owned *find_owned(struct client *c, const char *sid)
{
    for (struct owned *o = c->owned; o; o = o->next)
        if (!strcmp(o->id, sid))
            return o;
    return NULL;
}

static void own(struct client *c, const char *sid)
{
    if (!sid || strlen(sid) >= sizeof c->owned->id || find_owned(c, sid))
        return;
    struct owned *o = bh_xcalloc(1, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", sid);
    o->next = c->owned;
    c->owned = o;
}

static void disown(struct client *c, const char *sid)
{
    if (!sid)
        return;
    for (struct owned **pp = &c->owned; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->id, sid)) {
            struct owned *o = *pp;
            *pp = o->next;
            free(o);
            return;
        }
}

static int listed_owned(struct owned *list, const char *sid)
{
    for (; list && sid; list = list->next)
        if (!strcmp(list->id, sid))
            return 1;
    return 0;
}

/* A target no client may attach to: the browser's own UI (its omnibox
 * popup, which every window has, is a chrome: WebUI page with chrome.send;
 * the managed policy lets the browser load it). Pages that tried to show a
 * blocked URL stay attachable: they show Chromium's error page. */
static int target_refused(json_t *info)
{
    const char *type = bh_json_str(info, "type");
    return type && !strcmp(type, "browser_ui");
}

/* Attached/detached events and attach results change who owns what.
 * Returns 0 if the event must not reach the client (an attach to a refused
 * target, which is detached again at once). */
static int track(struct client *c, json_t *msg)
{
    const char *method = bh_json_str(msg, "method");
    if (!method)
        return 1;
    json_t *params = json_object_get(msg, "params");
    if (!strcmp(method, "Target.attachedToTarget")) {
        const char *sid = bh_json_str(params, "sessionId");
        if (target_refused(json_object_get(params, "targetInfo"))) {
            if (sid && strlen(sid) < sizeof c->owned->id && !listed_owned(c->refused, sid)) {
                struct owned *o = bh_xcalloc(1, sizeof *o);
                snprintf(o->id, sizeof o->id, "%s", sid);
                o->next = c->refused;
                c->refused = o;
            }
            disown(c, sid);
            bh_cdp_call(c->p->cdp, "Target.detachFromTarget",
                        json_pack("{s:s}", "sessionId", sid ? sid : ""), NULL, NULL, NULL);
            return 0;
        }
        own(c, sid);
    } else if (!strcmp(method, "Target.detachedFromTarget")) {
        const char *sid = bh_json_str(params, "sessionId");
        /* A refused session's detach comes after the attach's reply (the
         * browser answers the attach before it takes our detach): forget it. */
        for (struct owned **pp = &c->refused; sid && *pp; pp = &(*pp)->next)
            if (!strcmp((*pp)->id, sid)) {
                struct owned *o = *pp;
                *pp = o->next;
                free(o);
                return 0;
            }
        disown(c, sid);
    }
    return 1;
}

/* ---------------------------------------------------------------- replies */

static void unlink_preq(struct preq *q)
{
    for (struct preq **pp = &q->c->pending; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            break;
        }
    q->c->inflight--;
}

static void on_reply(void *arg, json_t *reply)
{
    struct preq *q = arg;
    struct client *c = q->c;
    unlink_preq(q);
    if (reply) {
        json_object_set(reply, "id", q->orig_id);
        const char *sid = bh_json_str(reply, "sessionId");
        if (sid && !strcmp(sid, c->root))
            json_object_del(reply, "sessionId");
        const char *asid = bh_json_str(json_object_get(reply, "result"), "sessionId");
        if (q->attach && listed_owned(c->refused, asid)) {
            /* (the reply's sessionId, if it was not the root, is still there) */
            send_error(c, q->orig_id, -32000,
                       "'Target.attachToTarget' refused: the browser's own UI cannot be "
                       "attached to in a bulkhead session",
                       bh_json_str(reply, "sessionId"));
            json_decref(q->orig_id);
            free(q);
            return;
        }
        if (q->attach)
            own(c, asid);
        send_json(c, reply);
    }
    json_decref(q->orig_id);
    free(q);
}

/* Forward a checked message of c (stolen). */
static void forward(struct client *c, json_t *msg)
{
    struct bh_cdp_proxy *p = c->p;
    json_t *id = json_object_get(msg, "id");
    const char *method = bh_json_str(msg, "method");
    if (!json_object_get(msg, "sessionId"))
        json_object_set_new(msg, "sessionId", json_string(c->root));
    if (!strcmp(method, "Browser.close") && p->hooks.browser_close)
        p->hooks.browser_close(p->arg);
    struct preq *q = bh_xcalloc(1, sizeof *q);
    q->c = c;
    q->orig_id = json_incref(id);
    q->attach = !strcmp(method, "Target.attachToTarget") ||
                !strcmp(method, "Target.attachToBrowserTarget");
    q->next = c->pending;
    c->pending = q;
    c->inflight++;
    if (bh_cdp_send(p->cdp, msg, on_reply, q) < 0) {
        unlink_preq(q);
        send_error(c, q->orig_id, -32000, "the browser is gone", NULL);
        json_decref(q->orig_id);
        free(q);
    }
}

/* ---------------------------------------------------------------- clients */

int bh_cdp_proxy_filter(const char *data, size_t len, json_t **out, char why[512])
{
    json_error_t jerr;
    json_t *msg = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    *out = NULL;
    if (!msg || !json_is_object(msg)) {
        json_decref(msg);
        snprintf(why, 512, "Message must be a valid JSON object");
        return -32700;
    }
    *out = msg;
    json_t *id = json_object_get(msg, "id");
    json_t *method = json_object_get(msg, "method");
    json_t *sid = json_object_get(msg, "sessionId");
    json_t *params = json_object_get(msg, "params");
    if (!json_is_integer(id) || !json_is_string(method) || (sid && !json_is_string(sid)) ||
        (params && !json_is_object(params))) {
        snprintf(why, 512, "Message must have integer 'id' and string 'method' properties");
        return -32600;
    }
    const char *refused = bh_cdp_policy_check(msg);
    if (refused) {
        snprintf(why, 512, "'%.200s' refused: %s", json_string_value(method), refused);
        return -32000;
    }
    return 0;
}

static int ws_message(void *arg, bh_ws_t *ws, const char *data, size_t len, int binary)
{
    struct client *c = arg;
    struct bh_cdp_proxy *p = c->p;
    if (c->closing)
        return 0;
    tr(">>", c, data);
    if (binary) {
        c->closing = 1;
        bh_ws_close(ws, 1003, "CDP messages are text frames", 1);
        return 0;
    }
    if (p->hooks.activity)
        p->hooks.activity(p->arg);
    json_t *msg;
    char why[512];
    int code = bh_cdp_proxy_filter(data, len, &msg, why);
    json_t *id = json_object_get(msg, "id");
    json_t *sid = json_object_get(msg, "sessionId");
    if (code) {
        send_error(c, json_is_integer(id) ? id : NULL, code, why,
                   code == -32000 ? json_string_value(sid) : NULL);
        json_decref(msg);
        return 0;
    }
    if (sid && !find_owned(c, json_string_value(sid))) {
        send_error(c, id, -32001, "Session with given id not found.", json_string_value(sid));
        json_decref(msg);
        return 0;
    }
    if (c->inflight >= p->lim.max_inflight) {
        send_error(c, id, -32000, "too many commands in flight; wait for replies", NULL);
        json_decref(msg);
        return 0;
    }
    if (!c->attached) {
        json_array_append_new(c->backlog, msg);
        return 0;
    }
    forward(c, msg);
    return 0;
}

static void client_free(struct client *c)
{
    struct bh_cdp_proxy *p = c->p;
    for (struct client **pp = &p->clients; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    p->nclients--;
    bh_cdp_forget(p->cdp, c);
    while (c->pending) {
        struct preq *q = c->pending;
        c->pending = q->next;
        bh_cdp_forget(p->cdp, q);
        json_decref(q->orig_id);
        free(q);
    }
    while (c->owned) {
        struct owned *o = c->owned;
        c->owned = o->next;
        free(o);
    }
    while (c->refused) {
        struct owned *o = c->refused;
        c->refused = o->next;
        free(o);
    }
    json_decref(c->backlog);
    free(c);
}

static void ws_closed(void *arg, bh_ws_t *ws)
{
    struct client *c = arg;
    struct bh_cdp_proxy *p = c->p;
    (void)ws;
    /* the client's own CDP state goes with its browser session */
    if (c->attached)
        bh_cdp_call(p->cdp, "Target.detachFromTarget", json_pack("{s:s}", "sessionId", c->root),
                    NULL, NULL, NULL);
    client_free(c);
    if (p->hooks.clients_changed)
        p->hooks.clients_changed(p->arg, 0, p->nclients);
}

static void root_attached(void *arg, json_t *reply)
{
    struct client *c = arg;
    if (!reply)
        return; /* the browser is gone: the session's end closes the client (1001) */
    const char *sid = bh_json_str(json_object_get(reply, "result"), "sessionId");
    if (!sid || strlen(sid) >= sizeof c->root) {
        c->closing = 1;
        bh_ws_close(c->ws, 1011, "the browser refused a new CDP session", 1);
        return;
    }
    snprintf(c->root, sizeof c->root, "%s", sid);
    c->attached = 1;
    size_t i;
    json_t *m;
    json_array_foreach(c->backlog, i, m) forward(c, json_incref(m));
    json_array_clear(c->backlog);
}

static const struct bh_ws_handlers client_handlers = {
    .message = ws_message,
    .closed = ws_closed,
};

int bh_cdp_proxy_accept(bh_cdp_proxy_t *p, bh_req_t *req)
{
    struct client *c = bh_xcalloc(1, sizeof *c);
    c->p = p;
    c->backlog = json_array();
    c->ws = bh_ws_accept(req, &client_handlers, c);
    if (!c->ws) {
        json_decref(c->backlog);
        free(c);
        return -1;
    }
    c->next = p->clients;
    p->clients = c;
    p->nclients++;
    /* root_attached's arg is the client: client_free forgets it */
    if (bh_cdp_call(p->cdp, "Target.attachToBrowserTarget", NULL, NULL, root_attached, c) < 0) {
        c->closing = 1;
        bh_ws_close(c->ws, 1011, "the browser is gone", 1);
    }
    if (p->hooks.clients_changed)
        p->hooks.clients_changed(p->arg, 1, p->nclients);
    return 0;
}

/* ---------------------------------------------------------------- events */

int bh_cdp_proxy_event(bh_cdp_proxy_t *p, json_t *msg)
{
    const char *sid = bh_json_str(msg, "sessionId");
    if (!sid)
        return 0;
    for (struct client *c = p->clients; c; c = c->next) {
        if (c->attached && !strcmp(sid, c->root)) {
            if (track(c, msg)) {
                json_object_del(msg, "sessionId");
                send_json(c, msg);
            }
            return 1;
        }
        if (find_owned(c, sid)) {
            if (track(c, msg))
                send_json(c, msg);
            return 1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- proxy */

bh_cdp_proxy_t *bh_cdp_proxy_new(bh_cdp_t *cdp, const struct bh_cdp_proxy_limits *lim,
                                 const struct bh_cdp_proxy_hooks *hooks, void *arg)
{
    struct bh_cdp_proxy *p = bh_xcalloc(1, sizeof *p);
    p->cdp = cdp;
    p->lim = *lim;
    if (!p->lim.max_queued)
        p->lim.max_queued = 64u << 20;
    if (!p->lim.max_inflight)
        p->lim.max_inflight = 1000;
    if (hooks)
        p->hooks = *hooks;
    p->arg = arg;
    return p;
}

int bh_cdp_proxy_clients(const bh_cdp_proxy_t *p) { return p ? p->nclients : 0; }

void bh_cdp_proxy_free(bh_cdp_proxy_t *p, int code, const char *reason)
{
    if (!p)
        return;
    while (p->clients) {
        struct client *c = p->clients;
        /* close the connection; its closed callback must not find us */
        bh_ws_close(c->ws, code, reason, 1);
        bh_ws_detach(c->ws);
        client_free(c);
    }
    free(p);
}
