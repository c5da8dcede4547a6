/* metrics.c — see metrics.h. */
#include "metrics.h"

#include <string.h>

static const char *const reasons[] = {BH_END_REASONS};
static const double bounds[] = {0.5, 1, 2, 3, 5, 10, 30, 60};
#define NB (sizeof bounds / sizeof bounds[0])

void bh_metrics_session_ended(struct bh_metrics *m, const char *reason)
{
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (!strcmp(reason, reasons[i]))
            m->ended[i]++;
}

void bh_metrics_create_latency(struct bh_metrics *m, double s)
{
    for (size_t i = 0; i < NB; i++)
        if (s <= bounds[i])
            m->lat_buckets[i]++;
    m->lat_count++;
    m->lat_sum += s;
}

void bh_metrics_write(const struct bh_metrics *m, FILE *f)
{
    fprintf(f, "# HELP bulkhead_sessions_created_total Sessions created (create requests accepted).\n"
               "# TYPE bulkhead_sessions_created_total counter\n"
               "bulkhead_sessions_created_total %llu\n",
            m->created);
    fprintf(f, "# HELP bulkhead_sessions_ended_total Sessions ended, by end reason.\n"
               "# TYPE bulkhead_sessions_ended_total counter\n");
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        fprintf(f, "bulkhead_sessions_ended_total{reason=\"%s\"} %llu\n", reasons[i], m->ended[i]);
    fprintf(f, "# HELP bulkhead_session_create_seconds Time from create request to ready.\n"
               "# TYPE bulkhead_session_create_seconds histogram\n");
    for (size_t i = 0; i < NB; i++)
        fprintf(f, "bulkhead_session_create_seconds_bucket{le=\"%g\"} %llu\n", bounds[i],
                m->lat_buckets[i]);
    fprintf(f, "bulkhead_session_create_seconds_bucket{le=\"+Inf\"} %llu\n", m->lat_count);
    fprintf(f, "bulkhead_session_create_seconds_sum %.6f\n", m->lat_sum);
    fprintf(f, "bulkhead_session_create_seconds_count %llu\n", m->lat_count);
}
