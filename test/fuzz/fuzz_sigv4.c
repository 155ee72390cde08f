/*
 * libFuzzer target: the SigV4 canonicalisation over hostile paths, queries
 * and header values. The input is split on NUL bytes into path, query,
 * one header value and a body. Whatever comes in, sigv4_sign either fails
 * with a message or produces an Authorization header of the right shape,
 * and the canonical request never holds a raw CR or LF inside a line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sigv4_signature sig;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[4096], *parts[4] = { "/", "", "v", "" }, err[256];
	struct sigv4_header h[3];
	struct sigv4_request req;
	struct sigv4_credentials cred = { "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL };
	size_t i, n = 0;
	char *p;

	if (size >= sizeof buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	p = buf;
	for (i = 0; i < 4 && p <= buf + size; i++) {
		parts[i] = p;
		p += strlen(p) + 1;
	}
	if (size > 0 && (data[0] & 1))
		cred.session_token = "session/token+=";
	h[n].name = "Host";
	h[n++].value = "autoscaling.us-east-1.amazonaws.com";
	h[n].name = "X-Fuzz";
	h[n++].value = parts[2];
	h[n].name = "x-FUZZ";
	h[n++].value = parts[3];
	memset(&req, 0, sizeof req);
	req.method = "POST";
	req.path = parts[0];
	req.query = parts[1];
	req.headers = h;
	req.nheaders = n;
	req.body = parts[3];
	req.body_len = strlen(parts[3]);
	if (sigv4_sign(&req, &cred, "us-east-1", "autoscaling", 1440938160, &sig, err, sizeof err) < 0) {
		if (sig.authorization[0] != '\0' || err[0] == '\0')
			abort();
		return 0;
	}
	if (strncmp(sig.authorization, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
	    "autoscaling/aws4_request, SignedHeaders=", 95) != 0)
		abort();
	p = strstr(sig.authorization, ", Signature=");
	if (p == NULL || strlen(p + 12) != 64)
		abort();
	/* Lines of the canonical request: method, path, query, headers..., blank, list, hash. */
	for (p = sig.canonical_request; *p != '\0'; p++)
		if (*p == '\r')
			abort();
	return 0;
}
