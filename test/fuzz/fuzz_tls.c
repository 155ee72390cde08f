/*
 * libFuzzer target: what tls parses from files and peers outside BearSSL's
 * own engine — PEM trust bundles (through BearSSL's PEM and X.509 decoders
 * into our trust-anchor copies) and our DER walk for iPAddress SANs.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char ip4[4] = { 127, 0, 0, 1 };
	static const unsigned char ip6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	struct tls_config *tc;
	char err[256];
	int r;

	r = tls_cert_has_ip(data, size, ip4, sizeof ip4);
	if (r < -1 || r > 1)
		abort();
	r = tls_cert_has_ip(data, size, ip6, sizeof ip6);
	if (r < -1 || r > 1)
		abort();
	tc = tls_config_new();
	if (tc == NULL)
		return 0;
	r = tls_config_add_pem(tc, (const char *)data, size, err, sizeof err);
	/* Success means at least one anchor; failure adds a message. */
	if ((r == 0) != (tls_config_anchor_count(tc) > 0) || (r < 0 && err[0] == '\0'))
		abort();
	tls_config_free(tc);
	return 0;
}
