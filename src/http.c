/* http.c — see http.h. */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net.h"
#include "tls.h"
#include "util.h"

/* ---- The pure parser ---------------------------------------------------- */

static int
is_tchar(unsigned char c)
{
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/*
 * Finds the end of the line starting at buf[pos]: returns the index of its
 * '\n' (the line is buf[pos..end) without a final '\r'), -2 if there is
 * no '\n' yet, -1 if a '\r' appears anywhere but right before the '\n'.
 */
static long
line_end(const char *buf, size_t len, size_t pos, size_t *content_end)
{
	size_t i;

	for (i = pos; i < len; i++) {
		if (buf[i] == '\n') {
			*content_end = (i > pos && buf[i - 1] == '\r') ? i - 1 : i;
			return (long)i;
		}
		if (buf[i] == '\r' && i + 1 < len && buf[i + 1] != '\n')
			return -1;
	}
	return -2;
}

int
http_parse_head(const char *buf, size_t len, int *status, int *minor,
    struct http_hdr *hdrs, size_t *nhdrs)
{
	static const char proto[] = "HTTP/1.";
	size_t cap = *nhdrs, n = 0, pos, end, i;
	long nl;

	*nhdrs = 0;
	/* Reject garbage as soon as it shows, not only once a blank line arrives. */
	if (memcmp(buf, proto, len < 7 ? len : 7) != 0)
		return -1;
	if ((nl = line_end(buf, len, 0, &end)) < 0)
		return (int)nl;
	/* "HTTP/1.1 200 OK", "HTTP/1.0 404", "HTTP/1.1 204 " */
	if (end < 12 || !isdigit((unsigned char)buf[7]) || buf[8] != ' ')
		return -1;
	for (i = 9; i < 12; i++)
		if (!isdigit((unsigned char)buf[i]))
			return -1;
	if (end > 12 && buf[12] != ' ')
		return -1;
	for (i = 12; i < end; i++) {
		unsigned char c = (unsigned char)buf[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return -1;
	}
	*minor = buf[7] - '0';
	*status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (*status < 100)
		return -1;
	pos = (size_t)nl + 1;
	for (;;) {
		size_t name_end, v, ve;

		if ((nl = line_end(buf, len, pos, &end)) < 0)
			return (int)nl;
		if (end == pos) {
			*nhdrs = n;
			if ((size_t)nl + 1 > (size_t)INT32_MAX)
				return -1;
			return (int)nl + 1;
		}
		/* Obsolete line folding and white space before the colon are refused (RFC 9112). */
		for (name_end = pos; name_end < end && is_tchar((unsigned char)buf[name_end]); name_end++)
			;
		if (name_end == pos || name_end == end || buf[name_end] != ':')
			return -1;
		for (v = name_end + 1; v < end && (buf[v] == ' ' || buf[v] == '\t'); v++)
			;
		for (ve = end; ve > v && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t'); ve--)
			;
		for (i = v; i < ve; i++) {
			unsigned char c = (unsigned char)buf[i];

			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return -1;
		}
		if (n == cap)
			return -1;
		hdrs[n].name = buf + pos;
		hdrs[n].name_len = name_end - pos;
		hdrs[n].value = buf + v;
		hdrs[n].value_len = ve - v;
		n++;
		pos = (size_t)nl + 1;
	}
}

/* see http.h */
int
http_content_length(const struct http_hdr *hdrs, size_t n, uint64_t *len)
{
	int seen = 0;
	size_t i, k;

	for (i = 0; i < n; i++) {
		uint64_t x = 0;

		if (!util_strncaseeq(hdrs[i].name, hdrs[i].name_len, "Content-Length"))
			continue;
		/* 15 digits stay far below 2^64: no overflow check needed. */
		if (hdrs[i].value_len == 0 || hdrs[i].value_len > 15)
			return HTTP_CLEN_BAD;
		for (k = 0; k < hdrs[i].value_len; k++) {
			if (!isdigit((unsigned char)hdrs[i].value[k]))
				return HTTP_CLEN_BAD;
			x = x * 10 + (uint64_t)(hdrs[i].value[k] - '0');
		}
		if (seen && x != *len)
			return HTTP_CLEN_CONFLICT;
		seen = 1;
		*len = x;
	}
	return seen ? HTTP_CLEN_OK : HTTP_CLEN_NONE;
}

enum {
	CS_SIZE0,      /* start of a chunk-size line: a hex digit must come */
	CS_SIZE,       /* in the hex digits */
	CS_EXT,        /* after the digits: white space and extensions up to the end of line */
	CS_SIZE_LF,    /* a '\r' ended the size line: '\n' must follow */
	CS_DATA,       /* chunk data, st->remaining bytes to go */
	CS_DATA_END,   /* after the data: "\r\n" or "\n" */
	CS_DATA_LF,    /* after the data and a '\r' */
	CS_TRAILER0,   /* start of a trailer line (or of the final blank line) */
	CS_TRAILER,    /* inside a trailer field, skipped */
	CS_TRAILER_LF, /* a '\r' in a trailer line */
	CS_END_LF,     /* the final blank line's '\r' */
	CS_DONE,
};

#define CHUNK_MAX_SIZE ((uint64_t)1 << 40)

/* The end of a chunk-size line: the data follows, or the trailers after the last chunk. */
static int
size_line_done(struct http_chunked *st)
{
	st->line_len = 0;
	st->state = st->remaining == 0 ? CS_TRAILER0 : CS_DATA;
	return 0;
}

/* One byte of a chunk-size line (size, extensions, line end). Returns 0 or -1. */
static int
chunk_size_byte(struct http_chunked *st, unsigned char c)
{
	int d;

	if (++st->line_len > HTTP_MAX_CHUNK_LINE)
		return -1;
	switch (st->state) {
	case CS_SIZE0:
	case CS_SIZE:
		if ((d = util_hexval(c)) >= 0) {
			st->remaining = st->remaining * 16 + (uint64_t)d;
			st->state = CS_SIZE;
			return st->remaining > CHUNK_MAX_SIZE ? -1 : 0;
		}
		if (st->state == CS_SIZE0)
			return -1;
		if (c == ';' || c == ' ' || c == '\t') {
			st->state = CS_EXT;
			return 0;
		}
		break;
	case CS_EXT:
		if (c != '\r' && c != '\n')
			return (c < 0x20 && c != '\t') || c == 0x7f ? -1 : 0;
		break;
	case CS_SIZE_LF:
		return c == '\n' ? size_line_done(st) : -1;
	}
	if (c == '\r') {
		st->state = CS_SIZE_LF;
		return 0;
	}
	return c == '\n' ? size_line_done(st) : -1;
}

/* One byte of the trailer section, skipped within the bound of a response head. Returns 0 or -1. */
static int
chunk_trailer_byte(struct http_chunked *st, unsigned char c)
{
	if (++st->line_len > HTTP_MAX_HEAD)
		return -1;
	if (c == '\r')
		st->state = st->state == CS_TRAILER0 ? CS_END_LF : CS_TRAILER_LF;
	else if (c == '\n')
		st->state = st->state == CS_TRAILER0 ? CS_DONE : CS_TRAILER0;
	else if ((c < 0x20 && c != '\t') || c == 0x7f)
		return -1;
	else
		st->state = CS_TRAILER;
	return 0;
}

/* One byte of the framing around the chunk data. Returns 0 or -1. */
static int
chunk_byte(struct http_chunked *st, unsigned char c)
{
	switch (st->state) {
	case CS_SIZE0:
	case CS_SIZE:
	case CS_EXT:
	case CS_SIZE_LF:
		return chunk_size_byte(st, c);
	case CS_DATA_END:
		if (c != '\r' && c != '\n')
			return -1;
		st->state = c == '\r' ? CS_DATA_LF : CS_SIZE0;
		return 0;
	case CS_DATA_LF:
	case CS_TRAILER_LF:
	case CS_END_LF:
		if (c != '\n')
			return -1;
		st->state = st->state == CS_DATA_LF ? CS_SIZE0 : st->state == CS_TRAILER_LF ? CS_TRAILER0 : CS_DONE;
		return 0;
	case CS_TRAILER0:
	case CS_TRAILER:
		return chunk_trailer_byte(st, c);
	}
	return -1;
}

/* see http.h */
int
http_chunk_decode(struct http_chunked *st, char *buf, size_t *len, size_t *consumed)
{
	size_t in = 0, out = 0, n = *len;

	while (in < n && st->state != CS_DONE) {
		if (st->state == CS_DATA) {
			size_t take = n - in;

			if ((uint64_t)take > st->remaining)
				take = (size_t)st->remaining;
			memmove(buf + out, buf + in, take);
			out += take;
			in += take;
			st->remaining -= take;
			if (st->remaining == 0)
				st->state = CS_DATA_END;
			continue;
		}
		if (chunk_byte(st, (unsigned char)buf[in]) < 0)
			return -1;
		in++;
	}
	*len = out;
	*consumed = in;
	return st->state == CS_DONE ? 1 : 0;
}

const char *
http_header(const struct http_response *resp, const char *name, size_t *len)
{
	size_t i, nl = strlen(name);

	for (i = 0; i < resp->nhdrs; i++) {
		if (resp->hdrs[i].name_len == nl &&
		    strncasecmp(resp->hdrs[i].name, name, nl) == 0) {
			if (len != NULL)
				*len = resp->hdrs[i].value_len;
			return resp->hdrs[i].value;
		}
	}
	return NULL;
}

/* Whether the comma-separated list value[0..len) holds token (any case). */
static int
list_has(const char *value, size_t len, const char *token)
{
	size_t i = 0;

	while (i < len) {
		size_t s, e;

		while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
			i++;
		s = i;
		while (i < len && value[i] != ',')
			i++;
		e = i;
		while (e > s && (value[e - 1] == ' ' || value[e - 1] == '\t'))
			e--;
		if (e > s && util_strncaseeq(value + s, e - s, token))
			return 1;
	}
	return 0;
}

/* Whether the last coding of a Transfer-Encoding list is chunked. */
static int
last_is_chunked(const char *v, size_t len)
{
	size_t e = len, s;

	while (e > 0 && (v[e - 1] == ' ' || v[e - 1] == '\t' || v[e - 1] == ','))
		e--;
	s = e;
	while (s > 0 && v[s - 1] != ',' && v[s - 1] != ' ' && v[s - 1] != '\t')
		s--;
	return util_strncaseeq(v + s, e - s, "chunked");
}

/* ---- Proxies ------------------------------------------------------------ */

/* The first non-empty of the lower-case and the upper-case variable. */
static const char *
env_pair(char *const *envp, const char *lower, const char *upper, const char **which)
{
	const char *v = util_env(envp, lower);

	*which = v != NULL ? lower : upper;
	return v != NULL ? v : util_env(envp, upper);
}

static int
proxy_url(const char *name, const char *v, struct url *u, char *err, size_t errlen)
{
	char buf[URL_MAX_HOST + URL_MAX_PATH + 16];
	char why[512];

	const char *auth = strstr(v, "://"), *at;

	/* Credentials must not end up in a message: refuse them before parsing. */
	auth = auth != NULL ? auth + 3 : v;
	at = strchr(auth, '@');
	if (at != NULL && (size_t)(at - auth) < strcspn(auth, "/?#")) {
		util_fmt(err, errlen, "%s: proxy credentials in the URL are not supported", name);
		return -1;
	}
	/* curl takes "proxy:3128" to mean http://proxy:3128. */
	if (strstr(v, "://") == NULL) {
		if (util_snprintf(buf, sizeof buf, "http://%s", v) < 0) {
			util_fmt(err, errlen, "%s: proxy URL too long", name);
			return -1;
		}
		v = buf;
	}
	if (url_parse(v, u, why, sizeof why) < 0) {
		util_fmt(err, errlen, "%s: %s", name, why);
		return -1;
	}
	if (u->tls) {
		util_fmt(err, errlen, "%s: https:// proxies are not supported (use http://)", name);
		memset(u, 0, sizeof *u);
		return -1;
	}
	return 0;
}

int
http_proxy_from_env(struct http_proxy *p, char *const *envp, char *err, size_t errlen)
{
	const char *v, *which;

	memset(p, 0, sizeof *p);
	if ((v = env_pair(envp, "http_proxy", "HTTP_PROXY", &which)) != NULL &&
	    proxy_url(which, v, &p->http, err, errlen) < 0)
		return -1;
	if ((v = env_pair(envp, "https_proxy", "HTTPS_PROXY", &which)) != NULL &&
	    proxy_url(which, v, &p->https, err, errlen) < 0)
		return -1;
	if ((v = env_pair(envp, "no_proxy", "NO_PROXY", &which)) != NULL &&
	    util_strlcpy(p->no_proxy, v, sizeof p->no_proxy) < 0) {
		util_fmt(err, errlen, "%s: longer than %zu bytes", which, sizeof p->no_proxy - 1);
		return -1;
	}
	return 0;
}

/* Parses an IPv4 or IPv6 literal (no brackets) into 16 bytes; returns 4, 16 or 0. */
static int
parse_ip(const char *s, size_t len, unsigned char out[16])
{
	char tmp[64];

	if (len == 0 || len >= sizeof tmp)
		return 0;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (inet_pton(AF_INET, tmp, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, tmp, out) == 1)
		return 16;
	return 0;
}

/* Whether the first bits of a and b are equal. */
static int
prefix_eq(const unsigned char *a, const unsigned char *b, int bits)
{
	int i;

	for (i = 0; bits >= 8; i++, bits -= 8)
		if (a[i] != b[i])
			return 0;
	if (bits > 0) {
		unsigned char m = (unsigned char)(0xff << (8 - bits));

		if ((a[i] & m) != (b[i] & m))
			return 0;
	}
	return 1;
}

/* One no_proxy entry e[0..len) against host; both non-empty. */
static int
no_proxy_entry(const char *e, size_t len, const char *host, size_t hlen,
    const unsigned char *hip, int hiplen)
{
	unsigned char ip[16];
	const char *slash;
	int iplen, bits;

	if (len == 1 && e[0] == '*')
		return 1;
	if (len >= 2 && e[0] == '[') {
		/* "[::1]" or "[fd00::]/8": brackets around an IPv6 address are allowed. */
		const char *rb = memchr(e, ']', len);

		if (rb != NULL && hiplen == 16) {
			size_t al = (size_t)(rb - e - 1), rest = len - (size_t)(rb - e) - 1;
			char tmp[80];

			if (al + rest + 1 < sizeof tmp) {
				memcpy(tmp, e + 1, al);
				memcpy(tmp + al, rb + 1, rest);
				return no_proxy_entry(tmp, al + rest, host, hlen, hip, hiplen);
			}
		}
		return 0;
	}
	slash = memchr(e, '/', len);
	if (hiplen > 0) {
		size_t al = slash != NULL ? (size_t)(slash - e) : len;

		if ((iplen = parse_ip(e, al, ip)) != hiplen)
			return 0;
		bits = iplen * 8;
		if (slash != NULL) {
			const char *b = slash + 1;
			size_t bl = len - al - 1, k;

			if (bl == 0 || bl > 3)
				return 0;
			bits = 0;
			for (k = 0; k < bl; k++) {
				if (!isdigit((unsigned char)b[k]))
					return 0;
				bits = bits * 10 + (b[k] - '0');
			}
			if (bits > iplen * 8)
				return 0;
		}
		return prefix_eq(ip, hip, bits);
	}
	if (slash != NULL)
		return 0;
	/* A leading dot means the same as none: the domain and everything under it. */
	if (e[0] == '.') {
		e++;
		len--;
	}
	if (len == 0 || len > hlen)
		return 0;
	if (len == hlen)
		return strncasecmp(e, host, len) == 0;
	return host[hlen - len - 1] == '.' && strncasecmp(e, host + hlen - len, len) == 0;
}

int
http_no_proxy_match(const char *no_proxy, const char *host)
{
	unsigned char hip[16];
	size_t hlen = strlen(host);
	const char *p = no_proxy;
	int hiplen;

	/* A host name with a trailing dot is the same host. */
	if (hlen > 1 && host[hlen - 1] == '.')
		hlen--;
	hiplen = parse_ip(host, hlen, hip);
	while (p != NULL && *p != '\0') {
		size_t len;
		const char *e;

		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		e = p;
		while (*p != '\0' && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		len = (size_t)(p - e);
		if (len > 0 && no_proxy_entry(e, len, host, hlen, hip, hiplen))
			return 1;
	}
	return 0;
}

/* The instance metadata service is link-local and must never go through a proxy. */
static int
is_imds(const char *host)
{
	return strcmp(host, "169.254.169.254") == 0 || strcasecmp(host, "fd00:ec2::254") == 0;
}

/* ---- The client --------------------------------------------------------- */

void
http_client_init(struct http_client *hc, const struct tls_config *tls,
    const struct http_proxy *proxy)
{
	memset(hc, 0, sizeof *hc);
	hc->tls = tls;
	hc->proxy = proxy;
	hc->fd = -1;
}

/* Drops the live connection (keeping the TLS state for the next one). */
static void
conn_drop(struct http_client *hc)
{
	if (hc->tls_on)
		tls_disconnect(hc->tc);
	hc->tls_on = 0;
	net_close(hc->fd);
	hc->fd = -1;
	hc->key[0] = '\0';
	hc->requests_on_conn = 0;
	hc->rbuf_off = hc->rbuf_len = 0;
}

void
http_client_close(struct http_client *hc)
{
	conn_drop(hc);
	tls_conn_free(hc->tc);
	hc->tc = NULL;
}

int
http_host_header(const struct url *u, char *buf, size_t n)
{
	int def = u->port == (u->tls ? 443 : 80);

	if (def)
		return util_snprintf(buf, n, u->host_is_ipv6 ? "[%s]" : "%s", u->host);
	return url_hostport(u, buf, n);
}

/* Where one request goes: straight to the URL's host, or through a proxy. */
struct route {
	const struct url *target;
	const struct url *via;       /* the proxy, or NULL */
	int tunnel;                  /* https through the proxy: CONNECT first */
	char target_hp[URL_MAX_HOST + 8];
	char via_hp[URL_MAX_HOST + 8];
};

/* How an exchange failed, to decide on a retry. */
struct outcome {
	int closed;        /* the peer closed or reset the connection */
	int timed_out;
	int write_failed;  /* the request could not be written in full */
	size_t received;   /* bytes of response seen */
};

static ssize_t
conn_read(struct http_client *hc, void *buf, size_t n, int64_t deadline_ms, char *err, size_t errlen)
{
	if (hc->tls_on)
		return tls_read(hc->tc, buf, n, deadline_ms, err, errlen);
	return net_read(hc->fd, buf, n, deadline_ms, err, errlen);
}

static int
conn_write(struct http_client *hc, const void *buf, size_t n, int64_t deadline_ms, char *err, size_t errlen)
{
	if (hc->tls_on)
		return tls_write(hc->tc, buf, n, deadline_ms, err, errlen);
	return net_write(hc->fd, buf, n, deadline_ms, err, errlen);
}

static int
conn_flush(struct http_client *hc, int64_t deadline_ms, char *err, size_t errlen)
{
	if (hc->tls_on)
		return tls_flush(hc->tc, deadline_ms, err, errlen);
	return 0;
}

/* Records a failed read or write in oc and formats "peer: reason" into err. */
static int
io_fail(struct outcome *oc, long r, const char *peer, const char *why, char *err, size_t errlen)
{
	if (r == NET_TIMEOUT)
		oc->timed_out = 1;
	else
		oc->closed = 1;
	util_fmt(err, errlen, "%s: %s", peer, why);
	return -1;
}

/*
 * Makes sure rbuf holds unread bytes, reading once if it is empty. Returns
 * the count available, 0 at the end of the stream, or a NET_ code.
 */
static ssize_t
fill(struct http_client *hc, int64_t deadline_ms, char *why, size_t whylen)
{
	ssize_t r;

	if (hc->rbuf_off < hc->rbuf_len)
		return (ssize_t)(hc->rbuf_len - hc->rbuf_off);
	hc->rbuf_off = hc->rbuf_len = 0;
	r = conn_read(hc, hc->rbuf, sizeof hc->rbuf, deadline_ms, why, whylen);
	if (r > 0)
		hc->rbuf_len = (size_t)r;
	return r;
}

/*
 * Reads one response head into hc->head and parses it into resp. Bytes
 * after the head stay in rbuf. Returns 0 or -1 with err.
 */
static int
read_head(struct http_client *hc, struct http_response *resp, int *minor,
    const char *peer, struct outcome *oc, int64_t deadline_ms, char *err, size_t errlen)
{
	char why[256];

	hc->head_len = 0;
	for (;;) {
		size_t avail, k;
		ssize_t r;
		int n;

		r = fill(hc, deadline_ms, why, sizeof why);
		if (r == 0) {
			oc->closed = 1;
			util_fmt(err, errlen, "%s: connection closed %s", peer,
			    oc->received == 0 ? "before any response" : "in the middle of the response head");
			return -1;
		}
		if (r < 0)
			return io_fail(oc, (long)r, peer, why, err, errlen);
		avail = hc->rbuf_len - hc->rbuf_off;
		k = sizeof hc->head - hc->head_len;
		if (k > avail)
			k = avail;
		if (k == 0) {
			util_fmt(err, errlen, "%s: response head over %d bytes", peer, HTTP_MAX_HEAD);
			return -1;
		}
		memcpy(hc->head + hc->head_len, hc->rbuf + hc->rbuf_off, k);
		oc->received += k;
		resp->nhdrs = HTTP_MAX_HEADERS;
		n = http_parse_head(hc->head, hc->head_len + k, &resp->status, minor,
		    resp->hdrs, &resp->nhdrs);
		if (n > 0) {
			hc->rbuf_off += (size_t)n - hc->head_len;
			hc->head_len = (size_t)n;
			return 0;
		}
		if (n == -1) {
			util_fmt(err, errlen, "%s: malformed response head (not HTTP/1.x, or over %d header fields)",
			    peer, HTTP_MAX_HEADERS);
			return -1;
		}
		hc->rbuf_off += k;
		hc->head_len += k;
	}
}

/* Whether the body of resp goes to its sink rather than its buffer. */
static int
streaming(const struct http_response *resp)
{
	return resp->sink != NULL && resp->status / 100 == 2;
}

/* Appends n decoded body bytes to resp (or hands them to its sink), or fails if they do not fit. */
static int
body_put(struct http_response *resp, const char *p, size_t n, const char *peer, char *err, size_t errlen)
{
	size_t max = resp->body_cap > 0 ? resp->body_cap - 1 : 0;

	if (n == 0)
		return 0;
	if (streaming(resp)) {
		if (n > resp->sink_max - resp->sunk) {
			util_fmt(err, errlen, "%s: response body over %llu bytes", peer,
			    (unsigned long long)resp->sink_max);
			return -1;
		}
		resp->sunk += n;
		return resp->sink(resp->sink_arg, p, n, err, errlen);
	}
	if (n > max - resp->body_len) {
		util_fmt(err, errlen, "%s: response body over %zu bytes", peer, max);
		return -1;
	}
	memcpy(resp->body + resp->body_len, p, n);
	resp->body_len += n;
	return 0;
}

enum framing { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_CLOSE };

/* Hands a body of clen bytes to resp's sink as they arrive. Returns 0 or -1 with err. */
static int
sink_length(struct http_client *hc, struct http_response *resp, uint64_t clen, const char *peer,
    struct outcome *oc, int64_t deadline_ms, char *err, size_t errlen)
{
	char why[256];

	while (resp->sunk < clen) {
		ssize_t r = fill(hc, deadline_ms, why, sizeof why);
		size_t k;

		if (r == 0) {
			oc->closed = 1;
			util_fmt(err, errlen, "%s: connection closed after %llu of %llu body bytes",
			    peer, (unsigned long long)resp->sunk, (unsigned long long)clen);
			return -1;
		}
		if (r < 0)
			return io_fail(oc, (long)r, peer, why, err, errlen);
		k = hc->rbuf_len - hc->rbuf_off;
		if (k > clen - resp->sunk)
			k = (size_t)(clen - resp->sunk);
		oc->received += k;
		if (body_put(resp, hc->rbuf + hc->rbuf_off, k, peer, err, errlen) < 0)
			return -1;
		hc->rbuf_off += k;
	}
	return 0;
}

/* A body of clen bytes into resp->body (which has room). Returns 0 or -1 with err and oc. */
static int
read_length(struct http_client *hc, struct http_response *resp, uint64_t clen, const char *peer,
    struct outcome *oc, int64_t deadline_ms, char *err, size_t errlen)
{
	char why[256];
	ssize_t r;

	while (resp->body_len < clen) {
		size_t want = (size_t)clen - resp->body_len;

		if (hc->rbuf_off < hc->rbuf_len) {
			size_t k = hc->rbuf_len - hc->rbuf_off;

			if (k > want)
				k = want;
			memcpy(resp->body + resp->body_len, hc->rbuf + hc->rbuf_off, k);
			hc->rbuf_off += k;
			resp->body_len += k;
			continue;
		}
		/* Large bodies go straight into the caller's buffer. */
		r = conn_read(hc, resp->body + resp->body_len, want, deadline_ms, why, sizeof why);
		if (r == 0) {
			oc->closed = 1;
			util_fmt(err, errlen, "%s: connection closed after %zu of %llu body bytes",
			    peer, resp->body_len, (unsigned long long)clen);
			return -1;
		}
		if (r < 0)
			return io_fail(oc, (long)r, peer, why, err, errlen);
		oc->received += (size_t)r;
		resp->body_len += (size_t)r;
	}
	return 0;
}

/* A chunked body, decoded as it arrives. Returns 0 or -1 with err and oc. */
static int
read_chunked(struct http_client *hc, struct http_response *resp, const char *peer,
    struct outcome *oc, int64_t deadline_ms, char *err, size_t errlen)
{
	struct http_chunked ch;
	char why[256];
	ssize_t r;

	memset(&ch, 0, sizeof ch);
	for (;;) {
		size_t n, used;
		int d;

		r = fill(hc, deadline_ms, why, sizeof why);
		if (r == 0) {
			oc->closed = 1;
			util_fmt(err, errlen, "%s: connection closed in the middle of a chunked body", peer);
			return -1;
		}
		if (r < 0)
			return io_fail(oc, (long)r, peer, why, err, errlen);
		n = hc->rbuf_len - hc->rbuf_off;
		d = http_chunk_decode(&ch, hc->rbuf + hc->rbuf_off, &n, &used);
		if (d < 0) {
			util_fmt(err, errlen, "%s: malformed chunked body", peer);
			return -1;
		}
		if (body_put(resp, hc->rbuf + hc->rbuf_off, n, peer, err, errlen) < 0)
			return -1;
		hc->rbuf_off += used;
		if (d == 1)
			return 0;
	}
}

/* A body that ends when the peer closes. Returns 0 or -1 with err and oc. */
static int
read_to_close(struct http_client *hc, struct http_response *resp, const char *peer,
    struct outcome *oc, int64_t deadline_ms, char *err, size_t errlen)
{
	char why[256];
	ssize_t r;

	for (;;) {
		r = fill(hc, deadline_ms, why, sizeof why);
		if (r == 0)
			return 0;
		if (r < 0)
			return io_fail(oc, (long)r, peer, why, err, errlen);
		oc->received += (size_t)r;
		if (body_put(resp, hc->rbuf + hc->rbuf_off, (size_t)r, peer, err, errlen) < 0)
			return -1;
		hc->rbuf_off = hc->rbuf_len;
	}
}

/*
 * Reads the body framed as fr (of clen bytes for BODY_LENGTH) into resp,
 * or its sink. Returns 0 or -1 with err and oc.
 */
static int
read_body(struct http_client *hc, struct http_response *resp, enum framing fr, uint64_t clen,
    const char *peer, struct outcome *oc, int64_t deadline_ms, char *err, size_t errlen)
{
	uint64_t max = resp->body_cap > 0 ? resp->body_cap - 1 : 0;

	if (streaming(resp))
		max = resp->sink_max;
	switch (fr) {
	case BODY_NONE:
		return 0;
	case BODY_LENGTH:
		if (clen > max) {
			util_fmt(err, errlen, "%s: response body over %llu bytes (Content-Length %llu)",
			    peer, (unsigned long long)max, (unsigned long long)clen);
			return -1;
		}
		if (streaming(resp))
			return sink_length(hc, resp, clen, peer, oc, deadline_ms, err, errlen);
		return read_length(hc, resp, clen, peer, oc, deadline_ms, err, errlen);
	case BODY_CHUNKED:
		return read_chunked(hc, resp, peer, oc, deadline_ms, err, errlen);
	case BODY_CLOSE:
		return read_to_close(hc, resp, peer, oc, deadline_ms, err, errlen);
	}
	return -1;
}

/* Whether a request header name is one http_do writes itself. */
static int
is_own_header(const char *name)
{
	return strcasecmp(name, "Content-Length") == 0 || strcasecmp(name, "Transfer-Encoding") == 0;
}

static int
has_header(const struct http_request *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return 1;
	return 0;
}

/* Whether s holds a byte that would break the framing of a header line. */
static int
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 && *s != '\t')
			return 1;
	return 0;
}

/* Formats the request head of req along rt into buf. Returns its length or -1 with err. */
static int
build_head(const struct http_request *req, const struct route *rt, char *buf, size_t cap,
    char *err, size_t errlen)
{
	const struct url *u = req->url;
	char host[URL_MAX_HOST + 8];
	struct util_buf b;
	size_t i;
	int needs_len;

	if (req->method == NULL || req->method[0] == '\0' || has_ctl(req->method) ||
	    strchr(req->method, ' ') != NULL) {
		util_fmt(err, errlen, "%s: bad request method", rt->target_hp);
		return -1;
	}
	if (http_host_header(u, host, sizeof host) < 0) {
		util_fmt(err, errlen, "%s: host too long", rt->target_hp);
		return -1;
	}
	util_buf_init(&b, buf, cap);
	/* Through a plain proxy the target is the absolute URL (RFC 9112 3.2.2). */
	if (rt->via != NULL && !rt->tunnel)
		util_buf_fmt(&b, "%s http://%s%s HTTP/1.1\r\n", req->method, host, u->path);
	else
		util_buf_fmt(&b, "%s %s HTTP/1.1\r\n", req->method, u->path);
	if (!has_header(req, "Host"))
		util_buf_fmt(&b, "Host: %s\r\n", host);
	if (!has_header(req, "User-Agent"))
		util_buf_fmt(&b, "User-Agent: despotify/" DESPOTIFY_VERSION "\r\n");
	if (!has_header(req, "Connection"))
		util_buf_fmt(&b, "Connection: keep-alive\r\n");
	for (i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];
		size_t k;

		if (h->name[0] == '\0' || has_ctl(h->value)) {
			util_fmt(err, errlen, "%s: bad request header \"%s\"", rt->target_hp, h->name);
			return -1;
		}
		for (k = 0; h->name[k] != '\0'; k++) {
			if (!is_tchar((unsigned char)h->name[k])) {
				util_fmt(err, errlen, "%s: bad request header name", rt->target_hp);
				return -1;
			}
		}
		if (is_own_header(h->name))
			continue;
		util_buf_fmt(&b, "%s: %s\r\n", h->name, h->value);
	}
	needs_len = req->body_len > 0 || strcmp(req->method, "POST") == 0 ||
	    strcmp(req->method, "PUT") == 0 || strcmp(req->method, "PATCH") == 0;
	if (needs_len)
		util_buf_fmt(&b, "Content-Length: %zu\r\n", req->body_len);
	util_buf_fmt(&b, "\r\n");
	if (b.over) {
		util_fmt(err, errlen, "%s: request head over %d bytes", rt->target_hp, HTTP_MAX_REQ_HEAD);
		return -1;
	}
	return (int)b.len;
}

/* Sends CONNECT for rt->target through the proxy on hc->fd. Returns 0 or -1 with err. */
static int
tunnel(struct http_client *hc, const struct route *rt, int64_t deadline_ms, char *err, size_t errlen)
{
	struct http_response resp;
	struct outcome oc;
	char req[2 * URL_MAX_HOST + 128], why[256], peer[URL_MAX_HOST + 32];
	int minor, n, r;

	memset(&oc, 0, sizeof oc);
	util_fmt(peer, sizeof peer, "proxy %s", rt->via_hp);
	n = util_fmt(req, sizeof req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: despotify/" DESPOTIFY_VERSION "\r\n\r\n", rt->target_hp, rt->target_hp);
	if (n < 0 || (size_t)n >= sizeof req) {
		util_fmt(err, errlen, "%s: CONNECT request too long", peer);
		return -1;
	}
	r = net_write(hc->fd, req, (size_t)n, deadline_ms, why, sizeof why);
	if (r < 0)
		return io_fail(&oc, r, peer, why, err, errlen);
	memset(&resp, 0, sizeof resp);
	if (read_head(hc, &resp, &minor, peer, &oc, deadline_ms, err, errlen) < 0)
		return -1;
	if (resp.status / 100 != 2) {
		util_fmt(err, errlen, "%s: CONNECT %s refused with status %d", peer, rt->target_hp,
		    resp.status);
		return -1;
	}
	/* The server speaks first after a tunnel only in TLS, which we start: nothing may be left. */
	if (hc->rbuf_off != hc->rbuf_len) {
		util_fmt(err, errlen, "%s: unexpected bytes after the CONNECT response", peer);
		return -1;
	}
	return 0;
}

/* Opens a connection along rt (TCP, CONNECT, TLS). Returns 0 or -1 with err. */
static int
conn_open(struct http_client *hc, const struct route *rt, const char *key, int64_t deadline_ms,
    char *err, size_t errlen)
{
	const struct url *u = rt->via != NULL ? rt->via : rt->target;
	char why[512];

	if (rt->target->tls && hc->tls == NULL) {
		util_fmt(err, errlen, "%s: https needs a TLS configuration", rt->target_hp);
		return -1;
	}
	hc->fd = net_connect(u->host, u->port, deadline_ms, why, sizeof why);
	if (hc->fd < 0) {
		if (rt->via != NULL)
			util_fmt(err, errlen, "proxy %s: %s", rt->via_hp, why);
		else
			util_fmt(err, errlen, "%s", why);
		return -1;
	}
	hc->connects++;
	hc->rbuf_off = hc->rbuf_len = 0;
	if (rt->tunnel && tunnel(hc, rt, deadline_ms, err, errlen) < 0) {
		conn_drop(hc);
		return -1;
	}
	if (rt->target->tls) {
		if (hc->tc == NULL && (hc->tc = tls_conn_new()) == NULL) {
			util_fmt(err, errlen, "%s: out of memory for TLS", rt->target_hp);
			conn_drop(hc);
			return -1;
		}
		if (tls_handshake(hc->tc, hc->tls, hc->fd, rt->target->host, rt->target->port,
		    deadline_ms, why, sizeof why) < 0) {
			util_fmt(err, errlen, "%s: %s", rt->target_hp, why);
			conn_drop(hc);
			return -1;
		}
		hc->tls_on = 1;
	}
	util_strlcpy(hc->key, key, sizeof hc->key);
	return 0;
}

/* Writes the head and body of req. Returns 0 or -1 with err and oc. */
static int
send_request(struct http_client *hc, const struct http_request *req, const struct route *rt,
    struct outcome *oc, int64_t deadline_ms, char *err, size_t errlen)
{
	char head[HTTP_MAX_REQ_HEAD], why[256];
	int n, r;

	n = build_head(req, rt, head, sizeof head, err, errlen);
	if (n < 0)
		return -1;
	/* Head and a small body in one write: one segment, one record. */
	if (req->body_len > 0 && req->body_len <= sizeof head - (size_t)n) {
		memcpy(head + n, req->body, req->body_len);
		r = conn_write(hc, head, (size_t)n + req->body_len, deadline_ms, why, sizeof why);
	} else {
		r = conn_write(hc, head, (size_t)n, deadline_ms, why, sizeof why);
		if (r == 0 && req->body_len > 0)
			r = conn_write(hc, req->body, req->body_len, deadline_ms, why, sizeof why);
	}
	if (r == 0)
		r = conn_flush(hc, deadline_ms, why, sizeof why);
	if (r < 0) {
		oc->write_failed = 1;
		return io_fail(oc, r, rt->target_hp, why, err, errlen);
	}
	return 0;
}

/* Reads heads until the final one (skipping 1xx). Returns 0 or -1 with err and oc. */
static int
read_final_head(struct http_client *hc, struct http_response *resp, int *minor, const char *peer,
    struct outcome *oc, int64_t deadline_ms, char *err, size_t errlen)
{
	int interim = 0;

	for (;;) {
		if (read_head(hc, resp, minor, peer, oc, deadline_ms, err, errlen) < 0)
			return -1;
		if (resp->status >= 200)
			return 0;
		if (resp->status == 101) {
			util_fmt(err, errlen, "%s: unexpected 101 Switching Protocols", peer);
			return -1;
		}
		/* 100 Continue, 102, 103 Early Hints: informational, the real answer follows. */
		if (++interim > HTTP_MAX_INTERIM) {
			util_fmt(err, errlen, "%s: over %d informational responses", peer, HTTP_MAX_INTERIM);
			return -1;
		}
	}
}

/* Whether the connection may carry another request, going by both sides' Connection headers. */
static int
may_keep(const struct http_request *req, const struct http_response *resp, int minor)
{
	const char *v;
	size_t vlen, i;
	int keep = minor >= 1;

	if ((v = http_header(resp, "Connection", &vlen)) != NULL) {
		if (list_has(v, vlen, "close"))
			keep = 0;
		else if (list_has(v, vlen, "keep-alive"))
			keep = 1;
	}
	for (i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, "Connection") == 0 &&
		    list_has(req->headers[i].value, strlen(req->headers[i].value), "close"))
			keep = 0;
	return keep;
}

/*
 * How the body of resp (the answer to req) is framed (RFC 9112 6.3), its
 * length in *clen for BODY_LENGTH; clears *keep where the connection cannot
 * be trusted after it. Returns the framing, or -1 with err.
 */
static int
body_framing(const struct http_request *req, const struct http_response *resp, const char *peer,
    uint64_t *clen, int *keep, char *err, size_t errlen)
{
	const char *v;
	size_t vlen;
	int fr;

	if (strcmp(req->method, "HEAD") == 0 || resp->status == 204 || resp->status == 304)
		return BODY_NONE;
	if ((v = http_header(resp, "Transfer-Encoding", &vlen)) != NULL) {
		fr = last_is_chunked(v, vlen) ? BODY_CHUNKED : BODY_CLOSE;
		/* With both, Transfer-Encoding wins and the connection cannot be trusted after. */
		if (http_header(resp, "Content-Length", NULL) != NULL || fr == BODY_CLOSE)
			*keep = 0;
		return fr;
	}
	switch (http_content_length(resp->hdrs, resp->nhdrs, clen)) {
	case HTTP_CLEN_OK:
		return BODY_LENGTH;
	case HTTP_CLEN_BAD:
		util_fmt(err, errlen, "%s: bad Content-Length", peer);
		return -1;
	case HTTP_CLEN_CONFLICT:
		util_fmt(err, errlen, "%s: conflicting Content-Length headers", peer);
		return -1;
	}
	*keep = 0;
	return BODY_CLOSE;
}

/*
 * One request and response on the open connection. Returns 0 or -1 with
 * err and oc telling how it failed.
 */
static int
exchange(struct http_client *hc, const struct http_request *req, const struct route *rt,
    struct http_response *resp, struct outcome *oc, int64_t deadline_ms, char *err, size_t errlen)
{
	const char *peer = rt->target_hp;
	uint64_t clen = 0;
	int fr, minor = 1, keep;

	if (send_request(hc, req, rt, oc, deadline_ms, err, errlen) < 0)
		return -1;
	resp->body_len = 0;
	resp->sunk = 0;
	if (resp->body_cap > 0)
		resp->body[0] = '\0';
	if (read_final_head(hc, resp, &minor, peer, oc, deadline_ms, err, errlen) < 0)
		return -1;
	keep = may_keep(req, resp, minor);
	if ((fr = body_framing(req, resp, peer, &clen, &keep, err, errlen)) < 0 ||
	    read_body(hc, resp, (enum framing)fr, clen, peer, oc, deadline_ms, err, errlen) < 0)
		return -1;
	if (resp->body_cap > 0)
		resp->body[resp->body_len] = '\0';
	/* Bytes past the response would be a stray answer: do not reuse the connection. */
	if (hc->rbuf_off != hc->rbuf_len)
		keep = 0;
	if (keep) {
		hc->requests_on_conn++;
		hc->last_used_ms = util_now_ms();
	} else {
		conn_drop(hc);
	}
	return 0;
}

int
http_do(struct http_client *hc, const struct http_request *req,
    struct http_response *resp, int64_t deadline_ms, char *err, size_t errlen)
{
	struct route rt;
	char key[sizeof hc->key];
	int attempt;

	memset(&rt, 0, sizeof rt);
	rt.target = req->url;
	if (url_hostport(rt.target, rt.target_hp, sizeof rt.target_hp) < 0) {
		util_fmt(err, errlen, "%s: host too long", rt.target->host);
		return -1;
	}
	if (hc->proxy != NULL && !is_imds(rt.target->host) &&
	    !http_no_proxy_match(hc->proxy->no_proxy, rt.target->host)) {
		const struct url *via = rt.target->tls ? &hc->proxy->https : &hc->proxy->http;

		if (via->host[0] != '\0') {
			rt.via = via;
			rt.tunnel = rt.target->tls;
			if (url_hostport(via, rt.via_hp, sizeof rt.via_hp) < 0) {
				util_fmt(err, errlen, "proxy %s: host too long", via->host);
				return -1;
			}
		}
	}
	util_fmt(key, sizeof key, "%s://%s%s%s", rt.target->tls ? "https" : "http", rt.target_hp,
	    rt.via != NULL ? " via " : "", rt.via_hp);

	for (attempt = 0;; attempt++) {
		struct outcome oc;
		int reused = 0;

		memset(&oc, 0, sizeof oc);
		if (hc->fd >= 0 && (strcmp(hc->key, key) != 0 ||
		    util_now_ms() - hc->last_used_ms > HTTP_IDLE_REUSE_MS || !net_idle_ok(hc->fd)))
			conn_drop(hc);
		if (hc->fd >= 0)
			reused = 1;
		else if (conn_open(hc, &rt, key, deadline_ms, err, errlen) < 0)
			return -1;
		if (exchange(hc, req, &rt, resp, &oc, deadline_ms, err, errlen) == 0)
			return 0;
		conn_drop(hc);
		/*
		 * A kept-alive connection the server had already closed: try once
		 * more on a fresh one, if the request is safe to repeat or the
		 * server cannot have acted on it.
		 */
		if (!reused || attempt > 0 || !oc.closed || oc.timed_out || resp->sunk > 0)
			return -1;
		if (!req->idempotent && !oc.write_failed && oc.received > 0)
			return -1;
	}
}
