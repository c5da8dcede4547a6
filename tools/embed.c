/* embed — turn files into a C source the daemon links in (the web UI assets).
 *
 *   embed OUT.c FILE|/URL/PATH=FILE...
 *
 * writes OUT.c defining
 *
 *   #include "api/assets.h"
 *   static const unsigned char data0[] = {...};
 *   ...
 *   const struct bh_asset bh_assets[] = {
 *       {"/index.html", "text/html; charset=utf-8", data0, 1234UL},
 *       ...
 *       {0},
 *   };
 *
 * The path is "/" + the file's basename, or the URL path given before "=" (an
 * argument that starts with "/", e.g. "/vendor/xterm.js=web/node_modules/…":
 * segments of [A-Za-z0-9._-], none "." or ".."); the content type comes from
 * the path's extension. Every array gets a trailing NUL that is not counted in the
 * length (so an empty file is still a valid array). OUT.c is written to a
 * temporary file and renamed into place, so a failed run leaves no half file.
 * Exit status: 0 ok, 1 error (message on stderr), 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".htm", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
    {".webmanifest", "application/manifest+json"},
};

static const char *basename_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static const char *type_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot) {
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
            const char *a = dot, *b = types[i].ext;
            while (*a && *b && (*a | 0x20) == (*b | 0x20))
                a++, b++;
            if (!*a && !*b)
                return types[i].type;
        }
    }
    return "application/octet-stream";
}

/* A basename goes into a C string literal: allow only what needs no escape
 * and makes a sane URL path. */
static int name_ok(const char *n)
{
    if (!*n || !strcmp(n, ".") || !strcmp(n, ".."))
        return 0;
    for (; *n; n++) {
        unsigned char c = (unsigned char)*n;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

/* A URL path "/seg/seg": every segment name_ok. */
static int url_ok(const char *u, size_t n)
{
    if (n < 2 || u[0] != '/')
        return 0;
    char seg[256];
    for (size_t i = 1; i <= n;) {
        size_t j = i;
        while (j < n && u[j] != '/')
            j++;
        if (j - i >= sizeof seg)
            return 0;
        memcpy(seg, u + i, j - i);
        seg[j - i] = 0;
        if (!name_ok(seg))
            return 0;
        i = j + 1;
    }
    return 1;
}

/* One argument: FILE (served at "/" + its basename) or URL=FILE. */
struct item {
    char url[512];
    const char *file;
};

static int parse_item(const char *arg, struct item *it)
{
    const char *eq = arg[0] == '/' ? strchr(arg, '=') : NULL;
    if (eq) {
        size_t n = (size_t)(eq - arg);
        if (!url_ok(arg, n) || n >= sizeof it->url) {
            fprintf(stderr, "embed: %s: the URL path must be /[A-Za-z0-9._-]+(/...)\n", arg);
            return -1;
        }
        memcpy(it->url, arg, n);
        it->url[n] = 0;
        it->file = eq + 1;
        return 0;
    }
    const char *b = basename_of(arg);
    if (!name_ok(b)) {
        fprintf(stderr, "embed: %s: file name must be [A-Za-z0-9._-]+\n", arg);
        return -1;
    }
    snprintf(it->url, sizeof it->url, "/%s", b);
    it->file = arg;
    return 0;
}

static int emit_file(FILE *out, const char *url, const char *path, int idx, unsigned long *len)
{
    FILE *in = fopen(path, "rb");
    if (!in) {
        fprintf(stderr, "embed: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(out, "\n/* %s */\nstatic const unsigned char data%d[] = {", url, idx);
    unsigned char buf[65536];
    unsigned long n = 0;
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0) {
        for (size_t i = 0; i < got; i++, n++)
            fprintf(out, "%s%u,", n % 16 ? "" : "\n    ", buf[i]);
    }
    int err = ferror(in);
    fclose(in);
    if (err) {
        fprintf(stderr, "embed: %s: read error\n", path);
        return -1;
    }
    fprintf(out, "%s0\n};\n", n % 16 ? "" : "\n    ");
    *len = n;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: embed OUT.c FILE|/URL/PATH=FILE...\n");
        return 2;
    }
    const char *outpath = argv[1];
    int nfiles = argc - 2;

    struct item *items = calloc(nfiles ? (size_t)nfiles : 1, sizeof *items);
    if (!items) {
        fprintf(stderr, "embed: out of memory\n");
        return 1;
    }
    for (int i = 0; i < nfiles; i++) {
        if (parse_item(argv[2 + i], &items[i]) != 0)
            return 1;
        for (int j = 0; j < i; j++) {
            if (!strcmp(items[i].url, items[j].url)) {
                fprintf(stderr, "embed: %s and %s have the same path %s\n", argv[2 + j],
                        argv[2 + i], items[i].url);
                return 1;
            }
        }
    }

    size_t tl = strlen(outpath) + 8;
    char *tmp = malloc(tl);
    unsigned long *lens = calloc(nfiles ? (size_t)nfiles : 1, sizeof *lens);
    if (!tmp || !lens) {
        fprintf(stderr, "embed: out of memory\n");
        return 1;
    }
    snprintf(tmp, tl, "%s.tmp", outpath);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fprintf(stderr, "embed: %s: %s\n", tmp, strerror(errno));
        return 1;
    }

    fprintf(out, "/* Generated by tools/embed.c: do not edit. */\n#include \"api/assets.h\"\n");
    int rc = 0;
    for (int i = 0; i < nfiles && rc == 0; i++)
        rc = emit_file(out, items[i].url, items[i].file, i, &lens[i]);
    if (rc == 0) {
        fprintf(out, "\nconst struct bh_asset bh_assets[] = {\n");
        for (int i = 0; i < nfiles; i++)
            fprintf(out, "    {\"%s\", \"%s\", data%d, %luUL},\n", items[i].url,
                    type_of(basename_of(items[i].url)), i, lens[i]);
        fprintf(out, "    {0},\n};\n");
    }
    if (fflush(out) != 0 || ferror(out)) {
        fprintf(stderr, "embed: %s: write error\n", tmp);
        rc = -1;
    }
    if (fclose(out) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, outpath) != 0) {
        fprintf(stderr, "embed: rename %s: %s\n", outpath, strerror(errno));
        rc = -1;
    }
    if (rc != 0)
        remove(tmp);
    free(tmp);
    free(lens);
    free(items);
    return rc == 0 ? 0 : 1;
}
