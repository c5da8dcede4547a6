/* test_cdp_policy.c — the CDP proxy's allow-list: which methods, URLs and
 * file paths a client may send (bh_cdp_policy_check, bh_cdp_url_allowed). */
#include <stdlib.h>
#include <string.h>

#include "kinds/browser/cdp_proxy.h"
#include "t.h"

/* 1 if the policy lets the message (JSON text) through, 0 if it refuses it. */
static int allowed(const char *text)
{
    json_t *m = json_loads(text, 0, NULL);
    if (!m) {
        fprintf(stderr, "bad test JSON: %s\n", text);
        return -1;
    }
    const char *why = bh_cdp_policy_check(m);
    json_decref(m);
    return why == NULL;
}

static char *rewritten(const char *text, const char *key)
{
    json_t *m = json_loads(text, 0, NULL);
    bh_cdp_policy_check(m);
    json_t *v = json_object_get(json_object_get(m, "params"), key);
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(m);
    return s;
}

static void nav(const char *url, int want)
{
    char *msg = NULL;
    json_t *j = json_pack("{s:i, s:s, s:{s:s}}", "id", 1, "method", "Page.navigate", "params",
                          "url", url);
    msg = json_dumps(j, 0);
    json_decref(j);
    int got = allowed(msg);
    if (got != want)
        fprintf(stderr, "Page.navigate %s: allowed=%d, want %d\n", url, got, want);
    CHECK(got == want);
    j = json_pack("{s:i, s:s, s:{s:s}}", "id", 1, "method", "Target.createTarget", "params", "url",
                  url);
    free(msg);
    msg = json_dumps(j, 0);
    json_decref(j);
    CHECK(allowed(msg) == want);
    free(msg);
}

int main(void)
{
    /* what Playwright and Puppeteer send */
    const char *ok[] = {
        "{\"id\":1,\"method\":\"Browser.getVersion\"}",
        "{\"id\":1,\"method\":\"Target.setAutoAttach\",\"params\":{\"autoAttach\":true,\"flatten\":true,\"waitForDebuggerOnStart\":true}}",
        "{\"id\":1,\"method\":\"Target.setAutoAttach\",\"params\":{\"autoAttach\":false}}",
        "{\"id\":1,\"method\":\"Target.attachToTarget\",\"params\":{\"targetId\":\"x\",\"flatten\":true}}",
        "{\"id\":1,\"method\":\"Target.attachToBrowserTarget\"}",
        "{\"id\":1,\"method\":\"Target.createBrowserContext\",\"params\":{}}",
        "{\"id\":1,\"method\":\"Target.getTargets\"}",
        "{\"id\":1,\"method\":\"Page.enable\"}",
        "{\"id\":1,\"method\":\"Runtime.evaluate\",\"params\":{\"expression\":\"1\"}}",
        "{\"id\":1,\"method\":\"Fetch.continueRequest\",\"params\":{\"requestId\":\"1\"}}",
        "{\"id\":1,\"method\":\"Fetch.continueRequest\",\"params\":{\"requestId\":\"1\",\"url\":\"https://x/\"}}",
        "{\"id\":1,\"method\":\"Network.loadNetworkResource\",\"params\":{\"url\":\"http://x/a.map\"}}",
        "{\"id\":1,\"method\":\"DOM.setFileInputFiles\",\"params\":{\"files\":[\"/tmp/uploads/a.txt\",\"/tmp/uploads/d/b.png\"],\"objectId\":\"1\"}}",
        "{\"id\":1,\"method\":\"Input.dispatchDragEvent\",\"params\":{\"type\":\"drop\",\"x\":1,\"y\":1,\"data\":{\"items\":[],\"dragOperationsMask\":1}}}",
        "{\"id\":1,\"method\":\"Browser.close\"}",
        "{\"id\":1,\"method\":\"Tracing.start\",\"params\":{}}",
        NULL,
    };
    for (size_t i = 0; ok[i]; i++) {
        int a = allowed(ok[i]);
        if (a != 1)
            fprintf(stderr, "refused: %s\n", ok[i]);
        CHECK(a == 1);
    }
    /* left out: outside the allow-list, or parameters that reach outside */
    const char *no[] = {
        "{\"id\":1,\"method\":\"Browser.crash\"}",
        "{\"id\":1,\"method\":\"Browser.crashGpuProcess\"}",
        "{\"id\":1,\"method\":\"Browser.executeBrowserCommand\",\"params\":{\"commandId\":\"openTabSearch\"}}",
        "{\"id\":1,\"method\":\"Browser.getBrowserCommandLine\"}",
        "{\"id\":1,\"method\":\"Target.exposeDevToolsProtocol\",\"params\":{\"targetId\":\"x\"}}",
        "{\"id\":1,\"method\":\"Target.setRemoteLocations\",\"params\":{\"locations\":[]}}",
        "{\"id\":1,\"method\":\"Target.openDevTools\",\"params\":{\"targetId\":\"x\"}}",
        "{\"id\":1,\"method\":\"Target.getDevToolsTarget\",\"params\":{\"targetId\":\"x\"}}",
        "{\"id\":1,\"method\":\"Target.sendMessageToTarget\",\"params\":{\"message\":\"{}\"}}",
        "{\"id\":1,\"method\":\"Target.attachToTarget\",\"params\":{\"targetId\":\"x\"}}",
        "{\"id\":1,\"method\":\"Target.setAutoAttach\",\"params\":{\"autoAttach\":true,\"flatten\":false}}",
        "{\"id\":1,\"method\":\"Tethering.bind\",\"params\":{\"port\":9222}}",
        "{\"id\":1,\"method\":\"SystemInfo.getInfo\"}",
        "{\"id\":1,\"method\":\"Extensions.loadUnpacked\",\"params\":{\"path\":\"/tmp\"}}",
        "{\"id\":1,\"method\":\"PWA.install\",\"params\":{\"manifestId\":\"x\"}}",
        "{\"id\":1,\"method\":\"Cast.enable\"}",
        "{\"id\":1,\"method\":\"Memory.simulatePressureNotification\",\"params\":{\"level\":\"critical\"}}",
        "{\"id\":1,\"method\":\"Page.crash\"}",
        "{\"id\":1,\"method\":\"NoSuchDomain.x\"}",
        "{\"id\":1,\"method\":\"Page\"}",
        "{\"id\":1,\"method\":\"PageX.enable\"}",
        "{\"id\":1,\"method\":\"Pag.enable\"}",
        "{\"id\":1,\"method\":\"Page.navigate\",\"params\":{}}",
        "{\"id\":1,\"method\":\"Page.navigate\",\"params\":{\"url\":7}}",
        "{\"id\":1,\"method\":\"Fetch.continueRequest\",\"params\":{\"requestId\":\"1\",\"url\":\"file:///etc/passwd\"}}",
        "{\"id\":1,\"method\":\"Fetch.continueRequest\",\"params\":{\"requestId\":\"1\",\"url\":\"data:,x\"}}",
        "{\"id\":1,\"method\":\"Network.continueInterceptedRequest\",\"params\":{\"interceptionId\":\"1\",\"url\":\"chrome://version\"}}",
        "{\"id\":1,\"method\":\"Network.loadNetworkResource\",\"params\":{\"url\":\"file:///etc/passwd\"}}",
        "{\"id\":1,\"method\":\"DOM.setFileInputFiles\",\"params\":{\"files\":[\"/etc/passwd\"],\"objectId\":\"1\"}}",
        "{\"id\":1,\"method\":\"DOM.setFileInputFiles\",\"params\":{\"files\":[\"/tmp/uploads/../../etc/passwd\"]}}",
        "{\"id\":1,\"method\":\"DOM.setFileInputFiles\",\"params\":{\"files\":[\"/tmp/uploadsX/a\"]}}",
        "{\"id\":1,\"method\":\"DOM.setFileInputFiles\",\"params\":{\"files\":[\"/tmp/uploads\"]}}",
        "{\"id\":1,\"method\":\"DOM.setFileInputFiles\",\"params\":{\"files\":[\"tmp/uploads/a\"]}}",
        "{\"id\":1,\"method\":\"DOM.setFileInputFiles\",\"params\":{\"files\":[\"/tmp/uploads/a\",\"/proc/self/environ\"]}}",
        "{\"id\":1,\"method\":\"DOM.setFileInputFiles\",\"params\":{\"files\":\"/tmp/uploads/a\"}}",
        "{\"id\":1,\"method\":\"DOM.setFileInputFiles\",\"params\":{\"files\":[1]}}",
        "{\"id\":1,\"method\":\"Input.dispatchDragEvent\",\"params\":{\"type\":\"drop\",\"x\":1,\"y\":1,\"data\":{\"items\":[],\"files\":[\"/etc/passwd\"],\"dragOperationsMask\":1}}}",
        NULL,
    };
    for (size_t i = 0; no[i]; i++) {
        int a = allowed(no[i]);
        if (a != 0)
            fprintf(stderr, "allowed: %s\n", no[i]);
        CHECK(a == 0);
    }

    /* URLs of navigations and new targets */
    nav("http://198.51.100.1:8080/", 1);
    nav("HTTPS://example.com/x", 1);
    nav("about:blank", 1);
    nav("about:blank#x", 1);
    nav("data:text/html,<p>hi", 1);
    nav("file:///etc/passwd", 0);
    nav("FILE:///usr/local/", 0);
    nav("file://localhost/etc/passwd", 0);
    nav(" file:///etc/passwd", 0);
    nav("\tfile:///etc/passwd", 0);
    nav("fi\tle:///etc/passwd", 0);
    nav("chrome://version", 0);
    nav("chrome://inducebrowsercrashforrealz", 0);
    nav("chrome-untrusted://print/", 0);
    nav("devtools://devtools/bundled/inspector.html", 0);
    nav("view-source:http://198.51.100.1:8080/", 0);
    nav("chrome-extension://mhjfbmdgcfjbbpaeojofohoefgiehjai/index.html", 0);
    nav("filesystem:http://x/temporary/a", 0);
    nav("blob:http://x/uuid", 0);
    nav("javascript:alert(1)", 0);
    nav("about:version", 0);
    nav("about:blankx", 0);
    nav("about:inducebrowsercrashforrealz", 0);
    nav("data:text/html,<title>with spaces</title> <p>ok", 1);
    nav("ht\ttp://x/", 0);
    nav("\nhttp://x/", 0);
    nav("/etc/passwd", 0);
    CHECK(allowed("{\"id\":1,\"method\":\"Target.createTarget\",\"params\":{\"url\":\"\"}}") == 1);
    CHECK(allowed("{\"id\":1,\"method\":\"Page.navigate\",\"params\":{\"url\":\"\"}}") == 0);
    CHECK(bh_cdp_url_allowed(NULL, 1, 1) == 0);
    CHECK(bh_cdp_url_allowed("data:,x", 0, 0) == 0);

    /* rewrites: new windows, download paths */
    char *s = rewritten(
        "{\"id\":1,\"method\":\"Target.createTarget\",\"params\":{\"url\":\"about:blank\"}}",
        "newWindow");
    CHECK_STR(s, "true");
    free(s);
    s = rewritten(
        "{\"id\":1,\"method\":\"Browser.setDownloadBehavior\",\"params\":{\"behavior\":\"allow\",\"downloadPath\":\"/root\"}}",
        "downloadPath");
    CHECK_STR(s, "\"/tmp/downloads\"");
    free(s);
    s = rewritten(
        "{\"id\":1,\"method\":\"Browser.setDownloadBehavior\",\"params\":{\"behavior\":\"allow\",\"downloadPath\":\"/tmp/downloads/sub\"}}",
        "downloadPath");
    CHECK_STR(s, "\"/tmp/downloads/sub\"");
    free(s);
    return T_DONE();
}
