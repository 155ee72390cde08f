/*
 * notify.h — Slack-compatible webhook messages about a notice's handling.
 *
 * One POST of {"text": ..., "channel": ..., "username": ...} (channel and
 * username only when configured) to webhook_url (slack_url in the original
 * service's config), through the environment's proxy. HTTPS endpoints are
 * verified against the Amazon roots, aws_ca_file when set, and the system
 * bundle /etc/ssl/certs/ca-certificates.crt when the image has one.
 *
 * A webhook is a courtesy: a failure is logged and never delays or stops
 * the detach or the drain.
 */
#ifndef DESPOTIFY_NOTIFY_H
#define DESPOTIFY_NOTIFY_H

#include <stdint.h>

#include "config.h"
#include "http.h"
#include "metrics.h"
#include "log.h"

struct tls_config;

struct notify {
	const struct config *cfg;
	const struct log *lg;
	struct url url;
	struct tls_config *tls;
	struct http_proxy proxy;
	int enabled;
	struct metrics *metrics;    /* set by the owner after notify_init; NULL: not counted */
};

/*
 * Sets n up from cfg (disabled when webhook_url is empty). envp gives the
 * proxy settings. Returns 0, or -1 with the reason in err (a CA file that
 * cannot be read, a malformed proxy URL).
 */
int notify_init(struct notify *n, const struct config *cfg, const struct log *lg,
    char *const *envp, char *err, size_t errlen);

/*
 * Posts text (plain UTF-8, escaped here) and waits for the answer until
 * deadline_ms. Safe to call from several threads at once: each call uses a
 * connection of its own. Returns 0 on a 2xx answer, else -1 after logging
 * why. In dry-run mode it logs the message instead of sending it.
 */
int notify_send(struct notify *n, const char *text, int64_t deadline_ms);

/* Frees what notify_init allocated. */
void notify_close(struct notify *n);

#endif
