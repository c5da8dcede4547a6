/* create_opts.h — a create body (POST /api/v1/sessions) checked and
 * parsed into a session's options, as pure functions: the common fields
 * here (type, idleTimeout, ttl, network), the kind's own by its validate
 * (kinds/kind.h). Recovery reads a session's saved settings back the same
 * way. Each failure has a stable code and a message that names the field
 * (lib/check.h), for the API's 400 replies. */
#ifndef BH_CREATE_OPTS_H
#define BH_CREATE_OPTS_H

#include <stddef.h>

#include "config/config.h"
#include "kinds/kind.h"
#include "lib/check.h"
#include "net/net.h"

struct bh_create_opts {
    const struct bh_kind *kind; /* the body's "type" (default: the first kind) */
    void *kind_opts;            /* the kind's part of the body (kind->validate) */
    int idle_timeout;           /* seconds */
    int ttl;                    /* seconds */
    enum bh_net_mode net_mode;
    struct bh_net_rule *allow; /* heap, BH_NET_ALLOWLIST */
    int nallow;
    char *proxy;                   /* heap or NULL: upstream proxy URL for the browser */
    struct bh_net_rule proxy_rule; /* with proxy: the proxy's address and port as a rule */
    char owner[40];                /* id of the token creating it: set by the API, not the body */
};

#define BH_ALLOW_MAX 64

/* Free what bh_validate_create allocated in opts (the kind's options too). */
void bh_create_opts_clear(struct bh_create_opts *o);
/* The network settings of opts as the JSON kept with the session. */
char *bh_create_opts_network_json(const struct bh_create_opts *o);

/* Parse and check a create body against the config's defaults and maximums:
 * the common fields here, the kind's own by its validate (kinds/kind.h).
 * 0 and *out filled (bh_create_opts_clear frees it), or -1 and *why. */
int bh_validate_create(const char *body, size_t len, const struct bh_config *cfg,
                       struct bh_create_opts *out, struct bh_invalid *why);

/* The network settings of validated opts as a caller who is not the admin
 * may ask for them: every allow-list entry and the proxy's address (with its
 * port) must lie in public address space or within what the operator's
 * --egress-allow (cfg->egress_allow) opens anyway (bh_net_rule_public).
 * 0, or -1 with why->code "forbidden_network" and a message naming the
 * entry and the range it overlaps (the API answers 403). */
int bh_validate_network_public(const struct bh_create_opts *o, const struct bh_config *cfg,
                               struct bh_invalid *why);

#endif
