/* fuzz_http_front.c — raw bytes from a client on the daemon's HTTP port:
 * the HTTP front (src/http*.c on libwebsockets) parses the request line,
 * query and headers into a bh_req, gathers the body (up to max_body, else
 * 413), hands it over, writes the reply; pipelined requests, WebSocket
 * upgrades (accepted for /ws paths, refused otherwise) and messages on them
 * included, and streams (bodies read with pauses, streamed replies, a
 * connection kept alive after one). The handler reads the request as the API does: the path's
 * routing (bh_api_session_path), the ?token= and ?status= query values, the
 * Authorization and Origin headers (bh_keyring_identify,
 * bh_api_origin_allowed), the body; it replies at once, or parks the
 * request and replies after the connection is gone (as a slow session
 * create does).
 *
 * Per input: one loopback connection; the input is sent, the write side
 * shut, and the loop run until the server closes the connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api.h"
#include "api/auth.h"
#include "config/config.h"
#include "fuzz.h"
#include "http/http.h"
#include "lib/loop.h"

static bh_http_t *http;
static bh_loop_t *loop;
static struct bh_config cfg;
static bh_keyring_t *keys;
static bh_req_t *parked; /* a request answered later */

static int ws_message(void *arg, bh_ws_t *ws, const char *data, size_t len, int binary)
{
    (void)arg;
    if (len && data[0] == 'x')
        return -1; /* the handler closes the connection */
    if (len && data[0] == 'c') {
        bh_ws_close(ws, 1000, "bye", 0);
        return 0;
    }
    bh_ws_send(ws, data, len, binary); /* echo */
    return 0;
}

static void ws_closed(void *arg, bh_ws_t *ws)
{
    (void)arg;
    (void)ws;
}

static const struct bh_ws_handlers wsh = {.message = ws_message, .closed = ws_closed};

/* What the API reads of a request, and who it is. */
static enum bh_role inspect(bh_req_t *req, char id[33], const char **sub)
{
    *sub = bh_api_session_path(bh_req_path(req), id);
    const char *q = bh_req_query(req, "token");
    const char *h = bh_req_header(req, "authorization");
    const char *presented = q ? q : (h && !strncasecmp(h, "Bearer ", 7) ? h + 7 : NULL);
    struct bh_identity who;
    enum bh_role role = bh_keyring_identify(keys, presented, &who);
    if (role != BH_ROLE_NONE || who.scoped)
        bh_may_access(&who, cfg.secret, *sub ? id : "0123456789abcdef0123456789abcdef", "u1",
                      BH_SCOPE_VIEW | BH_SCOPE_CONTROL | BH_SCOPE_CDP, 1800000000);
    bh_req_query(req, "status");
    bh_req_header(req, "host");
    bh_req_header(req, "content-type");
    return role;
}

/* Streams: a POST or PUT to /up* is read as it comes (paused after every
 * piece, resumed by the driver on its next pass), then answered with a
 * streamed chunked reply; a GET of /dl* gets a streamed reply of a given
 * length, written as it drains. Either ends if its client goes. */
static struct {
    bh_req_t *req;
    bh_req_t *asked; /* the last request streams() said yes to */
    int paused, reply_started;
} up;
static struct {
    bh_req_t *req;
    size_t left;
} dl;

static void up_gone(void *arg)
{
    (void)arg;
    if (up.reply_started)
        bh_req_stream_end(up.req);
    else
        bh_req_reply(up.req, 500, "application/json", "{}", 2, NULL);
    up.req = NULL;
}

static int up_data(void *arg, const char *data, size_t len)
{
    (void)arg;
    if (len && data[0] == 'x')
        return -1; /* the reader stops: the handler answers */
    bh_req_body_pause(up.req, 1);
    up.paused = 1;
    return 0;
}

static void up_end(void *arg)
{
    (void)arg;
    up.reply_started = 1;
    bh_req_stream_start(up.req, 201, "text/plain", -1, NULL, NULL, NULL);
    bh_req_stream_write(up.req, "done\n", 5);
    bh_req_stream_end(up.req);
    up.req = NULL;
}

static const struct bh_body_reader up_reader = {.data = up_data, .end = up_end};

static void dl_drained(void *arg)
{
    (void)arg;
    static const char piece[4096];
    while (dl.req && dl.left && bh_req_stream_queued(dl.req) < 16384) {
        size_t n = dl.left < sizeof piece ? dl.left : sizeof piece;
        if (bh_req_stream_write(dl.req, piece, n) < 0)
            return;
        dl.left -= n;
    }
    if (dl.req && !dl.left) {
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
    if (up.req || strncmp(bh_req_path(req), "/up", 3))
        return 0;
    up.asked = req;
    return 1;
}

static void request(void *ctx, bh_req_t *req)
{
    (void)ctx;
    char id[33];
    const char *sub;
    if (req == up.asked) {
        up.asked = NULL;
        up.req = req;
        up.paused = 0;
        up.reply_started = 0;
        bh_req_on_gone(req, up_gone, NULL);
        bh_req_read_body(req, &up_reader, NULL);
        return;
    }
    if (!strncmp(bh_req_path(req), "/dl", 3) && !dl.req) {
        dl.req = req;
        dl.left = 100000;
        bh_req_on_gone(req, dl_gone, NULL);
        bh_req_stream_start(req, 200, "application/octet-stream", (long long)dl.left, NULL,
                            dl_drained, NULL);
        return;
    }
    enum bh_role role = inspect(req, id, &sub);
    size_t len = 0;
    const char *body = bh_req_body(req, &len);
    if (body && len) {
        json_t *j = json_loadb(body, len, 0, NULL);
        json_decref(j);
    }
    if (!strcmp(bh_req_path(req), "/park") && !parked) {
        parked = req; /* answered after the connection is gone */
        return;
    }
    char *msg = bh_xasprintf("{\"method\":\"%s\",\"role\":%d,\"sub\":\"%s\",\"body\":%zu}",
                             bh_req_method(req), (int)role, sub ? sub : "-", len);
    bh_req_reply(req, sub ? 200 : 404, "application/json", msg, strlen(msg),
                 (const char *const[]){"x-bh", "1", NULL});
    free(msg);
}

static void upgrade(void *ctx, bh_req_t *req)
{
    (void)ctx;
    char id[33];
    const char *sub;
    inspect(req, id, &sub);
    if (!bh_api_origin_allowed(&cfg, bh_req_header(req, "origin"))) {
        bh_req_reply(req, 403, "application/json", "{}", 2, NULL);
        return;
    }
    if (!strncmp(bh_req_path(req), "/ws", 3))
        bh_ws_accept(req, &wsh, NULL);
    else
        bh_req_reply(req, 404, "application/json", "{}", 2, NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    bh_config_defaults(&cfg);
    cfg.public_url = bh_xstrdup("http://127.0.0.1:8420");
    memset(cfg.secret, 7, sizeof cfg.secret);
    keys = fuzz_keyring("u1");
    static const struct bh_http_config hc = {
        .host = "127.0.0.1", .port = 0, .max_body = 1024, .max_ws_msg = 4096};
    static const struct bh_http_handlers hh = {
        .request = request, .upgrade = upgrade, .streams = streams};
    http = fuzz_http_new("fuzz_http_front", &hc, &hh);
    loop = bh_http_loop(http);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = fuzz_dial(bh_http_port(http));
    if (fd < 0)
        abort();
    /* the server may have closed already (a malformed request): fine */
    fuzz_send_all(fd, data, size);
    shutdown(fd, SHUT_WR);
    /* run the loop until the server has closed the connection */
    char buf[65536];
    int eof = 0;
    for (int i = 0; i < 2000 && !eof; i++) {
        bh_loop_wake(loop);
        if (bh_loop_step(loop) < 0)
            abort();
        if (up.req && up.paused) { /* the consumer caught up */
            up.paused = 0;
            bh_req_body_pause(up.req, 0);
        }
        ssize_t n;
        while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
            ;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            eof = 1;
    }
    /* reset, not FIN: no TIME_WAIT to use up the ephemeral ports */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
    for (int i = 0; i < 4; i++) {
        bh_loop_wake(loop);
        bh_loop_step(loop);
    }
    if (parked) { /* its client is gone: the reply is dropped */
        bh_req_reply(parked, 201, "application/json", "{}", 2, NULL);
        parked = NULL;
    }
    return 0;
}
