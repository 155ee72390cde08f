/* sigv4.c — see sigv4.h. */
#include "sigv4.h"

#include <string.h>
#include <strings.h>

#include "bearssl_hash.h"
#include "bearssl_hmac.h"
#include "url.h"
#include "util.h"

static void
hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void
sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
	br_sha256_context c;
	unsigned char h[32];

	br_sha256_init(&c);
	br_sha256_update(&c, data, len);
	br_sha256_out(&c, h);
	hex(h, sizeof h, out);
}

static void
hmac(const void *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32])
{
	br_hmac_key_context kc;
	br_hmac_context hc;

	br_hmac_key_init(&kc, &br_sha256_vtable, key, klen);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, msg, mlen);
	br_hmac_out(&hc, out);
	util_wipe(&kc, sizeof kc);
	util_wipe(&hc, sizeof hc);
}

char *
sigv4_amz_date(char *buf, size_t n, int64_t epoch_s)
{
	char iso[32];
	size_t i, o = 0;

	/*
	 * "2015-08-30T12:36:00Z" without its '-' and ':'. util's calendar code
	 * rather than gmtime_r, which drags musl's time-zone machinery (and a
	 * getenv("TZ")) into a function that is meant to be pure.
	 */
	util_fmt_time(iso, sizeof iso, epoch_s);
	for (i = 0; iso[i] != '\0' && o + 1 < n; i++)
		if (iso[i] != '-' && iso[i] != ':')
			buf[o++] = iso[i];
	if (n > 0)
		buf[n < 17 ? 0 : o] = '\0';
	return buf;
}

void
sigv4_wipe(struct sigv4_signature *s)
{
	util_wipe(s, sizeof *s);
}

/* ---- Canonical request ---------------------------------------------------- */

/* One header as the signer sees it: the caller's, plus x-amz-date and the token. */
struct hdr {
	const char *name;
	const char *value;
};

static int
is_token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?={}", c) == NULL;
}

/* Whether a value can go on a header line: no CR, LF or other controls but tab. */
static int
value_ok(const char *v)
{
	for (; *v != '\0'; v++)
		if (((unsigned char)*v < 0x20 && *v != '\t') || (unsigned char)*v == 0x7f)
			return 0;
	return 1;
}

static int
name_cmp(const char *a, const char *b)
{
	return strcasecmp(a, b);
}

/* Appends a header value with the ends trimmed and inner runs of blanks folded to one space. */
static void
sb_trimall(struct util_buf *b, const char *v)
{
	int pending = 0, started = 0;

	for (; *v != '\0'; v++) {
		if (*v == ' ' || *v == '\t') {
			pending = started;
			continue;
		}
		if (pending)
			util_buf_chr(b, ' ');
		pending = 0;
		started = 1;
		util_buf_chr(b, *v);
	}
}

static void
sb_lower(struct util_buf *b, const char *s)
{
	for (; *s != '\0'; s++)
		util_buf_chr(b, (*s >= 'A' && *s <= 'Z') ? (char)(*s + 32) : *s);
}

/*
 * Appends the canonical path: dot segments resolved and empty segments
 * dropped, as AWS does for every service but S3, then percent-encoded.
 */
static int
canonical_path(struct util_buf *b, const char *path, char *err, size_t errlen)
{
	char norm[URL_MAX_PATH];
	size_t nlen = 0, plen = strlen(path);
	const char *p = path, *end = path + plen, *seg;
	size_t slen;
	int nsegs = 0;

	if (plen == 0 || path[0] != '/') {
		util_fmt(err, errlen, "sigv4: path must start with '/'");
		return -1;
	}
	if (plen >= sizeof norm) {
		util_fmt(err, errlen, "sigv4: path longer than %zu bytes", sizeof norm - 1);
		return -1;
	}
	while (p < end) {
		seg = p;
		while (p < end && *p != '/')
			p++;
		slen = (size_t)(p - seg);
		if (p < end)
			p++;
		if (slen == 0 || (slen == 1 && seg[0] == '.'))
			continue;
		if (slen == 2 && seg[0] == '.' && seg[1] == '.') {
			if (nsegs > 0) {
				while (nlen > 0 && norm[nlen - 1] != '/')
					nlen--;
				nlen--;   /* the '/' before the dropped segment */
				nsegs--;
			}
			continue;
		}
		norm[nlen++] = '/';
		memcpy(norm + nlen, seg, slen);
		nlen += slen;
		nsegs++;
	}
	if (nsegs == 0)
		norm[nlen++] = '/';
	else if (path[plen - 1] == '/')
		norm[nlen++] = '/';
	url_buf_encode(b, norm, nlen, 1);
	return 0;
}

struct qparam {
	size_t name, value;   /* offsets of encoded, NUL-terminated strings in the scratch buffer */
};

/* Decodes s[0..n) and re-encodes it onto the scratch builder, NUL-terminated. Returns its offset. */
static int
requote(struct util_buf *scratch, const char *s, size_t n, size_t *off)
{
	char dec[URL_MAX_PATH];
	int d;

	d = url_decode(s, n, dec, sizeof dec, 0);
	if (d < 0)
		return -1;
	*off = scratch->len;
	url_buf_encode(scratch, dec, (size_t)d, 0);
	util_buf_chr(scratch, '\0');
	return scratch->over ? -1 : 0;
}

static int
canonical_query(struct util_buf *b, const char *query, char *err, size_t errlen)
{
	char scratch_buf[SIGV4_MAX_CANON];
	struct util_buf scratch;
	struct qparam qp[SIGV4_MAX_QUERY_PARAMS], t;
	size_t n = 0, i, j, len;
	const char *p, *amp, *eq, *end;

	if (query == NULL || *query == '\0')
		return 0;
	util_buf_init(&scratch, scratch_buf, sizeof scratch_buf);
	end = query + strlen(query);
	for (p = query; p < end; p = amp + 1) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		len = (size_t)(amp - p);
		if (len == 0)
			continue;
		if (n == SIGV4_MAX_QUERY_PARAMS) {
			util_fmt(err, errlen, "sigv4: more than %d query parameters", SIGV4_MAX_QUERY_PARAMS);
			return -1;
		}
		eq = memchr(p, '=', len);
		if (requote(&scratch, p, eq ? (size_t)(eq - p) : len, &qp[n].name) < 0 ||
		    requote(&scratch, eq ? eq + 1 : amp, eq ? (size_t)(amp - eq - 1) : 0, &qp[n].value) < 0) {
			util_fmt(err, errlen, "sigv4: malformed or oversized query parameter");
			return -1;
		}
		n++;
	}
	/* Insertion sort by name, then value: n is small. */
	for (i = 1; i < n; i++) {
		t = qp[i];
		for (j = i; j > 0; j--) {
			int c = strcmp(scratch_buf + qp[j - 1].name, scratch_buf + t.name);
			if (c == 0)
				c = strcmp(scratch_buf + qp[j - 1].value, scratch_buf + t.value);
			if (c <= 0)
				break;
			qp[j] = qp[j - 1];
		}
		qp[j] = t;
	}
	for (i = 0; i < n; i++) {
		if (i > 0)
			util_buf_chr(b, '&');
		util_buf_str(b, scratch_buf + qp[i].name);
		util_buf_chr(b, '=');
		util_buf_str(b, scratch_buf + qp[i].value);
	}
	return 0;
}

/*
 * Checks req's headers and gathers them into h (room for
 * SIGV4_MAX_HEADERS + 2), with x-amz-date and x-amz-security-token added
 * unless presign. Returns their number, or -1 with err.
 */
static int
collect_headers(const struct sigv4_request *req, const struct sigv4_credentials *cred,
    const char *amz_date, int presign, struct hdr *h, char *err, size_t errlen)
{
	size_t n = 0, i;
	int have_host = 0;

	if (req->nheaders > SIGV4_MAX_HEADERS) {
		util_fmt(err, errlen, "sigv4: more than %d headers", SIGV4_MAX_HEADERS);
		return -1;
	}
	for (i = 0; i < req->nheaders; i++) {
		const char *name = req->headers[i].name, *value = req->headers[i].value;
		const char *c;

		if (name == NULL || *name == '\0' || value == NULL) {
			util_fmt(err, errlen, "sigv4: header %zu has no name or value", i);
			return -1;
		}
		for (c = name; *c != '\0'; c++) {
			if (!is_token_char((unsigned char)*c)) {
				util_fmt(err, errlen, "sigv4: bad character in a header name");
				return -1;
			}
		}
		if (!value_ok(value)) {
			util_fmt(err, errlen, "sigv4: header %s: control character in the value", name);
			return -1;
		}
		if (strcasecmp(name, "x-amz-date") == 0 || strcasecmp(name, "x-amz-security-token") == 0 ||
		    strcasecmp(name, "authorization") == 0) {
			util_fmt(err, errlen, "sigv4: header %s is the signer's to add", name);
			return -1;
		}
		if (strcasecmp(name, "host") == 0)
			have_host = 1;
		h[n].name = name;
		h[n].value = value;
		n++;
	}
	if (!have_host) {
		util_fmt(err, errlen, "sigv4: no Host header");
		return -1;
	}
	/* A presigned URL carries the date and the token in its query instead. */
	if (!presign) {
		h[n].name = "x-amz-date";
		h[n].value = amz_date;
		n++;
	}
	if (!presign && cred->session_token != NULL && cred->session_token[0] != '\0') {
		if (!value_ok(cred->session_token)) {
			util_fmt(err, errlen, "sigv4: control character in the session token");
			return -1;
		}
		h[n].name = "x-amz-security-token";
		h[n].value = cred->session_token;
		n++;
	}
	return (int)n;
}

/*
 * Builds the canonical request into out->canonical_request and the signed
 * header list into sh. Returns 0 or -1 with err.
 */
static int
canonical_request(const struct sigv4_request *req, const struct sigv4_credentials *cred,
    const char *amz_date, int presign, struct sigv4_signature *out, struct util_buf *sh,
    char *err, size_t errlen)
{
	struct hdr h[SIGV4_MAX_HEADERS + 2], t;
	size_t n, i, j;
	struct util_buf b;
	char payload[65];
	int r;

	if ((r = collect_headers(req, cred, amz_date, presign, h, err, errlen)) < 0)
		return -1;
	n = (size_t)r;
	/* Stable insertion sort by lower-case name: repeated names keep request order. */
	for (i = 1; i < n; i++) {
		t = h[i];
		for (j = i; j > 0 && name_cmp(h[j - 1].name, t.name) > 0; j--)
			h[j] = h[j - 1];
		h[j] = t;
	}

	util_buf_init(&b, out->canonical_request, sizeof out->canonical_request);
	util_buf_str(&b, req->method);
	util_buf_chr(&b, '\n');
	if (canonical_path(&b, req->path, err, errlen) < 0)
		return -1;
	util_buf_chr(&b, '\n');
	if (canonical_query(&b, req->query, err, errlen) < 0)
		return -1;
	util_buf_chr(&b, '\n');
	for (i = 0; i < n; i++) {
		if (i > 0 && name_cmp(h[i - 1].name, h[i].name) == 0) {
			/* A repeated name: its value joins the previous line. */
			util_buf_chr(&b, ',');
		} else {
			if (i > 0) {
				util_buf_chr(&b, '\n');
				util_buf_chr(sh, ';');
			}
			sb_lower(&b, h[i].name);
			util_buf_chr(&b, ':');
			sb_lower(sh, h[i].name);
		}
		sb_trimall(&b, h[i].value);
	}
	util_buf_str(&b, "\n\n");
	util_buf_str(&b, sh->p);
	util_buf_chr(&b, '\n');
	sigv4_sha256_hex(req->body != NULL ? req->body : "", req->body != NULL ? req->body_len : 0,
	    payload);
	util_buf_str(&b, payload);
	if (b.over || sh->over) {
		util_fmt(err, errlen, "sigv4: canonical request over %d bytes", SIGV4_MAX_CANON);
		return -1;
	}
	return 0;
}

/* A scope element (region, service) may not contain '/', white space or controls. */
static int
scope_ok(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 64)
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == '/')
			return 0;
	return 1;
}

/*
 * Checks what every signature needs. Returns the secret key's length, or
 * -1 with the reason in err.
 */
static long
check_inputs(const struct sigv4_request *req, const struct sigv4_credentials *cred,
    const char *region, const char *service, int64_t epoch_s, char *err, size_t errlen)
{
	size_t slen;

	if (req->method == NULL || req->path == NULL || !scope_ok(req->method)) {
		util_fmt(err, errlen, "sigv4: no method or path");
		return -1;
	}
	if (!scope_ok(region) || !scope_ok(service)) {
		util_fmt(err, errlen, "sigv4: bad region or service name");
		return -1;
	}
	if (cred->access_key_id == NULL || !scope_ok(cred->access_key_id) ||
	    strlen(cred->access_key_id) >= AWS_MAX_KEY || cred->secret_access_key == NULL ||
	    cred->secret_access_key[0] == '\0') {
		util_fmt(err, errlen, "sigv4: missing or malformed access key");
		return -1;
	}
	slen = strlen(cred->secret_access_key);
	if (slen >= AWS_MAX_KEY) {
		util_fmt(err, errlen, "sigv4: secret access key longer than %d bytes", AWS_MAX_KEY - 1);
		return -1;
	}
	if (epoch_s < 0 || epoch_s > 253402300799LL) {
		util_fmt(err, errlen, "sigv4: time out of range");
		return -1;
	}
	return (long)slen;
}

/* Appends the credential scope "date8/region/service/aws4_request". */
static void
buf_scope(struct util_buf *b, const char *date8, const char *region, const char *service)
{
	util_buf_str(b, date8);
	util_buf_chr(b, '/');
	util_buf_str(b, region);
	util_buf_chr(b, '/');
	util_buf_str(b, service);
	util_buf_str(b, "/aws4_request");
}

/* Appends the credential "key/date8/region/service/aws4_request". */
static void
buf_credential(struct util_buf *b, const char *key, const char *date8, const char *region,
    const char *service)
{
	util_buf_str(b, key);
	util_buf_chr(b, '/');
	buf_scope(b, date8, region, service);
}

/*
 * From out->canonical_request: the string to sign (into out) and the hex
 * signature (into sig) under the key derived from the secret for date8,
 * region and service. Returns 0 or -1 with err.
 */
static int
sign_canonical(struct sigv4_signature *out, const struct sigv4_credentials *cred, size_t slen,
    const char *date8, const char *region, const char *service, char sig[65],
    char *err, size_t errlen)
{
	char kbuf[4 + AWS_MAX_KEY], creq_hash[65];
	unsigned char k[32];
	struct util_buf b;

	sigv4_sha256_hex(out->canonical_request, strlen(out->canonical_request), creq_hash);
	util_buf_init(&b, out->string_to_sign, sizeof out->string_to_sign);
	util_buf_str(&b, "AWS4-HMAC-SHA256\n");
	util_buf_str(&b, out->amz_date);
	util_buf_chr(&b, '\n');
	buf_scope(&b, date8, region, service);
	util_buf_chr(&b, '\n');
	util_buf_str(&b, creq_hash);
	if (b.over) {
		util_fmt(err, errlen, "sigv4: string to sign too long");
		return -1;
	}

	/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") */
	memcpy(kbuf, "AWS4", 4);
	memcpy(kbuf + 4, cred->secret_access_key, slen);
	hmac(kbuf, 4 + slen, date8, 8, k);
	util_wipe(kbuf, sizeof kbuf);
	hmac(k, sizeof k, region, strlen(region), k);
	hmac(k, sizeof k, service, strlen(service), k);
	hmac(k, sizeof k, "aws4_request", 12, k);
	hmac(k, sizeof k, out->string_to_sign, strlen(out->string_to_sign), k);
	hex(k, sizeof k, sig);
	util_wipe(k, sizeof k);
	return 0;
}

int
sigv4_sign(const struct sigv4_request *req, const struct sigv4_credentials *cred,
    const char *region, const char *service, int64_t epoch_s,
    struct sigv4_signature *out, char *err, size_t errlen)
{
	char signed_headers[SIGV4_MAX_CANON / 4], date8[9], sig[65];
	struct util_buf sh, b;
	long slen;

	memset(out, 0, sizeof *out);
	if ((slen = check_inputs(req, cred, region, service, epoch_s, err, errlen)) < 0)
		return -1;
	sigv4_amz_date(out->amz_date, sizeof out->amz_date, epoch_s);
	memcpy(date8, out->amz_date, 8);
	date8[8] = '\0';

	util_buf_init(&sh, signed_headers, sizeof signed_headers);
	if (canonical_request(req, cred, out->amz_date, 0, out, &sh, err, errlen) < 0 ||
	    sign_canonical(out, cred, (size_t)slen, date8, region, service, sig, err, errlen) < 0) {
		sigv4_wipe(out);
		return -1;
	}

	util_buf_init(&b, out->authorization, sizeof out->authorization);
	util_buf_str(&b, "AWS4-HMAC-SHA256 Credential=");
	buf_credential(&b, cred->access_key_id, date8, region, service);
	util_buf_str(&b, ", SignedHeaders=");
	util_buf_str(&b, signed_headers);
	util_buf_str(&b, ", Signature=");
	util_buf_str(&b, sig);
	util_wipe(sig, sizeof sig);
	if (b.over) {
		util_fmt(err, errlen, "sigv4: Authorization header over %d bytes", SIGV4_MAX_AUTH);
		sigv4_wipe(out);
		return -1;
	}
	return 0;
}

/* Appends "&name=" and value percent-encoded (RFC 3986 unreserved kept). */
static void
sb_param(struct util_buf *b, const char *name, const char *value)
{
	util_buf_chr(b, '&');
	util_buf_str(b, name);
	util_buf_chr(b, '=');
	url_buf_encode(b, value, strlen(value), 0);
}

int
sigv4_presign(const struct sigv4_request *req, const struct sigv4_credentials *cred,
    const char *region, const char *service, int64_t epoch_s, int expires_s,
    struct sigv4_signature *scratch, char *out, size_t cap, char *err, size_t errlen)
{
	char signed_headers[SIGV4_MAX_CANON / 4], date8[9], sig[65], scope[256], num[16];
	struct sigv4_request r = *req;
	struct util_buf sh, q, sc;
	long slen;

	memset(scratch, 0, sizeof *scratch);
	if ((slen = check_inputs(req, cred, region, service, epoch_s, err, errlen)) < 0)
		return -1;
	if (req->body_len > 0 || expires_s < 1 || expires_s > 604800 || cap == 0) {
		util_fmt(err, errlen, "sigv4: a presigned URL has no body and expires in 1 s to 7 days");
		return -1;
	}
	sigv4_amz_date(scratch->amz_date, sizeof scratch->amz_date, epoch_s);
	memcpy(date8, scratch->amz_date, 8);
	date8[8] = '\0';
	/* The signed header list first: it is one of the query parameters that are signed. */
	util_buf_init(&sh, signed_headers, sizeof signed_headers);
	if (canonical_request(req, cred, scratch->amz_date, 1, scratch, &sh, err, errlen) < 0)
		goto fail;
	/* Fits: check_inputs holds the key, region and service to 64 bytes each. */
	util_buf_init(&sc, scope, sizeof scope);
	buf_credential(&sc, cred->access_key_id, date8, region, service);
	util_fmt(num, sizeof num, "%d", expires_s);
	util_buf_init(&q, out, cap);
	util_buf_str(&q, req->query != NULL ? req->query : "");
	sb_param(&q, "X-Amz-Algorithm", "AWS4-HMAC-SHA256");
	sb_param(&q, "X-Amz-Credential", scope);
	sb_param(&q, "X-Amz-Date", scratch->amz_date);
	sb_param(&q, "X-Amz-Expires", num);
	sb_param(&q, "X-Amz-SignedHeaders", signed_headers);
	if (cred->session_token != NULL && cred->session_token[0] != '\0')
		sb_param(&q, "X-Amz-Security-Token", cred->session_token);
	if (q.over) {
		util_fmt(err, errlen, "sigv4: presigned query over %zu bytes", cap);
		goto fail;
	}
	/* Signed over the whole query but the signature itself. */
	r.query = out[0] == '&' ? out + 1 : out;
	util_buf_init(&sh, signed_headers, sizeof signed_headers);
	if (canonical_request(&r, cred, scratch->amz_date, 1, scratch, &sh, err, errlen) < 0 ||
	    sign_canonical(scratch, cred, (size_t)slen, date8, region, service, sig, err, errlen) < 0)
		goto fail;
	sb_param(&q, "X-Amz-Signature", sig);
	util_wipe(sig, sizeof sig);
	if (q.over) {
		util_fmt(err, errlen, "sigv4: presigned query over %zu bytes", cap);
		goto fail;
	}
	if (out[0] == '&')
		memmove(out, out + 1, strlen(out));
	return 0;
fail:
	util_wipe(out, cap);
	sigv4_wipe(scratch);
	return -1;
}
