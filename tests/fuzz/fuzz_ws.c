/* fuzz_ws.c — one session's three untrusted peers at once, through the real
 * code paths: a CDP client (WebSocket to the CDP proxy, src/kinds/browser/cdp_proxy.c), a
 * live-view viewer (WebSocket to the live view, src/kinds/browser/live.c) and the browser
 * (its CDP pipe, src/kinds/browser/cdp.c), whose events go to the proxy and the live view
 * as kinds/browser/driver.c sends them.
 *
 * Per input: a fresh CDP pipe, live view (page "PAGE") and proxy; a viewer
 * and a client connect over loopback to a real HTTP front (port 0) and the
 * harness answers the client's Target.attachToBrowserTarget (session
 * "ROOT"), as the browser would. The input is a list of records separated by
 * NUL bytes; a record's first byte picks its sender (byte % 3: 0 the CDP
 * client, 1 the viewer, 2 the browser) and the rest is its message. After a
 * WebSocket message the harness sends a ping and runs the loop until the
 * pong: the message was handled. Then everything is closed and the loop run
 * until the connections and pipes are gone. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kinds/browser/cdp.h"
#include "kinds/browser/cdp_proxy.h"
#include "fuzz.h"
#include "http/http.h"
#include "kinds/browser/live.h"
#include "lib/loop.h"

static bh_http_t *http;
static bh_loop_t *loop;
static bh_cdp_t *cdp;
static bh_live_t *live;
static bh_cdp_proxy_t *proxy;
static int to_browser = -1; /* what the daemon sent the browser */
static char *sent;          /* its bytes not yet read as whole messages */
static size_t sent_len;

struct conn {
    int fd;
    unsigned char *buf;
    size_t len;
    int closed;
};

/* ---------------------------------------------------------------- loop */

/* One pass of the loop that does not wait: a wake-up is pending, so its
 * poll returns at once with whatever else is ready. (A timer due now would
 * not do: due timers run before the poll, which then waits.) */
static void step(void)
{
    bh_loop_wake(loop);
    if (bh_loop_step(loop) < 0)
        abort();
}

static void on_event(void *arg, json_t *msg)
{
    (void)arg;
    fuzz_offer_event(proxy, live, msg);
}

static void on_closed(void *arg) { (void)arg; }

static void upgrade(void *ctx, bh_req_t *req)
{
    (void)ctx;
    const char *path = bh_req_path(req);
    if (!strcmp(path, "/cdp"))
        bh_cdp_proxy_accept(proxy, req);
    else if (!strcmp(path, "/live"))
        bh_live_accept(live, req, 1);
    else if (!strcmp(path, "/live-view")) /* a view-only viewer */
        bh_live_accept(live, req, 0);
    else
        fuzz_not_found(ctx, req);
}

/* The browser's side of the pipe: read what the daemon sent, answer the
 * proxy's attach of a client's browser-level session. */
static void browser_read(void)
{
    char buf[65536];
    ssize_t n;
    while ((n = read(to_browser, buf, sizeof buf)) > 0) {
        sent = realloc(sent, sent_len + (size_t)n);
        if (!sent)
            abort();
        memcpy(sent + sent_len, buf, (size_t)n);
        sent_len += (size_t)n;
    }
    size_t start = 0;
    char *nul;
    while (sent_len > start && (nul = memchr(sent + start, 0, sent_len - start))) {
        json_t *m = json_loadb(sent + start, (size_t)(nul - (sent + start)), 0, NULL);
        const char *method = json_string_value(json_object_get(m, "method"));
        if (method && !strcmp(method, "Target.attachToBrowserTarget")) {
            char reply[96];
            int len = snprintf(reply, sizeof reply,
                               "{\"id\":%lld,\"result\":{\"sessionId\":\"ROOT\"}}",
                               (long long)json_integer_value(json_object_get(m, "id")));
            bh_cdp_input(cdp, reply, (size_t)len + 1);
        }
        json_decref(m);
        start = (size_t)(nul - sent) + 1;
    }
    if (start) {
        memmove(sent, sent + start, sent_len - start);
        sent_len -= start;
    }
}

/* ---------------------------------------------------------------- client side */

static void conn_read(struct conn *c)
{
    for (;;) {
        c->buf = realloc(c->buf, c->len + 65536);
        if (!c->buf)
            abort();
        ssize_t n = recv(c->fd, c->buf + c->len, 65536, MSG_DONTWAIT);
        if (n > 0) {
            c->len += (size_t)n;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            c->closed = 1;
        return;
    }
}

/* Take the server's whole frames off c->buf: 1 if a pong was among them. */
static int conn_frames(struct conn *c)
{
    int pong = 0;
    size_t off = 0;
    while (c->len - off >= 2) {
        const unsigned char *h = c->buf + off;
        size_t hl = 2;
        uint64_t pl = h[1] & 0x7f;
        if (pl == 126) {
            if (c->len - off < 4)
                break;
            pl = (uint64_t)h[2] << 8 | h[3];
            hl = 4;
        } else if (pl == 127) {
            if (c->len - off < 10)
                break;
            pl = 0;
            for (int i = 0; i < 8; i++)
                pl = pl << 8 | h[2 + i];
            hl = 10;
        }
        if (c->len - off - hl < pl)
            break;
        int op = h[0] & 0x0f;
        if (op == 0xA)
            pong = 1;
        if (op == 0x8)
            c->closed = 1;
        off += hl + (size_t)pl;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    return pong;
}

static void conn_send(struct conn *c, int opcode, const void *data, size_t len)
{
    unsigned char h[14];
    size_t hl;
    h[0] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        h[1] = (unsigned char)(0x80 | len);
        hl = 2;
    } else if (len < 65536) {
        h[1] = 0x80 | 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        hl = 4;
    } else {
        h[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    memset(h + hl, 0, 4); /* masked with a zero key: the payload goes as is */
    hl += 4;
    if (fuzz_send_all(c->fd, h, hl) < 0 || fuzz_send_all(c->fd, data, len) < 0)
        c->closed = 1;
}

/* Run the loop until c's last message was handled (its pong came back) or
 * the server closed c. A loop that never gets there is a hang. */
static void conn_sync(struct conn *c, struct conn *other)
{
    if (c->closed)
        return;
    conn_send(c, 0x9, "s", 1);
    for (int i = 0; i < 100000; i++) {
        step();
        browser_read();
        if (other && !other->closed) {
            conn_read(other);
            conn_frames(other);
        }
        conn_read(c);
        if (conn_frames(c) || c->closed)
            return;
    }
    fprintf(stderr, "fuzz_ws: no pong after 100000 loop passes\n");
    abort();
}

static void conn_open(struct conn *c, const char *path, struct conn *other)
{
    memset(c, 0, sizeof *c);
    c->fd = fuzz_dial(bh_http_port(http));
    if (c->fd < 0)
        abort();
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char req[256];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     path);
    if (fuzz_send_all(c->fd, req, (size_t)n) < 0)
        abort();
    for (int i = 0; i < 100000; i++) {
        step();
        browser_read();
        conn_read(c);
        unsigned char *end = c->len >= 4 ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (end) {
            if (c->len < 12 || memcmp(c->buf, "HTTP/1.1 101", 12) != 0) {
                fprintf(stderr, "fuzz_ws: upgrade of %s refused: %.*s\n", path, (int)c->len,
                        c->buf);
                abort();
            }
            size_t hl = (size_t)(end - c->buf) + 4;
            memmove(c->buf, c->buf + hl, c->len - hl);
            c->len -= hl;
            conn_sync(c, other);
            return;
        }
        if (c->closed)
            break;
    }
    fprintf(stderr, "fuzz_ws: no upgrade of %s\n", path);
    abort();
}

static void conn_close(struct conn *c)
{
    /* reset, not FIN: thousands of connections a second in TIME_WAIT would
     * use up the loopback's ephemeral ports */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(c->fd);
    free(c->buf);
}

/* ---------------------------------------------------------------- fuzzing */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static const struct bh_http_config hc = {
        .host = "127.0.0.1", .port = 0, .max_ws_msg = 1u << 20};
    static const struct bh_http_handlers hh = {.request = fuzz_not_found, .upgrade = upgrade};
    http = fuzz_http_new("fuzz_ws", &hc, &hh);
    loop = bh_http_loop(http);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int to[2], from[2];
    if (pipe2(to, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(from, O_CLOEXEC | O_NONBLOCK) < 0)
        abort();
    to_browser = to[0];
    sent_len = 0;
    /* from[1] stays open and unused: the browser's input comes through
     * bh_cdp_input, and its pipe must not hang up */
    cdp = bh_cdp_new(loop, to[1], from[0], on_event, on_closed, NULL);
    static const struct bh_live_policy pol = {1, 1};
    static const struct bh_cdp_proxy_limits lim = {0, 0};
    live = bh_live_new(cdp, &pol, 1280, 720, NULL, NULL);
    bh_live_set_page(live, "PAGE");
    proxy = bh_cdp_proxy_new(cdp, &lim, NULL, NULL);
    struct conn viewer, client;
    conn_open(&viewer, "/live?quality=50&maxFps=60", NULL);
    conn_open(&client, "/cdp", &viewer);

    while (size > 0) {
        const uint8_t *nul = memchr(data, 0, size);
        size_t n = nul ? (size_t)(nul - data) : size;
        if (n > 0) {
            const char *msg = (const char *)data + 1;
            switch (data[0] % 3) {
            case 0:
                conn_send(&client, 0x1, msg, n - 1);
                conn_sync(&client, &viewer);
                break;
            case 1:
                conn_send(&viewer, 0x1, msg, n - 1);
                conn_sync(&viewer, &client);
                break;
            default:
                bh_cdp_input(cdp, msg, n - 1);
                bh_cdp_input(cdp, "", 1);
                conn_sync(&client, &viewer);
                conn_sync(&viewer, &client);
            }
        }
        data += nul ? n + 1 : n;
        size -= nul ? n + 1 : n;
    }

    bh_cdp_proxy_free(proxy, 1001, "done");
    bh_live_free(live, 1001, "done");
    proxy = NULL;
    live = NULL;
    bh_cdp_free(cdp); /* closes the daemon's pipe ends once the loop runs */
    cdp = NULL;
    conn_close(&client);
    conn_close(&viewer);
    close(to[0]);
    close(from[1]);
    for (int i = 0; i < 4; i++)
        step();
    return 0;
}
