/*
 * libFuzzer target: the streamed PodList decoder (k8s_podlist over
 * json_stream) against a whole-body parse of the same bytes (json_parse of
 * the page, then the same per-pod reduction). The first two bytes choose
 * how the rest is cut into pieces; the caps are set above the input's size,
 * so that no pod is skipped. Invariants: the same verdict; when both accept,
 * the same pods in the same order and the same continue and resourceVersion.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "k8s.h"

#define MAX_IN 65536
#define MAX_PODS 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct pods {
	struct k8s_pod p[MAX_PODS];
	int n;
};

static struct json_tok toks[MAX_IN + 2];
static char buf[MAX_IN + 2];
static struct pods streamed, whole;

static int
take(void *arg, const struct k8s_pod *p)
{
	struct pods *ps = arg;

	if (ps->n >= MAX_PODS)
		return -1;
	ps->p[ps->n++] = *p;
	return 0;
}

/* Whether the root object has key more than once (the decoder refuses that). */
static int
twice(const struct json_doc *d, const char *key)
{
	int i, k, seen = 0;

	for (k = 0, i = 1; k < d->toks[0].size; k++, i = json_next(d, i + 1))
		if (json_str_eq(d, i, key))
			seen++;
	return seen > 1;
}

/* The whole-body reading of a page: returns the pod count or -1, like k8s_podlist_end. */
static int
parse_whole(const char *s, size_t len, struct pods *ps, char *cont, char *rv)
{
	struct json_doc d;
	struct k8s_pod p;
	char err[256];
	int kind, md, items, c, i, k;

	cont[0] = rv[0] = '\0';
	if (json_parse(&d, s, len, toks, MAX_IN + 2, err, sizeof err) < 0 || d.toks[0].type != JSON_OBJECT)
		return -1;
	if (twice(&d, "kind") || twice(&d, "metadata") || twice(&d, "items"))
		return -1;
	kind = json_get(&d, 0, "kind");
	if (kind >= 0 && !json_str_eq(&d, kind, "PodList"))
		return -1;
	if ((md = json_get(&d, 0, "metadata")) >= 0 && d.toks[md].type == JSON_OBJECT) {
		c = json_get(&d, md, "continue");
		if (c >= 0 && !json_is_null(&d, c) && json_str(&d, c, cont, K8S_MAX_CONTINUE) < 0)
			return -1;
		c = json_get(&d, md, "resourceVersion");
		if (c >= 0 && !json_is_null(&d, c) && json_str(&d, c, rv, K8S_MAX_RV) < 0)
			return -1;
	}
	if ((items = json_get(&d, 0, "items")) < 0)
		return -1;
	if (d.toks[items].type != JSON_ARRAY)
		return json_is_null(&d, items) ? 0 : -1;
	for (k = 0, i = items + 1; k < d.toks[items].size; k++, i = json_next(&d, i)) {
		if (k8s_pod_from_json(&d, i, "kube-system", "despotify-x", &p, err, sizeof err) < 0 ||
		    take(ps, &p) != 0)
			return -1;
	}
	return ps->n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char wcont[K8S_MAX_CONTINUE], wrv[K8S_MAX_RV];
	struct k8s_podlist pl;
	const char *s;
	char err[512];
	size_t len, at = 0;
	unsigned seed;
	int a, b;

	if (size < 2 || size - 2 > MAX_IN)
		return 0;
	seed = (unsigned)data[0] << 8 | data[1];
	s = (const char *)data + 2;
	len = size - 2;
	memset(&streamed, 0, sizeof streamed);
	memset(&whole, 0, sizeof whole);
	k8s_podlist_init(&pl, buf, len + 2, toks, (int)len + 2, "kube-system", "despotify-x", take,
	    &streamed);
	a = 0;
	while (at < len && a == 0) {
		/* Pieces of 1 to 64 bytes, or all that is left, as the seed says. */
		size_t n = seed % 67 == 0 ? len - at : seed % 64 + 1;

		if (n > len - at)
			n = len - at;
		a = k8s_podlist_feed(&pl, s + at, n, err, sizeof err);
		at += n;
		seed = seed * 1103515245u + 12345u;
		seed >>= 8;
	}
	if (a == 0)
		a = k8s_podlist_end(&pl, err, sizeof err);
	b = parse_whole(s, len, &whole, wcont, wrv);
	if (pl.skipped != 0)
		abort();   /* the caps are above the input: nothing may be skipped */
	if ((a < 0) != (b < 0))
		abort();
	if (a >= 0 && (a != b || streamed.n != whole.n ||
	    memcmp(streamed.p, whole.p, sizeof streamed.p[0] * (size_t)whole.n) != 0 ||
	    strcmp(pl.cont, wcont) != 0 || strcmp(pl.rv, wrv) != 0))
		abort();
	return 0;
}
