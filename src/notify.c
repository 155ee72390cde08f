/* notify.c — see notify.h. */
#include "notify.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "tls.h"
#include "util.h"

#define NOTIFY_SYSTEM_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define NOTIFY_MAX_TEXT 2048

int
notify_init(struct notify *n, const struct config *cfg, const struct log *lg,
    char *const *envp, char *err, size_t errlen)
{
	memset(n, 0, sizeof *n);
	n->cfg = cfg;
	n->lg = lg;
	if (cfg->webhook_url[0] == '\0')
		return 0;
	if (url_parse(cfg->webhook_url, &n->url, err, errlen) < 0 ||
	    http_proxy_from_env(&n->proxy, envp, err, errlen) < 0)
		return -1;
	if (n->url.tls) {
		if ((n->tls = tls_config_new()) == NULL) {
			util_fmt(err, errlen, "webhook: out of memory");
			return -1;
		}
		tls_config_add_amazon_roots(n->tls);
		if (cfg->aws_ca_file[0] != '\0' &&
		    tls_config_add_pem_file(n->tls, cfg->aws_ca_file, err, errlen) < 0)
			goto fail;
		/* Optional: absent in a scratch image, present on an AMI. */
		if (access(NOTIFY_SYSTEM_BUNDLE, R_OK) == 0 &&
		    tls_config_add_pem_file(n->tls, NOTIFY_SYSTEM_BUNDLE, err, errlen) < 0)
			goto fail;
	}
	n->enabled = 1;
	return 0;
fail:
	tls_config_free(n->tls);
	n->tls = NULL;
	return -1;
}

/* Appends ,"name":"value" (escaped) to body when value is set. */
static int
add_field(char *body, size_t cap, const char *name, const char *value)
{
	char esc[CONFIG_MAX_STR * 2];
	size_t l = strlen(body);

	if (value[0] == '\0')
		return 0;
	if (json_escape(value, esc, sizeof esc) < 0)
		return -1;
	return util_snprintf(body + l, cap - l, ",\"%s\":\"%s\"", name, esc);
}

int
notify_send(struct notify *n, const char *text, int64_t deadline_ms)
{
	static const struct http_header hdrs[] = {
		{ "Content-Type", "application/json" },
	};
	char esc[NOTIFY_MAX_TEXT * 2], body[NOTIFY_MAX_TEXT * 2 + CONFIG_MAX_STR * 4], err[512];
	char rbody[1024];
	struct http_client *hc;
	struct http_request req;
	struct http_response *resp;
	int r = -1;

	if (!n->enabled)
		return 0;
	if (json_escape(text, esc, sizeof esc) < 0 ||
	    util_snprintf(body, sizeof body, "{\"text\":\"%s\"", esc) < 0 ||
	    add_field(body, sizeof body, "channel", n->cfg->slack_channel) < 0 ||
	    add_field(body, sizeof body, "username", n->cfg->slack_username) < 0 ||
	    util_snprintf(body + strlen(body), sizeof body - strlen(body), "}") < 0) {
		log_warning(n->lg, "webhook: message too long, not sent");
		return -1;
	}
	if (n->cfg->dry_run) {
		log_info(n->lg, "dry-run: would POST webhook %s://%s message: %s",
		    n->url.tls ? "https" : "http", n->url.host, text);
		return 0;
	}
	/* The client holds a 16 KiB head buffer: keep it off the thread's stack. */
	hc = malloc(sizeof *hc);
	resp = malloc(sizeof *resp);
	if (hc == NULL || resp == NULL) {
		free(hc);
		free(resp);
		log_warning(n->lg, "webhook: out of memory");
		return -1;
	}
	http_client_init(hc, n->tls, &n->proxy);
	memset(&req, 0, sizeof req);
	req.method = "POST";
	req.url = &n->url;
	req.headers = hdrs;
	req.nheaders = sizeof hdrs / sizeof hdrs[0];
	req.body = body;
	req.body_len = strlen(body);
	memset(resp, 0, sizeof *resp);
	resp->body = rbody;
	resp->body_cap = sizeof rbody;
	if (http_do(hc, &req, resp, deadline_ms, err, sizeof err) < 0) {
		resp->status = -1;  /* no answer, for the count below */
		log_warning(n->lg, "webhook: %s", err);
	} else if (resp->status < 200 || resp->status > 299) {
		log_warning(n->lg, "webhook: %s answered HTTP %d", n->url.host, resp->status);
	} else {
		log_debug(n->lg, "webhook: sent to %s", n->url.host);
		r = 0;
	}
	metrics_api(n->metrics, MEP_WEBHOOK, resp->status);
	http_client_close(hc);
	free(hc);
	free(resp);
	return r;
}

void
notify_close(struct notify *n)
{
	tls_config_free(n->tls);
	n->tls = NULL;
	n->enabled = 0;
}
