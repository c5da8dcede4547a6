/* cgroup.c — see cgroup.h.
 *
 * Sections: hierarchies, paths, removal; one sandbox's cgroup and its usage. */
#include "backend/local/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/util.h"

#define CG_RMDIR_TRIES 60 /* x 50 ms: processes leaving a cgroup */

/* ======================================================================== */
/* Hierarchies, paths, removal                                               */

void bh_cgroup_hiers_free(struct bh_cgroup_hier *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].mountpoint);
        free(h[i].own_dir);
        free(h[i].controllers);
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

int bh_cgroup_hiers(struct bh_cgroup_hier **out, size_t *n_out, bh_err_t *err)
{
    cleanup_free char *self = bh_read_file("/proc/self/cgroup", NULL, err);
    if (!self)
        return -1;
    cleanup_free char *mi = bh_read_file("/proc/self/mountinfo", NULL, err);
    if (!mi)
        return -1;
    bh_cgroup_hiers_parse(self, mi, out, n_out);
    return 0;
}

void bh_cgroup_hiers_parse(const char *self_cgroup, const char *mountinfo,
                           struct bh_cgroup_hier **out, size_t *n_out)
{
    cleanup_free char *self = bh_xstrdup(self_cgroup);
    struct bh_cgroup_hier *h = NULL;
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
        char *own = cg_locate(mountinfo, v2 ? NULL : ctrls, path, &mnt);
        if (!own)
            continue;
        struct bh_cgroup_hier *nh = realloc(h, (n + 1) * sizeof *h);
        if (!nh)
            abort();
        h = nh;
        h[n++] = (struct bh_cgroup_hier){mnt, own, bh_xstrdup(v2 ? "" : ctrls), v2};
    }
    *out = h;
    *n_out = n;
}

int bh_cgroup_hybrid(const struct bh_cgroup_hier *h, size_t n)
{
    int v1 = 0, v2 = 0;
    for (size_t i = 0; i < n; i++)
        h[i].v2 ? v2++ : v1++;
    return v1 && v2;
}

int bh_cgroup_path_valid(const char *s)
{
    if (!s || !*s || s[0] == '/')
        return 0;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        for (size_t i = 0; i < n; i++)
            if (p[i] == '\n' || p[i] == ':')
                return 0;
        p += n;
        if (*p == '/')
            p++;
        if (e && !*p)
            return 0; /* trailing slash */
    }
    return 1;
}

static int path_check(const char *cgroups_path, bh_err_t *err)
{
    if (bh_cgroup_path_valid(cgroups_path))
        return 0;
    return bh_err_set(err, EINVAL, "cgroup path \"%s\" must be relative",
                      cgroups_path ? cgroups_path : "");
}

int bh_cgroup_paths(const char *cgroups_path, char ***paths, bh_err_t *err)
{
    *paths = NULL;
    if (path_check(cgroups_path, err) < 0)
        return -1;
    struct bh_cgroup_hier *h;
    size_t n;
    if (bh_cgroup_hiers(&h, &n, err) < 0)
        return -1;
    char **v = bh_xcalloc(n + 1, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = bh_xasprintf("%s/%s", h[i].own_dir, cgroups_path);
    bh_cgroup_hiers_free(h, n);
    *paths = v;
    return (int)n;
}

int bh_cgroup_remove(const char *dir, bh_err_t *err)
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
        rc = bh_cgroup_remove(sub, err);
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
/* One sandbox's cgroup and its usage                                        */

enum { CG_MEMORY, CG_CPU, CG_PIDS, CG_N };

/* The v1 controller that each part reads (cpu.stat of v2 is there without
 * the cpu controller; cpuacct is v1's CPU accounting). */
static const char *const cg_v1_ctrl[CG_N] = {"memory", "cpuacct", "pids"};

struct bh_cgroup {
    struct {
        char *dir; /* the sandbox's dir in the hierarchy holding it; NULL: none */
        int v2;
    } part[CG_N];
};

void bh_cgroup_free(bh_cgroup_t *cg)
{
    if (!cg)
        return;
    for (int i = 0; i < CG_N; i++)
        free(cg->part[i].dir);
    free(cg);
}

bh_cgroup_t *bh_cgroup_open_hiers(const struct bh_cgroup_hier *h, size_t n,
                                  const char *cgroups_path, bh_err_t *err)
{
    if (path_check(cgroups_path, err) < 0)
        return NULL;
    bh_cgroup_t *cg = bh_xcalloc(1, sizeof *cg);
    for (int p = 0; p < CG_N; p++) {
        const struct bh_cgroup_hier *at = NULL;
        for (size_t i = 0; i < n && !at; i++)
            if (!h[i].v2 && opts_have_all(h[i].controllers, cg_v1_ctrl[p]))
                at = &h[i];
        for (size_t i = 0; i < n && !at; i++)
            if (h[i].v2)
                at = &h[i];
        if (!at)
            continue;
        cg->part[p].dir = bh_xasprintf("%s/%s", at->own_dir, cgroups_path);
        cg->part[p].v2 = at->v2;
    }
    return cg;
}

bh_cgroup_t *bh_cgroup_open(const char *cgroups_path, bh_err_t *err)
{
    if (path_check(cgroups_path, err) < 0)
        return NULL;
    struct bh_cgroup_hier *h;
    size_t n;
    if (bh_cgroup_hiers(&h, &n, err) < 0)
        return NULL;
    bh_cgroup_t *cg = bh_cgroup_open_hiers(h, n, cgroups_path, err);
    bh_cgroup_hiers_free(h, n);
    return cg;
}

/* The decimal at p, which must end its line (at '\n' or NUL), or -1. */
static long long line_number(const char *p)
{
    if (*p < '0' || *p > '9')
        return -1;
    long long v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (LLONG_MAX - (*p - '0')) / 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    return *p == '\n' || *p == 0 ? v : -1;
}

/* The value of dir/file: its one number (key NULL), or the number of its
 * "key N" line (flat keyed files: memory.events, cpu.stat, ...); -1 if the
 * file or the line is missing or not a number. */
static long long cg_read(const char *dir, const char *file, const char *key)
{
    if (!dir)
        return -1;
    char path[PATH_MAX];
    int pl = snprintf(path, sizeof path, "%s/%s", dir, file);
    if (pl < 0 || (size_t)pl >= sizeof path)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[4096];
    ssize_t r;
    do
        r = read(fd, buf, sizeof buf - 1);
    while (r < 0 && errno == EINTR);
    close(fd);
    if (r <= 0)
        return -1;
    buf[r] = 0;
    if ((size_t)r == sizeof buf - 1) { /* maybe cut: keep whole lines only */
        char *nl = strrchr(buf, '\n');
        if (!nl)
            return -1;
        nl[1] = 0;
    }
    if (!key)
        return line_number(buf);
    size_t kl = strlen(key);
    for (const char *l = buf; *l;) {
        if (!strncmp(l, key, kl) && l[kl] == ' ')
            return line_number(l + kl + 1);
        const char *nl = strchr(l, '\n');
        if (!nl)
            break;
        l = nl + 1;
    }
    return -1;
}

int bh_cgroup_usage(const bh_cgroup_t *cg, struct bh_cgroup_usage *u)
{
    if (!cg) {
        *u = (struct bh_cgroup_usage){-1, -1, -1, -1};
        return 0;
    }
    const char *mem = cg->part[CG_MEMORY].dir, *cpu = cg->part[CG_CPU].dir;
    if (cg->part[CG_MEMORY].v2) {
        u->memory_bytes = cg_read(mem, "memory.current", NULL);
        u->oom_kills = cg_read(mem, "memory.events", "oom_kill");
    } else {
        u->memory_bytes = cg_read(mem, "memory.usage_in_bytes", NULL);
        u->oom_kills = cg_read(mem, "memory.oom_control", "oom_kill");
    }
    if (cg->part[CG_CPU].v2)
        u->cpu_usec = cg_read(cpu, "cpu.stat", "usage_usec");
    else {
        long long ns = cg_read(cpu, "cpuacct.usage", NULL);
        u->cpu_usec = ns < 0 ? -1 : ns / 1000;
    }
    u->pids = cg_read(cg->part[CG_PIDS].dir, "pids.current", NULL);
    return (u->memory_bytes >= 0) + (u->cpu_usec >= 0) + (u->oom_kills >= 0) + (u->pids >= 0);
}
