/*
 * despotify — watch an EC2 spot instance for its interruption notice and get
 * the Kubernetes node off it in time: detach the instance from its Auto
 * Scaling Group and cordon and drain the node. See README.md and
 * shared/DESIGN.md.
 *
 * main.c owns the command line, the configuration, the signals and the poll
 * loop, and the handling of one notice.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
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
/* Fact gathering at start: retry delay bounds, and the whole budget for --once. */
#define FACTS_RETRY_MIN_MS   500
#define FACTS_RETRY_MAX_MS   30000
#define FACTS_ONCE_BUDGET_MS 30000
/* One IMDS poll never takes longer than this. */
#define POLL_BUDGET_MS       2000
/* The webhook at the end of handling gets at least this long. */
#define NOTIFY_END_MIN_MS    5000
/* Threads' stacks: every large buffer lives in the heap or in struct app. */
#define THREAD_STACK         (256 * 1024)

struct app;

/* One notice's handling: the detach job and the drain job run side by side. */
struct handling {
	struct app *app;
	struct imds_notice notice;
	char when[32];              /* the notice's time, RFC 3339 */
	int64_t start_ms;           /* monotonic, at detection */
	int64_t deadline_ms;        /* monotonic */
	int drain_only;             /* a rebalance recommendation: no detach */
	int cordon_only;

	/* Detach job. */
	int detach_run;
	struct aws_detach_result det;
	int64_t detach_ms;

	/* Set by each job as it ends; main waits on them so a signal is seen at once. */
	volatile int detach_done, drain_done;

	/* Drain job. */
	int cordon_rc;
	char cordon_err[512];
	int64_t cordon_ms;
	int drain_rc;
	struct drain_result dr;

	char start_text[1536];      /* the webhook message that announces it */
};

/* Everything the daemon holds, passed explicitly; one, in static storage. */
struct app {
	struct config cfg;
	struct log lg;
	char *const *envp;
	struct imds imds;           /* the poll loop's client */
	struct imds_facts facts;
	char node[CONFIG_MAX_STR];
	struct k8s k8s;
	struct aws aws;
	struct notify notify;
	int imds_ready, k8s_ready, aws_ready;
	struct handling h;          /* the notice being handled */
	int jobs_running;           /* a signal cut a handling short: its threads still run */
	struct metrics metrics;     /* what /metrics and /healthz report; the jobs point at it */
	struct serve serve;         /* the listener, if listen is set */
	int serve_on;
};

static void
usage(FILE *f)
{
	fprintf(f,
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

/*
 * Gathers the instance facts, retrying with backoff until IMDS answers,
 * a signal arrives, or (with --once) a budget runs out. Returns 0 or -1.
 */
static int
gather_facts(struct app *a)
{
	struct log_limit ll = { 0, 0 };
	int64_t delay = FACTS_RETRY_MIN_MS, give_up = util_now_ms() + FACTS_ONCE_BUDGET_MS;
	char err[512];

	while (!stop_requested) {
		if (imds_facts(&a->imds, &a->facts, util_now_ms() + POLL_BUDGET_MS * 2,
		    err, sizeof err) == 0)
			return 0;
		log_limited(&a->lg, &ll, 60000, LV_WARNING,
		    "imds: instance facts not available yet: %s (retrying)", err);
		metrics_imds_failed(&a->metrics, err);
		if (a->cfg.once && util_now_ms() + delay > give_up) {
			log_error(&a->lg, "imds: instance facts not available: %s", err);
			return -1;
		}
		sleep_unless_stopped(delay);
		delay = delay * 2 > FACTS_RETRY_MAX_MS ? FACTS_RETRY_MAX_MS : delay * 2;
	}
	return -1;
}

static void *
detach_job(void *arg)
{
	struct handling *h = arg;
	struct app *a = h->app;
	int64_t t0 = util_now_ms();

	aws_detach(&a->aws, a->facts.instance_id, h->deadline_ms, &h->det);
	h->detach_ms = util_now_ms() - t0;
	if (h->det.outcome == AWS_DETACHED)
		k8s_event(&a->k8s, a->node, "Normal", "DetachedFromASG",
		    "instance %s detached from Auto Scaling group %s", a->facts.instance_id,
		    h->det.group);
	__atomic_store_n(&h->detach_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *
drain_job(void *arg)
{
	struct handling *h = arg;
	struct app *a = h->app;
	int64_t t0 = util_now_ms();

	h->cordon_rc = k8s_cordon(&a->k8s, a->node, h->deadline_ms, h->cordon_err,
	    sizeof h->cordon_err);
	h->cordon_ms = util_now_ms() - t0;
	metrics_inc(&a->metrics, h->cordon_rc == 0 ? M_CORDON_OK : M_CORDON_FAILED);
	if (h->cordon_rc < 0)
		log_error(&a->lg, "k8s: cordon of node %s failed: %s", a->node, h->cordon_err);
	/* A failed cordon does not stop the drain: evictions still move the pods. */
	if (!h->cordon_only)
		h->drain_rc = drain_node(&a->k8s, a->node, h->deadline_ms, &h->dr);
	__atomic_store_n(&h->drain_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Says that handling has begun: an Event on the node and the webhook. In
 * a thread of its own, off the path of the cordon and the first evictions.
 */
static void *
announce_job(void *arg)
{
	struct handling *h = arg;
	struct app *a = h->app;

	k8s_event(&a->k8s, a->node, "Warning", h->drain_only ? "RebalanceRecommendation" :
	    "SpotInterruption", "spot %s notice (%s) for instance %s, effective %s; despotify is %s the node",
	    imds_kind_name(h->notice.kind), imds_action_name(h->notice.action), a->facts.instance_id,
	    h->when, h->cordon_only ? "cordoning" : "draining");
	if (a->notify.enabled)
		notify_send(&a->notify, h->start_text, h->deadline_ms);
	return NULL;
}

static int
start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	pthread_attr_t at;
	int r;

	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, THREAD_STACK);
	r = pthread_create(t, &at, fn, arg);
	pthread_attr_destroy(&at);
	return r;
}

/* The deadline of a notice seen now: min(notice time, now + grace_period). */
static int64_t
notice_deadline(const struct config *cfg, const struct imds_notice *n, int64_t now_mono,
    int64_t now_wall_ms)
{
	int64_t until_notice = n->time_s * 1000 - now_wall_ms;
	int64_t budget = cfg->grace_period_ms;

	if (until_notice <= 0) {
		/* The notice's time has passed (a restart late in the notice, or a
		 * skewed clock): the instance may go any second; still try. */
		budget = budget < NOTICE_PAST_MIN_MS ? budget : NOTICE_PAST_MIN_MS;
	} else if (until_notice < budget) {
		budget = until_notice;
	}
	return now_mono + budget;
}

/*
 * Handles one notice completely: cordon and drain in one thread, detach in
 * another, the webhook in a third, then one summary line. Returns 0 if
 * everything that was asked for was done, else -1.
 */
static int
handle_notice(struct app *a, const struct imds_notice *n, int rebalance_drain)
{
	struct handling *h = &a->h;
	pthread_t td, tk, tn;
	int have_td = 0, have_tn = 0, ok = 1;
	char summary[2048], drained[1024];
	int64_t now_wall = util_wall_ms(), left_ms;

	memset(h, 0, sizeof *h);
	metrics_handling(&a->metrics, 1, 0);
	h->app = a;
	h->notice = *n;
	h->start_ms = util_now_ms();
	h->deadline_ms = notice_deadline(&a->cfg, n, h->start_ms, now_wall);
	h->drain_only = n->kind == IMDS_KIND_REBALANCE;
	h->cordon_only = h->drain_only && !rebalance_drain;
	util_fmt_time(h->when, sizeof h->when, n->time_s);
	left_ms = h->deadline_ms - h->start_ms;
	log_info(&a->lg, "notice: %s %s at %s (from %s%s); handling node %s, deadline in %lld.%lld s%s",
	    imds_kind_name(n->kind), imds_action_name(n->action), h->when,
	    imds_source_name(n->source), n->time_given ? "" : ", no time given",
	    a->node, (long long)(left_ms / 1000), (long long)(left_ms % 1000 / 100),
	    a->cfg.dry_run ? " (dry run: nothing will be changed)" : "");

	snprintf(h->start_text, sizeof h->start_text,
	    "Spot %s notice for %s (%s, node %s) effective %s: %s.",
	    imds_kind_name(n->kind), a->facts.instance_id, a->facts.instance_type, a->node,
	    h->when, h->cordon_only ? "cordoning the node" : h->drain_only ? "draining the node" :
	    "detaching from the Auto Scaling group and draining the node");
	have_tn = start_thread(&tn, announce_job, h) == 0;
	if (!h->drain_only && a->cfg.detach_from_asg && a->aws_ready) {
		h->detach_run = 1;
		have_td = start_thread(&td, detach_job, h) == 0;
		if (!have_td) {
			log_error(&a->lg, "cannot start the detach thread; detaching inline after the drain");
			h->detach_run = 2;
		}
	}
	if (start_thread(&tk, drain_job, h) != 0) {
		log_error(&a->lg, "cannot start the drain thread");
		a->jobs_running = have_td || have_tn;
		return -1;
	}
	if (h->detach_run != 1)
		h->detach_done = 1;
	/*
	 * Wait for both jobs, but leave at once on SIGTERM: the jobs are
	 * idempotent, so the next despotify resumes where these stopped.
	 */
	while (!stop_requested && !(__atomic_load_n(&h->drain_done, __ATOMIC_ACQUIRE) &&
	    __atomic_load_n(&h->detach_done, __ATOMIC_ACQUIRE)))
		util_sleep_ms(50);
	if (stop_requested) {
		log_warning(&a->lg, "stopping on signal in the middle of handling the notice; "
		    "a restarted despotify resumes it");
		a->jobs_running = 1;
		return -1;
	}
	pthread_join(tk, NULL);
	if (have_td)
		pthread_join(td, NULL);
	else if (h->detach_run == 2)
		detach_job(h);
	if (have_tn)
		pthread_join(tn, NULL);

	/* One line says it all. */
	if (h->cordon_rc < 0)
		ok = 0;
	if (h->cordon_only) {
		snprintf(summary, sizeof summary, "summary: node %s %s in %lld ms",
		    a->node, h->cordon_rc == 0 ? "cordoned" : "NOT cordoned", (long long)h->cordon_ms);
	} else {
		char det[512];

		if (h->drain_rc < 0)
			ok = 0;
		if (!h->detach_run) {
			snprintf(det, sizeof det, "%s", h->drain_only ? "not asked (rebalance)" :
			    a->cfg.detach_from_asg ? "not possible (AWS not set up)" : "disabled");
			if (!h->drain_only && a->cfg.detach_from_asg)
				ok = 0;
		} else {
			aws_outcome_describe(&h->det, det, sizeof det);
			if (h->det.outcome == AWS_FAILED)
				ok = 0;
			snprintf(det + strlen(det), sizeof det - strlen(det), " in %lld ms",
			    (long long)h->detach_ms);
		}
		snprintf(summary, sizeof summary,
		    "summary: node %s %s; %s; ASG: %s; total %lld ms",
		    a->node, h->cordon_rc == 0 ? "cordoned" : "NOT cordoned",
		    drain_result_summary(&h->dr, drained, sizeof drained), det,
		    (long long)(util_now_ms() - h->start_ms));
	}
	if (ok)
		log_info(&a->lg, "%s", summary);
	else
		log_error(&a->lg, "%s", summary);
	if (a->notify.enabled) {
		int64_t d = h->deadline_ms > util_now_ms() + NOTIFY_END_MIN_MS ? h->deadline_ms :
		    util_now_ms() + NOTIFY_END_MIN_MS;

		notify_send(&a->notify, summary + strlen("summary: "), d);
	}
	metrics_handling(&a->metrics, 0, util_now_ms() - h->start_ms);
	return ok ? 0 : -1;
}

/* The node's name: the config, else NODE_NAME / POD_NODE_NAME (folded in by config), else IMDS. */
static int
resolve_node(struct app *a)
{
	const char *n = a->cfg.node_name[0] != '\0' ? a->cfg.node_name : a->facts.local_hostname;

	if (n[0] == '\0') {
		log_error(&a->lg, "no node name: set node_name or NODE_NAME (IMDS gave no local-hostname)");
		return -1;
	}
	util_strlcpy(a->node, n, sizeof a->node);
	return 0;
}

/*
 * The daemon: start-up, then the poll loop. Returns the exit status.
 */
static int
run(struct app *a)
{
	struct imds_notice n;
	char err[1024];
	int rebalance_handled = 0, r;

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
	if (gather_facts(a) < 0)
		return stop_requested ? 0 : 1;
	if (resolve_node(a) < 0)
		return 1;
	if (a->cfg.detach_from_asg) {
		if (aws_init(&a->aws, &a->cfg, &a->lg, a->envp,
		    a->cfg.region[0] ? a->cfg.region : a->facts.region, err, sizeof err) < 0) {
			log_error(&a->lg, "config: aws: %s", err);
			return 2;
		}
		a->aws_ready = 1;
		a->aws.metrics = &a->metrics;
	}
	log_info(&a->lg, "watching instance %s (%s, %s) for node %s; polling IMDS every %lld ms%s",
	    a->facts.instance_id, a->facts.instance_type, a->facts.availability_zone, a->node,
	    (long long)a->cfg.poll_interval_ms, a->cfg.dry_run ? " (dry run)" : "");

	while (!stop_requested) {
		r = imds_poll(&a->imds, &n, util_now_ms() + POLL_BUDGET_MS);
		if (r == 1 && n.kind == IMDS_KIND_TERMINATION) {
			r = handle_notice(a, &n, 0);
			if (stop_requested)
				break;
			if (a->cfg.once)
				return r == 0 ? 0 : 1;
			/* Done: stay up, idle, until the instance goes (a restart resumes). */
			log_info(&a->lg, "handling finished; idle until the instance stops");
			while (!stop_requested)
				util_sleep_ms(60000);
			break;
		}
		if (r == 1 && n.kind == IMDS_KIND_REBALANCE && !rebalance_handled) {
			rebalance_handled = 1;
			if (a->cfg.rebalance_action == REBALANCE_NONE) {
				log_info(&a->lg, "notice: rebalance recommendation (rebalance_action = none: not acting)");
			} else if (handle_notice(a, &n, a->cfg.rebalance_action == REBALANCE_DRAIN) < 0 &&
			    a->cfg.once) {
				return 1;
			}
		}
		if (a->cfg.once)
			return r < 0 ? 1 : 0;
		sleep_unless_stopped(imds_delay_ms(&a->imds));
	}
	log_info(&a->lg, "stopping on signal");
	return 0;
}

int
main(int argc, char **argv)
{
	const char *path = "despotify.ini";
	int path_given = 0, check_only = 0, once = 0, dry_run = 0, i, rc;
	static struct app app;
	struct config *cfg = &app.cfg;
	struct sigaction sa;
	char err[1024];

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-c") == 0) {
			if (++i >= argc) {
				fprintf(stderr, "despotify: -c needs a file name\n");
				usage(stderr);
				return 2;
			}
			path = argv[i];
			path_given = 1;
		} else if (strcmp(a, "-n") == 0) {
			check_only = 1;
		} else if (strcmp(a, "--once") == 0) {
			once = 1;
		} else if (strcmp(a, "--dry-run") == 0) {
			dry_run = 1;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("despotify %s\n", DESPOTIFY_VERSION);
			return 0;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "despotify: unknown argument \"%s\"\n", a);
			usage(stderr);
			return 2;
		}
	}

	if (config_load(cfg, path, path_given, environ, err, sizeof err) < 0) {
		fprintf(stderr, "despotify: %s\n", err);
		return 2;
	}
	cfg->once = once;
	cfg->dry_run = dry_run;
	if (check_only) {
		for (i = 0; i < cfg->nwarnings; i++)
			fprintf(stderr, "despotify: warning: %s\n", cfg->warnings[i]);
		config_print(cfg, 1);
		printf("# configuration OK\n");
		return 0;
	}

	log_init(&app.lg, cfg->level, cfg->log_json);
	app.envp = environ;
	for (i = 0; i < cfg->nwarnings; i++)
		log_warning(&app.lg, "config: %s", cfg->warnings[i]);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal must cut a sleep or a poll short. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	log_info(&app.lg, "despotify %s starting (config: %s)", DESPOTIFY_VERSION,
	    cfg->file_loaded ? cfg->path : "built-in defaults");
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
	if (app.jobs_running)
		return rc;  /* the handling threads still use everything: let exit end them */
	if (app.aws_ready)
		aws_close(&app.aws);
	if (app.k8s_ready)
		k8s_close(&app.k8s);
	notify_close(&app.notify);
	if (app.imds_ready)
		imds_close(&app.imds);
	metrics_destroy(&app.metrics);
	return rc;
}
