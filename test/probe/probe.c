/*
 * probe — a test driver, not shipped: runs one module of despotify against
 * the fakes so that test/e2e can check each layer on its own.
 *
 *   probe MODULE [args...]
 *
 * Each module's driver lives in test/probe/probe_MODULE.c.
 */
#include <stdio.h>
#include <string.h>

#include "probe.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} drivers[] = {
	/* one line per module driver */
	{ "http", probe_http },
	{ "imds", probe_imds },
	{ "aws", probe_aws },
	{ "k8s", probe_k8s },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		fprintf(stderr, "usage: probe MODULE [args...]\n");
		return 2;
	}
	for (i = 0; drivers[i].name != NULL; i++)
		if (strcmp(drivers[i].name, argv[1]) == 0)
			return drivers[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "probe: no module %s\n", argv[1]);
	return 2;
}
