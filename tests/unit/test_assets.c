/* test_assets.c — the web UI embedded in the daemon (tools/embed.c →
 * build/gen/assets.c): the UI's own files at "/" + their name, and the npm
 * packages of web/package.json (xterm.js, its fit addon and their licences)
 * at the URL paths the Makefile gives them (WEB_VENDOR), with content types
 * from their extensions. */
#include <string.h>

#include "api/assets.h"
#include "t.h"

static const struct bh_asset *find(const char *path)
{
    for (const struct bh_asset *a = bh_assets; a->path; a++)
        if (!strcmp(a->path, path))
            return a;
    return NULL;
}

/* The asset at path, of a type starting with type, whose bytes hold needle. */
static int has(const char *path, const char *type, const char *needle)
{
    const struct bh_asset *a = find(path);
    if (!a || strncmp(a->content_type, type, strlen(type)) != 0 || a->len < 100)
        return 0;
    return memmem(a->data, a->len, needle, strlen(needle)) != NULL;
}

int main(void)
{
    CHECK(has("/index.html", "text/html", "id=\"term-screen\""));
    CHECK(has("/app.js", "text/javascript", "bulkheadTerm"));
    CHECK(has("/term.js", "text/javascript", "window.bulkheadTerm"));
    CHECK(has("/app.css", "text/css", ".term-stage"));

    /* xterm.js: its UMD build (defines Terminal), stylesheet, addon, licences */
    CHECK(has("/vendor/xterm.js", "text/javascript", "Terminal"));
    CHECK(has("/vendor/xterm.css", "text/css", ".xterm"));
    CHECK(has("/vendor/addon-fit.js", "text/javascript", "FitAddon"));
    CHECK(has("/vendor/xterm-LICENSE.txt", "text/plain", "Permission is hereby granted"));
    CHECK(has("/vendor/addon-fit-LICENSE.txt", "text/plain", "Permission is hereby granted"));

    /* only what was named: no basename copies of the vendor files, no
     * directories, no source maps */
    CHECK(find("/xterm.js") == NULL);
    CHECK(find("/vendor") == NULL && find("/vendor/") == NULL);
    CHECK(find("/vendor/xterm.js.map") == NULL);
    CHECK(find("/package.json") == NULL);

    /* every path is a clean absolute URL path */
    int n = 0, clean = 1;
    for (const struct bh_asset *a = bh_assets; a->path; a++, n++)
        if (a->path[0] != '/' || strstr(a->path, "//") || strstr(a->path, "/.") || !a->data)
            clean = 0;
    CHECK(clean);
    CHECK(n >= 9);
    return T_DONE();
}
