/* yaml.c — see yaml.h. */
#include "yaml.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "util.h"

/*
 * The parser walks the text line by line. The current line is "peeked"
 * once (indentation measured, blank and comment lines skipped) and stays
 * current until advance(); a sequence item's "- " is consumed by moving the
 * current line's start and indentation past it, so that "- key: v" is read
 * as a mapping whose column is the key's.
 */
struct parser {
	const char *s;
	size_t len;
	size_t pos;          /* start of the next line to read */
	int line;            /* number of the current line */
	int have;            /* the current line is peeked */
	int marker;          /* the current line is "---" or "..." at column 0 */
	int indent;          /* column of the current line's content */
	const char *c;       /* its content, trailing white space removed */
	size_t clen;
	int depth;
	struct yaml_doc *d;
	int *bad_line;
	char *err;
	size_t errlen;
};

static int __attribute__((format(printf, 2, 3)))
fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	*p->bad_line = p->line;
	va_start(ap, fmt);
	util_vfmt(p->err, p->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- Lines ------------------------------------------------------------------- */

/*
 * Makes the next line with content current. Returns 1, 0 at the end of
 * the document (the end of the text, or a "---" / "..." marker, which
 * then stays current with p->marker set), or -1.
 */
static int
peek(struct parser *p)
{
	while (!p->have) {
		const char *l = p->s + p->pos, *nl;
		size_t n, i;

		if (p->pos >= p->len)
			return 0;
		nl = memchr(l, '\n', p->len - p->pos);
		n = nl ? (size_t)(nl - l) : p->len - p->pos;
		p->pos += n + (nl != NULL);
		p->line++;
		if (n > 0 && l[n - 1] == '\r')
			n--;
		for (i = 0; i < n; i++)
			if (((unsigned char)l[i] < 0x20 && l[i] != '\t') || l[i] == 0x7f)
				return fail(p, "control character (byte 0x%02x)", (unsigned char)l[i]);
		while (n > 0 && (l[n - 1] == ' ' || l[n - 1] == '\t'))
			n--;
		for (i = 0; i < n && l[i] == ' '; i++)
			;
		if (i == n || l[i] == '#')
			continue;
		if (l[i] == '\t')
			return fail(p, "tab in indentation (YAML indents with spaces)");
		p->have = 1;
		p->indent = (int)i;
		p->c = l + i;
		p->clen = n - i;
		p->marker = i == 0 && n >= 3 && (memcmp(l, "---", 3) == 0 || memcmp(l, "...", 3) == 0) &&
		    (n == 3 || l[3] == ' ' || l[3] == '\t');
	}
	return p->marker ? 0 : 1;
}

static void
advance(struct parser *p)
{
	p->have = 0;
	p->marker = 0;
}

/* Whether s[0..n) starts a sequence item: "-" alone or followed by white space. */
static int
is_item(const char *s, size_t n)
{
	return n >= 1 && s[0] == '-' && (n == 1 || s[1] == ' ' || s[1] == '\t');
}

/* Whether s[0..n) is empty once an optional comment is removed (s follows white space). */
static int
only_comment(const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	return n == 0 || *s == '#';
}

/* ---- Nodes and strings --------------------------------------------------------- */

/* Appends a node under parent; returns its index or -1 when the caller's array is full. */
static int
new_node(struct parser *p, enum yaml_type type, int parent, const char *key)
{
	struct yaml_doc *d = p->d;
	struct yaml_node *nd;
	int i;

	if (d->n >= d->cap)
		return fail(p, "more than %d nodes", d->cap);
	i = d->n++;
	nd = &d->nodes[i];
	memset(nd, 0, sizeof *nd);
	nd->type = type;
	nd->key = key;
	nd->line = p->line;
	nd->parent = parent;
	nd->first = nd->next = -1;
	if (parent >= 0) {
		struct yaml_node *par = &d->nodes[parent];

		if (par->first < 0) {
			par->first = i;
		} else {
			int j = par->first;

			while (d->nodes[j].next >= 0)
				j = d->nodes[j].next;
			d->nodes[j].next = i;
		}
		par->count++;
	}
	return i;
}

/* Appends one byte to the string being built in the arena. */
static int
put(struct parser *p, char ch)
{
	if (p->d->slen + 1 >= p->d->scap)
		return fail(p, "strings over %zu bytes", p->d->scap);
	p->d->strs[p->d->slen++] = ch;
	return 0;
}

/* Ends the string begun at arena offset start; returns it. */
static const char *
end_str(struct parser *p, size_t start)
{
	if (put(p, '\0') < 0)
		return NULL;
	return p->d->strs + start;
}

/* Appends code point cp as UTF-8. */
static int
put_utf8(struct parser *p, uint32_t cp)
{
	if (cp == 0)
		return fail(p, "\\0 or a NUL character in a double-quoted string");
	if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return fail(p, "escape \\u%04lx is not a Unicode character", (unsigned long)cp);
	if (cp < 0x80)
		return put(p, (char)cp);
	if (cp < 0x800)
		return put(p, (char)(0xc0 | cp >> 6)) < 0 ? -1 : put(p, (char)(0x80 | (cp & 0x3f)));
	if (cp < 0x10000) {
		if (put(p, (char)(0xe0 | cp >> 12)) < 0 || put(p, (char)(0x80 | ((cp >> 6) & 0x3f))) < 0)
			return -1;
		return put(p, (char)(0x80 | (cp & 0x3f)));
	}
	if (put(p, (char)(0xf0 | cp >> 18)) < 0 || put(p, (char)(0x80 | ((cp >> 12) & 0x3f))) < 0 ||
	    put(p, (char)(0x80 | ((cp >> 6) & 0x3f))) < 0)
		return -1;
	return put(p, (char)(0x80 | (cp & 0x3f)));
}

/* ---- Scalars --------------------------------------------------------------------- */

/* One escape of a double-quoted scalar at s[0..n) (after the backslash); *used gets its length. */
static int
dq_escape(struct parser *p, const char *s, size_t n, size_t *used)
{
	static const char simple[] = "\\\\\"\"//b\bf\fn\nr\rt\tv\va\ae\033 \x20\t\t";
	size_t i, digits = 0;
	uint32_t cp = 0;

	if (n == 0)
		return fail(p, "unterminated double-quoted string");
	for (i = 0; i + 1 < sizeof simple; i += 2)
		if (s[0] == simple[i]) {
			*used = 1;
			return put(p, simple[i + 1]);
		}
	switch (s[0]) {
	case 'N': *used = 1; return put_utf8(p, 0x85);
	case '_': *used = 1; return put_utf8(p, 0xa0);
	case 'L': *used = 1; return put_utf8(p, 0x2028);
	case 'P': *used = 1; return put_utf8(p, 0x2029);
	case '0': return put_utf8(p, 0);
	case 'x': digits = 2; break;
	case 'u': digits = 4; break;
	case 'U': digits = 8; break;
	default:
		return fail(p, "unknown escape \\%c in a double-quoted string", s[0]);
	}
	if (n < digits + 1)
		return fail(p, "short \\%c escape", s[0]);
	for (i = 1; i <= digits; i++) {
		int v = util_hexval((unsigned char)s[i]);

		if (v < 0)
			return fail(p, "bad hex digit in a \\%c escape", s[0]);
		cp = cp << 4 | (uint32_t)v;
	}
	*used = digits + 1;
	return put_utf8(p, cp);
}

/*
 * Decodes the quoted scalar at s[0..n) (s[0] is the quote) into the arena.
 * Returns the number of bytes it took, closing quote included, or -1.
 */
static long
quoted(struct parser *p, const char *s, size_t n)
{
	char q = s[0];
	size_t i = 1, used = 0;

	for (;;) {
		if (i >= n)
			return fail(p, "unterminated %s-quoted string (multi-line scalars are not supported)",
			    q == '"' ? "double" : "single");
		if (s[i] == q) {
			if (q == '\'' && i + 1 < n && s[i + 1] == '\'') {
				if (put(p, '\'') < 0)
					return -1;
				i += 2;
				continue;
			}
			return (long)(i + 1);
		}
		if (q == '"' && s[i] == '\\') {
			if (dq_escape(p, s + i + 1, n - i - 1, &used) < 0)
				return -1;
			i += 1 + used;
			continue;
		}
		if (put(p, s[i]) < 0)
			return -1;
		i++;
	}
}

/* Refuses a value or key starting with an indicator of a construct outside the subset. */
static int
check_indicator(struct parser *p, const char *s, size_t n)
{
	switch (s[0]) {
	case '&': return fail(p, "anchors (&) are not supported");
	case '*': return fail(p, "aliases (*) are not supported");
	case '!': return fail(p, "tags (!) are not supported");
	case '|': case '>': return fail(p, "block scalars (| and >) are not supported");
	case '%': return fail(p, "directives (%%) are not supported");
	case '@': case '`': return fail(p, "a plain scalar cannot start with '%c'", s[0]);
	case '?':
		if (n == 1 || s[1] == ' ')
			return fail(p, "complex keys (?) are not supported");
		break;
	}
	return 0;
}

/*
 * Adds the node for the value text s[0..n) of one line (no leading white
 * space; may end in a comment) under parent: a scalar, or an empty
 * mapping or sequence for "{}" and "[]".
 */
static int
value_node(struct parser *p, const char *s, size_t n, int parent, const char *key)
{
	size_t start = p->d->slen, i;
	const char *text;
	int idx;

	if (n > 0 && (s[0] == '{' || s[0] == '[')) {
		char close = s[0] == '{' ? '}' : ']';

		if (n < 2 || s[1] != close || !only_comment(s + 2, n - 2))
			return fail(p, "flow collections ({...} and [...]) are not supported, but for {} and []");
		return new_node(p, s[0] == '{' ? YAML_MAP : YAML_SEQ, parent, key);
	}
	if (n > 0 && (s[0] == '"' || s[0] == '\'')) {
		long used = quoted(p, s, n);

		if (used < 0)
			return -1;
		if (!only_comment(s + used, n - (size_t)used) || (n > (size_t)used && s[used] == '#'))
			return fail(p, "text after a quoted string");
		if ((text = end_str(p, start)) == NULL || (idx = new_node(p, YAML_SCALAR, parent, key)) < 0)
			return -1;
		p->d->nodes[idx].value = text;
		p->d->nodes[idx].quoted = 1;
		return idx;
	}
	if (n > 0 && check_indicator(p, s, n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] == '#' && i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t'))
			break;
		if (s[i] == ':' && (i + 1 == n || s[i + 1] == ' ' || s[i + 1] == '\t'))
			return fail(p, "a mapping value is not allowed here (quote a scalar that holds \": \")");
	}
	while (i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t'))
		i--;
	for (n = 0; n < i; n++)
		if (put(p, s[n]) < 0)
			return -1;
	if ((text = end_str(p, start)) == NULL || (idx = new_node(p, YAML_SCALAR, parent, key)) < 0)
		return -1;
	p->d->nodes[idx].value = text;
	return idx;
}

/*
 * Reads the key of a "key: value" line s[0..n) into the arena: *key is
 * set, and *rest and *rest_len to what follows the ':' and its white space.
 * Returns 1 for such a line, 0 if the line is not a mapping entry (the
 * arena is left as it was), -1 on an error.
 */
static int
split_key(struct parser *p, const char *s, size_t n, const char **key, const char **rest,
    size_t *rest_len)
{
	size_t start = p->d->slen, i, j, k;

	if (s[0] == '"' || s[0] == '\'') {
		long used = quoted(p, s, n);

		if (used < 0)
			return -1;
		for (i = (size_t)used; i < n && (s[i] == ' ' || s[i] == '\t'); i++)
			;
		if (i >= n || s[i] != ':' || (i + 1 < n && s[i + 1] != ' ' && s[i + 1] != '\t')) {
			p->d->slen = start;
			return 0;
		}
	} else {
		for (i = 0; i < n; i++) {
			if (s[i] == '#' && i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t'))
				return 0;
			if (s[i] == ':' && (i + 1 == n || s[i + 1] == ' ' || s[i + 1] == '\t'))
				break;
		}
		if (i == n)
			return 0;
		for (k = i; k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t'); k--)
			;
		if (k == 0)
			return fail(p, "empty key");
		if (check_indicator(p, s, n) < 0)
			return -1;
		if (s[0] == '{' || s[0] == '[')
			return fail(p, "flow collections are not supported as keys");
		for (j = 0; j < k; j++)
			if (put(p, s[j]) < 0)
				return -1;
	}
	if ((*key = end_str(p, start)) == NULL)
		return -1;
	for (i++; i < n && (s[i] == ' ' || s[i] == '\t'); i++)
		;
	*rest = s + i;
	*rest_len = n - i;
	return 1;
}

/* ---- Blocks ------------------------------------------------------------------------- */

static int block(struct parser *p, int parent, const char *key);
static int sequence(struct parser *p, int col, int parent, const char *key);

/*
 * The value of an entry or item whose line ended after "key:" or "-"
 * (the line is consumed): a block indented deeper than col, a sequence at
 * col itself when same_col_seq (a mapping's value, as kubectl writes
 * them), or else an empty scalar.
 */
static int
nested(struct parser *p, int col, int same_col_seq, int parent, const char *key)
{
	int r, idx, line = p->line;

	advance(p);
	if ((r = peek(p)) < 0)
		return -1;
	if (r == 1 && p->indent > col) {
		idx = block(p, parent, key);
	} else if (r == 1 && p->indent == col && same_col_seq && is_item(p->c, p->clen)) {
		idx = sequence(p, col, parent, key);
	} else if ((idx = new_node(p, YAML_SCALAR, parent, key)) >= 0) {
		p->d->nodes[idx].value = "";
	}
	if (idx >= 0)
		p->d->nodes[idx].line = line;   /* the node starts at its key or dash */
	return idx;
}

/* One "key: value" entry of the mapping map at column col, on the current line. */
static int
entry(struct parser *p, int col, int map)
{
	const char *key, *rest;
	size_t rest_len;
	int r, j;

	r = split_key(p, p->c, p->clen, &key, &rest, &rest_len);
	if (r < 0 || (r == 0 && check_indicator(p, p->c, p->clen) < 0))
		return -1;
	if (r == 0)
		return fail(p, is_item(p->c, p->clen) ? "a sequence item where a mapping entry was expected" :
		    "expected \"key: value\"");
	for (j = p->d->nodes[map].first; j >= 0; j = p->d->nodes[j].next)
		if (strcmp(p->d->nodes[j].key, key) == 0)
			return fail(p, "duplicate key \"%s\" (first on line %d)", key, p->d->nodes[j].line);
	if (only_comment(rest, rest_len))
		return nested(p, col, 1, map, key) < 0 ? -1 : 0;
	if (value_node(p, rest, rest_len, map, key) < 0)
		return -1;
	advance(p);
	return 0;
}

/*
 * Makes the next line of the block at column col current: returns 1 (a
 * line at col), 0 (the block has ended: the document did, or the line is
 * to its left), or -1 (a line indented deeper, or an error).
 */
static int
block_line(struct parser *p, int col)
{
	int r = peek(p);

	if (r != 1 || p->indent < col)
		return r < 0 ? -1 : 0;
	if (p->indent > col)
		return fail(p, "unexpected indentation (multi-line scalars are not supported)");
	return 1;
}

/* The mapping whose entries start at column col, from the current line. */
static int
mapping(struct parser *p, int col, int parent, const char *key)
{
	int idx = new_node(p, YAML_MAP, parent, key), r;

	if (idx < 0)
		return -1;
	while ((r = block_line(p, col)) == 1)
		if (entry(p, col, idx) < 0)
			return -1;
	return r < 0 ? -1 : idx;
}

/* The sequence whose "- " items are at column col, from the current line. */
static int
sequence(struct parser *p, int col, int parent, const char *key)
{
	int idx = new_node(p, YAML_SEQ, parent, key), r;

	if (idx < 0)
		return -1;
	while ((r = block_line(p, col)) == 1) {
		const char *rest, *key_probe;
		size_t skip = 1, rest_len, mark;

		if (!is_item(p->c, p->clen))
			break;   /* the next entry of a mapping at the same column */
		while (skip < p->clen && (p->c[skip] == ' ' || p->c[skip] == '\t'))
			skip++;
		if (only_comment(p->c + skip, p->clen - skip)) {
			if (nested(p, col, 0, idx, NULL) < 0)
				return -1;
			continue;
		}
		/* "- x": the rest of the line is read as if it started at its own column. */
		p->indent += (int)skip;
		p->c += skip;
		p->clen -= skip;
		mark = p->d->slen;
		if ((r = split_key(p, p->c, p->clen, &key_probe, &rest, &rest_len)) < 0)
			return -1;
		p->d->slen = mark;   /* the mapping reads the key again */
		if (r == 1 || is_item(p->c, p->clen)) {
			if (block(p, idx, NULL) < 0)
				return -1;
			continue;
		}
		if (value_node(p, p->c, p->clen, idx, NULL) < 0)
			return -1;
		advance(p);
	}
	return r < 0 ? -1 : idx;
}

/* The block node (mapping or sequence) that starts on the current line, at its column. */
static int
block(struct parser *p, int parent, const char *key)
{
	int r;

	if (++p->depth > YAML_MAX_DEPTH)
		return fail(p, "nested deeper than %d levels", YAML_MAX_DEPTH);
	if (is_item(p->c, p->clen))
		r = sequence(p, p->indent, parent, key);
	else
		r = mapping(p, p->indent, parent, key);
	p->depth--;
	return r;
}

/* ---- The document ------------------------------------------------------------------- */

/* After the root: nothing but an optional "..." and comments may follow. */
static int
document_end(struct parser *p)
{
	int r = peek(p);

	if (r < 0)
		return -1;
	if (r == 1)
		return fail(p, p->indent > 0 ? "unexpected indentation" : "unexpected text after the document");
	if (!p->marker)
		return 0;
	if (p->c[0] == '-')
		return fail(p, "more than one document (---)");
	if (!only_comment(p->c + 3, p->clen - 3))
		return fail(p, "text after \"...\"");
	advance(p);
	if ((r = peek(p)) < 0)
		return -1;
	if (r == 1 || p->marker)
		return fail(p, "text after the end of the document (\"...\")");
	return 0;
}

int
yaml_parse(const char *text, size_t len, struct yaml_doc *doc, int *bad_line,
    char *err, size_t errlen)
{
	struct parser p;
	int r;

	p = (struct parser){ .s = text, .len = len, .d = doc, .bad_line = bad_line, .err = err,
		.errlen = errlen };
	*bad_line = 0;
	doc->n = 0;
	doc->slen = 0;
	if (len > YAML_MAX_FILE) {
		util_fmt(err, errlen, "file is larger than %d bytes", YAML_MAX_FILE);
		return -1;
	}
	if (doc->cap < 1 || doc->scap < 1) {
		util_fmt(err, errlen, "no room for the document");
		return -1;
	}
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		p.pos = 3;
	if ((r = peek(&p)) < 0)
		return -1;
	if (p.marker && p.c[0] == '-') {
		if (!only_comment(p.c + 3, p.clen - 3))
			return fail(&p, "text after \"---\" (put the document on the next lines)");
		advance(&p);
		if ((r = peek(&p)) < 0)
			return -1;
	}
	if (r == 0) {
		if (new_node(&p, YAML_MAP, -1, NULL) < 0)
			return -1;
	} else {
		if (block(&p, -1, NULL) < 0)
			return -1;
	}
	return document_end(&p);
}

int
yaml_get(const struct yaml_doc *doc, int map, const char *key)
{
	int j;

	if (map < 0 || map >= doc->n || doc->nodes[map].type != YAML_MAP)
		return -1;
	for (j = doc->nodes[map].first; j >= 0; j = doc->nodes[j].next)
		if (strcmp(doc->nodes[j].key, key) == 0)
			return j;
	return -1;
}

const char *
yaml_get_str(const struct yaml_doc *doc, int map, const char *key)
{
	int j = yaml_get(doc, map, key);

	return j >= 0 && doc->nodes[j].type == YAML_SCALAR ? doc->nodes[j].value : NULL;
}
