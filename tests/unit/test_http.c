/* test_http.c — the HTTP front against a raw client on loopback. Input
 * pipelined behind a request wedged the event loop (the library spun for
 * ever in its buffered-input service, every other connection, session pipe
 * and timer of the daemon starved) and made it read freed memory: now a
 * connection carries one request, its reply says "connection: close", what
 * followed the request is never parsed, and the loop still answers a fresh
 * connection afterwards. The loop is driven pass by
 * pass (bh_loop_step), so "wedged" is "no answer within 20000 passes", not
 * a time; a pass that never returns (the library spinning inside it) is
 * caught by a watchdog, which fails the test.
 *
 * Streams: a 64 MiB PUT read by a handler that pauses and resumes (every
 * byte checked against the pattern sent, a checksum, and the client blocked
 * while the handler holds the body paused: the server does not read ahead);
 * 64 MiB streamed replies with a length and chunked, checked byte by byte by
 * the client, then the next request on the same connection (keep-alive);
 * clients that leave mid-download and mid-upload (on_gone, writes refused,
 * nothing leaks under ASan); a request pipelined behind a stream; a PUT over
 * the cap that does not stream still 413. Throughput on loopback is printed,
 * not asserted. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "lib/loop.h"
#include "t.h"

static bh_http_t *http;
static bh_loop_t *loop;
static int port;
static int requests;
static char last[8192]; /* what the last exchange received */

/* ---------------------------------------------------------------- streams */

#define MIB (1024ull * 1024)

/* The byte at offset i of every streamed body. */
static unsigned char pat(unsigned long long i)
{
    return (unsigned char)(i * 7 + (i >> 12) + (i >> 20));
}

static void pat_fill(unsigned char *b, unsigned long long off, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = pat(off + i);
}

/* FNV-1a over the bytes, carried across pieces. */
static uint32_t fnv(uint32_t h, const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The upload handler's view of a streamed PUT /up. */
static struct {
    bh_req_t *req;
    unsigned long long got, bad; /* bytes read; bytes not as sent */
    uint32_t sum;
    unsigned long long pause_every, next_pause; /* 0: never pause */
    int paused, pauses;
    int data_while_paused, data_after_end;
    int ended, gone;
} up;

static int up_data(void *arg, const char *data, size_t len)
{
    (void)arg;
    if (up.paused)
        up.data_while_paused++;
    if (up.ended)
        up.data_after_end++;
    const unsigned char *d = (const unsigned char *)data;
    for (size_t i = 0; i < len; i++)
        if (d[i] != pat(up.got + i))
            up.bad++;
    up.sum = fnv(up.sum, d, len);
    up.got += len;
    if (up.pause_every && up.got >= up.next_pause) {
        bh_req_body_pause(up.req, 1);
        up.paused = 1;
        up.pauses++;
        up.next_pause += up.pause_every;
    }
    return 0;
}

static void up_end(void *arg)
{
    (void)arg;
    up.ended = 1;
    bh_req_reply(up.req, 200, "text/plain", "ok", 2, NULL);
    up.req = NULL;
}

static void up_gone(void *arg)
{
    (void)arg;
    up.gone = 1;
    bh_req_reply(up.req, 500, "text/plain", "gone", 4, NULL); /* frees it */
    up.req = NULL;
}

static const struct bh_body_reader up_reader = {.data = up_data, .end = up_end};

/* The download handler's view of a streamed GET /dl?n=BYTES[&chunked=1]. */
static struct {
    bh_req_t *req;
    unsigned long long total, queued;
    size_t max_queued; /* the most it had queued */
    int drains, gone, write_after_gone;
    int ended;
    int stall; /* writes nothing */
} dl;

/* Write more once what was queued is out: the handler keeps at most 1 MiB
 * queued. */
static void dl_drained(void *arg)
{
    (void)arg;
    static unsigned char piece[256 * 1024];
    dl.drains++;
    if (dl.stall)
        return;
    while (dl.req && !dl.gone && dl.queued < dl.total && bh_req_stream_queued(dl.req) < MIB) {
        size_t n = dl.total - dl.queued < sizeof piece ? (size_t)(dl.total - dl.queued)
                                                       : sizeof piece;
        pat_fill(piece, dl.queued, n);
        if (bh_req_stream_write(dl.req, piece, n) < 0)
            return;
        dl.queued += n;
        if (bh_req_stream_queued(dl.req) > dl.max_queued)
            dl.max_queued = bh_req_stream_queued(dl.req);
    }
    if (dl.req && !dl.gone && dl.queued == dl.total) {
        dl.ended = 1;
        bh_req_stream_end(dl.req);
        dl.req = NULL;
    }
}

static void dl_gone(void *arg)
{
    (void)arg;
    dl.gone = 1; /* the test checks that writes are refused, then ends it */
}

static int streams(void *ctx, bh_req_t *req)
{
    (void)ctx;
    return !strncmp(bh_req_path(req), "/up", 3);
}

static void request(void *ctx, bh_req_t *req)
{
    (void)ctx;
    requests++;
    if (!strcmp(bh_req_path(req), "/up")) {
        up.req = req;
        bh_req_on_gone(req, up_gone, NULL);
        bh_req_read_body(req, &up_reader, NULL);
        return;
    }
    if (!strcmp(bh_req_path(req), "/dl")) {
        const char *n = bh_req_query(req, "n"), *ch = bh_req_query(req, "chunked");
        dl.req = req;
        dl.total = n ? strtoull(n, NULL, 10) : 0;
        dl.stall = bh_req_query(req, "stall") != NULL;
        bh_req_on_gone(req, dl_gone, NULL);
        CHECK(bh_req_stream_start(req, 200, "application/octet-stream",
                                  ch ? -1 : (long long)dl.total, NULL, dl_drained, NULL) == 0);
        CHECK(bh_req_stream_start(req, 200, NULL, 0, NULL, NULL, NULL) == -1); /* once */
        return;
    }
    bh_req_reply(req, 200, "text/plain", "ok", 2, NULL);
}

static void upgrade(void *ctx, bh_req_t *req) { request(ctx, req); }

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        perror("connect");
    return fd;
}

/* Send req on fd, then run the loop until `replies` whole answers (200,
 * body "ok") came back or the server closed fd. Returns the replies seen, or -1 if the
 * loop ran 20000 passes without getting there (wedged). */
static int exchange(int fd, const char *req, int replies)
{
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0)
        return -2;
    char buf[8192];
    size_t len = 0;
    for (int pass = 0; pass < 20000; pass++) {
        bh_loop_wake(loop);
        bh_loop_step(loop);
        ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, MSG_DONTWAIT);
        if (n > 0)
            len += (size_t)n;
        buf[len] = 0;
        memcpy(last, buf, len + 1);
        int seen = 0;
        for (char *p = buf; (p = strstr(p, "HTTP/1.1 200")); p++)
            if (strstr(p, "\r\n\r\nok"))
                seen++;
        if (seen >= replies || n == 0)
            return seen;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return seen;
    }
    fprintf(stderr, "after 20000 passes: %zu bytes: %.300s\n", len, buf);
    return -1;
}

/* Send req on a fresh connection, then run the loop until the server
 * closes it (or 200000 passes). Returns the bytes received (in `last`,
 * up to its size), -1 if the connection was not closed. */
static long until_closed(const char *req, size_t len)
{
    int fd = dial();
    if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    long total = 0;
    size_t kept = 0;
    char buf[65536];
    for (int pass = 0; pass < 200000; pass++) {
        bh_loop_wake(loop);
        bh_loop_step(loop);
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            size_t k = (size_t)n < sizeof last - 1 - kept ? (size_t)n : sizeof last - 1 - kept;
            memcpy(last + kept, buf, k);
            kept += k;
            last[kept] = 0;
            total += n;
        } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            close(fd);
            return total;
        }
    }
    close(fd);
    return -1;
}

/* Send all of s on fd (1), or fail (0). */
static int send_str(int fd, const char *s)
{
    return send(fd, s, strlen(s), MSG_NOSIGNAL) == (ssize_t)strlen(s);
}

/* One loop pass that does not wait. */
static void pass_once(void)
{
    bh_loop_wake(loop);
    bh_loop_step(loop);
}

/* PUT /up (streamed) or another path, with a body of len pattern bytes; the
 * client closes after abort_at body bytes if abort_at is not 0. Returns the
 * status of the reply (0: none, the connection closed; -1: wedged). With
 * hold_check, the first pause is held until the client's sends block, and
 * the result of that check is put in *held_ok. */
static int put_stream(const char *path, unsigned long long len, unsigned long long abort_at,
                      int hold_check, int *held_ok, double *secs)
{
    static unsigned char buf[256 * 1024];
    char head[256];
    int hl = snprintf(head, sizeof head,
                      "PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: %llu\r\n\r\n", path, len);
    int fd = dial();
    if (send(fd, head, (size_t)hl, MSG_NOSIGNAL) != hl) {
        close(fd);
        return -2;
    }
    unsigned long long sent = 0;
    size_t boff = 0, blen = 0;
    char reply[4096];
    size_t rlen = 0;
    int status = -1, held = 0, resume_in = 0;
    double t0 = now_s();
    for (long pass = 0; pass < 20000000; pass++) {
        /* send what the socket takes */
        while (sent < len && (!abort_at || sent < abort_at)) {
            if (boff == blen) {
                blen = len - sent < sizeof buf ? (size_t)(len - sent) : sizeof buf;
                if (abort_at && abort_at - sent < blen)
                    blen = (size_t)(abort_at - sent);
                pat_fill(buf, sent, blen);
                boff = 0;
            }
            ssize_t n = send(fd, buf + boff, blen - boff, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n <= 0)
                break;
            boff += (size_t)n;
            sent += (unsigned long long)n;
        }
        if (abort_at && sent >= abort_at) {
            close(fd);
            return 0;
        }
        /* the handler paused: hold it until the client is blocked, check
         * that it stays blocked (the server reads nothing), then resume */
        if (up.paused && up.req) {
            if (hold_check && !held) {
                held = 1;
                unsigned long long got = up.got;
                int blocked = 0;
                for (int i = 0; i < 200000 && !blocked; i++) {
                    pass_once();
                    ssize_t n = 1;
                    while (sent < len && n > 0) {
                        if (boff == blen) {
                            blen = len - sent < sizeof buf ? (size_t)(len - sent) : sizeof buf;
                            pat_fill(buf, sent, blen);
                            boff = 0;
                        }
                        n = send(fd, buf + boff, blen - boff, MSG_DONTWAIT | MSG_NOSIGNAL);
                        if (n > 0) {
                            boff += (size_t)n;
                            sent += (unsigned long long)n;
                        }
                    }
                    blocked = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
                }
                for (int i = 0; i < 500; i++) /* the server does not drain it */
                    pass_once();
                unsigned char one = pat(sent);
                ssize_t n = send(fd, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (held_ok)
                    *held_ok = blocked && n < 0 && up.got == got && up.data_while_paused == 0;
                if (n == 1) {
                    sent++;
                    boff = blen; /* the next buffer starts at sent */
                }
            }
            if (++resume_in >= 20) { /* a consumer a little behind */
                resume_in = 0;
                up.paused = 0;
                bh_req_body_pause(up.req, 0);
            }
        }
        pass_once();
        ssize_t n = recv(fd, reply + rlen, sizeof reply - 1 - rlen, MSG_DONTWAIT);
        if (n > 0)
            rlen += (size_t)n;
        reply[rlen] = 0;
        if (rlen >= 12 && strstr(reply, "\r\n\r\n")) {
            status = atoi(reply + 9);
            break;
        }
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            status = 0;
            break;
        }
    }
    if (secs)
        *secs = now_s() - t0;
    if (status != 200 && status != 413)
        fprintf(stderr, "PUT %s: status %d, %llu of %llu sent; reply: %.200s\n", path, status, sent,
                len, reply);
    close(fd);
    return status;
}

/* GET /dl of len bytes (chunked or with a length) on a fresh connection;
 * the body is checked against the pattern as it comes. If abort_at is not
 * 0 the client closes after that many bytes of body. Else the next request
 * is sent on the same connection: *next_ok says it was answered. Returns
 * the body bytes that matched the pattern, or -1 on a bad byte, framing or
 * header. */
static long long get_stream(unsigned long long len, int chunked, unsigned long long abort_at,
                            int *next_ok, double *secs)
{
    char req[256];
    int ql = snprintf(req, sizeof req, "GET /dl?n=%llu%s HTTP/1.1\r\nHost: x\r\n\r\n", len,
                      chunked ? "&chunked=1" : "");
    int fd = dial();
    if (send(fd, req, (size_t)ql, MSG_NOSIGNAL) != ql) {
        close(fd);
        return -1;
    }
    static char rb[1 << 20];
    size_t rl = 0;
    int have_head = 0, done = 0, bad = 0;
    unsigned long long body = 0, chunk_left = 0;
    int chunk_state = 0; /* 0: size line, 1: data, 2: CRLF after data, 3: final CRLF */
    double t0 = now_s();
    if (next_ok)
        *next_ok = 0;
    for (long pass = 0; pass < 20000000 && !done && !bad; pass++) {
        pass_once();
        ssize_t n = recv(fd, rb + rl, sizeof rb - rl, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            break;
        if (n < 0)
            continue;
        rl += (size_t)n;
        size_t off = 0;
        if (!have_head) {
            char *e = memmem(rb, rl, "\r\n\r\n", 4);
            if (!e)
                continue;
            *e = 0;
            have_head = 1;
            char want[64];
            snprintf(want, sizeof want, "content-length: %llu\r\n", len);
            if (strncmp(rb, "HTTP/1.1 200", 12) || strstr(rb, "connection: close") ||
                !strstr(rb, "x-content-type-options: nosniff") ||
                (chunked ? !strstr(rb, "transfer-encoding: chunked") || strstr(rb, "content-length")
                         : !strstr(rb, want))) {
                fprintf(stderr, "streamed reply's head: %s\n", rb);
                bad = 1;
                break;
            }
            off = (size_t)(e + 4 - rb);
            done = !chunked && len == 0;
        }
        while (off < rl && !bad && !done) {
            if (!chunked || chunk_state == 1) {
                size_t k = rl - off;
                if (chunked && k > chunk_left)
                    k = (size_t)chunk_left;
                for (size_t i = 0; i < k; i++)
                    if ((unsigned char)rb[off + i] != pat(body + i))
                        bad = 1;
                body += k;
                off += k;
                if (chunked && !(chunk_left -= k))
                    chunk_state = 2;
                if (!chunked && body == len)
                    done = 1;
            } else if (chunk_state == 0 || chunk_state == 2 || chunk_state == 3) {
                char *e = memmem(rb + off, rl - off, "\r\n", 2);
                if (!e)
                    break;
                if (chunk_state == 0) {
                    chunk_left = strtoull(rb + off, NULL, 16);
                    chunk_state = chunk_left ? 1 : 3;
                } else if (chunk_state == 2) {
                    bad |= e != rb + off;
                    chunk_state = 0;
                } else {
                    bad |= e != rb + off;
                    done = 1;
                }
                off = (size_t)(e + 2 - rb);
            }
        }
        memmove(rb, rb + off, rl - off);
        rl -= off;
        if (abort_at && body >= abort_at) {
            close(fd);
            return (long long)body;
        }
    }
    if (secs)
        *secs = now_s() - t0;
    if (bad || !done || rl) {
        fprintf(stderr, "streamed reply: %llu of %llu bytes, bad %d, %zu extra\n", body, len, bad,
                rl);
        close(fd);
        return -1;
    }
    if (next_ok) /* keep-alive: the next request on this connection */
        *next_ok = exchange(fd, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n", 1) == 1;
    close(fd);
    return (long long)body;
}

static void test_streams(void)
{
    double secs = 0;
    int held_ok = 0;

    /* a 64 MiB PUT read as it comes, paused every 4 MiB */
    uint32_t sum = 2166136261u; /* of what is sent */
    static unsigned char buf[1 << 20];
    for (unsigned long long off = 0; off < 64 * MIB; off += sizeof buf) {
        pat_fill(buf, off, sizeof buf);
        sum = fnv(sum, buf, sizeof buf);
    }
    memset(&up, 0, sizeof up);
    up.sum = 2166136261u;
    up.pause_every = up.next_pause = 4 * MIB;
    CHECK(put_stream("/up", 64 * MIB, 0, 1, &held_ok, &secs) == 200);
    CHECK(up.sum == sum);
    CHECK(up.got == 64 * MIB);
    CHECK(up.bad == 0);
    CHECK(up.ended == 1 && up.gone == 0);
    CHECK(up.pauses >= 15);
    CHECK(up.data_while_paused == 0);
    CHECK(up.data_after_end == 0);
    CHECK(held_ok); /* paused: the client's sends block, the server reads nothing */
    fprintf(stderr, "streamed PUT, 64 MiB, paused every 4 MiB: %.0f MB/s\n", 64 * MIB / 1e6 / secs);

    /* the same without pauses, with the checksum of what was sent */
    memset(&up, 0, sizeof up);
    up.sum = 2166136261u;
    CHECK(put_stream("/up", 64 * MIB, 0, 0, NULL, &secs) == 200);
    CHECK(up.got == 64 * MIB && up.bad == 0 && up.ended == 1);
    CHECK(up.sum == sum);
    fprintf(stderr, "streamed PUT, 64 MiB: %.0f MB/s\n", 64 * MIB / 1e6 / secs);

    /* 64 MiB streamed replies, with a length and chunked; then the next
     * request on the same connection is answered */
    for (int chunked = 0; chunked < 2; chunked++) {
        int next_ok = 0;
        memset(&dl, 0, sizeof dl);
        CHECK(get_stream(64 * MIB, chunked, 0, &next_ok, &secs) == (long long)(64 * MIB));
        CHECK(dl.ended == 1 && dl.gone == 0);
        CHECK(dl.drains > 1);
        CHECK(dl.max_queued <= MIB + 256 * 1024);
        CHECK(next_ok); /* keep-alive after a streamed reply */
        fprintf(stderr, "streamed GET, 64 MiB%s: %.0f MB/s\n", chunked ? ", chunked" : "",
                64 * MIB / 1e6 / secs);
    }
    /* an empty streamed reply, and a short one of a given length */
    int next_ok = 0;
    memset(&dl, 0, sizeof dl);
    CHECK(get_stream(0, 1, 0, &next_ok, NULL) == 0);
    CHECK(next_ok);
    memset(&dl, 0, sizeof dl);
    CHECK(get_stream(0, 0, 0, &next_ok, NULL) == 0);
    CHECK(next_ok);

    /* a client that leaves mid-download: on_gone, writes refused */
    memset(&dl, 0, sizeof dl);
    CHECK(get_stream(64 * MIB, 0, 2 * MIB, NULL, NULL) >= (long long)(2 * MIB));
    for (int i = 0; i < 200000 && !dl.gone; i++)
        pass_once();
    CHECK(dl.gone == 1 && dl.ended == 0 && dl.req != NULL);
    if (dl.req) {
        CHECK(bh_req_stream_write(dl.req, "x", 1) == -1);
        CHECK(bh_req_stream_queued(dl.req) == 0);
        bh_req_stream_end(dl.req); /* frees it (ASan: no leak) */
        dl.req = NULL;
    }
    /* the same, chunked */
    memset(&dl, 0, sizeof dl);
    CHECK(get_stream(64 * MIB, 1, 2 * MIB, NULL, NULL) >= (long long)(2 * MIB));
    for (int i = 0; i < 200000 && !dl.gone; i++)
        pass_once();
    CHECK(dl.gone == 1 && dl.ended == 0);
    if (dl.req) {
        bh_req_stream_end(dl.req);
        dl.req = NULL;
    }

    /* a client that leaves mid-upload: on_gone, no end */
    memset(&up, 0, sizeof up);
    CHECK(put_stream("/up", 64 * MIB, 3 * MIB, 0, NULL, NULL) == 0);
    for (int i = 0; i < 200000 && !up.gone; i++)
        pass_once();
    CHECK(up.gone == 1 && up.ended == 0);
    /* ... and while its body is paused (the server does not read then) */
    memset(&up, 0, sizeof up);
    up.pause_every = up.next_pause = 1 * MIB;
    int fd = dial();
    char head[128];
    int hl = snprintf(head, sizeof head,
                      "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: %llu\r\n\r\n", 64 * MIB);
    CHECK(send(fd, head, (size_t)hl, MSG_NOSIGNAL) == hl);
    pat_fill(buf, 0, sizeof buf);
    CHECK(send(fd, buf, sizeof buf, MSG_NOSIGNAL) == (ssize_t)sizeof buf);
    for (int i = 0; i < 200000 && !up.paused; i++)
        pass_once();
    CHECK(up.paused == 1);
    close(fd); /* all it sent was read: the server sees its end while paused */
    for (int i = 0; i < 2000000 && !up.gone; i++)
        pass_once();
    CHECK(up.gone == 1 && up.ended == 0 && up.paused == 1);

    /* a request pipelined behind a streamed reply: the connection closes,
     * the stream's handler hears it is gone, the loop serves others */
    memset(&dl, 0, sizeof dl);
    fd = dial();
    int got = exchange(fd,
                       "GET /dl?n=4194304 HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
                       2);
    CHECK(got >= 0); /* not wedged */
    close(fd);
    for (int i = 0; i < 20000 && dl.req && !dl.gone && !dl.ended; i++)
        pass_once();
    if (dl.req) {
        bh_req_stream_end(dl.req);
        dl.req = NULL;
    }
    fd = dial();
    CHECK(exchange(fd, "GET /after HTTP/1.1\r\nHost: x\r\n\r\n", 1) == 1);
    close(fd);

    /* a request with a body in the same send as a streamed GET: the library
     * holds it in its own buffer, whose parsing of a body after a keep-alive
     * read freed memory (fuzz_http_front): the stream is answered whole, the
     * request behind it never, and the connection closes */
    static const char behind[] =
        "GET /dl?n=1000 HTTP/1.1\r\nHost: x\r\n\r\n"
        "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n"
        "0123456789012345678901234567890123456789012345678901234567890123456789"
        "0123456789012345678901234567890123456789012345678901234567890123456789"
        "012345678901234567890123456789012345678901234567890123456789";
    memset(&dl, 0, sizeof dl);
    int before = requests;
    long total = until_closed(behind, sizeof behind - 1);
    CHECK(total > 1000); /* the stream's head and its 1000 bytes */
    CHECK(strstr(last, "HTTP/1.1 200") == last && !strstr(last + 1, "HTTP/1.1"));
    CHECK(requests == before + 1); /* /b never reached the handler */
    CHECK(dl.ended == 1);
    /* the same with the request behind it in a send of its own, once the
     * stream's head is in: it waits unread in the kernel; no keep-alive */
    memset(&dl, 0, sizeof dl);
    before = requests;
    fd = dial();
    CHECK(send_str(fd, "GET /dl?n=1000000 HTTP/1.1\r\nHost: x\r\n\r\n"));
    for (int i = 0; i < 200000 && !dl.req; i++)
        pass_once();
    CHECK(send_str(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
    total = 0;
    for (int i = 0; i < 2000000; i++) {
        pass_once();
        char b[65536];
        ssize_t n = recv(fd, b, sizeof b, MSG_DONTWAIT);
        if (n > 0)
            total += n;
        else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            break;
    }
    close(fd);
    CHECK(requests == before + 1); /* closed: during the stream, or after it */
    if (dl.req) {
        bh_req_stream_end(dl.req);
        dl.req = NULL;
    }

    /* a client that closes (FIN), or sends more, while a stream is stalled
     * (the library does not read then): seen, the connection closes */
    for (int how = 0; how < 3; how++) {
        memset(&dl, 0, sizeof dl);
        fd = dial();
        CHECK(send_str(fd, "GET /dl?n=1000&stall=1 HTTP/1.1\r\nHost: x\r\n\r\n"));
        for (int i = 0; i < 200000 && dl.drains == 0; i++)
            pass_once(); /* the head is out */
        if (how == 0)
            shutdown(fd, SHUT_WR);
        else if (how == 1)
            CHECK(send(fd, "x", 1, MSG_NOSIGNAL) == 1);
        else
            close(fd);
        for (int i = 0; i < 2000000 && !dl.gone; i++)
            pass_once();
        CHECK(dl.gone == 1);
        if (dl.req) {
            CHECK(bh_req_stream_write(dl.req, "x", 1) == -1);
            bh_req_stream_end(dl.req);
            dl.req = NULL;
        }
        if (how != 2)
            close(fd);
    }

    /* a PUT over the cap that does not stream: still 413 */
    CHECK(put_stream("/small", 2 * MIB, 0, 0, NULL, NULL) == 413);
    /* ... and one under it is handed over whole */
    CHECK(put_stream("/small", 512 * 1024, 0, 0, NULL, NULL) == 200);
}

static void wedged(int sig)
{
    (void)sig;
    static const char why[] = "test_http: the event loop is wedged (a pass never returned)\n";
    static const char summary[] = "0 passed, 1 failed\n";
    if (write(2, why, sizeof why - 1) < 0 || write(1, summary, sizeof summary - 1) < 0)
        _exit(1);
    _exit(1);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, wedged);
    alarm(280);
    static const struct bh_http_config hc = {
        .host = "127.0.0.1", .port = 0, .max_put_body = 1024 * 1024};
    static const struct bh_http_handlers hh = {
        .request = request, .upgrade = upgrade, .streams = streams};
    bh_err_t err = BH_ERR_INIT;
    loop = bh_loop_new(NULL, &err);
    CHECK(loop != NULL);
    if (!loop)
        return T_DONE();
    http = bh_http_new(loop, &hc, &hh, NULL, &err);
    CHECK(http != NULL);
    if (!http)
        return T_DONE();
    port = bh_http_port(http);

    /* negative control: one request is answered */
    int fd = dial();
    CHECK(exchange(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 1) == 1);
    close(fd);
    fd = dial();
    CHECK(exchange(fd, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 1) == 1);
    close(fd);

    /* one request per connection: the reply says so and the connection
     * closes after it; what followed the request is never parsed */
    fd = dial();
    CHECK(exchange(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", 2) ==
          1);
    CHECK(strstr(last, "\r\nconnection: close\r\n") != NULL);
    close(fd);
    int before = requests;
    fd = dial();
    CHECK(exchange(fd, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 1) == 1);
    CHECK(exchange(fd, "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 1) == 0);
    CHECK(requests == before + 1);
    close(fd);

    /* a request with a body pipelined after another (found by fuzz_http_front) */
    static const char *const pipelined[] = {
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\nDELETE /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}POST /b HTTP/1.1\r\nHost: x\r\n"
        "Content-Length: 2\r\n\r\n{}GET /c HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    /* answers: the request before the body, if any (input right behind a
     * body closes the connection before its answer) */
    static const int answered[] = {1, 1, 0};
    for (size_t i = 0; i < sizeof pipelined / sizeof pipelined[0]; i++) {
        fd = dial();
        int got = exchange(fd, pipelined[i], 2);
        if (got < 0)
            fprintf(stderr, "pipelined request %zu: the loop is wedged\n", i);
        CHECK(got == answered[i]); /* and the loop is not wedged */
        close(fd);
        /* and the loop still serves others */
        fd = dial();
        CHECK(exchange(fd, "GET /after HTTP/1.1\r\nHost: x\r\n\r\n", 1) == 1);
        close(fd);
    }
    test_streams();

    /* freed while the loop goes on: the handler is called no more, a new
     * request gets no answer */
    bh_http_free(http);
    http = NULL;
    before = requests;
    fd = dial();
    CHECK(exchange(fd, "GET /gone HTTP/1.1\r\nHost: x\r\n\r\n", 1) == 0);
    CHECK(requests == before);
    close(fd);
    bh_loop_free(loop);

    /* the other order: the loop first, then the front (ASan checks that
     * neither touches what the other freed) */
    loop = bh_loop_new(NULL, &err);
    CHECK(loop != NULL);
    if (!loop)
        return T_DONE();
    http = bh_http_new(loop, &hc, &hh, NULL, &err);
    CHECK(http != NULL);
    if (!http)
        return T_DONE();
    port = bh_http_port(http);
    fd = dial();
    CHECK(exchange(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 1) == 1);
    int fd2 = dial(); /* still open when the loop goes */
    bh_loop_wake(loop);
    bh_loop_step(loop);
    bh_loop_free(loop);
    bh_http_free(http);
    close(fd);
    close(fd2);
    return T_DONE();
}
