/* driver.c — the browser driver: the daemon's own CDP use of a session's
 * browser. Finding or making its page and attaching to it, the first
 * page's load (and its timeout), a crashed page reloaded, a closed one
 * replaced, the title refresh for GETs, screenshots, and CDP clients and
 * live viewers (cdp_proxy, live) once the session is ready. */
#include "kinds/browser/browser_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>

#include "lib/log.h"

static void session_loaded(struct browser *b);
static void attach_to(struct browser *b, const char *target_id);
static const char *reply_error(json_t *reply);
static void send_waiting_ops(struct browser *b);
static void send_op(struct op *o);
static void refresh_done(struct refresh *r);

/* The renderer of the session's page died (killed at the memory limit, or
 * crashed): the browser lives on. Say so (event, page error) and load the
 * page again, so the session is usable, rather than keep a dead page. */
static void page_crashed(struct browser *b, json_t *params)
{
    const char *status = bh_json_str(params, "status");
    json_t *code = json_object_get(params, "errorCode");
    char cause[160];
    snprintf(cause, sizeof cause, "the page's renderer %s%s (code %lld)%s",
             status && *status ? "ended: " : "crashed", status ? status : "",
             (long long)json_integer_value(code),
             b->so->oom_kills(b->s) > 0 ? "; the session's memory cgroup has OOM kills" : "");
    bh_log(BH_LOG_WARN, b->so->info(b->s)->id, "%s", cause);
    b->so->event(b->s, "page_crashed", json_pack("{s:s}", "cause", cause));
    set_str(&b->page_error, cause);
    /* a page that crashes as it loads is not reloaded for ever */
    if (b->cdp_session[0] && ++b->page_crashes <= 3)
        bh_cdp_call(b->cdp, "Page.reload", NULL, b->cdp_session, NULL, NULL);
}

static void replaced_target(void *arg, json_t *reply)
{
    struct browser *b = arg;
    if (!reply || b->so->state(b->s) == BH_STATE_ENDING)
        return; /* the browser went away: browser_gone() ends the session */
    const char *tid = bh_json_str(json_object_get(reply, "result"), "targetId");
    if (!tid) {
        const char *e = reply_error(reply);
        char *d = bh_xasprintf(
            "the session's page was closed and a new one could not be opened: %s",
            e ? e : "no target id");
        bh_log(BH_LOG_WARN, b->so->info(b->s)->id, "%s", d);
        b->so->kind_failed(b->s, "error", d);
        free(d);
        return;
    }
    attach_to(b, tid);
}

/* The daemon's page is gone while the browser lives — a client closed it
 * (Target.closeTarget, Page.close: Playwright waits for the close to happen,
 * so refusing would hang its page.close()), or a script's window.close():
 * open a new blank page in its place, so screenshots and the live view keep
 * working and the session's page state stays true. page_enabled() finishes
 * the swap (the page_replaced event); a failure ends the session with reason
 * "error". */
static void page_lost(struct browser *b, const char *cause)
{
    if (b->so->state(b->s) == BH_STATE_ENDING || b->closed_by_client || b->replacing)
        return;
    char old[64];
    snprintf(old, sizeof old, "%s", b->target_id);
    char *was = bh_xstrdup(b->page_url ? b->page_url : b->so->info(b->s)->url);
    bh_log(BH_LOG_WARN, b->so->info(b->s)->id, "%s (%s): opening a new page", cause, was);
    b->so->event(b->s, "page_closed", json_pack("{s:s, s:s}", "cause", cause, "url", was));
    b->replacing = 1;
    b->target_id[0] = 0;
    b->cdp_session[0] = 0;
    b->page_attached = 0;
    b->refreshed_at = 0;
    bh_live_set_page(b->live, "");
    char *err = bh_xasprintf("%s (%s); a new blank page replaced it", cause, was);
    set_str(&b->page_error, err);
    set_str(&b->page_url, NULL);
    set_str(&b->title, "");
    free(err);
    free(was);
    /* a page only detached from the daemon goes too: nobody would show it */
    if (old[0])
        bh_cdp_call(b->cdp, "Target.closeTarget", json_pack("{s:s}", "targetId", old), NULL, NULL,
                    NULL);
    /* a window of its own, like clients' pages: a tab over a client's page
     * would hide that page */
    bh_cdp_call(b->cdp, "Target.createTarget",
                json_pack("{s:s, s:b}", "url", "about:blank", "newWindow", 1), NULL,
                replaced_target, b);
}

static void on_event(void *arg, json_t *msg)
{
    struct browser *b = arg;
    if (b->proxy && bh_cdp_proxy_event(b->proxy, msg))
        return; /* a client's */
    if (b->live && bh_live_event(b->live, msg))
        return; /* a screencast frame */
    const char *method = bh_json_str(msg, "method");
    if (!method)
        return;
    json_t *params = json_object_get(msg, "params");
    if (!strcmp(method, "Target.targetInfoChanged")) {
        json_t *ti = json_object_get(params, "targetInfo");
        const char *tid = bh_json_str(ti, "targetId");
        if (tid && !strcmp(tid, b->target_id)) {
            set_str(&b->title, bh_json_str(ti, "title"));
            set_str(&b->page_url, bh_json_str(ti, "url"));
        }
    } else if (!strcmp(method, "Target.targetCrashed") && b->so->state(b->s) == BH_STATE_READY) {
        const char *tid = bh_json_str(params, "targetId");
        if (tid && !strcmp(tid, b->target_id))
            page_crashed(b, params);
    } else if (!strcmp(method, "Target.targetDestroyed") && !bh_json_str(msg, "sessionId")) {
        const char *tid = bh_json_str(params, "targetId");
        if (tid && b->target_id[0] && !strcmp(tid, b->target_id))
            page_lost(b, "the session's page was closed");
    } else if (!strcmp(method, "Target.detachedFromTarget") && !bh_json_str(msg, "sessionId")) {
        const char *sid = bh_json_str(params, "sessionId");
        if (sid && b->cdp_session[0] && !strcmp(sid, b->cdp_session))
            page_lost(b, "the session's page was closed");
    } else if (!strcmp(method, "Page.loadEventFired") && b->so->state(b->s) == BH_STATE_STARTING) {
        const char *sid = bh_json_str(msg, "sessionId");
        /* the load of the first page: read its title, then ready */
        if (sid && !strcmp(sid, b->cdp_session) && b->awaiting_load)
            session_loaded(b);
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
    struct browser *b = arg;
    if (!reply || b->so->state(b->s) != BH_STATE_STARTING)
        return;
    json_t *ti = json_object_get(json_object_get(reply, "result"), "targetInfo");
    if (ti) {
        set_str(&b->title, bh_json_str(ti, "title"));
        set_str(&b->page_url, bh_json_str(ti, "url"));
    }
    bh_timer_cancel(b->load_timer);
    b->so->phase(b->s, b->start_navigated ? "navigation" : "attach");
    b->so->kind_ready(b->s);
}

static void session_loaded(struct browser *b)
{
    b->awaiting_load = 0;
    /* the first page starts the history: no "back" to the blank start */
    if (b->cdp_session[0])
        bh_cdp_call(b->cdp, "Page.resetNavigationHistory", NULL, b->cdp_session, NULL, NULL);
    bh_cdp_call(b->cdp, "Target.getTargetInfo", json_pack("{s:s}", "targetId", b->target_id), NULL,
                got_target_info, b);
}

/* The first page failed to load (the session is ready with the error). */
static void page_load_failed(struct browser *b, enum bh_log_level lvl, const char *error)
{
    bh_log(lvl, b->so->info(b->s)->id, "%s: %s", b->so->info(b->s)->url, error);
    b->so->event(b->s, "page_load_failed",
                 json_pack("{s:s, s:s}", "url", b->so->info(b->s)->url, "error", error));
    set_str(&b->page_error, error);
}

static void navigated(void *arg, json_t *reply)
{
    struct browser *b = arg;
    if (!reply)
        return; /* the browser went away: browser_gone() ends the session */
    if (b->so->state(b->s) != BH_STATE_STARTING)
        return;
    if (!b->awaiting_load)
        return; /* timed out (or replaced) already */
    const char *e = reply_error(reply);
    const char *text = e ? e : bh_json_str(json_object_get(reply, "result"), "errorText");
    if (text && *text) {
        /* the browser works; the page did not load: ready, with the error */
        page_load_failed(b, BH_LOG_INFO, text);
        /* Chromium's error page commits next: its load event makes the
         * session ready (a screenshot amid the commit would fail); the
         * load timer still bounds the wait. An aborted navigation (a
         * download, a 204) commits nothing: ready now. */
        if (e || !strcmp(text, "net::ERR_ABORTED"))
            session_loaded(b);
        return;
    }
}

static void page_enabled(void *arg, json_t *reply)
{
    struct browser *b = arg;
    if (!reply)
        return; /* the browser went away: browser_gone() ends the session */
    if (b->so->state(b->s) == BH_STATE_ENDING)
        return;
    const char *e = reply_error(reply);
    if (e) {
        char *d = bh_xasprintf("Page.enable: %s", e);
        b->so->kind_failed(b->s, "error", d);
        free(d);
        return;
    }
    b->page_attached = 1;
    if (b->replacing) {
        b->replacing = 0;
        b->so->event(b->s, "page_replaced",
                     json_pack("{s:s, s:s}", "targetId", b->target_id, "url", "about:blank"));
        set_str(&b->page_url, "about:blank");
        if (b->so->state(b->s) == BH_STATE_STARTING && b->awaiting_load) {
            session_loaded(b);
            return;
        }
    }
    if (b->so->state(b->s) == BH_STATE_READY) { /* about:blank: ready before the attach */
        bh_live_set_page(b->live, b->cdp_session);
        send_waiting_ops(b);
        return;
    }
    if (!strcmp(b->so->info(b->s)->url, "about:blank") || b->adopted) {
        session_loaded(b);
        return;
    }
    /* The browser is ready: the start slot goes to the next session, and
     * the page gets its own time to load (a page that cannot load is the
     * page's error, not the browser's). */
    b->so->phase(b->s, "attach");
    b->so->kind_up(b->s);
    bh_timer_set(b->load_timer, b->page_load_ms);
    b->awaiting_load = 1;
    b->start_navigated = 1;
    bh_cdp_call(b->cdp, "Page.navigate", json_pack("{s:s}", "url", b->so->info(b->s)->url),
                b->cdp_session, navigated, b);
}

void browser_claimed(struct browser *b)
{
    const char *url = b->so->info(b->s)->url;
    set_str(&b->page_error, NULL);
    b->page_crashes = 0;
    if (!strcmp(url, "about:blank")) { /* the page it has */
        b->so->phase(b->s, "attach");
        b->so->kind_ready(b->s);
        return;
    }
    bh_timer_set(b->load_timer, b->page_load_ms);
    b->awaiting_load = 1;
    b->start_navigated = 1;
    bh_cdp_call(b->cdp, "Page.navigate", json_pack("{s:s}", "url", url), b->cdp_session, navigated,
                b);
}

/* The first page did not load in time: stop it (like the stop button; what
 * did load stays) and be ready with the error. */
void browser_load_timeout(void *arg)
{
    struct browser *b = arg;
    if (b->so->state(b->s) != BH_STATE_STARTING || !b->awaiting_load)
        return;
    if (b->page_error) { /* it failed already; its error page did not load */
        session_loaded(b);
        return;
    }
    char *e = bh_xasprintf("the page did not finish loading within %d ms", b->page_load_ms);
    page_load_failed(b, BH_LOG_WARN, e);
    free(e);
    if (b->cdp_session[0])
        bh_cdp_call(b->cdp, "Page.stopLoading", NULL, b->cdp_session, NULL, NULL);
    session_loaded(b);
}

static void attached(void *arg, json_t *reply)
{
    struct browser *b = arg;
    if (!reply)
        return; /* the browser went away: browser_gone() ends the session */
    if (b->so->state(b->s) == BH_STATE_ENDING)
        return;
    const char *e = reply_error(reply);
    const char *sid = bh_json_str(json_object_get(reply, "result"), "sessionId");
    if (e || !sid) {
        char *d = bh_xasprintf("%sattach to page: %s",
                               b->replacing ? "the session's page was closed and the new one "
                                              "could not be used: "
                                            : "",
                               e ? e : "no session id");
        b->so->kind_failed(b->s, "error", d);
        free(d);
        return;
    }
    snprintf(b->cdp_session, sizeof b->cdp_session, "%s", sid);
    /* headless windows lose some height to emulated browser chrome: make the
     * page's viewport exactly the size asked for */
    bh_cdp_call(b->cdp, "Emulation.setDeviceMetricsOverride",
                json_pack("{s:i, s:i, s:i, s:b}", "width", b->so->info(b->s)->viewport_w, "height",
                          b->so->info(b->s)->viewport_h, "deviceScaleFactor", 1, "mobile", 0),
                b->cdp_session, NULL, NULL);
    bh_cdp_call(b->cdp, "Page.enable", NULL, b->cdp_session, page_enabled, b);
}

static void attach_to(struct browser *b, const char *target_id)
{
    snprintf(b->target_id, sizeof b->target_id, "%s", target_id);
    bh_cdp_call(b->cdp, "Target.attachToTarget",
                json_pack("{s:s, s:b}", "targetId", target_id, "flatten", 1), NULL, attached, b);
}

static void created_target(void *arg, json_t *reply)
{
    struct browser *b = arg;
    if (!reply)
        return; /* the browser went away: browser_gone() ends the session */
    if (b->so->state(b->s) != BH_STATE_STARTING)
        return;
    const char *tid = bh_json_str(json_object_get(reply, "result"), "targetId");
    if (!tid) {
        const char *e = reply_error(reply);
        char *d = bh_xasprintf("create page: %s", e ? e : "no target id");
        b->so->kind_failed(b->s, "error", d);
        free(d);
        return;
    }
    attach_to(b, tid);
}

static void got_targets(void *arg, json_t *reply)
{
    struct browser *b = arg;
    if (!reply)
        return; /* the browser went away: browser_gone() ends the session */
    if (b->so->state(b->s) != BH_STATE_STARTING)
        return;
    const char *e = reply_error(reply);
    if (e) {
        char *d = bh_xasprintf("browser did not answer: %s", e);
        b->so->kind_failed(b->s, "error", d);
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
            attach_to(b, tid);
            const char *url = bh_json_str(ti, "url");
            if (b->adopted || (!strcmp(b->so->info(b->s)->url, "about:blank") && url &&
                               !strcmp(url, "about:blank"))) {
                /* The first page is already loaded: the session is ready
                 * now; the attach completes in the background (daemon
                 * operations wait for it). */
                set_str(&b->title, bh_json_str(ti, "title"));
                set_str(&b->page_url, url);
                b->so->phase(b->s, "attach");
                b->so->kind_ready(b->s);
            }
            return;
        }
    }
    bh_cdp_call(b->cdp, "Target.createTarget", json_pack("{s:s}", "url", "about:blank"), NULL,
                created_target, b);
}

static void got_version(void *arg, json_t *reply)
{
    struct browser *b = arg;
    b->so->phase(b->s, "browser");
    json_t *r = json_object_get(reply, "result");
    if (r) {
        json_decref(b->version);
        b->version = json_incref(r);
    }
}

static void unlink_op(struct op *o)
{
    for (struct op **pp = &o->b->ops; *pp; pp = &(*pp)->next)
        if (*pp == o) {
            *pp = o->next;
            break;
        }
}

static void screenshot_reply(void *arg, json_t *reply)
{
    struct op *o = arg;
    struct browser *b = o->b;
    const char *e = reply_error(reply);
    const char *data = bh_json_str(json_object_get(reply, "result"), "data");
    if (reply && (e || !data) && strcmp(o->sid, b->cdp_session) != 0) {
        /* its page was closed meanwhile: take it again, of the new page */
        o->sent = 0;
        if (b->page_attached)
            send_op(o);
        return;
    }
    unlink_op(o);
    bh_timer_free(o->timer);
    bh_live_reapply_viewport(b->live);
    bh_err_t err = BH_ERR_INIT;
    if (e || !data) {
        bh_err_set(&err, 0, "screenshot failed: %s", e ? e : "no data");
        o->error(o->req, &err, "screenshot_failed");
        bh_err_clear(&err);
        free(o);
        return;
    }
    int n = (int)strlen(data);
    char *png = bh_xmalloc((size_t)n * 3 / 4 + 4);
    int len = bh_b64_decode(data, n, png, n * 3 / 4 + 4);
    if (len < 8) {
        bh_err_set(&err, 0, "screenshot failed: bad image data");
        o->error(o->req, &err, "screenshot_failed");
        bh_err_clear(&err);
    } else {
        bh_req_reply(o->req, 200, "image/png", png, (size_t)len, NULL);
    }
    free(png);
    free(o);
}

static void op_timeout(void *arg)
{
    struct op *o = arg;
    unlink_op(o);
    if (o->b->cdp)
        bh_cdp_forget(o->b->cdp, o);
    bh_timer_free(o->timer);
    bh_err_t err = BH_ERR_INIT;
    bh_err_kind_set(&err, BH_E_TIMEOUT, "the browser did not take the screenshot within 20 s");
    o->error(o->req, &err, "screenshot_failed");
    bh_err_clear(&err);
    free(o);
}

static void send_op(struct op *o)
{
    o->sent = 1;
    snprintf(o->sid, sizeof o->sid, "%s", o->b->cdp_session);
    bh_cdp_call(o->b->cdp, "Page.captureScreenshot", json_pack("{s:s}", "format", "png"),
                o->b->cdp_session, screenshot_reply, o);
}

void browser_screenshot(struct browser *b, bh_req_t *req,
                        void (*error)(bh_req_t *req, const bh_err_t *err, const char *code))
{
    if (b->so->state(b->s) != BH_STATE_READY || !b->cdp) {
        bh_err_t err = BH_ERR_INIT;
        bh_err_kind_set(&err, BH_E_NOT_READY, "session is not ready");
        error(req, &err, "screenshot_failed");
        bh_err_clear(&err);
        return;
    }
    struct op *o = bh_xcalloc(1, sizeof *o);
    o->b = b;
    o->req = req;
    o->error = error;
    o->next = b->ops;
    b->ops = o;
    o->timer = bh_timer_new(b->so->loop(b->s), op_timeout, o);
    bh_timer_set(o->timer, 20000);
    if (b->page_attached)
        send_op(o);
}

static void send_waiting_ops(struct browser *b)
{
    for (struct op *o = b->ops; o; o = o->next)
        if (!o->sent)
            send_op(o);
}

/* One answer serves every GET that waits for it. */
static void refresh_reply(void *arg, json_t *reply)
{
    struct browser *b = arg;
    b->refresh_inflight = 0;
    json_t *ti = json_object_get(json_object_get(reply, "result"), "targetInfo");
    if (ti) {
        set_str(&b->title, bh_json_str(ti, "title"));
        set_str(&b->page_url, bh_json_str(ti, "url"));
        b->refreshed_at = bh_mono_ms();
    }
    while (b->refreshes)
        refresh_done(b->refreshes);
}

static void refresh_timeout(void *arg) { refresh_done(arg); }

void browser_refresh(struct browser *b, void (*cb)(void *arg), void *arg)
{
    /* an answer of the last 250 ms is current enough */
    if (b->so->state(b->s) != BH_STATE_READY || !b->cdp || !b->target_id[0] ||
        (b->refreshed_at && bh_mono_ms() - b->refreshed_at < 250)) {
        cb(arg);
        return;
    }
    struct refresh *r = bh_xcalloc(1, sizeof *r);
    r->b = b;
    r->cb = cb;
    r->arg = arg;
    r->timer = bh_timer_new(b->so->loop(b->s), refresh_timeout, r);
    r->next = b->refreshes;
    b->refreshes = r;
    /* Title changes reach the browser's event stream late or not at all
     * (the first tab's never do), so ask for the current state. */
    bh_timer_set(r->timer, 1000);
    if (b->refresh_inflight)
        return;
    if (bh_cdp_call(b->cdp, "Target.getTargetInfo", json_pack("{s:s}", "targetId", b->target_id),
                    NULL, refresh_reply, b) < 0) {
        refresh_done(r);
        return;
    }
    b->refresh_inflight = 1;
}

static void refresh_done(struct refresh *r)
{
    struct browser *b = r->b;
    for (struct refresh **pp = &b->refreshes; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    bh_timer_free(r->timer);
    r->cb(r->arg);
    free(r);
}

static void on_closed(void *arg)
{
    struct browser *b = arg;
    b->so->channel_closed(b->s);
}

/* Start driving a browser whose CDP channel was just opened (a new start,
 * or an adoption): target discovery, its version, then its page; the
 * session becomes ready once its page is there. */
void browser_attach(struct browser *b, int fd_in, int fd_out, int adopted)
{
    b->adopted = adopted;
    /* a message the previous daemon left half-written is ended by a NUL
     * (the browser answers the garbage with an error nobody waits for) */
    if (adopted && write(fd_in, "", 1) != 1)
        bh_log(BH_LOG_WARN, b->so->info(b->s)->id, "adopt: could not end a half-written message");
    b->cdp = bh_cdp_new(b->so->loop(b->s), fd_in, fd_out, on_event, on_closed, b);
    if (adopted) {
        /* ids of its own, clear of the previous daemon's calls in flight */
        uint32_t rnd = 0;
        if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
            rnd = (uint32_t)bh_mono_ms();
        bh_cdp_first_id(b->cdp, (1L << 30) + (long)(rnd % (1u << 29)));
    }
    bh_cdp_call(b->cdp, "Target.setDiscoverTargets", json_pack("{s:b}", "discover", 1), NULL, NULL,
                NULL);
    bh_cdp_call(b->cdp, "Browser.getVersion", NULL, NULL, got_version, b);
    bh_cdp_call(b->cdp, "Target.getTargets", NULL, NULL, got_targets, b);
}

static void proxy_browser_close(void *arg)
{
    struct browser *b = arg;
    b->closed_by_client = 1;
}

static void proxy_clients_changed(void *arg, int connected, int total)
{
    struct browser *b = arg;
    b->so->event(b->s, connected ? "client_connected" : "client_disconnected",
                 json_pack("{s:s, s:i}", "kind", "cdp", "clients", total));
}

static void activity(void *arg)
{
    struct browser *b = arg;
    b->so->touch(b->s);
}

static void live_viewers_changed(void *arg, int connected, int total)
{
    struct browser *b = arg;
    b->so->event(b->s, connected ? "client_connected" : "client_disconnected",
                 json_pack("{s:s, s:i}", "kind", "live", "clients", total));
}

static json_t *live_hello(void *arg)
{
    struct browser *b = arg;
    const struct bh_session_row *r = b->so->info(b->s);
    char *exp = bh_time_iso(r->expires_at);
    json_t *h = json_pack("{s:s, s:s, s:s, s:s}", "session", r->id, "url",
                          b->page_url ? b->page_url : r->url, "title", b->title ? b->title : "",
                          "expiresAt", exp);
    free(exp);
    return h;
}

static void live_page_changed(void *arg, const char *url, const char *title)
{
    struct browser *b = arg;
    set_str(&b->page_url, url);
    set_str(&b->title, title);
}

static const struct bh_live_hooks live_hooks = {
    .page_changed = live_page_changed,
    .activity = activity,
    .viewers_changed = live_viewers_changed,
    .hello = live_hello,
};

static const struct bh_cdp_proxy_hooks proxy_hooks = {
    .activity = activity,
    .browser_close = proxy_browser_close,
    .clients_changed = proxy_clients_changed,
};

void browser_ready(struct browser *b)
{
    bh_timer_cancel(b->load_timer);
    const struct bh_session_row *r = b->so->info(b->s);
    struct bh_cdp_proxy_limits lim = {.max_queued = 64u << 20, .max_inflight = 1000};
    b->proxy = bh_cdp_proxy_new(b->cdp, &lim, &proxy_hooks, b);
    b->live = bh_live_new(b->cdp, &b->clip, r->viewport_w, r->viewport_h, &live_hooks, b);
    if (b->page_attached)
        bh_live_set_page(b->live, b->cdp_session);
}

void browser_detach(struct browser *b, int code, const char *why)
{
    bh_timer_cancel(b->load_timer);
    bh_cdp_proxy_free(b->proxy, code, why);
    unsigned long long frames, bytes;
    bh_live_stats(b->live, &frames, &bytes);
    b->frames_done += frames;
    b->bytes_done += bytes;
    bh_live_free(b->live, code, why);
    b->proxy = NULL;
    b->live = NULL;
    bh_cdp_free(b->cdp);
    b->cdp = NULL;
    /* operations in flight fail now */
    while (b->refreshes)
        refresh_done(b->refreshes);
    while (b->ops) {
        struct op *o = b->ops;
        b->ops = o->next;
        bh_err_t err = BH_ERR_INIT;
        bh_err_kind_set(&err, BH_E_NOT_READY, "session ended");
        bh_timer_free(o->timer);
        o->error(o->req, &err, "screenshot_failed");
        bh_err_clear(&err);
        free(o);
    }
}
