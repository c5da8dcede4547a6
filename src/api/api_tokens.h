/* api_tokens.h — the token routes of the REST API (/api/v1/tokens, admins
 * only): create, list and revoke API tokens, in the store and in the
 * keyring of tokens in force. Internal to the api modules. */
#ifndef BH_API_TOKENS_H
#define BH_API_TOKENS_H

#include "api/api_int.h"

/* /api/v1/tokens<rest> for an admin: POST and GET of "" or "/", DELETE of
 * "/<id>". */
void bh_api_tokens_route(struct bh_api *a, bh_req_t *req, const char *rest);

#endif
