/* net_rules.c — see net_rules.h. */
#include "net/net_rules.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

/* Destinations no session ever reaches, whatever its policy or the
 * operator's lists; the session subnet (the bridge, every other session) is
 * added at init. The host's own addresses need no list: packets to them
 * take the input hook, where only the resolver is open. */
const char bh_net_never4[] = "0.0.0.0/8, 127.0.0.0/8, 224.0.0.0/4, 240.0.0.0/4";
const char bh_net_never6[] = "::/96, ::ffff:0:0/96, ff00::/8";
/* Link-local, incl. the cloud metadata services: only the operator's
 * always_allow opens them, never a session's own allow-list or proxy. */
const char bh_net_linklocal4[] = "169.254.0.0/16";
const char bh_net_linklocal6[] = "fd00:ec2::254, fe80::/10";
/* Not public: `internet` denies them; an allow-list entry or the operator's
 * always_allow may open them. The documentation ranges (192.0.2.0/24,
 * 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) count as public: the
 * tests' "internet" lives there. */
const char bh_net_private4[] = "10.0.0.0/8, 100.64.0.0/10, 172.16.0.0/12, 192.0.0.0/24, "
                               "192.168.0.0/16, 198.18.0.0/15";
const char bh_net_private6[] = "64:ff9b::/96, 64:ff9b:1::/48, 100::/64, 2001::/23, 2002::/16, "
                               "fc00::/7, fec0::/10";

static int is_v6(const char *cidr) { return strchr(cidr, ':') != NULL; }

int bh_net_rule_parse(const char *cidr, const uint16_t *ports, int nports, struct bh_net_rule *out,
                      bh_err_t *err)
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

int bh_net_rules_check(const struct bh_net_rule *v, int n, const char *what, bh_err_t *err)
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

int bh_net_rule_public(const struct bh_net_rule *r, const struct bh_net_rule *granted, int ngranted,
                       bh_err_t *err)
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
        {bh_net_private4, "private"},      {bh_net_private6, "private"},
        {bh_net_linklocal4, "link-local"}, {bh_net_linklocal6, "link-local"},
        {bh_net_never4, "reserved"},       {bh_net_never6, "reserved"},
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
                    bh_err_set(err, 0, "%s overlaps %s range %.*s", r->cidr, tables[t].what, (int)n,
                               s);
                    if (err) /* EACCES, without strerror's words in the message */
                        err->errnum = EACCES;
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
void bh_net_put_match(FILE *f, const struct bh_net_rule *r)
{
    fprintf(f, "%s daddr %s", is_v6(r->cidr) ? "ip6" : "ip", r->cidr);
    if (r->nports) {
        fputs(" meta l4proto { tcp, udp } th dport { ", f);
        for (int i = 0; i < r->nports; i++)
            fprintf(f, "%s%u", i ? ", " : "", r->ports[i]);
        fputs(" }", f);
    }
}
