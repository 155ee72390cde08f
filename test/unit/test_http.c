/* test_http.c — the pure parts of http: response heads, chunked bodies, proxies. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "t.h"

static int
parse(const char *s, size_t len, int *status, int *minor, struct http_hdr *h, size_t *n)
{
	*n = HTTP_MAX_HEADERS;
	return http_parse_head(s, len, status, minor, h, n);
}

static void
test_head_basic(void)
{
	static const char r[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length:  5 \r\nX-Empty:\r\n\r\nhello";
	struct http_hdr h[HTTP_MAX_HEADERS];
	int status = 0, minor = -1;
	size_t n;

	CHECK_INT(parse(r, sizeof r - 1, &status, &minor, h, &n), (int)(sizeof r - 1 - 5));
	CHECK_INT(status, 200);
	CHECK_INT(minor, 1);
	CHECK_INT(n, 3);
	CHECK(h[0].name_len == 12 && memcmp(h[0].name, "Content-Type", 12) == 0);
	CHECK(h[0].value_len == 10 && memcmp(h[0].value, "text/plain", 10) == 0);
	/* Optional white space around a value is not part of it. */
	CHECK(h[1].value_len == 1 && h[1].value[0] == '5');
	CHECK_INT(h[2].value_len, 0);
}

static void
test_head_variants(void)
{
	struct http_hdr h[HTTP_MAX_HEADERS];
	int status, minor;
	size_t n;

	/* Bare LF line ends, no reason phrase, HTTP/1.0. */
	CHECK_INT(parse("HTTP/1.0 404\nA: b\n\n", 19, &status, &minor, h, &n), 19);
	CHECK_INT(status, 404);
	CHECK_INT(minor, 0);
	CHECK_INT(n, 1);
	/* An empty reason after the space. */
	CHECK_INT(parse("HTTP/1.1 204 \r\n\r\n", 17, &status, &minor, h, &n), 17);
	CHECK_INT(status, 204);
	CHECK_INT(n, 0);
	/* Informational heads parse like any other. */
	CHECK_INT(parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", 44, &status, &minor, h, &n), 25);
	CHECK_INT(status, 100);
	/* Reason phrases may hold any visible text, tabs and obs-text. */
	CHECK_INT(parse("HTTP/1.1 500 Oops\t\xe2\x9c\x97!\r\n\r\n", 26, &status, &minor, h, &n), 26);
}

static void
test_head_incremental(void)
{
	static const char r[] = "HTTP/1.1 301 Moved\r\nLocation: /x\r\nConnection: close\r\n\r\n";
	struct http_hdr h[HTTP_MAX_HEADERS];
	size_t len, n;
	int status, minor;

	/* Every proper prefix asks for more; only the whole head parses. */
	for (len = 0; len < sizeof r - 1; len++)
		CHECK_INT(parse(r, len, &status, &minor, h, &n), -2);
	CHECK_INT(parse(r, sizeof r - 1, &status, &minor, h, &n), (int)(sizeof r - 1));
	CHECK_INT(status, 301);
	CHECK_INT(n, 2);
}

static void
test_head_garbage(void)
{
	static const char *bad[] = {
		"hello world\r\n\r\n",
		"HTTP/2 200\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 099 Low\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n",
		"HTTP/1.x 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\nSpace : before colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: b\x01\r\n\r\n",
		"HTTP/1.1 200 O\x7fK\r\n\r\n",
	};
	struct http_hdr h[HTTP_MAX_HEADERS];
	size_t i, n;
	int status, minor;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int r = parse(bad[i], strlen(bad[i]), &status, &minor, h, &n);

		if (r != -1)
			printf("#   bad head %zu gave %d\n", i, r);
		CHECK_INT(r, -1);
	}
	/* A NUL inside a value. */
	CHECK_INT(parse("HTTP/1.1 200 OK\r\nA: \0\r\n\r\n", 24, &status, &minor, h, &n), -1);
	/* Garbage is refused from its first bytes, before any blank line. */
	CHECK_INT(parse("<html>", 6, &status, &minor, h, &n), -1);
	CHECK_INT(parse("HTTX", 4, &status, &minor, h, &n), -1);
	CHECK_INT(parse("HTTP/1.1 2x", 11, &status, &minor, h, &n), -2);
	CHECK_INT(parse("HTTP/1.1 2x\r\n", 13, &status, &minor, h, &n), -1);
}

static void
test_head_too_many_headers(void)
{
	char buf[HTTP_MAX_HEAD];
	struct http_hdr h[HTTP_MAX_HEADERS];
	size_t at, n;
	int i, status, minor;

	at = (size_t)sprintf(buf, "HTTP/1.1 200 OK\r\n");
	for (i = 0; i < HTTP_MAX_HEADERS; i++)
		at += (size_t)sprintf(buf + at, "H%d: v\r\n", i);
	at += (size_t)sprintf(buf + at, "\r\n");
	CHECK_INT(parse(buf, at, &status, &minor, h, &n), (int)at);
	CHECK_INT(n, HTTP_MAX_HEADERS);
	at -= 2;
	at += (size_t)sprintf(buf + at, "One: more\r\n\r\n");
	CHECK_INT(parse(buf, at, &status, &minor, h, &n), -1);
	/* A smaller capacity is honoured too. */
	n = 1;
	CHECK_INT(http_parse_head("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n", 31, &status, &minor, h, &n), -1);
}

/* Decodes in[0..len) fed in pieces of step bytes (0: whole). Returns the decoder's last result. */
static int
decode_steps(const char *in, size_t len, size_t step, char *out, size_t *outlen, size_t *used)
{
	struct http_chunked st;
	char piece[4096];
	size_t at = 0;
	int r = 0;

	memset(&st, 0, sizeof st);
	*outlen = 0;
	*used = 0;
	while (at < len) {
		size_t k = step == 0 || step > len - at ? len - at : step, n = k, c;

		memcpy(piece, in + at, k);
		r = http_chunk_decode(&st, piece, &n, &c);
		if (r < 0)
			return r;
		memcpy(out + *outlen, piece, n);
		*outlen += n;
		*used += c;
		at += c;
		if (r == 1)
			return 1;
		if (c != k)
			return -9;  /* 0 must mean everything was consumed */
	}
	return r;
}

static void
test_chunked(void)
{
	static const char in[] = "5\r\nhello\r\n7;ext=1;q=\"a\"\r\n, world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
	char out[256];
	size_t n, used, step;

	for (step = 0; step <= sizeof in; step++) {
		CHECK_INT(decode_steps(in, sizeof in - 1, step, out, &n, &used), 1);
		CHECK_INT(n, 12);
		CHECK(memcmp(out, "hello, world", 12) == 0);
		/* Bytes after the terminator are not consumed. */
		CHECK_INT(used, sizeof in - 1 - 4);
	}
	/* LF-only framing, upper-case hex, no trailers. */
	CHECK_INT(decode_steps("A\nabcdefghij\n0\n\n", 16, 0, out, &n, &used), 1);
	CHECK_INT(n, 10);
	CHECK_INT(used, 16);
	/* Incomplete input asks for more. */
	CHECK_INT(decode_steps("5\r\nhel", 6, 0, out, &n, &used), 0);
	CHECK_INT(n, 3);
	CHECK_INT(decode_steps("0\r\n", 3, 0, out, &n, &used), 0);
	CHECK_INT(decode_steps("0\r\n\r", 4, 1, out, &n, &used), 0);
}

static void
test_chunked_split_everywhere(void)
{
	static const char in[] = "3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
	size_t cut;

	for (cut = 0; cut <= sizeof in - 1; cut++) {
		struct http_chunked st;
		char a[64], b[64], out[64];
		size_t na = cut, nb = sizeof in - 1 - cut, ua, ub, n = 0;
		int r;

		memset(&st, 0, sizeof st);
		memcpy(a, in, na);
		memcpy(b, in + cut, nb);
		r = http_chunk_decode(&st, a, &na, &ua);
		CHECK_INT(r, cut == sizeof in - 1 ? 1 : 0);
		memcpy(out, a, na);
		n = na;
		if (r == 0) {
			CHECK_INT(ua, cut);
			r = http_chunk_decode(&st, b, &nb, &ub);
			CHECK_INT(r, 1);
			memcpy(out + n, b, nb);
			n += nb;
		}
		CHECK_INT(n, 19);
		CHECK(memcmp(out, "abc0123456789abcdef", 19) == 0);
	}
}

static void
test_chunked_malformed(void)
{
	static const char *bad[] = {
		"\r\n",                 /* empty size line */
		"x\r\n",                /* not hex */
		"-1\r\n",
		" 5\r\nhello\r\n",     /* white space before the size */
		"5\r\nhelloX\r\n",     /* no line end after the data */
		"5\r\nhello\rX",
		"5\rX",
		"5\r\nhello\r\n0\r\nA: b\rX",
		"5;\x01\r\n",           /* control byte in an extension */
		"0\r\n\x01\r\n",
		"0\r\nA\r\n\rX",
		"ffffffffffffffffffff\r\n",   /* a size that would overflow */
		"10000000001\r\n",      /* just over 2^40 */
	};
	char buf[64], out[64];
	size_t i, n, used;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t len = strlen(bad[i]);
		int r;

		memcpy(buf, bad[i], len);
		r = decode_steps(buf, len, 0, out, &n, &used);
		if (r != -1)
			printf("#   bad chunked %zu gave %d\n", i, r);
		CHECK_INT(r, -1);
		/* Byte by byte gives the same verdict. */
		CHECK_INT(decode_steps(buf, len, 1, out, &n, &used), -1);
	}
	/* 2^40 itself is accepted (and then needs more data). */
	CHECK_INT(decode_steps("10000000000\r\nab", 15, 0, out, &n, &used), 0);
}

static void
test_chunked_limits(void)
{
	char line[HTTP_MAX_CHUNK_LINE + 16], out[HTTP_MAX_CHUNK_LINE + 16];
	char *trailer;
	size_t n, used, len;

	/* A size line of exactly HTTP_MAX_CHUNK_LINE bytes with its line end is fine. */
	memset(line, ' ', sizeof line);
	line[0] = '1';
	line[1] = ';';
	line[HTTP_MAX_CHUNK_LINE - 2] = '\r';
	line[HTTP_MAX_CHUNK_LINE - 1] = '\n';
	line[HTTP_MAX_CHUNK_LINE] = 'z';
	CHECK_INT(decode_steps(line, HTTP_MAX_CHUNK_LINE + 1, 0, out, &n, &used), 0);
	CHECK_INT(n, 1);
	/* One byte more is over the limit, however it is fed. */
	line[HTTP_MAX_CHUNK_LINE - 2] = ' ';
	line[HTTP_MAX_CHUNK_LINE - 1] = '\r';
	line[HTTP_MAX_CHUNK_LINE] = '\n';
	line[HTTP_MAX_CHUNK_LINE + 1] = 'z';
	CHECK_INT(decode_steps(line, HTTP_MAX_CHUNK_LINE + 2, 0, out, &n, &used), -1);
	CHECK_INT(decode_steps(line, HTTP_MAX_CHUNK_LINE + 2, 1, out, &n, &used), -1);
	/* Endless leading zeros are an overlong line too, not a hang. */
	memset(line, '0', sizeof line);
	CHECK_INT(decode_steps(line, sizeof line, 7, out, &n, &used), -1);

	/* Trailers are bounded by HTTP_MAX_HEAD. */
	len = HTTP_MAX_HEAD + 64;
	trailer = malloc(len);
	CHECK(trailer != NULL);
	if (trailer == NULL)
		return;
	memcpy(trailer, "0\r\n", 3);
	memset(trailer + 3, 'a', len - 3);
	{
		struct http_chunked st;
		size_t k = len, c;

		memset(&st, 0, sizeof st);
		CHECK_INT(http_chunk_decode(&st, trailer, &k, &c), -1);
	}
	free(trailer);
}

static void
test_chunked_done_again(void)
{
	struct http_chunked st;
	char buf[] = "0\r\n\r\nrest";
	size_t n = sizeof buf - 1, used;

	memset(&st, 0, sizeof st);
	CHECK_INT(http_chunk_decode(&st, buf, &n, &used), 1);
	CHECK_INT(used, 5);
	CHECK_INT(n, 0);
	CHECK(memcmp(buf + used, "rest", 4) == 0);
	/* Once done it stays done and consumes nothing more. */
	n = 4;
	CHECK_INT(http_chunk_decode(&st, buf + used, &n, &used), 1);
	CHECK_INT(used, 0);
	CHECK_INT(n, 0);
}

static void
test_no_proxy(void)
{
	static const struct {
		const char *no_proxy, *host;
		int want;
	} cases[] = {
		{ "", "example.com", 0 },
		{ "*", "example.com", 1 },
		{ "*", "10.0.0.1", 1 },
		{ "example.com", "example.com", 1 },
		{ "example.com", "EXAMPLE.com", 1 },
		{ "example.com", "a.example.com", 1 },
		{ ".example.com", "a.example.com", 1 },
		{ ".example.com", "example.com", 1 },
		{ "example.com", "badexample.com", 0 },
		{ "example.com", "example.com.evil.org", 0 },
		{ "a.example.com", "example.com", 0 },
		{ "example.com", "example.com.", 1 },
		{ "foo, bar.org ,example.com", "x.example.com", 1 },
		{ "foo bar.org", "bar.org", 1 },
		{ "10.0.0.0/8", "10.1.2.3", 1 },
		{ "10.0.0.0/8", "11.1.2.3", 0 },
		{ "10.0.0.1", "10.0.0.1", 1 },
		{ "10.0.0.1", "10.0.0.2", 0 },
		{ "192.168.0.0/16", "192.168.255.1", 1 },
		{ "172.16.0.0/12", "172.31.0.1", 1 },
		{ "172.16.0.0/12", "172.32.0.1", 0 },
		{ "0.0.0.0/0", "8.8.8.8", 1 },
		{ "10.0.0.0/33", "10.0.0.1", 0 },
		{ "10.0.0.0/x", "10.0.0.1", 0 },
		{ "10.0.0.0/8", "example.com", 0 },
		{ "fd00::/8", "fd00:ec2::254", 1 },
		{ "fd00::/8", "fe80::1", 0 },
		{ "::1", "::1", 1 },
		{ "[::1]", "::1", 1 },
		{ "[fd00::]/16", "fd00:1::1", 1 },
		{ "127.0.0.1", "::1", 0 },
		{ "169.254.169.254", "169.254.169.254", 1 },
		{ ".svc,.cluster.local", "kubernetes.default.svc", 1 },
		{ ",,,", "example.com", 0 },
		{ ".", "example.com", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int got = http_no_proxy_match(cases[i].no_proxy, cases[i].host);

		if (got != cases[i].want)
			printf("#   no_proxy \"%s\" host %s: got %d\n", cases[i].no_proxy, cases[i].host, got);
		CHECK_INT(got, cases[i].want);
	}
}

static void
test_proxy_env(void)
{
	char *env1[] = { "HTTP_PROXY=http://upper:1", "http_proxy=http://lower:2",
		"HTTPS_PROXY=proxy.example:3128", "NO_PROXY=.internal", "PATH=/bin", NULL };
	char *env2[] = { "https_proxy=", "HTTPS_PROXY=http://[fd00::1]:8080/", NULL };
	char *env3[] = { "https_proxy=https://secure:443", NULL };
	char *env4[] = { "http_proxy=http://user:pw@p:1", NULL };
	char *env5[] = { NULL };
	struct http_proxy p;
	char err[256];

	CHECK_INT(http_proxy_from_env(&p, env1, err, sizeof err), 0);
	CHECK_STR(p.http.host, "lower");
	CHECK_INT(p.http.port, 2);
	/* No scheme means http://, as curl takes it. */
	CHECK_STR(p.https.host, "proxy.example");
	CHECK_INT(p.https.port, 3128);
	CHECK_INT(p.https.tls, 0);
	CHECK_STR(p.no_proxy, ".internal");

	/* An empty lower-case variable falls back to the upper-case one. */
	CHECK_INT(http_proxy_from_env(&p, env2, err, sizeof err), 0);
	CHECK_STR(p.https.host, "fd00::1");
	CHECK_INT(p.https.port, 8080);
	CHECK_STR(p.http.host, "");

	CHECK_INT(http_proxy_from_env(&p, env3, err, sizeof err), -1);
	CHECK(strstr(err, "https_proxy") != NULL);
	CHECK_INT(http_proxy_from_env(&p, env4, err, sizeof err), -1);
	CHECK(strstr(err, "http_proxy") != NULL);
	/* The password is not repeated in the message. */
	CHECK(strstr(err, "pw@") == NULL);
	CHECK_INT(http_proxy_from_env(&p, env5, err, sizeof err), 0);
	CHECK_STR(p.http.host, "");
	CHECK_STR(p.no_proxy, "");
}

static void
test_host_header(void)
{
	static const struct { const char *url, *host; } cases[] = {
		{ "https://sts.amazonaws.com/", "sts.amazonaws.com" },
		{ "https://10.0.0.1:6443/api", "10.0.0.1:6443" },
		{ "http://[fd00:ec2::254]/latest", "[fd00:ec2::254]" },
		{ "http://h:443/", "h:443" },
	};
	struct url u;
	char err[128], buf[300];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		t_case = cases[i].url;
		CHECK_INT(url_parse(cases[i].url, &u, err, sizeof err), 0);
		CHECK_INT(http_host_header(&u, buf, sizeof buf), 0);
		CHECK_STR(buf, cases[i].host);
	}
	/* "h:443" and its NUL do not fit in 3 bytes. */
	CHECK_INT(http_host_header(&u, buf, 3), -1);
}

static void
test_header_lookup(void)
{
	static const char r[] = "HTTP/1.1 200 OK\r\nRetry-After: 5\r\nretry-after: 7\r\n\r\n";
	struct http_response resp;
	const char *v;
	size_t len = 0;
	int minor;

	memset(&resp, 0, sizeof resp);
	resp.nhdrs = HTTP_MAX_HEADERS;
	CHECK(http_parse_head(r, sizeof r - 1, &resp.status, &minor, resp.hdrs, &resp.nhdrs) > 0);
	v = http_header(&resp, "RETRY-AFTER", &len);
	CHECK(v != NULL && len == 1 && v[0] == '5');
	CHECK(http_header(&resp, "Retry", NULL) == NULL);
	CHECK(http_header(&resp, "Retry-After-X", NULL) == NULL);
}

/* Content-Length: absent, one, equal repeats, and each way of being wrong. */
static void
test_content_length(void)
{
	static const struct { const char *head; int want; uint64_t len; } cases[] = {
		{ "HTTP/1.1 200 OK\r\nA: b\r\n\r\n", HTTP_CLEN_NONE, 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", HTTP_CLEN_OK, 0 },
		{ "HTTP/1.1 200 OK\r\ncontent-length:  42 \r\n\r\n", HTTP_CLEN_OK, 42 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 999999999999999\r\n\r\n", HTTP_CLEN_OK, 999999999999999ULL },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nX: y\r\nContent-Length: 7\r\n\r\n", HTTP_CLEN_OK, 7 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000\r\n\r\n", HTTP_CLEN_BAD, 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", HTTP_CLEN_BAD, 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", HTTP_CLEN_BAD, 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", HTTP_CLEN_BAD, 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", HTTP_CLEN_BAD, 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", HTTP_CLEN_BAD, 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", HTTP_CLEN_CONFLICT, 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: x\r\n\r\n", HTTP_CLEN_BAD, 0 },
	};
	struct http_hdr h[HTTP_MAX_HEADERS];
	int status, minor;
	size_t i, n;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t len = 12345;

		CHECK(parse(cases[i].head, strlen(cases[i].head), &status, &minor, h, &n) > 0);
		CHECK_INT(http_content_length(h, n, &len), cases[i].want);
		if (cases[i].want == HTTP_CLEN_OK)
			CHECK_INT(len, cases[i].len);
	}
}

int
main(void)
{
	RUN(test_head_basic);
	RUN(test_head_variants);
	RUN(test_head_incremental);
	RUN(test_head_garbage);
	RUN(test_head_too_many_headers);
	RUN(test_content_length);
	RUN(test_chunked);
	RUN(test_chunked_split_everywhere);
	RUN(test_chunked_malformed);
	RUN(test_chunked_limits);
	RUN(test_chunked_done_again);
	RUN(test_no_proxy);
	RUN(test_proxy_env);
	RUN(test_host_header);
	RUN(test_header_lookup);
	return t_done();
}
