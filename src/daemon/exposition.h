/* exposition.h — /metrics: the daemon's counters (lib/metrics.h), its
 * sessions by state, each kind's metrics and each session's resource usage
 * as the backend reports it, in the Prometheus text format. */
#ifndef BH_EXPOSITION_H
#define BH_EXPOSITION_H

#include <stddef.h>

#include "session/session.h"

/* The text. Caller frees. */
char *bh_exposition(bh_sessions_t *m, size_t *len);

#endif
