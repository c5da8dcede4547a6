/* cmd_cp.c — `bulkhead cp`: copy files and directories between here and a
 * shell session's workspace, through /api/v1/sessions/{id}/files/{path}.
 * Files are streamed from and to disk (never whole in memory); a directory
 * (-r) travels as a tar made or unpacked by tar(1). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cmd_common.h"
#include "cli/cmd_stream.h"

extern char **environ;

static const struct cmd_desc d_cp = {
    "cp",
    "cp [-r] LOCAL ID:PATH | cp [-r] ID:PATH LOCAL [connection options]",
    "Copy a file between here and shell session ID's workspace. PATH is\n"
    "relative to the workspace, /home/user (an absolute /home/user/… or ~/…\n"
    "is taken too); a PATH that ends in '/' (or is empty) is a directory to\n"
    "copy into under the file's own name, as is a LOCAL directory that exists.\n"
    "An upload replaces the file only once all of it arrived. Downloads are\n"
    "written to a temporary file next to LOCAL and renamed when complete.\n\n"
    "  -r, --recursive     copy a directory: its contents go into the target\n"
    "                      directory (made if missing), as a tar archive made\n"
    "                      or unpacked by tar(1)\n",
};

/* ------------------------------------------------------------------ paths */

/* "ID:PATH": an argument with a ':' before any '/' (so ./a:b is local). */
static int is_remote(const char *arg)
{
    const char *colon = strchr(arg, ':');
    return colon && colon != arg && memchr(arg, '/', (size_t)(colon - arg)) == NULL;
}

/* The workspace-relative form of a remote path, without '/' at either end
 * (*dir set when it ended in one, or is the workspace). NULL if it is an
 * absolute path outside the workspace. Caller frees. */
static char *workspace_path(const char *p, int *dir)
{
    if (!strncmp(p, "~/", 2) || !strcmp(p, "~"))
        p += 1;
    else if (!strncmp(p, "/home/user", 10) && (p[10] == '/' || !p[10]))
        p += 10;
    else if (*p == '/')
        return NULL;
    while (*p == '/')
        p++;
    char *s = bh_xstrdup(p);
    size_t n = strlen(s);
    *dir = n == 0 || s[n - 1] == '/' || !strcmp(s, ".");
    while (n && s[n - 1] == '/')
        s[--n] = 0;
    if (!strcmp(s, "."))
        s[0] = 0;
    return s;
}

/* Whether rel has a "." or ".." component (the daemon's HTTP layer folds
 * them away before the agent could refuse them, so they are refused here). */
static int has_dot_component(const char *rel)
{
    for (const char *p = rel; *p;) {
        size_t n = strcspn(p, "/");
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return 1;
        p += n + (p[n] == '/');
    }
    return 0;
}

/* Session id's remote path as workspace_path() gives it, or NULL and err
 * when it is outside the workspace or has a "." or ".." component. */
static char *remote_path(const char *id, const char *remote, int *dir, bh_err_t *err)
{
    char *rel = workspace_path(remote, dir);
    if (!rel) {
        bh_err_set(err, 0, "%s:%s is outside the workspace (/home/user)", id, remote);
    } else if (has_dot_component(rel)) {
        bh_err_set(err, 0, "%s:%s: paths in the workspace have no '.' or '..' component", id,
                   remote);
        free(rel);
        rel = NULL;
    }
    return rel;
}

/* The URL path of files/<rel>, each component escaped. */
static char *files_url(const char *id, const char *rel, const char *query)
{
    cleanup_free char *base = cmd_session_path(id, "/files/");
    char *out = bh_xstrdup(base);
    cleanup_free char *copy = bh_xstrdup(rel);
    char *save = NULL;
    int first = 1;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        cleanup_free char *e = bh_client_escape(c);
        char *n = bh_xasprintf("%s%s%s", out, first ? "" : "/", e);
        free(out);
        out = n;
        first = 0;
    }
    if (query) {
        char *n = bh_xasprintf("%s?%s", out, query);
        free(out);
        out = n;
    }
    return out;
}

/* The last component of p (p may end in '/'). Caller frees. */
static char *base_name(const char *p)
{
    cleanup_free char *s = bh_xstrdup(p);
    size_t n = strlen(s);
    while (n > 1 && s[n - 1] == '/')
        s[--n] = 0;
    return bh_xstrdup(basename(s));
}

/* --------------------------------------------------------------- errors */

/* The API's error for the remote path, said for people. Returns -1. */
static int files_error(const struct bh_client_resp *resp, bh_err_t *err, const char *what)
{
    json_auto_t *j = resp->body ? json_loadb(resp->body, resp->len, 0, NULL) : NULL;
    const char *code = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    static const struct {
        const char *code, *text;
    } texts[] = {
        {"invalid_path", "not a valid workspace path (no '.', '..' or empty components)"},
        {"path_escapes", "leads out of the workspace (a symlink that points outside it)"},
        {"not_a_regular_file", "not a regular file (a device, FIFO or socket)"},
        {"not_found", "no such file or directory"},
        {"not_a_directory", "not a directory (or a component of it is not)"},
        {"is_a_directory", "is a directory (use -r)"},
        {"directory_not_empty", "a directory that is not empty is in the way"},
        {"insufficient_storage", "the workspace is full; nothing of it was kept (create the "
                                 "session with a larger --workspace)"},
        {"no_space", "the workspace is full; nothing of it was kept (create the session with a "
                     "larger --workspace)"},
    };
    for (size_t i = 0; code && i < sizeof texts / sizeof texts[0]; i++)
        if (!strcmp(code, texts[i].code))
            return bh_err_set(err, 0, "%s: %s (%s, HTTP %ld)", what, texts[i].text, code,
                              resp->status);
    bh_client_resp_error(resp, err);
    return bh_err_wrap(err, "%s", what);
}

/* ------------------------------------------------------------------- tar */

/* Start tar with args; its stdin or stdout (in_fd / out_fd, -1: ours) set.
 * The pid, or -1 with err. */
static pid_t spawn_tar(char *const args[], int in_fd, int out_fd, bh_err_t *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (in_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO);
    if (out_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
    pid_t pid;
    int rc = posix_spawnp(&pid, "tar", &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc) {
        bh_err_set(err, rc, "cannot run tar");
        return -1;
    }
    return pid;
}

static int wait_tar(pid_t pid, bh_err_t *err)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return bh_err_set(err, errno, "waitpid tar");
    if (!WIFEXITED(st) || WEXITSTATUS(st))
        return bh_err_set(err, 0, "tar failed (its message is above)");
    return 0;
}

/* ---------------------------------------------------------------- upload */

static int upload(struct conn *cn, const char *id, const char *local, const char *remote,
                  int recursive, bh_err_t *err)
{
    struct stat st;
    if (stat(local, &st) < 0)
        return bh_err_set(err, errno, "%s", local);
    int dir = 0;
    cleanup_free char *rel = remote_path(id, remote, &dir, err);
    if (!rel)
        return -1;
    cleanup_free char *what = bh_xasprintf("%s:%s", id, remote);

    if (S_ISDIR(st.st_mode)) {
        if (!recursive)
            return bh_err_set(err, 0, "%s is a directory (use -r)", local);
        /* the tar goes to an unnamed temporary file, so its size is known */
        const char *tmpdir = getenv("TMPDIR");
        cleanup_close int fd = open(tmpdir && *tmpdir ? tmpdir : "/tmp", O_TMPFILE | O_RDWR, 0600);
        if (fd < 0)
            return bh_err_set(err, errno, "temporary file");
        char *args[] = {"tar", "-c", "-f", "-", "-C", (char *)local, ".", NULL};
        pid_t pid = spawn_tar(args, -1, fd, err);
        if (pid < 0 || wait_tar(pid, err) < 0)
            return -1;
        struct stat ts;
        if (fstat(fd, &ts) < 0 || lseek(fd, 0, SEEK_SET) < 0)
            return bh_err_set(err, errno, "temporary file");
        cleanup_free char *url = files_url(id, rel, NULL);
        struct bh_client_resp resp __attribute__((cleanup(bh_client_resp_clear))) = {0};
        if (bh_client_upload(&cn->c, "PUT", url, "application/x-tar", fd, (long long)ts.st_size,
                             &resp, err) < 0)
            return -1;
        if (resp.status / 100 != 2)
            return files_error(&resp, err, what);
        return 0;
    }
    if (!S_ISREG(st.st_mode))
        return bh_err_set(err, 0, "%s is not a regular file", local);
    cleanup_close int fd = open(local, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0)
        return bh_err_set(err, errno, "%s", local);
    cleanup_free char *name = base_name(local);
    cleanup_free char *target = dir ? bh_xasprintf("%s%s%s", rel, *rel ? "/" : "", name)
                                    : bh_xstrdup(rel);
    cleanup_free char *url = files_url(id, target, NULL);
    struct bh_client_resp resp __attribute__((cleanup(bh_client_resp_clear))) = {0};
    if (bh_client_upload(&cn->c, "PUT", url, "application/octet-stream", fd, (long long)st.st_size,
                         &resp, err) < 0)
        return -1;
    if (resp.status / 100 != 2)
        return files_error(&resp, err, what);
    return 0;
}

/* -------------------------------------------------------------- download */

struct file_sink {
    int fd;
};

static int file_sink_cb(void *arg, const void *data, size_t len)
{
    struct file_sink *s = arg;
    return cmd_write_all(s->fd, data, len);
}

struct tar_sink {
    const char *dir;
    int fd; /* tar's stdin; -1 before the first byte */
    pid_t pid;
    bh_err_t err;
};

static int tar_sink_cb(void *arg, const void *data, size_t len)
{
    struct tar_sink *s = arg;
    if (s->fd < 0) { /* the reply is an archive: start tar */
        if (bh_mkdir_p(s->dir, 0777, &s->err) < 0)
            return -1;
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
            return bh_err_set(&s->err, errno, "pipe");
        char *args[] = {"tar", "-x", "--no-same-owner", "-f", "-", "-C", (char *)s->dir, NULL};
        s->pid = spawn_tar(args, p[0], -1, &s->err);
        close(p[0]);
        if (s->pid < 0) {
            close(p[1]);
            return -1;
        }
        s->fd = p[1];
    }
    if (cmd_write_all(s->fd, data, len) < 0)
        return bh_err_set(&s->err, errno, "tar stopped reading");
    return 0;
}

static int download_dir(struct conn *cn, const char *id, const char *rel, const char *what,
                        const char *local, bh_err_t *err)
{
    cleanup_free char *url = files_url(id, rel, "format=tar");
    struct tar_sink s = {.dir = local, .fd = -1, .pid = -1, .err = BH_ERR_INIT};
    struct bh_client_resp resp __attribute__((cleanup(bh_client_resp_clear))) = {0};
    int rc = bh_client_download(&cn->c, url, tar_sink_cb, &s, &resp, err);
    if (s.fd >= 0)
        close(s.fd); /* the archive's end */
    int tar_rc = s.pid > 0 ? wait_tar(s.pid, rc < 0 ? NULL : err) : 0;
    if (s.err.msg) {
        bh_err_clear(err);
        *err = s.err;
        return -1;
    }
    if (rc < 0 || tar_rc < 0)
        return -1;
    if (resp.status / 100 != 2)
        return files_error(&resp, err, what);
    if (!resp.streamed)
        return bh_err_set(err, 0, "%s: the server sent no archive (%s)", what,
                          resp.content_type ? resp.content_type : "no content type");
    return 0;
}

static int download(struct conn *cn, const char *id, const char *remote, const char *local,
                    int recursive, bh_err_t *err)
{
    int dir = 0;
    cleanup_free char *rel = remote_path(id, remote, &dir, err);
    if (!rel)
        return -1;
    cleanup_free char *what = bh_xasprintf("%s:%s", id, remote);
    if (recursive)
        return download_dir(cn, id, rel, what, local, err);

    /* into an existing directory (or one named with a trailing '/') */
    struct stat st;
    size_t ln = strlen(local);
    cleanup_free char *target = NULL;
    if ((stat(local, &st) == 0 && S_ISDIR(st.st_mode)) || (ln && local[ln - 1] == '/')) {
        if (!*rel)
            return bh_err_set(err, 0, "%s is the workspace, a directory (use -r)", what);
        cleanup_free char *name = base_name(rel);
        target = bh_xasprintf("%s%s%s", local, local[ln - 1] == '/' ? "" : "/", name);
    } else {
        target = bh_xstrdup(local);
    }
    /* a temporary file next to the target, renamed once complete */
    cleanup_free char *dcopy = bh_xstrdup(target);
    cleanup_free char *tname = base_name(target);
    cleanup_free char *tmp = bh_xasprintf("%s/.%s.bhcp-XXXXXX", dirname(dcopy), tname);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return bh_err_set(err, errno, "cannot write next to %s", target);
    struct file_sink s = {fd};
    cleanup_free char *url = files_url(id, rel, NULL);
    struct bh_client_resp resp __attribute__((cleanup(bh_client_resp_clear))) = {0};
    int rc = bh_client_download(&cn->c, url, file_sink_cb, &s, &resp, err);
    if (rc == 0 && resp.status / 100 != 2)
        rc = files_error(&resp, err, what);
    else if (rc == 0 && !resp.streamed)
        rc = bh_err_set(err, 0, "%s is a directory (use -r)", what);
    if (rc == 0) {
        mode_t mask = umask(0);
        umask(mask);
        if (fchmod(fd, 0666 & ~mask) < 0 || fsync(fd) < 0 || close(fd) < 0) {
            fd = -1;
            rc = bh_err_set(err, errno, "%s", target);
        }
        fd = -1;
        if (rc == 0 && rename(tmp, target) < 0)
            rc = bh_err_set(err, errno, "%s", target);
    }
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        unlink(tmp);
    return rc;
}

int bh_cmd_cp(int argc, char **argv)
{
    static const struct option longopts[] = {
        CONN_LONGOPTS,
        {"recursive", no_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    const struct cmd_desc *d = &d_cp;
    struct conn_opts o = {0};
    int recursive = 0;
    char prog[64];
    cmd_opts_begin(argv, d, prog, sizeof prog);
    int c, rc;
    while ((c = getopt_long(argc, argv, "hr", longopts, NULL)) != -1) {
        if (c == 'r')
            recursive = 1;
        else if ((rc = cmd_conn_opt(c, &o, d)) >= 0)
            return rc;
    }
    if (argc - optind != 2)
        return cmd_usage_error(d, "a source and a target are needed");
    const char *src = argv[optind], *dst = argv[optind + 1];
    int rs = is_remote(src), rd = is_remote(dst);
    if (rs == rd)
        return cmd_usage_error(d, rs ? "one side must be local" : "one side must be ID:PATH");
    const char *arg = rs ? src : dst;
    cleanup_free char *id = strndup(arg, (size_t)(strchr(arg, ':') - arg));
    const char *remote = strchr(arg, ':') + 1;
    if (!*(rs ? dst : src))
        return cmd_usage_error(d, "an empty local path");

    bh_err_t err = BH_ERR_INIT;
    cleanup_conn struct conn cn = {0};
    if (cmd_conn_open(&cn, &o, &err) < 0 || cmd_shell_session(&cn, id, &err) < 0)
        return cmd_fail(&err);
    cn.c.timeout_ms = 0; /* a large file takes its time */
    if ((rs ? download(&cn, id, remote, dst, recursive, &err)
            : upload(&cn, id, src, remote, recursive, &err)) < 0) {
        bh_err_wrap(&err, "cp");
        return cmd_fail(&err);
    }
    return BH_EXIT_OK;
}
