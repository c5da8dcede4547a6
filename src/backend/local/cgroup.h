/* cgroup.h — everything bulkhead knows about cgroups, on cgroup v1, v2 and
 * hybrid hosts alike: the hierarchies the daemon is in (from
 * /proc/self/cgroup and /proc/self/mountinfo), the dirs that a sandbox's
 * relative cgroupsPath gets in them, their removal, and a sandbox's resource
 * usage read from them (memory, CPU time, OOM kills, pids). Never a cgroup
 * outside the daemon's own. Part of the local backend.
 *
 * Where a controller is both a v1 hierarchy's and could be the cgroup2
 * hierarchy's (hybrid hosts), its files are read where it is: a controller is
 * bound to one hierarchy at a time, so a v1 hierarchy that names it wins, and
 * otherwise the cgroup2 hierarchy holds it (or nobody does: -1). */
#ifndef BH_CGROUP_H
#define BH_CGROUP_H

#include <stddef.h>

#include "lib/err.h"

/* ------------------------------------------------------------------------ */
/* Hierarchies, paths, removal                                               */

struct bh_cgroup_hier {
    char *mountpoint;  /* e.g. /sys/fs/cgroup/memory */
    char *own_dir;     /* the daemon's own cgroup in it, e.g. <mnt>/process_api/x */
    char *controllers; /* v1: as in /proc/self/cgroup ("cpu,cpuacct", "name=systemd"); v2: "" */
    int v2;
};

/* The cgroup hierarchies this process is in that are mounted here, with the
 * process's own dir in each. Free with bh_cgroup_hiers_free(). */
int bh_cgroup_hiers(struct bh_cgroup_hier **out, size_t *n_out, bh_err_t *err);
/* The same from the texts of /proc/self/cgroup and /proc/self/mountinfo
 * (borrowed); lines it does not understand are skipped. */
void bh_cgroup_hiers_parse(const char *self_cgroup, const char *mountinfo,
                           struct bh_cgroup_hier **out, size_t *n_out);
void bh_cgroup_hiers_free(struct bh_cgroup_hier *h, size_t n);

/* Whether a hybrid layout is mounted: v1 controllers and a cgroup2 hierarchy
 * beside them (crun refuses it). Async-signal-safe. */
int bh_cgroup_hybrid(const struct bh_cgroup_hier *h, size_t n);

/* Whether s is a relative cgroup path: not empty, no leading or trailing '/',
 * no empty, "." or ".." component, no '\n' or ':'. */
int bh_cgroup_path_valid(const char *s);

/* The absolute cgroup dirs that a sandbox with this (relative) cgroups_path
 * gets: for every cgroup hierarchy the daemon is in, the daemon's own cgroup
 * there + "/" + cgroups_path (v1 controllers and the cgroup2 hierarchy
 * alike). They need not exist. Returns the count and a NULL-terminated
 * *paths (caller frees each and the array). EINVAL: not a valid path. */
int bh_cgroup_paths(const char *cgroups_path, char ***paths, bh_err_t *err);

/* rmdir a cgroup dir and any child cgroups, killing what still runs in it
 * (everything in it belongs to the sandbox). Missing dir is success.
 * Blocking (waits up to 3 s for processes to leave): not on the loop. */
int bh_cgroup_remove(const char *dir, bh_err_t *err);

/* ------------------------------------------------------------------------ */
/* One sandbox's cgroup and its usage                                        */

typedef struct bh_cgroup bh_cgroup_t;

/* The sandbox's cgroup dirs for this relative cgroups_path (as in its OCI
 * spec) in every hierarchy, resolved once; they need not exist yet.
 * NULL with err set (EINVAL) for an invalid path or when the hierarchies
 * cannot be read. Free with bh_cgroup_free(). */
bh_cgroup_t *bh_cgroup_open(const char *cgroups_path, bh_err_t *err);
/* The same over given hierarchies (borrowed; own_dir, controllers and v2 are
 * used): how tests build v1, v2 and hybrid layouts under a temp dir. */
bh_cgroup_t *bh_cgroup_open_hiers(const struct bh_cgroup_hier *h, size_t n,
                                  const char *cgroups_path, bh_err_t *err);
void bh_cgroup_free(bh_cgroup_t *cg);

/* Usage so far; each field -1 when unknown (no such controller, file
 * missing — e.g. the cgroup is gone or not made yet — or not understood). */
struct bh_cgroup_usage {
    long long memory_bytes; /* v2 memory.current; v1 memory.usage_in_bytes */
    long long cpu_usec;     /* v2 cpu.stat usage_usec; v1 cpuacct.usage / 1000 */
    long long oom_kills;    /* v2 memory.events oom_kill; v1 memory.oom_control oom_kill */
    long long pids;         /* pids.current (both) */
};

/* Fill *u with a few small reads (no allocation). Returns how many fields
 * are known (0..4); cg NULL (a failed open) leaves all unknown. Safe on the
 * event loop and from any thread. */
int bh_cgroup_usage(const bh_cgroup_t *cg, struct bh_cgroup_usage *u);

#endif
