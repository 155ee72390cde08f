/*
 * serve.h — the /healthz and /metrics listener.
 *
 * A small HTTP/1.1 server on `listen = ADDR:PORT`, hand-written like the
 * client and as wary: GET and HEAD only, one request per connection
 * (every answer says Connection: close), at most SERVE_MAX_CONNS clients at
 * once, SERVE_READ_MS for the whole request head and SERVE_MAX_REQ_HEAD
 * bytes of it. It runs in one thread of its own, started by serve_start and
 * joined by serve_stop, which polls every socket without ever blocking on
 * one client, so slow or hostile clients (a byte a second, garbage, huge
 * headers, a thousand connections) get a status or a closed socket and
 * cost the poll loop and the drain nothing:
 *
 *   200  GET/HEAD /healthz while healthy ("ok"), /metrics
 *   400  not an HTTP/1.x request head (as soon as the garbage shows)
 *   404  any other path
 *   405  any other method (with Allow: GET, HEAD)
 *   408  the head did not arrive within SERVE_READ_MS
 *   431  the head is longer than SERVE_MAX_REQ_HEAD
 *   500  /metrics did not fit in SERVE_MAX_BODY (a bug: the label set is fixed)
 *   503  /healthz while unhealthy (the reason is the body, see metrics.h), or
 *        every connection slot is taken
 *
 * The answers come from a struct metrics (metrics.h) the caller owns; the
 * listener only reads it (and /proc/self for the process_* metrics).
 */
#ifndef DESPOTIFY_SERVE_H
#define DESPOTIFY_SERVE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bounds.h"
#include "log.h"
#include "metrics.h"

/* ---- The pure parsers (no I/O, no clock, no logging) ------------------------- */

/*
 * Parses "ADDR:PORT": an IPv4 address, or an IPv6 address in brackets
 * ("[::1]:9464"), and a port from 1 to 65535; no host names (no resolver is
 * asked). Fills *ss and *sl. Returns 0, or -1 with the reason in err.
 */
int serve_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sl,
    char *err, size_t errlen);

enum serve_method { SERVE_GET, SERVE_HEAD, SERVE_OTHER };

struct serve_req {
	enum serve_method method;
	const char *target;         /* the request target, pointing into the caller's buffer */
	size_t target_len;
	int minor;                  /* HTTP/1.minor */
};

#define SERVE_PARSE_BAD  (-1)   /* not an HTTP/1.x request head */
#define SERVE_PARSE_MORE (-2)   /* a valid beginning: more bytes are needed */

/*
 * Parses a request head (request line and header fields up to the blank
 * line) from buf[0..len), len at most INT_MAX. Returns the number of bytes
 * of the head with *r filled, SERVE_PARSE_MORE, or SERVE_PARSE_BAD as soon
 * as a byte shows it is not one: a method that is not a token (or longer
 * than SERVE_MAX_METHOD), a target that is not origin-form ("/..."), a
 * version other than HTTP/1.x, a header line without a token and a colon,
 * a control byte in a value, obsolete line folding, a CR without LF. Lines
 * may end in CRLF or LF; empty lines before the request line are skipped.
 * Any token is accepted as a method (SERVE_OTHER: the caller answers 405).
 */
int serve_parse_request(const char *buf, size_t len, struct serve_req *r);

/* ---- The listener ------------------------------------------------------------ */

struct serve_conn {
	int fd;                             /* -1: a free slot */
	int state;                          /* reading, writing, lingering (serve.c) */
	int64_t deadline_ms;                /* monotonic: the end of the current state */
	size_t in_len, lingered;
	char in[SERVE_MAX_REQ_HEAD];
	char *out;                          /* the answer (heap), out_len bytes, out_off sent */
	size_t out_len, out_off;
};

/* Private to serve.c but for the caller's storage (about 50 KiB: keep it static or on the heap). */
struct serve {
	const struct log *lg;
	struct metrics *m;
	const char *version;
	int lfd;                            /* the listening socket */
	int stop;                           /* atomic */
	pthread_t thread;
	int64_t accept_pause_until;         /* after EMFILE: stop accepting a moment */
	int64_t start_time_ms;              /* process_start_time_seconds, read once */
	struct log_limit ll;
	struct serve_conn conns[SERVE_MAX_CONNS];
	char body[SERVE_MAX_BODY];
};

/*
 * Binds listen_addr (serve_parse_listen's form), then starts the
 * listener's thread. lg, m and version are borrowed and must outlive
 * serve_stop. Returns 0, or -1 with the reason in err ("listen
 * 127.0.0.1:9464: Address already in use"); nothing is left open then.
 */
int serve_start(struct serve *s, const char *listen_addr, const struct log *lg, struct metrics *m,
    const char *version, char *err, size_t errlen);

/* Stops the thread, joins it and closes every socket. Only after a serve_start that returned 0. */
void serve_stop(struct serve *s);

#endif
