/* cmd_get.c — `bulkhead get`: one session, as key: value lines (or --json). */
#include <stdio.h>
#include <string.h>

#include "cli/cmd_common.h"

static const struct cmd_desc d_get = {
    "get",
    "get ID [--json] [connection options]",
    "Show one session.\n\n"
    "  --json              print the session object\n",
};

/* Flatten obj into "key.path" / value pairs for the key: value listing. */
static void flatten(json_t *obj, const char *prefix, json_t *out)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        cleanup_free char *key = prefix ? bh_xasprintf("%s.%s", prefix, k) : bh_xstrdup(k);
        if (json_is_object(v) && json_object_size(v)) {
            flatten(v, key, out);
            continue;
        }
        char *val;
        if (json_is_string(v))
            val = bh_xstrdup(json_string_value(v));
        else if (json_is_null(v))
            val = bh_xstrdup("-");
        else
            val = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        json_t *pair = json_pack("[s,s]", key, val ? val : "?");
        free(val);
        if (pair)
            json_array_append_new(out, pair);
    }
}

int bh_cmd_get(int argc, char **argv)
{
    static const struct option longopts[] = {
        CONN_LONGOPTS,
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    const struct cmd_desc *d = &d_get;
    struct conn_opts o = {0};
    int json = 0;
    char prog[64];
    cmd_opts_begin(argv, d, prog, sizeof prog);
    int c, rc;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == OPT_JSON)
            json = 1;
        else if ((rc = cmd_conn_opt(c, &o, d)) >= 0)
            return rc;
    }
    if (optind >= argc || !*argv[optind])
        return cmd_usage_error(d, "which session? (an ID is needed)");
    if (optind + 1 < argc)
        return cmd_usage_error(d, "one session at a time ('%s' is one too many)", argv[optind + 1]);

    bh_err_t err = BH_ERR_INIT;
    cleanup_free char *path = cmd_session_path(argv[optind], NULL);
    cleanup_conn struct conn cn = {0};
    struct bh_client_resp resp __attribute__((cleanup(bh_client_resp_clear))) = {0};
    if (cmd_conn_open(&cn, &o, &err) < 0 || cmd_call(&cn, "GET", path, NULL, &resp, &err) < 0)
        return cmd_fail(&err);
    json_auto_t *s = cmd_parse_body(&resp, &err);
    if (!json_is_object(s)) {
        if (s)
            bh_err_set(&err, 0, "the server's reply is not a session object");
        return cmd_fail(&err);
    }
    if (json)
        return cmd_print_raw(&resp);

    json_auto_t *pairs = json_array();
    flatten(s, NULL, pairs);
    int w = 0;
    size_t i;
    json_t *p;
    json_array_foreach(pairs, i, p)
    {
        int len = (int)strlen(json_string_value(json_array_get(p, 0)));
        if (len > w)
            w = len;
    }
    json_array_foreach(pairs, i, p)
    {
        cleanup_free char *k = cmd_printable(json_string_value(json_array_get(p, 0)));
        cleanup_free char *v = cmd_printable(json_string_value(json_array_get(p, 1)));
        printf("%s:%*s %s\n", k, w - (int)strlen(k), "", v);
    }
    return BH_EXIT_OK;
}
