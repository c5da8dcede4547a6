/* test_http.c — the HTTP front against a raw client on loopback. Input
 * pipelined behind a request wedged the event loop (the library spun for
 * ever in its buffered-input service, every other connection, session pipe
 * and timer of the daemon starved) and made it read freed memory: now a
 * connection carries one request, its reply says "connection: close", what
 * followed the request is never parsed, and the loop still answers a fresh
 * connection afterwards. The loop is driven pass by
 * pass (bh_loop_step), so "wedged" is "no answer within 20000 passes", not
 * a time; a pass that never returns (the library spinning inside it) is
 * caught by a 60 s watchdog, which fails the test. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.h"
#include "lib/loop.h"
#include "t.h"

static bh_http_t *http;
static bh_loop_t *loop;
static int port;
static int requests;
static char last[8192]; /* what the last exchange received */

static void request(void *ctx, bh_req_t *req)
{
    (void)ctx;
    requests++;
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
    alarm(60);
    static const struct bh_http_config hc = {.host = "127.0.0.1", .port = 0};
    static const struct bh_http_handlers hh = {.request = request, .upgrade = upgrade};
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
