/* session_metrics.c — the sessions' Prometheus metrics (/metrics) and
 * the daemon's readiness checks (/readyz). */
#include "session/session_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend/local/cgroup.h"
#include "lib/log.h"

char *bh_sessions_metrics(bh_sessions_t *m, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        abort();
    int starting = 0, ready = 0, ending = 0, cdp = 0, viewers = 0, queued = 0;
    unsigned long long frames = 0, bytes = 0;
    for (struct bh_session *s = m->list; s; s = s->next) {
        starting += s->state == S_STARTING;
        ready += s->state == S_READY;
        ending += s->state == S_ENDING;
        cdp += bh_cdp_proxy_clients(s->proxy);
        viewers += bh_live_viewers(s->live);
        unsigned long long fr, by;
        bh_live_stats(s->live, &fr, &by);
        frames += fr;
        bytes += by;
    }
    for (struct bh_session *q = m->queue; q; q = q->qnext)
        queued++;
    fprintf(f,
            "# HELP bulkhead_capacity_queue_length Creates waiting for a free session slot.\n"
            "# TYPE bulkhead_capacity_queue_length gauge\n"
            "bulkhead_capacity_queue_length %d\n",
            m->nwaiting);
    bh_metrics_write(&m->metrics, f);
    fprintf(f,
            "# HELP bulkhead_sessions Live sessions by status.\n"
            "# TYPE bulkhead_sessions gauge\n"
            "bulkhead_sessions{status=\"starting\"} %d\n"
            "bulkhead_sessions{status=\"ready\"} %d\n"
            "bulkhead_sessions{status=\"ending\"} %d\n",
            starting, ready, ending);
    fprintf(f,
            "# HELP bulkhead_start_queue_length Sessions waiting for a browser start slot.\n"
            "# TYPE bulkhead_start_queue_length gauge\n"
            "bulkhead_start_queue_length %d\n",
            queued);
    fprintf(f,
            "# HELP bulkhead_cdp_clients Connected CDP clients.\n"
            "# TYPE bulkhead_cdp_clients gauge\n"
            "bulkhead_cdp_clients %d\n"
            "# HELP bulkhead_live_viewers Connected live-view viewers.\n"
            "# TYPE bulkhead_live_viewers gauge\n"
            "bulkhead_live_viewers %d\n",
            cdp, viewers);
    fprintf(f,
            "# HELP bulkhead_live_frames_total Frames sent to live-view viewers.\n"
            "# TYPE bulkhead_live_frames_total counter\n"
            "bulkhead_live_frames_total %llu\n"
            "# HELP bulkhead_live_bytes_total Bytes of frames sent to live-view viewers.\n"
            "# TYPE bulkhead_live_bytes_total counter\n"
            "bulkhead_live_bytes_total %llu\n",
            m->live_frames_done + frames, m->live_bytes_done + bytes);
    char *cpu_lines = NULL;
    size_t cpu_len = 0;
    FILE *cf = open_memstream(&cpu_lines, &cpu_len);
    if (!cf)
        abort();
    fprintf(f, "# HELP bulkhead_session_memory_bytes Memory in use by a session's cgroup.\n"
               "# TYPE bulkhead_session_memory_bytes gauge\n");
    for (struct bh_session *s = m->list; s; s = s->next) {
        if (s->state != S_READY)
            continue;
        char cg[96];
        snprintf(cg, sizeof cg, "bulkhead/%s", s->row.id);
        bh_cgroup_t *c = bh_cgroup_open(cg, NULL);
        struct bh_cgroup_usage u;
        bh_cgroup_usage(c, &u);
        bh_cgroup_free(c);
        if (u.memory_bytes >= 0)
            fprintf(f, "bulkhead_session_memory_bytes{session=\"%s\"} %lld\n", s->row.id,
                    u.memory_bytes);
        if (u.cpu_usec >= 0)
            fprintf(cf, "bulkhead_session_cpu_seconds_total{session=\"%s\"} %.6f\n", s->row.id,
                    (double)u.cpu_usec / 1e6);
    }
    fclose(cf);
    fprintf(f,
            "# HELP bulkhead_session_cpu_seconds_total CPU time used by a session's cgroup.\n"
            "# TYPE bulkhead_session_cpu_seconds_total counter\n%s",
            cpu_lines ? cpu_lines : "");
    free(cpu_lines);
    fclose(f);
    *len = n;
    return buf;
}

static void check(json_t *checks, int *ready, const char *name, const char *problem)
{
    json_object_set_new(checks, name, json_string(problem ? problem : "ok"));
    if (problem)
        *ready = 0;
}

json_t *bh_sessions_readiness(bh_sessions_t *m, int *ready)
{
    json_t *checks = json_object();
    *ready = 1;
    /* the store answers a query */
    struct bh_session_row row;
    memset(&row, 0, sizeof row);
    bh_err_t err = BH_ERR_INIT;
    int rc = bh_store_session_get(m->store, "readyz", &row, &err);
    bh_session_row_clear(&row);
    check(checks, ready, "store", rc < 0 ? bh_err_msg(&err) : NULL);
    bh_err_clear(&err);
    /* the runtime can be run, its state dir is there */
    char *problem = NULL;
    struct stat st;
    if (bh_runtime_found(m->cfg->runtime, &err) < 0)
        problem = bh_xstrdup(bh_err_msg(&err));
    else if (stat(m->runtime_root, &st) < 0 || !S_ISDIR(st.st_mode))
        problem = bh_xasprintf("runtime root %s: %s", m->runtime_root, strerror(errno ? errno : ENOTDIR));
    bh_err_clear(&err);
    check(checks, ready, "runtime", problem);
    free(problem);
    problem = NULL;
    /* the sessions' bridge is up and the host forwards their packets */
    cleanup_free char *flags_path = bh_xasprintf("/sys/class/net/%s/flags", m->cfg->bridge);
    cleanup_free char *flags = bh_read_file(flags_path, NULL, NULL);
    cleanup_free char *fwd = bh_read_file("/proc/sys/net/ipv4/ip_forward", NULL, NULL);
    if (!flags)
        problem = bh_xasprintf("bridge %s is missing", m->cfg->bridge);
    else if (!(strtoul(flags, NULL, 16) & 1))
        problem = bh_xasprintf("bridge %s is down", m->cfg->bridge);
    else if (!fwd || fwd[0] != '1')
        problem = bh_xstrdup("net.ipv4.ip_forward is off");
    check(checks, ready, "network", problem);
    free(problem);
    check(checks, ready, "accepting", m->shutdown_cb ? "the daemon is shutting down" : NULL);
    return checks;
}
