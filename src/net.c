/* net.c — see net.h. */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0   /* SO_NOSIGPIPE below does the job instead */
#endif

/*
 * Waits for events on fd until deadline_ms. Returns 1 when ready, 0 on
 * time-out, -1 on a poll failure. EINTR restarts the wait with what is
 * left of the time, so signals never stretch a deadline.
 */
static int
wait_fd(int fd, short events, int64_t deadline_ms)
{
	struct pollfd pfd;

	for (;;) {
		int64_t left = deadline_ms - util_now_ms();
		int r;

		if (left <= 0)
			return 0;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* One connect attempt to one address. Returns the socket or -1 with errno-style reason in err. */
static int
connect_one(const struct addrinfo *ai, int64_t deadline_ms, char *why, size_t whylen)
{
	int fd, one = 1, soerr = 0, r;
	socklen_t sl = sizeof soerr;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	/* Requests are small writes followed by a read: Nagle would only add latency. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#ifdef SO_NOSIGPIPE
	(void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EINTR) {
		snprintf(why, whylen, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	r = wait_fd(fd, POLLOUT, deadline_ms);
	if (r == 0) {
		snprintf(why, whylen, "timed out");
		close(fd);
		return -1;
	}
	if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	if (soerr != 0) {
		snprintf(why, whylen, "%s", strerror(soerr));
		close(fd);
		return -1;
	}
	return fd;
}

int
net_connect(const char *host, int port, int64_t deadline_ms, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[8], why[128] = "no address";
	const char *fmt = strchr(host, ':') != NULL ? "connect [%s]:%d: %s" : "connect %s:%d: %s";
	int fd = -1, r, n = 0, i = 0;

	snprintf(portstr, sizeof portstr, "%d", port);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	/* Addresses first without DNS: a numeric host must never wait on a resolver. */
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	r = getaddrinfo(host, portstr, &hints, &res);
	if (r == EAI_NONAME) {
		hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
		r = getaddrinfo(host, portstr, &hints, &res);
	}
	if (r != 0) {
		snprintf(err, errlen, "resolve %s: %s", host,
		    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next)
		n++;
	for (ai = res; ai != NULL; ai = ai->ai_next, i++) {
		int64_t now = util_now_ms(), share;

		if (now >= deadline_ms) {
			snprintf(why, sizeof why, "timed out");
			break;
		}
		/*
		 * Each remaining address gets an equal share of the time left, so
		 * one black-holed address cannot eat the whole deadline; the last
		 * one gets all that remains.
		 */
		share = (deadline_ms - now) / (n - i);
		fd = connect_one(ai, ai->ai_next != NULL ? now + share : deadline_ms, why, sizeof why);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(err, errlen, fmt, host, port, why);
	return fd;
}

ssize_t
net_read(int fd, void *buf, size_t n, int64_t deadline_ms, char *err, size_t errlen)
{
	for (;;) {
		ssize_t r = recv(fd, buf, n, 0);
		int w;

		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			snprintf(err, errlen, "read: %s", strerror(errno));
			return NET_ERROR;
		}
		w = wait_fd(fd, POLLIN, deadline_ms);
		if (w == 0) {
			snprintf(err, errlen, "timed out");
			return NET_TIMEOUT;
		}
		if (w < 0) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return NET_ERROR;
		}
	}
}

int
net_write(int fd, const void *buf, size_t n, int64_t deadline_ms, char *err, size_t errlen)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
		int w;

		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			snprintf(err, errlen, "write: %s", strerror(errno));
			return NET_ERROR;
		}
		w = wait_fd(fd, POLLOUT, deadline_ms);
		if (w == 0) {
			snprintf(err, errlen, "timed out");
			return NET_TIMEOUT;
		}
		if (w < 0) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return NET_ERROR;
		}
	}
	return 0;
}

int
net_idle_ok(int fd)
{
	struct pollfd pfd;
	int r;

	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	do
		r = poll(&pfd, 1, 0);
	while (r < 0 && errno == EINTR);
	/*
	 * Any readable byte on an idle connection is either the end of the
	 * stream or something the server should not have sent (a TLS alert,
	 * a stray response): either way the connection is not worth reusing.
	 */
	return r == 0;
}

void
net_close(int fd)
{
	if (fd >= 0)
		close(fd);
}
