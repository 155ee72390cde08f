#!/bin/bash
# EC2 user-data snippet: install despotify on a node of a custom AMI (or at
# boot), run by systemd with the node's own identity: the kubelet's
# kubeconfig. Nothing secret is distributed: on EKS the token is made from
# the instance role; with kubeadm the kubelet's rotating client certificate
# is used in place. Run it after the node's bootstrap (EKS: after nodeadm /
# bootstrap.sh in the same user-data; kubeadm: after `kubeadm join`).
# The node's name is its EC2 local-hostname unless NODE_NAME is set.
set -euo pipefail

# 1. The binary: copy it from where you keep it (S3, an artifact store, the AMI build).
install -m 0755 /tmp/despotify /usr/local/bin/despotify

# 2. The config. The kubeconfig is set by the drop-in below.
install -d -m 0755 /etc/despotify
cat > /etc/despotify/despotify.ini <<'INI'
[DEFAULT]
level = INFO
# A node identity may not change its own taints (NodeRestriction): cordon without one.
taint =
INI

# 3. The service, and how it reaches the kubelet's kubeconfig.
install -m 0644 /tmp/despotify.service /etc/systemd/system/despotify.service
install -d -m 0755 /etc/systemd/system/despotify.service.d
if [ -f /var/lib/kubelet/kubeconfig ]; then
	kubeconfig=/var/lib/kubelet/kubeconfig
	# EKS (Amazon Linux 2 and 2023): exec aws eks get-token / aws-iam-authenticator, which
	# despotify does natively with the instance role (from IMDS). The kubeconfig holds no
	# secret; systemd hands it over as a credential whatever its mode. /etc/kubernetes/pki/ca.crt
	# is world-readable.
	cat > /etc/systemd/system/despotify.service.d/kubeconfig.conf <<'UNIT'
[Service]
LoadCredential=kubeconfig:/var/lib/kubelet/kubeconfig
Environment=DESPOTIFY_KUBECONFIG=%d/kubeconfig
UNIT
elif [ -f /etc/kubernetes/kubelet.conf ]; then
	kubeconfig=/etc/kubernetes/kubelet.conf
	# kubeadm: the kubelet's client certificate and key, root-only and rotated by the kubelet,
	# are read where they are. The capability to read them is confined to a view of the
	# filesystem in which /etc/kubernetes holds only kubelet.conf and /var/lib/kubelet only pki/
	# (no admin.conf, no other credential of the node).
	cat > /etc/systemd/system/despotify.service.d/kubeconfig.conf <<'UNIT'
[Service]
Environment=DESPOTIFY_KUBECONFIG=/etc/kubernetes/kubelet.conf
AmbientCapabilities=CAP_DAC_READ_SEARCH
CapabilityBoundingSet=CAP_DAC_READ_SEARCH
TemporaryFileSystem=/etc/kubernetes:ro /var/lib/kubelet:ro
BindReadOnlyPaths=/etc/kubernetes/kubelet.conf /var/lib/kubelet/pki
InaccessiblePaths=-/etc/shadow -/etc/gshadow -/etc/ssh -/var/lib/etcd
UNIT
else
	echo "despotify: no kubelet kubeconfig (/var/lib/kubelet/kubeconfig or /etc/kubernetes/kubelet.conf)" >&2
	exit 1
fi
# The kubeconfig must be one despotify understands (exit 2 and the reason otherwise).
DESPOTIFY_KUBECONFIG=$kubeconfig /usr/local/bin/despotify -n -c /etc/despotify/despotify.ini >/dev/null
systemctl daemon-reload
systemctl enable --now despotify.service
