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
    CHECK_STR(o.url, "http://a/");
    CHECK(o.ttl == 5 && o.idle_timeout == cfg.idle_timeout);
    CHECK(o.viewport_w == 1280 && o.viewport_h == 720);
    CHECK(o.page_load_ms == cfg.page_load_timeout_ms && o.page_load_ms == 10000);
    CHECK(o.net_mode == BH_NET_INTERNET && o.nallow == 0 && !o.proxy);
    bh_create_opts_clear(&o);
    b = "{\"pageLoadTimeout\":3}";
    CHECK(bh_validate_create(b, strlen(b), &cfg, &o, &why) == 0);
    CHECK(o.page_load_ms == 3000);
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

    bh_config_free(&cfg);
    return T_DONE();
}
