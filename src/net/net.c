/* net.c — see net.h: the host bridge (init, fini), each session's
 * namespace and veth pair (setup, teardown), and the listing for recovery.
 * The other network modules, lowest first: net_names (names, the subnet),
 * rtnl (netlink), conntrack, net_lease (address leases), net_rules (rules
 * and the public-space check), nft (running nft scripts), net_policy (the
 * egress policy in nftables).
 *
 * Threads. Every function may run in any thread, concurrently with the others.
 * The calling thread never changes its network namespace: a session namespace
 * is made by a short-lived helper thread that unshares its own netns (or
 * joins the container's), pins it with a bind mount on /run/netns/bh-<id>
 * and opens a netlink socket in it, then exits. The caller configures the
 * namespace through that socket (a netlink socket stays in the netns it was
 * created in). Each call opens its own netlink sockets; libnftables runs
 * under one process-wide mutex with one context kept for the process.
 *
 * Ownership tags. A host veth is named "bhv" + the first 12 characters of the
 * id (IFNAMSIZ), so two ids may share a name; the host side carries the full
 * id as its ifalias and teardown deletes only a veth whose alias is its id.
 *
 * Order of setup: lease, netns, veth (its peer's MAC derived from the
 * address; an isolated bridge port), address, route; then the policy's nft
 * elements. Teardown undoes them in reverse: rules first, lease last (its
 * address's conntrack entries just before it, see conntrack.c). A crash
 * in between leaves a lease or a netns named after the id, and bh_net_list()
 * reports both, so recovery can finish the teardown (while a session has
 * rules it has its lease, which names its address).
 *
 * Egress policy: see net_policy.c for the layout. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "net/net.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/net_lease.h"
#include "net/net_names.h"
#include "net/net_policy.h"
#include "net/rtnl.h"
#include "lib/util.h"

/* ------------------------------------------------------------------ */
/* Bridge: init / fini                                                 */
/* ------------------------------------------------------------------ */

int bh_net_init(const struct bh_net_config *cfg, bh_err_t *err)
{
    struct subnet sn;
    if (bh_net_check_config(cfg, &sn, err) < 0)
        return bh_err_wrap(err, "net init");
    struct bh_nl nl;
    if (bh_rtnl_open(&nl, err) < 0)
        return bh_err_wrap(err, "net init");
    struct bh_link_info br;
    int rc = bh_rtnl_bridge_ensure(&nl, cfg->bridge, err);
    if (rc == 0)
        rc = bh_rtnl_link_get(&nl, cfg->bridge, &br, err);
    if (rc == 0)
        rc = bh_rtnl_addr_add(&nl, br.index, sn.net + 1, &sn, 1, err);
    bh_rtnl_close(&nl);
    if (rc < 0)
        return bh_err_wrap(err, "net init");
    /* In place: bh_write_file's tmp + rename does not work in /proc. */
    cleanup_close int fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "1\n", 2) != 2)
        return bh_err_set(err, errno, "net init: enable net.ipv4.ip_forward");
    if (bh_net_policy_init(cfg, &sn, err) < 0)
        return bh_err_wrap(err, "net init");
    return 0;
}

int bh_net_fini(const struct bh_net_config *cfg, bh_err_t *err)
{
    struct subnet sn;
    if (bh_net_check_config(cfg, &sn, err) < 0)
        return bh_err_wrap(err, "net fini");
    struct bh_nl nl;
    if (bh_rtnl_open(&nl, err) < 0)
        return bh_err_wrap(err, "net fini");
    struct bh_link_info br;
    bh_err_t e = BH_ERR_INIT;
    int rc = 0, have_bridge = bh_rtnl_link_get(&nl, cfg->bridge, &br, &e) == 0;
    if (!have_bridge && e.errnum != ENODEV)
        rc = bh_err_set(err, e.errnum, "%s", bh_err_msg(&e));
    bh_err_clear(&e);
    if (rc == 0 && have_bridge) {
        int ports = bh_rtnl_bridge_ports(&nl, br.index, err);
        if (ports > 0)
            rc = bh_err_set(err, EBUSY, "bridge %s still has %d session link(s)", cfg->bridge,
                            ports);
        else if (ports < 0)
            rc = -1;
    }
    if (rc == 0 && bh_net_policy_fini(cfg, err) < 0)
        rc = -1;
    if (rc == 0 && have_bridge)
        rc = bh_rtnl_link_del(&nl, cfg->bridge, err);
    bh_rtnl_close(&nl);
    return rc < 0 ? bh_err_wrap(err, "net fini") : 0;
}

/* ------------------------------------------------------------------ */
/* Namespaces                                                          */
/* ------------------------------------------------------------------ */

/* /run/netns as a shared mount point, as `ip netns add` makes it: bind mounts
 * of namespaces then propagate to (and their unmounts from) mount namespaces
 * created later, so a container cannot keep a session's netns pinned. */
static pthread_mutex_t netns_dir_lock = PTHREAD_MUTEX_INITIALIZER;
static int netns_dir_done;

static int netns_dir_ready(bh_err_t *err)
{
    pthread_mutex_lock(&netns_dir_lock);
    int rc = 0;
    if (!netns_dir_done) {
        rc = bh_mkdir_p(NETNS_DIR, 0755, err);
        if (rc == 0 && mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL) < 0) {
            if (errno != EINVAL) /* EINVAL: not a mount point yet */
                rc = bh_err_set(err, errno, "make %s shared", NETNS_DIR);
            else if (mount(NETNS_DIR, NETNS_DIR, "none", MS_BIND | MS_REC, NULL) < 0)
                rc = bh_err_set(err, errno, "bind mount %s", NETNS_DIR);
            else if (mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL) < 0)
                rc = bh_err_set(err, errno, "make %s shared", NETNS_DIR);
        }
        netns_dir_done = rc == 0;
    }
    pthread_mutex_unlock(&netns_dir_lock);
    return rc;
}

/* Work of the helper thread that makes a namespace. */
struct ns_job {
    const char *path; /* in: existing empty file to bind the netns on */
    int src;          /* in: a netns to use instead of a new one; -1 = new */
    int fd;           /* out: the netns */
    struct bh_nl nl;  /* out: rtnetlink socket inside it */
    bh_err_t err;
    int rc;
};

static void *ns_create_thread(void *arg)
{
    struct ns_job *job = arg;
    job->rc = -1;
    if (job->src >= 0 ? setns(job->src, CLONE_NEWNET) < 0 : unshare(CLONE_NEWNET) < 0) {
        bh_err_set(&job->err, errno, "%s",
                   job->src >= 0 ? "setns(CLONE_NEWNET)" : "unshare(CLONE_NEWNET)");
        return NULL;
    }
    /* Sessions are IPv4 only: links made in this netns from now on (eth0)
     * get no IPv6 at all, so no link-local address, router solicitation or
     * any other IPv6 packet leaves. lo keeps ::1. /proc/sys/net is that of
     * the calling thread's netns. Best effort: a kernel without IPv6 has no
     * such file, and the bridge drops IPv6 from session ports anyway. */
    int v6 = open("/proc/sys/net/ipv6/conf/default/disable_ipv6", O_WRONLY | O_CLOEXEC);
    if (v6 >= 0) {
        if (write(v6, "1\n", 2) != 2) {
            /* ignored: see above */
        }
        close(v6);
    }
    if (mount("/proc/thread-self/ns/net", job->path, "none", MS_BIND, NULL) < 0) {
        bh_err_set(&job->err, errno, "bind netns on %s", job->path);
        return NULL;
    }
    job->fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (job->fd < 0) {
        bh_err_set(&job->err, errno, "open netns");
        umount2(job->path, MNT_DETACH);
        return NULL;
    }
    if (bh_rtnl_open(&job->nl, &job->err) < 0) {
        bh_closep(&job->fd);
        umount2(job->path, MNT_DETACH);
        return NULL;
    }
    job->rc = 0;
    return NULL;
}

/* A new netns (pid 0) or the netns of process pid, bound on `path` (which
 * must not exist). On success *fd is the netns and *nl a netlink socket in
 * it; on failure nothing is left. */
static int netns_create(const char *path, pid_t pid, int *fd, struct bh_nl *nl, bh_err_t *err)
{
    if (netns_dir_ready(err) < 0)
        return -1;
    cleanup_close int src = -1;
    if (pid > 0) {
        char p[64];
        snprintf(p, sizeof p, "/proc/%d/ns/net", (int)pid);
        if ((src = open(p, O_RDONLY | O_CLOEXEC)) < 0)
            return bh_err_set(err, errno, "open %s", p);
    }
    int f = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (f < 0)
        return bh_err_set(err, errno, "create %s", path);
    close(f);
    struct ns_job job = {.path = path, .src = src, .fd = -1, .err = BH_ERR_INIT, .rc = -1};
    pthread_t th;
    int e = pthread_create(&th, NULL, ns_create_thread, &job);
    if (e != 0) {
        unlink(path);
        return bh_err_set(err, e, "netns helper thread");
    }
    pthread_join(th, NULL);
    if (job.rc < 0) {
        unlink(path);
        bh_err_set(err, job.err.errnum, "%s", bh_err_msg(&job.err));
        bh_err_clear(&job.err);
        return -1;
    }
    *fd = job.fd;
    *nl = job.nl;
    return 0;
}

/* Unmount and remove a netns file; a missing or unmounted one is success. */
static int netns_remove(const char *path, bh_err_t *err)
{
    if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        return bh_err_set(err, errno, "unmount %s", path);
    if (unlink(path) < 0 && errno != ENOENT)
        return bh_err_set(err, errno, "remove %s", path);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Sessions                                                            */
/* ------------------------------------------------------------------ */

/* Inside the new netns: lo and PEER_NAME up, address, default route. */
static int netns_configure(struct bh_nl *nl, uint32_t addr, const struct subnet *sn, bh_err_t *err)
{
    struct bh_link_info eth;
    if (bh_rtnl_link_up(nl, "lo", 1 /* LOOPBACK_IFINDEX */, err) < 0 ||
        bh_rtnl_link_get(nl, PEER_NAME, &eth, err) < 0 ||
        bh_rtnl_link_up(nl, PEER_NAME, eth.index, err) < 0 ||
        bh_rtnl_addr_add(nl, eth.index, addr, sn, 0, err) < 0 ||
        bh_rtnl_route_add_default(nl, eth.index, sn->net + 1, err) < 0)
        return -1;
    return 0;
}

int bh_net_session_setup(const struct bh_net_config *cfg, const char *id, pid_t pid,
                         struct bh_net_session *out, bh_err_t *err)
{
    struct subnet sn;
    if (bh_net_check_config(cfg, &sn, err) < 0 || bh_net_check_id(id, err) < 0)
        return bh_err_wrap(err, "net setup");
    struct bh_net_session s;
    bh_net_session_names(id, &s);

    struct bh_nl host, ns = {0};
    if (bh_rtnl_open(&host, err) < 0)
        return bh_err_wrap(err, "net setup %s", id);
    struct bh_link_info br;
    if (bh_rtnl_link_get(&host, cfg->bridge, &br, err) < 0) {
        bh_rtnl_close(&host);
        return bh_err_wrap(err, "net setup %s: bridge (bh_net_init not run?)", id);
    }

    /* Each step records what it made so a failure undoes exactly that: never
     * a netns, veth or lease of another call that happens to share a name. */
    uint32_t addr = 0;
    int have_lease = 0, have_netns = 0, have_veth = 0, nsfd = -1;
    int rc = bh_net_lease_take(&sn, id, &addr, err);
    have_lease = rc == 0;
    if (rc == 0)
        rc = netns_create(s.netns_path, pid, &nsfd, &ns, err);
    have_netns = rc == 0;
    uint8_t mac[6];
    bh_net_session_mac(addr, mac);
    if (rc == 0)
        rc = bh_rtnl_veth_create(&host, s.veth_host, br.index, br.mtu, nsfd, mac, err);
    have_veth = rc == 0;
    if (rc == 0)
        rc = bh_rtnl_port_tag(&host, s.veth_host, id, err);
    if (rc == 0)
        rc = netns_configure(&ns, addr, &sn, err);
    bh_closep(&nsfd);
    bh_rtnl_close(&ns);

    if (rc < 0) {
        if (have_veth)
            bh_rtnl_link_del(&host, s.veth_host, NULL);
        if (have_netns)
            netns_remove(s.netns_path, NULL);
        if (have_lease)
            bh_net_lease_drop(addr);
        bh_rtnl_close(&host);
        return bh_err_wrap(err, "net setup %s", id);
    }
    bh_rtnl_close(&host);
    bh_net_addr_str(addr, s.addr);
    *out = s;
    return 0;
}

int bh_net_session_teardown(const struct bh_net_config *cfg, const char *id, bh_err_t *err)
{
    struct subnet sn;
    if (bh_net_check_config(cfg, &sn, err) < 0 || bh_net_check_id(id, err) < 0)
        return bh_err_wrap(err, "net teardown");
    struct bh_net_session s;
    bh_net_session_names(id, &s);

    struct bh_nl host;
    if (bh_rtnl_open(&host, err) < 0)
        return bh_err_wrap(err, "net teardown %s", id);
    struct bh_link_info veth;
    bh_err_t e = BH_ERR_INIT;
    int rc = 0, have_veth = 0, ours = 1;
    if (bh_rtnl_link_get(&host, s.veth_host, &veth, &e) == 0) {
        /* Only our own: another id may share the 12-char name. An empty
         * alias is a crash between veth creation and tagging. */
        have_veth = 1;
        ours = !veth.alias[0] || !strcmp(veth.alias, id);
    } else if (e.errnum != ENODEV) {
        rc = bh_err_set(err, e.errnum, "%s", bh_err_msg(&e));
    }
    bh_err_clear(&e);
    /* Rules first, the lease last: while any rule of the session is left,
     * its lease (which names its address) is too. */
    if (rc == 0)
        rc = bh_net_policy_remove(cfg, id, s.veth_host, ours, err);
    if (rc == 0 && have_veth && ours)
        rc = bh_rtnl_link_del(&host, s.veth_host, err);
    bh_rtnl_close(&host);
    if (rc == 0)
        rc = netns_remove(s.netns_path, err);
    if (rc == 0)
        rc = bh_net_lease_free(id, err);
    return rc < 0 ? bh_err_wrap(err, "net teardown %s", id) : 0;
}

/* ------------------------------------------------------------------ */
/* Listing                                                             */
/* ------------------------------------------------------------------ */

struct id_list {
    char **v;
    int n, cap;
};

static void id_list_add(struct id_list *l, const char *id)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], id))
            return;
    if (l->n + 1 >= l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        char **nv = realloc(l->v, (size_t)l->cap * sizeof *nv);
        if (!nv)
            abort();
        l->v = nv;
    }
    l->v[l->n++] = bh_xstrdup(id);
    l->v[l->n] = NULL;
}

static int list_lease_cb(int dfd, const char *addr, const char *owner, void *data)
{
    (void)dfd;
    (void)addr;
    if (bh_net_check_id(owner, NULL) == 0)
        id_list_add(data, owner);
    return 0;
}

int bh_net_list(char ***ids, bh_err_t *err)
{
    struct id_list l = {0};
    DIR *d = opendir(NETNS_DIR);
    if (!d && errno != ENOENT)
        return bh_err_set(err, errno, "net list: open %s", NETNS_DIR);
    if (d) {
        struct dirent *de;
        size_t plen = strlen(NETNS_PREFIX);
        while ((de = readdir(d)))
            if (!strncmp(de->d_name, NETNS_PREFIX, plen) &&
                bh_net_check_id(de->d_name + plen, NULL) == 0)
                id_list_add(&l, de->d_name + plen);
        closedir(d);
    }
    if (bh_net_lease_each(list_lease_cb, &l, err) < 0) {
        for (int i = 0; i < l.n; i++)
            free(l.v[i]);
        free(l.v);
        return bh_err_wrap(err, "net list");
    }
    if (!l.v)
        l.v = bh_xcalloc(1, sizeof *l.v);
    *ids = l.v;
    return l.n;
}
