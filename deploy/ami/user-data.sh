#!/bin/bash
# EC2 user-data snippet: install despotify on a node of a custom AMI (or at
# boot), run by systemd. Kubernetes access by a ServiceAccount token file
# (from `kubectl create token despotify -n kube-system --duration=8760h`, or
# a Secret of type kubernetes.io/service-account-token) or by a client
# certificate; the node's name is its EC2 local-hostname unless NODE_NAME is set.
set -euo pipefail

# 1. The binary: copy it from where you keep it (S3, an artifact store, the AMI build).
install -m 0755 /tmp/despotify /usr/local/bin/despotify

# 2. Config and credentials, readable by the service's group only.
getent group despotify >/dev/null || groupadd --system despotify
install -d -m 0750 -g despotify /etc/despotify
cat > /etc/despotify/despotify.ini <<'INI'
[DEFAULT]
level = INFO
api_server = https://API-SERVER-ENDPOINT
ca_file = /etc/despotify/ca.crt
token_file = /etc/despotify/token
# or, instead of a token:
# client_cert_file = /etc/despotify/client.crt
# client_key_file = /etc/despotify/client.key
INI
# Fill these in from your cluster (e.g. from Secrets Manager at boot):
#   /etc/despotify/ca.crt   the API server's CA
#   /etc/despotify/token    the ServiceAccount token
chgrp despotify /etc/despotify/* && chmod 0640 /etc/despotify/*

# 3. The service.
install -m 0644 /tmp/despotify.service /etc/systemd/system/despotify.service
systemctl daemon-reload
systemctl enable --now despotify.service
