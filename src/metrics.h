/*
 * metrics.h — what /metrics and /healthz report: a fixed set of counters and
 * gauges, and the health of the IMDS poll loop.
 *
 * One struct metrics, owned by main (in struct app) and handed by pointer to
 * the jobs that decide outcomes (imds poll loop, aws, k8s, drain, notify).
 * Every job holds a `struct metrics *metrics` that may be NULL (the unit
 * tests, the probe, a client nobody counts): every function here accepts a
 * NULL m and then does nothing. Counters and gauges are updated with atomic
 * operations from any thread; the health state is guarded by a mutex.
 *
 * Cardinality is fixed: every label value is one of the names below, never
 * a pod, a node, a URL or an event. Nothing here grows with time.
 *
 * Health rule (metrics_health): healthy while a notice is being handled or
 * has been handled (the work is done or under way: a restart would only
 * delay it), or while the last successful IMDS poll (or the start, before
 * the first one) is at most 3 poll intervals plus the poll budget old.
 * Otherwise unhealthy, with the reason: when IMDS started failing and its
 * last error ("imds failing since 2026-11-29T19:30:00Z: GET http://...:
 * connect ...: Connection refused"), which includes the instance facts not
 * being available at start.
 */
#ifndef DESPOTIFY_METRICS_H
#define DESPOTIFY_METRICS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"

/* The counters. The groups' order is the order of their label values. */
enum metric {
	M_POLL_NOTICE, M_POLL_NONE, M_POLL_ERROR,               /* despotify_imds_polls_total{result} */
	M_NOTICE_TERMINATION, M_NOTICE_REBALANCE,               /* despotify_notices_total{kind} */
	M_EVICT_EVICTED, M_EVICT_BLOCKED, M_EVICT_DELETED,      /* despotify_evictions_total{outcome}: */
	M_EVICT_FAILED,                                         /* blocked counts each PDB refusal */
	M_CORDON_OK, M_CORDON_FAILED,                           /* despotify_cordons_total{outcome} */
	M_DETACH_DETACHED, M_DETACH_NOT_IN_ASG,                 /* despotify_detaches_total{outcome} */
	M_DETACH_ALREADY_LEAVING, M_DETACH_DRY_RUN, M_DETACH_FAILED,
	M_CRED_AWS_OK, M_CRED_AWS_ERROR,                        /* despotify_credential_refreshes_total */
	M_CRED_K8S_OK, M_CRED_K8S_ERROR,                        /*   {service, result} */
	M_API                                                   /* first API counter, see metrics_api */
};

/* despotify_api_requests_total{endpoint, status}. */
enum metrics_endpoint { MEP_IMDS, MEP_AWS, MEP_K8S, MEP_WEBHOOK, MEP_N };
#define METRICS_NSTATUS 5   /* 2xx, 3xx, 4xx, 5xx, error (no HTTP answer, or 1xx) */
#define M_NCOUNTERS (M_API + MEP_N * METRICS_NSTATUS)

/* The notice kinds metrics_poll tells apart. */
enum metrics_notice { MN_TERMINATION, MN_REBALANCE };

struct metrics {
	unsigned long c[M_NCOUNTERS];       /* atomic */
	int64_t handling;                   /* atomic: 1 while a notice is being handled */
	int64_t handled;                    /* atomic: notices whose handling has ended */
	int64_t last_handling_ms;           /* atomic: duration of the last handling */
	int64_t last_notice_wall_ms;        /* atomic: when the last new notice was seen */
	int64_t pods_left;                  /* atomic: pods the last drain left on the node */
	int64_t start_wall_ms;              /* set at init */

	/* The poll loop's health, under mu. */
	pthread_mutex_t mu;
	int64_t window_ms;                  /* 3 poll intervals + the poll budget */
	int64_t last_ok_mono;               /* the last good poll (the start before the first) */
	int64_t failing_since_wall;         /* 0: not failing */
	char last_err[METRICS_MAX_REASON];
	int have_notice;                    /* the last notice seen, so each is counted once */
	int notice_kind;
	int64_t notice_time_s;
};

/*
 * Sets m up: every counter at zero, healthy for the first window from now.
 * poll_interval_ms and poll_budget_ms give the health window.
 */
void metrics_init(struct metrics *m, int64_t poll_interval_ms, int64_t poll_budget_ms);

/* Releases the mutex. No thread may use m afterwards. */
void metrics_destroy(struct metrics *m);

/* Adds one to counter c. */
void metrics_inc(struct metrics *m, enum metric c);

/*
 * Counts one API request to endpoint ep by the class of its HTTP status;
 * status < 0 (a transport failure: no answer) counts as "error".
 */
void metrics_api(struct metrics *m, enum metrics_endpoint ep, int status);

/*
 * Records the result of one IMDS poll (imds_poll's return: 1 notice, 0
 * none, -1 fault). A notice (kind, its time) is counted in notices_total
 * the first time it is seen, not on every poll that sees it again. err is
 * the fault's reason (no secrets in it) for r < 0, else ignored.
 */
void metrics_poll(struct metrics *m, int r, enum metrics_notice kind, int64_t notice_time_s,
    const char *err);

/* An IMDS failure outside the polls (the instance facts at start): unhealthy from the window on. */
void metrics_imds_failed(struct metrics *m, const char *err);

/* A notice's handling begins (begin = 1) or ends (begin = 0, after duration_ms). */
void metrics_handling(struct metrics *m, int begin, int64_t duration_ms);

/* The pods the drain that just ended left on the node. */
void metrics_pods_left(struct metrics *m, int n);

/*
 * Applies the health rule above at now_mono (util_now_ms). Returns 1
 * (healthy: "ok" or "ok: a notice is being handled" in reason) or 0 (the
 * reason why not). reason is always NUL-terminated.
 */
int metrics_health(struct metrics *m, int64_t now_mono, char *reason, size_t n);

/* The process's own resources, the standard process_* metrics. */
struct metrics_proc {
	int have_stat;                      /* 0: /proc/self/stat unreadable; the next three are unknown */
	unsigned long long cpu_ms;          /* user + system, milliseconds */
	unsigned long long rss_bytes, vsize_bytes;
	long open_fds, max_fds;             /* -1: unknown */
	int64_t start_time_ms;              /* epoch milliseconds; 0: unknown */
};

/*
 * Reads the fields of /proc/self/stat (its text in buf[0..len)): utime and
 * stime (in ticks of ticks_per_s), starttime (ticks after boot), vsize
 * (bytes) and rss (pages of page_size), into p's cpu_ms, vsize_bytes,
 * rss_bytes, and *start_ticks. The command name may hold spaces and
 * parentheses: fields are counted from the last ')'. Returns 0, or -1 if
 * buf is not such a line. Pure.
 */
int metrics_parse_proc_stat(const char *buf, size_t len, long ticks_per_s, long page_size,
    struct metrics_proc *p, unsigned long long *start_ticks);

/*
 * Writes the Prometheus text exposition (format 0.0.4) of m, p and the
 * build version into buf (cap bytes, NUL-terminated). Returns the length,
 * or -1 if it did not fit (never a truncated exposition).
 */
int metrics_render(struct metrics *m, const struct metrics_proc *p, const char *version,
    char *buf, size_t cap);

#endif
