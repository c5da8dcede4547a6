/* sandbox_image.c — see sandbox_image.h. */
#include "backend/local/sandbox_image.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/local/sandbox.h"
#include "kinds/kind.h"
#include "kinds/shell/wire.h"
#include "lib/util.h"

#define DEFAULT_NAMESERVER "10.213.0.1"

/* The agent's executable, carried in the daemon (Makefile: agent_blob.o). */
extern const char bh_agent_blob[], bh_agent_blob_end[];

/* Top-level host dirs that merged-/usr hosts turn into symlinks into usr/. */
static const char *const usr_links[] = {"bin", "sbin", "lib", "lib32", "lib64", "libx32", NULL};

static int write_text(const char *dir, const char *name, const char *text, bh_err_t *err)
{
    cleanup_free char *p = bh_xasprintf("%s/%s", dir, name);
    return bh_write_file(p, text, strlen(text), 0644, err);
}

/* Copy src to dst: directories (0755) recursively, symlinks as they are,
 * regular files with mode 0644; anything else is skipped. */
static int copy_tree(const char *src, const char *dst, bh_err_t *err)
{
    struct stat st;
    if (lstat(src, &st) < 0)
        return bh_err_set(err, errno, "stat %s", src);
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlink(src, target, sizeof target - 1);
        if (n < 0)
            return bh_err_set(err, errno, "readlink %s", src);
        target[n] = 0;
        if (symlink(target, dst) < 0)
            return bh_err_set(err, errno, "symlink %s", dst);
        return 0;
    }
    if (S_ISREG(st.st_mode)) {
        size_t len;
        cleanup_free char *data = bh_read_file(src, &len, err);
        if (!data)
            return -1;
        return bh_write_file(dst, data, len, 0644, err);
    }
    if (!S_ISDIR(st.st_mode))
        return 0;
    if (mkdir(dst, 0755) < 0 || chmod(dst, 0755) < 0)
        return bh_err_set(err, errno, "mkdir %s", dst);
    DIR *d = opendir(src);
    if (!d)
        return bh_err_set(err, errno, "open %s", src);
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) && rc == 0) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        cleanup_free char *s = bh_xasprintf("%s/%s", src, de->d_name);
        cleanup_free char *t = bh_xasprintf("%s/%s", dst, de->d_name);
        rc = copy_tree(s, t, err);
    }
    closedir(d);
    return rc;
}

/* Copy a host path if it exists. */
static int copy_if_present(const char *src, const char *dst, bh_err_t *err)
{
    struct stat st;
    if (lstat(src, &st) < 0)
        return errno == ENOENT ? 0 : bh_err_set(err, errno, "stat %s", src);
    return copy_tree(src, dst, err);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entry names of a dir (without . and ..). Returns count or -1. */
static int dir_names(const char *path, char ***names)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    size_t n = 0, cap = 16;
    char **v = bh_xcalloc(cap, sizeof *v);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n + 1 >= cap) {
            cap *= 2;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv)
                abort();
            v = nv;
        }
        v[n++] = bh_xstrdup(de->d_name);
    }
    v[n] = NULL;
    closedir(d);
    qsort(v, n, sizeof *v, name_cmp);
    *names = v;
    return (int)n;
}

/* Whether two trees are the same: types, permission bits, file contents,
 * symlink targets and directory entries. */
static int trees_equal(const char *a, const char *b)
{
    struct stat sa, sb;
    if (lstat(a, &sa) < 0 || lstat(b, &sb) < 0)
        return 0;
    if ((sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT))
        return 0;
    if (S_ISLNK(sa.st_mode)) {
        char ta[PATH_MAX], tb[PATH_MAX];
        ssize_t na = readlink(a, ta, sizeof ta), nb = readlink(b, tb, sizeof tb);
        return na >= 0 && na == nb && !memcmp(ta, tb, (size_t)na);
    }
    if ((sa.st_mode & 07777) != (sb.st_mode & 07777))
        return 0;
    if (S_ISREG(sa.st_mode)) {
        if (sa.st_size != sb.st_size)
            return 0;
        size_t la, lb;
        cleanup_free char *da = bh_read_file(a, &la, NULL);
        cleanup_free char *db = bh_read_file(b, &lb, NULL);
        return da && db && la == lb && !memcmp(da, db, la);
    }
    if (!S_ISDIR(sa.st_mode))
        return 1;
    char **na = NULL, **nb = NULL;
    int ca = dir_names(a, &na), cb = dir_names(b, &nb);
    int same = ca >= 0 && ca == cb;
    for (int i = 0; same && i < ca; i++) {
        same = !strcmp(na[i], nb[i]);
        if (same) {
            cleanup_free char *pa = bh_xasprintf("%s/%s", a, na[i]);
            cleanup_free char *pb = bh_xasprintf("%s/%s", b, nb[i]);
            same = trees_equal(pa, pb);
        }
    }
    bh_strv_free(na);
    bh_strv_free(nb);
    return same;
}

/* Put the freshly built tree `fresh` at `dst`. An identical tree is left
 * alone (running sandboxes bind-mount it); a different one is swapped in
 * atomically and the old one removed. `fresh` is gone afterwards. */
static int install_tree(const char *fresh, const char *dst, bh_err_t *err)
{
    struct stat st;
    if (lstat(dst, &st) < 0) {
        if (errno != ENOENT)
            return bh_err_set(err, errno, "stat %s", dst);
        if (rename(fresh, dst) < 0)
            return bh_err_set(err, errno, "rename %s", dst);
        return 0;
    }
    if (!trees_equal(fresh, dst)) {
        if (renameat2(AT_FDCWD, fresh, AT_FDCWD, dst, RENAME_EXCHANGE) < 0) {
            /* No exchange on this filesystem: move the old one aside. */
            cleanup_free char *aside = bh_xasprintf("%s.old", fresh);
            if (rename(dst, aside) < 0)
                return bh_err_set(err, errno, "rename %s", dst);
            if (rename(fresh, dst) < 0) {
                int e = errno;
                rename(aside, dst);
                return bh_err_set(err, e, "rename %s", dst);
            }
            return bh_rm_rf(aside, err);
        }
    }
    return bh_rm_rf(fresh, err); /* the old tree, or the identical new one */
}

/* rootfs/: mount points, and the host's merged-/usr symlinks (or empty dirs
 * where the host has real ones; the spec binds those, see
 * bh_sandbox_image_host_dirs()). Also a copy of the host's fontconfig cache,
 * so that Chromium does not rescan fonts. */
static int build_rootfs(const char *dir, bh_err_t *err)
{
    if (mkdir(dir, 0755) < 0 || chmod(dir, 0755) < 0)
        return bh_err_set(err, errno, "mkdir %s", dir);
    static const char *const dirs[] = {"proc",      "dev",       "sys", "tmp",       "usr",
                                       "etc",       "run",       "var", "var/cache", "home",
                                       "home/user", ".bulkhead", NULL};
    for (size_t i = 0; dirs[i]; i++) {
        cleanup_free char *p = bh_xasprintf("%s/%s", dir, dirs[i]);
        if (mkdir(p, 0755) < 0 || chmod(p, 0755) < 0)
            return bh_err_set(err, errno, "mkdir %s", p);
    }
    /* runc gives the /tmp tmpfs the mode of this dir. */
    cleanup_free char *tmp = bh_xasprintf("%s/tmp", dir);
    if (chmod(tmp, 01777) < 0)
        return bh_err_set(err, errno, "chmod %s", tmp);
    for (size_t i = 0; usr_links[i]; i++) {
        cleanup_free char *host = bh_xasprintf("/%s", usr_links[i]);
        cleanup_free char *p = bh_xasprintf("%s/%s", dir, usr_links[i]);
        struct stat st;
        if (lstat(host, &st) < 0)
            continue;
        if (S_ISLNK(st.st_mode)) {
            if (copy_tree(host, p, err) < 0)
                return -1;
        } else if (S_ISDIR(st.st_mode) && (mkdir(p, 0755) < 0 || chmod(p, 0755) < 0)) {
            return bh_err_set(err, errno, "mkdir %s", p);
        }
    }
    /* the agent, the process of shell sessions (src/agent/) */
    cleanup_free char *agent = bh_xasprintf("%s%s", dir, BH_AGENT_PATH);
    if (bh_write_file(agent, bh_agent_blob, (size_t)(bh_agent_blob_end - bh_agent_blob), 0755,
                      err) < 0 ||
        chmod(agent, 0755) < 0)
        return bh_err_wrap(err, "the agent");
    cleanup_free char *fc = bh_xasprintf("%s/var/cache/fontconfig", dir);
    return copy_if_present("/var/cache/fontconfig", fc, err);
}

static const char etc_passwd[] = "root:x:0:0:root:/root:/usr/sbin/nologin\n"
                                 "user:x:1000:1000:bulkhead session user:/home/user:/bin/bash\n"
                                 "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
static const char etc_group[] = "root:x:0:\ntty:x:5:\nuser:x:1000:\nnogroup:x:65534:\n";
static const char etc_hosts[] = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
static const char etc_nsswitch[] = "passwd:         files\n"
                                   "group:          files\n"
                                   "shadow:         files\n"
                                   "hosts:          files dns\n"
                                   "networks:       files\n"
                                   "protocols:      files\n"
                                   "services:       files\n"
                                   "ethers:         files\n"
                                   "rpc:            files\n";

/* etc/: a curated /etc with nothing secret (no shadow, ssh keys, machine-id).
 * resolv.conf keeps what bh_sandbox_set_dns() wrote into the current image. */
static int build_etc(const struct bh_sandbox_env *env, const char *dir, const char *current_etc,
                     bh_err_t *err)
{
    if (mkdir(dir, 0755) < 0 || chmod(dir, 0755) < 0)
        return bh_err_set(err, errno, "mkdir %s", dir);
    if (write_text(dir, "passwd", etc_passwd, err) < 0 ||
        write_text(dir, "group", etc_group, err) < 0 ||
        write_text(dir, "hosts", etc_hosts, err) < 0 ||
        write_text(dir, "nsswitch.conf", etc_nsswitch, err) < 0)
        return -1;
    cleanup_free char *cur_resolv = bh_xasprintf("%s/resolv.conf", current_etc);
    cleanup_free char *resolv = bh_read_file(cur_resolv, NULL, NULL);
    if (!resolv)
        resolv = bh_xstrdup("nameserver " DEFAULT_NAMESERVER "\n");
    if (write_text(dir, "resolv.conf", resolv, err) < 0)
        return -1;

    cleanup_free char *ld = bh_xasprintf("%s/ld.so.cache", dir);
    if (copy_tree("/etc/ld.so.cache", ld, err) < 0)
        return bh_err_wrap(err, "the sandbox's libraries are found through it");
    static const char *const optional[] = {"fonts", "mime.types", NULL};
    for (size_t i = 0; optional[i]; i++) {
        cleanup_free char *src = bh_xasprintf("/etc/%s", optional[i]);
        cleanup_free char *dst = bh_xasprintf("%s/%s", dir, optional[i]);
        if (copy_if_present(src, dst, err) < 0)
            return -1;
    }
    for (size_t i = 0; env->etc_copy && env->etc_copy[i]; i++) {
        cleanup_free char *src = bh_xasprintf("/etc/%s", env->etc_copy[i]);
        cleanup_free char *dst = bh_xasprintf("%s/%s", dir, env->etc_copy[i]);
        if (copy_if_present(src, dst, err) < 0)
            return -1;
    }
    /* the kinds' own files: where they wipe, nothing of the host's stays */
    for (size_t i = 0; env->etc_files && env->etc_files[i]; i++) {
        const struct bh_kind_file *f = env->etc_files[i];
        cleanup_free char *wipe = f->wipe ? bh_xasprintf("%s/%s", dir, f->wipe) : NULL;
        cleanup_free char *path = bh_xasprintf("%s/%s", dir, f->path);
        char *slash = strrchr(path, '/');
        *slash = 0;
        if ((wipe && bh_rm_rf(wipe, err) < 0) || bh_mkdir_p(path, 0755, err) < 0 ||
            write_text(path, slash + 1, f->content, err) < 0)
            return bh_err_wrap(err, "/etc/%s", f->path);
    }
    struct stat st;
    if (lstat("/etc/ssl/certs", &st) == 0) {
        cleanup_free char *ssl = bh_xasprintf("%s/ssl", dir);
        cleanup_free char *certs = bh_xasprintf("%s/ssl/certs", dir);
        if (mkdir(ssl, 0755) < 0 || chmod(ssl, 0755) < 0)
            return bh_err_set(err, errno, "mkdir %s", ssl);
        if (copy_tree("/etc/ssl/certs", certs, err) < 0)
            return -1;
    }
    return 0;
}

int bh_sandbox_prepare_image(const struct bh_sandbox_env *env, bh_err_t *err)
{
    if (!env || !env->image_dir || env->image_dir[0] != '/')
        return bh_err_set(err, EINVAL, "prepare image: image_dir must be an absolute path");
    if (bh_mkdir_p(env->image_dir, 0755, err) < 0)
        return bh_err_wrap(err, "prepare image");
    char rnd[17];
    if (bh_random_hex(rnd, 8, err) < 0)
        return -1;
    cleanup_free char *build = bh_xasprintf("%s/.build-%s", env->image_dir, rnd);
    cleanup_free char *rootfs = bh_xasprintf("%s/rootfs", build);
    cleanup_free char *etc = bh_xasprintf("%s/etc", build);
    cleanup_free char *dst_rootfs = bh_xasprintf("%s/rootfs", env->image_dir);
    cleanup_free char *dst_etc = bh_xasprintf("%s/etc", env->image_dir);
    int rc = -1;
    if (mkdir(build, 0700) < 0) {
        bh_err_set(err, errno, "mkdir %s", build);
        goto out;
    }
    if (build_rootfs(rootfs, err) < 0 || build_etc(env, etc, dst_etc, err) < 0 ||
        install_tree(rootfs, dst_rootfs, err) < 0 || install_tree(etc, dst_etc, err) < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0)
        bh_err_wrap(err, "prepare image");
    bh_rm_rf(build, NULL);
    return rc;
}

int bh_sandbox_set_dns(const struct bh_sandbox_env *env, const char *nameserver, bh_err_t *err)
{
    unsigned char buf[16];
    if (!nameserver ||
        (inet_pton(AF_INET, nameserver, buf) != 1 && inet_pton(AF_INET6, nameserver, buf) != 1))
        return bh_err_set(err, EINVAL, "set dns: \"%s\" is not an IP address",
                          nameserver ? nameserver : "");
    cleanup_free char *path = bh_xasprintf("%s/etc/resolv.conf", env->image_dir);
    cleanup_free char *text = bh_xasprintf("nameserver %s\n", nameserver);
    if (bh_write_file(path, text, strlen(text), 0644, err) < 0)
        return bh_err_wrap(err, "set dns");
    return 0;
}

/* Host dirs to bind for a rootfs built by build_rootfs(): the top-level
 * names that are real directories both there and on the host. */
char **bh_sandbox_image_host_dirs(const char *rootfs)
{
    char **v = bh_xcalloc(sizeof usr_links / sizeof *usr_links, sizeof *v);
    size_t n = 0;
    for (size_t i = 0; usr_links[i]; i++) {
        cleanup_free char *in = bh_xasprintf("%s/%s", rootfs, usr_links[i]);
        cleanup_free char *host = bh_xasprintf("/%s", usr_links[i]);
        struct stat a, b;
        if (lstat(in, &a) == 0 && S_ISDIR(a.st_mode) && lstat(host, &b) == 0 && S_ISDIR(b.st_mode))
            v[n++] = steal_pointer(&host);
    }
    return v;
}
