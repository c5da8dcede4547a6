/* browser.h — how Chromium is started inside a sandbox: its command line
 * and environment. Shared by the daemon and the benchmark's bare baseline so
 * both run exactly the same browser. */
#ifndef BH_BROWSER_H
#define BH_BROWSER_H

struct bh_browser_cmd {
    const char *argv[40]; /* NULL-terminated */
    const char *env[8];   /* NULL-terminated */
    char *window;         /* owned: "--window-size=W,H" */
    char *proxy;          /* owned: "--proxy-server=URL" or NULL */
};

/* Fill cmd for the browser binary at `chromium` (a path inside the sandbox)
 * with a w×h window; the first page is about:blank. The sandbox of Chromium
 * itself stays on: there is no --no-sandbox here, ever. proxy: NULL, or
 * the upstream proxy URL every request goes through. */
void bh_browser_cmd_init(struct bh_browser_cmd *cmd, const char *chromium, int w, int h,
                         const char *proxy);
void bh_browser_cmd_free(struct bh_browser_cmd *cmd);

/* Chromium's managed policies for every session, as JSON: the image's
 * /etc/chromium/policies/managed/BH_BROWSER_POLICY_FILE (Debian's Chromium
 * reads that directory at start). They block every non-web scheme inside the
 * browser itself (file:, chrome:, devtools:, chrome-extension:, …), whatever
 * path a navigation takes, and switch off everything that would make the
 * browser send requests of its own (updates, sign-in, metrics, Safe
 * Browsing, prediction, …). docs/security.md lists and explains them. */
extern const char bh_browser_policies[];
#define BH_BROWSER_POLICY_FILE "bulkhead.json"

/* For `--nested-userns deny` only. The sandbox then refuses the user
 * namespaces that Chromium's own sandbox is built on, and its setuid
 * fallback cannot work under no_new_privs, so Chromium refuses to start
 * ("No usable sandbox!") unless told --no-sandbox: this adds it. The
 * session then has one layer (the container) instead of two; the trade is
 * in docs/security.md. */
void bh_browser_cmd_without_own_sandbox(struct bh_browser_cmd *cmd);

#endif
