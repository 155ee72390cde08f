#!/bin/sh
# Builds build/despotify, a fully static, stripped binary, on a Debian 12
# machine: installs what is missing (as root), fetches and verifies the pinned
# BearSSL and jsmn sources into vendor/*/upstream/, then runs make.
# A second run reuses what is already fetched and built.
#   ./build.sh            build; also installs what `make release`, `make image`
#                         and `make demo` need (the arm64 cross toolchain, umoci,
#                         skopeo, python3 with botocore, openssl)
#   ./build.sh --native   build; install only what the native binary needs
#   ./build.sh --deps     only install packages and fetch sources (for `make test`)
# DESPOTIFY_TEST_DEPS=1 adds what `make test` needs.
set -eu
cd "$(dirname "$0")"

# Build: musl-gcc, make, ca-certificates (the Amazon roots are compiled in),
# xz (the BearSSL tarball), file.
BUILD_PKGS="musl-tools make gcc ca-certificates xz-utils file dpkg-dev"
# make release: the arm64 cross compiler and musl for arm64 (it ships
# aarch64-linux-musl-gcc); make image: umoci and skopeo, driven by python3.
RELEASE_PKGS="gcc-aarch64-linux-gnu musl-dev:arm64 umoci skopeo python3"
# make demo: the fakes (python3; botocore checks the SigV4 signatures; openssl
# makes the test certificates).
DEMO_PKGS="python3 python3-botocore openssl"
# make test: clang (ASan/UBSan), valgrind, qemu-user-static (the arm64 build),
# runc (the image), python3-yaml and kubectl (deploy/ as a kustomize base),
# prometheus (promtool and a real scrape of /metrics), etcd (beside
# ../shared/kube-apiserver for the real-server tests).
TEST_PKGS="clang libclang-rt-14-dev procps valgrind qemu-user-static runc python3-yaml prometheus etcd-server"

mode=${1:-}
pkgs=$BUILD_PKGS
[ "$mode" = "--native" ] || pkgs="$pkgs $RELEASE_PKGS $DEMO_PKGS"
[ -z "${DESPOTIFY_TEST_DEPS:-}" ] || pkgs="$pkgs $TEST_PKGS"
# Any kubectl will do (one may come from elsewhere than Debian's kubernetes-client).
if [ -n "${DESPOTIFY_TEST_DEPS:-}" ] && ! command -v kubectl >/dev/null 2>&1; then
	pkgs="$pkgs kubernetes-client"
fi

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "build.sh: missing packages:$missing (run as root, or install them)" >&2
		exit 1
	fi
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	case "$missing" in *:arm64*)
		dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64 ;;
	esac
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

./vendor/fetch.sh

[ "$mode" = "--deps" ] && exit 0
make -j"$(nproc)" all
