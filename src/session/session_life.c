/* session_life.c — the life of a session: its states (STARTING → READY →
 * ENDING → freed), its timers (start, ttl, idle, the pipe's grace), the
 * browser's exit and log, becoming ready (CDP clients, the live view), and
 * the end: loop-side resources dropped at once, then a destroy job removes
 * the sandbox, the network and the uid range, then the row is marked ended
 * and the waiters are told. Nothing is freed inside a callback of the
 * object being freed: cdp and watches defer their own frees. */
#include "session/session_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/local/cgroup.h"
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

char *session_dir(const struct bh_sessions *m, const char *id)
{
    return bh_xasprintf("%s/%s", m->sessions_dir, id);
}

/* Collect the exit of the container's init so no zombie is left. */
void session_reap_init(pid_t pid)
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

void session_on_log(void *arg, bh_watch_t *w, int events)
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
        session_event(s, "crashed", json_pack("{s:s}", "cause", detail));
    session_end(s, s->state == S_STARTING ? "error" : "crashed", detail);
    free(detail);
    free(tail);
}

/* Whether the session's memory cgroup saw the OOM killer act. */
int session_oom_killed(struct bh_session *s)
{
    char cg[96];
    snprintf(cg, sizeof cg, "bulkhead/%s", s->row.id);
    bh_cgroup_t *c = bh_cgroup_open(cg, NULL);
    struct bh_cgroup_usage u;
    bh_cgroup_usage(c, &u);
    bh_cgroup_free(c);
    return u.oom_kills > 0;
}

void session_on_exit(void *arg, bh_watch_t *w, int events)
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
    if (session_oom_killed(s))
        snprintf(what + strlen(what), sizeof what - strlen(what),
                 ", out of memory (killed at its %lld-byte limit)", (long long)s->row.memory_bytes);
    browser_gone(s, what);
}

void session_pipe_grace_over(void *arg)
{
    browser_gone(arg, "closed its control pipe");
}

void session_on_cdp_closed(void *arg)
{
    struct bh_session *s = arg;
    /* the exit of the browser usually follows at once and tells more */
    if (s->exit_w && s->state != S_ENDING) {
        bh_timer_set(s->grace_timer, 1000);
        return;
    }
    browser_gone(s, "closed its control pipe");
}

static void proxy_browser_close(void *arg)
{
    struct bh_session *s = arg;
    s->closed_by_client = 1;
}

static void proxy_clients_changed(void *arg, int connected, int total)
{
    struct bh_session *s = arg;
    session_event(s, connected ? "client_connected" : "client_disconnected",
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

void session_idle_expired(void *arg)
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
    session_event(s, connected ? "client_connected" : "client_disconnected",
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

void session_became_ready(struct bh_session *s)
{
    if (s->state != S_STARTING)
        return;
    bh_timer_cancel(s->start_timer);
    bh_timer_cancel(s->load_timer);
    s->state = S_READY;
    s->m->start_finished(s);
    struct bh_cdp_proxy_limits lim = {.max_queued = 64u << 20, .max_inflight = 1000};
    s->proxy = bh_cdp_proxy_new(s->cdp, &lim, &proxy_hooks, s);
    s->live = bh_live_new(s->cdp, &s->clip, s->row.viewport_w, s->row.viewport_h, &live_hooks, s);
    if (s->page_attached)
        bh_live_set_page(s->live, s->cdp_session);
    snprintf(s->row.status, sizeof s->row.status, "ready");
    session_store_update(s);
    int64_t left = s->row.expires_at - bh_now_ms();
    bh_timer_set(s->ttl_timer, left > 0 ? left : 1);
    activity(s); /* the idle clock starts at ready */
    if (s->adopting) {
        session_event(s, "adopted", json_pack("{s:i, s:I}", "pid", s->row.pid, "ms",
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
    char *d = bh_xasprintf("browser not ready within %d ms%s%s", s->m->cfg->start_timeout_ms,
                           *tail ? ": " : "", tail);
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

struct destroy_job {
    struct bh_session *s;
    char container_id[80];
    pid_t pid; /* the container's init: our child, as we are a subreaper */
    bh_err_t err;
};

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
        session_reap_init(j->pid);
        j->pid = 0;
    }
    if (bh_sandbox_destroy(&m->env, j->container_id, &e) < 0) {
        bh_err_wrap(&e, "sandbox");
        bh_err_set(&j->err, 0, "%s", bh_err_msg(&e));
        bh_err_clear(&e);
    }
    session_reap_init(j->pid);
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
    session_store_update(s);
    session_event(s, "ended",
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

void session_end(struct bh_session *s, const char *reason, const char *detail)
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
    s->m->start_finished(s);
    char *why = bh_xasprintf("session ended: %s", s->end_reason);
    session_detach(s, 1001, why);
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
void session_detach(struct bh_session *s, int code, const char *why)
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
        session_refresh_done(s->refreshes);
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

void session_refresh_done(struct refresh *r)
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
