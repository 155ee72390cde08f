/*
 * probe_http.c — drives the HTTP client (http, tls, net) against test servers.
 *
 *   probe http [options] METHOD URL [BODY]
 *     --ca FILE            trust the CA certificates of FILE (repeatable)
 *     --amazon-roots       trust the compiled-in Amazon roots
 *     --cert F --key F     client certificate and key for mutual TLS
 *     --server-name N      verify N instead of the URL's host
 *     --proxy-env          use HTTP(S)_PROXY / NO_PROXY from the environment
 *     --repeat N           send the request N times on one client (default 1)
 *     --pause-ms N         sleep N ms between repeats
 *     --timeout-ms N       deadline of each request (default 10000)
 *     --max-body N         body buffer capacity in bytes (default 65536)
 *     --header "K: V"      an extra request header (repeatable)
 *     --idempotent         mark the request idempotent (retry on a stale connection)
 *     --show-header NAME   print that response header (repeatable)
 *     --body-out FILE      write the last body to FILE instead of printing it
 *
 * Prints, per request: "status N", "header NAME: VALUE" for each shown
 * header, "body_len N", "body TEXT" (unless --body-out); then, once,
 * "connects N" (TCP connections opened by the client) and "elapsed_ms N".
 * On a failure prints the error on stderr and exits 1; bad usage exits 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "probe.h"
#include "tls.h"
#include "util.h"

extern char **environ;

#define MAX_LIST 16

static int
usage(void)
{
	fprintf(stderr, "usage: probe http [--ca FILE] [--amazon-roots] [--cert F --key F] "
	    "[--server-name N] [--proxy-env] [--repeat N] [--pause-ms N] [--timeout-ms N] "
	    "[--max-body N] [--header \"K: V\"] [--idempotent] [--show-header NAME] "
	    "[--body-out FILE] METHOD URL [BODY]\n");
	return 2;
}

int
probe_http(int argc, char **argv)
{
	const char *cas[MAX_LIST], *shows[MAX_LIST], *cert = NULL, *key = NULL, *sni = NULL;
	const char *body_out = NULL;
	char hnames[MAX_LIST][128];
	struct http_header hdrs[MAX_LIST];
	size_t ncas = 0, nshows = 0, nhdrs = 0, i;
	int amazon = 0, proxy_env = 0, repeat = 1, pause_ms = 0, timeout_ms = 10000, max_body = 65536;
	int idempotent = 0, a, rc = 0, k;
	struct tls_config *tc = NULL;
	struct http_proxy proxy;
	struct http_client *hc;
	struct http_request req;
	struct http_response *resp;
	struct url u;
	char err[1024];
	int64_t t0;

	for (a = 1; a < argc && strncmp(argv[a], "--", 2) == 0; a++) {
		const char *o = argv[a];
		int has_arg = a + 1 < argc;

		if (strcmp(o, "--amazon-roots") == 0) {
			amazon = 1;
		} else if (strcmp(o, "--proxy-env") == 0) {
			proxy_env = 1;
		} else if (strcmp(o, "--idempotent") == 0) {
			idempotent = 1;
		} else if (!has_arg) {
			return usage();
		} else if (strcmp(o, "--ca") == 0 && ncas < MAX_LIST) {
			cas[ncas++] = argv[++a];
		} else if (strcmp(o, "--cert") == 0) {
			cert = argv[++a];
		} else if (strcmp(o, "--key") == 0) {
			key = argv[++a];
		} else if (strcmp(o, "--server-name") == 0) {
			sni = argv[++a];
		} else if (strcmp(o, "--body-out") == 0) {
			body_out = argv[++a];
		} else if (strcmp(o, "--show-header") == 0 && nshows < MAX_LIST) {
			shows[nshows++] = argv[++a];
		} else if (strcmp(o, "--header") == 0 && nhdrs < MAX_LIST) {
			const char *h = argv[++a], *colon = strchr(h, ':');

			if (colon == NULL || (size_t)(colon - h) >= sizeof hnames[0])
				return usage();
			memcpy(hnames[nhdrs], h, (size_t)(colon - h));
			hnames[nhdrs][colon - h] = '\0';
			for (colon++; *colon == ' '; colon++)
				;
			hdrs[nhdrs].name = hnames[nhdrs];
			hdrs[nhdrs].value = colon;
			nhdrs++;
		} else if (strcmp(o, "--repeat") == 0) {
			if (util_parse_uint(argv[++a], &repeat) < 0 || repeat < 1)
				return usage();
		} else if (strcmp(o, "--pause-ms") == 0) {
			if (util_parse_uint(argv[++a], &pause_ms) < 0)
				return usage();
		} else if (strcmp(o, "--timeout-ms") == 0) {
			if (util_parse_uint(argv[++a], &timeout_ms) < 0)
				return usage();
		} else if (strcmp(o, "--max-body") == 0) {
			if (util_parse_uint(argv[++a], &max_body) < 0)
				return usage();
		} else {
			return usage();
		}
	}
	if (argc - a < 2 || argc - a > 3 || (cert == NULL) != (key == NULL))
		return usage();
	if (url_parse(argv[a + 1], &u, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (ncas > 0 || amazon || cert != NULL || sni != NULL) {
		if ((tc = tls_config_new()) == NULL)
			return 1;
		for (i = 0; i < ncas; i++) {
			if (tls_config_add_pem_file(tc, cas[i], err, sizeof err) < 0) {
				fprintf(stderr, "%s\n", err);
				tls_config_free(tc);
				return 1;
			}
		}
		if (amazon)
			tls_config_add_amazon_roots(tc);
		if (cert != NULL && tls_config_set_client_cert(tc, cert, key, err, sizeof err) < 0) {
			fprintf(stderr, "%s\n", err);
			tls_config_free(tc);
			return 1;
		}
		if (sni != NULL && tls_config_set_server_name(tc, sni) < 0) {
			fprintf(stderr, "bad --server-name\n");
			tls_config_free(tc);
			return 2;
		}
	}
	if (proxy_env && http_proxy_from_env(&proxy, environ, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		tls_config_free(tc);
		return 1;
	}

	hc = malloc(sizeof *hc);
	resp = malloc(sizeof *resp);
	if (hc == NULL || resp == NULL)
		return 1;
	memset(resp, 0, sizeof *resp);
	resp->body_cap = (size_t)max_body;
	resp->body = malloc(resp->body_cap > 0 ? resp->body_cap : 1);
	if (resp->body == NULL)
		return 1;
	http_client_init(hc, tc, proxy_env ? &proxy : NULL);
	memset(&req, 0, sizeof req);
	req.method = argv[a];
	req.url = &u;
	req.headers = hdrs;
	req.nheaders = nhdrs;
	req.body = argc - a == 3 ? argv[a + 2] : NULL;
	req.body_len = req.body != NULL ? strlen(req.body) : 0;
	req.idempotent = idempotent;

	t0 = util_now_ms();
	for (k = 0; k < repeat; k++) {
		if (k > 0 && pause_ms > 0)
			util_sleep_ms(pause_ms);
		if (http_do(hc, &req, resp, util_now_ms() + timeout_ms, err, sizeof err) < 0) {
			fprintf(stderr, "%s\n", err);
			rc = 1;
			break;
		}
		printf("status %d\n", resp->status);
		for (i = 0; i < nshows; i++) {
			size_t vl;
			const char *v = http_header(resp, shows[i], &vl);

			if (v != NULL)
				printf("header %s: %.*s\n", shows[i], (int)vl, v);
		}
		printf("body_len %zu\n", resp->body_len);
		if (body_out != NULL) {
			FILE *f = fopen(body_out, "wb");

			if (f == NULL || fwrite(resp->body, 1, resp->body_len, f) != resp->body_len) {
				fprintf(stderr, "cannot write %s\n", body_out);
				rc = 1;
			}
			if (f != NULL)
				fclose(f);
		} else {
			printf("body %s\n", resp->body_cap > 0 ? resp->body : "");
		}
	}
	printf("connects %u\n", hc->connects);
	printf("elapsed_ms %lld\n", (long long)(util_now_ms() - t0));
	fflush(stdout);
	http_client_close(hc);
	free(resp->body);
	free(resp);
	free(hc);
	tls_config_free(tc);
	return rc;
}
