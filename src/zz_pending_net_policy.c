/* TEMPORARY (never committed): weak stand-ins until net.c implements the
 * egress policy API, so the tree links meanwhile. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net.h"

__attribute__((weak)) int bh_net_rule_parse(const char *cidr, const uint16_t *ports, int nports,
                                            struct bh_net_rule *out, bh_err_t *err)
{
    memset(out, 0, sizeof *out);
    char a[64];
    snprintf(a, sizeof a, "%s", cidr);
    char *slash = strchr(a, '/');
    if (slash)
        *slash = 0;
    unsigned char b[16];
    if (inet_pton(AF_INET, a, b) != 1 && inet_pton(AF_INET6, a, b) != 1)
        return bh_err_set(err, EINVAL, "'%s' is not a CIDR", cidr);
    snprintf(out->cidr, sizeof out->cidr, "%s", cidr);
    for (int i = 0; i < nports && i < 16; i++)
        out->ports[out->nports++] = ports[i];
    return 0;
}

__attribute__((weak)) int bh_net_session_policy(const struct bh_net_config *cfg, const char *id,
                                                const struct bh_net_policy *policy, bh_err_t *err)
{
    (void)cfg, (void)id, (void)policy, (void)err;
    return 0;
}
