/* kinds.h — the session kinds this build has (kinds/kind.h), by name, and
 * the routes they serve. */
#ifndef BH_KINDS_H
#define BH_KINDS_H

#include "kinds/kind.h"

#define BH_KINDS_MAX 8

/* Every kind, NULL-terminated; the first is the default ("type" omitted). */
extern const struct bh_kind *bh_kinds[BH_KINDS_MAX + 1];
/* Add a kind (the unit tests' own); its index, or -1 when full. */
int bh_kinds_add(const struct bh_kind *kind);

/* The kind named name, or NULL. */
const struct bh_kind *bh_kind_find(const char *name);
/* Its index in bh_kinds (for per-kind tables), or -1. */
int bh_kind_index(const struct bh_kind *kind);
/* The first kind's route for method ("WS" for an upgrade) and path (what
 * follows /api/v1/sessions/{id}), or NULL; *kind and *rest (the path after
 * a prefix route) are set when found. */
/* A method that kind's routes (NULL: any kind's) take at path ("GET",
 * "PUT", "POST", "DELETE"), or NULL. */
const char *bh_kind_path_method(const struct bh_kind *kind, const char *path);
/* One kind's route for method and path (rest as above), or NULL. */
const struct bh_kind_route *bh_kind_route_of(const struct bh_kind *kind, const char *method,
                                             const char *path, const char **rest);
const struct bh_kind_route *bh_kind_route_find(const char *method, const char *path,
                                               const struct bh_kind **kind, const char **rest);

#endif
