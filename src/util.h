/*
 * util.h — time, files and small string helpers shared by every layer.
 *
 * Deadlines are milliseconds on CLOCK_MONOTONIC (util_now_ms); the wall clock
 * (util_wall_ms) is used only for timestamps that AWS and Kubernetes need and
 * for log lines.
 */
#ifndef DESPOTIFY_UTIL_H
#define DESPOTIFY_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Milliseconds on the monotonic clock: the base of every deadline. */
int64_t util_now_ms(void);

/* Milliseconds since the Unix epoch on the wall clock. */
int64_t util_wall_ms(void);

/*
 * Sleeps for ms milliseconds, or less if a signal arrives (so that the
 * signal flags are seen promptly). ms <= 0 returns at once.
 */
void util_sleep_ms(int64_t ms);

/*
 * Formats epoch milliseconds as RFC 3339 UTC with milliseconds,
 * "2017-09-18T08:22:00.000Z", into buf (at least 25 bytes). Returns buf.
 */
char *util_fmt_time_ms(char *buf, size_t n, int64_t epoch_ms);

/* The same, whole seconds: "2017-09-18T08:22:00Z" (at least 21 bytes). */
char *util_fmt_time(char *buf, size_t n, int64_t epoch_s);

/*
 * Formats milliseconds as decimal seconds without trailing zeros: 100 is
 * "0.1", 60000 "60", 1250 "1.25", -1500 "-1.5" (what %g gives for values
 * of up to six digits, without a float). buf has n bytes; UTIL_SECONDS_LEN
 * fits any value. Returns buf.
 */
#define UTIL_SECONDS_LEN 32
char *util_fmt_seconds(char *buf, size_t n, int64_t ms);

/*
 * Parses an RFC 3339 / ISO 8601 UTC or offset time of len bytes
 * ("2017-09-18T08:22:00Z", "2017-09-18T08:22:00.123+02:00",
 * "2017-09-18 08:22:00Z") into seconds since the epoch. Surrounding white
 * space is allowed. Returns 0, or -1 if s is not such a time. Pure.
 */
int util_parse_time(const char *s, size_t len, int64_t *epoch_s);

/*
 * Parses an HTTP date (IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT") into
 * seconds since the epoch. Returns 0 or -1. Pure.
 */
int util_parse_http_date(const char *s, size_t len, int64_t *epoch_s);

/*
 * Parses a date as EC2's scheduled events write it, "21 Jan 2019 09:00:43 GMT"
 * (the day may have one digit: "6 Feb 2019 ..."), into seconds since the
 * epoch. Surrounding white space is allowed. Returns 0 or -1. Pure.
 */
int util_parse_gmt_date(const char *s, size_t len, int64_t *epoch_s);

/*
 * Parses a Retry-After header value of len bytes (RFC 9110 10.2.3):
 * delay-seconds, or an HTTP date compared with now_wall_s. Returns 0 with
 * the wait in *ms (at least 0; more than a day counts as a day), or -1 if
 * the value is neither. Pure: the one parser of Retry-After.
 */
int util_retry_after_parse(const char *v, size_t len, int64_t now_wall_s, int64_t *ms);

/*
 * How long to honour a Retry-After that asked for asked_ms when left_ms
 * remain before the caller's deadline: what was asked, but never more than
 * RETRY_AFTER_MAX_MS nor more than a RETRY_AFTER_LEFT_DIV-th of the time
 * left, so that throttling slows a job down and never uses up its time.
 * Never less than 0. Pure.
 */
int64_t util_retry_after_cap(int64_t asked_ms, int64_t left_ms);

/* Days-from-civil: seconds since the epoch of a UTC calendar time. Pure. */
int64_t util_timegm(int year, int mon, int day, int hour, int min, int sec);

/*
 * Reads the whole file at path into buf (cap bytes, NUL-terminated, so at
 * most cap - 1 bytes of content) and stores its length in *len. A file
 * larger than that is an error, not a truncation. On error returns -1 and
 * writes "open /path: No such file or directory" or the like into err.
 */
int util_read_file(const char *path, char *buf, size_t cap, size_t *len,
    char *err, size_t errlen);

/* Copies src into dst of size n, always NUL-terminated. Returns -1 if src did not fit. */
int util_strlcpy(char *dst, const char *src, size_t n);

/*
 * The one formatter, in place of the C library's printf family (whose
 * floating-point code would be linked with it): snprintf's contract for the
 * conversions it knows. It writes at most cap - 1 bytes of the text and a
 * NUL (nothing for cap 0) and returns the length of the whole text, which is
 * >= cap if it was cut. Knows %[-][0][width][.prec][l|ll|z] with d u x s c
 * and %% (width and precision may be '*'; %s of NULL is "(null)"); any other
 * conversion (floats, %p, %i, h) returns -1 with the text before it.
 */
int util_vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
int util_fmt(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Formats as util_fmt does and writes the whole text to fd (write(2), again
 * after a short write or EINTR): for the command line's output, which does
 * not go through the log. Returns 0, or -1 if it could not.
 */
int util_write_fmt(int fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* 0 if util_fmt's result r says its text fitted in n bytes, else -1. */
int util_fitted(int r, size_t n);

/*
 * util_fmt that returns -1 when the output did not fit (or on error), else
 * 0. A macro over util_fmt (so -Wformat checks it); n is evaluated twice.
 */
#define util_snprintf(dst, n, ...) util_fitted(util_fmt((dst), (n), __VA_ARGS__), (n))

/*
 * Appends formatted text at buf + *at (buf has cap bytes, kept
 * NUL-terminated) and advances *at: util_buf_fmt for callers that carry
 * (buf, cap, *at). Returns 0, or -1 if it did not fit (or an earlier call
 * already failed: *at == cap, sticky); a caller that sees -1 must not use
 * the text, which lacks what did not fit.
 */
int util_append(char *buf, size_t cap, size_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * The one bounded string builder. The caller owns the storage p[0..cap);
 * the text stays NUL-terminated. Once something does not fit, over is set
 * and stays set, every later append is a no-op, and the caller checks over
 * once at the end: an over result is an error, never a cut text to use.
 */
struct util_buf {
	char *p;
	size_t cap, len;
	int over;          /* something did not fit: the text is unusable */
};

/* Starts an empty text in p (cap bytes; cap 0 is over at once). */
void util_buf_init(struct util_buf *b, char *p, size_t cap);

/* Appends n bytes of s (which may hold NULs), or marks b over. */
void util_buf_mem(struct util_buf *b, const void *s, size_t n);

/* Appends the C string s, or marks b over. */
void util_buf_str(struct util_buf *b, const char *s);

/* Appends one byte, or marks b over. */
void util_buf_chr(struct util_buf *b, char c);

/* Appends printf-formatted text, or marks b over. */
void util_buf_fmt(struct util_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The text's length, or -1 if b is over: what a function that fills a caller's buffer returns. */
int util_buf_done(const struct util_buf *b);

/*
 * Overwrites n bytes at p with zeros in a way the compiler may not drop as
 * a dead store: the one wipe for secrets.
 */
void util_wipe(void *p, size_t n);

/*
 * The value of the variable name in envp (NULL-terminated "NAME=value"
 * strings; envp itself may be NULL), or NULL if it is unset. An empty value
 * counts as unset, the rule of the config and of every other reader of the
 * environment. Pure: no getenv.
 */
const char *util_env(char *const *envp, const char *name);

/*
 * Where the n bytes of needle first occur in h[0..hn), or NULL (needle of 0
 * bytes: h). memmem's contract in a plain loop: musl's two-way memmem is
 * 1.2 KB of the binary for a search in a few KB of IMDS text.
 */
const char *util_memmem(const char *h, size_t hn, const char *needle, size_t n);

/* Case-insensitive comparison of a length-delimited string with a C string. */
int util_strncaseeq(const char *a, size_t alen, const char *b);

/* Trims ASCII white space from both ends of s[0..*len); returns the new start. */
const char *util_trim(const char *s, size_t *len);

/* The value of a hexadecimal digit (either case), or -1. */
int util_hexval(int c);

/* A uniformly random 32-bit number from getrandom(); for jitter, not keys. */
uint32_t util_random(void);

/* Fills buf with n bytes of kernel entropy (getrandom). Returns 0 or -1. */
int util_entropy(void *buf, size_t n);

/*
 * Parses a non-negative decimal number of seconds ("5", "0.2", "120") into
 * milliseconds; digits past the third decimal are dropped ("0.0019" is 1
 * ms). Returns 0, or -1 for anything else: a sign, garbage, a bare or
 * trailing '.', or over 100000000 seconds.
 */
int util_parse_seconds(const char *s, int64_t *ms);

/*
 * Decodes the standard base64 (RFC 4648 section 4, '=' padding optional)
 * text in[0..n) into out (cap bytes) and stores the length in *len.
 * Returns 0, or -1 if in is not base64 or out is too small. Pure.
 */
int util_base64_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *len);

/*
 * Encodes in[0..n) as unpadded base64url (RFC 4648 section 5) into out (cap
 * bytes, NUL-terminated). Returns the length, or -1 if it did not fit. Pure.
 */
int util_base64url_encode(const void *in, size_t n, char *out, size_t cap);

/* Parses a non-negative decimal integer that fits in an int. Returns 0 or -1. */
int util_parse_uint(const char *s, int *out);

#endif
