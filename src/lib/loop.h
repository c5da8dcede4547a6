/* loop.h — the daemon's one event loop: fd watches, timers, cross-thread
 * wake-ups. Implemented in http.c on top of the HTTP/WebSocket library's own
 * loop, so that HTTP, WebSockets, CDP pipes, child exits and timers share one
 * poll(). Every callback runs on the loop thread. */
#ifndef BH_LOOP_H
#define BH_LOOP_H

#include <stdint.h>

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

/* Thread-safe: make the loop call the wake callback (registered with
 * bh_loop_on_wake) soon, on the loop thread. */
void bh_loop_wake(bh_loop_t *loop);
void bh_loop_on_wake(bh_loop_t *loop, void (*cb)(void *arg), void *arg);

/* One pass of the loop: runs the timers that are due, waits for the next
 * fd event, wake-up (bh_loop_wake before it makes it return at once) or
 * timer, and handles what is ready. For tests and fuzzers that drive the
 * loop step by step. -1 if the loop failed. */
int bh_loop_step(bh_loop_t *loop);

/* Leave bh_http_run() at the next iteration. */
void bh_loop_stop(bh_loop_t *loop);

/* Base64 decode; returns decoded length or -1. out must hold in_len*3/4+3. */
int bh_b64_decode(const char *in, int in_len, char *out, int out_size);

#endif
