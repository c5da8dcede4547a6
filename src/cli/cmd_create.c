/* cmd_create.c — `bulkhead create`: start a session and print its id (or --json, the
 * session) once it is ready. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd_common.h"

static const struct cmd_desc d_create = {
    "create",
    "create [--url PAGE] [--type TYPE] [--width W] [--height H]\n"
    "                       [--idle-timeout S] [--ttl S] [--page-load-timeout S]\n"
    "                       [--workspace BYTES] [--lab NAME] [--json]\n"
    "                       [connection options]",
    "Start a session and print its id once it is ready.\n\n"
    "  --url PAGE          page to open\n"
    "  --type TYPE         session type: browser (the default) or shell\n"
    "  --width W           viewport width in pixels\n"
    "  --height H          viewport height in pixels\n"
    "  --idle-timeout S    end the session after S seconds without activity\n"
    "  --ttl S             end the session S seconds after it started\n"
    "  --page-load-timeout S  wait at most S seconds for the page to load (it is\n"
    "                      ready then anyway, with the page's error)\n"
    "  --workspace BYTES   shell: size of the workspace /home/user (a number,\n"
    "                      or with K, M or G: 256M)\n"
    "  --lab NAME          shell: start lab NAME (`bulkhead labs`); implies\n"
    "                      --type shell\n"
    "  --json              print the whole session object\n"
    "Options left out take the daemon's defaults.\n",
};

enum { OPT_CREATE_WORKSPACE = 0x200, OPT_CREATE_LAB };

/* "67108864", "64M", "1G", "512k": bytes (K, M, G are powers of 1024); -1
 * if it is not one. */
static long long parse_bytes(const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return -1;
    int shift = 0;
    switch (*end) {
    case 'k':
    case 'K':
        shift = 10;
        end++;
        break;
    case 'm':
    case 'M':
        shift = 20;
        end++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        end++;
        break;
    }
    if (*end == 'i' && shift)
        end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end || v > (LLONG_MAX >> shift))
        return -1;
    return v << shift;
}

int bh_cmd_create(int argc, char **argv)
{
    static const struct option longopts[] = {
        CONN_LONGOPTS,
        {"url", required_argument, NULL, OPT_URL},
        {"type", required_argument, NULL, OPT_TYPE},
        {"width", required_argument, NULL, OPT_WIDTH},
        {"height", required_argument, NULL, OPT_HEIGHT},
        {"idle-timeout", required_argument, NULL, OPT_IDLE},
        {"ttl", required_argument, NULL, OPT_TTL},
        {"page-load-timeout", required_argument, NULL, OPT_PAGELOAD},
        {"workspace", required_argument, NULL, OPT_CREATE_WORKSPACE},
        {"lab", required_argument, NULL, OPT_CREATE_LAB},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    const struct cmd_desc *d = &d_create;
    struct conn_opts o = {0};
    const char *page = NULL, *type = NULL, *lab = NULL;
    long long workspace = -1;
    int width = -1, height = -1, idle = -1, ttl = -1, pageload = -1, json = 0;
    char prog[64];
    cmd_opts_begin(argv, d, prog, sizeof prog);
    int c, rc;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int *num = NULL;
        const char *name = NULL;
        switch (c) {
        case OPT_URL:
            page = optarg;
            break;
        case OPT_TYPE:
            type = optarg;
            break;
        case OPT_WIDTH:
            num = &width, name = "--width";
            break;
        case OPT_HEIGHT:
            num = &height, name = "--height";
            break;
        case OPT_IDLE:
            num = &idle, name = "--idle-timeout";
            break;
        case OPT_TTL:
            num = &ttl, name = "--ttl";
            break;
        case OPT_PAGELOAD:
            num = &pageload, name = "--page-load-timeout";
            break;
        case OPT_CREATE_WORKSPACE:
            if ((workspace = parse_bytes(optarg)) <= 0)
                return cmd_usage_error(
                    d, "--workspace needs a size in bytes (256M, 1G, …), not '%s'", optarg);
            break;
        case OPT_CREATE_LAB:
            lab = optarg;
            break;
        case OPT_JSON:
            json = 1;
            break;
        default:
            if ((rc = cmd_conn_opt(c, &o, d)) >= 0)
                return rc;
        }
        if (num && (*num = cmd_parse_uint(optarg)) < 0)
            return cmd_usage_error(d, "%s needs a whole number, not '%s'", name, optarg);
    }
    if (optind < argc)
        return cmd_usage_error(d, "unexpected argument '%s'%s", argv[optind],
                               page ? "" : " (the page to open goes after --url)");
    if ((width == 0 || height == 0))
        return cmd_usage_error(d, "the viewport size must be positive");

    if (lab && !type)
        type = "shell";
    if ((lab || workspace > 0) && strcmp(type ? type : "browser", "shell"))
        return cmd_usage_error(d, "--workspace and --lab are for --type shell");

    bh_err_t err = BH_ERR_INIT;
    json_auto_t *body = json_object();
    if (workspace > 0)
        json_object_set_new(body, "workspace",
                            json_pack("{s:I}", "sizeBytes", (json_int_t)workspace));
    if (lab && json_object_set_new(body, "lab", json_string(lab)) < 0)
        return cmd_usage_error(d, "--lab is not valid UTF-8");
    if (type && json_object_set_new(body, "type", json_string(type)) < 0)
        return cmd_usage_error(d, "--type is not valid UTF-8");
    if (page && json_object_set_new(body, "url", json_string(page)) < 0)
        return cmd_usage_error(d, "--url is not valid UTF-8");
    if (width > 0 || height > 0) {
        json_t *vp = json_object();
        json_object_set_new(body, "viewport", vp);
        if (width > 0)
            json_object_set_new(vp, "width", json_integer(width));
        if (height > 0)
            json_object_set_new(vp, "height", json_integer(height));
    }
    if (idle >= 0)
        json_object_set_new(body, "idleTimeout", json_integer(idle));
    if (ttl >= 0)
        json_object_set_new(body, "ttl", json_integer(ttl));
    if (pageload >= 0)
        json_object_set_new(body, "pageLoadTimeout", json_integer(pageload));
    cleanup_free char *text = json_dumps(body, JSON_COMPACT);

    cleanup_conn struct conn cn = {0};
    struct bh_client_resp resp __attribute__((cleanup(bh_client_resp_clear))) = {0};
    if (cmd_conn_open(&cn, &o, &err) < 0 || cmd_call(&cn, "POST", API, text, &resp, &err) < 0)
        return cmd_fail(&err);
    json_auto_t *s = cmd_parse_body(&resp, &err);
    const char *id = json_string_value(json_object_get(s, "id"));
    if (!s || !id) {
        if (s)
            bh_err_set(&err, 0, "the server's reply has no session id");
        return cmd_fail(&err);
    }
    if (json)
        return cmd_print_raw(&resp);
    cleanup_free char *safe = cmd_printable(id);
    printf("%s\n", safe);
    return BH_EXIT_OK;
}
