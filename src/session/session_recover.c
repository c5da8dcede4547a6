/* session_recover.c — what a previous run left, reconciled before serving
 * (bh_sessions_recover): live rows adopted (the backend re-attaches their
 * process, the kind drives it to ready again) or ended, and what the
 * backend finds that no live session holds removed. */
#include "session/session_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kinds/kinds.h"
#include "lib/log.h"

/* Whether the store has a row of session id. */
static int row_known(void *arg, const char *id)
{
    struct bh_sessions *m = arg;
    struct bh_session_row row;
    memset(&row, 0, sizeof row);
    int known = bh_store_session_get(m->store, id, &row, NULL) > 0;
    bh_session_row_clear(&row);
    return known;
}

static int held(void *arg, const char *id) { return session_lookup(arg, id) != NULL; }

/* Re-attach to a session a previous run left running (its row r is taken
 * over on success): its settings read back, the backend re-attaches (its
 * egress policy applied again: the daemon's start rebuilt the firewall
 * without it), then the kind drives it to READY like a start. On failure
 * returns -1 with *reason and err saying why; nothing is changed. */
static int adopt(struct bh_sessions *m, struct bh_session_row *r, const char **reason,
                 bh_err_t *err)
{
    bh_backend_t *b = m->backend;
    *reason = "shutdown";
    if (r->expires_at && r->expires_at <= bh_now_ms()) {
        *reason = "ttl";
        return bh_err_set(err, 0, "its ttl ran out while the daemon was down");
    }
    cleanup_free char *settings = b->ops->load_settings(b, r->id, err);
    if (!settings)
        return -1;
    struct bh_create_opts opts;
    struct bh_invalid why;
    if (bh_validate_create(settings, strlen(settings), m->cfg, &opts, &why) < 0)
        return bh_err_set(err, EINVAL, "its saved settings: %s", why.msg);
    if (strcmp(opts.kind->name, r->type) != 0) {
        bh_create_opts_clear(&opts);
        return bh_err_set(err, EINVAL, "its saved settings are of another kind");
    }
    struct bh_session *s = session_new(m, opts.kind);
    /* the kind's state, from the settings; what it would write into a new
     * row is in r already */
    struct bh_session_row scratch;
    memset(&scratch, 0, sizeof scratch);
    session_take_opts(s, &opts, &scratch);
    bh_session_row_clear(&scratch);
    bh_create_opts_clear(&opts);
    struct bh_placement where;
    memset(&where, 0, sizeof where);
    snprintf(where.runtime, sizeof where.runtime, "%s", r->runtime);
    snprintf(where.container_id, sizeof where.container_id, "%s", r->container_id);
    snprintf(where.addr, sizeof where.addr, "%s", r->addr);
    where.pid = r->pid;
    where.uid_base = r->uid_base;
    struct bh_net_policy policy = session_policy(s);
    struct bh_started st;
    int crashed = 0;
    if (b->ops->adopt(b, r->id, &where, &policy, &session_backend_events, s, &st, &crashed, err) <
        0) {
        if (crashed)
            *reason = "crashed";
        session_free(s);
        return -1;
    }
    s->row = *r;
    memset(r, 0, sizeof *r);                          /* its heap fields are the session's now */
    s->pooled = !strcmp(s->row.owner, BH_POOL_OWNER); /* back into the pool */
    m->pool_extra |= s->pooled;
    s->watched = 1;
    s->state = BH_STATE_STARTING;
    s->adopting = 1;
    s->t_start = s->t_queued = bh_mono_ms();
    bh_timer_set(s->start_timer, m->cfg->start_timeout_ms);
    s->kind->attach(s->k, st.chan_in, st.chan_out, 1);
    return 0;
}

/* The row of a session that could not be adopted, or was not to be: its
 * sandbox removed, the row ended with reason and detail. */
static int end_row(struct bh_sessions *m, struct bh_session_row *r, const char *reason,
                   const char *detail, bh_err_t *err)
{
    m->backend->ops->reap(m->backend, r->id);
    if (!strcmp(r->owner, BH_POOL_OWNER)) { /* no one's: nothing to keep */
        m->metrics.pool_discarded++;
        return bh_store_session_delete(m->store, r->id, err);
    }
    snprintf(r->status, sizeof r->status, "ended");
    snprintf(r->end_reason, sizeof r->end_reason, "%s", reason);
    free(r->end_detail);
    r->end_detail = bh_xstrdup(detail);
    r->ended_at = bh_now_ms();
    if (bh_store_session_update(m->store, r, err) < 0)
        return -1;
    json_t *d = json_pack("{s:s, s:s}", "reason", reason, "detail", detail);
    char *text = bh_json_dump(d);
    json_decref(d);
    bh_store_event_add(m->store, r->id, "ended", text, NULL);
    free(text);
    bh_metrics_session_ended(&m->metrics, reason);
    return 0;
}

int bh_sessions_recover(bh_sessions_t *m, bh_err_t *err)
{
    struct bh_session_row *rows = NULL;
    int n = bh_store_session_list(m->store, NULL, &rows, err);
    if (n < 0)
        return -1;
    int reaped = 0, adopted = 0;
    for (int i = 0; i < n; i++) {
        struct bh_session_row *r = &rows[i];
        if (!strcmp(r->status, "ended"))
            continue;
        const char *reason = "shutdown";
        char *detail = NULL;
        if (m->cfg->adopt_on_restart && !strcmp(r->status, "ready")) {
            bh_err_t e = BH_ERR_INIT;
            if (adopt(m, r, &reason, &e) == 0) {
                adopted++;
                continue;
            }
            detail = bh_xasprintf("not adopted after a daemon restart: %s", bh_err_msg(&e));
            bh_log(BH_LOG_WARN, r->id, "recovery: %s", detail);
            bh_err_clear(&e);
        } else {
            detail = bh_xstrdup(m->cfg->adopt_on_restart
                                    ? "the daemon restarted while the session was starting"
                                    : "the daemon restarted while the session was live");
        }
        int rc = end_row(m, r, reason, detail, err);
        free(detail);
        if (rc < 0) {
            bh_store_rows_free(rows, n);
            return -1;
        }
        reaped++;
    }
    bh_store_rows_free(rows, n);
    /* what the backend finds that no live session holds */
    int k = m->backend->ops->sweep(m->backend, held, row_known, m, err);
    if (k < 0)
        return -1;
    reaped += k;
    if (reaped)
        bh_log(BH_LOG_INFO, NULL, "recovery: removed %d leftover(s) of a previous run", reaped);
    if (adopted)
        bh_log(BH_LOG_INFO, NULL, "recovery: adopting %d session(s) of a previous run", adopted);
    pool_refill(m);
    return 0;
}
