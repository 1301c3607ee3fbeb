#!/bin/sh
# qemu.sh GUEST VMDIR SCRIPT LOG [KEY=VALUE...] - boot one test guest and
# report what its script found.
#
#   GUEST   x86-pmem   x86-64, an emulated NVDIMM (persistence domain: the
#                      memory controller, ADR)
#           x86-eadr   the same with nvdimm-persistence=cpu (eADR)
#           x86-long   x86-pmem with 3 GiB of RAM (make check-vm-long)
#           a64-max    aarch64 -cpu max (DCPOP: DC CVAP)
#           a64-a72    aarch64 -cpu cortex-a72 (ARMv8.0: DC CVAC only)
#           p9         POWER -cpu power9 (ISA 3.0: dcbf + hwsync)
#           p10        POWER -cpu power10 (ISA 3.1: dcbstps + phwsync)
#   VMDIR   where tests/vm/guest.sh left ARCH/kernel and ARCH/initrd
#   SCRIPT  the script in the guest's /pmfs that /init runs
#   LOG     the whole console output goes there
#   KEY=VALUE  passed on the kernel command line as pmfs.KEY=VALUE (the
#           guest's /init exports them as PMFS_VM_KEY)
#
# Prints the guest's check lines ("ok - ...", "FAIL - ...") and the lines
# of evidence under them, then "GUEST: P passed, F failed, N s", and
# appends "GUEST P F" to VMDIR/results.  Exit 0 only when the guest ran to
# its end and nothing failed.  A QEMU that cannot start, a guest that does
# not reach its end within VM_TIMEOUT seconds (default 600), or a script
# that exits non-zero without a FAIL line are failures with the reason.
#
# Accelerator: TCG (the only one that runs a stock kernel on these
# machines); VM_ACCEL=kvm for the x86-64 guests where KVM works.
set -u

GUEST=${1:?usage: qemu.sh GUEST VMDIR SCRIPT LOG [KEY=VALUE...]}
VMDIR=${2:?}
SCRIPT=${3:?}
LOG=${4:?}
shift 4
TIMEOUT=${VM_TIMEOUT:-600}

extra=""
for kv in "$@"; do
	extra="$extra pmfs.$kv"
done

nv() { # nv FILE: an emulated NVDIMM of 1 GiB + a 128 KiB label area,
	# fresh (sparse) on every boot.  1026M: a 1G backend with the label
	# leaves a region that ndctl 76 rejects as misaligned (PLATFORM.md).
	rm -f "$1"
	truncate -s 1026M "$1" || return 1
	echo "-object memory-backend-file,id=nvm0,share=on,mem-path=$1,size=1026M,align=2M" \
		"-device nvdimm,id=nv0,memdev=nvm0,label-size=128K"
}

case $GUEST in
x86-pmem | x86-eadr | x86-long)
	ARCH=x86_64
	QEMU=qemu-system-x86_64
	persist=""
	mem=1G
	[ "$GUEST" = x86-eadr ] && persist=",nvdimm-persistence=cpu"
	[ "$GUEST" = x86-long ] && mem=3G # the suites' images on tmpfs
	dimm=$(nv "$VMDIR/$ARCH/nvdimm-$GUEST.img") || exit 1
	# shellcheck disable=SC2086 # word lists
	set -- -machine "pc,nvdimm=on$persist" -accel "${VM_ACCEL:-tcg}" \
		-cpu max -m "$mem,slots=2,maxmem=8G" $dimm
	CONSOLE=ttyS0
	;;
a64-max | a64-a72)
	ARCH=aarch64
	QEMU=qemu-system-aarch64
	cpu=max,pauth-impdef=on # QEMU's own pointer-auth hash: much faster
	[ "$GUEST" = a64-a72 ] && cpu=cortex-a72
	set -- -machine virt -accel tcg -cpu "$cpu" -m 1G
	CONSOLE=ttyAMA0
	;;
p9 | p10)
	ARCH=ppc64le
	QEMU=qemu-system-ppc64
	cpu=power9
	[ "$GUEST" = p10 ] && cpu=power10
	set -- -machine pseries -accel tcg -cpu "$cpu" -m 1G
	CONSOLE=hvc0
	;;
*)
	echo "qemu.sh: unknown guest '$GUEST'" >&2
	exit 2
	;;
esac

if ! command -v "$QEMU" >/dev/null 2>&1; then
	echo "$GUEST: FAIL: $QEMU is not installed (scripts/deps.sh installs it)"
	echo "$GUEST 0 1" >>"$VMDIR/results"
	exit 1
fi

start=$(date +%s)
timeout -k 10 "$TIMEOUT" "$QEMU" "$@" -smp 1 -nographic -nodefaults \
	-serial stdio -no-reboot \
	-kernel "$VMDIR/$ARCH/kernel" -initrd "$VMDIR/$ARCH/initrd" \
	-append "console=$CONSOLE loglevel=4 panic=-1 edd=off pmfs.test=$SCRIPT$extra" \
	</dev/null >"$LOG" 2>&1
qrc=$?
secs=$(($(date +%s) - start))
tr -d '\r' <"$LOG" >"$LOG.txt" && mv "$LOG.txt" "$LOG"

# The check lines and their evidence, as the guest printed them.
grep -E '^(ok - |FAIL - |  [>|] |pmfs-vm: )' "$LOG"
pass=$(grep -c '^ok - ' "$LOG")
fail=$(grep -c '^FAIL - ' "$LOG")
end=$(sed -n 's/^pmfs-vm: end rc=\([0-9]*\)$/\1/p' "$LOG" | tail -n 1)
why=""
if [ -z "$end" ]; then
	if [ $qrc -eq 124 ] || [ $qrc -eq 137 ]; then
		why="the guest did not finish within $TIMEOUT s"
	elif ! grep -q 'pmfs-vm: ' "$LOG"; then
		why="$QEMU could not start or boot the guest (exit $qrc): $(tail -n 5 "$LOG" | tr '\n' ' ')"
	else
		why="the guest stopped before its end (QEMU exit $qrc): $(tail -n 3 "$LOG" | tr '\n' ' ')"
	fi
elif [ "$end" != 0 ] && [ "$fail" -eq 0 ]; then
	why="the guest script exited $end without a failed check"
fi
if [ -n "$why" ]; then
	echo "FAIL - $GUEST: $why"
	fail=$((fail + 1))
fi
echo "$GUEST: $pass passed, $fail failed, $secs s (console log: $LOG)"
echo "$GUEST $pass $fail $secs" >>"$VMDIR/results"
[ "$fail" -eq 0 ]
