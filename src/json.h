/*
 * json.h — reading JSON documents (with jsmn), streamed lists, and writing
 * JSON strings.
 *
 * A parsed document is the caller's text plus the caller's token array;
 * nothing is allocated. Tokens are addressed by index; 0 is the root.
 * Lookups are bounded by the token count, so a hostile document costs at
 * most one pass per lookup.
 *
 * Only this module includes jsmn.h.
 */
#ifndef DESPOTIFY_JSON_H
#define DESPOTIFY_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "util.h"

enum json_type { JSON_UNDEFINED, JSON_OBJECT, JSON_ARRAY, JSON_STRING, JSON_PRIMITIVE };

/* One token; the same layout as jsmn's jsmntok_t (checked at compile time in json.c). */
struct json_tok {
	enum json_type type;
	int start, end;    /* byte offsets into the text; strings exclude the quotes */
	int size;          /* objects: number of keys; arrays: number of elements */
};

struct json_doc {
	const char *text;
	size_t len;
	struct json_tok *toks;  /* caller's array */
	int ntoks;              /* tokens used */
};

/*
 * Parses text[0..len) into the caller's token array (cap tokens). Returns 0,
 * or -1 with the reason in err ("invalid JSON at byte 17", "JSON has more
 * than 512 tokens", "truncated JSON"). Trailing white space is allowed,
 * trailing garbage is not; neither are missing or stray commas and colons,
 * nor nesting deeper than JSON_MAX_DEPTH.
 */
int json_parse(struct json_doc *d, const char *text, size_t len,
    struct json_tok *toks, int cap, char *err, size_t errlen);

/* Index of the token after the whole value at index i (skipping its children). */
int json_next(const struct json_doc *d, int i);

/*
 * Index of the value of key in the object at index obj, or -1 if obj is not
 * an object or has no such key. Keys are compared after unescaping.
 */
int json_get(const struct json_doc *d, int obj, const char *key);

/*
 * Follows a path of keys from obj: json_path(d, 0, "metadata", "name", NULL).
 * Returns the index or -1.
 */
int json_path(const struct json_doc *d, int obj, ...);

/* Index of element n of the array at index arr, or -1. */
int json_elem(const struct json_doc *d, int arr, int n);

/*
 * Copies the string at index i, unescaped (\uXXXX to UTF-8, surrogate pairs
 * joined), into out (cap bytes, NUL-terminated). Returns its length, or -1
 * if i is not a string, the escapes are malformed, or it does not fit.
 */
int json_str(const struct json_doc *d, int i, char *out, size_t cap);

/* Whether the token at i is a string equal to s (after unescaping). */
int json_str_eq(const struct json_doc *d, int i, const char *s);

/* Reads the integer at index i (a primitive or a string holding one). Returns 0 or -1. */
int json_int(const struct json_doc *d, int i, int64_t *out);

/* Reads a boolean primitive. Returns 0 (with *out 0 or 1) or -1. */
int json_bool(const struct json_doc *d, int i, int *out);

/* Whether the token at i is the primitive null (or i is -1). */
int json_is_null(const struct json_doc *d, int i);

/*
 * Writes s as the contents of a JSON string (no surrounding quotes),
 * escaping quotes, backslashes and control characters, into out (cap bytes,
 * NUL-terminated). Returns the length, or -1 if it did not fit.
 */
int json_escape(const char *s, char *out, size_t cap);

/*
 * Appends s to b as a JSON string, quotes included (json_escape over the
 * one string builder); marks b over if it does not fit.
 */
void json_buf_str(struct util_buf *b, const char *s);

/* ---- Streamed lists -------------------------------------------------------- */

/*
 * A JSON object body (a Kubernetes list) decoded as its bytes arrive, in
 * pieces of any size, with memory bounded by one element of its list rather
 * than by the body. The scanner follows the root object's members: the
 * elements of the array under one named key (the "list key", "items") are
 * handed over one at a time, and every other member of the root whole, each
 * tokenised on its own into the caller's token array. Bytes are kept only
 * for the value being collected, in the caller's buffer.
 *
 * What it accepts is what json_parse accepts for the whole body (same
 * tokeniser on each value, the same depth limit counted from the root),
 * except where a value is over a cap. The list's elements must be objects.
 *
 * An element over the buffer (cap bytes) or over the token array (ntoks) is
 * skipped, not fatal: the scan goes on to its end and hands it to the
 * callback with d == NULL and the reason; a drain should not stop at one
 * monstrous pod. Any other member over a cap is an error.
 *
 * Pure: no I/O, no clock, no allocation, no logging.
 */

/*
 * Receives one complete value. key is the member's name, unescaped ("" if
 * over JSON_STREAM_MAX_KEY - 1 bytes or not representable); item is the
 * element's index for elements of the list, -1 for other members of the
 * root (which include a list key whose value is not an array, e.g. null).
 * d is the value tokenised (token 0 its root; valid during the call only),
 * or NULL for a skipped element, with why saying why. Returns 0 to go on,
 * or -1 to stop the scan (with the reason in err).
 */
typedef int (*json_stream_fn)(void *arg, const char *key, long item, const struct json_doc *d,
    const char *why, char *err, size_t errlen);

struct json_stream {
	/* Set by json_stream_init; the caller's, borrowed. */
	const char *list_key;
	char *buf;
	size_t cap;
	struct json_tok *toks;
	int ntoks;
	json_stream_fn fn;
	void *arg;
	/* Scan state. */
	int state;                    /* where in the root object the scan is */
	int failed;                   /* sticky: an error was returned */
	uint64_t off;                 /* bytes consumed so far (for error messages) */
	size_t len;                   /* bytes of the value (or key) being collected */
	uint64_t vsize;               /* its full size, counted on when over the cap */
	uint64_t vstart;              /* offset where it began */
	int open;                     /* containers open, counting the root and the list */
	int base;                     /* open when the value began */
	int in_str, esc, prim;        /* inside a string, after a backslash, inside a primitive */
	int in_list;                  /* the value is an element of the list */
	int list_seen;                /* the list's key was met (twice is an error) */
	long items;                   /* elements of the list seen */
	char key[JSON_STREAM_MAX_KEY];
};

/*
 * Sets s up to scan one body: elements of the array under list_key are
 * handed to fn one by one; buf (cap bytes) holds the value being collected
 * and toks (ntoks) its tokens; all borrowed for the life of s.
 */
void json_stream_init(struct json_stream *s, const char *list_key, char *buf, size_t cap,
    struct json_tok *toks, int ntoks, json_stream_fn fn, void *arg);

/*
 * Feeds the next n bytes of the body. Calls fn for each value they
 * complete. Returns 0, or -1 with the reason in err naming the byte offset
 * in the body ("invalid JSON at byte 1234: ',' where a value should be",
 * "item 3 at byte 5120: invalid JSON at byte 17 of it") or fn's own
 * reason. After -1 every further call fails too.
 */
int json_stream_feed(struct json_stream *s, const char *p, size_t n, char *err, size_t errlen);

/*
 * Ends the body: returns 0 if the root object was complete (only white
 * space may follow it), or -1 with the reason ("truncated JSON at byte
 * 4096", "empty JSON document").
 */
int json_stream_end(struct json_stream *s, char *err, size_t errlen);

#endif
