/* local.c — the local OCI backend (backend/backend.h): sessions as
 * containers of runc or crun on this host. A start takes a uid range,
 * creates the container (its user namespace and, owned by it, its network
 * namespace), sets up the network and the egress policy in it, then starts
 * the process; its channel is a pair of FIFOs in the session's run dir, its
 * exit a pidfd, its usage the session's cgroups. The blocking steps run on
 * the worker pool; their results come back on the loop. */
#include "backend/local/local_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/local/cgroup.h"
#include "backend/local/sandbox.h"
#include "backend/local/userns.h"
#include "kinds/kinds.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/workers.h"

struct lsess *local_find(struct local *lb, const char *id)
{
    for (struct lsess *l = lb->list; l; l = l->next)
        if (!strcmp(l->id, id))
            return l;
    return NULL;
}

struct lsess *local_lsess_new(struct local *lb, const char *id, const struct bh_backend_events *ev,
                              void *arg)
{
    struct lsess *l = bh_xcalloc(1, sizeof *l);
    l->lb = lb;
    snprintf(l->id, sizeof l->id, "%s", id);
    l->ev = ev;
    l->arg = arg;
    l->uid = 1000;
    char cg[96];
    snprintf(cg, sizeof cg, "bulkhead/%s", id);
    l->cg = bh_cgroup_open(cg, NULL); /* NULL: its usage is unknown */
    l->next = lb->list;
    lb->list = l;
    return l;
}

void local_lsess_free(struct lsess *l)
{
    for (struct lsess **pp = &l->lb->list; *pp; pp = &(*pp)->next)
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    bh_watch_remove(l->exit_w);
    bh_watch_remove(l->log_w);
    bh_cgroup_free(l->cg);
    free(l);
}

char *local_session_dir(const struct local *lb, const char *id)
{
    return bh_xasprintf("%s/%s", lb->sessions_dir, id);
}

/* Collect the exit of a container's init so no zombie is left (waits up
 * to 5 s). Any thread. */
void local_reap_init(pid_t pid)
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

/* ------------------------------------------------------------- watching */

static void on_log(void *arg, bh_watch_t *w, int events)
{
    struct lsess *l = arg;
    if (events & BH_WATCH_HUP) {
        l->log_w = NULL;
        return;
    }
    char buf[8192];
    for (;;) {
        ssize_t n = read(bh_watch_fd(w), buf, sizeof buf);
        if (n <= 0)
            break;
        l->ev->output(l->arg, buf, (size_t)n);
    }
}

static void on_exited(void *arg, bh_watch_t *w, int events)
{
    struct lsess *l = arg;
    (void)w;
    if (events & BH_WATCH_HUP)
        l->exit_w = NULL;
    else {
        bh_watch_remove(l->exit_w);
        l->exit_w = NULL;
    }
    /* the container's init is our child: its status says why */
    int st = 0;
    char what[160] = "exited";
    if (l->pid > 0 && waitpid(l->pid, &st, WNOHANG) == l->pid) {
        if (WIFSIGNALED(st))
            snprintf(what, sizeof what, "was killed by signal %d (%s)", WTERMSIG(st),
                     strsignal(WTERMSIG(st)));
        else if (WIFEXITED(st))
            snprintf(what, sizeof what, "exited with status %d", WEXITSTATUS(st));
    }
    struct bh_cgroup_usage u;
    if (bh_cgroup_usage(l->cg, &u) >= 0 && u.oom_kills > 0)
        snprintf(what + strlen(what), sizeof what - strlen(what),
                 ", out of memory (killed at its %llu-byte limit)",
                 (unsigned long long)l->lb->cfg->memory_bytes);
    l->ev->exited(l->arg, what);
}

/* Watch the exit of l's init through a pidfd. 0, or -1 and err. */
int local_watch_exit(struct lsess *l, bh_err_t *err)
{
    int pfd = (int)syscall(SYS_pidfd_open, l->pid, 0);
    if (pfd < 0)
        return bh_err_set(err, errno, "pidfd_open %d", l->pid);
    l->exit_w = bh_watch_add(l->lb->loop, pfd, on_exited, l);
    return 0;
}

/* ---------------------------------------------------------------- start */

struct start_job {
    struct local *lb;
    struct lsess *l;
    char id[40];
    char **argv, **env; /* copies */
    uint32_t uid, gid;
    struct bh_net_policy policy; /* allow: a copy */
    uint64_t memory_bytes, pids_max, workspace_bytes;
    double cpus;
    int fd_in, fd_out, fd_log; /* the sandbox's ends */
    int chan_in, chan_out;     /* ours */
    struct bh_sandbox sb;
    struct bh_net_session net;
    uint32_t uid_base;
    bh_err_t err;
    int ok;
    int64_t mark; /* monotonic ms: the last phase's end */
    struct bh_phase phases[BH_START_PHASES_MAX];
    int nphases;
};

/* One of the start's phases took ms (name: static). */
static void phase_took(struct start_job *j, const char *name, int64_t ms)
{
    if (j->nphases < BH_START_PHASES_MAX) {
        j->phases[j->nphases].name = name;
        j->phases[j->nphases++].ms = (int)ms;
    }
}

/* The phase that began at j->mark ended now. */
static void phase(struct start_job *j, const char *name)
{
    int64_t now = bh_mono_ms();
    phase_took(j, name, now - j->mark);
    j->mark = now;
}

static char **strv_dup(const char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    char **c = bh_xcalloc(n + 1, sizeof *c);
    for (size_t i = 0; i < n; i++)
        c[i] = bh_xstrdup(v[i]);
    return c;
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static void start_job_free(struct start_job *j)
{
    strv_free(j->argv);
    strv_free(j->env);
    free((void *)j->policy.allow);
    bh_err_clear(&j->err);
    free(j);
}

/* Undo what start_work made so far (each step is idempotent). */
static void start_undo(struct start_job *j, int sandbox, int net)
{
    struct local *lb = j->lb;
    bh_err_t e2 = BH_ERR_INIT;
    if (sandbox && bh_sandbox_destroy(&lb->env, j->sb.id, &e2) < 0) {
        bh_log(BH_LOG_ERROR, j->id, "sandbox teardown: %s", bh_err_msg(&e2));
        bh_err_clear(&e2);
    }
    if (sandbox)
        local_reap_init(j->sb.pid);
    if (net && bh_net_session_teardown(&lb->net, j->id, &e2) < 0) {
        bh_log(BH_LOG_ERROR, j->id, "network teardown: %s", bh_err_msg(&e2));
        bh_err_clear(&e2);
    }
    if (bh_userns_release(&lb->userns, j->id, &e2) < 0) {
        bh_log(BH_LOG_ERROR, j->id, "uid range release: %s", bh_err_msg(&e2));
        bh_err_clear(&e2);
    }
    cleanup_free char *dir = local_session_dir(lb, j->id);
    bh_rm_rf(dir, NULL);
}

/* The order: a uid range, the container created (the runtime makes its
 * user namespace and, owned by it, its network namespace), the network set
 * up in that namespace, the egress policy, then the process started. */
static void start_work(void *arg)
{
    struct start_job *j = arg;
    struct local *lb = j->lb;
    const struct bh_config *cfg = lb->cfg;

    j->mark = bh_mono_ms();
    if (bh_userns_lease(&lb->userns, j->id, &j->uid_base, &j->err) < 0) {
        bh_err_wrap(&j->err, "user namespace");
        start_undo(j, 0, 0);
        return;
    }
    char cg[96];
    snprintf(cg, sizeof cg, "bulkhead/%s", j->id);
    cleanup_free char *rootfs = bh_xasprintf("%s/rootfs", lb->image_dir);
    cleanup_free char *etc = bh_xasprintf("%s/etc", lb->image_dir);
    struct bh_spec_params p = {
        .id = j->id,
        .rootfs = rootfs,
        .etc_dir = etc,
        .netns_path = NULL,
        .cgroups_path = cg,
        .argv = (const char *const *)j->argv,
        .env = (const char *const *)j->env,
        .uid = j->uid,
        .gid = j->gid,
        .userns_host_base = j->uid_base,
        .userns_size = BH_USERNS_SIZE,
        .deny_nested_userns = cfg->deny_nested_userns,
        .memory_bytes = j->memory_bytes,
        .pids_max = j->pids_max,
        .cpu_period_us = 100000,
        .cpu_quota_us = (uint64_t)(j->cpus * 100000),
        .cpu_shares = 0,
        .tmp_bytes = cfg->tmp_bytes,
        .shm_bytes = cfg->shm_bytes,
        .home_bytes = j->workspace_bytes,
    };
    if (bh_sandbox_create(&lb->env, &p, j->fd_in, j->fd_out, j->fd_log, &j->sb, &j->err) < 0) {
        bh_err_wrap(&j->err, "sandbox");
        start_undo(j, 0, 0);
        return;
    }
    /* the bundle: the create's time less the runtime's own */
    int64_t now = bh_mono_ms();
    phase_took(j, "bundle", now - j->mark - j->sb.runtime_ms);
    j->mark = now;
    if (bh_net_session_setup(&lb->net, j->id, j->sb.pid, &j->net, &j->err) < 0) {
        bh_err_wrap(&j->err, "network setup");
        start_undo(j, 1, 1);
        return;
    }
    phase(j, "network");
    if (bh_net_session_policy(&lb->net, j->id, &j->policy, &j->err) < 0) {
        bh_err_wrap(&j->err, "egress policy");
        start_undo(j, 1, 1);
        return;
    }
    phase(j, "egress");
    if (bh_sandbox_resume(&lb->env, j->sb.id, &j->err) < 0) {
        bh_err_wrap(&j->err, "sandbox");
        start_undo(j, 1, 1);
        return;
    }
    /* the runtime's create and start */
    phase_took(j, "runtime", j->sb.runtime_ms + bh_mono_ms() - j->mark);
    j->ok = 1;
}

static void nothing(void *arg) { (void)arg; }

static void start_done(void *arg)
{
    struct start_job *j = arg;
    struct lsess *l = j->l;
    bh_closep(&j->fd_in);
    bh_closep(&j->fd_out);
    bh_closep(&j->fd_log);
    if (j->ok) {
        l->pid = j->sb.pid;
        l->uid_base = j->uid_base;
        if (local_watch_exit(l, &j->err) < 0) {
            j->ok = 0;
            bh_err_t e2 = BH_ERR_INIT;
            kill(l->pid, SIGKILL);
            local_reap_init(l->pid);
            bh_sandbox_destroy(&j->lb->env, j->sb.id, &e2);
            bh_net_session_teardown(&j->lb->net, j->id, &e2);
            bh_userns_release(&j->lb->userns, j->id, &e2);
            bh_err_clear(&e2);
        }
    }
    if (!j->ok) {
        /* the job removed what it had made */
        bh_closep(&j->chan_in);
        bh_closep(&j->chan_out);
        const struct bh_backend_events *ev = l->ev;
        void *earg = l->arg;
        local_lsess_free(l);
        ev->started(earg, NULL, &j->err);
        start_job_free(j);
        return;
    }
    struct bh_started st = {.chan_in = j->chan_in, .chan_out = j->chan_out};
    snprintf(st.where.runtime, sizeof st.where.runtime, "%s", bh_runtime_name(j->lb->cfg->runtime));
    snprintf(st.where.container_id, sizeof st.where.container_id, "%s", j->sb.id);
    snprintf(st.where.addr, sizeof st.where.addr, "%s", j->net.addr);
    st.where.pid = j->sb.pid;
    st.where.uid_base = j->uid_base;
    memcpy(st.phases, j->phases, sizeof st.phases);
    st.nphases = j->nphases;
    start_job_free(j);
    l->ev->started(l->arg, &st, NULL);
}

/* The channel is a pair of FIFOs in the session's run dir rather than
 * anonymous pipes, so that the process keeps its ends across a daemon
 * restart and the next daemon can open them again (adoption). The
 * process's ends are opened read-write: it then never sees end-of-file or
 * EPIPE while no daemon is attached, and ours still see its exit (no
 * writer / no reader left). fds: [0] the process's fd 3, [1] its fd 4,
 * [2] ours to write, [3] ours to read. The settings go next to them. */
static int channel_fifos(struct local *lb, const char *id, const char *settings, int fds[4],
                         bh_err_t *err)
{
    cleanup_free char *dir = local_session_dir(lb, id);
    cleanup_free char *in = bh_xasprintf("%s/in", dir);
    cleanup_free char *out = bh_xasprintf("%s/out", dir);
    cleanup_free char *sp = bh_xasprintf("%s/adopt.json", dir);
    if (bh_mkdir_p(lb->sessions_dir, 0700, err) < 0)
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
    /* room for bulk transfers (a shell session's files): fewer wake-ups;
     * the default 64 KiB where the host allows less */
    for (int i = 2; i < 4; i++)
        if (fds[i] >= 0)
            (void)fcntl(fds[i], F_SETPIPE_SZ, 1 << 20);
    if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0 || fds[3] < 0) {
        bh_err_set(err, errno, "open the channel's FIFOs in %s", dir);
    } else if (bh_write_file(sp, settings ? settings : "{}", strlen(settings ? settings : "{}"),
                             0600, err) == 0) {
        return 0;
    }
    for (int i = 0; i < 4; i++)
        bh_closep(&fds[i]);
    bh_rm_rf(dir, NULL);
    return -1;
}

static void local_start(bh_backend_t *b, const struct bh_launch *la,
                        const struct bh_backend_events *ev, void *arg)
{
    struct local *lb = (struct local *)b;
    int fifo[4] = {-1, -1, -1, -1}, plog[2] = {-1, -1};
    bh_err_t err = BH_ERR_INIT;
    struct lsess *l = local_lsess_new(lb, la->id, ev, arg);
    struct start_job *j = bh_xcalloc(1, sizeof *j);
    j->lb = lb;
    j->l = l;
    j->fd_in = j->fd_out = j->fd_log = j->chan_in = j->chan_out = -1;
    snprintf(j->id, sizeof j->id, "%s", la->id);
    if (channel_fifos(lb, la->id, la->settings, fifo, &err) < 0 || pipe2(plog, O_CLOEXEC) < 0) {
        if (!err.msg)
            bh_err_set(&err, errno, "pipe");
        for (int i = 0; i < 4; i++)
            bh_closep(&fifo[i]);
        cleanup_free char *dir = local_session_dir(lb, la->id);
        bh_rm_rf(dir, NULL);
        /* reported from the loop, like every start's result */
        j->err = err;
        bh_workers_submit_lane(lb->workers, BH_LANE_START, nothing, start_done, j);
        return;
    }
    l->uid = la->proc->uid;
    l->log_w = bh_watch_add(lb->loop, plog[0], on_log, l);
    j->argv = strv_dup(la->proc->argv);
    j->env = strv_dup(la->proc->env);
    j->uid = la->proc->uid;
    j->gid = la->proc->gid;
    j->workspace_bytes = la->proc->workspace_bytes;
    j->policy.mode = la->policy->mode;
    j->policy.nallow = la->policy->nallow;
    if (la->policy->nallow > 0) {
        struct bh_net_rule *a = bh_xcalloc((size_t)la->policy->nallow, sizeof *a);
        memcpy(a, la->policy->allow, (size_t)la->policy->nallow * sizeof *a);
        j->policy.allow = a;
    }
    j->memory_bytes = la->memory_bytes;
    j->pids_max = la->pids_max;
    j->cpus = la->cpus;
    j->fd_in = fifo[0];
    j->fd_out = fifo[1];
    j->chan_in = la->proc->channel ? fifo[2] : -1;
    j->chan_out = la->proc->channel ? fifo[3] : -1;
    if (!la->proc->channel) {
        close(fifo[2]);
        close(fifo[3]);
    }
    j->fd_log = plog[1];
    bh_workers_submit_lane(lb->workers, BH_LANE_START, start_work, start_done, j);
}

/* ------------------------------------------------------------ stop, forget */

static void local_forget(bh_backend_t *b, const char *id)
{
    struct lsess *l = local_find((struct local *)b, id);
    if (l)
        local_lsess_free(l);
}

struct stop_job {
    struct local *lb;
    char id[40];
    pid_t pid;
    bh_err_t err;
    void (*done)(void *arg, const bh_err_t *err);
    void *arg;
};

/* Everything of session id: its processes, container, run dir, network
 * and uid range. Worker or recovery. */
void local_remove_all(struct local *lb, const char *id, pid_t pid, bh_err_t *err)
{
    bh_err_t e = BH_ERR_INIT;
    /* The container's init is our child: kill and reap it first. Its death
     * ends every process of its pid namespace, and an unreaped zombie would
     * keep the cgroups busy for the runtime's delete. */
    if (pid > 0) {
        kill(pid, SIGKILL);
        local_reap_init(pid);
    }
    char cid[80];
    snprintf(cid, sizeof cid, "bh-%s", id);
    if (bh_sandbox_destroy(&lb->env, cid, &e) < 0) {
        bh_err_wrap(&e, "sandbox");
        bh_log(BH_LOG_ERROR, id, "%s", bh_err_msg(&e));
        if (err && !err->msg)
            bh_err_set(err, 0, "%s", bh_err_msg(&e));
        bh_err_clear(&e);
    }
    cleanup_free char *dir = local_session_dir(lb, id);
    bh_rm_rf(dir, NULL);
    if (bh_net_session_teardown(&lb->net, id, &e) < 0) {
        bh_log(BH_LOG_ERROR, id, "network teardown: %s", bh_err_msg(&e));
        if (err && !err->msg)
            bh_err_set(err, 0, "network: %s", bh_err_msg(&e));
        bh_err_clear(&e);
    }
    /* The range is free only once no process of the sandbox is left. */
    if (bh_userns_release(&lb->userns, id, &e) < 0) {
        bh_log(BH_LOG_ERROR, id, "uid range release: %s", bh_err_msg(&e));
        bh_err_clear(&e);
    }
}

static void stop_work(void *arg)
{
    struct stop_job *j = arg;
    local_remove_all(j->lb, j->id, j->pid, &j->err);
}

static void stop_done(void *arg)
{
    struct stop_job *j = arg;
    j->done(j->arg, j->err.msg ? &j->err : NULL);
    bh_err_clear(&j->err);
    free(j);
}

static void local_stop(bh_backend_t *b, const char *id,
                       void (*done)(void *arg, const bh_err_t *err), void *arg)
{
    struct local *lb = (struct local *)b;
    struct stop_job *j = bh_xcalloc(1, sizeof *j);
    j->lb = lb;
    snprintf(j->id, sizeof j->id, "%s", id);
    j->done = done;
    j->arg = arg;
    struct lsess *l = local_find(lb, id);
    if (l) {
        j->pid = l->pid;
        local_lsess_free(l);
    }
    bh_workers_submit_lane(lb->workers, BH_LANE_STOP, stop_work, stop_done, j);
}

/* ------------------------------------------------------------ usage, files */

static int local_usage(bh_backend_t *b, const char *id, struct bh_usage *u)
{
    struct lsess *l = local_find((struct local *)b, id);
    struct bh_cgroup_usage cu;
    if (!l || bh_cgroup_usage(l->cg, &cu) < 0)
        return -1;
    u->memory_bytes = cu.memory_bytes;
    u->cpu_usec = cu.cpu_usec;
    u->oom_kills = cu.oom_kills;
    u->pids = cu.pids;
    return 0;
}

static int local_put_file(bh_backend_t *b, const char *id, const char *dir, const char *name,
                          const void *data, size_t len, bh_err_t *err)
{
    struct lsess *l = local_find((struct local *)b, id);
    if (!l || l->pid <= 0)
        return bh_err_kind_set(err, BH_E_NOT_READY, "the session is not ready");
    /* as the sandbox's user seen from the host */
    uint32_t uid = l->uid_base ? l->uid_base + l->uid : 0;
    return bh_sandbox_put_file(l->pid, uid, uid, dir, name, data, len, err);
}

/* ------------------------------------------------------------ readiness */

static void check(json_t *checks, int *ready, const char *name, const char *problem)
{
    json_object_set_new(checks, name, json_string(problem ? problem : "ok"));
    if (problem)
        *ready = 0;
}

static void local_readiness(bh_backend_t *b, json_t *checks, int *ready)
{
    struct local *lb = (struct local *)b;
    bh_err_t err = BH_ERR_INIT;
    /* the runtime can be run, its state dir is there */
    char *problem = NULL;
    struct stat st;
    if (bh_runtime_found(lb->cfg->runtime, &err) < 0)
        problem = bh_xstrdup(bh_err_msg(&err));
    else if (stat(lb->runtime_root, &st) < 0 || !S_ISDIR(st.st_mode))
        problem = bh_xasprintf("runtime root %s: %s", lb->runtime_root,
                               strerror(errno ? errno : ENOTDIR));
    bh_err_clear(&err);
    check(checks, ready, "runtime", problem);
    free(problem);
    problem = NULL;
    /* the sessions' bridge is up and the host forwards their packets */
    cleanup_free char *flags_path = bh_xasprintf("/sys/class/net/%s/flags", lb->cfg->bridge);
    cleanup_free char *flags = bh_read_file(flags_path, NULL, NULL);
    cleanup_free char *fwd = bh_read_file("/proc/sys/net/ipv4/ip_forward", NULL, NULL);
    if (!flags)
        problem = bh_xasprintf("bridge %s is missing", lb->cfg->bridge);
    else if (!(strtoul(flags, NULL, 16) & 1))
        problem = bh_xasprintf("bridge %s is down", lb->cfg->bridge);
    else if (!fwd || fwd[0] != '1')
        problem = bh_xstrdup("net.ipv4.ip_forward is off");
    check(checks, ready, "network", problem);
    free(problem);
}

/* ------------------------------------------------------------ lifecycle */

/* MemAvailable below a tenth of MemTotal, or below one session's memory
 * limit, whichever is more. */
static int local_short_of_memory(bh_backend_t *b)
{
    struct local *lb = (struct local *)b;
    cleanup_free char *text = bh_read_file("/proc/meminfo", NULL, NULL);
    const char *t = text ? strstr(text, "MemTotal:") : NULL;
    const char *a = text ? strstr(text, "MemAvailable:") : NULL;
    if (!t || !a)
        return 0;
    unsigned long long total = strtoull(t + 9, NULL, 10) << 10;
    unsigned long long avail = strtoull(a + 13, NULL, 10) << 10;
    unsigned long long floor = total / 10;
    if (floor < lb->cfg->memory_bytes)
        floor = lb->cfg->memory_bytes;
    return avail < floor;
}

static void local_free(bh_backend_t *b)
{
    struct local *lb = (struct local *)b;
    if (!lb)
        return;
    bh_workers_free(lb->workers);
    while (lb->list)
        local_lsess_free(lb->list);
    free(lb->runtime_root);
    free(lb->bundles_dir);
    free(lb->image_dir);
    free(lb->sessions_dir);
    free(lb);
}

static const struct bh_backend_ops local_ops = {
    .name = "local",
    .start = local_start,
    .forget = local_forget,
    .stop = local_stop,
    .usage = local_usage,
    .put_file = local_put_file,
    .load_settings = local_load_settings,
    .adopt = local_adopt,
    .sweep = local_sweep,
    .reap = local_reap,
    .readiness = local_readiness,
    .short_of_memory = local_short_of_memory,
    .free = local_free,
};

/* Every directory above the image must be searchable by "others": a
 * session's user namespace maps none of the host's ids, so its runtime
 * reaches the image's root like any other user would. A private state dir
 * (mode 0700, like mktemp -d makes) would fail every create with a bare
 * "permission denied" from the runtime; say so at start instead. */
static int image_reachable(const char *image_dir, bh_err_t *err)
{
    cleanup_free char *p = bh_xstrdup(image_dir);
    for (char *slash = strrchr(p, '/'); slash && slash > p; slash = strrchr(p, '/')) {
        *slash = 0;
        struct stat st;
        if (stat(p, &st) < 0)
            return bh_err_set(err, errno, "state dir: %s", p);
        if (!(st.st_mode & S_IXOTH))
            return bh_err_set(err, 0,
                              "state dir: %s (mode %04o) is not searchable by others, so the "
                              "sessions' user namespaces cannot reach the image under it; "
                              "chmod o+x it or choose another --state-dir",
                              p, (unsigned)(st.st_mode & 07777));
    }
    return 0;
}

bh_backend_t *bh_backend_local_new(const struct bh_config *cfg, bh_loop_t *loop, bh_err_t *err)
{
    struct local *lb = bh_xcalloc(1, sizeof *lb);
    lb->base.ops = &local_ops;
    lb->cfg = cfg;
    lb->loop = loop;
    lb->runtime_root = bh_xasprintf("%s/%s", cfg->run_dir, bh_runtime_name(cfg->runtime));
    lb->bundles_dir = bh_xasprintf("%s/bundles", cfg->state_dir);
    lb->image_dir = bh_xasprintf("%s/image", cfg->state_dir);
    lb->sessions_dir = bh_xasprintf("%s/sessions", cfg->run_dir);
    lb->env.runtime = cfg->runtime;
    lb->env.runtime_root = lb->runtime_root;
    lb->env.bundles_dir = lb->bundles_dir;
    lb->env.image_dir = lb->image_dir;
    size_t nc = 0, nf = 0;
    for (int k = 0; bh_kinds[k]; k++) {
        for (const char *const *c = bh_kinds[k]->etc_copy; c && *c && nc < 15; c++)
            lb->etc_copy[nc++] = *c;
        for (const struct bh_kind_file *f = bh_kinds[k]->etc_files; f && f->path && nf < 15; f++)
            lb->etc_files[nf++] = f;
    }
    lb->env.etc_copy = lb->etc_copy;
    lb->env.etc_files = lb->etc_files;
    lb->userns.first = cfg->userns_first;
    lb->userns.count = cfg->userns_ranges;
    lb->net.bridge = cfg->bridge;
    lb->net.subnet = cfg->subnet;
    lb->net.dns = cfg->dns;
    lb->net.always_allow = cfg->egress_allow;
    lb->net.nalways_allow = cfg->negress_allow;
    lb->net.always_deny = cfg->egress_deny;
    lb->net.nalways_deny = cfg->negress_deny;
    if (bh_mkdir_p(lb->runtime_root, 0700, err) < 0 || bh_mkdir_p(lb->bundles_dir, 0700, err) < 0 ||
        image_reachable(lb->image_dir, err) < 0 || bh_sandbox_prepare_image(&lb->env, err) < 0 ||
        (cfg->dns && bh_sandbox_set_dns(&lb->env, cfg->dns, err) < 0) ||
        bh_net_init(&lb->net, err) < 0) {
        local_free(&lb->base);
        return NULL;
    }
    lb->workers = bh_workers_new(loop, cfg->workers);
    return &lb->base;
}
