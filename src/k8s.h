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
 * token. config->tls_server_name is the name checked in the server
 * certificate when the API server is reached by IP. The bearer token never
 * reaches a log line.
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
#include "url.h"

struct config;
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
 * toks/ntoks is scratch space for the parse. The node's uid is copied into
 * uid (uidcap bytes) for Events. Returns 1 with the patch in out (cap
 * bytes), 0 if the node is already cordoned, tainted and labelled (nothing
 * to send: a restart after a cordon), or -1 with the reason in err.
 */
int k8s_cordon_patch_build(const char *node_json, size_t len, struct json_tok *toks, int ntoks,
    const struct k8s_taint *taint, int exclude_lb, char *out, size_t cap,
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

/* Called once per pod of a page; a non-zero return stops the parse with -1. */
typedef int (*k8s_pod_fn)(void *arg, const struct k8s_pod *pod);

/*
 * Parses one PodList page body[0..len) (toks/ntoks scratch), calling fn for
 * each item with its compact record. self_ns/self_name name despotify's own
 * pod (empty: unknown). The page's metadata.continue goes into cont
 * (contcap bytes; "" on the last page), and the number of JSON tokens the
 * page took into *used (may be NULL), to size the next page. Returns the
 * number of items; -1 with the reason in err if the page is unusable (not a
 * PodList, over ntoks tokens, an item without a name, a field over its
 * bound: fn may have seen the items before the bad one); -2 if fn refused.
 */
int k8s_pods_parse(const char *body, size_t len, struct json_tok *toks, int ntoks,
    const char *self_ns, const char *self_name, k8s_pod_fn fn, void *arg,
    char *cont, size_t contcap, int *used, char *err, size_t errlen);

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
 * The wait a Retry-After header value of len bytes asks for, in ms: delay
 * seconds, or an HTTP date compared with now_wall_s. Returns 0 with *ms set
 * (at least 0), or -1 if the value is neither.
 */
int k8s_retry_after_parse(const char *v, size_t len, int64_t now_wall_s, int64_t *ms);

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

struct k8s {
	const struct config *cfg;
	const struct log *lg;
	struct url base;                  /* config->api_server */
	char base_path[URL_MAX_PATH];     /* its path prefix without the trailing '/' */
	struct tls_config *tls;           /* NULL for http:// */
	struct http_proxy proxy;          /* HTTPS_PROXY/NO_PROXY of the environment */

	pthread_mutex_t mu;               /* guards everything below up to the event client */
	int use_token;                    /* 0: client-certificate authentication */
	char *token;                      /* FILE_MAX_TOKEN bytes; the bearer token, never logged */
	size_t token_len;
	dev_t tok_dev;                    /* identity of the token file last read */
	ino_t tok_ino;
	off_t tok_size;
	int64_t tok_mtime_ns;
	unsigned token_reads;             /* times the token file was (re)read */
	char node_uid[K8S_MAX_UID];       /* from the cordon's GET, for Events */
	int64_t cordon_ms;                /* how long k8s_cordon took; -1 if not called */

	struct http_client hc;            /* the calling thread's: cordon and listing */
	char *buf;                        /* K8S_MAX_BODY bytes: one Node or PodList page */
	struct json_tok *toks;            /* K8S_MAX_TOKENS */

	pthread_mutex_t ev_mu;            /* guards the event client and its pause */
	struct http_client ev_hc;
	int64_t ev_pause_until;           /* after a failure, Events are dropped until then */
};

/*
 * Sets k up from cfg: parses api_server, loads the CA file (and the client
 * certificate and key, or else reads the token file), reads proxy settings
 * from envp. cfg and lg are borrowed and must outlive k. Returns 0, or -1
 * with the reason in err ("ca_file /var/run/...: No such file or
 * directory", "token_file ...: ..."); k needs no k8s_close then.
 */
int k8s_init(struct k8s *k, const struct config *cfg, const struct log *lg, char *const *envp,
    char *err, size_t errlen);

/* Closes connections and frees everything k holds. */
void k8s_close(struct k8s *k);

/* Sets up an http_client of the caller's (one per thread) for requests through k. */
void k8s_client_init(struct k8s *k, struct http_client *hc);

/*
 * Sends one request to the API server on hc: path is relative to
 * api_server ("/api/v1/nodes/x?y=z"), ctype the Content-Type of body (NULL
 * when there is none). Adds the bearer token (re-read first if its file
 * changed) and Accept: application/json. On 401 it re-reads the token and
 * retries once. Under dry-run a method other than GET is logged and not
 * sent: resp->status is then K8S_DRY_RUN. The response body lands in
 * resp->body (caller's, resp->body_cap bytes). Returns 0 for any HTTP
 * response, or -1 on a transport failure with the reason in err. Never
 * blocks past deadline_ms. Thread-safe for distinct hc.
 */
#define K8S_DRY_RUN 0
int k8s_request(struct k8s *k, struct http_client *hc, const char *method, const char *path,
    const char *ctype, const char *body, size_t body_len, struct http_response *resp,
    int64_t deadline_ms, char *err, size_t errlen);

/*
 * Cordons node: verifies it exists (GET), then in one merge patch makes it
 * unschedulable, adds config->taint and, if config->exclude_from_lb, the
 * load-balancer exclusion label (see k8s_cordon_patch_build). A 409
 * Conflict re-reads the node and tries again; transient faults (transport
 * errors, 429, 5xx, garbage) are retried with backoff until deadline_ms. An
 * already cordoned node is left alone. Logs what it did; posts a "Cordoned"
 * Event. Returns 0, or -1 with the reason in err (the node does not exist,
 * the server refused the patch, the deadline passed).
 */
int k8s_cordon(struct k8s *k, const char *node, int64_t deadline_ms, char *err, size_t errlen);

/*
 * Lists the pods on node with GET /api/v1/pods?fieldSelector=spec.nodeName=NODE
 * &limit=N and continue pagination, calling fn for each pod (see
 * k8s_pods_parse) page by page, so that memory stays bounded whatever the
 * number of pods. The page size adapts to what fits in K8S_MAX_BODY and
 * K8S_MAX_TOKENS. Transient faults are retried with backoff until
 * deadline_ms; an expired continue token restarts the listing (fn may then
 * see a pod twice). Uses k->hc: one caller thread at a time. Returns the
 * number of pods seen, or -1 with the reason in err.
 */
int k8s_list_pods(struct k8s *k, const char *node, k8s_pod_fn fn, void *arg,
    int64_t deadline_ms, char *err, size_t errlen);

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
