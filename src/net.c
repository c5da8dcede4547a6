/* net.c — see net.h.
 *
 * Threads. Every function may run in any thread, concurrently with the others.
 * The calling thread never changes its network namespace: a session namespace
 * is made by a short-lived helper thread that unshares its own netns, pins it
 * with a bind mount on /run/netns/bh-<id> and opens a netlink socket in it,
 * then exits. The caller configures the namespace through that socket (a
 * netlink socket stays in the netns it was created in). Each call opens its
 * own netlink sockets; libnftables runs under one process-wide mutex with
 * one context kept for the process.
 *
 * Leases. /run/bulkhead/net/leases/<addr> is a symlink whose target is the
 * owning session id. symlink() is atomic and fails when the name exists, so
 * it is the lock between threads and processes, it can never be left empty
 * by a crash, and it survives the daemon so recovery can free it.
 *
 * Ownership tags. A host veth is named "bhv" + the first 12 characters of the
 * id (IFNAMSIZ), so two ids may share a name; the host side carries the full
 * id as its ifalias and teardown deletes only a veth whose alias is its id.
 *
 * Order of setup: lease, netns, veth (its peer's MAC derived from the
 * address; an isolated bridge port), address, route; then the policy's nft
 * elements. Teardown undoes them in reverse: rules first, lease last (its
 * address's conntrack entries just before it, see "Conntrack"). A crash
 * in between leaves a lease or a netns named after the id, and bh_net_list()
 * reports both, so recovery can finish the teardown (while a session has
 * rules it has its lease, which names its address).
 *
 * Egress policy: see "nftables: the egress policy" below for the layout. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "net.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "util.h"

#define NETNS_DIR "/run/netns"
#define NETNS_PREFIX "bh-"
#define VETH_PREFIX "bhv"
#define VETH_ID_CHARS 12
#define PEER_NAME "eth0"
#define LEASE_DIR "/run/bulkhead/net/leases"
#define DEFAULT_BRIDGE "bh0"
#define DEFAULT_TABLE "bulkhead"
#define TABLE_MAX 64
#define ID_MAX 59 /* "bh-" + id + NUL fits bh_net_session.netns[64] */

/* ------------------------------------------------------------------ */
/* Names and addresses                                                 */
/* ------------------------------------------------------------------ */

/* An IPv4 subnet in host byte order; `net` has no host bits. */
struct subnet {
    uint32_t net;
    unsigned prefix;
};

static int valid_name_chars(const char *s, const char *extra)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr(extra, *s)))
            return 0;
    return 1;
}

static int check_id(const char *id, bh_err_t *err)
{
    if (!id || !*id || strlen(id) > ID_MAX || !valid_name_chars(id, "_-"))
        return bh_err_set(err, EINVAL, "bad session id \"%s\"", id ? id : "(null)");
    return 0;
}

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

/* "10.213.0.0/16" -> {0x0ad50000, 16}. Host bits are masked off. The prefix
 * must leave room for the bridge and at least one session (<= 30). */
static int parse_subnet(const char *s, struct subnet *out, bh_err_t *err)
{
    char buf[INET_ADDRSTRLEN + 4];
    if (!s || strlen(s) >= sizeof buf)
        return bh_err_set(err, EINVAL, "bad subnet \"%s\"", s ? s : "(null)");
    strcpy(buf, s);
    char *slash = strchr(buf, '/');
    if (!slash)
        return bh_err_set(err, EINVAL, "subnet \"%s\" has no /prefix", s);
    *slash = 0;
    struct in_addr a;
    char *end;
    unsigned long p = strtoul(slash + 1, &end, 10);
    if (inet_pton(AF_INET, buf, &a) != 1 || *end || slash[1] == 0 || p < 1 || p > 30)
        return bh_err_set(err, EINVAL, "bad subnet \"%s\" (want a.b.c.d/1..30)", s);
    out->prefix = (unsigned)p;
    out->net = ntohl(a.s_addr) & (0xffffffffu << (32 - p));
    return 0;
}

static uint32_t subnet_broadcast(const struct subnet *sn)
{
    return sn->net | (0xffffffffu >> sn->prefix);
}

static void addr_str(uint32_t host_order, char out[INET_ADDRSTRLEN])
{
    struct in_addr a = {htonl(host_order)};
    inet_ntop(AF_INET, &a, out, INET_ADDRSTRLEN);
}

/* Bridge, subnet and table of a config, checked so they are safe to put in
 * an nft script and in netlink messages. */
static int check_config(const struct bh_net_config *cfg, struct subnet *sn, bh_err_t *err)
{
    if (!cfg || !cfg->bridge || !*cfg->bridge || strlen(cfg->bridge) >= IFNAMSIZ ||
        !valid_name_chars(cfg->bridge, "_-."))
        return bh_err_set(err, EINVAL, "bad bridge name \"%s\"",
                          cfg && cfg->bridge ? cfg->bridge : "(null)");
    if (cfg->nft_table && (strlen(cfg->nft_table) > TABLE_MAX ||
                           !valid_name_chars(cfg->nft_table, "_")))
        return bh_err_set(err, EINVAL, "bad nft table name \"%s\"", cfg->nft_table);
    return parse_subnet(cfg->subnet, sn, err);
}

/* A stable locally administered MAC for the bridge: with an address of its
 * own the bridge does not take over a port's MAC whenever a session comes or
 * goes, which would leave stale gateway entries in the sessions' ARP caches. */
static void bridge_mac(const char *name, uint8_t mac[6])
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    mac[0] = 0x02;
    mac[1] = 0x62; /* 'b' */
    mac[2] = (uint8_t)(h >> 24);
    mac[3] = (uint8_t)(h >> 16);
    mac[4] = (uint8_t)(h >> 8);
    mac[5] = (uint8_t)h;
}

/* The MAC of a session's eth0, derived from its address (06:62:a.b.c.d,
 * locally administered unicast): the bridge's anti-spoofing set can then be
 * rebuilt from the address alone, also by a teardown after a crash. */
static void session_mac(uint32_t addr, uint8_t mac[6])
{
    mac[0] = 0x06;
    mac[1] = 0x62; /* 'b' */
    mac[2] = (uint8_t)(addr >> 24);
    mac[3] = (uint8_t)(addr >> 16);
    mac[4] = (uint8_t)(addr >> 8);
    mac[5] = (uint8_t)addr;
}

/* ------------------------------------------------------------------ */
/* rtnetlink                                                           */
/* ------------------------------------------------------------------ */

/* One rtnetlink socket, bound to the netns of the thread that opened it. */
struct nl {
    struct mnl_socket *sock;
    unsigned portid;
    unsigned seq;
};

static void nl_close(struct nl *nl)
{
    if (nl->sock)
        mnl_socket_close(nl->sock);
    nl->sock = NULL;
}

/* A socket of netlink family `bus` (NETLINK_ROUTE, NETLINK_NETFILTER). */
static int nl_open_bus(struct nl *nl, int bus, bh_err_t *err)
{
    memset(nl, 0, sizeof *nl);
    nl->sock = mnl_socket_open2(bus, SOCK_CLOEXEC);
    if (!nl->sock)
        return bh_err_set(err, errno, "netlink socket");
    if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
        int e = errno;
        nl_close(nl);
        return bh_err_set(err, e, "netlink bind");
    }
    int one = 1;
    /* Best effort: the kernel's own words in errors, without echoed requests. */
    mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof one);
    mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof one);
    nl->portid = mnl_socket_get_portid(nl->sock);
    return 0;
}

static int nl_open(struct nl *nl, bh_err_t *err) { return nl_open_bus(nl, NETLINK_ROUTE, err); }

/* Fill err from an NLMSG_ERROR carrying a non-zero error. */
static int nl_error(const struct nlmsghdr *nlh, const char *what, bh_err_t *err)
{
    const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
    int errnum = e->error < 0 ? -e->error : EPROTO;
    const char *kmsg = NULL;
    if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
        size_t off = sizeof *e;
        if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
            off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
        const struct nlattr *a;
        mnl_attr_for_each(a, nlh, off) {
            if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
                mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
                kmsg = mnl_attr_get_str(a);
        }
    }
    if (kmsg && *kmsg)
        return bh_err_set(err, errnum, "%s (%s)", what, kmsg);
    return bh_err_set(err, errnum, "%s", what);
}

/* Send one request and read until its ack (or NLMSG_DONE for a dump), giving
 * every data message to cb (if not NULL). Returns 0, or -1 with err->status
 * the kernel's errno and err->msg starting with `what`. */
static int nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data, const char *what,
                   bh_err_t *err)
{
    int dump = (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
    if (!dump)
        nlh->nlmsg_flags |= NLM_F_ACK;
    nlh->nlmsg_seq = ++nl->seq;
    if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
        return bh_err_set(err, errno, "%s: netlink send", what);
    size_t size = 32768; /* a dump of many links; MNL_SOCKET_DUMP_SIZE */
    cleanup_free char *buf = bh_xmalloc(size);
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl->sock, buf, size);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return bh_err_set(err, errno, "%s: netlink receive", what);
        }
        int len = (int)n;
        for (const struct nlmsghdr *m = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(m, len);
             m = mnl_nlmsg_next(m, &len)) {
            if (m->nlmsg_seq != nl->seq || m->nlmsg_pid != nl->portid)
                continue; /* not ours (a stale reply) */
            if (m->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = mnl_nlmsg_get_payload(m);
                if (e->error == 0)
                    return 0;
                return nl_error(m, what, err);
            }
            if (m->nlmsg_type == NLMSG_DONE)
                return 0;
            if (cb && cb(m, data) < MNL_CB_OK)
                return bh_err_set(err, EPROTO, "%s: bad netlink reply", what);
        }
    }
}

static struct nlmsghdr *link_msg(char *buf, uint16_t type, uint16_t flags, int index,
                                 unsigned up)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
    ifm->ifi_family = AF_UNSPEC;
    ifm->ifi_index = index;
    if (up) {
        ifm->ifi_flags = IFF_UP;
        ifm->ifi_change = IFF_UP;
    }
    return nlh;
}

struct link_info {
    int index;
    unsigned mtu;
    int master;
    char alias[128];
};

static int link_info_attr_cb(const struct nlattr *a, void *data)
{
    struct link_info *li = data;
    switch (mnl_attr_get_type(a)) {
    case IFLA_MTU:
        if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
            li->mtu = mnl_attr_get_u32(a);
        break;
    case IFLA_MASTER:
        if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
            li->master = (int)mnl_attr_get_u32(a);
        break;
    case IFLA_IFALIAS:
        if (mnl_attr_validate(a, MNL_TYPE_STRING) == 0)
            snprintf(li->alias, sizeof li->alias, "%.*s", (int)mnl_attr_get_payload_len(a),
                     mnl_attr_get_str(a));
        break;
    }
    return MNL_CB_OK;
}

static int link_info_cb(const struct nlmsghdr *nlh, void *data)
{
    struct link_info *li = data;
    if (nlh->nlmsg_type != RTM_NEWLINK)
        return MNL_CB_OK;
    const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
    li->index = ifm->ifi_index;
    return mnl_attr_parse(nlh, sizeof *ifm, link_info_attr_cb, li);
}

/* Look a link up by name. A missing link is -1 with err->status ENODEV. */
static int link_get(struct nl *nl, const char *name, struct link_info *out, bh_err_t *err)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = link_msg(buf, RTM_GETLINK, 0, 0, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    memset(out, 0, sizeof *out);
    if (nl_talk(nl, nlh, link_info_cb, out, name, err) < 0)
        return -1;
    if (out->index <= 0)
        return bh_err_set(err, ENODEV, "%s: no such link", name);
    return 0;
}

/* Delete a link by name; a link that does not exist is success. */
static int link_del(struct nl *nl, const char *name, bh_err_t *err)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = link_msg(buf, RTM_DELLINK, 0, 0, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    cleanup_free char *what = bh_xasprintf("delete link %s", name);
    bh_err_t e = BH_ERR_INIT;
    if (nl_talk(nl, nlh, NULL, NULL, what, &e) < 0) {
        if (e.status == ENODEV) {
            bh_err_clear(&e);
            return 0;
        }
        bh_err_set(err, e.status, "%s", bh_err_msg(&e));
        bh_err_clear(&e);
        return -1;
    }
    return 0;
}

/* Create the bridge or, if it exists, bring it to the wanted state (up, our
 * MAC). A non-bridge link of that name is an error (EOPNOTSUPP). */
static int bridge_ensure(struct nl *nl, const char *name, bh_err_t *err)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE, 0, 1);
    uint8_t mac[6];
    bridge_mac(name, mac);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    mnl_attr_put(nlh, IFLA_ADDRESS, sizeof mac, mac);
    struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
    mnl_attr_nest_end(nlh, li);
    cleanup_free char *what = bh_xasprintf("create bridge %s", name);
    return nl_talk(nl, nlh, NULL, NULL, what, err);
}

/* Add (or with replace, re-add) addr/prefix on a link. */
static int addr_add(struct nl *nl, int index, uint32_t addr, const struct subnet *sn, int replace,
                    bh_err_t *err)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWADDR;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL);
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = (uint8_t)sn->prefix;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (unsigned)index;
    uint32_t a = htonl(addr), b = htonl(subnet_broadcast(sn));
    mnl_attr_put_u32(nlh, IFA_LOCAL, a);
    mnl_attr_put_u32(nlh, IFA_ADDRESS, a);
    mnl_attr_put_u32(nlh, IFA_BROADCAST, b);
    char s[INET_ADDRSTRLEN];
    addr_str(addr, s);
    cleanup_free char *what = bh_xasprintf("add address %s/%u", s, sn->prefix);
    return nl_talk(nl, nlh, NULL, NULL, what, err);
}

static int route_add_default(struct nl *nl, int index, uint32_t gw, bh_err_t *err)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWROUTE;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
    struct rtmsg *rt = mnl_nlmsg_put_extra_header(nlh, sizeof *rt);
    rt->rtm_family = AF_INET;
    rt->rtm_dst_len = 0;
    rt->rtm_table = RT_TABLE_MAIN;
    rt->rtm_protocol = RTPROT_BOOT;
    rt->rtm_scope = RT_SCOPE_UNIVERSE;
    rt->rtm_type = RTN_UNICAST;
    mnl_attr_put_u32(nlh, RTA_GATEWAY, htonl(gw));
    mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)index);
    return nl_talk(nl, nlh, NULL, NULL, "add default route", err);
}

/* The host side `name` (up, MTU, port of bridge `master`) and its peer
 * PEER_NAME (down, same MTU) created directly in the netns `ns_fd`. */
static int veth_create(struct nl *nl, const char *name, int master, unsigned mtu, int ns_fd,
                       const uint8_t peer_mac[6], bh_err_t *err)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0, 1);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
    mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
    struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
    struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    struct nlattr *peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
    struct ifinfomsg *pifm = mnl_nlmsg_put_extra_header(nlh, sizeof *pifm);
    pifm->ifi_family = AF_UNSPEC; /* not up here: the kernel (6.x) refuses
                                   * with ENOTCONN, the pair is not linked yet */
    mnl_attr_put_strz(nlh, IFLA_IFNAME, PEER_NAME);
    mnl_attr_put(nlh, IFLA_ADDRESS, 6, peer_mac);
    mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
    mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)ns_fd);
    mnl_attr_nest_end(nlh, peer);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, li);
    cleanup_free char *what = bh_xasprintf("create veth %s", name);
    return nl_talk(nl, nlh, NULL, NULL, what, err);
}

/* Tag a session's host veth with its id (the ifalias) and make it an
 * isolated bridge port: the bridge forwards nothing from one isolated port
 * to another, so sessions cannot reach each other at layer 2 (not even with
 * a forged neighbour entry); each still talks to the bridge itself, the
 * gateway. */
static int port_tag(struct nl *nl, const char *name, const char *alias, bh_err_t *err)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, 0, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    mnl_attr_put_strz(nlh, IFLA_IFALIAS, alias);
    struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_SLAVE_KIND, "bridge");
    struct nlattr *sd = mnl_attr_nest_start(nlh, IFLA_INFO_SLAVE_DATA);
    mnl_attr_put_u8(nlh, IFLA_BRPORT_ISOLATED, 1);
    mnl_attr_nest_end(nlh, sd);
    mnl_attr_nest_end(nlh, li);
    cleanup_free char *what = bh_xasprintf("tag and isolate bridge port %s", name);
    return nl_talk(nl, nlh, NULL, NULL, what, err);
}

/* Up a link (by index; `name` is for messages). */
static int link_up(struct nl *nl, const char *name, int index, bh_err_t *err)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, index, 1);
    cleanup_free char *what = bh_xasprintf("set link %s up", name);
    return nl_talk(nl, nlh, NULL, NULL, what, err);
}

static int count_ports_cb(const struct nlmsghdr *nlh, void *data)
{
    int *ports = data;
    struct link_info li = {0};
    if (link_info_cb(nlh, &li) < MNL_CB_OK)
        return MNL_CB_ERROR;
    if (li.master && li.master == ports[0])
        ports[1]++;
    return MNL_CB_OK;
}

/* Number of links whose master is the link `master`. */
static int bridge_ports(struct nl *nl, int master, bh_err_t *err)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = link_msg(buf, RTM_GETLINK, NLM_F_DUMP, 0, 0);
    int ports[2] = {master, 0};
    if (nl_talk(nl, nlh, count_ports_cb, ports, "list links", err) < 0)
        return -1;
    return ports[1];
}

/* ------------------------------------------------------------------ */
/* nftables: the egress policy                                         */
/* ------------------------------------------------------------------ */

/* Layout. Everything lives in two tables of our own, "inet T" and
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

/* Destinations no session ever reaches, whatever its policy or the
 * operator's lists; the session subnet (the bridge, every other session) is
 * added at init. The host's own addresses need no list: packets to them
 * take the input hook, where only the resolver is open. */
static const char NEVER4[] = "0.0.0.0/8, 127.0.0.0/8, 224.0.0.0/4, 240.0.0.0/4";
static const char NEVER6[] = "::/96, ::ffff:0:0/96, ff00::/8";
/* Link-local, incl. the cloud metadata services: only the operator's
 * always_allow opens them, never a session's own allow-list or proxy. */
static const char LINKLOCAL4[] = "169.254.0.0/16";
static const char LINKLOCAL6[] = "fd00:ec2::254, fe80::/10";
/* Not public: `internet` denies them; an allow-list entry or the operator's
 * always_allow may open them. The documentation ranges (192.0.2.0/24,
 * 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) count as public: the
 * tests' "internet" lives there. */
static const char PRIVATE4[] = "10.0.0.0/8, 100.64.0.0/10, 172.16.0.0/12, 192.0.0.0/24, "
                               "192.168.0.0/16, 198.18.0.0/15";
static const char PRIVATE6[] = "64:ff9b::/96, 64:ff9b:1::/48, 100::/64, 2001::/23, 2002::/16, "
                               "fc00::/7, fec0::/10";

#define CHAIN_PREFIX "sess_"
#define MAX_RULES 256 /* per list: operator allow/deny, a session's allow */

/* libnftables contexts are not thread-safe and the library has had global
 * state: one call at a time. The context is kept for the life of the
 * process: a new one fetches the whole ruleset into freshly allocated hash
 * tables (128 KiB per table of every owner on the host), which made each
 * policy change cost ~8 ms instead of <1 ms. The cache stays correct: nft
 * checks the ruleset's generation before each command and refetches after
 * any change (ours or another process's). A forked child makes its own (the
 * parent's netlink socket is the parent's). */
static pthread_mutex_t nft_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nft_ctx *nft_ctx_kept;
static pid_t nft_ctx_pid;

/* Run an nft script (one transaction). With out != NULL, the output of its
 * list commands as JSON (caller frees). */
static int nft_exec(const char *script, char **out, bh_err_t *err)
{
    pthread_mutex_lock(&nft_lock);
    int rc = 0;
    if (!nft_ctx_kept || nft_ctx_pid != getpid()) {
        nft_ctx_kept = nft_ctx_new(NFT_CTX_DEFAULT); /* an inherited one is left alone */
        nft_ctx_pid = getpid();
        if (nft_ctx_kept) {
            nft_ctx_buffer_output(nft_ctx_kept);
            nft_ctx_buffer_error(nft_ctx_kept);
        }
    }
    struct nft_ctx *ctx = nft_ctx_kept;
    if (!ctx) {
        rc = bh_err_set(err, ENOMEM, "nft context");
    } else {
        nft_ctx_output_set_flags(ctx, out ? NFT_CTX_OUTPUT_JSON : 0);
        int failed = nft_run_cmd_from_buffer(ctx, script) != 0;
        /* both buffers are read (and so emptied) on every call */
        const char *o = nft_ctx_get_output_buffer(ctx);
        const char *e = nft_ctx_get_error_buffer(ctx);
        if (failed) {
            size_t n = e ? strlen(e) : 0;
            while (n && (e[n - 1] == '\n' || e[n - 1] == ' '))
                n--;
            rc = bh_err_set(err, EINVAL, "nft: %.*s", (int)n, n ? e : "failed");
        } else if (out) {
            *out = bh_xstrdup(o ? o : "");
        }
    }
    pthread_mutex_unlock(&nft_lock);
    return rc;
}

static int nft_run(const char *script, bh_err_t *err) { return nft_exec(script, NULL, err); }

/* A script under construction (open_memstream). */
struct script {
    FILE *f;
    char *buf;
    size_t len;
};

static void script_open(struct script *s)
{
    s->buf = NULL;
    s->len = 0;
    s->f = open_memstream(&s->buf, &s->len);
    if (!s->f)
        abort();
}

/* Close and return the text (caller frees). */
static char *script_close(struct script *s)
{
    fclose(s->f);
    s->f = NULL;
    return steal_pointer(&s->buf);
}

/* ---- rules ---- */

static int is_v6(const char *cidr) { return strchr(cidr, ':') != NULL; }

int bh_net_rule_parse(const char *cidr, const uint16_t *ports, int nports,
                      struct bh_net_rule *out, bh_err_t *err)
{
    struct bh_net_rule r;
    memset(&r, 0, sizeof r);
    if (out)
        memset(out, 0, sizeof *out);
    if (!cidr || !*cidr)
        return bh_err_set(err, EINVAL, "empty address");
    char buf[INET6_ADDRSTRLEN + 8];
    if (strlen(cidr) >= sizeof buf)
        return bh_err_set(err, EINVAL, "\"%.60s...\" is too long for an address/prefix", cidr);
    strcpy(buf, cidr);
    long prefix = -1;
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = 0;
        const char *p = slash + 1;
        size_t n = strlen(p);
        if (n == 0 || n > 3 || strspn(p, "0123456789") != n || (n > 1 && p[0] == '0'))
            return bh_err_set(err, EINVAL, "\"%s\": the prefix length after '/' must be a number",
                              cidr);
        prefix = strtol(p, NULL, 10);
    }
    unsigned char a[16];
    int fam, bits;
    /* inet_pton takes only the dotted-quad form for IPv4: no 3232289281,
     * 0xc0a8d501, 0300.0250.0325.01 or 192.168.54281 spellings. */
    if (inet_pton(AF_INET, buf, a) == 1) {
        fam = AF_INET;
        bits = 32;
    } else if (inet_pton(AF_INET6, buf, a) == 1) {
        fam = AF_INET6;
        bits = 128;
    } else {
        return bh_err_set(err, EINVAL,
                          "\"%s\" is not an address or CIDR (IPv4 as a.b.c.d[/n] in decimal, "
                          "or IPv6)",
                          cidr);
    }
    if (prefix < 0)
        prefix = bits;
    if (prefix > bits)
        return bh_err_set(err, EINVAL, "\"%s\": prefix length %ld is more than %d", cidr, prefix,
                          bits);
    unsigned char net[16];
    for (int i = 0; i < bits / 8; i++) {
        long keep = prefix - 8L * i;
        unsigned mask = keep >= 8 ? 0xffu : keep <= 0 ? 0u : (0xffu << (8 - keep)) & 0xffu;
        net[i] = (unsigned char)(a[i] & mask);
    }
    char ns[INET6_ADDRSTRLEN];
    inet_ntop(fam, net, ns, sizeof ns);
    if (memcmp(net, a, (size_t)bits / 8) != 0)
        return bh_err_set(err, EINVAL,
                          "\"%s\" has bits set after the prefix (the network is %s/%ld)", cidr, ns,
                          prefix);
    snprintf(r.cidr, sizeof r.cidr, "%s/%ld", ns, prefix);
    if (nports < 0 || nports > (int)(sizeof r.ports / sizeof r.ports[0]) || (nports && !ports))
        return bh_err_set(err, EINVAL, "%s: at most %zu ports", cidr,
                          sizeof r.ports / sizeof r.ports[0]);
    for (int i = 0; i < nports; i++) {
        if (ports[i] == 0)
            return bh_err_set(err, EINVAL, "%s: port 0 is not a port", cidr);
        int j = 0; /* insert sorted, without duplicates */
        while (j < r.nports && r.ports[j] < ports[i])
            j++;
        if (j < r.nports && r.ports[j] == ports[i])
            continue;
        memmove(&r.ports[j + 1], &r.ports[j], (size_t)(r.nports - j) * sizeof r.ports[0]);
        r.ports[j] = ports[i];
        r.nports++;
    }
    if (out)
        *out = r;
    return 0;
}

/* A rule from a caller is only written into a script once it parses back
 * to itself: nothing but a canonical CIDR and real ports gets in. */
static int rule_check(const struct bh_net_rule *r, const char *what, int i, bh_err_t *err)
{
    struct bh_net_rule c;
    char cidr[sizeof r->cidr + 1];
    snprintf(cidr, sizeof cidr, "%.*s", (int)sizeof r->cidr, r->cidr);
    if (r->nports < 0 || r->nports > (int)(sizeof r->ports / sizeof r->ports[0]))
        return bh_err_set(err, EINVAL, "%s[%d]: bad port count %d", what, i, r->nports);
    if (bh_net_rule_parse(cidr, r->ports, r->nports, &c, err) < 0)
        return bh_err_wrap(err, "%s[%d]", what, i);
    if (strcmp(c.cidr, cidr) != 0)
        return bh_err_set(err, EINVAL, "%s[%d]: \"%s\" is not as bh_net_rule_parse() writes it",
                          what, i, cidr);
    return 0;
}

static int rules_check(const struct bh_net_rule *v, int n, const char *what, bh_err_t *err)
{
    if (n < 0 || n > MAX_RULES || (n && !v))
        return bh_err_set(err, EINVAL, "%s: %d rules (at most %d)", what, n, MAX_RULES);
    for (int i = 0; i < n; i++)
        if (rule_check(&v[i], what, i, err) < 0)
            return -1;
    return 0;
}

/* ---- public space: what a session's owner may open ---- */

/* An address and prefix length, from a canonical rule or a table entry. */
struct prefix {
    int v6;
    unsigned char a[16];
    int len;
};

static int prefix_parse(const char *s, size_t n, struct prefix *p)
{
    char buf[INET6_ADDRSTRLEN + 8];
    if (n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = 0;
    memset(p, 0, sizeof *p);
    if (inet_pton(AF_INET, buf, p->a) == 1)
        p->len = 32;
    else if (inet_pton(AF_INET6, buf, p->a) == 1)
        p->v6 = 1, p->len = 128;
    else
        return -1;
    int bits = p->len;
    if (slash)
        p->len = atoi(slash + 1);
    return p->len >= 0 && p->len <= bits ? 0 : -1;
}

static int bit_at(const unsigned char *a, int i) { return (a[i / 8] >> (7 - i % 8)) & 1; }

/* 1 if the first n bits of a and b are the same. */
static int same_bits(const unsigned char *a, const unsigned char *b, int n)
{
    if (memcmp(a, b, (size_t)n / 8))
        return 0;
    for (int i = n / 8 * 8; i < n; i++)
        if (bit_at(a, i) != bit_at(b, i))
            return 0;
    return 1;
}

/* 1 if inner lies within outer. */
static int prefix_within(const struct prefix *inner, const struct prefix *outer)
{
    return inner->v6 == outer->v6 && inner->len >= outer->len &&
           same_bits(inner->a, outer->a, outer->len);
}

/* 1 if g opens every port that r names (r without ports: every port). */
static int ports_cover(const struct bh_net_rule *g, const struct bh_net_rule *r)
{
    if (g->nports == 0)
        return 1;
    if (r->nports == 0)
        return 0;
    for (int i = 0; i < r->nports; i++) {
        int found = 0;
        for (int k = 0; k < g->nports; k++)
            found |= g->ports[k] == r->ports[i];
        if (!found)
            return 0;
    }
    return 1;
}

/* The granted rules that count for rule r (those opening every port r
 * names), parsed once. */
struct grants {
    struct prefix *p;
    int n;
};

/* 1 if the union of the grants covers all of p. Splits p in halves only
 * where a grant lies strictly inside it: a grant is strictly inside at most
 * one prefix per bit, so this visits at most 2 * n prefixes per bit. */
static int granted_cover(const struct prefix *p, const struct grants *g)
{
    int inside = 0;
    for (int i = 0; i < g->n; i++) {
        if (prefix_within(p, &g->p[i]))
            return 1;
        if (prefix_within(&g->p[i], p))
            inside = 1;
    }
    int bits = p->v6 ? 128 : 32;
    if (!inside || p->len >= bits)
        return 0;
    struct prefix half = *p;
    half.len = p->len + 1;
    half.a[p->len / 8] &= (unsigned char)~(0x80u >> (p->len % 8));
    if (!granted_cover(&half, g))
        return 0;
    half.a[p->len / 8] |= (unsigned char)(0x80u >> (p->len % 8));
    return granted_cover(&half, g);
}

int bh_net_rule_public(const struct bh_net_rule *r, const struct bh_net_rule *granted,
                       int ngranted, bh_err_t *err)
{
    struct prefix rp;
    if (!r)
        return bh_err_set(err, EINVAL, "no rule");
    if (rule_check(r, "rule", 0, err) < 0)
        return -1;
    if (prefix_parse(r->cidr, strnlen(r->cidr, sizeof r->cidr), &rp) < 0)
        return bh_err_set(err, EINVAL, "%s is not an address or CIDR", r->cidr);
    struct grants g = {.p = NULL, .n = 0};
    cleanup_free struct prefix *gp = bh_xcalloc(ngranted > 0 ? (size_t)ngranted : 1, sizeof *gp);
    g.p = gp;
    for (int i = 0; i < ngranted; i++)
        if (ports_cover(&granted[i], r) &&
            prefix_parse(granted[i].cidr, strnlen(granted[i].cidr, sizeof granted[i].cidr),
                         &gp[g.n]) == 0 &&
            gp[g.n].v6 == rp.v6)
            g.n++;
    /* The same tables as the nft sets: private first, so that 0.0.0.0/0
     * names 10.0.0.0/8 rather than 0.0.0.0/8. */
    static const struct {
        const char *list, *what;
    } tables[] = {
        {PRIVATE4, "private"}, {PRIVATE6, "private"},   {LINKLOCAL4, "link-local"},
        {LINKLOCAL6, "link-local"}, {NEVER4, "reserved"}, {NEVER6, "reserved"},
    };
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        for (const char *s = tables[t].list; *s;) {
            size_t n = strcspn(s, ", ");
            struct prefix np;
            if (prefix_parse(s, n, &np) < 0)
                return bh_err_set(err, EINVAL, "bad entry in the %s table", tables[t].what);
            if (np.v6 == rp.v6 && (prefix_within(&rp, &np) || prefix_within(&np, &rp))) {
                /* the overlap is the smaller of the two */
                const struct prefix *o = rp.len >= np.len ? &rp : &np;
                if (!granted_cover(o, &g)) {
                    bh_err_set(err, 0, "%s overlaps %s range %.*s", r->cidr, tables[t].what,
                               (int)n, s);
                    if (err) /* EACCES, without strerror's words in the message */
                        err->status = EACCES;
                    return -1;
                }
            }
            s += n;
            s += strspn(s, ", ");
        }
    }
    return 0;
}

/* "ip daddr 10.0.0.0/8 meta l4proto { tcp, udp } th dport { 80, 443 }" */
static void put_match(FILE *f, const struct bh_net_rule *r)
{
    fprintf(f, "%s daddr %s", is_v6(r->cidr) ? "ip6" : "ip", r->cidr);
    if (r->nports) {
        fputs(" meta l4proto { tcp, udp } th dport { ", f);
        for (int i = 0; i < r->nports; i++)
            fprintf(f, "%s%u", i ? ", " : "", r->ports[i]);
        fputs(" }", f);
    }
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

static int nft_table_create(const struct bh_net_config *cfg, const struct subnet *sn, bh_err_t *err)
{
    const char *br = cfg->bridge;
    char t[TABLE_MAX + 1], net[INET_ADDRSTRLEN], dns[INET6_ADDRSTRLEN];
    int dns6 = 0;
    table_name(cfg, t);
    addr_str(sn->net, net);
    if (dns_addr(cfg, dns, &dns6, err) < 0 ||
        rules_check(cfg->always_allow, cfg->nalways_allow, "always_allow", err) < 0 ||
        rules_check(cfg->always_deny, cfg->nalways_deny, "always_deny", err) < 0)
        return bh_err_wrap(err, "table inet %s", t);
    struct script s;
    script_open(&s);
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
            NEVER4, net, sn->prefix, NEVER6, LINKLOCAL4, LINKLOCAL6, PRIVATE4, PRIVATE6);
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
        put_match(f, &cfg->always_deny[i]);
        fputs(" drop\n", f);
    }
    for (int i = 0; i < cfg->nalways_allow; i++) {
        fputs("    ", f);
        put_match(f, &cfg->always_allow[i]);
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
    cleanup_free char *script = script_close(&s);
    if (nft_run(script, err) < 0)
        return bh_err_wrap(err, "tables inet/bridge %s", t);
    return 0;
}

static int nft_table_delete(const struct bh_net_config *cfg, bh_err_t *err)
{
    char t[TABLE_MAX + 1];
    table_name(cfg, t);
    cleanup_free char *script =
        bh_xasprintf("add table inet %s\ndelete table inet %s\n"
                     "add table bridge %s\ndelete table bridge %s\n",
                     t, t, t, t);
    return nft_run(script, err);
}

/* ------------------------------------------------------------------ */
/* Bridge: init / fini                                                 */
/* ------------------------------------------------------------------ */

int bh_net_init(const struct bh_net_config *cfg, bh_err_t *err)
{
    struct subnet sn;
    if (check_config(cfg, &sn, err) < 0)
        return bh_err_wrap(err, "net init");
    struct nl nl;
    if (nl_open(&nl, err) < 0)
        return bh_err_wrap(err, "net init");
    struct link_info br;
    int rc = bridge_ensure(&nl, cfg->bridge, err);
    if (rc == 0)
        rc = link_get(&nl, cfg->bridge, &br, err);
    if (rc == 0)
        rc = addr_add(&nl, br.index, sn.net + 1, &sn, 1, err);
    nl_close(&nl);
    if (rc < 0)
        return bh_err_wrap(err, "net init");
    /* In place: bh_write_file's tmp + rename does not work in /proc. */
    cleanup_close int fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "1\n", 2) != 2)
        return bh_err_set(err, errno, "net init: enable net.ipv4.ip_forward");
    if (nft_table_create(cfg, &sn, err) < 0)
        return bh_err_wrap(err, "net init");
    return 0;
}

int bh_net_fini(const struct bh_net_config *cfg, bh_err_t *err)
{
    struct subnet sn;
    if (check_config(cfg, &sn, err) < 0)
        return bh_err_wrap(err, "net fini");
    struct nl nl;
    if (nl_open(&nl, err) < 0)
        return bh_err_wrap(err, "net fini");
    struct link_info br;
    bh_err_t e = BH_ERR_INIT;
    int rc = 0, have_bridge = link_get(&nl, cfg->bridge, &br, &e) == 0;
    if (!have_bridge && e.status != ENODEV)
        rc = bh_err_set(err, e.status, "%s", bh_err_msg(&e));
    bh_err_clear(&e);
    if (rc == 0 && have_bridge) {
        int ports = bridge_ports(&nl, br.index, err);
        if (ports > 0)
            rc = bh_err_set(err, EBUSY, "bridge %s still has %d session link(s)", cfg->bridge,
                            ports);
        else if (ports < 0)
            rc = -1;
    }
    if (rc == 0 && nft_table_delete(cfg, err) < 0)
        rc = -1;
    if (rc == 0 && have_bridge)
        rc = link_del(&nl, cfg->bridge, err);
    nl_close(&nl);
    return rc < 0 ? bh_err_wrap(err, "net fini") : 0;
}

/* ------------------------------------------------------------------ */
/* Conntrack                                                           */
/* ------------------------------------------------------------------ */

/* The host's conntrack table keeps a session's flows (its NAT mappings
 * among them) for minutes after the session is gone: TCP in TIME_WAIT for
 * 2 min, an established one idle for days. An address is cleaned of them
 * before its lease is freed, so the next session given the address starts
 * with none. Over ctnetlink: one dump of the IPv4 table, filtered here (an
 * entry names the address in any of its four tuple addresses), then one
 * delete per entry, by its original tuple, zone and id (so a new entry that
 * reuses a tuple is not hit). */

struct ct_entry {
    uint8_t tuple[160]; /* payload of CTA_TUPLE_ORIG, as dumped */
    uint16_t tuple_len;
    int has_zone, has_id;
    uint16_t zone; /* network order */
    uint32_t id;   /* network order */
};

struct ct_match {
    uint32_t addr; /* network order */
    struct ct_entry *v;
    int n, cap;
};

/* Attributes by type, for types up to max (others are skipped). */
struct ct_attrs {
    const struct nlattr **tb;
    int max;
};

static int ct_attr_cb(const struct nlattr *a, void *data)
{
    const struct ct_attrs *at = data;
    int type = mnl_attr_get_type(a);
    if (type <= at->max)
        at->tb[type] = a;
    return MNL_CB_OK;
}

static int ct_parse_nested(const struct nlattr *nest, const struct nlattr **tb, int max)
{
    struct ct_attrs at = {tb, max};
    return mnl_attr_parse_nested(nest, ct_attr_cb, &at);
}

static int ct_tuple_names(const struct nlattr *tuple, uint32_t addr)
{
    const struct nlattr *tb[CTA_TUPLE_MAX + 1] = {0}, *ip[CTA_IP_MAX + 1] = {0};
    if (!tuple || ct_parse_nested(tuple, tb, CTA_TUPLE_MAX) < 0 || !tb[CTA_TUPLE_IP] ||
        ct_parse_nested(tb[CTA_TUPLE_IP], ip, CTA_IP_MAX) < 0)
        return 0;
    for (int t = CTA_IP_V4_SRC; t <= CTA_IP_V4_DST; t++)
        if (ip[t] && mnl_attr_validate(ip[t], MNL_TYPE_U32) == 0 && mnl_attr_get_u32(ip[t]) == addr)
            return 1;
    return 0;
}

static int ct_dump_cb(const struct nlmsghdr *nlh, void *data)
{
    struct ct_match *m = data;
    const struct nlattr *tb[CTA_MAX + 1] = {0};
    struct ct_attrs at = {tb, CTA_MAX};
    if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), ct_attr_cb, &at) < 0)
        return MNL_CB_ERROR;
    const struct nlattr *orig = tb[CTA_TUPLE_ORIG];
    if (!orig || (!ct_tuple_names(orig, m->addr) && !ct_tuple_names(tb[CTA_TUPLE_REPLY], m->addr)))
        return MNL_CB_OK;
    struct ct_entry e = {0};
    uint16_t len = mnl_attr_get_payload_len(orig);
    if (len > sizeof e.tuple)
        return MNL_CB_OK; /* not an IPv4 tuple as we know it */
    memcpy(e.tuple, mnl_attr_get_payload(orig), len);
    e.tuple_len = len;
    if (tb[CTA_ZONE] && mnl_attr_validate(tb[CTA_ZONE], MNL_TYPE_U16) == 0) {
        e.has_zone = 1;
        e.zone = mnl_attr_get_u16(tb[CTA_ZONE]);
    }
    if (tb[CTA_ID] && mnl_attr_validate(tb[CTA_ID], MNL_TYPE_U32) == 0) {
        e.has_id = 1;
        e.id = mnl_attr_get_u32(tb[CTA_ID]);
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 16;
        struct ct_entry *nv = realloc(m->v, (size_t)m->cap * sizeof *nv);
        if (!nv)
            abort();
        m->v = nv;
    }
    m->v[m->n++] = e;
    return MNL_CB_OK;
}

static struct nlmsghdr *ct_msg(char *buf, uint8_t type, uint16_t flags)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof *nfg);
    nfg->nfgen_family = AF_INET;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = 0;
    return nlh;
}

/* Delete every entry of the host's conntrack table that names `addr`
 * (host order). Returns the number deleted, or -1. An entry that expires
 * meanwhile is not an error. */
static int ct_flush(uint32_t addr, bh_err_t *err)
{
    char s[INET_ADDRSTRLEN];
    addr_str(addr, s);
    struct nl nl;
    if (nl_open_bus(&nl, NETLINK_NETFILTER, err) < 0)
        return bh_err_wrap(err, "conntrack flush %s", s);
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct ct_match m = {.addr = htonl(addr)};
    struct nlmsghdr *nlh = ct_msg(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP);
    int rc = nl_talk(&nl, nlh, ct_dump_cb, &m, "conntrack dump", err);
    int deleted = 0;
    for (int i = 0; rc == 0 && i < m.n; i++) {
        const struct ct_entry *e = &m.v[i];
        nlh = ct_msg(buf, IPCTNL_MSG_CT_DELETE, 0);
        mnl_attr_put(nlh, CTA_TUPLE_ORIG | NLA_F_NESTED, e->tuple_len, e->tuple);
        if (e->has_zone)
            mnl_attr_put_u16(nlh, CTA_ZONE, e->zone);
        if (e->has_id)
            mnl_attr_put_u32(nlh, CTA_ID, e->id);
        bh_err_t de = BH_ERR_INIT;
        if (nl_talk(&nl, nlh, NULL, NULL, "conntrack delete", &de) == 0)
            deleted++;
        else if (de.status != ENOENT)
            rc = bh_err_set(err, de.status, "%s", bh_err_msg(&de));
        bh_err_clear(&de);
    }
    free(m.v);
    nl_close(&nl);
    return rc < 0 ? bh_err_wrap(err, "conntrack flush %s", s) : deleted;
}

/* ------------------------------------------------------------------ */
/* Leases                                                              */
/* ------------------------------------------------------------------ */

/* Take the lowest free address from .2 up (the bridge has .1). */
static int lease_take(const struct subnet *sn, const char *id, uint32_t *out, bh_err_t *err)
{
    if (bh_mkdir_p(LEASE_DIR, 0700, err) < 0)
        return -1;
    uint32_t last = subnet_broadcast(sn) - 1;
    for (uint32_t a = sn->net + 2; a <= last; a++) {
        char s[INET_ADDRSTRLEN], path[sizeof LEASE_DIR + INET_ADDRSTRLEN];
        addr_str(a, s);
        snprintf(path, sizeof path, "%s/%s", LEASE_DIR, s);
        if (symlink(id, path) == 0) {
            *out = a;
            return 0;
        }
        if (errno != EEXIST)
            return bh_err_set(err, errno, "lease %s", path);
    }
    char s[INET_ADDRSTRLEN];
    addr_str(sn->net, s);
    return bh_err_set(err, EADDRNOTAVAIL, "no free address in %s/%u", s, sn->prefix);
}

static void lease_drop(uint32_t a)
{
    char s[INET_ADDRSTRLEN], path[sizeof LEASE_DIR + INET_ADDRSTRLEN];
    addr_str(a, s);
    snprintf(path, sizeof path, "%s/%s", LEASE_DIR, s);
    unlink(path);
}

/* Call fn(address, owner id) for every lease; fn returns 0 to go on. */
static int lease_each(int (*fn)(int dfd, const char *addr, const char *owner, void *data),
                      void *data, bh_err_t *err)
{
    DIR *d = opendir(LEASE_DIR);
    if (!d)
        return errno == ENOENT ? 0 : bh_err_set(err, errno, "open %s", LEASE_DIR);
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char owner[ID_MAX + 2];
        ssize_t n = readlinkat(dirfd(d), de->d_name, owner, sizeof owner - 1);
        if (n <= 0)
            continue;
        owner[n] = 0;
        rc = fn(dirfd(d), de->d_name, owner, data);
    }
    closedir(d);
    return rc < 0 ? bh_err_set(err, -rc, "release lease") : 0;
}

/* Free the lease on `addr` if `owner` is the id in data, cleaning the
 * address of conntrack state first (see "Conntrack"): while the lease is
 * held no other session can get the address, so nothing new can appear
 * under it once the session's veth is gone. A failed flush is logged; the
 * lease is freed all the same. */
static int lease_free_cb(int dfd, const char *addr, const char *owner, void *data)
{
    if (strcmp(owner, data) != 0)
        return 0;
    struct in_addr a;
    if (inet_pton(AF_INET, addr, &a) == 1) {
        bh_err_t e = BH_ERR_INIT;
        if (ct_flush(ntohl(a.s_addr), &e) < 0)
            bh_log(BH_LOG_WARN, owner, "network teardown: %s", bh_err_msg(&e));
        bh_err_clear(&e);
    }
    if (unlinkat(dfd, addr, 0) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Namespaces                                                          */
/* ------------------------------------------------------------------ */

/* /run/netns as a shared mount point, as `ip netns add` makes it: bind mounts
 * of namespaces then propagate to (and their unmounts from) mount namespaces
 * created later, so a container cannot keep a session's netns pinned. */
static pthread_mutex_t netns_dir_lock = PTHREAD_MUTEX_INITIALIZER;
static int netns_dir_done;

static int netns_dir_ready(bh_err_t *err)
{
    pthread_mutex_lock(&netns_dir_lock);
    int rc = 0;
    if (!netns_dir_done) {
        rc = bh_mkdir_p(NETNS_DIR, 0755, err);
        if (rc == 0 && mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL) < 0) {
            if (errno != EINVAL) /* EINVAL: not a mount point yet */
                rc = bh_err_set(err, errno, "make %s shared", NETNS_DIR);
            else if (mount(NETNS_DIR, NETNS_DIR, "none", MS_BIND | MS_REC, NULL) < 0)
                rc = bh_err_set(err, errno, "bind mount %s", NETNS_DIR);
            else if (mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL) < 0)
                rc = bh_err_set(err, errno, "make %s shared", NETNS_DIR);
        }
        netns_dir_done = rc == 0;
    }
    pthread_mutex_unlock(&netns_dir_lock);
    return rc;
}

/* Work of the helper thread that makes a namespace. */
struct ns_job {
    const char *path; /* in: existing empty file to bind the netns on */
    int src;          /* in: a netns to use instead of a new one; -1 = new */
    int fd;           /* out: the netns */
    struct nl nl;     /* out: rtnetlink socket inside it */
    bh_err_t err;
    int rc;
};

static void *ns_create_thread(void *arg)
{
    struct ns_job *job = arg;
    job->rc = -1;
    if (job->src >= 0 ? setns(job->src, CLONE_NEWNET) < 0 : unshare(CLONE_NEWNET) < 0) {
        bh_err_set(&job->err, errno, "%s",
                   job->src >= 0 ? "setns(CLONE_NEWNET)" : "unshare(CLONE_NEWNET)");
        return NULL;
    }
    /* Sessions are IPv4 only: links made in this netns from now on (eth0)
     * get no IPv6 at all, so no link-local address, router solicitation or
     * any other IPv6 packet leaves. lo keeps ::1. /proc/sys/net is that of
     * the calling thread's netns. Best effort: a kernel without IPv6 has no
     * such file, and the bridge drops IPv6 from session ports anyway. */
    int v6 = open("/proc/sys/net/ipv6/conf/default/disable_ipv6", O_WRONLY | O_CLOEXEC);
    if (v6 >= 0) {
        if (write(v6, "1\n", 2) != 2) {
            /* ignored: see above */
        }
        close(v6);
    }
    if (mount("/proc/thread-self/ns/net", job->path, "none", MS_BIND, NULL) < 0) {
        bh_err_set(&job->err, errno, "bind netns on %s", job->path);
        return NULL;
    }
    job->fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (job->fd < 0) {
        bh_err_set(&job->err, errno, "open netns");
        umount2(job->path, MNT_DETACH);
        return NULL;
    }
    if (nl_open(&job->nl, &job->err) < 0) {
        bh_closep(&job->fd);
        umount2(job->path, MNT_DETACH);
        return NULL;
    }
    job->rc = 0;
    return NULL;
}

/* A new netns (or the netns `src`, when src >= 0) bound on `path` (which
 * must not exist). On success *fd is the netns and *nl a netlink socket in
 * it; on failure nothing is left. */
static int netns_create(const char *path, int src, int *fd, struct nl *nl, bh_err_t *err)
{
    if (netns_dir_ready(err) < 0)
        return -1;
    int f = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (f < 0)
        return bh_err_set(err, errno, "create %s", path);
    close(f);
    struct ns_job job = {.path = path, .src = src, .fd = -1, .err = BH_ERR_INIT, .rc = -1};
    pthread_t th;
    int e = pthread_create(&th, NULL, ns_create_thread, &job);
    if (e != 0) {
        unlink(path);
        return bh_err_set(err, e, "netns helper thread");
    }
    pthread_join(th, NULL);
    if (job.rc < 0) {
        unlink(path);
        bh_err_set(err, job.err.status, "%s", bh_err_msg(&job.err));
        bh_err_clear(&job.err);
        return -1;
    }
    *fd = job.fd;
    *nl = job.nl;
    return 0;
}

/* Unmount and remove a netns file; a missing or unmounted one is success. */
static int netns_remove(const char *path, bh_err_t *err)
{
    if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        return bh_err_set(err, errno, "unmount %s", path);
    if (unlink(path) < 0 && errno != ENOENT)
        return bh_err_set(err, errno, "remove %s", path);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Sessions                                                            */
/* ------------------------------------------------------------------ */

static void session_names(const char *id, struct bh_net_session *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->netns, sizeof s->netns, "%s%s", NETNS_PREFIX, id);
    snprintf(s->netns_path, sizeof s->netns_path, "%s/%s", NETNS_DIR, s->netns);
    snprintf(s->veth_host, sizeof s->veth_host, "%s%.*s", VETH_PREFIX, VETH_ID_CHARS, id);
}

/* Inside the new netns: lo and PEER_NAME up, address, default route. */
static int netns_configure(struct nl *nl, uint32_t addr, const struct subnet *sn, bh_err_t *err)
{
    struct link_info eth;
    if (link_up(nl, "lo", 1 /* LOOPBACK_IFINDEX */, err) < 0 ||
        link_get(nl, PEER_NAME, &eth, err) < 0 ||
        link_up(nl, PEER_NAME, eth.index, err) < 0 ||
        addr_add(nl, eth.index, addr, sn, 0, err) < 0 ||
        route_add_default(nl, eth.index, sn->net + 1, err) < 0)
        return -1;
    return 0;
}

int bh_net_session_setup(const struct bh_net_config *cfg, const char *id,
                         struct bh_net_session *out, bh_err_t *err)
{
    return bh_net_session_setup_in(cfg, id, 0, out, err);
}

int bh_net_session_setup_in(const struct bh_net_config *cfg, const char *id, pid_t pid,
                            struct bh_net_session *out, bh_err_t *err)
{
    struct subnet sn;
    if (check_config(cfg, &sn, err) < 0 || check_id(id, err) < 0)
        return bh_err_wrap(err, "net setup");
    struct bh_net_session s;
    session_names(id, &s);

    struct nl host, ns = {0};
    if (nl_open(&host, err) < 0)
        return bh_err_wrap(err, "net setup %s", id);
    struct link_info br;
    if (link_get(&host, cfg->bridge, &br, err) < 0) {
        nl_close(&host);
        return bh_err_wrap(err, "net setup %s: bridge (bh_net_init not run?)", id);
    }

    /* Each step records what it made so a failure undoes exactly that: never
     * a netns, veth or lease of another call that happens to share a name. */
    uint32_t addr = 0;
    int have_lease = 0, have_netns = 0, have_veth = 0, nsfd = -1, src = -1;
    if (pid > 0) {
        char p[64];
        snprintf(p, sizeof p, "/proc/%d/ns/net", (int)pid);
        if ((src = open(p, O_RDONLY | O_CLOEXEC)) < 0) {
            bh_err_set(err, errno, "open %s", p);
            nl_close(&host);
            return bh_err_wrap(err, "net setup %s", id);
        }
    }
    int rc = lease_take(&sn, id, &addr, err);
    have_lease = rc == 0;
    if (rc == 0)
        rc = netns_create(s.netns_path, src, &nsfd, &ns, err);
    bh_closep(&src);
    have_netns = rc == 0;
    uint8_t mac[6];
    session_mac(addr, mac);
    if (rc == 0)
        rc = veth_create(&host, s.veth_host, br.index, br.mtu, nsfd, mac, err);
    have_veth = rc == 0;
    if (rc == 0)
        rc = port_tag(&host, s.veth_host, id, err);
    if (rc == 0)
        rc = netns_configure(&ns, addr, &sn, err);
    bh_closep(&nsfd);
    nl_close(&ns);

    if (rc < 0) {
        if (have_veth)
            link_del(&host, s.veth_host, NULL);
        if (have_netns)
            netns_remove(s.netns_path, NULL);
        if (have_lease)
            lease_drop(addr);
        nl_close(&host);
        return bh_err_wrap(err, "net setup %s", id);
    }
    nl_close(&host);
    addr_str(addr, s.addr);
    *out = s;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Egress policy of a session                                          */
/* ------------------------------------------------------------------ */

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
    session_mac(addr, m);
    snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* Script lines that take the inet part of session `id` at `addr` out of
 * the tables, whether or not it is there: an element is added (a no-op if
 * it is there) and then deleted, and the chain is created if missing and
 * flushed. They fail only if `addr` maps to another session's chain. */
static void put_inet_remove(FILE *f, const char *t, const char *id, uint32_t addr)
{
    char a[INET_ADDRSTRLEN];
    addr_str(addr, a);
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
    addr_str(addr, a);
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
    return rules_check(p->allow, p->nallow, "allow", err);
}

int bh_net_session_policy(const struct bh_net_config *cfg, const char *id,
                          const struct bh_net_policy *policy, bh_err_t *err)
{
    struct subnet sn;
    if (check_config(cfg, &sn, err) < 0 || check_id(id, err) < 0 ||
        check_policy(policy, err) < 0)
        return bh_err_wrap(err, "net policy %s", id ? id : "");
    struct bh_net_session s;
    session_names(id, &s);

    /* The veth must be this session's: its rules name the port. */
    struct nl host;
    if (nl_open(&host, err) < 0)
        return bh_err_wrap(err, "net policy %s", id);
    struct link_info veth;
    int rc = link_get(&host, s.veth_host, &veth, err);
    nl_close(&host);
    if (rc < 0)
        return bh_err_wrap(err, "net policy %s: not set up", id);
    if (strcmp(veth.alias, id) != 0)
        return bh_err_set(err, EEXIST, "net policy %s: %s belongs to session %s", id, s.veth_host,
                          veth.alias[0] ? veth.alias : "(none)");
    struct lease_find lf = {.id = id};
    if (lease_each(lease_find_cb, &lf, err) < 0)
        return bh_err_wrap(err, "net policy %s", id);
    if (lf.n != 1)
        return bh_err_set(err, lf.n ? EEXIST : ENOENT, "net policy %s: %d address leases, not 1",
                          id, lf.n);
    uint32_t addr = lf.addr[0];
    if ((addr & ~(0xffffffffu >> sn.prefix)) != sn.net)
        return bh_err_set(err, EINVAL, "net policy %s: its address is not in %s", id, cfg->subnet);

    char t[TABLE_MAX + 1], a[INET_ADDRSTRLEN], m[18];
    table_name(cfg, t);
    addr_str(addr, a);
    mac_str(addr, m);
    struct script sc;
    script_open(&sc);
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
            put_match(f, &policy->allow[i]);
            fputs(" accept\n", f);
        }
        fprintf(f, "add rule inet %s " CHAIN_PREFIX "%s %s\n", t, id,
                policy->mode == BH_NET_INTERNET ? "goto egress_public" : "drop");
        fprintf(f,
                "add element inet %s sessions4 { %s : goto " CHAIN_PREFIX "%s }\n"
                "add element inet %s online4 { %s }\n",
                t, a, id, t, a);
    }
    cleanup_free char *script = script_close(&sc);
    if (nft_run(script, err) < 0)
        return bh_err_wrap(err, "net policy %s", id);
    return 0;
}

/* ---- removal ---- */

static int json_has_table(json_t *root, const char *family, const char *name)
{
    json_t *items = json_object_get(root, "nftables"), *it;
    size_t i;
    json_array_foreach(items, i, it)
    {
        json_t *tb = json_object_get(it, "table");
        const char *fam = bh_json_str(tb, "family"), *nm = bh_json_str(tb, "name");
        if (fam && nm && !strcmp(fam, family) && !strcmp(nm, name))
            return 1;
    }
    return 0;
}

/* Object `kind` ("set", "map", "chain") called `name` in a listing. */
static json_t *json_find(json_t *root, const char *kind, const char *name)
{
    json_t *items = json_object_get(root, "nftables"), *it;
    size_t i;
    json_array_foreach(items, i, it)
    {
        json_t *o = json_object_get(it, kind);
        const char *nm = bh_json_str(o, "name");
        if (nm && !strcmp(nm, name))
            return o;
    }
    return NULL;
}

static json_t *nft_list_json(const char *cmd, bh_err_t *err)
{
    cleanup_free char *out = NULL;
    if (nft_exec(cmd, &out, err) < 0)
        return NULL;
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    if (!j)
        bh_err_set(err, EPROTO, "%s: unreadable JSON from nft (%s)", cmd, je.text);
    return j;
}

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
    json_t *tables = nft_list_json("list tables", err);
    if (!tables)
        return -1;
    int have_inet = json_has_table(tables, "inet", t);
    int have_br = json_has_table(tables, "bridge", t);
    json_decref(tables);
    char chain[sizeof CHAIN_PREFIX + ID_MAX + 1];
    snprintf(chain, sizeof chain, CHAIN_PREFIX "%s", id);
    struct script sc;
    script_open(&sc);
    FILE *f = sc.f;
    int n = 0, rc = 0;
    const char *addrs[64];
    int naddrs = 0;
    json_t *inet = NULL, *brj = NULL;
    if (have_inet) {
        cleanup_free char *cmd = bh_xasprintf("list table inet %s", t);
        inet = nft_list_json(cmd, err);
        if (!inet)
            rc = -1;
    }
    if (inet) {
        json_t *map = json_find(inet, "map", "sessions4"), *el;
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
        json_t *online = json_find(inet, "set", "online4");
        json_array_foreach(json_object_get(online, "elem"), i, el)
        {
            const char *key = json_string_value(el);
            for (int k = 0; key && k < naddrs; k++)
                if (!strcmp(key, addrs[k])) {
                    fprintf(f, "delete element inet %s online4 { %s }\n", t, key);
                    n++;
                }
        }
        if (json_find(inet, "chain", chain)) {
            fprintf(f, "flush chain inet %s %s\ndelete chain inet %s %s\n", t, chain, t, chain);
            n++;
        }
    }
    if (rc == 0 && have_br) {
        cleanup_free char *cmd = bh_xasprintf("list table bridge %s", t);
        brj = nft_list_json(cmd, err);
        if (!brj)
            rc = -1;
    }
    if (brj) {
        json_t *el;
        size_t i;
        json_array_foreach(json_object_get(json_find(brj, "set", "our_ports"), "elem"), i, el)
        {
            const char *name = json_string_value(el);
            if (port_ours && name && !strcmp(name, veth)) {
                fprintf(f, "delete element bridge %s our_ports { \"%s\" }\n", t, veth);
                n++;
            }
        }
        json_array_foreach(json_object_get(json_find(brj, "set", "ports"), "elem"), i, el)
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
    cleanup_free char *script = script_close(&sc);
    if (rc == 0 && n > 0)
        rc = nft_run(script, err);
    json_decref(inet);
    json_decref(brj);
    return rc;
}

/* Take session `id` out of the tables: quickly, by the names its lease
 * gives, else by listing (see nft_session_sweep). Nothing there is success;
 * so are tables that do not exist. */
static int nft_session_remove(const struct bh_net_config *cfg, const char *id, const char *veth,
                              int port_ours, bh_err_t *err)
{
    char t[TABLE_MAX + 1];
    table_name(cfg, t);
    struct lease_find lf = {.id = id};
    if (lease_each(lease_find_cb, &lf, err) < 0)
        return -1;
    if (lf.n > 0) {
        struct script sc;
        script_open(&sc);
        for (int i = 0; i < lf.n; i++) {
            put_inet_remove(sc.f, t, id, lf.addr[i]);
            put_bridge_remove(sc.f, t, veth, lf.addr[i], port_ours && i == 0);
        }
        fprintf(sc.f, "delete chain inet %s " CHAIN_PREFIX "%s\n", t, id);
        cleanup_free char *script = script_close(&sc);
        if (nft_run(script, NULL) == 0)
            return 0;
    }
    return nft_session_sweep(t, id, veth, port_ours, err);
}

int bh_net_session_teardown(const struct bh_net_config *cfg, const char *id, bh_err_t *err)
{
    struct subnet sn;
    if (check_config(cfg, &sn, err) < 0 || check_id(id, err) < 0)
        return bh_err_wrap(err, "net teardown");
    struct bh_net_session s;
    session_names(id, &s);

    struct nl host;
    if (nl_open(&host, err) < 0)
        return bh_err_wrap(err, "net teardown %s", id);
    struct link_info veth;
    bh_err_t e = BH_ERR_INIT;
    int rc = 0, have_veth = 0, ours = 1;
    if (link_get(&host, s.veth_host, &veth, &e) == 0) {
        /* Only our own: another id may share the 12-char name. An empty
         * alias is a crash between veth creation and tagging. */
        have_veth = 1;
        ours = !veth.alias[0] || !strcmp(veth.alias, id);
    } else if (e.status != ENODEV) {
        rc = bh_err_set(err, e.status, "%s", bh_err_msg(&e));
    }
    bh_err_clear(&e);
    /* Rules first, the lease last: while any rule of the session is left,
     * its lease (which names its address) is too. */
    if (rc == 0)
        rc = nft_session_remove(cfg, id, s.veth_host, ours, err);
    if (rc == 0 && have_veth && ours)
        rc = link_del(&host, s.veth_host, err);
    nl_close(&host);
    if (rc == 0)
        rc = netns_remove(s.netns_path, err);
    if (rc == 0)
        rc = lease_each(lease_free_cb, (void *)id, err);
    return rc < 0 ? bh_err_wrap(err, "net teardown %s", id) : 0;
}

/* ------------------------------------------------------------------ */
/* Listing                                                             */
/* ------------------------------------------------------------------ */

struct id_list {
    char **v;
    int n, cap;
};

static void id_list_add(struct id_list *l, const char *id)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], id))
            return;
    if (l->n + 1 >= l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        char **nv = realloc(l->v, (size_t)l->cap * sizeof *nv);
        if (!nv)
            abort();
        l->v = nv;
    }
    l->v[l->n++] = bh_xstrdup(id);
    l->v[l->n] = NULL;
}

static int list_lease_cb(int dfd, const char *addr, const char *owner, void *data)
{
    (void)dfd;
    (void)addr;
    if (check_id(owner, NULL) == 0)
        id_list_add(data, owner);
    return 0;
}

int bh_net_list(char ***ids, bh_err_t *err)
{
    struct id_list l = {0};
    DIR *d = opendir(NETNS_DIR);
    if (!d && errno != ENOENT)
        return bh_err_set(err, errno, "net list: open %s", NETNS_DIR);
    if (d) {
        struct dirent *de;
        size_t plen = strlen(NETNS_PREFIX);
        while ((de = readdir(d)))
            if (!strncmp(de->d_name, NETNS_PREFIX, plen) && check_id(de->d_name + plen, NULL) == 0)
                id_list_add(&l, de->d_name + plen);
        closedir(d);
    }
    if (lease_each(list_lease_cb, &l, err) < 0) {
        for (int i = 0; i < l.n; i++)
            free(l.v[i]);
        free(l.v);
        return bh_err_wrap(err, "net list");
    }
    if (!l.v)
        l.v = bh_xcalloc(1, sizeof *l.v);
    *ids = l.v;
    return l.n;
}
