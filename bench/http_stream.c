/* http_stream.c — throughput of the HTTP front's streams on loopback: a
 * streamed PUT (handlers.streams, bh_req_read_body) and streamed GETs (with
 * Content-Length and chunked, bh_req_stream_*), each of BENCH_MIB MiB
 * (default 256), against a plain TCP copy of the same size between the same
 * two threads (the baseline). The loop runs on the main thread as in the
 * daemon; the client is a thread with blocking sockets. Prints MB/s.
 *
 *   make all && P="libwebsockets jansson sqlite3 libcurl libnftables libmnl libcrypto" &&
 *   cc -O2 -std=gnu11 -D_GNU_SOURCE -Isrc $(pkg-config --cflags $P) bench/http_stream.c \
 *       build/libbulkhead.a $(pkg-config --libs $P) -lpthread -o http_stream && ./http_stream */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "lib/loop.h"

#define MIB (1024ull * 1024)

static bh_loop_t *loop;
static int port;
static unsigned long long total;
static char piece[256 * 1024];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the server side (loop thread) */

static struct {
    bh_req_t *req;
    unsigned long long got;
} up;

static int up_data(void *arg, const char *d, size_t n)
{
    (void)arg;
    (void)d;
    up.got += n;
    return 0;
}

static void up_end(void *arg)
{
    (void)arg;
    bh_req_reply(up.req, 200, "text/plain", "ok", 2, NULL);
}

static const struct bh_body_reader reader = {.data = up_data, .end = up_end};

static struct {
    bh_req_t *req;
    unsigned long long queued;
} dl;

static void dl_drained(void *arg)
{
    (void)arg;
    while (dl.req && dl.queued < total && bh_req_stream_queued(dl.req) < 4 * MIB) {
        size_t n = total - dl.queued < sizeof piece ? (size_t)(total - dl.queued) : sizeof piece;
        if (bh_req_stream_write(dl.req, piece, n) < 0)
            return;
        dl.queued += n;
    }
    if (dl.req && dl.queued == total) {
        bh_req_stream_end(dl.req);
        dl.req = NULL;
    }
}

static void dl_gone(void *arg)
{
    (void)arg;
    bh_req_stream_end(dl.req);
    dl.req = NULL;
}

static int streams(void *ctx, bh_req_t *req)
{
    (void)ctx;
    return !strcmp(bh_req_path(req), "/up");
}

static void request(void *ctx, bh_req_t *req)
{
    (void)ctx;
    if (!strcmp(bh_req_path(req), "/up")) {
        up.req = req;
        up.got = 0;
        bh_req_read_body(req, &reader, NULL);
        return;
    }
    dl.req = req;
    dl.queued = 0;
    bh_req_on_gone(req, dl_gone, NULL);
    bh_req_stream_start(req, 200, "application/octet-stream",
                        bh_req_query(req, "chunked") ? -1 : (long long)total, NULL, dl_drained,
                        NULL);
}

/* ---- the client (its own thread) */

static int dial(int p)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        perror("connect");
    return fd;
}

static void send_all(int fd, const void *b, size_t n)
{
    while (n) {
        ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
        if (k <= 0)
            return;
        b = (const char *)b + k;
        n -= (size_t)k;
    }
}

/* Read until n body bytes past the head (or EOF); returns body bytes. */
static unsigned long long drain(int fd, unsigned long long n)
{
    static char buf[1 << 20];
    unsigned long long body = 0;
    int head = 0;
    char hb[4096];
    size_t hl = 0;
    while (body < n) {
        ssize_t k = recv(fd, buf, sizeof buf, 0);
        if (k <= 0)
            break;
        size_t off = 0;
        if (!head) {
            size_t c = (size_t)k < sizeof hb - hl ? (size_t)k : sizeof hb - hl;
            memcpy(hb + hl, buf, c);
            char *e = memmem(hb, hl + c, "\r\n\r\n", 4);
            if (!e) {
                hl += c;
                continue;
            }
            head = 1;
            off = (size_t)(e + 4 - hb) - hl;
        }
        body += (unsigned long long)k - off;
    }
    return body;
}

static double r_put, r_get, r_getc, r_tcp;

static void *client(void *arg)
{
    (void)arg;
    char head[256];
    double t0;

    /* streamed PUT */
    int fd = dial(port);
    int n = snprintf(head, sizeof head,
                     "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: %llu\r\n\r\n", total);
    t0 = now_s();
    send_all(fd, head, (size_t)n);
    for (unsigned long long s = 0; s < total; s += sizeof piece)
        send_all(fd, piece, sizeof piece);
    drain(fd, 2);
    r_put = total / 1e6 / (now_s() - t0);
    close(fd);

    /* streamed GETs */
    for (int chunked = 0; chunked < 2; chunked++) {
        fd = dial(port);
        n = snprintf(head, sizeof head, "GET /dl%s HTTP/1.1\r\nHost: x\r\n\r\n",
                     chunked ? "?chunked=1" : "");
        t0 = now_s();
        send_all(fd, head, (size_t)n);
        unsigned long long got = drain(fd, total);
        *(chunked ? &r_getc : &r_get) = got / 1e6 / (now_s() - t0);
        close(fd);
    }

    /* the baseline: the same bytes over plain TCP between these threads */
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 1) < 0 ||
        getsockname(ls, (struct sockaddr *)&a, &al) < 0)
        perror("baseline");
    fd = dial(ntohs(a.sin_port));
    int sfd = accept(ls, NULL, NULL);
    t0 = now_s();
    pid_t pid = fork();
    if (pid == 0) {
        for (unsigned long long s = 0; s < total; s += sizeof piece)
            send_all(sfd, piece, sizeof piece);
        _exit(0);
    }
    static char buf[1 << 20];
    unsigned long long got = 0;
    while (got < total) {
        ssize_t k = recv(fd, buf, sizeof buf, 0);
        if (k <= 0)
            break;
        got += (unsigned long long)k;
    }
    r_tcp = got / 1e6 / (now_s() - t0);
    close(fd);
    close(sfd);
    close(ls);
    bh_loop_stop(loop);
    return NULL;
}

int main(void)
{
    const char *m = getenv("BENCH_MIB");
    total = (m ? strtoull(m, NULL, 10) : 256) * MIB;
    memset(piece, 'x', sizeof piece);
    bh_err_t err = BH_ERR_INIT;
    loop = bh_loop_new(NULL, &err);
    static const struct bh_http_config hc = {.host = "127.0.0.1", .port = 0};
    static const struct bh_http_handlers hh = {.request = request, .streams = streams};
    bh_http_t *http = loop ? bh_http_new(loop, &hc, &hh, NULL, &err) : NULL;
    if (!http) {
        fprintf(stderr, "http_stream: no server\n");
        return 1;
    }
    port = bh_http_port(http);
    pthread_t t;
    pthread_create(&t, NULL, client, NULL);
    bh_loop_run(loop);
    pthread_join(t, NULL);
    printf("streamed PUT %llu MiB: %.0f MB/s (up.got %llu)\n", total / MIB, r_put, up.got / MIB);
    printf("streamed GET %llu MiB, Content-Length: %.0f MB/s\n", total / MIB, r_get);
    printf("streamed GET %llu MiB, chunked: %.0f MB/s\n", total / MIB, r_getc);
    printf("baseline, plain TCP %llu MiB: %.0f MB/s\n", total / MIB, r_tcp);
    bh_http_free(http);
    bh_loop_free(loop);
    return 0;
}
