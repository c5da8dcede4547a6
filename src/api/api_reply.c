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
