/* conntrack.c — see conntrack.h.
 *
 * The host's conntrack table keeps a session's flows (its NAT mappings
 * among them) for minutes after the session is gone: TCP in TIME_WAIT for
 * 2 min, an established one idle for days. An address is cleaned of them
 * before its lease is freed, so the next session given the address starts
 * with none. Over ctnetlink: one dump of the IPv4 table, filtered here (an
 * entry names the address in any of its four tuple addresses), then one
 * delete per entry, by its original tuple, zone and id (so a new entry that
 * reuses a tuple is not hit). */
#include "net/conntrack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_names.h"
#include "net/rtnl.h"
#include "lib/util.h"

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
int bh_conntrack_flush(uint32_t addr, bh_err_t *err)
{
    char s[INET_ADDRSTRLEN];
    bh_net_addr_str(addr, s);
    struct bh_nl nl;
    if (bh_rtnl_open_bus(&nl, NETLINK_NETFILTER, err) < 0)
        return bh_err_wrap(err, "conntrack flush %s", s);
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct ct_match m = {.addr = htonl(addr)};
    struct nlmsghdr *nlh = ct_msg(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP);
    int rc = bh_rtnl_talk(&nl, nlh, ct_dump_cb, &m, "conntrack dump", err);
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
        if (bh_rtnl_talk(&nl, nlh, NULL, NULL, "conntrack delete", &de) == 0)
            deleted++;
        else if (de.errnum != ENOENT)
            rc = bh_err_set(err, de.errnum, "%s", bh_err_msg(&de));
        bh_err_clear(&de);
    }
    free(m.v);
    bh_rtnl_close(&nl);
    return rc < 0 ? bh_err_wrap(err, "conntrack flush %s", s) : deleted;
}
