/* session_int.h — internal to the session modules (session.c and
 * session_*.c); nothing else includes it. The session and the manager
 * structs, and what each module offers the others.
 *
 * The modules, each calling only those below it:
 *   session_recover.c  adoption and clean-up after a restart
 *   session.c          the manager: capacity, the create queue, start slots,
 *                      shutdown, the public queries and JSON
 *   session_start.c    a start: CDP FIFOs, the worker's sandbox, network and
 *                      user namespace steps, their result on the loop
 *   session_browser.c  the browser driver: the daemon's page (attach, first
 *                      load, replacement), title refresh, screenshots, clients
 *   session_life.c     states, timers, browser exit, ending and teardown
 *   session_metrics.c  /metrics and /readyz
 * The lower ones call up only through the hooks in struct bh_sessions,
 * which the manager sets. */
#ifndef BH_SESSION_INT_H
#define BH_SESSION_INT_H

#include <stdlib.h>

#include "kinds/browser/cdp.h"
#include "kinds/browser/cdp_proxy.h"
#include "kinds/browser/live.h"
#include "daemon/metrics.h"
#include "net/net.h"
#include "backend/local/sandbox.h"
#include "session/session.h"
#include "backend/local/userns.h"
#include "lib/util.h"
#include "lib/workers.h"

enum state { S_STARTING, S_READY, S_ENDING };

struct waiter {
    struct waiter *next;
    void (*cb)(void *);
    void *arg;
};

/* A screenshot (or later any daemon CDP operation) in flight. */
struct op {
    struct op *next;
    struct bh_session *s;
    int sent; /* waits for the page attach while 0 */
    char sid[64]; /* the page's CDP session it was sent on */
    bh_session_png_cb cb;
    void *arg;
    bh_timer_t *timer; /* a hung capture must not hang the request */
};

/* A GET waiting for the page's current title and URL. */
struct refresh {
    struct refresh *next;
    struct bh_session *s;
    bh_timer_t *timer;
    void (*cb)(void *arg, struct bh_session *s);
    void *arg;
};

struct bh_session {
    struct bh_session *next;
    struct refresh *refreshes;
    enum bh_net_mode net_mode;
    struct bh_net_rule *allow;
    int nallow;
    char *upstream; /* the browser's upstream proxy URL, or NULL */
    struct bh_live_policy clip;
    bh_live_t *live;  /* live view; while READY */
    struct bh_sessions *m;
    struct bh_session_row row;
    enum state state;
    int job_running;  /* the start job is on a worker */
    int end_pending;  /* end() came while it was */
    int awaiting_load; /* first navigation sent; its load event makes us ready */
    int page_attached; /* cdp_session is attached and Page is enabled */
    int queued;        /* waits in m->queue for a start slot */
    int counted;       /* holds one of m->starting */
    int adopting;      /* a previous run's session, being re-attached */
    int page_crashes;  /* renderer crashes of its page (reloaded up to 3) */
    int replacing;     /* its page was closed: a new one is being opened */
    int page_load_ms;  /* how long the first page may take to load (from the create) */
    int refresh_inflight; /* a Target.getTargetInfo for GETs is on its way */
    int64_t refreshed_at; /* monotonic ms of its last answer */
    struct bh_session *qnext;
    int64_t t_start, t_sandbox, t_browser; /* monotonic ms: create, sandbox up, first reply */
    int64_t t_queued;                      /* monotonic ms of the create request */
    bh_session_created_cb created_cb;
    void *created_arg;
    /* loop-side resources */
    bh_cdp_t *cdp;
    bh_cdp_proxy_t *proxy;  /* external CDP clients; while READY */
    json_t *version;        /* Browser.getVersion result */
    int closed_by_client;   /* a client sent Browser.close */
    bh_watch_t *exit_w;
    bh_watch_t *log_w;
    bh_timer_t *start_timer;
    bh_timer_t *load_timer; /* the first page's load, once the browser is ready */
    bh_timer_t *ttl_timer;
    bh_timer_t *idle_timer;
    bh_timer_t *grace_timer; /* between the pipe's and the process's end */
    int64_t last_activity; /* epoch ms of the last CDP or live-view input */
    char logtail[8192];
    size_t loglen;
    char target_id[64];
    char cdp_session[64];
    char *title;
    char *page_url;
    char *page_error;
    struct op *ops;
    /* end */
    struct waiter *waiters;
    char end_reason[16];
    char *end_detail;
};

struct bh_sessions {
    const struct bh_config *cfg;
    bh_loop_t *loop;
    bh_store_t *store;
    bh_workers_t *workers;
    struct bh_sandbox_env env;
    struct bh_net_config net;
    struct bh_userns_config userns;
    char *runtime_root;
    char *bundles_dir;
    char *image_dir;
    char *sessions_dir; /* <run>/sessions/<id>: CDP FIFOs, adoption settings */
    int left;           /* sessions left running at shutdown, for the next start */
    bh_timer_t *flush_timer; /* lets the close frames of left clients go out */
    unsigned long long live_frames_done, live_bytes_done; /* of live views closed */
    struct bh_session *list;
    int live;
    struct bh_session *queue; /* FIFO of sessions waiting to start */
    int starting;             /* browsers starting now */
    int max_starting;
    struct bh_metrics metrics;
    struct waiting *waiting; /* FIFO of creates waiting for a free slot */
    int nwaiting;
    void (*shutdown_cb)(void *);
    void *shutdown_arg;
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
/* <run>/sessions/<id>: its CDP FIFOs and adoption settings. Caller frees. */
char *session_dir(const struct bh_sessions *m, const char *id);
/* Collect the exit of a container's init (waits up to 5 s). Any thread. */
void session_reap_init(pid_t pid);
/* Watch callbacks for the browser's log pipe and its pidfd, and the CDP
 * channel's close callback (arg: the session). */
void session_on_log(void *arg, bh_watch_t *w, int events);
void session_on_exit(void *arg, bh_watch_t *w, int events);
void session_on_cdp_closed(void *arg);
/* Whether the session's memory cgroup saw the OOM killer act. */
int session_oom_killed(struct bh_session *s);
/* STARTING → READY: CDP clients and the live view are accepted, the ttl
 * and idle clocks run, the create's cb is told. Nothing if not STARTING. */
void session_became_ready(struct bh_session *s);
/* The session's timers (arg: the session). */
void session_start_timeout(void *arg);
void session_ttl_expired(void *arg);
void session_idle_expired(void *arg);
void session_pipe_grace_over(void *arg);
/* Unlink and free s; nothing of its sandbox is touched. */
void session_free(struct bh_session *s);
/* End s: the first reason and detail stick; while the start job runs the
 * end waits for it. s is freed later, on the loop, once the destroy job
 * has removed its resources. */
void session_end(struct bh_session *s, const char *reason, const char *detail);
/* Drop everything of s on the loop's side (clients closed with code and
 * why); the sandbox is left alone. */
void session_detach(struct bh_session *s, int code, const char *why);
/* A waiting refresh is answered (its cb runs) and freed. */
void session_refresh_done(struct refresh *r);

/* session_browser.c */
/* The CDP channel's event callback (arg: the session). */
void session_on_cdp_event(void *arg, json_t *msg);
/* Start driving a browser whose CDP channel was just opened: target
 * discovery, its version, its page; ready once the page is there. */
void session_browser_begin(struct bh_session *s);
/* The load timer of the first page (arg: the session). */
void session_load_timeout(void *arg);

/* session_start.c */
/* Give a session its browser: CDP FIFOs, the start job; it takes one of
 * m's start slots (m->starting). */
void session_begin_start(struct bh_session *s);

/* session.c */
/* A new session (STARTING, its timers made), linked into m's list. */
struct bh_session *session_new(struct bh_sessions *m);
/* The egress, proxy and clipboard policy of s from validated create
 * options (taken over). */
void session_take_policy(struct bh_session *s, struct bh_create_opts *opts);

#endif
