/* lease.c — see lease.h. */
#include "lib/lease.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int bh_lease_try(const char *dir, const char *name, const char *id, const char *what, bh_err_t *err)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (symlink(id, path) == 0)
        return 0;
    if (errno == EEXIST)
        return 1;
    return bh_err_set(err, errno, "%s %s", what, path);
}

void bh_lease_drop(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

int bh_lease_each(const char *dir, bh_lease_cb fn, void *data, const char *what, bh_err_t *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : bh_err_set(err, errno, "open %s", dir);
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char owner[256]; /* longer than any session id: a longer target is no owner */
        ssize_t n = readlinkat(dirfd(d), de->d_name, owner, sizeof owner - 1);
        if (n <= 0)
            continue;
        owner[n] = 0;
        rc = fn(dirfd(d), de->d_name, owner, data);
    }
    closedir(d);
    return rc < 0 ? bh_err_set(err, -rc, "%s", what) : 0;
}
