/* local.h — the local OCI backend (backend/backend.h): every session a
 * container of runc or crun (--runtime) on this host, under the daemon's
 * own cgroup, with its own user and network namespaces (net/), its channel
 * a pair of FIFOs in <run>/sessions/<id>. */
#ifndef BH_BACKEND_LOCAL_H
#define BH_BACKEND_LOCAL_H

#include "backend/backend.h"
#include "config/config.h"
#include "lib/loop.h"

/* Prepare the host (image, bridge, firewall tables, run dirs) and return
 * the backend, or NULL and err. */
bh_backend_t *bh_backend_local_new(const struct bh_config *cfg, bh_loop_t *loop, bh_err_t *err);

#endif
