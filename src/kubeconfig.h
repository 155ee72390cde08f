/*
 * kubeconfig.h — what despotify takes from a kubeconfig file (the kubelet's
 * on a node): the current context's cluster and user. A pure function over
 * the file's bytes (parsed with yaml.h); the caller reads the file.
 *
 * Cluster: server (required), certificate-authority (a path, relative to
 * the kubeconfig's folder) or certificate-authority-data (base64),
 * tls-server-name. insecure-skip-tls-verify: true and proxy-url are
 * refused: despotify always verifies the API server and takes its proxy
 * from HTTPS_PROXY.
 *
 * User, exactly one of:
 *  - client-certificate / client-certificate-data with client-key /
 *    client-key-data (the two paths may name one combined PEM, as the
 *    kubelet's kubelet-client-current.pem is);
 *  - token (inline: a secret) or tokenFile;
 *  - exec with the EKS token commands, which are not run but understood:
 *    "aws [--region R] eks get-token --cluster-name C [--region R]
 *    [--output json]" (or --cluster-id C) and "aws-iam-authenticator token
 *    -i C [--region R]" (or --cluster-id C); an env entry may set
 *    AWS_REGION / AWS_DEFAULT_REGION or AWS_STS_REGIONAL_ENDPOINTS. Any
 *    other command, an option such as --role-arn, or another variable is
 *    an error that says what is understood.
 * Basic auth, auth-provider and impersonation are refused.
 */
#ifndef DESPOTIFY_KUBECONFIG_H
#define DESPOTIFY_KUBECONFIG_H

#include <stddef.h>

#include "bounds.h"
#include "yaml.h"

enum kubeconfig_auth {
	KUBECONFIG_CERT,          /* client certificate and key (files or data) */
	KUBECONFIG_TOKEN,         /* an inline bearer token */
	KUBECONFIG_TOKEN_FILE,    /* a bearer token file */
	KUBECONFIG_EKS            /* an EKS token despotify makes itself */
};

struct kubeconfig {
	char context[K8S_MAX_NAME];
	char server[CONFIG_MAX_STR];
	char tls_server_name[CONFIG_MAX_STR];
	char ca_file[CONFIG_MAX_STR];         /* absolute; "" when ca_data is given (or neither) */
	const unsigned char *ca_data;         /* decoded PEM, in the caller's arena; NULL if none */
	size_t ca_data_len;

	enum kubeconfig_auth auth;
	char cert_file[CONFIG_MAX_STR];       /* absolute paths, KUBECONFIG_CERT from files */
	char key_file[CONFIG_MAX_STR];
	const unsigned char *cert_data;       /* decoded PEM (arena), KUBECONFIG_CERT from data */
	size_t cert_data_len;
	const unsigned char *key_data;        /* a secret */
	size_t key_data_len;
	const char *token;                    /* KUBECONFIG_TOKEN (arena): a secret */
	char token_file[CONFIG_MAX_STR];      /* KUBECONFIG_TOKEN_FILE, absolute */
	char eks_cluster[K8S_MAX_NAME];       /* KUBECONFIG_EKS */
	char eks_region[64];                  /* "" if the kubeconfig names none */
	char user_desc[K8S_MAX_NAME + 128];   /* for messages: "exec aws eks get-token (native EKS token)" */
};

/* The caller's scratch space for one parse (about 1 MiB: allocate it); its arena holds kc's data. */
struct kubeconfig_scratch {
	struct yaml_node nodes[KUBECONFIG_MAX_NODES];
	char arena[2 * YAML_MAX_FILE];
	char text[YAML_MAX_FILE + 1];          /* kubeconfig_load's copy of the file */
};

/*
 * Interprets the kubeconfig text[0..len), read from the folder dir (for
 * relative paths), into *kc. Its data pointers point into sc->arena, which
 * must outlive kc's use. Returns 0, or -1 with the reason in err ("line 7:
 * tab in indentation", "user \"kubelet\": exec command \"gke-gcloud-auth-
 * plugin\" is not understood; ..."). No secret ever appears in err.
 */
int kubeconfig_parse(const char *text, size_t len, const char *dir, struct kubeconfig *kc,
    struct kubeconfig_scratch *sc, char *err, size_t errlen);

/*
 * Reads the kubeconfig at path (the one function here that does I/O) and
 * interprets it as kubeconfig_parse does, relative paths against path's
 * folder. A path that lists several files (KUBECONFIG=a:b) is refused:
 * despotify reads one. Returns 0, or -1 with "kubeconfig PATH: reason" in
 * err. sc then holds the file's secrets (a key, a token): wipe it after use.
 */
int kubeconfig_load(const char *path, struct kubeconfig *kc, struct kubeconfig_scratch *sc,
    char *err, size_t errlen);

#endif
