/* cmd_rm.c — `bulkhead rm`: end sessions. */
#include "cli/cmd_common.h"

static const struct cmd_desc d_rm = {
    "rm",
    "rm ID... [connection options]",
    "End sessions; prints each id removed. Fails if any could not be removed.\n",
};

int bh_cmd_rm(int argc, char **argv)
{
    static const struct option longopts[] = {
        CONN_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const struct cmd_desc *d = &d_rm;
    struct conn_opts o = {0};
    char prog[64];
    cmd_opts_begin(argv, d, prog, sizeof prog);
    int c, rc;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
        if ((rc = cmd_conn_opt(c, &o, d)) >= 0)
            return rc;
    if (optind >= argc)
        return cmd_usage_error(d, "which sessions? (one ID or more is needed)");
    for (int i = optind; i < argc; i++)
        if (!*argv[i])
            return cmd_usage_error(d, "an empty ID");

    bh_err_t err = BH_ERR_INIT;
    cleanup_conn struct conn cn = {0};
    if (cmd_conn_open(&cn, &o, &err) < 0)
        return cmd_fail(&err);
    return cmd_delete_each(&cn, API, argv + optind, argc - optind);
}
