/* net.h — per-session networking: the host bridge "bh0" with NAT, and for each
 * session a named network namespace (/run/netns/bh-<id>) joined to the bridge
 * by a veth pair (an isolated bridge port), with an address leased from the
 * bridge subnet; and each session's egress policy, enforced in nftables on
 * packets (so after DNS: names resolving to private addresses, redirects,
 * IP spellings and DNS rebinding meet the same rules). Everything bulkhead
 * creates carries its prefix (bh0, bhv*, bh-*, nft tables inet/bridge
 * "bulkhead") so that cleanup and tests can find exactly what is ours.
 * Blocking; call off the event loop.
 *
 * What a session may reach (first match wins):
 *   1. never: the host itself (every host address, so the bridge address and
 *      the daemon's port too) except the resolver's port 53; loopback
 *      127/8 and ::1; 0/8; the session subnet (the bridge, every other
 *      session: also blocked at layer 2); multicast, broadcast and
 *      240.0.0.0/4; ff00::/8, ::/96, ::ffff:0:0/96.
 *   2. the resolver (config.dns), TCP and UDP port 53 only, even if private.
 *   3. the operator's always_deny, then always_allow.
 *   4. link-local 169.254.0.0/16, fe80::/10, fd00:ec2::254 (cloud metadata):
 *      denied unless always_allow opened them in 3.
 *   5. the session's own allow rules (allow-list, or its proxy).
 *   6. internet: everything else but private ranges (RFC1918 10/8,
 *      172.16/12, 192.168/16; CGNAT 100.64/10; 192.0.0.0/24, 198.18.0.0/15;
 *      fc00::/7, fec0::/10, NAT64/6to4/Teredo prefixes, 100::/64);
 *      allowlist: nothing else. The documentation ranges (192.0.2.0/24,
 *      198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) count as public.
 *   Policy `none` skips all of this: nothing at all, not even the resolver.
 * Sessions are IPv4 only (no IPv6 on their eth0; the bridge drops IPv6 from
 * them); the IPv6 ranges above hold should that change. Replies to what a
 * session opened come back (conntrack); nothing may open a connection to a
 * session from outside, nor from another session. */
#ifndef BH_NET_H
#define BH_NET_H

#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"

/* One allow or deny entry: a CIDR (IPv4 or IPv6), optionally limited to
 * TCP/UDP ports. Made by bh_net_rule_parse(); net.c refuses a rule that it
 * would not have written. */
struct bh_net_rule {
    char cidr[64];      /* canonical: "198.51.100.0/24", "2001:db8::/32",
                         * "192.0.2.7/32" (from "192.0.2.7") */
    uint16_t ports[16]; /* TCP/UDP destination ports, sorted, no duplicates;
                         * nports == 0: every port and protocol */
    int nports;
};

enum bh_net_mode {
    BH_NET_INTERNET = 0,  /* public addresses only (the default) */
    BH_NET_NONE = 1,      /* no network at all (loopback inside only) */
    BH_NET_ALLOWLIST = 2, /* exactly the listed destinations */
};

struct bh_net_policy {
    enum bh_net_mode mode;
    /* BH_NET_ALLOWLIST: the destinations; BH_NET_INTERNET: allowed besides
     * the public internet (e.g. a proxy on a private address); ignored for
     * BH_NET_NONE. At most 256. Never opens what is "never" or link-local
     * (see the top of this file). */
    const struct bh_net_rule *allow;
    int nallow;
};

/* Parse an address or CIDR ("10.0.0.0/8", "192.0.2.7", "2001:db8::/32") and
 * up to 16 ports (1-65535) into a rule; -1 with EINVAL and a message naming
 * the problem otherwise. IPv4 only as four decimal numbers (no 3232289281,
 * 0xc0a8d501, 0300.0250..., 192.168.54529); no bits after the prefix
 * ("10.1.2.3/8" is refused, naming 10.0.0.0/8). out may be NULL (check
 * only). */
int bh_net_rule_parse(const char *cidr, const uint16_t *ports, int nports, struct bh_net_rule *out,
                      bh_err_t *err);

/* 0 if rule r (from bh_net_rule_parse) names only public address space, or
 * where it does not, only what `granted` (the operator's always_allow list)
 * already opens to every session: what someone other than the operator may
 * put in a session's allow-list or name as its proxy. Not public is every
 * range of the tables at the top of this file that the nft sets are made
 * of: the private ones (RFC1918, CGNAT, 192.0.0.0/24, 198.18.0.0/15, ULA,
 * site-local, NAT64, 6to4, Teredo, 100::/64), link-local and metadata, and
 * the "never" ranges (0/8, loopback, multicast, 240/4, ::/96, mapped IPv4).
 * A granted rule counts for r only if it opens every port r names (a rule
 * without ports names every port); several granted rules may cover one
 * range together. Otherwise -1 with EACCES and a message naming the first
 * range r overlaps, e.g. "0.0.0.0/0 overlaps private range 10.0.0.0/8". */
int bh_net_rule_public(const struct bh_net_rule *r, const struct bh_net_rule *granted, int ngranted,
                       bh_err_t *err);

struct bh_net_config {
    const char *bridge;    /* "bh0" */
    const char *subnet;    /* "10.213.0.0/16"; the bridge takes .0.1 */
    const char *dns;       /* the resolver sessions use (resolv.conf): an IP
                            * address they can reach, so not loopback;
                            * sessions may send it TCP/UDP port 53, even on a
                            * private or host address. NULL: no resolver. */
    const char *nft_table; /* nft table (family inet); NULL or "": "bulkhead"
                            * for bridge "bh0", else "bulkhead_<bridge>"
                            * ('-' and '.' as '_'), so daemons and tests with
                            * their own bridge never replace each other's. */
    /* operator lists: always allowed (e.g. an internal proxy) and always
     * denied, for every session with a network (internet or allow-list;
     * `none` stays without); deny wins. Neither opens the host or anything
     * "never" (top of this file). At most 256 each. Read by bh_net_init():
     * a change needs an init. */
    const struct bh_net_rule *always_allow;
    int nalways_allow;
    const struct bh_net_rule *always_deny;
    int nalways_deny;
};

/* Create the bridge, its address, ip_forward and the nft tables (inet: NAT
 * and the policy; bridge: anti-spoofing) with the config's resolver and
 * operator lists. Idempotent, and repairs what a crash left half-made: the
 * tables are replaced atomically (so call it at daemon start, not while
 * policy rules of live sessions are in them: they would be dropped, and
 * those sessions then send nothing). */
int bh_net_init(const struct bh_net_config *cfg, bh_err_t *err);
/* Remove bridge and nft tables. Fails with EBUSY (and removes nothing) while
 * a session veth is still a port of the bridge. Idempotent. Leaves
 * ip_forward as it is (something else may rely on it). */
int bh_net_fini(const struct bh_net_config *cfg, bh_err_t *err);

struct bh_net_session {
    char netns[64];       /* "bh-<id>" */
    char netns_path[128]; /* "/run/netns/bh-<id>" */
    char veth_host[16];   /* "bhv" + the first 12 chars of the id */
    char addr[64];        /* session address, e.g. "10.213.0.7"; its eth0's
                           * MAC is 06:62 + the address's 4 bytes */
};

/* Make the namespace, veth, address lease, routes. `id` is the session id
 * (hex; [A-Za-z0-9_-], at most 59 chars). The namespace is a new one for
 * pid 0, else that of process `pid`: a container's own netns, made by its
 * runtime inside the container's user namespace (which must own the netns
 * for the container to mount a sysfs); either is bound on
 * /run/netns/bh-<id> and set up the same way. Two concurrent calls
 * (threads or processes) never get the same address. On failure nothing is
 * left behind; an id that is already set up fails with EEXIST and stays as
 * it was. Thread-safe; the calling thread's netns is never changed. Takes a
 * few ms. */
int bh_net_session_setup(const struct bh_net_config *cfg, const char *id, pid_t pid,
                         struct bh_net_session *out, bh_err_t *err);
/* Apply a session's egress policy (after setup, before its browser starts;
 * until then the session can send nothing). Replaces what was applied
 * before, atomically (one nft transaction, about 1 ms). Fails (and changes
 * nothing) for a bad policy (EINVAL) or a session not set up here. Any
 * thread. */
int bh_net_session_policy(const struct bh_net_config *cfg, const char *id,
                          const struct bh_net_policy *policy, bh_err_t *err);

/* Remove the session's rules (one nft transaction), then the veth, the
 * namespace and the lease: before the lease is freed, every entry of the
 * host's conntrack table naming its address is deleted (so the next session
 * given the address inherits no NAT or connection state; a failure there is
 * logged, and does not fail the teardown). Idempotent: whatever is already
 * gone is skipped. Needs only the id (and the config naming the tables):
 * also after a crash of whoever set it up, and even if its lease was lost
 * (then the tables are searched for the id). Any thread. */
int bh_net_session_teardown(const struct bh_net_config *cfg, const char *id, bh_err_t *err);

/* Session ids of every bh-* namespace that exists, and of every address
 * lease (a crash between taking the lease and making the namespace leaves
 * only the lease), for crash recovery: bh_net_session_teardown() each id that
 * is not a live session. Returns the count; *ids is NULL-terminated, caller
 * frees each and the array. Ids are not filtered by config: every daemon on
 * the host shares /run/netns and the lease directory. */
int bh_net_list(char ***ids, bh_err_t *err);

#endif
