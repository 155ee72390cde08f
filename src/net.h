/*
 * net.h — TCP sockets with deadlines.
 *
 * Every socket is non-blocking; every call takes an absolute deadline in
 * milliseconds on the monotonic clock (util_now_ms) and waits with poll(2)
 * no longer than that. Writes never raise SIGPIPE. Error messages are short
 * reasons ("timed out", "Connection reset by peer"); net_connect's name the
 * peer, the other calls leave that to the caller, which knows the URL.
 */
#ifndef DESPOTIFY_NET_H
#define DESPOTIFY_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Return codes of net_read/net_write besides counts. */
#define NET_ERROR   (-1)   /* the connection failed; err says why */
#define NET_TIMEOUT (-2)   /* the deadline passed first; err says "timed out" */

/*
 * Opens a TCP connection to host (a name, an IPv4 address or an IPv6
 * address without brackets) and port, trying each address getaddrinfo
 * returns in turn until one connects or deadline_ms passes. Numeric hosts
 * never touch DNS. The socket is non-blocking, with TCP_NODELAY set.
 * Names are resolved in a helper thread so that a slow resolver cannot
 * hold the caller past the deadline either.
 * Returns the descriptor (the caller closes it with net_close), or -1 with
 * "connect 10.0.0.1:443: Connection refused" (or "resolve NAME: ...",
 * "connect NAME:PORT: timed out") in err.
 */
int net_connect(const char *host, int port, int64_t deadline_ms, char *err, size_t errlen);

/*
 * Reads at most n bytes (n > 0) into buf, waiting for at least one until
 * deadline_ms. Returns the number read, 0 at end of stream, NET_ERROR or
 * NET_TIMEOUT with the reason in err.
 */
ssize_t net_read(int fd, void *buf, size_t n, int64_t deadline_ms, char *err, size_t errlen);

/*
 * Writes all n bytes of buf before deadline_ms. Returns 0, NET_ERROR or
 * NET_TIMEOUT with the reason in err ("Broken pipe" when the peer has gone).
 */
int net_write(int fd, const void *buf, size_t n, int64_t deadline_ms, char *err, size_t errlen);

/*
 * Whether an idle connection still looks usable: nothing to read and no
 * hang-up pending. A server that closed its end of a keep-alive connection
 * makes the socket readable (end of stream), so this returns 0 for it.
 * Returns 1 if it looks usable, 0 if not. Never blocks.
 */
int net_idle_ok(int fd);

/* Closes fd if it is >= 0. */
void net_close(int fd);

#endif
