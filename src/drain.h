/*
 * drain.h — the drain: every pod off the node, in parallel, respecting
 * PodDisruptionBudgets for as long as there is time.
 *
 * drain_node lists the node's pods (k8s_list_pods) into compact records,
 * filters them as `kubectl drain --ignore-daemonsets` does, and has up to
 * config->eviction_concurrency worker threads (each with its own keep-alive
 * connection) POST policy/v1 Evictions. Per answer:
 *   200/201  evicted; 404 already gone;
 *   429      refused by a PDB: tried again every config->pdb_retry_interval;
 *            throttled (API priority and fairness): every worker waits the
 *            Retry-After the server asked for, as util_retry_after_cap
 *            allows (at most 30 s, at most a quarter of the time left), so
 *            throttling slows the drain and never stops it;
 *   500      the pod is covered by several PDBs: logged, treated as blocked;
 *   other    transient (5xx, transport, garbage): retried with backoff;
 *            permanent (403, 400, 422): logged, the pod is left.
 * Then the node is re-listed every K8S_WAIT_POLL_MS until the evicted pods
 * are gone (absent, or Succeeded/Failed). Pods that show up on the node while
 * draining are drained too. Re-running a drain on a half-drained node just
 * finishes it.
 *
 * Two modes, set and changed through a struct drain_ctl:
 *   notice    (a deadline): evictions ask for gracePeriodSeconds =
 *             drain_grace(); from config->delete_blocked_at before the
 *             deadline (0: never) the pods PDBs still block are DELETEd,
 *             each logged and evented; nothing blocks past the deadline.
 *   advisory  (DRAIN_NO_DEADLINE: a rebalance recommendation): every PDB is
 *             honoured, the pods keep their own grace periods, nothing is
 *             deleted, and the drain goes on until the pods are gone or it
 *             is given a deadline.
 * A termination notice that comes during an advisory drain takes it over
 * with drain_ctl_deadline: the same drain switches to the notice mode at
 * once, keeping every eviction already accepted and every pod already
 * tracked (nothing is listed or sent twice, and no thread is stopped and
 * started again). Evictions wait for drain_ctl_open (the first answer of
 * the cordon, which runs beside the drain); the listing does not.
 *
 * Threads: drain_node starts the workers, and only while the drain is not
 * stopping; it joins every one of them before it returns.
 *
 * Under config->dry_run the evictions are logged, not sent, and there is
 * nothing to wait for.
 */
#ifndef DESPOTIFY_DRAIN_H
#define DESPOTIFY_DRAIN_H

#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include "bounds.h"
#include "k8s.h"

/* A deadline that never comes: the advisory mode. */
#define DRAIN_NO_DEADLINE (INT64_MAX / 4)

enum drain_action {
	DRAIN_EVICT,
	DRAIN_SKIP_SELF,
	DRAIN_SKIP_FINISHED,
	DRAIN_SKIP_MIRROR,
	DRAIN_SKIP_DAEMONSET,
	DRAIN_SKIP_EMPTYDIR,     /* emptyDir volume and delete_emptydir_data off */
	DRAIN_SKIP_UNMANAGED,    /* no controller and force off */
	DRAIN_NACTIONS
};

struct drain_result {
	int found;            /* pods on the node at the first listing, and any that appeared later */
	int evicted;          /* evictions accepted (under dry-run: evictions that would be sent) */
	int deleted;          /* deleted once PDBs had blocked them until delete_blocked_at */
	int gone;             /* gone before their eviction was accepted (404, vanished) */
	int skipped;          /* DaemonSet, mirror, finished, own pod, or emptyDir/unmanaged not allowed */
	int skips[DRAIN_NACTIONS]; /* skipped, by reason (enum drain_action) */
	int left;             /* still on the node at the end (blocked, refused, late, or not gone in time) */
	int terminating;      /* of those, evicted or deleted but not seen gone before the deadline */
	int over_cap;         /* of those, over K8S_MAX_POD or K8S_POD_MAX_TOKENS: never handled */
	char left_names[DRAIN_MAX_LEFT][K8S_MAX_NS + K8S_MAX_NAME]; /* "ns/name" of the first ones left */
	int nleft_names;
	int64_t last_eviction_ms;   /* from the start of the drain to the sending of the last eviction or
	                               deletion the server accepted (-1: none) */
	int64_t total_ms;           /* the whole drain, waiting included */
	int deadline_hit;           /* 1 if the drain stopped at the deadline */
	int advisory;               /* 1 if it ended in the advisory mode */
	char error[512];            /* why the pods could not be listed at all, else "" */
};

struct drain;

/*
 * How a drain runs, owned by the caller and shared with drain_node while it
 * runs: the caller may open the gate or set a deadline from any thread, at
 * any time, before, during or after drain_node.
 */
struct drain_ctl {
	pthread_mutex_t mu;         /* guards what follows; taken before the drain's own */
	struct drain *d;            /* the drain running under this ctl, or NULL */
	int64_t deadline_ms;        /* monotonic; DRAIN_NO_DEADLINE: advisory */
	int open;                   /* evictions may be sent */
};

/* Sets c up: deadline_ms (or DRAIN_NO_DEADLINE), the gate open or not. */
void drain_ctl_init(struct drain_ctl *c, int64_t deadline_ms, int open);

/* Frees c. No drain_node may be running under it. */
void drain_ctl_destroy(struct drain_ctl *c);

/* Lets the evictions start (the cordon's first answer came). */
void drain_ctl_open(struct drain_ctl *c);

/*
 * Gives the drain a deadline (monotonic ms): an advisory drain becomes a
 * notice drain at once (grace cuts, deletes near the deadline). A later
 * deadline than the one in force is ignored.
 */
void drain_ctl_deadline(struct drain_ctl *c, int64_t deadline_ms);

/*
 * Drains node as described above, under ctl (deadline, gate). k must
 * be set up (k8s_init). Posts "Draining", "PodDeleted" and "Drained" (or a
 * Warning "DrainIncomplete") Events. Fills *r. Returns 0 if nothing
 * evictable is left on the node, -1 otherwise (r says what is left and
 * why). Every thread it starts is joined before it returns.
 */
int drain_node(struct k8s *k, const char *node, struct drain_ctl *ctl, struct drain_result *r);

/*
 * Writes the one-line summary of r main logs ("drain: 110 found, 97
 * evicted, 1 deleted, 0 gone, 12 skipped (11 DaemonSet-managed, 1 mirror
 * pod), 0 left; last eviction at 420 ms, total 1900 ms"; "N left (M
 * terminating)" and the first names left when some are). Returns buf.
 */
char *drain_result_summary(const struct drain_result *r, char *buf, size_t n);

/* ---- Pure helpers (unit-tested) ----------------------------------------------- */

/* What to do with a pod of the given K8S_POD_* flags, kubectl drain's rules. */
enum drain_action drain_filter(unsigned flags, int delete_emptydir_data, int force);

/* A short phrase for a skip, for log lines ("DaemonSet-managed"). */
const char *drain_action_name(enum drain_action a);

/*
 * The gracePeriodSeconds to ask for at now_ms: the pod's own grace, but no
 * more than the whole seconds left before deadline_ms minus
 * K8S_GRACE_MARGIN_MS, and never below 0.
 */
int drain_grace(int pod_grace, int64_t now_ms, int64_t deadline_ms);

enum drain_outcome {
	DRAIN_OK,              /* 200/201: the eviction or deletion was accepted */
	DRAIN_GONE,            /* 404: the pod is not there any more */
	DRAIN_PDB,             /* 429 from a PodDisruptionBudget */
	DRAIN_MULTI_PDB,       /* 500: several PDBs cover the pod */
	DRAIN_THROTTLED,       /* 429 from API priority and fairness */
	DRAIN_TRANSIENT,       /* worth another try after a backoff */
	DRAIN_REFUSED,         /* permanent: 400, 403, 422... */
};

/* Classifies an answer to an eviction (or deletion) of status with body. */
enum drain_outcome drain_classify(int status, const char *body, size_t len);

#endif
