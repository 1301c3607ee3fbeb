#!/bin/sh
# deps.sh - install the Debian packages pmfs needs to build, test and
# benchmark, and nothing when they are all there.  Run as root (or with
# sudo available).  Called by both README commands.
set -eu

PKGS="gcc make pkg-config libc6-dev
libfuse3-dev fuse3 liburing-dev
libpmem2-dev libndctl-dev libdaxctl-dev
libcriterion-dev
clang libclang-rt-14-dev
e2fsprogs util-linux fio acl
qemu-user gcc-aarch64-linux-gnu gcc-powerpc64le-linux-gnu
binutils-aarch64-linux-gnu binutils-powerpc64le-linux-gnu
qemu-system-x86 qemu-system-arm qemu-system-ppc qemu-system-data cpio"

# A package counts only when installed for this machine's architecture
# (or for all): the cross builds install libpmem2-dev:arm64, which a plain
# dpkg-query of libpmem2-dev would also report as installed.
arch=$(dpkg --print-architecture)
missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status} ${Architecture};' "$p" 2>/dev/null ||
		true)
	case "$st" in
	*"install ok installed $arch;"* | *"install ok installed all;"*) ;;
	*) missing="$missing $p:$arch" ;;
	esac
done

SUDO=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "deps.sh: missing packages:$missing; run as root" >&2
		exit 1
	fi
fi

if [ -n "$missing" ]; then
	echo "deps.sh: installing:$missing"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing \
		>/dev/null
fi

# Cross-build sysroots and foreign-architecture libraries (idempotent).
here=$(dirname "$0")
if [ -x "$here/cross-setup.sh" ]; then
	$SUDO "$here/cross-setup.sh"
fi
