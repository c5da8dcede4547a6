/* log.h — the daemon's log: one JSON object per line on stderr, with the
 * session id when there is one. Never give it secrets (tokens). */
#ifndef BH_LOG_H
#define BH_LOG_H

enum bh_log_level { BH_LOG_DEBUG, BH_LOG_INFO, BH_LOG_WARN, BH_LOG_ERROR };

void bh_log_set_level(enum bh_log_level lvl);
/* session may be NULL. */
void bh_log(enum bh_log_level lvl, const char *session, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
