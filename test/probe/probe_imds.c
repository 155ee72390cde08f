/*
 * probe_imds.c — drives src/imds.c against test/fakes/fake_imds.py.
 *
 *   probe imds [options] facts
 *   probe imds [options] creds
 *   probe imds [options] poll [--count N] [--interval-ms MS | --backoff | --step]
 *
 * Options:
 *   --base URL            imds_base (default http://169.254.169.254)
 *   --version auto|v2|v1  imds_version (default auto)
 *   --notice-url U, --action-url U, --rebalance-url U   override a source ("" disables it);
 *                         by default each is its usual path under --base
 *   --poll-interval-ms N  config poll_interval (default 5000; only imds_delay_ms uses it)
 *   --timeout-ms N        deadline of each call (default 2000)
 *   --instance-id ID, --private-ip IP   identity for the custom notice form (poll)
 *   --facts               poll: fetch the facts first (the identity comes from IMDS)
 *   --level LEVEL         log level of the module's lines on stderr (default DEBUG)
 *
 * Output, on stdout, one line per result:
 *   facts:  instance_id=... instance_type=... local_hostname=... region=... az=...
 *           account_id=... private_ip=... doc_instance_id=...
 *   creds:  role=... access_key_id=... secret_access_key=... token=... expiration=...
 *           (fake credentials: this prints them so the tests can check the parse;
 *            the module's own log lines never hold them)
 *   poll:   "poll N: notice kind=K action=A time=T time_s=S time_given=G source=SRC url=U delay_ms=D"
 *           "poll N: none delay_ms=D" / "poll N: fault delay_ms=D"
 *           and at the end "summary polls=N notices=N none=N faults=N connects=N tokens=N
 *           cpu_us=N cpu_us_per_poll=X wall_ms=N"
 *   poll --step waits for a line on stdin before each poll (end of input ends the run), so a
 *   test can change the fake between polls; --backoff sleeps imds_delay_ms between polls.
 * Exit status: 0 if the command worked (poll: always, its results are in the lines), 1 if
 * facts or creds failed (the reason on stderr), 2 on usage errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "imds.h"
#include "probe.h"
#include "util.h"

static int
usage(void)
{
	fprintf(stderr, "usage: probe imds [--base URL] [--version auto|v2|v1] [--notice-url U] "
	    "[--action-url U] [--rebalance-url U] [--poll-interval-ms N] [--timeout-ms N] "
	    "[--instance-id ID] [--private-ip IP] [--facts] [--level L] facts|creds|"
	    "poll [--count N] [--interval-ms MS | --backoff | --step]\n");
	return 2;
}

static int64_t
cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
	    ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static int
do_poll(struct imds *m, int argc, char **argv, int64_t timeout_ms)
{
	long count = 1, interval = -1, i, notices = 0, nones = 0, faults = 0;
	int backoff = 0, step = 0;
	int64_t c0, w0, cpu;
	int j;

	for (j = 1; j < argc; j++) {
		if (strcmp(argv[j], "--count") == 0 && j + 1 < argc)
			count = strtol(argv[++j], NULL, 10);
		else if (strcmp(argv[j], "--interval-ms") == 0 && j + 1 < argc)
			interval = strtol(argv[++j], NULL, 10);
		else if (strcmp(argv[j], "--backoff") == 0)
			backoff = 1;
		else if (strcmp(argv[j], "--step") == 0)
			step = 1;
		else
			return usage();
	}
	c0 = cpu_us();
	w0 = util_now_ms();
	for (i = 1; i <= count; i++) {
		struct imds_notice n;
		char ts[32], line[64];
		int64_t delay;
		int r;

		if (step && fgets(line, sizeof line, stdin) == NULL) {
			count = i - 1;
			break;
		}
		r = imds_poll(m, &n, util_now_ms() + timeout_ms);
		delay = imds_delay_ms(m);

		if (r == 1) {
			notices++;
			printf("poll %ld: notice kind=%s action=%s time=%s time_s=%lld time_given=%d "
			    "source=%s url=%s delay_ms=%lld\n", i, imds_kind_name(n.kind),
			    imds_action_name(n.action), util_fmt_time(ts, sizeof ts, n.time_s),
			    (long long)n.time_s, n.time_given, imds_source_name(n.source),
			    n.url != NULL ? n.url : "(null)", (long long)delay);
		} else if (r == 0) {
			nones++;
			printf("poll %ld: none delay_ms=%lld\n", i, (long long)delay);
		} else {
			faults++;
			printf("poll %ld: fault delay_ms=%lld\n", i, (long long)delay);
		}
		fflush(stdout);
		if (i < count && !step)
			util_sleep_ms(backoff ? delay : interval >= 0 ? interval : 0);
	}
	cpu = cpu_us() - c0;
	printf("summary polls=%ld notices=%ld none=%ld faults=%ld connects=%u tokens=%lu "
	    "cpu_us=%lld cpu_us_per_poll=%.1f wall_ms=%lld\n", count, notices, nones, faults,
	    m->hc.connects, m->tokens_fetched, (long long)cpu,
	    count > 0 ? (double)cpu / (double)count : 0.0, (long long)(util_now_ms() - w0));
	return 0;
}

int
probe_imds(int argc, char **argv)
{
	static struct imds m;
	static struct config cfg;
	const char *base = "http://169.254.169.254", *notice = NULL, *action = NULL,
	    *rebalance = NULL, *inst_id = NULL, *priv_ip = NULL;
	int64_t timeout_ms = 2000;
	enum log_level lv = LV_DEBUG;
	struct log lg;
	char err[512];
	int i, want_facts = 0, rc = 0;

	memset(&cfg, 0, sizeof cfg);
	cfg.poll_interval_ms = 5000;
	cfg.imds_version = IMDS_AUTO;
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(o, "--facts") == 0) {
			want_facts = 1;
			continue;
		}
		if (v == NULL)
			return usage();
		i++;
		if (strcmp(o, "--base") == 0)
			base = v;
		else if (strcmp(o, "--version") == 0)
			cfg.imds_version = strcmp(v, "v1") == 0 ? IMDS_V1 :
			    strcmp(v, "v2") == 0 ? IMDS_V2 : IMDS_AUTO;
		else if (strcmp(o, "--notice-url") == 0)
			notice = v;
		else if (strcmp(o, "--action-url") == 0)
			action = v;
		else if (strcmp(o, "--rebalance-url") == 0)
			rebalance = v;
		else if (strcmp(o, "--poll-interval-ms") == 0)
			cfg.poll_interval_ms = strtoll(v, NULL, 10);
		else if (strcmp(o, "--timeout-ms") == 0)
			timeout_ms = strtoll(v, NULL, 10);
		else if (strcmp(o, "--instance-id") == 0)
			inst_id = v;
		else if (strcmp(o, "--private-ip") == 0)
			priv_ip = v;
		else if (strcmp(o, "--level") == 0) {
			if (log_level_parse(v, &lv) < 0)
				return usage();
		} else
			return usage();
	}
	if (i >= argc)
		return usage();
	log_init(&lg, lv, 0);
	snprintf(cfg.imds_base, sizeof cfg.imds_base, "%s", base);
#define URL_OR(field, given, path) \
	snprintf(cfg.field, sizeof cfg.field, "%s%s", (given) != NULL ? (given) : base, \
	    (given) != NULL ? "" : (path))
	URL_OR(notice_url, notice, "/latest/meta-data/spot/termination-time");
	URL_OR(action_url, action, "/latest/meta-data/spot/instance-action");
	URL_OR(rebalance_url, rebalance, "/latest/meta-data/events/recommendations/rebalance");
	URL_OR(inst_id_url, NULL, "/latest/meta-data/instance-id");
	URL_OR(inst_type_url, NULL, "/latest/meta-data/instance-type");
	URL_OR(inst_identity_url, NULL, "/latest/dynamic/instance-identity/document");
#undef URL_OR
	if (imds_init(&m, &cfg, &lg, err, sizeof err) < 0) {
		fprintf(stderr, "probe imds: %s\n", err);
		return 2;
	}
	imds_set_identity(&m, inst_id, priv_ip);

	if (strcmp(argv[i], "facts") == 0 || (strcmp(argv[i], "poll") == 0 && want_facts)) {
		struct imds_facts f;

		memset(&f, 0, sizeof f);
		if (imds_facts(&m, &f, IMDS_FACTS_ALL, util_now_ms() + timeout_ms, err, sizeof err) < 0) {
			fprintf(stderr, "probe imds: facts: %s\n", err);
			rc = 1;
		} else if (strcmp(argv[i], "facts") == 0) {
			printf("instance_id=%s\ninstance_type=%s\nlocal_hostname=%s\nregion=%s\naz=%s\n"
			    "account_id=%s\nprivate_ip=%s\ndoc_instance_id=%s\n", f.instance_id,
			    f.instance_type, f.local_hostname, f.region, f.availability_zone,
			    f.account_id, f.private_ip, f.doc_instance_id);
		}
		if (rc == 0 && strcmp(argv[i], "poll") == 0)
			rc = do_poll(&m, argc - i, argv + i, timeout_ms);
	} else if (strcmp(argv[i], "creds") == 0) {
		struct imds_creds c;
		char ts[32];

		if (imds_role_credentials(&m, &c, util_now_ms() + timeout_ms, err, sizeof err) < 0) {
			fprintf(stderr, "probe imds: creds: %s\n", err);
			rc = 1;
		} else {
			printf("role=%s\naccess_key_id=%s\nsecret_access_key=%s\ntoken=%s\n"
			    "expiration=%s\nexpiration_s=%lld\n", c.role, c.access_key_id,
			    c.secret_access_key, c.token, util_fmt_time(ts, sizeof ts, c.expiration_s),
			    (long long)c.expiration_s);
		}
	} else if (strcmp(argv[i], "poll") == 0) {
		rc = do_poll(&m, argc - i, argv + i, timeout_ms);
	} else {
		rc = usage();
	}
	imds_close(&m);
	return rc;
}
