/* fuzz_live.c — a message from a live-view viewer (docs/live.md): parsed
 * and translated into CDP input, navigation and resize commands, under a
 * clipboard policy that allows everything and one that allows nothing. */
#include <stdlib.h>

#include "fuzz.h"
#include "kinds/browser/live.h"

static void translate(json_t *msg, const struct bh_live_policy *pol)
{
    struct bh_live_cmd cmds[2];
    struct bh_invalid why;
    int n = bh_live_translate(msg, pol, cmds, &why);
    for (int i = 0; i < n; i++) {
        if (cmds[i].params) {
            char *s = json_dumps(cmds[i].params, JSON_COMPACT);
            free(s);
        }
        json_decref(cmds[i].params);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *msg = json_loadb((const char *)data, size, 0, NULL);
    static const struct bh_live_policy all = {1, 1}, none = {0, 0};
    translate(msg, &all);
    translate(msg, &none);
    json_decref(msg);
    return 0;
}
