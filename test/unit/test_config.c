/* Unit tests of src/config.c: defaults, file, environment, validation. */
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "t.h"

static char path[64];

static void
write_file(const char *text)
{
	FILE *f;

	strcpy(path, "/tmp/despotify-config-XXXXXX");
	close(mkstemp(path));
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static void
defaults(void)
{
	static struct config c;
	char *envp[] = { NULL };
	char err[512];

	CHECK_INT(config_load(&c, "/nonexistent/despotify.ini", 0, envp, err, sizeof err), 0);
	CHECK_INT(c.file_loaded, 0);
	CHECK_INT(c.level, LV_INFO);
	CHECK_INT(c.poll_interval_ms, 5000);
	CHECK_INT(c.grace_period_ms, 120000);
	CHECK_STR(c.notice_url, "http://169.254.169.254/latest/meta-data/spot/termination-time");
	CHECK_STR(c.inst_identity_url, "http://169.254.169.254/latest/dynamic/instance-identity/document");
	CHECK_INT(c.eviction_concurrency, 16);
	CHECK_INT(c.delete_blocked_at_ms, 10000);
	CHECK_STR(c.taint, "despotify/spot-termination:NoSchedule");
	CHECK_INT(c.detach_from_asg, 1);
	CHECK_STR(c.api_server, "");
	/* -c with a missing file is an error. */
	CHECK_INT(config_load(&c, "/nonexistent/despotify.ini", 1, envp, err, sizeof err), -1);
	CHECK(strstr(err, "/nonexistent/despotify.ini") != NULL);
}

static void
file_and_env(void)
{
	static struct config c;
	char *envp[] = {
		"AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:1338/",
		"KUBERNETES_SERVICE_HOST=10.96.0.1", "KUBERNETES_SERVICE_PORT=443",
		"AWS_REGION=eu-west-1", "NODE_NAME=ip-10-0-0-1", "POD_NAME=despotify-x",
		"POD_NAMESPACE=kube-system", "DESPOTIFY_EVICTION_CONCURRENCY=4",
		"DESPOTIFY_SERVICE_HOST=10.0.0.9", NULL };
	char err[512];

	write_file("[DEFAULT]\nlevel = debug\npoll_interval = 0.2\nregion = us-east-1\n"
	    "eviction_concurrency = 8\nslack_url = https://hooks.slack.com/services/T/B/secret\n"
	    "[extra]\nfoo = bar\n");
	CHECK_INT(config_load(&c, path, 1, envp, err, sizeof err), 0);
	CHECK_INT(c.level, LV_DEBUG);
	CHECK_INT(c.poll_interval_ms, 200);
	CHECK_STR(c.region, "us-east-1");               /* the file beats AWS_REGION */
	CHECK_INT(c.eviction_concurrency, 4);           /* DESPOTIFY_ beats the file */
	CHECK_STR(c.imds_base, "http://127.0.0.1:1338");
	CHECK_STR(c.action_url, "http://127.0.0.1:1338/latest/meta-data/spot/instance-action");
	CHECK_STR(c.api_server, "https://10.96.0.1:443");
	CHECK_STR(c.node_name, "ip-10-0-0-1");
	CHECK_STR(c.pod_name, "despotify-x");
	CHECK_STR(c.webhook_url, "https://hooks.slack.com/services/T/B/secret");
	CHECK_INT(c.nwarnings, 2);
	CHECK(strstr(c.warnings[0], "[extra]") != NULL || strstr(c.warnings[1], "[extra]") != NULL);
	unlink(path);
}

/* The shipped file lists every key, some empty: they must not hide the environment. */
static void
empty_means_unset(void)
{
	static struct config c;
	char *envp[] = { "KUBERNETES_SERVICE_HOST=fd00::1", "KUBERNETES_SERVICE_PORT=6443",
		"AWS_DEFAULT_REGION=ap-south-1", "DESPOTIFY_NODE_NAME=", "NODE_NAME=n1", NULL };
	char err[512];

	write_file("[DEFAULT]\napi_server =\nregion =\nnode_name =\ntaint =\n");
	CHECK_INT(config_load(&c, path, 1, envp, err, sizeof err), 0);
	CHECK_STR(c.api_server, "https://[fd00::1]:6443");
	CHECK_STR(c.region, "ap-south-1");
	CHECK_STR(c.node_name, "n1");
	CHECK_STR(c.taint, "");   /* an empty taint is a choice: no taint */
	unlink(path);
}

static void
bad_values(void)
{
	static const struct { const char *text, *want; } cases[] = {
		{ "[DEFAULT]\nlevel = LOUD\n", ":2: level: \"LOUD\": expected DEBUG" },
		{ "[DEFAULT]\n\npoll_interval = -1\n", ":3: poll_interval: \"-1\": not a number of seconds "
		    "(want 0.1 to 60 seconds)" },
		{ "[DEFAULT]\npoll_interval = abc\n", ":2: poll_interval" },
		{ "[DEFAULT]\nnotice_url = ftp://x/\n", ":2: notice_url: URL \"ftp://x/\": must start with http" },
		{ "[DEFAULT]\napi_server = https://\n", ":2: api_server: URL \"https://\": no host" },
		{ "[DEFAULT]\nfrobnicate = 1\n", ":2: unknown key \"frobnicate\"" },
		{ "[DEFAULT]\ntaint = foo:Sometimes\n", ":2: taint: \"foo:Sometimes\": taint \"foo:Sometimes\": "
		    "effect \"Sometimes\" is not NoSchedule" },
		{ "[DEFAULT]\neviction_concurrency = 0\n", ":2: eviction_concurrency" },
		{ "[DEFAULT]\neviction_concurrency = 65\n", ":2: eviction_concurrency: \"65\": out of range "
		    "(want a whole number from 1 to 64)" },
		{ "[DEFAULT]\nforce = maybe\n", ":2: force: \"maybe\": expected true or false" },
		{ "[DEFAULT]\nimds_version = v3\n", ":2: imds_version" },
		{ "[DEFAULT]\nrebalance_action = panic\n", ":2: rebalance_action" },
		{ "[DEFAULT]\nlevel\n", ":2: expected \"key = value\"" },
	};
	static struct config c;
	char *envp[] = { NULL };
	char err[512];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		write_file(cases[i].text);
		CHECK_INT(config_load(&c, path, 1, envp, err, sizeof err), -1);
		if (strstr(err, cases[i].want) == NULL || strncmp(err, path, strlen(path)) != 0)
			printf("#   case %zu: got \"%s\"\n", i, err);
		CHECK(strstr(err, cases[i].want) != NULL);
		CHECK(strncmp(err, path, strlen(path)) == 0);
		unlink(path);
	}
}

/*
 * Every duration and count has a range: each end is accepted, one step
 * past it is refused with the file, the line, the key and the range.
 */
static void
ranges(void)
{
	static const struct { const char *key, *ok_lo, *ok_hi, *bad_lo, *bad_hi, *range; } cases[] = {
		{ "poll_interval", "0.1", "60", "0.099", "60.001", "(want 0.1 to 60 seconds)" },
		{ "grace_period", "5", "3600", "4.999", "3601", "(want 5 to 3600 seconds)" },
		{ "pdb_retry_interval", "0.5", "60", "0.499", "61", "(want 0.5 to 60 seconds)" },
		{ "eviction_concurrency", "1", "64", "0", "65", "(want a whole number from 1 to 64)" },
		{ "delete_blocked_at", "0", "1", "0.5", "3601", "(want 0 (never) or 1 to 3600 seconds)" },
	};
	static struct config c;
	char *envp[] = { NULL };
	char text[256], err[512], want[256];
	const char *vals[4];
	size_t i, j;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		vals[0] = cases[i].ok_lo;
		vals[1] = cases[i].ok_hi;
		vals[2] = cases[i].bad_lo;
		vals[3] = cases[i].bad_hi;
		for (j = 0; j < 4; j++) {
			snprintf(text, sizeof text, "[DEFAULT]\ngrace_period = 3600\n%s = %s\n",
			    cases[i].key, vals[j]);
			if (strcmp(cases[i].key, "grace_period") == 0)
				snprintf(text, sizeof text, "[DEFAULT]\ndelete_blocked_at = 0\n%s = %s\n",
				    cases[i].key, vals[j]);
			write_file(text);
			CHECK_INT(config_load(&c, path, 1, envp, err, sizeof err), j < 2 ? 0 : -1);
			if (j >= 2) {
				snprintf(want, sizeof want, "%s:3: %s: \"%s\": out of range %s", path,
				    cases[i].key, vals[j], cases[i].range);
				CHECK_STR(err, want);
			}
			unlink(path);
		}
	}
	/* 0 is no interval. */
	write_file("[DEFAULT]\npdb_retry_interval = 0\n");
	CHECK_INT(config_load(&c, path, 1, envp, err, sizeof err), -1);
	CHECK(strstr(err, ":2: pdb_retry_interval: \"0\": out of range") != NULL);
	unlink(path);
}

/* delete_blocked_at must come before the deadline, wherever each value came from. */
static void
cross_checks(void)
{
	static struct config c;
	char *envp[] = { "DESPOTIFY_GRACE_PERIOD=30", NULL };
	char *none[] = { NULL };
	char err[512], want[512];

	write_file("[DEFAULT]\n\ndelete_blocked_at = 30\n");
	CHECK_INT(config_load(&c, path, 1, envp, err, sizeof err), -1);
	snprintf(want, sizeof want, "%s:3: delete_blocked_at: 30 s is not below grace_period (30 s, from "
	    "environment DESPOTIFY_GRACE_PERIOD): blocked pods would be deleted before the drain starts "
	    "(0: never delete)", path);
	CHECK_STR(err, want);
	unlink(path);
	write_file("[DEFAULT]\ngrace_period = 10.001\n");
	CHECK_INT(config_load(&c, path, 1, none, err, sizeof err), 0);
	unlink(path);
	write_file("[DEFAULT]\ngrace_period = 10\n");
	CHECK_INT(config_load(&c, path, 1, none, err, sizeof err), -1);
	CHECK(strstr(err, "delete_blocked_at: 10 s is not below grace_period (10 s, from ") != NULL);
	unlink(path);
	write_file("[DEFAULT]\ngrace_period = 9\ndelete_blocked_at = 0\n");
	CHECK_INT(config_load(&c, path, 1, none, err, sizeof err), 0);
	unlink(path);
}

/* The taint -n accepts is the one the cordon uses: k8s_taint_parse. */
static void
taints(void)
{
	static const char *const bad[] = {
		"-bad:NoSchedule", "a/b/c:NoSchedule", "bad-:NoSchedule", "Example.com/x:NoSchedule",
		"k=v v:NoSchedule", "k:noschedule", "k", ":NoSchedule",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:NoSchedule",
		"k=-v:NoExecute",
	};
	static const char *const good[] = {
		"despotify/spot-termination:NoSchedule", "a:NoExecute", "example.com/k=v_1.2:PreferNoSchedule",
		"k=:NoSchedule",
	};
	static struct config c;
	char *envp[2] = { NULL, NULL }, var[256], err[512];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(var, sizeof var, "DESPOTIFY_TAINT=%s", bad[i]);
		envp[0] = var;
		CHECK_INT(config_load(&c, "/nonexistent", 0, envp, err, sizeof err), -1);
		if (strstr(err, "environment DESPOTIFY_TAINT: taint: ") == NULL)
			printf("#   %s: got \"%s\"\n", bad[i], err);
	}
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		snprintf(var, sizeof var, "DESPOTIFY_TAINT=%s", good[i]);
		envp[0] = var;
		CHECK_INT(config_load(&c, "/nonexistent", 0, envp, err, sizeof err), 0);
	}
}

/* A webhook URL is never echoed by an error, whatever is wrong with it. */
static void
webhook_secret(void)
{
	static const char *const bad[] = {
		"https://hooks.slack.com/services/T0/B0/SECRETxyz#frag",
		"https://hooks.slack.com/services/T0/B0/SECRETxyz ",
		"https://hooks.slack.com/services/T0/B0/SECRET xyz",
		"ftp://hooks.slack.com/services/T0/B0/SECRETxyz",
		"https://hooks.slack.com:99999/services/T0/B0/SECRETxyz",
		"https://hooks.slack.com/services/T0/B0/SECRETxyz?token=SECRETxyz\t",
	};
	static struct config c;
	char *envp[2] = { NULL, NULL }, var[CONFIG_MAX_STR + 64], err[1024], text[CONFIG_MAX_STR + 64];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(var, sizeof var, "DESPOTIFY_SLACK_URL=%s", bad[i]);
		envp[0] = var;
		CHECK_INT(config_load(&c, "/nonexistent", 0, envp, err, sizeof err), -1);
		CHECK(strstr(err, "SECRET") == NULL);
		CHECK(strstr(err, "services") == NULL);
		CHECK(strstr(err, "webhook_url") != NULL);
		/* In the file, white space at the ends of a value is the ini syntax's, not the URL's. */
		snprintf(text, sizeof text, "[DEFAULT]\nwebhook_url = %s\n", bad[i]);
		write_file(text);
		err[0] = '\0';
		if (config_load(&c, path, 1, envp + 1, err, sizeof err) < 0)
			CHECK(strstr(err, ":2: webhook_url: ") != NULL);
		CHECK(strstr(err, "SECRET") == NULL);
		unlink(path);
	}
	/* Too long is an error that does not echo it either. */
	memset(text, 'x', sizeof text);
	memcpy(text, "DESPOTIFY_WEBHOOK_URL=https://h/SECRET", 38);
	text[sizeof text - 1] = '\0';
	envp[0] = text;
	CHECK_INT(config_load(&c, "/nonexistent", 0, envp, err, sizeof err), -1);
	CHECK(strstr(err, "SECRET") == NULL);
	CHECK(strstr(err, "longer than") != NULL);
}

static void
bad_env(void)
{
	static struct config c;
	char *envp[] = { "DESPOTIFY_LEVEL=chatty", NULL };
	char *envp2[] = { "AWS_ENDPOINT_URL=not a url", NULL };
	char err[512];

	CHECK_INT(config_load(&c, "/nonexistent", 0, envp, err, sizeof err), -1);
	CHECK(strstr(err, "environment DESPOTIFY_LEVEL: level: \"chatty\"") != NULL);
	CHECK_INT(config_load(&c, "/nonexistent", 0, envp2, err, sizeof err), -1);
	CHECK(strstr(err, "environment AWS_ENDPOINT_URL: asg_endpoint") != NULL);
}

static void
print_redacts(void)
{
	static struct config c;
	char *envp[] = { "DESPOTIFY_WEBHOOK_URL=https://hooks.slack.com/services/T/B/secret", NULL };
	char err[512], buf[8192];
	int fds[2];
	ssize_t n;

	CHECK_INT(config_load(&c, "/nonexistent", 0, envp, err, sizeof err), 0);
	CHECK(pipe(fds) == 0);
	config_print(&c, fds[1]);
	close(fds[1]);
	n = read(fds[0], buf, sizeof buf - 1);
	close(fds[0]);
	buf[n > 0 ? n : 0] = '\0';
	CHECK(strstr(buf, "T/B/secret") == NULL);
	CHECK(strstr(buf, "webhook_url = https://hooks.slack.com/<redacted>") != NULL);
	CHECK(strstr(buf, "poll_interval = 5\n") != NULL);
	CHECK(strstr(buf, "[DEFAULT]\n") != NULL);
}

int
main(void)
{
	RUN(defaults);
	RUN(file_and_env);
	RUN(empty_means_unset);
	RUN(bad_values);
	RUN(bad_env);
	RUN(ranges);
	RUN(cross_checks);
	RUN(taints);
	RUN(webhook_secret);
	RUN(print_redacts);
	return t_done();
}
