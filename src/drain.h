/*
 * drain.h — the drain: every pod off the node before the deadline, in
 * parallel, respecting PodDisruptionBudgets for as long as there is time.
 *
 * drain_node lists the node's pods (paginated, k8s_list_pods) into compact
 * records, filters them as `kubectl drain --ignore-daemonsets` does, and has
 * config->eviction_concurrency worker threads (each with its own keep-alive
 * connection) POST policy/v1 Evictions. Per answer:
 *   200/201  evicted; 404 already gone;
 *   429      refused by a PDB: tried again every config->pdb_retry_interval;
 *            throttled (API priority and fairness): every worker waits the
 *            Retry-After the server asked for;
 *   500      the pod is covered by several PDBs: logged, treated as blocked;
 *   other    transient (5xx, transport, garbage): retried with backoff;
 *            permanent (403, 400, 422): logged, the pod is left.
 * From config->delete_blocked_at before the deadline (0: never) the pods
 * still blocked are DELETEd instead, each logged and evented. Every
 * eviction and deletion asks for gracePeriodSeconds = drain_grace(). Then
 * the node is re-listed every K8S_WAIT_POLL_MS until the evicted pods are
 * gone (absent, or Succeeded/Failed) or the deadline passes. Pods that show
 * up on the node while draining are drained too. Nothing blocks past the
 * deadline; re-running a drain on a half-drained node just finishes it.
 *
 * Under config->dry_run the evictions are logged, not sent, and there is
 * nothing to wait for.
 */
#ifndef DESPOTIFY_DRAIN_H
#define DESPOTIFY_DRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "k8s.h"

struct drain_result {
	int found;            /* pods on the node at the first listing, and any that appeared later */
	int evicted;          /* evictions accepted (under dry-run: evictions that would be sent) */
	int deleted;          /* deleted once PDBs had blocked them until delete_blocked_at */
	int gone;             /* gone before their eviction was accepted (404, vanished) */
	int skipped;          /* DaemonSet, mirror, finished, own pod, or emptyDir/unmanaged not allowed */
	int left;             /* still on the node at the end (blocked, refused, or not gone in time) */
	int terminating;      /* of those, evicted or deleted but not seen gone before the deadline */
	char left_names[DRAIN_MAX_LEFT][K8S_MAX_NS + K8S_MAX_NAME]; /* "ns/name" of the first ones left */
	int nleft_names;
	int64_t cordon_ms;          /* k8s_cordon's duration (-1: not cordoned through this k8s) */
	int64_t last_eviction_ms;   /* from the start of the drain to the sending of the last eviction or
	                               deletion the server accepted (-1: none) */
	int64_t total_ms;           /* the whole drain, waiting included */
	int deadline_hit;           /* 1 if the drain stopped at the deadline */
	char error[512];            /* why the pods could not be listed at all, else "" */
};

/*
 * Drains node as described above, before deadline_ms (monotonic). k must be
 * set up (k8s_init); the node is normally cordoned first (k8s_cordon). Posts
 * "Draining", "PodDeleted" and "Drained" (or a Warning "DrainIncomplete")
 * Events. Fills *r. Returns 0 if nothing evictable is left on the node, -1
 * otherwise (r says what is left and why).
 */
int drain_node(struct k8s *k, const char *node, int64_t deadline_ms, struct drain_result *r);

/*
 * Writes the one-line summary of r main logs ("drain: 97 evicted, 1 deleted,
 * 0 gone, 12 skipped, 0 left; cordon 35 ms, last eviction at 420 ms, total
 * 1900 ms"; "N left (M terminating)" and the first names left when some
 * are). Returns buf.
 */
char *drain_result_summary(const struct drain_result *r, char *buf, size_t n);

/* ---- Pure helpers (unit-tested) ----------------------------------------------- */

enum drain_action {
	DRAIN_EVICT,
	DRAIN_SKIP_SELF,
	DRAIN_SKIP_FINISHED,
	DRAIN_SKIP_MIRROR,
	DRAIN_SKIP_DAEMONSET,
	DRAIN_SKIP_EMPTYDIR,     /* emptyDir volume and delete_emptydir_data off */
	DRAIN_SKIP_UNMANAGED,    /* no controller and force off */
};

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
