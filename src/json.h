/*
 * json.h — reading JSON documents (with jsmn) and writing JSON strings.
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
 * trailing garbage is not.
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

#endif
