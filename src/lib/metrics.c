/* metrics.c — see metrics.h. */
#include "lib/metrics.h"

#include <string.h>

static const char *const reasons[] = {BH_END_REASONS};
static const double create_bounds[] = {0.5, 1, 2, 3, 5, 10, 30, 60};
static const double wait_bounds[] = {0.1, 0.5, 1, 2, 5, 10, 30, 60};
static const double refill_bounds[] = {0.1, 0.2, 0.3, 0.5, 1, 2, 5, 30};
#define NB 8

void bh_metrics_session_ended(struct bh_metrics *m, const char *reason)
{
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (!strcmp(reason, reasons[i]))
            m->ended[i]++;
}

static void observe(struct bh_hist *h, const double *bounds, double s)
{
    for (size_t i = 0; i < NB; i++)
        if (s <= bounds[i])
            h->buckets[i]++;
    h->count++;
    h->sum += s;
}

void bh_metrics_create_latency(struct bh_metrics *m, double s)
{
    observe(&m->create, create_bounds, s);
}

void bh_metrics_queue_wait(struct bh_metrics *m, double s)
{
    observe(&m->queue_wait, wait_bounds, s);
}

void bh_metrics_pool_refill(struct bh_metrics *m, double s)
{
    observe(&m->pool_refill, refill_bounds, s);
}

static void write_hist(FILE *f, const char *name, const char *help, const struct bh_hist *h,
                       const double *bounds)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (size_t i = 0; i < NB; i++)
        fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], h->buckets[i]);
    fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, h->count);
    fprintf(f, "%s_sum %.6f\n", name, h->sum);
    fprintf(f, "%s_count %llu\n", name, h->count);
}

void bh_metrics_write(const struct bh_metrics *m, FILE *f)
{
    fprintf(f,
            "# HELP bulkhead_sessions_created_total Sessions created (create requests accepted).\n"
            "# TYPE bulkhead_sessions_created_total counter\n"
            "bulkhead_sessions_created_total %llu\n",
            m->created);
    fprintf(f, "# HELP bulkhead_sessions_ended_total Sessions ended, by end reason.\n"
               "# TYPE bulkhead_sessions_ended_total counter\n");
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        fprintf(f, "bulkhead_sessions_ended_total{reason=\"%s\"} %llu\n", reasons[i], m->ended[i]);
    write_hist(f, "bulkhead_session_create_seconds", "Time from create request to ready.",
               &m->create, create_bounds);
    write_hist(f, "bulkhead_capacity_queue_wait_seconds",
               "Time creates waited for a free session slot (admitted or refused).", &m->queue_wait,
               wait_bounds);
    fprintf(f,
            "# HELP bulkhead_pool_hits_total Creates the warm pool served.\n"
            "# TYPE bulkhead_pool_hits_total counter\n"
            "bulkhead_pool_hits_total %llu\n"
            "# HELP bulkhead_pool_misses_total Creates that started cold with a pool configured "
            "(none ready, or settings it cannot serve).\n"
            "# TYPE bulkhead_pool_misses_total counter\n"
            "bulkhead_pool_misses_total %llu\n"
            "# HELP bulkhead_pool_discarded_total Pooled sessions that ended with no create "
            "(evicted for a create, failed, shutdown).\n"
            "# TYPE bulkhead_pool_discarded_total counter\n"
            "bulkhead_pool_discarded_total %llu\n",
            m->pool_hits, m->pool_misses, m->pool_discarded);
    write_hist(f, "bulkhead_pool_refill_seconds", "Time a pooled session took from start to ready.",
               &m->pool_refill, refill_bounds);
}
