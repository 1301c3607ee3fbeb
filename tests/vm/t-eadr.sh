# t-eadr.sh - the x86-64 guest whose emulated NVDIMM region has the CPU
# cache in its persistence domain (QEMU nvdimm-persistence=cpu, eADR):
# pmemio maps at byte granularity, skips every flush and keeps every fence
# (its counters say so), mkfs.pmfs and mount.pmfs show it, and the file
# system works and checks clean, on devdax and on a file on -o dax.
# shellcheck disable=SC1091 # the guest's copy
. /pmfs/lib.sh

MNT=/mnt/pm
mkdir -p "$MNT" /fsdax
modprobe -a nfit nd_pmem dax_pmem device_dax fuse ext4 crc32c_generic
for _ in $(seq 100); do
	[ -e /sys/bus/nd/devices/region0 ] && break
	sleep 0.1
done
OUT=$(cat /sys/bus/nd/devices/region0/persistence_domain)
has "the region's persistence domain is the CPU cache" "^cpu_cache$"

run "ndctl create-namespace -m devdax" \
	ndctl create-namespace -f -e namespace0.0 -m devdax
run "devdax: pmemio maps at byte granularity" \
	vm_pmemio /dev/dax0.0 byte "none+sfence (eADR)"
has "devdax: no flush, every fence (pmemio counters)" \
	"100 persists of one word: 0 flushes, 100 fences"
run "devdax: mkfs.pmfs" mkfs.pmfs -f /dev/dax0.0
has "devdax: mkfs.pmfs names an eADR namespace" \
	"namespace: +namespace0.0, devdax mode \(dax0.0\), .*, persistence domain CPU cache \(eADR\)$"
has "devdax: mkfs.pmfs: byte granularity" "granularity: +byte$"
has "devdax: mkfs.pmfs: flush path" "flush path: +none\+sfence \(eADR\)$"
mount_bg "devdax: mount" /dev/dax0.0 "$MNT" &&
	has "devdax: mount -v shows the eADR path" \
		"store granularity byte, flush path none\+sfence \(eADR\)$" &&
	{ vm_posix "$MNT" || FAILS=$((FAILS + 1)); } &&
	run "devdax: a tree to keep" vm_posix fill "$MNT" &&
	umount_wait devdax "$MNT"
run "devdax: fsck.pmfs -fnv" fsck.pmfs -fnv /dev/dax0.0
has "devdax: fsck.pmfs shows the eADR path" "byte, flush none\+sfence \(eADR\)"
has "devdax: fsck finds nothing" " 0 problems found"
mount_bg "devdax: mount again" /dev/dax0.0 "$MNT" &&
	has "devdax: a clean mount" "clean mount" &&
	run "devdax: the kept tree is intact" vm_posix verify "$MNT" &&
	umount_wait "devdax: again" "$MNT"

run "ndctl create-namespace -m fsdax" \
	ndctl create-namespace -f -e namespace0.0 -m fsdax
run "fsdax: mke2fs" /usr/bin/mke2fs -q -t ext4 -F -b 4096 /dev/pmem0
run "fsdax: mount -o dax" mount -t ext4 -o dax /dev/pmem0 /fsdax
run "fsdax: a probe file" dd if=/dev/zero of=/fsdax/probe bs=1M count=8
run "fsdax: pmemio maps a file at byte granularity" \
	vm_pmemio /fsdax/probe byte "none+sfence (eADR)"
has "fsdax: no flush, every fence (pmemio counters)" \
	"100 persists of one word: 0 flushes, 100 fences"
run "fsdax: mkfs.pmfs on a file" mkfs.pmfs --size 128M /fsdax/pmfs.img
has "fsdax: mkfs.pmfs: byte granularity" "granularity: +byte$"
mount_bg "fsdax: mount" /fsdax/pmfs.img "$MNT" &&
	has "fsdax: mount -v shows the eADR path" \
		"store granularity byte, flush path none\+sfence \(eADR\)$" &&
	run "fsdax: a tree to keep" vm_posix fill "$MNT" &&
	umount_wait fsdax "$MNT"
run "fsdax: fsck.pmfs -fn" fsck.pmfs -fn /fsdax/pmfs.img
has "fsdax: fsck finds nothing" " 0 problems found"

finish
