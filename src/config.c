/* config.c — see config.h. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ini.h"
#include "k8s.h"
#include "kubeconfig.h"
#include "serve.h"
#include "url.h"
#include "util.h"

enum kind {
	K_STR,      /* any text */
	K_URL,      /* http(s) URL, may be empty; "{imds_base}" is expanded */
	K_BOOL,
	K_SECONDS,  /* decimal seconds, stored as int64 ms */
	K_COUNT,    /* integer 1..DRAIN_MAX_WORKERS */
	K_LEVEL,
	K_FORMAT,
	K_IMDSVER,
	K_REBAL,
	K_TAINT,
	K_LISTEN,   /* ADDR:PORT of the listener (serve_parse_listen), may be empty */
	K_ALIAS,    /* another name for the key in .alias */
};

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	const char *def;
	const char *alias;
};

/*
 * The range of every duration (K_SECONDS, in ms) and count (K_COUNT), as
 * shared/DESIGN.md documents them; zero: 0 is allowed besides ("never").
 * A value outside is a config error, never clamped.
 */
static const struct range {
	const char *key;
	int64_t min, max;
	int zero;
} ranges[] = {
	{ "poll_interval", 100, 60000, 0 },
	{ "grace_period", 5000, 3600000, 0 },
	{ "eviction_concurrency", 1, DRAIN_MAX_WORKERS, 0 },
	{ "pdb_retry_interval", 500, 60000, 0 },
	/* Below grace_period too: cross_check. */
	{ "delete_blocked_at", 1000, 3600000, 1 },
	{ "maintenance_poll_interval", 1000, 3600000, 0 },
	{ "maintenance_lead", 0, 604800000, 0 },
};

/* Whether a key's value is secret and never echoed: a webhook URL's path is its key. */
static int
secret_key(const char *name)
{
	return strcmp(name, "webhook_url") == 0;
}

/*
 * The standard environment variables behind some keys, below the file in
 * precedence (apply_standard_env); the first set and non-empty one counts.
 * api_server falls back on KUBERNETES_SERVICE_HOST/PORT, handled apart.
 */
static const struct { const char *key, *a, *b; } env_map[] = {
	{ "imds_base", "AWS_EC2_METADATA_SERVICE_ENDPOINT", NULL },
	{ "region", "AWS_REGION", "AWS_DEFAULT_REGION" },
	{ "asg_endpoint", "AWS_ENDPOINT_URL_AUTO_SCALING", "AWS_ENDPOINT_URL" },
	{ "sts_endpoint", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL" },
	{ "aws_ca_file", "AWS_CA_BUNDLE", NULL },
	{ "node_name", "NODE_NAME", "POD_NODE_NAME" },
	{ "kubeconfig", "KUBECONFIG", NULL },
};

/*
 * Whether key name falls back on the environment: for those an empty value
 * in the file or in DESPOTIFY_<KEY> means "not set here", so that the
 * shipped despotify.ini, which lists every key, does not hide
 * KUBERNETES_SERVICE_HOST or AWS_REGION.
 */
static int
falls_back(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof env_map / sizeof env_map[0]; i++)
		if (strcmp(env_map[i].key, name) == 0)
			return 1;
	return strcmp(name, "api_server") == 0;
}

#define S(f) offsetof(struct config, f)

/* Every key of shared/DESIGN.md, in the order -n prints them. */
static const struct key keys[] = {
	{ "level", K_LEVEL, S(level), "INFO", NULL },
	{ "log_format", K_FORMAT, S(log_json), "text", NULL },
	{ "poll_interval", K_SECONDS, S(poll_interval_ms), "5", NULL },
	{ "grace_period", K_SECONDS, S(grace_period_ms), "120", NULL },
	{ "imds_base", K_URL, S(imds_base), "http://169.254.169.254", NULL },
	{ "imds_version", K_IMDSVER, S(imds_version), "auto", NULL },
	{ "notice_url", K_URL, S(notice_url), "{imds_base}/latest/meta-data/spot/termination-time", NULL },
	{ "action_url", K_URL, S(action_url), "{imds_base}/latest/meta-data/spot/instance-action", NULL },
	{ "rebalance_url", K_URL, S(rebalance_url), "{imds_base}/latest/meta-data/events/recommendations/rebalance", NULL },
	{ "rebalance_action", K_REBAL, S(rebalance_action), "none", NULL },
	{ "inst_id_url", K_URL, S(inst_id_url), "{imds_base}/latest/meta-data/instance-id", NULL },
	{ "inst_type_url", K_URL, S(inst_type_url), "{imds_base}/latest/meta-data/instance-type", NULL },
	{ "inst_identity_url", K_URL, S(inst_identity_url), "{imds_base}/latest/dynamic/instance-identity/document", NULL },
	{ "maintenance_url", K_URL, S(maintenance_url), "{imds_base}/latest/meta-data/events/maintenance/scheduled", NULL },
	{ "maintenance_poll_interval", K_SECONDS, S(maintenance_poll_interval_ms), "60", NULL },
	{ "maintenance_action", K_REBAL, S(maintenance_action), "drain", NULL },
	{ "maintenance_lead", K_SECONDS, S(maintenance_lead_ms), "900", NULL },
	{ "node_name", K_STR, S(node_name), "", NULL },
	{ "detach_from_asg", K_BOOL, S(detach_from_asg), "true", NULL },
	{ "region", K_STR, S(region), "", NULL },
	{ "asg_endpoint", K_URL, S(asg_endpoint), "", NULL },
	{ "sts_endpoint", K_URL, S(sts_endpoint), "", NULL },
	{ "aws_ca_file", K_STR, S(aws_ca_file), "", NULL },
	{ "kubeconfig", K_STR, S(kubeconfig), "", NULL },
	{ "eks_cluster_name", K_STR, S(eks_cluster_name), "", NULL },
	{ "api_server", K_URL, S(api_server), "", NULL },
	{ "token_file", K_STR, S(token_file), "/var/run/secrets/kubernetes.io/serviceaccount/token", NULL },
	{ "ca_file", K_STR, S(ca_file), "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", NULL },
	{ "client_cert_file", K_STR, S(client_cert_file), "", NULL },
	{ "client_key_file", K_STR, S(client_key_file), "", NULL },
	{ "tls_server_name", K_STR, S(tls_server_name), "", NULL },
	{ "taint", K_TAINT, S(taint), "despotify/spot-termination:NoSchedule", NULL },
	{ "exclude_from_lb", K_BOOL, S(exclude_from_lb), "true", NULL },
	{ "delete_emptydir_data", K_BOOL, S(delete_emptydir_data), "true", NULL },
	{ "force", K_BOOL, S(force), "true", NULL },
	{ "eviction_concurrency", K_COUNT, S(eviction_concurrency), "16", NULL },
	{ "pdb_retry_interval", K_SECONDS, S(pdb_retry_interval_ms), "5", NULL },
	{ "delete_blocked_at", K_SECONDS, S(delete_blocked_at_ms), "10", NULL },
	{ "events", K_BOOL, S(events), "true", NULL },
	{ "webhook_url", K_URL, S(webhook_url), "", NULL },
	{ "slack_url", K_ALIAS, 0, NULL, "webhook_url" },
	{ "slack_channel", K_STR, S(slack_channel), "", NULL },
	{ "slack_username", K_STR, S(slack_username), "despotify", NULL },
	{ "listen", K_LISTEN, S(listen), "", NULL },
};

#define NKEYS (sizeof keys / sizeof keys[0])

/* Loading state: where each value came from, for messages. */
struct loader {
	struct config *c;
	char origin[NKEYS][CONFIG_MAX_STR + 32];
	char raw[NKEYS][CONFIG_MAX_STR];  /* URL values before {imds_base} expansion */
	char buf[INI_MAX_FILE + 1];       /* the file's text */
};

static const struct key *
find_key(const char *name, size_t *idx)
{
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].name, name) == 0) {
			if (keys[i].kind == K_ALIAS)
				return find_key(keys[i].alias, idx);
			*idx = i;
			return &keys[i];
		}
	}
	return NULL;
}

static int
parse_bool(const char *v, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static const struct range *
find_range(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
		if (strcmp(ranges[i].key, key) == 0)
			return &ranges[i];
	return NULL;
}

/* Writes range r of a key of kind, for messages: "0.1 to 60 seconds". */
static void
range_text(const struct range *r, enum kind kind, char *out, size_t n)
{
	char lo[UTIL_SECONDS_LEN], hi[UTIL_SECONDS_LEN];

	if (kind == K_COUNT)
		util_fmt(out, n, "a whole number from %lld to %lld", (long long)r->min, (long long)r->max);
	else
		util_fmt(out, n, "%s%s to %s seconds", r->zero ? "0 (never) or " : "",
		    util_fmt_seconds(lo, sizeof lo, r->min), util_fmt_seconds(hi, sizeof hi, r->max));
}

/* Reads a K_SECONDS (ms) or K_COUNT value of key k into *out, checking its range; else why. */
static void
parse_number(const struct key *k, const char *v, int64_t *out, char *why, size_t n)
{
	const struct range *r = find_range(k->name);
	char text[96];
	int64_t x;
	int i;

	range_text(r, k->kind, text, sizeof text);
	if (k->kind == K_COUNT)
		x = util_parse_uint(v, &i) < 0 ? -1 : i;
	else if (util_parse_seconds(v, &x) < 0)
		x = -1;
	if (x < 0)
		util_fmt(why, n, "not a %s (want %s)", k->kind == K_COUNT ? "whole number" :
		    "number of seconds", text);
	else if ((x < r->min || x > r->max) && !(r->zero && x == 0))
		util_fmt(why, n, "out of range (want %s)", text);
	else
		*out = x;
}

/* The words of the keys that take one, in the order of their enum (log_json: 0 text, 1 json). */
static const char *const formats[] = { "text", "json", NULL };
static const char *const imds_versions[] = { "auto", "v2", "v1", NULL };
static const char *const rebalance_actions[] = { "none", "cordon", "drain", NULL };

/* The index of v in words (any case), or -1. */
static int
choice(const char *v, const char *const *words)
{
	int i;

	for (i = 0; words[i] != NULL; i++)
		if (strcasecmp(v, words[i]) == 0)
			return i;
	return -1;
}

/* Copies a text value into field, checked by the validator of its kind; why says what is wrong. */
static void
set_text(const struct key *k, char *field, const char *v, char *why, size_t whylen)
{
	struct k8s_taint taint;
	struct sockaddr_storage ss;
	socklen_t sl;

	if (util_strlcpy(field, v, CONFIG_MAX_STR) < 0) {
		util_fmt(why, whylen, "longer than %d bytes", CONFIG_MAX_STR - 1);
		return;
	}
	/* The cordon's own validator: what -n accepts, a notice can use. */
	if (k->kind == K_TAINT && v[0] != '\0')
		k8s_taint_parse(v, &taint, why, whylen);
	if (k->kind == K_LISTEN && v[0] != '\0')
		serve_parse_listen(v, &ss, &sl, why, whylen);
}

/* Parses v into key i's field of the config; why (empty on success) says what is wrong. */
static void
parse_into(struct loader *ld, size_t i, const char *v, char *why, size_t whylen)
{
	const struct key *k = &keys[i];
	char *field = (char *)ld->c + k->off;
	int64_t x;

	switch (k->kind) {
	case K_STR:
	case K_TAINT:
	case K_LISTEN:
		set_text(k, field, v, why, whylen);
		break;
	case K_URL:
		/* Validated after {imds_base} expansion, in finish(). */
		if (util_strlcpy(ld->raw[i], v, CONFIG_MAX_STR) < 0)
			util_fmt(why, whylen, "longer than %d bytes", CONFIG_MAX_STR - 1);
		break;
	case K_BOOL:
		if (parse_bool(v, (int *)(void *)field) < 0)
			util_fmt(why, whylen, "expected true or false");
		break;
	case K_SECONDS:
		parse_number(k, v, (int64_t *)(void *)field, why, whylen);
		break;
	case K_COUNT:
		x = -1;
		parse_number(k, v, &x, why, whylen);
		if (x >= 0)
			*(int *)(void *)field = (int)x;
		break;
	case K_LEVEL:
		if (log_level_parse(v, (enum log_level *)(void *)field) < 0)
			util_fmt(why, whylen, "expected DEBUG, INFO, WARNING or ERROR");
		break;
	case K_FORMAT:
		if ((x = choice(v, formats)) < 0)
			util_fmt(why, whylen, "expected text or json");
		else
			*(int *)(void *)field = (int)x;
		break;
	case K_IMDSVER:
		if ((x = choice(v, imds_versions)) < 0)
			util_fmt(why, whylen, "expected auto, v2 or v1");
		else
			*(enum imds_version *)(void *)field = (enum imds_version)x;
		break;
	case K_REBAL:
		if ((x = choice(v, rebalance_actions)) < 0)
			util_fmt(why, whylen, "expected none, cordon or drain");
		else
			*(enum rebalance_action *)(void *)field = (enum rebalance_action)x;
		break;
	case K_ALIAS:
		break;
	}
}

/* Sets key k (index i) from value v; origin names where v came from. */
static int
set_value(struct loader *ld, size_t i, const char *v, const char *origin,
    char *err, size_t errlen)
{
	const struct key *k = &keys[i];
	char why[CONFIG_MAX_STR + 160] = "";

	parse_into(ld, i, v, why, sizeof why);
	if (why[0] != '\0') {
		if (secret_key(k->name))
			util_fmt(err, errlen, "%s: %s: %s (the value is not shown: it is secret)", origin,
			    k->name, why);
		else
			util_fmt(err, errlen, "%s: %s: \"%s\": %s", origin, k->name, v, why);
		return -1;
	}
	util_fmt(ld->origin[i], sizeof ld->origin[i], "%s", origin);
	return 0;
}

static void
warn(struct config *c, const char *fmt, const char *a, const char *b)
{
	if (c->nwarnings < CONFIG_MAX_WARN)
		util_fmt(c->warnings[c->nwarnings++], sizeof c->warnings[0], fmt, a, b);
}

static int
on_ini_key(void *ctx, const char *section, const char *key, const char *value,
    int line, char *err, size_t errlen)
{
	struct loader *ld = ctx;
	char origin[CONFIG_MAX_STR + 32];
	const struct key *k;
	size_t i;

	if (strcmp(section, "DEFAULT") != 0)
		return 0;  /* reported once per section by the caller */
	util_fmt(origin, sizeof origin, "%s:%d", ld->c->path, line);
	if ((k = find_key(key, &i)) == NULL) {
		util_fmt(err, errlen, "%s: unknown key \"%s\"", origin, key);
		return -1;
	}
	if (value[0] == '\0' && falls_back(k->name))
		return 0;
	return set_value(ld, i, value, origin, err, errlen);
}

/* The first of the named variables that is set and not empty, or NULL. */
static const char *
env_first(char *const *envp, const char *a, const char *b)
{
	const char *v = util_env(envp, a);

	return v != NULL || b == NULL ? v : util_env(envp, b);
}

/* The standard environment, below the file in precedence. */
static int
apply_standard_env(struct loader *ld, char *const *envp, char *err, size_t errlen)
{
	const char *host, *port, *v;
	size_t m, i;

	for (m = 0; m < sizeof env_map / sizeof env_map[0]; m++) {
		char origin[96];

		if ((v = env_first(envp, env_map[m].a, env_map[m].b)) == NULL)
			continue;
		find_key(env_map[m].key, &i);
		util_fmt(origin, sizeof origin, "environment %s",
		    util_env(envp, env_map[m].a) ? env_map[m].a : env_map[m].b);
		if (set_value(ld, i, v, origin, err, errlen) < 0)
			return -1;
	}
	host = util_env(envp, "KUBERNETES_SERVICE_HOST");
	port = util_env(envp, "KUBERNETES_SERVICE_PORT");
	if (host != NULL) {
		char url[CONFIG_MAX_STR];

		util_fmt(url, sizeof url, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s",
		    host, port ? port : "443");
		find_key("api_server", &i);
		if (set_value(ld, i, url, "environment KUBERNETES_SERVICE_HOST", err, errlen) < 0)
			return -1;
	}
	/* Despotify's own pod, from the downward API: never evicted. */
	if ((v = util_env(envp, "POD_NAME")) != NULL)
		util_strlcpy(ld->c->pod_name, v, sizeof ld->c->pod_name);
	if ((v = util_env(envp, "POD_NAMESPACE")) != NULL)
		util_strlcpy(ld->c->pod_namespace, v, sizeof ld->c->pod_namespace);
	return 0;
}

/* DESPOTIFY_<KEY>, above the file in precedence. */
static int
apply_despotify_env(struct loader *ld, char *const *envp, char *err, size_t errlen)
{
	static const char prefix[] = "DESPOTIFY_";
	char name[64], origin[96];
	size_t i, j;

	for (; envp != NULL && *envp != NULL; envp++) {
		const char *e = *envp, *eq = strchr(e, '=');
		size_t nl;

		if (strncmp(e, prefix, sizeof prefix - 1) != 0 || eq == NULL)
			continue;
		nl = (size_t)(eq - e) - (sizeof prefix - 1);
		if (nl == 0 || nl >= sizeof name)
			continue;
		for (j = 0; j < nl; j++)
			name[j] = (char)(e[sizeof prefix - 1 + j] >= 'A' && e[sizeof prefix - 1 + j] <= 'Z' ?
			    e[sizeof prefix - 1 + j] - 'A' + 'a' : e[sizeof prefix - 1 + j]);
		name[nl] = '\0';
		util_fmt(origin, sizeof origin, "environment %.*s", (int)(eq - e), e);
		if (find_key(name, &i) == NULL) {
			/* Kubernetes service links also make DESPOTIFY_* variables: warn, don't fail. */
			warn(ld->c, "%s: not a despotify setting, ignored%s", origin, "");
			continue;
		}
		if (eq[1] == '\0' && falls_back(keys[i].name))
			continue;
		if (set_value(ld, i, eq + 1, origin, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* Expands {imds_base} in URL values and validates them. */
static int
finish(struct loader *ld, char *err, size_t errlen)
{
	const char *base;
	size_t i, bi;

	find_key("imds_base", &bi);
	base = ld->raw[bi];
	while (strlen(base) > 0 && base[strlen(base) - 1] == '/')
		ld->raw[bi][strlen(base) - 1] = '\0';
	for (i = 0; i < NKEYS; i++) {
		char *field = (char *)ld->c + keys[i].off, *ph;
		const char *raw = ld->raw[i];
		struct url u;
		char why[CONFIG_MAX_STR + 128];

		if (keys[i].kind != K_URL)
			continue;
		if ((ph = strstr(raw, "{imds_base}")) != NULL && i != bi) {
			if (util_snprintf(field, CONFIG_MAX_STR, "%.*s%s%s", (int)(ph - raw), raw, base,
			    ph + strlen("{imds_base}")) < 0) {
				util_fmt(err, errlen, "%s: %s: longer than %d bytes once {imds_base} is expanded",
				    ld->origin[i], keys[i].name, CONFIG_MAX_STR - 1);
				return -1;
			}
		} else {
			util_strlcpy(field, raw, CONFIG_MAX_STR);
		}
		if (field[0] != '\0' && url_parse(field, &u, why, sizeof why) < 0) {
			/* url_parse quotes the URL: a secret one gets a reason of its own. */
			if (secret_key(keys[i].name))
				util_fmt(err, errlen, "%s: %s: not a usable http:// or https:// URL (white space, "
				    "a fragment or a bad host or port; the value is not shown: it is secret)",
				    ld->origin[i], keys[i].name);
			else
				util_fmt(err, errlen, "%s: %s: %s", ld->origin[i], keys[i].name, why);
			return -1;
		}
	}
	return 0;
}

/*
 * Reads the kubeconfig now, so that -n says whether it is usable (k8s_init
 * reads it again with the same function), and notes what it gives.
 */
static int
check_kubeconfig(struct loader *ld, char *err, size_t errlen)
{
	struct config *c = ld->c;
	struct kubeconfig_scratch *sc;
	struct kubeconfig kc;
	char why[768];
	size_t i, e;
	int r;

	find_key("kubeconfig", &i);
	find_key("eks_cluster_name", &e);
	if (c->kubeconfig[0] == '\0')
		return 0;
	if (c->eks_cluster_name[0] != '\0') {
		util_fmt(err, errlen, "%s: eks_cluster_name and %s: kubeconfig contradict each other: the "
		    "kubeconfig's user says how to authenticate", ld->origin[e], ld->origin[i]);
		return -1;
	}
	if ((sc = malloc(sizeof *sc)) == NULL) {
		util_fmt(err, errlen, "out of memory");
		return -1;
	}
	r = kubeconfig_load(c->kubeconfig, &kc, sc, why, sizeof why);
	if (r < 0)
		util_fmt(err, errlen, "%s: %s", ld->origin[i], why);
	else
		util_fmt(c->kubeconfig_desc, sizeof c->kubeconfig_desc, "context %.60s: server %.200s, %.200s",
		    kc.context, kc.server, kc.user_desc);
	memset(sc, 0, sizeof *sc);   /* it held the kubeconfig's key or token */
	free(sc);
	memset(&kc, 0, sizeof kc);
	return r;
}

/* Keys that contradict each other, named with where each came from. */
static int
cross_check(struct loader *ld, char *err, size_t errlen)
{
	const struct config *c = ld->c;
	char blocked[UTIL_SECONDS_LEN], grace[UTIL_SECONDS_LEN];
	size_t d, g;

	find_key("delete_blocked_at", &d);
	find_key("grace_period", &g);
	if (c->delete_blocked_at_ms != 0 && c->delete_blocked_at_ms >= c->grace_period_ms) {
		util_fmt(err, errlen, "%s: delete_blocked_at: %s s is not below grace_period (%s s, "
		    "from %s): blocked pods would be deleted before the drain starts (0: never delete)",
		    ld->origin[d], util_fmt_seconds(blocked, sizeof blocked, c->delete_blocked_at_ms),
		    util_fmt_seconds(grace, sizeof grace, c->grace_period_ms), ld->origin[g]);
		return -1;
	}
	return 0;
}

/* Notes each section other than DEFAULT once, as a warning. */
static int
on_section_scan(void *ctx, const char *section, const char *key, const char *value,
    int line, char *err, size_t errlen)
{
	struct config *c = ctx;
	int i;

	(void)key, (void)value, (void)line, (void)err, (void)errlen;
	if (strcmp(section, "DEFAULT") == 0)
		return 0;
	for (i = 0; i < c->nwarnings; i++)
		if (strstr(c->warnings[i], section) != NULL)
			return 0;
	warn(c, "section [%s] is ignored: despotify reads only [DEFAULT]%s", section, "");
	return 0;
}

int
config_load(struct config *c, const char *path, int path_given,
    char *const *envp, char *err, size_t errlen)
{
	struct loader *ld;
	size_t i, len;
	int line, r = -1;

	memset(c, 0, sizeof *c);
	util_strlcpy(c->path, path, sizeof c->path);
	if ((ld = calloc(1, sizeof *ld)) == NULL) {
		util_fmt(err, errlen, "out of memory");
		return -1;
	}
	ld->c = c;
	for (i = 0; i < NKEYS; i++)
		if (keys[i].kind != K_ALIAS &&
		    set_value(ld, i, keys[i].def, "built-in default", err, errlen) < 0)
			goto out;
	if (apply_standard_env(ld, envp, err, errlen) < 0)
		goto out;
	if (access(path, F_OK) != 0 && errno == ENOENT && !path_given) {
		c->file_loaded = 0;
	} else {
		char why[256];

		if (util_read_file(path, ld->buf, sizeof ld->buf, &len, why, sizeof why) < 0) {
			util_fmt(err, errlen, "%s", why);
			goto out;
		}
		if (ini_parse(ld->buf, len, on_ini_key, ld, &line, why, sizeof why) < 0) {
			if (line > 0 && strncmp(why, path, strlen(path)) != 0)
				util_fmt(err, errlen, "%s:%d: %s", path, line, why);
			else if (line > 0)
				util_fmt(err, errlen, "%s", why);
			else
				util_fmt(err, errlen, "%s: %s", path, why);
			goto out;
		}
		ini_parse(ld->buf, len, on_section_scan, c, &line, why, sizeof why);
		c->file_loaded = 1;
	}
	if (apply_despotify_env(ld, envp, err, errlen) < 0 || finish(ld, err, errlen) < 0 ||
	    check_kubeconfig(ld, err, errlen) < 0 ||
	    cross_check(ld, err, errlen) < 0)
		goto out;
	r = 0;
out:
	free(ld);
	return r;
}

/* The value of key k as the ini file would spell it. */
static void
format_value(const struct config *c, const struct key *k, char *out, size_t n)
{
	const char *field = (const char *)c + k->off;
	int64_t ms;

	switch (k->kind) {
	case K_STR:
	case K_TAINT:
	case K_URL:
	case K_LISTEN:
		util_fmt(out, n, "%s", field);
		break;
	case K_BOOL:
		util_fmt(out, n, "%s", *(const int *)(const void *)field ? "true" : "false");
		break;
	case K_SECONDS:
		ms = *(const int64_t *)(const void *)field;
		if (ms % 1000 == 0)
			util_fmt(out, n, "%lld", (long long)(ms / 1000));
		else
			util_fmt(out, n, "%lld.%03lld", (long long)(ms / 1000), (long long)(ms % 1000));
		break;
	case K_COUNT:
		util_fmt(out, n, "%d", *(const int *)(const void *)field);
		break;
	case K_LEVEL:
		util_fmt(out, n, "%s", log_level_name(*(const enum log_level *)(const void *)field));
		break;
	case K_FORMAT:
		util_fmt(out, n, "%s", *(const int *)(const void *)field ? "json" : "text");
		break;
	case K_IMDSVER:
		util_fmt(out, n, "%s", imds_versions[*(const enum imds_version *)(const void *)field]);
		break;
	case K_REBAL:
		util_fmt(out, n, "%s", rebalance_actions[*(const enum rebalance_action *)(const void *)field]);
		break;
	case K_ALIAS:
		out[0] = '\0';
		break;
	}
}

void
config_print(const struct config *c, int fd)
{
	char line[CONFIG_MAX_STR * 2], v[CONFIG_MAX_STR];
	size_t i;
	int n;

	n = util_fmt(line, sizeof line, "# effective settings (%s)\n[DEFAULT]\n",
	    c->file_loaded ? c->path : "built-in defaults; no config file");
	if (write(fd, line, (size_t)n) < 0)
		return;
	for (i = 0; i < NKEYS; i++) {
		if (keys[i].kind == K_ALIAS)
			continue;
		format_value(c, &keys[i], v, sizeof v);
		if (strcmp(keys[i].name, "webhook_url") == 0 && v[0] != '\0') {
			struct url u;
			char why[64];

			/* A Slack webhook's path is its secret. */
			if (url_parse(v, &u, why, sizeof why) == 0)
				util_fmt(v, sizeof v, "%s://%s/<redacted>", u.tls ? "https" : "http", u.host);
		}
		n = util_fmt(line, sizeof line, "%s = %s\n", keys[i].name, v);
		if (write(fd, line, (size_t)n) < 0)
			return;
	}
	if (c->kubeconfig_desc[0] != '\0') {
		n = util_fmt(line, sizeof line, "# kubeconfig: %s (api_server, ca_file, tls_server_name "
		    "and the credentials above are not used)\n", c->kubeconfig_desc);
		if (write(fd, line, (size_t)n) < 0)
			return;
	}
	if (c->pod_name[0] != '\0') {
		n = util_fmt(line, sizeof line, "# own pod (never evicted): %s/%s\n",
		    c->pod_namespace, c->pod_name);
		if (write(fd, line, (size_t)n) < 0)
			return;
	}
}
