/* serve.c — see serve.h. */
#include "serve.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util.h"

/* ---- Parsers ------------------------------------------------------------------ */

int
serve_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sl,
    char *err, size_t errlen)
{
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)(void *)ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)(void *)ss;
	const char *colon = strrchr(s, ':');
	char host[64];
	size_t hl;
	int port, v6;

	memset(ss, 0, sizeof *ss);
	if (colon == NULL || util_parse_uint(colon + 1, &port) < 0 || port < 1 || port > 65535) {
		util_fmt(err, errlen, "expected ADDR:PORT, a port from 1 to 65535");
		return -1;
	}
	hl = (size_t)(colon - s);
	v6 = hl >= 2 && s[0] == '[' && s[hl - 1] == ']';
	hl -= v6 ? 2 : 0;
	if (hl < sizeof host) {
		memcpy(host, s + v6, hl);
		host[hl] = '\0';
	}
	if (hl >= sizeof host || inet_pton(v6 ? AF_INET6 : AF_INET, host,
	    v6 ? (void *)&a6->sin6_addr : (void *)&a4->sin_addr) != 1) {
		util_fmt(err, errlen, "ADDR must be an IPv4 address or an IPv6 one in brackets");
		return -1;
	}
	/* sin_port and sin6_port sit at the same offset. */
	a4->sin_family = v6 ? AF_INET6 : AF_INET;
	a4->sin_port = htons((uint16_t)port);
	*sl = v6 ? sizeof *a6 : sizeof *a4;
	return 0;
}

/* RFC 9110 tchar. */
static int
is_tchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", c) == NULL;
}

/* The length of the line end at b[i] (i < len): 1 (LF), 2 (CRLF), or MORE / BAD. */
static int
eol(const unsigned char *b, size_t len, size_t i)
{
	if (b[i] == '\n')
		return 1;
	if (b[i] != '\r')
		return SERVE_PARSE_BAD;
	if (i + 1 == len)
		return SERVE_PARSE_MORE;
	return b[i + 1] == '\n' ? 2 : SERVE_PARSE_BAD;
}

/* The request line from b[*i]; advances *i past its line end. Returns 0, MORE or BAD. */
static int
request_line(const unsigned char *b, size_t len, size_t *i, struct serve_req *r)
{
	static const char ver[] = "HTTP/1.";
	size_t p = *i, start = p, k;
	int n;

	for (; p < len && is_tchar(b[p]); p++)
		if (p - start >= SERVE_MAX_METHOD)
			return SERVE_PARSE_BAD;
	if (p == len)
		return SERVE_PARSE_MORE;
	if (b[p] != ' ' || p == start)
		return SERVE_PARSE_BAD;
	r->method = p - start == 3 && memcmp(b + start, "GET", 3) == 0 ? SERVE_GET :
	    p - start == 4 && memcmp(b + start, "HEAD", 4) == 0 ? SERVE_HEAD : SERVE_OTHER;
	start = ++p;
	if (p < len && b[p] != '/')
		return SERVE_PARSE_BAD;
	while (p < len && b[p] > 0x20 && b[p] < 0x7f)
		p++;
	if (p == len)
		return SERVE_PARSE_MORE;
	if (b[p] != ' ')
		return SERVE_PARSE_BAD;
	r->target = (const char *)b + start;
	r->target_len = p - start;
	for (p++, k = 0; k < sizeof ver - 1; k++, p++) {
		if (p == len)
			return SERVE_PARSE_MORE;
		if (b[p] != (unsigned char)ver[k])
			return SERVE_PARSE_BAD;
	}
	if (p == len)
		return SERVE_PARSE_MORE;
	if (b[p] < '0' || b[p] > '9')
		return SERVE_PARSE_BAD;
	r->minor = b[p++] - '0';
	if (p == len)
		return SERVE_PARSE_MORE;
	if ((n = eol(b, len, p)) < 0)
		return n;
	*i = p + (size_t)n;
	return 0;
}

int
serve_parse_request(const char *buf, size_t len, struct serve_req *r)
{
	const unsigned char *b = (const unsigned char *)buf;
	size_t i = 0, start;
	int n;

	memset(r, 0, sizeof *r);
	while (i < len && (b[i] == '\r' || b[i] == '\n')) {
		if ((n = eol(b, len, i)) < 0)
			return n;
		i += (size_t)n;
	}
	if ((n = request_line(b, len, &i, r)) < 0)
		return n;
	for (;;) {
		if (i == len)
			return SERVE_PARSE_MORE;
		if (b[i] == '\r' || b[i] == '\n') {
			if ((n = eol(b, len, i)) < 0)
				return n;
			return (int)(i + (size_t)n);
		}
		start = i;
		while (i < len && is_tchar(b[i]))
			i++;
		if (i == len)
			return SERVE_PARSE_MORE;
		if (b[i] != ':' || i == start)
			return SERVE_PARSE_BAD;  /* also obsolete folding: a line starting with a space */
		for (i++; i < len && (b[i] == '\t' || (b[i] >= 0x20 && b[i] != 0x7f)); i++)
			;
		if (i == len)
			return SERVE_PARSE_MORE;
		if ((n = eol(b, len, i)) < 0)
			return n;
		i += (size_t)n;
	}
}

/* ---- /proc ------------------------------------------------------------------------ */

/*
 * /proc counts CPU time in USER_HZ ticks, which the kernel fixes at 100 for
 * every architecture (sysconf(_SC_CLK_TCK) would only say so at the cost of
 * a table in the binary).
 */
#define PROC_TICKS_PER_S 100

/* The process_* figures, read now. Unknown ones are left out of the exposition. */
static void
proc_read(struct serve *s, struct metrics_proc *p, unsigned long long *start_ticks)
{
	char buf[1024], why[128];
	size_t len;
	struct rlimit rl;
	DIR *d;

	memset(p, 0, sizeof *p);
	p->open_fds = p->max_fds = -1;
	p->start_time_ms = s->start_time_ms;
	if (util_read_file("/proc/self/stat", buf, sizeof buf, &len, why, sizeof why) == 0)
		(void)metrics_parse_proc_stat(buf, len, PROC_TICKS_PER_S, getpagesize(), p, start_ticks);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		p->max_fds = rl.rlim_cur == RLIM_INFINITY ? -1 : (long)rl.rlim_cur;
	if ((d = opendir("/proc/self/fd")) != NULL) {
		struct dirent *e;

		p->open_fds = -1;  /* the directory's own descriptor */
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.')
				p->open_fds++;
		closedir(d);
	}
}

/* The start time, once: now minus the uptime plus the process's start after boot. */
static void
start_time_read(struct serve *s)
{
	struct metrics_proc p;
	unsigned long long ticks = 0, up_cs = 0;
	char buf[128], why[128];
	size_t len, i;

	proc_read(s, &p, &ticks);
	if (!p.have_stat || util_read_file("/proc/uptime", buf, sizeof buf, &len, why, sizeof why) < 0)
		return;
	/* "350735.47 234388.90": seconds since boot, two decimals. */
	for (i = 0; i < len && buf[i] != ' '; i++)
		if (buf[i] >= '0' && buf[i] <= '9')
			up_cs = up_cs * 10 + (unsigned long long)(buf[i] - '0');
	s->start_time_ms = util_wall_ms() - (int64_t)up_cs * 10 + (int64_t)ticks * 1000 / PROC_TICKS_PER_S;
}

/* ---- Connections ------------------------------------------------------------------ */

enum { SC_READ, SC_WRITE, SC_LINGER };

static void
conn_close(struct serve_conn *c)
{
	close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
}

/* Moves c on to lingering: no more writes, unread bytes drained so the answer is not reset. */
static void
conn_linger(struct serve_conn *c)
{
	shutdown(c->fd, SHUT_WR);
	c->state = SC_LINGER;
	c->lingered = 0;
	c->deadline_ms = util_now_ms() + SERVE_LINGER_MS;
}

/* Sends what the kernel takes now; done, it lingers. Returns -1 if c was closed. */
static int
conn_write(struct serve_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			conn_close(c);
			return -1;
		}
		c->out_off += (size_t)n;
	}
	conn_linger(c);
	return 0;
}

static const char *
reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	default:  return "Internal Server Error";
	}
}

/* Queues the answer (status, body of blen bytes; no body for HEAD) and starts sending it. */
static void
conn_answer(struct serve_conn *c, int status, const char *ctype, const char *body, size_t blen,
    int head_only)
{
	char h[256];
	size_t hl = 0;

	util_append(h, sizeof h, &hl, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n", status, reason_phrase(status),
	    ctype, blen, status == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (head_only)
		blen = 0;
	free(c->out);
	c->out_len = c->out_off = 0;
	if (hl >= sizeof h || (c->out = malloc(hl + blen)) == NULL) {
		conn_close(c);
		return;
	}
	memcpy(c->out, h, hl);
	memcpy(c->out + hl, body, blen);
	c->out_len = hl + blen;
	c->state = SC_WRITE;
	c->deadline_ms = util_now_ms() + SERVE_WRITE_MS;
	(void)conn_write(c);
}

/* A short text answer: the status's phrase, or msg. */
static void
conn_text(struct serve_conn *c, int status, const char *msg, int head_only)
{
	char b[METRICS_MAX_REASON + 64];
	int n = util_fmt(b, sizeof b, "%s\n", msg != NULL ? msg : reason_phrase(status));

	conn_answer(c, status, "text/plain; charset=utf-8", b,
	    n < 0 ? 0 : (size_t)n < sizeof b ? (size_t)n : sizeof b - 1, head_only);
}

/* Answers a parsed request. */
static void
route(struct serve *s, struct serve_conn *c, const struct serve_req *r)
{
	size_t plen = r->target_len;
	const char *q = memchr(r->target, '?', plen);
	int head = r->method == SERVE_HEAD;

	if (q != NULL)
		plen = (size_t)(q - r->target);
	if (r->method == SERVE_OTHER) {
		conn_text(c, 405, NULL, 0);
	} else if (plen == 8 && memcmp(r->target, "/healthz", 8) == 0) {
		char why[METRICS_MAX_REASON + 64];
		int ok = metrics_health(s->m, util_now_ms(), why, sizeof why);

		conn_text(c, ok ? 200 : 503, why, head);
	} else if (plen == 8 && memcmp(r->target, "/metrics", 8) == 0) {
		struct metrics_proc p;
		unsigned long long ticks;
		int n;

		proc_read(s, &p, &ticks);
		n = metrics_render(s->m, &p, s->version, s->body, sizeof s->body);
		if (n < 0) {
			log_limited(s->lg, &s->ll, 60000, LV_ERROR, "serve: /metrics is over %d bytes",
			    SERVE_MAX_BODY);
			conn_text(c, 500, "metrics over SERVE_MAX_BODY", head);
		} else {
			conn_answer(c, 200, "text/plain; version=0.0.4; charset=utf-8", s->body, (size_t)n,
			    head);
		}
	} else {
		conn_text(c, 404, NULL, head);
	}
}

/* Reads what has arrived of the request head and answers once it is whole, bad or too big. */
static void
conn_read(struct serve *s, struct serve_conn *c)
{
	struct serve_req r;
	ssize_t n;
	int h;

	n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);  /* the client left (or reset) before asking anything whole */
		return;
	}
	c->in_len += (size_t)n;
	h = serve_parse_request(c->in, c->in_len, &r);
	if (h > 0)
		route(s, c, &r);
	else if (h == SERVE_PARSE_BAD)
		conn_text(c, 400, NULL, 0);
	else if (c->in_len == sizeof c->in)
		conn_text(c, 431, NULL, 0);
}

/* Discards what the client still sends, up to a cap, until it closes. */
static void
conn_drain(struct serve_conn *c)
{
	char junk[1024];
	ssize_t n = recv(c->fd, junk, sizeof junk, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0 || (c->lingered += (size_t)n) > SERVE_LINGER_MAX)
		conn_close(c);
}

/* Whatever c's state, its deadline has passed. */
static void
conn_expire(struct serve_conn *c)
{
	if (c->state == SC_READ)
		conn_text(c, 408, NULL, 0);
	else
		conn_close(c);
}

/* ---- The thread --------------------------------------------------------------------- */

/* Accepts what is pending: into a free slot, or answered 503 at once if there is none. */
static void
accept_burst(struct serve *s)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 21\r\nConnection: close\r\n\r\ntoo many connections\n";
	int i, k, fd;

	for (k = 0; k < SERVE_ACCEPT_BURST; k++) {
		if ((fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				log_limited(s->lg, &s->ll, 60000, LV_WARNING, "serve: accept: %s", strerror(errno));
				s->accept_pause_until = util_now_ms() + 100;
			}
			return;
		}
		for (i = 0; i < SERVE_MAX_CONNS && s->conns[i].fd >= 0; i++)
			;
		if (i == SERVE_MAX_CONNS) {
			char junk[512];

			/* Read what already came, so that the close is a FIN, not a reset that eats the 503. */
			(void)recv(fd, junk, sizeof junk, MSG_DONTWAIT);
			(void)send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		s->conns[i] = (struct serve_conn){ .fd = fd, .state = SC_READ,
			.deadline_ms = util_now_ms() + SERVE_READ_MS };
	}
}

/* Fills the poll set; returns how long poll may wait. idx maps pollfd slots to connections. */
static int
poll_set(struct serve *s, struct pollfd *pf, int *idx, int *npf, int64_t now)
{
	int64_t wait = SERVE_WAIT_MS;
	int i, n = 0;

	if (now >= s->accept_pause_until)
		pf[n++] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
	else if (s->accept_pause_until - now < wait)
		wait = s->accept_pause_until - now;
	for (i = 0; i < SERVE_MAX_CONNS; i++) {
		struct serve_conn *c = &s->conns[i];

		if (c->fd < 0)
			continue;
		idx[n] = i;
		pf[n++] = (struct pollfd){ .fd = c->fd, .events = c->state == SC_WRITE ? POLLOUT : POLLIN };
		if (c->deadline_ms - now < wait)
			wait = c->deadline_ms - now;
	}
	*npf = n;
	return wait < 0 ? 0 : (int)wait;
}

static void *
serve_main(void *arg)
{
	struct serve *s = arg;
	struct pollfd pf[1 + SERVE_MAX_CONNS];
	int idx[1 + SERVE_MAX_CONNS], npf, i;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		int wait = poll_set(s, pf, idx, &npf, util_now_ms());

		if (poll(pf, (nfds_t)npf, wait) < 0 && errno != EINTR) {
			log_limited(s->lg, &s->ll, 60000, LV_ERROR, "serve: poll: %s", strerror(errno));
			util_sleep_ms(100);
			continue;
		}
		for (i = 0; i < npf; i++) {
			struct serve_conn *c;

			if (pf[i].fd == s->lfd) {
				if (pf[i].revents & POLLIN)
					accept_burst(s);
				continue;
			}
			c = &s->conns[idx[i]];
			if (pf[i].revents == 0)
				continue;
			if (c->state == SC_READ)
				conn_read(s, c);
			else if (c->state == SC_WRITE)
				(void)conn_write(c);
			else
				conn_drain(c);
		}
		for (i = 0; i < SERVE_MAX_CONNS; i++)
			if (s->conns[i].fd >= 0 && util_now_ms() >= s->conns[i].deadline_ms)
				conn_expire(&s->conns[i]);
	}
	for (i = 0; i < SERVE_MAX_CONNS; i++)
		if (s->conns[i].fd >= 0)
			conn_close(&s->conns[i]);
	return NULL;
}

/* Opens, binds and listens on sa. Returns the socket or -1 with err. */
static int
listen_on(const char *addr, const struct sockaddr_storage *sa, socklen_t sl, char *err, size_t errlen)
{
	int fd, one = 1;

	if ((fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		util_fmt(err, errlen, "listen %s: socket: %s", addr, strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)sa, sl) < 0 || listen(fd, SERVE_BACKLOG) < 0) {
		util_fmt(err, errlen, "listen %s: %s", addr, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
serve_start(struct serve *s, const char *listen_addr, const struct log *lg, struct metrics *m,
    const char *version, char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	socklen_t sl;
	pthread_attr_t at;
	char why[256];
	int i, r;

	memset(s, 0, sizeof *s);
	s->lg = lg;
	s->m = m;
	s->version = version;
	for (i = 0; i < SERVE_MAX_CONNS; i++)
		s->conns[i].fd = -1;
	if (serve_parse_listen(listen_addr, &sa, &sl, why, sizeof why) < 0) {
		util_fmt(err, errlen, "listen %s: %s", listen_addr, why);
		return -1;
	}
	if ((s->lfd = listen_on(listen_addr, &sa, sl, err, errlen)) < 0)
		return -1;
	start_time_read(s);
	/* The listener's thread: started here, joined by serve_stop (main calls both). */
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, SERVE_STACK);
	r = pthread_create(&s->thread, &at, serve_main, s);
	pthread_attr_destroy(&at);
	if (r != 0) {
		util_fmt(err, errlen, "listen %s: cannot start its thread: %s", listen_addr, strerror(r));
		close(s->lfd);
		return -1;
	}
	return 0;
}

void
serve_stop(struct serve *s)
{
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	/*
	 * Shutting a listening socket down wakes a poll() on it at once (Linux);
	 * were it not to, the poll's SERVE_WAIT_MS time-out would.
	 */
	shutdown(s->lfd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->lfd);
}
