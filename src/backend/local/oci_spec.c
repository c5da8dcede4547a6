/* oci_spec.c — the OCI config.json of a session sandbox (see oci_spec.h).
 *
 * Everything here is data: the tables below are the sandbox baseline, and
 * bh_oci_spec_build() only arranges them around the session's settings. The
 * output is deterministic (keys in insertion order), so a golden file pins it. */
#include "backend/local/oci_spec.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "backend/local/cgroup.h"
#include "lib/util.h"

/* ------------------------------------------------------------------------ */
/* Baseline tables                                                           */

/* Masked and read-only /proc and /sys paths: `runc spec` defaults, plus
 * powercap (energy counters are a side channel; Docker masks it too). */
/* clang-format off */
static const char *const masked_paths[] = {
    "/proc/acpi",        "/proc/asound",    "/proc/kcore",       "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi",        "/sys/firmware",   "/sys/devices/virtual/powercap", NULL,
};
/* clang-format on */

static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

/* Character devices the sandbox may use (after "deny all"); minor -1 = any. */
static const struct {
    int64_t major, minor;
} allowed_devices[] = {
    {1, 3},    /* null */
    {1, 5},    /* zero */
    {1, 7},    /* full */
    {1, 8},    /* random */
    {1, 9},    /* urandom */
    {5, 0},    /* tty */
    {5, 2},    /* ptmx */
    {136, -1}, /* pts/N */
};

/* Seccomp allow-list: Docker's default profile (moby/profiles, the set
 * allowed without extra capabilities) minus what a browser sandbox never
 * needs — name_to_handle_at, adjtimex/clock_adjtime, fanotify_mark,
 * modify_ldt, ptrace and process_vm_* (Docker allows those on >= 4.8). mount,
 * umount2, pivot_root, keyctl, add_key, request_key, bpf, userfaultfd,
 * open_by_handle_at, kexec_*, *_module, reboot, swapon/off, setns, acct,
 * quotactl, perf_event_open, lookup_dcookie, the new mount API, iopl/ioperm,
 * syslog, clock_settime/settimeofday/stime, vm86 and io_uring are absent, so
 * they fail with EPERM. socketcall is absent too (it is a 32-bit call, and
 * the filter admits the native architecture only; see build_seccomp()).
 * Added for Chromium's own sandbox: chroot (it chroots into an empty
 * directory inside its user namespace), and clone and unshare (it creates
 * user, pid and net namespaces), which are in clone_calls below: with any
 * flags, or without CLONE_NEWUSER in the stricter mode. Names that the
 * runtime's libseccomp does not know are skipped by the runtime. */
/* clang-format off */
static const char *const allowed_syscalls[] = {
    "accept", "accept4", "access", "alarm", "arch_prctl", "bind", "brk", "cachestat",
    "capget", "capset", "chdir", "chmod", "chown", "chown32", "chroot", "clock_getres",
    "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
    "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range",
    "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd",
    "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2",
    "fadvise64", "fadvise64_64", "fallocate", "fchdir", "fchmod", "fchmodat", "fchmodat2",
    "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr",
    "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64",
    "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex",
    "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake", "futimesat",
    "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32", "geteuid",
    "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer", "getpeername",
    "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid",
    "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list", "getrusage",
    "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday",
    "getuid", "getuid32", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1",
    "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents",
    "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit", "ipc", "kill",
    "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown",
    "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr", "_llseek",
    "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack",
    "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod",
    "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr",
    "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
    "mq_timedsend_time64", "mq_unlink", "mremap", "mseal", "msgctl", "msgget", "msgrcv",
    "msgsnd", "msync", "munlock", "munlockall", "munmap", "nanosleep", "newfstatat",
    "_newselect", "open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal",
    "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll",
    "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease",
    "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead",
    "readlink", "readlinkat", "readv", "recvfrom", "recvmmsg", "recvmmsg_time64",
    "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat", "renameat2",
    "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
    "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
    "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
    "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
    "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp",
    "select", "semctl", "semget", "semop", "semtimedop", "semtimedop_time64",
    "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32",
    "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer",
    "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32",
    "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list",
    "setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32",
    "setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd",
    "signalfd4", "sigprocmask", "sigreturn", "socketpair", "splice", "stat",
    "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync",
    "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
    "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
    "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
    "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64",
    "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat",
    "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write",
    "writev", NULL,
};
/* clang-format on */

/* Namespace-creating calls; allowed with any flags, or only without
 * CLONE_NEWUSER when nested user namespaces are denied (clone's flags and
 * unshare's are both argument 0 on x86-64). */
static const char *const clone_calls[] = {"clone", "unshare", NULL};
#define OCI_CLONE_NEWUSER 0x10000000ull

/* socket(2) only for these address families (AF_UNIX, AF_INET, AF_INET6);
 * AF_PACKET, AF_VSOCK, AF_ALG etc. fail with EPERM. AF_NETLINK only with
 * the protocols below. */
static const uint64_t allowed_socket_domains[] = {1, 2, 10};
#define OCI_AF_NETLINK 16
/* Netlink protocols: only NETLINK_ROUTE (0), what Chromium uses (measured
 * with strace: NETLINK_ROUTE for its network change notifier, and
 * NETLINK_KOBJECT_UEVENT for device monitoring, which it does without).
 * Denying NETLINK_NETFILTER (12) keeps nf_tables, conntrack and the other
 * netfilter subsystems out of reach of every process in the session,
 * including ones in nested user namespaces that hold CAP_NET_ADMIN there
 * (the filter is inherited); NETLINK_XFRM, NETLINK_AUDIT, NETLINK_GENERIC
 * (and with it nl80211, wireguard, ...), NETLINK_SOCK_DIAG etc. likewise. */
static const uint64_t allowed_netlink_protocols[] = {0};

/* The one architecture the filter admits: system calls of any other ABI
 * (i386's int 0x80 from a 64-bit process, x32) are not matched by any rule,
 * and the runtime's libseccomp kills the caller (its default bad-arch
 * action). The 32-bit ABI has socketcall(2), which carries socket()'s
 * arguments in memory where seccomp cannot see them. */
#if defined(__x86_64__)
#define OCI_NATIVE_ARCH "SCMP_ARCH_X86_64"
#elif defined(__aarch64__)
#define OCI_NATIVE_ARCH "SCMP_ARCH_AARCH64"
#else
#error "add this architecture's SCMP_ARCH_ name"
#endif

/* personality(2) values Docker allows: PER_LINUX, UNAME26, ADDR_NO_RANDOMIZE
 * (and with UNAME26), and the 0xffffffff query. */
static const uint64_t allowed_personalities[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

#define OCI_ERRNO_EPERM 1
#define OCI_ERRNO_ENOSYS 38
#define CLONE3_ERRNO OCI_ERRNO_ENOSYS /* glibc then falls back to clone(2) */

/* ------------------------------------------------------------------------ */
/* JSON helpers (jansson; the *_new variants steal the reference)            */

static json_t *str_array(const char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *mount_entry(const char *dest, const char *type, const char *source,
                           const char *const *options)
{
    json_t *m = json_object();
    json_object_set_new(m, "destination", json_string(dest));
    json_object_set_new(m, "type", json_string(type));
    json_object_set_new(m, "source", json_string(source));
    json_object_set_new(m, "options", str_array(options));
    return m;
}

static json_t *seccomp_arg(unsigned index, uint64_t value, const char *op)
{
    json_t *a = json_object();
    json_object_set_new(a, "index", json_integer(index));
    json_object_set_new(a, "value", json_integer((json_int_t)value));
    json_object_set_new(a, "op", json_string(op));
    return a;
}

/* Allow `names`; with no "args", whatever their arguments. */
static json_t *seccomp_rule_allow(const char *const *names)
{
    json_t *r = json_object();
    json_object_set_new(r, "names", str_array(names));
    json_object_set_new(r, "action", json_string("SCMP_ACT_ALLOW"));
    return r;
}

static json_t *seccomp_rule_arg0_eq(const char *name, uint64_t value)
{
    const char *names[] = {name, NULL};
    json_t *r = seccomp_rule_allow(names);
    json_t *args = json_array();
    json_array_append_new(args, seccomp_arg(0, value, "SCMP_CMP_EQ"));
    json_object_set_new(r, "args", args);
    return r;
}

/* Allow socket(AF_NETLINK, any type, protocol). The args of one rule must
 * all match. */
static json_t *seccomp_rule_netlink(uint64_t protocol)
{
    json_t *r = seccomp_rule_arg0_eq("socket", OCI_AF_NETLINK);
    json_array_append_new(json_object_get(r, "args"), seccomp_arg(2, protocol, "SCMP_CMP_EQ"));
    return r;
}

/* Allow `names` when (arg0 & mask) == 0. */
static json_t *seccomp_rule_arg0_clear(const char *const *names, uint64_t mask)
{
    json_t *r = seccomp_rule_allow(names);
    json_t *a = seccomp_arg(0, mask, "SCMP_CMP_MASKED_EQ");
    json_object_set_new(a, "valueTwo", json_integer(0));
    json_t *args = json_array();
    json_array_append_new(args, a);
    json_object_set_new(r, "args", args);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Validation                                                                */

/* Whether s is an acceptable session id: [A-Za-z0-9_.-]{1,64}, so that the
 * container id "bh-<id>" and the bundle dir name are safe. */
static int valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

/* An absolute path without ".." components. */
static int is_abs_path(const char *s)
{
    if (!s || s[0] != '/')
        return 0;
    for (const char *p = s; (p = strstr(p, "..")); p += 2)
        if (p[-1] == '/' && (p[2] == '/' || p[2] == 0))
            return 0;
    return 1;
}

static int validate(const struct bh_spec_params *p, bh_err_t *err)
{
    if (!p)
        return bh_err_set(err, EINVAL, "spec: no parameters");
    if (!p->id || !valid_id(p->id))
        return bh_err_set(err, EINVAL, "spec: missing or invalid id (want [A-Za-z0-9_.-]{1,64})");
    if (!p->rootfs || !is_abs_path(p->rootfs))
        return bh_err_set(err, EINVAL, "spec: rootfs must be an absolute path");
    if (p->etc_dir && !is_abs_path(p->etc_dir))
        return bh_err_set(err, EINVAL, "spec: etc_dir must be an absolute path");
    if (p->netns_path && !is_abs_path(p->netns_path))
        return bh_err_set(err, EINVAL, "spec: netns_path must be an absolute path");
    for (size_t i = 0; p->host_ro_dirs && p->host_ro_dirs[i]; i++) {
        const char *d = p->host_ro_dirs[i];
        if (!is_abs_path(d) || !strcmp(d, "/"))
            return bh_err_set(err, EINVAL, "spec: host dir \"%s\" must be an absolute path", d);
    }
    if (!p->argv || !p->argv[0] || !p->argv[0][0])
        return bh_err_set(err, EINVAL, "spec: missing argv");
    if (!p->cgroups_path || !bh_cgroup_path_valid(p->cgroups_path))
        return bh_err_set(err, EINVAL,
                          "spec: cgroups_path must be a relative path like \"bulkhead/<id>\"");
    if (p->uid == 0 || p->gid == 0)
        return bh_err_set(err, EPERM, "spec: the sandbox never runs as root (uid/gid 0)");
    if (p->userns_host_base) {
        if (p->uid >= p->userns_size || p->gid >= p->userns_size)
            return bh_err_set(err, EINVAL, "spec: uid/gid outside the user namespace's range");
        if ((uint64_t)p->userns_host_base + p->userns_size > UINT32_MAX)
            return bh_err_set(err, ERANGE, "spec: user namespace range past the last host id");
        if (p->netns_path)
            return bh_err_set(err, EINVAL,
                              "spec: a user namespace needs a network namespace of its own "
                              "(no netns_path)");
    }
    if (p->memory_bytes == 0 || p->pids_max == 0)
        return bh_err_set(err, EINVAL, "spec: memory and pids limits are required");
    if (p->tmp_bytes == 0 || p->shm_bytes == 0)
        return bh_err_set(err, EINVAL, "spec: /tmp and /dev/shm sizes are required");
    const uint64_t max = (uint64_t)INT64_MAX;
    if (p->memory_bytes > max || p->pids_max > max || p->cpu_quota_us > max ||
        p->cpu_period_us > max || p->cpu_shares > max)
        return bh_err_set(err, ERANGE, "spec: limit out of range");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Sections                                                                  */

static json_t *build_process(const struct bh_spec_params *p)
{
    json_t *proc = json_object();
    json_object_set_new(proc, "terminal", json_false());
    json_t *user = json_object();
    json_object_set_new(user, "uid", json_integer(p->uid));
    json_object_set_new(user, "gid", json_integer(p->gid));
    json_object_set_new(proc, "user", user);
    json_object_set_new(proc, "args", str_array(p->argv));
    json_object_set_new(proc, "env", str_array(p->env));
    json_object_set_new(proc, "cwd", json_string("/tmp"));

    static const char *const sets[] = {"bounding", "effective", "inheritable", "permitted",
                                       "ambient"};
    json_t *caps = json_object();
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
        json_object_set_new(caps, sets[i], json_array());
    json_object_set_new(proc, "capabilities", caps);

    json_t *rl = json_array();
    static const struct {
        const char *type;
        uint64_t limit;
    } rlimits[] = {{"RLIMIT_NOFILE", 4096}, {"RLIMIT_CORE", 0}};
    for (size_t i = 0; i < sizeof rlimits / sizeof *rlimits; i++) {
        json_t *r = json_object();
        json_object_set_new(r, "type", json_string(rlimits[i].type));
        json_object_set_new(r, "hard", json_integer((json_int_t)rlimits[i].limit));
        json_object_set_new(r, "soft", json_integer((json_int_t)rlimits[i].limit));
        json_array_append_new(rl, r);
    }
    json_object_set_new(proc, "rlimits", rl);
    json_object_set_new(proc, "noNewPrivileges", json_true());
    /* Under memory pressure the kernel kills sessions before the daemon. */
    json_object_set_new(proc, "oomScoreAdj", json_integer(500));
    return proc;
}

static json_t *build_mounts(const struct bh_spec_params *p)
{
    json_t *m = json_array();
    char size[64];

    const char *proc_o[] = {"nosuid", "noexec", "nodev", NULL};
    json_array_append_new(m, mount_entry("/proc", "proc", "proc", proc_o));
    const char *dev_o[] = {"nosuid", "strictatime", "mode=755", "size=65536k", NULL};
    json_array_append_new(m, mount_entry("/dev", "tmpfs", "tmpfs", dev_o));
    const char *pts_o[] = {"nosuid",    "noexec", "newinstance", "ptmxmode=0666",
                           "mode=0620", "gid=5",  NULL};
    json_array_append_new(m, mount_entry("/dev/pts", "devpts", "devpts", pts_o));
    snprintf(size, sizeof size, "size=%" PRIu64, p->shm_bytes);
    const char *shm_o[] = {"nosuid", "noexec", "nodev", "mode=1777", size, NULL};
    json_array_append_new(m, mount_entry("/dev/shm", "tmpfs", "shm", shm_o));
    const char *mq_o[] = {"nosuid", "noexec", "nodev", NULL};
    json_array_append_new(m, mount_entry("/dev/mqueue", "mqueue", "mqueue", mq_o));
    const char *sys_o[] = {"nosuid", "noexec", "nodev", "ro", NULL};
    json_array_append_new(m, mount_entry("/sys", "sysfs", "sysfs", sys_o));
    const char *cg_o[] = {"nosuid", "noexec", "nodev", "relatime", "ro", NULL};
    json_array_append_new(m, mount_entry("/sys/fs/cgroup", "cgroup", "cgroup", cg_o));

    /* /tmp is owned by the sandbox user: runc 1.1.5 gives a tmpfs the mode
     * of the directory it covers, so mode= alone is not enough. */
    snprintf(size, sizeof size, "size=%" PRIu64, p->tmp_bytes);
    char uid[32], gid[32];
    snprintf(uid, sizeof uid, "uid=%" PRIu32, p->uid);
    snprintf(gid, sizeof gid, "gid=%" PRIu32, p->gid);
    const char *tmp_o[] = {"nosuid", "nodev", "mode=1777", size, uid, gid, NULL};
    json_array_append_new(m, mount_entry("/tmp", "tmpfs", "tmpfs", tmp_o));
    if (p->home_bytes) {
        snprintf(size, sizeof size, "size=%" PRIu64, p->home_bytes);
        const char *home_o[] = {"nosuid", "nodev", "mode=0755", size, uid, gid, NULL};
        json_array_append_new(m, mount_entry("/home/user", "tmpfs", "tmpfs", home_o));
    }

    const char *ro_o[] = {"rbind", "ro", "nosuid", "nodev", NULL};
    json_array_append_new(m, mount_entry("/usr", "bind", "/usr", ro_o));
    for (size_t i = 0; p->host_ro_dirs && p->host_ro_dirs[i]; i++)
        json_array_append_new(m, mount_entry(p->host_ro_dirs[i], "bind", p->host_ro_dirs[i], ro_o));
    if (p->etc_dir) {
        const char *etc_o[] = {"rbind", "ro", "nosuid", "nodev", "noexec", NULL};
        json_array_append_new(m, mount_entry("/etc", "bind", p->etc_dir, etc_o));
    }
    return m;
}

static json_t *build_resources(const struct bh_spec_params *p)
{
    json_t *res = json_object();

    json_t *dev = json_array();
    json_t *deny = json_object();
    json_object_set_new(deny, "allow", json_false());
    json_object_set_new(deny, "access", json_string("rwm"));
    json_array_append_new(dev, deny);
    for (size_t i = 0; i < sizeof allowed_devices / sizeof *allowed_devices; i++) {
        json_t *d = json_object();
        json_object_set_new(d, "allow", json_true());
        json_object_set_new(d, "type", json_string("c"));
        json_object_set_new(d, "major", json_integer(allowed_devices[i].major));
        if (allowed_devices[i].minor >= 0)
            json_object_set_new(d, "minor", json_integer(allowed_devices[i].minor));
        json_object_set_new(d, "access", json_string("rwm"));
        json_array_append_new(dev, d);
    }
    json_object_set_new(res, "devices", dev);

    json_t *mem = json_object();
    json_object_set_new(mem, "limit", json_integer((json_int_t)p->memory_bytes));
    json_object_set_new(mem, "swap", json_integer((json_int_t)p->memory_bytes));
    json_object_set_new(res, "memory", mem);

    if (p->cpu_shares || p->cpu_quota_us) {
        json_t *cpu = json_object();
        if (p->cpu_shares)
            json_object_set_new(cpu, "shares", json_integer((json_int_t)p->cpu_shares));
        if (p->cpu_quota_us) {
            json_object_set_new(cpu, "quota", json_integer((json_int_t)p->cpu_quota_us));
            json_object_set_new(
                cpu, "period",
                json_integer((json_int_t)(p->cpu_period_us ? p->cpu_period_us : 100000)));
        }
        json_object_set_new(res, "cpu", cpu);
    }

    json_t *pids = json_object();
    json_object_set_new(pids, "limit", json_integer((json_int_t)p->pids_max));
    json_object_set_new(res, "pids", pids);
    return res;
}

static json_t *build_seccomp(const struct bh_spec_params *p)
{
    json_t *sc = json_object();
    json_object_set_new(sc, "defaultAction", json_string("SCMP_ACT_ERRNO"));
    json_object_set_new(sc, "defaultErrnoRet", json_integer(OCI_ERRNO_EPERM));
    const char *arches[] = {OCI_NATIVE_ARCH, NULL};
    json_object_set_new(sc, "architectures", str_array(arches));

    json_t *rules = json_array();
    json_array_append_new(rules, seccomp_rule_allow(allowed_syscalls));
    json_array_append_new(rules, p->deny_nested_userns
                                     ? seccomp_rule_arg0_clear(clone_calls, OCI_CLONE_NEWUSER)
                                     : seccomp_rule_allow(clone_calls));

    for (size_t i = 0; i < sizeof allowed_socket_domains / sizeof *allowed_socket_domains; i++)
        json_array_append_new(rules, seccomp_rule_arg0_eq("socket", allowed_socket_domains[i]));
    for (size_t i = 0; i < sizeof allowed_netlink_protocols / sizeof *allowed_netlink_protocols;
         i++)
        json_array_append_new(rules, seccomp_rule_netlink(allowed_netlink_protocols[i]));
    for (size_t i = 0; i < sizeof allowed_personalities / sizeof *allowed_personalities; i++)
        json_array_append_new(rules, seccomp_rule_arg0_eq("personality", allowed_personalities[i]));

    json_t *clone3 = json_object();
    const char *c3[] = {"clone3", NULL};
    json_object_set_new(clone3, "names", str_array(c3));
    json_object_set_new(clone3, "action", json_string("SCMP_ACT_ERRNO"));
    json_object_set_new(clone3, "errnoRet", json_integer(CLONE3_ERRNO));
    json_array_append_new(rules, clone3);

    json_object_set_new(sc, "syscalls", rules);
    return sc;
}

static json_t *build_linux(const struct bh_spec_params *p)
{
    json_t *lx = json_object();

    json_t *ns = json_array();
    static const char *const types[] = {"pid", "network", "ipc", "uts", "mount", "cgroup"};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        json_t *n = json_object();
        json_object_set_new(n, "type", json_string(types[i]));
        if (!strcmp(types[i], "network") && p->netns_path)
            json_object_set_new(n, "path", json_string(p->netns_path));
        json_array_append_new(ns, n);
    }
    if (p->userns_host_base) {
        json_t *n = json_object();
        json_object_set_new(n, "type", json_string("user"));
        json_array_append_new(ns, n);
    }
    json_object_set_new(lx, "namespaces", ns);
    if (p->userns_host_base) {
        static const char *const maps[] = {"uidMappings", "gidMappings"};
        for (size_t i = 0; i < 2; i++) {
            json_t *m = json_object();
            json_object_set_new(m, "containerID", json_integer(0));
            json_object_set_new(m, "hostID", json_integer(p->userns_host_base));
            json_object_set_new(m, "size", json_integer(p->userns_size));
            json_t *a = json_array();
            json_array_append_new(a, m);
            json_object_set_new(lx, maps[i], a);
        }
    }
    json_object_set_new(lx, "maskedPaths", str_array(masked_paths));
    json_object_set_new(lx, "readonlyPaths", str_array(readonly_paths));
    json_object_set_new(lx, "cgroupsPath", json_string(p->cgroups_path));
    json_object_set_new(lx, "resources", build_resources(p));
    json_object_set_new(lx, "seccomp", build_seccomp(p));
    return lx;
}

/* ------------------------------------------------------------------------ */

char *bh_oci_spec_build(const struct bh_spec_params *p, bh_err_t *err)
{
    if (validate(p, err) < 0)
        return NULL;

    json_t *root = json_object();
    json_object_set_new(root, "ociVersion", json_string("1.0.2"));
    json_object_set_new(root, "process", build_process(p));

    json_t *r = json_object();
    json_object_set_new(r, "path", json_string(p->rootfs));
    json_object_set_new(r, "readonly", json_true());
    json_object_set_new(root, "root", r);

    char hostname[16];
    snprintf(hostname, sizeof hostname, "bh-%.8s", p->id);
    json_object_set_new(root, "hostname", json_string(hostname));
    json_object_set_new(root, "mounts", build_mounts(p));
    json_object_set_new(root, "linux", build_linux(p));

    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text) {
        bh_err_set(err, ENOMEM, "spec: json_dumps");
        return NULL;
    }
    /* One trailing newline, so the file is a proper text file. */
    char *out = bh_xasprintf("%s\n", text);
    free(text);
    return out;
}
