/* serve_flags.c — see serve_flags.h. */
#include "cli/serve_flags.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kinds/browser/cdp_proxy.h"
#include "lib/log.h"
#include "net/net.h"
#include "backend/local/sandbox.h"
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

/* v as a number in min..max, else -1 after "--flag must be min..max" and
 * unit on stderr. */
static int ranged(const char *v, uint64_t min, uint64_t max, const char *flag, const char *unit,
                  uint64_t *out)
{
    if (parse_u64(v, min, out) == 0 && *out <= max)
        return 0;
    fprintf(stderr, "bulkhead serve: --%s must be %llu..%llu%s\n", flag, (unsigned long long)min,
            (unsigned long long)max, unit);
    return -1;
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
            if (ranged(optarg, 1, 65535, "userns-ranges", "", &u) < 0)
                return -1;
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
            if (ranged(optarg, 1, 86400 * 7, "url-token-ttl", " seconds", &u) < 0)
                return -1;
            c->url_token_ttl = (int)u;
            break;
        case O_USERMAX:
            if (ranged(optarg, 1, 10000, "user-max-sessions", "", &u) < 0)
                return -1;
            c->user_max_sessions = (int)u;
            break;
        case O_MAX:
            if (ranged(optarg, 1, 10000, "max-sessions", "", &u) < 0)
                return -1;
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
            if (ranged(optarg, 1, 1000000, "max-connections", "", &u) < 0)
                return -1;
            c->max_conns = (int)u;
            break;
        case O_MAXCONNADDR:
            if (ranged(optarg, 0, 1000000, "max-connections-per-address", "", &u) < 0)
                return -1;
            c->max_conns_per_addr = (int)u;
            break;
        case O_POOL:
            if (ranged(optarg, 0, 10000, "pool", "", &u) < 0)
                return -1;
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
            if (ranged(optarg, 0, 100000, "queue-max", "", &u) < 0)
                return -1;
            c->queue_max = (int)u;
            break;
        case O_QTIME:
            if (ranged(optarg, 1, 3600, "queue-timeout", " seconds", &u) < 0)
                return -1;
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

/* 1 if host is a loopback address or name. */
static int loopback(const char *host)
{
    unsigned char a[16];
    if (!strcmp(host, "localhost") || !strcmp(host, "::1"))
        return 1;
    return inet_pton(AF_INET, host, a) == 1 && a[0] == 127;
}

int bh_serve_flags(struct bh_config *c, int argc, char **argv)
{
    int rc = parse_flags(c, argc, argv);
    if (rc != 0)
        return rc;
    if (c->no_auth && !loopback(c->listen_host)) {
        fprintf(stderr,
                "bulkhead serve: refusing --no-auth on %s: without auth the daemon "
                "listens only on a loopback address (127.0.0.0/8, ::1, localhost)\n",
                c->listen_host);
        return -1;
    }
    if (c->pool > c->max_sessions) {
        fprintf(stderr, "bulkhead serve: --pool %d is above --max-sessions %d\n", c->pool,
                c->max_sessions);
        return -1;
    }
    return 0;
}
