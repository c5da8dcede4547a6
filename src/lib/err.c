/* err.c — see err.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "lib/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fill err with a message (": strerror" appended for errnum), errnum and
 * kind. Returns -1. */
static int fill(bh_err_t *err, enum bh_err_kind kind, int errnum, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static int fill(bh_err_t *err, enum bh_err_kind kind, int errnum, const char *fmt, va_list ap)
{
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    if (msg && errnum) {
        char *full = NULL;
        if (asprintf(&full, "%s: %s", msg, strerror(errnum)) >= 0) {
            free(msg);
            msg = full;
        }
    }
    free(err->msg);
    err->msg = msg;
    err->errnum = errnum;
    err->kind = kind;
    return -1;
}

int bh_err_set(bh_err_t *err, int errnum, const char *fmt, ...)
{
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    fill(err, bh_err_kind_of_errno(errnum), errnum, fmt, ap);
    va_end(ap);
    return -1;
}

int bh_err_kind_set(bh_err_t *err, enum bh_err_kind kind, const char *fmt, ...)
{
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    fill(err, kind, 0, fmt, ap);
    va_end(ap);
    return -1;
}

enum bh_err_kind bh_err_kind_of_errno(int errnum)
{
    switch (errnum) {
    case ENOSPC:
    case EDQUOT:
        return BH_E_NO_SPACE;
    case EEXIST:
    case ELOOP:
    case ENOTDIR:
    case EISDIR:
        return BH_E_CONFLICT;
    case ENOENT:
        return BH_E_NOT_FOUND;
    case EINVAL:
        return BH_E_INVALID;
    case ETIMEDOUT:
        return BH_E_TIMEOUT;
    case EAGAIN:
        return BH_E_BUSY;
    default:
        return BH_E_INTERNAL;
    }
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
    err->errnum = 0;
    err->kind = BH_E_INTERNAL;
}

const char *bh_err_msg(const bh_err_t *err) { return err && err->msg ? err->msg : "unknown error"; }
