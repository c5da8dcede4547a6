/* conntrack.h — internal to the network modules; nothing else includes it.
 * Cleaning an address out of the host's conntrack table (over ctnetlink),
 * so that the next session given a freed address inherits no NAT mapping or
 * connection state of the last. */
#ifndef BH_CONNTRACK_H
#define BH_CONNTRACK_H

#include <stdint.h>

#include "lib/err.h"

/* Delete every entry of the host's conntrack table that names `addr`
 * (host order). Returns the number deleted, or -1. An entry that expires
 * meanwhile is not an error. */
int bh_conntrack_flush(uint32_t addr, bh_err_t *err);

#endif
