/* net_names.c — see net_names.h. */
#include "net/net_names.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int valid_name_chars(const char *s, const char *extra)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr(extra, *s)))
            return 0;
    return 1;
}

int bh_net_check_id(const char *id, bh_err_t *err)
{
    if (!id || !*id || strlen(id) > ID_MAX || !valid_name_chars(id, "_-"))
        return bh_err_set(err, EINVAL, "bad session id \"%s\"", id ? id : "(null)");
    return 0;
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

uint32_t bh_net_subnet_broadcast(const struct subnet *sn)
{
    return sn->net | (0xffffffffu >> sn->prefix);
}

void bh_net_addr_str(uint32_t host_order, char out[INET_ADDRSTRLEN])
{
    struct in_addr a = {htonl(host_order)};
    inet_ntop(AF_INET, &a, out, INET_ADDRSTRLEN);
}

/* Bridge, subnet and table of a config, checked so they are safe to put in
 * an nft script and in netlink messages. */
int bh_net_check_config(const struct bh_net_config *cfg, struct subnet *sn, bh_err_t *err)
{
    if (!cfg || !cfg->bridge || !*cfg->bridge || strlen(cfg->bridge) >= IFNAMSIZ ||
        !valid_name_chars(cfg->bridge, "_-."))
        return bh_err_set(err, EINVAL, "bad bridge name \"%s\"",
                          cfg && cfg->bridge ? cfg->bridge : "(null)");
    if (cfg->nft_table &&
        (strlen(cfg->nft_table) > TABLE_MAX || !valid_name_chars(cfg->nft_table, "_")))
        return bh_err_set(err, EINVAL, "bad nft table name \"%s\"", cfg->nft_table);
    return parse_subnet(cfg->subnet, sn, err);
}

/* The MAC of a session's eth0, derived from its address (06:62:a.b.c.d,
 * locally administered unicast): the bridge's anti-spoofing set can then be
 * rebuilt from the address alone, also by a teardown after a crash. */
void bh_net_session_mac(uint32_t addr, uint8_t mac[6])
{
    mac[0] = 0x06;
    mac[1] = 0x62; /* 'b' */
    mac[2] = (uint8_t)(addr >> 24);
    mac[3] = (uint8_t)(addr >> 16);
    mac[4] = (uint8_t)(addr >> 8);
    mac[5] = (uint8_t)addr;
}

void bh_net_session_names(const char *id, struct bh_net_session *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->netns, sizeof s->netns, "%s%s", NETNS_PREFIX, id);
    snprintf(s->netns_path, sizeof s->netns_path, "%s/%s", NETNS_DIR, s->netns);
    snprintf(s->veth_host, sizeof s->veth_host, "%s%.*s", VETH_PREFIX, VETH_ID_CHARS, id);
}
