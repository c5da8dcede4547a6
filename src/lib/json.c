/* json.c — see json.h. */
#include "lib/json.h"

#include <stdlib.h>

#include "lib/util.h"

char *bh_json_dump(const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    return s ? s : bh_xstrdup("null");
}

const char *bh_json_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}
