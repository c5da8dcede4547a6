/* api_front.h — the front door of the REST API, before any caller is
 * identified: the Host allow-list (against DNS rebinding), and for
 * state-changing requests the Origin check and the JSON content type
 * (against cross-site request forgery). The Origin check itself is
 * bh_api_origin_allowed (api.h). Internal to the api modules. */
#ifndef BH_API_FRONT_H
#define BH_API_FRONT_H

#include "api/api_int.h"

/* 1 after replying 403 if req's Host is not one of the daemon's names. */
int bh_api_host_refused(struct bh_api *a, bh_req_t *req);
/* Cross-site request forgery: 1 after replying 403 (an Origin not
 * allowed) or 415 (a body that is not JSON) to a state-changing request. */
int bh_api_forgery_refused(struct bh_api *a, bh_req_t *req);

#endif
