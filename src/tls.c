/* tls.c — see tls.h. */
#include "tls.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bearssl.h"
#include "bounds.h"
#include "net.h"
#include "util.h"

/* The Amazon roots, generated at build time (tools/gen_amazon_roots.sh). */
const br_x509_trust_anchor *tls_amazon_roots(size_t *n);

/* ---- Configuration ------------------------------------------------------ */

struct tls_config {
	br_x509_trust_anchor *tas;        /* deep copies, owned */
	size_t ntas, cap;
	br_x509_certificate *chain;       /* client certificate chain, owned */
	size_t chain_len;
	int key_type;                     /* 0, BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
	unsigned issuer_key_type;         /* key type of the client certificate's issuer */
	br_rsa_private_key rsa;           /* key material in key_buf */
	br_ec_private_key ec;
	unsigned char *key_buf;
	char server_name[URL_MAX_HOST];   /* "" if not overridden */
};

struct tls_config *
tls_config_new(void)
{
	return calloc(1, sizeof(struct tls_config));
}

static void
free_chain(br_x509_certificate *chain, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(chain[i].data);
	free(chain);
}

/* Frees the trust anchors from index keep on. */
static void
drop_anchors(struct tls_config *tc, size_t keep)
{
	while (tc->ntas > keep) {
		br_x509_trust_anchor *ta = &tc->tas[--tc->ntas];

		free(ta->dn.data);
		if (ta->pkey.key_type == BR_KEYTYPE_RSA) {
			free(ta->pkey.key.rsa.n);
			free(ta->pkey.key.rsa.e);
		} else {
			free(ta->pkey.key.ec.q);
		}
	}
}

void
tls_config_free(struct tls_config *tc)
{
	if (tc == NULL)
		return;
	drop_anchors(tc, 0);
	free(tc->tas);
	free_chain(tc->chain, tc->chain_len);
	if (tc->key_buf != NULL) {
		/* Private key bytes do not outlive their use. */
		size_t n = tc->key_type == BR_KEYTYPE_RSA ?
		    tc->rsa.plen + tc->rsa.qlen + tc->rsa.dplen + tc->rsa.dqlen + tc->rsa.iqlen :
		    tc->ec.xlen;

		memset(tc->key_buf, 0, n);
		free(tc->key_buf);
	}
	free(tc);
}

int
tls_config_set_server_name(struct tls_config *tc, const char *name)
{
	if (name == NULL || name[0] == '\0')
		return -1;
	return util_strlcpy(tc->server_name, name, sizeof tc->server_name);
}

size_t
tls_config_anchor_count(const struct tls_config *tc)
{
	return tc->ntas;
}

/* A growable byte vector, bounded by FILE_MAX_PEM; BearSSL decoders append to it. */
struct vec {
	unsigned char *buf;
	size_t len, cap;
	int over;         /* an append failed: out of memory or over the bound */
};

static void
vec_append(void *ctx, const void *data, size_t len)
{
	struct vec *v = ctx;

	if (v->over)
		return;
	if (len > FILE_MAX_PEM - v->len) {
		v->over = 1;
		return;
	}
	if (v->len + len > v->cap) {
		size_t ncap = v->cap ? v->cap : 1024;
		unsigned char *nb;

		while (ncap < v->len + len)
			ncap *= 2;
		if ((nb = realloc(v->buf, ncap)) == NULL) {
			v->over = 1;
			return;
		}
		v->buf = nb;
		v->cap = ncap;
	}
	memcpy(v->buf + v->len, data, len);
	v->len += len;
}

static void *
dup_bytes(const void *p, size_t n)
{
	void *q = malloc(n > 0 ? n : 1);

	if (q != NULL)
		memcpy(q, p, n);
	return q;
}

/*
 * Calls fn for each object of a PEM text with its name ("CERTIFICATE",
 * "PRIVATE KEY", ...) and DER bytes. Stops at the first failure of fn.
 * Returns the number of objects, or -1 with err (which fn may have filled).
 */
static int
pem_each(const char *pem, size_t len, const char *what,
    int (*fn)(void *ctx, const char *name, const unsigned char *der, size_t dlen, char *err, size_t errlen),
    void *ctx, char *err, size_t errlen)
{
	br_pem_decoder_context pc;
	struct vec v = { NULL, 0, 0, 0 };
	char name[128] = "";
	int count = 0, inobj = 0, pass;

	br_pem_decoder_init(&pc);
	/* A second pass pushes a final newline: BearSSL needs one after the last END line. */
	for (pass = 0; pass < 2; pass++) {
		const unsigned char *p = (const unsigned char *)(pass == 0 ? pem : "\n");
		size_t left = pass == 0 ? len : 1;

		while (left > 0) {
			size_t n = br_pem_decoder_push(&pc, p, left);

			p += n;
			left -= n;
			switch (br_pem_decoder_event(&pc)) {
			case BR_PEM_BEGIN_OBJ:
				util_strlcpy(name, br_pem_decoder_name(&pc), sizeof name);
				v.len = 0;
				v.over = 0;
				br_pem_decoder_setdest(&pc, vec_append, &v);
				inobj = 1;
				break;
			case BR_PEM_END_OBJ:
				if (!inobj)
					break;
				inobj = 0;
				if (v.over) {
					util_fmt(err, errlen, "%s: PEM object too large", what);
					goto fail;
				}
				if (fn(ctx, name, v.buf, v.len, err, errlen) < 0)
					goto fail;
				count++;
				break;
			case BR_PEM_ERROR:
				util_fmt(err, errlen, "%s: malformed PEM", what);
				goto fail;
			default:
				break;
			}
		}
	}
	if (inobj) {
		util_fmt(err, errlen, "%s: truncated PEM (no END line)", what);
		goto fail;
	}
	if (v.buf != NULL)
		memset(v.buf, 0, v.cap);
	free(v.buf);
	return count;
fail:
	if (v.buf != NULL)
		memset(v.buf, 0, v.cap);
	free(v.buf);
	return -1;
}

/* Decodes one DER certificate; returns 0 or -1 with err. dn gets its subject DN. */
static int
decode_cert(br_x509_decoder_context *dc, struct vec *dn, const unsigned char *der, size_t len,
    const char *what, char *err, size_t errlen)
{
	br_x509_decoder_init(dc, vec_append, dn);
	br_x509_decoder_push(dc, der, len);
	if (br_x509_decoder_get_pkey(dc) == NULL || dn->over) {
		util_fmt(err, errlen, "%s: bad certificate (BearSSL error %d)", what,
		    br_x509_decoder_last_error(dc));
		return -1;
	}
	return 0;
}

struct add_ctx {
	struct tls_config *tc;
	const char *what;
	int certs;
};

static int
add_anchor(void *ctx, const char *name, const unsigned char *der, size_t len, char *err, size_t errlen)
{
	struct add_ctx *ac = ctx;
	struct tls_config *tc = ac->tc;
	br_x509_decoder_context dc;
	struct vec dn = { NULL, 0, 0, 0 };
	const br_x509_pkey *pk;
	br_x509_trust_anchor ta;

	/* Bundles may hold other objects (TRUSTED CERTIFICATE, CRLs): skip them. */
	if (strcmp(name, "CERTIFICATE") != 0 && strcmp(name, "X509 CERTIFICATE") != 0)
		return 0;
	if (decode_cert(&dc, &dn, der, len, ac->what, err, errlen) < 0) {
		free(dn.buf);
		return -1;
	}
	pk = br_x509_decoder_get_pkey(&dc);
	memset(&ta, 0, sizeof ta);
	/* A non-CA anchor is trusted only as that exact server certificate. */
	ta.flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	ta.dn.data = dn.buf;
	ta.dn.len = dn.len;
	ta.pkey.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		ta.pkey.key.rsa.n = dup_bytes(pk->key.rsa.n, pk->key.rsa.nlen);
		ta.pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta.pkey.key.rsa.e = dup_bytes(pk->key.rsa.e, pk->key.rsa.elen);
		ta.pkey.key.rsa.elen = pk->key.rsa.elen;
	} else {
		ta.pkey.key.ec.curve = pk->key.ec.curve;
		ta.pkey.key.ec.q = dup_bytes(pk->key.ec.q, pk->key.ec.qlen);
		ta.pkey.key.ec.qlen = pk->key.ec.qlen;
	}
	if (tc->ntas == tc->cap) {
		size_t ncap = tc->cap ? 2 * tc->cap : 8;
		br_x509_trust_anchor *n = realloc(tc->tas, ncap * sizeof *n);

		if (n == NULL)
			goto oom;
		tc->tas = n;
		tc->cap = ncap;
	}
	if (ta.dn.data == NULL || (pk->key_type == BR_KEYTYPE_RSA ?
	    (ta.pkey.key.rsa.n == NULL || ta.pkey.key.rsa.e == NULL) : ta.pkey.key.ec.q == NULL))
		goto oom;
	tc->tas[tc->ntas++] = ta;
	ac->certs++;
	return 0;
oom:
	free(ta.dn.data);
	if (pk->key_type == BR_KEYTYPE_RSA) {
		free(ta.pkey.key.rsa.n);
		free(ta.pkey.key.rsa.e);
	} else {
		free(ta.pkey.key.ec.q);
	}
	util_fmt(err, errlen, "%s: out of memory", ac->what);
	return -1;
}

static int
add_pem(struct tls_config *tc, const char *pem, size_t len, const char *what, char *err, size_t errlen)
{
	struct add_ctx ac = { tc, what, 0 };
	size_t before = tc->ntas;

	/* All or nothing: a bundle with one bad certificate adds none of them. */
	if (pem_each(pem, len, what, add_anchor, &ac, err, errlen) < 0) {
		drop_anchors(tc, before);
		return -1;
	}
	if (ac.certs == 0) {
		util_fmt(err, errlen, "%s: no certificate found", what);
		return -1;
	}
	return 0;
}

int
tls_config_add_pem(struct tls_config *tc, const char *pem, size_t len, char *err, size_t errlen)
{
	return add_pem(tc, pem, len, "CA certificates", err, errlen);
}

/*
 * Reads a PEM file of at most FILE_MAX_PEM bytes into a fresh buffer (freed
 * by the caller). The buffer is sized from the file's size, with room for
 * it to grow a little before the read, rather than always at the bound.
 */
static char *
read_pem(const char *path, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	size_t cap = FILE_MAX_PEM + 1;
	char *buf;

	if (stat(path, &st) == 0 && st.st_size >= 0 && (uint64_t)st.st_size < FILE_MAX_PEM - 65536)
		cap = (size_t)st.st_size + 65536 + 1;
	buf = malloc(cap);

	if (buf == NULL) {
		util_fmt(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	if (util_read_file(path, buf, cap, len, err, errlen) < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

int
tls_config_add_pem_file(struct tls_config *tc, const char *path, char *err, size_t errlen)
{
	char what[CONFIG_MAX_STR + 16];
	size_t len;
	char *buf = read_pem(path, &len, err, errlen);
	int r;

	if (buf == NULL)
		return -1;
	util_fmt(what, sizeof what, "ca file %s", path);
	r = add_pem(tc, buf, len, what, err, errlen);
	free(buf);
	return r;
}

void
tls_config_add_amazon_roots(struct tls_config *tc)
{
	const br_x509_trust_anchor *ta;
	size_t n, i;

	ta = tls_amazon_roots(&n);
	for (i = 0; i < n; i++) {
		const br_x509_pkey *pk = &ta[i].pkey;
		br_x509_trust_anchor c;

		if (tc->ntas == tc->cap) {
			size_t ncap = tc->cap ? 2 * tc->cap : 8;
			br_x509_trust_anchor *nt = realloc(tc->tas, ncap * sizeof *nt);

			if (nt == NULL)
				return;
			tc->tas = nt;
			tc->cap = ncap;
		}
		/* Deep copies, so that tls_config_free treats every anchor alike. */
		c = ta[i];
		c.dn.data = dup_bytes(ta[i].dn.data, ta[i].dn.len);
		if (pk->key_type == BR_KEYTYPE_RSA) {
			c.pkey.key.rsa.n = dup_bytes(pk->key.rsa.n, pk->key.rsa.nlen);
			c.pkey.key.rsa.e = dup_bytes(pk->key.rsa.e, pk->key.rsa.elen);
			if (c.dn.data == NULL || c.pkey.key.rsa.n == NULL || c.pkey.key.rsa.e == NULL) {
				free(c.dn.data);
				free(c.pkey.key.rsa.n);
				free(c.pkey.key.rsa.e);
				return;
			}
		} else {
			c.pkey.key.ec.q = dup_bytes(pk->key.ec.q, pk->key.ec.qlen);
			if (c.dn.data == NULL || c.pkey.key.ec.q == NULL) {
				free(c.dn.data);
				free(c.pkey.key.ec.q);
				return;
			}
		}
		tc->tas[tc->ntas++] = c;
	}
}

struct chain_ctx {
	struct vec certs;           /* array of br_x509_certificate, built as bytes */
	const char *what;
};

static int
add_chain_cert(void *ctx, const char *name, const unsigned char *der, size_t len, char *err, size_t errlen)
{
	struct chain_ctx *cc = ctx;
	br_x509_certificate c;

	(void)err;
	(void)errlen;
	if (strcmp(name, "CERTIFICATE") != 0 && strcmp(name, "X509 CERTIFICATE") != 0)
		return 0;
	c.data = dup_bytes(der, len);
	c.data_len = len;
	if (c.data == NULL) {
		util_fmt(err, errlen, "%s: out of memory", cc->what);
		return -1;
	}
	vec_append(&cc->certs, &c, sizeof c);
	if (cc->certs.over) {
		free(c.data);
		util_fmt(err, errlen, "%s: too many certificates", cc->what);
		return -1;
	}
	return 0;
}

struct key_ctx {
	br_skey_decoder_context *dc;
	const char *what;
	int found;
};

static int
decode_key(void *ctx, const char *name, const unsigned char *der, size_t len, char *err, size_t errlen)
{
	struct key_ctx *kc = ctx;

	if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0) {
		util_fmt(err, errlen, "%s: encrypted private keys are not supported", kc->what);
		return -1;
	}
	if (strcmp(name, "PRIVATE KEY") != 0 && strcmp(name, "RSA PRIVATE KEY") != 0 &&
	    strcmp(name, "EC PRIVATE KEY") != 0)
		return 0;   /* "EC PARAMETERS" and the like */
	if (kc->found) {
		util_fmt(err, errlen, "%s: more than one private key", kc->what);
		return -1;
	}
	br_skey_decoder_init(kc->dc);
	br_skey_decoder_push(kc->dc, der, len);
	if (br_skey_decoder_last_error(kc->dc) != 0) {
		util_fmt(err, errlen, "%s: unsupported or malformed private key (BearSSL error %d)",
		    kc->what, br_skey_decoder_last_error(kc->dc));
		return -1;
	}
	kc->found = 1;
	return 0;
}

/* Copies n bytes of src to *p and moves *p past them; returns where they went. */
static unsigned char *
put(unsigned char **p, const unsigned char *src, size_t n)
{
	unsigned char *at = *p;

	memcpy(at, src, n);
	*p += n;
	return at;
}

/* Stores the private key the decoder holds into tc (deep copy). Returns 0 or -1 (out of memory). */
static int
keep_key(struct tls_config *tc, const br_skey_decoder_context *dc)
{
	if (br_skey_decoder_key_type(dc) == BR_KEYTYPE_RSA) {
		const br_rsa_private_key *k = br_skey_decoder_get_rsa(dc);
		size_t tot = k->plen + k->qlen + k->dplen + k->dqlen + k->iqlen;
		unsigned char *p;

		if ((tc->key_buf = p = malloc(tot)) == NULL)
			return -1;
		tc->rsa = *k;
		tc->rsa.p = put(&p, k->p, k->plen);
		tc->rsa.q = put(&p, k->q, k->qlen);
		tc->rsa.dp = put(&p, k->dp, k->dplen);
		tc->rsa.dq = put(&p, k->dq, k->dqlen);
		tc->rsa.iq = put(&p, k->iq, k->iqlen);
		tc->key_type = BR_KEYTYPE_RSA;
	} else {
		const br_ec_private_key *k = br_skey_decoder_get_ec(dc);

		if ((tc->key_buf = dup_bytes(k->x, k->xlen)) == NULL)
			return -1;
		tc->ec = *k;
		tc->ec.x = tc->key_buf;
		tc->key_type = BR_KEYTYPE_EC;
	}
	return 0;
}

/*
 * The client chain from cert[0..clen) and the key from key[0..klen) (PEM;
 * may be the same text), named cwhat and kwhat in messages.
 */
static int
client_cert_pem(struct tls_config *tc, const char *cert, size_t clen, const char *cwhat,
    const char *key, size_t klen, const char *kwhat, char *err, size_t errlen)
{
	struct chain_ctx cc;
	struct key_ctx kc;
	br_skey_decoder_context *dc = NULL;
	br_x509_decoder_context xd;
	struct vec dn = { NULL, 0, 0, 0 };
	size_t n;
	int r = -1;

	memset(&cc, 0, sizeof cc);
	if (tc->chain != NULL) {
		util_fmt(err, errlen, "client certificate already set");
		return -1;
	}
	cc.what = cwhat;
	if (pem_each(cert, clen, cwhat, add_chain_cert, &cc, err, errlen) < 0)
		goto done;
	n = cc.certs.len / sizeof(br_x509_certificate);
	if (n == 0) {
		util_fmt(err, errlen, "%s: no certificate found", cwhat);
		goto done;
	}
	/* The issuer's key type of the leaf matters to static ECDH only; BearSSL asks for it. */
	if (decode_cert(&xd, &dn, ((br_x509_certificate *)(void *)cc.certs.buf)[0].data,
	    ((br_x509_certificate *)(void *)cc.certs.buf)[0].data_len, cwhat, err, errlen) < 0)
		goto done;
	tc->issuer_key_type = (unsigned)br_x509_decoder_get_signer_key_type(&xd);
	if ((dc = malloc(sizeof *dc)) == NULL) {
		util_fmt(err, errlen, "%s: out of memory", kwhat);
		goto done;
	}
	kc.dc = dc;
	kc.what = kwhat;
	kc.found = 0;
	if (pem_each(key, klen, kwhat, decode_key, &kc, err, errlen) < 0)
		goto done;
	if (!kc.found) {
		util_fmt(err, errlen, "%s: no private key found", kwhat);
		goto done;
	}
	if (keep_key(tc, dc) < 0) {
		util_fmt(err, errlen, "%s: out of memory", kwhat);
		goto done;
	}
	tc->chain = (br_x509_certificate *)(void *)cc.certs.buf;
	tc->chain_len = n;
	cc.certs.buf = NULL;
	r = 0;
done:
	if (cc.certs.buf != NULL)
		free_chain((br_x509_certificate *)(void *)cc.certs.buf,
		    cc.certs.len / sizeof(br_x509_certificate));
	if (dc != NULL) {
		memset(dc, 0, sizeof *dc);
		free(dc);
	}
	free(dn.buf);
	return r;
}

int
tls_config_set_client_cert_pem(struct tls_config *tc, const char *cert, size_t clen,
    const char *key, size_t klen, char *err, size_t errlen)
{
	return client_cert_pem(tc, cert, clen, "client certificate data", key, klen, "client key data",
	    err, errlen);
}

int
tls_config_set_client_cert(struct tls_config *tc, const char *cert_path,
    const char *key_path, char *err, size_t errlen)
{
	char cwhat[CONFIG_MAX_STR + 32], kwhat[CONFIG_MAX_STR + 32];
	char *cbuf, *kbuf;
	size_t clen, klen;
	int r;

	if ((cbuf = read_pem(cert_path, &clen, err, errlen)) == NULL)
		return -1;
	if ((kbuf = read_pem(key_path, &klen, err, errlen)) == NULL) {
		free(cbuf);
		return -1;
	}
	util_fmt(cwhat, sizeof cwhat, "client certificate %s", cert_path);
	util_fmt(kwhat, sizeof kwhat, "client key %s", key_path);
	r = client_cert_pem(tc, cbuf, clen, cwhat, kbuf, klen, kwhat, err, errlen);
	memset(cbuf, 0, clen);
	memset(kbuf, 0, klen);
	free(cbuf);
	free(kbuf);
	return r;
}

/* ---- Certificate checks by IP address ----------------------------------- */

/*
 * Reads a DER tag and length at p[0..len). Returns 0 with the tag, the
 * header size and the content length (which fits in len), or -1.
 */
static int
der_tlv(const unsigned char *p, size_t len, unsigned *tag, size_t *hdr, size_t *clen)
{
	size_t i, n;

	if (len < 2 || (p[0] & 0x1f) == 0x1f)
		return -1;
	*tag = p[0];
	if (p[1] < 0x80) {
		*clen = p[1];
		*hdr = 2;
	} else {
		n = p[1] & 0x7f;
		if (n == 0 || n > 3 || len < 2 + n)
			return -1;
		*clen = 0;
		for (i = 0; i < n; i++)
			*clen = (*clen << 8) | p[2 + i];
		*hdr = 2 + n;
	}
	if (*clen > len - *hdr)
		return -1;
	return 0;
}

int
tls_cert_has_ip(const unsigned char *der, size_t len, const unsigned char *ip, size_t iplen)
{
	static const unsigned char san_oid[] = { 0x55, 0x1d, 0x11 };   /* 2.5.29.17 */
	const unsigned char *p;
	size_t hdr, clen, left;
	unsigned tag;

	/* Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { ... [3] extensions } ... } */
	if (der_tlv(der, len, &tag, &hdr, &clen) < 0 || tag != 0x30)
		return -1;
	p = der + hdr;
	if (der_tlv(p, clen, &tag, &hdr, &clen) < 0 || tag != 0x30)
		return -1;
	p += hdr;
	left = clen;
	while (left > 0) {
		const unsigned char *e;
		size_t elen;

		if (der_tlv(p, left, &tag, &hdr, &clen) < 0)
			return -1;
		if (tag != 0xa3) {
			p += hdr + clen;
			left -= hdr + clen;
			continue;
		}
		/* [3] EXPLICIT Extensions ::= SEQUENCE OF Extension */
		e = p + hdr;
		if (der_tlv(e, clen, &tag, &hdr, &elen) < 0 || tag != 0x30)
			return -1;
		e += hdr;
		while (elen > 0) {
			const unsigned char *x;
			size_t xlen, ohdr, olen;

			/* Extension ::= SEQUENCE { extnID OID, critical BOOLEAN OPTIONAL, extnValue OCTET STRING } */
			if (der_tlv(e, elen, &tag, &hdr, &xlen) < 0 || tag != 0x30)
				return -1;
			x = e + hdr;
			e += hdr + xlen;
			elen -= hdr + xlen;
			if (der_tlv(x, xlen, &tag, &ohdr, &olen) < 0 || tag != 0x06)
				return -1;
			if (olen != sizeof san_oid || memcmp(x + ohdr, san_oid, sizeof san_oid) != 0)
				continue;
			x += ohdr + olen;
			xlen -= ohdr + olen;
			if (der_tlv(x, xlen, &tag, &ohdr, &olen) < 0)
				return -1;
			if (tag == 0x01) {
				x += ohdr + olen;
				xlen -= ohdr + olen;
				if (der_tlv(x, xlen, &tag, &ohdr, &olen) < 0)
					return -1;
			}
			if (tag != 0x04)
				return -1;
			/* GeneralNames ::= SEQUENCE OF GeneralName; iPAddress is [7] IMPLICIT OCTET STRING. */
			x += ohdr;
			xlen = olen;
			if (der_tlv(x, xlen, &tag, &ohdr, &olen) < 0 || tag != 0x30)
				return -1;
			x += ohdr;
			xlen = olen;
			while (xlen > 0) {
				if (der_tlv(x, xlen, &tag, &ohdr, &olen) < 0)
					return -1;
				if (tag == 0x87 && olen == iplen && memcmp(x + ohdr, ip, iplen) == 0)
					return 1;
				x += ohdr + olen;
				xlen -= ohdr + olen;
			}
			return 0;
		}
		return 0;
	}
	return 0;
}

/*
 * An X.509 engine that delegates chain validation to br_x509_minimal and,
 * when the expected name is an IP address, matches it against the
 * iPAddress SANs of the end-entity certificate (BearSSL matches DNS names
 * only). For a DNS name it is a plain pass-through.
 */
struct x509_ip {
	const br_x509_class *vtable;
	br_x509_minimal_context minimal;
	unsigned char ip[16];
	size_t iplen;              /* 0: DNS mode */
	unsigned depth;            /* index of the certificate being received */
	unsigned char *ee;         /* the end-entity certificate, IP mode only */
	size_t ee_len, ee_cap;
	int ee_over;               /* it was larger than TLS_MAX_EE_CERT */
};

#define XIP(ctx) ((struct x509_ip *)(void *)(ctx))
#define XMIN(x) (&(x)->minimal.vtable)

static void
xip_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct x509_ip *x = XIP(ctx);

	x->depth = 0;
	x->ee_len = 0;
	x->ee_over = 0;
	(*XMIN(x))->start_chain(XMIN(x), x->iplen > 0 ? NULL : server_name);
}

static void
xip_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct x509_ip *x = XIP(ctx);

	if (x->depth == 0 && x->iplen > 0) {
		free(x->ee);
		x->ee = NULL;
		x->ee_cap = 0;
		if (length > TLS_MAX_EE_CERT || (x->ee = malloc(length > 0 ? length : 1)) == NULL)
			x->ee_over = 1;
		else
			x->ee_cap = length;
	}
	(*XMIN(x))->start_cert(XMIN(x), length);
}

static void
xip_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct x509_ip *x = XIP(ctx);

	if (x->depth == 0 && x->ee != NULL) {
		if (len > x->ee_cap - x->ee_len)
			x->ee_over = 1;
		else {
			memcpy(x->ee + x->ee_len, buf, len);
			x->ee_len += len;
		}
	}
	(*XMIN(x))->append(XMIN(x), buf, len);
}

static void
xip_end_cert(const br_x509_class **ctx)
{
	struct x509_ip *x = XIP(ctx);

	x->depth++;
	(*XMIN(x))->end_cert(XMIN(x));
}

static unsigned
xip_end_chain(const br_x509_class **ctx)
{
	struct x509_ip *x = XIP(ctx);
	unsigned r = (*XMIN(x))->end_chain(XMIN(x));

	if (r == 0 && x->iplen > 0) {
		if (x->ee_over)
			r = BR_ERR_X509_LIMIT_EXCEEDED;
		else if (x->ee == NULL || tls_cert_has_ip(x->ee, x->ee_len, x->ip, x->iplen) != 1)
			r = BR_ERR_X509_BAD_SERVER_NAME;
	}
	free(x->ee);
	x->ee = NULL;
	x->ee_len = x->ee_cap = 0;
	return r;
}

static const br_x509_pkey *
xip_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	const struct x509_ip *x = (const struct x509_ip *)(const void *)ctx;

	return x->minimal.vtable->get_pkey(&x->minimal.vtable, usages);
}

static const br_x509_class xip_vtable = {
	sizeof(struct x509_ip),
	xip_start_chain,
	xip_start_cert,
	xip_append,
	xip_end_cert,
	xip_end_chain,
	xip_get_pkey,
};

/* ---- Connections -------------------------------------------------------- */

struct tls_conn {
	br_ssl_client_context cc;
	struct x509_ip xc;
	unsigned char iobuf[BR_SSL_BUFSIZE_MONO];   /* HTTP is half-duplex: one buffer will do */
	int fd;
	int broken;                    /* a transport failure left the engine mid-record */
	char ioerr[128];               /* the last transport failure */
	/* The last session, for resumption with the same peer and configuration. */
	br_ssl_session_parameters session;
	int have_session;
	const struct tls_config *session_cfg;
	char session_peer[URL_MAX_HOST + 8];
};

struct tls_conn *
tls_conn_new(void)
{
	struct tls_conn *c = calloc(1, sizeof *c);

	if (c != NULL)
		c->fd = -1;
	return c;
}

void
tls_conn_free(struct tls_conn *c)
{
	if (c == NULL)
		return;
	free(c->xc.ee);
	/* The engine holds session keys. */
	memset(c, 0, sizeof *c);
	free(c);
}

void
tls_disconnect(struct tls_conn *c)
{
	free(c->xc.ee);
	c->xc.ee = NULL;
	c->fd = -1;
	c->broken = 1;
}

/*
 * Sets the engine up for one connection: TLS 1.2 only, ECDHE suites with
 * AES-GCM (plus RSA key exchange with AES-GCM for old servers), which every
 * AWS and Kubernetes endpoint speaks. The implementations are chosen for
 * size rather than speed (a handful of handshakes and a few KB of traffic a
 * minute): the 31-bit big-integer code for RSA and for one generic
 * constant-time EC implementation of P-256, P-384 and P-521 (no X25519,
 * no 62-bit variants beside them), the portable constant-time AES and GHASH (no AES-NI
 * variants beside them), no ChaCha20, CBC, CCM, 3DES or MD5. That keeps
 * BearSSL's share of the static binary near 60 KB, against about 100 KB
 * for br_ssl_client_init_full.
 */
static void
engine_setup(struct tls_conn *c, const struct tls_config *cfg)
{
	static const uint16_t suites[] = {
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_RSA_WITH_AES_256_GCM_SHA384,
	};
	static const struct {
		int id;
		const br_hash_class *impl;
	} hashes[] = {
		{ br_sha1_ID, &br_sha1_vtable }, { br_sha224_ID, &br_sha224_vtable },
		{ br_sha256_ID, &br_sha256_vtable }, { br_sha384_ID, &br_sha384_vtable },
		{ br_sha512_ID, &br_sha512_vtable },
	};
	br_ssl_client_context *cc = &c->cc;
	br_x509_minimal_context *xm = &c->xc.minimal;
	size_t i;

	br_ssl_client_zero(cc);
	br_ssl_engine_set_versions(&cc->eng, BR_TLS12, BR_TLS12);
	br_x509_minimal_init(xm, &br_sha256_vtable, cfg->tas, cfg->ntas);
	br_ssl_engine_set_suites(&cc->eng, suites, sizeof suites / sizeof suites[0]);
	br_ssl_client_set_rsapub(cc, &br_rsa_i31_public);
	br_ssl_engine_set_rsavrfy(&cc->eng, &br_rsa_i31_pkcs1_vrfy);
	br_ssl_engine_set_ec(&cc->eng, &br_ec_prime_i31);
	br_ssl_engine_set_ecdsa(&cc->eng, &br_ecdsa_i31_vrfy_asn1);
	br_x509_minimal_set_rsa(xm, br_ssl_engine_get_rsavrfy(&cc->eng));
	br_x509_minimal_set_ecdsa(xm, &br_ec_prime_i31, &br_ecdsa_i31_vrfy_asn1);
	for (i = 0; i < sizeof hashes / sizeof hashes[0]; i++) {
		br_ssl_engine_set_hash(&cc->eng, hashes[i].id, hashes[i].impl);
		br_x509_minimal_set_hash(xm, hashes[i].id, hashes[i].impl);
	}
	br_ssl_engine_set_prf_sha256(&cc->eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(&cc->eng, &br_tls12_sha384_prf);
	br_ssl_engine_set_gcm(&cc->eng, &br_sslrec_in_gcm_vtable, &br_sslrec_out_gcm_vtable);
	br_ssl_engine_set_aes_ctr(&cc->eng, &br_aes_ct64_ctr_vtable);
	br_ssl_engine_set_ghash(&cc->eng, &br_ghash_ctmul64);
	c->xc.vtable = &xip_vtable;
	br_ssl_engine_set_x509(&cc->eng, &c->xc.vtable);
	if (cfg->key_type == BR_KEYTYPE_RSA)
		br_ssl_client_set_single_rsa(cc, cfg->chain, cfg->chain_len, &cfg->rsa,
		    &br_rsa_i31_pkcs1_sign);
	else if (cfg->key_type == BR_KEYTYPE_EC)
		br_ssl_client_set_single_ec(cc, cfg->chain, cfg->chain_len, &cfg->ec,
		    BR_KEYTYPE_SIGN, cfg->issuer_key_type, &br_ec_prime_i31, &br_ecdsa_i31_sign_asn1);
	br_ssl_engine_set_buffer(&cc->eng, c->iobuf, sizeof c->iobuf, 0);
}

static const struct {
	int code;
	const char *name;
	const char *text;
} errors[] = {
	{ BR_ERR_BAD_PARAM, "BAD_PARAM", "bad parameter" },
	{ BR_ERR_BAD_STATE, "BAD_STATE", "bad state" },
	{ BR_ERR_UNSUPPORTED_VERSION, "UNSUPPORTED_VERSION", "server does not speak TLS 1.2" },
	{ BR_ERR_BAD_VERSION, "BAD_VERSION", "server chose an unexpected protocol version" },
	{ BR_ERR_BAD_LENGTH, "BAD_LENGTH", "malformed record" },
	{ BR_ERR_TOO_LARGE, "TOO_LARGE", "record too large" },
	{ BR_ERR_BAD_MAC, "BAD_MAC", "record failed its integrity check" },
	{ BR_ERR_NO_RANDOM, "NO_RANDOM", "no entropy" },
	{ BR_ERR_UNKNOWN_TYPE, "UNKNOWN_TYPE", "unknown record type (not TLS?)" },
	{ BR_ERR_UNEXPECTED, "UNEXPECTED", "unexpected message" },
	{ BR_ERR_BAD_CCS, "BAD_CCS", "bad ChangeCipherSpec" },
	{ BR_ERR_BAD_ALERT, "BAD_ALERT", "bad alert" },
	{ BR_ERR_BAD_HANDSHAKE, "BAD_HANDSHAKE", "malformed handshake message" },
	{ BR_ERR_OVERSIZED_ID, "OVERSIZED_ID", "oversized session id" },
	{ BR_ERR_BAD_CIPHER_SUITE, "BAD_CIPHER_SUITE", "no cipher suite in common" },
	{ BR_ERR_BAD_COMPRESSION, "BAD_COMPRESSION", "server chose compression" },
	{ BR_ERR_BAD_FRAGLEN, "BAD_FRAGLEN", "bad fragment length" },
	{ BR_ERR_BAD_SECRENEG, "BAD_SECRENEG", "bad secure renegotiation" },
	{ BR_ERR_EXTRA_EXTENSION, "EXTRA_EXTENSION", "server sent an extension we did not ask for" },
	{ BR_ERR_BAD_SNI, "BAD_SNI", "bad server name indication" },
	{ BR_ERR_BAD_HELLO_DONE, "BAD_HELLO_DONE", "bad ServerHelloDone" },
	{ BR_ERR_LIMIT_EXCEEDED, "LIMIT_EXCEEDED", "a handshake limit was exceeded" },
	{ BR_ERR_BAD_FINISHED, "BAD_FINISHED", "bad Finished message" },
	{ BR_ERR_RESUME_MISMATCH, "RESUME_MISMATCH", "session resumption mismatch" },
	{ BR_ERR_INVALID_ALGORITHM, "INVALID_ALGORITHM", "unsupported algorithm" },
	{ BR_ERR_BAD_SIGNATURE, "BAD_SIGNATURE", "bad handshake signature" },
	{ BR_ERR_WRONG_KEY_USAGE, "WRONG_KEY_USAGE", "server key not usable for this cipher suite" },
	{ BR_ERR_NO_CLIENT_AUTH, "NO_CLIENT_AUTH", "server asked for a client certificate we could not provide" },
	{ BR_ERR_IO, "IO", "I/O error" },
	{ BR_ERR_X509_INVALID_VALUE, "X509_INVALID_VALUE", "malformed certificate" },
	{ BR_ERR_X509_TRUNCATED, "X509_TRUNCATED", "truncated certificate" },
	{ BR_ERR_X509_EMPTY_CHAIN, "X509_EMPTY_CHAIN", "server sent no certificate" },
	{ BR_ERR_X509_INNER_TRUNC, "X509_INNER_TRUNC", "malformed certificate" },
	{ BR_ERR_X509_BAD_TAG_CLASS, "X509_BAD_TAG_CLASS", "malformed certificate" },
	{ BR_ERR_X509_BAD_TAG_VALUE, "X509_BAD_TAG_VALUE", "malformed certificate" },
	{ BR_ERR_X509_INDEFINITE_LENGTH, "X509_INDEFINITE_LENGTH", "malformed certificate" },
	{ BR_ERR_X509_EXTRA_ELEMENT, "X509_EXTRA_ELEMENT", "malformed certificate" },
	{ BR_ERR_X509_UNEXPECTED, "X509_UNEXPECTED", "malformed certificate" },
	{ BR_ERR_X509_NOT_CONSTRUCTED, "X509_NOT_CONSTRUCTED", "malformed certificate" },
	{ BR_ERR_X509_NOT_PRIMITIVE, "X509_NOT_PRIMITIVE", "malformed certificate" },
	{ BR_ERR_X509_PARTIAL_BYTE, "X509_PARTIAL_BYTE", "malformed certificate" },
	{ BR_ERR_X509_BAD_BOOLEAN, "X509_BAD_BOOLEAN", "malformed certificate" },
	{ BR_ERR_X509_OVERFLOW, "X509_OVERFLOW", "malformed certificate" },
	{ BR_ERR_X509_BAD_DN, "X509_BAD_DN", "malformed name in certificate" },
	{ BR_ERR_X509_BAD_TIME, "X509_BAD_TIME", "malformed validity dates in certificate" },
	{ BR_ERR_X509_UNSUPPORTED, "X509_UNSUPPORTED", "certificate uses an unsupported feature" },
	{ BR_ERR_X509_LIMIT_EXCEEDED, "X509_LIMIT_EXCEEDED", "certificate or chain too large" },
	{ BR_ERR_X509_WRONG_KEY_TYPE, "X509_WRONG_KEY_TYPE", "certificate key type does not fit the cipher suite" },
	{ BR_ERR_X509_BAD_SIGNATURE, "X509_BAD_SIGNATURE", "certificate signature is invalid" },
	{ BR_ERR_X509_TIME_UNKNOWN, "X509_TIME_UNKNOWN", "current time unknown" },
	{ BR_ERR_X509_EXPIRED, "X509_EXPIRED", "certificate has expired or is not yet valid" },
	{ BR_ERR_X509_DN_MISMATCH, "X509_DN_MISMATCH", "certificate chain is out of order" },
	{ BR_ERR_X509_BAD_SERVER_NAME, "X509_BAD_SERVER_NAME", "certificate does not match host" },
	{ BR_ERR_X509_CRITICAL_EXTENSION, "X509_CRITICAL_EXTENSION", "certificate has an unsupported critical extension" },
	{ BR_ERR_X509_NOT_CA, "X509_NOT_CA", "an issuing certificate is not a CA" },
	{ BR_ERR_X509_FORBIDDEN_KEY_USAGE, "X509_FORBIDDEN_KEY_USAGE", "certificate key usage forbids TLS server use" },
	{ BR_ERR_X509_WEAK_PUBLIC_KEY, "X509_WEAK_PUBLIC_KEY", "certificate key is too weak" },
	{ BR_ERR_X509_NOT_TRUSTED, "X509_NOT_TRUSTED", "certificate is not trusted" },
};

static const char *
alert_name(int a)
{
	switch (a) {
	case 0: return "close_notify";
	case 10: return "unexpected_message";
	case 20: return "bad_record_mac";
	case 40: return "handshake_failure";
	case 42: return "bad_certificate";
	case 43: return "unsupported_certificate";
	case 44: return "certificate_revoked";
	case 45: return "certificate_expired";
	case 46: return "certificate_unknown";
	case 47: return "illegal_parameter";
	case 48: return "unknown_ca";
	case 49: return "access_denied";
	case 50: return "decode_error";
	case 51: return "decrypt_error";
	case 70: return "protocol_version";
	case 71: return "insufficient_security";
	case 80: return "internal_error";
	case 112: return "unrecognized_name";
	case 116: return "certificate_required";
	default: return "unknown alert";
	}
}

/* Formats the engine's error for a connection to name (the name checked). */
static void
describe(int e, const char *name, char *err, size_t errlen)
{
	size_t i;

	if (e >= BR_ERR_SEND_FATAL_ALERT) {
		util_fmt(err, errlen, "TLS: we sent fatal alert %d (%s)", e - BR_ERR_SEND_FATAL_ALERT,
		    alert_name(e - BR_ERR_SEND_FATAL_ALERT));
		return;
	}
	if (e >= BR_ERR_RECV_FATAL_ALERT) {
		int a = e - BR_ERR_RECV_FATAL_ALERT;

		util_fmt(err, errlen, "TLS: server sent fatal alert %d (%s)%s", a, alert_name(a),
		    a == 40 || a == 42 || a == 116 ? " — does it want a client certificate?" : "");
		return;
	}
	for (i = 0; i < sizeof errors / sizeof errors[0]; i++) {
		if (errors[i].code != e)
			continue;
		if (e == BR_ERR_X509_BAD_SERVER_NAME)
			util_fmt(err, errlen, "TLS: certificate does not match host %s (BearSSL error %d: %s)",
			    name, e, errors[i].name);
		else
			util_fmt(err, errlen, "TLS: %s (BearSSL error %d: %s)", errors[i].text, e,
			    errors[i].name);
		return;
	}
	util_fmt(err, errlen, "TLS: BearSSL error %d", e);
}

#define PUMP_EOF 1

/*
 * Runs the engine until one of the states in target is reached: sends
 * pending records first, reads records when the engine wants them. Returns
 * 0 at the target, PUMP_EOF when the peer ended the stream (close_notify or
 * TCP), NET_ERROR or NET_TIMEOUT with err.
 */
static int
pump(struct tls_conn *c, unsigned target, const char *name, int64_t deadline_ms, char *err, size_t errlen)
{
	br_ssl_engine_context *eng = &c->cc.eng;

	if (c->broken) {
		util_fmt(err, errlen, "TLS: connection unusable after an earlier failure");
		return NET_ERROR;
	}
	for (;;) {
		unsigned st = br_ssl_engine_current_state(eng);
		unsigned char *buf;
		size_t len;
		ssize_t r;

		if (st & BR_SSL_CLOSED) {
			int e = br_ssl_engine_last_error(eng);

			c->broken = 1;
			if (e == BR_ERR_OK)
				return PUMP_EOF;
			describe(e, name, err, errlen);
			return NET_ERROR;
		}
		if (st & BR_SSL_SENDREC) {
			buf = br_ssl_engine_sendrec_buf(eng, &len);
			r = net_write(c->fd, buf, len, deadline_ms, c->ioerr, sizeof c->ioerr);
			if (r < 0) {
				c->broken = 1;
				util_fmt(err, errlen, "%s", c->ioerr);
				return (int)r;
			}
			br_ssl_engine_sendrec_ack(eng, len);
			continue;
		}
		if (st & target)
			return 0;
		if (st & BR_SSL_RECVREC) {
			buf = br_ssl_engine_recvrec_buf(eng, &len);
			r = net_read(c->fd, buf, len, deadline_ms, c->ioerr, sizeof c->ioerr);
			if (r == 0) {
				/*
				 * TCP closed without close_notify. HTTP frames its own
				 * messages, so the caller decides whether that cut anything.
				 */
				c->broken = 1;
				return PUMP_EOF;
			}
			if (r < 0) {
				c->broken = 1;
				util_fmt(err, errlen, "%s", c->ioerr);
				return (int)r;
			}
			br_ssl_engine_recvrec_ack(eng, (size_t)r);
			continue;
		}
		/* Wants to send application data but the buffer holds unread input: not for HTTP. */
		c->broken = 1;
		util_fmt(err, errlen, "TLS: engine stuck (state %u)", st);
		return NET_ERROR;
	}
}

/* Whether s is an IP literal; fills ip and returns its length (4 or 16), else 0. */
static size_t
ip_literal(const char *s, unsigned char ip[16])
{
	if (inet_pton(AF_INET, s, ip) == 1)
		return 4;
	if (inet_pton(AF_INET6, s, ip) == 1)
		return 16;
	return 0;
}

int
tls_handshake(struct tls_conn *c, const struct tls_config *cfg, int fd,
    const char *host, int port, int64_t deadline_ms, char *err, size_t errlen)
{
	const char *name = cfg->server_name[0] != '\0' ? cfg->server_name : host;
	unsigned char seed[32];
	char peer[sizeof c->session_peer];
	int resume, r;

	if (cfg->ntas == 0) {
		util_fmt(err, errlen, "TLS: no trust anchors configured");
		return -1;
	}
	util_fmt(peer, sizeof peer, "%s:%d", name, port);
	resume = c->have_session && c->session_cfg == cfg && strcmp(c->session_peer, peer) == 0;
	engine_setup(c, cfg);
	c->xc.iplen = ip_literal(name, c->xc.ip);
	c->fd = fd;
	c->broken = 0;
	c->ioerr[0] = '\0';
	/* BearSSL seeds itself only from RDRAND or /dev/urandom, which a scratch image lacks. */
	if (util_entropy(seed, sizeof seed) < 0) {
		util_fmt(err, errlen, "TLS: getrandom failed");
		return -1;
	}
	br_ssl_engine_inject_entropy(&c->cc.eng, seed, sizeof seed);
	memset(seed, 0, sizeof seed);
	if (resume)
		br_ssl_engine_set_session_parameters(&c->cc.eng, &c->session);
	/* SNI carries DNS names only (RFC 6066); an IP literal is checked by the wrapper instead. */
	if (!br_ssl_client_reset(&c->cc, c->xc.iplen > 0 ? NULL : name, resume)) {
		describe(br_ssl_engine_last_error(&c->cc.eng), name, err, errlen);
		return -1;
	}
	r = pump(c, BR_SSL_SENDAPP, name, deadline_ms, err, errlen);
	if (r == PUMP_EOF) {
		int e = br_ssl_engine_last_error(&c->cc.eng);

		if (e != BR_ERR_OK && e != BR_ERR_IO)
			describe(e, name, err, errlen);
		else
			util_fmt(err, errlen, "TLS: server closed the connection during the handshake");
		return -1;
	}
	if (r < 0) {
		/* A transport failure names no TLS reason of its own: say where it happened. */
		if (c->ioerr[0] != '\0')
			util_fmt(err, errlen, "TLS handshake: %s", c->ioerr);
		return -1;
	}
	br_ssl_engine_get_session_parameters(&c->cc.eng, &c->session);
	c->have_session = 1;
	c->session_cfg = cfg;
	util_strlcpy(c->session_peer, peer, sizeof c->session_peer);
	return 0;
}

ssize_t
tls_read(struct tls_conn *c, void *buf, size_t n, int64_t deadline_ms, char *err, size_t errlen)
{
	br_ssl_engine_context *eng = &c->cc.eng;
	unsigned char *p;
	size_t alen;
	int r;

	/* A request still sitting in the buffer must go out before the answer can come. */
	if (!c->broken && (br_ssl_engine_current_state(eng) & BR_SSL_SENDAPP))
		br_ssl_engine_flush(eng, 0);
	r = pump(c, BR_SSL_RECVAPP, "", deadline_ms, err, errlen);
	if (r == PUMP_EOF)
		return 0;
	if (r < 0)
		return r;
	p = br_ssl_engine_recvapp_buf(eng, &alen);
	if (alen > n)
		alen = n;
	memcpy(buf, p, alen);
	br_ssl_engine_recvapp_ack(eng, alen);
	return (ssize_t)alen;
}

int
tls_write(struct tls_conn *c, const void *buf, size_t n, int64_t deadline_ms, char *err, size_t errlen)
{
	br_ssl_engine_context *eng = &c->cc.eng;
	const unsigned char *p = buf;

	while (n > 0) {
		unsigned char *dst;
		size_t alen;
		int r = pump(c, BR_SSL_SENDAPP, "", deadline_ms, err, errlen);

		if (r == PUMP_EOF) {
			util_fmt(err, errlen, "TLS: connection closed by peer");
			return NET_ERROR;
		}
		if (r < 0)
			return r;
		dst = br_ssl_engine_sendapp_buf(eng, &alen);
		if (alen > n)
			alen = n;
		memcpy(dst, p, alen);
		br_ssl_engine_sendapp_ack(eng, alen);
		p += alen;
		n -= alen;
	}
	return 0;
}

int
tls_flush(struct tls_conn *c, int64_t deadline_ms, char *err, size_t errlen)
{
	int r;

	if (c->broken) {
		util_fmt(err, errlen, "TLS: connection unusable after an earlier failure");
		return NET_ERROR;
	}
	br_ssl_engine_flush(&c->cc.eng, 0);
	r = pump(c, BR_SSL_SENDAPP | BR_SSL_RECVAPP, "", deadline_ms, err, errlen);
	if (r == PUMP_EOF) {
		util_fmt(err, errlen, "TLS: connection closed by peer");
		return NET_ERROR;
	}
	return r;
}
