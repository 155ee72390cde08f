/*
 * k8s.h — the Kubernetes API as despotify uses it: authenticated requests,
 * the node's cordon (unschedulable + taint + load-balancer exclusion label in
 * one patch), pod listing page by page, and Events about the node.
 *
 * Access is in-cluster by default: config->api_server (which already folds
 * in KUBERNETES_SERVICE_HOST/PORT), the service-account token file and CA
 * file. The token file is re-read whenever its inode, size or mtime change
 * (bound tokens rotate hourly) and after any 401, which is retried once. A
 * client certificate (config->client_cert_file/client_key_file) replaces the
 * token; its files are re-read the same way when either changes (the
 * kubelet rotates its certificate by swapping a symlink), and the new
 * identity serves new connections. config->tls_server_name is the name
 * checked in the server certificate when the API server is reached by IP.
 *
 * With config->kubeconfig (a kubelet's kubeconfig on a node), its current
 * context replaces api_server, ca_file, tls_server_name and the
 * credentials (see kubeconfig.h): a client certificate (files, re-read on
 * change, or data), a token or tokenFile, or the EKS exec. An EKS user, or
 * config->eks_cluster_name with api_server and ca_file, gets a token made
 * here (aws_eks_token: a presigned STS GetCallerIdentity) from the AWS
 * credential chain, made again every K8S_EKS_TOKEN_REFRESH_MS (the API
 * server accepts one for 15 minutes) and after a 401; a token older than
 * K8S_EKS_TOKEN_MAX_AGE_MS is never sent. No bearer token, key or presigned
 * URL ever reaches a log line.
 *
 * One struct k8s is shared by every thread of a drain: its TLS configuration
 * and token are read-only or guarded by its mutex. Each thread that makes
 * requests brings its own struct http_client (k8s_client_init) — keep-alive
 * connections are per client. k8s_event has its own client behind its own
 * mutex, so any thread may call it.
 *
 * Under config->dry_run nothing is changed: every PATCH, POST and DELETE is
 * logged instead of sent (reads still happen).
 *
 * The functions whose names end in _parse, _build or _body are pure (bytes
 * in, result out) and unit-tested in test/unit/test_k8s.c.
 */
#ifndef DESPOTIFY_K8S_H
#define DESPOTIFY_K8S_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bounds.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "url.h"

struct aws;
struct config;
struct kubeconfig;
struct log;
struct tls_config;

/* ---- Pure helpers --------------------------------------------------------- */

struct k8s_taint {
	char key[K8S_MAX_TAINT_KEY];
	char value[K8S_MAX_TAINT_VALUE];   /* may be empty */
	char effect[20];                   /* NoSchedule, PreferNoSchedule or NoExecute */
};

/*
 * Parses a taint written "key[=value]:effect" (as kubectl taint takes it):
 * the key a qualified name ("example.com/name" or "name", the name part at
 * most 63 bytes of [A-Za-z0-9._-] starting and ending alphanumeric), the
 * value a label value, the effect one of NoSchedule, PreferNoSchedule,
 * NoExecute. Returns 0, or -1 with the reason in err.
 */
int k8s_taint_parse(const char *s, struct k8s_taint *t, char *err, size_t errlen);

/*
 * Builds the JSON merge patch that cordons the node whose JSON (a GET of
 * /api/v1/nodes/NAME) is node_json[0..len): spec.unschedulable true; the
 * taint (NULL: none) appended to spec.taints unless one with the same key
 * and effect is there — every existing taint is copied byte for byte, since
 * a merge patch replaces the whole list; and, if exclude_lb, the label
 * node.kubernetes.io/exclude-from-external-load-balancers="true". The patch
 * carries metadata.resourceVersion from the node, so that a concurrent
 * change makes the server answer 409 rather than lose it.
 * When cause is not NULL the patch also records, in the annotation
 * K8S_CORDON_ANNOTATION (see struct k8s_cordon_record), what it changes
 * and why, together with what an earlier cordon by despotify recorded (its
 * cause is kept), so that only that is ever undone.
 * toks/ntoks is scratch space for the parse. The node's uid is copied into
 * uid (uidcap bytes) for Events. Returns 1 with the patch in out (cap
 * bytes), 0 if the node is already cordoned, tainted and labelled (nothing
 * to send: a restart after a cordon), or -1 with the reason in err.
 */
int k8s_cordon_patch_build(const char *node_json, size_t len, struct json_tok *toks, int ntoks,
    const struct k8s_taint *taint, int exclude_lb, const char *cause, char *out, size_t cap,
    char *uid, size_t uidcap, char *err, size_t errlen);

/*
 * What despotify's cordon changed on a Node, recorded there in the annotation
 * K8S_CORDON_ANNOTATION so that a later despotify (after a restart, a reboot
 * or a spot stop) can undo exactly that and nothing else: a node that was
 * already unschedulable before despotify came is never made schedulable by it.
 * The annotation's value reads "cause=maintenance/instance-event-1;
 * did=unschedulable,taint,label;taint=despotify/spot-termination:NoSchedule".
 */
#define K8S_CORDON_ANNOTATION "despotify.io/cordoned"
#define K8S_DID_UNSCHEDULABLE 0x1u   /* spec.unschedulable was false and despotify set it */
#define K8S_DID_TAINT         0x2u   /* despotify added the taint named in the record */
#define K8S_DID_LABEL         0x4u   /* despotify added the load-balancer exclusion label */

struct k8s_cordon_record {
	char cause[K8S_MAX_CAUSE];          /* "spot-stop", "maintenance/EVENTID", ...: [A-Za-z0-9._/-] */
	unsigned did;                       /* K8S_DID_* */
	char taint_key[K8S_MAX_TAINT_KEY];  /* the taint added, when did has K8S_DID_TAINT */
	char taint_effect[20];
};

/* Writes r as the annotation's value into out (cap bytes). Returns its length or -1. */
int k8s_cordon_record_format(const struct k8s_cordon_record *r, char *out, size_t cap);

/* Reads an annotation value of len bytes into *r. Returns 0, or -1 if it is not one. */
int k8s_cordon_record_parse(const char *s, size_t len, struct k8s_cordon_record *r);

/*
 * Builds the JSON merge patch that undoes despotify's cordon of the Node in
 * node_json[0..len) (toks/ntoks scratch), as its K8S_CORDON_ANNOTATION
 * records it: spec.unschedulable cleared if despotify set it, the recorded
 * taint removed (every other taint kept byte for byte), the load-balancer
 * label removed if despotify added it, and the annotation removed; with the
 * Node's resourceVersion, so a concurrent change gets a 409. Returns 1 with
 * the patch in out (cap bytes) and the record in *rec, 0 if the Node has no
 * such annotation (despotify did not cordon it: nothing to undo), or -1 with
 * the reason in err.
 */
int k8s_uncordon_patch_build(const char *node_json, size_t len, struct json_tok *toks, int ntoks,
    struct k8s_cordon_record *rec, char *out, size_t cap, char *err, size_t errlen);

/* What a drain needs to know about one pod; nothing of its JSON is kept. */
#define K8S_POD_DAEMONSET   0x01u   /* controlled by a DaemonSet */
#define K8S_POD_MIRROR      0x02u   /* a static pod's mirror (kubernetes.io/config.mirror) */
#define K8S_POD_FINISHED    0x04u   /* status.phase Succeeded or Failed */
#define K8S_POD_SELF        0x08u   /* despotify's own pod */
#define K8S_POD_EMPTYDIR    0x10u   /* has an emptyDir volume: its data dies with the pod */
#define K8S_POD_UNMANAGED   0x20u   /* no controller ownerReference: nothing recreates it */
#define K8S_POD_TERMINATING 0x40u   /* metadata.deletionTimestamp is set */

struct k8s_pod {
	char ns[K8S_MAX_NS];
	char name[K8S_MAX_NAME];
	char uid[K8S_MAX_UID];
	int grace;           /* spec.terminationGracePeriodSeconds, 30 when absent */
	unsigned flags;      /* K8S_POD_* */
};

/* Called once per pod of a page; a non-zero return stops the parse with -2. */
typedef int (*k8s_pod_fn)(void *arg, const struct k8s_pod *pod);

/*
 * Reduces the pod object at index obj of d to its compact record, marking
 * it K8S_POD_SELF when it is ns/name self_ns/self_name (empty: unknown).
 * Returns 0, or -1 with the reason in err (no metadata, no name or
 * namespace, a field over its bound).
 */
int k8s_pod_from_json(const struct json_doc *d, int obj, const char *self_ns,
    const char *self_name, struct k8s_pod *p, char *err, size_t errlen);

/*
 * The decoder of one PodList page as it streams in (see json_stream):
 * each element of items is tokenised on its own, reduced to a struct
 * k8s_pod and handed to fn at once; nothing of it is kept. Memory is the
 * caller's buffer of one pod (K8S_MAX_POD) and token array (K8S_POD_MAX_TOKENS),
 * whatever the page's size. kind (if there) must be "PodList", items an array
 * or null; metadata.continue and metadata.resourceVersion are collected
 * wherever in the body they come. A pod over the buffer or the token array
 * is skipped (counted in skipped, the first reason in skip_why): the rest
 * of the page is still usable, and a drain should evict what it can.
 * Pure: bytes in, pods out.
 */
struct k8s_podlist {
	struct json_stream js;
	const char *self_ns, *self_name;
	k8s_pod_fn fn;
	void *arg;
	int pods;                      /* pods handed to fn */
	int skipped;                   /* pods over a cap, not handed to fn */
	char skip_why[256];            /* the first skipped one's reason */
	int refused;                   /* fn refused a pod */
	unsigned seen;                 /* root members met (kind, metadata): twice is an error */
	char cont[K8S_MAX_CONTINUE];   /* metadata.continue; "" on the last page */
	char rv[K8S_MAX_RV];           /* metadata.resourceVersion; "" if absent */
};

/* Sets pl up for one page; buf (cap bytes), toks (ntoks) and the rest are borrowed. */
void k8s_podlist_init(struct k8s_podlist *pl, char *buf, size_t cap, struct json_tok *toks,
    int ntoks, const char *self_ns, const char *self_name, k8s_pod_fn fn, void *arg);

/*
 * Feeds the next n bytes of the page. Returns 0; -1 with the reason in err
 * (naming the byte offset, or the pod) if the page is not a usable PodList;
 * -2 if fn refused a pod. fn may have seen pods before either.
 */
int k8s_podlist_feed(struct k8s_podlist *pl, const char *p, size_t n, char *err, size_t errlen);

/* Ends the page. Returns the number of pods handed to fn, or -1 with err (truncated, not a PodList). */
int k8s_podlist_end(struct k8s_podlist *pl, char *err, size_t errlen);

/*
 * The same over a whole page body[0..len): init, one feed, end. The
 * continue token goes into cont (contcap bytes). Returns the number of
 * pods, -1 or -2 as k8s_podlist_feed.
 */
int k8s_pods_parse(const char *body, size_t len, char *buf, size_t cap, struct json_tok *toks,
    int ntoks, const char *self_ns, const char *self_name, k8s_pod_fn fn, void *arg,
    char *cont, size_t contcap, char *err, size_t errlen);

/*
 * Copies the "message" of a Kubernetes Status body into out (cap bytes);
 * when the body is not a Status, a printable prefix of it. Always leaves a
 * NUL-terminated string. For log lines.
 */
void k8s_status_message(const char *body, size_t len, char *out, size_t cap);

/*
 * Whether body is the Status of an eviction refused by a PodDisruptionBudget
 * (details.causes[].reason "DisruptionBudget", or the server's message about
 * the disruption budget), as opposed to a 429 from API priority and fairness.
 */
int k8s_status_is_pdb(const char *body, size_t len);

/*
 * The JSON of a core/v1 Event about node NODE (uid may be empty) of type
 * "Normal" or "Warning", with reason and message, source component
 * "despotify", stamped at wall_ms. Returns its length, or -1 if it did not
 * fit in cap bytes.
 */
int k8s_event_body(char *out, size_t cap, const char *node, const char *uid, const char *type,
    const char *reason, const char *message, int64_t wall_ms);

/*
 * The policy/v1 Eviction of pod ns/name with deleteOptions.gracePeriodSeconds
 * grace and, when uid is not empty, a uid precondition (so that a pod that
 * was replaced by another of the same name is never evicted by mistake).
 * Returns its length, or -1 if it did not fit in cap bytes.
 */
int k8s_eviction_body(char *out, size_t cap, const char *ns, const char *name, const char *uid,
    int grace);

/* The DeleteOptions of a pod deletion, likewise. Returns the length or -1. */
int k8s_delete_body(char *out, size_t cap, const char *uid, int grace);

/* ---- The API client --------------------------------------------------------- */

/* What tells a file changed: re-read it when any of these differ. */
struct k8s_file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns;
};

enum k8s_auth {
	K8S_AUTH_TOKEN_FILE,              /* token_file or a kubeconfig's tokenFile, re-read on change */
	K8S_AUTH_TOKEN,                   /* a kubeconfig's inline token */
	K8S_AUTH_CERT_FILES,              /* client certificate and key files, re-read on change */
	K8S_AUTH_CERT_DATA,               /* a kubeconfig's client-certificate-data / client-key-data */
	K8S_AUTH_EKS                      /* an EKS token made here (aws_eks_token) */
};

struct k8s {
	const struct config *cfg;
	const struct log *lg;
	char server[CONFIG_MAX_STR];      /* api_server, or the kubeconfig's server */
	struct url base;                  /* server, parsed */
	char base_path[URL_MAX_PATH];     /* its path prefix without the trailing '/' */
	struct http_proxy proxy;          /* HTTPS_PROXY/NO_PROXY of the environment */
	enum k8s_auth auth;
	char auth_desc[512];              /* "client certificate /var/lib/kubelet/pki/...": for logs */
	char ca_file[CONFIG_MAX_STR];     /* the API server's roots: this file, or ca_pem */
	char *ca_pem;                     /* a kubeconfig's certificate-authority-data (owned) */
	size_t ca_pem_len;
	char server_name[CONFIG_MAX_STR]; /* tls_server_name (or the kubeconfig's) */
	char token_path[CONFIG_MAX_STR];  /* K8S_AUTH_TOKEN_FILE */
	char cert_path[CONFIG_MAX_STR];   /* K8S_AUTH_CERT_FILES */
	char key_path[CONFIG_MAX_STR];
	char eks_cluster[K8S_MAX_NAME];   /* K8S_AUTH_EKS */
	struct aws *aws;                  /* K8S_AUTH_EKS: the credential chain (owned), used under mu */
	int64_t eks_refresh_ms;           /* K8S_EKS_TOKEN_REFRESH_MS; tests may shorten it */
	int64_t eks_max_age_ms;           /* K8S_EKS_TOKEN_MAX_AGE_MS; likewise */

	pthread_mutex_t mu;               /* guards everything below up to the event client */
	struct tls_config *tls;           /* in use for new connections; NULL for http:// */
	struct tls_config *tls_retired[K8S_MAX_TLS_RETIRED]; /* replaced by a rotation; freed at close */
	int ntls_retired;
	int use_token;                    /* a bearer token goes with each request */
	char *token;                      /* 2 * FILE_MAX_TOKEN bytes; the bearer token, never logged */
	size_t token_len;
	struct k8s_file_id tok_id;        /* the token file last read */
	struct k8s_file_id cert_id, key_id; /* the certificate and key files last loaded */
	int64_t token_made_ms;            /* K8S_AUTH_EKS: when the token in use was made (monotonic) */
	unsigned token_reads;             /* times the token was (re)read or made */
	unsigned cert_loads;              /* times the client certificate was loaded */
	struct log_limit auth_ll;         /* a failing refresh, logged once a minute */
	char node_uid[K8S_MAX_UID];       /* from the cordon's GET, for Events */

	struct http_client hc;            /* the calling thread's: the listing */
	char *buf;                        /* K8S_BUF bytes: one Node, or one pod of a list */
	struct json_tok *toks;            /* K8S_TOKS: the Node's tokens, or one pod's */
	struct log_limit skip_ll;         /* the listing's "pods over the caps" line */

	pthread_mutex_t ev_mu;            /* guards the event client and its pause */
	struct http_client ev_hc;
	int64_t ev_pause_until;           /* after a failure, Events are dropped until then */

	struct metrics *metrics;          /* set by the owner after k8s_init; NULL: not counted */
};

/*
 * Sets k up from cfg: reads the kubeconfig if there is one, parses the
 * server URL, loads the CA (and the client certificate and key, or else
 * reads the token file; an EKS token is made at the first request), sets
 * up the AWS credential chain for an EKS token (region: the kubeconfig's
 * --region, else config->region), reads proxy settings from envp. Logs the
 * server and the kind of authentication once. cfg and lg are borrowed and
 * must outlive k. Returns 0, or -1 with the reason in err ("ca_file
 * /var/run/...: No such file or directory", "token_file ...: ...",
 * "kubeconfig /var/lib/kubelet/kubeconfig: line 3: ..."); k needs no
 * k8s_close then.
 */
int k8s_init(struct k8s *k, const struct config *cfg, const struct log *lg, char *const *envp,
    char *err, size_t errlen);

/* Closes connections and frees everything k holds. */
void k8s_close(struct k8s *k);

/*
 * Sets up an http_client of the caller's (one per thread) for requests
 * through k. k8s_request moves it to a rotated client certificate.
 */
void k8s_client_init(struct k8s *k, struct http_client *hc);

/*
 * Sends one request to the API server on hc: path is relative to
 * api_server ("/api/v1/nodes/x?y=z"), ctype the Content-Type of body (NULL
 * when there is none). Adds the bearer token (re-read first if its file
 * changed; an EKS token made again when due) and Accept: application/json;
 * reloads a client certificate whose files changed (hc then reconnects
 * with it). On 401 it re-reads the token (or makes a new EKS token, or
 * reloads a changed certificate) and retries once. Under dry-run a method other than GET is logged and not
 * sent: resp->status is then K8S_DRY_RUN. The response body lands in
 * resp->body (caller's, resp->body_cap bytes). Returns 0 for any HTTP
 * response, or -1 on a transport failure with the reason in err. Never
 * blocks past deadline_ms. Thread-safe for distinct hc.
 */
#define K8S_DRY_RUN 0
int k8s_request(struct k8s *k, struct http_client *hc, const char *method, const char *path,
    const char *ctype, const char *body, size_t body_len, struct http_response *resp,
    int64_t deadline_ms, char *err, size_t errlen);

/* What k8s_cordon did. */
struct k8s_cordon_result {
	int unschedulable;        /* spec.unschedulable is true (set now, or found so) */
	int tainted;              /* config->taint is on the node (1 when none is configured) */
	int labelled;             /* the load-balancer exclusion label is on (or not asked for) */
	int taint_refused;        /* the server refused the taint with 403 (NodeRestriction) */
	int64_t ms;               /* how long k8s_cordon took */
	char err[512];            /* why the node is not cordoned, else "" */
};

/*
 * A kube-apiserver that has just started answers 403 to everyone for a few
 * seconds, until its authorizer's caches are filled; clients that reach it
 * directly (a single control plane, a load balancer that checks only the
 * port) see that. So a 403 to the first kind of request of an operation (the
 * cordon's GET of the Node, the pod LIST), before the server has granted one,
 * is retried with backoff for this long after the first such 403, then final.
 */
#define K8S_FORBIDDEN_GRACE_MS 10000

/* Called by k8s_cordon, once, on its own thread. */
typedef void (*k8s_cordon_fn)(void *arg);

/*
 * Cordons node: reads it (GET), then in one merge patch makes it
 * unschedulable, adds config->taint and, if config->exclude_from_lb, the
 * load-balancer exclusion label (see k8s_cordon_patch_build). An already
 * cordoned node is left alone. Uses a client and buffers of its own, so it
 * runs beside k8s_list_pods and the evictions.
 *
 * Retries: a 409 re-reads the node at once (three times, then with
 * backoff); transport faults, 429, 5xx and garbage are retried with backoff
 * (a Retry-After honoured as util_retry_after_cap allows) until
 * *deadline_ms, which is read before every try so that the caller may move
 * it (an advisory cordon, which has no deadline, gets the one of a
 * termination notice that follows). A 403 on a patch that carries the
 * taint is NodeRestriction refusing a node's own identity to taint itself:
 * logged once at WARNING and sent again at once without the taint
 * (r->taint_refused). 404, 400, 415, 422 and any other 403 end it, but
 * for a 403 to the GET before the server has granted any (see
 * K8S_FORBIDDEN_GRACE_MS).
 *
 * answered(arg) is called once, as soon as the first try has an answer
 * (accepted, refused, or a fault; the 403 of a refused taint does not count,
 * its taint-less retry does), or when k8s_cordon ends without one: the
 * drain waits for that and nothing more before it evicts. Logs the outcome;
 * posts a "Cordoned" Event (a Warning when the taint was refused). cause
 * (NULL: none) is recorded on the Node with what the cordon changed, for
 * k8s_uncordon. Fills *r. Returns 0 if the node is cordoned, -1 if not
 * (r->err says why).
 */
int k8s_cordon(struct k8s *k, const char *node, const char *cause, const int64_t *deadline_ms,
    k8s_cordon_fn answered, void *arg, struct k8s_cordon_result *r);

/*
 * Undoes despotify's cordon of node as the Node's K8S_CORDON_ANNOTATION
 * records it (see k8s_uncordon_patch_build): GET, then one merge patch,
 * a 409 read again, transient faults retried until deadline_ms. A node
 * with no record (someone else cordoned it, or nobody) is left alone, and
 * so is one whose record undo(arg, record) (when undo is not NULL) says
 * is still needed.
 * Logs and posts an "Uncordoned" Event when it changed something.
 * Returns 1 with the record that was undone in *rec, 0 if there was
 * nothing to undo (no record, or no such node), or -1 with the reason in
 * err.
 */
typedef int (*k8s_undo_fn)(void *arg, const struct k8s_cordon_record *rec);
int k8s_uncordon(struct k8s *k, const char *node, int64_t deadline_ms, k8s_undo_fn undo, void *arg,
    struct k8s_cordon_record *rec, char *err, size_t errlen);

/*
 * Lists the pods on node with GET /api/v1/pods?fieldSelector=spec.nodeName=NODE
 * &limit=K8S_LIST_LIMIT and continue pagination, decoding each page as it
 * arrives (k8s_podlist): fn is called for each pod as soon as its last byte
 * is read, so a caller can act on the first pod while the page is still
 * coming. Memory is one pod's, whatever the page or the pod count. A pod
 * over K8S_MAX_POD or K8S_POD_MAX_TOKENS is skipped with an ERROR log line
 * naming it (by page, index and size) and the listing goes on. Transient
 * faults (transport, 5xx, 429, a page cut short or garbled) retry the page
 * with backoff until deadline_ms; an expired continue token (410) restarts
 * the listing from the start with backoff; a 403 before a first page has
 * been granted is retried as K8S_FORBIDDEN_GRACE_MS says, any other 403 or
 * a 400 ends it. A page retried or restarted
 * hands fn again the pods it had already seen: fn must dedup (by uid).
 * Uses k->hc: one caller thread at a time. Returns the number of pods
 * handed to fn by the pages that completed, or -1 with the reason in err;
 * *over_cap (if not NULL) gets the number of pods those pages left out
 * over the caps.
 */
int k8s_list_pods(struct k8s *k, const char *node, k8s_pod_fn fn, void *arg,
    int64_t deadline_ms, int *over_cap, char *err, size_t errlen);

/*
 * Posts an Event about node (reason e.g. "SpotInterruption", "Draining",
 * "Drained", "DetachedFromASG", "PodDeleted"; type "Normal" or "Warning";
 * message from fmt). Its involvedObject.uid is the node's uid once
 * k8s_cordon has read it, the node's name before (as the kubelet does for
 * its node Events; kubectl describe node shows both). Best effort: waits at most K8S_EVENT_TIMEOUT_MS, logs
 * a failure at WARNING and then drops Events for K8S_EVENT_PAUSE_MS so that
 * an unreachable API server never slows a drain. Does nothing when
 * config->events is off. Safe to call from any thread.
 */
void k8s_event(struct k8s *k, const char *node, const char *type, const char *reason,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * The same with a va_list, waiting no later than deadline_ms either (an
 * Event due after the deadline is dropped): for callers bound by a deadline.
 */
void k8s_vevent(struct k8s *k, int64_t deadline_ms, const char *node, const char *type,
    const char *reason, const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));

/*
 * The backoff before try number attempt (0-based) of a failing request:
 * K8S_RETRY_MIN_MS doubling up to K8S_RETRY_MAX_MS, with ±25% jitter.
 */
int64_t k8s_backoff_ms(int attempt);

#endif
