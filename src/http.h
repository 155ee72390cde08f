/*
 * http.h — a small HTTP/1.1 client over raw sockets, plain or TLS.
 *
 * One struct http_client keeps one keep-alive connection (to whichever
 * host:port it last talked to) and is used by one thread at a time. Every
 * call takes an absolute deadline on the monotonic clock (util_now_ms) and
 * never blocks past it. Responses are bounded: the caller provides the body
 * buffer and its capacity; a longer body is an error, never a truncation.
 *
 * The response parser (http_parse_head, http_chunk_decode) is pure and
 * incremental, for the fuzzers and unit tests.
 */
#ifndef DESPOTIFY_HTTP_H
#define DESPOTIFY_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "url.h"

struct tls_config;   /* tls.h */
struct tls_conn;     /* tls.h */

/* Proxy settings, read once from the environment (curl's rules). */
struct http_proxy {
	struct url http;          /* HTTP_PROXY / http_proxy; host[0] == 0 if unset */
	struct url https;         /* HTTPS_PROXY / https_proxy */
	char no_proxy[1024];      /* NO_PROXY / no_proxy, as given */
};

/*
 * Fills *p from envp (NULL-terminated "NAME=value" array). Lower-case
 * names win over upper-case ones, as with curl. A malformed proxy URL is an
 * error (returns -1 with err); unset variables are fine (returns 0).
 */
int http_proxy_from_env(struct http_proxy *p, char *const *envp, char *err, size_t errlen);

/*
 * Whether a request to host should bypass the proxy per no_proxy: "*",
 * exact names, domain suffixes (".example.com" and "example.com" both match
 * "a.example.com"), IP addresses and CIDRs ("10.0.0.0/8", "fd00::/8"). Pure.
 */
int http_no_proxy_match(const char *no_proxy, const char *host);

struct http_client {
	const struct tls_config *tls;     /* trust and client identity for https; may be NULL for http only */
	const struct http_proxy *proxy;   /* NULL: never use a proxy (IMDS) */
	int fd;                           /* -1 when not connected */
	struct tls_conn *tc;              /* TLS state, allocated on first https use, reused */
	int tls_on;                       /* the live connection speaks TLS through tc */
	char key[2 * URL_MAX_HOST + 48];  /* "https://host:port via proxy:port" of the live connection */
	int64_t last_used_ms;
	unsigned requests_on_conn;        /* requests served by the live connection */
	unsigned connects;                /* connections opened so far (for tests and benchmarks) */
	char head[HTTP_MAX_HEAD];         /* the last response's head; headers point in here */
	size_t head_len;
	char rbuf[4096];                  /* bytes read past the head, not yet consumed */
	size_t rbuf_off, rbuf_len;
};

/* Sets up hc (no connection yet). tls and proxy are borrowed, not owned. */
void http_client_init(struct http_client *hc, const struct tls_config *tls,
    const struct http_proxy *proxy);

/* Closes the connection, if any, and frees the TLS state. hc may be reused after. */
void http_client_close(struct http_client *hc);

struct http_header {
	const char *name;
	const char *value;
};

struct http_request {
	const char *method;                 /* "GET", "PUT", "POST", "PATCH", "DELETE" */
	const struct url *url;              /* scheme, host, port, path and query */
	const struct http_header *headers;  /* extra headers; Host, Content-Length,   */
	size_t nheaders;                    /* User-Agent and Connection are added    */
	                                    /* (see http_do)                          */
	const char *body;
	size_t body_len;
	int idempotent;                     /* may be resent on a fresh connection if a
	                                       reused one turns out closed */
};

struct http_hdr {
	const char *name, *value;           /* point into the client's head buffer */
	size_t name_len, value_len;
};

/*
 * Receives the body of a 2xx response as it arrives, in pieces of any size,
 * already decoded (no chunk framing). Returns 0 to go on, or -1 with the
 * reason in err to abandon the response (the connection is then dropped
 * and http_do returns -1 with that reason).
 */
typedef int (*http_sink_fn)(void *arg, const char *p, size_t n, char *err, size_t errlen);

struct http_response {
	int status;                         /* 200, 404, ... */
	char *body;                         /* caller's buffer, NUL-terminated */
	size_t body_cap;                    /* its size: at most body_cap - 1 bytes of body */
	size_t body_len;
	http_sink_fn sink;                  /* if set, a 2xx body goes here instead of body */
	void *sink_arg;
	uint64_t sink_max;                  /* bytes the sink takes at most; more is an error */
	uint64_t sunk;                      /* bytes handed to the sink by this response */
	struct http_hdr hdrs[HTTP_MAX_HEADERS];  /* valid until the next request on the client */
	size_t nhdrs;
};

/*
 * Sends req and reads the whole response into resp (whose body and
 * body_cap the caller sets). With resp->sink set, the body of a 2xx
 * response is handed to the sink as it arrives (at most sink_max bytes)
 * and body stays empty; any other status still lands in body, for its
 * message. Follows no redirects. Returns 0 for any HTTP
 * response, whatever its status; -1 on a transport or protocol failure,
 * with a message in err that names the peer and the reason
 * ("connect 127.0.0.1:8443: Connection refused", "127.0.0.1:8443: TLS:
 * certificate is not trusted", "127.0.0.1:8080: response body over 65535
 * bytes", "127.0.0.1:8080: timed out"). Never blocks past deadline_ms.
 *
 * Request head: Host (as http_host_header writes it), User-Agent
 * "despotify/VERSION" and Connection: keep-alive are added unless the
 * caller's headers carry them; Content-Length is always computed (sent for
 * a body, and for POST, PUT and PATCH without one); a caller's
 * Content-Length or Transfer-Encoding is dropped. A header value holding a
 * control character is refused, never sent. Secrets in header values never
 * appear in err.
 *
 * Connections: kept alive per "scheme://host:port" (and proxy) unless the
 * response is close-delimited, says Connection: close, is HTTP/1.0 without
 * keep-alive, or the request said Connection: close. A kept-alive
 * connection that the server has closed is replaced before use; if it
 * fails under a request (end of stream or reset, not a time-out) the
 * request is sent once more on a fresh connection when req->idempotent, or
 * when the server cannot have acted on it (the write failed, or not one
 * byte of response came back).
 *
 * Proxies (hc->proxy): https goes through a CONNECT tunnel to the https
 * proxy, http as an absolute-form request to the http proxy, except for
 * hosts no_proxy matches and for the instance metadata addresses
 * 169.254.169.254 and fd00:ec2::254, which are always reached directly.
 */
int http_do(struct http_client *hc, const struct http_request *req,
    struct http_response *resp, int64_t deadline_ms, char *err, size_t errlen);

/*
 * Writes the Host header http_do sends for u into buf: "host" when the
 * port is the scheme's default, else "host:port" (brackets for IPv6). For
 * callers that sign the Host header (SigV4). Returns 0, or -1 if it did
 * not fit.
 */
int http_host_header(const struct url *u, char *buf, size_t n);

/* The value of the first header named name (any case), or NULL; *len gets its length. */
const char *http_header(const struct http_response *resp, const char *name, size_t *len);

/* ---- The pure parser ---------------------------------------------------- */

/*
 * Parses a response head (status line and header fields up to the blank
 * line) from buf[0..len). *nhdrs is the capacity of hdrs on entry and the
 * number of fields found on return. Returns the number of bytes of the
 * head, -2 if more bytes are needed, -1 if the bytes are not an HTTP/1.x
 * response head (or hold more fields than hdrs has room for). Garbage is
 * refused as soon as it shows, before the head is complete. Lines may end
 * in CRLF or LF; obsolete line folding is refused. On success fills
 * status, minor version and the header array (pointing into buf).
 */
int http_parse_head(const char *buf, size_t len, int *status, int *minor,
    struct http_hdr *hdrs, size_t *nhdrs);

/* http_content_length's answers. */
#define HTTP_CLEN_NONE      0   /* no Content-Length field */
#define HTTP_CLEN_OK        1   /* one value (or several equal ones), in *len */
#define HTTP_CLEN_BAD      -1   /* a value that is not 1 to 15 decimal digits */
#define HTTP_CLEN_CONFLICT -2   /* fields with different values */

/*
 * Reads the Content-Length of the parsed head fields hdrs[0..n): returns
 * one of the HTTP_CLEN_* answers, with the length in *len for
 * HTTP_CLEN_OK. Repeated fields must agree (RFC 9110 8.6). Pure.
 */
int http_content_length(const struct http_hdr *hdrs, size_t n, uint64_t *len);

/* State of the incremental chunked decoder; zero-initialise it. */
struct http_chunked {
	int state;
	uint64_t remaining;
	size_t line_len;
};

/*
 * Decodes chunked transfer coding in place: the decoded bytes of
 * buf[0..*len) are written to the start of buf and *len set to their count;
 * *consumed gets the number of encoded bytes used. Returns 1 when the last
 * chunk (and trailers, skipped) have been consumed — bytes after
 * *consumed are then left untouched; 0 if more input is needed (all was
 * consumed); -1 on malformed input (including a chunk-size line over
 * HTTP_MAX_CHUNK_LINE bytes with its line end, trailers over HTTP_MAX_HEAD bytes or a size
 * over 2^40). Feed it any split of the input: the result is the same.
 */
int http_chunk_decode(struct http_chunked *st, char *buf, size_t *len, size_t *consumed);

#endif
