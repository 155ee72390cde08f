/* libFuzzer target: a kubeconfig's interpretation (YAML, base64, the EKS exec). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "kubeconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kubeconfig_scratch *sc;
	struct kubeconfig kc;
	char err[512];

	if (sc == NULL && (sc = malloc(sizeof *sc)) == NULL)
		return 0;
	kubeconfig_parse((const char *)data, size, "/var/lib/kubelet", &kc, sc, err, sizeof err);
	return 0;
}
