/* config.h — the daemon's settings: defaults, then flags. Plain data. */
#ifndef BH_CONFIG_H
#define BH_CONFIG_H

#include <stdint.h>

#include "net/net.h"

/* The sessions' user namespaces: the first host id of their ranges and
 * how many ranges (backend/local/userns.h). */
#define BH_USERNS_FIRST_DEFAULT 1073741824u /* 2^30 */
#define BH_USERNS_COUNT_DEFAULT 1024u

/* The OCI runtime the local backend runs (backend/local/sandbox.h). */
enum bh_runtime { BH_RUNTIME_RUNC = 0, BH_RUNTIME_CRUN = 1 };

struct bh_config {
    char *listen_host; /* "127.0.0.1" */
    int port;          /* 8420 */
    char *public_url;  /* base of urls.*, e.g. "http://127.0.0.1:8420" */
    char *state_dir;   /* /var/lib/bulkhead: db, token, bundles, image */
    char *run_dir;     /* /run/bulkhead: runtime state */
    enum bh_runtime runtime;
    char *bridge;                     /* "bh0" */
    char *subnet;                     /* "10.213.0.0/16" */
    char *dns;                        /* resolver for sessions */
    struct bh_net_rule *egress_allow; /* operator: always allowed destinations */
    int negress_allow;
    struct bh_net_rule *egress_deny; /* operator: always denied destinations */
    int negress_deny;
    char *token;         /* API token from --token/env/file; freed once hashed (never logged) */
    char admin_hash[72]; /* SHA-256 (hex) of the operator's admin token */
    unsigned char secret[32]; /* HMAC key of scoped url tokens (STATE/secret) */
    int no_auth;              /* --no-auth: every request is admin (loopback only) */
    int url_token_ttl;        /* seconds a scoped url token lives (capped at the session's end) */
    int user_max_sessions; /* live sessions a user token may have when it sets none; 0 = no limit */
    char *chromium;        /* browser binary inside the sandbox */
    char *labs_dir;        /* --labs-dir: the labs of shell sessions, or NULL */
    char **allowed_origins; /* extra Origins allowed to open WebSockets */
    int nallowed_origins;
    char **allowed_hosts; /* extra names a request's Host may carry (--allow-host) */
    int nallowed_hosts;
    int header_timeout;      /* seconds a request's headers may take to arrive */
    int body_timeout;        /* seconds its body may take, after the headers */
    int max_conns;           /* client connections at once; 0: derived from RLIMIT_NOFILE */
    int max_conns_per_addr;  /* from one client address; 0: no cap */
    int keep_if_client_gone; /* 1: a create whose client left still runs; 0: it ends */
    int max_sessions;
    int pool;             /* --pool: sessions kept started ahead (counted in max_sessions) */
    int queue_max;        /* creates that may wait for a free slot */
    int queue_timeout_ms; /* how long they wait before a 429 */
    int workers;
    int max_starting; /* browsers started at once; more wait in a queue */
    /* per-session defaults and maximums */
    uint64_t memory_bytes;
    uint64_t pids_max;
    double cpus;
    uint64_t tmp_bytes;
    uint64_t shm_bytes;
    int viewport_w, viewport_h;
    int idle_timeout;         /* seconds */
    int ttl;                  /* seconds */
    int max_timeout;          /* upper bound for idleTimeout and ttl */
    int start_timeout_ms;     /* browser start, up to its first page attached */
    int page_load_timeout_ms; /* then the first page's load (default; a create may set its own) */
    int adopt_on_restart;     /* 1: a restart re-attaches to live sessions; 0: ends them */
    int leave_on_shutdown;    /* 1: SIGTERM leaves sessions running for the next start */
    /* Added: each session's user namespace maps its ids 0..65535 to a host
     * range of its own: range i is userns_first + i * 65536, i < userns_ranges
     * (see userns.h). */
    uint32_t userns_first;  /* 1073741824 (2^30) */
    uint32_t userns_ranges; /* 1024; at least max_sessions */
    int deny_nested_userns; /* 1: --nested-userns deny (seccomp refuses CLONE_NEWUSER) */
};

/* The longest page load timeout (seconds) a flag or a create may ask for. */
#define BH_PAGE_LOAD_MAX 300

void bh_config_defaults(struct bh_config *c);
void bh_config_free(struct bh_config *c);

#endif
