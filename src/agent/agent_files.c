/* agent_files.c — the workspace's files for the daemon: a file's bytes or
 * a directory's listing (GET), an upload into an unnamed file linked into
 * place once complete (PUT), removal (DELETE). Every path is resolved
 * beneath the workspace (openat2 RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
 * the daemon checked its syntax already. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/agent.h"
#include "kinds/shell/wire.h"

/* ----------------------------------------------------------------- paths */

int ag_resolve(int dirfd, const char *path, int flags, mode_t mode)
{
    struct open_how how = {
        .flags = (uint64_t)flags | O_CLOEXEC,
        .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, dirfd, *path ? path : ".", &how, sizeof how);
}

/* The directory that path's last component is in (made, with its parents,
 * when mk), as an O_PATH fd, and that component in *name. -1 and errno. */
int ag_parent_of(const char *path, int mk, char *name, size_t name_size)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base || strlen(base) >= name_size) {
        errno = EINVAL;
        return -1;
    }
    snprintf(name, name_size, "%s", base);
    size_t dl = slash ? (size_t)(slash - path) : 0;
    if (dl >= sizeof dir) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(dir, path, dl);
    dir[dl] = 0;
    int fd = ag_resolve(ag_ws_fd, dir, O_PATH | O_DIRECTORY, 0);
    if (fd >= 0 || errno != ENOENT || !mk)
        return fd;
    /* make the directories one at a time, each beneath the one before */
    int cur = dup(ag_ws_fd);
    char *save = NULL;
    for (char *c = strtok_r(dir, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (mkdirat(cur, c, 0755) < 0 && errno != EEXIST) {
            int e = errno;
            close(cur);
            errno = e;
            return -1;
        }
        int next = ag_resolve(cur, c, O_PATH | O_DIRECTORY, 0);
        int e = errno;
        close(cur);
        if (next < 0) {
            errno = e;
            return -1;
        }
        cur = next;
    }
    return cur;
}

void ag_do_get(uint32_t id, const char *rec, size_t len)
{
    struct stream *s = ag_stream_new(id, S_GET);
    if (!s)
        return;
    const char *path = ag_rec_get(rec, len, "path", 0);
    int fd = ag_resolve(ag_ws_fd, path ? path : "", O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        ag_send_error(id, errno, path);
        ag_closep(&fd);
        ag_stream_free(s);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        ag_send_record(A_META, id, "type=dir");
        DIR *d = fdopendir(fd);
        struct buf list = {0};
        for (struct dirent *e; d && (e = readdir(d));) {
            struct stat es;
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || strpbrk(e->d_name, "\t\n") ||
                fstatat(dirfd(d), e->d_name, &es, AT_SYMLINK_NOFOLLOW) < 0)
                continue;
            char t = S_ISREG(es.st_mode)   ? 'f'
                     : S_ISDIR(es.st_mode) ? 'd'
                     : S_ISLNK(es.st_mode) ? 'l'
                                           : 'o';
            char line[512];
            int n = snprintf(line, sizeof line, "%c\t%lld\t%o\t%lld\t%s\n", t,
                             (long long)es.st_size, (unsigned)(es.st_mode & 07777),
                             (long long)es.st_mtime, e->d_name);
            if (n > 0 && (size_t)n < sizeof line)
                ag_buf_add(&list, line, (size_t)n);
        }
        if (d)
            closedir(d);
        else
            close(fd);
        if (list.len)
            ag_send_frames(A_OUT, id, list.p + list.start, list.len);
        ag_buf_free(&list);
        ag_send_record(A_EXIT, id, "code=0");
        ag_stream_free(s);
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        ag_send_error(id, EPERM, "not a regular file");
        ag_stream_free(s);
        return;
    }
    fcntl(fd, F_SETFL, 0);
    s->fd = fd;
    ag_send_record(A_META, id, "type=file\nsize=%lld", (long long)st.st_size);
}

void ag_do_put(uint32_t id, const char *rec, size_t len)
{
    struct stream *s = ag_stream_new(id, S_PUT);
    if (!s)
        return;
    const char *path = ag_rec_get(rec, len, "path", 0);
    s->dir_fd = path ? ag_parent_of(path, 1, s->name, sizeof s->name) : -1;
    if (s->dir_fd < 0) {
        ag_send_error(id, path ? errno : EINVAL, path ? path : "no path");
        ag_stream_free(s);
        return;
    }
    struct stat st;
    if (fstatat(s->dir_fd, s->name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
        ag_send_error(id, EISDIR, path);
        ag_stream_free(s);
        return;
    }
    s->fd = ag_resolve(s->dir_fd, "", O_TMPFILE | O_WRONLY, 0644);
    if (s->fd < 0) {
        ag_send_error(id, errno, path);
        ag_stream_free(s);
    }
}

void ag_put_data(struct stream *s, const char *d, size_t n)
{
    while (n > 0) {
        ssize_t w = write(s->fd, d, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            ag_send_error(s->id, errno, s->name);
            ag_stream_free(s); /* the unnamed file goes with its fd */
            return;
        }
        s->size += w;
        d += w;
        n -= (size_t)w;
    }
}

void ag_put_commit(struct stream *s)
{
    char proc[64], tmp[300];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", s->fd);
    for (int i = 0;; i++) {
        snprintf(tmp, sizeof tmp, ".bh-upload-%d-%u-%d", (int)getpid(), s->id, i);
        if (linkat(AT_FDCWD, proc, s->dir_fd, tmp, AT_SYMLINK_FOLLOW) == 0)
            break;
        if (errno != EEXIST || i > 100) {
            ag_send_error(s->id, errno, s->name);
            ag_stream_free(s);
            return;
        }
    }
    if (renameat(s->dir_fd, tmp, s->dir_fd, s->name) < 0) {
        int e = errno;
        unlinkat(s->dir_fd, tmp, 0);
        ag_send_error(s->id, e, s->name);
        ag_stream_free(s);
        return;
    }
    ag_send_record(A_EXIT, s->id, "code=0\nsize=%lld", s->size);
    ag_stream_free(s);
}

/* Remove name in dir, directories with what is in them. */
static int remove_tree(int dir, const char *name)
{
    if (unlinkat(dir, name, 0) == 0)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return -1;
    int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    int rc = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            remove_tree(dirfd(d), e->d_name) < 0)
            rc = -1;
    closedir(d);
    return rc < 0 ? -1 : unlinkat(dir, name, AT_REMOVEDIR);
}

void ag_do_del(uint32_t id, const char *rec, size_t len)
{
    const char *path = ag_rec_get(rec, len, "path", 0);
    char name[256];
    int dir = path ? ag_parent_of(path, 0, name, sizeof name) : -1;
    if (dir < 0) {
        ag_send_error(id, path ? errno : EINVAL, path ? path : "no path");
        return;
    }
    int rc = unlinkat(dir, name, 0);
    if (rc < 0 && (errno == EISDIR || errno == EPERM)) {
        rc = unlinkat(dir, name, AT_REMOVEDIR);
        if (rc < 0 && (errno == ENOTEMPTY || errno == EEXIST) &&
            ag_rec_num(rec, len, "recursive", 0))
            rc = remove_tree(dir, name);
    }
    if (rc < 0)
        ag_send_error(id, errno, path);
    else
        ag_send_record(A_EXIT, id, "code=0");
    close(dir);
}

void ag_get_read(struct stream *s)
{
    char tmp[BH_WIRE_DATA];
    ssize_t r = read(s->fd, tmp, sizeof tmp);
    if (r < 0 && errno == EINTR)
        return;
    if (r < 0) {
        ag_send_error(s->id, errno, "read");
        ag_stream_free(s);
        return;
    }
    if (r == 0) {
        ag_send_record(A_EXIT, s->id, "code=0\nsize=%lld", s->size);
        ag_stream_free(s);
        return;
    }
    s->size += r;
    ag_send_frames(A_OUT, s->id, tmp, (size_t)r);
}
