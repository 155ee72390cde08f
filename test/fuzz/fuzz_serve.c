/*
 * libFuzzer target: the listener's request-head parser, the listen
 * address parser and the /proc/self/stat reader. The head parser must give
 * the same verdict on every prefix it has already judged: a head it
 * accepts whole is accepted at the same length from any longer input, and
 * a prefix it refuses stays refused.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "serve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct serve_req r, r2;
	struct sockaddr_storage ss;
	struct metrics_proc p;
	unsigned long long ticks;
	socklen_t sl;
	char s[128], err[256];
	int n, k;
	size_t cut;

	n = serve_parse_request(buf, size, &r);
	if (n > 0) {
		if ((size_t)n > size || r.target < buf || r.target + r.target_len > buf + size)
			abort();
	}
	/* A prefix: never a different complete head; refused only if the whole is refused. */
	cut = size > 0 ? data[0] % (size + 1) : 0;
	k = serve_parse_request(buf, cut, &r2);
	if (k > 0 && k != n)
		abort();
	if (k == SERVE_PARSE_BAD && n != SERVE_PARSE_BAD && !(n > 0 && n <= (int)cut))
		abort();
	if (size < sizeof s) {
		memcpy(s, data, size);
		s[size] = '\0';
		serve_parse_listen(s, &ss, &sl, err, sizeof err);
	}
	metrics_parse_proc_stat(buf, size, 100, 4096, &p, &ticks);
	return 0;
}
