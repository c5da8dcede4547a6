/* config.c — see config.h. */
#include "config/config.h"

#include <stdlib.h>
#include <unistd.h>

#include "lib/util.h"

void bh_config_defaults(struct bh_config *c)
{
    c->listen_host = bh_xstrdup("127.0.0.1");
    c->port = 8420;
    c->public_url = NULL;
    c->state_dir = bh_xstrdup("/var/lib/bulkhead");
    c->run_dir = bh_xstrdup("/run/bulkhead");
    c->runtime = BH_RUNTIME_RUNC;
    c->bridge = bh_xstrdup("bh0");
    c->subnet = bh_xstrdup("10.213.0.0/16");
    c->dns = NULL;
    c->token = NULL;
    c->url_token_ttl = 3600;
    c->chromium = bh_xstrdup("/usr/lib/chromium/chromium-headless-shell");
    c->max_sessions = 50;
    c->header_timeout = 10;
    c->body_timeout = 30;
    c->max_conns = 0;
    c->max_conns_per_addr = 64;
    c->keep_if_client_gone = 0;
    c->queue_max = 100;
    c->queue_timeout_ms = 30000;
    c->workers = 8;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    c->max_starting = ncpu > 2 ? (int)ncpu : 2;
    c->memory_bytes = 1ull << 30;
    c->pids_max = 512;
    c->cpus = 1.0;
    c->tmp_bytes = 256ull << 20;
    c->shm_bytes = 256ull << 20;
    c->viewport_w = 1280;
    c->viewport_h = 720;
    c->idle_timeout = 300;
    c->ttl = 1800;
    c->max_timeout = 86400;
    c->start_timeout_ms = 30000;
    c->page_load_timeout_ms = 10000;
    c->adopt_on_restart = 1;
    c->leave_on_shutdown = 0;
    c->userns_first = BH_USERNS_FIRST_DEFAULT;
    c->userns_ranges = BH_USERNS_COUNT_DEFAULT;
    c->deny_nested_userns = 0;
}

void bh_config_free(struct bh_config *c)
{
    free(c->listen_host);
    free(c->public_url);
    free(c->state_dir);
    free(c->run_dir);
    free(c->bridge);
    free(c->subnet);
    free(c->dns);
    for (int i = 0; i < c->nallowed_origins; i++)
        free(c->allowed_origins[i]);
    free(c->allowed_origins);
    for (int i = 0; i < c->nallowed_hosts; i++)
        free(c->allowed_hosts[i]);
    free(c->allowed_hosts);
    free(c->egress_allow);
    free(c->egress_deny);
    free(c->token);
    free(c->chromium);
    free(c->labs_dir);
}
