/* fake.c — see fake.h. */
#include "backend/fake/fake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/util.h"

#define FAKE_MAX 64

struct bh_fake {
    struct bh_backend base; /* first */
    bh_loop_t *loop;
    struct bh_fake_script script;
    struct bh_fake_calls calls;
    struct bh_fake_sess sess[FAKE_MAX];
    /* the events of each running session */
    const struct bh_backend_events *ev[FAKE_MAX];
    void *arg[FAKE_MAX];
    struct pending *pending;
};

/* A start or stop whose answer is due. */
struct pending {
    struct pending *next;
    struct bh_fake *f;
    bh_timer_t *timer;
    int slot;
    int stop;
    int chan_in, chan_out;
    void (*done)(void *arg, const bh_err_t *err);
    void *arg;
};

static int slot_of(struct bh_fake *f, const char *id, int make)
{
    for (int i = 0; i < FAKE_MAX; i++)
        if (f->sess[i].id[0] && !strcmp(f->sess[i].id, id))
            return i;
    if (!make)
        return -1;
    for (int i = 0; i < FAKE_MAX; i++)
        if (!f->sess[i].id[0]) {
            memset(&f->sess[i], 0, sizeof f->sess[i]);
            snprintf(f->sess[i].id, sizeof f->sess[i].id, "%s", id);
            f->sess[i].peer = -1;
            return i;
        }
    abort();
}

static void pending_unlink(struct pending *p)
{
    for (struct pending **pp = &p->f->pending; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
}

static void answer(void *arg)
{
    struct pending *p = arg;
    struct bh_fake *f = p->f;
    pending_unlink(p);
    bh_timer_free(p->timer);
    struct bh_fake_sess *fs = &f->sess[p->slot];
    if (p->stop) {
        fs->running = 0;
        bh_closep(&fs->peer);
        p->done(p->arg, NULL);
    } else if (f->script.fail_start) {
        fs->running = 0;
        bh_closep(&fs->peer);
        bh_err_t err = BH_ERR_INIT;
        bh_err_set(&err, 0, "the fake backend was told to fail");
        f->ev[p->slot]->started(f->arg[p->slot], NULL, &err);
        bh_err_clear(&err);
    } else {
        struct bh_started st;
        memset(&st, 0, sizeof st);
        snprintf(st.where.runtime, sizeof st.where.runtime, "fake");
        snprintf(st.where.container_id, sizeof st.where.container_id, "fake-%s", fs->id);
        snprintf(st.where.addr, sizeof st.where.addr, "192.0.2.%d", p->slot + 1);
        st.chan_in = p->chan_in;
        st.chan_out = p->chan_out;
        f->ev[p->slot]->started(f->arg[p->slot], &st, NULL);
    }
    free(p);
}

static void schedule(struct bh_fake *f, struct pending *p, int ms)
{
    p->f = f;
    p->timer = bh_timer_new(f->loop, answer, p);
    p->next = f->pending;
    f->pending = p;
    bh_timer_set(p->timer, ms);
}

static void fake_start(bh_backend_t *b, const struct bh_launch *l,
                       const struct bh_backend_events *ev, void *arg)
{
    struct bh_fake *f = (struct bh_fake *)b;
    f->calls.start++;
    int i = slot_of(f, l->id, 1);
    struct bh_fake_sess *fs = &f->sess[i];
    fs->running = 1;
    free(fs->settings);
    fs->settings = l->settings ? bh_xstrdup(l->settings) : NULL;
    f->ev[i] = ev;
    f->arg[i] = arg;
    struct pending *p = bh_xcalloc(1, sizeof *p);
    p->slot = i;
    p->chan_in = p->chan_out = -1;
    if (l->proc->channel && !f->script.channel_none) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
            abort();
        p->chan_in = sv[0];
        p->chan_out = dup(sv[0]);
        fs->peer = sv[1];
    }
    schedule(f, p, f->script.start_ms);
}

static void fake_forget(bh_backend_t *b, const char *id)
{
    struct bh_fake *f = (struct bh_fake *)b;
    f->calls.forget++;
    int i = slot_of(f, id, 0);
    if (i >= 0)
        f->ev[i] = NULL;
}

static void fake_stop(bh_backend_t *b, const char *id, void (*done)(void *arg, const bh_err_t *err),
                      void *arg)
{
    struct bh_fake *f = (struct bh_fake *)b;
    f->calls.stop++;
    struct pending *p = bh_xcalloc(1, sizeof *p);
    p->slot = slot_of(f, id, 1);
    p->stop = 1;
    p->done = done;
    p->arg = arg;
    f->ev[p->slot] = NULL;
    schedule(f, p, f->script.stop_ms);
}

static int fake_usage(bh_backend_t *b, const char *id, struct bh_usage *u)
{
    struct bh_fake *f = (struct bh_fake *)b;
    f->calls.usage++;
    int i = slot_of(f, id, 0);
    if (i < 0 || !f->sess[i].running)
        return -1;
    u->memory_bytes = 1000 * (i + 1);
    u->cpu_usec = 2000000;
    u->oom_kills = 0;
    u->pids = 3;
    return 0;
}

static int fake_put_file(bh_backend_t *b, const char *id, const char *dir, const char *name,
                         const void *data, size_t len, bh_err_t *err)
{
    struct bh_fake *f = (struct bh_fake *)b;
    (void)dir, (void)name, (void)data, (void)len;
    f->calls.put_file++;
    int i = slot_of(f, id, 0);
    if (i < 0 || !f->sess[i].running)
        return bh_err_kind_set(err, BH_E_NOT_READY, "not running");
    return 0;
}

static char *fake_load_settings(bh_backend_t *b, const char *id, bh_err_t *err)
{
    struct bh_fake *f = (struct bh_fake *)b;
    int i = slot_of(f, id, 0);
    if (i < 0 || !f->sess[i].settings) {
        bh_err_set(err, 0, "no settings of %s", id);
        return NULL;
    }
    return bh_xstrdup(f->sess[i].settings);
}

static int fake_adopt(bh_backend_t *b, const char *id, const struct bh_placement *where,
                      const struct bh_net_policy *policy, const struct bh_backend_events *ev,
                      void *arg, struct bh_started *out, int *crashed, bh_err_t *err)
{
    struct bh_fake *f = (struct bh_fake *)b;
    (void)policy;
    f->calls.adopt++;
    int i = slot_of(f, id, 0);
    *crashed = 0;
    if (i < 0 || !f->sess[i].running) {
        *crashed = 1;
        return bh_err_set(err, 0, "its process exited while the daemon was down");
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
        abort();
    bh_closep(&f->sess[i].peer);
    f->sess[i].peer = sv[1];
    f->ev[i] = ev;
    f->arg[i] = arg;
    out->where = *where;
    out->chan_in = sv[0];
    out->chan_out = dup(sv[0]);
    return 0;
}

static void fake_reap(bh_backend_t *b, const char *id)
{
    struct bh_fake *f = (struct bh_fake *)b;
    f->calls.reap++;
    int i = slot_of(f, id, 0);
    if (i >= 0) {
        f->sess[i].running = 0;
        bh_closep(&f->sess[i].peer);
    }
}

static int fake_sweep(bh_backend_t *b, int (*held)(void *arg, const char *id),
                      int (*ours)(void *arg, const char *id), void *arg, bh_err_t *err)
{
    struct bh_fake *f = (struct bh_fake *)b;
    (void)ours, (void)err;
    int n = 0;
    for (int i = 0; i < FAKE_MAX; i++)
        if (f->sess[i].id[0] && f->sess[i].running && !held(arg, f->sess[i].id)) {
            fake_reap(b, f->sess[i].id);
            n++;
        }
    return n;
}

static void fake_readiness(bh_backend_t *b, json_t *checks, int *ready)
{
    (void)b, (void)ready;
    json_object_set_new(checks, "fake", json_string("ok"));
}

static void fake_free(bh_backend_t *b)
{
    struct bh_fake *f = (struct bh_fake *)b;
    while (f->pending) {
        struct pending *p = f->pending;
        pending_unlink(p);
        bh_timer_free(p->timer);
        bh_closep(&p->chan_in);
        bh_closep(&p->chan_out);
        free(p);
    }
    for (int i = 0; i < FAKE_MAX; i++) {
        bh_closep(&f->sess[i].peer);
        free(f->sess[i].settings);
    }
    free(f);
}

static const struct bh_backend_ops fake_ops = {
    .name = "fake",
    .start = fake_start,
    .forget = fake_forget,
    .stop = fake_stop,
    .usage = fake_usage,
    .put_file = fake_put_file,
    .load_settings = fake_load_settings,
    .adopt = fake_adopt,
    .sweep = fake_sweep,
    .reap = fake_reap,
    .readiness = fake_readiness,
    .free = fake_free,
};

bh_backend_t *bh_fake_new(bh_loop_t *loop, bh_fake_t **out)
{
    struct bh_fake *f = bh_xcalloc(1, sizeof *f);
    f->base.ops = &fake_ops;
    f->loop = loop;
    for (int i = 0; i < FAKE_MAX; i++)
        f->sess[i].peer = -1;
    *out = f;
    return &f->base;
}

struct bh_fake_script *bh_fake_script(bh_fake_t *f) { return &f->script; }
const struct bh_fake_calls *bh_fake_calls(bh_fake_t *f) { return &f->calls; }

struct bh_fake_sess *bh_fake_find(bh_fake_t *f, const char *id)
{
    int i = slot_of(f, id, 0);
    return i < 0 ? NULL : &f->sess[i];
}

int bh_fake_running(bh_fake_t *f)
{
    int n = 0;
    for (int i = 0; i < FAKE_MAX; i++)
        n += f->sess[i].id[0] && f->sess[i].running;
    return n;
}

int bh_fake_exit(bh_fake_t *f, const char *id, const char *what)
{
    int i = slot_of(f, id, 0);
    if (i < 0 || !f->sess[i].running || !f->ev[i])
        return -1;
    f->sess[i].running = 0;
    bh_closep(&f->sess[i].peer);
    const struct bh_backend_events *ev = f->ev[i];
    f->ev[i] = NULL;
    ev->exited(f->arg[i], what);
    return 0;
}

void bh_fake_leftover(bh_fake_t *f, const char *id, int running, const char *settings)
{
    int i = slot_of(f, id, 1);
    f->sess[i].running = running;
    free(f->sess[i].settings);
    f->sess[i].settings = settings ? bh_xstrdup(settings) : NULL;
}
