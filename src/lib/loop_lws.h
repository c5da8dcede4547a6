/* loop_lws.h — the loop's HTTP/WebSocket library context, for the http
 * modules only (src/http), which serve their listening vhost on it.
 * loop.c and the files in src/http are the only places of the daemon that include
 * libwebsockets.h (the CLI's WebSocket client, cli/ws_client.c, has its own
 * context); nothing else includes this header. */
#ifndef BH_LOOP_LWS_H
#define BH_LOOP_LWS_H

#include <libwebsockets.h>

#include "lib/loop.h"

/* The library context the loop polls: a vhost created on it (with
 * lws_create_vhost) is served by bh_loop_run/bh_loop_step and destroyed by
 * bh_loop_free at the latest. The context was created with
 * LWS_SERVER_OPTION_VALIDATE_UTF8, server string "bulkhead" and
 * timeout_secs = the loop's io_timeout. */
struct lws_context *bh_loop_lws_context(bh_loop_t *loop);

#endif
