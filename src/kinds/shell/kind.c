/* kind.c — the shell kind's table (kinds/kind.h): its part of the create
 * body (workspace, lab), its process (the agent), its JSON and saved
 * settings, its routes (terminal, exec, files, check) and its metrics. */
#include "kinds/shell/shell_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kinds/shell/shell.h"
#include "lib/util.h"

#define WORKSPACE_DEFAULT (64ull << 20)
#define WORKSPACE_MAX (4ull << 30)

static const char *const fields[] = {"workspace", "lab", NULL};

struct shell_opts {
    uint64_t workspace_bytes;
    struct shell_lab lab; /* lab.name NULL: none */
};

static void free_opts(void *opts)
{
    struct shell_opts *o = opts;
    if (!o)
        return;
    shell_lab_clear(&o->lab);
    free(o);
}

static int validate(json_t *root, const struct bh_config *cfg, void **out, struct bh_invalid *why)
{
    struct shell_opts *o = bh_xcalloc(1, sizeof *o);
    o->workspace_bytes = WORKSPACE_DEFAULT;
    json_t *lab = json_object_get(root, "lab");
    if (lab) {
        bh_err_t err = BH_ERR_INIT;
        if (!json_is_string(lab)) {
            bh_invalid(why, "invalid_field", "lab must be a string (GET /api/v1/labs)");
            goto fail;
        }
        if (shell_lab_load(cfg->labs_dir, json_string_value(lab), &o->lab, &err) < 0) {
            bh_invalid(why, err.kind == BH_E_NOT_FOUND ? "unknown_lab" : "invalid_lab", "%s",
                       bh_err_msg(&err));
            bh_err_clear(&err);
            goto fail;
        }
        if (o->lab.workspace_bytes)
            o->workspace_bytes = o->lab.workspace_bytes;
    }
    uint64_t limit = cfg->memory_bytes < WORKSPACE_MAX ? cfg->memory_bytes : WORKSPACE_MAX;
    json_t *ws = json_object_get(root, "workspace");
    if (ws) {
        static const char *const wkeys[] = {"sizeBytes", NULL};
        json_t *sz = json_is_object(ws) ? json_object_get(ws, "sizeBytes") : NULL;
        if (json_is_object(ws) && bh_check_keys(ws, "workspace.", wkeys, why) < 0)
            goto fail;
        if (!json_is_object(ws) ||
            (sz && (!json_is_integer(sz) || json_integer_value(sz) < (1 << 20) ||
                    (uint64_t)json_integer_value(sz) > limit))) {
            bh_invalid(why, "invalid_field",
                       "workspace must be {\"sizeBytes\": 1 MiB to %llu} (the memory limit, at "
                       "most 4 GiB)",
                       (unsigned long long)limit);
            goto fail;
        }
        if (sz)
            o->workspace_bytes = (uint64_t)json_integer_value(sz);
    }
    if (o->workspace_bytes > limit)
        o->workspace_bytes = limit;
    *out = o;
    return 0;
fail:
    free_opts(o);
    return -1;
}

static json_t *network(const void *opts)
{
    const struct shell_opts *o = opts;
    return o ? o->lab.network : NULL;
}

static int ttl_limit(const void *opts)
{
    const struct shell_opts *o = opts;
    return o ? o->lab.time_limit : 0;
}

static void *create(bh_session_t *s, const struct bh_session_ops *so, void *opts,
                    struct bh_session_row *row)
{
    struct shell_opts *o = opts;
    struct shell *sh = bh_xcalloc(1, sizeof *sh);
    sh->s = s;
    sh->so = so;
    (void)row;
    if (o) {
        sh->workspace_bytes = o->workspace_bytes;
        if (o->lab.name) {
            sh->lab = steal_pointer(&o->lab.name);
            sh->setup = steal_pointer(&o->lab.setup);
        }
    }
    sh->synced = 1;
    free_opts(o);
    return sh;
}

char *shell_check_script(struct shell *sh)
{
    if (!sh->lab)
        return NULL;
    struct shell_lab lab;
    bh_err_t err = BH_ERR_INIT;
    if (shell_lab_load(sh->so->config(sh->s)->labs_dir, sh->lab, &lab, &err) < 0) {
        bh_err_clear(&err);
        return NULL;
    }
    char *check = steal_pointer(&lab.check);
    shell_lab_clear(&lab);
    return check;
}

static void destroy(void *k)
{
    struct shell *sh = k;
    shell_chan_close(sh);
    shell_buf_free(&sh->scroll);
    free(sh->lab);
    free(sh->setup);
    free(sh);
}

static void save(void *k, json_t *o)
{
    struct shell *sh = k;
    json_object_set_new(o, "workspace",
                        json_pack("{s:I}", "sizeBytes", (json_int_t)sh->workspace_bytes));
    if (sh->lab)
        json_object_set_new(o, "lab", json_string(sh->lab));
}

static const char *const agent_argv[] = {BH_AGENT_PATH, NULL};
static const char *const agent_env[] = {"HOME=" BH_WORKSPACE, "PATH=/usr/bin:/bin", "LANG=C.UTF-8",
                                        NULL};

static void process(void *k, const struct bh_config *cfg, struct bh_process *p)
{
    struct shell *sh = k;
    (void)cfg;
    p->argv = agent_argv;
    p->env = agent_env;
    p->uid = 1000;
    p->gid = 1000;
    p->channel = 1;
    p->workspace_bytes = sh->workspace_bytes;
}

static void process_free(void *k, struct bh_process *p)
{
    (void)k;
    memset(p, 0, sizeof *p);
}

static void attach(void *k, int fd_in, int fd_out, int adopted)
{
    struct shell *sh = k;
    sh->adopted = adopted;
    if (shell_chan_open(sh, fd_in, fd_out) < 0) {
        sh->so->kind_failed(sh->s, "error", "the agent's channel could not be watched");
        return;
    }
    if (adopted) {
        /* what the previous daemon left half-read is skipped: nothing
         * counts until the answer to our HELLO */
        bh_err_t err = BH_ERR_INIT;
        if (bh_random_hex(sh->nonce, 16, &err) < 0) {
            bh_err_clear(&err);
            snprintf(sh->nonce, sizeof sh->nonce, "%032llx", (unsigned long long)bh_mono_ms());
        }
        sh->synced = 0;
        free(sh->setup); /* it ran before */
        sh->setup = NULL;
        shell_send(sh, W_HELLO, 0, sh->nonce, strlen(sh->nonce));
    }
}

static void ready(void *k) { (void)k; }

static void ready_event(void *k, json_t *d)
{
    struct shell *sh = k;
    if (sh->lab)
        json_object_set_new(d, "lab", json_string(sh->lab));
}

static void detach(void *k, int code, const char *why)
{
    struct shell *sh = k;
    shell_term_close_all(sh, code, why);
    shell_ops_abort(sh);
    shell_chan_close(sh);
}

/* No ended_by_client, log_noise, watched or refresh: nothing of a shell
 * ends it from the inside, all it prints counts, a terminal left open
 * does not keep it alive, and its JSON is always up to date. */

static void json(void *k, const struct bh_session_row *r, const char *base, json_t *o)
{
    (void)k;
    const char *wsbase = !strncmp(base, "https://", 8) ? "wss://" : "ws://";
    const char *hostpart = strstr(base, "://") ? strstr(base, "://") + 3 : base;
    struct shell *sh = k;
    char *term = bh_xasprintf("%s%s/api/v1/sessions/%s/terminal", wsbase, hostpart, r->id);
    char *view = bh_xasprintf("%s/term/%s", base, r->id);
    json_object_set_new(o, "urls", json_pack("{s:s, s:s}", "terminal", term, "view", view));
    free(term);
    free(view);
    if (sh) {
        json_object_set_new(o, "workspace",
                            json_pack("{s:I}", "sizeBytes", (json_int_t)sh->workspace_bytes));
        json_object_set_new(o, "lab", sh->lab ? json_string(sh->lab) : json_null());
    }
}

static unsigned url_scopes(const char *key)
{
    if (!strcmp(key, "terminal") || !strcmp(key, "view"))
        return BH_SCOPE_VIEW | BH_SCOPE_CONTROL;
    return 0;
}

static void serve_terminal(void *k, bh_req_t *req, const struct bh_route_call *c)
{
    struct shell *sh = k;
    if (!shell_not_ready(sh, req, c))
        shell_term_accept(sh, req, c->input);
}

static const struct bh_kind_route routes[] = {
    {"WS", "/terminal", BH_SCOPE_VIEW | BH_SCOPE_CONTROL, serve_terminal, 0},
    {"WS", "/exec", 0, shell_serve_exec_ws, 0},
    {"POST", "/exec", 0, shell_serve_exec, 0},
    {"POST", "/check", 0, shell_serve_check, 0},
    {"GET", "/files", 0, shell_serve_files_get, 0},
    {"GET", "/files/", 0, shell_serve_files_get, 0},
    {"PUT", "/files/", 0, shell_serve_files_put, 1},
    {"DELETE", "/files/", 0, shell_serve_files_del, 0},
    {NULL, NULL, 0, NULL, 0},
};

/* Debian's commands reach vim, editor, pager... through /etc/alternatives. */
static const char *const etc_copy[] = {"alternatives", "bash.bashrc", "profile", "inputrc",
                                       "vim",          "gitconfig",   NULL};

static const struct bh_kind_metric metrics[] = {
    {"bulkhead_terminal_viewers", "Connected terminal viewers.", 0},
    {"bulkhead_execs_total", "Commands run by exec.", 1},
    {"bulkhead_lab_checks_total", "Lab checks run.", 1},
    {"bulkhead_terminal_bytes_total", "Bytes of terminal output read from shell sessions.", 1},
};

static void metric_values(void *k, unsigned long long *v)
{
    struct shell *sh = k;
    v[0] = (unsigned long long)shell_term_viewers(sh);
    v[1] = sh->execs;
    v[2] = sh->checks;
    v[3] = sh->bytes_out;
}

const struct bh_kind bh_kind_shell = {
    .name = "shell",
    .fields = fields,
    .validate = validate,
    .free_opts = free_opts,
    .ttl_limit = ttl_limit,
    .network = network,
    .create = create,
    .save = save,
    .process = process,
    .process_free = process_free,
    .attach = attach,
    .ready = ready,
    .ready_event = ready_event,
    .detach = detach,
    .destroy = destroy,
    .json = json,
    .url_scopes = url_scopes,
    .routes = routes,
    .etc_copy = etc_copy,
    .metrics = metrics,
    .nmetrics = 4,
    .metric_values = metric_values,
};
