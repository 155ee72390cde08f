/*
 * log.h — leveled log lines on standard error, as text or as JSON.
 *
 * Text:  2026-11-29T19:30:00.123Z INFO  imds: notice seen (instance-action terminate at ...)
 * JSON:  {"time":"2026-11-29T19:30:00.123Z","level":"INFO","msg":"imds: notice seen ..."}
 *
 * Each line is written with a single write(2), so lines from several threads
 * never interleave. The caller owns the struct log and passes it explicitly;
 * it is set up once at start and read-only afterwards.
 *
 * Secrets (tokens, keys, signatures) must never be passed to these functions.
 */
#ifndef DESPOTIFY_LOG_H
#define DESPOTIFY_LOG_H

#include <stdarg.h>
#include <stdint.h>

enum log_level { LV_DEBUG, LV_INFO, LV_WARNING, LV_ERROR };

struct log {
	enum log_level level;  /* lines below this level are dropped */
	int json;              /* 1: one JSON object a line */
	int fd;                /* where lines go; 2 by default */
};

/* Sets lg up for level and format, writing to standard error. */
void log_init(struct log *lg, enum log_level level, int json);

/* Parses "DEBUG", "INFO", "WARNING" (or "WARN"), "ERROR", any case. Returns 0 or -1. */
int log_level_parse(const char *s, enum log_level *out);

/* The upper-case name of a level. */
const char *log_level_name(enum log_level l);

/* Logs one line at level l if l is at or above lg->level. */
void log_msg(const struct log *lg, enum log_level l, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(const struct log *lg, enum log_level l, const char *fmt, va_list ap);

#define log_debug(lg, ...)   log_msg((lg), LV_DEBUG, __VA_ARGS__)
#define log_info(lg, ...)    log_msg((lg), LV_INFO, __VA_ARGS__)
#define log_warning(lg, ...) log_msg((lg), LV_WARNING, __VA_ARGS__)
#define log_error(lg, ...)   log_msg((lg), LV_ERROR, __VA_ARGS__)

/*
 * A rate limit for one recurring message (a fault that repeats every poll).
 * Zero-initialise it. log_limited logs at most one line per interval_ms;
 * the next line that gets through says how many were suppressed meanwhile.
 * Not thread-safe: one limiter per thread of use.
 */
struct log_limit {
	int64_t next_ms;
	unsigned suppressed;
};

void log_limited(const struct log *lg, struct log_limit *ll, int64_t interval_ms,
    enum log_level l, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Forgets a limiter's state, so the next fault is logged at once (after a recovery). */
void log_limit_reset(struct log_limit *ll);

#endif
