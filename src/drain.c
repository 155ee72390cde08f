/* drain.c — see drain.h. */
#include "drain.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
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

/*
 * One drain. Everything below mu is guarded by it. deadline and stop_at
 * are also read without it (atomically) by the Events, which must not wait
 * past them.
 */
struct drain {
	struct k8s *k;
	const struct config *cfg;
	const struct log *lg;
	const char *node;
	struct drain_ctl *ctl;
	int64_t start, last_sent;
	int64_t deadline, stop_at;      /* DRAIN_NO_DEADLINE while advisory */
	int64_t delete_at;              /* 0: never (advisory, or delete_blocked_at = 0) */
	int64_t throttle_until;         /* API priority and fairness asked everyone to wait */
	pthread_mutex_t mu;
	pthread_cond_t work_cv;         /* workers: there may be something to do */
	pthread_cond_t progress_cv;     /* the drain thread: a pod changed state */
	struct dpod *pods;
	int npods, cap, nevictable;
	int stop, open, advisory, first_done;
	int over_cap;           /* pods the last complete listing left out over the caps */
	int over_cap_found;     /* the most any listing left out: counted in r->found */
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
	case DRAIN_NACTIONS:       break;
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
	char skips[256] = "", term[96] = "";
	size_t at;
	int i;

	for (i = DRAIN_SKIP_SELF; i < DRAIN_NACTIONS; i++)
		if (r->skips[i] > 0) {
			at = strlen(skips);
			util_fmt(skips + at, sizeof skips - at, "%s%d %s", at ? ", " : " (", r->skips[i],
			    drain_action_name((enum drain_action)i));
		}
	if (skips[0] != '\0')
		strncat(skips, ")", sizeof skips - strlen(skips) - 1);
	if (r->terminating > 0 && r->over_cap > 0)
		util_fmt(term, sizeof term, " (%d terminating, %d over the size caps, not drained)",
		    r->terminating, r->over_cap);
	else if (r->terminating > 0)
		util_fmt(term, sizeof term, " (%d terminating)", r->terminating);
	else if (r->over_cap > 0)
		util_fmt(term, sizeof term, " (%d over the size caps, not drained)", r->over_cap);
	util_fmt(buf, n, "drain: %d found, %d evicted, %d deleted, %d gone, %d skipped%s, %d left%s; "
	    "last eviction at %lld ms, total %lld ms%s%s",
	    r->found, r->evicted, r->deleted, r->gone, r->skipped, skips, r->left, term,
	    (long long)r->last_eviction_ms, (long long)r->total_ms,
	    r->deadline_hit ? " (deadline reached)" : "", r->advisory ? " (advisory: no deadline)" : "");
	for (i = 0; i < r->nleft_names; i++) {
		at = strlen(buf);
		if (at + 1 >= n)
			break;
		util_fmt(buf + at, n - at, "%s%s", i == 0 ? "; left: " : ", ", r->left_names[i]);
	}
	at = strlen(buf);
	if (r->left > r->nleft_names && at + 1 < n)
		util_fmt(buf + at, n - at, " and %d more", r->left - r->nleft_names);
	at = strlen(buf);
	if (r->error[0] != '\0' && at + 1 < n)
		util_fmt(buf + at, n - at, "; %s", r->error);
	return buf;
}

/* ---- The drain's control ---------------------------------------------------------- */

void
drain_ctl_init(struct drain_ctl *c, int64_t deadline_ms, int open)
{
	memset(c, 0, sizeof *c);
	pthread_mutex_init(&c->mu, NULL);
	c->deadline_ms = deadline_ms;
	c->open = open;
}

void
drain_ctl_destroy(struct drain_ctl *c)
{
	pthread_mutex_destroy(&c->mu);
}

/* Sets the drain's times from deadline. Called with d->mu held. */
static void
set_deadline(struct drain *d, int64_t deadline)
{
	d->advisory = deadline >= DRAIN_NO_DEADLINE;
	__atomic_store_n(&d->deadline, deadline, __ATOMIC_RELEASE);
	__atomic_store_n(&d->stop_at, d->advisory ? deadline : deadline - K8S_REPORT_RESERVE_MS,
	    __ATOMIC_RELEASE);
	d->delete_at = !d->advisory && d->cfg->delete_blocked_at_ms > 0 ?
	    deadline - d->cfg->delete_blocked_at_ms : 0;
}

/* Hands what ctl says to its running drain, and wakes its threads. Called with c->mu held. */
static void
ctl_push(struct drain_ctl *c)
{
	struct drain *d = c->d;

	if (d == NULL)
		return;
	pthread_mutex_lock(&d->mu);
	if (c->deadline_ms < d->deadline) {
		set_deadline(d, c->deadline_ms);
		log_info(d->lg, "drain: node %s: now bound by a deadline in %lld ms", d->node,
		    (long long)(c->deadline_ms - util_now_ms()));
	}
	d->open = c->open;
	pthread_cond_broadcast(&d->work_cv);
	pthread_cond_broadcast(&d->progress_cv);
	pthread_mutex_unlock(&d->mu);
}

void
drain_ctl_open(struct drain_ctl *c)
{
	pthread_mutex_lock(&c->mu);
	c->open = 1;
	ctl_push(c);
	pthread_mutex_unlock(&c->mu);
}

void
drain_ctl_deadline(struct drain_ctl *c, int64_t deadline_ms)
{
	pthread_mutex_lock(&c->mu);
	if (deadline_ms < c->deadline_ms)
		c->deadline_ms = deadline_ms;
	ctl_push(c);
	pthread_mutex_unlock(&c->mu);
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
	k8s_vevent(d->k, __atomic_load_n(&d->deadline, __ATOMIC_ACQUIRE), d->node, type, reason,
	    fmt, ap);
	va_end(ap);
}

/*
 * Starts one more eviction thread, unless the drain is stopping. Called
 * with d->mu held. drain_node joins it (every worker is in d->workers).
 */
static void
spawn_worker(struct drain *d)
{
	pthread_attr_t attr;
	struct worker *w;
	int rc;

	if (d->stop || (w = calloc(1, sizeof *w)) == NULL)
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

/*
 * A pod that has finished or left the node: done if we evicted or deleted
 * it, gone (and counted) if we had yet to. Called with d->mu held.
 */
static void
pod_left(struct drain *d, struct dpod *dp)
{
	if (dp->state == P_EVICTED || dp->state == P_DELETED) {
		dp->state = P_DONE;
	} else if (dp->state == P_PENDING || dp->state == P_WAIT) {
		dp->state = P_GONE;
		d->r->gone++;
	}
}

/* A pod listed again: a finished one has nothing left to move. Called with d->mu held. */
static void
seen_again(struct drain *d, struct dpod *dp, const struct k8s_pod *p)
{
	dp->seen = 1;
	if (!(p->flags & K8S_POD_FINISHED))
		return;
	pod_left(d, dp);
	pthread_cond_broadcast(&d->progress_cv);
}

/* Room for one more pod record, or NULL (logged). Called with d->mu held. */
static struct dpod *
new_pod(struct drain *d)
{
	struct dpod *np;
	int ncap;

	if (d->npods >= K8S_MAX_PODS) {
		log_error(d->lg, "drain: node %s has more than %d pods; the rest are not drained",
		    d->node, K8S_MAX_PODS);
		return NULL;
	}
	if (d->npods == d->cap) {
		ncap = d->cap ? d->cap * 2 : 64;
		if ((np = realloc(d->pods, sizeof *np * (size_t)ncap)) == NULL) {
			log_error(d->lg, "drain: out of memory for %d pods", ncap);
			return NULL;
		}
		d->pods = np;
		d->cap = ncap;
	}
	np = &d->pods[d->npods++];
	memset(np, 0, sizeof *np);
	return np;
}

/* A pod to evict. Called with d->mu held. */
static void
to_evict(struct drain *d, struct dpod *dp)
{
	const struct k8s_pod *p = &dp->p;

	dp->state = P_PENDING;
	d->nevictable++;
	if (d->stop) {
		/* The workers are joined or being joined: nothing may start one now. */
		log_warning(d->lg, "drain: pod %s/%s appeared on node %s after the drain ended; "
		    "it is left there", p->ns, p->name, d->node);
		return;
	}
	if (d->first_done)
		log_info(d->lg, "drain: pod %s/%s appeared on node %s; evicting it too",
		    p->ns, p->name, d->node);
	if (d->nworkers < d->max_workers && d->nworkers < d->nevictable)
		spawn_worker(d);
	pthread_cond_signal(&d->work_cv);
}

/* k8s_list_pods' callback, for the first listing and every re-listing. */
static int
on_pod(void *arg, const struct k8s_pod *p)
{
	struct drain *d = arg;
	struct dpod *dp;
	enum drain_action a;
	int i, rc = 0;

	pthread_mutex_lock(&d->mu);
	if ((i = find_pod(d, p)) >= 0) {
		seen_again(d, &d->pods[i], p);
	} else if ((dp = new_pod(d)) == NULL) {
		rc = -1;
	} else {
		dp->p = *p;
		dp->seen = 1;
		d->r->found++;
		a = drain_filter(p->flags, d->cfg->delete_emptydir_data, d->cfg->force);
		if (a == DRAIN_EVICT) {
			to_evict(d, dp);
		} else {
			dp->state = P_SKIPPED;
			d->r->skipped++;
			d->r->skips[a]++;
			log_msg(d->lg, a == DRAIN_SKIP_EMPTYDIR || a == DRAIN_SKIP_UNMANAGED ? LV_WARNING :
			    LV_DEBUG, "drain: not evicting pod %s/%s: %s", p->ns, p->name, drain_action_name(a));
		}
	}
	pthread_mutex_unlock(&d->mu);
	return rc;
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

/* What a worker sends: one pod, taken under d->mu with the drain's times of that moment. */
struct job {
	struct k8s_pod p;
	int del;                    /* DELETE the pod rather than evict it */
	int64_t deadline, stop_at;
};

/* Sends the eviction (or deletion) of j->p; returns the outcome, with details. */
static enum drain_outcome
send_one(struct worker *w, const struct job *j, int *status, int64_t *retry_ms, char *msg,
    size_t msglen)
{
	const struct k8s_pod *p = &j->p;
	struct http_response resp = { .body = w->body, .body_cap = sizeof w->body };
	char path[64 + 3 * (K8S_MAX_NS + K8S_MAX_NAME)], ens[3 * K8S_MAX_NS], ename[3 * K8S_MAX_NAME];
	char body[256 + 2 * (K8S_MAX_NS + K8S_MAX_NAME + K8S_MAX_UID) * 6 / 2];
	const char *v;
	size_t vlen;
	int64_t now = util_now_ms(), rd = now + K8S_REQUEST_TIMEOUT_MS;
	int grace = drain_grace(p->grace, now, j->deadline), n;

	*status = -1;
	*retry_ms = 0;
	msg[0] = '\0';
	if (url_encode(p->ns, strlen(p->ns), ens, sizeof ens, 0) < 0 ||
	    url_encode(p->name, strlen(p->name), ename, sizeof ename, 0) < 0)
		return DRAIN_REFUSED;
	util_fmt(path, sizeof path, "/api/v1/namespaces/%s/pods/%s%s", ens, ename,
	    j->del ? "" : "/eviction");
	n = j->del ? k8s_delete_body(body, sizeof body, p->uid, grace) :
	    k8s_eviction_body(body, sizeof body, p->ns, p->name, p->uid, grace);
	if (n < 0) {
		util_fmt(msg, msglen, "request body too long");
		return DRAIN_REFUSED;
	}
	if (k8s_request(w->d->k, &w->hc, j->del ? "DELETE" : "POST", path, "application/json", body,
	    (size_t)n, &resp, rd < j->stop_at ? rd : j->stop_at, msg, msglen) < 0)
		return DRAIN_TRANSIENT;
	*status = resp.status;
	if (resp.status == K8S_DRY_RUN)
		return DRAIN_OK;
	k8s_status_message(resp.body, resp.body_len, msg, msglen);
	if (resp.status == 429) {
		*retry_ms = 1000;
		if ((v = http_header(&resp, "Retry-After", &vlen)) != NULL)
			util_retry_after_parse(v, vlen, util_wall_ms() / 1000, retry_ms);
	}
	return drain_classify(resp.status, resp.body, resp.body_len);
}

/* Records an accepted eviction or deletion of pod i. Called with d->mu held. */
static void
settle_ok(struct drain *d, struct dpod *dp, int del, int status, int64_t sent_ms)
{
	const struct k8s_pod *p = &dp->p;

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
		    drain_grace(p->grace, util_now_ms(), d->deadline),
		    (long long)(d->cfg->delete_blocked_at_ms / 1000));
	} else {
		dp->state = P_EVICTED;
		d->r->evicted++;
		metrics_inc(d->k->metrics, M_EVICT_EVICTED);
		log_debug(d->lg, "drain: evicted pod %s/%s", p->ns, p->name);
	}
}

/*
 * A 429 from API priority and fairness: this pod, and every worker, waits
 * what the server asked for (capped by util_retry_after_cap against the
 * time left) and up to half as long again at random, so that nodes
 * throttled together do not come back together; the requests in flight
 * are halved at most once a second. Called with d->mu held.
 */
static void
settle_throttled(struct drain *d, struct dpod *dp, int64_t retry_ms, const char *verb,
    const char *msg)
{
	int64_t now = util_now_ms(), wait;

	dp->state = P_WAIT;
	wait = retry_ms > K8S_RETRY_MIN_MS ? retry_ms : K8S_RETRY_MIN_MS;
	wait += (int64_t)(util_random() % (uint32_t)(wait / 2 + 1));
	wait = util_retry_after_cap(wait, d->stop_at - now);
	dp->next_ms = now + wait;
	if (now + wait > d->throttle_until)
		d->throttle_until = now + wait;
	if (now - d->window_cut_ms >= 1000 && d->window > 1) {
		d->window /= 2;
		d->window_cut_ms = now;
	}
	d->streak = 0;
	log_limited(d->lg, &d->ll, 5000, LV_WARNING, "drain: %s of pod %s/%s throttled by the "
	    "API server (429, Retry-After %lld ms; waiting %lld ms): %s", verb, dp->p.ns, dp->p.name,
	    (long long)retry_ms, (long long)wait, msg);
}

/* Records the outcome for pod i. Called with d->mu held. */
static void
settle(struct drain *d, int i, int del, enum drain_outcome o, int status, int64_t retry_ms,
    const char *msg, int64_t sent_ms)
{
	struct dpod *dp = &d->pods[i];
	const struct k8s_pod *p = &dp->p;
	int64_t now = util_now_ms();
	const char *verb = del ? "deletion" : "eviction";
	char code[16];

	switch (o) {
	case DRAIN_OK:
		settle_ok(d, dp, del, status, sent_ms);
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
		log_msg(d->lg, dp->logged ? LV_DEBUG : o == DRAIN_PDB ? LV_INFO : LV_WARNING,
		    "drain: %s of pod %s/%s blocked (%d: %s); retrying every %lld ms%s", verb, p->ns,
		    p->name, status, msg, (long long)d->cfg->pdb_retry_interval_ms,
		    d->delete_at > 0 ? ", deleting it near the deadline" : "");
		dp->logged = 1;
		break;
	case DRAIN_THROTTLED:
		settle_throttled(d, dp, retry_ms, verb, msg);
		break;
	case DRAIN_TRANSIENT:
		dp->state = P_WAIT;
		dp->next_ms = now + k8s_backoff_ms(dp->attempts < 30 ? dp->attempts : 30);
		dp->attempts++;
		code[0] = '\0';
		if (status >= 0)
			util_fmt(code, sizeof code, "%d: ", status);
		log_limited(d->lg, &d->ll, 5000, LV_WARNING, "drain: %s of pod %s/%s: %s%s; retrying",
		    verb, p->ns, p->name, code, msg);
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

/*
 * The next job for a worker, or -1 when the drain is over. Waits on
 * work_cv while there is nothing to send. Called with d->mu held.
 */
static int
take(struct drain *d, struct job *j)
{
	int64_t now, wake;
	int i;

	for (;;) {
		now = util_now_ms();
		if (d->stop || now >= d->stop_at)
			return -1;
		wake = d->stop_at;
		i = -1;
		if (d->throttle_until > now)
			wake = d->throttle_until;
		else if (d->open && d->inflight < d->window)
			i = pick(d, now, &wake);
		if (i >= 0)
			break;
		wait_until(&d->work_cv, &d->mu, wake);
	}
	j->p = d->pods[i].p;
	j->del = d->pods[i].blocked && d->delete_at > 0 && now >= d->delete_at;
	j->deadline = d->deadline;
	j->stop_at = d->stop_at;
	d->pods[i].state = P_INFLIGHT;
	d->inflight++;
	return i;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct drain *d = w->d;
	struct job j;
	char msg[256];
	int64_t sent, retry_ms;
	enum drain_outcome o;
	int i, status;

	pthread_mutex_lock(&d->mu);
	while ((i = take(d, &j)) >= 0) {
		pthread_mutex_unlock(&d->mu);
		sent = util_now_ms();
		o = send_one(w, &j, &status, &retry_ms, msg, sizeof msg);
		if (j.del && o == DRAIN_OK && status != K8S_DRY_RUN)
			event(d, "Warning", "PodDeleted", "Deleted pod %s/%s: its PodDisruptionBudget "
			    "still blocked its eviction close to the node's termination", j.p.ns, j.p.name);
		pthread_mutex_lock(&d->mu);
		d->inflight--;
		settle(d, i, j.del, o, status, retry_ms, msg, sent);
		pthread_cond_signal(&d->work_cv);
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

/*
 * A complete listing left n pods out over the caps: they are still on the
 * node (left), and found as pods that appear later are. Called with d->mu held.
 */
static void
over_cap_listed(struct drain *d, int n)
{
	d->over_cap = n;
	if (n > d->over_cap_found) {
		d->r->found += n - d->over_cap_found;
		d->over_cap_found = n;
	}
}

/* Lists the node again: pods no longer there are gone. Called without d->mu. */
static void
relist(struct drain *d, int64_t until)
{
	char err[512];
	int i, over_cap = 0;

	pthread_mutex_lock(&d->mu);
	for (i = 0; i < d->npods; i++)
		d->pods[i].seen = 0;
	pthread_mutex_unlock(&d->mu);
	if (k8s_list_pods(d->k, d->node, on_pod, d, until, &over_cap, err, sizeof err) < 0) {
		log_warning(d->lg, "drain: re-listing pods: %s", err);
		return;
	}
	pthread_mutex_lock(&d->mu);
	over_cap_listed(d, over_cap);
	for (i = 0; i < d->npods; i++)
		if (!d->pods[i].seen)
			pod_left(d, &d->pods[i]);
	pthread_cond_broadcast(&d->work_cv);
	pthread_mutex_unlock(&d->mu);
}

/*
 * How long a listing may retry: to the drain's end, or, while the drain is
 * advisory and has none, DRAIN_ADVISORY_LIST_MS (a deadline given meanwhile
 * is then at most that late to bound it).
 */
static int64_t
list_until(struct drain *d)
{
	int64_t stop_at;

	pthread_mutex_lock(&d->mu);
	stop_at = d->advisory ? util_now_ms() + DRAIN_ADVISORY_LIST_MS : d->stop_at;
	pthread_mutex_unlock(&d->mu);
	return stop_at;
}

/* Sets d up and registers it with its ctl. */
static void
drain_start(struct drain *d, struct k8s *k, const char *node, struct drain_ctl *ctl,
    struct drain_result *r)
{
	pthread_condattr_t ca;

	memset(r, 0, sizeof *r);
	memset(d, 0, sizeof *d);
	d->k = k;
	d->cfg = k->cfg;
	d->lg = k->lg;
	d->node = node;
	d->ctl = ctl;
	d->r = r;
	d->start = util_now_ms();
	d->max_workers = d->cfg->eviction_concurrency;
	if (d->max_workers < 1)
		d->max_workers = 1;
	if (d->max_workers > DRAIN_MAX_WORKERS)
		d->max_workers = DRAIN_MAX_WORKERS;
	d->window = d->max_workers;
	r->last_eviction_ms = -1;
	pthread_mutex_init(&d->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->work_cv, &ca);
	pthread_cond_init(&d->progress_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_lock(&ctl->mu);
	pthread_mutex_lock(&d->mu);
	set_deadline(d, ctl->deadline_ms);
	d->open = ctl->open;
	pthread_mutex_unlock(&d->mu);
	ctl->d = d;
	pthread_mutex_unlock(&ctl->mu);
}

/* The first listing: workers start on the first pods while the rest stream in. */
static int
first_listing(struct drain *d)
{
	char err[512];
	int n, over_cap = 0;

	log_info(d->lg, "drain: node %s: listing its pods (%s)", d->node,
	    d->advisory ? "advisory: no deadline, every PodDisruptionBudget honoured" : "deadline set");
	n = k8s_list_pods(d->k, d->node, on_pod, d, list_until(d), &over_cap, err, sizeof err);
	pthread_mutex_lock(&d->mu);
	d->first_done = 1;
	over_cap_listed(d, over_cap);
	if (n < 0) {
		util_fmt(d->r->error, sizeof d->r->error, "%s", err);
		log_error(d->lg, "drain: node %s: %s", d->node, err);
	}
	log_info(d->lg, "drain: node %s: %d pods: %d to evict, %d skipped", d->node, d->r->found,
	    d->nevictable, d->r->skipped);
	pthread_mutex_unlock(&d->mu);
	if (n >= 0)
		event(d, "Normal", "Draining", "Draining node: evicting %d pods (%d skipped)%s",
		    d->nevictable, d->r->skipped, d->advisory ? ", advisory (rebalance recommendation)" :
		    "");
	return n;
}

/*
 * Waits for the evictions to be sent and the pods to go. The node is
 * listed again only when that can tell something (evicted pods gone,
 * blocked ones gone by themselves, new ones) and only once every eviction
 * that can be sent has been: with hundreds of nodes draining at once, lists
 * would crowd out evictions. Half as often while the API server throttles
 * us. Returns the number of evicted pods not yet seen gone.
 */
static int
wait_for_pods(struct drain *d)
{
	int64_t last_list = util_now_ms(), now, wake, period;
	int todo, waiting, blocked;

	pthread_mutex_lock(&d->mu);
	for (;;) {
		now = util_now_ms();
		period = d->throttle_until > now - 5000 ? 2 * K8S_WAIT_POLL_MS : K8S_WAIT_POLL_MS;
		outstanding(d, &todo, &waiting, &blocked);
		if (todo == 0 && waiting == 0)
			break;
		if (now >= d->stop_at) {
			d->r->deadline_hit = 1;
			break;
		}
		if (now >= last_list + period && (waiting > 0 || blocked > 0) && todo == blocked) {
			pthread_mutex_unlock(&d->mu);
			relist(d, list_until(d));
			pthread_mutex_lock(&d->mu);
			last_list = util_now_ms();
			continue;
		}
		/* Until the next listing is due; if it is due already but pointless, until progress. */
		wake = last_list + period > now ? last_list + period : d->stop_at;
		wait_until(&d->progress_cv, &d->mu, wake < d->stop_at ? wake : d->stop_at);
	}
	d->stop = 1;
	pthread_cond_broadcast(&d->work_cv);
	pthread_mutex_unlock(&d->mu);
	return waiting;
}

/* Fills in what is left on the node, and the times. Called after the workers are joined. */
static void
tally(struct drain *d)
{
	struct drain_result *r = d->r;
	int i;

	for (i = 0; i < d->npods; i++) {
		const struct dpod *dp = &d->pods[i];

		if (dp->state == P_DONE || dp->state == P_GONE || dp->state == P_SKIPPED)
			continue;
		if (dp->state == P_EVICTED || dp->state == P_DELETED)
			r->terminating++;
		if (r->nleft_names < DRAIN_MAX_LEFT)
			util_fmt(r->left_names[r->nleft_names++], sizeof r->left_names[0], "%s/%s",
			    dp->p.ns, dp->p.name);
		r->left++;
	}
	r->over_cap = d->over_cap;
	r->left += r->over_cap;
	metrics_pods_left(d->k->metrics, r->left);
	if (d->last_sent > 0)
		r->last_eviction_ms = d->last_sent - d->start;
	r->total_ms = util_now_ms() - d->start;
	r->advisory = d->advisory;
}

int
drain_node(struct k8s *k, const char *node, struct drain_ctl *ctl, struct drain_result *r)
{
	struct drain d;
	int i, n, waiting;

	drain_start(&d, k, node, ctl, r);
	n = first_listing(&d);
	waiting = wait_for_pods(&d);
	/* d.stop is set: no worker can be started from here on. */
	for (i = 0; i < d.nworkers; i++) {
		pthread_join(d.workers[i]->tid, NULL);
		free(d.workers[i]);
	}
	pthread_mutex_lock(&ctl->mu);
	ctl->d = NULL;
	pthread_mutex_unlock(&ctl->mu);
	/* Out of time with evicted pods unconfirmed: one last look says which are still there. */
	if (r->deadline_hit && waiting > 0 && d.deadline - util_now_ms() > 500)
		relist(&d, d.deadline - 300);
	tally(&d);
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
