/* session_life.c — the life of a session: its states (STARTING → READY →
 * ENDING → freed), its timers (start, ttl, idle, the channel's grace), the
 * process's exit and output as the backend reports them, becoming ready
 * (the kind then takes clients), the services a kind calls (kinds/kind.h),
 * and the end: the kind's loop-side resources dropped at once, then the
 * backend removes the sandbox, then the row is marked ended and the
 * waiters are told. Nothing is freed inside a callback of the object being
 * freed. */
#include "session/session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kinds/kinds.h"
#include "lib/log.h"

void session_store_update(struct bh_session *s)
{
    bh_err_t err = BH_ERR_INIT;
    if (bh_store_session_update(s->m->store, &s->row, &err) < 0) {
        bh_log(BH_LOG_ERROR, s->row.id, "store update: %s", bh_err_msg(&err));
        bh_err_clear(&err);
    }
}

void session_event(struct bh_session *s, const char *type, json_t *detail)
{
    bh_err_t err = BH_ERR_INIT;
    char *d = detail ? bh_json_dump(detail) : NULL;
    if (bh_store_event_add(s->m->store, s->row.id, type, d, &err) < 0) {
        bh_log(BH_LOG_ERROR, s->row.id, "store event: %s", bh_err_msg(&err));
        bh_err_clear(&err);
    }
    free(d);
    json_decref(detail);
}

/* The last lines the process printed, for error messages, without what its
 * kind calls noise. Caller frees. */
static char *log_tail(struct bh_session *s)
{
    char *copy = bh_xasprintf("%.*s", (int)s->loglen, s->logtail);
    const char *keep[3] = {NULL, NULL, NULL};
    int n = 0;
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if ((s->kind->log_noise && s->kind->log_noise(line)) ||
            strspn(line, " \t\r") == strlen(line))
            continue;
        if (n == 3) {
            keep[0] = keep[1];
            keep[1] = keep[2];
            n = 2;
        }
        keep[n++] = line;
    }
    char *out = bh_xasprintf("%s%s%s%s%s", n > 0 ? keep[0] : "", n > 1 ? "\n" : "",
                             n > 1 ? keep[1] : "", n > 2 ? "\n" : "", n > 2 ? keep[2] : "");
    free(copy);
    return out;
}

void session_on_output(void *arg, const char *buf, size_t k)
{
    struct bh_session *s = arg;
    /* keep the tail only */
    if (k >= sizeof s->logtail) {
        memcpy(s->logtail, buf + k - sizeof s->logtail, sizeof s->logtail);
        s->loglen = sizeof s->logtail;
        return;
    }
    if (s->loglen + k > sizeof s->logtail) {
        size_t drop = s->loglen + k - sizeof s->logtail;
        memmove(s->logtail, s->logtail + drop, s->loglen - drop);
        s->loglen -= drop;
    }
    memcpy(s->logtail + s->loglen, buf, k);
    s->loglen += k;
}

/* The process is gone (what: how), or its channel closed for good. */
static void process_gone(struct bh_session *s, const char *what)
{
    if (s->state == BH_STATE_ENDING)
        return;
    const char *by_detail = NULL;
    const char *by = s->state == BH_STATE_READY && s->kind->ended_by_client
                         ? s->kind->ended_by_client(s->k, &by_detail)
                         : NULL;
    if (by) {
        bh_log(BH_LOG_INFO, s->row.id, "%s", by_detail);
        session_end(s, by, by_detail);
        return;
    }
    char *tail = log_tail(s);
    char *detail = bh_xasprintf("%s %s%s%s", s->kind->name, what, *tail ? ": " : "", tail);
    bh_log(BH_LOG_WARN, s->row.id, "%s", detail);
    if (s->state == BH_STATE_READY)
        session_event(s, "crashed", json_pack("{s:s}", "cause", detail));
    session_end(s, s->state == BH_STATE_STARTING ? "error" : "crashed", detail);
    free(detail);
    free(tail);
}

void session_on_exited(void *arg, const char *what)
{
    struct bh_session *s = arg;
    s->exited = 1;
    process_gone(s, what);
}

void session_grace_over(void *arg) { process_gone(arg, "closed its control pipe"); }

static void op_channel_closed(bh_session_t *s)
{
    /* the exit of the process usually follows at once and tells more */
    if (s->watched && !s->exited && s->state != BH_STATE_ENDING) {
        bh_timer_set(s->grace_timer, 1000);
        return;
    }
    process_gone(s, "closed its control pipe");
}

/* Clients' input keeps a session alive; so does a client the kind says
 * watches it (a person reading a page sends no input). */
static void op_touch(bh_session_t *s)
{
    if (s->state != BH_STATE_READY || s->pooled)
        return;
    s->last_activity = bh_now_ms();
    bh_timer_set(s->idle_timer, (int64_t)s->row.idle_timeout * 1000);
}

void session_idle_expired(void *arg)
{
    struct bh_session *s = arg;
    if (s->kind->watched && s->kind->watched(s->k)) {
        op_touch(s);
        return;
    }
    bh_log(BH_LOG_INFO, s->row.id, "idle for %d s", s->row.idle_timeout);
    session_end(s, "idle", NULL);
}

static void op_kind_up(bh_session_t *s)
{
    if (s->state != BH_STATE_STARTING)
        return;
    bh_timer_cancel(s->start_timer);
    s->m->start_finished(s);
}

void session_phase_ms(bh_session_t *s, const char *name, int ms)
{
    if (s->nphases < PHASES_MAX) {
        s->phases[s->nphases].name = name;
        s->phases[s->nphases++].ms = ms;
    }
}

void session_phase(bh_session_t *s, const char *name)
{
    int64_t now = bh_mono_ms();
    session_phase_ms(s, name, (int)(now - s->phase_mark));
    s->phase_mark = now;
}

json_t *session_timings(struct bh_session *s)
{
    /* what the phases do not name: the wait for a start slot, hand-offs
     * between the loop and the workers, the store */
    int64_t named = 0;
    for (int i = 0; i < s->nphases; i++)
        named += s->phases[i].ms;
    json_t *timings = json_object();
    for (int i = 0; i < s->nphases; i++)
        json_object_set_new(timings, s->phases[i].name, json_integer(s->phases[i].ms));
    int64_t total = bh_mono_ms() - s->t_queued;
    json_object_set_new(timings, "other", json_integer(total > named ? total - named : 0));
    json_object_set_new(timings, "total", json_integer((json_int_t)total));
    return timings;
}

static void op_kind_ready(bh_session_t *s)
{
    if (s->state != BH_STATE_STARTING)
        return;
    bh_timer_cancel(s->start_timer);
    s->state = BH_STATE_READY;
    if (!s->kind_readied) {
        s->kind_readied = 1;
        s->kind->ready(s->k);
    }
    snprintf(s->row.status, sizeof s->row.status, "ready");
    session_store_update(s);
    if (s->pooled) { /* no clock runs until a create takes it */
        s->adopting = 0;
        pool_ready(s);
        s->m->start_finished(s);
        return;
    }
    s->m->start_finished(s);
    int64_t left = s->row.expires_at - bh_now_ms();
    bh_timer_set(s->ttl_timer, left > 0 ? left : 1);
    op_touch(s); /* the idle clock starts at ready */
    if (s->adopting) {
        session_event(s, "adopted",
                      json_pack("{s:i, s:I}", "pid", s->row.pid, "ms",
                                (json_int_t)(bh_mono_ms() - s->t_start)));
        bh_log(BH_LOG_INFO, s->row.id, "adopted (pid %d, %s)", s->row.pid, s->row.addr);
        return;
    }
    int64_t now = bh_mono_ms();
    json_t *d = json_pack("{s:o}", "timingsMs", session_timings(s));
    if (s->claimed)
        json_object_set_new(d, "pool", json_true());
    if (s->kind->ready_event)
        s->kind->ready_event(s->k, d);
    session_event(s, "ready", d);
    bh_metrics_create_latency(&s->m->metrics, (double)(now - s->t_queued) / 1000.0);
    bh_log(BH_LOG_INFO, s->row.id, "ready (pid %d, %s)", s->row.pid, s->row.addr);
    bh_session_created_cb cb = s->created_cb;
    s->created_cb = NULL;
    if (cb)
        cb(s->created_arg, s, NULL);
}

void session_start_timeout(void *arg)
{
    struct bh_session *s = arg;
    char *tail = log_tail(s);
    char *d = bh_xasprintf("%s not ready within %d ms%s%s", s->kind->name,
                           s->m->cfg->start_timeout_ms, *tail ? ": " : "", tail);
    session_end(s, "error", d);
    free(d);
    free(tail);
}

void session_ttl_expired(void *arg)
{
    struct bh_session *s = arg;
    bh_log(BH_LOG_INFO, s->row.id, "ttl expired");
    session_end(s, "ttl", NULL);
}

void session_free(struct bh_session *s)
{
    struct bh_sessions *m = s->m;
    for (struct bh_session **pp = &m->list; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    m->live--;
    m->session_freed(m);
    bh_timer_free(s->start_timer);
    bh_timer_free(s->ttl_timer);
    bh_timer_free(s->idle_timer);
    bh_timer_free(s->grace_timer);
    if (s->k) {
        /* its counters live on in the manager's totals */
        int ki = bh_kind_index(s->kind);
        if (ki >= 0 && s->kind->metric_values) {
            unsigned long long v[BH_KIND_METRICS_MAX] = {0};
            s->kind->metric_values(s->k, v);
            for (int i = 0; i < s->kind->nmetrics; i++)
                if (s->kind->metrics[i].counter)
                    m->kind_done[ki][i] += v[i];
        }
        s->kind->destroy(s->k);
    }
    bh_session_row_clear(&s->row);
    free(s->end_detail);
    free(s->allow);
    free(s->upstream);
    free(s);
}

static void stopped(void *arg, const bh_err_t *err)
{
    struct bh_session *s = arg;
    struct bh_sessions *m = s->m;
    if (err)
        bh_log(BH_LOG_ERROR, s->row.id, "cleanup: %s", bh_err_msg(err));

    if (s->pooled) {
        pool_ended(s); /* it never was anyone's: its row goes */
    } else {
        snprintf(s->row.status, sizeof s->row.status, "ended");
        snprintf(s->row.end_reason, sizeof s->row.end_reason, "%s", s->end_reason);
        set_str(&s->row.end_detail, s->end_detail);
        s->row.ended_at = bh_now_ms();
        session_store_update(s);
        session_event(s, "ended",
                      json_pack("{s:s, s:s?}", "reason", s->end_reason, "detail", s->end_detail));
        bh_metrics_session_ended(&m->metrics, s->end_reason);
        bh_log(BH_LOG_INFO, s->row.id, "ended (%s)", s->end_reason);
    }

    bh_session_created_cb cb = s->created_cb;
    s->created_cb = NULL;
    if (cb) {
        bh_err_t err = BH_ERR_INIT;
        bh_err_kind_set(&err, !strcmp(s->end_reason, "shutdown") ? BH_E_SHUTDOWN : BH_E_INTERNAL,
                        "%s", s->end_detail ? s->end_detail : "session ended while starting");
        cb(s->created_arg, NULL, &err);
        bh_err_clear(&err);
    }
    struct waiter *w = s->waiters;
    s->waiters = NULL;
    session_free(s);
    while (w) {
        struct waiter *next = w->next;
        if (w->cb)
            w->cb(w->arg);
        free(w);
        w = next;
    }
    if (m->shutdown_cb && m->live == 0) {
        void (*done)(void *) = m->shutdown_cb;
        done(m->shutdown_arg);
    }
}

void session_end(struct bh_session *s, const char *reason, const char *detail)
{
    if (s->state == BH_STATE_ENDING)
        return;
    if (!s->end_reason[0]) {
        snprintf(s->end_reason, sizeof s->end_reason, "%s", reason);
        set_str(&s->end_detail, detail);
    }
    if (s->starting) { /* finish starting first; started() comes back here */
        s->end_pending = 1;
        return;
    }
    s->state = BH_STATE_ENDING;
    s->m->start_finished(s);
    char *why = bh_xasprintf("session ended: %s", s->end_reason);
    session_detach(s, 1001, why);
    free(why);
    s->watched = 0;
    s->m->backend->ops->stop(s->m->backend, s->row.id, stopped, s);
}

/* Drop everything of s on the loop's side: timers, the kind's clients
 * (closed with code and why), its channel, operations in flight. The
 * sandbox itself is left alone. */
void session_detach(struct bh_session *s, int code, const char *why)
{
    bh_timer_cancel(s->start_timer);
    bh_timer_cancel(s->ttl_timer);
    bh_timer_cancel(s->idle_timer);
    bh_timer_cancel(s->grace_timer);
    if (s->k)
        s->kind->detach(s->k, code, why);
}

void bh_session_end(bh_session_t *s, const char *reason, const char *detail, void (*cb)(void *),
                    void *arg)
{
    if (cb) {
        struct waiter *w = bh_xcalloc(1, sizeof *w);
        w->cb = cb;
        w->arg = arg;
        w->next = s->waiters;
        s->waiters = w;
    }
    session_end(s, reason, detail);
}

/* ------------------------------------------------ services for kinds */

static bh_loop_t *op_loop(const bh_session_t *s) { return s->m->loop; }
static const struct bh_config *op_config(const bh_session_t *s) { return s->m->cfg; }
static enum bh_session_state op_state(const bh_session_t *s) { return s->state; }
static const char *op_proxy(const bh_session_t *s) { return s->upstream; }

static void op_event(bh_session_t *s, const char *type, json_t *detail)
{
    session_event(s, type, detail);
}

static void op_kind_failed(bh_session_t *s, const char *reason, const char *detail)
{
    session_end(s, reason, detail);
}

static char *op_log_tail(bh_session_t *s) { return log_tail(s); }

static long long op_oom_kills(bh_session_t *s)
{
    struct bh_usage u;
    if (!s->watched || s->m->backend->ops->usage(s->m->backend, s->row.id, &u) < 0)
        return -1;
    return u.oom_kills;
}

static int op_put_file(bh_session_t *s, const char *dir, const char *name, const void *data,
                       size_t len, bh_err_t *err)
{
    if (s->state != BH_STATE_READY || !s->watched)
        return bh_err_kind_set(err, BH_E_NOT_READY, "the session is not ready");
    return s->m->backend->ops->put_file(s->m->backend, s->row.id, dir, name, data, len, err);
}

const struct bh_session_ops session_kind_ops = {
    .info = bh_session_info,
    .loop = op_loop,
    .config = op_config,
    .state = op_state,
    .proxy = op_proxy,
    .event = op_event,
    .phase = session_phase,
    .kind_up = op_kind_up,
    .kind_ready = op_kind_ready,
    .kind_failed = op_kind_failed,
    .channel_closed = op_channel_closed,
    .touch = op_touch,
    .log_tail = op_log_tail,
    .oom_kills = op_oom_kills,
    .put_file = op_put_file,
};
