/* k8s.c — see k8s.h. */
#include "k8s.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aws.h"
#include "config.h"
#include "kubeconfig.h"
#include "log.h"
#include "tls.h"
#include "util.h"

#define LB_LABEL "node.kubernetes.io/exclude-from-external-load-balancers"

/* k->buf and k->toks serve the Node of the cordon and one pod of a listing (untouched pages cost nothing). */
#define K8S_BUF  (K8S_MAX_BODY > K8S_MAX_POD ? K8S_MAX_BODY : K8S_MAX_POD)
#define K8S_TOKS (K8S_MAX_TOKENS > K8S_POD_MAX_TOKENS ? K8S_MAX_TOKENS : K8S_POD_MAX_TOKENS)

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
		util_fmt(err, errlen, "taint \"%s\": want key[=value]:effect", s);
		return -1;
	}
	if (strcmp(colon + 1, "NoSchedule") != 0 && strcmp(colon + 1, "PreferNoSchedule") != 0 &&
	    strcmp(colon + 1, "NoExecute") != 0) {
		util_fmt(err, errlen, "taint \"%s\": effect \"%s\" is not NoSchedule, PreferNoSchedule "
		    "or NoExecute", s, colon + 1);
		return -1;
	}
	eq = memchr(s, '=', (size_t)(colon - s));
	klen = (size_t)((eq ? eq : colon) - s);
	vlen = eq ? (size_t)(colon - eq - 1) : 0;
	slash = memchr(s, '/', klen);
	if (slash != NULL ? !valid_subdomain(s, (size_t)(slash - s)) ||
	    !valid_name(slash + 1, klen - (size_t)(slash - s) - 1) : !valid_name(s, klen)) {
		util_fmt(err, errlen, "taint \"%s\": the key \"%.*s\" is not a qualified name "
		    "([prefix/]name, name at most 63 characters of [A-Za-z0-9._-])", s, (int)klen, s);
		return -1;
	}
	if (vlen > 0 && !valid_name(eq + 1, vlen)) {
		util_fmt(err, errlen, "taint \"%s\": the value \"%.*s\" is not a label value "
		    "(at most 63 characters of [A-Za-z0-9._-])", s, (int)vlen, eq + 1);
		return -1;
	}
	memcpy(t->key, s, klen);
	if (vlen > 0)
		memcpy(t->value, eq + 1, vlen);
	util_fmt(t->effect, sizeof t->effect, "%s", colon + 1);
	return 0;
}

/* ---- The cordon patch ---------------------------------------------------------- */

/* What a Node says about its cordon, for k8s_cordon_patch_build. */
struct cordon_state {
	char rv[K8S_MAX_RV];
	int unsched, has_taint, has_label;
	int taints;                          /* index of spec.taints, or -1 */
	struct k8s_cordon_record rec;        /* despotify's record on the Node; cause "" if none */
};

static int node_record(const struct json_doc *d, struct k8s_cordon_record *rec, char *err,
    size_t errlen);

/* Reads the Node at the root of d into *st. Returns 0, or -1 with err. */
static int
cordon_state_read(const struct json_doc *d, const struct k8s_taint *taint, struct cordon_state *st,
    char *err, size_t errlen)
{
	char e[128];
	int i, n;

	memset(st, 0, sizeof *st);
	if (d->toks[0].type != JSON_OBJECT || json_path(d, 0, "metadata", "name", (char *)NULL) < 0) {
		util_fmt(err, errlen, "not a Node object");
		return -1;
	}
	if (json_str(d, json_path(d, 0, "metadata", "resourceVersion", (char *)NULL), st->rv,
	    sizeof st->rv) <= 0) {
		util_fmt(err, errlen, "the Node has no metadata.resourceVersion");
		return -1;
	}
	i = json_path(d, 0, "spec", "unschedulable", (char *)NULL);
	if (i >= 0 && json_bool(d, i, &st->unsched) < 0)
		st->unsched = 0;
	st->has_label = json_str_eq(d, json_path(d, 0, "metadata", "labels", LB_LABEL, (char *)NULL),
	    "true");
	st->taints = json_path(d, 0, "spec", "taints", (char *)NULL);
	if (st->taints >= 0 && d->toks[st->taints].type != JSON_ARRAY && !json_is_null(d, st->taints)) {
		util_fmt(err, errlen, "the Node's spec.taints is not a list");
		return -1;
	}
	if (st->taints >= 0 && d->toks[st->taints].type == JSON_ARRAY) {
		if (d->toks[st->taints].size > K8S_MAX_TAINTS) {
			util_fmt(err, errlen, "the Node has %d taints, more than %d",
			    d->toks[st->taints].size, K8S_MAX_TAINTS);
			return -1;
		}
		for (n = 0, i = st->taints + 1; n < d->toks[st->taints].size; n++, i = json_next(d, i))
			if (taint != NULL && d->toks[i].type == JSON_OBJECT &&
			    json_str_eq(d, json_get(d, i, "key"), taint->key) &&
			    json_str_eq(d, json_get(d, i, "effect"), taint->effect))
				st->has_taint = 1;
	} else {
		st->taints = -1;
	}
	/* A record that cannot be read is not ours to keep: the new one replaces it. */
	if (node_record(d, &st->rec, e, sizeof e) <= 0)
		memset(&st->rec, 0, sizeof st->rec);
	return 0;
}

/*
 * Appends the annotation recording what this patch changes (and what an
 * earlier cordon by despotify did), under cause unless the Node already
 * names one. Nothing if cause is NULL.
 */
static void
patch_record(struct util_buf *sb, const struct cordon_state *st, const struct k8s_taint *taint,
    const char *cause, int exclude_lb)
{
	struct k8s_cordon_record rec = st->rec;
	char v[512];

	if (cause == NULL)
		return;
	if (rec.cause[0] == '\0')
		util_strlcpy(rec.cause, cause, sizeof rec.cause);
	rec.did |= (st->unsched ? 0 : K8S_DID_UNSCHEDULABLE) | (st->has_label || !exclude_lb ? 0 :
	    K8S_DID_LABEL);
	if (taint != NULL && !st->has_taint) {
		rec.did |= K8S_DID_TAINT;
		util_strlcpy(rec.taint_key, taint->key, sizeof rec.taint_key);
		util_strlcpy(rec.taint_effect, taint->effect, sizeof rec.taint_effect);
	}
	if (k8s_cordon_record_format(&rec, v, sizeof v) < 0) {
		sb->over = 1;
		return;
	}
	util_buf_str(sb, ",\"annotations\":{");
	json_buf_str(sb, K8S_CORDON_ANNOTATION);
	util_buf_str(sb, ":");
	json_buf_str(sb, v);
	util_buf_str(sb, "}");
}

/* Appends the taint list: every taint already there, byte for byte, then taint. */
static void
patch_taints(struct util_buf *sb, const struct json_doc *d, int taints, const struct k8s_taint *taint)
{
	int n, i;

	/* A merge patch replaces the whole list: every taint already there goes back as it was. */
	util_buf_str(sb, ",\"taints\":[");
	for (n = 0, i = taints + 1; taints >= 0 && n < d->toks[taints].size; n++, i = json_next(d, i)) {
		util_buf_mem(sb, d->text + d->toks[i].start, (size_t)(d->toks[i].end - d->toks[i].start));
		util_buf_str(sb, ",");
	}
	util_buf_str(sb, "{\"key\":");
	json_buf_str(sb, taint->key);
	if (taint->value[0] != '\0') {
		util_buf_str(sb, ",\"value\":");
		json_buf_str(sb, taint->value);
	}
	util_buf_str(sb, ",\"effect\":");
	json_buf_str(sb, taint->effect);
	util_buf_str(sb, "}]");
}

int
k8s_cordon_patch_build(const char *node_json, size_t len, struct json_tok *toks, int ntoks,
    const struct k8s_taint *taint, int exclude_lb, const char *cause, char *out, size_t cap,
    char *uid, size_t uidcap, char *err, size_t errlen)
{
	struct json_doc d;
	struct util_buf sb;
	struct cordon_state st;

	if (json_parse(&d, node_json, len, toks, ntoks, err, errlen) < 0 ||
	    cordon_state_read(&d, taint, &st, err, errlen) < 0)
		return -1;
	if (uid != NULL && uidcap > 0 &&
	    json_str(&d, json_path(&d, 0, "metadata", "uid", (char *)NULL), uid, uidcap) < 0)
		uid[0] = '\0';
	if (st.unsched && (st.has_taint || taint == NULL) && (st.has_label || !exclude_lb))
		return 0;
	util_buf_init(&sb, out, cap);
	util_buf_str(&sb, "{\"metadata\":{\"resourceVersion\":");
	json_buf_str(&sb, st.rv);
	if (!st.has_label && exclude_lb) {
		util_buf_str(&sb, ",\"labels\":{");
		json_buf_str(&sb, LB_LABEL);
		util_buf_str(&sb, ":\"true\"}");
	}
	patch_record(&sb, &st, taint, cause, exclude_lb);
	util_buf_str(&sb, "},\"spec\":{\"unschedulable\":true");
	if (taint != NULL && !st.has_taint)
		patch_taints(&sb, &d, st.taints, taint);
	util_buf_str(&sb, "}}");
	if (sb.over) {
		util_fmt(err, errlen, "the node patch is over %zu bytes", cap);
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
	struct util_buf sb;
	size_t i;
	int first = 1;

	if (!cause_ok(r->cause, strlen(r->cause)))
		return -1;
	util_buf_init(&sb, out, cap);
	util_buf_str(&sb, "cause=");
	util_buf_str(&sb, r->cause);
	util_buf_str(&sb, ";did=");
	for (i = 0; i < sizeof did_names / sizeof did_names[0]; i++)
		if (r->did & did_names[i].bit) {
			util_buf_str(&sb, first ? "" : ",");
			util_buf_str(&sb, did_names[i].name);
			first = 0;
		}
	if (r->did & K8S_DID_TAINT) {
		util_buf_str(&sb, ";taint=");
		util_buf_str(&sb, r->taint_key);
		util_buf_str(&sb, ":");
		util_buf_str(&sb, r->taint_effect);
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
		util_fmt(err, errlen, "the Node's %s annotation is not despotify's record",
		    K8S_CORDON_ANNOTATION);
		return -1;
	}
	return 1;
}

/* Appends every taint of the list at index taints but the one the record names. */
static void
taints_without(struct util_buf *sb, const struct json_doc *d, int taints,
    const struct k8s_cordon_record *rec)
{
	int n, i, first = 1;

	util_buf_str(sb, "[");
	for (n = 0, i = taints + 1; taints >= 0 && d->toks[taints].type == JSON_ARRAY &&
	    n < d->toks[taints].size; n++, i = json_next(d, i)) {
		if (d->toks[i].type == JSON_OBJECT &&
		    json_str_eq(d, json_get(d, i, "key"), rec->taint_key) &&
		    json_str_eq(d, json_get(d, i, "effect"), rec->taint_effect))
			continue;
		util_buf_str(sb, first ? "" : ",");
		util_buf_mem(sb, d->text + d->toks[i].start, (size_t)(d->toks[i].end - d->toks[i].start));
		first = 0;
	}
	util_buf_str(sb, "]");
}

int
k8s_uncordon_patch_build(const char *node_json, size_t len, struct json_tok *toks, int ntoks,
    struct k8s_cordon_record *rec, char *out, size_t cap, char *err, size_t errlen)
{
	struct json_doc d;
	struct util_buf sb;
	char rv[K8S_MAX_RV];
	int r;

	if (json_parse(&d, node_json, len, toks, ntoks, err, errlen) < 0)
		return -1;
	if (d.toks[0].type != JSON_OBJECT ||
	    json_str(&d, json_path(&d, 0, "metadata", "resourceVersion", (char *)NULL), rv,
	    sizeof rv) <= 0) {
		util_fmt(err, errlen, "not a Node object with a metadata.resourceVersion");
		return -1;
	}
	if ((r = node_record(&d, rec, err, errlen)) <= 0)
		return r;
	util_buf_init(&sb, out, cap);
	util_buf_str(&sb, "{\"metadata\":{\"resourceVersion\":");
	json_buf_str(&sb, rv);
	util_buf_str(&sb, ",\"annotations\":{");
	json_buf_str(&sb, K8S_CORDON_ANNOTATION);
	util_buf_str(&sb, ":null}");
	if (rec->did & K8S_DID_LABEL) {
		util_buf_str(&sb, ",\"labels\":{");
		json_buf_str(&sb, LB_LABEL);
		util_buf_str(&sb, ":null}");
	}
	util_buf_str(&sb, "},\"spec\":{");
	if (rec->did & K8S_DID_UNSCHEDULABLE)
		util_buf_str(&sb, "\"unschedulable\":null");
	if (rec->did & K8S_DID_TAINT) {
		util_buf_str(&sb, rec->did & K8S_DID_UNSCHEDULABLE ? ",\"taints\":" : "\"taints\":");
		taints_without(&sb, &d, json_path(&d, 0, "spec", "taints", (char *)NULL), rec);
	}
	util_buf_str(&sb, "}}");
	if (sb.over) {
		util_fmt(err, errlen, "the node patch is over %zu bytes", cap);
		return -1;
	}
	return 1;
}

/* ---- Pods ------------------------------------------------------------------------ */

int
k8s_pod_from_json(const struct json_doc *d, int obj, const char *self_ns, const char *self_name,
    struct k8s_pod *p, char *err, size_t errlen)
{
	int md, spec, i, j, n, refs, vols, controller = 0;
	int64_t grace;

	memset(p, 0, sizeof *p);
	if (d->toks[obj].type != JSON_OBJECT || (md = json_get(d, obj, "metadata")) < 0) {
		util_fmt(err, errlen, "a pod without metadata");
		return -1;
	}
	if (json_str(d, json_get(d, md, "name"), p->name, sizeof p->name) <= 0 ||
	    json_str(d, json_get(d, md, "namespace"), p->ns, sizeof p->ns) <= 0) {
		util_fmt(err, errlen, "a pod without a name or namespace (or over %d/%d bytes)",
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

#define SEEN_KIND     0x1u
#define SEEN_METADATA 0x2u

/* The list's metadata: continue and resourceVersion. */
static int
list_metadata(struct k8s_podlist *pl, const struct json_doc *d, char *err, size_t errlen)
{
	int c, rv;

	if (d->toks[0].type != JSON_OBJECT)
		return 0;
	c = json_get(d, 0, "continue");
	if (c >= 0 && !json_is_null(d, c) && json_str(d, c, pl->cont, sizeof pl->cont) < 0) {
		util_fmt(err, errlen, "the list's metadata.continue is not a string of at most %d bytes",
		    K8S_MAX_CONTINUE - 1);
		return -1;
	}
	rv = json_get(d, 0, "resourceVersion");
	if (rv >= 0 && !json_is_null(d, rv) && json_str(d, rv, pl->rv, sizeof pl->rv) < 0) {
		util_fmt(err, errlen, "the list's metadata.resourceVersion is not a string of at most "
		    "%d bytes", K8S_MAX_RV - 1);
		return -1;
	}
	return 0;
}

/* A root member of the page other than the items array. */
static int
list_member(struct k8s_podlist *pl, const char *key, const struct json_doc *d, char *err,
    size_t errlen)
{
	unsigned bit = strcmp(key, "kind") == 0 ? SEEN_KIND : strcmp(key, "metadata") == 0 ?
	    SEEN_METADATA : 0;

	/* items here is not a list (json_stream refuses it twice); null is an empty one. */
	if (strcmp(key, "items") == 0 && !json_is_null(d, 0)) {
		util_fmt(err, errlen, "not a PodList (items is not a list)");
		return -1;
	}
	if (bit == 0)
		return 0;
	if (pl->seen & bit) {
		util_fmt(err, errlen, "not a PodList: \"%s\" appears twice", key);
		return -1;
	}
	pl->seen |= bit;
	if (bit == SEEN_KIND && !json_str_eq(d, 0, "PodList")) {
		util_fmt(err, errlen, "not a PodList (kind is not \"PodList\")");
		return -1;
	}
	return bit == SEEN_METADATA ? list_metadata(pl, d, err, errlen) : 0;
}

/* json_stream's callback: a pod of items, a skipped one, or another root member. */
static int
list_value(void *arg, const char *key, long item, const struct json_doc *d, const char *why,
    char *err, size_t errlen)
{
	struct k8s_podlist *pl = arg;
	struct k8s_pod p;
	char e[256];

	if (item < 0)
		return list_member(pl, key, d, err, errlen);
	if (d == NULL) {
		if (pl->skipped++ == 0)
			util_fmt(pl->skip_why, sizeof pl->skip_why, "%s", why);
		return 0;
	}
	if (k8s_pod_from_json(d, 0, pl->self_ns, pl->self_name, &p, e, sizeof e) < 0) {
		util_fmt(err, errlen, "item %ld: %s", item, e);
		return -1;
	}
	if (pl->fn(pl->arg, &p) != 0) {
		pl->refused = 1;
		util_fmt(err, errlen, "pod %s/%s not taken", p.ns, p.name);
		return -1;
	}
	pl->pods++;
	return 0;
}

void
k8s_podlist_init(struct k8s_podlist *pl, char *buf, size_t cap, struct json_tok *toks,
    int ntoks, const char *self_ns, const char *self_name, k8s_pod_fn fn, void *arg)
{
	memset(pl, 0, sizeof *pl);
	pl->self_ns = self_ns;
	pl->self_name = self_name;
	pl->fn = fn;
	pl->arg = arg;
	json_stream_init(&pl->js, "items", buf, cap, toks, ntoks, list_value, pl);
}

int
k8s_podlist_feed(struct k8s_podlist *pl, const char *p, size_t n, char *err, size_t errlen)
{
	if (json_stream_feed(&pl->js, p, n, err, errlen) == 0)
		return 0;
	return pl->refused ? -2 : -1;
}

int
k8s_podlist_end(struct k8s_podlist *pl, char *err, size_t errlen)
{
	if (json_stream_end(&pl->js, err, errlen) < 0)
		return -1;
	if (!pl->js.list_seen) {
		util_fmt(err, errlen, "not a PodList (no items)");
		return -1;
	}
	return pl->pods;
}

int
k8s_pods_parse(const char *body, size_t len, char *buf, size_t cap, struct json_tok *toks,
    int ntoks, const char *self_ns, const char *self_name, k8s_pod_fn fn, void *arg,
    char *cont, size_t contcap, char *err, size_t errlen)
{
	struct k8s_podlist pl;
	int r;

	if (contcap > 0)
		cont[0] = '\0';
	k8s_podlist_init(&pl, buf, cap, toks, ntoks, self_ns, self_name, fn, arg);
	if ((r = k8s_podlist_feed(&pl, body, len, err, errlen)) < 0)
		return r;
	if ((r = k8s_podlist_end(&pl, err, errlen)) < 0)
		return r;
	if (contcap > 0 && util_strlcpy(cont, pl.cont, contcap) < 0) {
		util_fmt(err, errlen, "the list's continue token is over %zu bytes", contcap - 1);
		return -1;
	}
	return r;
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
		util_fmt(out, cap, "(empty body)");
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
k8s_event_body(char *out, size_t cap, const char *node, const char *uid, const char *type,
    const char *reason, const char *message, int64_t wall_ms)
{
	struct util_buf sb;
	char ts[32], gen[K8S_MAX_NAME + 2];

	util_buf_init(&sb, out, cap);
	util_fmt_time(ts, sizeof ts, wall_ms / 1000);
	/* The server appends 5 random characters to generateName (and cuts a long base). */
	util_fmt(gen, sizeof gen, "%s.", node);
	util_buf_str(&sb, "{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"generateName\":");
	json_buf_str(&sb, gen);
	util_buf_str(&sb, ",\"namespace\":\"default\"},\"involvedObject\":{\"apiVersion\":\"v1\","
	    "\"kind\":\"Node\",\"name\":");
	json_buf_str(&sb, node);
	if (uid != NULL && uid[0] != '\0') {
		util_buf_str(&sb, ",\"uid\":");
		json_buf_str(&sb, uid);
	}
	util_buf_str(&sb, "},\"reason\":");
	json_buf_str(&sb, reason);
	util_buf_str(&sb, ",\"message\":");
	json_buf_str(&sb, message);
	util_buf_str(&sb, ",\"type\":");
	json_buf_str(&sb, type);
	util_buf_str(&sb, ",\"source\":{\"component\":\"despotify\",\"host\":");
	json_buf_str(&sb, node);
	util_buf_str(&sb, "},\"firstTimestamp\":");
	json_buf_str(&sb, ts);
	util_buf_str(&sb, ",\"lastTimestamp\":");
	json_buf_str(&sb, ts);
	util_buf_str(&sb, ",\"count\":1,\"reportingComponent\":\"despotify\",\"reportingInstance\":");
	json_buf_str(&sb, node);
	util_buf_str(&sb, "}");
	return util_buf_done(&sb);
}

/* Appends the members of DeleteOptions: the grace period and, given a uid, its precondition. */
static void
delete_options(struct util_buf *sb, const char *uid, int grace)
{
	util_buf_str(sb, "\"gracePeriodSeconds\":");
	util_buf_fmt(sb, "%d", grace);
	if (uid != NULL && uid[0] != '\0') {
		util_buf_str(sb, ",\"preconditions\":{\"uid\":");
		json_buf_str(sb, uid);
		util_buf_str(sb, "}");
	}
}

int
k8s_eviction_body(char *out, size_t cap, const char *ns, const char *name, const char *uid,
    int grace)
{
	struct util_buf sb;

	util_buf_init(&sb, out, cap);
	util_buf_str(&sb, "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":");
	json_buf_str(&sb, name);
	util_buf_str(&sb, ",\"namespace\":");
	json_buf_str(&sb, ns);
	util_buf_str(&sb, "},\"deleteOptions\":{");
	delete_options(&sb, uid, grace);
	util_buf_str(&sb, "}}");
	return util_buf_done(&sb);
}

int
k8s_delete_body(char *out, size_t cap, const char *uid, int grace)
{
	struct util_buf sb;

	util_buf_init(&sb, out, cap);
	util_buf_str(&sb, "{\"apiVersion\":\"v1\",\"kind\":\"DeleteOptions\",");
	delete_options(&sb, uid, grace);
	util_buf_str(&sb, "}");
	return util_buf_done(&sb);
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

/* The identity of the file at path, or -1 with "what path: reason" in err. */
static int
file_id(const char *what, const char *path, struct k8s_file_id *id, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		util_fmt(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->size = st.st_size;
	id->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	return 0;
}

static int
same_file(const struct k8s_file_id *a, const struct k8s_file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

/* Takes the token t[0..len) as the bearer token; refuses bytes a header cannot carry. */
static int
token_set(struct k8s *k, const char *what, const char *t, size_t len, char *err, size_t errlen)
{
	size_t i;

	if (len == 0) {
		util_fmt(err, errlen, "%s: empty", what);
		return -1;
	}
	if (len >= FILE_MAX_TOKEN) {
		util_fmt(err, errlen, "%s: over %d bytes", what, FILE_MAX_TOKEN - 1);
		return -1;
	}
	for (i = 0; i < len; i++)
		if (t[i] <= 0x20 || t[i] >= 0x7f) {
			/* Never echo the token itself. */
			util_fmt(err, errlen, "%s: the token holds a byte that cannot go in a header (at "
			    "offset %zu)", what, i);
			return -1;
		}
	memmove(k->token, t, len);
	k->token[len] = '\0';
	k->token_len = len;
	k->token_reads++;
	metrics_inc(k->metrics, M_CRED_K8S_OK);
	return 0;
}

/*
 * Re-reads the token file if it changed since the last read (or always, if
 * force). Called with k->mu held. A failed re-read keeps the token we have.
 */
static int
token_refresh(struct k8s *k, int force, char *err, size_t errlen)
{
	struct k8s_file_id id;
	char *tmp = k->token + FILE_MAX_TOKEN, what[CONFIG_MAX_STR + 16];
	const char *t;
	size_t len;
	int r;

	if (file_id("token_file", k->token_path, &id, err, errlen) < 0)
		return -1;
	if (!force && k->token_len > 0 && same_file(&id, &k->tok_id))
		return 0;
	if (util_read_file(k->token_path, tmp, FILE_MAX_TOKEN, &len, err, errlen) < 0)
		return -1;
	t = util_trim(tmp, &len);
	util_fmt(what, sizeof what, "token_file %s", k->token_path);
	if ((r = token_set(k, what, t, len, err, errlen)) == 0)
		k->tok_id = id;
	memset(tmp, 0, FILE_MAX_TOKEN);
	return r;
}

/*
 * Makes a new EKS token when the one in use is eks_refresh_ms old, or
 * always if force (after a 401). Called with k->mu held. A failure keeps
 * the current token while it is younger than eks_max_age_ms; past that
 * nothing is sent, since the API server would refuse it anyway.
 */
static int
eks_refresh(struct k8s *k, int force, int64_t deadline_ms, char *err, size_t errlen)
{
	char *tmp = k->token + FILE_MAX_TOKEN, e[768], when[32];
	int64_t now = util_now_ms(), signed_s;
	int r;

	if (!force && k->token_len > 0 && now - k->token_made_ms < k->eks_refresh_ms)
		return 0;
	r = aws_eks_token(k->aws, k->eks_cluster, deadline_ms, tmp, FILE_MAX_TOKEN, &signed_s,
	    e, sizeof e);
	if (r == 0 && (r = token_set(k, "EKS token", tmp, strlen(tmp), e, sizeof e)) == 0) {
		k->token_made_ms = now;
		log_debug(k->lg, "k8s: made an EKS token for cluster %s (signed at %s)", k->eks_cluster,
		    util_fmt_time(when, sizeof when, signed_s));
	}
	memset(tmp, 0, FILE_MAX_TOKEN);
	if (r == 0)
		return 0;
	if (k->token_len > 0 && now - k->token_made_ms < k->eks_max_age_ms) {
		log_limited(k->lg, &k->auth_ll, 60000, LV_WARNING, "k8s: %s; the current EKS token (%lld s "
		    "old) serves meanwhile", e, (long long)((now - k->token_made_ms) / 1000));
		return 0;
	}
	memset(k->token, 0, FILE_MAX_TOKEN);
	k->token_len = 0;
	util_fmt(err, errlen, "%s", e);
	return -1;
}

/*
 * A TLS configuration from k's trust, server name and client identity (kc:
 * the kubeconfig's certificate data, for K8S_AUTH_CERT_DATA only). Returns
 * it, or NULL with the reason in err.
 */
static struct tls_config *
tls_build(const struct k8s *k, const struct kubeconfig *kc, char *err, size_t errlen)
{
	struct tls_config *tc = tls_config_new();
	char e[768];

	if (tc == NULL) {
		util_fmt(err, errlen, "out of memory");
		return NULL;
	}
	if (k->ca_pem != NULL ? tls_config_add_pem(tc, k->ca_pem, k->ca_pem_len, e, sizeof e) < 0 :
	    tls_config_add_pem_file(tc, k->ca_file, e, sizeof e) < 0) {
		util_fmt(err, errlen, "%s: %s", k->ca_pem != NULL ? "certificate-authority-data" : "ca_file", e);
		goto fail;
	}
	if ((k->auth == K8S_AUTH_CERT_FILES &&
	    tls_config_set_client_cert(tc, k->cert_path, k->key_path, e, sizeof e) < 0) ||
	    (k->auth == K8S_AUTH_CERT_DATA && tls_config_set_client_cert_pem(tc,
	    (const char *)kc->cert_data, kc->cert_data_len, (const char *)kc->key_data, kc->key_data_len,
	    e, sizeof e) < 0)) {
		util_fmt(err, errlen, "client certificate: %s", e);
		goto fail;
	}
	if (k->server_name[0] != '\0' && tls_config_set_server_name(tc, k->server_name) < 0) {
		util_fmt(err, errlen, "tls_server_name \"%s\" is not usable", k->server_name);
		goto fail;
	}
	return tc;
fail:
	tls_config_free(tc);
	return NULL;
}

/*
 * Reloads the client certificate and key files if either changed since
 * they were loaded. The configuration they replace is retired, not freed:
 * a handshake in another thread may be using it (k8s_close frees it).
 * Called with k->mu held. Returns 1 if a new certificate was loaded, 0 if
 * nothing changed, -1 with the reason in err (the old one stays in use).
 */
static int
cert_refresh(struct k8s *k, char *err, size_t errlen)
{
	struct k8s_file_id c, kid;
	struct tls_config *tc;

	if (file_id("client certificate", k->cert_path, &c, err, errlen) < 0 ||
	    file_id("client key", k->key_path, &kid, err, errlen) < 0)
		return -1;
	if (same_file(&c, &k->cert_id) && same_file(&kid, &k->key_id))
		return 0;
	if (k->ntls_retired == K8S_MAX_TLS_RETIRED) {
		util_fmt(err, errlen, "client certificate %s changed more than %d times since start; "
		    "restart despotify to use the new one", k->cert_path, K8S_MAX_TLS_RETIRED);
		return -1;
	}
	if ((tc = tls_build(k, NULL, err, errlen)) == NULL)
		return -1;
	k->tls_retired[k->ntls_retired++] = k->tls;
	k->tls = tc;
	k->cert_id = c;
	k->key_id = kid;
	k->cert_loads++;
	log_info(k->lg, "k8s: client certificate %s changed; new connections use the new one",
	    k->cert_path);
	return 1;
}

/* The kubeconfig's cluster and user, into k. The kubeconfig's data is copied out of sc. */
static int
from_kubeconfig(struct k8s *k, const struct config *cfg, struct kubeconfig *kc,
    struct kubeconfig_scratch *sc, char *err, size_t errlen)
{
	if (kubeconfig_load(cfg->kubeconfig, kc, sc, err, errlen) < 0)
		return -1;
	util_strlcpy(k->server, kc->server, sizeof k->server);
	util_strlcpy(k->server_name, kc->tls_server_name, sizeof k->server_name);
	util_strlcpy(k->ca_file, kc->ca_file, sizeof k->ca_file);
	if (kc->ca_data != NULL) {
		if ((k->ca_pem = malloc(kc->ca_data_len)) == NULL) {
			util_fmt(err, errlen, "out of memory");
			return -1;
		}
		memcpy(k->ca_pem, kc->ca_data, kc->ca_data_len);
		k->ca_pem_len = kc->ca_data_len;
	}
	switch (kc->auth) {
	case KUBECONFIG_CERT:
		k->auth = kc->cert_data != NULL ? K8S_AUTH_CERT_DATA : K8S_AUTH_CERT_FILES;
		util_strlcpy(k->cert_path, kc->cert_file, sizeof k->cert_path);
		util_strlcpy(k->key_path, kc->key_file, sizeof k->key_path);
		break;
	case KUBECONFIG_TOKEN:
		k->auth = K8S_AUTH_TOKEN;
		break;
	case KUBECONFIG_TOKEN_FILE:
		k->auth = K8S_AUTH_TOKEN_FILE;
		util_strlcpy(k->token_path, kc->token_file, sizeof k->token_path);
		break;
	case KUBECONFIG_EKS:
		k->auth = K8S_AUTH_EKS;
		util_strlcpy(k->eks_cluster, kc->eks_cluster, sizeof k->eks_cluster);
		break;
	}
	util_fmt(k->auth_desc, sizeof k->auth_desc, "kubeconfig %.150s, context %.60s: %.250s",
	    cfg->kubeconfig, kc->context, kc->user_desc);
	return 0;
}

/* The server, trust and kind of authentication from the settings (no kubeconfig). */
static int
from_settings(struct k8s *k, const struct config *cfg, char *err, size_t errlen)
{
	util_strlcpy(k->server, cfg->api_server, sizeof k->server);
	util_strlcpy(k->server_name, cfg->tls_server_name, sizeof k->server_name);
	util_strlcpy(k->ca_file, cfg->ca_file, sizeof k->ca_file);
	if ((cfg->client_cert_file[0] != '\0') != (cfg->client_key_file[0] != '\0')) {
		util_fmt(err, errlen, "client_cert_file and client_key_file go together");
		return -1;
	}
	if (cfg->eks_cluster_name[0] != '\0') {
		k->auth = K8S_AUTH_EKS;
		util_strlcpy(k->eks_cluster, cfg->eks_cluster_name, sizeof k->eks_cluster);
		util_fmt(k->auth_desc, sizeof k->auth_desc, "native EKS token for cluster %s",
		    k->eks_cluster);
	} else if (cfg->client_cert_file[0] != '\0') {
		k->auth = K8S_AUTH_CERT_FILES;
		util_strlcpy(k->cert_path, cfg->client_cert_file, sizeof k->cert_path);
		util_strlcpy(k->key_path, cfg->client_key_file, sizeof k->key_path);
		util_fmt(k->auth_desc, sizeof k->auth_desc, "client certificate %.200s", k->cert_path);
	} else {
		k->auth = K8S_AUTH_TOKEN_FILE;
		util_strlcpy(k->token_path, cfg->token_file, sizeof k->token_path);
		util_fmt(k->auth_desc, sizeof k->auth_desc, "token_file %.200s", k->token_path);
	}
	return 0;
}

/*
 * The credentials' first load: the TLS configuration with the client
 * certificate, the token, or the AWS credential chain for EKS tokens.
 */
static int
credentials_init(struct k8s *k, const struct config *cfg, const struct kubeconfig *kc,
    char *const *envp, char *err, size_t errlen)
{
	const char *region = kc != NULL && kc->eks_region[0] != '\0' ? kc->eks_region : cfg->region;
	char e[768];

	if ((k->auth == K8S_AUTH_CERT_FILES || k->auth == K8S_AUTH_CERT_DATA) && !k->base.tls) {
		util_fmt(err, errlen, "a client certificate needs an https:// API server");
		return -1;
	}
	if (k->auth == K8S_AUTH_CERT_FILES &&
	    (file_id("client certificate", k->cert_path, &k->cert_id, err, errlen) < 0 ||
	    file_id("client key", k->key_path, &k->key_id, err, errlen) < 0))
		return -1;
	if (k->base.tls && (k->tls = tls_build(k, kc, err, errlen)) == NULL)
		return -1;
	k->cert_loads = k->auth == K8S_AUTH_CERT_FILES || k->auth == K8S_AUTH_CERT_DATA;
	k->use_token = k->auth == K8S_AUTH_TOKEN || k->auth == K8S_AUTH_TOKEN_FILE ||
	    k->auth == K8S_AUTH_EKS;
	if (k->auth == K8S_AUTH_TOKEN)
		return token_set(k, "the kubeconfig's token", kc->token, strlen(kc->token), err, errlen);
	if (k->auth == K8S_AUTH_TOKEN_FILE)
		return token_refresh(k, 1, err, errlen);
	if (k->auth != K8S_AUTH_EKS)
		return 0;
	if ((k->aws = calloc(1, sizeof *k->aws)) == NULL) {
		util_fmt(err, errlen, "out of memory");
		return -1;
	}
	if (aws_init(k->aws, cfg, k->lg, envp, region, e, sizeof e) < 0) {
		util_fmt(err, errlen, "EKS token: %s%s", e, region[0] == '\0' ?
		    " (or give --region in the kubeconfig's exec args)" : "");
		free(k->aws);
		k->aws = NULL;
		return -1;
	}
	return 0;
}

/* Frees what k8s_init may have set up before failing, or what k8s_close releases. */
static void
release(struct k8s *k)
{
	int i;

	tls_config_free(k->tls);
	for (i = 0; i < k->ntls_retired; i++)
		tls_config_free(k->tls_retired[i]);
	if (k->aws != NULL) {
		aws_close(k->aws);
		free(k->aws);
	}
	if (k->token != NULL)
		memset(k->token, 0, 2 * FILE_MAX_TOKEN);
	free(k->token);
	free(k->ca_pem);
	free(k->buf);
	free(k->toks);
	memset(k, 0, sizeof *k);
}

/* The server URL: its base path and the proxy settings. */
static int
base_init(struct k8s *k, char *const *envp, char *err, size_t errlen)
{
	char e[256];
	size_t n;

	if (k->server[0] == '\0') {
		util_fmt(err, errlen, "api_server is not set (and KUBERNETES_SERVICE_HOST is not in the "
		    "environment)");
		return -1;
	}
	if (url_parse(k->server, &k->base, e, sizeof e) < 0) {
		util_fmt(err, errlen, "api_server %s: %s", k->server, e);
		return -1;
	}
	n = strcspn(k->base.path, "?");
	while (n > 0 && k->base.path[n - 1] == '/')
		n--;
	memcpy(k->base_path, k->base.path, n);
	k->base_path[n] = '\0';
	if (http_proxy_from_env(&k->proxy, envp, e, sizeof e) < 0) {
		util_fmt(err, errlen, "Kubernetes API proxy: %s", e);
		return -1;
	}
	return 0;
}

int
k8s_init(struct k8s *k, const struct config *cfg, const struct log *lg, char *const *envp,
    char *err, size_t errlen)
{
	struct kubeconfig_scratch *sc = NULL;
	struct kubeconfig kc;
	int r = -1;

	memset(k, 0, sizeof *k);
	k->cfg = cfg;
	k->lg = lg;
	k->eks_refresh_ms = K8S_EKS_TOKEN_REFRESH_MS;
	k->eks_max_age_ms = K8S_EKS_TOKEN_MAX_AGE_MS;
	k->buf = malloc(K8S_BUF);
	k->toks = malloc(sizeof *k->toks * K8S_TOKS);
	k->token = calloc(2, FILE_MAX_TOKEN);
	if (k->buf == NULL || k->toks == NULL || k->token == NULL ||
	    (cfg->kubeconfig[0] != '\0' && (sc = malloc(sizeof *sc)) == NULL)) {
		util_fmt(err, errlen, "out of memory");
		goto done;
	}
	if ((sc != NULL ? from_kubeconfig(k, cfg, &kc, sc, err, errlen) :
	    from_settings(k, cfg, err, errlen)) < 0 || base_init(k, envp, err, errlen) < 0 ||
	    credentials_init(k, cfg, sc != NULL ? &kc : NULL, envp, err, errlen) < 0)
		goto done;
	pthread_mutex_init(&k->mu, NULL);
	pthread_mutex_init(&k->ev_mu, NULL);
	http_client_init(&k->hc, k->tls, &k->proxy);
	http_client_init(&k->ev_hc, k->tls, &k->proxy);
	log_info(lg, "k8s: API server %s; authentication: %s", k->server, k->auth_desc);
	r = 0;
done:
	if (sc != NULL) {
		/* It held the kubeconfig's key or token. */
		memset(sc, 0, sizeof *sc);
		free(sc);
	}
	memset(&kc, 0, sizeof kc);
	if (r < 0)
		release(k);
	return r;
}

void
k8s_close(struct k8s *k)
{
	http_client_close(&k->hc);
	http_client_close(&k->ev_hc);
	pthread_mutex_destroy(&k->mu);
	pthread_mutex_destroy(&k->ev_mu);
	release(k);
}

void
k8s_client_init(struct k8s *k, struct http_client *hc)
{
	pthread_mutex_lock(&k->mu);
	http_client_init(hc, k->tls, &k->proxy);
	pthread_mutex_unlock(&k->mu);
}

/* ---- Requests -------------------------------------------------------------------------- */

/*
 * Brings the credentials up to date for one attempt (force: after a 401)
 * and writes the Authorization header value into auth ("" for a client
 * certificate). Moves hc to a reloaded client certificate: its connection
 * and TLS session go, so that the next handshake presents the new one.
 */
static int
auth_prepare(struct k8s *k, struct http_client *hc, int force, int64_t deadline_ms,
    char *auth, size_t cap, char *err, size_t errlen)
{
	const struct tls_config *tls;
	char e[768];
	int r = 0;

	auth[0] = '\0';
	pthread_mutex_lock(&k->mu);
	if (k->auth == K8S_AUTH_TOKEN_FILE) {
		/* A rotated token is picked up before it is needed; a failed re-read keeps the old one. */
		if (token_refresh(k, force, err, errlen) < 0 && k->token_len == 0)
			r = -1;
	} else if (k->auth == K8S_AUTH_EKS) {
		r = eks_refresh(k, force, deadline_ms, err, errlen);
	} else if (k->auth == K8S_AUTH_CERT_FILES && cert_refresh(k, e, sizeof e) < 0) {
		log_limited(k->lg, &k->auth_ll, 60000, LV_WARNING,
		    "k8s: %s; the certificate loaded before serves meanwhile", e);
	}
	if (r < 0)
		metrics_inc(k->metrics, M_CRED_K8S_ERROR);
	if (r == 0 && k->use_token && util_snprintf(auth, cap, "Bearer %s", k->token) < 0) {
		util_fmt(err, errlen, "the bearer token is over %zu bytes", cap - 8);
		r = -1;
	}
	tls = k->tls;
	pthread_mutex_unlock(&k->mu);
	if (hc->tls != tls) {
		http_client_close(hc);
		hc->tls = tls;
	}
	return r;
}

/* After a 401: whether a retry may help (it then uses fresh credentials), logged. */
static int
retry_unauthorized(struct k8s *k, const char *method, const char *path)
{
	char e[768];
	int r;

	switch (k->auth) {
	case K8S_AUTH_TOKEN_FILE:
		log_info(k->lg, "k8s: %s %s: 401 Unauthorized; re-reading token_file %s and retrying",
		    method, path, k->token_path);
		return 1;
	case K8S_AUTH_EKS:
		log_info(k->lg, "k8s: %s %s: 401 Unauthorized; making a new EKS token and retrying",
		    method, path);
		return 1;
	case K8S_AUTH_CERT_FILES:
		pthread_mutex_lock(&k->mu);
		r = cert_refresh(k, e, sizeof e);
		pthread_mutex_unlock(&k->mu);
		if (r == 1)
			log_info(k->lg, "k8s: %s %s: 401 Unauthorized; retrying with the new client "
			    "certificate", method, path);
		return r == 1;
	default:
		return 0;
	}
}

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
		log_info(k->lg, "dry-run: would %s %s%s%s%.*s", method, k->server, path,
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
		util_fmt(err, errlen, "%s %s: path over %d bytes", method, path, URL_MAX_PATH - 1);
		return -1;
	}
	for (attempt = 0;; attempt++) {
		nh = 0;
		h[nh++] = (struct http_header){ "Accept", "application/json" };
		if (ctype != NULL)
			h[nh++] = (struct http_header){ "Content-Type", ctype };
		rc = auth_prepare(k, hc, attempt > 0, deadline_ms, auth, sizeof auth, err, errlen);
		if (rc == 0 && auth[0] != '\0')
			h[nh++] = (struct http_header){ "Authorization", auth };
		req = (struct http_request){ .method = method, .url = &u, .headers = h, .nheaders = nh,
			.body = body, .body_len = body_len, .idempotent = 1 };
		if (rc == 0) {
			rc = http_do(hc, &req, resp, deadline_ms, err, errlen);
			metrics_api(k->metrics, MEP_K8S, rc < 0 ? -1 : resp->status);
		}
		memset(auth, 0, sizeof auth);
		if (rc < 0)
			return -1;
		if (resp->status != 401 || attempt > 0 || !retry_unauthorized(k, method, path))
			return 0;
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

/*
 * The wait before try attempt + 1 of a request that must be done by
 * deadline_ms: what a 429 or 503 asked for (Retry-After, capped by
 * util_retry_after_cap, plus up to half again at random so that throttled
 * clients do not come back together), else the backoff for attempt.
 */
static int64_t
retry_wait(const struct http_response *resp, int attempt, int64_t deadline_ms)
{
	const char *v;
	size_t n;
	int64_t ms;

	if (resp == NULL || (v = http_header(resp, "Retry-After", &n)) == NULL ||
	    util_retry_after_parse(v, n, util_wall_ms() / 1000, &ms) < 0)
		return k8s_backoff_ms(attempt);
	if (ms < K8S_RETRY_MIN_MS)
		ms = K8S_RETRY_MIN_MS;
	ms += (int64_t)(util_random() % (uint32_t)(ms / 2 + 1));
	return util_retry_after_cap(ms, deadline_ms - util_now_ms());
}

/*
 * Whether a 403 is worth another try (K8S_FORBIDDEN_GRACE_MS): *since holds
 * the time of the first one (0: none yet) and is set by the first call.
 */
static int
forbidden_may_pass(int64_t *since)
{
	int64_t now = util_now_ms();

	if (*since == 0)
		*since = now;
	return now - *since < K8S_FORBIDDEN_GRACE_MS;
}

/* A request deadline: the caller's, but no more than K8S_REQUEST_TIMEOUT_MS from now. */
static int64_t
req_deadline(int64_t deadline_ms)
{
	int64_t d = util_now_ms() + K8S_REQUEST_TIMEOUT_MS;

	return d < deadline_ms ? d : deadline_ms;
}

/* One k8s_cordon call: its own client and buffers, so that it runs beside the listing. */
struct cordon {
	struct k8s *k;
	const char *node;
	const char *cause;              /* recorded on the Node (k8s_cordon_record); NULL: nothing */
	const int64_t *deadline;
	struct k8s_cordon_result *r;
	struct k8s_taint taint;
	int use_taint;                  /* 0: none configured, or the server refused it */
	int attempt, conflicts;
	int changed;                    /* a patch was accepted (not "already cordoned") */
	int granted;                    /* a GET was answered 200 */
	int64_t forbidden_since;        /* the first 403 to a GET before that (0: none) */
	struct http_client hc;
	struct http_response resp;
	char *buf, *patch;
	struct json_tok *toks;
	char path[64 + 3 * K8S_MAX_NAME];
	char last[384];                 /* the last transient fault, for the final error */
};

enum cordon_step {
	CORDON_DONE,                    /* the node is cordoned (or already was) */
	CORDON_FAIL,                    /* refused for good: r->err says why */
	CORDON_WAIT,                    /* a transient fault: try again after *wait */
	CORDON_AGAIN,                   /* a 409: read the node again at once */
	CORDON_NO_TAINT,                /* the taint was refused: again at once, without it */
};

static int64_t
cordon_deadline(const struct cordon *c)
{
	return __atomic_load_n(c->deadline, __ATOMIC_ACQUIRE);
}

/* Sends one request on the cordon's own client. Returns what k8s_request does. */
static int
cordon_request(struct cordon *c, const char *method, const char *body)
{
	c->resp = (struct http_response){ .body = c->buf, .body_cap = K8S_MAX_BODY };
	return k8s_request(c->k, &c->hc, method, c->path, body ? "application/merge-patch+json" : NULL,
	    body, body ? strlen(body) : 0, &c->resp, req_deadline(cordon_deadline(c)), c->last,
	    sizeof c->last);
}

/* The answer's Status message, after "what: status: ". */
static void
cordon_describe(struct cordon *c, char *out, size_t n, const char *what)
{
	char msg[256];

	k8s_status_message(c->resp.body, c->resp.body_len, msg, sizeof msg);
	util_fmt(out, n, "%s node %s: %d: %s", what, c->node, c->resp.status, msg);
}

/* PATCHes the node with c->patch and reads the answer. */
static enum cordon_step
cordon_patch(struct cordon *c, int64_t *wait)
{
	int st;

	if (cordon_request(c, "PATCH", c->patch) < 0) {
		*wait = k8s_backoff_ms(c->attempt);
		return CORDON_WAIT;
	}
	st = c->resp.status;
	if (st == K8S_DRY_RUN || st == 200) {
		c->changed = 1;
		return CORDON_DONE;
	}
	if (st == 409) {
		/* Someone changed the node since our GET: read it again and redo the patch. */
		log_info(c->k->lg, "k8s: node %s changed while we patched it (409 Conflict); "
		    "re-reading it", c->node);
		if (++c->conflicts <= 3)
			return CORDON_AGAIN;
		*wait = k8s_backoff_ms(c->conflicts - 4);
		return CORDON_WAIT;
	}
	if (st == 403 && c->use_taint) {
		/*
		 * The Node authorizer with NodeRestriction lets a node make itself
		 * unschedulable and label itself, never taint itself: the cordon
		 * goes on without the taint, rather than leave the node schedulable.
		 */
		cordon_describe(c, c->r->err, sizeof c->r->err, "PATCH");
		log_warning(c->k->lg, "k8s: the API server refused to taint node %s (%s); cordoning it "
		    "without the taint", c->node, c->r->err);
		c->r->err[0] = '\0';
		c->use_taint = 0;
		c->r->taint_refused = 1;
		return CORDON_NO_TAINT;
	}
	if (st == 404 || st == 400 || st == 403 || st == 415 || st == 422) {
		cordon_describe(c, c->r->err, sizeof c->r->err, "PATCH");
		return CORDON_FAIL;
	}
	cordon_describe(c, c->last, sizeof c->last, "PATCH");
	*wait = retry_wait(&c->resp, c->attempt, cordon_deadline(c));
	return CORDON_WAIT;
}

/* One try: GET the node, build the patch, send it. */
static enum cordon_step
cordon_try(struct cordon *c, int64_t *wait)
{
	char msg[256], uid[K8S_MAX_UID];
	int r;

	if (cordon_request(c, "GET", NULL) < 0) {
		*wait = k8s_backoff_ms(c->attempt);
		return CORDON_WAIT;
	}
	if (c->resp.status == 404 ||
	    (c->resp.status == 403 && (c->granted || !forbidden_may_pass(&c->forbidden_since)))) {
		cordon_describe(c, c->r->err, sizeof c->r->err, "GET");
		return CORDON_FAIL;
	}
	if (c->resp.status != 200) {
		cordon_describe(c, c->last, sizeof c->last, "GET");
		*wait = retry_wait(&c->resp, c->attempt, cordon_deadline(c));
		return CORDON_WAIT;
	}
	c->granted = 1;
	r = k8s_cordon_patch_build(c->resp.body, c->resp.body_len, c->toks, K8S_MAX_TOKENS,
	    c->use_taint ? &c->taint : NULL, c->k->cfg->exclude_from_lb, c->cause, c->patch,
	    K8S_MAX_REQ_BODY, uid, sizeof uid, msg, sizeof msg);
	if (r < 0) {
		util_fmt(c->last, sizeof c->last, "GET node %s: unusable answer: %s", c->node, msg);
		*wait = k8s_backoff_ms(c->attempt);
		return CORDON_WAIT;
	}
	pthread_mutex_lock(&c->k->mu);
	util_fmt(c->k->node_uid, sizeof c->k->node_uid, "%s", uid);
	pthread_mutex_unlock(&c->k->mu);
	if (r == 0) {
		log_info(c->k->lg, "k8s: node %s is already cordoned", c->node);
		return CORDON_DONE;
	}
	return cordon_patch(c, wait);
}

/* Sets c up; returns 0 or -1 with r->err. */
static int
cordon_setup(struct cordon *c)
{
	char enc[3 * K8S_MAX_NAME];
	const char *taint = c->k->cfg->taint;

	if (taint[0] != '\0') {
		if (k8s_taint_parse(taint, &c->taint, c->r->err, sizeof c->r->err) < 0)
			return -1;
		c->use_taint = 1;
	}
	if (strlen(c->node) >= K8S_MAX_NAME ||
	    url_encode(c->node, strlen(c->node), enc, sizeof enc, 0) < 0) {
		util_fmt(c->r->err, sizeof c->r->err, "node name over %d bytes", K8S_MAX_NAME - 1);
		return -1;
	}
	util_fmt(c->path, sizeof c->path, "/api/v1/nodes/%s", enc);
	c->buf = malloc(K8S_MAX_BODY);
	c->patch = malloc(K8S_MAX_REQ_BODY);
	c->toks = malloc(sizeof *c->toks * K8S_MAX_TOKENS);
	if (c->buf == NULL || c->patch == NULL || c->toks == NULL) {
		util_fmt(c->r->err, sizeof c->r->err, "out of memory");
		return -1;
	}
	k8s_client_init(c->k, &c->hc);
	util_fmt(c->last, sizeof c->last, "no answer yet");
	return 0;
}

/* Says what the cordon did: the result's flags, one log line, one Event. */
static void
cordon_report(struct cordon *c, int done)
{
	struct k8s_cordon_result *r = c->r;
	const char *taint = c->k->cfg->taint;

	r->unschedulable = done;
	r->labelled = done;
	r->tainted = done && (c->use_taint || taint[0] == '\0');
	if (!c->changed)
		return;
	log_info(c->k->lg, "k8s: %snode %s %scordoned (unschedulable%s%s%s)",
	    c->k->cfg->dry_run ? "dry-run: " : "", c->node, c->k->cfg->dry_run ? "would be " : "",
	    c->use_taint ? ", taint " : "", c->use_taint ? taint : "",
	    c->k->cfg->exclude_from_lb ? ", excluded from load balancers" : "");
	event_by(c->k, cordon_deadline(c), c->node, r->taint_refused ? "Warning" : "Normal", "Cordoned",
	    "Node cordoned by despotify%s%s%s", c->use_taint ? " and tainted " : "",
	    c->use_taint ? taint : "", r->taint_refused ? " without its taint: the API server "
	    "refused the taint change (NodeRestriction)" : "");
}

int
k8s_cordon(struct k8s *k, const char *node, const char *cause, const int64_t *deadline_ms,
    k8s_cordon_fn answered, void *arg, struct k8s_cordon_result *r)
{
	struct cordon c = { .k = k, .node = node, .cause = cause, .deadline = deadline_ms, .r = r };
	struct log_limit ll = { 0, 0 };
	enum cordon_step step = CORDON_FAIL;
	int64_t t0 = util_now_ms(), wait = 0;
	int told = 0;

	memset(r, 0, sizeof *r);
	if (cordon_setup(&c) == 0) {
		for (;; c.attempt++) {
			if (util_now_ms() >= cordon_deadline(&c)) {
				util_fmt(r->err, sizeof r->err, "deadline passed (last: %s)", c.last);
				step = CORDON_FAIL;
				break;
			}
			step = cordon_try(&c, &wait);
			if (!told && step != CORDON_NO_TAINT && answered != NULL) {
				answered(arg);
				told = 1;
			}
			if (step == CORDON_DONE || step == CORDON_FAIL)
				break;
			if (step == CORDON_WAIT) {
				log_limited(k->lg, &ll, 5000, LV_WARNING, "k8s: cordon node %s: %s; retrying",
				    node, c.last);
				sleep_before(wait, cordon_deadline(&c));
			}
		}
		http_client_close(&c.hc);
	}
	/* The drain never waits on a cordon that has ended, however it ended. */
	if (!told && answered != NULL)
		answered(arg);
	cordon_report(&c, step == CORDON_DONE);
	free(c.buf);
	free(c.patch);
	free(c.toks);
	r->ms = util_now_ms() - t0;
	return step == CORDON_DONE ? 0 : -1;
}

/* One try at undoing the cordon; *undone set once the patch went through. */
static enum cordon_step
uncordon_try(struct cordon *c, k8s_undo_fn undo, void *arg, struct k8s_cordon_record *rec,
    int *undone, int64_t *wait)
{
	char msg[256];
	int r;

	*wait = k8s_backoff_ms(c->attempt);
	if (cordon_request(c, "GET", NULL) < 0)
		return CORDON_WAIT;
	if (c->resp.status == 404)
		return CORDON_DONE;         /* no node: nothing of ours to undo */
	if (c->resp.status != 200) {
		cordon_describe(c, c->last, sizeof c->last, "GET");
		*wait = retry_wait(&c->resp, c->attempt, cordon_deadline(c));
		return CORDON_WAIT;
	}
	r = k8s_uncordon_patch_build(c->resp.body, c->resp.body_len, c->toks, K8S_MAX_TOKENS, rec,
	    c->patch, K8S_MAX_REQ_BODY, msg, sizeof msg);
	if (r <= 0) {
		if (r < 0)
			util_fmt(c->r->err, sizeof c->r->err, "node %s: %s", c->node, msg);
		return r < 0 ? CORDON_FAIL : CORDON_DONE;
	}
	if (undo != NULL && !undo(arg, rec))
		return CORDON_DONE;         /* still needed */
	if (cordon_request(c, "PATCH", c->patch) < 0)
		return CORDON_WAIT;
	if (c->resp.status == 200 || c->resp.status == K8S_DRY_RUN) {
		*undone = 1;
		return CORDON_DONE;
	}
	cordon_describe(c, c->last, sizeof c->last, "PATCH");
	if (c->resp.status == 409)
		return CORDON_AGAIN;
	if (c->resp.status >= 400 && c->resp.status < 500 && c->resp.status != 429) {
		util_fmt(c->r->err, sizeof c->r->err, "%s", c->last);
		return CORDON_FAIL;
	}
	*wait = retry_wait(&c->resp, c->attempt, cordon_deadline(c));
	return CORDON_WAIT;
}

int
k8s_uncordon(struct k8s *k, const char *node, int64_t deadline_ms, k8s_undo_fn undo, void *arg,
    struct k8s_cordon_record *rec, char *err, size_t errlen)
{
	struct k8s_cordon_result r;
	struct cordon c = { .k = k, .node = node, .deadline = &deadline_ms, .r = &r };
	enum cordon_step step = CORDON_FAIL;
	int64_t wait;
	int undone = 0;

	memset(&r, 0, sizeof r);
	memset(rec, 0, sizeof *rec);
	if (cordon_setup(&c) == 0) {
		for (; step != CORDON_DONE; c.attempt++) {
			if (util_now_ms() >= deadline_ms) {
				util_fmt(r.err, sizeof r.err, "deadline passed (last: %s)", c.last);
				step = CORDON_FAIL;
			} else if ((step = uncordon_try(&c, undo, arg, rec, &undone, &wait)) == CORDON_WAIT ||
			    (step == CORDON_AGAIN && c.attempt >= 3)) {
				sleep_before(wait, deadline_ms);    /* a 409 again and again: back off too */
			}
			if (step == CORDON_FAIL)
				break;
		}
		http_client_close(&c.hc);
	}
	free(c.buf);
	free(c.patch);
	free(c.toks);
	if (step != CORDON_DONE) {
		util_fmt(err, errlen, "%s", r.err);
		return -1;
	}
	if (undone) {
		log_info(k->lg, "k8s: %snode %s %suncordoned: despotify's cordon (%s) %s",
		    k->cfg->dry_run ? "dry-run: " : "", node, k->cfg->dry_run ? "would be " : "",
		    rec->cause, k->cfg->dry_run ? "not needed any more" : "undone");
		k8s_event(k, node, "Normal", "Uncordoned", "Node uncordoned by despotify: its cordon "
		    "(%s) is no longer needed", rec->cause);
	}
	return undone;
}

/* http_do's sink for a page: the body goes through the decoder as it arrives. */
static int
page_sink(void *arg, const char *p, size_t n, char *err, size_t errlen)
{
	return k8s_podlist_feed(arg, p, n, err, errlen) == 0 ? 0 : -1;
}

enum page_rc { PAGE_OK, PAGE_RETRY, PAGE_EXPIRED, PAGE_FORBIDDEN, PAGE_FATAL };

/*
 * GETs one page at path, streaming it through pl. Returns PAGE_OK (the page
 * is complete), PAGE_RETRY, PAGE_EXPIRED (410) or PAGE_FORBIDDEN (403) with
 * the reason in e and the wait in *wait, or PAGE_FATAL with the reason in e.
 */
static enum page_rc
list_page(struct k8s *k, const char *path, struct k8s_podlist *pl, int attempt,
    int64_t deadline_ms, int64_t *wait, char *e, size_t elen)
{
	struct http_response resp;
	char body[4096], msg[256], why[512];

	/* The sink takes a 200's body; any other answer's (a Status) lands in body. */
	resp = (struct http_response){ .body = body, .body_cap = sizeof body, .sink = page_sink,
		.sink_arg = pl, .sink_max = K8S_MAX_PAGE };
	*wait = k8s_backoff_ms(attempt);
	if (k8s_request(k, &k->hc, "GET", path, NULL, NULL, 0, &resp, req_deadline(deadline_ms),
	    why, sizeof why) < 0) {
		/* A refused pod ends the listing; a garbled page or a broken connection is retried. */
		util_fmt(e, elen, "%s%s", pl->js.failed ? "unreadable page: " : "", why);
		return pl->refused ? PAGE_FATAL : PAGE_RETRY;
	}
	if (resp.status == 200) {
		if (k8s_podlist_end(pl, why, sizeof why) < 0) {
			util_fmt(e, elen, "unreadable page: %s", why);
			return PAGE_RETRY;
		}
		return PAGE_OK;
	}
	k8s_status_message(resp.body, resp.body_len, msg, sizeof msg);
	util_fmt(e, elen, "%d: %s", resp.status, msg);
	if (resp.status == 410)
		return PAGE_EXPIRED;
	if (resp.status == 403)
		return PAGE_FORBIDDEN;
	if (resp.status == 400)
		return PAGE_FATAL;
	*wait = retry_wait(&resp, attempt, deadline_ms);
	return PAGE_RETRY;
}

/* Says, once in a while, which pods of a page were over the caps and left out. */
static void
log_skipped(struct k8s *k, const char *node, int page, const struct k8s_podlist *pl)
{
	if (pl->skipped > 0)
		log_limited(k->lg, &k->skip_ll, 60000, LV_ERROR, "k8s: list pods on node %s: page %d: "
		    "%d pod%s over the caps (%d bytes, %d JSON tokens) left out, not drained: %s%s",
		    node, page, pl->skipped, pl->skipped == 1 ? "" : "s", K8S_MAX_POD - 1,
		    K8S_POD_MAX_TOKENS, pl->skip_why, pl->skipped > 1 ? " (the first)" : "");
}

int
k8s_list_pods(struct k8s *k, const char *node, k8s_pod_fn fn, void *arg,
    int64_t deadline_ms, int *over_cap, char *err, size_t errlen)
{
	struct k8s_podlist pl;
	struct log_limit ll = { 0, 0 };
	char cont[K8S_MAX_CONTINUE], cenc[3 * K8S_MAX_CONTINUE], enc[3 * K8S_MAX_NAME];
	char path[sizeof cenc + sizeof enc + 128], e[768];
	int total = 0, skipped = 0, attempt = 0, page = 1, granted = 0;
	int64_t forbidden_since = 0;

	if (url_encode(node, strlen(node), enc, sizeof enc, 0) < 0) {
		util_fmt(err, errlen, "node name over %d bytes", K8S_MAX_NAME - 1);
		return -1;
	}
	cont[0] = '\0';
	util_fmt(e, sizeof e, "no answer yet");
	for (;;) {
		int64_t wait;
		enum page_rc rc;

		if (util_now_ms() >= deadline_ms) {
			util_fmt(err, errlen, "list pods on node %s: deadline passed (last: %s)", node, e);
			return -1;
		}
		if (cont[0] != '\0' && url_encode(cont, strlen(cont), cenc, sizeof cenc, 0) < 0) {
			util_fmt(err, errlen, "list pods: continue token too long");
			return -1;
		}
		util_fmt(path, sizeof path, "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s&limit=%d%s%s",
		    enc, K8S_LIST_LIMIT, cont[0] ? "&continue=" : "", cont[0] ? cenc : "");
		k8s_podlist_init(&pl, k->buf, K8S_MAX_POD, k->toks, K8S_POD_MAX_TOKENS,
		    k->cfg->pod_namespace, k->cfg->pod_name, fn, arg);
		rc = list_page(k, path, &pl, attempt, deadline_ms, &wait, e, sizeof e);
		if (rc == PAGE_FORBIDDEN)
			rc = !granted && forbidden_may_pass(&forbidden_since) ? PAGE_RETRY : PAGE_FATAL;
		if (rc == PAGE_FATAL) {
			util_fmt(err, errlen, "list pods on node %s: %s", node, e);
			return -1;
		}
		if (rc == PAGE_OK) {
			granted = 1;
			log_skipped(k, node, page, &pl);
			total += pl.pods;
			skipped += pl.skipped;
			attempt = 0;
			if (pl.cont[0] == '\0') {
				if (over_cap != NULL)
					*over_cap = skipped;
				return total;
			}
			memcpy(cont, pl.cont, sizeof cont);
			page++;
			continue;
		}
		if (rc == PAGE_EXPIRED) {
			/* The continue token expired: list again from the start (fn dedups). */
			log_info(k->lg, "k8s: list pods on node %s: continue token expired (%s); listing "
			    "again from the start", node, e);
			cont[0] = '\0';
			total = skipped = 0;
			page = 1;
		} else {
			log_limited(k->lg, &ll, 5000, LV_WARNING, "k8s: list pods on node %s: %s; retrying",
			    node, e);
		}
		attempt++;
		sleep_before(wait, deadline_ms);
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
	util_vfmt(msg, sizeof msg, fmt, ap);
	pthread_mutex_lock(&k->mu);
	util_fmt(uid, sizeof uid, "%s", k->node_uid);
	pthread_mutex_unlock(&k->mu);
	/*
	 * Before the cordon's GET the uid is unknown: the node's name stands in,
	 * as in the kubelet's own node Events (kubectl describe node finds both).
	 */
	if (uid[0] == '\0')
		util_fmt(uid, sizeof uid, "%s", node);
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
