/* browser.c — see browser.h. */
#include "browser.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void bh_browser_cmd_init(struct bh_browser_cmd *cmd, const char *chromium, int w, int h,
                         const char *proxy)
{
    memset(cmd, 0, sizeof *cmd);
    cmd->window = bh_xasprintf("--window-size=%d,%d", w, h);
    static const char *const flags[] = {
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        /* no calls home: this network is closed, and sessions should not leak */
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate,"
        "AutofillServerCommunication,CertificateTransparencyComponentUpdater",
        "--no-pings",
        /* pages restored from the back/forward cache fire no load event, and
         * background tabs stop rendering: both stall automation */
        "--disable-back-forward-cache",
        "--disable-renderer-backgrounding",
        "--disable-background-timer-throttling",
        "--disable-backgrounding-occluded-windows",
        "--disable-ipc-flooding-protection",
        "--disable-breakpad",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--disable-default-apps",
        "--metrics-recording-only",
        "--password-store=basic",
        "--mute-audio",
        "--hide-scrollbars",
        "--remote-debugging-pipe",
        "--user-data-dir=/tmp/profile",
        NULL,
    };
    size_t n = 0;
    cmd->argv[n++] = chromium;
    for (size_t i = 0; flags[i]; i++)
        cmd->argv[n++] = flags[i];
    cmd->argv[n++] = cmd->window;
    if (proxy) {
        cmd->proxy = bh_xasprintf("--proxy-server=%s", proxy);
        cmd->argv[n++] = cmd->proxy;
    }
    cmd->argv[n++] = "about:blank";
    cmd->argv[n] = NULL;
    static const char *const env[] = {"PATH=/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8",
                                      "XDG_CONFIG_HOME=/tmp/.config",
                                      "XDG_CACHE_HOME=/tmp/.cache", NULL};
    for (size_t i = 0; env[i]; i++)
        cmd->env[i] = env[i];
}

void bh_browser_cmd_free(struct bh_browser_cmd *cmd)
{
    free(cmd->window);
    free(cmd->proxy);
    cmd->window = cmd->proxy = NULL;
}

void bh_browser_cmd_without_own_sandbox(struct bh_browser_cmd *cmd)
{
    size_t n = 0;
    while (cmd->argv[n])
        n++;
    if (n == 0 || n + 2 > sizeof cmd->argv / sizeof *cmd->argv)
        abort(); /* argv is a fixed table that leaves room */
    memmove(&cmd->argv[2], &cmd->argv[1], n * sizeof *cmd->argv); /* with the NULL */
    cmd->argv[1] = "--no-sandbox";
}
