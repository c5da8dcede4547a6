/* cmd_serve.c — `bulkhead serve`: the daemon. Its flags into a config
 * (serve_flags.c), then it prepares the state dir and token, recovers what a previous run left,
 * then runs the one event loop until SIGTERM/SIGINT, ending every session first. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "kinds/browser/cdp_proxy.h"
#include "cli/cmd.h"
#include "cli/serve_flags.h"
#include "config/config.h"
#include "http/http.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "backend/local/local.h"
#include "backend/local/sandbox.h"
#include "session/session.h"
#include "store/store.h"
#include "backend/local/userns.h"
#include "lib/util.h"

struct serve {
    struct bh_config cfg;
    bh_loop_t *loop;
    bh_http_t *http;
    bh_store_t *store;
    bh_sessions_t *sessions;
    bh_api_t *api;
    int stopping;
};

/* The operator's admin token: flag, then $BULKHEAD_TOKEN, then DIR/token,
 * else a new one written there (0600). The file always holds the token in
 * force: it is the operator's credential file (like a kubeconfig), which the
 * CLI reads. The daemon keeps only the token's SHA-256: the plaintext is
 * wiped once hashed, and taken out of the environment its children inherit. */
static int setup_token(struct bh_config *c, bh_err_t *err)
{
    cleanup_free char *path = bh_xasprintf("%s/token", c->state_dir);
    if (!c->token && getenv("BULKHEAD_TOKEN") && *getenv("BULKHEAD_TOKEN"))
        c->token = bh_xstrdup(getenv("BULKHEAD_TOKEN"));
    unsetenv("BULKHEAD_TOKEN");
    if (!c->token) {
        char *t = bh_read_file(path, NULL, NULL);
        if (t) {
            t[strcspn(t, "\r\n")] = 0;
            if (strlen(t) >= 16)
                c->token = t;
            else
                bh_secret_free(t);
        }
    }
    if (!c->token) {
        char hex[65];
        if (bh_random_hex(hex, 32, err) < 0)
            return -1;
        c->token = bh_xstrdup(hex);
    }
    if (strlen(c->token) < 16)
        return bh_err_set(err, 0, "the API token must be at least 16 characters");
    char *line = bh_xasprintf("%s\n", c->token);
    int rc = bh_write_file(path, line, strlen(line), 0600, err);
    bh_secret_free(line);
    bh_sha256_hex(c->token, strlen(c->token), c->admin_hash);
    bh_secret_free(c->token);
    c->token = NULL;
    return rc;
}

/* Hex text of exactly 2*n digits into out[n]: 0, or -1. */
static int parse_hex(const char *t, unsigned char *out, size_t n)
{
    if (strlen(t) != 2 * n || strspn(t, "0123456789abcdef") != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        sscanf(t + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
    return 0;
}

/* The key that signs the session tokens in session urls: DIR/secret (0600,
 * 32 random bytes as hex), made at first start and kept, so that links
 * survive a restart. */
static int setup_secret(struct bh_config *c, bh_err_t *err)
{
    cleanup_free char *path = bh_xasprintf("%s/secret", c->state_dir);
    char *t = bh_read_file(path, NULL, NULL);
    if (t) {
        t[strcspn(t, "\r\n")] = 0;
        int rc = parse_hex(t, c->secret, sizeof c->secret);
        bh_secret_free(t);
        if (rc < 0)
            return bh_err_set(err, 0,
                              "%s is not 64 hex digits (remove it to make a new one; "
                              "session links given out before stop working)",
                              path);
        return 0;
    }
    char hex[2 * sizeof c->secret + 2];
    if (bh_random_hex(hex, sizeof c->secret, err) < 0)
        return -1;
    parse_hex(hex, c->secret, sizeof c->secret);
    strcat(hex, "\n");
    int rc = bh_write_file(path, hex, strlen(hex), 0600, err);
    memset(hex, 0, sizeof hex);
    return rc;
}

/* Descriptors the daemon keeps for itself (database, signals, netlink,
 * the runtime's pipes, the library's own) and for each session (CDP FIFOs,
 * log pipe, pidfd, ...; measured: see docs/operations.md), out of
 * RLIMIT_NOFILE; the rest may be client connections. */
#define FDS_BASE 64
#define FDS_PER_SESSION 8

/* The default --max-connections: what RLIMIT_NOFILE leaves after the
 * daemon's and its sessions' own descriptors, at least 16. */
static int derived_max_conns(const struct bh_config *c, long *nofile)
{
    struct rlimit rl;
    *nofile = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long)rl.rlim_cur
                                                                                 : 1048576;
    long n = *nofile - FDS_BASE - (long)FDS_PER_SESSION * c->max_sessions;
    if (n > 1000000)
        n = 1000000;
    return n < 16 ? 16 : (int)n;
}

static void shutdown_done(void *arg)
{
    struct serve *sv = arg;
    bh_loop_stop(sv->loop);
}

static void on_signal(void *arg, bh_watch_t *w, int events)
{
    struct serve *sv = arg;
    if (events & BH_WATCH_HUP)
        return;
    struct signalfd_siginfo si;
    while (read(bh_watch_fd(w), &si, sizeof si) == sizeof si) {
        if (sv->stopping) {
            bh_log(BH_LOG_WARN, NULL, "second signal: still ending %d session(s)",
                   bh_sessions_live(sv->sessions));
            continue;
        }
        sv->stopping = 1;
        bh_log(BH_LOG_INFO, NULL, "signal %u: %s %d session(s) and stopping", si.ssi_signo,
               sv->cfg.leave_on_shutdown ? "leaving running" : "ending",
               bh_sessions_live(sv->sessions));
        bh_sessions_shutdown(sv->sessions, shutdown_done, sv);
    }
}

int bh_cmd_serve(int argc, char **argv)
{
    struct serve sv;
    memset(&sv, 0, sizeof sv);
    bh_config_defaults(&sv.cfg);
    struct bh_config *c = &sv.cfg;
    int rc = bh_serve_flags(c, argc, argv);
    if (rc != 0) {
        bh_config_free(c);
        return rc > 0 ? BH_EXIT_OK : BH_EXIT_USAGE;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "bulkhead serve: must run as root (it creates containers, namespaces "
                        "and firewall rules)\n");
        bh_config_free(c);
        return BH_EXIT_FAIL;
    }
    if (!c->public_url)
        c->public_url = strchr(c->listen_host, ':')
                            ? bh_xasprintf("http://[%s]:%d", c->listen_host, c->port)
                            : bh_xasprintf("http://%s:%d", c->listen_host, c->port);

    /* Signals are read from a signalfd on the loop; block them in every
     * thread (the workers inherit this mask; children get a clean one). */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Containers' init processes are re-parented to us when the runtime
     * detaches, so we can collect them (session.c reaps each one). */
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    bh_err_t err = BH_ERR_INIT;
    int status = BH_EXIT_FAIL;
    char *db = NULL, *urlfile = NULL, *urlline = NULL;
    umask(022);
    /* The state dir is search-only for others (0711): the sessions' mapped
     * ids must reach DIR/image (the rootfs and /etc they mount); everything
     * else in it is 0600 or 0700. */
    if (bh_mkdir_p(c->state_dir, 0700, &err) < 0 || chmod(c->state_dir, 0711) < 0 ||
        bh_mkdir_p(c->run_dir, 0700, &err) < 0 || (!c->no_auth && setup_token(c, &err) < 0) ||
        setup_secret(c, &err) < 0)
        goto out;
    if (bh_userns_check(&(struct bh_userns_config){c->userns_first, c->userns_ranges, NULL}, NULL,
                        &err) < 0)
        goto out;
    if (c->userns_ranges < (uint32_t)c->max_sessions) {
        bh_err_set(&err, EINVAL, "--userns-ranges %u is below --max-sessions %d", c->userns_ranges,
                   c->max_sessions);
        goto out;
    }
    db = bh_xasprintf("%s/bulkhead.db", c->state_dir);
    umask(077); /* the database and its WAL: 0600 */
    sv.store = bh_store_open(db, &err);
    umask(022);
    if (!sv.store)
        goto out;
    static const char *const db_files[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) { /* made 0644 by an earlier version */
        cleanup_free char *f = bh_xasprintf("%s%s", db, db_files[i]);
        if (chmod(f, 0600) < 0 && errno != ENOENT) {
            bh_err_set(&err, errno, "chmod %s", f);
            goto out;
        }
    }
    if (bh_runtime_usable(c->runtime, &err) < 0) {
        bh_err_wrap(&err, "runtime %s", bh_runtime_name(c->runtime));
        goto out;
    }
    struct bh_http_handlers h = {
        .request = bh_api_request, .upgrade = bh_api_upgrade, .streams = bh_api_streams};
    long nofile = 0;
    int derived = derived_max_conns(c, &nofile);
    if (!c->max_conns) {
        c->max_conns = derived;
        if (nofile < FDS_BASE + 2L * FDS_PER_SESSION * c->max_sessions)
            bh_log(BH_LOG_WARN, NULL,
                   "RLIMIT_NOFILE is %ld: room for %d client connection(s) next to %d sessions; "
                   "raise it (e.g. LimitNOFILE=) for more",
                   nofile, c->max_conns, c->max_sessions);
    } else if (c->max_conns > derived) {
        bh_log(BH_LOG_WARN, NULL,
               "--max-connections %d leaves too few of RLIMIT_NOFILE (%ld) to %d sessions; "
               "at the limit, connections are refused",
               c->max_conns, nofile, c->max_sessions);
    }
    struct bh_http_config hc = {.host = c->listen_host,
                                .port = c->port,
                                .max_body = 65536,
                                .max_put_body = BH_UPLOAD_MAX,
                                .header_timeout = c->header_timeout,
                                .body_timeout = c->body_timeout,
                                .max_conns = c->max_conns,
                                .max_conns_per_addr = c->max_conns_per_addr};
    sv.api = NULL;
    /* the api needs the sessions, which need the loop: create the server
     * with a placeholder context and set it before the loop runs */
    struct bh_loop_config lc = {.io_timeout = c->body_timeout};
    if (!(sv.loop = bh_loop_new(&lc, &err)))
        goto out;
    if (!(sv.http = bh_http_new(sv.loop, &hc, &h, NULL, &err)))
        goto out;
    bh_backend_t *backend = bh_backend_local_new(c, sv.loop, &err);
    if (!backend)
        goto out;
    if (!(sv.sessions = bh_sessions_new(c, sv.loop, sv.store, backend, &err))) {
        backend->ops->free(backend);
        goto out;
    }
    if (bh_sessions_recover(sv.sessions, &err) < 0) {
        bh_err_wrap(&err, "recovery");
        goto out;
    }
    if (!(sv.api = bh_api_new(c, sv.sessions, sv.store, &err)))
        goto out;
    bh_http_set_context(sv.http, sv.api);

    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0 || !bh_watch_add(sv.loop, sfd, on_signal, &sv)) {
        bh_err_set(&err, errno, "signalfd");
        goto out;
    }
    urlfile = bh_xasprintf("%s/url", c->state_dir);
    urlline = bh_xasprintf("%s\n", c->public_url);
    if (bh_write_file(urlfile, urlline, strlen(urlline), 0644, &err) < 0)
        goto out;

    bh_log(BH_LOG_INFO, NULL, "listening on %s (runtime %s, state %s)", c->public_url,
           bh_runtime_name(c->runtime), c->state_dir);
    /* the token itself is never printed or logged: it is in the file */
    if (c->no_auth)
        printf("bulkhead %s listening on %s\n"
               "  NO AUTH (--no-auth): every request is admin; loopback only\n",
               BH_VERSION, c->public_url);
    else
        printf("bulkhead %s listening on %s\n"
               "  admin API token: in %s/token (0600; the CLI reads it from there)\n",
               BH_VERSION, c->public_url, c->state_dir);
    fflush(stdout);

    if (bh_loop_run(sv.loop) < 0) {
        bh_err_set(&err, 0, "event loop failed");
        goto out;
    }
    status = BH_EXIT_OK;
    bh_log(BH_LOG_INFO, NULL, "stopped");
out:
    if (err.msg) {
        bh_log(BH_LOG_ERROR, NULL, "%s", bh_err_msg(&err));
        fprintf(stderr, "bulkhead serve: %s\n", bh_err_msg(&err));
    }
    bh_err_clear(&err);
    /* the bridge and firewall tables stay while sessions were left running */
    if (sv.sessions && status == BH_EXIT_OK && bh_sessions_live(sv.sessions) == 0 &&
        bh_sessions_left(sv.sessions) == 0) {
        struct bh_net_config nc = {.bridge = c->bridge, .subnet = c->subnet, .dns = c->dns};
        bh_err_t e2 = BH_ERR_INIT;
        if (bh_net_fini(&nc, &e2) < 0)
            bh_log(BH_LOG_WARN, NULL, "network cleanup: %s", bh_err_msg(&e2));
        bh_err_clear(&e2);
    }
    bh_sessions_free(sv.sessions);
    bh_api_free(sv.api);
    bh_http_free(sv.http);
    bh_loop_free(sv.loop);
    bh_store_close(sv.store);
    bh_config_free(c);
    free(db);
    free(urlfile);
    free(urlline);
    return status;
}
