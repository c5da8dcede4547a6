/* kind.c — the browser kind's table (kinds/kind.h): its part of the create
 * body, its process (Chromium, browser.h), its JSON and saved settings, its
 * routes (CDP, the live view, discovery, screenshots, uploads) and its
 * metrics. driver.c drives the browser itself. */
#include "kinds/browser/browser_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "kinds/browser/browser.h"
#include "kinds/browser/kind.h"

static const char *const fields[] = {"url", "viewport", "clipboard", "pageLoadTimeout", NULL};

static void free_opts(void *opts)
{
    struct browser_opts *o = opts;
    if (!o)
        return;
    free(o->url);
    free(o);
}

static int validate(json_t *root, const struct bh_config *cfg, void **out, struct bh_invalid *why)
{
    struct browser_opts *o = bh_xcalloc(1, sizeof *o);
    o->viewport_w = cfg->viewport_w;
    o->viewport_h = cfg->viewport_h;
    o->page_load_ms = cfg->page_load_timeout_ms;
    o->clip.copy = o->clip.paste = 1;
    json_t *u = json_object_get(root, "url");
    const char *url = "about:blank";
    if (u) {
        if (!json_is_string(u)) {
            bh_invalid(why, "invalid_field", "url must be a string");
            goto fail;
        }
        url = json_string_value(u);
        if (strlen(url) != json_string_length(u)) {
            bh_invalid(why, "invalid_url", "url contains a NUL character");
            goto fail;
        }
    }
    if (bh_validate_url(url, why) < 0)
        goto fail;
    json_t *vp = json_object_get(root, "viewport");
    if (vp) {
        if (!json_is_object(vp)) {
            bh_invalid(why, "invalid_field", "viewport must be an object");
            goto fail;
        }
        static const char *const vkeys[] = {"width", "height", NULL};
        if (bh_check_keys(vp, "viewport.", vkeys, why) < 0)
            goto fail;
        if (bh_check_int(vp, "width", "viewport.width", BH_VIEWPORT_MIN, BH_VIEWPORT_MAX_W,
                         &o->viewport_w, why) < 0 ||
            bh_check_int(vp, "height", "viewport.height", BH_VIEWPORT_MIN, BH_VIEWPORT_MAX_H,
                         &o->viewport_h, why) < 0)
            goto fail;
    }
    int load_s = o->page_load_ms / 1000;
    if (bh_check_int(root, "pageLoadTimeout", "pageLoadTimeout", 1, BH_PAGE_LOAD_MAX, &load_s,
                     why) < 0)
        goto fail;
    if (json_object_get(root, "pageLoadTimeout"))
        o->page_load_ms = load_s * 1000;
    json_t *clip = json_object_get(root, "clipboard");
    if (clip) {
        static const char *const ckeys[] = {"copy", "paste", NULL};
        if (!json_is_object(clip)) {
            bh_invalid(why, "invalid_field", "clipboard must be an object");
            goto fail;
        }
        if (bh_check_keys(clip, "clipboard.", ckeys, why) < 0)
            goto fail;
        json_t *c = json_object_get(clip, "copy"), *p = json_object_get(clip, "paste");
        if ((c && !json_is_boolean(c)) || (p && !json_is_boolean(p))) {
            bh_invalid(why, "invalid_field", "clipboard.copy and clipboard.paste must be booleans");
            goto fail;
        }
        if (c)
            o->clip.copy = json_is_true(c);
        if (p)
            o->clip.paste = json_is_true(p);
    }
    o->url = bh_xstrdup(url);
    *out = o;
    return 0;
fail:
    free_opts(o);
    return -1;
}

static void *create(bh_session_t *s, const struct bh_session_ops *so, void *opts,
                    struct bh_session_row *row)
{
    struct browser_opts *o = opts;
    struct browser *b = bh_xcalloc(1, sizeof *b);
    b->s = s;
    b->so = so;
    b->clip = o->clip;
    b->page_load_ms = o->page_load_ms;
    b->load_timer = bh_timer_new(so->loop(s), browser_load_timeout, b);
    row->url = steal_pointer(&o->url);
    row->viewport_w = o->viewport_w;
    row->viewport_h = o->viewport_h;
    free_opts(o);
    return b;
}

/* A pooled browser serves a create whose settings it was started with:
 * the viewport is the window's size and the clipboard policy is in the
 * settings saved for adoption; the url and the page's load timeout are
 * the claim's own. It must have its page attached. */
static int pool_fits(const void *k, const void *opts)
{
    const struct browser *b = k;
    const struct browser_opts *o = opts;
    const struct bh_session_row *r = b->so->info(b->s);
    return o && b->page_attached && b->cdp_session[0] && o->viewport_w == r->viewport_w &&
           o->viewport_h == r->viewport_h && o->clip.copy == b->clip.copy &&
           o->clip.paste == b->clip.paste;
}

static void pool_claim(void *k, void *opts, struct bh_session_row *row)
{
    struct browser *b = k;
    struct browser_opts *o = opts;
    b->page_load_ms = o->page_load_ms;
    free(row->url);
    row->url = steal_pointer(&o->url);
    free_opts(o);
    browser_claimed(b);
}

static void destroy(void *k)
{
    struct browser *b = k;
    bh_timer_free(b->load_timer);
    free(b->title);
    free(b->page_url);
    free(b->page_error);
    json_decref(b->version);
    free(b);
}

static void save(void *k, json_t *o)
{
    struct browser *b = k;
    json_object_set_new(o, "clipboard",
                        json_pack("{s:b, s:b}", "copy", b->clip.copy, "paste", b->clip.paste));
}

static void process(void *k, const struct bh_config *cfg, struct bh_process *p)
{
    struct browser *b = k;
    const struct bh_session_row *r = b->so->info(b->s);
    b->cmd = bh_xcalloc(1, sizeof *b->cmd);
    bh_browser_cmd_init(b->cmd, cfg->chromium, r->viewport_w, r->viewport_h, b->so->proxy(b->s));
    if (cfg->deny_nested_userns)
        bh_browser_cmd_without_own_sandbox(b->cmd);
    p->argv = b->cmd->argv;
    p->env = b->cmd->env;
    p->uid = 1000;
    p->gid = 1000;
    p->channel = 1;
}

static void process_free(void *k, struct bh_process *p)
{
    struct browser *b = k;
    bh_browser_cmd_free(b->cmd);
    free(b->cmd);
    b->cmd = NULL;
    memset(p, 0, sizeof *p);
}

static void attach(void *k, int fd_in, int fd_out, int adopted)
{
    browser_attach(k, fd_in, fd_out, adopted);
}

static void ready(void *k) { browser_ready(k); }

static void ready_event(void *k, json_t *d)
{
    struct browser *b = k;
    json_object_set_new(d, "title", json_string(b->title ? b->title : ""));
    if (b->page_error)
        json_object_set_new(d, "error", json_string(b->page_error));
}

static void detach(void *k, int code, const char *why) { browser_detach(k, code, why); }

static const char *ended_by_client(void *k, const char **detail)
{
    struct browser *b = k;
    if (!b->closed_by_client)
        return NULL;
    *detail = "a CDP client sent Browser.close";
    return "closed";
}

/* Its D-Bus client's complaints: there is no bus in the sandbox. */
static int log_noise(const char *line) { return strstr(line, "dbus/") != NULL; }

static int watched(void *k)
{
    struct browser *b = k;
    return bh_live_viewers(b->live) > 0;
}

static void refresh(void *k, void (*cb)(void *arg), void *arg) { browser_refresh(k, cb, arg); }

static json_t *str_or_null(const char *s) { return s && *s ? json_string(s) : json_null(); }

static void json(void *k, const struct bh_session_row *r, const char *base, json_t *o)
{
    struct browser *b = k;
    const char *wsbase = !strncmp(base, "https://", 8) ? "wss://" : "ws://";
    const char *hostpart = strstr(base, "://") ? strstr(base, "://") + 3 : base;
    json_object_set_new(o, "url", json_string(r->url ? r->url : ""));
    json_object_set_new(o, "viewport",
                        json_pack("{s:i, s:i}", "width", r->viewport_w, "height", r->viewport_h));
    char *cdp = bh_xasprintf("%s%s/api/v1/sessions/%s/cdp", wsbase, hostpart, r->id);
    char *live = bh_xasprintf("%s%s/api/v1/sessions/%s/live", wsbase, hostpart, r->id);
    char *view = bh_xasprintf("%s/view/%s", base, r->id);
    json_object_set_new(o, "urls",
                        json_pack("{s:s, s:s, s:s}", "cdp", cdp, "live", live, "view", view));
    free(cdp);
    free(live);
    free(view);
    if (b && b->so->state(b->s) == BH_STATE_READY)
        json_object_set_new(o, "page",
                            json_pack("{s:o, s:o, s:o}", "url", str_or_null(b->page_url), "title",
                                      json_string(b->title ? b->title : ""), "error",
                                      str_or_null(b->page_error)));
    else
        json_object_set_new(o, "page", json_null());
}

static unsigned url_scopes(const char *key)
{
    if (!strcmp(key, "cdp"))
        return BH_SCOPE_CDP;
    if (!strcmp(key, "live") || !strcmp(key, "view"))
        return BH_SCOPE_VIEW | BH_SCOPE_CONTROL;
    return 0;
}

static int not_ready(struct browser *b, bh_req_t *req, const struct bh_route_call *c)
{
    if (b->so->state(b->s) == BH_STATE_READY && b->cdp)
        return 0;
    bh_err_t err = BH_ERR_INIT;
    bh_err_kind_set(&err, BH_E_NOT_READY, "the session is not ready");
    c->error(req, &err, "not_ready");
    bh_err_clear(&err);
    return 1;
}

static void serve_cdp(void *k, bh_req_t *req, const struct bh_route_call *c)
{
    struct browser *b = k;
    if (!not_ready(b, req, c))
        bh_cdp_proxy_accept(b->proxy, req);
}

static void serve_live(void *k, bh_req_t *req, const struct bh_route_call *c)
{
    struct browser *b = k;
    if (!not_ready(b, req, c))
        bh_live_accept(b->live, req, c->input);
}

/* /json/version: discovery for clients that take an HTTP endpoint. */
static void serve_version(void *k, bh_req_t *req, const struct bh_route_call *c)
{
    struct browser *b = k;
    if (not_ready(b, req, c))
        return;
    if (!b->version) {
        bh_err_t err = BH_ERR_INIT;
        bh_err_kind_set(&err, BH_E_NOT_READY, "the session is not ready");
        c->error(req, &err, "not_ready");
        bh_err_clear(&err);
        return;
    }
    const char *base = c->public_url;
    const char *host = strstr(base, "://") ? strstr(base, "://") + 3 : base;
    cleanup_free char *ws = bh_xasprintf(
        "%s%s/api/v1/sessions/%s/cdp%s%s", !strncmp(base, "https://", 8) ? "wss://" : "ws://", host,
        b->so->info(b->s)->id, c->token ? "?token=" : "", c->token ? c->token : "");
    json_t *v = b->version;
#define STR(key, dflt) (bh_json_str(v, key) ? bh_json_str(v, key) : dflt)
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "Browser", STR("product", ""),
                          "Protocol-Version", STR("protocolVersion", "1.3"), "User-Agent",
                          STR("userAgent", ""), "V8-Version", STR("jsVersion", ""),
                          "WebKit-Version", STR("revision", ""), "webSocketDebuggerUrl", ws);
#undef STR
    char *text = bh_json_dump(o);
    json_decref(o);
    bh_req_reply(req, 200, "application/json", text, strlen(text), NULL);
    free(text);
}

static void serve_screenshot(void *k, bh_req_t *req, const struct bh_route_call *c)
{
    browser_screenshot(k, req, c->error);
}

/* PUT /files/NAME: a file into the upload area, where DOM.setFileInputFiles
 * may name it (cdp_proxy.h). */
static void serve_file(void *k, bh_req_t *req, const struct bh_route_call *c)
{
    struct browser *b = k;
    const char *name = c->rest;
    int ok = *name && *name != '.' && strlen(name) <= 255;
    for (const char *p = name; *p; p++)
        ok &= isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-';
    bh_err_t err = BH_ERR_INIT;
    if (!ok) {
        bh_err_kind_set(&err, BH_E_INVALID,
                        "a file name is 1-255 of A-Z a-z 0-9 . _ - and does not start with '.'");
        c->error(req, &err, "invalid_name");
        bh_err_clear(&err);
        return;
    }
    size_t len;
    const char *body = bh_req_body(req, &len);
    if (b->so->put_file(b->s, BH_UPLOAD_DIR, name, body, len, &err) < 0) {
        /* not ready yet, no room, or something in the way of the file */
        c->error(req, &err, "upload_failed");
        bh_err_clear(&err);
        return;
    }
    json_t *o = json_pack("{s:s+, s:I}", "path", BH_UPLOAD_DIR "/", name, "size", (json_int_t)len);
    char *text = bh_json_dump(o);
    json_decref(o);
    bh_req_reply(req, 201, "application/json", text, strlen(text), NULL);
    free(text);
}

static const struct bh_kind_route routes[] = {
    {"WS", "/cdp", BH_SCOPE_CDP, serve_cdp, 0},
    {"WS", "/live", BH_SCOPE_VIEW | BH_SCOPE_CONTROL, serve_live, 0},
    {"GET", "/json/version", BH_SCOPE_CDP, serve_version, 0},
    {"GET", "/json/version/", BH_SCOPE_CDP, serve_version, 0},
    {"GET", "/screenshot", 0, serve_screenshot, 0},
    {"PUT", "/files/", 0, serve_file, 0},
    {NULL, NULL, 0, NULL, 0},
};

static const struct bh_kind_metric metrics[] = {
    {"bulkhead_cdp_clients", "Connected CDP clients.", 0},
    {"bulkhead_live_viewers", "Connected live-view viewers.", 0},
    {"bulkhead_live_frames_total", "Frames sent to live-view viewers.", 1},
    {"bulkhead_live_bytes_total", "Bytes of frames sent to live-view viewers.", 1},
};

static void metric_values(void *k, unsigned long long *v)
{
    struct browser *b = k;
    unsigned long long frames, bytes;
    bh_live_stats(b->live, &frames, &bytes);
    v[0] = (unsigned long long)bh_cdp_proxy_clients(b->proxy);
    v[1] = (unsigned long long)bh_live_viewers(b->live);
    v[2] = b->frames_done + frames;
    v[3] = b->bytes_done + bytes;
}

/* Debian's Chromium reads its settings from /etc/chromium; its managed
 * policies are bulkhead's alone, never the host's. */
static const char *const etc_copy[] = {"chromium", NULL};
static const struct bh_kind_file etc_files[] = {
    {"chromium/policies", "chromium/policies/managed/" BH_BROWSER_POLICY_FILE, bh_browser_policies},
    {NULL, NULL, NULL},
};

const struct bh_kind bh_kind_browser = {
    .name = "browser",
    .fields = fields,
    .validate = validate,
    .free_opts = free_opts,
    .create = create,
    .save = save,
    .process = process,
    .process_free = process_free,
    .attach = attach,
    .ready = ready,
    .pool_fits = pool_fits,
    .pool_claim = pool_claim,
    .ready_event = ready_event,
    .detach = detach,
    .destroy = destroy,
    .ended_by_client = ended_by_client,
    .log_noise = log_noise,
    .watched = watched,
    .refresh = refresh,
    .json = json,
    .url_scopes = url_scopes,
    .routes = routes,
    .etc_copy = etc_copy,
    .etc_files = etc_files,
    .metrics = metrics,
    .nmetrics = 4,
    .metric_values = metric_values,
};
