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
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "api/auth.h"
#include "kinds/browser/cdp_proxy.h"
#include "http/http.h"
#include "kinds/browser/live.h"
#include "lib/util.h"

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

/* A keyring with the admin's token "bhk_admin" and a user's token
 * "bhk_user" (id user_id, at most 3 sessions). */
static inline bh_keyring_t *fuzz_keyring(const char *user_id)
{
    bh_keyring_t *keys = bh_keyring_new();
    char hash[BH_HASH_HEX];
    bh_sha256_hex("bhk_admin", 9, hash);
    bh_keyring_put(keys, BH_ADMIN_ID, BH_ADMIN_ID, BH_ROLE_ADMIN, hash, 0);
    bh_sha256_hex("bhk_user", 8, hash);
    bh_keyring_put(keys, user_id, "user", BH_ROLE_USER, hash, 3);
    return keys;
}

/* A real HTTP front as hc says (the harnesses listen on 127.0.0.1, port
 * 0), on a loop of its own (bh_http_loop); aborts, naming the harness, if
 * it cannot listen. */
static inline bh_http_t *fuzz_http_new(const char *name, const struct bh_http_config *hc,
                                       const struct bh_http_handlers *hh)
{
    bh_err_t err = BH_ERR_INIT;
    bh_loop_t *loop = bh_loop_new(NULL, &err);
    bh_http_t *http = loop ? bh_http_new(loop, hc, hh, NULL, &err) : NULL;
    if (!http) {
        fprintf(stderr, "%s: %s\n", name, bh_err_msg(&err));
        abort();
    }
    return http;
}

/* A request handler that answers every request (and upgrade) 404. */
static inline void fuzz_not_found(void *ctx, bh_req_t *req)
{
    (void)ctx;
    bh_req_reply(req, 404, "text/plain", "", 0, NULL);
}

/* A browser event offered to a session's consumers as session.c does: the
 * CDP proxy first (events for its clients' sessions), else the live view.
 * Either may be NULL. */
static inline void fuzz_offer_event(bh_cdp_proxy_t *proxy, bh_live_t *live, json_t *msg)
{
    if (proxy && bh_cdp_proxy_event(proxy, msg))
        return;
    if (live)
        bh_live_event(live, msg);
}

#endif
