/* session.c — the session manager (see session.h): the live sessions,
 * capacity (--max-sessions and the FIFO of creates waiting for a slot),
 * start slots (--max-starting and the queue of sessions waiting for one),
 * create, shutdown, and the public queries and JSON of a session. The
 * modules below it are listed in session_int.h. */
#include "session/session_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

static void start_finished(struct bh_session *s);
static void admit_waiting(struct bh_sessions *m);
static void fail_now(bh_session_created_cb cb, void *arg, enum bh_err_kind kind, const char *msg);

struct bh_session *session_new(struct bh_sessions *m)
{
    struct bh_session *s = bh_xcalloc(1, sizeof *s);
    s->m = m;
    s->start_timer = bh_timer_new(m->loop, session_start_timeout, s);
    s->load_timer = bh_timer_new(m->loop, session_load_timeout, s);
    s->ttl_timer = bh_timer_new(m->loop, session_ttl_expired, s);
    s->idle_timer = bh_timer_new(m->loop, session_idle_expired, s);
    s->grace_timer = bh_timer_new(m->loop, session_pipe_grace_over, s);
    s->next = m->list;
    m->list = s;
    m->live++;
    return s;
}

/* The session's egress policy, upstream proxy and clipboard policy from
 * validated create options (taken over). With an upstream proxy, the proxy
 * is the only way out (and the allow-list, if one was given). */
void session_take_policy(struct bh_session *s, struct bh_create_opts *opts)
{
    s->net_mode = opts->net_mode;
    s->nallow = opts->nallow;
    s->allow = steal_pointer(&opts->allow);
    s->upstream = steal_pointer(&opts->proxy);
    s->clip.copy = opts->clip_copy;
    s->clip.paste = opts->clip_paste;
    if (s->upstream) {
        struct bh_net_rule *nv = realloc(s->allow, (size_t)(s->nallow + 1) * sizeof *nv);
        if (!nv)
            abort();
        nv[s->nallow++] = opts->proxy_rule;
        s->allow = nv;
        s->net_mode = BH_NET_ALLOWLIST;
    }
}

static void waiting_unlink(struct waiting *w)
{
    for (struct waiting **pp = &w->m->waiting; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    w->m->nwaiting--;
    bh_timer_free(w->timer);
    bh_metrics_queue_wait(&w->m->metrics, (double)(bh_mono_ms() - w->since) / 1000.0);
}

/* A waiting create gives up (w is freed): cb gets an error of kind. */
static void waiting_fail(struct waiting *w, enum bh_err_kind kind, const char *msg)
{
    waiting_unlink(w);
    bh_create_opts_clear(&w->opts);
    fail_now(w->cb, w->arg, kind, msg);
    free(w);
}

static void waiting_timeout(void *arg)
{
    struct waiting *w = arg;
    char *msg = bh_xasprintf("no session slot became free within %d s (all %d in use)",
                             w->m->cfg->queue_timeout_ms / 1000, w->m->cfg->max_sessions);
    waiting_fail(w, BH_E_BUSY, msg);
    free(msg);
}

/* A slot is free: the longest-waiting create goes ahead. */
static void admit_waiting(struct bh_sessions *m)
{
    if (!m->waiting || m->shutdown_cb || m->live >= m->cfg->max_sessions)
        return;
    struct waiting *w = m->waiting;
    waiting_unlink(w);
    bh_session_create(m, &w->opts, w->cb, w->arg);
    free(w);
}

static void fail_now(bh_session_created_cb cb, void *arg, enum bh_err_kind kind, const char *msg)
{
    bh_err_t err = BH_ERR_INIT;
    bh_err_kind_set(&err, kind, "%s", msg);
    cb(arg, NULL, &err);
    bh_err_clear(&err);
}

/* s leaves the start phase (ready, or ending): let the next one start. */
static void start_finished(struct bh_session *s)
{
    struct bh_sessions *m = s->m;
    if (s->queued) { /* ended while waiting: just leave the queue */
        for (struct bh_session **pp = &m->queue; *pp; pp = &(*pp)->qnext)
            if (*pp == s) {
                *pp = s->qnext;
                break;
            }
        s->queued = 0;
    }
    if (!s->counted)
        return;
    s->counted = 0;
    m->starting--;
    while (m->queue && m->starting < m->max_starting && !m->shutdown_cb) {
        struct bh_session *next = m->queue;
        m->queue = next->qnext;
        next->queued = 0;
        session_begin_start(next);
    }
}

void bh_session_create(bh_sessions_t *m, struct bh_create_opts *opts, bh_session_created_cb cb,
                       void *arg)
{
    const struct bh_config *cfg = m->cfg;
    if (m->shutdown_cb) {
        bh_create_opts_clear(opts);
        fail_now(cb, arg, BH_E_SHUTDOWN, "the daemon is shutting down");
        return;
    }
    if (m->live >= cfg->max_sessions) {
        if (m->nwaiting >= cfg->queue_max) {
            bh_create_opts_clear(opts);
            char *msg = bh_xasprintf("all %d session slots are in use and %d creates wait",
                                     cfg->max_sessions, m->nwaiting);
            fail_now(cb, arg, BH_E_BUSY, msg);
            free(msg);
            return;
        }
        /* wait (FIFO) for a slot, up to the queue timeout */
        struct waiting *w = bh_xcalloc(1, sizeof *w);
        w->m = m;
        w->opts = *opts;
        memset(opts, 0, sizeof *opts);
        w->cb = cb;
        w->arg = arg;
        w->timer = bh_timer_new(m->loop, waiting_timeout, w);
        w->since = bh_mono_ms();
        bh_timer_set(w->timer, cfg->queue_timeout_ms);
        struct waiting **pp = &m->waiting;
        while (*pp)
            pp = &(*pp)->next;
        *pp = w;
        m->nwaiting++;
        return;
    }
    char id[33];
    bh_err_t err = BH_ERR_INIT;
    if (bh_random_hex(id, 16, &err) < 0) {
        bh_create_opts_clear(opts);
        fail_now(cb, arg, BH_E_INTERNAL, bh_err_msg(&err));
        bh_err_clear(&err);
        return;
    }

    struct bh_session *s = session_new(m);
    struct bh_session_row *r = &s->row;
    snprintf(r->id, sizeof r->id, "%s", id);
    snprintf(r->type, sizeof r->type, "%s", opts->type);
    snprintf(r->status, sizeof r->status, "starting");
    r->url = steal_pointer(&opts->url);
    r->network = bh_create_opts_network_json(opts);
    session_take_policy(s, opts);
    r->created_at = bh_now_ms();
    r->expires_at = r->created_at + (int64_t)opts->ttl * 1000;
    r->viewport_w = opts->viewport_w;
    r->viewport_h = opts->viewport_h;
    r->idle_timeout = opts->idle_timeout;
    r->ttl = opts->ttl;
    s->page_load_ms = opts->page_load_ms;
    r->memory_bytes = (int64_t)cfg->memory_bytes;
    r->pids_max = (int64_t)cfg->pids_max;
    r->cpus = cfg->cpus;
    snprintf(r->runtime, sizeof r->runtime, "%s", bh_runtime_name(cfg->runtime));
    snprintf(r->owner, sizeof r->owner, "%s", opts->owner[0] ? opts->owner : "admin");
    if (bh_store_session_insert(m->store, r, &err) < 0) {
        bh_log(BH_LOG_ERROR, id, "store insert: %s", bh_err_msg(&err));
        bh_err_clear(&err);
    }
    session_event(s, "created", json_pack("{s:s}", "url", r->url));
    m->metrics.created++;
    bh_log(BH_LOG_INFO, id, "creating for %s", r->url);
    s->created_cb = cb;
    s->created_arg = arg;
    s->t_queued = bh_mono_ms();

    if (m->starting < m->max_starting) {
        session_begin_start(s);
        return;
    }
    s->queued = 1;
    struct bh_session **pp = &m->queue;
    while (*pp)
        pp = &(*pp)->qnext;
    *pp = s;
}

void bh_session_create_abandon(bh_sessions_t *m, void *arg)
{
    for (struct waiting *w = m->waiting; w; w = w->next)
        if (w->arg == arg) {
            waiting_fail(w, BH_E_SHUTDOWN, "client gone");
            return;
        }
    for (struct bh_session *s = m->list; s; s = s->next)
        if (s->created_cb && s->created_arg == arg && s->state == S_STARTING) {
            bh_log(BH_LOG_INFO, s->row.id, "its client left before it was ready: ending it");
            session_end(s, "error", "client gone");
            return;
        }
}

bh_session_t *bh_session_find(bh_sessions_t *m, const char *id)
{
    for (struct bh_session *s = m->list; s; s = s->next)
        if (!strcmp(s->row.id, id))
            return s;
    return NULL;
}

const char *bh_session_id(const bh_session_t *s) { return s->row.id; }
int bh_session_ready(const bh_session_t *s) { return s->state == S_READY; }
int bh_sessions_live(const bh_sessions_t *m) { return m->live; }
const struct bh_session_row *bh_session_info(const bh_session_t *s) { return &s->row; }

int bh_session_put_file(bh_session_t *s, const char *name, const void *data, size_t len,
                        bh_err_t *err)
{
    if (s->state != S_READY || s->row.pid <= 0)
        return bh_err_kind_set(err, BH_E_NOT_READY, "the session is not ready");
    /* as the sandbox's user (1000 inside) seen from the host */
    uint32_t uid = s->row.uid_base ? s->row.uid_base + 1000 : 0;
    return bh_sandbox_put_file(s->row.pid, uid, uid, BH_UPLOAD_DIR, name, data, len, err);
}

int bh_sessions_owned(const bh_sessions_t *m, const char *owner)
{
    int n = 0;
    for (const struct bh_session *s = m->list; s; s = s->next)
        if (s->state != S_ENDING && !strcmp(s->row.owner, owner))
            n++;
    for (const struct waiting *w = m->waiting; w; w = w->next)
        if (!strcmp(w->opts.owner, owner))
            n++;
    return n;
}

static json_t *time_or_null(int64_t ms)
{
    if (!ms)
        return json_null();
    char *t = bh_time_iso(ms);
    json_t *j = json_string(t);
    free(t);
    return j;
}

static json_t *str_or_null(const char *s) { return s && *s ? json_string(s) : json_null(); }

json_t *bh_session_json(bh_sessions_t *m, const struct bh_session_row *r)
{
    const char *base = m->cfg->public_url;
    const char *wsbase = !strncmp(base, "https://", 8) ? "wss://" : "ws://";
    const char *hostpart = strstr(base, "://") ? strstr(base, "://") + 3 : base;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "type", json_string(r->type));
    json_object_set_new(o, "status", json_string(r->status));
    json_object_set_new(o, "url", json_string(r->url ? r->url : ""));
    json_object_set_new(o, "createdAt", time_or_null(r->created_at));
    json_object_set_new(o, "expiresAt", time_or_null(r->ended_at ? 0 : r->expires_at));
    json_object_set_new(o, "endedAt", time_or_null(r->ended_at));
    json_object_set_new(o, "endReason", str_or_null(r->end_reason));
    json_object_set_new(o, "endDetail", str_or_null(r->end_detail));
    json_object_set_new(o, "limits",
                        json_pack("{s:I, s:I, s:f}", "memoryBytes", (json_int_t)r->memory_bytes,
                                  "pids", (json_int_t)r->pids_max, "cpus", r->cpus));
    json_object_set_new(o, "viewport",
                        json_pack("{s:i, s:i}", "width", r->viewport_w, "height", r->viewport_h));
    json_object_set_new(o, "idleTimeout", json_integer(r->idle_timeout));
    json_object_set_new(o, "ttl", json_integer(r->ttl));
    char *cdp = bh_xasprintf("%s%s/api/v1/sessions/%s/cdp", wsbase, hostpart, r->id);
    char *live = bh_xasprintf("%s%s/api/v1/sessions/%s/live", wsbase, hostpart, r->id);
    char *view = bh_xasprintf("%s/view/%s", base, r->id);
    json_object_set_new(o, "urls", json_pack("{s:s, s:s, s:s}", "cdp", cdp, "live", live, "view",
                                             view));
    free(cdp);
    free(live);
    free(view);
    json_object_set_new(o, "sandbox",
                        r->container_id[0]
                            ? json_pack("{s:s, s:s, s:i}", "runtime", r->runtime, "id",
                                        r->container_id, "pid", r->pid)
                            : json_null());
    json_t *net = r->network ? json_loads(r->network, 0, NULL) : NULL;
    if (!json_is_object(net)) {
        json_decref(net);
        net = json_pack("{s:s}", "policy", "internet");
    }
    json_object_set_new(net, "address", r->addr[0] ? json_string(r->addr) : json_null());
    json_object_set_new(o, "network", net);
    json_object_set_new(o, "page", json_null());
    return o;
}

json_t *bh_session_live_json(bh_session_t *s)
{
    json_t *o = bh_session_json(s->m, &s->row);
    if (s->state == S_READY && bh_live_viewers(s->live) == 0) {
        /* the earlier of the ttl and the idle deadline */
        int64_t idle_at = s->last_activity + (int64_t)s->row.idle_timeout * 1000;
        if (idle_at < s->row.expires_at)
            json_object_set_new(o, "expiresAt", time_or_null(idle_at));
    }
    if (s->state == S_READY)
        json_object_set_new(o, "page",
                            json_pack("{s:o, s:o, s:o}", "url", str_or_null(s->page_url), "title",
                                      json_string(s->title ? s->title : ""), "error",
                                      str_or_null(s->page_error)));
    return o;
}

bh_sessions_t *bh_sessions_new(const struct bh_config *cfg, bh_loop_t *loop, bh_store_t *store,
                               bh_err_t *err)
{
    struct bh_sessions *m = bh_xcalloc(1, sizeof *m);
    m->cfg = cfg;
    m->loop = loop;
    m->store = store;
    m->runtime_root = bh_xasprintf("%s/%s", cfg->run_dir, bh_runtime_name(cfg->runtime));
    m->bundles_dir = bh_xasprintf("%s/bundles", cfg->state_dir);
    m->image_dir = bh_xasprintf("%s/image", cfg->state_dir);
    m->sessions_dir = bh_xasprintf("%s/sessions", cfg->run_dir);
    m->env.runtime = cfg->runtime;
    m->env.runtime_root = m->runtime_root;
    m->env.bundles_dir = m->bundles_dir;
    m->env.image_dir = m->image_dir;
    m->userns.first = cfg->userns_first;
    m->userns.count = cfg->userns_ranges;
    m->net.bridge = cfg->bridge;
    m->net.subnet = cfg->subnet;
    m->net.dns = cfg->dns;
    m->net.always_allow = cfg->egress_allow;
    m->net.nalways_allow = cfg->negress_allow;
    m->net.always_deny = cfg->egress_deny;
    m->net.nalways_deny = cfg->negress_deny;
    if (bh_mkdir_p(m->runtime_root, 0700, err) < 0 || bh_mkdir_p(m->bundles_dir, 0700, err) < 0 ||
        bh_sandbox_prepare_image(&m->env, err) < 0 ||
        (cfg->dns && bh_sandbox_set_dns(&m->env, cfg->dns, err) < 0) ||
        bh_net_init(&m->net, err) < 0) {
        free(m->runtime_root);
        free(m->bundles_dir);
        free(m->image_dir);
        free(m->sessions_dir);
        free(m);
        return NULL;
    }
    m->workers = bh_workers_new(loop, cfg->workers);
    m->max_starting = cfg->max_starting;
    m->start_finished = start_finished;
    m->session_freed = admit_waiting;
    return m;
}

/* Stop serving s but leave its sandbox running for the next start to adopt
 * (--on-shutdown leave): its clients are told to come back (1012). */
static void leave(struct bh_session *s)
{
    session_detach(s, 1012, "the daemon is restarting; reconnect");
    session_event(s, "left",
                  json_pack("{s:s}", "detail", "the daemon stopped and left it running"));
    bh_log(BH_LOG_INFO, s->row.id, "left running for the next start");
    s->m->left++;
    session_free(s);
}

static void flushed(void *arg)
{
    struct bh_sessions *m = arg;
    m->shutdown_cb(m->shutdown_arg);
}

void bh_sessions_shutdown(bh_sessions_t *m, void (*done)(void *), void *arg)
{
    m->shutdown_cb = done;
    m->shutdown_arg = arg;
    while (m->waiting)
        waiting_fail(m->waiting, BH_E_SHUTDOWN, "the daemon is shutting down");
    if (m->live == 0) {
        done(arg);
        return;
    }
    for (struct bh_session *s = m->list, *next; s; s = next) {
        next = s->next;
        if (m->cfg->leave_on_shutdown && s->state == S_READY)
            leave(s);
        else
            session_end(s, "shutdown", "the daemon stopped");
    }
    if (m->live == 0) {
        /* nothing is being destroyed that would give the closes time */
        m->flush_timer = bh_timer_new(m->loop, flushed, m);
        bh_timer_set(m->flush_timer, 300);
    }
}

int bh_sessions_left(const bh_sessions_t *m) { return m->left; }

void bh_sessions_free(bh_sessions_t *m)
{
    if (!m)
        return;
    bh_workers_free(m->workers);
    bh_timer_free(m->flush_timer);
    while (m->list)
        session_free(m->list);
    free(m->runtime_root);
    free(m->bundles_dir);
    free(m->image_dir);
    free(m->sessions_dir);
    free(m);
}
