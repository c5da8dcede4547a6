/* net_lease.c — see net_lease.h. A lease is one of lease.h:
 * /run/bulkhead/net/leases/<addr> -> the owning session id. */
#include "net/net_lease.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "net/conntrack.h"
#include "lib/lease.h"
#include "lib/log.h"
#include "lib/util.h"

#define LEASE_DIR "/run/bulkhead/net/leases"

/* Take the lowest free address from .2 up (the bridge has .1). */
int bh_net_lease_take(const struct subnet *sn, const char *id, uint32_t *out, bh_err_t *err)
{
    if (bh_mkdir_p(LEASE_DIR, 0700, err) < 0)
        return -1;
    uint32_t last = bh_net_subnet_broadcast(sn) - 1;
    for (uint32_t a = sn->net + 2; a <= last; a++) {
        char s[INET_ADDRSTRLEN];
        bh_net_addr_str(a, s);
        int r = bh_lease_try(LEASE_DIR, s, id, "lease", err);
        if (r < 0)
            return -1;
        if (r == 0) {
            *out = a;
            return 0;
        }
    }
    char s[INET_ADDRSTRLEN];
    bh_net_addr_str(sn->net, s);
    return bh_err_set(err, EADDRNOTAVAIL, "no free address in %s/%u", s, sn->prefix);
}

void bh_net_lease_drop(uint32_t a)
{
    char s[INET_ADDRSTRLEN];
    bh_net_addr_str(a, s);
    bh_lease_drop(LEASE_DIR, s);
}

/* Call fn(address, owner id) for every lease; fn returns 0 to go on. */
int bh_net_lease_each(int (*fn)(int dfd, const char *addr, const char *owner, void *data),
                      void *data, bh_err_t *err)
{
    return bh_lease_each(LEASE_DIR, fn, data, "release lease", err);
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
