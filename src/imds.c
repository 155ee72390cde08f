/* imds.c — see imds.h. */
#include "imds.h"

#include <string.h>

#include "json.h"
#include "util.h"

/* The token lifetime we ask for: the maximum AWS allows, six hours. */
#define TOKEN_TTL_S      21600
#define TOKEN_TTL_STR    "21600"
#define TOKEN_TTL_HEADER "X-aws-ec2-metadata-token-ttl-seconds"
#define TOKEN_HEADER     "X-aws-ec2-metadata-token"
/* One poll fault line a minute is enough to see an outage without flooding. */
#define FAULT_LOG_MS     60000

static const char *const source_names[IMDS_NSOURCES] = {
	"termination-time", "instance-action", "rebalance"
};

const char *
imds_source_name(enum imds_source s)
{
	return (unsigned)s < IMDS_NSOURCES ? source_names[s] : "?";
}

const char *
imds_kind_name(enum imds_kind k)
{
	return k == IMDS_KIND_REBALANCE ? "rebalance" : k == IMDS_KIND_MAINTENANCE ? "maintenance" :
	    "termination";
}

const char *
imds_action_name(enum imds_action a)
{
	switch (a) {
	case IMDS_ACTION_TERMINATE: return "terminate";
	case IMDS_ACTION_STOP:      return "stop";
	case IMDS_ACTION_HIBERNATE: return "hibernate";
	default:                    return "unknown";
	}
}

/* ---- Pure parsers ------------------------------------------------------- */

static enum imds_action
action_from(const struct json_doc *d, int i)
{
	char s[32];
	int n = json_str(d, i, s, sizeof s);

	if (n < 0)
		return IMDS_ACTION_UNKNOWN;
	if (util_strncaseeq(s, (size_t)n, "terminate"))
		return IMDS_ACTION_TERMINATE;
	if (util_strncaseeq(s, (size_t)n, "stop"))
		return IMDS_ACTION_STOP;
	if (util_strncaseeq(s, (size_t)n, "hibernate"))
		return IMDS_ACTION_HIBERNATE;
	return IMDS_ACTION_UNKNOWN;
}

/* Reads the time string at token i; 0 if it is one, -1 if absent or not a time. */
static int
time_from(const struct json_doc *d, int i, int64_t *t)
{
	const struct json_tok *k;

	if (i < 0 || d->toks[i].type != JSON_STRING)
		return -1;
	k = &d->toks[i];
	return util_parse_time(d->text + k->start, (size_t)(k->end - k->start), t);
}

static void
notice_set(struct imds_notice *out, enum imds_source src, enum imds_kind kind,
    enum imds_action action, int64_t now_s)
{
	memset(out, 0, sizeof *out);
	out->kind = kind;
	out->action = action;
	out->source = src;
	out->time_s = now_s + IMDS_NOTICE_LEAD_S;
	out->time_given = 0;
	out->url = NULL;
}

/* An instance-action document (root object at 0) into *out. */
static int
parse_action_doc(const struct json_doc *d, enum imds_source src, int64_t now_s,
    struct imds_notice *out, char *err, size_t errlen)
{
	int a = json_get(d, 0, "action");
	int64_t t;

	if (a < 0 || d->toks[a].type != JSON_STRING) {
		util_fmt(err, errlen, "%s: no \"action\" string in the JSON", imds_source_name(src));
		return -1;
	}
	notice_set(out, src, IMDS_KIND_TERMINATION, action_from(d, a), now_s);
	if (time_from(d, json_get(d, 0, "time"), &t) == 0) {
		out->time_s = t;
		out->time_given = 1;
	}
	return 1;
}

/* Whether the custom form's array at index arr names instance_id or private_ip. */
static int
names_us(const struct json_doc *d, int arr, const char *instance_id, const char *private_ip)
{
	int n, i;

	for (n = 0; n < d->toks[arr].size; n++) {
		if ((i = json_elem(d, arr, n)) < 0)
			break;
		if (instance_id != NULL && instance_id[0] != '\0' && json_str_eq(d, i, instance_id))
			return 1;
		if (private_ip != NULL && private_ip[0] != '\0' && json_str_eq(d, i, private_ip))
			return 1;
	}
	return 0;
}

/*
 * The termination-time URL's 200: AWS sends a bare time; a custom service
 * may send the original despotify's {"instances_to_terminate": [...]} or an
 * instance-action document; any other body is still a notice (the seed's rule).
 */
static int
parse_termination(const char *p, size_t n, int64_t now_s, const char *instance_id,
    const char *private_ip, struct imds_notice *out, char *err, size_t errlen)
{
	const enum imds_source src = IMDS_SRC_TERMINATION;
	struct json_tok toks[IMDS_MAX_JSON_TOKENS];
	struct json_doc d;
	char jerr[128];
	int64_t t;
	int i;

	memset(&d, 0, sizeof d);
	notice_set(out, src, IMDS_KIND_TERMINATION, IMDS_ACTION_UNKNOWN, now_s);
	if (util_parse_time(p, n, &t) == 0) {
		out->time_s = t;
		out->time_given = 1;
		return 1;
	}
	if (n == 0 || p[0] != '{')
		return 1;
	if (json_parse(&d, p, n, toks, IMDS_MAX_JSON_TOKENS, jerr, sizeof jerr) < 0) {
		if (util_memmem(p, n, "instances_to_terminate", 22) == NULL)
			return 1;
		/* A list we cannot read may or may not name us: a fault, not a notice. */
		util_fmt(err, errlen, "%s: unreadable instances_to_terminate form: %s",
		    imds_source_name(src), jerr);
		return -1;
	}
	if ((i = json_get(&d, 0, "instances_to_terminate")) >= 0) {
		if (d.toks[i].type != JSON_ARRAY) {
			util_fmt(err, errlen, "%s: \"instances_to_terminate\" is not an array",
			    imds_source_name(src));
			return -1;
		}
		if (!names_us(&d, i, instance_id, private_ip))
			return 0;
		if (time_from(&d, json_get(&d, 0, "time"), &t) == 0) {
			out->time_s = t;
			out->time_given = 1;
		}
		return 1;
	}
	/* Only a well-formed one: any other 200 here is still a notice. */
	if ((i = json_get(&d, 0, "action")) >= 0 && d.toks[i].type == JSON_STRING)
		return parse_action_doc(&d, src, now_s, out, err, errlen);
	return 1;
}

/*
 * Parses p[0..n) into d over toks (IMDS_MAX_JSON_TOKENS) and checks that
 * its root is a want. Returns 0, or -1 with "what: " and jsmn's reason, or
 * "what: " and not_want, in err. jsmn's positions say nothing about the
 * content, so its errors are safe to pass on.
 */
static int
parse_root(struct json_doc *d, struct json_tok *toks, const char *p, size_t n, const char *what,
    enum json_type want, const char *not_want, char *err, size_t errlen)
{
	char jerr[128];

	if (json_parse(d, p, n, toks, IMDS_MAX_JSON_TOKENS, jerr, sizeof jerr) < 0) {
		util_fmt(err, errlen, "%s: %s", what, jerr);
		return -1;
	}
	if (d->toks[0].type != want) {
		util_fmt(err, errlen, "%s: %s", what, not_want);
		return -1;
	}
	return 0;
}

int
imds_parse_notice(enum imds_source src, const char *body, size_t len, int64_t now_s,
    const char *instance_id, const char *private_ip, struct imds_notice *out,
    char *err, size_t errlen)
{
	struct json_tok toks[IMDS_MAX_JSON_TOKENS];
	struct json_doc d;
	const char *p;
	size_t n = len;
	int64_t t;

	p = util_trim(body, &n);
	if (src == IMDS_SRC_TERMINATION)
		return parse_termination(p, n, now_s, instance_id, private_ip, out, err, errlen);
	if (src != IMDS_SRC_ACTION && src != IMDS_SRC_REBALANCE) {
		util_fmt(err, errlen, "unknown notice source %d", (int)src);
		return -1;
	}
	if (parse_root(&d, toks, p, n, imds_source_name(src), JSON_OBJECT, "the JSON is not an object",
	    err, errlen) < 0)
		return -1;
	if (src == IMDS_SRC_ACTION)
		return parse_action_doc(&d, src, now_s, out, err, errlen);
	notice_set(out, src, IMDS_KIND_REBALANCE, IMDS_ACTION_UNKNOWN, now_s);
	/* The recommendation is "now"; keep its own time when it gives one. */
	out->time_s = now_s;
	if (time_from(&d, json_get(&d, 0, "noticeTime"), &t) == 0) {
		out->time_s = t;
		out->time_given = 1;
	}
	return 1;
}

/* Copies the string value of key in the object at index obj into out (cap bytes); 0 or -1. */
static int
str_field_at(const struct json_doc *d, int obj, const char *what, const char *key, char *out,
    size_t cap, char *err, size_t errlen)
{
	int i = json_get(d, obj, key), n;

	if (i < 0 || d->toks[i].type != JSON_STRING) {
		util_fmt(err, errlen, "%s: no \"%s\" string", what, key);
		return -1;
	}
	n = json_str(d, i, out, cap);
	if (n < 0) {
		/* Say why without echoing the value: it may be a secret. */
		util_fmt(err, errlen, "%s: \"%s\" is malformed or over %zu bytes", what, key,
		    cap - 1);
		return -1;
	}
	if (n == 0) {
		util_fmt(err, errlen, "%s: \"%s\" is empty", what, key);
		return -1;
	}
	return 0;
}

/* The same in the root object. */
static int
str_field(const struct json_doc *d, const char *what, const char *key, char *out, size_t cap,
    char *err, size_t errlen)
{
	return str_field_at(d, 0, what, key, out, cap, err, errlen);
}

int
imds_parse_identity(const char *body, size_t len, struct imds_facts *f,
    char *err, size_t errlen)
{
	static const char what[] = "instance identity document";
	struct json_tok toks[IMDS_MAX_JSON_TOKENS];
	struct json_doc d;

	if (parse_root(&d, toks, body, len, what, JSON_OBJECT, "not a JSON object", err, errlen) < 0)
		return -1;
	if (str_field(&d, what, "region", f->region, sizeof f->region, err, errlen) < 0 ||
	    str_field(&d, what, "availabilityZone", f->availability_zone,
		sizeof f->availability_zone, err, errlen) < 0 ||
	    str_field(&d, what, "accountId", f->account_id, sizeof f->account_id,
		err, errlen) < 0 ||
	    str_field(&d, what, "privateIp", f->private_ip, sizeof f->private_ip,
		err, errlen) < 0 ||
	    str_field(&d, what, "instanceId", f->doc_instance_id, sizeof f->doc_instance_id,
		err, errlen) < 0)
		return -1;
	return 0;
}

int
imds_parse_creds(const char *body, size_t len, struct imds_creds *c,
    char *err, size_t errlen)
{
	static const char what[] = "role credentials";
	struct json_tok toks[IMDS_MAX_JSON_TOKENS];
	struct json_doc d;
	char code[64], exp[64];
	int i, n;

	if (parse_root(&d, toks, body, len, what, JSON_OBJECT, "not a JSON object", err, errlen) < 0)
		return -1;
	if ((i = json_get(&d, 0, "Code")) >= 0 && !json_str_eq(&d, i, "Success")) {
		n = json_str(&d, i, code, sizeof code);
		util_fmt(err, errlen, "%s: Code is \"%s\"", what, n >= 0 ? code : "(unreadable)");
		return -1;
	}
	if (str_field(&d, what, "AccessKeyId", c->access_key_id, sizeof c->access_key_id,
		err, errlen) < 0 ||
	    str_field(&d, what, "SecretAccessKey", c->secret_access_key,
		sizeof c->secret_access_key, err, errlen) < 0 ||
	    str_field(&d, what, "Token", c->token, sizeof c->token, err, errlen) < 0 ||
	    str_field(&d, what, "Expiration", exp, sizeof exp, err, errlen) < 0)
		goto fail;
	if (util_parse_time(exp, strlen(exp), &c->expiration_s) < 0) {
		util_fmt(err, errlen, "%s: Expiration \"%s\" is not a time", what, exp);
		goto fail;
	}
	return 0;
fail:
	util_wipe(c->secret_access_key, sizeof c->secret_access_key);
	util_wipe(c->token, sizeof c->token);
	return -1;
}

const char *
imds_ev_state_name(enum imds_ev_state st)
{
	switch (st) {
	case IMDS_EV_ACTIVE:    return "active";
	case IMDS_EV_COMPLETED: return "completed";
	case IMDS_EV_CANCELED:  return "canceled";
	default:                return "unknown";
	}
}

int
imds_ev_ends_instance(enum imds_ev_code c)
{
	return c == IMDS_EV_INSTANCE_RETIREMENT || c == IMDS_EV_INSTANCE_STOP;
}

static enum imds_ev_code
ev_code_from(const char *s)
{
	static const struct { const char *name; enum imds_ev_code code; } codes[] = {
		{ "instance-reboot", IMDS_EV_INSTANCE_REBOOT },
		{ "system-reboot", IMDS_EV_SYSTEM_REBOOT },
		{ "system-maintenance", IMDS_EV_SYSTEM_MAINTENANCE },
		{ "instance-retirement", IMDS_EV_INSTANCE_RETIREMENT },
		{ "instance-stop", IMDS_EV_INSTANCE_STOP },
	};
	size_t i;

	for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
		if (util_strncaseeq(s, strlen(s), codes[i].name))
			return codes[i].code;
	return IMDS_EV_OTHER;
}

static enum imds_ev_state
ev_state_from(const char *s)
{
	if (util_strncaseeq(s, strlen(s), "active"))
		return IMDS_EV_ACTIVE;
	if (util_strncaseeq(s, strlen(s), "completed"))
		return IMDS_EV_COMPLETED;
	if (util_strncaseeq(s, strlen(s), "canceled") || util_strncaseeq(s, strlen(s), "cancelled"))
		return IMDS_EV_CANCELED;
	return IMDS_EV_STATE_OTHER;
}

/*
 * The date at key in the object at index obj into *t: 0, 1 if the key is
 * absent and optional, -1 (with err) otherwise.
 */
static int
ev_date(const struct json_doc *d, int obj, int idx, const char *key, int optional, int64_t *t,
    char *err, size_t errlen)
{
	int i = json_get(d, obj, key);
	const struct json_tok *k;

	*t = 0;
	if (i < 0 && optional)
		return 1;
	if (i < 0 || d->toks[i].type != JSON_STRING) {
		util_fmt(err, errlen, "scheduled event %d: no \"%s\" string", idx, key);
		return -1;
	}
	k = &d->toks[i];
	if (util_parse_gmt_date(d->text + k->start, (size_t)(k->end - k->start), t) < 0) {
		util_fmt(err, errlen, "scheduled event %d: \"%s\" is not a date like "
		    "\"21 Jan 2019 09:00:43 GMT\"", idx, key);
		return -1;
	}
	return 0;
}

/* Event number idx, the object at index obj, into *e. */
static int
parse_event(const struct json_doc *d, int obj, int idx, struct imds_event *e,
    char *err, size_t errlen)
{
	char what[32], state[32];

	memset(e, 0, sizeof *e);
	if (d->toks[obj].type != JSON_OBJECT) {
		util_fmt(err, errlen, "scheduled event %d: not a JSON object", idx);
		return -1;
	}
	util_fmt(what, sizeof what, "scheduled event %d", idx);
	if (str_field_at(d, obj, what, "Code", e->code_name, sizeof e->code_name, err, errlen) < 0 ||
	    str_field_at(d, obj, what, "State", state, sizeof state, err, errlen) < 0 ||
	    str_field_at(d, obj, what, "EventId", e->id, sizeof e->id, err, errlen) < 0 ||
	    ev_date(d, obj, idx, "NotBefore", 0, &e->not_before_s, err, errlen) < 0 ||
	    ev_date(d, obj, idx, "NotAfter", 1, &e->not_after_s, err, errlen) < 0 ||
	    ev_date(d, obj, idx, "NotBeforeDeadline", 1, &e->not_before_deadline_s, err,
		errlen) < 0)
		return -1;
	e->code = ev_code_from(e->code_name);
	e->state = ev_state_from(state);
	return 0;
}

int
imds_parse_events(const char *body, size_t len, struct imds_event *ev, int cap,
    char *err, size_t errlen)
{
	struct json_tok toks[IMDS_MAX_JSON_TOKENS];
	struct json_doc d;
	const char *p;
	size_t n = len;
	int i, e;

	p = util_trim(body, &n);
	if (n == 0)
		return 0;
	if (parse_root(&d, toks, p, n, "scheduled events", JSON_ARRAY, "the JSON is not an array",
	    err, errlen) < 0)
		return -1;
	if (d.toks[0].size > cap) {
		util_fmt(err, errlen, "scheduled events: %d events, more than the %d understood",
		    d.toks[0].size, cap);
		return -1;
	}
	for (e = 0; e < d.toks[0].size; e++)
		if ((i = json_elem(&d, 0, e)) < 0 || parse_event(&d, i, e, &ev[e], err, errlen) < 0)
			return -1;
	return d.toks[0].size;
}

int
imds_event_due(const struct imds_event *ev, int n, int64_t now_s, int64_t lead_s,
    int64_t *next_s)
{
	int i, best = -1;

	for (i = 0; i < n; i++) {
		if (ev[i].state != IMDS_EV_ACTIVE ||
		    (ev[i].not_after_s != 0 && ev[i].not_after_s <= now_s))
			continue;
		if (best < 0 || ev[i].not_before_s < ev[best].not_before_s)
			best = i;
	}
	if (next_s != NULL)
		*next_s = best >= 0 ? ev[best].not_before_s - lead_s : 0;
	return best >= 0 && ev[best].not_before_s - lead_s <= now_s ? best : -1;
}

void
imds_event_notice(const struct imds_event *e, struct imds_notice *out)
{
	memset(out, 0, sizeof *out);
	out->kind = IMDS_KIND_MAINTENANCE;
	out->action = IMDS_ACTION_UNKNOWN;
	out->time_s = e->not_before_s;
	out->time_given = 1;
	out->source = IMDS_SRC_TERMINATION;
	out->event_code = (int)e->code;
	util_strlcpy(out->event_code_name, e->code_name, sizeof out->event_code_name);
	util_strlcpy(out->event_id, e->id, sizeof out->event_id);
	out->event_end_s = e->not_after_s;
}

/* ---- The client --------------------------------------------------------- */

/* Parses an http:// URL for IMDS into u; the name of the setting goes in the message. */
static int
parse_imds_url(const char *what, const char *s, struct url *u, char *err, size_t errlen)
{
	char uerr[160];

	if (url_parse(s, u, uerr, sizeof uerr) < 0) {
		util_fmt(err, errlen, "%s: %s", what, uerr);
		return -1;
	}
	if (u->tls) {
		util_fmt(err, errlen, "%s: IMDS is plain http, not https (%s)", what, s);
		return -1;
	}
	return 0;
}

/* Whether u is on the imds_base host and port (the only place tokens go). */
static int
on_imds(const struct imds *m, const struct url *u)
{
	char key[sizeof m->imds_key];

	return url_hostport(u, key, sizeof key) == 0 && strcmp(key, m->imds_key) == 0;
}

/* Builds {base}{path} and parses it into m->scratch. */
static int
scratch_url(struct imds *m, const char *path, char *err, size_t errlen)
{
	char s[CONFIG_MAX_STR + 128];

	if (util_snprintf(s, sizeof s, "%s%s", m->base, path) < 0) {
		util_fmt(err, errlen, "imds_base: URL too long for %s", path);
		return -1;
	}
	return parse_imds_url("imds_base", s, &m->scratch, err, errlen);
}

int
imds_init(struct imds *m, const struct config *cfg, const struct log *lg,
    char *err, size_t errlen)
{
	static const char *const names[IMDS_NSOURCES] = { "notice_url", "action_url", "rebalance_url" };
	const char *urls[IMDS_NSOURCES];
	struct url base;
	size_t n;
	int i, any = 0;

	memset(m, 0, sizeof *m);
	m->lg = lg;
	m->version = cfg->imds_version;
	m->poll_interval_ms = cfg->poll_interval_ms > 0 ? cfg->poll_interval_ms : 1;
	http_client_init(&m->hc, NULL, NULL);

	if (util_strlcpy(m->base, cfg->imds_base, sizeof m->base) < 0) {
		util_fmt(err, errlen, "imds_base: too long");
		return -1;
	}
	n = strlen(m->base);
	while (n > 0 && m->base[n - 1] == '/')
		m->base[--n] = '\0';
	if (parse_imds_url("imds_base", m->base, &base, err, errlen) < 0)
		return -1;
	if (url_hostport(&base, m->imds_key, sizeof m->imds_key) < 0) {
		util_fmt(err, errlen, "imds_base: host too long");
		return -1;
	}
	if (scratch_url(m, "/latest/api/token", err, errlen) < 0)
		return -1;
	m->token_url = m->scratch;

	urls[IMDS_SRC_TERMINATION] = cfg->notice_url;
	urls[IMDS_SRC_ACTION] = cfg->action_url;
	urls[IMDS_SRC_REBALANCE] = cfg->rebalance_url;
	for (i = 0; i < IMDS_NSOURCES; i++) {
		struct imds_poll_src *s = &m->src[i];

		s->url_str = urls[i];
		if (urls[i][0] == '\0')
			continue;
		if (parse_imds_url(names[i], urls[i], &s->url, err, errlen) < 0)
			return -1;
		s->enabled = 1;
		s->on_imds = on_imds(m, &s->url);
		any = 1;
	}
	if (!any) {
		util_fmt(err, errlen, "notice_url, action_url and rebalance_url are all empty: "
		    "nothing to poll");
		return -1;
	}
	m->inst_id_url = cfg->inst_id_url;
	m->inst_type_url = cfg->inst_type_url;
	m->inst_identity_url = cfg->inst_identity_url;
	m->events_src.url_str = cfg->maintenance_url;
	if (cfg->maintenance_url[0] != '\0') {
		if (parse_imds_url("maintenance_url", cfg->maintenance_url, &m->events_src.url, err,
		    errlen) < 0)
			return -1;
		m->events_src.enabled = 1;
		m->events_src.on_imds = on_imds(m, &m->events_src.url);
	}
	return 0;
}

void
imds_close(struct imds *m)
{
	http_client_close(&m->hc);
	util_wipe(m->token, sizeof m->token);
	m->token_len = 0;
}

void
imds_set_identity(struct imds *m, const char *instance_id, const char *private_ip)
{
	util_strlcpy(m->instance_id, instance_id != NULL ? instance_id : "", sizeof m->instance_id);
	util_strlcpy(m->private_ip, private_ip != NULL ? private_ip : "", sizeof m->private_ip);
}

/*
 * One request on the kept-alive connection, with the token if with_token.
 * Returns 0 with the response in m->resp (body in m->body), or -1 with err
 * naming the method and URL.
 */
static int
request(struct imds *m, const char *method, const struct url *u, const char *url_str,
    int with_token, int64_t deadline_ms, char *err, size_t errlen)
{
	struct http_header h[1];
	struct http_request req;
	char herr[256];
	size_t nh = 0;

	if (strcmp(method, "PUT") == 0) {
		h[nh].name = TOKEN_TTL_HEADER;
		h[nh++].value = TOKEN_TTL_STR;
	} else if (with_token && m->token_len > 0) {
		h[nh].name = TOKEN_HEADER;
		h[nh++].value = m->token;
	}
	memset(&req, 0, sizeof req);
	req.method = method;
	req.url = u;
	req.headers = h;
	req.nheaders = nh;
	req.idempotent = 1;     /* reading metadata or asking for a token can be repeated */
	m->resp.body = m->body;
	m->resp.body_cap = sizeof m->body;
	if (http_do(&m->hc, &req, &m->resp, deadline_ms, herr, sizeof herr) < 0) {
		metrics_api(m->metrics, MEP_IMDS, -1);
		util_fmt(err, errlen, "%s %s: %s", method, url_str, herr);
		return -1;
	}
	metrics_api(m->metrics, MEP_IMDS, m->resp.status);
	return 0;
}

/*
 * Called after a token PUT timed out: if a plain GET to IMDS gets any answer
 * before deadline_ms, the PUT's answer was lost on the way, which is what a
 * hop limit of 1 does to a pod behind a bridge. Says so once.
 */
static void
hop_limit_check(struct imds *m, int64_t deadline_ms)
{
	char err[256];

	if (m->hop_logged || scratch_url(m, "/latest/meta-data/", err, sizeof err) < 0)
		return;
	if (request(m, "GET", &m->scratch, "meta-data", 0, deadline_ms, err, sizeof err) < 0)
		return;
	m->hop_logged = 1;
	log_error(m->lg, "imds: the IMDSv2 token request (PUT %s/latest/api/token) timed out, "
	    "but IMDS answers other requests (GET %s/latest/meta-data/ got HTTP %d): the "
	    "instance's IMDS hop limit is too low for a pod network. Run despotify with "
	    "hostNetwork: true, or set the hop limit to 2 (aws ec2 modify-instance-metadata-options "
	    "--http-put-response-hop-limit 2)", m->base, m->base, m->resp.status);
}

/* Gets a new token (or, in auto mode, learns that IMDSv1 is all there is). */
static int
token_fetch(struct imds *m, int64_t deadline_ms, char *err, size_t errlen)
{
	char url_str[CONFIG_MAX_STR + 32];
	int64_t sent = util_now_ms(), put_deadline, ttl_s = TOKEN_TTL_S, v;
	const char *hv, *tok;
	size_t hl, tl;
	int st;

	util_wipe(m->token, sizeof m->token);
	m->token_len = 0;
	util_fmt(url_str, sizeof url_str, "%s/latest/api/token", m->base);
	/* Keep half the time for telling a lost answer from a dead IMDS. */
	put_deadline = deadline_ms > sent ? sent + (deadline_ms - sent) / 2 : deadline_ms;
	if (request(m, "PUT", &m->token_url, url_str, 0, put_deadline, err, errlen) < 0) {
		if (util_now_ms() >= put_deadline && util_now_ms() < deadline_ms)
			hop_limit_check(m, deadline_ms);
		return -1;
	}
	st = m->resp.status;
	if (st == 200) {
		tl = m->resp.body_len;
		tok = util_trim(m->body, &tl);
		if (tl == 0 || tl >= sizeof m->token) {
			util_fmt(err, errlen, "PUT %s: token of %zu bytes (want 1 to %zu)", url_str, tl,
			    sizeof m->token - 1);
			util_wipe(m->body, m->resp.body_len);
			return -1;
		}
		for (size_t i = 0; i < tl; i++) {
			if ((unsigned char)tok[i] <= ' ' || (unsigned char)tok[i] >= 0x7f) {
				util_fmt(err, errlen, "PUT %s: the token is not printable ASCII",
				    url_str);
				util_wipe(m->body, m->resp.body_len);
				return -1;
			}
		}
		memcpy(m->token, tok, tl);
		m->token[tl] = '\0';
		m->token_len = tl;
		util_wipe(m->body, m->resp.body_len);
		/* IMDS echoes the TTL it granted; believe it if it is shorter. */
		if ((hv = http_header(&m->resp, TOKEN_TTL_HEADER, &hl)) != NULL) {
			char b[16];
			int iv;

			if (hl < sizeof b) {
				memcpy(b, hv, hl);
				b[hl] = '\0';
				if (util_parse_uint(b, &iv) == 0 && iv > 0 && iv < ttl_s)
					ttl_s = iv;
			}
		}
		v = ttl_s * 1000;
		m->token_expire_ms = sent + v;
		m->token_renew_ms = sent + v / 2;
		m->tokens_fetched++;
		if (m->use_v1)
			log_info(m->lg, "imds: IMDSv2 token granted again; leaving IMDSv1");
		else if (m->tokens_fetched == 1)
			log_info(m->lg, "imds: using IMDSv2 (token for %lld s)", (long long)ttl_s);
		else
			log_debug(m->lg, "imds: IMDSv2 token renewed (for %lld s)", (long long)ttl_s);
		m->use_v1 = 0;
		return 0;
	}
	if ((st == 403 || st == 404 || st == 405) && m->version == IMDS_AUTO) {
		m->use_v1 = 1;
		if (!m->fallback_logged) {
			m->fallback_logged = 1;
			log_warning(m->lg, "imds: the IMDSv2 token request was refused (PUT %s: "
			    "HTTP %d); using IMDSv1 (imds_version = auto)", url_str, st);
		}
		return 0;
	}
	util_fmt(err, errlen, "PUT %s: HTTP %d%s", url_str, st,
	    m->version == IMDS_V2 && (st == 403 || st == 404 || st == 405) ?
	    " (imds_version = v2: no fallback to IMDSv1)" : "");
	return -1;
}

/*
 * Gets a token first if one is due (or, with force, after a 401: the token
 * was revoked, or IMDS started to require tokens while we were on IMDSv1).
 */
static int
token_ensure(struct imds *m, int force, int64_t deadline_ms, char *err, size_t errlen)
{
	if (m->version == IMDS_V1)
		return 0;
	if (!force && (m->use_v1 || (m->token_len > 0 && util_now_ms() < m->token_renew_ms)))
		return 0;
	return token_fetch(m, deadline_ms, err, errlen);
}

/*
 * GET u with whatever IMDS version applies. A 401 on IMDS means the token
 * expired or was revoked (or, in IMDSv1, that tokens are now required): get
 * a fresh token and try once more. Returns 0 with m->resp set, or -1 with err.
 * *token_fault is set when the failure was in getting a token.
 */
static int
get(struct imds *m, const struct url *u, const char *url_str, int on_imds,
    int64_t deadline_ms, int *token_fault, char *err, size_t errlen)
{
	int attempt;

	if (token_fault != NULL)
		*token_fault = 0;
	for (attempt = 0; attempt < 2; attempt++) {
		if (on_imds && token_ensure(m, attempt > 0, deadline_ms, err, errlen) < 0) {
			if (token_fault != NULL)
				*token_fault = 1;
			return -1;
		}
		if (request(m, "GET", u, url_str, on_imds, deadline_ms, err, errlen) < 0)
			return -1;
		if (m->resp.status != 401 || !on_imds || m->version == IMDS_V1 || attempt > 0)
			return 0;
		log_debug(m->lg, "imds: GET %s: HTTP 401; getting a new token", url_str);
	}
	return 0;
}

/*
 * Remembers a 429's Retry-After (seconds or a date), capped like the
 * back-off so that a notice is never missed for long.
 */
static void
note_retry_after(struct imds *m)
{
	const char *v;
	size_t l;
	int64_t ms;

	if ((v = http_header(&m->resp, "Retry-After", &l)) != NULL &&
	    util_retry_after_parse(v, l, util_wall_ms() / 1000, &ms) == 0)
		m->retry_after_ms = ms > IMDS_BACKOFF_MAX_MS ? IMDS_BACKOFF_MAX_MS : ms;
}

int
imds_poll(struct imds *m, struct imds_notice *out, int64_t deadline_ms)
{
	static const enum imds_source order[IMDS_NSOURCES] = {
		IMDS_SRC_ACTION, IMDS_SRC_TERMINATION, IMDS_SRC_REBALANCE
	};
	char err[512], fault[512];
	int64_t now_s = util_wall_ms() / 1000;
	int i, r, tf, found = 0, faulty = 0;

	m->polls++;
	m->retry_after_ms = 0;
	fault[0] = '\0';
	for (i = 0; i < IMDS_NSOURCES && !found; i++) {
		enum imds_source s = order[i];
		struct imds_poll_src *ps = &m->src[s];

		if (!ps->enabled)
			continue;
		if (get(m, &ps->url, ps->url_str, ps->on_imds, deadline_ms, &tf, err,
		    sizeof err) < 0) {
			if (!faulty++)
				util_strlcpy(fault, err, sizeof fault);
			if (tf)
				break;  /* every other source needs the same token */
			continue;
		}
		switch (m->resp.status) {
		case 200:
			r = imds_parse_notice(s, m->body, m->resp.body_len, now_s, m->instance_id,
			    m->private_ip, out, err, sizeof err);
			if (r > 0) {
				out->url = ps->url_str;
				found = 1;
			} else if (r < 0 && !faulty++) {
				util_fmt(fault, sizeof fault, "GET %.200s: %.280s", ps->url_str, err);
			}
			break;
		case 404:
			break;
		default:
			if (m->resp.status == 429)
				note_retry_after(m);
			if (!faulty++)
				util_fmt(fault, sizeof fault, "GET %s: HTTP %d%s", ps->url_str,
				    m->resp.status,
				    m->resp.status == 401 && m->version == IMDS_V1 ?
				    " (IMDS wants IMDSv2 tokens; imds_version = v1)" : "");
			break;
		}
	}
	if (found || !faulty) {
		if (m->faults > 0) {
			log_info(m->lg, "imds: polls work again after %u failed", m->faults);
			log_limit_reset(&m->ll);
		}
		m->faults = 0;
		metrics_poll(m->metrics, found, found && out->kind == IMDS_KIND_REBALANCE ? MN_REBALANCE :
		    MN_TERMINATION, found ? out->time_s : 0, NULL);
		return found;
	}
	m->faults++;
	log_limited(m->lg, &m->ll, FAULT_LOG_MS, LV_WARNING, "imds: poll failed: %s", fault);
	metrics_poll(m->metrics, -1, MN_TERMINATION, 0, fault);
	return -1;
}

int64_t
imds_delay_ms(const struct imds *m)
{
	int64_t d = m->poll_interval_ms, cap = IMDS_BACKOFF_MAX_MS;
	unsigned i;

	if (cap < m->poll_interval_ms)
		cap = m->poll_interval_ms;
	for (i = 0; i < m->faults && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;
	if (d < m->retry_after_ms)
		d = m->retry_after_ms;
	return d;
}

/*
 * GETs a text fact (instance-id, ...) from url_str: the first white-space
 * separated word of a 200 body, into out (cap bytes).
 */
static int
get_text(struct imds *m, const char *url_str, char *out, size_t cap, int64_t deadline_ms,
    char *err, size_t errlen)
{
	const char *p;
	size_t n, w;

	if (parse_imds_url(url_str, url_str, &m->scratch, err, errlen) < 0 ||
	    get(m, &m->scratch, url_str, on_imds(m, &m->scratch), deadline_ms, NULL, err,
		errlen) < 0)
		return -1;
	if (m->resp.status != 200) {
		util_fmt(err, errlen, "GET %s: HTTP %d", url_str, m->resp.status);
		return -1;
	}
	n = m->resp.body_len;
	p = util_trim(m->body, &n);
	for (w = 0; w < n && (unsigned char)p[w] > ' ' && (unsigned char)p[w] < 0x7f; w++)
		;
	if (w == 0 || (w < n && p[w] != ' ' && p[w] != '\t' && p[w] != '\n' && p[w] != '\r')) {
		util_fmt(err, errlen, "GET %s: %s", url_str,
		    w == 0 ? "empty answer" : "answer is not printable ASCII");
		return -1;
	}
	if (w >= cap) {
		util_fmt(err, errlen, "GET %s: answer over %zu bytes", url_str, cap - 1);
		return -1;
	}
	memcpy(out, p, w);
	out[w] = '\0';
	return 0;
}

/* Fetches and reads the identity document into f. */
static int
get_identity(struct imds *m, struct imds_facts *f, int64_t deadline_ms, char *err, size_t errlen)
{
	struct imds_facts t = *f;
	char perr[256];

	if (parse_imds_url("inst_identity_url", m->inst_identity_url, &m->scratch, err,
	    errlen) < 0 ||
	    get(m, &m->scratch, m->inst_identity_url, on_imds(m, &m->scratch), deadline_ms, NULL,
		err, errlen) < 0)
		return -1;
	if (m->resp.status != 200) {
		util_fmt(err, errlen, "GET %s: HTTP %d", m->inst_identity_url, m->resp.status);
		return -1;
	}
	/* All or nothing: a half-read document must not look fetched. */
	if (imds_parse_identity(m->body, m->resp.body_len, &t, perr, sizeof perr) < 0) {
		util_fmt(err, errlen, "GET %s: %s", m->inst_identity_url, perr);
		return -1;
	}
	*f = t;
	return 0;
}

int
imds_facts(struct imds *m, struct imds_facts *f, unsigned want, int64_t deadline_ms,
    char *err, size_t errlen)
{
	char host_url[CONFIG_MAX_STR + 64];

	if (util_snprintf(host_url, sizeof host_url, "%s/latest/meta-data/local-hostname",
	    m->base) < 0) {
		util_fmt(err, errlen, "imds_base: too long");
		return -1;
	}
	/* Each fact already there is kept: a failure costs only the ones still missing. */
	if ((want & IMDS_FACT_ID) && f->instance_id[0] == '\0' &&
	    get_text(m, m->inst_id_url, f->instance_id, sizeof f->instance_id, deadline_ms,
		err, errlen) < 0)
		return -1;
	if ((want & IMDS_FACT_TYPE) && f->instance_type[0] == '\0' &&
	    get_text(m, m->inst_type_url, f->instance_type, sizeof f->instance_type, deadline_ms,
		err, errlen) < 0)
		return -1;
	if ((want & IMDS_FACT_HOSTNAME) && f->local_hostname[0] == '\0' &&
	    get_text(m, host_url, f->local_hostname, sizeof f->local_hostname, deadline_ms,
		err, errlen) < 0)
		return -1;
	if ((want & IMDS_FACT_IDENTITY) && f->region[0] == '\0' &&
	    get_identity(m, f, deadline_ms, err, errlen) < 0)
		return -1;
	imds_set_identity(m, f->instance_id, f->private_ip);
	return 0;
}

int
imds_events(struct imds *m, struct imds_event *ev, int cap, int64_t deadline_ms,
    char *err, size_t errlen)
{
	struct imds_poll_src *s = &m->events_src;
	char perr[256];
	int n;

	if (!s->enabled)
		return 0;
	if (get(m, &s->url, s->url_str, s->on_imds, deadline_ms, NULL, err, errlen) < 0)
		return -1;
	if (m->resp.status == 404)
		return 0;
	if (m->resp.status != 200) {
		util_fmt(err, errlen, "GET %s: HTTP %d", s->url_str, m->resp.status);
		return -1;
	}
	if ((n = imds_parse_events(m->body, m->resp.body_len, ev, cap, perr, sizeof perr)) < 0)
		util_fmt(err, errlen, "GET %s: %s", s->url_str, perr);
	return n;
}

int
imds_role_credentials(struct imds *m, struct imds_creds *out, int64_t deadline_ms,
    char *err, size_t errlen)
{
	char list_url[CONFIG_MAX_STR + 64], role_url[CONFIG_MAX_STR + 64 + IMDS_MAX_ROLE];
	char perr[256];
	const char *p;
	size_t n, w;
	int r;

	memset(out, 0, sizeof *out);
	if (util_snprintf(list_url, sizeof list_url, "%s/latest/meta-data/iam/security-credentials/",
	    m->base) < 0) {
		util_fmt(err, errlen, "imds_base: too long");
		return -1;
	}
	if (parse_imds_url("imds_base", list_url, &m->scratch, err, errlen) < 0 ||
	    get(m, &m->scratch, list_url, 1, deadline_ms, NULL, err, errlen) < 0)
		return -1;
	if (m->resp.status == 404) {
		util_fmt(err, errlen, "GET %s: HTTP 404: the instance has no IAM role", list_url);
		return -1;
	}
	if (m->resp.status != 200) {
		util_fmt(err, errlen, "GET %s: HTTP %d", list_url, m->resp.status);
		return -1;
	}
	n = m->resp.body_len;
	p = util_trim(m->body, &n);
	/* A role name is [\w+=,.@-]; the first line is the one AWS serves. */
	for (w = 0; w < n && p[w] != '\n' && p[w] != '\r'; w++) {
		unsigned char c = (unsigned char)p[w];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("_+=,.@-", c) != NULL)) {
			util_fmt(err, errlen, "GET %s: the role name has a character outside "
			    "[A-Za-z0-9_+=,.@-]", list_url);
			return -1;
		}
	}
	if (w == 0 || w >= sizeof out->role) {
		util_fmt(err, errlen, "GET %s: %s", list_url,
		    w == 0 ? "no role name" : "role name too long");
		return -1;
	}
	memcpy(out->role, p, w);
	out->role[w] = '\0';
	if (util_snprintf(role_url, sizeof role_url, "%s%s", list_url, out->role) < 0) {
		util_fmt(err, errlen, "imds_base: too long");
		return -1;
	}
	if (parse_imds_url("imds_base", role_url, &m->scratch, err, errlen) < 0)
		return -1;
	r = get(m, &m->scratch, role_url, 1, deadline_ms, NULL, err, errlen);
	if (r == 0 && m->resp.status != 200) {
		util_fmt(err, errlen, "GET %s: HTTP %d", role_url, m->resp.status);
		r = -1;
	}
	if (r == 0 && imds_parse_creds(m->body, m->resp.body_len, out, perr, sizeof perr) < 0) {
		util_fmt(err, errlen, "GET %s: %s", role_url, perr);
		r = -1;
	}
	/* The body held secrets, whole or in part even after a failed read. */
	util_wipe(m->body, sizeof m->body);
	if (r < 0) {
		util_wipe(out, sizeof *out);
		return -1;
	}
	return 0;
}
