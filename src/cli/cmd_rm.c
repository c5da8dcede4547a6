/* cmd_rm.c — `bulkhead rm`: end sessions. */
#include "cli/cmd_common.h"

static const struct cmd_desc d_rm = {
    "rm",
    "rm ID... [connection options]",
    "End sessions; prints each id removed. Fails if any could not be removed.\n",
};

int bh_cmd_rm(int argc, char **argv)
{
    char prog[64];
    cmd_opts_begin(argv, &d_rm, prog, sizeof prog);
    return cmd_delete_args(argc, argv, &d_rm, API, "sessions");
}
