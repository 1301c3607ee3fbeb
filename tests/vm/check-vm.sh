#!/bin/sh
# check-vm.sh - `make check-vm` and `make check-vm-long`: pmfs on emulated
# persistent memory, in QEMU guests built from Debian packages.
#
#  1. QEMU for the three architectures must be there (scripts/deps.sh
#     installs it): a missing one is a failure with its name, never a skip.
#  2. The cross tools (scripts/cross-setup.sh), the packages of each guest
#     (tests/vm/guest.sh fetch, cached in $BUILD/vm), then the native and
#     cross-built programs (tests/vm/vm.mk).
#  3. The guests, one after the other (tests/vm/qemu.sh):
#       x86-pmem  t-pmem.sh   devdax, fsdax, bad blocks, refusals, kill -9
#       x86-eadr  t-eadr.sh   eADR: byte granularity, no flushes, fences
#       a64-max   t-cpu.sh    aarch64 -cpu max: DC CVAP
#       a64-a72   t-cpu.sh    aarch64 cortex-a72: DC CVAC (no DCPOP)
#       p9        t-cpu.sh    POWER9: dcbf + hwsync (no ISA 3.1)
#       p10       t-p10.sh    POWER10: what ISA 3.1 QEMU runs (see there)
#     VM_GUESTS='x86-pmem p9' runs some of them.  With VM_LONG=1 (make
#     check-vm-long) also x86-long (t-long.sh: the Criterion mount suites
#     on the guest kernel, the crash harness over every workload) and the
#     crash harness over every workload on a64-max and p9.
#  4. $BUILD/vm-summary ("check-vm P F") for scripts/summary.sh, and the
#     last line: "check-vm: P passed, F failed".
set -u

cd "$(dirname "$0")/../.."
B=${BUILD:-build}
VM=$B/vm
LONG=${VM_LONG:-0}
unset MAKEFLAGS MFLAGS MAKEOVERRIDES MAKELEVEL CROSS SANITIZE || true
MAKE_=${MAKE:-make}
mkdir -p "$VM"
: >"$VM/results"
t0=$(date +%s)

fail() {
	echo "check-vm: FAIL: $*" >&2
	echo "check-vm 0 1" >"$B/vm-summary"
	exit 1
}

for q in qemu-system-x86_64 qemu-system-aarch64 qemu-system-ppc64; do
	command -v $q >/dev/null 2>&1 ||
		fail "$q is not installed (scripts/deps.sh installs qemu-system-x86, qemu-system-arm and qemu-system-ppc)"
done
command -v cpio >/dev/null 2>&1 || fail "cpio is not installed (scripts/deps.sh installs it)"

scripts/cross-setup.sh || fail "scripts/cross-setup.sh could not provide the cross tools"
for a in x86_64 aarch64 ppc64le; do
	tests/vm/guest.sh fetch $a "$VM" || fail "the $a guest's packages could not be fetched"
done

build() { # build LABEL MAKE-ARGS...: quiet unless it fails
	label=$1
	shift
	if ! "$MAKE_" --no-print-directory BUILD="$B" "$@" >"$VM/make.log" 2>&1; then
		cat "$VM/make.log" >&2
		fail "$label build failed"
	fi
}
if [ "$LONG" = 1 ]; then
	build x86-64 vm-native-long
else
	build x86-64 vm-native
fi
build aarch64 CROSS=aarch64-linux-gnu- vm-cross
build ppc64le CROSS=powerpc64le-linux-gnu- vm-cross

# pack ARCH: the guest's kernel and initrd with what its scripts run.
pack() {
	case $1 in
	x86_64)
		X=$B
		set -- "$1" "$X/mkfs.pmfs" "$X/mount.pmfs" "$X/fsck.pmfs" \
			"$X/tests/vm/vm_posix" "$X/tests/vm/vm_kill" \
			"$X/tests/vm/vm_pmemio" tests/vm/t-pmem.sh tests/vm/t-eadr.sh
		if [ "$LONG" = 1 ]; then
			# shellcheck disable=SC2046 # file names without spaces
			set -- "$@" tests/vm/t-long.sh "$X/tests/crash/crashtest" \
				"$X/tests/mount/fsx" $(ls "$X"/tests/mount/test_* | grep -v '\.d$')
		fi
		;;
	aarch64 | ppc64le)
		X=$B/cross-$([ "$1" = aarch64 ] && echo aarch64 || echo powerpc64le)-linux-gnu
		set -- "$1" "$X/mkfs.pmfs" "$X/fsck.pmfs" "$X/tests/vm/vm_posix" \
			"$X/tests/vm/vm_kill" "$X/tests/vm/vm_pmemio" \
			"$X/tests/crash/crashtest" "$X/tests/pmemio/cross_smoke" \
			tests/vm/t-cpu.sh tests/vm/t-p10.sh
		;;
	esac
	a=$1
	shift
	tests/vm/guest.sh pack "$a" "$VM" tests/vm/lib.sh "$@" ||
		fail "the $a guest could not be built"
}

GUESTS=${VM_GUESTS:-}
if [ -z "$GUESTS" ]; then
	GUESTS="x86-pmem x86-eadr a64-max a64-a72 p9 p10"
	[ "$LONG" = 1 ] && GUESTS="$GUESTS x86-long"
fi
crash=""
[ "$LONG" = 1 ] && crash=crash=all
packed=""
status=0
for g in $GUESTS; do
	case $g in
	x86-*) arch=x86_64 ;;
	a64-*) arch=aarch64 ;;
	p9 | p10) arch=ppc64le ;;
	*) fail "unknown guest '$g' in VM_GUESTS" ;;
	esac
	case " $packed " in
	*" $arch "*) ;;
	*)
		pack $arch
		packed="$packed $arch"
		;;
	esac
	echo "== check-vm: $g"
	case $g in
	x86-pmem) tests/vm/qemu.sh x86-pmem "$VM" t-pmem.sh "$VM/$g.log" ;;
	x86-eadr) tests/vm/qemu.sh x86-eadr "$VM" t-eadr.sh "$VM/$g.log" ;;
	x86-long) VM_TIMEOUT=5400 tests/vm/qemu.sh x86-long "$VM" t-long.sh "$VM/$g.log" ;;
	a64-max) tests/vm/qemu.sh a64-max "$VM" t-cpu.sh "$VM/$g.log" expect=cvap $crash ;;
	a64-a72) tests/vm/qemu.sh a64-a72 "$VM" t-cpu.sh "$VM/$g.log" expect=cvac lacks=cvap ;;
	p9) tests/vm/qemu.sh p9 "$VM" t-cpu.sh "$VM/$g.log" expect=p9 lacks=p10 $crash ;;
	p10) tests/vm/qemu.sh p10 "$VM" t-p10.sh "$VM/$g.log" ;;
	esac || status=1
done

awk '{p += $2; f += $3} END {printf "check-vm %d %d\n", p, f}' "$VM/results" >"$B/vm-summary"
echo "== check-vm: per guest (passed, failed, seconds):"
sed 's/^/  /' "$VM/results"
read -r _ p f <"$B/vm-summary"
echo "check-vm: $p passed, $f failed, $(($(date +%s) - t0)) s in all"
[ "$status" -eq 0 ] && [ "$f" -eq 0 ]
