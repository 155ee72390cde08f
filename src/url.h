/*
 * url.h — parsing http:// and https:// URLs, and percent-encoding.
 *
 * Pure functions over bytes: no allocation, no I/O.
 */
#ifndef DESPOTIFY_URL_H
#define DESPOTIFY_URL_H

#include <stddef.h>

#include "bounds.h"
#include "util.h"

struct url {
	int tls;                     /* 1 for https */
	char host[URL_MAX_HOST];     /* name or address, IPv6 without brackets */
	int host_is_ipv6;            /* the host was a bracketed IPv6 literal */
	int port;                    /* explicit, or 80 / 443 */
	char path[URL_MAX_PATH];     /* path and query, "/" if the URL had none */
};

/*
 * Parses s ("https://10.0.0.1:6443", "http://[fd00::1]/x?y=1",
 * "https://autoscaling.us-east-1.amazonaws.com/") into *u. User info and
 * fragments are refused, as are empty hosts, bad ports (0 or over 65535),
 * control characters and white space. Returns 0, or -1 with the reason in err.
 */
int url_parse(const char *s, struct url *u, char *err, size_t errlen);

/*
 * Writes "host:port" (with brackets for IPv6) into buf: the key under which
 * connections are kept alive and the Host header. Returns 0 or -1 if it did
 * not fit.
 */
int url_hostport(const struct url *u, char *buf, size_t n);

/*
 * Percent-encodes len bytes of s into out (cap bytes, NUL-terminated),
 * leaving the RFC 3986 unreserved set (A-Z a-z 0-9 - . _ ~) as it is and
 * encoding everything else as %XX with upper-case hex, which is what both
 * SigV4 and Kubernetes query strings expect. If keep_slash, '/' is kept too
 * (for paths). Returns the encoded length, or -1 if out was too small.
 */
int url_encode(const char *s, size_t len, char *out, size_t cap, int keep_slash);

/* Appends the url_encode of s[0..len) to b; marks b over if it does not fit. */
void url_buf_encode(struct util_buf *b, const char *s, size_t len, int keep_slash);

/*
 * Decodes %XX escapes (and '+' as a space if plus_space) of len bytes of s
 * into out (cap bytes, NUL-terminated). Returns the decoded length, or -1 on
 * a malformed escape or if out was too small.
 */
int url_decode(const char *s, size_t len, char *out, size_t cap, int plus_space);

#endif
