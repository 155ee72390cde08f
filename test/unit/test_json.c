/* Unit tests of src/json.c. */
#include "json.h"
#include "t.h"

static struct json_tok toks[64];

static void
lookups(void)
{
	static const char doc[] =
	    "{\"metadata\":{\"name\":\"web-1\",\"labels\":{\"a\":\"b\"}},"
	    "\"spec\":{\"terminationGracePeriodSeconds\":30,\"x\":[1,{\"y\":2},[3]]},"
	    "\"ok\":true,\"no\":false,\"nil\":null,\"esc\":\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\","
	    "\"k\\u0065y\":\"v\"}  \n";
	struct json_doc d;
	char err[128], s[64];
	int64_t v;
	int b, i;

	CHECK_INT(json_parse(&d, doc, sizeof doc - 1, toks, 64, err, sizeof err), 0);
	CHECK_INT(json_str(&d, json_path(&d, 0, "metadata", "name", NULL), s, sizeof s), 5);
	CHECK_STR(s, "web-1");
	CHECK_INT(json_int(&d, json_path(&d, 0, "spec", "terminationGracePeriodSeconds", NULL), &v), 0);
	CHECK_INT(v, 30);
	i = json_path(&d, 0, "spec", "x", NULL);
	CHECK_INT(json_int(&d, json_get(&d, json_elem(&d, i, 1), "y"), &v), 0);
	CHECK_INT(v, 2);
	CHECK_INT(json_int(&d, json_elem(&d, json_elem(&d, i, 2), 0), &v), 0);
	CHECK_INT(v, 3);
	CHECK_INT(json_elem(&d, i, 3), -1);
	CHECK_INT(json_bool(&d, json_get(&d, 0, "ok"), &b), 0);
	CHECK_INT(b, 1);
	CHECK_INT(json_bool(&d, json_get(&d, 0, "no"), &b), 0);
	CHECK_INT(b, 0);
	CHECK(json_is_null(&d, json_get(&d, 0, "nil")));
	CHECK(json_is_null(&d, json_get(&d, 0, "absent")));
	CHECK(!json_is_null(&d, json_get(&d, 0, "ok")));
	CHECK_INT(json_str(&d, json_get(&d, 0, "esc"), s, sizeof s), 12);
	CHECK_STR(s, "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80");
	CHECK(json_str_eq(&d, json_get(&d, 0, "key"), "v"));
	CHECK_INT(json_str(&d, json_get(&d, 0, "esc"), s, 5), -1);    /* does not fit */
	CHECK_INT(json_get(&d, json_get(&d, 0, "ok"), "x"), -1);       /* not an object */
	CHECK_INT(json_next(&d, 0), d.ntoks);
}

static void
bad_documents(void)
{
	static const char *const bad[] = {
		"", "{", "{\"a\":}", "{\"a\":1}}", "{\"a\":1} x", "[1,2", "\"abc", "{\"a\" 1}",
		"{\"a\":\"\\u12\"}", "{\"a\":1,}", "{1:2}", "[1,]",
		"[1 2]", "{\"a\":1 \"b\":2}", "[{} {}]", "[\"a\" \"b\"]", "{,}", "[,1]", "{\"a\"::1}",
	};
	struct json_doc d;
	char err[128];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int r = json_parse(&d, bad[i], strlen(bad[i]), toks, 64, err, sizeof err);

		if (i == 8) {
			/* jsmn accepts it; reading the string must fail instead. */
			CHECK(r == -1 || json_str(&d, json_get(&d, 0, "a"), err, sizeof err) == -1);
		} else {
			if (r != -1)
				printf("#   accepted: %s\n", bad[i]);
			CHECK_INT(r, -1);
		}
	}
	CHECK_INT(json_parse(&d, "[1,2,3,4,5,6,7,8]", 17, toks, 4, err, sizeof err), -1);
	CHECK(strstr(err, "more than 4 tokens") != NULL);
}

static void
numbers(void)
{
	static const char doc[] = "[9223372036854775807, 99999999999999999999, -5, 1.5, \"42\"]";
	struct json_doc d;
	char err[128];
	int64_t v;

	CHECK_INT(json_parse(&d, doc, sizeof doc - 1, toks, 64, err, sizeof err), 0);
	CHECK_INT(json_int(&d, json_elem(&d, 0, 1), &v), -1);
	CHECK_INT(json_int(&d, json_elem(&d, 0, 2), &v), 0);
	CHECK_INT(v, -5);
	CHECK_INT(json_int(&d, json_elem(&d, 0, 3), &v), -1);
	CHECK_INT(json_int(&d, json_elem(&d, 0, 4), &v), 0);
	CHECK_INT(v, 42);
}

static void
escape(void)
{
	char out[64];

	CHECK_INT(json_escape("a\"b\\c\n\x01", out, sizeof out), 15);
	CHECK_STR(out, "a\\\"b\\\\c\\n\\u0001");
	CHECK_INT(json_escape("abcdef", out, 6), -1);
	CHECK_INT(json_escape("abcde", out, 6), 5);
}

/* ---- Streamed lists ---- */

static char sbuf[4096];
static struct json_tok stoks[256];

/* What the callback saw, as one line per value: "M key=text", "I n text" or "S n why". */
struct record {
	char log[8192];
	size_t len;
	int refuse_at;   /* item index whose callback refuses (-1: none) */
};

static int
record_value(void *arg, const char *key, long item, const struct json_doc *d, const char *why,
    char *err, size_t errlen)
{
	struct record *r = arg;
	int n;

	if (item >= 0 && item == r->refuse_at) {
		snprintf(err, errlen, "refused item %ld", item);
		return -1;
	}
	if (d == NULL)
		n = snprintf(r->log + r->len, sizeof r->log - r->len, "S %ld %s\n", item, why);
	else if (item < 0)
		n = snprintf(r->log + r->len, sizeof r->log - r->len, "M %s=%.*s|%d\n", key,
		    (int)d->len, d->text, d->ntoks);
	else
		n = snprintf(r->log + r->len, sizeof r->log - r->len, "I %ld %.*s|%d\n", item,
		    (int)d->len, d->text, d->ntoks);
	if (n > 0 && (size_t)n < sizeof r->log - r->len)
		r->len += (size_t)n;
	return 0;
}

/*
 * Streams body in pieces: cut1 and cut2 split it in three (cut2 0: at cut1
 * only), or bytewise one byte at a time. Returns 0 or -1 (the verdict), the
 * record in r and the error in err.
 */
static int
stream_pieces(const char *body, size_t len, size_t cap, int ntoks, size_t cut1, size_t cut2,
    int bytewise, struct record *r, char *err, size_t errlen)
{
	struct json_stream s;
	size_t at = 0, cuts[3] = { cut1, cut2 > cut1 ? cut2 : cut1, len }, k;

	memset(r->log, 0, sizeof r->log);
	r->len = 0;
	err[0] = '\0';
	json_stream_init(&s, "items", sbuf, cap, stoks, ntoks, record_value, r);
	if (bytewise) {
		for (k = 0; k < len; k++)
			if (json_stream_feed(&s, body + k, 1, err, errlen) < 0)
				return -1;
	} else {
		for (k = 0; k < 3; k++) {
			if (json_stream_feed(&s, body + at, cuts[k] - at, err, errlen) < 0)
				return -1;
			at = cuts[k];
		}
	}
	return json_stream_end(&s, err, errlen);
}

/*
 * Checks that body gives the same values, verdict and error whatever the
 * split: one piece, two at every byte boundary, three at every pair of
 * boundaries (bodies under 200 bytes), byte by byte. Returns the verdict;
 * the one-piece record and error are left in want and wanterr.
 */
static int
same_at_every_split(const char *body, size_t cap, int ntoks, struct record *want, char *wanterr,
    size_t errlen)
{
	static struct record got;
	char err[256];
	size_t len = strlen(body), i, j;
	int v, bad = 0;

	got.refuse_at = want->refuse_at;
	v = stream_pieces(body, len, cap, ntoks, len, 0, 0, want, wanterr, errlen);
	for (i = 0; i <= len && !bad; i++)
		for (j = i; j <= (len < 200 ? len : i) && !bad; j++)
			if (stream_pieces(body, len, cap, ntoks, i, j, 0, &got, err, sizeof err) != v ||
			    strcmp(got.log, want->log) != 0 || strcmp(err, wanterr) != 0) {
				printf("#   split at %zu,%zu differs: %s / %s\n", i, j, err, wanterr);
				bad = 1;
			}
	if (!bad && (stream_pieces(body, len, cap, ntoks, 0, 0, 1, &got, err, sizeof err) != v ||
	    strcmp(got.log, want->log) != 0 || strcmp(err, wanterr) != 0)) {
		printf("#   byte by byte differs: %s / %s\n", err, wanterr);
		bad = 1;
	}
	CHECK(!bad);
	return v;
}

static void
stream_good(void)
{
	static const char list[] =
	    "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"9\","
	    "\"continue\":\"abc\"},\"items\":[{\"a\":1},{\"b\":[1,[2,{\"c\":\"]}\\\"[{\"}]]}]}";
	static const char after[] =
	    " \r\n\t{ \"items\" :\n[ {\"s\":\"{[\\\\\\\"}\"} ,\t{ } ] , \"n\":-12.5e3,\"t\":true ,"
	    "\"z\":null, \"metadata\" : {\"continue\":\"\"}, \"\\u0069tems2\":[1] }\n ";
	static const char escaped_key[] = "{\"\\u0069tems\":[{\"x\":\"y\"}],\"k\":\"\\\"}\"}";
	struct record r;
	char err[256];

	r.refuse_at = -1;
	CHECK_INT(same_at_every_split(list, sizeof sbuf, 256, &r, err, sizeof err), 0);
	CHECK_STR(r.log, "M kind=\"PodList\"|1\nM apiVersion=\"v1\"|1\n"
	    "M metadata={\"resourceVersion\":\"9\",\"continue\":\"abc\"}|5\n"
	    "I 0 {\"a\":1}|3\nI 1 {\"b\":[1,[2,{\"c\":\"]}\\\"[{\"}]]}|9\n");
	/* Whitespace anywhere, members after the list, primitives, a key that only looks like it. */
	CHECK_INT(same_at_every_split(after, sizeof sbuf, 256, &r, err, sizeof err), 0);
	CHECK_STR(r.log, "I 0 {\"s\":\"{[\\\\\\\"}\"}|3\nI 1 { }|1\nM n=-12.5e3 |1\nM t=true |1\n"
	    "M z=null |1\nM metadata={\"continue\":\"\"}|3\nM items2=[1]|2\n");
	/* Keys compare unescaped, as json_get does. */
	CHECK_INT(same_at_every_split(escaped_key, sizeof sbuf, 256, &r, err, sizeof err), 0);
	CHECK_STR(r.log, "I 0 {\"x\":\"y\"}|3\nM k=\"\\\"}\"|1\n");
	CHECK_INT(same_at_every_split("{\"items\":null}", sizeof sbuf, 256, &r, err, sizeof err), 0);
	CHECK_STR(r.log, "M items=null |1\n");
	CHECK_INT(same_at_every_split("{\"items\":[]}", sizeof sbuf, 256, &r, err, sizeof err), 0);
	CHECK_STR(r.log, "");
	CHECK_INT(same_at_every_split("{}", sizeof sbuf, 256, &r, err, sizeof err), 0);
}

static void
stream_bad(void)
{
	static const struct { const char *body, *err; } bad[] = {
		{ "", "empty JSON document" },
		{ "  \n", "empty JSON document" },
		{ "<html>oops</html>", "invalid JSON at byte 0: the body is not a JSON object" },
		{ "[{\"a\":1}]", "invalid JSON at byte 0: the body is not a JSON object" },
		{ "{\"items\":[1]}", "invalid JSON at byte 10: item 0 is not an object" },
		{ "{\"items\":[{},]}", "invalid JSON at byte 13: ']' after ','" },
		{ "{\"items\":[{} {}]}", "invalid JSON at byte 13: ',' or ']' should be here" },
		{ "{\"a\":1 \"b\":2}", "invalid JSON at byte 7: ',' or '}' should be here" },
		{ "{\"a\" 1}", "invalid JSON at byte 5: ':' should be here" },
		{ "{\"a\":,}", "invalid JSON at byte 5: a value should be here" },
		{ "{,}", "invalid JSON at byte 1: a key should be here" },
		{ "{\"a\":1,}", "invalid JSON at byte 7: a key should be here" },
		{ "{\"items\":[]}}", "invalid JSON at byte 12: garbage after the document" },
		{ "{\"items\":[]} x", "invalid JSON at byte 13: garbage after the document" },
		{ "{\"items\":[],\"items\":[]}", "invalid JSON at byte 20: the list's key appears twice" },
		{ "{\"items\":[{\"a\":tru}]", "truncated JSON at byte 20" },
		{ "{\"items\":[{\"a\":\"\\x\"}]}", "item 0 at byte 10: invalid JSON at byte 5" },
		{ "{\"items\":[{\"a\":1 \"b\":2}]}", "item 0 at byte 10: invalid JSON at byte 7" },
		{ "{\"items\":[{\"a\":}]}", "item 0 at byte 10: invalid JSON at byte 5" },
		{ "{\"m\":{\"a\":[}}", "member \"m\" at byte 5: invalid JSON at byte 6" },
		{ "{\"m\":x}", "member \"m\" at byte 5: invalid JSON at byte 0" },
		{ "{\"\\q\":1}", "the key at byte 1: invalid JSON at byte 0" },
		{ "{\"items\":[{\"a\":\"", "truncated JSON at byte 16" },
		{ "{\"items\":", "truncated JSON at byte 9" },
	};
	struct record r;
	char err[256];
	size_t i;

	r.refuse_at = -1;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_INT(same_at_every_split(bad[i].body, sizeof sbuf, 256, &r, err, sizeof err), -1);
		if (strcmp(err, bad[i].err) != 0)
			printf("#   %s: got \"%s\"\n", bad[i].body, err);
		CHECK_STR(err, bad[i].err);
	}
	/* A NUL byte: jsmn stops at it, so the item is cut short, as over the whole body. */
	CHECK_INT(stream_pieces("{\"items\":[{\"a\":\"\0\"}]}", 22, sizeof sbuf, 256, 11, 0, 0, &r, err,
	    sizeof err), -1);
	CHECK_STR(err, "item 0 at byte 10: truncated JSON");
	CHECK_INT(stream_pieces("{\"items\":[]}\0", 13, sizeof sbuf, 256, 11, 0, 0, &r, err, sizeof err), -1);
	CHECK_STR(err, "invalid JSON at byte 12: garbage after the document");
}

/* Every prefix of a good body is a truncated one, however it is cut. */
static void
stream_truncated(void)
{
	static const char body[] = "{\"kind\":\"PodList\",\"items\":[{\"a\":[1,\"]\"]},{\"b\":2}],\"x\":1}";
	struct record r;
	char err[256];
	size_t n;

	r.refuse_at = -1;
	for (n = 0; n < sizeof body - 1; n++) {
		CHECK_INT(stream_pieces(body, n, sizeof sbuf, 256, n / 2, 0, 0, &r, err, sizeof err), -1);
		CHECK(n == 0 ? strcmp(err, "empty JSON document") == 0 : strstr(err, "truncated JSON at byte") != NULL);
	}
	CHECK_INT(stream_pieces(body, n, sizeof sbuf, 256, n / 2, 0, 0, &r, err, sizeof err), 0);
}

/* Nesting is counted from the root, as json_parse counts it over the whole body. */
static void
stream_depth(void)
{
	char body[512];
	struct record r;
	char err[256];
	int d, k, at;

	r.refuse_at = -1;
	for (d = JSON_MAX_DEPTH - 3; d <= JSON_MAX_DEPTH + 1; d++) {
		struct json_doc doc;
		int whole;

		/* The root, the list and the item are 3 levels: d - 3 arrays more inside the item. */
		at = snprintf(body, sizeof body, "{\"items\":[{\"a\":");
		for (k = 0; k < d - 3; k++)
			body[at++] = '[';
		body[at++] = '1';
		for (k = 0; k < d - 3; k++)
			body[at++] = ']';
		at += snprintf(body + at, sizeof body - (size_t)at, "}]}");
		whole = json_parse(&doc, body, (size_t)at, stoks, 256, err, sizeof err);
		CHECK_INT(same_at_every_split(body, sizeof sbuf, 256, &r, err, sizeof err), whole);
		CHECK_INT(whole, d <= JSON_MAX_DEPTH ? 0 : -1);
	}
}

/* An item over the buffer or the token array is skipped and said so; the rest goes on. */
static void
stream_caps(void)
{
	static const char body[] =
	    "{\"items\":[{\"a\":\"0123456789012345678901234567890123456789\"},{\"b\":1},"
	    "{\"c\":[1,2,3,4,5,6,7,8,9,10,11,12]},{\"d\":2}],\"metadata\":{\"continue\":\"x\"}}";
	static const char bigmember[] = "{\"metadata\":{\"continue\":\"0123456789012345678901234567890123456789\"}}";
	struct record r;
	char err[256];

	r.refuse_at = -1;
	CHECK_INT(same_at_every_split(body, 40, 8, &r, err, sizeof err), 0);
	CHECK_STR(r.log, "S 0 item 0 at byte 10: 48 bytes, over the 39-byte buffer\n"
	    "I 1 {\"b\":1}|3\n"
	    "S 2 item 2 at byte 67: JSON has more than 8 tokens\n"
	    "I 3 {\"d\":2}|3\n"
	    "M metadata={\"continue\":\"x\"}|3\n");
	/* Any other member over the buffer is an error: the list cannot be read without it. */
	CHECK_INT(same_at_every_split(bigmember, 40, 8, &r, err, sizeof err), -1);
	CHECK_STR(err, "member \"metadata\" at byte 12: over the 39-byte buffer");
	/* A refusing callback stops the scan, and the stream stays failed. */
	r.refuse_at = 1;
	CHECK_INT(stream_pieces(body, strlen(body), sizeof sbuf, 256, 5, 0, 0, &r, err, sizeof err), -1);
	CHECK_STR(err, "refused item 1");
	CHECK_STR(r.log, "I 0 {\"a\":\"0123456789012345678901234567890123456789\"}|3\n");
}

int
main(void)
{
	RUN(lookups);
	RUN(bad_documents);
	RUN(numbers);
	RUN(escape);
	RUN(stream_good);
	RUN(stream_bad);
	RUN(stream_truncated);
	RUN(stream_depth);
	RUN(stream_caps);
	return t_done();
}
