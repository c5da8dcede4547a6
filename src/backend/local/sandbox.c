/* sandbox.c — see sandbox.h: the runtime binary and the containers (start,
 * create/resume, destroy, list). The image is sandbox_image.c's, the
 * cgroups cgroup.c's, files put into a sandbox sandbox_files.c's.
 *
 * Sections: running the runtime binary; containers.
 *
 * Every runtime invocation goes through rt_spawn(): a fork whose child only
 * makes async-signal-safe calls (the daemon has threads), places the wanted
 * fds, and for crun first enters a private mount namespace in which the
 * cgroup layout is one crun accepts (see crun_prepare_ns()). A failed exec
 * is reported back through a CLOEXEC pipe. */
#include "backend/local/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend/local/cgroup.h"
#include "backend/local/sandbox_image.h"
#include "lib/util.h"

#define RT_TIMEOUT_MS 60000 /* a runtime call that takes longer is killed */

static const char *const runtime_names[] = {[BH_RUNTIME_RUNC] = "runc", [BH_RUNTIME_CRUN] = "crun"};

/* ======================================================================== */
/* Running the runtime                                                       */

const char *bh_runtime_name(enum bh_runtime rt)
{
    return (unsigned)rt < sizeof runtime_names / sizeof *runtime_names ? runtime_names[rt] : "?";
}

int bh_runtime_parse(const char *name)
{
    for (size_t i = 0; name && i < sizeof runtime_names / sizeof *runtime_names; i++)
        if (!strcmp(name, runtime_names[i]))
            return (int)i;
    return -1;
}

#define RT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Absolute path of the runtime binary: $PATH first, then the usual dirs
 * (runc lives in /usr/sbin, which a user's PATH may lack). Caller frees. */
static char *rt_find(enum bh_runtime rt, bh_err_t *err)
{
    const char *name = bh_runtime_name(rt);
    const char *env = getenv("PATH");
    cleanup_free char *search = bh_xasprintf("%s:%s", env ? env : "", RT_PATH);
    char *save = NULL;
    for (char *d = strtok_r(search, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        if (d[0] != '/')
            continue;
        char *p = bh_xasprintf("%s/%s", d, name);
        if (access(p, X_OK) == 0)
            return p;
        free(p);
    }
    bh_err_set(err, ENOENT, "%s not found in PATH", name);
    return NULL;
}

int bh_runtime_found(enum bh_runtime rt, bh_err_t *err)
{
    char *p = rt_find(rt, err);
    free(p);
    return p ? 0 : -1;
}

/* A runtime child to start. fds[i] is placed at fd i (i < nfds); -1 means
 * /dev/null for 0..2. Every other fd is closed in the child. */
struct rt_spawn {
    char **argv; /* argv[0] is an absolute path */
    int fds[5];
    int nfds;
    const struct bh_cgroup_hier *hiers; /* crun only: the layout to fix up */
    size_t nhiers;
    int crun;
};

/* Child-side failure report, read by the parent through the CLOEXEC pipe. */
struct rt_report {
    int step;
    int err;
};
static const char *const rt_steps[] = {
    "unshare mount namespace", "make / private", "unmount cgroup2",
    "bind own cgroup",         "set up fds",     "exec"};

static void rt_fail(int rep, int step)
{
    struct rt_report r = {step, errno};
    ssize_t w = write(rep, &r, sizeof r);
    (void)w;
    _exit(127);
}

/* In a private mount namespace (crun only): unmount the cgroup2 hierarchy of
 * a hybrid layout, which crun 1.8 refuses, and bind the daemon's own cgroup
 * of each hierarchy over the hierarchy's mount point. crun resolves a
 * relative cgroupsPath from the hierarchy root (not from its own cgroup, as
 * runc does), so this keeps its cgroups inside the daemon's own.
 * Async-signal-safe (runs between fork and exec). */
static void crun_prepare_ns(const struct rt_spawn *s, int rep)
{
    if (unshare(CLONE_NEWNS) < 0)
        rt_fail(rep, 0);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        rt_fail(rep, 1);
    int hybrid = bh_cgroup_hybrid(s->hiers, s->nhiers);
    for (size_t i = 0; i < s->nhiers; i++) {
        const struct bh_cgroup_hier *h = &s->hiers[i];
        if (h->v2 && hybrid) {
            if (umount2(h->mountpoint, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
                rt_fail(rep, 2);
            continue;
        }
        if (strcmp(h->own_dir, h->mountpoint) &&
            mount(h->own_dir, h->mountpoint, NULL, MS_BIND, NULL) < 0)
            rt_fail(rep, 3);
    }
}

static const char *const rt_envp[] = {"PATH=" RT_PATH, NULL};

/* Start the child; returns its pid, or -1 with err set (then nothing runs). */
static pid_t rt_spawn(const struct rt_spawn *s, bh_err_t *err)
{
    int rp[2];
    if (pipe2(rp, O_CLOEXEC) < 0)
        return bh_err_set(err, errno, "pipe");
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) {
        /* Child: async-signal-safe calls only. */
        int rep = rp[1];
        for (int sig = 1; sig < NSIG; sig++) {
            struct sigaction sa = {.sa_handler = SIG_DFL};
            sigaction(sig, &sa, NULL);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (s->crun)
            crun_prepare_ns(s, rep);
        /* Move the report pipe and the sources above the targets first, so
         * that placing one fd never clobbers another source. */
        if ((rep = fcntl(rep, F_DUPFD_CLOEXEC, 16)) < 0)
            rt_fail(rp[1], 4);
        int tmp[5];
        for (int i = 0; i < s->nfds; i++) {
            int src = s->fds[i];
            if (src < 0)
                src = open("/dev/null", O_RDWR | O_CLOEXEC);
            if (src < 0 || (tmp[i] = fcntl(src, F_DUPFD_CLOEXEC, 16)) < 0)
                rt_fail(rep, 4);
        }
        for (int i = 0; i < s->nfds; i++)
            if (dup2(tmp[i], i) < 0)
                rt_fail(rep, 4);
        /* Everything else closes at exec (the report pipe included). */
        if (close_range((unsigned)s->nfds, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
            for (int fd = s->nfds; fd < 4096; fd++)
                if (fd != rep)
                    close(fd);
        execve(s->argv[0], s->argv, (char **)rt_envp);
        rt_fail(rep, 5);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(rp[1]);
    if (pid < 0) {
        close(rp[0]);
        return bh_err_set(err, fork_errno, "fork");
    }
    struct rt_report r;
    ssize_t got;
    do
        got = read(rp[0], &r, sizeof r);
    while (got < 0 && errno == EINTR);
    close(rp[0]);
    if (got == (ssize_t)sizeof r) {
        waitpid(pid, NULL, 0);
        const char *step = (unsigned)r.step < sizeof rt_steps / sizeof *rt_steps ? rt_steps[r.step]
                                                                                 : "?";
        return bh_err_set(err, r.err, "%s: %s", s->argv[0], step);
    }
    return pid;
}

/* Wait for pid until the deadline (monotonic ms); past it, SIGKILL it.
 * Returns the wait status, or -1 with err set. */
static int rt_wait(pid_t pid, int64_t deadline, const char *what, bh_err_t *err)
{
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pfd >= 0) {
        for (;;) {
            int64_t left = deadline - bh_mono_ms();
            struct pollfd p = {pfd, POLLIN, 0};
            int r = poll(&p, 1, left > 0 ? (int)left : 0);
            if (r > 0)
                break;
            if (r == 0) {
                kill(pid, SIGKILL);
                break;
            }
            if (errno != EINTR)
                break;
        }
        close(pfd);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return bh_err_set(err, errno, "waitpid %s", what);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && bh_mono_ms() >= deadline)
        return bh_err_set(err, ETIMEDOUT, "%s", what);
    return status;
}

/* A runtime command line, `<bin> --root=R [--cgroup-manager=cgroupfs]
 * global... args...`, and for crun the cgroup layout to fix up first. */
struct rt_cmd {
    char **argv; /* all elements owned */
    struct bh_cgroup_hier *hiers;
    size_t nhiers;
    int crun;
};

static void rt_cmd_free(struct rt_cmd *c)
{
    bh_strv_free(c->argv);
    bh_cgroup_hiers_free(c->hiers, c->nhiers);
    memset(c, 0, sizeof *c);
}

/* global and args are NULL-terminated (global may be NULL). */
static int rt_cmd_init(struct rt_cmd *c, const struct bh_sandbox_env *env,
                       const char *const *global, const char *const *args, bh_err_t *err)
{
    memset(c, 0, sizeof *c);
    c->crun = env->runtime == BH_RUNTIME_CRUN;
    char *bin = rt_find(env->runtime, err);
    if (!bin)
        return -1;
    if (c->crun && bh_cgroup_hiers(&c->hiers, &c->nhiers, err) < 0) {
        free(bin);
        return -1;
    }
    size_t n = 0;
    while (global && global[n])
        n++;
    for (size_t i = 0; args[i]; i++)
        n++;
    c->argv = bh_xcalloc(n + 4, sizeof *c->argv);
    size_t k = 0;
    c->argv[k++] = bin;
    c->argv[k++] = bh_xasprintf("--root=%s", env->runtime_root);
    if (c->crun)
        c->argv[k++] = bh_xstrdup("--cgroup-manager=cgroupfs");
    for (size_t i = 0; global && global[i]; i++)
        c->argv[k++] = bh_xstrdup(global[i]);
    for (size_t i = 0; args[i]; i++)
        c->argv[k++] = bh_xstrdup(args[i]);
    return 0;
}

/* Append what is readable on fd to buf. Returns 0 at EOF, 1 otherwise. */
static int rt_drain(int fd, char **buf, size_t *len)
{
    char chunk[4096];
    ssize_t r = read(fd, chunk, sizeof chunk);
    if (r < 0)
        return errno == EINTR || errno == EAGAIN ? 1 : 0;
    if (r == 0)
        return 0;
    char *nb = realloc(*buf, *len + (size_t)r + 1);
    if (!nb)
        abort();
    memcpy(nb + *len, chunk, (size_t)r);
    *len += (size_t)r;
    nb[*len] = 0;
    *buf = nb;
    return 1;
}

static void trim(char *s)
{
    size_t n = s ? strlen(s) : 0;
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = 0;
}

/* Run `<runtime> --root R [global opts] args...`, capturing stdout and
 * stderr (either may be NULL). Returns the exit status (>= 0) or -1 with
 * err set if it could not run, was killed or timed out. */
static int rt_call(const struct bh_sandbox_env *env, const char *const *args, char **out,
                   char **errout, bh_err_t *err)
{
    struct rt_cmd c;
    if (rt_cmd_init(&c, env, NULL, args, err) < 0)
        return -1;
    cleanup_free char *what = bh_xasprintf("%s %s", bh_runtime_name(env->runtime), args[0]);

    int op[2] = {-1, -1}, ep[2] = {-1, -1};
    int rc = -1;
    char *obuf = NULL, *ebuf = NULL;
    size_t olen = 0, elen = 0;
    if (pipe2(op, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0) {
        bh_err_set(err, errno, "pipe");
        goto out;
    }
    struct rt_spawn s = {c.argv, {-1, op[1], ep[1], -1, -1}, 3, c.hiers, c.nhiers, c.crun};
    pid_t pid = rt_spawn(&s, err);
    bh_closep(&op[1]);
    bh_closep(&ep[1]);
    if (pid < 0)
        goto out;
    int64_t deadline = bh_mono_ms() + RT_TIMEOUT_MS;
    int oopen = 1, eopen = 1;
    while (oopen || eopen) {
        int64_t left = deadline - bh_mono_ms();
        if (left <= 0)
            break;
        struct pollfd pf[2] = {{oopen ? op[0] : -1, POLLIN, 0}, {eopen ? ep[0] : -1, POLLIN, 0}};
        int r = poll(pf, 2, (int)left);
        if (r < 0 && errno != EINTR)
            break;
        if (oopen && pf[0].revents)
            oopen = rt_drain(op[0], &obuf, &olen);
        if (eopen && pf[1].revents)
            eopen = rt_drain(ep[0], &ebuf, &elen);
    }
    int status = rt_wait(pid, deadline, what, err);
    if (status < 0)
        goto out;
    trim(ebuf);
    if (WIFSIGNALED(status)) {
        bh_err_set(err, 0, "%s killed by signal %d%s%s", what, WTERMSIG(status), ebuf ? ": " : "",
                   ebuf ? ebuf : "");
        goto out;
    }
    rc = WEXITSTATUS(status);
    if (out)
        *out = obuf ? steal_pointer(&obuf) : bh_xstrdup("");
    if (errout)
        *errout = ebuf ? steal_pointer(&ebuf) : bh_xstrdup("");
out:
    bh_closep(&op[0]);
    bh_closep(&op[1]);
    bh_closep(&ep[0]);
    bh_closep(&ep[1]);
    free(obuf);
    free(ebuf);
    rt_cmd_free(&c);
    return rc;
}

/* Whether a runtime's error text says the container does not exist. */
static int rt_missing(const char *text)
{
    return text && (strstr(text, "does not exist") || strstr(text, "not found") ||
                    strstr(text, "No such file"));
}

int bh_runtime_usable(enum bh_runtime rt, bh_err_t *err)
{
    if (bh_runtime_parse(bh_runtime_name(rt)) < 0)
        return bh_err_set(err, EINVAL, "unknown runtime %d", (int)rt);
    /* A throwaway --root: crun creates it even for --version. */
    char root[] = "/tmp/bh-runtime-probe-XXXXXX";
    if (!mkdtemp(root))
        return bh_err_set(err, errno, "mkdtemp");
    struct bh_sandbox_env env = {.runtime = rt, .runtime_root = root};
    const char *args[] = {"--version", NULL};
    cleanup_free char *errout = NULL;
    int rc = rt_call(&env, args, NULL, &errout, err);
    rmdir(root);
    if (rc < 0)
        return bh_err_wrap(err, "%s", bh_runtime_name(rt));
    if (rc != 0)
        return bh_err_set(err, 0, "%s --version exited with status %d: %s", bh_runtime_name(rt), rc,
                          errout);
    return 0;
}

/* ======================================================================== */
/* Containers                                                                */

static int env_ok(const struct bh_sandbox_env *env, bh_err_t *err)
{
    if (!env || !env->runtime_root || env->runtime_root[0] != '/' || !env->bundles_dir ||
        env->bundles_dir[0] != '/')
        return bh_err_set(err, EINVAL, "sandbox: runtime_root and bundles_dir must be absolute");
    if (bh_runtime_parse(bh_runtime_name(env->runtime)) < 0)
        return bh_err_set(err, EINVAL, "sandbox: unknown runtime");
    return 0;
}

/* The container id must be "bh-" + a session id (which oci_spec validates
 * the same way), so that it is a safe file name. */
static int container_id_ok(const char *id)
{
    if (!id || strncmp(id, "bh-", 3) || !id[3] ||
        strlen(id) >= sizeof(((struct bh_sandbox *)0)->id))
        return 0;
    for (const char *p = id + 3; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.'))
            return 0;
    return id[3] != '.';
}

/* The last error message in a runtime's JSON log (runc and crun both write
 * {"level":"error","msg":...} lines), or NULL. Caller frees. */
static char *log_last_error(const char *path)
{
    cleanup_free char *text = bh_read_file(path, NULL, NULL);
    if (!text)
        return NULL;
    char *found = NULL, *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(l, 0, NULL);
        const char *lvl = json_string_value(json_object_get(j, "level"));
        const char *msg = json_string_value(json_object_get(j, "msg"));
        if (lvl && msg && (!strcmp(lvl, "error") || !strcmp(lvl, "fatal"))) {
            free(found);
            found = bh_xstrdup(msg);
        }
        json_decref(j);
    }
    return found;
}

/* Best-effort removal of a half-started container and its bundle. */
static void start_cleanup(const struct bh_sandbox_env *env, const char *cid, const char *bundle)
{
    const char *args[] = {"delete", "--force", cid, NULL};
    rt_call(env, args, NULL, NULL, NULL);
    bh_rm_rf(bundle, NULL);
}

/* `runtime run --detach` (create_only 0) or `runtime create` (1). */
static int sandbox_launch(const struct bh_sandbox_env *env, const struct bh_spec_params *params,
                          int fd_in, int fd_out, int fd_log, struct bh_sandbox *out,
                          int create_only, bh_err_t *err)
{
    if (env_ok(env, err) < 0)
        return -1;
    if (!params || !params->id || !params->rootfs)
        return bh_err_set(err, EINVAL, "sandbox: missing id or rootfs");
    if (fd_in < 0 || fd_out < 0)
        return bh_err_set(err, EBADF, "sandbox: fd_in and fd_out are required");
    char cid[sizeof out->id];
    if ((size_t)snprintf(cid, sizeof cid, "bh-%s", params->id) >= sizeof cid ||
        !container_id_ok(cid))
        return bh_err_set(err, EINVAL, "sandbox: invalid session id \"%s\"", params->id);

    struct bh_spec_params p = *params;
    char **dirs = NULL;
    if (!p.host_ro_dirs) {
        dirs = bh_sandbox_image_host_dirs(p.rootfs);
        p.host_ro_dirs = (const char *const *)dirs;
    }
    cleanup_free char *spec = bh_oci_spec_build(&p, err);
    bh_strv_free(dirs);
    if (!spec)
        return bh_err_wrap(err, "sandbox %s", cid);

    cleanup_free char *bundle = bh_xasprintf("%s/%s", env->bundles_dir, params->id);
    if (strlen(bundle) >= sizeof out->bundle)
        return bh_err_set(err, ENAMETOOLONG, "sandbox: bundle path too long");
    if (bh_mkdir_p(env->bundles_dir, 0700, err) < 0 || bh_mkdir_p(env->runtime_root, 0700, err) < 0)
        return bh_err_wrap(err, "sandbox %s", cid);
    if (mkdir(bundle, 0700) < 0)
        return bh_err_set(err, errno, "sandbox %s: bundle %s", cid, bundle);
    cleanup_free char *config = bh_xasprintf("%s/config.json", bundle);
    cleanup_free char *pidfile = bh_xasprintf("%s/pid", bundle);
    cleanup_free char *logfile = bh_xasprintf("%s/runtime.log", bundle);
    if (bh_write_file(config, spec, strlen(spec), 0600, err) < 0) {
        bh_rm_rf(bundle, NULL);
        return bh_err_wrap(err, "sandbox %s", cid);
    }

    cleanup_free char *log_opt = bh_xasprintf("--log=%s", logfile);
    const char *global[] = {log_opt, "--log-format=json", NULL};
    const char *run_args[] = {"run", "--detach", "--pid-file", pidfile, "--preserve-fds",
                              "2",   "--bundle", bundle,       cid,     NULL};
    const char *create_args[] = {"create", "--pid-file", pidfile, "--preserve-fds", "2", "--bundle",
                                 bundle,   cid,          NULL};
    const char *const *args = create_only ? create_args : run_args;
    struct rt_cmd c;
    if (rt_cmd_init(&c, env, global, args, err) < 0) {
        bh_rm_rf(bundle, NULL);
        return bh_err_wrap(err, "sandbox %s", cid);
    }
    /* stdout/stderr of the runtime are the container's too (it passes its
     * stdio on when detached without a terminal), so they go to fd_log; the
     * runtime's own errors are read back from its JSON log. */
    struct rt_spawn s = {c.argv, {-1, fd_log, fd_log, fd_in, fd_out}, 5, c.hiers, c.nhiers, c.crun};
    int64_t t_runtime = bh_mono_ms();
    pid_t pid = rt_spawn(&s, err);
    rt_cmd_free(&c);
    if (pid < 0) {
        bh_rm_rf(bundle, NULL);
        return bh_err_wrap(err, "sandbox %s", cid);
    }
    cleanup_free char *what = bh_xasprintf("%s %s", bh_runtime_name(env->runtime), args[0]);
    int status = rt_wait(pid, bh_mono_ms() + RT_TIMEOUT_MS, what, err);
    if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (status >= 0) {
            cleanup_free char *msg = log_last_error(logfile);
            if (msg && !strncmp(msg, what, strlen(what)))
                bh_err_set(err, 0, "%s", msg); /* runc: "runc run failed: ..." */
            else if (msg)
                bh_err_set(err, 0, "%s: %s", what, msg);
            else if (WIFEXITED(status))
                bh_err_set(err, 0, "%s exited with status %d", what, WEXITSTATUS(status));
            else
                bh_err_set(err, 0, "%s killed by signal %d", what, WTERMSIG(status));
        }
        start_cleanup(env, cid, bundle);
        return bh_err_wrap(err, "sandbox %s", cid);
    }
    cleanup_free char *pidtext = bh_read_file(pidfile, NULL, err);
    long cpid = pidtext ? strtol(pidtext, NULL, 10) : 0;
    if (cpid <= 1) {
        if (pidtext)
            bh_err_set(err, EINVAL, "bad pid file %s", pidfile);
        start_cleanup(env, cid, bundle);
        return bh_err_wrap(err, "sandbox %s", cid);
    }
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", cid);
    snprintf(out->bundle, sizeof out->bundle, "%s", bundle);
    out->pid = (pid_t)cpid;
    out->runtime_ms = (int)(bh_mono_ms() - t_runtime);
    return 0;
}

int bh_sandbox_start(const struct bh_sandbox_env *env, const struct bh_spec_params *params,
                     int fd_in, int fd_out, int fd_log, struct bh_sandbox *out, bh_err_t *err)
{
    return sandbox_launch(env, params, fd_in, fd_out, fd_log, out, 0, err);
}

int bh_sandbox_create(const struct bh_sandbox_env *env, const struct bh_spec_params *params,
                      int fd_in, int fd_out, int fd_log, struct bh_sandbox *out, bh_err_t *err)
{
    return sandbox_launch(env, params, fd_in, fd_out, fd_log, out, 1, err);
}

/* Whether process pid is gone or a zombie. */
static int pid_dead(pid_t pid)
{
    char path[40];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    cleanup_free char *st = bh_read_file(path, NULL, NULL);
    const char *end = st ? strrchr(st, ')') : NULL;
    return !end || end[1] != ' ' || end[2] == 'Z' || end[2] == 'X';
}

/* runc's own start, without a second runc process (~10 ms of a start):
 * a created container's init waits to open `ROOT/ID/exec.fifo` for writing,
 * writes one byte and execs the process; `runc start` is the reader that
 * lets it go, then removes the FIFO (which is how runc then tells
 * "running" from "created"). 1 done, 0 not so (no such FIFO: the caller
 * runs `runc start`), -1 and err. */
static int runc_release(const struct bh_sandbox_env *env, const char *container_id, bh_err_t *err)
{
    if (env->runtime != BH_RUNTIME_RUNC)
        return 0;
    cleanup_free char *fifo = bh_xasprintf("%s/%s/exec.fifo", env->runtime_root, container_id);
    struct stat st;
    if (lstat(fifo, &st) < 0 || !S_ISFIFO(st.st_mode))
        return 0;
    /* non-blocking: an init that died holds no writer, and the poll ends */
    int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : bh_err_set(err, errno, "start: open %s", fifo);
    /* its init, to stop waiting should it die before it opens the FIFO
     * (a reader sees no hang-up from a writer that never came) */
    cleanup_free char *pidfile = bh_xasprintf("%s/%s/pid", env->bundles_dir,
                                              container_id + 3 /* "bh-" */);
    cleanup_free char *pidtext = bh_read_file(pidfile, NULL, NULL);
    pid_t init = pidtext ? (pid_t)strtol(pidtext, NULL, 10) : 0;
    char c = 0;
    ssize_t n = -1;
    int64_t deadline = bh_mono_ms() + RT_TIMEOUT_MS;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, 100);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        if (r == 0) {
            if (bh_mono_ms() >= deadline || (init > 0 && pid_dead(init)))
                break;
            continue;
        }
        n = read(fd, &c, 1);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue; /* the writer opened and has not written yet */
        break;
    }
    close(fd);
    if (n != 1)
        return bh_err_set(err, 0, "start %s: its init did not signal through %s", container_id,
                          fifo);
    if (unlink(fifo) < 0 && errno != ENOENT)
        return bh_err_set(err, errno, "start: unlink %s", fifo);
    return 1;
}

int bh_sandbox_resume(const struct bh_sandbox_env *env, const char *container_id, bh_err_t *err)
{
    if (env_ok(env, err) < 0)
        return -1;
    if (!container_id_ok(container_id))
        return bh_err_set(err, EINVAL, "start: invalid container id \"%s\"",
                          container_id ? container_id : "");
    int released = runc_release(env, container_id, err);
    if (released != 0)
        return released < 0 ? -1 : 0;
    const char *args[] = {"start", container_id, NULL};
    cleanup_free char *errout = NULL;
    int rc = rt_call(env, args, NULL, &errout, err);
    if (rc < 0)
        return bh_err_wrap(err, "start %s", container_id);
    if (rc != 0)
        return bh_err_set(err, 0, "start %s: %s start: %s", container_id,
                          bh_runtime_name(env->runtime), errout);
    return 0;
}

/* cgroupsPath from a bundle's config.json, or NULL. Caller frees. */
static char *bundle_cgroups_path(const char *bundle)
{
    cleanup_free char *config = bh_xasprintf("%s/config.json", bundle);
    json_t *j = json_load_file(config, 0, NULL);
    const char *cg = json_string_value(json_object_get(json_object_get(j, "linux"), "cgroupsPath"));
    char *r = cg ? bh_xstrdup(cg) : NULL;
    json_decref(j);
    return r;
}

int bh_sandbox_destroy(const struct bh_sandbox_env *env, const char *container_id, bh_err_t *err)
{
    if (env_ok(env, err) < 0)
        return -1;
    if (!container_id_ok(container_id))
        return bh_err_set(err, EINVAL, "destroy: invalid container id \"%s\"",
                          container_id ? container_id : "");
    cleanup_free char *bundle = bh_xasprintf("%s/%s", env->bundles_dir, container_id + 3);
    cleanup_free char *cgpath = bundle_cgroups_path(bundle);

    const char *kill_args[] = {"kill", container_id, "KILL", NULL};
    rt_call(env, kill_args, NULL, NULL, NULL); /* not running / gone: fine */
    const char *del_args[] = {"delete", "--force", container_id, NULL};
    cleanup_free char *errout = NULL;
    int rc = rt_call(env, del_args, NULL, &errout, err);
    if (rc < 0)
        return bh_err_wrap(err, "destroy %s", container_id);
    if (rc != 0 && !rt_missing(errout))
        return bh_err_set(err, 0, "destroy %s: %s delete: %s", container_id,
                          bh_runtime_name(env->runtime), errout);

    /* The runtime removes its cgroups; make sure (and never touch any cgroup
     * outside the daemon's own). */
    if (cgpath) {
        char **paths = NULL;
        int n = bh_cgroup_paths(cgpath, &paths, err);
        if (n < 0)
            return bh_err_wrap(err, "destroy %s", container_id);
        int crc = 0;
        for (int i = 0; i < n && crc == 0; i++)
            crc = bh_cgroup_remove(paths[i], err);
        bh_strv_free(paths);
        if (crc < 0)
            return bh_err_wrap(err, "destroy %s", container_id);
    }
    if (bh_rm_rf(bundle, err) < 0)
        return bh_err_wrap(err, "destroy %s", container_id);
    return 0;
}

int bh_sandbox_list(const struct bh_sandbox_env *env, char ***ids, bh_err_t *err)
{
    *ids = NULL;
    if (env_ok(env, err) < 0)
        return -1;
    struct stat st;
    if (stat(env->runtime_root, &st) < 0 && errno == ENOENT) {
        *ids = bh_xcalloc(1, sizeof **ids);
        return 0;
    }
    const char *args[] = {"list", "--quiet", NULL};
    cleanup_free char *out = NULL, *errout = NULL;
    int rc = rt_call(env, args, &out, &errout, err);
    if (rc < 0)
        return bh_err_wrap(err, "list containers");
    if (rc != 0)
        return bh_err_set(err, 0, "%s list: %s", bh_runtime_name(env->runtime), errout);
    size_t n = 0, cap = 8;
    char **v = bh_xcalloc(cap, sizeof *v);
    char *save = NULL;
    for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        trim(l);
        if (!*l)
            continue;
        if (n + 1 >= cap) {
            cap *= 2;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv)
                abort();
            v = nv;
        }
        v[n++] = bh_xstrdup(l);
    }
    v[n] = NULL;
    *ids = v;
    return (int)n;
}
