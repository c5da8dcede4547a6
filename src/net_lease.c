/* net_lease.c — see net_lease.h.
 *
 * /run/bulkhead/net/leases/<addr> is a symlink whose target is the
 * owning session id. symlink() is atomic and fails when the name exists, so
 * it is the lock between threads and processes, it can never be left empty
 * by a crash, and it survives the daemon so recovery can free it. */
#include "net_lease.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conntrack.h"
#include "log.h"
#include "util.h"

#define LEASE_DIR "/run/bulkhead/net/leases"

/* Take the lowest free address from .2 up (the bridge has .1). */
int bh_net_lease_take(const struct subnet *sn, const char *id, uint32_t *out, bh_err_t *err)
{
    if (bh_mkdir_p(LEASE_DIR, 0700, err) < 0)
        return -1;
    uint32_t last = bh_net_subnet_broadcast(sn) - 1;
    for (uint32_t a = sn->net + 2; a <= last; a++) {
        char s[INET_ADDRSTRLEN], path[sizeof LEASE_DIR + INET_ADDRSTRLEN];
        bh_net_addr_str(a, s);
        snprintf(path, sizeof path, "%s/%s", LEASE_DIR, s);
        if (symlink(id, path) == 0) {
            *out = a;
            return 0;
        }
        if (errno != EEXIST)
            return bh_err_set(err, errno, "lease %s", path);
    }
    char s[INET_ADDRSTRLEN];
    bh_net_addr_str(sn->net, s);
    return bh_err_set(err, EADDRNOTAVAIL, "no free address in %s/%u", s, sn->prefix);
}

void bh_net_lease_drop(uint32_t a)
{
    char s[INET_ADDRSTRLEN], path[sizeof LEASE_DIR + INET_ADDRSTRLEN];
    bh_net_addr_str(a, s);
    snprintf(path, sizeof path, "%s/%s", LEASE_DIR, s);
    unlink(path);
}

/* Call fn(address, owner id) for every lease; fn returns 0 to go on. */
int bh_net_lease_each(int (*fn)(int dfd, const char *addr, const char *owner, void *data),
                      void *data, bh_err_t *err)
{
    DIR *d = opendir(LEASE_DIR);
    if (!d)
        return errno == ENOENT ? 0 : bh_err_set(err, errno, "open %s", LEASE_DIR);
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char owner[ID_MAX + 2];
        ssize_t n = readlinkat(dirfd(d), de->d_name, owner, sizeof owner - 1);
        if (n <= 0)
            continue;
        owner[n] = 0;
        rc = fn(dirfd(d), de->d_name, owner, data);
    }
    closedir(d);
    return rc < 0 ? bh_err_set(err, -rc, "release lease") : 0;
}

/* Free the lease on `addr` if `owner` is the id in data, cleaning the
 * address of conntrack state first (see conntrack.c): while the lease is
 * held no other session can get the address, so nothing new can appear
 * under it once the session's veth is gone. A failed flush is logged; the
 * lease is freed all the same. */
static int lease_free_cb(int dfd, const char *addr, const char *owner, void *data)
{
    if (strcmp(owner, data) != 0)
        return 0;
    struct in_addr a;
    if (inet_pton(AF_INET, addr, &a) == 1) {
        bh_err_t e = BH_ERR_INIT;
        if (bh_conntrack_flush(ntohl(a.s_addr), &e) < 0)
            bh_log(BH_LOG_WARN, owner, "network teardown: %s", bh_err_msg(&e));
        bh_err_clear(&e);
    }
    if (unlinkat(dfd, addr, 0) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

int bh_net_lease_free(const char *id, bh_err_t *err)
{
    return bh_net_lease_each(lease_free_cb, (void *)id, err);
}
