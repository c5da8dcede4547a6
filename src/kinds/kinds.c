/* kinds.c — see kinds.h. */
#include "kinds/kinds.h"

#include <string.h>

#include "kinds/browser/kind.h"
#include "kinds/shell/shell.h"

const struct bh_kind *bh_kinds[BH_KINDS_MAX + 1] = {&bh_kind_browser, &bh_kind_shell, NULL};

int bh_kinds_add(const struct bh_kind *kind)
{
    for (int i = 0; i < BH_KINDS_MAX; i++)
        if (!bh_kinds[i] || bh_kinds[i] == kind) {
            bh_kinds[i] = kind;
            return i;
        }
    return -1;
}

const struct bh_kind *bh_kind_find(const char *name)
{
    for (int i = 0; bh_kinds[i]; i++)
        if (name && !strcmp(bh_kinds[i]->name, name))
            return bh_kinds[i];
    return NULL;
}

int bh_kind_index(const struct bh_kind *kind)
{
    for (int i = 0; bh_kinds[i]; i++)
        if (bh_kinds[i] == kind)
            return i;
    return -1;
}

const struct bh_kind_route *bh_kind_route_of(const struct bh_kind *kind, const char *method,
                                             const char *path, const char **rest)
{
    for (const struct bh_kind_route *r = kind->routes; r && r->method; r++) {
        if (strcmp(r->method, method) != 0)
            continue;
        size_t n = strlen(r->path);
        int prefix = n > 1 && r->path[n - 1] == '/';
        if (prefix ? strncmp(path, r->path, n) != 0 : strcmp(path, r->path) != 0)
            continue;
        *rest = prefix ? path + n : "";
        return r;
    }
    return NULL;
}

const struct bh_kind_route *bh_kind_route_find(const char *method, const char *path,
                                               const struct bh_kind **kind, const char **rest)
{
    for (int i = 0; bh_kinds[i]; i++) {
        const struct bh_kind_route *r = bh_kind_route_of(bh_kinds[i], method, path, rest);
        if (r) {
            *kind = bh_kinds[i];
            return r;
        }
    }
    return NULL;
}

const char *bh_kind_path_method(const struct bh_kind *kind, const char *path)
{
    static const char *const methods[] = {"GET", "PUT", "POST", "DELETE", NULL};
    const struct bh_kind *k;
    const char *rest;
    for (int i = 0; methods[i]; i++)
        if (kind ? bh_kind_route_of(kind, methods[i], path, &rest) != NULL
                 : bh_kind_route_find(methods[i], path, &k, &rest) != NULL)
            return methods[i];
    return NULL;
}
