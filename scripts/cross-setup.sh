#!/bin/sh
# cross-setup.sh - install what the cross builds and `make check-cross` need.
#
# Idempotent and quiet: prints nothing and changes nothing when everything
# is present; otherwise installs it (needs root and Debian apt) and fails
# with one clear message when something cannot be had.
#
#   host tools   gcc-aarch64-linux-gnu, gcc-powerpc64le-linux-gnu (with
#                their binutils and static libc), binutils (objdump),
#                qemu-user
#   arm64        libpmem2-dev:arm64 through dpkg multiarch (PLATFORM.md)
#   ppc64el      a sysroot of unpacked .debs (libpmem2, libndctl, libdaxctl
#                and their -dev packages) in $PMFS_PPC64_SYSROOT (default
#                /opt/pmfs-sysroot/ppc64el), fetched with a private apt
#                state inside the sysroot so the system's package lists and
#                dpkg architectures are not touched for ppc64el.
set -eu

PPC_SR=${PMFS_PPC64_SYSROOT:-/opt/pmfs-sysroot/ppc64el}
DEBIAN_MIRROR=${PMFS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
export DEBIAN_FRONTEND=noninteractive

die() {
	echo "cross-setup: $*" >&2
	exit 1
}

need_root() {
	[ "$(id -u)" = 0 ] || die "need root to install $1 (run as root or install it by hand)"
	command -v apt-get >/dev/null 2>&1 || die "no apt-get: install $1 by hand"
}

# apt-get, non-interactive, waiting for a dpkg lock held by someone else.
# shellcheck disable=SC2317 # called through quietly
apt_y() {
	apt-get -q -y -o DPkg::Lock::Timeout=300 "$@"
}

# Run a noisy command; show its output only when it fails.
quietly() {
	log=$(mktemp)
	if "$@" >"$log" 2>&1; then
		rm -f "$log"
		return 0
	fi
	cat "$log" >&2
	rm -f "$log"
	return 1
}

# ---- host packages ---------------------------------------------------------

missing=""
want() { # want PACKAGE FILE...: PACKAGE is needed unless every FILE exists
	pkg=$1
	shift
	for f in "$@"; do
		case $f in
		/*) [ -e "$f" ] || { missing="$missing $pkg"; return 0; } ;;
		*) command -v "$f" >/dev/null 2>&1 || { missing="$missing $pkg"; return 0; } ;;
		esac
	done
}
want gcc-aarch64-linux-gnu aarch64-linux-gnu-gcc
want binutils-aarch64-linux-gnu aarch64-linux-gnu-objdump
want libc6-dev-arm64-cross /usr/aarch64-linux-gnu/lib/libc.a
want gcc-powerpc64le-linux-gnu powerpc64le-linux-gnu-gcc
want binutils-powerpc64le-linux-gnu powerpc64le-linux-gnu-objdump
want libc6-dev-ppc64el-cross /usr/powerpc64le-linux-gnu/lib/libc.a
want binutils objdump
want qemu-user qemu-aarch64 qemu-ppc64le

if [ -n "$missing" ]; then
	need_root "$missing"
	# $missing is a list of package names: split on purpose
	# shellcheck disable=SC2086
	if ! quietly apt_y install $missing; then
		quietly apt_y update || die "apt-get update failed"
		# shellcheck disable=SC2086
		quietly apt_y install $missing || die "cannot install:$missing"
	fi
fi

# ---- arm64: libpmem2-dev through multiarch ----------------------------------

if ! dpkg-query -W -f='${Status}' libpmem2-dev:arm64 2>/dev/null |
	grep -q 'install ok installed'; then
	need_root libpmem2-dev:arm64
	dpkg --print-foreign-architectures | grep -qx arm64 ||
		dpkg --add-architecture arm64
	quietly apt_y -o APT::Architectures::=amd64 -o APT::Architectures::=arm64 \
		update || die "apt-get update for arm64 failed"
	quietly apt_y install libpmem2-dev:arm64 ||
		die "cannot install libpmem2-dev:arm64 (multiarch)"
fi

# ---- ppc64el: a sysroot of unpacked .debs ----------------------------------

PPC_LIB=$PPC_SR/usr/lib/powerpc64le-linux-gnu
if [ ! -e "$PPC_LIB/libpmem2.so" ] || [ ! -e "$PPC_LIB/libndctl.so.6" ] ||
	[ ! -e "$PPC_LIB/libdaxctl.so.1" ] ||
	[ ! -e "$PPC_SR/usr/include/libpmem2.h" ]; then
	command -v apt-get >/dev/null 2>&1 || die "no apt-get: cannot build the ppc64el sysroot"
	mkdir -p "$PPC_SR" 2>/dev/null || die "cannot create $PPC_SR (set PMFS_PPC64_SYSROOT)"
	st=$PPC_SR/.apt
	mkdir -p "$st/lists/partial" "$st/cache/archives/partial" "$st/debs" \
		"$st/etc/preferences.d" "$st/etc/sources.list.d"
	: >"$st/status"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $DEBIAN_MIRROR bookworm main" \
		>"$st/sources.list"
	set -- -o APT::Architecture=ppc64el -o APT::Architectures::=ppc64el \
		-o Dir::State::Lists="$st/lists" -o Dir::State::status="$st/status" \
		-o Dir::Cache="$st/cache" -o Dir::Etc::sourcelist="$st/sources.list" \
		-o Dir::Etc::sourceparts="$st/etc/sources.list.d" -o Dir::Etc::preferencesparts="$st/etc/preferences.d" \
		-o APT::Sandbox::User=root
	quietly apt-get -q "$@" update || die "apt-get update for the ppc64el sysroot failed"
	(cd "$st/debs" && quietly apt-get -q "$@" download \
		libpmem2 libpmem2-dev libndctl6 libndctl-dev libdaxctl1 libdaxctl-dev \
		libkmod2 libudev1 libuuid1) ||
		die "cannot download the ppc64el packages for $PPC_SR"
	for deb in "$st/debs"/*.deb; do
		dpkg-deb -x "$deb" "$PPC_SR" || die "cannot unpack $deb into $PPC_SR"
	done
	[ -e "$PPC_LIB/libpmem2.so" ] || die "ppc64el sysroot incomplete: no $PPC_LIB/libpmem2.so"
fi
exit 0
