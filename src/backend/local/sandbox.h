/* sandbox.h — one session's OCI container: its bundle directory, the runtime
 * binary (runc or crun) that runs it, its host pid, and its destruction.
 * The runtime keeps its state under our own --root, so bulkhead never sees or
 * touches containers that are not its own. Blocking calls: run them off the
 * event loop (session.c uses a worker thread).
 *
 * The public interface of the sandbox modules: sandbox.c (runtime calls,
 * containers), sandbox_image.c (the default image), sandbox_files.c (files
 * put into a running sandbox; its own header, included here). The cgroups
 * (paths, removal, usage) are cgroup.c's (cgroup.h). */
#ifndef BH_SANDBOX_H
#define BH_SANDBOX_H

#include <stdint.h>
#include <sys/types.h>

#include "config/config.h"
#include "lib/err.h"
#include "backend/local/oci_spec.h"
#include "backend/local/sandbox_files.h"

struct bh_kind_file; /* kinds/kind.h */

struct bh_sandbox_env {
    enum bh_runtime runtime;
    const char *runtime_root; /* --root for the runtime, e.g. /run/bulkhead/runc */
    const char *bundles_dir;  /* <state>/bundles; one subdir per session */
    const char *image_dir;    /* <state>/image: rootfs/ and etc/ built by prepare */
    /* What the kinds' processes need in etc/ (kinds/kind.h): host /etc
     * entries to copy, and files of their own; NULL-terminated, may be NULL. */
    const char *const *etc_copy;
    const struct bh_kind_file *const *etc_files;
};

/* Build (idempotently) the default image under env->image_dir: an empty
 * read-only rootfs skeleton whose /usr /lib* /bin /sbin come from the host by
 * bind mounts declared in the spec, and a curated etc/ (passwd with the
 * sandbox user, group, hosts, nsswitch.conf, resolv.conf, ld.so.cache, fonts,
 * ssl certs — nothing secret). */
int bh_sandbox_prepare_image(const struct bh_sandbox_env *env, bh_err_t *err);

/* Added: point the image's resolv.conf at one nameserver (an IP address),
 * e.g. the session bridge's address; effective for running sandboxes too.
 * prepare_image writes "nameserver 10.213.0.1" until this is called, and
 * keeps what this wrote when it rebuilds the image. */
int bh_sandbox_set_dns(const struct bh_sandbox_env *env, const char *nameserver, bh_err_t *err);

/* Name of a runtime ("runc"/"crun"); parse one (-1 if unknown). */
const char *bh_runtime_name(enum bh_runtime rt);
int bh_runtime_parse(const char *name);
/* Whether the runtime's binary is where the daemon would run it from
 * (cheap: nothing is started). */
int bh_runtime_found(enum bh_runtime rt, bh_err_t *err);
/* Whether a runtime works on this host (binary found, cgroup layout usable). */
int bh_runtime_usable(enum bh_runtime rt, bh_err_t *err);

struct bh_sandbox {
    char id[80];      /* OCI container id: "bh-<session id>" */
    pid_t pid;        /* host pid of the container's init */
    char bundle[512]; /* bundle dir */
    int runtime_ms;   /* how long the runtime took (the rest: the bundle) */
};

/* Write the bundle (config.json from params) and start the container detached.
 * fd_in/fd_out become fds 3 and 4 inside (CDP pipe: 3 = to browser, 4 = from
 * browser); fd_log gets the process's stdout/stderr (-1 = /dev/null). On
 * failure everything made so far is removed and err names the cause (the
 * runtime's own message, e.g. "runc run failed: ... permission denied").
 * If params->host_ro_dirs is NULL it is filled in from the image (see
 * oci_spec.h). The runtime detaches the container: its init is not our child
 * (it is reparented to the nearest subreaper; a daemon that wants pidfd/exit
 * notifications sets PR_SET_CHILD_SUBREAPER). The runtime binary itself is
 * waited for with waitpid(pid): a SIGCHLD handler that reaps with
 * waitpid(-1) would steal its status. */
int bh_sandbox_start(const struct bh_sandbox_env *env, const struct bh_spec_params *params,
                     int fd_in, int fd_out, int fd_log, struct bh_sandbox *out, bh_err_t *err);

/* bh_sandbox_start() in two steps, the way the daemon starts every session
 * (bh_sandbox_start() itself, one `runtime run`, is for the benchmark's
 * baseline, bench/bare.c, and the tests). _create makes the container
 * (`runtime create`): its namespaces exist and out->pid is its init, which
 * waits to exec the process until _resume (`runtime start`). In between the
 * caller sets up what lives in the container's own namespaces (the network
 * namespace that a user namespace owns, see net.h). On a failed _create
 * nothing is left; after a failed _resume, bh_sandbox_destroy() it. */
int bh_sandbox_create(const struct bh_sandbox_env *env, const struct bh_spec_params *params,
                      int fd_in, int fd_out, int fd_log, struct bh_sandbox *out, bh_err_t *err);
int bh_sandbox_resume(const struct bh_sandbox_env *env, const char *container_id, bh_err_t *err);

/* Kill every process of the container, delete it (runtime delete --force, which
 * removes its cgroups) and remove the bundle dir. Idempotent: a container that
 * is already gone is success. */
int bh_sandbox_destroy(const struct bh_sandbox_env *env, const char *container_id, bh_err_t *err);

/* Ids of all containers under our runtime root (for crash recovery). Returns
 * count, fills *ids (caller frees each and the array). */
int bh_sandbox_list(const struct bh_sandbox_env *env, char ***ids, bh_err_t *err);

#endif
