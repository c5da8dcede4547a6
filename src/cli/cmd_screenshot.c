/* cmd_screenshot.c — `bulkhead screenshot`: save a PNG of a session's page. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cmd_common.h"

static const struct cmd_desc d_screenshot = {
    "screenshot",
    "screenshot ID -o FILE [connection options]",
    "Save a PNG of the session's current page to FILE (written atomically),\n"
    "or to standard output with -o -.\n\n"
    "  -o, --output FILE   where to write the PNG\n",
};

static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

int bh_cmd_screenshot(int argc, char **argv)
{
    static const struct option longopts[] = {
        CONN_LONGOPTS,
        {"output", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    const struct cmd_desc *d = &d_screenshot;
    struct conn_opts o = {0};
    const char *out = NULL;
    char prog[64];
    cmd_opts_begin(argv, d, prog, sizeof prog);
    int c, rc;
    while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        if (c == 'o')
            out = optarg;
        else if ((rc = cmd_conn_opt(c, &o, d)) >= 0)
            return rc;
    }
    if (optind >= argc || !*argv[optind])
        return cmd_usage_error(d, "which session? (an ID is needed)");
    if (optind + 1 < argc)
        return cmd_usage_error(d, "unexpected argument '%s'", argv[optind + 1]);
    if (!out || !*out)
        return cmd_usage_error(d, "where to? (-o FILE, or -o - for standard output)");
    int to_stdout = !strcmp(out, "-");
    if (to_stdout && isatty(STDOUT_FILENO))
        return cmd_usage_error(d, "standard output is a terminal; redirect it or use -o FILE");

    bh_err_t err = BH_ERR_INIT;
    cleanup_free char *path = cmd_session_path(argv[optind], "/screenshot");
    cleanup_conn struct conn cn = {0};
    struct bh_client_resp resp __attribute__((cleanup(bh_client_resp_clear))) = {0};
    if (cmd_conn_open(&cn, &o, &err) < 0 || cmd_call(&cn, "GET", path, NULL, &resp, &err) < 0)
        return cmd_fail(&err);
    if (resp.len < sizeof png_magic || memcmp(resp.body, png_magic, sizeof png_magic)) {
        bh_err_set(&err, 0, "the server's reply is not a PNG (%s, %zu bytes); nothing written",
                   resp.content_type ? resp.content_type : "no content type", resp.len);
        return cmd_fail(&err);
    }
    if (to_stdout) {
        if (fwrite(resp.body, 1, resp.len, stdout) != resp.len || fflush(stdout) != 0) {
            bh_err_set(&err, errno, "write to standard output");
            return cmd_fail(&err);
        }
        return BH_EXIT_OK;
    }
    mode_t mask = umask(0);
    umask(mask);
    if (bh_write_file(out, resp.body, resp.len, 0666 & ~mask, &err) < 0)
        return cmd_fail(&err);
    printf("wrote %s (%zu bytes)\n", out, resp.len);
    return BH_EXIT_OK;
}
