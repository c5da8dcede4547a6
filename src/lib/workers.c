/* workers.c — see workers.h. */
#include "lib/workers.h"

#include <pthread.h>
#include <stdlib.h>

#include "lib/util.h"

struct job {
    struct job *next;
    void (*work)(void *);
    void (*done)(void *);
    void *arg;
};

struct lane {
    struct job *head, **tail;
};

struct bh_workers {
    bh_loop_t *loop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct lane lanes[BH_LANE_COUNT];
    int queued;    /* jobs in the lanes */
    int next_lane; /* the lane whose turn it is */
    struct job *finished, **fin_tail;
    int busy;
    int stop;
    int n;
    pthread_t *threads;
};

/* Under w->mu, with a job queued: the head of the first lane, from the one
 * whose turn it is, that holds a job; the turn passes to the lane after. */
static struct job *take_job(struct bh_workers *w)
{
    for (int k = 0; k < BH_LANE_COUNT; k++) {
        int i = (w->next_lane + k) % BH_LANE_COUNT;
        struct lane *l = &w->lanes[i];
        struct job *j = l->head;
        if (!j)
            continue;
        l->head = j->next;
        if (!l->head)
            l->tail = &l->head;
        w->queued--;
        w->next_lane = (i + 1) % BH_LANE_COUNT;
        return j;
    }
    return NULL;
}

static void *worker_main(void *arg)
{
    struct bh_workers *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->queued && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        struct job *j = w->queued ? take_job(w) : NULL;
        if (!j)
            break;
        pthread_mutex_unlock(&w->mu);
        j->work(j->arg);
        pthread_mutex_lock(&w->mu);
        j->next = NULL;
        *w->fin_tail = j;
        w->fin_tail = &j->next;
        bh_loop_wake(w->loop);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* On the loop thread: run the done callbacks of finished jobs. */
static void on_wake(void *arg)
{
    struct bh_workers *w = arg;
    pthread_mutex_lock(&w->mu);
    struct job *j = w->finished;
    w->finished = NULL;
    w->fin_tail = &w->finished;
    pthread_mutex_unlock(&w->mu);
    while (j) {
        struct job *next = j->next;
        w->busy--;
        if (j->done)
            j->done(j->arg);
        free(j);
        j = next;
    }
}

bh_workers_t *bh_workers_new(bh_loop_t *loop, int n)
{
    struct bh_workers *w = bh_xcalloc(1, sizeof *w);
    w->loop = loop;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    for (int i = 0; i < BH_LANE_COUNT; i++)
        w->lanes[i].tail = &w->lanes[i].head;
    w->fin_tail = &w->finished;
    w->n = n;
    w->threads = bh_xcalloc((size_t)n, sizeof(pthread_t));
    for (int i = 0; i < n; i++)
        pthread_create(&w->threads[i], NULL, worker_main, w);
    bh_loop_on_wake(loop, on_wake, w);
    return w;
}

void bh_workers_submit(bh_workers_t *w, void (*work)(void *), void (*done)(void *), void *arg)
{
    bh_workers_submit_lane(w, BH_LANE_DEFAULT, work, done, arg);
}

void bh_workers_submit_lane(bh_workers_t *w, enum bh_job_lane lane, void (*work)(void *),
                            void (*done)(void *), void *arg)
{
    if ((unsigned)lane >= BH_LANE_COUNT)
        lane = BH_LANE_DEFAULT;
    struct job *j = bh_xcalloc(1, sizeof *j);
    j->work = work;
    j->done = done;
    j->arg = arg;
    w->busy++;
    pthread_mutex_lock(&w->mu);
    struct lane *l = &w->lanes[lane];
    *l->tail = j;
    l->tail = &j->next;
    w->queued++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int bh_workers_busy(const bh_workers_t *w) { return w->busy; }

void bh_workers_free(bh_workers_t *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
    bh_loop_off_wake(w->loop, on_wake, w);
    on_wake(w);
    free(w->threads);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}
