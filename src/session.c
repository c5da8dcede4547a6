/* session.c — see session.h.
 *
 * A session moves STARTING → READY → ENDING → (freed). While STARTING, a
 * start job runs on a worker (network, bundle, runtime) and then the daemon
 * drives the browser over the pipe to its first page. Any failure, and any
 * end, goes through session_end(): loop-side resources are dropped at once,
 * then a destroy job removes the sandbox and the network, then the row is
 * marked ended and the waiters are told. Nothing is freed inside a callback
 * of the object being freed: cdp and watches defer their own frees. */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "browser.h"
#include "cdp.h"
#include "cdp_proxy.h"
#include "live.h"
#include "metrics.h"
#include "log.h"
#include "net.h"
#include "sandbox.h"
#include "userns.h"
#include "util.h"
#include "workers.h"

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
    int page_load_ms;  /* how long the first page may take to load */
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
};

static void session_end(struct bh_session *s, const char *reason, const char *detail);
static void detach(struct bh_session *s, int code, const char *why);
static void session_loaded(struct bh_session *s);
static void start_finished(struct bh_session *s);
static void refresh_done(struct refresh *r);
static void attach_to(struct bh_session *s, const char *target_id);
static const char *reply_error(json_t *reply);

/* ---------------------------------------------------------------- helpers */

static void store_update(struct bh_session *s)
{
    bh_err_t err = BH_ERR_INIT;
    if (bh_store_session_update(s->m->store, &s->row, &err) < 0) {
        bh_log(BH_LOG_ERROR, s->row.id, "store update: %s", bh_err_msg(&err));
        bh_err_clear(&err);
    }
}

static void event(struct bh_session *s, const char *type, json_t *detail)
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

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? bh_xstrdup(v) : NULL;
}

/* The last lines the browser printed, for error messages, without the
 * noise of its D-Bus client (there is no bus in the sandbox). Caller frees. */
static char *log_tail(struct bh_session *s)
{
    char *copy = bh_xasprintf("%.*s", (int)s->loglen, s->logtail);
    const char *keep[3] = {NULL, NULL, NULL};
    int n = 0;
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (strstr(line, "dbus/") || strspn(line, " \t\r") == strlen(line))
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

/* ---------------------------------------------------------------- start job */

struct start_job {
    struct bh_session *s;
    struct bh_sessions *m;
    char id[40];
    int w, h;
    struct bh_net_policy policy; /* borrowed from the session, which outlives the job */
    const char *proxy;
    int fd_in, fd_out, fd_log; /* the sandbox's ends */
    struct bh_sandbox sb;
    struct bh_net_session net;
    uint32_t uid_base; /* first host id of its user namespace range */
    bh_err_t err;
    int ok;
};

static void reap_init(pid_t pid);

/* Undo what start_work made so far (each step is idempotent). */
static void start_undo(struct start_job *j, int sandbox, int net)
{
    struct bh_sessions *m = j->m;
    bh_err_t e2 = BH_ERR_INIT;
    if (sandbox && bh_sandbox_destroy(&m->env, j->sb.id, &e2) < 0) {
        bh_log(BH_LOG_ERROR, j->id, "sandbox teardown: %s", bh_err_msg(&e2));
        bh_err_clear(&e2);
    }
    if (sandbox)
        reap_init(j->sb.pid);
    if (net && bh_net_session_teardown(&m->net, j->id, &e2) < 0) {
        bh_log(BH_LOG_ERROR, j->id, "network teardown: %s", bh_err_msg(&e2));
        bh_err_clear(&e2);
    }
    if (bh_userns_release(&m->userns, j->id, &e2) < 0) {
        bh_log(BH_LOG_ERROR, j->id, "uid range release: %s", bh_err_msg(&e2));
        bh_err_clear(&e2);
    }
}

/* The order: a uid range, the container created (the runtime makes its
 * user namespace and, owned by it, its network namespace), the network set
 * up in that namespace, the egress policy, then the browser started. */
static void start_work(void *arg)
{
    struct start_job *j = arg;
    struct bh_sessions *m = j->m;
    const struct bh_config *cfg = m->cfg;

    if (bh_userns_lease(&m->userns, j->id, &j->uid_base, &j->err) < 0) {
        bh_err_wrap(&j->err, "user namespace");
        return;
    }
    struct bh_browser_cmd cmd;
    bh_browser_cmd_init(&cmd, cfg->chromium, j->w, j->h, j->proxy);
    if (cfg->deny_nested_userns)
        bh_browser_cmd_without_own_sandbox(&cmd);
    char cg[96];
    snprintf(cg, sizeof cg, "bulkhead/%s", j->id);
    char *rootfs = bh_xasprintf("%s/rootfs", m->image_dir);
    char *etc = bh_xasprintf("%s/etc", m->image_dir);
    struct bh_spec_params p = {
        .id = j->id,
        .rootfs = rootfs,
        .etc_dir = etc,
        .netns_path = NULL,
        .cgroups_path = cg,
        .argv = cmd.argv,
        .env = cmd.env,
        .uid = 1000,
        .gid = 1000,
        .userns_host_base = j->uid_base,
        .userns_size = BH_USERNS_SIZE,
        .deny_nested_userns = cfg->deny_nested_userns,
        .memory_bytes = cfg->memory_bytes,
        .pids_max = cfg->pids_max,
        .cpu_period_us = 100000,
        .cpu_quota_us = (uint64_t)(cfg->cpus * 100000),
        .cpu_shares = 0,
        .tmp_bytes = cfg->tmp_bytes,
        .shm_bytes = cfg->shm_bytes,
    };
    int rc = bh_sandbox_create(&m->env, &p, j->fd_in, j->fd_out, j->fd_log, &j->sb, &j->err);
    bh_browser_cmd_free(&cmd);
    free(rootfs);
    free(etc);
    if (rc < 0) {
        bh_err_wrap(&j->err, "sandbox");
        start_undo(j, 0, 0);
        return;
    }
    if (bh_net_session_setup(&m->net, j->id, j->sb.pid, &j->net, &j->err) < 0) {
        bh_err_wrap(&j->err, "network setup");
        start_undo(j, 1, 1);
        return;
    }
    if (bh_net_session_policy(&m->net, j->id, &j->policy, &j->err) < 0) {
        bh_err_wrap(&j->err, "egress policy");
        start_undo(j, 1, 1);
        return;
    }
    if (bh_sandbox_resume(&m->env, j->sb.id, &j->err) < 0) {
        bh_err_wrap(&j->err, "sandbox");
        start_undo(j, 1, 1);
        return;
    }
    j->ok = 1;
}

static void on_log(void *arg, bh_watch_t *w, int events)
{
    struct bh_session *s = arg;
    if (events & BH_WATCH_HUP) {
        s->log_w = NULL;
        return;
    }
    char buf[sizeof s->logtail];
    for (;;) {
        ssize_t n = read(bh_watch_fd(w), buf, sizeof buf);
        if (n <= 0)
            break;
        /* keep the tail only */
        size_t k = (size_t)n;
        if (k >= sizeof s->logtail) {
            memcpy(s->logtail, buf + k - sizeof s->logtail, sizeof s->logtail);
            s->loglen = sizeof s->logtail;
        } else {
            if (s->loglen + k > sizeof s->logtail) {
                size_t drop = s->loglen + k - sizeof s->logtail;
                memmove(s->logtail, s->logtail + drop, s->loglen - drop);
                s->loglen -= drop;
            }
            memcpy(s->logtail + s->loglen, buf, k);
            s->loglen += k;
        }
    }
}

static void browser_gone(struct bh_session *s, const char *what)
{
    if (s->state == S_ENDING)
        return;
    if (s->closed_by_client && s->state == S_READY) {
        bh_log(BH_LOG_INFO, s->row.id, "a CDP client closed the browser");
        session_end(s, "closed", "a CDP client sent Browser.close");
        return;
    }
    char *tail = log_tail(s);
    char *detail = bh_xasprintf("browser %s%s%s", what, *tail ? ": " : "", tail);
    bh_log(BH_LOG_WARN, s->row.id, "%s", detail);
    if (s->state == S_READY)
        event(s, "crashed", json_pack("{s:s}", "cause", detail));
    session_end(s, s->state == S_STARTING ? "error" : "crashed", detail);
    free(detail);
    free(tail);
}

static long long cg_value(char **paths, int n, const char *ctrl, const char *file,
                          const char *key);

/* Whether the session's memory cgroup saw the OOM killer act. */
static int oom_killed(struct bh_session *s)
{
    char cg[96];
    snprintf(cg, sizeof cg, "bulkhead/%s", s->row.id);
    char **paths = NULL;
    int n = bh_sandbox_cgroup_paths(cg, &paths, NULL);
    int killed = cg_value(paths, n, "/memory/", "memory.oom_control", "oom_kill ") > 0;
    for (int i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    return killed;
}

static void on_exit_fd(void *arg, bh_watch_t *w, int events)
{
    struct bh_session *s = arg;
    (void)w;
    if (events & BH_WATCH_HUP)
        s->exit_w = NULL;
    else {
        bh_watch_remove(s->exit_w);
        s->exit_w = NULL;
    }
    /* the container's init (the browser) is our child: its status says why */
    int st = 0;
    char what[96] = "exited";
    if (s->row.pid > 0 && waitpid(s->row.pid, &st, WNOHANG) == s->row.pid) {
        if (WIFSIGNALED(st))
            snprintf(what, sizeof what, "was killed by signal %d (%s)", WTERMSIG(st),
                     strsignal(WTERMSIG(st)));
        else if (WIFEXITED(st))
            snprintf(what, sizeof what, "exited with status %d", WEXITSTATUS(st));
    }
    if (oom_killed(s))
        snprintf(what + strlen(what), sizeof what - strlen(what),
                 ", out of memory (killed at its %lld-byte limit)", (long long)s->row.memory_bytes);
    browser_gone(s, what);
}

static void pipe_grace_over(void *arg)
{
    browser_gone(arg, "closed its control pipe");
}

static void on_cdp_closed(void *arg)
{
    struct bh_session *s = arg;
    /* the exit of the browser usually follows at once and tells more */
    if (s->exit_w && s->state != S_ENDING) {
        bh_timer_set(s->grace_timer, 1000);
        return;
    }
    browser_gone(s, "closed its control pipe");
}

/* The renderer of the session's page died (killed at the memory limit, or
 * crashed): the browser lives on. Say so (event, page error) and load the
 * page again, so the session is usable, rather than keep a dead page. */
static void page_crashed(struct bh_session *s, json_t *params)
{
    const char *status = bh_json_str(params, "status");
    json_t *code = json_object_get(params, "errorCode");
    char cause[160];
    snprintf(cause, sizeof cause, "the page's renderer %s%s (code %lld)%s",
             status && *status ? "ended: " : "crashed", status ? status : "",
             (long long)json_integer_value(code),
             oom_killed(s) ? "; the session's memory cgroup has OOM kills" : "");
    bh_log(BH_LOG_WARN, s->row.id, "%s", cause);
    event(s, "page_crashed", json_pack("{s:s}", "cause", cause));
    set_str(&s->page_error, cause);
    /* a page that crashes as it loads is not reloaded for ever */
    if (s->cdp_session[0] && ++s->page_crashes <= 3)
        bh_cdp_call(s->cdp, "Page.reload", NULL, s->cdp_session, NULL, NULL);
}

static void replaced_target(void *arg, json_t *reply)
{
    struct bh_session *s = arg;
    if (!reply || s->state == S_ENDING)
        return; /* the browser went away: browser_gone() ends the session */
    const char *tid = bh_json_str(json_object_get(reply, "result"), "targetId");
    if (!tid) {
        const char *e = reply_error(reply);
        char *d = bh_xasprintf("the session's page was closed and a new one could not be opened: %s",
                               e ? e : "no target id");
        bh_log(BH_LOG_WARN, s->row.id, "%s", d);
        session_end(s, "error", d);
        free(d);
        return;
    }
    attach_to(s, tid);
}

/* The daemon's page is gone while the browser lives — a client closed it
 * (Target.closeTarget, Page.close: Playwright waits for the close to happen,
 * so refusing would hang its page.close()), or a script's window.close():
 * open a new blank page in its place, so screenshots and the live view keep
 * working and the session's page state stays true. page_enabled() finishes
 * the swap (the page_replaced event); a failure ends the session with reason
 * "error". */
static void page_lost(struct bh_session *s, const char *cause)
{
    if (s->state == S_ENDING || s->closed_by_client || s->replacing)
        return;
    char old[64];
    snprintf(old, sizeof old, "%s", s->target_id);
    char *was = bh_xstrdup(s->page_url ? s->page_url : s->row.url);
    bh_log(BH_LOG_WARN, s->row.id, "%s (%s): opening a new page", cause, was);
    event(s, "page_closed", json_pack("{s:s, s:s}", "cause", cause, "url", was));
    s->replacing = 1;
    s->target_id[0] = 0;
    s->cdp_session[0] = 0;
    s->page_attached = 0;
    s->refreshed_at = 0;
    bh_live_set_page(s->live, "");
    char *err = bh_xasprintf("%s (%s); a new blank page replaced it", cause, was);
    set_str(&s->page_error, err);
    set_str(&s->page_url, NULL);
    set_str(&s->title, "");
    free(err);
    free(was);
    /* a page only detached from the daemon goes too: nobody would show it */
    if (old[0])
        bh_cdp_call(s->cdp, "Target.closeTarget", json_pack("{s:s}", "targetId", old), NULL, NULL,
                    NULL);
    /* a window of its own, like clients' pages: a tab over a client's page
     * would hide that page */
    bh_cdp_call(s->cdp, "Target.createTarget",
                json_pack("{s:s, s:b}", "url", "about:blank", "newWindow", 1), NULL,
                replaced_target, s);
}

static void on_cdp_event(void *arg, json_t *msg)
{
    struct bh_session *s = arg;
    if (s->proxy && bh_cdp_proxy_event(s->proxy, msg))
        return; /* a client's */
    if (s->live && bh_live_event(s->live, msg))
        return; /* a screencast frame */
    const char *method = bh_json_str(msg, "method");
    if (!method)
        return;
    json_t *params = json_object_get(msg, "params");
    if (!strcmp(method, "Target.targetInfoChanged")) {
        json_t *ti = json_object_get(params, "targetInfo");
        const char *tid = bh_json_str(ti, "targetId");
        if (tid && !strcmp(tid, s->target_id)) {
            set_str(&s->title, bh_json_str(ti, "title"));
            set_str(&s->page_url, bh_json_str(ti, "url"));
        }
    } else if (!strcmp(method, "Target.targetCrashed") && s->state == S_READY) {
        const char *tid = bh_json_str(params, "targetId");
        if (tid && !strcmp(tid, s->target_id))
            page_crashed(s, params);
    } else if (!strcmp(method, "Target.targetDestroyed") && !bh_json_str(msg, "sessionId")) {
        const char *tid = bh_json_str(params, "targetId");
        if (tid && s->target_id[0] && !strcmp(tid, s->target_id))
            page_lost(s, "the session's page was closed");
    } else if (!strcmp(method, "Target.detachedFromTarget") && !bh_json_str(msg, "sessionId")) {
        const char *sid = bh_json_str(params, "sessionId");
        if (sid && s->cdp_session[0] && !strcmp(sid, s->cdp_session))
            page_lost(s, "the session's page was closed");
    } else if (!strcmp(method, "Page.loadEventFired") && s->state == S_STARTING) {
        const char *sid = bh_json_str(msg, "sessionId");
        /* the load of the first page: read its title, then ready */
        if (sid && !strcmp(sid, s->cdp_session) && s->awaiting_load)
            session_loaded(s);
    }
}

static const char *reply_error(json_t *reply)
{
    if (!reply)
        return "browser went away";
    json_t *e = json_object_get(reply, "error");
    if (!e)
        return NULL;
    const char *m = bh_json_str(e, "message");
    return m ? m : "CDP error";
}

static void proxy_browser_close(void *arg)
{
    struct bh_session *s = arg;
    s->closed_by_client = 1;
}

static void proxy_clients_changed(void *arg, int connected, int total)
{
    struct bh_session *s = arg;
    event(s, connected ? "client_connected" : "client_disconnected",
          json_pack("{s:s, s:i}", "kind", "cdp", "clients", total));
}

/* CDP messages and live-view input keep a session alive; so does a live
 * viewer that is connected (a person reading a page sends no input). */
static void activity(void *arg)
{
    struct bh_session *s = arg;
    if (s->state != S_READY)
        return;
    s->last_activity = bh_now_ms();
    bh_timer_set(s->idle_timer, (int64_t)s->row.idle_timeout * 1000);
}

static void idle_expired(void *arg)
{
    struct bh_session *s = arg;
    if (bh_live_viewers(s->live) > 0) {
        activity(s);
        return;
    }
    bh_log(BH_LOG_INFO, s->row.id, "idle for %d s", s->row.idle_timeout);
    session_end(s, "idle", NULL);
}

static void live_viewers_changed(void *arg, int connected, int total)
{
    struct bh_session *s = arg;
    event(s, connected ? "client_connected" : "client_disconnected",
          json_pack("{s:s, s:i}", "kind", "live", "clients", total));
}

static json_t *live_hello(void *arg)
{
    struct bh_session *s = arg;
    char *exp = bh_time_iso(s->row.expires_at);
    json_t *h = json_pack("{s:s, s:s, s:s, s:s}", "session", s->row.id, "url",
                          s->page_url ? s->page_url : s->row.url, "title",
                          s->title ? s->title : "", "expiresAt", exp);
    free(exp);
    return h;
}

static void live_page_changed(void *arg, const char *url, const char *title)
{
    struct bh_session *s = arg;
    set_str(&s->page_url, url);
    set_str(&s->title, title);
}

static const struct bh_live_hooks live_hooks = {
    .page_changed = live_page_changed,
    .activity = activity,
    .viewers_changed = live_viewers_changed,
    .hello = live_hello,
};

static const struct bh_cdp_proxy_hooks proxy_hooks = {
    .activity = activity,
    .browser_close = proxy_browser_close,
    .clients_changed = proxy_clients_changed,
};

static void became_ready(struct bh_session *s)
{
    if (s->state != S_STARTING)
        return;
    bh_timer_cancel(s->start_timer);
    bh_timer_cancel(s->load_timer);
    s->state = S_READY;
    start_finished(s);
    struct bh_cdp_proxy_limits lim = {.max_queued = 64u << 20, .max_inflight = 1000};
    s->proxy = bh_cdp_proxy_new(s->cdp, &lim, &proxy_hooks, s);
    s->live = bh_live_new(s->cdp, &s->clip, s->row.viewport_w, s->row.viewport_h, &live_hooks, s);
    if (s->page_attached)
        bh_live_set_page(s->live, s->cdp_session);
    snprintf(s->row.status, sizeof s->row.status, "ready");
    store_update(s);
    int64_t left = s->row.expires_at - bh_now_ms();
    bh_timer_set(s->ttl_timer, left > 0 ? left : 1);
    activity(s); /* the idle clock starts at ready */
    if (s->adopting) {
        event(s, "adopted", json_pack("{s:i, s:I}", "pid", s->row.pid, "ms",
                                      (json_int_t)(bh_mono_ms() - s->t_start)));
        bh_log(BH_LOG_INFO, s->row.id, "adopted (pid %d, %s)", s->row.pid, s->row.addr);
        return;
    }
    int64_t now = bh_mono_ms();
    json_t *d = json_pack("{s:s, s:s?, s:{s:I, s:I, s:I}}", "title", s->title ? s->title : "",
                          "error", s->page_error, "timingsMs", "sandbox",
                          (json_int_t)(s->t_sandbox - s->t_start), "browser",
                          (json_int_t)(s->t_browser - s->t_start), "ready",
                          (json_int_t)(now - s->t_start));
    event(s, "ready", d);
    bh_metrics_create_latency(&s->m->metrics, (double)(now - s->t_queued) / 1000.0);
    bh_log(BH_LOG_INFO, s->row.id, "ready (pid %d, %s)", s->row.pid, s->row.addr);
    bh_session_created_cb cb = s->created_cb;
    s->created_cb = NULL;
    if (cb)
        cb(s->created_arg, s, NULL);
}

static void got_target_info(void *arg, json_t *reply)
{
    struct bh_session *s = arg;
    if (!reply || s->state != S_STARTING)
        return;
    json_t *ti = json_object_get(json_object_get(reply, "result"), "targetInfo");
    if (ti) {
        set_str(&s->title, bh_json_str(ti, "title"));
        set_str(&s->page_url, bh_json_str(ti, "url"));
    }
    became_ready(s);
}

static void session_loaded(struct bh_session *s)
{
    s->awaiting_load = 0;
    /* the first page starts the history: no "back" to the blank start */
    if (s->cdp_session[0])
        bh_cdp_call(s->cdp, "Page.resetNavigationHistory", NULL, s->cdp_session, NULL, NULL);
    bh_cdp_call(s->cdp, "Target.getTargetInfo", json_pack("{s:s}", "targetId", s->target_id),
                NULL, got_target_info, s);
}

static void navigated(void *arg, json_t *reply)
{
    struct bh_session *s = arg;
    if (!reply)
        return; /* the browser went away: browser_gone() ends the session */
    if (s->state != S_STARTING)
        return;
    if (!s->awaiting_load)
        return; /* timed out (or replaced) already */
    const char *e = reply_error(reply);
    const char *text = e ? e : bh_json_str(json_object_get(reply, "result"), "errorText");
    if (text && *text) {
        /* the browser works; the page did not load: ready, with the error */
        bh_log(BH_LOG_INFO, s->row.id, "%s: %s", s->row.url, text);
        event(s, "page_load_failed", json_pack("{s:s, s:s}", "url", s->row.url, "error", text));
        set_str(&s->page_error, text);
        /* Chromium's error page commits next: its load event makes the
         * session ready (a screenshot amid the commit would fail); the
         * load timer still bounds the wait. An aborted navigation (a
         * download, a 204) commits nothing: ready now. */
        if (e || !strcmp(text, "net::ERR_ABORTED"))
            session_loaded(s);
        return;
    }
}

static void send_waiting_ops(struct bh_session *s);

static void page_enabled(void *arg, json_t *reply)
{
    struct bh_session *s = arg;
    if (!reply)
        return; /* the browser went away: browser_gone() ends the session */
    if (s->state == S_ENDING)
        return;
    const char *e = reply_error(reply);
    if (e) {
        char *d = bh_xasprintf("Page.enable: %s", e);
        session_end(s, "error", d);
        free(d);
        return;
    }
    s->page_attached = 1;
    if (s->replacing) {
        s->replacing = 0;
        event(s, "page_replaced",
              json_pack("{s:s, s:s}", "targetId", s->target_id, "url", "about:blank"));
        set_str(&s->page_url, "about:blank");
        if (s->state == S_STARTING && s->awaiting_load) {
            session_loaded(s);
            return;
        }
    }
    if (s->state == S_READY) { /* about:blank: ready before the attach */
        bh_live_set_page(s->live, s->cdp_session);
        send_waiting_ops(s);
        return;
    }
    if (!strcmp(s->row.url, "about:blank") || s->adopting) {
        session_loaded(s);
        return;
    }
    /* The browser is ready: the start slot goes to the next session, and
     * the page gets its own time to load (a page that cannot load is the
     * page's error, not the browser's). */
    bh_timer_cancel(s->start_timer);
    start_finished(s);
    bh_timer_set(s->load_timer, s->page_load_ms);
    s->awaiting_load = 1;
    bh_cdp_call(s->cdp, "Page.navigate", json_pack("{s:s}", "url", s->row.url), s->cdp_session,
                navigated, s);
}

/* The first page did not load in time: stop it (like the stop button; what
 * did load stays) and be ready with the error. */
static void load_timeout(void *arg)
{
    struct bh_session *s = arg;
    if (s->state != S_STARTING || !s->awaiting_load)
        return;
    if (s->page_error) { /* it failed already; its error page did not load */
        session_loaded(s);
        return;
    }
    char *e = bh_xasprintf("the page did not finish loading within %d ms", s->page_load_ms);
    bh_log(BH_LOG_WARN, s->row.id, "%s: %s", s->row.url, e);
    event(s, "page_load_failed", json_pack("{s:s, s:s}", "url", s->row.url, "error", e));
    set_str(&s->page_error, e);
    free(e);
    if (s->cdp_session[0])
        bh_cdp_call(s->cdp, "Page.stopLoading", NULL, s->cdp_session, NULL, NULL);
    session_loaded(s);
}

static void attached(void *arg, json_t *reply)
{
    struct bh_session *s = arg;
    if (!reply)
        return; /* the browser went away: browser_gone() ends the session */
    if (s->state == S_ENDING)
        return;
    const char *e = reply_error(reply);
    const char *sid = bh_json_str(json_object_get(reply, "result"), "sessionId");
    if (e || !sid) {
        char *d = bh_xasprintf("%sattach to page: %s",
                               s->replacing ? "the session's page was closed and the new one "
                                              "could not be used: "
                                            : "",
                               e ? e : "no session id");
        session_end(s, "error", d);
        free(d);
        return;
    }
    snprintf(s->cdp_session, sizeof s->cdp_session, "%s", sid);
    /* headless windows lose some height to emulated browser chrome: make the
     * page's viewport exactly the size asked for */
    bh_cdp_call(s->cdp, "Emulation.setDeviceMetricsOverride",
                json_pack("{s:i, s:i, s:i, s:b}", "width", s->row.viewport_w, "height",
                          s->row.viewport_h, "deviceScaleFactor", 1, "mobile", 0),
                s->cdp_session, NULL, NULL);
    bh_cdp_call(s->cdp, "Page.enable", NULL, s->cdp_session, page_enabled, s);
}

static void attach_to(struct bh_session *s, const char *target_id)
{
    snprintf(s->target_id, sizeof s->target_id, "%s", target_id);
    bh_cdp_call(s->cdp, "Target.attachToTarget",
                json_pack("{s:s, s:b}", "targetId", target_id, "flatten", 1), NULL, attached, s);
}

static void created_target(void *arg, json_t *reply)
{
    struct bh_session *s = arg;
    if (!reply)
        return; /* the browser went away: browser_gone() ends the session */
    if (s->state != S_STARTING)
        return;
    const char *tid = bh_json_str(json_object_get(reply, "result"), "targetId");
    if (!tid) {
        const char *e = reply_error(reply);
        char *d = bh_xasprintf("create page: %s", e ? e : "no target id");
        session_end(s, "error", d);
        free(d);
        return;
    }
    attach_to(s, tid);
}

static void got_targets(void *arg, json_t *reply)
{
    struct bh_session *s = arg;
    if (!reply)
        return; /* the browser went away: browser_gone() ends the session */
    if (s->state != S_STARTING)
        return;
    const char *e = reply_error(reply);
    if (e) {
        char *d = bh_xasprintf("browser did not answer: %s", e);
        session_end(s, "error", d);
        free(d);
        return;
    }
    json_t *infos = json_object_get(json_object_get(reply, "result"), "targetInfos");
    size_t i;
    json_t *ti;
    json_array_foreach(infos, i, ti)
    {
        const char *type = bh_json_str(ti, "type");
        const char *tid = bh_json_str(ti, "targetId");
        if (type && tid && !strcmp(type, "page")) {
            attach_to(s, tid);
            const char *url = bh_json_str(ti, "url");
            if (s->adopting ||
                (!strcmp(s->row.url, "about:blank") && url && !strcmp(url, "about:blank"))) {
                /* The first page is already loaded: the session is ready
                 * now; the attach completes in the background (daemon
                 * operations wait for it). */
                set_str(&s->title, bh_json_str(ti, "title"));
                set_str(&s->page_url, url);
                became_ready(s);
            }
            return;
        }
    }
    bh_cdp_call(s->cdp, "Target.createTarget", json_pack("{s:s}", "url", "about:blank"), NULL,
                created_target, s);
}

static void got_version(void *arg, json_t *reply)
{
    struct bh_session *s = arg;
    s->t_browser = bh_mono_ms();
    json_t *r = json_object_get(reply, "result");
    if (r) {
        json_decref(s->version);
        s->version = json_incref(r);
    }
}

static void start_timeout(void *arg)
{
    struct bh_session *s = arg;
    char *tail = log_tail(s);
    char *d = bh_xasprintf("browser not ready within %d ms%s%s", s->m->cfg->start_timeout_ms,
                           *tail ? ": " : "", tail);
    session_end(s, "error", d);
    free(d);
    free(tail);
}

static void ttl_expired(void *arg)
{
    struct bh_session *s = arg;
    bh_log(BH_LOG_INFO, s->row.id, "ttl expired");
    session_end(s, "ttl", NULL);
}

static void start_done(void *arg)
{
    struct start_job *j = arg;
    struct bh_session *s = j->s;
    s->job_running = 0;
    s->t_sandbox = bh_mono_ms();
    close(j->fd_in);
    close(j->fd_out);
    close(j->fd_log);
    if (!j->ok) {
        /* the job removed what it had made */
        bh_log(BH_LOG_WARN, s->row.id, "create failed: %s", bh_err_msg(&j->err));
        session_end(s, "error", bh_err_msg(&j->err));
        bh_err_clear(&j->err);
        free(j);
        return;
    }
    snprintf(s->row.runtime, sizeof s->row.runtime, "%s", bh_runtime_name(s->m->cfg->runtime));
    snprintf(s->row.container_id, sizeof s->row.container_id, "%s", j->sb.id);
    snprintf(s->row.addr, sizeof s->row.addr, "%s", j->net.addr);
    s->row.pid = j->sb.pid;
    s->row.uid_base = j->uid_base;
    free(j);
    store_update(s);
    event(s, "sandbox_started", json_pack("{s:i, s:s}", "pid", s->row.pid, "address", s->row.addr));
    if (s->end_pending) {
        session_end(s, s->end_reason, s->end_detail);
        return;
    }
    int pfd = (int)syscall(SYS_pidfd_open, s->row.pid, 0);
    if (pfd < 0) {
        char *d = bh_xasprintf("pidfd_open %d: %s", s->row.pid, strerror(errno));
        session_end(s, "error", d);
        free(d);
        return;
    }
    s->exit_w = bh_watch_add(s->m->loop, pfd, on_exit_fd, s);
    bh_cdp_call(s->cdp, "Target.setDiscoverTargets", json_pack("{s:b}", "discover", 1), NULL,
                NULL, NULL);
    bh_cdp_call(s->cdp, "Browser.getVersion", NULL, NULL, got_version, s);
    bh_cdp_call(s->cdp, "Target.getTargets", NULL, NULL, got_targets, s);
}

/* ---------------------------------------------------------------- create */

/* The allow rule for a proxy URL that validation accepted
 * (SCHEME://IP:PORT or SCHEME://[IPv6]:PORT). */
static int proxy_rule(const char *url, struct bh_net_rule *out)
{
    const char *rest = strstr(url, "://");
    if (!rest)
        return -1;
    rest += 3;
    char host[64];
    const char *colon;
    if (*rest == '[') {
        const char *close = strchr(rest, ']');
        if (!close)
            return -1;
        snprintf(host, sizeof host, "%.*s", (int)(close - rest - 1), rest + 1);
        colon = close + 1;
    } else {
        colon = strchr(rest, ':');
        if (!colon)
            return -1;
        snprintf(host, sizeof host, "%.*s", (int)(colon - rest), rest);
    }
    uint16_t port = (uint16_t)atoi(colon + 1);
    return bh_net_rule_parse(host, &port, 1, out, NULL);
}

/* The session's egress policy, upstream proxy and clipboard policy from
 * validated create options (taken over). With an upstream proxy, the proxy
 * is the only way out (and the allow-list, if one was given). */
static void take_policy(struct bh_session *s, struct bh_create_opts *opts)
{
    s->net_mode = opts->net_mode;
    s->nallow = opts->nallow;
    s->allow = steal_pointer(&opts->allow);
    s->upstream = steal_pointer(&opts->proxy);
    s->clip.copy = opts->clip_copy;
    s->clip.paste = opts->clip_paste;
    if (s->upstream) {
        struct bh_net_rule pr;
        if (proxy_rule(s->upstream, &pr) == 0) {
            struct bh_net_rule *nv = realloc(s->allow, (size_t)(s->nallow + 1) * sizeof *nv);
            if (!nv)
                abort();
            nv[s->nallow++] = pr;
            s->allow = nv;
            s->net_mode = BH_NET_ALLOWLIST;
        }
    }
}

static struct bh_session *session_new(struct bh_sessions *m)
{
    struct bh_session *s = bh_xcalloc(1, sizeof *s);
    s->m = m;
    s->start_timer = bh_timer_new(m->loop, start_timeout, s);
    s->load_timer = bh_timer_new(m->loop, load_timeout, s);
    s->page_load_ms = m->cfg->page_load_timeout_ms;
    s->ttl_timer = bh_timer_new(m->loop, ttl_expired, s);
    s->idle_timer = bh_timer_new(m->loop, idle_expired, s);
    s->grace_timer = bh_timer_new(m->loop, pipe_grace_over, s);
    s->next = m->list;
    m->list = s;
    m->live++;
    return s;
}

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

static void fail_now(bh_session_created_cb cb, void *arg, int status, const char *msg);

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

static void waiting_timeout(void *arg)
{
    struct waiting *w = arg;
    waiting_unlink(w);
    bh_create_opts_clear(&w->opts);
    char *msg = bh_xasprintf("no session slot became free within %d s (all %d in use)",
                             w->m->cfg->queue_timeout_ms / 1000, w->m->cfg->max_sessions);
    fail_now(w->cb, w->arg, 429, msg);
    free(msg);
    free(w);
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

static void fail_now(bh_session_created_cb cb, void *arg, int status, const char *msg)
{
    bh_err_t err = BH_ERR_INIT;
    bh_err_set(&err, 0, "%s", msg);
    err.status = status;
    cb(arg, NULL, &err);
    bh_err_clear(&err);
}

static char *session_dir(const struct bh_sessions *m, const char *id)
{
    return bh_xasprintf("%s/%s", m->sessions_dir, id);
}

/* The settings a later run needs to adopt the session (its network policy,
 * proxy and clipboard policy), as a create body: <session dir>/adopt.json. */
static int write_adopt_settings(struct bh_session *s, const char *dir, bh_err_t *err)
{
    json_t *o = json_pack("{s:{s:b, s:b}}", "clipboard", "copy", s->clip.copy, "paste",
                          s->clip.paste);
    /* the stored form names every field; a create body only those in use */
    json_t *net = s->row.network ? json_loads(s->row.network, 0, NULL) : NULL;
    if (json_is_object(net)) {
        json_t *allow = json_object_get(net, "allow");
        if (!json_is_array(allow) || json_array_size(allow) == 0)
            json_object_del(net, "allow");
        if (!json_is_string(json_object_get(net, "proxy")))
            json_object_del(net, "proxy");
        json_object_set(o, "network", net);
    }
    json_decref(net);
    char *text = bh_json_dump(o);
    json_decref(o);
    cleanup_free char *path = bh_xasprintf("%s/adopt.json", dir);
    int rc = bh_write_file(path, text, strlen(text), 0600, err);
    free(text);
    return rc;
}

/* The CDP channel is a pair of FIFOs in the session's run dir rather than
 * anonymous pipes, so that the browser keeps its ends across a daemon
 * restart and the next daemon can open them again (adoption). The browser's
 * ends are opened read-write: it then never sees end-of-file or EPIPE while
 * no daemon is attached, and ours still see its exit (no writer / no reader
 * left). fds: [0] the browser's fd 3, [1] its fd 4, [2] ours to write,
 * [3] ours to read. */
static int cdp_fifos(struct bh_session *s, int fds[4], bh_err_t *err)
{
    struct bh_sessions *m = s->m;
    cleanup_free char *dir = session_dir(m, s->row.id);
    cleanup_free char *in = bh_xasprintf("%s/in", dir);
    cleanup_free char *out = bh_xasprintf("%s/out", dir);
    if (bh_mkdir_p(m->sessions_dir, 0700, err) < 0)
        return -1;
    if (mkdir(dir, 0700) < 0)
        return bh_err_set(err, errno, "session dir %s", dir);
    if (mkfifo(in, 0600) < 0 || mkfifo(out, 0600) < 0) {
        bh_err_set(err, errno, "mkfifo in %s", dir);
        bh_rm_rf(dir, NULL);
        return -1;
    }
    fds[0] = open(in, O_RDWR | O_CLOEXEC);
    fds[1] = open(out, O_RDWR | O_CLOEXEC);
    fds[2] = open(in, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    fds[3] = open(out, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0 || fds[3] < 0) {
        bh_err_set(err, errno, "open the CDP FIFOs in %s", dir);
    } else if (write_adopt_settings(s, dir, err) == 0) {
        return 0;
    }
    for (int i = 0; i < 4; i++)
        bh_closep(&fds[i]);
    bh_rm_rf(dir, NULL);
    return -1;
}

/* Give a queued session its browser: pipes, CDP, the start job. Browser
 * starts are CPU-heavy, so only cfg->max_starting run at once; the start
 * timeout counts from here, not from the request. */
static void begin_start(struct bh_session *s)
{
    struct bh_sessions *m = s->m;
    int fifo[4] = {-1, -1, -1, -1}, plog[2] = {-1, -1};
    m->starting++;
    s->counted = 1;
    s->t_start = bh_mono_ms();
    bh_err_t err = BH_ERR_INIT;
    if (cdp_fifos(s, fifo, &err) < 0 || pipe2(plog, O_CLOEXEC) < 0) {
        if (!err.msg)
            bh_err_set(&err, errno, "pipe");
        for (int i = 0; i < 4; i++)
            bh_closep(&fifo[i]);
        bh_closep(&plog[0]);
        bh_closep(&plog[1]);
        session_end(s, "error", bh_err_msg(&err));
        bh_err_clear(&err);
        return;
    }
    s->cdp = bh_cdp_new(m->loop, fifo[2], fifo[3], on_cdp_event, on_cdp_closed, s);
    s->log_w = bh_watch_add(m->loop, plog[0], on_log, s);
    bh_timer_set(s->start_timer, m->cfg->start_timeout_ms);

    struct start_job *j = bh_xcalloc(1, sizeof *j);
    j->s = s;
    j->m = m;
    snprintf(j->id, sizeof j->id, "%s", s->row.id);
    j->w = s->row.viewport_w;
    j->h = s->row.viewport_h;
    j->policy.mode = s->net_mode;
    j->policy.allow = s->allow;
    j->policy.nallow = s->nallow;
    j->proxy = s->upstream;
    j->fd_in = fifo[0];
    j->fd_out = fifo[1];
    j->fd_log = plog[1];
    s->job_running = 1;
    bh_workers_submit(m->workers, start_work, start_done, j);
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
        begin_start(next);
    }
}

void bh_session_create(bh_sessions_t *m, struct bh_create_opts *opts, bh_session_created_cb cb,
                       void *arg)
{
    const struct bh_config *cfg = m->cfg;
    if (m->shutdown_cb) {
        bh_create_opts_clear(opts);
        fail_now(cb, arg, 503, "the daemon is shutting down");
        return;
    }
    if (m->live >= cfg->max_sessions) {
        if (m->nwaiting >= cfg->queue_max) {
            bh_create_opts_clear(opts);
            char *msg = bh_xasprintf("all %d session slots are in use and %d creates wait",
                                     cfg->max_sessions, m->nwaiting);
            fail_now(cb, arg, 429, msg);
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
        fail_now(cb, arg, 500, bh_err_msg(&err));
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
    take_policy(s, opts);
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
    event(s, "created", json_pack("{s:s}", "url", r->url));
    m->metrics.created++;
    bh_log(BH_LOG_INFO, id, "creating for %s", r->url);
    s->created_cb = cb;
    s->created_arg = arg;
    s->t_queued = bh_mono_ms();

    if (m->starting < m->max_starting) {
        begin_start(s);
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
            waiting_unlink(w);
            bh_create_opts_clear(&w->opts);
            fail_now(w->cb, w->arg, 503, "client gone");
            free(w);
            return;
        }
    for (struct bh_session *s = m->list; s; s = s->next)
        if (s->created_cb && s->created_arg == arg && s->state == S_STARTING) {
            bh_log(BH_LOG_INFO, s->row.id, "its client left before it was ready: ending it");
            session_end(s, "error", "client gone");
            return;
        }
}

/* ---------------------------------------------------------------- end */

struct destroy_job {
    struct bh_session *s;
    char container_id[80];
    pid_t pid; /* the container's init: our child, as we are a subreaper */
    bh_err_t err;
};

/* Collect the exit of the container's init so no zombie is left. */
static void reap_init(pid_t pid)
{
    if (pid <= 0)
        return;
    for (int i = 0; i < 500; i++) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return;
        usleep(10000);
    }
}

static void destroy_work(void *arg)
{
    struct destroy_job *j = arg;
    struct bh_sessions *m = j->s->m;
    bh_err_t e = BH_ERR_INIT;
    /* The container's init is our child: kill and reap it first. Its death
     * ends every process of its pid namespace, and an unreaped zombie would
     * keep the cgroups busy for the runtime's delete. */
    if (j->pid > 0) {
        kill(j->pid, SIGKILL);
        reap_init(j->pid);
        j->pid = 0;
    }
    if (bh_sandbox_destroy(&m->env, j->container_id, &e) < 0) {
        bh_err_wrap(&e, "sandbox");
        bh_err_set(&j->err, 0, "%s", bh_err_msg(&e));
        bh_err_clear(&e);
    }
    reap_init(j->pid);
    cleanup_free char *dir = session_dir(m, j->s->row.id);
    bh_rm_rf(dir, NULL);
    if (bh_net_session_teardown(&m->net, j->s->row.id, &e) < 0) {
        bh_log(BH_LOG_ERROR, j->s->row.id, "network teardown: %s", bh_err_msg(&e));
        if (!j->err.msg)
            bh_err_set(&j->err, 0, "network: %s", bh_err_msg(&e));
        bh_err_clear(&e);
    }
    /* The range is free only once no process of the sandbox is left. */
    if (bh_userns_release(&m->userns, j->s->row.id, &e) < 0) {
        bh_log(BH_LOG_ERROR, j->s->row.id, "uid range release: %s", bh_err_msg(&e));
        bh_err_clear(&e);
    }
}

static void session_free(struct bh_session *s)
{
    struct bh_sessions *m = s->m;
    for (struct bh_session **pp = &m->list; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    m->live--;
    admit_waiting(m);
    bh_timer_free(s->start_timer);
    bh_timer_free(s->load_timer);
    bh_timer_free(s->ttl_timer);
    bh_timer_free(s->idle_timer);
    bh_timer_free(s->grace_timer);
    bh_session_row_clear(&s->row);
    free(s->title);
    free(s->page_url);
    free(s->page_error);
    free(s->end_detail);
    free(s->allow);
    free(s->upstream);
    json_decref(s->version);
    free(s);
}

static void destroy_done(void *arg)
{
    struct destroy_job *j = arg;
    struct bh_session *s = j->s;
    struct bh_sessions *m = s->m;
    if (j->err.msg)
        bh_log(BH_LOG_ERROR, s->row.id, "cleanup: %s", bh_err_msg(&j->err));
    bh_err_clear(&j->err);
    free(j);

    snprintf(s->row.status, sizeof s->row.status, "ended");
    snprintf(s->row.end_reason, sizeof s->row.end_reason, "%s", s->end_reason);
    set_str(&s->row.end_detail, s->end_detail);
    s->row.ended_at = bh_now_ms();
    store_update(s);
    event(s, "ended",
          json_pack("{s:s, s:s?}", "reason", s->end_reason, "detail", s->end_detail));
    bh_metrics_session_ended(&m->metrics, s->end_reason);
    bh_log(BH_LOG_INFO, s->row.id, "ended (%s)", s->end_reason);

    bh_session_created_cb cb = s->created_cb;
    s->created_cb = NULL;
    if (cb) {
        bh_err_t err = BH_ERR_INIT;
        bh_err_set(&err, 0, "%s", s->end_detail ? s->end_detail : "session ended while starting");
        err.status = !strcmp(s->end_reason, "shutdown") ? 503 : 500;
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

static void session_end(struct bh_session *s, const char *reason, const char *detail)
{
    if (s->state == S_ENDING)
        return;
    if (!s->end_reason[0]) {
        snprintf(s->end_reason, sizeof s->end_reason, "%s", reason);
        set_str(&s->end_detail, detail);
    }
    if (s->job_running) { /* finish starting first; start_done comes back here */
        s->end_pending = 1;
        return;
    }
    s->state = S_ENDING;
    start_finished(s);
    char *why = bh_xasprintf("session ended: %s", s->end_reason);
    detach(s, 1001, why);
    free(why);
    struct destroy_job *j = bh_xcalloc(1, sizeof *j);
    j->s = s;
    snprintf(j->container_id, sizeof j->container_id, "bh-%s", s->row.id);
    j->pid = s->row.pid;
    bh_workers_submit(s->m->workers, destroy_work, destroy_done, j);
}

/* Drop everything of s on the loop's side: timers, clients (closed with
 * code and why), the CDP channel, watches, operations in flight. The
 * sandbox itself is left alone. */
static void detach(struct bh_session *s, int code, const char *why)
{
    bh_timer_cancel(s->start_timer);
    bh_timer_cancel(s->load_timer);
    bh_timer_cancel(s->ttl_timer);
    bh_timer_cancel(s->idle_timer);
    bh_timer_cancel(s->grace_timer);
    bh_cdp_proxy_free(s->proxy, code, why);
    unsigned long long frames, bytes;
    bh_live_stats(s->live, &frames, &bytes);
    s->m->live_frames_done += frames;
    s->m->live_bytes_done += bytes;
    bh_live_free(s->live, code, why);
    s->proxy = NULL;
    s->live = NULL;
    bh_cdp_free(s->cdp);
    s->cdp = NULL;
    bh_watch_remove(s->exit_w);
    s->exit_w = NULL;
    bh_watch_remove(s->log_w);
    s->log_w = NULL;
    /* operations in flight fail now */
    while (s->refreshes)
        refresh_done(s->refreshes);
    while (s->ops) {
        struct op *o = s->ops;
        s->ops = o->next;
        bh_err_t err = BH_ERR_INIT;
        bh_err_set(&err, 0, "session ended");
        err.status = 409;
        bh_timer_free(o->timer);
        o->cb(o->arg, NULL, 0, &err);
        bh_err_clear(&err);
        free(o);
    }
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

/* ---------------------------------------------------------------- queries */

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
        return bh_err_set(err, EAGAIN, "the session is not ready");
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

static void unlink_op(struct op *o)
{
    for (struct op **pp = &o->s->ops; *pp; pp = &(*pp)->next)
        if (*pp == o) {
            *pp = o->next;
            break;
        }
}

static void send_op(struct op *o);

static void screenshot_reply(void *arg, json_t *reply)
{
    struct op *o = arg;
    struct bh_session *s = o->s;
    const char *e = reply_error(reply);
    const char *data = bh_json_str(json_object_get(reply, "result"), "data");
    if (reply && (e || !data) && strcmp(o->sid, s->cdp_session) != 0) {
        /* its page was closed meanwhile: take it again, of the new page */
        o->sent = 0;
        if (s->page_attached)
            send_op(o);
        return;
    }
    unlink_op(o);
    bh_timer_free(o->timer);
    bh_live_reapply_viewport(s->live);
    bh_err_t err = BH_ERR_INIT;
    if (e || !data) {
        bh_err_set(&err, 0, "screenshot failed: %s", e ? e : "no data");
        err.status = 500;
        o->cb(o->arg, NULL, 0, &err);
        bh_err_clear(&err);
        free(o);
        return;
    }
    int n = (int)strlen(data);
    char *png = bh_xmalloc((size_t)n * 3 / 4 + 4);
    int len = bh_b64_decode(data, n, png, n * 3 / 4 + 4);
    if (len < 8) {
        bh_err_set(&err, 0, "screenshot failed: bad image data");
        err.status = 500;
        o->cb(o->arg, NULL, 0, &err);
        bh_err_clear(&err);
    } else {
        o->cb(o->arg, png, (size_t)len, NULL);
    }
    free(png);
    free(o);
}

/* ---------------------------------------------------------------- refresh */

static void refresh_done(struct refresh *r)
{
    struct bh_session *s = r->s;
    for (struct refresh **pp = &s->refreshes; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    bh_timer_free(r->timer);
    r->cb(r->arg, s);
    free(r);
}

/* One answer serves every GET that waits for it. */
static void refresh_reply(void *arg, json_t *reply)
{
    struct bh_session *s = arg;
    s->refresh_inflight = 0;
    json_t *ti = json_object_get(json_object_get(reply, "result"), "targetInfo");
    if (ti) {
        set_str(&s->title, bh_json_str(ti, "title"));
        set_str(&s->page_url, bh_json_str(ti, "url"));
        s->refreshed_at = bh_mono_ms();
    }
    while (s->refreshes)
        refresh_done(s->refreshes);
}

static void refresh_timeout(void *arg) { refresh_done(arg); }

void bh_session_refresh(bh_session_t *s, void (*cb)(void *arg, bh_session_t *s), void *arg)
{
    /* an answer of the last 250 ms is current enough */
    if (s->state != S_READY || !s->cdp || !s->target_id[0] ||
        (s->refreshed_at && bh_mono_ms() - s->refreshed_at < 250)) {
        cb(arg, s);
        return;
    }
    struct refresh *r = bh_xcalloc(1, sizeof *r);
    r->s = s;
    r->cb = cb;
    r->arg = arg;
    r->timer = bh_timer_new(s->m->loop, refresh_timeout, r);
    r->next = s->refreshes;
    s->refreshes = r;
    /* Title changes reach the browser's event stream late or not at all
     * (the first tab's never do), so ask for the current state. */
    bh_timer_set(r->timer, 1000);
    if (s->refresh_inflight)
        return;
    if (bh_cdp_call(s->cdp, "Target.getTargetInfo", json_pack("{s:s}", "targetId", s->target_id),
                    NULL, refresh_reply, s) < 0) {
        refresh_done(r);
        return;
    }
    s->refresh_inflight = 1;
}

static void op_timeout(void *arg)
{
    struct op *o = arg;
    unlink_op(o);
    if (o->s->cdp)
        bh_cdp_forget(o->s->cdp, o);
    bh_timer_free(o->timer);
    bh_err_t err = BH_ERR_INIT;
    bh_err_set(&err, 0, "the browser did not take the screenshot within 20 s");
    err.status = 504;
    o->cb(o->arg, NULL, 0, &err);
    bh_err_clear(&err);
    free(o);
}

static void send_op(struct op *o)
{
    o->sent = 1;
    snprintf(o->sid, sizeof o->sid, "%s", o->s->cdp_session);
    bh_cdp_call(o->s->cdp, "Page.captureScreenshot", json_pack("{s:s}", "format", "png"),
                o->s->cdp_session, screenshot_reply, o);
}

void bh_session_screenshot(bh_session_t *s, bh_session_png_cb cb, void *arg)
{
    if (s->state != S_READY || !s->cdp) {
        bh_err_t err = BH_ERR_INIT;
        bh_err_set(&err, 0, "session is not ready");
        err.status = 409;
        cb(arg, NULL, 0, &err);
        bh_err_clear(&err);
        return;
    }
    struct op *o = bh_xcalloc(1, sizeof *o);
    o->s = s;
    o->cb = cb;
    o->arg = arg;
    o->next = s->ops;
    s->ops = o;
    o->timer = bh_timer_new(s->m->loop, op_timeout, o);
    bh_timer_set(o->timer, 20000);
    if (s->page_attached)
        send_op(o);
}

static void send_waiting_ops(struct bh_session *s)
{
    for (struct op *o = s->ops; o; o = o->next)
        if (!o->sent)
            send_op(o);
}

void bh_session_cdp_accept(bh_session_t *s, bh_req_t *req)
{
    if (s->state != S_READY || !s->proxy) {
        static const char msg[] = "{\"error\":{\"code\":\"not_ready\",\"message\":"
                                  "\"the session is not ready\"}}";
        bh_req_reply(req, 409, "application/json", msg, sizeof msg - 1, NULL);
        return;
    }
    bh_cdp_proxy_accept(s->proxy, req);
}

void bh_session_live_accept(bh_session_t *s, bh_req_t *req, int input)
{
    if (s->state != S_READY || !s->live) {
        static const char msg[] = "{\"error\":{\"code\":\"not_ready\",\"message\":"
                                  "\"the session is not ready\"}}";
        bh_req_reply(req, 409, "application/json", msg, sizeof msg - 1, NULL);
        return;
    }
    bh_live_accept(s->live, req, input);
}

json_t *bh_session_version_json(bh_session_t *s, const char *ws_url)
{
    if (s->state != S_READY || !s->version)
        return NULL;
    json_t *v = s->version;
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "Browser",
                     bh_json_str(v, "product") ? bh_json_str(v, "product") : "",
                     "Protocol-Version",
                     bh_json_str(v, "protocolVersion") ? bh_json_str(v, "protocolVersion") : "1.3",
                     "User-Agent", bh_json_str(v, "userAgent") ? bh_json_str(v, "userAgent") : "",
                     "V8-Version", bh_json_str(v, "jsVersion") ? bh_json_str(v, "jsVersion") : "",
                     "WebKit-Version",
                     bh_json_str(v, "revision") ? bh_json_str(v, "revision") : "",
                     "webSocketDebuggerUrl", ws_url);
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

/* ---------------------------------------------------------------- metrics */

/* A cgroup file's first number of the session's controller dir, or -1. */
static long long cg_value(char **paths, int n, const char *ctrl, const char *file,
                          const char *key)
{
    for (int i = 0; i < n; i++) {
        if (!strstr(paths[i], ctrl))
            continue;
        char *f = bh_xasprintf("%s/%s", paths[i], file);
        char *text = bh_read_file(f, NULL, NULL);
        free(f);
        if (!text)
            continue;
        const char *at = text;
        if (key) {
            at = strstr(text, key);
            at = at ? at + strlen(key) : NULL;
        }
        long long v = at ? atoll(at) : -1;
        free(text);
        return v;
    }
    return -1;
}

char *bh_sessions_metrics(bh_sessions_t *m, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        abort();
    int starting = 0, ready = 0, ending = 0, cdp = 0, viewers = 0, queued = 0;
    unsigned long long frames = 0, bytes = 0;
    for (struct bh_session *s = m->list; s; s = s->next) {
        starting += s->state == S_STARTING;
        ready += s->state == S_READY;
        ending += s->state == S_ENDING;
        cdp += bh_cdp_proxy_clients(s->proxy);
        viewers += bh_live_viewers(s->live);
        unsigned long long fr, by;
        bh_live_stats(s->live, &fr, &by);
        frames += fr;
        bytes += by;
    }
    for (struct bh_session *q = m->queue; q; q = q->qnext)
        queued++;
    fprintf(f,
            "# HELP bulkhead_capacity_queue_length Creates waiting for a free session slot.\n"
            "# TYPE bulkhead_capacity_queue_length gauge\n"
            "bulkhead_capacity_queue_length %d\n",
            m->nwaiting);
    bh_metrics_write(&m->metrics, f);
    fprintf(f,
            "# HELP bulkhead_sessions Live sessions by status.\n"
            "# TYPE bulkhead_sessions gauge\n"
            "bulkhead_sessions{status=\"starting\"} %d\n"
            "bulkhead_sessions{status=\"ready\"} %d\n"
            "bulkhead_sessions{status=\"ending\"} %d\n",
            starting, ready, ending);
    fprintf(f,
            "# HELP bulkhead_start_queue_length Sessions waiting for a browser start slot.\n"
            "# TYPE bulkhead_start_queue_length gauge\n"
            "bulkhead_start_queue_length %d\n",
            queued);
    fprintf(f,
            "# HELP bulkhead_cdp_clients Connected CDP clients.\n"
            "# TYPE bulkhead_cdp_clients gauge\n"
            "bulkhead_cdp_clients %d\n"
            "# HELP bulkhead_live_viewers Connected live-view viewers.\n"
            "# TYPE bulkhead_live_viewers gauge\n"
            "bulkhead_live_viewers %d\n",
            cdp, viewers);
    fprintf(f,
            "# HELP bulkhead_live_frames_total Frames sent to live-view viewers.\n"
            "# TYPE bulkhead_live_frames_total counter\n"
            "bulkhead_live_frames_total %llu\n"
            "# HELP bulkhead_live_bytes_total Bytes of frames sent to live-view viewers.\n"
            "# TYPE bulkhead_live_bytes_total counter\n"
            "bulkhead_live_bytes_total %llu\n",
            m->live_frames_done + frames, m->live_bytes_done + bytes);
    char *cpu_lines = NULL;
    size_t cpu_len = 0;
    FILE *cf = open_memstream(&cpu_lines, &cpu_len);
    if (!cf)
        abort();
    fprintf(f, "# HELP bulkhead_session_memory_bytes Memory in use by a session's cgroup.\n"
               "# TYPE bulkhead_session_memory_bytes gauge\n");
    for (struct bh_session *s = m->list; s; s = s->next) {
        if (s->state != S_READY)
            continue;
        char cg[96];
        snprintf(cg, sizeof cg, "bulkhead/%s", s->row.id);
        char **paths = NULL;
        int np = bh_sandbox_cgroup_paths(cg, &paths, NULL);
        long long mem = cg_value(paths, np, "/memory/", "memory.usage_in_bytes", NULL);
        long long cpu = cg_value(paths, np, "/cpuacct", "cpuacct.usage", NULL);
        if (mem >= 0)
            fprintf(f, "bulkhead_session_memory_bytes{session=\"%s\"} %lld\n", s->row.id, mem);
        if (cpu >= 0)
            fprintf(cf, "bulkhead_session_cpu_seconds_total{session=\"%s\"} %.6f\n", s->row.id,
                    (double)cpu / 1e9);
        for (int i = 0; i < np; i++)
            free(paths[i]);
        free(paths);
    }
    fclose(cf);
    fprintf(f,
            "# HELP bulkhead_session_cpu_seconds_total CPU time used by a session's cgroup.\n"
            "# TYPE bulkhead_session_cpu_seconds_total counter\n%s",
            cpu_lines ? cpu_lines : "");
    free(cpu_lines);
    fclose(f);
    *len = n;
    return buf;
}

/* ---------------------------------------------------------------- readiness */

static void check(json_t *checks, int *ready, const char *name, const char *problem)
{
    json_object_set_new(checks, name, json_string(problem ? problem : "ok"));
    if (problem)
        *ready = 0;
}

json_t *bh_sessions_readiness(bh_sessions_t *m, int *ready)
{
    json_t *checks = json_object();
    *ready = 1;
    /* the store answers a query */
    struct bh_session_row row;
    memset(&row, 0, sizeof row);
    bh_err_t err = BH_ERR_INIT;
    int rc = bh_store_session_get(m->store, "readyz", &row, &err);
    bh_session_row_clear(&row);
    check(checks, ready, "store", rc < 0 ? bh_err_msg(&err) : NULL);
    bh_err_clear(&err);
    /* the runtime can be run, its state dir is there */
    char *problem = NULL;
    struct stat st;
    if (bh_runtime_found(m->cfg->runtime, &err) < 0)
        problem = bh_xstrdup(bh_err_msg(&err));
    else if (stat(m->runtime_root, &st) < 0 || !S_ISDIR(st.st_mode))
        problem = bh_xasprintf("runtime root %s: %s", m->runtime_root, strerror(errno ? errno : ENOTDIR));
    bh_err_clear(&err);
    check(checks, ready, "runtime", problem);
    free(problem);
    problem = NULL;
    /* the sessions' bridge is up and the host forwards their packets */
    cleanup_free char *flags_path = bh_xasprintf("/sys/class/net/%s/flags", m->cfg->bridge);
    cleanup_free char *flags = bh_read_file(flags_path, NULL, NULL);
    cleanup_free char *fwd = bh_read_file("/proc/sys/net/ipv4/ip_forward", NULL, NULL);
    if (!flags)
        problem = bh_xasprintf("bridge %s is missing", m->cfg->bridge);
    else if (!(strtoul(flags, NULL, 16) & 1))
        problem = bh_xasprintf("bridge %s is down", m->cfg->bridge);
    else if (!fwd || fwd[0] != '1')
        problem = bh_xstrdup("net.ipv4.ip_forward is off");
    check(checks, ready, "network", problem);
    free(problem);
    check(checks, ready, "accepting", m->shutdown_cb ? "the daemon is shutting down" : NULL);
    return checks;
}

/* ---------------------------------------------------------------- manager */

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
    return m;
}

static void reap(struct bh_sessions *m, const char *id)
{
    bh_err_t err = BH_ERR_INIT;
    char cid[80];
    snprintf(cid, sizeof cid, "bh-%s", id);
    if (bh_sandbox_destroy(&m->env, cid, &err) < 0) {
        bh_log(BH_LOG_ERROR, id, "recovery: sandbox: %s", bh_err_msg(&err));
        bh_err_clear(&err);
    }
    if (bh_net_session_teardown(&m->net, id, &err) < 0) {
        bh_log(BH_LOG_ERROR, id, "recovery: network: %s", bh_err_msg(&err));
        bh_err_clear(&err);
    }
    if (bh_userns_release(&m->userns, id, &err) < 0) {
        bh_log(BH_LOG_ERROR, id, "recovery: uid range: %s", bh_err_msg(&err));
        bh_err_clear(&err);
    }
    cleanup_free char *dir = session_dir(m, id);
    bh_rm_rf(dir, NULL);
}

/* Whether pid is the init of session id's container: alive, and in the
 * session's cgroup (a recycled pid is not). */
static int is_session_init(pid_t pid, const char *id)
{
    if (pid <= 1)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    cleanup_free char *stat = bh_read_file(path, NULL, NULL);
    const char *st = stat ? strrchr(stat, ')') : NULL;
    if (!st || st[1] != ' ' || st[2] == 'Z' || st[2] == 'X')
        return 0; /* gone, or a zombie */
    snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
    cleanup_free char *cg = bh_read_file(path, NULL, NULL);
    cleanup_free char *want = bh_xasprintf("/bulkhead/%s\n", id);
    return cg && strstr(cg, want) != NULL;
}

/* Re-attach to a session a previous run left running (its row r is taken
 * over on success): re-open its CDP FIFOs, re-apply its egress policy (the
 * daemon's start rebuilt the firewall tables without it, so until now its
 * packets were dropped), then drive it to READY like a start. On failure
 * returns -1 with *reason and err saying why; nothing is changed. */
static int adopt(struct bh_sessions *m, struct bh_session_row *r, const char **reason,
                 bh_err_t *err)
{
    *reason = "shutdown";
    if (r->expires_at && r->expires_at <= bh_now_ms()) {
        *reason = "ttl";
        return bh_err_set(err, 0, "its ttl ran out while the daemon was down");
    }
    if (!is_session_init(r->pid, r->id)) {
        *reason = "crashed";
        return bh_err_set(err, 0, "its browser (pid %d) exited while the daemon was down", r->pid);
    }
    cleanup_free char *dir = session_dir(m, r->id);
    cleanup_free char *in = bh_xasprintf("%s/in", dir);
    cleanup_free char *out = bh_xasprintf("%s/out", dir);
    cleanup_free char *settings_path = bh_xasprintf("%s/adopt.json", dir);
    size_t len = 0;
    cleanup_free char *settings = bh_read_file(settings_path, &len, err);
    if (!settings)
        return -1;
    struct bh_create_opts opts;
    struct bh_invalid why;
    if (bh_validate_create(settings, len, m->cfg, &opts, &why) < 0)
        return bh_err_set(err, EINVAL, "%s: %s", settings_path, why.msg);
    /* a reader of "in" is the browser: ENXIO if it no longer holds it */
    cleanup_close int fd_in = open(in, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    cleanup_close int fd_out = open(out, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd_in < 0 || fd_out < 0) {
        if (errno == ENXIO)
            *reason = "crashed";
        bh_err_set(err, errno, "open its CDP FIFOs");
        bh_create_opts_clear(&opts);
        return -1;
    }
    /* What the browser wrote for the previous daemon is of no use; a
     * message that daemon left half-written is ended by a NUL (the browser
     * answers the garbage with an error, which nobody waits for). */
    char buf[65536];
    while (read(fd_out, buf, sizeof buf) > 0)
        ;
    if (write(fd_in, "", 1) != 1) {
        bh_err_set(err, errno, "write to its CDP FIFO");
        bh_create_opts_clear(&opts);
        return -1;
    }
    /* It keeps its uid range: the lease survived the restart (in /run);
     * should it be gone, it is taken again, unless another session has it. */
    if (r->uid_base && bh_userns_claim(&m->userns, r->id, r->uid_base, err) < 0) {
        bh_create_opts_clear(&opts);
        return -1;
    }
    struct bh_session *s = session_new(m);
    take_policy(s, &opts);
    bh_create_opts_clear(&opts);
    struct bh_net_policy policy = {.mode = s->net_mode, .allow = s->allow, .nallow = s->nallow};
    if (bh_net_session_policy(&m->net, r->id, &policy, err) < 0) {
        session_free(s);
        return -1;
    }
    int pfd = (int)syscall(SYS_pidfd_open, r->pid, 0);
    if (pfd < 0) {
        bh_err_set(err, errno, "pidfd_open %d", r->pid);
        session_free(s);
        return -1;
    }
    s->row = *r;
    memset(r, 0, sizeof *r); /* its heap fields are the session's now */
    s->state = S_STARTING;
    s->adopting = 1;
    s->t_start = s->t_queued = bh_mono_ms();
    s->cdp = bh_cdp_new(m->loop, fd_in, fd_out, on_cdp_event, on_cdp_closed, s);
    fd_in = fd_out = -1; /* the cdp's now */
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
        rnd = (uint32_t)bh_mono_ms();
    bh_cdp_first_id(s->cdp, (1L << 30) + (long)(rnd % (1u << 29)));
    s->exit_w = bh_watch_add(m->loop, pfd, on_exit_fd, s);
    bh_timer_set(s->start_timer, m->cfg->start_timeout_ms);
    bh_cdp_call(s->cdp, "Target.setDiscoverTargets", json_pack("{s:b}", "discover", 1), NULL,
                NULL, NULL);
    bh_cdp_call(s->cdp, "Browser.getVersion", NULL, NULL, got_version, s);
    bh_cdp_call(s->cdp, "Target.getTargets", NULL, NULL, got_targets, s);
    return 0;
}

/* The row of a session that could not be adopted, or was not to be: its
 * sandbox and network removed, the row ended with reason and detail. */
static int end_row(struct bh_sessions *m, struct bh_session_row *r, const char *reason,
                   const char *detail, bh_err_t *err)
{
    reap(m, r->id);
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
    /* containers under our runtime root that no row knows */
    char **ids = NULL;
    int k = bh_sandbox_list(&m->env, &ids, err);
    if (k < 0)
        return -1;
    for (int i = 0; i < k; i++) {
        if (!strncmp(ids[i], "bh-", 3) && !bh_session_find(m, ids[i] + 3)) {
            reap(m, ids[i] + 3);
            reaped++;
        }
        free(ids[i]);
    }
    free(ids);
    /* namespaces and address leases of sessions of ours whose container
     * was already gone (a crash between the steps of a create or a delete) */
    k = bh_net_list(&ids, err);
    if (k < 0)
        return -1;
    for (int i = 0; i < k; i++) {
        struct bh_session_row row;
        memset(&row, 0, sizeof row);
        if (!bh_session_find(m, ids[i]) && bh_store_session_get(m->store, ids[i], &row, NULL) > 0) {
            bh_err_t e = BH_ERR_INIT;
            if (bh_net_session_teardown(&m->net, ids[i], &e) < 0)
                bh_log(BH_LOG_ERROR, ids[i], "recovery: network: %s", bh_err_msg(&e));
            bh_err_clear(&e);
            bh_session_row_clear(&row);
            reaped++;
        }
        free(ids[i]);
    }
    free(ids);
    /* uid ranges of sessions of ours that are not live (a crash between the
     * steps of a create or a delete) */
    k = bh_userns_list(&m->userns, &ids, err);
    if (k < 0)
        return -1;
    for (int i = 0; i < k; i++) {
        struct bh_session_row row;
        memset(&row, 0, sizeof row);
        if (!bh_session_find(m, ids[i]) && bh_store_session_get(m->store, ids[i], &row, NULL) > 0) {
            bh_err_t e = BH_ERR_INIT;
            if (bh_userns_release(&m->userns, ids[i], &e) < 0)
                bh_log(BH_LOG_ERROR, ids[i], "recovery: uid range: %s", bh_err_msg(&e));
            bh_err_clear(&e);
            bh_session_row_clear(&row);
            reaped++;
        }
        free(ids[i]);
    }
    free(ids);
    if (reaped)
        bh_log(BH_LOG_INFO, NULL, "recovery: removed %d leftover(s) of a previous run", reaped);
    if (adopted)
        bh_log(BH_LOG_INFO, NULL, "recovery: adopting %d session(s) of a previous run", adopted);
    return 0;
}

/* Stop serving s but leave its sandbox running for the next start to adopt
 * (--on-shutdown leave): its clients are told to come back (1012). */
static void leave(struct bh_session *s)
{
    detach(s, 1012, "the daemon is restarting; reconnect");
    event(s, "left", json_pack("{s:s}", "detail", "the daemon stopped and left it running"));
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
    while (m->waiting) {
        struct waiting *w = m->waiting;
        waiting_unlink(w);
        bh_create_opts_clear(&w->opts);
        fail_now(w->cb, w->arg, 503, "the daemon is shutting down");
        free(w);
    }
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
