/* health.h — /readyz: whether the daemon can take sessions now. */
#ifndef BH_HEALTH_H
#define BH_HEALTH_H

#include "lib/json.h"
#include "session/session.h"
#include "store/store.h"

/* {"store","runtime","network",...,"accepting"}: each "ok" or the problem
 * (the store answers a query; the backend's own checks; not shutting
 * down); *ready is 1 when all are ok. Cheap: no process is started. Caller
 * owns the result. */
json_t *bh_health_readiness(bh_store_t *store, bh_sessions_t *m, int *ready);

#endif
