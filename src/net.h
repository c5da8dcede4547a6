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

struct bh_net_config {
    const char *bridge;   /* "bh0" */
    const char *subnet;   /* "10.213.0.0/16"; the bridge takes .0.1 */
    const char *dns;      /* resolver address written to the sandbox resolv.conf */
    const char *nft_table; /* nft table (family inet); NULL or "": "bulkhead"
                            * for bridge "bh0", else "bulkhead_<bridge>"
                            * ('-' and '.' as '_'), so daemons and tests with
                            * their own bridge never replace each other's. */
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
/* Remove the veth, the namespace and the lease. Idempotent: whatever is
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
