/* json.c — see json.h. */
#include "json.h"

#include <stdarg.h>
#include <string.h>

#define JSMN_STATIC
#define JSMN_STRICT
#include "jsmn.h"

#include "util.h"

/* White space as JSON (and jsmn) has it. */
static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* What ends a primitive (jsmn's strict rule: not ':', and '"' or '{' are part of it). */
static int
is_delim(char c)
{
	return is_space(c) || c == ',' || c == ']' || c == '}';
}

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
 * jsmn lets missing and stray separators through ("[1 2]", "{\"a\":1 \"b\":2}",
 * "[1,]", "{,}"); one pass over the text outside strings finds them.
 * Returns the offending offset, or -1.
 */
static long
bad_separator(const char *text, size_t len)
{
	char prev = 0;  /* 'v' after a value, else the last structural character */
	size_t i;

	for (i = 0; i < len; i++) {
		char c = text[i];

		switch (c) {
		case ' ': case '\t': case '\n': case '\r':
			continue;
		case ',':
		case ':':
			if (prev != 'v')
				return (long)i;
			break;
		case '}':
		case ']':
			if (prev == ',' || prev == ':')
				return (long)i;
			c = 'v';
			break;
		default:
			/* A value starts: it must not follow another without a separator. */
			if (prev == 'v')
				return (long)i;
			if (c == '"') {
				for (i++; i < len && text[i] != '"'; i++)
					if (text[i] == '\\')
						i++;
				c = 'v';
			} else if (c != '{' && c != '[') {
				while (i + 1 < len && !is_delim(text[i + 1]))
					i++;
				c = 'v';
			}
		}
		prev = c;
	}
	return -1;
}

/*
 * Tokenises text[0..len) as json_parse does. Returns 0, -1 for bad JSON or
 * -2 when it needs more than cap tokens, with the reason in err.
 */
static int
parse_doc(struct json_doc *d, const char *text, size_t len, struct json_tok *toks, int cap,
    char *err, size_t errlen)
{
	jsmn_parser p;
	long bad;
	int n;
	size_t end;

	memset(d, 0, sizeof *d);
	if (len > 0x7fffffff) {
		util_fmt(err, errlen, "JSON document too large");
		return -1;
	}
	if ((bad = bad_separator(text, len)) >= 0) {
		util_fmt(err, errlen, "invalid JSON at byte %ld", bad);
		return -1;
	}
	jsmn_init(&p);
	n = jsmn_parse(&p, text, len, (jsmntok_t *)(void *)toks, (unsigned)cap);
	switch (n) {
	case JSMN_ERROR_NOMEM:
		util_fmt(err, errlen, "JSON has more than %d tokens", cap);
		return -2;
	case JSMN_ERROR_INVAL:
		util_fmt(err, errlen, "invalid JSON at byte %u", p.pos);
		return -1;
	case JSMN_ERROR_PART:
		util_fmt(err, errlen, "truncated JSON");
		return -1;
	}
	if (n < 1) {
		util_fmt(err, errlen, "empty JSON document");
		return -1;
	}
	d->text = text;
	d->len = len;
	d->toks = toks;
	d->ntoks = n;
	/* jsmn stops after the first value only in non-strict corner cases; check what follows. */
	end = (size_t)toks[0].end + (toks[0].type == JSON_STRING ? 1 : 0);
	while (end < len && is_space(text[end]))
		end++;
	if (end != len || check_value(toks, n, 0, 0) != n) {
		if (end != len)
			util_fmt(err, errlen, "invalid JSON: garbage after the document at byte %zu", end);
		else
			util_fmt(err, errlen, "invalid JSON: malformed object or array");
		memset(d, 0, sizeof *d);
		return -1;
	}
	return 0;
}

int
json_parse(struct json_doc *d, const char *text, size_t len,
    struct json_tok *toks, int cap, char *err, size_t errlen)
{
	return parse_doc(d, text, len, toks, cap, err, errlen) < 0 ? -1 : 0;
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

/* Appends s to b escaped as the contents of a JSON string. */
static void
buf_escape(struct util_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";

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
			util_buf_chr(b, '\\');
			util_buf_chr(b, e);
		} else if (c < 0x20) {
			util_buf_str(b, "\\u00");
			util_buf_chr(b, hex[c >> 4]);
			util_buf_chr(b, hex[c & 15]);
		} else {
			util_buf_chr(b, (char)c);
		}
	}
}

int
json_escape(const char *s, char *out, size_t cap)
{
	struct util_buf b;

	util_buf_init(&b, out, cap);
	buf_escape(&b, s);
	return util_buf_done(&b);
}

/* see json.h */
void
json_buf_str(struct util_buf *b, const char *s)
{
	util_buf_chr(b, '"');
	buf_escape(b, s);
	util_buf_chr(b, '"');
}

/* ---- Streamed lists ------------------------------------------------------------ */

enum {
	ST_ROOT,          /* before the root object */
	ST_KEY_FIRST,     /* after '{': a key or '}' */
	ST_KEY_NEXT,      /* after ',': a key */
	ST_KEY,           /* inside a key */
	ST_COLON,         /* after a key */
	ST_VALUE,         /* after ':' */
	ST_VALUE_IN,      /* inside a member's value or a list element */
	ST_AFTER_MEMBER,  /* after a member: ',' or '}' */
	ST_LIST_FIRST,    /* after the list's '[': an element or ']' */
	ST_LIST_NEXT,     /* after ',' in the list: an element */
	ST_AFTER_ITEM,    /* after an element: ',' or ']' */
	ST_DONE           /* after the root object: white space only */
};

void
json_stream_init(struct json_stream *s, const char *list_key, char *buf, size_t cap,
    struct json_tok *toks, int ntoks, json_stream_fn fn, void *arg)
{
	*s = (struct json_stream){ .list_key = list_key, .buf = buf, .cap = cap, .toks = toks,
		.ntoks = ntoks, .fn = fn, .arg = arg, .state = ST_ROOT };
}

/* Fails the stream: err gets "invalid JSON at byte N: what". */
static int
stream_bad(struct json_stream *s, uint64_t at, const char *what, char *err, size_t errlen)
{
	s->failed = 1;
	util_fmt(err, errlen, "invalid JSON at byte %llu: %s", (unsigned long long)at, what);
	return -1;
}

/* Starts collecting a value (or key) whose first byte is at the current offset. */
static void
value_begin(struct json_stream *s, int state, int in_list)
{
	s->state = state;
	s->len = 0;
	s->vsize = 0;
	s->vstart = s->off;
	s->base = s->open;
	s->in_str = s->esc = s->prim = 0;
	s->in_list = in_list;
}

/*
 * Advances over the value being collected through p[0..n). Returns 1 when
 * it ended (*used counts its bytes: a primitive's delimiter is not one of
 * them), 0 when all of p belongs to it, -1 when it nests too deep.
 */
static int
value_scan(struct json_stream *s, const char *p, size_t n, size_t *used)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = p[i];

		if (s->in_str) {
			/* The bulk of a pod is strings: skip to the next quote or backslash. */
			if (s->esc) {
				s->esc = 0;
				continue;
			}
			while (i < n && p[i] != '"' && p[i] != '\\')
				i++;
			if (i == n)
				break;
			if (p[i] == '\\') {
				s->esc = 1;
				continue;
			}
			s->in_str = 0;
			if (s->open == s->base) {
				*used = i + 1;
				return 1;
			}
			continue;
		}
		if (s->prim) {
			if (!is_delim(c))
				continue;
			s->prim = 0;
			if (s->open == s->base) {
				*used = i;
				return 1;
			}
		}
		switch (c) {
		case ' ': case '\t': case '\n': case '\r': case ',': case ':':
			continue;
		case '}':
		case ']':
			if (--s->open == s->base) {
				*used = i + 1;
				return 1;
			}
			continue;
		}
		/* A value (or key) starts here, as deep as the containers open around it. */
		if (s->open > JSON_MAX_DEPTH) {
			*used = i;
			return -1;
		}
		if (c == '"')
			s->in_str = 1;
		else if (c == '{' || c == '[')
			s->open++;
		else
			s->prim = 1;
	}
	*used = n;
	return 0;
}

/* Names the value being collected, for error messages. */
static void
value_name(const struct json_stream *s, char *out, size_t cap)
{
	if (s->state == ST_KEY)
		util_fmt(out, cap, "a key at byte %llu", (unsigned long long)s->vstart);
	else if (s->in_list)
		util_fmt(out, cap, "item %ld at byte %llu", s->items, (unsigned long long)s->vstart);
	else
		util_fmt(out, cap, "member \"%s\" at byte %llu", s->key, (unsigned long long)s->vstart);
}

/* A key was collected in buf: unescape it into s->key. */
static int
key_done(struct json_stream *s, char *err, size_t errlen)
{
	struct json_doc d;
	char e[128];

	if (parse_doc(&d, s->buf, s->len, s->toks, s->ntoks, e, sizeof e) < 0) {
		s->failed = 1;
		util_fmt(err, errlen, "the key at byte %llu: %s", (unsigned long long)s->vstart, e);
		return -1;
	}
	if (d.toks[0].type != JSON_STRING || json_str(&d, 0, s->key, sizeof s->key) < 0)
		s->key[0] = '\0';
	s->state = ST_COLON;
	return 0;
}

/* A value was collected in buf (or skipped, over the cap): tokenise it and hand it over. */
static int
value_done(struct json_stream *s, char *err, size_t errlen)
{
	struct json_doc d;
	char e[160], name[JSON_STREAM_MAX_KEY + 64], why[JSON_STREAM_MAX_KEY + 64 + 160 + 8];
	int r = -2;

	value_name(s, name, sizeof name);
	if (s->vsize <= s->len) {
		/* jsmn ends a primitive only at a delimiter: give it one. */
		if (s->len > 0 && s->buf[0] != '"' && s->buf[0] != '{' && s->buf[0] != '[')
			s->buf[s->len++] = ' ';
		r = parse_doc(&d, s->buf, s->len, s->toks, s->ntoks, e, sizeof e);
		if (r == -1 || (r == -2 && !s->in_list)) {
			s->failed = 1;
			util_fmt(err, errlen, "%s: %s", name, e);
			return -1;
		}
	}
	if (r == 0) {
		r = s->fn(s->arg, s->key, s->in_list ? s->items : -1, &d, NULL, err, errlen);
	} else {
		if (s->vsize > s->len)
			util_fmt(why, sizeof why, "%s: %llu bytes, over the %zu-byte buffer", name,
			    (unsigned long long)s->vsize, s->cap - 1);
		else
			util_fmt(why, sizeof why, "%s: %s", name, e);
		r = s->fn(s->arg, s->key, s->items, NULL, why, err, errlen);
	}
	if (r != 0) {
		s->failed = 1;
		return -1;
	}
	if (s->in_list) {
		s->items++;
		s->state = ST_AFTER_ITEM;
	} else {
		s->state = ST_AFTER_MEMBER;
	}
	return 0;
}

/* Keeps the bytes p[0..n) of the value being collected, or counts them once over the cap. */
static int
value_keep(struct json_stream *s, const char *p, size_t n, char *err, size_t errlen)
{
	char name[JSON_STREAM_MAX_KEY + 64];

	s->vsize += n;
	/* One byte stays free for the delimiter a primitive gets. */
	if (s->vsize + 1 <= s->cap) {
		memcpy(s->buf + s->len, p, n);
		s->len += n;
		return 0;
	}
	if (s->in_list && s->state == ST_VALUE_IN)
		return 0;
	value_name(s, name, sizeof name);
	s->failed = 1;
	util_fmt(err, errlen, "%s: over the %zu-byte buffer", name, s->cap - 1);
	return -1;
}

/* stream_byte inside the list: between its elements. */
static int
list_byte(struct json_stream *s, char c, char *err, size_t errlen)
{
	char what[64];

	if (s->state == ST_AFTER_ITEM) {
		if (c == ',') {
			s->state = ST_LIST_NEXT;
			return 0;
		}
		if (c != ']')
			return stream_bad(s, s->off, "',' or ']' should be here", err, errlen);
	} else if (c != ']' || s->state != ST_LIST_FIRST) {
		if (c == ']')
			return stream_bad(s, s->off, "']' after ','", err, errlen);
		if (c != '{') {
			util_fmt(what, sizeof what, "item %ld is not an object", s->items);
			return stream_bad(s, s->off, what, err, errlen);
		}
		value_begin(s, ST_VALUE_IN, 1);
		return 1;
	}
	s->open--;
	s->state = ST_AFTER_MEMBER;
	return 0;
}

/*
 * One structural byte c between values (white space, brackets, commas,
 * colons). Returns 0 when c was consumed, 1 when a key or value begins at c
 * (value_scan takes it from there), or -1 with err.
 */
static int
stream_byte(struct json_stream *s, char c, char *err, size_t errlen)
{
	if (is_space(c))
		return 0;
	switch (s->state) {
	case ST_ROOT:
		if (c != '{')
			return stream_bad(s, s->off, "the body is not a JSON object", err, errlen);
		s->open = 1;
		s->state = ST_KEY_FIRST;
		return 0;
	case ST_KEY_FIRST:
	case ST_KEY_NEXT:
		if (c == '}' && s->state == ST_KEY_FIRST) {
			s->open = 0;
			s->state = ST_DONE;
			return 0;
		}
		if (c != '"')
			return stream_bad(s, s->off, "a key should be here", err, errlen);
		value_begin(s, ST_KEY, 0);
		return 1;
	case ST_COLON:
		if (c != ':')
			return stream_bad(s, s->off, "':' should be here", err, errlen);
		s->state = ST_VALUE;
		return 0;
	case ST_VALUE:
		if (c == ',' || c == ':' || c == '}' || c == ']')
			return stream_bad(s, s->off, "a value should be here", err, errlen);
		if (strcmp(s->key, s->list_key) == 0) {
			if (s->list_seen)
				return stream_bad(s, s->off, "the list's key appears twice", err, errlen);
			s->list_seen = 1;
			if (c == '[') {
				s->open++;
				s->state = ST_LIST_FIRST;
				return 0;
			}
		}
		value_begin(s, ST_VALUE_IN, 0);
		return 1;
	case ST_AFTER_MEMBER:
		if (c == ',') {
			s->state = ST_KEY_NEXT;
			return 0;
		}
		if (c != '}')
			return stream_bad(s, s->off, "',' or '}' should be here", err, errlen);
		s->open = 0;
		s->state = ST_DONE;
		return 0;
	case ST_LIST_FIRST:
	case ST_LIST_NEXT:
	case ST_AFTER_ITEM:
		return list_byte(s, c, err, errlen);
	default:
		return stream_bad(s, s->off, "garbage after the document", err, errlen);
	}
}

int
json_stream_feed(struct json_stream *s, const char *p, size_t n, char *err, size_t errlen)
{
	size_t i = 0;

	if (s->failed) {
		util_fmt(err, errlen, "the body was already found bad");
		return -1;
	}
	while (i < n) {
		size_t used;
		int r;

		if (s->state != ST_KEY && s->state != ST_VALUE_IN) {
			if ((r = stream_byte(s, p[i], err, errlen)) < 0)
				return -1;
			if (r == 0) {
				i++;
				s->off++;
			}
			continue;
		}
		r = value_scan(s, p + i, n - i, &used);
		if (r < 0)
			return stream_bad(s, s->off + used, "nested deeper than the depth limit", err, errlen);
		if (value_keep(s, p + i, used, err, errlen) < 0)
			return -1;
		i += used;
		s->off += used;
		if (r == 1 && (s->state == ST_KEY ? key_done(s, err, errlen) : value_done(s, err, errlen)) < 0)
			return -1;
	}
	return 0;
}

int
json_stream_end(struct json_stream *s, char *err, size_t errlen)
{
	if (s->failed) {
		util_fmt(err, errlen, "the body was already found bad");
		return -1;
	}
	if (s->state == ST_DONE)
		return 0;
	s->failed = 1;
	if (s->state == ST_ROOT)
		util_fmt(err, errlen, "empty JSON document");
	else
		util_fmt(err, errlen, "truncated JSON at byte %llu", (unsigned long long)s->off);
	return -1;
}
