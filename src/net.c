/* net.c — see net.h. */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
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
		util_fmt(why, whylen, "socket: %s", strerror(errno));
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
		util_fmt(why, whylen, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	r = wait_fd(fd, POLLOUT, deadline_ms);
	if (r == 0) {
		util_fmt(why, whylen, "timed out");
		close(fd);
		return -1;
	}
	if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) {
		util_fmt(why, whylen, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	if (soerr != 0) {
		util_fmt(why, whylen, "%s", strerror(soerr));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * getaddrinfo has no time-out of its own (the resolver's may be many
 * seconds), so a name is resolved in a detached thread while the caller
 * waits no longer than its deadline. Whichever of the two finishes last
 * frees the job.
 */
struct resolve_job {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;                   /* the caller and the thread */
	int done, rc, syserr;
	struct addrinfo *res;
	char host[URL_MAX_HOST + 1];
	char port[8];
};

#define RESOLVE_TIMEOUT (-1000)   /* not an EAI_ code */

static void
job_unref(struct resolve_job *j)
{
	int left;

	pthread_mutex_lock(&j->mu);
	left = --j->refs;
	pthread_mutex_unlock(&j->mu);
	if (left > 0)
		return;
	if (j->res != NULL)
		freeaddrinfo(j->res);
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

static void *
resolve_thread(void *arg)
{
	struct resolve_job *j = arg;
	/*
	 * No AI_ADDRCONFIG: it hides IPv4 answers on hosts whose only IPv4
	 * address is loopback; an address family that cannot be reached fails
	 * its connect at once and the next address is tried.
	 */
	const struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
		.ai_protocol = IPPROTO_TCP, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int rc;

	rc = getaddrinfo(j->host, j->port, &hints, &res);
	pthread_mutex_lock(&j->mu);
	j->rc = rc;
	j->syserr = errno;
	j->res = res;
	j->done = 1;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	job_unref(j);
	return NULL;
}

/* Resolves host:port before deadline_ms. Returns 0, an EAI_ code or RESOLVE_TIMEOUT. */
static int
resolve(const char *host, const char *port, int64_t deadline_ms, struct addrinfo **res)
{
	struct resolve_job *j;
	pthread_condattr_t ca;
	pthread_attr_t ta;
	pthread_t t;
	int rc, started;

	if (strlen(host) >= sizeof j->host || (j = calloc(1, sizeof *j)) == NULL)
		return EAI_MEMORY;
	memcpy(j->host, host, strlen(host) + 1);
	memcpy(j->port, port, strlen(port) + 1);
	j->refs = 2;
	pthread_mutex_init(&j->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_attr_init(&ta);
	pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
	started = pthread_create(&t, &ta, resolve_thread, j) == 0;
	pthread_attr_destroy(&ta);
	if (!started) {
		/* No thread to be had: resolve here, without the deadline, rather than not at all. */
		resolve_thread(j);
	}
	pthread_mutex_lock(&j->mu);
	while (!j->done) {
		int64_t dl = deadline_ms;
		struct timespec ts;

		ts.tv_sec = (time_t)(dl / 1000);
		ts.tv_nsec = (long)(dl % 1000) * 1000000L;
		if (util_now_ms() >= dl ||
		    (pthread_cond_timedwait(&j->cv, &j->mu, &ts) == ETIMEDOUT && !j->done))
			break;
	}
	if (j->done) {
		rc = j->rc;
		errno = j->syserr;
		*res = j->res;
		j->res = NULL;
	} else {
		rc = RESOLVE_TIMEOUT;
	}
	pthread_mutex_unlock(&j->mu);
	job_unref(j);
	return rc;
}

int
net_connect(const char *host, int port, int64_t deadline_ms, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[8], why[128] = "no address";
	const char *fmt = strchr(host, ':') != NULL ? "connect [%s]:%d: %s" : "connect %s:%d: %s";
	int fd = -1, r, n = 0, i = 0;

	util_fmt(portstr, sizeof portstr, "%d", port);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	/* Addresses first without DNS: a numeric host must never wait on a resolver. */
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	r = getaddrinfo(host, portstr, &hints, &res);
	if (r == EAI_NONAME)
		r = resolve(host, portstr, deadline_ms, &res);
	if (r == RESOLVE_TIMEOUT) {
		util_fmt(err, errlen, "resolve %s: timed out", host);
		return -1;
	}
	if (r != 0) {
		util_fmt(err, errlen, "resolve %s: %s", host,
		    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next)
		n++;
	for (ai = res; ai != NULL; ai = ai->ai_next, i++) {
		int64_t now = util_now_ms(), share;

		if (now >= deadline_ms) {
			util_fmt(why, sizeof why, "timed out");
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
		util_fmt(err, errlen, fmt, host, port, why);
	return fd;
}

/*
 * After recv or send (op, for messages) on fd returned r without moving
 * data: 0 to try again (interrupted, or fd is now ready for events), or
 * NET_ERROR or NET_TIMEOUT with err. errno is judged only when r < 0.
 */
static int
io_wait(int fd, ssize_t r, short events, const char *op, int64_t deadline_ms, char *err,
    size_t errlen)
{
	int w;

	if (r < 0 && errno == EINTR)
		return 0;
	if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
		util_fmt(err, errlen, "%s: %s", op, strerror(errno));
		return NET_ERROR;
	}
	w = wait_fd(fd, events, deadline_ms);
	if (w == 0) {
		util_fmt(err, errlen, "timed out");
		return NET_TIMEOUT;
	}
	if (w < 0) {
		util_fmt(err, errlen, "poll: %s", strerror(errno));
		return NET_ERROR;
	}
	return 0;
}

ssize_t
net_read(int fd, void *buf, size_t n, int64_t deadline_ms, char *err, size_t errlen)
{
	for (;;) {
		ssize_t r = recv(fd, buf, n, 0);
		int w;

		if (r >= 0)
			return r;
		if ((w = io_wait(fd, r, POLLIN, "read", deadline_ms, err, errlen)) < 0)
			return w;
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
		if ((w = io_wait(fd, r, POLLOUT, "write", deadline_ms, err, errlen)) < 0)
			return w;
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
