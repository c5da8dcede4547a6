/* backend.h — where a session's process runs: the interface every sandbox
 * backend implements, a table of operations (struct bh_backend_ops).
 *
 * The session modules (session/) know a backend only through this table:
 * they never name the runtime, process ids, cgroup files or host paths
 * behind it. A backend owns the sandbox and everything it needs on the host
 * (the container, its network and egress policy, its user ids, the
 * channel's transport), its resource usage, what it can find of a previous
 * run, and whether it could start sessions now.
 *   - backend/local/ runs OCI containers with runc or crun on this host;
 *   - backend/fake/ runs nothing, for the session state machine's tests.
 *
 * Every operation is called on the loop thread, and none may block it for
 * long: an operation that takes time (start, stop) returns at once and
 * reports later, on the loop, through the callbacks it was given — never
 * before the operation has returned, even when it fails at once (the
 * local backend runs its blocking steps on the worker pool; a remote one
 * would make its HTTP calls from the loop). Only recovery (sweep, adopt)
 * runs before the daemon serves and may block. */
#ifndef BH_BACKEND_H
#define BH_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "kinds/kind.h"
#include "lib/err.h"
#include "lib/json.h"
#include "net/net.h"

typedef struct bh_backend bh_backend_t;

#define BH_START_PHASES_MAX 6

/* Where a started session lives, as kept in its row (so that a later run
 * finds it again): what the backend reports, the session stores. */
struct bh_placement {
    char runtime[16];      /* "runc", "crun", "fake" */
    char container_id[80]; /* the backend's name for it */
    int pid;               /* its first process as the host sees it (0: none) */
    char addr[64];         /* its network address */
    uint32_t uid_base;     /* first host uid of its user namespace (0: none) */
};

/* What one start asks for. */
struct bh_launch {
    const char *id;                     /* the session id */
    const struct bh_process *proc;      /* what to run (the kind's) */
    const struct bh_net_policy *policy; /* its egress */
    uint64_t memory_bytes;              /* limits */
    uint64_t pids_max;
    double cpus;
    const char *settings; /* what a later run needs to adopt it (JSON text);
                           * the backend keeps it with the sandbox */
};

/* How a start went, for started(): on success the placement, and the
 * loop's ends of the process's channel (to write to it, to read from it;
 * -1 without one), taken over by the receiver. */
struct bh_started {
    struct bh_placement where;
    int chan_in, chan_out;
    /* Where the start's time went, in order (names static, e.g. "bundle",
     * "network", "egress", "runtime"), for the ready event. */
    struct bh_phase {
        const char *name;
        int ms;
    } phases[BH_START_PHASES_MAX];
    int nphases;
};

/* The session's side, for one session (arg is the caller's). */
struct bh_backend_events {
    /* Exactly once per start (or adopt): st, or NULL and err (then
     * nothing of the session is left, the backend removed it). */
    void (*started)(void *arg, const struct bh_started *st, const bh_err_t *err);
    /* The process ended; what: how ("exited with status 1", "was killed
     * by signal 9 (Killed), out of memory (...)"). */
    void (*exited)(void *arg, const char *what);
    /* Some of what the process printed (stdout and stderr). */
    void (*output)(void *arg, const char *data, size_t len);
};

/* A session's resource usage; -1 where unknown. */
struct bh_usage {
    long long memory_bytes;
    long long cpu_usec;
    long long oom_kills;
    long long pids;
};

struct bh_backend_ops {
    const char *name;
    /* Start session l->id (l's contents are copied): ev->started follows,
     * then ev->exited and ev->output until forget() or stop(). */
    void (*start)(bh_backend_t *b, const struct bh_launch *l, const struct bh_backend_events *ev,
                  void *arg);
    /* No more events of session id; its sandbox is left as it is (the
     * daemon leaves it running for the next run to adopt). */
    void (*forget)(bh_backend_t *b, const char *id);
    /* Remove everything of session id (its processes, sandbox, network,
     * ids): done(arg, err) on the loop; err says what could not be removed.
     * Idempotent: what is already gone is success. No events after it. */
    void (*stop)(bh_backend_t *b, const char *id, void (*done)(void *arg, const bh_err_t *err),
                 void *arg);
    /* Its usage now: few small reads, fit for the loop. 0, or -1. */
    int (*usage)(bh_backend_t *b, const char *id, struct bh_usage *u);
    /* Put a file into session id's running sandbox at dir/name as its
     * user (name: one path component). 0, or -1 and err. */
    int (*put_file)(bh_backend_t *b, const char *id, const char *dir, const char *name,
                    const void *data, size_t len, bh_err_t *err);
    /* Recovery: the settings a session was started with (bh_launch's),
     * or NULL and err. Caller frees. */
    char *(*load_settings)(bh_backend_t *b, const char *id, bh_err_t *err);
    /* Recovery: re-attach to session where->... that a previous run left
     * running (policy re-applied, its channel re-opened, its exit watched).
     * 0 with *out (ev then reports exits), or -1, *crashed 1 when it is no
     * longer running, and err. Blocking, before serving. */
    int (*adopt)(bh_backend_t *b, const char *id, const struct bh_placement *where,
                 const struct bh_net_policy *policy, const struct bh_backend_events *ev, void *arg,
                 struct bh_started *out, int *crashed, bh_err_t *err);
    /* Recovery: remove what is left of sessions that held() says are not
     * live; ours() says whether an id is one of ours at all (leftovers
     * that may be another daemon's are only removed when it is). How many
     * were removed, or -1 and err. Blocking, before serving. */
    int (*sweep)(bh_backend_t *b, int (*held)(void *arg, const char *id),
                 int (*ours)(void *arg, const char *id), void *arg, bh_err_t *err);
    /* Recovery: remove everything of one session id (blocking). */
    void (*reap)(bh_backend_t *b, const char *id);
    /* Readiness checks (/readyz): name → "ok" or the problem, added to
     * checks; *ready set to 0 on a problem. Cheap: nothing is started. */
    void (*readiness)(bh_backend_t *b, json_t *checks, int *ready);
    /* 1 when the host is short of memory for a session started ahead of
     * need (the warm pool waits), else 0. Cheap. May be NULL: never. */
    int (*short_of_memory)(bh_backend_t *b);
    void (*free)(bh_backend_t *b);
};

/* Every backend's instance starts with this. */
struct bh_backend {
    const struct bh_backend_ops *ops;
};

#endif
