/*
 * libFuzzer target: the pure IMDS parsers. The first byte picks the parser
 * (a notice source, the identity document or role credentials); the rest is
 * the body. Besides memory safety, it checks what the parser promises: a
 * notice has sane fields, "not a notice" only comes from the custom form on
 * the termination-time URL, and failed credentials leave no secret behind.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "imds.h"

#define NOW 1800000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_notice(enum imds_source src, int r, const struct imds_notice *n, const char *err)
{
	if (r < -1 || r > 1)
		__builtin_trap();
	if (r == 0 && src != IMDS_SRC_TERMINATION)
		__builtin_trap();
	if (r == -1 && err[0] == '\0')
		__builtin_trap();
	if (r != 1)
		return;
	if (n->source != src || n->url != NULL || (n->time_given != 0 && n->time_given != 1))
		__builtin_trap();
	if ((n->kind == IMDS_KIND_REBALANCE) != (src == IMDS_SRC_REBALANCE))
		__builtin_trap();
	if ((unsigned)n->action > IMDS_ACTION_HIBERNATE)
		__builtin_trap();
	if (!n->time_given &&
	    n->time_s != NOW + (src == IMDS_SRC_REBALANCE ? 0 : IMDS_NOTICE_LEAD_S))
		__builtin_trap();
}

/* Scheduled events: every event has an id, a NotBefore and a known state index. */
static void
check_events(const char *body, size_t size)
{
	struct imds_event ev[IMDS_MAX_EVENTS];
	char err[256] = "";
	int n = imds_parse_events(body, size, ev, IMDS_MAX_EVENTS, err, sizeof err), i;

	if (n < -1 || n > IMDS_MAX_EVENTS || (n == -1 && err[0] == '\0'))
		__builtin_trap();
	for (i = 0; i < n; i++)
		if (ev[i].id[0] == '\0' || ev[i].code_name[0] == '\0' || ev[i].not_before_s == 0 ||
		    ev[i].state > IMDS_EV_STATE_OTHER)
			__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imds_notice n;
	struct imds_facts f;
	struct imds_creds c;
	const char *body = (const char *)data + 1;
	char err[256];
	int r;

	if (size < 1)
		return 0;
	size--;
	err[0] = '\0';
	switch (data[0] % 6) {
	case 0: case 1: case 2: {
		enum imds_source src = (enum imds_source)(data[0] % 5);

		r = imds_parse_notice(src, body, size, NOW, "i-0abc", "10.0.0.12", &n, err,
		    sizeof err);
		check_notice(src, r, &n, err);
		/* Without an identity the custom form names nobody. */
		r = imds_parse_notice(src, body, size, NOW, NULL, "", &n, err, sizeof err);
		check_notice(src, r, &n, err);
		break;
	}
	case 3:
		memset(&f, 0, sizeof f);
		if (imds_parse_identity(body, size, &f, err, sizeof err) == 0 &&
		    (f.region[0] == '\0' || f.private_ip[0] == '\0' || f.doc_instance_id[0] == '\0'))
			__builtin_trap();
		break;
	case 4:
		memset(&c, 0, sizeof c);
		if (imds_parse_creds(body, size, &c, err, sizeof err) == 0) {
			if (c.access_key_id[0] == '\0' || c.secret_access_key[0] == '\0' ||
			    c.token[0] == '\0')
				__builtin_trap();
		} else if (c.secret_access_key[0] != '\0' || c.token[0] != '\0') {
			__builtin_trap();
		}
		break;
	case 5:
		check_events(body, size);
		break;
	}
	return 0;
}
