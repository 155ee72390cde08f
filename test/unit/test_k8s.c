/* test_k8s.c — the pure parts of k8s.c and drain.c: taints, the cordon
 * patch, pod records from PodList pages, Status bodies, request bodies,
 * the drain's filter, grace and outcome rules. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drain.h"
#include "json.h"
#include "k8s.h"
#include "t.h"

static struct json_tok toks[4096];
static char pbuf[64 * 1024];   /* one pod of a streamed list */

/* ---- Taints ---- */

static void
test_taint_parse_good(void)
{
	/* The last: an empty value after '=' is allowed, as kubectl allows it. */
	static const struct { const char *spec, *key, *value, *effect; } cases[] = {
		{ "despotify/spot-termination:NoSchedule", "despotify/spot-termination", "", "NoSchedule" },
		{ "spot=true:NoExecute", "spot", "true", "NoExecute" },
		{ "example.com/a_b.c-d=v-1.2_x:PreferNoSchedule", "example.com/a_b.c-d", "v-1.2_x", "PreferNoSchedule" },
		{ "k=:NoSchedule", "k", "", "NoSchedule" },
	};
	struct k8s_taint t;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		t_case = cases[i].spec;
		CHECK_INT(k8s_taint_parse(cases[i].spec, &t, err, sizeof err), 0);
		CHECK_STR(t.key, cases[i].key);
		CHECK_STR(t.value, cases[i].value);
		CHECK_STR(t.effect, cases[i].effect);
	}
}

static void
test_taint_parse_bad(void)
{
	struct k8s_taint t;
	char err[256], long_name[80], long_value[100];
	const char *bad[] = {
		"", "nocolon", "key:", "key:NoSchedul", "key:noschedule", ":NoSchedule",
		"=v:NoSchedule", "has space:NoSchedule", "-dash:NoSchedule", "dash-:NoSchedule",
		"Upper.Case/name:NoSchedule", "/name:NoSchedule", "prefix/:NoSchedule",
		"k=va lue:NoSchedule", "k=-v:NoSchedule", "k=v=w:NoSchedule", "a/b/c:NoSchedule",
	};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		CHECK_INT(k8s_taint_parse(bad[i], &t, err, sizeof err), -1);
		CHECK(err[0] != '\0');
	}
	/* The name part is at most 63 characters, a value too. */
	memset(long_name, 'a', 64);
	strcpy(long_name + 64, ":NoSchedule");
	CHECK_INT(k8s_taint_parse(long_name, &t, err, sizeof err), -1);
	memset(long_name, 'a', 63);
	strcpy(long_name + 63, ":NoSchedule");
	CHECK_INT(k8s_taint_parse(long_name, &t, err, sizeof err), 0);
	strcpy(long_value, "k=");
	memset(long_value + 2, 'v', 64);
	strcpy(long_value + 66, ":NoSchedule");
	CHECK_INT(k8s_taint_parse(long_value, &t, err, sizeof err), -1);
	CHECK(strstr(err, "value") != NULL);
}

/* ---- The cordon patch ---- */

static const char node_json[] =
    "{\"kind\":\"Node\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"ip-10-0-1-23\","
    "\"uid\":\"0f3c9a2e-1111-2222-3333-444455556666\",\"resourceVersion\":\"12345\","
    "\"labels\":{\"kubernetes.io/hostname\":\"ip-10-0-1-23\"}},"
    "\"spec\":{\"providerID\":\"aws:///us-east-1a/i-0abc\",\"taints\":["
    "{\"key\":\"dedicated\",\"value\":\"gpu\",\"effect\":\"NoSchedule\"},"
    "{\"key\":\"node.kubernetes.io/not-ready\",\"effect\":\"NoExecute\",\"timeAdded\":\"2024-01-01T00:00:00Z\"}]},"
    "\"status\":{\"phase\":\"Running\"}}";

static void
test_cordon_patch_adds_everything(void)
{
	struct k8s_taint t;
	struct json_doc d;
	char out[4096], uid[64], err[256];
	int taints, lab;

	CHECK_INT(k8s_taint_parse("despotify/spot-termination:NoSchedule", &t, err, sizeof err), 0);
	CHECK_INT(k8s_cordon_patch_build(node_json, strlen(node_json), toks, 4096, &t, 1, NULL, out, sizeof out,
	    uid, sizeof uid, err, sizeof err), 1);
	CHECK_STR(uid, "0f3c9a2e-1111-2222-3333-444455556666");
	CHECK_INT(json_parse(&d, out, strlen(out), toks, 4096, err, sizeof err), 0);
	CHECK(json_str_eq(&d, json_path(&d, 0, "metadata", "resourceVersion", (char *)NULL), "12345"));
	lab = json_path(&d, 0, "metadata", "labels", (char *)NULL);
	CHECK(json_str_eq(&d, json_get(&d, lab,
	    "node.kubernetes.io/exclude-from-external-load-balancers"), "true"));
	/* Only our label goes in the patch: a merge patch keeps the others. */
	CHECK_INT(d.toks[lab].size, 1);
	CHECK(json_path(&d, 0, "spec", "unschedulable", (char *)NULL) >= 0);
	CHECK_INT(d.toks[json_path(&d, 0, "spec", "unschedulable", (char *)NULL)].type, JSON_PRIMITIVE);
	taints = json_path(&d, 0, "spec", "taints", (char *)NULL);
	CHECK(taints >= 0);
	CHECK_INT(d.toks[taints].size, 3);
	/* The existing taints go back byte for byte, timeAdded included. */
	CHECK(strstr(out, "{\"key\":\"dedicated\",\"value\":\"gpu\",\"effect\":\"NoSchedule\"}") != NULL);
	CHECK(strstr(out, "\"timeAdded\":\"2024-01-01T00:00:00Z\"") != NULL);
	CHECK(json_str_eq(&d, json_get(&d, json_elem(&d, taints, 2), "key"), "despotify/spot-termination"));
	CHECK(json_str_eq(&d, json_get(&d, json_elem(&d, taints, 2), "effect"), "NoSchedule"));
	CHECK_INT(json_get(&d, json_elem(&d, taints, 2), "value"), -1);
}

/* The cordon record: round trip, refusals, and a field a later version adds. */
static void
test_cordon_record(void)
{
	static const char *const bad[] = {
		"", "did=taint", "cause=;did=", "cause=a b", "cause=x;did=everything",
		"cause=x;did=taint", "cause=x;taint=nocolon", "cause=x;did=taint;taint=k:",
	};
	struct k8s_cordon_record r, q;
	char out[512];
	size_t i;
	int n;

	memset(&r, 0, sizeof r);
	snprintf(r.cause, sizeof r.cause, "maintenance/instance-event-0d59937288b749b32");
	r.did = K8S_DID_UNSCHEDULABLE | K8S_DID_TAINT | K8S_DID_LABEL;
	snprintf(r.taint_key, sizeof r.taint_key, "despotify/spot-termination");
	snprintf(r.taint_effect, sizeof r.taint_effect, "NoSchedule");
	n = k8s_cordon_record_format(&r, out, sizeof out);
	CHECK_STR(out, "cause=maintenance/instance-event-0d59937288b749b32;"
	    "did=unschedulable,taint,label;taint=despotify/spot-termination:NoSchedule");
	CHECK_INT(n, strlen(out));
	CHECK_INT(k8s_cordon_record_parse(out, (size_t)n, &q), 0);
	CHECK(memcmp(&r, &q, sizeof r) == 0);
	CHECK_INT(k8s_cordon_record_format(&r, out, 20), -1);
	r.did = 0;
	CHECK_INT(k8s_cordon_record_format(&r, out, sizeof out), (int)strlen(out));
	CHECK_STR(out, "cause=maintenance/instance-event-0d59937288b749b32;did=");
	CHECK_INT(k8s_cordon_record_parse(out, strlen(out), &q), 0);
	CHECK_INT(q.did, 0);
	snprintf(r.cause, sizeof r.cause, "spot stop");
	CHECK_INT(k8s_cordon_record_format(&r, out, sizeof out), -1);
	CHECK_INT(k8s_cordon_record_parse("cause=spot-stop;did=label;since=2026", 36, &q), 0);
	CHECK_INT(q.did, K8S_DID_LABEL);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_INT(k8s_cordon_record_parse(bad[i], strlen(bad[i]), &q), -1);
}

/* Undoing the cordon: only what the record says, other taints byte for byte. */
static void
test_uncordon_patch(void)
{
	static const char ours[] =
	    "{\"metadata\":{\"name\":\"n\",\"resourceVersion\":\"9\",\"annotations\":{\"despotify.io/cordoned\":"
	    "\"cause=spot-stop;did=unschedulable,taint,label;taint=despotify/spot-termination:NoSchedule\","
	    "\"other\":\"x\"},\"labels\":{\"node.kubernetes.io/exclude-from-external-load-balancers\":\"true\"}},"
	    "\"spec\":{\"unschedulable\":true,\"taints\":[{\"key\":\"dedicated\",\"value\":\"gpu\","
	    "\"effect\":\"NoSchedule\"},{\"key\":\"despotify/spot-termination\",\"effect\":\"NoSchedule\","
	    "\"timeAdded\":null},{\"key\":\"despotify/spot-termination\",\"effect\":\"NoExecute\"}]}}";
	static const char theirs[] =
	    "{\"metadata\":{\"name\":\"n\",\"resourceVersion\":\"9\",\"annotations\":{\"despotify.io/cordoned\":"
	    "\"cause=maintenance/e1;did=taint;taint=despotify/spot-termination:NoSchedule\"}},"
	    "\"spec\":{\"unschedulable\":true,\"taints\":[{\"key\":\"despotify/spot-termination\","
	    "\"effect\":\"NoSchedule\"}]}}";
	static const char none[] =
	    "{\"metadata\":{\"name\":\"n\",\"resourceVersion\":\"9\"},\"spec\":{\"unschedulable\":true}}";
	static const char junk[] =
	    "{\"metadata\":{\"name\":\"n\",\"resourceVersion\":\"9\",\"annotations\":{\"despotify.io/cordoned\":"
	    "\"yes\"}},\"spec\":{}}";
	struct k8s_cordon_record rec;
	struct json_doc d;
	char out[4096], err[256];
	int t;

	CHECK_INT(k8s_uncordon_patch_build(ours, strlen(ours), toks, 4096, &rec, out, sizeof out,
	    err, sizeof err), 1);
	CHECK_STR(rec.cause, "spot-stop");
	CHECK_INT(json_parse(&d, out, strlen(out), toks, 4096, err, sizeof err), 0);
	CHECK(json_str_eq(&d, json_path(&d, 0, "metadata", "resourceVersion", (char *)NULL), "9"));
	CHECK(json_is_null(&d, json_path(&d, 0, "metadata", "annotations", "despotify.io/cordoned",
	    (char *)NULL)));
	CHECK_INT(d.toks[json_path(&d, 0, "metadata", "annotations", (char *)NULL)].size, 1);
	CHECK(json_path(&d, 0, "metadata", "labels",
	    "node.kubernetes.io/exclude-from-external-load-balancers", (char *)NULL) >= 0);
	CHECK(json_path(&d, 0, "spec", "unschedulable", (char *)NULL) >= 0);
	t = json_path(&d, 0, "spec", "taints", (char *)NULL);
	CHECK_INT(d.toks[t].size, 2);
	CHECK(strstr(out, "[{\"key\":\"dedicated\",\"value\":\"gpu\",\"effect\":\"NoSchedule\"},"
	    "{\"key\":\"despotify/spot-termination\",\"effect\":\"NoExecute\"}]") != NULL);

	/* Someone else made it unschedulable: despotify takes back only its taint. */
	CHECK_INT(k8s_uncordon_patch_build(theirs, strlen(theirs), toks, 4096, &rec, out, sizeof out,
	    err, sizeof err), 1);
	CHECK(strstr(out, "unschedulable") == NULL);
	CHECK(strstr(out, "labels") == NULL);
	CHECK(strstr(out, "\"taints\":[]") != NULL);

	CHECK_INT(k8s_uncordon_patch_build(none, strlen(none), toks, 4096, &rec, out, sizeof out,
	    err, sizeof err), 0);
	CHECK_INT(k8s_uncordon_patch_build(junk, strlen(junk), toks, 4096, &rec, out, sizeof out,
	    err, sizeof err), -1);
	CHECK(strstr(err, "despotify.io/cordoned") != NULL);
	CHECK_INT(k8s_uncordon_patch_build(ours, strlen(ours), toks, 4096, &rec, out, 64,
	    err, sizeof err), -1);
}

static void
test_cordon_patch_idempotent(void)
{
	static const char done[] =
	    "{\"metadata\":{\"name\":\"n\",\"uid\":\"u\",\"resourceVersion\":\"7\",\"labels\":"
	    "{\"node.kubernetes.io/exclude-from-external-load-balancers\":\"true\"}},"
	    "\"spec\":{\"unschedulable\":true,\"taints\":[{\"key\":\"despotify/spot-termination\","
	    "\"value\":\"other\",\"effect\":\"NoSchedule\"}]}}";
	static const char half[] =
	    "{\"metadata\":{\"name\":\"n\",\"resourceVersion\":\"8\"},"
	    "\"spec\":{\"taints\":[{\"key\":\"despotify/spot-termination\",\"effect\":\"NoSchedule\"}]}}";
	struct k8s_taint t;
	char out[4096], uid[64], err[256];

	CHECK_INT(k8s_taint_parse("despotify/spot-termination:NoSchedule", &t, err, sizeof err), 0);
	/* Same key and effect (another value): not added again. */
	CHECK_INT(k8s_cordon_patch_build(done, strlen(done), toks, 4096, &t, 1, NULL, out, sizeof out,
	    uid, sizeof uid, err, sizeof err), 0);
	CHECK_STR(uid, "u");
	/* Tainted but schedulable and unlabelled: a patch without taints. */
	CHECK_INT(k8s_cordon_patch_build(half, strlen(half), toks, 4096, &t, 1, NULL, out, sizeof out,
	    uid, sizeof uid, err, sizeof err), 1);
	CHECK(strstr(out, "taints") == NULL);
	CHECK(strstr(out, "\"unschedulable\":true") != NULL);
	CHECK(strstr(out, "\"resourceVersion\":\"8\"") != NULL);
	CHECK_STR(uid, "");
	/* Without the label option nor a taint, unschedulable alone. */
	CHECK_INT(k8s_cordon_patch_build(half, strlen(half), toks, 4096, NULL, 0, NULL, out, sizeof out,
	    uid, sizeof uid, err, sizeof err), 1);
	CHECK_STR(out, "{\"metadata\":{\"resourceVersion\":\"8\"},\"spec\":{\"unschedulable\":true}}");
	/* A taint with the same key but another effect is a different taint. */
	CHECK_INT(k8s_taint_parse("despotify/spot-termination:NoExecute", &t, err, sizeof err), 0);
	CHECK_INT(k8s_cordon_patch_build(done, strlen(done), toks, 4096, &t, 1, NULL, out, sizeof out,
	    uid, sizeof uid, err, sizeof err), 1);
	CHECK(strstr(out, "\"effect\":\"NoExecute\"") != NULL);
	CHECK(strstr(out, "\"value\":\"other\"") != NULL);
}

static void
test_cordon_patch_errors(void)
{
	struct k8s_taint t;
	char out[4096], small[40], uid[64], err[256];
	static const char norv[] = "{\"metadata\":{\"name\":\"n\"},\"spec\":{}}";
	static const char badtaints[] = "{\"metadata\":{\"name\":\"n\",\"resourceVersion\":\"1\"},"
	    "\"spec\":{\"taints\":\"x\"}}";
	static const char notnode[] = "[1,2,3]";
	static const char garbage[] = "<html>502</html>";

	CHECK_INT(k8s_taint_parse("a:NoSchedule", &t, err, sizeof err), 0);
	CHECK_INT(k8s_cordon_patch_build(norv, strlen(norv), toks, 4096, &t, 1, NULL, out, sizeof out,
	    uid, sizeof uid, err, sizeof err), -1);
	CHECK(strstr(err, "resourceVersion") != NULL);
	CHECK_INT(k8s_cordon_patch_build(badtaints, strlen(badtaints), toks, 4096, &t, 1, NULL, out,
	    sizeof out, uid, sizeof uid, err, sizeof err), -1);
	CHECK_INT(k8s_cordon_patch_build(notnode, strlen(notnode), toks, 4096, &t, 1, NULL, out, sizeof out,
	    uid, sizeof uid, err, sizeof err), -1);
	CHECK_INT(k8s_cordon_patch_build(garbage, strlen(garbage), toks, 4096, &t, 1, NULL, out, sizeof out,
	    uid, sizeof uid, err, sizeof err), -1);
	/* Too small an output buffer is an error, never a cut patch. */
	CHECK_INT(k8s_cordon_patch_build(node_json, strlen(node_json), toks, 4096, &t, 1, NULL, small,
	    sizeof small, uid, sizeof uid, err, sizeof err), -1);
	CHECK(strstr(err, "over") != NULL);
	/* Too few tokens is an error too. */
	CHECK_INT(k8s_cordon_patch_build(node_json, strlen(node_json), toks, 10, &t, 1, NULL, out, sizeof out,
	    uid, sizeof uid, err, sizeof err), -1);
}

/* ---- Pods ---- */

struct seen {
	struct k8s_pod pods[16];
	int n, refuse_at;
};

static int
collect(void *arg, const struct k8s_pod *p)
{
	struct seen *s = arg;

	if (s->n == s->refuse_at || s->n >= 16)
		return -1;
	s->pods[s->n++] = *p;
	return 0;
}

#define META(ns, name, extra) "\"metadata\":{\"name\":\"" name "\",\"namespace\":\"" ns "\"," \
	"\"uid\":\"uid-" name "\"" extra "}"
#define RS_OWNER ",\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\"," \
	"\"name\":\"web-5d\",\"uid\":\"x\",\"controller\":true,\"blockOwnerDeletion\":true}]"
#define DS_OWNER ",\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\"," \
	"\"name\":\"agent\",\"uid\":\"y\",\"controller\":true}]"

static const char page[] =
    "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"99\","
    "\"continue\":\"eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6OTl9\",\"remainingItemCount\":3},\"items\":["
    "{" META("default", "web-1", RS_OWNER) ",\"spec\":{\"nodeName\":\"n\",\"terminationGracePeriodSeconds\":45,"
    "\"volumes\":[{\"name\":\"tok\",\"projected\":{}}]},\"status\":{\"phase\":\"Running\"}},"
    "{" META("kube-system", "agent-x", DS_OWNER) ",\"spec\":{},\"status\":{\"phase\":\"Running\"}},"
    "{" META("kube-system", "kube-proxy-n", ",\"annotations\":{\"kubernetes.io/config.mirror\":\"abc\"},"
    "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"name\":\"n\",\"uid\":\"z\",\"controller\":true}]")
    ",\"spec\":{\"terminationGracePeriodSeconds\":30},\"status\":{\"phase\":\"Running\"}},"
    "{" META("batch", "job-1", ",\"ownerReferences\":[{\"kind\":\"Job\",\"name\":\"j\",\"controller\":true}]")
    ",\"spec\":{},\"status\":{\"phase\":\"Succeeded\"}},"
    "{" META("batch", "job-2", ",\"ownerReferences\":[{\"kind\":\"Job\",\"name\":\"j\",\"controller\":true}]")
    ",\"spec\":{},\"status\":{\"phase\":\"Failed\"}},"
    "{" META("kube-system", "despotify-abcde", DS_OWNER) ",\"spec\":{},\"status\":{\"phase\":\"Running\"}},"
    "{" META("default", "cache-0", ",\"ownerReferences\":[{\"kind\":\"StatefulSet\",\"name\":\"cache\",\"controller\":true}]")
    ",\"spec\":{\"terminationGracePeriodSeconds\":0,\"volumes\":[{\"name\":\"s\",\"emptyDir\":{}}]},"
    "\"status\":{\"phase\":\"Running\"}},"
    "{" META("default", "bare", ",\"deletionTimestamp\":\"2024-01-01T00:00:00Z\","
    "\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"r\",\"controller\":false}]")
    ",\"spec\":{\"terminationGracePeriodSeconds\":null},\"status\":{\"phase\":\"Running\"}}"
    "]}";

static void
test_pods_parse(void)
{
	struct seen s;
	char cont[256], err[256];

	memset(&s, 0, sizeof s);
	s.refuse_at = -1;
	CHECK_INT(k8s_pods_parse(page, strlen(page), pbuf, sizeof pbuf, toks, 4096, "kube-system", "despotify-abcde",
	    collect, &s, cont, sizeof cont, err, sizeof err), 8);
	CHECK_STR(cont, "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6OTl9");
	CHECK_INT(s.n, 8);
	CHECK_STR(s.pods[0].ns, "default");
	CHECK_STR(s.pods[0].name, "web-1");
	CHECK_STR(s.pods[0].uid, "uid-web-1");
	CHECK_INT(s.pods[0].grace, 45);
	CHECK_INT(s.pods[0].flags, 0);
	CHECK_INT(s.pods[1].flags, K8S_POD_DAEMONSET);
	CHECK_INT(s.pods[1].grace, 30);
	CHECK_INT(s.pods[2].flags, K8S_POD_MIRROR);
	CHECK_INT(s.pods[3].flags, K8S_POD_FINISHED);
	CHECK_INT(s.pods[4].flags, K8S_POD_FINISHED);
	CHECK_INT(s.pods[5].flags, K8S_POD_DAEMONSET | K8S_POD_SELF);
	CHECK_INT(s.pods[6].flags, K8S_POD_EMPTYDIR);
	CHECK_INT(s.pods[6].grace, 0);
	/* controller:false is no controller; grace null means the default. */
	CHECK_INT(s.pods[7].flags, K8S_POD_UNMANAGED | K8S_POD_TERMINATING);
	CHECK_INT(s.pods[7].grace, 30);

	/* Own pod named without a namespace still matches by name. */
	memset(&s, 0, sizeof s);
	s.refuse_at = -1;
	CHECK_INT(k8s_pods_parse(page, strlen(page), pbuf, sizeof pbuf, toks, 4096, "", "web-1", collect, &s, cont,
	    sizeof cont, err, sizeof err), 8);
	CHECK_INT(s.pods[0].flags, K8S_POD_SELF);
	/* A callback that refuses stops the parse with -2. */
	memset(&s, 0, sizeof s);
	s.refuse_at = 2;
	CHECK_INT(k8s_pods_parse(page, strlen(page), pbuf, sizeof pbuf, toks, 4096, "", "", collect, &s, cont,
	    sizeof cont, err, sizeof err), -2);
	CHECK_INT(s.n, 2);
	/* Tokens are counted per pod, not per page: 64 are enough for each of these. */
	memset(&s, 0, sizeof s);
	s.refuse_at = -1;
	CHECK_INT(k8s_pods_parse(page, strlen(page), pbuf, sizeof pbuf, toks, 64, "", "", collect, &s, cont,
	    sizeof cont, err, sizeof err), 8);
	/* A continue token over its buffer is an error, not a cut token. */
	memset(&s, 0, sizeof s);
	s.refuse_at = -1;
	CHECK_INT(k8s_pods_parse(page, strlen(page), pbuf, sizeof pbuf, toks, 4096, "", "", collect, &s, cont,
	    10, err, sizeof err), -1);
}

static void
test_pods_parse_edges(void)
{
	static const char last[] = "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[]}";
	static const char nullitems[] = "{\"kind\":\"PodList\",\"metadata\":{\"continue\":null},\"items\":null}";
	static const char noname[] = "{\"items\":[{\"metadata\":{\"namespace\":\"a\"}}]}";
	static const char notlist[] = "{\"kind\":\"Status\",\"code\":500}";
	static const char html[] = "<html>oops</html>";
	struct seen s;
	char cont[256], err[256], longname[400];
	char *big;
	size_t at;

	memset(&s, 0, sizeof s);
	s.refuse_at = -1;
	strcpy(cont, "x");
	CHECK_INT(k8s_pods_parse(last, strlen(last), pbuf, sizeof pbuf, toks, 4096, "", "", collect, &s, cont, sizeof cont,
	    err, sizeof err), 0);
	CHECK_STR(cont, "");
	CHECK_INT(k8s_pods_parse(nullitems, strlen(nullitems), pbuf, sizeof pbuf, toks, 4096, "", "", collect, &s, cont,
	    sizeof cont, err, sizeof err), 0);
	CHECK_INT(k8s_pods_parse(noname, strlen(noname), pbuf, sizeof pbuf, toks, 4096, "", "", collect, &s, cont,
	    sizeof cont, err, sizeof err), -1);
	CHECK_INT(k8s_pods_parse(notlist, strlen(notlist), pbuf, sizeof pbuf, toks, 4096, "", "", collect, &s, cont,
	    sizeof cont, err, sizeof err), -1);
	CHECK_INT(k8s_pods_parse(html, strlen(html), pbuf, sizeof pbuf, toks, 4096, "", "", collect, &s, cont,
	    sizeof cont, err, sizeof err), -1);
	/* A pod name over K8S_MAX_NAME - 1 bytes is an error naming the bound. */
	memset(longname, 'p', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	big = malloc(1024);
	at = (size_t)snprintf(big, 1024, "{\"items\":[{\"metadata\":{\"name\":\"%s\",\"namespace\":\"a\"}}]}",
	    longname);
	CHECK_INT(k8s_pods_parse(big, at, pbuf, sizeof pbuf, toks, 4096, "", "", collect, &s, cont, sizeof cont, err,
	    sizeof err), -1);
	CHECK(strstr(err, "253") != NULL);
	free(big);
}

/* Streams body split at cut; returns the pod count (or -1/-2) with the pods in s. */
static int
podlist_split(const char *body, size_t len, size_t cut, size_t cap, int ntoks, struct seen *s,
    struct k8s_podlist *pl, char *err, size_t errlen)
{
	int r;

	memset(s, 0, sizeof *s);
	s->refuse_at = -1;
	k8s_podlist_init(pl, pbuf, cap, toks, ntoks, "kube-system", "despotify-abcde", collect, s);
	if ((r = k8s_podlist_feed(pl, body, cut, err, errlen)) < 0 ||
	    (r = k8s_podlist_feed(pl, body + cut, len - cut, err, errlen)) < 0)
		return r;
	return k8s_podlist_end(pl, err, errlen);
}

/* The same pods, continue and verdict wherever the page is cut, and byte by byte. */
static void
test_podlist_every_split(void)
{
	struct seen whole, got;
	struct k8s_podlist pl;
	char err[256];
	size_t len = strlen(page), cut, k;
	int bad = 0;

	CHECK_INT(podlist_split(page, len, len, sizeof pbuf, 4096, &whole, &pl, err, sizeof err), 8);
	CHECK_STR(pl.cont, "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6OTl9");
	CHECK_STR(pl.rv, "99");
	CHECK_INT(pl.skipped, 0);
	for (cut = 0; cut <= len && !bad; cut++)
		if (podlist_split(page, len, cut, sizeof pbuf, 4096, &got, &pl, err, sizeof err) != 8 ||
		    memcmp(&got, &whole, sizeof got) != 0 ||
		    strcmp(pl.cont, "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6OTl9") != 0) {
			printf("#   cut at %zu differs\n", cut);
			bad = 1;
		}
	CHECK(!bad);
	memset(&got, 0, sizeof got);
	got.refuse_at = -1;
	k8s_podlist_init(&pl, pbuf, sizeof pbuf, toks, 4096, "kube-system", "despotify-abcde", collect, &got);
	for (k = 0; k < len; k++)
		CHECK_INT(k8s_podlist_feed(&pl, page + k, 1, err, sizeof err), 0);
	CHECK_INT(k8s_podlist_end(&pl, err, sizeof err), 8);
	CHECK(memcmp(&got, &whole, sizeof got) == 0);
	/* Every cut short page is an error, never a shorter list. */
	for (cut = 0; cut < len && !bad; cut++)
		if (podlist_split(page, cut, cut / 2, sizeof pbuf, 4096, &got, &pl, err, sizeof err) != -1) {
			printf("#   page cut at %zu accepted\n", cut);
			bad = 1;
		}
	CHECK(!bad);
}

/* Metadata after the items, a pod over the caps, the kinds of page that are not a PodList. */
static void
test_podlist_shapes(void)
{
	static const char after[] =
	    "{\"items\":[{" META("a", "p1", RS_OWNER) "},{\"metadata\":{\"name\":\"huge\",\"namespace\":\"a\","
	    "\"annotations\":{\"blob\":\"0123456789012345678901234567890123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789012345678901234567890123456789\"}}},"
	    "{" META("a", "p2", RS_OWNER) "}],"
	    "\"metadata\":{\"continue\":\"next\",\"resourceVersion\":\"7\"},\"kind\":\"PodList\"}";
	static const struct { const char *body, *err; } bad[] = {
		{ "{\"kind\":\"Status\",\"items\":[]}", "not a PodList (kind is not \"PodList\")" },
		{ "{\"kind\":\"PodList\",\"kind\":\"PodList\",\"items\":[]}", "not a PodList: \"kind\" appears twice" },
		{ "{\"kind\":\"PodList\"}", "not a PodList (no items)" },
		{ "{\"items\":{}}", "not a PodList (items is not a list)" },
		{ "{\"items\":[],\"metadata\":{\"continue\":5}}",
		  "the list's metadata.continue is not a string of at most 1023 bytes" },
		{ "{\"items\":[{\"metadata\":{\"namespace\":\"a\"}}]}",
		  "item 0: a pod without a name or namespace (or over 253/63 bytes)" },
	};
	struct seen s;
	struct k8s_podlist pl;
	char err[256];
	size_t i;

	CHECK_INT(podlist_split(after, strlen(after), 100, 200, 4096, &s, &pl, err, sizeof err), 2);
	CHECK_STR(s.pods[0].name, "p1");
	CHECK_STR(s.pods[1].name, "p2");
	CHECK_STR(pl.cont, "next");
	CHECK_STR(pl.rv, "7");
	CHECK_INT(pl.skipped, 1);
	CHECK_STR(pl.skip_why, "item 1 at byte 203: 210 bytes, over the 199-byte buffer");
	/* Over the token array, likewise: skipped, the rest read (the big one has few tokens). */
	CHECK_INT(podlist_split(after, strlen(after), 7, sizeof pbuf, 12, &s, &pl, err, sizeof err), 1);
	CHECK_STR(s.pods[0].name, "huge");
	CHECK_INT(pl.skipped, 2);
	CHECK_STR(pl.skip_why, "item 0 at byte 10: JSON has more than 12 tokens");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_INT(podlist_split(bad[i].body, strlen(bad[i].body), 3, sizeof pbuf, 4096, &s, &pl, err,
		    sizeof err), -1);
		CHECK_STR(err, bad[i].err);
	}
}

/* ---- Status bodies, Retry-After ---- */

static const char pdb429[] =
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
    "\"message\":\"Cannot evict pod as it would violate the pod's disruption budget.\","
    "\"reason\":\"TooManyRequests\",\"details\":{\"causes\":[{\"reason\":\"DisruptionBudget\","
    "\"message\":\"The disruption budget web needs 2 healthy pods and has 2 currently\"}]},\"code\":429}";
static const char apf429[] =
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
    "\"message\":\"Too many requests, please try again later.\",\"reason\":\"TooManyRequests\","
    "\"details\":{\"retryAfterSeconds\":1},\"code\":429}";

static void
test_status(void)
{
	char msg[256];
	static const char nocause[] = "{\"kind\":\"Status\",\"message\":\"Cannot evict pod as it would "
	    "violate the pod's disruption budget.\",\"code\":429}";

	k8s_status_message(pdb429, strlen(pdb429), msg, sizeof msg);
	CHECK_STR(msg, "Cannot evict pod as it would violate the pod's disruption budget.");
	k8s_status_message("<html>\n502\x01</html>", 18, msg, sizeof msg);
	CHECK_STR(msg, "<html>?502?</html>");
	k8s_status_message("", 0, msg, sizeof msg);
	CHECK_STR(msg, "(empty body)");
	k8s_status_message(pdb429, strlen(pdb429), msg, 8);
	CHECK_INT(strlen(msg) < 8, 1);
	CHECK_INT(k8s_status_is_pdb(pdb429, strlen(pdb429)), 1);
	CHECK_INT(k8s_status_is_pdb(nocause, strlen(nocause)), 1);
	CHECK_INT(k8s_status_is_pdb(apf429, strlen(apf429)), 0);
	CHECK_INT(k8s_status_is_pdb("garbage", 7), 0);
	CHECK_INT(k8s_status_is_pdb("", 0), 0);
}

/* ---- Request bodies ---- */

static void
test_bodies(void)
{
	struct json_doc d;
	char out[2048], err[256];
	int n;

	n = k8s_eviction_body(out, sizeof out, "team-a", "web-1", "uid-1", 25);
	CHECK(n > 0);
	CHECK_STR(out, "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"web-1\","
	    "\"namespace\":\"team-a\"},\"deleteOptions\":{\"gracePeriodSeconds\":25,"
	    "\"preconditions\":{\"uid\":\"uid-1\"}}}");
	n = k8s_eviction_body(out, sizeof out, "a", "b", "", 0);
	CHECK_STR(out, "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"b\","
	    "\"namespace\":\"a\"},\"deleteOptions\":{\"gracePeriodSeconds\":0}}");
	CHECK_INT(k8s_eviction_body(out, 20, "a", "b", "", 0), -1);
	n = k8s_delete_body(out, sizeof out, "u", 7);
	CHECK_STR(out, "{\"apiVersion\":\"v1\",\"kind\":\"DeleteOptions\",\"gracePeriodSeconds\":7,"
	    "\"preconditions\":{\"uid\":\"u\"}}");
	CHECK_INT(n, (int)strlen(out));

	/* 2024-05-01T12:00:00Z = 1714564800 s. */
	n = k8s_event_body(out, sizeof out, "ip-10-0-1-23", "uid-n", "Warning", "SpotInterruption",
	    "notice: \"terminate\" at 12:02\n", 1714564800123LL);
	CHECK(n > 0);
	CHECK_INT(json_parse(&d, out, (size_t)n, toks, 4096, err, sizeof err), 0);
	CHECK(json_str_eq(&d, json_get(&d, 0, "kind"), "Event"));
	CHECK(json_str_eq(&d, json_path(&d, 0, "metadata", "namespace", (char *)NULL), "default"));
	CHECK(json_str_eq(&d, json_path(&d, 0, "metadata", "generateName", (char *)NULL), "ip-10-0-1-23."));
	CHECK(json_str_eq(&d, json_path(&d, 0, "involvedObject", "kind", (char *)NULL), "Node"));
	CHECK(json_str_eq(&d, json_path(&d, 0, "involvedObject", "name", (char *)NULL), "ip-10-0-1-23"));
	CHECK(json_str_eq(&d, json_path(&d, 0, "involvedObject", "uid", (char *)NULL), "uid-n"));
	CHECK(json_str_eq(&d, json_get(&d, 0, "reason"), "SpotInterruption"));
	CHECK(json_str_eq(&d, json_get(&d, 0, "type"), "Warning"));
	CHECK(json_str_eq(&d, json_get(&d, 0, "message"), "notice: \"terminate\" at 12:02\n"));
	CHECK(json_str_eq(&d, json_path(&d, 0, "source", "component", (char *)NULL), "despotify"));
	CHECK(json_str_eq(&d, json_get(&d, 0, "firstTimestamp"), "2024-05-01T12:00:00Z"));
	CHECK(json_str_eq(&d, json_get(&d, 0, "lastTimestamp"), "2024-05-01T12:00:00Z"));
	CHECK_INT(k8s_event_body(out, 100, "n", "", "Normal", "R", "m", 0), -1);
}

static void
test_backoff(void)
{
	int i, a;
	int64_t ms;

	for (a = 0; a < 12; a++)
		for (i = 0; i < 50; i++) {
			ms = k8s_backoff_ms(a);
			CHECK(ms >= K8S_RETRY_MIN_MS * 3 / 4);
			CHECK(ms <= K8S_RETRY_MAX_MS * 5 / 4);
		}
	ms = k8s_backoff_ms(0);
	CHECK(ms <= K8S_RETRY_MIN_MS * 5 / 4);
}

/* ---- Drain rules ---- */

static void
test_drain_filter(void)
{
	CHECK_INT(drain_filter(0, 0, 0), DRAIN_EVICT);
	CHECK_INT(drain_filter(K8S_POD_TERMINATING, 0, 0), DRAIN_EVICT);
	CHECK_INT(drain_filter(K8S_POD_DAEMONSET, 1, 1), DRAIN_SKIP_DAEMONSET);
	CHECK_INT(drain_filter(K8S_POD_MIRROR | K8S_POD_UNMANAGED, 1, 1), DRAIN_SKIP_MIRROR);
	CHECK_INT(drain_filter(K8S_POD_FINISHED | K8S_POD_EMPTYDIR, 0, 0), DRAIN_SKIP_FINISHED);
	CHECK_INT(drain_filter(K8S_POD_SELF | K8S_POD_DAEMONSET, 1, 1), DRAIN_SKIP_SELF);
	CHECK_INT(drain_filter(K8S_POD_EMPTYDIR, 0, 1), DRAIN_SKIP_EMPTYDIR);
	CHECK_INT(drain_filter(K8S_POD_EMPTYDIR, 1, 1), DRAIN_EVICT);
	CHECK_INT(drain_filter(K8S_POD_UNMANAGED, 1, 0), DRAIN_SKIP_UNMANAGED);
	CHECK_INT(drain_filter(K8S_POD_UNMANAGED, 1, 1), DRAIN_EVICT);
	CHECK_INT(drain_filter(K8S_POD_UNMANAGED | K8S_POD_EMPTYDIR, 1, 0), DRAIN_SKIP_UNMANAGED);
	CHECK_INT(drain_filter(K8S_POD_UNMANAGED | K8S_POD_EMPTYDIR, 0, 1), DRAIN_SKIP_EMPTYDIR);
	CHECK_STR(drain_action_name(DRAIN_SKIP_DAEMONSET), "DaemonSet-managed");
}

static void
test_drain_grace(void)
{
	/* Plenty of time: the pod's own grace. */
	CHECK_INT(drain_grace(30, 0, 120000), 30);
	CHECK_INT(drain_grace(0, 0, 120000), 0);
	/* 20 s left minus the 5 s margin: 15. */
	CHECK_INT(drain_grace(30, 100000, 120000), 15);
	CHECK_INT(drain_grace(30, 100001, 120000), 14);
	/* Past the margin or the deadline: 0, never negative. */
	CHECK_INT(drain_grace(30, 116000, 120000), 0);
	CHECK_INT(drain_grace(30, 130000, 120000), 0);
	CHECK_INT(drain_grace(3600, 0, 120000), 115);
}

static void
test_drain_classify(void)
{
	static const char ok[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
	    "\"status\":\"Success\",\"code\":201}";
	static const char multi[] = "{\"kind\":\"Status\",\"message\":\"This pod has more than one "
	    "PodDisruptionBudget, which the eviction subresource does not support.\",\"code\":500}";

	CHECK_INT(drain_classify(201, ok, strlen(ok)), DRAIN_OK);
	CHECK_INT(drain_classify(200, " {\"kind\":\"Pod\"}\n", 16), DRAIN_OK);
	/* A 200 that is not JSON is no proof of anything. */
	CHECK_INT(drain_classify(200, "<html>502</html>", 16), DRAIN_TRANSIENT);
	CHECK_INT(drain_classify(200, "", 0), DRAIN_TRANSIENT);
	CHECK_INT(drain_classify(404, "", 0), DRAIN_GONE);
	CHECK_INT(drain_classify(429, pdb429, strlen(pdb429)), DRAIN_PDB);
	CHECK_INT(drain_classify(429, apf429, strlen(apf429)), DRAIN_THROTTLED);
	CHECK_INT(drain_classify(429, "", 0), DRAIN_THROTTLED);
	CHECK_INT(drain_classify(500, multi, strlen(multi)), DRAIN_MULTI_PDB);
	CHECK_INT(drain_classify(403, "{}", 2), DRAIN_REFUSED);
	CHECK_INT(drain_classify(422, "{}", 2), DRAIN_REFUSED);
	CHECK_INT(drain_classify(503, "{}", 2), DRAIN_TRANSIENT);
	CHECK_INT(drain_classify(502, "", 0), DRAIN_TRANSIENT);
	CHECK_INT(drain_classify(401, "{}", 2), DRAIN_TRANSIENT);
	CHECK_INT(drain_classify(409, "{}", 2), DRAIN_TRANSIENT);
}

static void
test_drain_summary(void)
{
	struct drain_result r;
	char buf[512];

	memset(&r, 0, sizeof r);
	r.found = 110;
	r.evicted = 97;
	r.deleted = 1;
	r.skipped = 12;
	r.skips[DRAIN_SKIP_DAEMONSET] = 11;
	r.skips[DRAIN_SKIP_MIRROR] = 1;
	r.last_eviction_ms = 420;
	r.total_ms = 1900;
	CHECK_STR(drain_result_summary(&r, buf, sizeof buf), "drain: 110 found, 97 evicted, 1 deleted, "
	    "0 gone, 12 skipped (1 mirror pod, 11 DaemonSet-managed), 0 left; last eviction at 420 ms, "
	    "total 1900 ms");
	r.advisory = 1;
	CHECK(strstr(drain_result_summary(&r, buf, sizeof buf), "(advisory: no deadline)") != NULL);
	r.advisory = 0;
	r.left = 3;
	r.nleft_names = 2;
	strcpy(r.left_names[0], "default/a");
	strcpy(r.left_names[1], "default/b");
	r.deadline_hit = 1;
	drain_result_summary(&r, buf, sizeof buf);
	CHECK(strstr(buf, "3 left") != NULL);
	CHECK(strstr(buf, "(deadline reached); left: default/a, default/b and 1 more") != NULL);
	r.terminating = 2;
	drain_result_summary(&r, buf, sizeof buf);
	CHECK(strstr(buf, "3 left (2 terminating); last eviction") != NULL);
	r.over_cap = 1;
	drain_result_summary(&r, buf, sizeof buf);
	CHECK(strstr(buf, "3 left (2 terminating, 1 over the size caps, not drained); last") != NULL);
	r.terminating = 0;
	drain_result_summary(&r, buf, sizeof buf);
	CHECK(strstr(buf, "3 left (1 over the size caps, not drained); last") != NULL);
	r.terminating = 2;
	/* A short buffer is cut cleanly, NUL-terminated. */
	drain_result_summary(&r, buf, 30);
	CHECK_INT(strlen(buf), 29);
}

int
main(void)
{
	RUN(test_taint_parse_good);
	RUN(test_taint_parse_bad);
	RUN(test_cordon_patch_adds_everything);
	RUN(test_cordon_patch_idempotent);
	RUN(test_cordon_patch_errors);
	RUN(test_cordon_record);
	RUN(test_uncordon_patch);
	RUN(test_pods_parse);
	RUN(test_pods_parse_edges);
	RUN(test_podlist_every_split);
	RUN(test_podlist_shapes);
	RUN(test_status);
	RUN(test_bodies);
	RUN(test_backoff);
	RUN(test_drain_filter);
	RUN(test_drain_grace);
	RUN(test_drain_classify);
	RUN(test_drain_summary);
	return t_done();
}
