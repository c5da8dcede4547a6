/* fuzz_http.c — what a request's line and headers carry into the API's
 * decisions: the path (routing of /api/v1/sessions/<id><sub>), a token as
 * ?token= or Authorization: Bearer (API tokens and session-scoped tokens,
 * src/api/auth.c) and an Origin header (WebSocket upgrades). The input is
 * "path\ntoken\norigin"; the query's own decoding is libwebsockets'. */
#include <stdlib.h>

#include "api/api.h"
#include "api/auth.h"
#include "config/config.h"
#include "fuzz.h"

static struct bh_config cfg;
static bh_keyring_t *keys;
static const char sid[] = "0123456789abcdef0123456789abcdef";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    bh_config_defaults(&cfg);
    cfg.public_url = bh_xstrdup("http://127.0.0.1:8420");
    static char *origins[] = {"https://ui.example.test"};
    cfg.allowed_origins = origins;
    cfg.nallowed_origins = 1;
    memset(cfg.secret, 7, sizeof cfg.secret);
    keys = fuzz_keyring("00112233aabbccdd");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path = fuzz_part(&data, &size);
    char *token = fuzz_part(&data, &size);
    char *origin = fuzz_part(&data, &size);
    char id[33];
    const char *sub = bh_api_session_path(path, id);
    const char *session = sub ? id : sid;
    struct bh_identity who;
    enum bh_role role = bh_keyring_identify(keys, token, &who);
    if (role != BH_ROLE_NONE || who.scoped)
        bh_may_access(&who, cfg.secret, session, "00112233aabbccdd",
                      BH_SCOPE_VIEW | BH_SCOPE_CONTROL | BH_SCOPE_CDP, 1800000000);
    if (bh_scoped_like(token))
        bh_scoped_verify(cfg.secret, token, session, 1800000000);
    bh_api_origin_allowed(&cfg, *origin ? origin : NULL);
    free(path);
    free(token);
    free(origin);
    return 0;
}
