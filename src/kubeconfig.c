/* kubeconfig.c — see kubeconfig.h. */
#include "kubeconfig.h"

#include <stdarg.h>
#include <string.h>

#include "util.h"

/* The state of one interpretation: the parsed document and where decoded data goes. */
struct kc_ctx {
	const struct yaml_doc *d;
	const char *dir;
	struct kubeconfig *kc;
	unsigned char *data;       /* the arena's second half, for base64-decoded fields */
	size_t data_len, data_cap;
	char *err;
	size_t errlen;
};

static int __attribute__((format(printf, 2, 3)))
kfail(struct kc_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	util_vfmt(c->err, c->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * The entry named name of the top-level list list ("clusters", "users",
 * "contexts"): the mapping under its key item ("cluster", "user",
 * "context"). Returns its node, or -1 with the reason in err.
 */
static int
named(struct kc_ctx *c, const char *list, const char *item, const char *name)
{
	const struct yaml_doc *d = c->d;
	int seq = yaml_get(d, 0, list), j, m;
	const char *n;

	if (seq >= 0 && d->nodes[seq].type != YAML_SEQ)
		return kfail(c, "line %d: %s is not a list", d->nodes[seq].line, list);
	for (j = seq >= 0 ? d->nodes[seq].first : -1; j >= 0; j = d->nodes[j].next) {
		if ((n = yaml_get_str(d, j, "name")) == NULL || strcmp(n, name) != 0)
			continue;
		m = yaml_get(d, j, item);
		if (m < 0 || d->nodes[m].type != YAML_MAP)
			return kfail(c, "line %d: %s \"%s\" has no %s mapping", d->nodes[j].line, item, name,
			    item);
		return m;
	}
	return kfail(c, "no %s named \"%s\" in %s", item, name, list);
}

/* Copies a scalar field (empty if absent) into out; a non-scalar or over-long value is an error. */
static int
field(struct kc_ctx *c, int map, const char *key, char *out, size_t cap)
{
	int j = yaml_get(c->d, map, key);

	out[0] = '\0';
	if (j < 0)
		return 0;
	if (c->d->nodes[j].type != YAML_SCALAR)
		return kfail(c, "line %d: %s is not a string", c->d->nodes[j].line, key);
	if (util_strlcpy(out, c->d->nodes[j].value, cap) < 0)
		return kfail(c, "line %d: %s is longer than %zu bytes", c->d->nodes[j].line, key, cap - 1);
	return 0;
}

/* A path field, made absolute against the kubeconfig's folder. */
static int
path_field(struct kc_ctx *c, int map, const char *key, char *out, size_t cap)
{
	char rel[CONFIG_MAX_STR];

	if (field(c, map, key, rel, sizeof rel) < 0)
		return -1;
	if (rel[0] == '\0' || rel[0] == '/')
		return util_strlcpy(out, rel, cap) < 0 ? kfail(c, "%s is too long", key) : 0;
	if (util_snprintf(out, cap, "%s/%s", c->dir[0] ? c->dir : ".", rel) < 0)
		return kfail(c, "%s: %s/%s is longer than %zu bytes", key, c->dir, rel, cap - 1);
	return 0;
}

/* A base64 field, decoded into the data arena. *out is NULL when the field is absent. */
static int
data_field(struct kc_ctx *c, int map, const char *key, const unsigned char **out, size_t *len)
{
	int j = yaml_get(c->d, map, key);
	const char *v;

	*out = NULL;
	*len = 0;
	if (j < 0)
		return 0;
	v = c->d->nodes[j].value;
	if (v == NULL || v[0] == '\0')
		return kfail(c, "line %d: %s is empty", c->d->nodes[j].line, key);
	if (util_base64_decode(v, strlen(v), c->data + c->data_len, c->data_cap - c->data_len, len) < 0)
		return kfail(c, "line %d: %s is not base64 (or over %zu bytes)", c->d->nodes[j].line, key,
		    c->data_cap);
	*out = c->data + c->data_len;
	c->data_len += *len;
	return 0;
}

/* Whether the scalar field key of map is "true" (any case). */
static int
is_true(struct kc_ctx *c, int map, const char *key)
{
	const char *v = yaml_get_str(c->d, map, key);

	return v != NULL && (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0);
}

static int
cluster(struct kc_ctx *c, const char *name)
{
	struct kubeconfig *kc = c->kc;
	int m = named(c, "clusters", "cluster", name);

	if (m < 0)
		return -1;
	if (is_true(c, m, "insecure-skip-tls-verify"))
		return kfail(c, "cluster \"%s\": insecure-skip-tls-verify is refused: despotify always "
		    "verifies the API server (give certificate-authority or certificate-authority-data)", name);
	if (yaml_get(c->d, m, "proxy-url") >= 0)
		return kfail(c, "cluster \"%s\": proxy-url is not supported (set HTTPS_PROXY instead)", name);
	if (field(c, m, "server", kc->server, sizeof kc->server) < 0 ||
	    field(c, m, "tls-server-name", kc->tls_server_name, sizeof kc->tls_server_name) < 0 ||
	    path_field(c, m, "certificate-authority", kc->ca_file, sizeof kc->ca_file) < 0 ||
	    data_field(c, m, "certificate-authority-data", &kc->ca_data, &kc->ca_data_len) < 0)
		return -1;
	if (kc->server[0] == '\0')
		return kfail(c, "cluster \"%s\": no server", name);
	if (kc->ca_file[0] != '\0' && kc->ca_data != NULL)
		return kfail(c, "cluster \"%s\": both certificate-authority and certificate-authority-data",
		    name);
	return 0;
}

/* The value of option opt in args[*i] ("--opt V" or "--opt=V"); advances *i. NULL if it is not opt. */
static const char *
opt_value(const char *const *args, int n, int *i, const char *opt)
{
	size_t l = strlen(opt);

	if (strcmp(args[*i], opt) == 0 && *i + 1 < n)
		return args[++*i];
	if (strncmp(args[*i], opt, l) == 0 && args[*i][l] == '=')
		return args[*i] + l + 1;
	return NULL;
}

#define EKS_UNDERSTOOD "despotify makes the EKS token itself and understands \"aws eks get-token " \
	"--cluster-name C [--region R]\" and \"aws-iam-authenticator token -i C [--region R]\""

/* Reads the args of an "aws" or "aws-iam-authenticator" exec; sets eks_cluster and eks_region. */
static int
eks_args(struct kc_ctx *c, const char *user, int iam_auth, const char *const *args, int n)
{
	struct kubeconfig *kc = c->kc;
	const char *v;
	int i, verbs = 0;

	for (i = 0; i < n; i++) {
		if (!iam_auth && verbs < 2 && strcmp(args[i], verbs == 0 ? "eks" : "get-token") == 0) {
			verbs++;
		} else if (iam_auth && verbs == 0 && strcmp(args[i], "token") == 0) {
			verbs = 2;
		} else if ((v = opt_value(args, n, &i, "--region")) != NULL) {
			if (util_strlcpy(kc->eks_region, v, sizeof kc->eks_region) < 0)
				return kfail(c, "user \"%s\": --region is too long", user);
		} else if ((v = opt_value(args, n, &i, iam_auth ? "-i" : "--cluster-name")) != NULL ||
		    (v = opt_value(args, n, &i, "--cluster-id")) != NULL) {
			if (util_strlcpy(kc->eks_cluster, v, sizeof kc->eks_cluster) < 0)
				return kfail(c, "user \"%s\": the cluster name is too long", user);
		} else if (!iam_auth && (v = opt_value(args, n, &i, "--output")) != NULL) {
			if (strcmp(v, "json") != 0)
				return kfail(c, "user \"%s\": --output %s: only json is understood", user, v);
		} else {
			return kfail(c, "user \"%s\": exec argument \"%s\" is not understood; " EKS_UNDERSTOOD,
			    user, args[i]);
		}
	}
	if (verbs < 2 || kc->eks_cluster[0] == '\0')
		return kfail(c, "user \"%s\": the exec command names no cluster; " EKS_UNDERSTOOD, user);
	return 0;
}

/* The exec's env list: a region, or AWS_STS_REGIONAL_ENDPOINTS; anything else changes whose token it is. */
static int
eks_env(struct kc_ctx *c, const char *user, int env)
{
	const struct yaml_doc *d = c->d;
	const char *name, *value;
	int j;

	if (env < 0)
		return 0;
	if (d->nodes[env].type != YAML_SEQ)
		return d->nodes[env].type == YAML_SCALAR && d->nodes[env].value[0] == '\0' ? 0 :
		    kfail(c, "line %d: exec env is not a list", d->nodes[env].line);
	for (j = d->nodes[env].first; j >= 0; j = d->nodes[j].next) {
		name = yaml_get_str(d, j, "name");
		value = yaml_get_str(d, j, "value");
		if (name == NULL || value == NULL)
			return kfail(c, "line %d: exec env entry without name and value", d->nodes[j].line);
		if (strcmp(name, "AWS_STS_REGIONAL_ENDPOINTS") == 0)
			continue;   /* the regional endpoint is always used */
		if (strcmp(name, "AWS_REGION") == 0 || strcmp(name, "AWS_DEFAULT_REGION") == 0) {
			if (c->kc->eks_region[0] == '\0' &&
			    util_strlcpy(c->kc->eks_region, value, sizeof c->kc->eks_region) < 0)
				return kfail(c, "line %d: %s is too long", d->nodes[j].line, name);
			continue;
		}
		return kfail(c, "user \"%s\": exec env %s is not understood (despotify signs with its own "
		    "AWS credential chain; only AWS_REGION, AWS_DEFAULT_REGION and "
		    "AWS_STS_REGIONAL_ENDPOINTS may be set)", user, name);
	}
	return 0;
}

/* An exec user: only the EKS token commands are understood (never run). */
static int
exec_user(struct kc_ctx *c, const char *user, int ex)
{
	const struct yaml_doc *d = c->d;
	const char *args[KUBECONFIG_MAX_ARGS], *cmd = yaml_get_str(d, ex, "command"), *base;
	int a = yaml_get(d, ex, "args"), n = 0, j, iam;

	if (d->nodes[ex].type != YAML_MAP || cmd == NULL || cmd[0] == '\0')
		return kfail(c, "line %d: user \"%s\": exec without a command", d->nodes[ex].line, user);
	base = strrchr(cmd, '/') ? strrchr(cmd, '/') + 1 : cmd;
	iam = strcmp(base, "aws-iam-authenticator") == 0;
	if (!iam && strcmp(base, "aws") != 0)
		return kfail(c, "user \"%s\": exec command \"%s\" is not run; " EKS_UNDERSTOOD, user, cmd);
	if (a >= 0 && d->nodes[a].type != YAML_SEQ)
		return kfail(c, "line %d: exec args is not a list", d->nodes[a].line);
	for (j = a >= 0 ? d->nodes[a].first : -1; j >= 0; j = d->nodes[j].next) {
		if (d->nodes[j].type != YAML_SCALAR)
			return kfail(c, "line %d: exec argument is not a string", d->nodes[j].line);
		if (n == KUBECONFIG_MAX_ARGS)
			return kfail(c, "line %d: more than %d exec arguments", d->nodes[j].line,
			    KUBECONFIG_MAX_ARGS);
		args[n++] = d->nodes[j].value;
	}
	if (eks_args(c, user, iam, args, n) < 0 || eks_env(c, user, yaml_get(d, ex, "env")) < 0)
		return -1;
	c->kc->auth = KUBECONFIG_EKS;
	util_fmt(c->kc->user_desc, sizeof c->kc->user_desc, "exec %s (native EKS token for cluster %s)",
	    iam ? "aws-iam-authenticator token" : "aws eks get-token", c->kc->eks_cluster);
	return 0;
}

/* The user's client certificate, if it has one: 1 found, 0 none, -1 error. */
static int
cert_user(struct kc_ctx *c, const char *user, int m)
{
	struct kubeconfig *kc = c->kc;

	if (path_field(c, m, "client-certificate", kc->cert_file, sizeof kc->cert_file) < 0 ||
	    path_field(c, m, "client-key", kc->key_file, sizeof kc->key_file) < 0 ||
	    data_field(c, m, "client-certificate-data", &kc->cert_data, &kc->cert_data_len) < 0 ||
	    data_field(c, m, "client-key-data", &kc->key_data, &kc->key_data_len) < 0)
		return -1;
	if (!kc->cert_file[0] && !kc->key_file[0] && !kc->cert_data && !kc->key_data)
		return 0;
	if ((kc->cert_file[0] || kc->cert_data) != (kc->key_file[0] || kc->key_data) ||
	    (kc->cert_file[0] && kc->cert_data) || (kc->key_file[0] && kc->key_data))
		return kfail(c, "user \"%s\": needs one client certificate (client-certificate or "
		    "-data) and one key (client-key or -data)", user);
	if ((kc->cert_file[0] != '\0') != (kc->key_file[0] != '\0'))
		return kfail(c, "user \"%s\": give the certificate and the key both as files or both as "
		    "data", user);
	kc->auth = KUBECONFIG_CERT;
	util_fmt(kc->user_desc, sizeof kc->user_desc, "client certificate%s",
	    kc->cert_file[0] ? " (files, re-read when they change)" : " (data)");
	return 1;
}

static int
user(struct kc_ctx *c, const char *name)
{
	static const char *const refused[] = { "username", "password", "auth-provider", "as", "as-uid",
		"as-groups", "as-user-extra" };
	struct kubeconfig *kc = c->kc;
	int m = named(c, "users", "user", name), ways = 0, r, ex;
	size_t i;

	if (m < 0)
		return -1;
	for (i = 0; i < sizeof refused / sizeof refused[0]; i++)
		if (yaml_get(c->d, m, refused[i]) >= 0)
			return kfail(c, "user \"%s\": %s is not supported (use a client certificate, a token, "
			    "a tokenFile or the EKS exec)", name, refused[i]);
	if ((r = cert_user(c, name, m)) < 0)
		return -1;
	ways += r;
	if ((kc->token = yaml_get_str(c->d, m, "token")) != NULL && kc->token[0] != '\0') {
		kc->auth = KUBECONFIG_TOKEN;
		util_fmt(kc->user_desc, sizeof kc->user_desc, "token (inline)");
		ways++;
	} else {
		kc->token = NULL;
	}
	if (path_field(c, m, "tokenFile", kc->token_file, sizeof kc->token_file) < 0)
		return -1;
	if (kc->token_file[0] != '\0') {
		kc->auth = KUBECONFIG_TOKEN_FILE;
		util_fmt(kc->user_desc, sizeof kc->user_desc, "tokenFile %.100s", kc->token_file);
		ways++;
	}
	if ((ex = yaml_get(c->d, m, "exec")) >= 0) {
		if (exec_user(c, name, ex) < 0)
			return -1;
		ways++;
	}
	if (ways == 0)
		return kfail(c, "user \"%s\": no credentials (client certificate, token, tokenFile or exec)",
		    name);
	if (ways > 1)
		return kfail(c, "user \"%s\": more than one kind of credential; despotify uses exactly one",
		    name);
	return 0;
}

int
kubeconfig_parse(const char *text, size_t len, const char *dir, struct kubeconfig *kc,
    struct kubeconfig_scratch *sc, char *err, size_t errlen)
{
	struct yaml_doc d = { sc->nodes, KUBECONFIG_MAX_NODES, 0, sc->arena, YAML_MAX_FILE + 4096, 0 };
	struct kc_ctx c = { &d, dir, kc, (unsigned char *)sc->arena + d.scap, 0,
		sizeof sc->arena - d.scap, err, errlen };
	char why[256], cluster_name[K8S_MAX_NAME], user_name[K8S_MAX_NAME];
	const char *kind;
	int line, ctx;

	memset(kc, 0, sizeof *kc);
	if (yaml_parse(text, len, &d, &line, why, sizeof why) < 0) {
		if (line > 0)
			util_fmt(err, errlen, "line %d: %s", line, why);
		else
			util_fmt(err, errlen, "%s", why);
		return -1;
	}
	if (d.nodes[0].type != YAML_MAP)
		return kfail(&c, "not a kubeconfig (the document is not a mapping)");
	if ((kind = yaml_get_str(&d, 0, "kind")) != NULL && kind[0] != '\0' && strcmp(kind, "Config") != 0)
		return kfail(&c, "not a kubeconfig (kind is \"%s\", not Config)", kind);
	if (field(&c, 0, "current-context", kc->context, sizeof kc->context) < 0)
		return -1;
	if (kc->context[0] == '\0')
		return kfail(&c, "no current-context");
	if ((ctx = named(&c, "contexts", "context", kc->context)) < 0 ||
	    field(&c, ctx, "cluster", cluster_name, sizeof cluster_name) < 0 ||
	    field(&c, ctx, "user", user_name, sizeof user_name) < 0)
		return -1;
	if (cluster_name[0] == '\0' || user_name[0] == '\0')
		return kfail(&c, "context \"%s\" names no cluster or no user", kc->context);
	if (cluster(&c, cluster_name) < 0 || user(&c, user_name) < 0)
		return -1;
	return 0;
}

int
kubeconfig_load(const char *path, struct kubeconfig *kc, struct kubeconfig_scratch *sc,
    char *err, size_t errlen)
{
	char dir[CONFIG_MAX_STR], why[512];
	const char *slash = strrchr(path, '/');
	size_t len;

	memset(kc, 0, sizeof *kc);
	if (strchr(path, ':') != NULL) {
		util_fmt(err, errlen, "kubeconfig %s: lists several files; despotify reads one", path);
		return -1;
	}
	if (slash == NULL)
		util_strlcpy(dir, ".", sizeof dir);
	else if (util_snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path) < 0) {
		util_fmt(err, errlen, "kubeconfig %s: path too long", path);
		return -1;
	}
	if (util_read_file(path, sc->text, sizeof sc->text, &len, why, sizeof why) < 0) {
		util_fmt(err, errlen, "kubeconfig: %s", why);
		return -1;
	}
	if (kubeconfig_parse(sc->text, len, dir, kc, sc, why, sizeof why) < 0) {
		util_fmt(err, errlen, "kubeconfig %s: %s", path, why);
		return -1;
	}
	return 0;
}
