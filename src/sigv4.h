/*
 * sigv4.h — AWS Signature Version 4 for one HTTP request.
 *
 * A pure function: the request, the credentials and the time go in, the
 * X-Amz-Date value and the Authorization header come out. No clock, no I/O,
 * no allocation; SHA-256 and HMAC come from BearSSL.
 *
 * The signer follows AWS's published rules for every service but S3:
 *  - canonical URI: the path as sent, with dot segments and empty segments
 *    removed, then percent-encoded (RFC 3986 unreserved set kept, '/' kept,
 *    upper-case hex). A path that is already percent-encoded is encoded once
 *    more, which is what non-S3 services expect.
 *  - canonical query: each name and value percent-decoded, then re-encoded,
 *    sorted by name and then by value.
 *  - canonical headers: names in lower case, sorted; values trimmed, runs of
 *    spaces folded to one; repeated names joined with ',' in request order.
 *    x-amz-date (and x-amz-security-token with session credentials) are
 *    added by the signer and signed.
 *  - payload: the hex SHA-256 of the body.
 *
 * The output holds the signature: it is a secret for as long as the request
 * is valid and must never be logged. sigv4_wipe clears it.
 */
#ifndef DESPOTIFY_SIGV4_H
#define DESPOTIFY_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "bounds.h"

/* One request header to sign, as it will be sent. */
struct sigv4_header {
	const char *name;
	const char *value;
};

struct sigv4_request {
	const char *method;                  /* "POST" */
	const char *path;                    /* "/", as in the request line, without the query */
	const char *query;                   /* "a=1&b=2" without '?', or NULL / "" */
	const struct sigv4_header *headers;  /* must include Host; must not include     */
	size_t nheaders;                     /* X-Amz-Date, X-Amz-Security-Token or     */
	                                     /* Authorization (the signer adds those)  */
	const void *body;
	size_t body_len;
};

struct sigv4_credentials {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;           /* NULL or "" for long-term keys */
};

struct sigv4_signature {
	char amz_date[17];                   /* "20150830T123600Z": send as X-Amz-Date */
	char authorization[SIGV4_MAX_AUTH];  /* send as Authorization (secret) */
	/* The intermediate strings, for tests and for comparing with AWS's
	 * "The canonical string for this request should have been" message. */
	char canonical_request[SIGV4_MAX_CANON];
	char string_to_sign[256];
};

/*
 * Signs req for service in region at epoch_s (seconds since the epoch, UTC:
 * the caller's corrected wall clock). With a session token in cred, the
 * caller must send X-Amz-Security-Token with that token; the signer signs
 * it. Fills *out. Returns 0, or -1 with the reason in err (a header name
 * or value with a control character, more than SIGV4_MAX_HEADERS headers
 * or SIGV4_MAX_QUERY_PARAMS query parameters, a malformed %-escape, or a
 * canonical request over SIGV4_MAX_CANON bytes). The secret never appears
 * in err.
 */
int sigv4_sign(const struct sigv4_request *req, const struct sigv4_credentials *cred,
    const char *region, const char *service, int64_t epoch_s,
    struct sigv4_signature *out, char *err, size_t errlen);

/*
 * Presigns req as a URL (SigV4 in the query string) valid expires_s
 * seconds (1 to 604800) from epoch_s: the EKS token is one. req->query is
 * the operation's query, already percent-encoded ("Action=GetCallerIdentity
 * &Version=2011-06-15"); every header of req (Host among them) is signed;
 * there is no body (the payload hash is that of ""). Writes into out (cap
 * bytes) the query to send after '?': req->query, then X-Amz-Algorithm,
 * X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders,
 * X-Amz-Security-Token (session credentials only) and X-Amz-Signature, in
 * botocore's order. scratch receives the canonical request and the string
 * to sign. Returns 0, or -1 with the reason in err (as sigv4_sign, or the
 * query over cap bytes; out is wiped then). out is a secret.
 */
int sigv4_presign(const struct sigv4_request *req, const struct sigv4_credentials *cred,
    const char *region, const char *service, int64_t epoch_s, int expires_s,
    struct sigv4_signature *scratch, char *out, size_t cap, char *err, size_t errlen);

/*
 * Formats epoch_s as the ISO 8601 basic time AWS uses, "20150830T123600Z",
 * into buf (at least 17 bytes). Returns buf.
 */
char *sigv4_amz_date(char *buf, size_t n, int64_t epoch_s);

/* Writes the lower-case hex SHA-256 of len bytes of data into hex (65 bytes). */
void sigv4_sha256_hex(const void *data, size_t len, char hex[65]);

/* Overwrites the signature and everything derived from it. */
void sigv4_wipe(struct sigv4_signature *s);

#endif
