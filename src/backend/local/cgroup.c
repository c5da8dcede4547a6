/* cgroup.c — see cgroup.h. */
#include "backend/local/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend/local/sandbox.h"
#include "lib/util.h"

#define CG_RMDIR_TRIES 60 /* x 50 ms: processes leaving a cgroup */

void bh_cgroup_hiers_free(struct bh_cgroup_hier *h, size_t n)
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
int bh_cgroup_hiers(struct bh_cgroup_hier **out, size_t *n_out,
                            bh_err_t *err)
{
    cleanup_free char *self = bh_read_file("/proc/self/cgroup", NULL, err);
    if (!self)
        return -1;
    cleanup_free char *mi = bh_read_file("/proc/self/mountinfo", NULL, err);
    if (!mi)
        return -1;
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
        char *own = cg_locate(mi, v2 ? NULL : ctrls, path, &mnt);
        if (!own)
            continue;
        struct bh_cgroup_hier *nh = realloc(h, (n + 1) * sizeof *h);
        if (!nh)
            abort();
        h = nh;
        h[n++] = (struct bh_cgroup_hier){mnt, own, v2};
    }
    *out = h;
    *n_out = n;
    return 0;
}

/* Whether a hybrid layout is mounted: v1 controllers and a cgroup2 hierarchy
 * beside them (crun refuses it). */
int bh_cgroup_hybrid(const struct bh_cgroup_hier *h, size_t n)
{
    int v1 = 0, v2 = 0;
    for (size_t i = 0; i < n; i++)
        h[i].v2 ? v2++ : v1++;
    return v1 && v2;
}

int bh_cgroup_paths(const char *cgroups_path, char ***paths, bh_err_t *err)
{
    *paths = NULL;
    if (!cgroups_path || !*cgroups_path || cgroups_path[0] == '/' || strstr(cgroups_path, ".."))
        return bh_err_set(err, EINVAL, "cgroup path \"%s\" must be relative",
                          cgroups_path ? cgroups_path : "");
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

/* rmdir a cgroup dir and any child cgroups, killing what still runs in it
 * (everything in it belongs to the sandbox). Missing dir is success. */
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
