/* cmd_client.c — `bulkhead create|ls|get|rm|screenshot|token`: the REST API from
 * the command line. Finding the daemon (flags, environment, state dir),
 * calling it through client.h, and printing for people or (--json) programs.
 * Exit statuses: 0 ok, 1 the request failed, 2 bad arguments. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "cmd.h"
#include "err.h"
#include "json.h"
#include "util.h"

#define REQUEST_TIMEOUT_MS 120000L /* create waits for the browser to be ready */
#define API "/api/v1/sessions"

/* ------------------------------------------------------------------------ */
/* Usage */

struct cmd_desc {
    const char *name;
    const char *usage; /* after "usage: bulkhead " */
    const char *help;  /* what it does and its own options */
};

static const char conn_help[] =
    "connection options (every client command):\n"
    "  --server URL        daemon address (else $BULKHEAD_URL, else <state-dir>/url,\n"
    "                      else " BH_DEFAULT_URL ")\n"
    "  --token TOKEN       API token (else $BULKHEAD_TOKEN, else <state-dir>/token)\n"
    "  --state-dir DIR     the daemon's state directory (else $BULKHEAD_STATE_DIR,\n"
    "                      else " BH_DEFAULT_STATE_DIR ")\n"
    "  -h, --help          show this help\n";

static const struct cmd_desc d_create = {
    "create",
    "create [--url PAGE] [--type TYPE] [--width W] [--height H]\n"
    "                       [--idle-timeout S] [--ttl S] [--page-load-timeout S] [--json]\n"
    "                       [connection options]",
    "Start a session and print its id once it is ready.\n\n"
    "  --url PAGE          page to open\n"
    "  --type TYPE         session type (browser)\n"
    "  --width W           viewport width in pixels\n"
    "  --height H          viewport height in pixels\n"
    "  --idle-timeout S    end the session after S seconds without activity\n"
    "  --ttl S             end the session S seconds after it started\n"
    "  --page-load-timeout S  wait at most S seconds for the page to load (it is\n"
    "                      ready then anyway, with the page's error)\n"
    "  --json              print the whole session object\n"
    "Options left out take the daemon's defaults.\n",
};
static const struct cmd_desc d_ls = {
    "ls",
    "ls [--status STATUS] [--json] [connection options]",
    "List sessions, newest first.\n\n"
    "  --status STATUS     only sessions in STATUS (starting, ready, ended)\n"
    "  --json              print the API's JSON reply\n",
};
static const struct cmd_desc d_get = {
    "get",
    "get ID [--json] [connection options]",
    "Show one session.\n\n"
    "  --json              print the session object\n",
};
static const struct cmd_desc d_rm = {
    "rm",
    "rm ID... [connection options]",
    "End sessions; prints each id removed. Fails if any could not be removed.\n",
};
static const struct cmd_desc d_screenshot = {
    "screenshot",
    "screenshot ID -o FILE [connection options]",
    "Save a PNG of the session's current page to FILE (written atomically),\n"
    "or to standard output with -o -.\n\n"
    "  -o, --output FILE   where to write the PNG\n",
};

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

static void print_help(const struct cmd_desc *d)
{
    printf("usage: bulkhead %s\n\n%s\n%s", d->usage, d->help, conn_help);
}

/* Print "bulkhead CMD: <msg>" (if fmt) and the usage line to stderr.
 * Returns BH_EXIT_USAGE. */
__attribute__((format(printf, 2, 3))) static int usage_error(const struct cmd_desc *d,
                                                            const char *fmt, ...)
{
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "bulkhead %s: ", d->name);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    fprintf(stderr, "usage: bulkhead %s\nTry 'bulkhead %s --help' for more.\n", d->usage,
            d->name);
    return BH_EXIT_USAGE;
}

/* Print the error as "bulkhead: <msg>" and return BH_EXIT_FAIL. */
static int fail(bh_err_t *err)
{
    fprintf(stderr, "bulkhead: %s\n", bh_err_msg(err));
    bh_err_clear(err);
    return BH_EXIT_FAIL;
}

/* ------------------------------------------------------------------------ */
/* Options every client command takes */

enum {
    OPT_SERVER = 0x100,
    OPT_TOKEN,
    OPT_STATE_DIR,
    OPT_JSON,
    OPT_STATUS,
    OPT_URL,
    OPT_TYPE,
    OPT_WIDTH,
    OPT_HEIGHT,
    OPT_IDLE,
    OPT_TTL,
    OPT_NAME,
    OPT_ROLE,
    OPT_MAXS,
    OPT_PAGELOAD,
};

#define CONN_LONGOPTS                                                                   \
    {"server", required_argument, NULL, OPT_SERVER},                                    \
        {"token", required_argument, NULL, OPT_TOKEN},                                  \
        {"state-dir", required_argument, NULL, OPT_STATE_DIR},                          \
        {"help", no_argument, NULL, 'h'}

struct conn_opts {
    const char *server, *token, *state_dir;
};

static int is_http_url(const char *s)
{
    return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

/* Start option parsing for command d: getopt's messages then read
 * "bulkhead CMD: ...". */
static void opts_begin(char **argv, const struct cmd_desc *d, char *prog, size_t size)
{
    snprintf(prog, size, "bulkhead %s", d->name);
    argv[0] = prog;
    optind = 1;
}

/* Handle an option that every client command takes. Returns -1 to go on
 * parsing, or the exit status the command returns now. */
static int conn_opt(int c, struct conn_opts *o, const struct cmd_desc *d)
{
    switch (c) {
    case OPT_SERVER:
        if (!is_http_url(optarg))
            return usage_error(d, "--server must be an http:// or https:// URL, not '%s'",
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
        print_help(d);
        return BH_EXIT_OK;
    default: /* getopt has said what was wrong */
        return usage_error(d, NULL);
    }
}

/* ------------------------------------------------------------------------ */
/* Connection: where the daemon is and how to authenticate */

struct conn {
    struct bh_client c;
    char *url;
    char *token;
    char *token_hint; /* why there is no token, appended to a 401; or NULL */
};

static void conn_clear(struct conn *cn)
{
    free(cn->url);
    free(cn->token);
    free(cn->token_hint);
    memset(cn, 0, sizeof *cn);
}
#define cleanup_conn __attribute__((cleanup(conn_clear)))

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

/* Resolve address and token: flags, then environment, then state dir files. */
static int conn_open(struct conn *cn, const struct conn_opts *o, bh_err_t *err)
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
        return bh_err_set(err, EINVAL, "server URL '%s' (from %s) is not an http:// URL",
                          cn->url, from);
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

/* One API call that must succeed with a 2xx reply: otherwise -1 with err
 * saying why (transport error or the API's error). */
static int call(struct conn *cn, const char *method, const char *path, const char *body,
                struct bh_client_resp *resp, bh_err_t *err)
{
    if (bh_client_request(&cn->c, method, path, body, resp, err) < 0) {
        if (err->status == ECONNREFUSED)
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

/* ------------------------------------------------------------------------ */
/* Output helpers */

/* s with control characters (terminal escapes from page titles and URLs)
 * replaced by '?'. Caller frees. */
static char *printable(const char *s)
{
    char *out = bh_xstrdup(s);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return out;
}

/* The body as the API sent it, newline-terminated. */
static int print_raw(const struct bh_client_resp *resp)
{
    fwrite(resp->body, 1, resp->len, stdout);
    if (!resp->len || resp->body[resp->len - 1] != '\n')
        putchar('\n');
    return BH_EXIT_OK;
}

static json_t *parse_body(const struct bh_client_resp *resp, bh_err_t *err)
{
    json_error_t je;
    json_t *j = json_loadb(resp->body, resp->len, 0, &je);
    if (!j)
        bh_err_set(err, 0, "the server's reply is not JSON: %s", je.text);
    return j;
}

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

static const char *str_or_dash(json_t *j)
{
    const char *s = json_string_value(j);
    return s && *s ? s : "-";
}

/* A session ID from the command line, escaped for the URL path. */
static char *session_path(const char *id, const char *suffix)
{
    cleanup_free char *e = bh_client_escape(id);
    return bh_xasprintf(API "/%s%s", e, suffix ? suffix : "");
}

/* Parse a non-negative int option; -1 if it is not one. */
static int parse_uint(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > INT_MAX)
        return -1;
    return (int)v;
}

/* ------------------------------------------------------------------------ */
/* create */

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
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    const struct cmd_desc *d = &d_create;
    struct conn_opts o = {0};
    const char *page = NULL, *type = NULL;
    int width = -1, height = -1, idle = -1, ttl = -1, pageload = -1, json = 0;
    char prog[64];
    opts_begin(argv, d, prog, sizeof prog);
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
        case OPT_JSON:
            json = 1;
            break;
        default:
            if ((rc = conn_opt(c, &o, d)) >= 0)
                return rc;
        }
        if (num && (*num = parse_uint(optarg)) < 0)
            return usage_error(d, "%s needs a whole number, not '%s'", name, optarg);
    }
    if (optind < argc)
        return usage_error(d, "unexpected argument '%s'%s", argv[optind],
                           page ? "" : " (the page to open goes after --url)");
    if ((width == 0 || height == 0))
        return usage_error(d, "the viewport size must be positive");

    bh_err_t err = BH_ERR_INIT;
    json_auto_t *body = json_object();
    if (type && json_object_set_new(body, "type", json_string(type)) < 0)
        return usage_error(d, "--type is not valid UTF-8");
    if (page && json_object_set_new(body, "url", json_string(page)) < 0)
        return usage_error(d, "--url is not valid UTF-8");
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
    if (conn_open(&cn, &o, &err) < 0 || call(&cn, "POST", API, text, &resp, &err) < 0)
        return fail(&err);
    json_auto_t *s = parse_body(&resp, &err);
    const char *id = json_string_value(json_object_get(s, "id"));
    if (!s || !id) {
        if (s)
            bh_err_set(&err, 0, "the server's reply has no session id");
        return fail(&err);
    }
    if (json)
        return print_raw(&resp);
    cleanup_free char *safe = printable(id);
    printf("%s\n", safe);
    return BH_EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* ls */

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
    opts_begin(argv, d, prog, sizeof prog);
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
            if ((rc = conn_opt(c, &o, d)) >= 0)
                return rc;
        }
    }
    if (optind < argc)
        return usage_error(d, "unexpected argument '%s'", argv[optind]);
    if (status && !*status)
        return usage_error(d, "--status needs a value");

    bh_err_t err = BH_ERR_INIT;
    cleanup_free char *esc = status ? bh_client_escape(status) : NULL;
    cleanup_free char *path = esc ? bh_xasprintf(API "?status=%s", esc) : bh_xstrdup(API);
    cleanup_conn struct conn cn = {0};
    struct bh_client_resp resp __attribute__((cleanup(bh_client_resp_clear))) = {0};
    if (conn_open(&cn, &o, &err) < 0 || call(&cn, "GET", path, NULL, &resp, &err) < 0)
        return fail(&err);
    json_auto_t *j = parse_body(&resp, &err);
    json_t *list = json_is_array(j) ? j : json_object_get(j, "sessions");
    if (!json_is_array(list)) {
        if (j)
            bh_err_set(&err, 0, "the server's reply has no \"sessions\" list");
        return fail(&err);
    }
    if (json)
        return print_raw(&resp);

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
        row[0] = printable(str_or_dash(json_object_get(s, "id")));
        row[1] = printable(str_or_dash(json_object_get(s, "status")));
        row[2] = bh_xstrdup(age);
        row[3] = printable(str_or_dash(json_object_get(s, "url")));
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

/* ------------------------------------------------------------------------ */
/* get */

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
    opts_begin(argv, d, prog, sizeof prog);
    int c, rc;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == OPT_JSON)
            json = 1;
        else if ((rc = conn_opt(c, &o, d)) >= 0)
            return rc;
    }
    if (optind >= argc || !*argv[optind])
        return usage_error(d, "which session? (an ID is needed)");
    if (optind + 1 < argc)
        return usage_error(d, "one session at a time ('%s' is one too many)",
                           argv[optind + 1]);

    bh_err_t err = BH_ERR_INIT;
    cleanup_free char *path = session_path(argv[optind], NULL);
    cleanup_conn struct conn cn = {0};
    struct bh_client_resp resp __attribute__((cleanup(bh_client_resp_clear))) = {0};
    if (conn_open(&cn, &o, &err) < 0 || call(&cn, "GET", path, NULL, &resp, &err) < 0)
        return fail(&err);
    json_auto_t *s = parse_body(&resp, &err);
    if (!json_is_object(s)) {
        if (s)
            bh_err_set(&err, 0, "the server's reply is not a session object");
        return fail(&err);
    }
    if (json)
        return print_raw(&resp);

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
        cleanup_free char *k = printable(json_string_value(json_array_get(p, 0)));
        cleanup_free char *v = printable(json_string_value(json_array_get(p, 1)));
        printf("%s:%*s %s\n", k, w - (int)strlen(k), "", v);
    }
    return BH_EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* rm */

int bh_cmd_rm(int argc, char **argv)
{
    static const struct option longopts[] = {
        CONN_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const struct cmd_desc *d = &d_rm;
    struct conn_opts o = {0};
    char prog[64];
    opts_begin(argv, d, prog, sizeof prog);
    int c, rc;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
        if ((rc = conn_opt(c, &o, d)) >= 0)
            return rc;
    if (optind >= argc)
        return usage_error(d, "which sessions? (one ID or more is needed)");
    for (int i = optind; i < argc; i++)
        if (!*argv[i])
            return usage_error(d, "an empty ID");

    bh_err_t err = BH_ERR_INIT;
    cleanup_conn struct conn cn = {0};
    if (conn_open(&cn, &o, &err) < 0)
        return fail(&err);
    int status = BH_EXIT_OK;
    for (int i = optind; i < argc; i++) {
        cleanup_free char *path = session_path(argv[i], NULL);
        struct bh_client_resp resp __attribute__((cleanup(bh_client_resp_clear))) = {0};
        if (call(&cn, "DELETE", path, NULL, &resp, &err) < 0) {
            int unreachable = resp.status == 0; /* no reply: the others fail too */
            if (!unreachable) {
                cleanup_free char *safe = printable(argv[i]);
                bh_err_wrap(&err, "%s", safe);
            }
            status = fail(&err);
            if (unreachable)
                break;
            continue;
        }
        cleanup_free char *safe = printable(argv[i]);
        printf("%s\n", safe);
    }
    return status;
}

/* ------------------------------------------------------------------------ */
/* screenshot */

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
    opts_begin(argv, d, prog, sizeof prog);
    int c, rc;
    while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        if (c == 'o')
            out = optarg;
        else if ((rc = conn_opt(c, &o, d)) >= 0)
            return rc;
    }
    if (optind >= argc || !*argv[optind])
        return usage_error(d, "which session? (an ID is needed)");
    if (optind + 1 < argc)
        return usage_error(d, "unexpected argument '%s'", argv[optind + 1]);
    if (!out || !*out)
        return usage_error(d, "where to? (-o FILE, or -o - for standard output)");
    int to_stdout = !strcmp(out, "-");
    if (to_stdout && isatty(STDOUT_FILENO))
        return usage_error(d, "standard output is a terminal; redirect it or use -o FILE");

    bh_err_t err = BH_ERR_INIT;
    cleanup_free char *path = session_path(argv[optind], "/screenshot");
    cleanup_conn struct conn cn = {0};
    struct bh_client_resp resp __attribute__((cleanup(bh_client_resp_clear))) = {0};
    if (conn_open(&cn, &o, &err) < 0 || call(&cn, "GET", path, NULL, &resp, &err) < 0)
        return fail(&err);
    if (resp.len < sizeof png_magic || memcmp(resp.body, png_magic, sizeof png_magic)) {
        bh_err_set(&err, 0, "the server's reply is not a PNG (%s, %zu bytes); nothing written",
                   resp.content_type ? resp.content_type : "no content type", resp.len);
        return fail(&err);
    }
    if (to_stdout) {
        if (fwrite(resp.body, 1, resp.len, stdout) != resp.len || fflush(stdout) != 0) {
            bh_err_set(&err, errno, "write to standard output");
            return fail(&err);
        }
        return BH_EXIT_OK;
    }
    mode_t mask = umask(0);
    umask(mask);
    if (bh_write_file(out, resp.body, resp.len, 0666 & ~mask, &err) < 0)
        return fail(&err);
    printf("wrote %s (%zu bytes)\n", out, resp.len);
    return BH_EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* token */

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
            if ((max = parse_uint(optarg)) < 1)
                return usage_error(d, "--max-sessions needs a whole number from 1, not '%s'",
                                   optarg);
            break;
        case OPT_JSON:
            json = 1;
            break;
        default:
            if ((rc = conn_opt(c, &o, d)) >= 0)
                return rc;
        }
    }
    if (optind < argc)
        return usage_error(d, "unexpected argument '%s'", argv[optind]);
    if (!name || !*name)
        return usage_error(d, "token create needs --name NAME");
    if (role && strcmp(role, "user") && strcmp(role, "admin"))
        return usage_error(d, "--role is user or admin, not '%s'", role);

    json_auto_t *body = json_object();
    if (json_object_set_new(body, "name", json_string(name)) < 0)
        return usage_error(d, "--name is not valid UTF-8");
    if (role)
        json_object_set_new(body, "role", json_string(role));
    if (max > 0)
        json_object_set_new(body, "maxSessions", json_integer(max));
    cleanup_free char *text = json_dumps(body, JSON_COMPACT);

    bh_err_t err = BH_ERR_INIT;
    cleanup_conn struct conn cn = {0};
    struct bh_client_resp resp __attribute__((cleanup(bh_client_resp_clear))) = {0};
    if (conn_open(&cn, &o, &err) < 0 || call(&cn, "POST", "/api/v1/tokens", text, &resp, &err) < 0)
        return fail(&err);
    json_auto_t *t = parse_body(&resp, &err);
    const char *secret = json_string_value(json_object_get(t, "token"));
    if (!t || !secret) {
        if (t)
            bh_err_set(&err, 0, "the server's reply has no token");
        return fail(&err);
    }
    if (json)
        return print_raw(&resp);
    cleanup_free char *id = printable(str_or_dash(json_object_get(t, "id")));
    cleanup_free char *sec = printable(secret);
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
        else if ((rc = conn_opt(c, &o, d)) >= 0)
            return rc;
    }
    if (optind < argc)
        return usage_error(d, "unexpected argument '%s'", argv[optind]);
    bh_err_t err = BH_ERR_INIT;
    cleanup_conn struct conn cn = {0};
    struct bh_client_resp resp __attribute__((cleanup(bh_client_resp_clear))) = {0};
    if (conn_open(&cn, &o, &err) < 0 || call(&cn, "GET", "/api/v1/tokens", NULL, &resp, &err) < 0)
        return fail(&err);
    json_auto_t *j = parse_body(&resp, &err);
    json_t *list = json_object_get(j, "tokens");
    if (!json_is_array(list)) {
        if (j)
            bh_err_set(&err, 0, "the server's reply has no \"tokens\" list");
        return fail(&err);
    }
    if (json)
        return print_raw(&resp);
    printf("%-16s  %-6s  %-12s  %s\n", "ID", "ROLE", "MAX-SESSIONS", "NAME");
    size_t i;
    json_t *t;
    json_array_foreach(list, i, t)
    {
        cleanup_free char *id = printable(str_or_dash(json_object_get(t, "id")));
        cleanup_free char *role = printable(str_or_dash(json_object_get(t, "role")));
        cleanup_free char *name = printable(str_or_dash(json_object_get(t, "name")));
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
    static const struct option longopts[] = {
        CONN_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct conn_opts o = {0};
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
        if ((rc = conn_opt(c, &o, d)) >= 0)
            return rc;
    if (optind >= argc)
        return usage_error(d, "which tokens? (one ID or more is needed)");
    for (int i = optind; i < argc; i++)
        if (!*argv[i])
            return usage_error(d, "an empty ID");
    bh_err_t err = BH_ERR_INIT;
    cleanup_conn struct conn cn = {0};
    if (conn_open(&cn, &o, &err) < 0)
        return fail(&err);
    int status = BH_EXIT_OK;
    for (int i = optind; i < argc; i++) {
        cleanup_free char *e = bh_client_escape(argv[i]);
        cleanup_free char *path = bh_xasprintf("/api/v1/tokens/%s", e);
        cleanup_free char *safe = printable(argv[i]);
        struct bh_client_resp resp __attribute__((cleanup(bh_client_resp_clear))) = {0};
        if (call(&cn, "DELETE", path, NULL, &resp, &err) < 0) {
            int unreachable = resp.status == 0;
            if (!unreachable)
                bh_err_wrap(&err, "%s", safe);
            status = fail(&err);
            if (unreachable)
                break;
            continue;
        }
        printf("%s\n", safe);
    }
    return status;
}

int bh_cmd_token(int argc, char **argv)
{
    const struct cmd_desc *d = &d_token;
    if (argc < 2)
        return usage_error(d, "which? create, ls or rm");
    const char *sub = argv[1];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        print_help(d);
        return BH_EXIT_OK;
    }
    int (*run)(int, char **, const struct cmd_desc *) = !strcmp(sub, "create") ? token_create
                                                        : !strcmp(sub, "ls")   ? token_ls
                                                        : !strcmp(sub, "rm")   ? token_rm
                                                                               : NULL;
    if (!run)
        return usage_error(d, "unknown token command '%s' (create, ls or rm)", sub);
    /* getopt's messages then read "bulkhead token: ..." */
    char prog[64];
    snprintf(prog, sizeof prog, "bulkhead token %s", sub);
    argv[1] = prog;
    return run(argc - 1, argv + 1, d);
}
