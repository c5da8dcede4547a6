/* oci_spec.h — the OCI runtime config.json of one session sandbox, built as a
 * pure function of its settings (no I/O, no globals, no clock), so that it can
 * be tested against golden files. The seccomp profile lives here too. */
#ifndef BH_OCI_SPEC_H
#define BH_OCI_SPEC_H

#include <stdint.h>

#include "lib/err.h"

struct bh_spec_params {
    const char *id;           /* session id, used for hostname "bh-<id8>" */
    const char *rootfs;       /* absolute path of the (read-only) rootfs dir */
    const char *etc_dir;      /* absolute path of the curated /etc to bind ro;
                                 NULL = keep the rootfs's own /etc */
    const char *netns_path;   /* network namespace to join; NULL = new empty one.
                                 Must be NULL with a user namespace (a sysfs
                                 can only be mounted in a netns that the
                                 container's user namespace owns). */
    const char *cgroups_path; /* relative cgroup path, e.g. "bulkhead/<id>" */
    const char *const *argv;  /* process args, NULL-terminated */
    const char *const *env;   /* "K=V" strings, NULL-terminated */
    uint32_t uid, gid;        /* unprivileged user the process runs as (inside
                                 the user namespace when there is one) */
    /* Added: the session's own user namespace. Container uids and gids
     * 0..userns_size-1 map to host ids userns_host_base.. (the same range for
     * both). userns_host_base 0 = no user namespace: ids are the host's. */
    uint32_t userns_host_base;
    uint32_t userns_size; /* must cover uid and gid; 65536 usually */
    /* Added: 1 = seccomp refuses clone/unshare with CLONE_NEWUSER (EPERM):
     * no nested user namespaces (Chromium then runs without its namespace
     * sandbox, see docs/security.md); 0 = allowed. */
    int deny_nested_userns;
    uint64_t memory_bytes; /* memory limit (and memory+swap the same) */
    uint64_t pids_max;
    uint64_t cpu_quota_us; /* per cpu_period_us; 0 = no quota */
    uint64_t cpu_period_us;
    uint64_t cpu_shares; /* 0 = runtime default */
    uint64_t tmp_bytes;  /* size of /tmp tmpfs */
    uint64_t shm_bytes;  /* size of /dev/shm tmpfs */
    /* Added: > 0: a tmpfs of this size at /home/user owned by uid and gid,
     * the session's workspace (shell sessions); 0: none. */
    uint64_t home_bytes;
    /* Added: extra host directories bound read-only at the same path, after
     * /usr (NULL-terminated; NULL = none). For hosts whose /bin, /lib64...
     * are real directories rather than merged-/usr symlinks; on Debian 12 it
     * stays NULL. bh_sandbox_create()/_start() fill it in when the caller
     * leaves it NULL, so callers normally never set it. */
    const char *const *host_ro_dirs;
};

/* The config.json text (pretty-printed, keys in a stable order). Caller frees.
 * Returns NULL with err set when a parameter is missing or invalid: id
 * ([A-Za-z0-9_.-]{1,64}), rootfs, argv and a relative cgroups_path are
 * required; uid and gid 0 are refused; memory, pids, /tmp and /dev/shm limits
 * must be non-zero; a user namespace needs uid and gid inside its range, a
 * range that fits below 2^32-1 and no netns_path. env NULL = empty
 * environment. */
char *bh_oci_spec_build(const struct bh_spec_params *p, bh_err_t *err);

#endif
