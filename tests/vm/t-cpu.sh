# t-cpu.sh - a guest whose CPU model decides pmemio's flush path (aarch64
# and POWER: Debian's kernels there have no ZONE_DEVICE, hence no devdax
# and no -o dax, so the storage is a file on tmpfs with cache-line
# granularity forced, and the flush instructions run for real).
#
# pmfs.expect=KEY names the table the CPU must get (cvap, cvac, p9, p10);
# pmfs.lacks=KEY a table the CPU must not have: running its flush must
# raise SIGILL (so the CPU model really lacks the instructions, and the
# instructions of the chosen table really execute).  Then: the arch smoke
# program, pmemio's counters through vm_pmemio, mkfs.pmfs and fsck.pmfs on
# an image, and a bounded crash-harness run over one or two workloads
# (pmfs.crash=all: every workload, bounded).
# shellcheck disable=SC1091 # the guest's copy
. /pmfs/lib.sh

want=${PMFS_VM_expect:?pmfs.expect= missing}
lack=${PMFS_VM_lacks:-}
case $want in
cvap) name="dc cvap+dsb" ;;
cvac) name="dc cvac+dsb" ;;
p9) name="dcbf+hwsync" ;;
p10) name="dcbstps+phwsync" ;;
*)
	bad "unknown pmfs.expect=$want"
	finish
	;;
esac
rx=$(echo "$name" | sed 's/+/\\+/g') # as an ERE
export PMFS_FORCE_CACHE_LINE=1 PMFS_BUILD=/pmfs

OUT=$(grep -m 2 -E '^(Features|cpu|CPU part)' /proc/cpuinfo)
has "the CPU, as the kernel reports it" "."
case $want in
cvap) has "the kernel reports dcpop (HWCAP_DCPOP)" " dcpop( |$)" ;;
cvac) lacks "the kernel reports no dcpop" " dcpop( |$)" ;;
esac
OUT=$(LD_SHOW_AUXV=1 vm_kill 2>/dev/null | grep -E '^AT_HWCAP')
has "the CPU's hardware capabilities" "^AT_HWCAP"
case $want in
p10) has "HWCAP2 has arch_3_1" "arch_3_1" ;;
p9) lacks "HWCAP2 lacks arch_3_1" "arch_3_1" ;;
esac

run "cross_smoke: flush and drain at every alignment" cross_smoke
has "cross_smoke chose $name" "^$rx line="
run "pmemio maps a tmpfs file at cache-line granularity (forced)" \
	dd if=/dev/zero of=/dev/shm/probe bs=1M count=8
run "vm_pmemio: $name" vm_pmemio /dev/shm/probe cache-line "$name"
has "vm_pmemio: one flush and one fence per persisted word" \
	"100 persists of one word: 100 flushes, 100 fences"
has "vm_pmemio: a copy flushes each line it touches" \
	"a 200-byte copy: [0-9]+ flushes \([0-9]+-byte lines\), 1 fence"
run "the chosen table's instructions execute" vm_pmemio --table "$want"
has "table $want executed" "flush and drain executed"
if [ -n "$lack" ]; then
	OUT=$(vm_pmemio --table "$lack" 2>&1)
	st=$?
	if [ $st -eq 132 ]; then
		ok "the CPU lacks table $lack: its flush raises SIGILL"
		echo "  > $(echo "$OUT" | head -n 1); killed by SIGILL"
	else
		bad "table $lack on a CPU without it: exit $st, expected SIGILL (132)"
		show_out
	fi
	OUT=$(PMFS_FLUSH=$lack cross_smoke 2>&1)
	has "PMFS_FLUSH=$lack is refused with a warning" \
		"PMFS_FLUSH=$lack: this CPU lacks it, using $rx"
fi

rm -f /dev/shm/probe
run "mkfs.pmfs on a tmpfs image" mkfs.pmfs --size 64M /dev/shm/img
has "mkfs.pmfs: flush path $name" "flush path: +$rx$"
run "fsck.pmfs -fnv" fsck.pmfs -fnv /dev/shm/img
has "fsck.pmfs: flush path $name" "cache-line, flush $rx$"
has "fsck finds nothing" " 0 problems found"
rm -f /dev/shm/img

if [ "${PMFS_VM_crash:-}" = all ]; then
	works=$(crashtest --list)
else
	# TCG runs about 5 crash images a second: a multi-inode workload
	# on the best table of each architecture, a single-inode one on the
	# lesser
	case $want in
	cvap | p9) works="create atomic-replace" ;;
	*) works="create" ;;
	esac
fi
for w in $works; do
	OUT=$(crashtest --only "$w" 2>&1)
	st=$?
	line=$(echo "$OUT" | grep -m 1 "^crash: $w: fences")
	if [ $st -eq 0 ] && echo "$line" | grep -Eq 'failures 0( |,|$)'; then
		ok "crash harness: $w"
		echo "  > $line"
	else
		bad "crash harness: $w (exit $st)"
		show_out 20
	fi
done

finish
