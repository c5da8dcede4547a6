/* test_live.c — translation of live-view viewer messages into CDP commands. */
#include <string.h>

#include "kinds/browser/live.h"
#include "t.h"

static struct bh_live_policy allow_all = {1, 1}, deny_all = {0, 0};

/* Translate text; returns the count and fills out (caller frees params). */
static int tr(const char *text, const struct bh_live_policy *pol, struct bh_live_cmd out[2],
              struct bh_invalid *why)
{
    json_t *m = json_loads(text, 0, NULL);
    int n = bh_live_translate(m, pol, out, why);
    json_decref(m);
    return n;
}

static const char *pstr(struct bh_live_cmd *c, const char *k)
{
    return json_string_value(json_object_get(c->params, k));
}

static long pint(struct bh_live_cmd *c, const char *k)
{
    return (long)json_integer_value(json_object_get(c->params, k));
}

static void clear(struct bh_live_cmd out[2])
{
    json_decref(out[0].params);
    json_decref(out[1].params);
}

int main(void)
{
    struct bh_live_cmd c[2];
    struct bh_invalid why;

    /* mouse */
    CHECK(tr("{\"type\":\"mouse\",\"action\":\"down\",\"x\":10,\"y\":20.5,\"button\":\"left\","
             "\"buttons\":1,\"clickCount\":2,\"modifiers\":8}",
             &allow_all, c, &why) == 1);
    CHECK_STR(c[0].method, "Input.dispatchMouseEvent");
    CHECK_STR(pstr(&c[0], "type"), "mousePressed");
    CHECK_STR(pstr(&c[0], "button"), "left");
    CHECK(pint(&c[0], "clickCount") == 2 && pint(&c[0], "modifiers") == 8);
    CHECK(json_real_value(json_object_get(c[0].params, "y")) == 20.5);
    clear(c);
    CHECK(tr("{\"type\":\"mouse\",\"action\":\"move\",\"x\":1,\"y\":2}", &allow_all, c, &why) == 1);
    CHECK_STR(pstr(&c[0], "type"), "mouseMoved");
    CHECK_STR(pstr(&c[0], "button"), "none");
    CHECK(pint(&c[0], "clickCount") == 0);
    clear(c);
    CHECK(tr("{\"type\":\"mouse\",\"action\":\"up\",\"x\":1,\"y\":2}", &allow_all, c, &why) == 1);
    CHECK_STR(pstr(&c[0], "type"), "mouseReleased");
    CHECK(pint(&c[0], "clickCount") == 1);
    clear(c);
    CHECK(tr("{\"type\":\"mouse\",\"action\":\"jump\",\"x\":1,\"y\":2}", &allow_all, c, &why) < 0);
    CHECK(tr("{\"type\":\"mouse\",\"action\":\"move\",\"x\":-1,\"y\":2}", &allow_all, c, &why) < 0);
    CHECK(tr("{\"type\":\"mouse\",\"action\":\"move\",\"y\":2}", &allow_all, c, &why) < 0);
    CHECK(tr("{\"type\":\"mouse\",\"action\":\"down\",\"x\":1,\"y\":2,\"button\":\"thumb\"}",
             &allow_all, c, &why) < 0);
    CHECK(tr("{\"type\":\"mouse\",\"action\":\"down\",\"x\":\"1\",\"y\":2}", &allow_all, c, &why) <
          0);

    /* wheel */
    CHECK(tr("{\"type\":\"wheel\",\"x\":5,\"y\":6,\"deltaY\":120}", &allow_all, c, &why) == 1);
    CHECK_STR(pstr(&c[0], "type"), "mouseWheel");
    CHECK(json_real_value(json_object_get(c[0].params, "deltaY")) == 120);
    clear(c);

    /* keys: printable with text, named with virtual key codes, shortcuts without text */
    CHECK(tr("{\"type\":\"key\",\"action\":\"down\",\"key\":\"a\",\"code\":\"KeyA\"}", &allow_all,
             c, &why) == 1);
    CHECK_STR(c[0].method, "Input.dispatchKeyEvent");
    CHECK_STR(pstr(&c[0], "type"), "keyDown");
    CHECK_STR(pstr(&c[0], "text"), "a");
    CHECK(pint(&c[0], "windowsVirtualKeyCode") == 'A');
    clear(c);
    CHECK(tr("{\"type\":\"key\",\"action\":\"down\",\"key\":\"é\"}", &allow_all, c, &why) == 1);
    CHECK_STR(pstr(&c[0], "text"), "é");
    clear(c);
    CHECK(tr("{\"type\":\"key\",\"action\":\"down\",\"key\":\"Enter\"}", &allow_all, c, &why) == 1);
    CHECK_STR(pstr(&c[0], "type"), "keyDown");
    CHECK_STR(pstr(&c[0], "text"), "\r");
    CHECK(pint(&c[0], "windowsVirtualKeyCode") == 13);
    clear(c);
    CHECK(tr("{\"type\":\"key\",\"action\":\"down\",\"key\":\"Backspace\"}", &allow_all, c, &why) ==
          1);
    CHECK_STR(pstr(&c[0], "type"), "rawKeyDown");
    CHECK(pint(&c[0], "windowsVirtualKeyCode") == 8);
    CHECK(!json_object_get(c[0].params, "text"));
    clear(c);
    CHECK(tr("{\"type\":\"key\",\"action\":\"down\",\"key\":\"ArrowLeft\"}", &allow_all, c, &why) ==
          1);
    CHECK(pint(&c[0], "windowsVirtualKeyCode") == 37);
    clear(c);
    CHECK(tr("{\"type\":\"key\",\"action\":\"down\",\"key\":\"a\",\"modifiers\":2}", &allow_all, c,
             &why) == 1);
    CHECK_STR(pstr(&c[0], "type"), "rawKeyDown"); /* Ctrl+A: a shortcut */
    CHECK(!json_object_get(c[0].params, "text"));
    CHECK(pint(&c[0], "modifiers") == 2);
    clear(c);
    CHECK(tr("{\"type\":\"key\",\"action\":\"up\",\"key\":\"Tab\"}", &allow_all, c, &why) == 1);
    CHECK_STR(pstr(&c[0], "type"), "keyUp");
    CHECK(pint(&c[0], "windowsVirtualKeyCode") == 9);
    clear(c);
    CHECK(tr("{\"type\":\"key\",\"action\":\"down\"}", &allow_all, c, &why) < 0);
    CHECK(tr("{\"type\":\"key\",\"action\":\"press\",\"key\":\"a\"}", &allow_all, c, &why) < 0);
    CHECK(tr("{\"type\":\"key\",\"action\":\"down\",\"key\":\"a\",\"modifiers\":99}", &allow_all, c,
             &why) < 0);

    /* text, paste, copy and the clipboard policy */
    CHECK(tr("{\"type\":\"text\",\"text\":\"hello\"}", &allow_all, c, &why) == 1);
    CHECK_STR(c[0].method, "Input.insertText");
    CHECK_STR(pstr(&c[0], "text"), "hello");
    clear(c);
    CHECK(tr("{\"type\":\"paste\",\"text\":\"x\"}", &allow_all, c, &why) == 1);
    clear(c);
    CHECK(tr("{\"type\":\"paste\",\"text\":\"x\"}", &deny_all, c, &why) < 0);
    CHECK(strstr(why.msg, "clipboard") != NULL);
    /* paste:false governs every way outside text gets in: `text` of more
     * than one character is refused too; one character (what a key types)
     * and key messages are typing, and pass */
    static struct bh_live_policy no_paste = {1, 0};
    CHECK(tr("{\"type\":\"paste\",\"text\":\"x\"}", &no_paste, c, &why) < 0);
    CHECK(tr("{\"type\":\"text\",\"text\":\"hello\"}", &no_paste, c, &why) < 0);
    CHECK(strstr(why.msg, "clipboard policy") != NULL);
    CHECK(tr("{\"type\":\"text\",\"text\":\"ab\"}", &no_paste, c, &why) < 0);
    CHECK(tr("{\"type\":\"text\",\"text\":\"e\\u0301\"}", &no_paste, c, &why) < 0);
    CHECK(tr("{\"type\":\"text\",\"text\":\"\\u65e5\\u672c\"}", &no_paste, c, &why) < 0);
    CHECK(tr("{\"type\":\"text\",\"text\":\"\\u65e5\"}", &no_paste, c, &why) == 1);
    CHECK_STR(pstr(&c[0], "text"), "\xe6\x97\xa5");
    clear(c);
    CHECK(tr("{\"type\":\"text\",\"text\":\"q\"}", &no_paste, c, &why) == 1);
    CHECK_STR(c[0].method, "Input.insertText");
    clear(c);
    CHECK(tr("{\"type\":\"key\",\"action\":\"down\",\"key\":\"q\"}", &no_paste, c, &why) == 1);
    CHECK_STR(pstr(&c[0], "text"), "q");
    clear(c);
    /* a key that is not one character types nothing */
    CHECK(tr("{\"type\":\"key\",\"action\":\"down\",\"key\":\"hello\"}", &no_paste, c, &why) == 1);
    CHECK_STR(pstr(&c[0], "type"), "rawKeyDown");
    CHECK(!json_object_get(c[0].params, "text"));
    clear(c);
    CHECK(tr("{\"type\":\"text\",\"text\":\"hello\"}", &allow_all, c, &why) == 1);
    clear(c);
    CHECK(tr("{\"type\":\"copy\"}", &allow_all, c, &why) == 1 && c[0].special == BH_LIVE_COPY);
    CHECK(tr("{\"type\":\"copy\"}", &deny_all, c, &why) < 0);

    /* resize, navigation, settings */
    CHECK(tr("{\"type\":\"resize\",\"width\":1024,\"height\":768}", &allow_all, c, &why) == 1);
    CHECK(c[0].special == BH_LIVE_RESIZE);
    CHECK_STR(c[0].method, "Emulation.setDeviceMetricsOverride");
    CHECK(pint(&c[0], "width") == 1024 && pint(&c[0], "height") == 768);
    clear(c);
    CHECK(tr("{\"type\":\"resize\",\"width\":10,\"height\":768}", &allow_all, c, &why) < 0);
    CHECK(tr("{\"type\":\"navigate\",\"url\":\"http://198.51.100.1/\"}", &allow_all, c, &why) == 1);
    CHECK_STR(c[0].method, "Page.navigate");
    clear(c);
    CHECK(tr("{\"type\":\"navigate\",\"url\":\"file:///etc/passwd\"}", &allow_all, c, &why) < 0);
    CHECK(tr("{\"type\":\"navigate\",\"url\":\"javascript:alert(1)\"}", &allow_all, c, &why) < 0);
    CHECK(tr("{\"type\":\"back\"}", &allow_all, c, &why) == 1 && c[0].special == BH_LIVE_BACK);
    CHECK(tr("{\"type\":\"forward\"}", &allow_all, c, &why) == 1 &&
          c[0].special == BH_LIVE_FORWARD);
    CHECK(tr("{\"type\":\"reload\"}", &allow_all, c, &why) == 1);
    CHECK_STR(c[0].method, "Page.reload");
    clear(c);
    CHECK(tr("{\"type\":\"settings\",\"quality\":50,\"maxFps\":10}", &allow_all, c, &why) == 1);
    CHECK(c[0].special == BH_LIVE_SETTINGS);
    clear(c);
    CHECK(tr("{\"type\":\"settings\",\"maxFps\":100}", &allow_all, c, &why) < 0);

    /* not a message */
    CHECK(tr("{\"type\":\"eval\",\"js\":\"1\"}", &allow_all, c, &why) < 0);
    CHECK(tr("[1,2]", &allow_all, c, &why) < 0);
    CHECK(bh_live_translate(NULL, &allow_all, c, &why) < 0);
    return T_DONE();
}
