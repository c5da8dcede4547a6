/* fuzz.h — what the libFuzzer harnesses share (tests/fuzz/fuzz_*.c, built
 * by `make fuzz` with clang, ASan and UBSan; docs/fuzzing.md). Each harness
 * drives the project's real code on one input; nothing here stands in for
 * the code under test. */
#ifndef BH_FUZZ_H
#define BH_FUZZ_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a NUL-terminated string (it may hold NULs of its own, as an
 * attacker's bytes may). Caller frees. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = bh_xmalloc(size + 1);
    if (size)
        memcpy(s, data, size);
    s[size] = 0;
    return s;
}

/* Split off the next part of the input, up to a '\n' (or its end): the
 * harnesses that take several strings read them this way. */
static inline char *fuzz_part(const uint8_t **data, size_t *size)
{
    const uint8_t *nl = *size ? memchr(*data, '\n', *size) : NULL;
    size_t n = nl ? (size_t)(nl - *data) : *size;
    char *s = fuzz_cstr(*data, n);
    *data += nl ? n + 1 : n;
    *size -= nl ? n + 1 : n;
    return s;
}

/* A TCP connection to 127.0.0.1:port, or -1. Signals (libFuzzer's timer)
 * may interrupt connect(): the connection then completes on its own. */
static inline int fuzz_dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
        return fd;
    if (errno != EINTR && errno != EINPROGRESS) {
        perror("fuzz: connect");
        return -1;
    }
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int e = 0;
    socklen_t el = sizeof e;
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e) {
        fprintf(stderr, "fuzz: connect: %s\n", strerror(e));
        return -1;
    }
    return fd;
}

/* Send all of data (blocking socket); 0, or -1 when the peer is gone. */
static inline int fuzz_send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

#endif
