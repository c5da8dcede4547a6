/* test_sandbox.c — a real Chromium in a real sandbox, with every runtime that
 * works here: prepare the image, start Chromium as uid 1000, talk CDP over
 * fds 3/4, check from the host that each of its processes is isolated (no
 * capabilities, no_new_privs, seccomp, own namespaces, not root) and that
 * Chromium's own sandbox is on, then destroy it and check that nothing is
 * left (container, bundle, cgroups). Needs root (else the binary is skipped),
 * runc and chromium: the test machines have them, so a missing one is a
 * failure, not a skip; crun is tested where it works, else skipped. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/local/cgroup.h"
#include "backend/local/sandbox.h"
#include "kinds/browser/kind.h"
#include "t.h"
#include "lib/util.h"

#define CHROMIUM "/usr/lib/chromium/chromium"
#define CG_PARENT "bulkhead-test"

static char base[64];
static struct bh_sandbox_env env;
static char image_rootfs[256], image_etc[256];

static const char *const chromium_argv[] = {CHROMIUM,
                                            "--headless",
                                            "--disable-gpu",
                                            "--no-first-run",
                                            "--no-default-browser-check",
                                            "--disable-background-networking",
                                            "--disable-component-update",
                                            "--disable-sync",
                                            "--remote-debugging-pipe",
                                            "--user-data-dir=/tmp/profile",
                                            "about:blank",
                                            NULL};
static const char *const sandbox_env[] = {"PATH=/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8", NULL};

static struct bh_spec_params params_for(const char *id, const char *cgroups_path,
                                        const char *const *argv)
{
    struct bh_spec_params p = {
        .id = id,
        .rootfs = image_rootfs,
        .etc_dir = image_etc,
        .netns_path = NULL,
        .cgroups_path = cgroups_path,
        .argv = argv,
        .env = sandbox_env,
        .uid = 1000,
        .gid = 1000,
        .memory_bytes = 1024ull << 20,
        .pids_max = 512,
        .cpu_shares = 1024,
        .tmp_bytes = 512ull << 20,
        .shm_bytes = 256ull << 20,
    };
    return p;
}

static char *readlink_str(const char *path)
{
    char buf[256];
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    if (n < 0)
        return NULL;
    buf[n] = 0;
    return bh_xstrdup(buf);
}

/* Value of "Key:" in /proc/<pid>/status (trimmed), or NULL. Caller frees. */
static char *status_field(pid_t pid, const char *key)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    cleanup_free char *st = bh_read_file(path, NULL, NULL);
    if (!st)
        return NULL;
    size_t kl = strlen(key);
    for (char *l = st; l && *l;) {
        char *nl = strchr(l, '\n');
        if (nl)
            *nl = 0;
        if (!strncmp(l, key, kl) && l[kl] == ':') {
            char *v = l + kl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            return bh_xstrdup(v);
        }
        l = nl ? nl + 1 : NULL;
    }
    return NULL;
}

/* /proc/<pid>/cmdline with NULs turned into spaces. Caller frees. */
static char *cmdline(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    size_t len;
    char *c = bh_read_file(path, &len, NULL);
    for (size_t i = 0; c && i + 1 < len; i++)
        if (!c[i])
            c[i] = ' ';
    return c;
}

static int path_exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

/* Read one NUL-terminated CDP message from fd within timeout_ms. */
static char *read_message(int fd, int timeout_ms)
{
    size_t len = 0, cap = 65536;
    char *buf = bh_xmalloc(cap);
    int64_t deadline = bh_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - bh_mono_ms();
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        if (len + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf)
                abort();
        }
        ssize_t r = read(fd, buf + len, 1); /* one message only: stop at its NUL */
        if (r <= 0)
            break;
        if (buf[len] == 0)
            return buf;
        len++;
    }
    free(buf);
    return NULL;
}

/* Send one CDP command (a JSON object without "id") and return the response
 * with that id, skipping events. Caller frees. */
static char *cdp_call(int wfd, int rfd, int id, const char *session, const char *method,
                      const char *params_json)
{
    cleanup_free char *msg = bh_xasprintf("{\"id\":%d,%s%s%s\"method\":\"%s\",\"params\":%s}", id,
                                          session ? "\"sessionId\":\"" : "", session ? session : "",
                                          session ? "\"," : "", method, params_json);
    size_t len = strlen(msg) + 1; /* with its NUL */
    if (write(wfd, msg, len) != (ssize_t)len)
        return NULL;
    for (;;) {
        char *reply = read_message(rfd, 30000);
        if (!reply)
            return NULL;
        json_t *j = json_loads(reply, 0, NULL);
        int match = j && json_integer_value(json_object_get(j, "id")) == id;
        json_decref(j);
        if (match)
            return reply;
        free(reply);
    }
}

/* String field `key` of result in a CDP response, or NULL. Caller frees. */
static char *cdp_result_str(const char *reply, const char *key)
{
    json_t *j = reply ? json_loads(reply, 0, NULL) : NULL;
    const char *v = json_string_value(json_object_get(json_object_get(j, "result"), key));
    char *r = v ? bh_xstrdup(v) : NULL;
    json_decref(j);
    return r;
}

/* Render a page with text in the sandbox and take a screenshot: renderers
 * do real work under both seccomp layers. Returns the PNG's base64 length. */
static size_t screenshot_len(int wfd, int rfd)
{
    cleanup_free char *t = cdp_call(wfd, rfd, 2, NULL, "Target.createTarget",
                                    "{\"url\":\"data:text/html,<h1>bulkhead sandbox</h1>\"}");
    cleanup_free char *target = cdp_result_str(t, "targetId");
    if (!target)
        return 0;
    cleanup_free char *ap = bh_xasprintf("{\"targetId\":\"%s\",\"flatten\":true}", target);
    cleanup_free char *a = cdp_call(wfd, rfd, 3, NULL, "Target.attachToTarget", ap);
    cleanup_free char *session = cdp_result_str(a, "sessionId");
    if (!session)
        return 0;
    cleanup_free char *shot = cdp_call(wfd, rfd, 4, session, "Page.captureScreenshot", "{}");
    cleanup_free char *data = cdp_result_str(shot, "data");
    return data && !strncmp(data, "iVBOR", 5) ? strlen(data) : 0;
}

/* The filesystem as the container's init sees it. */
static void check_filesystem(pid_t init)
{
    cleanup_free char *mip = bh_xasprintf("/proc/%d/mountinfo", (int)init);
    cleanup_free char *mi = bh_read_file(mip, NULL, NULL);
    CHECK(mi != NULL);
    int root_ro = 0, usr_ro = 0, etc_ro = 0, tmp_tmpfs = 0;
    char *save = NULL;
    for (char *l = strtok_r(mi, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char mnt[256], opts[256];
        if (sscanf(l, "%*s %*s %*s %*s %255s %255s", mnt, opts) != 2)
            continue;
        int ro = !strncmp(opts, "ro,", 3) || !strcmp(opts, "ro");
        if (!strcmp(mnt, "/"))
            root_ro = ro;
        if (!strcmp(mnt, "/usr"))
            usr_ro = ro && strstr(opts, "nosuid");
        if (!strcmp(mnt, "/etc"))
            etc_ro = ro;
        if (!strcmp(mnt, "/tmp"))
            tmp_tmpfs = strstr(l, " - tmpfs ") != NULL;
    }
    CHECK(root_ro);
    CHECK(usr_ro);
    CHECK(etc_ro);
    CHECK(tmp_tmpfs);
    struct stat st;
    cleanup_free char *tmp = bh_xasprintf("/proc/%d/root/tmp", (int)init);
    CHECK(stat(tmp, &st) == 0 && st.st_uid == 1000 && (st.st_mode & 07777) == 01777);
    cleanup_free char *shadow = bh_xasprintf("/proc/%d/root/etc/shadow", (int)init);
    CHECK(!path_exists(shadow));
    cleanup_free char *groups = status_field(init, "Groups");
    CHECK(groups && !*groups); /* no supplementary groups */
}

/* ------------------------------------------------------------------------ */

static void test_image(void)
{
    bh_err_t err = BH_ERR_INIT;
    int rc = bh_sandbox_prepare_image(&env, &err);
    CHECK(rc == 0);
    if (rc < 0) {
        fprintf(stderr, "prepare_image: %s\n", bh_err_msg(&err));
        bh_err_clear(&err);
        return;
    }
    cleanup_free char *passwd = bh_xasprintf("%s/passwd", image_etc);
    cleanup_free char *pw = bh_read_file(passwd, NULL, NULL);
    CHECK(pw && strstr(pw, "user:x:1000:1000:"));
    const char *must[] = {"ld.so.cache",      "group",     "hosts", "nsswitch.conf", "resolv.conf",
                          "fonts/fonts.conf", "ssl/certs", NULL};
    for (size_t i = 0; must[i]; i++) {
        cleanup_free char *p = bh_xasprintf("%s/%s", image_etc, must[i]);
        CHECK(path_exists(p));
    }
    const char *never[] = {"shadow", "gshadow", "ssh", "machine-id", NULL};
    for (size_t i = 0; never[i]; i++) {
        cleanup_free char *p = bh_xasprintf("%s/%s", image_etc, never[i]);
        CHECK(!path_exists(p));
    }
    /* Chromium's managed policies: bulkhead's file, valid JSON, blocking
     * the non-web schemes (and only that file in the directory). */
    cleanup_free char *pol = bh_xasprintf("%s/chromium/policies/managed/bulkhead.json", image_etc);
    json_t *pj = json_load_file(pol, 0, NULL);
    CHECK(pj && json_is_array(json_object_get(pj, "URLBlocklist")));
    int blocks_file = 0;
    size_t pi;
    json_t *pv;
    json_array_foreach(json_object_get(pj, "URLBlocklist"), pi, pv)
        blocks_file |= json_is_string(pv) && !strcmp(json_string_value(pv), "file://*");
    CHECK(blocks_file);
    CHECK(json_is_false(json_object_get(pj, "ComponentUpdatesEnabled")));
    json_decref(pj);
    cleanup_free char *bin = bh_xasprintf("%s/bin", image_rootfs);
    cleanup_free char *host_bin = readlink_str("/bin");
    cleanup_free char *img_bin = readlink_str(bin);
    CHECK(host_bin == NULL || (img_bin && !strcmp(img_bin, host_bin)));
    struct stat st;
    cleanup_free char *tmp = bh_xasprintf("%s/tmp", image_rootfs);
    CHECK(stat(tmp, &st) == 0 && (st.st_mode & 07777) == 01777);

    /* Idempotent: a second run leaves the trees (that sandboxes bind) alone. */
    struct stat before, after;
    stat(image_etc, &before);
    CHECK(bh_sandbox_prepare_image(&env, &err) == 0);
    stat(image_etc, &after);
    CHECK(before.st_ino == after.st_ino);
    /* set_dns survives a rebuild. */
    CHECK(bh_sandbox_set_dns(&env, "192.0.2.53", &err) == 0);
    CHECK(bh_sandbox_set_dns(&env, "not-an-ip", &err) < 0);
    CHECK(bh_sandbox_prepare_image(&env, &err) == 0);
    cleanup_free char *rpath = bh_xasprintf("%s/resolv.conf", image_etc);
    cleanup_free char *resolv = bh_read_file(rpath, NULL, NULL);
    CHECK(resolv && strstr(resolv, "nameserver 192.0.2.53"));
    bh_err_clear(&err);
}

/* put_file resolves inside the given root and never through a symlink.
 * Run against this process's own root, in a scratch dir of `base`. */
static void test_put_file(void)
{
    bh_err_t err = BH_ERR_INIT;
    pid_t self = getpid();
    cleanup_free char *dir = bh_xasprintf("%s/up/area", base);
    CHECK(bh_sandbox_put_file(self, 0, 0, dir, "a.txt", "hello", 5, &err) < 0); /* parent missing */
    bh_err_clear(&err);
    cleanup_free char *up = bh_xasprintf("%s/up", base);
    CHECK(mkdir(up, 0755) == 0);
    CHECK(bh_sandbox_put_file(self, 0, 0, dir, "a.txt", "hello", 5, &err) == 0);
    cleanup_free char *a = bh_xasprintf("%s/a.txt", dir);
    size_t n = 0;
    cleanup_free char *got = bh_read_file(a, &n, NULL);
    CHECK(got && n == 5 && !memcmp(got, "hello", 5));
    struct stat st;
    CHECK(stat(a, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0644);
    CHECK(bh_sandbox_put_file(self, 0, 0, dir, "a.txt", "bye", 3, &err) == 0); /* replaced */
    free(got);
    got = bh_read_file(a, &n, NULL);
    CHECK(got && n == 3);
    /* a FIFO of that name is replaced, not opened (which would block) */
    cleanup_free char *fifo = bh_xasprintf("%s/f", dir);
    CHECK(mkfifo(fifo, 0666) == 0);
    CHECK(bh_sandbox_put_file(self, 0, 0, dir, "f", "x", 1, &err) == 0);
    CHECK(stat(fifo, &st) == 0 && S_ISREG(st.st_mode));
    /* bad names */
    CHECK(bh_sandbox_put_file(self, 0, 0, dir, "../x", "x", 1, &err) < 0 && err.errnum == EINVAL);
    CHECK(bh_sandbox_put_file(self, 0, 0, dir, ".hidden", "x", 1, &err) < 0 &&
          err.errnum == EINVAL);
    CHECK(bh_sandbox_put_file(self, 0, 0, dir, "", "x", 1, &err) < 0);
    /* a symlinked area (the sandbox made it, pointing out): refused */
    cleanup_free char *out = bh_xasprintf("%s/outside", base);
    CHECK(mkdir(out, 0755) == 0);
    cleanup_free char *link = bh_xasprintf("%s/up/link", base);
    CHECK(symlink(out, link) == 0);
    CHECK(bh_sandbox_put_file(self, 0, 0, link, "x", "x", 1, &err) < 0 && err.errnum == ELOOP);
    cleanup_free char *escaped = bh_xasprintf("%s/x", out);
    CHECK(access(escaped, F_OK) < 0);
    /* a symlink as the file: replaced by a file, its target untouched */
    cleanup_free char *target = bh_xasprintf("%s/t", out);
    CHECK(bh_write_file(target, "keep", 4, 0644, NULL) == 0);
    cleanup_free char *flink = bh_xasprintf("%s/l", dir);
    CHECK(symlink(target, flink) == 0);
    CHECK(bh_sandbox_put_file(self, 0, 0, dir, "l", "new", 3, &err) == 0);
    free(got);
    got = bh_read_file(target, &n, NULL);
    CHECK(got && n == 4 && !memcmp(got, "keep", 4));
    CHECK(lstat(flink, &st) == 0 && S_ISREG(st.st_mode));
    bh_err_clear(&err);
}

/* The fs ids field (4th) of "Uid:"/"Gid:" in this process's status. */
static long own_fs_id(const char *key)
{
    cleanup_free char *v = status_field(getpid(), key);
    long a = -1, b = -1, c = -1, fs = -1;
    return v && sscanf(v, "%ld %ld %ld %ld", &a, &b, &c, &fs) == 4 ? fs : -1;
}

/* put_file into a sandbox with a root of its own (a child chrooted into a
 * scratch dir stands in for the container's init): a directory right under
 * that root is made there, and with an owner the files are made as that
 * owner, whose rights apply; this thread's fs ids are root's again after. */
static void test_put_file_root(void)
{
    bh_err_t err = BH_ERR_INIT;
    const uint32_t owner = 3221226472u; /* no host account */
    cleanup_free char *jail = bh_xasprintf("%s/jail", base);
    cleanup_free char *own = bh_xasprintf("%s/jail/own", base);
    CHECK(mkdir(jail, 0755) == 0 && mkdir(own, 0700) == 0 && chown(own, owner, owner) == 0);
    int ready[2];
    CHECK(pipe2(ready, O_CLOEXEC) == 0);
    pid_t child = fork();
    if (child == 0) {
        if (chroot(jail) == 0 && chdir("/") == 0)
            (void)!write(ready[1], "r", 1);
        pause();
        _exit(0);
    }
    close(ready[1]);
    char c = 0;
    CHECK(child > 0 && read(ready[0], &c, 1) == 1);
    close(ready[0]);

    CHECK(bh_sandbox_put_file(child, 0, 0, "/drop", "b.txt", "hi", 2, &err) == 0);
    cleanup_free char *b = bh_xasprintf("%s/drop/b.txt", jail);
    size_t n = 0;
    cleanup_free char *got = bh_read_file(b, &n, NULL);
    CHECK(got && n == 2 && !memcmp(got, "hi", 2));
    CHECK(bh_sandbox_put_file(child, owner, owner, "/own", "c.txt", "x", 1, &err) == 0);
    cleanup_free char *cf = bh_xasprintf("%s/c.txt", own);
    struct stat st;
    CHECK(stat(cf, &st) == 0 && st.st_uid == owner && st.st_gid == owner);
    /* the owner may not write where root alone may */
    CHECK(bh_sandbox_put_file(child, owner, owner, "/drop", "d.txt", "x", 1, &err) < 0 &&
          err.errnum == EACCES);
    CHECK(own_fs_id("Uid") == 0 && own_fs_id("Gid") == 0);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    bh_err_clear(&err);
}

static void test_cgroup_paths(void)
{
    char **paths = NULL;
    bh_err_t err = BH_ERR_INIT;
    int n = bh_cgroup_paths(CG_PARENT "/x", &paths, &err);
    CHECK(n > 0);
    for (int i = 0; i < n; i++) {
        CHECK(paths[i][0] == '/');
        CHECK(strstr(paths[i], "/" CG_PARENT "/x") != NULL);
        CHECK(!strncmp(paths[i], "/sys/fs/cgroup/", 15));
    }
    for (int i = 0; paths && paths[i]; i++)
        free(paths[i]);
    free(paths);
    CHECK(bh_cgroup_paths("/abs", &paths, &err) < 0);
    bh_err_clear(&err);
}

/* The pids in the sandbox's cgroup (the pids controller's dir). */
static int sandbox_pids(const char *cgroups_path, pid_t *pids, int max)
{
    char **paths = NULL;
    int n = bh_cgroup_paths(cgroups_path, &paths, NULL);
    int count = 0;
    for (int i = 0; i < n && !count; i++) {
        if (!strstr(paths[i], "/pids/") && !strstr(paths[i], "/unified/"))
            continue;
        cleanup_free char *f = bh_xasprintf("%s/cgroup.procs", paths[i]);
        cleanup_free char *procs = bh_read_file(f, NULL, NULL);
        for (char *p = procs; p && *p && count < max;) {
            long pid = strtol(p, &p, 10);
            if (pid > 0)
                pids[count++] = (pid_t)pid;
            while (*p == '\n')
                p++;
        }
    }
    for (int i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    return count;
}

/* Host-side view of every sandbox process. */
static void check_isolation(const struct bh_sandbox *sb, const char *cgroups_path)
{
    pid_t pids[256];
    int n = sandbox_pids(cgroups_path, pids, 256);
    CHECK(n >= 3); /* browser, zygotes, renderer... */
    static const char *const nss[] = {"pid", "mnt", "net", "ipc", "uts", "cgroup"};
    char self_ns[6][128];
    for (int k = 0; k < 6; k++) {
        cleanup_free char *p = bh_xasprintf("/proc/self/ns/%s", nss[k]);
        cleanup_free char *v = readlink_str(p);
        snprintf(self_ns[k], sizeof self_ns[k], "%s", v ? v : "?");
    }
    char init_user[128];
    {
        cleanup_free char *p = bh_xasprintf("/proc/%d/ns/user", (int)sb->pid);
        cleanup_free char *v = readlink_str(p);
        snprintf(init_user, sizeof init_user, "%s", v ? v : "?");
    }
    int init_seen = 0, other_userns = 0, zygotes = 0, renderers = 0, bad = 0;
    for (int i = 0; i < n; i++) {
        pid_t pid = pids[i];
        cleanup_free char *cmd = cmdline(pid);
        if (!cmd)
            continue; /* exited meanwhile */
        init_seen |= pid == sb->pid;
        cleanup_free char *capeff = status_field(pid, "CapEff");
        cleanup_free char *capprm = status_field(pid, "CapPrm");
        cleanup_free char *nnp = status_field(pid, "NoNewPrivs");
        cleanup_free char *secc = status_field(pid, "Seccomp");
        cleanup_free char *uid = status_field(pid, "Uid");
        int ok = 1;
        /* Inside Chromium's own user namespace a process may hold caps over
         * that namespace; the host-visible check that matters is CapEff in
         * the container's namespace: the container init and the browser. */
        cleanup_free char *up = bh_xasprintf("/proc/%d/ns/user", (int)pid);
        cleanup_free char *userns = readlink_str(up);
        int own_userns = userns && strcmp(userns, init_user) != 0;
        other_userns += own_userns;
        if (!own_userns) {
            ok &= capeff && !strcmp(capeff, "0000000000000000");
            ok &= capprm && !strcmp(capprm, "0000000000000000");
        }
        ok &= nnp && !strcmp(nnp, "1");
        ok &= secc && !strcmp(secc, "2");
        /* Uid: real effective saved fs — none may be 0 (as seen from the host). */
        long u[4] = {0, 0, 0, 0};
        ok &= uid && sscanf(uid, "%ld %ld %ld %ld", &u[0], &u[1], &u[2], &u[3]) == 4 && u[0] &&
              u[1] && u[2] && u[3];
        for (int k = 0; k < 6; k++) {
            cleanup_free char *p = bh_xasprintf("/proc/%d/ns/%s", (int)pid, nss[k]);
            cleanup_free char *v = readlink_str(p);
            ok &= v && strcmp(v, self_ns[k]) != 0;
        }
        ok &= strstr(cmd, "--no-sandbox") == NULL;
        zygotes += strstr(cmd, "--type=zygote") != NULL;
        renderers += strstr(cmd, "--type=renderer") != NULL;
        if (!ok) {
            bad++;
            fprintf(stderr,
                    "  not isolated: pid %d CapEff=%s NoNewPrivs=%s Seccomp=%s Uid=%s: %.120s\n",
                    (int)pid, capeff, nnp, secc, uid, cmd);
        }
    }
    CHECK(init_seen);
    CHECK(bad == 0);
    CHECK(zygotes >= 1);
    /* Chromium's sandbox is on: its zygote/renderers live in a user
     * namespace of their own, inside the container's. */
    CHECK(other_userns >= 1);
    printf("  %d processes (%d zygote, %d renderer, %d in Chromium's own user namespace)\n", n,
           zygotes, renderers, other_userns);
}

/* Limits as the kernel sees them. */
static void check_limits(const char *cgroups_path)
{
    char **paths = NULL;
    int n = bh_cgroup_paths(cgroups_path, &paths, NULL);
    int mem_ok = 0, swap_ok = 0, pids_ok = 0;
    for (int i = 0; i < n; i++) {
        cleanup_free char *mf = bh_xasprintf("%s/memory.limit_in_bytes", paths[i]);
        cleanup_free char *m = bh_read_file(mf, NULL, NULL);
        if (m)
            mem_ok = strtoull(m, NULL, 10) == (1024ull << 20);
        cleanup_free char *sf = bh_xasprintf("%s/memory.memsw.limit_in_bytes", paths[i]);
        cleanup_free char *sw = bh_read_file(sf, NULL, NULL);
        if (sw)
            swap_ok = strtoull(sw, NULL, 10) == (1024ull << 20); /* memory+swap = memory */
        cleanup_free char *pf = bh_xasprintf("%s/pids.max", paths[i]);
        cleanup_free char *p = bh_read_file(pf, NULL, NULL);
        if (p)
            pids_ok = strtol(p, NULL, 10) == 512;
    }
    CHECK(mem_ok);
    CHECK(swap_ok);
    CHECK(pids_ok);
    for (int i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

static void check_gone(const char *bundle, const char *cgroups_path)
{
    char **ids = NULL;
    bh_err_t err = BH_ERR_INIT;
    int n = bh_sandbox_list(&env, &ids, &err);
    CHECK(n == 0);
    for (int i = 0; ids && ids[i]; i++) {
        fprintf(stderr, "  left behind: %s\n", ids[i]);
        free(ids[i]);
    }
    free(ids);
    CHECK(!path_exists(bundle));
    char **paths = NULL;
    int np = bh_cgroup_paths(cgroups_path, &paths, NULL);
    for (int i = 0; i < np; i++) {
        int left = path_exists(paths[i]);
        CHECK(!left);
        if (left)
            fprintf(stderr, "  cgroup left behind: %s\n", paths[i]);
        free(paths[i]);
    }
    free(paths);
    bh_err_clear(&err);
}

/* A fresh session id "<prefix><runtime>-<random>" (id: 32 bytes), its
 * cgroups path (cgp: 96 bytes) and the random part (rnd: 9 bytes). */
static void session_ids(char prefix, enum bh_runtime rt, char *rnd, char *id, char *cgp)
{
    bh_random_hex(rnd, 4, NULL);
    snprintf(id, 32, "%c%s-%s", prefix, bh_runtime_name(rt), rnd);
    snprintf(cgp, 96, CG_PARENT "/%s", id);
}

/* Destroy a started sandbox, reap its init, and check nothing is left. */
static void destroy_and_check(const struct bh_sandbox *sb, const char *cgp)
{
    bh_err_t err = BH_ERR_INIT;
    CHECK(bh_sandbox_destroy(&env, sb->id, &err) == 0);
    for (int i = 0; i < 100 && waitpid(sb->pid, NULL, WNOHANG) != sb->pid; i++)
        usleep(20 * 1000);
    check_gone(sb->bundle, cgp);
    bh_err_clear(&err);
}

static void test_chromium(enum bh_runtime rt)
{
    const char *name = bh_runtime_name(rt);
    char id[32], rnd[9], cgp[96];
    session_ids('t', rt, rnd, id, cgp);
    printf("%s: session %s\n", name, id);

    int to[2], from[2];
    CHECK(pipe2(to, O_CLOEXEC) == 0 && pipe2(from, O_CLOEXEC) == 0);
    cleanup_free char *logpath = bh_xasprintf("%s/%s.log", base, id);
    int logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    struct bh_spec_params p = params_for(id, cgp, chromium_argv);
    struct bh_sandbox sb;
    bh_err_t err = BH_ERR_INIT;
    int64_t t0 = bh_mono_ms();
    int rc = bh_sandbox_start(&env, &p, to[0], from[1], logfd, &sb, &err);
    int64_t t_started = bh_mono_ms();
    close(to[0]);
    close(from[1]);
    close(logfd);
    CHECK(rc == 0);
    if (rc < 0) {
        fprintf(stderr, "%s start: %s\n", name, bh_err_msg(&err));
        bh_err_clear(&err);
        close(to[1]);
        close(from[0]);
        return;
    }
    CHECK(sb.pid > 1);
    CHECK(!strncmp(sb.id, "bh-", 3) && !strcmp(sb.id + 3, id));

    static const char req[] = "{\"id\":1,\"method\":\"Browser.getVersion\"}";
    CHECK(write(to[1], req, sizeof req) == (ssize_t)sizeof req); /* with its NUL */
    cleanup_free char *reply = read_message(from[0], 30000);
    int64_t t_reply = bh_mono_ms();
    CHECK(reply && strstr(reply, "\"product\""));
    if (reply)
        printf("  %s\n", reply);
    else {
        cleanup_free char *log = bh_read_file(logpath, NULL, NULL);
        fprintf(stderr, "  no CDP reply; container log:\n%s\n", log ? log : "");
    }
    printf("  %s: start %lld ms, Browser.getVersion reply %lld ms after start began\n", name,
           (long long)(t_started - t0), (long long)(t_reply - t0));

    if (getenv("BH_TEST_VERBOSE")) {
        cleanup_free char *log = bh_read_file(logpath, NULL, NULL);
        printf("  container log:\n%s\n", log ? log : "");
    }
    size_t png = screenshot_len(to[1], from[0]);
    CHECK(png > 1000);
    printf("  screenshot of a rendered page: %zu base64 bytes\n", png);
    check_filesystem(sb.pid);
    check_isolation(&sb, cgp);
    check_limits(cgp);

    char **ids = NULL;
    int n = bh_sandbox_list(&env, &ids, &err);
    CHECK(n == 1 && ids && !strcmp(ids[0], sb.id));
    for (int i = 0; ids && ids[i]; i++)
        free(ids[i]);
    free(ids);

    int64_t t_d = bh_mono_ms();
    rc = bh_sandbox_destroy(&env, sb.id, &err);
    CHECK(rc == 0);
    if (rc < 0)
        fprintf(stderr, "%s destroy: %s\n", name, bh_err_msg(&err));
    printf("  %s: destroy %lld ms\n", name, (long long)(bh_mono_ms() - t_d));
    /* We are the subreaper of the detached container init: reap it. */
    int reaped = 0;
    for (int i = 0; i < 100 && !reaped; i++) {
        reaped = waitpid(sb.pid, NULL, WNOHANG) == sb.pid ||
                 (errno == ECHILD && kill(sb.pid, 0) < 0);
        if (!reaped)
            usleep(20 * 1000);
    }
    CHECK(reaped);
    check_gone(sb.bundle, cgp);
    CHECK(bh_sandbox_destroy(&env, sb.id, &err) == 0); /* idempotent */
    close(to[1]);
    close(from[0]);
    bh_err_clear(&err);
}

/* A start that fails says why, and leaves nothing behind. */
static void test_start_failure(enum bh_runtime rt)
{
    const char *name = bh_runtime_name(rt);
    char id[32], rnd[9], cgp[96];
    session_ids('f', rt, rnd, id, cgp);
    static const char *const bad_argv[] = {"/etc/passwd", NULL}; /* noexec, not executable */
    struct bh_spec_params p = params_for(id, cgp, bad_argv);
    int to[2], from[2];
    CHECK(pipe2(to, O_CLOEXEC) == 0 && pipe2(from, O_CLOEXEC) == 0);
    struct bh_sandbox sb;
    bh_err_t err = BH_ERR_INIT;
    int rc = bh_sandbox_start(&env, &p, to[0], from[1], -1, &sb, &err);
    CHECK(rc < 0);
    CHECK(err.msg && strcasestr(err.msg, "permission denied"));
    printf("  %s: failed start says: %s\n", name, bh_err_msg(&err));
    cleanup_free char *bundle = bh_xasprintf("%s/%s", env.bundles_dir, id);
    char cid[64];
    snprintf(cid, sizeof cid, "bh-%s", id);
    check_gone(bundle, cgp);
    for (int i = 0; i < 2; i++) {
        close(to[i]);
        close(from[i]);
    }
    bh_err_clear(&err);
}

/* A sandbox joins the network namespace it is given (what the daemon does
 * with the per-session netns it sets up). */
static void test_netns(enum bh_runtime rt)
{
    const char *name = bh_runtime_name(rt);
    char id[32], rnd[9], cgp[96], ns[48];
    session_ids('n', rt, rnd, id, cgp);
    snprintf(ns, sizeof ns, "bhtest-%s", rnd);
    bh_err_t err = BH_ERR_INIT;
    char *add[] = {"ip", "netns", "add", ns, NULL};
    int rc = bh_run(add, NULL, 1, &err);
    CHECK(rc == 0);
    if (rc != 0) {
        fprintf(stderr, "ip netns add: %s\n", bh_err_msg(&err));
        bh_err_clear(&err);
        return;
    }
    cleanup_free char *nspath = bh_xasprintf("/run/netns/%s", ns);
    static const char *const sleep_argv[] = {"/usr/bin/sleep", "60", NULL};
    struct bh_spec_params p = params_for(id, cgp, sleep_argv);
    p.netns_path = nspath;
    int to[2], from[2];
    CHECK(pipe2(to, O_CLOEXEC) == 0 && pipe2(from, O_CLOEXEC) == 0);
    struct bh_sandbox sb;
    rc = bh_sandbox_start(&env, &p, to[0], from[1], -1, &sb, &err);
    CHECK(rc == 0);
    if (rc == 0) {
        struct stat want, got;
        cleanup_free char *pns = bh_xasprintf("/proc/%d/ns/net", (int)sb.pid);
        CHECK(stat(nspath, &want) == 0 && stat(pns, &got) == 0 && want.st_ino == got.st_ino);
        destroy_and_check(&sb, cgp);
    } else {
        fprintf(stderr, "%s start with netns: %s\n", name, bh_err_msg(&err));
    }
    char *del[] = {"ip", "netns", "del", ns, NULL};
    CHECK(bh_run(del, NULL, 1, &err) == 0);
    for (int i = 0; i < 2; i++) {
        close(to[i]);
        close(from[i]);
    }
    bh_err_clear(&err);
}

/* A session's own user namespace, in two steps: bh_sandbox_create() makes
 * the container (its init waits, the process not started yet) in a user
 * namespace mapping 0..65535 to the given host range, with a network
 * namespace that this user namespace owns; bh_sandbox_resume() starts the
 * process, which runs as host id base + 1000. */
static void test_userns(enum bh_runtime rt)
{
    const char *name = bh_runtime_name(rt);
    char id[32], rnd[9], cgp[96];
    session_ids('u', rt, rnd, id, cgp);
    const uint32_t hbase = 3221225472u; /* 0xC0000000: no host account, no daemon's range */
    /* the container's root (host id hbase) must reach the image: */
    CHECK(chmod(base, 0711) == 0);
    static const char *const sleep_argv[] = {"/usr/bin/sleep", "60", NULL};
    struct bh_spec_params p = params_for(id, cgp, sleep_argv);
    p.userns_host_base = hbase;
    p.userns_size = 65536;
    int to[2], from[2];
    CHECK(pipe2(to, O_CLOEXEC) == 0 && pipe2(from, O_CLOEXEC) == 0);
    struct bh_sandbox sb;
    bh_err_t err = BH_ERR_INIT;
    int rc = bh_sandbox_create(&env, &p, to[0], from[1], -1, &sb, &err);
    CHECK(rc == 0);
    if (rc == 0) {
        cleanup_free char *mp = bh_xasprintf("/proc/%d/uid_map", (int)sb.pid);
        cleanup_free char *map = bh_read_file(mp, NULL, NULL);
        unsigned long a = 1, b = 0, c = 0;
        CHECK(map && sscanf(map, "%lu %lu %lu", &a, &b, &c) == 3 && a == 0 && b == hbase &&
              c == 65536);
        /* created, not started: the init is still the runtime's */
        cleanup_free char *cmd0 = cmdline(sb.pid);
        CHECK(cmd0 && !strstr(cmd0, "sleep"));
        /* its network namespace belongs to its user namespace */
        cleanup_free char *np = bh_xasprintf("/proc/%d/ns/net", (int)sb.pid);
        cleanup_free char *up = bh_xasprintf("/proc/%d/ns/user", (int)sb.pid);
        int nfd = open(np, O_RDONLY | O_CLOEXEC);
        int ufd = nfd >= 0 ? ioctl(nfd, NS_GET_USERNS) : -1;
        struct stat owner, its;
        CHECK(ufd >= 0 && fstat(ufd, &owner) == 0 && stat(up, &its) == 0 &&
              owner.st_ino == its.st_ino);
        if (ufd >= 0)
            close(ufd);
        if (nfd >= 0)
            close(nfd);
        CHECK(bh_sandbox_resume(&env, sb.id, &err) == 0);
        int started = 0;
        for (int i = 0; i < 100 && !started; i++) {
            cleanup_free char *cmd = cmdline(sb.pid);
            started = cmd && strstr(cmd, "sleep") != NULL;
            if (!started)
                usleep(20 * 1000);
        }
        CHECK(started);
        cleanup_free char *uid = status_field(sb.pid, "Uid");
        CHECK(uid && strtoul(uid, NULL, 10) == hbase + 1000);
        destroy_and_check(&sb, cgp);
    } else {
        fprintf(stderr, "%s create with a user namespace: %s\n", name, bh_err_msg(&err));
    }
    /* a user namespace never joins a netns it does not own (no sysfs) */
    p.netns_path = "/run/netns/bh-none";
    CHECK(bh_sandbox_create(&env, &p, to[0], from[1], -1, &sb, &err) < 0 && err.msg);
    bh_err_clear(&err);
    for (int i = 0; i < 2; i++) {
        close(to[i]);
        close(from[i]);
    }
    CHECK(chmod(base, 0700) == 0);
}

/* destroy also removes what a crash can leave: a bundle whose container the
 * runtime no longer knows, and its cgroups with a process still in them. */
static void test_destroy_leftovers(void)
{
    char id[32], rnd[9], cgp[96], cid[48];
    bh_random_hex(rnd, 4, NULL);
    snprintf(id, sizeof id, "l-%s", rnd);
    snprintf(cid, sizeof cid, "bh-%s", id);
    snprintf(cgp, sizeof cgp, CG_PARENT "/%s", id);
    bh_err_t err = BH_ERR_INIT;
    cleanup_free char *bundle = bh_xasprintf("%s/%s", env.bundles_dir, id);
    CHECK(bh_mkdir_p(bundle, 0700, &err) == 0);
    cleanup_free char *cfg = bh_xasprintf("%s/config.json", bundle);
    cleanup_free char *json = bh_xasprintf("{\"linux\":{\"cgroupsPath\":\"%s\"}}", cgp);
    CHECK(bh_write_file(cfg, json, strlen(json), 0600, &err) == 0);
    char **paths = NULL;
    int n = bh_cgroup_paths(cgp, &paths, &err);
    pid_t child = -1;
    for (int i = 0; i < n; i++) {
        CHECK(bh_mkdir_p(paths[i], 0755, &err) == 0);
        if (strstr(paths[i], "/pids/") && child < 0) {
            child = fork();
            if (child == 0) {
                execl("/usr/bin/sleep", "sleep", "60", (char *)NULL);
                _exit(127);
            }
            cleanup_free char *procs = bh_xasprintf("%s/cgroup.procs", paths[i]);
            char pid[16];
            snprintf(pid, sizeof pid, "%d", (int)child);
            int fd = open(procs, O_WRONLY | O_CLOEXEC);
            CHECK(fd >= 0 && write(fd, pid, strlen(pid)) > 0);
            if (fd >= 0)
                close(fd);
        }
    }
    CHECK(child > 0);
    int rc = bh_sandbox_destroy(&env, cid, &err);
    CHECK(rc == 0);
    if (rc < 0)
        fprintf(stderr, "destroy leftovers: %s\n", bh_err_msg(&err));
    if (child > 0) {
        int st = 0;
        CHECK(waitpid(child, &st, 0) == child && WIFSIGNALED(st));
    }
    check_gone(bundle, cgp);
    for (int i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    bh_err_clear(&err);
}

static void remove_cg_parents(void)
{
    char **paths = NULL;
    int n = bh_cgroup_paths(CG_PARENT, &paths, NULL);
    for (int i = 0; i < n; i++) {
        if (rmdir(paths[i]) < 0 && errno != ENOENT)
            fprintf(stderr, "rmdir %s: %s\n", paths[i], strerror(errno));
        free(paths[i]);
    }
    free(paths);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress survives a timeout kill */
    if (geteuid() != 0)
        return T_SKIP("needs root: it runs containers");
    /* Not beside an e2e suite, whose leak check would count our Chromium
     * processes as its own leaks and kill them (as test_net does). */
    int e2e = open("/run/lock/bulkhead-e2e.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (e2e < 0 || flock(e2e, LOCK_EX) < 0)
        perror("test_sandbox: e2e lock");
    CHECK(access(CHROMIUM, X_OK) == 0);
    /* Like the daemon: detached container inits become our children. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    snprintf(base, sizeof base, "/tmp/bh-test-sandbox-XXXXXX");
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    char rnd[9];
    bh_random_hex(rnd, 4, NULL);
    cleanup_free char *image = bh_xasprintf("%s/image", base);
    cleanup_free char *bundles = bh_xasprintf("%s/bundles", base);
    cleanup_free char *rtbase = bh_xasprintf("/run/bh-test-%s", rnd);
    snprintf(image_rootfs, sizeof image_rootfs, "%s/rootfs", image);
    snprintf(image_etc, sizeof image_etc, "%s/etc", image);
    env.image_dir = image;
    /* what the browser kind puts into every session's /etc */
    static const struct bh_kind_file *etc_files[2];
    etc_files[0] = bh_kind_browser.etc_files;
    env.etc_copy = bh_kind_browser.etc_copy;
    env.etc_files = etc_files;
    env.bundles_dir = bundles;

    test_image();
    test_put_file();
    test_put_file_root();
    test_cgroup_paths();

    bh_err_t err = BH_ERR_INIT;
    CHECK(bh_runtime_parse("runc") == BH_RUNTIME_RUNC &&
          bh_runtime_parse("crun") == BH_RUNTIME_CRUN);
    CHECK(bh_runtime_parse("docker") == -1);
    const enum bh_runtime rts[] = {BH_RUNTIME_RUNC, BH_RUNTIME_CRUN};
    for (size_t i = 0; i < 2; i++) {
        enum bh_runtime rt = rts[i];
        int usable = bh_runtime_usable(rt, &err) == 0;
        if (rt == BH_RUNTIME_RUNC)
            CHECK(usable); /* the default runtime must work here */
        if (!usable) {
            T_SKIP_PART("%s: not usable here (%s)", bh_runtime_name(rt), bh_err_msg(&err));
            bh_err_clear(&err);
            continue;
        }
        cleanup_free char *root = bh_xasprintf("%s/%s", rtbase, bh_runtime_name(rt));
        env.runtime = rt;
        env.runtime_root = root;
        test_chromium(rt);
        test_start_failure(rt);
        test_netns(rt);
        test_userns(rt);
        test_destroy_leftovers();
        rmdir(root);
    }
    rmdir(rtbase);
    remove_cg_parents();
    if (bh_rm_rf(base, &err) < 0)
        fprintf(stderr, "cleanup: %s\n", bh_err_msg(&err));
    bh_err_clear(&err);
    if (e2e >= 0)
        close(e2e);
    return T_DONE();
}
