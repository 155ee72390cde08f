/* aws.c — see aws.h. */
#include "aws.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "tls.h"
#include "util.h"
#include "xml.h"

#define FORM_TYPE "application/x-www-form-urlencoded; charset=utf-8"

/* ---- Pure helpers ---------------------------------------------------------- */

const char *
aws_cred_source_name(enum aws_cred_source s)
{
	switch (s) {
	case AWS_CRED_ENV:          return "environment";
	case AWS_CRED_WEB_IDENTITY: return "web identity (IRSA)";
	case AWS_CRED_CONTAINER:    return "container endpoint";
	case AWS_CRED_IMDS:         return "instance role (IMDS)";
	}
	return "?";
}

const char *
aws_outcome_name(enum aws_outcome o)
{
	switch (o) {
	case AWS_DETACHED:        return "detached";
	case AWS_NOT_IN_ASG:      return "not in an ASG";
	case AWS_ALREADY_LEAVING: return "already leaving";
	case AWS_DRY_RUN:         return "dry run";
	case AWS_FAILED:          return "FAILED";
	}
	return "?";
}

void
aws_outcome_describe(const struct aws_detach_result *r, char *buf, size_t n)
{
	int k = 0;

	switch (r->outcome) {
	case AWS_DETACHED:
		k = util_fmt(buf, n, "detached from %s", r->group);
		break;
	case AWS_NOT_IN_ASG:
		k = util_fmt(buf, n, "not in an Auto Scaling group");
		break;
	case AWS_ALREADY_LEAVING:
		k = util_fmt(buf, n, "already %s from %s", r->state, r->group);
		break;
	case AWS_DRY_RUN:
		k = util_fmt(buf, n, "dry run (would detach from %s)", r->group);
		break;
	case AWS_FAILED:
		k = util_fmt(buf, n, "FAILED: %s", r->error);
		break;
	}
	if (k >= 0 && (size_t)k < n && r->attempts > 2)
		util_fmt(buf + k, n - (size_t)k, " after %d requests", r->attempts);
}

int
aws_endpoint_host(const char *service, const char *region, char *buf, size_t n)
{
	const char *suffix = "amazonaws.com", *p;

	if (region == NULL || region[0] == '\0' || region[0] == '-')
		return -1;
	for (p = region; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return -1;
	if (strncmp(region, "cn-", 3) == 0)
		suffix = "amazonaws.com.cn";
	else if (strncmp(region, "us-isob-", 8) == 0)
		suffix = "sc2s.sgov.gov";
	else if (strncmp(region, "us-iso-", 7) == 0)
		suffix = "c2s.ic.gov";
	return util_snprintf(buf, n, "%s.%s.%s", service, region, suffix);
}

enum aws_error_class
aws_classify(int status, const char *code, const char *message)
{
	static const char *const retry[] = {
		"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
		"TooManyRequestsException", "RequestLimitExceeded", "ProvisionedThroughputExceededException",
		"ServiceUnavailable", "ServiceUnavailableException", "InternalFailure", "InternalError",
		"InternalServerError", "IDPCommunicationError", "RequestTimeout", "RequestTimeoutException",
		"PriorRequestNotComplete", "SlowDown", "EC2ThrottledException",
	};
	static const char *const resync[] = {
		"RequestExpired", "RequestTimeTooSkewed", "RequestInTheFuture",
	};
	static const char *const refresh[] = {
		"ExpiredToken", "ExpiredTokenException", "RequestExpiredToken",
	};
	size_t i;

	if (code == NULL)
		code = "";
	if (message == NULL)
		message = "";
	for (i = 0; i < sizeof resync / sizeof resync[0]; i++)
		if (strcmp(code, resync[i]) == 0)
			return AWS_RESYNC;
	if ((strcmp(code, "SignatureDoesNotMatch") == 0 || strcmp(code, "InvalidSignatureException") == 0) &&
	    (strstr(message, "Signature expired") != NULL || strstr(message, "Signature not yet current") != NULL))
		return AWS_RESYNC;
	for (i = 0; i < sizeof refresh / sizeof refresh[0]; i++)
		if (strcmp(code, refresh[i]) == 0)
			return AWS_REFRESH;
	for (i = 0; i < sizeof retry / sizeof retry[0]; i++)
		if (strcmp(code, retry[i]) == 0)
			return AWS_RETRY;
	if (status >= 500 || status == 429)
		return AWS_RETRY;
	return AWS_PERMANENT;
}

int
aws_state_leaving(const char *state)
{
	return strcmp(state, "Detaching") == 0 || strcmp(state, "Detached") == 0 ||
	    strncmp(state, "Terminating", 11) == 0 || strcmp(state, "Terminated") == 0;
}

int
aws_eks_token_build(const char *sts_host, int https, const char *cluster, const char *region,
    const struct sigv4_credentials *cred, int64_t epoch_s, char *out, size_t cap,
    char *err, size_t errlen)
{
	static const char prefix[] = "k8s-aws-v1.";
	struct sigv4_header h[2] = { { "Host", sts_host }, { "x-k8s-aws-id", cluster } };
	struct sigv4_request req = { "GET", "/", "Action=GetCallerIdentity&Version=2011-06-15", h, 2,
		NULL, 0 };
	struct sigv4_signature *scratch;
	char url[AWS_EKS_TOKEN_MAX], *q;
	size_t head;
	int r = -1;

	if (cluster[0] == '\0' || cap <= sizeof prefix) {
		util_fmt(err, errlen, "EKS token: no cluster name");
		return -1;
	}
	if ((scratch = malloc(sizeof *scratch)) == NULL) {
		util_fmt(err, errlen, "EKS token: out of memory");
		return -1;
	}
	if (util_snprintf(url, sizeof url, "%s://%s/?", https ? "https" : "http", sts_host) < 0) {
		util_fmt(err, errlen, "EKS token: STS host too long");
		goto done;
	}
	head = strlen(url);
	q = url + head;
	if (sigv4_presign(&req, cred, region, "sts", epoch_s, AWS_EKS_TOKEN_EXPIRES, scratch, q,
	    sizeof url - head, err, errlen) < 0)
		goto done;
	memcpy(out, prefix, sizeof prefix - 1);
	if (util_base64url_encode(url, strlen(url), out + sizeof prefix - 1,
	    cap - (sizeof prefix - 1)) < 0) {
		util_fmt(err, errlen, "EKS token: over %zu bytes (a very long session token?)", cap - 1);
		util_wipe(out, cap);
		goto done;
	}
	r = 0;
done:
	util_wipe(url, sizeof url);
	sigv4_wipe(scratch);
	free(scratch);
	return r;
}

/* ---- Set-up ------------------------------------------------------------------ */

static int
env_copy(char *const *envp, const char *name, char *dst, size_t n, char *err, size_t errlen)
{
	const char *v = util_env(envp, name);

	dst[0] = '\0';
	if (v == NULL)
		return 0;
	if (util_strlcpy(dst, v, n) < 0) {
		util_fmt(err, errlen, "%s is longer than %zu bytes", name, n - 1);
		dst[0] = '\0';
		return -1;
	}
	return 0;
}

static int
set_endpoint(struct url *u, char *hostport, size_t hpn, const char *override, const char *service,
    const char *region, char *err, size_t errlen)
{
	char host[URL_MAX_HOST], s[URL_MAX_HOST + 16], e[256];
	const char *use = override;

	if (override[0] == '\0') {
		if (aws_endpoint_host(service, region, host, sizeof host) < 0) {
			util_fmt(err, errlen, "no %s endpoint for region \"%s\"", service, region);
			return -1;
		}
		util_fmt(s, sizeof s, "https://%s/", host);
		use = s;
	}
	if (url_parse(use, u, e, sizeof e) < 0) {
		util_fmt(err, errlen, "%s endpoint: %s", service, e);
		return -1;
	}
	/* The Query API is always POST /; an override's path is the base of it. */
	if (strchr(u->path, '?') != NULL) {
		util_fmt(err, errlen, "%s endpoint \"%s\": a query is not allowed", service, use);
		return -1;
	}
	if (http_host_header(u, hostport, hpn) < 0) {
		util_fmt(err, errlen, "%s endpoint \"%s\": host too long", service, use);
		return -1;
	}
	return 0;
}

int
aws_container_host_ok(const char *host)
{
	struct in_addr v4;
	struct in6_addr v6, pod_identity;

	if (inet_pton(AF_INET, host, &v4) == 1) {
		uint32_t ip = ntohl(v4.s_addr);

		/* 127.0.0.0/8, the ECS agent, the EKS Pod Identity agent. */
		return (ip >> 24) == 127 || ip == 0xa9feaa02u || ip == 0xa9feaa17u;
	}
	if (inet_pton(AF_INET6, host, &v6) != 1 || inet_pton(AF_INET6, "fd00:ec2::23", &pod_identity) != 1)
		return 0;
	return IN6_IS_ADDR_LOOPBACK(&v6) || memcmp(&v6, &pod_identity, sizeof v6) == 0;
}

/* Resolves the container-credentials URL: the full URI, or the relative one under container_base. */
static int
container_url(struct aws *a, char *err, size_t errlen)
{
	char e[256];

	if (a->container_rel[0] != '\0' &&
	    util_snprintf(a->container_url_str, sizeof a->container_url_str, "%s%s%s", a->container_base,
	    a->container_rel[0] == '/' ? "" : "/", a->container_rel) < 0) {
		util_fmt(err, errlen, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is too long");
		return -1;
	}
	if (url_parse(a->container_url_str, &a->container_url, e, sizeof e) < 0) {
		util_fmt(err, errlen, "container credentials URL: %s", e);
		return -1;
	}
	if (!a->container_url.tls && !aws_container_host_ok(a->container_url.host)) {
		util_fmt(err, errlen, "container credentials URL: plain http:// is only allowed to a "
		    "loopback IP address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23, not %s",
		    a->container_url.host);
		return -1;
	}
	return 0;
}

static int
init_source(struct aws *a, char *const *envp, char *err, size_t errlen)
{
	const char *ak = util_env(envp, "AWS_ACCESS_KEY_ID"), *sk = util_env(envp, "AWS_SECRET_ACCESS_KEY");
	const char *arn = util_env(envp, "AWS_ROLE_ARN"), *tf = util_env(envp, "AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *full = util_env(envp, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *rel = util_env(envp, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	char e[256];

	if (ak != NULL || sk != NULL) {
		if (ak == NULL || sk == NULL) {
			util_fmt(err, errlen, "%s is set but %s is not",
			    ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
			    ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
			return -1;
		}
		a->source = AWS_CRED_ENV;
		return env_copy(envp, "AWS_ACCESS_KEY_ID", a->env_key, sizeof a->env_key, err, errlen) < 0 ||
		    env_copy(envp, "AWS_SECRET_ACCESS_KEY", a->env_secret, sizeof a->env_secret, err, errlen) < 0 ||
		    env_copy(envp, "AWS_SESSION_TOKEN", a->env_token, sizeof a->env_token, err, errlen) < 0 ? -1 : 0;
	}
	if (arn != NULL || tf != NULL) {
		if (arn == NULL || tf == NULL) {
			util_fmt(err, errlen, "%s is set but %s is not (web identity needs both)",
			    arn ? "AWS_ROLE_ARN" : "AWS_WEB_IDENTITY_TOKEN_FILE",
			    arn ? "AWS_WEB_IDENTITY_TOKEN_FILE" : "AWS_ROLE_ARN");
			return -1;
		}
		a->source = AWS_CRED_WEB_IDENTITY;
		if (env_copy(envp, "AWS_ROLE_ARN", a->role_arn, sizeof a->role_arn, err, errlen) < 0 ||
		    env_copy(envp, "AWS_WEB_IDENTITY_TOKEN_FILE", a->token_file, sizeof a->token_file, err, errlen) < 0 ||
		    env_copy(envp, "AWS_ROLE_SESSION_NAME", a->session_name, sizeof a->session_name, err, errlen) < 0)
			return -1;
		return 0;
	}
	if (full != NULL || rel != NULL) {
		a->source = AWS_CRED_CONTAINER;
		if (full != NULL) {
			if (util_strlcpy(a->container_url_str, full, sizeof a->container_url_str) < 0) {
				util_fmt(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI is too long");
				return -1;
			}
		} else if (util_strlcpy(a->container_rel, rel, sizeof a->container_rel) < 0) {
			util_fmt(err, errlen, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is too long");
			return -1;
		}
		if (container_url(a, err, errlen) < 0)
			return -1;
		return env_copy(envp, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", a->container_token_file,
		    sizeof a->container_token_file, err, errlen) < 0 ||
		    env_copy(envp, "AWS_CONTAINER_AUTHORIZATION_TOKEN", a->container_token,
		    sizeof a->container_token, err, errlen) < 0 ? -1 : 0;
	}
	a->source = AWS_CRED_IMDS;
	if (imds_init(&a->imds, a->cfg, a->lg, e, sizeof e) < 0) {
		util_fmt(err, errlen, "IMDS for credentials: %s", e);
		return -1;
	}
	a->imds_ready = 1;
	return 0;
}

int
aws_init(struct aws *a, const struct config *cfg, const struct log *lg,
    char *const *envp, const char *region, char *err, size_t errlen)
{
	char e[512];

	memset(a, 0, sizeof *a);
	a->cfg = cfg;
	a->lg = lg;
	a->container_base = AWS_CONTAINER_BASE;
	if (region == NULL || region[0] == '\0') {
		util_fmt(err, errlen, "no AWS region (set region, AWS_REGION or AWS_DEFAULT_REGION)");
		return -1;
	}
	if (util_strlcpy(a->region, region, sizeof a->region) < 0 ||
	    aws_endpoint_host("sts", region, e, sizeof e) < 0) {
		util_fmt(err, errlen, "bad AWS region \"%s\"", region);
		return -1;
	}
	if (set_endpoint(&a->asg_url, a->asg_hostport, sizeof a->asg_hostport, cfg->asg_endpoint,
	    "autoscaling", region, err, errlen) < 0 ||
	    set_endpoint(&a->sts_url, a->sts_hostport, sizeof a->sts_hostport, cfg->sts_endpoint,
	    "sts", region, err, errlen) < 0)
		return -1;
	if (http_proxy_from_env(&a->proxy, envp, e, sizeof e) < 0) {
		util_fmt(err, errlen, "proxy: %s", e);
		return -1;
	}
	a->tls = tls_config_new();
	if (a->tls == NULL) {
		util_fmt(err, errlen, "out of memory");
		return -1;
	}
	if (cfg->aws_ca_file[0] != '\0') {
		if (tls_config_add_pem_file(a->tls, cfg->aws_ca_file, e, sizeof e) < 0) {
			util_fmt(err, errlen, "aws_ca_file: %s", e);
			goto fail;
		}
	} else {
		tls_config_add_amazon_roots(a->tls);
	}
	http_client_init(&a->hc, a->tls, &a->proxy);
	http_client_init(&a->hc_local, a->tls, NULL);
	if (init_source(a, envp, err, errlen) < 0)
		goto fail;
	log_info(lg, "aws: region %s, Auto Scaling at %s%s, credentials from %s%s", a->region,
	    a->asg_hostport, a->asg_url.tls ? "" : " (plain HTTP)", aws_cred_source_name(a->source),
	    cfg->dry_run ? " (dry run: no DetachInstances)" : "");
	return 0;
fail:
	tls_config_free(a->tls);
	a->tls = NULL;
	util_wipe(a->env_secret, sizeof a->env_secret);
	util_wipe(a->env_token, sizeof a->env_token);
	util_wipe(a->container_token, sizeof a->container_token);
	return -1;
}

void
aws_close(struct aws *a)
{
	http_client_close(&a->hc);
	http_client_close(&a->hc_local);
	if (a->imds_ready)
		imds_close(&a->imds);
	a->imds_ready = 0;
	tls_config_free(a->tls);
	a->tls = NULL;
	util_wipe(&a->creds, sizeof a->creds);
	util_wipe(a->env_secret, sizeof a->env_secret);
	util_wipe(a->env_token, sizeof a->env_token);
	util_wipe(a->container_token, sizeof a->container_token);
	util_wipe(a->req_body, sizeof a->req_body);
	util_wipe(a->resp_body, sizeof a->resp_body);
	util_wipe(a->file_buf, sizeof a->file_buf);
	sigv4_wipe(&a->sig);
}

/* ---- One call, with its retries -------------------------------------------- */

/* The wall clock as AWS sees it. */
static int64_t
aws_now_s(const struct aws *a)
{
	return util_wall_ms() / 1000 + a->skew_s;
}

struct call {
	const char *name;                 /* for messages: "DescribeAutoScalingInstances" */
	const char *method;
	const struct url *url;
	const char *host;                 /* the Host header, signed; NULL: http.c's own */
	struct http_client *hc;
	const char *service;              /* SigV4 service, or NULL: unsigned */
	int idempotent;
	/* Fills a->req_body (and the length) before each attempt; may re-read a file. */
	int (*build)(struct aws *a, const struct call *c, size_t *len, char *err, size_t errlen);
	/* Reads a 200's body (into c->result); a body it cannot read is retried like a 5xx. */
	int (*check)(struct aws *a, const struct call *c, char *err, size_t errlen);
	/* The request's arguments, for build and check (NULL where unused). */
	const char *instance;             /* the instance to describe or detach */
	const char *group;                /* its Auto Scaling group, for the detach */
	struct aws_detach_result *result; /* attempts counted; group and state filled by Describe */
	const char *auth;                 /* an Authorization header to send as is (container), or NULL */

	/* The last answer that was not a good 200. */
	int permanent;                    /* aws_do gave up on a permanent error, not the deadline */
	int status;
	char code[128];
	char message[512];
};

/* Reads AWS's error code and message from an XML ErrorResponse or a JSON error body. */
static void
parse_error(struct aws *a, struct call *c)
{
	const char *b = a->resp.body;
	size_t len = a->resp.body_len;
	struct json_tok toks[64];
	struct json_doc d;
	char e[128];
	int i;

	c->code[0] = c->message[0] = '\0';
	if (xml_text(b, len, "Error/Code", c->code, sizeof c->code, e, sizeof e) >= 0) {
		if (xml_text(b, len, "Error/Message", c->message, sizeof c->message, e, sizeof e) < 0)
			c->message[0] = '\0';
		return;
	}
	c->code[0] = '\0';
	if (json_parse(&d, b, len, toks, 64, e, sizeof e) < 0 || d.ntoks < 1 || toks[0].type != JSON_OBJECT)
		return;
	i = json_get(&d, 0, "code");
	if (i < 0)
		i = json_get(&d, 0, "Code");
	if (i < 0 || json_str(&d, i, c->code, sizeof c->code) < 0)
		c->code[0] = '\0';
	i = json_get(&d, 0, "message");
	if (i < 0)
		i = json_get(&d, 0, "Message");
	if (i < 0 || json_str(&d, i, c->message, sizeof c->message) < 0)
		c->message[0] = '\0';
}

/* Replaces control characters so that a peer's text cannot forge log lines. */
static void
sanitize(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			*s = ' ';
}

static void
describe_failure(const struct call *c, char *buf, size_t n)
{
	if (c->code[0] != '\0' && c->message[0] != '\0')
		util_fmt(buf, n, "%s: %s: %s (HTTP %d)", c->name, c->code, c->message, c->status);
	else if (c->code[0] != '\0')
		util_fmt(buf, n, "%s: %s (HTTP %d)", c->name, c->code, c->status);
	else
		util_fmt(buf, n, "%s: HTTP %d", c->name, c->status);
}

/* Learns AWS's clock from the response's Date header. */
static void
resync_clock(struct aws *a)
{
	const char *d;
	size_t dlen;
	int64_t server_s;

	d = http_header(&a->resp, "Date", &dlen);
	if (d == NULL || util_parse_http_date(d, dlen, &server_s) < 0) {
		log_warning(a->lg, "aws: AWS says the request time is off, but sent no usable Date header");
		return;
	}
	a->skew_s = server_s - util_wall_ms() / 1000;
	log_warning(a->lg, "aws: the local clock is %lld s %s AWS's; signing with AWS's time from now on",
	    (long long)(a->skew_s < 0 ? -a->skew_s : a->skew_s), a->skew_s < 0 ? "ahead of" : "behind");
}

/* Equal jitter: half the backoff, plus a random part of the other half. */
static int64_t
jitter(int64_t backoff)
{
	return backoff / 2 + (int64_t)(util_random() % (uint32_t)(backoff / 2 + 1));
}

/* Adds SigV4 headers for the body in a->req_body to h at *nh. Returns 0 or -1 with err. */
static int
sign(struct aws *a, const struct call *c, size_t body_len, struct http_header *h, int *nh,
    char *err, size_t errlen)
{
	struct sigv4_header sh[2];
	struct sigv4_request sreq;
	struct sigv4_credentials sc;

	sh[0].name = "Host";
	sh[0].value = c->host;
	sh[1].name = "Content-Type";
	sh[1].value = FORM_TYPE;
	sreq.method = c->method;
	sreq.path = c->url->path;
	sreq.query = NULL;
	sreq.headers = sh;
	sreq.nheaders = 2;
	sreq.body = a->req_body;
	sreq.body_len = body_len;
	sc.access_key_id = a->creds.access_key_id;
	sc.secret_access_key = a->creds.secret_access_key;
	sc.session_token = a->creds.session_token;
	if (sigv4_sign(&sreq, &sc, a->region, c->service, aws_now_s(a), &a->sig, err, errlen) < 0)
		return -1;
	h[*nh].name = "X-Amz-Date";
	h[(*nh)++].value = a->sig.amz_date;
	if (a->creds.session_token[0] != '\0') {
		h[*nh].name = "X-Amz-Security-Token";
		h[(*nh)++].value = a->creds.session_token;
	}
	h[*nh].name = "Authorization";
	h[(*nh)++].value = a->sig.authorization;
	return 0;
}

/* The retry state of one aws_do. */
struct tries {
	int n, refreshes, resyncs;
	int64_t backoff;
	char last[768];                   /* the last failure, for the final error */
	char logged[128];                 /* the last failure logged, for the rate limit */
};

/* What an attempt calls for next. */
enum step {
	STEP_DONE,                        /* a good 200: the body is in a->resp */
	STEP_FAIL,                        /* a local error (in err): no point retrying */
	STEP_AGAIN,                       /* at once: new credentials or a new clock */
	STEP_RETRY,                       /* after a back-off */
	STEP_PERMANENT                    /* AWS said no for good */
};

/*
 * Builds the request of c: the body into a->req_body, the headers into h
 * (6 entries), signed if c->service. Returns 0 or -1 with err.
 */
static int
request_build(struct aws *a, const struct call *c, struct http_header *h, struct http_request *req,
    char *err, size_t errlen)
{
	size_t body_len = 0;
	char e[512];
	int nh = 0;

	if (c->build(a, c, &body_len, e, sizeof e) < 0) {
		util_fmt(err, errlen, "%s: %s", c->name, e);
		return -1;
	}
	if (c->host != NULL) {
		h[nh].name = "Host";
		h[nh++].value = c->host;
	}
	if (strcmp(c->method, "POST") == 0) {
		h[nh].name = "Content-Type";
		h[nh++].value = FORM_TYPE;
	}
	if (c->auth != NULL) {
		h[nh].name = "Authorization";
		h[nh++].value = c->auth;
	}
	if (c->service != NULL && sign(a, c, body_len, h, &nh, e, sizeof e) < 0) {
		util_fmt(err, errlen, "%s: signing: %s", c->name, e);
		return -1;
	}
	memset(req, 0, sizeof *req);
	req->method = c->method;
	req->url = c->url;
	req->headers = h;
	req->nheaders = (size_t)nh;
	req->body = body_len > 0 ? a->req_body : NULL;
	req->body_len = body_len;
	req->idempotent = c->idempotent;
	return 0;
}

/* What AWS's error answer (already in c->status) calls for; t->last says what it was. */
static enum step
judge_error(struct aws *a, struct call *c, struct tries *t)
{
	parse_error(a, c);
	sanitize(c->code);
	sanitize(c->message);
	describe_failure(c, t->last, sizeof t->last);
	switch (aws_classify(c->status, c->code, c->message)) {
	case AWS_RESYNC:
		if (++t->resyncs > AWS_MAX_RESYNCS)
			return STEP_PERMANENT;
		resync_clock(a);
		return STEP_AGAIN;
	case AWS_REFRESH:
		if (c->service == NULL)
			return STEP_RETRY;      /* unsigned (STS): the next attempt re-reads the token */
		if (++t->refreshes > AWS_MAX_REFRESHES)
			return STEP_PERMANENT;
		log_warning(a->lg, "aws: %s; fetching new credentials", t->last);
		a->creds.valid = 0;
		return STEP_AGAIN;
	case AWS_RETRY:
		return STEP_RETRY;
	case AWS_PERMANENT:
		break;
	}
	return STEP_PERMANENT;
}

/* One attempt of c, begun at now: credentials, request, answer. */
static enum step
attempt(struct aws *a, struct call *c, struct tries *t, int64_t now, int64_t deadline_ms,
    char *err, size_t errlen)
{
	struct http_header h[6];
	struct http_request req;
	char e[512];
	int r;

	/* Credentials first: fetching them uses the request buffers too. */
	if (c->service != NULL && aws_credentials(a, 0, deadline_ms, e, sizeof e) < 0) {
		util_fmt(t->last, sizeof t->last, "%s: credentials: %s", c->name, e);
		return a->cred_permanent ? STEP_PERMANENT : STEP_RETRY;
	}
	if (request_build(a, c, h, &req, err, errlen) < 0)
		return STEP_FAIL;
	a->resp.body = a->resp_body;
	a->resp.body_cap = sizeof a->resp_body;
	t->n++;
	a->requests++;
	if (c->result != NULL)
		c->result->attempts++;
	r = http_do(c->hc, &req, &a->resp, now + AWS_ATTEMPT_MS < deadline_ms ? now + AWS_ATTEMPT_MS :
	    deadline_ms, e, sizeof e);
	metrics_api(a->metrics, MEP_AWS, r < 0 ? -1 : a->resp.status);
	sigv4_wipe(&a->sig);
	log_debug(a->lg, "aws: %s %s://%s%s %s: %s%d in %lld ms (attempt %d)", c->method,
	    c->url->tls ? "https" : "http", c->url->host, c->url->path, c->name,
	    r < 0 ? "failed, " : "HTTP ", r < 0 ? 0 : a->resp.status, (long long)(util_now_ms() - now), t->n);
	if (r < 0) {
		util_fmt(t->last, sizeof t->last, "%s: %s", c->name, e);
		return STEP_RETRY;
	}
	c->status = a->resp.status;
	if (a->resp.status != 200)
		return judge_error(a, c, t);
	if (c->check(a, c, e, sizeof e) == 0)
		return STEP_DONE;
	util_fmt(t->last, sizeof t->last, "%s: unreadable response: %s", c->name, e);
	return STEP_RETRY;
}

/* Waits out the back-off after t->last. Returns 0, or -1 with err if the deadline would pass. */
static int
back_off(struct aws *a, const struct call *c, struct tries *t, int64_t deadline_ms, char *err, size_t errlen)
{
	int64_t wait = jitter(t->backoff);

	if (util_now_ms() + wait >= deadline_ms) {
		util_fmt(err, errlen, "%s: deadline reached after %d attempt%s; last: %s", c->name, t->n,
		    t->n == 1 ? "" : "s", t->last);
		return -1;
	}
	/* The same fault again is rate-limited; a different one is always told. */
	if (strncmp(t->logged, t->last, sizeof t->logged - 1) != 0) {
		log_limit_reset(&a->ll);
		util_fmt(t->logged, sizeof t->logged, "%.*s", (int)sizeof t->logged - 1, t->last);
	}
	log_limited(a->lg, &a->ll, 5000, LV_WARNING, "aws: %s (attempt %d; retrying in %lld ms)",
	    t->last, t->n, (long long)wait);
	util_sleep_ms(wait);
	t->backoff = t->backoff * 2 > AWS_BACKOFF_MAX_MS ? AWS_BACKOFF_MAX_MS : t->backoff * 2;
	return 0;
}

/*
 * Makes the call c until AWS answers a 200 that c->check can read
 * (returns 0, the body in a->resp), a permanent error (c->permanent set),
 * or the deadline (-1 with err, which names the call and AWS's code and
 * message).
 */
static int
aws_do(struct aws *a, struct call *c, int64_t deadline_ms, char *err, size_t errlen)
{
	struct tries t;
	int64_t now;

	memset(&t, 0, sizeof t);
	t.backoff = AWS_BACKOFF_MIN_MS;
	c->status = 0;
	c->code[0] = c->message[0] = '\0';
	for (;;) {
		if ((now = util_now_ms()) >= deadline_ms) {
			util_fmt(err, errlen, "%s: deadline reached after %d attempt%s%s%s", c->name, t.n,
			    t.n == 1 ? "" : "s", t.last[0] ? "; last: " : "", t.last);
			return -1;
		}
		switch (attempt(a, c, &t, now, deadline_ms, err, errlen)) {
		case STEP_DONE:
			return 0;
		case STEP_FAIL:
			return -1;
		case STEP_AGAIN:
			break;
		case STEP_RETRY:
			if (back_off(a, c, &t, deadline_ms, err, errlen) < 0)
				return -1;
			break;
		case STEP_PERMANENT:
			c->permanent = 1;
			util_fmt(err, errlen, "%s", t.last);
			return -1;
		}
	}
}

/* ---- Request bodies ---------------------------------------------------------- */

#define AWS_ASG_VERSION "2011-01-01"   /* the Auto Scaling Query API's version */

static void
form_add(struct util_buf *f, const char *name, const char *value)
{
	util_buf_fmt(f, "%s%s=", f->len ? "&" : "", name);
	url_buf_encode(f, value, strlen(value), 0);
}

/* Starts a->req_body as the form of a Query API call: its Action and API Version. */
static void
form_start(struct aws *a, struct util_buf *f, const char *action, const char *version)
{
	util_buf_init(f, a->req_body, sizeof a->req_body);
	form_add(f, "Action", action);
	form_add(f, "Version", version);
}

static int
form_done(const struct util_buf *f, size_t *len, char *err, size_t errlen)
{
	if (f->over) {
		util_fmt(err, errlen, "request body over %zu bytes", f->cap - 1);
		return -1;
	}
	*len = f->len;
	return 0;
}

static int
build_describe(struct aws *a, const struct call *c, size_t *len, char *err, size_t errlen)
{
	struct util_buf f;

	form_start(a, &f, "DescribeAutoScalingInstances", AWS_ASG_VERSION);
	form_add(&f, "InstanceIds.member.1", c->instance);
	return form_done(&f, len, err, errlen);
}

static int
build_detach(struct aws *a, const struct call *c, size_t *len, char *err, size_t errlen)
{
	struct util_buf f;

	form_start(a, &f, "DetachInstances", AWS_ASG_VERSION);
	form_add(&f, "AutoScalingGroupName", c->group);
	form_add(&f, "InstanceIds.member.1", c->instance);
	form_add(&f, "ShouldDecrementDesiredCapacity", "false");
	return form_done(&f, len, err, errlen);
}

/* Reads a token file into a->file_buf, trimmed. Returns its length or -1. */
static int
read_token_file(struct aws *a, const char *what, const char *path, char *err, size_t errlen)
{
	size_t len;
	const char *t;
	char e[256];

	if (util_read_file(path, a->file_buf, sizeof a->file_buf, &len, e, sizeof e) < 0) {
		util_fmt(err, errlen, "%s: %s", what, e);
		return -1;
	}
	t = util_trim(a->file_buf, &len);
	memmove(a->file_buf, t, len);
	a->file_buf[len] = '\0';
	if (len == 0) {
		util_fmt(err, errlen, "%s %s is empty", what, path);
		return -1;
	}
	return (int)len;
}

static int
build_assume(struct aws *a, const struct call *c, size_t *len, char *err, size_t errlen)
{
	struct util_buf f;
	char session[80];

	(void)c;
	/* The kubelet rotates the projected token: read it afresh for every request. */
	if (read_token_file(a, "web identity token file", a->token_file, err, errlen) < 0)
		return -1;
	if (a->session_name[0] != '\0')
		util_strlcpy(session, a->session_name, sizeof session);
	else
		util_fmt(session, sizeof session, "despotify-%lld", (long long)(util_wall_ms() / 1000));
	form_start(a, &f, "AssumeRoleWithWebIdentity", "2011-06-15");
	form_add(&f, "RoleArn", a->role_arn);
	form_add(&f, "RoleSessionName", session);
	form_add(&f, "WebIdentityToken", a->file_buf);
	util_wipe(a->file_buf, sizeof a->file_buf);
	return form_done(&f, len, err, errlen);
}

static int
build_nothing(struct aws *a, const struct call *c, size_t *len, char *err, size_t errlen)
{
	(void)a;
	(void)c;
	(void)err;
	(void)errlen;
	*len = 0;
	return 0;
}

/* ---- Reading answers ---------------------------------------------------------- */

/* Copies an XML value into dst; missing, empty, too long or malformed is an error. */
static int
xml_need(struct aws *a, const char *path, char *dst, size_t n, char *err, size_t errlen)
{
	char e[256];
	int r = xml_text(a->resp.body, a->resp.body_len, path, dst, n, e, sizeof e);

	if (r == XML_NOT_FOUND || r == 0) {
		util_fmt(err, errlen, "no %s", path);
		return -1;
	}
	if (r < 0) {
		util_fmt(err, errlen, "%s", e);
		return -1;
	}
	return 0;
}

static int
root_is(struct aws *a, const char *want, char *err, size_t errlen)
{
	char root[64], e[256];

	if (xml_root(a->resp.body, a->resp.body_len, root, sizeof root, e, sizeof e) < 0) {
		util_fmt(err, errlen, "%s", e);
		return -1;
	}
	if (strcmp(root, want) != 0) {
		util_fmt(err, errlen, "<%s> where <%s> was expected", root, want);
		return -1;
	}
	return 0;
}

/* Sets a->fetched's expiration from an RFC 3339 time. */
static int
set_expiration(struct aws *a, const char *t, char *err, size_t errlen)
{
	size_t len = strlen(t);
	const char *p = util_trim(t, &len);

	if (util_parse_time(p, len, &a->fetched.expiration_s) < 0) {
		util_fmt(err, errlen, "Expiration is not a time");
		return -1;
	}
	return 0;
}

static int
check_assume(struct aws *a, const struct call *c, char *err, size_t errlen)
{
	struct aws_creds *cr = &a->fetched;
	char exp[64];

	(void)c;
	if (root_is(a, "AssumeRoleWithWebIdentityResponse", err, errlen) < 0 ||
	    xml_need(a, "AssumeRoleWithWebIdentityResult/Credentials/AccessKeyId", cr->access_key_id,
	    sizeof cr->access_key_id, err, errlen) < 0 ||
	    xml_need(a, "AssumeRoleWithWebIdentityResult/Credentials/SecretAccessKey", cr->secret_access_key,
	    sizeof cr->secret_access_key, err, errlen) < 0 ||
	    xml_need(a, "AssumeRoleWithWebIdentityResult/Credentials/SessionToken", cr->session_token,
	    sizeof cr->session_token, err, errlen) < 0 ||
	    xml_need(a, "AssumeRoleWithWebIdentityResult/Credentials/Expiration", exp, sizeof exp,
	    err, errlen) < 0)
		return -1;
	return set_expiration(a, exp, err, errlen);
}

static int
json_need(const struct json_doc *d, const char *key, char *dst, size_t n, char *err, size_t errlen)
{
	int i = json_get(d, 0, key);

	if (i < 0 || json_str(d, i, dst, n) <= 0) {
		util_fmt(err, errlen, "%s missing, not a string, or too long", key);
		return -1;
	}
	return 0;
}

static int
check_container(struct aws *a, const struct call *c, char *err, size_t errlen)
{
	struct aws_creds *cr = &a->fetched;
	struct json_tok toks[64];
	struct json_doc d;
	char exp[64];

	(void)c;
	if (json_parse(&d, a->resp.body, a->resp.body_len, toks, 64, err, errlen) < 0)
		return -1;
	if (d.ntoks < 1 || toks[0].type != JSON_OBJECT) {
		util_fmt(err, errlen, "not a JSON object");
		return -1;
	}
	if (json_need(&d, "AccessKeyId", cr->access_key_id, sizeof cr->access_key_id, err, errlen) < 0 ||
	    json_need(&d, "SecretAccessKey", cr->secret_access_key, sizeof cr->secret_access_key, err, errlen) < 0 ||
	    json_need(&d, "Token", cr->session_token, sizeof cr->session_token, err, errlen) < 0 ||
	    json_need(&d, "Expiration", exp, sizeof exp, err, errlen) < 0)
		return -1;
	return set_expiration(a, exp, err, errlen);
}

/*
 * A Describe answer: a list with this instance, or an empty list. Stores
 * the instance's group and state, sanitized, in c->result (both empty: the
 * instance is in no group, or the answer was unreadable).
 */
static int
check_describe(struct aws *a, const struct call *c, char *err, size_t errlen)
{
	struct aws_detach_result *r = c->result;
	char id[IMDS_MAX_FACT], e[256];
	int n;

	r->group[0] = r->state[0] = '\0';
	if (root_is(a, "DescribeAutoScalingInstancesResponse", err, errlen) < 0)
		return -1;
	n = xml_count(a->resp.body, a->resp.body_len, "DescribeAutoScalingInstancesResult/AutoScalingInstances",
	    e, sizeof e);
	if (n != 1) {
		util_fmt(err, errlen, "no AutoScalingInstances list");
		return -1;
	}
	n = xml_count(a->resp.body, a->resp.body_len, "AutoScalingInstances/member", e, sizeof e);
	if (n == 0)
		return 0;
	if (xml_need(a, "AutoScalingInstances/member/InstanceId", id, sizeof id, err, errlen) < 0 ||
	    xml_need(a, "AutoScalingInstances/member/AutoScalingGroupName", r->group, sizeof r->group,
	    err, errlen) < 0 ||
	    xml_need(a, "AutoScalingInstances/member/LifecycleState", r->state, sizeof r->state,
	    err, errlen) < 0) {
		r->group[0] = r->state[0] = '\0';
		return -1;
	}
	if (strcmp(id, c->instance) != 0) {
		util_fmt(err, errlen, "the answer is about another instance");
		r->group[0] = r->state[0] = '\0';
		return -1;
	}
	sanitize(r->group);
	sanitize(r->state);
	return 0;
}

static int
check_detach(struct aws *a, const struct call *c, char *err, size_t errlen)
{
	(void)c;
	return root_is(a, "DetachInstancesResponse", err, errlen);
}

/* ---- Credentials ------------------------------------------------------------ */

/*
 * Runs a credentials call and wipes what it read: the answer and used (the
 * buffer the request came from). Returns what aws_do returned.
 */
static int
cred_do(struct aws *a, struct call *c, void *used, size_t used_len, int64_t deadline_ms,
    char *err, size_t errlen)
{
	int rc = aws_do(a, c, deadline_ms, err, errlen);

	a->cred_permanent = c->permanent;
	util_wipe(used, used_len);
	util_wipe(a->resp_body, sizeof a->resp_body);
	return rc;
}

static int
fetch_web_identity(struct aws *a, int64_t deadline_ms, char *err, size_t errlen)
{
	struct call call = {
		.name = "sts:AssumeRoleWithWebIdentity", .method = "POST", .url = &a->sts_url,
		.host = a->sts_hostport, .hc = &a->hc, .idempotent = 1,
		.build = build_assume, .check = check_assume,
	};

	return cred_do(a, &call, a->req_body, sizeof a->req_body, deadline_ms, err, errlen);
}

static int
fetch_container(struct aws *a, int64_t deadline_ms, char *err, size_t errlen)
{
	struct call call = {
		.name = "container credentials", .method = "GET", .url = &a->container_url,
		.hc = &a->hc_local, .idempotent = 1,
		.build = build_nothing, .check = check_container,
	};

	if (container_url(a, err, errlen) < 0)
		return -1;
	if (a->container_token_file[0] != '\0') {
		/* Re-read each time: the EKS Pod Identity token rotates. */
		if (read_token_file(a, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", a->container_token_file,
		    err, errlen) < 0)
			return -1;
		call.auth = a->file_buf;
	} else if (a->container_token[0] != '\0') {
		call.auth = a->container_token;
	}
	return cred_do(a, &call, a->file_buf, sizeof a->file_buf, deadline_ms, err, errlen);
}

static int
fetch_imds(struct aws *a, int64_t deadline_ms, char *err, size_t errlen)
{
	struct aws_creds *c = &a->fetched;
	struct imds_creds ic;
	int rc = -1;

	memset(&ic, 0, sizeof ic);
	if (imds_role_credentials(&a->imds, &ic, deadline_ms, err, errlen) < 0)
		goto out;
	if (util_strlcpy(c->access_key_id, ic.access_key_id, sizeof c->access_key_id) < 0 ||
	    util_strlcpy(c->secret_access_key, ic.secret_access_key, sizeof c->secret_access_key) < 0 ||
	    util_strlcpy(c->session_token, ic.token, sizeof c->session_token) < 0) {
		util_fmt(err, errlen, "IMDS role credentials too long");
		goto out;
	}
	c->expiration_s = ic.expiration_s;
	rc = 0;
out:
	util_wipe(&ic, sizeof ic);
	return rc;
}

int
aws_credentials(struct aws *a, int force, int64_t deadline_ms, char *err, size_t errlen)
{
	struct aws_creds *c = &a->fetched;
	int64_t now = aws_now_s(a), life, margin;
	int r = -1;
	char when[32];

	if (!force && a->creds.valid && (a->creds.refresh_s == 0 || now < a->creds.refresh_s))
		return 0;
	a->cred_permanent = 0;
	util_wipe(c, sizeof *c);
	switch (a->source) {
	case AWS_CRED_ENV:
		util_strlcpy(c->access_key_id, a->env_key, sizeof c->access_key_id);
		util_strlcpy(c->secret_access_key, a->env_secret, sizeof c->secret_access_key);
		util_strlcpy(c->session_token, a->env_token, sizeof c->session_token);
		r = 0;
		break;
	case AWS_CRED_WEB_IDENTITY:
		r = fetch_web_identity(a, deadline_ms, err, errlen);
		break;
	case AWS_CRED_CONTAINER:
		r = fetch_container(a, deadline_ms, err, errlen);
		break;
	case AWS_CRED_IMDS:
		r = fetch_imds(a, deadline_ms, err, errlen);
		break;
	}
	if (r < 0) {
		metrics_inc(a->metrics, M_CRED_AWS_ERROR);
		util_wipe(c, sizeof *c);
		/* Credentials that have not expired yet still serve while a refresh fails. */
		if (!force && a->creds.valid && (a->creds.expiration_s == 0 || now + 10 < a->creds.expiration_s)) {
			log_limited(a->lg, &a->ll, 60000, LV_WARNING,
			    "aws: refreshing credentials failed (%s); using the current ones until %s", err,
			    util_fmt_time(when, sizeof when, a->creds.expiration_s));
			return 0;
		}
		util_wipe(&a->creds, sizeof a->creds);
		return -1;
	}
	if (c->expiration_s != 0) {
		/* Refresh AWS_CRED_REFRESH_S early, or at half the lifetime if that is sooner. */
		life = c->expiration_s - now;
		margin = life / 2 < AWS_CRED_REFRESH_S ? life / 2 : AWS_CRED_REFRESH_S;
		c->refresh_s = c->expiration_s - (margin > 0 ? margin : 0);
	}
	c->valid = 1;
	a->cred_fetches++;
	metrics_inc(a->metrics, M_CRED_AWS_OK);
	if (a->source != AWS_CRED_ENV)
		log_info(a->lg, "aws: credentials from %s%s%s", aws_cred_source_name(a->source),
		    c->expiration_s ? ", valid until " : "",
		    c->expiration_s ? util_fmt_time(when, sizeof when, c->expiration_s) : "");
	a->creds = *c;
	util_wipe(c, sizeof *c);
	return 0;
}

/* ---- Detach ------------------------------------------------------------------- */

/* aws_detach counts its outcome as M_DETACH_DETACHED + outcome. */
_Static_assert(M_DETACH_FAILED - M_DETACH_DETACHED == AWS_FAILED - AWS_DETACHED &&
    M_DETACH_DRY_RUN - M_DETACH_DETACHED == AWS_DRY_RUN - AWS_DETACHED,
    "the detach counters follow enum aws_outcome");

/* An Auto Scaling call about instance, counted in r (which Describe fills). */
static void
asg_call(struct aws *a, struct call *c, const char *name,
    int (*build)(struct aws *, const struct call *, size_t *, char *, size_t),
    int (*check)(struct aws *, const struct call *, char *, size_t),
    int idempotent, const char *instance, struct aws_detach_result *r)
{
	*c = (struct call){
		.name = name, .method = "POST", .url = &a->asg_url, .host = a->asg_hostport,
		.hc = &a->hc, .service = "autoscaling", .idempotent = idempotent,
		.build = build, .check = check, .instance = instance, .result = r,
	};
}

/*
 * DescribeAutoScalingInstances for the instance: fills r->group and r->state
 * (both empty when the instance is in no group). Returns 0 or -1 with err.
 */
static int
describe(struct aws *a, const char *instance, int64_t deadline_ms, struct aws_detach_result *r,
    char *err, size_t errlen)
{
	struct call c;

	asg_call(a, &c, "DescribeAutoScalingInstances", build_describe, check_describe, 1, instance, r);
	if (aws_do(a, &c, deadline_ms, err, errlen) < 0) {
		r->group[0] = r->state[0] = '\0';
		return -1;
	}
	return 0;
}

/*
 * Describes the instance until it is in a state that allows a detach
 * (returns 1), in none or already leaving (0, r->outcome set), or the
 * deadline or an error (-1, r->error set).
 */
static int
wait_detachable(struct aws *a, const char *instance, int64_t deadline_ms, struct aws_detach_result *r)
{
	char err[1024];

	for (;;) {
		if (describe(a, instance, deadline_ms, r, err, sizeof err) < 0) {
			util_fmt(r->error, sizeof r->error, "%s", err);
			return -1;
		}
		if (r->group[0] == '\0') {
			r->outcome = AWS_NOT_IN_ASG;
			log_info(a->lg, "aws: instance %s is not in an Auto Scaling group; nothing to detach",
			    instance);
			return 0;
		}
		if (aws_state_leaving(r->state)) {
			r->outcome = AWS_ALREADY_LEAVING;
			log_info(a->lg, "aws: instance %s is already %s from Auto Scaling group %s; not detaching "
			    "it again", instance, r->state, r->group);
			return 0;
		}
		if (strcmp(r->state, "InService") == 0 || strcmp(r->state, "Standby") == 0)
			return 1;
		/* Pending, EnteringStandby, ...: passing states; look again shortly. */
		if (util_now_ms() + AWS_BACKOFF_MAX_MS >= deadline_ms) {
			util_fmt(r->error, sizeof r->error, "instance %s stayed %s in %s, a state that does not "
			    "allow a detach, until the deadline", instance, r->state, r->group);
			return -1;
		}
		log_limited(a->lg, &a->ll, 5000, LV_WARNING, "aws: instance %s is %s in %s; waiting for "
		    "InService or Standby to detach it", instance, r->state, r->group);
		util_sleep_ms(AWS_BACKOFF_MAX_MS / 2);
	}
}

/*
 * DetachInstances for the instance from r->group. Returns 0 (r->outcome
 * detached, or already leaving if a lost earlier attempt or someone else
 * got there first) or -1 with r->error.
 */
static int
detach(struct aws *a, const char *instance, int64_t deadline_ms, struct aws_detach_result *r)
{
	struct call c;
	char err[1024], e[256], group[sizeof r->group];

	util_strlcpy(group, r->group, sizeof group);
	asg_call(a, &c, "DetachInstances", build_detach, check_detach, 0, instance, r);
	c.group = group;
	if (aws_do(a, &c, deadline_ms, err, sizeof err) < 0) {
		/*
		 * A ValidationError may mean that an earlier attempt went through
		 * (its answer was lost) or that someone else got there first: ask.
		 */
		if (c.status == 400 && strcmp(c.code, "ValidationError") == 0 &&
		    describe(a, instance, deadline_ms, r, e, sizeof e) == 0 &&
		    (r->group[0] == '\0' || aws_state_leaving(r->state))) {
			r->outcome = AWS_ALREADY_LEAVING;
			if (r->group[0] == '\0') {
				util_strlcpy(r->group, group, sizeof r->group);
				util_strlcpy(r->state, "Detached", sizeof r->state);
			}
			log_info(a->lg, "aws: instance %s is already %s from Auto Scaling group %s (AWS said: %s)",
			    instance, r->state, r->group, err);
			return 0;
		}
		util_strlcpy(r->group, group, sizeof r->group);
		util_fmt(r->error, sizeof r->error, "%s", err);
		return -1;
	}
	if (xml_text(a->resp.body, a->resp.body_len, "DetachInstancesResult/Activities/member/ActivityId",
	    r->activity, sizeof r->activity, e, sizeof e) < 0)
		r->activity[0] = '\0';
	sanitize(r->activity);
	r->outcome = AWS_DETACHED;
	util_strlcpy(r->state, "Detaching", sizeof r->state);
	log_info(a->lg, "aws: detached instance %s from Auto Scaling group %s (activity %s); "
	    "its replacement is launching", instance, r->group, r->activity[0] ? r->activity : "?");
	return 0;
}

int
aws_detach(struct aws *a, const char *instance_id, int64_t deadline_ms, struct aws_detach_result *r)
{
	int64_t t0 = util_now_ms();
	int rc;

	memset(r, 0, sizeof *r);
	r->outcome = AWS_FAILED;
	if (instance_id == NULL || instance_id[0] == '\0') {
		util_fmt(r->error, sizeof r->error, "no instance id");
		rc = -1;
	} else if ((rc = wait_detachable(a, instance_id, deadline_ms, r)) > 0 && a->cfg->dry_run) {
		r->outcome = AWS_DRY_RUN;
		log_info(a->lg, "dry-run: would call DetachInstances AutoScalingGroupName=%s "
		    "InstanceIds.member.1=%s ShouldDecrementDesiredCapacity=false at %s://%s%s (instance is %s)",
		    r->group, instance_id, a->asg_url.tls ? "https" : "http", a->asg_hostport, a->asg_url.path,
		    r->state);
		rc = 0;
	} else if (rc > 0) {
		rc = detach(a, instance_id, deadline_ms, r);
	}
	if (rc < 0) {
		r->outcome = AWS_FAILED;
		log_error(a->lg, "aws: could not detach instance %s from its Auto Scaling group: %s",
		    instance_id ? instance_id : "?", r->error);
	}
	r->ms = util_now_ms() - t0;
	metrics_inc(a->metrics, (enum metric)(M_DETACH_DETACHED + (int)r->outcome));
	return r->outcome == AWS_FAILED ? -1 : 0;
}

/* ---- EKS token ------------------------------------------------------------------ */

int
aws_eks_token(struct aws *a, const char *cluster, int64_t deadline_ms, char *out, size_t cap,
    int64_t *signed_s, char *err, size_t errlen)
{
	struct sigv4_credentials cred;
	char e[512];
	int r;

	if (aws_credentials(a, 0, deadline_ms, e, sizeof e) < 0) {
		util_fmt(err, errlen, "EKS token: AWS credentials from %s: %s",
		    aws_cred_source_name(a->source), e);
		return -1;
	}
	cred.access_key_id = a->creds.access_key_id;
	cred.secret_access_key = a->creds.secret_access_key;
	cred.session_token = a->creds.session_token;
	*signed_s = aws_now_s(a);
	r = aws_eks_token_build(a->sts_hostport, a->sts_url.tls, cluster, a->region, &cred, *signed_s,
	    out, cap, err, errlen);
	a->requests++;
	return r;
}
