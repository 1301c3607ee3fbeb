# t-pmem.sh - the x86-64 guest with an emulated NVDIMM (ADR: persistence
# domain "memory controller"), one boot for everything that needs it:
#
#  1. the raw namespace: /dev/pmem0 refused (a raw namespace's block device)
#  2. sector (BTT): /dev/pmem0s refused
#  3. fsdax: /dev/pmem0 refused (a block device); ext4 -o dax on it, pmemio
#     maps a file there with MAP_SYNC at cache-line granularity (counters);
#     mkfs.pmfs names the namespace; the life cycle below on an image file
#  4. bad blocks: one sector of the image file made bad through the pmem
#     disk's badblocks list; mkfs.pmfs keeps its block out of use, the
#     filesystem is filled around it, fsck.pmfs reports it
#  5. devdax: the same, on /dev/dax0.0
#
# Not here: a devdax namespace below pmfs's 8 MiB minimum.  ndctl makes
# none below 16 MiB ("'--size=' must be >= 16MiB for 'devdax' mode"), which
# leaves about 14 MiB usable, and claiming a 4 MiB namespace by hand
# through sysfs fails in this kernel ("No such device or address"); the
# refusal is covered on image files by the mkfs suite.
#
# The life cycle (cycle DEV TAG): mount in the background with -v (flush
# path, clean mount), the POSIX checks, a tree to keep, a workload killed
# with SIGKILL under the daemon (the death reported in syslog), the
# recovery mount with every answered step there, unmount waiting for the
# daemon's exit, fsck.pmfs -fn clean, a clean mount after it.
# shellcheck disable=SC1091 # the guest's copy
. /pmfs/lib.sh

MNT=/mnt/pm
mkdir -p "$MNT" /fsdax

modprobe -a nfit nd_pmem nd_btt dax_pmem device_dax fuse ext4 crc32c_generic
for _ in $(seq 100); do
	[ -e /sys/bus/nd/devices/namespace0.0 ] && break
	sleep 0.1
done
run "ndctl lists the emulated NVDIMM's namespace" ndctl list -N
has "a raw namespace to start with" '"mode":"raw"'

# namespace MODE [ARGS]: reconfigure namespace0.0, wait for its device.
namespace() {
	_m=$1
	shift
	run "ndctl create-namespace -m $_m $*" \
		ndctl create-namespace -f -e namespace0.0 -m "$_m" "$@"
}

# The kill: a workload on DIR, SIGKILL to the filesystem process (the
# child of the supervisor among $DPIDS) once `steps` steps are answered.
kill_daemon_under_workload() {
	_tag=$1
	_dir=$2
	_steps=$3
	mkdir -p "$_dir"
	rm -f /tmp/kill.log
	vm_kill work "$_dir" /tmp/kill.log >/tmp/kill.out 2>&1 &
	_wpid=$!
	_t=0
	while [ "$(wc -l </tmp/kill.log 2>/dev/null || echo 0)" -lt "$_steps" ]; do
		if ! alive $_wpid || [ $_t -ge 1200 ]; then
			bad "$_tag: the workload did not reach $_steps steps"
			cat /tmp/kill.out
			return 1
		fi
		sleep 0.05
		_t=$((_t + 1))
	done
	_fsp=
	for _p in $DPIDS; do
		_pp=$(sed -n 's/^PPid:[[:space:]]*//p' "/proc/$_p/status")
		case " $DPIDS " in
		*" $_pp "*) _fsp=$_p ;;
		esac
	done
	if [ -z "$_fsp" ]; then
		bad "$_tag: no filesystem process under the supervisor in '$DPIDS'"
		return 1
	fi
	kill -9 "$_fsp"
	wait $_wpid
	OUT=$(cat /tmp/kill.out)
	has "$_tag: kill -9 of the daemon mid-workload" 'steps done, then'
}

cycle() {
	dev=$1
	tag=$2
	syslog_mark
	mount_bg "$tag: mount" "$dev" "$MNT" || return 1
	has "$tag: mount -v shows the flush path" \
		"store granularity cache-line, flush path clwb\+sfence$"
	has "$tag: a clean mount" "clean mount"
	vm_posix "$MNT" || FAILS=$((FAILS + 1))
	stage "$tag: kill"
	run "$tag: a tree to keep" vm_posix fill "$MNT"

	kill_daemon_under_workload "$tag" "$MNT/kill" 150
	run "$tag: umount -l of the dead mount" umount -l "$MNT"
	# shellcheck disable=SC2086 # a list of pids
	wait_gone "$tag: the killed daemon's processes exit" $DPIDS
	OUT=$(syslog_new)
	has "$tag: syslog reports the daemon's death" \
		"mount.pmfs.*$dev on $MNT: the filesystem process [0-9]+ was killed by signal 9"

	syslog_mark
	mount_bg "$tag: mount after the kill" "$dev" "$MNT" || return 1
	has "$tag: a recovery mount" "recovery mount"
	run "$tag: every answered step is there" vm_kill verify "$MNT/kill" /tmp/kill.log
	has "$tag: the workload's steps" "steps answered, all there"
	run "$tag: the kept tree is intact" vm_posix verify "$MNT"
	umount_wait "$tag" "$MNT"
	OUT=$(syslog_new)
	lacks "$tag: nothing in syslog from a clean unmount" "mount.pmfs"

	run "$tag: fsck.pmfs -fn after the daemon's exit" fsck.pmfs -fn "$dev"
	has "$tag: fsck finds nothing" " 0 problems found"
	mount_bg "$tag: mount after fsck" "$dev" "$MNT" || return 1
	has "$tag: a clean mount after a clean unmount" "clean mount"
	run "$tag: the kept tree is still intact" vm_posix verify "$MNT"
	umount_wait "$tag: last" "$MNT"
}

# ---- 1, 2: raw and sector namespaces -------------------------------------
stage "raw and sector namespaces"
refuses "raw: mkfs.pmfs refuses /dev/pmem0" \
	"/dev/pmem0: is the block device of namespace0.0, a raw namespace" \
	mkfs.pmfs /dev/pmem0
refuses "raw: mount.pmfs refuses /dev/pmem0" \
	"a raw namespace" mount.pmfs /dev/pmem0 "$MNT"

namespace sector
refuses "sector: mkfs.pmfs refuses /dev/pmem0s" \
	"/dev/pmem0s: is the block device of namespace0.0, a sector namespace" \
	mkfs.pmfs /dev/pmem0s

# ---- 3: fsdax ------------------------------------------------------------
stage "fsdax"
namespace fsdax
refuses "fsdax: mkfs.pmfs refuses the block device /dev/pmem0" \
	"/dev/pmem0: is a block device; put a file on a filesystem mounted -o dax" \
	mkfs.pmfs /dev/pmem0
run "fsdax: mke2fs on /dev/pmem0" /usr/bin/mke2fs -q -t ext4 -F -b 4096 /dev/pmem0
run "fsdax: mount -o dax" mount -t ext4 -o dax /dev/pmem0 /fsdax
OUT=$(grep ' /fsdax ' /proc/mounts)
has "fsdax: /proc/mounts shows dax" "dax"
run "fsdax: a probe file" dd if=/dev/zero of=/fsdax/probe bs=1M count=8
run "fsdax: pmemio maps a file with MAP_SYNC at cache-line granularity" \
	vm_pmemio /fsdax/probe cache-line clwb+sfence
has "fsdax: pmemio counts one flush per line and one fence per persist" \
	"100 persists of one word: 100 flushes, 100 fences"
rm -f /fsdax/probe
run "fsdax: mkfs.pmfs on a file" mkfs.pmfs --size 256M /fsdax/pmfs.img
has "fsdax: mkfs.pmfs names the namespace under the file" \
	"namespace: +namespace0.0, fsdax mode \(pmem0, holding the file\), .*, alignment "
has "fsdax: mkfs.pmfs: cache-line granularity (MAP_SYNC)" "granularity: +cache-line$"
has "fsdax: mkfs.pmfs: flush path" "flush path: +clwb\+sfence$"
cycle /fsdax/pmfs.img fsdax

# ---- 4: a bad block under an image file on fsdax ---------------------------
stage "a bad block under an image file on fsdax"
# Written whole first, so that every block of the file is allocated.
run "badblock: a 64 MiB image file" dd if=/dev/zero of=/fsdax/bb.img bs=1M count=64
run "badblock: the image's extents" filefrag -v /fsdax/bb.img
# Extent lines: "   1:     2048..   16383:      40960..     55295:  14336: ..."
bblk=5000
phys=$(echo "$OUT" | awk -v b=$bblk '$1 ~ /^[0-9]+:$/ && $2 ~ /\.\.$/ {
	l1 = $2; sub(/\.\./, "", l1); l2 = $3; sub(/:/, "", l2)
	p1 = $4; sub(/\.\./, "", p1)
	if (b >= l1 + 0 && b <= l2 + 0) print p1 + b - l1 }')
if [ -n "$phys" ]; then
	ok "badblock: block $bblk of the image is block $phys of /dev/pmem0"
	sector=$((phys * 8))
	echo "$sector 8" >/sys/block/pmem0/badblocks
	OUT=$(cat /sys/block/pmem0/badblocks)
	has "badblock: the pmem disk lists sector $sector as bad" "^$sector 8$"
	run "badblock: mkfs.pmfs -f over it" mkfs.pmfs -f /fsdax/bb.img
	has "badblock: mkfs.pmfs keeps it out of use" "bad blocks: +1 kept out of use"
	syslog_mark
	dd if=/dev/urandom of=/tmp/fill bs=1M count=56 2>/dev/null
	mount_bg "badblock: mount" /fsdax/bb.img "$MNT" &&
		run "badblock: fill the filesystem around it" cp /tmp/fill "$MNT/fill" &&
		run "badblock: read it all back" cmp /tmp/fill "$MNT/fill" &&
		umount_wait "badblock" "$MNT"
	rm -f /tmp/fill
	OUT=$(syslog_new)
	lacks "badblock: the daemon never touched it (no SIGBUS)" "killed by signal"
	run "badblock: fsck.pmfs -fnv" fsck.pmfs -fnv /fsdax/bb.img
	has "badblock: fsck.pmfs reports the bad block" \
		"1 bad blocks kept out of use, the first is block $bblk; 1 reported by the namespace now"
	has "badblock: fsck finds nothing wrong" " 0 problems found"
else
	bad "badblock: no extent of the image holds block $bblk"
	show_out
fi
rm -f /fsdax/bb.img
run "fsdax: umount" umount /fsdax

# ---- 5: devdax -------------------------------------------------------------
stage "devdax"
namespace devdax
run "devdax: pmemio maps /dev/dax0.0 at cache-line granularity" \
	vm_pmemio /dev/dax0.0 cache-line clwb+sfence
has "devdax: pmemio counts one flush per line and one fence per persist" \
	"100 persists of one word: 100 flushes, 100 fences"
run "devdax: mkfs.pmfs /dev/dax0.0" mkfs.pmfs -f /dev/dax0.0
has "devdax: mkfs.pmfs names the namespace" \
	"namespace: +namespace0.0, devdax mode \(dax0.0\), 1[0-9.]+ [MG]iB, alignment 2.0 MiB$"
has "devdax: mkfs.pmfs: cache-line granularity" "granularity: +cache-line$"
has "devdax: mkfs.pmfs: flush path" "flush path: +clwb\+sfence$"
cycle /dev/dax0.0 devdax

finish
