/* net.c — see net.h.
 *
 * Threads. Every function may run in any thread, concurrently with the others.
 * The calling thread never changes its network namespace: a session namespace
 * is made by a short-lived helper thread that unshares its own netns, pins it
 * with a bind mount on /run/netns/bh-<id> and opens a netlink socket in it,
 * then exits. The caller configures the namespace through that socket (a
 * netlink socket stays in the netns it was created in). Each call opens its
 * own netlink sockets; libnftables runs under one process-wide mutex.
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
 * Order of setup: lease, netns, veth, address, route; teardown undoes them in
 * reverse. A crash in between leaves a lease or a netns named after the id,
 * and bh_net_list() reports both, so recovery can finish the teardown. */
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

static int nl_open(struct nl *nl, bh_err_t *err)
{
    memset(nl, 0, sizeof *nl);
    nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
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

/* Up a link by index, optionally setting its alias (NULL: leave it). */
static int link_set(struct nl *nl, const char *name, int index, const char *alias, bh_err_t *err)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, index, 1);
    if (!index)
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    if (alias)
        mnl_attr_put_strz(nlh, IFLA_IFALIAS, alias);
    cleanup_free char *what = bh_xasprintf("set link %s", name);
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
/* nftables                                                            */
/* ------------------------------------------------------------------ */

/* libnftables contexts are not thread-safe and the library has had global
 * state; one context per call, one call at a time. */
static pthread_mutex_t nft_lock = PTHREAD_MUTEX_INITIALIZER;

static int nft_run(const char *script, bh_err_t *err)
{
    pthread_mutex_lock(&nft_lock);
    int rc = 0;
    struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!ctx) {
        rc = bh_err_set(err, ENOMEM, "nft context");
    } else {
        nft_ctx_buffer_output(ctx);
        nft_ctx_buffer_error(ctx);
        if (nft_run_cmd_from_buffer(ctx, script) != 0) {
            const char *e = nft_ctx_get_error_buffer(ctx);
            size_t n = e ? strlen(e) : 0;
            while (n && (e[n - 1] == '\n' || e[n - 1] == ' '))
                n--;
            rc = bh_err_set(err, EINVAL, "nft: %.*s", (int)n, n ? e : "failed");
        }
        nft_ctx_free(ctx);
    }
    pthread_mutex_unlock(&nft_lock);
    return rc;
}

/* Issue 5 adds the egress policy: rules and sets for traffic from sessions
 * go into session_egress (forwarded) and session_to_host (to the host
 * itself); the base chains only dispatch. Traffic between two sessions stays
 * on the bridge and never reaches these inet hooks. */
static int nft_table_create(const struct bh_net_config *cfg, const struct subnet *sn, bh_err_t *err)
{
    const char *br = cfg->bridge;
    char t[TABLE_MAX + 1], net[INET_ADDRSTRLEN];
    table_name(cfg, t);
    addr_str(sn->net, net);
    /* add + delete + define in one transaction: atomically replaces whatever
     * an earlier run (or a crash halfway through one) left in our table. */
    cleanup_free char *script = bh_xasprintf(
        "add table inet %s\n"
        "delete table inet %s\n"
        "table inet %s {\n"
        "  chain postrouting {\n"
        "    type nat hook postrouting priority srcnat; policy accept;\n"
        "    ip saddr %s/%u oifname != \"%s\" masquerade\n"
        "  }\n"
        "  chain forward {\n"
        "    type filter hook forward priority filter; policy accept;\n"
        "    iifname \"%s\" jump session_egress\n"
        "  }\n"
        "  chain session_egress {\n"
        "  }\n"
        "  chain input {\n"
        "    type filter hook input priority filter; policy accept;\n"
        "    iifname \"%s\" jump session_to_host\n"
        "  }\n"
        "  chain session_to_host {\n"
        "  }\n"
        "}\n",
        t, t, t, net, sn->prefix, br, br, br);
    if (nft_run(script, err) < 0)
        return bh_err_wrap(err, "table inet %s", t);
    return 0;
}

static int nft_table_delete(const struct bh_net_config *cfg, bh_err_t *err)
{
    char t[TABLE_MAX + 1];
    table_name(cfg, t);
    cleanup_free char *script =
        bh_xasprintf("add table inet %s\ndelete table inet %s\n", t, t);
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

static int lease_free_cb(int dfd, const char *addr, const char *owner, void *data)
{
    if (strcmp(owner, data) != 0)
        return 0;
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
    int fd;           /* out: the netns */
    struct nl nl;     /* out: rtnetlink socket inside it */
    bh_err_t err;
    int rc;
};

static void *ns_create_thread(void *arg)
{
    struct ns_job *job = arg;
    job->rc = -1;
    if (unshare(CLONE_NEWNET) < 0) {
        bh_err_set(&job->err, errno, "unshare(CLONE_NEWNET)");
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

/* A new netns bound on `path` (which must not exist). On success *fd is the
 * netns and *nl a netlink socket in it; on failure nothing is left. */
static int netns_create(const char *path, int *fd, struct nl *nl, bh_err_t *err)
{
    if (netns_dir_ready(err) < 0)
        return -1;
    int f = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (f < 0)
        return bh_err_set(err, errno, "create %s", path);
    close(f);
    struct ns_job job = {.path = path, .fd = -1, .err = BH_ERR_INIT, .rc = -1};
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
    if (link_set(nl, "lo", 1 /* LOOPBACK_IFINDEX */, NULL, err) < 0 ||
        link_get(nl, PEER_NAME, &eth, err) < 0 ||
        link_set(nl, PEER_NAME, eth.index, NULL, err) < 0 ||
        addr_add(nl, eth.index, addr, sn, 0, err) < 0 ||
        route_add_default(nl, eth.index, sn->net + 1, err) < 0)
        return -1;
    return 0;
}

int bh_net_session_setup(const struct bh_net_config *cfg, const char *id,
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
    int have_lease = 0, have_netns = 0, have_veth = 0, nsfd = -1;
    int rc = lease_take(&sn, id, &addr, err);
    have_lease = rc == 0;
    if (rc == 0)
        rc = netns_create(s.netns_path, &nsfd, &ns, err);
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

int bh_net_session_teardown(const struct bh_net_config *cfg, const char *id, bh_err_t *err)
{
    (void)cfg; /* names derive from the id alone */
    if (check_id(id, err) < 0)
        return bh_err_wrap(err, "net teardown");
    struct bh_net_session s;
    session_names(id, &s);

    struct nl host;
    if (nl_open(&host, err) < 0)
        return bh_err_wrap(err, "net teardown %s", id);
    struct link_info veth;
    bh_err_t e = BH_ERR_INIT;
    int rc = 0;
    if (link_get(&host, s.veth_host, &veth, &e) == 0) {
        /* Delete only our own: another id may share the 12-char name. An
         * empty alias is a crash between veth creation and tagging. */
        if (!veth.alias[0] || !strcmp(veth.alias, id))
            rc = link_del(&host, s.veth_host, err);
    } else if (e.status != ENODEV) {
        rc = bh_err_set(err, e.status, "%s", bh_err_msg(&e));
    }
    bh_err_clear(&e);
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
