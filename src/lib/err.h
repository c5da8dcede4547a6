/* err.h — the one error convention of bulkhead.
 *
 * A function that can fail takes `bh_err_t *err` as its last parameter and
 * returns a negative int (or NULL) after filling it. `errnum` is the errno
 * value behind it (0 when none applies); `kind` says what sort of failure
 * it is, in the project's own terms; `msg` is a heap string owned by the
 * error. Callers add context with bh_err_wrap(), which keeps kind and
 * errnum. Only the outermost layers turn an error into something else: the
 * HTTP API maps the kind to a status and error code (api_reply.c), main an
 * exit code. Nothing below the API speaks HTTP. */
#ifndef BH_ERR_H
#define BH_ERR_H

enum bh_err_kind {
    BH_E_INTERNAL = 0, /* a failure of ours or of the host: the default */
    BH_E_INVALID,      /* bad input from the caller */
    BH_E_NOT_FOUND,    /* no such thing */
    BH_E_NOT_READY,    /* it exists but cannot do that yet (or any more) */
    BH_E_CONFLICT,     /* something is in the way */
    BH_E_BUSY,         /* no capacity now: try later */
    BH_E_SHUTDOWN,     /* the daemon is stopping */
    BH_E_TIMEOUT,      /* it took too long */
    BH_E_NO_SPACE,     /* out of room (disk, quota of a sandbox) */
    BH_E_FORBIDDEN,    /* refused whoever asks (a path out of a workspace) */
};

typedef struct bh_err {
    enum bh_err_kind kind;
    int errnum;
    char *msg;
} bh_err_t;

#define BH_ERR_INIT            \
    {                          \
        BH_E_INTERNAL, 0, NULL \
    }

/* Fill err (if not NULL) with a formatted message; if errnum != 0, ": strerror"
 * is appended. Always returns -1 so callers can `return bh_err_set(...)`. */
int bh_err_set(bh_err_t *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like bh_err_set() (no errno), with a kind. Returns -1. */
int bh_err_kind_set(bh_err_t *err, enum bh_err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The kind an errno value suggests (ENOSPC: NO_SPACE, EEXIST: CONFLICT,
 * ENOENT: NOT_FOUND, EINVAL: INVALID, ETIMEDOUT: TIMEOUT, EAGAIN: BUSY,
 * anything else: INTERNAL). */
enum bh_err_kind bh_err_kind_of_errno(int errnum);

/* Prefix err->msg with "context: ". Returns -1. */
int bh_err_wrap(bh_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Free the message and reset. Safe on a cleared error. */
void bh_err_clear(bh_err_t *err);

/* The message or "unknown error". Borrowed. */
const char *bh_err_msg(const bh_err_t *err);

#endif
