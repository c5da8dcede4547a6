/* test_net.c — net.c for real, as root: bridge + nft table, concurrent
 * session setups with distinct addresses, a session reaching a "test
 * internet" host through the bridge and NAT, failure rollback, lease
 * exhaustion, teardown, fini, and nothing left behind.
 *
 * Everything it makes is its own: bridge bhtest0, nft table
 * inet bulkhead_bhtest0, session ids starting with "7e57", the namespace
 * bhtest-inet with its veth bhtinet0. Traffic goes only to 203.0.113.1,
 * which lives in bhtest-inet (checked before any packet is sent). TEST-NET-3
 * rather than 198.51.100.0/24, which other tests on a shared host use. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>

#include "net.h"
#include "t.h"
#include "util.h"

#define TEST_PREFIX "7e57"
#define INET_NS "bhtest-inet"
#define INET_VETH "bhtinet0"
#define INET_ADDR "203.0.113.1"
#define INET_HOST_ADDR "203.0.113.254"
#define INET_PORT 8081
#define LEASES "/run/bulkhead/net/leases"

static const struct bh_net_config cfg = {
    .bridge = "bhtest0",
    .subnet = "10.214.0.0/16",
    .dns = "10.214.0.1",
    /* .nft_table unset: "bulkhead_bhtest0", derived from the bridge */
};

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

/* Run a command; returns its exit status (-1 if it did not run). Output in
 * *out if out != NULL. */
static int run(char **out, const char *const argv[])
{
    bh_err_t e = BH_ERR_INIT;
    int rc = bh_run((char *const *)argv, out, 0, &e);
    bh_err_clear(&e);
    return rc;
}

static int link_exists(const char *name) { return if_nametoindex(name) != 0; }

/* Number of host links whose name starts with prefix. */
static int links_with_prefix(const char *prefix)
{
    struct if_nameindex *ni = if_nameindex(), *p;
    int n = 0;
    for (p = ni; p && p->if_index; p++)
        if (!strncmp(p->if_name, prefix, strlen(prefix)))
            n++;
    if (ni)
        if_freenameindex(ni);
    return n;
}

static int path_exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

/* Number of entries in dir starting with prefix. */
static int entries_with_prefix(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (!strncmp(de->d_name, prefix, strlen(prefix)))
            n++;
    closedir(d);
    return n;
}

/* Owner of the lease on addr ("" if none). */
static void lease_owner(const char *addr, char *out, size_t n)
{
    char p[sizeof LEASES + 256];
    snprintf(p, sizeof p, "%s/%s", LEASES, addr);
    ssize_t r = readlink(p, out, n - 1);
    out[r > 0 ? r : 0] = 0;
}

/* Number of leases whose owner starts with TEST_PREFIX. */
static int test_leases(void)
{
    DIR *d = opendir(LEASES);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char owner[128];
        if (de->d_name[0] == '.')
            continue;
        lease_owner(de->d_name, owner, sizeof owner);
        if (!strncmp(owner, TEST_PREFIX, strlen(TEST_PREFIX)))
            n++;
    }
    closedir(d);
    return n;
}

static int nft_table_exists(const char *table)
{
    const char *argv[] = {"nft", "list", "table", "inet", table, NULL};
    return run(NULL, argv) == 0;
}

static char *read_ip_forward(void)
{
    char *s = bh_read_file("/proc/sys/net/ipv4/ip_forward", NULL, NULL);
    return s ? s : bh_xstrdup("0\n");
}

static void write_ip_forward(const char *v)
{
    int fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, v, strlen(v)) < 0)
            perror("restore ip_forward");
        close(fd);
    }
}

static void test_id(char *out, size_t n)
{
    char hex[25];
    bh_random_hex(hex, 12, NULL);
    snprintf(out, n, "%s%s", TEST_PREFIX, hex);
}

static int contains(const char *hay, const char *needle) { return hay && strstr(hay, needle); }

/* Remove whatever an earlier, crashed run of this test left. */
static void clean_leftovers(void)
{
    char **ids = NULL;
    int n = bh_net_list(&ids, NULL);
    for (int i = 0; i < n; i++) {
        if (!strncmp(ids[i], TEST_PREFIX, strlen(TEST_PREFIX)))
            bh_net_session_teardown(&cfg, ids[i], NULL);
        free(ids[i]);
    }
    free(ids);
    const char *del_ns[] = {"ip", "netns", "delete", INET_NS, NULL};
    const char *del_veth[] = {"ip", "link", "delete", INET_VETH, NULL};
    const char *del_coll[] = {"ip", "link", "delete", "bhv7e57deadbeef", NULL};
    run(NULL, del_ns);
    run(NULL, del_veth);
    run(NULL, del_coll);
    bh_net_fini(&cfg, NULL);
}

/* ------------------------------------------------------------------ */
/* the test internet host                                              */
/* ------------------------------------------------------------------ */

static int inet_up(void)
{
    const char *cmds[][16] = {
        {"ip", "netns", "add", INET_NS, NULL},
        {"ip", "link", "add", INET_VETH, "type", "veth", "peer", "name", "eth0", "netns", INET_NS,
         NULL},
        {"ip", "addr", "add", INET_HOST_ADDR "/24", "dev", INET_VETH, NULL},
        {"ip", "link", "set", INET_VETH, "up", NULL},
        {"ip", "-n", INET_NS, "addr", "add", INET_ADDR "/24", "dev", "eth0", NULL},
        {"ip", "-n", INET_NS, "link", "set", "eth0", "up", NULL},
        {"ip", "-n", INET_NS, "link", "set", "lo", "up", NULL},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (run(NULL, cmds[i]) != 0) {
            fprintf(stderr, "inet setup failed at step %zu\n", i);
            return -1;
        }
    /* Never send a packet unless INET_ADDR is in our namespace. */
    cleanup_free char *route = NULL;
    const char *get[] = {"ip", "route", "get", INET_ADDR, NULL};
    if (run(&route, get) != 0 || !contains(route, "dev " INET_VETH)) {
        fprintf(stderr, "route to %s is not via %s: %s\n", INET_ADDR, INET_VETH,
                route ? route : "");
        return -1;
    }
    return 0;
}

static void inet_down(void)
{
    const char *del_veth[] = {"ip", "link", "delete", INET_VETH, NULL};
    const char *del_ns[] = {"ip", "netns", "delete", INET_NS, NULL};
    run(NULL, del_veth);
    run(NULL, del_ns);
}

static int enter_netns(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = setns(fd, CLONE_NEWNET);
    close(fd);
    return rc;
}

/* Fork a server in INET_NS that accepts `n` connections, writes "hello" to
 * each and reports each peer's address (one line each) on *report_fd. */
static pid_t inet_server(int n, int *report_fd)
{
    int ready[2], report[2];
    if (pipe(ready) < 0 || pipe(report) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        alarm(30);
        close(ready[0]);
        close(report[0]);
        if (enter_netns("/run/netns/" INET_NS) < 0)
            _exit(2);
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(INET_PORT)};
        inet_pton(AF_INET, INET_ADDR, &sa.sin_addr);
        if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(s, 16) < 0)
            _exit(3);
        if (write(ready[1], "r", 1) != 1)
            _exit(4);
        close(ready[1]);
        for (int i = 0; i < n; i++) {
            struct sockaddr_in peer;
            socklen_t pl = sizeof peer;
            int c = accept(s, (struct sockaddr *)&peer, &pl);
            if (c < 0)
                _exit(5);
            char line[64];
            inet_ntop(AF_INET, &peer.sin_addr, line, sizeof line);
            strcat(line, "\n");
            if (write(c, "hello", 5) != 5 || write(report[1], line, strlen(line)) < 0)
                _exit(6);
            close(c);
        }
        _exit(0);
    }
    close(ready[1]);
    close(report[1]);
    char r = 0;
    if (pid < 0 || read(ready[0], &r, 1) != 1) {
        close(ready[0]);
        close(report[0]);
        return -1;
    }
    close(ready[0]);
    *report_fd = report[0];
    return pid;
}

/* From inside the session netns at `netns_path`: connect to the test host
 * and read its greeting. Returns 0 if "hello" came back. */
static int session_fetch(const char *netns_path)
{
    pid_t pid = fork();
    if (pid == 0) {
        alarm(15);
        if (enter_netns(netns_path) < 0)
            _exit(2);
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct timeval tv = {5, 0};
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(INET_PORT)};
        inet_pton(AF_INET, INET_ADDR, &sa.sin_addr);
        if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0)
            _exit(3);
        char buf[16] = {0};
        size_t got = 0;
        ssize_t r;
        while (got < 5 && (r = read(s, buf + got, sizeof buf - 1 - got)) > 0)
            got += (size_t)r;
        _exit(strcmp(buf, "hello") == 0 ? 0 : 4);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "session fetch from %s failed: status %d\n", netns_path, st);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* concurrent setup / teardown                                         */
/* ------------------------------------------------------------------ */

#define THREADS 4
#define PER_THREAD 3
#define SESSIONS (THREADS * PER_THREAD)

struct sess {
    char id[64];
    struct bh_net_session s;
    int rc;
    char msg[256];
    int64_t ms;
};

static struct sess sessions[SESSIONS];

static void *setup_worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = t * PER_THREAD; i < (t + 1) * PER_THREAD; i++) {
        bh_err_t e = BH_ERR_INIT;
        int64_t t0 = bh_mono_ms();
        sessions[i].rc = bh_net_session_setup(&cfg, sessions[i].id, &sessions[i].s, &e);
        sessions[i].ms = bh_mono_ms() - t0;
        snprintf(sessions[i].msg, sizeof sessions[i].msg, "%s", e.msg ? e.msg : "");
        bh_err_clear(&e);
    }
    return NULL;
}

static void *teardown_worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = t * PER_THREAD; i < (t + 1) * PER_THREAD; i++) {
        bh_err_t e = BH_ERR_INIT;
        int64_t t0 = bh_mono_ms();
        sessions[i].rc = bh_net_session_teardown(&cfg, sessions[i].id, &e);
        sessions[i].ms = bh_mono_ms() - t0;
        snprintf(sessions[i].msg, sizeof sessions[i].msg, "%s", e.msg ? e.msg : "");
        bh_err_clear(&e);
    }
    return NULL;
}

static void run_workers(void *(*fn)(void *))
{
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, fn, (void *)(intptr_t)t);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
}

/* ------------------------------------------------------------------ */
/* tests                                                               */
/* ------------------------------------------------------------------ */

static void test_init(void)
{
    bh_err_t e = BH_ERR_INIT;
    CHECK(bh_net_init(&cfg, &e) == 0);
    if (e.msg)
        fprintf(stderr, "init: %s\n", e.msg);
    bh_err_clear(&e);
    CHECK(bh_net_init(&cfg, &e) == 0); /* idempotent */
    bh_err_clear(&e);
    CHECK(link_exists("bhtest0"));
    cleanup_free char *addr = NULL;
    const char *show[] = {"ip", "-4", "-o", "addr", "show", "dev", "bhtest0", NULL};
    CHECK(run(&addr, show) == 0);
    CHECK(contains(addr, "10.214.0.1/16"));
    cleanup_free char *fwd = read_ip_forward();
    CHECK_STR(fwd, "1\n");
    cleanup_free char *rules = NULL;
    const char *list[] = {"nft", "list", "table", "inet", "bulkhead_bhtest0", NULL};
    CHECK(run(&rules, list) == 0);
    CHECK(contains(rules, "ip saddr 10.214.0.0/16 oifname != \"bhtest0\" masquerade"));
    CHECK(contains(rules, "chain forward"));
    CHECK(contains(rules, "chain input"));

    /* A half-made state (as after a crash) is repaired by init. */
    const char *flush[] = {"ip", "addr", "flush", "dev", "bhtest0", NULL};
    const char *junk[] = {"nft", "add", "rule", "inet", "bulkhead_bhtest0", "forward", "drop", NULL};
    CHECK(run(NULL, flush) == 0);
    CHECK(run(NULL, junk) == 0);
    CHECK(bh_net_init(&cfg, &e) == 0);
    bh_err_clear(&e);
    cleanup_free char *addr2 = NULL, *rules2 = NULL;
    CHECK(run(&addr2, show) == 0 && contains(addr2, "10.214.0.1/16"));
    CHECK(run(&rules2, list) == 0 && !contains(rules2, "drop"));

    /* Bad configs are refused before anything is touched. */
    struct bh_net_config bad = cfg;
    bad.subnet = "10.214.0.0";
    CHECK(bh_net_init(&bad, &e) < 0 && e.status == EINVAL);
    bh_err_clear(&e);
    bad.subnet = cfg.subnet;
    bad.bridge = "bh\"; flush ruleset";
    CHECK(bh_net_init(&bad, &e) < 0 && e.status == EINVAL);
    bh_err_clear(&e);
}

static void test_concurrent_setup(void)
{
    for (int i = 0; i < SESSIONS; i++)
        test_id(sessions[i].id, sizeof sessions[i].id);
    int64_t t0 = bh_mono_ms();
    run_workers(setup_worker);
    int64_t wall = bh_mono_ms() - t0;
    int ok = 0;
    int64_t sum = 0, max = 0;
    for (int i = 0; i < SESSIONS; i++) {
        CHECK(sessions[i].rc == 0);
        if (sessions[i].rc != 0) {
            fprintf(stderr, "setup %s: %s\n", sessions[i].id, sessions[i].msg);
            continue;
        }
        ok++;
        sum += sessions[i].ms;
        max = sessions[i].ms > max ? sessions[i].ms : max;
        struct bh_net_session *s = &sessions[i].s;
        CHECK(!strncmp(s->addr, "10.214.", 7));
        CHECK(strcmp(s->addr, "10.214.0.1") != 0);
        for (int j = 0; j < i; j++)
            CHECK(strcmp(s->addr, sessions[j].s.addr) != 0);
        char owner[128];
        lease_owner(s->addr, owner, sizeof owner);
        CHECK_STR(owner, sessions[i].id);
        CHECK(path_exists(s->netns_path));
        CHECK(link_exists(s->veth_host));
        CHECK(strlen(s->veth_host) == 15 && !strncmp(s->veth_host, "bhv", 3));
    }
    printf("setup: %d sessions from %d threads in %lld ms (avg %lld ms, max %lld ms each)\n",
           SESSIONS, THREADS, (long long)wall, (long long)(ok ? sum / ok : 0), (long long)max);

    /* Inside one: address, default route, MTU of the bridge. */
    struct bh_net_session *s = &sessions[0].s;
    cleanup_free char *a = NULL, *r = NULL, *l = NULL, *b = NULL;
    const char *addr[] = {"ip", "-n", s->netns, "-4", "-o", "addr", "show", "dev", "eth0", NULL};
    const char *route[] = {"ip", "-n", s->netns, "route", "show", "default", NULL};
    const char *lo[] = {"ip", "-n", s->netns, "-o", "link", "show", "lo", NULL};
    CHECK(run(&a, addr) == 0);
    char want[80];
    snprintf(want, sizeof want, "%s/16", s->addr);
    CHECK(contains(a, want));
    CHECK(run(&r, route) == 0 && contains(r, "via 10.214.0.1 dev eth0"));
    CHECK(run(&l, lo) == 0 && contains(l, "UP"));
    const char *brshow[] = {"ip", "-o", "link", "show", "bhtest0", NULL};
    CHECK(run(&b, brshow) == 0 && contains(b, "mtu "));
    /* The bridge keeps its own MAC when ports join (gateway ARP stays valid). */
    CHECK(contains(b, "link/ether 02:62:"));
    cleanup_free char *e = NULL;
    const char *eshow[] = {"ip", "-n", s->netns, "-o", "link", "show", "eth0", NULL};
    CHECK(run(&e, eshow) == 0);
    const char *bm = b ? strstr(b, "mtu ") : NULL, *em = e ? strstr(e, "mtu ") : NULL;
    CHECK(bm && em && atoi(bm + 4) == atoi(em + 4));

    /* bh_net_list reports them. */
    char **ids = NULL;
    int n = bh_net_list(&ids, NULL);
    int found = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < SESSIONS; j++)
            if (!strcmp(ids[i], sessions[j].id))
                found++;
        free(ids[i]);
    }
    free(ids);
    CHECK(found == ok);
}

static void test_connectivity(void)
{
    if (inet_up() < 0) {
        CHECK(!"test internet namespace could not be set up");
        return;
    }
    int report = -1;
    pid_t srv = inet_server(2, &report);
    CHECK(srv > 0);
    if (srv <= 0)
        return;
    /* Two different sessions reach the host through the bridge and NAT. */
    int first = session_fetch(sessions[0].s.netns_path);
    int last = session_fetch(sessions[SESSIONS - 1].s.netns_path);
    CHECK(first == 0);
    CHECK(last == 0);
    if (first < 0 || last < 0)
        kill(srv, SIGKILL); /* it would wait for the connection that failed */
    char buf[256] = {0};
    size_t got = 0;
    ssize_t r;
    while ((r = read(report, buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)r;
    close(report);
    /* Both connections arrived masqueraded as the host's address. */
    CHECK_STR(buf, INET_HOST_ADDR "\n" INET_HOST_ADDR "\n");
    int st;
    CHECK(waitpid(srv, &st, 0) == srv && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_failures(void)
{
    bh_err_t e = BH_ERR_INIT;
    struct bh_net_session s;

    /* An id that is set up already: refused, and the first one stays. */
    CHECK(bh_net_session_setup(&cfg, sessions[0].id, &s, &e) < 0 && e.status == EEXIST);
    bh_err_clear(&e);
    CHECK(path_exists(sessions[0].s.netns_path));
    CHECK(link_exists(sessions[0].s.veth_host));
    CHECK(test_leases() == SESSIONS);

    CHECK(bh_net_session_setup(&cfg, "../etc", &s, &e) < 0 && e.status == EINVAL);
    bh_err_clear(&e);

    /* A veth name taken by someone else: setup fails halfway and undoes the
     * lease and the netns; teardown of that id leaves the other's link. */
    const char *coll[] = {"ip", "link", "add", "bhv7e57deadbeef", "type", "veth", "peer", "name",
                          "bhtcoll1", NULL};
    const char *alias[] = {"ip", "link", "set", "bhv7e57deadbeef", "alias", "not-ours", NULL};
    CHECK(run(NULL, coll) == 0 && run(NULL, alias) == 0);
    const char *cid = "7e57deadbeef0001";
    CHECK(bh_net_session_setup(&cfg, cid, &s, &e) < 0 && e.status == EEXIST);
    bh_err_clear(&e);
    CHECK(!path_exists("/run/netns/bh-7e57deadbeef0001"));
    CHECK(test_leases() == SESSIONS);
    CHECK(bh_net_session_teardown(&cfg, cid, &e) == 0);
    bh_err_clear(&e);
    CHECK(link_exists("bhv7e57deadbeef"));
    const char *del[] = {"ip", "link", "delete", "bhv7e57deadbeef", NULL};
    CHECK(run(NULL, del) == 0);

    /* A lease left by a crash before the netns existed: listed, then freed. */
    CHECK(bh_mkdir_p(LEASES, 0700, NULL) == 0);
    CHECK(symlink("7e57cafe0001", LEASES "/10.214.255.254") == 0);
    char **ids = NULL;
    int n = bh_net_list(&ids, NULL), found = 0;
    for (int i = 0; i < n; i++) {
        found += !strcmp(ids[i], "7e57cafe0001");
        free(ids[i]);
    }
    free(ids);
    CHECK(found == 1);
    CHECK(bh_net_session_teardown(&cfg, "7e57cafe0001", &e) == 0);
    bh_err_clear(&e);
    CHECK(!path_exists(LEASES "/10.214.255.254"));

    /* A netns file never mounted (crash before the bind): listed, removed. */
    int fd = open("/run/netns/bh-7e57cafe0002", O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    n = bh_net_list(&ids, NULL);
    found = 0;
    for (int i = 0; i < n; i++) {
        found += !strcmp(ids[i], "7e57cafe0002");
        free(ids[i]);
    }
    free(ids);
    CHECK(found == 1);
    CHECK(bh_net_session_teardown(&cfg, "7e57cafe0002", &e) == 0);
    bh_err_clear(&e);
    CHECK(!path_exists("/run/netns/bh-7e57cafe0002"));

    /* fini refuses while sessions are attached. */
    CHECK(bh_net_fini(&cfg, &e) < 0 && e.status == EBUSY);
    bh_err_clear(&e);
    CHECK(link_exists("bhtest0") && nft_table_exists("bulkhead_bhtest0"));
}

static void test_exhaustion(void)
{
    /* A /30 has room for exactly one session. It shares bhtest0: leases do
     * not need a bridge of their own, and it keeps clear of other tests'
     * subnets. */
    struct bh_net_config c1 = {.bridge = "bhtest0", .subnet = "10.214.255.252/30"};
    bh_err_t e = BH_ERR_INIT;
    struct bh_net_session a = {0}, b;
    CHECK(bh_net_session_setup(&c1, "7e57aaaa0001", &a, &e) == 0);
    if (e.msg)
        fprintf(stderr, "exhaustion setup: %s\n", e.msg);
    bh_err_clear(&e);
    CHECK_STR(a.addr, "10.214.255.254");
    CHECK(bh_net_session_setup(&c1, "7e57aaaa0002", &b, &e) < 0 && e.status == EADDRNOTAVAIL);
    bh_err_clear(&e);
    CHECK(!path_exists("/run/netns/bh-7e57aaaa0002") && !link_exists("bhv7e57aaaa0002"));
    CHECK(bh_net_session_teardown(&c1, "7e57aaaa0001", &e) == 0);
    bh_err_clear(&e);
    CHECK(!path_exists("/run/netns/bh-7e57aaaa0001") && !path_exists(LEASES "/10.214.255.254"));
}

static void test_teardown(void)
{
    int64_t t0 = bh_mono_ms();
    run_workers(teardown_worker);
    int64_t wall = bh_mono_ms() - t0, sum = 0, max = 0;
    for (int i = 0; i < SESSIONS; i++) {
        CHECK(sessions[i].rc == 0);
        if (sessions[i].rc != 0)
            fprintf(stderr, "teardown %s: %s\n", sessions[i].id, sessions[i].msg);
        sum += sessions[i].ms;
        max = sessions[i].ms > max ? sessions[i].ms : max;
        CHECK(!path_exists(sessions[i].s.netns_path));
        CHECK(!link_exists(sessions[i].s.veth_host));
    }
    printf("teardown: %d sessions from %d threads in %lld ms (avg %lld ms, max %lld ms each)\n",
           SESSIONS, THREADS, (long long)wall, (long long)(sum / SESSIONS), (long long)max);
    CHECK(test_leases() == 0);
    /* Idempotent. */
    bh_err_t e = BH_ERR_INIT;
    CHECK(bh_net_session_teardown(&cfg, sessions[0].id, &e) == 0);
    bh_err_clear(&e);
}

/* One session at a time, as a lone create would see it. */
static void test_sequential_timing(void)
{
    enum { N = 10 };
    char ids[N][64];
    struct bh_net_session s;
    int64_t setup = 0, teardown = 0;
    for (int i = 0; i < N; i++) {
        test_id(ids[i], sizeof ids[i]);
        bh_err_t e = BH_ERR_INIT;
        int64_t t0 = bh_mono_ms();
        CHECK(bh_net_session_setup(&cfg, ids[i], &s, &e) == 0);
        setup += bh_mono_ms() - t0;
        if (e.msg)
            fprintf(stderr, "setup: %s\n", e.msg);
        bh_err_clear(&e);
    }
    for (int i = 0; i < N; i++) {
        bh_err_t e = BH_ERR_INIT;
        int64_t t0 = bh_mono_ms();
        CHECK(bh_net_session_teardown(&cfg, ids[i], &e) == 0);
        teardown += bh_mono_ms() - t0;
        bh_err_clear(&e);
    }
    printf("sequential: setup %.1f ms, teardown %.1f ms per session\n", (double)setup / N,
           (double)teardown / N);
}

static void test_fini(void)
{
    bh_err_t e = BH_ERR_INIT;
    CHECK(bh_net_fini(&cfg, &e) == 0);
    if (e.msg)
        fprintf(stderr, "fini: %s\n", e.msg);
    bh_err_clear(&e);
    CHECK(bh_net_fini(&cfg, &e) == 0); /* idempotent */
    bh_err_clear(&e);
    CHECK(!link_exists("bhtest0"));
    CHECK(!nft_table_exists("bulkhead_bhtest0"));
    CHECK(links_with_prefix("bhv" TEST_PREFIX) == 0);
    CHECK(entries_with_prefix("/run/netns", "bh-" TEST_PREFIX) == 0);
    CHECK(test_leases() == 0);
}

int main(void)
{
    if (geteuid() != 0) {
        printf("test_net: needs root, skipped\n");
        return T_DONE();
    }
    signal(SIGPIPE, SIG_IGN);
    char *fwd = read_ip_forward();
    clean_leftovers();
    test_init();
    test_concurrent_setup();
    test_connectivity();
    inet_down();
    test_failures();
    test_exhaustion();
    test_teardown();
    test_sequential_timing();
    test_fini();
    clean_leftovers();
    CHECK(!path_exists("/run/netns/" INET_NS) && !link_exists(INET_VETH));
    write_ip_forward(fwd); /* leave the host as we found it */
    free(fwd);
    return T_DONE();
}
