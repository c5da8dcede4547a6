/* test_workers.c — the worker pool's lanes and its wake-ups, on a real
 * loop. Deletes must not starve creates: with the workers held busy, 50
 * stop jobs and then one start job are queued; once the workers are let go
 * the start job runs among the first BH_LANE_COUNT jobs (one FIFO queue ran
 * it 51st), and the other way round. Within a lane jobs keep their order.
 * Two pools on one loop both get their done callbacks (the loop had one
 * wake callback, which the second pool took over: the first pool's done
 * callbacks never ran). Nothing here depends on timing: the workers are
 * held by a gate and the order is read from a counter; a hang is caught by
 * a watchdog, which fails the test. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/loop.h"
#include "lib/workers.h"
#include "t.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int held;          /* workers waiting at the gate */
static int open_;         /* the gate is open */
static int ranked;        /* jobs past the gate that started, in order */
static int done;          /* done callbacks run */
static int done_off_loop; /* done callbacks that ran off the loop thread */
/* With several workers the order in which jobs start running is the
 * scheduler's, not the pool's: a picked job may start late. So there the
 * other lane's jobs wait at their start until the job of lane b_lane has
 * started. With lanes, one worker waits and another takes b's job; with one
 * FIFO queue every worker would wait behind lane a's jobs, and the
 * watchdog fails the test. */
static int a_waits_for_b;
static int b_lane, b_started;
static pthread_t loop_thread;

struct job {
    int lane;
    int seq;  /* order of submission within its lane */
    int rank; /* order in which it started */
};

static void hold_work(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    held++;
    pthread_cond_broadcast(&cv);
    while (!open_)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void rank_work(void *arg)
{
    struct job *j = arg;
    pthread_mutex_lock(&mu);
    j->rank = ranked++;
    if (j->lane == b_lane) {
        b_started = 1;
        pthread_cond_broadcast(&cv);
    }
    while (a_waits_for_b && j->lane != b_lane && !b_started)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void count_done(void *arg)
{
    (void)arg;
    if (!pthread_equal(pthread_self(), loop_thread))
        done_off_loop++;
    done++;
}

/* Hold all n workers of w at the gate (returns once they all wait). */
static void hold(bh_workers_t *w, int n)
{
    pthread_mutex_lock(&mu);
    held = 0;
    open_ = 0;
    ranked = 0;
    b_started = 0;
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < n; i++)
        bh_workers_submit(w, hold_work, count_done, NULL);
    pthread_mutex_lock(&mu);
    while (held < n)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void release(void)
{
    pthread_mutex_lock(&mu);
    open_ = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

/* Run the loop until `want` done callbacks ran in all. */
static void drain(bh_loop_t *loop, int want)
{
    while (done < want)
        if (bh_loop_step(loop) < 0)
            break;
}

/* Queue `before` jobs on lane a, then one on lane b, behind nthreads held
 * workers; let them go. Returns the rank of b's job; checks that a's jobs
 * started in their order when there is one worker. */
static int burst(bh_loop_t *loop, int nthreads, enum bh_job_lane a, int before, enum bh_job_lane b)
{
    bh_workers_t *w = bh_workers_new(loop, nthreads);
    done = 0;
    b_lane = b;
    a_waits_for_b = a != b && nthreads > 1;
    hold(w, nthreads);
    struct job *jobs = calloc((size_t)before + 1, sizeof *jobs);
    for (int i = 0; i < before; i++) {
        jobs[i] = (struct job){.lane = a, .seq = i, .rank = -1};
        bh_workers_submit_lane(w, a, rank_work, count_done, &jobs[i]);
    }
    jobs[before] = (struct job){.lane = b, .seq = 0, .rank = -1};
    bh_workers_submit_lane(w, b, rank_work, count_done, &jobs[before]);
    CHECK(bh_workers_busy(w) == nthreads + before + 1);
    release();
    drain(loop, nthreads + before + 1);
    CHECK(done == nthreads + before + 1);
    CHECK(bh_workers_busy(w) == 0);
    int in_order = 1;
    for (int i = 1; i < before; i++)
        if (jobs[i].rank < jobs[i - 1].rank)
            in_order = 0;
    if (nthreads == 1)
        CHECK(in_order);
    int rank = jobs[before].rank;
    free(jobs);
    bh_workers_free(w);
    return rank;
}

/* ---------------------------------------------------------------- two pools */

static int pool_done[2];
static void pool_done_cb(void *arg) { pool_done[*(int *)arg]++; }
static void nop_work(void *arg) { (void)arg; }

static void wedged(int sig)
{
    (void)sig;
    static const char why[] = "test_workers: a job or a done callback never came\n";
    static const char summary[] = "0 passed, 1 failed\n";
    if (write(2, why, sizeof why - 1) < 0 || write(1, summary, sizeof summary - 1) < 0)
        _exit(1);
    _exit(1);
}

int main(void)
{
    signal(SIGALRM, wedged);
    alarm(60); /* a hang guard, not a time limit: every wait here is a gate */
    loop_thread = pthread_self();
    bh_err_t err = BH_ERR_INIT;
    bh_loop_t *loop = bh_loop_new(NULL, &err);
    CHECK(loop != NULL);
    if (!loop)
        return T_DONE();

    /* negative control: one lane alone is first come, first served */
    int r = burst(loop, 1, BH_LANE_STOP, 20, BH_LANE_STOP);
    CHECK(r == 20);
    r = burst(loop, 1, BH_LANE_DEFAULT, 20, BH_LANE_DEFAULT);
    CHECK(r == 20);

    /* a delete burst does not starve a create, nor the other way round:
     * the last job of another lane starts after at most one job of each
     * other lane (one worker: exact order) */
    r = burst(loop, 1, BH_LANE_STOP, 50, BH_LANE_START);
    fprintf(stderr, "start behind 50 stops, 1 worker: rank %d\n", r);
    CHECK(r >= 0 && r < BH_LANE_COUNT);
    r = burst(loop, 1, BH_LANE_START, 50, BH_LANE_STOP);
    fprintf(stderr, "stop behind 50 starts, 1 worker: rank %d\n", r);
    CHECK(r >= 0 && r < BH_LANE_COUNT);
    r = burst(loop, 1, BH_LANE_STOP, 50, BH_LANE_DEFAULT);
    CHECK(r >= 0 && r < BH_LANE_COUNT);
    /* two workers: lane a's first job waits for b's, which the other worker
     * takes (rank 1, or 0 if it starts first) */
    r = burst(loop, 2, BH_LANE_STOP, 50, BH_LANE_START);
    fprintf(stderr, "start behind 50 stops, 2 workers: rank %d\n", r);
    CHECK(r >= 0 && r < BH_LANE_COUNT + 2);
    CHECK(done_off_loop == 0); /* every done callback ran on the loop thread */

    /* two pools on one loop: each gets its done callbacks; after the first
     * is freed (it unsubscribed), the second still does */
    static int ids[2] = {0, 1};
    bh_workers_t *p0 = bh_workers_new(loop, 1), *p1 = bh_workers_new(loop, 1);
    for (int i = 0; i < 5; i++) {
        bh_workers_submit(p0, nop_work, pool_done_cb, &ids[0]);
        bh_workers_submit(p1, nop_work, pool_done_cb, &ids[1]);
    }
    while (pool_done[0] < 5 || pool_done[1] < 5)
        if (bh_loop_step(loop) < 0)
            break;
    CHECK(pool_done[0] == 5);
    CHECK(pool_done[1] == 5);
    bh_workers_free(p0);
    bh_workers_submit(p1, nop_work, pool_done_cb, &ids[1]);
    while (pool_done[1] < 6)
        if (bh_loop_step(loop) < 0)
            break;
    CHECK(pool_done[0] == 5 && pool_done[1] == 6);
    bh_workers_free(p1);

    bh_loop_free(loop);
    return T_DONE();
}
