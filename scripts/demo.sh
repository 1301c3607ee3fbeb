#!/bin/sh
# demo.sh BUILD - the main job on the embedded default: make an image file,
# format it with mkfs.pmfs, mount it with mount.pmfs, use it, unmount it,
# and check it with fsck.pmfs.  The image is a plain file (no persistent
# memory needed); IMAGE and SIZE may be set in the environment.
set -eu
build=${1:-build}
img=${IMAGE:-pmfs-demo.img}
size=${SIZE:-256M}
mnt=$(mktemp -d /tmp/pmfs-demo.XXXXXX)

cleanup() {
	if mountpoint -q "$mnt" 2>/dev/null; then
		fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt" || true
	fi
	rmdir "$mnt" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

echo "== mkfs.pmfs --size $size $img"
"$build/mkfs.pmfs" -f -L demo --size "$size" "$img"

if [ ! -x "$build/mount.pmfs" ]; then
	echo "== formatted $img (mount.pmfs is not part of this build)"
	exit 0
fi

echo "== mount.pmfs -v $img $mnt"
"$build/mount.pmfs" -v "$img" "$mnt"
grep " $mnt " /proc/mounts
echo "== using it"
mkdir -p "$mnt/src/lib"
seq 1 100000 >"$mnt/src/numbers.txt"
echo "hello, persistent memory" >"$mnt/src/lib/hello.txt"
ln -s lib/hello.txt "$mnt/src/link"
mv "$mnt/src/numbers.txt" "$mnt/src/n.txt"
ls -la "$mnt" "$mnt/src"
cat "$mnt/src/link"
df -h "$mnt"
echo "== unmount, mount again, read back"
fusermount3 -u "$mnt"
"$build/mount.pmfs" "$img" "$mnt"
tail -n 1 "$mnt/src/n.txt"
cat "$mnt/src/lib/hello.txt"
fusermount3 -u "$mnt"
if [ -x "$build/fsck.pmfs" ]; then
	echo "== fsck.pmfs -fn $img"
	"$build/fsck.pmfs" -fn "$img"
fi
echo "== done: $img is a pmfs filesystem"
