/* drain.c — see drain.h. */
#include "drain.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "util.h"

/* Where each pod of the node stands. */
enum pstate {
	P_PENDING,     /* to evict */
	P_INFLIGHT,    /* a worker is sending its eviction or deletion */
	P_WAIT,        /* to try again at next_ms (blocked by a PDB, throttled, or a fault) */
	P_EVICTED,     /* eviction accepted: waiting for the pod to go */
	P_DELETED,     /* deletion accepted: waiting for the pod to go */
	P_DONE,        /* evicted or deleted, and gone */
	P_GONE,        /* gone before we evicted it */
	P_REFUSED,     /* the server refused for good (403, 422...) */
	P_SKIPPED,     /* not ours to evict */
};

struct dpod {
	struct k8s_pod p;
	int64_t next_ms;
	unsigned short attempts;
	unsigned char state;
	unsigned char blocked;     /* the last refusal came from a PDB (or several): deletable */
	unsigned char logged;      /* its block was logged at INFO once */
	unsigned char seen;        /* in the listing under way */
};

struct worker {
	struct drain *d;
	pthread_t tid;
	struct http_client hc;
	char body[K8S_MAX_SMALL_BODY];
};

struct drain {
	struct k8s *k;
	const struct config *cfg;
	const struct log *lg;
	const char *node;
	int64_t start, deadline, stop_at, delete_at, last_sent;
	int64_t throttle_until;         /* API priority and fairness asked everyone to wait */
	pthread_mutex_t mu;
	pthread_cond_t work_cv;         /* workers: there may be something to do */
	pthread_cond_t progress_cv;     /* the drain thread: a pod changed state */
	struct dpod *pods;
	int npods, cap, nevictable;
	int stop, first_done, dry_run;
	int max_workers, nworkers;
	/*
	 * Requests allowed in flight: max_workers, halved (at most once a
	 * second) when the API server throttles us, grown back by one per
	 * window of answers that were not throttling. When hundreds of nodes
	 * drain at once this keeps each one from retrying a full burst.
	 */
	int inflight, window, streak;
	int64_t window_cut_ms;
	struct worker *workers[DRAIN_MAX_WORKERS];
	int skips[DRAIN_SKIP_UNMANAGED + 1];
	struct log_limit ll;
	struct drain_result *r;
};

/* ---- Pure helpers ----------------------------------------------------------------- */

enum drain_action
drain_filter(unsigned flags, int delete_emptydir_data, int force)
{
	if (flags & K8S_POD_SELF)
		return DRAIN_SKIP_SELF;
	if (flags & K8S_POD_FINISHED)
		return DRAIN_SKIP_FINISHED;
	if (flags & K8S_POD_MIRROR)
		return DRAIN_SKIP_MIRROR;
	if (flags & K8S_POD_DAEMONSET)
		return DRAIN_SKIP_DAEMONSET;
	if ((flags & K8S_POD_EMPTYDIR) && !delete_emptydir_data)
		return DRAIN_SKIP_EMPTYDIR;
	if ((flags & K8S_POD_UNMANAGED) && !force)
		return DRAIN_SKIP_UNMANAGED;
	return DRAIN_EVICT;
}

const char *
drain_action_name(enum drain_action a)
{
	switch (a) {
	case DRAIN_EVICT:          return "to evict";
	case DRAIN_SKIP_SELF:      return "despotify's own pod";
	case DRAIN_SKIP_FINISHED:  return "finished";
	case DRAIN_SKIP_MIRROR:    return "mirror pod";
	case DRAIN_SKIP_DAEMONSET: return "DaemonSet-managed";
	case DRAIN_SKIP_EMPTYDIR:  return "emptyDir data (delete_emptydir_data is off)";
	case DRAIN_SKIP_UNMANAGED: return "no controller (force is off)";
	}
	return "?";
}

int
drain_grace(int pod_grace, int64_t now_ms, int64_t deadline_ms)
{
	int64_t left = (deadline_ms - now_ms - K8S_GRACE_MARGIN_MS) / 1000;

	if (left < 0 || pod_grace < 0)
		return 0;
	return left < pod_grace ? (int)left : pod_grace;
}

/* Whether body looks like one JSON object: a 200 with HTML in it is no eviction. */
static int
json_object_ish(const char *body, size_t len)
{
	const char *p = util_trim(body, &len);

	return len >= 2 && p[0] == '{' && p[len - 1] == '}';
}

enum drain_outcome
drain_classify(int status, const char *body, size_t len)
{
	switch (status) {
	case 200:
	case 201:
	case 202:
		return json_object_ish(body, len) ? DRAIN_OK : DRAIN_TRANSIENT;
	case 404:
		return DRAIN_GONE;
	case 429:
		return k8s_status_is_pdb(body, len) ? DRAIN_PDB : DRAIN_THROTTLED;
	case 500:
		return DRAIN_MULTI_PDB;
	case 400:
	case 403:
	case 405:
	case 415:
	case 422:
		return DRAIN_REFUSED;
	default:
		/* 401 (a token mid-rotation), 409, 502-504, anything odd: try again. */
		return DRAIN_TRANSIENT;
	}
}

char *
drain_result_summary(const struct drain_result *r, char *buf, size_t n)
{
	char term[32] = "";
	size_t at;
	int i;

	if (r->terminating > 0)
		snprintf(term, sizeof term, " (%d terminating)", r->terminating);
	snprintf(buf, n, "drain: %d evicted, %d deleted, %d gone, %d skipped, %d left%s; "
	    "cordon %lld ms, last eviction at %lld ms, total %lld ms%s",
	    r->evicted, r->deleted, r->gone, r->skipped, r->left, term,
	    (long long)r->cordon_ms, (long long)r->last_eviction_ms, (long long)r->total_ms,
	    r->deadline_hit ? " (deadline reached)" : "");
	for (i = 0; i < r->nleft_names; i++) {
		at = strlen(buf);
		if (at + 1 >= n)
			break;
		snprintf(buf + at, n - at, "%s%s", i == 0 ? "; left: " : ", ", r->left_names[i]);
	}
	at = strlen(buf);
	if (r->left > r->nleft_names && at + 1 < n)
		snprintf(buf + at, n - at, " and %d more", r->left - r->nleft_names);
	at = strlen(buf);
	if (r->error[0] != '\0' && at + 1 < n)
		snprintf(buf + at, n - at, "; %s", r->error);
	return buf;
}

/* ---- The drain --------------------------------------------------------------------- */

static void
abs_time(struct timespec *ts, int64_t ms)
{
	ts->tv_sec = (time_t)(ms / 1000);
	ts->tv_nsec = (long)(ms % 1000) * 1000000L;
}

static void
wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms)
{
	struct timespec ts;

	abs_time(&ts, ms);
	pthread_cond_timedwait(cv, mu, &ts);
}

static void *worker_main(void *arg);

/* An Event about the node that never waits past the drain's deadline. */
static void __attribute__((format(printf, 4, 5)))
event(struct drain *d, const char *type, const char *reason, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	k8s_vevent(d->k, d->deadline, d->node, type, reason, fmt, ap);
	va_end(ap);
}

/* Starts one more eviction thread. Called with d->mu held. */
static void
spawn_worker(struct drain *d)
{
	pthread_attr_t attr;
	struct worker *w;
	int rc;

	if ((w = calloc(1, sizeof *w)) == NULL)
		return;
	w->d = d;
	k8s_client_init(d->k, &w->hc);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, DRAIN_WORKER_STACK);
	rc = pthread_create(&w->tid, &attr, worker_main, w);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		log_warning(d->lg, "drain: cannot start an eviction thread: %s (running with %d)",
		    strerror(rc), d->nworkers);
		free(w);
		return;
	}
	d->workers[d->nworkers++] = w;
}

static int
find_pod(const struct drain *d, const struct k8s_pod *p)
{
	int i;

	for (i = 0; i < d->npods; i++) {
		const struct k8s_pod *q = &d->pods[i].p;

		if (p->uid[0] != '\0' ? strcmp(q->uid, p->uid) == 0 :
		    strcmp(q->name, p->name) == 0 && strcmp(q->ns, p->ns) == 0)
			return i;
	}
	return -1;
}

/* k8s_list_pods' callback, for the first listing and every re-listing. */
static int
on_pod(void *arg, const struct k8s_pod *p)
{
	struct drain *d = arg;
	struct dpod *dp;
	enum drain_action a;
	int i;

	pthread_mutex_lock(&d->mu);
	if ((i = find_pod(d, p)) >= 0) {
		dp = &d->pods[i];
		dp->seen = 1;
		if (p->flags & K8S_POD_FINISHED) {
			/* It ran to completion: nothing of it is left to move. */
			if (dp->state == P_EVICTED || dp->state == P_DELETED) {
				dp->state = P_DONE;
			} else if (dp->state == P_PENDING || dp->state == P_WAIT) {
				dp->state = P_GONE;
				d->r->gone++;
			}
			pthread_cond_broadcast(&d->progress_cv);
		}
		pthread_mutex_unlock(&d->mu);
		return 0;
	}
	if (d->npods >= K8S_MAX_PODS) {
		pthread_mutex_unlock(&d->mu);
		log_error(d->lg, "drain: node %s has more than %d pods; the rest are not drained",
		    d->node, K8S_MAX_PODS);
		return -1;
	}
	if (d->npods == d->cap) {
		int ncap = d->cap ? d->cap * 2 : 64;
		struct dpod *np = realloc(d->pods, sizeof *np * (size_t)ncap);

		if (np == NULL) {
			pthread_mutex_unlock(&d->mu);
			log_error(d->lg, "drain: out of memory for %d pods", ncap);
			return -1;
		}
		d->pods = np;
		d->cap = ncap;
	}
	dp = &d->pods[d->npods++];
	memset(dp, 0, sizeof *dp);
	dp->p = *p;
	dp->seen = 1;
	d->r->found++;
	a = drain_filter(p->flags, d->cfg->delete_emptydir_data, d->cfg->force);
	if (a != DRAIN_EVICT) {
		dp->state = P_SKIPPED;
		d->r->skipped++;
		d->skips[a]++;
		if (a == DRAIN_SKIP_EMPTYDIR || a == DRAIN_SKIP_UNMANAGED)
			log_warning(d->lg, "drain: not evicting pod %s/%s: %s", p->ns, p->name,
			    drain_action_name(a));
		else
			log_debug(d->lg, "drain: skipping pod %s/%s: %s", p->ns, p->name, drain_action_name(a));
	} else {
		dp->state = P_PENDING;
		d->nevictable++;
		if (d->first_done)
			log_info(d->lg, "drain: pod %s/%s appeared on node %s; evicting it too",
			    p->ns, p->name, d->node);
		if (d->nworkers < d->max_workers && d->nworkers < d->nevictable)
			spawn_worker(d);
		pthread_cond_signal(&d->work_cv);
	}
	pthread_mutex_unlock(&d->mu);
	return 0;
}

/*
 * The next pod for a worker, or -1 (with *wake lowered to when there may be
 * one). Fresh pods first, in listing order; then the retry that is due
 * first. A blocked pod is due at once from delete_at on.
 */
static int
pick(struct drain *d, int64_t now, int64_t *wake)
{
	int i, best = -1;
	int64_t best_at = 0;

	for (i = 0; i < d->npods; i++) {
		struct dpod *dp = &d->pods[i];
		int64_t at;

		if (dp->state == P_PENDING)
			return i;
		if (dp->state != P_WAIT)
			continue;
		at = dp->next_ms;
		if (dp->blocked && d->delete_at > 0 && d->delete_at < at)
			at = d->delete_at;
		if (at <= now) {
			if (best < 0 || at < best_at) {
				best = i;
				best_at = at;
			}
		} else if (at < *wake) {
			*wake = at;
		}
	}
	return best;
}

/* Sends the eviction (or deletion) of p; returns the outcome, with details. */
static enum drain_outcome
send_one(struct worker *w, const struct k8s_pod *p, int del, int *status, int64_t *retry_ms,
    char *msg, size_t msglen)
{
	struct drain *d = w->d;
	struct http_response resp = { .body = w->body, .body_cap = sizeof w->body };
	char path[64 + 3 * (K8S_MAX_NS + K8S_MAX_NAME)], ens[3 * K8S_MAX_NS], ename[3 * K8S_MAX_NAME];
	char body[256 + 2 * (K8S_MAX_NS + K8S_MAX_NAME + K8S_MAX_UID) * 6 / 2];
	const char *v;
	size_t vlen;
	int64_t now = util_now_ms(), rd = now + K8S_REQUEST_TIMEOUT_MS;
	int grace = drain_grace(p->grace, now, d->deadline), n;

	*status = -1;
	*retry_ms = 0;
	msg[0] = '\0';
	if (url_encode(p->ns, strlen(p->ns), ens, sizeof ens, 0) < 0 ||
	    url_encode(p->name, strlen(p->name), ename, sizeof ename, 0) < 0)
		return DRAIN_REFUSED;
	if (del) {
		snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s", ens, ename);
		n = k8s_delete_body(body, sizeof body, p->uid, grace);
	} else {
		snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s/eviction", ens, ename);
		n = k8s_eviction_body(body, sizeof body, p->ns, p->name, p->uid, grace);
	}
	if (n < 0) {
		snprintf(msg, msglen, "request body too long");
		return DRAIN_REFUSED;
	}
	if (k8s_request(d->k, &w->hc, del ? "DELETE" : "POST", path, "application/json", body,
	    (size_t)n, &resp, rd < d->stop_at ? rd : d->stop_at, msg, msglen) < 0)
		return DRAIN_TRANSIENT;
	*status = resp.status;
	if (resp.status == K8S_DRY_RUN)
		return DRAIN_OK;
	k8s_status_message(resp.body, resp.body_len, msg, msglen);
	if (resp.status == 429) {
		*retry_ms = 1000;
		if ((v = http_header(&resp, "Retry-After", &vlen)) != NULL)
			k8s_retry_after_parse(v, vlen, util_wall_ms() / 1000, retry_ms);
	}
	return drain_classify(resp.status, resp.body, resp.body_len);
}

/* Records the outcome for pod i. Called with d->mu held. */
static void
settle(struct drain *d, int i, int del, enum drain_outcome o, int status, int64_t retry_ms,
    const char *msg, int64_t sent_ms)
{
	struct dpod *dp = &d->pods[i];
	const struct k8s_pod *p = &dp->p;
	int64_t now = util_now_ms(), wait;
	const char *verb = del ? "deletion" : "eviction";

	switch (o) {
	case DRAIN_OK:
		if (sent_ms > d->last_sent)
			d->last_sent = sent_ms;
		if (status == K8S_DRY_RUN) {
			dp->state = P_DONE;
			d->r->evicted++;
		} else if (del) {
			dp->state = P_DELETED;
			d->r->deleted++;
			metrics_inc(d->k->metrics, M_EVICT_DELETED);
			log_warning(d->lg, "drain: deleted pod %s/%s (grace %d s): its PodDisruptionBudget "
			    "still blocked eviction %lld s before the deadline", p->ns, p->name,
			    drain_grace(p->grace, now, d->deadline), (long long)(d->cfg->delete_blocked_at_ms / 1000));
		} else {
			dp->state = P_EVICTED;
			d->r->evicted++;
			metrics_inc(d->k->metrics, M_EVICT_EVICTED);
			log_debug(d->lg, "drain: evicted pod %s/%s", p->ns, p->name);
		}
		break;
	case DRAIN_GONE:
		dp->state = P_GONE;
		d->r->gone++;
		log_debug(d->lg, "drain: pod %s/%s is already gone", p->ns, p->name);
		break;
	case DRAIN_PDB:
	case DRAIN_MULTI_PDB:
		dp->state = P_WAIT;
		dp->blocked = 1;
		metrics_inc(d->k->metrics, M_EVICT_BLOCKED);
		dp->next_ms = now + d->cfg->pdb_retry_interval_ms;
		if (!dp->logged) {
			dp->logged = 1;
			log_msg(d->lg, o == DRAIN_PDB ? LV_INFO : LV_WARNING, "drain: %s of pod %s/%s "
			    "blocked (%d: %s); retrying every %lld ms%s", verb, p->ns, p->name, status, msg,
			    (long long)d->cfg->pdb_retry_interval_ms,
			    d->delete_at > 0 ? ", deleting it near the deadline" : "");
		} else {
			log_debug(d->lg, "drain: %s of pod %s/%s still blocked (%d)", verb, p->ns, p->name,
			    status);
		}
		break;
	case DRAIN_THROTTLED:
		dp->state = P_WAIT;
		/*
		 * What the server asked for and up to half as long again at random,
		 * so that nodes throttled together do not come back together.
		 */
		wait = retry_ms > K8S_RETRY_MIN_MS ? retry_ms : K8S_RETRY_MIN_MS;
		wait += (int64_t)(util_random() % (uint32_t)(wait / 2 + 1));
		dp->next_ms = now + wait;
		if (now + wait > d->throttle_until)
			d->throttle_until = now + wait;
		if (now - d->window_cut_ms >= 1000 && d->window > 1) {
			d->window /= 2;
			d->window_cut_ms = now;
		}
		d->streak = 0;
		log_limited(d->lg, &d->ll, 5000, LV_WARNING, "drain: %s of pod %s/%s throttled by the "
		    "API server (429, Retry-After %lld ms): %s", verb, p->ns, p->name, (long long)retry_ms,
		    msg);
		break;
	case DRAIN_TRANSIENT:
		dp->state = P_WAIT;
		dp->next_ms = now + k8s_backoff_ms(dp->attempts < 30 ? dp->attempts : 30);
		dp->attempts++;
		if (status >= 0)
			log_limited(d->lg, &d->ll, 5000, LV_WARNING, "drain: %s of pod %s/%s: %d: %s; "
			    "retrying", verb, p->ns, p->name, status, msg);
		else
			log_limited(d->lg, &d->ll, 5000, LV_WARNING, "drain: %s of pod %s/%s: %s; retrying",
			    verb, p->ns, p->name, msg);
		break;
	case DRAIN_REFUSED:
		dp->state = P_REFUSED;
		metrics_inc(d->k->metrics, M_EVICT_FAILED);
		log_error(d->lg, "drain: %s of pod %s/%s refused: %d: %s", verb, p->ns, p->name, status,
		    msg);
		break;
	}
	if (o != DRAIN_THROTTLED && d->window < d->max_workers && ++d->streak >= d->window) {
		d->window++;
		d->streak = 0;
	}
	pthread_cond_broadcast(&d->progress_cv);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct drain *d = w->d;
	struct k8s_pod p;
	char msg[256];

	pthread_mutex_lock(&d->mu);
	for (;;) {
		int64_t now = util_now_ms(), wake, retry_ms;
		enum drain_outcome o;
		int i, del, status;

		if (d->stop || now >= d->stop_at)
			break;
		wake = d->stop_at;
		i = -1;
		if (d->throttle_until > now)
			wake = d->throttle_until;
		else if (d->inflight < d->window)
			i = pick(d, now, &wake);
		if (i < 0) {
			wait_until(&d->work_cv, &d->mu, wake);
			continue;
		}
		del = d->pods[i].blocked && d->delete_at > 0 && now >= d->delete_at;
		d->pods[i].state = P_INFLIGHT;
		d->inflight++;
		p = d->pods[i].p;
		pthread_mutex_unlock(&d->mu);

		now = util_now_ms();
		o = send_one(w, &p, del, &status, &retry_ms, msg, sizeof msg);

		pthread_mutex_lock(&d->mu);
		d->inflight--;
		settle(d, i, del, o, status, retry_ms, msg, now);
		pthread_cond_signal(&d->work_cv);
		if (del && o == DRAIN_OK && status != K8S_DRY_RUN) {
			pthread_mutex_unlock(&d->mu);
			event(d, "Warning", "PodDeleted", "Deleted pod %s/%s: its "
			    "PodDisruptionBudget still blocked its eviction close to the node's termination",
			    p.ns, p.name);
			pthread_mutex_lock(&d->mu);
		}
	}
	pthread_mutex_unlock(&d->mu);
	http_client_close(&w->hc);
	return NULL;
}

/* Counts of the pods still to act on and still to see go. Called with d->mu held. */
static void
outstanding(const struct drain *d, int *todo, int *waiting, int *blocked)
{
	int i;

	*todo = *waiting = *blocked = 0;
	for (i = 0; i < d->npods; i++)
		switch (d->pods[i].state) {
		case P_WAIT:
			if (d->pods[i].blocked)
				(*blocked)++;
			/* FALLTHROUGH */
		case P_PENDING:
		case P_INFLIGHT:
			(*todo)++;
			break;
		case P_EVICTED:
		case P_DELETED:
			(*waiting)++;
			break;
		default:
			break;
		}
}

/* Lists the node again: pods no longer there are gone. Called without d->mu. */
static void
relist(struct drain *d, int64_t until)
{
	char err[512];
	int i;

	pthread_mutex_lock(&d->mu);
	for (i = 0; i < d->npods; i++)
		d->pods[i].seen = 0;
	pthread_mutex_unlock(&d->mu);
	if (k8s_list_pods(d->k, d->node, on_pod, d, until, err, sizeof err) < 0) {
		log_warning(d->lg, "drain: re-listing pods: %s", err);
		return;
	}
	pthread_mutex_lock(&d->mu);
	for (i = 0; i < d->npods; i++) {
		struct dpod *dp = &d->pods[i];

		if (dp->seen)
			continue;
		if (dp->state == P_EVICTED || dp->state == P_DELETED) {
			dp->state = P_DONE;
		} else if (dp->state == P_PENDING || dp->state == P_WAIT) {
			dp->state = P_GONE;
			d->r->gone++;
		}
	}
	pthread_cond_broadcast(&d->work_cv);
	pthread_mutex_unlock(&d->mu);
}

int
drain_node(struct k8s *k, const char *node, int64_t deadline_ms, struct drain_result *r)
{
	struct drain d;
	pthread_condattr_t ca;
	char err[512], skipmsg[256];
	int64_t last_list, now, wake;
	int i, todo, waiting, blocked, n, a;

	memset(r, 0, sizeof *r);
	memset(&d, 0, sizeof d);
	d.k = k;
	d.cfg = k->cfg;
	d.lg = k->lg;
	d.node = node;
	d.r = r;
	d.start = util_now_ms();
	d.deadline = deadline_ms;
	d.stop_at = deadline_ms - K8S_REPORT_RESERVE_MS;
	d.delete_at = d.cfg->delete_blocked_at_ms > 0 ? deadline_ms - d.cfg->delete_blocked_at_ms : 0;
	d.dry_run = d.cfg->dry_run;
	d.max_workers = d.cfg->eviction_concurrency;
	if (d.max_workers < 1)
		d.max_workers = 1;
	if (d.max_workers > DRAIN_MAX_WORKERS)
		d.max_workers = DRAIN_MAX_WORKERS;
	d.window = d.max_workers;
	r->cordon_ms = k->cordon_ms;
	r->last_eviction_ms = -1;
	pthread_mutex_init(&d.mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d.work_cv, &ca);
	pthread_cond_init(&d.progress_cv, &ca);
	pthread_condattr_destroy(&ca);

	log_info(d.lg, "drain: node %s: listing its pods (deadline in %lld ms)", node,
	    (long long)(deadline_ms - d.start));
	/* Workers start on the first page while the next ones are fetched. */
	n = k8s_list_pods(k, node, on_pod, &d, d.stop_at, err, sizeof err);
	pthread_mutex_lock(&d.mu);
	d.first_done = 1;
	if (n < 0) {
		snprintf(r->error, sizeof r->error, "%s", err);
		log_error(d.lg, "drain: node %s: %s", node, err);
	}
	skipmsg[0] = '\0';
	for (a = DRAIN_SKIP_SELF; a <= DRAIN_SKIP_UNMANAGED; a++)
		if (d.skips[a] > 0) {
			size_t at = strlen(skipmsg);

			snprintf(skipmsg + at, sizeof skipmsg - at, "%s%d %s", at ? ", " : " (",
			    d.skips[a], drain_action_name((enum drain_action)a));
		}
	if (skipmsg[0] != '\0')
		strncat(skipmsg, ")", sizeof skipmsg - strlen(skipmsg) - 1);
	log_info(d.lg, "drain: node %s: %d pods: %d to evict, %d skipped%s", node, r->found,
	    d.nevictable, r->skipped, skipmsg);
	pthread_mutex_unlock(&d.mu);
	if (n >= 0)
		event(&d, "Normal", "Draining", "Draining node: evicting %d pods (%d skipped), "
		    "deadline in %lld s", d.nevictable, r->skipped,
		    (long long)((deadline_ms - util_now_ms()) / 1000));

	/*
	 * Wait for the evictions to be sent and the pods to go. The node is
	 * listed again only when that can tell something — evicted pods gone,
	 * blocked ones gone by themselves (and new ones) — and only once every
	 * eviction that can be sent has been: with hundreds of nodes draining at
	 * once, lists would crowd out evictions. Half as often while the API
	 * server throttles us.
	 */
	pthread_mutex_lock(&d.mu);
	last_list = util_now_ms();
	for (;;) {
		int64_t period = K8S_WAIT_POLL_MS;

		now = util_now_ms();
		outstanding(&d, &todo, &waiting, &blocked);
		if (todo == 0 && waiting == 0)
			break;
		if (now >= d.stop_at) {
			r->deadline_hit = 1;
			break;
		}
		if (d.throttle_until > now - 5000)
			period *= 2;
		if (now >= last_list + period && (waiting > 0 || blocked > 0) && todo == blocked) {
			pthread_mutex_unlock(&d.mu);
			relist(&d, d.stop_at);
			pthread_mutex_lock(&d.mu);
			last_list = util_now_ms();
			continue;
		}
		/* Until the next listing is due; if it is due already but pointless, until progress. */
		wake = last_list + period > now ? last_list + period : d.stop_at;
		wait_until(&d.progress_cv, &d.mu, wake < d.stop_at ? wake : d.stop_at);
	}
	d.stop = 1;
	pthread_cond_broadcast(&d.work_cv);
	pthread_mutex_unlock(&d.mu);
	for (i = 0; i < d.nworkers; i++) {
		pthread_join(d.workers[i]->tid, NULL);
		free(d.workers[i]);
	}
	/* Out of time with evicted pods unconfirmed: one last look says which are still there. */
	if (r->deadline_hit && waiting > 0 && d.deadline - util_now_ms() > 500)
		relist(&d, d.deadline - 300);

	for (i = 0; i < d.npods; i++) {
		const struct dpod *dp = &d.pods[i];

		if (dp->state == P_DONE || dp->state == P_GONE || dp->state == P_SKIPPED)
			continue;
		if (dp->state == P_EVICTED || dp->state == P_DELETED)
			r->terminating++;
		if (r->nleft_names < DRAIN_MAX_LEFT)
			snprintf(r->left_names[r->nleft_names++], sizeof r->left_names[0], "%s/%s",
			    dp->p.ns, dp->p.name);
		r->left++;
	}
	metrics_pods_left(d.k->metrics, r->left);
	if (d.last_sent > 0)
		r->last_eviction_ms = d.last_sent - d.start;
	r->total_ms = util_now_ms() - d.start;
	if (r->left == 0 && n >= 0)
		event(&d, "Normal", "Drained", "Node drained: %d pods evicted, %d deleted, "
		    "%d already gone, %d skipped, in %lld ms", r->evicted, r->deleted, r->gone, r->skipped,
		    (long long)r->total_ms);
	else
		event(&d, "Warning", "DrainIncomplete", "Drain incomplete: %d pods left "
		    "(first: %s)%s%s", r->left, r->nleft_names > 0 ? r->left_names[0] : "none",
		    r->error[0] ? "; " : "", r->error);
	free(d.pods);
	pthread_cond_destroy(&d.work_cv);
	pthread_cond_destroy(&d.progress_cv);
	pthread_mutex_destroy(&d.mu);
	return r->left == 0 && n >= 0 ? 0 : -1;
}
