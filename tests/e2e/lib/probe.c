/* probe.c — kernel attack-surface probes that the isolation suite runs inside
 * a session (runc/crun exec, so the container's seccomp filter applies) and,
 * as negative controls, on the host. Built static by the suite:
 *   cc -static -O2 -o probe probe.c
 * Each command prints one line, "ok ..." or "denied: <errno name> ..." (or
 * "killed by signal N"), and exits 0 when the operation succeeded, 1 when it
 * was refused, 2 on a usage error.
 *
 *   probe socket FAMILY TYPE PROTO        socket(2), the native call
 *   probe socketcall32 FAMILY TYPE PROTO  socketcall(SYS_SOCKET) through the
 *                                         32-bit ABI (int $0x80 from this
 *                                         64-bit process: seccomp sees
 *                                         AUDIT_ARCH_I386), in a child
 *   probe nft-newtable                    unshare(CLONE_NEWUSER|CLONE_NEWNET),
 *                                         then an nf_tables NEWTABLE batch
 *   probe userns                          unshare(CLONE_NEWUSER) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int denied(const char *what, int e)
{
    printf("denied: %s: %s (errno %d)\n", what, strerrorname_np(e) ? strerrorname_np(e) : "?", e);
    return 1;
}

static int cmd_socket(int family, int type, int proto)
{
    int fd = socket(family, type, proto);
    if (fd < 0)
        return denied("socket", errno);
    printf("ok socket %d\n", fd);
    return 0;
}

#if defined(__x86_64__)
/* socketcall(SYS_SOCKET, args) through the i386 entry point. The args must
 * sit below 4 GiB: the 32-bit ABI passes 32-bit pointers. */
static int cmd_socketcall32(int family, int type, int proto)
{
    uint32_t *args = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (args == MAP_FAILED)
        return denied("mmap", errno);
    args[0] = (uint32_t)family;
    args[1] = (uint32_t)type;
    args[2] = (uint32_t)proto;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        long ret;
        __asm__ volatile("int $0x80"
                         : "=a"(ret)
                         : "a"(102L /* __NR_socketcall (i386) */), "b"(1L /* SYS_SOCKET */),
                           "c"((long)(uintptr_t)args)
                         : "memory");
        int r = (int)ret;
        if (r < 0)
            _exit(denied("socketcall", -r));
        printf("ok socketcall %d\n", r);
        fflush(stdout);
        _exit(0);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return denied("fork", errno);
    if (WIFSIGNALED(st)) {
        printf("killed by signal %d (%s)\n", WTERMSIG(st), strsignal(WTERMSIG(st)));
        return 1;
    }
    return WEXITSTATUS(st) == 0 ? 0 : 1;
}
#endif

/* Append a netlink attribute to the message at buf. */
static void put_attr(struct nlmsghdr *n, unsigned short type, const void *data, size_t len)
{
    struct nlattr *a = (struct nlattr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));
    a->nla_type = type;
    a->nla_len = (unsigned short)(NLA_HDRLEN + len);
    memcpy((char *)a + NLA_HDRLEN, data, len);
    n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + NLA_ALIGN(a->nla_len);
}

static struct nlmsghdr *put_msg(char *buf, size_t *off, uint16_t type, uint16_t flags,
                                uint8_t family, uint16_t res_id, uint32_t seq)
{
    struct nlmsghdr *n = (struct nlmsghdr *)(buf + *off);
    memset(n, 0, NLMSG_HDRLEN + sizeof(struct nfgenmsg));
    n->nlmsg_len = NLMSG_LENGTH(sizeof(struct nfgenmsg));
    n->nlmsg_type = type;
    n->nlmsg_flags = NLM_F_REQUEST | flags;
    n->nlmsg_seq = seq;
    struct nfgenmsg *g = NLMSG_DATA(n);
    g->nfgen_family = family;
    g->version = NFNETLINK_V0;
    g->res_id = htons(res_id);
    return n;
}

static int cmd_nft_newtable(void)
{
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
        return denied("unshare(CLONE_NEWUSER|CLONE_NEWNET)", errno);
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0)
        return denied("socket(AF_NETLINK, NETLINK_NETFILTER)", errno);
    static char buf[8192] __attribute__((aligned(8)));
    size_t off = 0;
    struct nlmsghdr *n = put_msg(buf, &off, NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC,
                                 NFNL_SUBSYS_NFTABLES, 1);
    off += NLMSG_ALIGN(n->nlmsg_len);
    n = put_msg(buf, &off, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_ACK,
                NFPROTO_INET, 0, 2);
    put_attr(n, NFTA_TABLE_NAME, "bhprobe", sizeof "bhprobe");
    off += NLMSG_ALIGN(n->nlmsg_len);
    n = put_msg(buf, &off, NFNL_MSG_BATCH_END, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES, 3);
    off += NLMSG_ALIGN(n->nlmsg_len);
    struct sockaddr_nl to = {.nl_family = AF_NETLINK};
    if (sendto(fd, buf, off, 0, (struct sockaddr *)&to, sizeof to) < 0)
        return denied("send NEWTABLE", errno);
    char rbuf[8192] __attribute__((aligned(8)));
    ssize_t got = recv(fd, rbuf, sizeof rbuf, 0);
    if (got < 0)
        return denied("recv", errno);
    for (struct nlmsghdr *r = (struct nlmsghdr *)rbuf; NLMSG_OK(r, (size_t)got);
         r = NLMSG_NEXT(r, got)) {
        if (r->nlmsg_type != NLMSG_ERROR)
            continue;
        int e = -((struct nlmsgerr *)NLMSG_DATA(r))->error;
        if (e)
            return denied("nf_tables NEWTABLE", e);
        printf("ok nf_tables NEWTABLE accepted in a new user+network namespace\n");
        return 0;
    }
    printf("denied: no answer to NEWTABLE\n");
    return 1;
}

static int cmd_userns(void)
{
    if (unshare(CLONE_NEWUSER) < 0)
        return denied("unshare(CLONE_NEWUSER)", errno);
    printf("ok unshare(CLONE_NEWUSER)\n");
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 5 && !strcmp(argv[1], "socket"))
        return cmd_socket(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
#if defined(__x86_64__)
    if (argc == 5 && !strcmp(argv[1], "socketcall32"))
        return cmd_socketcall32(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
#endif
    if (argc == 2 && !strcmp(argv[1], "nft-newtable"))
        return cmd_nft_newtable();
    if (argc == 2 && !strcmp(argv[1], "userns"))
        return cmd_userns();
    fprintf(stderr, "usage: probe socket|socketcall32 FAMILY TYPE PROTO | nft-newtable | userns\n");
    return 2;
}
