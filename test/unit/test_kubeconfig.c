/* Unit tests of src/kubeconfig.c: what despotify takes from a kubeconfig. */
#include <stdlib.h>

#include "kubeconfig.h"
#include "kubeconfigs.h"
#include "t.h"
#include "util.h"

static struct kubeconfig_scratch *sc;
static struct kubeconfig kc;
static char err[512];

static int
parse_in(const char *text, const char *dir)
{
	err[0] = '\0';
	return kubeconfig_parse(text, strlen(text), dir, &kc, sc, err, sizeof err);
}

static int
parse(const char *text)
{
	return parse_in(text, "/etc/kubernetes");
}

/* Parses text, which must be refused with the message given; checks at the caller's line. */
#define CHECK_REFUSED(text, message) do { \
	CHECK_INT(parse(text), -1); \
	CHECK_STR(err, message); \
} while (0)

/* Parses text, which must give EKS auth for the cluster and region given; checks at the caller's line. */
#define CHECK_EKS(text, cluster, region) do { \
	CHECK_INT(parse(text), 0); \
	CHECK_INT(kc.auth, KUBECONFIG_EKS); \
	CHECK_STR(kc.eks_cluster, cluster); \
	CHECK_STR(kc.eks_region, region); \
} while (0)

/* A kubeconfig with one cluster, one context and the user body given (indented 4). */
static const char *
with_user(const char *cluster_extra, const char *user_body)
{
	static char buf[4096];

	snprintf(buf, sizeof buf,
	    "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
	    "clusters:\n- name: k\n  cluster:\n    server: https://10.0.0.1:6443\n%s"
	    "contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n"
	    "users:\n- name: u\n  user:\n%s", cluster_extra, user_body);
	return buf;
}

static void
shipped(void)
{
	CHECK_INT(parse(kc_kubeadm), 0);
	CHECK_STR(kc.server, "https://10.0.0.10:6443");
	CHECK_STR(kc.context, "system:node:worker-1@kubernetes");
	CHECK_INT(kc.ca_data_len, strlen(KC_CA_PEM));
	CHECK(kc.ca_data != NULL && memcmp(kc.ca_data, KC_CA_PEM, kc.ca_data_len) == 0);
	CHECK_STR(kc.ca_file, "");
	CHECK_INT(kc.auth, KUBECONFIG_CERT);
	CHECK_STR(kc.cert_file, "/var/lib/kubelet/pki/kubelet-client-current.pem");
	CHECK_STR(kc.key_file, "/var/lib/kubelet/pki/kubelet-client-current.pem");
	CHECK(kc.cert_data == NULL && kc.key_data == NULL);

	CHECK_EKS(kc_eks_al2, "prod-eu", "eu-west-1");
	CHECK_STR(kc.ca_file, "/etc/kubernetes/pki/ca.crt");
	CHECK_STR(kc.user_desc, "exec aws-iam-authenticator token (native EKS token for cluster prod-eu)");

	CHECK_EKS(kc_eks_al2_cli, "prod-eu", "eu-west-1");

	CHECK_EKS(kc_eks_al2023, "my-cluster", "us-west-2");
	CHECK_STR(kc.server, "https://EXAMPLE1234.gr7.us-west-2.eks.amazonaws.com");
	CHECK_STR(kc.user_desc, "exec aws eks get-token (native EKS token for cluster my-cluster)");

	CHECK_INT(parse(kc_k3s_agent), 0);
	CHECK_STR(kc.server, "https://127.0.0.1:6444");
	CHECK_STR(kc.ca_file, "/var/lib/rancher/k3s/agent/server-ca.crt");
	CHECK_STR(kc.cert_file, "/var/lib/rancher/k3s/agent/client-kubelet.crt");
	CHECK_STR(kc.key_file, "/var/lib/rancher/k3s/agent/client-kubelet.key");

	CHECK_INT(parse(kc_k3s), 0);
	CHECK_INT(kc.auth, KUBECONFIG_CERT);
	CHECK_INT(kc.cert_data_len, strlen(KC_CA_PEM));
	CHECK(kc.key_data != NULL && memcmp(kc.key_data, "-----BEGIN EC PRIVATE KEY-----", 30) == 0);
	CHECK_STR(kc.cert_file, "");

	CHECK_INT(parse(kc_kind), 0);
	CHECK_STR(kc.server, "https://127.0.0.1:38211");
	CHECK_INT(kc.auth, KUBECONFIG_TOKEN);
	CHECK_STR(kc.token, "kind-token-0123456789");
}

static void
paths_and_options(void)
{
	/* Relative paths resolve against the kubeconfig's folder. */
	CHECK_INT(parse_in(with_user("    certificate-authority: pki/ca.crt\n    tls-server-name: api.internal\n",
	    "    client-certificate: pki/c.pem\n    client-key: ../k.pem\n"), "/var/lib/kubelet"), 0);
	CHECK_STR(kc.ca_file, "/var/lib/kubelet/pki/ca.crt");
	CHECK_STR(kc.cert_file, "/var/lib/kubelet/pki/c.pem");
	CHECK_STR(kc.key_file, "/var/lib/kubelet/../k.pem");
	CHECK_STR(kc.tls_server_name, "api.internal");
	CHECK_INT(parse_in(with_user("", "    tokenFile: tok\n"), ""), 0);
	CHECK_INT(kc.auth, KUBECONFIG_TOKEN_FILE);
	CHECK_STR(kc.token_file, "./tok");
	/* The aws CLI's global options before the command, "--opt=value", env for the region. */
	CHECK_INT(parse(with_user("", "    exec:\n      command: aws\n      args: [\"--region\", x]\n")), -1);
	CHECK_INT(parse(with_user("", "    exec:\n      command: aws\n      args:\n      - --region\n"
	    "      - ap-south-1\n      - eks\n      - get-token\n      - --cluster-id=c1\n"
	    "      - --output\n      - json\n")), 0);
	CHECK_STR(kc.eks_cluster, "c1");
	CHECK_STR(kc.eks_region, "ap-south-1");
	CHECK_INT(parse(with_user("", "    exec:\n      command: aws-iam-authenticator\n      args:\n"
	    "      - token\n      - --cluster-id\n      - c2\n      env:\n      - name: AWS_REGION\n"
	    "        value: eu-north-1\n")), 0);
	CHECK_STR(kc.eks_cluster, "c2");
	CHECK_STR(kc.eks_region, "eu-north-1");
	CHECK_INT(parse(with_user("    insecure-skip-tls-verify: false\n", "    token: t\n")), 0);
}

static void
refusals(void)
{
	CHECK_REFUSED(with_user("    insecure-skip-tls-verify: true\n", "    token: t\n"),
	    "cluster \"k\": insecure-skip-tls-verify is refused: despotify always verifies "
	    "the API server (give certificate-authority or certificate-authority-data)");
	CHECK_REFUSED(with_user("    proxy-url: http://p:3128\n", "    token: t\n"),
	    "cluster \"k\": proxy-url is not supported (set HTTPS_PROXY instead)");
	CHECK_REFUSED(with_user("", "    exec:\n      command: gke-gcloud-auth-plugin\n"),
	    "user \"u\": exec command \"gke-gcloud-auth-plugin\" is not run; despotify makes "
	    "the EKS token itself and understands \"aws eks get-token --cluster-name C [--region R]\" and "
	    "\"aws-iam-authenticator token -i C [--region R]\"");
	CHECK_INT(parse(with_user("", "    exec:\n      command: aws\n      args:\n      - eks\n"
	    "      - get-token\n      - --cluster-name\n      - c\n      - --role-arn\n      - arn:x\n")), -1);
	CHECK(strstr(err, "exec argument \"--role-arn\" is not understood") != NULL);
	CHECK_INT(parse(with_user("", "    exec:\n      command: aws\n      args:\n      - eks\n"
	    "      - get-token\n")), -1);
	CHECK(strstr(err, "the exec command names no cluster") != NULL);
	CHECK_INT(parse(with_user("", "    exec:\n      command: aws\n      args:\n      - eks\n"
	    "      - get-token\n      - --cluster-name\n      - c\n      env:\n      - name: AWS_PROFILE\n"
	    "        value: admin\n")), -1);
	CHECK(strstr(err, "exec env AWS_PROFILE is not understood") != NULL);
	CHECK_REFUSED(with_user("", "    token: secret-token-value\n    client-certificate: c\n"
	    "    client-key: k\n"),
	    "user \"u\": more than one kind of credential; despotify uses exactly one");
	CHECK(strstr(err, "secret-token-value") == NULL);
	CHECK_INT(parse(with_user("", "    client-certificate: c\n")), -1);
	CHECK_INT(parse(with_user("", "    client-certificate: c\n    client-key-data: " KC_KEY_B64 "\n")), -1);
	CHECK_REFUSED(with_user("", "    username: a\n    password: b\n"),
	    "user \"u\": username is not supported (use a client certificate, a token, a "
	    "tokenFile or the EKS exec)");
	CHECK_INT(parse(with_user("", "    {}\n")), -1);
	CHECK_INT(parse(with_user("", "    as: admin\n    token: t\n")), -1);
	CHECK_REFUSED(with_user("", "    extensions: []\n"),
	    "user \"u\": no credentials (client certificate, token, tokenFile or exec)");
	CHECK_REFUSED(with_user("    certificate-authority-data: not*base64\n", "    token: t\n"),
	    "line 8: certificate-authority-data is not base64 (or over 258048 bytes)");
	CHECK_REFUSED(with_user("    certificate-authority: /ca\n    certificate-authority-data: "
	    KC_CA_B64 "\n", "    token: t\n"),
	    "cluster \"k\": both certificate-authority and certificate-authority-data");
	CHECK_REFUSED("apiVersion: v1\nkind: Config\n", "no current-context");
	CHECK_REFUSED("current-context: x\n", "no context named \"x\" in contexts");
	CHECK_REFUSED("kind: Pod\n", "not a kubeconfig (kind is \"Pod\", not Config)");
	CHECK_REFUSED("- a\n", "not a kubeconfig (the document is not a mapping)");
	CHECK_REFUSED("a:\n\tb\n", "line 2: tab in indentation (YAML indents with spaces)");
	CHECK_REFUSED("current-context: c\ncontexts: x\n", "line 2: contexts is not a list");
}

static void
base64(void)
{
	unsigned char out[64];
	char enc[64];
	size_t n;

	CHECK_INT(util_base64_decode("aGVsbG8=", 8, out, sizeof out, &n), 0);
	CHECK_INT(n, 5);
	CHECK(memcmp(out, "hello", 5) == 0);
	CHECK_INT(util_base64_decode("aGVsbG8", 7, out, sizeof out, &n), 0);
	CHECK_INT(n, 5);
	CHECK_INT(util_base64_decode("", 0, out, sizeof out, &n), 0);
	CHECK_INT(n, 0);
	CHECK_INT(util_base64_decode("aGVsbG9=", 8, out, sizeof out, &n), -1);   /* non-zero spare bits */
	CHECK_INT(util_base64_decode("a", 1, out, sizeof out, &n), -1);
	CHECK_INT(util_base64_decode("aG=sbG8=", 8, out, sizeof out, &n), -1);
	CHECK_INT(util_base64_decode("aGVs bG8=", 9, out, sizeof out, &n), -1);
	CHECK_INT(util_base64_decode("aGVsbG8=", 8, out, 4, &n), -1);
	CHECK_INT(util_base64url_encode("hello", 5, enc, sizeof enc), 7);
	CHECK_STR(enc, "aGVsbG8");
	CHECK_INT(util_base64url_encode("\xfb\xff\xbf", 3, enc, sizeof enc), 4);
	CHECK_STR(enc, "-_-_");
	CHECK_INT(util_base64url_encode("ab", 2, enc, sizeof enc), 3);
	CHECK_STR(enc, "YWI");
	CHECK_INT(util_base64url_encode("ab", 2, enc, 3), -1);
	CHECK_INT(util_base64url_encode("", 0, enc, 1), 0);
}

int
main(void)
{
	sc = malloc(sizeof *sc);
	RUN(shipped);
	RUN(paths_and_options);
	RUN(refusals);
	RUN(base64);
	free(sc);
	return t_done();
}
