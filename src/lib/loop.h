/* loop.h — the daemon's one event loop: fd watches, timers, cross-thread
 * wake-ups. loop.c runs it on the HTTP/WebSocket library's own poll loop and
 * owns the library's context; the HTTP front (src/http) serves its listening
 * socket on it, so that HTTP, WebSockets, the sessions' channels, child exits and timers
 * share one poll(). Every callback runs on the loop thread, and every
 * function here but bh_loop_wake and bh_loop_stop is for the loop thread
 * only. */
#ifndef BH_LOOP_H
#define BH_LOOP_H

#include <stdint.h>

#include "lib/err.h"

typedef struct bh_loop bh_loop_t;
typedef struct bh_watch bh_watch_t;
typedef struct bh_timer bh_timer_t;

/* Called when the fd is readable (events & 1), writable (events & 2) or hung
 * up (events & 4; after this the watch is gone and the fd closed). */
typedef void (*bh_watch_cb)(void *arg, bh_watch_t *w, int events);
enum { BH_WATCH_READ = 1, BH_WATCH_WRITE = 2, BH_WATCH_HUP = 4 };

/* Watch fd (which the watch then owns and closes). Read interest is on; write
 * interest is requested per need with bh_watch_want_write. NULL on failure. */
bh_watch_t *bh_watch_add(bh_loop_t *loop, int fd, bh_watch_cb cb, void *arg);
void bh_watch_want_write(bh_watch_t *w);
int bh_watch_fd(const bh_watch_t *w);
/* Stop watching and close the fd; no callback is delivered after this. */
void bh_watch_remove(bh_watch_t *w);

typedef void (*bh_timer_cb)(void *arg);
/* One-shot timer; re-arm with bh_timer_set. */
bh_timer_t *bh_timer_new(bh_loop_t *loop, bh_timer_cb cb, void *arg);
void bh_timer_set(bh_timer_t *t, int64_t ms);
void bh_timer_cancel(bh_timer_t *t);
void bh_timer_free(bh_timer_t *t);

struct bh_loop_config {
    /* Seconds the library gives a connection's next step: a request body's
     * next piece, a closing connection's flush, a new connection's start.
     * Give it the HTTP front's body_timeout (then the front's own deadline
     * for a whole body is the one that counts). 0: 30. */
    int io_timeout;
};

/* A loop with nothing to watch yet. cfg may be NULL (defaults). NULL on
 * failure. */
bh_loop_t *bh_loop_new(const struct bh_loop_config *cfg, bh_err_t *err);
/* Run until bh_loop_stop(); -1 if the loop failed. */
int bh_loop_run(bh_loop_t *loop);
/* Close what is still watched (each watch's callback sees BH_WATCH_HUP)
 * and every connection of the HTTP front on it, and free the loop. Timers
 * must be freed before; the HTTP front may be freed before or after. */
void bh_loop_free(bh_loop_t *loop);

/* Thread-safe: make the loop call every wake subscriber soon, on the loop
 * thread. Wake-ups may merge: one round of calls can answer several. */
void bh_loop_wake(bh_loop_t *loop);
/* Subscribe cb(arg) to wake-ups (any number of subscribers; each is called
 * once per round, in the order they subscribed; the same cb and arg again
 * is a no-op). A subscriber added inside a round is first called in the
 * next one. Loop thread only. */
void bh_loop_on_wake(bh_loop_t *loop, void (*cb)(void *arg), void *arg);
/* Remove the subscription (cb, arg); it is not called after this returns,
 * even when removed inside a round. No-op if there is none. */
void bh_loop_off_wake(bh_loop_t *loop, void (*cb)(void *arg), void *arg);

/* One pass of the loop: runs the timers that are due, waits for the next
 * fd event, wake-up (bh_loop_wake before it makes it return at once) or
 * timer, and handles what is ready. For tests and fuzzers that drive the
 * loop step by step. -1 if the loop failed. */
int bh_loop_step(bh_loop_t *loop);

/* Leave bh_loop_run() at the next iteration. Thread-safe. */
void bh_loop_stop(bh_loop_t *loop);

/* Base64 decode; returns decoded length or -1. out must hold in_len*3/4+3. */
int bh_b64_decode(const char *in, int in_len, char *out, int out_size);

#endif
