/* test_loop.c — the event loop's wake-ups: every subscriber is called after
 * a bh_loop_wake (there was one wake callback, and a second registration
 * replaced the first), in the order they subscribed; one removed, even
 * inside a round, is called no more; one added inside a round waits for the
 * next. Wake-ups come from another thread too. Driven pass by pass
 * (bh_loop_step); a hang is caught by a watchdog, which fails the test. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "lib/loop.h"
#include "t.h"

static bh_loop_t *loop;
static int calls[4];
static char order[16];
static int norder;

static void note(int i)
{
    calls[i]++;
    if (norder < (int)sizeof order - 1)
        order[norder++] = (char)('a' + i);
}

static void sub_a(void *arg)
{
    (void)arg;
    note(0);
}
static void sub_b(void *arg)
{
    (void)arg;
    note(1);
}
static void sub_d(void *arg)
{
    (void)arg;
    note(3);
}
/* c removes b (after it in the list) and adds d during the round (again
 * in later rounds: subscribing twice is a no-op) */
static void sub_c(void *arg)
{
    (void)arg;
    note(2);
    bh_loop_off_wake(loop, sub_b, NULL);
    bh_loop_on_wake(loop, sub_d, NULL);
}

static void round_(void)
{
    norder = 0;
    order[0] = 0;
    bh_loop_wake(loop);
    bh_loop_step(loop);
    order[norder] = 0;
}

static void *waker(void *arg)
{
    (void)arg;
    bh_loop_wake(loop);
    return NULL;
}

static void wedged(int sig)
{
    (void)sig;
    static const char why[] = "test_loop: a wake-up never came\n";
    static const char summary[] = "0 passed, 1 failed\n";
    if (write(2, why, sizeof why - 1) < 0 || write(1, summary, sizeof summary - 1) < 0)
        _exit(1);
    _exit(1);
}

int main(void)
{
    signal(SIGALRM, wedged);
    alarm(60);
    bh_err_t err = BH_ERR_INIT;
    loop = bh_loop_new(NULL, &err);
    CHECK(loop != NULL);
    if (!loop)
        return T_DONE();

    /* negative control: no subscriber, a wake-up still ends the pass */
    round_();
    CHECK(norder == 0);

    bh_loop_on_wake(loop, sub_a, NULL);
    bh_loop_on_wake(loop, sub_b, NULL);
    round_();
    CHECK_STR(order, "ab");

    /* removed: called no more; the other one still is */
    bh_loop_off_wake(loop, sub_a, NULL);
    round_();
    CHECK_STR(order, "b");
    bh_loop_off_wake(loop, sub_a, NULL); /* not subscribed: no-op */
    bh_loop_on_wake(loop, sub_a, NULL);
    round_();
    CHECK_STR(order, "ba");

    /* c, called before b, removes b and adds d in the round: b is not
     * called in it, d first in the next */
    bh_loop_off_wake(loop, sub_b, NULL);
    bh_loop_on_wake(loop, sub_c, NULL);
    bh_loop_on_wake(loop, sub_b, NULL);
    round_();
    CHECK_STR(order, "ac");
    round_();
    CHECK_STR(order, "acd");
    CHECK(calls[1] == 3); /* "ab", "b", "ba" */

    /* from another thread */
    bh_loop_off_wake(loop, sub_c, NULL);
    pthread_t t;
    pthread_create(&t, NULL, waker, NULL);
    pthread_join(t, NULL);
    norder = 0;
    bh_loop_step(loop);
    order[norder] = 0;
    CHECK_STR(order, "ad");

    bh_loop_free(loop);
    return T_DONE();
}
