/* test_url.c — url_parse, url_hostport, url_encode, url_decode. */
#include <string.h>

#include "t.h"
#include "url.h"

/* Writes prefix and then n copies of c into s (room for them and a NUL). */
static void
repeat_after(char *s, const char *prefix, char c, size_t n)
{
	size_t len = strlen(prefix);

	memcpy(s, prefix, len);
	memset(s + len, c, n);
	s[len + n] = '\0';
}

static void
test_parse_basic(void)
{
	struct url u;
	char err[256];

	CHECK_INT(url_parse("https://10.0.0.1:6443", &u, err, sizeof err), 0);
	CHECK_INT(u.tls, 1);
	CHECK_STR(u.host, "10.0.0.1");
	CHECK_INT(u.port, 6443);
	CHECK_STR(u.path, "/");
	CHECK_INT(u.host_is_ipv6, 0);

	CHECK_INT(url_parse("http://169.254.169.254/latest/meta-data/spot/termination-time", &u, err, sizeof err), 0);
	CHECK_INT(u.tls, 0);
	CHECK_INT(u.port, 80);
	CHECK_STR(u.path, "/latest/meta-data/spot/termination-time");

	CHECK_INT(url_parse("HTTPS://autoscaling.us-east-1.amazonaws.com/", &u, err, sizeof err), 0);
	CHECK_INT(u.port, 443);
	CHECK_STR(u.host, "autoscaling.us-east-1.amazonaws.com");
	CHECK_STR(u.path, "/");

	CHECK_INT(url_parse("http://h?x=1", &u, err, sizeof err), 0);
	CHECK_STR(u.path, "/?x=1");
	CHECK_STR(u.host, "h");
}

static void
test_parse_ipv6(void)
{
	struct url u;
	char err[256], hp[300];

	CHECK_INT(url_parse("http://[fd00::1]/x?y=1", &u, err, sizeof err), 0);
	CHECK_STR(u.host, "fd00::1");
	CHECK_INT(u.host_is_ipv6, 1);
	CHECK_INT(u.port, 80);
	CHECK_STR(u.path, "/x?y=1");
	CHECK_INT(url_hostport(&u, hp, sizeof hp), 0);
	CHECK_STR(hp, "[fd00::1]:80");

	CHECK_INT(url_parse("https://[fd00:ec2::254]:8443", &u, err, sizeof err), 0);
	CHECK_STR(u.host, "fd00:ec2::254");
	CHECK_INT(u.port, 8443);
	CHECK_INT(url_hostport(&u, hp, sizeof hp), 0);
	CHECK_STR(hp, "[fd00:ec2::254]:8443");
	CHECK_INT(url_hostport(&u, hp, 10), -1);
}

static void
test_parse_errors(void)
{
	static const char *bad[] = {
		"ftp://x/", "http://", "http:///x", "http://user@host/", "http://h:0/",
		"http://h:65536/", "http://h:/", "http://h:8a/", "http://h/ x", "http://h/#frag",
		"http://[fd00::1/", "http://[]/", "http://[zz::1]/", "http://h\x01/", "http://a b/",
		"http://h%41/", "", "https//x",
	};
	struct url u;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		if (url_parse(bad[i], &u, err, sizeof err) != -1) {
			printf("#   accepted bad URL \"%s\"\n", bad[i]);
			CHECK(0);
		}
		CHECK(err[0] != '\0');
	}
	CHECK_INT(url_parse("http://h:65535/", &u, err, sizeof err), 0);
	CHECK_INT(u.port, 65535);
}

static void
test_parse_limits(void)
{
	char s[URL_MAX_HOST + URL_MAX_PATH + 64], err[256];
	struct url u;

	/* A host of exactly URL_MAX_HOST - 1 bytes fits; one more does not. */
	repeat_after(s, "http://", 'a', URL_MAX_HOST - 1);
	CHECK_INT(url_parse(s, &u, err, sizeof err), 0);
	CHECK_INT(strlen(u.host), URL_MAX_HOST - 1);
	strcat(s, "a");
	CHECK_INT(url_parse(s, &u, err, sizeof err), -1);
	CHECK(strstr(err, "host longer") != NULL);

	repeat_after(s, "http://h/", 'p', URL_MAX_PATH - 2);
	CHECK_INT(url_parse(s, &u, err, sizeof err), 0);
	CHECK_INT(strlen(u.path), URL_MAX_PATH - 1);
	strcat(s, "p");
	CHECK_INT(url_parse(s, &u, err, sizeof err), -1);
	CHECK(strstr(err, "path longer") != NULL);

	/* "?q" gets a "/" in front: that byte counts against the limit too. */
	repeat_after(s, "http://h?", 'q', URL_MAX_PATH - 2);
	CHECK_INT(url_parse(s, &u, err, sizeof err), -1);
}

/* An input of len bytes (NULs allowed), the flag (keep_slash, plus_space) and the output wanted. */
struct coding_case {
	const char *in;
	size_t len;
	int flag;
	const char *want;
};

/* Checks url_encode or url_decode: each case's output and its length as the result. */
static void
check_coding(int (*code)(const char *, size_t, char *, size_t, int), const struct coding_case *cases, size_t n)
{
	char out[64];
	size_t i;

	for (i = 0; i < n; i++) {
		t_case = cases[i].want;
		CHECK_INT(code(cases[i].in, cases[i].len, out, sizeof out, cases[i].flag), strlen(cases[i].want));
		CHECK_STR(out, cases[i].want);
	}
	t_case = NULL;
}

static void
test_encode(void)
{
	static const struct coding_case cases[] = {
		{ "spec.nodeName=ip-10-0-0-1", 25, 0, "spec.nodeName%3Dip-10-0-0-1" },
		{ "a/b c~", 6, 1, "a/b%20c~" },
		{ "a/b", 3, 0, "a%2Fb" },
		{ "\xff\x00", 2, 0, "%FF%00" },
	};
	char out[64];

	check_coding(url_encode, cases, sizeof cases / sizeof cases[0]);
	/* Exactly enough room (3 bytes + NUL), then one byte short. */
	CHECK_INT(url_encode("%", 1, out, 4, 0), 3);
	CHECK_INT(url_encode("%", 1, out, 3, 0), -1);
	CHECK_INT(url_encode("ab", 2, out, 2, 0), -1);
	CHECK_INT(url_encode("", 0, out, 1, 0), 0);
	CHECK_INT(url_encode("", 0, out, 0, 0), -1);
}

static void
test_decode(void)
{
	static const struct coding_case cases[] = {
		{ "a%2Fb+c", 7, 1, "a/b c" },
		{ "a%2fb+c", 7, 0, "a/b+c" },
		{ "%41", 3, 0, "A" },
	};
	char out[64];

	check_coding(url_decode, cases, sizeof cases / sizeof cases[0]);
	CHECK_INT(url_decode("%4", 2, out, sizeof out, 0), -1);
	CHECK_INT(url_decode("%zz", 3, out, sizeof out, 0), -1);
	/* Only len bytes are read: a trailing escape cut by len is malformed. */
	CHECK_INT(url_decode("x%41", 2, out, sizeof out, 0), -1);
	CHECK_INT(url_decode("abc", 3, out, 3, 0), -1);
	CHECK_INT(url_decode("abc", 3, out, 4, 0), 3);
}

int
main(void)
{
	RUN(test_parse_basic);
	RUN(test_parse_ipv6);
	RUN(test_parse_errors);
	RUN(test_parse_limits);
	RUN(test_encode);
	RUN(test_decode);
	return t_done();
}
