/* net_lease.h — internal to the network modules; nothing else includes it.
 * Address leases: which session holds which address of the session subnet,
 * shared by every process on the host and surviving the daemon (files in
 * /run/bulkhead/net/leases), so that two setups never get the same address
 * and recovery finds what a crash left. */
#ifndef BH_NET_LEASE_H
#define BH_NET_LEASE_H

#include <stdint.h>

#include "lib/err.h"
#include "net/net_names.h"

/* Take the lowest free address from .2 up (the bridge has .1) for id;
 * EADDRNOTAVAIL when none is free. */
int bh_net_lease_take(const struct subnet *sn, const char *id, uint32_t *out, bh_err_t *err);
/* Free the lease on address a (host order), whoever holds it. */
void bh_net_lease_drop(uint32_t a);
/* Call fn(dir fd, address, owner id) for every lease; fn returns 0 to go
 * on, -errno to stop with an error. */
int bh_net_lease_each(int (*fn)(int dfd, const char *addr, const char *owner, void *data),
                      void *data, bh_err_t *err);
/* Free every lease that id holds, each address cleaned of its conntrack
 * entries first (a failure there is logged, and the lease freed all the
 * same). Idempotent. */
int bh_net_lease_free(const char *id, bh_err_t *err);

#endif
