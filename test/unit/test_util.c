/* Unit tests of src/util.c and src/log.c. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "bounds.h"
#include "log.h"
#include "t.h"
#include "util.h"

struct date_case {
	const char *s;
	int64_t t;      /* what s is, in seconds since the epoch */
};

/* Checks a date parser: each of good gives its time, each of bad is refused. */
static void
check_dates(int (*parse)(const char *, size_t, int64_t *), const struct date_case *good, size_t ngood,
    const char *const *bad, size_t nbad)
{
	int64_t t;
	size_t i;

	for (i = 0; i < ngood; i++) {
		t_case = good[i].s;
		CHECK_INT(parse(good[i].s, strlen(good[i].s), &t), 0);
		CHECK_INT(t, good[i].t);
	}
	for (i = 0; i < nbad; i++) {
		t_case = bad[i];
		CHECK_INT(parse(bad[i], strlen(bad[i]), &t), -1);
	}
	t_case = NULL;
}

static void
time_parse(void)
{
	static const struct date_case good[] = {
		{ "2017-09-18T08:22:00Z", 1505722920 },
		{ " 2017-09-18T08:22:00.123Z\n", 1505722920 },
		{ "2017-09-18T10:22:00+02:00", 1505722920 },
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2024-02-29T23:59:59Z", 1709251199 },
	};
	static const char *const bad[] = {
		"2023-02-29T00:00:00Z", "2017-09-18T08:22:00", "2017-13-18T08:22:00Z", "yes", "",
		"2017-09-18T08:22:00Zjunk", "2017-09-18T08:22:00.Z",
	};

	check_dates(util_parse_time, good, sizeof good / sizeof good[0], bad, sizeof bad / sizeof bad[0]);
}

static void
time_format(void)
{
	char b[32];

	CHECK_STR(util_fmt_time(b, sizeof b, 1505722920), "2017-09-18T08:22:00Z");
	CHECK_STR(util_fmt_time_ms(b, sizeof b, 1505722920123LL), "2017-09-18T08:22:00.123Z");
	CHECK_STR(util_fmt_time(b, sizeof b, 0), "1970-01-01T00:00:00Z");
	CHECK_STR(util_fmt_time(b, sizeof b, 951782400), "2000-02-29T00:00:00Z");
}

static void
http_date(void)
{
	static const struct date_case good[] = { { "Sun, 06 Nov 1994 08:49:37 GMT", 784111777 } };
	static const char *const bad[] = { "Sun, 06 Foo 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT" };

	check_dates(util_parse_http_date, good, 1, bad, sizeof bad / sizeof bad[0]);
}

/* EC2 scheduled events' dates: a day of one or two digits, no day name. */
static void
gmt_date(void)
{
	static const struct date_case good[] = {
		{ "21 Jan 2019 09:00:43 GMT", 1548061243 },
		{ " 6 Feb 2019 23:59:59 GMT\n", 1549497599 },
		{ "06 Feb 2019 23:59:59 GMT", 1549497599 },
	};
	static const char *const bad[] = {
		"21 Jan 2019 09:00:43", "21 Jan 2019 09:00:43 UTC", "32 Jan 2019 09:00:43 GMT",
		"29 Feb 2019 09:00:43 GMT", "21 Jan 2019 24:00:43 GMT", "021 Jan 2019 09:00:43 GMT",
		"21 jan 2019 09:00:43 GMT", "21 Jan 19 09:00:43 GMT", " 1 Jan 2019 09:00:43 GMTx", "",
	};

	check_dates(util_parse_gmt_date, good, sizeof good / sizeof good[0], bad, sizeof bad / sizeof bad[0]);
}

static void
seconds(void)
{
	int64_t ms;
	int n;

	CHECK_INT(util_parse_seconds("5", &ms), 0);
	CHECK_INT(ms, 5000);
	CHECK_INT(util_parse_seconds("0.2", &ms), 0);
	CHECK_INT(ms, 200);
	CHECK_INT(util_parse_seconds("120.0625", &ms), 0);
	CHECK_INT(ms, 120062);
	CHECK_INT(util_parse_seconds("-1", &ms), -1);
	CHECK_INT(util_parse_seconds("1e3", &ms), -1);
	CHECK_INT(util_parse_seconds("", &ms), -1);
	CHECK_INT(util_parse_seconds(".5", &ms), -1);
	CHECK_INT(util_parse_seconds("5.", &ms), -1);
	CHECK_INT(util_parse_seconds("99999999999999999999", &ms), -1);
	CHECK_INT(util_parse_uint("16", &n), 0);
	CHECK_INT(n, 16);
	CHECK_INT(util_parse_uint("1x", &n), -1);
	CHECK_INT(util_parse_uint("-3", &n), -1);
}

static void
read_file(void)
{
	char path[] = "/tmp/despotify-test-XXXXXX", buf[8], err[256];
	size_t len;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	CHECK(write(fd, "1234567", 7) == 7);
	close(fd);
	CHECK_INT(util_read_file(path, buf, sizeof buf, &len, err, sizeof err), 0);
	CHECK_INT(len, 7);
	CHECK_STR(buf, "1234567");
	CHECK_INT(util_read_file(path, buf, 7, &len, err, sizeof err), -1);
	CHECK(strstr(err, "larger than 6 bytes") != NULL);
	unlink(path);
	CHECK_INT(util_read_file(path, buf, sizeof buf, &len, err, sizeof err), -1);
	CHECK(strstr(err, "No such file") != NULL && strstr(err, path) != NULL);
}

static void
strings(void)
{
	char b[4];
	size_t l = 7;
	const char *t = util_trim("  ab \r\n", &l);

	CHECK_INT(l, 2);
	CHECK(memcmp(t, "ab", 2) == 0);
	CHECK_INT(util_strlcpy(b, "abc", sizeof b), 0);
	CHECK_INT(util_strlcpy(b, "abcd", sizeof b), -1);
	CHECK_STR(b, "abc");
	CHECK_INT(util_snprintf(b, sizeof b, "%d", 12345), -1);
	CHECK(util_strncaseeq("Content-Length", 14, "content-length"));
	CHECK(!util_strncaseeq("Content-Length", 13, "content-length"));
}

/* Captures log lines through a pipe. */
static void
log_lines(void)
{
	struct log lg;
	struct log_limit ll = { 0, 0 };
	char buf[4096];
	int fds[2];
	ssize_t n;

	CHECK(pipe(fds) == 0);
	log_init(&lg, LV_INFO, 1);
	lg.fd = fds[1];
	log_debug(&lg, "hidden");
	log_info(&lg, "say \"%s\"\n", "hi");
	log_limited(&lg, &ll, 60000, LV_WARNING, "fault %d", 1);
	log_limited(&lg, &ll, 60000, LV_WARNING, "fault %d", 2);
	ll.next_ms = 1;  /* as if the interval had passed */
	log_limited(&lg, &ll, 60000, LV_WARNING, "fault %d", 3);
	close(fds[1]);
	n = read(fds[0], buf, sizeof buf - 1);
	close(fds[0]);
	CHECK(n > 0);
	buf[n > 0 ? n : 0] = '\0';
	CHECK(strstr(buf, "hidden") == NULL);
	CHECK(strstr(buf, "\"level\":\"INFO\",\"msg\":\"say \\\"hi\\\"\\n\"}\n") != NULL);
	CHECK(strstr(buf, "fault 1") != NULL);
	CHECK(strstr(buf, "fault 2") == NULL);
	CHECK(strstr(buf, "fault 3 (and 1 more like it since)") != NULL);
	CHECK(strstr(buf, "\"time\":\"20") != NULL);
}

static void
retry_after(void)
{
	/* Sun, 06 Nov 1994 08:49:37 GMT is 784111777. A date years ahead counts
	 * as a day, like a huge number of seconds. */
	static const struct { const char *v; int64_t now, ms; } good[] = {
		{ "3", 0, 3000 },
		{ " 0 ", 0, 0 },
		{ "120\r\n", 0, 120000 },
		{ "Sun, 06 Nov 1994 08:49:37 GMT", 784111770, 7000 },
		{ "Sun, 06 Nov 1994 08:49:37 GMT", 784111800, 0 },
		{ "Sun, 06 Nov 2094 08:49:37 GMT", 784111800, 86400000 },
		{ "99999999999999999999999", 0, 86400000 },
	};
	char v[40];
	int64_t ms = -1;
	size_t i;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		t_case = good[i].v;
		CHECK_INT(util_retry_after_parse(good[i].v, strlen(good[i].v), good[i].now, &ms), 0);
		CHECK_INT(ms, good[i].ms);
	}
	t_case = NULL;
	ms = 42;
	CHECK_INT(util_retry_after_parse("soon", 4, 0, &ms), -1);
	CHECK_INT(util_retry_after_parse("-1", 2, 0, &ms), -1);
	CHECK_INT(util_retry_after_parse("1.5", 3, 0, &ms), -1);
	CHECK_INT(util_retry_after_parse("", 0, 0, &ms), -1);
	CHECK_INT(util_retry_after_parse("  ", 2, 0, &ms), -1);
	CHECK_INT(util_retry_after_parse("Sun, 06 Nov 1994 08:49:37 UTC", 29, 0, &ms), -1);
	CHECK_INT(ms, 42);
	/* Every prefix of a date is refused; the length given is all that is read. */
	snprintf(v, sizeof v, "Sun, 06 Nov 1994 08:49:37 GMT");
	for (i = 1; i < 29; i++)
		CHECK_INT(util_retry_after_parse(v, i, 0, &ms), -1);
	CHECK_INT(util_retry_after_parse("12345", 2, 0, &ms), 0);
	CHECK_INT(ms, 12000);
}

static void
retry_after_cap(void)
{
	/* As asked when there is time. */
	CHECK_INT(util_retry_after_cap(2000, 120000), 2000);
	/* Never over RETRY_AFTER_MAX_MS, even with hours left (a rebalance). */
	CHECK_INT(util_retry_after_cap(120000, 3600000), RETRY_AFTER_MAX_MS);
	/* Never over a quarter of the time left: 20 s left, 120 s asked: 5 s. */
	CHECK_INT(util_retry_after_cap(120000, 20000), 20000 / RETRY_AFTER_LEFT_DIV);
	CHECK_INT(util_retry_after_cap(120000, 0), 0);
	CHECK_INT(util_retry_after_cap(120000, -5000), 0);
	CHECK_INT(util_retry_after_cap(-1, 10000), 0);
}

/* Every capacity from 0 to past the need: over exactly when the text does not fit, sticky after. */
static void
string_builder(void)
{
	static const char want[] = "GET /a?b=42\r\n";
	char buf[32];
	size_t cap;

	for (cap = 0; cap <= sizeof want + 2; cap++) {
		struct util_buf b;

		memset(buf, 'X', sizeof buf);
		util_buf_init(&b, buf, cap);
		util_buf_str(&b, "GET ");
		util_buf_mem(&b, "/a?", 3);
		util_buf_fmt(&b, "b=%d", 42);
		util_buf_chr(&b, '\r');
		util_buf_chr(&b, '\n');
		CHECK_INT(b.over, cap < sizeof want);
		CHECK(b.len < cap || cap == 0);
		if (!b.over) {
			CHECK_STR(buf, want);
			CHECK_INT(b.len, sizeof want - 1);
		} else if (cap > 0) {
			/* What stays is a whole earlier append, never a cut one. */
			CHECK(buf[b.len] == '\0');
			CHECK(strncmp(buf, want, b.len) == 0);
			util_buf_str(&b, "");
			util_buf_chr(&b, 'x');
			CHECK(b.over);
		}
		CHECK(buf[cap] == 'X' || cap >= sizeof buf);
	}
}

/* util_buf_done: the length of a text that fit, -1 once anything did not. */
static void
string_builder_done(void)
{
	char buf[4];
	struct util_buf b;

	util_buf_init(&b, buf, sizeof buf);
	CHECK_INT(util_buf_done(&b), 0);
	util_buf_str(&b, "abc");
	CHECK_INT(util_buf_done(&b), 3);
	util_buf_chr(&b, 'd');           /* would leave no room for the NUL */
	CHECK_INT(util_buf_done(&b), -1);
	util_buf_init(&b, buf, 0);
	CHECK_INT(util_buf_done(&b), -1);
}

/* util_append is the same builder over (buf, cap, *at): sticky, no cut text. */
static void
append(void)
{
	char buf[8];
	size_t at = 0;

	CHECK_INT(util_append(buf, sizeof buf, &at, "%s", "abc"), 0);
	CHECK_INT(at, 3);
	CHECK_INT(util_append(buf, sizeof buf, &at, "%d", 12345), -1);
	CHECK_INT(at, sizeof buf);
	CHECK_STR(buf, "abc");
	CHECK_INT(util_append(buf, sizeof buf, &at, "x"), -1);
	CHECK_STR(buf, "abc");
}

/* One rule for the environment: an empty value is unset; names match whole. */
static void
env(void)
{
	char *envp[] = { "A=1", "EMPTY=", "AB=2", "NOEQ", "B==x", NULL };

	CHECK_STR(util_env(envp, "A"), "1");
	CHECK_STR(util_env(envp, "AB"), "2");
	CHECK_STR(util_env(envp, "B"), "=x");
	CHECK(util_env(envp, "EMPTY") == NULL);
	CHECK(util_env(envp, "NOEQ") == NULL);
	CHECK(util_env(envp, "ABC") == NULL);
	CHECK(util_env(envp, "") == NULL);
	CHECK(util_env(NULL, "A") == NULL);
}

static void
wipe(void)
{
	unsigned char secret[16];
	size_t i;
	int nonzero = 0;

	memset(secret, 0xA5, sizeof secret);
	util_wipe(secret, sizeof secret - 1);
	for (i = 0; i < sizeof secret - 1; i++)
		nonzero |= secret[i];
	CHECK_INT(nonzero, 0);
	CHECK_INT(secret[sizeof secret - 1], 0xA5);
}

int
main(void)
{
	RUN(time_parse);
	RUN(time_format);
	RUN(http_date);
	RUN(gmt_date);
	RUN(seconds);
	RUN(read_file);
	RUN(strings);
	RUN(log_lines);
	RUN(retry_after);
	RUN(retry_after_cap);
	RUN(string_builder);
	RUN(string_builder_done);
	RUN(append);
	RUN(env);
	RUN(wipe);
	return t_done();
}
