/* api_reply.h — the REST API's replies: a JSON body, or a JSON error
 * {"error":{"code","message"}} with the headers its status asks for
 * (WWW-Authenticate on 401, Retry-After on 503 and on 429 but a quota's).
 * The lowest of the api modules: it calls none of them. */
#ifndef BH_API_REPLY_H
#define BH_API_REPLY_H

#include "http/http.h"
#include "lib/err.h"
#include "lib/json.h"

/* Reply status with body as JSON. Takes body. */
void bh_api_reply_json(bh_req_t *req, int status, json_t *body);
/* Reply status with the error code and message. */
void bh_api_reply_error(bh_req_t *req, int status, const char *code, const char *msg);
/* Reply with err, its kind mapped to an HTTP status and error code (the
 * one place where an error kind of err.h becomes HTTP): internal 500,
 * invalid 400, not found 404, not ready 409 "not_ready", conflict 409,
 * busy 429 "too_many_sessions", shutdown 503 "unavailable", timeout 504
 * "timeout", no space 507 "no_space". code names internal errors, bad
 * input and conflicts (e.g. "create_failed", "invalid_name"). */
void bh_api_reply_err(bh_req_t *req, const bh_err_t *err, const char *code);

#endif
