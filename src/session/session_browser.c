/* session_browser.c — the browser driver: the daemon's own CDP use of a
 * session's browser. Finding or making its page and attaching to it, the
 * first page's load (and its timeout), a crashed page reloaded, a closed one
 * replaced, the title refresh for GETs, screenshots, and handing CDP clients
 * and live viewers to cdp_proxy and live. */
#include "session/session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

static void session_loaded(struct bh_session *s);
static void attach_to(struct bh_session *s, const char *target_id);
static const char *reply_error(json_t *reply);
static void send_waiting_ops(struct bh_session *s);
static void send_op(struct op *o);

/* The renderer of the session's page died (killed at the memory limit, or
 * crashed): the browser lives on. Say so (event, page error) and load the
 * page again, so the session is usable, rather than keep a dead page. */
static void page_crashed(struct bh_session *s, json_t *params)
{
    const char *status = bh_json_str(params, "status");
    json_t *code = json_object_get(params, "errorCode");
    char cause[160];
    snprintf(cause, sizeof cause, "the page's renderer %s%s (code %lld)%s",
             status && *status ? "ended: " : "crashed", status ? status : "",
             (long long)json_integer_value(code),
             session_oom_killed(s) ? "; the session's memory cgroup has OOM kills" : "");
    bh_log(BH_LOG_WARN, s->row.id, "%s", cause);
    session_event(s, "page_crashed", json_pack("{s:s}", "cause", cause));
    set_str(&s->page_error, cause);
    /* a page that crashes as it loads is not reloaded for ever */
    if (s->cdp_session[0] && ++s->page_crashes <= 3)
        bh_cdp_call(s->cdp, "Page.reload", NULL, s->cdp_session, NULL, NULL);
}

static void replaced_target(void *arg, json_t *reply)
{
    struct bh_session *s = arg;
    if (!reply || s->state == S_ENDING)
        return; /* the browser went away: browser_gone() ends the session */
    const char *tid = bh_json_str(json_object_get(reply, "result"), "targetId");
    if (!tid) {
        const char *e = reply_error(reply);
        char *d = bh_xasprintf("the session's page was closed and a new one could not be opened: %s",
                               e ? e : "no target id");
        bh_log(BH_LOG_WARN, s->row.id, "%s", d);
        session_end(s, "error", d);
        free(d);
        return;
    }
    attach_to(s, tid);
}

/* The daemon's page is gone while the browser lives — a client closed it
 * (Target.closeTarget, Page.close: Playwright waits for the close to happen,
 * so refusing would hang its page.close()), or a script's window.close():
 * open a new blank page in its place, so screenshots and the live view keep
 * working and the session's page state stays true. page_enabled() finishes
 * the swap (the page_replaced event); a failure ends the session with reason
 * "error". */
static void page_lost(struct bh_session *s, const char *cause)
{
    if (s->state == S_ENDING || s->closed_by_client || s->replacing)
        return;
    char old[64];
    snprintf(old, sizeof old, "%s", s->target_id);
    char *was = bh_xstrdup(s->page_url ? s->page_url : s->row.url);
    bh_log(BH_LOG_WARN, s->row.id, "%s (%s): opening a new page", cause, was);
    session_event(s, "page_closed", json_pack("{s:s, s:s}", "cause", cause, "url", was));
    s->replacing = 1;
    s->target_id[0] = 0;
    s->cdp_session[0] = 0;
    s->page_attached = 0;
    s->refreshed_at = 0;
    bh_live_set_page(s->live, "");
    char *err = bh_xasprintf("%s (%s); a new blank page replaced it", cause, was);
    set_str(&s->page_error, err);
    set_str(&s->page_url, NULL);
    set_str(&s->title, "");
    free(err);
    free(was);
    /* a page only detached from the daemon goes too: nobody would show it */
    if (old[0])
        bh_cdp_call(s->cdp, "Target.closeTarget", json_pack("{s:s}", "targetId", old), NULL, NULL,
                    NULL);
    /* a window of its own, like clients' pages: a tab over a client's page
     * would hide that page */
    bh_cdp_call(s->cdp, "Target.createTarget",
                json_pack("{s:s, s:b}", "url", "about:blank", "newWindow", 1), NULL,
                replaced_target, s);
}

void session_on_cdp_event(void *arg, json_t *msg)
{
    struct bh_session *s = arg;
    if (s->proxy && bh_cdp_proxy_event(s->proxy, msg))
        return; /* a client's */
    if (s->live && bh_live_event(s->live, msg))
        return; /* a screencast frame */
    const char *method = bh_json_str(msg, "method");
    if (!method)
        return;
    json_t *params = json_object_get(msg, "params");
    if (!strcmp(method, "Target.targetInfoChanged")) {
        json_t *ti = json_object_get(params, "targetInfo");
        const char *tid = bh_json_str(ti, "targetId");
        if (tid && !strcmp(tid, s->target_id)) {
            set_str(&s->title, bh_json_str(ti, "title"));
            set_str(&s->page_url, bh_json_str(ti, "url"));
        }
    } else if (!strcmp(method, "Target.targetCrashed") && s->state == S_READY) {
        const char *tid = bh_json_str(params, "targetId");
        if (tid && !strcmp(tid, s->target_id))
            page_crashed(s, params);
    } else if (!strcmp(method, "Target.targetDestroyed") && !bh_json_str(msg, "sessionId")) {
        const char *tid = bh_json_str(params, "targetId");
        if (tid && s->target_id[0] && !strcmp(tid, s->target_id))
            page_lost(s, "the session's page was closed");
    } else if (!strcmp(method, "Target.detachedFromTarget") && !bh_json_str(msg, "sessionId")) {
        const char *sid = bh_json_str(params, "sessionId");
        if (sid && s->cdp_session[0] && !strcmp(sid, s->cdp_session))
            page_lost(s, "the session's page was closed");
    } else if (!strcmp(method, "Page.loadEventFired") && s->state == S_STARTING) {
        const char *sid = bh_json_str(msg, "sessionId");
        /* the load of the first page: read its title, then ready */
        if (sid && !strcmp(sid, s->cdp_session) && s->awaiting_load)
            session_loaded(s);
    }
}

static const char *reply_error(json_t *reply)
{
    if (!reply)
        return "browser went away";
    json_t *e = json_object_get(reply, "error");
    if (!e)
        return NULL;
    const char *m = bh_json_str(e, "message");
    return m ? m : "CDP error";
}

static void got_target_info(void *arg, json_t *reply)
{
    struct bh_session *s = arg;
    if (!reply || s->state != S_STARTING)
        return;
    json_t *ti = json_object_get(json_object_get(reply, "result"), "targetInfo");
    if (ti) {
        set_str(&s->title, bh_json_str(ti, "title"));
        set_str(&s->page_url, bh_json_str(ti, "url"));
    }
    session_became_ready(s);
}

static void session_loaded(struct bh_session *s)
{
    s->awaiting_load = 0;
    /* the first page starts the history: no "back" to the blank start */
    if (s->cdp_session[0])
        bh_cdp_call(s->cdp, "Page.resetNavigationHistory", NULL, s->cdp_session, NULL, NULL);
    bh_cdp_call(s->cdp, "Target.getTargetInfo", json_pack("{s:s}", "targetId", s->target_id),
                NULL, got_target_info, s);
}

/* The first page failed to load (the session is ready with the error). */
static void page_load_failed(struct bh_session *s, enum bh_log_level lvl, const char *error)
{
    bh_log(lvl, s->row.id, "%s: %s", s->row.url, error);
    session_event(s, "page_load_failed",
                  json_pack("{s:s, s:s}", "url", s->row.url, "error", error));
    set_str(&s->page_error, error);
}

static void navigated(void *arg, json_t *reply)
{
    struct bh_session *s = arg;
    if (!reply)
        return; /* the browser went away: browser_gone() ends the session */
    if (s->state != S_STARTING)
        return;
    if (!s->awaiting_load)
        return; /* timed out (or replaced) already */
    const char *e = reply_error(reply);
    const char *text = e ? e : bh_json_str(json_object_get(reply, "result"), "errorText");
    if (text && *text) {
        /* the browser works; the page did not load: ready, with the error */
        page_load_failed(s, BH_LOG_INFO, text);
        /* Chromium's error page commits next: its load event makes the
         * session ready (a screenshot amid the commit would fail); the
         * load timer still bounds the wait. An aborted navigation (a
         * download, a 204) commits nothing: ready now. */
        if (e || !strcmp(text, "net::ERR_ABORTED"))
            session_loaded(s);
        return;
    }
}

static void page_enabled(void *arg, json_t *reply)
{
    struct bh_session *s = arg;
    if (!reply)
        return; /* the browser went away: browser_gone() ends the session */
    if (s->state == S_ENDING)
        return;
    const char *e = reply_error(reply);
    if (e) {
        char *d = bh_xasprintf("Page.enable: %s", e);
        session_end(s, "error", d);
        free(d);
        return;
    }
    s->page_attached = 1;
    if (s->replacing) {
        s->replacing = 0;
        session_event(s, "page_replaced",
              json_pack("{s:s, s:s}", "targetId", s->target_id, "url", "about:blank"));
        set_str(&s->page_url, "about:blank");
        if (s->state == S_STARTING && s->awaiting_load) {
            session_loaded(s);
            return;
        }
    }
    if (s->state == S_READY) { /* about:blank: ready before the attach */
        bh_live_set_page(s->live, s->cdp_session);
        send_waiting_ops(s);
        return;
    }
    if (!strcmp(s->row.url, "about:blank") || s->adopting) {
        session_loaded(s);
        return;
    }
    /* The browser is ready: the start slot goes to the next session, and
     * the page gets its own time to load (a page that cannot load is the
     * page's error, not the browser's). */
    bh_timer_cancel(s->start_timer);
    s->m->start_finished(s);
    bh_timer_set(s->load_timer, s->page_load_ms);
    s->awaiting_load = 1;
    bh_cdp_call(s->cdp, "Page.navigate", json_pack("{s:s}", "url", s->row.url), s->cdp_session,
                navigated, s);
}

/* The first page did not load in time: stop it (like the stop button; what
 * did load stays) and be ready with the error. */
void session_load_timeout(void *arg)
{
    struct bh_session *s = arg;
    if (s->state != S_STARTING || !s->awaiting_load)
        return;
    if (s->page_error) { /* it failed already; its error page did not load */
        session_loaded(s);
        return;
    }
    char *e = bh_xasprintf("the page did not finish loading within %d ms", s->page_load_ms);
    page_load_failed(s, BH_LOG_WARN, e);
    free(e);
    if (s->cdp_session[0])
        bh_cdp_call(s->cdp, "Page.stopLoading", NULL, s->cdp_session, NULL, NULL);
    session_loaded(s);
}

static void attached(void *arg, json_t *reply)
{
    struct bh_session *s = arg;
    if (!reply)
        return; /* the browser went away: browser_gone() ends the session */
    if (s->state == S_ENDING)
        return;
    const char *e = reply_error(reply);
    const char *sid = bh_json_str(json_object_get(reply, "result"), "sessionId");
    if (e || !sid) {
        char *d = bh_xasprintf("%sattach to page: %s",
                               s->replacing ? "the session's page was closed and the new one "
                                              "could not be used: "
                                            : "",
                               e ? e : "no session id");
        session_end(s, "error", d);
        free(d);
        return;
    }
    snprintf(s->cdp_session, sizeof s->cdp_session, "%s", sid);
    /* headless windows lose some height to emulated browser chrome: make the
     * page's viewport exactly the size asked for */
    bh_cdp_call(s->cdp, "Emulation.setDeviceMetricsOverride",
                json_pack("{s:i, s:i, s:i, s:b}", "width", s->row.viewport_w, "height",
                          s->row.viewport_h, "deviceScaleFactor", 1, "mobile", 0),
                s->cdp_session, NULL, NULL);
    bh_cdp_call(s->cdp, "Page.enable", NULL, s->cdp_session, page_enabled, s);
}

static void attach_to(struct bh_session *s, const char *target_id)
{
    snprintf(s->target_id, sizeof s->target_id, "%s", target_id);
    bh_cdp_call(s->cdp, "Target.attachToTarget",
                json_pack("{s:s, s:b}", "targetId", target_id, "flatten", 1), NULL, attached, s);
}

static void created_target(void *arg, json_t *reply)
{
    struct bh_session *s = arg;
    if (!reply)
        return; /* the browser went away: browser_gone() ends the session */
    if (s->state != S_STARTING)
        return;
    const char *tid = bh_json_str(json_object_get(reply, "result"), "targetId");
    if (!tid) {
        const char *e = reply_error(reply);
        char *d = bh_xasprintf("create page: %s", e ? e : "no target id");
        session_end(s, "error", d);
        free(d);
        return;
    }
    attach_to(s, tid);
}

static void got_targets(void *arg, json_t *reply)
{
    struct bh_session *s = arg;
    if (!reply)
        return; /* the browser went away: browser_gone() ends the session */
    if (s->state != S_STARTING)
        return;
    const char *e = reply_error(reply);
    if (e) {
        char *d = bh_xasprintf("browser did not answer: %s", e);
        session_end(s, "error", d);
        free(d);
        return;
    }
    json_t *infos = json_object_get(json_object_get(reply, "result"), "targetInfos");
    size_t i;
    json_t *ti;
    json_array_foreach(infos, i, ti)
    {
        const char *type = bh_json_str(ti, "type");
        const char *tid = bh_json_str(ti, "targetId");
        if (type && tid && !strcmp(type, "page")) {
            attach_to(s, tid);
            const char *url = bh_json_str(ti, "url");
            if (s->adopting ||
                (!strcmp(s->row.url, "about:blank") && url && !strcmp(url, "about:blank"))) {
                /* The first page is already loaded: the session is ready
                 * now; the attach completes in the background (daemon
                 * operations wait for it). */
                set_str(&s->title, bh_json_str(ti, "title"));
                set_str(&s->page_url, url);
                session_became_ready(s);
            }
            return;
        }
    }
    bh_cdp_call(s->cdp, "Target.createTarget", json_pack("{s:s}", "url", "about:blank"), NULL,
                created_target, s);
}

static void got_version(void *arg, json_t *reply)
{
    struct bh_session *s = arg;
    s->t_browser = bh_mono_ms();
    json_t *r = json_object_get(reply, "result");
    if (r) {
        json_decref(s->version);
        s->version = json_incref(r);
    }
}

static void unlink_op(struct op *o)
{
    for (struct op **pp = &o->s->ops; *pp; pp = &(*pp)->next)
        if (*pp == o) {
            *pp = o->next;
            break;
        }
}

static void screenshot_reply(void *arg, json_t *reply)
{
    struct op *o = arg;
    struct bh_session *s = o->s;
    const char *e = reply_error(reply);
    const char *data = bh_json_str(json_object_get(reply, "result"), "data");
    if (reply && (e || !data) && strcmp(o->sid, s->cdp_session) != 0) {
        /* its page was closed meanwhile: take it again, of the new page */
        o->sent = 0;
        if (s->page_attached)
            send_op(o);
        return;
    }
    unlink_op(o);
    bh_timer_free(o->timer);
    bh_live_reapply_viewport(s->live);
    bh_err_t err = BH_ERR_INIT;
    if (e || !data) {
        bh_err_set(&err, 0, "screenshot failed: %s", e ? e : "no data");
        o->cb(o->arg, NULL, 0, &err);
        bh_err_clear(&err);
        free(o);
        return;
    }
    int n = (int)strlen(data);
    char *png = bh_xmalloc((size_t)n * 3 / 4 + 4);
    int len = bh_b64_decode(data, n, png, n * 3 / 4 + 4);
    if (len < 8) {
        bh_err_set(&err, 0, "screenshot failed: bad image data");
        o->cb(o->arg, NULL, 0, &err);
        bh_err_clear(&err);
    } else {
        o->cb(o->arg, png, (size_t)len, NULL);
    }
    free(png);
    free(o);
}

static void op_timeout(void *arg)
{
    struct op *o = arg;
    unlink_op(o);
    if (o->s->cdp)
        bh_cdp_forget(o->s->cdp, o);
    bh_timer_free(o->timer);
    bh_err_t err = BH_ERR_INIT;
    bh_err_kind_set(&err, BH_E_TIMEOUT, "the browser did not take the screenshot within 20 s");
    o->cb(o->arg, NULL, 0, &err);
    bh_err_clear(&err);
    free(o);
}

static void send_op(struct op *o)
{
    o->sent = 1;
    snprintf(o->sid, sizeof o->sid, "%s", o->s->cdp_session);
    bh_cdp_call(o->s->cdp, "Page.captureScreenshot", json_pack("{s:s}", "format", "png"),
                o->s->cdp_session, screenshot_reply, o);
}

void bh_session_screenshot(bh_session_t *s, bh_session_png_cb cb, void *arg)
{
    if (s->state != S_READY || !s->cdp) {
        bh_err_t err = BH_ERR_INIT;
        bh_err_kind_set(&err, BH_E_NOT_READY, "session is not ready");
        cb(arg, NULL, 0, &err);
        bh_err_clear(&err);
        return;
    }
    struct op *o = bh_xcalloc(1, sizeof *o);
    o->s = s;
    o->cb = cb;
    o->arg = arg;
    o->next = s->ops;
    s->ops = o;
    o->timer = bh_timer_new(s->m->loop, op_timeout, o);
    bh_timer_set(o->timer, 20000);
    if (s->page_attached)
        send_op(o);
}

static void send_waiting_ops(struct bh_session *s)
{
    for (struct op *o = s->ops; o; o = o->next)
        if (!o->sent)
            send_op(o);
}

/* One answer serves every GET that waits for it. */
static void refresh_reply(void *arg, json_t *reply)
{
    struct bh_session *s = arg;
    s->refresh_inflight = 0;
    json_t *ti = json_object_get(json_object_get(reply, "result"), "targetInfo");
    if (ti) {
        set_str(&s->title, bh_json_str(ti, "title"));
        set_str(&s->page_url, bh_json_str(ti, "url"));
        s->refreshed_at = bh_mono_ms();
    }
    while (s->refreshes)
        session_refresh_done(s->refreshes);
}

static void refresh_timeout(void *arg) { session_refresh_done(arg); }

void bh_session_refresh(bh_session_t *s, void (*cb)(void *arg, bh_session_t *s), void *arg)
{
    /* an answer of the last 250 ms is current enough */
    if (s->state != S_READY || !s->cdp || !s->target_id[0] ||
        (s->refreshed_at && bh_mono_ms() - s->refreshed_at < 250)) {
        cb(arg, s);
        return;
    }
    struct refresh *r = bh_xcalloc(1, sizeof *r);
    r->s = s;
    r->cb = cb;
    r->arg = arg;
    r->timer = bh_timer_new(s->m->loop, refresh_timeout, r);
    r->next = s->refreshes;
    s->refreshes = r;
    /* Title changes reach the browser's event stream late or not at all
     * (the first tab's never do), so ask for the current state. */
    bh_timer_set(r->timer, 1000);
    if (s->refresh_inflight)
        return;
    if (bh_cdp_call(s->cdp, "Target.getTargetInfo", json_pack("{s:s}", "targetId", s->target_id),
                    NULL, refresh_reply, s) < 0) {
        session_refresh_done(r);
        return;
    }
    s->refresh_inflight = 1;
}

void bh_session_cdp_accept(bh_session_t *s, bh_req_t *req)
{
    if (s->state != S_READY || !s->proxy) {
        static const char msg[] = "{\"error\":{\"code\":\"not_ready\",\"message\":"
                                  "\"the session is not ready\"}}";
        bh_req_reply(req, 409, "application/json", msg, sizeof msg - 1, NULL);
        return;
    }
    bh_cdp_proxy_accept(s->proxy, req);
}

void bh_session_live_accept(bh_session_t *s, bh_req_t *req, int input)
{
    if (s->state != S_READY || !s->live) {
        static const char msg[] = "{\"error\":{\"code\":\"not_ready\",\"message\":"
                                  "\"the session is not ready\"}}";
        bh_req_reply(req, 409, "application/json", msg, sizeof msg - 1, NULL);
        return;
    }
    bh_live_accept(s->live, req, input);
}

json_t *bh_session_version_json(bh_session_t *s, const char *ws_url)
{
    if (s->state != S_READY || !s->version)
        return NULL;
    json_t *v = s->version;
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "Browser",
                     bh_json_str(v, "product") ? bh_json_str(v, "product") : "",
                     "Protocol-Version",
                     bh_json_str(v, "protocolVersion") ? bh_json_str(v, "protocolVersion") : "1.3",
                     "User-Agent", bh_json_str(v, "userAgent") ? bh_json_str(v, "userAgent") : "",
                     "V8-Version", bh_json_str(v, "jsVersion") ? bh_json_str(v, "jsVersion") : "",
                     "WebKit-Version",
                     bh_json_str(v, "revision") ? bh_json_str(v, "revision") : "",
                     "webSocketDebuggerUrl", ws_url);
}

/* Start driving a browser whose CDP channel s->cdp was just opened (a new
 * start, or an adoption): target discovery, its version, then its page;
 * the session becomes ready once its page is there. */
void session_browser_begin(struct bh_session *s)
{
    bh_cdp_call(s->cdp, "Target.setDiscoverTargets", json_pack("{s:b}", "discover", 1), NULL,
                NULL, NULL);
    bh_cdp_call(s->cdp, "Browser.getVersion", NULL, NULL, got_version, s);
    bh_cdp_call(s->cdp, "Target.getTargets", NULL, NULL, got_targets, s);
}
