/* health.c — see health.h. */
#include "daemon/health.h"

#include <string.h>

json_t *bh_health_readiness(bh_store_t *store, bh_sessions_t *m, int *ready)
{
    json_t *checks = json_object();
    *ready = 1;
    /* the store answers a query */
    struct bh_session_row row;
    memset(&row, 0, sizeof row);
    bh_err_t err = BH_ERR_INIT;
    int rc = bh_store_session_get(store, "readyz", &row, &err);
    bh_session_row_clear(&row);
    json_object_set_new(checks, "store", json_string(rc < 0 ? bh_err_msg(&err) : "ok"));
    if (rc < 0)
        *ready = 0;
    bh_err_clear(&err);
    bh_sessions_readiness(m, checks, ready);
    return checks;
}
