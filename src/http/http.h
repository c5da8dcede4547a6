/* http.h — the HTTP and WebSocket front of the daemon, served on the event
 * loop (loop.h). With loop.c, the only module that includes the
 * HTTP/WebSocket library's header. A request is handed to the
 * handler once its body is complete; the handler answers with bh_req_reply()
 * exactly once, now or later (requests may be parked while a session starts).
 * If the client goes away first, the reply is simply dropped.
 *
 * Streams (HTTP/1.1): a request whose body the handler asked to stream
 * (handlers.streams) is handed over at once and its body read piece by piece
 * (bh_req_read_body), with flow control; a reply may be streamed too
 * (bh_req_stream_start .. bh_req_stream_end), with a known length or chunked.
 * A connection carries one request and closes after its reply, except after
 * a streamed reply that ended cleanly with nothing pipelined behind its
 * request (see bh_req_stream_end): then it is kept alive for the client's
 * next request. Memory stays bounded by what the handler queues: while a
 * streamed body is paused or not yet read, the layer holds at most the piece
 * it had already read, and does not read the connection. */
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
    /* May be NULL. Asked once a request's headers are in, for a POST or PUT
     * with a body (Content-Length > 0): 1 streams its body — handlers.request
     * is called at once, before the body, with no size cap of max_body /
     * max_put_body; bh_req_body() then gives "" (length 0) and the handler
     * reads the body with bh_req_read_body(). Anything else: as before (the
     * body is gathered, capped, and the request handed over complete). Only
     * the request's line and headers may be looked at here. */
    int (*streams)(void *ctx, bh_req_t *req);
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
/* The gathered body ("" and length 0 for a streamed body). */
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

/* ---- streamed request bodies (handlers.streams said 1) ---- */
struct bh_body_reader {
    /* A piece of the body (borrowed for the call). Return -1 to stop
     * reading: no callback of this reader comes after that, the handler
     * replies, the rest of the body is dropped and the connection closes
     * after the reply. The handler may pause (bh_req_body_pause) or reply
     * from here. A reply (bh_req_reply or bh_req_stream_start) ends the
     * reading too, at once: the library writes nothing on a connection it
     * does not read, so a reply never waits behind a held body; reply
     * after end() to keep the whole body. */
    int (*data)(void *arg, const char *data, size_t len);
    /* The whole body was read (data is not called again). Comes only while
     * not paused. */
    void (*end)(void *arg);
};
/* Start reading r's streamed body: once, from handlers.request or later. h
 * is copied. The pieces come on the loop, never from inside this call.
 * body_timeout bounds each stretch of the body that the handler does not
 * hold: it runs from this call, stops while paused and starts afresh on
 * resume (the connection is then closed and bh_req_on_gone told); the gap
 * between two pieces is bounded by body_timeout as well. Before this call
 * the body is held like a paused one. A client that goes away is told
 * through bh_req_on_gone (while the body is held, too: the layer looks at
 * the connection every 200 ms); no reader callback comes after that. Not
 * for requests that do not stream (no-op). */
void bh_req_read_body(bh_req_t *r, const struct bh_body_reader *h, void *arg);
/* 1 if r's body streams (handlers.streams said 1): read it with
 * bh_req_read_body; 0 if it was gathered (bh_req_body). */
int bh_req_streamed(const bh_req_t *r);
/* Stop (1) or go on (0) reading r's body: flow control while the consumer
 * is behind. No data callback comes while paused, and the connection is
 * not read (the client's sends then block in its own TCP window), so at
 * most one piece the layer already read is held. A paused body is not a
 * slow client: neither the body_timeout nor the library's per-piece timeout
 * runs while the handler holds it paused. Safe from inside data(). */
void bh_req_body_pause(bh_req_t *r, int paused);

/* ---- streamed replies ---- */
/* Start r's reply in place of bh_req_reply: status, content type (NULL:
 * application/json), length in bytes (-1: unknown -> chunked transfer
 * encoding), extra headers as in bh_req_reply (copied). drained(arg) (may be
 * NULL) is called on the loop each time everything written so far, the
 * headers included, was handed to the kernel: write more from there. The
 * client going away is told through bh_req_on_gone as for any request; the
 * handler must then still call bh_req_stream_end. A client that closes its
 * side, or sends anything, before the reply's last bytes is cut off (the
 * library does not read the connection during the reply: the layer looks at
 * it every 200 ms). A streamed body that was not read to its end (reader
 * not done) is dropped from here on and the connection closes after the
 * reply. -1 (nothing started; reply as usual) if the client is gone, r was
 * answered or started already, or is an upgrade. A HEAD request gets the
 * headers and no body. */
int bh_req_stream_start(bh_req_t *r, int status, const char *content_type, long long length,
                        const char *const *extra_headers, void (*drained)(void *arg), void *arg);
/* Queue len bytes of the reply (copied). -1 (nothing queued) if the client
 * is gone, the stream was not started or was ended, or the bytes would go
 * past the length given to bh_req_stream_start. */
int bh_req_stream_write(bh_req_t *r, const void *data, size_t len);
/* Bytes queued and not yet handed to the library (0 when none or gone). */
size_t bh_req_stream_queued(const bh_req_t *r);
/* The reply is complete once the queue is written (chunked: then the last
 * chunk); r must not be used after this. If the client went away, this just
 * frees r. The connection is then kept alive for the next request if the
 * client allows it (HTTP/1.1 without "Connection: close"), the request's
 * body was read to its end, a given length was written in full, and the
 * client sent nothing before it had the reply's last bytes (pipelining: the
 * library's own handling of input buffered behind a request reads freed
 * memory); else it closes once the reply is out (a short reply of a given
 * length is thus seen as truncated). Call this as soon as the last bytes
 * are queued (a client's next request that arrives before it waits unread).
 * bh_req_reply on a started stream acts as this; this without
 * bh_req_stream_start answers 500. */
void bh_req_stream_end(bh_req_t *r);

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
