# t-p10.sh - the POWER10 guest (qemu-system-ppc64 -cpu power10).
#
# The CPU reports ISA 3.1 and pmemio chooses dcbstps + phwsync, but QEMU
# 7.2 does not run those encodings in system mode either: the first
# `dcbstps` (dcbf L=6) raises SIGILL in the guest, as it does under
# qemu-user.  This script pins exactly that: the choice, and the SIGILL at
# the flush (the kernel's "illegal instruction" line is the evidence).  If
# a QEMU runs them one day these checks fail, and this guest should run
# t-cpu.sh with pmfs.expect=p10 instead.  Then the pre-3.1 path
# (PMFS_FLUSH=p9) is run on the POWER10 CPU: dcbf + hwsync, the tools and
# the counters.
# shellcheck disable=SC1091 # the guest's copy
. /pmfs/lib.sh
export PMFS_FORCE_CACHE_LINE=1 PMFS_BUILD=/pmfs

OUT=$(grep -m 1 '^cpu' /proc/cpuinfo)
has "the CPU is a POWER10" "POWER10"
OUT=$(LD_SHOW_AUXV=1 vm_kill 2>/dev/null | grep -E '^AT_HWCAP2')
has "HWCAP2 has arch_3_1" "arch_3_1"

dd if=/dev/zero of=/dev/shm/probe bs=1M count=8 2>/dev/null
OUT=$(vm_pmemio /dev/shm/probe cache-line "dcbstps+phwsync" 2>&1)
st=$?
has "pmemio chooses dcbstps+phwsync on POWER10" "CPU table dcbstps\+phwsync$"
if [ $st -eq 132 ]; then
	ok "QEMU 7.2: the ISA 3.1 flush path raises SIGILL (exit 132)"
else
	bad "the ISA 3.1 path exited $st, not SIGILL: QEMU runs it now (use t-cpu.sh pmfs.expect=p10)"
	show_out
fi
OUT=$(vm_pmemio --table p10 2>&1)
st=$?
if [ $st -eq 132 ] && ! echo "$OUT" | grep -q 'flush executed'; then
	ok "the SIGILL is at dcbstps, the flush (before phwsync)"
	echo "  > $(echo "$OUT" | head -n 1); killed by SIGILL before 'flush executed'"
else
	bad "table p10: exit $st"
	show_out
fi
OUT=$(dmesg | grep -m 1 'illegal instruction')
has "the kernel's record of it" "vm_pmemio.*illegal instruction"

export PMFS_FLUSH=p9
run "PMFS_FLUSH=p9 on POWER10: cross_smoke" cross_smoke
has "PMFS_FLUSH=p9: dcbf+hwsync" "^dcbf\+hwsync line="
run "PMFS_FLUSH=p9: vm_pmemio" vm_pmemio /dev/shm/probe cache-line "dcbf+hwsync"
has "PMFS_FLUSH=p9: one flush and one fence per persisted word" \
	"100 persists of one word: 100 flushes, 100 fences"
rm -f /dev/shm/probe
run "PMFS_FLUSH=p9: mkfs.pmfs" mkfs.pmfs --size 64M /dev/shm/img
run "PMFS_FLUSH=p9: fsck.pmfs -fn" fsck.pmfs -fn /dev/shm/img
has "PMFS_FLUSH=p9: fsck finds nothing" " 0 problems found"
OUT=$(crashtest --only create 2>&1)
has "PMFS_FLUSH=p9: crash harness: create" "^crash: create: fences [0-9]+, images [0-9]+, failures 0( |,|$)"

finish
