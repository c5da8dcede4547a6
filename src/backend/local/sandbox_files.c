/* sandbox_files.c — see sandbox_files.h. */
#include "backend/local/sandbox_files.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/util.h"

/* Open path (relative) below dirfd for `flags`, resolving inside dirfd as
 * the root and never through a symlink or magic link. */
static int open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .mode = (flags & O_CREAT) ? mode : 0,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

/* This thread's filesystem ids before put_file switched them. */
struct fsids {
    long uid, gid;
};

/* Puts this thread's filesystem ids back (cleanup of put_file). */
static void fsids_restore(struct fsids *prev)
{
    syscall(SYS_setfsuid, prev->uid);
    syscall(SYS_setfsgid, prev->gid);
}

int bh_sandbox_put_file(pid_t pid, uint32_t owner_uid, uint32_t owner_gid, const char *dir,
                        const char *name, const void *data, size_t len, bh_err_t *err)
{
    if (!name || !*name || name[0] == '.' || strlen(name) > 255 || strchr(name, '/'))
        return bh_err_set(err, EINVAL, "put file: bad file name");
    if (!dir || dir[0] != '/' || strstr(dir, ".."))
        return bh_err_set(err, EINVAL, "put file: bad directory");
    cleanup_free char *root_path = bh_xasprintf("/proc/%d/root", (int)pid);
    cleanup_close int root = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return bh_err_set(err, errno, "put file: the sandbox is gone");
    /* In a user namespace the sandbox's tmpfs belongs to it: host root,
     * unmapped there, cannot create in it (EOVERFLOW). From here on this
     * thread acts on files as the sandbox's user, who owns /tmp there
     * (setfsuid/setfsgid are per thread at the system call level). */
    __attribute__((cleanup(fsids_restore))) struct fsids prev;
    prev.gid = syscall(SYS_setfsgid, owner_gid);
    prev.uid = syscall(SYS_setfsuid, owner_uid);
    /* the directory: made if missing, then opened without following links */
    cleanup_close int d = open_beneath(root, dir + 1, O_PATH | O_DIRECTORY, 0);
    if (d < 0 && errno == ENOENT) {
        cleanup_free char *parent = bh_xstrdup(dir + 1);
        char *slash = strrchr(parent, '/');
        const char *leaf = slash ? slash + 1 : parent;
        if (slash)
            *slash = 0;
        cleanup_close int p = open_beneath(root, slash ? parent : ".", O_PATH | O_DIRECTORY, 0);
        if (p < 0 || (mkdirat(p, leaf, 0755) < 0 && errno != EEXIST))
            return bh_err_set(err, errno, "put file: mkdir %s", dir);
        d = open_beneath(root, dir + 1, O_PATH | O_DIRECTORY, 0);
    }
    if (d < 0)
        return bh_err_set(err, errno, "put file: %s is not a directory of the sandbox", dir);
    if (unlinkat(d, name, 0) < 0 && errno != ENOENT)
        return bh_err_set(err, errno, "put file: %s/%s is in the way", dir, name);
    cleanup_close int fd = open_beneath(
        d, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, 0644);
    if (fd < 0)
        return bh_err_set(err, errno, "put file: create %s/%s", dir, name);
    const char *p = data;
    for (size_t left = len; left > 0;) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            unlinkat(d, name, 0);
            return bh_err_set(err, e, "put file: write %s/%s", dir, name);
        }
        p += w;
        left -= (size_t)w;
    }
    if (fchmod(fd, 0644) < 0)
        return bh_err_set(err, errno, "put file: chmod %s/%s", dir, name);
    return 0;
}
