/* cmd_common.c — see cmd_common.h. */
#include "cli/cmd_common.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUEST_TIMEOUT_MS 120000L /* create waits for the browser to be ready */

static const char conn_help[] =
    "connection options (every client command):\n"
    "  --server URL        daemon address (else $BULKHEAD_URL, else <state-dir>/url,\n"
    "                      else " BH_DEFAULT_URL ")\n"
    "  --token TOKEN       API token (else $BULKHEAD_TOKEN, else <state-dir>/token)\n"
    "  --state-dir DIR     the daemon's state directory (else $BULKHEAD_STATE_DIR,\n"
    "                      else " BH_DEFAULT_STATE_DIR ")\n"
    "  -h, --help          show this help\n";

void cmd_print_help(const struct cmd_desc *d)
{
    printf("usage: bulkhead %s\n\n%s\n%s", d->usage, d->help, conn_help);
}

int cmd_usage_error(const struct cmd_desc *d, const char *fmt, ...)
{
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "bulkhead %s: ", d->name);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    fprintf(stderr, "usage: bulkhead %s\nTry 'bulkhead %s --help' for more.\n", d->usage, d->name);
    return BH_EXIT_USAGE;
}

int cmd_fail(bh_err_t *err)
{
    fprintf(stderr, "bulkhead: %s\n", bh_err_msg(err));
    bh_err_clear(err);
    return BH_EXIT_FAIL;
}

static int is_http_url(const char *s)
{
    return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

void cmd_opts_begin(char **argv, const struct cmd_desc *d, char *prog, size_t size)
{
    snprintf(prog, size, "bulkhead %s", d->name);
    argv[0] = prog;
    optind = 1;
}

int cmd_conn_opt(int c, struct conn_opts *o, const struct cmd_desc *d)
{
    switch (c) {
    case OPT_SERVER:
        if (!is_http_url(optarg))
            return cmd_usage_error(d, "--server must be an http:// or https:// URL, not '%s'",
                                   optarg);
        o->server = optarg;
        return -1;
    case OPT_TOKEN:
        o->token = optarg;
        return -1;
    case OPT_STATE_DIR:
        o->state_dir = optarg;
        return -1;
    case 'h':
        cmd_print_help(d);
        return BH_EXIT_OK;
    default:
        return cmd_usage_error(d, NULL);
    }
}

void cmd_conn_clear(struct conn *cn)
{
    free(cn->url);
    free(cn->token);
    free(cn->token_hint);
    memset(cn, 0, sizeof *cn);
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* The first line of a small file, trimmed; NULL with err if unreadable or
 * empty. */
static char *read_line(const char *path, bh_err_t *err)
{
    cleanup_free char *buf = bh_read_file(path, NULL, err);
    if (!buf)
        return NULL;
    char *s = buf + strspn(buf, " \t\r\n");
    s[strcspn(s, "\r\n")] = 0;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
    if (!n) {
        bh_err_set(err, 0, "%s is empty", path);
        return NULL;
    }
    return bh_xstrdup(s);
}

int cmd_conn_open(struct conn *cn, const struct conn_opts *o, bh_err_t *err)
{
    const char *state = o->state_dir ? o->state_dir : env_nonempty("BULKHEAD_STATE_DIR");
    if (!state)
        state = BH_DEFAULT_STATE_DIR;

    const char *url = o->server ? o->server : env_nonempty("BULKHEAD_URL");
    const char *from = o->server ? "--server" : "BULKHEAD_URL";
    cleanup_free char *url_path = bh_xasprintf("%s/url", state);
    if (url) {
        cn->url = bh_xstrdup(url);
    } else {
        bh_err_t ignore = BH_ERR_INIT; /* no url file: the daemon's default address */
        cn->url = read_line(url_path, &ignore);
        bh_err_clear(&ignore);
        from = url_path;
        if (!cn->url)
            cn->url = bh_xstrdup(BH_DEFAULT_URL);
    }
    if (!is_http_url(cn->url))
        return bh_err_set(err, EINVAL, "server URL '%s' (from %s) is not an http:// URL", cn->url,
                          from);
    size_t n = strlen(cn->url);
    while (n > 8 && cn->url[n - 1] == '/')
        cn->url[--n] = 0;

    const char *tok = o->token ? o->token : env_nonempty("BULKHEAD_TOKEN");
    if (tok) {
        cn->token = bh_xstrdup(tok);
    } else {
        cleanup_free char *path = bh_xasprintf("%s/token", state);
        bh_err_t e = BH_ERR_INIT;
        cn->token = read_line(path, &e);
        if (!cn->token)
            cn->token_hint = bh_xasprintf("\nhint: no API token was found: pass --token, set "
                                          "BULKHEAD_TOKEN, or --state-dir (%s)",
                                          bh_err_msg(&e));
        bh_err_clear(&e);
    }

    cn->c.url = cn->url;
    cn->c.token = cn->token;
    cn->c.user_agent = "bulkhead-cli/" BH_VERSION;
    cn->c.timeout_ms = REQUEST_TIMEOUT_MS;
    return 0;
}

/* Append text to err's message. */
static void err_append(bh_err_t *err, const char *text)
{
    char *m = bh_xasprintf("%s%s", bh_err_msg(err), text);
    free(err->msg);
    err->msg = m;
}

int cmd_call(struct conn *cn, const char *method, const char *path, const char *body,
             struct bh_client_resp *resp, bh_err_t *err)
{
    if (bh_client_request(&cn->c, method, path, body, resp, err) < 0) {
        if (err->errnum == ECONNREFUSED)
            err_append(err, " (is `bulkhead serve` running?)");
        return -1;
    }
    if (resp->status / 100 == 2)
        return 0;
    bh_client_resp_error(resp, err);
    if (resp->status == 401 && cn->token_hint)
        err_append(err, cn->token_hint);
    return -1;
}

int cmd_delete_each(struct conn *cn, const char *collection, char **ids, int n)
{
    int status = BH_EXIT_OK;
    for (int i = 0; i < n; i++) {
        cleanup_free char *e = bh_client_escape(ids[i]);
        cleanup_free char *path = bh_xasprintf("%s/%s", collection, e);
        cleanup_free char *safe = cmd_printable(ids[i]);
        bh_err_t err = BH_ERR_INIT;
        struct bh_client_resp resp __attribute__((cleanup(bh_client_resp_clear))) = {0};
        if (cmd_call(cn, "DELETE", path, NULL, &resp, &err) < 0) {
            int unreachable = resp.status == 0; /* no reply: the others fail too */
            if (!unreachable)
                bh_err_wrap(&err, "%s", safe);
            status = cmd_fail(&err);
            if (unreachable)
                break;
            continue;
        }
        printf("%s\n", safe);
    }
    return status;
}

char *cmd_printable(const char *s)
{
    char *out = bh_xstrdup(s);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return out;
}

int cmd_print_raw(const struct bh_client_resp *resp)
{
    fwrite(resp->body, 1, resp->len, stdout);
    if (!resp->len || resp->body[resp->len - 1] != '\n')
        putchar('\n');
    return BH_EXIT_OK;
}

json_t *cmd_parse_body(const struct bh_client_resp *resp, bh_err_t *err)
{
    json_error_t je;
    json_t *j = json_loadb(resp->body, resp->len, 0, &je);
    if (!j)
        bh_err_set(err, 0, "the server's reply is not JSON: %s", je.text);
    return j;
}

const char *cmd_str_or_dash(json_t *j)
{
    const char *s = json_string_value(j);
    return s && *s ? s : "-";
}

char *cmd_session_path(const char *id, const char *suffix)
{
    cleanup_free char *e = bh_client_escape(id);
    return bh_xasprintf(API "/%s%s", e, suffix ? suffix : "");
}

int cmd_parse_uint(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > INT_MAX)
        return -1;
    return (int)v;
}

int cmd_delete_args(int argc, char **argv, const struct cmd_desc *d, const char *collection,
                    const char *what)
{
    static const struct option longopts[] = {
        CONN_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct conn_opts o = {0};
    int c, rc;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
        if ((rc = cmd_conn_opt(c, &o, d)) >= 0)
            return rc;
    if (optind >= argc)
        return cmd_usage_error(d, "which %s? (one ID or more is needed)", what);
    for (int i = optind; i < argc; i++)
        if (!*argv[i])
            return cmd_usage_error(d, "an empty ID");
    bh_err_t err = BH_ERR_INIT;
    cleanup_conn struct conn cn = {0};
    if (cmd_conn_open(&cn, &o, &err) < 0)
        return cmd_fail(&err);
    return cmd_delete_each(&cn, collection, argv + optind, argc - optind);
}
