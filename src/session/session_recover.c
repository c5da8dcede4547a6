/* session_recover.c — what a previous run left, reconciled before serving
 * (bh_sessions_recover): live rows adopted (their browser re-attached) or
 * ended, and containers, network namespaces and uid ranges that no live
 * session holds removed. */
#include "session/session_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/log.h"

static void release_net(struct bh_sessions *m, const char *id)
{
    bh_err_t err = BH_ERR_INIT;
    if (bh_net_session_teardown(&m->net, id, &err) < 0)
        bh_log(BH_LOG_ERROR, id, "recovery: network: %s", bh_err_msg(&err));
    bh_err_clear(&err);
}

static void release_uid_range(struct bh_sessions *m, const char *id)
{
    bh_err_t err = BH_ERR_INIT;
    if (bh_userns_release(&m->userns, id, &err) < 0)
        bh_log(BH_LOG_ERROR, id, "recovery: uid range: %s", bh_err_msg(&err));
    bh_err_clear(&err);
}

/* Everything of session id: its sandbox, network, uid range and run dir. */
static void reap(struct bh_sessions *m, const char *id)
{
    bh_err_t err = BH_ERR_INIT;
    char cid[80];
    snprintf(cid, sizeof cid, "bh-%s", id);
    if (bh_sandbox_destroy(&m->env, cid, &err) < 0) {
        bh_log(BH_LOG_ERROR, id, "recovery: sandbox: %s", bh_err_msg(&err));
        bh_err_clear(&err);
    }
    release_net(m, id);
    release_uid_range(m, id);
    cleanup_free char *dir = session_dir(m, id);
    bh_rm_rf(dir, NULL);
}

static int list_containers(struct bh_sessions *m, char ***ids, bh_err_t *err)
{
    return bh_sandbox_list(&m->env, ids, err);
}

static int list_netns(struct bh_sessions *m, char ***ids, bh_err_t *err)
{
    (void)m;
    return bh_net_list(ids, err);
}

static int list_uid_ranges(struct bh_sessions *m, char ***ids, bh_err_t *err)
{
    return bh_userns_list(&m->userns, ids, err);
}

/* Whether the store has a row of session id. */
static int row_known(struct bh_sessions *m, const char *id)
{
    struct bh_session_row row;
    memset(&row, 0, sizeof row);
    int known = bh_store_session_get(m->store, id, &row, NULL) > 0;
    bh_session_row_clear(&row);
    return known;
}

/* Leftovers of one kind that no live session holds: list() names them
 * (prefix, then the session id), release() removes one. With known_only,
 * only those of sessions the store knows (others are not ours). How many
 * were removed, or -1 and err. */
static int reap_unheld(struct bh_sessions *m,
                       int (*list)(struct bh_sessions *m, char ***ids, bh_err_t *err),
                       const char *prefix, int known_only,
                       void (*release)(struct bh_sessions *m, const char *id), bh_err_t *err)
{
    char **ids = NULL;
    int k = list(m, &ids, err);
    if (k < 0)
        return -1;
    size_t plen = strlen(prefix);
    int reaped = 0;
    for (int i = 0; i < k; i++) {
        const char *id = !strncmp(ids[i], prefix, plen) ? ids[i] + plen : NULL;
        if (id && !bh_session_find(m, id) && (!known_only || row_known(m, id))) {
            release(m, id);
            reaped++;
        }
        free(ids[i]);
    }
    free(ids);
    return reaped;
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

/* Re-attach to a session a previous run left running (its row r is taken
 * over on success): re-open its CDP FIFOs, re-apply its egress policy (the
 * daemon's start rebuilt the firewall tables without it, so until now its
 * packets were dropped), then drive it to READY like a start. On failure
 * returns -1 with *reason and err saying why; nothing is changed. */
static int adopt(struct bh_sessions *m, struct bh_session_row *r, const char **reason,
                 bh_err_t *err)
{
    *reason = "shutdown";
    if (r->expires_at && r->expires_at <= bh_now_ms()) {
        *reason = "ttl";
        return bh_err_set(err, 0, "its ttl ran out while the daemon was down");
    }
    if (!is_session_init(r->pid, r->id)) {
        *reason = "crashed";
        return bh_err_set(err, 0, "its browser (pid %d) exited while the daemon was down", r->pid);
    }
    cleanup_free char *dir = session_dir(m, r->id);
    cleanup_free char *in = bh_xasprintf("%s/in", dir);
    cleanup_free char *out = bh_xasprintf("%s/out", dir);
    cleanup_free char *settings_path = bh_xasprintf("%s/adopt.json", dir);
    size_t len = 0;
    cleanup_free char *settings = bh_read_file(settings_path, &len, err);
    if (!settings)
        return -1;
    struct bh_create_opts opts;
    struct bh_invalid why;
    if (bh_validate_create(settings, len, m->cfg, &opts, &why) < 0)
        return bh_err_set(err, EINVAL, "%s: %s", settings_path, why.msg);
    /* a reader of "in" is the browser: ENXIO if it no longer holds it */
    cleanup_close int fd_in = open(in, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    cleanup_close int fd_out = open(out, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd_in < 0 || fd_out < 0) {
        if (errno == ENXIO)
            *reason = "crashed";
        bh_err_set(err, errno, "open its CDP FIFOs");
        bh_create_opts_clear(&opts);
        return -1;
    }
    /* What the browser wrote for the previous daemon is of no use; a
     * message that daemon left half-written is ended by a NUL (the browser
     * answers the garbage with an error, which nobody waits for). */
    char buf[65536];
    while (read(fd_out, buf, sizeof buf) > 0)
        ;
    if (write(fd_in, "", 1) != 1) {
        bh_err_set(err, errno, "write to its CDP FIFO");
        bh_create_opts_clear(&opts);
        return -1;
    }
    /* It keeps its uid range: the lease survived the restart (in /run);
     * should it be gone, it is taken again, unless another session has it. */
    if (r->uid_base && bh_userns_claim(&m->userns, r->id, r->uid_base, err) < 0) {
        bh_create_opts_clear(&opts);
        return -1;
    }
    struct bh_session *s = session_new(m);
    session_take_policy(s, &opts);
    bh_create_opts_clear(&opts);
    struct bh_net_policy policy = {.mode = s->net_mode, .allow = s->allow, .nallow = s->nallow};
    if (bh_net_session_policy(&m->net, r->id, &policy, err) < 0) {
        session_free(s);
        return -1;
    }
    int pfd = (int)syscall(SYS_pidfd_open, r->pid, 0);
    if (pfd < 0) {
        bh_err_set(err, errno, "pidfd_open %d", r->pid);
        session_free(s);
        return -1;
    }
    s->row = *r;
    memset(r, 0, sizeof *r); /* its heap fields are the session's now */
    s->state = S_STARTING;
    s->adopting = 1;
    s->t_start = s->t_queued = bh_mono_ms();
    s->cdp = bh_cdp_new(m->loop, fd_in, fd_out, session_on_cdp_event, session_on_cdp_closed, s);
    fd_in = fd_out = -1; /* the cdp's now */
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
        rnd = (uint32_t)bh_mono_ms();
    bh_cdp_first_id(s->cdp, (1L << 30) + (long)(rnd % (1u << 29)));
    s->exit_w = bh_watch_add(m->loop, pfd, session_on_exit, s);
    bh_timer_set(s->start_timer, m->cfg->start_timeout_ms);
    session_browser_begin(s);
    return 0;
}

/* The row of a session that could not be adopted, or was not to be: its
 * sandbox and network removed, the row ended with reason and detail. */
static int end_row(struct bh_sessions *m, struct bh_session_row *r, const char *reason,
                   const char *detail, bh_err_t *err)
{
    reap(m, r->id);
    snprintf(r->status, sizeof r->status, "ended");
    snprintf(r->end_reason, sizeof r->end_reason, "%s", reason);
    free(r->end_detail);
    r->end_detail = bh_xstrdup(detail);
    r->ended_at = bh_now_ms();
    if (bh_store_session_update(m->store, r, err) < 0)
        return -1;
    json_t *d = json_pack("{s:s, s:s}", "reason", reason, "detail", detail);
    char *text = bh_json_dump(d);
    json_decref(d);
    bh_store_event_add(m->store, r->id, "ended", text, NULL);
    free(text);
    bh_metrics_session_ended(&m->metrics, reason);
    return 0;
}

int bh_sessions_recover(bh_sessions_t *m, bh_err_t *err)
{
    struct bh_session_row *rows = NULL;
    int n = bh_store_session_list(m->store, NULL, &rows, err);
    if (n < 0)
        return -1;
    int reaped = 0, adopted = 0;
    for (int i = 0; i < n; i++) {
        struct bh_session_row *r = &rows[i];
        if (!strcmp(r->status, "ended"))
            continue;
        const char *reason = "shutdown";
        char *detail = NULL;
        if (m->cfg->adopt_on_restart && !strcmp(r->status, "ready")) {
            bh_err_t e = BH_ERR_INIT;
            if (adopt(m, r, &reason, &e) == 0) {
                adopted++;
                continue;
            }
            detail = bh_xasprintf("not adopted after a daemon restart: %s", bh_err_msg(&e));
            bh_log(BH_LOG_WARN, r->id, "recovery: %s", detail);
            bh_err_clear(&e);
        } else {
            detail = bh_xstrdup(m->cfg->adopt_on_restart
                                    ? "the daemon restarted while the session was starting"
                                    : "the daemon restarted while the session was live");
        }
        int rc = end_row(m, r, reason, detail, err);
        free(detail);
        if (rc < 0) {
            bh_store_rows_free(rows, n);
            return -1;
        }
        reaped++;
    }
    bh_store_rows_free(rows, n);
    /* containers under our runtime root that no row knows */
    int k = reap_unheld(m, list_containers, "bh-", 0, reap, err);
    if (k < 0)
        return -1;
    reaped += k;
    /* namespaces and address leases of sessions of ours whose container
     * was already gone (a crash between the steps of a create or a delete) */
    k = reap_unheld(m, list_netns, "", 1, release_net, err);
    if (k < 0)
        return -1;
    reaped += k;
    /* uid ranges of sessions of ours that are not live (a crash between the
     * steps of a create or a delete) */
    k = reap_unheld(m, list_uid_ranges, "", 1, release_uid_range, err);
    if (k < 0)
        return -1;
    reaped += k;
    if (reaped)
        bh_log(BH_LOG_INFO, NULL, "recovery: removed %d leftover(s) of a previous run", reaped);
    if (adopted)
        bh_log(BH_LOG_INFO, NULL, "recovery: adopting %d session(s) of a previous run", adopted);
    return 0;
}
