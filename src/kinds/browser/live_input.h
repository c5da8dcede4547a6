/* live_input.h — a live-view viewer's message (docs/live.md) translated
 * into the CDP commands that carry it out on the page, under the session's
 * clipboard policy. Pure (no I/O), unit-tested and fuzzed; live.c sends what
 * it returns. */
#ifndef BH_LIVE_INPUT_H
#define BH_LIVE_INPUT_H

#include "lib/json.h"
#include "lib/check.h"

struct bh_live_policy {
    int copy;  /* text selected in the page may be copied out */
    int paste; /* text may be pasted in */
};

/* One CDP command a viewer message becomes. */
struct bh_live_cmd {
    char method[48];
    json_t *params; /* owned */
    int special;    /* 0: send as is; else one of BH_LIVE_* below */
};
enum {
    BH_LIVE_CMD = 0,
    BH_LIVE_BACK,
    BH_LIVE_FORWARD,
    BH_LIVE_COPY,
    BH_LIVE_SETTINGS,
    BH_LIVE_RESIZE
};

/* Translate a viewer message into up to 2 commands (a printable key-down
 * becomes keyDown with its text). Returns the count (>= 0), or -1 with why
 * filled. Free params of the commands returned. */
int bh_live_translate(json_t *msg, const struct bh_live_policy *pol, struct bh_live_cmd out[2],
                      struct bh_invalid *why);

#endif
