/* cdp_proxy.c — see cdp_proxy.h.
 *
 * Lifetimes: a client lives from its accepted upgrade until its WebSocket
 * closes (ws_closed) or the proxy is freed. Replies in flight hold a `preq`
 * on the client's list; when the client goes, those are forgotten in the cdp
 * layer and freed, so a late reply finds nobody and is dropped. */
#include "cdp_proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

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

/* Methods no client may call: they reach outside the session (remote
 * connections, the host's devtools frontend, port forwarding) or take the
 * browser's control away from the daemon. */
static const char *const refused_methods[] = {
    "Target.exposeDevToolsProtocol", /* gives page scripts a CDP binding */
    "Target.setRemoteLocations",     /* makes the browser dial out to debuggers */
    "Target.openDevTools",
    "Browser.crash",
    "Browser.crashGpuProcess",
    "Browser.executeBrowserCommand",
    /* non-flat sessions would carry any command past this policy */
    "Target.sendMessageToTarget",
    NULL,
};

static const char *const refused_domains[] = {
    "Tethering.", /* binds ports in the browser */
    "SystemInfo.",
    NULL,
};

static int path_inside(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (strncmp(path, dir, n) != 0 || (path[n] != 0 && path[n] != '/'))
        return 0;
    return strstr(path, "/..") == NULL;
}

const char *bh_cdp_policy_check(json_t *msg)
{
    const char *method = bh_json_str(msg, "method");
    if (!method)
        return NULL;
    for (const char *const *m = refused_methods; *m; m++) {
        if (!strcmp(method, *m))
            return "this method is not allowed in a bulkhead session";
    }
    for (const char *const *d = refused_domains; *d; d++)
        if (!strncmp(method, *d, strlen(*d)))
            return "this domain is not allowed in a bulkhead session";
    if (!strcmp(method, "Target.attachToTarget") || !strcmp(method, "Target.setAutoAttach") ||
        !strcmp(method, "Target.attachToBrowserTarget")) {
        /* only flat sessions: their messages pass through this policy */
        json_t *params = json_object_get(msg, "params");
        json_t *flat = json_object_get(params, "flatten");
        int attaching = strcmp(method, "Target.setAutoAttach") != 0 ||
                        json_is_true(json_object_get(params, "autoAttach"));
        if (strcmp(method, "Target.attachToBrowserTarget") != 0 && attaching && !json_is_true(flat))
            return "only flat sessions (\"flatten\": true) are allowed in a bulkhead session";
    }
    if (!strcmp(method, "Target.createTarget")) {
        /* Every page in a window of its own: a tab opened over another
         * hides it, and hidden pages stop rendering (screenshots and the
         * live view of the session's page would stall). */
        json_t *params = json_object_get(msg, "params");
        if (json_is_object(params))
            json_object_set_new(params, "newWindow", json_true());
    }
    if (!strcmp(method, "Browser.setDownloadBehavior") ||
        !strcmp(method, "Page.setDownloadBehavior")) {
        json_t *params = json_object_get(msg, "params");
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

/* Attached/detached events and attach results change who owns what. */
static void track(struct client *c, json_t *msg)
{
    const char *method = bh_json_str(msg, "method");
    if (!method)
        return;
    json_t *params = json_object_get(msg, "params");
    if (!strcmp(method, "Target.attachedToTarget"))
        own(c, bh_json_str(params, "sessionId"));
    else if (!strcmp(method, "Target.detachedFromTarget"))
        disown(c, bh_json_str(params, "sessionId"));
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
        if (q->attach)
            own(c, bh_json_str(json_object_get(reply, "result"), "sessionId"));
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
            track(c, msg);
            json_object_del(msg, "sessionId");
            send_json(c, msg);
            return 1;
        }
        if (find_owned(c, sid)) {
            track(c, msg);
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
