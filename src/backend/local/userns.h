/* userns.h — host uid/gid ranges of the sessions' user namespaces: which
 * range each session holds (a lease, shared by every bulkhead daemon on the
 * host and surviving a daemon restart), and the check that the configured
 * ranges belong to no host account.
 *
 * A range is BH_USERNS_SIZE (65536) ids wide: container uid and gid 0..65535
 * of the session map to host ids base..base+65535. Range i of a config is
 * first + i * 65536, i < count. Thread-safe; any thread. */
#ifndef BH_USERNS_H
#define BH_USERNS_H

#include <stdint.h>

#include "config/config.h" /* BH_USERNS_*_DEFAULT */
#include "lib/err.h"

#define BH_USERNS_SIZE 65536u

struct bh_userns_config {
    uint32_t first;        /* host id where range 0 starts; 0 = no user namespaces */
    uint32_t count;        /* number of ranges */
    const char *lease_dir; /* NULL = /run/bulkhead/userns (tests pass another) */
};

/* Whether the ranges are usable: first + count * 65536 - 1 < 2^32 - 1, and
 * no id of /etc/passwd, /etc/group, /etc/subuid or /etc/subgid (files that
 * are missing count as empty) falls in [first, first + count * 65536).
 * root_dir NULL = "/" (tests pass another root). EINVAL/EEXIST with err
 * naming the clash. */
int bh_userns_check(const struct bh_userns_config *cfg, const char *root_dir, bh_err_t *err);

/* Lease the lowest free range for session id ([A-Za-z0-9_.-]{1,64}); *base
 * is its first host id. Two concurrent calls (threads or processes) never
 * get the same range. EAGAIN when all are taken. An id may hold only one
 * range: a second call for it fails with EEXIST. */
int bh_userns_lease(const struct bh_userns_config *cfg, const char *id, uint32_t *base,
                    bh_err_t *err);

/* Take the range at base for id again (adoption after a restart): success
 * if id already holds it, or if it is free (then it is leased to id).
 * EBUSY if another session holds it, EINVAL if base is not a range of cfg. */
int bh_userns_claim(const struct bh_userns_config *cfg, const char *id, uint32_t base,
                    bh_err_t *err);

/* Free every range that id holds. Idempotent. */
int bh_userns_release(const struct bh_userns_config *cfg, const char *id, bh_err_t *err);

/* Session ids holding a range (for crash recovery). Returns the count;
 * *ids is NULL-terminated, caller frees each and the array. */
int bh_userns_list(const struct bh_userns_config *cfg, char ***ids, bh_err_t *err);

#endif
