/*
 * kubeconfigs.h — kubeconfig files as the tools that write them ship them,
 * written from their documentation and templates, for test_yaml.c and
 * test_kubeconfig.c. CA and key data are short stand-ins (base64 of a PEM
 * frame), enough for the parser; the end-to-end tests use real ones.
 */
#ifndef DESPOTIFY_TEST_KUBECONFIGS_H
#define DESPOTIFY_TEST_KUBECONFIGS_H

#define KC_CA_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkdW1teQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg=="
#define KC_CA_PEM "-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n"
#define KC_KEY_B64 "LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCk1IY0NBUUVFZHVtbXkKLS0tLS1FTkQgRUMgUFJJVkFURSBLRVktLS0tLQo="

/* kubeadm: /etc/kubernetes/kubelet.conf once kubelet client certificate rotation is on. */
static const char kc_kubeadm[] =
    "apiVersion: v1\n"
    "clusters:\n"
    "- cluster:\n"
    "    certificate-authority-data: " KC_CA_B64 "\n"
    "    server: https://10.0.0.10:6443\n"
    "  name: kubernetes\n"
    "contexts:\n"
    "- context:\n"
    "    cluster: kubernetes\n"
    "    user: system:node:worker-1\n"
    "  name: system:node:worker-1@kubernetes\n"
    "current-context: system:node:worker-1@kubernetes\n"
    "kind: Config\n"
    "preferences: {}\n"
    "users:\n"
    "- name: system:node:worker-1\n"
    "  user:\n"
    "    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n"
    "    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem\n";

/* EKS on Amazon Linux 2: /var/lib/kubelet/kubeconfig as bootstrap.sh fills it in,
 * up to the exec plug-in's command, which the two kinds below differ in. */
#define KC_EKS_AL2_HEAD \
    "apiVersion: v1\n" \
    "kind: Config\n" \
    "clusters:\n" \
    "- cluster:\n" \
    "    certificate-authority: /etc/kubernetes/pki/ca.crt\n" \
    "    server: https://0123456789ABCDEF0123456789ABCDEF.gr7.eu-west-1.eks.amazonaws.com\n" \
    "  name: kubernetes\n" \
    "contexts:\n" \
    "- context:\n" \
    "    cluster: kubernetes\n" \
    "    user: kubelet\n" \
    "  name: kubelet\n" \
    "current-context: kubelet\n" \
    "users:\n" \
    "- name: kubelet\n" \
    "  user:\n" \
    "    exec:\n" \
    "      apiVersion: client.authentication.k8s.io/v1beta1\n"

/* EKS on Amazon Linux 2 with aws-iam-authenticator. */
static const char kc_eks_al2[] =
    KC_EKS_AL2_HEAD
    "      command: /usr/bin/aws-iam-authenticator\n"
    "      args:\n"
    "        - \"token\"\n"
    "        - \"-i\"\n"
    "        - \"prod-eu\"\n"
    "        - --region\n"
    "        - \"eu-west-1\"\n";

/* EKS on Amazon Linux 2 with the aws CLI instead of aws-iam-authenticator. */
static const char kc_eks_al2_cli[] =
    KC_EKS_AL2_HEAD
    "      command: /usr/bin/aws\n"
    "      args:\n"
    "        - eks\n"
    "        - get-token\n"
    "        - --cluster-name\n"
    "        - prod-eu\n"
    "        - --region\n"
    "        - eu-west-1\n"
    "      env:\n"
    "        - name: AWS_STS_REGIONAL_ENDPOINTS\n"
    "          value: regional\n";

/* EKS on Amazon Linux 2023: nodeadm's /var/lib/kubelet/kubeconfig (indented sequences). */
static const char kc_eks_al2023[] =
    "---\n"
    "apiVersion: v1\n"
    "kind: Config\n"
    "clusters:\n"
    "  - name: kubernetes\n"
    "    cluster:\n"
    "      certificate-authority: /etc/kubernetes/pki/ca.crt\n"
    "      server: https://EXAMPLE1234.gr7.us-west-2.eks.amazonaws.com\n"
    "current-context: kubelet\n"
    "contexts:\n"
    "  - name: kubelet\n"
    "    context:\n"
    "      cluster: kubernetes\n"
    "      user: kubelet\n"
    "users:\n"
    "  - name: kubelet\n"
    "    user:\n"
    "      exec:\n"
    "        apiVersion: client.authentication.k8s.io/v1beta1\n"
    "        command: aws\n"
    "        args:\n"
    "          - \"eks\"\n"
    "          - \"get-token\"\n"
    "          - \"--cluster-name\"\n"
    "          - \"my-cluster\"\n"
    "          - \"--region\"\n"
    "          - \"us-west-2\"\n";

/* k3s agent: /var/lib/rancher/k3s/agent/kubelet.kubeconfig. */
static const char kc_k3s_agent[] =
    "apiVersion: v1\n"
    "clusters:\n"
    "- cluster:\n"
    "    server: https://127.0.0.1:6444\n"
    "    certificate-authority: /var/lib/rancher/k3s/agent/server-ca.crt\n"
    "  name: local\n"
    "contexts:\n"
    "- context:\n"
    "    cluster: local\n"
    "    namespace: default\n"
    "    user: user\n"
    "  name: Default\n"
    "current-context: Default\n"
    "kind: Config\n"
    "preferences: {}\n"
    "users:\n"
    "- name: user\n"
    "  user:\n"
    "    client-certificate: /var/lib/rancher/k3s/agent/client-kubelet.crt\n"
    "    client-key: /var/lib/rancher/k3s/agent/client-kubelet.key\n";

/* k3s server: /etc/rancher/k3s/k3s.yaml (embedded data). */
static const char kc_k3s[] =
    "apiVersion: v1\n"
    "clusters:\n"
    "- cluster:\n"
    "    certificate-authority-data: " KC_CA_B64 "\n"
    "    server: https://127.0.0.1:6443\n"
    "  name: default\n"
    "contexts:\n"
    "- context:\n"
    "    cluster: default\n"
    "    user: default\n"
    "  name: default\n"
    "current-context: default\n"
    "kind: Config\n"
    "preferences: {}\n"
    "users:\n"
    "- name: default\n"
    "  user:\n"
    "    client-certificate-data: " KC_CA_B64 "\n"
    "    client-key-data: " KC_KEY_B64 "\n";

/* kind: `kind get kubeconfig` (two clusters merged by kubectl, CRLF line ends). */
static const char kc_kind[] =
    "apiVersion: v1\r\n"
    "clusters:\r\n"
    "- cluster:\r\n"
    "    certificate-authority-data: " KC_CA_B64 "\r\n"
    "    server: https://127.0.0.1:41635\r\n"
    "  name: kind-kind\r\n"
    "- cluster:\r\n"
    "    certificate-authority-data: " KC_CA_B64 "\r\n"
    "    server: https://127.0.0.1:38211\r\n"
    "  name: kind-other\r\n"
    "contexts:\r\n"
    "- context:\r\n"
    "    cluster: kind-kind\r\n"
    "    user: kind-kind\r\n"
    "  name: kind-kind\r\n"
    "- context:\r\n"
    "    cluster: kind-other\r\n"
    "    user: kind-other\r\n"
    "  name: kind-other\r\n"
    "current-context: kind-other\r\n"
    "kind: Config\r\n"
    "preferences: {}\r\n"
    "users:\r\n"
    "- name: kind-kind\r\n"
    "  user:\r\n"
    "    client-certificate-data: " KC_CA_B64 "\r\n"
    "    client-key-data: " KC_KEY_B64 "\r\n"
    "- name: kind-other\r\n"
    "  user:\r\n"
    "    token: kind-token-0123456789\r\n";

#endif
