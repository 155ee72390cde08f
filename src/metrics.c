/* metrics.c — see metrics.h. */
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Relaxed atomics: each value stands alone; no reader needs an order between two. */
#define LOAD(p)     __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

void
metrics_init(struct metrics *m, int64_t poll_interval_ms, int64_t poll_budget_ms)
{
	memset(m, 0, sizeof *m);
	pthread_mutex_init(&m->mu, NULL);
	m->window_ms = 3 * poll_interval_ms + poll_budget_ms;
	m->last_ok_mono = util_now_ms();
	m->start_wall_ms = util_wall_ms();
}

void
metrics_destroy(struct metrics *m)
{
	pthread_mutex_destroy(&m->mu);
}

void
metrics_inc(struct metrics *m, enum metric c)
{
	if (m != NULL && (int)c >= 0 && (int)c < M_NCOUNTERS)
		__atomic_fetch_add(&m->c[c], 1, __ATOMIC_RELAXED);
}

void
metrics_api(struct metrics *m, enum metrics_endpoint ep, int status)
{
	int cls = status >= 200 && status <= 599 ? status / 100 - 2 : METRICS_NSTATUS - 1;

	if ((int)ep >= 0 && (int)ep < MEP_N)
		metrics_inc(m, (enum metric)(M_API + (int)ep * METRICS_NSTATUS + cls));
}

/* Called with m->mu held. */
static void
failed_locked(struct metrics *m, const char *err)
{
	if (m->failing_since_wall == 0)
		m->failing_since_wall = util_wall_ms();
	if (util_strlcpy(m->last_err, err != NULL ? err : "unknown error", sizeof m->last_err) < 0)
		memcpy(m->last_err + sizeof m->last_err - 4, "...", 4);
}

void
metrics_imds_failed(struct metrics *m, const char *err)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	failed_locked(m, err);
	pthread_mutex_unlock(&m->mu);
}

void
metrics_poll(struct metrics *m, int r, enum metrics_notice kind, int64_t notice_time_s,
    const char *err)
{
	if (m == NULL)
		return;
	metrics_inc(m, r > 0 ? M_POLL_NOTICE : r == 0 ? M_POLL_NONE : M_POLL_ERROR);
	pthread_mutex_lock(&m->mu);
	if (r < 0) {
		failed_locked(m, err);
	} else {
		m->last_ok_mono = util_now_ms();
		m->failing_since_wall = 0;
	}
	/* A notice stays in IMDS until the instance goes: count it once. */
	if (r > 0 && (!m->have_notice || m->notice_kind != (int)kind ||
	    m->notice_time_s != notice_time_s)) {
		m->have_notice = 1;
		m->notice_kind = (int)kind;
		m->notice_time_s = notice_time_s;
		metrics_inc(m, kind == MN_REBALANCE ? M_NOTICE_REBALANCE : M_NOTICE_TERMINATION);
		STORE(&m->last_notice_wall_ms, util_wall_ms());
	}
	pthread_mutex_unlock(&m->mu);
}

void
metrics_handling(struct metrics *m, int begin, int64_t duration_ms)
{
	if (m == NULL)
		return;
	if (begin) {
		STORE(&m->handling, 1);
		return;
	}
	STORE(&m->last_handling_ms, duration_ms);
	__atomic_fetch_add(&m->handled, 1, __ATOMIC_RELAXED);
	STORE(&m->handling, 0);
}

void
metrics_pods_left(struct metrics *m, int n)
{
	if (m != NULL)
		STORE(&m->pods_left, n);
}

int
metrics_health(struct metrics *m, int64_t now_mono, char *reason, size_t n)
{
	char since[32];
	int ok;

	if (LOAD(&m->handling) || LOAD(&m->handled) > 0) {
		util_fmt(reason, n, "ok: %s", LOAD(&m->handling) ? "handling a notice" :
		    "notice handled");
		return 1;
	}
	pthread_mutex_lock(&m->mu);
	ok = now_mono - m->last_ok_mono <= m->window_ms;
	if (ok)
		util_fmt(reason, n, "ok");
	else if (m->failing_since_wall != 0)
		util_fmt(reason, n, "imds failing since %s: %s",
		    util_fmt_time(since, sizeof since, m->failing_since_wall / 1000), m->last_err);
	else
		util_fmt(reason, n, "no IMDS poll for %lld ms (limit %lld ms)",
		    (long long)(now_mono - m->last_ok_mono), (long long)m->window_ms);
	pthread_mutex_unlock(&m->mu);
	return ok;
}

/* ---- /proc/self/stat ------------------------------------------------------ */

int
metrics_parse_proc_stat(const char *buf, size_t len, long ticks_per_s, long page_size,
    struct metrics_proc *p, unsigned long long *start_ticks)
{
	unsigned long long v[24];
	const char *s = NULL;
	size_t i;
	int field;

	for (i = len; i > 0; i--)
		if (buf[i - 1] == ')') {
			s = buf + i;
			break;
		}
	if (s == NULL || ticks_per_s <= 0 || page_size <= 0)
		return -1;
	/* After the name: field 3 (state, one letter), then numbers; we need up to field 24 (rss). */
	for (field = 2; field < 24; field++) {
		unsigned long long x = 0;
		int digits = 0, neg = 0;

		if (s >= buf + len || *s != ' ')
			return -1;
		s++;
		if (field == 2) {
			if (s >= buf + len || *s < 'A' || *s > 'z')
				return -1;
			s++;
			continue;
		}
		if (s < buf + len && *s == '-') {
			neg = 1;
			s++;
		}
		for (; s < buf + len && *s >= '0' && *s <= '9'; s++, digits++) {
			if (x > (~0ULL - 9) / 10)
				return -1;
			x = x * 10 + (unsigned long long)(*s - '0');
		}
		if (digits == 0)
			return -1;
		v[field] = neg ? 0 : x;
	}
	/* rss must end where the line goes on: a cut line is not read as a smaller number. */
	if (s >= buf + len || (*s != ' ' && *s != '\n'))
		return -1;
	/* Fields, numbered from 1 as in proc(5): 14 utime, 15 stime, 22 starttime, 23 vsize, 24 rss. */
	p->cpu_ms = (v[13] + v[14]) * 1000 / (unsigned long long)ticks_per_s;
	*start_ticks = v[21];
	p->vsize_bytes = v[22];
	p->rss_bytes = v[23] * (unsigned long long)page_size;
	p->have_stat = 1;
	return 0;
}

/* ---- The exposition ------------------------------------------------------- */

/*
 * A family of counters, one or two labels; each label's values are
 * separated by spaces. Counter first + i * (values of l2) + j holds the
 * i-th value of l1 with the j-th of l2.
 */
struct family {
	const char *name, *help;
	enum metric first;
	const char *l1, *v1, *l2, *v2;
};

static const struct family families[] = {
	{ "despotify_imds_polls_total", "IMDS polls by result.", M_POLL_NOTICE,
	    "result", "notice none error", NULL, NULL },
	{ "despotify_notices_total", "Notices seen, each once.", M_NOTICE_TERMINATION,
	    "kind", "termination rebalance", NULL, NULL },
	{ "despotify_evictions_total", "Evictions by outcome (blocked: each PDB refusal).", M_EVICT_EVICTED,
	    "outcome", "evicted blocked deleted failed", NULL, NULL },
	{ "despotify_cordons_total", "Cordons by outcome.", M_CORDON_OK,
	    "outcome", "cordoned failed", NULL, NULL },
	{ "despotify_detaches_total", "Auto Scaling detaches by outcome.", M_DETACH_DETACHED,
	    "outcome", "detached not_in_asg already_leaving dry_run failed", NULL, NULL },
	{ "despotify_credential_refreshes_total", "AWS credential fetches, Kubernetes token reads.",
	    M_CRED_AWS_OK, "service", "aws k8s", "result", "ok error" },
	{ "despotify_api_requests_total", "API requests by HTTP status class.", M_API,
	    "endpoint", "imds aws k8s webhook", "status", "2xx 3xx 4xx 5xx error" },
};

/* The gauges, in the order of the values metrics_render computes. */
enum { G_HEALTHY, G_HANDLING, G_DURATION, G_NOTICE, G_LEFT, G_RSS, G_VSIZE, G_START, G_FDS, G_MAXFDS, G_N };

static const char *const gauges[G_N][2] = {
	{ "despotify_healthy", "1 while /healthz answers 200." },
	{ "despotify_handling_in_progress", "1 while a notice is being handled." },
	{ "despotify_handling_duration_seconds", "How long the last handling took." },
	{ "despotify_last_notice_timestamp_seconds", "When the last new notice was seen (0: never)." },
	{ "despotify_drain_pods_left", "Pods the last drain left on the node." },
	{ "process_resident_memory_bytes", "Resident memory size in bytes." },
	{ "process_virtual_memory_bytes", "Virtual memory size in bytes." },
	{ "process_start_time_seconds", "Start time of the process since unix epoch in seconds." },
	{ "process_open_fds", "Number of open file descriptors." },
	{ "process_max_fds", "Maximum number of open file descriptors." },
};

static void
head(char *buf, size_t cap, size_t *at, const char *name, const char *type, const char *help)
{
	util_append(buf, cap, at, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The next space-separated word of *s, its length in *len; 0 at the end. */
static int
word(const char **s, const char **w, int *len)
{
	while (**s == ' ')
		(*s)++;
	*w = *s;
	*len = (int)strcspn(*s, " ");
	*s += *len;
	return *len > 0;
}

static void
render_family(struct metrics *m, const struct family *f, char *buf, size_t cap, size_t *at)
{
	const char *s1 = f->v1, *s2, *a, *b;
	int la, lb, n = f->first;

	head(buf, cap, at, f->name, "counter", f->help);
	while (word(&s1, &a, &la)) {
		if (f->l2 == NULL) {
			util_append(buf, cap, at, "%s{%s=\"%.*s\"} %lu\n", f->name, f->l1, la, a,
			    LOAD(&m->c[n++]));
			continue;
		}
		for (s2 = f->v2; word(&s2, &b, &lb);)
			util_append(buf, cap, at, "%s{%s=\"%.*s\",%s=\"%.*s\"} %lu\n", f->name, f->l1, la, a,
			    f->l2, lb, b, LOAD(&m->c[n++]));
	}
}

int
metrics_render(struct metrics *m, const struct metrics_proc *p, const char *version,
    char *buf, size_t cap)
{
	/* The gauges in milliseconds, printed as seconds; the others as they are. */
	static const unsigned in_ms = 1u << G_DURATION | 1u << G_NOTICE | 1u << G_START;
	int64_t v[G_N];
	size_t at = 0, i;
	char why[8], num[UTIL_SECONDS_LEN];
	const char *s;

	if (cap == 0)
		return -1;
	buf[0] = '\0';
	head(buf, cap, &at, "despotify_build_info", "gauge", "The running version; always 1.");
	util_append(buf, cap, &at, "despotify_build_info{version=\"");
	for (s = version; *s != '\0'; s++)   /* a label value: \ " and newline escaped */
		util_append(buf, cap, &at, *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ?
		    "\\n" : "%c", *s);
	util_append(buf, cap, &at, "\"} 1\n");
	for (i = 0; i < sizeof families / sizeof families[0]; i++)
		render_family(m, &families[i], buf, cap, &at);
	if (p->have_stat) {
		head(buf, cap, &at, "process_cpu_seconds_total", "counter",
		    "Total user and system CPU time spent in seconds.");
		util_append(buf, cap, &at, "process_cpu_seconds_total %s\n",
		    util_fmt_seconds(num, sizeof num, (int64_t)p->cpu_ms));
	}
	v[G_HEALTHY] = metrics_health(m, util_now_ms(), why, sizeof why);
	v[G_HANDLING] = LOAD(&m->handling);
	v[G_DURATION] = LOAD(&m->last_handling_ms);
	v[G_NOTICE] = LOAD(&m->last_notice_wall_ms);
	v[G_LEFT] = LOAD(&m->pods_left);
	v[G_RSS] = p->have_stat ? (int64_t)p->rss_bytes : -1;
	v[G_VSIZE] = p->have_stat ? (int64_t)p->vsize_bytes : -1;
	v[G_START] = p->start_time_ms > 0 ? p->start_time_ms : -1;
	v[G_FDS] = p->open_fds;
	v[G_MAXFDS] = p->max_fds;
	/* Every despotify_ gauge is known; a process_ one at -1 is unknown and left out. */
	for (i = 0; i < G_N; i++)
		if (i < G_RSS || v[i] >= 0) {
			if (in_ms & 1u << i)
				util_fmt_seconds(num, sizeof num, v[i]);
			else
				util_fmt(num, sizeof num, "%lld", (long long)v[i]);
			util_append(buf, cap, &at, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", gauges[i][0],
			    gauges[i][1], gauges[i][0], gauges[i][0], num);
		}
	return at >= cap ? -1 : (int)at;
}
