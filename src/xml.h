/*
 * xml.h — reading values out of small XML documents (AWS Query API
 * responses), without a tree and without allocating.
 *
 * Each call checks the whole document: one root element, tags balanced and
 * properly nested, attributes quoted, at most XML_MAX_DEPTH levels and
 * XML_MAX_DOC bytes, only the five predefined entities and numeric
 * character references (a DOCTYPE, and so any entity definition, is
 * refused), no control characters but tab, CR and LF. A truncated or
 * malformed document is an error even if the value sought came before the
 * damage, so a half-read response never looks like a good one.
 *
 * Paths name elements by their local names (a namespace prefix is
 * ignored), separated by '/':
 *   "/ErrorResponse/Error/Code"   anchored: from the root element down
 *   "Error/Code"                  any Code whose parent is an Error
 * Pure functions: bytes in, result out.
 */
#ifndef DESPOTIFY_XML_H
#define DESPOTIFY_XML_H

#include <stddef.h>

#include "bounds.h"

/* Returned when the document is well formed but no element matches. */
#define XML_NOT_FOUND (-2)

/*
 * Copies the text of the first element matching path (its character data
 * and CDATA sections, and those of its descendants, in document order, with
 * entities and character references decoded to UTF-8) into out (cap bytes,
 * NUL-terminated). Returns the text's length; XML_NOT_FOUND; or -1 with the
 * reason in err ("XML: unexpected end of document at byte 120", "XML:
 * mismatched end tag </b> at byte 42", "XML: text of Code over 255 bytes",
 * "XML: nested deeper than 32 elements").
 */
int xml_text(const char *doc, size_t len, const char *path, char *out, size_t cap,
    char *err, size_t errlen);

/*
 * Counts the elements matching path (0 if none). Returns the count, or -1
 * with the reason in err if the document is malformed or over a limit.
 */
int xml_count(const char *doc, size_t len, const char *path, char *err, size_t errlen);

/*
 * Checks that doc is a well-formed document within the limits and copies
 * the local name of its root element into out (cap bytes). Returns the
 * name's length, or -1 with the reason in err.
 */
int xml_root(const char *doc, size_t len, char *out, size_t cap, char *err, size_t errlen);

#endif
