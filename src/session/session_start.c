/* session_start.c — starting a session's browser: the CDP FIFOs and the
 * adoption settings in its run dir, the start job on a worker (uid range,
 * container, network, egress policy, browser), and its result back on the
 * loop, where the browser driver takes over. */
#include "session/session_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kinds/browser/browser.h"
#include "lib/log.h"

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
        session_reap_init(j->sb.pid);
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
    session_store_update(s);
    session_event(s, "sandbox_started",
                  json_pack("{s:i, s:s}", "pid", s->row.pid, "address", s->row.addr));
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
    s->exit_w = bh_watch_add(s->m->loop, pfd, session_on_exit, s);
    session_browser_begin(s);
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
void session_begin_start(struct bh_session *s)
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
    s->cdp = bh_cdp_new(m->loop, fifo[2], fifo[3], session_on_cdp_event, session_on_cdp_closed, s);
    s->log_w = bh_watch_add(m->loop, plog[0], session_on_log, s);
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
    bh_workers_submit_lane(m->workers, BH_LANE_START, start_work, start_done, j);
}
