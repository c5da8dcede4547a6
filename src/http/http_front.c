/* http_front.c — the front door: who may connect, and for how long. Every
 * accepted connection is counted, in all and per client address, from the
 * library's accept filter to its wsi's destruction; one over a cap gets a
 * canned 503 and is closed before the library adopts it. When accept() itself
 * fails for want of descriptors (EMFILE), the library would log and retry at
 * once, forever: we free a reserve descriptor, accept and refuse what waits,
 * take the reserve back, and log that once per LOG_EVERY_S seconds with a
 * count. Slow clients: the library's header timeout (the time it holds a
 * header table) bounds the headers; a timer of our own bounds the whole body
 * (the library's body timeout restarts with every piece that arrives). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http_int.h"
#include "lib/log.h"
#include "lib/util.h"

#define LOG_EVERY_S 10

/* An accepted client connection, known by its wsi. */
struct conn {
    struct conn *next;
    struct lws *wsi;
    struct peer *peer;
    int kept;            /* kept alive after a streamed reply ... */
    long long kept_read; /* ... when the library had read this much of it */
};

/* Connections from one client address. */
struct peer {
    struct peer *next;
    unsigned char addr[16]; /* IPv6, or IPv4-mapped */
    int n;
};

/* The body did not arrive within the body timeout: close the connection. */
void http_body_deadline(lws_sorted_usec_list_t *sul)
{
    struct bh_req *r = lws_container_of(sul, struct bh_req, body_sul);
    if (r->wsi && (!r->dispatched || (r->streamed && !r->body_ended && !r->body_told))) {
        bh_log(BH_LOG_DEBUG, NULL, "%s %s: body not complete within %d s; closing", r->method,
               r->path, r->http->body_timeout);
        lws_set_timeout(r->wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
    }
}

/* Count n more events of rl; 1 if it is time to log (the count is then
 * in rl->count, and reset by the caller). */
static int ratelog_hit(struct ratelog *rl, unsigned long n)
{
    time_t now = time(NULL);
    rl->count += n;
    if (rl->last && now - rl->last < LOG_EVERY_S)
        return 0;
    rl->last = now;
    return 1;
}

static unsigned hash_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    unsigned h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    return h % CONN_BUCKETS;
}

static unsigned hash_ptr(const void *p) { return hash_bytes(&p, sizeof p); }

/* The client address of an accepted connection, as 16 bytes. */
static void peer_key(const struct sockaddr_storage *sa, unsigned char key[16])
{
    memset(key, 0, 16);
    if (sa->ss_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    } else if (sa->ss_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    }
}

static struct peer *peer_get(struct bh_http *http, const unsigned char key[16])
{
    unsigned b = hash_bytes(key, 16);
    for (struct peer *p = http->peers[b]; p; p = p->next)
        if (!memcmp(p->addr, key, 16))
            return p;
    struct peer *p = bh_xcalloc(1, sizeof *p);
    memcpy(p->addr, key, 16);
    p->next = http->peers[b];
    http->peers[b] = p;
    return p;
}

/* Forget the address p (no connection holds it). */
static void peer_forget(struct bh_http *http, struct peer *p)
{
    for (struct peer **pp = &http->peers[hash_bytes(p->addr, 16)]; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    free(p);
}

static void peer_put(struct bh_http *http, struct peer *p)
{
    if (--p->n <= 0)
        peer_forget(http, p);
}

/* Answer a connection we will not serve: a 503 in one write, then the
 * library (or the caller) closes it. What the client sent already is read
 * first, so that the close is a FIN and not a reset that could destroy the
 * answer before the client reads it. */
static void refuse_fd(int fd, const char *why)
{
    char buf[4096], msg[512];
    for (int i = 0; i < 16 && recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0; i++)
        ;
    char body[256];
    int bl = snprintf(body, sizeof body,
                      "{\"error\":{\"code\":\"unavailable\",\"message\":\"%s\"}}", why);
    int n = snprintf(msg, sizeof msg,
                     "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
                     "retry-after: 5\r\ncache-control: no-store\r\nconnection: close\r\n"
                     "content-length: %d\r\n\r\n%s",
                     bl, body);
    if (send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        /* nothing to do: it is closed next */
    }
}

static char *peer_text(const unsigned char key[16], char *out, size_t n)
{
    static const unsigned char v4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!memcmp(key, v4, 12))
        snprintf(out, n, "%u.%u.%u.%u", key[12], key[13], key[14], key[15]);
    else if (!inet_ntop(AF_INET6, key, out, (socklen_t)n))
        snprintf(out, n, "?");
    return out;
}

/* Refuse fd, a connection over a cap (named what, of cap connections),
 * and say so in the log at most once per LOG_EVERY_S. Returns 1, the accept
 * filter's answer for it. */
static int refuse_over_cap(int fd, const char *why, struct ratelog *rl, const char *what, int cap,
                           const unsigned char key[16])
{
    char who[64];
    refuse_fd(fd, why);
    if (ratelog_hit(rl, 1)) {
        bh_log(BH_LOG_WARN, NULL,
               "%s (%d) reached: %lu connection(s) refused with 503 (last from %s)", what, cap,
               rl->count, peer_text(key, who, sizeof who));
        rl->count = 0;
    }
    return 1;
}

/* A connection let through by http_conn_filter got no wsi (the library failed
 * to adopt it): forget its address if nothing else holds it. */
static void accepting_drop(struct bh_http *http)
{
    struct peer *p = http->accepting;
    http->accepting = NULL;
    if (p && !p->n)
        peer_forget(http, p);
}

/* The library accepted fd from the listening socket lwsi: 0 to serve it,
 * 1 after answering 503 (the library then closes it). */
int http_conn_filter(struct bh_http *http, struct lws *lwsi, struct lws_filter_network_conn_args *f,
                     int fd)
{
    if (http->listen_fd < 0)
        http->listen_fd = lws_get_socket_fd(lwsi);
    unsigned char key[16];
    peer_key(&f->cli_addr, key);
    accepting_drop(http);
    if (http->max_conns > 0 && http->nconns >= http->max_conns)
        return refuse_over_cap(fd, "too many connections; try again later", &http->log_full,
                               "connection cap", http->max_conns, key);
    struct peer *p = peer_get(http, key);
    if (http->max_conns_per_addr > 0 && p->n >= http->max_conns_per_addr)
        return refuse_over_cap(fd, "too many connections from this address; try again later",
                               &http->log_addr, "per-address connection cap",
                               http->max_conns_per_addr, key);
    http->accepting = p; /* the library creates its wsi next */
    return 0;
}

/* The wsi of the connection just let through by http_conn_filter. */
void http_conn_add(struct bh_http *http, struct lws *wsi)
{
    struct conn *c = bh_xcalloc(1, sizeof *c);
    c->wsi = wsi;
    c->peer = http->accepting;
    c->peer->n++;
    http->accepting = NULL;
    unsigned b = hash_ptr(wsi);
    c->next = http->conns[b];
    http->conns[b] = c;
    http->nconns++;
}

/* Any wsi is destroyed: if it is a client connection, it counts no more. */
void http_conn_remove(struct bh_http *http, struct lws *wsi)
{
    for (struct conn **pp = &http->conns[hash_ptr(wsi)]; *pp; pp = &(*pp)->next) {
        struct conn *c = *pp;
        if (c->wsi != wsi)
            continue;
        *pp = c->next;
        http->nconns--;
        peer_put(http, c->peer);
        free(c);
        return;
    }
}

static struct conn *conn_find(struct bh_http *http, struct lws *wsi)
{
    for (struct conn *c = http->conns[hash_ptr(wsi)]; c; c = c->next)
        if (c->wsi == wsi)
            return c;
    return NULL;
}

void http_conn_kept(struct bh_http *http, struct lws *wsi, long long read)
{
    struct conn *c = conn_find(http, wsi);
    if (c) {
        c->kept = 1;
        c->kept_read = read;
    }
}

int http_conn_take_kept(struct bh_http *http, struct lws *wsi, long long *read)
{
    struct conn *c = conn_find(http, wsi);
    if (!c || !c->kept)
        return 0;
    c->kept = 0;
    *read = c->kept_read;
    return 1;
}

/* The library failed to accept for want of descriptors (and would try
 * again at once, forever, as the connection still waits): spend the
 * reserve descriptor to accept and refuse what waits, then take it back. */
static void at_fd_limit(struct bh_http *http, int err)
{
    int refused = 0;
    if (http->reserve_fd < 0)
        http->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (http->listen_fd >= 0 && http->reserve_fd >= 0) {
        close(http->reserve_fd);
        http->reserve_fd = -1;
        for (int i = 0; i < 1024; i++) {
            int fd = accept4(http->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0)
                break;
            refuse_fd(fd, "the server is out of file descriptors; try again later");
            close(fd);
            refused++;
        }
        http->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    if (ratelog_hit(&http->log_emfile, (unsigned long)refused)) {
        bh_log(BH_LOG_ERROR, NULL,
               "out of file descriptors (accept: %s; %d connection(s), RLIMIT_NOFILE): %lu "
               "connection(s) refused%s; raise the limit or lower --max-connections",
               strerror(err), http->nconns, http->log_emfile.count,
               http->reserve_fd < 0 ? " (no reserve descriptor left)" : "");
        http->log_emfile.count = 0;
    }
}

/* The http server whose library messages go through http_log_cb (one per
 * process: the library's log hook takes no context). */
static struct bh_http *log_http;

void http_log_cb(int level, const char *line)
{
    /* accept() failed: at the descriptor limit, handled (and logged at a
     * bounded rate) there; other errors are logged once per LOG_EVERY_S */
    const char *acc = strstr(line, "accept: errno ");
    if (acc && log_http) {
        int e = atoi(acc + 14);
        if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
            at_fd_limit(log_http, e);
            return;
        }
        if (!ratelog_hit(&log_http->log_emfile, 0))
            return;
    }
    /* libwebsockets' own warnings and errors; one line, already formatted */
    fprintf(stderr, "{\"level\":\"%s\",\"msg\":\"lws: ", level == LLL_ERR ? "error" : "warn");
    for (const char *p = line; *p; p++) {
        if (*p == '\n')
            continue;
        if (*p == '"' || *p == '\\')
            fputc('\\', stderr);
        fputc((unsigned char)*p < 0x20 ? ' ' : *p, stderr);
    }
    fputs("\"}\n", stderr);
}

/* Our listening socket (the library does not hand it out before its
 * first accept), or -1. */
static int find_listen_fd(int port)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int found = -1;
    struct dirent *e;
    while (found < 0 && (e = readdir(d))) {
        int fd = atoi(e->d_name), on = 0;
        socklen_t ol = sizeof on;
        struct sockaddr_storage sa;
        socklen_t sl = sizeof sa;
        if (e->d_name[0] < '0' || e->d_name[0] > '9' ||
            getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &ol) < 0 || !on ||
            getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
            continue;
        int p = sa.ss_family == AF_INET    ? ntohs(((struct sockaddr_in *)&sa)->sin_port)
                : sa.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&sa)->sin6_port)
                                           : -1;
        if (p == port)
            found = fd;
    }
    closedir(d);
    return found;
}

void http_front_start(struct bh_http *http)
{
    http->listen_fd = find_listen_fd(http->port);
    log_http = http;
}

void http_front_free(struct bh_http *http)
{
    if (log_http == http)
        log_http = NULL;
    for (int b = 0; b < CONN_BUCKETS; b++) {
        while (http->conns[b]) {
            struct conn *c = http->conns[b];
            http->conns[b] = c->next;
            free(c);
        }
        while (http->peers[b]) {
            struct peer *p = http->peers[b];
            http->peers[b] = p->next;
            free(p);
        }
    }
    if (http->reserve_fd >= 0)
        close(http->reserve_fd);
}
