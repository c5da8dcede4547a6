/* api_int.h — internal to the api modules (api*.c); nothing else includes
 * it: the state the REST API's modules share. */
#ifndef BH_API_INT_H
#define BH_API_INT_H

#include <stdint.h>

#include "api/api.h"
#include "lib/util.h"

struct bh_api {
    const struct bh_config *cfg;
    bh_sessions_t *sessions;
    bh_store_t *store;
    bh_keyring_t *keys; /* the tokens in force, as hashes */
};

/* The time in whole seconds, the unit of session tokens' expiries. */
static inline int64_t now_s(void) { return bh_now_ms() / 1000; }

#endif
