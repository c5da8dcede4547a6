/* net_rules.h — internal to the network modules; nothing else includes it.
 * Egress rules (bh_net_rule_parse() and bh_net_rule_public() of net.h are
 * here too): the address ranges the policy is made of (the never,
 * link-local and private tables, the same lists that the nft sets hold and
 * that bh_net_rule_public() measures a rule against), the check that a
 * rule from a caller is one bh_net_rule_parse() would have written, and a
 * rule as an nft match. */
#ifndef BH_NET_RULES_H
#define BH_NET_RULES_H

#include <stdio.h>

#include "lib/err.h"
#include "net/net.h"

#define MAX_RULES 256 /* per list: operator allow/deny, a session's allow */

/* Comma-separated CIDR lists (see net.h, "What a session may reach"):
 * never reached (the session subnet is added to never4 at init);
 * link-local and metadata (only the operator's always_allow opens them);
 * not public (`internet` denies them). */
extern const char bh_net_never4[], bh_net_never6[];
extern const char bh_net_linklocal4[], bh_net_linklocal6[];
extern const char bh_net_private4[], bh_net_private6[];

/* At most MAX_RULES rules, each as bh_net_rule_parse() writes it; else
 * EINVAL naming what[i]. */
int bh_net_rules_check(const struct bh_net_rule *v, int n, const char *what, bh_err_t *err);
/* "ip daddr 10.0.0.0/8 meta l4proto { tcp, udp } th dport { 80, 443 }" */
void bh_net_put_match(FILE *f, const struct bh_net_rule *r);

#endif
