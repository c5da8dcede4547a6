/* cmd_token.c — `bulkhead token create|ls|rm`: manage API tokens (an admin
 * token). */
#include <stdio.h>
#include <string.h>

#include "cli/cmd_common.h"

static const struct cmd_desc d_token = {
    "token",
    "token create --name NAME [--role user|admin] [--max-sessions N] [--json]\n"
    "       bulkhead token ls [--json]\n"
    "       bulkhead token rm ID...\n"
    "                       [connection options] (an admin token)",
    "Manage API tokens (needs an admin token).\n\n"
    "  create              make a token and print its secret: it is shown only\n"
    "                      this once (the daemon keeps only its hash)\n"
    "    --name NAME       1-64 of A-Z a-z 0-9 . _ - (unique among tokens in force)\n"
    "    --role ROLE       user (default: its own sessions only) or admin\n"
    "    --max-sessions N  live sessions it may have at once (1-10000)\n"
    "    --json            print the API's reply (with the secret)\n"
    "  ls                  list the tokens in force (never their secrets)\n"
    "  rm ID...            revoke tokens; requests with them get 401 from then on\n",
};

static int token_create(int argc, char **argv, const struct cmd_desc *d)
{
    static const struct option longopts[] = {
        CONN_LONGOPTS,
        {"name", required_argument, NULL, OPT_NAME},
        {"role", required_argument, NULL, OPT_ROLE},
        {"max-sessions", required_argument, NULL, OPT_MAXS},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    struct conn_opts o = {0};
    const char *name = NULL, *role = NULL;
    int max = -1, json = 0, c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_NAME:
            name = optarg;
            break;
        case OPT_ROLE:
            role = optarg;
            break;
        case OPT_MAXS:
            if ((max = cmd_parse_uint(optarg)) < 1)
                return cmd_usage_error(d, "--max-sessions needs a whole number from 1, not '%s'",
                                       optarg);
            break;
        case OPT_JSON:
            json = 1;
            break;
        default:
            if ((rc = cmd_conn_opt(c, &o, d)) >= 0)
                return rc;
        }
    }
    if (optind < argc)
        return cmd_usage_error(d, "unexpected argument '%s'", argv[optind]);
    if (!name || !*name)
        return cmd_usage_error(d, "token create needs --name NAME");
    if (role && strcmp(role, "user") && strcmp(role, "admin"))
        return cmd_usage_error(d, "--role is user or admin, not '%s'", role);

    json_auto_t *body = json_object();
    if (json_object_set_new(body, "name", json_string(name)) < 0)
        return cmd_usage_error(d, "--name is not valid UTF-8");
    if (role)
        json_object_set_new(body, "role", json_string(role));
    if (max > 0)
        json_object_set_new(body, "maxSessions", json_integer(max));
    cleanup_free char *text = json_dumps(body, JSON_COMPACT);

    bh_err_t err = BH_ERR_INIT;
    cleanup_conn struct conn cn = {0};
    struct bh_client_resp resp __attribute__((cleanup(bh_client_resp_clear))) = {0};
    if (cmd_conn_open(&cn, &o, &err) < 0 ||
        cmd_call(&cn, "POST", "/api/v1/tokens", text, &resp, &err) < 0)
        return cmd_fail(&err);
    json_auto_t *t = cmd_parse_body(&resp, &err);
    const char *secret = json_string_value(json_object_get(t, "token"));
    if (!t || !secret) {
        if (t)
            bh_err_set(&err, 0, "the server's reply has no token");
        return cmd_fail(&err);
    }
    if (json)
        return cmd_print_raw(&resp);
    cleanup_free char *id = cmd_printable(cmd_str_or_dash(json_object_get(t, "id")));
    cleanup_free char *sec = cmd_printable(secret);
    /* the secret alone on stdout (for $(...)); what it is on stderr */
    fprintf(stderr, "token %s (%s, role %s) created; its secret, shown only now:\n", id, name,
            role ? role : "user");
    printf("%s\n", sec);
    return BH_EXIT_OK;
}

static int token_ls(int argc, char **argv, const struct cmd_desc *d)
{
    static const struct option longopts[] = {
        CONN_LONGOPTS,
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    struct conn_opts o = {0};
    int json = 0, c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == OPT_JSON)
            json = 1;
        else if ((rc = cmd_conn_opt(c, &o, d)) >= 0)
            return rc;
    }
    if (optind < argc)
        return cmd_usage_error(d, "unexpected argument '%s'", argv[optind]);
    bh_err_t err = BH_ERR_INIT;
    cleanup_conn struct conn cn = {0};
    struct bh_client_resp resp __attribute__((cleanup(bh_client_resp_clear))) = {0};
    if (cmd_conn_open(&cn, &o, &err) < 0 ||
        cmd_call(&cn, "GET", "/api/v1/tokens", NULL, &resp, &err) < 0)
        return cmd_fail(&err);
    json_auto_t *j = cmd_parse_body(&resp, &err);
    json_t *list = json_object_get(j, "tokens");
    if (!json_is_array(list)) {
        if (j)
            bh_err_set(&err, 0, "the server's reply has no \"tokens\" list");
        return cmd_fail(&err);
    }
    if (json)
        return cmd_print_raw(&resp);
    printf("%-16s  %-6s  %-12s  %s\n", "ID", "ROLE", "MAX-SESSIONS", "NAME");
    size_t i;
    json_t *t;
    json_array_foreach(list, i, t)
    {
        cleanup_free char *id = cmd_printable(cmd_str_or_dash(json_object_get(t, "id")));
        cleanup_free char *role = cmd_printable(cmd_str_or_dash(json_object_get(t, "role")));
        cleanup_free char *name = cmd_printable(cmd_str_or_dash(json_object_get(t, "name")));
        json_t *m = json_object_get(t, "maxSessions");
        char max[24] = "-";
        if (json_is_integer(m))
            snprintf(max, sizeof max, "%lld", (long long)json_integer_value(m));
        printf("%-16s  %-6s  %-12s  %s\n", id, role, max, name);
    }
    return BH_EXIT_OK;
}

static int token_rm(int argc, char **argv, const struct cmd_desc *d)
{
    optind = 1;
    return cmd_delete_args(argc, argv, d, "/api/v1/tokens", "tokens");
}

int bh_cmd_token(int argc, char **argv)
{
    const struct cmd_desc *d = &d_token;
    if (argc < 2)
        return cmd_usage_error(d, "which? create, ls or rm");
    const char *sub = argv[1];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        cmd_print_help(d);
        return BH_EXIT_OK;
    }
    int (*run)(int, char **, const struct cmd_desc *) = !strcmp(sub, "create") ? token_create
                                                        : !strcmp(sub, "ls")   ? token_ls
                                                        : !strcmp(sub, "rm")   ? token_rm
                                                                               : NULL;
    if (!run)
        return cmd_usage_error(d, "unknown token command '%s' (create, ls or rm)", sub);
    /* getopt's messages then read "bulkhead token: ..." */
    char prog[64];
    snprintf(prog, sizeof prog, "bulkhead token %s", sub);
    argv[1] = prog;
    return run(argc - 1, argv + 1, d);
}
