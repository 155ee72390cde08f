/* util.c — see util.h. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"

int64_t
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
util_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
util_sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	/* An interruption by a signal ends the sleep early on purpose. */
	nanosleep(&ts, NULL);
}

/* Civil date of epoch_s (Howard Hinnant's algorithm); returns the second of that day. */
static int64_t
civil_from_secs(int64_t epoch_s, int *y, int *m, int *d)
{
	int64_t z = epoch_s / 86400, rem = epoch_s % 86400, era, doe, yoe, doy, mp;

	if (rem < 0) {
		rem += 86400;
		z--;
	}
	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
	return rem;
}

int64_t
util_timegm(int year, int mon, int day, int hour, int min, int sec)
{
	int64_t y = year - (mon <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (mon + (mon > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = era * 146097 + doe - 719468;

	return days * 86400 + hour * 3600 + min * 60 + sec;
}

char *
util_fmt_time_ms(char *buf, size_t n, int64_t epoch_ms)
{
	int y, m, d;
	int64_t rem = civil_from_secs(epoch_ms / 1000, &y, &m, &d);

	util_fmt(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d,
	    (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60),
	    (int)(epoch_ms % 1000 < 0 ? 0 : epoch_ms % 1000));
	return buf;
}

char *
util_fmt_time(char *buf, size_t n, int64_t epoch_s)
{
	int y, m, d;
	int64_t rem = civil_from_secs(epoch_s, &y, &m, &d);

	util_fmt(buf, n, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d,
	    (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
	return buf;
}

char *
util_fmt_seconds(char *buf, size_t n, int64_t ms)
{
	unsigned long long a = ms < 0 ? 0ULL - (unsigned long long)ms : (unsigned long long)ms;
	unsigned frac = (unsigned)(a % 1000);
	int digits = 3;

	for (; frac != 0 && frac % 10 == 0; frac /= 10)
		digits--;
	if (frac == 0)
		util_fmt(buf, n, "%s%llu", ms < 0 ? "-" : "", a / 1000);
	else
		util_fmt(buf, n, "%s%llu.%0*u", ms < 0 ? "-" : "", a / 1000, digits, frac);
	return buf;
}

/* Reads exactly n digits at *p; returns -1 if they are not all digits. */
static int
digits(const char **p, const char *end, int n)
{
	int v = 0;

	if (end - *p < n)
		return -1;
	while (n-- > 0) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	return v;
}

static int
days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

int
util_parse_time(const char *s, size_t len, int64_t *epoch_s)
{
	const char *p = util_trim(s, &len), *end = p + len;
	int y, mo, d, h, mi, sec, off = 0;

	if ((y = digits(&p, end, 4)) < 0 || p >= end || *p++ != '-' ||
	    (mo = digits(&p, end, 2)) < 0 || p >= end || *p++ != '-' ||
	    (d = digits(&p, end, 2)) < 0 || p >= end ||
	    (*p != 'T' && *p != 't' && *p != ' ') || ++p >= end ||
	    (h = digits(&p, end, 2)) < 0 || p >= end || *p++ != ':' ||
	    (mi = digits(&p, end, 2)) < 0 || p >= end || *p++ != ':' ||
	    (sec = digits(&p, end, 2)) < 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
	    h > 23 || mi > 59 || sec > 60)
		return -1;
	if (p < end && *p == '.') {
		p++;
		if (p >= end || !isdigit((unsigned char)*p))
			return -1;
		while (p < end && isdigit((unsigned char)*p))
			p++;
	}
	if (p >= end)
		return -1;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om;

		if ((oh = digits(&p, end, 2)) < 0 || p >= end || *p++ != ':' ||
		    (om = digits(&p, end, 2)) < 0 || oh > 23 || om > 59)
			return -1;
		off = sign * (oh * 3600 + om * 60);
	} else {
		return -1;
	}
	if (p != end)
		return -1;
	*epoch_s = util_timegm(y, mo, d, h, mi, sec > 59 ? 59 : sec) - off;
	return 0;
}

int
util_parse_gmt_date(const char *s, size_t len, int64_t *epoch_s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const char *p = util_trim(s, &len), *end = p + len;
	int d, y, h, mi, sec, mo;

	/* "6 Nov 1994 08:49:37 GMT" or "06 Nov ...": 23 or 24 bytes. */
	if (len != 23 && len != 24)
		return -1;
	if ((d = digits(&p, end, len == 23 ? 1 : 2)) < 0 || *p++ != ' ')
		return -1;
	for (mo = 0; mo < 12; mo++)
		if (memcmp(p, months + 3 * mo, 3) == 0)
			break;
	if (mo == 12)
		return -1;
	p += 3;
	if (*p++ != ' ' || (y = digits(&p, end, 4)) < 0 || *p++ != ' ' ||
	    (h = digits(&p, end, 2)) < 0 || *p++ != ':' ||
	    (mi = digits(&p, end, 2)) < 0 || *p++ != ':' ||
	    (sec = digits(&p, end, 2)) < 0 || memcmp(p, " GMT", 4) != 0)
		return -1;
	if (d < 1 || d > days_in_month(y, mo + 1) || h > 23 || mi > 59 || sec > 60)
		return -1;
	*epoch_s = util_timegm(y, mo + 1, d, h, mi, sec > 59 ? 59 : sec);
	return 0;
}

int
util_parse_http_date(const char *s, size_t len, int64_t *epoch_s)
{
	const char *p = util_trim(s, &len);

	/* "Sun, 06 Nov 1994 08:49:37 GMT": a day name, then the date. */
	if (len != 29 || p[3] != ',' || p[4] != ' ')
		return -1;
	return util_parse_gmt_date(p + 5, len - 5, epoch_s);
}

int
util_retry_after_parse(const char *v, size_t len, int64_t now_wall_s, int64_t *ms)
{
	const char *p = util_trim(v, &len);
	int64_t secs = 0, when;
	size_t i;

	if (len == 0)
		return -1;
	for (i = 0; i < len && isdigit((unsigned char)p[i]); i++)
		if ((secs = secs * 10 + (p[i] - '0')) > 86400)
			secs = 86400;
	if (i == len) {
		*ms = secs * 1000;
		return 0;
	}
	if (util_parse_http_date(p, len, &when) < 0)
		return -1;
	if (when - now_wall_s > 86400)
		when = now_wall_s + 86400;
	*ms = when > now_wall_s ? (when - now_wall_s) * 1000 : 0;
	return 0;
}

int64_t
util_retry_after_cap(int64_t asked_ms, int64_t left_ms)
{
	int64_t cap = left_ms / RETRY_AFTER_LEFT_DIV;

	if (cap > RETRY_AFTER_MAX_MS)
		cap = RETRY_AFTER_MAX_MS;
	if (asked_ms > cap)
		asked_ms = cap;
	return asked_ms < 0 ? 0 : asked_ms;
}

int
util_read_file(const char *path, char *buf, size_t cap, size_t *len,
    char *err, size_t errlen)
{
	size_t got = 0;
	ssize_t n;
	int fd;

	if (cap == 0) {
		util_fmt(err, errlen, "read %s: no buffer", path);
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		util_fmt(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (got == cap - 1) {
			char c;

			/* Full: only acceptable if the file ends exactly here. */
			n = read(fd, &c, 1);
			if (n == 0)
				break;
			close(fd);
			util_fmt(err, errlen, "read %s: file is larger than %zu bytes",
			    path, cap - 1);
			return -1;
		}
		n = read(fd, buf + got, cap - 1 - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			util_fmt(err, errlen, "read %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*len = got;
	return 0;
}

const char *
util_memmem(const char *h, size_t hn, const char *needle, size_t n)
{
	size_t i;

	for (i = 0; n <= hn && i <= hn - n; i++)
		if (memcmp(h + i, needle, n) == 0)
			return h + i;
	return NULL;
}

int
util_strlcpy(char *dst, const char *src, size_t n)
{
	size_t l = strlen(src);

	if (n == 0)
		return -1;
	if (l >= n) {
		memcpy(dst, src, n - 1);
		dst[n - 1] = '\0';
		return -1;
	}
	memcpy(dst, src, l + 1);
	return 0;
}

/* ---- The formatter (see util_vfmt in util.h) ------------------------------ */

/* What has been written so far: len counts every byte, stored or not. */
struct fmt_out {
	char *p;
	size_t cap, len;
};

/* One conversion specification: %[-0][width][.prec][l|ll|z]conv. */
struct fmt_spec {
	int left, zero, width, prec;   /* prec < 0: none */
	char size;                      /* 0, 'l', 'q' (ll) or 'z' */
	char conv;
};

static void
out_mem(struct fmt_out *o, const char *s, size_t n)
{
	for (; n > 0; n--, s++, o->len++)
		if (o->len + 1 < o->cap)
			o->p[o->len] = *s;
}

static void
out_pad(struct fmt_out *o, char c, int n)
{
	for (; n > 0; n--)
		out_mem(o, &c, 1);
}

/* Writes sign (0 or '-'), zeros, then s[0..n), padded to the width. */
static void
out_field(struct fmt_out *o, const struct fmt_spec *sp, char sign, int zeros,
    const char *s, size_t n)
{
	size_t body = n + (size_t)zeros + (sign != 0);
	int pad = (size_t)sp->width > body ? sp->width - (int)body : 0;

	if (sp->zero && !sp->left && sp->prec < 0 && (sp->conv == 'd' || sp->conv == 'u' ||
	    sp->conv == 'x')) {
		zeros += pad;
		pad = 0;
	}
	if (!sp->left)
		out_pad(o, ' ', pad);
	out_mem(o, &sign, sign != 0);
	out_pad(o, '0', zeros);
	out_mem(o, s, n);
	if (sp->left)
		out_pad(o, ' ', pad);
}

/* Widths and precisions written in a format stop growing here. */
#define FMT_MAX_WIDTH 100000000

/* A width or precision at *f: digits, or '*' for the next int of *ap; 0 if none. */
static int
spec_number(const char **f, va_list *ap)
{
	int v = 0;

	if (**f == '*') {
		(*f)++;
		return va_arg(*ap, int);
	}
	for (; **f >= '0' && **f <= '9'; (*f)++)
		if (v < FMT_MAX_WIDTH)
			v = v * 10 + (**f - '0');
	return v;
}

/* Reads the specification after a '%' at f. Returns where it ends, or NULL. */
static const char *
spec_parse(const char *f, struct fmt_spec *sp, va_list *ap)
{
	memset(sp, 0, sizeof *sp);
	for (;; f++) {
		if (*f == '-')
			sp->left = 1;
		else if (*f == '0')
			sp->zero = 1;
		else
			break;
	}
	sp->width = spec_number(&f, ap);
	if (sp->width < 0) {   /* a negative * width is the '-' flag */
		sp->left = 1;
		sp->width = sp->width < -FMT_MAX_WIDTH ? FMT_MAX_WIDTH : -sp->width;
	}
	sp->prec = -1;
	if (*f == '.') {
		f++;
		sp->prec = spec_number(&f, ap);   /* a negative * precision is none */
	}
	if (*f == 'l' || *f == 'z') {
		sp->size = *f++;
		if (sp->size == 'l' && *f == 'l') {
			sp->size = 'q';
			f++;
		}
	}
	sp->conv = *f;
	return *f != '\0' && strchr("sdcux%", *f) != NULL ? f + 1 : NULL;
}

/* %d %u %x of the size sp says. */
static void
conv_int(struct fmt_out *o, const struct fmt_spec *sp, va_list *ap)
{
	char d[24];
	unsigned long long u;
	int n = 0, base = sp->conv == 'x' ? 16 : 10;
	char sign = 0;

	if (sp->conv == 'd') {
		long long v = sp->size == 'q' ? va_arg(*ap, long long) :
		    sp->size == 'l' ? va_arg(*ap, long) :
		    sp->size == 'z' ? va_arg(*ap, ssize_t) : va_arg(*ap, int);

		sign = v < 0 ? '-' : 0;
		u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	} else {
		u = sp->size == 'q' ? va_arg(*ap, unsigned long long) :
		    sp->size == 'l' ? va_arg(*ap, unsigned long) :
		    sp->size == 'z' ? va_arg(*ap, size_t) : va_arg(*ap, unsigned);
	}
	for (; u != 0 || (n == 0 && sp->prec != 0); u /= (unsigned)base)
		d[sizeof d - ++n] = "0123456789abcdef"[u % (unsigned)base];
	out_field(o, sp, sign, sp->prec > n ? sp->prec - n : 0, d + sizeof d - n, (size_t)n);
}

int
util_vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
{
	struct fmt_out o = { buf, cap, 0 };
	struct fmt_spec sp;
	const char *s;
	va_list aq;
	char c;

	va_copy(aq, ap);
	for (; *fmt != '\0'; fmt++) {
		if (*fmt != '%') {
			out_mem(&o, fmt, 1);
			continue;
		}
		if ((fmt = spec_parse(fmt + 1, &sp, &aq)) == NULL)
			break;
		fmt--;
		if (sp.conv == 's') {
			s = va_arg(aq, const char *);
			s = s != NULL ? s : "(null)";
			out_field(&o, &sp, 0, 0, s, sp.prec < 0 ? strlen(s) : strnlen(s, (size_t)sp.prec));
		} else if (sp.conv == 'c' || sp.conv == '%') {
			c = sp.conv == 'c' ? (char)va_arg(aq, int) : '%';
			out_field(&o, &sp, 0, 0, &c, 1);
		} else {
			conv_int(&o, &sp, &aq);
		}
	}
	va_end(aq);
	if (cap > 0)
		buf[o.len < cap ? o.len : cap - 1] = '\0';
	return fmt == NULL || o.len > INT_MAX ? -1 : (int)o.len;
}

int
util_fmt(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = util_vfmt(buf, cap, fmt, ap);
	va_end(ap);
	return r;
}

int
util_write_fmt(int fd, const char *fmt, ...)
{
	char small[1024], *p = small;
	size_t at = 0;
	ssize_t w;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = util_vfmt(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof small) {   /* a long text: format it again at its length */
		if ((p = malloc((size_t)n + 1)) == NULL)
			return -1;
		va_start(ap, fmt);
		util_vfmt(p, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	while (at < (size_t)n) {
		if ((w = write(fd, p + at, (size_t)n - at)) > 0)
			at += (size_t)w;
		else if (w == 0 || errno != EINTR)
			break;
	}
	if (p != small)
		free(p);
	return at == (size_t)n ? 0 : -1;
}

int
util_fitted(int r, size_t n)
{
	return r < 0 || (size_t)r >= n ? -1 : 0;
}

/* see util.h */
void
util_buf_init(struct util_buf *b, char *p, size_t cap)
{
	b->p = p;
	b->cap = cap;
	b->len = 0;
	b->over = cap == 0;
	if (cap > 0)
		p[0] = '\0';
}

void
util_buf_mem(struct util_buf *b, const void *s, size_t n)
{
	if (b->over || n >= b->cap - b->len) {
		b->over = 1;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
util_buf_str(struct util_buf *b, const char *s)
{
	util_buf_mem(b, s, strlen(s));
}

void
util_buf_chr(struct util_buf *b, char c)
{
	util_buf_mem(b, &c, 1);
}

static void
buf_vfmt(struct util_buf *b, const char *fmt, va_list ap)
{
	int r;

	if (b->over)
		return;
	r = util_vfmt(b->p + b->len, b->cap - b->len, fmt, ap);
	if (r < 0 || (size_t)r >= b->cap - b->len) {
		b->over = 1;
		b->p[b->len] = '\0';  /* no cut text left behind */
		return;
	}
	b->len += (size_t)r;
}

void
util_buf_fmt(struct util_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vfmt(b, fmt, ap);
	va_end(ap);
}

int
util_buf_done(const struct util_buf *b)
{
	return b->over ? -1 : (int)b->len;
}

/* The text of (buf, cap, *at) is a util_buf whose sticky over is *at == cap. */
int
util_append(char *buf, size_t cap, size_t *at, const char *fmt, ...)
{
	struct util_buf b = { buf, cap, *at, *at >= cap };
	va_list ap;

	va_start(ap, fmt);
	buf_vfmt(&b, fmt, ap);
	va_end(ap);
	*at = b.over ? cap : b.len;
	return b.over ? -1 : 0;
}

void
util_wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

const char *
util_env(char *const *envp, const char *name)
{
	size_t n = strlen(name);

	for (; envp != NULL && *envp != NULL; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return (*envp)[n + 1] != '\0' ? *envp + n + 1 : NULL;
	return NULL;
}

int
util_strncaseeq(const char *a, size_t alen, const char *b)
{
	size_t bl = strlen(b);

	return alen == bl && strncasecmp(a, b, alen) == 0;
}

const char *
util_trim(const char *s, size_t *len)
{
	size_t n = *len;

	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	*len = n;
	return s;
}

int
util_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
util_entropy(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

uint32_t
util_random(void)
{
	uint32_t v = 0;

	if (util_entropy(&v, sizeof v) < 0)
		v = (uint32_t)util_now_ms() * 2654435761u;
	return v;
}

int
util_parse_seconds(const char *s, int64_t *ms)
{
	int64_t whole = 0, frac = 0, scale = 100;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p)) {
		whole = whole * 10 + (*p++ - '0');
		if (whole > 100000000)  /* over three years: surely a mistake */
			return -1;
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p)) {
			frac += (*p++ - '0') * scale;
			scale /= 10;
		}
	}
	if (*p != '\0')
		return -1;
	*ms = whole * 1000 + frac;
	return 0;
}

int
util_parse_uint(const char *s, int *out)
{
	long v = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (*s++ - '0');
		if (v > 1000000000L)
			return -1;
	}
	if (*s != '\0')
		return -1;
	*out = (int)v;
	return 0;
}

/* The value of a standard base64 digit, or -1. */
static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int
util_base64_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *len)
{
	uint32_t acc = 0;
	size_t i, o = 0, pad = 0;
	int bits = 0, v;

	while (n > 0 && in[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	if (n % 4 == 1 || (pad > 0 && (n + pad) % 4 != 0))
		return -1;
	for (i = 0; i < n; i++) {
		if ((v = b64val((unsigned char)in[i])) < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* The bits left over must be zero, or the text was not made by an encoder. */
	if ((acc & ((1u << bits) - 1)) != 0)
		return -1;
	*len = o;
	return 0;
}

int
util_base64url_encode(const void *in, size_t n, char *out, size_t cap)
{
	static const char digits[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = in;
	size_t i, o = 0, need = n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
	uint32_t acc;

	if (need + 1 > cap)
		return -1;
	for (i = 0; i + 2 < n; i += 3) {
		acc = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = digits[acc >> 18 & 63];
		out[o++] = digits[acc >> 12 & 63];
		out[o++] = digits[acc >> 6 & 63];
		out[o++] = digits[acc & 63];
	}
	if (n - i == 1) {
		acc = (uint32_t)p[i] << 16;
		out[o++] = digits[acc >> 18 & 63];
		out[o++] = digits[acc >> 12 & 63];
	} else if (n - i == 2) {
		acc = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[o++] = digits[acc >> 18 & 63];
		out[o++] = digits[acc >> 12 & 63];
		out[o++] = digits[acc >> 6 & 63];
	}
	out[o] = '\0';
	return (int)o;
}
