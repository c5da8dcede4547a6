/* test_validate.c — the create-body and URL checks, and the token compare. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "config/config.h"
#include "t.h"
#include "api/validate.h"
#include "session/create_opts.h"
#include "kinds/browser/browser_int.h"
#include "kinds/browser/kind.h"

static struct bh_config cfg;

static const char *create_code(const char *body)
{
    static struct bh_invalid why;
    struct bh_create_opts o;
    if (bh_validate_create(body, strlen(body), &cfg, &o, &why) == 0) {
        bh_create_opts_clear(&o);
        return "ok";
    }
    return why.code;
}

/* A token create body's verdict: "ok" or the error code. */
static const char *token_code(const char *body, size_t len, struct bh_token_opts *t)
{
    static struct bh_invalid why;
    return bh_validate_token(body, len, t, &why) == 0 ? "ok" : why.code;
}
#define TOKEN(lit, t) token_code(lit, sizeof lit - 1, t)

/* A link body's verdict: "ok" or the error code. */
static const char *link_code(const char *body, size_t len, struct bh_link_opts *l)
{
    static struct bh_invalid why;
    return bh_validate_link(body, len, l, &why) == 0 ? "ok" : why.code;
}
#define LINK(lit, l) link_code(lit, sizeof lit - 1, l)

static const char *url_code(const char *url)
{
    static struct bh_invalid why;
    return bh_validate_url(url, &why) == 0 ? "ok" : why.code;
}

/* bh_net_rule_public of cidr (with ports) against the granted CIDRs (a
 * NULL-terminated list, "CIDR" or "CIDR:PORT"): "ok", or its message. */
static const char *public_msg(const char *cidr, const uint16_t *ports, int nports,
                              const char *const *granted)
{
    static char msg[256];
    struct bh_net_rule r, g[8];
    int ng = 0;
    if (bh_net_rule_parse(cidr, ports, nports, &r, NULL) < 0)
        return "unparsed";
    for (; granted && *granted; granted++, ng++) {
        char c[64];
        snprintf(c, sizeof c, "%s", *granted);
        char *colon = strrchr(c, ':');
        uint16_t port = 0;
        if (colon && strchr(c, '.')) { /* IPv4 with a port */
            *colon = 0;
            port = (uint16_t)atoi(colon + 1);
        }
        if (bh_net_rule_parse(c, port ? &port : NULL, port ? 1 : 0, &g[ng], NULL) < 0)
            return "unparsed granted";
    }
    bh_err_t err = BH_ERR_INIT;
    if (bh_net_rule_public(&r, g, ng, &err) == 0)
        return "ok";
    snprintf(msg, sizeof msg, "%s", bh_err_msg(&err));
    bh_err_clear(&err);
    return msg;
}

/* bh_validate_network_public of a create body: "ok", a validation error
 * code, or "forbidden_network: <message>". */
static const char *user_net(const char *body)
{
    static char out[300];
    struct bh_invalid why;
    struct bh_create_opts o;
    if (bh_validate_create(body, strlen(body), &cfg, &o, &why) < 0)
        return why.code;
    int rc = bh_validate_network_public(&o, &cfg, &why);
    bh_create_opts_clear(&o);
    if (rc == 0)
        return "ok";
    snprintf(out, sizeof out, "%s: %s", why.code, why.msg);
    return out;
}

int main(void)
{
    bh_config_defaults(&cfg);

    /* URLs: what may be opened */
    CHECK_STR(url_code("http://198.51.100.1:8080/"), "ok");
    CHECK_STR(url_code("https://example.com/a?b=c#d"), "ok");
    CHECK_STR(url_code("HTTP://EXAMPLE.COM"), "ok");
    CHECK_STR(url_code("http://[::1]:8080/x"), "ok");
    CHECK_STR(url_code("http://user:pw@host/"), "ok");
    CHECK_STR(url_code("about:blank"), "ok");
    CHECK_STR(url_code("about:config"), "invalid_url");
    CHECK_STR(url_code("file:///etc/passwd"), "invalid_url");
    CHECK_STR(url_code("chrome://settings"), "invalid_url");
    CHECK_STR(url_code("javascript:alert(1)"), "invalid_url");
    CHECK_STR(url_code("data:text/html,<script>alert(1)</script>"), "invalid_url");
    CHECK_STR(url_code("view-source:http://x/"), "invalid_url");
    CHECK_STR(url_code("ftp://x/"), "invalid_url");
    CHECK_STR(url_code("/relative/path"), "invalid_url");
    CHECK_STR(url_code("http://"), "invalid_url");
    CHECK_STR(url_code("http:///path"), "invalid_url");
    CHECK_STR(url_code("http://:80/"), "invalid_url");
    CHECK_STR(url_code("http://host:99999/"), "invalid_url");
    CHECK_STR(url_code("http://host:/"), "invalid_url");
    CHECK_STR(url_code("http://ho st/"), "invalid_url");
    CHECK_STR(url_code("http://host/\n"), "invalid_url");
    CHECK_STR(url_code("http://[::1/"), "invalid_url");
    CHECK_STR(url_code(""), "invalid_url");
    char *longurl = malloc(3000);
    strcpy(longurl, "http://x/");
    memset(longurl + 9, 'a', 2100);
    longurl[2109] = 0;
    CHECK_STR(url_code(longurl), "invalid_url");
    free(longurl);

    /* create bodies */
    CHECK_STR(create_code(""), "ok");
    CHECK_STR(create_code("{}"), "ok");
    CHECK_STR(create_code("{\"type\":\"browser\",\"url\":\"http://a/\",\"viewport\":{\"width\":800,"
                          "\"height\":600},\"idleTimeout\":1,\"ttl\":86400}"),
              "ok");
    CHECK_STR(create_code("{"), "invalid_json");
    CHECK_STR(create_code("[]"), "invalid_json");
    CHECK_STR(create_code("\"x\""), "invalid_json");
    CHECK_STR(create_code("{\"url\":\"http://a/\",\"url\":\"http://b/\"}"), "invalid_json");
    CHECK_STR(create_code("{\"foo\":1}"), "unknown_field");
    CHECK_STR(create_code("{\"viewport\":{\"width\":800,\"depth\":3}}"), "unknown_field");
    CHECK_STR(create_code("{\"url\":42}"), "invalid_field");
    CHECK_STR(create_code("{\"type\":\"kiosk\"}"), "invalid_field");
    CHECK_STR(create_code("{\"type\":\"shell\"}"), "ok");
    CHECK_STR(create_code("{\"type\":\"shell\",\"url\":\"http://a/\"}"), "unknown_field");
    CHECK_STR(create_code("{\"type\":\"shell\",\"workspace\":{\"sizeBytes\":1}}"), "invalid_field");
    CHECK_STR(create_code("{\"type\":\"shell\",\"workspace\":{\"size\":1048576}}"),
              "unknown_field");
    CHECK_STR(create_code("{\"type\":\"shell\",\"lab\":\"x\"}"), "unknown_lab");
    CHECK_STR(create_code("{\"type\":1}"), "invalid_field");
    CHECK_STR(create_code("{\"viewport\":[1,2]}"), "invalid_field");
    CHECK_STR(create_code("{\"viewport\":{\"width\":\"800\"}}"), "invalid_field");
    CHECK_STR(create_code("{\"viewport\":{\"width\":100000,\"height\":600}}"), "invalid_field");
    CHECK_STR(create_code("{\"viewport\":{\"width\":800,\"height\":0}}"), "invalid_field");
    CHECK_STR(create_code("{\"viewport\":{\"width\":800.5}}"), "invalid_field");
    CHECK_STR(create_code("{\"idleTimeout\":0}"), "invalid_field");
    CHECK_STR(create_code("{\"ttl\":-5}"), "invalid_field");
    CHECK_STR(create_code("{\"ttl\":86401}"), "invalid_field");
    CHECK_STR(create_code("{\"ttl\":true}"), "invalid_field");
    /* pageLoadTimeout: whole seconds, 1..BH_PAGE_LOAD_MAX */
    CHECK_STR(create_code("{\"pageLoadTimeout\":1}"), "ok");
    CHECK_STR(create_code("{\"pageLoadTimeout\":300}"), "ok");
    CHECK_STR(create_code("{\"pageLoadTimeout\":0}"), "invalid_field");
    CHECK_STR(create_code("{\"pageLoadTimeout\":301}"), "invalid_field");
    CHECK_STR(create_code("{\"pageLoadTimeout\":2.5}"), "invalid_field");
    CHECK_STR(create_code("{\"pageLoadTimeout\":\"10\"}"), "invalid_field");
    CHECK_STR(create_code("{\"url\":\"file:///etc/shadow\"}"), "invalid_url");
    /* a NUL inside a string is refused by the JSON parser itself */
    CHECK_STR(create_code("{\"url\":\"http://a/\\u0000b\"}"), "invalid_json");

    /* defaults fill what is not given */
    struct bh_create_opts o;
    struct bh_invalid why;
    const char *b = "{\"url\":\"http://a/\",\"ttl\":5}";
    CHECK(bh_validate_create(b, strlen(b), &cfg, &o, &why) == 0);
    CHECK(o.kind == &bh_kind_browser);
    const struct browser_opts *bo = o.kind_opts; /* the browser kind's part */
    CHECK_STR(bo->url, "http://a/");
    CHECK(o.ttl == 5 && o.idle_timeout == cfg.idle_timeout);
    CHECK(bo->viewport_w == 1280 && bo->viewport_h == 720);
    CHECK(bo->page_load_ms == cfg.page_load_timeout_ms && bo->page_load_ms == 10000);
    CHECK(o.net_mode == BH_NET_INTERNET && o.nallow == 0 && !o.proxy);
    bh_create_opts_clear(&o);
    b = "{\"pageLoadTimeout\":3}";
    CHECK(bh_validate_create(b, strlen(b), &cfg, &o, &why) == 0);
    bo = o.kind_opts;
    CHECK(bo->page_load_ms == 3000);
    bh_create_opts_clear(&o);

    /* network settings */
    CHECK_STR(create_code("{\"network\":{\"policy\":\"none\"}}"), "ok");
    CHECK_STR(create_code("{\"network\":{\"policy\":\"internet\"}}"), "ok");
    CHECK_STR(create_code("{\"network\":{\"policy\":\"allowlist\",\"allow\":[{\"cidr\":"
                          "\"198.51.100.0/24\",\"ports\":[80,443]}]}}"),
              "ok");
    CHECK_STR(create_code("{\"network\":{\"policy\":\"allowlist\"}}"), "invalid_field");
    CHECK_STR(create_code("{\"network\":{\"policy\":\"allowlist\",\"allow\":[]}}"),
              "invalid_field");
    CHECK_STR(create_code("{\"network\":{\"policy\":\"allowlist\",\"allow\":[{\"cidr\":"
                          "\"not-an-ip\"}]}}"),
              "invalid_field");
    CHECK_STR(create_code("{\"network\":{\"policy\":\"allowlist\",\"allow\":[{\"cidr\":"
                          "\"10.0.0.0/8\",\"ports\":[0]}]}}"),
              "invalid_field");
    CHECK_STR(create_code("{\"network\":{\"policy\":\"internet\",\"allow\":[{\"cidr\":"
                          "\"10.0.0.0/8\"}]}}"),
              "invalid_field");
    CHECK_STR(create_code("{\"network\":{\"policy\":\"open\"}}"), "invalid_field");
    CHECK_STR(create_code("{\"network\":\"none\"}"), "invalid_field");
    CHECK_STR(create_code("{\"network\":{\"mode\":\"none\"}}"), "unknown_field");
    CHECK_STR(create_code("{\"network\":{\"proxy\":\"http://10.0.0.5:3128\"}}"), "ok");
    CHECK_STR(create_code("{\"network\":{\"proxy\":\"socks5://[fd00::5]:1080\"}}"), "ok");
    CHECK_STR(create_code("{\"network\":{\"proxy\":\"http://proxy.local:3128\"}}"),
              "invalid_field");
    CHECK_STR(create_code("{\"network\":{\"proxy\":\"http://10.0.0.5\"}}"), "invalid_field");
    CHECK_STR(create_code("{\"network\":{\"proxy\":\"ftp://10.0.0.5:21\"}}"), "invalid_field");
    CHECK_STR(create_code("{\"network\":{\"policy\":\"none\",\"proxy\":\"http://10.0.0.5:"
                          "3128\"}}"),
              "invalid_field");

    /* what someone other than the admin may open: public space only, plus
     * what the operator's --egress-allow opens anyway */
    static const uint16_t p3128[] = {3128}, p80[] = {80}, p80_443[] = {80, 443};
    CHECK_STR(public_msg("198.51.100.0/24", NULL, 0, NULL), "ok");
    CHECK_STR(public_msg("203.0.113.65", p80, 1, NULL), "ok");
    CHECK_STR(public_msg("8.8.8.8/32", NULL, 0, NULL), "ok");
    CHECK_STR(public_msg("11.0.0.0/8", NULL, 0, NULL), "ok");
    CHECK_STR(public_msg("100.128.0.0/9", NULL, 0, NULL), "ok"); /* just past CGNAT */
    CHECK_STR(public_msg("2001:db8::/32", NULL, 0, NULL), "ok");
    CHECK_STR(public_msg("2a00::/8", NULL, 0, NULL), "ok");
    CHECK_STR(public_msg("0.0.0.0/0", NULL, 0, NULL),
              "0.0.0.0/0 overlaps private range 10.0.0.0/8");
    CHECK_STR(public_msg("10.0.0.0/8", NULL, 0, NULL),
              "10.0.0.0/8 overlaps private range 10.0.0.0/8");
    CHECK_STR(public_msg("10.78.0.10", p3128, 1, NULL),
              "10.78.0.10/32 overlaps private range 10.0.0.0/8");
    CHECK_STR(public_msg("100.100.100.200", NULL, 0, NULL),
              "100.100.100.200/32 overlaps private range 100.64.0.0/10");
    CHECK_STR(public_msg("172.0.0.0/8", NULL, 0, NULL),
              "172.0.0.0/8 overlaps private range 172.16.0.0/12");
    CHECK_STR(public_msg("192.168.1.1", NULL, 0, NULL),
              "192.168.1.1/32 overlaps private range 192.168.0.0/16");
    CHECK_STR(public_msg("198.19.0.0/16", NULL, 0, NULL),
              "198.19.0.0/16 overlaps private range 198.18.0.0/15");
    CHECK_STR(public_msg("169.254.169.254", NULL, 0, NULL),
              "169.254.169.254/32 overlaps link-local range 169.254.0.0/16");
    CHECK_STR(public_msg("127.0.0.1", NULL, 0, NULL),
              "127.0.0.1/32 overlaps reserved range 127.0.0.0/8");
    CHECK_STR(public_msg("224.0.0.0/3", NULL, 0, NULL),
              "224.0.0.0/3 overlaps reserved range 224.0.0.0/4");
    CHECK_STR(public_msg("::/0", NULL, 0, NULL), "::/0 overlaps private range 64:ff9b::/96");
    CHECK_STR(public_msg("fd12:3456::/32", NULL, 0, NULL),
              "fd12:3456::/32 overlaps private range fc00::/7");
    CHECK_STR(public_msg("fd00:ec2::254", NULL, 0, NULL),
              "fd00:ec2::254/128 overlaps private range fc00::/7");
    CHECK_STR(public_msg("fe80::/64", NULL, 0, NULL),
              "fe80::/64 overlaps link-local range fe80::/10");
    CHECK_STR(public_msg("::1", NULL, 0, NULL), "::1/128 overlaps reserved range ::/96");
    CHECK_STR(public_msg("::ffff:10.0.0.1", NULL, 0, NULL),
              "::ffff:10.0.0.1/128 overlaps reserved range ::ffff:0:0/96");
    CHECK_STR(public_msg("2002::/16", NULL, 0, NULL), "2002::/16 overlaps private range 2002::/16");
    /* the operator's --egress-allow: what it covers, and no more */
    static const char *const g10_78[] = {"10.78.0.0/16", NULL};
    CHECK_STR(public_msg("10.78.0.10", p3128, 1, g10_78), "ok");
    CHECK_STR(public_msg("10.78.0.0/16", NULL, 0, g10_78), "ok");
    CHECK_STR(public_msg("10.78.0.0/15", NULL, 0, g10_78),
              "10.78.0.0/15 overlaps private range 10.0.0.0/8");
    CHECK_STR(public_msg("10.0.0.0/8", NULL, 0, g10_78),
              "10.0.0.0/8 overlaps private range 10.0.0.0/8");
    /* covered by two granted halves together */
    static const char *const halves[] = {"10.78.0.0/17", "10.78.128.0/17", NULL};
    CHECK_STR(public_msg("10.78.0.0/16", NULL, 0, halves), "ok");
    static const char *const half[] = {"10.78.0.0/17", NULL};
    CHECK_STR(public_msg("10.78.0.0/16", NULL, 0, half),
              "10.78.0.0/16 overlaps private range 10.0.0.0/8");
    /* a wide user range: its public part is fine, its private parts must
     * each be granted; granting all of 10/8 still leaves 100.64/10 */
    static const char *const all10[] = {"10.0.0.0/8", NULL};
    CHECK_STR(public_msg("10.0.0.0/7", NULL, 0, all10), "ok"); /* 11/8 is public */
    CHECK_STR(public_msg("0.0.0.0/0", NULL, 0, all10),
              "0.0.0.0/0 overlaps private range 100.64.0.0/10");
    static const char *const g_meta[] = {"169.254.169.254/32", NULL};
    CHECK_STR(public_msg("169.254.169.254", p80, 1, g_meta), "ok");
    CHECK_STR(public_msg("169.254.0.0/16", NULL, 0, g_meta),
              "169.254.0.0/16 overlaps link-local range 169.254.0.0/16");
    /* ports: a granted rule with ports covers only those ports */
    static const char *const g_port[] = {"10.78.0.10:3128", NULL};
    CHECK_STR(public_msg("10.78.0.10", p3128, 1, g_port), "ok");
    CHECK_STR(public_msg("10.78.0.10", p80_443, 2, g_port),
              "10.78.0.10/32 overlaps private range 10.0.0.0/8");
    CHECK_STR(public_msg("10.78.0.10", NULL, 0, g_port),
              "10.78.0.10/32 overlaps private range 10.0.0.0/8");
    static const char *const g_ula[] = {"fd00::/8", NULL};
    CHECK_STR(public_msg("fd12::/16", NULL, 0, g_ula), "ok");
    CHECK_STR(public_msg("fc00::/7", NULL, 0, g_ula), "fc00::/7 overlaps private range fc00::/7");
    /* 256 grants that tile 10.1.0.0/16 cover it; one missing tile does not */
    struct bh_net_rule tiles[256], r16;
    for (int i = 0; i < 256; i++) {
        char c[32];
        snprintf(c, sizeof c, "10.1.%d.0/24", i);
        CHECK(bh_net_rule_parse(c, NULL, 0, &tiles[i], NULL) == 0);
    }
    CHECK(bh_net_rule_parse("10.1.0.0/16", NULL, 0, &r16, NULL) == 0);
    bh_err_t terr = BH_ERR_INIT;
    CHECK(bh_net_rule_public(&r16, tiles, 256, &terr) == 0);
    tiles[77] = tiles[76];
    CHECK(bh_net_rule_public(&r16, tiles, 256, &terr) < 0);
    CHECK_STR(bh_err_msg(&terr), "10.1.0.0/16 overlaps private range 10.0.0.0/8");
    bh_err_clear(&terr);
    /* an IPv4 grant never covers IPv6 */
    CHECK_STR(public_msg("fd12::/16", NULL, 0, all10), "fd12::/16 overlaps private range fc00::/7");

    /* the same for a create body (allow-list entries and the proxy) */
    CHECK_STR(user_net("{}"), "ok");
    CHECK_STR(user_net("{\"network\":{\"policy\":\"none\"}}"), "ok");
    CHECK_STR(user_net("{\"network\":{\"policy\":\"allowlist\",\"allow\":[{\"cidr\":"
                       "\"198.51.100.0/24\"},{\"cidr\":\"2001:db8::/32\"}]}}"),
              "ok");
    CHECK_STR(user_net("{\"network\":{\"policy\":\"allowlist\",\"allow\":[{\"cidr\":"
                       "\"198.51.100.0/24\"},{\"cidr\":\"0.0.0.0/0\"}]}}"),
              "forbidden_network: network.allow[1]: 0.0.0.0/0 overlaps private range "
              "10.0.0.0/8; only an admin token or the operator's --egress-allow may open it");
    CHECK_STR(user_net("{\"network\":{\"proxy\":\"http://10.78.0.10:3128\"}}"),
              "forbidden_network: network.proxy: 10.78.0.10/32 overlaps private range "
              "10.0.0.0/8; only an admin token or the operator's --egress-allow may open it");
    CHECK_STR(user_net("{\"network\":{\"proxy\":\"socks5://[fd00::5]:1080\"}}"),
              "forbidden_network: network.proxy: fd00::5/128 overlaps private range fc00::/7; "
              "only an admin token or the operator's --egress-allow may open it");
    CHECK_STR(user_net("{\"network\":{\"proxy\":\"http://203.0.113.5:3128\"}}"), "ok");
    CHECK_STR(user_net("{\"network\":{\"proxy\":\"http://proxy.local:3128\"}}"), "invalid_field");
    struct bh_net_rule grant;
    CHECK(bh_net_rule_parse("10.78.0.0/16", NULL, 0, &grant, NULL) == 0);
    cfg.egress_allow = &grant;
    cfg.negress_allow = 1;
    CHECK_STR(user_net("{\"network\":{\"proxy\":\"http://10.78.0.10:3128\"}}"), "ok");
    CHECK_STR(user_net("{\"network\":{\"policy\":\"allowlist\",\"allow\":[{\"cidr\":"
                       "\"10.78.1.0/24\",\"ports\":[80]}]}}"),
              "ok");
    CHECK_STR(user_net("{\"network\":{\"policy\":\"allowlist\",\"allow\":[{\"cidr\":"
                       "\"10.79.0.0/16\"}]}}"),
              "forbidden_network: network.allow[0]: 10.79.0.0/16 overlaps private range "
              "10.0.0.0/8; only an admin token or the operator's --egress-allow may open it");
    cfg.egress_allow = NULL;
    cfg.negress_allow = 0;

    /* token comparison */
    CHECK(bh_token_equal("abcdef0123456789", "abcdef0123456789"));
    CHECK(!bh_token_equal("abcdef012345678", "abcdef0123456789"));
    CHECK(!bh_token_equal("abcdef01234567890", "abcdef0123456789"));
    CHECK(!bh_token_equal("bbcdef0123456789", "abcdef0123456789"));
    CHECK(!bh_token_equal("", "abcdef0123456789"));
    CHECK(!bh_token_equal(NULL, "abcdef0123456789"));

    /* token create bodies (POST /api/v1/tokens) */
    struct bh_token_opts t;
    CHECK_STR(TOKEN("{\"name\":\"ci.runner-1_x\"}", &t), "ok");
    CHECK_STR(t.name, "ci.runner-1_x");
    CHECK(t.role == BH_ROLE_USER && t.max_sessions == 0);
    CHECK_STR(TOKEN("{\"name\":\"ops\",\"role\":\"admin\",\"maxSessions\":7}", &t), "ok");
    CHECK(t.role == BH_ROLE_ADMIN && t.max_sessions == 7);
    CHECK_STR(TOKEN("{\"name\":\"u\",\"maxSessions\":null}", &t), "ok");
    CHECK(t.max_sessions == 0);
    CHECK_STR(TOKEN("", &t), "invalid_json");
    CHECK_STR(TOKEN("[]", &t), "invalid_json");
    CHECK_STR(TOKEN("{\"name\":\"a\",\"name\":\"b\"}", &t), "invalid_json");
    CHECK_STR(TOKEN("{\"name\":\"a\",\"x\":1}", &t), "unknown_field");
    CHECK_STR(TOKEN("{}", &t), "invalid_field");
    CHECK_STR(TOKEN("{\"name\":\"\"}", &t), "invalid_field");
    CHECK_STR(TOKEN("{\"name\":\"a b\"}", &t), "invalid_field");
    CHECK_STR(TOKEN("{\"name\":1}", &t), "invalid_field");
    CHECK_STR(
        TOKEN("{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
              &t),
        "ok");
    CHECK_STR(
        TOKEN("{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
              &t),
        "invalid_field");
    /* a NUL inside a string is refused by the parser (no JSON_ALLOW_NUL) */
    CHECK_STR(TOKEN("{\"name\":\"ab\\u0000cd\"}", &t), "invalid_json");
    CHECK_STR(TOKEN("{\"name\":\"a\",\"role\":\"root\"}", &t), "invalid_field");
    CHECK_STR(TOKEN("{\"name\":\"a\",\"role\":null}", &t), "invalid_field");
    CHECK_STR(TOKEN("{\"name\":\"a\",\"maxSessions\":0}", &t), "invalid_field");
    CHECK_STR(TOKEN("{\"name\":\"a\",\"maxSessions\":10001}", &t), "invalid_field");
    CHECK_STR(TOKEN("{\"name\":\"a\",\"maxSessions\":1.5}", &t), "invalid_field");

    /* link bodies (POST /api/v1/sessions/{id}/links) */
    struct bh_link_opts l;
    CHECK_STR(LINK("{\"scope\":\"view\"}", &l), "ok");
    CHECK(l.scope == BH_SCOPE_VIEW && l.ttl == 0);
    CHECK_STR(LINK("{\"scope\":\"cdp\",\"ttl\":86400}", &l), "ok");
    CHECK(l.scope == BH_SCOPE_CDP && l.ttl == 86400);
    CHECK_STR(LINK("{\"scope\":\"control\",\"ttl\":null}", &l), "ok");
    CHECK(l.scope == BH_SCOPE_CONTROL && l.ttl == 0);
    CHECK_STR(LINK("", &l), "invalid_json");
    CHECK_STR(LINK("[]", &l), "invalid_json");
    CHECK_STR(LINK("{\"scope\":\"view\",\"scope\":\"cdp\"}", &l), "invalid_json");
    CHECK_STR(LINK("{\"scope\":\"view\",\"x\":1}", &l), "unknown_field");
    CHECK_STR(LINK("{}", &l), "invalid_field");
    CHECK_STR(LINK("{\"scope\":\"admin\"}", &l), "invalid_field");
    CHECK_STR(LINK("{\"scope\":\"view\",\"ttl\":0}", &l), "invalid_field");
    CHECK_STR(LINK("{\"scope\":\"view\",\"ttl\":86401}", &l), "invalid_field");
    CHECK_STR(LINK("{\"scope\":\"view\",\"ttl\":\"60\"}", &l), "invalid_field");

    /* request paths: /api/v1/sessions/<32 hex><sub> */
    char id[33];
    const char *sub = bh_api_session_path("/api/v1/sessions/0123456789abcdef0123456789abcdef/cdp",
                                          id);
    CHECK_STR(sub, "/cdp");
    CHECK_STR(id, "0123456789abcdef0123456789abcdef");
    CHECK_STR(bh_api_session_path("/api/v1/sessions/0123456789abcdef0123456789abcdef", id), "");
    CHECK(!bh_api_session_path("/api/v1/sessions/0123456789ABCDEF0123456789abcdef", id));
    CHECK(!bh_api_session_path("/api/v1/sessions/0123456789abcdef0123456789abcde", id));
    CHECK(!bh_api_session_path("/api/v1/sessions/0123456789abcdef0123456789abcdef0", id));
    CHECK(!bh_api_session_path("/api/v1/sessions/", id));
    CHECK(!bh_api_session_path("/api/v1/session/0123456789abcdef0123456789abcdef", id));

    /* WebSocket Origins */
    free(cfg.public_url);
    cfg.public_url = strdup("http://127.0.0.1:8420/");
    CHECK(bh_api_origin_allowed(&cfg, NULL));
    CHECK(bh_api_origin_allowed(&cfg, "http://127.0.0.1:8420"));
    CHECK(bh_api_origin_allowed(&cfg, "http://localhost:8420"));
    CHECK(!bh_api_origin_allowed(&cfg, "http://127.0.0.1:8421"));
    CHECK(!bh_api_origin_allowed(&cfg, "http://evil.test"));
    CHECK(!bh_api_origin_allowed(&cfg, ""));

    bh_config_free(&cfg);
    return T_DONE();
}
