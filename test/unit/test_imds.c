/* test_imds.c — the pure parsers of imds.c, with known answers. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "imds.h"
#include "t.h"
#include "util.h"

#define NOW 1505720000      /* 2017-09-18T07:33:20Z */
#define T0822 1505722920    /* 2017-09-18T08:22:00Z */
#define ME_ID "i-0abc"
#define ME_IP "10.0.0.12"

/* Checks every field of the notice n but its url, each as a check of its own at the caller's line. */
#define CHECK_NOTICE(n, kind_, action_, time_s_, time_given_, source_) do { \
	CHECK_INT((n).kind, kind_); \
	CHECK_INT((n).action, action_); \
	CHECK_INT((n).time_s, time_s_); \
	CHECK_INT((n).time_given, time_given_); \
	CHECK_INT((n).source, source_); \
} while (0)

static int
parse(enum imds_source src, const char *body, struct imds_notice *n, char *err)
{
	memset(n, 0x5a, sizeof *n);     /* the parser must set every field */
	err[0] = '\0';
	return imds_parse_notice(src, body, strlen(body), NOW, ME_ID, ME_IP, n, err, 256);
}

static void
termination_time_with_time(void)
{
	struct imds_notice n;
	char err[256];

	CHECK_INT(parse(IMDS_SRC_TERMINATION, "2017-09-18T08:22:00Z", &n, err), 1);
	CHECK_NOTICE(n, IMDS_KIND_TERMINATION, IMDS_ACTION_UNKNOWN, T0822, 1, IMDS_SRC_TERMINATION);
	CHECK(n.url == NULL);
	/* White space around it, a newline at the end, fractions and offsets. */
	CHECK_INT(parse(IMDS_SRC_TERMINATION, "  2017-09-18T08:22:00.000Z\n", &n, err), 1);
	CHECK_INT(n.time_s, T0822);
	CHECK_INT(parse(IMDS_SRC_TERMINATION, "2017-09-18T10:22:00+02:00", &n, err), 1);
	CHECK_INT(n.time_s, T0822);
}

static void
termination_time_past(void)
{
	struct imds_notice n;
	char err[256];

	/* A time already gone is still a notice, with that time. */
	CHECK_INT(parse(IMDS_SRC_TERMINATION, "2015-01-05T18:02:00Z", &n, err), 1);
	CHECK_INT(n.time_s, 1420480920);
	CHECK_INT(n.time_given, 1);
	CHECK(n.time_s < NOW);
}

static void
termination_time_non_time(void)
{
	static const char *const bodies[] = {
		"", "\n", "yes", "terminate now", "2017-13-18T08:22:00Z", "{not json",
		"[1,2,3]", "{\"something\":\"else\"}", "\x01\xff garbage", "{\"action\":5}",
		"{\"action\":null,\"time\":\"2017-09-18T08:22:00Z\"}",
	};
	struct imds_notice n;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		CHECK_INT(parse(IMDS_SRC_TERMINATION, bodies[i], &n, err), 1);
		CHECK_INT(n.kind, IMDS_KIND_TERMINATION);
		CHECK_INT(n.time_s, NOW + 120);
		CHECK_INT(n.time_given, 0);
	}
	/* Bytes, not a C string: a NUL inside is just more garbage. */
	CHECK_INT(imds_parse_notice(IMDS_SRC_TERMINATION, "ab\0cd", 5, NOW, ME_ID, ME_IP, &n, err,
	    sizeof err), 1);
	CHECK_INT(n.time_s, NOW + 120);
}

static void
instance_action_forms(void)
{
	static const struct {
		const char *body;
		enum imds_action action;
	} cases[] = {
		{ "{\"action\": \"terminate\", \"time\": \"2017-09-18T08:22:00Z\"}", IMDS_ACTION_TERMINATE },
		{ "{\"action\":\"stop\",\"time\":\"2017-09-18T08:22:00Z\"}", IMDS_ACTION_STOP },
		{ "{\"time\":\"2017-09-18T08:22:00Z\",\"action\":\"hibernate\"}", IMDS_ACTION_HIBERNATE },
		{ " {\"action\":\"Terminate\",\"time\":\"2017-09-18T08:22:00Z\"}\n", IMDS_ACTION_TERMINATE },
		{ "{\"action\":\"reboot\",\"time\":\"2017-09-18T08:22:00Z\"}", IMDS_ACTION_UNKNOWN },
	};
	struct imds_notice n;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		CHECK_INT(parse(IMDS_SRC_ACTION, cases[i].body, &n, err), 1);
		CHECK_NOTICE(n, IMDS_KIND_TERMINATION, cases[i].action, T0822, 1, IMDS_SRC_ACTION);
	}
	/* No usable time: still a notice, due in 120 s. */
	CHECK_INT(parse(IMDS_SRC_ACTION, "{\"action\":\"stop\"}", &n, err), 1);
	CHECK_INT(n.action, IMDS_ACTION_STOP);
	CHECK_INT(n.time_s, NOW + 120);
	CHECK_INT(n.time_given, 0);
	CHECK_INT(parse(IMDS_SRC_ACTION, "{\"action\":\"stop\",\"time\":\"soon\"}", &n, err), 1);
	CHECK_INT(n.time_given, 0);
	/* The past counts. */
	CHECK_INT(parse(IMDS_SRC_ACTION,
	    "{\"action\":\"terminate\",\"time\":\"2001-01-01T00:00:00Z\"}", &n, err), 1);
	CHECK_INT(n.time_s, 978307200);
}

static void
instance_action_malformed(void)
{
	static const char *const bodies[] = {
		"", "garbage", "{\"action\":", "{\"time\":\"2017-09-18T08:22:00Z\"}",
		"{\"action\":1}", "[\"terminate\"]", "\"terminate\"", "{\"action\":\"stop\"} x",
	};
	struct imds_notice n;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		CHECK_INT(parse(IMDS_SRC_ACTION, bodies[i], &n, err), -1);
		CHECK(strstr(err, "instance-action") != NULL);
	}
}

static void
rebalance(void)
{
	struct imds_notice n;
	char err[256];

	CHECK_INT(parse(IMDS_SRC_REBALANCE, "{\"noticeTime\": \"2017-09-18T08:22:00Z\"}", &n, err), 1);
	CHECK_NOTICE(n, IMDS_KIND_REBALANCE, IMDS_ACTION_UNKNOWN, T0822, 1, IMDS_SRC_REBALANCE);
	CHECK_INT(parse(IMDS_SRC_REBALANCE, "{}", &n, err), 1);
	CHECK_INT(n.kind, IMDS_KIND_REBALANCE);
	CHECK_INT(n.time_s, NOW);
	CHECK_INT(n.time_given, 0);
	CHECK_INT(parse(IMDS_SRC_REBALANCE, "<html>", &n, err), -1);
	CHECK(strstr(err, "rebalance") != NULL);
	CHECK_INT(parse(IMDS_SRC_REBALANCE, "[]", &n, err), -1);
}

static void
custom_form(void)
{
	struct imds_notice n;
	char err[256];

	CHECK_INT(parse(IMDS_SRC_TERMINATION,
	    "{\"instances_to_terminate\": [\"i-0def\", \"i-0abc\"]}", &n, err), 1);
	CHECK_INT(n.kind, IMDS_KIND_TERMINATION);
	CHECK_INT(n.time_s, NOW + 120);
	CHECK_INT(n.time_given, 0);
	CHECK_INT(parse(IMDS_SRC_TERMINATION,
	    "{\"instances_to_terminate\": [\"10.0.0.99\", \"10.0.0.12\"]}", &n, err), 1);
	/* Compared after unescaping: "i-0abc" written with a \u escape still names us. */
	CHECK_INT(parse(IMDS_SRC_TERMINATION,
	    "{\"instances_to_terminate\": [\"\\u0069-0abc\"]}", &n, err), 1);
	/* Naming someone else, nobody, or only a prefix of us: not a notice. */
	CHECK_INT(parse(IMDS_SRC_TERMINATION,
	    "{\"instances_to_terminate\": [\"i-0def\", \"10.0.0.1\"]}", &n, err), 0);
	CHECK_INT(parse(IMDS_SRC_TERMINATION, "{\"instances_to_terminate\": []}", &n, err), 0);
	CHECK_INT(parse(IMDS_SRC_TERMINATION,
	    "{\"instances_to_terminate\": [\"i-0ab\", \"10.0.0.1\", 12, null, [\"i-0abc\"]]}",
	    &n, err), 0);
	CHECK_INT(parse(IMDS_SRC_TERMINATION,
	    "{\"instances_to_terminate\": \"i-0abc\"}", &n, err), -1);
	/* Unknown identity: it can name nobody, not even an empty string. */
	CHECK_INT(imds_parse_notice(IMDS_SRC_TERMINATION, "{\"instances_to_terminate\":[\"\"]}", 31,
	    NOW, "", NULL, &n, err, sizeof err), 0);
	/* An instance-action document served at the notice URL is read as one. */
	CHECK_INT(parse(IMDS_SRC_TERMINATION,
	    "{\"action\":\"hibernate\",\"time\":\"2017-09-18T08:22:00Z\"}", &n, err), 1);
	CHECK_INT(n.action, IMDS_ACTION_HIBERNATE);
	CHECK_INT(n.time_s, T0822);
}

static void
too_many_tokens(void)
{
	static char body[IMDS_MAX_BODY];
	struct imds_notice n;
	char err[256];
	size_t at = 0;
	int i;

	at += (size_t)snprintf(body + at, sizeof body - at, "{\"instances_to_terminate\":[");
	for (i = 0; i < IMDS_MAX_JSON_TOKENS + 10; i++)
		at += (size_t)snprintf(body + at, sizeof body - at, "%s0", i ? "," : "");
	at += (size_t)snprintf(body + at, sizeof body - at, ",\"i-0abc\"]}");
	/* Over the token bound: a list we cannot read is a fault, never a guess. */
	CHECK_INT(imds_parse_notice(IMDS_SRC_TERMINATION, body, at, NOW, ME_ID, ME_IP, &n, err,
	    sizeof err), -1);
	CHECK(strstr(err, "tokens") != NULL);
	/* So is a truncated one. */
	CHECK_INT(imds_parse_notice(IMDS_SRC_TERMINATION, body, 40, NOW, ME_ID, ME_IP, &n, err,
	    sizeof err), -1);
	CHECK_INT(imds_parse_notice(IMDS_SRC_ACTION, body, at, NOW, ME_ID, ME_IP, &n, err,
	    sizeof err), -1);
	CHECK(strstr(err, "tokens") != NULL);
}

static void
identity(void)
{
	static const char doc[] =
	    "{\n  \"accountId\" : \"123456789012\",\n  \"architecture\" : \"x86_64\",\n"
	    "  \"availabilityZone\" : \"eu-west-1b\",\n  \"billingProducts\" : null,\n"
	    "  \"imageId\" : \"ami-0abcdef1234567890\",\n  \"instanceId\" : \"i-0fa1e0000000000001\",\n"
	    "  \"instanceType\" : \"m5.large\",\n  \"pendingTime\" : \"2026-11-29T18:00:00Z\",\n"
	    "  \"privateIp\" : \"10.0.1.23\",\n  \"region\" : \"eu-west-1\",\n"
	    "  \"version\" : \"2017-09-30\"\n}";
	struct imds_facts f;
	char err[256];

	memset(&f, 0, sizeof f);
	CHECK_INT(imds_parse_identity(doc, strlen(doc), &f, err, sizeof err), 0);
	CHECK_STR(f.region, "eu-west-1");
	CHECK_STR(f.availability_zone, "eu-west-1b");
	CHECK_STR(f.account_id, "123456789012");
	CHECK_STR(f.private_ip, "10.0.1.23");
	CHECK_STR(f.doc_instance_id, "i-0fa1e0000000000001");
	CHECK_INT(imds_parse_identity("{\"region\":\"x\"}", 14, &f, err, sizeof err), -1);
	CHECK(strstr(err, "availabilityZone") != NULL);
	CHECK_INT(imds_parse_identity("{\"region\":\"\",\"availabilityZone\":\"a\",\"accountId\":\"1\","
	    "\"privateIp\":\"1\",\"instanceId\":\"i\"}", 85, &f, err, sizeof err), -1);
	CHECK(strstr(err, "empty") != NULL);
	CHECK_INT(imds_parse_identity("nope", 4, &f, err, sizeof err), -1);
}

static void
creds(void)
{
	static const char ok[] =
	    "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2026-11-29T18:00:00Z\",\n"
	    "  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"ASIAEXAMPLE\",\n"
	    "  \"SecretAccessKey\" : \"s3cr3t/key\",\n  \"Token\" : \"tok\\/en==\",\n"
	    "  \"Expiration\" : \"2026-11-30T00:00:00Z\"\n}";
	static const char failed[] =
	    "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":"
	    "\"TOPSECRET\",\"Token\":\"T\",\"Expiration\":\"2026-11-30T00:00:00Z\"}";
	static const char bad_exp[] =
	    "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"TOPSECRET\",\"Token\":\"T\","
	    "\"Expiration\":\"tomorrow\"}";
	static const char no_secret[] = "{\"AccessKeyId\":\"A\",\"Token\":\"TOPSECRET\","
	    "\"Expiration\":\"2026-11-30T00:00:00Z\"}";
	struct imds_creds c;
	char err[256];

	memset(&c, 0, sizeof c);
	CHECK_INT(imds_parse_creds(ok, strlen(ok), &c, err, sizeof err), 0);
	CHECK_STR(c.access_key_id, "ASIAEXAMPLE");
	CHECK_STR(c.secret_access_key, "s3cr3t/key");
	CHECK_STR(c.token, "tok/en==");
	CHECK_INT(c.expiration_s, util_timegm(2026, 11, 30, 0, 0, 0));

	CHECK_INT(imds_parse_creds(failed, strlen(failed), &c, err, sizeof err), -1);
	CHECK(strstr(err, "AssumeRoleUnauthorizedAccess") != NULL);
	CHECK(strstr(err, "TOPSECRET") == NULL);
	CHECK_INT(imds_parse_creds(bad_exp, strlen(bad_exp), &c, err, sizeof err), -1);
	CHECK(strstr(err, "Expiration") != NULL);
	CHECK(strstr(err, "TOPSECRET") == NULL);
	/* A failed parse leaves no secret behind. */
	CHECK_STR(c.secret_access_key, "");
	CHECK_STR(c.token, "");
	CHECK_INT(imds_parse_creds(no_secret, strlen(no_secret), &c, err, sizeof err), -1);
	CHECK(strstr(err, "SecretAccessKey") != NULL);
	CHECK(strstr(err, "TOPSECRET") == NULL);
}

static void
names(void)
{
	CHECK_STR(imds_source_name(IMDS_SRC_TERMINATION), "termination-time");
	CHECK_STR(imds_source_name(IMDS_SRC_ACTION), "instance-action");
	CHECK_STR(imds_source_name(IMDS_SRC_REBALANCE), "rebalance");
	CHECK_STR(imds_action_name(IMDS_ACTION_HIBERNATE), "hibernate");
	CHECK_STR(imds_kind_name(IMDS_KIND_REBALANCE), "rebalance");
}

/* A config as config.c would leave it, with URLs under base. */
static void
config_for(struct config *c, const char *base)
{
	memset(c, 0, sizeof *c);
	c->poll_interval_ms = 5000;
	c->imds_version = IMDS_AUTO;
	snprintf(c->imds_base, sizeof c->imds_base, "%s", base);
	snprintf(c->notice_url, sizeof c->notice_url, "%s/latest/meta-data/spot/termination-time", base);
	snprintf(c->action_url, sizeof c->action_url, "%s/latest/meta-data/spot/instance-action", base);
	snprintf(c->rebalance_url, sizeof c->rebalance_url,
	    "%s/latest/meta-data/events/recommendations/rebalance", base);
	snprintf(c->inst_id_url, sizeof c->inst_id_url, "%s/latest/meta-data/instance-id", base);
	snprintf(c->inst_type_url, sizeof c->inst_type_url, "%s/latest/meta-data/instance-type", base);
	snprintf(c->inst_identity_url, sizeof c->inst_identity_url,
	    "%s/latest/dynamic/instance-identity/document", base);
}

static void
init_and_backoff(void)
{
	static struct imds m;
	struct config c;
	struct log lg;
	char err[256];
	int64_t prev;
	int i;

	log_init(&lg, LV_ERROR, 0);
	config_for(&c, "http://127.0.0.1:1234/");
	CHECK_INT(imds_init(&m, &c, &lg, err, sizeof err), 0);
	CHECK_STR(m.base, "http://127.0.0.1:1234");
	CHECK_STR(m.token_url.path, "/latest/api/token");
	CHECK_INT(m.token_url.port, 1234);
	CHECK_INT(m.src[IMDS_SRC_ACTION].on_imds, 1);
	CHECK_INT(imds_delay_ms(&m), 5000);
	/* Doubling per failed poll, capped at IMDS_BACKOFF_MAX_MS (which is over 5 s). */
	m.faults = 1;
	CHECK_INT(imds_delay_ms(&m), 10000 < IMDS_BACKOFF_MAX_MS ? 10000 : IMDS_BACKOFF_MAX_MS);
	for (prev = 0, i = 1; i < 40; i++) {
		m.faults = (unsigned)i;
		CHECK(imds_delay_ms(&m) >= prev);
		prev = imds_delay_ms(&m);
	}
	CHECK_INT(prev, IMDS_BACKOFF_MAX_MS);
	m.retry_after_ms = IMDS_BACKOFF_MAX_MS + 1;
	CHECK_INT(imds_delay_ms(&m), IMDS_BACKOFF_MAX_MS + 1);
	imds_close(&m);

	/* A custom notice service on another host gets no token. */
	snprintf(c.notice_url, sizeof c.notice_url, "http://127.0.0.2:1234/notice");
	CHECK_INT(imds_init(&m, &c, &lg, err, sizeof err), 0);
	CHECK_INT(m.src[IMDS_SRC_TERMINATION].on_imds, 0);
	CHECK_INT(m.src[IMDS_SRC_REBALANCE].on_imds, 1);
	imds_close(&m);

	/* Empty URLs disable their source; all empty is an error; https is refused. */
	c.action_url[0] = c.rebalance_url[0] = '\0';
	CHECK_INT(imds_init(&m, &c, &lg, err, sizeof err), 0);
	CHECK_INT(m.src[IMDS_SRC_ACTION].enabled, 0);
	CHECK_INT(m.src[IMDS_SRC_TERMINATION].enabled, 1);
	imds_close(&m);
	c.notice_url[0] = '\0';
	CHECK_INT(imds_init(&m, &c, &lg, err, sizeof err), -1);
	CHECK(strstr(err, "nothing to poll") != NULL);
	config_for(&c, "https://127.0.0.1:1234");
	CHECK_INT(imds_init(&m, &c, &lg, err, sizeof err), -1);
	CHECK(strstr(err, "imds_base") != NULL);
	config_for(&c, "http://127.0.0.1:1234");
	snprintf(c.rebalance_url, sizeof c.rebalance_url, "ftp://x/");
	CHECK_INT(imds_init(&m, &c, &lg, err, sizeof err), -1);
	CHECK(strstr(err, "rebalance_url") != NULL);
}

/* The scheduled-events document as AWS documents it, and what it must refuse. */
static void
scheduled_events(void)
{
	static const char doc[] =
	    "[ {\n  \"NotBefore\" : \"21 Jan 2019 09:00:43 GMT\",\n  \"Code\" : \"system-reboot\",\n"
	    "  \"Description\" : \"scheduled reboot\",\n  \"EventId\" : \"instance-event-0d59937288b749b32\",\n"
	    "  \"NotAfter\" : \"21 Jan 2019 09:17:23 GMT\",\n  \"State\" : \"active\"\n},"
	    "{\"Code\":\"instance-retirement\",\"State\":\"canceled\",\"EventId\":\"instance-event-2\","
	    "\"Description\":\"[Canceled] The instance is running on degraded hardware\","
	    "\"NotBefore\":\"6 Feb 2019 00:00:00 GMT\",\"NotBeforeDeadline\":\"9 Feb 2019 00:00:00 GMT\"},"
	    "{\"Code\":\"instance-stop\",\"State\":\"completed\",\"EventId\":\"e3\","
	    "\"NotBefore\":\"1 Mar 2019 10:00:00 GMT\",\"Extra\":[1,2]},"
	    "{\"Code\":\"brand-new-code\",\"State\":\"scheduled\",\"EventId\":\"e4\","
	    "\"NotBefore\":\"1 Mar 2019 10:00:00 GMT\"} ]";
	static const char *const bad[] = {
		"{}", "[1]", "[{\"Code\":\"system-reboot\",\"State\":\"active\",\"EventId\":\"e\"}]",
		"[{\"Code\":\"system-reboot\",\"State\":\"active\",\"EventId\":\"e\","
		"\"NotBefore\":\"2019-01-21T09:00:43Z\"}]",
		"[{\"State\":\"active\",\"EventId\":\"e\",\"NotBefore\":\"21 Jan 2019 09:00:43 GMT\"}]",
		"[{\"Code\":\"system-reboot\",\"State\":\"active\",\"EventId\":\"e\","
		"\"NotBefore\":\"21 Jan 2019 09:00:43 GMT\",\"NotAfter\":7}]",
		"[", "[{\"Code\":1}]",
	};
	struct imds_event ev[IMDS_MAX_EVENTS];
	char err[256], many[4096];
	size_t i, at;

	CHECK_INT(imds_parse_events(doc, strlen(doc), ev, IMDS_MAX_EVENTS, err, sizeof err), 4);
	CHECK_INT(ev[0].code, IMDS_EV_SYSTEM_REBOOT);
	CHECK_INT(ev[0].state, IMDS_EV_ACTIVE);
	CHECK_STR(ev[0].id, "instance-event-0d59937288b749b32");
	CHECK_INT(ev[0].not_before_s, 1548061243);
	CHECK_INT(ev[0].not_after_s, 1548062243);
	CHECK_INT(ev[0].not_before_deadline_s, 0);
	CHECK_INT(ev[1].code, IMDS_EV_INSTANCE_RETIREMENT);
	CHECK_INT(ev[1].state, IMDS_EV_CANCELED);
	CHECK_INT(ev[1].not_before_s, 1549411200);
	CHECK_INT(ev[1].not_before_deadline_s, 1549670400);
	CHECK_INT(ev[1].not_after_s, 0);
	CHECK(imds_ev_ends_instance(ev[1].code));
	CHECK(!imds_ev_ends_instance(ev[0].code));
	CHECK_INT(ev[2].code, IMDS_EV_INSTANCE_STOP);
	CHECK_INT(ev[2].state, IMDS_EV_COMPLETED);
	CHECK_INT(ev[3].code, IMDS_EV_OTHER);
	CHECK_STR(ev[3].code_name, "brand-new-code");
	CHECK_INT(ev[3].state, IMDS_EV_STATE_OTHER);
	CHECK_STR(imds_ev_state_name(ev[1].state), "canceled");

	CHECK_INT(imds_parse_events("", 0, ev, IMDS_MAX_EVENTS, err, sizeof err), 0);
	CHECK_INT(imds_parse_events(" []\n", 4, ev, IMDS_MAX_EVENTS, err, sizeof err), 0);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		CHECK_INT(imds_parse_events(bad[i], strlen(bad[i]), ev, IMDS_MAX_EVENTS, err,
		    sizeof err), -1);
		CHECK(err[0] != '\0');
	}
	CHECK_INT(imds_parse_events(bad[3], strlen(bad[3]), ev, IMDS_MAX_EVENTS, err, sizeof err), -1);
	CHECK_STR(err, "scheduled event 0: \"NotBefore\" is not a date like \"21 Jan 2019 09:00:43 GMT\"");

	/* More events than understood is an error, not a silent cut. */
	at = (size_t)snprintf(many, sizeof many, "[");
	for (i = 0; i <= IMDS_MAX_EVENTS; i++)
		at += (size_t)snprintf(many + at, sizeof many - at, "%s{}", i ? "," : "");
	snprintf(many + at, sizeof many - at, "]");
	CHECK_INT(imds_parse_events(many, strlen(many), ev, IMDS_MAX_EVENTS, err, sizeof err), -1);
	CHECK(strstr(err, "more than") != NULL);
}

/* Which event is due when, with a lead time. */
static void
event_due(void)
{
	struct imds_event ev[4];
	struct imds_notice n;
	int64_t next;

	memset(ev, 0, sizeof ev);
	ev[0].state = IMDS_EV_CANCELED;         /* canceled: never due */
	ev[0].not_before_s = 1000;
	ev[1].state = IMDS_EV_ACTIVE;
	ev[1].not_before_s = 5000;
	ev[1].code = IMDS_EV_SYSTEM_REBOOT;
	snprintf(ev[1].id, sizeof ev[1].id, "later");
	ev[2].state = IMDS_EV_ACTIVE;
	ev[2].not_before_s = 3000;
	ev[2].code = IMDS_EV_INSTANCE_RETIREMENT;
	snprintf(ev[2].code_name, sizeof ev[2].code_name, "instance-retirement");
	snprintf(ev[2].id, sizeof ev[2].id, "sooner");
	ev[3].state = IMDS_EV_ACTIVE;           /* its window closed: stale */
	ev[3].not_before_s = 100;
	ev[3].not_after_s = 200;

	CHECK_INT(imds_event_due(ev, 4, 1000, 900, &next), -1);
	CHECK_INT(next, 2100);
	CHECK_INT(imds_event_due(ev, 4, 2099, 900, NULL), -1);
	CHECK_INT(imds_event_due(ev, 4, 2100, 900, &next), 2);
	CHECK_INT(imds_event_due(ev, 4, 9000, 0, NULL), 2);       /* past NotBefore: still due */
	CHECK_INT(imds_event_due(ev, 1, 9000, 0, &next), -1);
	CHECK_INT(next, 0);
	CHECK_INT(imds_event_due(ev, 0, 9000, 0, &next), -1);

	imds_event_notice(&ev[2], &n);
	CHECK_INT(n.kind, IMDS_KIND_MAINTENANCE);
	CHECK_INT(n.time_s, 3000);
	CHECK_INT(n.event_code, IMDS_EV_INSTANCE_RETIREMENT);
	CHECK_STR(n.event_id, "sooner");
	CHECK_STR(n.event_code_name, "instance-retirement");
	CHECK_STR(imds_kind_name(n.kind), "maintenance");
}

int
main(void)
{
	RUN(termination_time_with_time);
	RUN(termination_time_past);
	RUN(termination_time_non_time);
	RUN(instance_action_forms);
	RUN(instance_action_malformed);
	RUN(rebalance);
	RUN(custom_form);
	RUN(too_many_tokens);
	RUN(identity);
	RUN(creds);
	RUN(scheduled_events);
	RUN(event_due);
	RUN(names);
	RUN(init_and_backoff);
	return t_done();
}
