/* fuzz_cdp_client.c — a CDP message from a client of a session's CDP
 * endpoint (Playwright, Puppeteer, or an attacker holding a cdp token):
 * parsed and checked by the proxy's policy, which may rewrite it, then
 * serialized as the proxy forwards it to the browser. */
#include <stdlib.h>

#include "kinds/browser/cdp_proxy.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the WebSocket layer hands messages over NUL-terminated */
    char *s = fuzz_cstr(data, size);
    json_t *msg = NULL;
    char why[512];
    if (bh_cdp_proxy_filter(s, size, &msg, why) == 0) {
        json_object_set_new(msg, "id", json_integer(1));
        char *out = json_dumps(msg, JSON_COMPACT);
        free(out);
    }
    json_decref(msg);
    free(s);
    return 0;
}
