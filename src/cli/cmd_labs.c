/* cmd_labs.c — `bulkhead labs`: the labs the daemon offers (GET
 * /api/v1/labs) as a table, or --json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd_common.h"

static const struct cmd_desc d_labs = {
    "labs",
    "labs [--json] [connection options]",
    "List the labs the daemon offers (its --labs-dir): name, time limit and\n"
    "title. Start one with `bulkhead create --type shell --lab NAME`, judge\n"
    "it with `bulkhead check ID`.\n\n"
    "  --json              print the API's JSON reply (with the descriptions)\n",
};

int bh_cmd_labs(int argc, char **argv)
{
    static const struct option longopts[] = {
        CONN_LONGOPTS,
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    const struct cmd_desc *d = &d_labs;
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
    if (optind < argc)
        return cmd_usage_error(d, "unexpected argument '%s'", argv[optind]);

    bh_err_t err = BH_ERR_INIT;
    cleanup_conn struct conn cn = {0};
    struct bh_client_resp resp __attribute__((cleanup(bh_client_resp_clear))) = {0};
    if (cmd_conn_open(&cn, &o, &err) < 0 ||
        cmd_call(&cn, "GET", "/api/v1/labs", NULL, &resp, &err) < 0)
        return cmd_fail(&err);
    json_auto_t *j = cmd_parse_body(&resp, &err);
    json_t *list = json_object_get(j, "labs");
    if (!json_is_array(list)) {
        if (j)
            bh_err_set(&err, 0, "the server's reply has no \"labs\" list");
        return cmd_fail(&err);
    }
    if (json)
        return cmd_print_raw(&resp);

    size_t n = json_array_size(list);
    char **cells = bh_xcalloc(n * 3 + 3, sizeof *cells);
    int w[2] = {4, 10}; /* NAME TIME LIMIT */
    cells[0] = bh_xstrdup("NAME");
    cells[1] = bh_xstrdup("TIME LIMIT");
    cells[2] = bh_xstrdup("TITLE");
    for (size_t i = 0; i < n; i++) {
        json_t *l = json_array_get(list, i);
        json_t *limit = json_object_get(l, "timeLimit");
        char **row = &cells[(i + 1) * 3];
        row[0] = cmd_printable(cmd_str_or_dash(json_object_get(l, "name")));
        if (json_is_integer(limit) && json_integer_value(limit) > 0) {
            long long s = json_integer_value(limit);
            row[1] = s % 60 ? bh_xasprintf("%llds", s) : bh_xasprintf("%lldm", s / 60);
        } else {
            row[1] = bh_xstrdup("-");
        }
        row[2] = cmd_printable(cmd_str_or_dash(json_object_get(l, "title")));
        for (int k = 0; k < 2; k++) {
            int len = (int)strlen(row[k]);
            if (len > w[k])
                w[k] = len;
        }
    }
    for (size_t i = 0; i <= n; i++) {
        char **row = &cells[i * 3];
        printf("%-*s  %-*s  %s\n", w[0], row[0], w[1], row[1], row[2]);
    }
    for (size_t i = 0; i < n * 3 + 3; i++)
        free(cells[i]);
    free(cells);
    return BH_EXIT_OK;
}
