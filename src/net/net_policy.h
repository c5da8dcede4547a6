/* net_policy.h — internal to the network modules; nothing else includes it.
 * The egress policy in nftables (bh_net_session_policy() of net.h is here
 * too): the two tables of a config (inet: NAT, the policy and the host's
 * input; bridge: anti-spoofing), and a session's part of them — its map and
 * set elements, its chain, its port — put in and taken out. */
#ifndef BH_NET_POLICY_H
#define BH_NET_POLICY_H

#include "lib/err.h"
#include "net/net.h"
#include "net/net_names.h"

/* Replace the tables of cfg (one transaction) with the subnet sn, the
 * resolver and the operator lists of cfg. */
int bh_net_policy_init(const struct bh_net_config *cfg, const struct subnet *sn, bh_err_t *err);
/* Delete both tables; tables that do not exist are success. */
int bh_net_policy_fini(const struct bh_net_config *cfg, bh_err_t *err);
/* Take session id out of the tables: by the names its lease gives, else by
 * listing the tables. Its port's elements only if port_ours (the host veth
 * `veth` is this session's). Nothing there is success. */
int bh_net_policy_remove(const struct bh_net_config *cfg, const char *id, const char *veth,
                         int port_ours, bh_err_t *err);

#endif
