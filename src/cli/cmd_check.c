/* cmd_check.c — `bulkhead check`: run a lab session's judge (POST
 * /api/v1/sessions/{id}/check), print its output and the verdict, and exit
 * 0 on a pass, 1 on a fail. */
#include <stdio.h>
#include <string.h>

#include "cli/cmd_common.h"
#include "cli/cmd_stream.h"

static const struct cmd_desc d_check = {
    "check",
    "check ID [--json] [connection options]",
    "Run the lab's check in session ID (a shell session started with --lab):\n"
    "print what the check printed, then PASSED or FAILED.\n"
    "Exit status: 0 passed, 1 failed (or the request failed).\n\n"
    "  --json              print the API's JSON reply instead\n",
};

int bh_cmd_check(int argc, char **argv)
{
    static const struct option longopts[] = {
        CONN_LONGOPTS,
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    const struct cmd_desc *d = &d_check;
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
        return cmd_usage_error(d, "unexpected argument '%s'", argv[optind + 1]);

    bh_err_t err = BH_ERR_INIT;
    cleanup_free char *path = cmd_session_path(argv[optind], "/check");
    cleanup_conn struct conn cn = {0};
    struct bh_client_resp resp __attribute__((cleanup(bh_client_resp_clear))) = {0};
    if (cmd_conn_open(&cn, &o, &err) < 0 || cmd_call(&cn, "POST", path, "{}", &resp, &err) < 0)
        return cmd_fail(&err);
    json_auto_t *j = cmd_parse_body(&resp, &err);
    json_t *passed = json_object_get(j, "passed");
    if (!json_is_boolean(passed)) {
        if (j)
            bh_err_set(&err, 0, "the server's reply has no \"passed\"");
        return cmd_fail(&err);
    }
    if (json)
        cmd_print_raw(&resp);
    else {
        json_t *out = json_object_get(j, "output");
        size_t n = json_string_length(out);
        if (n) {
            fflush(stdout);
            cmd_write_all(1, json_string_value(out), n);
            if (json_string_value(out)[n - 1] != '\n')
                putchar('\n');
        }
        printf("%s\n", json_is_true(passed) ? "PASSED" : "FAILED");
    }
    return json_is_true(passed) ? BH_EXIT_OK : BH_EXIT_FAIL;
}
