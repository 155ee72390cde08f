/* Unit tests of src/util.c and src/log.c. */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
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
	CHECK_STR(b, "123");
	CHECK_INT(util_snprintf(b, sizeof b, "%d", 123), 0);
	CHECK_INT(util_snprintf(b, 0, "%s", ""), -1);
	{
		static const char h[] = "abcab\0abd";

		CHECK(util_memmem(h, 9, "abd", 3) == h + 6);     /* past a NUL */
		CHECK(util_memmem(h, 8, "abd", 3) == NULL);      /* not past hn */
		CHECK(util_memmem(h, 9, "ab", 2) == h);
		CHECK(util_memmem(h, 9, "", 0) == h);
		CHECK(util_memmem(h, 2, "abc", 3) == NULL);
		CHECK(util_memmem(h, 0, "a", 1) == NULL);
	}
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

/*
 * util_fmt and the C library's snprintf (glibc here) agree on the text, the
 * return value and every byte of the buffer, at every cap from 0 up (so
 * truncation and the NUL too). Both are checked by -Wformat.
 */
#define FMT_SAME(fmt, ...) do { \
	char g_[96], w_[96]; \
	size_t c_; \
	int rg_, rw_; \
	for (c_ = 0; c_ <= sizeof g_; c_++) { \
		memset(g_, 'Z', sizeof g_); \
		memset(w_, 'Z', sizeof w_); \
		rg_ = util_fmt(g_, c_, fmt, __VA_ARGS__); \
		rw_ = snprintf(w_, c_, fmt, __VA_ARGS__); \
		if (rg_ != rw_ || memcmp(g_, w_, sizeof g_) != 0) { \
			t_failed_checks++; \
			printf("#   %s:%d: %s at cap %zu: got %d \"%.*s\", want %d \"%.*s\"\n", \
			    __FILE__, __LINE__, fmt, c_, rg_, (int)sizeof g_, g_, rw_, \
			    (int)sizeof w_, w_); \
			break; \
		} \
	} \
} while (0)

/* Every conversion src/ uses, with its flags, widths and precisions. */
static void
fmt_conversions(void)
{
	static const char unterminated[3] = { 'a', 'b', 'c' };

	FMT_SAME("plain text, 100%% sure%s", "");
	FMT_SAME("%d|%d|%d|%d|%d", 0, 1, -1, INT_MAX, INT_MIN);
	FMT_SAME("%02d:%02d %04d %03d %5d|%-5d|%05d|%05d|", 5, 59, 7, 999, -42, -42, -42, 42);
	FMT_SAME("%.3d|%.0d|%.0d|%8.3d|%-8.3d|%.*d", 7, 0, 3, -7, 7, 4, 12);
	FMT_SAME("%u %u %4u|%-4u|%04u", 0u, UINT_MAX, 7u, 7u, 7u);
	FMT_SAME("%ld %ld %lu %lu", LONG_MIN, LONG_MAX, ULONG_MAX, 0ul);
	FMT_SAME("%lld %lld %llu %03lld %lld", LLONG_MIN, LLONG_MAX, ULLONG_MAX, 5LL, -0LL);
	FMT_SAME("%zu %zu %zd %zd %5zu", (size_t)0, SIZE_MAX, (ssize_t)-5, (ssize_t)SSIZE_MAX, (size_t)3);
	FMT_SAME("%x %x %x %02x %02x %04lx %llx %zx", 0u, 255u, 0xdeadbeefu, 5u, 0xabcu, 0x1ful,
	    ULLONG_MAX, (size_t)4096);
	FMT_SAME("%c%c|%3c|%-3c|", 'a', '"', 'x', 'y');
	FMT_SAME("%s|%s|%10s|%-10s|%-7s|%-7s|%-7s|", "", "abc", "right", "left", "INFO", "WARNING",
	    "TOOLONGNAME");
	FMT_SAME("%.*s|%.*s|%.*s|%.*s|%.200s|%.2s", 3, "abcdef", 0, "abc", -1, "abc", 10, "ab",
	    "short", "xyz");
	FMT_SAME("%*s|%*s|%*d|%-*d|%*.*s", 6, "r", -6, "l", -4, 9, 4, 9, 5, 2, "abc");
	FMT_SAME("%.3s", unterminated);   /* read no further than the precision */
	FMT_SAME("%s %s: %d (%s) %zu bytes, %lld ms%s", "GET", "/latest/api/token", 401,
	    "Unauthorized", (size_t)1234, -250LL, "");
}

/* What snprintf's contract says, and what util_fmt knows no more of. */
static void
fmt_edges(void)
{
	const char *nul = NULL, *lone = "abc%", *half = "abc%5";
	char b[16];

	CHECK_INT(util_fmt(NULL, 0, "%d", 12345), 5);
	memset(b, 'Z', sizeof b);
	CHECK_INT(util_fmt(b, 1, "%s", "abc"), 3);
	CHECK_STR(b, "");
	CHECK_INT(util_fmt(b, sizeof b, "%s|%.2s", nul, nul), 9);
	CHECK_STR(b, "(null)|(n");
	CHECK_INT(util_fmt(b, sizeof b, "a%c", 0), 2);     /* a NUL byte counts, as in snprintf */
	CHECK(b[0] == 'a' && b[1] == '\0' && b[2] == '\0');
	/* Conversions it does not know: -1, and the text before them. */
	CHECK_INT(util_fmt(b, sizeof b, "a%fb", 1.5), -1);
	CHECK_STR(b, "a");
	CHECK_INT(util_fmt(b, sizeof b, "x%p", (void *)b), -1);
	CHECK_STR(b, "x");
	CHECK_INT(util_fmt(b, sizeof b, "%i", 1), -1);
	CHECK_INT(util_fmt(b, sizeof b, "%hd", (short)1), -1);
	CHECK_INT(util_fmt(b, sizeof b, lone, 1), -1);
	CHECK_STR(b, "abc");
	CHECK_INT(util_fmt(b, sizeof b, half, 1), -1);
	CHECK_STR(b, "abc");
	/* util_write_fmt: a text longer than its first buffer goes out whole. */
	{
		char big[3000], got[3100];
		int fds[2];
		ssize_t n;

		memset(big, 'q', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		CHECK(pipe(fds) == 0);
		CHECK_INT(util_write_fmt(fds[1], "<%s>%d", big, 7), 0);
		close(fds[1]);
		n = read(fds[0], got, sizeof got);
		close(fds[0]);
		CHECK_INT(n, (ssize_t)sizeof big + 2);
		CHECK(n > 3 && got[0] == '<' && got[n - 2] == '>' && got[n - 1] == '7');
		CHECK_INT(util_write_fmt(-1, "x"), -1);
	}
}

/* xorshift64*: the fuzz below is the same on every run. */
static uint64_t
fmt_rand(uint64_t *st)
{
	*st ^= *st >> 12;
	*st ^= *st << 25;
	*st ^= *st >> 27;
	return *st * 2685821657736338717ULL;
}

/* A random value: often small, sometimes an extreme. */
static uint64_t
fmt_value(uint64_t *st)
{
	uint64_t r = fmt_rand(st);

	switch (r % 6) {
	case 0: return 0;
	case 1: return r >> 56;
	case 2: return (uint64_t)-(int64_t)(r >> 58);
	case 3: return 1ULL << (r >> 58);
	case 4: return (uint64_t)1 << 63;
	default: return fmt_rand(st);
	}
}

/* Writes a random specification for conv at f: flags, width, precision, size. */
static char *
fmt_spec(uint64_t *st, char *f, char conv, const char *size, int *stars)
{
	uint64_t r = fmt_rand(st);
	int str = conv == 's' || conv == 'c';

	*f++ = '<';
	*f++ = '%';
	if (r & 1)
		*f++ = '-';
	if ((r & 2) && !str)       /* '0' with %s or %c is undefined */
		*f++ = '0';
	*stars = 0;
	if ((r >> 2) % 3 == 1) {
		f += sprintf(f, "%d", (int)((r >> 8) % 14));
	} else if ((r >> 2) % 3 == 2) {
		*f++ = '*';
		*stars |= 1;
	}
	if (conv != 'c' && (r >> 16) % 4 == 1) {
		f += sprintf(f, ".%d", (int)((r >> 20) % 25));
	} else if (conv != 'c' && (r >> 16) % 4 == 2) {
		*f++ = '.';
	} else if (conv != 'c' && (r >> 16) % 4 == 3) {
		f += sprintf(f, ".*");
		*stars |= 2;
	}
	f += sprintf(f, "%s%c>", size, conv);
	return f;
}
/* Calls both with the stars' ints first, then val, and compares. */
#define FMT_FUZZ_CALL(val) do { \
	switch (stars) { \
	case 0: rg = util_fmt(g, cap, fmt, val); rw = snprintf(w, cap, fmt, val); break; \
	case 1: rg = util_fmt(g, cap, fmt, sw, val); rw = snprintf(w, cap, fmt, sw, val); break; \
	case 2: rg = util_fmt(g, cap, fmt, sp, val); rw = snprintf(w, cap, fmt, sp, val); break; \
	default: rg = util_fmt(g, cap, fmt, sw, sp, val); rw = snprintf(w, cap, fmt, sw, sp, val); \
	} \
} while (0)

/* Random specifications of every conversion and size, at random caps. */
static void
fmt_fuzz(void)
{
	static const char *const strs[] = { "", "a", "hello, world", "0123456789abcdefghijklmnopqrstuvwxyz" };
	static const struct { char conv; const char *size; } kinds[] = {
		{ 'd', "" }, { 'd', "l" }, { 'd', "ll" }, { 'd', "z" }, { 'u', "" }, { 'u', "l" },
		{ 'u', "ll" }, { 'u', "z" }, { 'x', "" }, { 'x', "l" }, { 'x', "ll" }, { 'x', "z" },
		{ 's', "" }, { 'c', "" },
	};
	uint64_t st = 0x9e3779b97f4a7c15ULL, v;
	char fmt[64], g[80], w[80];
	int i, k, stars, sw, sp, rg = 0, rw = 0, bad = 0;
	size_t cap;

	for (i = 0; i < 200000 && bad < 5; i++) {
		k = (int)(fmt_rand(&st) % (sizeof kinds / sizeof kinds[0]));
		*fmt_spec(&st, fmt, kinds[k].conv, kinds[k].size, &stars) = '\0';
		sw = (int)(fmt_rand(&st) % 29) - 14;
		sp = (int)(fmt_rand(&st) % 29) - 4;
		v = fmt_value(&st);
		cap = (size_t)(fmt_rand(&st) % (sizeof g + 1));
		memset(g, 'Z', sizeof g);
		memset(w, 'Z', sizeof w);
		switch (k) {
		case 0: FMT_FUZZ_CALL((int)v); break;
		case 1: FMT_FUZZ_CALL((long)v); break;
		case 2: FMT_FUZZ_CALL((long long)v); break;
		case 3: FMT_FUZZ_CALL((ssize_t)v); break;
		case 4: case 8: FMT_FUZZ_CALL((unsigned)v); break;
		case 5: case 9: FMT_FUZZ_CALL((unsigned long)v); break;
		case 6: case 10: FMT_FUZZ_CALL((unsigned long long)v); break;
		case 7: case 11: FMT_FUZZ_CALL((size_t)v); break;
		case 12: FMT_FUZZ_CALL(strs[v % 4]); break;
		default: FMT_FUZZ_CALL((int)(' ' + v % 95)); break;
		}
		if (rg != rw || memcmp(g, w, sizeof g) != 0) {
			bad++;
			printf("#   fuzz %d: \"%s\" (*%d .*%d, %llu) at cap %zu: got %d \"%.*s\", "
			    "want %d \"%.*s\"\n", i, fmt, sw, sp, (unsigned long long)v, cap, rg,
			    (int)sizeof g, g, rw, (int)sizeof w, w);
		}
	}
	CHECK_INT(bad, 0);
}

/* Milliseconds as seconds, %g's text for them. */
static void
fmt_seconds(void)
{
	static const int64_t ms[] = { 0, 1, 10, 100, 120, 1000, 1250, 60000, 3600000, 604800000,
		5001, 999999, -1500, -1 };
	char b[UTIL_SECONDS_LEN], want[64];
	size_t i;

	for (i = 0; i < sizeof ms / sizeof ms[0]; i++) {
		snprintf(want, sizeof want, "%g", (double)ms[i] / 1000);
		CHECK_STR(util_fmt_seconds(b, sizeof b, ms[i]), want);
	}
	CHECK_STR(util_fmt_seconds(b, sizeof b, 1700000000250), "1700000000.25");
	CHECK_STR(util_fmt_seconds(b, sizeof b, INT64_MIN), "-9223372036854775.808");
	CHECK_STR(util_fmt_seconds(b, 4, 1250), "1.2");
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
	RUN(fmt_conversions);
	RUN(fmt_edges);
	RUN(fmt_fuzz);
	RUN(fmt_seconds);
	RUN(env);
	RUN(wipe);
	return t_done();
}
