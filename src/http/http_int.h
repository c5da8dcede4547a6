/* http_int.h — internal to the http modules (http.c, http_req.c, http_ws.c,
 * http_front.c); nothing else includes it. The state they share, on
 * libwebsockets' types, and the calls that cross between them. http.c (the
 * listening vhost on the loop's library context, and its callback) calls
 * into the other three;
 * they never call it, nor each other, except through the handlers they were
 * given. */
#ifndef BH_HTTP_INT_H
#define BH_HTTP_INT_H

#include <libwebsockets.h>
#include <stddef.h>
#include <time.h>

#include "http/http.h"
#include "lib/loop_lws.h"

#define MAX_QUERY 16
#define CONN_BUCKETS 4096

struct conn; /* an accepted client connection (http_front.c) */
struct peer; /* connections from one client address (http_front.c) */

/* A refusal kind, counted and logged at most once per LOG_EVERY_S. */
struct ratelog {
    time_t last;
    unsigned long count; /* since the last line */
};

struct bh_http {
    bh_loop_t *loop;
    struct lws_vhost *vh; /* NULL once the library destroyed it */
    int closing;          /* bh_http_free was called */
    struct bh_http_handlers h;
    void *hctx;
    size_t max_body;
    size_t max_put_body;
    size_t max_ws_msg;
    int port;
    int body_timeout;
    /* connections */
    int max_conns, max_conns_per_addr;
    int nconns;
    struct conn *conns[CONN_BUCKETS];
    struct peer *peers[CONN_BUCKETS];
    struct peer *accepting; /* between the accept filter and the new wsi */
    int listen_fd;
    int reserve_fd; /* spent to refuse connections at EMFILE */
    struct ratelog log_full, log_addr, log_emfile;
};

struct bh_req {
    struct bh_http *http;
    struct lws *wsi; /* NULL once the connection is gone */
    char method[8];
    char *path;
    char *query[MAX_QUERY]; /* "name=value", decoded */
    int nquery;
    char *auth, *host, *origin, *ctype;
    char *body;
    size_t body_len, body_cap, body_expected, body_max;
    int dispatched; /* the handler owns the reply */
    int replied;
    /* response */
    int status;
    char *rtype;
    char *rbody;
    size_t rlen, roff;
    char **rhdrs;
    int headers_sent;
    struct bh_ws *ws; /* set by bh_ws_accept during an upgrade */
    int upgrading;
    lws_sorted_usec_list_t body_sul; /* the body's deadline */
    void (*gone_cb)(void *);
    void *gone_arg;
    /* streamed body (handlers.streams said 1) */
    int streamed;
    int reading;    /* bh_req_read_body was called */
    int paused;     /* bh_req_body_pause(r, 1) */
    int body_ended; /* the library saw the whole body */
    int body_told;  /* end() was called, or reading stopped: no more callbacks */
    struct bh_body_reader reader;
    void *reader_arg;
    char *held; /* a piece read while not reading or paused */
    size_t held_len, held_cap;
    lws_sorted_usec_list_t flow_sul; /* applies the body's flow state, on the loop */
    /* streamed reply (bh_req_stream_start) */
    int streaming;
    int chunked;
    long long slength;  /* -1: chunked */
    long long swritten; /* bytes queued so far */
    struct sbuf *shead, **stail;
    size_t squeued;
    void (*drained_cb)(void *);
    void *drained_arg;
    int drain_due;                    /* written since drained_cb was last called */
    int close_after;                  /* no keep-alive after this reply */
    lws_sorted_usec_list_t watch_sul; /* the client's side, while a stream goes out */
    long long sout;                   /* bytes handed to the library */
    int fin_taken;                    /* the last bytes are out: fin_read is set */
    long long fin_read;               /* http_conn_bytes_read then, -1 if input was waiting */
};

/* What the library keeps for us per connection. */
struct pss {
    struct bh_req *req;
    struct bh_ws *ws;
    int body_done; /* the current request's body completed */
    int answered;  /* the reply is written: close once it is sent */
};

/* ---------------------------------------------------------------- http_req.c */

struct bh_req *http_req_new(struct bh_http *http, struct lws *wsi, const char *uri);
void http_req_free(struct bh_req *r);
/* r's connection is gone, or went on to another request: r is freed, or,
 * if the handler holds it, the handler hears of it (bh_req_on_gone) and r
 * is freed on its reply. */
void http_req_lost(struct bh_req *r);
/* Refuse an upgrade: the reply is written at once, then the connection
 * closes (the caller returns -1 to the library). */
void http_req_refuse_upgrade(struct bh_req *r);
/* Write the next piece of r's reply. Returns -1 to close the connection. */
int http_req_write(struct bh_req *r, struct pss *pss);
/* The reply on wsi is written: -1 to close the connection now, or 0 after
 * asking to be called again once the library sent what it still holds. */
int http_req_close_when_sent(struct lws *wsi);
/* The bytes of wsi's connection that the library has read from the kernel
 * so far, never more than that (-1: unknown). A request parsed while this
 * has not grown since its connection was kept alive came from input the
 * library held before: it was pipelined behind the streamed reply. */
long long http_conn_bytes_read(struct lws *wsi);
/* A piece of r's body arrived. Returns -1 to close the connection. */
int http_req_body(struct bh_req *r, const void *in, size_t len);
/* Hand r to the handler (or answer 413 for a body over the limit). */
void http_req_dispatch(struct bh_req *r);
/* r's body is to be streamed (handlers.streams said 1): hand r over now. */
void http_req_dispatch_streamed(struct bh_req *r);
/* r's streamed body is complete. */
void http_req_body_complete(struct bh_req *r);
/* Write the next piece of r's streamed reply. Returns -1 to close the
 * connection; on the reply's end r is freed (pss->req cleared) and the
 * connection closes, or goes on to its next request: then *kept is set to
 * http_conn_bytes_read when the reply's last bytes went out. */
int http_req_stream_writable(struct bh_req *r, struct pss *pss, long long *kept);

/* ---------------------------------------------------------------- http_ws.c */

/* The library can write on ws's connection. Returns -1 to close it. */
int http_ws_writable(struct bh_ws *ws);
/* A piece of a message arrived. Returns -1 to close the connection. */
int http_ws_receive(struct bh_http *http, struct bh_ws *ws, struct lws *wsi, const void *in,
                    size_t len);
/* ws's connection is gone: its handler hears of it, then ws is freed. */
void http_ws_closed(struct bh_ws *ws);

/* ---------------------------------------------------------------- http_front.c */

/* The body did not arrive within the body timeout: close the connection. */
void http_body_deadline(lws_sorted_usec_list_t *sul);
/* The library accepted fd from the listening socket lwsi: 0 to serve it,
 * 1 after answering 503 (the library then closes it). */
int http_conn_filter(struct bh_http *http, struct lws *lwsi, struct lws_filter_network_conn_args *f,
                     int fd);
/* The wsi of the connection just let through by http_conn_filter. */
void http_conn_add(struct bh_http *http, struct lws *wsi);
/* Any wsi is destroyed: if it is a client connection, it counts no more. */
void http_conn_remove(struct bh_http *http, struct lws *wsi);
/* wsi's connection is kept alive after a streamed reply; the library had
 * read `read` bytes of it then (http_conn_bytes_read). Kept on the
 * connection: the library gives each request a fresh struct pss. */
void http_conn_kept(struct bh_http *http, struct lws *wsi, long long read);
/* A request's headers came on wsi: 1 if its connection had been kept alive
 * (by http_conn_kept; *read is what was read of it then), once. */
int http_conn_take_kept(struct bh_http *http, struct lws *wsi, long long *read);
/* The library's log hook: its warnings and errors as our log lines, and
 * its failed accept()s handled (the EMFILE reserve) and rate-limited. */
void http_log_cb(int level, const char *line);
/* After the library listens: find its listening socket, and route its log
 * lines about accept() to http. */
void http_front_start(struct bh_http *http);
/* Forget http's connections and addresses, close its reserve descriptor. */
void http_front_free(struct bh_http *http);

#endif
