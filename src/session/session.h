/* session.h — the life of a session, whatever its kind: create (a slot,
 * the backend's sandbox, the kind's process brought to ready), watch (the
 * process's exit, timeouts), end (everything it made removed), and recovery
 * of what a previous run left. The manager owns every live session; ended
 * sessions live on only as store rows. All functions run on the loop
 * thread; nothing here blocks it but recovery, before serving. What runs
 * in a session is its kind's (kinds/kind.h), where it runs the backend's
 * (backend/backend.h). Implemented by session.c (the manager) and the
 * session_*.c modules listed in session_int.h. */
#ifndef BH_SESSION_H
#define BH_SESSION_H

#include "backend/backend.h"
#include "kinds/kind.h"
#include "config/config.h"
#include "http/http.h"
#include "lib/err.h"
#include "lib/json.h"
#include "lib/loop.h"
#include "store/store.h"
#include "session/create_opts.h"

typedef struct bh_sessions bh_sessions_t;

/* The owner in the store of a warm pool's session that no create has
 * taken (never a token's id). Such rows are no one's: the API shows none. */
#define BH_POOL_OWNER "pool"
typedef struct bh_session bh_session_t;

/* The manager of sessions run by backend (which it then owns). */
bh_sessions_t *bh_sessions_new(const struct bh_config *cfg, bh_loop_t *loop, bh_store_t *store,
                               bh_backend_t *backend, bh_err_t *err);
/* Reconcile what a previous run left (rows still live, containers,
 * namespaces) before serving: with cfg->adopt_on_restart, sessions whose
 * process still runs are re-attached (they become ready again shortly);
 * everything else is removed and its row ended (reason "shutdown", or
 * "crashed"/"ttl" when the process died or the ttl ran out meanwhile).
 * Blocking, except the adopted sessions' way back to ready (their kind's,
 * on the loop). */
int bh_sessions_recover(bh_sessions_t *m, bh_err_t *err);
/* End every live session (reason "shutdown"), or with cfg->leave_on_shutdown
 * leave the ready ones running for the next start to adopt; done() runs
 * when the daemon holds no session any more. */
void bh_sessions_shutdown(bh_sessions_t *m, void (*done)(void *), void *arg);
/* How many sessions the shutdown left running. */
int bh_sessions_left(const bh_sessions_t *m);
/* For tests that restart the daemon in one process: m lets go of its
 * backend (freed with the manager that takes it over). Returns m. */
bh_sessions_t *bh_sessions_detach_backend(bh_sessions_t *m);
void bh_sessions_free(bh_sessions_t *m);
int bh_sessions_live(const bh_sessions_t *m);
/* /readyz: the backend's checks ("runtime", "network", ...) and
 * "accepting", each "ok" or the problem, added to checks; *ready is set to
 * 0 on a problem. Cheap (no process is started). */
void bh_sessions_readiness(bh_sessions_t *m, json_t *checks, int *ready);

/* For /metrics: sessions by state, sessions waiting for a start slot,
 * creates waiting for a session slot. */
struct bh_sessions_counts {
    int starting, ready, ending, start_queue, waiting;
    int pool_starting, pool_ready; /* the warm pool's (not in the others) */
    int pool_target;               /* --pool */
};
void bh_sessions_counts(const bh_sessions_t *m, struct bh_sessions_counts *c);
/* The daemon's counters (created, ended by reason, latencies). */
const struct bh_metrics *bh_sessions_metrics(const bh_sessions_t *m);
/* The values of kind's metrics (kind->metrics) summed over its live
 * sessions, counters with those of its ended ones. */
void bh_sessions_kind_metrics(const bh_sessions_t *m, const struct bh_kind *kind,
                              unsigned long long *v);
/* Call cb for every live session (not the warm pool's). */
void bh_sessions_foreach(bh_sessions_t *m, void (*cb)(void *arg, bh_session_t *s), void *arg);
/* The session's resource usage (backend.h); 0, or -1 when unknown. */
int bh_session_usage(bh_session_t *s, struct bh_usage *u);

/* Result of create: s is the ready session, or NULL and err says why
 * (err->kind: busy when no slot became free, shutdown, internal). */
typedef void (*bh_session_created_cb)(void *arg, bh_session_t *s, const bh_err_t *err);
/* Start a session; opts is taken over. cb is called exactly once. */
void bh_session_create(bh_sessions_t *m, struct bh_create_opts *opts, bh_session_created_cb cb,
                       void *arg);
/* The client of the create whose cb argument is arg went away before the
 * session was ready: a create still waiting for a slot is dropped (cb runs
 * now), a starting session ends (reason "error", detail "client gone"; cb
 * runs when it has ended). Nothing happens if cb already ran. */
void bh_session_create_abandon(bh_sessions_t *m, void *arg);

/* A live (starting or ready) session, or NULL (also for a pooled one that
 * no create has taken). */
bh_session_t *bh_session_find(bh_sessions_t *m, const char *id);
const char *bh_session_id(const bh_session_t *s);
int bh_session_ready(const bh_session_t *s);
/* Ending: stopping its sandbox (its row still says ready until it ends). */
int bh_session_ending(const bh_session_t *s);
/* The session's row as kept in the store (borrowed; live while s is). */
const struct bh_session_row *bh_session_info(const bh_session_t *s);
/* Its kind, and the kind's state of it (for the kind's routes). */
const struct bh_kind *bh_session_kind(const bh_session_t *s);
void *bh_session_kind_state(const bh_session_t *s);
/* When it ends for idleness if nothing happens (epoch ms), or 0 while a
 * client keeps it alive or it is not ready. */
int64_t bh_session_idle_deadline(const bh_session_t *s);
/* Sessions owned by token id owner that count against its quota: starting
 * or ready ones, and creates waiting for a slot. */
int bh_sessions_owned(const bh_sessions_t *m, const char *owner);

/* End a session; cb (may be NULL) runs once its resources are gone. */
void bh_session_end(bh_session_t *s, const char *reason, const char *detail, void (*cb)(void *),
                    void *arg);

/* Bring what the session's JSON shows up to date (the kind's refresh, at
 * most ~1 s), then call cb — at once if the session is not ready. */
void bh_session_refresh(bh_session_t *s, void (*cb)(void *arg, bh_session_t *s), void *arg);

#endif
