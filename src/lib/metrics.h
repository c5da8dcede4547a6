/* metrics.h — the daemon's counters and their Prometheus text exposition.
 * Loop thread only. Gauges of live state (sessions, clients, cgroup usage)
 * are read when /metrics is rendered, by the caller's callback. */
#ifndef BH_METRICS_H
#define BH_METRICS_H

#include <stdio.h>

#define BH_END_REASONS "deleted", "closed", "idle", "ttl", "crashed", "error", "shutdown"

/* A histogram of seconds over fixed buckets (see metrics.c). */
struct bh_hist {
    unsigned long long buckets[8];
    unsigned long long count;
    double sum;
};

struct bh_metrics {
    unsigned long long created;
    unsigned long long ended[7]; /* by BH_END_REASONS */
    struct bh_hist create;       /* create request → ready */
    struct bh_hist queue_wait;   /* time a create waited for a session slot */
    /* the warm pool: creates it served and did not (with --pool), its
     * sessions that ended with no create (evicted, failed, shutdown) */
    unsigned long long pool_hits, pool_misses, pool_discarded;
    struct bh_hist pool_refill; /* a pooled session's start → ready */
};

void bh_metrics_session_ended(struct bh_metrics *m, const char *reason);
void bh_metrics_create_latency(struct bh_metrics *m, double seconds);
/* A create that waited for a slot left the capacity queue (admitted or
 * refused) after seconds. */
void bh_metrics_queue_wait(struct bh_metrics *m, double seconds);
void bh_metrics_pool_refill(struct bh_metrics *m, double seconds);
/* Write the counters and histogram (HELP/TYPE included) to f. */
void bh_metrics_write(const struct bh_metrics *m, FILE *f);

#endif
