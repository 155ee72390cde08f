/* libFuzzer target: the despotify.ini parser. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ini.h"

static int
on_key(void *ctx, const char *section, const char *key, const char *value,
    int line, char *err, size_t errlen)
{
	size_t *total = ctx;

	(void)err, (void)errlen, (void)line;
	*total += strlen(section) + strlen(key) + strlen(value);
	return key[0] == '!' ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	size_t total = 0;
	int line;

	ini_parse((const char *)data, size, on_key, &total, &line, err, sizeof err);
	return 0;
}
