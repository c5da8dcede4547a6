/* local_recover.c — the local backend's recovery (backend.h): a previous
 * run's sessions re-attached (their process checked through /proc, their
 * FIFOs opened again, their egress policy re-applied), and what no live
 * session holds removed (containers, network namespaces, uid ranges). */
#include "backend/local/local_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

char *local_load_settings(bh_backend_t *b, const char *id, bh_err_t *err)
{
    cleanup_free char *dir = local_session_dir((struct local *)b, id);
    cleanup_free char *path = bh_xasprintf("%s/adopt.json", dir);
    return bh_read_file(path, NULL, err);
}

/* Whether pid is the init of session id's container: alive, and in the
 * session's cgroup (a recycled pid is not). */
static int is_session_init(pid_t pid, const char *id)
{
    if (pid <= 1)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    cleanup_free char *stat = bh_read_file(path, NULL, NULL);
    const char *st = stat ? strrchr(stat, ')') : NULL;
    if (!st || st[1] != ' ' || st[2] == 'Z' || st[2] == 'X')
        return 0; /* gone, or a zombie */
    snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
    cleanup_free char *cg = bh_read_file(path, NULL, NULL);
    cleanup_free char *want = bh_xasprintf("/bulkhead/%s\n", id);
    return cg && strstr(cg, want) != NULL;
}

int local_adopt(bh_backend_t *b, const char *id, const struct bh_placement *where,
                const struct bh_net_policy *policy, const struct bh_backend_events *ev, void *arg,
                struct bh_started *out, int *crashed, bh_err_t *err)
{
    struct local *lb = (struct local *)b;
    *crashed = 0;
    if (!is_session_init(where->pid, id)) {
        *crashed = 1;
        return bh_err_set(err, 0, "its process (pid %d) exited while the daemon was down",
                          where->pid);
    }
    cleanup_free char *dir = local_session_dir(lb, id);
    cleanup_free char *in = bh_xasprintf("%s/in", dir);
    cleanup_free char *outp = bh_xasprintf("%s/out", dir);
    /* a reader of "in" is the process: ENXIO if it no longer holds it */
    cleanup_close int fd_in = open(in, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    cleanup_close int fd_out = open(outp, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd_in < 0 || fd_out < 0) {
        if (errno == ENXIO)
            *crashed = 1;
        return bh_err_set(err, errno, "open its channel's FIFOs");
    }
    /* What the process wrote for the previous daemon is of no use. (What
     * that daemon left half-written to it is the kind's to deal with, in
     * its attach: the channel's format is the kind's.) */
    char buf[65536];
    while (read(fd_out, buf, sizeof buf) > 0)
        ;
    /* It keeps its uid range: the lease survived the restart (in /run);
     * should it be gone, it is taken again, unless another session has it. */
    if (where->uid_base && bh_userns_claim(&lb->userns, id, where->uid_base, err) < 0)
        return -1;
    /* the daemon's start rebuilt the firewall tables without its policy:
     * until now its packets were dropped */
    if (bh_net_session_policy(&lb->net, id, policy, err) < 0)
        return -1;
    struct lsess *l = local_lsess_new(lb, id, ev, arg);
    l->pid = where->pid;
    l->uid_base = where->uid_base;
    if (local_watch_exit(l, err) < 0) {
        local_lsess_free(l);
        return -1;
    }
    out->where = *where;
    out->chan_in = fd_in;
    out->chan_out = fd_out;
    fd_in = fd_out = -1; /* the caller's now */
    return 0;
}

void local_reap(bh_backend_t *b, const char *id)
{
    local_remove_all((struct local *)b, id, 0, NULL);
}

static void release_net(struct local *lb, const char *id)
{
    bh_err_t err = BH_ERR_INIT;
    if (bh_net_session_teardown(&lb->net, id, &err) < 0)
        bh_log(BH_LOG_ERROR, id, "recovery: network: %s", bh_err_msg(&err));
    bh_err_clear(&err);
}

static void release_uid_range(struct local *lb, const char *id)
{
    bh_err_t err = BH_ERR_INIT;
    if (bh_userns_release(&lb->userns, id, &err) < 0)
        bh_log(BH_LOG_ERROR, id, "recovery: uid range: %s", bh_err_msg(&err));
    bh_err_clear(&err);
}

static void reap_one(struct local *lb, const char *id) { local_remove_all(lb, id, 0, NULL); }

/* Leftovers of one sort, named by ids (prefix, then the session id), that
 * held() does not claim: release() removes one. With known_only, only
 * those ours() knows. How many were removed. */
static int sweep_ids(struct local *lb, char **ids, int k, const char *prefix, int known_only,
                     int (*held)(void *, const char *), int (*ours)(void *, const char *),
                     void *arg, void (*release)(struct local *lb, const char *id))
{
    size_t plen = strlen(prefix);
    int reaped = 0;
    for (int i = 0; i < k; i++) {
        const char *id = !strncmp(ids[i], prefix, plen) ? ids[i] + plen : NULL;
        if (id && !held(arg, id) && (!known_only || ours(arg, id))) {
            release(lb, id);
            reaped++;
        }
        free(ids[i]);
    }
    free(ids);
    return reaped;
}

int local_sweep(bh_backend_t *b, int (*held)(void *arg, const char *id),
                int (*ours)(void *arg, const char *id), void *arg, bh_err_t *err)
{
    struct local *lb = (struct local *)b;
    char **ids = NULL;
    int reaped = 0;
    /* containers under our runtime root that no live session holds */
    int k = bh_sandbox_list(&lb->env, &ids, err);
    if (k < 0)
        return -1;
    reaped += sweep_ids(lb, ids, k, "bh-", 0, held, ours, arg, reap_one);
    /* namespaces and address leases of sessions of ours whose container
     * was already gone (a crash between the steps of a create or a delete) */
    if ((k = bh_net_list(&ids, err)) < 0)
        return -1;
    reaped += sweep_ids(lb, ids, k, "", 1, held, ours, arg, release_net);
    /* uid ranges of sessions of ours that are not live */
    if ((k = bh_userns_list(&lb->userns, &ids, err)) < 0)
        return -1;
    reaped += sweep_ids(lb, ids, k, "", 1, held, ours, arg, release_uid_range);
    return reaped;
}
