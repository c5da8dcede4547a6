/* net.h — per-session networking: the host bridge "bh0" with NAT, and for each
 * session a named network namespace (/run/netns/bh-<id>) joined to the bridge
 * by a veth pair, with an address leased from the bridge subnet. Everything
 * bulkhead creates carries its prefix (bh0, bhv*, bh-*, nft table "bulkhead")
 * so that cleanup and tests can find exactly what is ours. The egress policy
 * (issue 5) extends this module. Blocking; call off the event loop. */
#ifndef BH_NET_H
#define BH_NET_H

#include <stdint.h>

#include "err.h"

/* One allow or deny entry: a CIDR (IPv4 or IPv6), optionally limited to
 * TCP/UDP ports. */
struct bh_net_rule {
    char cidr[64];      /* "198.51.100.0/24", "2001:db8::/32", "192.0.2.7" (= /32) */
    uint16_t ports[16]; /* allowed destination ports; nports == 0: every port */
    int nports;
};

enum bh_net_mode {
    BH_NET_INTERNET = 0,  /* public addresses only (the default) */
    BH_NET_NONE = 1,      /* no network at all (loopback inside only) */
    BH_NET_ALLOWLIST = 2, /* exactly the listed destinations */
};

struct bh_net_policy {
    enum bh_net_mode mode;
    const struct bh_net_rule *allow; /* BH_NET_ALLOWLIST only */
    int nallow;
};

/* Parse "CIDR" or "CIDR" with ports as given in the API into a rule; -1 and
 * a message naming the problem if it is not one. */
int bh_net_rule_parse(const char *cidr, const uint16_t *ports, int nports,
                      struct bh_net_rule *out, bh_err_t *err);

struct bh_net_config {
    const char *bridge;   /* "bh0" */
    const char *subnet;   /* "10.213.0.0/16"; the bridge takes .0.1 */
    const char *dns;      /* resolver address written to the sandbox resolv.conf */
    const char *nft_table; /* nft table (family inet); NULL or "": "bulkhead"
                            * for bridge "bh0", else "bulkhead_<bridge>"
                            * ('-' and '.' as '_'), so daemons and tests with
                            * their own bridge never replace each other's. */
    /* operator lists: always allowed (e.g. an internal proxy) and always
     * denied, for every session whatever its policy (deny wins) */
    const struct bh_net_rule *always_allow;
    int nalways_allow;
    const struct bh_net_rule *always_deny;
    int nalways_deny;
};

/* Create the bridge, its address, ip_forward and the nft table with NAT.
 * Idempotent, and repairs what a crash left half-made: the table is replaced
 * atomically (so call it at daemon start, not while policy rules of live
 * sessions are in the table). */
int bh_net_init(const struct bh_net_config *cfg, bh_err_t *err);
/* Remove bridge and nft table. Fails with EBUSY (and removes nothing) while
 * a session veth is still a port of the bridge. Idempotent. Leaves
 * ip_forward as it is (something else may rely on it). */
int bh_net_fini(const struct bh_net_config *cfg, bh_err_t *err);

struct bh_net_session {
    char netns[64];       /* "bh-<id>" */
    char netns_path[128]; /* "/run/netns/bh-<id>" */
    char veth_host[16];   /* "bhv" + the first 12 chars of the id */
    char addr[64];        /* session address, e.g. "10.213.0.7" */
};

/* Make the namespace, veth, address lease, routes. `id` is the session id
 * (hex; [A-Za-z0-9_-], at most 59 chars). Two concurrent calls (threads or
 * processes) never get the same address. On failure nothing is left behind;
 * an id that is already set up fails with EEXIST and stays as it was.
 * Thread-safe; the calling thread's netns is never changed. Takes a few ms. */
int bh_net_session_setup(const struct bh_net_config *cfg, const char *id,
                         struct bh_net_session *out, bh_err_t *err);
/* Apply a session's egress policy (after setup, before its browser starts;
 * until then the session may send nothing). Replaces what was applied
 * before. */
int bh_net_session_policy(const struct bh_net_config *cfg, const char *id,
                          const struct bh_net_policy *policy, bh_err_t *err);

/* Remove the veth, the namespace and the lease (and the session's rules).
 * Idempotent: whatever is
 * already gone is skipped. Any thread. */
int bh_net_session_teardown(const struct bh_net_config *cfg, const char *id, bh_err_t *err);

/* Session ids of every bh-* namespace that exists, and of every address
 * lease (a crash between taking the lease and making the namespace leaves
 * only the lease), for crash recovery: bh_net_session_teardown() each id that
 * is not a live session. Returns the count; *ids is NULL-terminated, caller
 * frees each and the array. Ids are not filtered by config: every daemon on
 * the host shares /run/netns and the lease directory. */
int bh_net_list(char ***ids, bh_err_t *err);

#endif
