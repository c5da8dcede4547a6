/* session_int.h — internal to the session modules (session.c and
 * session_*.c); nothing else includes it. The session and the manager
 * structs, and what each module offers the others.
 *
 * The modules, each calling only those below it:
 *   session_recover.c  adoption and clean-up after a restart
 *   session.c          the manager: capacity, the create queue, start slots,
 *                      shutdown, the public queries
 *   session_pool.c     the warm pool: sessions started ahead, claimed by
 *                      creates that fit them, refilled in the background
 *   session_start.c    a start: the kind's process handed to the backend,
 *                      its result back on the loop, the kind attached
 *   session_life.c     states, timers, the process's exit and output,
 *                      ending and teardown, the services kinds call
 * A session knows what runs in it only through its kind (kinds/kind.h)
 * and where it runs only through the backend (backend/backend.h). The
 * lower modules call up only through the hooks in struct bh_sessions,
 * which the manager sets. */
#ifndef BH_SESSION_INT_H
#define BH_SESSION_INT_H

#include <stdlib.h>

#include "backend/backend.h"
#include "lib/metrics.h"
#include "kinds/kind.h"
#include "kinds/kinds.h"
#include "net/net.h"
#include "session/session.h"
#include "lib/util.h"

#define PHASES_MAX 12

struct waiter {
    struct waiter *next;
    void (*cb)(void *);
    void *arg;
};

struct bh_session {
    struct bh_session *next;
    struct bh_sessions *m;
    const struct bh_kind *kind;
    void *k; /* the kind's state */
    struct bh_session_row row;
    enum bh_session_state state;
    enum bh_net_mode net_mode;
    struct bh_net_rule *allow;
    int nallow;
    char *upstream;   /* the upstream proxy URL, or NULL */
    int starting;     /* the backend is starting it (started() is due) */
    int end_pending;  /* end() came while it was */
    int queued;       /* waits in m->queue for a start slot */
    int counted;      /* holds one of m->starting */
    int adopting;     /* a previous run's session, being re-attached */
    int watched;      /* the backend reports its process's events */
    int exited;       /* the backend said the process ended */
    int pooled;       /* in the warm pool: started ahead, no create has it yet */
    int claimed;      /* a pooled session a create took */
    int64_t t_pooled; /* monotonic ms it became ready in the pool */
    int kind_readied; /* the kind's ready() ran (once per session) */
    struct bh_session *qnext;
    int64_t t_start, t_queued;          /* monotonic ms: start, create request */
    struct bh_phase phases[PHASES_MAX]; /* the start's, in order: durations */
    int nphases;
    int64_t phase_mark; /* monotonic ms: the last phase's end */
    bh_session_created_cb created_cb;
    void *created_arg;
    bh_timer_t *start_timer;
    bh_timer_t *ttl_timer;
    bh_timer_t *idle_timer;
    bh_timer_t *grace_timer; /* between the channel's and the process's end */
    int64_t last_activity;   /* epoch ms of the last client activity */
    char logtail[8192];
    size_t loglen;
    struct waiter *waiters;
    char end_reason[16];
    char *end_detail;
};

struct bh_sessions {
    const struct bh_config *cfg;
    bh_loop_t *loop;
    bh_store_t *store;
    bh_backend_t *backend;
    int left;                /* sessions left running at shutdown, for the next start */
    bh_timer_t *flush_timer; /* lets the close frames of left clients go out */
    /* counters of the kinds' sessions that are gone, by kind and metric */
    unsigned long long kind_done[BH_KINDS_MAX][BH_KIND_METRICS_MAX];
    struct bh_session *list;
    int live;
    struct bh_session *queue; /* FIFO of sessions waiting to start */
    int starting;             /* sessions starting now */
    int max_starting;
    struct bh_metrics metrics;
    struct waiting *waiting; /* FIFO of creates waiting for a free slot */
    int nwaiting;
    void (*shutdown_cb)(void *);
    void *shutdown_arg;
    bh_timer_t *pool_timer; /* the pool's next refill attempt */
    int64_t pool_retry_at;  /* monotonic ms: no refill before (after a failure) */
    int pool_extra;         /* adopted pooled sessions may be more than --pool */
    /* The manager's hooks (set by bh_sessions_new), for the modules below
     * it: s left the start phase, so its start slot goes to the next one;
     * a session was freed, so its slot goes to a waiting create. */
    void (*start_finished)(struct bh_session *s);
    void (*session_freed)(struct bh_sessions *m);
};

/* A create that waits for a session slot (all --max-sessions in use). */
struct waiting {
    struct waiting *next;
    struct bh_sessions *m;
    struct bh_create_opts opts;
    bh_session_created_cb cb;
    void *arg;
    bh_timer_t *timer;
    int64_t since; /* monotonic ms it began to wait */
};

/* *dst = a copy of v (or NULL), the old value freed. */
static inline void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? bh_xstrdup(v) : NULL;
}

/* session_life.c */
/* The row of s written to the store; an event of s added (detail taken
 * over). Failures are logged. */
void session_store_update(struct bh_session *s);
void session_event(struct bh_session *s, const char *type, json_t *detail);
/* The services a session offers its kind (kinds/kind.h). */
extern const struct bh_session_ops session_kind_ops;
/* The end of a start phase of s (name: static), for the ready event: its
 * time is what passed since the previous one's end. session_phase_ms
 * records one that took ms (the backend's). */
void session_phase(struct bh_session *s, const char *name);
void session_phase_ms(struct bh_session *s, const char *name, int ms);
/* The start's phases as the ready event's timingsMs (with "other", what
 * they do not name, and "total", since the create). */
json_t *session_timings(struct bh_session *s);
/* The backend's events of a session's process (arg: the session). */
void session_on_exited(void *arg, const char *what);
void session_on_output(void *arg, const char *data, size_t len);
/* The session's timers (arg: the session). */
void session_start_timeout(void *arg);
void session_ttl_expired(void *arg);
void session_idle_expired(void *arg);
void session_grace_over(void *arg);
/* Unlink and free s; nothing of its sandbox is touched. */
void session_free(struct bh_session *s);
/* End s: the first reason and detail stick; while the backend starts it
 * the end waits for that. s is freed later, on the loop, once the backend
 * has removed its sandbox. */
void session_end(struct bh_session *s, const char *reason, const char *detail);
/* Drop everything of s on the loop's side (clients closed with code and
 * why); the sandbox is left alone. */
void session_detach(struct bh_session *s, int code, const char *why);

/* session_start.c */
/* The backend's events of s (arg: the session). */
extern const struct bh_backend_events session_backend_events;
/* Give a session its process: the backend's start; it takes one of m's
 * start slots (m->starting). */
void session_begin_start(struct bh_session *s);
/* The settings a later run needs to adopt s, as a create body. Caller
 * frees. */
char *session_settings(struct bh_session *s);
/* The egress policy of s for the backend (borrowed from s). */
struct bh_net_policy session_policy(const struct bh_session *s);

/* session_pool.c (the row's owner of a pooled session: BH_POOL_OWNER) */
/* Soon (on the loop's next pass), start pooled sessions up to cfg->pool
 * when nothing else needs the machine (no create waits or starts, no
 * session ends, memory to spare), and end those beyond it. */
void pool_refill(struct bh_sessions *m);
/* A ready pooled session that serves a create with opts, or NULL. */
struct bh_session *pool_find(struct bh_sessions *m, const struct bh_create_opts *opts);
/* Give pooled session s to the create (opts taken over, cb as for
 * bh_session_create). */
void pool_claim(struct bh_session *s, struct bh_create_opts *opts, bh_session_created_cb cb,
                void *arg);
/* End one pooled session to free its slot for a create that waits;
 * 1 if one was. */
int pool_evict(struct bh_sessions *m);
/* A pooled session became ready, or ended without a claim. */
void pool_ready(struct bh_session *s);
void pool_ended(struct bh_session *s);
void pool_timer_fired(void *arg);

/* session.c */
/* A new session from validated opts (taken over), queued for or given a
 * start slot; pooled: a warm pool's, owned by no one. */
void session_launch(struct bh_sessions *m, struct bh_create_opts *opts, bh_session_created_cb cb,
                    void *arg, int pooled);
/* Any live session with id, pooled ones too. */
struct bh_session *session_lookup(struct bh_sessions *m, const char *id);
/* A new session of kind (STARTING, its timers made), linked into m's list. */
struct bh_session *session_new(struct bh_sessions *m, const struct bh_kind *kind);
/* The egress policy and proxy of s, and its kind's state, from validated
 * create options (taken over); the kind fills its fields of row. */
void session_take_opts(struct bh_session *s, struct bh_create_opts *opts,
                       struct bh_session_row *row);

#endif
