/* workers.h — a small fixed pool of threads for the blocking steps of the
 * sandbox life cycle (runtime calls, namespace and link setup). A job's work
 * function runs on a worker; its done function then runs on the loop thread.
 * The pool is not per session: a burst of creates queues here. */
#ifndef BH_WORKERS_H
#define BH_WORKERS_H

#include "lib/loop.h"

typedef struct bh_workers bh_workers_t;

bh_workers_t *bh_workers_new(bh_loop_t *loop, int nthreads);
void bh_workers_submit(bh_workers_t *w, void (*work)(void *), void (*done)(void *), void *arg);
/* Jobs queued or running. */
int bh_workers_busy(const bh_workers_t *w);
/* Finish queued jobs, join the threads. Done callbacks of jobs still pending
 * are run before returning. */
void bh_workers_free(bh_workers_t *w);

#endif
