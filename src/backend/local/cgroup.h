/* cgroup.h — the cgroups of sandboxes: the cgroup hierarchies the
 * daemon is in (from /proc/self/cgroup and /proc/self/mountinfo; v1
 * controllers and the cgroup2 hierarchy alike), the dirs that a sandbox's
 * relative cgroupsPath gets in them (bh_cgroup_paths(), declared in
 * sandbox.h), and their removal. Never a cgroup outside the daemon's own.
 * Internal to the sandbox modules; nothing else includes this header. */
#ifndef BH_CGROUP_H
#define BH_CGROUP_H

#include <stddef.h>

#include "lib/err.h"

struct bh_cgroup_hier {
    char *mountpoint; /* e.g. /sys/fs/cgroup/memory */
    char *own_dir;    /* the daemon's own cgroup in it, e.g. <mnt>/process_api/x */
    int v2;
};

/* The cgroup hierarchies this process is in that are mounted here, with the
 * process's own dir in each. Free with bh_cgroup_hiers_free(). */
int bh_cgroup_hiers(struct bh_cgroup_hier **out, size_t *n_out, bh_err_t *err);
void bh_cgroup_hiers_free(struct bh_cgroup_hier *h, size_t n);

/* Whether a hybrid layout is mounted: v1 controllers and a cgroup2 hierarchy
 * beside them (crun refuses it). Async-signal-safe. */
int bh_cgroup_hybrid(const struct bh_cgroup_hier *h, size_t n);

/* rmdir a cgroup dir and any child cgroups, killing what still runs in it
 * (everything in it belongs to the sandbox). Missing dir is success. */
int bh_cgroup_remove(const char *dir, bh_err_t *err);

#endif
