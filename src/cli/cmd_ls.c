/* cmd_ls.c — `bulkhead ls`: list sessions, newest first, as a table (or --json). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cmd_common.h"

static const struct cmd_desc d_ls = {
    "ls",
    "ls [--status STATUS] [--json] [connection options]",
    "List sessions, newest first.\n\n"
    "  --status STATUS     only sessions in STATUS (starting, ready, ended)\n"
    "  --json              print the API's JSON reply\n",
};

/* Parse "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)" to epoch seconds; -1 if not. */
static time_t parse_rfc3339(const char *s)
{
    struct tm tm = {0};
    const char *p = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!p)
        return -1;
    if (*p == '.')
        p += 1 + strspn(p + 1, "0123456789");
    long off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh, mm;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
            return -1;
        off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    return timegm(&tm) - off;
}

static void format_age(const char *created, char *buf, size_t size)
{
    time_t t = parse_rfc3339(created);
    if (t < 0) {
        snprintf(buf, size, "-");
        return;
    }
    long d = (long)(time(NULL) - t);
    if (d < 0)
        d = 0;
    if (d < 60)
        snprintf(buf, size, "%lds", d);
    else if (d < 3600)
        snprintf(buf, size, "%ldm", d / 60);
    else if (d < 86400)
        snprintf(buf, size, "%ldh", d / 3600);
    else
        snprintf(buf, size, "%ldd", d / 86400);
}

int bh_cmd_ls(int argc, char **argv)
{
    static const struct option longopts[] = {
        CONN_LONGOPTS,
        {"status", required_argument, NULL, OPT_STATUS},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    const struct cmd_desc *d = &d_ls;
    struct conn_opts o = {0};
    const char *status = NULL;
    int json = 0;
    char prog[64];
    cmd_opts_begin(argv, d, prog, sizeof prog);
    int c, rc;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_STATUS:
            status = optarg;
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
    if (status && !*status)
        return cmd_usage_error(d, "--status needs a value");

    bh_err_t err = BH_ERR_INIT;
    cleanup_free char *esc = status ? bh_client_escape(status) : NULL;
    cleanup_free char *path = esc ? bh_xasprintf(API "?status=%s", esc) : bh_xstrdup(API);
    cleanup_conn struct conn cn = {0};
    struct bh_client_resp resp __attribute__((cleanup(bh_client_resp_clear))) = {0};
    if (cmd_conn_open(&cn, &o, &err) < 0 || cmd_call(&cn, "GET", path, NULL, &resp, &err) < 0)
        return cmd_fail(&err);
    json_auto_t *j = cmd_parse_body(&resp, &err);
    json_t *list = json_is_array(j) ? j : json_object_get(j, "sessions");
    if (!json_is_array(list)) {
        if (j)
            bh_err_set(&err, 0, "the server's reply has no \"sessions\" list");
        return cmd_fail(&err);
    }
    if (json)
        return cmd_print_raw(&resp);

    size_t n = json_array_size(list);
    char **cells = bh_xcalloc(n * 4 + 4, sizeof *cells);
    int w[3] = {2, 6, 3}; /* ID STATUS AGE */
    cells[0] = bh_xstrdup("ID");
    cells[1] = bh_xstrdup("STATUS");
    cells[2] = bh_xstrdup("AGE");
    cells[3] = bh_xstrdup("URL");
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(list, i);
        char age[32];
        format_age(json_string_value(json_object_get(s, "createdAt")), age, sizeof age);
        char **row = &cells[(i + 1) * 4];
        row[0] = cmd_printable(cmd_str_or_dash(json_object_get(s, "id")));
        row[1] = cmd_printable(cmd_str_or_dash(json_object_get(s, "status")));
        row[2] = bh_xstrdup(age);
        row[3] = cmd_printable(cmd_str_or_dash(json_object_get(s, "url")));
        for (int k = 0; k < 3; k++) {
            int len = (int)strlen(row[k]);
            if (len > w[k])
                w[k] = len;
        }
    }
    for (size_t i = 0; i <= n; i++) {
        char **row = &cells[i * 4];
        printf("%-*s  %-*s  %-*s  %s\n", w[0], row[0], w[1], row[1], w[2], row[2], row[3]);
    }
    for (size_t i = 0; i < n * 4 + 4; i++)
        free(cells[i]);
    free(cells);
    return BH_EXIT_OK;
}
