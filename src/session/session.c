/* session.c — the session manager (see session.h): the live sessions,
 * capacity (--max-sessions and the FIFO of creates waiting for a slot),
 * start slots (--max-starting and the queue of sessions waiting for one),
 * create, shutdown, and the public queries of a session. The modules
 * below it are listed in session_int.h. */
#include "session/session_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kinds/kinds.h"
#include "lib/log.h"

static void start_finished(struct bh_session *s);

/* A GET waiting for its session's kind to refresh. */
struct refresh_call {
    bh_session_t *s;
    void (*cb)(void *arg, bh_session_t *s);
    void *arg;
};

static void refresh_done(void *arg)
{
    struct refresh_call *rc = arg;
    rc->cb(rc->arg, rc->s);
    free(rc);
}
static void admit_waiting(struct bh_sessions *m);
static void create_or_wait(struct bh_sessions *m, struct bh_create_opts *opts,
                           bh_session_created_cb cb, void *arg);
static void fail_now(bh_session_created_cb cb, void *arg, enum bh_err_kind kind, const char *msg);

struct bh_session *session_new(struct bh_sessions *m, const struct bh_kind *kind)
{
    struct bh_session *s = bh_xcalloc(1, sizeof *s);
    s->m = m;
    s->kind = kind;
    s->start_timer = bh_timer_new(m->loop, session_start_timeout, s);
    s->ttl_timer = bh_timer_new(m->loop, session_ttl_expired, s);
    s->idle_timer = bh_timer_new(m->loop, session_idle_expired, s);
    s->grace_timer = bh_timer_new(m->loop, session_grace_over, s);
    s->next = m->list;
    m->list = s;
    m->live++;
    return s;
}

/* The session's egress policy, upstream proxy and kind's state from
 * validated create options (taken over). With an upstream proxy, the proxy
 * is the only way out (and the allow-list, if one was given). */
void session_take_opts(struct bh_session *s, struct bh_create_opts *opts,
                       struct bh_session_row *row)
{
    s->net_mode = opts->net_mode;
    s->nallow = opts->nallow;
    s->allow = steal_pointer(&opts->allow);
    s->upstream = steal_pointer(&opts->proxy);
    s->k = s->kind->create(s, &session_kind_ops, steal_pointer(&opts->kind_opts), row);
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
    if (!m->waiting || m->shutdown_cb || m->live >= m->cfg->max_sessions) {
        pool_refill(m);
        return;
    }
    struct waiting *w = m->waiting;
    waiting_unlink(w);
    create_or_wait(m, &w->opts, w->cb, w->arg);
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
    if (s->counted) {
        s->counted = 0;
        m->starting--;
        while (m->queue && m->starting < m->max_starting && !m->shutdown_cb) {
            struct bh_session *next = m->queue;
            m->queue = next->qnext;
            next->queued = 0;
            session_begin_start(next);
        }
    }
    pool_refill(m);
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
    if (cfg->pool > 0) {
        struct bh_session *p = pool_find(m, opts);
        if (p) {
            m->metrics.pool_hits++;
            pool_claim(p, opts, cb, arg);
            return;
        }
        m->metrics.pool_misses++;
    }
    create_or_wait(m, opts, cb, arg);
}

/* A create the pool does not serve: a slot now, or wait for one. */
static void create_or_wait(struct bh_sessions *m, struct bh_create_opts *opts,
                           bh_session_created_cb cb, void *arg)
{
    const struct bh_config *cfg = m->cfg;
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
        /* a slot the pool holds goes to it: one pooled session ends for
         * each create that waits (its end admits the longest waiting) */
        pool_evict(m);
        return;
    }
    session_launch(m, opts, cb, arg, 0);
}

void session_launch(struct bh_sessions *m, struct bh_create_opts *opts, bh_session_created_cb cb,
                    void *arg, int pooled)
{
    const struct bh_config *cfg = m->cfg;
    char id[33];
    bh_err_t err = BH_ERR_INIT;
    if (bh_random_hex(id, 16, &err) < 0) {
        bh_create_opts_clear(opts);
        if (cb)
            fail_now(cb, arg, BH_E_INTERNAL, bh_err_msg(&err));
        bh_err_clear(&err);
        return;
    }

    struct bh_session *s = session_new(m, opts->kind);
    struct bh_session_row *r = &s->row;
    s->pooled = pooled;
    snprintf(r->id, sizeof r->id, "%s", id);
    snprintf(r->type, sizeof r->type, "%s", opts->kind->name);
    snprintf(r->status, sizeof r->status, "starting");
    r->network = bh_create_opts_network_json(opts);
    session_take_opts(s, opts, &s->row);
    bh_create_opts_clear(opts);
    r->idle_timeout = opts->idle_timeout;
    r->ttl = opts->ttl;
    r->created_at = bh_now_ms();
    /* a pooled session has no ttl until a create takes it */
    r->expires_at = pooled ? 0 : r->created_at + (int64_t)r->ttl * 1000;
    r->memory_bytes = (int64_t)cfg->memory_bytes;
    r->pids_max = (int64_t)cfg->pids_max;
    r->cpus = cfg->cpus;
    snprintf(r->owner, sizeof r->owner, "%s",
             pooled           ? BH_POOL_OWNER
             : opts->owner[0] ? opts->owner
                              : "admin");
    if (bh_store_session_insert(m->store, r, &err) < 0) {
        bh_log(BH_LOG_ERROR, id, "store insert: %s", bh_err_msg(&err));
        bh_err_clear(&err);
    }
    session_event(s, pooled ? "pooled" : "created", json_pack("{s:s?}", "url", r->url));
    if (!pooled)
        m->metrics.created++;
    bh_log(BH_LOG_INFO, id, "%s for %s", pooled ? "starting ahead (pool)" : "creating",
           r->url ? r->url : r->type);
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
        if (s->created_cb && s->created_arg == arg && s->state == BH_STATE_STARTING) {
            bh_log(BH_LOG_INFO, s->row.id, "its client left before it was ready: ending it");
            session_end(s, "error", "client gone");
            return;
        }
}

struct bh_session *session_lookup(struct bh_sessions *m, const char *id)
{
    for (struct bh_session *s = m->list; s; s = s->next)
        if (!strcmp(s->row.id, id))
            return s;
    return NULL;
}

bh_session_t *bh_session_find(bh_sessions_t *m, const char *id)
{
    struct bh_session *s = session_lookup(m, id);
    return s && !s->pooled ? s : NULL;
}

const char *bh_session_id(const bh_session_t *s) { return s->row.id; }
int bh_session_ready(const bh_session_t *s) { return s->state == BH_STATE_READY; }
int bh_session_ending(const bh_session_t *s) { return s->state == BH_STATE_ENDING; }
int bh_sessions_live(const bh_sessions_t *m) { return m->live; }
const struct bh_session_row *bh_session_info(const bh_session_t *s) { return &s->row; }

const struct bh_kind *bh_session_kind(const bh_session_t *s) { return s->kind; }
void *bh_session_kind_state(const bh_session_t *s) { return s->k; }

int64_t bh_session_idle_deadline(const bh_session_t *s)
{
    if (s->state != BH_STATE_READY || (s->kind->watched && s->kind->watched(s->k)))
        return 0;
    return s->last_activity + (int64_t)s->row.idle_timeout * 1000;
}

void bh_session_refresh(bh_session_t *s, void (*cb)(void *arg, bh_session_t *s), void *arg)
{
    if (s->state != BH_STATE_READY || !s->kind->refresh) {
        cb(arg, s);
        return;
    }
    /* the session outlives the refresh: its end answers the refreshes */
    struct refresh_call *rc = bh_xcalloc(1, sizeof *rc);
    rc->s = s;
    rc->cb = cb;
    rc->arg = arg;
    s->kind->refresh(s->k, refresh_done, rc);
}

void bh_sessions_counts(const bh_sessions_t *m, struct bh_sessions_counts *c)
{
    memset(c, 0, sizeof *c);
    for (const struct bh_session *s = m->list; s; s = s->next) {
        if (s->pooled && s->state != BH_STATE_ENDING) {
            c->pool_starting += s->state == BH_STATE_STARTING;
            c->pool_ready += s->state == BH_STATE_READY;
            continue;
        }
        c->starting += s->state == BH_STATE_STARTING;
        c->ready += s->state == BH_STATE_READY;
        c->ending += s->state == BH_STATE_ENDING;
    }
    for (const struct bh_session *q = m->queue; q; q = q->qnext)
        c->start_queue++;
    c->waiting = m->nwaiting;
    c->pool_target = m->cfg->pool;
}

const struct bh_metrics *bh_sessions_metrics(const bh_sessions_t *m) { return &m->metrics; }

void bh_sessions_kind_metrics(const bh_sessions_t *m, const struct bh_kind *kind,
                              unsigned long long *v)
{
    int ki = bh_kind_index(kind);
    for (int i = 0; i < kind->nmetrics; i++)
        v[i] = kind->metrics[i].counter && ki >= 0 ? m->kind_done[ki][i] : 0;
    for (const struct bh_session *s = m->list; s; s = s->next) {
        if (s->kind != kind || !kind->metric_values)
            continue;
        unsigned long long sv[BH_KIND_METRICS_MAX] = {0};
        kind->metric_values(s->k, sv);
        for (int i = 0; i < kind->nmetrics; i++)
            v[i] += sv[i];
    }
}

void bh_sessions_foreach(bh_sessions_t *m, void (*cb)(void *arg, bh_session_t *s), void *arg)
{
    for (struct bh_session *s = m->list, *next; s; s = next) {
        next = s->next;
        if (!s->pooled)
            cb(arg, s);
    }
}

int bh_session_usage(bh_session_t *s, struct bh_usage *u)
{
    if (!s->watched)
        return -1;
    return s->m->backend->ops->usage(s->m->backend, s->row.id, u);
}

void bh_sessions_readiness(bh_sessions_t *m, json_t *checks, int *ready)
{
    m->backend->ops->readiness(m->backend, checks, ready);
    json_object_set_new(checks, "accepting",
                        json_string(m->shutdown_cb ? "the daemon is shutting down" : "ok"));
    if (m->shutdown_cb)
        *ready = 0;
}

int bh_sessions_owned(const bh_sessions_t *m, const char *owner)
{
    int n = 0;
    for (const struct bh_session *s = m->list; s; s = s->next)
        if (s->state != BH_STATE_ENDING && !strcmp(s->row.owner, owner))
            n++;
    for (const struct waiting *w = m->waiting; w; w = w->next)
        if (!strcmp(w->opts.owner, owner))
            n++;
    return n;
}

bh_sessions_t *bh_sessions_new(const struct bh_config *cfg, bh_loop_t *loop, bh_store_t *store,
                               bh_backend_t *backend, bh_err_t *err)
{
    (void)err;
    struct bh_sessions *m = bh_xcalloc(1, sizeof *m);
    m->cfg = cfg;
    m->loop = loop;
    m->store = store;
    m->backend = backend;
    m->max_starting = cfg->max_starting;
    m->start_finished = start_finished;
    m->session_freed = admit_waiting;
    m->pool_timer = bh_timer_new(loop, pool_timer_fired, m);
    return m;
}

/* Stop serving s but leave its sandbox running for the next start to adopt
 * (--on-shutdown leave): its clients are told to come back (1012). */
static void leave(struct bh_session *s)
{
    session_detach(s, 1012, "the daemon is restarting; reconnect");
    s->m->backend->ops->forget(s->m->backend, s->row.id);
    s->watched = 0;
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
    bh_timer_cancel(m->pool_timer);
    while (m->waiting)
        waiting_fail(m->waiting, BH_E_SHUTDOWN, "the daemon is shutting down");
    if (m->live == 0) {
        done(arg);
        return;
    }
    for (struct bh_session *s = m->list, *next; s; s = next) {
        next = s->next;
        if (m->cfg->leave_on_shutdown && s->state == BH_STATE_READY)
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

bh_sessions_t *bh_sessions_detach_backend(bh_sessions_t *m)
{
    m->backend = NULL;
    return m;
}

void bh_sessions_free(bh_sessions_t *m)
{
    if (!m)
        return;
    bh_timer_free(m->flush_timer);
    bh_timer_free(m->pool_timer);
    /* the backend's jobs finish first: their results still name sessions */
    if (m->backend)
        m->backend->ops->free(m->backend);
    while (m->list)
        session_free(m->list);
    free(m);
}
