/*
 * despotify — watch an EC2 spot instance for its interruption notice and get
 * the Kubernetes node off it in time: detach the instance from its Auto
 * Scaling Group and cordon and drain the node. See README.md and
 * shared/DESIGN.md.
 *
 * main.c owns the command line, the configuration, the signals and the poll
 * loop, and the handling of one notice.
 *
 * Threads, and who joins them: the poll loop (the main thread) starts at
 * most one handling at a time (start_handling) and joins it (reap);
 * handling_main starts the handling's jobs (detach, cordon, drain,
 * announcements) and joins every one before it summarises; drain_node
 * joins its workers. The one exception is a signal in the middle of a
 * handling: main returns at once and exit ends the threads (every step is
 * idempotent: a restarted despotify resumes).
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "aws.h"
#include "config.h"
#include "drain.h"
#include "imds.h"
#include "k8s.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "serve.h"
#include "util.h"

extern char **environ;

/* The only globals: set by signal handlers, read by the loops. */
static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* A notice whose own time has already passed still gets this long. */
#define NOTICE_PAST_MIN_MS   20000
/* Fact gathering between polls: retry delay bounds. */
#define FACTS_RETRY_MIN_MS   500
#define FACTS_RETRY_MAX_MS   5000
/* One IMDS poll, or one round of fact gathering, never takes longer than this. */
#define POLL_BUDGET_MS       2000
/* A handling that has no deadline (advisory) fetches the node's name this long at most. */
#define NODE_FETCH_ADVISORY_MS 30000
/* The webhook and the Event that announce a handling, and the webhook at its end, get at least this long. */
#define NOTIFY_END_MIN_MS    5000
/* Undoing a cordon that is no longer needed gets this long (the poll loop goes on meanwhile). */
#define RECOVER_BUDGET_MS    30000
/* Threads' stacks: every large buffer lives in the heap or in struct app. */
#define THREAD_STACK         (256 * 1024)

struct app;

/* One job of a handling: a thread that handling_main starts and joins. */
struct job {
	pthread_t t;
	int started;                /* handling_main's */
	int done;                   /* under h->mu: the job has ended */
};

/*
 * One notice's handling. handling_main (its own thread, started by the poll
 * loop, joined by reap) starts the jobs, waits for them, acts on a
 * termination notice that takes over a rebalance one, joins every job and
 * summarises. The jobs run side by side: detach (a termination only),
 * cordon, drain, and the announcements (Event and webhook); the drain's
 * evictions wait only for the cordon's first answer (drain_ctl_open).
 */
struct handling {
	struct app *app;
	pthread_t thread;
	pthread_mutex_t mu;         /* guards the fields marked (mu) and every job's done */
	pthread_cond_t cv;          /* handling_main: a job ended, or a notice took over */
	struct imds_notice notice;  /* (mu) the notice in force */
	int advisory;               /* (mu) a rebalance recommendation not taken over */
	int takeover;               /* (mu) set by the poll loop: a termination notice came */
	enum imds_kind taken_from;  /* (mu) what it takes over: a rebalance or a scheduled event */
	int taken_over;             /* a termination notice did take over (handling_main's) */
	int closing;                /* (mu) the jobs are over: too late to take over */
	int drain_wanted;           /* (mu) not for a rebalance with rebalance_action = cordon */
	int detach_wanted;          /* (mu) a termination, or a scheduled event that ends the instance */
	int finished;               /* atomic: handling_main is done, reap may join it */
	int threaded;               /* handling_main has a thread of its own (else it ran inline) */
	int rc;                     /* 0 if everything asked for was done */
	int64_t start_ms;           /* monotonic, at detection */
	int64_t deadline_ms;        /* atomic (k8s_cordon reads it); DRAIN_NO_DEADLINE: advisory */
	char node[CONFIG_MAX_STR];  /* (mu) "" until known; fixed once set */
	char node_err[512];         /* why the node's name is not known */
	struct imds_facts facts;    /* the poll loop's when it began, completed by handling_main */
	struct drain_ctl ctl;

	struct job cordon, drain, detach, announce[2];
	struct k8s_cordon_result cr;
	int drain_rc;
	struct drain_result dr;
	struct imds_facts det_facts;    /* the detach job's: it fetches what it lacks */
	struct aws_detach_result det;
};

/*
 * Scheduled events, polled every maintenance_poll_interval by the poll
 * loop, and the undoing of a cordon that is no longer needed (a canceled or
 * completed event, a node back after a spot stop), on a thread of its own
 * that the poll loop starts and joins, so that no request to the API server
 * ever holds a poll.
 */
struct maintenance {
	int64_t next_ms;                        /* monotonic: the next poll of the events */
	struct imds_event ev[IMDS_MAX_EVENTS];  /* the last document read (the recovery thread's copy: rev) */
	int nev;
	int known;                              /* the document was read at least once */
	char handled[IMDS_MAX_EVENT_ID];        /* the event handled last: never twice */
	struct log_limit ll;
	/* The recovery thread. */
	int recover_wanted;                     /* at start, and whenever the events change */
	pthread_t thread;
	int running;                            /* the thread was started and not joined */
	int done;                               /* atomic: it has ended */
	struct imds_event rev[IMDS_MAX_EVENTS]; /* its inputs, copied before it starts */
	int rnev, rknown, spot_notice;
	char node[CONFIG_MAX_STR];
};

/* Everything the daemon holds, passed explicitly; one, in static storage. */
struct app {
	struct config cfg;
	struct log lg;
	char *const *envp;
	struct imds imds;           /* the poll loop's client, for notices and facts */
	struct imds_facts facts;    /* gathered between polls, one fact at a time */
	int facts_done;
	int64_t facts_next, facts_delay;
	struct log_limit facts_ll;
	char node[CONFIG_MAX_STR];  /* "" until the config or the facts name it */
	struct k8s k8s;
	pthread_mutex_t aws_mu;     /* aws is set up once, by whichever thread needs it first */
	struct aws aws;
	int aws_ready;              /* under aws_mu */
	struct notify notify;
	int imds_ready, k8s_ready;
	int rebalance_seen;
	struct maintenance maint;   /* scheduled events and the undoing of despotify's cordon */
	struct handling *h;         /* the notice being handled, or NULL (the poll loop's) */
	int jobs_running;           /* a signal cut a handling short: its threads still run */
	struct metrics metrics;     /* what /metrics and /healthz report; the jobs point at it */
	struct serve serve;         /* the listener, if listen is set */
	int serve_on;
};

static void
usage(int fd)
{
	util_write_fmt(fd,
	    "usage: despotify [-c FILE] [-n] [--once] [--dry-run] [-V] [-h]\n"
	    "  -c FILE     config file (default ./despotify.ini; a missing default file means\n"
	    "              built-in defaults, a missing file given with -c is an error)\n"
	    "  -n          check the config, print the effective settings, exit\n"
	    "  --once      poll once; if a notice is present handle it completely, then exit\n"
	    "  --dry-run   do everything but change nothing: log each call it would make\n"
	    "  -V          print the version\n"
	    "  -h          this help\n"
	    "exit status: 0 success, 1 runtime failure, 2 usage or config error\n");
}

/* Sleeps in slices so that a signal ends the wait at once. */
static void
sleep_unless_stopped(int64_t ms)
{
	int64_t until = util_now_ms() + ms;

	while (!stop_requested && util_now_ms() < until)
		util_sleep_ms(until - util_now_ms() < 1000 ? until - util_now_ms() : 1000);
}

static int64_t
min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* ---- Facts and AWS, set up when first needed ------------------------------------ */

/*
 * Fetches the facts in want that *f lacks, with an IMDS client of the
 * calling thread's own, retrying until deadline_ms or a signal. Returns 0,
 * or -1 with the last fault in err.
 */
static int
fetch_facts(struct app *a, struct imds_facts *f, unsigned want, int64_t deadline_ms,
    char *err, size_t errlen)
{
	struct imds *m = malloc(sizeof *m);
	int64_t delay = FACTS_RETRY_MIN_MS;
	int rc = -1;

	util_fmt(err, errlen, "no time left");
	if (m == NULL || imds_init(m, &a->cfg, &a->lg, err, errlen) < 0) {
		if (m == NULL)
			util_fmt(err, errlen, "out of memory");
		free(m);
		return -1;
	}
	while (!stop_requested && util_now_ms() < deadline_ms) {
		if ((rc = imds_facts(m, f, want, deadline_ms, err, errlen)) == 0)
			break;
		sleep_unless_stopped(min64(delay, deadline_ms - util_now_ms()));
		delay = min64(delay * 2, FACTS_RETRY_MAX_MS);
	}
	imds_close(m);
	free(m);
	return rc;
}

/* Sets a->aws up for region unless it is already. Returns 0, or -1 with err. */
static int
ensure_aws(struct app *a, const char *region, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&a->aws_mu);
	if (!a->aws_ready) {
		if ((rc = aws_init(&a->aws, &a->cfg, &a->lg, a->envp, region, err, errlen)) == 0) {
			a->aws.metrics = &a->metrics;    /* aws_init zeroes the struct */
			a->aws_ready = 1;
		}
	}
	pthread_mutex_unlock(&a->aws_mu);
	return rc;
}

/*
 * One round of fact gathering, between two polls, when it is due: fetches
 * what is still missing (a failure keeps what was fetched), and once all
 * is there names the node and sets AWS up. Returns 0, or 2 on a config
 * error.
 */
static int
gather_facts(struct app *a)
{
	char err[512];
	int64_t now = util_now_ms();

	if (a->facts_done || now < a->facts_next)
		return 0;
	if (imds_facts(&a->imds, &a->facts, IMDS_FACTS_ALL, now + POLL_BUDGET_MS, err,
	    sizeof err) < 0) {
		log_limited(&a->lg, &a->facts_ll, 60000, LV_WARNING, "imds: instance facts not all "
		    "available yet: %s (polling for notices meanwhile)", err);
		metrics_imds_failed(&a->metrics, err);
		a->facts_delay = a->facts_delay ? min64(a->facts_delay * 2, FACTS_RETRY_MAX_MS) :
		    FACTS_RETRY_MIN_MS;
		a->facts_next = util_now_ms() + a->facts_delay;
		return 0;
	}
	a->facts_done = 1;
	if (a->node[0] == '\0')
		util_strlcpy(a->node, a->facts.local_hostname, sizeof a->node);
	if (a->cfg.detach_from_asg && ensure_aws(a, a->cfg.region[0] ? a->cfg.region :
	    a->facts.region, err, sizeof err) < 0) {
		log_error(&a->lg, "config: aws: %s", err);
		return 2;
	}
	log_info(&a->lg, "watching instance %s (%s, %s) for node %s; polling IMDS every %lld ms%s",
	    a->facts.instance_id, a->facts.instance_type, a->facts.availability_zone, a->node,
	    (long long)a->cfg.poll_interval_ms, a->cfg.dry_run ? " (dry run)" : "");
	return 0;
}

/* ---- The jobs of a handling ------------------------------------------------------ */

static int64_t
deadline_of(struct handling *h)
{
	return __atomic_load_n(&h->deadline_ms, __ATOMIC_ACQUIRE);
}

/* Says that job j has ended, to handling_main. */
static void
job_done(struct handling *h, struct job *j)
{
	pthread_mutex_lock(&h->mu);
	j->done = 1;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

/* Starts fn(h) as job j; runs it here if no thread can be had. */
static void
job_start(struct handling *h, struct job *j, void *(*fn)(void *), const char *what)
{
	pthread_attr_t at;
	int r;

	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, THREAD_STACK);
	r = pthread_create(&j->t, &at, fn, h);
	pthread_attr_destroy(&at);
	if (r != 0) {
		log_error(&h->app->lg, "cannot start the %s thread: %s; running it inline", what,
		    strerror(r));
		fn(h);
		return;
	}
	j->started = 1;
}

/* Joins job j if it has a thread, and forgets it. */
static void
job_join(struct job *j)
{
	if (j->started)
		pthread_join(j->t, NULL);
	memset(j, 0, sizeof *j);
}

static void *
detach_job(void *arg)
{
	struct handling *h = arg;
	struct app *a = h->app;
	const char *region = a->cfg.region;
	char err[512], node[CONFIG_MAX_STR];
	int64_t t0 = util_now_ms();

	/* A notice may come before the poll loop has the facts: fetch them within the deadline. */
	if (fetch_facts(a, &h->det_facts, IMDS_FACT_ID | (region[0] ? 0 : IMDS_FACT_IDENTITY),
	    deadline_of(h), err, sizeof err) < 0 ||
	    ensure_aws(a, region[0] ? region : h->det_facts.region, err, sizeof err) < 0) {
		h->det.outcome = AWS_FAILED;
		h->det.ms = util_now_ms() - t0;
		util_fmt(h->det.error, sizeof h->det.error, "%s", err);
	} else {
		aws_detach(&a->aws, h->det_facts.instance_id, deadline_of(h), &h->det);
		pthread_mutex_lock(&h->mu);
		util_strlcpy(node, h->node, sizeof node);
		pthread_mutex_unlock(&h->mu);
		if (h->det.outcome == AWS_DETACHED && node[0] != '\0')
			k8s_event(&a->k8s, node, "Normal", "DetachedFromASG",
			    "instance %s detached from Auto Scaling group %s", h->det_facts.instance_id,
			    h->det.group);
	}
	job_done(h, &h->detach);
	return NULL;
}

/*
 * Why the node is cordoned, as recorded on it (k8s_cordon_record): what a
 * later despotify reads to decide whether to undo it.
 */
static void
notice_cause(const struct imds_notice *n, char *out, size_t cap)
{
	if (n->kind == IMDS_KIND_MAINTENANCE)
		util_fmt(out, cap, "maintenance/%s", n->event_id);
	else if (n->kind == IMDS_KIND_REBALANCE)
		util_fmt(out, cap, "rebalance");
	else if (n->action == IMDS_ACTION_UNKNOWN)
		util_fmt(out, cap, "spot-interruption");
	else
		util_fmt(out, cap, "spot-%s", imds_action_name(n->action));
}

/* k8s_cordon's first answer: the evictions may start. */
static void
cordon_answered(void *arg)
{
	struct handling *h = arg;

	drain_ctl_open(&h->ctl);
}

static void *
cordon_job(void *arg)
{
	struct handling *h = arg;

	char cause[K8S_MAX_CAUSE];

	pthread_mutex_lock(&h->mu);
	notice_cause(&h->notice, cause, sizeof cause);
	pthread_mutex_unlock(&h->mu);
	k8s_cordon(&h->app->k8s, h->node, cause, &h->deadline_ms, cordon_answered, h, &h->cr);
	metrics_inc(&h->app->metrics, h->cr.err[0] == '\0' ? M_CORDON_OK : M_CORDON_FAILED);
	if (h->cr.err[0] != '\0')
		log_error(&h->app->lg, "k8s: cordon of node %s failed: %s", h->node, h->cr.err);
	job_done(h, &h->cordon);
	return NULL;
}

static void *
drain_job(void *arg)
{
	struct handling *h = arg;

	h->drain_rc = drain_node(&h->app->k8s, h->node, &h->ctl, &h->dr);
	job_done(h, &h->drain);
	return NULL;
}

/*
 * What a notice is, for Events, the webhook and the summary: "spot
 * termination notice (terminate)", "scheduled event system-reboot
 * (instance-event-0d59937288b749b32), window 2019-01-21T09:00:43Z to
 * 2019-01-21T09:17:23Z".
 */
static void
describe_notice(const struct imds_notice *n, char *out, size_t cap)
{
	char from[32], to[32];

	if (n->kind != IMDS_KIND_MAINTENANCE) {
		util_fmt(out, cap, "Spot %s notice (%s)", imds_kind_name(n->kind),
		    imds_action_name(n->action));
		return;
	}
	util_fmt_time(from, sizeof from, n->time_s);
	if (n->event_end_s != 0)
		util_fmt_time(to, sizeof to, n->event_end_s);
	util_fmt(out, cap, "Scheduled event %s (%s), window %s to %s", n->event_code_name,
	    n->event_id, from, n->event_end_s != 0 ? to : "(open)");
}

/*
 * Says that handling has begun (or that a termination notice took it
 * over): an Event on the node and the webhook, off the path of the cordon
 * and the first evictions.
 */
static void
announce(struct handling *h, struct job *j)
{
	struct app *a = h->app;
	struct imds_notice n;
	struct imds_facts f = h->facts;
	char when[32], text[1536], err[256], what[256];
	const char *doing;
	int adv, drain, detach;

	pthread_mutex_lock(&h->mu);
	n = h->notice;
	adv = h->advisory;
	drain = h->drain_wanted;
	detach = h->detach_wanted;
	pthread_mutex_unlock(&h->mu);
	/* A notice that came before the facts: they are worth a short wait, here only. */
	if (fetch_facts(a, &f, IMDS_FACT_ID | IMDS_FACT_TYPE, util_now_ms() + POLL_BUDGET_MS, err,
	    sizeof err) < 0)
		log_debug(&a->lg, "imds: instance facts for the announcement: %s", err);
	util_fmt_time(when, sizeof when, n.time_s);
	doing = adv ? (drain ? "draining the node (advisory)" : "cordoning the node") :
	    !drain ? "cordoning the node" : detach ?
	    "detaching from the Auto Scaling group and draining the node" : "draining the node";
	describe_notice(&n, what, sizeof what);
	k8s_event(&a->k8s, h->node, "Warning", adv ? "RebalanceRecommendation" :
	    n.kind == IMDS_KIND_MAINTENANCE ? "ScheduledEvent" : "SpotInterruption",
	    "%s for instance %s, effective %s; despotify is %s", what,
	    f.instance_id[0] ? f.instance_id : "(unknown)", when, doing);
	util_fmt(text, sizeof text, "%s for %s (%s, node %s) effective %s: %s.", what,
	    f.instance_id[0] ? f.instance_id : "(instance id unknown)",
	    f.instance_type[0] ? f.instance_type : "?", h->node, when, doing);
	if (a->notify.enabled)
		notify_send(&a->notify, text, adv ? util_now_ms() + NOTIFY_END_MIN_MS : deadline_of(h));
	job_done(h, j);
}

/* The announcement of the notice that began the handling. */
static void *
announce_job(void *arg)
{
	struct handling *h = arg;

	announce(h, &h->announce[0]);
	return NULL;
}

/* The announcement of a termination notice that took over. */
static void *
takeover_announce_job(void *arg)
{
	struct handling *h = arg;

	announce(h, &h->announce[1]);
	return NULL;
}

/* ---- One handling: start, wait, summarise ---------------------------------------- */

/*
 * The deadline of a notice seen now: min(notice time, now + grace_period);
 * a scheduled event's is its NotBefore (maintenance_lead ahead of it, it
 * is seen maintenance_lead before it is due).
 */
static int64_t
notice_deadline(const struct config *cfg, const struct imds_notice *n, int64_t now_mono,
    int64_t now_wall_ms)
{
	int64_t until_notice = n->time_s * 1000 - now_wall_ms;
	int64_t budget = n->kind == IMDS_KIND_MAINTENANCE ? until_notice : cfg->grace_period_ms;

	if (until_notice <= 0) {
		/* The notice's time has passed (a restart late in the notice, or a
		 * skewed clock): the instance may go any second; still try. */
		budget = budget < NOTICE_PAST_MIN_MS ? budget : NOTICE_PAST_MIN_MS;
	} else if (until_notice < budget) {
		budget = until_notice;
	}
	return now_mono + budget;
}

static void
log_notice(struct handling *h, const struct imds_notice *n, const char *what)
{
	struct app *a = h->app;
	char when[32], left[64] = "no deadline: advisory";
	int64_t ms = deadline_of(h) - util_now_ms();

	util_fmt_time(when, sizeof when, n->time_s);
	if (deadline_of(h) < DRAIN_NO_DEADLINE)
		util_fmt(left, sizeof left, "deadline in %lld.%lld s", (long long)(ms / 1000),
		    (long long)(ms % 1000 / 100));
	log_info(&a->lg, "notice: %s %s at %s (from %s%s); %s node %s, %s%s",
	    imds_kind_name(n->kind), imds_action_name(n->action), when,
	    imds_source_name(n->source), n->time_given ? "" : ", no time given", what,
	    h->node[0] ? h->node : "(name not known yet)", left,
	    a->cfg.dry_run ? " (dry run: nothing will be changed)" : "");
}

/* The node's name: the config's or the facts', else fetched from IMDS within the deadline. */
static int
handling_node(struct handling *h)
{
	struct app *a = h->app;
	int64_t until = min64(deadline_of(h), util_now_ms() + NODE_FETCH_ADVISORY_MS);

	if (h->node[0] != '\0')
		return 0;
	if (fetch_facts(a, &h->facts, IMDS_FACT_HOSTNAME, until, h->node_err,
	    sizeof h->node_err) < 0) {
		log_error(&a->lg, "no node name: set node_name or NODE_NAME (IMDS local-hostname: %s); "
		    "nothing can be cordoned or drained", h->node_err);
		return -1;
	}
	pthread_mutex_lock(&h->mu);
	util_strlcpy(h->node, h->facts.local_hostname, sizeof h->node);
	pthread_mutex_unlock(&h->mu);
	return 0;
}

/* Starts the jobs the notice asks for. */
static void
handling_begin(struct handling *h)
{
	struct imds_notice n;
	int detach;

	/* The poll loop may be changing them (a takeover): a copy, under the lock. */
	pthread_mutex_lock(&h->mu);
	n = h->notice;
	detach = h->detach_wanted;
	pthread_mutex_unlock(&h->mu);
	log_notice(h, &n, "handling");
	if (detach) {
		h->det_facts = h->facts;
		job_start(h, &h->detach, detach_job, "detach");
	}
	if (handling_node(h) < 0)
		return;
	job_start(h, &h->announce[0], announce_job, "announce");
	job_start(h, &h->cordon, cordon_job, "cordon");
	if (h->drain_wanted)
		job_start(h, &h->drain, drain_job, "drain");
}

/*
 * A termination notice came while a rebalance recommendation or a
 * scheduled event was being handled: it takes over at once with its own deadline. The drain under
 * way (if any) switches to the notice's mode and keeps what it did; the
 * cordon's retries get the deadline; what was not started is.
 */
static void
take_over(struct handling *h)
{
	struct app *a = h->app;
	struct imds_notice n;
	enum imds_kind from;
	int drain_ran, detach_ran, cordon_failed;

	pthread_mutex_lock(&h->mu);
	n = h->notice;
	from = h->taken_from;
	drain_ran = h->drain.started || h->drain.done;
	detach_ran = h->detach.done;
	cordon_failed = h->cordon.done && h->cr.err[0] != '\0';
	h->drain_wanted = h->node[0] != '\0';
	h->detach_wanted = a->cfg.detach_from_asg;
	pthread_mutex_unlock(&h->mu);
	h->taken_over = 1;
	__atomic_store_n(&h->deadline_ms, notice_deadline(&a->cfg, &n, util_now_ms(),
	    util_wall_ms()), __ATOMIC_RELEASE);
	log_notice(h, &n, from == IMDS_KIND_MAINTENANCE ? "it takes over the scheduled event's "
	    "handling of" : "it takes over the rebalance handling of");
	drain_ctl_deadline(&h->ctl, deadline_of(h));
	if (h->detach_wanted && !h->detach.started && !detach_ran) {
		h->det_facts = h->facts;
		job_start(h, &h->detach, detach_job, "detach");
	}
	if (h->node[0] == '\0')
		return;
	if (!drain_ran)
		job_start(h, &h->drain, drain_job, "drain");
	if (cordon_failed) {
		job_join(&h->cordon);
		job_start(h, &h->cordon, cordon_job, "cordon");
	}
	job_start(h, &h->announce[1], takeover_announce_job, "announce");
}

/* Whether every job started has ended. Called with h->mu held. */
static int
jobs_over(const struct handling *h)
{
	const struct job *js[] = { &h->cordon, &h->drain, &h->detach, &h->announce[0], &h->announce[1] };
	size_t i;

	for (i = 0; i < sizeof js / sizeof js[0]; i++)
		if (js[i]->started && !js[i]->done)
			return 0;
	return 1;
}

/* Waits for the jobs, acting on a takeover meanwhile, then joins them all. */
static void
handling_wait(struct handling *h)
{
	pthread_mutex_lock(&h->mu);
	for (;;) {
		if (h->takeover) {
			h->takeover = 0;
			pthread_mutex_unlock(&h->mu);
			take_over(h);
			pthread_mutex_lock(&h->mu);
			continue;
		}
		if (jobs_over(h))
			break;
		pthread_cond_wait(&h->cv, &h->mu);
	}
	h->closing = 1;
	pthread_mutex_unlock(&h->mu);
	job_join(&h->announce[0]);
	job_join(&h->announce[1]);
	job_join(&h->detach);
	job_join(&h->drain);
	job_join(&h->cordon);
}

/* What the node is now, for the summary: cordoned and tainted, or what is missing. */
static int
describe_node(const struct handling *h, char *out, size_t n)
{
	if (h->node[0] == '\0') {
		util_fmt(out, n, "name unknown (%s): NOT cordoned", h->node_err);
		return -1;
	}
	if (!h->cr.unschedulable) {
		util_fmt(out, n, "%s NOT cordoned (%s)", h->node, h->cr.err);
		return -1;
	}
	if (h->cr.taint_refused)
		util_fmt(out, n, "%s cordoned, NOT tainted (the API server refused the taint: "
		    "NodeRestriction)", h->node);
	else
		util_fmt(out, n, "%s cordoned%s", h->node, h->app->cfg.taint[0] ? " and tainted" : "");
	return 0;
}

/* What became of the detach, for the summary. */
static int
describe_detach(const struct handling *h, char *out, size_t n)
{
	size_t at;

	if (!h->app->cfg.detach_from_asg) {
		util_fmt(out, n, "disabled");
		return 0;
	}
	if (!h->detach_wanted) {
		util_fmt(out, n, "not asked (%s)", h->advisory ? "rebalance" :
		    "a scheduled event the instance comes back from");
		return 0;
	}
	aws_outcome_describe(&h->det, out, n);
	at = strlen(out);
	if (at + 1 < n)
		util_fmt(out + at, n - at, " in %lld ms", (long long)h->det.ms);
	return h->det.outcome == AWS_FAILED ? -1 : 0;
}

/* One line says it all; the webhook hears it too. Returns 0 if everything asked for was done. */
static int
handling_summarise(struct handling *h)
{
	struct app *a = h->app;
	char summary[4096], node[1200], drained[1024], det[1280], what[256];
	int ok = describe_node(h, node, sizeof node) == 0;

	if (!h->drain_wanted) {
		util_fmt(summary, sizeof summary, "summary: node %s in %lld ms", node,
		    (long long)h->cr.ms);
	} else {
		ok &= describe_detach(h, det, sizeof det) == 0;
		ok &= h->drain_rc == 0 && h->node[0] != '\0';
		util_fmt(summary, sizeof summary, "summary: node %s; %s; ASG: %s; cordon %lld ms, "
		    "total %lld ms", node, h->node[0] ? drain_result_summary(&h->dr, drained,
		    sizeof drained) : "drain: not run", det, (long long)h->cr.ms,
		    (long long)(util_now_ms() - h->start_ms));
	}
	if (h->notice.kind != IMDS_KIND_TERMINATION || h->notice.action != IMDS_ACTION_UNKNOWN) {
		/* What it was: a spot stop or hibernate comes back, a scheduled event has a window. */
		size_t at = strlen(summary);

		describe_notice(&h->notice, what, sizeof what);
		util_fmt(summary + at, sizeof summary - at, "; %s", what);
	}
	log_msg(&a->lg, ok ? LV_INFO : LV_ERROR, "%s", summary);
	metrics_handling(&a->metrics, 0, util_now_ms() - h->start_ms);
	if (a->notify.enabled)
		notify_send(&a->notify, summary + strlen("summary: "),
		    h->advisory ? util_now_ms() + NOTIFY_END_MIN_MS :
		    deadline_of(h) > util_now_ms() + NOTIFY_END_MIN_MS ? deadline_of(h) :
		    util_now_ms() + NOTIFY_END_MIN_MS);
	return ok ? 0 : -1;
}

/* The thread of one handling: start the jobs, wait for them, summarise. */
static void *
handling_main(void *arg)
{
	struct handling *h = arg;

	handling_begin(h);
	handling_wait(h);
	h->rc = handling_summarise(h);
	__atomic_store_n(&h->finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* ---- The poll loop ------------------------------------------------------------- */

/*
 * Starts the handling of notice n (advisory: a rebalance recommendation) on
 * a thread of its own, so that the poll loop goes on polling. The poll loop
 * owns it and joins it (reap).
 */
static void
start_handling(struct app *a, const struct imds_notice *n, int advisory)
{
	struct handling *h = calloc(1, sizeof *h);
	pthread_attr_t at;
	int r;

	if (h == NULL) {
		log_error(&a->lg, "out of memory: cannot handle the notice");
		return;
	}
	metrics_handling(&a->metrics, 1, 0);
	h->app = a;
	h->notice = *n;
	h->advisory = advisory;
	h->drain_wanted = n->kind == IMDS_KIND_MAINTENANCE ?
	    a->cfg.maintenance_action == REBALANCE_DRAIN :
	    !advisory || a->cfg.rebalance_action == REBALANCE_DRAIN;
	h->detach_wanted = !advisory && a->cfg.detach_from_asg &&
	    (n->kind != IMDS_KIND_MAINTENANCE || imds_ev_ends_instance(n->event_code));
	h->start_ms = util_now_ms();
	h->deadline_ms = advisory ? DRAIN_NO_DEADLINE :
	    notice_deadline(&a->cfg, n, h->start_ms, util_wall_ms());
	h->facts = a->facts;
	util_strlcpy(h->node, a->node, sizeof h->node);
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	drain_ctl_init(&h->ctl, h->deadline_ms, 0);
	a->h = h;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, THREAD_STACK);
	r = pthread_create(&h->thread, &at, handling_main, h);
	pthread_attr_destroy(&at);
	h->threaded = r == 0;
	if (r != 0) {
		log_error(&a->lg, "cannot start the handling thread: %s; handling the notice inline",
		    strerror(r));
		handling_main(h);
	}
}

/* What a notice seen by the poll loop starts, or changes. */
static void
on_notice(struct app *a, const struct imds_notice *n)
{
	struct handling *h = a->h;

	if (n->kind == IMDS_KIND_REBALANCE) {
		if (a->rebalance_seen++)
			return;
		if (a->cfg.rebalance_action == REBALANCE_NONE)
			log_info(&a->lg, "notice: rebalance recommendation (rebalance_action = none: not acting)");
		else if (h == NULL)
			start_handling(a, n, 1);
		return;
	}
	if (h == NULL) {
		start_handling(a, n, 0);
		return;
	}
	/*
	 * A termination notice takes over a rebalance's or a scheduled event's
	 * handling. One that is closing cannot: the next poll starts one after it.
	 */
	pthread_mutex_lock(&h->mu);
	if ((h->advisory || h->notice.kind == IMDS_KIND_MAINTENANCE) && !h->closing) {
		h->taken_from = h->notice.kind;
		h->notice = *n;
		h->advisory = 0;
		h->takeover = 1;
		pthread_cond_broadcast(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
}

/*
 * Joins the handling if it has finished. Returns 0 if none did, 1 if a
 * termination notice's did, 2 if a rebalance recommendation's did, 3 if a
 * scheduled event's did; *rc is its outcome.
 */
static int
reap(struct app *a, int *rc)
{
	struct handling *h = a->h;
	int kind;

	if (h == NULL || !__atomic_load_n(&h->finished, __ATOMIC_ACQUIRE))
		return 0;
	if (h->threaded)
		pthread_join(h->thread, NULL);
	kind = h->advisory ? 2 : h->notice.kind == IMDS_KIND_MAINTENANCE ? 3 : 1;
	*rc = h->rc;
	drain_ctl_destroy(&h->ctl);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h);
	a->h = NULL;
	return kind;
}

/* ---- Scheduled events, and undoing the cordon ------------------------------------ */

/* Logs the events new or changed since the last document; returns whether any were, or went. */
static int
events_changed(struct app *a, const struct imds_event *ev, int n)
{
	const struct maintenance *m = &a->maint;
	char from[32];
	int i, j, changed = !m->known || n != m->nev;

	for (i = 0; i < n; i++) {
		for (j = 0; m->known && j < m->nev; j++)
			if (strcmp(ev[i].id, m->ev[j].id) == 0 && ev[i].state == m->ev[j].state &&
			    ev[i].not_before_s == m->ev[j].not_before_s)
				break;
		if (m->known && j < m->nev)
			continue;
		changed = 1;
		log_info(&a->lg, "maintenance: scheduled event %s (%s) %s, from %s", ev[i].code_name,
		    ev[i].id, imds_ev_state_name(ev[i].state),
		    util_fmt_time(from, sizeof from, ev[i].not_before_s));
	}
	return changed;
}

/*
 * Between two notice polls, every maintenance_poll_interval: reads the
 * scheduled events and starts the handling of the one that is due
 * (maintenance_lead before its NotBefore), once. A change in the events
 * asks for a look at the node's cordon (recover_tick).
 */
static void
maintenance_tick(struct app *a)
{
	struct maintenance *m = &a->maint;
	struct imds_event ev[IMDS_MAX_EVENTS];
	struct imds_notice n;
	char err[512];
	int64_t now = util_now_ms();
	int cnt, due;

	if (a->cfg.maintenance_url[0] == '\0' || now < m->next_ms)
		return;
	m->next_ms = now + a->cfg.maintenance_poll_interval_ms;
	cnt = imds_events(&a->imds, ev, IMDS_MAX_EVENTS, now + POLL_BUDGET_MS, err, sizeof err);
	if (cnt < 0) {
		log_limited(&a->lg, &m->ll, 600000, LV_WARNING, "maintenance: %s", err);
		return;
	}
	if (events_changed(a, ev, cnt))
		m->recover_wanted = 1;
	memcpy(m->ev, ev, sizeof ev[0] * (size_t)cnt);
	m->nev = cnt;
	m->known = 1;
	due = imds_event_due(ev, cnt, util_wall_ms() / 1000, a->cfg.maintenance_lead_ms / 1000, NULL);
	if (due < 0 || a->h != NULL || strcmp(ev[due].id, m->handled) == 0)
		return;
	util_strlcpy(m->handled, ev[due].id, sizeof m->handled);
	if (a->cfg.maintenance_action == REBALANCE_NONE) {
		log_info(&a->lg, "maintenance: event %s (%s) is due (maintenance_action = none: not acting)",
		    ev[due].code_name, ev[due].id);
		return;
	}
	imds_event_notice(&ev[due], &n);
	start_handling(a, &n, 0);
}

/*
 * Whether despotify's cordon, recorded with rec, is no longer needed: its
 * scheduled event is over (canceled, completed, or gone from the list), or
 * the spot stop or hibernate it was for is behind the instance (no notice
 * now). A termination's or a rebalance's cordon stays.
 */
static int
cordon_outlived(void *arg, const struct k8s_cordon_record *rec)
{
	const struct maintenance *m = arg;
	const char *id = rec->cause + strlen("maintenance/");
	int i;

	if (strncmp(rec->cause, "maintenance/", strlen("maintenance/")) == 0) {
		if (!m->rknown)
			return 0;
		for (i = 0; i < m->rnev; i++)
			if (strcmp(m->rev[i].id, id) == 0)
				return m->rev[i].state != IMDS_EV_ACTIVE;
		return 1;
	}
	if (strcmp(rec->cause, "spot-stop") == 0 || strcmp(rec->cause, "spot-hibernate") == 0)
		return !m->spot_notice;
	return 0;
}

/* The recovery thread: undoes the node's cordon if cordon_outlived says so. */
static void *
recover_main(void *arg)
{
	struct app *a = arg;
	struct maintenance *m = &a->maint;
	struct k8s_cordon_record rec;
	char err[512];

	if (k8s_uncordon(&a->k8s, m->node, util_now_ms() + RECOVER_BUDGET_MS, cordon_outlived, m,
	    &rec, err, sizeof err) < 0)
		log_warning(&a->lg, "k8s: undoing despotify's cordon of node %s: %s", m->node, err);
	__atomic_store_n(&m->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Joins the recovery thread once it has ended, and starts it when asked
 * (at start, and when the events change), once the events have been read,
 * between handlings, after a poll that saw no termination notice
 * (quiet: 1). The poll loop owns the thread; on a signal it is left to
 * exit, like a handling's.
 */
static void
recover_tick(struct app *a, int quiet)
{
	struct maintenance *m = &a->maint;
	pthread_attr_t at;

	if (m->running) {
		if (!__atomic_load_n(&m->done, __ATOMIC_ACQUIRE))
			return;
		pthread_join(m->thread, NULL);
		m->running = 0;
	}
	if (!m->recover_wanted || !quiet || a->h != NULL || a->node[0] == '\0' || a->cfg.once ||
	    (a->cfg.maintenance_url[0] != '\0' && !m->known))
		return;
	m->recover_wanted = 0;
	memcpy(m->rev, m->ev, sizeof m->rev);
	m->rnev = m->nev;
	m->rknown = m->known;
	m->spot_notice = 0;
	util_strlcpy(m->node, a->node, sizeof m->node);
	m->done = 0;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, THREAD_STACK);
	m->running = pthread_create(&m->thread, &at, recover_main, a) == 0;
	pthread_attr_destroy(&at);
	if (!m->running)
		m->recover_wanted = 1;      /* next time */
}

/* Sets up what polling needs; AWS too when the region is configured. Returns 0 or 2. */
static int
start_up(struct app *a)
{
	char err[1024];

	if (imds_init(&a->imds, &a->cfg, &a->lg, err, sizeof err) < 0) {
		log_error(&a->lg, "config: %s", err);
		return 2;
	}
	a->imds_ready = 1;
	a->imds.metrics = &a->metrics;
	if (k8s_init(&a->k8s, &a->cfg, &a->lg, a->envp, err, sizeof err) < 0) {
		log_error(&a->lg, "config: %s", err);
		return 2;
	}
	a->k8s_ready = 1;
	a->k8s.metrics = &a->metrics;
	if (notify_init(&a->notify, &a->cfg, &a->lg, a->envp, err, sizeof err) < 0) {
		log_error(&a->lg, "config: webhook: %s", err);
		return 2;
	}
	a->notify.metrics = &a->metrics;
	util_strlcpy(a->node, a->cfg.node_name, sizeof a->node);
	a->maint.recover_wanted = 1;    /* a cordon of despotify's may be left from before */
	if (a->cfg.detach_from_asg && a->cfg.region[0] != '\0' &&
	    ensure_aws(a, a->cfg.region, err, sizeof err) < 0) {
		log_error(&a->lg, "config: aws: %s", err);
		return 2;
	}
	log_info(&a->lg, "polling IMDS every %lld ms for notices%s%s",
	    (long long)a->cfg.poll_interval_ms, a->node[0] ? " for node " : "", a->node);
	return 0;
}

/*
 * The daemon: start-up, then the poll loop, which never waits for anything
 * but IMDS: facts are gathered between polls and notices are handled on a
 * thread of their own. Returns the exit status.
 */
static int
run(struct app *a)
{
	struct imds_notice n;
	int r, rc = 0, done;

	if ((r = start_up(a)) != 0)
		return r;
	while (!stop_requested) {
		r = imds_poll(&a->imds, &n, util_now_ms() + POLL_BUDGET_MS);
		if (r == 1)
			on_notice(a, &n);
		done = reap(a, &rc);
		if (done != 0 && a->cfg.once)
			return rc == 0 ? 0 : 1;
		if (done == 3)
			a->maint.recover_wanted = 1;    /* the event may have been canceled meanwhile */
		if (done == 1) {
			/* Done: stay up, idle, until the instance goes (a restart resumes). */
			log_info(&a->lg, "handling finished; idle until the instance stops");
			while (!stop_requested)
				sleep_unless_stopped(60000);
			break;
		}
		if (gather_facts(a) != 0 && a->h == NULL)
			return 2;
		maintenance_tick(a);
		recover_tick(a, r == 0 || (r == 1 && n.kind == IMDS_KIND_REBALANCE));
		if (a->cfg.once && a->h == NULL)
			return r < 0 ? 1 : 0;
		sleep_unless_stopped(a->h != NULL ? a->cfg.poll_interval_ms : imds_delay_ms(&a->imds));
	}
	if (a->h != NULL) {
		log_warning(&a->lg, "stopping on signal in the middle of handling the notice; "
		    "a restarted despotify resumes it");
		a->jobs_running = 1;
	}
	if (a->maint.running)
		a->jobs_running = 1;        /* the recovery thread: its deadline is near, exit ends it */
	log_info(&a->lg, "stopping on signal");
	return 0;
}

/* SIGTERM and SIGINT stop the daemon; SIGPIPE is no reason to die. */
static void
catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal must cut a sleep or a poll short. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* The command line, from shared/DESIGN.md. */
struct args {
	const char *path;
	int path_given, check_only, once, dry_run;
};

/* Reads argv into *o. Returns -1 to go on, else the exit status (-V, -h, a usage error). */
static int
parse_args(int argc, char **argv, struct args *o)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-c") == 0) {
			if (++i >= argc) {
				util_write_fmt(2, "despotify: -c needs a file name\n");
				usage(2);
				return 2;
			}
			o->path = argv[i];
			o->path_given = 1;
		} else if (strcmp(a, "-n") == 0) {
			o->check_only = 1;
		} else if (strcmp(a, "--once") == 0) {
			o->once = 1;
		} else if (strcmp(a, "--dry-run") == 0) {
			o->dry_run = 1;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			util_write_fmt(1, "despotify %s\n", DESPOTIFY_VERSION);
			return 0;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(1);
			return 0;
		} else {
			util_write_fmt(2, "despotify: unknown argument \"%s\"\n", a);
			usage(2);
			return 2;
		}
	}
	return -1;
}

/* Releases what run set up, unless a signal left threads that still use it. */
static void
shut_down(struct app *a)
{
	if (a->jobs_running)
		return;     /* the handling threads still use everything: let exit end them */
	if (a->aws_ready)
		aws_close(&a->aws);
	if (a->k8s_ready)
		k8s_close(&a->k8s);
	notify_close(&a->notify);
	if (a->imds_ready)
		imds_close(&a->imds);
	pthread_mutex_destroy(&a->aws_mu);
	metrics_destroy(&a->metrics);
}

int
main(int argc, char **argv)
{
	struct args o = { "despotify.ini", 0, 0, 0, 0 };
	static struct app app;
	struct config *cfg = &app.cfg;
	char err[1024];
	int i, rc;

	if ((rc = parse_args(argc, argv, &o)) >= 0)
		return rc;
	if (config_load(cfg, o.path, o.path_given, environ, err, sizeof err) < 0) {
		util_write_fmt(2, "despotify: %s\n", err);
		return 2;
	}
	cfg->once = o.once;
	cfg->dry_run = o.dry_run;
	if (o.check_only) {
		for (i = 0; i < cfg->nwarnings; i++)
			util_write_fmt(2, "despotify: warning: %s\n", cfg->warnings[i]);
		config_print(cfg, 1);
		util_write_fmt(1, "# configuration OK\n");
		return 0;
	}

	log_init(&app.lg, cfg->level, cfg->log_json);
	app.envp = environ;
	for (i = 0; i < cfg->nwarnings; i++)
		log_warning(&app.lg, "config: %s", cfg->warnings[i]);

	catch_signals();

	log_info(&app.lg, "despotify %s starting (config: %s)", DESPOTIFY_VERSION,
	    cfg->file_loaded ? cfg->path : "built-in defaults");
	pthread_mutex_init(&app.aws_mu, NULL);
	metrics_init(&app.metrics, cfg->poll_interval_ms, POLL_BUDGET_MS);
	/* The listener's thread is ours: started here, joined by serve_stop below, on every path. */
	if (cfg->listen[0] != '\0') {
		if (serve_start(&app.serve, cfg->listen, &app.lg, &app.metrics, DESPOTIFY_VERSION,
		    err, sizeof err) < 0) {
			log_error(&app.lg, "serve: %s", err);
			return 1;
		}
		app.serve_on = 1;
		log_info(&app.lg, "serve: /healthz and /metrics on http://%s", cfg->listen);
	}
	rc = run(&app);
	if (app.serve_on)
		serve_stop(&app.serve);
	shut_down(&app);
	return rc;
}
