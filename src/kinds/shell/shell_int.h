/* shell_int.h — what the shell kind's files share (kinds/shell/ only):
 * the per-session state, the channel to the agent (chan.c), the terminal
 * (term.c), and the requests that become streams (ops.c). */
#ifndef BH_SHELL_INT_H
#define BH_SHELL_INT_H

#include <stdint.h>

#include "http/http.h"
#include "kinds/kind.h"
#include "kinds/shell/wire.h"
#include "lib/loop.h"

struct shell_buf {
    char *p;
    size_t len, cap;
};
void shell_buf_add(struct shell_buf *b, const void *d, size_t n);
void shell_buf_drop(struct shell_buf *b, size_t n);
void shell_buf_free(struct shell_buf *b);

/* A lab (labs.c): what its folder holds. */
struct shell_lab {
    char *name, *title, *description;
    int time_limit; /* seconds; 0: none of its own */
    uint64_t workspace_bytes;
    char *setup, *check; /* the scripts' text (setup may be NULL) */
    json_t *network;     /* lab.json's "network", or NULL */
};
/* Read lab name from dir: 0, or -1 and err (BH_E_NOT_FOUND, BH_E_INVALID). */
int shell_lab_load(const char *dir, const char *name, struct shell_lab *lab, bh_err_t *err);
void shell_lab_clear(struct shell_lab *lab);

/* One request in flight: a stream of the agent's. */
struct shell_op;
typedef void (*shell_op_frame_cb)(struct shell_op *op, int type, const char *data, size_t len);

struct shell_op {
    uint32_t id;
    struct shell *sh;
    shell_op_frame_cb frame; /* its answers; the last is A_EXIT or A_ERROR */
    /* Called when the session detaches with the op in flight (then freed). */
    void (*abort)(struct shell_op *op);
    void *arg;
    /* Set by the op while it waits for room in the queue to the agent
     * (an upload paused): drained(op) once the queue is low again. */
    int wants_drain;
    void (*drained)(struct shell_op *op);
    struct shell_op *next;
};

struct viewer;

struct shell {
    bh_session_t *s;
    const struct bh_session_ops *so;
    uint64_t workspace_bytes;
    char *lab;   /* its name, or NULL */
    char *setup; /* the lab's setup script, run once at attach (NULL: none) */
    int adopted;
    /* the channel */
    bh_watch_t *wr, *rd;
    struct shell_buf out, in;
    size_t out_off; /* what of out was written */
    int synced;     /* 0 after adoption until the agent answered our HELLO */
    char nonce[33];
    uint32_t next_id;
    struct shell_op *ops;
    int up; /* the agent said A_READY (or answered the HELLO) */
    /* the terminal */
    struct viewer *viewers;
    int tty_open, tty_paused;
    struct shell_buf scroll; /* the last output, for new viewers */
    /* counters (metrics) */
    unsigned long long execs, checks, bytes_in, bytes_out;
};

/* chan.c */
int shell_chan_open(struct shell *sh, int fd_in, int fd_out);
void shell_chan_close(struct shell *sh);
/* Queue a frame (data split into frames as needed). */
void shell_send(struct shell *sh, int type, uint32_t id, const void *data, size_t len);
/* Bytes waiting to go to the agent. */
size_t shell_send_queued(const struct shell *sh);
/* A new op on the next stream id (linked in; freed by shell_op_end). */
struct shell_op *shell_op_new(struct shell *sh, shell_op_frame_cb frame,
                              void (*abort)(struct shell_op *), void *arg);
void shell_op_end(struct shell_op *op);
/* Fail every op (detach). */
void shell_ops_abort(struct shell *sh);

/* Records: "k=v\0" strings. */
void shell_rec_add(struct shell_buf *b, const char *key, const char *val);
const char *shell_rec_get(const char *rec, size_t len, const char *key);
long long shell_rec_num(const char *rec, size_t len, const char *key, long long def);

/* term.c */
void shell_term_accept(struct shell *sh, bh_req_t *req, int input);
void shell_term_output(struct shell *sh, const char *data, size_t len);
void shell_term_exit(struct shell *sh, const char *rec, size_t len);
void shell_term_close_all(struct shell *sh, int code, const char *why);
int shell_term_viewers(const struct shell *sh);

/* ops.c and files.c: the routes */
void shell_serve_exec(void *k, bh_req_t *req, const struct bh_route_call *c);
void shell_serve_exec_ws(void *k, bh_req_t *req, const struct bh_route_call *c);
void shell_serve_files_get(void *k, bh_req_t *req, const struct bh_route_call *c);
void shell_serve_files_put(void *k, bh_req_t *req, const struct bh_route_call *c);
void shell_serve_files_del(void *k, bh_req_t *req, const struct bh_route_call *c);
void shell_serve_check(void *k, bh_req_t *req, const struct bh_route_call *c);
/* The lab's check script of the session, read now (caller frees), or NULL. */
char *shell_check_script(struct shell *sh);
/* Run the lab's setup at attach; ready (or failed) when it ends. */
void shell_run_setup(struct shell *sh);

/* ops.c: shared with files.c */
int shell_not_ready(struct shell *sh, bh_req_t *req, const struct bh_route_call *c);
void shell_reply_agent_err(bh_req_t *req, const struct bh_route_call *c, const char *rec,
                           size_t len, int exec);
/* Text with every byte that is not UTF-8 as U+FFFD (caller frees). */
char *shell_utf8_clean(const char *s, size_t n, size_t *out_len);

/* The error of a route as the API shows it. */
void shell_reply_err(bh_req_t *req, const struct bh_route_call *c, enum bh_err_kind kind,
                     const char *code, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
