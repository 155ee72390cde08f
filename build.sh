#!/bin/sh
# Builds build/despotify, a fully static, stripped binary, on a Debian 12
# machine: installs what is missing (as root), fetches and verifies the pinned
# BearSSL and jsmn sources into vendor/*/upstream/, then runs make.
# A second run reuses what is already fetched and built.
#   ./build.sh            build
#   ./build.sh --deps     only install packages and fetch sources (for `make test`)
set -eu
cd "$(dirname "$0")"

# Build: musl-gcc, make, ca-certificates (the Amazon roots are compiled in),
# xz (the BearSSL tarball), file. Tests: clang (ASan/UBSan), python3,
# botocore (an independent SigV4 signer), openssl (test certificates), etcd
# (beside ../shared/kube-apiserver for the real-server tests; python3-yaml
# reads deploy/rbac.yaml where there is no kubectl).
BUILD_PKGS="musl-tools make gcc ca-certificates xz-utils file dpkg-dev"
TEST_PKGS="clang libclang-rt-14-dev python3 python3-botocore python3-yaml openssl procps valgrind etcd-server"

missing=""
for p in $BUILD_PKGS ${DESPOTIFY_TEST_DEPS:+$TEST_PKGS}; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "build.sh: missing packages:$missing (run as root, or install them)" >&2
		exit 1
	fi
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

./vendor/fetch.sh

[ "${1:-}" = "--deps" ] && exit 0
make -j"$(nproc)" all
