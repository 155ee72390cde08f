/* libFuzzer target: JSON parsing and every lookup helper over hostile documents. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "json.h"

static struct json_tok toks[512];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_doc d;
	char err[128], s[256];
	int64_t v;
	int i, b;

	if (json_parse(&d, (const char *)data, size, toks, 512, err, sizeof err) < 0)
		return 0;
	for (i = 0; i < d.ntoks; i = json_next(&d, i) > i ? i + 1 : d.ntoks) {
		json_str(&d, i, s, sizeof s);
		json_int(&d, i, &v);
		json_bool(&d, i, &b);
		json_is_null(&d, i);
		json_get(&d, i, "metadata");
		json_elem(&d, i, 1);
	}
	json_path(&d, 0, "metadata", "name", NULL);
	if (size < sizeof s) {
		memcpy(s, data, size);
		s[size] = '\0';
		json_escape(s, err, sizeof err);
	}
	return 0;
}
