/* json.h — the JSON type bulkhead's modules share. jansson is the
 * implementation; modules include this header, never jansson's directly, and
 * use the few helpers below for what jansson does not say briefly. */
#ifndef BH_JSON_H
#define BH_JSON_H

#include <jansson.h>

/* Serialize compactly; caller frees. Never NULL. */
char *bh_json_dump(const json_t *j);
/* A string member or NULL (borrowed). */
const char *bh_json_str(const json_t *obj, const char *key);

#endif
