/* test_cdp_filter.c — bh_cdp_proxy_filter: a CDP client's message parsed,
 * shape-checked and put through the policy before anything per client. */
#include <stdlib.h>
#include <string.h>

#include "kinds/browser/cdp_proxy.h"
#include "t.h"

static int filter(const char *s, json_t **out, char why[512])
{
    return bh_cdp_proxy_filter(s, strlen(s), out, why);
}

int main(void)
{
    json_t *m;
    char why[512];
    CHECK(filter("{\"id\":1,\"method\":\"Runtime.evaluate\",\"params\":{\"expression\":\"1\"}}", &m,
                 why) == 0);
    CHECK_STR(json_string_value(json_object_get(m, "method")), "Runtime.evaluate");
    json_decref(m);

    CHECK(filter("not json", &m, why) == -32700 && !m);
    CHECK_STR(why, "Message must be a valid JSON object");
    CHECK(filter("[1,2]", &m, why) == -32700 && !m);
    CHECK(filter("", &m, why) == -32700 && !m);
    CHECK(filter("{\"id\":1,\"id\":2,\"method\":\"A.b\"}", &m, why) == -32700 && !m);

    CHECK(filter("{\"id\":\"1\",\"method\":\"A.b\"}", &m, why) == -32600 && m);
    json_decref(m);
    CHECK(filter("{\"id\":1}", &m, why) == -32600);
    CHECK(json_integer_value(json_object_get(m, "id")) == 1);
    json_decref(m);
    CHECK(filter("{\"id\":1,\"method\":\"A.b\",\"sessionId\":5}", &m, why) == -32600);
    json_decref(m);
    CHECK(filter("{\"id\":1,\"method\":\"A.b\",\"params\":[]}", &m, why) == -32600);
    json_decref(m);

    CHECK(filter("{\"id\":3,\"method\":\"Browser.crash\",\"sessionId\":\"S\"}", &m, why) == -32000);
    CHECK(!strncmp(why, "'Browser.crash' refused: ", 25));
    CHECK_STR(json_string_value(json_object_get(m, "sessionId")), "S");
    json_decref(m);

    /* the policy's rewriting shows in the message returned */
    CHECK(filter("{\"id\":4,\"method\":\"Browser.setDownloadBehavior\",\"params\":{\"behavior\":"
                 "\"allow\",\"downloadPath\":\"/home/me\"}}",
                 &m, why) == 0);
    CHECK_STR(json_string_value(json_object_get(json_object_get(m, "params"), "downloadPath")),
              BH_DOWNLOAD_DIR);
    json_decref(m);
    return T_DONE();
}
