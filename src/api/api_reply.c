/* api_reply.c — see api_reply.h. */
#include "api/api_reply.h"

#include <stdlib.h>
#include <string.h>

void bh_api_reply_json(bh_req_t *req, int status, json_t *body)
{
    char *s = bh_json_dump(body);
    bh_req_reply(req, status, "application/json", s, strlen(s), NULL);
    free(s);
    json_decref(body);
}

void bh_api_reply_err(bh_req_t *req, const bh_err_t *err, const char *code)
{
    static const struct {
        int status;
        const char *code;
    } map[] = {
        [BH_E_INTERNAL] = {500, NULL},          [BH_E_INVALID] = {400, NULL},
        [BH_E_NOT_FOUND] = {404, "not_found"},  [BH_E_NOT_READY] = {409, "not_ready"},
        [BH_E_CONFLICT] = {409, NULL},          [BH_E_BUSY] = {429, "too_many_sessions"},
        [BH_E_SHUTDOWN] = {503, "unavailable"}, [BH_E_TIMEOUT] = {504, "timeout"},
        [BH_E_NO_SPACE] = {507, "no_space"},    [BH_E_FORBIDDEN] = {403, NULL},
    };
    unsigned k = (unsigned)err->kind;
    if (k >= sizeof map / sizeof map[0])
        k = BH_E_INTERNAL;
    bh_api_reply_error(req, map[k].status, map[k].code ? map[k].code : code, bh_err_msg(err));
}

void bh_api_reply_error(bh_req_t *req, int status, const char *code, const char *msg)
{
    json_t *e = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
    char *s = bh_json_dump(e);
    json_decref(e);
    if (status == 401)
        bh_req_reply(req, status, "application/json", s, strlen(s),
                     (const char *const[]){"www-authenticate", "Bearer realm=\"bulkhead\"", NULL});
    else if ((status == 429 && strcmp(code, "quota_exceeded")) || status == 503)
        bh_req_reply(req, status, "application/json", s, strlen(s),
                     (const char *const[]){"retry-after", "5", NULL});
    else
        bh_req_reply(req, status, "application/json", s, strlen(s), NULL);
    free(s);
}
