/* net_names.h — internal to the network modules (net*.c, rtnl.c,
 * conntrack.c); nothing else includes it. Names and addresses: the fixed
 * names and paths of what bulkhead makes (bh-<id> namespaces, bhv* veths,
 * eth0), the checks of a session id and of a config (bridge, table name,
 * subnet), the session subnet and the MAC a session's eth0 takes from its
 * address. */
#ifndef BH_NET_NAMES_H
#define BH_NET_NAMES_H

#include <netinet/in.h>
#include <stdint.h>

#include "lib/err.h"
#include "net/net.h"

#define NETNS_DIR "/run/netns"
#define NETNS_PREFIX "bh-"
#define VETH_PREFIX "bhv"
#define VETH_ID_CHARS 12
#define PEER_NAME "eth0"
#define TABLE_MAX 64
#define ID_MAX 59 /* "bh-" + id + NUL fits bh_net_session.netns[64] */

/* An IPv4 subnet in host byte order; `net` has no host bits. */
struct subnet {
    uint32_t net;
    unsigned prefix;
};

/* A session id: [A-Za-z0-9_-], 1 to ID_MAX chars; else EINVAL. */
int bh_net_check_id(const char *id, bh_err_t *err);
/* Bridge, subnet and table of a config, checked so they are safe to put in
 * an nft script and in netlink messages; *sn is the parsed subnet. */
int bh_net_check_config(const struct bh_net_config *cfg, struct subnet *sn, bh_err_t *err);
uint32_t bh_net_subnet_broadcast(const struct subnet *sn);
/* An address in host byte order as a.b.c.d. */
void bh_net_addr_str(uint32_t host_order, char out[INET_ADDRSTRLEN]);
/* The MAC of a session's eth0, derived from its address. */
void bh_net_session_mac(uint32_t addr, uint8_t mac[6]);
/* The netns name and path and the host veth name of session id (addr
 * empty). */
void bh_net_session_names(const char *id, struct bh_net_session *s);

#endif
