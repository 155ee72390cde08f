#!/bin/sh
# Fetch the pinned third-party sources into vendor/<lib>/upstream/ and verify
# them. Idempotent: a verified copy is kept and reused. The machine's apt
# sources are never touched: deb-src entries are derived into a temporary apt
# configuration that is removed on exit.
set -eu
cd "$(dirname "$0")"
VENDOR=$(pwd)

die() { echo "vendor/fetch.sh: $*" >&2; exit 1; }

verify() { # file sha256
	got=$(sha256sum "$1" | cut -d' ' -f1)
	[ "$got" = "$2" ] || die "sha256 mismatch for $1: expected $2, got $got (refusing to build with it)"
}

TMP=
cleanup() { [ -n "$TMP" ] && rm -rf "$TMP"; return 0; }
trap cleanup EXIT INT TERM

# A private apt configuration with deb-src lines made from the system's own
# sources (deb822 .sources files and one-line .list files alike).
apt_opts() {
	if [ -z "$TMP" ]; then
		TMP=$(mktemp -d)
		mkdir -p "$TMP/parts" "$TMP/lists/partial"
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -f "$f" ] || continue
			sed 's/^Types:.*/Types: deb-src/' "$f" > "$TMP/parts/$(basename "$f")"
		done
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[ -f "$f" ] || continue
			sed -n 's/^deb \(.*\)/deb-src \1/p' "$f" > "$TMP/parts/$(basename "$f")"
		done
		chmod -R a+rX "$TMP"
	fi
	echo "-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$TMP/parts -o Dir::State::Lists=$TMP/lists -o APT::Sandbox::User=root"
}

# --- BearSSL -----------------------------------------------------------------
. "$VENDOR/bearssl/PIN"
B="$VENDOR/bearssl"
if [ -f "$B/upstream/.verified" ] && [ "$(cat "$B/upstream/.verified")" = "$SHA256" ]; then
	:
else
	mkdir -p "$B/dl"
	if [ ! -f "$B/dl/$TARBALL" ]; then
		echo "fetching $DEBIAN_SOURCE $DEBIAN_VERSION (Debian source package)"
		opts=$(apt_opts)
		# shellcheck disable=SC2086
		apt-get -q $opts update >/dev/null || die "apt-get update with deb-src entries failed"
		# shellcheck disable=SC2086
		(cd "$B/dl" && apt-get -q $opts source --download-only "$DEBIAN_SOURCE=$DEBIAN_VERSION" >/dev/null) ||
			die "could not download the source package $DEBIAN_SOURCE=$DEBIAN_VERSION"
	fi
	verify "$B/dl/$TARBALL" "$SHA256"
	rm -rf "$B/upstream" "$B/upstream.tmp"
	mkdir -p "$B/upstream.tmp"
	tar -xJf "$B/dl/$TARBALL" -C "$B/upstream.tmp" --strip-components=1
	echo "$SHA256" > "$B/upstream.tmp/.verified"
	mv "$B/upstream.tmp" "$B/upstream"
	echo "bearssl $DEBIAN_VERSION verified ($SHA256)"
fi

# --- jsmn --------------------------------------------------------------------
. "$VENDOR/jsmn/PIN"
J="$VENDOR/jsmn"
if [ -f "$J/upstream/jsmn.h" ] && [ "$(sha256sum "$J/upstream/jsmn.h" | cut -d' ' -f1)" = "$HEADER_SHA256" ]; then
	:
else
	mkdir -p "$J/dl"
	if [ ! -f "$J/dl/$DEB" ]; then
		echo "fetching $DEBIAN_PACKAGE $DEBIAN_VERSION"
		(cd "$J/dl" && apt-get -q -o APT::Sandbox::User=root download "$DEBIAN_PACKAGE=$DEBIAN_VERSION" >/dev/null 2>&1) || {
			# The package lists may be missing on a fresh machine.
			apt-get -q update >/dev/null
			(cd "$J/dl" && apt-get -q -o APT::Sandbox::User=root download "$DEBIAN_PACKAGE=$DEBIAN_VERSION" >/dev/null)
		} || die "could not download $DEBIAN_PACKAGE=$DEBIAN_VERSION"
	fi
	verify "$J/dl/$DEB" "$DEB_SHA256"
	rm -rf "$J/upstream" "$J/x"
	mkdir -p "$J/x" "$J/upstream"
	dpkg-deb -x "$J/dl/$DEB" "$J/x"
	verify "$J/x/$HEADER" "$HEADER_SHA256"
	cp "$J/x/$HEADER" "$J/upstream/jsmn.h"
	rm -rf "$J/x"
	echo "jsmn $DEBIAN_VERSION verified ($HEADER_SHA256)"
fi
