/* assets.h — the web UI's files, embedded in the binary at build time
 * (tools/embed.c turns the files of web/ into build/gen/assets.c). */
#ifndef BH_ASSETS_H
#define BH_ASSETS_H

struct bh_asset {
    const char *path; /* "/index.html" */
    const char *content_type;
    const unsigned char *data;
    unsigned long len;
};

/* Terminated by an entry whose path is NULL. */
extern const struct bh_asset bh_assets[];

#endif
