/* session_start.c — starting a session: its kind's process handed to the
 * backend with the session's limits, egress policy and the settings a later
 * run needs to adopt it; the backend's answer back on the loop, where the
 * kind takes over (attach, up to ready). */
#include "session/session_int.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"

struct bh_net_policy session_policy(const struct bh_session *s)
{
    struct bh_net_policy p = {.mode = s->net_mode, .allow = s->allow, .nallow = s->nallow};
    return p;
}

char *session_settings(struct bh_session *s)
{
    json_t *o = json_pack("{s:s}", "type", s->kind->name);
    if (s->kind->save)
        s->kind->save(s->k, o);
    /* the stored form names every field; a create body only those in use */
    json_t *net = s->row.network ? json_loads(s->row.network, 0, NULL) : NULL;
    if (json_is_object(net)) {
        json_t *allow = json_object_get(net, "allow");
        if (!json_is_array(allow) || json_array_size(allow) == 0)
            json_object_del(net, "allow");
        if (!json_is_string(json_object_get(net, "proxy")))
            json_object_del(net, "proxy");
        json_object_set(o, "network", net);
    }
    json_decref(net);
    char *text = bh_json_dump(o);
    json_decref(o);
    return text;
}

/* The backend's answer to the start. */
static void started(void *arg, const struct bh_started *st, const bh_err_t *err)
{
    struct bh_session *s = arg;
    s->starting = 0;
    if (!st) {
        /* the backend removed what it had made */
        bh_log(BH_LOG_WARN, s->row.id, "create failed: %s", bh_err_msg(err));
        session_end(s, "error", bh_err_msg(err));
        return;
    }
    s->watched = 1;
    for (int i = 0; i < st->nphases; i++)
        session_phase_ms(s, st->phases[i].name, st->phases[i].ms);
    s->phase_mark = bh_mono_ms();
    snprintf(s->row.runtime, sizeof s->row.runtime, "%s", st->where.runtime);
    snprintf(s->row.container_id, sizeof s->row.container_id, "%s", st->where.container_id);
    snprintf(s->row.addr, sizeof s->row.addr, "%s", st->where.addr);
    s->row.pid = st->where.pid;
    s->row.uid_base = st->where.uid_base;
    session_store_update(s);
    session_event(s, "sandbox_started",
                  json_pack("{s:i, s:s}", "pid", s->row.pid, "address", s->row.addr));
    if (s->end_pending) {
        if (st->chan_in >= 0)
            close(st->chan_in);
        if (st->chan_out >= 0)
            close(st->chan_out);
        session_end(s, s->end_reason, s->end_detail);
        return;
    }
    s->kind->attach(s->k, st->chan_in, st->chan_out, 0);
}

const struct bh_backend_events session_backend_events = {
    .started = started,
    .exited = session_on_exited,
    .output = session_on_output,
};

/* Give a queued session its process. Starts are CPU-heavy, so only
 * cfg->max_starting run at once; the start timeout counts from here, not
 * from the request. */
void session_begin_start(struct bh_session *s)
{
    struct bh_sessions *m = s->m;
    const struct bh_config *cfg = m->cfg;
    m->starting++;
    s->counted = 1;
    s->t_start = bh_mono_ms();
    bh_timer_set(s->start_timer, cfg->start_timeout_ms);
    struct bh_process proc;
    memset(&proc, 0, sizeof proc);
    s->kind->process(s->k, cfg, &proc);
    struct bh_net_policy policy = session_policy(s);
    char *settings = session_settings(s);
    struct bh_launch l = {
        .id = s->row.id,
        .proc = &proc,
        .policy = &policy,
        .memory_bytes = cfg->memory_bytes,
        .pids_max = cfg->pids_max,
        .cpus = cfg->cpus,
        .settings = settings,
    };
    s->starting = 1;
    m->backend->ops->start(m->backend, &l, &session_backend_events, s);
    s->kind->process_free(s->k, &proc);
    free(settings);
}
