/*
 * yaml.h — a reader for the subset of YAML that kubeconfig files use: a pure
 * parser over bytes that builds a small tree in the caller's arrays.
 *
 * Understood: block mappings ("key: value", "key:" followed by a more
 * indented block, or by a sequence at the key's own indentation, as kubectl
 * writes them); block sequences ("- value", "-" followed by a more indented
 * block, "- key: value" starting a mapping, "- - x"); plain scalars;
 * single-quoted scalars ('' is a quote); double-quoted scalars with YAML's
 * escapes (\\ \" \/ \b \f \n \r \t \v \a \e \0 excepted, \xHH, \uHHHH,
 * \UHHHHHHHH, \N \_ \L \P); the empty flow collections {} and []; comments
 * ("#" at the start of a line or after white space, outside quotes); one
 * leading "---" and a trailing "..."; CRLF or LF line ends; a UTF-8
 * byte-order mark. An entry with nothing after "key:" and no nested block is
 * an empty scalar.
 *
 * Refused, with "line N: reason": NUL bytes, tabs in indentation, anchors
 * (&), aliases (*), tags (!), directives (%), block scalars (| and >),
 * non-empty flow collections, complex keys (?), multi-line scalars, a second
 * document, duplicate keys in one mapping, a double-quoted "\0" (it cannot
 * live in a C string), nesting deeper than YAML_MAX_DEPTH, more than the
 * caller's nodes or string bytes, a file over YAML_MAX_FILE bytes.
 *
 * Node 0 is the root: a mapping, a sequence, or (for an empty document) an
 * empty mapping. A scalar's text is decoded (quotes removed, escapes
 * applied) and NUL-terminated in the caller's string arena; the parser does
 * not interpret it ("null", "true" and "42" stay text; quoted tells whether
 * the document quoted it).
 */
#ifndef DESPOTIFY_YAML_H
#define DESPOTIFY_YAML_H

#include <stddef.h>

#include "bounds.h"

enum yaml_type { YAML_SCALAR, YAML_MAP, YAML_SEQ };

struct yaml_node {
	enum yaml_type type;
	const char *key;     /* the key of a mapping's entry (in the arena); NULL otherwise */
	const char *value;   /* YAML_SCALAR: the decoded text (in the arena); NULL otherwise */
	int quoted;          /* YAML_SCALAR: it was written '...' or "..." */
	int line;            /* 1-based line where the node starts */
	int parent;          /* index of the enclosing node; -1 for the root */
	int first;           /* first child (YAML_MAP, YAML_SEQ); -1 if none */
	int next;            /* next sibling; -1 if none */
	int count;           /* number of children */
};

/* The caller's storage: nodes[cap] and strs[scap]; yaml_parse fills n and slen. */
struct yaml_doc {
	struct yaml_node *nodes;
	int cap, n;
	char *strs;
	size_t scap, slen;
};

/*
 * Parses text[0..len) into doc (whose nodes, cap, strs and scap the caller
 * set). Returns 0, or -1 with the reason in err and the 1-based line in
 * *bad_line (0 when the problem is the whole file, such as its size).
 * The nodes' strings point into doc->strs, so they live as long as it.
 */
int yaml_parse(const char *text, size_t len, struct yaml_doc *doc, int *bad_line,
    char *err, size_t errlen);

/* The child of mapping node map whose key is key, or -1 (also if map is not a mapping). */
int yaml_get(const struct yaml_doc *doc, int map, const char *key);

/*
 * The text of the scalar child key of mapping map, or NULL when there is no
 * such child or it is not a scalar.
 */
const char *yaml_get_str(const struct yaml_doc *doc, int map, const char *key);

#endif
