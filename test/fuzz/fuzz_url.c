/* libFuzzer target: URL parsing and percent-encoding round trips. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[4096], enc[3 * 4096 + 1], dec[4096], err[256], hp[URL_MAX_HOST + 16];
	struct url u;
	int n;

	if (size >= sizeof in)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (url_parse(in, &u, err, sizeof err) == 0)
		url_hostport(&u, hp, sizeof hp);
	n = url_encode((const char *)data, size, enc, sizeof enc, size & 1);
	if (n >= 0) {
		/* Encoding then decoding gives the input back. */
		n = url_decode(enc, (size_t)n, dec, sizeof dec, 0);
		if (n != (int)size || memcmp(dec, data, size) != 0)
			abort();
	}
	url_decode((const char *)data, size, dec, sizeof dec, 1);
	return 0;
}
