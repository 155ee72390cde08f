/*
 * ini.h — the despotify.ini reader: a pure parser over bytes.
 *
 * Syntax (a subset of Python's configparser, which the original service
 * used): "[SECTION]" headers; "key = value" or "key: value" lines; "#" and
 * ";" full-line comments, and inline comments introduced by white space and
 * then "#" or ";"; blank lines; CRLF or LF line ends; white space around keys
 * and values is ignored. Keys are folded to lower case. Lines before any
 * section header belong to DEFAULT.
 *
 * Refused, with "line N: reason": NUL bytes, lines over INI_MAX_LINE bytes,
 * files over INI_MAX_FILE bytes, lines that are neither, malformed headers,
 * empty keys, continuation lines.
 */
#ifndef DESPOTIFY_INI_H
#define DESPOTIFY_INI_H

#include <stddef.h>

/*
 * Called once per key; section is "DEFAULT" for the DEFAULT section (and
 * for keys before any header). Returns 0 to go on, or -1 to stop the parse
 * (after writing the reason into err); ini_parse then returns -1 with
 * *bad_line set to line.
 */
typedef int (*ini_handler)(void *ctx, const char *section, const char *key,
    const char *value, int line, char *err, size_t errlen);

/*
 * Parses buf[0..len) and calls h for each key. Returns 0, or -1 with the
 * reason in err and the 1-based line in *bad_line (0 if the problem is the
 * whole file, such as its size).
 */
int ini_parse(const char *buf, size_t len, ini_handler h, void *ctx,
    int *bad_line, char *err, size_t errlen);

#endif
