/* aws.c — see aws.h. */
#include "aws.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "tls.h"
#include "util.h"
#include "xml.h"

#define FORM_TYPE "application/x-www-form-urlencoded; charset=utf-8"

static void
wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

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
		k = snprintf(buf, n, "detached from %s", r->group);
		break;
	case AWS_NOT_IN_ASG:
		k = snprintf(buf, n, "not in an Auto Scaling group");
		break;
	case AWS_ALREADY_LEAVING:
		k = snprintf(buf, n, "already %s from %s", r->state, r->group);
		break;
	case AWS_DRY_RUN:
		k = snprintf(buf, n, "dry run (would detach from %s)", r->group);
		break;
	case AWS_FAILED:
		k = snprintf(buf, n, "FAILED: %s", r->error);
		break;
	}
	if (k >= 0 && (size_t)k < n && r->attempts > 2)
		snprintf(buf + k, n - (size_t)k, " after %d requests", r->attempts);
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
		snprintf(err, errlen, "EKS token: no cluster name");
		return -1;
	}
	if ((scratch = malloc(sizeof *scratch)) == NULL) {
		snprintf(err, errlen, "EKS token: out of memory");
		return -1;
	}
	if (util_snprintf(url, sizeof url, "%s://%s/?", https ? "https" : "http", sts_host) < 0) {
		snprintf(err, errlen, "EKS token: STS host too long");
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
		snprintf(err, errlen, "EKS token: over %zu bytes (a very long session token?)", cap - 1);
		wipe(out, cap);
		goto done;
	}
	r = 0;
done:
	wipe(url, sizeof url);
	sigv4_wipe(scratch);
	free(scratch);
	return r;
}

/* ---- Set-up ------------------------------------------------------------------ */

/* The value of NAME in envp, or NULL. An empty value counts as unset. */
static const char *
env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);

	if (envp == NULL)
		return NULL;
	for (; *envp != NULL; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return (*envp)[n + 1] != '\0' ? *envp + n + 1 : NULL;
	return NULL;
}

static int
env_copy(char *const *envp, const char *name, char *dst, size_t n, char *err, size_t errlen)
{
	const char *v = env_get(envp, name);

	dst[0] = '\0';
	if (v == NULL)
		return 0;
	if (util_strlcpy(dst, v, n) < 0) {
		snprintf(err, errlen, "%s is longer than %zu bytes", name, n - 1);
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
			snprintf(err, errlen, "no %s endpoint for region \"%s\"", service, region);
			return -1;
		}
		snprintf(s, sizeof s, "https://%s/", host);
		use = s;
	}
	if (url_parse(use, u, e, sizeof e) < 0) {
		snprintf(err, errlen, "%s endpoint: %s", service, e);
		return -1;
	}
	/* The Query API is always POST /; an override's path is the base of it. */
	if (strchr(u->path, '?') != NULL) {
		snprintf(err, errlen, "%s endpoint \"%s\": a query is not allowed", service, use);
		return -1;
	}
	if (http_host_header(u, hostport, hpn) < 0) {
		snprintf(err, errlen, "%s endpoint \"%s\": host too long", service, use);
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
		snprintf(err, errlen, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is too long");
		return -1;
	}
	if (url_parse(a->container_url_str, &a->container_url, e, sizeof e) < 0) {
		snprintf(err, errlen, "container credentials URL: %s", e);
		return -1;
	}
	if (!a->container_url.tls && !aws_container_host_ok(a->container_url.host)) {
		snprintf(err, errlen, "container credentials URL: plain http:// is only allowed to a "
		    "loopback IP address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23, not %s",
		    a->container_url.host);
		return -1;
	}
	return 0;
}

static int
init_source(struct aws *a, char *const *envp, char *err, size_t errlen)
{
	const char *ak = env_get(envp, "AWS_ACCESS_KEY_ID"), *sk = env_get(envp, "AWS_SECRET_ACCESS_KEY");
	const char *arn = env_get(envp, "AWS_ROLE_ARN"), *tf = env_get(envp, "AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *full = env_get(envp, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *rel = env_get(envp, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	char e[256];

	if (ak != NULL || sk != NULL) {
		if (ak == NULL || sk == NULL) {
			snprintf(err, errlen, "%s is set but %s is not",
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
			snprintf(err, errlen, "%s is set but %s is not (web identity needs both)",
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
				snprintf(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI is too long");
				return -1;
			}
		} else if (util_strlcpy(a->container_rel, rel, sizeof a->container_rel) < 0) {
			snprintf(err, errlen, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is too long");
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
		snprintf(err, errlen, "IMDS for credentials: %s", e);
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
		snprintf(err, errlen, "no AWS region (set region, AWS_REGION or AWS_DEFAULT_REGION)");
		return -1;
	}
	if (util_strlcpy(a->region, region, sizeof a->region) < 0 ||
	    aws_endpoint_host("sts", region, e, sizeof e) < 0) {
		snprintf(err, errlen, "bad AWS region \"%s\"", region);
		return -1;
	}
	if (set_endpoint(&a->asg_url, a->asg_hostport, sizeof a->asg_hostport, cfg->asg_endpoint,
	    "autoscaling", region, err, errlen) < 0 ||
	    set_endpoint(&a->sts_url, a->sts_hostport, sizeof a->sts_hostport, cfg->sts_endpoint,
	    "sts", region, err, errlen) < 0)
		return -1;
	if (http_proxy_from_env(&a->proxy, envp, e, sizeof e) < 0) {
		snprintf(err, errlen, "proxy: %s", e);
		return -1;
	}
	a->tls = tls_config_new();
	if (a->tls == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (cfg->aws_ca_file[0] != '\0') {
		if (tls_config_add_pem_file(a->tls, cfg->aws_ca_file, e, sizeof e) < 0) {
			snprintf(err, errlen, "aws_ca_file: %s", e);
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
	wipe(a->env_secret, sizeof a->env_secret);
	wipe(a->env_token, sizeof a->env_token);
	wipe(a->container_token, sizeof a->container_token);
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
	wipe(&a->creds, sizeof a->creds);
	wipe(a->env_secret, sizeof a->env_secret);
	wipe(a->env_token, sizeof a->env_token);
	wipe(a->container_token, sizeof a->container_token);
	wipe(a->req_body, sizeof a->req_body);
	wipe(a->resp_body, sizeof a->resp_body);
	wipe(a->file_buf, sizeof a->file_buf);
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
	int (*build)(struct aws *a, size_t *len, char *err, size_t errlen);
	/* Reads a 200's body; a body it cannot read is retried like a 5xx. */
	int (*check)(struct aws *a, char *err, size_t errlen);
	const char *auth;                 /* an Authorization header to send as is (container), or NULL */
	int *attempts;                    /* counted here too, if not NULL */

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
		snprintf(buf, n, "%s: %s: %s (HTTP %d)", c->name, c->code, c->message, c->status);
	else if (c->code[0] != '\0')
		snprintf(buf, n, "%s: %s (HTTP %d)", c->name, c->code, c->status);
	else
		snprintf(buf, n, "%s: HTTP %d", c->name, c->status);
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

/*
 * Makes the call c until AWS answers a 200 that c->check can read
 * (returns 0, the body in a->resp), a permanent error, or the deadline
 * (-1 with err, which names the call and AWS's code and message).
 */
static int
aws_do(struct aws *a, struct call *c, int64_t deadline_ms, char *err, size_t errlen)
{
	struct http_header h[6];
	struct http_request req;
	char last[768] = "", e[512];
	int64_t backoff = AWS_BACKOFF_MIN_MS, now, wait, attempt_deadline;
	int refreshes = 0, resyncs = 0, n = 0, nh, r;
	size_t body_len = 0;
	char logged[128] = "";

	c->status = 0;
	c->code[0] = c->message[0] = '\0';
	for (;;) {
		now = util_now_ms();
		if (now >= deadline_ms) {
			snprintf(err, errlen, "%s: deadline reached after %d attempt%s%s%s", c->name, n,
			    n == 1 ? "" : "s", last[0] ? "; last: " : "", last);
			return -1;
		}
		/* Credentials first: fetching them uses the request buffers too. */
		if (c->service != NULL && aws_credentials(a, 0, deadline_ms, e, sizeof e) < 0) {
			snprintf(last, sizeof last, "%s: credentials: %s", c->name, e);
			if (a->cred_permanent)
				goto permanent;
			goto retry;
		}
		if (c->build(a, &body_len, e, sizeof e) < 0) {
			snprintf(err, errlen, "%s: %s", c->name, e);
			return -1;
		}
		nh = 0;
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
			snprintf(err, errlen, "%s: signing: %s", c->name, e);
			return -1;
		}
		memset(&req, 0, sizeof req);
		req.method = c->method;
		req.url = c->url;
		req.headers = h;
		req.nheaders = (size_t)nh;
		req.body = body_len > 0 ? a->req_body : NULL;
		req.body_len = body_len;
		req.idempotent = c->idempotent;
		a->resp.body = a->resp_body;
		a->resp.body_cap = sizeof a->resp_body;
		attempt_deadline = now + AWS_ATTEMPT_MS < deadline_ms ? now + AWS_ATTEMPT_MS : deadline_ms;
		n++;
		a->requests++;
		if (c->attempts != NULL)
			(*c->attempts)++;
		r = http_do(c->hc, &req, &a->resp, attempt_deadline, e, sizeof e);
		metrics_api(a->metrics, MEP_AWS, r < 0 ? -1 : a->resp.status);
		sigv4_wipe(&a->sig);
		log_debug(a->lg, "aws: %s %s://%s%s %s: %s%d in %lld ms (attempt %d)", c->method,
		    c->url->tls ? "https" : "http", c->url->host, c->url->path, c->name,
		    r < 0 ? "failed, " : "HTTP ", r < 0 ? 0 : a->resp.status,
		    (long long)(util_now_ms() - now), n);
		if (r < 0) {
			snprintf(last, sizeof last, "%s: %s", c->name, e);
			goto retry;
		}
		c->status = a->resp.status;
		if (a->resp.status == 200) {
			if (c->check(a, e, sizeof e) == 0)
				return 0;
			snprintf(last, sizeof last, "%s: unreadable response: %s", c->name, e);
			goto retry;
		}
		parse_error(a, c);
		sanitize(c->code);
		sanitize(c->message);
		describe_failure(c, last, sizeof last);
		switch (aws_classify(c->status, c->code, c->message)) {
		case AWS_RESYNC:
			if (++resyncs > AWS_MAX_RESYNCS)
				goto permanent;
			resync_clock(a);
			continue;
		case AWS_REFRESH:
			if (c->service == NULL)
				goto retry;     /* unsigned (STS): the next attempt re-reads the token */
			if (++refreshes > AWS_MAX_REFRESHES)
				goto permanent;
			log_warning(a->lg, "aws: %s; fetching new credentials", last);
			a->creds.valid = 0;
			continue;
		case AWS_RETRY:
			goto retry;
		case AWS_PERMANENT:
			goto permanent;
		}
permanent:
		c->permanent = 1;
		snprintf(err, errlen, "%s", last);
		return -1;
retry:
		wait = jitter(backoff);
		if (util_now_ms() + wait >= deadline_ms) {
			snprintf(err, errlen, "%s: deadline reached after %d attempt%s; last: %s", c->name, n,
			    n == 1 ? "" : "s", last);
			return -1;
		}
		/* The same fault again is rate-limited; a different one is always told. */
		if (strncmp(logged, last, sizeof logged - 1) != 0) {
			log_limit_reset(&a->ll);
			snprintf(logged, sizeof logged, "%.*s", (int)sizeof logged - 1, last);
		}
		log_limited(a->lg, &a->ll, 5000, LV_WARNING, "aws: %s (attempt %d; retrying in %lld ms)",
		    last, n, (long long)wait);
		util_sleep_ms(wait);
		backoff = backoff * 2 > AWS_BACKOFF_MAX_MS ? AWS_BACKOFF_MAX_MS : backoff * 2;
	}
}

/* ---- Request bodies ---------------------------------------------------------- */

struct form {
	char *p;
	size_t cap, len;
	int over;
};

static void
form_add(struct form *f, const char *name, const char *value)
{
	int r;

	if (f->over)
		return;
	if (util_snprintf(f->p + f->len, f->cap - f->len, "%s%s=", f->len ? "&" : "", name) < 0) {
		f->over = 1;
		return;
	}
	f->len += strlen(f->p + f->len);
	r = url_encode(value, strlen(value), f->p + f->len, f->cap - f->len, 0);
	if (r < 0) {
		f->over = 1;
		return;
	}
	f->len += (size_t)r;
}

static int
form_done(struct form *f, size_t *len, char *err, size_t errlen)
{
	if (f->over) {
		snprintf(err, errlen, "request body over %zu bytes", f->cap - 1);
		return -1;
	}
	*len = f->len;
	return 0;
}

static int
build_describe(struct aws *a, size_t *len, char *err, size_t errlen)
{
	struct form f = { a->req_body, sizeof a->req_body, 0, 0 };

	form_add(&f, "Action", "DescribeAutoScalingInstances");
	form_add(&f, "Version", "2011-01-01");
	form_add(&f, "InstanceIds.member.1", a->arg_instance);
	return form_done(&f, len, err, errlen);
}

static int
build_detach(struct aws *a, size_t *len, char *err, size_t errlen)
{
	struct form f = { a->req_body, sizeof a->req_body, 0, 0 };

	form_add(&f, "Action", "DetachInstances");
	form_add(&f, "Version", "2011-01-01");
	form_add(&f, "AutoScalingGroupName", a->arg_group);
	form_add(&f, "InstanceIds.member.1", a->arg_instance);
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
		snprintf(err, errlen, "%s: %s", what, e);
		return -1;
	}
	t = util_trim(a->file_buf, &len);
	memmove(a->file_buf, t, len);
	a->file_buf[len] = '\0';
	if (len == 0) {
		snprintf(err, errlen, "%s %s is empty", what, path);
		return -1;
	}
	return (int)len;
}

static int
build_assume(struct aws *a, size_t *len, char *err, size_t errlen)
{
	struct form f = { a->req_body, sizeof a->req_body, 0, 0 };
	char session[80];

	/* The kubelet rotates the projected token: read it afresh for every request. */
	if (read_token_file(a, "web identity token file", a->token_file, err, errlen) < 0)
		return -1;
	if (a->session_name[0] != '\0')
		util_strlcpy(session, a->session_name, sizeof session);
	else
		snprintf(session, sizeof session, "despotify-%lld", (long long)(util_wall_ms() / 1000));
	form_add(&f, "Action", "AssumeRoleWithWebIdentity");
	form_add(&f, "Version", "2011-06-15");
	form_add(&f, "RoleArn", a->role_arn);
	form_add(&f, "RoleSessionName", session);
	form_add(&f, "WebIdentityToken", a->file_buf);
	wipe(a->file_buf, sizeof a->file_buf);
	return form_done(&f, len, err, errlen);
}

static int
build_nothing(struct aws *a, size_t *len, char *err, size_t errlen)
{
	(void)a;
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
		snprintf(err, errlen, "no %s", path);
		return -1;
	}
	if (r < 0) {
		snprintf(err, errlen, "%s", e);
		return -1;
	}
	return 0;
}

static int
root_is(struct aws *a, const char *want, char *err, size_t errlen)
{
	char root[64], e[256];

	if (xml_root(a->resp.body, a->resp.body_len, root, sizeof root, e, sizeof e) < 0) {
		snprintf(err, errlen, "%s", e);
		return -1;
	}
	if (strcmp(root, want) != 0) {
		snprintf(err, errlen, "<%s> where <%s> was expected", root, want);
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
		snprintf(err, errlen, "Expiration is not a time");
		return -1;
	}
	return 0;
}

static int
check_assume(struct aws *a, char *err, size_t errlen)
{
	struct aws_creds *c = &a->fetched;
	char exp[64];

	if (root_is(a, "AssumeRoleWithWebIdentityResponse", err, errlen) < 0 ||
	    xml_need(a, "AssumeRoleWithWebIdentityResult/Credentials/AccessKeyId", c->access_key_id,
	    sizeof c->access_key_id, err, errlen) < 0 ||
	    xml_need(a, "AssumeRoleWithWebIdentityResult/Credentials/SecretAccessKey", c->secret_access_key,
	    sizeof c->secret_access_key, err, errlen) < 0 ||
	    xml_need(a, "AssumeRoleWithWebIdentityResult/Credentials/SessionToken", c->session_token,
	    sizeof c->session_token, err, errlen) < 0 ||
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
		snprintf(err, errlen, "%s missing, not a string, or too long", key);
		return -1;
	}
	return 0;
}

static int
check_container(struct aws *a, char *err, size_t errlen)
{
	struct aws_creds *c = &a->fetched;
	struct json_tok toks[64];
	struct json_doc d;
	char exp[64];

	if (json_parse(&d, a->resp.body, a->resp.body_len, toks, 64, err, errlen) < 0)
		return -1;
	if (d.ntoks < 1 || toks[0].type != JSON_OBJECT) {
		snprintf(err, errlen, "not a JSON object");
		return -1;
	}
	if (json_need(&d, "AccessKeyId", c->access_key_id, sizeof c->access_key_id, err, errlen) < 0 ||
	    json_need(&d, "SecretAccessKey", c->secret_access_key, sizeof c->secret_access_key, err, errlen) < 0 ||
	    json_need(&d, "Token", c->session_token, sizeof c->session_token, err, errlen) < 0 ||
	    json_need(&d, "Expiration", exp, sizeof exp, err, errlen) < 0)
		return -1;
	return set_expiration(a, exp, err, errlen);
}

/*
 * A Describe answer: a list with this instance, or an empty list. Leaves
 * the instance's group and state in a->fetched-free fields of the caller
 * (read again by describe()).
 */
static int
check_describe(struct aws *a, char *err, size_t errlen)
{
	char id[IMDS_MAX_FACT], group[256], state[64], e[256];
	int n;

	if (root_is(a, "DescribeAutoScalingInstancesResponse", err, errlen) < 0)
		return -1;
	n = xml_count(a->resp.body, a->resp.body_len, "DescribeAutoScalingInstancesResult/AutoScalingInstances",
	    e, sizeof e);
	if (n != 1) {
		snprintf(err, errlen, "no AutoScalingInstances list");
		return -1;
	}
	n = xml_count(a->resp.body, a->resp.body_len, "AutoScalingInstances/member", e, sizeof e);
	if (n == 0)
		return 0;
	if (xml_need(a, "AutoScalingInstances/member/InstanceId", id, sizeof id, err, errlen) < 0 ||
	    xml_need(a, "AutoScalingInstances/member/AutoScalingGroupName", group, sizeof group, err, errlen) < 0 ||
	    xml_need(a, "AutoScalingInstances/member/LifecycleState", state, sizeof state, err, errlen) < 0)
		return -1;
	if (strcmp(id, a->arg_instance) != 0) {
		snprintf(err, errlen, "the answer is about another instance");
		return -1;
	}
	return 0;
}

static int
check_detach(struct aws *a, char *err, size_t errlen)
{
	return root_is(a, "DetachInstancesResponse", err, errlen);
}

/* ---- Credentials ------------------------------------------------------------ */

static int
fetch_web_identity(struct aws *a, int64_t deadline_ms, char *err, size_t errlen)
{
	struct call call;
	int rc;

	memset(&call, 0, sizeof call);
	call.name = "sts:AssumeRoleWithWebIdentity";
	call.method = "POST";
	call.url = &a->sts_url;
	call.host = a->sts_hostport;
	call.hc = &a->hc;
	call.idempotent = 1;
	call.build = build_assume;
	call.check = check_assume;
	rc = aws_do(a, &call, deadline_ms, err, errlen);
	a->cred_permanent = call.permanent;
	wipe(a->req_body, sizeof a->req_body);
	wipe(a->resp_body, sizeof a->resp_body);
	return rc;
}

static int
fetch_container(struct aws *a, int64_t deadline_ms, char *err, size_t errlen)
{
	struct call call;
	int rc;

	memset(&call, 0, sizeof call);
	call.name = "container credentials";
	call.method = "GET";
	call.url = &a->container_url;
	call.hc = &a->hc_local;
	call.idempotent = 1;
	call.build = build_nothing;
	call.check = check_container;
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
	rc = aws_do(a, &call, deadline_ms, err, errlen);
	a->cred_permanent = call.permanent;
	wipe(a->file_buf, sizeof a->file_buf);
	wipe(a->resp_body, sizeof a->resp_body);
	return rc;
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
		snprintf(err, errlen, "IMDS role credentials too long");
		goto out;
	}
	c->expiration_s = ic.expiration_s;
	rc = 0;
out:
	wipe(&ic, sizeof ic);
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
	wipe(c, sizeof *c);
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
		wipe(c, sizeof *c);
		/* Credentials that have not expired yet still serve while a refresh fails. */
		if (!force && a->creds.valid && (a->creds.expiration_s == 0 || now + 10 < a->creds.expiration_s)) {
			log_limited(a->lg, &a->ll, 60000, LV_WARNING,
			    "aws: refreshing credentials failed (%s); using the current ones until %s", err,
			    util_fmt_time(when, sizeof when, a->creds.expiration_s));
			return 0;
		}
		wipe(&a->creds, sizeof a->creds);
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
	wipe(c, sizeof *c);
	return 0;
}

/* ---- Detach ------------------------------------------------------------------- */

/* aws_detach counts its outcome as M_DETACH_DETACHED + outcome. */
_Static_assert(M_DETACH_FAILED - M_DETACH_DETACHED == AWS_FAILED - AWS_DETACHED &&
    M_DETACH_DRY_RUN - M_DETACH_DETACHED == AWS_DRY_RUN - AWS_DETACHED,
    "the detach counters follow enum aws_outcome");

static void
asg_call(struct aws *a, struct call *c, const char *name,
    int (*build)(struct aws *, size_t *, char *, size_t), int (*check)(struct aws *, char *, size_t),
    int idempotent, struct aws_detach_result *r)
{
	memset(c, 0, sizeof *c);
	c->name = name;
	c->method = "POST";
	c->url = &a->asg_url;
	c->host = a->asg_hostport;
	c->hc = &a->hc;
	c->service = "autoscaling";
	c->idempotent = idempotent;
	c->build = build;
	c->check = check;
	c->attempts = &r->attempts;
}

/*
 * DescribeAutoScalingInstances for the instance: fills r->group and r->state
 * (both empty when the instance is in no group). Returns 0 or -1 with err.
 */
static int
describe(struct aws *a, int64_t deadline_ms, struct aws_detach_result *r, char *err, size_t errlen)
{
	struct call c;
	char e[256];

	r->group[0] = r->state[0] = '\0';
	asg_call(a, &c, "DescribeAutoScalingInstances", build_describe, check_describe, 1, r);
	if (aws_do(a, &c, deadline_ms, err, errlen) < 0)
		return -1;
	/* check_describe has read it all once: these cannot fail. */
	if (xml_count(a->resp.body, a->resp.body_len, "AutoScalingInstances/member", e, sizeof e) == 0)
		return 0;
	if (xml_need(a, "AutoScalingInstances/member/AutoScalingGroupName", r->group, sizeof r->group,
	    e, sizeof e) < 0 ||
	    xml_need(a, "AutoScalingInstances/member/LifecycleState", r->state, sizeof r->state,
	    e, sizeof e) < 0) {
		snprintf(err, errlen, "DescribeAutoScalingInstances: %s", e);
		r->group[0] = r->state[0] = '\0';
		return -1;
	}
	sanitize(r->group);
	sanitize(r->state);
	return 0;
}

int
aws_detach(struct aws *a, const char *instance_id, int64_t deadline_ms, struct aws_detach_result *r)
{
	struct call c;
	char err[1024], e[256], group[sizeof r->group];
	int64_t t0 = util_now_ms();

	memset(r, 0, sizeof *r);
	r->outcome = AWS_FAILED;
	a->arg_instance = instance_id;
	a->arg_group = group;
	if (instance_id == NULL || instance_id[0] == '\0') {
		snprintf(r->error, sizeof r->error, "no instance id");
		goto failed;
	}
	for (;;) {
		if (describe(a, deadline_ms, r, err, sizeof err) < 0) {
			snprintf(r->error, sizeof r->error, "%s", err);
			goto failed;
		}
		if (r->group[0] == '\0') {
			r->outcome = AWS_NOT_IN_ASG;
			log_info(a->lg, "aws: instance %s is not in an Auto Scaling group; nothing to detach",
			    instance_id);
			goto done;
		}
		if (aws_state_leaving(r->state)) {
			r->outcome = AWS_ALREADY_LEAVING;
			log_info(a->lg, "aws: instance %s is already %s from Auto Scaling group %s; not detaching "
			    "it again", instance_id, r->state, r->group);
			goto done;
		}
		if (strcmp(r->state, "InService") == 0 || strcmp(r->state, "Standby") == 0)
			break;
		/* Pending, EnteringStandby, ...: passing states; look again shortly. */
		if (util_now_ms() + AWS_BACKOFF_MAX_MS >= deadline_ms) {
			snprintf(r->error, sizeof r->error, "instance %s stayed %s in %s, a state that does not "
			    "allow a detach, until the deadline", instance_id, r->state, r->group);
			goto failed;
		}
		log_limited(a->lg, &a->ll, 5000, LV_WARNING, "aws: instance %s is %s in %s; waiting for "
		    "InService or Standby to detach it", instance_id, r->state, r->group);
		util_sleep_ms(AWS_BACKOFF_MAX_MS / 2);
	}
	if (a->cfg->dry_run) {
		r->outcome = AWS_DRY_RUN;
		log_info(a->lg, "dry-run: would call DetachInstances AutoScalingGroupName=%s "
		    "InstanceIds.member.1=%s ShouldDecrementDesiredCapacity=false at %s://%s%s (instance is %s)",
		    r->group, instance_id, a->asg_url.tls ? "https" : "http", a->asg_hostport, a->asg_url.path,
		    r->state);
		goto done;
	}
	util_strlcpy(group, r->group, sizeof group);
	asg_call(a, &c, "DetachInstances", build_detach, check_detach, 0, r);
	if (aws_do(a, &c, deadline_ms, err, sizeof err) < 0) {
		/*
		 * A ValidationError may mean that an earlier attempt went through
		 * (its answer was lost) or that someone else got there first: ask.
		 */
		if (c.status == 400 && strcmp(c.code, "ValidationError") == 0 &&
		    describe(a, deadline_ms, r, e, sizeof e) == 0 &&
		    (r->group[0] == '\0' || aws_state_leaving(r->state))) {
			r->outcome = AWS_ALREADY_LEAVING;
			if (r->group[0] == '\0') {
				util_strlcpy(r->group, group, sizeof r->group);
				util_strlcpy(r->state, "Detached", sizeof r->state);
			}
			log_info(a->lg, "aws: instance %s is already %s from Auto Scaling group %s (AWS said: %s)",
			    instance_id, r->state, r->group, err);
			goto done;
		}
		util_strlcpy(r->group, group, sizeof r->group);
		snprintf(r->error, sizeof r->error, "%s", err);
		goto failed;
	}
	if (xml_text(a->resp.body, a->resp.body_len, "DetachInstancesResult/Activities/member/ActivityId",
	    r->activity, sizeof r->activity, e, sizeof e) < 0)
		r->activity[0] = '\0';
	sanitize(r->activity);
	r->outcome = AWS_DETACHED;
	util_strlcpy(r->state, "Detaching", sizeof r->state);
	log_info(a->lg, "aws: detached instance %s from Auto Scaling group %s (activity %s); "
	    "its replacement is launching", instance_id, r->group, r->activity[0] ? r->activity : "?");
	goto done;
failed:
	r->outcome = AWS_FAILED;
	log_error(a->lg, "aws: could not detach instance %s from its Auto Scaling group: %s",
	    instance_id ? instance_id : "?", r->error);
done:
	r->ms = util_now_ms() - t0;
	metrics_inc(a->metrics, (enum metric)(M_DETACH_DETACHED + (int)r->outcome));
	a->arg_instance = a->arg_group = NULL;
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
		snprintf(err, errlen, "EKS token: AWS credentials from %s: %s",
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
