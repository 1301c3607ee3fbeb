#!/bin/sh
# reqtrace.sh BUILD [LABEL=DAEMON]... - the FUSE requests per operation
# (bench/reqtrace.c) of each daemon, from its own -d log, side by side.
#
#   bench/reqtrace.sh build                     pmfs of this build
#   bench/reqtrace.sh build old=/tmp/old/build/mount.pmfs floor=floor
#
# A DAEMON is a mount.pmfs binary (its mkfs.pmfs must sit next to it) or
# the word "floor" (BUILD/bench/fusefloor).  N operations per step
# (REQTRACE_N, default 200).  Needs root and /dev/fuse.  Prints one table
# per daemon: step, requests per operation, requests by type.
set -eu
build=$1
shift
[ $# -gt 0 ] || set -- "pmfs=$build/mount.pmfs"
n=${REQTRACE_N:-200}
bin=$build/bench/reqtrace
[ -x "$bin" ] || { echo "reqtrace: build $bin first (make bench-tools)" >&2; exit 1; }
work=$(mktemp -d /dev/shm/pmfs-reqtrace.XXXXXX)
trap 'umount "$work/mnt" 2>/dev/null || :; rm -rf "$work"' EXIT
mkdir "$work/mnt"
for pair in "$@"; do
	label=${pair%%=*}
	daemon=${pair#*=}
	log=$work/$label.log
	if [ "$daemon" = floor ]; then
		"$build/bench/fusefloor" -d "$work/mnt" 2>"$log" &
	else
		img=$work/img
		rm -f "$img"
		"$(dirname "$daemon")/mkfs.pmfs" -q --size 1G "$img"
		"$daemon" -d "$img" "$work/mnt" 2>"$log" &
	fi
	pid=$!
	i=0
	until grep -q " $work/mnt " /proc/mounts; do
		i=$((i + 1))
		[ $i -lt 200 ] || { echo "reqtrace: $label did not mount" >&2; exit 1; }
		sleep 0.05
	done
	"$bin" run "$work/mnt" "$n"
	umount "$work/mnt"
	wait "$pid" || :
	echo "== $label: requests per operation (N=$n)"
	"$bin" sum "$log" "$n"
done
