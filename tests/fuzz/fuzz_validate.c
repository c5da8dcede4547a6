/* fuzz_validate.c — the bodies clients send to create things: every input
 * is tried as a session create body (POST /api/v1/sessions), as a token
 * create body (POST /api/v1/tokens) and, as a string, as a page URL (the
 * create body's url, the live view's navigate). */
#include <stdlib.h>

#include "config/config.h"
#include "fuzz.h"
#include "api/validate.h"
#include "session/create_opts.h"

static struct bh_config cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    bh_config_defaults(&cfg);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bh_invalid why;
    struct bh_create_opts o;
    if (bh_validate_create((const char *)data, size, &cfg, &o, &why) == 0) {
        /* what the session keeps of an accepted body */
        char *net = bh_create_opts_network_json(&o);
        free(net);
        bh_create_opts_clear(&o);
    }
    struct bh_token_opts t;
    bh_validate_token((const char *)data, size, &t, &why);
    char *url = fuzz_cstr(data, size);
    bh_validate_url(url, &why);
    free(url);
    return 0;
}
