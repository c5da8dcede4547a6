/* test_cgroup.c — the cgroup module on every layout: discovery from
 * /proc/self/cgroup and mountinfo texts (pure v2 as on stock Debian 12, v1,
 * hybrid as on this machine, a namespaced root), and a sandbox's usage read
 * from fake v1, v2 and hybrid trees under a temp dir with the kernel's file
 * formats: every field, missing files, garbage. As root, also a real cgroup
 * under the test's own (in this host's hierarchies): a child in it uses
 * memory and CPU, then hits its memory limit and the OOM killer; the module
 * sees each. Without root that part is skipped (said on stdout). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend/local/cgroup.h"
#include "lib/util.h"
#include "t.h"

static char tmp[64];

/* Write text to dir/name (dir made as needed). */
static void put(const char *dir, const char *name, const char *text)
{
    CHECK(bh_mkdir_p(dir, 0755, NULL) == 0);
    cleanup_free char *p = bh_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* A hierarchy under tmp: mounted at tmp/<mnt>, the daemon's own cgroup in it
 * at tmp/<mnt>/own (strings owned by the hier; free with hiers_free). */
static struct bh_cgroup_hier hier(const char *mnt, const char *ctrls, int v2)
{
    return (struct bh_cgroup_hier){bh_xasprintf("%s/%s", tmp, mnt),
                                   bh_xasprintf("%s/%s/own", tmp, mnt), bh_xstrdup(ctrls), v2};
}

/* The sandbox's dir "bulkhead/x" in tmp/<mnt>. Caller frees. */
static char *sbdir(const char *mnt) { return bh_xasprintf("%s/%s/own/bulkhead/x", tmp, mnt); }

/* Free the strings of hierarchies made by hier() (the array is the caller's). */
static void unhier(struct bh_cgroup_hier *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].mountpoint);
        free(h[i].own_dir);
        free(h[i].controllers);
    }
}

static struct bh_cgroup_usage usage_of(const struct bh_cgroup_hier *h, size_t n, int *known)
{
    struct bh_cgroup_usage u;
    bh_cgroup_t *cg = bh_cgroup_open_hiers(h, n, "bulkhead/x", NULL);
    CHECK(cg != NULL);
    *known = bh_cgroup_usage(cg, &u);
    bh_cgroup_free(cg);
    return u;
}

/* ------------------------------------------------------------------------ */
/* Discovery                                                                 */

static void test_parse_v2(void)
{
    /* stock Debian 12 under systemd */
    const char *self = "0::/system.slice/bulkhead.service\n";
    const char *mi = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
                     "25 22 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
                     "26 25 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:8 - "
                     "cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";
    struct bh_cgroup_hier *h;
    size_t n;
    bh_cgroup_hiers_parse(self, mi, &h, &n);
    CHECK(n == 1);
    if (n == 1) {
        CHECK(h[0].v2);
        CHECK_STR(h[0].mountpoint, "/sys/fs/cgroup");
        CHECK_STR(h[0].own_dir, "/sys/fs/cgroup/system.slice/bulkhead.service");
        CHECK_STR(h[0].controllers, "");
    }
    CHECK(!bh_cgroup_hybrid(h, n));
    bh_cgroup_hiers_free(h, n);
}

static void test_parse_hybrid(void)
{
    /* this machine: v1 controllers (cpu and cpuacct apart), name=systemd, and
     * a cgroup2 hierarchy at .../unified; the daemon's memory cgroup nested */
    const char *self = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n"
                       "2:cpuacct:/\n1:cpu:/\n0::/\n";
    const char *mi =
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
        "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
        "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
    struct bh_cgroup_hier *h;
    size_t n;
    bh_cgroup_hiers_parse(self, mi, &h, &n);
    CHECK(n == 6);
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(h[i].controllers, "memory")) {
            CHECK_STR(h[i].own_dir, "/sys/fs/cgroup/memory/process_api/abc");
            seen |= 1;
        } else if (!strcmp(h[i].controllers, "name=systemd")) {
            CHECK_STR(h[i].own_dir, "/sys/fs/cgroup/systemd");
            seen |= 2;
        } else if (h[i].v2) {
            CHECK_STR(h[i].own_dir, "/sys/fs/cgroup/unified");
            CHECK_STR(h[i].controllers, "");
            seen |= 4;
        }
    }
    CHECK(seen == 7);
    CHECK(bh_cgroup_hybrid(h, n));
    bh_cgroup_hiers_free(h, n);
}

static void test_parse_nested_root(void)
{
    /* in a container: the mount's root is a cgroup, /proc/self/cgroup's path
     * is below it; co-mounted cpu,cpuacct; a hierarchy not mounted here and
     * a mount whose root does not contain our cgroup are both skipped */
    const char *self = "5:cpu,cpuacct:/kube/pod1/c1\n4:memory:/kube/pod1/c1\n3:blkio:/x\n";
    const char *mi = "50 40 0:40 /kube/pod1 /sys/fs/cgroup/cpu,cpuacct ro - cgroup cgroup "
                     "rw,cpu,cpuacct\n"
                     "51 40 0:41 /other /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n"
                     "garbage line\n";
    struct bh_cgroup_hier *h;
    size_t n;
    bh_cgroup_hiers_parse(self, mi, &h, &n);
    CHECK(n == 1);
    if (n == 1) {
        CHECK(!h[0].v2);
        CHECK_STR(h[0].own_dir, "/sys/fs/cgroup/cpu,cpuacct/c1");
        CHECK_STR(h[0].controllers, "cpu,cpuacct");
    }
    bh_cgroup_hiers_free(h, n);
    /* nothing understood: none, no crash */
    bh_cgroup_hiers_parse("", "", &h, &n);
    CHECK(n == 0);
    bh_cgroup_hiers_free(h, n);
    bh_cgroup_hiers_parse("0::\n::\n1:\n", "1 2 3\n - \n", &h, &n);
    CHECK(n == 0);
    bh_cgroup_hiers_free(h, n);
}

static void test_path_valid(void)
{
    CHECK(bh_cgroup_path_valid("bulkhead/abc"));
    CHECK(bh_cgroup_path_valid("a..b/c"));
    CHECK(!bh_cgroup_path_valid(NULL));
    CHECK(!bh_cgroup_path_valid(""));
    CHECK(!bh_cgroup_path_valid("/bulkhead/x"));
    CHECK(!bh_cgroup_path_valid("bulkhead/../x"));
    CHECK(!bh_cgroup_path_valid(".."));
    CHECK(!bh_cgroup_path_valid("bulkhead/./x"));
    CHECK(!bh_cgroup_path_valid("bulkhead//x"));
    CHECK(!bh_cgroup_path_valid("bulkhead/x/"));
    CHECK(!bh_cgroup_path_valid("bulk:head"));
    CHECK(!bh_cgroup_path_valid("bulk\nhead"));
    bh_err_t err = BH_ERR_INIT;
    CHECK(bh_cgroup_open("../escape", &err) == NULL);
    CHECK(err.errnum == EINVAL);
    bh_err_clear(&err);
    CHECK(bh_cgroup_open_hiers(NULL, 0, "/abs", &err) == NULL);
    CHECK(err.errnum == EINVAL);
    bh_err_clear(&err);
    char **paths = NULL;
    CHECK(bh_cgroup_paths("a/../..", &paths, &err) < 0);
    CHECK(paths == NULL);
    bh_err_clear(&err);
}

/* ------------------------------------------------------------------------ */
/* Usage from fake trees                                                     */

static void test_usage_v2(void)
{
    cleanup_free char *d = sbdir("v2");
    put(d, "memory.current", "1048576\n");
    put(d, "cpu.stat",
        "usage_usec 123\nuser_usec 100\nsystem_usec 23\nnr_periods 0\n"
        "nr_throttled 0\nthrottled_usec 0\n");
    put(d, "memory.events", "low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\n");
    put(d, "pids.current", "7\n");
    struct bh_cgroup_hier h[] = {hier("v2", "", 1)};
    int known;
    struct bh_cgroup_usage u = usage_of(h, 1, &known);
    CHECK(known == 4);
    CHECK(u.memory_bytes == 1048576);
    CHECK(u.cpu_usec == 123);
    CHECK(u.oom_kills == 1);
    CHECK(u.pids == 7);
    /* the v1 names in a v2 dir are not read */
    put(d, "memory.usage_in_bytes", "5\n");
    put(d, "cpuacct.usage", "5000\n");
    put(d, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 9\n");
    u = usage_of(h, 1, &known);
    CHECK(u.memory_bytes == 1048576 && u.cpu_usec == 123 && u.oom_kills == 1);
    unhier(h, 1);
}

/* v1 hierarchies: memory, cpu,cpuacct co-mounted, pids, name=systemd. */
static void test_usage_v1(void)
{
    cleanup_free char *mem = sbdir("memory");
    cleanup_free char *cpu = sbdir("cpu,cpuacct");
    cleanup_free char *pids = sbdir("pids");
    cleanup_free char *sysd = sbdir("systemd");
    put(mem, "memory.usage_in_bytes", "2097152\n");
    put(mem, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n");
    put(cpu, "cpuacct.usage", "5000000\n");
    put(pids, "pids.current", "3\n");
    put(sysd, "pids.current", "99\n"); /* a decoy in a hierarchy without the controller */
    struct bh_cgroup_hier h[] = {hier("systemd", "name=systemd", 0),
                                 hier("cpu,cpuacct", "cpu,cpuacct", 0), hier("memory", "memory", 0),
                                 hier("pids", "pids", 0)};
    size_t n = sizeof h / sizeof *h;
    int known;
    struct bh_cgroup_usage u = usage_of(h, n, &known);
    CHECK(known == 4);
    CHECK(u.memory_bytes == 2097152);
    CHECK(u.cpu_usec == 5000);
    CHECK(u.oom_kills == 4);
    CHECK(u.pids == 3);
    /* a kernel without memory.oom_control's oom_kill line (before 4.13) */
    put(mem, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
    u = usage_of(h, n, &known);
    CHECK(known == 3);
    CHECK(u.oom_kills == -1);
    CHECK(u.memory_bytes == 2097152);
    unhier(h, n);
}

/* Hybrid: v1 controllers beside a cgroup2 hierarchy without them. The v2
 * dir holds decoys with other values: every field must come from v1. With
 * no v1 cpuacct hierarchy, CPU time comes from v2's cpu.stat (there with or
 * without the cpu controller). */
static void test_usage_hybrid(void)
{
    cleanup_free char *mem = sbdir("h-memory");
    cleanup_free char *acct = sbdir("h-cpuacct");
    cleanup_free char *pids = sbdir("h-pids");
    cleanup_free char *v2 = sbdir("h-unified");
    put(mem, "memory.usage_in_bytes", "4096\n");
    put(mem, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
    put(acct, "cpuacct.usage", "7000\n");
    put(pids, "pids.current", "12\n");
    put(v2, "memory.current", "999\n");
    put(v2, "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 9\n");
    put(v2, "cpu.stat", "usage_usec 999\n");
    put(v2, "pids.current", "99\n");
    struct bh_cgroup_hier h[] = {hier("h-unified", "", 1), hier("h-memory", "memory", 0),
                                 hier("h-cpuacct", "cpuacct", 0), hier("h-pids", "pids", 0)};
    size_t n = sizeof h / sizeof *h;
    CHECK(bh_cgroup_hybrid(h, n));
    int known;
    struct bh_cgroup_usage u = usage_of(h, n, &known);
    CHECK(known == 4);
    CHECK(u.memory_bytes == 4096);
    CHECK(u.cpu_usec == 7); /* 7000 ns */
    CHECK(u.oom_kills == 0);
    CHECK(u.pids == 12);
    /* without the v1 cpuacct hierarchy */
    struct bh_cgroup_hier h2[] = {h[0], h[1], h[3]};
    u = usage_of(h2, 3, &known);
    CHECK(u.cpu_usec == 999);
    CHECK(u.memory_bytes == 4096);
    unhier(h, n);
}

static void test_usage_missing(void)
{
    int known;
    /* no hierarchy at all */
    struct bh_cgroup_usage u = usage_of(NULL, 0, &known);
    CHECK(known == 0);
    CHECK(u.memory_bytes == -1 && u.cpu_usec == -1 && u.oom_kills == -1 && u.pids == -1);
    /* the sandbox's dirs not made (yet), or gone */
    struct bh_cgroup_hier h[] = {hier("none-v2", "", 1)};
    u = usage_of(h, 1, &known);
    CHECK(known == 0);
    CHECK(u.memory_bytes == -1 && u.cpu_usec == -1 && u.oom_kills == -1 && u.pids == -1);
    /* dir there, files missing: only what is there */
    cleanup_free char *d = sbdir("none-v2");
    put(d, "pids.current", "1\n");
    u = usage_of(h, 1, &known);
    CHECK(known == 1);
    CHECK(u.pids == 1);
    CHECK(u.memory_bytes == -1 && u.cpu_usec == -1 && u.oom_kills == -1);
    /* a failed open reads as all unknown */
    CHECK(bh_cgroup_usage(NULL, &u) == 0);
    CHECK(u.memory_bytes == -1 && u.cpu_usec == -1 && u.oom_kills == -1 && u.pids == -1);
    unhier(h, 1);
}

/* One field's v2 file with text: the value read (memory.current,
 * cpu.stat usage_usec, memory.events oom_kill or pids.current by which). */
static long long v2_value(const char *file, const char *text)
{
    cleanup_free char *d = sbdir("garbage");
    cleanup_free char *p = bh_xasprintf("%s/%s", d, file);
    put(d, file, text);
    struct bh_cgroup_hier h[] = {hier("garbage", "", 1)};
    int known;
    struct bh_cgroup_usage u = usage_of(h, 1, &known);
    unlink(p);
    unhier(h, 1);
    if (!strcmp(file, "memory.current"))
        return u.memory_bytes;
    if (!strcmp(file, "cpu.stat"))
        return u.cpu_usec;
    if (!strcmp(file, "memory.events"))
        return u.oom_kills;
    return u.pids;
}

static void test_usage_garbage(void)
{
    /* the well-formed edge cases first */
    CHECK(v2_value("memory.current", "0\n") == 0);
    CHECK(v2_value("memory.current", "42") == 42); /* no newline */
    CHECK(v2_value("pids.current", "9223372036854775807\n") == 9223372036854775807LL);
    CHECK(v2_value("cpu.stat", "user_usec 1\nusage_usec 55") == 55); /* last, no newline */
    CHECK(v2_value("memory.events", "oom_group_kill 5\noom 2\noom_kill 3\n") == 3);
    /* garbage */
    CHECK(v2_value("memory.current", "") == -1);
    CHECK(v2_value("memory.current", "\n") == -1);
    CHECK(v2_value("memory.current", "abc\n") == -1);
    CHECK(v2_value("memory.current", "12abc\n") == -1);
    CHECK(v2_value("memory.current", "-5\n") == -1);
    CHECK(v2_value("memory.current", " 5\n") == -1);
    CHECK(v2_value("pids.current", "max\n") == -1);
    CHECK(v2_value("pids.current", "9223372036854775808\n") == -1); /* overflow */
    CHECK(v2_value("pids.current", "99999999999999999999999\n") == -1);
    CHECK(v2_value("cpu.stat", "usage_usec x\n") == -1);
    CHECK(v2_value("cpu.stat", "usage_usec\n") == -1);
    CHECK(v2_value("cpu.stat", "usage_usec  5\n") == -1);
    CHECK(v2_value("cpu.stat", "usage_usec_total 5\nx_usage_usec 6\n") == -1);
    CHECK(v2_value("cpu.stat", "user_usec 1\nsystem_usec 2\n") == -1);
    /* near-miss keys: oom, oom_group_kill, oom_kill_disable are not oom_kill */
    CHECK(v2_value("memory.events", "low 0\nhigh 0\nmax 3\noom 2\n") == -1);
    CHECK(v2_value("memory.events", "oom_group_kill 5\noom_kill_disable 0\n") == -1);
    CHECK(v2_value("memory.events", "oom_kill -1\n") == -1);
    /* a file longer than the read buffer: a cut last line is not read */
    cleanup_free char *big = bh_xcalloc(1, 8192);
    for (size_t i = 0; i < 4090; i++)
        big[i] = i % 64 == 63 ? '\n' : 'x';
    strcat(big, "usage_usec 123456\n");
    CHECK(v2_value("cpu.stat", big) == -1);
    memset(big, 0, 8192);
    for (size_t i = 0; i < 5000; i++)
        big[i] = 'x'; /* one line, longer than the buffer */
    CHECK(v2_value("cpu.stat", big) == -1);
}

/* ------------------------------------------------------------------------ */
/* A real cgroup (root)                                                      */

/* Write text to dir/file; 0 or -1. */
static int cg_write(const char *dir, const char *file, const char *text)
{
    cleanup_free char *p = bh_xasprintf("%s/%s", dir, file);
    FILE *f = fopen(p, "w");
    if (!f)
        return -1;
    int rc = fputs(text, f) < 0 ? -1 : 0;
    return fclose(f) == 0 ? rc : -1;
}

/* The child: join every dir of paths (writing "0" to cgroup.procs moves the
 * writer), touch 16 MiB and burn 20 ms of CPU, say so on `up`, and wait on
 * `go`; then touch up to 1 GiB more (the OOM killer ends it first). */
static void child(char **paths, int up, int go)
{
    for (size_t i = 0; paths[i]; i++)
        if (cg_write(paths[i], "cgroup.procs", "0") < 0)
            _exit(2);
    char *m = malloc(16 << 20);
    if (!m)
        _exit(3);
    memset(m, 1, 16 << 20);
    struct timespec t0, t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    do
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 20000000L);
    char c = 1;
    if (write(up, &c, 1) != 1 || read(go, &c, 1) != 1)
        _exit(4);
    for (int i = 0; i < 1024; i++) { /* 1 GiB at most: never the host's memory */
        char *p = malloc(1 << 20);
        if (!p)
            _exit(5);
        memset(p, 1, 1 << 20);
    }
    _exit(6);
}

/* The child in the cgroup at each stage, as the module reads it. */
static void real_cgroup_run(const bh_cgroup_t *cg, char **paths)
{
    struct bh_cgroup_usage u;
    int up[2], go[2];
    if (pipe(up) < 0 || pipe(go) < 0) {
        CHECK(!"pipe");
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(up[0]);
        close(go[1]);
        child(paths, up[1], go[0]);
    }
    close(up[1]);
    close(go[0]);
    char c = 0;
    int joined = read(up[0], &c, 1) == 1;
    CHECK(joined);
    if (joined) {
        int known = bh_cgroup_usage(cg, &u);
        printf("real cgroup, child running: memory %lld, cpu %lld us, oom_kills %lld, pids %lld\n",
               u.memory_bytes, u.cpu_usec, u.oom_kills, u.pids);
        CHECK(known == 4);
        CHECK(u.memory_bytes >= 16 << 20);
        CHECK(u.memory_bytes <= 64 << 20);
        CHECK(u.cpu_usec >= 10000);
        CHECK(u.oom_kills == 0);
        CHECK(u.pids == 1);
        CHECK(write(go[1], &c, 1) == 1);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    close(up[0]);
    close(go[1]);
    if (!joined)
        return;
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    bh_cgroup_usage(cg, &u);
    printf("real cgroup, child OOM-killed: memory %lld, cpu %lld us, oom_kills %lld, pids %lld\n",
           u.memory_bytes, u.cpu_usec, u.oom_kills, u.pids);
    CHECK(u.oom_kills >= 1);
    CHECK(u.pids == 0);
}

static void test_real_cgroup(void)
{
    if (geteuid() != 0) {
        printf("skip: the real-cgroup test needs root\n");
        return;
    }
    char cgp[64];
    snprintf(cgp, sizeof cgp, "bulkhead-test-cgroup-%d", (int)getpid());
    char **paths = NULL;
    bh_err_t err = BH_ERR_INIT;
    int n = bh_cgroup_paths(cgp, &paths, &err);
    CHECK(n > 0);
    bh_cgroup_t *cg = bh_cgroup_open(cgp, &err);
    CHECK(cg != NULL);
    if (n <= 0 || !cg) {
        fprintf(stderr, "cgroup: %s\n", bh_err_msg(&err));
        goto out;
    }
    struct bh_cgroup_usage u;
    CHECK(bh_cgroup_usage(cg, &u) == 0); /* not made yet */
    for (int i = 0; i < n; i++) {
        CHECK(mkdir(paths[i], 0755) == 0);
        /* v1 cpuset: a new cgroup takes no process before it has cpus and
         * mems; give it its parent's */
        for (const char *const *f = (const char *const[]){"cpuset.cpus", "cpuset.mems", NULL}; *f;
             f++) {
            cleanup_free char *pp = bh_xasprintf("%s/../%s", paths[i], *f);
            cleanup_free char *v = bh_read_file(pp, NULL, NULL);
            if (v)
                CHECK(cg_write(paths[i], *f, v) == 0);
        }
    }
    /* a 64 MiB limit and no swap, wherever the memory controller is */
    int limited = 0;
    for (int i = 0; i < n; i++) {
        limited += cg_write(paths[i], "memory.limit_in_bytes", "67108864") == 0;
        cg_write(paths[i], "memory.memsw.limit_in_bytes", "67108864");
        limited += cg_write(paths[i], "memory.max", "67108864") == 0;
        cg_write(paths[i], "memory.swap.max", "0");
    }
    CHECK(limited <= 1);
    if (limited)
        real_cgroup_run(cg, paths);
    else
        printf("skip: no memory controller in the test's own cgroup to limit\n");
    for (int i = 0; i < n; i++) {
        CHECK(bh_cgroup_remove(paths[i], &err) == 0);
        CHECK(access(paths[i], F_OK) < 0 && errno == ENOENT);
    }
    CHECK(bh_cgroup_usage(cg, &u) == 0); /* gone */
out:
    bh_cgroup_free(cg);
    bh_strv_free(paths);
    bh_err_clear(&err);
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/bh-test-cgroup-XXXXXX");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_parse_v2();
    test_parse_hybrid();
    test_parse_nested_root();
    test_path_valid();
    test_usage_v2();
    test_usage_v1();
    test_usage_hybrid();
    test_usage_missing();
    test_usage_garbage();
    test_real_cgroup();
    CHECK(bh_rm_rf(tmp, NULL) == 0);
    return T_DONE();
}
