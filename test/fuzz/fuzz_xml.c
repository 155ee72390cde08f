/*
 * libFuzzer target: the XML extractor over hostile documents, with the
 * paths despotify asks for. Checks what must hold for any input: a result
 * is -1, XML_NOT_FOUND or a length that fits and matches the NUL-terminated
 * text; a document one call accepts, every call accepts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const paths[] = {
	"/ErrorResponse/Error/Code",
	"Error/Message",
	"AutoScalingInstances/member/LifecycleState",
	"AutoScalingInstances/member",
	"AssumeRoleWithWebIdentityResult/Credentials/SessionToken",
	"a",
	"a/b",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *doc = (const char *)data;
	char out[64], root[64], err[256], rerr[256];
	size_t i;
	int r, c, ok;

	ok = xml_root(doc, size, root, sizeof root, rerr, sizeof rerr) >= 0;
	for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		c = xml_count(doc, size, paths[i], err, sizeof err);
		r = xml_text(doc, size, paths[i], out, sizeof out, err, sizeof err);
		if (r != -1 && r != XML_NOT_FOUND && (r < 0 || (size_t)r >= sizeof out || strlen(out) != (size_t)r))
			abort();
		/* Malformed for one question, malformed for all. */
		if ((c < 0 && r != -1) || (c < 0 && ok))
			abort();
		if (c >= 0 && !ok && strstr(rerr, "root element name over") == NULL)
			abort();
		/* Found by one, found by the other (a text too long for out is -1). */
		if ((c == 0 && r != XML_NOT_FOUND) || (c > 0 && r == XML_NOT_FOUND))
			abort();
	}
	return 0;
}
