/* net_policy.c — see net_policy.h.
 *
 * Layout. Everything lives in two tables of our own, "inet T" and
 * "bridge T" (T from table_name()); init replaces both in one transaction,
 * fini deletes both; nothing else on the host is touched.
 *
 *   inet T  forward hook: iifname BR -> session_egress
 *             session_egress: clamp the MSS of SYNs to the route MTU, then
 *               ip saddr vmap @sessions4 { ADDR : goto sess_<id> }; drop
 *             sess_<id> (one per session with a network):
 *               jump egress_common; <its allow rules> accept;
 *               internet: goto egress_public   allowlist: drop
 *             egress_common: never4/never6 drop; the resolver (udp/tcp 53)
 *               accept; operator always_deny drop; always_allow accept;
 *               link-local/metadata drop
 *             egress_public: private4/private6 drop; accept
 *           forward hook: oifname BR -> session_ingress: replies
 *             (ct established,related) accept, anything else drop
 *           input hook: iifname BR -> session_to_host: replies accept; the
 *             resolver from @online4 accept; everything else drop (the
 *             bridge address, the daemon's port, every host address)
 *   bridge T prerouting: iifname @our_ports -> from_session: IPv4 whose
 *             (port . MAC . source) and ARP whose (port . MAC . sender MAC
 *             . sender IP) are in @ports pass; all else (spoofed, IPv6,
 *             other ethertypes) drop.
 *
 * A session is "sessions4 element + online4 element + sess_<id> chain +
 * bridge elements"; policy and teardown change them in one transaction
 * each. Until bh_net_session_policy() a session has none of them, and its
 * packets meet the default drop of session_egress and session_to_host.
 * Policy `none` keeps only the bridge elements: everything drops. Every
 * per-session name derives from the id and the lease's address, so a
 * teardown after a crash finds the same names; should the lease be gone,
 * teardown lists the tables and removes whatever names the id. */
#include "net/net_policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/json.h"
#include "net/net_lease.h"
#include "net/net_names.h"
#include "net/net_rules.h"
#include "net/nft.h"
#include "net/rtnl.h"
#include "lib/util.h"

#define DEFAULT_BRIDGE "bh0"
#define DEFAULT_TABLE "bulkhead"
#define CHAIN_PREFIX "sess_"

/* The config's nft table: cfg->nft_table, else "bulkhead" for the default
 * bridge and "bulkhead_<bridge>" for any other, so that daemons (and tests)
 * with bridges of their own never replace each other's table. */
static void table_name(const struct bh_net_config *cfg, char out[TABLE_MAX + 1])
{
    if (cfg->nft_table && *cfg->nft_table) {
        snprintf(out, TABLE_MAX + 1, "%s", cfg->nft_table);
        return;
    }
    if (!strcmp(cfg->bridge, DEFAULT_BRIDGE)) {
        snprintf(out, TABLE_MAX + 1, "%s", DEFAULT_TABLE);
        return;
    }
    snprintf(out, TABLE_MAX + 1, "%s_%s", DEFAULT_TABLE, cfg->bridge);
    for (char *p = out; *p; p++)
        if (*p == '-' || *p == '.')
            *p = '_';
}

/* The resolver address from the config, if any: a literal IPv4 or IPv6
 * address that sessions can reach (not loopback, not unspecified). */
static int dns_addr(const struct bh_net_config *cfg, char out[INET6_ADDRSTRLEN], int *v6,
                    bh_err_t *err)
{
    out[0] = 0;
    if (!cfg->dns || !*cfg->dns)
        return 0;
    unsigned char a[16];
    if (inet_pton(AF_INET, cfg->dns, a) == 1) {
        *v6 = 0;
        if (a[0] == 127 || a[0] == 0)
            return bh_err_set(err, EINVAL,
                              "resolver %s: sessions cannot reach the host's loopback (or 0/8); "
                              "give an address of the resolver that sessions can reach",
                              cfg->dns);
        inet_ntop(AF_INET, a, out, INET6_ADDRSTRLEN);
        return 0;
    }
    if (inet_pton(AF_INET6, cfg->dns, a) == 1) {
        static const unsigned char zero[15];
        *v6 = 1;
        if (!memcmp(a, zero, 15) && (a[15] == 0 || a[15] == 1))
            return bh_err_set(err, EINVAL, "resolver %s: not reachable from sessions", cfg->dns);
        inet_ntop(AF_INET6, a, out, INET6_ADDRSTRLEN);
        return 0;
    }
    return bh_err_set(err, EINVAL, "resolver \"%s\" is not an IP address", cfg->dns);
}

/* ---- tables ---- */

int bh_net_policy_init(const struct bh_net_config *cfg, const struct subnet *sn, bh_err_t *err)
{
    const char *br = cfg->bridge;
    char t[TABLE_MAX + 1], net[INET_ADDRSTRLEN], dns[INET6_ADDRSTRLEN];
    int dns6 = 0;
    table_name(cfg, t);
    bh_net_addr_str(sn->net, net);
    if (dns_addr(cfg, dns, &dns6, err) < 0 ||
        bh_net_rules_check(cfg->always_allow, cfg->nalways_allow, "always_allow", err) < 0 ||
        bh_net_rules_check(cfg->always_deny, cfg->nalways_deny, "always_deny", err) < 0)
        return bh_err_wrap(err, "table inet %s", t);
    struct bh_nft_script s;
    bh_nft_script_open(&s);
    FILE *f = s.f;
    /* add + delete + define in one transaction: atomically replaces whatever
     * an earlier run (or a crash halfway through one) left in our tables. */
    fprintf(f, "add table inet %s\ndelete table inet %s\n", t, t);
    fprintf(f, "add table bridge %s\ndelete table bridge %s\n", t, t);
    fprintf(f, "table inet %s {\n", t);
    fprintf(f,
            "  set never4 { type ipv4_addr; flags interval; auto-merge;\n"
            "    elements = { %s, %s/%u } }\n"
            "  set never6 { type ipv6_addr; flags interval; auto-merge; elements = { %s } }\n"
            "  set linklocal4 { type ipv4_addr; flags interval; auto-merge; elements = { %s } }\n"
            "  set linklocal6 { type ipv6_addr; flags interval; auto-merge; elements = { %s } }\n"
            "  set private4 { type ipv4_addr; flags interval; auto-merge; elements = { %s } }\n"
            "  set private6 { type ipv6_addr; flags interval; auto-merge; elements = { %s } }\n"
            "  map sessions4 { type ipv4_addr : verdict; }\n"
            "  set online4 { type ipv4_addr; }\n",
            bh_net_never4, net, sn->prefix, bh_net_never6, bh_net_linklocal4, bh_net_linklocal6,
            bh_net_private4, bh_net_private6);
    fprintf(f,
            "  chain postrouting {\n"
            "    type nat hook postrouting priority srcnat; policy accept;\n"
            "    ip saddr %s/%u oifname != \"%s\" masquerade\n"
            "  }\n"
            "  chain forward {\n"
            "    type filter hook forward priority filter; policy accept;\n"
            "    iifname \"%s\" jump session_egress\n"
            "    oifname \"%s\" jump session_ingress\n"
            "  }\n"
            "  chain session_egress {\n"
            "    tcp flags syn tcp option maxseg size set rt mtu\n"
            "    ip saddr vmap @sessions4\n"
            "    drop\n"
            "  }\n"
            "  chain session_ingress {\n"
            "    ct state established,related accept\n"
            "    drop\n"
            "  }\n",
            net, sn->prefix, br, br, br);
    fputs("  chain egress_common {\n"
          "    ip daddr @never4 drop\n"
          "    ip6 daddr @never6 drop\n",
          f);
    if (dns[0])
        fprintf(f, "    %s daddr %s meta l4proto { tcp, udp } th dport 53 accept\n",
                dns6 ? "ip6" : "ip", dns);
    for (int i = 0; i < cfg->nalways_deny; i++) {
        fputs("    ", f);
        bh_net_put_match(f, &cfg->always_deny[i]);
        fputs(" drop\n", f);
    }
    for (int i = 0; i < cfg->nalways_allow; i++) {
        fputs("    ", f);
        bh_net_put_match(f, &cfg->always_allow[i]);
        fputs(" accept\n", f);
    }
    fputs("    ip daddr @linklocal4 drop\n"
          "    ip6 daddr @linklocal6 drop\n"
          "  }\n"
          "  chain egress_public {\n"
          "    ip daddr @private4 drop\n"
          "    ip6 daddr @private6 drop\n"
          "    accept\n"
          "  }\n",
          f);
    fprintf(f,
            "  chain input {\n"
            "    type filter hook input priority filter; policy accept;\n"
            "    iifname \"%s\" jump session_to_host\n"
            "  }\n"
            "  chain session_to_host {\n"
            "    ct state established,related accept\n",
            br);
    if (dns[0] && !dns6)
        fprintf(f,
                "    ip saddr @online4 ip daddr %s meta l4proto { tcp, udp } th dport 53 "
                "accept\n",
                dns);
    fputs("    drop\n"
          "  }\n"
          "}\n",
          f);
    fprintf(f,
            "table bridge %s {\n"
            "  set our_ports { type ifname; }\n"
            "  set ports { type ifname . ether_addr . ipv4_addr; }\n"
            "  chain prerouting {\n"
            "    type filter hook prerouting priority filter; policy accept;\n"
            "    iifname @our_ports jump from_session\n"
            "  }\n"
            "  chain from_session {\n"
            "    iifname . ether saddr . ip saddr @ports return\n"
            "    arp htype 1 arp ptype ip arp hlen 6 arp plen 4\n"
            "      iifname . ether saddr . arp saddr ip @ports\n"
            "      iifname . arp saddr ether . arp saddr ip @ports return\n"
            "    drop\n"
            "  }\n"
            "}\n",
            t);
    cleanup_free char *script = bh_nft_script_close(&s);
    if (bh_nft_run(script, err) < 0)
        return bh_err_wrap(err, "tables inet/bridge %s", t);
    return 0;
}

int bh_net_policy_fini(const struct bh_net_config *cfg, bh_err_t *err)
{
    char t[TABLE_MAX + 1];
    table_name(cfg, t);
    cleanup_free char *script = bh_xasprintf("add table inet %s\ndelete table inet %s\n"
                                             "add table bridge %s\ndelete table bridge %s\n",
                                             t, t, t, t);
    return bh_nft_run(script, err);
}

struct lease_find {
    const char *id;
    uint32_t addr[4];
    int n;
};

static int lease_find_cb(int dfd, const char *addr, const char *owner, void *data)
{
    (void)dfd;
    struct lease_find *lf = data;
    struct in_addr a;
    if (!strcmp(owner, lf->id) && lf->n < 4 && inet_pton(AF_INET, addr, &a) == 1)
        lf->addr[lf->n++] = ntohl(a.s_addr);
    return 0;
}

static void mac_str(uint32_t addr, char out[18])
{
    uint8_t m[6];
    bh_net_session_mac(addr, m);
    snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* Script lines that take the inet part of session `id` at `addr` out of
 * the tables, whether or not it is there: an element is added (a no-op if
 * it is there) and then deleted, and the chain is created if missing and
 * flushed. They fail only if `addr` maps to another session's chain. */
static void put_inet_remove(FILE *f, const char *t, const char *id, uint32_t addr)
{
    char a[INET_ADDRSTRLEN];
    bh_net_addr_str(addr, a);
    fprintf(f,
            "add chain inet %s " CHAIN_PREFIX "%s\n"
            "add element inet %s sessions4 { %s : goto " CHAIN_PREFIX "%s }\n"
            "delete element inet %s sessions4 { %s }\n"
            "add element inet %s online4 { %s }\n"
            "delete element inet %s online4 { %s }\n"
            "flush chain inet %s " CHAIN_PREFIX "%s\n",
            t, id, t, a, id, t, a, t, a, t, a, t, id);
}

/* The same for the bridge part; the port's own element only if the veth
 * is this session's (another id may share the veth name). */
static void put_bridge_remove(FILE *f, const char *t, const char *veth, uint32_t addr,
                              int port_ours)
{
    char a[INET_ADDRSTRLEN], m[18];
    bh_net_addr_str(addr, a);
    mac_str(addr, m);
    fprintf(f,
            "add element bridge %s ports { \"%s\" . %s . %s }\n"
            "delete element bridge %s ports { \"%s\" . %s . %s }\n",
            t, veth, m, a, t, veth, m, a);
    if (port_ours)
        fprintf(f,
                "add element bridge %s our_ports { \"%s\" }\n"
                "delete element bridge %s our_ports { \"%s\" }\n",
                t, veth, t, veth);
}

static int check_policy(const struct bh_net_policy *p, bh_err_t *err)
{
    if (!p)
        return bh_err_set(err, EINVAL, "no policy");
    if (p->mode != BH_NET_INTERNET && p->mode != BH_NET_NONE && p->mode != BH_NET_ALLOWLIST)
        return bh_err_set(err, EINVAL, "unknown policy mode %d", (int)p->mode);
    if (p->mode == BH_NET_NONE)
        return 0;
    return bh_net_rules_check(p->allow, p->nallow, "allow", err);
}

int bh_net_session_policy(const struct bh_net_config *cfg, const char *id,
                          const struct bh_net_policy *policy, bh_err_t *err)
{
    struct subnet sn;
    if (bh_net_check_config(cfg, &sn, err) < 0 || bh_net_check_id(id, err) < 0 ||
        check_policy(policy, err) < 0)
        return bh_err_wrap(err, "net policy %s", id ? id : "");
    struct bh_net_session s;
    bh_net_session_names(id, &s);

    /* The veth must be this session's: its rules name the port. */
    struct bh_nl host;
    if (bh_rtnl_open(&host, err) < 0)
        return bh_err_wrap(err, "net policy %s", id);
    struct bh_link_info veth;
    int rc = bh_rtnl_link_get(&host, s.veth_host, &veth, err);
    bh_rtnl_close(&host);
    if (rc < 0)
        return bh_err_wrap(err, "net policy %s: not set up", id);
    if (strcmp(veth.alias, id) != 0)
        return bh_err_set(err, EEXIST, "net policy %s: %s belongs to session %s", id, s.veth_host,
                          veth.alias[0] ? veth.alias : "(none)");
    struct lease_find lf = {.id = id};
    if (bh_net_lease_each(lease_find_cb, &lf, err) < 0)
        return bh_err_wrap(err, "net policy %s", id);
    if (lf.n != 1)
        return bh_err_set(err, lf.n ? EEXIST : ENOENT, "net policy %s: %d address leases, not 1",
                          id, lf.n);
    uint32_t addr = lf.addr[0];
    if ((addr & ~(0xffffffffu >> sn.prefix)) != sn.net)
        return bh_err_set(err, EINVAL, "net policy %s: its address is not in %s", id, cfg->subnet);

    char t[TABLE_MAX + 1], a[INET_ADDRSTRLEN], m[18];
    table_name(cfg, t);
    bh_net_addr_str(addr, a);
    mac_str(addr, m);
    struct bh_nft_script sc;
    bh_nft_script_open(&sc);
    FILE *f = sc.f;
    put_inet_remove(f, t, id, addr);
    fprintf(f,
            "add element bridge %s our_ports { \"%s\" }\n"
            "add element bridge %s ports { \"%s\" . %s . %s }\n",
            t, s.veth_host, t, s.veth_host, m, a);
    if (policy->mode == BH_NET_NONE) {
        fprintf(f, "delete chain inet %s " CHAIN_PREFIX "%s\n", t, id);
    } else {
        fprintf(f, "add rule inet %s " CHAIN_PREFIX "%s jump egress_common\n", t, id);
        for (int i = 0; i < policy->nallow; i++) {
            fprintf(f, "add rule inet %s " CHAIN_PREFIX "%s ", t, id);
            bh_net_put_match(f, &policy->allow[i]);
            fputs(" accept\n", f);
        }
        fprintf(f, "add rule inet %s " CHAIN_PREFIX "%s %s\n", t, id,
                policy->mode == BH_NET_INTERNET ? "goto egress_public" : "drop");
        fprintf(f,
                "add element inet %s sessions4 { %s : goto " CHAIN_PREFIX "%s }\n"
                "add element inet %s online4 { %s }\n",
                t, a, id, t, a);
    }
    cleanup_free char *script = bh_nft_script_close(&sc);
    if (bh_nft_run(script, err) < 0)
        return bh_err_wrap(err, "net policy %s", id);
    return 0;
}

/* ---- removal ---- */

static int ip_ok(const char *s)
{
    struct in_addr a;
    return s && inet_pton(AF_INET, s, &a) == 1;
}

static int mac_ok(const char *s)
{
    return s && strlen(s) == 17 && strspn(s, "0123456789abcdefABCDEF:") == 17;
}

/* The slow way, for when the lease is gone or the quick removal failed:
 * list our tables and remove whatever names session `id` — its chain, the
 * addresses that lead to it, its port (if the veth is ours). */
static int nft_session_sweep(const char *t, const char *id, const char *veth, int port_ours,
                             bh_err_t *err)
{
    json_t *tables = bh_nft_list_json("list tables", err);
    if (!tables)
        return -1;
    int have_inet = bh_nft_has_table(tables, "inet", t);
    int have_br = bh_nft_has_table(tables, "bridge", t);
    json_decref(tables);
    char chain[sizeof CHAIN_PREFIX + ID_MAX + 1];
    snprintf(chain, sizeof chain, CHAIN_PREFIX "%s", id);
    struct bh_nft_script sc;
    bh_nft_script_open(&sc);
    FILE *f = sc.f;
    int n = 0, rc = 0;
    const char *addrs[64];
    int naddrs = 0;
    json_t *inet = NULL, *brj = NULL;
    if (have_inet) {
        cleanup_free char *cmd = bh_xasprintf("list table inet %s", t);
        inet = bh_nft_list_json(cmd, err);
        if (!inet)
            rc = -1;
    }
    if (inet) {
        json_t *map = bh_nft_find(inet, "map", "sessions4"), *el;
        size_t i;
        json_array_foreach(json_object_get(map, "elem"), i, el)
        {
            const char *key = json_string_value(json_array_get(el, 0));
            json_t *v = json_array_get(el, 1);
            json_t *g = json_object_get(v, "goto");
            if (!g)
                g = json_object_get(v, "jump");
            const char *target = bh_json_str(g, "target");
            if (ip_ok(key) && target && !strcmp(target, chain) && naddrs < 64) {
                addrs[naddrs++] = key;
                fprintf(f, "delete element inet %s sessions4 { %s }\n", t, key);
                n++;
            }
        }
        json_t *online = bh_nft_find(inet, "set", "online4");
        json_array_foreach(json_object_get(online, "elem"), i, el)
        {
            const char *key = json_string_value(el);
            for (int k = 0; key && k < naddrs; k++)
                if (!strcmp(key, addrs[k])) {
                    fprintf(f, "delete element inet %s online4 { %s }\n", t, key);
                    n++;
                }
        }
        if (bh_nft_find(inet, "chain", chain)) {
            fprintf(f, "flush chain inet %s %s\ndelete chain inet %s %s\n", t, chain, t, chain);
            n++;
        }
    }
    if (rc == 0 && have_br) {
        cleanup_free char *cmd = bh_xasprintf("list table bridge %s", t);
        brj = bh_nft_list_json(cmd, err);
        if (!brj)
            rc = -1;
    }
    if (brj) {
        json_t *el;
        size_t i;
        json_array_foreach(json_object_get(bh_nft_find(brj, "set", "our_ports"), "elem"), i, el)
        {
            const char *name = json_string_value(el);
            if (port_ours && name && !strcmp(name, veth)) {
                fprintf(f, "delete element bridge %s our_ports { \"%s\" }\n", t, veth);
                n++;
            }
        }
        json_array_foreach(json_object_get(bh_nft_find(brj, "set", "ports"), "elem"), i, el)
        {
            json_t *c = json_object_get(el, "concat");
            const char *name = json_string_value(json_array_get(c, 0));
            const char *mac = json_string_value(json_array_get(c, 1));
            const char *ip = json_string_value(json_array_get(c, 2));
            if (!name || strcmp(name, veth) != 0 || !mac_ok(mac) || !ip_ok(ip))
                continue;
            int mine = port_ours;
            for (int k = 0; k < naddrs; k++)
                mine |= !strcmp(ip, addrs[k]);
            if (mine) {
                fprintf(f, "delete element bridge %s ports { \"%s\" . %s . %s }\n", t, veth, mac,
                        ip);
                n++;
            }
        }
    }
    cleanup_free char *script = bh_nft_script_close(&sc);
    if (rc == 0 && n > 0)
        rc = bh_nft_run(script, err);
    json_decref(inet);
    json_decref(brj);
    return rc;
}

/* Take session `id` out of the tables: quickly, by the names its lease
 * gives, else by listing (see nft_session_sweep). Nothing there is success;
 * so are tables that do not exist. */
int bh_net_policy_remove(const struct bh_net_config *cfg, const char *id, const char *veth,
                         int port_ours, bh_err_t *err)
{
    char t[TABLE_MAX + 1];
    table_name(cfg, t);
    struct lease_find lf = {.id = id};
    if (bh_net_lease_each(lease_find_cb, &lf, err) < 0)
        return -1;
    if (lf.n > 0) {
        struct bh_nft_script sc;
        bh_nft_script_open(&sc);
        for (int i = 0; i < lf.n; i++) {
            put_inet_remove(sc.f, t, id, lf.addr[i]);
            put_bridge_remove(sc.f, t, veth, lf.addr[i], port_ours && i == 0);
        }
        fprintf(sc.f, "delete chain inet %s " CHAIN_PREFIX "%s\n", t, id);
        cleanup_free char *script = bh_nft_script_close(&sc);
        if (bh_nft_run(script, NULL) == 0)
            return 0;
    }
    return nft_session_sweep(t, id, veth, port_ours, err);
}
