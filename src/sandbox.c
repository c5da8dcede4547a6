/* sandbox.c — see sandbox.h.
 *
 * Sections: cgroup hierarchies of the daemon; running the runtime binary;
 * the default image; start/destroy/list.
 *
 * Every runtime invocation goes through rt_spawn(): a fork whose child only
 * makes async-signal-safe calls (the daemon has threads), places the wanted
 * fds, and for crun first enters a private mount namespace in which the
 * cgroup layout is one crun accepts (see crun_prepare_ns()). A failed exec
 * is reported back through a CLOEXEC pipe. */
#include "sandbox.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
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
#include <linux/openat2.h>
#include <time.h>
#include <unistd.h>

#include "browser.h"
#include "util.h"

#define RT_TIMEOUT_MS 60000 /* a runtime call that takes longer is killed */
#define CG_RMDIR_TRIES 60   /* x 50 ms: processes leaving a cgroup */
#define DEFAULT_NAMESERVER "10.213.0.1"

static const char *const runtime_names[] = {[BH_RUNTIME_RUNC] = "runc", [BH_RUNTIME_CRUN] = "crun"};

/* Top-level host dirs that merged-/usr hosts turn into symlinks into usr/. */
static const char *const usr_links[] = {"bin", "sbin", "lib", "lib32", "lib64", "libx32", NULL};

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* ======================================================================== */
/* Cgroup hierarchies of the daemon                                          */

struct cg_hier {
    char *mountpoint; /* e.g. /sys/fs/cgroup/memory */
    char *own_dir;    /* the daemon's own cgroup in it, e.g. <mnt>/process_api/x */
    int v2;
};

static void cg_hiers_free(struct cg_hier *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].mountpoint);
        free(h[i].own_dir);
    }
    free(h);
}

/* Whether every controller of the comma list `ctrls` is in the mount's super
 * options `opts` (also comma-separated; "name=systemd" counts as one). */
static int opts_have_all(const char *opts, const char *ctrls)
{
    cleanup_free char *c = bh_xstrdup(ctrls);
    char *save = NULL;
    for (char *t = strtok_r(c, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        size_t n = strlen(t);
        const char *p = opts;
        int found = 0;
        while (*p && !found) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            found = len == n && !strncmp(p, t, n);
            p += len + (e ? 1 : 0);
        }
        if (!found)
            return 0;
    }
    return 1;
}

/* Find in mountinfo text the mount of a cgroup hierarchy (v2 when ctrls is
 * NULL) whose root contains `path`; returns the dir of `path` in it and its
 * mount point in *mnt_out (both the caller's), or NULL. */
static char *cg_locate(const char *mountinfo, const char *ctrls, const char *path, char **mnt_out)
{
    cleanup_free char *text = bh_xstrdup(mountinfo);
    char *lsave = NULL;
    for (char *l = strtok_r(text, "\n", &lsave); l; l = strtok_r(NULL, "\n", &lsave)) {
        /* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
        char *f[32];
        int n = 0, dash = -1;
        char *save = NULL;
        for (char *t = strtok_r(l, " ", &save); t && n < 32; t = strtok_r(NULL, " ", &save)) {
            if (dash < 0 && n >= 6 && !strcmp(t, "-"))
                dash = n;
            f[n++] = t;
        }
        if (dash < 0 || n < dash + 4)
            continue;
        const char *root = f[3], *mnt = f[4], *fstype = f[dash + 1], *superopts = f[dash + 3];
        if (ctrls ? strcmp(fstype, "cgroup") || !opts_have_all(superopts, ctrls)
                  : strcmp(fstype, "cgroup2"))
            continue;
        if (strchr(mnt, '\\'))
            continue; /* escaped mount point: not a layout we handle */
        size_t rl = strlen(root);
        const char *rel;
        if (!strcmp(root, "/"))
            rel = path;
        else if (!strncmp(path, root, rl) && (path[rl] == '/' || path[rl] == 0))
            rel = path + rl;
        else
            continue; /* our cgroup is not visible through this mount */
        while (*rel == '/')
            rel++;
        *mnt_out = bh_xstrdup(mnt);
        return *rel ? bh_xasprintf("%s/%s", mnt, rel) : bh_xstrdup(mnt);
    }
    return NULL;
}

/* The cgroup hierarchies this process is in (from /proc/self/cgroup) that are
 * mounted here, with the process's own dir in each. */
static int cg_hiers(struct cg_hier **out, size_t *n_out, bh_err_t *err)
{
    cleanup_free char *self = bh_read_file("/proc/self/cgroup", NULL, err);
    if (!self)
        return -1;
    cleanup_free char *mi = bh_read_file("/proc/self/mountinfo", NULL, err);
    if (!mi)
        return -1;
    struct cg_hier *h = NULL;
    size_t n = 0;
    char *save = NULL;
    for (char *l = strtok_r(self, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        /* hierarchy-id:controllers:path */
        char *c1 = strchr(l, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c1 = *c2 = 0;
        const char *ctrls = c1 + 1, *path = c2 + 1;
        int v2 = !strcmp(l, "0") && !*ctrls;
        if (!v2 && !*ctrls)
            continue;
        char *mnt = NULL;
        char *own = cg_locate(mi, v2 ? NULL : ctrls, path, &mnt);
        if (!own)
            continue;
        struct cg_hier *nh = realloc(h, (n + 1) * sizeof *h);
        if (!nh)
            abort();
        h = nh;
        h[n++] = (struct cg_hier){mnt, own, v2};
    }
    *out = h;
    *n_out = n;
    return 0;
}

/* Whether a hybrid layout is mounted: v1 controllers and a cgroup2 hierarchy
 * beside them (crun refuses it). */
static int cg_hybrid(const struct cg_hier *h, size_t n)
{
    int v1 = 0, v2 = 0;
    for (size_t i = 0; i < n; i++)
        h[i].v2 ? v2++ : v1++;
    return v1 && v2;
}

int bh_sandbox_cgroup_paths(const char *cgroups_path, char ***paths, bh_err_t *err)
{
    *paths = NULL;
    if (!cgroups_path || !*cgroups_path || cgroups_path[0] == '/' || strstr(cgroups_path, ".."))
        return bh_err_set(err, EINVAL, "cgroup path \"%s\" must be relative",
                          cgroups_path ? cgroups_path : "");
    struct cg_hier *h;
    size_t n;
    if (cg_hiers(&h, &n, err) < 0)
        return -1;
    char **v = bh_xcalloc(n + 1, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = bh_xasprintf("%s/%s", h[i].own_dir, cgroups_path);
    cg_hiers_free(h, n);
    *paths = v;
    return (int)n;
}

/* rmdir a cgroup dir and any child cgroups, killing what still runs in it
 * (everything in it belongs to the sandbox). Missing dir is success. */
static int cg_remove(const char *dir, bh_err_t *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : bh_err_set(err, errno, "open cgroup %s", dir);
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) && rc == 0) {
        if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        cleanup_free char *sub = bh_xasprintf("%s/%s", dir, de->d_name);
        rc = cg_remove(sub, err);
    }
    closedir(d);
    if (rc < 0)
        return -1;
    for (int i = 0; i < CG_RMDIR_TRIES; i++) {
        if (rmdir(dir) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY)
            return bh_err_set(err, errno, "rmdir %s", dir);
        cleanup_free char *procs_path = bh_xasprintf("%s/cgroup.procs", dir);
        cleanup_free char *procs = bh_read_file(procs_path, NULL, NULL);
        for (char *p = procs; p && *p;) {
            long pid = strtol(p, &p, 10);
            if (pid > 1)
                kill((pid_t)pid, SIGKILL);
            while (*p == '\n')
                p++;
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return bh_err_set(err, EBUSY, "rmdir %s", dir);
}

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
    char **argv;                 /* argv[0] is an absolute path */
    int fds[5];
    int nfds;
    const struct cg_hier *hiers; /* crun only: the layout to fix up */
    size_t nhiers;
    int crun;
};

/* Child-side failure report, read by the parent through the CLOEXEC pipe. */
struct rt_report {
    int step;
    int err;
};
static const char *const rt_steps[] = {"unshare mount namespace", "make / private",
                                       "unmount cgroup2",         "bind own cgroup",
                                       "set up fds",              "exec"};

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
    int hybrid = cg_hybrid(s->hiers, s->nhiers);
    for (size_t i = 0; i < s->nhiers; i++) {
        const struct cg_hier *h = &s->hiers[i];
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
    struct cg_hier *hiers;
    size_t nhiers;
    int crun;
};

static void rt_cmd_free(struct rt_cmd *c)
{
    strv_free(c->argv);
    cg_hiers_free(c->hiers, c->nhiers);
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
    if (c->crun && cg_hiers(&c->hiers, &c->nhiers, err) < 0) {
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
        bh_err_set(err, 0, "%s killed by signal %d%s%s", what, WTERMSIG(status),
                   ebuf ? ": " : "", ebuf ? ebuf : "");
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
        return bh_err_set(err, 0, "%s --version exited with status %d: %s", bh_runtime_name(rt),
                          rc, errout);
    return 0;
}

/* ======================================================================== */
/* The default image                                                         */

static int write_text(const char *dir, const char *name, const char *text, bh_err_t *err)
{
    cleanup_free char *p = bh_xasprintf("%s/%s", dir, name);
    return bh_write_file(p, text, strlen(text), 0644, err);
}

/* Copy src to dst: directories (0755) recursively, symlinks as they are,
 * regular files with mode 0644; anything else is skipped. */
static int copy_tree(const char *src, const char *dst, bh_err_t *err)
{
    struct stat st;
    if (lstat(src, &st) < 0)
        return bh_err_set(err, errno, "stat %s", src);
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlink(src, target, sizeof target - 1);
        if (n < 0)
            return bh_err_set(err, errno, "readlink %s", src);
        target[n] = 0;
        if (symlink(target, dst) < 0)
            return bh_err_set(err, errno, "symlink %s", dst);
        return 0;
    }
    if (S_ISREG(st.st_mode)) {
        size_t len;
        cleanup_free char *data = bh_read_file(src, &len, err);
        if (!data)
            return -1;
        return bh_write_file(dst, data, len, 0644, err);
    }
    if (!S_ISDIR(st.st_mode))
        return 0;
    if (mkdir(dst, 0755) < 0 || chmod(dst, 0755) < 0)
        return bh_err_set(err, errno, "mkdir %s", dst);
    DIR *d = opendir(src);
    if (!d)
        return bh_err_set(err, errno, "open %s", src);
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) && rc == 0) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        cleanup_free char *s = bh_xasprintf("%s/%s", src, de->d_name);
        cleanup_free char *t = bh_xasprintf("%s/%s", dst, de->d_name);
        rc = copy_tree(s, t, err);
    }
    closedir(d);
    return rc;
}

/* Copy a host path if it exists. */
static int copy_if_present(const char *src, const char *dst, bh_err_t *err)
{
    struct stat st;
    if (lstat(src, &st) < 0)
        return errno == ENOENT ? 0 : bh_err_set(err, errno, "stat %s", src);
    return copy_tree(src, dst, err);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entry names of a dir (without . and ..). Returns count or -1. */
static int dir_names(const char *path, char ***names)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    size_t n = 0, cap = 16;
    char **v = bh_xcalloc(cap, sizeof *v);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n + 1 >= cap) {
            cap *= 2;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv)
                abort();
            v = nv;
        }
        v[n++] = bh_xstrdup(de->d_name);
    }
    v[n] = NULL;
    closedir(d);
    qsort(v, n, sizeof *v, name_cmp);
    *names = v;
    return (int)n;
}

/* Whether two trees are the same: types, permission bits, file contents,
 * symlink targets and directory entries. */
static int trees_equal(const char *a, const char *b)
{
    struct stat sa, sb;
    if (lstat(a, &sa) < 0 || lstat(b, &sb) < 0)
        return 0;
    if ((sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT))
        return 0;
    if (S_ISLNK(sa.st_mode)) {
        char ta[PATH_MAX], tb[PATH_MAX];
        ssize_t na = readlink(a, ta, sizeof ta), nb = readlink(b, tb, sizeof tb);
        return na >= 0 && na == nb && !memcmp(ta, tb, (size_t)na);
    }
    if ((sa.st_mode & 07777) != (sb.st_mode & 07777))
        return 0;
    if (S_ISREG(sa.st_mode)) {
        if (sa.st_size != sb.st_size)
            return 0;
        size_t la, lb;
        cleanup_free char *da = bh_read_file(a, &la, NULL);
        cleanup_free char *db = bh_read_file(b, &lb, NULL);
        return da && db && la == lb && !memcmp(da, db, la);
    }
    if (!S_ISDIR(sa.st_mode))
        return 1;
    char **na = NULL, **nb = NULL;
    int ca = dir_names(a, &na), cb = dir_names(b, &nb);
    int same = ca >= 0 && ca == cb;
    for (int i = 0; same && i < ca; i++) {
        same = !strcmp(na[i], nb[i]);
        if (same) {
            cleanup_free char *pa = bh_xasprintf("%s/%s", a, na[i]);
            cleanup_free char *pb = bh_xasprintf("%s/%s", b, nb[i]);
            same = trees_equal(pa, pb);
        }
    }
    strv_free(na);
    strv_free(nb);
    return same;
}

/* Put the freshly built tree `fresh` at `dst`. An identical tree is left
 * alone (running sandboxes bind-mount it); a different one is swapped in
 * atomically and the old one removed. `fresh` is gone afterwards. */
static int install_tree(const char *fresh, const char *dst, bh_err_t *err)
{
    struct stat st;
    if (lstat(dst, &st) < 0) {
        if (errno != ENOENT)
            return bh_err_set(err, errno, "stat %s", dst);
        if (rename(fresh, dst) < 0)
            return bh_err_set(err, errno, "rename %s", dst);
        return 0;
    }
    if (!trees_equal(fresh, dst)) {
        if (renameat2(AT_FDCWD, fresh, AT_FDCWD, dst, RENAME_EXCHANGE) < 0) {
            /* No exchange on this filesystem: move the old one aside. */
            cleanup_free char *aside = bh_xasprintf("%s.old", fresh);
            if (rename(dst, aside) < 0)
                return bh_err_set(err, errno, "rename %s", dst);
            if (rename(fresh, dst) < 0) {
                int e = errno;
                rename(aside, dst);
                return bh_err_set(err, e, "rename %s", dst);
            }
            return bh_rm_rf(aside, err);
        }
    }
    return bh_rm_rf(fresh, err); /* the old tree, or the identical new one */
}

/* rootfs/: mount points, and the host's merged-/usr symlinks (or empty dirs
 * where the host has real ones; bh_sandbox_start binds those). Also a copy
 * of the host's fontconfig cache, so that Chromium does not rescan fonts. */
static int build_rootfs(const char *dir, bh_err_t *err)
{
    if (mkdir(dir, 0755) < 0 || chmod(dir, 0755) < 0)
        return bh_err_set(err, errno, "mkdir %s", dir);
    static const char *const dirs[] = {"proc", "dev", "sys", "tmp", "usr", "etc",
                                       "run", "var", "var/cache", NULL};
    for (size_t i = 0; dirs[i]; i++) {
        cleanup_free char *p = bh_xasprintf("%s/%s", dir, dirs[i]);
        if (mkdir(p, 0755) < 0 || chmod(p, 0755) < 0)
            return bh_err_set(err, errno, "mkdir %s", p);
    }
    /* runc gives the /tmp tmpfs the mode of this dir. */
    cleanup_free char *tmp = bh_xasprintf("%s/tmp", dir);
    if (chmod(tmp, 01777) < 0)
        return bh_err_set(err, errno, "chmod %s", tmp);
    for (size_t i = 0; usr_links[i]; i++) {
        cleanup_free char *host = bh_xasprintf("/%s", usr_links[i]);
        cleanup_free char *p = bh_xasprintf("%s/%s", dir, usr_links[i]);
        struct stat st;
        if (lstat(host, &st) < 0)
            continue;
        if (S_ISLNK(st.st_mode)) {
            if (copy_tree(host, p, err) < 0)
                return -1;
        } else if (S_ISDIR(st.st_mode) && (mkdir(p, 0755) < 0 || chmod(p, 0755) < 0)) {
            return bh_err_set(err, errno, "mkdir %s", p);
        }
    }
    cleanup_free char *fc = bh_xasprintf("%s/var/cache/fontconfig", dir);
    return copy_if_present("/var/cache/fontconfig", fc, err);
}

static const char etc_passwd[] = "root:x:0:0:root:/root:/usr/sbin/nologin\n"
                                 "bulkhead:x:1000:1000:bulkhead sandbox:/tmp:/usr/sbin/nologin\n"
                                 "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
static const char etc_group[] = "root:x:0:\ntty:x:5:\nbulkhead:x:1000:\nnogroup:x:65534:\n";
static const char etc_hosts[] = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
static const char etc_nsswitch[] = "passwd:         files\n"
                                   "group:          files\n"
                                   "shadow:         files\n"
                                   "hosts:          files dns\n"
                                   "networks:       files\n"
                                   "protocols:      files\n"
                                   "services:       files\n"
                                   "ethers:         files\n"
                                   "rpc:            files\n";

/* etc/: a curated /etc with nothing secret (no shadow, ssh keys, machine-id).
 * resolv.conf keeps what bh_sandbox_set_dns() wrote into the current image. */
static int build_etc(const char *dir, const char *current_etc, bh_err_t *err)
{
    if (mkdir(dir, 0755) < 0 || chmod(dir, 0755) < 0)
        return bh_err_set(err, errno, "mkdir %s", dir);
    if (write_text(dir, "passwd", etc_passwd, err) < 0 ||
        write_text(dir, "group", etc_group, err) < 0 ||
        write_text(dir, "hosts", etc_hosts, err) < 0 ||
        write_text(dir, "nsswitch.conf", etc_nsswitch, err) < 0)
        return -1;
    cleanup_free char *cur_resolv = bh_xasprintf("%s/resolv.conf", current_etc);
    cleanup_free char *resolv = bh_read_file(cur_resolv, NULL, NULL);
    if (!resolv)
        resolv = bh_xstrdup("nameserver " DEFAULT_NAMESERVER "\n");
    if (write_text(dir, "resolv.conf", resolv, err) < 0)
        return -1;

    cleanup_free char *ld = bh_xasprintf("%s/ld.so.cache", dir);
    if (copy_tree("/etc/ld.so.cache", ld, err) < 0)
        return bh_err_wrap(err, "Chromium's libraries are found through it");
    static const char *const optional[] = {"fonts", "mime.types", "chromium", NULL};
    for (size_t i = 0; optional[i]; i++) {
        cleanup_free char *src = bh_xasprintf("/etc/%s", optional[i]);
        cleanup_free char *dst = bh_xasprintf("%s/%s", dir, optional[i]);
        if (copy_if_present(src, dst, err) < 0)
            return -1;
    }
    /* Chromium's managed policies are bulkhead's alone: never the host's. */
    cleanup_free char *pol = bh_xasprintf("%s/chromium/policies", dir);
    cleanup_free char *managed = bh_xasprintf("%s/managed", pol);
    if (bh_rm_rf(pol, err) < 0 || bh_mkdir_p(managed, 0755, err) < 0 ||
        write_text(managed, BH_BROWSER_POLICY_FILE, bh_browser_policies, err) < 0)
        return bh_err_wrap(err, "chromium policies");
    struct stat st;
    if (lstat("/etc/ssl/certs", &st) == 0) {
        cleanup_free char *ssl = bh_xasprintf("%s/ssl", dir);
        cleanup_free char *certs = bh_xasprintf("%s/ssl/certs", dir);
        if (mkdir(ssl, 0755) < 0 || chmod(ssl, 0755) < 0)
            return bh_err_set(err, errno, "mkdir %s", ssl);
        if (copy_tree("/etc/ssl/certs", certs, err) < 0)
            return -1;
    }
    return 0;
}

int bh_sandbox_prepare_image(const struct bh_sandbox_env *env, bh_err_t *err)
{
    if (!env || !env->image_dir || env->image_dir[0] != '/')
        return bh_err_set(err, EINVAL, "prepare image: image_dir must be an absolute path");
    if (bh_mkdir_p(env->image_dir, 0755, err) < 0)
        return bh_err_wrap(err, "prepare image");
    char rnd[17];
    if (bh_random_hex(rnd, 8, err) < 0)
        return -1;
    cleanup_free char *build = bh_xasprintf("%s/.build-%s", env->image_dir, rnd);
    cleanup_free char *rootfs = bh_xasprintf("%s/rootfs", build);
    cleanup_free char *etc = bh_xasprintf("%s/etc", build);
    cleanup_free char *dst_rootfs = bh_xasprintf("%s/rootfs", env->image_dir);
    cleanup_free char *dst_etc = bh_xasprintf("%s/etc", env->image_dir);
    int rc = -1;
    if (mkdir(build, 0700) < 0) {
        bh_err_set(err, errno, "mkdir %s", build);
        goto out;
    }
    if (build_rootfs(rootfs, err) < 0 || build_etc(etc, dst_etc, err) < 0 ||
        install_tree(rootfs, dst_rootfs, err) < 0 || install_tree(etc, dst_etc, err) < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0)
        bh_err_wrap(err, "prepare image");
    bh_rm_rf(build, NULL);
    return rc;
}

int bh_sandbox_set_dns(const struct bh_sandbox_env *env, const char *nameserver, bh_err_t *err)
{
    unsigned char buf[16];
    if (!nameserver || (inet_pton(AF_INET, nameserver, buf) != 1 &&
                        inet_pton(AF_INET6, nameserver, buf) != 1))
        return bh_err_set(err, EINVAL, "set dns: \"%s\" is not an IP address",
                          nameserver ? nameserver : "");
    cleanup_free char *path = bh_xasprintf("%s/etc/resolv.conf", env->image_dir);
    cleanup_free char *text = bh_xasprintf("nameserver %s\n", nameserver);
    if (bh_write_file(path, text, strlen(text), 0644, err) < 0)
        return bh_err_wrap(err, "set dns");
    return 0;
}

/* Open path (relative) below dirfd for `flags`, resolving inside dirfd as
 * the root and never through a symlink or magic link. */
static int open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .mode = (flags & O_CREAT) ? mode : 0,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

/* Restores this thread's filesystem ids to root's (cleanup of put_file). */
static void fsids_restore(int *set)
{
    if (*set) {
        syscall(SYS_setfsuid, 0);
        syscall(SYS_setfsgid, 0);
    }
}

int bh_sandbox_put_file(pid_t pid, uint32_t owner_uid, uint32_t owner_gid, const char *dir,
                        const char *name, const void *data, size_t len, bh_err_t *err)
{
    if (!name || !*name || name[0] == '.' || strlen(name) > 255 || strchr(name, '/'))
        return bh_err_set(err, EINVAL, "put file: bad file name");
    if (!dir || dir[0] != '/' || strstr(dir, ".."))
        return bh_err_set(err, EINVAL, "put file: bad directory");
    cleanup_free char *root_path = bh_xasprintf("/proc/%d/root", (int)pid);
    cleanup_close int root = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return bh_err_set(err, errno, "put file: the sandbox is gone");
    /* In a user namespace the sandbox's tmpfs belongs to it: host root,
     * unmapped there, cannot create in it (EOVERFLOW). From here on this
     * thread acts on files as the sandbox's user, who owns /tmp there
     * (setfsuid/setfsgid are per thread at the system call level). */
    __attribute__((cleanup(fsids_restore))) int fsids = 0;
    if (owner_uid) {
        syscall(SYS_setfsgid, owner_gid);
        syscall(SYS_setfsuid, owner_uid);
        fsids = 1;
    }
    /* the directory: made if missing, then opened without following links */
    cleanup_close int d = open_beneath(root, dir + 1, O_PATH | O_DIRECTORY, 0);
    if (d < 0 && errno == ENOENT) {
        cleanup_free char *parent = bh_xstrdup(dir + 1);
        char *slash = strrchr(parent, '/');
        const char *leaf = slash ? slash + 1 : parent;
        if (slash)
            *slash = 0;
        cleanup_close int p = slash ? open_beneath(root, parent, O_PATH | O_DIRECTORY, 0)
                                    : open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (p < 0 || (mkdirat(p, leaf, 0755) < 0 && errno != EEXIST))
            return bh_err_set(err, errno, "put file: mkdir %s", dir);
        d = open_beneath(root, dir + 1, O_PATH | O_DIRECTORY, 0);
    }
    if (d < 0)
        return bh_err_set(err, errno, "put file: %s is not a directory of the sandbox", dir);
    if (unlinkat(d, name, 0) < 0 && errno != ENOENT)
        return bh_err_set(err, errno, "put file: %s/%s is in the way", dir, name);
    cleanup_close int fd =
        open_beneath(d, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, 0644);
    if (fd < 0)
        return bh_err_set(err, errno, "put file: create %s/%s", dir, name);
    const char *p = data;
    for (size_t left = len; left > 0;) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            unlinkat(d, name, 0);
            return bh_err_set(err, e, "put file: write %s/%s", dir, name);
        }
        p += w;
        left -= (size_t)w;
    }
    if (fchmod(fd, 0644) < 0)
        return bh_err_set(err, errno, "put file: chmod %s/%s", dir, name);
    return 0;
}

/* ======================================================================== */
/* Containers                                                                */

/* Host dirs to bind for a rootfs built by build_rootfs(): the top-level
 * names that are real directories both there and on the host. */
static char **host_ro_dirs(const char *rootfs)
{
    char **v = bh_xcalloc(sizeof usr_links / sizeof *usr_links, sizeof *v);
    size_t n = 0;
    for (size_t i = 0; usr_links[i]; i++) {
        cleanup_free char *in = bh_xasprintf("%s/%s", rootfs, usr_links[i]);
        cleanup_free char *host = bh_xasprintf("/%s", usr_links[i]);
        struct stat a, b;
        if (lstat(in, &a) == 0 && S_ISDIR(a.st_mode) && lstat(host, &b) == 0 &&
            S_ISDIR(b.st_mode))
            v[n++] = steal_pointer(&host);
    }
    return v;
}

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
    if (!id || strncmp(id, "bh-", 3) || !id[3] || strlen(id) >= sizeof(((struct bh_sandbox *)0)->id))
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
        dirs = host_ro_dirs(p.rootfs);
        p.host_ro_dirs = (const char *const *)dirs;
    }
    cleanup_free char *spec = bh_oci_spec_build(&p, err);
    strv_free(dirs);
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
    const char *run_args[] = {"run", "--detach", "--pid-file", pidfile, "--preserve-fds", "2",
                              "--bundle", bundle, cid, NULL};
    const char *create_args[] = {"create", "--pid-file", pidfile, "--preserve-fds", "2",
                                 "--bundle", bundle, cid, NULL};
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

int bh_sandbox_resume(const struct bh_sandbox_env *env, const char *container_id, bh_err_t *err)
{
    if (env_ok(env, err) < 0)
        return -1;
    if (!container_id_ok(container_id))
        return bh_err_set(err, EINVAL, "start: invalid container id \"%s\"",
                          container_id ? container_id : "");
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
        int n = bh_sandbox_cgroup_paths(cgpath, &paths, err);
        if (n < 0)
            return bh_err_wrap(err, "destroy %s", container_id);
        int crc = 0;
        for (int i = 0; i < n && crc == 0; i++)
            crc = cg_remove(paths[i], err);
        strv_free(paths);
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
