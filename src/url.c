/* url.c — see url.h. */
#include "url.h"

#include <ctype.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* How much of a bad URL an error message quotes: enough to recognise it, never a page. */
#define URL_SHOW 96

/* Formats "URL \"...\": reason" into err, quoting at most URL_SHOW bytes of s. */
static void fail(char *err, size_t errlen, const char *s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
fail(char *err, size_t errlen, const char *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = util_fmt(err, errlen, "URL \"%.*s%s\": ", URL_SHOW, s, strlen(s) > URL_SHOW ? "..." : "");
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	util_vfmt(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/*
 * The host of URL s, from host up to pathp, into u->host. Returns where the
 * host ends (at ':' or pathp), or NULL with err.
 */
static const char *
parse_host(const char *s, const char *host, const char *pathp, struct url *u, char *err, size_t errlen)
{
	const char *hend, *after;
	size_t hlen;

	if (*host == '[') {
		hend = memchr(host, ']', (size_t)(pathp - host));
		if (hend == NULL) {
			fail(err, errlen, s, "unterminated IPv6 literal");
			return NULL;
		}
		host++;
		hlen = (size_t)(hend - host);
		after = hend + 1;
		u->host_is_ipv6 = 1;
		if (hlen == 0 || strspn(host, "0123456789abcdefABCDEF:.") < hlen) {
			fail(err, errlen, s, "malformed IPv6 literal");
			return NULL;
		}
	} else {
		hend = memchr(host, ':', (size_t)(pathp - host));
		if (hend == NULL)
			hend = pathp;
		hlen = (size_t)(hend - host);
		after = hend;
		if (strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") < hlen) {
			fail(err, errlen, s, "bad character in host name");
			return NULL;
		}
	}
	if (hlen == 0) {
		fail(err, errlen, s, "no host");
		return NULL;
	}
	if (hlen >= sizeof u->host) {
		fail(err, errlen, s, "host longer than %zu bytes", sizeof u->host - 1);
		return NULL;
	}
	memcpy(u->host, host, hlen);
	return after;
}

/* The port of URL s, ":digits" from p up to pathp (none: the scheme's), into u->port. Returns 0 or -1. */
static int
parse_port(const char *s, const char *p, const char *pathp, struct url *u, char *err, size_t errlen)
{
	long port = 0;

	if (p == pathp) {
		u->port = u->tls ? 443 : 80;
		return 0;
	}
	if (*p != ':' || p + 1 == pathp) {
		fail(err, errlen, s, "malformed port");
		return -1;
	}
	for (p++; p < pathp; p++) {
		if (!isdigit((unsigned char)*p) || (port = port * 10 + (*p - '0')) > 65535) {
			fail(err, errlen, s, "bad port");
			return -1;
		}
	}
	if (port == 0) {
		fail(err, errlen, s, "bad port");
		return -1;
	}
	u->port = (int)port;
	return 0;
}

/* The path and query of URL s, from pathp, into u->path ("/" when empty). Returns 0 or -1. */
static int
parse_path(const char *s, const char *pathp, struct url *u, char *err, size_t errlen)
{
	size_t plen = strlen(pathp), off = 0;

	if (strchr(pathp, '#') != NULL) {
		fail(err, errlen, s, "fragments are not supported");
		return -1;
	}
	if (*pathp == '\0' || *pathp == '?')
		u->path[off++] = '/';
	if (plen + off >= sizeof u->path) {
		fail(err, errlen, s, "path longer than %zu bytes", sizeof u->path - 1);
		return -1;
	}
	memcpy(u->path + off, pathp, plen + 1);
	return 0;
}

/* see url.h */
int
url_parse(const char *s, struct url *u, char *err, size_t errlen)
{
	const char *p, *pathp;

	memset(u, 0, sizeof *u);
	for (p = s; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f) {
			fail(err, errlen, s, "contains white space or a control character");
			return -1;
		}
	}
	if (strncasecmp(s, "https://", 8) == 0) {
		u->tls = 1;
		p = s + 8;
	} else if (strncasecmp(s, "http://", 7) == 0) {
		p = s + 7;
	} else {
		fail(err, errlen, s, "must start with http:// or https://");
		return -1;
	}
	pathp = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(pathp - p)) != NULL) {
		fail(err, errlen, s, "user information is not supported");
		return -1;
	}
	if ((p = parse_host(s, p, pathp, u, err, errlen)) == NULL ||
	    parse_port(s, p, pathp, u, err, errlen) < 0 || parse_path(s, pathp, u, err, errlen) < 0)
		return -1;
	return 0;
}

int
url_hostport(const struct url *u, char *buf, size_t n)
{
	int r = util_fmt(buf, n, u->host_is_ipv6 ? "[%s]:%d" : "%s:%d", u->host, u->port);

	return r < 0 || (size_t)r >= n ? -1 : 0;
}

int
url_encode(const char *s, size_t len, char *out, size_t cap, int keep_slash)
{
	struct util_buf b;

	util_buf_init(&b, out, cap);
	url_buf_encode(&b, s, len, keep_slash);
	return util_buf_done(&b);
}

/* see url.h */
void
url_buf_encode(struct util_buf *b, const char *s, size_t len, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
		    (keep_slash && c == '/')) {
			util_buf_chr(b, (char)c);
		} else {
			util_buf_chr(b, '%');
			util_buf_chr(b, hex[c >> 4]);
			util_buf_chr(b, hex[c & 15]);
		}
	}
}

int
url_decode(const char *s, size_t len, char *out, size_t cap, int plus_space)
{
	struct util_buf b;
	size_t i;

	util_buf_init(&b, out, cap);
	for (i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len || (hi = util_hexval(s[i + 1])) < 0 ||
			    (lo = util_hexval(s[i + 2])) < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		} else if (c == '+' && plus_space) {
			c = ' ';
		}
		util_buf_chr(&b, (char)c);
	}
	return util_buf_done(&b);
}
