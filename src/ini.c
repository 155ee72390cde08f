/* ini.c — see ini.h. */
#include "ini.h"

#include <ctype.h>
#include <string.h>

#include "bounds.h"
#include "util.h"

/* Cuts an inline comment: ";" or "#" after white space. */
static size_t
strip_inline_comment(const char *v, size_t len)
{
	size_t i;

	for (i = 1; i < len; i++)
		if ((v[i] == '#' || v[i] == ';') && isspace((unsigned char)v[i - 1]))
			return i;
	return len;
}

/* A "[name]" line s[0..l) (trimmed): the name into section. Returns 0 or -1 with err. */
static int
section_line(const char *s, size_t l, char *section, char *err, size_t errlen)
{
	const char *close = memchr(s, ']', l), *name;
	size_t after, sl;

	if (close == NULL) {
		util_fmt(err, errlen, "malformed section header (no closing ']')");
		return -1;
	}
	after = l - (size_t)(close + 1 - s);
	if (after > 0) {
		const char *rest = util_trim(close + 1, &after);

		if (after > 0 && *rest != '#' && *rest != ';') {
			util_fmt(err, errlen, "text after the section header");
			return -1;
		}
	}
	sl = (size_t)(close - s - 1);
	name = util_trim(s + 1, &sl);
	if (sl == 0) {
		util_fmt(err, errlen, "empty section name");
		return -1;
	}
	memcpy(section, name, sl);
	section[sl] = '\0';
	return 0;
}

/*
 * A "key = value" (or "key: value") line s[0..l) (trimmed): the key, lower
 * case, into key and the value, without an inline comment, into value.
 * Returns 0 or -1 with err.
 */
static int
pair_line(const char *s, size_t l, char *key, char *value, char *err, size_t errlen)
{
	const char *e1 = memchr(s, '=', l), *e2 = memchr(s, ':', l);
	const char *eq = e1 && (!e2 || e1 < e2) ? e1 : e2, *k, *v;
	size_t kl, vl, i;

	if (eq == NULL) {
		util_fmt(err, errlen, "expected \"key = value\", a [section] or a comment");
		return -1;
	}
	kl = (size_t)(eq - s);
	vl = l - (size_t)(eq + 1 - s);
	k = util_trim(s, &kl);
	if (kl == 0) {
		util_fmt(err, errlen, "empty key");
		return -1;
	}
	v = util_trim(eq + 1, &vl);
	vl = strip_inline_comment(v, vl);
	v = util_trim(v, &vl);
	for (i = 0; i < kl; i++)
		key[i] = (char)tolower((unsigned char)k[i]);
	key[kl] = '\0';
	memcpy(value, v, vl);
	value[vl] = '\0';
	return 0;
}

/* Refuses a file with a NUL byte, naming its line in *bad_line. Returns 0 or -1 with err. */
static int
check_text(const char *buf, size_t len, int *bad_line, char *err, size_t errlen)
{
	const char *nul = memchr(buf, '\0', len), *q;

	if (nul == NULL)
		return 0;
	*bad_line = 1;
	for (q = buf; q < nul; q++)
		if (*q == '\n')
			(*bad_line)++;
	util_fmt(err, errlen, "NUL byte in the file (not a text file?)");
	return -1;
}

/* One line s[0..l) (no line end) in section. Returns 0 or -1 with err. */
static int
one_line(const char *s, size_t l, char *section, int line, ini_handler h, void *ctx,
    char *err, size_t errlen)
{
	char key[INI_MAX_LINE + 1], value[INI_MAX_LINE + 1];
	int indented;

	if (l > INI_MAX_LINE) {
		util_fmt(err, errlen, "line is longer than %d bytes", INI_MAX_LINE);
		return -1;
	}
	if (l > 0 && s[l - 1] == '\r')
		l--;
	indented = l > 0 && isspace((unsigned char)s[0]);
	s = util_trim(s, &l);
	if (l == 0 || *s == '#' || *s == ';')
		return 0;
	if (indented) {
		/* configparser would glue it to the previous value; we refuse to guess. */
		util_fmt(err, errlen, "indented line: continuation lines are not supported");
		return -1;
	}
	if (*s == '[')
		return section_line(s, l, section, err, errlen);
	if (pair_line(s, l, key, value, err, errlen) < 0)
		return -1;
	return h(ctx, section, key, value, line, err, errlen);
}

/* see ini.h */
int
ini_parse(const char *buf, size_t len, ini_handler h, void *ctx,
    int *bad_line, char *err, size_t errlen)
{
	char section[INI_MAX_LINE + 1] = "DEFAULT";
	const char *p = buf, *end = buf + len;
	int line = 0;

	*bad_line = 0;
	if (len > INI_MAX_FILE) {
		util_fmt(err, errlen, "file is larger than %d bytes", INI_MAX_FILE);
		return -1;
	}
	if (check_text(buf, len, bad_line, err, errlen) < 0)
		return -1;
	/* A UTF-8 byte-order mark, as some editors write, is not part of the first key. */
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end) {
		const char *s = p, *nl = memchr(p, '\n', (size_t)(end - p));

		line++;
		p = nl ? nl + 1 : end;
		if (one_line(s, (size_t)((nl ? nl : end) - s), section, line, h, ctx, err, errlen) < 0) {
			*bad_line = line;
			return -1;
		}
	}
	return 0;
}
