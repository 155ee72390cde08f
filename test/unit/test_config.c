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
		{ "[DEFAULT]\n\npoll_interval = -1\n", ":3: poll_interval: \"-1\": not a non-negative" },
		{ "[DEFAULT]\npoll_interval = abc\n", ":2: poll_interval" },
		{ "[DEFAULT]\nnotice_url = ftp://x/\n", ":2: notice_url: URL \"ftp://x/\": must start with http" },
		{ "[DEFAULT]\napi_server = https://\n", ":2: api_server: URL \"https://\": no host" },
		{ "[DEFAULT]\nfrobnicate = 1\n", ":2: unknown key \"frobnicate\"" },
		{ "[DEFAULT]\ntaint = foo:Sometimes\n", ":2: taint: \"foo:Sometimes\": effect must be" },
		{ "[DEFAULT]\neviction_concurrency = 0\n", ":2: eviction_concurrency" },
		{ "[DEFAULT]\neviction_concurrency = 65\n", ":2: eviction_concurrency: \"65\": expected a whole number from 1 to 64" },
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
	RUN(print_redacts);
	return t_done();
}
