/* fake.h — a backend that runs nothing (backend/backend.h), for the
 * session state machine's unit tests: a start "runs" a session whose
 * channel is a socketpair the test holds the other end of; the test decides
 * when starts and stops answer, makes a process exit, and sees every call.
 * It keeps the backend's contract: results come later, on the loop. */
#ifndef BH_BACKEND_FAKE_H
#define BH_BACKEND_FAKE_H

#include "backend/backend.h"
#include "lib/loop.h"

typedef struct bh_fake bh_fake_t;

/* What the fake knows of one session id. */
struct bh_fake_sess {
    char id[40];
    int running;    /* started and not stopped */
    int peer;       /* the test's end of its channel (-1 none) */
    char *settings; /* what the start said to keep */
};

struct bh_fake_script {
    int start_ms;     /* starts answer after this long (0: the next loop pass) */
    int stop_ms;      /* stops likewise */
    int fail_start;   /* starts fail */
    int channel_none; /* no channel, even when asked */
};

bh_backend_t *bh_fake_new(bh_loop_t *loop, bh_fake_t **fake);
struct bh_fake_script *bh_fake_script(bh_fake_t *f);
/* Calls so far. */
struct bh_fake_calls {
    int start, stop, forget, adopt, reap, usage, put_file;
};
const struct bh_fake_calls *bh_fake_calls(bh_fake_t *f);
/* The session id's record, or NULL. */
struct bh_fake_sess *bh_fake_find(bh_fake_t *f, const char *id);
/* How many sessions are running. */
int bh_fake_running(bh_fake_t *f);
/* Make session id's process exit (what: how); 0, or -1 if none runs. */
int bh_fake_exit(bh_fake_t *f, const char *id, const char *what);
/* A session a previous run left: running (adopt succeeds) or not (the
 * process is gone), with settings (a create body). Recovery finds it. */
void bh_fake_leftover(bh_fake_t *f, const char *id, int running, const char *settings);

#endif
