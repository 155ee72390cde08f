/* Unit tests of src/ini.c: the pure despotify.ini parser. */
#include <stdlib.h>

#include "bounds.h"
#include "ini.h"
#include "t.h"

struct seen {
	char text[4096];
	int stop_at;
};

static int
collect(void *ctx, const char *section, const char *key, const char *value,
    int line, char *err, size_t errlen)
{
	struct seen *s = ctx;
	size_t l = strlen(s->text);

	snprintf(s->text + l, sizeof s->text - l, "%d:%s.%s=%s|", line, section, key, value);
	if (line == s->stop_at) {
		snprintf(err, errlen, "stopped");
		return -1;
	}
	return 0;
}

static int
parse(const char *text, size_t len, struct seen *s, int *line, char *err)
{
	memset(s->text, 0, sizeof s->text);
	return ini_parse(text, len, collect, s, line, err, 256);
}

static void
basics(void)
{
	static const char f[] =
	    "# comment\n"
	    "; another\n"
	    "\n"
	    "[DEFAULT]\n"
	    "Level = DEBUG\n"
	    "poll_interval=0.2\r\n"
	    "  \n"
	    "webhook_url = https://hooks.example.com/x#frag ; trailing comment\n"
	    "slack_channel = #alerts\n"
	    "empty =\n"
	    "colon: yes\n"
	    "[other]\n"
	    "a = b\n";
	struct seen s = { "", 0 };
	char err[256];
	int line;

	CHECK_INT(parse(f, sizeof f - 1, &s, &line, err), 0);
	CHECK_STR(s.text, "5:DEFAULT.level=DEBUG|6:DEFAULT.poll_interval=0.2|"
	    "8:DEFAULT.webhook_url=https://hooks.example.com/x#frag|"
	    "9:DEFAULT.slack_channel=#alerts|10:DEFAULT.empty=|11:DEFAULT.colon=yes|13:other.a=b|");
}

static void
errors(void)
{
	struct seen s = { "", 0 };
	char err[256], *big;
	int line;

	CHECK_INT(parse("[DEFAULT]\njunk line\n", 20, &s, &line, err), -1);
	CHECK_INT(line, 2);
	CHECK(strstr(err, "key = value") != NULL);
	CHECK_INT(parse("[DEFAULT\n", 9, &s, &line, err), -1);
	CHECK_INT(line, 1);
	CHECK_INT(parse("a = 1\n= 2\n", 10, &s, &line, err), -1);
	CHECK_INT(line, 2);
	CHECK(strstr(err, "empty key") != NULL);
	CHECK_INT(parse("a = 1\n  continued\n", 18, &s, &line, err), -1);
	CHECK_INT(line, 2);
	CHECK_INT(parse("a = 1\nb = \0\n", 12, &s, &line, err), -1);
	CHECK_INT(line, 2);
	CHECK(strstr(err, "NUL") != NULL);
	s.stop_at = 2;
	CHECK_INT(parse("a = 1\nb = 2\nc = 3\n", 18, &s, &line, err), -1);
	CHECK_INT(line, 2);
	CHECK_STR(err, "stopped");
	s.stop_at = 0;

	big = malloc(INI_MAX_LINE + 10);
	memset(big, 'x', INI_MAX_LINE + 9);
	big[0] = 'k';
	big[1] = '=';
	CHECK_INT(parse(big, INI_MAX_LINE + 9, &s, &line, err), -1);
	CHECK_INT(line, 1);
	CHECK(strstr(err, "longer than") != NULL);
	free(big);

	big = malloc(1 << 20);
	memset(big, '\n', 1 << 20);
	CHECK_INT(parse(big, 1 << 20, &s, &line, err), -1);
	CHECK(strstr(err, "larger than") != NULL);
	free(big);
}

/* Every prefix of a valid file, fed as a whole file, never crashes and ends cleanly. */
static void
prefixes(void)
{
	static const char f[] = "[DEFAULT]\nlevel = INFO ; x\n[s]\nk: v\r\n";
	struct seen s = { "", 0 };
	char err[256];
	size_t n;
	int line;

	for (n = 0; n <= sizeof f - 1; n++) {
		char *copy = malloc(n + 1);

		memcpy(copy, f, n);
		parse(copy, n, &s, &line, err);
		free(copy);
	}
	CHECK_INT(parse(f, sizeof f - 1, &s, &line, err), 0);
	CHECK_STR(s.text, "2:DEFAULT.level=INFO|4:s.k=v|");
}

int
main(void)
{
	RUN(basics);
	RUN(errors);
	RUN(prefixes);
	return t_done();
}
