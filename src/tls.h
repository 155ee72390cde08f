/*
 * tls.h — TLS 1.2 client connections with BearSSL.
 *
 * A struct tls_config holds what a client trusts and who it is: trust
 * anchors (CA certificates from PEM files at run time, and/or the Amazon
 * roots compiled in), an optional client certificate and key for mutual
 * TLS, and an optional name to verify instead of the URL's host. It is
 * built once at start, then read-only, and may be shared by any number of
 * connections in any number of threads.
 *
 * A struct tls_conn is one connection's engine state: the BearSSL client
 * context, the X.509 validation context and the record buffer (about 25 KB).
 * An http_client allocates one and reuses it across reconnects.
 *
 * Server certificates are always verified: chain to a trust anchor,
 * validity dates, and the host name — DNS names against dNSName SANs (or the
 * CN when there are none), IP addresses against iPAddress SANs. There is no
 * switch to turn that off.
 */
#ifndef DESPOTIFY_TLS_H
#define DESPOTIFY_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tls_config;
struct tls_conn;

/* A new configuration with an empty trust store, or NULL if out of memory. */
struct tls_config *tls_config_new(void);

/*
 * Adds every CERTIFICATE of the PEM file at path (at most FILE_MAX_PEM
 * bytes) as a trust anchor. A file with no certificate in it is an error,
 * as is any certificate BearSSL cannot decode; on an error nothing of the
 * file is added.
 * Returns 0, or -1 with "ca file /path: ..." in err.
 */
int tls_config_add_pem_file(struct tls_config *tc, const char *path, char *err, size_t errlen);

/* The same for len bytes of PEM text in memory. */
int tls_config_add_pem(struct tls_config *tc, const char *pem, size_t len, char *err, size_t errlen);

/*
 * Adds the Amazon roots compiled into the binary (Amazon Root CA 1-4 and
 * Starfield Services Root CA G2), which anchor every AWS endpoint.
 */
void tls_config_add_amazon_roots(struct tls_config *tc);

/*
 * Loads a client certificate chain (PEM, leaf first) and its private key
 * (PEM: "PRIVATE KEY" PKCS#8, "RSA PRIVATE KEY" or "EC PRIVATE KEY") for
 * mutual TLS. Returns 0, or -1 with the file and the reason in err.
 */
int tls_config_set_client_cert(struct tls_config *tc, const char *cert_path,
    const char *key_path, char *err, size_t errlen);

/*
 * The same from PEM text in memory (a kubeconfig's client-certificate-data
 * and client-key-data, decoded): cert[0..clen) and key[0..klen). The key
 * text stays the caller's to wipe.
 */
int tls_config_set_client_cert_pem(struct tls_config *tc, const char *cert, size_t clen,
    const char *key, size_t klen, char *err, size_t errlen);

/*
 * Sets the name verified in server certificates (and sent as SNI when it
 * is a DNS name) instead of the URL's host: for an API server reached by
 * IP whose certificate names a service. Returns 0, or -1 if the name is
 * empty or too long.
 */
int tls_config_set_server_name(struct tls_config *tc, const char *name);

/* The number of trust anchors loaded so far. */
size_t tls_config_anchor_count(const struct tls_config *tc);

/* Frees tc and everything it holds. NULL is fine. */
void tls_config_free(struct tls_config *tc);

/*
 * Whether the DER certificate der[0..len) lists the address ip (4 or 16
 * bytes, network order) among the iPAddress entries of its
 * subjectAltName extension. Returns 1 if it does, 0 if not (or if the
 * certificate has no such extension), -1 if the DER is malformed. Pure.
 */
int tls_cert_has_ip(const unsigned char *der, size_t len, const unsigned char *ip, size_t iplen);

/* ---- Connections -------------------------------------------------------- */

/* Allocates connection state (not yet connected), or NULL if out of memory. */
struct tls_conn *tls_conn_new(void);

/* Frees it. NULL is fine. The socket is the caller's. */
void tls_conn_free(struct tls_conn *c);

/*
 * Runs a TLS handshake over the connected socket fd to host (the URL's
 * host: a DNS name or an IP address), verifying the server certificate as
 * cfg says, before deadline_ms. A session from the previous handshake of c
 * with the same host and port is resumed when the server agrees. Returns 0,
 * or -1 with "TLS: certificate is not trusted (BearSSL error 62:
 * X509_NOT_TRUSTED)", "TLS: certificate does not match host 127.0.0.1 ...",
 * "TLS handshake: timed out" and the like in err.
 */
int tls_handshake(struct tls_conn *c, const struct tls_config *cfg, int fd,
    const char *host, int port, int64_t deadline_ms, char *err, size_t errlen);

/*
 * Reads at most n bytes of application data. Returns the count, 0 at the
 * end of the stream (close_notify, or the peer closing TCP: HTTP frames its
 * own messages), NET_ERROR or NET_TIMEOUT (net.h) with the reason in err.
 */
ssize_t tls_read(struct tls_conn *c, void *buf, size_t n, int64_t deadline_ms,
    char *err, size_t errlen);

/*
 * Queues n bytes of application data, sending full records as the buffer
 * fills. Returns 0, NET_ERROR or NET_TIMEOUT with the reason in err.
 */
int tls_write(struct tls_conn *c, const void *buf, size_t n, int64_t deadline_ms,
    char *err, size_t errlen);

/* Sends whatever tls_write queued. Returns 0, NET_ERROR or NET_TIMEOUT. */
int tls_flush(struct tls_conn *c, int64_t deadline_ms, char *err, size_t errlen);

/*
 * Forgets the connection (the caller closes the socket). The session
 * parameters are kept for resumption by the next handshake.
 */
void tls_disconnect(struct tls_conn *c);

#endif
