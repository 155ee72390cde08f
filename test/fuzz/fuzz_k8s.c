/*
 * libFuzzer target: everything k8s.c and drain.c read from the API server —
 * PodList pages, Node objects (the cordon patch), Status bodies, Retry-After
 * values — over hostile bytes. The patch built from a fuzzed node must
 * itself be valid JSON.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drain.h"
#include "json.h"
#include "k8s.h"
#include "util.h"

static struct json_tok toks[2048];
static char pbuf[16384];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
take(void *arg, const struct k8s_pod *p)
{
	int *n = arg;

	/* Every record is bounded and NUL-terminated, and the filter takes any flags. */
	if (strlen(p->ns) >= sizeof p->ns || strlen(p->name) >= sizeof p->name ||
	    strlen(p->uid) >= sizeof p->uid || p->grace < 0)
		abort();
	(void)drain_filter(p->flags, *n & 1, *n & 2);
	(*n)++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct k8s_taint t;
	struct k8s_cordon_record rec, rec2;
	struct json_doc d;
	char cont[K8S_MAX_CONTINUE], err[256], msg[128], uid[K8S_MAX_UID];
	static char patch[8192];
	int64_t ms;
	int n = 0, r;

	k8s_pods_parse(s, size, pbuf, sizeof pbuf, toks, 2048, "kube-system", "despotify-x", take, &n,
	    cont, sizeof cont, err, sizeof err);
	strcpy(t.key, "despotify/spot-termination");
	t.value[0] = '\0';
	strcpy(t.effect, "NoSchedule");
	r = k8s_cordon_patch_build(s, size, toks, 2048, &t, 1, NULL, patch, sizeof patch, uid, sizeof uid,
	    err, sizeof err);
	if (r == 1 && json_parse(&d, patch, strlen(patch), toks, 2048, err, sizeof err) < 0)
		abort();
	/* Undoing a cordon: the patch stays valid JSON; a record read back formats to what was read. */
	r = k8s_uncordon_patch_build(s, size, toks, 2048, &rec, patch, sizeof patch, err, sizeof err);
	if (r == 1 && json_parse(&d, patch, strlen(patch), toks, 2048, err, sizeof err) < 0)
		abort();
	if (k8s_cordon_record_parse(s, size, &rec) == 0 &&
	    (k8s_cordon_record_format(&rec, patch, sizeof patch) < 0 ||
	    k8s_cordon_record_parse(patch, strlen(patch), &rec2) < 0 || memcmp(&rec, &rec2, sizeof rec) != 0))
		abort();
	k8s_status_message(s, size, msg, sizeof msg);
	k8s_status_is_pdb(s, size);
	(void)drain_classify(429, s, size);
	(void)drain_classify(200, s, size);
	util_retry_after_parse(s, size, 1700000000, &ms);
	if (size < 400) {
		char str[400];

		memcpy(str, data, size);
		str[size] = '\0';
		k8s_taint_parse(str, &t, err, sizeof err);
	}
	return 0;
}
