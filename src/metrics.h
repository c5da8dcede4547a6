/* metrics.h — the daemon's counters and their Prometheus text exposition.
 * Loop thread only. Gauges of live state (sessions, clients, cgroup usage)
 * are read when /metrics is rendered, by the caller's callback. */
#ifndef BH_METRICS_H
#define BH_METRICS_H

#include <stdio.h>

#define BH_END_REASONS "deleted", "closed", "idle", "ttl", "crashed", "error", "shutdown"

struct bh_metrics {
    unsigned long long created;
    unsigned long long ended[7]; /* by BH_END_REASONS */
    /* create→ready latency histogram, seconds */
    unsigned long long lat_buckets[8];
    unsigned long long lat_count;
    double lat_sum;
};

void bh_metrics_session_ended(struct bh_metrics *m, const char *reason);
void bh_metrics_create_latency(struct bh_metrics *m, double seconds);
/* Write the counters and histogram (HELP/TYPE included) to f. */
void bh_metrics_write(const struct bh_metrics *m, FILE *f);

#endif
