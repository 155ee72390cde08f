/*
 * imds.h — the EC2 instance metadata service: spot interruption notices,
 * instance facts and IAM role credentials.
 *
 * One struct imds is one independent client: its own keep-alive connection
 * (struct http_client), its own IMDSv2 session token and its own buffers.
 * Nothing is shared between instances, so each thread that talks to IMDS
 * (the poll loop in main, the credential refresh in aws) owns one. A struct
 * imds is about 52 KiB: keep it static or on the heap, not on a small thread
 * stack. It is used by one thread at a time. The parsers use about 8 KiB of
 * stack for JSON tokens.
 *
 * IMDS is always plain HTTP and never proxied. Every URL is derived from
 * config->imds_base, or is one of the configured full URLs (notice_url,
 * action_url, rebalance_url, inst_*_url). The session token is sent only to
 * URLs on the imds_base host and port, never to a custom notice service
 * elsewhere.
 *
 * Tokens (IMDSv2): `PUT {imds_base}/latest/api/token` with
 * `X-aws-ec2-metadata-token-ttl-seconds: 21600`; the token goes on every GET
 * as `X-aws-ec2-metadata-token`. It is renewed at half its lifetime (the
 * TTL IMDS echoes in its answer) and at once on a 401. With imds_version =
 * auto a token PUT refused with 403, 404 or 405 switches to IMDSv1 (logged
 * once; a later 401 switches back); a PUT that times out is a fault, never a
 * reason to fall back. A PUT that times out while a plain GET gets an answer
 * is what a hop limit of 1 looks like from a pod network: that is logged
 * once at ERROR with the fix.
 *
 * Notices come from three sources, each its own URL (an empty URL disables
 * it): spot/termination-time, spot/instance-action and the rebalance
 * recommendation. 404 means no notice.
 */
#ifndef DESPOTIFY_IMDS_H
#define DESPOTIFY_IMDS_H

#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "url.h"

/* Where a notice came from. The order is the order of enum imds_source. */
enum imds_source {
	IMDS_SRC_TERMINATION,   /* notice_url: spot/termination-time (or a custom service) */
	IMDS_SRC_ACTION,        /* action_url: spot/instance-action */
	IMDS_SRC_REBALANCE,     /* rebalance_url: events/recommendations/rebalance */
	IMDS_NSOURCES
};

enum imds_kind {
	IMDS_KIND_TERMINATION,  /* the instance is going away (terminate, stop or hibernate) */
	IMDS_KIND_REBALANCE,    /* elevated risk of interruption; main acts per rebalance_action */
	IMDS_KIND_MAINTENANCE   /* a scheduled event is due (imds_event_due); main acts per maintenance_action */
};

enum imds_action {
	IMDS_ACTION_UNKNOWN,    /* termination-time, a custom notice, or an action we do not know */
	IMDS_ACTION_TERMINATE,
	IMDS_ACTION_STOP,
	IMDS_ACTION_HIBERNATE
};

/* How long AWS gives after a notice; the time of a notice whose body has none. */
#define IMDS_NOTICE_LEAD_S 120

/* One notice. */
struct imds_notice {
	enum imds_kind kind;
	enum imds_action action;
	int64_t time_s;             /* epoch seconds the notice names (may be in the past) */
	int time_given;             /* 0: the body had no time; time_s is "now + 120 s" */
	enum imds_source source;
	const char *url;            /* the URL it came from (set by imds_poll; NULL from the parser) */
	/* IMDS_KIND_MAINTENANCE only: the event (time_s is its NotBefore). */
	int event_code;                        /* enum imds_ev_code */
	char event_code_name[IMDS_MAX_EVENT_CODE];
	char event_id[IMDS_MAX_EVENT_ID];
	int64_t event_end_s;                   /* its NotAfter (0: not given) */
};

/* Names for log lines: "termination-time", "instance-action", "rebalance". */
const char *imds_source_name(enum imds_source s);
/* "termination", "rebalance", "maintenance". */
const char *imds_kind_name(enum imds_kind k);
/* "terminate", "stop", "hibernate", "unknown". */
const char *imds_action_name(enum imds_action a);

/* Facts about this instance, fetched between polls (imds_facts). */
struct imds_facts {
	char instance_id[IMDS_MAX_FACT];        /* "i-0123456789abcdef0" (inst_id_url) */
	char instance_type[IMDS_MAX_FACT];      /* "m5.large" (inst_type_url) */
	char local_hostname[IMDS_MAX_HOSTNAME]; /* first name of meta-data/local-hostname */
	char region[IMDS_MAX_FACT];             /* identity document: region */
	char availability_zone[IMDS_MAX_FACT];  /* availabilityZone */
	char account_id[IMDS_MAX_FACT];         /* accountId */
	char private_ip[IMDS_MAX_FACT];         /* privateIp */
	char doc_instance_id[IMDS_MAX_FACT];    /* instanceId as the identity document says */
};

/* Temporary credentials of the instance's IAM role. Secrets: never log them. */
struct imds_creds {
	char role[IMDS_MAX_ROLE];
	char access_key_id[IMDS_MAX_KEY];
	char secret_access_key[IMDS_MAX_KEY];
	char token[IMDS_MAX_SESSION_TOKEN];
	int64_t expiration_s;                   /* epoch seconds */
};

struct imds_poll_src {
	int enabled;                /* the URL is not empty */
	int on_imds;                /* same host:port as imds_base: send the token */
	const char *url_str;        /* the configured URL (borrowed from the config) */
	struct url url;
};

/* The client. Fields are private to imds.c except where noted. */
struct imds {
	const struct log *lg;
	enum imds_version version;          /* as configured */
	int64_t poll_interval_ms;
	char base[CONFIG_MAX_STR];          /* imds_base without a trailing '/' */
	char imds_key[URL_MAX_HOST + 16];   /* its host:port: where tokens may go */
	struct url token_url;
	struct imds_poll_src src[IMDS_NSOURCES];
	const char *inst_id_url, *inst_type_url, *inst_identity_url;
	struct imds_poll_src events_src;    /* maintenance_url: scheduled events */
	struct url scratch;                 /* URLs of facts and credentials, parsed per call */

	/* IMDSv2 state. */
	int use_v1;                         /* auto mode: the token PUT was refused */
	char token[IMDS_MAX_TOKEN];         /* secret */
	size_t token_len;                   /* 0: none held */
	int64_t token_renew_ms;             /* monotonic: renew from here on */
	int64_t token_expire_ms;            /* monotonic: IMDS forgets it here */
	int fallback_logged, hop_logged;

	/* This instance, for the custom {"instances_to_terminate": [...]} form. */
	char instance_id[IMDS_MAX_FACT];
	char private_ip[IMDS_MAX_FACT];

	/* Poll health. */
	unsigned faults;                    /* consecutive failed polls */
	int64_t retry_after_ms;             /* from a 429's Retry-After, 0 if none */
	struct log_limit ll;

	/* Counters, public, for the probe and the benchmark. */
	unsigned long polls, tokens_fetched;
	struct metrics *metrics;            /* public: set by the owner after imds_init; NULL: not counted */

	struct http_client hc;
	struct http_response resp;
	char body[IMDS_MAX_BODY];
};

/*
 * Sets m up from cfg: parses every IMDS URL once (all must be http://;
 * notice sources with an empty URL are disabled, but at least one must be
 * left) and keeps pointers to cfg's URL strings and to lg, which must
 * outlive m. Opens no connection. Returns 0, or -1 with the reason in err.
 */
int imds_init(struct imds *m, const struct config *cfg, const struct log *lg,
    char *err, size_t errlen);

/* Closes the connection and wipes the token. m may be set up again with imds_init. */
void imds_close(struct imds *m);

/* The facts imds_facts fetches, as a set. */
#define IMDS_FACT_ID        0x1u    /* instance_id */
#define IMDS_FACT_TYPE      0x2u    /* instance_type */
#define IMDS_FACT_HOSTNAME  0x4u    /* local_hostname */
#define IMDS_FACT_IDENTITY  0x8u    /* region, availability_zone, account_id, private_ip,
                                       doc_instance_id (the identity document) */
#define IMDS_FACTS_ALL      0xfu

/*
 * Fetches the facts in want (IMDS_FACT_*) that *f does not hold yet, in
 * the order above, keeping every one already there: a caller that retries
 * after a failure fetches only what is still missing (f starts zeroed).
 * Remembers the instance id and private IP in m for the custom notice
 * form. Returns 0 once every fact in want is in *f, or -1 with the reason
 * in err (naming the URL) at the first failure. Never blocks past
 * deadline_ms.
 */
int imds_facts(struct imds *m, struct imds_facts *f, unsigned want, int64_t deadline_ms,
    char *err, size_t errlen);

/*
 * Tells m this instance's id and private IP (for the custom notice form)
 * when the facts came from elsewhere. Either may be NULL or empty.
 */
void imds_set_identity(struct imds *m, const char *instance_id, const char *private_ip);

/*
 * One poll of every enabled notice source on the kept-alive connection,
 * instance-action first (it says which action), then termination-time,
 * then rebalance (a termination notice outranks a rebalance one and ends
 * the poll). Costs no allocation and logs nothing at INFO unless the state
 * changes. Returns:
 *    1  a notice, in *out;
 *    0  no notice (every enabled source answered);
 *   -1  a fault (a source could not be read and none had a notice); it has
 *       been logged, rate-limited, at WARNING.
 * Either way, wait imds_delay_ms(m) before the next poll. deadline_ms
 * bounds the whole poll (a second or two away is plenty: IMDS answers in
 * milliseconds).
 */
int imds_poll(struct imds *m, struct imds_notice *out, int64_t deadline_ms);

/*
 * Milliseconds to wait before the next poll: poll_interval after a good
 * poll; after n failed polls in a row, poll_interval doubled n times, capped
 * at the larger of poll_interval and IMDS_BACKOFF_MAX_MS, and never less
 * than a 429's Retry-After (itself capped the same way).
 */
int64_t imds_delay_ms(const struct imds *m);

/*
 * Fetches the credentials of the instance's IAM role: the role name (the
 * first line of .../meta-data/iam/security-credentials/), then that role's
 * JSON. Returns 0 with *out filled, or -1 with the reason in err (no role
 * attached, HTTP status, malformed JSON, "Code" other than "Success").
 * err never holds a secret. The response buffer is wiped after parsing.
 */
int imds_role_credentials(struct imds *m, struct imds_creds *out, int64_t deadline_ms,
    char *err, size_t errlen);

/*
 * The scheduled events at config->maintenance_url (an empty URL: none):
 * GETs the document and parses it into ev (cap entries) with
 * imds_parse_events. A 404 is an empty list. Returns the number of events,
 * or -1 with the reason in err (naming the URL). Never blocks past
 * deadline_ms.
 */
struct imds_event;
int imds_events(struct imds *m, struct imds_event *ev, int cap, int64_t deadline_ms,
    char *err, size_t errlen);

/* ---- Pure parsers (no I/O, no clock, no logging) ------------------------- */

/* The codes EC2 gives scheduled events; IMDS_EV_OTHER for one it may add later. */
enum imds_ev_code {
	IMDS_EV_OTHER,
	IMDS_EV_INSTANCE_REBOOT,
	IMDS_EV_SYSTEM_REBOOT,
	IMDS_EV_SYSTEM_MAINTENANCE,
	IMDS_EV_INSTANCE_RETIREMENT,
	IMDS_EV_INSTANCE_STOP
};

enum imds_ev_state { IMDS_EV_ACTIVE, IMDS_EV_COMPLETED, IMDS_EV_CANCELED, IMDS_EV_STATE_OTHER };

/* One scheduled event. Times are epoch seconds; 0 where the document has none. */
struct imds_event {
	enum imds_ev_code code;
	enum imds_ev_state state;
	char code_name[IMDS_MAX_EVENT_CODE];  /* the Code as EC2 wrote it */
	char id[IMDS_MAX_EVENT_ID];           /* EventId */
	int64_t not_before_s;                 /* NotBefore: the window opens (always set) */
	int64_t not_after_s;                  /* NotAfter: the window closes */
	int64_t not_before_deadline_s;        /* NotBeforeDeadline: latest it can be moved to */
};

/* "active", "completed", "canceled", "unknown". */
const char *imds_ev_state_name(enum imds_ev_state s);

/* Whether an event of code c ends the instance (retirement, stop): worth an ASG detach. */
int imds_ev_ends_instance(enum imds_ev_code c);

/*
 * The scheduled event of ev[0..n) due at now_s when events are handled
 * lead_s before they begin: of the active events whose window has not
 * closed (NotAfter, when given, still ahead), the one with the earliest
 * NotBefore, if NotBefore - lead_s <= now_s. Returns its index, or -1 if
 * none is due; *next_s (may be NULL) is then when the next active one will
 * be (0: none).
 */
int imds_event_due(const struct imds_event *ev, int n, int64_t now_s, int64_t lead_s,
    int64_t *next_s);

/* The notice (kind IMDS_KIND_MAINTENANCE, time_s its NotBefore) that stands for event e. */
void imds_event_notice(const struct imds_event *e, struct imds_notice *out);

/*
 * Reads a scheduled-events document, a JSON array of
 * {"Code","Description","State","EventId","NotBefore","NotAfter",
 * "NotBeforeDeadline"} with times like "21 Jan 2019 09:00:43 GMT", into
 * ev (cap entries). Code, State, EventId and NotBefore are required;
 * NotAfter and NotBeforeDeadline are optional; Description and unknown keys
 * are ignored. An empty body is an empty list. Returns the number of events,
 * or -1 with the reason in err (more than cap events, a missing or malformed
 * field, naming the event's index).
 */
int imds_parse_events(const char *body, size_t len, struct imds_event *ev, int cap,
    char *err, size_t errlen);


/*
 * Reads the body of a 200 answer from source src. now_s is the current
 * epoch time (for bodies without a time); instance_id and private_ip (may
 * be NULL or empty) identify this instance for the custom form.
 *
 *   termination-time: any body is a notice. An RFC 3339 time gives its
 *     time; anything else means now + 120 s. Two JSON forms are understood:
 *     an instance-action document (read as below), and the original
 *     despotify service's {"instances_to_terminate": ["i-0abc", "10.0.0.12"]},
 *     a notice only if it names instance_id or private_ip.
 *   instance-action: {"action":"terminate|stop|hibernate","time":"..."};
 *     another action string is a notice with IMDS_ACTION_UNKNOWN; a missing
 *     or unreadable time means now + 120 s.
 *   rebalance: {"noticeTime":"..."}, kind IMDS_KIND_REBALANCE.
 *
 * A time in the past still counts. Returns 1 with *out filled (url NULL),
 * 0 for "not a notice", -1 for a body that is not what the source sends
 * (with the reason in err; never a copy of the body).
 */
int imds_parse_notice(enum imds_source src, const char *body, size_t len, int64_t now_s,
    const char *instance_id, const char *private_ip, struct imds_notice *out,
    char *err, size_t errlen);

/*
 * Reads an instance identity document into f's region, availability_zone,
 * account_id, private_ip and doc_instance_id (other fields untouched).
 * All five must be present, non-empty strings that fit. Returns 0 or -1.
 */
int imds_parse_identity(const char *body, size_t len, struct imds_facts *f,
    char *err, size_t errlen);

/*
 * Reads a role's credential JSON into c (role untouched). AccessKeyId,
 * SecretAccessKey, Token and Expiration are required; a "Code" other than
 * "Success" is an error naming it. Returns 0 or -1 (err never holds a secret).
 */
int imds_parse_creds(const char *body, size_t len, struct imds_creds *c,
    char *err, size_t errlen);

#endif
