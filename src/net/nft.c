/* nft.c — see nft.h. */
#include "net/nft.h"

#include <errno.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/json.h"
#include "lib/util.h"

/* libnftables contexts are not thread-safe and the library has had global
 * state: one call at a time. The context is kept for the life of the
 * process: a new one fetches the whole ruleset into freshly allocated hash
 * tables (128 KiB per table of every owner on the host), which made each
 * policy change cost ~8 ms instead of <1 ms. The cache stays correct: nft
 * checks the ruleset's generation before each command and refetches after
 * any change (ours or another process's). A forked child makes its own (the
 * parent's netlink socket is the parent's). */
static pthread_mutex_t nft_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nft_ctx *nft_ctx_kept;
static pid_t nft_ctx_pid;

/* Run an nft script (one transaction). With out != NULL, the output of its
 * list commands as JSON (caller frees). */
int bh_nft_exec(const char *script, char **out, bh_err_t *err)
{
    pthread_mutex_lock(&nft_lock);
    int rc = 0;
    if (!nft_ctx_kept || nft_ctx_pid != getpid()) {
        nft_ctx_kept = nft_ctx_new(NFT_CTX_DEFAULT); /* an inherited one is left alone */
        nft_ctx_pid = getpid();
        if (nft_ctx_kept) {
            nft_ctx_buffer_output(nft_ctx_kept);
            nft_ctx_buffer_error(nft_ctx_kept);
        }
    }
    struct nft_ctx *ctx = nft_ctx_kept;
    if (!ctx) {
        rc = bh_err_set(err, ENOMEM, "nft context");
    } else {
        nft_ctx_output_set_flags(ctx, out ? NFT_CTX_OUTPUT_JSON : 0);
        int failed = nft_run_cmd_from_buffer(ctx, script) != 0;
        /* both buffers are read (and so emptied) on every call */
        const char *o = nft_ctx_get_output_buffer(ctx);
        const char *e = nft_ctx_get_error_buffer(ctx);
        if (failed) {
            size_t n = e ? strlen(e) : 0;
            while (n && (e[n - 1] == '\n' || e[n - 1] == ' '))
                n--;
            rc = bh_err_set(err, EINVAL, "nft: %.*s", (int)n, n ? e : "failed");
        } else if (out) {
            *out = bh_xstrdup(o ? o : "");
        }
    }
    pthread_mutex_unlock(&nft_lock);
    return rc;
}

int bh_nft_run(const char *script, bh_err_t *err) { return bh_nft_exec(script, NULL, err); }

void bh_nft_script_open(struct bh_nft_script *s)
{
    s->buf = NULL;
    s->len = 0;
    s->f = open_memstream(&s->buf, &s->len);
    if (!s->f)
        abort();
}

/* Close and return the text (caller frees). */
char *bh_nft_script_close(struct bh_nft_script *s)
{
    fclose(s->f);
    s->f = NULL;
    return steal_pointer(&s->buf);
}

int bh_nft_has_table(json_t *root, const char *family, const char *name)
{
    json_t *items = json_object_get(root, "nftables"), *it;
    size_t i;
    json_array_foreach(items, i, it)
    {
        json_t *tb = json_object_get(it, "table");
        const char *fam = bh_json_str(tb, "family"), *nm = bh_json_str(tb, "name");
        if (fam && nm && !strcmp(fam, family) && !strcmp(nm, name))
            return 1;
    }
    return 0;
}

/* Object `kind` ("set", "map", "chain") called `name` in a listing. */
json_t *bh_nft_find(json_t *root, const char *kind, const char *name)
{
    json_t *items = json_object_get(root, "nftables"), *it;
    size_t i;
    json_array_foreach(items, i, it)
    {
        json_t *o = json_object_get(it, kind);
        const char *nm = bh_json_str(o, "name");
        if (nm && !strcmp(nm, name))
            return o;
    }
    return NULL;
}

json_t *bh_nft_list_json(const char *cmd, bh_err_t *err)
{
    cleanup_free char *out = NULL;
    if (bh_nft_exec(cmd, &out, err) < 0)
        return NULL;
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    if (!j)
        bh_err_set(err, EPROTO, "%s: unreadable JSON from nft (%s)", cmd, je.text);
    return j;
}
