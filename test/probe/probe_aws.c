/*
 * probe_aws.c — drives src/aws.c (and the pure src/sigv4.c) against
 * test/fakes/fake_aws.py and test/fakes/fake_imds.py.
 *
 *   probe aws [options] detach INSTANCE_ID
 *   probe aws [options] creds [--count N] [--interval-ms MS] [--force]
 *   probe aws sign --key AK --secret SK [--token T] --region R --service S --time EPOCH
 *                  --host H [--path P] [--body B]
 *   probe aws endpoint SERVICE REGION
 *
 * The settings come from the environment as despotify reads them
 * (config_load with no file: AWS_REGION, AWS_ENDPOINT_URL_AUTO_SCALING,
 * AWS_ENDPOINT_URL_STS, AWS_CA_BUNDLE, AWS_EC2_METADATA_SERVICE_ENDPOINT,
 * DESPOTIFY_*), and so do the credentials (AWS_ACCESS_KEY_ID, AWS_ROLE_ARN,
 * AWS_CONTAINER_CREDENTIALS_FULL_URI, ...). Options:
 *   --region R            the region the caller learnt from IMDS (used when AWS_REGION is unset)
 *   --dry-run             config dry_run
 *   --deadline-ms N       aws_detach / aws_credentials deadline from now (default 20000)
 *   --container-base URL  where AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is resolved
 *   --level LEVEL         log level of the module's lines on stderr (default DEBUG)
 *
 * Output on stdout:
 *   detach:   "outcome=detached group=G state=S activity=A attempts=N ms=N requests=N
 *              cred_fetches=N" then "describe: <aws_outcome_describe>" and, if it
 *              failed, "error: ..."
 *   creds:    per round "creds N: source=S access_key_id=AK session_token=yes|no
 *              expiration=T fetches=N" (fake credentials; the secret is never printed)
 *   sign:     "x-amz-date: ...", "authorization: ...", then the canonical request
 *              between "--- canonical" and "---"
 *   endpoint: the host name
 * Exit status: 0 if the command worked (detach: outcome not FAILED), 1 if not, 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws.h"
#include "config.h"
#include "probe.h"
#include "sigv4.h"
#include "util.h"

extern char **environ;

static int
usage(void)
{
	fprintf(stderr, "usage: probe aws [--region R] [--dry-run] [--deadline-ms N] [--container-base URL] "
	    "[--level L] detach ID | creds [--count N] [--interval-ms MS] [--force]\n"
	    "       probe aws sign --key AK --secret SK [--token T] --region R --service S --time EPOCH "
	    "--host H [--path P] [--body B]\n"
	    "       probe aws endpoint SERVICE REGION\n");
	return 2;
}

static int
do_sign(int argc, char **argv)
{
	const char *key = NULL, *secret = NULL, *token = NULL, *region = NULL, *service = NULL;
	const char *host = NULL, *path = "/", *body = "";
	long long t = -1;
	struct sigv4_header h[2];
	struct sigv4_request req;
	struct sigv4_credentials cred;
	static struct sigv4_signature sig;
	char err[256];
	int i;

	for (i = 1; i + 1 < argc; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];

		if (strcmp(o, "--key") == 0) key = v;
		else if (strcmp(o, "--secret") == 0) secret = v;
		else if (strcmp(o, "--token") == 0) token = v;
		else if (strcmp(o, "--region") == 0) region = v;
		else if (strcmp(o, "--service") == 0) service = v;
		else if (strcmp(o, "--time") == 0) t = strtoll(v, NULL, 10);
		else if (strcmp(o, "--host") == 0) host = v;
		else if (strcmp(o, "--path") == 0) path = v;
		else if (strcmp(o, "--body") == 0) body = v;
		else return usage();
	}
	if (i != argc || !key || !secret || !region || !service || !host || t < 0)
		return usage();
	h[0].name = "Host";
	h[0].value = host;
	h[1].name = "Content-Type";
	h[1].value = "application/x-www-form-urlencoded; charset=utf-8";
	memset(&req, 0, sizeof req);
	req.method = "POST";
	req.path = path;
	req.headers = h;
	req.nheaders = 2;
	req.body = body;
	req.body_len = strlen(body);
	cred.access_key_id = key;
	cred.secret_access_key = secret;
	cred.session_token = token;
	if (sigv4_sign(&req, &cred, region, service, t, &sig, err, sizeof err) < 0) {
		fprintf(stderr, "sign: %s\n", err);
		return 1;
	}
	printf("x-amz-date: %s\nauthorization: %s\n--- canonical\n%s\n---\n", sig.amz_date,
	    sig.authorization, sig.canonical_request);
	return 0;
}

int
probe_aws(int argc, char **argv)
{
	static struct config cfg;
	static struct aws a;
	struct log lg;
	enum log_level lv = LV_DEBUG;
	const char *region = "", *container_base = NULL, *cmd;
	int64_t deadline_ms = 20000;
	char err[1024];
	int i, rc = 1;

	if (argc >= 2 && strcmp(argv[1], "sign") == 0)
		return do_sign(argc - 1, argv + 1);
	if (argc == 4 && strcmp(argv[1], "endpoint") == 0) {
		char host[256];

		if (aws_endpoint_host(argv[2], argv[3], host, sizeof host) < 0) {
			fprintf(stderr, "no endpoint for %s in %s\n", argv[2], argv[3]);
			return 1;
		}
		printf("%s\n", host);
		return 0;
	}
	if (config_load(&cfg, "/nonexistent/despotify.ini", 0, environ, err, sizeof err) < 0) {
		fprintf(stderr, "config: %s\n", err);
		return 2;
	}
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--dry-run") == 0) {
			cfg.dry_run = 1;
			continue;
		}
		if (i + 1 >= argc)
			return usage();
		if (strcmp(argv[i], "--region") == 0)
			region = argv[++i];
		else if (strcmp(argv[i], "--deadline-ms") == 0)
			deadline_ms = strtoll(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--container-base") == 0)
			container_base = argv[++i];
		else if (strcmp(argv[i], "--level") == 0) {
			if (log_level_parse(argv[++i], &lv) < 0)
				return usage();
		} else
			return usage();
	}
	if (i >= argc)
		return usage();
	cmd = argv[i++];
	log_init(&lg, lv, 0);
	if (aws_init(&a, &cfg, &lg, environ, cfg.region[0] ? cfg.region : region, err, sizeof err) < 0) {
		fprintf(stderr, "aws_init: %s\n", err);
		return 2;
	}
	if (container_base != NULL)
		a.container_base = container_base;

	if (strcmp(cmd, "detach") == 0 && i + 1 == argc) {
		struct aws_detach_result r;
		char desc[1200];

		aws_detach(&a, argv[i], util_now_ms() + deadline_ms, &r);
		aws_outcome_describe(&r, desc, sizeof desc);
		printf("outcome=%s group=%s state=%s activity=%s attempts=%d ms=%lld requests=%lu "
		    "cred_fetches=%lu\n", aws_outcome_name(r.outcome), r.group, r.state, r.activity,
		    r.attempts, (long long)r.ms, a.requests, a.cred_fetches);
		printf("describe: %s\n", desc);
		if (r.outcome == AWS_FAILED)
			printf("error: %s\n", r.error);
		rc = r.outcome == AWS_FAILED ? 1 : 0;
	} else if (strcmp(cmd, "creds") == 0) {
		int count = 1, force = 0, n;
		int64_t interval = 0;
		char when[32];

		for (; i < argc; i++) {
			if (strcmp(argv[i], "--force") == 0)
				force = 1;
			else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
				count = atoi(argv[++i]);
			else if (strcmp(argv[i], "--interval-ms") == 0 && i + 1 < argc)
				interval = strtoll(argv[++i], NULL, 10);
			else {
				aws_close(&a);
				return usage();
			}
		}
		rc = 0;
		for (n = 1; n <= count; n++) {
			if (n > 1)
				util_sleep_ms(interval);
			if (aws_credentials(&a, force, util_now_ms() + deadline_ms, err, sizeof err) < 0) {
				printf("creds %d: error %s\n", n, err);
				rc = 1;
				continue;
			}
			printf("creds %d: source=%s access_key_id=%s session_token=%s expiration=%s fetches=%lu\n",
			    n, aws_cred_source_name(a.source), a.creds.access_key_id,
			    a.creds.session_token[0] ? "yes" : "no",
			    a.creds.expiration_s ? util_fmt_time(when, sizeof when, a.creds.expiration_s) : "never",
			    a.cred_fetches);
			fflush(stdout);
		}
	} else {
		aws_close(&a);
		return usage();
	}
	aws_close(&a);
	return rc;
}
