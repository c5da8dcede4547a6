/* session_pool.c — the warm pool (--pool N): sessions of the first kind
 * started ahead from an empty create body, up to ready, and kept there
 * with no clock running and no owner (BH_POOL_OWNER in the store; the API
 * shows none). A create whose settings such a session serves exactly as a
 * cold start would (the kind's pool_fits; the default network, no proxy)
 * takes one: the session gets the create's owner, timeouts and url, and
 * its kind brings it to ready again (the first page). Each pooled sandbox
 * serves one session and ends with it, like any. Refills start one session
 * at a time, and only while nothing else needs the machine: no create
 * waiting or starting, no session ending, memory to spare (the backend's
 * short_of_memory). Pooled sessions hold session slots: a create that
 * waits for a slot ends one. They survive a restart like any session
 * (adopted back into the pool, or removed). */
#include "session/session_int.h"

#include <stdio.h>
#include <string.h>

#include "lib/log.h"

/* after a pooled start failed, or while memory is short */
#define POOL_RETRY_MS 5000

static int counts_in_pool(const struct bh_session *s)
{
    return s->pooled && s->state != BH_STATE_ENDING;
}

/* Whether a refill would take something from a create or an end. */
static int machine_busy(const struct bh_sessions *m, int *pooled, int *pool_starting)
{
    int busy = m->nwaiting > 0 || m->queue != NULL;
    *pooled = *pool_starting = 0;
    for (const struct bh_session *s = m->list; s; s = s->next) {
        if (counts_in_pool(s)) {
            (*pooled)++;
            *pool_starting += s->state == BH_STATE_STARTING;
        } else if (s->state != BH_STATE_READY) {
            busy = 1; /* a create starting (or claiming), or a session ending */
        }
    }
    return busy;
}

void pool_refill(struct bh_sessions *m)
{
    /* on the next pass of the loop: what called it (a create's reply)
     * goes out first */
    if (!m->shutdown_cb && (m->cfg->pool > 0 || m->pool_extra))
        bh_timer_set(m->pool_timer, 0); /* refill_now waits out a retry */
}

static void refill_now(struct bh_sessions *m)
{
    const struct bh_config *cfg = m->cfg;
    if (m->shutdown_cb)
        return;
    int pooled, pool_starting;
    int busy = machine_busy(m, &pooled, &pool_starting);
    /* more than --pool asks for: a previous run's, adopted */
    for (struct bh_session *s = m->list, *next; s && pooled > cfg->pool; s = next) {
        next = s->next;
        if (counts_in_pool(s)) {
            session_end(s, "shutdown", "the pool is smaller now");
            pooled--;
        }
    }
    m->pool_extra = 0;
    if (busy || pool_starting > 0 || pooled >= cfg->pool || m->live >= cfg->max_sessions)
        return; /* the next start's or end's finish calls again */
    int64_t now = bh_mono_ms();
    if (now < m->pool_retry_at) {
        bh_timer_set(m->pool_timer, m->pool_retry_at - now);
        return;
    }
    m->pool_retry_at = 0;
    if (m->backend->ops->short_of_memory && m->backend->ops->short_of_memory(m->backend)) {
        bh_log(BH_LOG_DEBUG, NULL, "pool: memory is short; refilling later");
        m->pool_retry_at = now + POOL_RETRY_MS;
        bh_timer_set(m->pool_timer, POOL_RETRY_MS);
        return;
    }
    struct bh_create_opts opts;
    struct bh_invalid why;
    if (bh_validate_create("{}", 2, cfg, &opts, &why) < 0) {
        bh_log(BH_LOG_ERROR, NULL, "pool: the default settings: %s", why.msg);
        return;
    }
    session_launch(m, &opts, NULL, NULL, 1);
}

void pool_timer_fired(void *arg) { refill_now(arg); }

struct bh_session *pool_find(struct bh_sessions *m, const struct bh_create_opts *opts)
{
    for (struct bh_session *s = m->list; s; s = s->next) {
        if (!s->pooled || s->state != BH_STATE_READY || s->kind != opts->kind ||
            !s->kind->pool_fits)
            continue;
        /* its egress rules are the default policy's, with no proxy */
        if (opts->net_mode != s->net_mode || opts->nallow || s->nallow || opts->proxy ||
            s->upstream)
            continue;
        if (s->kind->pool_fits(s->k, opts->kind_opts))
            return s;
    }
    return NULL;
}

void pool_claim(struct bh_session *s, struct bh_create_opts *opts, bh_session_created_cb cb,
                void *arg)
{
    struct bh_sessions *m = s->m;
    struct bh_session_row *r = &s->row;
    int64_t waited = bh_mono_ms() - s->t_pooled;
    s->pooled = 0;
    s->claimed = 1;
    s->state = BH_STATE_STARTING;
    s->created_cb = cb;
    s->created_arg = arg;
    s->t_queued = s->phase_mark = bh_mono_ms();
    s->nphases = 0;
    snprintf(r->owner, sizeof r->owner, "%s", opts->owner[0] ? opts->owner : "admin");
    r->idle_timeout = opts->idle_timeout;
    r->ttl = opts->ttl;
    r->created_at = bh_now_ms();
    r->expires_at = r->created_at + (int64_t)r->ttl * 1000;
    snprintf(r->status, sizeof r->status, "starting");
    void *kind_opts = steal_pointer(&opts->kind_opts);
    bh_create_opts_clear(opts);
    s->kind->pool_claim(s->k, kind_opts, r);
    session_store_update(s);
    session_event(s, "created",
                  json_pack("{s:s?, s:I}", "url", r->url, "pooledMs", (json_int_t)waited));
    m->metrics.created++;
    bh_log(BH_LOG_INFO, r->id, "created from the pool for %s", r->url ? r->url : r->type);
    bh_timer_set(s->start_timer, m->cfg->start_timeout_ms);
    /* the kind is ready again, or loads the first page (the start clock
     * bounds it) */
}

int pool_evict(struct bh_sessions *m)
{
    struct bh_session *victim = NULL;
    for (struct bh_session *s = m->list; s; s = s->next)
        if (counts_in_pool(s) && (!victim || s->state == BH_STATE_STARTING))
            victim = s; /* a starting one costs least to give up */
    if (!victim)
        return 0;
    bh_log(BH_LOG_INFO, victim->row.id, "pool: ending it for a create that waits for a slot");
    session_end(victim, "deleted", "its slot went to a create");
    return 1;
}

void pool_ready(struct bh_session *s)
{
    s->t_pooled = bh_mono_ms();
    bh_metrics_pool_refill(&s->m->metrics, (double)(s->t_pooled - s->t_queued) / 1000.0);
    session_event(s, "pool_ready", json_pack("{s:o}", "timingsMs", session_timings(s)));
    bh_log(BH_LOG_INFO, s->row.id, "ready in the pool (pid %d, %s)", s->row.pid, s->row.addr);
}

void pool_ended(struct bh_session *s)
{
    struct bh_sessions *m = s->m;
    bh_err_t err = BH_ERR_INIT;
    if (bh_store_session_delete(m->store, s->row.id, &err) < 0) {
        bh_log(BH_LOG_ERROR, s->row.id, "store delete: %s", bh_err_msg(&err));
        bh_err_clear(&err);
    }
    m->metrics.pool_discarded++;
    if (strcmp(s->end_reason, "deleted") && strcmp(s->end_reason, "shutdown")) {
        /* it failed: not again at once */
        m->pool_retry_at = bh_mono_ms() + POOL_RETRY_MS;
        bh_log(BH_LOG_WARN, s->row.id, "pool: a pooled session ended (%s%s%s); refilling in %d s",
               s->end_reason, s->end_detail ? ": " : "", s->end_detail ? s->end_detail : "",
               POOL_RETRY_MS / 1000);
    } else {
        bh_log(BH_LOG_INFO, s->row.id, "pool: ended (%s)", s->end_reason);
    }
}
