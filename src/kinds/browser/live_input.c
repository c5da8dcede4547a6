/* live_input.c — see live_input.h and docs/live.md. */
#include "kinds/browser/live_input.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

static int bad(struct bh_invalid *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct bh_invalid *why, const char *fmt, ...)
{
    why->code = "invalid_input";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->msg, sizeof why->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static int num(json_t *m, const char *k, double lo, double hi, double dflt, double *out,
               struct bh_invalid *why)
{
    json_t *v = json_object_get(m, k);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!json_is_number(v))
        return bad(why, "%s must be a number", k);
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi))
        return bad(why, "%s must be between %g and %g", k, lo, hi);
    *out = x;
    return 0;
}

static int integer(json_t *m, const char *k, long lo, long hi, long dflt, long *out,
                   struct bh_invalid *why)
{
    json_t *v = json_object_get(m, k);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return bad(why, "%s must be an integer between %ld and %ld", k, lo, hi);
    *out = (long)json_integer_value(v);
    return 0;
}

static const struct {
    const char *key;
    int vk;
    const char *text; /* sent with keyDown (Enter submits forms) */
} named_keys[] = {
    {"Enter", 13, "\r"},      {"Backspace", 8, NULL},  {"Tab", 9, NULL},
    {"Escape", 27, NULL},     {"ArrowLeft", 37, NULL}, {"ArrowUp", 38, NULL},
    {"ArrowRight", 39, NULL}, {"ArrowDown", 40, NULL}, {"Delete", 46, NULL},
    {"Home", 36, NULL},       {"End", 35, NULL},       {"PageUp", 33, NULL},
    {"PageDown", 34, NULL},   {"Insert", 45, NULL},    {"Shift", 16, NULL},
    {"Control", 17, NULL},    {"Alt", 18, NULL},       {"Meta", 91, NULL},
    {"CapsLock", 20, NULL},   {"F1", 112, NULL},       {"F2", 113, NULL},
    {"F3", 114, NULL},        {"F4", 115, NULL},       {"F5", 116, NULL},
    {"F6", 117, NULL},        {"F7", 118, NULL},       {"F8", 119, NULL},
    {"F9", 120, NULL},        {"F10", 121, NULL},      {"F11", 122, NULL},
    {"F12", 123, NULL},       {" ", 32, " "},
};

/* Number of code points in a UTF-8 string (invalid bytes count as one). */
static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static int translate_key(json_t *msg, struct bh_live_cmd out[2], struct bh_invalid *why)
{
    const char *action = bh_json_str(msg, "action");
    const char *key = bh_json_str(msg, "key");
    json_t *jcode = json_object_get(msg, "code");
    long mods;
    if (!action || (strcmp(action, "down") && strcmp(action, "up")))
        return bad(why, "key.action must be \"down\" or \"up\"");
    if (!key || !*key || strlen(key) > 32)
        return bad(why, "key.key must be a non-empty string of at most 32 bytes");
    if (jcode && (!json_is_string(jcode) || strlen(json_string_value(jcode)) > 32))
        return bad(why, "key.code must be a string of at most 32 bytes");
    if (integer(msg, "modifiers", 0, 15, 0, &mods, why) < 0)
        return -1;
    const char *code = jcode ? json_string_value(jcode) : "";
    int vk = 0;
    const char *text = NULL;
    int named = 0;
    for (size_t i = 0; i < sizeof named_keys / sizeof named_keys[0]; i++)
        if (!strcmp(key, named_keys[i].key)) {
            vk = named_keys[i].vk;
            text = named_keys[i].text;
            named = 1;
            break;
        }
    int printable = !named && utf8_len(key) == 1 && (unsigned char)key[0] >= 0x20;
    if (printable) {
        char c = key[0];
        if (c >= 'a' && c <= 'z')
            vk = c - 'a' + 'A';
        else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            vk = c;
        text = key;
    }
    /* with Ctrl, Alt or Meta held a key is a shortcut, not text */
    if (mods & (1 | 2 | 4))
        text = NULL;
    const char *type = !strcmp(action, "up") ? "keyUp" : text ? "keyDown" : "rawKeyDown";
    json_t *p = json_pack("{s:s, s:s, s:s, s:i, s:i}", "type", type, "key", key, "code", code,
                          "windowsVirtualKeyCode", vk, "modifiers", (int)mods);
    if (text && !strcmp(type, "keyDown")) {
        json_object_set_new(p, "text", json_string(text));
        json_object_set_new(p, "unmodifiedText", json_string(text));
    }
    snprintf(out[0].method, sizeof out[0].method, "Input.dispatchKeyEvent");
    out[0].params = p;
    out[0].special = BH_LIVE_CMD;
    return 1;
}

int bh_live_translate(json_t *msg, const struct bh_live_policy *pol, struct bh_live_cmd out[2],
                      struct bh_invalid *why)
{
    memset(out, 0, 2 * sizeof *out);
    const char *type = json_is_object(msg) ? bh_json_str(msg, "type") : NULL;
    if (!type)
        return bad(why, "a message must be a JSON object with a string \"type\"");
    struct bh_live_cmd *c = &out[0];
    if (!strcmp(type, "mouse")) {
        const char *action = bh_json_str(msg, "action");
        const char *kind = !action                   ? NULL
                           : !strcmp(action, "move") ? "mouseMoved"
                           : !strcmp(action, "down") ? "mousePressed"
                           : !strcmp(action, "up")   ? "mouseReleased"
                                                     : NULL;
        if (!kind)
            return bad(why, "mouse.action must be \"move\", \"down\" or \"up\"");
        double x, y;
        long buttons, clicks, mods;
        int press = strcmp(action, "move") != 0;
        if (num(msg, "x", 0, 10000, -1, &x, why) < 0 || num(msg, "y", 0, 10000, -1, &y, why) < 0)
            return -1;
        if (x < 0 || y < 0)
            return bad(why, "mouse needs x and y");
        if (integer(msg, "buttons", 0, 7, 0, &buttons, why) < 0 ||
            integer(msg, "clickCount", 0, 3, press ? 1 : 0, &clicks, why) < 0 ||
            integer(msg, "modifiers", 0, 15, 0, &mods, why) < 0)
            return -1;
        json_t *jb = json_object_get(msg, "button");
        const char *button = jb ? json_string_value(jb) : (press ? "left" : "none");
        if (!button || (strcmp(button, "left") && strcmp(button, "middle") &&
                        strcmp(button, "right") && strcmp(button, "none")))
            return bad(why, "mouse.button must be \"left\", \"middle\", \"right\" or \"none\"");
        snprintf(c->method, sizeof c->method, "Input.dispatchMouseEvent");
        c->params = json_pack("{s:s, s:f, s:f, s:s, s:i, s:i, s:i}", "type", kind, "x", x, "y", y,
                              "button", button, "buttons", (int)buttons, "clickCount", (int)clicks,
                              "modifiers", (int)mods);
        return 1;
    }
    if (!strcmp(type, "wheel")) {
        double x, y, dx, dy;
        long mods;
        if (num(msg, "x", 0, 10000, 0, &x, why) < 0 || num(msg, "y", 0, 10000, 0, &y, why) < 0 ||
            num(msg, "deltaX", -100000, 100000, 0, &dx, why) < 0 ||
            num(msg, "deltaY", -100000, 100000, 0, &dy, why) < 0 ||
            integer(msg, "modifiers", 0, 15, 0, &mods, why) < 0)
            return -1;
        snprintf(c->method, sizeof c->method, "Input.dispatchMouseEvent");
        c->params = json_pack("{s:s, s:f, s:f, s:f, s:f, s:i}", "type", "mouseWheel", "x", x, "y",
                              y, "deltaX", dx, "deltaY", dy, "modifiers", (int)mods);
        return 1;
    }
    if (!strcmp(type, "key"))
        return translate_key(msg, out, why);
    if (!strcmp(type, "text") || !strcmp(type, "paste")) {
        const char *text = bh_json_str(msg, "text");
        if (!text || strlen(text) > 60000)
            return bad(why, "%s.text must be a string of at most 60000 bytes", type);
        /* paste:false governs all outside text: `paste`, and `text` of more
         * than the one character a keystroke types (`key` messages never
         * carry more). Typing stays possible, one key at a time. */
        if (!pol->paste && !strcmp(type, "paste"))
            return bad(why, "pasting into this session is not allowed by its clipboard policy");
        if (!pol->paste && utf8_len(text) > 1)
            return bad(why, "text of more than one character is pasting, which this session's "
                            "clipboard policy does not allow (type it key by key)");
        snprintf(c->method, sizeof c->method, "Input.insertText");
        c->params = json_pack("{s:s}", "text", text);
        return 1;
    }
    if (!strcmp(type, "copy")) {
        if (!pol->copy)
            return bad(why, "copying out of this session is not allowed by its clipboard policy");
        c->special = BH_LIVE_COPY;
        return 1;
    }
    if (!strcmp(type, "resize")) {
        long w, h;
        if (integer(msg, "width", BH_VIEWPORT_MIN, BH_VIEWPORT_MAX_W, -1, &w, why) < 0 ||
            integer(msg, "height", BH_VIEWPORT_MIN, BH_VIEWPORT_MAX_H, -1, &h, why) < 0)
            return -1;
        if (w < 0 || h < 0)
            return bad(why, "resize needs width and height");
        snprintf(c->method, sizeof c->method, "Emulation.setDeviceMetricsOverride");
        c->params = json_pack("{s:i, s:i, s:i, s:b}", "width", (int)w, "height", (int)h,
                              "deviceScaleFactor", 1, "mobile", 0);
        c->special = BH_LIVE_RESIZE;
        return 1;
    }
    if (!strcmp(type, "navigate")) {
        const char *url = bh_json_str(msg, "url");
        if (bh_validate_url(url, why) < 0) {
            why->code = "invalid_input";
            return -1;
        }
        snprintf(c->method, sizeof c->method, "Page.navigate");
        c->params = json_pack("{s:s}", "url", url);
        return 1;
    }
    if (!strcmp(type, "back") || !strcmp(type, "forward")) {
        c->special = !strcmp(type, "back") ? BH_LIVE_BACK : BH_LIVE_FORWARD;
        return 1;
    }
    if (!strcmp(type, "reload")) {
        snprintf(c->method, sizeof c->method, "Page.reload");
        c->params = json_object();
        return 1;
    }
    if (!strcmp(type, "settings")) {
        long q, fps;
        if (integer(msg, "quality", 10, 100, 0, &q, why) < 0 ||
            integer(msg, "maxFps", 1, 60, 0, &fps, why) < 0)
            return -1;
        c->special = BH_LIVE_SETTINGS;
        c->params = json_pack("{s:i, s:i}", "quality", (int)q, "maxFps", (int)fps);
        return 1;
    }
    return bad(why, "unknown message type \"%.32s\"", type);
}
