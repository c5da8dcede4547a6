/* exposition.c — see exposition.h. */
#include "daemon/exposition.h"

#include <stdio.h>
#include <stdlib.h>

#include "kinds/kinds.h"
#include "lib/metrics.h"

struct usage_lines {
    FILE *mem, *cpu;
};

static void session_usage(void *arg, bh_session_t *s)
{
    struct usage_lines *u = arg;
    struct bh_usage us;
    if (!bh_session_ready(s) || bh_session_usage(s, &us) < 0)
        return;
    const char *id = bh_session_id(s);
    if (us.memory_bytes >= 0)
        fprintf(u->mem, "bulkhead_session_memory_bytes{session=\"%s\"} %lld\n", id,
                us.memory_bytes);
    if (us.cpu_usec >= 0)
        fprintf(u->cpu, "bulkhead_session_cpu_seconds_total{session=\"%s\"} %.6f\n", id,
                (double)us.cpu_usec / 1e6);
}

char *bh_exposition(bh_sessions_t *m, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        abort();
    struct bh_sessions_counts c;
    bh_sessions_counts(m, &c);
    fprintf(f,
            "# HELP bulkhead_capacity_queue_length Creates waiting for a free session slot.\n"
            "# TYPE bulkhead_capacity_queue_length gauge\n"
            "bulkhead_capacity_queue_length %d\n",
            c.waiting);
    bh_metrics_write(bh_sessions_metrics(m), f);
    fprintf(f,
            "# HELP bulkhead_sessions Live sessions by status.\n"
            "# TYPE bulkhead_sessions gauge\n"
            "bulkhead_sessions{status=\"starting\"} %d\n"
            "bulkhead_sessions{status=\"ready\"} %d\n"
            "bulkhead_sessions{status=\"ending\"} %d\n",
            c.starting, c.ready, c.ending);
    fprintf(f,
            "# HELP bulkhead_start_queue_length Sessions waiting for a start slot.\n"
            "# TYPE bulkhead_start_queue_length gauge\n"
            "bulkhead_start_queue_length %d\n",
            c.start_queue);
    fprintf(f,
            "# HELP bulkhead_pool_sessions Warm pool sessions no create has taken, by status "
            "(counted in --max-sessions, not in bulkhead_sessions).\n"
            "# TYPE bulkhead_pool_sessions gauge\n"
            "bulkhead_pool_sessions{status=\"starting\"} %d\n"
            "bulkhead_pool_sessions{status=\"ready\"} %d\n"
            "# HELP bulkhead_pool_target Pooled sessions the daemon keeps (--pool).\n"
            "# TYPE bulkhead_pool_target gauge\n"
            "bulkhead_pool_target %d\n",
            c.pool_starting, c.pool_ready, c.pool_target);
    for (int k = 0; bh_kinds[k]; k++) {
        const struct bh_kind *kind = bh_kinds[k];
        unsigned long long v[BH_KIND_METRICS_MAX] = {0};
        bh_sessions_kind_metrics(m, kind, v);
        for (int i = 0; i < kind->nmetrics; i++) {
            const struct bh_kind_metric *km = &kind->metrics[i];
            fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", km->name, km->help, km->name,
                    km->counter ? "counter" : "gauge", km->name, v[i]);
        }
    }
    struct usage_lines u = {.mem = f};
    char *cpu_lines = NULL;
    size_t cpu_len = 0;
    u.cpu = open_memstream(&cpu_lines, &cpu_len);
    if (!u.cpu)
        abort();
    fprintf(f, "# HELP bulkhead_session_memory_bytes Memory in use by a session's cgroup.\n"
               "# TYPE bulkhead_session_memory_bytes gauge\n");
    bh_sessions_foreach(m, session_usage, &u);
    fclose(u.cpu);
    fprintf(f,
            "# HELP bulkhead_session_cpu_seconds_total CPU time used by a session's cgroup.\n"
            "# TYPE bulkhead_session_cpu_seconds_total counter\n%s",
            cpu_lines ? cpu_lines : "");
    free(cpu_lines);
    fclose(f);
    *len = n;
    return buf;
}
