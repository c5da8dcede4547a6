/* test_session.c — the session state machine (session/) on the fake
 * backend (backend/fake/) with a kind of the test's own: create to ready
 * to deleted, ending while starting, a start that fails, a queue timeout,
 * start slots, a crash during attach and after ready, the start timeout,
 * adoption and clean-up after a restart, and shutdown that leaves sessions
 * running. Real loop, real SQLite store, no root, no processes: each case
 * runs in milliseconds. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/fake/fake.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "lib/metrics.h"
#include "kinds/kinds.h"
#include "lib/util.h"
#include "session/session.h"
#include "t.h"

/* ------------------------------------------------------------ the kind */

enum mode { READY_AT_ATTACH, WAIT };
static enum mode mode;
static int attached_n, detached_n, destroyed_n, adopted_n;

struct tk {
    bh_session_t *s;
    const struct bh_session_ops *so;
    bh_timer_t *t;
    int fd_in, fd_out;
};

static int tk_validate(json_t *body, const struct bh_config *cfg, void **opts,
                       struct bh_invalid *why)
{
    (void)body, (void)cfg, (void)why;
    *opts = bh_xstrdup("opts");
    return 0;
}

static const struct bh_session_ops *ops; /* the sessions' services */
static struct tk *last_tk;               /* the newest session's */

static void *tk_create(bh_session_t *s, const struct bh_session_ops *so, void *opts,
                       struct bh_session_row *row)
{
    free(opts);
    struct tk *k = bh_xcalloc(1, sizeof *k);
    last_tk = k;
    k->s = s;
    k->so = ops = so;
    k->fd_in = k->fd_out = -1;
    row->viewport_w = 1;
    return k;
}

static void tk_ready_now(void *arg)
{
    struct tk *k = arg;
    k->so->kind_ready(k->s);
}

static void tk_attach(void *kk, int fd_in, int fd_out, int adopted)
{
    struct tk *k = kk;
    attached_n++;
    adopted_n += adopted;
    k->fd_in = fd_in;
    k->fd_out = fd_out;
    if (mode == READY_AT_ATTACH || adopted) {
        k->t = bh_timer_new(k->so->loop(k->s), tk_ready_now, k);
        bh_timer_set(k->t, 0);
    }
}

static const char *const tk_argv[] = {"/bin/true", NULL};
static const char *const tk_env[] = {NULL};

static void tk_process(void *k, const struct bh_config *cfg, struct bh_process *p)
{
    (void)k, (void)cfg;
    p->argv = tk_argv;
    p->env = tk_env;
    p->uid = p->gid = 1000;
    p->channel = 1;
}

static void tk_process_free(void *k, struct bh_process *p) { (void)k, (void)p; }

/* The pool: opts "nofit" are settings a pooled session cannot serve. */
static int claimed_n;
static int tk_pool_fits(const void *k, const void *opts)
{
    (void)k;
    return opts && strcmp(opts, "nofit") != 0;
}

static void tk_pool_claim(void *kk, void *opts, struct bh_session_row *row)
{
    struct tk *k = kk;
    (void)row;
    free(opts);
    claimed_n++;
    bh_timer_set(k->t, 0); /* ready again on the next pass */
}
static void tk_ready(void *k) { (void)k; }

static void tk_detach(void *kk, int code, const char *why)
{
    struct tk *k = kk;
    (void)code, (void)why;
    detached_n++;
    bh_closep(&k->fd_in);
    bh_closep(&k->fd_out);
}

static void tk_destroy(void *kk)
{
    struct tk *k = kk;
    destroyed_n++;
    bh_timer_free(k->t);
    bh_closep(&k->fd_in);
    bh_closep(&k->fd_out);
    free(k);
}

static void tk_json(void *k, const struct bh_session_row *r, const char *base, json_t *o)
{
    (void)k, (void)r, (void)base, (void)o;
}

static unsigned tk_url_scopes(const char *key) { return (void)key, 0; }
static const char *const tk_fields[] = {NULL};
static const struct bh_kind_route tk_routes[] = {{NULL, NULL, 0, NULL, 0}};

static const struct bh_kind test_kind = {
    .name = "test",
    .fields = tk_fields,
    .validate = tk_validate,
    .free_opts = free,
    .create = tk_create,
    .process = tk_process,
    .process_free = tk_process_free,
    .attach = tk_attach,
    .ready = tk_ready,
    .pool_fits = tk_pool_fits,
    .pool_claim = tk_pool_claim,
    .detach = tk_detach,
    .destroy = tk_destroy,
    .json = tk_json,
    .url_scopes = tk_url_scopes,
    .routes = tk_routes,
};

/* ----------------------------------------------------------- the world */

static bh_loop_t *loop;
static char dir[] = "/tmp/bh-test-session-XXXXXX";
static int dbn;

struct world {
    struct bh_config cfg;
    bh_store_t *store;
    bh_fake_t *fake;
    bh_sessions_t *m;
};

static void world_open(struct world *w, void (*tune)(struct bh_config *c))
{
    memset(w, 0, sizeof *w);
    bh_config_defaults(&w->cfg);
    w->cfg.start_timeout_ms = 2000;
    w->cfg.max_sessions = 4;
    w->cfg.max_starting = 2;
    if (tune)
        tune(&w->cfg);
    bh_err_t err = BH_ERR_INIT;
    char *db = bh_xasprintf("%s/%d.db", dir, ++dbn);
    w->store = bh_store_open(db, &err);
    free(db);
    bh_backend_t *b = bh_fake_new(loop, &w->fake);
    w->m = bh_sessions_new(&w->cfg, loop, w->store, b, &err);
    if (!w->store || !w->m)
        fprintf(stderr, "world: %s\n", bh_err_msg(&err));
    bh_err_clear(&err);
}

static void world_close(struct world *w)
{
    bh_sessions_free(w->m);
    bh_store_close(w->store);
    bh_config_free(&w->cfg);
}

/* One pass of the loop that does not wait long: what is due runs. */
static void step(void)
{
    bh_loop_wake(loop);
    bh_loop_step(loop);
    usleep(1000);
}

/* Run the loop until *flag or about 2 s passed. */
static int until(int *flag)
{
    for (int i = 0; i < 2000 && !*flag; i++)
        step();
    return *flag;
}

struct created {
    int done;
    bh_session_t *s;
    enum bh_err_kind kind;
    char msg[256];
};

static void on_created(void *arg, bh_session_t *s, const bh_err_t *err)
{
    struct created *c = arg;
    c->done = 1;
    c->s = s;
    if (err) {
        c->kind = err->kind;
        snprintf(c->msg, sizeof c->msg, "%s", bh_err_msg(err));
    }
}

static void create_with(struct world *w, struct created *c, const char *kind_opts)
{
    memset(c, 0, sizeof *c);
    struct bh_create_opts o;
    memset(&o, 0, sizeof o);
    o.kind = &test_kind;
    o.kind_opts = bh_xstrdup(kind_opts);
    o.idle_timeout = 300;
    o.ttl = 300;
    o.net_mode = BH_NET_INTERNET;
    bh_session_create(w->m, &o, on_created, c);
}

static void create(struct world *w, struct created *c) { create_with(w, c, "opts"); }

static int ended_n;
static void on_ended(void *arg)
{
    int *flag = arg;
    *flag = 1;
    ended_n++;
}

/* The store's row of id into r (caller clears). */
static int row(struct world *w, const char *id, struct bh_session_row *r)
{
    memset(r, 0, sizeof *r);
    return bh_store_session_get(w->store, id, r, NULL);
}

static int shutdown_done;
static void on_shutdown(void *arg)
{
    (void)arg;
    shutdown_done = 1;
}

/* Wait for the loop to settle: every stop answered, every session freed. */
static void drain(struct world *w)
{
    for (int i = 0; i < 2000 && bh_sessions_live(w->m) > 0; i++)
        step();
}

/* --------------------------------------------------------------- cases */

static void test_ready_and_delete(void)
{
    struct world w;
    world_open(&w, NULL);
    mode = READY_AT_ATTACH;
    struct created c;
    create(&w, &c);
    CHECK(!c.done); /* never before the loop ran */
    CHECK(until(&c.done) && c.s);
    if (!c.s)
        return;
    char id[40];
    snprintf(id, sizeof id, "%s", bh_session_id(c.s));
    CHECK(bh_session_ready(c.s));
    struct bh_session_row r;
    CHECK(row(&w, id, &r) > 0);
    CHECK_STR(r.status, "ready");
    CHECK_STR(r.type, "test");
    CHECK_STR(r.runtime, "fake");
    CHECK(r.viewport_w == 1); /* the kind's field of the row */
    bh_session_row_clear(&r);
    CHECK(bh_fake_calls(w.fake)->start == 1 && bh_fake_running(w.fake) == 1);
    struct bh_usage u;
    CHECK(bh_session_usage(c.s, &u) == 0 && u.pids == 3);
    int ended = 0;
    bh_session_end(c.s, "deleted", NULL, on_ended, &ended);
    CHECK(until(&ended));
    CHECK(bh_fake_calls(w.fake)->stop == 1 && bh_fake_running(w.fake) == 0);
    CHECK(bh_session_find(w.m, id) == NULL);
    CHECK(row(&w, id, &r) > 0);
    CHECK_STR(r.status, "ended");
    CHECK_STR(r.end_reason, "deleted");
    bh_session_row_clear(&r);
    /* the events of its life, in order */
    char *ev = NULL;
    CHECK(bh_store_event_list(w.store, id, &ev, NULL) > 0);
    CHECK(ev && strstr(ev, "created") && strstr(ev, "sandbox_started") && strstr(ev, "ready") &&
          strstr(ev, "\"ended\""));
    CHECK(ev && strstr(ev, "sandbox_started") < strstr(ev, "\"ready\""));
    free(ev);
    world_close(&w);
}

static void test_end_while_starting(void)
{
    struct world w;
    world_open(&w, NULL);
    mode = READY_AT_ATTACH;
    bh_fake_script(w.fake)->start_ms = 50;
    struct created c;
    create(&w, &c);
    step();
    CHECK(!c.done && bh_sessions_live(w.m) == 1);
    /* its client goes away while the backend starts it */
    bh_session_create_abandon(w.m, &c);
    CHECK(until(&c.done));
    CHECK(c.s == NULL && c.kind == BH_E_INTERNAL && strstr(c.msg, "client gone"));
    drain(&w);
    /* the start finished first, then everything it made was removed */
    CHECK(bh_fake_calls(w.fake)->start == 1 && bh_fake_calls(w.fake)->stop == 1);
    CHECK(bh_fake_running(w.fake) == 0 && bh_sessions_live(w.m) == 0);
    world_close(&w);
}

static void test_start_fails(void)
{
    struct world w;
    world_open(&w, NULL);
    mode = READY_AT_ATTACH;
    bh_fake_script(w.fake)->fail_start = 1;
    int before = attached_n;
    struct created c;
    create(&w, &c);
    CHECK(until(&c.done));
    CHECK(c.s == NULL && strstr(c.msg, "told to fail"));
    CHECK(attached_n == before); /* the kind never saw a process */
    drain(&w);
    CHECK(bh_sessions_live(w.m) == 0 && bh_fake_running(w.fake) == 0);
    world_close(&w);
}

static void tune_one_slot(struct bh_config *c)
{
    c->max_sessions = 1;
    c->queue_max = 4;
    c->queue_timeout_ms = 50;
}

static void test_queue_timeout(void)
{
    struct world w;
    world_open(&w, tune_one_slot);
    mode = READY_AT_ATTACH;
    struct created a, b;
    create(&w, &a);
    CHECK(until(&a.done) && a.s);
    create(&w, &b); /* waits for the one slot */
    struct bh_sessions_counts n;
    bh_sessions_counts(w.m, &n);
    CHECK(n.waiting == 1 && n.ready == 1);
    CHECK(until(&b.done));
    CHECK(b.s == NULL && b.kind == BH_E_BUSY && strstr(b.msg, "no session slot"));
    bh_sessions_counts(w.m, &n);
    CHECK(n.waiting == 0);
    CHECK(bh_fake_calls(w.fake)->start == 1); /* the waiting one never started */
    /* a slot that frees admits the next create */
    create(&w, &b);
    int ended = 0;
    bh_session_end(a.s, "deleted", NULL, on_ended, &ended);
    CHECK(until(&b.done) && b.s);
    if (b.s) {
        ended = 0;
        bh_session_end(b.s, "deleted", NULL, on_ended, &ended);
        CHECK(until(&ended));
    }
    drain(&w);
    world_close(&w);
}

static void tune_one_start(struct bh_config *c) { c->max_starting = 1; }

struct found {
    bh_session_t *s[8];
    int n;
};

static void collect(void *arg, bh_session_t *s)
{
    struct found *f = arg;
    if (f->n < 8)
        f->s[f->n++] = s;
}

/* The live session the backend has started (fake record running), or NULL. */
static bh_session_t *started_one(struct world *w)
{
    struct found f = {.n = 0};
    bh_sessions_foreach(w->m, collect, &f);
    for (int i = 0; i < f.n; i++) {
        struct bh_fake_sess *fs = bh_fake_find(w->fake, bh_session_id(f.s[i]));
        if (fs && fs->running && !bh_session_ready(f.s[i]))
            return f.s[i];
    }
    return NULL;
}

static void test_start_slots(void)
{
    struct world w;
    world_open(&w, tune_one_start);
    mode = WAIT;
    struct created a, b;
    create(&w, &a);
    create(&w, &b);
    for (int i = 0; i < 20; i++)
        step();
    /* one start at a time: the second waits for the first to be ready */
    CHECK(bh_fake_calls(w.fake)->start == 1);
    struct bh_sessions_counts n;
    bh_sessions_counts(w.m, &n);
    CHECK(n.starting == 2 && n.start_queue == 1);
    bh_session_t *first = started_one(&w);
    CHECK(first != NULL);
    if (first)
        ops->kind_ready(first);
    for (int i = 0; i < 20; i++)
        step();
    CHECK(bh_fake_calls(w.fake)->start == 2);
    bh_sessions_counts(w.m, &n);
    CHECK(n.ready == 1 && n.starting == 1 && n.start_queue == 0);
    bh_session_t *second = started_one(&w);
    if (second)
        ops->kind_ready(second);
    CHECK(until(&a.done) && until(&b.done) && a.s && b.s);
    int e1 = 0, e2 = 0;
    if (a.s)
        bh_session_end(a.s, "deleted", NULL, on_ended, &e1);
    if (b.s)
        bh_session_end(b.s, "deleted", NULL, on_ended, &e2);
    CHECK(until(&e1) && until(&e2));
    world_close(&w);
}

static void test_crash_during_attach(void)
{
    struct world w;
    world_open(&w, NULL);
    mode = WAIT;
    struct created c;
    int before = attached_n;
    create(&w, &c);
    while (attached_n == before && bh_sessions_live(w.m) == 1)
        step();
    CHECK(attached_n == before + 1);
    /* the process dies before it is ready */
    const char *id = NULL;
    struct bh_session_row r;
    char ids[40] = "";
    bh_session_t *s = started_one(&w);
    if (s) {
        snprintf(ids, sizeof ids, "%s", bh_session_id(s));
        id = ids;
    }
    CHECK(id && bh_fake_exit(w.fake, id, "exited with status 1") == 0);
    CHECK(until(&c.done));
    CHECK(c.s == NULL && strstr(c.msg, "exited with status 1"));
    drain(&w);
    CHECK(id && row(&w, id, &r) > 0);
    CHECK_STR(r.status, "ended");
    CHECK_STR(r.end_reason, "error"); /* not ready yet: an error of the create */
    bh_session_row_clear(&r);
    CHECK(bh_fake_calls(w.fake)->stop == 1);
    world_close(&w);
}

static void test_crash_when_ready(void)
{
    struct world w;
    world_open(&w, NULL);
    mode = READY_AT_ATTACH;
    struct created c;
    create(&w, &c);
    CHECK(until(&c.done) && c.s);
    if (!c.s)
        return;
    char id[40];
    snprintf(id, sizeof id, "%s", bh_session_id(c.s));
    CHECK(bh_fake_exit(w.fake, id, "was killed by signal 9 (Killed)") == 0);
    drain(&w);
    struct bh_session_row r;
    CHECK(row(&w, id, &r) > 0);
    CHECK_STR(r.end_reason, "crashed");
    CHECK(r.end_detail && strstr(r.end_detail, "signal 9"));
    bh_session_row_clear(&r);
    /* the channel closing first waits for the exit, which tells more */
    world_close(&w);
}

/* An end that comes while the session is already ending (a DELETE after
 * a crash) waits for that end; the first reason stays. */
static void test_end_while_ending(void)
{
    struct world w;
    world_open(&w, NULL);
    mode = READY_AT_ATTACH;
    struct created c;
    create(&w, &c);
    CHECK(until(&c.done) && c.s);
    if (!c.s)
        return;
    char id[40];
    snprintf(id, sizeof id, "%s", bh_session_id(c.s));
    bh_fake_script(w.fake)->stop_ms = 200;
    CHECK(bh_fake_exit(w.fake, id, "was killed by signal 9 (Killed)") == 0);
    bh_session_t *s = NULL;
    for (int i = 0; i < 150 && (s = bh_session_find(w.m, id)) && !bh_session_ending(s); i++)
        step();
    CHECK(s && bh_session_ending(s) && !bh_session_ready(s));
    if (s) {
        int ended = 0;
        bh_session_end(s, "deleted", NULL, on_ended, &ended);
        CHECK(!ended);
        CHECK(until(&ended));
        CHECK(bh_session_find(w.m, id) == NULL);
    }
    CHECK(bh_fake_calls(w.fake)->stop == 1);
    struct bh_session_row r;
    CHECK(row(&w, id, &r) > 0);
    CHECK_STR(r.status, "ended");
    CHECK_STR(r.end_reason, "crashed");
    bh_session_row_clear(&r);
    world_close(&w);
}

static void tune_fast_start_timeout(struct bh_config *c) { c->start_timeout_ms = 30; }

static void test_start_timeout(void)
{
    struct world w;
    world_open(&w, tune_fast_start_timeout);
    mode = WAIT;
    struct created c;
    create(&w, &c);
    CHECK(until(&c.done));
    CHECK(c.s == NULL && strstr(c.msg, "test not ready within 30 ms"));
    drain(&w);
    CHECK(bh_fake_running(w.fake) == 0);
    world_close(&w);
}

static void tune_adopt(struct bh_config *c)
{
    c->adopt_on_restart = 1;
    c->leave_on_shutdown = 1;
}

static void test_leave_and_adopt(void)
{
    struct world w;
    world_open(&w, tune_adopt);
    mode = READY_AT_ATTACH;
    struct created a, b;
    create(&w, &a);
    create(&w, &b);
    CHECK(until(&a.done) && until(&b.done) && a.s && b.s);
    if (!a.s || !b.s)
        return;
    char ida[40], idb[40];
    snprintf(ida, sizeof ida, "%s", bh_session_id(a.s));
    snprintf(idb, sizeof idb, "%s", bh_session_id(b.s));
    /* shutdown with "leave": both are left running, nothing is stopped */
    shutdown_done = 0;
    bh_sessions_shutdown(w.m, on_shutdown, NULL);
    CHECK(until(&shutdown_done));
    CHECK(bh_sessions_left(w.m) == 2 && bh_sessions_live(w.m) == 0);
    CHECK(bh_fake_calls(w.fake)->stop == 0 && bh_fake_calls(w.fake)->forget == 2);
    CHECK(bh_fake_running(w.fake) == 2);
    struct bh_session_row r;
    CHECK(row(&w, ida, &r) > 0);
    CHECK_STR(r.status, "ready");
    bh_session_row_clear(&r);

    /* a restart: one process still runs, the other died meanwhile, and
     * a sandbox that no row knows is left over */
    bh_fake_t *fake = w.fake;
    bh_backend_t *backend = (bh_backend_t *)fake;
    bh_fake_find(fake, idb)->running = 0;
    bh_fake_leftover(fake, "stray", 1, NULL);
    /* the manager owns the backend: a new one over the same state */
    bh_sessions_t *m2 = bh_sessions_new(&w.cfg, loop, w.store, backend, NULL);
    bh_err_t err = BH_ERR_INIT;
    int before = adopted_n;
    CHECK(bh_sessions_recover(m2, &err) == 0);
    bh_err_clear(&err);
    CHECK(bh_fake_calls(fake)->adopt == 2);
    bh_session_t *s = bh_session_find(m2, ida);
    CHECK(s != NULL && bh_session_find(m2, idb) == NULL);
    for (int i = 0; i < 50 && s && !bh_session_ready(s); i++)
        step();
    CHECK(s && bh_session_ready(s) && adopted_n == before + 1);
    CHECK(row(&w, idb, &r) > 0);
    CHECK_STR(r.status, "ended");
    CHECK_STR(r.end_reason, "crashed");
    bh_session_row_clear(&r);
    CHECK(!bh_fake_find(fake, "stray")->running); /* swept */
    char *ev = NULL;
    CHECK(bh_store_event_list(w.store, ida, &ev, NULL) > 0);
    CHECK(ev && strstr(ev, "\"left\"") && strstr(ev, "\"adopted\""));
    free(ev);
    struct bh_sessions_counts n;
    bh_sessions_counts(m2, &n);
    CHECK(n.ready == 1);
    int ended = 0;
    if (s)
        bh_session_end(s, "deleted", NULL, on_ended, &ended);
    CHECK(until(&ended));
    bh_sessions_free(m2);
    /* the old manager goes without its backend (handed on to m2) */
    w.m = bh_sessions_detach_backend(w.m);
    bh_sessions_free(w.m);
    bh_store_close(w.store);
    bh_config_free(&w.cfg);
}

/* ------------------------------------------------------------ the pool */

static void tune_pool(struct bh_config *c) { c->pool = 2; }
static void tune_pool_full(struct bh_config *c)
{
    c->pool = 2;
    c->max_sessions = 2;
}

/* Run the loop until the pool holds n ready sessions and none starts. */
static int pool_settles(struct world *w, int n)
{
    struct bh_sessions_counts k;
    for (int i = 0; i < 2000; i++) {
        bh_sessions_counts(w->m, &k);
        if (k.pool_ready == n && k.pool_starting == 0)
            return 1;
        step();
    }
    return 0;
}

/* Rows the store holds of the pool (owner BH_POOL_OWNER). */
static int pool_rows(struct world *w)
{
    struct bh_session_row *rows = NULL;
    int n = bh_store_session_list(w->store, NULL, &rows, NULL), k = 0;
    for (int i = 0; i < n; i++)
        k += !strcmp(rows[i].owner, BH_POOL_OWNER);
    bh_store_rows_free(rows, n);
    return k;
}

static void test_pool_fill_and_claim(void)
{
    struct world w;
    world_open(&w, tune_pool);
    mode = READY_AT_ATTACH;
    bh_err_t err = BH_ERR_INIT;
    CHECK(bh_sessions_recover(w.m, &err) == 0); /* the daemon's start fills the pool */
    struct bh_sessions_counts k;
    int most_starting = 0;
    for (int i = 0; i < 2000; i++) {
        bh_sessions_counts(w.m, &k);
        if (k.pool_starting > most_starting)
            most_starting = k.pool_starting;
        if (k.pool_ready == 2)
            break;
        step();
    }
    CHECK(k.pool_ready == 2 && most_starting == 1); /* one at a time */
    CHECK(k.ready == 0 && k.starting == 0);         /* not users' sessions */
    CHECK(bh_fake_calls(w.fake)->start == 2 && pool_rows(&w) == 2);
    /* a create that fits takes one: no start of its own */
    int claims = claimed_n;
    struct created c;
    create(&w, &c);
    CHECK(until(&c.done) && c.s && bh_session_ready(c.s));
    CHECK(claimed_n == claims + 1 && bh_sessions_metrics(w.m)->pool_hits == 1);
    if (c.s) {
        struct bh_session_row r;
        CHECK(row(&w, bh_session_id(c.s), &r) == 1 && !strcmp(r.owner, "admin") &&
              !strcmp(r.status, "ready") && r.expires_at > 0);
        bh_session_row_clear(&r);
        CHECK(bh_session_find(w.m, bh_session_id(c.s)) == c.s);
    }
    /* the pool refills behind it */
    CHECK(pool_settles(&w, 2) && bh_fake_calls(w.fake)->start == 3 && pool_rows(&w) == 2);
    /* a create that does not fit starts cold */
    struct created d;
    create_with(&w, &d, "nofit");
    CHECK(until(&d.done) && d.s && bh_fake_calls(w.fake)->start == 4);
    CHECK(bh_sessions_metrics(w.m)->pool_misses == 1 && claimed_n == claims + 1);
    /* each sandbox serves one session: ended, it is stopped */
    int e1 = 0, e2 = 0;
    int stops = bh_fake_calls(w.fake)->stop;
    if (c.s)
        bh_session_end(c.s, "deleted", NULL, on_ended, &e1);
    if (d.s)
        bh_session_end(d.s, "deleted", NULL, on_ended, &e2);
    CHECK(until(&e1) && until(&e2) && bh_fake_calls(w.fake)->stop == stops + 2);
    /* the pooled sessions' rows go with them: they never were anyone's */
    shutdown_done = 0;
    bh_sessions_shutdown(w.m, on_shutdown, NULL);
    CHECK(until(&shutdown_done) && pool_rows(&w) == 0);
    CHECK(bh_sessions_metrics(w.m)->pool_discarded == 2);
    drain(&w);
    CHECK(bh_fake_running(w.fake) == 0);
    world_close(&w);
}

static void test_pool_yields_and_evicts(void)
{
    struct world w;
    world_open(&w, tune_pool_full);
    mode = WAIT;
    bh_err_t err = BH_ERR_INIT;
    CHECK(bh_sessions_recover(w.m, &err) == 0);
    /* the pool's sessions are not the manager's to list: the kind's newest */
    for (int i = 0; i < 100 && bh_fake_calls(w.fake)->start < 1; i++)
        step();
    bh_session_t *p = bh_fake_calls(w.fake)->start == 1 ? last_tk->s : NULL;
    /* a create arrives while the pool's first start runs: no second pooled
     * start until the create is through */
    struct created c;
    create_with(&w, &c, "nofit");
    for (int i = 0; i < 20; i++)
        step();
    if (p)
        ops->kind_ready(p);
    for (int i = 0; i < 20; i++)
        step();
    struct bh_sessions_counts k;
    bh_sessions_counts(w.m, &k);
    CHECK(k.pool_ready == 1 && k.pool_starting == 0 && k.starting == 1);
    bh_session_t *cs = started_one(&w);
    if (cs)
        ops->kind_ready(cs);
    CHECK(until(&c.done) && c.s);
    /* both slots are in use now (one pooled, one live): no refill */
    for (int i = 0; i < 20; i++)
        step();
    bh_sessions_counts(w.m, &k);
    CHECK(k.pool_ready == 1 && k.pool_starting == 0 && k.ready == 1);
    /* a create that does not fit and finds no slot ends the pooled one */
    struct created d;
    create_with(&w, &d, "nofit");
    for (int i = 0; i < 20; i++) /* the pooled one ends first */
        step();
    bh_session_t *ds = NULL;
    for (int i = 0; i < 2000 && !(ds = started_one(&w)); i++)
        step();
    if (ds)
        ops->kind_ready(ds);
    CHECK(until(&d.done) && d.s);
    bh_sessions_counts(w.m, &k);
    CHECK(k.pool_ready == 0 && k.ready == 2 && bh_sessions_metrics(w.m)->pool_discarded == 1);
    shutdown_done = 0;
    bh_sessions_shutdown(w.m, on_shutdown, NULL);
    CHECK(until(&shutdown_done));
    drain(&w);
    world_close(&w);
}

static void test_pool_failure_waits(void)
{
    struct world w;
    world_open(&w, tune_pool);
    mode = READY_AT_ATTACH;
    bh_fake_script(w.fake)->fail_start = 1;
    bh_err_t err = BH_ERR_INIT;
    CHECK(bh_sessions_recover(w.m, &err) == 0);
    for (int i = 0; i < 300; i++)
        step();
    /* a failed pooled start is not retried at once (5 s later) */
    CHECK(bh_fake_calls(w.fake)->start == 1 && pool_rows(&w) == 0);
    CHECK(bh_sessions_metrics(w.m)->pool_discarded == 1 && bh_sessions_live(w.m) == 0);
    world_close(&w);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    alarm(60);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    /* the test's kind first: the default of a body that names none (the
     * pool's) */
    memmove(&bh_kinds[1], &bh_kinds[0], (BH_KINDS_MAX - 1) * sizeof bh_kinds[0]);
    bh_kinds[0] = &test_kind;
    bh_log_set_level(BH_LOG_ERROR); /* the sessions' info and warnings are expected here */
    bh_err_t err = BH_ERR_INIT;
    loop = bh_loop_new(NULL, &err);
    CHECK(loop != NULL);
    if (!loop)
        return T_DONE();

    test_ready_and_delete();
    test_end_while_starting();
    test_start_fails();
    test_queue_timeout();
    test_start_slots();
    test_crash_during_attach();
    test_crash_when_ready();
    test_end_while_ending();
    test_start_timeout();
    test_leave_and_adopt();
    test_pool_fill_and_claim();
    test_pool_yields_and_evicts();
    test_pool_failure_waits();

    bh_loop_free(loop);
    bh_rm_rf(dir, NULL);
    return T_DONE();
}
