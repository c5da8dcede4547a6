/* lease.h — leases of named resources (an address, a uid range) to
 * sessions, shared by every process on the host: <dir>/<name> is a symlink
 * whose target is the owning session id. symlink() is atomic and fails when
 * the name exists, so it is the lock between threads and processes, a crash
 * never leaves it half-written, and it survives the daemon (in /run: not a
 * reboot, which no session survives either) so recovery can free it. Used
 * by net_lease.c (addresses) and userns.c (uid ranges). Any thread. */
#ifndef BH_LEASE_H
#define BH_LEASE_H

#include "lib/err.h"

/* Lease dir/name to id: 0 taken, 1 already taken (by anyone), else -1 with
 * err "<what> <dir>/<name>: <strerror>". dir must exist. */
int bh_lease_try(const char *dir, const char *name, const char *id, const char *what,
                 bh_err_t *err);
/* Free the lease dir/name, whoever holds it; a missing one is no error. */
void bh_lease_drop(const char *dir, const char *name);

/* Called with dir's fd, a lease's name and its owner id; returns 0 to go
 * on, -errno to stop. */
typedef int (*bh_lease_cb)(int dfd, const char *name, const char *owner, void *data);
/* Call fn for every lease in dir (names starting with '.' are not leases; a
 * missing dir holds none). When fn stops with -errno: -1 with err "<what>:
 * <strerror>". */
int bh_lease_each(const char *dir, bh_lease_cb fn, void *data, const char *what, bh_err_t *err);

#endif
