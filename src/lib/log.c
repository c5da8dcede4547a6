/* log.c — see log.h. Thread-safe (one write per line). */
#include "lib/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/json.h"
#include "lib/util.h"

static enum bh_log_level min_level = BH_LOG_INFO;
static const char *names[] = {"debug", "info", "warn", "error"};

void bh_log_set_level(enum bh_log_level lvl) { min_level = lvl; }

void bh_log(enum bh_log_level lvl, const char *session, const char *fmt, ...)
{
    if (lvl < min_level)
        return;
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    char *ts = bh_time_iso(bh_now_ms());
    json_t *o = json_pack("{s:s, s:s}", "ts", ts, "level", names[lvl]);
    if (session)
        json_object_set_new(o, "session", json_string(session));
    json_object_set_new(o, "msg", json_string(msg ? msg : "?"));
    char *line = bh_json_dump(o);
    char *out = bh_xasprintf("%s\n", line);
    ssize_t r = write(2, out, strlen(out));
    (void)r;
    free(out);
    free(line);
    json_decref(o);
    free(ts);
    free(msg);
}
