/* client.h — a small blocking HTTP client for talking to a bulkhead daemon's
 * REST API (what the CLI uses). It owns the HTTP library (libcurl): no other
 * module includes curl.h. One request at a time; not for the event loop. */
#ifndef BH_CLIENT_H
#define BH_CLIENT_H

#include <stddef.h>

#include "lib/err.h"

struct bh_client {
    const char *url;        /* base, e.g. "http://127.0.0.1:8420" (borrowed) */
    const char *token;      /* bearer token or NULL (borrowed) */
    const char *user_agent; /* or NULL */
    long timeout_ms;        /* whole request; 0 = none */
};

struct bh_client_resp {
    long status; /* HTTP status */
    char *body;  /* NUL-terminated (the NUL is not counted in len) */
    size_t len;
    char *content_type; /* or NULL */
    int streamed;       /* the body went to a sink (bh_client_download) */
};

/* Free the heap fields of resp and zero it. */
void bh_client_resp_clear(struct bh_client_resp *resp);

/* Send `method path` (path starts with '/', already escaped) to c->url, with
 * body_json (or NULL) as an application/json body and the bearer token, and
 * read the whole reply into resp (which the caller clears). Returns 0 when a
 * reply came back, whatever its HTTP status; -1 when none did, with
 * err->status ECONNREFUSED when the server could not be reached (refused,
 * unresolvable name), ETIMEDOUT on timeout, EFBIG when the reply exceeds the
 * size limit, EIO for anything else. Redirects are not followed (the token
 * is never sent elsewhere). */
int bh_client_request(const struct bh_client *c, const char *method, const char *path,
                      const char *body_json, struct bh_client_resp *resp, bh_err_t *err);

/* Send `method path` with size bytes read from fd (a file, or a pipe when
 * size is -1: then chunked) as a body of content_type, streamed (never held
 * in memory whole); the reply as with bh_client_request. */
int bh_client_upload(const struct bh_client *c, const char *method, const char *path,
                     const char *content_type, int fd, long long size, struct bh_client_resp *resp,
                     bh_err_t *err);

/* Receives a reply's body as it comes; -1 stops the transfer (the request
 * then fails with err->errnum EPIPE). */
typedef int (*bh_client_sink)(void *arg, const void *data, size_t len);

/* GET path. A 2xx reply whose content type is not application/json goes to
 * sink(arg) as it comes, never whole in memory (resp->streamed is then 1,
 * resp->body empty); any other reply (an error, a JSON document) is read
 * into resp. Returns as bh_client_request. */
int bh_client_download(const struct bh_client *c, const char *path, bh_client_sink sink, void *arg,
                       struct bh_client_resp *resp, bh_err_t *err);

/* Turn a non-2xx reply into an error: "<message> (<code>, HTTP <status>)"
 * from an API error body {"error":{"code","message"}}, or a generic message
 * when the body is not one. err->status is 0. Always returns -1. */
int bh_client_resp_error(const struct bh_client_resp *resp, bh_err_t *err);

/* Percent-escape s for one URL path segment or query value. Caller frees. */
char *bh_client_escape(const char *s);

#endif
