/* err.h — the one error convention of bulkhead.
 *
 * A function that can fail takes `bh_err_t *err` as its last parameter and
 * returns a negative int (or NULL) after filling it. `status` is an errno
 * value (0 when none applies); `msg` is a heap string owned by the error.
 * Callers add context with bh_err_wrap(); only the outermost layer (main, the
 * HTTP API) turns an error into an exit code or an HTTP status. */
#ifndef BH_ERR_H
#define BH_ERR_H

typedef struct bh_err {
    int status;
    char *msg;
} bh_err_t;

#define BH_ERR_INIT {0, NULL}

/* Fill err (if not NULL) with a formatted message; if errnum != 0, ": strerror"
 * is appended. Always returns -1 so callers can `return bh_err_set(...)`. */
int bh_err_set(bh_err_t *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix err->msg with "context: ". Returns -1. */
int bh_err_wrap(bh_err_t *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Free the message and reset. Safe on a cleared error. */
void bh_err_clear(bh_err_t *err);

/* The message or "unknown error". Borrowed. */
const char *bh_err_msg(const bh_err_t *err);

#endif
