/* util.c — see util.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "lib/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

void bh_closep(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

void *bh_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

void *bh_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        abort();
    return q;
}

void *bh_xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p)
        abort();
    return p;
}

char *bh_xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        abort();
    return p;
}

char *bh_xasprintf(const char *fmt, ...)
{
    char *p = NULL;
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (r < 0)
        abort();
    return p;
}

int64_t bh_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t bh_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *bh_time_iso(int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[64];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return bh_xasprintf("%s.%03dZ", buf, (int)(ms % 1000));
}

int bh_random_hex(char *out, size_t nbytes, bh_err_t *err)
{
    unsigned char buf[64];
    if (nbytes > sizeof buf)
        return bh_err_set(err, EINVAL, "random_hex: too many bytes");
    if (getrandom(buf, nbytes, 0) != (ssize_t)nbytes)
        return bh_err_set(err, errno, "getrandom");
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hx[buf[i] >> 4];
        out[2 * i + 1] = hx[buf[i] & 15];
    }
    out[2 * nbytes] = 0;
    return 0;
}

int bh_mkdir_p(const char *path, mode_t mode, bh_err_t *err)
{
    cleanup_free char *p = bh_xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return bh_err_set(err, errno, "mkdir %s", p);
        *s = '/';
    }
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        return bh_err_set(err, errno, "mkdir %s", p);
    return 0;
}

static int rm_rf_at(int parent, const char *name, dev_t dev, bh_err_t *err)
{
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : bh_err_set(err, errno, "stat %s", name);
    if (S_ISDIR(st.st_mode)) {
        if (st.st_dev != dev)
            return bh_err_set(err, EBUSY, "%s is a mount point", name);
        int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return bh_err_set(err, errno, "open %s", name);
        DIR *d = fdopendir(fd);
        if (!d) {
            close(fd);
            return bh_err_set(err, errno, "opendir %s", name);
        }
        struct dirent *de;
        int rc = 0;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            if (rm_rf_at(dirfd(d), de->d_name, dev, err) < 0) {
                rc = -1;
                break;
            }
        }
        closedir(d);
        if (rc < 0)
            return -1;
        if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
            return bh_err_set(err, errno, "rmdir %s", name);
        return 0;
    }
    if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
        return bh_err_set(err, errno, "unlink %s", name);
    return 0;
}

int bh_rm_rf(const char *path, bh_err_t *err)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : bh_err_set(err, errno, "stat %s", path);
    return rm_rf_at(AT_FDCWD, path, st.st_dev, err);
}

int bh_write_file(const char *path, const void *data, size_t len, mode_t mode, bh_err_t *err)
{
    cleanup_free char *tmp = bh_xasprintf("%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return bh_err_set(err, errno, "create %s", tmp);
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            return bh_err_set(err, e, "write %s", tmp);
        }
        p += w;
        left -= (size_t)w;
    }
    if (fchmod(fd, mode) < 0 || close(fd) < 0) {
        int e = errno;
        unlink(tmp);
        return bh_err_set(err, e, "finish %s", tmp);
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return bh_err_set(err, e, "rename to %s", path);
    }
    return 0;
}

char *bh_read_file(const char *path, size_t *len_out, bh_err_t *err)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        bh_err_set(err, errno, "open %s", path);
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = bh_xmalloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb)
                abort();
            buf = nb;
        }
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            bh_err_set(err, errno, "read %s", path);
            free(buf);
            return NULL;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    buf[len] = 0;
    if (len_out)
        *len_out = len;
    return buf;
}

/* Append everything readable from fd to *buf. Returns 0 on EOF, 1 if more. */
static int drain(int fd, char **buf, size_t *len, size_t *cap)
{
    for (;;) {
        if (*len + 4097 > *cap) {
            *cap = *cap ? *cap * 2 : 8192;
            char *nb = realloc(*buf, *cap);
            if (!nb)
                abort();
            *buf = nb;
        }
        ssize_t r = read(fd, *buf + *len, *cap - *len - 1);
        if (r < 0)
            return (errno == EAGAIN || errno == EINTR) ? 1 : 0;
        if (r == 0)
            return 0;
        *len += (size_t)r;
        (*buf)[*len] = 0;
    }
}

int bh_run(char *const argv[], char **out, int check, bh_err_t *err)
{
    int op[2] = {-1, -1}, ep[2] = {-1, -1};
    if (pipe2(op, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(ep, O_CLOEXEC | O_NONBLOCK) < 0) {
        int e = errno;
        bh_closep(&op[0]);
        bh_closep(&op[1]);
        return bh_err_set(err, e, "pipe");
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, op[1], 1);
    posix_spawn_file_actions_adddup2(&fa, ep[1], 2);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none);
    sigset_t def;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGCHLD);
    posix_spawnattr_setsigdefault(&at, &def);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(op[1]);
    close(ep[1]);
    if (rc != 0) {
        close(op[0]);
        close(ep[0]);
        return bh_err_set(err, rc, "run %s", argv[0]);
    }
    char *obuf = NULL, *ebuf = NULL;
    size_t olen = 0, ocap = 0, elen = 0, ecap = 0;
    int oopen = 1, eopen = 1;
    while (oopen || eopen) {
        struct pollfd pf[2] = {{oopen ? op[0] : -1, POLLIN, 0}, {eopen ? ep[0] : -1, POLLIN, 0}};
        if (poll(pf, 2, -1) < 0 && errno != EINTR)
            break;
        if (oopen && pf[0].revents)
            oopen = drain(op[0], &obuf, &olen, &ocap);
        if (eopen && pf[1].revents)
            eopen = drain(ep[0], &ebuf, &elen, &ecap);
    }
    close(op[0]);
    close(ep[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            free(obuf);
            free(ebuf);
            return bh_err_set(err, errno, "waitpid %s", argv[0]);
        }
    }
    /* trim trailing newline of stderr for messages */
    while (elen && (ebuf[elen - 1] == '\n' || ebuf[elen - 1] == '\r'))
        ebuf[--elen] = 0;
    int ret;
    if (WIFSIGNALED(status)) {
        ret = bh_err_set(err, 0, "%s killed by signal %d%s%s", argv[0], WTERMSIG(status),
                         elen ? ": " : "", elen ? ebuf : "");
    } else {
        ret = WEXITSTATUS(status);
        if (check && ret != 0)
            ret = bh_err_set(err, 0, "%s %s exited with status %d%s%s", argv[0],
                             argv[1] ? argv[1] : "", WEXITSTATUS(status), elen ? ": " : "",
                             elen ? ebuf : "");
    }
    if (out && ret >= 0)
        *out = obuf ? obuf : bh_xstrdup("");
    else
        free(obuf);
    free(ebuf);
    return ret;
}
