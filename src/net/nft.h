/* nft.h — internal to the network modules; nothing else includes it.
 * Running nft scripts through libnftables (one transaction each, one call
 * at a time in the process, one context kept for its life), building them
 * in memory, and reading nft's JSON listings. */
#ifndef BH_NFT_H
#define BH_NFT_H

#include <jansson.h>
#include <stdio.h>

#include "lib/err.h"

/* Run an nft script (one transaction). With out != NULL, the output of its
 * list commands as JSON (caller frees). Any thread. */
int bh_nft_exec(const char *script, char **out, bh_err_t *err);
int bh_nft_run(const char *script, bh_err_t *err);
/* `cmd` (a list command) run, its output parsed (caller json_decref()s). */
json_t *bh_nft_list_json(const char *cmd, bh_err_t *err);
/* 1 if a listing has table `family` `name`. */
int bh_nft_has_table(json_t *root, const char *family, const char *name);
/* Object `kind` ("set", "map", "chain") called `name` in a listing
 * (borrowed), or NULL. */
json_t *bh_nft_find(json_t *root, const char *kind, const char *name);

/* A script under construction (open_memstream): write to f. */
struct bh_nft_script {
    FILE *f;
    char *buf;
    size_t len;
};

void bh_nft_script_open(struct bh_nft_script *s);
/* Close and return the text (caller frees). */
char *bh_nft_script_close(struct bh_nft_script *s);

#endif
