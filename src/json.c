/* json.c — see json.h. */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define JSMN_STATIC
#define JSMN_STRICT
#include "jsmn.h"

#include "util.h"

/* struct json_tok mirrors jsmntok_t, so jsmn can fill the caller's array directly. */
_Static_assert(sizeof(struct json_tok) == sizeof(jsmntok_t), "json_tok layout");
_Static_assert((int)JSON_STRING == (int)JSMN_STRING && (int)JSON_OBJECT == (int)JSMN_OBJECT &&
    (int)JSON_ARRAY == (int)JSMN_ARRAY && (int)JSON_PRIMITIVE == (int)JSMN_PRIMITIVE, "json types");

/*
 * Checks the shape jsmn left: every object member is a string key followed
 * by a value, and every container's children are all there. jsmn itself
 * lets "{\"a\":}" through. Returns the index after the value at i, or -1.
 */
static int
check_value(const struct json_tok *t, int n, int i, int depth)
{
	int k, size;

	if (i >= n || depth > JSON_MAX_DEPTH)
		return -1;
	size = t[i].size;
	switch (t[i].type) {
	case JSON_OBJECT:
		i++;
		for (k = 0; k < size; k++) {
			if (i >= n || t[i].type != JSON_STRING || t[i].size != 1)
				return -1;
			if ((i = check_value(t, n, i + 1, depth + 1)) < 0)
				return -1;
		}
		return i;
	case JSON_ARRAY:
		i++;
		for (k = 0; k < size; k++)
			if ((i = check_value(t, n, i, depth + 1)) < 0)
				return -1;
		return i;
	case JSON_STRING:
	case JSON_PRIMITIVE:
		return size == 0 ? i + 1 : -1;
	default:
		return -1;
	}
}

/*
 * jsmn also accepts stray commas ("[1,]", "{,}"); one pass over the text
 * outside strings finds them. Returns the offending offset, or -1.
 */
static long
stray_comma(const char *text, size_t len)
{
	char prev = 0;  /* last structural or value character outside strings */
	size_t i;
	int in_str = 0;

	for (i = 0; i < len; i++) {
		char c = text[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			continue;
		if ((c == '}' || c == ']') && prev == ',')
			return (long)i;
		if (c == ',' && (prev == ',' || prev == '[' || prev == '{' || prev == ':'))
			return (long)i;
		if (c == '"') {
			in_str = 1;
			prev = 'v';
			continue;
		}
		prev = c;
	}
	return -1;
}

int
json_parse(struct json_doc *d, const char *text, size_t len,
    struct json_tok *toks, int cap, char *err, size_t errlen)
{
	jsmn_parser p;
	int n;
	size_t end;

	memset(d, 0, sizeof *d);
	if (len > 0x7fffffff) {
		snprintf(err, errlen, "JSON document too large");
		return -1;
	}
	if (stray_comma(text, len) >= 0) {
		snprintf(err, errlen, "invalid JSON at byte %ld", stray_comma(text, len));
		return -1;
	}
	jsmn_init(&p);
	n = jsmn_parse(&p, text, len, (jsmntok_t *)(void *)toks, (unsigned)cap);
	switch (n) {
	case JSMN_ERROR_NOMEM:
		snprintf(err, errlen, "JSON has more than %d tokens", cap);
		return -1;
	case JSMN_ERROR_INVAL:
		snprintf(err, errlen, "invalid JSON at byte %u", p.pos);
		return -1;
	case JSMN_ERROR_PART:
		snprintf(err, errlen, "truncated JSON");
		return -1;
	}
	if (n < 1) {
		snprintf(err, errlen, "empty JSON document");
		return -1;
	}
	d->text = text;
	d->len = len;
	d->toks = toks;
	d->ntoks = n;
	/* jsmn stops after the first value only in non-strict corner cases; check what follows. */
	end = (size_t)toks[0].end + (toks[0].type == JSON_STRING ? 1 : 0);
	while (end < len && (text[end] == ' ' || text[end] == '\n' || text[end] == '\r' ||
	    text[end] == '\t'))
		end++;
	if (end != len || check_value(toks, n, 0, 0) != n) {
		if (end != len)
			snprintf(err, errlen, "invalid JSON: garbage after the document at byte %zu", end);
		else
			snprintf(err, errlen, "invalid JSON: malformed object or array");
		memset(d, 0, sizeof *d);
		return -1;
	}
	return 0;
}

int
json_next(const struct json_doc *d, int i)
{
	int pending = 1;

	/* Each token adds its children to what is still to skip. */
	while (pending > 0 && i < d->ntoks) {
		const struct json_tok *t = &d->toks[i];

		if (t->type == JSON_OBJECT)
			pending += 2 * t->size;
		else if (t->type == JSON_ARRAY)
			pending += t->size;
		pending--;
		i++;
	}
	return i;
}

/* Compares the (escaped) JSON string token at i with s, unescaping as it goes. */
int
json_str_eq(const struct json_doc *d, int i, const char *s)
{
	const struct json_tok *t;
	size_t l;

	if (i < 0 || i >= d->ntoks || d->toks[i].type != JSON_STRING)
		return 0;
	t = &d->toks[i];
	l = (size_t)(t->end - t->start);
	if (memchr(d->text + t->start, '\\', l) == NULL)
		return strlen(s) == l && memcmp(d->text + t->start, s, l) == 0;
	{
		char buf[512];
		int n = json_str(d, i, buf, sizeof buf);

		return n >= 0 && strcmp(buf, s) == 0;
	}
}

int
json_get(const struct json_doc *d, int obj, const char *key)
{
	int i, k;

	if (obj < 0 || obj >= d->ntoks || d->toks[obj].type != JSON_OBJECT)
		return -1;
	i = obj + 1;
	for (k = 0; k < d->toks[obj].size && i < d->ntoks; k++) {
		if (i + 1 >= d->ntoks)
			return -1;
		if (json_str_eq(d, i, key))
			return i + 1;
		i = json_next(d, i + 1);
	}
	return -1;
}

int
json_path(const struct json_doc *d, int obj, ...)
{
	const char *key;
	va_list ap;

	va_start(ap, obj);
	while (obj >= 0 && (key = va_arg(ap, const char *)) != NULL)
		obj = json_get(d, obj, key);
	va_end(ap);
	return obj;
}

int
json_elem(const struct json_doc *d, int arr, int n)
{
	int i, k;

	if (arr < 0 || arr >= d->ntoks || d->toks[arr].type != JSON_ARRAY ||
	    n < 0 || n >= d->toks[arr].size)
		return -1;
	i = arr + 1;
	for (k = 0; k < n && i < d->ntoks; k++)
		i = json_next(d, i);
	return i < d->ntoks ? i : -1;
}

static int
hex4(const char *p, const char *end, unsigned *out)
{
	unsigned v = 0;
	int k;

	if (end - p < 4)
		return -1;
	for (k = 0; k < 4; k++) {
		int d = util_hexval(p[k]);

		if (d < 0)
			return -1;
		v = v << 4 | (unsigned)d;
	}
	*out = v;
	return 0;
}

int
json_str(const struct json_doc *d, int i, char *out, size_t cap)
{
	const char *p, *end;
	size_t at = 0;

	if (i < 0 || i >= d->ntoks || d->toks[i].type != JSON_STRING || cap == 0)
		return -1;
	p = d->text + d->toks[i].start;
	end = d->text + d->toks[i].end;
	while (p < end) {
		unsigned char utf[4];
		size_t n = 1;
		unsigned cp;

		if (*p != '\\') {
			utf[0] = (unsigned char)*p++;
		} else {
			if (++p >= end)
				return -1;
			switch (*p++) {
			case '"': utf[0] = '"'; break;
			case '\\': utf[0] = '\\'; break;
			case '/': utf[0] = '/'; break;
			case 'b': utf[0] = '\b'; break;
			case 'f': utf[0] = '\f'; break;
			case 'n': utf[0] = '\n'; break;
			case 'r': utf[0] = '\r'; break;
			case 't': utf[0] = '\t'; break;
			case 'u':
				if (hex4(p, end, &cp) < 0)
					return -1;
				p += 4;
				if (cp >= 0xd800 && cp <= 0xdbff) {
					unsigned lo;

					if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
					    hex4(p + 2, end, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
						return -1;
					p += 6;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				} else if (cp >= 0xdc00 && cp <= 0xdfff) {
					return -1;
				}
				if (cp == 0)
					return -1;  /* an embedded NUL would cut the C string */
				if (cp < 0x80) {
					utf[0] = (unsigned char)cp;
				} else if (cp < 0x800) {
					utf[0] = (unsigned char)(0xc0 | cp >> 6);
					utf[1] = (unsigned char)(0x80 | (cp & 0x3f));
					n = 2;
				} else if (cp < 0x10000) {
					utf[0] = (unsigned char)(0xe0 | cp >> 12);
					utf[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
					utf[2] = (unsigned char)(0x80 | (cp & 0x3f));
					n = 3;
				} else {
					utf[0] = (unsigned char)(0xf0 | cp >> 18);
					utf[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
					utf[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
					utf[3] = (unsigned char)(0x80 | (cp & 0x3f));
					n = 4;
				}
				break;
			default:
				return -1;
			}
		}
		if (at + n >= cap)
			return -1;
		memcpy(out + at, utf, n);
		at += n;
	}
	out[at] = '\0';
	return (int)at;
}

int
json_int(const struct json_doc *d, int i, int64_t *out)
{
	const char *p, *end;
	int64_t v = 0;
	int neg = 0;

	if (i < 0 || i >= d->ntoks ||
	    (d->toks[i].type != JSON_PRIMITIVE && d->toks[i].type != JSON_STRING))
		return -1;
	p = d->text + d->toks[i].start;
	end = d->text + d->toks[i].end;
	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	if (p == end)
		return -1;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9' || v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	*out = neg ? -v : v;
	return 0;
}

int
json_bool(const struct json_doc *d, int i, int *out)
{
	const struct json_tok *t;

	if (i < 0 || i >= d->ntoks || d->toks[i].type != JSON_PRIMITIVE)
		return -1;
	t = &d->toks[i];
	if (t->end - t->start == 4 && memcmp(d->text + t->start, "true", 4) == 0)
		*out = 1;
	else if (t->end - t->start == 5 && memcmp(d->text + t->start, "false", 5) == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

int
json_is_null(const struct json_doc *d, int i)
{
	const struct json_tok *t;

	if (i < 0)
		return 1;
	if (i >= d->ntoks || d->toks[i].type != JSON_PRIMITIVE)
		return 0;
	t = &d->toks[i];
	return t->end - t->start == 4 && memcmp(d->text + t->start, "null", 4) == 0;
}

int
json_escape(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t at = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char e = 0;

		switch (c) {
		case '"': e = '"'; break;
		case '\\': e = '\\'; break;
		case '\n': e = 'n'; break;
		case '\r': e = 'r'; break;
		case '\t': e = 't'; break;
		}
		if (e != 0) {
			if (at + 2 >= cap)
				return -1;
			out[at++] = '\\';
			out[at++] = e;
		} else if (c < 0x20) {
			if (at + 6 >= cap)
				return -1;
			memcpy(out + at, "\\u00", 4);
			out[at + 4] = hex[c >> 4];
			out[at + 5] = hex[c & 15];
			at += 6;
		} else {
			if (at + 1 >= cap)
				return -1;
			out[at++] = (char)c;
		}
	}
	if (at >= cap)
		return -1;
	out[at] = '\0';
	return (int)at;
}
