/* test_oci_spec.c — config.json of a session sandbox: byte-for-byte against
 * tests/unit/golden/oci_config.json (BH_UPDATE_GOLDEN=1 rewrites it), plus
 * the security properties that must hold whatever the golden file says.
 * Run from the repository root. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "backend/local/oci_spec.h"
#include "t.h"
#include "lib/util.h"

#define GOLDEN "tests/unit/golden/oci_config.json"

static const char *const argv_fixed[] = {"/usr/lib/chromium/chromium", "--headless",
                                         "--remote-debugging-pipe", "about:blank", NULL};
static const char *const env_fixed[] = {"PATH=/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8", NULL};

static struct bh_spec_params fixed_params(void)
{
    struct bh_spec_params p = {
        .id = "0123456789abcdef",
        .rootfs = "/var/lib/bulkhead/image/rootfs",
        .etc_dir = "/var/lib/bulkhead/image/etc",
        .netns_path = NULL, /* a user namespace owns a network namespace of its own */
        .cgroups_path = "bulkhead/0123456789abcdef",
        .argv = argv_fixed,
        .env = env_fixed,
        .uid = 1000,
        .gid = 1000,
        .userns_host_base = 1073741824u + 3 * 65536u,
        .userns_size = 65536,
        .memory_bytes = 1024ull << 20,
        .pids_max = 512,
        .cpu_quota_us = 100000,
        .cpu_period_us = 100000,
        .cpu_shares = 512,
        .tmp_bytes = 256ull << 20,
        .shm_bytes = 128ull << 20,
    };
    return p;
}

static void test_golden(void)
{
    struct bh_spec_params p = fixed_params();
    bh_err_t err = BH_ERR_INIT;
    cleanup_free char *text = bh_oci_spec_build(&p, &err);
    CHECK(text != NULL);
    if (!text) {
        fprintf(stderr, "build: %s\n", bh_err_msg(&err));
        bh_err_clear(&err);
        return;
    }
    /* Pure: the same input gives the same bytes. */
    cleanup_free char *again = bh_oci_spec_build(&p, NULL);
    CHECK_STR(again, text);

    const char *upd = getenv("BH_UPDATE_GOLDEN");
    if (upd && !strcmp(upd, "1")) {
        CHECK(bh_write_file(GOLDEN, text, strlen(text), 0644, &err) == 0);
        fprintf(stderr, "rewrote %s\n", GOLDEN);
        bh_err_clear(&err);
        return;
    }
    cleanup_free char *golden = bh_read_file(GOLDEN, NULL, &err);
    CHECK(golden != NULL);
    if (!golden) {
        fprintf(stderr, "%s (run with BH_UPDATE_GOLDEN=1 to create it)\n", bh_err_msg(&err));
        bh_err_clear(&err);
        return;
    }
    int same = !strcmp(golden, text);
    CHECK(same);
    if (!same)
        fprintf(stderr,
                "config.json differs from %s; diff it with BH_UPDATE_GOLDEN=1 and git diff\n",
                GOLDEN);
}

/* Whether the JSON array arr holds the string s. */
static int array_has(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i,
                       v) if (json_is_string(v) && !strcmp(json_string_value(v), s)) return 1;
    return 0;
}

/* The rules of `rules` that allow `name` (ALLOW action). */
static int seccomp_allow_rules(json_t *rules, const char *name, json_t **out, int max)
{
    size_t i;
    json_t *r;
    int n = 0;
    json_array_foreach(rules, i, r)
    {
        const char *act = json_string_value(json_object_get(r, "action"));
        if (act && !strcmp(act, "SCMP_ACT_ALLOW") && array_has(json_object_get(r, "names"), name) &&
            n < max)
            out[n++] = r;
    }
    return n;
}

/* Whether seccomp rule list `rules` allows `name` (any rule, with or without args). */
static int seccomp_allows(json_t *rules, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r)
    {
        const char *act = json_string_value(json_object_get(r, "action"));
        if (act && !strcmp(act, "SCMP_ACT_ALLOW") && array_has(json_object_get(r, "names"), name))
            return 1;
    }
    return 0;
}

static void test_properties(void)
{
    struct bh_spec_params p = fixed_params();
    cleanup_free char *text = bh_oci_spec_build(&p, NULL);
    CHECK(text != NULL);
    if (!text)
        return;
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    CHECK(root != NULL);
    if (!root)
        return;
    json_t *proc = json_object_get(root, "process");
    CHECK(json_is_true(json_object_get(proc, "noNewPrivileges")));
    CHECK(json_is_false(json_object_get(proc, "terminal")));
    CHECK(json_integer_value(json_object_get(json_object_get(proc, "user"), "uid")) == 1000);
    json_t *caps = json_object_get(proc, "capabilities");
    const char *sets[] = {"bounding", "effective", "inheritable", "permitted", "ambient"};
    for (size_t i = 0; i < 5; i++) {
        json_t *s = json_object_get(caps, sets[i]);
        CHECK(json_is_array(s) && json_array_size(s) == 0);
    }
    CHECK(json_is_true(json_object_get(json_object_get(root, "root"), "readonly")));
    CHECK_STR(json_string_value(json_object_get(root, "hostname")), "bh-01234567");

    json_t *lx = json_object_get(root, "linux");
    const char *cg = json_string_value(json_object_get(lx, "cgroupsPath"));
    CHECK(cg && cg[0] != '/');
    size_t i;
    json_t *v;
    int has_user_ns = 0, has_pid = 0, new_net = 0;
    json_array_foreach(json_object_get(lx, "namespaces"), i, v)
    {
        const char *t = json_string_value(json_object_get(v, "type"));
        has_user_ns |= !strcmp(t, "user") && !json_object_get(v, "path");
        has_pid |= !strcmp(t, "pid");
        if (!strcmp(t, "network"))
            new_net = json_object_get(v, "path") == NULL;
    }
    CHECK(has_user_ns);
    CHECK(has_pid);
    CHECK(new_net);
    /* ids 0..65535 of the session map to its own host range, never to
     * host root or to the host's uid 1000 */
    static const char *const maps[] = {"uidMappings", "gidMappings"};
    for (size_t k = 0; k < 2; k++) {
        json_t *m = json_object_get(lx, maps[k]);
        CHECK(json_array_size(m) == 1);
        json_t *m0 = json_array_get(m, 0);
        CHECK(json_integer_value(json_object_get(m0, "containerID")) == 0);
        CHECK(json_integer_value(json_object_get(m0, "hostID")) == 1073741824 + 3 * 65536);
        CHECK(json_integer_value(json_object_get(m0, "size")) == 65536);
    }
    CHECK(array_has(json_object_get(lx, "maskedPaths"), "/proc/kcore"));
    CHECK(array_has(json_object_get(lx, "readonlyPaths"), "/proc/sys"));
    json_t *mem = json_object_get(json_object_get(lx, "resources"), "memory");
    CHECK(json_integer_value(json_object_get(mem, "limit")) ==
          json_integer_value(json_object_get(mem, "swap")));

    json_t *sc = json_object_get(lx, "seccomp");
    CHECK_STR(json_string_value(json_object_get(sc, "defaultAction")), "SCMP_ACT_ERRNO");
    json_t *rules = json_object_get(sc, "syscalls");
    const char *denied[] = {"mount",           "umount2",     "pivot_root",
                            "keyctl",          "add_key",     "bpf",
                            "ptrace",          "userfaultfd", "open_by_handle_at",
                            "setns",           "kexec_load",  "init_module",
                            "perf_event_open", "clone3",      "process_vm_readv",
                            "fsopen",          "move_mount",  NULL};
    for (size_t k = 0; denied[k]; k++) {
        int allowed = seccomp_allows(rules, denied[k]);
        CHECK(!allowed);
        if (allowed)
            fprintf(stderr, "  seccomp allows %s\n", denied[k]);
    }
    const char *needed[] = {"clone", "unshare", "chroot", "seccomp", "prctl", "execve", NULL};
    for (size_t k = 0; needed[k]; k++)
        CHECK(seccomp_allows(rules, needed[k]));
    /* Only the native architecture: no i386 socketcall past the socket
     * family rules. */
    json_t *arches = json_object_get(sc, "architectures");
    CHECK(json_array_size(arches) == 1 && array_has(arches, "SCMP_ARCH_X86_64"));
    CHECK(!seccomp_allows(rules, "socketcall"));
    /* socket(): AF_UNIX/INET/INET6 with any protocol; AF_NETLINK only with
     * NETLINK_ROUTE; nothing else (AF_VSOCK 40, AF_PACKET 17, AF_ALG 38). */
    json_t *sock[16];
    int nsock = seccomp_allow_rules(rules, "socket", sock, 16);
    CHECK(nsock == 4);
    int netlink_ok = 0;
    for (int k = 0; k < nsock; k++) {
        json_t *args = json_object_get(sock[k], "args");
        json_t *a0 = json_array_get(args, 0);
        json_int_t fam = json_integer_value(json_object_get(a0, "value"));
        CHECK(json_integer_value(json_object_get(a0, "index")) == 0);
        CHECK_STR(json_string_value(json_object_get(a0, "op")), "SCMP_CMP_EQ");
        CHECK(fam == 1 || fam == 2 || fam == 10 || fam == 16);
        if (fam == 16) {
            json_t *a1 = json_array_get(args, 1);
            netlink_ok = json_array_size(args) == 2 &&
                         json_integer_value(json_object_get(a1, "index")) == 2 &&
                         json_integer_value(json_object_get(a1, "value")) == 0 &&
                         !strcmp(json_string_value(json_object_get(a1, "op")), "SCMP_CMP_EQ");
        } else {
            CHECK(json_array_size(args) == 1);
        }
    }
    CHECK(netlink_ok);
    /* Nested user namespaces: allowed by default (Chromium's sandbox). */
    json_t *cl[4];
    CHECK(seccomp_allow_rules(rules, "unshare", cl, 4) == 1 && !json_object_get(cl[0], "args"));

    /* /tmp belongs to the sandbox user. */
    int tmp_owned = 0;
    json_array_foreach(json_object_get(root, "mounts"), i, v)
    {
        if (!strcmp(json_string_value(json_object_get(v, "destination")), "/tmp"))
            tmp_owned = array_has(json_object_get(v, "options"), "uid=1000");
    }
    CHECK(tmp_owned);
    json_decref(root);

    /* Without a user namespace (userns_host_base 0), a netns_path is joined
     * and no mappings are written. */
    p.userns_host_base = 0;
    p.netns_path = "/run/netns/bh-0123456789abcdef";
    cleanup_free char *t2 = bh_oci_spec_build(&p, NULL);
    json_t *r2 = t2 ? json_loads(t2, 0, &jerr) : NULL;
    int net_path_ok = 0, user_ns = 0;
    json_t *lx2 = json_object_get(r2, "linux");
    json_array_foreach(json_object_get(lx2, "namespaces"), i, v)
    {
        const char *t = json_string_value(json_object_get(v, "type"));
        user_ns |= !strcmp(t, "user");
        if (!strcmp(t, "network"))
            net_path_ok = !strcmp(json_string_value(json_object_get(v, "path")), p.netns_path);
    }
    CHECK(net_path_ok);
    CHECK(!user_ns);
    CHECK(!json_object_get(lx2, "uidMappings") && !json_object_get(lx2, "gidMappings"));
    json_decref(r2);

    /* --nested-userns deny: clone and unshare only without CLONE_NEWUSER. */
    p = fixed_params();
    p.deny_nested_userns = 1;
    cleanup_free char *t3 = bh_oci_spec_build(&p, NULL);
    json_t *r3 = t3 ? json_loads(t3, 0, &jerr) : NULL;
    json_t *rules3 = json_object_get(json_object_get(json_object_get(r3, "linux"), "seccomp"),
                                     "syscalls");
    static const char *const calls[] = {"clone", "unshare"};
    for (size_t k = 0; k < 2; k++) {
        json_t *rs[4];
        CHECK(seccomp_allow_rules(rules3, calls[k], rs, 4) == 1);
        json_t *args = json_object_get(rs[0], "args");
        json_t *a0 = json_array_get(args, 0);
        CHECK(json_array_size(args) == 1);
        CHECK(json_integer_value(json_object_get(a0, "index")) == 0);
        CHECK(json_integer_value(json_object_get(a0, "value")) == 0x10000000);
        CHECK(json_integer_value(json_object_get(a0, "valueTwo")) == 0);
        CHECK_STR(json_string_value(json_object_get(a0, "op")), "SCMP_CMP_MASKED_EQ");
    }
    json_decref(r3);
}

/* Build with one field broken; expect NULL and an error message. */
#define EXPECT_REFUSED(mutation)                  \
    do {                                          \
        struct bh_spec_params q = fixed_params(); \
        mutation;                                 \
        bh_err_t e = BH_ERR_INIT;                 \
        char *t = bh_oci_spec_build(&q, &e);      \
        CHECK(t == NULL);                         \
        CHECK(e.msg != NULL);                     \
        free(t);                                  \
        bh_err_clear(&e);                         \
    } while (0)

static void test_refusals(void)
{
    static const char *const empty_argv[] = {NULL};
    EXPECT_REFUSED(q.rootfs = NULL);
    EXPECT_REFUSED(q.rootfs = "relative/rootfs");
    EXPECT_REFUSED(q.argv = NULL);
    EXPECT_REFUSED(q.argv = empty_argv);
    EXPECT_REFUSED(q.id = NULL);
    EXPECT_REFUSED(q.id = "");
    EXPECT_REFUSED(q.id = "../../etc");
    EXPECT_REFUSED(q.uid = 0);
    EXPECT_REFUSED(q.gid = 0);
    EXPECT_REFUSED(q.cgroups_path = NULL);
    EXPECT_REFUSED(q.cgroups_path = "/bulkhead/x");
    EXPECT_REFUSED(q.cgroups_path = "bulkhead/../../x");
    EXPECT_REFUSED(q.memory_bytes = 0);
    EXPECT_REFUSED(q.pids_max = 0);
    EXPECT_REFUSED(q.netns_path = "netns");
    /* a user namespace cannot mount sysfs in a netns it does not own */
    EXPECT_REFUSED(q.netns_path = "/run/netns/bh-0123456789abcdef");
    EXPECT_REFUSED(q.userns_size = 1000); /* uid 1000 not inside */
    EXPECT_REFUSED(q.userns_host_base = 4294967295u - 65535u);
    EXPECT_REFUSED(q.etc_dir = "/a/../../etc");

    struct bh_spec_params q = fixed_params();
    q.uid = 0;
    bh_err_t e = BH_ERR_INIT;
    CHECK(bh_oci_spec_build(&q, &e) == NULL);
    CHECK(e.msg && strstr(e.msg, "root"));
    bh_err_clear(&e);
    CHECK(bh_oci_spec_build(NULL, NULL) == NULL); /* no err: no crash */
}

int main(void)
{
    test_golden();
    test_properties();
    test_refusals();
    return T_DONE();
}
