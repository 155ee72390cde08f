/* Unit tests: the listener's parsers (serve.h) and the metrics (metrics.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "serve.h"
#include "t.h"
#include "util.h"

static void
test_request_known(void)
{
	static const char get[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9464\r\n"
	    "Accept: text/plain;version=0.0.4;q=1,*/*;q=0.1\r\n\r\n";
	struct serve_req r;

	CHECK_INT(serve_parse_request(get, strlen(get), &r), strlen(get));
	CHECK_INT(r.method, SERVE_GET);
	CHECK_INT(r.target_len, 8);
	CHECK(memcmp(r.target, "/metrics", 8) == 0);
	CHECK_INT(r.minor, 1);
	CHECK_INT(serve_parse_request("HEAD /healthz HTTP/1.0\n\n", 24, &r), 24);
	CHECK_INT(r.method, SERVE_HEAD);
	CHECK_INT(r.minor, 0);
	/* A body after the head is not part of it. */
	CHECK_INT(serve_parse_request("POST /x?a=b HTTP/1.1\r\nContent-Length: 2\r\n\r\nab", 45, &r), 43);
	CHECK_INT(r.method, SERVE_OTHER);
	CHECK_INT(r.target_len, 6);
	/* Empty lines before the request line are skipped; empty values are fine. */
	CHECK_INT(serve_parse_request("\r\n\nGET / HTTP/1.1\r\nX:\r\n\r\n", 25, &r), 25);
	CHECK_INT(r.target_len, 1);
}

static void
test_request_bad(void)
{
	static const char *const bad[] = {
		"GET  / HTTP/1.1\r\n\r\n",           /* two spaces */
		"GET * HTTP/1.1\r\n\r\n",            /* not origin-form */
		"GET http://x/ HTTP/1.1\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"GET / HTTP/1.x\r\n\r\n",
		"GET / HTTP/1.1\r\r\n\r\n",          /* CR without LF */
		"GET / HTTP/1.1\r\n folded\r\n\r\n", /* obsolete folding */
		"GET / HTTP/1.1\r\nNo colon\r\n\r\n",
		"GET / HTTP/1.1\r\n: no name\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\001b\r\n\r\n",
		"G{T / HTTP/1.1\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01",               /* a TLS ClientHello */
		"GETTTTTTTTTTTTTTTTTTT / HTTP/1.1\r\n\r\n", /* method over SERVE_MAX_METHOD */
		"GET /a\177 HTTP/1.1\r\n\r\n",
	};
	struct serve_req r;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int got = serve_parse_request(bad[i], strlen(bad[i]), &r);

		if (got != SERVE_PARSE_BAD)
			printf("#   bad[%zu] gave %d\n", i, got);
		CHECK_INT(got, SERVE_PARSE_BAD);
	}
	/* Garbage is refused as soon as it shows, not when the head would end. */
	CHECK_INT(serve_parse_request("GET /x HTTQ", 11, &r), SERVE_PARSE_BAD);
	CHECK_INT(serve_parse_request("\x01", 1, &r), SERVE_PARSE_BAD);
}

/* Every split point: each prefix needs more, the whole parses the same. */
static void
test_request_bytewise(void)
{
	static const char *const heads[] = {
		"GET /healthz HTTP/1.1\r\nHost: a\r\nUser-Agent: kube-probe/1.29\r\n\r\n",
		"HEAD /metrics?x=1 HTTP/1.0\nA: b\n\n",
		"DELETE / HTTP/1.1\r\n\r\n",
	};
	struct serve_req r;
	size_t i, cut;

	for (i = 0; i < sizeof heads / sizeof heads[0]; i++) {
		size_t len = strlen(heads[i]);
		char *copy = malloc(len);   /* exactly len bytes: ASan sees any read past them */

		memcpy(copy, heads[i], len);
		for (cut = 0; cut < len; cut++) {
			int got = serve_parse_request(copy, cut, &r);

			if (got != SERVE_PARSE_MORE)
				printf("#   head %zu cut at %zu gave %d\n", i, cut, got);
			CHECK_INT(got, SERVE_PARSE_MORE);
		}
		CHECK_INT(serve_parse_request(copy, len, &r), len);
		free(copy);
	}
}

static void
test_listen(void)
{
	struct sockaddr_storage ss;
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)(const void *)&ss;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)(const void *)&ss;
	socklen_t sl;
	char err[256];

	CHECK_INT(serve_parse_listen("127.0.0.1:9464", &ss, &sl, err, sizeof err), 0);
	CHECK_INT(a4->sin_family, AF_INET);
	CHECK_INT(ntohs(a4->sin_port), 9464);
	CHECK_INT(a4->sin_addr.s_addr, htonl(0x7f000001));
	CHECK_INT(sl, sizeof *a4);
	CHECK_INT(serve_parse_listen("[::1]:1", &ss, &sl, err, sizeof err), 0);
	CHECK_INT(a6->sin6_family, AF_INET6);
	CHECK_INT(ntohs(a6->sin6_port), 1);
	CHECK_INT(sl, sizeof *a6);
	CHECK_INT(serve_parse_listen("0.0.0.0:65535", &ss, &sl, err, sizeof err), 0);
	CHECK_INT(serve_parse_listen("localhost:9464", &ss, &sl, err, sizeof err), -1);
	CHECK(strstr(err, "IPv4") != NULL);
	CHECK_INT(serve_parse_listen("127.0.0.1:0", &ss, &sl, err, sizeof err), -1);
	CHECK(strstr(err, "port") != NULL);
	CHECK_INT(serve_parse_listen("127.0.0.1:65536", &ss, &sl, err, sizeof err), -1);
	CHECK_INT(serve_parse_listen("127.0.0.1", &ss, &sl, err, sizeof err), -1);
	CHECK_INT(serve_parse_listen("::1:9464", &ss, &sl, err, sizeof err), -1);
	CHECK_INT(serve_parse_listen(":9464", &ss, &sl, err, sizeof err), -1);
	CHECK_INT(serve_parse_listen("[127.0.0.1]:9464", &ss, &sl, err, sizeof err), -1);
}

static void
test_proc_stat(void)
{
	/* A command name with a space and a parenthesis; rss 187 pages; utime 12, stime 7. */
	static const char stat[] = "1234 (des (p) x) S 1 1234 1234 0 -1 4194560 500 0 0 0 12 7 0 0 "
	    "20 0 3 0 98765 1810432 187 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1\n";
	struct metrics_proc p;
	unsigned long long ticks = 0;
	size_t len = strlen(stat), cut;

	memset(&p, 0, sizeof p);
	CHECK_INT(metrics_parse_proc_stat(stat, len, 100, 4096, &p, &ticks), 0);
	CHECK_INT(p.have_stat, 1);
	CHECK_INT(p.cpu_ms, 190);
	CHECK_INT(ticks, 98765);
	CHECK_INT(p.vsize_bytes, 1810432);
	CHECK_INT(p.rss_bytes, 187 * 4096);
	/* Cut anywhere before rss is complete: refused, never read past len. */
	for (cut = 0; cut < (size_t)(strstr(stat, " 187 ") - stat) + 4; cut++) {
		char *copy = malloc(cut + 1);

		memcpy(copy, stat, cut);
		CHECK_INT(metrics_parse_proc_stat(copy, cut, 100, 4096, &p, &ticks), -1);
		free(copy);
	}
	CHECK_INT(metrics_parse_proc_stat("1 (x) S 1 2 x", 13, 100, 4096, &p, &ticks), -1);
	CHECK_INT(metrics_parse_proc_stat("no parenthesis", 14, 100, 4096, &p, &ticks), -1);
}

/* The value of the sample line that starts with name (with its labels), or -1. */
static double
sample(const char *text, const char *name)
{
	char want[256];
	const char *s;

	snprintf(want, sizeof want, "\n%s ", name);
	s = strstr(text, want);
	return s == NULL ? -1 : strtod(s + strlen(want), NULL);
}

static void
test_render(void)
{
	static struct metrics m;
	struct metrics_proc p = { .have_stat = 1, .cpu_ms = 1500, .rss_bytes = 1048576,
		.vsize_bytes = 2097152, .open_fds = 7, .max_fds = 1024, .start_time_ms = 1700000000250 };
	char buf[SERVE_MAX_BODY], small[512];
	int n;

	metrics_init(&m, 5000, 2000);
	metrics_inc(&m, M_EVICT_EVICTED);
	metrics_inc(&m, M_EVICT_EVICTED);
	metrics_inc(&m, M_EVICT_BLOCKED);
	metrics_api(&m, MEP_K8S, 201);
	metrics_api(&m, MEP_K8S, 429);
	metrics_api(&m, MEP_WEBHOOK, -1);
	metrics_api(&m, MEP_IMDS, 100);
	metrics_poll(&m, 0, MN_TERMINATION, 0, NULL);
	metrics_poll(&m, 1, MN_TERMINATION, 1700000120, NULL);
	metrics_poll(&m, 1, MN_TERMINATION, 1700000120, NULL);  /* the same notice again */
	metrics_poll(&m, 1, MN_REBALANCE, 1700000000, NULL);
	metrics_inc(NULL, M_EVICT_EVICTED);                      /* no metrics: nothing happens */
	metrics_api(NULL, MEP_AWS, 200);
	n = metrics_render(&m, &p, "1.2.\"3\"", buf, sizeof buf);
	CHECK(n > 0 && (size_t)n == strlen(buf));
	CHECK(strstr(buf, "despotify_build_info{version=\"1.2.\\\"3\\\"\"} 1\n") != NULL);
	CHECK(sample(buf, "despotify_evictions_total{outcome=\"evicted\"}") == 2);
	CHECK(sample(buf, "despotify_evictions_total{outcome=\"blocked\"}") == 1);
	CHECK(sample(buf, "despotify_evictions_total{outcome=\"failed\"}") == 0);
	CHECK(sample(buf, "despotify_api_requests_total{endpoint=\"k8s\",status=\"2xx\"}") == 1);
	CHECK(sample(buf, "despotify_api_requests_total{endpoint=\"k8s\",status=\"4xx\"}") == 1);
	CHECK(sample(buf, "despotify_api_requests_total{endpoint=\"webhook\",status=\"error\"}") == 1);
	CHECK(sample(buf, "despotify_api_requests_total{endpoint=\"imds\",status=\"error\"}") == 1);
	CHECK(sample(buf, "despotify_api_requests_total{endpoint=\"aws\",status=\"2xx\"}") == 0);
	CHECK(sample(buf, "despotify_credential_refreshes_total{service=\"k8s\",result=\"error\"}") == 0);
	CHECK(sample(buf, "despotify_imds_polls_total{result=\"notice\"}") == 3);
	CHECK(sample(buf, "despotify_imds_polls_total{result=\"none\"}") == 1);
	CHECK(sample(buf, "despotify_notices_total{kind=\"termination\"}") == 1);
	CHECK(sample(buf, "despotify_notices_total{kind=\"rebalance\"}") == 1);
	CHECK(sample(buf, "despotify_healthy") == 1);
	CHECK(sample(buf, "process_resident_memory_bytes") == 1048576);
	CHECK(sample(buf, "process_cpu_seconds_total") == 1.5);
	CHECK(sample(buf, "process_start_time_seconds") == 1700000000.25);
	CHECK(sample(buf, "process_max_fds") == 1024);
	CHECK(strstr(buf, "# TYPE despotify_evictions_total counter\n") != NULL);
	CHECK(strstr(buf, "# TYPE process_open_fds gauge\n") != NULL);
	/* Unknown process figures are left out, not reported as 0. */
	p.have_stat = 0;
	p.open_fds = -1;
	n = metrics_render(&m, &p, "1", buf, sizeof buf);
	CHECK(n > 0 && strstr(buf, "process_resident_memory_bytes") == NULL &&
	    strstr(buf, "process_open_fds") == NULL && strstr(buf, "process_max_fds ") != NULL);
	/* Too small a buffer: an error, never a cut exposition. */
	CHECK_INT(metrics_render(&m, &p, "1", small, sizeof small), -1);
	metrics_destroy(&m);
}

static void
test_health(void)
{
	static struct metrics m;
	char why[512];
	int64_t now;

	metrics_init(&m, 1000, 2000);   /* window: 3 x 1 s + 2 s */
	now = util_now_ms();
	CHECK_INT(metrics_health(&m, now + 4000, why, sizeof why), 1);
	CHECK_STR(why, "ok");
	CHECK_INT(metrics_health(&m, now + 6000, why, sizeof why), 0);
	CHECK(strstr(why, "no IMDS poll for") != NULL);
	metrics_imds_failed(&m, "GET http://127.0.0.1:1/latest/meta-data/instance-id: Connection refused");
	CHECK_INT(metrics_health(&m, now + 6000, why, sizeof why), 0);
	CHECK(strncmp(why, "imds failing since 20", 21) == 0);
	CHECK(strstr(why, "Connection refused") != NULL);
	metrics_poll(&m, -1, MN_TERMINATION, 0, "GET x: HTTP 500");
	CHECK_INT(metrics_health(&m, now + 6000, why, sizeof why), 0);
	CHECK(strstr(why, "HTTP 500") != NULL);
	metrics_poll(&m, 0, MN_TERMINATION, 0, NULL);   /* a good poll: healthy again */
	now = util_now_ms();
	CHECK_INT(metrics_health(&m, now, why, sizeof why), 1);
	CHECK_INT(metrics_health(&m, now + 5001, why, sizeof why), 0);
	/* A handling under way, or done, is healthy whatever IMDS does. */
	metrics_handling(&m, 1, 0);
	CHECK_INT(metrics_health(&m, now + 60000, why, sizeof why), 1);
	CHECK_STR(why, "ok: handling a notice");
	metrics_handling(&m, 0, 1500);
	CHECK_INT(metrics_health(&m, now + 60000, why, sizeof why), 1);
	CHECK_STR(why, "ok: notice handled");
	/* A long error is cut with "...", never overflows. */
	{
		char big[1000];

		memset(big, 'e', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		metrics_imds_failed(&m, big);
		CHECK_INT(strlen(m.last_err), METRICS_MAX_REASON - 1);
		CHECK_STR(m.last_err + METRICS_MAX_REASON - 4, "...");
	}
	metrics_destroy(&m);
}

/* util_append, the exposition's writer: fills exactly, then fails for good. */
static void
test_append(void)
{
	char b[8];
	size_t at = 0;

	CHECK_INT(util_append(b, sizeof b, &at, "%s", "abc"), 0);
	CHECK_INT(util_append(b, sizeof b, &at, "%d", 1234), 0);
	CHECK_STR(b, "abc1234");
	CHECK_INT(at, 7);
	CHECK_INT(util_append(b, sizeof b, &at, "x"), -1);
	CHECK_INT(at, sizeof b);
	CHECK_INT(util_append(b, sizeof b, &at, "%s", ""), -1);   /* sticky */
	CHECK(memchr(b, '\0', sizeof b) != NULL);
}

int
main(void)
{
	RUN(test_append);
	RUN(test_request_known);
	RUN(test_request_bad);
	RUN(test_request_bytewise);
	RUN(test_listen);
	RUN(test_proc_stat);
	RUN(test_render);
	RUN(test_health);
	return t_done();
}
