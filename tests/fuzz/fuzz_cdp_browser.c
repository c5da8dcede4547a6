/* fuzz_cdp_browser.c — what a compromised browser can write on its CDP
 * pipe: bytes read from the pipe (NUL-separated JSON messages, split and
 * parsed by src/kinds/browser/cdp.c), dispatched as replies or events, and the events
 * offered to the session's consumers as kinds/browser/driver.c does: the CDP proxy
 * (events for clients' sessions) and the live view (screencast frames,
 * navigation events of the page, whose CDP session id is "PAGE").
 *
 * A real loop (an HTTP front on 127.0.0.1, port 0, which is never run)
 * carries the pipe watches; the daemon's commands go to /dev/null. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "kinds/browser/cdp.h"
#include "kinds/browser/cdp_proxy.h"
#include "fuzz.h"
#include "http/http.h"
#include "kinds/browser/live.h"

static bh_http_t *http;
static bh_cdp_t *cdp;
static bh_live_t *live;
static bh_cdp_proxy_t *proxy;

static void on_event(void *arg, json_t *msg)
{
    (void)arg;
    fuzz_offer_event(proxy, live, msg);
}

static void on_closed(void *arg) { (void)arg; }

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static const struct bh_http_config hc = {.host = "127.0.0.1", .port = 0};
    static const struct bh_http_handlers hh = {.request = fuzz_not_found,
                                               .upgrade = fuzz_not_found};
    http = fuzz_http_new("fuzz_cdp_browser", &hc, &hh);
    int p[2];
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull < 0 || pipe2(p, O_CLOEXEC) < 0) {
        perror("fuzz_cdp_browser: setup failed");
        abort();
    }
    close(p[1]); /* the pipe is never read: input comes through bh_cdp_input */
    cdp = bh_cdp_new(bh_http_loop(http), devnull, p[0], on_event, on_closed, NULL);
    if (!cdp)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a fresh live view and proxy per input: the same input, the same run */
    static const struct bh_live_policy pol = {1, 1};
    static const struct bh_cdp_proxy_limits lim = {0, 0};
    live = bh_live_new(cdp, &pol, 1280, 720, NULL, NULL);
    bh_live_set_page(live, "PAGE");
    proxy = bh_cdp_proxy_new(cdp, &lim, NULL, NULL);
    bh_cdp_first_id(cdp, 1);
    bh_cdp_input(cdp, (const char *)data, size);
    /* end the last message, so that nothing carries over to the next input */
    bh_cdp_input(cdp, "", 1);
    bh_cdp_proxy_free(proxy, 1001, "done");
    bh_live_free(live, 1001, "done");
    proxy = NULL;
    live = NULL;
    return 0;
}
