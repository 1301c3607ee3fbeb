#!/bin/sh
# guest.sh fetch|pack ARCH VMDIR [FILE...] - build a guest for
# tests/vm/qemu.sh from Debian packages: the distribution kernel,
# busybox-static, ndctl/daxctl, the pmfs binaries given as FILEs and every
# library they load.
#
#   fetch  only download and unpack the packages (the cross builds link
#          against the target libraries in VMDIR/root/DEBARCH)
#   pack   fetch if needed, then make the kernel and initrd
#   ARCH   x86_64, aarch64 or ppc64le
#   VMDIR  the cache folder (make check-vm uses build/vm)
#   FILE   host path of a target binary or script to put in the guest's
#          /pmfs (flat: by basename); tests/vm/init becomes /init
#
# Out: VMDIR/ARCH/kernel and VMDIR/ARCH/initrd (an uncompressed newc cpio:
# the kernel needs no time to decompress it under TCG).
#
# What is cached (nothing prebuilt is in the repository, nothing but Debian
# packages is downloaded):
#   VMDIR/apt/DEBARCH    a private apt state for the target architecture
#                        (sources list, package lists): the system's lists
#                        and dpkg architectures are left alone
#   VMDIR/debs/DEBARCH   the downloaded .debs; VMDIR/root/DEBARCH the
#                        tree they unpack to (redone only when the package
#                        list below changes)
# The initrd itself is repacked on every call (about a second): the pmfs
# binaries change between runs.
#
# Libraries: the closure of DT_NEEDED over every ELF put in the guest,
# resolved in the unpacked tree, plus libgcc_s.so.1, which glibc loads at
# run time for pthread_cancel (libfuse's loop cancels its workers at
# unmount; without it mount.pmfs aborts there).  A library that no package
# provides is an error that names it.
set -eu

USAGE="usage: guest.sh fetch|pack ARCH VMDIR [FILE...]"
CMD=${1:?$USAGE}
ARCH=${2:?$USAGE}
VMDIR=${3:?$USAGE}
shift 3
mkdir -p "$VMDIR"
VMDIR=$(cd "$VMDIR" && pwd) # apt takes relative paths as under /etc/apt
HERE=$(cd "$(dirname "$0")" && pwd)
MIRROR=${PMFS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
export DEBIAN_FRONTEND=noninteractive

die() {
	echo "guest.sh: $ARCH: $*" >&2
	exit 1
}

case $ARCH in
x86_64)
	DEBARCH=amd64 TRIPLET=x86_64-linux-gnu FLAVOR=amd64 KFILE=vmlinuz
	# nfit: ACPI NVDIMMs; the rest: namespaces, devdax, fsdax on ext4, FUSE
	MODS="nfit libnvdimm nd_pmem nd_btt dax_pmem device_dax fuse ext4 crc32c_generic"
	;;
aarch64)
	DEBARCH=arm64 TRIPLET=aarch64-linux-gnu FLAVOR=arm64 KFILE=vmlinuz
	# Debian's arm64 kernel has no ZONE_DEVICE (no devdax, no -o dax)
	MODS="fuse"
	;;
ppc64le)
	DEBARCH=ppc64el TRIPLET=powerpc64le-linux-gnu FLAVOR=powerpc64le KFILE=vmlinux
	# Debian's ppc64el kernel has no LIBNVDIMM (no papr_scm for
	# spapr-nvdimm) and no ZONE_DEVICE
	MODS="fuse"
	;;
*)
	die "unknown architecture (x86_64, aarch64, ppc64le)"
	;;
esac

# Runtime packages: what the binaries in the guest load (the closure is
# checked below).  x86-64 also runs the Criterion suites (check-vm-long);
# Debian has no libcriterion3 for ppc64el.
PKGS="busybox-static libc6 libgcc-s1 gcc-12-base
libpmem2 libndctl6 libdaxctl1 ndctl daxctl libiniparser1 libcxl1
libtraceevent1 libtracefs1 libkmod2 libudev1 libuuid1 liblzma5 libzstd1
libssl3 libjson-c5 libkeyutils1 libfuse3-3 liburing2 e2fsprogs libext2fs2
libcom-err2 libblkid1 libss2"
if [ "$ARCH" = x86_64 ]; then
	PKGS="$PKGS libcriterion3 libffi8 libgit2-1.5 libnanomsg5
libhttp-parser2.9 libpcre2-8-0 libssh2-1 libmbedtls14 libmbedx509-1
libmbedcrypto7 zlib1g libgssapi-krb5-2 libkrb5-3 libk5crypto3
libkrb5support0"
fi

APT=$VMDIR/apt/$DEBARCH
DEBS=$VMDIR/debs/$DEBARCH
ROOT=$VMDIR/root/$DEBARCH
OUT=$VMDIR/$ARCH
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/etc" \
	"$DEBS" "$OUT"

# apt-get or apt-cache (first argument) with this architecture's private
# state.
apt_t() {
	tool=$1
	shift
	"$tool" -q -o APT::Architecture="$DEBARCH" \
		-o APT::Architectures::="$DEBARCH" \
		-o Dir::State::Lists="$APT/lists" -o Dir::State::status="$APT/status" \
		-o Dir::Cache="$APT/cache" -o Dir::Etc::sourcelist="$APT/sources.list" \
		-o Dir::Etc::sourceparts="$APT/etc" -o Dir::Etc::preferencesparts="$APT/etc" \
		-o APT::Sandbox::User=root -o Debug::NoLocking=1 "$@"
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

# ---- packages: download and unpack once per package list ------------------

stamp=$(printf '%s\n' "$PKGS" "$MIRROR" | cksum | cut -d' ' -f1)
if [ ! -e "$ROOT/.stamp-$stamp" ]; then
	: >"$APT/status"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $SUITE main" \
		>"$APT/sources.list"
	if ! ls "$APT/lists/"*_Packages* >/dev/null 2>&1; then
		quietly apt_t apt-get update || die "apt-get update of the $DEBARCH package lists failed ($MIRROR)"
	fi
	# The kernel: what the linux-image-FLAVOR metapackage depends on.
	kpkg=$(apt_t apt-cache depends linux-image-"$FLAVOR" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\).*/\1/p' | head -n 1)
	[ -n "$kpkg" ] || die "no kernel package behind linux-image-$FLAVOR in the $DEBARCH lists"
	rm -rf "$DEBS" "$ROOT"
	mkdir -p "$DEBS" "$ROOT"
	# shellcheck disable=SC2086 # a list of package names
	(cd "$DEBS" && quietly apt_t apt-get download "$kpkg" $PKGS) ||
		die "apt-get download failed for $kpkg and the runtime packages"
	for deb in "$DEBS"/*.deb; do
		dpkg-deb -x "$deb" "$ROOT" || die "cannot unpack $deb"
	done
	# Keep programs, libraries, the kernel and its modules only.  The top
	# Makefile includes every *.d under the build folder as a dependency
	# file: no folder such as etc/ld.so.conf.d may stay.
	rm -rf "$ROOT/etc" "$ROOT/usr/share" "$ROOT/usr/include" "$ROOT/var" \
		"$ROOT/usr/lib/tmpfiles.d" "$ROOT/lib/systemd" "$ROOT/usr/lib/systemd" \
		"$ROOT/lib/udev" "$ROOT/usr/lib/$TRIPLET/gconv"
	dotd=$(find "$ROOT" -name '*.d' | head -n 3)
	[ -z "$dotd" ] || die "unpacked tree has *.d entries the Makefile would include: $dotd"
	echo "$kpkg" >"$ROOT/.kernel-package"
	touch "$ROOT/.stamp-$stamp"
fi

[ "$CMD" = fetch ] && exit 0

# ---- the guest tree ------------------------------------------------------------

KVER=$(cd "$ROOT/lib/modules" && ls | head -n 1)
[ -n "$KVER" ] || die "no /lib/modules in the unpacked kernel package"
[ -e "$ROOT/boot/$KFILE-$KVER" ] || die "no /boot/$KFILE-$KVER in the kernel package"

STAGE=$OUT/stage
rm -rf "$STAGE"
mkdir -p "$STAGE/bin" "$STAGE/sbin" "$STAGE/lib/$TRIPLET" "$STAGE/pmfs" \
	"$STAGE/proc" "$STAGE/sys" "$STAGE/dev" "$STAGE/tmp" "$STAGE/run" \
	"$STAGE/mnt" "$STAGE/etc" "$STAGE/usr/bin" "$STAGE/usr/sbin" \
	"$STAGE/var/log" "$STAGE/lib/modules/$KVER"
cp "$ROOT/bin/busybox" "$STAGE/bin/busybox"
cp "$HERE/init" "$STAGE/init"
chmod 755 "$STAGE/init"
echo "$ARCH" >"$STAGE/etc/pmfs-arch"
echo "$KVER" >"$STAGE/etc/pmfs-kernel"

# Kernel modules: each wanted one with what it depends on (the "depends="
# field of its .modinfo), and a modules.dep for busybox modprobe.
MD=$ROOT/lib/modules/$KVER
modpath() { # module name -> path under $MD, or nothing
	n=$(echo "$1" | tr - _)
	find "$MD/kernel" \( -name "$n.ko" -o -name "$(echo "$n" | tr _ -).ko" \) | head -n 1
}
: >"$OUT/mods.todo"
for m in $MODS; do
	echo "$m" >>"$OUT/mods.todo"
done
: >"$OUT/mods.done"
: >"$STAGE/lib/modules/$KVER/modules.dep"
while [ -s "$OUT/mods.todo" ]; do
	m=$(head -n 1 "$OUT/mods.todo")
	sed -i 1d "$OUT/mods.todo"
	grep -qx "$m" "$OUT/mods.done" && continue
	echo "$m" >>"$OUT/mods.done"
	p=$(modpath "$m")
	if [ -z "$p" ]; then
		n=$(echo "$m" | tr - _)
		if grep -Eq "/($n|$(echo "$n" | tr _ -))\.ko\$" "$MD/modules.builtin" 2>/dev/null; then
			continue # built in
		fi
		die "kernel module $m: neither a module nor built into $KVER"
	fi
	rel=${p#"$MD"/}
	mkdir -p "$STAGE/lib/modules/$KVER/$(dirname "$rel")"
	cp "$p" "$STAGE/lib/modules/$KVER/$rel"
	deps=$(strings -a "$p" | sed -n 's/^depends=//p' | head -n 1 | tr , ' ')
	line="$rel:"
	for d in $deps; do
		echo "$d" >>"$OUT/mods.todo"
		dp=$(modpath "$d")
		[ -n "$dp" ] && line="$line ${dp#"$MD"/}"
	done
	echo "$line" >>"$STAGE/lib/modules/$KVER/modules.dep"
done
# modules.dep lists every dependency of a module, not just the direct ones:
# expand until nothing changes (the lists are short).
dep=$STAGE/lib/modules/$KVER/modules.dep
while :; do
	awk -F': *' '
		{ d[$1] = $2; order[NR] = $1 }
		END {
			for (i = 1; i <= NR; i++) {
				m = order[i]; n = split(d[m], a, " "); s = d[m]
				for (j = 1; j <= n; j++) {
					k = split(d[a[j]], b, " ")
					for (l = 1; l <= k; l++)
						if (index(" " s " ", " " b[l] " ") == 0)
							s = s " " b[l]
				}
				sub(/^ /, "", s)
				print m ":" (s == "" ? "" : " " s)
			}
		}' "$dep" >"$dep.new"
	if cmp -s "$dep" "$dep.new"; then
		rm -f "$dep.new"
		break
	fi
	mv "$dep.new" "$dep"
done
for f in modules.builtin modules.order; do
	[ -e "$MD/$f" ] && cp "$MD/$f" "$STAGE/lib/modules/$KVER/$f"
done

# Programs from the packages.
for f in usr/bin/ndctl usr/bin/daxctl sbin/mke2fs usr/sbin/filefrag; do
	[ -e "$ROOT/$f" ] || die "no /$f in the unpacked packages"
	cp "$ROOT/$f" "$STAGE/usr/bin/"
done

# The pmfs binaries and scripts.
for f in "$@"; do
	[ -e "$f" ] || die "no $f (build it first)"
	cp "$f" "$STAGE/pmfs/"
done

# ---- libraries --------------------------------------------------------------

# A path of the guest as a host path in ROOT, symlinks followed inside ROOT
# (the packages' absolute links point into the guest, not the host).
in_root() {
	p=$ROOT$1
	n=0
	while [ -L "$p" ] && [ $n -lt 16 ]; do
		t=$(readlink "$p")
		case $t in
		/*) p=$ROOT$t ;;
		*) p=$(dirname "$p")/$t ;;
		esac
		n=$((n + 1))
	done
	echo "$p"
}
LIBDIRS="/lib/$TRIPLET /usr/lib/$TRIPLET /lib /usr/lib"
find_lib() { # soname -> host path in ROOT, or nothing
	for d in $LIBDIRS; do
		p=$(in_root "$d/$1")
		if [ -f "$p" ]; then
			echo "$p"
			return 0
		fi
	done
	return 0
}
is_elf() {
	[ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]
}
interp=""
: >"$OUT/libs.todo"
for f in "$STAGE"/pmfs/* "$STAGE"/usr/bin/*; do
	[ -f "$f" ] || continue
	is_elf "$f" || continue
	readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' >>"$OUT/libs.todo"
	i=$(readelf -l "$f" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
	[ -n "$i" ] && interp=$i
done
echo libgcc_s.so.1 >>"$OUT/libs.todo"
: >"$OUT/libs.done"
while [ -s "$OUT/libs.todo" ]; do
	l=$(head -n 1 "$OUT/libs.todo")
	sed -i 1d "$OUT/libs.todo"
	grep -qxF "$l" "$OUT/libs.done" && continue
	echo "$l" >>"$OUT/libs.done"
	p=$(find_lib "$l")
	[ -n "$p" ] || die "$l is needed but no package in guest.sh's list provides it"
	cp -L "$p" "$STAGE/lib/$TRIPLET/$l"
	readelf -d "$p" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' >>"$OUT/libs.todo"
done
if [ -n "$interp" ]; then
	p=$(in_root "$interp")
	[ -f "$p" ] || die "no program interpreter $interp in the packages"
	mkdir -p "$STAGE$(dirname "$interp")"
	cp "$p" "$STAGE$interp"
fi
rm -f "$OUT/libs.todo" "$OUT/libs.done" "$OUT/mods.todo" "$OUT/mods.done"

# ---- pack -------------------------------------------------------------------

cp "$ROOT/boot/$KFILE-$KVER" "$OUT/kernel"
(cd "$STAGE" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) \
	>"$OUT/initrd.tmp" || die "cpio failed"
mv "$OUT/initrd.tmp" "$OUT/initrd"
