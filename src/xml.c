/* xml.c — see xml.h. */
#include "xml.h"

#include <stdarg.h>
#include <string.h>

#include "util.h"

enum mode { M_TEXT, M_COUNT, M_ROOT };

/* One pass over a document: the checks, and the path match. */
struct scan {
	const char *d;
	size_t len, pos;

	/* The path sought: local names, anchored at the root or not. */
	const char *want[XML_MAX_DEPTH];
	size_t wantlen[XML_MAX_DEPTH];
	int nwant, anchored;

	/* Open elements, by qualified name (pointing into d). */
	const char *stk[XML_MAX_DEPTH];
	size_t stklen[XML_MAX_DEPTH];
	int depth;

	enum mode mode;
	char *out;
	size_t cap, olen;
	int capturing, cap_depth, found, count;
	const char *root;
	size_t rootlen;

	char *err;
	size_t errlen;
};

static int fail(struct scan *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(struct scan *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = util_fmt(s->err, s->errlen, "XML: ");
	if (n < 0 || (size_t)n >= s->errlen)
		return -1;
	va_start(ap, fmt);
	util_vfmt(s->err + n, s->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
name_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || c >= 0x80;
}

static int
name_char(unsigned char c)
{
	return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* Length of the XML name at pos, 0 if there is none. */
static size_t
name_at(const struct scan *s, size_t pos)
{
	size_t i = pos;

	if (i >= s->len || !name_start((unsigned char)s->d[i]))
		return 0;
	for (i++; i < s->len && name_char((unsigned char)s->d[i]); i++)
		;
	return i - pos;
}

/* The local part of a qualified name (after the last ':'). */
static void
local_name(const char *q, size_t qlen, const char **l, size_t *llen)
{
	size_t i;

	*l = q;
	*llen = qlen;
	for (i = qlen; i > 0; i--) {
		if (q[i - 1] == ':') {
			*l = q + i;
			*llen = qlen - i;
			return;
		}
	}
}

static int
skip_space(struct scan *s)
{
	size_t start = s->pos;

	while (s->pos < s->len && is_space(s->d[s->pos]))
		s->pos++;
	return s->pos > start;
}

static int
emit(struct scan *s, const char *p, size_t n)
{
	if (!s->capturing)
		return 0;
	if (n >= s->cap - s->olen) {
		const char *l;
		size_t ll;

		local_name(s->want[s->nwant - 1], s->wantlen[s->nwant - 1], &l, &ll);
		return fail(s, "text of %.*s over %zu bytes", (int)ll, l, s->cap - 1);
	}
	memcpy(s->out + s->olen, p, n);
	s->olen += n;
	s->out[s->olen] = '\0';
	return 0;
}

static size_t
utf8_encode(unsigned long cp, char *u)
{
	if (cp < 0x80) {
		u[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	u[0] = (char)(0xF0 | (cp >> 18));
	u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	u[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/*
 * Decodes the reference at s->pos ('&'): a predefined entity or a
 * character reference. Writes its UTF-8 into u (4 bytes), its length into
 * *n, and moves past the ';'.
 */
static int
reference(struct scan *s, char *u, size_t *n)
{
	static const struct { const char *name; char c; } predef[] = {
		{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' },
	};
	const char *p = s->d + s->pos + 1, *semi;
	size_t rem = s->len - s->pos - 1, elen, i;
	unsigned long cp = 0;

	semi = memchr(p, ';', rem < 12 ? rem : 12);
	if (semi == NULL || semi == p)
		return fail(s, "malformed reference at byte %zu", s->pos);
	elen = (size_t)(semi - p);
	if (p[0] == '#') {
		int base = 10;

		i = 1;
		if (elen > 1 && p[1] == 'x') {
			base = 16;
			i = 2;
		}
		if (i == elen)
			return fail(s, "malformed character reference at byte %zu", s->pos);
		for (; i < elen; i++) {
			int v;
			char c = p[i];

			if (c >= '0' && c <= '9')
				v = c - '0';
			else if (base == 16 && c >= 'a' && c <= 'f')
				v = c - 'a' + 10;
			else if (base == 16 && c >= 'A' && c <= 'F')
				v = c - 'A' + 10;
			else
				return fail(s, "malformed character reference at byte %zu", s->pos);
			cp = cp * (unsigned long)base + (unsigned long)v;
			if (cp > 0x10FFFF)
				return fail(s, "character reference out of range at byte %zu", s->pos);
		}
		/* XML 1.0's Char production. */
		if (!(cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
		    (cp >= 0xE000 && cp <= 0xFFFD) || cp >= 0x10000))
			return fail(s, "character reference to a non-character at byte %zu", s->pos);
		*n = utf8_encode(cp, u);
	} else {
		for (i = 0; i < sizeof predef / sizeof predef[0]; i++)
			if (strlen(predef[i].name) == elen && memcmp(predef[i].name, p, elen) == 0)
				break;
		if (i == sizeof predef / sizeof predef[0])
			return fail(s, "unknown entity at byte %zu", s->pos);
		u[0] = predef[i].c;
		*n = 1;
	}
	s->pos = (size_t)(semi - s->d) + 1;
	return 0;
}

/* Whether the open elements, innermost last, end with the path sought. */
static int
matches(const struct scan *s)
{
	int i, off;

	if (s->nwant == 0 || s->depth < s->nwant || (s->anchored && s->depth != s->nwant))
		return 0;
	off = s->depth - s->nwant;
	for (i = 0; i < s->nwant; i++) {
		const char *l;
		size_t ll;

		local_name(s->stk[off + i], s->stklen[off + i], &l, &ll);
		if (ll != s->wantlen[i] || memcmp(l, s->want[i], ll) != 0)
			return 0;
	}
	return 1;
}

static void
close_element(struct scan *s)
{
	s->depth--;
	if (s->capturing && s->depth < s->cap_depth)
		s->capturing = 0;
}

/* Skips to just past the terminator term, which must follow from s->pos. */
static int
skip_past(struct scan *s, const char *term, const char *what)
{
	size_t tl = strlen(term), i;

	for (i = s->pos; i + tl <= s->len; i++) {
		if (memcmp(s->d + i, term, tl) == 0) {
			s->pos = i + tl;
			return 0;
		}
	}
	return fail(s, "unterminated %s at byte %zu", what, s->pos);
}

/* One attribute, name = "value" or 'value', at s->pos (after white space); tag at byte at. */
static int
attribute(struct scan *s, size_t at)
{
	size_t alen = name_at(s, s->pos), n;
	char q, u[4];

	if (alen == 0)
		return fail(s, "malformed attribute at byte %zu", s->pos);
	s->pos += alen;
	skip_space(s);
	if (s->pos >= s->len || s->d[s->pos] != '=')
		return fail(s, "attribute without a value at byte %zu", s->pos);
	s->pos++;
	skip_space(s);
	if (s->pos >= s->len || (s->d[s->pos] != '"' && s->d[s->pos] != '\''))
		return fail(s, "unquoted attribute value at byte %zu", s->pos);
	q = s->d[s->pos++];
	for (;;) {
		if (s->pos >= s->len)
			return fail(s, "unexpected end of document in an attribute at byte %zu", at);
		if (s->d[s->pos] == q) {
			s->pos++;
			return 0;
		}
		if (s->d[s->pos] == '<')
			return fail(s, "'<' in an attribute value at byte %zu", s->pos);
		if (s->d[s->pos] == '&') {
			if (reference(s, u, &n) < 0)
				return -1;
		} else {
			s->pos++;
		}
	}
}

/* Enters the element name[0..nlen) just opened. */
static int
open_element(struct scan *s, const char *name, size_t nlen)
{
	if (s->depth == XML_MAX_DEPTH)
		return fail(s, "nested deeper than %d elements", XML_MAX_DEPTH);
	if (s->depth == 0) {
		s->root = name;
		s->rootlen = nlen;
	}
	s->stk[s->depth] = name;
	s->stklen[s->depth] = nlen;
	s->depth++;
	if (matches(s)) {
		s->count++;
		if (s->mode == M_TEXT && !s->found) {
			s->found = 1;
			s->capturing = 1;
			s->cap_depth = s->depth;
		}
	}
	return 0;
}

static int
start_tag(struct scan *s)
{
	size_t at = s->pos, nlen;
	const char *name;
	int self_closing = 0;

	s->pos++;
	nlen = name_at(s, s->pos);
	if (nlen == 0)
		return fail(s, "bad element name at byte %zu", at);
	name = s->d + s->pos;
	s->pos += nlen;
	for (;;) {
		int space = skip_space(s);

		if (s->pos >= s->len)
			return fail(s, "unexpected end of document in a tag at byte %zu", at);
		if (s->d[s->pos] == '>') {
			s->pos++;
			break;
		}
		if (s->d[s->pos] == '/') {
			if (s->pos + 1 >= s->len || s->d[s->pos + 1] != '>')
				return fail(s, "malformed tag at byte %zu", at);
			s->pos += 2;
			self_closing = 1;
			break;
		}
		if (!space)
			return fail(s, "malformed attribute at byte %zu", s->pos);
		if (attribute(s, at) < 0)
			return -1;
	}
	if (open_element(s, name, nlen) < 0)
		return -1;
	if (self_closing)
		close_element(s);
	return 0;
}

static int
end_tag(struct scan *s)
{
	size_t at = s->pos, nlen;

	s->pos += 2;
	nlen = name_at(s, s->pos);
	if (nlen == 0)
		return fail(s, "bad end tag at byte %zu", at);
	if (s->pos + nlen >= s->len)
		return fail(s, "unexpected end of document in an end tag at byte %zu", at);
	if (s->depth == 0)
		return fail(s, "end tag without a start tag at byte %zu", at);
	if (nlen != s->stklen[s->depth - 1] || memcmp(s->d + s->pos, s->stk[s->depth - 1], nlen) != 0)
		return fail(s, "mismatched end tag </%.*s> at byte %zu", (int)(nlen > 64 ? 64 : nlen),
		    s->d + s->pos, at);
	s->pos += nlen;
	skip_space(s);
	if (s->pos >= s->len || s->d[s->pos] != '>')
		return fail(s, "malformed end tag at byte %zu", at);
	s->pos++;
	close_element(s);
	return 0;
}

/* Character data up to the next '<', inside an element. */
static int
text(struct scan *s)
{
	size_t run = s->pos, n;
	char u[4];

	while (s->pos < s->len && s->d[s->pos] != '<') {
		if (s->d[s->pos] != '&') {
			s->pos++;
			continue;
		}
		if (emit(s, s->d + run, s->pos - run) < 0 || reference(s, u, &n) < 0 || emit(s, u, n) < 0)
			return -1;
		run = s->pos;
	}
	return emit(s, s->d + run, s->pos - run);
}

static int
scan(struct scan *s)
{
	size_t i;
	int seen_root = 0;

	if (s->len > XML_MAX_DOC)
		return fail(s, "document over %d bytes", XML_MAX_DOC);
	for (i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->d[i];

		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
			return fail(s, "control character at byte %zu", i);
	}
	if (s->len >= 3 && memcmp(s->d, "\xEF\xBB\xBF", 3) == 0)
		s->pos = 3;
	while (s->pos < s->len) {
		const char *p = s->d + s->pos;
		size_t rem = s->len - s->pos;

		if (*p != '<') {
			if (s->depth > 0) {
				if (text(s) < 0)
					return -1;
				continue;
			}
			if (!is_space(*p))
				return fail(s, "text outside the root element at byte %zu", s->pos);
			s->pos++;
			continue;
		}
		if (rem < 2)
			return fail(s, "unexpected end of document at byte %zu", s->pos);
		if (p[1] == '?') {
			s->pos += 2;
			if (skip_past(s, "?>", "processing instruction") < 0)
				return -1;
		} else if (rem >= 4 && memcmp(p, "<!--", 4) == 0) {
			s->pos += 4;
			if (skip_past(s, "-->", "comment") < 0)
				return -1;
		} else if (rem >= 9 && memcmp(p, "<![CDATA[", 9) == 0) {
			size_t start = s->pos + 9;

			if (s->depth == 0)
				return fail(s, "CDATA outside the root element at byte %zu", s->pos);
			s->pos = start;
			if (skip_past(s, "]]>", "CDATA section") < 0 ||
			    emit(s, s->d + start, s->pos - 3 - start) < 0)
				return -1;
		} else if (p[1] == '!') {
			return fail(s, "DOCTYPE and other declarations are not accepted (byte %zu)", s->pos);
		} else if (p[1] == '/') {
			if (end_tag(s) < 0)
				return -1;
		} else {
			if (seen_root && s->depth == 0)
				return fail(s, "more than one root element (byte %zu)", s->pos);
			seen_root = 1;
			if (start_tag(s) < 0)
				return -1;
		}
	}
	if (!seen_root)
		return fail(s, "no root element");
	if (s->depth > 0)
		return fail(s, "unexpected end of document inside <%.*s>",
		    (int)(s->stklen[s->depth - 1] > 64 ? 64 : s->stklen[s->depth - 1]), s->stk[s->depth - 1]);
	return 0;
}

static int
set_path(struct scan *s, const char *path)
{
	const char *p = path, *slash;

	if (path == NULL || *path == '\0')
		return fail(s, "empty path");
	if (*p == '/') {
		s->anchored = 1;
		p++;
	}
	for (;;) {
		slash = strchr(p, '/');
		if (slash == p || *p == '\0')
			return fail(s, "bad path \"%s\"", path);
		if (s->nwant == XML_MAX_DEPTH)
			return fail(s, "path \"%s\" deeper than %d elements", path, XML_MAX_DEPTH);
		s->want[s->nwant] = p;
		s->wantlen[s->nwant] = slash ? (size_t)(slash - p) : strlen(p);
		s->nwant++;
		if (slash == NULL)
			return 0;
		p = slash + 1;
	}
}

/* Starts a pass over doc[0..len) in mode m; its errors go to err. */
static void
scan_start(struct scan *s, const char *doc, size_t len, enum mode m, char *err, size_t errlen)
{
	*s = (struct scan){ .d = doc, .len = len, .mode = m, .err = err, .errlen = errlen };
}

int
xml_text(const char *doc, size_t len, const char *path, char *out, size_t cap,
    char *err, size_t errlen)
{
	struct scan s;

	scan_start(&s, doc, len, M_TEXT, err, errlen);
	s.out = out;
	s.cap = cap;
	if (cap == 0)
		return fail(&s, "no room for the text");
	out[0] = '\0';
	if (set_path(&s, path) < 0 || scan(&s) < 0) {
		out[0] = '\0';
		return -1;
	}
	return s.found ? (int)s.olen : XML_NOT_FOUND;
}

int
xml_count(const char *doc, size_t len, const char *path, char *err, size_t errlen)
{
	struct scan s;

	scan_start(&s, doc, len, M_COUNT, err, errlen);
	if (set_path(&s, path) < 0 || scan(&s) < 0)
		return -1;
	return s.count;
}

int
xml_root(const char *doc, size_t len, char *out, size_t cap, char *err, size_t errlen)
{
	struct scan s;
	const char *l;
	size_t ll;

	scan_start(&s, doc, len, M_ROOT, err, errlen);
	if (scan(&s) < 0)
		return -1;
	local_name(s.root, s.rootlen, &l, &ll);
	if (ll >= cap)
		return fail(&s, "root element name over %zu bytes", cap == 0 ? 0 : cap - 1);
	memcpy(out, l, ll);
	out[ll] = '\0';
	return (int)ll;
}
