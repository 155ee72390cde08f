/* log.c — see log.h. */
#include "log.h"

#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bounds.h"
#include "util.h"

static const char *const level_names[] = { "DEBUG", "INFO", "WARNING", "ERROR" };

void
log_init(struct log *lg, enum log_level level, int json)
{
	lg->level = level;
	lg->json = json;
	lg->fd = 2;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	if (strcasecmp(s, "DEBUG") == 0)
		*out = LV_DEBUG;
	else if (strcasecmp(s, "INFO") == 0)
		*out = LV_INFO;
	else if (strcasecmp(s, "WARNING") == 0 || strcasecmp(s, "WARN") == 0)
		*out = LV_WARNING;
	else if (strcasecmp(s, "ERROR") == 0)
		*out = LV_ERROR;
	else
		return -1;
	return 0;
}

const char *
log_level_name(enum log_level l)
{
	return (unsigned)l < 4 ? level_names[l] : "?";
}

/* Appends s to the JSON string being built in out, escaped; never overruns. */
static size_t
json_escape(char *out, size_t at, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (; *s != '\0' && at + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[at++] = '\\';
			out[at++] = (char)c;
		} else if (c == '\n') {
			out[at++] = '\\';
			out[at++] = 'n';
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(out + at, "\\u00", 4);
			out[at + 4] = hex[c >> 4];
			out[at + 5] = hex[c & 15];
			at += 6;
		} else {
			out[at++] = (char)c;
		}
	}
	return at;
}

void
log_vmsg(const struct log *lg, enum log_level l, const char *fmt, va_list ap)
{
	char msg[LOG_MAX_LINE], line[LOG_MAX_LINE * 2], ts[32];
	size_t at;
	int n;

	if (l < lg->level)
		return;
	n = util_vfmt(msg, sizeof msg, fmt, ap);
	if (n < 0)
		util_strlcpy(msg, "(unformattable log message)", sizeof msg);
	else if ((size_t)n >= sizeof msg)
		memcpy(msg + sizeof msg - 4, "...", 4);
	util_fmt_time_ms(ts, sizeof ts, util_wall_ms());
	if (lg->json) {
		n = util_fmt(line, sizeof line, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"",
		    ts, log_level_name(l));
		at = json_escape(line, (size_t)n, sizeof line - 4, msg);
		memcpy(line + at, "\"}\n", 3);
		at += 3;
	} else {
		char *p;

		/* One event, one line: fold any newline a peer's message carried. */
		for (p = msg; *p != '\0'; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		n = util_fmt(line, sizeof line, "%s %-7s %s\n", ts, log_level_name(l), msg);
		at = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
	}
	/* A single write keeps lines whole across threads; a failure has nowhere to go. */
	if (write(lg->fd, line, at) < 0)
		return;
}

void
log_msg(const struct log *lg, enum log_level l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lg, l, fmt, ap);
	va_end(ap);
}

void
log_limited(const struct log *lg, struct log_limit *ll, int64_t interval_ms,
    enum log_level l, const char *fmt, ...)
{
	int64_t now = util_now_ms();
	char msg[LOG_MAX_LINE];
	va_list ap;

	if (ll->next_ms != 0 && now < ll->next_ms) {
		ll->suppressed++;
		return;
	}
	va_start(ap, fmt);
	util_vfmt(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (ll->suppressed > 0)
		log_msg(lg, l, "%s (and %u more like it since)", msg, ll->suppressed);
	else
		log_msg(lg, l, "%s", msg);
	ll->suppressed = 0;
	ll->next_ms = now + interval_ms;
}

void
log_limit_reset(struct log_limit *ll)
{
	ll->next_ms = 0;
	ll->suppressed = 0;
}
