/* err.c — see err.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "lib/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bh_err_set(bh_err_t *err, int errnum, const char *fmt, ...)
{
    if (!err)
        return -1;
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (msg && errnum) {
        char *full = NULL;
        if (asprintf(&full, "%s: %s", msg, strerror(errnum)) >= 0) {
            free(msg);
            msg = full;
        }
    }
    free(err->msg);
    err->msg = msg;
    err->status = errnum;
    return -1;
}

int bh_err_wrap(bh_err_t *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char *ctx = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&ctx, fmt, ap) < 0)
        ctx = NULL;
    va_end(ap);
    if (!ctx)
        return -1;
    char *full = NULL;
    if (asprintf(&full, "%s: %s", ctx, err->msg ? err->msg : "unknown error") >= 0) {
        free(err->msg);
        err->msg = full;
    }
    free(ctx);
    return -1;
}

void bh_err_clear(bh_err_t *err)
{
    if (!err)
        return;
    free(err->msg);
    err->msg = NULL;
    err->status = 0;
}

const char *bh_err_msg(const bh_err_t *err)
{
    return err && err->msg ? err->msg : "unknown error";
}
