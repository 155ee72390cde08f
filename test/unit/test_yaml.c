/* Unit tests of src/yaml.c: the kubeconfig subset of YAML. */
#include <stdlib.h>

#include "bounds.h"
#include "kubeconfigs.h"
#include "t.h"
#include "yaml.h"

static struct yaml_node nodes[512];
static char strs[64 * 1024];
static struct yaml_doc doc;
static char err[256];
static int line;

static int
parse_n(const char *text, size_t len)
{
	doc = (struct yaml_doc){ nodes, 512, 0, strs, sizeof strs, 0 };
	err[0] = '\0';
	return yaml_parse(text, len, &doc, &line, err, sizeof err);
}

static int
parse(const char *text)
{
	return parse_n(text, strlen(text));
}

/* A compact rendering of node i: {k:v,...} [a,...], quoted scalars in "". */
static void
dump_node(int i, char *out, size_t cap)
{
	const struct yaml_node *n = &doc.nodes[i];
	size_t l = strlen(out);
	int j;

	if (n->type == YAML_SCALAR) {
		snprintf(out + l, cap - l, n->quoted ? "\"%s\"" : "%s", n->value);
		return;
	}
	snprintf(out + l, cap - l, "%s", n->type == YAML_MAP ? "{" : "[");
	for (j = n->first; j >= 0; j = doc.nodes[j].next) {
		l = strlen(out);
		if (n->type == YAML_MAP)
			snprintf(out + l, cap - l, "%s:", doc.nodes[j].key);
		dump_node(j, out, cap);
		if (doc.nodes[j].next >= 0) {
			l = strlen(out);
			snprintf(out + l, cap - l, ",");
		}
	}
	l = strlen(out);
	snprintf(out + l, cap - l, "%s", n->type == YAML_MAP ? "}" : "]");
}

static const char *
dump(const char *text)
{
	static char out[8192];

	out[0] = '\0';
	if (parse(text) < 0) {
		snprintf(out, sizeof out, "error line %d: %s", line, err);
		return out;
	}
	dump_node(0, out, sizeof out);
	return out;
}

static void
structures(void)
{
	CHECK_STR(dump("a: 1\nb: two words\n"), "{a:1,b:two words}");
	CHECK_STR(dump("a:\n  b:\n    c: x\n  d: y\ne: z\n"), "{a:{b:{c:x},d:y},e:z}");
	/* A sequence at its key's column, as kubectl writes them, and an indented one. */
	CHECK_STR(dump("l:\n- a\n- b\nm: 1\n"), "{l:[a,b],m:1}");
	CHECK_STR(dump("l:\n  - a\n  - b\nm: 1\n"), "{l:[a,b],m:1}");
	/* "- key: v" starts a mapping whose column is the key's. */
	CHECK_STR(dump("l:\n- name: x\n  v: 1\n- name: y\n"), "{l:[{name:x,v:1},{name:y}]}");
	CHECK_STR(dump("l:\n-   name: x\n    v: 1\n"), "{l:[{name:x,v:1}]}");
	CHECK_STR(dump("l:\n- cluster:\n    server: s\n  name: n\n"), "{l:[{cluster:{server:s},name:n}]}");
	CHECK_STR(dump("- - a\n  - b\n- c\n"), "[[a,b],c]");
	CHECK_STR(dump("-\n  k: v\n-\n- x\n"), "[{k:v},,x]");
	/* Empty values and the empty flow collections. */
	CHECK_STR(dump("a:\nb: {}\nc: []\nd:   # nothing\n"), "{a:,b:{},c:[],d:}");
	CHECK_STR(dump(""), "{}");
	CHECK_STR(dump("# only a comment\n\n"), "{}");
	/* Scalars stay text. */
	CHECK_STR(dump("a: null\nb: true\nc: 42\nd: ~\n"), "{a:null,b:true,c:42,d:~}");
	CHECK_STR(dump("u: https://10.0.0.1:6443/x?y=z#frag\n"), "{u:https://10.0.0.1:6443/x?y=z#frag}");
	CHECK_STR(dump("n: system:node:ip-10-0-1-2\n"), "{n:system:node:ip-10-0-1-2}");
	CHECK_INT(parse("a:\n  b: c\n"), 0);
	CHECK_INT(doc.nodes[yaml_get(&doc, 0, "a")].line, 1);
	CHECK_INT(doc.nodes[doc.nodes[yaml_get(&doc, 0, "a")].first].line, 2);
	CHECK_STR(yaml_get_str(&doc, yaml_get(&doc, 0, "a"), "b"), "c");
	CHECK(yaml_get_str(&doc, 0, "a") == NULL);
	CHECK(yaml_get(&doc, 0, "zz") == -1);
	CHECK(yaml_get(&doc, 99, "a") == -1);
}

static void
scalars(void)
{
	CHECK_STR(dump("a: 'it''s'\nb: \"x\"\n"), "{a:\"it's\",b:\"x\"}");
	CHECK_STR(dump("a: \"t\\tq\\\"b\\\\s\\/\"\n"), "{a:\"t\tq\"b\\s/\"}");
	CHECK_STR(dump("a: \"\\x41\\u00e9\\U0001F600\\N\"\n"), "{a:\"A\xc3\xa9\xf0\x9f\x98\x80\xc2\x85\"}");
	CHECK_STR(dump("a: \"# not a comment\" # a comment\n"), "{a:\"# not a comment\"}");
	CHECK_STR(dump("a: x # comment\nb: x#y\n"), "{a:x,b:x#y}");
	CHECK_STR(dump("\"quoted key\": 1\n'k': 2\n"), "{quoted key:1,k:2}");
	CHECK_STR(dump("a: \"\"\nb: ''\n"), "{a:\"\",b:\"\"}");
	CHECK_STR(dump("a: x  \t\n"), "{a:x}");
	CHECK_STR(dump("- \"a: b\"\n- 'c: d'\n"), "[\"a: b\",\"c: d\"]");
}

static void
documents(void)
{
	CHECK_STR(dump("---\na: 1\n"), "{a:1}");
	CHECK_STR(dump("--- # c\na: 1\n...\n# end\n"), "{a:1}");
	CHECK_STR(dump("\xef\xbb\xbf" "a: 1\r\nb: 2\r\n"), "{a:1,b:2}");
	CHECK_STR(dump("a: 1"), "{a:1}");
	CHECK_STR(dump("a: 1\n---\nb: 2\n"), "error line 2: more than one document (---)");
	CHECK_STR(dump("a: 1\n...\nb: 2\n"), "error line 3: text after the end of the document (\"...\")");
	CHECK_STR(dump("--- a: 1\n"), "error line 1: text after \"---\" (put the document on the next lines)");
}

static void
refused(void)
{
	CHECK_STR(dump("a:\n\tb: 1\n"), "error line 2: tab in indentation (YAML indents with spaces)");
	CHECK_STR(dump("a: &x 1\n"), "error line 1: anchors (&) are not supported");
	CHECK_STR(dump("a: *x\n"), "error line 1: aliases (*) are not supported");
	CHECK_STR(dump("a: !!str 1\n"), "error line 1: tags (!) are not supported");
	CHECK_STR(dump("a: |\n  x\n"), "error line 1: block scalars (| and >) are not supported");
	CHECK_STR(dump("a: >-\n  x\n"), "error line 1: block scalars (| and >) are not supported");
	CHECK_STR(dump("%YAML 1.2\n---\na: 1\n"), "error line 1: directives (%) are not supported");
	CHECK_STR(dump("a: {b: 1}\n"),
	    "error line 1: flow collections ({...} and [...]) are not supported, but for {} and []");
	CHECK_STR(dump("a: [1, 2]\n"),
	    "error line 1: flow collections ({...} and [...]) are not supported, but for {} and []");
	CHECK_STR(dump("? a\n: b\n"), "error line 1: complex keys (?) are not supported");
	CHECK_STR(dump("a: one\n  two\n"),
	    "error line 2: unexpected indentation (multi-line scalars are not supported)");
	CHECK_STR(dump("a: \"one\n  two\"\n"),
	    "error line 1: unterminated double-quoted string (multi-line scalars are not supported)");
	CHECK_STR(dump("a: 'x\n"),
	    "error line 1: unterminated single-quoted string (multi-line scalars are not supported)");
	CHECK_STR(dump("a: 1\nb: 2\na: 3\n"), "error line 3: duplicate key \"a\" (first on line 1)");
	CHECK_STR(dump("a: \"x\\0\"\n"), "error line 1: \\0 or a NUL character in a double-quoted string");
	CHECK_STR(dump("a: \"\\u0000\"\n"), "error line 1: \\0 or a NUL character in a double-quoted string");
	CHECK_STR(dump("a: \"\\ud800\"\n"), "error line 1: escape \\ud800 is not a Unicode character");
	CHECK_STR(dump("a: \"\\q\"\n"), "error line 1: unknown escape \\q in a double-quoted string");
	CHECK_STR(dump("a: \"\\x4"), "error line 1: short \\x escape");
	CHECK_STR(dump("a: \"\\xzz\"\n"), "error line 1: bad hex digit in a \\x escape");
	CHECK_STR(dump("a: \"x\" y\n"), "error line 1: text after a quoted string");
	CHECK_STR(dump("a: b: c\n"),
	    "error line 1: a mapping value is not allowed here (quote a scalar that holds \": \")");
	CHECK_STR(dump("just text\n"), "error line 1: expected \"key: value\"");
	CHECK_STR(dump("a: 1\n- b\n"), "error line 2: a sequence item where a mapping entry was expected");
	CHECK_STR(dump(": x\n"), "error line 1: empty key");
	CHECK_STR(dump("  a: 1\nb: 2\n"), "error line 2: unexpected text after the document");
	CHECK_STR(dump("a: \x01\n"), "error line 1: control character (byte 0x01)");
	CHECK_INT(parse_n("a: 1\nb\0: 2\n", 11), -1);
	CHECK_INT(line, 2);
}

static void
limits(void)
{
	static char deep[4096], big[YAML_MAX_FILE + 2];
	size_t l = 0;
	int i;

	/* Nesting: YAML_MAX_DEPTH levels parse, one more does not. */
	for (i = 0; i < YAML_MAX_DEPTH; i++)
		l += (size_t)snprintf(deep + l, sizeof deep - l, "%*sk:\n", i, "");
	snprintf(deep + l, sizeof deep - l, "%*sk: v\n", i, "");
	CHECK_INT(parse(deep), -1);
	CHECK_STR(err, "nested deeper than 32 levels");
	l = 0;
	for (i = 0; i < YAML_MAX_DEPTH - 1; i++)
		l += (size_t)snprintf(deep + l, sizeof deep - l, "%*sk:\n", i, "");
	snprintf(deep + l, sizeof deep - l, "%*sk: v\n", i, "");
	CHECK_INT(parse(deep), 0);

	/* More nodes than the caller has. */
	l = 0;
	for (i = 0; i < 600; i++)
		l += (size_t)snprintf(deep + l, sizeof deep - l, "- %d\n", i % 10);
	CHECK_INT(parse(deep), -1);
	CHECK_STR(err, "more than 512 nodes");

	/* More string bytes than the caller has. */
	doc = (struct yaml_doc){ nodes, 512, 0, strs, 8, 0 };
	CHECK_INT(yaml_parse("a: 123456789\n", 13, &doc, &line, err, sizeof err), -1);
	CHECK_STR(err, "strings over 8 bytes");

	memset(big, ' ', sizeof big);
	CHECK_INT(parse_n(big, YAML_MAX_FILE + 1), -1);
	CHECK_INT(line, 0);
	CHECK_INT(parse_n(big, YAML_MAX_FILE), 0);
}

/* The kubeconfigs parse, and every prefix of them parses or fails cleanly (ASan watches). */
static void
kubeconfigs(void)
{
	static const char *const all[] = { kc_kubeadm, kc_eks_al2, kc_eks_al2_cli, kc_eks_al2023,
		kc_k3s_agent, kc_k3s, kc_kind };
	size_t i, n;
	int u;

	for (i = 0; i < sizeof all / sizeof all[0]; i++) {
		CHECK_INT(parse(all[i]), 0);
		CHECK_STR(yaml_get_str(&doc, 0, "current-context") ? "ok" : "missing", "ok");
		for (n = 0; n <= strlen(all[i]); n++) {
			char *copy = malloc(n + 1);   /* exactly n bytes: ASan sees any read past them */

			memcpy(copy, all[i], n);
			parse_n(copy, n);
			free(copy);
		}
	}
	CHECK_INT(parse(kc_eks_al2023), 0);
	u = doc.nodes[yaml_get(&doc, 0, "users")].first;
	u = yaml_get(&doc, yaml_get(&doc, u, "user"), "exec");
	CHECK_STR(yaml_get_str(&doc, u, "command"), "aws");
	CHECK_INT(doc.nodes[yaml_get(&doc, u, "args")].count, 6);
	CHECK_INT(parse(kc_kind), 0);
	CHECK_INT(doc.nodes[yaml_get(&doc, 0, "clusters")].count, 2);
	CHECK_STR(yaml_get_str(&doc, 0, "current-context"), "kind-other");
}

int
main(void)
{
	RUN(structures);
	RUN(scalars);
	RUN(documents);
	RUN(refused);
	RUN(limits);
	RUN(kubeconfigs);
	return t_done();
}
