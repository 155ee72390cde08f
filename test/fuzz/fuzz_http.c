/*
 * libFuzzer target: the HTTP response parser. The input is split in two
 * at a position taken from its first byte: the head parser must give the
 * same verdict whole and on any prefix that holds the head, and the chunked
 * decoder must give the same bytes whole and in two pieces; neither may
 * read or write out of bounds (ASan) or overflow (UBSan).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decodes in[0..len) in two pieces cut at cut; returns the verdict, fills out. */
static int
chunked(const char *in, size_t len, size_t cut, char *out, size_t *outlen, size_t *used)
{
	struct http_chunked st;
	char *piece = malloc(len + 1);
	size_t n, c, at = 0;
	int r = 0, step;

	memset(&st, 0, sizeof st);
	*outlen = *used = 0;
	for (step = 0; step < 2 && at < len; step++) {
		size_t k = step == 0 ? cut : len - at;

		memcpy(piece, in + at, k);
		n = k;
		r = http_chunk_decode(&st, piece, &n, &c);
		if (r < 0)
			break;
		/* Decoding never grows the data and never consumes more than it was given. */
		if (n > c || c > k)
			abort();
		if (r == 0 && c != k)
			abort();
		memcpy(out + *outlen, piece, n);
		*outlen += n;
		*used += c;
		at += c;
		if (r == 1)
			break;
	}
	free(piece);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_hdr hdrs[HTTP_MAX_HEADERS], hdrs2[HTTP_MAX_HEADERS];
	size_t nh = HTTP_MAX_HEADERS, nh2, cut, n1, n2, u1, u2, i;
	int status = 0, minor = 0, s2, m2, r, r2;
	const char *in;
	char *out1, *out2;

	if (size < 1)
		return 0;
	cut = data[0] % (size);
	in = (const char *)data + 1;
	size--;
	if (cut > size)
		cut = size;

	r = http_parse_head(in, size, &status, &minor, hdrs, &nh);
	if (r > 0) {
		if ((size_t)r > size || nh > HTTP_MAX_HEADERS || status < 100 || status > 999)
			abort();
		for (i = 0; i < nh; i++) {
			if (hdrs[i].name < in || hdrs[i].name + hdrs[i].name_len > in + r ||
			    hdrs[i].value < in || hdrs[i].value + hdrs[i].value_len > in + r ||
			    hdrs[i].name_len == 0)
				abort();
		}
		{
			uint64_t clen = 0;
			int c = http_content_length(hdrs, nh, &clen);

			if (c < HTTP_CLEN_CONFLICT || c > HTTP_CLEN_OK || (c == HTTP_CLEN_OK && clen > 999999999999999ULL))
				abort();
		}
		/* Exactly the head parses the same; any shorter prefix asks for more or refuses. */
		nh2 = HTTP_MAX_HEADERS;
		if (http_parse_head(in, (size_t)r, &s2, &m2, hdrs2, &nh2) != r || s2 != status || nh2 != nh)
			abort();
		nh2 = HTTP_MAX_HEADERS;
		r2 = http_parse_head(in, cut < (size_t)r ? cut : (size_t)r - 1, &s2, &m2, hdrs2, &nh2);
		if (r2 > 0)
			abort();
	} else if (r == -1) {
		/* Garbage stays garbage with more bytes after it. */
		nh2 = HTTP_MAX_HEADERS;
		if (cut > 0 && http_parse_head(in, cut, &s2, &m2, hdrs2, &nh2) > 0)
			abort();
	}

	out1 = malloc(size + 1);
	out2 = malloc(size + 1);
	r = chunked(in, size, size, out1, &n1, &u1);
	r2 = chunked(in, size, cut, out2, &n2, &u2);
	/* Where the whole input decodes, the split input decodes alike. */
	if (r == 1 && (r2 != 1 || n1 != n2 || u1 != u2 || memcmp(out1, out2, n1) != 0))
		abort();
	if ((r == 0 || r == -1) && r2 != r)
		abort();
	free(out1);
	free(out2);
	return 0;
}
