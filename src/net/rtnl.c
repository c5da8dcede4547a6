/* rtnl.c — see rtnl.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "net/rtnl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "lib/util.h"

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

void bh_rtnl_close(struct bh_nl *nl)
{
    if (nl->sock)
        mnl_socket_close(nl->sock);
    nl->sock = NULL;
}

/* A socket of netlink family `bus` (NETLINK_ROUTE, NETLINK_NETFILTER). */
int bh_rtnl_open_bus(struct bh_nl *nl, int bus, bh_err_t *err)
{
    memset(nl, 0, sizeof *nl);
    nl->sock = mnl_socket_open2(bus, SOCK_CLOEXEC);
    if (!nl->sock)
        return bh_err_set(err, errno, "netlink socket");
    if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
        int e = errno;
        bh_rtnl_close(nl);
        return bh_err_set(err, e, "netlink bind");
    }
    int one = 1;
    /* Best effort: the kernel's own words in errors, without echoed requests. */
    mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof one);
    mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof one);
    nl->portid = mnl_socket_get_portid(nl->sock);
    return 0;
}

int bh_rtnl_open(struct bh_nl *nl, bh_err_t *err)
{
    return bh_rtnl_open_bus(nl, NETLINK_ROUTE, err);
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
        mnl_attr_for_each(a, nlh, off)
        {
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
 * every data message to cb (if not NULL). Returns 0, or -1 with err->errnum
 * the kernel's errno and err->msg starting with `what`. */
int bh_rtnl_talk(struct bh_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data, const char *what,
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

static struct nlmsghdr *link_msg(char *buf, uint16_t type, uint16_t flags, int index, unsigned up)
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

static int link_info_attr_cb(const struct nlattr *a, void *data)
{
    struct bh_link_info *li = data;
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
    struct bh_link_info *li = data;
    if (nlh->nlmsg_type != RTM_NEWLINK)
        return MNL_CB_OK;
    const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
    li->index = ifm->ifi_index;
    return mnl_attr_parse(nlh, sizeof *ifm, link_info_attr_cb, li);
}

/* Look a link up by name. A missing link is -1 with err->errnum ENODEV. */
int bh_rtnl_link_get(struct bh_nl *nl, const char *name, struct bh_link_info *out, bh_err_t *err)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = link_msg(buf, RTM_GETLINK, 0, 0, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    memset(out, 0, sizeof *out);
    if (bh_rtnl_talk(nl, nlh, link_info_cb, out, name, err) < 0)
        return -1;
    if (out->index <= 0)
        return bh_err_set(err, ENODEV, "%s: no such link", name);
    return 0;
}

/* Delete a link by name; a link that does not exist is success. */
int bh_rtnl_link_del(struct bh_nl *nl, const char *name, bh_err_t *err)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = link_msg(buf, RTM_DELLINK, 0, 0, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    cleanup_free char *what = bh_xasprintf("delete link %s", name);
    bh_err_t e = BH_ERR_INIT;
    if (bh_rtnl_talk(nl, nlh, NULL, NULL, what, &e) < 0) {
        if (e.errnum == ENODEV) {
            bh_err_clear(&e);
            return 0;
        }
        bh_err_set(err, e.errnum, "%s", bh_err_msg(&e));
        bh_err_clear(&e);
        return -1;
    }
    return 0;
}

/* Create the bridge or, if it exists, bring it to the wanted state (up, our
 * MAC). A non-bridge link of that name is an error (EOPNOTSUPP). */
int bh_rtnl_bridge_ensure(struct bh_nl *nl, const char *name, bh_err_t *err)
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
    return bh_rtnl_talk(nl, nlh, NULL, NULL, what, err);
}

/* Add (or with replace, re-add) addr/prefix on a link. */
int bh_rtnl_addr_add(struct bh_nl *nl, int index, uint32_t addr, const struct subnet *sn,
                     int replace, bh_err_t *err)
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
    uint32_t a = htonl(addr), b = htonl(bh_net_subnet_broadcast(sn));
    mnl_attr_put_u32(nlh, IFA_LOCAL, a);
    mnl_attr_put_u32(nlh, IFA_ADDRESS, a);
    mnl_attr_put_u32(nlh, IFA_BROADCAST, b);
    char s[INET_ADDRSTRLEN];
    bh_net_addr_str(addr, s);
    cleanup_free char *what = bh_xasprintf("add address %s/%u", s, sn->prefix);
    return bh_rtnl_talk(nl, nlh, NULL, NULL, what, err);
}

int bh_rtnl_route_add_default(struct bh_nl *nl, int index, uint32_t gw, bh_err_t *err)
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
    return bh_rtnl_talk(nl, nlh, NULL, NULL, "add default route", err);
}

/* The host side `name` (up, MTU, port of bridge `master`) and its peer
 * PEER_NAME (down, same MTU) created directly in the netns `ns_fd`. */
int bh_rtnl_veth_create(struct bh_nl *nl, const char *name, int master, unsigned mtu, int ns_fd,
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
    return bh_rtnl_talk(nl, nlh, NULL, NULL, what, err);
}

/* Tag a session's host veth with its id (the ifalias) and make it an
 * isolated bridge port: the bridge forwards nothing from one isolated port
 * to another, so sessions cannot reach each other at layer 2 (not even with
 * a forged neighbour entry); each still talks to the bridge itself, the
 * gateway. */
int bh_rtnl_port_tag(struct bh_nl *nl, const char *name, const char *alias, bh_err_t *err)
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
    return bh_rtnl_talk(nl, nlh, NULL, NULL, what, err);
}

/* Up a link (by index; `name` is for messages). */
int bh_rtnl_link_up(struct bh_nl *nl, const char *name, int index, bh_err_t *err)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, index, 1);
    cleanup_free char *what = bh_xasprintf("set link %s up", name);
    return bh_rtnl_talk(nl, nlh, NULL, NULL, what, err);
}

static int count_ports_cb(const struct nlmsghdr *nlh, void *data)
{
    int *ports = data;
    struct bh_link_info li = {0};
    if (link_info_cb(nlh, &li) < MNL_CB_OK)
        return MNL_CB_ERROR;
    if (li.master && li.master == ports[0])
        ports[1]++;
    return MNL_CB_OK;
}

/* Number of links whose master is the link `master`. */
int bh_rtnl_bridge_ports(struct bh_nl *nl, int master, bh_err_t *err)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = link_msg(buf, RTM_GETLINK, NLM_F_DUMP, 0, 0);
    int ports[2] = {master, 0};
    if (bh_rtnl_talk(nl, nlh, count_ports_cb, ports, "list links", err) < 0)
        return -1;
    return ports[1];
}
