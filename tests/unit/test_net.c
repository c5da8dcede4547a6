/* test_net.c — net.c for real, as root: bridge + nft tables, concurrent
 * session setups (with their egress policy) getting distinct addresses,
 * sessions reaching a "test internet" host through the bridge and NAT,
 * failure rollback, lease exhaustion, teardown (conntrack entries of the
 * address go with its lease), fini, nothing left behind;
 * and the egress policy packet by packet: rule parsing, nothing before the
 * policy, `internet`, `none`, allow-lists (ports too), the operator's
 * always-allow/always-deny lists, the resolver, the host, other sessions
 * (layer 3 and layer 2), spoofed sources and ARP, removal after a crash or
 * a lost lease.
 *
 * Everything it makes is its own: bridge bhtest0, nft tables
 * inet/bridge bulkhead_bhtest0, session ids starting with "7e57", the
 * namespace bhtest-unet with its veth bhtunet0, ip rule/table 2214. The
 * namespace holds every test destination: 203.0.113.1 ("public"),
 * 192.168.214.1 (RFC1918) and 169.254.169.254 (metadata; routed there only
 * for packets from the session subnet, by ip rule 2214, so the host's own
 * metadata traffic is untouched). Traffic goes only to those, to the host's
 * addresses and to the test's sessions; routes are checked before any
 * packet is sent. Names and addresses differ from the e2e suites' (which
 * use bhtest-inet and 198.51.100.0/24), so both may run at once; two runs
 * of this test take turns (flock on /run/lock/bulkhead-test-net.lock). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/net.h"
#include "t.h"
#include "lib/util.h"

#define TEST_PREFIX "7e57"
#define UNET_NS "bhtest-unet"
#define UNET_VETH "bhtunet0"
#define PUB "203.0.113.1"
#define PUB_HOST "203.0.113.62" /* the host's end, 203.0.113.0/26 */
#define PRIV "192.168.214.1"
#define PRIV_HOST "192.168.214.254"
#define META "169.254.169.254"
#define RT_TABLE "2214"
#define BRIDGE_ADDR "10.214.0.1"
#define LEASES "/run/bulkhead/net/leases"
#define TABLE "bulkhead_bhtest0"

enum { P1 = 8081, P2 = 8082, PU = 8083, PDNS = 53 };

#define OK_MS 3000 /* a probe that should get through has this long */
#define BAD_MS 300 /* one that should not: local namespaces answer in µs */

static struct bh_net_config cfg = {
    .bridge = "bhtest0",
    .subnet = "10.214.0.0/16",
    .dns = PRIV, /* a private resolver: reachable on port 53 only */
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

static int nft_table_exists(const char *family, const char *table)
{
    const char *argv[] = {"nft", "list", "table", family, table, NULL};
    return run(NULL, argv) == 0;
}

/* `nft list table FAMILY TABLE` (caller frees; "" if it fails). */
static char *nft_table(const char *family)
{
    char *out = NULL;
    const char *argv[] = {"nft", "list", "table", family, TABLE, NULL};
    if (run(&out, argv) != 0) {
        free(out);
        return bh_xstrdup("");
    }
    return out;
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

static struct bh_net_rule rule(const char *cidr, int port)
{
    struct bh_net_rule r;
    uint16_t p = (uint16_t)port;
    bh_err_t e = BH_ERR_INIT;
    if (bh_net_rule_parse(cidr, &p, port ? 1 : 0, &r, &e) < 0) {
        fprintf(stderr, "rule %s: %s\n", cidr, bh_err_msg(&e));
        abort();
    }
    bh_err_clear(&e);
    return r;
}

static int apply(const char *id, enum bh_net_mode mode, const struct bh_net_rule *allow, int n)
{
    struct bh_net_policy p = {.mode = mode, .allow = allow, .nallow = n};
    bh_err_t e = BH_ERR_INIT;
    int rc = bh_net_session_policy(&cfg, id, &p, &e);
    if (rc < 0)
        fprintf(stderr, "policy %s: %s\n", id, bh_err_msg(&e));
    bh_err_clear(&e);
    return rc;
}

static int setup(const char *id, struct bh_net_session *s)
{
    bh_err_t e = BH_ERR_INIT;
    int rc = bh_net_session_setup(&cfg, id, 0, s, &e);
    if (rc < 0)
        fprintf(stderr, "setup %s: %s\n", id, bh_err_msg(&e));
    bh_err_clear(&e);
    return rc;
}

static int teardown(const char *id)
{
    bh_err_t e = BH_ERR_INIT;
    int rc = bh_net_session_teardown(&cfg, id, &e);
    if (rc < 0)
        fprintf(stderr, "teardown %s: %s\n", id, bh_err_msg(&e));
    bh_err_clear(&e);
    return rc;
}

/* Nothing of session `id` at `addr` (on host veth `veth`) is in our nft
 * tables. */
static int nft_clean_of(const char *id, const char *addr, const char *veth)
{
    cleanup_free char *in = nft_table("inet"), *br = nft_table("bridge");
    char a[80];
    snprintf(a, sizeof a, " %s ", addr); /* "10.214.0.2 " must not match .20 */
    int clean = !contains(in, id) && !contains(br, id) && !contains(br, veth);
    /* addresses appear as "{ A : goto ...", "{ A, B }" or "A }" */
    const char *seps[] = {" : ", ",", " }", "\n"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(a, sizeof a, " %s%s", addr, seps[i]);
        clean = clean && !contains(in, a) && !contains(br, a);
    }
    if (!clean)
        fprintf(stderr, "nft still names %s (%s, %s):\n%s%s", id, addr, veth, in, br);
    return clean;
}

/* No session of any kind is in our tables (sessions4, online4, our_ports,
 * ports empty; no sess_ chain). */
static int nft_no_sessions(void)
{
    cleanup_free char *in = nft_table("inet"), *br = nft_table("bridge");
    const char *objs[] = {"map sessions4", "set online4", "set our_ports", "set ports"};
    int clean = !contains(in, "chain sess_");
    for (size_t i = 0; i < 4; i++) {
        const char *o = strstr(i < 2 ? in : br, objs[i]);
        const char *end = o ? strchr(o, '}') : NULL;
        const char *el = o ? strstr(o, "elements") : NULL;
        clean = clean && o && !(el && el < end);
    }
    if (!clean)
        fprintf(stderr, "sessions left in the tables:\n%s%s", in, br);
    return clean;
}

/* ------------------------------------------------------------------ */
/* the test world: destinations in bhtest-unet                         */
/* ------------------------------------------------------------------ */

static void unet_down(void)
{
    const char *del_veth[] = {"ip", "link", "delete", UNET_VETH, NULL};
    const char *del_ns[] = {"ip", "netns", "delete", UNET_NS, NULL};
    const char *del_rule[] = {"ip", "rule", "del", "pref", RT_TABLE, NULL};
    run(NULL, del_veth);
    run(NULL, del_ns);
    for (int i = 0; i < 8 && run(NULL, del_rule) == 0; i++)
        ;
}

/* Never send a packet to `dst` unless it is routed into our namespace. */
static int routed_to_unet(const char *dst, const char *from)
{
    cleanup_free char *route = NULL;
    const char *get[] = {"ip", "route", "get", dst, "from", from, "iif", "bhtest0", NULL};
    if (run(&route, get) != 0 || !contains(route, "dev " UNET_VETH)) {
        fprintf(stderr, "route to %s from %s is not via %s: %s\n", dst, from, UNET_VETH,
                route ? route : "");
        return 0;
    }
    return 1;
}

static int unet_up(void)
{
    const char *cmds[][16] = {
        {"ip", "netns", "add", UNET_NS, NULL},
        {"ip", "link", "add", UNET_VETH, "type", "veth", "peer", "name", "eth0", "netns", UNET_NS,
         NULL},
        {"ip", "addr", "add", PUB_HOST "/26", "dev", UNET_VETH, NULL},
        {"ip", "addr", "add", PRIV_HOST "/24", "dev", UNET_VETH, NULL},
        {"ip", "link", "set", UNET_VETH, "up", NULL},
        {"ip", "-n", UNET_NS, "addr", "add", PUB "/26", "dev", "eth0", NULL},
        {"ip", "-n", UNET_NS, "addr", "add", PRIV "/24", "dev", "eth0", NULL},
        {"ip", "-n", UNET_NS, "addr", "add", META "/32", "dev", "eth0", NULL},
        {"ip", "-n", UNET_NS, "link", "set", "eth0", "up", NULL},
        {"ip", "-n", UNET_NS, "link", "set", "lo", "up", NULL},
        /* metadata: only packets from the session subnet go there */
        {"ip", "route", "add", META "/32", "dev", UNET_VETH, "table", RT_TABLE, NULL},
        {"ip", "rule", "add", "from", "10.214.0.0/16", "to", META "/32", "lookup", RT_TABLE, "pref",
         RT_TABLE, NULL},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (run(NULL, cmds[i]) != 0) {
            fprintf(stderr, "test world setup failed at step %zu\n", i);
            return -1;
        }
    if (!routed_to_unet(PUB, "10.214.0.2") || !routed_to_unet(PRIV, "10.214.0.2") ||
        !routed_to_unet(META, "10.214.0.2"))
        return -1;
    return 0;
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

/* A server in a namespace (NULL: the host's): TCP on `ports` (0: any free
 * one) writing "hello" to each connection, UDP on `udp` (if not 0); every
 * connection ("tcp LOCAL:PORT from PEER") and datagram ("udp PAYLOAD from
 * PEER") is reported, one line each, on a pipe. */
struct server {
    pid_t pid;
    int fd;
    int port; /* the first TCP port */
    char log[16384];
    size_t len;
};

static int listen_on(const char *addr, int port, int type)
{
    int s = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, addr, &sa.sin_addr);
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        (type == SOCK_STREAM && listen(s, 64) < 0))
        return -1;
    return s;
}

static int server_start(struct server *sv, const char *nspath, const char *addr, const int *ports,
                        int nports, int udp)
{
    memset(sv, 0, sizeof *sv);
    int ready[2], report[2];
    if (pipe(ready) < 0 || pipe2(report, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        alarm(300);
        close(ready[0]);
        close(report[0]);
        if (nspath && enter_netns(nspath) < 0)
            _exit(2);
        struct pollfd pf[8];
        int n = 0, first = 0;
        for (int i = 0; i < nports; i++) {
            pf[n].fd = listen_on(addr, ports[i], SOCK_STREAM);
            pf[n++].events = POLLIN;
            if (pf[n - 1].fd < 0)
                _exit(3);
            if (i == 0) {
                struct sockaddr_in sa;
                socklen_t l = sizeof sa;
                getsockname(pf[0].fd, (struct sockaddr *)&sa, &l);
                first = ntohs(sa.sin_port);
            }
        }
        int udp_fd = -1;
        if (udp) {
            udp_fd = pf[n].fd = listen_on(addr, udp, SOCK_DGRAM);
            pf[n++].events = POLLIN;
            if (udp_fd < 0)
                _exit(3);
        }
        if (write(ready[1], &first, sizeof first) != sizeof first)
            _exit(4);
        close(ready[1]);
        for (;;) {
            if (poll(pf, (nfds_t)n, -1) < 0)
                continue;
            for (int i = 0; i < n; i++) {
                if (!(pf[i].revents & POLLIN))
                    continue;
                struct sockaddr_in peer, local;
                socklen_t pl = sizeof peer, ll = sizeof local;
                char line[256], p[INET_ADDRSTRLEN], l[INET_ADDRSTRLEN];
                if (pf[i].fd == udp_fd) {
                    char buf[128];
                    ssize_t r = recvfrom(udp_fd, buf, sizeof buf - 1, 0, (struct sockaddr *)&peer,
                                         &pl);
                    if (r < 0)
                        continue;
                    buf[r] = 0;
                    inet_ntop(AF_INET, &peer.sin_addr, p, sizeof p);
                    snprintf(line, sizeof line, "udp %s from %s\n", buf, p);
                } else {
                    int c = accept(pf[i].fd, (struct sockaddr *)&peer, &pl);
                    if (c < 0)
                        continue;
                    getsockname(c, (struct sockaddr *)&local, &ll);
                    inet_ntop(AF_INET, &peer.sin_addr, p, sizeof p);
                    inet_ntop(AF_INET, &local.sin_addr, l, sizeof l);
                    snprintf(line, sizeof line, "tcp %s:%d from %s\n", l, ntohs(local.sin_port), p);
                    if (write(c, "hello", 5) != 5) {
                        /* the prober went away */
                    }
                    close(c);
                }
                if (write(report[1], line, strlen(line)) < 0)
                    _exit(5);
            }
        }
    }
    close(ready[1]);
    close(report[1]);
    int first = 0;
    if (pid < 0 || read(ready[0], &first, sizeof first) != sizeof first) {
        close(ready[0]);
        close(report[0]);
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        return -1;
    }
    close(ready[0]);
    fcntl(report[0], F_SETFL, O_NONBLOCK);
    sv->pid = pid;
    sv->fd = report[0];
    sv->port = first;
    return 0;
}

/* What the server reported so far. */
static const char *server_log(struct server *sv)
{
    usleep(20000); /* let a just-accepted connection's line arrive */
    ssize_t r;
    while (sv->len < sizeof sv->log - 1 &&
           (r = read(sv->fd, sv->log + sv->len, sizeof sv->log - 1 - sv->len)) > 0)
        sv->len += (size_t)r;
    sv->log[sv->len] = 0;
    return sv->log;
}

/* Forget what was reported so far. */
static void server_clear(struct server *sv)
{
    server_log(sv);
    sv->len = 0;
    sv->log[0] = 0;
}

static void server_stop(struct server *sv)
{
    if (sv->pid > 0) {
        kill(sv->pid, SIGKILL);
        waitpid(sv->pid, NULL, 0);
        close(sv->fd);
    }
    sv->pid = 0;
}

/* From inside netns `nspath` (NULL: the host): a TCP connection to
 * dst:port within `ms`, from `src` if given, that reads the greeting.
 * Returns 1 if it got "hello", 0 if not. */
static int tcp_ok(const char *nspath, const char *src, const char *dst, int port, int ms)
{
    pid_t pid = fork();
    if (pid == 0) {
        alarm(10);
        if (nspath && enter_netns(nspath) < 0)
            _exit(2);
        int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (src) {
            struct sockaddr_in b = {.sin_family = AF_INET};
            inet_pton(AF_INET, src, &b.sin_addr);
            if (bind(s, (struct sockaddr *)&b, sizeof b) < 0)
                _exit(3);
        }
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, dst, &sa.sin_addr);
        if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS)
            _exit(4);
        struct pollfd pf = {.fd = s, .events = POLLOUT};
        int e = 0;
        socklen_t el = sizeof e;
        if (poll(&pf, 1, ms) != 1 || getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e)
            _exit(5);
        char buf[16] = {0};
        size_t got = 0;
        pf.events = POLLIN;
        while (got < 5 && poll(&pf, 1, ms) == 1) {
            ssize_t r = read(s, buf + got, sizeof buf - 1 - got);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        _exit(strcmp(buf, "hello") == 0 ? 0 : 6);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return 0;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Send one UDP datagram `payload` from inside `nspath` (from `src` if
 * given). Returns 1 if it was sent (not whether it arrived). */
static int udp_send(const char *nspath, const char *src, const char *dst, int port,
                    const char *payload)
{
    pid_t pid = fork();
    if (pid == 0) {
        alarm(10);
        if (enter_netns(nspath) < 0)
            _exit(2);
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (src) {
            struct sockaddr_in b = {.sin_family = AF_INET};
            inet_pton(AF_INET, src, &b.sin_addr);
            if (bind(s, (struct sockaddr *)&b, sizeof b) < 0)
                _exit(3);
        }
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, dst, &sa.sin_addr);
        for (int i = 0; i < 3; i++) { /* the first may wait for ARP */
            if (sendto(s, payload, strlen(payload), 0, (struct sockaddr *)&sa, sizeof sa) < 0)
                _exit(4);
            usleep(50000);
        }
        _exit(0);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return 0;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* ------------------------------------------------------------------ */
/* rule parsing                                                        */
/* ------------------------------------------------------------------ */

static void test_rule_parse(void)
{
    struct bh_net_rule r;
    bh_err_t e = BH_ERR_INIT;
    uint16_t ports[] = {443, 80, 443, 8080};
    CHECK(bh_net_rule_parse("198.51.100.0/24", ports, 4, &r, &e) == 0);
    CHECK_STR(r.cidr, "198.51.100.0/24");
    CHECK(r.nports == 3 && r.ports[0] == 80 && r.ports[1] == 443 && r.ports[2] == 8080);
    CHECK(bh_net_rule_parse("192.0.2.7", NULL, 0, &r, &e) == 0);
    CHECK_STR(r.cidr, "192.0.2.7/32");
    CHECK(r.nports == 0);
    CHECK(bh_net_rule_parse("0.0.0.0/0", NULL, 0, &r, &e) == 0);
    CHECK_STR(r.cidr, "0.0.0.0/0");
    CHECK(bh_net_rule_parse("2001:DB8:0::/32", NULL, 0, &r, &e) == 0);
    CHECK_STR(r.cidr, "2001:db8::/32");
    CHECK(bh_net_rule_parse("2001:db8::1", NULL, 0, &r, &e) == 0);
    CHECK_STR(r.cidr, "2001:db8::1/128");
    uint16_t p16[16];
    for (int i = 0; i < 16; i++)
        p16[i] = (uint16_t)(1000 + i);
    CHECK(bh_net_rule_parse("10.0.0.0/8", p16, 16, &r, &e) == 0 && r.nports == 16);
    bh_err_clear(&e);

    /* Bad input: each is refused with EINVAL and a message. */
    const char *bad[] = {
        "",
        "10.0.0.0/33",
        "2001:db8::/129",
        "10.0.0.1/8", /* host bits */
        "10.0.0.0/",
        "10.0.0.0/8/8",
        "10.0.0.0/08",
        "10.0.0.0/+8",
        "10.0.0.0/ 8",
        " 10.0.0.0/8",
        "010.0.0.1",  /* octal spelling */
        "3232290049", /* decimal spelling of 192.168.213.1 */
        "0xc0a8d501", /* hex */
        "0300.0250.0325.01",
        "192.168.54529", /* short form */
        "1.2.3",
        "1.2.3.4.5",
        "256.0.0.1",
        "fe80::1%eth0",
        "example.com",
        "10.0.0.0/8; flush ruleset",
        "10.0.0.0/8 }",
        "1111111111111111111111111111111111111111111111111111111111111111111",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = bh_net_rule_parse(bad[i], NULL, 0, &r, &e);
        CHECK(rc < 0 && e.errnum == EINVAL && e.msg && *e.msg);
        if (rc == 0)
            fprintf(stderr, "accepted bad CIDR \"%s\" as %s\n", bad[i], r.cidr);
        bh_err_clear(&e);
    }
    CHECK(bh_net_rule_parse(NULL, NULL, 0, &r, &e) < 0);
    bh_err_clear(&e);
    uint16_t zero = 0;
    CHECK(bh_net_rule_parse("10.0.0.0/8", &zero, 1, &r, &e) < 0 && e.errnum == EINVAL);
    bh_err_clear(&e);
    uint16_t p17[17] = {1};
    CHECK(bh_net_rule_parse("10.0.0.0/8", p17, 17, &r, &e) < 0);
    bh_err_clear(&e);
    CHECK(bh_net_rule_parse("10.0.0.0/8", NULL, 2, &r, &e) < 0);
    bh_err_clear(&e);
    CHECK(bh_net_rule_parse("10.0.0.0/8", ports, -1, &r, &e) < 0);
    bh_err_clear(&e);
    /* the message names the problem */
    CHECK(bh_net_rule_parse("10.1.2.3/8", NULL, 0, &r, &e) < 0 && contains(e.msg, "10.0.0.0/8"));
    bh_err_clear(&e);
}

/* ------------------------------------------------------------------ */
/* concurrent setup (+ policy) / teardown                              */
/* ------------------------------------------------------------------ */

#define THREADS 5
#define PER_THREAD 4
#define SESSIONS (THREADS * PER_THREAD) /* 20 at once */

struct sess {
    char id[64];
    struct bh_net_session s;
    int rc;
    char msg[256];
    int64_t ms, policy_ms;
};

static struct sess sessions[SESSIONS];

static void *setup_worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = t * PER_THREAD; i < (t + 1) * PER_THREAD; i++) {
        bh_err_t e = BH_ERR_INIT;
        int64_t t0 = bh_mono_ms();
        sessions[i].rc = bh_net_session_setup(&cfg, sessions[i].id, 0, &sessions[i].s, &e);
        int64_t t1 = bh_mono_ms();
        struct bh_net_policy p = {.mode = BH_NET_INTERNET};
        if (sessions[i].rc == 0)
            sessions[i].rc = bh_net_session_policy(&cfg, sessions[i].id, &p, &e);
        sessions[i].ms = t1 - t0;
        sessions[i].policy_ms = bh_mono_ms() - t1;
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
    unet_down();
    const char *del_coll[] = {"ip", "link", "delete", "bhv7e57deadbeef", NULL};
    const char *del_old[] = {"ip", "link", "delete", "bhtinet0", NULL}; /* older versions' */
    run(NULL, del_coll);
    run(NULL, del_old);
    bh_net_fini(&cfg, NULL);
}

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
    cleanup_free char *rules = nft_table("inet"), *brules = nft_table("bridge");
    CHECK(contains(rules, "ip saddr 10.214.0.0/16 oifname != \"bhtest0\" masquerade"));
    CHECK(contains(rules, "chain forward"));
    CHECK(contains(rules, "chain input"));
    /* the deny-by-default layout */
    CHECK(contains(rules, "iifname \"bhtest0\" jump session_egress"));
    CHECK(contains(rules, "oifname \"bhtest0\" jump session_ingress"));
    CHECK(contains(rules, "iifname \"bhtest0\" jump session_to_host"));
    CHECK(contains(rules, "ip saddr vmap @sessions4"));
    CHECK(contains(rules, "10.214.0.0/16")); /* in never4: other sessions, the bridge */
    CHECK(contains(rules, "127.0.0.0/8") && contains(rules, "169.254.0.0/16") &&
          contains(rules, "100.64.0.0/10") && contains(rules, "192.168.0.0/16") &&
          contains(rules, "172.16.0.0/12") && contains(rules, "10.0.0.0/8") &&
          contains(rules, "224.0.0.0/3")); /* multicast + 240/4, merged */
    CHECK(contains(rules, "fc00::/7") && contains(rules, "fe80::/10") &&
          contains(rules, "fd00:ec2::254") && contains(rules, "ff00::/8") &&
          contains(rules, "::ffff:0.0.0.0/96"));
    CHECK(contains(rules, "ip daddr " PRIV " meta l4proto { tcp, udp } th dport 53 accept"));
    CHECK(contains(brules, "iifname @our_ports jump from_session"));

    /* A half-made state (as after a crash) is repaired by init. */
    const char *flush[] = {"ip", "addr", "flush", "dev", "bhtest0", NULL};
    const char *junk[] = {"nft",     "add",     "rule",   "inet", TABLE,
                          "forward", "counter", "accept", NULL};
    CHECK(run(NULL, flush) == 0);
    CHECK(run(NULL, junk) == 0);
    CHECK(bh_net_init(&cfg, &e) == 0);
    bh_err_clear(&e);
    cleanup_free char *addr2 = NULL, *rules2 = nft_table("inet");
    CHECK(run(&addr2, show) == 0 && contains(addr2, "10.214.0.1/16"));
    CHECK(!contains(rules2, "counter"));

    /* Bad configs are refused before anything is touched. */
    struct bh_net_config bad = cfg;
    bad.subnet = "10.214.0.0";
    CHECK(bh_net_init(&bad, &e) < 0 && e.errnum == EINVAL);
    bh_err_clear(&e);
    bad.subnet = cfg.subnet;
    bad.bridge = "bh\"; flush ruleset";
    CHECK(bh_net_init(&bad, &e) < 0 && e.errnum == EINVAL);
    bh_err_clear(&e);
    bad = cfg;
    bad.dns = "127.0.0.53"; /* the host's loopback resolver: never reachable */
    CHECK(bh_net_init(&bad, &e) < 0 && e.errnum == EINVAL && contains(e.msg, "loopback"));
    bh_err_clear(&e);
    bad.dns = "resolver.example";
    CHECK(bh_net_init(&bad, &e) < 0 && e.errnum == EINVAL);
    bh_err_clear(&e);
    /* a rule not made by bh_net_rule_parse never reaches nft */
    struct bh_net_rule forged = {.cidr = "10.0.0.0/8 accept; flush ruleset"};
    bad = cfg;
    bad.always_allow = &forged;
    bad.nalways_allow = 1;
    CHECK(bh_net_init(&bad, &e) < 0 && e.errnum == EINVAL);
    bh_err_clear(&e);
    cleanup_free char *rules3 = nft_table("inet");
    CHECK(contains(rules3, "masquerade") && contains(rules3, "th dport 53"));
}

static void test_concurrent_setup(void)
{
    for (int i = 0; i < SESSIONS; i++)
        test_id(sessions[i].id, sizeof sessions[i].id);
    int64_t t0 = bh_mono_ms();
    run_workers(setup_worker);
    int64_t wall = bh_mono_ms() - t0;
    int ok = 0;
    int64_t sum = 0, max = 0, psum = 0, pmax = 0;
    for (int i = 0; i < SESSIONS; i++) {
        CHECK(sessions[i].rc == 0);
        if (sessions[i].rc != 0) {
            fprintf(stderr, "setup %s: %s\n", sessions[i].id, sessions[i].msg);
            continue;
        }
        ok++;
        sum += sessions[i].ms;
        max = sessions[i].ms > max ? sessions[i].ms : max;
        psum += sessions[i].policy_ms;
        pmax = sessions[i].policy_ms > pmax ? sessions[i].policy_ms : pmax;
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
    printf("setup+policy: %d sessions from %d threads in %lld ms (setup avg %lld max %lld ms; "
           "policy avg %lld max %lld ms)\n",
           SESSIONS, THREADS, (long long)wall, (long long)(ok ? sum / ok : 0), (long long)max,
           (long long)(ok ? psum / ok : 0), (long long)pmax);
    /* every policy landed: one element and one chain each */
    cleanup_free char *in = nft_table("inet"), *br = nft_table("bridge");
    int found = 0;
    for (int i = 0; i < SESSIONS; i++) {
        char want[128];
        snprintf(want, sizeof want, "%s : goto sess_%s", sessions[i].s.addr, sessions[i].id);
        found += contains(in, want) && contains(br, sessions[i].s.veth_host);
    }
    CHECK(found == SESSIONS);

    /* Inside one: address, default route, MTU of the bridge, our MAC, no
     * IPv6; its port is isolated on the bridge. */
    struct bh_net_session *s = &sessions[0].s;
    cleanup_free char *a = NULL, *r = NULL, *l = NULL, *b = NULL, *a6 = NULL, *bl = NULL;
    const char *addr[] = {"ip", "-n", s->netns, "-4", "-o", "addr", "show", "dev", "eth0", NULL};
    const char *addr6[] = {"ip", "-n", s->netns, "-6", "-o", "addr", "show", "dev", "eth0", NULL};
    const char *route[] = {"ip", "-n", s->netns, "route", "show", "default", NULL};
    const char *lo[] = {"ip", "-n", s->netns, "-o", "link", "show", "lo", NULL};
    CHECK(run(&a, addr) == 0);
    char want[80];
    snprintf(want, sizeof want, "%s/16", s->addr);
    CHECK(contains(a, want));
    CHECK(run(&a6, addr6) == 0 && !contains(a6, "inet6"));
    CHECK(run(&r, route) == 0 && contains(r, "via 10.214.0.1 dev eth0"));
    CHECK(run(&l, lo) == 0 && contains(l, "UP"));
    const char *brshow[] = {"ip", "-o", "link", "show", "bhtest0", NULL};
    CHECK(run(&b, brshow) == 0 && contains(b, "mtu "));
    /* The bridge keeps its own MAC when ports join (gateway ARP stays valid). */
    CHECK(contains(b, "link/ether 02:62:"));
    cleanup_free char *e = NULL;
    const char *eshow[] = {"ip", "-n", s->netns, "-o", "link", "show", "eth0", NULL};
    CHECK(run(&e, eshow) == 0);
    CHECK(contains(e, "link/ether 06:62:0a:d6:"));
    const char *bm = b ? strstr(b, "mtu ") : NULL, *em = e ? strstr(e, "mtu ") : NULL;
    CHECK(bm && em && atoi(bm + 4) == atoi(em + 4));
    const char *bridge_link[] = {"bridge", "-d", "link", "show", "dev", s->veth_host, NULL};
    CHECK(run(&bl, bridge_link) == 0 && contains(bl, "isolated on"));

    /* bh_net_list reports them. */
    char **ids = NULL;
    int n = bh_net_list(&ids, NULL);
    found = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < SESSIONS; j++)
            if (!strcmp(ids[i], sessions[j].id))
                found++;
        free(ids[i]);
    }
    free(ids);
    CHECK(found == ok);
}

static void test_connectivity(struct server *world)
{
    /* Two different sessions reach the public host through the bridge and
     * NAT, masqueraded as the host's address. */
    CHECK(tcp_ok(sessions[0].s.netns_path, NULL, PUB, P1, OK_MS));
    CHECK(tcp_ok(sessions[SESSIONS - 1].s.netns_path, NULL, PUB, P1, OK_MS));
    const char *log = server_log(world);
    const char *first = strstr(log, "tcp " PUB ":8081 from " PUB_HOST "\n");
    CHECK(first && strstr(first + 1, "tcp " PUB ":8081 from " PUB_HOST "\n"));
}

/* Entries of the host's conntrack table that name addr (as a source or
 * destination of either direction); -1 if the table cannot be read. */
static int ct_entries_of(const char *addr)
{
    cleanup_free char *t = bh_read_file("/proc/net/nf_conntrack", NULL, NULL);
    if (!t) {
        fprintf(stderr, "/proc/net/nf_conntrack: %s\n", strerror(errno));
        return -1;
    }
    char src[80], dst[80];
    snprintf(src, sizeof src, "src=%s ", addr); /* "10.214.0.2 " must not match .20 */
    snprintf(dst, sizeof dst, "dst=%s ", addr);
    int n = 0;
    for (char *line = t, *end; *line; line = end + 1) {
        end = strchr(line, '\n');
        if (!end)
            end = line + strlen(line) - 1;
        char save = end[1];
        end[1] = 0;
        if (strstr(line, src) || strstr(line, dst))
            n++;
        end[1] = save;
        if (!save)
            break;
    }
    return n;
}

/* A session's flows (TCP through the NAT, now in TIME_WAIT; UDP never
 * answered) leave the host's conntrack table with its lease, so the next
 * session given the address inherits none of them. */
static void test_conntrack(void)
{
    char id[64], id2[64];
    struct bh_net_session s, s2;
    test_id(id, sizeof id);
    test_id(id2, sizeof id2);
    if (setup(id, &s) < 0) {
        CHECK(0);
        return;
    }
    CHECK(apply(id, BH_NET_INTERNET, NULL, 0) == 0);
    CHECK(ct_entries_of(s.addr) == 0);
    CHECK(tcp_ok(s.netns_path, NULL, PUB, P1, OK_MS));
    CHECK(udp_send(s.netns_path, NULL, PUB, PU, "conntrack"));
    CHECK(ct_entries_of(s.addr) >= 2);
    CHECK(teardown(id) == 0);
    int left = ct_entries_of(s.addr);
    CHECK(left == 0);
    if (left != 0)
        fprintf(stderr, "%d conntrack entries of %s are left\n", left, s.addr);
    /* The lowest free address: the same one again, clean. */
    if (setup(id2, &s2) == 0) {
        CHECK_STR(s2.addr, s.addr);
        CHECK(ct_entries_of(s2.addr) == 0);
        CHECK(teardown(id2) == 0);
    } else {
        CHECK(0);
    }
}

/* Packet by packet, with sessions of the first config (resolver PRIV, no
 * operator lists). */
static void test_policies(struct server *world)
{
    char ida[64], idb[64];
    test_id(ida, sizeof ida);
    test_id(idb, sizeof idb);
    struct bh_net_session a, b;
    CHECK(setup(ida, &a) == 0 && setup(idb, &b) == 0);
    const char *A = a.netns_path;

    /* Before its policy a session sends nothing, not even to the public
     * host. */
    CHECK(!tcp_ok(A, NULL, PUB, P1, BAD_MS));
    CHECK(!tcp_ok(A, NULL, PRIV, PDNS, BAD_MS));

    /* internet: public yes; private, metadata, the host, other sessions no;
     * the resolver on 53 only. */
    CHECK(apply(ida, BH_NET_INTERNET, NULL, 0) == 0);
    CHECK(apply(idb, BH_NET_INTERNET, NULL, 0) == 0);
    CHECK(tcp_ok(A, NULL, PUB, P1, OK_MS));
    CHECK(tcp_ok(A, NULL, PUB, P2, OK_MS));
    CHECK(!tcp_ok(A, NULL, PRIV, P1, BAD_MS));
    CHECK(!tcp_ok(A, NULL, META, P1, BAD_MS));
    CHECK(tcp_ok(A, NULL, PRIV, PDNS, OK_MS)); /* the configured resolver */
    CHECK(!contains(server_log(world), "tcp " PRIV ":8081"));
    CHECK(!contains(server_log(world), "tcp " META ":"));

    /* The host: a server on all its addresses. The host reaches it, and the
     * session reaches it on no address: not the bridge's, not the host's
     * end of the test link. */
    struct server host;
    int any = 0;
    CHECK(server_start(&host, NULL, "0.0.0.0", &any, 1, 0) == 0);
    CHECK(tcp_ok(NULL, NULL, "127.0.0.1", host.port, OK_MS));
    CHECK(!tcp_ok(A, NULL, BRIDGE_ADDR, host.port, BAD_MS));
    CHECK(!tcp_ok(A, NULL, PUB_HOST, host.port, BAD_MS));
    CHECK(!tcp_ok(A, NULL, PRIV_HOST, host.port, BAD_MS));
    CHECK(!tcp_ok(A, NULL, "127.0.0.1", host.port, BAD_MS)); /* its own loopback */
    CHECK(!contains(server_log(&host), "from 10.214."));
    server_stop(&host);

    /* Another session: B listens; the host reaches it (replies come back:
     * ct established), A does not — not routed through the gateway, not
     * through the bridge with a forged neighbour entry (isolated ports). */
    struct server bsrv;
    int bport = 8090;
    CHECK(server_start(&bsrv, b.netns_path, "0.0.0.0", &bport, 1, 0) == 0);
    CHECK(tcp_ok(NULL, NULL, b.addr, bport, OK_MS));
    CHECK(!tcp_ok(A, NULL, b.addr, bport, BAD_MS));
    cleanup_free char *bmac = NULL;
    const char *bl[] = {"ip", "-n", b.netns, "-o", "link", "show", "eth0", NULL};
    CHECK(run(&bmac, bl) == 0);
    char mac[18] = "";
    const char *m = bmac ? strstr(bmac, "link/ether ") : NULL;
    if (m)
        snprintf(mac, sizeof mac, "%.17s", m + 11);
    const char *neigh[] = {"ip",     "-n", a.netns, "neigh", "replace", b.addr,
                           "lladdr", mac,  "dev",   "eth0",  NULL};
    CHECK(run(NULL, neigh) == 0);
    CHECK(!tcp_ok(A, NULL, b.addr, bport, BAD_MS));
    int from_a = 0;
    {
        char want[80];
        snprintf(want, sizeof want, "from %s\n", a.addr);
        from_a = contains(server_log(&bsrv), want);
    }
    CHECK(!from_a);
    server_stop(&bsrv);

    /* none: nothing at all, not even the resolver. */
    CHECK(apply(ida, BH_NET_NONE, NULL, 0) == 0);
    CHECK(!tcp_ok(A, NULL, PUB, P1, BAD_MS));
    CHECK(!tcp_ok(A, NULL, PRIV, PDNS, BAD_MS));

    /* Spoofing: A (none) sends as B (internet), with a static neighbour
     * entry for the gateway; the bridge drops frames whose (port, MAC,
     * source) is not A's — also with B's MAC. ARP claiming B's address is
     * dropped too, so the host keeps B's MAC for it. B's own datagram is the
     * control. */
    cleanup_free char *brl = NULL;
    const char *brshow[] = {"ip", "-o", "link", "show", "bhtest0", NULL};
    CHECK(run(&brl, brshow) == 0);
    char gwmac[18] = "";
    const char *g = brl ? strstr(brl, "link/ether ") : NULL;
    if (g)
        snprintf(gwmac, sizeof gwmac, "%.17s", g + 11);
    const char *addb[] = {"ip", "-n", a.netns, "addr", "add", b.addr, "dev", "eth0", NULL};
    const char *gw[] = {"ip",     "-n",  a.netns, "neigh", "replace", BRIDGE_ADDR,
                        "lladdr", gwmac, "dev",   "eth0",  NULL};
    const char *flush_neigh[] = {"ip",        "-n",  a.netns, "neigh", "del",
                                 BRIDGE_ADDR, "dev", "eth0",  NULL};
    const char *setmac[] = {"ip", "-n", a.netns, "link", "set", "eth0", "address", mac, NULL};
    CHECK(run(NULL, addb) == 0 && run(NULL, gw) == 0);
    CHECK(udp_send(A, b.addr, PUB, PU, "spoof-ip"));
    /* ARP: with no gateway entry, A asks for it as B. (After the host's
     * neighbour locktime, 1 s, in which it would ignore a new address.) */
    usleep(1100 * 1000);
    CHECK(run(NULL, flush_neigh) == 0);
    CHECK(udp_send(A, b.addr, PUB, PU, "spoof-arp"));
    cleanup_free char *hn = NULL;
    const char *hneigh[] = {"ip", "neigh", "show", b.addr, "dev", "bhtest0", NULL};
    CHECK(run(&hn, hneigh) == 0 && contains(hn, mac));
    if (!contains(hn, mac))
        fprintf(stderr, "host neighbour of %s: %s (B is %s)\n", b.addr, hn ? hn : "", mac);
    CHECK(run(NULL, setmac) == 0 && run(NULL, gw) == 0);
    CHECK(udp_send(A, b.addr, PUB, PU, "spoof-mac"));
    CHECK(udp_send(b.netns_path, NULL, PUB, PU, "real-b"));
    const char *wl = server_log(world);
    CHECK(contains(wl, "udp real-b from"));
    CHECK(!contains(wl, "spoof-"));
    teardown(ida); /* A is spoiled; a fresh one for the rest */
    CHECK(nft_clean_of(ida, a.addr, a.veth_host));
    test_id(ida, sizeof ida);
    CHECK(setup(ida, &a) == 0);
    A = a.netns_path;

    /* allow-list: exactly what it lists, port too; the resolver stays. */
    struct bh_net_rule pub1 = rule(PUB, P1);
    CHECK(apply(ida, BH_NET_ALLOWLIST, &pub1, 1) == 0);
    CHECK(tcp_ok(A, NULL, PUB, P1, OK_MS));
    CHECK(!tcp_ok(A, NULL, PUB, P2, BAD_MS));
    CHECK(!tcp_ok(A, NULL, PRIV, P1, BAD_MS));
    CHECK(tcp_ok(A, NULL, PRIV, PDNS, OK_MS));
    /* a private network, listed: reachable on every port (the resolver's
     * host too); the public host no longer */
    struct bh_net_rule privnet = rule("192.168.214.0/24", 0);
    CHECK(apply(ida, BH_NET_ALLOWLIST, &privnet, 1) == 0);
    CHECK(tcp_ok(A, NULL, PRIV, P1, OK_MS));
    CHECK(tcp_ok(A, NULL, PRIV, P2, OK_MS));
    CHECK(!tcp_ok(A, NULL, PUB, P1, BAD_MS));
    /* what a session lists never opens metadata, the host, other sessions */
    struct bh_net_rule never[] = {rule("169.254.0.0/16", 0), rule("10.214.0.0/16", 0),
                                  rule("0.0.0.0/0", 0)};
    CHECK(apply(ida, BH_NET_ALLOWLIST, never, 3) == 0);
    CHECK(!tcp_ok(A, NULL, META, P1, BAD_MS));
    CHECK(!tcp_ok(A, NULL, b.addr, P1, BAD_MS));
    CHECK(tcp_ok(A, NULL, PUB, P1, OK_MS)); /* 0.0.0.0/0 does open the rest */
    CHECK(tcp_ok(A, NULL, PRIV, P1, OK_MS));
    /* and back to internet: replaced, not added */
    CHECK(apply(ida, BH_NET_INTERNET, NULL, 0) == 0);
    CHECK(!tcp_ok(A, NULL, PRIV, P1, BAD_MS));
    CHECK(tcp_ok(A, NULL, PUB, P2, OK_MS));
    cleanup_free char *in = nft_table("inet");
    char chain[96];
    snprintf(chain, sizeof chain, "chain sess_%s", ida);
    const char *c = in ? strstr(in, chain) : NULL;
    const char *cend = c ? strstr(c, "\n\t}") : NULL;
    CHECK(c && cend && !memmem(c, (size_t)(cend - c), "192.168.214", 11));

    /* Bad policies are refused; the session keeps the one it had. */
    bh_err_t e = BH_ERR_INIT;
    struct bh_net_rule forged = {.cidr = "0.0.0.0/0 accept"};
    struct bh_net_policy badp = {.mode = BH_NET_ALLOWLIST, .allow = &forged, .nallow = 1};
    CHECK(bh_net_session_policy(&cfg, ida, &badp, &e) < 0 && e.errnum == EINVAL);
    bh_err_clear(&e);
    badp.mode = (enum bh_net_mode)7;
    badp.nallow = 0;
    CHECK(bh_net_session_policy(&cfg, ida, &badp, &e) < 0 && e.errnum == EINVAL);
    bh_err_clear(&e);
    struct bh_net_policy inet = {.mode = BH_NET_INTERNET};
    CHECK(bh_net_session_policy(&cfg, TEST_PREFIX "notsetup", &inet, &e) < 0);
    bh_err_clear(&e);
    CHECK(tcp_ok(A, NULL, PUB, P1, OK_MS));

    /* Teardown leaves nothing of either in the tables. */
    CHECK(teardown(ida) == 0 && teardown(idb) == 0);
    CHECK(nft_clean_of(ida, a.addr, a.veth_host));
    CHECK(nft_clean_of(idb, b.addr, b.veth_host));
}

/* The operator's lists and a resolver on the host (the bridge address). */
static void test_operator(struct server *world)
{
    struct bh_net_rule allow[] = {rule(META, P1), rule(PRIV, 0)};
    struct bh_net_rule deny[] = {rule(PUB, P2), rule(PRIV, P2)};
    struct bh_net_config saved = cfg;
    cfg.always_allow = allow;
    cfg.nalways_allow = 2;
    cfg.always_deny = deny;
    cfg.nalways_deny = 2;
    cfg.dns = BRIDGE_ADDR;
    bh_err_t e = BH_ERR_INIT;
    CHECK(bh_net_init(&cfg, &e) == 0);
    if (e.msg)
        fprintf(stderr, "init with operator lists: %s\n", e.msg);
    server_clear(world);
    bh_err_clear(&e);
    struct server dns, host;
    int p53 = PDNS, any = 0;
    CHECK(server_start(&dns, NULL, BRIDGE_ADDR, &p53, 1, 0) == 0);
    CHECK(server_start(&host, NULL, BRIDGE_ADDR, &any, 1, 0) == 0);

    char idc[64], idd[64], ide[64];
    test_id(idc, sizeof idc);
    test_id(idd, sizeof idd);
    test_id(ide, sizeof ide);
    struct bh_net_session c, d, x;
    CHECK(setup(idc, &c) == 0 && setup(idd, &d) == 0 && setup(ide, &x) == 0);
    struct bh_net_rule pub1 = rule(PUB, P1);
    CHECK(apply(idc, BH_NET_INTERNET, NULL, 0) == 0);
    CHECK(apply(idd, BH_NET_NONE, NULL, 0) == 0);
    CHECK(apply(ide, BH_NET_ALLOWLIST, &pub1, 1) == 0);

    /* internet + always_allow: metadata on the allowed port only, the
     * private host; always_deny wins, over internet and over always_allow */
    const char *C = c.netns_path;
    CHECK(tcp_ok(C, NULL, META, P1, OK_MS));
    CHECK(!tcp_ok(C, NULL, META, P2, BAD_MS));
    CHECK(tcp_ok(C, NULL, PRIV, P1, OK_MS));
    CHECK(!tcp_ok(C, NULL, PRIV, P2, BAD_MS));
    CHECK(tcp_ok(C, NULL, PUB, P1, OK_MS));
    CHECK(!tcp_ok(C, NULL, PUB, P2, BAD_MS));
    /* the resolver on the host: port 53 of that address, nothing else */
    CHECK(tcp_ok(C, NULL, BRIDGE_ADDR, PDNS, OK_MS));
    CHECK(!tcp_ok(C, NULL, BRIDGE_ADDR, host.port, BAD_MS));
    /* none: nothing, whatever the operator allows */
    CHECK(!tcp_ok(d.netns_path, NULL, META, P1, BAD_MS));
    CHECK(!tcp_ok(d.netns_path, NULL, BRIDGE_ADDR, PDNS, BAD_MS));
    /* allow-list: its list plus the operator's */
    CHECK(tcp_ok(x.netns_path, NULL, PUB, P1, OK_MS));
    CHECK(tcp_ok(x.netns_path, NULL, PRIV, P1, OK_MS));
    CHECK(tcp_ok(x.netns_path, NULL, BRIDGE_ADDR, PDNS, OK_MS));
    CHECK(!tcp_ok(x.netns_path, NULL, PUB, P2, BAD_MS));
    char want[80];
    snprintf(want, sizeof want, "from %s\n", d.addr);
    CHECK(!contains(server_log(world), want) && !contains(server_log(&dns), want));
    CHECK(!contains(server_log(&host), "from 10.214."));
    CHECK(!contains(server_log(world), ":8082 from"));
    server_stop(&dns);
    server_stop(&host);

    CHECK(teardown(idc) == 0 && teardown(idd) == 0 && teardown(ide) == 0);
    CHECK(nft_no_sessions());
    cfg = saved;
    CHECK(bh_net_init(&cfg, &e) == 0);
    bh_err_clear(&e);
}

/* A session whose daemon died (its policy applied by another process that
 * is gone), and one whose lease was lost: teardown by id alone removes
 * their rules. */
static void test_crash_removal(void)
{
    char id1[64], id2[64];
    test_id(id1, sizeof id1);
    test_id(id2, sizeof id2);
    pid_t pid = fork();
    if (pid == 0) {
        struct bh_net_session s;
        struct bh_net_policy p = {.mode = BH_NET_INTERNET};
        if (bh_net_session_setup(&cfg, id1, 0, &s, NULL) < 0 ||
            bh_net_session_policy(&cfg, id1, &p, NULL) < 0)
            _exit(1);
        kill(getpid(), SIGKILL); /* "crash" */
        _exit(2);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st));
    cleanup_free char *in = nft_table("inet");
    char chain[96];
    snprintf(chain, sizeof chain, "sess_%s", id1);
    CHECK(contains(in, chain));
    char **ids = NULL;
    int n = bh_net_list(&ids, NULL), found = 0;
    for (int i = 0; i < n; i++) {
        found += !strcmp(ids[i], id1);
        free(ids[i]);
    }
    free(ids);
    CHECK(found == 1);
    char addr1[256] = "";
    {
        DIR *d = opendir(LEASES);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            char owner[128];
            lease_owner(de->d_name, owner, sizeof owner);
            if (!strcmp(owner, id1))
                snprintf(addr1, sizeof addr1, "%s", de->d_name);
        }
        if (d)
            closedir(d);
    }
    CHECK(addr1[0]);
    char veth1[16];
    snprintf(veth1, sizeof veth1, "bhv%.12s", id1);
    CHECK(teardown(id1) == 0);
    CHECK(nft_clean_of(id1, addr1, veth1));

    /* lease gone (removed by hand): the tables are searched for the id */
    struct bh_net_session s2;
    CHECK(setup(id2, &s2) == 0 && apply(id2, BH_NET_INTERNET, NULL, 0) == 0);
    char lp[sizeof LEASES + 64];
    snprintf(lp, sizeof lp, "%s/%s", LEASES, s2.addr);
    CHECK(unlink(lp) == 0);
    int64_t t0 = bh_mono_ms();
    CHECK(teardown(id2) == 0);
    printf("teardown without a lease (listing the tables): %lld ms\n",
           (long long)(bh_mono_ms() - t0));
    CHECK(nft_clean_of(id2, s2.addr, s2.veth_host));
    CHECK(!path_exists(s2.netns_path) && !link_exists(s2.veth_host));
    CHECK(teardown(id2) == 0); /* idempotent */
}

static void test_failures(void)
{
    bh_err_t e = BH_ERR_INIT;
    struct bh_net_session s;

    /* An id that is set up already: refused, and the first one stays. */
    CHECK(bh_net_session_setup(&cfg, sessions[0].id, 0, &s, &e) < 0 && e.errnum == EEXIST);
    bh_err_clear(&e);
    CHECK(path_exists(sessions[0].s.netns_path));
    CHECK(link_exists(sessions[0].s.veth_host));
    CHECK(test_leases() == SESSIONS);

    CHECK(bh_net_session_setup(&cfg, "../etc", 0, &s, &e) < 0 && e.errnum == EINVAL);
    bh_err_clear(&e);

    /* A veth name taken by someone else: setup fails halfway and undoes the
     * lease and the netns; teardown of that id leaves the other's link. */
    const char *coll[] = {"ip",   "link", "add",  "bhv7e57deadbeef", "type",
                          "veth", "peer", "name", "bhtcoll1",        NULL};
    const char *alias[] = {"ip", "link", "set", "bhv7e57deadbeef", "alias", "not-ours", NULL};
    CHECK(run(NULL, coll) == 0 && run(NULL, alias) == 0);
    const char *cid = "7e57deadbeef0001";
    CHECK(bh_net_session_setup(&cfg, cid, 0, &s, &e) < 0 && e.errnum == EEXIST);
    bh_err_clear(&e);
    CHECK(!path_exists("/run/netns/bh-7e57deadbeef0001"));
    CHECK(test_leases() == SESSIONS);
    struct bh_net_policy inet = {.mode = BH_NET_INTERNET};
    CHECK(bh_net_session_policy(&cfg, cid, &inet, &e) < 0); /* not its veth */
    bh_err_clear(&e);
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
    CHECK(bh_net_fini(&cfg, &e) < 0 && e.errnum == EBUSY);
    bh_err_clear(&e);
    CHECK(link_exists("bhtest0") && nft_table_exists("inet", TABLE) &&
          nft_table_exists("bridge", TABLE));
}

static void test_exhaustion(void)
{
    /* A /30 has room for exactly one session. It shares bhtest0: leases do
     * not need a bridge of their own, and it keeps clear of other tests'
     * subnets. */
    struct bh_net_config c1 = {.bridge = "bhtest0", .subnet = "10.214.255.252/30"};
    bh_err_t e = BH_ERR_INIT;
    struct bh_net_session a = {0}, b;
    CHECK(bh_net_session_setup(&c1, "7e57aaaa0001", 0, &a, &e) == 0);
    if (e.msg)
        fprintf(stderr, "exhaustion setup: %s\n", e.msg);
    bh_err_clear(&e);
    CHECK_STR(a.addr, "10.214.255.254");
    CHECK(bh_net_session_setup(&c1, "7e57aaaa0002", 0, &b, &e) < 0 && e.errnum == EADDRNOTAVAIL);
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
    CHECK(nft_no_sessions());
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
    int64_t setup_ms = 0, policy_ms = 0, teardown_ms = 0;
    struct bh_net_rule allow[] = {rule("198.51.100.0/24", 8080), rule("203.0.113.0/24", 443)};
    for (int i = 0; i < N; i++) {
        test_id(ids[i], sizeof ids[i]);
        int64_t t0 = bh_mono_ms();
        CHECK(setup(ids[i], &s) == 0);
        int64_t t1 = bh_mono_ms();
        CHECK(apply(ids[i], i % 2 ? BH_NET_ALLOWLIST : BH_NET_INTERNET, allow, 2) == 0);
        policy_ms += bh_mono_ms() - t1;
        setup_ms += t1 - t0;
    }
    for (int i = 0; i < N; i++) {
        int64_t t0 = bh_mono_ms();
        CHECK(teardown(ids[i]) == 0);
        teardown_ms += bh_mono_ms() - t0;
    }
    printf("sequential: setup %.1f ms, policy %.1f ms, teardown %.1f ms per session\n",
           (double)setup_ms / N, (double)policy_ms / N, (double)teardown_ms / N);
    CHECK(nft_no_sessions());
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
    CHECK(!nft_table_exists("inet", TABLE) && !nft_table_exists("bridge", TABLE));
    CHECK(links_with_prefix("bhv" TEST_PREFIX) == 0);
    CHECK(entries_with_prefix("/run/netns", "bh-" TEST_PREFIX) == 0);
    CHECK(test_leases() == 0);
    /* teardown with no tables at all: nothing to remove, success */
    CHECK(bh_net_session_teardown(&cfg, TEST_PREFIX "0000gone", &e) == 0);
    bh_err_clear(&e);
}

int main(void)
{
    if (geteuid() != 0)
        return T_SKIP("needs root: network namespaces, veths, nftables");
    signal(SIGPIPE, SIG_IGN);
    /* One run per host at a time: runs share bhtest0, bhtest-unet and the
     * 7e57 ids (clean_leftovers() would take another run's sessions away). */
    int lock = open("/run/lock/bulkhead-test-net.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0 || flock(lock, LOCK_EX) < 0)
        perror("test_net: lock");
    /* and not beside an e2e suite, whose leak check would count our 7e57
     * namespaces and veths as its own leaks and remove them */
    int e2e = open("/run/lock/bulkhead-e2e.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (e2e < 0 || flock(e2e, LOCK_EX) < 0)
        perror("test_net: e2e lock");
    char *fwd = read_ip_forward();
    clean_leftovers();
    test_rule_parse();
    test_init();
    struct server world = {0};
    int world_ports[] = {P1, P2, PDNS};
    int up = unet_up() == 0;
    CHECK(up);
    if (up)
        CHECK(server_start(&world, "/run/netns/" UNET_NS, "0.0.0.0", world_ports, 3, PU) == 0);
    test_concurrent_setup();
    if (up && world.pid > 0) {
        test_connectivity(&world);
        test_conntrack();
        test_policies(&world);
    }
    test_failures();
    test_exhaustion();
    test_teardown();
    if (up && world.pid > 0) {
        test_operator(&world);
        test_crash_removal();
    }
    server_stop(&world);
    unet_down();
    test_sequential_timing();
    test_fini();
    clean_leftovers();
    CHECK(!path_exists("/run/netns/" UNET_NS) && !link_exists(UNET_VETH));
    write_ip_forward(fwd); /* leave the host as we found it */
    free(fwd);
    if (e2e >= 0)
        close(e2e);
    if (lock >= 0)
        close(lock);
    return T_DONE();
}
