/* live.c — see live.h and docs/live.md.
 *
 * One screencast per session, shared by its viewers. A frame goes to a
 * viewer only when everything sent to it before was written and its maxFps
 * allows; the frame is acknowledged to Chromium (which then produces the
 * next) as soon as some viewer can take one, so the rate follows the
 * fastest willing viewer and nothing queues up for slow ones. */
#include "kinds/browser/live.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

#define VIEWER_MAX_QUEUED (8u << 20)
#define VIEWER_MAX_MSG 65536

/* A viewer message that came before the page was attached. */
struct early {
    struct early *next;
    struct viewer *v;
    char *data;
    size_t len;
};

struct viewer {
    struct viewer *next;
    struct bh_live *lv;
    bh_ws_t *ws;
    int quality;
    int max_fps;
    int64_t last_sent; /* monotonic ms of the last frame sent */
    int behind;        /* a newer frame than the last one sent to it was skipped */
    int closing;
    int watch_only; /* a "view" session token: no input, navigation or clipboard */
};

struct bh_live {
    bh_cdp_t *cdp;
    char page[72];
    struct bh_live_policy pol;
    int width, height;
    struct bh_live_hooks hooks;
    void *arg;
    struct viewer *viewers;
    int nviewers;
    int casting;
    int cast_quality;
    long ack_id; /* frame to acknowledge; 0 = none */
    int unacked; /* frames received since the last acknowledgement */
    bh_timer_t *ack_timer;
    bh_timer_t *catch_up_timer;
    int ack_armed;
    unsigned long long frames, bytes;
    char *url, *title;
    int can_back, can_forward;
    int history_delta; /* of the back/forward in flight */
    char *last;        /* the last frame (JPEG), for viewers who join */
    size_t last_len;
    int64_t cast_started;
    int64_t last_frame_at;
    int64_t input_at; /* monotonic ms of a viewer's last input */
    bh_timer_t *kick_timer;
    bh_timer_t *poll_timer;
    int resized; /* a viewer set the size */
    struct early *early, **early_tail;
    int nearly;
};

/* ---------------------------------------------------------------- sending */

static void send_text(struct viewer *v, json_t *msg)
{
    if (v->closing)
        return;
    char *s = bh_json_dump(msg);
    bh_ws_send(v->ws, s, strlen(s), 0);
    free(s);
    if (bh_ws_queued(v->ws) > VIEWER_MAX_QUEUED) {
        v->closing = 1;
        bh_ws_close(v->ws, 1008, "viewer is not reading", 1);
    }
}

static void broadcast(struct bh_live *lv, json_t *msg)
{
    for (struct viewer *v = lv->viewers; v; v = v->next)
        send_text(v, msg);
    json_decref(msg);
}

static void send_error(struct viewer *v, const char *message)
{
    json_t *m = json_pack("{s:s, s:s}", "type", "error", "message", message);
    send_text(v, m);
    json_decref(m);
}

static json_t *page_msg(struct bh_live *lv)
{
    return json_pack("{s:s, s:s, s:s, s:b, s:b}", "type", "page", "url", lv->url ? lv->url : "",
                     "title", lv->title ? lv->title : "", "canGoBack", lv->can_back, "canGoForward",
                     lv->can_forward);
}

/* ---------------------------------------------------------------- screencast */

static int max_quality(struct bh_live *lv)
{
    int q = 10;
    for (struct viewer *v = lv->viewers; v; v = v->next)
        if (v->quality > q)
            q = v->quality;
    return q;
}

static void cast_reply(void *arg, json_t *reply)
{
    struct bh_live *lv = arg;
    if (reply && json_object_get(reply, "error") && lv->casting) {
        lv->casting = 0;
        bh_timer_set(lv->kick_timer, 200);
    }
}

static void cast_start(struct bh_live *lv)
{
    if (lv->casting || !lv->page[0] || !lv->nviewers)
        return;
    lv->casting = 1;
    lv->cast_quality = max_quality(lv);
    lv->cast_started = bh_mono_ms();
    bh_timer_set(lv->kick_timer, 150);
    bh_cdp_call(lv->cdp, "Page.startScreencast",
                json_pack("{s:s, s:i, s:i, s:i, s:i}", "format", "jpeg", "quality",
                          lv->cast_quality, "maxWidth", lv->width, "maxHeight", lv->height,
                          "everyNthFrame", 1),
                lv->page, cast_reply, lv);
}

static void cast_stop(struct bh_live *lv)
{
    if (!lv->casting)
        return;
    lv->casting = 0;
    lv->ack_id = 0;
    lv->unacked = 0;
    bh_timer_cancel(lv->ack_timer);
    lv->ack_armed = 0;
    bh_cdp_call(lv->cdp, "Page.stopScreencast", NULL, lv->page, NULL, NULL);
}

static void ack_now(void *arg)
{
    struct bh_live *lv = arg;
    lv->ack_armed = 0;
    if (!lv->ack_id || !lv->casting)
        return;
    /* Chromium keeps a few frames in flight and counts one down per ack:
     * every frame received gets its ack, or the pipeline shrinks to one
     * frame at a time for good. */
    for (int i = 0; i < lv->unacked; i++)
        bh_cdp_call(lv->cdp, "Page.screencastFrameAck",
                    json_pack("{s:I}", "sessionId", (json_int_t)lv->ack_id), lv->page, NULL, NULL);
    lv->ack_id = 0;
    lv->unacked = 0;
}

/* Frames come on demand for a while after a viewer's input (the one that
 * shows its effect goes out at once), paced by maxFps otherwise. */
#define INPUT_BURST_MS 250
static int paced(const struct bh_live *lv, int64_t now)
{
    return now - lv->input_at > INPUT_BURST_MS;
}

static int due_at(const struct bh_live *lv, const struct viewer *v, int64_t now)
{
    return paced(lv, now) ? v->last_sent + 1000 / v->max_fps : now;
}

/* Acknowledge the pending frame when the first viewer can take another. */
static void schedule_ack(struct bh_live *lv)
{
    if (!lv->ack_id || lv->ack_armed)
        return;
    int64_t now = bh_mono_ms(), best = -1;
    for (struct viewer *v = lv->viewers; v; v = v->next) {
        if (v->closing || bh_ws_queued(v->ws) > 0)
            continue;
        int64_t at = due_at(lv, v, now);
        if (best < 0 || at < best)
            best = at;
    }
    if (best < 0)
        return; /* nobody can take a frame: a viewer's drain brings us back */
    lv->ack_armed = 1;
    bh_timer_set(lv->ack_timer, best > now ? best - now : 0);
}

static void catch_up(struct bh_live *lv);

static void send_frame(struct viewer *v, const char *jpeg, size_t len, int64_t now)
{
    struct bh_live *lv = v->lv;
    bh_ws_send(v->ws, jpeg, len, 1);
    v->last_sent = now;
    v->behind = 0;
    lv->frames++;
    lv->bytes += len;
}

/* A new picture of the page (base64 JPEG) for every viewer that can take
 * it now; kept for viewers who join later. */
static void distribute(struct bh_live *lv, const char *data)
{
    int64_t now = bh_mono_ms();
    int n = (int)strlen(data);
    char *jpeg = bh_xmalloc((size_t)n * 3 / 4 + 4);
    int len = bh_b64_decode(data, n, jpeg, n * 3 / 4 + 4);
    if (len <= 0) {
        free(jpeg);
        return;
    }
    free(lv->last);
    lv->last = jpeg;
    lv->last_len = (size_t)len;
    lv->last_frame_at = now;
    for (struct viewer *v = lv->viewers; v; v = v->next) {
        if (v->closing || bh_ws_queued(v->ws) > 0 || due_at(lv, v, now) > now)
            v->behind = 1;
        else
            send_frame(v, jpeg, (size_t)len, now);
    }
    catch_up(lv);
}

/* A viewer that skipped a frame (its frame rate, or its socket still busy)
 * gets the newest one as soon as it can take it: on a page that then stays
 * still no later frame would come, and it would keep an old picture (one of
 * a resize half done, say) for good. */
static void catch_up(struct bh_live *lv)
{
    int64_t now = bh_mono_ms(), next = -1;
    for (struct viewer *v = lv->viewers; v; v = v->next) {
        if (!v->behind || v->closing || !lv->last || bh_ws_queued(v->ws) > 0)
            continue; /* (a busy socket's drain calls again) */
        int64_t at = due_at(lv, v, now);
        if (at <= now)
            send_frame(v, lv->last, lv->last_len, now);
        else if (next < 0 || at < next)
            next = at;
    }
    if (next >= 0)
        bh_timer_set(lv->catch_up_timer, next - now);
}

static void catch_up_cb(void *arg) { catch_up(arg); }

static void on_frame(struct bh_live *lv, json_t *params)
{
    const char *data = bh_json_str(params, "data");
    json_t *fid = json_object_get(params, "sessionId");
    if (!data || !json_is_integer(fid))
        return;
    lv->ack_id = (long)json_integer_value(fid);
    lv->unacked++;
    lv->ack_armed = 0;
    bh_timer_cancel(lv->ack_timer);
    distribute(lv, data);
    schedule_ack(lv);
}

/* Chromium's screencast sends frames only when the page changes: after a
 * (re)start on a still page, take one picture ourselves. */
static void kicked(void *arg, json_t *reply)
{
    struct bh_live *lv = arg;
    const char *data = bh_json_str(json_object_get(reply, "result"), "data");
    bh_live_reapply_viewport(lv);
    if (data && lv->last_frame_at < lv->cast_started)
        distribute(lv, data);
    else if (!data && lv->casting && lv->last_frame_at < lv->cast_started)
        bh_timer_set(lv->kick_timer, 200); /* mid-navigation: again soon */
}

static void cast_start(struct bh_live *lv);

static void kick(void *arg)
{
    struct bh_live *lv = arg;
    if (!lv->casting) { /* the start failed (mid-navigation): try again */
        cast_start(lv);
        return;
    }
    if (lv->last_frame_at >= lv->cast_started)
        return;
    bh_cdp_call(lv->cdp, "Page.captureScreenshot",
                json_pack("{s:s, s:i}", "format", "jpeg", "quality", lv->cast_quality), lv->page,
                kicked, lv);
}

static void history_reply(void *arg, json_t *reply)
{
    struct bh_live *lv = arg;
    json_t *r = json_object_get(reply, "result");
    json_t *entries = json_object_get(r, "entries");
    json_t *ci = json_object_get(r, "currentIndex");
    if (!json_is_array(entries) || !json_is_integer(ci))
        return;
    size_t idx = (size_t)json_integer_value(ci);
    json_t *e = json_array_get(entries, idx);
    const char *url = bh_json_str(e, "url") ? bh_json_str(e, "url") : "";
    const char *title = bh_json_str(e, "title") ? bh_json_str(e, "title") : "";
    int back = idx > 0, fwd = idx + 1 < json_array_size(entries);
    if (lv->url && !strcmp(lv->url, url) && lv->title && !strcmp(lv->title, title) &&
        lv->can_back == back && lv->can_forward == fwd)
        return; /* nothing new */
    free(lv->url);
    free(lv->title);
    lv->url = bh_xstrdup(url);
    lv->title = bh_xstrdup(title);
    lv->can_back = back;
    lv->can_forward = fwd;
    if (lv->hooks.page_changed)
        lv->hooks.page_changed(lv->arg, lv->url, lv->title);
    broadcast(lv, page_msg(lv));
}

/* Title changes after a load raise no event: look once a second while
 * someone watches. */
static void poll_page(void *arg)
{
    struct bh_live *lv = arg;
    if (!lv->nviewers)
        return;
    if (lv->page[0])
        bh_cdp_call(lv->cdp, "Page.getNavigationHistory", NULL, lv->page, history_reply, lv);
    bh_timer_set(lv->poll_timer, 1000);
}

/* A screenshot puts the emulated size it found back when it ends: after
 * one, the viewers' size is set again. */
void bh_live_reapply_viewport(bh_live_t *lv)
{
    if (!lv || !lv->page[0] || !lv->resized)
        return;
    bh_cdp_call(lv->cdp, "Emulation.setDeviceMetricsOverride",
                json_pack("{s:i, s:i, s:i, s:b}", "width", lv->width, "height", lv->height,
                          "deviceScaleFactor", 1, "mobile", 0),
                lv->page, NULL, NULL);
}

static void refresh_page(struct bh_live *lv)
{
    if (!lv->page[0] || !lv->nviewers)
        return;
    bh_cdp_call(lv->cdp, "Page.getNavigationHistory", NULL, lv->page, history_reply, lv);
}

int bh_live_event(bh_live_t *lv, json_t *msg)
{
    if (!lv || !lv->page[0])
        return 0;
    const char *sid = bh_json_str(msg, "sessionId");
    if (!sid || strcmp(sid, lv->page) != 0)
        return 0;
    const char *method = bh_json_str(msg, "method");
    if (!method)
        return 0;
    json_t *params = json_object_get(msg, "params");
    if (!strcmp(method, "Page.screencastFrame")) {
        on_frame(lv, params);
        return 1;
    }
    if (!strcmp(method, "Page.frameNavigated")) {
        if (!json_object_get(json_object_get(params, "frame"), "parentId"))
            refresh_page(lv);
    } else if (!strcmp(method, "Page.loadEventFired") ||
               !strcmp(method, "Page.navigatedWithinDocument") ||
               !strcmp(method, "Page.domContentEventFired")) {
        refresh_page(lv);
    }
    return 0; /* the session may want these too */
}

/* ---------------------------------------------------------------- viewers */

static void history_go(void *arg, json_t *reply);

static void copied(void *arg, json_t *reply);

static int ws_message(void *arg, bh_ws_t *ws, const char *data, size_t len, int binary)
{
    struct viewer *v = arg;
    struct bh_live *lv = v->lv;
    (void)ws;
    if (v->closing)
        return 0;
    if (binary || len > VIEWER_MAX_MSG) {
        v->closing = 1;
        bh_ws_close(v->ws, binary ? 1003 : 1009,
                    binary ? "viewer messages are JSON text" : "message too large", 1);
        return 0;
    }
    if (!lv->page[0]) { /* the page attaches within a second of ready */
        if (lv->nearly >= 256) {
            send_error(v, "the page is not ready yet");
            return 0;
        }
        struct early *e = bh_xcalloc(1, sizeof *e);
        e->v = v;
        e->data = bh_xmalloc(len);
        memcpy(e->data, data, len);
        e->len = len;
        *lv->early_tail = e;
        lv->early_tail = &e->next;
        lv->nearly++;
        return 0;
    }
    json_t *msg = json_loadb(data, len, 0, NULL);
    if (v->watch_only) {
        const char *type = json_is_object(msg) ? bh_json_str(msg, "type") : NULL;
        if (!type || strcmp(type, "settings")) {
            json_decref(msg);
            send_error(v, "this viewer only watches (a view link): input, navigation, resize "
                          "and the clipboard are refused");
            return 0;
        }
    }
    struct bh_live_cmd cmds[2];
    struct bh_invalid why;
    int n = bh_live_translate(msg, &lv->pol, cmds, &why);
    json_decref(msg);
    if (n < 0) {
        send_error(v, why.msg);
        return 0;
    }
    if (lv->hooks.activity)
        lv->hooks.activity(lv->arg);
    /* the frame that shows the input's effect goes out at once */
    lv->input_at = bh_mono_ms();
    if (lv->ack_armed) {
        bh_timer_cancel(lv->ack_timer);
        lv->ack_armed = 0;
        schedule_ack(lv);
    }
    for (int i = 0; i < n; i++) {
        struct bh_live_cmd *c = &cmds[i];
        if (!lv->page[0]) {
            send_error(v, "the page is not ready yet");
            json_decref(c->params);
            continue;
        }
        switch (c->special) {
        case BH_LIVE_SETTINGS: {
            long q = (long)json_integer_value(json_object_get(c->params, "quality"));
            long fps = (long)json_integer_value(json_object_get(c->params, "maxFps"));
            if (q)
                v->quality = (int)q;
            if (fps)
                v->max_fps = (int)fps;
            if (lv->casting && max_quality(lv) != lv->cast_quality) {
                cast_stop(lv);
                cast_start(lv);
            }
            json_decref(c->params);
            break;
        }
        case BH_LIVE_BACK:
        case BH_LIVE_FORWARD: {
            lv->history_delta = c->special == BH_LIVE_BACK ? -1 : 1;
            bh_cdp_call(lv->cdp, "Page.getNavigationHistory", NULL, lv->page, history_go, lv);
            break;
        }
        case BH_LIVE_COPY:
            bh_cdp_call(
                lv->cdp, "Runtime.evaluate",
                json_pack("{s:s, s:b}", "expression", "String(getSelection())", "returnByValue", 1),
                lv->page, copied, v);
            break;
        case BH_LIVE_RESIZE:
            lv->width = (int)json_integer_value(json_object_get(c->params, "width"));
            lv->height = (int)json_integer_value(json_object_get(c->params, "height"));
            lv->resized = 1;
            bh_cdp_call(lv->cdp, c->method, c->params, lv->page, NULL, NULL);
            if (lv->casting) { /* frames of the new size */
                cast_stop(lv);
                cast_start(lv);
            }
            broadcast(lv, json_pack("{s:s, s:i, s:i}", "type", "viewport", "width", lv->width,
                                    "height", lv->height));
            break;
        default:
            bh_cdp_call(lv->cdp, c->method, c->params, lv->page, NULL, NULL);
        }
    }
    return 0;
}

static void history_go(void *arg, json_t *reply)
{
    struct bh_live *lv = arg;
    json_t *r = json_object_get(reply, "result");
    json_t *entries = json_object_get(r, "entries");
    long idx = (long)json_integer_value(json_object_get(r, "currentIndex")) + lv->history_delta;
    json_t *e = idx >= 0 ? json_array_get(entries, (size_t)idx) : NULL;
    json_t *id = json_object_get(e, "id");
    if (e && json_is_integer(id))
        bh_cdp_call(lv->cdp, "Page.navigateToHistoryEntry",
                    json_pack("{s:I}", "entryId", json_integer_value(id)), lv->page, NULL, NULL);
}

static void copied(void *arg, json_t *reply)
{
    struct viewer *v = arg;
    json_t *val = json_object_get(json_object_get(json_object_get(reply, "result"), "result"),
                                  "value");
    json_t *m = json_pack("{s:s, s:s}", "type", "clipboard", "text",
                          json_is_string(val) ? json_string_value(val) : "");
    send_text(v, m);
    json_decref(m);
}

static void early_drop(struct bh_live *lv, struct viewer *v)
{
    for (struct early **pp = &lv->early; *pp;) {
        struct early *e = *pp;
        if (v && e->v != v) {
            pp = &e->next;
            continue;
        }
        *pp = e->next;
        free(e->data);
        free(e);
        lv->nearly--;
    }
    lv->early_tail = &lv->early;
    while (*lv->early_tail)
        lv->early_tail = &(*lv->early_tail)->next;
}

static void viewer_free(struct viewer *v)
{
    struct bh_live *lv = v->lv;
    early_drop(lv, v);
    for (struct viewer **pp = &lv->viewers; *pp; pp = &(*pp)->next)
        if (*pp == v) {
            *pp = v->next;
            break;
        }
    lv->nviewers--;
    bh_cdp_forget(lv->cdp, v);
    free(v);
}

static void ws_closed(void *arg, bh_ws_t *ws)
{
    struct viewer *v = arg;
    struct bh_live *lv = v->lv;
    (void)ws;
    viewer_free(v);
    if (!lv->nviewers)
        cast_stop(lv);
    else
        schedule_ack(lv);
    if (lv->hooks.viewers_changed)
        lv->hooks.viewers_changed(lv->arg, 0, lv->nviewers);
}

static void ws_drained(void *arg, bh_ws_t *ws)
{
    struct viewer *v = arg;
    (void)ws;
    catch_up(v->lv);
    schedule_ack(v->lv);
}

static const struct bh_ws_handlers viewer_handlers = {
    .message = ws_message,
    .closed = ws_closed,
    .drained = ws_drained,
};

int bh_live_accept(bh_live_t *lv, bh_req_t *req, int input)
{
    int quality = 70, fps = 30;
    const char *q = bh_req_query(req, "quality");
    const char *f = bh_req_query(req, "maxFps");
    if (q)
        quality = atoi(q);
    if (f)
        fps = atoi(f);
    if (quality < 10 || quality > 100 || fps < 1 || fps > 60) {
        static const char msg[] = "{\"error\":{\"code\":\"invalid_field\",\"message\":"
                                  "\"quality must be 10-100 and maxFps 1-60\"}}";
        bh_req_reply(req, 400, "application/json", msg, sizeof msg - 1, NULL);
        return -1;
    }
    struct viewer *v = bh_xcalloc(1, sizeof *v);
    v->lv = lv;
    v->quality = quality;
    v->max_fps = fps;
    v->watch_only = !input;
    v->ws = bh_ws_accept(req, &viewer_handlers, v);
    if (!v->ws) {
        free(v);
        return -1;
    }
    v->next = lv->viewers;
    lv->viewers = v;
    lv->nviewers++;
    json_t *hello = lv->hooks.hello ? lv->hooks.hello(lv->arg) : json_object();
    json_object_set_new(hello, "type", json_string("hello"));
    json_object_set_new(hello, "viewport",
                        json_pack("{s:i, s:i}", "width", lv->width, "height", lv->height));
    json_object_set_new(
        hello, "clipboard",
        json_pack("{s:b, s:b}", "copy", lv->pol.copy && input, "paste", lv->pol.paste && input));
    json_object_set_new(hello, "input", json_boolean(input));
    send_text(v, hello);
    json_decref(hello);
    if (lv->last)
        send_frame(v, lv->last, lv->last_len, bh_mono_ms());
    if (lv->casting && max_quality(lv) > lv->cast_quality) {
        cast_stop(lv);
        cast_start(lv);
    } else if (lv->casting) {
        schedule_ack(lv);
    }
    cast_start(lv);
    refresh_page(lv);
    bh_timer_set(lv->poll_timer, 1000);
    if (lv->hooks.viewers_changed)
        lv->hooks.viewers_changed(lv->arg, 1, lv->nviewers);
    return 0;
}

/* ---------------------------------------------------------------- object */

bh_live_t *bh_live_new(bh_cdp_t *cdp, const struct bh_live_policy *pol, int width, int height,
                       const struct bh_live_hooks *hooks, void *arg)
{
    struct bh_live *lv = bh_xcalloc(1, sizeof *lv);
    lv->cdp = cdp;
    lv->pol = *pol;
    lv->width = width;
    lv->height = height;
    if (hooks)
        lv->hooks = *hooks;
    lv->arg = arg;
    lv->ack_timer = bh_timer_new(bh_cdp_loop(cdp), ack_now, lv);
    lv->catch_up_timer = bh_timer_new(bh_cdp_loop(cdp), catch_up_cb, lv);
    lv->early_tail = &lv->early;
    lv->kick_timer = bh_timer_new(bh_cdp_loop(cdp), kick, lv);
    lv->poll_timer = bh_timer_new(bh_cdp_loop(cdp), poll_page, lv);
    return lv;
}

void bh_live_set_page(bh_live_t *lv, const char *cdp_session)
{
    if (!lv)
        return;
    if (strcmp(lv->page, cdp_session) != 0 && lv->casting) {
        /* the screencast went with the old page: none to stop or ack */
        lv->casting = 0;
        lv->ack_id = 0;
        lv->unacked = 0;
        bh_timer_cancel(lv->ack_timer);
        lv->ack_armed = 0;
    }
    snprintf(lv->page, sizeof lv->page, "%s", cdp_session);
    if (!lv->page[0])
        return;                   /* viewers' input waits for the next page */
    bh_live_reapply_viewport(lv); /* a viewer's size holds on a new page too */
    cast_start(lv);
    refresh_page(lv);
    /* replay what viewers sent while the page was attaching */
    struct early *e = lv->early;
    lv->early = NULL;
    lv->early_tail = &lv->early;
    lv->nearly = 0;
    while (e) {
        struct early *next = e->next;
        ws_message(e->v, e->v->ws, e->data, e->len, 0);
        free(e->data);
        free(e);
        e = next;
    }
}

int bh_live_viewers(const bh_live_t *lv) { return lv ? lv->nviewers : 0; }

void bh_live_stats(const bh_live_t *lv, unsigned long long *frames, unsigned long long *bytes)
{
    *frames = lv ? lv->frames : 0;
    *bytes = lv ? lv->bytes : 0;
}

void bh_live_free(bh_live_t *lv, int code, const char *reason)
{
    if (!lv)
        return;
    bh_cdp_forget(lv->cdp, lv);
    while (lv->viewers) {
        struct viewer *v = lv->viewers;
        bh_ws_close(v->ws, code, reason, 1);
        bh_ws_detach(v->ws);
        viewer_free(v);
    }
    early_drop(lv, NULL);
    bh_timer_free(lv->ack_timer);
    bh_timer_free(lv->catch_up_timer);
    bh_timer_free(lv->kick_timer);
    bh_timer_free(lv->poll_timer);
    free(lv->last);
    free(lv->url);
    free(lv->title);
    free(lv);
}
