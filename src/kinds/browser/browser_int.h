/* browser_int.h — internal to the browser kind (the files of kinds/browser/): a
 * session's browser state, and what kind.c (the kind's table, its create
 * body, JSON and routes) and driver.c (the daemon's own CDP use of the
 * browser) offer each other. */
#ifndef BH_BROWSER_INT_H
#define BH_BROWSER_INT_H

#include <stdlib.h>

#include "kinds/browser/cdp.h"
#include "kinds/browser/cdp_proxy.h"
#include "kinds/browser/live.h"
#include "kinds/kind.h"
#include "lib/util.h"

/* The browser kind's part of a create body. */
struct browser_opts {
    char *url; /* "about:blank" when not given */
    int viewport_w, viewport_h;
    int page_load_ms; /* pageLoadTimeout (seconds in the body) */
    struct bh_live_policy clip;
};

/* A screenshot (or later any daemon CDP operation) in flight. */
struct op {
    struct op *next;
    struct browser *b;
    int sent;     /* waits for the page attach while 0 */
    char sid[64]; /* the page's CDP session it was sent on */
    bh_req_t *req;
    void (*error)(bh_req_t *req, const bh_err_t *err, const char *code);
    bh_timer_t *timer; /* a hung capture must not hang the request */
};

/* A GET waiting for the page's current title and URL. */
struct refresh {
    struct refresh *next;
    struct browser *b;
    bh_timer_t *timer;
    void (*cb)(void *arg);
    void *arg;
};

struct browser {
    bh_session_t *s;
    const struct bh_session_ops *so; /* the session's services */
    struct bh_live_policy clip;
    int page_load_ms;
    bh_cdp_t *cdp;
    bh_cdp_proxy_t *proxy;  /* external CDP clients; while ready */
    bh_live_t *live;        /* the live view; while ready */
    json_t *version;        /* Browser.getVersion result */
    int closed_by_client;   /* a client sent Browser.close */
    int adopted;            /* a previous run's session, being re-attached */
    int awaiting_load;      /* first navigation sent; its load event makes it ready */
    int start_navigated;    /* the start navigated to its first page (timings) */
    int page_attached;      /* cdp_session is attached and Page is enabled */
    int page_crashes;       /* renderer crashes of its page (reloaded up to 3) */
    int replacing;          /* its page was closed: a new one is being opened */
    int refresh_inflight;   /* a Target.getTargetInfo for GETs is on its way */
    int64_t refreshed_at;   /* monotonic ms of its last answer */
    bh_timer_t *load_timer; /* the first page's load, once the browser is up */
    char target_id[64];
    char cdp_session[64];
    char *title;
    char *page_url;
    char *page_error;
    struct op *ops;
    struct refresh *refreshes;
    unsigned long long frames_done, bytes_done; /* of live views closed */
    struct bh_browser_cmd *cmd; /* its command line, while a start is being asked for */
};

/* *dst = a copy of v (or NULL), the old value freed. */
static inline void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? bh_xstrdup(v) : NULL;
}

/* driver.c */
/* Start driving the browser over its CDP channel (fds taken over). */
void browser_attach(struct browser *b, int fd_in, int fd_out, int adopted);
/* The session is ready: CDP clients and live viewers are accepted. */
void browser_ready(struct browser *b);
/* A pooled session was claimed (its row has the claim's url): load that
 * page as a start's first page, then kind_ready. */
void browser_claimed(struct browser *b);
/* Clients closed (code, why), the channel dropped, operations failed. */
void browser_detach(struct browser *b, int code, const char *why);
/* GET screenshot: the page as a PNG, or an error through op's error. */
void browser_screenshot(struct browser *b, bh_req_t *req,
                        void (*error)(bh_req_t *req, const bh_err_t *err, const char *code));
/* Bring title and URL up to date (one CDP round trip, at most 1 s). */
void browser_refresh(struct browser *b, void (*cb)(void *arg), void *arg);
/* The load timer of the first page (arg: the browser). */
void browser_load_timeout(void *arg);

#endif
