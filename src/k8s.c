/* k8s.c — see k8s.h. */
#include "k8s.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "log.h"
#include "tls.h"
#include "util.h"

#define LB_LABEL "node.kubernetes.io/exclude-from-external-load-balancers"

/* ---- A bounded string builder for request bodies ---------------------------- */

struct sbuf {
	char *p;
	size_t cap, len;
	int over;          /* something did not fit: the result is unusable */
};

static void
sb_raw(struct sbuf *sb, const char *s, size_t n)
{
	if (sb->over || sb->len + n + 1 > sb->cap) {
		sb->over = 1;
		return;
	}
	memcpy(sb->p + sb->len, s, n);
	sb->len += n;
	sb->p[sb->len] = '\0';
}

static void
sb_puts(struct sbuf *sb, const char *s)
{
	sb_raw(sb, s, strlen(s));
}

/* Appends s as a JSON string, quotes included. */
static void
sb_str(struct sbuf *sb, const char *s)
{
	int n;

	sb_raw(sb, "\"", 1);
	if (sb->over)
		return;
	n = json_escape(s, sb->p + sb->len, sb->cap - sb->len);
	if (n < 0) {
		sb->over = 1;
		return;
	}
	sb->len += (size_t)n;
	sb_raw(sb, "\"", 1);
}

static void
sb_int(struct sbuf *sb, long long v)
{
	char num[32];

	snprintf(num, sizeof num, "%lld", v);
	sb_puts(sb, num);
}

/* ---- Taints ------------------------------------------------------------------- */

/* A label-style name: 1-63 bytes of [A-Za-z0-9._-], alphanumeric at both ends. */
static int
valid_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

/* A DNS subdomain: at most 253 bytes of lower-case alphanumerics, '-' and '.'. */
static int
valid_subdomain(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 253 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return 0;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-' ||
		    s[i] == '.'))
			return 0;
	return 1;
}

int
k8s_taint_parse(const char *s, struct k8s_taint *t, char *err, size_t errlen)
{
	const char *colon = strrchr(s, ':'), *eq, *slash;
	size_t klen, vlen;

	memset(t, 0, sizeof *t);
	if (colon == NULL) {
		snprintf(err, errlen, "taint \"%s\": want key[=value]:effect", s);
		return -1;
	}
	if (strcmp(colon + 1, "NoSchedule") != 0 && strcmp(colon + 1, "PreferNoSchedule") != 0 &&
	    strcmp(colon + 1, "NoExecute") != 0) {
		snprintf(err, errlen, "taint \"%s\": effect \"%s\" is not NoSchedule, PreferNoSchedule "
		    "or NoExecute", s, colon + 1);
		return -1;
	}
	eq = memchr(s, '=', (size_t)(colon - s));
	klen = (size_t)((eq ? eq : colon) - s);
	vlen = eq ? (size_t)(colon - eq - 1) : 0;
	slash = memchr(s, '/', klen);
	if (slash != NULL ? !valid_subdomain(s, (size_t)(slash - s)) ||
	    !valid_name(slash + 1, klen - (size_t)(slash - s) - 1) : !valid_name(s, klen)) {
		snprintf(err, errlen, "taint \"%s\": the key \"%.*s\" is not a qualified name "
		    "([prefix/]name, name at most 63 characters of [A-Za-z0-9._-])", s, (int)klen, s);
		return -1;
	}
	if (vlen > 0 && !valid_name(eq + 1, vlen)) {
		snprintf(err, errlen, "taint \"%s\": the value \"%.*s\" is not a label value "
		    "(at most 63 characters of [A-Za-z0-9._-])", s, (int)vlen, eq + 1);
		return -1;
	}
	memcpy(t->key, s, klen);
	if (vlen > 0)
		memcpy(t->value, eq + 1, vlen);
	snprintf(t->effect, sizeof t->effect, "%s", colon + 1);
	return 0;
}

/* ---- The cordon patch ---------------------------------------------------------- */

int
k8s_cordon_patch_build(const char *node_json, size_t len, struct json_tok *toks, int ntoks,
    const struct k8s_taint *taint, int exclude_lb, char *out, size_t cap,
    char *uid, size_t uidcap, char *err, size_t errlen)
{
	struct json_doc d;
	struct sbuf sb = { out, cap, 0, 0 };
	char rv[K8S_MAX_RV];
	int i, n, unsched = 0, has_taint = 0, has_label = 0, taints, labels;

	if (json_parse(&d, node_json, len, toks, ntoks, err, errlen) < 0)
		return -1;
	if (d.toks[0].type != JSON_OBJECT || json_path(&d, 0, "metadata", "name", (char *)NULL) < 0) {
		snprintf(err, errlen, "not a Node object");
		return -1;
	}
	if (json_str(&d, json_path(&d, 0, "metadata", "resourceVersion", (char *)NULL), rv, sizeof rv) <= 0) {
		snprintf(err, errlen, "the Node has no metadata.resourceVersion");
		return -1;
	}
	if (uid != NULL && uidcap > 0 &&
	    json_str(&d, json_path(&d, 0, "metadata", "uid", (char *)NULL), uid, uidcap) < 0)
		uid[0] = '\0';
	i = json_path(&d, 0, "spec", "unschedulable", (char *)NULL);
	if (i >= 0 && json_bool(&d, i, &unsched) < 0)
		unsched = 0;
	labels = json_path(&d, 0, "metadata", "labels", (char *)NULL);
	if (labels >= 0 && json_str_eq(&d, json_get(&d, labels, LB_LABEL), "true"))
		has_label = 1;
	taints = json_path(&d, 0, "spec", "taints", (char *)NULL);
	if (taints >= 0 && d.toks[taints].type != JSON_ARRAY && !json_is_null(&d, taints)) {
		snprintf(err, errlen, "the Node's spec.taints is not a list");
		return -1;
	}
	if (taints >= 0 && d.toks[taints].type == JSON_ARRAY) {
		if (d.toks[taints].size > K8S_MAX_TAINTS) {
			snprintf(err, errlen, "the Node has %d taints, more than %d", d.toks[taints].size,
			    K8S_MAX_TAINTS);
			return -1;
		}
		for (n = 0, i = taints + 1; n < d.toks[taints].size; n++, i = json_next(&d, i))
			if (taint != NULL && d.toks[i].type == JSON_OBJECT &&
			    json_str_eq(&d, json_get(&d, i, "key"), taint->key) &&
			    json_str_eq(&d, json_get(&d, i, "effect"), taint->effect))
				has_taint = 1;
	}
	if (taint == NULL)
		has_taint = 1;
	if (!exclude_lb)
		has_label = 1;
	if (unsched && has_taint && has_label)
		return 0;

	sb_puts(&sb, "{\"metadata\":{\"resourceVersion\":");
	sb_str(&sb, rv);
	if (!has_label) {
		sb_puts(&sb, ",\"labels\":{");
		sb_str(&sb, LB_LABEL);
		sb_puts(&sb, ":\"true\"}");
	}
	sb_puts(&sb, "},\"spec\":{\"unschedulable\":true");
	if (!has_taint) {
		/* A merge patch replaces the whole list: every taint already there goes back as it was. */
		sb_puts(&sb, ",\"taints\":[");
		if (taints >= 0 && d.toks[taints].type == JSON_ARRAY)
			for (n = 0, i = taints + 1; n < d.toks[taints].size; n++, i = json_next(&d, i)) {
				sb_raw(&sb, node_json + d.toks[i].start,
				    (size_t)(d.toks[i].end - d.toks[i].start));
				sb_puts(&sb, ",");
			}
		sb_puts(&sb, "{\"key\":");
		sb_str(&sb, taint->key);
		if (taint->value[0] != '\0') {
			sb_puts(&sb, ",\"value\":");
			sb_str(&sb, taint->value);
		}
		sb_puts(&sb, ",\"effect\":");
		sb_str(&sb, taint->effect);
		sb_puts(&sb, "}]");
	}
	sb_puts(&sb, "}}");
	if (sb.over) {
		snprintf(err, errlen, "the node patch is over %zu bytes", cap);
		return -1;
	}
	return 1;
}

/* ---- Undoing the cordon ------------------------------------------------------------ */

static const struct { unsigned bit; const char *name; } did_names[] = {
	{ K8S_DID_UNSCHEDULABLE, "unschedulable" },
	{ K8S_DID_TAINT, "taint" },
	{ K8S_DID_LABEL, "label" },
};

static int
cause_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] == '\0' || (!isalnum((unsigned char)s[i]) && strchr("._/-", s[i]) == NULL))
			return 0;
	return n > 0;
}

int
k8s_cordon_record_format(const struct k8s_cordon_record *r, char *out, size_t cap)
{
	struct sbuf sb = { out, cap, 0, 0 };
	size_t i;
	int first = 1;

	if (!cause_ok(r->cause, strlen(r->cause)))
		return -1;
	sb_puts(&sb, "cause=");
	sb_puts(&sb, r->cause);
	sb_puts(&sb, ";did=");
	for (i = 0; i < sizeof did_names / sizeof did_names[0]; i++)
		if (r->did & did_names[i].bit) {
			sb_puts(&sb, first ? "" : ",");
			sb_puts(&sb, did_names[i].name);
			first = 0;
		}
	if (r->did & K8S_DID_TAINT) {
		sb_puts(&sb, ";taint=");
		sb_puts(&sb, r->taint_key);
		sb_puts(&sb, ":");
		sb_puts(&sb, r->taint_effect);
	}
	return sb.over || cap == 0 ? -1 : (int)sb.len;
}

/* One "did=" item of n bytes into r->did; 0 or -1. */
static int
did_item(const char *s, size_t n, struct k8s_cordon_record *r)
{
	size_t i;

	for (i = 0; i < sizeof did_names / sizeof did_names[0]; i++)
		if (strlen(did_names[i].name) == n && memcmp(s, did_names[i].name, n) == 0) {
			r->did |= did_names[i].bit;
			return 0;
		}
	return -1;
}

/* One "key=value" field of the record; 0 or -1. */
static int
record_field(const char *f, size_t n, struct k8s_cordon_record *r)
{
	const char *eq = memchr(f, '=', n), *v, *c;
	size_t vn;

	if (eq == NULL)
		return -1;
	v = eq + 1;
	vn = n - (size_t)(v - f);
	if (eq - f == 5 && memcmp(f, "cause", 5) == 0) {
		if (!cause_ok(v, vn) || vn >= sizeof r->cause)
			return -1;
		memcpy(r->cause, v, vn);
		r->cause[vn] = '\0';
		return 0;
	}
	if (eq - f == 3 && memcmp(f, "did", 3) == 0) {
		while (vn > 0) {
			size_t k = (c = memchr(v, ',', vn)) ? (size_t)(c - v) : vn;

			if (did_item(v, k, r) < 0)
				return -1;
			v += k + (c != NULL);
			vn -= k + (c != NULL);
		}
		return 0;
	}
	if (eq - f == 5 && memcmp(f, "taint", 5) == 0) {
		if ((c = memchr(v, ':', vn)) == NULL || (size_t)(c - v) >= sizeof r->taint_key ||
		    vn - (size_t)(c - v) - 1 >= sizeof r->taint_effect)
			return -1;
		memcpy(r->taint_key, v, (size_t)(c - v));
		r->taint_key[c - v] = '\0';
		memcpy(r->taint_effect, c + 1, vn - (size_t)(c - v) - 1);
		r->taint_effect[vn - (size_t)(c - v) - 1] = '\0';
		return 0;
	}
	return 0;   /* a field a later despotify may add */
}

int
k8s_cordon_record_parse(const char *s, size_t len, struct k8s_cordon_record *r)
{
	const char *end = s + len, *semi;
	char spec[K8S_MAX_TAINT_KEY + 24], terr[128];
	struct k8s_taint t;

	memset(r, 0, sizeof *r);
	if (memchr(s, '\0', len) != NULL)
		return -1;
	while (s < end) {
		size_t n = (semi = memchr(s, ';', (size_t)(end - s))) ? (size_t)(semi - s) :
		    (size_t)(end - s);

		if (record_field(s, n, r) < 0)
			return -1;
		s += n + (semi != NULL);
	}
	if (r->cause[0] == '\0')
		return -1;
	if (!(r->did & K8S_DID_TAINT)) {
		memset(r->taint_key, 0, sizeof r->taint_key);
		memset(r->taint_effect, 0, sizeof r->taint_effect);
		return 0;
	}
	/* The taint must be one the cordon could have added. */
	if (util_snprintf(spec, sizeof spec, "%s:%s", r->taint_key, r->taint_effect) < 0 ||
	    k8s_taint_parse(spec, &t, terr, sizeof terr) < 0 || t.value[0] != '\0')
		return -1;
	return 0;
}

/* The record in the Node's annotation: 1, 0 if there is none, -1 if it is unreadable. */
static int
node_record(const struct json_doc *d, struct k8s_cordon_record *rec, char *err, size_t errlen)
{
	char v[512];
	int i = json_path(d, 0, "metadata", "annotations", K8S_CORDON_ANNOTATION, (char *)NULL), n;

	if (i < 0 || json_is_null(d, i))
		return 0;
	if ((n = json_str(d, i, v, sizeof v)) < 0 || k8s_cordon_record_parse(v, (size_t)n, rec) < 0) {
		snprintf(err, errlen, "the Node's %s annotation is not despotify's record",
		    K8S_CORDON_ANNOTATION);
		return -1;
	}
	return 1;
}

/* Appends every taint of the list at index taints but the one the record names. */
static void
taints_without(struct sbuf *sb, const struct json_doc *d, int taints,
    const struct k8s_cordon_record *rec)
{
	int n, i, first = 1;

	sb_puts(sb, "[");
	for (n = 0, i = taints + 1; taints >= 0 && d->toks[taints].type == JSON_ARRAY &&
	    n < d->toks[taints].size; n++, i = json_next(d, i)) {
		if (d->toks[i].type == JSON_OBJECT &&
		    json_str_eq(d, json_get(d, i, "key"), rec->taint_key) &&
		    json_str_eq(d, json_get(d, i, "effect"), rec->taint_effect))
			continue;
		sb_puts(sb, first ? "" : ",");
		sb_raw(sb, d->text + d->toks[i].start, (size_t)(d->toks[i].end - d->toks[i].start));
		first = 0;
	}
	sb_puts(sb, "]");
}

int
k8s_uncordon_patch_build(const char *node_json, size_t len, struct json_tok *toks, int ntoks,
    struct k8s_cordon_record *rec, char *out, size_t cap, char *err, size_t errlen)
{
	struct json_doc d;
	struct sbuf sb = { out, cap, 0, 0 };
	char rv[K8S_MAX_RV];
	int r;

	if (json_parse(&d, node_json, len, toks, ntoks, err, errlen) < 0)
		return -1;
	if (d.toks[0].type != JSON_OBJECT ||
	    json_str(&d, json_path(&d, 0, "metadata", "resourceVersion", (char *)NULL), rv,
	    sizeof rv) <= 0) {
		snprintf(err, errlen, "not a Node object with a metadata.resourceVersion");
		return -1;
	}
	if ((r = node_record(&d, rec, err, errlen)) <= 0)
		return r;
	sb_puts(&sb, "{\"metadata\":{\"resourceVersion\":");
	sb_str(&sb, rv);
	sb_puts(&sb, ",\"annotations\":{");
	sb_str(&sb, K8S_CORDON_ANNOTATION);
	sb_puts(&sb, ":null}");
	if (rec->did & K8S_DID_LABEL) {
		sb_puts(&sb, ",\"labels\":{");
		sb_str(&sb, LB_LABEL);
		sb_puts(&sb, ":null}");
	}
	sb_puts(&sb, "},\"spec\":{");
	if (rec->did & K8S_DID_UNSCHEDULABLE)
		sb_puts(&sb, "\"unschedulable\":null");
	if (rec->did & K8S_DID_TAINT) {
		sb_puts(&sb, rec->did & K8S_DID_UNSCHEDULABLE ? ",\"taints\":" : "\"taints\":");
		taints_without(&sb, &d, json_path(&d, 0, "spec", "taints", (char *)NULL), rec);
	}
	sb_puts(&sb, "}}");
	if (sb.over) {
		snprintf(err, errlen, "the node patch is over %zu bytes", cap);
		return -1;
	}
	return 1;
}

/* ---- Pods ------------------------------------------------------------------------ */

/* Fills *p from the pod object at index obj. Returns 0 or -1 with err. */
static int
pod_from_json(const struct json_doc *d, int obj, const char *self_ns, const char *self_name,
    struct k8s_pod *p, char *err, size_t errlen)
{
	int md, spec, i, j, n, refs, vols, controller = 0;
	int64_t grace;

	memset(p, 0, sizeof *p);
	if (d->toks[obj].type != JSON_OBJECT || (md = json_get(d, obj, "metadata")) < 0) {
		snprintf(err, errlen, "a pod without metadata");
		return -1;
	}
	if (json_str(d, json_get(d, md, "name"), p->name, sizeof p->name) <= 0 ||
	    json_str(d, json_get(d, md, "namespace"), p->ns, sizeof p->ns) <= 0) {
		snprintf(err, errlen, "a pod without a name or namespace (or over %d/%d bytes)",
		    K8S_MAX_NAME - 1, K8S_MAX_NS - 1);
		return -1;
	}
	if (json_str(d, json_get(d, md, "uid"), p->uid, sizeof p->uid) < 0)
		p->uid[0] = '\0';
	if (!json_is_null(d, json_get(d, md, "deletionTimestamp")))
		p->flags |= K8S_POD_TERMINATING;
	i = json_get(d, md, "annotations");
	if (i >= 0 && json_get(d, i, "kubernetes.io/config.mirror") >= 0)
		p->flags |= K8S_POD_MIRROR;
	refs = json_get(d, md, "ownerReferences");
	if (refs >= 0 && d->toks[refs].type == JSON_ARRAY)
		for (n = 0, i = refs + 1; n < d->toks[refs].size; n++, i = json_next(d, i)) {
			int c = 0;

			if (d->toks[i].type != JSON_OBJECT)
				continue;
			if (json_str_eq(d, json_get(d, i, "kind"), "DaemonSet"))
				p->flags |= K8S_POD_DAEMONSET;
			if (json_bool(d, json_get(d, i, "controller"), &c) == 0 && c)
				controller = 1;
		}
	if (!controller)
		p->flags |= K8S_POD_UNMANAGED;
	p->grace = 30;
	if ((spec = json_get(d, obj, "spec")) >= 0) {
		i = json_get(d, spec, "terminationGracePeriodSeconds");
		if (i >= 0 && json_int(d, i, &grace) == 0 && grace >= 0)
			p->grace = grace > 86400 * 365 ? 86400 * 365 : (int)grace;
		vols = json_get(d, spec, "volumes");
		if (vols >= 0 && d->toks[vols].type == JSON_ARRAY)
			for (n = 0, j = vols + 1; n < d->toks[vols].size; n++, j = json_next(d, j))
				if (d->toks[j].type == JSON_OBJECT && !json_is_null(d, json_get(d, j, "emptyDir")))
					p->flags |= K8S_POD_EMPTYDIR;
	}
	i = json_path(d, obj, "status", "phase", (char *)NULL);
	if (json_str_eq(d, i, "Succeeded") || json_str_eq(d, i, "Failed"))
		p->flags |= K8S_POD_FINISHED;
	if (self_name != NULL && self_name[0] != '\0' && strcmp(p->name, self_name) == 0 &&
	    (self_ns == NULL || self_ns[0] == '\0' || strcmp(p->ns, self_ns) == 0))
		p->flags |= K8S_POD_SELF;
	return 0;
}

int
k8s_pods_parse(const char *body, size_t len, struct json_tok *toks, int ntoks,
    const char *self_ns, const char *self_name, k8s_pod_fn fn, void *arg,
    char *cont, size_t contcap, int *used, char *err, size_t errlen)
{
	struct json_doc d;
	struct k8s_pod p;
	int items, i, n, c;

	if (contcap > 0)
		cont[0] = '\0';
	if (json_parse(&d, body, len, toks, ntoks, err, errlen) < 0)
		return -1;
	if (used != NULL)
		*used = d.ntoks;
	items = json_get(&d, 0, "items");
	if (d.toks[0].type != JSON_OBJECT || items < 0 ||
	    (d.toks[items].type != JSON_ARRAY && !json_is_null(&d, items))) {
		snprintf(err, errlen, "not a PodList");
		return -1;
	}
	c = json_path(&d, 0, "metadata", "continue", (char *)NULL);
	if (c >= 0 && !json_is_null(&d, c) && json_str(&d, c, cont, contcap) < 0) {
		snprintf(err, errlen, "the list's continue token is over %zu bytes", contcap - 1);
		return -1;
	}
	if (d.toks[items].type != JSON_ARRAY)
		return 0;
	for (n = 0, i = items + 1; n < d.toks[items].size; n++, i = json_next(&d, i)) {
		if (pod_from_json(&d, i, self_ns, self_name, &p, err, errlen) < 0)
			return -1;
		if (fn(arg, &p) != 0) {
			snprintf(err, errlen, "pod %s/%s not taken", p.ns, p.name);
			return -2;
		}
	}
	return n;
}

/* ---- Status bodies ------------------------------------------------------------------ */

void
k8s_status_message(const char *body, size_t len, char *out, size_t cap)
{
	struct json_tok toks[K8S_MAX_SMALL_TOKENS];
	struct json_doc d;
	char e[64];
	size_t i, n;

	if (cap == 0)
		return;
	out[0] = '\0';
	if (len == 0) {
		snprintf(out, cap, "(empty body)");
		return;
	}
	if (json_parse(&d, body, len, toks, K8S_MAX_SMALL_TOKENS, e, sizeof e) == 0 &&
	    d.toks[0].type == JSON_OBJECT &&
	    json_str(&d, json_get(&d, 0, "message"), out, cap) >= 0)
		return;
	/* Not a Status: a printable prefix, for the log line. */
	for (i = n = 0; i < len && n + 1 < cap && n < 120; i++)
		out[n++] = (body[i] >= 0x20 && body[i] < 0x7f) ? body[i] : '?';
	out[n] = '\0';
}

int
k8s_status_is_pdb(const char *body, size_t len)
{
	struct json_tok toks[K8S_MAX_SMALL_TOKENS];
	struct json_doc d;
	char e[64], msg[256];
	int causes, i, n;

	if (json_parse(&d, body, len, toks, K8S_MAX_SMALL_TOKENS, e, sizeof e) < 0 ||
	    d.toks[0].type != JSON_OBJECT)
		return 0;
	causes = json_path(&d, 0, "details", "causes", (char *)NULL);
	if (causes >= 0 && d.toks[causes].type == JSON_ARRAY)
		for (n = 0, i = causes + 1; n < d.toks[causes].size; n++, i = json_next(&d, i))
			if (d.toks[i].type == JSON_OBJECT &&
			    json_str_eq(&d, json_get(&d, i, "reason"), "DisruptionBudget"))
				return 1;
	if (json_str(&d, json_get(&d, 0, "message"), msg, sizeof msg) > 0 &&
	    strstr(msg, "disruption budget") != NULL)
		return 1;
	return 0;
}

int
k8s_retry_after_parse(const char *v, size_t len, int64_t now_wall_s, int64_t *ms)
{
	const char *p = util_trim(v, &len);
	int64_t secs = 0, when;
	size_t i;

	if (len == 0)
		return -1;
	for (i = 0; i < len && isdigit((unsigned char)p[i]); i++)
		if ((secs = secs * 10 + (p[i] - '0')) > 86400)
			secs = 86400;
	if (i == len) {
		*ms = secs * 1000;
		return 0;
	}
	if (util_parse_http_date(p, len, &when) < 0)
		return -1;
	*ms = when > now_wall_s ? (when - now_wall_s) * 1000 : 0;
	return 0;
}

int
k8s_event_body(char *out, size_t cap, const char *node, const char *uid, const char *type,
    const char *reason, const char *message, int64_t wall_ms)
{
	struct sbuf sb = { out, cap, 0, 0 };
	char ts[32], gen[K8S_MAX_NAME + 2];

	util_fmt_time(ts, sizeof ts, wall_ms / 1000);
	/* The server appends 5 random characters to generateName (and cuts a long base). */
	snprintf(gen, sizeof gen, "%s.", node);
	sb_puts(&sb, "{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"generateName\":");
	sb_str(&sb, gen);
	sb_puts(&sb, ",\"namespace\":\"default\"},\"involvedObject\":{\"apiVersion\":\"v1\","
	    "\"kind\":\"Node\",\"name\":");
	sb_str(&sb, node);
	if (uid != NULL && uid[0] != '\0') {
		sb_puts(&sb, ",\"uid\":");
		sb_str(&sb, uid);
	}
	sb_puts(&sb, "},\"reason\":");
	sb_str(&sb, reason);
	sb_puts(&sb, ",\"message\":");
	sb_str(&sb, message);
	sb_puts(&sb, ",\"type\":");
	sb_str(&sb, type);
	sb_puts(&sb, ",\"source\":{\"component\":\"despotify\",\"host\":");
	sb_str(&sb, node);
	sb_puts(&sb, "},\"firstTimestamp\":");
	sb_str(&sb, ts);
	sb_puts(&sb, ",\"lastTimestamp\":");
	sb_str(&sb, ts);
	sb_puts(&sb, ",\"count\":1,\"reportingComponent\":\"despotify\",\"reportingInstance\":");
	sb_str(&sb, node);
	sb_puts(&sb, "}");
	return sb.over ? -1 : (int)sb.len;
}

int
k8s_eviction_body(char *out, size_t cap, const char *ns, const char *name, const char *uid,
    int grace)
{
	struct sbuf sb = { out, cap, 0, 0 };

	sb_puts(&sb, "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":");
	sb_str(&sb, name);
	sb_puts(&sb, ",\"namespace\":");
	sb_str(&sb, ns);
	sb_puts(&sb, "},\"deleteOptions\":{\"gracePeriodSeconds\":");
	sb_int(&sb, grace);
	if (uid != NULL && uid[0] != '\0') {
		sb_puts(&sb, ",\"preconditions\":{\"uid\":");
		sb_str(&sb, uid);
		sb_puts(&sb, "}");
	}
	sb_puts(&sb, "}}");
	return sb.over ? -1 : (int)sb.len;
}

int
k8s_delete_body(char *out, size_t cap, const char *uid, int grace)
{
	struct sbuf sb = { out, cap, 0, 0 };

	sb_puts(&sb, "{\"apiVersion\":\"v1\",\"kind\":\"DeleteOptions\",\"gracePeriodSeconds\":");
	sb_int(&sb, grace);
	if (uid != NULL && uid[0] != '\0') {
		sb_puts(&sb, ",\"preconditions\":{\"uid\":");
		sb_str(&sb, uid);
		sb_puts(&sb, "}");
	}
	sb_puts(&sb, "}");
	return sb.over ? -1 : (int)sb.len;
}

int64_t
k8s_backoff_ms(int attempt)
{
	int64_t ms = K8S_RETRY_MIN_MS;

	while (attempt-- > 0 && ms < K8S_RETRY_MAX_MS)
		ms *= 2;
	if (ms > K8S_RETRY_MAX_MS)
		ms = K8S_RETRY_MAX_MS;
	/* ±25% jitter, so that many nodes failing together do not retry together. */
	return ms * 3 / 4 + (int64_t)(util_random() % (uint32_t)(ms / 2 + 1));
}

/* ---- Authentication ------------------------------------------------------------------- */

/*
 * Re-reads the token file if it changed since the last read (or always, if
 * force). Called with k->mu held. A failed re-read keeps the token we have.
 */
static int
token_refresh(struct k8s *k, int force, char *err, size_t errlen)
{
	struct stat st;
	char *tmp = k->token + FILE_MAX_TOKEN;
	const char *t;
	size_t len, i;
	int64_t mtime;

	if (stat(k->cfg->token_file, &st) != 0) {
		snprintf(err, errlen, "token_file %s: %s", k->cfg->token_file, strerror(errno));
		return -1;
	}
	mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	if (!force && k->token_len > 0 && st.st_dev == k->tok_dev && st.st_ino == k->tok_ino &&
	    st.st_size == k->tok_size && mtime == k->tok_mtime_ns)
		return 0;
	if (util_read_file(k->cfg->token_file, tmp, FILE_MAX_TOKEN, &len, err, errlen) < 0)
		return -1;
	t = util_trim(tmp, &len);
	if (len == 0) {
		snprintf(err, errlen, "token_file %s: empty", k->cfg->token_file);
		return -1;
	}
	for (i = 0; i < len; i++)
		if (t[i] <= 0x20 || t[i] >= 0x7f) {
			/* Never echo the token itself. */
			snprintf(err, errlen, "token_file %s: the token holds a byte that cannot go in a "
			    "header (at offset %zu)", k->cfg->token_file, (size_t)(t - tmp) + i);
			return -1;
		}
	memmove(k->token, t, len);
	k->token[len] = '\0';
	k->token_len = len;
	k->tok_dev = st.st_dev;
	k->tok_ino = st.st_ino;
	k->tok_size = st.st_size;
	k->tok_mtime_ns = mtime;
	k->token_reads++;
	memset(tmp, 0, FILE_MAX_TOKEN);
	return 0;
}

int
k8s_init(struct k8s *k, const struct config *cfg, const struct log *lg, char *const *envp,
    char *err, size_t errlen)
{
	char e[256];
	size_t n;

	memset(k, 0, sizeof *k);
	k->cfg = cfg;
	k->lg = lg;
	k->cordon_ms = -1;
	if (cfg->api_server[0] == '\0') {
		snprintf(err, errlen, "api_server is not set (and KUBERNETES_SERVICE_HOST is not in the "
		    "environment)");
		return -1;
	}
	if (url_parse(cfg->api_server, &k->base, e, sizeof e) < 0) {
		snprintf(err, errlen, "api_server %s: %s", cfg->api_server, e);
		return -1;
	}
	n = strcspn(k->base.path, "?");
	while (n > 0 && k->base.path[n - 1] == '/')
		n--;
	memcpy(k->base_path, k->base.path, n);
	k->base_path[n] = '\0';
	if (http_proxy_from_env(&k->proxy, envp, e, sizeof e) < 0) {
		snprintf(err, errlen, "Kubernetes API proxy: %s", e);
		return -1;
	}
	if ((cfg->client_cert_file[0] != '\0') != (cfg->client_key_file[0] != '\0')) {
		snprintf(err, errlen, "client_cert_file and client_key_file go together");
		return -1;
	}
	if (k->base.tls) {
		if ((k->tls = tls_config_new()) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		if (tls_config_add_pem_file(k->tls, cfg->ca_file, e, sizeof e) < 0) {
			snprintf(err, errlen, "ca_file: %s", e);
			goto fail;
		}
		if (cfg->client_cert_file[0] != '\0' &&
		    tls_config_set_client_cert(k->tls, cfg->client_cert_file, cfg->client_key_file,
		    e, sizeof e) < 0) {
			snprintf(err, errlen, "client certificate: %s", e);
			goto fail;
		}
		if (cfg->tls_server_name[0] != '\0' &&
		    tls_config_set_server_name(k->tls, cfg->tls_server_name) < 0) {
			snprintf(err, errlen, "tls_server_name \"%s\" is not usable", cfg->tls_server_name);
			goto fail;
		}
	} else if (cfg->client_cert_file[0] != '\0') {
		snprintf(err, errlen, "client_cert_file needs an https:// api_server");
		return -1;
	}
	k->buf = malloc(K8S_MAX_BODY);
	k->toks = malloc(sizeof *k->toks * K8S_MAX_TOKENS);
	k->token = malloc(2 * FILE_MAX_TOKEN);
	if (k->buf == NULL || k->toks == NULL || k->token == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	k->token[0] = '\0';
	k->use_token = cfg->client_cert_file[0] == '\0';
	if (k->use_token && token_refresh(k, 1, err, errlen) < 0)
		goto fail;
	pthread_mutex_init(&k->mu, NULL);
	pthread_mutex_init(&k->ev_mu, NULL);
	http_client_init(&k->hc, k->tls, &k->proxy);
	http_client_init(&k->ev_hc, k->tls, &k->proxy);
	return 0;
fail:
	tls_config_free(k->tls);
	free(k->buf);
	free(k->toks);
	free(k->token);
	memset(k, 0, sizeof *k);
	return -1;
}

void
k8s_close(struct k8s *k)
{
	http_client_close(&k->hc);
	http_client_close(&k->ev_hc);
	tls_config_free(k->tls);
	if (k->token != NULL)
		memset(k->token, 0, 2 * FILE_MAX_TOKEN);
	free(k->token);
	free(k->buf);
	free(k->toks);
	pthread_mutex_destroy(&k->mu);
	pthread_mutex_destroy(&k->ev_mu);
	memset(k, 0, sizeof *k);
}

void
k8s_client_init(struct k8s *k, struct http_client *hc)
{
	http_client_init(hc, k->tls, &k->proxy);
}

/* ---- Requests -------------------------------------------------------------------------- */

int
k8s_request(struct k8s *k, struct http_client *hc, const char *method, const char *path,
    const char *ctype, const char *body, size_t body_len, struct http_response *resp,
    int64_t deadline_ms, char *err, size_t errlen)
{
	struct url u;
	struct http_header h[3];
	struct http_request req;
	char auth[HTTP_MAX_REQ_HEAD];
	size_t nh;
	int attempt, rc;

	if (k->cfg->dry_run && strcmp(method, "GET") != 0) {
		log_info(k->lg, "dry-run: would %s %s%s%s%.*s", method, k->cfg->api_server, path,
		    body_len ? " " : "", (int)(body_len > 1500 ? 1500 : body_len), body ? body : "");
		resp->status = K8S_DRY_RUN;
		resp->body_len = 0;
		if (resp->body_cap > 0)
			resp->body[0] = '\0';
		resp->nhdrs = 0;
		return 0;
	}
	u = k->base;
	if (util_snprintf(u.path, sizeof u.path, "%s%s", k->base_path, path) < 0) {
		snprintf(err, errlen, "%s %s: path over %d bytes", method, path, URL_MAX_PATH - 1);
		return -1;
	}
	for (attempt = 0;; attempt++) {
		nh = 0;
		h[nh++] = (struct http_header){ "Accept", "application/json" };
		if (ctype != NULL)
			h[nh++] = (struct http_header){ "Content-Type", ctype };
		if (k->use_token) {
			pthread_mutex_lock(&k->mu);
			/* A rotated token is picked up before it is needed; a failed re-read keeps the old one. */
			if (token_refresh(k, attempt > 0, err, errlen) < 0 && k->token_len == 0) {
				pthread_mutex_unlock(&k->mu);
				return -1;
			}
			rc = util_snprintf(auth, sizeof auth, "Bearer %s", k->token);
			pthread_mutex_unlock(&k->mu);
			if (rc < 0) {
				snprintf(err, errlen, "token_file %s: token over %zu bytes", k->cfg->token_file,
				    sizeof auth - 8);
				return -1;
			}
			h[nh++] = (struct http_header){ "Authorization", auth };
		}
		req = (struct http_request){ .method = method, .url = &u, .headers = h, .nheaders = nh,
			.body = body, .body_len = body_len, .idempotent = 1 };
		rc = http_do(hc, &req, resp, deadline_ms, err, errlen);
		memset(auth, 0, sizeof auth);
		if (rc < 0)
			return -1;
		if (resp->status != 401 || !k->use_token || attempt > 0)
			return 0;
		log_info(k->lg, "k8s: %s %s: 401 Unauthorized; re-reading token_file %s and retrying",
		    method, path, k->cfg->token_file);
	}
}

/* k8s_vevent with variadic arguments. */
static void __attribute__((format(printf, 6, 7)))
event_by(struct k8s *k, int64_t deadline_ms, const char *node, const char *type,
    const char *reason, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	k8s_vevent(k, deadline_ms, node, type, reason, fmt, ap);
	va_end(ap);
}

/* Sleeps ms, but never past deadline_ms. */
static void
sleep_before(int64_t ms, int64_t deadline_ms)
{
	int64_t left = deadline_ms - util_now_ms();

	util_sleep_ms(ms < left ? ms : left);
}

/* The wait a 429 or 503 asks for (Retry-After), else the backoff for attempt. */
static int64_t
retry_wait(const struct http_response *resp, int attempt)
{
	const char *v;
	size_t n;
	int64_t ms;

	if (resp != NULL && (v = http_header(resp, "Retry-After", &n)) != NULL &&
	    k8s_retry_after_parse(v, n, util_wall_ms() / 1000, &ms) == 0) {
		/* As asked, and up to half as long again: throttled clients should not return together. */
		if (ms < K8S_RETRY_MIN_MS)
			ms = K8S_RETRY_MIN_MS;
		return ms + (int64_t)(util_random() % (uint32_t)(ms / 2 + 1));
	}
	return k8s_backoff_ms(attempt);
}

/* A request deadline: the caller's, but no more than K8S_REQUEST_TIMEOUT_MS from now. */
static int64_t
req_deadline(int64_t deadline_ms)
{
	int64_t d = util_now_ms() + K8S_REQUEST_TIMEOUT_MS;

	return d < deadline_ms ? d : deadline_ms;
}

int
k8s_cordon(struct k8s *k, const char *node, int64_t deadline_ms, char *err, size_t errlen)
{
	struct http_response resp;
	struct k8s_taint taint, *tp = NULL;
	struct log_limit ll = { 0, 0 };
	char path[64 + 3 * K8S_MAX_NAME], enc[3 * K8S_MAX_NAME], e[512], msg[256], uid[K8S_MAX_UID];
	char *patch;
	int64_t t0 = util_now_ms();
	int attempt = 0, conflicts = 0, changed = 0, r;

	if (k->cfg->taint[0] != '\0') {
		if (k8s_taint_parse(k->cfg->taint, &taint, err, errlen) < 0)
			return -1;
		tp = &taint;
	}
	if (url_encode(node, strlen(node), enc, sizeof enc, 0) < 0 || strlen(node) >= K8S_MAX_NAME) {
		snprintf(err, errlen, "node name over %d bytes", K8S_MAX_NAME - 1);
		return -1;
	}
	snprintf(path, sizeof path, "/api/v1/nodes/%s", enc);
	if ((patch = malloc(K8S_MAX_REQ_BODY)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(e, sizeof e, "no answer yet");
	for (;; attempt++) {
		int64_t wait = -1;

		if (util_now_ms() >= deadline_ms) {
			snprintf(err, errlen, "cordon node %s: deadline passed (last: %s)", node, e);
			goto fail;
		}
		resp = (struct http_response){ .body = k->buf, .body_cap = K8S_MAX_BODY };
		if (k8s_request(k, &k->hc, "GET", path, NULL, NULL, 0, &resp, req_deadline(deadline_ms),
		    e, sizeof e) < 0) {
			wait = k8s_backoff_ms(attempt);
		} else if (resp.status == 404) {
			snprintf(err, errlen, "node %s not found (GET %s: 404)", node, path);
			goto fail;
		} else if (resp.status == 403) {
			k8s_status_message(resp.body, resp.body_len, msg, sizeof msg);
			snprintf(err, errlen, "GET node %s: 403 Forbidden: %s", node, msg);
			goto fail;
		} else if (resp.status != 200) {
			k8s_status_message(resp.body, resp.body_len, msg, sizeof msg);
			snprintf(e, sizeof e, "GET node %s: %d: %s", node, resp.status, msg);
			wait = retry_wait(&resp, attempt);
		} else if ((r = k8s_cordon_patch_build(resp.body, resp.body_len, k->toks, K8S_MAX_TOKENS,
		    tp, k->cfg->exclude_from_lb, patch, K8S_MAX_REQ_BODY, uid, sizeof uid, msg, sizeof msg)) < 0) {
			snprintf(e, sizeof e, "GET node %s: unusable answer: %s", node, msg);
			wait = k8s_backoff_ms(attempt);
		} else {
			pthread_mutex_lock(&k->mu);
			snprintf(k->node_uid, sizeof k->node_uid, "%s", uid);
			pthread_mutex_unlock(&k->mu);
			if (r == 0) {
				log_info(k->lg, "k8s: node %s is already cordoned%s%s%s", node,
				    tp ? ", tainted " : "", tp ? k->cfg->taint : "",
				    k->cfg->exclude_from_lb ? " and excluded from load balancers" : "");
				break;
			}
			resp = (struct http_response){ .body = k->buf, .body_cap = K8S_MAX_BODY };
			if (k8s_request(k, &k->hc, "PATCH", path, "application/merge-patch+json", patch,
			    strlen(patch), &resp, req_deadline(deadline_ms), e, sizeof e) < 0) {
				wait = k8s_backoff_ms(attempt);
			} else if (resp.status == K8S_DRY_RUN || resp.status == 200) {
				changed = 1;
				if (resp.status == 200)
					log_info(k->lg, "k8s: cordoned node %s (unschedulable%s%s%s)", node,
					    tp ? ", taint " : "", tp ? k->cfg->taint : "",
					    k->cfg->exclude_from_lb ? ", excluded from load balancers" : "");
				break;
			} else if (resp.status == 409) {
				/* Someone changed the node since our GET: read it again and redo the patch. */
				log_info(k->lg, "k8s: node %s changed while we patched it (409 Conflict); "
				    "re-reading it", node);
				if (++conflicts > 3)
					wait = k8s_backoff_ms(conflicts - 4);
				else
					continue;
			} else if (resp.status == 404) {
				snprintf(err, errlen, "node %s not found (PATCH: 404)", node);
				goto fail;
			} else if (resp.status == 400 || resp.status == 403 || resp.status == 415 ||
			    resp.status == 422) {
				k8s_status_message(resp.body, resp.body_len, msg, sizeof msg);
				snprintf(err, errlen, "PATCH node %s: %d: %s", node, resp.status, msg);
				goto fail;
			} else {
				k8s_status_message(resp.body, resp.body_len, msg, sizeof msg);
				snprintf(e, sizeof e, "PATCH node %s: %d: %s", node, resp.status, msg);
				wait = retry_wait(&resp, attempt);
			}
		}
		if (wait >= 0) {
			log_limited(k->lg, &ll, 5000, LV_WARNING, "k8s: cordon node %s: %s; retrying",
			    node, e);
			sleep_before(wait, deadline_ms);
		}
	}
	free(patch);
	k->cordon_ms = util_now_ms() - t0;
	if (changed)
		event_by(k, deadline_ms, node, "Normal", "Cordoned", "Node cordoned by despotify%s%s",
		    tp ? " and tainted " : "", tp ? k->cfg->taint : "");
	return 0;
fail:
	free(patch);
	return -1;
}

/* The page size to ask for next, from what the last page cost. */
static int
next_limit(int items, size_t bytes, int ntoks)
{
	long by_tok, by_len, l;

	if (items <= 0)
		return K8S_LIST_LIMIT;
	by_tok = (long)K8S_MAX_TOKENS * 3 / 4 / (ntoks / items + 1);
	by_len = (long)(K8S_MAX_BODY / 4 * 3 / (bytes / (size_t)items + 1));
	l = by_tok < by_len ? by_tok : by_len;
	return l < 1 ? 1 : l > 500 ? 500 : (int)l;
}

int
k8s_list_pods(struct k8s *k, const char *node, k8s_pod_fn fn, void *arg,
    int64_t deadline_ms, char *err, size_t errlen)
{
	struct http_response resp;
	struct log_limit ll = { 0, 0 };
	char cont[K8S_MAX_CONTINUE], cenc[3 * K8S_MAX_CONTINUE], enc[3 * K8S_MAX_NAME];
	char path[sizeof cenc + sizeof enc + 128], e[512], msg[256];
	int limit = K8S_LIST_LIMIT, total = 0, attempt = 0, n;

	if (url_encode(node, strlen(node), enc, sizeof enc, 0) < 0) {
		snprintf(err, errlen, "node name over %d bytes", K8S_MAX_NAME - 1);
		return -1;
	}
	cont[0] = '\0';
	snprintf(e, sizeof e, "no answer yet");
	for (;;) {
		int64_t wait = -1;

		if (util_now_ms() >= deadline_ms) {
			snprintf(err, errlen, "list pods on node %s: deadline passed (last: %s)", node, e);
			return -1;
		}
		if (cont[0] != '\0' && url_encode(cont, strlen(cont), cenc, sizeof cenc, 0) < 0) {
			snprintf(err, errlen, "list pods: continue token too long");
			return -1;
		}
		snprintf(path, sizeof path, "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s&limit=%d%s%s",
		    enc, limit, cont[0] ? "&continue=" : "", cont[0] ? cenc : "");
		resp = (struct http_response){ .body = k->buf, .body_cap = K8S_MAX_BODY };
		if (k8s_request(k, &k->hc, "GET", path, NULL, NULL, 0, &resp, req_deadline(deadline_ms),
		    e, sizeof e) < 0) {
			/* Perhaps the page was over K8S_MAX_BODY: ask for fewer pods. */
			if (limit > 1)
				limit /= 2;
			wait = k8s_backoff_ms(attempt++);
		} else if (resp.status == 200) {
			char next[K8S_MAX_CONTINUE];
			int used = 0;

			n = k8s_pods_parse(resp.body, resp.body_len, k->toks, K8S_MAX_TOKENS,
			    k->cfg->pod_namespace, k->cfg->pod_name, fn, arg, next, sizeof next, &used,
			    msg, sizeof msg);
			if (n == -2) {
				snprintf(err, errlen, "list pods on node %s: %s", node, msg);
				return -1;
			}
			if (n < 0) {
				/* Over K8S_MAX_TOKENS, or garbage: a smaller page, after a pause. */
				snprintf(e, sizeof e, "list pods on node %s: unusable page: %s", node, msg);
				if (limit > 1)
					limit /= 2;
				wait = k8s_backoff_ms(attempt++);
			} else {
				total += n;
				attempt = 0;
				limit = next_limit(n, resp.body_len, used);
				if (next[0] == '\0')
					return total;
				memcpy(cont, next, sizeof cont);
			}
		} else if (resp.status == 410) {
			/* The continue token expired: start the listing over. */
			log_info(k->lg, "k8s: list pods on node %s: continue token expired; listing again", node);
			cont[0] = '\0';
		} else if (resp.status == 403 || resp.status == 400) {
			k8s_status_message(resp.body, resp.body_len, msg, sizeof msg);
			snprintf(err, errlen, "list pods on node %s: %d: %s", node, resp.status, msg);
			return -1;
		} else {
			k8s_status_message(resp.body, resp.body_len, msg, sizeof msg);
			snprintf(e, sizeof e, "list pods on node %s: %d: %s", node, resp.status, msg);
			wait = retry_wait(&resp, attempt++);
		}
		if (wait >= 0) {
			log_limited(k->lg, &ll, 5000, LV_WARNING, "k8s: %s; retrying", e);
			sleep_before(wait, deadline_ms);
		}
	}
}

/* ---- Events ------------------------------------------------------------------------------ */

void
k8s_event(struct k8s *k, const char *node, const char *type, const char *reason,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	k8s_vevent(k, util_now_ms() + K8S_EVENT_TIMEOUT_MS, node, type, reason, fmt, ap);
	va_end(ap);
}

void
k8s_vevent(struct k8s *k, int64_t deadline_ms, const char *node, const char *type,
    const char *reason, const char *fmt, va_list ap)
{
	struct http_response resp;
	char msg[K8S_MAX_EVENT_MSG], uid[K8S_MAX_NAME], body[K8S_MAX_EVENT_MSG * 6 + 4 * K8S_MAX_NAME];
	char rbuf[4096], e[256];
	int64_t now = util_now_ms();
	int n;

	if (!k->cfg->events)
		return;
	if (deadline_ms > now + K8S_EVENT_TIMEOUT_MS)
		deadline_ms = now + K8S_EVENT_TIMEOUT_MS;
	if (deadline_ms <= now) {
		log_debug(k->lg, "k8s: event %s about node %s dropped: no time left", reason, node);
		return;
	}
	vsnprintf(msg, sizeof msg, fmt, ap);
	pthread_mutex_lock(&k->mu);
	snprintf(uid, sizeof uid, "%s", k->node_uid);
	pthread_mutex_unlock(&k->mu);
	/*
	 * Before the cordon's GET the uid is unknown: the node's name stands in,
	 * as in the kubelet's own node Events (kubectl describe node finds both).
	 */
	if (uid[0] == '\0')
		snprintf(uid, sizeof uid, "%s", node);
	if ((n = k8s_event_body(body, sizeof body, node, uid, type, reason, msg, util_wall_ms())) < 0) {
		log_warning(k->lg, "k8s: event %s about node %s: too long; not posted", reason, node);
		return;
	}
	pthread_mutex_lock(&k->ev_mu);
	if (now < k->ev_pause_until) {
		pthread_mutex_unlock(&k->ev_mu);
		log_debug(k->lg, "k8s: event %s about node %s dropped (events paused after a failure)",
		    reason, node);
		return;
	}
	resp = (struct http_response){ .body = rbuf, .body_cap = sizeof rbuf };
	if (k8s_request(k, &k->ev_hc, "POST", "/api/v1/namespaces/default/events",
	    "application/json", body, (size_t)n, &resp, deadline_ms, e, sizeof e) < 0) {
		k->ev_pause_until = util_now_ms() + K8S_EVENT_PAUSE_MS;
		log_warning(k->lg, "k8s: event %s about node %s not posted: %s", reason, node, e);
	} else if (resp.status != 201 && resp.status != 200 && resp.status != K8S_DRY_RUN) {
		k8s_status_message(resp.body, resp.body_len, e, sizeof e);
		k->ev_pause_until = util_now_ms() + K8S_EVENT_PAUSE_MS;
		log_warning(k->lg, "k8s: event %s about node %s not posted: %d: %s", reason, node,
		    resp.status, e);
	} else {
		log_debug(k->lg, "k8s: event %s about node %s posted", reason, node);
	}
	pthread_mutex_unlock(&k->ev_mu);
}
