/* cmd_serve.c — `bulkhead serve`: the daemon. Parses flags into a config,
 * prepares the state dir and token, recovers what a previous run left, then
 * runs the one event loop until SIGTERM/SIGINT, ending every session first. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
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
#include "config/config.h"
#include "http/http.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "net/net.h"
#include "backend/local/local.h"
#include "backend/local/sandbox.h"
#include "session/session.h"
#include "store/store.h"
#include "backend/local/userns.h"
#include "lib/util.h"

static const char usage[] =
    "usage: bulkhead serve [options]\n"
    "  --listen HOST:PORT   address to serve on (default 127.0.0.1:8420)\n"
    "  --public-url URL     base URL put in session urls (default http://LISTEN)\n"
    "  --state-dir DIR      database, token, bundles, image (default /var/lib/bulkhead)\n"
    "  --run-dir DIR        runtime state (default /run/bulkhead)\n"
    "  --runtime NAME       runc or crun (default runc)\n"
    "  --bridge NAME        host bridge for sessions (default bh0)\n"
    "  --subnet CIDR        session addresses (default 10.213.0.0/16)\n"
    "  --dns ADDR           resolver given to sessions (reachable whatever their policy)\n"
    "  --labs-dir DIR       the labs of shell sessions (docs/terminal.md#labs)\n"
    "  --browser PATH       the browser sessions run (default\n"
    "                       /usr/lib/chromium/chromium-headless-shell; the full browser\n"
    "                       is /usr/lib/chromium/chromium)\n"
    "  --egress-allow CIDR  always let sessions reach CIDR (repeatable; e.g. a proxy)\n"
    "  --egress-deny CIDR   never let sessions reach CIDR (repeatable; wins over allow)\n"
    "  --token TOKEN        the operator's admin API token (default: $BULKHEAD_TOKEN, else\n"
    "                       DIR/token, else a new one written there, 0600); the daemon\n"
    "                       keeps only its SHA-256. Visible in ps: prefer the others\n"
    "  --url-token-ttl S    lifetime of the session tokens in urls.cdp/live/view\n"
    "                       (default 3600; never past the session's own end)\n"
    "  --user-max-sessions N  live sessions a user token may have when it was created\n"
    "                       without maxSessions (default: no limit of its own)\n"
    "  --no-auth            no tokens: every request is admin. Only with a loopback\n"
    "                       --listen (127.0.0.0/8, ::1, localhost); for development\n"
    "  --max-sessions N     live sessions at most (default 50)\n"
    "  --pool N             keep N browser sessions started ahead, for creates that fit\n"
    "                       them; each serves one session (default 0; counted in\n"
    "                       --max-sessions; docs/operations.md#warm-pool)\n"
    "  --queue-max N        creates that may wait for a free slot (default 100)\n"
    "  --allow-origin URL   also accept this Origin: WebSockets, and POST/PUT/PATCH/DELETE\n"
    "                       under /api/ (repeatable)\n"
    "  --allow-host NAME    also accept requests whose Host is NAME (repeatable; besides\n"
    "                       IP addresses, localhost and --public-url's host)\n"
    "  --header-timeout S   seconds a request's headers may take (default 10)\n"
    "  --body-timeout S     seconds its body may take after them (default 30)\n"
    "  --max-connections N  client connections at once, more get 503 (default: from\n"
    "                       RLIMIT_NOFILE, less what --max-sessions sessions need)\n"
    "  --max-connections-per-address N  from one client address (default 64; 0: no cap;\n"
    "                       behind a reverse proxy all clients share its address)\n"
    "  --on-client-gone MODE  a create whose client left before it was ready: end\n"
    "                       (the session ends, reason error; default) or keep\n"
    "  --queue-timeout S    seconds they wait before a 429 (default 30)\n"
    "  --page-load-timeout S  seconds a session's first page may take to load before\n"
    "                       the session is ready anyway, with page.error (default 10)\n"
    "  --memory BYTES       memory limit per session (default 1073741824)\n"
    "  --pids N             process limit per session (default 512)\n"
    "  --cpus X             CPUs per session (default 1.0)\n"
    "  --log-level LEVEL    debug, info, warn or error (default info)\n"
    "  --on-restart MODE    at start, sessions a previous run left running: adopt\n"
    "                       (re-attach, default) or end (reason shutdown)\n"
    "  --on-shutdown MODE   on SIGTERM/SIGINT: end sessions (default) or leave them\n"
    "                       running for the next start to adopt\n"
    "  --userns-base ID     first host uid/gid of the sessions' user namespace ranges\n"
    "                       (default 1073741824); each session maps its ids 0..65535\n"
    "                       to 65536 host ids of its own, which no host account may use\n"
    "  --userns-ranges N    ranges from --userns-base (default 1024; at least\n"
    "                       --max-sessions)\n"
    "  --nested-userns MODE allow (default): Chromium's renderers get user namespaces\n"
    "                       of their own; deny: seccomp refuses them, Chromium runs\n"
    "                       without its namespace sandbox (see docs/security.md)\n";

struct serve {
    struct bh_config cfg;
    bh_loop_t *loop;
    bh_http_t *http;
    bh_store_t *store;
    bh_sessions_t *sessions;
    bh_api_t *api;
    int stopping;
};

static int parse_listen(struct bh_config *c, const char *v)
{
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v)
        return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return -1;
    free(c->listen_host);
    c->listen_host = bh_xasprintf("%.*s", (int)(colon - v), v);
    if (c->listen_host[0] == '[') { /* [::1]:8420 */
        size_t n = strlen(c->listen_host);
        memmove(c->listen_host, c->listen_host + 1, n);
        if (n >= 2 && c->listen_host[n - 2] == ']')
            c->listen_host[n - 2] = 0;
    }
    c->port = (int)port;
    return 0;
}

static int parse_u64(const char *v, uint64_t min, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end || x < min || v[0] == '-')
        return -1;
    *out = x;
    return 0;
}

static int parse_flags(struct bh_config *c, int argc, char **argv)
{
    enum {
        O_LISTEN = 256,
        O_PUBLIC,
        O_STATE,
        O_RUN,
        O_RUNTIME,
        O_BRIDGE,
        O_SUBNET,
        O_DNS,
        O_TOKEN,
        O_MAX,
        O_MEM,
        O_PIDS,
        O_CPUS,
        O_LOG,
        O_EALLOW,
        O_EDENY,
        O_QMAX,
        O_QTIME,
        O_ORIGIN,
        O_NOAUTH,
        O_URLTTL,
        O_USERMAX,
        O_ONRESTART,
        O_ONSHUTDOWN,
        O_USERNS_BASE,
        O_USERNS_RANGES,
        O_NESTED_USERNS,
        O_PAGELOAD,
        O_HOST,
        O_HDRTIME,
        O_BODYTIME,
        O_MAXCONN,
        O_MAXCONNADDR,
        O_CLIENTGONE,
        O_LABS,
        O_BROWSER,
        O_POOL
    };
    static const struct option opts[] = {
        {"listen", required_argument, 0, O_LISTEN},
        {"public-url", required_argument, 0, O_PUBLIC},
        {"state-dir", required_argument, 0, O_STATE},
        {"run-dir", required_argument, 0, O_RUN},
        {"runtime", required_argument, 0, O_RUNTIME},
        {"bridge", required_argument, 0, O_BRIDGE},
        {"subnet", required_argument, 0, O_SUBNET},
        {"dns", required_argument, 0, O_DNS},
        {"token", required_argument, 0, O_TOKEN},
        {"max-sessions", required_argument, 0, O_MAX},
        {"memory", required_argument, 0, O_MEM},
        {"pids", required_argument, 0, O_PIDS},
        {"cpus", required_argument, 0, O_CPUS},
        {"log-level", required_argument, 0, O_LOG},
        {"egress-allow", required_argument, 0, O_EALLOW},
        {"egress-deny", required_argument, 0, O_EDENY},
        {"queue-max", required_argument, 0, O_QMAX},
        {"queue-timeout", required_argument, 0, O_QTIME},
        {"page-load-timeout", required_argument, 0, O_PAGELOAD},
        {"allow-origin", required_argument, 0, O_ORIGIN},
        {"no-auth", no_argument, 0, O_NOAUTH},
        {"url-token-ttl", required_argument, 0, O_URLTTL},
        {"user-max-sessions", required_argument, 0, O_USERMAX},
        {"on-restart", required_argument, 0, O_ONRESTART},
        {"on-shutdown", required_argument, 0, O_ONSHUTDOWN},
        {"userns-base", required_argument, 0, O_USERNS_BASE},
        {"userns-ranges", required_argument, 0, O_USERNS_RANGES},
        {"nested-userns", required_argument, 0, O_NESTED_USERNS},
        {"allow-host", required_argument, 0, O_HOST},
        {"header-timeout", required_argument, 0, O_HDRTIME},
        {"body-timeout", required_argument, 0, O_BODYTIME},
        {"max-connections", required_argument, 0, O_MAXCONN},
        {"max-connections-per-address", required_argument, 0, O_MAXCONNADDR},
        {"on-client-gone", required_argument, 0, O_CLIENTGONE},
        {"labs-dir", required_argument, 0, O_LABS},
        {"browser", required_argument, 0, O_BROWSER},
        {"pool", required_argument, 0, O_POOL},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int o;
    uint64_t u;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case O_LISTEN:
            if (parse_listen(c, optarg) < 0) {
                fprintf(stderr, "bulkhead serve: --listen wants HOST:PORT, got '%s'\n", optarg);
                return -1;
            }
            break;
        case O_ONRESTART:
            if (strcmp(optarg, "adopt") != 0 && strcmp(optarg, "end") != 0) {
                fprintf(stderr, "bulkhead serve: --on-restart wants adopt or end, got '%s'\n",
                        optarg);
                return -1;
            }
            c->adopt_on_restart = !strcmp(optarg, "adopt");
            break;
        case O_ONSHUTDOWN:
            if (strcmp(optarg, "end") != 0 && strcmp(optarg, "leave") != 0) {
                fprintf(stderr, "bulkhead serve: --on-shutdown wants end or leave, got '%s'\n",
                        optarg);
                return -1;
            }
            c->leave_on_shutdown = !strcmp(optarg, "leave");
            break;
        case O_USERNS_BASE:
            if (parse_u64(optarg, 65536, &u) < 0 || u >= UINT32_MAX) {
                fprintf(stderr, "bulkhead serve: --userns-base must be 65536..4294967294\n");
                return -1;
            }
            c->userns_first = (uint32_t)u;
            break;
        case O_USERNS_RANGES:
            if (parse_u64(optarg, 1, &u) < 0 || u > 65535) {
                fprintf(stderr, "bulkhead serve: --userns-ranges must be 1..65535\n");
                return -1;
            }
            c->userns_ranges = (uint32_t)u;
            break;
        case O_NESTED_USERNS:
            if (strcmp(optarg, "allow") != 0 && strcmp(optarg, "deny") != 0) {
                fprintf(stderr, "bulkhead serve: --nested-userns wants allow or deny, got '%s'\n",
                        optarg);
                return -1;
            }
            c->deny_nested_userns = !strcmp(optarg, "deny");
            break;
        case O_PUBLIC:
            free(c->public_url);
            c->public_url = bh_xstrdup(optarg);
            break;
        case O_STATE:
            free(c->state_dir);
            c->state_dir = bh_xstrdup(optarg);
            break;
        case O_RUN:
            free(c->run_dir);
            c->run_dir = bh_xstrdup(optarg);
            break;
        case O_RUNTIME: {
            int rt = bh_runtime_parse(optarg);
            if (rt < 0) {
                fprintf(stderr, "bulkhead serve: --runtime must be runc or crun\n");
                return -1;
            }
            c->runtime = (enum bh_runtime)rt;
            break;
        }
        case O_BRIDGE:
            if (strlen(optarg) > 15 || !*optarg) {
                fprintf(stderr, "bulkhead serve: --bridge must be 1..15 characters\n");
                return -1;
            }
            free(c->bridge);
            c->bridge = bh_xstrdup(optarg);
            break;
        case O_SUBNET:
            free(c->subnet);
            c->subnet = bh_xstrdup(optarg);
            break;
        case O_DNS: {
            unsigned char a[16];
            if (inet_pton(AF_INET, optarg, a) != 1 && inet_pton(AF_INET6, optarg, a) != 1) {
                fprintf(stderr, "bulkhead serve: --dns wants an IP address, got '%s'\n", optarg);
                return -1;
            }
        }
            free(c->dns);
            c->dns = bh_xstrdup(optarg);
            break;
        case O_TOKEN:
            free(c->token);
            c->token = bh_xstrdup(optarg);
            /* out of /proc/PID/cmdline (ps) from now on */
            memset(optarg, 'x', strlen(optarg));
            break;
        case O_NOAUTH:
            c->no_auth = 1;
            break;
        case O_URLTTL:
            if (parse_u64(optarg, 1, &u) < 0 || u > 86400 * 7) {
                fprintf(stderr, "bulkhead serve: --url-token-ttl must be 1..604800 seconds\n");
                return -1;
            }
            c->url_token_ttl = (int)u;
            break;
        case O_USERMAX:
            if (parse_u64(optarg, 1, &u) < 0 || u > 10000) {
                fprintf(stderr, "bulkhead serve: --user-max-sessions must be 1..10000\n");
                return -1;
            }
            c->user_max_sessions = (int)u;
            break;
        case O_MAX:
            if (parse_u64(optarg, 1, &u) < 0 || u > 10000) {
                fprintf(stderr, "bulkhead serve: --max-sessions must be 1..10000\n");
                return -1;
            }
            c->max_sessions = (int)u;
            break;
        case O_ORIGIN: {
            char **nv = realloc(c->allowed_origins, (size_t)(c->nallowed_origins + 1) * sizeof *nv);
            if (!nv)
                abort();
            c->allowed_origins = nv;
            nv[c->nallowed_origins++] = bh_xstrdup(optarg);
            break;
        }
        case O_HOST: {
            if (!*optarg || strlen(optarg) > 253 || strpbrk(optarg, "/?#@ \t")) {
                fprintf(stderr, "bulkhead serve: --allow-host wants a host name, got '%s'\n",
                        optarg);
                return -1;
            }
            char **nv = realloc(c->allowed_hosts, (size_t)(c->nallowed_hosts + 1) * sizeof *nv);
            if (!nv)
                abort();
            c->allowed_hosts = nv;
            nv[c->nallowed_hosts++] = bh_xstrdup(optarg);
            break;
        }
        case O_HDRTIME:
        case O_BODYTIME:
            if (parse_u64(optarg, 1, &u) < 0 || u > 3600) {
                fprintf(stderr, "bulkhead serve: --%s-timeout must be 1..3600 seconds\n",
                        o == O_HDRTIME ? "header" : "body");
                return -1;
            }
            *(o == O_HDRTIME ? &c->header_timeout : &c->body_timeout) = (int)u;
            break;
        case O_MAXCONN:
            if (parse_u64(optarg, 1, &u) < 0 || u > 1000000) {
                fprintf(stderr, "bulkhead serve: --max-connections must be 1..1000000\n");
                return -1;
            }
            c->max_conns = (int)u;
            break;
        case O_MAXCONNADDR:
            if (parse_u64(optarg, 0, &u) < 0 || u > 1000000) {
                fprintf(stderr,
                        "bulkhead serve: --max-connections-per-address must be 0..1000000\n");
                return -1;
            }
            c->max_conns_per_addr = (int)u;
            break;
        case O_POOL:
            if (parse_u64(optarg, 0, &u) < 0 || u > 10000) {
                fprintf(stderr, "bulkhead serve: --pool must be 0..10000\n");
                return -1;
            }
            c->pool = (int)u;
            break;
        case O_BROWSER:
            if (optarg[0] != '/') {
                fprintf(stderr, "bulkhead serve: --browser wants an absolute path, got '%s'\n",
                        optarg);
                return -1;
            }
            free(c->chromium);
            c->chromium = bh_xstrdup(optarg);
            break;
        case O_LABS:
            free(c->labs_dir);
            c->labs_dir = bh_xstrdup(optarg);
            break;
        case O_CLIENTGONE:
            if (strcmp(optarg, "end") != 0 && strcmp(optarg, "keep") != 0) {
                fprintf(stderr, "bulkhead serve: --on-client-gone wants end or keep, got '%s'\n",
                        optarg);
                return -1;
            }
            c->keep_if_client_gone = !strcmp(optarg, "keep");
            break;
        case O_QMAX:
            if (parse_u64(optarg, 0, &u) < 0 || u > 100000) {
                fprintf(stderr, "bulkhead serve: --queue-max must be 0..100000\n");
                return -1;
            }
            c->queue_max = (int)u;
            break;
        case O_QTIME:
            if (parse_u64(optarg, 1, &u) < 0 || u > 3600) {
                fprintf(stderr, "bulkhead serve: --queue-timeout must be 1..3600 seconds\n");
                return -1;
            }
            c->queue_timeout_ms = (int)u * 1000;
            break;
        case O_PAGELOAD:
            if (parse_u64(optarg, 1, &u) < 0 || u > BH_PAGE_LOAD_MAX) {
                fprintf(stderr, "bulkhead serve: --page-load-timeout must be 1..%d seconds\n",
                        BH_PAGE_LOAD_MAX);
                return -1;
            }
            c->page_load_timeout_ms = (int)u * 1000;
            break;
        case O_MEM:
            if (parse_u64(optarg, 64ull << 20, &u) < 0) {
                fprintf(stderr, "bulkhead serve: --memory must be at least 67108864\n");
                return -1;
            }
            c->memory_bytes = u;
            break;
        case O_PIDS:
            if (parse_u64(optarg, 16, &u) < 0) {
                fprintf(stderr, "bulkhead serve: --pids must be at least 16\n");
                return -1;
            }
            c->pids_max = u;
            break;
        case O_CPUS: {
            char *end;
            double x = strtod(optarg, &end);
            if (*end || x < 0.1 || x > 1024) {
                fprintf(stderr, "bulkhead serve: --cpus must be 0.1..1024\n");
                return -1;
            }
            c->cpus = x;
            break;
        }
        case O_LOG:
            if (!strcmp(optarg, "debug"))
                bh_log_set_level(BH_LOG_DEBUG);
            else if (!strcmp(optarg, "info"))
                bh_log_set_level(BH_LOG_INFO);
            else if (!strcmp(optarg, "warn"))
                bh_log_set_level(BH_LOG_WARN);
            else if (!strcmp(optarg, "error"))
                bh_log_set_level(BH_LOG_ERROR);
            else {
                fprintf(stderr, "bulkhead serve: --log-level: debug, info, warn or error\n");
                return -1;
            }
            break;
        case O_EALLOW:
        case O_EDENY: {
            struct bh_net_rule **v = o == O_EALLOW ? &c->egress_allow : &c->egress_deny;
            int *n = o == O_EALLOW ? &c->negress_allow : &c->negress_deny;
            struct bh_net_rule *nv = realloc(*v, (size_t)(*n + 1) * sizeof *nv);
            if (!nv)
                abort();
            *v = nv;
            bh_err_t e = BH_ERR_INIT;
            if (bh_net_rule_parse(optarg, NULL, 0, &nv[*n], &e) < 0) {
                fprintf(stderr, "bulkhead serve: --egress-%s %s: %s\n",
                        o == O_EALLOW ? "allow" : "deny", optarg, bh_err_msg(&e));
                bh_err_clear(&e);
                return -1;
            }
            (*n)++;
            break;
        }
        case 'h':
            fputs(usage, stdout);
            return 1;
        default:
            fputs(usage, stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bulkhead serve: unexpected argument '%s'\n%s", argv[optind], usage);
        return -1;
    }
    return 0;
}

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

/* 1 if host is a loopback address or name. */
static int loopback(const char *host)
{
    unsigned char a[16];
    if (!strcmp(host, "localhost") || !strcmp(host, "::1"))
        return 1;
    return inet_pton(AF_INET, host, a) == 1 && a[0] == 127;
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
    int rc = parse_flags(c, argc, argv);
    if (rc != 0) {
        bh_config_free(c);
        return rc > 0 ? BH_EXIT_OK : BH_EXIT_USAGE;
    }
    if (c->no_auth && !loopback(c->listen_host)) {
        fprintf(stderr,
                "bulkhead serve: refusing --no-auth on %s: without auth the daemon "
                "listens only on a loopback address (127.0.0.0/8, ::1, localhost)\n",
                c->listen_host);
        bh_config_free(c);
        return BH_EXIT_USAGE;
    }
    if (c->pool > c->max_sessions) {
        fprintf(stderr, "bulkhead serve: --pool %d is above --max-sessions %d\n", c->pool,
                c->max_sessions);
        bh_config_free(c);
        return BH_EXIT_USAGE;
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
