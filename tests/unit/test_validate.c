/* test_validate.c — the create-body and URL checks, and the token compare. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "t.h"
#include "validate.h"

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

static const char *url_code(const char *url)
{
    static struct bh_invalid why;
    return bh_validate_url(url, &why) == 0 ? "ok" : why.code;
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
    CHECK_STR(create_code("{\"type\":\"shell\"}"), "invalid_field");
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
    CHECK_STR(create_code("{\"url\":\"file:///etc/shadow\"}"), "invalid_url");
    /* a NUL inside a string is refused by the JSON parser itself */
    CHECK_STR(create_code("{\"url\":\"http://a/\\u0000b\"}"), "invalid_json");

    /* defaults fill what is not given */
    struct bh_create_opts o;
    struct bh_invalid why;
    const char *b = "{\"url\":\"http://a/\",\"ttl\":5}";
    CHECK(bh_validate_create(b, strlen(b), &cfg, &o, &why) == 0);
    CHECK_STR(o.url, "http://a/");
    CHECK(o.ttl == 5 && o.idle_timeout == cfg.idle_timeout);
    CHECK(o.viewport_w == 1280 && o.viewport_h == 720);
    CHECK(o.net_mode == BH_NET_INTERNET && o.nallow == 0 && !o.proxy);
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
    CHECK_STR(create_code("{\"network\":{\"proxy\":\"ftp://10.0.0.5:21\"}}"),
              "invalid_field");
    CHECK_STR(create_code("{\"network\":{\"policy\":\"none\",\"proxy\":\"http://10.0.0.5:"
                          "3128\"}}"),
              "invalid_field");

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
    CHECK_STR(TOKEN("{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", &t), "ok");
    CHECK_STR(TOKEN("{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", &t), "invalid_field");
    /* a NUL inside a string is refused by the parser (no JSON_ALLOW_NUL) */
    CHECK_STR(TOKEN("{\"name\":\"ab\\u0000cd\"}", &t), "invalid_json");
    CHECK_STR(TOKEN("{\"name\":\"a\",\"role\":\"root\"}", &t), "invalid_field");
    CHECK_STR(TOKEN("{\"name\":\"a\",\"role\":null}", &t), "invalid_field");
    CHECK_STR(TOKEN("{\"name\":\"a\",\"maxSessions\":0}", &t), "invalid_field");
    CHECK_STR(TOKEN("{\"name\":\"a\",\"maxSessions\":10001}", &t), "invalid_field");
    CHECK_STR(TOKEN("{\"name\":\"a\",\"maxSessions\":1.5}", &t), "invalid_field");

    /* request paths: /api/v1/sessions/<32 hex><sub> */
    char id[33];
    const char *sub = bh_api_session_path("/api/v1/sessions/0123456789abcdef0123456789abcdef/cdp", id);
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
