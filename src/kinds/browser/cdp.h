/* cdp.h — the Chrome DevTools Protocol over Chromium's debugging pipe
 * (--remote-debugging-pipe: we write NUL-terminated JSON to its fd 3 and read
 * NUL-terminated JSON from its fd 4). Owns both pipe ends. Every command gets
 * an id from one counter, so the daemon's own commands and (later) those of
 * external clients never collide; replies go to the callback given with the
 * command, everything else (events) to the event callback. */
#ifndef BH_CDP_H
#define BH_CDP_H

#include "lib/json.h"
#include "lib/loop.h"

typedef struct bh_cdp bh_cdp_t;

/* reply: the whole message ({"id","result"} or {"id","error"}), borrowed for
 * the call; NULL when the pipe closed before the reply came. */
typedef void (*bh_cdp_reply_cb)(void *arg, json_t *reply);
typedef void (*bh_cdp_event_cb)(void *arg, json_t *msg);
/* The browser closed the pipe (exited). Called once; free the cdp later. */
typedef void (*bh_cdp_closed_cb)(void *arg);

bh_cdp_t *bh_cdp_new(bh_loop_t *loop, int to_browser_fd, int from_browser_fd,
                     bh_cdp_event_cb on_event, bh_cdp_closed_cb on_closed, void *arg);

/* Send method(params) (params stolen, may be NULL) on the CDP session
 * session_id (NULL = browser). Returns the id used, or -1 if closed. */
long bh_cdp_call(bh_cdp_t *c, const char *method, json_t *params, const char *session_id,
                 bh_cdp_reply_cb cb, void *arg);
/* Send a message built by the caller (stolen); its "id" is replaced by a
 * fresh one, which is returned (-1 if closed). */
long bh_cdp_send(bh_cdp_t *c, json_t *msg, bh_cdp_reply_cb cb, void *arg);
/* Bytes as if read from the browser's pipe: every whole (NUL-ended)
 * message among them is dispatched now, the rest kept for what follows.
 * The pipe's reader calls this; the fuzzer feeds it directly. */
void bh_cdp_input(bh_cdp_t *c, const char *data, size_t len);
/* Number the following commands from id on (ids are below 2^31: Chromium
 * reads them as int). An adopted browser may still answer a previous
 * daemon's commands; a fresh range keeps those answers from matching ours. */
void bh_cdp_first_id(bh_cdp_t *c, long id);
/* Forget the callbacks whose arg is `arg` (their owner is going away). */
void bh_cdp_forget(bh_cdp_t *c, void *arg);
/* The loop the pipes are watched on. */
bh_loop_t *bh_cdp_loop(const bh_cdp_t *c);
/* Bytes queued toward the browser. */
size_t bh_cdp_queued(const bh_cdp_t *c);
/* Close the pipes; pending callbacks get NULL. Safe inside callbacks. */
void bh_cdp_free(bh_cdp_t *c);

#endif
