/* userns.c — see userns.h.
 *
 * Leases are those of lease.h: <lease_dir>/<base> -> the owning session id,
 * as the network address leases. */
#include "backend/local/userns.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/lease.h"
#include "lib/util.h"

#define LEASE_DIR "/run/bulkhead/userns"
#define ID_MAX 64

static const char *lease_dir(const struct bh_userns_config *cfg)
{
    return cfg->lease_dir ? cfg->lease_dir : LEASE_DIR;
}

static int check_id(const char *id, bh_err_t *err)
{
    size_t n = id ? strlen(id) : 0;
    int ok = n > 0 && n <= ID_MAX && id[0] != '.';
    for (size_t i = 0; ok && i < n; i++) {
        char c = id[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-' || c == '.';
    }
    return ok ? 0 : bh_err_set(err, EINVAL, "userns: invalid session id");
}

static uint64_t range_end(const struct bh_userns_config *cfg)
{
    return (uint64_t)cfg->first + (uint64_t)cfg->count * BH_USERNS_SIZE;
}

/* ------------------------------------------------------------------ */
/* The host's accounts                                                 */

/* Check the ids of one colon-separated file: field `idf` holds an id (and
 * field idf+1 a count, for subuid/subgid files) that must stay outside
 * [lo, hi). */
static int check_file(const char *root, const char *name, int idf, int ranged, uint64_t lo,
                      uint64_t hi, bh_err_t *err)
{
    cleanup_free char *path = bh_xasprintf("%s/etc/%s", root, name);
    cleanup_free char *text = bh_read_file(path, NULL, NULL);
    if (!text)
        return 0;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (l[0] == '#')
            continue;
        char *f[8] = {0};
        int n = 0;
        for (char *p = l; n < 8;) {
            f[n++] = p;
            char *c = strchr(p, ':');
            if (!c)
                break;
            *c = 0;
            p = c + 1;
        }
        if (n <= idf + ranged || !*f[idf])
            continue;
        char *e;
        unsigned long long a = strtoull(f[idf], &e, 10);
        if (*e)
            continue;
        unsigned long long b = a + 1;
        if (ranged) {
            unsigned long long k = strtoull(f[idf + 1], &e, 10);
            if (*e)
                continue;
            b = a + k;
        }
        if (a < hi && b > lo)
            return bh_err_set(err, EEXIST,
                              "userns: host ids %llu..%llu (%s, \"%s\") overlap the session "
                              "ranges %llu..%llu",
                              a, b - 1, path, f[0], (unsigned long long)lo,
                              (unsigned long long)hi - 1);
    }
    return 0;
}

int bh_userns_check(const struct bh_userns_config *cfg, const char *root_dir, bh_err_t *err)
{
    if (!cfg || cfg->first == 0)
        return 0;
    if (cfg->count == 0)
        return bh_err_set(err, EINVAL, "userns: no ranges (count 0)");
    if (cfg->first < BH_USERNS_SIZE)
        return bh_err_set(err, EINVAL, "userns: first host id %u is below 65536", cfg->first);
    uint64_t lo = cfg->first, hi = range_end(cfg);
    if (hi > UINT32_MAX) /* 2^32-1 is the invalid id (-1) */
        return bh_err_set(err, EINVAL, "userns: %u ranges from %u pass the last host id",
                          cfg->count, cfg->first);
    const char *root = root_dir ? root_dir : "";
    if (check_file(root, "passwd", 2, 0, lo, hi, err) < 0 ||
        check_file(root, "passwd", 3, 0, lo, hi, err) < 0 ||
        check_file(root, "group", 2, 0, lo, hi, err) < 0 ||
        check_file(root, "subuid", 1, 1, lo, hi, err) < 0 ||
        check_file(root, "subgid", 1, 1, lo, hi, err) < 0)
        return -1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Leases                                                              */

struct each {
    int (*fn)(int dfd, const char *name, uint32_t base, const char *owner, void *data);
    void *data;
};

/* A lease's name is the first host id of its range, in decimal. */
static int each_cb(int dfd, const char *name, const char *owner, void *data)
{
    struct each *e = data;
    char *end;
    unsigned long long base = strtoull(name, &end, 10);
    if (*end || base == 0 || base > UINT32_MAX)
        return 0;
    return e->fn(dfd, name, (uint32_t)base, owner, e->data);
}

/* Call fn(dirfd, name, base, owner id) for every lease; fn returns 0 to go
 * on, negative errno to stop with an error. */
static int lease_each(const struct bh_userns_config *cfg,
                      int (*fn)(int dfd, const char *name, uint32_t base, const char *owner,
                                void *data),
                      void *data, bh_err_t *err)
{
    struct each e = {fn, data};
    return bh_lease_each(lease_dir(cfg), each_cb, &e, "userns leases", err);
}

struct find {
    const char *id;
    uint32_t base;
    int n;
};

static int find_cb(int dfd, const char *name, uint32_t base, const char *owner, void *data)
{
    (void)dfd;
    (void)name;
    struct find *f = data;
    if (!strcmp(owner, f->id)) {
        f->base = base;
        f->n++;
    }
    return 0;
}

/* Lease range base to id: 0 taken, 1 already taken (by anyone), -1 error. */
static int lease_try(const struct bh_userns_config *cfg, const char *id, uint64_t base,
                     bh_err_t *err)
{
    char name[32];
    snprintf(name, sizeof name, "%llu", (unsigned long long)base);
    return bh_lease_try(lease_dir(cfg), name, id, "userns lease", err);
}

int bh_userns_lease(const struct bh_userns_config *cfg, const char *id, uint32_t *base,
                    bh_err_t *err)
{
    if (!cfg || cfg->first == 0)
        return bh_err_set(err, EINVAL, "userns: no ranges configured");
    if (check_id(id, err) < 0 || bh_mkdir_p(lease_dir(cfg), 0700, err) < 0)
        return -1;
    struct find f = {.id = id};
    if (lease_each(cfg, find_cb, &f, err) < 0)
        return -1;
    if (f.n)
        return bh_err_set(err, EEXIST, "userns: session %s already holds host ids %u..", id,
                          f.base);
    for (uint32_t i = 0; i < cfg->count; i++) {
        uint64_t b = cfg->first + (uint64_t)i * BH_USERNS_SIZE;
        int r = lease_try(cfg, id, b, err);
        if (r < 0)
            return -1;
        if (r == 0) {
            *base = (uint32_t)b;
            return 0;
        }
    }
    return bh_err_set(err, EAGAIN, "userns: all %u uid ranges are in use", cfg->count);
}

int bh_userns_claim(const struct bh_userns_config *cfg, const char *id, uint32_t base,
                    bh_err_t *err)
{
    if (!cfg || cfg->first == 0 || base < cfg->first || base >= range_end(cfg) ||
        (base - cfg->first) % BH_USERNS_SIZE)
        return bh_err_set(err, EINVAL, "userns: host id %u starts no range of this daemon", base);
    if (check_id(id, err) < 0 || bh_mkdir_p(lease_dir(cfg), 0700, err) < 0)
        return -1;
    int r = lease_try(cfg, id, base, err);
    if (r <= 0)
        return r;
    char path[512], owner[ID_MAX + 2];
    snprintf(path, sizeof path, "%s/%u", lease_dir(cfg), base);
    ssize_t n = readlink(path, owner, sizeof owner - 1);
    if (n < 0)
        return bh_err_set(err, errno, "userns lease %s", path);
    owner[n] = 0;
    if (strcmp(owner, id))
        return bh_err_set(err, EBUSY, "userns: host ids %u.. are leased to session %s", base,
                          owner);
    return 0;
}

static int release_cb(int dfd, const char *name, uint32_t base, const char *owner, void *data)
{
    (void)base;
    if (strcmp(owner, data))
        return 0;
    if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

int bh_userns_release(const struct bh_userns_config *cfg, const char *id, bh_err_t *err)
{
    if (check_id(id, err) < 0)
        return -1;
    return lease_each(cfg, release_cb, (void *)id, err);
}

struct list {
    char **v;
    size_t n, cap;
};

static int list_cb(int dfd, const char *name, uint32_t base, const char *owner, void *data)
{
    (void)dfd;
    (void)name;
    (void)base;
    struct list *l = data;
    if (check_id(owner, NULL) < 0)
        return 0;
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], owner))
            return 0;
    if (l->n + 1 >= l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        char **nv = realloc(l->v, l->cap * sizeof *nv);
        if (!nv)
            abort();
        l->v = nv;
    }
    l->v[l->n++] = bh_xstrdup(owner);
    l->v[l->n] = NULL;
    return 0;
}

int bh_userns_list(const struct bh_userns_config *cfg, char ***ids, bh_err_t *err)
{
    struct list l = {0};
    if (lease_each(cfg, list_cb, &l, err) < 0) {
        for (size_t i = 0; i < l.n; i++)
            free(l.v[i]);
        free(l.v);
        return -1;
    }
    if (!l.v)
        l.v = bh_xcalloc(1, sizeof *l.v);
    *ids = l.v;
    return (int)l.n;
}
