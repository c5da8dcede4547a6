/* workers.h — a small fixed pool of threads for the blocking steps of the
 * sandbox life cycle (runtime calls, namespace and link setup). A job's work
 * function runs on a worker; its done function then runs on the loop thread.
 * The pool is not per session: a burst of creates queues here.
 *
 * Jobs wait in lanes, one queue per kind of job, and a free worker takes
 * the lanes' heads in turn (round robin over the lanes that hold a job), so
 * no lane starves another: with every worker busy, a job at the head of its
 * lane starts at the latest after one job of each other lane. A burst of
 * session stops (deletes) thus delays a start by at most one stop per
 * worker that frees up, and the other way round. Within a lane, jobs start
 * in the order they were submitted.
 *
 * Thread ownership — who may touch what:
 *   - The loop thread owns all daemon state: sessions and their manager,
 *     the store (SQLite), the HTTP front, watches, timers, the API, and
 *     this pool's own bookkeeping. Every function below is called on the
 *     loop thread, and every done function runs there.
 *   - A worker owns only the job its work function was given (the `arg`
 *     passed to bh_workers_submit*), from the moment the work function
 *     starts until it returns; then `arg` belongs to the loop thread again,
 *     and done(arg) runs there. The loop thread does not touch `arg` while
 *     the work runs (submitting hands it over).
 *   - A work function may: read and write its job; read what is set before
 *     the pool starts and never changes while it runs (the configuration,
 *     paths, and fields copied into the job); call the modules documented
 *     as callable off the loop (sandbox, net, userns: blocking, and
 *     thread-safe where they say so); log (bh_log); and bh_loop_wake.
 *   - A work function must not: touch a session or the session manager's
 *     mutable fields, the store, the HTTP front or any request, WebSocket,
 *     watch, timer or a kind's channel; submit jobs; or call anything in loop.h
 *     but bh_loop_wake. What it finds out goes into the job, for done to
 *     apply on the loop thread. */
#ifndef BH_WORKERS_H
#define BH_WORKERS_H

#include "lib/loop.h"

typedef struct bh_workers bh_workers_t;

/* The lanes (see above). */
enum bh_job_lane {
    BH_LANE_DEFAULT, /* bh_workers_submit */
    BH_LANE_START,   /* bringing a session up */
    BH_LANE_STOP,    /* tearing a session down */
    BH_LANE_COUNT
};

/* nthreads workers whose done functions run on loop (the pool
 * subscribes to its wake-ups). */
bh_workers_t *bh_workers_new(bh_loop_t *loop, int nthreads);
/* Queue work(arg) on the default lane; done(arg) (may be NULL) follows on
 * the loop thread. */
void bh_workers_submit(bh_workers_t *w, void (*work)(void *), void (*done)(void *), void *arg);
/* The same on a lane of its own. */
void bh_workers_submit_lane(bh_workers_t *w, enum bh_job_lane lane, void (*work)(void *),
                            void (*done)(void *), void *arg);
/* Jobs queued or running. */
int bh_workers_busy(const bh_workers_t *w);
/* Finish queued jobs, join the threads. Done callbacks of jobs still pending
 * are run before returning. */
void bh_workers_free(bh_workers_t *w);

#endif
