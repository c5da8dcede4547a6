/* create_opts.c — see create_opts.h. */
#include "session/create_opts.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kinds/kinds.h"
#include "lib/json.h"
#include "lib/util.h"

void bh_create_opts_clear(struct bh_create_opts *o)
{
    if (o->kind && o->kind_opts)
        o->kind->free_opts(o->kind_opts);
    o->kind_opts = NULL;
    free(o->allow);
    free(o->proxy);
    o->proxy = NULL;
    o->allow = NULL;
    o->nallow = 0;
}

static const char *const mode_names[] = {"internet", "none", "allowlist"};

char *bh_create_opts_network_json(const struct bh_create_opts *o)
{
    json_t *allow = json_array();
    for (int i = 0; i < o->nallow; i++) {
        json_t *ports = json_array();
        for (int k = 0; k < o->allow[i].nports; k++)
            json_array_append_new(ports, json_integer(o->allow[i].ports[k]));
        json_array_append_new(allow,
                              json_pack("{s:s, s:o}", "cidr", o->allow[i].cidr, "ports", ports));
    }
    json_t *j = json_pack("{s:s, s:o, s:o}", "policy", mode_names[o->net_mode], "allow", allow,
                          "proxy", o->proxy ? json_string(o->proxy) : json_null());
    char *s = bh_json_dump(j);
    json_decref(j);
    return s;
}

/* An upstream proxy: http://, https:// or socks5:// with an IP literal host
 * and a port (the egress policy admits it by address, before any DNS).
 * rule (may be NULL): the proxy's address and port as an allow rule. */
static int check_proxy(const char *p, struct bh_net_rule *rule, struct bh_invalid *why)
{
    const char *rest;
    if (!strncmp(p, "http://", 7))
        rest = p + 7;
    else if (!strncmp(p, "https://", 8))
        rest = p + 8;
    else if (!strncmp(p, "socks5://", 9))
        rest = p + 9;
    else
        return bh_invalid(why, "invalid_field",
                          "network.proxy must be http://, https:// or socks5://");
    char host[64];
    const char *colon;
    if (*rest == '[') {
        const char *close = strchr(rest, ']');
        if (!close || close[1] != ':' || (size_t)(close - rest - 1) >= sizeof host)
            return bh_invalid(why, "invalid_field", "network.proxy must be SCHEME://[IPv6]:PORT");
        snprintf(host, sizeof host, "%.*s", (int)(close - rest - 1), rest + 1);
        colon = close + 1;
    } else {
        colon = strchr(rest, ':');
        if (!colon || (size_t)(colon - rest) >= sizeof host)
            return bh_invalid(why, "invalid_field", "network.proxy must be SCHEME://IP:PORT");
        snprintf(host, sizeof host, "%.*s", (int)(colon - rest), rest);
    }
    unsigned char buf[16];
    if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1)
        return bh_invalid(why, "invalid_field", "network.proxy host must be an IP address");
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || (*end && strcmp(end, "/")) || port < 1 || port > 65535)
        return bh_invalid(why, "invalid_field", "network.proxy needs a port 1-65535");
    uint16_t pv = (uint16_t)port;
    if (bh_net_rule_parse(host, &pv, 1, rule, NULL) < 0)
        return bh_invalid(why, "invalid_field", "network.proxy host must be an IP address");
    return 0;
}

static int parse_network(json_t *net, struct bh_create_opts *out, struct bh_invalid *why)
{
    if (!json_is_object(net))
        return bh_invalid(why, "invalid_field", "network must be an object");
    static const char *const keys[] = {"policy", "allow", "proxy", NULL};
    if (bh_check_keys(net, "network.", keys, why) < 0)
        return -1;
    json_t *pol = json_object_get(net, "policy");
    if (pol) {
        if (!json_is_string(pol))
            return bh_invalid(why, "invalid_field", "network.policy must be a string");
        const char *v = json_string_value(pol);
        int found = 0;
        for (int i = 0; i < 3; i++)
            if (!strcmp(v, mode_names[i])) {
                out->net_mode = (enum bh_net_mode)i;
                found = 1;
            }
        if (!found)
            return bh_invalid(why, "invalid_field",
                              "network.policy must be \"internet\", \"none\" or \"allowlist\"");
    }
    json_t *allow = json_object_get(net, "allow");
    if (allow && out->net_mode != BH_NET_ALLOWLIST)
        return bh_invalid(why, "invalid_field", "network.allow needs policy \"allowlist\"");
    if (out->net_mode == BH_NET_ALLOWLIST) {
        if (!json_is_array(allow) || json_array_size(allow) == 0)
            return bh_invalid(why, "invalid_field",
                              "network.allow must be a non-empty array of {\"cidr\",\"ports\"}");
        if (json_array_size(allow) > BH_ALLOW_MAX)
            return bh_invalid(why, "invalid_field", "network.allow has more than %d entries",
                              BH_ALLOW_MAX);
        out->allow = bh_xcalloc(json_array_size(allow), sizeof *out->allow);
        size_t i;
        json_t *e;
        json_array_foreach(allow, i, e)
        {
            static const char *const ekeys[] = {"cidr", "ports", NULL};
            if (!json_is_object(e))
                return bh_invalid(why, "invalid_field", "network.allow[%zu] must be an object", i);
            if (bh_check_keys(e, "network.allow[].", ekeys, why) < 0)
                return -1;
            const char *cidr = bh_json_str(e, "cidr");
            if (!cidr)
                return bh_invalid(why, "invalid_field", "network.allow[%zu].cidr must be a string",
                                  i);
            json_t *ports = json_object_get(e, "ports");
            uint16_t pv[16];
            int np = 0;
            if (ports) {
                if (!json_is_array(ports) || json_array_size(ports) > 16)
                    return bh_invalid(
                        why, "invalid_field",
                        "network.allow[%zu].ports must be an array of at most 16 ports", i);
                size_t k;
                json_t *pj;
                json_array_foreach(ports, k, pj)
                {
                    if (!json_is_integer(pj) || json_integer_value(pj) < 1 ||
                        json_integer_value(pj) > 65535)
                        return bh_invalid(why, "invalid_field",
                                          "network.allow[%zu].ports must hold integers 1-65535", i);
                    pv[np++] = (uint16_t)json_integer_value(pj);
                }
            }
            bh_err_t err = BH_ERR_INIT;
            if (bh_net_rule_parse(cidr, pv, np, &out->allow[out->nallow], &err) < 0) {
                bh_invalid(why, "invalid_field", "network.allow[%zu]: %s", i, bh_err_msg(&err));
                bh_err_clear(&err);
                return -1;
            }
            out->nallow++;
        }
    }
    json_t *proxy = json_object_get(net, "proxy");
    if (proxy && !json_is_null(proxy)) {
        if (!json_is_string(proxy))
            return bh_invalid(why, "invalid_field", "network.proxy must be a string");
        if (out->net_mode == BH_NET_NONE)
            return bh_invalid(why, "invalid_field",
                              "network.proxy cannot be used with policy \"none\"");
        if (check_proxy(json_string_value(proxy), &out->proxy_rule, why) < 0)
            return -1;
        out->proxy = bh_xstrdup(json_string_value(proxy));
    }
    return 0;
}

/* 0 if rule r (`what` in the message) is public space or opened by the
 * operator's --egress-allow anyway, else -1 with why "forbidden_network". */
static int check_public(const struct bh_net_rule *r, const struct bh_config *cfg, const char *what,
                        struct bh_invalid *why)
{
    bh_err_t err = BH_ERR_INIT;
    if (bh_net_rule_public(r, cfg->egress_allow, cfg->negress_allow, &err) == 0)
        return 0;
    bh_invalid(why, "forbidden_network",
               "%s: %s; only an admin token or the operator's --egress-allow may open it", what,
               bh_err_msg(&err));
    bh_err_clear(&err);
    return -1;
}

int bh_validate_network_public(const struct bh_create_opts *o, const struct bh_config *cfg,
                               struct bh_invalid *why)
{
    for (int i = 0; i < o->nallow; i++) {
        char what[32];
        snprintf(what, sizeof what, "network.allow[%d]", i);
        if (check_public(&o->allow[i], cfg, what, why) < 0)
            return -1;
    }
    if (o->proxy && check_public(&o->proxy_rule, cfg, "network.proxy", why) < 0)
        return -1;
    return 0;
}

int bh_validate_create(const char *body, size_t len, const struct bh_config *cfg,
                       struct bh_create_opts *out, struct bh_invalid *why)
{
    memset(out, 0, sizeof *out);
    out->idle_timeout = cfg->idle_timeout;
    out->ttl = cfg->ttl;
    out->net_mode = BH_NET_INTERNET;
    json_t *root = NULL;
    if (len == 0) {
        root = json_object(); /* an empty body means all defaults */
    } else {
        json_error_t jerr;
        root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
            return bh_invalid(why, "invalid_json", "body is not valid JSON: %s (line %d)",
                              jerr.text, jerr.line);
    }
    int rc = -1;
    if (!json_is_object(root)) {
        bh_invalid(why, "invalid_json", "body must be a JSON object");
        goto out;
    }
    json_t *t = json_object_get(root, "type");
    const struct bh_kind *kind = bh_kinds[0];
    if (t) {
        kind = json_is_string(t) ? bh_kind_find(json_string_value(t)) : NULL;
        if (!kind) {
            char names[128] = "";
            for (int i = 0; bh_kinds[i]; i++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s\"%s\"",
                         i ? " or " : "", bh_kinds[i]->name);
            bh_invalid(why, "invalid_field", "type must be %s", names);
            goto out;
        }
    }
    /* the common fields, then the kind's */
    const char *keys[32];
    int nk = 0;
    static const char *const common[] = {"type", "idleTimeout", "ttl", "network", NULL};
    for (const char *const *k = common; *k; k++)
        keys[nk++] = *k;
    for (const char *const *k = kind->fields; *k && nk < 31; k++)
        keys[nk++] = *k;
    keys[nk] = NULL;
    if (bh_check_keys(root, "", keys, why) < 0)
        goto out;
    if (bh_check_int(root, "idleTimeout", "idleTimeout", 1, cfg->max_timeout, &out->idle_timeout,
                     why) < 0 ||
        bh_check_int(root, "ttl", "ttl", 1, cfg->max_timeout, &out->ttl, why) < 0)
        goto out;
    json_t *net = json_object_get(root, "network");
    if (net && parse_network(net, out, why) < 0)
        goto out;
    if (kind->validate(root, cfg, &out->kind_opts, why) < 0)
        goto out;
    /* the network its opts bring when the body names none (a lab's) */
    json_t *knet = !net && kind->network ? kind->network(out->kind_opts) : NULL;
    if (knet && parse_network(knet, out, why) < 0) {
        kind->free_opts(out->kind_opts);
        out->kind_opts = NULL;
        goto out;
    }
    /* the kind's own bound of the ttl (a lab's time limit) */
    int cap = kind->ttl_limit ? kind->ttl_limit(out->kind_opts) : 0;
    if (cap > 0 && out->ttl > cap)
        out->ttl = cap;
    out->kind = kind;
    rc = 0;
out:
    if (rc < 0)
        bh_create_opts_clear(out);
    json_decref(root);
    return rc;
}
