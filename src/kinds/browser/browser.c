/* browser.c — see browser.h. */
#include "kinds/browser/browser.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

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
        /* On-demand component installs (the on-device model manifest at
         * start, others when a page needs them) ignore both the flag above
         * and the ComponentUpdatesEnabled policy: their update server is a
         * closed port on the sandbox's own loopback, so they never leave it. */
        "--component-updater=url-source=http://127.0.0.1:9/",
        /* Chromium asks accounts.google.com for the signed-in Google
         * accounts (ListAccounts) whatever BrowserSignin says; its Gaia
         * origin is that same closed port. */
        "--gaia-url=http://127.0.0.1:9/",
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
    /* TZ: the sandbox has no /etc/localtime, and without TZ the browser's
     * ICU reads every file of /usr/share/zoneinfo to guess the zone (15,000
     * system calls, tens of ms of each start); UTC also keeps the host's
     * zone to itself */
    static const char *const env[] = {"PATH=/usr/bin:/bin",
                                      "HOME=/tmp",
                                      "LANG=C.UTF-8",
                                      "TZ=UTC",
                                      "XDG_CONFIG_HOME=/tmp/.config",
                                      "XDG_CACHE_HOME=/tmp/.cache",
                                      NULL};
    for (size_t i = 0; env[i]; i++)
        cmd->env[i] = env[i];
}

/* Names checked against Chromium 156's chrome://policy, where each shows
 * "OK" (see docs/security.md for what each one is for). Left out on purpose:
 * DeveloperToolsAvailability=2 (Chromium then refuses Target.attachToTarget,
 * which every CDP client needs) and RemoteDebuggingAllowed=false (it would
 * close the daemon's own pipe); devtools:// is blocked by URLBlocklist.
 * The one chrome: page allowed is the browser's own omnibox popup, which it
 * loads into every window: blocked, it turns into an extra "page" target
 * that every client would see. Clients cannot attach to it (cdp_proxy.c).
 * CommandLineFlagSecurityWarningsEnabled=false: --gaia-url would otherwise
 * put a warning bar over the page, which takes its height from the window
 * (screencast frames shorter than the viewport the daemon set). */
const char bh_browser_policies[] =
    "{\n"
    "  \"URLBlocklist\": [\"file://*\", \"chrome://*\", \"chrome-untrusted://*\",\n"
    "                   \"devtools://*\", \"chrome-extension://*\", \"chrome-search://*\",\n"
    "                   \"isolated-app://*\"],\n"
    "  \"URLAllowlist\": [\"chrome://omnibox-popup.top-chrome\"],\n"
    "  \"RemoteDebuggingAllowed\": true,\n"
    "  \"CommandLineFlagSecurityWarningsEnabled\": false,\n"
    "  \"ExtensionInstallBlocklist\": [\"*\"],\n"
    "  \"BlockExternalExtensions\": true,\n"
    "  \"ComponentUpdatesEnabled\": false,\n"
    "  \"BrowserSignin\": 0,\n"
    "  \"SyncDisabled\": true,\n"
    "  \"MetricsReportingEnabled\": false,\n"
    "  \"UrlKeyedAnonymizedDataCollectionEnabled\": false,\n"
    "  \"SafeBrowsingProtectionLevel\": 0,\n"
    "  \"SafeBrowsingDeepScanningEnabled\": false,\n"
    "  \"PasswordLeakDetectionEnabled\": false,\n"
    "  \"PasswordManagerEnabled\": false,\n"
    "  \"NetworkPredictionOptions\": 2,\n"
    "  \"SearchSuggestEnabled\": false,\n"
    "  \"AlternateErrorPagesEnabled\": false,\n"
    "  \"TranslateEnabled\": false,\n"
    "  \"SpellcheckEnabled\": false,\n"
    "  \"SpellCheckServiceEnabled\": false,\n"
    "  \"DnsOverHttpsMode\": \"off\",\n"
    "  \"EnableMediaRouter\": false,\n"
    "  \"AccessCodeCastEnabled\": false,\n"
    "  \"PromotionsEnabled\": false,\n"
    "  \"ShoppingListEnabled\": false,\n"
    "  \"BackgroundModeEnabled\": false,\n"
    "  \"DefaultBrowserSettingEnabled\": false,\n"
    "  \"FeedbackSurveysEnabled\": false,\n"
    "  \"UserFeedbackAllowed\": false,\n"
    "  \"WebRtcEventLogCollectionAllowed\": false,\n"
    "  \"WebRtcTextLogCollectionAllowed\": false\n"
    "}\n";

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
