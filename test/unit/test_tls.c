/* test_tls.c — trust-store loading and the iPAddress SAN check of tls. */
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "tls.h"

#define AMAZON1 "/usr/share/ca-certificates/mozilla/Amazon_Root_CA_1.crt"
#define AMAZON3 "/usr/share/ca-certificates/mozilla/Amazon_Root_CA_3.crt"

/* Appends a DER TLV (short or long length form) to out at *at. */
static void
tlv(unsigned char *out, size_t *at, unsigned tag, const unsigned char *c, size_t len)
{
	out[(*at)++] = (unsigned char)tag;
	if (len < 0x80) {
		out[(*at)++] = (unsigned char)len;
	} else if (len < 0x100) {
		out[(*at)++] = 0x81;
		out[(*at)++] = (unsigned char)len;
	} else {
		out[(*at)++] = 0x82;
		out[(*at)++] = (unsigned char)(len >> 8);
		out[(*at)++] = (unsigned char)len;
	}
	memcpy(out + *at, c, len);
	*at += len;
}

/*
 * A certificate-shaped DER: SEQUENCE { tbs SEQUENCE { version [0], serial,
 * [3] { SEQUENCE { basicConstraints, SAN } } }, algorithm, signature }. Only
 * the structure tls_cert_has_ip walks is real.
 */
static size_t
make_cert(unsigned char *out, int with_san, int critical, int long_names)
{
	static const unsigned char ip4[] = { 127, 0, 0, 1 };
	static const unsigned char ip6[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	static const unsigned char oid_san[] = { 0x55, 0x1d, 0x11 }, oid_bc[] = { 0x55, 0x1d, 0x13 };
	static const unsigned char bc_val[] = { 0x30, 0x00 }, t[] = { 0xff }, two[] = { 2 }, v3[] = { 0x02, 0x01, 0x02 };
	unsigned char names[1024], gn[1100], oct[1200], ext1[64], ext2[1300], exts[1400], a3[1500];
	unsigned char tbs[1600], cert[1700], tmp[64];
	size_t n = 0, g = 0, o = 0, e1 = 0, e2 = 0, es = 0, a = 0, tb = 0, c = 0, k = 0;
	int i;

	tlv(names, &n, 0x82, (const unsigned char *)"example.com", 11);
	for (i = 0; long_names && i < 20; i++)
		tlv(names, &n, 0x82, (const unsigned char *)"a-long-name-to-need-long-form-lengths.example", 45);
	tlv(names, &n, 0x87, ip4, sizeof ip4);
	tlv(names, &n, 0x87, ip6, sizeof ip6);
	tlv(gn, &g, 0x30, names, n);
	tlv(oct, &o, 0x06, oid_san, sizeof oid_san);
	if (critical)
		tlv(oct, &o, 0x01, t, 1);
	tlv(oct, &o, 0x04, gn, g);
	tlv(ext2, &e2, 0x30, oct, o);
	k = 0;
	tlv(tmp, &k, 0x06, oid_bc, sizeof oid_bc);
	tlv(tmp, &k, 0x04, bc_val, sizeof bc_val);
	tlv(ext1, &e1, 0x30, tmp, k);
	memcpy(exts, ext1, e1);
	es = e1;
	if (with_san) {
		memcpy(exts + es, ext2, e2);
		es += e2;
	}
	k = 0;
	tlv(a3, &a, 0x30, exts, es);
	tlv(tbs, &tb, 0xa0, v3, sizeof v3);
	tlv(tbs, &tb, 0x02, two, 1);
	tlv(tbs, &tb, 0xa3, a3, a);
	tlv(cert, &c, 0x30, tbs, tb);
	tlv(cert, &c, 0x30, (const unsigned char *)"", 0);
	tlv(cert, &c, 0x03, (const unsigned char *)"\0", 1);
	k = 0;
	tlv(out, &k, 0x30, cert, c);
	return k;
}

static void
test_cert_has_ip(void)
{
	static const unsigned char lo[] = { 127, 0, 0, 1 }, other[] = { 10, 0, 0, 1 };
	static const unsigned char lo6[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	unsigned char der[2048];
	size_t len, i;

	len = make_cert(der, 1, 0, 0);
	CHECK_INT(tls_cert_has_ip(der, len, lo, 4), 1);
	CHECK_INT(tls_cert_has_ip(der, len, other, 4), 0);
	CHECK_INT(tls_cert_has_ip(der, len, lo6, 16), 1);
	/* An IPv4 address never matches part of an IPv6 one. */
	CHECK_INT(tls_cert_has_ip(der, len, lo6 + 12, 4), 0);
	/* Every truncation is malformed, never a read past the end (ASan watches). */
	for (i = 0; i < len; i++) {
		unsigned char *cut = malloc(i > 0 ? i : 1);

		memcpy(cut, der, i);
		CHECK_INT(tls_cert_has_ip(cut, i, lo, 4), -1);
		free(cut);
	}

	len = make_cert(der, 1, 1, 1);
	CHECK(len > 900);
	CHECK_INT(tls_cert_has_ip(der, len, lo, 4), 1);
	CHECK_INT(tls_cert_has_ip(der, len, lo6, 16), 1);

	len = make_cert(der, 0, 0, 0);
	CHECK_INT(tls_cert_has_ip(der, len, lo, 4), 0);

	/* Lengths in more than 3 bytes, or indefinite, are refused. */
	CHECK_INT(tls_cert_has_ip((const unsigned char *)"\x30\x84\x00\x00\x00\x01\x00", 7, lo, 4), -1);
	CHECK_INT(tls_cert_has_ip((const unsigned char *)"\x30\x80\x00\x00", 4, lo, 4), -1);
	CHECK_INT(tls_cert_has_ip((const unsigned char *)"\x02\x01\x00", 3, lo, 4), -1);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	if (f == NULL)
		return NULL;
	buf = malloc(65536);
	*len = fread(buf, 1, 65535, f);
	fclose(f);
	return buf;
}

static void
test_pem_loading(void)
{
	struct tls_config *tc = tls_config_new();
	char err[512], *pem, *bundle;
	size_t len, len3;

	CHECK(tc != NULL);
	CHECK_INT(tls_config_anchor_count(tc), 0);
	CHECK_INT(tls_config_add_pem_file(tc, AMAZON1, err, sizeof err), 0);
	CHECK_INT(tls_config_anchor_count(tc), 1);
	tls_config_add_amazon_roots(tc);
	CHECK_INT(tls_config_anchor_count(tc), 6);

	/* No final newline, and other PEM objects around the certificates. */
	pem = slurp(AMAZON3, &len);
	CHECK(pem != NULL);
	if (pem != NULL) {
		while (len > 0 && pem[len - 1] == '\n')
			len--;
		CHECK_INT(tls_config_add_pem(tc, pem, len, err, sizeof err), 0);
		CHECK_INT(tls_config_anchor_count(tc), 7);
		bundle = malloc(2 * len + 256);
		len3 = (size_t)sprintf(bundle, "# comment\n-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n");
		memcpy(bundle + len3, pem, len);
		CHECK_INT(tls_config_add_pem(tc, bundle, len3 + len, err, sizeof err), 0);
		CHECK_INT(tls_config_anchor_count(tc), 8);
		/* A truncated certificate is an error, not a partial load. */
		CHECK_INT(tls_config_add_pem(tc, pem, len / 2, err, sizeof err), -1);
		CHECK(strstr(err, "PEM") != NULL);
		memcpy(bundle, pem, len);
		memcpy(bundle + len, "\n", 1);
		memcpy(bundle + len + 1, pem, len / 2);
		CHECK_INT(tls_config_add_pem(tc, bundle, len + 1 + len / 2, err, sizeof err), -1);
		CHECK_INT(tls_config_anchor_count(tc), 8);
		free(bundle);
		free(pem);
	}

	CHECK_INT(tls_config_add_pem(tc, "", 0, err, sizeof err), -1);
	CHECK(strstr(err, "no certificate found") != NULL);
	CHECK_INT(tls_config_add_pem(tc, "just text\n", 10, err, sizeof err), -1);
	CHECK(strstr(err, "no certificate found") != NULL);
	{
		static const char bad[] = "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n";

		CHECK_INT(tls_config_add_pem(tc, bad, sizeof bad - 1, err, sizeof err), -1);
		CHECK(strstr(err, "bad certificate") != NULL);
	}
	CHECK_INT(tls_config_add_pem_file(tc, "/nonexistent/ca.crt", err, sizeof err), -1);
	CHECK(strstr(err, "/nonexistent/ca.crt") != NULL);
	CHECK_INT(tls_config_anchor_count(tc), 8);
	tls_config_free(tc);
	tls_config_free(NULL);
}

static void
test_client_cert_errors(void)
{
	struct tls_config *tc = tls_config_new();
	char err[512];

	CHECK_INT(tls_config_set_client_cert(tc, "/nonexistent/c.crt", AMAZON1, err, sizeof err), -1);
	CHECK(strstr(err, "/nonexistent/c.crt") != NULL);
	/* A certificate file where the key should be: no key in it. */
	CHECK_INT(tls_config_set_client_cert(tc, AMAZON1, AMAZON1, err, sizeof err), -1);
	CHECK(strstr(err, "no private key found") != NULL);
	tls_config_free(tc);
}

static void
test_server_name(void)
{
	struct tls_config *tc = tls_config_new();
	char longname[600];

	CHECK_INT(tls_config_set_server_name(tc, "kubernetes.default.svc"), 0);
	CHECK_INT(tls_config_set_server_name(tc, ""), -1);
	CHECK_INT(tls_config_set_server_name(tc, NULL), -1);
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	CHECK_INT(tls_config_set_server_name(tc, longname), -1);
	tls_config_free(tc);
}

int
main(void)
{
	RUN(test_cert_has_ip);
	RUN(test_pem_loading);
	RUN(test_client_cert_errors);
	RUN(test_server_name);
	return t_done();
}
