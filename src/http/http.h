/* http.h — the HTTP and WebSocket front of the daemon, served on the event
 * loop (loop.h). With loop.c, the only module that includes the
 * HTTP/WebSocket library's header. A request is handed to the
 * handler once its body is complete; the handler answers with bh_req_reply()
 * exactly once, now or later (requests may be parked while a session starts).
 * If the client goes away first, the reply is simply dropped. */
#ifndef BH_HTTP_H
#define BH_HTTP_H

#include <stddef.h>

#include "lib/err.h"
#include "lib/loop.h"

typedef struct bh_http bh_http_t;
typedef struct bh_req bh_req_t;
typedef struct bh_ws bh_ws_t;

struct bh_ws_handlers {
    /* A whole text or binary message. Return -1 to close the connection. */
    int (*message)(void *arg, bh_ws_t *ws, const char *data, size_t len, int binary);
    /* The connection is gone; ws must not be used after this returns. */
    void (*closed)(void *arg, bh_ws_t *ws);
    /* Everything queued was handed to the kernel (flow control); may be NULL. */
    void (*drained)(void *arg, bh_ws_t *ws);
};
struct bh_http_handlers {
    void (*request)(void *ctx, bh_req_t *req);
    /* A WebSocket upgrade request. Accept with bh_ws_accept() inside this
     * callback, or refuse with bh_req_reply() (then no upgrade happens). */
    void (*upgrade)(void *ctx, bh_req_t *req);
};

struct bh_http_config {
    const char *host; /* listen address, e.g. "127.0.0.1" */
    int port;
    size_t max_body;     /* larger bodies get 413 without reaching the handler */
    size_t max_put_body; /* the same for PUT (file uploads); 0: max_body */
    size_t max_ws_msg;   /* larger WebSocket messages close the connection (1009) */
    /* Slow clients: a request's headers must arrive within header_timeout
     * seconds of the connection (or of its previous reply), its body within
     * body_timeout seconds of its headers; else the connection is closed.
     * 0: 10 and 30. The pause between two pieces of a body is bounded by
     * the loop's io_timeout too: give the loop the same value. */
    int header_timeout;
    int body_timeout;
    /* Client connections (HTTP and WebSocket) at once, in all and from one
     * address; a connection over either cap is answered 503 and closed at
     * once. max_conns 0: no cap of its own; max_conns_per_addr 0: none. */
    int max_conns;
    int max_conns_per_addr;
};

/* Listen as cfg says, on loop (which runs it: bh_loop_run). */
bh_http_t *bh_http_new(bh_loop_t *loop, const struct bh_http_config *cfg,
                       const struct bh_http_handlers *h, void *ctx, bh_err_t *err);
/* The loop it was created on. */
bh_loop_t *bh_http_loop(bh_http_t *http);
/* Replace the handlers' context (before the loop runs). */
void bh_http_set_context(bh_http_t *http, void *ctx);
/* No handler is called after this; requests and connections that come
 * after it are refused. The listening socket and the connections close
 * when the library lets them go, in bh_loop_free at the latest (which may
 * come before or after this). */
void bh_http_free(bh_http_t *http);
/* The port actually bound (for port 0). */
int bh_http_port(const bh_http_t *http);

const char *bh_req_method(const bh_req_t *r); /* "GET", "POST", "DELETE", ... */
const char *bh_req_path(const bh_req_t *r);   /* without the query */
/* Query parameter value (decoded) or NULL. Borrowed until reply. */
const char *bh_req_query(bh_req_t *r, const char *name);
/* Header value or NULL, e.g. "authorization". Borrowed until reply. */
const char *bh_req_header(bh_req_t *r, const char *lname);
const char *bh_req_body(const bh_req_t *r, size_t *len);
/* Whether the client is still connected. */
int bh_req_alive(const bh_req_t *r);
/* Call cb(arg) once if the client goes away after the handler got r and
 * before its reply (the handler must still reply; the reply is dropped).
 * cb may reply to r, and must not use r after that. */
void bh_req_on_gone(bh_req_t *r, void (*cb)(void *arg), void *arg);

/* Answer (copies body). extra_headers: NULL or NULL-terminated name/value
 * pairs. After this the request must not be used. */
void bh_req_reply(bh_req_t *r, int status, const char *content_type, const void *body, size_t len,
                  const char *const *extra_headers);

/* Accept a WebSocket upgrade (only inside handlers.upgrade). */
bh_ws_t *bh_ws_accept(bh_req_t *r, const struct bh_ws_handlers *h, void *arg);
/* Queue a message (copied); -1 if the connection is closing. */
int bh_ws_send(bh_ws_t *ws, const char *data, size_t len, int binary);
/* Bytes queued and not yet written. */
size_t bh_ws_queued(const bh_ws_t *ws);
/* Close with a status code and reason once the queue is written (or now
 * if `now`); handlers.closed follows. */
void bh_ws_close(bh_ws_t *ws, int code, const char *reason, int now);
/* Its owner goes away: no handler is called for ws after this (the
 * connection itself still closes or lives on as the library decides). */
void bh_ws_detach(bh_ws_t *ws);

#endif
