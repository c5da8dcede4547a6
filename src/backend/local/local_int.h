/* local_int.h — internal to the local backend (local.c: starts, stops,
 * usage, files, readiness; local_recover.c: what a previous run left). */
#ifndef BH_LOCAL_INT_H
#define BH_LOCAL_INT_H

#include <sys/types.h>

#include "backend/local/cgroup.h"
#include "backend/local/local.h"
#include "backend/local/sandbox.h"
#include "backend/local/userns.h"
#include "lib/workers.h"

struct local {
    struct bh_backend base; /* first */
    const struct bh_config *cfg;
    bh_loop_t *loop;
    bh_workers_t *workers;
    struct bh_sandbox_env env;
    struct bh_net_config net;
    struct bh_userns_config userns;
    char *runtime_root;
    char *bundles_dir;
    char *image_dir;
    char *sessions_dir;       /* <run>/sessions/<id>: the channel's FIFOs, the settings */
    const char *etc_copy[16]; /* what the kinds need in /etc */
    const struct bh_kind_file *etc_files[16];
    struct lsess *list;
};

/* One session the backend watches. */
struct lsess {
    struct lsess *next;
    struct local *lb;
    char id[40];
    pid_t pid;         /* the container's init: our child, as we are a subreaper */
    uint32_t uid_base; /* first host id of its user namespace */
    uint32_t uid;      /* its process's uid inside */
    const struct bh_backend_events *ev;
    void *arg;
    bh_watch_t *exit_w;
    bh_watch_t *log_w;
    bh_cgroup_t *cg; /* its cgroups, resolved once */
};

/* local.c */
struct lsess *local_find(struct local *lb, const char *id);
/* A session to watch (its events go to ev with arg), listed in lb. */
struct lsess *local_lsess_new(struct local *lb, const char *id, const struct bh_backend_events *ev,
                              void *arg);
void local_lsess_free(struct lsess *l);
/* <run>/sessions/<id>. Caller frees. */
char *local_session_dir(const struct local *lb, const char *id);
/* Collect the exit of a container's init (waits up to 5 s). Any thread. */
void local_reap_init(pid_t pid);
/* Watch the exit of l's init through a pidfd. 0, or -1 and err. */
int local_watch_exit(struct lsess *l, bh_err_t *err);
/* Everything of session id: its processes (pid: its init, or 0),
 * container, run dir, network and uid range; the first failure in err
 * (may be NULL). Worker or recovery. */
void local_remove_all(struct local *lb, const char *id, pid_t pid, bh_err_t *err);

/* local_recover.c: the backend's recovery operations (backend.h) */
char *local_load_settings(bh_backend_t *b, const char *id, bh_err_t *err);
int local_adopt(bh_backend_t *b, const char *id, const struct bh_placement *where,
                const struct bh_net_policy *policy, const struct bh_backend_events *ev, void *arg,
                struct bh_started *out, int *crashed, bh_err_t *err);
void local_reap(bh_backend_t *b, const char *id);
int local_sweep(bh_backend_t *b, int (*held)(void *arg, const char *id),
                int (*ours)(void *arg, const char *id), void *arg, bh_err_t *err);

#endif
