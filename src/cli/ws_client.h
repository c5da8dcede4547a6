/* ws_client.h — a small WebSocket client for the CLI (`bulkhead shell`,
 * `bulkhead exec --stream`): one connection to a daemon's WebSocket route
 * and the local descriptors it relays (standard input, a signal pipe), all
 * on one poll loop that the caller runs to the connection's end. It owns
 * the WebSocket library on the client side (libwebsockets; Debian's libcurl
 * has no WebSocket support): no other CLI module includes its header. Not
 * for the daemon; single-threaded. */
#ifndef BH_WS_CLIENT_H
#define BH_WS_CLIENT_H

#include <stddef.h>

#include "cli/client.h"
#include "lib/err.h"

typedef struct bh_ws_client bh_ws_client_t;

/* A whole message from the server (binary or text; data is the caller's to
 * read during the call only). */
typedef void (*bh_ws_msg_cb)(void *arg, const unsigned char *data, size_t len, int binary);
/* fd (watched with bh_ws_client_watch) is readable or hung up: read it.
 * Return -1 to stop watching it (the fd is then closed), 0 to go on. */
typedef int (*bh_ws_fd_cb)(void *arg, int fd);

/* Connect to c->url's server, ws:// for http:// (wss:// for https://), on
 * path (starting with '/', escaped), with c->token as an Authorization:
 * Bearer header (never in the URL). Blocks until the handshake is done.
 * Redirects are not followed. Messages go to cb(arg). NULL with err on
 * failure; err->errnum is ECONNREFUSED when the server could not be
 * reached, and err says the HTTP status when the server refused the
 * upgrade. */
bh_ws_client_t *bh_ws_client_open(const struct bh_client *c, const char *path, bh_ws_msg_cb cb,
                                  void *arg, bh_err_t *err);

/* Watch fd for reading on the same loop (it then belongs to the client,
 * which closes it when the watch ends). While more than 1 MiB waits to be
 * sent, watched fds are not reported (so a fast producer is held back).
 * -1 on failure (fd closed). */
int bh_ws_client_watch(bh_ws_client_t *ws, int fd, bh_ws_fd_cb cb, void *arg);

/* Queue one message (copied); sent in order. -1 if the connection is
 * closing or closed. */
int bh_ws_client_send(bh_ws_client_t *ws, const void *data, size_t len, int binary);

/* Close the connection with code and reason once the queue is sent. */
void bh_ws_client_close(bh_ws_client_t *ws, int code, const char *reason);

/* Run the loop until the connection is closed. Returns the close code the
 * server sent (1000, …; 1005 when it sent none, 1006 when the connection
 * dropped without a close), -1 if the loop failed. */
int bh_ws_client_run(bh_ws_client_t *ws);

/* The server's close reason (printable, "" when none). Borrowed. */
const char *bh_ws_client_close_reason(const bh_ws_client_t *ws);

/* Close everything (connection, watched fds) and free. NULL is a no-op. */
void bh_ws_client_free(bh_ws_client_t *ws);

#endif
