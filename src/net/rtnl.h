/* rtnl.h — internal to the network modules; nothing else includes it.
 * Netlink over libmnl: a socket (rtnetlink, or the netfilter bus for
 * conntrack), one request and its ack or dump, and the link, address and
 * route operations that the host bridge and the sessions' veth pairs need.
 * A socket stays bound to the netns of the thread that opened it. Errors:
 * -1 with err->status the kernel's errno and its extended ack message. */
#ifndef BH_RTNL_H
#define BH_RTNL_H

#include <libmnl/libmnl.h>
#include <stdint.h>

#include "lib/err.h"
#include "net/net_names.h"

/* One netlink socket, bound to the netns of the thread that opened it. */
struct bh_nl {
    struct mnl_socket *sock;
    unsigned portid;
    unsigned seq;
};

struct bh_link_info {
    int index;
    unsigned mtu;
    int master;
    char alias[128];
};

/* A socket of netlink family `bus` (NETLINK_ROUTE, NETLINK_NETFILTER). */
int bh_rtnl_open_bus(struct bh_nl *nl, int bus, bh_err_t *err);
/* An rtnetlink socket. */
int bh_rtnl_open(struct bh_nl *nl, bh_err_t *err);
void bh_rtnl_close(struct bh_nl *nl);
/* Send one request and read until its ack (or NLMSG_DONE for a dump),
 * giving every data message to cb (if not NULL); err->msg starts with
 * `what`. */
int bh_rtnl_talk(struct bh_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data, const char *what,
                 bh_err_t *err);

/* Look a link up by name. A missing link is -1 with err->status ENODEV. */
int bh_rtnl_link_get(struct bh_nl *nl, const char *name, struct bh_link_info *out, bh_err_t *err);
/* Delete a link by name; a link that does not exist is success. */
int bh_rtnl_link_del(struct bh_nl *nl, const char *name, bh_err_t *err);
/* Up a link (by index; `name` is for messages). */
int bh_rtnl_link_up(struct bh_nl *nl, const char *name, int index, bh_err_t *err);
/* Create the bridge or, if it exists, bring it to the wanted state (up,
 * its own stable MAC). A non-bridge link of that name is EOPNOTSUPP. */
int bh_rtnl_bridge_ensure(struct bh_nl *nl, const char *name, bh_err_t *err);
/* Number of links whose master is the link `master`. */
int bh_rtnl_bridge_ports(struct bh_nl *nl, int master, bh_err_t *err);
/* Add (or with replace, re-add) addr/prefix of sn on a link. */
int bh_rtnl_addr_add(struct bh_nl *nl, int index, uint32_t addr, const struct subnet *sn,
                     int replace, bh_err_t *err);
int bh_rtnl_route_add_default(struct bh_nl *nl, int index, uint32_t gw, bh_err_t *err);
/* The host side `name` (up, MTU, port of bridge `master`) and its peer
 * PEER_NAME (down, same MTU, MAC peer_mac) created directly in the netns
 * `ns_fd`. */
int bh_rtnl_veth_create(struct bh_nl *nl, const char *name, int master, unsigned mtu, int ns_fd,
                        const uint8_t peer_mac[6], bh_err_t *err);
/* Tag a session's host veth with its id (the ifalias) and make it an
 * isolated bridge port. */
int bh_rtnl_port_tag(struct bh_nl *nl, const char *name, const char *alias, bh_err_t *err);

#endif
