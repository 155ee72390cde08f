/*
 * aws.h — detaching this instance from its Auto Scaling group: credentials,
 * endpoints, and the two Auto Scaling calls (AWS Query API, SigV4).
 *
 * Credentials. The source is chosen once, at aws_init, from the
 * environment (passed explicitly, never read with getenv), in this order:
 *   1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
 *   2. IRSA web identity: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE
 *      (+ AWS_ROLE_SESSION_NAME): an unsigned STS AssumeRoleWithWebIdentity,
 *      the token file re-read on every refresh (the kubelet rotates it);
 *   3. container / EKS Pod Identity: AWS_CONTAINER_CREDENTIALS_FULL_URI, or
 *      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI under http://169.254.170.2,
 *      with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (re-read every time) or
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN as the Authorization header;
 *   4. the instance's IAM role through IMDS (a struct imds of our own).
 * A source that is configured but fails is an error, never a reason to
 * fall through to the next one: an operator who set up IRSA does not want
 * the node's role used behind their back. Temporary credentials are cached
 * and fetched again AWS_CRED_REFRESH_S before they expire (or at half their
 * lifetime when that is shorter), and at once when AWS says ExpiredToken.
 * No key, secret, token or signature is ever logged.
 *
 * Endpoints. https://autoscaling.REGION.amazonaws.com/ and
 * https://sts.REGION.amazonaws.com/, with the partition's suffix
 * (amazonaws.com.cn for cn-*, c2s.ic.gov for us-iso-*, sc2s.sgov.gov for
 * us-isob-*; GovCloud uses amazonaws.com); asg_endpoint / sts_endpoint from
 * the config (which folds in AWS_ENDPOINT_URL_AUTO_SCALING,
 * AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL) override them. TLS trusts the
 * built-in Amazon roots, or only aws_ca_file when it is set. HTTP(S)_PROXY
 * and NO_PROXY from the environment apply to Auto Scaling and STS, never to
 * the container or IMDS endpoints.
 *
 * Retries. Throttling, ServiceUnavailable, InternalFailure, any 5xx and
 * transport failures are retried with exponential backoff and jitter until
 * the deadline. RequestExpired (and the other clock-skew answers) resync
 * the signing clock from the response's Date header and re-sign at once.
 * ExpiredToken refreshes the credentials. Anything else (AccessDenied,
 * ValidationError, ...) ends the call: it is logged once with AWS's message.
 *
 * A struct aws is large (two HTTP clients, an IMDS client, request and
 * response buffers: about 300 KiB): keep it static or on the heap. It is
 * used by one thread at a time (the detach job).
 */
#ifndef DESPOTIFY_AWS_H
#define DESPOTIFY_AWS_H

#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "config.h"
#include "http.h"
#include "imds.h"
#include "log.h"
#include "metrics.h"
#include "sigv4.h"
#include "url.h"

/* Fetch temporary credentials again this long before they expire. */
#define AWS_CRED_REFRESH_S   300
/* One HTTP attempt never waits longer than this for AWS (the deadline still rules). */
#define AWS_ATTEMPT_MS       10000
/* Backoff between retries: first wait, and the cap the doubling stops at. */
#define AWS_BACKOFF_MIN_MS   200
#define AWS_BACKOFF_MAX_MS   5000
/* Credential refreshes and clock resyncs one call may make before giving up. */
#define AWS_MAX_REFRESHES    3
#define AWS_MAX_RESYNCS      3
/* Where AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is resolved. */
#define AWS_CONTAINER_BASE   "http://169.254.170.2"

enum aws_cred_source {
	AWS_CRED_ENV,            /* AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY */
	AWS_CRED_WEB_IDENTITY,   /* IRSA: STS AssumeRoleWithWebIdentity */
	AWS_CRED_CONTAINER,      /* container / EKS Pod Identity endpoint */
	AWS_CRED_IMDS            /* the instance's IAM role */
};

/* "environment", "web identity (IRSA)", "container endpoint", "instance role (IMDS)". */
const char *aws_cred_source_name(enum aws_cred_source s);

/* Credentials in use. Secrets: never log them. */
struct aws_creds {
	char access_key_id[AWS_MAX_KEY];
	char secret_access_key[AWS_MAX_KEY];
	char session_token[AWS_MAX_TOKEN];   /* "" for long-term keys */
	int64_t expiration_s;                /* epoch seconds; 0: does not expire */
	int64_t refresh_s;                   /* epoch seconds from which to fetch new ones */
	int valid;
};

enum aws_outcome {
	AWS_DETACHED,            /* DetachInstances succeeded */
	AWS_NOT_IN_ASG,          /* the instance belongs to no Auto Scaling group */
	AWS_ALREADY_LEAVING,     /* Detaching, Detached, Terminating*, Terminated: nothing to do */
	AWS_DRY_RUN,             /* dry run: described, and logged the detach it would make */
	AWS_FAILED               /* see error */
};

struct aws_detach_result {
	enum aws_outcome outcome;
	char group[256];                 /* the Auto Scaling group, when known */
	char state[64];                  /* the lifecycle state Describe reported */
	char activity[128];              /* DetachInstances' ActivityId */
	int attempts;                    /* HTTP requests to Auto Scaling (retries included) */
	int64_t ms;                      /* time aws_detach took */
	char error[1024];                /* AWS_FAILED: why ("DetachInstances: AccessDenied: ...") */
};

/* "detached", "not in an ASG", "already leaving", "dry run", "FAILED". */
const char *aws_outcome_name(enum aws_outcome o);

/*
 * One line for the summary: "detached from spot-asg", "not in an Auto
 * Scaling group", "already Detaching from spot-asg", "dry run (would
 * detach from spot-asg)", "FAILED: DetachInstances: AccessDenied: ..."
 * (the attempt count is appended when there were retries).
 */
void aws_outcome_describe(const struct aws_detach_result *r, char *buf, size_t n);

struct aws {
	const struct config *cfg;
	const struct log *lg;
	char region[64];
	struct url asg_url, sts_url;
	char asg_hostport[URL_MAX_HOST + 8], sts_hostport[URL_MAX_HOST + 8];

	/* The credential source and what it needs (copied out of envp at init). */
	enum aws_cred_source source;
	char env_key[AWS_MAX_KEY], env_secret[AWS_MAX_KEY], env_token[AWS_MAX_TOKEN];
	char role_arn[512], token_file[CONFIG_MAX_STR], session_name[72];
	char container_url_str[CONFIG_MAX_STR];  /* AWS_CONTAINER_CREDENTIALS_FULL_URI */
	char container_rel[CONFIG_MAX_STR];      /* AWS_CONTAINER_CREDENTIALS_RELATIVE_URI */
	const char *container_base;              /* AWS_CONTAINER_BASE; tests may point it elsewhere */
	struct url container_url;
	char container_token_file[CONFIG_MAX_STR];
	char container_token[FILE_MAX_TOKEN];    /* the literal AWS_CONTAINER_AUTHORIZATION_TOKEN (secret) */
	struct imds imds;                        /* AWS_CRED_IMDS only */
	int imds_ready;

	struct aws_creds creds;                  /* in use */
	struct aws_creds fetched;                /* being fetched */
	int cred_permanent;                      /* the last fetch failed for good (403, bad token) */
	int64_t skew_s;                          /* AWS's clock minus ours, learnt from Date */

	/* Transport. */
	struct tls_config *tls;
	struct http_proxy proxy;
	struct http_client hc;                   /* Auto Scaling and STS (proxied) */
	struct http_client hc_local;             /* container endpoint (never proxied) */
	struct http_response resp;
	char resp_body[AWS_MAX_RESPONSE];
	char req_body[AWS_MAX_REQ_BODY];
	char file_buf[FILE_MAX_TOKEN];           /* a token file, read per use, wiped after */
	struct sigv4_signature sig;
	struct log_limit ll;
	struct metrics *metrics;                 /* set by the owner after aws_init; NULL: not counted */

	/* Counters, public, for the probe and benchmarks. */
	unsigned long cred_fetches, requests;
};

/*
 * Sets a up: the endpoints for region (cfg->region, else the region the
 * caller learnt from the identity document; required), the TLS trust, the
 * proxies, and the credential source from envp (NULL-terminated
 * "NAME=value"). Logs the source chosen, once, at INFO. Opens no
 * connection and fetches nothing. cfg, lg and envp's strings must outlive
 * a. Returns 0, or -1 with the reason in err (a malformed endpoint or
 * proxy URL, an unreadable aws_ca_file, AWS_ACCESS_KEY_ID without
 * AWS_SECRET_ACCESS_KEY, an over-long variable, no region).
 */
int aws_init(struct aws *a, const struct config *cfg, const struct log *lg,
    char *const *envp, const char *region, char *err, size_t errlen);

/*
 * Detaches instance_id from its Auto Scaling group, keeping the desired
 * capacity (ShouldDecrementDesiredCapacity=false) so that a replacement
 * launches now. DescribeAutoScalingInstances first: an instance in no
 * group is AWS_NOT_IN_ASG; one already Detaching, Detached, Terminating or
 * Terminated is AWS_ALREADY_LEAVING, so a restarted despotify never
 * detaches twice. With cfg->dry_run, only the read-only Describe is made
 * and the DetachInstances call is logged (AWS_DRY_RUN). Retries as the top
 * of this file says, never past deadline_ms (monotonic). Logs the outcome
 * once (INFO, or ERROR with AWS's message); fills *r. Returns 0 unless the
 * outcome is AWS_FAILED (-1).
 */
int aws_detach(struct aws *a, const char *instance_id, int64_t deadline_ms,
    struct aws_detach_result *r);

/*
 * Makes sure a holds credentials valid for AWS_CRED_REFRESH_S more seconds,
 * fetching them from the configured source if not (or always, if force).
 * Returns 0, or -1 with the reason in err (never a secret). Used by
 * aws_detach; public so that main can warm the cache and the probe can
 * test each source.
 */
int aws_credentials(struct aws *a, int force, int64_t deadline_ms, char *err, size_t errlen);

/*
 * Makes an EKS token for cluster (the x-k8s-aws-id header) into out (cap
 * bytes): "k8s-aws-v1." + unpadded base64url of a presigned STS
 * GetCallerIdentity URL on a's STS endpoint (sts.REGION.amazonaws.com or
 * sts_endpoint), signed for a's region with the credentials of the chain
 * (fetched or refreshed first, until deadline_ms) at AWS's time. The wall
 * time it was signed at (AWS's clock, epoch seconds) goes into *signed_s.
 * Returns 0, or -1 with the reason in err (never a secret). The token is a
 * secret: never log it.
 */
int aws_eks_token(struct aws *a, const char *cluster, int64_t deadline_ms, char *out, size_t cap,
    int64_t *signed_s, char *err, size_t errlen);

/* Closes the connections, frees the TLS configuration, wipes every secret. */
void aws_close(struct aws *a);

/* ---- Pure helpers (no I/O, no clock, no logging) ------------------------- */

/*
 * Whether credentials may be fetched over plain HTTP from host (a URL's
 * host, IPv6 without brackets): only an IP address literal that is a
 * loopback address (127.0.0.0/8, ::1), the ECS agent (169.254.170.2) or
 * the EKS Pod Identity agent (169.254.170.23, fd00:ec2::23). A name is
 * never enough: "127.attacker.example" resolves anywhere. Pure.
 */
int aws_container_host_ok(const char *host);

/*
 * Writes the host name of service ("autoscaling", "sts") in region into
 * buf: "autoscaling.eu-west-1.amazonaws.com", "sts.cn-north-1.amazonaws.com.cn".
 * The region must be lower-case letters, digits and '-'. Returns 0 or -1.
 */
int aws_endpoint_host(const char *service, const char *region, char *buf, size_t n);

/*
 * How a failed call is handled, from the HTTP status and the AWS error
 * code (may be ""): AWS_RETRY (throttling, 5xx, unavailable), AWS_RESYNC
 * (clock skew: RequestExpired, RequestTimeTooSkewed, RequestInTheFuture, or
 * SignatureDoesNotMatch whose message says the signature expired or is not
 * yet current), AWS_REFRESH (ExpiredToken and friends: new credentials),
 * or AWS_PERMANENT.
 */
enum aws_error_class { AWS_RETRY, AWS_RESYNC, AWS_REFRESH, AWS_PERMANENT };
enum aws_error_class aws_classify(int status, const char *code, const char *message);

/*
 * The EKS token for cluster, made from the presigned URL
 * SCHEME://sts_host/?Action=GetCallerIdentity&Version=2011-06-15 with
 * x-k8s-aws-id: cluster signed (X-Amz-Expires AWS_EKS_TOKEN_EXPIRES), for
 * region at epoch_s, into out (cap bytes). sts_host is the Host header
 * ("sts.eu-west-1.amazonaws.com" or "127.0.0.1:8443"); https says the scheme.
 * Returns 0, or -1 with the reason in err. Pure.
 */
int aws_eks_token_build(const char *sts_host, int https, const char *cluster, const char *region,
    const struct sigv4_credentials *cred, int64_t epoch_s, char *out, size_t cap,
    char *err, size_t errlen);

/*
 * Whether a lifecycle state means the instance is already on its way out
 * of the group: Detaching, Detached, Terminating, Terminating:Wait,
 * Terminating:Proceed, Terminated.
 */
int aws_state_leaving(const char *state);

#endif
