#!/bin/sh
# cross-check.sh - `make check-cross`: prove each architecture's flush and
# drain instructions are really in the code, and run what qemu can run.
#
#  1. scripts/cross-setup.sh (quiet; installs whatever is missing).
#  2. Cross-builds pmemio for aarch64 and ppc64le (scripts/cross.mk) and the
#     native x86-64 objects, into $BUILD/cross-<triplet> and $BUILD.
#  3. Disassembles the arch objects and fails unless they contain
#       aarch64:  dc cvap, dc cvac, dsb sy (and no dmb: a DMB does not
#                 wait for cache maintenance; no dsb ish: the drain must
#                 cover the whole system, as Linux's dcache_clean_pop)
#       ppc64le:  dcbstps, phwsync (binutils 2.40 prints dcbf L=6 as
#                 "dcbstps" and sync L=4 as "phwsync"; older ones may print
#                 "dcbf 0,rN,6" / "sync 4", also accepted), dcbf, hwsync
#                 (or "sync")
#       x86-64:   clwb, clflushopt, clflush, sfence
#  4. Runs tests/pmemio/cross_smoke.c: under qemu-aarch64 -cpu cortex-a72
#     (no DCPOP in HWCAP: must choose DC CVAC), under qemu-ppc64le
#     -cpu power9 (no ISA 3.1 in HWCAP2: must choose dcbf+hwsync), and
#     natively (must choose what /proc/cpuinfo reports).  Also checks that
#     PMFS_FLUSH naming a path the CPU lacks is refused with a warning.
#     (qemu 7.2 cannot run DC CVAP or the POWER10 forms in user mode; see
#     PLATFORM.md, so those paths are checked by disassembly only.)
# One line per architecture; exit 1 on the first failure.
set -eu

cd "$(dirname "$0")/.."
B=${BUILD:-build}
# Run the sub-makes with only what is given here (no inherited SANITIZE,
# CROSS or -j jobserver from a parent `make check`).
unset MAKEFLAGS MFLAGS MAKEOVERRIDES MAKELEVEL CROSS SANITIZE || true
MAKE_=${MAKE:-make}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

fail() {
	echo "check-cross: FAIL: $*" >&2
	exit 1
}

scripts/cross-setup.sh || fail "scripts/cross-setup.sh could not provide the cross tools"

build() { # build LABEL MAKE-ARGS...: quiet unless it fails
	label=$1
	shift
	if ! "$MAKE_" --no-print-directory BUILD="$B" "$@" >"$OUT/make.log" 2>&1; then
		cat "$OUT/make.log" >&2
		fail "$label build failed"
	fi
}

# has FILE LABEL ERE...: every extended regex must match a disassembly line.
has() {
	dis=$1
	label=$2
	shift 2
	for re in "$@"; do
		grep -Eq "$re" "$dis" || fail "$label: no instruction matching /$re/ in the disassembly"
	done
}

# smoke LABEL EXPECTED CMD...: run the smoke program, check the chosen name
# (CMD gets no PMFS_FLUSH unless given through env(1)).
smoke() {
	label=$1
	want=$2
	shift 2
	if ! env -u PMFS_FLUSH timeout 60 "$@" >"$OUT/smoke.out" 2>"$OUT/smoke.err"; then
		cat "$OUT/smoke.err" >&2
		fail "$label: smoke program failed: $*"
	fi
	got=$(sed -n '1s/ line=.*//p' "$OUT/smoke.out")
	[ "$got" = "$want" ] || fail "$label: chose '$got', expected '$want'"
}

# refused LABEL EXPECTED VALUE CMD...: PMFS_FLUSH=VALUE is refused.
refused() {
	label=$1
	want=$2
	val=$3
	shift 3
	smoke "$label" "$want" env PMFS_FLUSH="$val" "$@"
	grep -q "PMFS_FLUSH=$val: this CPU lacks it" "$OUT/smoke.err" ||
		fail "$label: PMFS_FLUSH=$val was not refused with a warning"
}

# ---- aarch64 -----------------------------------------------------------------
X=$B/cross-aarch64-linux-gnu
build aarch64 CROSS=aarch64-linux-gnu- cross
aarch64-linux-gnu-objdump -d "$X/src/pmemio/arch_aarch64.o" >"$OUT/a64.dis"
has "$OUT/a64.dis" aarch64 '[[:space:]]dc[[:space:]]+cvap,' \
	'[[:space:]]dc[[:space:]]+cvac,' '[[:space:]]dsb[[:space:]]+sy$'
if grep -Eq '[[:space:]]dmb[[:space:]]' "$OUT/a64.dis"; then
	fail "aarch64: a dmb in arch_aarch64.o (the drain must be a dsb)"
fi
if grep -Eq '[[:space:]]dsb[[:space:]]+(ish|ishst|nsh|osh)' "$OUT/a64.dis"; then
	fail "aarch64: a dsb narrower than sy in arch_aarch64.o (the drain must be dsb sy)"
fi
smoke aarch64 "dc cvac+dsb" qemu-aarch64 -cpu cortex-a72 "$X/tests/pmemio/cross_smoke"
refused aarch64 "dc cvac+dsb" cvap qemu-aarch64 -cpu cortex-a72 "$X/tests/pmemio/cross_smoke"
echo "check-cross: aarch64: dc cvap, dc cvac, dsb sy found, no dmb or narrower dsb;" \
	"qemu -cpu cortex-a72 chose '$(cat "$OUT/smoke.out")', PMFS_FLUSH=cvap refused: ok"

# ---- ppc64le -----------------------------------------------------------------
X=$B/cross-powerpc64le-linux-gnu
build ppc64le CROSS=powerpc64le-linux-gnu- cross
powerpc64le-linux-gnu-objdump -d "$X/src/pmemio/arch_ppc64.o" >"$OUT/p64.dis"
has "$OUT/p64.dis" ppc64le \
	'[[:space:]](dcbstps[[:space:]]|dcbf[[:space:]]+[^,]*,[^,]*,6$)' \
	'[[:space:]](phwsync|sync[[:space:]]+4)$' \
	'[[:space:]]dcbf[[:space:]]+[^,]*,r[0-9]+$' \
	'[[:space:]](hwsync|sync)$'
smoke ppc64le "dcbf+hwsync" qemu-ppc64le -cpu power9 "$X/tests/pmemio/cross_smoke"
refused ppc64le "dcbf+hwsync" p10 qemu-ppc64le -cpu power9 "$X/tests/pmemio/cross_smoke"
echo "check-cross: ppc64le: dcbstps (dcbf L=6), phwsync (sync L=4), dcbf, hwsync found;" \
	"qemu -cpu power9 chose '$(cat "$OUT/smoke.out")', PMFS_FLUSH=p10 refused: ok"

# ---- x86-64 (native) ---------------------------------------------------------
build x86-64 "$B/src/pmemio/arch_x86_64.o" "$B/src/pmemio/arch.o" cross-smoke
objdump -d "$B/src/pmemio/arch_x86_64.o" >"$OUT/x86.dis"
has "$OUT/x86.dis" x86-64 '[[:space:]]clwb[[:space:]]' '[[:space:]]clflushopt[[:space:]]' \
	'[[:space:]]clflush[[:space:]]' '[[:space:]]sfence' '[[:space:]]movntdq[[:space:]]'
flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
case " $flags " in
*" clwb "*) native="clwb+sfence" ;;
*" clflushopt "*) native="clflushopt+sfence" ;;
*) native="clflush+sfence" ;;
esac
smoke x86-64 "$native" "$B/tests/pmemio/cross_smoke"
smoke x86-64 "clflush+sfence" env PMFS_FLUSH=clflush "$B/tests/pmemio/cross_smoke"
smoke x86-64 "$native" "$B/tests/pmemio/cross_smoke"
echo "check-cross: x86-64: clwb, clflushopt, clflush, sfence, movntdq found;" \
	"native chose '$(cat "$OUT/smoke.out")', PMFS_FLUSH=clflush honoured: ok"
