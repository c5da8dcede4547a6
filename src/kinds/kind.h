/* kind.h — what a session is for: the interface every session kind
 * implements, a table of operations (struct bh_kind), and what a kind may
 * ask of its session in return.
 *
 * The session modules (session/) own what every session has: its row,
 * states, timers, capacity, ending and recovery. They know a kind only
 * through this table: they never name what runs inside (a browser, a
 * shell) nor how to talk to it. A kind owns:
 *   - its part of the create body (validate, its JSON, its saved settings);
 *   - the process the sandbox runs (argv, env, user);
 *   - the channel to that process after the start, up to `ready';
 *   - the routes it serves under /api/v1/sessions/{id}/ (WebSockets too);
 *   - its clients, and the counters /metrics shows of them.
 * The browser (kinds/browser/) is the first kind. kinds.c lists them.
 *
 * Everything here runs on the loop thread. A kind's per-session state is
 * opaque to the session (void *k); the kind keeps a bh_session_t * and
 * the session's table of services (struct bh_session_ops) to reach it. */
#ifndef BH_KIND_H
#define BH_KIND_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "lib/check.h"
#include "config/config.h"
#include "lib/err.h"
#include "lib/json.h"
#include "lib/loop.h"
#include "lib/scope.h"
#include "store/store.h"

typedef struct bh_session bh_session_t;
struct bh_config;
struct bh_session_ops;

/* The process a kind asks the sandbox to run. */
struct bh_process {
    const char *const *argv;  /* NULL-terminated; argv[0] a path inside the sandbox */
    const char *const *env;   /* NULL-terminated */
    uint32_t uid, gid;        /* inside the sandbox; never 0 */
    int channel;              /* 1: a message channel to it, its fds 3 (in) and 4 (out) */
    uint64_t workspace_bytes; /* > 0: a writable workspace of this size at /home/user,
                               * owned by uid (counted in the memory limit) */
};

enum bh_session_state { BH_STATE_STARTING, BH_STATE_READY, BH_STATE_ENDING };

/* What the API hands a route's handler. */
struct bh_route_call {
    const char *rest;       /* the path after a prefix route's path ("" for exact routes) */
    int input;              /* 0: the caller may only watch (a "view" link) */
    const char *token;      /* the ?token= the caller came with, or NULL */
    const char *public_url; /* the daemon's public base URL (http[s]://host:port) */
    /* Reply with an error: its kind becomes the status (the API's mapping);
     * code names internal errors and conflicts. */
    void (*error)(bh_req_t *req, const bh_err_t *err, const char *code);
};

/* A route a kind serves under /api/v1/sessions/{id}/. The API checks
 * credentials, ownership and scopes before it calls serve(), and answers
 * 404/409 itself when the session is not live or of another kind. */
struct bh_kind_route {
    const char *method; /* "GET", "PUT", ... or "WS" for a WebSocket upgrade */
    const char *path;   /* "/screenshot"; a prefix when it ends with '/' ("/files/") */
    unsigned scopes;    /* BH_SCOPE_* bits of the links that open it (also as ?token=);
                         * 0: only API tokens, in the Authorization header */
    void (*serve)(void *k, bh_req_t *req, const struct bh_route_call *call);
    /* 1: a PUT or POST with a body is served at once and reads its body
     * itself (bh_req_read_body), with no size cap of the HTTP front */
    int stream_body;
};

/* A counter or gauge a kind adds to /metrics (summed over its sessions). */
struct bh_kind_metric {
    const char *name; /* "bulkhead_..." */
    const char *help;
    int counter; /* 1: a counter (kept across ended sessions), 0: a gauge */
};

#define BH_KIND_METRICS_MAX 8

/* A file a kind puts into every session's /etc (path under /etc). wipe:
 * a directory under /etc emptied first (so nothing of the host's copy of
 * it is left), or NULL. */
struct bh_kind_file {
    const char *wipe;
    const char *path;
    const char *content;
};

struct bh_kind {
    const char *name; /* the create body's "type" */
    /* The create body's keys the kind takes (NULL-terminated); the rest
     * are the common ones of api/validate.c. */
    const char *const *fields;
    /* Check the kind's fields of a create body (body is the whole object):
     * 0 and *opts (the kind's, heap; freed by free_opts or taken by new),
     * or -1 and why. Pure. */
    int (*validate)(json_t *body, const struct bh_config *cfg, void **opts, struct bh_invalid *why);
    void (*free_opts)(void *opts);
    /* The longest ttl its validated opts allow (seconds; 0: no bound of
     * its own, e.g. a lab's time limit). May be NULL. */
    int (*ttl_limit)(const void *opts);
    /* The "network" its validated opts bring for a body that names none
     * (a lab's; borrowed from opts), or NULL. May be NULL. */
    json_t *(*network)(const void *opts);
    /* A new session's state from validated opts (taken over; NULL: from
     * its saved settings, for adoption, see save). It fills the row's
     * fields it owns (url, viewport). */
    void *(*create)(bh_session_t *s, const struct bh_session_ops *ops, void *opts,
                    struct bh_session_row *row);
    /* The settings a later run needs to adopt the session: added to o,
     * which is then a create body (validate reads them back). */
    void (*save)(void *k, json_t *o);
    /* The process to run for it. p's strings live until process_free. */
    void (*process)(void *k, const struct bh_config *cfg, struct bh_process *p);
    void (*process_free)(void *k, struct bh_process *p);
    /* The process runs: drive it to ready over its channel (fds taken
     * over: ours to write to it, ours to read from it; -1 without one) and
     * call bh_session_kind_ready(), or bh_session_kind_failed(). adopted:
     * a previous run's session that already got that far once. */
    void (*attach)(void *k, int chan_in, int chan_out, int adopted);
    /* The session is ready: clients are accepted from now on. Once per
     * session (a pooled one's claim does not call it again). */
    void (*ready)(void *k);
    /* The warm pool (--pool). Both NULL: the kind's sessions are never
     * pooled. A pooled session was started ahead from an empty create body
     * and is ready, and no one has used it. pool_fits: whether it serves a
     * create with validated opts exactly as a cold start would (NULL opts
     * never fit). pool_claim: it does (opts taken over): the kind fills
     * the row's fields it owns, as create() does, and brings the session to
     * ready again (kind_ready, or kind_failed), e.g. by loading the first
     * page. */
    int (*pool_fits)(const void *k, const void *opts);
    void (*pool_claim)(void *k, void *opts, struct bh_session_row *row);
    /* Its fields of the session's "ready" event (e.g. the page's title and
     * error) added to d. */
    void (*ready_event)(void *k, json_t *d);
    /* Drop everything on the loop's side: clients closed with code and why,
     * the channel, operations in flight (failed). The sandbox is left. */
    void (*detach)(void *k, int code, const char *why);
    void (*destroy)(void *k);
    /* The process exited or closed its channel: the end reason and detail
     * the kind gives it when its clients asked for that (e.g. a program
     * closed the browser), or NULL. The member may be NULL: never. */
    const char *(*ended_by_client)(void *k, const char **detail);
    /* Lines of the process's output that say nothing (left out of error
     * details). May be NULL: none. */
    int (*log_noise)(const char *line);
    /* 1 while a client that keeps it alive without input is connected
     * (the idle timeout waits). May be NULL: never. */
    int (*watched)(void *k);
    /* Bring what the session JSON shows of it up to date (at most ~1 s),
     * then cb; at once if there is nothing to do. May be NULL: nothing. */
    void (*refresh)(void *k, void (*cb)(void *arg), void *arg);
    /* Its fields of the session's JSON, added to o: k is NULL for a session
     * that is not live (only the row is known). */
    void (*json)(void *k, const struct bh_session_row *row, const char *public_url, json_t *o);
    /* The scopes a link needs to open each of the JSON's urls (key). */
    unsigned (*url_scopes)(const char *key);
    const struct bh_kind_route *routes; /* ends with a NULL method */
    /* What its process needs in a session's /etc: entries of the host's
     * /etc copied when present (NULL-terminated), and files of its own
     * (ending with a NULL path). Either may be NULL. */
    const char *const *etc_copy;
    const struct bh_kind_file *etc_files;
    /* Its metrics and the session's current values of them. */
    const struct bh_kind_metric *metrics;
    int nmetrics;
    void (*metric_values)(void *k, unsigned long long *v);
};

/* ------------------------------------------------- what a kind may call */

/* What a session offers its kind: the table the kind gets at create(),
 * so that a kind needs no more of the session modules than this header. */
struct bh_session_ops {
    /* The session's row (borrowed), its loop, the daemon's settings. */
    const struct bh_session_row *(*info)(const bh_session_t *s);
    bh_loop_t *(*loop)(const bh_session_t *s);
    const struct bh_config *(*config)(const bh_session_t *s);
    enum bh_session_state (*state)(const bh_session_t *s);
    /* The upstream proxy every request of the session goes through
     * (network.proxy), or NULL. */
    const char *(*proxy)(const bh_session_t *s);
    /* Add an event to the session's log (detail taken over, may be NULL). */
    void (*event)(bh_session_t *s, const char *type, json_t *detail);
    /* Mark a start phase's end: the time since the previous phase's end
     * goes into the ready event's timingsMs under name (static). */
    void (*phase)(bh_session_t *s, const char *name);
    /* The process is up, though not ready: its start slot goes to the
     * next session and the start timeout stops (the kind bounds the rest,
     * e.g. the first page's load). */
    void (*kind_up)(bh_session_t *s);
    /* The process answered: STARTING → READY. Nothing if not STARTING. */
    void (*kind_ready)(bh_session_t *s);
    /* Give up on the session: reason ("error", "crashed", "closed") and
     * detail; the first end asked for sticks. */
    void (*kind_failed)(bh_session_t *s, const char *reason, const char *detail);
    /* The kind's channel to the process closed: the session ends once the
     * process's exit says why (or after a short grace). */
    void (*channel_closed)(bh_session_t *s);
    /* A client acted on the session: the idle clock starts again. */
    void (*touch)(bh_session_t *s);
    /* The last lines the process printed (its noise left out). Caller
     * frees. */
    char *(*log_tail)(bh_session_t *s);
    /* How many times the OOM killer acted in its sandbox (-1: unknown). */
    long long (*oom_kills)(bh_session_t *s);
    /* Put a file into the running sandbox at dir/name (name: one path
     * component), as the sandbox's user. 0, or -1 and err. */
    int (*put_file)(bh_session_t *s, const char *dir, const char *name, const void *data,
                    size_t len, bh_err_t *err);
};

#endif
