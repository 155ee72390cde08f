/*
 * config.h — the effective settings: built-in defaults, despotify.ini,
 * DESPOTIFY_<KEY> environment overrides and the standard environment
 * variables named in shared/DESIGN.md, validated once at start.
 *
 * Precedence, highest first: DESPOTIFY_<KEY>, the file, the standard
 * environment (AWS_REGION, KUBERNETES_SERVICE_HOST, ...), the default.
 * A bad value is an error naming the file, the line and the key (or the
 * environment variable), never silently replaced by a default.
 */
#ifndef DESPOTIFY_CONFIG_H
#define DESPOTIFY_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "log.h"

enum imds_version { IMDS_AUTO, IMDS_V2, IMDS_V1 };
enum rebalance_action { REBALANCE_NONE, REBALANCE_CORDON, REBALANCE_DRAIN };

struct config {
	/* Where the settings came from, for messages. */
	char path[CONFIG_MAX_STR];
	int file_loaded;                     /* 0: the default file was missing */

	/* Command line (not in the file). */
	int dry_run;
	int once;

	/* Logging. */
	enum log_level level;
	int log_json;

	/* Timing, in milliseconds. */
	int64_t poll_interval_ms;
	int64_t grace_period_ms;

	/* IMDS. Empty action_url / rebalance_url disable that source. */
	char imds_base[CONFIG_MAX_STR];
	enum imds_version imds_version;
	char notice_url[CONFIG_MAX_STR];
	char action_url[CONFIG_MAX_STR];
	char rebalance_url[CONFIG_MAX_STR];
	enum rebalance_action rebalance_action;
	char inst_id_url[CONFIG_MAX_STR];
	char inst_type_url[CONFIG_MAX_STR];
	char inst_identity_url[CONFIG_MAX_STR];
	char maintenance_url[CONFIG_MAX_STR];  /* scheduled events; empty: not polled */
	int64_t maintenance_poll_interval_ms;
	enum rebalance_action maintenance_action;  /* the same three choices as rebalance_action */
	int64_t maintenance_lead_ms;           /* act this long before an event's NotBefore */

	/* Identity of this node and of despotify's own pod (may be empty). */
	char node_name[CONFIG_MAX_STR];      /* empty: IMDS local-hostname at run time */
	char pod_name[CONFIG_MAX_STR];
	char pod_namespace[CONFIG_MAX_STR];

	/* AWS. Empty region / endpoints are resolved at run time. */
	int detach_from_asg;
	char region[CONFIG_MAX_STR];
	char asg_endpoint[CONFIG_MAX_STR];
	char sts_endpoint[CONFIG_MAX_STR];
	char aws_ca_file[CONFIG_MAX_STR];

	/* Kubernetes. */
	char kubeconfig[CONFIG_MAX_STR];     /* its current context replaces the five keys below */
	char eks_cluster_name[CONFIG_MAX_STR]; /* make the EKS token natively */
	char kubeconfig_desc[CONFIG_MAX_STR]; /* what the kubeconfig gives, for -n */
	char api_server[CONFIG_MAX_STR];
	char token_file[CONFIG_MAX_STR];
	char ca_file[CONFIG_MAX_STR];
	char client_cert_file[CONFIG_MAX_STR];
	char client_key_file[CONFIG_MAX_STR];
	char tls_server_name[CONFIG_MAX_STR];
	char taint[CONFIG_MAX_STR];          /* "key[=value]:effect", empty: none */
	int exclude_from_lb;
	int delete_emptydir_data;
	int force;
	int eviction_concurrency;
	int64_t pdb_retry_interval_ms;
	int64_t delete_blocked_at_ms;        /* 0: never delete blocked pods */
	int events;

	/* Notifications. */
	char webhook_url[CONFIG_MAX_STR];
	char slack_channel[CONFIG_MAX_STR];
	char slack_username[CONFIG_MAX_STR];

	/* The /healthz and /metrics listener: "ADDR:PORT", empty: none. */
	char listen[CONFIG_MAX_STR];

	/* Non-fatal remarks made while loading (an ignored section, ...). */
	char warnings[CONFIG_MAX_WARN][256];
	int nwarnings;
};

/*
 * Fills *c from the built-in defaults, then the file at path, then envp
 * (a NULL-terminated "NAME=value" array, normally environ). If path_given
 * is 0 and the file does not exist, the defaults stand; if path_given is 1
 * a missing file is an error. Returns 0, or -1 with the reason in err:
 * "despotify.ini:12: poll_interval: \"-1\" is not a number of seconds".
 */
int config_load(struct config *c, const char *path, int path_given,
    char *const *envp, char *err, size_t errlen);

/*
 * Writes the effective settings, one "key = value" a line in the ini
 * syntax, to fd. Secrets are never part of the config itself (tokens live
 * in files), but URLs that may embed one (webhook_url) are redacted.
 */
void config_print(const struct config *c, int fd);

#endif
