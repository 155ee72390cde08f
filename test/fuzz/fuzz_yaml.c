/* libFuzzer target: the kubeconfig subset of YAML. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct yaml_node nodes[256];
	static char strs[4096];
	struct yaml_doc doc = { nodes, 256, 0, strs, sizeof strs, 0 };
	char err[256];
	int line, i;

	if (yaml_parse((const char *)data, size, &doc, &line, err, sizeof err) == 0) {
		/* Walk the tree the way a reader would: every link stays inside the array. */
		for (i = 0; i < doc.n; i++) {
			if (nodes[i].type == YAML_SCALAR && strlen(nodes[i].value) >= sizeof strs)
				__builtin_trap();
			if (nodes[i].next >= doc.n || nodes[i].first >= doc.n || nodes[i].parent >= i)
				__builtin_trap();
			if (nodes[i].key != NULL)
				(void)yaml_get(&doc, nodes[i].parent, nodes[i].key);
		}
	}
	return 0;
}
